/* service_tariffs.c — the tariff workflow of SPEC §8: desired future tariffs pushed to meters as
 * commands until they confirm, then activated.
 *
 * Everything the workflow must remember is in the database, so a restart resumes it: a command
 * row per push (pending until the meter confirms, answers an error, or stays silent too long) and
 * a schedule row per meter with a desired future tariff (when to look again: a passive meter's
 * activation, the overdue check, or a push made by shadowctl that the service has yet to act on).
 * The tick asks both tables "what is due now?" through small indexes and handles each due item
 * in a transaction of its own; nothing is published before its transaction commits, so a command
 * id on the wire always exists in meter_commands, and an attempt is counted before it is sent
 * (a crash between the two loses that attempt rather than repeating it). */
#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "isotime.h"
#include "log.h"
#include "service_internal.h"
#include "tariffs.h"

#define TARIFFS_TICK_BATCH 32 /* due items handled per tick and table: paces a fleet-wide push */
#define TARIFFS_PENDING_MAX 8 /* pending commands of one meter: normally at most one */

/* ---- Reading documents --------------------------------------------------------------------- */

/* Meters keep UK local time with daylight savings correction, whatever aggregate_timezone says.
 * The zone is constant data, loaded once for the process. */
static struct tzone london_zone;
static int london_loaded = -1;
static pthread_once_t london_once = PTHREAD_ONCE_INIT;

static void service_tariffs_load_london(void)
{
    london_loaded = tzone_load("Europe/London", &london_zone);
    if (london_loaded != 0)
        log_msg(LOG_ERROR, "tariffs", "cannot load time zone zone=Europe/London");
}

/* Europe/London, or NULL (logged once) when the tz database lacks it. */
static const struct tzone *service_tariffs_london(void)
{
    if (pthread_once(&london_once, service_tariffs_load_london) != 0 || london_loaded != 0)
        return NULL;
    return &london_zone;
}

/* The activation instant of t on meter. Returns 0 with *at, or -1. */
static int service_tariffs_instant(const struct store_meter *meter, const struct tariff *t,
                                   int64_t *at)
{
    if (meter->dst_correction && service_tariffs_london() == NULL)
        return -1;
    return tariffs_activation_at(t, meter->dst_correction, &london_zone, at);
}

/* Reads section.tariffs_future (future) or .tariffs_active; false when absent or unreadable. */
static bool service_tariffs_read(const struct shadow_doc *doc, enum shadow_section section,
                                 bool future, struct tariff *t)
{
    struct api_error err;
    const cJSON *item = cJSON_GetObjectItemCaseSensitive(
        doc->state[section], future ? "tariffs_future" : "tariffs_active");
    return item != NULL && tariff_parse(item, future, t, &err) == 0;
}

static bool service_tariffs_desired(const struct shadow_doc *doc, struct tariff *t)
{
    return service_tariffs_read(doc, SHADOW_DESIRED, true, t);
}

/* True when the meter reports want as its future tariff. */
static bool service_tariffs_reported_future(const struct shadow_doc *doc, const struct tariff *want)
{
    struct tariff held;
    return service_tariffs_read(doc, SHADOW_REPORTED, true, &held) && tariff_equal(&held, want);
}

/* True when the meter reports want's amounts as its active tariff. */
static bool service_tariffs_reported_active(const struct shadow_doc *doc, const struct tariff *want)
{
    struct tariff held;
    return service_tariffs_read(doc, SHADOW_REPORTED, false, &held) &&
           tariff_equal_ignoring_activation(&held, want);
}

/* The canonical JSON text of t (malloc'd), as stored in meter_commands.args; NULL when out of
 * memory. Comparing these texts compares tariffs. */
static char *service_tariffs_text(const struct tariff *t, bool with_activation)
{
    cJSON *json = tariff_to_json(t, with_activation);
    char *text = json ? cJSON_PrintUnformatted(json) : NULL;
    cJSON_Delete(json);
    return text;
}

/* meter_state.future_activation_at: the instant of the desired future tariff, else of the one the
 * meter reports (what meter_shadows_tariffs shows as the future tariff). */
