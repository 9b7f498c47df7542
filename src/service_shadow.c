/* service_shadow.c — the document topics: reported, desired, get, delete (SPEC §4).
 *
 * An update runs the SPEC's checks in order — known fields, registry, version, size — and only
 * then writes, all in one transaction: the document, the meter's history rows and the events it
 * raised commit together or not at all. Responses go out after the commit. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "isotime.h"
#include "log.h"
#include "service_internal.h"
#include "shadow.h"

/* ---- Loading and saving documents ---------------------------------------------------------- */

int service_doc_load(struct service *svc, const char *serial, struct shadow_doc *doc, char **stored)
{
    struct store_shadow row;
    shadow_doc_init(doc);
    if (stored != NULL)
        *stored = NULL;
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
    if (stored != NULL && doc->exists) {
        *stored = row.document; /* handed over */
        row.document = NULL;
    }
    store_shadow_free(&row);
    return rc;
}

int service_doc_save(struct service *svc, const char *serial, const struct shadow_doc *doc,
                     int64_t now, struct shadow_text *printed)
{
    struct shadow_text t;
    if (shadow_doc_print(doc, &t) != 0)
        return -1;
    int rc = store_shadow_save(svc->store, serial, t.text, doc->version, !doc->exists, now);
    if (printed != NULL && rc == STORE_OK)
        *printed = t;
    else
        shadow_text_free(&t);
    return rc == STORE_OK ? 0 : -1;
}

/* A stored text cut to the snapshot (without its trailing "timestamp" member), malloc'd. */
static char *service_snapshot_of(const char *stored, size_t len)
{
    char *snapshot = malloc(len + 2);
    if (snapshot != NULL) {
        memcpy(snapshot, stored, len);
        memcpy(snapshot + len, "}", 2);
    }
    return snapshot;
}

/* The snapshot of a stored text: it ends with the "timestamp" member, whose value holds no
 * quote, so the member starts at the last `,"timestamp":"`. */
static char *service_stored_snapshot(const char *stored)
{
    static const char key[] = ",\"timestamp\":\"";
    const char *cut = NULL;
    for (const char *p = strstr(stored, key); p != NULL; p = strstr(p + 1, key))
        cut = p;
    return cut != NULL ? service_snapshot_of(stored, (size_t)(cut - stored)) : NULL;
}

void service_publish_documents(struct service *svc, const struct service_msg *m,
                               const char *previous, const struct shadow_doc *doc,
                               const struct shadow_text *current)
{
    struct shadow_text own = {NULL, 0, 0};
    if (current == NULL && shadow_doc_print(doc, &own) == 0)
        current = &own;
    char *before = previous ? service_stored_snapshot(previous) : NULL;
    char *now = current ? service_snapshot_of(current->text, current->snapshot_len) : NULL;
    cJSON *stamp = cJSON_CreateObject();
    if (stamp != NULL)
        service_stamp(stamp, m);
    char *tail = stamp ? cJSON_PrintUnformatted(stamp) : NULL; /* {"timestamp":…} */
    cJSON_Delete(stamp);
    char *body = NULL;
    if (now != NULL && tail != NULL && (previous == NULL || before != NULL)) {
        size_t cap = (before ? strlen(before) : 4) + strlen(now) + strlen(tail) + 32;
        body = malloc(cap);
        if (body != NULL)
            snprintf(body, cap, "{\"previous\":%s,\"current\":%s,%s", before ? before : "null", now,
                     tail + 1);
    }
    if (body != NULL)
        service_publish_raw(svc, m->serial, "documents", body);
    else
        log_msg(LOG_ERROR, "service", "out of memory serializing documents serial=%s", m->serial);
    free(body);
    cJSON_free(tail);
    free(now);
    free(before);
    shadow_text_free(&own);
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

/* Publishes the delta when the SPEC's rule says so: non-empty, and the update touched desired or
 * the delta differs from the last one published for this meter (remembered in memory). */
void service_publish_delta(struct service *svc, const struct service_msg *m,
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
    return fields_parse_ts(cJSON_GetObjectItemCaseSensitive(m->req->root, "ts"), FIELDS_TS_EARLIEST,
                           m->now + FIELDS_TS_AHEAD_MAX, ts, err);
}

/* Applies the request to doc. Returns 0 with *changed, or -1 with *err (409/500). */
static int service_apply(const struct service_msg *m, struct shadow_doc *doc, int64_t ts,
                         bool *changed, struct api_error *err)
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
    return 0;
}

/* Registry gate and meter checks, inside the transaction. */
static int service_update_meter(struct service *svc, struct service_msg *m,
                                const struct fields_reported *fields, struct store_meter *meter,
                                struct api_error *err)
{
    struct service_want want;
    service_meter_want(fields, &want);
    if (service_meter_resolve(svc, m, &want, meter, err) != 0)
        return -1;
    if (m->action == TOPIC_DESIRED && (service_meter_check_desired(meter, m, err) != 0 ||
                                       service_tariffs_check_desired(svc, m, meter, err) != 0))
        return -1;
    return 0;
}

