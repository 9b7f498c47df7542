/* store_history.c — meter history rows and alert latches.
 *
 * "A row when the value changes" is judged against the row just before the new one in time, not
 * against the shadow: reports arrive late and out of order, and the history must read the same
 * whatever the arrival order. Inserts use ON CONFLICT DO NOTHING on the natural key, so a
 * redelivered report is a no-op. */
#include <stdio.h>
#include <string.h>

#include "isotime.h"
#include "store_history.h"
#include "store_internal.h"

/* ---- Alert state --------------------------------------------------------------------------- */

static const char SQL_STATE_LOAD[] =
    "SELECT last_seen, online, low_balance, clock_drift, future_activation_at"
    " FROM meter_state WHERE meter_id = ?1";
static const char SQL_STATE_SAVE[] =
    "INSERT INTO meter_state (meter_id, last_seen, online, low_balance, clock_drift,"
    " future_activation_at) VALUES (?1, ?2, ?3, ?4, ?5, ?6) ON CONFLICT (meter_id) DO UPDATE SET"
    " last_seen = excluded.last_seen, online = excluded.online,"
    " low_balance = excluded.low_balance, clock_drift = excluded.clock_drift,"
    " future_activation_at = excluded.future_activation_at";

int store_meter_state_load(struct store *st, const char *meter_id, struct store_meter_state *out)
{
    memset(out, 0, sizeof *out);
    out->online = true;
    sqlite3_stmt *s = store_prepare(st, SQL_STATE_LOAD);
    if (s == NULL)
        return STORE_ERROR;
    if (sqlite3_bind_text(s, 1, meter_id, -1, SQLITE_STATIC) != SQLITE_OK)
        return store_fail(st, SQLITE_ERROR, "bind");
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        out->found = true;
        out->last_seen = sqlite3_column_int64(s, 0);
        out->online = sqlite3_column_int(s, 1) != 0;
        out->low_balance = sqlite3_column_int(s, 2) != 0;
        out->clock_drift = sqlite3_column_int(s, 3) != 0;
        out->has_future_activation = sqlite3_column_type(s, 4) != SQLITE_NULL;
        out->future_activation_at = sqlite3_column_int64(s, 4);
        rc = sqlite3_step(s);
    }
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? STORE_OK : store_fail(st, rc, "load meter state");
}

int store_meter_state_save(struct store *st, const char *meter_id,
                           const struct store_meter_state *state)
{
    sqlite3_stmt *s = store_prepare(st, SQL_STATE_SAVE);
    if (s == NULL)
        return STORE_ERROR;
    int rc = sqlite3_bind_text(s, 1, meter_id, -1, SQLITE_STATIC) |
             sqlite3_bind_int64(s, 2, state->last_seen) | sqlite3_bind_int(s, 3, state->online) |
             sqlite3_bind_int(s, 4, state->low_balance) |
             sqlite3_bind_int(s, 5, state->clock_drift) |
             (state->has_future_activation ? sqlite3_bind_int64(s, 6, state->future_activation_at)
                                           : sqlite3_bind_null(s, 6));
    if (rc != SQLITE_OK)
        return store_fail(st, SQLITE_ERROR, "bind");
    return store_step_done(st, s, "save meter state");
}

static const char SQL_OFFLINE_DUE[] =
    "SELECT s.meter_id, m.serial, s.last_seen FROM meter_state s"
    " JOIN meter_registry m ON m.id = s.meter_id WHERE s.online = 1 AND s.last_seen < ?1"
    " ORDER BY s.last_seen LIMIT ?2";

