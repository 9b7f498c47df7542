/* store.h — the only door to persistent state (SPEC §10). Every SQL statement, transaction and
 * dialect detail lives behind it, so another backend can replace SQLite without touching the
 * document, interval or tariff logic.
 *
 * One store is used by one thread at a time. Calls return STORE_OK (0) or a negative
 * store_status; store_errmsg says why. Strings handed out are malloc'd and owned by the caller. */
#ifndef STORE_H
#define STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum store_status {
    STORE_OK = 0,
    STORE_ERROR = -1, /* anything else: I/O error, corrupt file, constraint, out of memory */
    STORE_BUSY = -2,  /* locked by another connection beyond the busy timeout */
    STORE_FULL = -3,  /* disk or quota full: nothing was written */
};

struct store_options {
    const char *path;
    bool durability_full; /* synchronous=FULL (survives power loss) instead of NORMAL */
    bool read_only;       /* shadowctl readers: no migrations, no writes */
    int busy_timeout_ms;
};

struct store;

/* Opens (creating if needed) the database, sets WAL and the pragmas, and applies pending
 * migrations. Returns STORE_OK and *out, or an error with a message in err. */
int store_open(const struct store_options *opt, struct store **out, char *err, size_t errlen);
void store_close(struct store *st);
/* The last error's text; valid until the next call on st. */
const char *store_errmsg(const struct store *st);
/* True when a call since the last store_failure_reset failed because the database cannot take
 * writes for now (disk full, locked beyond the busy timeout, an I/O or permission error, no
 * memory) rather than because of the work itself: the same work should be retried, not refused. */
bool store_unavailable(const struct store *st);
void store_failure_reset(struct store *st);
/* The schema version the file is at (PRAGMA user_version) and the one this build carries. */
int store_schema_version(struct store *st);
int store_schema_latest(void);

/* Write transactions (BEGIN IMMEDIATE … COMMIT). Rollback is safe without an open transaction. */
int store_begin(struct store *st);
int store_commit(struct store *st);
void store_rollback(struct store *st);
/* Percentiles of committed write transactions, BEGIN to finished COMMIT, in microseconds. */
void store_commit_latency(const struct store *st, uint64_t *p50_us, uint64_t *p99_us);
/* Upserts one counter of shadowd/stats (table service_stats), for shadowctl stats. Inside a
 * transaction when several are saved together. */
int store_service_stat_set(struct store *st, const char *name, double value, int64_t now);
/* Registered meters. */
int store_meter_count(struct store *st, int64_t *count);

/* ---- Shadow documents ---------------------------------------------------------------------- */

struct store_shadow {
    char *document; /* stored JSON, malloc'd; NULL when not found */
    int64_t version;
    bool deleted;
    bool found;
};

/* Loads the row of serial into *row (found false when there is none). */
int store_shadow_load(struct store *st, const char *serial, struct store_shadow *row);
/* Inserts or replaces the row of serial. */
int store_shadow_save(struct store *st, const char *serial, const char *document, int64_t version,
                      bool deleted, int64_t now);
void store_shadow_free(struct store_shadow *row);

/* The rest of the interface, one header per concern. */
#include "store_history.h"
#include "store_intervals.h"
#include "store_registry.h"
#include "store_commands.h"

#endif
