/* store_intervals.h — register reads, their half-hourly periods, and the circuit buckets built on
 * them (SPEC §5, §6, §10): the persistent side of intervals.h and aggregates.h.
 *
 * Every call here runs inside the caller's write transaction (store_begin … store_commit) and
 * returns STORE_OK or a negative store_status with store_errmsg set. After an error the
 * transaction may hold part of the work: the caller must roll it back, never commit it.
 *
 * Cost: a read touches the periods between its held neighbours (and along a chain of jitter reads
 * after it), the circuit half-hours over those periods, and the local days and months holding
 * them; every lookup is by primary key or a short indexed range, so the cost does not grow with
 * the number of reads already held. */
#ifndef STORE_INTERVALS_H
#define STORE_INTERVALS_H

#include <stdbool.h>
#include <stdint.h>

#include "aggregates.h"
#include "intervals.h"
#include "store.h"
#include "tzone.h"

/* A register's import or export series, after direction_reversed (the caller swaps). */
enum store_flow { STORE_FLOW_IMPORT, STORE_FLOW_EXPORT };

struct store_read_result {
    enum interval_arrival arrival; /* NEW; DUPLICATE: nothing changed; CONFLICT: first kept */
    int64_t held_wh;               /* on CONFLICT: the value kept */
    bool reset;                    /* a segment just became a reset: raise register_reset */
    int restated;                  /* already-stored register periods whose energy or quality
                                      changed (restated_intervals) */
};

/* Applies one cumulative read of one register flow: wh Wh (0 … INTERVAL_WH_MAX) taken at ts
 * (Unix seconds, 0 … INTERVAL_TS_MAX), estimated when it is not an actual meter read. Writes its
 * register_reads row, the register_periods it changes (the incremental recipe of intervals.h),
 * then the circuit_hh, circuit_daily and circuit_monthly buckets of every circuit the register
 * maps to at each changed period (start_time ≤ period < end_time), local to tz. Adds every circuit
 * bucket it rewrote to changes (deduplicated; NULL: not wanted). register_id, rules and tz are
 * borrowed. A DUPLICATE or CONFLICT changes nothing. Fails with STORE_ERROR for a ts or wh out of
 * range, an unknown register (foreign key), or rules the engine refuses. */
int store_register_read(struct store *st, const char *register_id, enum store_flow flow, int64_t ts,
                        int64_t wh, bool estimated, const struct interval_rules *rules,
                        const struct tzone *tz, struct aggregate_key_set *changes,
                        struct store_read_result *out);

/* One register period that changed: its flow's value before (absent when new) and after. */
struct store_period_change {
    int64_t start;
    enum store_flow flow;
    struct aggregate_flow_value before, after;
};

/* Moves the circuit HH buckets of every circuit register_id maps to at each changed period by the
 * register's difference, then the local days and months holding them by theirs (or folds a
 * bucket again from its parts when it is new or its counts are unknown). store_register_read
 * calls it for the periods it changed, after saving them. Adds rewritten buckets to changes
 * (NULL: not wanted). */
int store_circuit_periods_changed(struct store *st, const char *register_id,
                                  const struct store_period_change *changed, size_t n,
                                  const struct tzone *tz, struct aggregate_key_set *changes);

/* Recomputes circuit_id's HH buckets over periods in [from, to) — each one held, and each one a
 * register now mapped to the circuit (for any time) holds a value for — then their days and
 * months. For the registry: after a circuit_register row is added, changed or removed, call it
 * with the union of the row's old and new [start, end). A held bucket no register counts toward
 * any more is kept with zero energy and registers = 0 (and a higher revision), so its removal is
 * published. Cost grows with the range, not with history outside it. */
int store_circuit_refresh(struct store *st, const char *circuit_id, int64_t from, int64_t to,
                          const struct tzone *tz, struct aggregate_key_set *changes);

/* Loads the bucket key names into *out, for publishing (SPEC §3.2 circuits/{id}/hh|daily|monthly;
 * a month's hh_count is the sum over its days). *found is false, and *out zeroed, when there is
 * no such bucket. */
int store_circuit_bucket_load(struct store *st, const struct aggregate_key *key,
                              struct aggregate_bucket *out, bool *found);

#endif
