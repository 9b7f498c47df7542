/* service_internal.h — what the service's source files share.
 *
 * The service is split by what a user sees: service.c (dispatch, publishing, events, timers),
 * service_shadow.c (the document topics), service_meter.c (the meter domain: registry gate,
 * known fields, history, health) and service_reads.c (historical read batches). All of them run
 * under the service's lock, one message at a time. */
#ifndef SERVICE_INTERNAL_H
#define SERVICE_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "api_error.h"
#include "config.h"
#include "fields.h"
#include "intervals.h"
#include "request.h"
#include "service.h"
#include "shadow.h"
#include "store.h"
#include "strmap.h"
#include "topics.h"
#include "tzone.h"

#define SERVICE_SUBSCRIPTIONS 6
#define SERVICE_EVENTS_MAX 64

struct cJSON;

struct service_stats {
    uint64_t received, accepted, rejected, ignored;
    uint64_t rejected_by_code[7]; /* 400, 403, 404, 409, 413, 415, 500 */
    uint64_t commands_sent, commands_confirmed, commands_failed; /* SPEC §8: cumulative */
    uint64_t store_waits; /* messages held because the store could not take them */
};

/* A publication waiting for the service's lock to be released (see service_post). */
struct service_outgoing {
    char *topic;
    char *payload; /* owned, payload_len bytes */
    size_t payload_len;
    bool retained;
};

struct service_outbox {
    struct service_outgoing *items;
    size_t count, cap;
};

struct service {
    const struct config *cfg;
    struct store *store;
    service_publish_fn publish;
    void *publish_ctx;
    service_wait_fn wait;
    void *wait_ctx;
    atomic_bool holding; /* a message waits for the store (see service_handle) */
    pthread_mutex_t lock;
    atomic_int timer_waiting;     /* the timer wants the lock: message handling steps aside */
    struct service_outbox outbox; /* publications of the work in hand, sent after unlocking */
    struct strmap last_delta;     /* serial → fingerprint of the last delta published */
    struct service_stats stats;
    struct tzone tz;                 /* aggregate_timezone */
    struct interval_profile profile; /* shape of long gaps */
    int64_t next_offline_scan;
    int64_t started, next_stats;
    atomic_size_t queue_depth; /* outgoing messages not yet acknowledged, set by the main loop */
    struct aggregate_key_set bucket_changes; /* circuit buckets changed by the message in hand */
    struct aggregate_key_set bucket_pending; /* committed changes waiting for their debounce */
    struct strmap bucket_published;          /* bucket → Unix seconds of its last publication */
    int64_t next_bucket_prune;
    char *subscriptions[SERVICE_SUBSCRIPTIONS];
    char status_topic[TOPIC_MAX];
};

/* An event raised while handling a message: stored in the same transaction, published after. */
struct service_event {
    char meter_id[37];
    char serial[TOPIC_SERIAL_MAX + 1];
    int64_t ts;
    struct cJSON *payload; /* {"type":…,"timestamp":…,…}; owned */
};

/* A message being handled, and what its responses need. */
struct service_msg {
    enum topic_action action;
    char serial[TOPIC_SERIAL_MAX + 1];
    int64_t now;
    struct request request;    /* the decoded payload */
    const struct request *req; /* &request once decoded; NULL before */
    struct service_event events[SERVICE_EVENTS_MAX];
    size_t event_count;
    bool held; /* the store could not take it: not answered, to be tried again */
};

/* ---- service.c: responses and events ---- */

/* Queues a publication (copied). The MQTT client runs our message callback while holding its
 * own lock, so calling it while holding the service's lock from another thread would deadlock;
 * everything queued is sent once the entry point has released the service's lock. */
void service_post(struct service *svc, const char *topic, const char *payload, size_t len,
                  bool retained);

/* Publishes a JSON tree (consumed; NULL tolerated) on {root/}meters/{serial}/{suffix}. */
void service_publish_json(struct service *svc, const char *serial, const char *suffix,
                          struct cJSON *payload);
/* The same with a payload already printed (copied). */
void service_publish_raw(struct service *svc, const char *serial, const char *suffix,
                         const char *payload);
/* Adds "timestamp" (receipt time) and the request's "clientToken" when it had a valid one. */
void service_stamp(struct cJSON *obj, const struct service_msg *m);
/* Answers err on meters/{serial}/{action}/rejected, counted and logged. */
void service_reject(struct service *svc, const struct service_msg *m, const struct api_error *err);
/* Logs the store's error and answers 500 Internal failure; or, when the store is only unavailable
 * for now (full, locked), marks the message held and answers nothing. */
void service_internal_failure(struct service *svc, struct service_msg *m, const char *what);
/* Ends a failed transaction: rolls back, drops queued events, answers err (a 500 is logged with
 * the store's error and what was being done). */
void service_abort(struct service *svc, struct service_msg *m, const struct api_error *err,
                   const char *what);
/* Queues an event (payload consumed) of the given type at ts for meter; details may be added to
 * the returned object until the message is committed. Returns NULL when the queue is full. */
struct cJSON *service_event_raise(struct service_msg *m, const char *meter_id, const char *type,
                                  int64_t ts);
/* Writes the queued events to meter_event_log (inside the transaction). Returns 0 or -1. */
int service_events_store(struct service *svc, struct service_msg *m);
/* After the message's commit: publishes the queued events (and frees them) and hands the changed
 * circuit buckets to the debounced publisher. */
void service_after_commit(struct service *svc, struct service_msg *m);
/* Frees queued events without publishing (after a rollback). */
void service_events_discard(struct service_msg *m);

