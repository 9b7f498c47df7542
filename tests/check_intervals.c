/* check_intervals.c — HH apportionment, decrease judgement and the incremental store recipe.
 *
 * Expected values are exact integers (mWh = 1e-6 kWh). A small in-memory store below follows the
 * recipe of intervals.h step by step, so the late-read and property tests prove the recipe itself:
 * any insertion order gives the same periods as reads arriving in time order. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "intervals.h"

#define DAY0 INT64_C(1795824000) /* 2026-11-28T00:00:00Z */
#define HM(h, m) (DAY0 + (h)*INT64_C(3600) + (m)*INT64_C(60))
#define KWH(x) ((int64_t)((x)*1000.0 + 0.5)) /* test literals only: decimal kWh to Wh */

static struct interval_rules default_rules(void)
{
    struct interval_rules r = {
        .rollover_wh = 0, .max_power_w = 23000, .max_interpolate_s = 6 * 3600, .profile = NULL};
    return r;
}

static struct interval_read read_at(int64_t ts, int64_t wh)
{
    struct interval_read r;
    interval_read_init(&r, ts, wh, false);
    return r;
}

static struct interval_segment judge(const struct interval_rules *rules,
                                     const struct interval_read *a, const struct interval_read *b)
{
    struct interval_segment seg;
    if (interval_segment_judge(rules, a, b, &seg) != 0)
        ck_abort_msg("segment %lld → %lld refused", (long long)a->ts, (long long)b->ts);
    return seg;
}

/* Checks seg's shares against starts[i] / mwh[i], and that there are exactly n. */
static void expect_shares(const struct interval_segment *seg, size_t n, const int64_t *starts,
                          const int64_t *mwh)
{
    struct interval_share out[64];
    ck_assert_uint_eq(interval_segment_shares(seg, out, 64), n);
    for (size_t i = 0; i < n; i++) {
        ck_assert_int_eq(out[i].start, starts[i]);
        ck_assert_int_eq(out[i].mwh, mwh[i]);
    }
}

/* Test profile: slot i (UTC) has weight i + 1, sum 1176. */
static void test_profile(struct interval_profile *p)
{
    char text[48 * 16];
    size_t off = 0;
    for (int i = 0; i < INTERVAL_SLOTS; i++)
        off += (size_t)snprintf(text + off, sizeof text - off, "%02d:%02d,%d\n", i / 2,
                                (i % 2) * 30, i + 1);
    int bad = -1;
    ck_assert_int_eq(interval_profile_parse(text, p, &bad), 0);
}

/* ---- A store following the recipe --------------------------------------------------------- */

#define MINI_READS 128
#define MINI_PERIODS 512

struct mini {
    struct interval_rules rules;
    int64_t origin; /* start of period index 0 */
    struct interval_read reads[MINI_READS];
    size_t n;
    int64_t mwh[MINI_PERIODS];
    enum interval_quality quality[MINI_PERIODS];
    bool stored[MINI_PERIODS];
    int restated, resets, duplicates, conflicts;
};

static void mini_init(struct mini *m, const struct interval_rules *rules, int64_t origin)
{
    memset(m, 0, sizeof *m);
    m->rules = *rules;
    m->origin = origin;
}

static size_t mini_index(const struct mini *m, int64_t start)
{
    if (start < m->origin || (start - m->origin) / INTERVAL_PERIOD_S >= MINI_PERIODS)
        ck_abort_msg("period %lld outside the test store", (long long)start);
    return (size_t)((start - m->origin) / INTERVAL_PERIOD_S);
}

static int64_t mini_mwh(const struct mini *m, int64_t start)
{
    return m->mwh[mini_index(m, start)];
}

static enum interval_quality mini_quality(const struct mini *m, int64_t start)
{
    return m->quality[mini_index(m, start)];
}

/* Adds (sign 1) or withdraws (sign -1) segment a → b; returns its judgement. */
static struct interval_segment mini_segment(struct mini *m, const struct interval_read *a,
                                            const struct interval_read *b, int sign, bool *touched)
{
    struct interval_segment seg = judge(&m->rules, a, b);
    struct interval_split it;
    struct interval_share sh;
    interval_split_begin(&it, &seg);
    while (interval_split_next(&it, &sh)) {
        size_t i = mini_index(m, sh.start);
        m->mwh[i] += sign * sh.mwh;
        touched[i] = true;
    }
    return seg;
}

static void mini_settle(struct mini *m, struct interval_read *end,
                        const struct interval_segment *seg, int *flags)
{
    *flags = interval_read_settle(end, seg);
    if (*flags & INTERVAL_SETTLE_NEW_RESET)
        m->resets++;
}

/* Step 5: the segment after the new read at i, and the chain of baselines it carries forward. */
static void mini_restate_from(struct mini *m, size_t i, bool *touched)
{
    struct interval_read old_a = m->reads[i];
    for (size_t j = i; j + 1 < m->n; j++) {
        struct interval_read *b = &m->reads[j + 1];
        if (j > i)
            mini_segment(m, &old_a, b, -1, touched);
        struct interval_read old_b = *b;
        struct interval_segment seg = mini_segment(m, &m->reads[j], b, 1, touched);
        int flags;
        mini_settle(m, b, &seg, &flags);
        if (!(flags & INTERVAL_SETTLE_BASELINE))
            break;
        old_a = old_b;
    }
}

/* Step 6: quality and revision of every touched period. */
static void mini_finish(struct mini *m, const bool *touched, const int64_t *old_mwh)
{
    for (size_t i = 0; i < MINI_PERIODS; i++) {
        if (!touched[i])
            continue;
        int64_t start = m->origin + (int64_t)i * INTERVAL_PERIOD_S;
        enum interval_quality q = interval_period_quality(m->reads, m->n, start);
        if (m->stored[i] && (m->mwh[i] != old_mwh[i] || m->quality[i] != q))
            m->restated++;
        m->stored[i] = true;
        m->quality[i] = q;
    }
}

