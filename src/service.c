/* service.c — the message pipeline: dispatch, responses, events, timers.
 *
 * For each inbound message: parse the topic, decode the request (pure checks), then hand it to
 * the handler of its topic, which does its work inside one write transaction and publishes only
 * after the commit. So a response never announces something that is not durable, and a failure
 * at any step changes nothing. */
#include "service.h"

#include <cjson/cJSON.h>
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "isotime.h"
#include "log.h"
#include "service_internal.h"
#include "version.h"

extern const char *const default_load_profile[];

/* ---- Publishing ---------------------------------------------------------------------------- */

void service_post(struct service *svc, const char *topic, const char *payload, size_t len,
                  bool retained)
{
    struct service_outbox *box = &svc->outbox;
    if (box->count == box->cap) {
        size_t cap = box->cap ? box->cap * 2 : 16;
        struct service_outgoing *items = realloc(box->items, cap * sizeof *items);
        if (items == NULL) {
            log_msg(LOG_ERROR, "service", "out of memory queueing topic=%s", topic);
            return;
        }
        box->items = items;
        box->cap = cap;
    }
    struct service_outgoing *out = &box->items[box->count];
    out->topic = strdup(topic);
    out->payload = malloc(len ? len : 1);
    if (out->topic == NULL || out->payload == NULL) {
        free(out->topic);
        free(out->payload);
        log_msg(LOG_ERROR, "service", "out of memory queueing topic=%s", topic);
        return;
    }
    memcpy(out->payload, payload, len);
    out->payload_len = len;
    out->retained = retained;
    box->count++;
}

/* Drops what was queued after the first count items (a held attempt answers nothing). */
static void service_outbox_truncate(struct service *svc, size_t count)
{
    struct service_outbox *box = &svc->outbox;
    for (; box->count > count; box->count--) {
        free(box->items[box->count - 1].topic);
        free(box->items[box->count - 1].payload);
    }
}

/* Releases the lock, then sends what the work in hand queued, in order. */
static void service_unlock_and_flush(struct service *svc)
{
    struct service_outbox box = svc->outbox;
    svc->outbox = (struct service_outbox){NULL, 0, 0};
    pthread_mutex_unlock(&svc->lock);
    for (size_t i = 0; i < box.count; i++) {
        struct service_outgoing *out = &box.items[i];
        svc->publish(svc->publish_ctx, out->topic, out->payload, out->payload_len, out->retained);
        free(out->topic);
        free(out->payload);
    }
    free(box.items);
}

static void service_publish_text(struct service *svc, const char *topic, cJSON *payload,
                                 bool retained)
{
    char *text = payload ? cJSON_PrintUnformatted(payload) : NULL;
    cJSON_Delete(payload);
    if (text == NULL) {
        log_msg(LOG_ERROR, "service", "out of memory serializing topic=%s", topic);
        return;
    }
    service_post(svc, topic, text, strlen(text), retained);
    free(text);
}

void service_publish_json(struct service *svc, const char *serial, const char *suffix,
                          cJSON *payload)
{
    char topic[TOPIC_MAX];
    if (topic_meter(topic, sizeof topic, svc->cfg->topic_root, serial, strlen(serial), suffix) !=
        0) {
        cJSON_Delete(payload);
        return;
    }
    service_publish_text(svc, topic, payload, false);
}

void service_publish_raw(struct service *svc, const char *serial, const char *suffix,
                         const char *payload)
{
    char topic[TOPIC_MAX];
    if (topic_meter(topic, sizeof topic, svc->cfg->topic_root, serial, strlen(serial), suffix) == 0)
        service_post(svc, topic, payload, strlen(payload), false);
}

void service_stamp(cJSON *obj, const struct service_msg *m)
{
    isotime_add_to_json(obj, "timestamp", m->now);
    if (m->req && m->req->has_token)
        cJSON_AddStringToObject(obj, "clientToken", m->req->token);
}

