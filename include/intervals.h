/* intervals.h — half-hourly (HH) interval energy of a register from its cumulative reads (SPEC §6).
 *
 * Pure: no I/O, no clock, no allocation, no globals. Times are int64_t Unix seconds UTC; register
 * values are integer Wh; interval energy is integer mWh (1e-6 kWh), so the SPEC's six-decimal kWh
 * figures are exact and rounding never loses or creates energy.
 *
 * The unit of work is a segment: two consecutive held reads a → b of one register. Its judgement
 * (energy, quality, the baseline b takes) and its per-period shares depend only on a's ts, stored
 * baseline and estimated flag, on b's ts, wh and estimated flag, and on the rules — so a store can
 * withdraw exactly what it once added. `direction_reversed` is the caller's job: swap import and
 * export before a read reaches this module.
 *
 * Per read the store keeps (struct interval_read): ts, wh, estimated (inputs) and baseline_wh,
 * quality, interval_wh (state, written only by interval_read_init / interval_read_settle). A rise,
 * a rollover and a reset all leave baseline = wh; only a jitter read carries its predecessor's
 * baseline (the high-water mark). So a late read changes a later read's baseline only when that
 * read's segment is, or becomes, jitter — interval_read_settle reports it, and the store restates
 * the segment after it (step 5), and so on along a chain of jitter reads.
 *
 * A gap longer than max_interpolate_s is shaped by the 48-slot daily profile indexed by UTC
 * half-hour of day (not local time), weighted by time overlap; shorter ones are linear in time.
 *
 * Incremental recipe, when read r (ts, wh) arrives for a register:
 *  1. Look up a held read at r.ts: interval_arrival() says duplicate (do nothing) or conflict
 *     (keep the held one, raise reading_conflict); continue only for a new read.
 *  2. interval_read_init(&r). Fetch prev (latest held read with ts < r.ts) and next (earliest with
 *     ts > r.ts), if any.
 *  3. prev and next: withdraw judge(prev, next) — subtract each share from its period.
 *  4. prev: seg = judge(prev, r); add its shares; interval_read_settle(&r, &seg). Here and in
 *     step 5, INTERVAL_SETTLE_NEW_RESET means raise register_reset (an event already raised for a
 *     segment that a late read later turns into something else stays in the log).
 *  5. Store r. Then with a = r, b = next: keep old_b = b; seg = judge(a, b); add its shares;
 *     flags = interval_read_settle(&b, &seg); store b. If flags has INTERVAL_SETTLE_BASELINE, the
 *     segment after b was judged against b's old baseline: withdraw judge(old_b, b's next), and
 *     repeat this step with a = b, b = b's next. Stop when the baseline did not change or there is
 *     no next read. (Only a chain of jitter reads carries a baseline forward, so this is short.)
 *  6. Every period a withdrawn or added segment touched: quality = interval_period_quality() over
 *     the reads around it (reads hold the quality of the segment ending at them; withdrawal cannot
 *     "subtract" a worst-of), completeness from interval_period_complete(); bump the revision of
 *     an already-stored period whose energy or quality changed (that is `restated_intervals`). */
#ifndef INTERVALS_H
#define INTERVALS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define INTERVAL_PERIOD_S 1800 /* an HH period: [start, start + 1800), start on :00/:30 */
#define INTERVAL_SLOTS 48      /* HH periods per UTC day: the profile's resolution */
#define INTERVAL_JITTER_WH 100 /* a decrease up to 0.1 kWh is read jitter (SPEC §6) */
/* 1e11 kWh: above any real register; a larger value or baseline is refused as invalid. */
#define INTERVAL_WH_MAX INT64_C(100000000000000)
#define INTERVAL_TS_MAX INT64_C(253402300799) /* 9999-12-31T23:59:59Z, as the wire accepts */
#define INTERVAL_POWER_MAX_W 1000000000       /* 1 GW: a sanity bound on max_power_w */
#define INTERVAL_WEIGHT_MAX 100000 /* per profile slot; keeps weighted time within int64 */
#define INTERVAL_WH_NULL (-1)      /* interval_wh of a first read: import_interval is null */

/* Quality of a segment or a period, in rising severity; a period touched by several segments
 * takes the worst (highest). missing is the identity: nothing covers the period. */
enum interval_quality {
    INTERVAL_MISSING = 0,
    INTERVAL_ACTUAL,
    INTERVAL_ESTIMATED,
    INTERVAL_NEGATIVE,
    INTERVAL_ROLLOVER,
    INTERVAL_RESET,
};

/* What a segment's change of value was judged to be (SPEC §6, in its order). */
enum interval_kind {
    INTERVAL_KIND_RISE,     /* no decrease: energy = wh − baseline */
    INTERVAL_KIND_JITTER,   /* decrease ≤ INTERVAL_JITTER_WH: energy 0, high-water mark kept */
    INTERVAL_KIND_ROLLOVER, /* plausible wrap at the modulus: energy = modulus − baseline + wh */
    INTERVAL_KIND_RESET,    /* anything else: energy 0, wh is the new baseline */
};

/* The answer to "a read for this (register, ts) arrived; one may already be held". */
enum interval_arrival { INTERVAL_NEW, INTERVAL_DUPLICATE, INTERVAL_CONFLICT };

/* The 48-slot daily load profile; fill it only with interval_profile_parse / _flat. */
struct interval_profile {
    uint32_t weight[INTERVAL_SLOTS];    /* slot i = UTC [i × 30 min, (i + 1) × 30 min) of a day */
    int64_t prefix[INTERVAL_SLOTS + 1]; /* prefix[i] = sum of weight[0 .. i-1] */
};