/* Everything a report writes besides the document: history, liveness, alerts, events. */
static int service_update_side_effects(struct service *svc, struct service_msg *m,
                                       const struct store_meter *meter,
                                       const struct fields_reported *fields,
                                       const struct shadow_doc *doc, int64_t ts)
{
    struct store_meter_state state;
    if (m->action == TOPIC_REPORTED && meter->found) {
        if (store_meter_state_load(svc->store, meter->id, &state) != STORE_OK ||
            service_meter_project(svc, m, meter, fields, ts) != 0)
            return -1;
        service_meter_alerts(svc, m, meter, doc->state[SHADOW_REPORTED], &state);
        service_meter_seen(m, meter, &state);
        if (store_meter_state_save(svc->store, meter->id, &state) != STORE_OK)
            return -1;
    }
    return service_events_store(svc, m);
}

void service_update(struct service *svc, struct service_msg *m)
{
    struct api_error err;
    struct fields_reported fields;
    struct store_meter meter;
    struct shadow_doc doc;
    int64_t ts;
    bool changed = false;
    if (service_report_time(m, &ts, &err) != 0 ||
        service_meter_validate(svc, m, &fields, &err) != 0) {
        service_reject(svc, m, &err);
        return;
    }
    api_error_set(&err, 500, "Internal failure");
    if (store_begin(svc->store) != STORE_OK) {
        service_abort(svc, m, &err, "begin failed");
        return;
    }
    if (service_update_meter(svc, m, &fields, &meter, &err) != 0) {
        service_abort(svc, m, &err, "registry lookup failed");
        return;
    }
    char *previous = NULL;
    if (service_doc_load(svc, m->serial, &doc, &previous) != 0) {
        service_abort(svc, m, &err, "load failed");
        return;
    }
    struct shadow_text printed = {NULL, 0, 0};
    int rc = service_apply(m, &doc, ts, &changed, &err);
    if (rc == 0 && service_tariffs_after_update(svc, m, &meter, &doc, &changed) != 0)
        rc = api_error_set(&err, 500, "Internal failure");
    if (rc == 0) {
        if (changed) {
            doc.version++;
            doc.exists = true;
        }
        if (doc.exists)
            doc.timestamp = m->now;
        /* Saved even without a change: equal re-reported values refresh their metadata. */
        api_error_set(&err, 500, "Internal failure");
        rc = doc.exists ? service_doc_save(svc, m->serial, &doc, m->now, &printed) : 0;
    }
    /* Measured on the print that was stored; the rollback below undoes the save. */
    if (rc == 0 && printed.text != NULL && printed.state_len > (size_t)svc->cfg->max_document_bytes)
        rc = api_error_set(&err, 413, "The payload exceeds the maximum size allowed");
    if (rc == 0 && (service_update_side_effects(svc, m, &meter, &fields, &doc, ts) != 0 ||
                    store_commit(svc->store) != STORE_OK))
        rc = api_error_set(&err, 500, "Internal failure");
    if (rc != 0) {
        free(previous);
        shadow_text_free(&printed);
        shadow_doc_clear(&doc);
        service_abort(svc, m, &err, "update failed");
        return;
    }
    svc->stats.accepted++;
    char suffix[32];
    snprintf(suffix, sizeof suffix, "%s/accepted", topic_action_name(m->action));
    service_publish_json(svc, m->serial, suffix, service_accepted_body(m, &doc, ts));
    if (changed)
        service_publish_documents(svc, m, previous, &doc, &printed);
    free(previous);
    shadow_text_free(&printed);
    service_publish_delta(svc, m, &doc);
    service_after_commit(svc, m);
    shadow_doc_clear(&doc);
}

/* ---- Get and delete ------------------------------------------------------------------------ */

/* Loads the document of a registered meter, answering 404 when there is none. Returns 0 with
 * *doc (existing), or -1 after answering. Runs inside a transaction when the caller opened one. */
static int service_load_existing(struct service *svc, struct service_msg *m, struct shadow_doc *doc)
{
    struct api_error err;
    struct store_meter meter;
    if (service_meter_resolve(svc, m, NULL, &meter, &err) != 0) {
        service_abort(svc, m, &err, "registry lookup failed");
        return -1;
    }
    if (service_doc_load(svc, m->serial, doc, NULL) != 0) {
        api_error_set(&err, 500, "Internal failure");
        service_abort(svc, m, &err, "load failed");
        return -1;
    }
    if (!doc->exists) {
        shadow_doc_clear(doc);
        api_error_set(&err, 404, "No shadow exists for meter: %s", m->serial);
        service_abort(svc, m, &err, NULL);
        return -1;
    }
    return 0;
}

void service_get(struct service *svc, struct service_msg *m)
{
    struct shadow_doc doc;
    if (service_load_existing(svc, m, &doc) != 0)
        return;
    cJSON *body = shadow_doc_to_json(&doc, true);
    if (body && m->req->has_token)
        cJSON_AddStringToObject(body, "clientToken", m->req->token);
    svc->stats.accepted++;
    service_publish_json(svc, m->serial, "get/accepted", body);
    shadow_doc_clear(&doc);
}

void service_delete(struct service *svc, struct service_msg *m)
{
    struct shadow_doc doc;
    struct api_error err;
    api_error_set(&err, 500, "Internal failure");
    if (store_begin(svc->store) != STORE_OK) {
        service_abort(svc, m, &err, "begin failed");
        return;
    }
    if (service_load_existing(svc, m, &doc) != 0)
        return;
    int64_t version = doc.version;
    shadow_doc_clear(&doc);
    if (store_shadow_save(svc->store, m->serial, "{}", version, true, m->now) != STORE_OK ||
        store_commit(svc->store) != STORE_OK) {
        service_abort(svc, m, &err, "delete failed");
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
