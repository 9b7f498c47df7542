/* latency.c — log-linear histogram: bucket = (power of two, 1 of 8 sub-ranges). */
#include "latency.h"

#include <string.h>

void latency_init(struct latency_hist *h)
{
    memset(h, 0, sizeof *h);
}

/* Values below LATENCY_SUB map one to one; above, by their top bit and the next three bits. */
static unsigned latency_bucket(uint64_t v)
{
    if (v < LATENCY_SUB)
        return (unsigned)v;
    unsigned top = 63u - (unsigned)__builtin_clzll(v); /* ≥ 3 */
    unsigned sub = (unsigned)(v >> (top - 3)) & (LATENCY_SUB - 1);
    return (top - 2) * LATENCY_SUB + sub;
}

/* The largest value that falls into bucket b. */
static uint64_t latency_bucket_max(unsigned b)
{
    if (b < LATENCY_SUB)
        return b;
    unsigned top = b / LATENCY_SUB + 2;
    uint64_t sub = b % LATENCY_SUB;
    uint64_t low = (UINT64_C(1) << top) | (sub << (top - 3));
    return low + (UINT64_C(1) << (top - 3)) - 1;
}

void latency_record(struct latency_hist *h, uint64_t value)
{
    h->count[latency_bucket(value)]++;
    h->total++;
}

uint64_t latency_percentile(const struct latency_hist *h, double p)
{
    if (h->total == 0)
        return 0;
    uint64_t rank = (uint64_t)(p * (double)h->total + 0.999999);
    if (rank == 0)
        rank = 1;
    uint64_t seen = 0;
    for (unsigned b = 0; b < LATENCY_BUCKETS; b++) {
        seen += h->count[b];
        if (seen >= rank)
            return latency_bucket_max(b);
    }
    return latency_bucket_max(LATENCY_BUCKETS - 1);
}
