/* check_aggregates.c — the rules of circuit buckets: what a register contributes to a half-hour,
 * when half-hours, days and months are complete, local days and months of Europe/London (46 and
 * 50 period days, a month starting at local midnight, a period in one UTC day but the next local
 * day), revisions, and the deduplicating key set. */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "aggregates.h"
#include "isotime.h"

#define HOUR 3600
#define DAY 86400

static struct tzone london;

static int64_t utc(int y, int mo, int d, int h, int mi)
{
    return isotime_days_from_civil(y, (unsigned)mo, (unsigned)d) * DAY + h * HOUR + mi * 60;
}

static void setup(void)
{
    ck_assert_msg(tzone_load("Europe/London", &london) == 0, "Europe/London not installed");
}

static struct aggregate_flow_value value(int64_t mwh, enum interval_quality q, bool complete)
{
    struct aggregate_flow_value v = {
        .present = true, .mwh = mwh, .quality = q, .complete = complete};
    return v;
}

static const struct aggregate_flow_value absent = {.present = false};

static struct aggregate_register_value reg(struct aggregate_flow_value import,
                                           struct aggregate_flow_value export)
{
    struct aggregate_register_value r = {{import, export}};
    return r;
}

/* ---- One register in one period ------------------------------------------------------------ */

START_TEST(register_complete_over_the_flows_it_holds)
{
    struct aggregate_register_value none = reg(absent, absent);
    struct aggregate_register_value import_only = reg(value(5, INTERVAL_ACTUAL, true), absent);
    struct aggregate_register_value both =
        reg(value(5, INTERVAL_ACTUAL, true), value(0, INTERVAL_ACTUAL, false));
    ck_assert(!aggregate_register_complete(&none));
    ck_assert(aggregate_register_complete(&import_only));
    ck_assert(!aggregate_register_complete(&both)); /* export still provisional */
    both.flow[1].complete = true;
    ck_assert(aggregate_register_complete(&both));
}
END_TEST

START_TEST(register_quality_is_the_worst_flow)
{
    struct aggregate_register_value none = reg(absent, absent);
    struct aggregate_register_value r =
        reg(value(1, INTERVAL_ACTUAL, true), value(1, INTERVAL_ROLLOVER, true));
    ck_assert_int_eq(aggregate_register_quality(&none), INTERVAL_MISSING);
    ck_assert_int_eq(aggregate_register_quality(&r), INTERVAL_ROLLOVER);
    r.flow[1] = absent;
    ck_assert_int_eq(aggregate_register_quality(&r), INTERVAL_ACTUAL);
}
END_TEST

/* ---- Half-hours ---------------------------------------------------------------------------- */

START_TEST(hh_sums_flows_and_counts_registers)
{
    struct aggregate_sum s;
    aggregate_sum_init(&s);
    struct aggregate_register_value a =
        reg(value(800000, INTERVAL_ACTUAL, true), value(1000, INTERVAL_ACTUAL, true));
    struct aggregate_register_value b = reg(value(200000, INTERVAL_ESTIMATED, true), absent);
    aggregate_hh_add(&s, &a);
    aggregate_hh_add(&s, &b);
    aggregate_hh_finish(&s);
    ck_assert_int_eq(s.bucket.import_mwh, 1000000);
    ck_assert_int_eq(s.bucket.export_mwh, 1000);
    ck_assert_int_eq(s.bucket.registers, 2);
    ck_assert_int_eq(s.bucket.estimated, 1);
    ck_assert(s.bucket.complete);
}
END_TEST

START_TEST(hh_incomplete_while_a_mapped_register_has_no_value)
{
    struct aggregate_sum s;
    aggregate_sum_init(&s);
    struct aggregate_register_value a = reg(value(500, INTERVAL_ACTUAL, true), absent);
    struct aggregate_register_value silent = reg(absent, absent);
    aggregate_hh_add(&s, &a);
    aggregate_hh_add(&s, &silent);
    aggregate_hh_finish(&s);
    ck_assert_int_eq(s.bucket.registers, 1); /* only registers holding a value count */
    ck_assert_int_eq(s.bucket.estimated, 0);
    ck_assert(!s.bucket.complete);
}
END_TEST

