/* service.c — the message pipeline.
 *
 * For each inbound message: parse the topic, decode the request (pure checks), then inside one
 * write transaction load the shadow, check the version, apply the patch, check the size, and save;
 * only after the commit are the responses published. So a response never announces something
 * that is not durable, and a failure at any step changes nothing. */
#include "service.h"

#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_error.h"
#include "config.h"
#include "isotime.h"
#include "log.h"
#include "request.h"
#include "shadow.h"
#include "store.h"
#include "strmap.h"
#include "topics.h"
#include "version.h"

#define SERVICE_SUBSCRIPTIONS 4

struct service_stats {
    uint64_t received, accepted, rejected, ignored;
    uint64_t rejected_by_code[6]; /* 400, 403, 404, 409, 413, 415/500 folded below */
};

struct service {
    const struct config *cfg;
    struct store *store;
    service_publish_fn publish;
    void *publish_ctx;
    pthread_mutex_t lock;
    struct strmap last_delta; /* serial → fingerprint of the last delta published */
    struct service_stats stats;
    char *subscriptions[SERVICE_SUBSCRIPTIONS];
    char status_topic[TOPIC_MAX];
};

/* A message being handled: what the responses need to know about it. */
struct service_msg {
    enum topic_action action;
    char serial[TOPIC_SERIAL_MAX + 1];
    int64_t now;
    const struct request *req; /* NULL before the request is decoded */
};

/* ---- Publishing ---------------------------------------------------------------------------- */

/* Publishes a JSON tree (consumed) on meters/{serial}/{suffix}. */
static void service_publish_json(struct service *svc, const char *serial, const char *suffix,
                                 cJSON *payload)
{
    char topic[TOPIC_MAX];
    char *text = payload ? cJSON_PrintUnformatted(payload) : NULL;
    cJSON_Delete(payload);
    if (text == NULL) {
        log_msg(LOG_ERROR, "service", "out of memory serializing response serial=%s", serial);
        return;
    }
    if (topic_meter(topic, sizeof topic, svc->cfg->topic_root, serial, strlen(serial), suffix) == 0)
        svc->publish(svc->publish_ctx, topic, text, strlen(text), false);
    free(text);
}

/* Adds "timestamp" and, when the request carried a valid one, "clientToken". */
static void service_stamp(cJSON *obj, const struct service_msg *m)
{
    char stamp[ISOTIME_LEN];
    cJSON_AddStringToObject(obj, "timestamp", isotime_format(m->now, stamp));
    if (m->req && m->req->has_token)
        cJSON_AddStringToObject(obj, "clientToken", m->req->token);
}

static void service_count_rejection(struct service *svc, int code)
{
    static const int codes[] = {400, 403, 404, 409, 413};
    svc->stats.rejected++;
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
        if (codes[i] == code) {
            svc->stats.rejected_by_code[i]++;
            return;
        }
    }
    svc->stats.rejected_by_code[5]++;
}

/* Answers an error on meters/{serial}/{action}/rejected (SPEC §4.8). */
static void service_reject(struct service *svc, const struct service_msg *m,
                           const struct api_error *err)
{
    char suffix[64];
    service_count_rejection(svc, err->code);
    log_msg(LOG_INFO, "service", "rejected serial=%s topic=%s code=%d message=\"%s\"", m->serial,
            topic_action_name(m->action), err->code, err->message);
    cJSON *body = cJSON_CreateObject();
    if (body == NULL)
        return;
    cJSON_AddNumberToObject(body, "code", err->code);
    cJSON_AddStringToObject(body, "message", err->message);
    service_stamp(body, m);
    snprintf(suffix, sizeof suffix, "%s/rejected", topic_action_name(m->action));
    service_publish_json(svc, m->serial, suffix, body);
}

static void service_internal_failure(struct service *svc, const struct service_msg *m,
                                     const char *what)
{
    struct api_error err;
    log_msg(LOG_ERROR, "store", "%s serial=%s error=\"%s\"", what, m->serial,
            store_errmsg(svc->store));
    api_error_set(&err, 500, "Internal failure");
    service_reject(svc, m, &err);
}

/* ---- Loading and saving documents ---------------------------------------------------------- */

/* Loads serial's document into *doc (a non-existing one at its last version). Returns 0 or -1. */
static int service_load(struct service *svc, const char *serial, struct shadow_doc *doc)
{
    struct store_shadow row;
    shadow_doc_init(doc);
    if (store_shadow_load(svc->store, serial, &row) != STORE_OK)
        return -1;
    int rc = 0;
    if (row.found && !row.deleted) {
        rc = shadow_doc_from_json(row.document, doc);
        if (rc != 0)
            log_msg(LOG_ERROR, "service", "stored document unreadable serial=%s", serial);
    }
    doc->version = row.version;
    doc->exists = row.found && !row.deleted && rc == 0;
    store_shadow_free(&row);
    return rc;
}

