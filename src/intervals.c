/* intervals.c — half-hourly apportionment of cumulative register reads, and its quality.
 *
 * The idea: everything is decided per segment (two consecutive reads of a register), and a
 * segment is a pure function of its start read's stored state and its end read's value. A store
 * that adds a segment's shares when it appears and subtracts the very same shares when a late read
 * splits it keeps every period exact without ever recomputing a register's whole history.
 *
 * Exactness: energy is split in integer mWh by cumulative rounding — the k-th share is
 * round(E·X_k/T) − round(E·X_{k−1}/T), where X_k is the (time or profile-weighted) position of the
 * k-th period's end within the segment and T the whole — so the shares telescope to exactly E and
 * are never negative. The products need up to ~115 bits; they are done in two 64-bit halves so the
 * module needs no 128-bit type and no floating point.
 *
 * The one state that crosses segments is the baseline (high-water mark): a jitter decrease keeps
 * the previous baseline, so a segment is judged against its start read's baseline, not its raw
 * value. The store keeps the baseline per read; when a late read changes a later read's baseline,
 * interval_read_settle says so and the store restates the segment after it. */
#include "intervals.h"

#include <assert.h>
#include <string.h>

#define DAY_S 86400

/* ---- Quality ---------------------------------------------------------------------------- */

static const char *const quality_names[] = {
    [INTERVAL_MISSING] = "missing",     [INTERVAL_ACTUAL] = "actual",
    [INTERVAL_ESTIMATED] = "estimated", [INTERVAL_NEGATIVE] = "negative",
    [INTERVAL_ROLLOVER] = "rollover",   [INTERVAL_RESET] = "reset",
};

#define QUALITY_COUNT (sizeof quality_names / sizeof quality_names[0])

const char *interval_quality_name(enum interval_quality q)
{
    if ((size_t)q >= QUALITY_COUNT)
        return "missing";
    return quality_names[q];
}

int interval_quality_parse(const char *name, enum interval_quality *out)
{
    if (name == NULL)
        return -1;
    for (size_t i = 0; i < QUALITY_COUNT; i++) {
        if (strcmp(name, quality_names[i]) == 0) {
            *out = (enum interval_quality)i;
            return 0;
        }
    }
    return -1;
}

enum interval_quality interval_quality_worst(enum interval_quality a, enum interval_quality b)
{
    return a > b ? a : b;
}

/* The quality a judgement alone gives; estimation is added on top by the caller. */
static enum interval_quality kind_quality(enum interval_kind kind)
{
    switch (kind) {
    case INTERVAL_KIND_JITTER:
        return INTERVAL_NEGATIVE;
    case INTERVAL_KIND_ROLLOVER:
        return INTERVAL_ROLLOVER;
    case INTERVAL_KIND_RESET:
        return INTERVAL_RESET;
    case INTERVAL_KIND_RISE:
        break;
    }
    return INTERVAL_ACTUAL;
}

/* ---- Periods ---------------------------------------------------------------------------- */

int64_t interval_period_start(int64_t ts)
{
    int64_t r = ts % INTERVAL_PERIOD_S;
    return ts - (r < 0 ? r + INTERVAL_PERIOD_S : r); /* floor, also before 1970 */
}

bool interval_period_complete(int64_t start, int64_t first_read_ts, int64_t last_read_ts)
{
    return first_read_ts <= start && last_read_ts >= start + INTERVAL_PERIOD_S;
}

enum interval_quality interval_period_quality(const struct interval_read *reads, size_t n,
                                              int64_t start)
{
    /* Each read holds the quality of the segment ending at it; a segment touches the period when
     * it ends after start and begins before the end, i.e. it ends inside the period or is the
     * first to end at or after the period's end. */
    enum interval_quality q = INTERVAL_MISSING;
    for (size_t i = 0; i < n; i++) {
        if (reads[i].ts <= start)
            continue;
        q = interval_quality_worst(q, reads[i].quality);
        if (reads[i].ts >= start + INTERVAL_PERIOD_S)
            break;
    }
    return q;
}

