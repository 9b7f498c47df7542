/* fuzz_intervals.c — libFuzzer target for the half-hourly interval engine (intervals.h).
 *
 * Input: [mode][rules: 5 bytes] then records of 6 bytes, one read each, in arrival order (any
 * ts order, duplicates and conflicts included). The reads are fed one by one through the
 * incremental recipe of intervals.h (steps 1–5: withdraw, judge, add, settle, restate along a
 * jitter chain) into per-period sums, as the store keeps them. Then the same set of reads is
 * judged from scratch in ts order. Properties, beyond "no crash":
 * - every judgement follows SPEC §6 (rise, jitter, plausible rollover, reset; quality; profile
 *   only for a long gap) and never gives negative energy;
 * - every split yields consecutive periods covering the segment, no negative share, shares
 *   summing to exactly energy × 1000 mWh, the same as interval_segment_shares;
 * - no period sum is ever negative; the incremental sums and read states equal the from-scratch
 *   ones exactly (a late read restates, never drifts), and the periods hold exactly the energy of
 *   the reads (conservation);
 * - interval_period_quality is the worst quality of the segments touching the period.
 * With the top bit of mode set, the rest is profile text for interval_profile_parse instead. */
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "intervals.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);               \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#define MAX_READS 64
#define RECORD 6
#define TS_UNIT 20                                /* a record's ts is base + 16 bits × 20 s */
#define SPAN_S ((int64_t)65535 * TS_UNIT)         /* ≈ 15 days */
#define NPERIODS (SPAN_S / INTERVAL_PERIOD_S + 3) /* every period a read range can touch */
#define DAY_S 86400

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct model {
    struct interval_rules rules;
    struct interval_profile profile;
    int64_t base_period; /* period index 0 */
    struct interval_read held[MAX_READS];
    size_t n;
    int64_t sum[NPERIODS]; /* mWh per period */
    int64_t lo, hi;        /* the period indices ever touched */
};

/* ---- a segment and its shares ---- */

static void check_judgement(const struct interval_rules *r, const struct interval_read *a,
                            const struct interval_read *b, const struct interval_segment *seg)
{
    int64_t base = a->baseline_wh, wh = b->wh, dt = b->ts - a->ts;
    CHECK(seg->start_ts == a->ts && seg->end_ts == b->ts && seg->energy_wh >= 0);
    enum interval_quality q = INTERVAL_ACTUAL;
    switch (seg->kind) {
    case INTERVAL_KIND_RISE:
        CHECK(wh >= base && seg->energy_wh == wh - base && seg->end_baseline_wh == wh);
        break;
    case INTERVAL_KIND_JITTER:
        CHECK(wh < base && base - wh <= INTERVAL_JITTER_WH);
        CHECK(seg->energy_wh == 0 && seg->end_baseline_wh == base);
        q = INTERVAL_NEGATIVE;
        break;
    case INTERVAL_KIND_ROLLOVER:
        CHECK(base - wh > INTERVAL_JITTER_WH && r->rollover_wh > 0 && base < r->rollover_wh);
        CHECK(seg->energy_wh == r->rollover_wh - base + wh && seg->end_baseline_wh == wh);
        /* physically plausible: energy ≤ max power × time (double is exact enough here) */
        CHECK((double)seg->energy_wh * 3600.0 <= (double)r->max_power_w * (double)dt * 1.000001);
        q = INTERVAL_ROLLOVER;
        break;
    case INTERVAL_KIND_RESET:
        CHECK(base - wh > INTERVAL_JITTER_WH);
        CHECK(seg->energy_wh == 0 && seg->end_baseline_wh == wh);
        q = INTERVAL_RESET;
        break;
    default:
        CHECK(!"unknown kind");
    }
    bool long_gap = dt > r->max_interpolate_s;
    if (long_gap || a->estimated || b->estimated)
        q = interval_quality_worst(q, INTERVAL_ESTIMATED);
    CHECK(seg->quality == q);
    CHECK(seg->profile == (long_gap ? r->profile : NULL));
}

