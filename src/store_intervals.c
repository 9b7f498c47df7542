/* store_intervals.c — cumulative register reads into half-hourly register periods, incrementally.
 *
 * The idea: follow the recipe of intervals.h against the tables. Each register_reads row keeps
 * the engine's state for its read (baseline, quality, interval), so a new read only needs its two
 * held neighbours: the segment between them is withdrawn, the two segments through the new read
 * are added, and a baseline carried forward by jitter restates the next segments one by one.
 * Segment shares are summed per period in memory first, and each touched period is then read and
 * written once, with its quality from the reads around it and its completeness from the
 * register's first and last reads.
 *
 * A withdrawn segment takes its energy from the stored interval of its end read, not from a fresh
 * judgement: it removes exactly what was once added even if the register's rollover modulus or
 * its service head's fuse rating has changed since. (Its shape still follows today's
 * max_interpolate_s and profile; changing those under held reads needs a rebuild.)
 *
 * Every lookup is by primary key, (register_id, flow, ts) or (register_id, flow, start), so a
 * read costs the same whatever the length of the register's history. */
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

/* ---- Period deltas ------------------------------------------------------------------------- */

/* The change of energy per period while one read is applied. The segments of one read are
 * consecutive (prev → read → next → …), so the periods they touch are one contiguous run from
 * the earliest segment's start: a dense array from origin. */
struct period_deltas {
    int64_t origin; /* start of the first period touched */
    int64_t *mwh;   /* owned; mwh[i] is the change of period origin + i × 30 min */
    size_t len, cap;
};

static int deltas_add(struct store *st, struct period_deltas *d, int64_t start, int64_t mwh)
{
    if (start < d->origin)
        return fail_msg(st, "register periods: segment before the first touched period");
    size_t i = (size_t)((start - d->origin) / INTERVAL_PERIOD_S);
    if (i >= d->cap) {
        size_t cap = d->cap ? d->cap : 64;
        while (cap <= i)
            cap *= 2;
        int64_t *grown = realloc(d->mwh, cap * sizeof *grown);
        if (grown == NULL)
            return fail_msg(st, "register periods: out of memory");
        memset(grown + d->cap, 0, (cap - d->cap) * sizeof *grown);
        d->mwh = grown;
        d->cap = cap;
    }
    if (i >= d->len)
        d->len = i + 1;
    d->mwh[i] += mwh;
    return STORE_OK;
}

/* ---- One read being applied ---------------------------------------------------------------- */

struct read_job {
    struct store *st;
    const char *register_id;
    const char *flow; /* "import" or "export", as the tables spell it */
    enum store_flow flow_id;
    const struct interval_rules *rules;
    struct period_deltas deltas;
    bool reset; /* some segment just became a reset */
};

/* Binds ?1 register and ?2 flow, and ?3 ts unless the statement has no ?3. */
static int bind_series(struct read_job *job, sqlite3_stmt *s, int64_t ts)
{
    int rc = sqlite3_bind_text(s, 1, job->register_id, -1, SQLITE_STATIC) |
             sqlite3_bind_text(s, 2, job->flow, -1, SQLITE_STATIC);
    if (sqlite3_bind_parameter_count(s) >= 3)
        rc |= sqlite3_bind_int64(s, 3, ts);
    return rc == SQLITE_OK ? STORE_OK : store_fail(job->st, SQLITE_ERROR, "bind register read");
}

/* ---- Reads --------------------------------------------------------------------------------- */

#define READ_COLUMNS "ts, wh, estimated, baseline_wh, quality, interval_wh"
static const char SQL_READ_AT[] = "SELECT " READ_COLUMNS " FROM register_reads"
                                  " WHERE register_id = ?1 AND flow = ?2 AND ts = ?3";
static const char SQL_READ_BEFORE[] = "SELECT " READ_COLUMNS " FROM register_reads"
                                      " WHERE register_id = ?1 AND flow = ?2 AND ts < ?3"
                                      " ORDER BY ts DESC LIMIT 1";
static const char SQL_READ_AFTER[] = "SELECT " READ_COLUMNS " FROM register_reads"
                                     " WHERE register_id = ?1 AND flow = ?2 AND ts > ?3"
                                     " ORDER BY ts LIMIT 1";
static const char SQL_READ_INSERT[] =
    "INSERT INTO register_reads (register_id, flow, ts, wh, estimated, baseline_wh, quality,"
    " interval_wh) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)";
