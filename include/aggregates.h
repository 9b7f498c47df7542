/* aggregates.h — circuit buckets over half-hours, local days and local months (SPEC §6).
 *
 * Pure: no SQL, no I/O, no clock; the only allocation is the key set's. Energy is integer mWh
 * (1e-6 kWh), as in intervals.h, so sums are exact. A bucket is folded from its parts — the
 * registers mapped to a circuit for one HH period, the HH buckets of one local day, the days of
 * one local month — and the rules for its counts and completeness live here, so the store only
 * fetches parts and writes results.
 *
 * Completeness of one register in one period, over its two flows: complete when it holds a value
 * in at least one flow and every flow it holds a value in is complete. A flow with no row for the
 * period does not count against it, because a register that never exports has no export reads.
 *
 * Revision: a bucket starts at 1 and rises by 1 each time it is recomputed because one of its
 * parts changed (SPEC §6: every aggregate containing a changed period is republished with a higher
 * revision), even when its own totals come out the same, e.g. a late read moving energy between
 * two half-hours of the same day. A recomputation no part asked for (catching up after a mapping
 * change) revises only a bucket whose values differ. */
#ifndef AGGREGATES_H
#define AGGREGATES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "intervals.h"
#include "tzone.h"

#define AGGREGATE_ID_LEN 37                     /* a circuit id: UUID text plus NUL */
#define AGGREGATE_LABEL_LEN TZONE_DAY_LABEL_LEN /* "YYYY-MM-DD" or "YYYY-MM", plus NUL */

enum aggregate_kind { AGGREGATE_HH, AGGREGATE_DAY, AGGREGATE_MONTH };

/* Names one circuit bucket, for recomputing and publishing it. */
struct aggregate_key {
    enum aggregate_kind kind;
    char circuit_id[AGGREGATE_ID_LEN];
    int64_t start;                   /* UTC start of the HH period, local day or local month */
    char label[AGGREGATE_LABEL_LEN]; /* "" for HH; day "YYYY-MM-DD"; month "YYYY-MM" */
};

/* A local day or month as UTC [start, end), with how many parts complete it. */
struct aggregate_span {
    int64_t start, end;
    int parts; /* a day: its HH periods (46/48/50 in London); a month: its calendar days */
    char label[AGGREGATE_LABEL_LEN];
};

/* One register's value for one HH period, per flow (0 import, 1 export, after
 * direction_reversed). */
struct aggregate_flow_value {
    bool present; /* the register holds a value for this flow and period */
    int64_t mwh;
    enum interval_quality quality;
    bool complete;
};

struct aggregate_register_value {
    struct aggregate_flow_value flow[2];
};

/* A circuit bucket's published values. Which counts apply depends on the kind. */
struct aggregate_bucket {
    int64_t import_mwh, export_mwh;
    int registers;     /* HH: mapped registers holding a value for the period */
    int estimated;     /* HH: of those, the ones whose value is not actual */
    int hh_count;      /* day and month: HH periods holding a value */
    int days_in_month; /* month: calendar days of the local month (28–31) */
    bool complete;
    int64_t revision;
};

/* A bucket being folded from its parts; zero it with aggregate_sum_init. */
struct aggregate_sum {
    struct aggregate_bucket bucket;
    int parts;          /* parts folded */
    int complete_parts; /* of those, complete */
};

/* Deduplicated list of bucket keys, in insertion order. Zero-initialise (or use
 * aggregate_key_set_init); release with aggregate_key_set_free. */
struct aggregate_key_set {
    struct aggregate_key *keys; /* owned; keys[0 .. count) */
    size_t count, cap;
    size_t *slots; /* owned hash index: 0 empty, else 1 + a position in keys */
    size_t slot_cap;
};

/* --- Keys and spans --- */

/* The local day / month of tz holding instant (an HH period belongs to the day of its start).
 * Return 0, or -1 when the date is outside the years 1–9999 (out untouched). */
