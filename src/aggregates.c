/* aggregates.c — the rules of circuit buckets: what a half-hour, a local day and a local month
 * sum, count, and call complete.
 *
 * The idea: a bucket is a fold over its parts, never a running total. The store recomputes only
 * the buckets a read touched, each from its few parts (the registers of one period, at most 50
 * half-hours, at most 31 days), so the cost of a read never grows with the history, and a bucket
 * can never drift from its parts the way applied deltas could after a restatement.
 *
 * The key set remembers which buckets changed while one message is applied, once each, so that
 * every changed bucket is recomputed and published once however many periods of it a read
 * touched. It is a small open-addressing hash index over an insertion-ordered array: a backfill
 * of a year of reads touches tens of thousands of buckets, too many for a linear scan per add. */
#include "aggregates.h"

#include <stdlib.h>
#include <string.h>

/* ---- Spans and keys ------------------------------------------------------------------------ */

int aggregate_day_of(const struct tzone *tz, int64_t instant, struct aggregate_span *out)
{
    int y, m, d;
    struct aggregate_span span;
    if (tzone_local_date(tz, instant, &y, &m, &d) != 0 ||
        tzone_day_bounds(tz, y, m, d, &span.start, &span.end) != 0 ||
        tzone_day_label(tz, instant, span.label) != 0)
        return -1;
    span.parts = tzone_day_periods(tz, y, m, d);
    if (span.parts < 0)
        return -1;
    *out = span;
    return 0;
}

int aggregate_month_of(const struct tzone *tz, int64_t instant, struct aggregate_span *out)
{
    int y, m, d;
    struct aggregate_span span;
    if (tzone_local_date(tz, instant, &y, &m, &d) != 0 ||
        tzone_month_bounds(tz, y, m, &span.start, &span.end) != 0 ||
        tzone_month_label(tz, instant, span.label) != 0)
        return -1;
    span.parts = tzone_month_days(y, m);
    if (span.parts < 0)
        return -1;
    *out = span;
    return 0;
}

int aggregate_key_make(enum aggregate_kind kind, const char *circuit_id, int64_t hh_start,
                       const struct aggregate_span *span, struct aggregate_key *out)
{
    if (circuit_id == NULL || strlen(circuit_id) >= AGGREGATE_ID_LEN ||
        (kind != AGGREGATE_HH && span == NULL))
        return -1;
    memset(out, 0, sizeof *out);
    out->kind = kind;
    strcpy(out->circuit_id, circuit_id);
    if (kind == AGGREGATE_HH) {
        out->start = hh_start;
    } else {
        out->start = span->start;
        memcpy(out->label, span->label, sizeof out->label);
    }
    return 0;
}

/* ---- Folding ------------------------------------------------------------------------------- */

void aggregate_sum_init(struct aggregate_sum *s)
{
    memset(s, 0, sizeof *s);
}

enum interval_quality aggregate_register_quality(const struct aggregate_register_value *v)
{
    enum interval_quality q = INTERVAL_MISSING;
    for (int f = 0; f < 2; f++)
        if (v->flow[f].present)
            q = interval_quality_worst(q, v->flow[f].quality);
    return q;
}

bool aggregate_register_complete(const struct aggregate_register_value *v)
{
    bool any = false;
    for (int f = 0; f < 2; f++) {
        if (!v->flow[f].present)
            continue;
        if (!v->flow[f].complete)
            return false;
        any = true;
    }
    return any;
}

/* Adds (sign 1) or takes out (sign -1) what one register's value puts into a half-hour. */
static void hh_contribute(struct aggregate_sum *s, const struct aggregate_register_value *v,
                          int sign)
{
    struct aggregate_bucket *b = &s->bucket;
    if (v->flow[0].present)
        b->import_mwh += sign * v->flow[0].mwh;
    if (v->flow[1].present)
        b->export_mwh += sign * v->flow[1].mwh;
    if (v->flow[0].present || v->flow[1].present) {
        b->registers += sign;
        if (aggregate_register_quality(v) != INTERVAL_ACTUAL)
            b->estimated += sign;
    }
    if (aggregate_register_complete(v))
        s->complete_parts += sign;
}

