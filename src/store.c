/* store.c — SQLite behind the store interface.
 *
 * One connection, WAL mode, every statement prepared once and reused (statement preparation would
 * otherwise dominate a small write). Migrations are the numbered files of schema/, embedded at
 * build time and applied in order inside one transaction each, with PRAGMA user_version as the
 * counter. Errors are mapped to store_status so callers never see SQLite codes. */
#include "store.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "isotime.h"
#include "store_internal.h"

extern const char *const store_migrations[];

/* ---- Errors -------------------------------------------------------------------------------- */

/* Failures that say nothing about the work itself: the same transaction can succeed once space,
 * the lock, the disk or memory comes back. */
static bool store_failure_is_transient(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_FULL:
    case SQLITE_IOERR:
    case SQLITE_READONLY:
    case SQLITE_CANTOPEN:
    case SQLITE_NOMEM:
    case SQLITE_PROTOCOL:
        return true;
    default:
        return false;
    }
}

int store_fail(struct store *st, int rc, const char *what)
{
    snprintf(st->errmsg, sizeof st->errmsg, "%s: %s", what,
             st->db ? sqlite3_errmsg(st->db) : sqlite3_errstr(rc));
    /* Sticky until reset: the rollback that follows a failed write may fail for its own reason
     * ("no transaction is active" after SQLite rolled back by itself). */
    st->unavailable = st->unavailable || store_failure_is_transient(rc);
    switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return STORE_BUSY;
    case SQLITE_FULL:
        return STORE_FULL;
    default:
        return STORE_ERROR;
    }
}

const char *store_errmsg(const struct store *st)
{
    return st->errmsg;
}

bool store_unavailable(const struct store *st)
{
    return st->unavailable;
}

void store_failure_reset(struct store *st)
{
    st->unavailable = false;
}

sqlite3_stmt *store_prepare(struct store *st, const char *sql)
{
    /* Open addressing on the literal's address: a handful of pointer compares per statement. */
    size_t i = ((uintptr_t)sql >> 3) & (STORE_STMT_CACHE - 1);
    while (st->cache[i].sql != NULL && st->cache[i].sql != sql)
        i = (i + 1) & (STORE_STMT_CACHE - 1);
    struct store_cached_stmt *c = &st->cache[i];
    if (c->sql == NULL) {
        int rc = sqlite3_prepare_v3(st->db, sql, -1, SQLITE_PREPARE_PERSISTENT, &c->stmt, NULL);
        if (rc != SQLITE_OK) {
            c->stmt = NULL;
            store_fail(st, rc, "prepare");
            return NULL;
        }
        c->sql = sql;
        return c->stmt;
    }
    sqlite3_reset(c->stmt);
    sqlite3_clear_bindings(c->stmt);
    return c->stmt;
}

/* Runs a statement that returns no rows. */
int store_step_done(struct store *st, sqlite3_stmt *s, const char *what)
{
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    if (rc != SQLITE_DONE)
        return store_fail(st, rc, what);
    return STORE_OK;
}