static void mini_insert(struct mini *m, int64_t ts, int64_t wh, bool estimated)
{
    size_t i = 0;
    while (i < m->n && m->reads[i].ts < ts)
        i++;
    if (i < m->n && m->reads[i].ts == ts) { /* step 1 */
        if (interval_arrival(&m->reads[i], wh) == INTERVAL_DUPLICATE)
            m->duplicates++;
        else
            m->conflicts++;
        return;
    }
    ck_assert_uint_lt(m->n, MINI_READS);
    static bool touched[MINI_PERIODS];
    static int64_t old_mwh[MINI_PERIODS];
    memset(touched, 0, sizeof touched);
    memcpy(old_mwh, m->mwh, sizeof old_mwh);
    struct interval_read r;
    interval_read_init(&r, ts, wh, estimated); /* step 2 */
    if (i > 0 && i < m->n)                     /* step 3 */
        mini_segment(m, &m->reads[i - 1], &m->reads[i], -1, touched);
    if (i > 0) { /* step 4 */
        struct interval_segment seg = mini_segment(m, &m->reads[i - 1], &r, 1, touched);
        int flags;
        mini_settle(m, &r, &seg, &flags);
    }
    memmove(&m->reads[i + 1], &m->reads[i], (m->n - i) * sizeof m->reads[0]);
    m->reads[i] = r;
    m->n++;
    mini_restate_from(m, i, touched);
    mini_finish(m, touched, old_mwh);
}

/* Check's assertions each cost a system call, so the property tests compare in bulk and assert
 * once. */
static bool reads_equal(const struct interval_read *x, const struct interval_read *y)
{
    return x->ts == y->ts && x->wh == y->wh && x->baseline_wh == y->baseline_wh &&
           x->quality == y->quality && x->interval_wh == y->interval_wh;
}

static void mini_expect_same(const struct mini *a, const struct mini *b)
{
    ck_assert_uint_eq(a->n, b->n);
    size_t bad_read = a->n, bad_period = MINI_PERIODS;
    for (size_t i = 0; i < a->n && bad_read == a->n; i++)
        if (!reads_equal(&a->reads[i], &b->reads[i]))
            bad_read = i;
    for (size_t i = 0; i < MINI_PERIODS && bad_period == MINI_PERIODS; i++)
        if (a->mwh[i] != b->mwh[i] || a->quality[i] != b->quality[i] ||
            a->stored[i] != b->stored[i])
            bad_period = i;
    ck_assert_msg(bad_read == a->n, "read %zu differs", bad_read);
    ck_assert_msg(bad_period == MINI_PERIODS, "period %zu differs", bad_period);
}

/* ---- Quality and periods ------------------------------------------------------------------ */

START_TEST(quality_names_and_order)
{
    const char *names[] = {"missing", "actual", "estimated", "negative", "rollover", "reset"};
    for (int q = INTERVAL_MISSING; q <= INTERVAL_RESET; q++) {
        enum interval_quality back = INTERVAL_MISSING;
        ck_assert_str_eq(interval_quality_name((enum interval_quality)q), names[q]);
        ck_assert_int_eq(interval_quality_parse(names[q], &back), 0);
        ck_assert_int_eq(back, q);
    }
    enum interval_quality untouched = INTERVAL_ACTUAL;
    ck_assert_int_eq(interval_quality_parse("Actual", &untouched), -1);
    ck_assert_int_eq(interval_quality_parse(NULL, &untouched), -1);
    ck_assert_int_eq(untouched, INTERVAL_ACTUAL);
    ck_assert_str_eq(interval_quality_name((enum interval_quality)99), "missing");
    ck_assert_int_eq(interval_quality_worst(INTERVAL_ACTUAL, INTERVAL_ESTIMATED),
                     INTERVAL_ESTIMATED);
    ck_assert_int_eq(interval_quality_worst(INTERVAL_NEGATIVE, INTERVAL_ESTIMATED),
                     INTERVAL_NEGATIVE);
    ck_assert_int_eq(interval_quality_worst(INTERVAL_RESET, INTERVAL_ROLLOVER), INTERVAL_RESET);
    ck_assert_int_eq(interval_quality_worst(INTERVAL_MISSING, INTERVAL_ACTUAL), INTERVAL_ACTUAL);
}
END_TEST

START_TEST(period_start_floors_to_half_hours)
{
    ck_assert_int_eq(interval_period_start(HM(9, 5)), HM(9, 0));
    ck_assert_int_eq(interval_period_start(HM(9, 30)), HM(9, 30));
    ck_assert_int_eq(interval_period_start(HM(9, 30) - 1), HM(9, 0));
    ck_assert_int_eq(interval_period_start(0), 0);
    ck_assert_int_eq(interval_period_start(-1), -1800);
}
END_TEST

START_TEST(period_complete_needs_reads_on_both_sides)
{
    /* reads 09:05 … 11:05 */
    ck_assert(!interval_period_complete(HM(9, 0), HM(9, 5), HM(11, 5)));
    ck_assert(interval_period_complete(HM(9, 30), HM(9, 5), HM(11, 5)));
    ck_assert(interval_period_complete(HM(10, 30), HM(9, 5), HM(11, 5)));
    ck_assert(!interval_period_complete(HM(11, 0), HM(9, 5), HM(11, 5)));
    /* reads exactly on the boundaries cover the period */
    ck_assert(interval_period_complete(HM(10, 30), HM(10, 30), HM(11, 0)));
    ck_assert(!interval_period_complete(HM(10, 30), HM(10, 30), HM(11, 0) - 1));
}
END_TEST

START_TEST(period_quality_is_worst_of_touching_segments)
{
    struct interval_read r[4] = {read_at(HM(0, 0), 0), read_at(HM(0, 10), 10),
                                 read_at(HM(0, 20), 5), read_at(HM(1, 10), 50)};
    r[1].quality = INTERVAL_ACTUAL;
    r[2].quality = INTERVAL_NEGATIVE;
    r[3].quality = INTERVAL_ACTUAL;
    ck_assert_int_eq(interval_period_quality(r, 4, HM(0, 0)), INTERVAL_NEGATIVE);
    ck_assert_int_eq(interval_period_quality(r, 4, HM(0, 30)), INTERVAL_ACTUAL);
    ck_assert_int_eq(interval_period_quality(r, 4, HM(1, 0)), INTERVAL_ACTUAL);
    ck_assert_int_eq(interval_period_quality(r, 4, HM(1, 30)), INTERVAL_MISSING);
    ck_assert_int_eq(interval_period_quality(r, 4, HM(0, 0) - 1800), INTERVAL_MISSING);
    ck_assert_int_eq(interval_period_quality(r, 0, HM(0, 0)), INTERVAL_MISSING);
}
END_TEST