int store_meters_due_offline(struct store *st, int64_t now, int64_t offline_after_s,
                             struct store_offline_meter *out, size_t cap, size_t *n)
{
    *n = 0;
    sqlite3_stmt *s = store_prepare(st, SQL_OFFLINE_DUE);
    if (s == NULL)
        return STORE_ERROR;
    if ((sqlite3_bind_int64(s, 1, now - offline_after_s) |
         sqlite3_bind_int64(s, 2, (int64_t)cap)) != SQLITE_OK)
        return store_fail(st, SQLITE_ERROR, "bind");
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW && *n < cap) {
        struct store_offline_meter *o = &out[(*n)++];
        snprintf(o->id, sizeof o->id, "%s", (const char *)sqlite3_column_text(s, 0));
        snprintf(o->serial, sizeof o->serial, "%s", (const char *)sqlite3_column_text(s, 1));
        o->last_seen = sqlite3_column_int64(s, 2);
    }
    sqlite3_reset(s);
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? STORE_OK : store_fail(st, rc, "offline meters");
}

/* ---- History rows -------------------------------------------------------------------------- */

/* Binds meter id and ISO timestamp as parameters 1 and 2. */
static int store_bind_meter_time(struct store *st, sqlite3_stmt *s, const char *meter_id,
                                 int64_t ts)
{
    char stamp[ISOTIME_LEN];
    int rc = sqlite3_bind_text(s, 1, meter_id, -1, SQLITE_STATIC) |
             sqlite3_bind_text(s, 2, isotime_format(ts, stamp), -1, SQLITE_TRANSIENT);
    return rc == SQLITE_OK ? STORE_OK : store_fail(st, SQLITE_ERROR, "bind");
}

/* Runs an INSERT … ON CONFLICT DO NOTHING and tells whether it added a row. */
static int store_insert(struct store *st, sqlite3_stmt *s, const char *what, bool *inserted)
{
    int rc = store_step_done(st, s, what);
    if (inserted)
        *inserted = rc == STORE_OK && sqlite3_changes(st->db) > 0;
    return rc;
}

static const char SQL_BALANCE_BEFORE[] =
    "SELECT balance_e5, emergency_credit_e5 FROM meter_prepay_balance_data"
    " WHERE meter_id = ?1 AND timestamp < ?2 ORDER BY timestamp DESC LIMIT 1";
static const char SQL_BALANCE_INSERT[] =
    "INSERT INTO meter_prepay_balance_data (meter_id, timestamp, balance_e5, emergency_credit_e5)"
    " VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING";

/* Binds an optional amount: the given one, else the one carried from the row before. */
static int store_bind_amount(sqlite3_stmt *s, int idx, const int64_t *value, sqlite3_stmt *prev,
                             int col, bool have_prev)
{
    if (value != NULL)
        return sqlite3_bind_int64(s, idx, *value);
    if (have_prev && sqlite3_column_type(prev, col) != SQLITE_NULL)
        return sqlite3_bind_int64(s, idx, sqlite3_column_int64(prev, col));
    return sqlite3_bind_null(s, idx);
}

static bool store_amount_same(const int64_t *value, sqlite3_stmt *prev, int col)
{
    if (value == NULL)
        return true;
    return sqlite3_column_type(prev, col) != SQLITE_NULL &&
           sqlite3_column_int64(prev, col) == *value;
}

int store_balance_add(struct store *st, const char *meter_id, int64_t ts, const int64_t *balance,
                      const int64_t *emergency_credit, bool *written)
{
    *written = false;
    sqlite3_stmt *prev = store_prepare(st, SQL_BALANCE_BEFORE);
    if (prev == NULL || store_bind_meter_time(st, prev, meter_id, ts) != STORE_OK)
        return STORE_ERROR;
    int rc = sqlite3_step(prev);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        sqlite3_reset(prev);
        return store_fail(st, rc, "previous balance");
    }
    bool have_prev = rc == SQLITE_ROW;
    if (have_prev && store_amount_same(balance, prev, 0) &&
        store_amount_same(emergency_credit, prev, 1)) {
        sqlite3_reset(prev);
        return STORE_OK;
    }
    sqlite3_stmt *s = store_prepare(st, SQL_BALANCE_INSERT);
    rc = s ? store_bind_meter_time(st, s, meter_id, ts) : STORE_ERROR;
    if (rc == STORE_OK &&
        (store_bind_amount(s, 3, balance, prev, 0, have_prev) |
         store_bind_amount(s, 4, emergency_credit, prev, 1, have_prev)) != SQLITE_OK)
        rc = store_fail(st, SQLITE_ERROR, "bind");
    sqlite3_reset(prev);
    return rc == STORE_OK ? store_insert(st, s, "insert balance", written) : rc;
}