/* Adds (sign 1) or withdraws (sign −1) a segment's shares; checks the split on the way. */
static void apply_shares(struct model *m, const struct interval_segment *seg, int sign)
{
    struct interval_split it;
    struct interval_share sh;
    interval_split_begin(&it, seg);
    int64_t expect = interval_period_start(seg->start_ts), total = 0;
    size_t count = 0;
    while (interval_split_next(&it, &sh)) {
        CHECK(sh.start == expect && sh.start < seg->end_ts && sh.mwh >= 0);
        int64_t idx = (sh.start - m->base_period) / INTERVAL_PERIOD_S;
        CHECK(idx >= 0 && idx < NPERIODS);
        m->sum[idx] += sign * sh.mwh;
        m->lo = idx < m->lo ? idx : m->lo;
        m->hi = idx > m->hi ? idx : m->hi;
        total += sh.mwh;
        expect += INTERVAL_PERIOD_S;
        count++;
    }
    CHECK(expect >= seg->end_ts); /* the last period holds end_ts − 1 */
    CHECK(total == seg->energy_wh * 1000);
    CHECK(interval_segment_shares(seg, NULL, 0) == count);
    if (count <= 8) {
        struct interval_share out[8];
        CHECK(interval_segment_shares(seg, out, 8) == count);
        interval_split_begin(&it, seg);
        for (size_t i = 0; i < count; i++) {
            CHECK(interval_split_next(&it, &sh));
            CHECK(out[i].start == sh.start && out[i].mwh == sh.mwh);
        }
    }
}

static struct interval_segment judge(const struct model *m, const struct interval_read *a,
                                     const struct interval_read *b)
{
    struct interval_segment seg;
    CHECK(interval_segment_judge(&m->rules, a, b, &seg) == 0);
    check_judgement(&m->rules, a, b, &seg);
    return seg;
}

/* ---- the incremental recipe of intervals.h ---- */

static void arrive(struct model *m, int64_t ts, int64_t wh, bool estimated)
{
    size_t pos = 0;
    while (pos < m->n && m->held[pos].ts < ts)
        pos++;
    /* 1. A read already held at ts. */
    if (pos < m->n && m->held[pos].ts == ts) {
        enum interval_arrival a = interval_arrival(&m->held[pos], wh);
        CHECK(a == (m->held[pos].wh == wh ? INTERVAL_DUPLICATE : INTERVAL_CONFLICT));
        return;
    }
    CHECK(interval_arrival(NULL, wh) == INTERVAL_NEW);
    if (m->n == MAX_READS)
        return;
    /* 2. */
    struct interval_read r;
    interval_read_init(&r, ts, wh, estimated);
    CHECK(r.baseline_wh == wh && r.quality == INTERVAL_MISSING &&
          r.interval_wh == INTERVAL_WH_NULL);
    bool has_prev = pos > 0, has_next = pos < m->n;
    /* 3. */
    if (has_prev && has_next) {
        struct interval_segment old = judge(m, &m->held[pos - 1], &m->held[pos]);
        apply_shares(m, &old, -1);
    }
    /* 4. */
    if (has_prev) {
        struct interval_segment seg = judge(m, &m->held[pos - 1], &r);
        apply_shares(m, &seg, 1);
        int flags = interval_read_settle(&r, &seg);
        CHECK(((flags & INTERVAL_SETTLE_NEW_RESET) != 0) == (seg.kind == INTERVAL_KIND_RESET));
    }
    /* 5. Store r, then restate along the chain after it. */
    memmove(&m->held[pos + 1], &m->held[pos], (m->n - pos) * sizeof m->held[0]);
    m->held[pos] = r;
    m->n++;
    for (size_t a = pos; a + 1 < m->n; a++) {
        struct interval_read old_b = m->held[a + 1];
        struct interval_segment seg = judge(m, &m->held[a], &m->held[a + 1]);
        apply_shares(m, &seg, 1);
        int flags = interval_read_settle(&m->held[a + 1], &seg);
        CHECK(((flags & INTERVAL_SETTLE_BASELINE) != 0) ==
              (old_b.baseline_wh != seg.end_baseline_wh));
        if (!(flags & INTERVAL_SETTLE_BASELINE) || a + 2 >= m->n)
            break;
        struct interval_segment stale = judge(m, &old_b, &m->held[a + 2]);
        apply_shares(m, &stale, -1);
    }
    for (int64_t i = m->lo; i <= m->hi; i++)
        CHECK(m->sum[i] >= 0);
}