static const char SQL_READ_SETTLE[] =
    "UPDATE register_reads SET baseline_wh = ?4, quality = ?5, interval_wh = ?6"
    " WHERE register_id = ?1 AND flow = ?2 AND ts = ?3";
/* Two subqueries, not MIN and MAX in one select: each alone is a single index seek. */
static const char SQL_READ_SPAN[] =
    "SELECT (SELECT MIN(ts) FROM register_reads WHERE register_id = ?1 AND flow = ?2),"
    " (SELECT MAX(ts) FROM register_reads WHERE register_id = ?1 AND flow = ?2)";
static const char SQL_READ_QUALITIES[] = "SELECT ts, quality FROM register_reads"
                                         " WHERE register_id = ?1 AND flow = ?2 AND ts > ?3"
                                         " ORDER BY ts";

static int read_from_row(struct store *st, sqlite3_stmt *s, struct interval_read *r)
{
    r->ts = sqlite3_column_int64(s, 0);
    r->wh = sqlite3_column_int64(s, 1);
    r->estimated = sqlite3_column_int(s, 2) != 0;
    r->baseline_wh = sqlite3_column_int64(s, 3);
    r->interval_wh =
        sqlite3_column_type(s, 5) == SQLITE_NULL ? INTERVAL_WH_NULL : sqlite3_column_int64(s, 5);
    if (interval_quality_parse((const char *)sqlite3_column_text(s, 4), &r->quality) != 0)
        return fail_msg(st, "register_reads: unknown quality");
    return STORE_OK;
}

/* Loads the read sql selects around ts (at, before or after it); *found false when none. */
static int read_load(struct read_job *job, const char *sql, int64_t ts, struct interval_read *r,
                     bool *found)
{
    *found = false;
    sqlite3_stmt *s = store_prepare(job->st, sql);
    if (s == NULL)
        return STORE_ERROR;
    int rc = bind_series(job, s, ts);
    if (rc != STORE_OK)
        return rc;
    int step = sqlite3_step(s);
    if (step == SQLITE_ROW) {
        *found = true;
        rc = read_from_row(job->st, s, r);
    } else if (step != SQLITE_DONE) {
        rc = store_fail(job->st, step, "load register read");
    }
    sqlite3_reset(s);
    return rc;
}

static int bind_read_state(sqlite3_stmt *s, int first, const struct interval_read *r)
{
    int rc = sqlite3_bind_int64(s, first, r->baseline_wh) |
             sqlite3_bind_text(s, first + 1, interval_quality_name(r->quality), -1, SQLITE_STATIC);
    if (r->interval_wh == INTERVAL_WH_NULL)
        return rc | sqlite3_bind_null(s, first + 2);
    return rc | sqlite3_bind_int64(s, first + 2, r->interval_wh);
}

static int read_insert(struct read_job *job, const struct interval_read *r)
{
    sqlite3_stmt *s = store_prepare(job->st, SQL_READ_INSERT);
    if (s == NULL)
        return STORE_ERROR;
    int rc = bind_series(job, s, r->ts);
    if (rc != STORE_OK)
        return rc;
    if ((sqlite3_bind_int64(s, 4, r->wh) | sqlite3_bind_int(s, 5, r->estimated ? 1 : 0) |
         bind_read_state(s, 6, r)) != SQLITE_OK)
        return store_fail(job->st, SQLITE_ERROR, "bind register read");
    return store_step_done(job->st, s, "insert register read");
}

static int read_save_state(struct read_job *job, const struct interval_read *r)
{
    sqlite3_stmt *s = store_prepare(job->st, SQL_READ_SETTLE);
    if (s == NULL)
        return STORE_ERROR;
    int rc = bind_series(job, s, r->ts);
    if (rc != STORE_OK)
        return rc;
    if (bind_read_state(s, 4, r) != SQLITE_OK)
        return store_fail(job->st, SQLITE_ERROR, "bind register read");
    return store_step_done(job->st, s, "settle register read");
}

/* ---- Segments ------------------------------------------------------------------------------ */

static int segment_judge(struct read_job *job, const struct interval_read *a,
                         const struct interval_read *b, struct interval_segment *seg)
{
    if (interval_segment_judge(job->rules, a, b, seg) != 0)
        return fail_msg(job->st, "register read: segment refused (rules or values out of range)");
    return STORE_OK;
}