/* ---- Linear apportionment ----------------------------------------------------------------- */

START_TEST(reads_on_boundaries)
{
    struct interval_rules rules = default_rules();
    struct interval_read a = read_at(HM(0, 0), KWH(100.0)), b = read_at(HM(1, 0), KWH(101.0));
    struct interval_segment seg = judge(&rules, &a, &b);
    ck_assert_int_eq(seg.energy_wh, 1000);
    ck_assert_int_eq(seg.kind, INTERVAL_KIND_RISE);
    ck_assert_int_eq(seg.quality, INTERVAL_ACTUAL);
    ck_assert_int_eq(seg.end_baseline_wh, 101000);
    const int64_t starts[] = {HM(0, 0), HM(0, 30)}, mwh[] = {500000, 500000};
    expect_shares(&seg, 2, starts, mwh);
}
END_TEST

START_TEST(irregular_reads_straddle_boundaries)
{
    struct interval_rules rules = default_rules();
    struct interval_read a = read_at(HM(0, 17) + 13, 100000), b = read_at(HM(1, 2) + 41, 101000);
    struct interval_segment seg = judge(&rules, &a, &b);
    /* 767 s, 1800 s and 161 s of 2728 s */
    const int64_t starts[] = {HM(0, 0), HM(0, 30), HM(1, 0)}, mwh[] = {281158, 659824, 59018};
    expect_shares(&seg, 3, starts, mwh);
}
END_TEST

START_TEST(rounding_is_cumulative_and_conserving)
{
    struct interval_rules rules = default_rules();
    /* 1 Wh over 00:10–01:40: 2/9, 1/3, 1/3, 1/9 of 1000 mWh */
    struct interval_read a = read_at(HM(0, 10), 7), b = read_at(HM(1, 40), 8);
    struct interval_segment seg = judge(&rules, &a, &b);
    const int64_t starts[] = {HM(0, 0), HM(0, 30), HM(1, 0), HM(1, 30)};
    const int64_t mwh[] = {222, 334, 333, 111};
    expect_shares(&seg, 4, starts, mwh);
    /* a zero-energy segment still yields each period it touches */
    b.wh = 7;
    seg = judge(&rules, &a, &b);
    const int64_t zero[] = {0, 0, 0, 0};
    expect_shares(&seg, 4, starts, zero);
}
END_TEST

START_TEST(hourly_polling)
{
    struct interval_rules rules = default_rules();
    struct mini m;
    mini_init(&m, &rules, DAY0);
    mini_insert(&m, HM(9, 5), KWH(499.00), false);
    ck_assert_int_eq(m.reads[0].interval_wh, INTERVAL_WH_NULL);
    ck_assert_int_eq(m.reads[0].quality, INTERVAL_MISSING);
    mini_insert(&m, HM(10, 5), KWH(500.00), false);
    mini_insert(&m, HM(11, 5), KWH(501.20), false);
    ck_assert_int_eq(mini_mwh(&m, HM(9, 0)), 416667);
    ck_assert_int_eq(mini_mwh(&m, HM(9, 30)), 500000);
    ck_assert_int_eq(mini_mwh(&m, HM(10, 0)), 583333);
    ck_assert_int_eq(mini_mwh(&m, HM(10, 30)), 600000);
    ck_assert_int_eq(mini_mwh(&m, HM(11, 0)), 100000);
    ck_assert_int_eq(mini_mwh(&m, HM(11, 30)), 0);
    ck_assert(!m.stored[mini_index(&m, HM(11, 30))]);
    ck_assert_int_eq(mini_quality(&m, HM(9, 0)), INTERVAL_ACTUAL);
    ck_assert_int_eq(mini_quality(&m, HM(11, 0)), INTERVAL_ACTUAL);
    ck_assert_int_eq(m.reads[1].interval_wh, 1000);
    ck_assert_int_eq(m.reads[2].interval_wh, 1200);
    /* 10:00 held only 10:00–10:05 before 11:05 arrived: that one stored period was restated */
    ck_assert_int_eq(m.restated, 1);
}
END_TEST

START_TEST(four_hour_gap_is_linear)
{
    struct interval_rules rules = default_rules();
    struct interval_read a = read_at(HM(10, 15), KWH(100.0)), b = read_at(HM(14, 15), KWH(102.4));
    struct interval_segment seg = judge(&rules, &a, &b);
    ck_assert_int_eq(seg.quality, INTERVAL_ACTUAL);
    ck_assert_ptr_null(seg.profile);
    int64_t starts[9], mwh[9];
    for (int i = 0; i < 9; i++) {
        starts[i] = HM(10, 0) + i * 1800;
        mwh[i] = (i == 0 || i == 8) ? 150000 : 300000;
    }
    expect_shares(&seg, 9, starts, mwh);
}
END_TEST

START_TEST(gap_of_exactly_max_is_actual_one_second_more_estimated)
{
    struct interval_profile p;
    test_profile(&p);
    struct interval_rules rules = default_rules();
    rules.profile = &p;
    struct interval_read a = read_at(HM(0, 0), 0), b = read_at(HM(6, 0), 6000);
    struct interval_segment seg = judge(&rules, &a, &b);
    ck_assert_int_eq(seg.quality, INTERVAL_ACTUAL);
    ck_assert_ptr_null(seg.profile);
    b.ts++;
    seg = judge(&rules, &a, &b);
    ck_assert_int_eq(seg.quality, INTERVAL_ESTIMATED);
    ck_assert_ptr_eq(seg.profile, &p);
}
END_TEST

START_TEST(estimated_read_makes_its_segments_estimated)
{
    struct interval_rules rules = default_rules();
    struct interval_read a = read_at(HM(0, 0), 0), b = read_at(HM(1, 0), 1000);
    b.estimated = true;
    ck_assert_int_eq(judge(&rules, &a, &b).quality, INTERVAL_ESTIMATED);
    ck_assert_int_eq(judge(&rules, &b, &(struct interval_read){.ts = HM(2, 0), .wh = 2000}).quality,
                     INTERVAL_ESTIMATED);
}
END_TEST