/* ---- from scratch, and the comparison ---- */

static void check_against_scratch(struct model *m)
{
    static int64_t sum[NPERIODS];
    static struct interval_read reads[MAX_READS];
    memset(sum, 0, sizeof sum);
    int64_t energy = 0;
    for (size_t i = 0; i < m->n; i++) {
        interval_read_init(&reads[i], m->held[i].ts, m->held[i].wh, m->held[i].estimated);
        if (i > 0) {
            struct interval_segment seg;
            CHECK(interval_segment_judge(&m->rules, &reads[i - 1], &reads[i], &seg) == 0);
            interval_read_settle(&reads[i], &seg);
            /* reuse the split checks against a scratch model's sums */
            struct interval_split it;
            struct interval_share sh;
            interval_split_begin(&it, &seg);
            while (interval_split_next(&it, &sh))
                sum[(sh.start - m->base_period) / INTERVAL_PERIOD_S] += sh.mwh;
            energy += seg.energy_wh;
        }
        const struct interval_read *x = &m->held[i], *y = &reads[i];
        CHECK(x->baseline_wh == y->baseline_wh && x->quality == y->quality &&
              x->interval_wh == y->interval_wh);
        CHECK(i == 0 ? (y->interval_wh == INTERVAL_WH_NULL && y->quality == INTERVAL_MISSING)
                     : y->interval_wh >= 0);
    }
    int64_t total = 0;
    for (int64_t i = 0; i < NPERIODS; i++) {
        if (m->sum[i] != sum[i])
            fprintf(stderr, "period %lld: incremental %lld, from scratch %lld\n", (long long)i,
                    (long long)m->sum[i], (long long)sum[i]);
        CHECK(m->sum[i] == sum[i]);
        total += sum[i];
    }
    CHECK(total == energy * 1000); /* conservation */

    /* Quality and completeness of every period the reads reach, against a direct reading. */
    if (m->n == 0)
        return;
    int64_t first = interval_period_start(reads[0].ts);
    int64_t last = interval_period_start(reads[m->n - 1].ts);
    for (int64_t start = first; start <= last; start += INTERVAL_PERIOD_S) {
        enum interval_quality want = INTERVAL_MISSING;
        for (size_t i = 1; i < m->n; i++)
            if (reads[i].ts > start && reads[i - 1].ts < start + INTERVAL_PERIOD_S)
                want = interval_quality_worst(want, reads[i].quality);
        CHECK(interval_period_quality(reads, m->n, start) == want);
        bool complete = reads[0].ts <= start && reads[m->n - 1].ts >= start + INTERVAL_PERIOD_S;
        CHECK(interval_period_complete(start, reads[0].ts, reads[m->n - 1].ts) == complete);
    }
}

/* ---- extremes: segments spanning up to the whole range, invalid inputs ---- */

/* One segment anywhere in [0, INTERVAL_TS_MAX] with values anywhere in [0, INTERVAL_WH_MAX]:
 * the judgement must hold and the first shares be sane (the full split may be millions of
 * periods, so only its count and first few shares are checked). */
