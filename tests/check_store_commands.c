/* check_store_commands.c — meter_commands, the tariff schedule and meter selection through a real
 * SQLite store: commands created, found, saved through their life, answered; what is due, in
 * order and capped; the due lookup's cost not growing with finished history; the schedule and
 * future_activation_at; and the meters of an ESCO, a site, or the whole fleet. */
#include <check.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store_commands.h"
#include "store_internal.h" /* the connection and statement cache, for setup SQL and counters */

#define NO_ROW INT64_MIN

static struct store *st;
static char st_path[128];

static const char REGISTRY[] =
    "INSERT INTO escos (id, code, created_at) VALUES ('e1', 'E1', 'x'), ('e2', 'E2', 'x');"
    "INSERT INTO sites_new (id, name, esco) VALUES ('s1', 'Site 1', 'e1'), ('s2', 'Site 2', 'e1');"
    "INSERT INTO service_head_registry (id, name) VALUES ('h1', 'H1'), ('h2', 'H2');"
    "INSERT INTO properties (id, plot, site) VALUES ('p1', 'P1', 's1'), ('p2', 'P2', 's2');"
    "INSERT INTO properties_service_head VALUES ('p1', 'h1'), ('p2', 'h2');"
    "INSERT INTO meter_registry (id, serial, mode, esco, daylight_savings_correction_enabled,"
    " created_at, updated_at) VALUES ('m1', 'S1', 'active', 'e1', 1, 'x', 'x'),"
    " ('m2', 'S2', 'passive', 'e1', 0, 'x', 'x'), ('m3', 'S3', 'active', 'e2', 0, 'x', 'x'),"
    " ('m0', 'S0', 'active', NULL, 0, 'x', 'x');"
    "INSERT INTO service_head_meter VALUES ('h1', 'm1'), ('h2', 'm2');";