static int segment_spread(struct read_job *job, const struct interval_segment *seg, int sign)
{
    struct interval_split it;
    struct interval_share share;
    interval_split_begin(&it, seg);
    while (interval_split_next(&it, &share)) {
        int rc = deltas_add(job->st, &job->deltas, share.start, sign * share.mwh);
        if (rc != STORE_OK)
            return rc;
    }
    return STORE_OK;
}

/* Withdraws the held segment a → b: the energy stored at b, in the shape the rules give it. */
static int segment_withdraw(struct read_job *job, const struct interval_read *a,
                            const struct interval_read *b)
{
    struct interval_segment seg;
    if (b->interval_wh == INTERVAL_WH_NULL)
        return fail_msg(job->st, "register_reads: a read after another has no interval");
    int rc = segment_judge(job, a, b, &seg);
    if (rc != STORE_OK)
        return rc;
    seg.energy_wh = b->interval_wh;
    return segment_spread(job, &seg, -1);
}

/* Adds segment a → b and writes its outcome into b's state; *flags gets INTERVAL_SETTLE_*. */
static int segment_settle(struct read_job *job, const struct interval_read *a,
                          struct interval_read *b, int *flags)
{
    struct interval_segment seg;
    int rc = segment_judge(job, a, b, &seg);
    if (rc == STORE_OK)
        rc = segment_spread(job, &seg, 1);
    if (rc != STORE_OK)
        return rc;
    *flags = interval_read_settle(b, &seg);
    if (*flags & INTERVAL_SETTLE_NEW_RESET)
        job->reset = true;
    return STORE_OK;
}

/* Recipe step 5: the segment after the new read a, then each segment whose start read's
 * baseline the previous one changed. */
static int restate_after(struct read_job *job, const struct interval_read *a,
                         const struct interval_read *next)
{
    struct interval_read cur = *a, b = *next;
    for (bool first = true;; first = false) {
        int flags = 0;
        int rc = first ? STORE_OK : segment_withdraw(job, &cur, &b);
        if (rc == STORE_OK)
            rc = segment_settle(job, &cur, &b, &flags);
        if (rc == STORE_OK)
            rc = read_save_state(job, &b);
        if (rc != STORE_OK || !(flags & INTERVAL_SETTLE_BASELINE))
            return rc;
        bool found;
        cur = b;
        rc = read_load(job, SQL_READ_AFTER, cur.ts, &b, &found);
        if (rc != STORE_OK || !found)
            return rc;
    }
}

/* Recipe steps 2–5 for the new read r. */
static int read_place(struct read_job *job, struct interval_read *r)
{
    struct interval_read prev, next;
    bool has_prev, has_next;
    int rc = read_load(job, SQL_READ_BEFORE, r->ts, &prev, &has_prev);
    if (rc == STORE_OK)
        rc = read_load(job, SQL_READ_AFTER, r->ts, &next, &has_next);
    if (rc != STORE_OK)
        return rc;
    job->deltas.origin = interval_period_start(has_prev ? prev.ts : r->ts);
    if (has_prev && has_next)
        rc = segment_withdraw(job, &prev, &next);
    int flags;
    if (rc == STORE_OK && has_prev)
        rc = segment_settle(job, &prev, r, &flags);
    if (rc == STORE_OK)
        rc = read_insert(job, r);
    if (rc == STORE_OK && has_next)
        rc = restate_after(job, r, &next);
    return rc;
}

/* ---- Periods ------------------------------------------------------------------------------- */

static const char SQL_PERIOD_LOAD[] =
    "SELECT mwh, quality, complete, revision FROM register_periods"
    " WHERE register_id = ?1 AND flow = ?2 AND start = ?3";
static const char SQL_PERIOD_SAVE[] =
    "INSERT INTO register_periods (register_id, flow, start, mwh, quality, complete, revision)"
    " VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT (register_id, flow, start) DO UPDATE SET"
    " mwh = excluded.mwh, quality = excluded.quality, complete = excluded.complete,"
    " revision = excluded.revision";

struct period_row {
    int64_t mwh;
    enum interval_quality quality;
    bool complete;
    int64_t revision; /* 0: not stored yet */
};