static int service_tariffs_sync_activation(struct service *svc, const struct store_meter *meter,
                                           const struct shadow_doc *doc)
{
    struct tariff t;
    int64_t at = 0;
    bool has = (service_tariffs_desired(doc, &t) ||
                service_tariffs_read(doc, SHADOW_REPORTED, true, &t)) &&
               service_tariffs_instant(meter, &t, &at) == 0;
    return store_tariff_activation_set(svc->store, meter->id, has ? &at : NULL) == STORE_OK ? 0
                                                                                            : -1;
}

/* ---- Commands ------------------------------------------------------------------------------ */

static void service_tariffs_command_event(struct service_msg *m, const struct store_command *c,
                                          const char *type, const char *reason)
{
    cJSON *ev = service_event_raise(m, c->meter_id, type, m->now);
    if (ev == NULL)
        return;
    cJSON_AddStringToObject(ev, "id", c->id);
    cJSON_AddStringToObject(ev, "command", TARIFFS_COMMAND_WRITE);
    cJSON_AddNumberToObject(ev, "version", (double)c->version);
    cJSON_AddNumberToObject(ev, "attempts", c->state.attempts);
    if (reason != NULL)
        cJSON_AddStringToObject(ev, "reason", reason);
}

/* Ends pending command c as to: stored, event queued, counted. A command that has already ended
 * is left alone. Returns 0 or -1 (store error). */
static int service_tariffs_end(struct service *svc, struct service_msg *m, struct store_command *c,
                               enum tariffs_command_status to, const char *reason)
{
    if (!tariffs_command_end(&c->state, to))
        return 0;
    if (store_command_save(svc->store, c, reason, m->now) != STORE_OK)
        return -1;
    bool confirmed = to == TARIFFS_COMMAND_CONFIRMED;
    service_tariffs_command_event(m, c, confirmed ? "command_confirmed" : "command_failed", reason);
    if (confirmed)
        svc->stats.commands_confirmed++;
    else
        svc->stats.commands_failed++;
    return 0;
}

/* Ends the meter's pending commands that carry args (same) or anything else (!same; args NULL:
 * every one). *kept, when non-NULL, tells whether a pending command carrying args was left. */
static int service_tariffs_end_pending(struct service *svc, struct service_msg *m,
                                       const char *meter_id, const char *args, bool same,
                                       enum tariffs_command_status to, const char *reason,
                                       bool *kept)
{
    struct store_command pending[TARIFFS_PENDING_MAX];
    size_t n = 0;
    if (kept != NULL)
        *kept = false;
    if (store_commands_pending(svc->store, meter_id, pending, TARIFFS_PENDING_MAX, &n) != STORE_OK)
        return -1;
    for (size_t i = 0; i < n; i++) {
        bool carries = args != NULL && strcmp(pending[i].args, args) == 0;
        if (carries != same && args != NULL) {
            if (kept != NULL && carries)
                *kept = true;
            continue;
        }
        if (service_tariffs_end(svc, m, &pending[i], to, reason) != 0)
            return -1;
    }
    return 0;
}

/* ---- A desired future tariff was set, changed or removed ----------------------------------- */

/* No desired future tariff any more: what was being pushed is cancelled. */
static int service_tariffs_cancel(struct service *svc, struct service_msg *m,
                                  const struct store_meter *meter)
{
    if (service_tariffs_end_pending(svc, m, meter->id, NULL, false, TARIFFS_COMMAND_FAILED,
                                    "cancelled", NULL) != 0 ||
        store_tariff_schedule_remove(svc->store, meter->id) != STORE_OK)
        return -1;
    return 0;
}

/* Schedules the next look at meter's desired tariff, activating at at: a passive meter is moved
 * at the instant, an active one checked for tariff_overdue once the grace has passed. */
static int service_tariffs_schedule(struct service *svc, const struct store_meter *meter,
                                    int64_t at)
{
    int64_t due = meter->passive ? at : at + svc->cfg->command_retry_s + 1;
    return store_tariff_schedule_set(svc->store, meter->id, STORE_TARIFF_SCHEDULED, &due) ==
                   STORE_OK
               ? 0
               : -1;
}

/* Inside a transaction, on the document as it will be saved at version: supersedes the pending
 * commands of another tariff, creates the command an active meter needs (due at once: the tick
 * sends it after this commits), schedules the next look and keeps future_activation_at. A push
 * of the tariff already in flight, or already held by the meter, creates no command. */
