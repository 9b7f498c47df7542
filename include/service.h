/* service.h — one inbound message, end to end: decode → validate → apply → commit → publish.
 *
 * The service owns the in-memory state (counters, last published deltas) and is the only place
 * where the pure modules meet the store and the publisher. Every entry point takes the service's
 * lock, so the MQTT receive thread and the main loop's timer never interleave; the message in
 * hand is always finished before anything else runs. */
#ifndef SERVICE_H
#define SERVICE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct config;
struct store;
struct service;

/* Publishes at QoS 1; returns 0 or -1. The transport's publish, or a test double. */
typedef int (*service_publish_fn)(void *ctx, const char *topic, const void *payload, size_t len,
                                  bool retained);

/* Sleeps up to ms between attempts at a message the store could not take. It must not return
 * early to give up: returning from service_handle acknowledges the message. A caller that has to
 * stop meanwhile ends the process instead, leaving the message unacknowledged. */
typedef void (*service_wait_fn)(void *ctx, int ms);

struct service_options {
    const struct config *cfg; /* must outlive the service */
    struct store *store;      /* used only under the service's lock */
    service_publish_fn publish;
    void *publish_ctx;
    int64_t now;          /* start time, for uptime */
    service_wait_fn wait; /* NULL: nanosleep */
    void *wait_ctx;
};

/* Returns 0 and *out, or -1 (logged). */
int service_create(const struct service_options *opt, struct service **out);
void service_destroy(struct service *svc);

/* Handles one inbound message at receive time now (Unix seconds). When it returns, the message's
 * effects are committed (or it was rejected and answered): the caller may acknowledge it. While
 * the store cannot take writes (disk full, locked), it does not return: it retries with backoff,
 * logs an error, and service_holding is true. */
void service_handle(struct service *svc, const char *topic, size_t topic_len, const void *payload,
                    size_t len, int64_t now);

/* True while service_handle holds a message for the store. The receive thread is then inside the
 * MQTT client's callback, holding the client's lock: the main loop must not call the client. */
bool service_holding(const struct service *svc);

/* Periodic work, called about once a second. queue_depth is the transport's count of outgoing
 * messages not yet acknowledged, read by the caller without holding any service lock (the MQTT
 * client's lock must never be taken under the service's). Commands, stats and circuit buckets are
 * only published while connected: a publication that fails would otherwise be lost. */
void service_tick(struct service *svc, int64_t now, size_t queue_depth, bool connected);

/* The filters to subscribe to (under the topic root); valid for the service's life. */
const char *const *service_subscriptions(const struct service *svc, size_t *count);

/* The `shadowd/status` topic, and its payloads: online/offline with `since`, or the Last Will
 * (offline, no `since`) when since < 0. The payload is malloc'd, owned by the caller. */
const char *service_status_topic(const struct service *svc);
char *service_status_payload(bool online, int64_t since);

/* Publishes the retained `online` status; called on every (re)connect. */
void service_announce_online(struct service *svc, int64_t now);

#endif
