/* meter_model.h — the synthetic fleet every benchmark shares.
 *
 * Meter i is serial BENCH0000i (MODEL_SERIAL_FMT) with registers A and B. Each register flow has
 * a constant average power, so its cumulative value is a pure function of time. A history written
 * straight into the store by `intervals` and reports sent later over MQTT by `loadgen` therefore
 * continue one another: no reset, no jitter, no conflict, whichever program wrote which hours.
 * Header-only (static inline) so the two programs need no common object file. */
#ifndef BENCH_METER_MODEL_H
#define BENCH_METER_MODEL_H

#include <stdint.h>

#define MODEL_SERIAL_FMT "BENCH%07u"
#define MODEL_SERIAL_SCAN "BENCH%7u"
#define MODEL_EPOCH INT64_C(1735689600) /* 2025-01-01T00:00:00Z: all registers at their base */

enum model_flow { MODEL_IMPORT = 0, MODEL_EXPORT = 1 };

/* Average power (W) of one register flow: 50 … 1250 W import, 0 … 300 W export, spread over
 * meters by a multiplicative hash so neighbouring meters differ. element: 0 = A, 1 = B. */
static inline int64_t model_power_w(unsigned meter, int element, enum model_flow flow)
{
    uint32_t h = (meter * 2654435761u) ^ ((uint32_t)(element * 2 + (int)flow) * 40503u);
    h ^= h >> 15;
    return flow == MODEL_IMPORT ? 50 + (int64_t)(h % 1200) : (int64_t)(h % 300);
}

/* The cumulative register value in Wh at ts (ts ≥ MODEL_EPOCH): never decreases. */
static inline int64_t model_wh(unsigned meter, int element, enum model_flow flow, int64_t ts)
{
    int64_t base = 1000000 + (int64_t)(meter % 1000) * 1000; /* 1000 … 1999 kWh at the epoch */
    return base + model_power_w(meter, element, flow) * (ts - MODEL_EPOCH) / 3600;
}

/* Prepayment balance in pence at ts: falls a penny a half-hour from £50.00 to £20.01, then is
 * topped up; always above the default low-balance alert, so no alert events are raised. */
static inline int64_t model_balance_p(unsigned meter, int64_t ts)
{
    return 5000 - ((ts - MODEL_EPOCH) / 1800 + meter) % 3000;
}

#endif