/* ---- Profile-shaped long gaps ------------------------------------------------------------- */

START_TEST(profile_shapes_a_whole_day_exactly)
{
    struct interval_profile p;
    test_profile(&p);
    struct interval_rules rules = default_rules();
    rules.profile = &p;
    struct interval_read a = read_at(HM(0, 0), 5000), b = read_at(HM(24, 0), 5000 + 1176);
    struct interval_segment seg = judge(&rules, &a, &b);
    ck_assert_int_eq(seg.quality, INTERVAL_ESTIMATED);
    int64_t starts[48], mwh[48];
    for (int i = 0; i < 48; i++) {
        starts[i] = HM(0, 0) + i * 1800;
        mwh[i] = (i + 1) * INT64_C(1000); /* the weight, exactly */
    }
    expect_shares(&seg, 48, starts, mwh);
}
END_TEST

START_TEST(profile_shapes_an_unaligned_gap_across_midnight)
{
    struct interval_profile p;
    test_profile(&p);
    struct interval_rules rules = default_rules();
    rules.profile = &p;
    struct interval_read a = read_at(HM(22, 10), 0), b = read_at(HM(29, 10), 7000);
    struct interval_segment seg = judge(&rules, &a, &b);
    const int64_t mwh[] = {914369, 1402032, 1432510, 1462990, 30479,  60958,  91437, 121916,
                           152395, 182873,  213353,  243832,  274310, 304790, 111756};
    int64_t starts[15], sum = 0;
    for (int i = 0; i < 15; i++) {
        starts[i] = HM(22, 0) + i * 1800;
        sum += mwh[i];
    }
    ck_assert_int_eq(sum, 7000000);
    expect_shares(&seg, 15, starts, mwh);
}
END_TEST

START_TEST(flat_profile_is_linear)
{
    struct interval_profile flat;
    interval_profile_flat(&flat);
    struct interval_rules with = default_rules(), without = default_rules();
    with.profile = &flat;
    struct interval_read a = read_at(HM(3, 7) + 11, 0), b = read_at(HM(17, 49) + 3, 12345);
    struct interval_segment s1 = judge(&with, &a, &b), s2 = judge(&without, &a, &b);
    ck_assert_ptr_eq(s1.profile, &flat);
    ck_assert_ptr_null(s2.profile);
    ck_assert_int_eq(s2.quality, INTERVAL_ESTIMATED);
    struct interval_share x[40], y[40];
    ck_assert_uint_eq(interval_segment_shares(&s1, x, 40), 30);
    ck_assert_uint_eq(interval_segment_shares(&s2, y, 40), 30);
    for (int i = 0; i < 30; i++)
        ck_assert_int_eq(x[i].mwh, y[i].mwh);
}
END_TEST

/* ---- Decreases ---------------------------------------------------------------------------- */

START_TEST(rollover_at_modulus)
{
    struct interval_rules rules = default_rules();
    rules.rollover_wh = KWH(100000.0);
    struct interval_read a = read_at(HM(12, 0), KWH(99999.5)), b = read_at(HM(12, 30), KWH(0.7));
    struct interval_segment seg = judge(&rules, &a, &b);
    ck_assert_int_eq(seg.kind, INTERVAL_KIND_ROLLOVER);
    ck_assert_int_eq(seg.quality, INTERVAL_ROLLOVER);
    ck_assert_int_eq(seg.energy_wh, 1200);
    ck_assert_int_eq(seg.end_baseline_wh, 700);
    const int64_t starts[] = {HM(12, 0)}, mwh[] = {1200000};
    expect_shares(&seg, 1, starts, mwh);
    ck_assert_int_eq(interval_read_settle(&b, &seg), 0); /* baseline stays 700: nothing to do */
    ck_assert_int_eq(b.interval_wh, 1200);
    ck_assert_int_eq(b.quality, INTERVAL_ROLLOVER);
}
END_TEST

START_TEST(rollover_plausibility_boundary)
{
    struct interval_rules rules = default_rules(); /* 23 kW for 30 min: at most 11500 Wh */
    rules.rollover_wh = KWH(100000.0);
    struct interval_read a = read_at(HM(12, 0), KWH(100000.0) - 11000);
    struct interval_read b = read_at(HM(12, 30), 500);
    ck_assert_int_eq(judge(&rules, &a, &b).kind, INTERVAL_KIND_ROLLOVER);
    ck_assert_int_eq(judge(&rules, &a, &b).energy_wh, 11500);
    b.wh = 501;
    ck_assert_int_eq(judge(&rules, &a, &b).kind, INTERVAL_KIND_RESET);
    /* no power allowance: never a rollover */
    rules.max_power_w = 0;
    b.wh = 1;
    ck_assert_int_eq(judge(&rules, &a, &b).kind, INTERVAL_KIND_RESET);
    /* a baseline at or above the modulus cannot wrap at it */
    rules.max_power_w = 23000;
    a.baseline_wh = KWH(100000.0);
    ck_assert_int_eq(judge(&rules, &a, &b).kind, INTERVAL_KIND_RESET);
}
END_TEST

START_TEST(large_decrease_is_reset_not_rollover)
{
    struct interval_rules rules = default_rules();
    rules.rollover_wh = KWH(100000.0);
    struct interval_read a = read_at(HM(12, 0), KWH(50000.0)), b = read_at(HM(12, 30), KWH(10.0));
    struct interval_segment seg = judge(&rules, &a, &b); /* a wrap would be 50010 kWh in 30 min */
    ck_assert_int_eq(seg.kind, INTERVAL_KIND_RESET);
    ck_assert_int_eq(seg.quality, INTERVAL_RESET);
    ck_assert_int_eq(seg.energy_wh, 0);
    ck_assert_int_eq(seg.end_baseline_wh, 10000);
    const int64_t starts[] = {HM(12, 0)}, mwh[] = {0};
    expect_shares(&seg, 1, starts, mwh);
    ck_assert_int_eq(interval_read_settle(&b, &seg), INTERVAL_SETTLE_NEW_RESET);
    ck_assert_int_eq(b.interval_wh, 0);
    /* settling the same judgement again raises nothing */
    ck_assert_int_eq(interval_read_settle(&b, &seg), 0);
    /* the next rise counts from the new baseline */
    struct interval_read c = read_at(HM(13, 0), KWH(10.5));
    ck_assert_int_eq(judge(&rules, &b, &c).energy_wh, 500);
    /* without a modulus every big decrease is a reset */
    rules.rollover_wh = 0;
    a.baseline_wh = 1000;
    b.wh = 899;
    ck_assert_int_eq(judge(&rules, &a, &b).kind, INTERVAL_KIND_RESET);
}
END_TEST