static void service_count_rejection(struct service *svc, int code)
{
    static const int codes[] = {400, 403, 404, 409, 413, 415};
    svc->stats.rejected++;
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        if (codes[i] == code) {
            svc->stats.rejected_by_code[i]++;
            return;
        }
    }
    svc->stats.rejected_by_code[6]++; /* 500 */
}

static cJSON *service_error_body(const struct api_error *err)
{
    cJSON *body = cJSON_CreateObject();
    if (body == NULL)
        return NULL;
    cJSON_AddNumberToObject(body, "code", err->code);
    cJSON_AddStringToObject(body, "message", err->message);
    return body;
}

void service_reject(struct service *svc, const struct service_msg *m, const struct api_error *err)
{
    char suffix[64];
    service_count_rejection(svc, err->code);
    log_msg(LOG_INFO, "service", "rejected serial=%s topic=%s code=%d message=\"%s\"", m->serial,
            topic_action_name(m->action), err->code, err->message);
    cJSON *body = service_error_body(err);
    if (body == NULL)
        return;
    service_stamp(body, m);
    snprintf(suffix, sizeof suffix, "%s/rejected", topic_action_name(m->action));
    service_publish_json(svc, m->serial, suffix, body);
}

void service_internal_failure(struct service *svc, struct service_msg *m, const char *what)
{
    struct api_error err;
    if (store_unavailable(svc->store)) {
        m->held = true;
        log_msg(LOG_DEBUG, "store", "%s serial=%s error=\"%s\" (held)", what, m->serial,
                store_errmsg(svc->store));
        return;
    }
    log_msg(LOG_ERROR, "store", "%s serial=%s error=\"%s\"", what, m->serial,
            store_errmsg(svc->store));
    api_error_set(&err, 500, "Internal failure");
    service_reject(svc, m, &err);
}

void service_abort(struct service *svc, struct service_msg *m, const struct api_error *err,
                   const char *what)
{
    store_rollback(svc->store);
    service_events_discard(m);
    service_circuits_discard(svc);
    if (err->code == 500)
        service_internal_failure(svc, m, what);
    else
        service_reject(svc, m, err);
}

/* ---- Events -------------------------------------------------------------------------------- */

cJSON *service_event_raise(struct service_msg *m, const char *meter_id, const char *type,
                           int64_t ts)
{
    if (m->event_count == SERVICE_EVENTS_MAX) {
        log_msg(LOG_WARN, "service", "too many events for one message serial=%s type=%s", m->serial,
                type);
        return NULL;
    }
    cJSON *payload = cJSON_CreateObject();
    if (payload == NULL)
        return NULL;
    cJSON_AddStringToObject(payload, "type", type);
    isotime_add_to_json(payload, "timestamp", ts);
    struct service_event *ev = &m->events[m->event_count++];
    snprintf(ev->meter_id, sizeof ev->meter_id, "%s", meter_id);
    snprintf(ev->serial, sizeof ev->serial, "%s", m->serial);
    ev->ts = ts;
    ev->payload = payload;
    return payload;
}

int service_events_store(struct service *svc, struct service_msg *m)
{
    for (size_t i = 0; i < m->event_count; i++) {
        struct service_event *ev = &m->events[i];
        char *details = cJSON_PrintUnformatted(ev->payload);
        const cJSON *type = cJSON_GetObjectItemCaseSensitive(ev->payload, "type");
        int rc = details ? store_event_add(svc->store, ev->meter_id, ev->ts, type->valuestring,
                                           details, false, NULL)
                         : STORE_ERROR;
        free(details);
        if (rc != STORE_OK)
            return -1;
    }
    return 0;
}

void service_after_commit(struct service *svc, struct service_msg *m)
{
    service_circuits_committed(svc);
    for (size_t i = 0; i < m->event_count; i++) {
        service_publish_json(svc, m->events[i].serial, "events", m->events[i].payload);
        m->events[i].payload = NULL;
    }
    m->event_count = 0;
}