static int service_tariffs_desired_changed(struct service *svc, struct service_msg *m,
                                           const struct store_meter *meter,
                                           const struct shadow_doc *doc, int64_t version)
{
    struct tariff t;
    struct store_command created;
    int64_t at = 0;
    bool in_flight = false;
    if (!service_tariffs_desired(doc, &t))
        return service_tariffs_cancel(svc, m, meter) != 0 ||
                       service_tariffs_sync_activation(svc, meter, doc) != 0
                   ? -1
                   : 0;
    if (service_tariffs_instant(meter, &t, &at) != 0)
        return -1;
    if (at <= m->now)
        log_msg(LOG_WARN, "tariffs", "desired tariff activates in the past serial=%s", m->serial);
    char *args = service_tariffs_text(&t, true);
    int rc = args ? service_tariffs_end_pending(svc, m, meter->id, args, false,
                                                TARIFFS_COMMAND_FAILED, "superseded", &in_flight)
                  : -1;
    if (rc == 0 && !meter->passive && !in_flight && !service_tariffs_reported_future(doc, &t) &&
        store_command_create(svc->store, meter->id, TARIFFS_COMMAND_WRITE, args, version, m->now,
                             &created) != STORE_OK)
        rc = -1;
    free(args);
    if (rc == 0 && (service_tariffs_schedule(svc, meter, at) != 0 ||
                    store_tariff_activation_set(svc->store, meter->id, &at) != STORE_OK))
        rc = -1;
    return rc;
}

/* True when a desired update touches tariffs_future (directly, or by dropping the section). */
static bool service_tariffs_desired_touched(const struct service_msg *m)
{
    const cJSON *state = m->req->state;
    return cJSON_IsNull(state) || cJSON_GetObjectItemCaseSensitive(state, "tariffs_future") != NULL;
}

/* ---- Reports: confirmation and activation -------------------------------------------------- */

/* The time a report's values were taken (validated before the hook runs). */
static int64_t service_tariffs_report_time(const struct service_msg *m)
{
    struct api_error err;
    int64_t ts = m->now;
    if (m->req->has_ts &&
        fields_parse_ts(cJSON_GetObjectItemCaseSensitive(m->req->root, "ts"), FIELDS_TS_EARLIEST,
                        m->now + FIELDS_TS_AHEAD_MAX, &ts, &err) != 0)
        ts = m->now;
    return ts;
}

static void service_tariffs_activated_event(struct service_msg *m, const struct store_meter *meter,
                                            const struct tariff *t, int64_t at, const char *by)
{
    cJSON *ev = service_event_raise(m, meter->id, "tariff_activated", m->now);
    if (ev == NULL)
        return;
    cJSON_AddItemToObject(ev, "tariff", tariff_to_json(t, true));
    isotime_add_to_json(ev, "activation_at", at);
    cJSON_AddStringToObject(ev, "by", by);
}

/* The report's tariffs_active equals want at or after its instant: the meter has switched.
 * Clears desired.tariffs_future when doc still holds it (*changed set). */
static int service_tariffs_meter_activated(struct service *svc, struct service_msg *m,
                                           const struct store_meter *meter, struct shadow_doc *doc,
                                           const struct tariff *want, const char *args, int64_t at,
                                           bool *changed)
{
    bool cleared = false;
    cJSON *patch = cJSON_CreateObject();
    if (patch == NULL || cJSON_AddNullToObject(patch, "tariffs_future") == NULL ||
        shadow_apply(doc, SHADOW_DESIRED, patch, m->now, false, &cleared) != 0) {
        cJSON_Delete(patch);
        return -1;
    }
    cJSON_Delete(patch);
    *changed = *changed || cleared;
    /* The meter runs the tariff, so the write reached it whether or not it said so. */
    if (service_tariffs_end_pending(svc, m, meter->id, args, true, TARIFFS_COMMAND_CONFIRMED, NULL,
                                    NULL) != 0 ||
        store_tariff_schedule_remove(svc->store, meter->id) != STORE_OK)
        return -1;
    service_tariffs_activated_event(m, meter, want, at, "meter");
    return 0;
}