static void sql(const char *fmt, ...)
{
    char text[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    char *err = NULL;
    int rc = sqlite3_exec(st->db, text, NULL, NULL, &err);
    ck_assert_msg(rc == SQLITE_OK, "%s: %s", text, err ? err : "?");
}

/* The first column of the first row (NULL reads as NO_ROW too). */
static int64_t sql_int(const char *fmt, ...)
{
    char text[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    sqlite3_stmt *q = NULL;
    ck_assert_msg(sqlite3_prepare_v2(st->db, text, -1, &q, NULL) == SQLITE_OK, "%s", text);
    int rc = sqlite3_step(q);
    int64_t v = rc == SQLITE_ROW && sqlite3_column_type(q, 0) != SQLITE_NULL
                    ? sqlite3_column_int64(q, 0)
                    : NO_ROW;
    sqlite3_finalize(q);
    return v;
}

static void setup(void)
{
    const char *dir = getenv("TMPDIR");
    snprintf(st_path, sizeof st_path, "%s/check_store_commands_XXXXXX",
             dir && strlen(dir) < 80 ? dir : "/tmp");
    int fd = mkstemp(st_path);
    ck_assert_int_ge(fd, 0);
    close(fd);
    struct store_options opt = {.path = st_path, .busy_timeout_ms = 1000};
    char err[256];
    ck_assert_msg(store_open(&opt, &st, err, sizeof err) == STORE_OK, "%s", err);
    sql(REGISTRY);
}

static void teardown(void)
{
    char side[160];
    store_close(st);
    unlink(st_path);
    snprintf(side, sizeof side, "%s-wal", st_path);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", st_path);
    unlink(side);
}

static void create(const char *meter_id, const char *args, int64_t now, struct store_command *c)
{
    ck_assert_int_eq(store_begin(st), STORE_OK);
    ck_assert_int_eq(store_command_create(st, meter_id, TARIFFS_COMMAND_WRITE, args, 3, now, c),
                     STORE_OK);
    ck_assert_int_eq(store_commit(st), STORE_OK);
}

static void save(const struct store_command *c, const char *reason, int64_t now)
{
    ck_assert_int_eq(store_begin(st), STORE_OK);
    ck_assert_int_eq(store_command_save(st, c, reason, now), STORE_OK);
    ck_assert_int_eq(store_commit(st), STORE_OK);
}

/* ---- Commands ------------------------------------------------------------------------------ */

START_TEST(a_command_is_created_pending_with_a_fresh_uuid)
{
    struct store_command a, b, found;
    bool ok = false;
    create("m1", "{\"standing_charge\":0.5}", 1000, &a);
    create("m1", "{\"standing_charge\":0.6}", 1000, &b);
    ck_assert_int_eq(strlen(a.id), 36);
    ck_assert_int_eq(a.id[14], '4');
    ck_assert(strchr("89ab", a.id[19]) != NULL);
    ck_assert_str_ne(a.id, b.id);
    ck_assert_int_eq(store_command_find(st, a.id, &found, &ok), STORE_OK);
    ck_assert(ok);
    ck_assert_str_eq(found.meter_id, "m1");
    ck_assert_str_eq(found.serial, "S1");
    ck_assert_str_eq(found.args, "{\"standing_charge\":0.5}");
    ck_assert_int_eq(found.version, 3);
    ck_assert_int_eq(found.state.status, TARIFFS_COMMAND_PENDING);
    ck_assert_int_eq(found.state.attempts, 0);
    ck_assert_int_eq(found.state.next_at, 1000);
    ck_assert_int_eq(sql_int("SELECT count(*) FROM meter_commands WHERE status = 'pending'"
                             " AND created_at = '1970-01-01T00:16:40Z' AND updated_at = created_at"
                             " AND command = 'tariffs_future_write'"),
                     2);
    ck_assert_int_eq(store_command_find(st, "nope", &found, &ok), STORE_OK);
    ck_assert(!ok);
}
END_TEST

START_TEST(a_command_keeps_its_life_in_the_row)
{
    struct store_command c, found;
    bool ok = false;
    create("m1", "{}", 1000, &c);
    tariffs_command_sent(&c.state, 1000, 300);
    save(&c, NULL, 1000);
    ck_assert_int_eq(store_command_find(st, c.id, &found, &ok), STORE_OK);
    ck_assert_int_eq(found.state.attempts, 1);
    ck_assert_int_eq(found.state.last_attempt_at, 1000);
    ck_assert_int_eq(found.state.next_at, 1300);
    ck_assert(tariffs_command_end(&c.state, TARIFFS_COMMAND_FAILED));
    save(&c, "no answer", 1300);
    ck_assert_int_eq(store_command_find(st, c.id, &found, &ok), STORE_OK);
    ck_assert_int_eq(found.state.status, TARIFFS_COMMAND_FAILED);
    ck_assert_int_eq(sql_int("SELECT next_attempt_at FROM meter_commands"), NO_ROW);
    ck_assert_int_eq(sql_int("SELECT count(*) FROM meter_commands WHERE reason = 'no answer'"
                             " AND updated_at = '1970-01-01T00:21:40Z'"),
                     1);
    save(&c, NULL, 1400); /* a later save without a reason keeps it */
    ck_assert_int_eq(sql_int("SELECT count(*) FROM meter_commands WHERE reason = 'no answer'"), 1);
}
END_TEST

START_TEST(an_answer_is_recorded)
{
    struct store_command c;
    create("m1", "{}", 1000, &c);
    ck_assert_int_eq(store_command_answer(st, c.id, false, "busy", 1001), STORE_OK);
    ck_assert_int_eq(
        sql_int("SELECT count(*) FROM meter_commands WHERE result = 'error' AND result_message = "
                "'busy' AND status = 'pending'"),
        1);
    ck_assert_int_eq(store_command_answer(st, c.id, true, NULL, 1002), STORE_OK);
    ck_assert_int_eq(
        sql_int(
            "SELECT count(*) FROM meter_commands WHERE result = 'ok' AND result_message IS NULL"),
        1);
}
END_TEST

START_TEST(pending_latest_and_due_lists)
{
    struct store_command a, b, c, list[4];
    size_t n = 9;
    bool found = false;
    create("m1", "{\"a\":1}", 1000, &a);
    create("m1", "{\"b\":1}", 900, &b);
    create("m3", "{\"c\":1}", 950, &c);
    ck_assert(tariffs_command_end(&a.state, TARIFFS_COMMAND_CONFIRMED));
    save(&a, NULL, 1000);
    ck_assert_int_eq(store_commands_pending(st, "m1", list, 4, &n), STORE_OK);
    ck_assert_int_eq(n, 1);
    ck_assert_str_eq(list[0].id, b.id);
    ck_assert_int_eq(store_command_latest(st, "m1", list, &found), STORE_OK);
    ck_assert(found);
    ck_assert_str_eq(list[0].id, b.id); /* created last, whatever its times */
    ck_assert_int_eq(store_command_latest(st, "m2", list, &found), STORE_OK);
    ck_assert(!found);
    ck_assert_int_eq(store_commands_due(st, 949, list, 4, &n), STORE_OK);
    ck_assert_int_eq(n, 1);
    ck_assert_str_eq(list[0].id, b.id);
    ck_assert_int_eq(store_commands_due(st, 5000, list, 4, &n), STORE_OK);
    ck_assert_int_eq(n, 2); /* most overdue first; the confirmed one is never due */
    ck_assert_str_eq(list[0].id, b.id);
    ck_assert_str_eq(list[1].id, c.id);
    ck_assert_int_eq(store_commands_due(st, 5000, list, 1, &n), STORE_OK);
    ck_assert_int_eq(n, 1);
}
END_TEST

static int64_t counter_take(int op)
{
    int64_t sum = 0;
    for (size_t i = 0; i < STORE_STMT_CACHE; i++)
        if (st->cache[i].stmt != NULL)
            sum += sqlite3_stmt_status(st->cache[i].stmt, op, 1);
    return sum;
}

/* VM steps of one due lookup with nothing due. */
static int64_t due_cost(int64_t *fullscan)
{
    struct store_command list[4];
    size_t n = 0;
    counter_take(SQLITE_STMTSTATUS_VM_STEP);
    counter_take(SQLITE_STMTSTATUS_FULLSCAN_STEP);
    ck_assert_int_eq(store_commands_due(st, 5000, list, 4, &n), STORE_OK);
    ck_assert_int_eq(n, 0);
    *fullscan = counter_take(SQLITE_STMTSTATUS_FULLSCAN_STEP);
    return counter_take(SQLITE_STMTSTATUS_VM_STEP);
}

START_TEST(the_due_lookup_does_not_grow_with_history)
{
    int64_t scan_small = -1, scan_large = -1;
    sql("INSERT INTO meter_commands (id, meter_id, command, args, status, attempts, created_at,"
        " updated_at, version) VALUES ('old', 'm1', 'x', '{}', 'confirmed', 1, 'x', 'x', 1)");
    int64_t small = due_cost(&scan_small);
    sql("WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5000)"
        " INSERT INTO meter_commands (id, meter_id, command, args, status, attempts, created_at,"
        " updated_at, version) SELECT 'c' || i, 'm1', 'x', '{}', 'failed', 12, 'x', 'x', 1 FROM n");
    int64_t large = due_cost(&scan_large);
    ck_assert_int_eq(scan_small, 0);
    ck_assert_int_eq(scan_large, 0);
    ck_assert_int_eq(small, large);
}
END_TEST

START_TEST(over_long_args_are_refused_before_writing)
{
    struct store_command c;
    char *args = malloc(STORE_COMMAND_ARGS_MAX + 1);
    ck_assert_ptr_nonnull(args);
    memset(args, 'x', STORE_COMMAND_ARGS_MAX);
    args[STORE_COMMAND_ARGS_MAX] = '\0';
    ck_assert_int_eq(store_command_create(st, "m1", "x", args, 1, 1, &c), STORE_ERROR);
    ck_assert_int_eq(sql_int("SELECT count(*) FROM meter_commands"), 0);
    free(args);
}
END_TEST

/* ---- Schedule and future_activation_at ------------------------------------------------------ */

START_TEST(schedule_rows_come_due_in_order)
{
    struct store_tariff_due due[4];
    size_t n = 9;
    int64_t t1 = 100, t2 = 50;
    ck_assert_int_eq(store_tariff_schedule_set(st, "m1", STORE_TARIFF_PUSHED, &t1), STORE_OK);
    ck_assert_int_eq(store_tariff_schedule_set(st, "m2", STORE_TARIFF_SCHEDULED, &t2), STORE_OK);
    ck_assert_int_eq(store_tariff_schedule_set(st, "m3", STORE_TARIFF_SCHEDULED, NULL), STORE_OK);
    ck_assert_int_eq(store_tariff_schedule_due(st, 49, due, 4, &n), STORE_OK);
    ck_assert_int_eq(n, 0);
    ck_assert_int_eq(store_tariff_schedule_due(st, 1000, due, 4, &n), STORE_OK);
    ck_assert_int_eq(n, 2); /* m3 has nothing due */
    ck_assert_str_eq(due[0].serial, "S2");
    ck_assert_int_eq(due[0].stage, STORE_TARIFF_SCHEDULED);
    ck_assert_str_eq(due[1].meter_id, "m1");
    ck_assert_int_eq(due[1].stage, STORE_TARIFF_PUSHED);
    ck_assert_int_eq(due[1].due_at, 100);
    ck_assert_int_eq(store_tariff_schedule_set(st, "m1", STORE_TARIFF_SCHEDULED, NULL), STORE_OK);
    ck_assert_int_eq(store_tariff_schedule_remove(st, "m2"), STORE_OK);
    ck_assert_int_eq(store_tariff_schedule_due(st, 1000, due, 4, &n), STORE_OK);
    ck_assert_int_eq(n, 0);
    ck_assert_int_eq(sql_int("SELECT count(*) FROM meter_tariff_schedule"), 2);
}
END_TEST

START_TEST(future_activation_at_without_taking_a_silent_meter_offline)
{
    int64_t at = 1743462000;
    struct store_meter_state state;
    ck_assert_int_eq(store_tariff_activation_set(st, "m1", &at), STORE_OK);
    ck_assert_int_eq(sql_int("SELECT count(*) FROM meter_shadows_tariffs WHERE serial = 'S1' AND"
                             " future_activation_at = '2025-03-31T23:00:00Z'"),
                     1);
    ck_assert_int_eq(sql_int("SELECT last_seen FROM meter_state WHERE meter_id = 'm1'"), NO_ROW);
    struct store_offline_meter due[2];
    size_t n = 9;
    ck_assert_int_eq(store_meters_due_offline(st, 2000000000, 10800, due, 2, &n), STORE_OK);
    ck_assert_int_eq(n, 0);
    /* A later save of the alert state keeps the instant. */
    ck_assert_int_eq(store_meter_state_load(st, "m1", &state), STORE_OK);
    ck_assert(state.has_future_activation);
    ck_assert_int_eq(state.future_activation_at, at);
    ck_assert_int_eq(store_tariff_activation_set(st, "m1", NULL), STORE_OK);
    ck_assert_int_eq(sql_int("SELECT future_activation_at FROM meter_state WHERE meter_id = 'm1'"),
                     NO_ROW);
}
END_TEST

/* ---- Selecting meters ---------------------------------------------------------------------- */

START_TEST(meters_of_an_esco_a_site_or_the_fleet)
{
    struct store_meter_ref *m = NULL;
    size_t n = 9;
    bool found = false;
    ck_assert_int_eq(store_meters_select(st, STORE_SCOPE_ESCO, "E1", &m, &n, &found), STORE_OK);
    ck_assert(found);
    ck_assert_int_eq(n, 2);
    ck_assert_str_eq(m[0].serial, "S1");
    ck_assert(m[0].dst_correction && !m[0].passive);
    ck_assert_str_eq(m[1].serial, "S2");
    ck_assert(m[1].passive && !m[1].dst_correction);
    free(m);
    ck_assert_int_eq(store_meters_select(st, STORE_SCOPE_SITE, "Site 2", &m, &n, &found), STORE_OK);
    ck_assert_int_eq(n, 1);
    ck_assert_str_eq(m[0].id, "m2");
    free(m);
    ck_assert_int_eq(store_meters_select(st, STORE_SCOPE_ALL, NULL, &m, &n, &found), STORE_OK);
    ck_assert_int_eq(n, 4);
    ck_assert_str_eq(m[0].serial, "S0");
    free(m);
    ck_assert_int_eq(store_meters_select(st, STORE_SCOPE_ESCO, "E9", &m, &n, &found), STORE_OK);
    ck_assert(!found);
    ck_assert_int_eq(n, 0);
    ck_assert_ptr_null(m);
    sql("INSERT INTO sites_new (id, name) VALUES ('s3', 'Empty')");
    ck_assert_int_eq(store_meters_select(st, STORE_SCOPE_SITE, "Empty", &m, &n, &found), STORE_OK);
    ck_assert(found);
    ck_assert_int_eq(n, 0);
    free(m);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("store_commands");
    TCase *tc = tcase_create("store");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, a_command_is_created_pending_with_a_fresh_uuid);
    tcase_add_test(tc, a_command_keeps_its_life_in_the_row);
    tcase_add_test(tc, an_answer_is_recorded);
    tcase_add_test(tc, pending_latest_and_due_lists);
    tcase_add_test(tc, the_due_lookup_does_not_grow_with_history);
    tcase_add_test(tc, over_long_args_are_refused_before_writing);
    tcase_add_test(tc, schedule_rows_come_due_in_order);
    tcase_add_test(tc, future_activation_at_without_taking_a_silent_meter_offline);
    tcase_add_test(tc, meters_of_an_esco_a_site_or_the_fleet);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