void aggregate_hh_add(struct aggregate_sum *s, const struct aggregate_register_value *v)
{
    s->parts++;
    hh_contribute(s, v, 1);
}

bool aggregate_hh_replace(struct aggregate_sum *s, const struct aggregate_register_value *before,
                          const struct aggregate_register_value *after)
{
    hh_contribute(s, before, -1);
    hh_contribute(s, after, 1);
    aggregate_hh_finish(s);
    const struct aggregate_bucket *b = &s->bucket;
    return b->import_mwh >= 0 && b->export_mwh >= 0 && b->registers >= 0 &&
           b->registers <= s->parts && b->estimated >= 0 && b->estimated <= b->registers &&
           s->complete_parts >= 0 && s->complete_parts <= s->parts;
}

void aggregate_hh_finish(struct aggregate_sum *s)
{
    s->bucket.complete = s->parts > 0 && s->complete_parts == s->parts;
}

/* Adds (sign 1) or takes out (sign -1) what one half-hour puts into its day. */
static void day_contribute(struct aggregate_sum *s, const struct aggregate_bucket *hh, int sign)
{
    struct aggregate_bucket *b = &s->bucket;
    b->import_mwh += sign * hh->import_mwh;
    b->export_mwh += sign * hh->export_mwh;
    if (hh->registers > 0)
        b->hh_count += sign;
    if (hh->complete)
        s->complete_parts += sign;
}

void aggregate_day_add(struct aggregate_sum *s, const struct aggregate_bucket *hh)
{
    s->parts++;
    day_contribute(s, hh, 1);
}

void aggregate_day_finish(struct aggregate_sum *s, int day_periods)
{
    s->bucket.complete = day_periods > 0 && s->complete_parts == day_periods;
}

bool aggregate_day_replace(struct aggregate_sum *s, const struct aggregate_bucket *before,
                           const struct aggregate_bucket *after, int day_periods)
{
    day_contribute(s, before, -1);
    day_contribute(s, after, 1);
    aggregate_day_finish(s, day_periods);
    const struct aggregate_bucket *b = &s->bucket;
    return b->import_mwh >= 0 && b->export_mwh >= 0 && b->hh_count >= 0 &&
           b->hh_count <= day_periods && s->complete_parts >= 0 && s->complete_parts <= day_periods;
}

/* Adds (sign 1) or takes out (sign -1) what one day puts into its month. */
static void month_contribute(struct aggregate_sum *s, const struct aggregate_bucket *day, int sign)
{
    struct aggregate_bucket *b = &s->bucket;
    b->import_mwh += sign * day->import_mwh;
    b->export_mwh += sign * day->export_mwh;
    b->hh_count += sign * day->hh_count;
    if (day->complete)
        s->complete_parts += sign;
}

void aggregate_month_add(struct aggregate_sum *s, const struct aggregate_bucket *day)
{
    s->parts++;
    month_contribute(s, day, 1);
}

void aggregate_month_finish(struct aggregate_sum *s, int month_days)
{
    s->bucket.days_in_month = month_days;
    s->bucket.complete = month_days > 0 && s->complete_parts == month_days;
}

bool aggregate_month_replace(struct aggregate_sum *s, const struct aggregate_bucket *before,
                             const struct aggregate_bucket *after, int month_days)
{
    month_contribute(s, before, -1);
    month_contribute(s, after, 1);
    aggregate_month_finish(s, month_days);
    const struct aggregate_bucket *b = &s->bucket;
    return b->import_mwh >= 0 && b->export_mwh >= 0 && s->complete_parts >= 0 &&
           s->complete_parts <= month_days;
}