START_TEST(jitter_keeps_high_water_mark)
{
    struct interval_rules rules = default_rules();
    struct mini m;
    mini_init(&m, &rules, DAY0);
    mini_insert(&m, HM(0, 0), KWH(500.00), false);
    mini_insert(&m, HM(0, 30), KWH(499.95), false);
    mini_insert(&m, HM(1, 0), KWH(500.10), false);
    ck_assert_int_eq(m.reads[1].interval_wh, 0);
    ck_assert_int_eq(m.reads[1].baseline_wh, 500000);
    ck_assert_int_eq(m.reads[1].quality, INTERVAL_NEGATIVE);
    ck_assert_int_eq(m.reads[1].wh, 499950); /* the reported value is kept as reported */
    ck_assert_int_eq(m.reads[2].interval_wh, 100);
    ck_assert_int_eq(mini_mwh(&m, HM(0, 0)), 0);
    ck_assert_int_eq(mini_quality(&m, HM(0, 0)), INTERVAL_NEGATIVE);
    ck_assert_int_eq(mini_mwh(&m, HM(0, 30)), 100000);
    ck_assert_int_eq(mini_quality(&m, HM(0, 30)), INTERVAL_ACTUAL);
    ck_assert_int_eq(m.resets, 0);
}
END_TEST

START_TEST(jitter_threshold_is_inclusive)
{
    struct interval_rules rules = default_rules();
    struct interval_read a = read_at(HM(0, 0), 10000), b = read_at(HM(0, 30), 9900);
    ck_assert_int_eq(judge(&rules, &a, &b).kind, INTERVAL_KIND_JITTER);
    b.wh = 9899;
    ck_assert_int_eq(judge(&rules, &a, &b).kind, INTERVAL_KIND_RESET);
    /* judged against the high-water mark, not the previous raw value */
    a.wh = 9950;
    a.baseline_wh = 10000;
    b.wh = 9899;
    ck_assert_int_eq(judge(&rules, &a, &b).kind, INTERVAL_KIND_RESET);
}
END_TEST

/* ---- Duplicates, conflicts and late reads ------------------------------------------------- */

START_TEST(duplicate_and_conflicting_reads)
{
    struct interval_read held = read_at(HM(0, 0), 1000);
    ck_assert_int_eq(interval_arrival(NULL, 1000), INTERVAL_NEW);
    ck_assert_int_eq(interval_arrival(&held, 1000), INTERVAL_DUPLICATE);
    ck_assert_int_eq(interval_arrival(&held, 1001), INTERVAL_CONFLICT);

    struct interval_rules rules = default_rules();
    struct mini m;
    mini_init(&m, &rules, DAY0);
    mini_insert(&m, HM(0, 0), KWH(100.0), false);
    mini_insert(&m, HM(1, 0), KWH(101.0), false);
    mini_insert(&m, HM(1, 0), KWH(101.0), false);
    mini_insert(&m, HM(1, 0), KWH(105.0), false);
    ck_assert_int_eq(m.duplicates, 1);
    ck_assert_int_eq(m.conflicts, 1);
    ck_assert_uint_eq(m.n, 2);
    ck_assert_int_eq(m.reads[1].wh, 101000);
    ck_assert_int_eq(mini_mwh(&m, HM(0, 30)), 500000);
    ck_assert_int_eq(m.restated, 0);
}
END_TEST

START_TEST(late_read_restates_two_periods)
{
    struct interval_rules rules = default_rules();
    struct mini m;
    mini_init(&m, &rules, DAY0);
    mini_insert(&m, HM(0, 0), KWH(100.0), false);
    mini_insert(&m, HM(1, 0), KWH(101.0), false);
    ck_assert_int_eq(mini_mwh(&m, HM(0, 0)), 500000);
    ck_assert_int_eq(mini_mwh(&m, HM(0, 30)), 500000);
    mini_insert(&m, HM(0, 30), KWH(100.8), false);
    ck_assert_int_eq(mini_mwh(&m, HM(0, 0)), 800000);
    ck_assert_int_eq(mini_mwh(&m, HM(0, 30)), 200000);
    ck_assert_int_eq(m.restated, 2);
    ck_assert_int_eq(m.reads[1].interval_wh, 800);
    ck_assert_int_eq(m.reads[2].interval_wh, 200);
}
END_TEST

START_TEST(late_read_carries_baseline_forward)
{
    struct interval_rules rules = default_rules();
    struct mini m;
    mini_init(&m, &rules, DAY0);
    mini_insert(&m, HM(0, 0), 1000, false);
    mini_insert(&m, HM(1, 0), 1050, false);
    mini_insert(&m, HM(2, 0), 1060, false);
    ck_assert_int_eq(mini_mwh(&m, HM(0, 0)), 25000);
    ck_assert_int_eq(mini_mwh(&m, HM(1, 30)), 5000);
    /* 00:30 = 1120 turns 01:00 = 1050 into jitter (baseline 1120), and 02:00 = 1060 with it */
    mini_insert(&m, HM(0, 30), 1120, false);
    ck_assert_int_eq(m.reads[2].baseline_wh, 1120);
    ck_assert_int_eq(m.reads[3].baseline_wh, 1120);
    ck_assert_int_eq(m.reads[3].quality, INTERVAL_NEGATIVE);
    ck_assert_int_eq(m.reads[3].interval_wh, 0);
    const int64_t want[] = {120000, 0, 0, 0};
    for (int i = 0; i < 4; i++)
        ck_assert_int_eq(mini_mwh(&m, HM(0, 0) + i * 1800), want[i]);
    ck_assert_int_eq(mini_quality(&m, HM(0, 0)), INTERVAL_ACTUAL);
    ck_assert_int_eq(mini_quality(&m, HM(0, 30)), INTERVAL_NEGATIVE);
    ck_assert_int_eq(mini_quality(&m, HM(1, 30)), INTERVAL_NEGATIVE);
    mini_insert(&m, HM(3, 0), 1200, false); /* counts from the high-water mark: 80 Wh */
    ck_assert_int_eq(m.reads[4].interval_wh, 80);

    struct mini batch;
    mini_init(&batch, &rules, DAY0);
    const int64_t ts[] = {HM(0, 0), HM(0, 30), HM(1, 0), HM(2, 0), HM(3, 0)};
    const int64_t wh[] = {1000, 1120, 1050, 1060, 1200};
    for (int i = 0; i < 5; i++)
        mini_insert(&batch, ts[i], wh[i], false);
    mini_expect_same(&m, &batch);
}
END_TEST