int store_exec(struct store *st, const char *sql, const char *what)
{
    int rc = sqlite3_exec(st->db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? STORE_OK : store_fail(st, rc, what);
}

/* ---- Opening and migrations ---------------------------------------------------------------- */

int store_schema_latest(void)
{
    int n = 0;
    while (store_migrations[n] != NULL)
        n++;
    return n;
}

int store_schema_version(struct store *st)
{
    sqlite3_stmt *s = NULL;
    int version = -1;
    if (sqlite3_prepare_v2(st->db, "PRAGMA user_version", -1, &s, NULL) == SQLITE_OK &&
        sqlite3_step(s) == SQLITE_ROW)
        version = sqlite3_column_int(s, 0);
    sqlite3_finalize(s);
    return version;
}

static int store_migrate(struct store *st)
{
    int current = store_schema_version(st);
    int latest = store_schema_latest();
    if (current < 0)
        return store_fail(st, SQLITE_ERROR, "read user_version");
    if (current > latest) {
        snprintf(st->errmsg, sizeof st->errmsg,
                 "database schema version %d is newer than this program's %d", current, latest);
        return STORE_ERROR;
    }
    for (int v = current; v < latest; v++) {
        char bump[64];
        snprintf(bump, sizeof bump, "PRAGMA user_version = %d", v + 1);
        int rc = store_exec(st, "BEGIN IMMEDIATE", "begin migration");
        if (rc == STORE_OK)
            rc = store_exec(st, store_migrations[v], "migration");
        if (rc == STORE_OK)
            rc = store_exec(st, bump, "migration version");
        if (rc == STORE_OK)
            rc = store_exec(st, "COMMIT", "commit migration");
        if (rc != STORE_OK) {
            sqlite3_exec(st->db, "ROLLBACK", NULL, NULL, NULL);
            return rc;
        }
    }
    return STORE_OK;
}

static int store_configure(struct store *st, const struct store_options *opt)
{
    /* Debian's build defaults WAL to synchronous=FULL; choose explicitly (see README). */
    const char *sync =
        opt->durability_full ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL";
    int rc = sqlite3_busy_timeout(st->db, opt->busy_timeout_ms > 0 ? opt->busy_timeout_ms : 5000);
    if (rc != SQLITE_OK)
        return store_fail(st, rc, "busy_timeout");
    if (opt->read_only)
        return store_exec(st, "PRAGMA query_only = 1", "query_only");
    rc = store_exec(st, "PRAGMA journal_mode = WAL", "journal_mode");
    if (rc == STORE_OK)
        rc = store_exec(st, sync, "synchronous");
    if (rc == STORE_OK)
        rc = store_exec(st, "PRAGMA foreign_keys = ON", "foreign_keys");
    if (rc == STORE_OK)
        rc = store_migrate(st);
    return rc;
}

int store_open(const struct store_options *opt, struct store **out, char *err, size_t errlen)
{
    struct store *st = calloc(1, sizeof *st);
    if (st == NULL) {
        snprintf(err, errlen, "out of memory");
        return STORE_ERROR;
    }
    int flags = opt->read_only ? SQLITE_OPEN_READONLY : SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE;
    int rc = sqlite3_open_v2(opt->path, &st->db, flags | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK)
        rc = store_fail(st, rc, opt->path);
    else
        rc = store_configure(st, opt);
    if (rc != STORE_OK) {
        snprintf(err, errlen, "%s", st->errmsg);
        store_close(st);
        return rc;
    }
    *out = st;
    return STORE_OK;
}

void store_close(struct store *st)
{
    if (st == NULL)
        return;
    for (size_t i = 0; i < STORE_STMT_CACHE; i++)
        sqlite3_finalize(st->cache[i].stmt);
    if (sqlite3_close(st->db) != SQLITE_OK)
        sqlite3_close_v2(st->db);
    free(st);
}

/* ---- Transactions -------------------------------------------------------------------------- */

static int store_run(struct store *st, const char *sql, const char *what)
{
    sqlite3_stmt *s = store_prepare(st, sql);
    return s ? store_step_done(st, s, what) : STORE_ERROR;
}

int store_begin(struct store *st)
{
    if (clock_gettime(CLOCK_MONOTONIC, &st->began) != 0)
        st->began.tv_sec = st->began.tv_nsec = 0;
    return store_run(st, "BEGIN IMMEDIATE", "begin");
}

int store_commit(struct store *st)
{
    struct timespec done;
    int rc = store_run(st, "COMMIT", "commit");
    if (rc != STORE_OK) {
        store_rollback(st);
        return rc;
    }
    if (clock_gettime(CLOCK_MONOTONIC, &done) == 0 && st->began.tv_sec != 0) {
        int64_t us = (int64_t)(done.tv_sec - st->began.tv_sec) * 1000000 +
                     (done.tv_nsec - st->began.tv_nsec) / 1000;
        latency_record(&st->txn_us, us > 0 ? (uint64_t)us : 0);
    }
    return rc;
}

void store_commit_latency(const struct store *st, uint64_t *p50_us, uint64_t *p99_us)
{
    *p50_us = latency_percentile(&st->txn_us, 0.50);
    *p99_us = latency_percentile(&st->txn_us, 0.99);
}

static const char SQL_METER_COUNT[] = "SELECT count(*) FROM meter_registry";

int store_meter_count(struct store *st, int64_t *count)
{
    sqlite3_stmt *s = store_prepare(st, SQL_METER_COUNT);
    if (s == NULL)
        return STORE_ERROR;
    int rc = sqlite3_step(s);
    *count = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
    sqlite3_reset(s);
    return rc == SQLITE_ROW ? STORE_OK : store_fail(st, rc, "count meters");
}

void store_rollback(struct store *st)
{
    if (!sqlite3_get_autocommit(st->db))
        store_run(st, "ROLLBACK", "rollback");
}

/* ---- Service counters ---------------------------------------------------------------------- */

static const char SQL_STAT_SET[] =
    "INSERT INTO service_stats (name, value, updated_at) VALUES (?1, ?2, ?3)"
    " ON CONFLICT (name) DO UPDATE SET value = excluded.value, updated_at = excluded.updated_at";

int store_service_stat_set(struct store *st, const char *name, double value, int64_t now)
{
    char stamp[ISOTIME_LEN];
    sqlite3_stmt *s = store_prepare(st, SQL_STAT_SET);
    if (s == NULL)
        return STORE_ERROR;
    if ((sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC) | sqlite3_bind_double(s, 2, value) |
         sqlite3_bind_text(s, 3, isotime_format(now, stamp), -1, SQLITE_TRANSIENT)) != SQLITE_OK)
        return store_fail(st, SQLITE_ERROR, "bind");
    return store_step_done(st, s, "save service stat");
}