START_TEST(hh_provisional_register_makes_bucket_provisional)
{
    struct aggregate_sum s;
    aggregate_sum_init(&s);
    struct aggregate_register_value a = reg(value(500, INTERVAL_ACTUAL, false), absent);
    aggregate_hh_add(&s, &a);
    aggregate_hh_finish(&s);
    ck_assert_int_eq(s.bucket.registers, 1);
    ck_assert(!s.bucket.complete);
}
END_TEST

/* A register value drawn from a small space that covers every case: absent, either quality,
 * complete or provisional, in each flow. */
static struct aggregate_register_value random_register(unsigned *seed)
{
    struct aggregate_register_value r;
    for (int f = 0; f < 2; f++) {
        unsigned x = (unsigned)rand_r(seed);
        r.flow[f] = x % 3 == 0
                        ? absent
                        : value((int64_t)(x % 1000) * 1000,
                                x % 5 == 0 ? INTERVAL_ESTIMATED : INTERVAL_ACTUAL, x % 7 != 0);
    }
    return r;
}

static struct aggregate_sum fold_all(const struct aggregate_register_value *regs, int n)
{
    struct aggregate_sum s;
    aggregate_sum_init(&s);
    for (int i = 0; i < n; i++)
        aggregate_hh_add(&s, &regs[i]);
    aggregate_hh_finish(&s);
    return s;
}

START_TEST(hh_replace_equals_folding_again)
{
    unsigned seed = 7;
    struct aggregate_register_value regs[12];
    for (int round = 0; round < 2000; round++) {
        int n = 1 + round % 12;
        for (int i = 0; i < n; i++)
            regs[i] = random_register(&seed);
        struct aggregate_sum s = fold_all(regs, n);
        for (int step = 0; step < 5; step++) {
            int i = rand_r(&seed) % n;
            struct aggregate_register_value before = regs[i];
            regs[i] = random_register(&seed);
            ck_assert(aggregate_hh_replace(&s, &before, &regs[i]));
            struct aggregate_sum again = fold_all(regs, n);
            ck_assert(aggregate_bucket_same(&s.bucket, &again.bucket));
            ck_assert_int_eq(s.complete_parts, again.complete_parts);
        }
    }
}
END_TEST

START_TEST(hh_replace_refuses_a_stale_sum)
{
    struct aggregate_register_value none = reg(absent, absent);
    struct aggregate_register_value one = reg(value(5, INTERVAL_ACTUAL, true), absent);
    struct aggregate_sum s;
    aggregate_sum_init(&s);
    aggregate_hh_add(&s, &none);
    aggregate_hh_finish(&s);
    struct aggregate_sum copy = s;
    ck_assert(aggregate_hh_replace(&copy, &none, &one)); /* one mapped register gains a value */
    ck_assert(copy.bucket.complete);
    /* A register the sum never counted (mapped after it was folded) takes a value: two
     * registers with values among one mapped is impossible, so the caller must fold again. */
    ck_assert(!aggregate_hh_replace(&copy, &none, &one));
    /* Taking out a value the sum never held. */
    ck_assert(!aggregate_hh_replace(&s, &one, &none));
}
END_TEST

static struct aggregate_bucket random_part(unsigned *seed)
{
    unsigned x = (unsigned)rand_r(seed);
    struct aggregate_bucket b = {0};
    if (x % 4 != 0) { /* else a part that is not held: all zero */
        b.import_mwh = (int64_t)(x % 9000) * 100;
        b.export_mwh = (int64_t)(x % 13) * 1000;
        b.registers = (int)(x % 3);
        b.hh_count = (int)(x % 48);
        b.complete = x % 5 != 0;
    }
    return b;
}

