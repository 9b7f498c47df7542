/* service_stats.c — `shadowd/stats`, published every stats_interval_s (SPEC §3.2).
 *
 * Counters are cumulative since start, so a monitor can difference two samples for rates and a
 * missed sample loses nothing. Latency comes from the store, which times its own transactions. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "isotime.h"
#include "log.h"
#include "service_internal.h"

static void service_stats_add_codes(cJSON *body, const struct service_stats *st)
{
    static const char *const codes[] = {"400", "403", "404", "409", "413", "415", "500"};
    cJSON *by_code = cJSON_AddObjectToObject(body, "rejected_by_code");
    if (by_code == NULL)
        return;
    for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++)
        cJSON_AddNumberToObject(by_code, codes[i], (double)st->rejected_by_code[i]);
}

cJSON *service_stats_body(struct service *svc, int64_t now)
{
    const struct service_stats *st = &svc->stats;
    uint64_t p50 = 0, p99 = 0;
    int64_t meters = 0;
    cJSON *body = cJSON_CreateObject();
    if (body == NULL)
        return NULL;
    if (store_meter_count(svc->store, &meters) != STORE_OK)
        log_msg(LOG_WARN, "store", "count meters failed error=\"%s\"", store_errmsg(svc->store));
    store_commit_latency(svc->store, &p50, &p99);
    isotime_add_to_json(body, "timestamp", now);
    cJSON_AddNumberToObject(body, "uptime_s", (double)(now - svc->started));
    cJSON_AddNumberToObject(body, "received", (double)st->received);
    cJSON_AddNumberToObject(body, "accepted", (double)st->accepted);
    cJSON_AddNumberToObject(body, "rejected", (double)st->rejected);
    service_stats_add_codes(body, st);
    cJSON_AddNumberToObject(body, "ignored", (double)st->ignored);
    cJSON_AddNumberToObject(body, "commands_sent", (double)st->commands_sent);
    cJSON_AddNumberToObject(body, "commands_confirmed", (double)st->commands_confirmed);
    cJSON_AddNumberToObject(body, "commands_failed", (double)st->commands_failed);
    cJSON_AddNumberToObject(body, "store_waits", (double)st->store_waits);
    cJSON_AddNumberToObject(body, "queue_depth", (double)atomic_load(&svc->queue_depth));
    cJSON_AddNumberToObject(body, "pending_circuit_buckets", (double)svc->bucket_pending.count);
    cJSON_AddNumberToObject(body, "commit_latency_p50_us", (double)p50);
    cJSON_AddNumberToObject(body, "commit_latency_p99_us", (double)p99);
    cJSON_AddNumberToObject(body, "meters", (double)meters);
    return body;
}

/* Saves every number of the payload (nested ones as "parent.child") in one transaction. */
static void service_stats_save(struct service *svc, const cJSON *body, int64_t now)
{
    char name[128];
    int rc = store_begin(svc->store);
    for (const cJSON *item = body->child; rc == STORE_OK && item != NULL; item = item->next) {
        if (cJSON_IsNumber(item))
            rc = store_service_stat_set(svc->store, item->string, item->valuedouble, now);
        for (const cJSON *sub = cJSON_IsObject(item) ? item->child : NULL;
             rc == STORE_OK && sub != NULL; sub = sub->next) {
            snprintf(name, sizeof name, "%s.%s", item->string, sub->string);
            rc = store_service_stat_set(svc->store, name, sub->valuedouble, now);
        }
    }
    if (rc == STORE_OK)
        rc = store_commit(svc->store);
    if (rc != STORE_OK) {
        store_rollback(svc->store);
        log_msg(LOG_WARN, "store", "saving stats failed error=\"%s\"", store_errmsg(svc->store));
    }
}

void service_stats_tick(struct service *svc, int64_t now)
{
    char topic[TOPIC_MAX];
    if (now < svc->next_stats)
        return;
    svc->next_stats = now + svc->cfg->stats_interval_s;
    if (topic_service(topic, sizeof topic, svc->cfg->topic_root, "shadowd/stats") != 0)
        return;
    cJSON *body = service_stats_body(svc, now);
    if (body != NULL)
        service_stats_save(svc, body, now);
    char *text = body ? cJSON_PrintUnformatted(body) : NULL;
    cJSON_Delete(body);
    if (text != NULL)
        service_post(svc, topic, text, strlen(text), false);
    free(text);
}