void service_events_discard(struct service_msg *m)
{
    for (size_t i = 0; i < m->event_count; i++)
        cJSON_Delete(m->events[i].payload);
    m->event_count = 0;
}

/* ---- Dispatch ------------------------------------------------------------------------------ */

/* A topic whose serial breaks the rule: answered on its rejected topic when one can be formed. */
static void service_reject_serial(struct service *svc, const struct topic_parsed *tp, int64_t now)
{
    char topic[TOPIC_MAX], suffix[64];
    struct api_error err;
    api_error_set(&err, 400, "Invalid meter serial");
    service_count_rejection(svc, 400);
    snprintf(suffix, sizeof suffix, "%s/rejected", topic_action_name(tp->action));
    if (topic_meter(topic, sizeof topic, svc->cfg->topic_root, tp->serial, tp->serial_len,
                    suffix) != 0) {
        log_msg(LOG_INFO, "service", "rejected invalid serial, no response topic can be formed");
        return;
    }
    log_msg(LOG_INFO, "service", "rejected topic=%s code=400 message=\"%s\"", topic, err.message);
    cJSON *body = service_error_body(&err);
    if (body != NULL)
        isotime_add_to_json(body, "timestamp", now);
    service_publish_text(svc, topic, body, false);
}

static void service_dispatch(struct service *svc, struct service_msg *m, const void *payload,
                             size_t len)
{
    struct api_error err;
    struct request_limits limits = {(size_t)svc->cfg->max_payload_bytes, (int)svc->cfg->max_depth};
    m->req = &m->request;
    if (request_parse(m->action, payload, len, &limits, &m->request, &err) != 0) {
        service_reject(svc, m, &err);
        request_free(&m->request);
        return;
    }
    switch (m->action) {
    case TOPIC_REPORTED:
    case TOPIC_DESIRED:
        service_update(svc, m);
        break;
    case TOPIC_GET:
        service_get(svc, m);
        break;
    case TOPIC_DELETE:
        service_delete(svc, m);
        break;
    case TOPIC_READS:
        service_reads(svc, m);
        break;
    case TOPIC_COMMAND_RESULT:
        service_command_result(svc, m);
        break;
    default:
        svc->stats.ignored++;
        break;
    }
    service_events_discard(m); /* handlers publish theirs; this only frees leftovers */
    request_free(&m->request);
}

/* One attempt at a message, under the lock. Returns true when the store could not take it. */
static bool service_attempt(struct service *svc, const char *topic, size_t topic_len,
                            const void *payload, size_t len, int64_t now)
{
    struct topic_parsed tp;
    if (topic_parse(svc->cfg->topic_root, topic, topic_len, &tp) != 0) {
        svc->stats.ignored++;
        log_msg(LOG_DEBUG, "service", "ignored topic=%.*s", (int)topic_len, topic);
        return false;
    }
    if (!tp.serial_valid) {
        service_reject_serial(svc, &tp, now);
        return false;
    }
    struct service_msg m = {.action = tp.action, .now = now};
    memcpy(m.serial, tp.serial, tp.serial_len);
    m.serial[tp.serial_len] = '\0';
    store_failure_reset(svc->store);
    size_t queued = svc->outbox.count;
    service_dispatch(svc, &m, payload, len);
    if (m.held)
        service_outbox_truncate(svc, queued);
    return m.held;
}

static void service_lock_fairly(struct service *svc)
{
    /* A mutex is not fair: under a steady stream of messages the receive thread would take the
     * lock again and again and the timer (offline scan, retries, stats) would starve. */
    while (atomic_load(&svc->timer_waiting))
        sched_yield();
    pthread_mutex_lock(&svc->lock);
}

#define SERVICE_HOLD_FIRST_MS 100
#define SERVICE_HOLD_MAX_MS 5000
#define SERVICE_HOLD_REMIND_S 60

