/* store_aggregates.c — circuit half-hours, local days and local months, kept current per read.
 *
 * The idea: recompute, never accumulate. When register periods change, each circuit bucket that
 * holds one of them is recomputed from its parts with indexed queries — the registers mapped to
 * the circuit for that half-hour, the half-hours of the local day (at most 50), the days of the
 * local month (at most 31) — in that order, each bucket once however many of its parts changed.
 * The cost is bounded by the size of one day and one month, never by the history, and a bucket
 * can never drift from its parts. The rules (sums, counts, completeness, revision) are
 * aggregates.c's; this file only fetches parts and writes results. The same recomputation over a
 * range of one circuit (store_circuit_refresh) catches the buckets up after a mapping changes.
 *
 * Mapping bounds are ISO-8601 text in circuit_register; they are compared as instants with
 * SQLite's unixepoch(), so `…Z` and `…+01:00` forms both work (a bound SQLite cannot parse never
 * matches). All three bucket kinds are read into one column layout (import, export, registers,
 * estimated, hh_count, days_in_month, complete, revision), unused columns as 0, so one decoder
 * and one binder serve them all. */
#include "store_intervals.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store_internal.h"

static int fail_msg(struct store *st, const char *what)
{
    snprintf(st->errmsg, sizeof st->errmsg, "%s", what);
    return STORE_ERROR;
}

/* ---- Statements ---------------------------------------------------------------------------- */

/* A circuit_register row counts at period ?2: start_time ≤ period < end_time (open when NULL). */
#define MAPPED_AT_P2                                                                               \
    "unixepoch(start_time) <= ?2 AND (end_time IS NULL OR unixepoch(end_time) > ?2)"

static const char SQL_CIRCUITS_OF_REGISTER[] =
    "SELECT DISTINCT circuit FROM circuit_register WHERE register = ?1 AND " MAPPED_AT_P2;

/* One row per register mapped to circuit ?1 at period ?2, with its value in each flow: each join
 * is a whole-primary-key lookup, so the flow is named rather than left free. */
static const char SQL_HH_PARTS[] =
    "SELECT i.mwh, i.quality, i.complete, e.mwh, e.quality, e.complete"
    " FROM (SELECT DISTINCT register FROM circuit_register"
    " WHERE circuit = ?1 AND " MAPPED_AT_P2 ") AS m"
    " LEFT JOIN register_periods AS i"
    " ON i.register_id = m.register AND i.flow = 'import' AND i.start = ?2"
    " LEFT JOIN register_periods AS e"
    " ON e.register_id = m.register AND e.flow = 'export' AND e.start = ?2";

#define HH_COLUMNS "import_mwh, export_mwh, registers, estimated, 0, 0, complete, revision"
#define DAY_COLUMNS "import_mwh, export_mwh, 0, 0, hh_count, 0, complete, revision"

static const char SQL_DAY_PARTS[] = "SELECT " HH_COLUMNS " FROM circuit_hh"
                                    " WHERE circuit_id = ?1 AND start >= ?2 AND start < ?3";
static const char SQL_MONTH_PARTS[] = "SELECT " DAY_COLUMNS " FROM circuit_daily"
                                      " WHERE circuit_id = ?1 AND day BETWEEN ?2 AND ?3";

static const char SQL_HH_LOAD[] =
    "SELECT " HH_COLUMNS " FROM circuit_hh WHERE circuit_id = ?1 AND start = ?2";
/* The same with what the half-hour was folded from (columns 8 and 9; NULL when unknown). */
static const char SQL_HH_STATE[] = "SELECT " HH_COLUMNS ", mapped_registers, complete_registers"
                                   " FROM circuit_hh WHERE circuit_id = ?1 AND start = ?2";
/* One flow of one register period. */
static const char SQL_PERIOD_FLOW[] = "SELECT mwh, quality, complete FROM register_periods"
                                      " WHERE register_id = ?1 AND flow = ?2 AND start = ?3";
static const char SQL_DAY_LOAD[] =
    "SELECT " DAY_COLUMNS " FROM circuit_daily WHERE circuit_id = ?1 AND day = ?2";