/* What a report says about the desired future tariff want: held as the future tariff (its
 * command is confirmed), or running as the active one from its instant on (activated). */
static int service_tariffs_report_settles(struct service *svc, struct service_msg *m,
                                          const struct store_meter *meter, struct shadow_doc *doc,
                                          const struct tariff *want, bool *changed)
{
    struct api_error err;
    struct tariff held;
    int64_t at = 0;
    const cJSON *future = cJSON_GetObjectItemCaseSensitive(m->req->state, "tariffs_future");
    const cJSON *active = cJSON_GetObjectItemCaseSensitive(m->req->state, "tariffs_active");
    char *args = service_tariffs_text(want, true);
    int rc = args ? 0 : -1;
    if (rc == 0 && cJSON_IsObject(future) && tariff_parse(future, true, &held, &err) == 0 &&
        tariff_equal(&held, want))
        rc = service_tariffs_end_pending(svc, m, meter->id, args, true, TARIFFS_COMMAND_CONFIRMED,
                                         NULL, NULL);
    if (rc == 0 && cJSON_IsObject(active) && tariff_parse(active, false, &held, &err) == 0 &&
        tariff_equal_ignoring_activation(&held, want) &&
        service_tariffs_instant(meter, want, &at) == 0 && service_tariffs_report_time(m) >= at)
        rc = service_tariffs_meter_activated(svc, m, meter, doc, want, args, at, changed);
    free(args);
    return rc;
}

/* A report touching the tariffs, or clearing desired. The tariff it is judged against is the
 * desired one before this update ("desired": null has already removed it from doc). */
static int service_tariffs_report(struct service *svc, struct service_msg *m,
                                  const struct store_meter *meter, struct shadow_doc *doc,
                                  bool *changed)
{
    const cJSON *state = m->req->state;
    bool touches = cJSON_GetObjectItemCaseSensitive(state, "tariffs_future") != NULL ||
                   cJSON_GetObjectItemCaseSensitive(state, "tariffs_active") != NULL;
    struct tariff want;
    bool has_want;
    if (!touches && !m->req->clear_desired)
        return 0;
    if (m->req->clear_desired) {
        struct shadow_doc before;
        if (service_doc_load(svc, m->serial, &before, NULL) != 0)
            return -1;
        has_want = service_tariffs_desired(&before, &want);
        shadow_doc_clear(&before);
    } else {
        has_want = service_tariffs_desired(doc, &want);
    }
    if (has_want && service_tariffs_report_settles(svc, m, meter, doc, &want, changed) != 0)
        return -1;
    if (m->req->clear_desired && !service_tariffs_desired(doc, &want) &&
        service_tariffs_cancel(svc, m, meter) != 0)
        return -1;
    return service_tariffs_sync_activation(svc, meter, doc);
}

/* A desired tariffs_future must take effect after now on the meter's clock (SPEC §8): 400
 * otherwise. Meant for a desired update's registry checks, before anything is written. */
int service_tariffs_check_desired(struct service *svc, const struct service_msg *m,
                                  const struct store_meter *meter, struct api_error *err)
{
    struct tariff t;
    (void)svc;
    const cJSON *future = cJSON_GetObjectItemCaseSensitive(m->req->state, "tariffs_future");
    if (m->action != TOPIC_DESIRED || !meter->found || future == NULL || cJSON_IsNull(future) ||
        tariff_parse(future, true, &t, err) != 0)
        return 0; /* nothing to check, or already answered by the field validation */
    if (meter->dst_correction && service_tariffs_london() == NULL)
        return api_error_set(err, 500, "Internal failure");
    return tariffs_check_future(&t, meter->dst_correction, &london_zone, m->now, err);
}

int service_tariffs_after_update(struct service *svc, struct service_msg *m,
                                 const struct store_meter *meter, struct shadow_doc *doc,
                                 bool *changed)
{
    if (!meter->found)
        return 0;
    if (m->action == TOPIC_DESIRED && service_tariffs_desired_touched(m))
        return service_tariffs_desired_changed(svc, m, meter, doc,
                                               doc->version + (*changed ? 1 : 0));
    if (m->action == TOPIC_REPORTED)
        return service_tariffs_report(svc, m, meter, doc, changed);
    return 0;
}