static int service_save(struct service *svc, const char *serial, const struct shadow_doc *doc,
                        int64_t now)
{
    cJSON *json = shadow_doc_to_json(doc, false);
    char *text = json ? cJSON_PrintUnformatted(json) : NULL;
    cJSON_Delete(json);
    if (text == NULL)
        return -1;
    int rc = store_shadow_save(svc->store, serial, text, doc->version, !doc->exists, now);
    free(text);
    return rc == STORE_OK ? 0 : -1;
}

/* ---- Updates (reported, desired) ----------------------------------------------------------- */

/* The accepted response: the request's state echoed under its section, with its metadata. */
static cJSON *service_accepted_body(const struct service_msg *m, const struct shadow_doc *doc,
                                    int64_t ts)
{
    const char *section = m->action == TOPIC_REPORTED ? "reported" : "desired";
    cJSON *body = cJSON_CreateObject();
    cJSON *state = cJSON_AddObjectToObject(body, "state");
    cJSON *meta = cJSON_AddObjectToObject(body, "metadata");
    if (state == NULL || meta == NULL) {
        cJSON_Delete(body);
        return NULL;
    }
    cJSON_AddItemToObject(state, section, cJSON_Duplicate(m->req->state, true));
    if (m->req->clear_desired)
        cJSON_AddNullToObject(state, "desired");
    cJSON_AddItemToObject(meta, section, shadow_patch_metadata(m->req->state, ts));
    cJSON_AddNumberToObject(body, "version", (double)doc->version);
    service_stamp(body, m);
    return body;
}

static cJSON *service_documents_body(const struct service_msg *m, cJSON *previous,
                                     const struct shadow_doc *doc)
{
    cJSON *body = cJSON_CreateObject();
    if (body == NULL) {
        cJSON_Delete(previous);
        return NULL;
    }
    cJSON_AddItemToObject(body, "previous", previous ? previous : cJSON_CreateNull());
    cJSON_AddItemToObject(body, "current", shadow_doc_snapshot(doc));
    service_stamp(body, m);
    return body;
}

/* Publishes the delta when the SPEC's rule says so: non-empty, and the update touched desired or
 * the delta differs from the last one published for this meter (remembered in memory). */
static void service_publish_delta(struct service *svc, const struct service_msg *m,
                                  const struct shadow_doc *doc)
{
    cJSON *delta = shadow_delta(doc->state[SHADOW_DESIRED], doc->state[SHADOW_REPORTED]);
    if (delta == NULL) {
        strmap_remove(&svc->last_delta, m->serial);
        return;
    }
    char *text = cJSON_PrintUnformatted(delta);
    uint64_t fingerprint = text ? strmap_hash(text, strlen(text)) : 0, last = 0;
    free(text);
    bool seen = strmap_get(&svc->last_delta, m->serial, &last);
    if (m->action != TOPIC_DESIRED && seen && last == fingerprint) {
        cJSON_Delete(delta);
        return;
    }
    if (strmap_put(&svc->last_delta, m->serial, fingerprint) != 0)
        log_msg(LOG_WARN, "service", "out of memory remembering delta serial=%s", m->serial);
    cJSON *body = cJSON_CreateObject();
    if (body == NULL) {
        cJSON_Delete(delta);
        return;
    }
    cJSON_AddItemToObject(body, "state", delta);
    cJSON_AddNumberToObject(body, "version", (double)doc->version);
    service_stamp(body, m);
    service_publish_json(svc, m->serial, "delta", body);
}

/* The time a report's values were taken: its `ts`, or the receipt time. */
static int service_report_time(const struct service_msg *m, int64_t *ts, struct api_error *err)
{
    *ts = m->now;
    if (m->action != TOPIC_REPORTED || !m->req->has_ts)
        return 0;
    if (isotime_from_json(cJSON_GetObjectItemCaseSensitive(m->req->root, "ts"), ts) != 0)
        return api_error_set(err, 400,
                             "Invalid field: ts (ISO-8601 with zone, or Unix seconds)");
    return 0;
}