/* ---- service_shadow.c ---- */
void service_update(struct service *svc, struct service_msg *m);
/* Loads serial's document into *doc (a non-existing one at its last version), and its stored
 * text into *stored when stored is not NULL (malloc'd; NULL when there is no live document).
 * 0 or -1. */
int service_doc_load(struct service *svc, const char *serial, struct shadow_doc *doc,
                     char **stored);
/* Stores doc (soft-deleted when !doc->exists), printed once; the print goes to *printed when it
 * is not NULL (the caller frees it with shadow_text_free). 0 or -1. Inside a transaction. */
int service_doc_save(struct service *svc, const char *serial, const struct shadow_doc *doc,
                     int64_t now, struct shadow_text *printed);
/* Publishes `documents`: previous is the stored text service_doc_load gave (NULL for a new
 * shadow), current the print of the saved document (NULL: doc is printed here). */
void service_publish_documents(struct service *svc, const struct service_msg *m,
                               const char *previous, const struct shadow_doc *doc,
                               const struct shadow_text *current);
/* Publishes the delta when the SPEC's rule says so. */
void service_publish_delta(struct service *svc, const struct service_msg *m,
                           const struct shadow_doc *doc);
void service_get(struct service *svc, struct service_msg *m);
void service_delete(struct service *svc, struct service_msg *m);

/* ---- service_meter.c ---- */

/* The register elements a message needs, with the field to name when one is missing. */
struct service_want {
    bool element[2];      /* [0]: A (or SINGLE), [1]: B */
    const char *field[2]; /* e.g. "import_b", for `Invalid field: import_b (…)` */
};

/* Validates the meter fields of an update before anything is written: a report's known fields
 * (into *fields) or a desired patch's tariff. Returns 0 or -1 with *err (400). */
int service_meter_validate(struct service *svc, const struct service_msg *m,
                           struct fields_reported *fields, struct api_error *err);
/* The elements a report's register fields need. */
void service_meter_want(const struct fields_reported *f, struct service_want *want);
/* Inside the transaction: finds the meter. An unregistered one is 404 under unknown_meters =
 * reject; under provision it is created (with want's registers) when want is non-NULL, else left
 * unfound. A registered meter lacking a wanted register gets it under provision, else 400.
 * Returns 0 with *meter, or -1 with *err (400/404/500). */
int service_meter_resolve(struct service *svc, const struct service_msg *m,
                          const struct service_want *want, struct store_meter *meter,
                          struct api_error *err);
/* 403 for a desired patch that sets a reported-only field of a passive meter. */
int service_meter_check_desired(const struct store_meter *meter, const struct service_msg *m,
                                struct api_error *err);
/* Inside the transaction: history rows and register reads for a report taken at ts. */
int service_meter_project(struct service *svc, struct service_msg *m,
                          const struct store_meter *meter, const struct fields_reported *f,
                          int64_t ts);
/* Alert latches (low balance, clock drift) on the shadow's current reported values, so a late
 * report never re-raises an old alert; state is updated in place (the caller saves it). */
void service_meter_alerts(struct service *svc, struct service_msg *m,
                          const struct store_meter *meter, const struct cJSON *reported,
                          struct store_meter_state *state);
/* A message from the meter arrived now: last_seen, and the `online` event if it was offline. */
void service_meter_seen(struct service_msg *m, const struct store_meter *meter,
                        struct store_meter_state *state);
/* One cumulative read of a meter element ('A' or 'B') into its register: interval engine,
 * conflict and reset events. *result tells what happened. Inside the transaction. */
int service_meter_register_read(struct service *svc, struct service_msg *m,
                                const struct store_meter *meter, char element, bool is_import,
                                int64_t ts, int64_t wh, bool estimated,
                                struct store_read_result *result);
/* Periodic: marks meters offline and raises their events. */
void service_meter_scan_offline(struct service *svc, int64_t now);

/* ---- service_circuits.c ---- */

/* After a commit: the changed circuit buckets join the pending set. After a rollback: dropped. */
void service_circuits_committed(struct service *svc);
void service_circuits_discard(struct service *svc);
/* Publishes pending buckets whose debounce (stats_interval_s) has passed. */
void service_circuits_publish_due(struct service *svc, int64_t now);

/* ---- service_tariffs.c ---- */

/* Inside an update's transaction, after the patch was applied and before the version is bumped
 * and the document saved: the tariff workflow's reactions (SPEC §8) — a new desired future tariff
 * creates a command for an active meter; a reported tariffs_future confirms it; a reported
 * tariffs_active equal to the desired future one at or after the activation instant clears
 * desired.tariffs_future (sets *changed). May queue events. Returns 0 or -1 (store error). */
int service_tariffs_after_update(struct service *svc, struct service_msg *m,
                                 const struct store_meter *meter, struct shadow_doc *doc,
                                 bool *changed);
/* 400 for a desired future tariff whose activation instant is not in the future (the meter's
 * clock rules of SPEC §8). Before anything is written. */
int service_tariffs_check_desired(struct service *svc, const struct service_msg *m,
                                  const struct store_meter *meter, struct api_error *err);
/* A meter's answer on meters/{serial}/commands/result. */
void service_command_result(struct service *svc, struct service_msg *m);
/* Periodic: sends due commands and retries, fails exhausted ones, activates passive meters'
 * tariffs, raises tariff_overdue. */
void service_tariffs_tick(struct service *svc, int64_t now);

/* ---- service_stats.c ---- */

/* The `shadowd/stats` payload at now (new tree, owned by the caller). */
struct cJSON *service_stats_body(struct service *svc, int64_t now);
/* Publishes it when stats_interval_s has passed since the last time. */
void service_stats_tick(struct service *svc, int64_t now);

/* ---- service_reads.c ---- */
void service_reads(struct service *svc, struct service_msg *m);

#endif
