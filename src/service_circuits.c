/* service_circuits.c — publishing circuit buckets: circuits/{id}/hh, …/daily, …/monthly.
 *
 * A busy circuit changes its current half-hour on every read of every register; publishing each
 * change would multiply the message rate. So changes are collected per bucket and published at
 * most once per bucket per stats_interval_s (SPEC §3.2), always with the bucket's latest values
 * and revision. A change is only collected once its transaction has committed. */
#include <cjson/cJSON.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "isotime.h"
#include "log.h"
#include "service_internal.h"

void service_circuits_committed(struct service *svc)
{
    for (size_t i = 0; i < svc->bucket_changes.count; i++)
        if (aggregate_key_set_add(&svc->bucket_pending, &svc->bucket_changes.keys[i]) < 0)
            log_msg(LOG_WARN, "service", "out of memory queueing a circuit bucket");
    aggregate_key_set_clear(&svc->bucket_changes);
}

void service_circuits_discard(struct service *svc)
{
    aggregate_key_set_clear(&svc->bucket_changes);
}

static const char *service_circuits_suffix(enum aggregate_kind kind)
{
    return kind == AGGREGATE_HH ? "hh" : kind == AGGREGATE_DAY ? "daily" : "monthly";
}

/* The bucket's identity as a map key: "kind/circuit/start". */
static void service_circuits_name(const struct aggregate_key *key, char *out, size_t cap)
{
    snprintf(out, cap, "%d/%s/%" PRId64, (int)key->kind, key->circuit_id, key->start);
}

static cJSON *service_circuits_body(const struct aggregate_key *key,
                                    const struct aggregate_bucket *b)
{
    cJSON *body = cJSON_CreateObject();
    if (body == NULL)
        return NULL;
    cJSON_AddStringToObject(body, "circuit", key->circuit_id);
    if (key->kind == AGGREGATE_HH) {
        isotime_add_to_json(body, "start", key->start);
        cJSON_AddNumberToObject(body, "import_kwh", (double)b->import_mwh / 1e6);
        cJSON_AddNumberToObject(body, "export_kwh", (double)b->export_mwh / 1e6);
        cJSON_AddNumberToObject(body, "registers", b->registers);
        cJSON_AddBoolToObject(body, "complete", b->complete);
        cJSON_AddNumberToObject(body, "estimated", b->estimated);
    } else {
        cJSON_AddStringToObject(body, key->kind == AGGREGATE_DAY ? "day" : "month", key->label);
        cJSON_AddNumberToObject(body, "total_import_kwh", (double)b->import_mwh / 1e6);
        cJSON_AddNumberToObject(body, "total_export_kwh", (double)b->export_mwh / 1e6);
        cJSON_AddNumberToObject(body, "hh_count", b->hh_count);
        cJSON_AddBoolToObject(body, "complete", b->complete);
    }
    cJSON_AddNumberToObject(body, "revision", (double)b->revision);
    return body;
}

static void service_circuits_publish(struct service *svc, const struct aggregate_key *key)
{
    struct aggregate_bucket bucket;
    bool found = false;
    char name[TOPIC_MAX], topic[TOPIC_MAX];
    if (store_circuit_bucket_load(svc->store, key, &bucket, &found) != STORE_OK) {
        log_msg(LOG_ERROR, "store", "load circuit bucket failed error=\"%s\"",
                store_errmsg(svc->store));
        return;
    }
    snprintf(name, sizeof name, "circuits/%s/%s", key->circuit_id,
             service_circuits_suffix(key->kind));
    if (!found || topic_service(topic, sizeof topic, svc->cfg->topic_root, name) != 0)
        return;
    cJSON *body = service_circuits_body(key, &bucket);
    char *text = body ? cJSON_PrintUnformatted(body) : NULL;
    cJSON_Delete(body);
    if (text != NULL)
        service_post(svc, topic, text, strlen(text), false);
    free(text);
}

/* At most this many buckets a tick: a backfill can change thousands at once, and the broker
 * and the client's send queue take them better as a steady stream. */
#define SERVICE_CIRCUITS_PER_TICK 200

void service_circuits_publish_due(struct service *svc, int64_t now)
{
    struct aggregate_key_set waiting;
    char name[TOPIC_MAX];
    int sent = 0;
    /* Only publications within the last interval matter to the debounce: forget older ones, or
     * the map would grow by every bucket ever published. */
    if (now >= svc->next_bucket_prune) {
        svc->next_bucket_prune = now + svc->cfg->stats_interval_s;
        if (strmap_retain_at_least(&svc->bucket_published,
                                   (uint64_t)(now - svc->cfg->stats_interval_s)) != 0)
            log_msg(LOG_WARN, "service", "out of memory pruning circuit buckets");
    }
    if (svc->bucket_pending.count == 0)
        return;
    aggregate_key_set_init(&waiting);
    for (size_t i = 0; i < svc->bucket_pending.count; i++) {
        const struct aggregate_key *key = &svc->bucket_pending.keys[i];
        uint64_t last = 0;
        service_circuits_name(key, name, sizeof name);
        if (sent == SERVICE_CIRCUITS_PER_TICK ||
            (strmap_get(&svc->bucket_published, name, &last) &&
             now - (int64_t)last < svc->cfg->stats_interval_s)) {
            if (aggregate_key_set_add(&waiting, key) < 0)
                log_msg(LOG_WARN, "service", "out of memory keeping a circuit bucket");
            continue;
        }
        service_circuits_publish(svc, key);
        sent++;
        if (strmap_put(&svc->bucket_published, name, (uint64_t)now) != 0)
            log_msg(LOG_WARN, "service", "out of memory remembering a circuit bucket");
    }
    aggregate_key_set_free(&svc->bucket_pending);
    svc->bucket_pending = waiting;
}