/* ---- Answers on commands/result ------------------------------------------------------------ */

/* Inside the transaction: records the answer; an error fails a pending command. The message
 * also shows the meter is alive. Returns 0, or -1 with *err (404, 500). */
static int service_tariffs_answer(struct service *svc, struct service_msg *m,
                                  const struct tariffs_result *result, struct api_error *err)
{
    struct store_meter meter;
    struct store_command c;
    struct store_meter_state state;
    bool found = false;
    if (service_meter_resolve(svc, m, NULL, &meter, err) != 0)
        return -1;
    api_error_set(err, 500, "Internal failure");
    if (store_command_find(svc->store, result->id, &c, &found) != STORE_OK)
        return -1;
    if (!found || !meter.found || strcmp(c.meter_id, meter.id) != 0)
        return api_error_set(err, 404, "Unknown command: %s", result->id);
    size_t events = m->event_count;
    if (store_command_answer(svc->store, c.id, result->ok, result->message, m->now) != STORE_OK ||
        (!result->ok && service_tariffs_end(svc, m, &c, TARIFFS_COMMAND_FAILED, "error") != 0) ||
        store_meter_state_load(svc->store, meter.id, &state) != STORE_OK)
        return -1;
    if (m->event_count > events && result->message != NULL)
        cJSON_AddStringToObject(m->events[events].payload, "message", result->message);
    service_meter_seen(m, &meter, &state);
    return store_meter_state_save(svc->store, meter.id, &state) == STORE_OK &&
                   service_events_store(svc, m) == 0
               ? 0
               : -1;
}

void service_command_result(struct service *svc, struct service_msg *m)
{
    struct api_error err;
    struct tariffs_result result;
    struct service_stats before = svc->stats;
    if (tariffs_result_parse(m->req->root, &result, &err) != 0) {
        service_reject(svc, m, &err);
        return;
    }
    api_error_set(&err, 500, "Internal failure");
    if (store_begin(svc->store) != STORE_OK || service_tariffs_answer(svc, m, &result, &err) != 0 ||
        store_commit(svc->store) != STORE_OK) {
        svc->stats.commands_failed = before.commands_failed;
        service_abort(svc, m, &err, "command result failed");
        return;
    }
    if (!result.ok)
        log_msg(LOG_INFO, "tariffs", "command failed serial=%s id=%s message=\"%s\"", m->serial,
                result.id, result.message ? result.message : "");
    svc->stats.accepted++;
    service_after_commit(svc, m);
}

/* ---- The tick: due schedule rows ----------------------------------------------------------- */

/* A passive meter at its instant: the service moves the tariff itself, in one version. */
static int service_tariffs_activate_passive(struct service *svc, struct service_msg *m,
                                            const struct store_meter *meter, struct shadow_doc *doc,
                                            const struct tariff *t, int64_t at)
{
    bool set = false, cleared = false;
    cJSON *active = cJSON_CreateObject();
    cJSON *future = cJSON_CreateObject();
    char *text = service_tariffs_text(t, false);
    int rc = active && future && text &&
                     cJSON_AddItemToObject(active, "tariffs_active", tariff_to_json(t, false)) &&
                     cJSON_AddNullToObject(future, "tariffs_future") &&
                     shadow_apply(doc, SHADOW_REPORTED, active, m->now, false, &set) == 0 &&
                     shadow_apply(doc, SHADOW_DESIRED, future, m->now, false, &cleared) == 0
                 ? 0
                 : -1;
    cJSON_Delete(active);
    cJSON_Delete(future);
    if (rc == 0) {
        doc->version += set || cleared ? 1 : 0;
        doc->exists = true;
        doc->timestamp = m->now;
        if (service_doc_save(svc, m->serial, doc, m->now, NULL) != 0 ||
            store_tariff_history_add(svc->store, meter->id, m->now, "active", text) != STORE_OK ||
            store_tariff_schedule_remove(svc->store, meter->id) != STORE_OK ||
            service_tariffs_sync_activation(svc, meter, doc) != 0)
            rc = -1;
    }
    free(text);
    if (rc == 0)
        service_tariffs_activated_event(m, meter, t, at, "service");
    return rc;
}

