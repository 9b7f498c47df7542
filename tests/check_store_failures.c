/* check_store_failures.c — which store failures mean "the database cannot take writes for now"
 * (shadowd then holds the message and retries) and which are about the work itself (answered
 * 500), on a real SQLite file with a second connection holding the write lock. */
#include <check.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "store.h"
#include "store_internal.h" /* the connection, for a statement the store has no call for */

static struct store *st;
static char st_path[128];

static void setup(void)
{
    char err[256];
    snprintf(st_path, sizeof st_path, "%s/check-store-failures-%d.db",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp", (int)getpid());
    struct store_options opt = {.path = st_path, .busy_timeout_ms = 50};
    ck_assert_int_eq(store_open(&opt, &st, err, sizeof err), STORE_OK);
}

static void teardown(void)
{
    char path[160];
    store_close(st);
    const char *suffixes[] = {"", "-wal", "-shm"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(path, sizeof path, "%s%s", st_path, suffixes[i]);
        unlink(path);
    }
}

/* Another process's connection, holding the write lock until released. */
static sqlite3 *lock_writer(void)
{
    sqlite3 *other = NULL;
    ck_assert_int_eq(sqlite3_open(st_path, &other), SQLITE_OK);
    ck_assert_int_eq(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
    return other;
}

static void release_writer(sqlite3 *other)
{
    ck_assert_int_eq(sqlite3_exec(other, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
    sqlite3_close(other);
}

START_TEST(a_lock_beyond_the_busy_timeout_is_unavailable_until_reset)
{
    ck_assert(!store_unavailable(st));
    sqlite3 *other = lock_writer();
    ck_assert_int_eq(store_begin(st), STORE_BUSY);
    ck_assert(store_unavailable(st));
    store_rollback(st);
    ck_assert(store_unavailable(st)); /* sticky: the rollback's outcome does not clear it */
    release_writer(other);
    store_failure_reset(st);
    ck_assert(!store_unavailable(st));
    ck_assert_int_eq(store_begin(st), STORE_OK);
    ck_assert_int_eq(store_commit(st), STORE_OK);
    ck_assert(!store_unavailable(st));
}
END_TEST

START_TEST(a_failure_of_the_work_itself_is_not_unavailable)
{
    ck_assert_int_eq(store_begin(st), STORE_OK);
    /* A mode the registry's CHECK refuses: retrying would fail the same way. */
    ck_assert_int_eq(store_exec(st,
                                "INSERT INTO meter_registry (id, serial, mode)"
                                " VALUES ('m', 'S', 'bogus')",
                                "insert meter"),
                     STORE_ERROR);
    ck_assert(!store_unavailable(st));
    store_rollback(st);
}
END_TEST

START_TEST(unavailable_stays_set_through_a_later_failure_of_another_kind)
{
    sqlite3 *other = lock_writer();
    ck_assert_int_eq(store_begin(st), STORE_BUSY);
    release_writer(other);
    ck_assert_int_eq(store_exec(st, "SELECT * FROM no_such_table", "select"), STORE_ERROR);
    ck_assert(store_unavailable(st));
}
END_TEST

int main(void)
{
    Suite *s = suite_create("store_failures");
    TCase *tc = tcase_create("classification");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, a_lock_beyond_the_busy_timeout_is_unavailable_until_reset);
    tcase_add_test(tc, a_failure_of_the_work_itself_is_not_unavailable);
    tcase_add_test(tc, unavailable_stays_set_through_a_later_failure_of_another_kind);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