/* Days from half-hours and months from days: replacing one part equals folding them all again. */
START_TEST(day_and_month_replace_equal_folding_again)
{
    unsigned seed = 11;
    struct aggregate_bucket parts[50];
    memset(parts, 0, sizeof parts);
    for (int kind = 0; kind < 2; kind++) {
        int n = kind == 0 ? 48 : 31;
        void (*add)(struct aggregate_sum *, const struct aggregate_bucket *) =
            kind == 0 ? aggregate_day_add : aggregate_month_add;
        void (*finish)(struct aggregate_sum *, int) =
            kind == 0 ? aggregate_day_finish : aggregate_month_finish;
        bool (*replace)(struct aggregate_sum *, const struct aggregate_bucket *,
                        const struct aggregate_bucket *, int) =
            kind == 0 ? aggregate_day_replace : aggregate_month_replace;
        for (int round = 0; round < 300; round++) {
            struct aggregate_sum s;
            aggregate_sum_init(&s);
            for (int i = 0; i < n; i++) {
                parts[i] = random_part(&seed);
                add(&s, &parts[i]);
            }
            finish(&s, n);
            for (int step = 0; step < 10; step++) {
                int i = rand_r(&seed) % n;
                struct aggregate_bucket before = parts[i];
                parts[i] = random_part(&seed);
                ck_assert(replace(&s, &before, &parts[i], n));
                struct aggregate_sum again;
                aggregate_sum_init(&again);
                for (int j = 0; j < n; j++)
                    add(&again, &parts[j]);
                finish(&again, n);
                ck_assert(aggregate_bucket_same(&s.bucket, &again.bucket));
                ck_assert_int_eq(s.complete_parts, again.complete_parts);
            }
            /* every part complete: so is the whole; a part it never held cannot be taken out */
            for (int i = 0; i < n; i++) {
                struct aggregate_bucket before = parts[i];
                parts[i].complete = true;
                ck_assert(replace(&s, &before, &parts[i], n));
            }
            ck_assert(s.bucket.complete);
            struct aggregate_bucket ghost = {.import_mwh = INT64_C(1) << 40, .complete = true};
            struct aggregate_bucket none = {0};
            ck_assert(!replace(&s, &ghost, &none, n));
        }
    }
}
END_TEST

START_TEST(hh_with_nothing_mapped_is_not_complete)
{
    struct aggregate_sum s;
    aggregate_sum_init(&s);
    aggregate_hh_finish(&s);
    ck_assert(!s.bucket.complete);
    ck_assert_int_eq(s.bucket.registers, 0);
}
END_TEST

/* ---- Days and months ----------------------------------------------------------------------- */

static struct aggregate_bucket hh_bucket(int64_t import, int registers, bool complete)
{
    struct aggregate_bucket b = {
        .import_mwh = import, .export_mwh = 1, .registers = registers, .complete = complete};
    return b;
}

static void fold_day(struct aggregate_sum *s, int periods, int complete, int valued)
{
    aggregate_sum_init(s);
    for (int i = 0; i < periods; i++) {
        struct aggregate_bucket hh = hh_bucket(1000, i < valued ? 1 : 0, i < complete);
        aggregate_day_add(s, &hh);
    }
}

START_TEST(day_complete_only_when_every_period_is)
{
    struct aggregate_sum s;
    fold_day(&s, 46, 46, 46);
    aggregate_day_finish(&s, 46);
    ck_assert(s.bucket.complete);
    ck_assert_int_eq(s.bucket.hh_count, 46);
    ck_assert_int_eq(s.bucket.import_mwh, 46000);
    ck_assert_int_eq(s.bucket.export_mwh, 46);

    fold_day(&s, 50, 49, 50);
    aggregate_day_finish(&s, 50);
    ck_assert(!s.bucket.complete);
    ck_assert_int_eq(s.bucket.hh_count, 50);

    fold_day(&s, 46, 46, 46); /* 46 complete periods are not a 48-period day */
    aggregate_day_finish(&s, 48);
    ck_assert(!s.bucket.complete);
}
END_TEST

START_TEST(day_hh_count_counts_periods_holding_a_value)
{
    struct aggregate_sum s;
    fold_day(&s, 48, 0, 30);
    aggregate_day_finish(&s, 48);
    ck_assert_int_eq(s.bucket.hh_count, 30);
    ck_assert(!s.bucket.complete);
}
END_TEST