START_TEST(read_before_the_first_becomes_first)
{
    struct interval_rules rules = default_rules();
    struct mini m;
    mini_init(&m, &rules, DAY0);
    mini_insert(&m, HM(1, 0), 2000, false);
    mini_insert(&m, HM(0, 0), 1000, false);
    ck_assert_int_eq(m.reads[0].interval_wh, INTERVAL_WH_NULL);
    ck_assert_int_eq(m.reads[1].interval_wh, 1000);
    ck_assert_int_eq(mini_mwh(&m, HM(0, 0)), 500000);
    ck_assert_int_eq(mini_mwh(&m, HM(0, 30)), 500000);
}
END_TEST

/* ---- Properties --------------------------------------------------------------------------- */

static uint64_t next_random(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

static void shuffle(size_t *order, size_t n, uint64_t *seed)
{
    for (size_t i = 0; i < n; i++)
        order[i] = i;
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)(next_random(seed) % i), t = order[i - 1];
        order[i - 1] = order[j];
        order[j] = t;
    }
}

/* n distinct ascending times within three days from DAY0. */
static void random_times(int64_t *ts, size_t n, uint64_t *seed)
{
    int64_t t = DAY0;
    for (size_t i = 0; i < n; i++) {
        t += 1 + (int64_t)(next_random(seed) % (3 * 86400 / n));
        ts[i] = t;
    }
}

START_TEST(conservation_in_any_order)
{
    uint64_t seed = 0x9e3779b97f4a7c15u;
    struct interval_profile p;
    test_profile(&p);
    struct interval_rules rules = default_rules();
    rules.max_interpolate_s = 3 * 3600;
    rules.profile = &p;
    static struct mini inc, batch;
    for (int trial = 0; trial < 200; trial++) {
        size_t n = 2 + (size_t)(next_random(&seed) % 60), order[64];
        int64_t ts[64], wh[64];
        random_times(ts, n, &seed);
        wh[0] = (int64_t)(next_random(&seed) % 100000000);
        for (size_t i = 1; i < n; i++)
            wh[i] = wh[i - 1] + (int64_t)(next_random(&seed) % 5000);
        shuffle(order, n, &seed);
        mini_init(&inc, &rules, DAY0);
        mini_init(&batch, &rules, DAY0);
        for (size_t i = 0; i < n; i++) {
            mini_insert(&inc, ts[order[i]], wh[order[i]], false);
            mini_insert(&batch, ts[i], wh[i], false);
        }
        int64_t sum = 0;
        for (size_t i = 0; i < MINI_PERIODS; i++)
            sum += inc.mwh[i];
        ck_assert_int_eq(sum, (wh[n - 1] - wh[0]) * 1000);
        mini_expect_same(&inc, &batch);
    }
}
END_TEST

/* The next value of a register that mostly rises, sometimes jitters, wraps or resets. */
static int64_t random_walk(int64_t v, int64_t modulus, uint64_t *seed)
{
    uint64_t r = next_random(seed) % 20;
    if (r == 0)
        return (int64_t)(next_random(seed) % (uint64_t)modulus); /* reset (or a wrap) */
    if (r <= 3)
        return v >= 150 ? v - (int64_t)(next_random(seed) % 150) : v; /* jitter or small reset */
    return (v + (int64_t)(next_random(seed) % 8000)) % modulus;
}

START_TEST(any_order_matches_time_order_with_decreases)
{
    uint64_t seed = 0x2545f4914f6cdd1du;
    struct interval_rules rules = default_rules();
    rules.rollover_wh = 1000000;
    rules.max_interpolate_s = 4 * 3600;
    static struct mini inc, batch;
    for (int trial = 0; trial < 300; trial++) {
        size_t n = 2 + (size_t)(next_random(&seed) % 60), order[64];
        int64_t ts[64], wh[64];
        bool est[64];
        random_times(ts, n, &seed);
        wh[0] = (int64_t)(next_random(&seed) % 1000000);
        for (size_t i = 0; i < n; i++) {
            if (i > 0)
                wh[i] = random_walk(wh[i - 1], rules.rollover_wh, &seed);
            est[i] = next_random(&seed) % 10 == 0;
        }
        shuffle(order, n, &seed);
        mini_init(&inc, &rules, DAY0);
        mini_init(&batch, &rules, DAY0);
        for (size_t i = 0; i < n; i++) {
            mini_insert(&inc, ts[order[i]], wh[order[i]], est[order[i]]);
            mini_insert(&batch, ts[i], wh[i], est[i]);
        }
        mini_expect_same(&inc, &batch);
        int64_t sum = 0, energy = 0, least = 0;
        for (size_t i = 0; i < MINI_PERIODS; i++) {
            least = inc.mwh[i] < least ? inc.mwh[i] : least;
            sum += inc.mwh[i];
        }
        ck_assert_int_eq(least, 0);
        for (size_t i = 1; i < n; i++)
            energy += inc.reads[i].interval_wh;
        ck_assert_int_eq(sum, energy * 1000);
    }
}
END_TEST

#ifdef __SIZEOF_INT128__
__extension__ typedef unsigned __int128 u128;