/* Applies the request to doc. Returns 0 with *changed, or -1 with *err (400/409/413/500). */
static int service_apply(struct service *svc, const struct service_msg *m, struct shadow_doc *doc,
                         int64_t ts, bool *changed, struct api_error *err)
{
    const struct request *req = m->req;
    bool cleared = false;
    *changed = false;
    if (req->has_version && req->version != doc->version)
        return api_error_set(err, 409, "Version conflict");
    if (req->clear_desired) {
        cJSON null_patch = {0};
        null_patch.type = cJSON_NULL;
        if (shadow_apply(doc, SHADOW_DESIRED, &null_patch, m->now, false, &cleared) != 0)
            return api_error_set(err, 500, "Internal failure");
    }
    enum shadow_section section = m->action == TOPIC_REPORTED ? SHADOW_REPORTED : SHADOW_DESIRED;
    if (shadow_apply(doc, section, req->state, ts, m->action == TOPIC_REPORTED, changed) != 0)
        return api_error_set(err, 500, "Internal failure");
    *changed = *changed || cleared;
    if (shadow_state_size(doc) > (size_t)svc->cfg->max_document_bytes)
        return api_error_set(err, 413, "The payload exceeds the maximum size allowed");
    return 0;
}

static void service_update(struct service *svc, const struct service_msg *m)
{
    struct api_error err;
    struct shadow_doc doc;
    int64_t ts;
    bool changed = false;
    if (service_report_time(m, &ts, &err) != 0) {
        service_reject(svc, m, &err);
        return;
    }
    if (store_begin(svc->store) != STORE_OK || service_load(svc, m->serial, &doc) != 0) {
        store_rollback(svc->store);
        service_internal_failure(svc, m, "load failed");
        return;
    }
    cJSON *previous = doc.exists ? shadow_doc_snapshot(&doc) : NULL;
    if (service_apply(svc, m, &doc, ts, &changed, &err) != 0) {
        store_rollback(svc->store);
        cJSON_Delete(previous);
        shadow_doc_clear(&doc);
        service_reject(svc, m, &err);
        return;
    }
    if (changed) {
        doc.version++;
        doc.exists = true;
    }
    if (doc.exists)
        doc.timestamp = m->now;
    /* Saved even without a change: equal re-reported values refresh their metadata. */
    if ((doc.exists && service_save(svc, m->serial, &doc, m->now) != 0) ||
        store_commit(svc->store) != STORE_OK) {
        store_rollback(svc->store);
        cJSON_Delete(previous);
        shadow_doc_clear(&doc);
        service_internal_failure(svc, m, "commit failed");
        return;
    }
    svc->stats.accepted++;
    char suffix[32];
    snprintf(suffix, sizeof suffix, "%s/accepted", topic_action_name(m->action));
    service_publish_json(svc, m->serial, suffix, service_accepted_body(m, &doc, ts));
    if (changed)
        service_publish_json(svc, m->serial, "documents", service_documents_body(m, previous, &doc));
    else
        cJSON_Delete(previous);
    service_publish_delta(svc, m, &doc);
    shadow_doc_clear(&doc);
}

/* ---- Get and delete ------------------------------------------------------------------------ */

static void service_get(struct service *svc, const struct service_msg *m)
{
    struct shadow_doc doc;
    struct api_error err;
    if (service_load(svc, m->serial, &doc) != 0) {
        service_internal_failure(svc, m, "load failed");
        return;
    }
    if (!doc.exists) {
        api_error_set(&err, 404, "No shadow exists for meter: %s", m->serial);
        service_reject(svc, m, &err);
        shadow_doc_clear(&doc);
        return;
    }
    cJSON *body = shadow_doc_to_json(&doc, true);
    if (body && m->req->has_token)
        cJSON_AddStringToObject(body, "clientToken", m->req->token);
    svc->stats.accepted++;
    service_publish_json(svc, m->serial, "get/accepted", body);
    shadow_doc_clear(&doc);
}

static void service_delete(struct service *svc, const struct service_msg *m)
{
    struct shadow_doc doc;
    struct api_error err;
    if (store_begin(svc->store) != STORE_OK || service_load(svc, m->serial, &doc) != 0) {
        store_rollback(svc->store);
        service_internal_failure(svc, m, "load failed");
        return;
    }
    if (!doc.exists) {
        store_rollback(svc->store);
        api_error_set(&err, 404, "No shadow exists for meter: %s", m->serial);
        service_reject(svc, m, &err);
        shadow_doc_clear(&doc);
        return;
    }
    int64_t version = doc.version;
    shadow_doc_clear(&doc);
    if (store_shadow_save(svc->store, m->serial, "{}", version, true, m->now) != STORE_OK ||
        store_commit(svc->store) != STORE_OK) {
        store_rollback(svc->store);
        service_internal_failure(svc, m, "delete failed");
        return;
    }
    strmap_remove(&svc->last_delta, m->serial);
    svc->stats.accepted++;
    cJSON *body = cJSON_CreateObject();
    if (body != NULL) {
        cJSON_AddNumberToObject(body, "version", (double)version);
        service_stamp(body, m);
    }
    service_publish_json(svc, m->serial, "delete/accepted", body);
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
    log_msg(LOG_INFO, "service", "rejected topic=%s code=400 message=\"Invalid meter serial\"",
            topic);
    cJSON *body = cJSON_CreateObject();
    char stamp[ISOTIME_LEN];
    cJSON_AddNumberToObject(body, "code", 400);
    cJSON_AddStringToObject(body, "message", err.message);
    cJSON_AddStringToObject(body, "timestamp", isotime_format(now, stamp));
    char *text = cJSON_PrintUnformatted(body);
    cJSON_Delete(body);
    if (text != NULL)
        svc->publish(svc->publish_ctx, topic, text, strlen(text), false);
    free(text);
}

