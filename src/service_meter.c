/* service_meter.c — the meter domain of an update: registry gate, known fields, history, alerts.
 *
 * A report is validated whole before anything is written (SPEC §5: nothing half-applies); then,
 * inside the update's transaction, each known field is projected into its history table, register
 * reads go through the interval engine, and alert latches turn crossings into events. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "health.h"
#include "isotime.h"
#include "log.h"
#include "service_internal.h"

/* ---- Validation ---------------------------------------------------------------------------- */

static int service_meter_validate_desired(const cJSON *state, struct api_error *err)
{
    const cJSON *future = cJSON_GetObjectItemCaseSensitive(state, "tariffs_future");
    struct tariff tariff;
    if (future == NULL || cJSON_IsNull(future))
        return 0;
    return tariff_parse(future, true, &tariff, err);
}

int service_meter_validate(struct service *svc, const struct service_msg *m,
                           struct fields_reported *fields, struct api_error *err)
{
    (void)svc;
    memset(fields, 0, sizeof *fields);
    if (m->action == TOPIC_REPORTED)
        return fields_parse_reported(m->req->state, fields, err);
    if (m->action == TOPIC_DESIRED && cJSON_IsObject(m->req->state))
        return service_meter_validate_desired(m->req->state, err);
    return 0;
}

void service_meter_want(const struct fields_reported *f, struct service_want *want)
{
    static const char *const names[4] = {"import_a", "import_b", "export_a", "export_b"};
    memset(want, 0, sizeof *want);
    for (int id = FIELDS_IMPORT_A; id <= FIELDS_EXPORT_B; id++) {
        int element = (id == FIELDS_IMPORT_B || id == FIELDS_EXPORT_B) ? 1 : 0;
        if (fields_has(f, (enum fields_id)id) && !want->element[element]) {
            want->element[element] = true;
            want->field[element] = names[id];
        }
    }
}

/* ---- Registry gate ------------------------------------------------------------------------- */

/* The register of element 'A' (or SINGLE) or 'B', or NULL. */
static const struct store_register *service_meter_register(const struct store_meter *meter,
                                                           char element)
{
    for (size_t i = 0; i < meter->register_count; i++) {
        const char *e = meter->registers[i].element;
        if ((element == 'A' && (strcmp(e, "A") == 0 || strcmp(e, "SINGLE") == 0)) ||
            (element == 'B' && strcmp(e, "B") == 0))
            return &meter->registers[i];
    }
    return NULL;
}

/* The wanted elements the meter has no register for, as "A"/"B" strings. */
static size_t service_meter_missing(const struct store_meter *meter,
                                    const struct service_want *want, const char *missing[2])
{
    static const char *const names[2] = {"A", "B"};
    size_t n = 0;
    for (int i = 0; i < 2; i++)
        if (want->element[i] && service_meter_register(meter, names[i][0]) == NULL)
            missing[n++] = names[i];
    return n;
}

int service_meter_resolve(struct service *svc, const struct service_msg *m,
                          const struct service_want *want, struct store_meter *meter,
                          struct api_error *err)
{
    const char *missing[2];
    bool provision = svc->cfg->unknown_meters == UNKNOWN_METERS_PROVISION;
    if (store_meter_lookup(svc->store, m->serial, meter) != STORE_OK)
        return api_error_set(err, 500, "Internal failure");
    if (!meter->found && !provision)
        return api_error_set(err, 404, "Meter not registered: %s", m->serial);
    if (want == NULL)
        return 0;
    size_t n = meter->found ? service_meter_missing(meter, want, missing) : 0;
    if (!meter->found) {
        for (int i = 0; i < 2; i++)
            if (want->element[i])
                missing[n++] = i == 0 ? "A" : "B";
    }
    if (n == 0 && meter->found)
        return 0;
    if (!provision) {
        int element = strcmp(missing[0], "A") == 0 ? 0 : 1;
        return api_error_set(err, 400, "Invalid field: %s (meter has no register %s)",
                             want->field[element], missing[0]);
    }
    if (store_meter_provision(svc->store, m->serial, missing, n, m->now, meter) != STORE_OK)
        return api_error_set(err, 500, "Internal failure");
    log_msg(LOG_INFO, "registry", "provisioned serial=%s registers=%zu", m->serial, n);
    return 0;
}