/* ---- Shadow documents ---------------------------------------------------------------------- */

static const char SQL_SHADOW_LOAD[] =
    "SELECT document, version, deleted FROM shadow_documents WHERE serial = ?1";
static const char SQL_SHADOW_SAVE[] =
    "INSERT INTO shadow_documents (serial, document, version, deleted, updated_at)"
    " VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT (serial) DO UPDATE SET"
    " document = excluded.document, version = excluded.version,"
    " deleted = excluded.deleted, updated_at = excluded.updated_at";

int store_shadow_load(struct store *st, const char *serial, struct store_shadow *row)
{
    memset(row, 0, sizeof *row);
    sqlite3_stmt *s = store_prepare(st, SQL_SHADOW_LOAD);
    if (s == NULL)
        return STORE_ERROR;
    if (sqlite3_bind_text(s, 1, serial, -1, SQLITE_STATIC) != SQLITE_OK)
        return store_fail(st, SQLITE_ERROR, "bind");
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        const char *doc = (const char *)sqlite3_column_text(s, 0);
        row->document = strdup(doc ? doc : "{}");
        row->version = sqlite3_column_int64(s, 1);
        row->deleted = sqlite3_column_int(s, 2) != 0;
        row->found = true;
        rc = sqlite3_step(s);
        if (row->document == NULL) {
            sqlite3_reset(s);
            snprintf(st->errmsg, sizeof st->errmsg, "out of memory");
            return STORE_ERROR;
        }
    }
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? STORE_OK : store_fail(st, rc, "load shadow");
}

int store_shadow_save(struct store *st, const char *serial, const char *document, int64_t version,
                      bool deleted, int64_t now)
{
    char stamp[ISOTIME_LEN];
    sqlite3_stmt *s = store_prepare(st, SQL_SHADOW_SAVE);
    if (s == NULL)
        return STORE_ERROR;
    /* Bind codes are OR'ed: SQLITE_OK is 0, so any failure leaves a non-zero result. */
    int rc = sqlite3_bind_text(s, 1, serial, -1, SQLITE_STATIC) |
             sqlite3_bind_text(s, 2, document, -1, SQLITE_STATIC) |
             sqlite3_bind_int64(s, 3, version) | sqlite3_bind_int(s, 4, deleted ? 1 : 0) |
             sqlite3_bind_text(s, 5, isotime_format(now, stamp), -1, SQLITE_TRANSIENT);
    if (rc != SQLITE_OK)
        return store_fail(st, SQLITE_ERROR, "bind");
    return store_step_done(st, s, "save shadow");
}

void store_shadow_free(struct store_shadow *row)
{
    free(row->document);
    memset(row, 0, sizeof *row);
}