static void service_dispatch(struct service *svc, struct service_msg *m, const void *payload,
                             size_t len)
{
    struct request req;
    struct api_error err;
    struct request_limits limits = {(size_t)svc->cfg->max_payload_bytes, (int)svc->cfg->max_depth};
    m->req = &req;
    if (request_parse(m->action, payload, len, &limits, &req, &err) != 0) {
        service_reject(svc, m, &err);
        request_free(&req);
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
    default:
        svc->stats.ignored++;
        break;
    }
    request_free(&req);
}

void service_handle(struct service *svc, const char *topic, size_t topic_len, const void *payload,
                    size_t len, int64_t now)
{
    struct topic_parsed tp;
    pthread_mutex_lock(&svc->lock);
    svc->stats.received++;
    if (topic_parse(svc->cfg->topic_root, topic, topic_len, &tp) != 0) {
        svc->stats.ignored++;
        log_msg(LOG_DEBUG, "service", "ignored topic=%.*s", (int)topic_len, topic);
    } else if (!tp.serial_valid) {
        service_reject_serial(svc, &tp, now);
    } else {
        struct service_msg m = {.action = tp.action, .now = now};
        memcpy(m.serial, tp.serial, tp.serial_len);
        m.serial[tp.serial_len] = '\0';
        service_dispatch(svc, &m, payload, len);
    }
    pthread_mutex_unlock(&svc->lock);
}

/* ---- Lifecycle ----------------------------------------------------------------------------- */

char *service_status_payload(bool online, int64_t since)
{
    char stamp[ISOTIME_LEN];
    cJSON *body = cJSON_CreateObject();
    if (body == NULL)
        return NULL;
    cJSON_AddStringToObject(body, "status", online ? "online" : "offline");
    cJSON_AddStringToObject(body, "version", SHADOW_VERSION);
    if (since >= 0)
        cJSON_AddStringToObject(body, "since", isotime_format(since, stamp));
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
    svc->publish(svc->publish_ctx, svc->status_topic, text, strlen(text), true);
    pthread_mutex_unlock(&svc->lock);
    free(text);
}

const char *const *service_subscriptions(const struct service *svc, size_t *count)
{
    *count = SERVICE_SUBSCRIPTIONS;
    return (const char *const *)svc->subscriptions;
}

static int service_make_subscriptions(struct service *svc)
{
    static const char *const actions[SERVICE_SUBSCRIPTIONS] = {"reported", "desired", "get",
                                                               "delete"};
    const char *root = svc->cfg->topic_root ? svc->cfg->topic_root : "";
    char filter[TOPIC_MAX];
    for (int i = 0; i < SERVICE_SUBSCRIPTIONS; i++) {
        int n = snprintf(filter, sizeof filter, "%s%smeters/+/%s", root, *root ? "/" : "",
                         actions[i]);
        if (n < 0 || (size_t)n >= sizeof filter)
            return -1;
        svc->subscriptions[i] = strdup(filter);
        if (svc->subscriptions[i] == NULL)
            return -1;
    }
    return topic_service(svc->status_topic, sizeof svc->status_topic, svc->cfg->topic_root,
                         "shadowd/status");
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
    strmap_init(&svc->last_delta);
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
    *out = svc;
    return 0;
}

void service_tick(struct service *svc, int64_t now)
{
    (void)svc;
    (void)now;
}

void service_destroy(struct service *svc)
{
    if (svc == NULL)
        return;
    for (int i = 0; i < SERVICE_SUBSCRIPTIONS; i++)
        free(svc->subscriptions[i]);
    strmap_free(&svc->last_delta);
    pthread_mutex_destroy(&svc->lock);
    free(svc);
}