int service_meter_check_desired(const struct store_meter *meter, const struct service_msg *m,
                                struct api_error *err)
{
    if (!meter->found || !meter->passive || !cJSON_IsObject(m->req->state))
        return 0;
    for (const cJSON *item = m->req->state->child; item != NULL; item = item->next)
        if (fields_is_reported_only(item->string))
            return api_error_set(err, 403, "Forbidden");
    return 0;
}

/* ---- Registers ----------------------------------------------------------------------------- */

static void service_meter_read_event(struct service_msg *m, const struct store_meter *meter,
                                     const char *type, const struct store_register *reg,
                                     bool import_flow, int64_t ts)
{
    cJSON *ev = service_event_raise(m, meter->id, type, ts);
    if (ev == NULL)
        return;
    cJSON_AddStringToObject(ev, "register_id", reg->id);
    cJSON_AddStringToObject(ev, "element", reg->element);
    cJSON_AddStringToObject(ev, "flow", import_flow ? "import" : "export");
}

int service_meter_register_read(struct service *svc, struct service_msg *m,
                                const struct store_meter *meter, char element, bool is_import,
                                int64_t ts, int64_t wh, bool estimated,
                                struct store_read_result *result)
{
    const struct store_register *reg = service_meter_register(meter, element);
    if (reg == NULL)
        return -1; /* resolve guarantees it; a missing register here is a bug upstream */
    /* direction_reversed swaps import and export before anything else (SPEC §6). */
    bool import_flow = is_import != reg->direction_reversed;
    struct interval_rules rules = {
        .rollover_wh = reg->rollover_wh,
        .max_power_w = meter->max_power_w > 0 ? meter->max_power_w
                                              : (int64_t)(svc->cfg->default_max_kw * 1000.0),
        .max_interpolate_s = svc->cfg->max_interpolate_h * 3600,
        .profile = &svc->profile,
    };
    if (store_register_read(svc->store, reg->id,
                            import_flow ? STORE_FLOW_IMPORT : STORE_FLOW_EXPORT, ts, wh, estimated,
                            &rules, &svc->tz, &svc->bucket_changes, result) != STORE_OK)
        return -1;
    if (result->arrival == INTERVAL_CONFLICT) {
        service_meter_read_event(m, meter, "reading_conflict", reg, import_flow, ts);
        cJSON *ev = m->event_count ? m->events[m->event_count - 1].payload : NULL;
        if (ev != NULL) {
            cJSON_AddNumberToObject(ev, "kept_kwh", (double)result->held_wh / 1000.0);
            cJSON_AddNumberToObject(ev, "received_kwh", (double)wh / 1000.0);
        }
    }
    if (result->reset)
        service_meter_read_event(m, meter, "register_reset", reg, import_flow, ts);
    return 0;
}

static int service_meter_project_registers(struct service *svc, struct service_msg *m,
                                           const struct store_meter *meter,
                                           const struct fields_reported *f, int64_t ts)
{
    for (int id = FIELDS_IMPORT_A; id <= FIELDS_EXPORT_B; id++) {
        struct store_read_result result;
        char element = 0;
        bool is_import = false;
        if (!fields_has(f, (enum fields_id)id))
            continue;
        fields_register_of(fields_name((enum fields_id)id), &element, &is_import);
        if (service_meter_register_read(svc, m, meter, element, is_import, ts, f->register_wh[id],
                                        false, &result) != 0)
            return -1;
    }
    return 0;
}

/* ---- Other fields -------------------------------------------------------------------------- */

static int service_meter_project_balance(struct service *svc, const struct store_meter *meter,
                                         const struct fields_reported *f, int64_t ts)
{
    bool has_balance = fields_has(f, FIELDS_BALANCE);
    bool written = false;
    if (!has_balance && !fields_has(f, FIELDS_EMERGENCY_CREDIT))
        return 0;
    if (store_balance_add(svc->store, meter->id, ts, has_balance ? &f->balance : NULL,
                          fields_has(f, FIELDS_EMERGENCY_CREDIT) ? &f->emergency_credit : NULL,
                          &written) != STORE_OK)
        return -1;
    return 0;
}

