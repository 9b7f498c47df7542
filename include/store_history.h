/* store_history.h — the store's meter history and per-meter alert state (part of store.h).
 *
 * Every writer is idempotent on its table's natural key (meter, timestamp): a redelivered message
 * adds nothing. Call them inside a write transaction (store_begin). Times are Unix seconds. */
#ifndef STORE_HISTORY_H
#define STORE_HISTORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store;

/* The service's latches for one meter (table meter_state). */
struct store_meter_state {
    bool found;        /* a row exists */
    int64_t last_seen; /* Unix seconds of the last message, 0 when none */
    bool online;
    bool low_balance;
    bool clock_drift;
    bool has_future_activation;
    int64_t future_activation_at;
};

int store_meter_state_load(struct store *st, const char *meter_id, struct store_meter_state *out);
int store_meter_state_save(struct store *st, const char *meter_id,
                           const struct store_meter_state *state);

/* Up to cap online meters not heard from since now - offline_after_s (id, serial, last_seen),
 * oldest first; *n is how many. The caller marks them offline with store_meter_state_save. */
struct store_offline_meter {
    char id[37];
    char serial[65];
    int64_t last_seen;
};
int store_meters_due_offline(struct store *st, int64_t now, int64_t offline_after_s,
                             struct store_offline_meter *out, size_t cap, size_t *n);

/* A balance row when either amount differs from the row before it in time (an absent amount
 * carries the previous one forward). Amounts in 1e-5 £. *written tells whether a row was added. */
int store_balance_add(struct store *st, const char *meter_id, int64_t ts, const int64_t *balance,
                      const int64_t *emergency_credit, bool *written);
int store_csq_add(struct store *st, const char *meter_id, int64_t ts, int csq);
int store_voltage_add(struct store *st, const char *meter_id, int64_t ts, double volts);
/* l[i] is used when has[i]; otherwise that phase is NULL. */
int store_voltage3_add(struct store *st, const char *meter_id, int64_t ts, const double l[3],
                       const bool has[3]);
/* A health row for the first health and each change from the row before it in time.
 * *changed is true when the row records a change from an earlier health (not the first). */
int store_health_add(struct store *st, const char *meter_id, int64_t ts, bool healthy,
                     const char *reason, bool *written, bool *changed);
/* An event row; from_meter de-duplicates on (meter, time, type), otherwise on the whole row.
 * *inserted is false for a duplicate. */
int store_event_add(struct store *st, const char *meter_id, int64_t ts, const char *type,
                    const char *details, bool from_meter, bool *inserted);
/* A tariff row when tariff (canonical JSON text) differs from the row of the same kind ("active"
 * or "future") before it in time. */
int store_tariff_history_add(struct store *st, const char *meter_id, int64_t ts, const char *kind,
                             const char *tariff);

#endif