static int period_load(struct read_job *job, int64_t start, struct period_row *row)
{
    memset(row, 0, sizeof *row);
    sqlite3_stmt *s = store_prepare(job->st, SQL_PERIOD_LOAD);
    if (s == NULL)
        return STORE_ERROR;
    int rc = bind_series(job, s, start);
    if (rc != STORE_OK)
        return rc;
    int step = sqlite3_step(s);
    if (step == SQLITE_ROW) {
        row->mwh = sqlite3_column_int64(s, 0);
        row->complete = sqlite3_column_int(s, 2) != 0;
        row->revision = sqlite3_column_int64(s, 3);
        if (interval_quality_parse((const char *)sqlite3_column_text(s, 1), &row->quality) != 0)
            rc = fail_msg(job->st, "register_periods: unknown quality");
    } else if (step != SQLITE_DONE) {
        rc = store_fail(job->st, step, "load register period");
    }
    sqlite3_reset(s);
    return rc;
}

static int period_save(struct read_job *job, int64_t start, const struct period_row *row)
{
    sqlite3_stmt *s = store_prepare(job->st, SQL_PERIOD_SAVE);
    if (s == NULL)
        return STORE_ERROR;
    int rc = bind_series(job, s, start);
    if (rc != STORE_OK)
        return rc;
    if ((sqlite3_bind_int64(s, 4, row->mwh) |
         sqlite3_bind_text(s, 5, interval_quality_name(row->quality), -1, SQLITE_STATIC) |
         sqlite3_bind_int(s, 6, row->complete ? 1 : 0) | sqlite3_bind_int64(s, 7, row->revision)) !=
        SQLITE_OK)
        return store_fail(job->st, SQLITE_ERROR, "bind register period");
    return store_step_done(job->st, s, "save register period");
}

static int read_span(struct read_job *job, int64_t *first_ts, int64_t *last_ts)
{
    sqlite3_stmt *s = store_prepare(job->st, SQL_READ_SPAN);
    if (s == NULL)
        return STORE_ERROR;
    int rc = bind_series(job, s, 0);
    if (rc != STORE_OK)
        return rc;
    int step = sqlite3_step(s);
    if (step == SQLITE_ROW) {
        *first_ts = sqlite3_column_int64(s, 0);
        *last_ts = sqlite3_column_int64(s, 1);
    } else {
        rc = store_fail(job->st, step, "register read span");
    }
    sqlite3_reset(s);
    return rc;
}

/* The engine's period quality over the reads after start up to the first at or after its end,
 * fed to it a chunk at a time (it is a worst-of, so chunks combine). */
static int period_quality(struct read_job *job, int64_t start, enum interval_quality *q)
{
    sqlite3_stmt *s = store_prepare(job->st, SQL_READ_QUALITIES);
    if (s == NULL)
        return STORE_ERROR;
    int rc = bind_series(job, s, start);
    if (rc != STORE_OK)
        return rc;
    struct interval_read chunk[16];
    size_t n = 0;
    bool last = false;
    int step = SQLITE_DONE;
    *q = INTERVAL_MISSING;
    while (!last && rc == STORE_OK && (step = sqlite3_step(s)) == SQLITE_ROW) {
        memset(&chunk[n], 0, sizeof chunk[n]);
        chunk[n].ts = sqlite3_column_int64(s, 0);
        if (interval_quality_parse((const char *)sqlite3_column_text(s, 1), &chunk[n].quality) != 0)
            rc = fail_msg(job->st, "register_reads: unknown quality");
        last = chunk[n++].ts >= start + INTERVAL_PERIOD_S;
        if (n == sizeof chunk / sizeof chunk[0] || last) {
            *q = interval_quality_worst(*q, interval_period_quality(chunk, n, start));
            n = 0;
        }
    }
    if (rc == STORE_OK && !last && step != SQLITE_DONE)
        rc = store_fail(job->st, step, "register period quality");
    if (n > 0)
        *q = interval_quality_worst(*q, interval_period_quality(chunk, n, start));
    sqlite3_reset(s);
    return rc;
}

static struct aggregate_flow_value period_value(const struct period_row *row)
{
    struct aggregate_flow_value v = {row->revision > 0, row->mwh, row->quality, row->complete};
    return v;
}

/* Recipe step 6 for one touched period: its new row, revised when anything in it changed. Sets
 * *changed with change->before and after, and counts a changed energy or quality of an
 * already-stored row in *restated. */