START_TEST(month_complete_when_all_calendar_days_are)
{
    struct aggregate_sum s;
    aggregate_sum_init(&s);
    for (int d = 0; d < 28; d++) {
        struct aggregate_bucket day = {
            .import_mwh = 10, .export_mwh = 2, .hh_count = 48, .complete = true};
        aggregate_month_add(&s, &day);
    }
    aggregate_month_finish(&s, 28);
    ck_assert(s.bucket.complete);
    ck_assert_int_eq(s.bucket.days_in_month, 28);
    ck_assert_int_eq(s.bucket.hh_count, 28 * 48);
    ck_assert_int_eq(s.bucket.import_mwh, 280);
    ck_assert_int_eq(s.bucket.export_mwh, 56);
    aggregate_month_finish(&s, 31); /* the same days in a 31-day month */
    ck_assert(!s.bucket.complete);
    ck_assert_int_eq(s.bucket.days_in_month, 31);
}
END_TEST

START_TEST(buckets_compare_by_their_values_not_revision)
{
    struct aggregate_bucket a = {.import_mwh = 5,
                                 .export_mwh = 1,
                                 .registers = 2,
                                 .estimated = 1,
                                 .hh_count = 0,
                                 .days_in_month = 0,
                                 .complete = true,
                                 .revision = 3};
    struct aggregate_bucket b = a;
    b.revision = 9;
    ck_assert(aggregate_bucket_same(&a, &b));
    b.complete = false;
    ck_assert(!aggregate_bucket_same(&a, &b));
    b = a;
    b.estimated = 0;
    ck_assert(!aggregate_bucket_same(&a, &b));
    b = a;
    b.export_mwh = 2;
    ck_assert(!aggregate_bucket_same(&a, &b));
}
END_TEST

START_TEST(revision_starts_at_one_and_rises_by_one)
{
    ck_assert_int_eq(aggregate_next_revision(0), 1);
    ck_assert_int_eq(aggregate_next_revision(1), 2);
    ck_assert_int_eq(aggregate_next_revision(41), 42);
}
END_TEST

/* ---- Local days and months ----------------------------------------------------------------- */

static void expect_span(const struct aggregate_span *s, int64_t start, int64_t end, int parts,
                        const char *label)
{
    ck_assert_int_eq(s->start, start);
    ck_assert_int_eq(s->end, end);
    ck_assert_int_eq(s->parts, parts);
    ck_assert_str_eq(s->label, label);
}

START_TEST(spring_day_has_46_periods)
{
    struct aggregate_span s;
    ck_assert_int_eq(aggregate_day_of(&london, utc(2025, 3, 30, 12, 0), &s), 0);
    expect_span(&s, utc(2025, 3, 30, 0, 0), utc(2025, 3, 30, 23, 0), 46, "2025-03-30");
    ck_assert_int_eq(aggregate_day_of(&london, utc(2025, 3, 30, 23, 0), &s), 0);
    ck_assert_str_eq(s.label, "2025-03-31"); /* 00:00 BST */
}
END_TEST

START_TEST(autumn_day_has_50_periods)
{
    struct aggregate_span s;
    ck_assert_int_eq(aggregate_day_of(&london, utc(2025, 10, 25, 23, 0), &s), 0);
    expect_span(&s, utc(2025, 10, 25, 23, 0), utc(2025, 10, 27, 0, 0), 50, "2025-10-26");
    ck_assert_int_eq(aggregate_day_of(&london, utc(2025, 10, 25, 22, 30), &s), 0);
    expect_span(&s, utc(2025, 10, 24, 23, 0), utc(2025, 10, 25, 23, 0), 48, "2025-10-25");
}
END_TEST

START_TEST(period_in_one_utc_day_but_the_next_local_day)
{
    struct aggregate_span day, month;
    int64_t p = utc(2025, 6, 30, 23, 30); /* 00:30 BST on 1 July */
    ck_assert_int_eq(aggregate_day_of(&london, p, &day), 0);
    ck_assert_int_eq(aggregate_month_of(&london, p, &month), 0);
    expect_span(&day, utc(2025, 6, 30, 23, 0), utc(2025, 7, 1, 23, 0), 48, "2025-07-01");
    expect_span(&month, utc(2025, 6, 30, 23, 0), utc(2025, 7, 31, 23, 0), 31, "2025-07");
    ck_assert_int_eq(aggregate_month_of(&london, utc(2025, 6, 30, 22, 30), &month), 0);
    ck_assert_str_eq(month.label, "2025-06");
}
END_TEST