/* round(e·x/t) the direct way, to check the module's two-halves arithmetic. */
static int64_t reference_upto(int64_t e, int64_t x, int64_t t)
{
    return (int64_t)(((u128)e * (u128)x + (u128)(t / 2)) / (u128)t);
}
#endif

START_TEST(extreme_values_stay_exact)
{
    struct interval_profile p;
    char text[48 * 16];
    size_t off = 0;
    for (int i = 0; i < INTERVAL_SLOTS; i++) /* maximal weights, not all equal */
        off += (size_t)snprintf(text + off, sizeof text - off, "%02d:%02d,%d\n", i / 2,
                                (i % 2) * 30, INTERVAL_WEIGHT_MAX - (i % 7) * 9973);
    ck_assert_int_eq(interval_profile_parse(text, &p, NULL), 0);
    struct interval_rules rules = default_rules();
    rules.profile = &p;
    rules.max_interpolate_s = 0;
    struct interval_read a = read_at(INTERVAL_TS_MAX - 30 * 86400 - 977, 0);
    struct interval_read b = read_at(INTERVAL_TS_MAX, INTERVAL_WH_MAX);
    struct interval_segment seg = judge(&rules, &a, &b);
    static struct interval_share out[1500];
    size_t n = interval_segment_shares(&seg, out, 1500);
    ck_assert_uint_eq(n, 1441);
    int64_t sum = 0;
    for (size_t i = 0; i < n; i++) {
        ck_assert_int_ge(out[i].mwh, 0);
        sum += out[i].mwh;
    }
    ck_assert_int_eq(sum, INTERVAL_WH_MAX * 1000);
#ifdef __SIZEOF_INT128__
    /* the position of the k-th period's end, weighted, against a direct 128-bit computation */
    int64_t done = 0, total = 0, posn[1441];
    for (size_t i = 0; i < n; i++) {
        int64_t s = out[i].start < a.ts ? a.ts : out[i].start;
        int64_t e = out[i].start + 1800 > b.ts ? b.ts : out[i].start + 1800;
        int slot = (int)((out[i].start % 86400) / 1800);
        total += (e - s) * p.weight[slot];
        posn[i] = total;
    }
    for (size_t i = 0; i < n; i++) {
        int64_t upto = reference_upto(INTERVAL_WH_MAX * 1000, posn[i], total);
        ck_assert_int_eq(out[i].mwh, upto - done);
        done = upto;
    }
#endif
    /* a whole-range segment is counted without being split */
    struct interval_read first = read_at(0, 0);
    seg = judge(&rules, &first, &b);
    ck_assert_uint_eq(interval_segment_shares(&seg, NULL, 0), (size_t)(INTERVAL_TS_MAX / 1800) + 1);
    /* the widest rollover: the largest modulus, over a span where P·dt exceeds int64 */
    rules.rollover_wh = INTERVAL_WH_MAX;
    rules.max_power_w = INTERVAL_POWER_MAX_W;
    first.baseline_wh = 200;
    b.wh = 0;
    ck_assert_int_eq(judge(&rules, &first, &b).kind, INTERVAL_KIND_ROLLOVER);
    ck_assert_int_eq(judge(&rules, &first, &b).energy_wh, INTERVAL_WH_MAX - 200);
    a.baseline_wh = 200; /* the same wrap within 30 days is implausible even at 1 GW */
    ck_assert_int_eq(judge(&rules, &a, &b).kind, INTERVAL_KIND_RESET);
}
END_TEST

START_TEST(invalid_segments_are_refused)
{
    struct interval_rules rules = default_rules();
    struct interval_segment seg = {.energy_wh = 42};
    struct interval_read a = read_at(HM(1, 0), 1000), b = read_at(HM(1, 0), 1000);
    ck_assert_int_eq(interval_segment_judge(&rules, &a, &b, &seg), -1); /* same instant */
    b.ts = HM(0, 0);
    ck_assert_int_eq(interval_segment_judge(&rules, &a, &b, &seg), -1); /* backwards */
    b.ts = HM(2, 0);
    b.wh = -1;
    ck_assert_int_eq(interval_segment_judge(&rules, &a, &b, &seg), -1);
    b.wh = INTERVAL_WH_MAX + 1;
    ck_assert_int_eq(interval_segment_judge(&rules, &a, &b, &seg), -1);
    b.wh = 1000;
    a.baseline_wh = -5;
    ck_assert_int_eq(interval_segment_judge(&rules, &a, &b, &seg), -1);
    a.baseline_wh = 1000;
    a.ts = -1;
    ck_assert_int_eq(interval_segment_judge(&rules, &a, &b, &seg), -1);
    a.ts = HM(1, 0);
    b.ts = INTERVAL_TS_MAX + 1;
    ck_assert_int_eq(interval_segment_judge(&rules, &a, &b, &seg), -1);
    b.ts = HM(2, 0);
    struct interval_rules bad = rules;
    bad.max_power_w = -1;
    ck_assert_int_eq(interval_segment_judge(&bad, &a, &b, &seg), -1);
    bad = rules;
    bad.rollover_wh = -1;
    ck_assert_int_eq(interval_segment_judge(&bad, &a, &b, &seg), -1);
    bad = rules;
    bad.max_interpolate_s = -1;
    ck_assert_int_eq(interval_segment_judge(&bad, &a, &b, &seg), -1);
    struct interval_profile empty;
    memset(&empty, 0, sizeof empty);
    bad = rules;
    bad.profile = &empty;
    ck_assert_int_eq(interval_segment_judge(&bad, &a, &b, &seg), -1);
    ck_assert_int_eq(seg.energy_wh, 42); /* untouched */
    ck_assert_int_eq(interval_segment_judge(&rules, &a, &b, &seg), 0);
}
END_TEST

/* ---- Profile text ------------------------------------------------------------------------- */

START_TEST(profile_parse_accepts_comments_crlf_any_order)
{
    char text[2048];
    size_t off = (size_t)snprintf(text, sizeof text, "# domestic\r\n\r\n");
    for (int i = INTERVAL_SLOTS - 1; i >= 0; i--)
        off += (size_t)snprintf(text + off, sizeof text - off, "%02d:%02d,%d \r\n", i / 2,
                                (i % 2) * 30, 200 + i);
    struct interval_profile p;
    int bad = -1;
    ck_assert_int_eq(interval_profile_parse(text, &p, &bad), 0);
    ck_assert_int_eq(bad, -1);
    ck_assert_uint_eq(p.weight[0], 200);
    ck_assert_uint_eq(p.weight[47], 247);
    ck_assert_int_eq(p.prefix[48], 48 * 200 + 47 * 48 / 2);
}
END_TEST