/* An active meter past the grace: tariff_overdue once, unless it already runs the tariff (then it
 * is activated by its next report). Nothing more is due either way. */
static int service_tariffs_check_overdue(struct service *svc, struct service_msg *m,
                                         const struct store_meter *meter,
                                         const struct shadow_doc *doc, const struct tariff *t,
                                         int64_t at)
{
    if (!service_tariffs_reported_active(doc, t)) {
        cJSON *ev = service_event_raise(m, meter->id, "tariff_overdue", m->now);
        if (ev != NULL) {
            cJSON_AddItemToObject(ev, "tariff", tariff_to_json(t, true));
            isotime_add_to_json(ev, "activation_at", at);
        }
    }
    return store_tariff_schedule_set(svc->store, meter->id, STORE_TARIFF_SCHEDULED, NULL) ==
                   STORE_OK
               ? 0
               : -1;
}

/* A scheduled look: activation (passive) or overdue check (active), re-reading the instant in
 * case the registry changed the meter since. *saved tells whether doc was changed and saved. */
static int service_tariffs_look(struct service *svc, struct service_msg *m,
                                const struct store_meter *meter, struct shadow_doc *doc,
                                bool *saved)
{
    struct tariff t;
    int64_t at = 0;
    if (!doc->exists || !service_tariffs_desired(doc, &t) ||
        service_tariffs_instant(meter, &t, &at) != 0)
        return store_tariff_schedule_remove(svc->store, meter->id) == STORE_OK ? 0 : -1;
    if (meter->passive && m->now >= at) {
        *saved = true;
        return service_tariffs_activate_passive(svc, m, meter, doc, &t, at);
    }
    if (!meter->passive && tariffs_overdue(at, m->now, svc->cfg->command_retry_s))
        return service_tariffs_check_overdue(svc, m, meter, doc, &t, at);
    return service_tariffs_schedule(svc, meter, at);
}

/* One due schedule row, in a transaction of its own; publishes after the commit. */
static void service_tariffs_schedule_item(struct service *svc, const struct store_tariff_due *due,
                                          int64_t now)
{
    struct service_msg m = {.action = TOPIC_DESIRED, .now = now};
    struct service_stats before = svc->stats;
    struct store_meter meter;
    struct shadow_doc doc;
    bool saved = false;
    char *previous = NULL;
    snprintf(m.serial, sizeof m.serial, "%s", due->serial);
    shadow_doc_init(&doc);
    int rc = store_begin(svc->store) == STORE_OK &&
                     store_meter_lookup(svc->store, due->serial, &meter) == STORE_OK &&
                     meter.found && service_doc_load(svc, due->serial, &doc, &previous) == 0
                 ? 0
                 : -1;
    if (rc == 0)
        rc = due->stage == STORE_TARIFF_PUSHED
                 ? service_tariffs_desired_changed(svc, &m, &meter, &doc, doc.version)
                 : service_tariffs_look(svc, &m, &meter, &doc, &saved);
    if (rc != 0 || service_events_store(svc, &m) != 0 || store_commit(svc->store) != STORE_OK) {
        log_msg(LOG_ERROR, "store", "tariff schedule failed serial=%s error=\"%s\"", due->serial,
                store_errmsg(svc->store));
        store_rollback(svc->store);
        service_events_discard(&m);
        svc->stats = before;
        free(previous);
        shadow_doc_clear(&doc);
        return;
    }
    if (saved)
        service_publish_documents(svc, &m, previous, &doc, NULL);
    free(previous);
    /* A push from shadowctl changed desired without a message: its delta is announced here. */
    if (saved || due->stage == STORE_TARIFF_PUSHED)
        service_publish_delta(svc, &m, &doc);
    service_after_commit(svc, &m);
    shadow_doc_clear(&doc);
}

/* ---- The tick: due commands ---------------------------------------------------------------- */

/* Sends attempt k+1 of c, unless the desired tariff it carries has gone (then it has ended).
 * *message is the publication to make after the commit. */