static void check_extremes(const struct model *m, const uint8_t *r)
{
    uint64_t x = 0;
    for (int i = 0; i < RECORD; i++)
        x = x << 8 | r[i];
    int64_t a_ts = (int64_t)(x % (uint64_t)INTERVAL_TS_MAX);
    int64_t b_ts = r[5] & 1 ? INTERVAL_TS_MAX : a_ts + 1 + (int64_t)(x >> 20) % 100000;
    if (b_ts > INTERVAL_TS_MAX)
        b_ts = INTERVAL_TS_MAX;
    if (a_ts >= b_ts)
        a_ts = b_ts - 1;
    struct interval_read a, b;
    interval_read_init(&a, a_ts, (int64_t)((x * 2654435761u) % (uint64_t)(INTERVAL_WH_MAX + 1)),
                       r[5] & 2);
    interval_read_init(&b, b_ts, (int64_t)((x * 40503u) % (uint64_t)(INTERVAL_WH_MAX + 1)),
                       r[5] & 4);
    if (r[5] & 8)
        b.wh = r[5] & 16 ? INTERVAL_WH_MAX : 0;
    struct interval_segment seg;
    CHECK(interval_segment_judge(&m->rules, &a, &b, &seg) == 0);
    check_judgement(&m->rules, &a, &b, &seg);
    size_t count = interval_segment_shares(&seg, NULL, 0);
    int64_t first = interval_period_start(a_ts), last = interval_period_start(b_ts - 1);
    CHECK(count == (size_t)((last - first) / INTERVAL_PERIOD_S) + 1);
    struct interval_split it;
    struct interval_share sh;
    interval_split_begin(&it, &seg);
    int64_t done = 0;
    for (int i = 0; i < 4 && interval_split_next(&it, &sh); i++) {
        CHECK(sh.start == first + i * INTERVAL_PERIOD_S && sh.mwh >= 0);
        done += sh.mwh;
        CHECK(done <= seg.energy_wh * 1000);
    }
    if (count <= 4)
        CHECK(done == seg.energy_wh * 1000);

    /* Refused: reversed or equal times, values or times out of range, rules out of range. */
    CHECK(interval_segment_judge(&m->rules, &b, &a, &seg) == -1);
    CHECK(interval_segment_judge(&m->rules, &a, &a, &seg) == -1);
    struct interval_read bad = b;
    bad.wh = INTERVAL_WH_MAX + 1;
    CHECK(interval_segment_judge(&m->rules, &a, &bad, &seg) == -1);
    bad = b;
    bad.ts = INTERVAL_TS_MAX + 1;
    CHECK(interval_segment_judge(&m->rules, &a, &bad, &seg) == -1);
    bad = a;
    bad.baseline_wh = -1;
    CHECK(interval_segment_judge(&m->rules, &bad, &b, &seg) == -1);
    struct interval_rules rules = m->rules;
    rules.max_interpolate_s = -1;
    CHECK(interval_segment_judge(&rules, &a, &b, &seg) == -1);
    rules = m->rules;
    rules.max_power_w = INTERVAL_POWER_MAX_W + 1;
    CHECK(interval_segment_judge(&rules, &a, &b, &seg) == -1);
    rules = m->rules;
    rules.rollover_wh = INTERVAL_WH_MAX + 1;
    CHECK(interval_segment_judge(&rules, &a, &b, &seg) == -1);
}

/* ---- input decoding ---- */

static uint32_t xorshift(uint32_t *s)
{
    *s ^= *s << 13;
    *s ^= *s >> 17;
    *s ^= *s << 5;
    return *s;
}

static void decode_rules(struct model *m, const uint8_t *r)
{
    static const int64_t moduli[8] = {0,       100000,          1000000,        10000000,
                                      1000000, 100000000000000, 99999999999999, 100000};
    m->rules.rollover_wh = r[0] % 8 == 0 ? 0 : moduli[r[0] % 8] + (r[0] >> 3) * 1000;
    if (m->rules.rollover_wh > INTERVAL_WH_MAX)
        m->rules.rollover_wh = INTERVAL_WH_MAX;
    m->rules.max_power_w = r[1] == 0     ? 0
                           : r[1] == 255 ? INTERVAL_POWER_MAX_W
                                         : (int64_t)r[1] * 1000;
    m->rules.max_interpolate_s = (int64_t)r[2] * 900;
    m->rules.profile = NULL;
    if (r[3] % 4 == 1) {
        interval_profile_flat(&m->profile);
        m->rules.profile = &m->profile;
    } else if (r[3] % 4 >= 2) {
        /* A profile as interval_profile_parse would build it, weights from a PRNG. */
        uint32_t seed = 0x9E3779B9u ^ r[3] ^ ((uint32_t)r[4] << 8);
        char text[48 * 16];
        size_t used = 0;
        for (int i = 0; i < INTERVAL_SLOTS; i++) {
            uint32_t w = r[3] % 4 == 2 ? 1 + xorshift(&seed) % 10
                                       : 1 + xorshift(&seed) % INTERVAL_WEIGHT_MAX;
            used += (size_t)snprintf(text + used, sizeof text - used, "%02d:%02d,%u\n", i / 2,
                                     i % 2 ? 30 : 0, (unsigned)w);
        }
        int bad = -1;
        CHECK(interval_profile_parse(text, &m->profile, &bad) == 0);
        m->rules.profile = &m->profile;
    }
}