static const char SQL_MONTH_LOAD[] =
    "SELECT import_mwh, export_mwh, 0, 0,"
    " (SELECT coalesce(sum(hh_count), 0) FROM circuit_daily AS d WHERE d.circuit_id = ?1"
    " AND d.day BETWEEN ?2 || '-01' AND ?2 || '-31'),"
    " days_in_month, complete, revision FROM circuit_monthly WHERE circuit_id = ?1 AND month = ?2";

/* Parameters: ?1 circuit, ?2 start or label, then ?3 … ?10 in the column layout's order; each
 * statement uses the ones its table has. A half-hour also keeps ?11 mapped and ?12 complete
 * registers. */
static const char SQL_HH_SAVE[] =
    "INSERT INTO circuit_hh (circuit_id, start, import_mwh, export_mwh, registers, estimated,"
    " complete, revision, mapped_registers, complete_registers)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?9, ?10, ?11, ?12)"
    " ON CONFLICT (circuit_id, start) DO UPDATE SET import_mwh = excluded.import_mwh,"
    " export_mwh = excluded.export_mwh, registers = excluded.registers,"
    " estimated = excluded.estimated, complete = excluded.complete, revision = excluded.revision,"
    " mapped_registers = excluded.mapped_registers,"
    " complete_registers = excluded.complete_registers";
static const char SQL_DAY_SAVE[] =
    "INSERT INTO circuit_daily (circuit_id, day, import_mwh, export_mwh, hh_count, complete,"
    " revision) VALUES (?1, ?2, ?3, ?4, ?7, ?9, ?10)"
    " ON CONFLICT (circuit_id, day) DO UPDATE SET import_mwh = excluded.import_mwh,"
    " export_mwh = excluded.export_mwh, hh_count = excluded.hh_count,"
    " complete = excluded.complete, revision = excluded.revision";
static const char SQL_MONTH_SAVE[] =
    "INSERT INTO circuit_monthly (circuit_id, month, import_mwh, export_mwh, days_in_month,"
    " complete, revision) VALUES (?1, ?2, ?3, ?4, ?8, ?9, ?10)"
    " ON CONFLICT (circuit_id, month) DO UPDATE SET import_mwh = excluded.import_mwh,"
    " export_mwh = excluded.export_mwh, days_in_month = excluded.days_in_month,"
    " complete = excluded.complete, revision = excluded.revision";

static const char *const SQL_LOAD[] = {[AGGREGATE_HH] = SQL_HH_LOAD,
                                       [AGGREGATE_DAY] = SQL_DAY_LOAD,
                                       [AGGREGATE_MONTH] = SQL_MONTH_LOAD};
static const char *const SQL_SAVE[] = {[AGGREGATE_HH] = SQL_HH_SAVE,
                                       [AGGREGATE_DAY] = SQL_DAY_SAVE,
                                       [AGGREGATE_MONTH] = SQL_MONTH_SAVE};

/* ---- Buckets ------------------------------------------------------------------------------- */

static void bucket_from_row(sqlite3_stmt *s, struct aggregate_bucket *b)
{
    b->import_mwh = sqlite3_column_int64(s, 0);
    b->export_mwh = sqlite3_column_int64(s, 1);
    b->registers = sqlite3_column_int(s, 2);
    b->estimated = sqlite3_column_int(s, 3);
    b->hh_count = sqlite3_column_int(s, 4);
    b->days_in_month = sqlite3_column_int(s, 5);
    b->complete = sqlite3_column_int(s, 6) != 0;
    b->revision = sqlite3_column_int64(s, 7);
}

/* Binds ?1 circuit and ?2 the period start (HH) or the day or month label. */
static int bind_key(struct store *st, sqlite3_stmt *s, const struct aggregate_key *key)
{
    int rc = sqlite3_bind_text(s, 1, key->circuit_id, -1, SQLITE_STATIC);
    if (key->kind == AGGREGATE_HH)
        rc |= sqlite3_bind_int64(s, 2, key->start);
    else
        rc |= sqlite3_bind_text(s, 2, key->label, -1, SQLITE_STATIC);
    return rc == SQLITE_OK ? STORE_OK : store_fail(st, SQLITE_ERROR, "bind circuit bucket");
}

static bool kind_valid(enum aggregate_kind kind)
{
    return kind == AGGREGATE_HH || kind == AGGREGATE_DAY || kind == AGGREGATE_MONTH;
}

