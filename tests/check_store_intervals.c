/* check_store_intervals.c — register reads through a real SQLite store into register periods and
 * circuit half-hours, local days and local months.
 *
 * Each test opens a fresh database file with store_open (all migrations applied), inserts the
 * registry rows it needs with plain SQL, and drives store_register_read as the service would, one
 * write transaction per read. Expected energies are exact integers (Wh in, mWh out). The cost
 * test compares SQLite's own per-statement counters (virtual machine steps, full-scan steps) and
 * the rows written, not time, for the same read on a short and a long history. */
#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "isotime.h"
#include "store_internal.h" /* the statement cache and connection, for counters and setup SQL */
#include "store_intervals.h"

#define HOUR 3600
#define HH INTERVAL_PERIOD_S
#define DAY 86400
#define NO_ROW INT64_MIN

static struct tzone london;
static struct interval_rules rules;
static struct store *st;
static char st_path[128];

static int64_t utc(int y, int mo, int d, int h, int mi)
{
    return isotime_days_from_civil(y, (unsigned)mo, (unsigned)d) * DAY + h * HOUR + mi * 60;
}

/* ---- Databases ----------------------------------------------------------------------------- */

static const char REGISTRY[] =
    "INSERT INTO meter_registry (id, serial, created_at, updated_at) VALUES"
    " ('m1', 'S1', '2025-01-01T00:00:00Z', '2025-01-01T00:00:00Z'),"
    " ('m2', 'S2', '2025-01-01T00:00:00Z', '2025-01-01T00:00:00Z');"
    "INSERT INTO meter_registers (register_id, meter_id, element, created_at) VALUES"
    " ('r1', 'm1', 'A', '2025-01-01T00:00:00Z'), ('r2', 'm1', 'B', '2025-01-01T00:00:00Z'),"
    " ('r3', 'm2', 'SINGLE', '2025-01-01T00:00:00Z');"
    "INSERT INTO circuits (id, type, name) VALUES ('c1', 'power', 'C1'), ('c2', 'solar', 'C2');";