static int service_tariffs_send(struct service *svc, struct service_msg *m, struct store_command *c,
                                cJSON **message)
{
    struct shadow_doc doc;
    struct tariff t;
    if (service_doc_load(svc, c->serial, &doc, NULL) != 0)
        return -1;
    bool has = doc.exists && service_tariffs_desired(&doc, &t);
    char *args = has ? service_tariffs_text(&t, true) : NULL;
    shadow_doc_clear(&doc);
    if (has && args == NULL)
        return -1;
    bool current = args != NULL && strcmp(args, c->args) == 0;
    free(args);
    if (!current)
        return service_tariffs_end(svc, m, c, TARIFFS_COMMAND_FAILED,
                                   has ? "superseded" : "cancelled");
    tariffs_command_sent(&c->state, m->now, svc->cfg->command_retry_s);
    cJSON *parsed = cJSON_Parse(c->args);
    *message = parsed ? tariffs_command_message(c->id, TARIFFS_COMMAND_WRITE, c->version,
                                                c->state.attempts, parsed)
                      : NULL;
    cJSON_Delete(parsed);
    if (*message == NULL || store_command_save(svc->store, c, NULL, m->now) != STORE_OK)
        return -1;
    cJSON *ev = service_event_raise(m, c->meter_id, "command_sent", m->now);
    if (ev != NULL) {
        cJSON_AddStringToObject(ev, "id", c->id);
        cJSON_AddStringToObject(ev, "command", TARIFFS_COMMAND_WRITE);
        cJSON_AddNumberToObject(ev, "version", (double)c->version);
        cJSON_AddNumberToObject(ev, "attempt", c->state.attempts);
    }
    return 0;
}

/* One due command, in a transaction of its own: its next attempt, or its failure for want of an
 * answer. The row is read again inside the transaction, so it is acted on once. */
static void service_tariffs_command_item(struct service *svc, const char *id, int64_t now)
{
    struct service_msg m = {.action = TOPIC_UNKNOWN, .now = now};
    struct service_stats before = svc->stats;
    struct store_command c;
    cJSON *message = NULL;
    bool found = false;
    int rc = store_begin(svc->store) == STORE_OK &&
                     store_command_find(svc->store, id, &c, &found) == STORE_OK
                 ? 0
                 : -1;
    if (rc == 0 && found) {
        snprintf(m.serial, sizeof m.serial, "%s", c.serial);
        switch (tariffs_command_step(&c.state, now, svc->cfg->command_max_attempts)) {
        case TARIFFS_STEP_SEND:
            rc = service_tariffs_send(svc, &m, &c, &message);
            break;
        case TARIFFS_STEP_EXPIRE:
            rc = service_tariffs_end(svc, &m, &c, TARIFFS_COMMAND_FAILED, "no answer");
            break;
        case TARIFFS_STEP_WAIT:
            break;
        }
    }
    if (rc != 0 || service_events_store(svc, &m) != 0 || store_commit(svc->store) != STORE_OK) {
        log_msg(LOG_ERROR, "store", "command step failed id=%s error=\"%s\"", id,
                store_errmsg(svc->store));
        store_rollback(svc->store);
        service_events_discard(&m);
        svc->stats = before;
        cJSON_Delete(message);
        return;
    }
    if (message != NULL) {
        svc->stats.commands_sent++;
        service_publish_json(svc, c.serial, "commands", message);
    }
    service_after_commit(svc, &m);
}

void service_tariffs_tick(struct service *svc, int64_t now)
{
    struct store_tariff_due due[TARIFFS_TICK_BATCH];
    struct store_command commands[TARIFFS_TICK_BATCH];
    size_t n = 0;
    /* Schedule rows first: a push noticed now creates commands the second query sends now. */
    if (store_tariff_schedule_due(svc->store, now, due, TARIFFS_TICK_BATCH, &n) != STORE_OK)
        log_msg(LOG_ERROR, "store", "tariff schedule query failed error=\"%s\"",
                store_errmsg(svc->store));
    for (size_t i = 0; i < n; i++)
        service_tariffs_schedule_item(svc, &due[i], now);
    n = 0;
    if (store_commands_due(svc->store, now, commands, TARIFFS_TICK_BATCH, &n) != STORE_OK)
        log_msg(LOG_ERROR, "store", "due commands query failed error=\"%s\"",
                store_errmsg(svc->store));
    for (size_t i = 0; i < n; i++)
        service_tariffs_command_item(svc, commands[i].id, now);
}