int store_circuit_bucket_load(struct store *st, const struct aggregate_key *key,
                              struct aggregate_bucket *out, bool *found)
{
    memset(out, 0, sizeof *out);
    *found = false;
    if (!kind_valid(key->kind))
        return fail_msg(st, "circuit bucket: unknown kind");
    sqlite3_stmt *s = store_prepare(st, SQL_LOAD[key->kind]);
    if (s == NULL)
        return STORE_ERROR;
    int rc = bind_key(st, s, key);
    if (rc != STORE_OK)
        return rc;
    int step = sqlite3_step(s);
    if (step == SQLITE_ROW) {
        bucket_from_row(s, out);
        *found = true;
    } else if (step != SQLITE_DONE) {
        rc = store_fail(st, step, "load circuit bucket");
    }
    sqlite3_reset(s);
    return rc;
}

static int bucket_save(struct store *st, const struct aggregate_key *key,
                       const struct aggregate_sum *sum)
{
    const struct aggregate_bucket *b = &sum->bucket;
    sqlite3_stmt *s = store_prepare(st, SQL_SAVE[key->kind]);
    if (s == NULL)
        return STORE_ERROR;
    int rc = bind_key(st, s, key);
    if (rc != STORE_OK)
        return rc;
    rc = sqlite3_bind_int64(s, 3, b->import_mwh) | sqlite3_bind_int64(s, 4, b->export_mwh) |
         sqlite3_bind_int(s, 5, b->registers) | sqlite3_bind_int(s, 6, b->estimated) |
         sqlite3_bind_int(s, 7, b->hh_count) | sqlite3_bind_int(s, 8, b->days_in_month) |
         sqlite3_bind_int(s, 9, b->complete ? 1 : 0) | sqlite3_bind_int64(s, 10, b->revision);
    if (key->kind == AGGREGATE_HH)
        rc |= sqlite3_bind_int(s, 11, sum->parts) | sqlite3_bind_int(s, 12, sum->complete_parts);
    if (rc != SQLITE_OK)
        return store_fail(st, SQLITE_ERROR, "bind circuit bucket");
    return store_step_done(st, s, "save circuit bucket");
}

/* When bucket_revise writes a recomputed bucket. */
struct revise_rule {
    bool create;  /* write it when none is held yet */
    bool changed; /* some part of it changed: write it even when its values come out the same */
};

/* A bucket recomputed because one of its parts was rewritten. */
static const struct revise_rule PART_CHANGED = {true, true};

/* Writes a recomputed bucket at the next revision, per rule, and records it in changes; *written
 * says whether it was. */
static int bucket_revise(struct store *st, const struct aggregate_key *key,
                         struct aggregate_sum *fresh, struct revise_rule rule,
                         struct aggregate_key_set *changes, bool *written)
{
    struct aggregate_bucket held;
    bool found;
    *written = false;
    int rc = store_circuit_bucket_load(st, key, &held, &found);
    if (rc != STORE_OK)
        return rc;
    if (found ? !rule.changed && aggregate_bucket_same(&held, &fresh->bucket) : !rule.create)
        return STORE_OK;
    fresh->bucket.revision = aggregate_next_revision(found ? held.revision : 0);
    rc = bucket_save(st, key, fresh);
    *written = rc == STORE_OK;
    if (rc == STORE_OK && changes != NULL && aggregate_key_set_add(changes, key) < 0)
        rc = fail_msg(st, "circuit buckets: out of memory");
    return rc;
}

/* Steps a parts query to its end, folding each row with add. */
static int parts_fold(struct store *st, sqlite3_stmt *s, struct aggregate_sum *sum,
                      void (*add)(struct aggregate_sum *, const struct aggregate_bucket *))
{
    int step;
    while ((step = sqlite3_step(s)) == SQLITE_ROW) {
        struct aggregate_bucket part;
        bucket_from_row(s, &part);
        add(sum, &part);
    }
    sqlite3_reset(s);
    return step == SQLITE_DONE ? STORE_OK : store_fail(st, step, "fold circuit bucket");
}

/* ---- Half-hours ---------------------------------------------------------------------------- */

