/* store_aggregates.c — circuit half-hours, local days and local months, kept current per read.
 *
 * The idea: move each bucket by the difference of the part that changed, with the counts that
 * make that exact. A changed register period replaces that register's value in its circuit
 * half-hour (which keeps how many registers were mapped and complete when it was folded); the
 * half-hour's change moves its local day (which keeps its complete half-hours), once per day
 * however many of its half-hours the read changed; the day's change moves its month. So a read
 * costs the same whatever the circuit's size and the history. Whenever a difference cannot be
 * applied — a bucket not held yet, counts unknown (rows from before migrations 007/008, or a
 * circuit whose mapping changed since), or a result that cannot be a sum of its parts — the
 * bucket is folded again from its parts with indexed queries: the registers mapped to the circuit
 * for that half-hour, the half-hours of the day (at most 50), the days of the month (at most 31).
 * The rules (sums, counts, completeness, revision) are aggregates.c's; this file only fetches
 * parts and writes results. Folding a range of one circuit again (store_circuit_refresh) catches
 * the buckets up after a mapping changes; tests fold every bucket again and find nothing to
 * rewrite.
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
/* A bucket with what it was computed from: column 8 the mapped registers (half-hours), column 9
 * the complete parts; NULL when unknown. A month's hh_count is not needed here. */
static const char SQL_HH_STATE[] = "SELECT " HH_COLUMNS ", mapped_registers, complete_registers"
                                   " FROM circuit_hh WHERE circuit_id = ?1 AND start = ?2";
static const char SQL_DAY_STATE[] = "SELECT " DAY_COLUMNS ", 0, complete_hh"
                                    " FROM circuit_daily WHERE circuit_id = ?1 AND day = ?2";
static const char SQL_MONTH_STATE[] =
    "SELECT import_mwh, export_mwh, 0, 0, 0, days_in_month, complete, revision, 0, complete_days"
    " FROM circuit_monthly WHERE circuit_id = ?1 AND month = ?2";
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
 * statement uses the ones its table has. ?11 is the mapped registers (half-hours only) and ?12
 * the complete parts (registers, half-hours or days). */
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
    " revision, complete_hh) VALUES (?1, ?2, ?3, ?4, ?7, ?9, ?10, ?12)"
    " ON CONFLICT (circuit_id, day) DO UPDATE SET import_mwh = excluded.import_mwh,"
    " export_mwh = excluded.export_mwh, hh_count = excluded.hh_count,"
    " complete = excluded.complete, revision = excluded.revision,"
    " complete_hh = excluded.complete_hh";
static const char SQL_MONTH_SAVE[] =
    "INSERT INTO circuit_monthly (circuit_id, month, import_mwh, export_mwh, days_in_month,"
    " complete, revision, complete_days) VALUES (?1, ?2, ?3, ?4, ?8, ?9, ?10, ?12)"
    " ON CONFLICT (circuit_id, month) DO UPDATE SET import_mwh = excluded.import_mwh,"
    " export_mwh = excluded.export_mwh, days_in_month = excluded.days_in_month,"
    " complete = excluded.complete, revision = excluded.revision,"
    " complete_days = excluded.complete_days";

static const char *const SQL_LOAD[] = {[AGGREGATE_HH] = SQL_HH_LOAD,
                                       [AGGREGATE_DAY] = SQL_DAY_LOAD,
                                       [AGGREGATE_MONTH] = SQL_MONTH_LOAD};
static const char *const SQL_STATE[] = {[AGGREGATE_HH] = SQL_HH_STATE,
                                        [AGGREGATE_DAY] = SQL_DAY_STATE,
                                        [AGGREGATE_MONTH] = SQL_MONTH_STATE};
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

/* A bucket as held, with what it was computed from. */
struct held_bucket {
    struct aggregate_sum sum; /* a zeroed bucket when not found */
    bool found;
    bool usable; /* found, and its parts are known: it can be moved by a difference */
};