static int period_finish(struct read_job *job, int64_t delta, int64_t first_ts, int64_t last_ts,
                         struct store_period_change *change, bool *changed, int *restated)
{
    struct period_row held, row;
    int64_t start = change->start;
    int rc = period_load(job, start, &held);
    if (rc == STORE_OK)
        rc = period_quality(job, start, &row.quality);
    if (rc != STORE_OK)
        return rc;
    row.mwh = held.mwh + delta;
    row.complete = interval_period_complete(start, first_ts, last_ts);
    if (row.mwh < 0)
        return fail_msg(job->st, "register periods: energy below zero (rules changed under "
                                 "held reads?)");
    bool stored = held.revision > 0;
    bool restates = stored && (row.mwh != held.mwh || row.quality != held.quality);
    change->before = change->after = period_value(&held);
    *changed = !stored || restates || row.complete != held.complete;
    if (!*changed)
        return STORE_OK;
    *restated += restates;
    row.revision = stored ? held.revision + 1 : 1;
    change->after = period_value(&row);
    return period_save(job, start, &row);
}

/* Step 6 over the whole touched run; the periods that changed go to changed[] (job->deltas.len
 * entries long), their number to *n_changed. */
static int periods_finish(struct read_job *job, struct store_period_change *changed,
                          size_t *n_changed, int *restated)
{
    int64_t first_ts = 0, last_ts = 0;
    int rc = read_span(job, &first_ts, &last_ts);
    *n_changed = 0;
    for (size_t i = 0; rc == STORE_OK && i < job->deltas.len; i++) {
        struct store_period_change *c = &changed[*n_changed];
        c->start = job->deltas.origin + (int64_t)i * INTERVAL_PERIOD_S;
        c->flow = job->flow_id;
        bool period_changed = false;
        rc =
            period_finish(job, job->deltas.mwh[i], first_ts, last_ts, c, &period_changed, restated);
        if (period_changed)
            (*n_changed)++;
    }
    return rc;
}

/* ---- The read ------------------------------------------------------------------------------ */

static bool read_valid(const char *register_id, int64_t ts, int64_t wh)
{
    return register_id != NULL && ts >= 0 && ts <= INTERVAL_TS_MAX && wh >= 0 &&
           wh <= INTERVAL_WH_MAX;
}

/* Places the new read r, revises its periods and the circuit buckets over the changed ones. */
static int read_apply(struct read_job *job, struct interval_read *r, const struct tzone *tz,
                      struct aggregate_key_set *changes, struct store_read_result *out)
{
    int rc = read_place(job, r);
    out->reset = job->reset;
    if (rc != STORE_OK || job->deltas.len == 0)
        return rc;
    struct store_period_change *changed = malloc(job->deltas.len * sizeof *changed);
    if (changed == NULL)
        return fail_msg(job->st, "register periods: out of memory");
    size_t n_changed = 0;
    rc = periods_finish(job, changed, &n_changed, &out->restated);
    if (rc == STORE_OK && n_changed > 0)
        rc = store_circuit_periods_changed(job->st, job->register_id, changed, n_changed, tz,
                                           changes);
    free(changed);
    return rc;
}

int store_register_read(struct store *st, const char *register_id, enum store_flow flow, int64_t ts,
                        int64_t wh, bool estimated, const struct interval_rules *rules,
                        const struct tzone *tz, struct aggregate_key_set *changes,
                        struct store_read_result *out)
{
    memset(out, 0, sizeof *out);
    out->arrival = INTERVAL_NEW;
    if (!read_valid(register_id, ts, wh))
        return fail_msg(st, "register read: register, ts or value out of range");
    struct read_job job = {
        .st = st,
        .register_id = register_id,
        .flow = flow == STORE_FLOW_EXPORT ? "export" : "import",
        .flow_id = flow,
        .rules = rules,
    };
    struct interval_read held, r;
    bool found;
    int rc = read_load(&job, SQL_READ_AT, ts, &held, &found);
    if (rc != STORE_OK)
        return rc;
    out->arrival = interval_arrival(found ? &held : NULL, wh); /* recipe step 1 */
    if (out->arrival == INTERVAL_CONFLICT)
        out->held_wh = held.wh;
    if (out->arrival != INTERVAL_NEW)
        return STORE_OK;
    interval_read_init(&r, ts, wh, estimated);
    rc = read_apply(&job, &r, tz, changes, out);
    free(job.deltas.mwh);
    return rc;
}