/* A flow's value from three columns (mwh, quality, complete) of a LEFT JOIN: absent when NULL. */
static int flow_from_row(struct store *st, sqlite3_stmt *s, int col, struct aggregate_flow_value *v)
{
    memset(v, 0, sizeof *v);
    if (sqlite3_column_type(s, col) == SQLITE_NULL)
        return STORE_OK;
    v->present = true;
    v->mwh = sqlite3_column_int64(s, col);
    v->complete = sqlite3_column_int(s, col + 2) != 0;
    if (interval_quality_parse((const char *)sqlite3_column_text(s, col + 1), &v->quality) != 0)
        return fail_msg(st, "register_periods: unknown quality");
    return STORE_OK;
}

static int hh_sum(struct store *st, const struct aggregate_key *key, struct aggregate_sum *sum)
{
    sqlite3_stmt *s = store_prepare(st, SQL_HH_PARTS);
    if (s == NULL)
        return STORE_ERROR;
    int rc = bind_key(st, s, key), step = SQLITE_DONE;
    aggregate_sum_init(sum);
    while (rc == STORE_OK && (step = sqlite3_step(s)) == SQLITE_ROW) {
        struct aggregate_register_value v;
        rc = flow_from_row(st, s, 0, &v.flow[0]);
        if (rc == STORE_OK)
            rc = flow_from_row(st, s, 3, &v.flow[1]);
        if (rc == STORE_OK)
            aggregate_hh_add(sum, &v);
    }
    if (rc == STORE_OK && step != SQLITE_DONE)
        rc = store_fail(st, step, "circuit half-hour parts");
    sqlite3_reset(s);
    aggregate_hh_finish(sum);
    return rc;
}

/* The keys of a circuit half-hour and of the local day holding it. */
static int hh_keys(struct store *st, const char *circuit_id, int64_t start, const struct tzone *tz,
                   struct aggregate_key *key, struct aggregate_key *day_key)
{
    struct aggregate_span day;
    if (aggregate_key_make(AGGREGATE_HH, circuit_id, start, NULL, key) != 0 ||
        aggregate_day_of(tz, start, &day) != 0 ||
        aggregate_key_make(AGGREGATE_DAY, circuit_id, 0, &day, day_key) != 0)
        return fail_msg(st, "circuit half-hour: circuit id too long or date out of range");
    return STORE_OK;
}

/* Recomputes one circuit half-hour from all its registers and notes its day in days when it was
 * rewritten. A half-hour is created only once a register holds a value for it; a held one is
 * rewritten when a part changed (part_changed) or its values differ, so a narrowed mapping can
 * empty it. */
static int hh_refresh(struct store *st, const char *circuit_id, int64_t start, bool part_changed,
                      const struct tzone *tz, struct aggregate_key_set *changes,
                      struct aggregate_key_set *days)
{
    struct aggregate_key key, day_key;
    struct aggregate_sum sum;
    bool written = false;
    int rc = hh_keys(st, circuit_id, start, tz, &key, &day_key);
    if (rc == STORE_OK)
        rc = hh_sum(st, &key, &sum);
    if (rc == STORE_OK)
        rc = bucket_revise(st, &key, &sum,
                           (struct revise_rule){sum.bucket.registers > 0, part_changed}, changes,
                           &written);
    if (rc == STORE_OK && written && aggregate_key_set_add(days, &day_key) < 0)
        rc = fail_msg(st, "circuit buckets: out of memory");
    return rc;
}

/* A held half-hour with what it was folded from; *usable is false when there is none or its parts
 * are unknown. */
static int hh_state_load(struct store *st, const struct aggregate_key *key,
                         struct aggregate_sum *sum, bool *usable)
{
    aggregate_sum_init(sum);
    *usable = false;
    sqlite3_stmt *s = store_prepare(st, SQL_HH_STATE);
    if (s == NULL)
        return STORE_ERROR;
    int rc = bind_key(st, s, key);
    int step = rc == STORE_OK ? sqlite3_step(s) : SQLITE_DONE;
    if (step == SQLITE_ROW) {
        bucket_from_row(s, &sum->bucket);
        sum->parts = sqlite3_column_int(s, 8);
        sum->complete_parts = sqlite3_column_int(s, 9);
        *usable =
            sqlite3_column_type(s, 8) != SQLITE_NULL && sqlite3_column_type(s, 9) != SQLITE_NULL;
    } else if (step != SQLITE_DONE) {
        rc = store_fail(st, step, "load circuit half-hour");
    }
    sqlite3_reset(s);
    return rc;
}