static int bucket_state_load(struct store *st, const struct aggregate_key *key,
                             struct held_bucket *h)
{
    memset(h, 0, sizeof *h);
    if (!kind_valid(key->kind))
        return fail_msg(st, "circuit bucket: unknown kind");
    sqlite3_stmt *s = store_prepare(st, SQL_STATE[key->kind]);
    if (s == NULL)
        return STORE_ERROR;
    int rc = bind_key(st, s, key);
    int step = rc == STORE_OK ? sqlite3_step(s) : SQLITE_DONE;
    if (step == SQLITE_ROW) {
        bucket_from_row(s, &h->sum.bucket);
        h->sum.parts = sqlite3_column_int(s, 8);
        h->sum.complete_parts = sqlite3_column_int(s, 9);
        h->found = true;
        h->usable =
            sqlite3_column_type(s, 8) != SQLITE_NULL && sqlite3_column_type(s, 9) != SQLITE_NULL;
    } else if (step != SQLITE_DONE) {
        rc = store_fail(st, step, "load circuit bucket state");
    }
    sqlite3_reset(s);
    return rc;
}

/* Writes fresh at the revision after the held one and records it in changes. */
static int bucket_write(struct store *st, const struct aggregate_key *key,
                        struct aggregate_sum *fresh, const struct held_bucket *h,
                        struct aggregate_key_set *changes)
{
    fresh->bucket.revision = aggregate_next_revision(h->found ? h->sum.bucket.revision : 0);
    int rc = bucket_save(st, key, fresh);
    if (rc == STORE_OK && changes != NULL && aggregate_key_set_add(changes, key) < 0)
        rc = fail_msg(st, "circuit buckets: out of memory");
    return rc;
}

/* Writes a recomputed bucket per rule; *held is what was held before (loaded here), *written
 * says whether fresh was written. */
