/* health.h — the liveness and alert rules of SPEC §9, as pure decisions.
 *
 * Each alert is a latch: it fires once when its condition starts to hold and re-arms only when
 * the condition has cleared, so a meter hovering below a threshold raises one event, not one per
 * report. The caller stores the latches (meter_state) and acts on the transitions. */
#ifndef HEALTH_H
#define HEALTH_H

#include <stdbool.h>
#include <stdint.h>

enum health_transition {
    HEALTH_STEADY = 0, /* no change */
    HEALTH_RAISED,     /* condition started: raise the event, set the latch */
    HEALTH_CLEARED,    /* condition ended: clear the latch, no event */
};

/* The next state of a latch that was `latched`, given whether its condition holds now. */
enum health_transition health_latch(bool latched, bool condition);

/* balance < threshold, both in 1e-5 £. */
bool health_balance_low(int64_t balance, int64_t threshold);

/* |clock_time_diff_seconds| ≥ alert_s. */
bool health_clock_drifting(int64_t diff_s, int64_t alert_s);

/* A meter last heard from at last_seen is offline at now when more than offline_after_s passed. */
bool health_offline(int64_t last_seen, int64_t now, int64_t offline_after_s);

#endif