/* The value register_id holds now for the other flow than change's, in the same period. */
static int other_flow_load(struct store *st, const char *register_id,
                           const struct store_period_change *change, struct aggregate_flow_value *v)
{
    memset(v, 0, sizeof *v);
    sqlite3_stmt *s = store_prepare(st, SQL_PERIOD_FLOW);
    if (s == NULL)
        return STORE_ERROR;
    const char *other = change->flow == STORE_FLOW_IMPORT ? "export" : "import";
    if ((sqlite3_bind_text(s, 1, register_id, -1, SQLITE_STATIC) |
         sqlite3_bind_text(s, 2, other, -1, SQLITE_STATIC) |
         sqlite3_bind_int64(s, 3, change->start)) != SQLITE_OK)
        return store_fail(st, SQLITE_ERROR, "bind register period");
    int rc = STORE_OK, step = sqlite3_step(s);
    if (step == SQLITE_ROW)
        rc = flow_from_row(st, s, 0, v);
    else if (step != SQLITE_DONE)
        rc = store_fail(st, step, "load register period");
    sqlite3_reset(s);
    return rc;
}

/* Moves circuit_id's half-hour at change->start by what register_id's change adds or takes away,
 * instead of folding every register of the circuit again: the cost of one register, whatever the
 * circuit's size. A half-hour that is new, whose parts are unknown, or that the change cannot be a
 * difference of (a mapping changed since it was folded) is folded again. */
static int hh_apply(struct store *st, const char *circuit_id, const char *register_id,
                    const struct store_period_change *change, const struct tzone *tz,
                    struct aggregate_key_set *changes, struct aggregate_key_set *days)
{
    struct aggregate_key key, day_key;
    struct aggregate_sum sum;
    struct aggregate_register_value before, after;
    bool usable = false, written = false;
    memset(&before, 0, sizeof before);
    int f = change->flow == STORE_FLOW_IMPORT ? 0 : 1;
    int rc = hh_keys(st, circuit_id, change->start, tz, &key, &day_key);
    if (rc == STORE_OK)
        rc = hh_state_load(st, &key, &sum, &usable);
    if (rc == STORE_OK && usable)
        rc = other_flow_load(st, register_id, change, &before.flow[1 - f]);
    if (rc != STORE_OK)
        return rc;
    after.flow[1 - f] = before.flow[1 - f];
    before.flow[f] = change->before;
    after.flow[f] = change->after;
    if (!usable || !aggregate_hh_replace(&sum, &before, &after))
        return hh_refresh(st, circuit_id, change->start, true, tz, changes, days);
    rc = bucket_revise(st, &key, &sum, PART_CHANGED, changes, &written);
    if (rc == STORE_OK && aggregate_key_set_add(days, &day_key) < 0)
        rc = fail_msg(st, "circuit buckets: out of memory");
    return rc;
}

/* ---- Days and months ----------------------------------------------------------------------- */

static int day_refresh(struct store *st, const struct aggregate_key *key, const struct tzone *tz,
                       struct aggregate_key_set *changes, struct aggregate_key_set *months)
{
    struct aggregate_span day, month;
    struct aggregate_key month_key;
    if (aggregate_day_of(tz, key->start, &day) != 0 ||
        aggregate_month_of(tz, key->start, &month) != 0 ||
        aggregate_key_make(AGGREGATE_MONTH, key->circuit_id, 0, &month, &month_key) != 0)
        return fail_msg(st, "circuit day: date out of range");
    sqlite3_stmt *s = store_prepare(st, SQL_DAY_PARTS);
    if (s == NULL)
        return STORE_ERROR;
    if ((sqlite3_bind_text(s, 1, key->circuit_id, -1, SQLITE_STATIC) |
         sqlite3_bind_int64(s, 2, day.start) | sqlite3_bind_int64(s, 3, day.end)) != SQLITE_OK)
        return store_fail(st, SQLITE_ERROR, "bind circuit day");
    struct aggregate_sum sum;
    aggregate_sum_init(&sum);
    int rc = parts_fold(st, s, &sum, aggregate_day_add);
    aggregate_day_finish(&sum, day.parts);
    bool written;
    if (rc == STORE_OK)
        rc = bucket_revise(st, key, &sum, PART_CHANGED, changes, &written);
    if (rc == STORE_OK && aggregate_key_set_add(months, &month_key) < 0)
        rc = fail_msg(st, "circuit buckets: out of memory");
    return rc;
}

