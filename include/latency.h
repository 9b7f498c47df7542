/* latency.h — a small fixed-size latency histogram with percentiles (for shadowd/stats).
 *
 * Log-linear buckets: each power of two is split into 8 equal sub-buckets, so any recorded value
 * is reported within 12.5% while the whole histogram stays a few kilobytes and recording is
 * O(1). Pure: values are plain integers (microseconds, by convention). */
#ifndef LATENCY_H
#define LATENCY_H

#include <stdint.h>

#define LATENCY_SUB 8
#define LATENCY_BUCKETS (64 * LATENCY_SUB)

struct latency_hist {
    uint64_t count[LATENCY_BUCKETS];
    uint64_t total;
};

void latency_init(struct latency_hist *h);
void latency_record(struct latency_hist *h, uint64_t value);
/* The smallest bucket bound below which at least p (0 < p ≤ 1) of the values fall; 0 when empty.
 * The result is the bucket's upper bound, so it never under-reports. */
uint64_t latency_percentile(const struct latency_hist *h, double p);

#endif