static const char SQL_CSQ_INSERT[] =
    "INSERT INTO meter_csq (meter_id, timestamp, csq) VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING";
static const char SQL_VOLTAGE_INSERT[] = "INSERT INTO meter_voltage (meter_id, timestamp, voltage)"
                                         " VALUES (?1, ?2, ?3) ON CONFLICT DO NOTHING";
static const char SQL_VOLTAGE3_INSERT[] =
    "INSERT INTO meter_3p_voltage (meter_id, timestamp, voltage_l1, voltage_l2, voltage_l3)"
    " VALUES (?1, ?2, ?3, ?4, ?5) ON CONFLICT DO NOTHING";

int store_csq_add(struct store *st, const char *meter_id, int64_t ts, int csq)
{
    sqlite3_stmt *s = store_prepare(st, SQL_CSQ_INSERT);
    if (s == NULL || store_bind_meter_time(st, s, meter_id, ts) != STORE_OK)
        return STORE_ERROR;
    if (sqlite3_bind_int(s, 3, csq) != SQLITE_OK)
        return store_fail(st, SQLITE_ERROR, "bind");
    return store_insert(st, s, "insert csq", NULL);
}

int store_voltage_add(struct store *st, const char *meter_id, int64_t ts, double volts)
{
    sqlite3_stmt *s = store_prepare(st, SQL_VOLTAGE_INSERT);
    if (s == NULL || store_bind_meter_time(st, s, meter_id, ts) != STORE_OK)
        return STORE_ERROR;
    if (sqlite3_bind_double(s, 3, volts) != SQLITE_OK)
        return store_fail(st, SQLITE_ERROR, "bind");
    return store_insert(st, s, "insert voltage", NULL);
}

int store_voltage3_add(struct store *st, const char *meter_id, int64_t ts, const double l[3],
                       const bool has[3])
{
    sqlite3_stmt *s = store_prepare(st, SQL_VOLTAGE3_INSERT);
    if (s == NULL || store_bind_meter_time(st, s, meter_id, ts) != STORE_OK)
        return STORE_ERROR;
    int rc = SQLITE_OK;
    for (int i = 0; i < 3; i++)
        rc |= has[i] ? sqlite3_bind_double(s, 3 + i, l[i]) : sqlite3_bind_null(s, 3 + i);
    if (rc != SQLITE_OK)
        return store_fail(st, SQLITE_ERROR, "bind");
    return store_insert(st, s, "insert 3-phase voltage", NULL);
}

static const char SQL_HEALTH_BEFORE[] =
    "SELECT health FROM meter_health_history WHERE meter_id = ?1 AND timestamp < ?2"
    " ORDER BY timestamp DESC LIMIT 1";
static const char SQL_HEALTH_INSERT[] =
    "INSERT INTO meter_health_history (meter_id, timestamp, health, reason)"
    " VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING";