/* Builds a valid profile text with line k (1-based) replaced by repl (NULL: dropped). */
static void profile_text_with(char *text, size_t cap, int k, const char *repl)
{
    size_t off = 0;
    text[0] = '\0';
    for (int i = 0; i < INTERVAL_SLOTS; i++) {
        if (i + 1 == k && repl == NULL)
            continue;
        if (i + 1 == k)
            off += (size_t)snprintf(text + off, cap - off, "%s\n", repl);
        else
            off +=
                (size_t)snprintf(text + off, cap - off, "%02d:%02d,%d\n", i / 2, (i % 2) * 30, 100);
    }
}

START_TEST(profile_parse_names_the_bad_line)
{
    const char *bad_lines[] = {"12:15,100", "24:00,100", "00:00,0",   "00:00,100001", "00:00,",
                               "00:00;100", "0:00,100",  "00:00,1x0", "00:00,-5",     "text"};
    char text[2048];
    struct interval_profile p;
    for (size_t j = 0; j < sizeof bad_lines / sizeof bad_lines[0]; j++) {
        profile_text_with(text, sizeof text, 5, bad_lines[j]);
        int bad = -1;
        ck_assert_int_eq(interval_profile_parse(text, &p, &bad), -1);
        ck_assert_int_eq(bad, 5);
    }
    profile_text_with(text, sizeof text, 7, "00:00,100"); /* slot 00:00 twice */
    int bad = -1;
    ck_assert_int_eq(interval_profile_parse(text, &p, &bad), -1);
    ck_assert_int_eq(bad, 7);
    profile_text_with(text, sizeof text, 30, NULL); /* a slot missing */
    ck_assert_int_eq(interval_profile_parse(text, &p, &bad), -1);
    ck_assert_int_eq(bad, 0);
    bad = -1;
    ck_assert_int_eq(interval_profile_parse(NULL, &p, &bad), -1);
    ck_assert_int_eq(bad, 0);
    ck_assert_int_eq(interval_profile_parse("", &p, NULL), -1);
    profile_text_with(text, sizeof text, 48, "23:30,100000");
    ck_assert_int_eq(interval_profile_parse(text, &p, NULL), 0);
}
END_TEST

START_TEST(shipped_profile_is_valid)
{
    FILE *f = fopen("schema/load_profile.csv", "r");
    ck_assert_msg(f != NULL, "run from the repository root");
    static char text[8192];
    size_t len = fread(text, 1, sizeof text - 1, f);
    fclose(f);
    text[len] = '\0';
    struct interval_profile p;
    int bad = -1;
    ck_assert_int_eq(interval_profile_parse(text, &p, &bad), 0);
    ck_assert_int_eq(p.prefix[48], 10000);
    /* night is lower than the morning, and the evening peak is the day's highest */
    uint32_t top = 0;
    int top_slot = -1;
    for (int i = 0; i < INTERVAL_SLOTS; i++) {
        if (p.weight[i] > top) {
            top = p.weight[i];
            top_slot = i;
        }
    }
    ck_assert_int_ge(top_slot, 34); /* 17:00 */
    ck_assert_int_lt(top_slot, 40); /* 20:00 */
    ck_assert_uint_lt(p.weight[8], p.weight[16]);
}
END_TEST

static Suite *intervals_suite(void)
{
    Suite *s = suite_create("intervals");
    TCase *basics = tcase_create("periods");
    tcase_add_test(basics, quality_names_and_order);
    tcase_add_test(basics, period_start_floors_to_half_hours);
    tcase_add_test(basics, period_complete_needs_reads_on_both_sides);
    tcase_add_test(basics, period_quality_is_worst_of_touching_segments);
    suite_add_tcase(s, basics);

    TCase *split = tcase_create("apportionment");
    tcase_add_test(split, reads_on_boundaries);
    tcase_add_test(split, irregular_reads_straddle_boundaries);
    tcase_add_test(split, rounding_is_cumulative_and_conserving);
    tcase_add_test(split, hourly_polling);
    tcase_add_test(split, four_hour_gap_is_linear);
    tcase_add_test(split, gap_of_exactly_max_is_actual_one_second_more_estimated);
    tcase_add_test(split, estimated_read_makes_its_segments_estimated);
    tcase_add_test(split, profile_shapes_a_whole_day_exactly);
    tcase_add_test(split, profile_shapes_an_unaligned_gap_across_midnight);
    tcase_add_test(split, flat_profile_is_linear);
    suite_add_tcase(s, split);

    TCase *dec = tcase_create("decreases");
    tcase_add_test(dec, rollover_at_modulus);
    tcase_add_test(dec, rollover_plausibility_boundary);
    tcase_add_test(dec, large_decrease_is_reset_not_rollover);
    tcase_add_test(dec, jitter_keeps_high_water_mark);
    tcase_add_test(dec, jitter_threshold_is_inclusive);
    suite_add_tcase(s, dec);

    TCase *inc = tcase_create("incremental");
    tcase_set_timeout(inc, 30);
    tcase_add_test(inc, duplicate_and_conflicting_reads);
    tcase_add_test(inc, late_read_restates_two_periods);
    tcase_add_test(inc, late_read_carries_baseline_forward);
    tcase_add_test(inc, read_before_the_first_becomes_first);
    tcase_add_test(inc, conservation_in_any_order);
    tcase_add_test(inc, any_order_matches_time_order_with_decreases);
    tcase_add_test(inc, extreme_values_stay_exact);
    tcase_add_test(inc, invalid_segments_are_refused);
    suite_add_tcase(s, inc);

    TCase *prof = tcase_create("profile");
    tcase_add_test(prof, profile_parse_accepts_comments_crlf_any_order);
    tcase_add_test(prof, profile_parse_names_the_bad_line);
    tcase_add_test(prof, shipped_profile_is_valid);
    suite_add_tcase(s, prof);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(intervals_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