static int month_refresh(struct store *st, const struct aggregate_key *key, const struct tzone *tz,
                         struct aggregate_key_set *changes)
{
    struct aggregate_span month;
    char first[AGGREGATE_LABEL_LEN + 3], last[AGGREGATE_LABEL_LEN + 3];
    if (aggregate_month_of(tz, key->start, &month) != 0)
        return fail_msg(st, "circuit month: date out of range");
    snprintf(first, sizeof first, "%s-01", month.label);
    snprintf(last, sizeof last, "%s-31", month.label);
    sqlite3_stmt *s = store_prepare(st, SQL_MONTH_PARTS);
    if (s == NULL)
        return STORE_ERROR;
    if ((sqlite3_bind_text(s, 1, key->circuit_id, -1, SQLITE_STATIC) |
         sqlite3_bind_text(s, 2, first, -1, SQLITE_TRANSIENT) |
         sqlite3_bind_text(s, 3, last, -1, SQLITE_TRANSIENT)) != SQLITE_OK)
        return store_fail(st, SQLITE_ERROR, "bind circuit month");
    struct aggregate_sum sum;
    aggregate_sum_init(&sum);
    int rc = parts_fold(st, s, &sum, aggregate_month_add);
    aggregate_month_finish(&sum, month.parts);
    bool written;
    return rc == STORE_OK ? bucket_revise(st, key, &sum, PART_CHANGED, changes, &written) : rc;
}

/* ---- Circuits of a register ---------------------------------------------------------------- */

struct circuit_list {
    char (*ids)[AGGREGATE_ID_LEN]; /* owned */
    size_t count, cap;
};

static int circuit_list_add(struct store *st, struct circuit_list *list, const char *id)
{
    if (id == NULL || strlen(id) >= AGGREGATE_ID_LEN)
        return fail_msg(st, "circuit_register: circuit id missing or too long");
    if (list->count == list->cap) {
        size_t cap = list->cap ? list->cap * 2 : 8;
        char(*grown)[AGGREGATE_ID_LEN] = realloc(list->ids, cap * sizeof *grown);
        if (grown == NULL)
            return fail_msg(st, "circuit buckets: out of memory");
        list->ids = grown;
        list->cap = cap;
    }
    strcpy(list->ids[list->count++], id);
    return STORE_OK;
}

/* The circuits register_id counts toward at period start, into list (emptied first). Collected
 * before any bucket is written, so no cursor stays open across the writes. */
static int circuits_at(struct store *st, const char *register_id, int64_t start,
                       struct circuit_list *list)
{
    list->count = 0;
    sqlite3_stmt *s = store_prepare(st, SQL_CIRCUITS_OF_REGISTER);
    if (s == NULL)
        return STORE_ERROR;
    if ((sqlite3_bind_text(s, 1, register_id, -1, SQLITE_STATIC) |
         sqlite3_bind_int64(s, 2, start)) != SQLITE_OK)
        return store_fail(st, SQLITE_ERROR, "bind circuit mapping");
    int rc = STORE_OK, step = SQLITE_DONE;
    while (rc == STORE_OK && (step = sqlite3_step(s)) == SQLITE_ROW)
        rc = circuit_list_add(st, list, (const char *)sqlite3_column_text(s, 0));
    if (rc == STORE_OK && step != SQLITE_DONE)
        rc = store_fail(st, step, "circuit mapping");
    sqlite3_reset(s);
    return rc;
}

/* Every circuit half-hour over the changed periods, collecting the days they fall in. */
static int periods_refresh(struct store *st, const char *register_id,
                           const struct store_period_change *changed, size_t n,
                           const struct tzone *tz, struct aggregate_key_set *changes,
                           struct aggregate_key_set *days)
{
    struct circuit_list circuits = {NULL, 0, 0};
    int rc = STORE_OK;
    for (size_t i = 0; rc == STORE_OK && i < n; i++) {
        rc = circuits_at(st, register_id, changed[i].start, &circuits);
        for (size_t c = 0; rc == STORE_OK && c < circuits.count; c++)
            rc = hh_apply(st, circuits.ids[c], register_id, &changed[i], tz, changes, days);
    }
    free(circuits.ids);
    return rc;
}