int store_health_add(struct store *st, const char *meter_id, int64_t ts, bool healthy,
                     const char *reason, bool *written, bool *changed)
{
    const char *health = healthy ? "healthy" : "unhealthy";
    *written = *changed = false;
    sqlite3_stmt *prev = store_prepare(st, SQL_HEALTH_BEFORE);
    if (prev == NULL || store_bind_meter_time(st, prev, meter_id, ts) != STORE_OK)
        return STORE_ERROR;
    int rc = sqlite3_step(prev);
    bool have_prev = rc == SQLITE_ROW;
    bool same = have_prev && strcmp((const char *)sqlite3_column_text(prev, 0), health) == 0;
    sqlite3_reset(prev);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return store_fail(st, rc, "previous health");
    if (same)
        return STORE_OK;
    sqlite3_stmt *s = store_prepare(st, SQL_HEALTH_INSERT);
    if (s == NULL || store_bind_meter_time(st, s, meter_id, ts) != STORE_OK)
        return STORE_ERROR;
    if ((sqlite3_bind_text(s, 3, health, -1, SQLITE_STATIC) |
         (reason ? sqlite3_bind_text(s, 4, reason, -1, SQLITE_STATIC) : sqlite3_bind_null(s, 4))) !=
        SQLITE_OK)
        return store_fail(st, SQLITE_ERROR, "bind");
    rc = store_insert(st, s, "insert health", written);
    *changed = *written && have_prev;
    return rc;
}

static const char SQL_EVENT_INSERT[] =
    "INSERT OR IGNORE INTO meter_event_log (meter_id, timestamp, event_type, details, source)"
    " VALUES (?1, ?2, ?3, ?4, ?5)";

int store_event_add(struct store *st, const char *meter_id, int64_t ts, const char *type,
                    const char *details, bool from_meter, bool *inserted)
{
    sqlite3_stmt *s = store_prepare(st, SQL_EVENT_INSERT);
    if (s == NULL || store_bind_meter_time(st, s, meter_id, ts) != STORE_OK)
        return STORE_ERROR;
    int rc =
        sqlite3_bind_text(s, 3, type, -1, SQLITE_STATIC) |
        (details ? sqlite3_bind_text(s, 4, details, -1, SQLITE_STATIC) : sqlite3_bind_null(s, 4)) |
        sqlite3_bind_text(s, 5, from_meter ? "meter" : "service", -1, SQLITE_STATIC);
    if (rc != SQLITE_OK)
        return store_fail(st, SQLITE_ERROR, "bind");
    return store_insert(st, s, "insert event", inserted);
}

static const char SQL_TARIFF_BEFORE[] =
    "SELECT tariff FROM meter_tariff_history WHERE meter_id = ?1 AND timestamp < ?2 AND kind = ?3"
    " ORDER BY timestamp DESC LIMIT 1";
static const char SQL_TARIFF_INSERT[] =
    "INSERT INTO meter_tariff_history (meter_id, timestamp, kind, tariff)"
    " VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING";

int store_tariff_history_add(struct store *st, const char *meter_id, int64_t ts, const char *kind,
                             const char *tariff)
{
    sqlite3_stmt *prev = store_prepare(st, SQL_TARIFF_BEFORE);
    if (prev == NULL || store_bind_meter_time(st, prev, meter_id, ts) != STORE_OK)
        return STORE_ERROR;
    if (sqlite3_bind_text(prev, 3, kind, -1, SQLITE_STATIC) != SQLITE_OK)
        return store_fail(st, SQLITE_ERROR, "bind");
    int rc = sqlite3_step(prev);
    bool same = rc == SQLITE_ROW && strcmp((const char *)sqlite3_column_text(prev, 0), tariff) == 0;
    sqlite3_reset(prev);
    if (rc != SQLITE_ROW && rc != SQLITE_DONE)
        return store_fail(st, rc, "previous tariff");
    if (same)
        return STORE_OK;
    sqlite3_stmt *s = store_prepare(st, SQL_TARIFF_INSERT);
    if (s == NULL || store_bind_meter_time(st, s, meter_id, ts) != STORE_OK)
        return STORE_ERROR;
    if ((sqlite3_bind_text(s, 3, kind, -1, SQLITE_STATIC) |
         sqlite3_bind_text(s, 4, tariff, -1, SQLITE_STATIC)) != SQLITE_OK)
        return store_fail(st, SQLITE_ERROR, "bind");
    return store_insert(st, s, "insert tariff history", NULL);
}