int aggregate_day_of(const struct tzone *tz, int64_t instant, struct aggregate_span *out);
int aggregate_month_of(const struct tzone *tz, int64_t instant, struct aggregate_span *out);

/* Fills out with a key. Returns 0, or -1 when circuit_id is NULL or longer than
 * AGGREGATE_ID_LEN - 1 bytes (out untouched). span may be NULL for AGGREGATE_HH. */
int aggregate_key_make(enum aggregate_kind kind, const char *circuit_id, int64_t hh_start,
                       const struct aggregate_span *span, struct aggregate_key *out);

/* --- Folding --- */

/* Starts an empty sum (revision 0: not yet stored). */
void aggregate_sum_init(struct aggregate_sum *s);

/* Worst quality over the flows a register holds a value in; missing when it holds none. */
enum interval_quality aggregate_register_quality(const struct aggregate_register_value *v);
/* The per-register completeness rule above. */
bool aggregate_register_complete(const struct aggregate_register_value *v);

/* Folds one register mapped to the circuit for the period (with or without a value). */
void aggregate_hh_add(struct aggregate_sum *s, const struct aggregate_register_value *v);
/* Complete when at least one register is mapped and every mapped one is complete. */
void aggregate_hh_finish(struct aggregate_sum *s);
/* Replaces one mapped register's value in a finished half-hour sum (parts and complete_parts
 * as stored with it): the same result as folding every register again with after in place of
 * before, at the cost of one register. Returns false when the result cannot be a sum of the
 * mapped registers (a count out of range: the sum's parts are stale, e.g. the mapping changed),
 * and then the half-hour must be folded again from its registers. */
bool aggregate_hh_replace(struct aggregate_sum *s, const struct aggregate_register_value *before,
                          const struct aggregate_register_value *after);

/* Folds one stored HH bucket of the day; a bucket with registers > 0 holds a value. */
void aggregate_day_add(struct aggregate_sum *s, const struct aggregate_bucket *hh);
/* Complete when all day_periods periods are complete. */
void aggregate_day_finish(struct aggregate_sum *s, int day_periods);
/* Replaces one half-hour of a finished day sum (complete_parts as stored with it) by its new
 * values; before is a zeroed bucket for a half-hour that was not held. Like
 * aggregate_hh_replace, false means the sum cannot be right and the day must be folded again. */
bool aggregate_day_replace(struct aggregate_sum *s, const struct aggregate_bucket *before,
                           const struct aggregate_bucket *after, int day_periods);

/* Folds one stored day bucket of the month. */
void aggregate_month_add(struct aggregate_sum *s, const struct aggregate_bucket *day);
/* Sets days_in_month; complete when all month_days days are complete. */
void aggregate_month_finish(struct aggregate_sum *s, int month_days);
/* The same for one day of a month. */
bool aggregate_month_replace(struct aggregate_sum *s, const struct aggregate_bucket *before,
                             const struct aggregate_bucket *after, int month_days);

/* True when a and b publish the same values (revision aside). */
bool aggregate_bucket_same(const struct aggregate_bucket *a, const struct aggregate_bucket *b);

/* The revision a recomputed bucket takes: 1 when none is held (held_revision ≤ 0), else one
 * more than the held one. */
int64_t aggregate_next_revision(int64_t held_revision);

/* --- Key sets --- */

void aggregate_key_set_init(struct aggregate_key_set *set);
/* Adds a copy of key unless an equal key is held. Returns 1 when added, 0 when already held,
 * -1 when out of memory (set unchanged). */
int aggregate_key_set_add(struct aggregate_key_set *set, const struct aggregate_key *key);
/* Forgets every key and keeps the memory for reuse. */
void aggregate_key_set_clear(struct aggregate_key_set *set);
/* Releases the memory; the set is empty and reusable after. */
void aggregate_key_set_free(struct aggregate_key_set *set);

#endif