/* Raises event type when a latch starts to hold; detail is the value that crossed. */
static bool service_meter_latch(struct service_msg *m, const struct store_meter *meter,
                                bool *latched, bool condition, const char *type,
                                const char *detail_name, double detail)
{
    enum health_transition t = health_latch(*latched, condition);
    if (t == HEALTH_RAISED) {
        cJSON *ev = service_event_raise(m, meter->id, type, m->now);
        if (ev != NULL)
            cJSON_AddNumberToObject(ev, detail_name, detail);
    }
    if (t != HEALTH_STEADY)
        *latched = t == HEALTH_RAISED;
    return t == HEALTH_RAISED;
}

void service_meter_alerts(struct service *svc, struct service_msg *m,
                          const struct store_meter *meter, const cJSON *reported,
                          struct store_meter_state *state)
{
    const cJSON *balance = cJSON_GetObjectItemCaseSensitive(reported, "balance");
    const cJSON *drift = cJSON_GetObjectItemCaseSensitive(reported, "clock_time_diff_seconds");
    int64_t money = 0;
    if (!meter->found)
        return;
    if (cJSON_IsNumber(balance) && fields_gbp_to_money(balance->valuedouble, &money) == 0) {
        int64_t threshold = (int64_t)(svc->cfg->low_balance_gbp * FIELDS_MONEY_PER_GBP);
        service_meter_latch(m, meter, &state->low_balance, health_balance_low(money, threshold),
                            "low_balance", "balance", balance->valuedouble);
    }
    if (cJSON_IsNumber(drift))
        service_meter_latch(
            m, meter, &state->clock_drift,
            health_clock_drifting((int64_t)drift->valuedouble, svc->cfg->clock_drift_alert_s),
            "clock_drift", "clock_time_diff_seconds", drift->valuedouble);
}

static int service_meter_project_health(struct service *svc, struct service_msg *m,
                                        const struct store_meter *meter,
                                        const struct fields_reported *f, int64_t ts)
{
    bool written = false, changed = false;
    if (!fields_has(f, FIELDS_HEALTH))
        return 0;
    const char *reason = fields_has(f, FIELDS_HEALTH_DETAILS) ? f->health_details : NULL;
    if (store_health_add(svc->store, meter->id, ts, f->healthy, reason, &written, &changed) !=
        STORE_OK)
        return -1;
    if (changed) {
        cJSON *ev = service_event_raise(m, meter->id, "health_changed", ts);
        if (ev != NULL) {
            cJSON_AddStringToObject(ev, "health", f->healthy ? "healthy" : "unhealthy");
            if (reason)
                cJSON_AddStringToObject(ev, "reason", reason);
        }
    }
    return 0;
}

static int service_meter_project_signal(struct service *svc, const struct store_meter *meter,
                                        const struct fields_reported *f, int64_t ts)
{
    bool has3[3];
    bool any3 = false;
    for (int i = 0; i < 3; i++) {
        has3[i] = fields_has(f, (enum fields_id)(FIELDS_VOLTAGE_L1 + i));
        any3 = any3 || has3[i];
    }
    if (fields_has(f, FIELDS_CSQ) && store_csq_add(svc->store, meter->id, ts, f->csq) != STORE_OK)
        return -1;
    if (fields_has(f, FIELDS_VOLTAGE) &&
        store_voltage_add(svc->store, meter->id, ts, f->voltage) != STORE_OK)
        return -1;
    if (any3 && store_voltage3_add(svc->store, meter->id, ts, f->voltage_l, has3) != STORE_OK)
        return -1;
    return 0;
}

/* The meter's own event log, de-duplicated on (meter, time, code). */
static int service_meter_project_events(struct service *svc, const struct store_meter *meter,
                                        const struct fields_reported *f)
{
    struct api_error err;
    if (!fields_has(f, FIELDS_EVENTS))
        return 0;
    for (size_t i = 0; i < f->event_count; i++) {
        struct fields_event ev;
        if (fields_event_parse(cJSON_GetArrayItem(f->events, (int)i), i, &ev, &err) != 0 ||
            store_event_add(svc->store, meter->id, ev.ts, ev.code, ev.text, true, NULL) != STORE_OK)
            return -1;
    }
    return 0;
}

