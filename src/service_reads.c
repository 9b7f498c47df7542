/* service_reads.c — historical read batches on meters/{serial}/reads (SPEC §3.1).
 *
 * A mediator uploads a meter's profile log or a backfill: many cumulative reads at once. The
 * whole batch is validated first (one bad read rejects it, nothing half-applies), then stored in
 * one transaction through the same interval engine as live reports, so a batch and the same
 * reads sent one by one give the same history. A null or absent register means "no read". */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <string.h>

#include "service_internal.h"

#define READS_FIELDS 4

static const char *const reads_field_names[READS_FIELDS] = {"import_a", "import_b", "export_a",
                                                            "export_b"};

struct reads_counts {
    long accepted, duplicates, restated;
};

/* Validates one element of `reads`, marking the elements it needs. */
static int service_reads_check(const cJSON *read, size_t index, int64_t now,
                               struct service_want *want, struct api_error *err)
{
    char name[64];
    int64_t ts, wh;
    if (!cJSON_IsObject(read))
        return api_error_set(err, 400, "Invalid field: reads[%zu] (must be an object)", index);
    snprintf(name, sizeof name, "reads[%zu].ts", index);
    if (fields_parse_time(cJSON_GetObjectItemCaseSensitive(read, "ts"), name, FIELDS_TS_EARLIEST,
                          now + FIELDS_TS_AHEAD_MAX, &ts, err) != 0)
        return -1;
    const cJSON *status = cJSON_GetObjectItemCaseSensitive(read, "status");
    if (status != NULL && !cJSON_IsString(status) && !cJSON_IsNull(status))
        return api_error_set(err, 400, "Invalid field: reads[%zu].status (must be a string)",
                             index);
    for (int i = 0; i < READS_FIELDS; i++) {
        const cJSON *item = cJSON_GetObjectItemCaseSensitive(read, reads_field_names[i]);
        if (item == NULL || cJSON_IsNull(item))
            continue;
        snprintf(name, sizeof name, "reads[%zu].%s", index, reads_field_names[i]);
        if (fields_parse_kwh(item, name, &wh, err) != 0)
            return -1;
        want->element[i % 2] = true;
        want->field[i % 2] = "reads";
    }
    return 0;
}

static int service_reads_validate(const struct service_msg *m, const cJSON **reads,
                                  struct service_want *want, struct api_error *err)
{
    memset(want, 0, sizeof *want);
    *reads = cJSON_GetObjectItemCaseSensitive(m->req->root, "reads");
    if (!cJSON_IsArray(*reads))
        return api_error_set(err, 400, "Invalid field: reads (must be an array of reads)");
    size_t index = 0;
    for (const cJSON *read = (*reads)->child; read != NULL; read = read->next, index++)
        if (service_reads_check(read, index, m->now, want, err) != 0)
            return -1;
    return 0;
}

/* Stores one validated read element: one register read per register value it carries. */
static int service_reads_store_one(struct service *svc, struct service_msg *m,
                                   const struct store_meter *meter, const cJSON *read,
                                   struct reads_counts *counts)
{
    struct api_error err;
    int64_t ts, wh;
    const cJSON *status = cJSON_GetObjectItemCaseSensitive(read, "status");
    bool estimated = cJSON_IsString(status) && strcmp(status->valuestring, "estimated") == 0;
    if (fields_parse_time(cJSON_GetObjectItemCaseSensitive(read, "ts"), "ts", 0, INT64_MAX, &ts,
                          &err) != 0)
        return -1;
    for (int i = 0; i < READS_FIELDS; i++) {
        struct store_read_result result;
        const cJSON *item = cJSON_GetObjectItemCaseSensitive(read, reads_field_names[i]);
        if (item == NULL || cJSON_IsNull(item))
            continue;
        if (fields_parse_kwh(item, reads_field_names[i], &wh, &err) != 0 ||
            service_meter_register_read(svc, m, meter, i % 2 ? 'B' : 'A', i < 2, ts, wh, estimated,
                                        &result) != 0)
            return -1;
        counts->accepted += result.arrival == INTERVAL_NEW;
        counts->duplicates += result.arrival == INTERVAL_DUPLICATE;
        counts->restated += result.restated;
    }
    return 0;
}

static int service_reads_store(struct service *svc, struct service_msg *m,
                               const struct store_meter *meter, const cJSON *reads,
                               struct reads_counts *counts)
{
    struct store_meter_state state;
    for (const cJSON *read = reads->child; read != NULL; read = read->next)
        if (service_reads_store_one(svc, m, meter, read, counts) != 0)
            return -1;
    if (store_meter_state_load(svc->store, meter->id, &state) != STORE_OK)
        return -1;
    service_meter_seen(m, meter, &state);
    if (store_meter_state_save(svc->store, meter->id, &state) != STORE_OK)
        return -1;
    return service_events_store(svc, m);
}

static void service_reads_accepted(struct service *svc, struct service_msg *m,
                                   const struct reads_counts *counts)
{
    cJSON *body = cJSON_CreateObject();
    if (body != NULL) {
        cJSON_AddNumberToObject(body, "accepted", (double)counts->accepted);
        cJSON_AddNumberToObject(body, "duplicates", (double)counts->duplicates);
        cJSON_AddNumberToObject(body, "restated_intervals", (double)counts->restated);
        service_stamp(body, m);
    }
    service_publish_json(svc, m->serial, "reads/accepted", body);
}

void service_reads(struct service *svc, struct service_msg *m)
{
    struct api_error err;
    struct service_want want;
    struct store_meter meter;
    struct reads_counts counts = {0, 0, 0};
    const cJSON *reads = NULL;
    if (service_reads_validate(m, &reads, &want, &err) != 0) {
        service_reject(svc, m, &err);
        return;
    }
    int rc = store_begin(svc->store) == STORE_OK ? 0 : api_error_set(&err, 500, "Internal failure");
    if (rc == 0)
        rc = service_meter_resolve(svc, m, &want, &meter, &err);
    if (rc == 0 && !meter.found)
        rc = api_error_set(&err, 404, "Meter not registered: %s", m->serial);
    if (rc == 0 && (service_reads_store(svc, m, &meter, reads, &counts) != 0 ||
                    store_commit(svc->store) != STORE_OK))
        rc = api_error_set(&err, 500, "Internal failure");
    if (rc != 0) {
        service_abort(svc, m, &err, "reads failed");
        return;
    }
    svc->stats.accepted++;
    service_reads_accepted(svc, m, &counts);
    service_after_commit(svc, m);
}