static void sql(struct store *s, const char *fmt, ...)
{
    char text[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    char *err = NULL;
    int rc = sqlite3_exec(s->db, text, NULL, NULL, &err);
    ck_assert_msg(rc == SQLITE_OK, "%s: %s", text, err ? err : "?");
}

/* The first column of the first row, or NO_ROW. */
static int64_t sql_int(struct store *s, const char *fmt, ...)
{
    char text[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    sqlite3_stmt *q = NULL;
    ck_assert_msg(sqlite3_prepare_v2(s->db, text, -1, &q, NULL) == SQLITE_OK, "%s: %s", text,
                  sqlite3_errmsg(s->db));
    int rc = sqlite3_step(q);
    int64_t v = rc == SQLITE_ROW ? sqlite3_column_int64(q, 0) : NO_ROW;
    sqlite3_finalize(q);
    return v;
}

/* Every row a query returns, as one malloc'd text, for comparing two databases. */
static char *sql_rows(struct store *s, const char *select)
{
    char text[1024];
    snprintf(text, sizeof text, "SELECT coalesce(group_concat(x, ';'), '') FROM (%s)", select);
    sqlite3_stmt *q = NULL;
    ck_assert_msg(sqlite3_prepare_v2(s->db, text, -1, &q, NULL) == SQLITE_OK, "%s", text);
    ck_assert_int_eq(sqlite3_step(q), SQLITE_ROW);
    char *rows = strdup((const char *)sqlite3_column_text(q, 0));
    sqlite3_finalize(q);
    ck_assert_ptr_nonnull(rows);
    return rows;
}

static struct store *store_new(char path[128])
{
    const char *dir = getenv("TMPDIR");
    snprintf(path, 128, "%s/check_store_intervals_XXXXXX", dir && strlen(dir) < 80 ? dir : "/tmp");
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    struct store_options opt = {.path = path, .busy_timeout_ms = 1000};
    struct store *s = NULL;
    char err[256];
    ck_assert_msg(store_open(&opt, &s, err, sizeof err) == STORE_OK, "%s", err);
    sql(s, REGISTRY);
    return s;
}

static void store_gone(struct store *s, const char *path)
{
    char side[160];
    store_close(s);
    unlink(path);
    snprintf(side, sizeof side, "%s-wal", path);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", path);
    unlink(side);
}

static void setup(void)
{
    ck_assert_msg(tzone_load("Europe/London", &london) == 0, "Europe/London not installed");
    rules = (struct interval_rules){
        .rollover_wh = 0, .max_power_w = 23000, .max_interpolate_s = 6 * HOUR, .profile = NULL};
    st = store_new(st_path);
}

static void teardown(void)
{
    store_gone(st, st_path);
}

static void map(struct store *s, const char *circuit, const char *reg, const char *from,
                const char *until)
{
    if (until == NULL)
        sql(s, "INSERT INTO circuit_register VALUES ('%s', '%s', '%s', NULL)", circuit, reg, from);
    else
        sql(s, "INSERT INTO circuit_register VALUES ('%s', '%s', '%s', '%s')", circuit, reg, from,
            until);
}

/* ---- Reads --------------------------------------------------------------------------------- */

/* One read in the caller's transaction. */
static struct store_read_result apply(struct store *s, const char *reg, enum store_flow flow,
                                      int64_t ts, int64_t wh, struct aggregate_key_set *changes)
{
    struct store_read_result out;
    int rc = store_register_read(s, reg, flow, ts, wh, false, &rules, &london, changes, &out);
    ck_assert_msg(rc == STORE_OK, "read %s %lld: %s", reg, (long long)ts, store_errmsg(s));
    return out;
}

/* One read in its own write transaction, as the service applies a message. */
static struct store_read_result put(struct store *s, const char *reg, int64_t ts, int64_t wh,
                                    struct aggregate_key_set *changes)
{
    ck_assert_int_eq(store_begin(s), STORE_OK);
    struct store_read_result out = apply(s, reg, STORE_FLOW_IMPORT, ts, wh, changes);
    ck_assert_int_eq(store_commit(s), STORE_OK);
    return out;
}

static int64_t period(struct store *s, const char *reg, const char *column, int64_t start)
{
    return sql_int(s,
                   "SELECT %s FROM register_periods WHERE register_id = '%s' AND flow = 'import'"
                   " AND start = %lld",
                   column, reg, (long long)start);
}

static int64_t hh(struct store *s, const char *circuit, const char *column, int64_t start)
{
    return sql_int(s, "SELECT %s FROM circuit_hh WHERE circuit_id = '%s' AND start = %lld", column,
                   circuit, (long long)start);
}

static int64_t daily(struct store *s, const char *circuit, const char *column, const char *day)
{
    return sql_int(s, "SELECT %s FROM circuit_daily WHERE circuit_id = '%s' AND day = '%s'", column,
                   circuit, day);
}

static int64_t monthly(struct store *s, const char *circuit, const char *column, const char *month)
{
    return sql_int(s, "SELECT %s FROM circuit_monthly WHERE circuit_id = '%s' AND month = '%s'",
                   column, circuit, month);
}

/* ---- Restatement, duplicates, conflicts ---------------------------------------------------- */

#define T0 utc(2025, 11, 27, 0, 0) /* GMT: the local day is the UTC day */

/* 00:00 = 100.0 kWh and 01:00 = 101.0 kWh: 0.5 and 0.5 kWh in the two half-hours. */
static void two_reads(void)
{
    map(st, "c1", "r1", "2025-01-01T00:00:00Z", NULL);
    put(st, "r1", T0, 100000, NULL);
    put(st, "r1", T0 + HOUR, 101000, NULL);
}

START_TEST(late_read_restates_two_periods_with_higher_revisions)
{
    two_reads();
    ck_assert_int_eq(period(st, "r1", "mwh", T0), 500000);
    ck_assert_int_eq(period(st, "r1", "mwh", T0 + HH), 500000);
    ck_assert_int_eq(period(st, "r1", "revision", T0), 1);
    ck_assert_int_eq(period(st, "r1", "complete", T0 + HH), 1);
    ck_assert_int_eq(hh(st, "c1", "revision", T0), 1);
    ck_assert_int_eq(daily(st, "c1", "revision", "2025-11-27"), 1);

    struct aggregate_key_set changes = {0};
    struct store_read_result r = put(st, "r1", T0 + HH, 100800, &changes);
    ck_assert_int_eq(r.arrival, INTERVAL_NEW);
    ck_assert_int_eq(r.restated, 2);
    ck_assert(!r.reset);

    ck_assert_int_eq(period(st, "r1", "mwh", T0), 800000);
    ck_assert_int_eq(period(st, "r1", "mwh", T0 + HH), 200000);
    ck_assert_int_eq(period(st, "r1", "revision", T0), 2);
    ck_assert_int_eq(period(st, "r1", "revision", T0 + HH), 2);
    ck_assert_int_eq(sql_int(st, "SELECT interval_wh FROM register_reads WHERE ts = %lld",
                             (long long)(T0 + HOUR)),
                     200);
    ck_assert_int_eq(sql_int(st, "SELECT CAST(round(import_kwh * 1e6) AS INTEGER) FROM"
                                 " register_interval_hh WHERE timestamp = '2025-11-27T00:00:00Z'"),
                     800000);

    ck_assert_int_eq(hh(st, "c1", "import_mwh", T0), 800000);
    ck_assert_int_eq(hh(st, "c1", "import_mwh", T0 + HH), 200000);
    ck_assert_int_eq(hh(st, "c1", "revision", T0), 2);
    ck_assert_int_eq(hh(st, "c1", "revision", T0 + HH), 2);
    /* The day's total is unchanged, but it contains changed periods: republished (SPEC §6). */
    ck_assert_int_eq(daily(st, "c1", "import_mwh", "2025-11-27"), 1000000);
    ck_assert_int_eq(daily(st, "c1", "revision", "2025-11-27"), 2);
    ck_assert_int_eq(monthly(st, "c1", "revision", "2025-11"), 2);

    ck_assert_uint_eq(changes.count, 4);
    ck_assert_int_eq(changes.keys[0].kind, AGGREGATE_HH);
    ck_assert_int_eq(changes.keys[0].start, T0);
    ck_assert_int_eq(changes.keys[1].start, T0 + HH);
    ck_assert_int_eq(changes.keys[2].kind, AGGREGATE_DAY);
    ck_assert_str_eq(changes.keys[2].label, "2025-11-27");
    ck_assert_int_eq(changes.keys[3].kind, AGGREGATE_MONTH);
    ck_assert_str_eq(changes.keys[3].label, "2025-11");
    ck_assert_str_eq(changes.keys[3].circuit_id, "c1");

    struct aggregate_bucket b;
    bool found;
    ck_assert_int_eq(store_circuit_bucket_load(st, &changes.keys[3], &b, &found), STORE_OK);
    ck_assert(found);
    ck_assert_int_eq(b.import_mwh, 1000000);
    ck_assert_int_eq(b.hh_count, 2);
    ck_assert_int_eq(b.days_in_month, 30);
    ck_assert(!b.complete);
    ck_assert_int_eq(b.revision, 2);
    ck_assert_int_eq(store_circuit_bucket_load(st, &changes.keys[0], &b, &found), STORE_OK);
    ck_assert_int_eq(b.registers, 1);
    ck_assert_int_eq(b.estimated, 0);
    ck_assert(b.complete);
    aggregate_key_set_free(&changes);
}
END_TEST

START_TEST(duplicate_read_adds_nothing)
{
    two_reads();
    struct aggregate_key_set changes = {0};
    int64_t before = sqlite3_total_changes64(st->db);
    struct store_read_result r = put(st, "r1", T0 + HOUR, 101000, &changes);
    ck_assert_int_eq(r.arrival, INTERVAL_DUPLICATE);
    ck_assert_int_eq(r.restated, 0);
    ck_assert_int_eq(sqlite3_total_changes64(st->db), before);
    ck_assert_uint_eq(changes.count, 0);
    ck_assert_int_eq(period(st, "r1", "revision", T0), 1);
    aggregate_key_set_free(&changes);
}
END_TEST

START_TEST(conflicting_read_keeps_the_first)
{
    two_reads();
    struct aggregate_key_set changes = {0};
    int64_t before = sqlite3_total_changes64(st->db);
    struct store_read_result r = put(st, "r1", T0, 100500, &changes);
    ck_assert_int_eq(r.arrival, INTERVAL_CONFLICT);
    ck_assert_int_eq(r.held_wh, 100000);
    ck_assert_int_eq(sqlite3_total_changes64(st->db), before);
    ck_assert_uint_eq(changes.count, 0);
    ck_assert_int_eq(sql_int(st, "SELECT wh FROM register_reads WHERE ts = %lld", (long long)T0),
                     100000);
    ck_assert_int_eq(period(st, "r1", "mwh", T0), 500000);
}
END_TEST

static int refused(const char *reg, int64_t ts, int64_t wh)
{
    struct store_read_result out;
    return store_register_read(st, reg, STORE_FLOW_IMPORT, ts, wh, false, &rules, &london, NULL,
                               &out);
}

START_TEST(bad_reads_are_refused)
{
    struct interval_rules good = rules;
    ck_assert_int_eq(store_begin(st), STORE_OK);
    ck_assert_int_eq(refused("r1", T0, -1), STORE_ERROR);
    ck_assert_int_eq(refused("r1", T0, INTERVAL_WH_MAX + 1), STORE_ERROR);
    ck_assert_int_eq(refused("r1", -1, 5), STORE_ERROR);
    ck_assert_int_eq(refused(NULL, T0, 5), STORE_ERROR);
    ck_assert_int_eq(refused("no-such-register", T0, 5), STORE_ERROR);
    ck_assert_int_eq(refused("r1", T0, 5), STORE_OK);
    rules.max_power_w = -1; /* refused by the engine once there is a segment to judge */
    ck_assert_int_eq(refused("r1", T0 + HH, 6), STORE_ERROR);
    rules = good;
    store_rollback(st);
    ck_assert_int_eq(sql_int(st, "SELECT count(*) FROM register_reads"), 0);
}
END_TEST

START_TEST(reset_is_reported_and_yields_no_negative_energy)
{
    map(st, "c1", "r1", "2025-01-01T00:00:00Z", NULL);
    put(st, "r1", T0, 500000, NULL);
    struct store_read_result r = put(st, "r1", T0 + HOUR, 2000, NULL);
    ck_assert(r.reset);
    ck_assert_int_eq(period(st, "r1", "mwh", T0), 0);
    ck_assert_int_eq(sql_int(st,
                             "SELECT count(*) FROM register_periods WHERE start = %lld"
                             " AND quality = 'reset'",
                             (long long)T0),
                     1);
    r = put(st, "r1", T0 + 2 * HOUR, 3000, NULL); /* counts from the new baseline */
    ck_assert(!r.reset);
    ck_assert_int_eq(hh(st, "c1", "import_mwh", T0 + HOUR) +
                         hh(st, "c1", "import_mwh", T0 + HOUR + HH),
                     1000000);
    ck_assert_int_eq(hh(st, "c1", "estimated", T0), 1); /* a reset is not actual */
}
END_TEST

/* ---- Order does not matter ----------------------------------------------------------------- */

static uint64_t next_random(uint64_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 7;
    *s ^= *s << 17;
    return *s;
}

struct sample {
    const char *reg;
    enum store_flow flow;
    int64_t ts, wh;
};

static void shuffle(struct sample *v, size_t n, uint64_t seed)
{
    for (size_t i = n - 1; i > 0; i--) {
        size_t j = (size_t)(next_random(&seed) % (i + 1));
        struct sample t = v[i];
        v[i] = v[j];
        v[j] = t;
    }
}

static void apply_all(struct store *s, const struct sample *v, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        ck_assert_int_eq(store_begin(s), STORE_OK);
        apply(s, v[i].reg, v[i].flow, v[i].ts, v[i].wh, NULL);
        ck_assert_int_eq(store_commit(s), STORE_OK);
    }
}

/* Everything but revisions, which count the restatements and so depend on the order. */
static const char *const STATE[] = {
    "SELECT register_id || flow || ts || ',' || wh || ',' || estimated || ',' || baseline_wh"
    " || quality || ',' || coalesce(interval_wh, 'null') AS x FROM register_reads"
    " ORDER BY register_id, flow, ts",
    "SELECT register_id || flow || start || ',' || mwh || quality || complete AS x"
    " FROM register_periods ORDER BY register_id, flow, start",
    "SELECT circuit_id || start || ',' || import_mwh || ',' || export_mwh || ',' || registers"
    " || ',' || estimated || complete AS x FROM circuit_hh ORDER BY circuit_id, start",
    "SELECT circuit_id || day || ',' || import_mwh || ',' || export_mwh || ',' || hh_count"
    " || complete AS x FROM circuit_daily ORDER BY circuit_id, day",
    "SELECT circuit_id || month || ',' || import_mwh || ',' || export_mwh || ',' || days_in_month"
    " || complete AS x FROM circuit_monthly ORDER BY circuit_id, month",
};

static void expect_same_state(struct store *a, struct store *b)
{
    for (size_t i = 0; i < sizeof STATE / sizeof STATE[0]; i++) {
        char *x = sql_rows(a, STATE[i]), *y = sql_rows(b, STATE[i]);
        ck_assert_msg(strcmp(x, y) == 0, "state differs: %s", STATE[i]);
        ck_assert_msg(strlen(x) > 0, "empty: %s", STATE[i]);
        free(x);
        free(y);
    }
}

/* Circuit half-hours are moved by each register's difference; folding every one again from its
 * registers must find nothing to rewrite. */
static void expect_folding_again_changes_nothing(struct store *s)
{
    struct aggregate_key_set changes;
    aggregate_key_set_init(&changes);
    ck_assert_int_eq(store_begin(s), STORE_OK);
    ck_assert_int_eq(store_circuit_refresh(s, "c1", 0, INT64_MAX, &london, &changes), STORE_OK);
    ck_assert_int_eq(store_commit(s), STORE_OK);
    ck_assert_msg(changes.count == 0, "%zu circuit buckets drifted from their parts",
                  changes.count);
    aggregate_key_set_free(&changes);
}

#define WEEK_HOURS (7 * 24)
#define WEEK_START utc(2025, 6, 30, 23, 0) /* local midnight of 1 July (BST) */

START_TEST(week_in_any_order_sums_to_register_differences)
{
    static int64_t r1[WEEK_HOURS + 1], r2_in[WEEK_HOURS + 1], r2_out[WEEK_HOURS + 1];
    static struct sample v[3 * (WEEK_HOURS + 1)];
    uint64_t seed = 0x9e3779b97f4a7c15u;
    size_t n = 0;
    r1[0] = 12345678;
    r2_in[0] = 42;
    r2_out[0] = 777000;
    for (int h = 0; h <= WEEK_HOURS; h++) {
        if (h > 0) {
            r1[h] = r1[h - 1] + (int64_t)(next_random(&seed) % 3001);
            r2_in[h] = r2_in[h - 1] + (int64_t)(next_random(&seed) % 701);
            r2_out[h] = r2_out[h - 1] + (int64_t)(next_random(&seed) % 2001);
        }
        int64_t ts = WEEK_START + (int64_t)h * HOUR;
        v[n++] = (struct sample){"r1", STORE_FLOW_IMPORT, ts, r1[h]};
        v[n++] = (struct sample){"r2", STORE_FLOW_IMPORT, ts, r2_in[h]};
        v[n++] = (struct sample){"r2", STORE_FLOW_EXPORT, ts, r2_out[h]};
    }
    char other_path[128];
    struct store *other = store_new(other_path);
    struct store *both[2] = {st, other};
    for (int i = 0; i < 2; i++) {
        map(both[i], "c1", "r1", "2025-01-01T00:00:00Z", NULL);
        map(both[i], "c1", "r2", "2025-01-01T00:00:00Z", NULL);
    }
    apply_all(st, v, n); /* in time order */
    shuffle(v, n, 12345);
    apply_all(other, v, n);

    for (int d = 0; d < 7; d++) {
        char day[24];
        snprintf(day, sizeof day, "2025-07-%02d", d + 1);
        int a = d * 24, b = a + 24;
        int64_t import = (r1[b] - r1[a] + r2_in[b] - r2_in[a]) * 1000;
        int64_t export = (r2_out[b] - r2_out[a]) * 1000;
        for (int i = 0; i < 2; i++) {
            ck_assert_int_eq(daily(both[i], "c1", "import_mwh", day), import);
            ck_assert_int_eq(daily(both[i], "c1", "export_mwh", day), export);
            ck_assert_int_eq(daily(both[i], "c1", "hh_count", day), 48);
            ck_assert_int_eq(daily(both[i], "c1", "complete", day), 1);
        }
    }
    ck_assert_int_eq(monthly(other, "c1", "import_mwh", "2025-07"),
                     (r1[WEEK_HOURS] - r1[0] + r2_in[WEEK_HOURS] - r2_in[0]) * 1000);
    ck_assert_int_eq(monthly(other, "c1", "days_in_month", "2025-07"), 31);
    ck_assert_int_eq(monthly(other, "c1", "complete", "2025-07"), 0);
    ck_assert_int_eq(hh(other, "c1", "registers", WEEK_START), 2);
    expect_same_state(st, other);
    expect_folding_again_changes_nothing(st);
    expect_folding_again_changes_nothing(other);
    store_gone(other, other_path);
}
END_TEST

START_TEST(decreases_in_any_order_match_time_order)
{
    /* Jitter (a baseline carried forward), a reset and rises, hourly over two days. */
    static const int64_t steps[] = {500, -40, -30, 700, -100, 0, 900, -250000, 300, -20, 400};
    static struct sample v[49];
    int64_t wh = 2000000;
    for (int h = 0; h <= 48; h++) {
        if (h > 0)
            wh += steps[h % 11];
        if (wh < 0)
            wh = 0;
        v[h] = (struct sample){"r1", STORE_FLOW_IMPORT, T0 + (int64_t)h * HOUR, wh};
    }
    char other_path[128];
    struct store *other = store_new(other_path);
    map(st, "c1", "r1", "2025-01-01T00:00:00Z", NULL);
    map(other, "c1", "r1", "2025-01-01T00:00:00Z", NULL);
    apply_all(st, v, 49);
    for (uint64_t seed = 1; seed <= 3; seed++) {
        shuffle(v, 49, seed * 7919);
        sql(other,
            "DELETE FROM register_reads; DELETE FROM register_periods;"
            " DELETE FROM circuit_hh; DELETE FROM circuit_daily; DELETE FROM circuit_monthly");
        apply_all(other, v, 49);
        expect_same_state(st, other);
    }
    ck_assert_int_ge(
        sql_int(st, "SELECT count(*) FROM register_periods WHERE quality = 'negative'"), 1);
    ck_assert_int_ge(sql_int(st, "SELECT count(*) FROM register_periods WHERE quality = 'reset'"),
                     1);
    ck_assert_int_eq(sql_int(st, "SELECT min(mwh) FROM register_periods"), 0);
    expect_folding_again_changes_nothing(st);
    expect_folding_again_changes_nothing(other);
    store_gone(other, other_path);
}
END_TEST

/* ---- Mappings ------------------------------------------------------------------------------ */

START_TEST(mapping_counts_a_register_from_start_until_end)
{
    /* r1 on c1 until 01:00 (exclusive), r2 on c1 from 00:30 (an offset form), r1 on c2 always. */
    map(st, "c1", "r1", "2025-01-01T00:00:00Z", "2025-11-27T01:00:00Z");
    map(st, "c1", "r2", "2025-11-27T00:30:00+00:00", NULL);
    map(st, "c2", "r1", "2025-01-01T00:00:00Z", NULL);
    put(st, "r1", T0, 1000, NULL);
    put(st, "r1", T0 + 2 * HOUR, 3000, NULL); /* 500 Wh per half-hour */
    put(st, "r2", T0, 0, NULL);
    put(st, "r2", T0 + 2 * HOUR, 4000, NULL); /* 1000 Wh per half-hour */

    ck_assert_int_eq(hh(st, "c1", "registers", T0), 1);
    ck_assert_int_eq(hh(st, "c1", "import_mwh", T0), 500000);
    ck_assert_int_eq(hh(st, "c1", "registers", T0 + HH), 2);
    ck_assert_int_eq(hh(st, "c1", "import_mwh", T0 + HH), 1500000);
    ck_assert_int_eq(hh(st, "c1", "registers", T0 + 2 * HH), 1); /* r1's end is exclusive */
    ck_assert_int_eq(hh(st, "c1", "import_mwh", T0 + 2 * HH), 1000000);
    ck_assert_int_eq(hh(st, "c1", "import_mwh", T0 + 3 * HH), 1000000);
    ck_assert_int_eq(hh(st, "c1", "complete", T0 + 3 * HH), 1);
    for (int p = 0; p < 4; p++)
        ck_assert_int_eq(hh(st, "c2", "import_mwh", T0 + p * HH), 500000);
    ck_assert_int_eq(daily(st, "c1", "import_mwh", "2025-11-27"), 4000000);
    ck_assert_int_eq(daily(st, "c2", "import_mwh", "2025-11-27"), 2000000);
}
END_TEST

START_TEST(mapped_register_without_a_value_leaves_bucket_incomplete)
{
    map(st, "c1", "r1", "2025-01-01T00:00:00Z", NULL);
    map(st, "c1", "r3", "2025-01-01T00:00:00Z", NULL);
    put(st, "r1", T0, 0, NULL);
    put(st, "r1", T0 + HH, 100, NULL);
    ck_assert_int_eq(hh(st, "c1", "registers", T0), 1);
    ck_assert_int_eq(hh(st, "c1", "complete", T0), 0);
    put(st, "r3", T0, 0, NULL);
    struct store_read_result out;
    ck_assert_int_eq(store_begin(st), STORE_OK);
    ck_assert_int_eq(store_register_read(st, "r3", STORE_FLOW_IMPORT, T0 + HH, 50, true, &rules,
                                         &london, NULL, &out),
                     STORE_OK);
    ck_assert_int_eq(store_commit(st), STORE_OK);
    ck_assert_int_eq(hh(st, "c1", "registers", T0), 2);
    ck_assert_int_eq(hh(st, "c1", "estimated", T0), 1); /* r3's read was estimated */
    ck_assert_int_eq(hh(st, "c1", "complete", T0), 1);
    ck_assert_int_eq(hh(st, "c1", "import_mwh", T0), 150000);
}
END_TEST

START_TEST(unmapped_register_touches_no_circuit)
{
    put(st, "r1", T0, 0, NULL);
    put(st, "r1", T0 + HOUR, 1000, NULL);
    ck_assert_int_eq(sql_int(st, "SELECT count(*) FROM register_periods"), 2);
    ck_assert_int_eq(sql_int(st, "SELECT count(*) FROM circuit_hh"), 0);
    ck_assert_int_eq(sql_int(st, "SELECT count(*) FROM circuit_daily"), 0);
}
END_TEST

/* r1 over a day, half-hourly, 40 Wh a half-hour with a step at noon. */
static void r1_day(struct store *s)
{
    for (int k = 0; k <= 48; k++)
        put(s, "r1", T0 + (int64_t)k * HH, 40 * k + (k > 24 ? 1000 : 0), NULL);
}

START_TEST(refresh_catches_up_a_mapping_added_later)
{
    char other_path[128];
    struct store *other = store_new(other_path);
    map(other, "c1", "r1", "2025-11-27T03:00:00Z", NULL);
    r1_day(other); /* mapped before the reads */
    r1_day(st);    /* mapped after them */
    ck_assert_int_eq(sql_int(st, "SELECT count(*) FROM circuit_hh"), 0);
    map(st, "c1", "r1", "2025-11-27T03:00:00Z", NULL);
    struct aggregate_key_set changes = {0};
    ck_assert_int_eq(store_begin(st), STORE_OK);
    ck_assert_int_eq(store_circuit_refresh(st, "c1", T0 + 3 * HOUR, INT64_MAX, &london, &changes),
                     STORE_OK);
    ck_assert_int_eq(store_commit(st), STORE_OK);
    expect_same_state(st, other);
    ck_assert_uint_eq(changes.count, 42 + 1 + 1); /* 03:00–24:00, the day, the month */
    ck_assert_int_eq(daily(st, "c1", "import_mwh", "2025-11-27"), (42 * 40 + 1000) * 1000);
    aggregate_key_set_clear(&changes); /* again: nothing differs, nothing is revised */
    ck_assert_int_eq(store_begin(st), STORE_OK);
    ck_assert_int_eq(store_circuit_refresh(st, "c1", T0, INT64_MAX, &london, &changes), STORE_OK);
    ck_assert_int_eq(store_commit(st), STORE_OK);
    ck_assert_uint_eq(changes.count, 0);
    ck_assert_int_eq(hh(st, "c1", "revision", T0 + 3 * HOUR), 1);
    aggregate_key_set_free(&changes);
    store_gone(other, other_path);
}
END_TEST

START_TEST(refresh_empties_buckets_after_a_mapping_ends)
{
    map(st, "c1", "r1", "2025-01-01T00:00:00Z", NULL);
    r1_day(st);
    int64_t revision = hh(st, "c1", "revision", T0 + 20 * HOUR);
    sql(st, "UPDATE circuit_register SET end_time = '2025-11-27T20:00:00Z'");
    ck_assert_int_eq(store_begin(st), STORE_OK);
    ck_assert_int_eq(store_circuit_refresh(st, "c1", T0 + 20 * HOUR, INT64_MAX, &london, NULL),
                     STORE_OK);
    ck_assert_int_eq(store_commit(st), STORE_OK);
    ck_assert_int_eq(hh(st, "c1", "registers", T0 + 20 * HOUR), 0);
    ck_assert_int_eq(hh(st, "c1", "import_mwh", T0 + 20 * HOUR), 0);
    ck_assert_int_eq(hh(st, "c1", "complete", T0 + 20 * HOUR), 0);
    ck_assert_int_eq(hh(st, "c1", "revision", T0 + 20 * HOUR), revision + 1);
    ck_assert_int_eq(hh(st, "c1", "registers", T0 + 20 * HOUR - HH), 1);
    ck_assert_int_eq(daily(st, "c1", "import_mwh", "2025-11-27"), (40 * 40 + 1000) * 1000);
    ck_assert_int_eq(daily(st, "c1", "hh_count", "2025-11-27"), 40);
}
END_TEST

/* ---- Local days and months ----------------------------------------------------------------- */

/* Half-hourly reads of r1 rising 100 Wh each, from first to last inclusive. */
static void half_hourly(int64_t first, int64_t last, int64_t origin)
{
    for (int64_t ts = first; ts <= last; ts += HH)
        put(st, "r1", ts, (ts - origin) / 18, NULL);
}

START_TEST(spring_day_has_46_periods_and_completes_with_them)
{
    int64_t day = utc(2025, 3, 30, 0, 0); /* 00:00 GMT to 00:00 BST = 23:00Z */
    map(st, "c1", "r1", "2025-01-01T00:00:00Z", NULL);
    half_hourly(day, utc(2025, 3, 30, 22, 30), day);
    ck_assert_int_eq(daily(st, "c1", "hh_count", "2025-03-30"), 45);
    ck_assert_int_eq(daily(st, "c1", "complete", "2025-03-30"), 0);
    put(st, "r1", utc(2025, 3, 30, 23, 0), 4600, NULL);
    ck_assert_int_eq(daily(st, "c1", "hh_count", "2025-03-30"), 46);
    ck_assert_int_eq(daily(st, "c1", "complete", "2025-03-30"), 1);
    ck_assert_int_eq(daily(st, "c1", "import_mwh", "2025-03-30"), 4600000);
    ck_assert_int_eq(daily(st, "c1", "hh_count", "2025-03-31"), NO_ROW);
}
END_TEST

START_TEST(autumn_day_has_50_periods_and_completes_with_them)
{
    int64_t day = utc(2025, 10, 25, 23, 0); /* 00:00 BST to 00:00 GMT next day */
    map(st, "c1", "r1", "2025-01-01T00:00:00Z", NULL);
    half_hourly(day, utc(2025, 10, 26, 23, 30), day);
    ck_assert_int_eq(daily(st, "c1", "hh_count", "2025-10-26"), 49);
    ck_assert_int_eq(daily(st, "c1", "complete", "2025-10-26"), 0);
    put(st, "r1", utc(2025, 10, 26, 23, 45), 4950, NULL); /* the last period, provisional */
    ck_assert_int_eq(daily(st, "c1", "hh_count", "2025-10-26"), 50);
    ck_assert_int_eq(daily(st, "c1", "complete", "2025-10-26"), 0);
    int64_t revision = daily(st, "c1", "revision", "2025-10-26");
    put(st, "r1", utc(2025, 10, 27, 0, 0), 5000, NULL);
    ck_assert_int_eq(daily(st, "c1", "hh_count", "2025-10-26"), 50);
    ck_assert_int_eq(daily(st, "c1", "complete", "2025-10-26"), 1);
    ck_assert_int_eq(daily(st, "c1", "import_mwh", "2025-10-26"), 5000000);
    ck_assert_int_eq(daily(st, "c1", "revision", "2025-10-26"), revision + 1);
    ck_assert_int_eq(daily(st, "c1", "hh_count", "2025-10-25"), NO_ROW);
}
END_TEST

START_TEST(month_rolls_up_its_days_and_completes_with_them)
{
    map(st, "c1", "r1", "2025-01-01T00:00:00Z", NULL);
    for (int d = 0; d < 28; d++) /* daily reads: long gaps, estimated, still complete */
        put(st, "r1", utc(2026, 2, 1, 0, 0) + (int64_t)d * DAY, (int64_t)d * 24000, NULL);
    ck_assert_int_eq(monthly(st, "c1", "complete", "2026-02"), 0);
    ck_assert_int_eq(monthly(st, "c1", "import_mwh", "2026-02"), 27 * INT64_C(24000000));
    put(st, "r1", utc(2026, 3, 1, 0, 0), 28 * 24000, NULL);
    ck_assert_int_eq(monthly(st, "c1", "complete", "2026-02"), 1);
    ck_assert_int_eq(monthly(st, "c1", "days_in_month", "2026-02"), 28);
    ck_assert_int_eq(monthly(st, "c1", "import_mwh", "2026-02"), 28 * INT64_C(24000000));
    ck_assert_int_eq(sql_int(st, "SELECT count(*) FROM circuit_daily WHERE complete = 1"), 28);
    ck_assert_int_eq(hh(st, "c1", "estimated", utc(2026, 2, 14, 12, 0)), 1);

    struct aggregate_key key;
    struct aggregate_span month;
    struct aggregate_bucket b;
    bool found;
    ck_assert_int_eq(aggregate_month_of(&london, utc(2026, 2, 14, 0, 0), &month), 0);
    ck_assert_int_eq(aggregate_key_make(AGGREGATE_MONTH, "c1", 0, &month, &key), 0);
    ck_assert_int_eq(store_circuit_bucket_load(st, &key, &b, &found), STORE_OK);
    ck_assert(found && b.complete);
    ck_assert_int_eq(b.hh_count, 28 * 48);
    ck_assert_int_eq(monthly(st, "c1", "import_mwh", "2026-03"), NO_ROW);
}
END_TEST

START_TEST(month_starts_at_local_midnight)
{
    map(st, "c1", "r1", "2025-01-01T00:00:00Z", NULL);
    for (int h = 0; h <= 3; h++) /* 22:00Z on 30 Sep to 01:00Z on 1 Oct, 1 kWh an hour */
        put(st, "r1", utc(2025, 9, 30, 22, 0) + h * HOUR, h * 1000, NULL);
    ck_assert_int_eq(monthly(st, "c1", "import_mwh", "2025-09"), 1000000);
    ck_assert_int_eq(monthly(st, "c1", "days_in_month", "2025-09"), 30);
    ck_assert_int_eq(monthly(st, "c1", "import_mwh", "2025-10"), 2000000);
    ck_assert_int_eq(monthly(st, "c1", "days_in_month", "2025-10"), 31);
    ck_assert_int_eq(daily(st, "c1", "hh_count", "2025-10-01"), 4);
    ck_assert_int_eq(daily(st, "c1", "hh_count", "2025-09-30"), 2);

    struct aggregate_key key;
    struct aggregate_bucket b;
    bool found = true;
    ck_assert_int_eq(aggregate_key_make(AGGREGATE_HH, "c2", utc(2025, 9, 30, 22, 0), NULL, &key),
                     0);
    ck_assert_int_eq(store_circuit_bucket_load(st, &key, &b, &found), STORE_OK);
    ck_assert(!found);
}
END_TEST

/* ---- Cost ---------------------------------------------------------------------------------- */

/* The statements' own counters, summed over the store's statement cache (and reset). */
static int64_t counter_take(struct store *s, int op)
{
    int64_t sum = 0;
    for (size_t i = 0; i < STORE_STMT_CACHE; i++)
        if (s->cache[i].stmt != NULL)
            sum += sqlite3_stmt_status(s->cache[i].stmt, op, 1);
    return sum;
}

struct cost {
    int64_t vm_steps, fullscan_steps, rows_written;
};

static struct cost measure(struct store *s, int64_t ts, int64_t wh)
{
    counter_take(s, SQLITE_STMTSTATUS_VM_STEP);
    counter_take(s, SQLITE_STMTSTATUS_FULLSCAN_STEP);
    int64_t before = sqlite3_total_changes64(s->db);
    put(s, "r1", ts, wh, NULL);
    struct cost c = {counter_take(s, SQLITE_STMTSTATUS_VM_STEP),
                     counter_take(s, SQLITE_STMTSTATUS_FULLSCAN_STEP),
                     sqlite3_total_changes64(s->db) - before};
    return c;
}

#define MONTH_START utc(2025, 7, 31, 23, 0) /* local midnight of 1 August (BST) */
#define W0 INT64_C(10000000)

START_TEST(read_costs_the_same_after_10_or_10000_reads)
{
    char big_path[128];
    struct store *big = store_new(big_path);
    struct store *both[2] = {st, big};
    for (int i = 0; i < 2; i++) {
        map(both[i], "c1", "r1", "2025-01-01T00:00:00Z", NULL);
        ck_assert_int_eq(store_begin(both[i]), STORE_OK);
        /* 100 Wh a half-hour; the same last reads in both, the one at k = 5 left for later. */
        for (int k = i == 0 ? -1 : -9991; k < 10; k++)
            if (k != 5)
                apply(both[i], "r1", STORE_FLOW_IMPORT, MONTH_START + (int64_t)k * HH, W0 + 100 * k,
                      NULL);
        ck_assert_int_eq(store_commit(both[i]), STORE_OK);
    }
    ck_assert_int_eq(sql_int(big, "SELECT count(*) FROM register_reads"), 10000);
    ck_assert_int_ge(sql_int(big, "SELECT count(*) FROM circuit_daily"), 200);

    struct cost append[2], late[2], again[2];
    for (int i = 0; i < 2; i++) {
        append[i] = measure(both[i], MONTH_START + 10 * HH, W0 + 1000);
        late[i] = measure(both[i], MONTH_START + 5 * HH, W0 + 530); /* 130 + 70, was 100 + 100 */
        again[i] = measure(both[i], MONTH_START + 5 * HH, W0 + 530);
    }
    /* read, period, circuit half-hour, day, month */
    ck_assert_int_eq(append[0].rows_written, 5);
    /* read, next read's state, 2 periods, 2 circuit half-hours, day, month */
    ck_assert_int_eq(late[0].rows_written, 8);
    ck_assert_int_eq(again[0].rows_written, 0);
    struct cost *c[3][2] = {{&append[0], &append[1]}, {&late[0], &late[1]}, {&again[0], &again[1]}};
    for (int k = 0; k < 3; k++) {
        ck_assert_int_eq(c[k][1]->rows_written, c[k][0]->rows_written);
        ck_assert_msg(c[k][1]->vm_steps == c[k][0]->vm_steps,
                      "case %d: %lld VM steps after 10 reads, %lld after 10000", k,
                      (long long)c[k][0]->vm_steps, (long long)c[k][1]->vm_steps);
        ck_assert_int_eq(c[k][0]->fullscan_steps, 0);
        ck_assert_int_eq(c[k][1]->fullscan_steps, 0);
    }
    ck_assert_int_eq(period(big, "r1", "mwh", MONTH_START + 4 * HH), 130000);
    ck_assert_int_eq(period(big, "r1", "revision", MONTH_START + 4 * HH), 2);
    store_gone(big, big_path);
}
END_TEST

static Suite *store_intervals_suite(void)
{
    Suite *s = suite_create("store_intervals");

    TCase *reads = tcase_create("reads");
    tcase_add_checked_fixture(reads, setup, teardown);
    tcase_add_test(reads, late_read_restates_two_periods_with_higher_revisions);
    tcase_add_test(reads, duplicate_read_adds_nothing);
    tcase_add_test(reads, conflicting_read_keeps_the_first);
    tcase_add_test(reads, bad_reads_are_refused);
    tcase_add_test(reads, reset_is_reported_and_yields_no_negative_energy);
    suite_add_tcase(s, reads);

    TCase *order = tcase_create("order");
    tcase_set_timeout(order, 120);
    tcase_add_checked_fixture(order, setup, teardown);
    tcase_add_test(order, week_in_any_order_sums_to_register_differences);
    tcase_add_test(order, decreases_in_any_order_match_time_order);
    suite_add_tcase(s, order);

    TCase *maps = tcase_create("mappings");
    tcase_add_checked_fixture(maps, setup, teardown);
    tcase_add_test(maps, mapping_counts_a_register_from_start_until_end);
    tcase_add_test(maps, mapped_register_without_a_value_leaves_bucket_incomplete);
    tcase_add_test(maps, unmapped_register_touches_no_circuit);
    tcase_add_test(maps, refresh_catches_up_a_mapping_added_later);
    tcase_add_test(maps, refresh_empties_buckets_after_a_mapping_ends);
    suite_add_tcase(s, maps);

    TCase *local = tcase_create("local days and months");
    tcase_set_timeout(local, 60);
    tcase_add_checked_fixture(local, setup, teardown);
    tcase_add_test(local, spring_day_has_46_periods_and_completes_with_them);
    tcase_add_test(local, autumn_day_has_50_periods_and_completes_with_them);
    tcase_add_test(local, month_rolls_up_its_days_and_completes_with_them);
    tcase_add_test(local, month_starts_at_local_midnight);
    suite_add_tcase(s, local);

    TCase *cost = tcase_create("cost");
    tcase_set_timeout(cost, 300);
    tcase_add_checked_fixture(cost, setup, teardown);
    tcase_add_test(cost, read_costs_the_same_after_10_or_10000_reads);
    suite_add_tcase(s, cost);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(store_intervals_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