START_TEST(months_across_the_clock_changes)
{
    struct aggregate_span m;
    ck_assert_int_eq(aggregate_month_of(&london, utc(2025, 3, 15, 0, 0), &m), 0);
    expect_span(&m, utc(2025, 3, 1, 0, 0), utc(2025, 3, 31, 23, 0), 31, "2025-03");
    ck_assert_int_eq(aggregate_month_of(&london, utc(2025, 10, 31, 23, 30), &m), 0);
    expect_span(&m, utc(2025, 9, 30, 23, 0), utc(2025, 11, 1, 0, 0), 31, "2025-10");
    ck_assert_int_eq(aggregate_month_of(&london, utc(2028, 2, 10, 0, 0), &m), 0);
    ck_assert_int_eq(m.parts, 29); /* leap year */
}
END_TEST

START_TEST(span_out_of_range_is_refused)
{
    struct aggregate_span s = {.parts = -7};
    ck_assert_int_eq(aggregate_day_of(&london, INT64_C(400000000000), &s), -1);
    ck_assert_int_eq(aggregate_month_of(&london, INT64_C(400000000000), &s), -1);
    ck_assert_int_eq(s.parts, -7);
}
END_TEST

/* ---- Keys ---------------------------------------------------------------------------------- */

START_TEST(key_make_checks_its_inputs)
{
    struct aggregate_key k;
    struct aggregate_span day;
    char long_id[64];
    memset(long_id, 'x', sizeof long_id - 1);
    long_id[sizeof long_id - 1] = '\0';
    ck_assert_int_eq(aggregate_key_make(AGGREGATE_HH, NULL, 0, NULL, &k), -1);
    ck_assert_int_eq(aggregate_key_make(AGGREGATE_HH, long_id, 0, NULL, &k), -1);
    ck_assert_int_eq(aggregate_key_make(AGGREGATE_DAY, "c", 0, NULL, &k), -1);
    ck_assert_int_eq(aggregate_key_make(AGGREGATE_HH, "c", 1800, NULL, &k), 0);
    ck_assert_int_eq(k.start, 1800);
    ck_assert_str_eq(k.label, "");
    ck_assert_int_eq(aggregate_day_of(&london, utc(2025, 7, 1, 12, 0), &day), 0);
    ck_assert_int_eq(
        aggregate_key_make(AGGREGATE_DAY, "2b1f0000-0000-4000-8000-000000000001", 12345, &day, &k),
        0);
    ck_assert_int_eq(k.start, utc(2025, 6, 30, 23, 0));
    ck_assert_str_eq(k.label, "2025-07-01");
}
END_TEST

START_TEST(key_set_keeps_each_key_once_in_order)
{
    struct aggregate_key_set set;
    struct aggregate_key a, b, c;
    aggregate_key_set_init(&set);
    ck_assert_int_eq(aggregate_key_make(AGGREGATE_HH, "c1", 0, NULL, &a), 0);
    ck_assert_int_eq(aggregate_key_make(AGGREGATE_HH, "c1", 1800, NULL, &b), 0);
    ck_assert_int_eq(aggregate_key_make(AGGREGATE_HH, "c2", 0, NULL, &c), 0);
    ck_assert_int_eq(aggregate_key_set_add(&set, &a), 1);
    ck_assert_int_eq(aggregate_key_set_add(&set, &b), 1);
    ck_assert_int_eq(aggregate_key_set_add(&set, &a), 0);
    ck_assert_int_eq(aggregate_key_set_add(&set, &c), 1);
    ck_assert_uint_eq(set.count, 3);
    ck_assert_int_eq(set.keys[1].start, 1800);
    ck_assert_str_eq(set.keys[2].circuit_id, "c2");
    aggregate_key_set_clear(&set);
    ck_assert_uint_eq(set.count, 0);
    ck_assert_int_eq(aggregate_key_set_add(&set, &b), 1);
    aggregate_key_set_free(&set);
    ck_assert_uint_eq(set.count, 0);
    ck_assert_ptr_null(set.keys);
}
END_TEST