/* ---- Reads ------------------------------------------------------------------------------ */

enum interval_arrival interval_arrival(const struct interval_read *held, int64_t wh)
{
    if (held == NULL)
        return INTERVAL_NEW;
    return held->wh == wh ? INTERVAL_DUPLICATE : INTERVAL_CONFLICT;
}

void interval_read_init(struct interval_read *r, int64_t ts, int64_t wh, bool estimated)
{
    r->ts = ts;
    r->wh = wh;
    r->estimated = estimated;
    r->baseline_wh = wh;
    r->quality = INTERVAL_MISSING;
    r->interval_wh = INTERVAL_WH_NULL;
}

int interval_read_settle(struct interval_read *end, const struct interval_segment *seg)
{
    int flags = 0;
    if (end->baseline_wh != seg->end_baseline_wh)
        flags |= INTERVAL_SETTLE_BASELINE;
    if (seg->kind == INTERVAL_KIND_RESET && end->quality != INTERVAL_RESET)
        flags |= INTERVAL_SETTLE_NEW_RESET;
    end->baseline_wh = seg->end_baseline_wh;
    end->quality = seg->quality;
    end->interval_wh = seg->energy_wh;
    return flags;
}

/* ---- Exact arithmetic ------------------------------------------------------------------- */

struct u128 {
    uint64_t hi, lo;
};

static struct u128 mul_u64(uint64_t a, uint64_t b)
{
    const uint64_t m = 0xffffffffu;
    uint64_t p00 = (a & m) * (b & m), p01 = (a & m) * (b >> 32);
    uint64_t p10 = (a >> 32) * (b & m), p11 = (a >> 32) * (b >> 32);
    uint64_t mid = (p00 >> 32) + (p01 & m) + (p10 & m); /* < 3·2^32: no overflow */
    struct u128 r = {p11 + (p01 >> 32) + (p10 >> 32) + (mid >> 32), (mid << 32) | (p00 & m)};
    return r;
}

/* n / d by shift and subtract; requires n.hi < d so the quotient fits 64 bits. */
static uint64_t div_u128(struct u128 n, uint64_t d)
{
    if (n.hi == 0)
        return n.lo / d;
    uint64_t q = 0, rem = n.hi;
    for (int i = 63; i >= 0; i--) {
        bool carry = rem >> 63;
        rem = (rem << 1) | ((n.lo >> i) & 1u);
        q <<= 1;
        if (carry || rem >= d) {
            rem -= d;
            q |= 1u;
        }
    }
    return q;
}

/* round(e·x/t), halves up, for 0 ≤ x ≤ t, t > 0: the energy up to position x of a segment. */
static int64_t energy_upto(int64_t e, int64_t x, int64_t t)
{
    assert(e >= 0 && x >= 0 && x <= t && t > 0);
    struct u128 n = mul_u64((uint64_t)e, (uint64_t)x);
    uint64_t lo = n.lo + (uint64_t)t / 2;
    n.hi += lo < n.lo; /* carry */
    n.lo = lo;
    return (int64_t)div_u128(n, (uint64_t)t); /* ≤ e + 1 since x ≤ t: hi < t holds */
}

/* ---- Profile ---------------------------------------------------------------------------- */

static void profile_sum(struct interval_profile *p)
{
    p->prefix[0] = 0;
    for (int i = 0; i < INTERVAL_SLOTS; i++)
        p->prefix[i + 1] = p->prefix[i] + p->weight[i];
}

void interval_profile_flat(struct interval_profile *out)
{
    for (int i = 0; i < INTERVAL_SLOTS; i++)
        out->weight[i] = 1;
    profile_sum(out);
}

/* Profile-weighted seconds since 1970-01-01T00:00Z: each second counts its slot's weight. With
 * weights ≤ INTERVAL_WEIGHT_MAX and ts ≤ INTERVAL_TS_MAX this stays below 2^55. */
