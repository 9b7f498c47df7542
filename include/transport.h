/* transport.h — the MQTT connection (Paho MQTTAsync): connect, subscribe, publish, reconnect.
 *
 * Delivery is at least once end to end: Paho acknowledges an inbound QoS 1 message when the
 * on_message callback returns, so the callback must have committed the message's effects by then.
 * The transport reconnects forever with capped exponential backoff (driven by transport_poll) and
 * resubscribes on every connect. Any thread may publish, but never while holding a lock that the
 * on_message callback also takes: Paho runs the callback holding its own client lock. */
#ifndef TRANSPORT_H
#define TRANSPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct transport;

/* Called on Paho's receive thread for each inbound message; returns when it is committed. */
typedef void (*transport_message_fn)(void *ctx, const char *topic, size_t topic_len,
                                     const void *payload, size_t len);
/* Called after each successful connect and subscribe (e.g. to publish an `online` status). */
typedef void (*transport_connected_fn)(void *ctx);

struct transport_options {
    const char *uri;       /* tcp://host:port, ssl://host:port */
    const char *client_id; /* fixed: the broker keeps the persistent session under it */
    const char *username;  /* NULL: anonymous */
    const char *password;  /* NULL: none */
    const char *tls_ca, *tls_cert, *tls_key;
    const char *will_topic; /* retained Last Will, QoS 1 */
    const char *will_payload;
    const char *const *subscriptions; /* topic filters, QoS 1 each */
    size_t subscription_count;
    transport_message_fn on_message;
    transport_connected_fn on_connected;
    void *ctx;
};

/* Creates the client (not yet connected). The options' strings must outlive the transport.
 * Returns 0, or -1 after logging the reason. */
int transport_create(const struct transport_options *opt, struct transport **out);

/* Starts a connect attempt when one is due (first call: at once; after a failure or a lost
 * connection: after the backoff). Call it regularly from one thread. now is Unix seconds. */
void transport_poll(struct transport *t, int64_t now);

bool transport_connected(const struct transport *t);

/* Outgoing QoS 1 messages not yet acknowledged by the broker. */
size_t transport_pending(struct transport *t);

/* Publishes at QoS 1. Returns 0 when Paho accepted the message, -1 otherwise (logged). */
int transport_publish(struct transport *t, const char *topic, const void *payload, size_t len,
                      bool retained);

/* Publishes a final message (retained), waits up to timeout_ms for it to be delivered, then
 * disconnects. Safe when not connected. */
void transport_shutdown(struct transport *t, const char *topic, const char *payload,
                        int timeout_ms);

/* Frees the client; no callback runs after it returns. */
void transport_destroy(struct transport *t);

#endif