START_TEST(key_set_ignores_bytes_after_the_strings)
{
    struct aggregate_key_set set = {0};
    struct aggregate_key a, b;
    memset(&a, 0x55, sizeof a);
    memset(&b, 0xaa, sizeof b);
    a.kind = b.kind = AGGREGATE_MONTH;
    a.start = b.start = 99;
    strcpy(a.circuit_id, "c");
    strcpy(b.circuit_id, "c");
    strcpy(a.label, "2025-07");
    strcpy(b.label, "2025-07");
    ck_assert_int_eq(aggregate_key_set_add(&set, &a), 1);
    ck_assert_int_eq(aggregate_key_set_add(&set, &b), 0);
    aggregate_key_set_free(&set);
}
END_TEST

START_TEST(key_set_grows_past_many_keys)
{
    struct aggregate_key_set set = {0};
    struct aggregate_key k;
    for (int round = 0; round < 2; round++)
        for (int i = 0; i < 20000; i++) {
            ck_assert_int_eq(aggregate_key_make(AGGREGATE_HH, i % 2 ? "odd" : "even",
                                                (int64_t)i * 1800, NULL, &k),
                             0);
            if (aggregate_key_set_add(&set, &k) != (round == 0 ? 1 : 0))
                ck_abort_msg("key %d, round %d", i, round);
        }
    ck_assert_uint_eq(set.count, 20000);
    ck_assert_int_eq(set.keys[19999].start, 19999 * 1800);
    aggregate_key_set_free(&set);
}
END_TEST

static Suite *aggregates_suite(void)
{
    Suite *s = suite_create("aggregates");

    TCase *hh = tcase_create("half-hours");
    tcase_add_test(hh, register_complete_over_the_flows_it_holds);
    tcase_add_test(hh, register_quality_is_the_worst_flow);
    tcase_add_test(hh, hh_sums_flows_and_counts_registers);
    tcase_add_test(hh, hh_incomplete_while_a_mapped_register_has_no_value);
    tcase_add_test(hh, hh_provisional_register_makes_bucket_provisional);
    tcase_add_test(hh, hh_with_nothing_mapped_is_not_complete);
    tcase_add_test(hh, hh_replace_equals_folding_again);
    tcase_add_test(hh, hh_replace_refuses_a_stale_sum);
    suite_add_tcase(s, hh);

    TCase *days = tcase_create("days and months");
    tcase_add_test(days, day_complete_only_when_every_period_is);
    tcase_add_test(days, day_and_month_replace_equal_folding_again);
    tcase_add_test(days, day_hh_count_counts_periods_holding_a_value);
    tcase_add_test(days, month_complete_when_all_calendar_days_are);
    tcase_add_test(days, buckets_compare_by_their_values_not_revision);
    tcase_add_test(days, revision_starts_at_one_and_rises_by_one);
    suite_add_tcase(s, days);

    TCase *local = tcase_create("local calendar");
    tcase_add_unchecked_fixture(local, setup, NULL);
    tcase_add_test(local, spring_day_has_46_periods);
    tcase_add_test(local, autumn_day_has_50_periods);
    tcase_add_test(local, period_in_one_utc_day_but_the_next_local_day);
    tcase_add_test(local, months_across_the_clock_changes);
    tcase_add_test(local, span_out_of_range_is_refused);
    tcase_add_test(local, key_make_checks_its_inputs);
    suite_add_tcase(s, local);

    TCase *keys = tcase_create("key sets");
    tcase_add_test(keys, key_set_keeps_each_key_once_in_order);
    tcase_add_test(keys, key_set_ignores_bytes_after_the_strings);
    tcase_add_test(keys, key_set_grows_past_many_keys);
    suite_add_tcase(s, keys);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(aggregates_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