static int service_meter_project_tariff(struct service *svc, const struct store_meter *meter,
                                        const struct tariff *tariff, const char *kind, int64_t ts)
{
    cJSON *json = tariff_to_json(tariff, true);
    char *text = json ? cJSON_PrintUnformatted(json) : NULL;
    cJSON_Delete(json);
    int rc = text ? store_tariff_history_add(svc->store, meter->id, ts, kind, text) : STORE_ERROR;
    free(text);
    return rc == STORE_OK ? 0 : -1;
}

static int service_meter_project_tariffs(struct service *svc, const struct store_meter *meter,
                                         const struct fields_reported *f, int64_t ts)
{
    if (fields_has(f, FIELDS_TARIFFS_ACTIVE) &&
        service_meter_project_tariff(svc, meter, &f->tariffs_active, "active", ts) != 0)
        return -1;
    if (fields_has(f, FIELDS_TARIFFS_FUTURE) &&
        service_meter_project_tariff(svc, meter, &f->tariffs_future, "future", ts) != 0)
        return -1;
    return 0;
}

int service_meter_project(struct service *svc, struct service_msg *m,
                          const struct store_meter *meter, const struct fields_reported *f,
                          int64_t ts)
{
    if (!meter->found)
        return 0;
    if (service_meter_project_registers(svc, m, meter, f, ts) != 0 ||
        service_meter_project_balance(svc, meter, f, ts) != 0 ||
        service_meter_project_health(svc, m, meter, f, ts) != 0 ||
        service_meter_project_signal(svc, meter, f, ts) != 0 ||
        service_meter_project_events(svc, meter, f) != 0 ||
        service_meter_project_tariffs(svc, meter, f, ts) != 0)
        return -1;
    return 0;
}

/* ---- Liveness ------------------------------------------------------------------------------ */

void service_meter_seen(struct service_msg *m, const struct store_meter *meter,
                        struct store_meter_state *state)
{
    if (!meter->found)
        return;
    if (state->found && !state->online) {
        cJSON *ev = service_event_raise(m, meter->id, "online", m->now);
        if (ev != NULL)
            isotime_add_to_json(ev, "last_seen", state->last_seen);
    }
    state->online = true;
    if (m->now > state->last_seen)
        state->last_seen = m->now;
}

/* Marks one batch offline in a transaction; returns how many, or -1. */
static int service_meter_offline_batch(struct service *svc, int64_t now)
{
    struct store_offline_meter due[SERVICE_EVENTS_MAX];
    struct service_msg m = {.action = TOPIC_UNKNOWN, .now = now};
    size_t n = 0;
    int rc = store_begin(svc->store) == STORE_OK &&
                     store_meters_due_offline(svc->store, now, svc->cfg->offline_after_s, due,
                                              SERVICE_EVENTS_MAX, &n) == STORE_OK
                 ? 0
                 : -1;
    for (size_t i = 0; rc == 0 && i < n; i++) {
        struct store_meter_state state;
        rc = store_meter_state_load(svc->store, due[i].id, &state) == STORE_OK ? 0 : -1;
        state.online = false;
        if (rc == 0 && store_meter_state_save(svc->store, due[i].id, &state) != STORE_OK)
            rc = -1;
        snprintf(m.serial, sizeof m.serial, "%s", due[i].serial);
        cJSON *ev = service_event_raise(&m, due[i].id, "offline", now);
        if (ev != NULL)
            isotime_add_to_json(ev, "last_seen", due[i].last_seen);
    }
    if (rc != 0 || service_events_store(svc, &m) != 0 || store_commit(svc->store) != STORE_OK) {
        store_rollback(svc->store);
        service_events_discard(&m);
        log_msg(LOG_ERROR, "store", "offline scan failed error=\"%s\"", store_errmsg(svc->store));
        return -1;
    }
    service_after_commit(svc, &m);
    return (int)n;
}

void service_meter_scan_offline(struct service *svc, int64_t now)
{
    int n;
    while ((n = service_meter_offline_batch(svc, now)) == SERVICE_EVENTS_MAX)
        ;
}