static void service_hold_wait(struct service *svc, int ms)
{
    if (svc->wait != NULL) {
        svc->wait(svc->wait_ctx, ms);
        return;
    }
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* A store that cannot write (disk full, a lock held beyond the busy timeout) must not cost the
 * message: answering 500 would let the MQTT client acknowledge it, and the report would be gone.
 * So the message is held: this callback does not return, the client does not acknowledge it, and
 * the broker keeps everything behind it in the service's persistent session. It is tried again
 * with backoff until the store takes it. Nothing else is handled, and nothing can be sent: the
 * client's lock is the callback's. So the log says it, and a hold longer than 1.5 keepalives
 * shows as the Last Will (offline) when the broker drops the silent connection; the held message
 * then comes again after the reconnect. */
void service_handle(struct service *svc, const char *topic, size_t topic_len, const void *payload,
                    size_t len, int64_t now)
{
    int wait_ms = SERVICE_HOLD_FIRST_MS;
    int64_t held_since = 0, remind_at = 0;
    service_lock_fairly(svc);
    svc->stats.received++;
    while (service_attempt(svc, topic, topic_len, payload, len, now)) {
        int64_t t = (int64_t)time(NULL);
        if (held_since == 0) {
            held_since = t;
            remind_at = t + SERVICE_HOLD_REMIND_S;
            svc->stats.store_waits++;
            atomic_store(&svc->holding, true);
            log_msg(LOG_ERROR, "store",
                    "cannot write: holding topic=%.*s unacknowledged, retrying error=\"%s\"",
                    (int)topic_len, topic, store_errmsg(svc->store));
        } else if (t >= remind_at) {
            remind_at = t + SERVICE_HOLD_REMIND_S;
            log_msg(LOG_ERROR, "store", "still cannot write after %llds error=\"%s\"",
                    (long long)(t - held_since), store_errmsg(svc->store));
        }
        service_unlock_and_flush(svc);
        service_hold_wait(svc, wait_ms);
        wait_ms = wait_ms * 2 > SERVICE_HOLD_MAX_MS ? SERVICE_HOLD_MAX_MS : wait_ms * 2;
        service_lock_fairly(svc);
    }
    if (held_since != 0) {
        log_msg(LOG_WARN, "store", "writable again after %llds; held message handled",
                (long long)((int64_t)time(NULL) - held_since));
        atomic_store(&svc->holding, false);
    }
    service_unlock_and_flush(svc);
}

bool service_holding(const struct service *svc)
{
    return atomic_load(&svc->holding);
}

/* ---- Timers -------------------------------------------------------------------------------- */

#define SERVICE_OFFLINE_SCAN_S 5

void service_tick(struct service *svc, int64_t now, size_t queue_depth, bool connected)
{
    atomic_store(&svc->queue_depth, queue_depth);
    atomic_store(&svc->timer_waiting, 1);
    pthread_mutex_lock(&svc->lock);
    atomic_store(&svc->timer_waiting, 0);
    if (now >= svc->next_offline_scan) {
        svc->next_offline_scan = now + SERVICE_OFFLINE_SCAN_S;
        service_meter_scan_offline(svc, now);
    }
    /* What the timer publishes waits for a connection: a circuit bucket or a command attempt
     * "sent" while disconnected would be lost, not queued. */
    if (connected) {
        service_tariffs_tick(svc, now);
        service_stats_tick(svc, now);
        service_circuits_publish_due(svc, now);
    }
    service_unlock_and_flush(svc);
}

/* ---- Lifecycle ----------------------------------------------------------------------------- */

char *service_status_payload(bool online, int64_t since)
{
    cJSON *body = cJSON_CreateObject();
    if (body == NULL)
        return NULL;
    cJSON_AddStringToObject(body, "status", online ? "online" : "offline");
    cJSON_AddStringToObject(body, "version", SHADOW_VERSION);
    if (since >= 0)
        isotime_add_to_json(body, "since", since);
    char *text = cJSON_PrintUnformatted(body);
    cJSON_Delete(body);
    return text;
}

const char *service_status_topic(const struct service *svc)
{
    return svc->status_topic;
}

void service_announce_online(struct service *svc, int64_t now)
{
    char *text = service_status_payload(true, now);
    if (text == NULL)
        return;
    pthread_mutex_lock(&svc->lock);
    service_post(svc, svc->status_topic, text, strlen(text), true);
    service_unlock_and_flush(svc);
    free(text);
}

const char *const *service_subscriptions(const struct service *svc, size_t *count)
{
    *count = SERVICE_SUBSCRIPTIONS;
    return (const char *const *)svc->subscriptions;
}

static int service_make_subscriptions(struct service *svc)
{
    static const char *const actions[SERVICE_SUBSCRIPTIONS] = {
        "reported", "desired", "get", "delete", "reads", "commands/result"};
    const char *root = svc->cfg->topic_root ? svc->cfg->topic_root : "";
    char filter[TOPIC_MAX];
    for (int i = 0; i < SERVICE_SUBSCRIPTIONS; i++) {
        int n =
            snprintf(filter, sizeof filter, "%s%smeters/+/%s", root, *root ? "/" : "", actions[i]);
        if (n < 0 || (size_t)n >= sizeof filter)
            return -1;
        svc->subscriptions[i] = strdup(filter);
        if (svc->subscriptions[i] == NULL)
            return -1;
    }
    return topic_service(svc->status_topic, sizeof svc->status_topic, svc->cfg->topic_root,
                         "shadowd/status");
}

/* The time zone of the aggregates and the load profile of long gaps. */
static int service_load_calendar(struct service *svc)
{
    int bad_line = 0;
    if (tzone_load(svc->cfg->aggregate_timezone, &svc->tz) != 0) {
        log_msg(LOG_ERROR, "service", "cannot load time zone aggregate_timezone=%s",
                svc->cfg->aggregate_timezone);
        return -1;
    }
    if (interval_profile_parse(default_load_profile[0], &svc->profile, &bad_line) != 0) {
        log_msg(LOG_ERROR, "service", "embedded load profile invalid line=%d", bad_line);
        return -1;
    }
    return 0;
}

int service_create(const struct service_options *opt, struct service **out)
{
    struct service *svc = calloc(1, sizeof *svc);
    if (svc == NULL)
        return -1;
    svc->cfg = opt->cfg;
    svc->store = opt->store;
    svc->publish = opt->publish;
    svc->publish_ctx = opt->publish_ctx;
    svc->wait = opt->wait;
    svc->wait_ctx = opt->wait_ctx;
    svc->started = opt->now;
    strmap_init(&svc->last_delta);
    strmap_init(&svc->bucket_published);
    aggregate_key_set_init(&svc->bucket_changes);
    aggregate_key_set_init(&svc->bucket_pending);
    if (pthread_mutex_init(&svc->lock, NULL) != 0) {
        free(svc);
        return -1;
    }
    if (service_make_subscriptions(svc) != 0) {
        log_msg(LOG_ERROR, "service", "topic root too long or invalid root=%s",
                svc->cfg->topic_root);
        service_destroy(svc);
        return -1;
    }
    if (service_load_calendar(svc) != 0) {
        service_destroy(svc);
        return -1;
    }
    *out = svc;
    return 0;
}

void service_destroy(struct service *svc)
{
    if (svc == NULL)
        return;
    for (int i = 0; i < SERVICE_SUBSCRIPTIONS; i++)
        free(svc->subscriptions[i]);
    for (size_t i = 0; i < svc->outbox.count; i++) {
        free(svc->outbox.items[i].topic);
        free(svc->outbox.items[i].payload);
    }
    free(svc->outbox.items);
    strmap_free(&svc->last_delta);
    strmap_free(&svc->bucket_published);
    aggregate_key_set_free(&svc->bucket_changes);
    aggregate_key_set_free(&svc->bucket_pending);
    pthread_mutex_destroy(&svc->lock);
    free(svc);
}