static int bucket_revise(struct store *st, const struct aggregate_key *key,
                         struct aggregate_sum *fresh, struct revise_rule rule,
                         struct aggregate_key_set *changes, struct held_bucket *held, bool *written)
{
    *written = false;
    int rc = bucket_state_load(st, key, held);
    if (rc != STORE_OK)
        return rc;
    if (held->found ? !rule.changed && aggregate_bucket_same(&held->sum.bucket, &fresh->bucket)
                    : !rule.create)
        return STORE_OK;
    rc = bucket_write(st, key, fresh, held, changes);
    *written = rc == STORE_OK;
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

/* ---- Days and months ----------------------------------------------------------------------- */

/* The local day or month (kind) of circuit_id holding instant, with its span. */
static int span_key(struct store *st, enum aggregate_kind kind, const char *circuit_id,
                    int64_t instant, const struct tzone *tz, struct aggregate_span *span,
                    struct aggregate_key *key)
{
    int rc = kind == AGGREGATE_DAY ? aggregate_day_of(tz, instant, span)
                                   : aggregate_month_of(tz, instant, span);
    if (rc != 0 || aggregate_key_make(kind, circuit_id, 0, span, key) != 0)
        return fail_msg(st, "circuit day or month: circuit id too long or date out of range");
    return STORE_OK;
}

/* Folds a month again from its days. */
static int month_fold(struct store *st, const struct aggregate_key *key, const struct tzone *tz,
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
    struct held_bucket held;
    bool written;
    aggregate_sum_init(&sum);
    int rc = parts_fold(st, s, &sum, aggregate_month_add);
    aggregate_month_finish(&sum, month.parts);
    return rc == STORE_OK ? bucket_revise(st, key, &sum, PART_CHANGED, changes, &held, &written)
                          : rc;
}

/* Moves the month holding instant by one of its days going from before to after (a zeroed
 * bucket for a day not held), or folds it again when that cannot be done. */
static int month_move(struct store *st, const char *circuit_id, int64_t instant,
                      const struct aggregate_bucket *before, const struct aggregate_bucket *after,
                      const struct tzone *tz, struct aggregate_key_set *changes)
{
    struct aggregate_span month;
    struct aggregate_key key;
    struct held_bucket h;
    int rc = span_key(st, AGGREGATE_MONTH, circuit_id, instant, tz, &month, &key);
    if (rc == STORE_OK)
        rc = bucket_state_load(st, &key, &h);
    if (rc != STORE_OK)
        return rc;
    h.sum.parts = month.parts;
    if (h.usable && aggregate_month_replace(&h.sum, before, after, month.parts))
        return bucket_write(st, &key, &h.sum, &h, changes);
    return month_fold(st, &key, tz, changes);
}

/* Folds a day again from its half-hours, then moves its month by the day's change. */
static int day_fold(struct store *st, const struct aggregate_key *key, const struct tzone *tz,
                    struct aggregate_key_set *changes)
{
    struct aggregate_span day;
    if (aggregate_day_of(tz, key->start, &day) != 0)
        return fail_msg(st, "circuit day: date out of range");
    sqlite3_stmt *s = store_prepare(st, SQL_DAY_PARTS);
    if (s == NULL)
        return STORE_ERROR;
    if ((sqlite3_bind_text(s, 1, key->circuit_id, -1, SQLITE_STATIC) |
         sqlite3_bind_int64(s, 2, day.start) | sqlite3_bind_int64(s, 3, day.end)) != SQLITE_OK)
        return store_fail(st, SQLITE_ERROR, "bind circuit day");
    struct aggregate_sum sum;
    struct held_bucket held;
    bool written;
    aggregate_sum_init(&sum);
    int rc = parts_fold(st, s, &sum, aggregate_day_add);
    aggregate_day_finish(&sum, day.parts);
    if (rc == STORE_OK)
        rc = bucket_revise(st, key, &sum, PART_CHANGED, changes, &held, &written);
    return rc == STORE_OK ? month_move(st, key->circuit_id, key->start, &held.sum.bucket,
                                       &sum.bucket, tz, changes)
                          : rc;
}

/* The days a batch of half-hour changes moves, each written once at the end (days_flush). */
struct day_pending {
    struct aggregate_key key;
    struct held_bucket held;  /* as loaded */
    struct aggregate_sum sum; /* held, moved by the changes so far */
    bool fold;                /* cannot be moved by differences: fold it again */
};

struct day_batch {
    struct day_pending *items; /* owned */
    size_t count, cap;
};

/* The pending entry of key, loaded and added when new; NULL after a failure (set in st). */
static struct day_pending *day_pending_of(struct store *st, struct day_batch *batch,
                                          const struct aggregate_key *key, int day_parts)
{
    for (size_t i = 0; i < batch->count; i++)
        if (strcmp(batch->items[i].key.label, key->label) == 0 &&
            strcmp(batch->items[i].key.circuit_id, key->circuit_id) == 0)
            return &batch->items[i];
    if (batch->count == batch->cap) {
        size_t cap = batch->cap ? batch->cap * 2 : 4;
        struct day_pending *grown = realloc(batch->items, cap * sizeof *grown);
        if (grown == NULL) {
            fail_msg(st, "circuit buckets: out of memory");
            return NULL;
        }
        batch->items = grown;
        batch->cap = cap;
    }
    struct day_pending *d = &batch->items[batch->count];
    d->key = *key;
    if (bucket_state_load(st, key, &d->held) != STORE_OK)
        return NULL;
    d->sum = d->held.sum;
    d->sum.parts = day_parts;
    d->fold = !d->held.usable;
    batch->count++;
    return d;
}

/* Notes that the half-hour at start of circuit_id went from before to after (a zeroed bucket when
 * it was not held): its day moves by the difference when the batch is flushed. */
static int day_note(struct store *st, struct day_batch *batch, const char *circuit_id,
                    int64_t start, const struct aggregate_bucket *before,
                    const struct aggregate_bucket *after, const struct tzone *tz)
{
    struct aggregate_span day;
    struct aggregate_key key;
    int rc = span_key(st, AGGREGATE_DAY, circuit_id, start, tz, &day, &key);
    struct day_pending *d = rc == STORE_OK ? day_pending_of(st, batch, &key, day.parts) : NULL;
    if (d == NULL)
        return STORE_ERROR;
    if (!d->fold)
        d->fold = !aggregate_day_replace(&d->sum, before, after, day.parts);
    return STORE_OK;
}

/* Writes each noted day once (or folds it again), then moves its month by the day's change. */
static int days_flush(struct store *st, struct day_batch *batch, const struct tzone *tz,
                      struct aggregate_key_set *changes)
{
    int rc = STORE_OK;
    for (size_t i = 0; rc == STORE_OK && i < batch->count; i++) {
        struct day_pending *d = &batch->items[i];
        if (d->fold) {
            rc = day_fold(st, &d->key, tz, changes);
            continue;
        }
        rc = bucket_write(st, &d->key, &d->sum, &d->held, changes);
        if (rc == STORE_OK)
            rc = month_move(st, d->key.circuit_id, d->key.start, &d->held.sum.bucket,
                            &d->sum.bucket, tz, changes);
    }
    return rc;
}

/* ---- Half-hours, continued ----------------------------------------------------------------- */

/* Recomputes one circuit half-hour from all its registers. A half-hour is created only once a
 * register holds a value for it; a held one is rewritten when a part changed (part_changed) or
 * its values differ, so a narrowed mapping can empty it. A rewrite is noted in days. */
static int hh_refresh(struct store *st, const char *circuit_id, int64_t start, bool part_changed,
                      const struct tzone *tz, struct aggregate_key_set *changes,
                      struct day_batch *days)
{
    struct aggregate_key key;
    struct aggregate_sum sum;
    struct held_bucket held;
    bool written = false;
    if (aggregate_key_make(AGGREGATE_HH, circuit_id, start, NULL, &key) != 0)
        return fail_msg(st, "circuit half-hour: circuit id too long");
    int rc = hh_sum(st, &key, &sum);
    if (rc == STORE_OK)
        rc = bucket_revise(st, &key, &sum,
                           (struct revise_rule){sum.bucket.registers > 0, part_changed}, changes,
                           &held, &written);
    if (rc == STORE_OK && written)
        rc = day_note(st, days, circuit_id, start, &held.sum.bucket, &sum.bucket, tz);
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
 * then its day and month by the half-hour's change, instead of folding every register of the
 * circuit and every half-hour of the day again: the cost of one register, whatever the circuit's
 * size. A bucket that is new, whose parts are unknown, or that the change cannot be a difference
 * of (a mapping changed since it was folded) is folded again. */
static int hh_apply(struct store *st, const char *circuit_id, const char *register_id,
                    const struct store_period_change *change, const struct tzone *tz,
                    struct aggregate_key_set *changes, struct day_batch *days)
{
    struct aggregate_key key;
    struct held_bucket h;
    struct aggregate_register_value before, after;
    memset(&before, 0, sizeof before);
    int f = change->flow == STORE_FLOW_IMPORT ? 0 : 1;
    if (aggregate_key_make(AGGREGATE_HH, circuit_id, change->start, NULL, &key) != 0)
        return fail_msg(st, "circuit half-hour: circuit id too long");
    int rc = bucket_state_load(st, &key, &h);
    if (rc == STORE_OK && h.usable)
        rc = other_flow_load(st, register_id, change, &before.flow[1 - f]);
    if (rc != STORE_OK)
        return rc;
    after.flow[1 - f] = before.flow[1 - f];
    before.flow[f] = change->before;
    after.flow[f] = change->after;
    struct aggregate_bucket old = h.sum.bucket;
    if (!h.usable || !aggregate_hh_replace(&h.sum, &before, &after))
        return hh_refresh(st, circuit_id, change->start, true, tz, changes, days);
    rc = bucket_write(st, &key, &h.sum, &h, changes);
    return rc == STORE_OK ? day_note(st, days, circuit_id, change->start, &old, &h.sum.bucket, tz)
                          : rc;
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

int store_circuit_periods_changed(struct store *st, const char *register_id,
                                  const struct store_period_change *changed, size_t n,
                                  const struct tzone *tz, struct aggregate_key_set *changes)
{
    struct circuit_list circuits = {NULL, 0, 0};
    struct day_batch days = {NULL, 0, 0};
    int rc = STORE_OK;
    for (size_t i = 0; rc == STORE_OK && i < n; i++) {
        rc = circuits_at(st, register_id, changed[i].start, &circuits);
        for (size_t c = 0; rc == STORE_OK && c < circuits.count; c++)
            rc = hh_apply(st, circuits.ids[c], register_id, &changed[i], tz, changes, &days);
    }
    free(circuits.ids);
    if (rc == STORE_OK)
        rc = days_flush(st, &days, tz, changes);
    free(days.items);
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
    struct day_batch days = {NULL, 0, 0};
    int rc = circuit_periods(st, circuit_id, from, to, &list);
    for (size_t i = 0; rc == STORE_OK && i < list.count; i++)
        rc = hh_refresh(st, circuit_id, list.starts[i], false, tz, changes, &days);
    if (rc == STORE_OK)
        rc = days_flush(st, &days, tz, changes);
    free(days.items);
    free(list.starts);
    return rc;
}