/* How a register's segments are judged and shaped: its own settings plus the service's. */
struct interval_rules {
    int64_t rollover_wh;       /* the register's modulus (rollover_kwh × 1000); 0 = none */
    int64_t max_power_w;       /* fuse A × 230 V × phases, else default_max_kw × 1000 */
    int64_t max_interpolate_s; /* a longer segment is profile-shaped and estimated */
    const struct interval_profile *profile; /* borrowed; NULL shapes long gaps flat (linear) */
};

/* One held read of a register and the state the store keeps beside it. */
struct interval_read {
    int64_t ts;                    /* when the meter took the value */
    int64_t wh;                    /* cumulative value as reported; never rewritten */
    bool estimated;                /* the read is not an actual meter read (the read's status) */
    int64_t baseline_wh;           /* state: effective value after this read (high-water mark) */
    enum interval_quality quality; /* state: of the segment ending here; missing when first */
    int64_t interval_wh;           /* state: import_interval in Wh; INTERVAL_WH_NULL when first */
};

/* The judgement of one segment a → b. */
struct interval_segment {
    int64_t start_ts, end_ts;
    int64_t energy_wh;       /* ≥ 0; the end read's import_interval; shares sum to × 1000 mWh */
    int64_t end_baseline_wh; /* the baseline the end read takes */
    enum interval_kind kind;
    enum interval_quality quality;
    const struct interval_profile *profile; /* shape of the split; NULL = linear in time */
};

/* A segment's energy in one HH period. */
struct interval_share {
    int64_t start; /* the period's start */
    int64_t mwh;   /* ≥ 0 */
};

/* Iterator over a segment's shares; fields are private. */
struct interval_split {
    struct interval_segment seg;
    int64_t period;   /* start of the next period to yield */
    int64_t total;    /* the segment's whole (possibly weighted) duration */
    int64_t done_mwh; /* energy yielded so far */
};

/* The lower-case SPEC name ("actual", …, "missing") of a quality; never NULL. */
const char *interval_quality_name(enum interval_quality q);
/* Parses a name written by interval_quality_name. Returns 0, or -1 (out untouched). */
int interval_quality_parse(const char *name, enum interval_quality *out);
/* The worse of two qualities (the order of enum interval_quality). */
enum interval_quality interval_quality_worst(enum interval_quality a, enum interval_quality b);

/* The start of the HH period holding ts (floored to :00 or :30 UTC). */
int64_t interval_period_start(int64_t ts);
/* True when the register's reads cover all of the period: its first held read is at or before
 * start and its last at or after start + 30 min (consecutive reads always join up). */
bool interval_period_complete(int64_t start, int64_t first_read_ts, int64_t last_read_ts);
/* The quality of the period at start from the held reads around it: reads (ascending ts,
 * consecutive held reads) must include every read inside the period and the first at or after
 * its end when there is one. Worst over the segments touching it; missing when none does. */
enum interval_quality interval_period_quality(const struct interval_read *reads, size_t n,
                                              int64_t start);

/* Whether a read with value wh may be stored, given the read held at the same (register, ts) or
 * NULL. A conflict keeps the held value; the caller raises reading_conflict. */
enum interval_arrival interval_arrival(const struct interval_read *held, int64_t wh);

/* Sets r's inputs and the state of a read with no predecessor (baseline = wh, quality missing,
 * interval null). Call it on every new read before settling it. */
void interval_read_init(struct interval_read *r, int64_t ts, int64_t wh, bool estimated);

/* Judges segment a → b: uses a's ts, baseline_wh, estimated and b's ts, wh, estimated (b's
 * state is ignored). Returns 0 and fills out, or -1 (out untouched) on a.ts ≥ b.ts, a value or
 * ts outside [0, INTERVAL_WH_MAX] / [0, INTERVAL_TS_MAX], or rules out of range. */
int interval_segment_judge(const struct interval_rules *rules, const struct interval_read *a,
                           const struct interval_read *b, struct interval_segment *out);

#define INTERVAL_SETTLE_BASELINE 1  /* end's baseline changed: restate the segment after it */
#define INTERVAL_SETTLE_NEW_RESET 2 /* the segment ending here just became a reset: raise event */
/* Writes seg's outcome (baseline, quality, interval) into its end read's state. Returns the
 * INTERVAL_SETTLE_* flags of what changed. */
int interval_read_settle(struct interval_read *end, const struct interval_segment *seg);

/* Starts iterating over seg's shares (seg as filled by interval_segment_judge; copied, but its
 * profile stays borrowed and must outlive the iteration). */
void interval_split_begin(struct interval_split *it, const struct interval_segment *seg);
/* Yields the next period's share, in time order, and true; false when done. Every period the
 * segment overlaps is yielded, zero shares included; together they sum to energy_wh × 1000. */
bool interval_split_next(struct interval_split *it, struct interval_share *out);
/* Writes the first min(count, cap) shares of seg into out (out may be NULL when cap is 0).
 * Returns count, the number of periods seg overlaps, so a caller can size its buffer. */
size_t interval_segment_shares(const struct interval_segment *seg, struct interval_share *out,
                               size_t cap);

/* Parses the profile file's text: 48 lines `HH:MM,weight` (each UTC :00/:30 slot once, any order,
 * weight an integer 1–INTERVAL_WEIGHT_MAX); blank lines, `#` comments and CRLF are allowed.
 * Returns 0, or -1 with *bad_line (if not NULL) the 1-based line at fault (0: a slot is missing
 * or text is NULL); out is unspecified after a failure. */
int interval_profile_parse(const char *text, struct interval_profile *out, int *bad_line);
/* A profile of equal weights: shapes a long gap exactly like linear interpolation. */
void interval_profile_flat(struct interval_profile *out);

#endif