static int64_t profile_position(const struct interval_profile *p, int64_t ts)
{
    int64_t day = ts / DAY_S, sec = ts % DAY_S;
    int slot = (int)(sec / INTERVAL_PERIOD_S);
    return day * p->prefix[INTERVAL_SLOTS] * INTERVAL_PERIOD_S +
           p->prefix[slot] * INTERVAL_PERIOD_S + (sec - slot * INTERVAL_PERIOD_S) * p->weight[slot];
}

static bool profile_valid(const struct interval_profile *p)
{
    return p->prefix[INTERVAL_SLOTS] > 0 &&
           p->prefix[INTERVAL_SLOTS] <= (int64_t)INTERVAL_SLOTS * INTERVAL_WEIGHT_MAX;
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Reads "HH:MM,weight" (then optional blanks) from line[0, len). Returns 0 or -1. */
static int parse_line(const char *s, size_t len, int *slot, uint32_t *weight)
{
    while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
        len--;
    if (len < 7 || len > 12 || !is_digit(s[0]) || !is_digit(s[1]) || s[2] != ':' ||
        (s[3] != '0' && s[3] != '3') || s[4] != '0' || s[5] != ',')
        return -1;
    int hour = (s[0] - '0') * 10 + (s[1] - '0');
    if (hour > 23)
        return -1;
    uint32_t w = 0;
    for (size_t i = 6; i < len; i++) {
        if (!is_digit(s[i]))
            return -1;
        w = w * 10 + (uint32_t)(s[i] - '0'); /* at most 6 digits: no overflow */
    }
    if (w == 0 || w > INTERVAL_WEIGHT_MAX)
        return -1;
    *slot = hour * 2 + (s[3] == '3');
    *weight = w;
    return 0;
}

static bool line_is_blank_or_comment(const char *s, size_t len)
{
    while (len > 0 && (*s == ' ' || *s == '\t')) {
        s++;
        len--;
    }
    return len == 0 || *s == '#';
}

static int profile_fail(int *bad_line, int line)
{
    if (bad_line != NULL)
        *bad_line = line;
    return -1;
}

int interval_profile_parse(const char *text, struct interval_profile *out, int *bad_line)
{
    if (text == NULL)
        return profile_fail(bad_line, 0);
    bool seen[INTERVAL_SLOTS] = {false};
    int line = 0;
    for (const char *s = text; *s != '\0';) {
        const char *nl = strchr(s, '\n');
        size_t len = nl != NULL ? (size_t)(nl - s) : strlen(s);
        line++;
        size_t body = len > 0 && s[len - 1] == '\r' ? len - 1 : len;
        if (!line_is_blank_or_comment(s, body)) {
            int slot;
            uint32_t w;
            if (parse_line(s, body, &slot, &w) != 0 || seen[slot])
                return profile_fail(bad_line, line);
            seen[slot] = true;
            out->weight[slot] = w;
        }
        s += len + (nl != NULL);
    }
    for (int i = 0; i < INTERVAL_SLOTS; i++)
        if (!seen[i])
            return profile_fail(bad_line, 0);
    profile_sum(out);
    return 0;
}

/* ---- Judgement -------------------------------------------------------------------------- */

static bool value_valid(int64_t v, int64_t max)
{
    return v >= 0 && v <= max;
}

static bool rules_valid(const struct interval_rules *r)
{
    return value_valid(r->rollover_wh, INTERVAL_WH_MAX) &&
           value_valid(r->max_power_w, INTERVAL_POWER_MAX_W) && r->max_interpolate_s >= 0 &&
           (r->profile == NULL || profile_valid(r->profile));
}

/* prev → modulus → current is a rollover when the energy it implies could have flowed in dt at
 * max power: energy·3600 ≤ P·dt (Wh, W, s), all exact in int64 within the validated ranges. */
static bool rollover_plausible(const struct interval_rules *r, int64_t base, int64_t wh, int64_t dt)
{
    if (r->rollover_wh == 0 || base >= r->rollover_wh || r->max_power_w == 0)
        return false;
    int64_t energy = r->rollover_wh - base + wh;
    if (dt > INT64_MAX / r->max_power_w)
        return true; /* P·dt beyond int64 dwarfs any energy·3600 (< 2^60) */
    return energy * 3600 <= r->max_power_w * dt;
}

/* Sets kind, energy and the end baseline of a change from baseline base to reported wh. */
static void judge_change(const struct interval_rules *r, int64_t base, int64_t wh, int64_t dt,
                         struct interval_segment *seg)
{
    if (wh >= base) {
        seg->kind = INTERVAL_KIND_RISE;
        seg->energy_wh = wh - base;
        seg->end_baseline_wh = wh;
    } else if (base - wh <= INTERVAL_JITTER_WH) {
        seg->kind = INTERVAL_KIND_JITTER; /* high-water mark kept: the next rise counts from it */
        seg->energy_wh = 0;
        seg->end_baseline_wh = base;
    } else if (rollover_plausible(r, base, wh, dt)) {
        seg->kind = INTERVAL_KIND_ROLLOVER;
        seg->energy_wh = r->rollover_wh - base + wh;
        seg->end_baseline_wh = wh;
    } else {
        seg->kind = INTERVAL_KIND_RESET; /* energy before the reset is unknowable: none invented */
        seg->energy_wh = 0;
        seg->end_baseline_wh = wh;
    }
}

int interval_segment_judge(const struct interval_rules *rules, const struct interval_read *a,
                           const struct interval_read *b, struct interval_segment *out)
{
    if (!rules_valid(rules) || !value_valid(a->ts, INTERVAL_TS_MAX) ||
        !value_valid(b->ts, INTERVAL_TS_MAX) || a->ts >= b->ts ||
        !value_valid(a->baseline_wh, INTERVAL_WH_MAX) || !value_valid(b->wh, INTERVAL_WH_MAX))
        return -1;
    struct interval_segment seg = {.start_ts = a->ts, .end_ts = b->ts, .profile = NULL};
    int64_t dt = b->ts - a->ts;
    judge_change(rules, a->baseline_wh, b->wh, dt, &seg);
    seg.quality = kind_quality(seg.kind);
    bool long_gap = dt > rules->max_interpolate_s;
    if (long_gap || a->estimated || b->estimated)
        seg.quality = interval_quality_worst(seg.quality, INTERVAL_ESTIMATED);
    if (long_gap)
        seg.profile = rules->profile;
    *out = seg;
    return 0;
}

/* ---- Split ------------------------------------------------------------------------------ */

/* Where ts lies within the segment, in the unit the split is proportional to. */
static int64_t segment_position(const struct interval_segment *seg, int64_t ts)
{
    if (seg->profile == NULL)
        return ts - seg->start_ts;
    return profile_position(seg->profile, ts) - profile_position(seg->profile, seg->start_ts);
}

void interval_split_begin(struct interval_split *it, const struct interval_segment *seg)
{
    assert(seg->start_ts < seg->end_ts && seg->energy_wh >= 0);
    it->seg = *seg;
    it->period = interval_period_start(seg->start_ts);
    it->total = segment_position(seg, seg->end_ts);
    it->done_mwh = 0;
}

bool interval_split_next(struct interval_split *it, struct interval_share *out)
{
    const struct interval_segment *seg = &it->seg;
    if (it->period >= seg->end_ts)
        return false;
    int64_t end = it->period + INTERVAL_PERIOD_S;
    if (end > seg->end_ts)
        end = seg->end_ts;
    int64_t upto = energy_upto(seg->energy_wh * 1000, segment_position(seg, end), it->total);
    out->start = it->period;
    out->mwh = upto - it->done_mwh;
    it->done_mwh = upto;
    it->period += INTERVAL_PERIOD_S;
    return true;
}

size_t interval_segment_shares(const struct interval_segment *seg, struct interval_share *out,
                               size_t cap)
{
    int64_t first = interval_period_start(seg->start_ts);
    int64_t last = interval_period_start(seg->end_ts - 1);
    size_t count = (size_t)((last - first) / INTERVAL_PERIOD_S) + 1;
    struct interval_split it;
    interval_split_begin(&it, seg);
    for (size_t i = 0; i < count && i < cap; i++)
        interval_split_next(&it, &out[i]);
    return count;
}
