/* health.c — liveness and alert rules (SPEC §9). Pure; the latches live in the store. */
#include "health.h"

enum health_transition health_latch(bool latched, bool condition)
{
    if (condition == latched)
        return HEALTH_STEADY;
    return condition ? HEALTH_RAISED : HEALTH_CLEARED;
}

bool health_balance_low(int64_t balance, int64_t threshold)
{
    return balance < threshold;
}

bool health_clock_drifting(int64_t diff_s, int64_t alert_s)
{
    /* Compare magnitudes without negating INT64_MIN. */
    return diff_s >= alert_s || diff_s <= -alert_s;
}

bool health_offline(int64_t last_seen, int64_t now, int64_t offline_after_s)
{
    return now - last_seen > offline_after_s;
}