/* The days collected while half-hours were rewritten, then the months of those days. */
static int days_refresh(struct store *st, const struct aggregate_key_set *days,
                        const struct tzone *tz, struct aggregate_key_set *changes)
{
    struct aggregate_key_set months;
    aggregate_key_set_init(&months);
    int rc = STORE_OK;
    for (size_t i = 0; rc == STORE_OK && i < days->count; i++)
        rc = day_refresh(st, &days->keys[i], tz, changes, &months);
    for (size_t i = 0; rc == STORE_OK && i < months.count; i++)
        rc = month_refresh(st, &months.keys[i], tz, changes);
    aggregate_key_set_free(&months);
    return rc;
}

int store_circuit_periods_changed(struct store *st, const char *register_id,
                                  const struct store_period_change *changed, size_t n,
                                  const struct tzone *tz, struct aggregate_key_set *changes)
{
    struct aggregate_key_set days;
    aggregate_key_set_init(&days);
    int rc = periods_refresh(st, register_id, changed, n, tz, changes, &days);
    if (rc == STORE_OK)
        rc = days_refresh(st, &days, tz, changes);
    aggregate_key_set_free(&days);
    return rc;
}

/* ---- A whole circuit over a range ---------------------------------------------------------- */

/* Every half-hour of circuit ?1 in [?2, ?3) that is held or that a register now mapped to it at
 * any time holds a value for; each part is a primary-key range. */
static const char SQL_CIRCUIT_PERIODS[] =
    "SELECT start FROM circuit_hh WHERE circuit_id = ?1 AND start >= ?2 AND start < ?3"
    " UNION SELECT p.start FROM (SELECT DISTINCT register FROM circuit_register"
    " WHERE circuit = ?1) AS m JOIN register_periods AS p ON p.register_id = m.register"
    " AND p.flow IN ('import', 'export') AND p.start >= ?2 AND p.start < ?3 ORDER BY 1";

struct start_list {
    int64_t *starts; /* owned */
    size_t count, cap;
};

static int start_list_add(struct store *st, struct start_list *list, int64_t start)
{
    if (list->count == list->cap) {
        size_t cap = list->cap ? list->cap * 2 : 64;
        int64_t *grown = realloc(list->starts, cap * sizeof *grown);
        if (grown == NULL)
            return fail_msg(st, "circuit buckets: out of memory");
        list->starts = grown;
        list->cap = cap;
    }
    list->starts[list->count++] = start;
    return STORE_OK;
}

/* Collected before any bucket is written, so no cursor stays open across the writes. */
static int circuit_periods(struct store *st, const char *circuit_id, int64_t from, int64_t to,
                           struct start_list *list)
{
    sqlite3_stmt *s = store_prepare(st, SQL_CIRCUIT_PERIODS);
    if (s == NULL)
        return STORE_ERROR;
    if ((sqlite3_bind_text(s, 1, circuit_id, -1, SQLITE_STATIC) | sqlite3_bind_int64(s, 2, from) |
         sqlite3_bind_int64(s, 3, to)) != SQLITE_OK)
        return store_fail(st, SQLITE_ERROR, "bind circuit periods");
    int rc = STORE_OK, step = SQLITE_DONE;
    while (rc == STORE_OK && (step = sqlite3_step(s)) == SQLITE_ROW)
        rc = start_list_add(st, list, sqlite3_column_int64(s, 0));
    if (rc == STORE_OK && step != SQLITE_DONE)
        rc = store_fail(st, step, "circuit periods");
    sqlite3_reset(s);
    return rc;
}

int store_circuit_refresh(struct store *st, const char *circuit_id, int64_t from, int64_t to,
                          const struct tzone *tz, struct aggregate_key_set *changes)
{
    struct start_list list = {NULL, 0, 0};
    struct aggregate_key_set days;
    aggregate_key_set_init(&days);
    int rc = circuit_periods(st, circuit_id, from, to, &list);
    for (size_t i = 0; rc == STORE_OK && i < list.count; i++)
        rc = hh_refresh(st, circuit_id, list.starts[i], false, tz, changes, &days);
    if (rc == STORE_OK)
        rc = days_refresh(st, &days, tz, changes);
    aggregate_key_set_free(&days);
    free(list.starts);
    return rc;
}