static void fuzz_profile_text(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    CHECK(text != NULL);
    memcpy(text, data, size);
    text[size] = '\0';
    struct interval_profile p;
    int bad = -7;
    if (interval_profile_parse(text, &p, &bad) == 0) {
        CHECK(p.prefix[0] == 0);
        for (int i = 0; i < INTERVAL_SLOTS; i++) {
            CHECK(p.weight[i] >= 1 && p.weight[i] <= INTERVAL_WEIGHT_MAX);
            CHECK(p.prefix[i + 1] == p.prefix[i] + p.weight[i]);
        }
    } else {
        CHECK(bad >= 0);
    }
    free(text);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct model m;
    if (size < 6)
        return 0;
    if (data[0] & 0x80) {
        fuzz_profile_text(data + 1, size - 1);
        return 0;
    }
    memset(&m, 0, sizeof m);
    m.lo = NPERIODS;
    m.hi = -1;
    decode_rules(&m, data + 1);
    /* Where in time and value the reads lie: the ordinary, and both ends of the ranges. */
    static const int64_t bases[4] = {INT64_C(1795852800), 0, INTERVAL_TS_MAX - SPAN_S - 64,
                                     INT64_C(946684800) + 17};
    int64_t base_ts = bases[data[0] % 4];
    int64_t base_wh = (data[0] >> 2) % 4 == 0   ? 0
                      : (data[0] >> 2) % 4 == 1 ? INT64_C(12345678)
                      : (data[0] >> 2) % 4 == 2 ? INTERVAL_WH_MAX - INT64_C(100000000)
                                                : INT64_C(99999000);
    int64_t rate = 1 + ((data[0] >> 4) & 7) * 7; /* Wh per step: up to ~9 kW */
    m.base_period = interval_period_start(base_ts);

    for (size_t off = 6; off + RECORD <= size; off += RECORD) {
        const uint8_t *r = data + off;
        int64_t steps = (int64_t)r[0] | (int64_t)r[1] << 8;
        int64_t ts = base_ts + steps * TS_UNIT + (r[5] >> 6) * 7; /* off the step too */
        int64_t wh = base_wh + steps * rate;
        int32_t adj = (int32_t)((uint32_t)r[2] | (uint32_t)r[3] << 8 | (uint32_t)r[4] << 16);
        switch (r[5] & 7) {
        case 0:
        case 1:
            break; /* on the line */
        case 2:
            wh -= adj % (INTERVAL_JITTER_WH + 2); /* jitter, and just beyond it */
            break;
        case 3:
            wh = adj; /* anywhere: resets */
            break;
        case 4:
            if (m.rules.rollover_wh > 0)
                wh %= m.rules.rollover_wh; /* a register that wrapped */
            break;
        case 5:
            wh += adj; /* a burst */
            break;
        default:
            wh -= adj; /* a big drop */
            break;
        }
        if (wh < 0)
            wh = -wh;
        if (wh > INTERVAL_WH_MAX) {
            /* Out of range: refused, never judged. */
            struct interval_read a, b;
            interval_read_init(&a, ts, 0, false);
            interval_read_init(&b, ts + 1, wh, false);
            struct interval_segment seg;
            CHECK(interval_segment_judge(&m.rules, &a, &b, &seg) == -1);
            wh = INTERVAL_WH_MAX;
        }
        arrive(&m, ts, wh, (r[5] & 0x08) != 0);
    }
    check_against_scratch(&m);
    if (size >= 6 + RECORD)
        check_extremes(&m, data + 6);

    for (int q = INTERVAL_MISSING; q <= INTERVAL_RESET + 1; q++) {
        enum interval_quality back;
        const char *name = interval_quality_name((enum interval_quality)q);
        CHECK(name != NULL && interval_quality_parse(name, &back) == 0);
        CHECK(q > INTERVAL_RESET ? back == INTERVAL_MISSING : (int)back == q);
    }
    return 0;
}