bool aggregate_bucket_same(const struct aggregate_bucket *a, const struct aggregate_bucket *b)
{
    return a->import_mwh == b->import_mwh && a->export_mwh == b->export_mwh &&
           a->registers == b->registers && a->estimated == b->estimated &&
           a->hh_count == b->hh_count && a->days_in_month == b->days_in_month &&
           a->complete == b->complete;
}

int64_t aggregate_next_revision(int64_t held_revision)
{
    return held_revision > 0 ? held_revision + 1 : 1;
}

/* ---- Key sets ------------------------------------------------------------------------------ */

/* FNV-1a over the fields (not the struct's bytes: a key built by hand may carry padding). */
static uint64_t hash_bytes(uint64_t h, const void *data, size_t len)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++)
        h = (h ^ p[i]) * UINT64_C(1099511628211);
    return h;
}

static size_t key_hash(const struct aggregate_key *key)
{
    uint64_t h = UINT64_C(14695981039346656037);
    int kind = (int)key->kind;
    h = hash_bytes(h, &kind, sizeof kind);
    h = hash_bytes(h, &key->start, sizeof key->start);
    h = hash_bytes(h, key->circuit_id, strnlen(key->circuit_id, sizeof key->circuit_id));
    h = hash_bytes(h, key->label, strnlen(key->label, sizeof key->label));
    return (size_t)h;
}

static bool key_equal(const struct aggregate_key *a, const struct aggregate_key *b)
{
    return a->kind == b->kind && a->start == b->start &&
           strncmp(a->circuit_id, b->circuit_id, sizeof a->circuit_id) == 0 &&
           strncmp(a->label, b->label, sizeof a->label) == 0;
}

/* The slot holding key, or the empty slot where it belongs. slot_cap is a power of two. */
static size_t key_slot(const struct aggregate_key_set *set, const struct aggregate_key *key)
{
    size_t mask = set->slot_cap - 1, i = key_hash(key) & mask;
    while (set->slots[i] != 0 && !key_equal(&set->keys[set->slots[i] - 1], key))
        i = (i + 1) & mask;
    return i;
}

/* Keeps the index at most half full, so probes stay short. */
static int key_index_grow(struct aggregate_key_set *set)
{
    size_t cap = set->slot_cap ? set->slot_cap * 2 : 64;
    size_t *slots = calloc(cap, sizeof *slots);
    if (slots == NULL)
        return -1;
    free(set->slots);
    set->slots = slots;
    set->slot_cap = cap;
    for (size_t k = 0; k < set->count; k++)
        set->slots[key_slot(set, &set->keys[k])] = k + 1;
    return 0;
}

static int key_array_grow(struct aggregate_key_set *set)
{
    size_t cap = set->cap ? set->cap * 2 : 32;
    struct aggregate_key *keys = realloc(set->keys, cap * sizeof *keys);
    if (keys == NULL)
        return -1;
    set->keys = keys;
    set->cap = cap;
    return 0;
}

void aggregate_key_set_init(struct aggregate_key_set *set)
{
    memset(set, 0, sizeof *set);
}

int aggregate_key_set_add(struct aggregate_key_set *set, const struct aggregate_key *key)
{
    if ((set->count + 1) * 2 > set->slot_cap && key_index_grow(set) != 0)
        return -1;
    size_t slot = key_slot(set, key);
    if (set->slots[slot] != 0)
        return 0;
    if (set->count == set->cap && key_array_grow(set) != 0)
        return -1;
    set->keys[set->count] = *key;
    set->slots[slot] = ++set->count;
    return 1;
}

void aggregate_key_set_clear(struct aggregate_key_set *set)
{
    if (set->slots != NULL)
        memset(set->slots, 0, set->slot_cap * sizeof *set->slots);
    set->count = 0;
}

void aggregate_key_set_free(struct aggregate_key_set *set)
{
    free(set->keys);
    free(set->slots);
    aggregate_key_set_init(set);
}
