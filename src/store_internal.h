/* store_internal.h — what the store's source files share, and nothing outside the store sees.
 *
 * The store interface (include/store.h) is implemented by several files, one per concern
 * (documents, registry, history, intervals); they all reach SQLite through these helpers so that
 * statement caching and error mapping exist once. */
#ifndef STORE_INTERNAL_H
#define STORE_INTERNAL_H

#include <sqlite3.h>
#include <time.h>

#include "latency.h"

#include "store.h"

#define STORE_STMT_CACHE 256 /* a power of two, larger than the number of distinct statements */

struct store_cached_stmt {
    const char *sql; /* the literal's address is the key */
    sqlite3_stmt *stmt;
};

struct store {
    sqlite3 *db;
    struct store_cached_stmt cache[STORE_STMT_CACHE];
    char errmsg[256];
    bool unavailable;           /* see store_unavailable */
    struct timespec began;      /* when the open write transaction began */
    struct latency_hist txn_us; /* BEGIN to finished COMMIT, microseconds */
};

/* Records the SQLite error rc (with what was being done) and maps it to a store_status. */
int store_fail(struct store *st, int rc, const char *what);

/* The prepared statement for sql, reset and with its bindings cleared, prepared on first use and
 * reused after. sql must be a string with static storage (a literal): its address is the cache
 * key. Returns NULL with the error recorded. */
sqlite3_stmt *store_prepare(struct store *st, const char *sql);

/* Runs a statement that returns no rows and resets it. */
int store_step_done(struct store *st, sqlite3_stmt *s, const char *what);

/* Runs SQL text without results (pragmas, DDL). */
int store_exec(struct store *st, const char *sql, const char *what);

#endif
