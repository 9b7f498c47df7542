/* transport.c — Paho MQTTAsync behind the transport interface.
 *
 * Reconnection is driven here rather than by Paho's automaticReconnect: a first connect that
 * fails is retried too, the backoff is ours to cap, and every connect resubscribes (the service
 * also keeps a persistent session, so the broker queues QoS 1 messages while it is away).
 * Paho runs the message callback while holding its own client lock, so no lock of ours is ever
 * held around a Paho call: the service queues its publications and sends them unlocked. */
#include "transport.h"

#include <MQTTAsync.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "log.h"

#define TRANSPORT_BACKOFF_MIN_S 1
#define TRANSPORT_BACKOFF_MAX_S 30

enum transport_state { TRANSPORT_IDLE, TRANSPORT_CONNECTING, TRANSPORT_CONNECTED };

struct transport {
    MQTTAsync client;
    struct transport_options opt;
    MQTTAsync_willOptions will;
    MQTTAsync_SSLOptions ssl;
    bool use_ssl;
    pthread_mutex_t lock; /* guards state, next_attempt and backoff */
    enum transport_state state;
    int64_t next_attempt;
    int backoff_s;
};

/* ---- Connection state ---------------------------------------------------------------------- */

/* Schedules the next attempt after the current backoff and doubles it, up to the cap. */
static void transport_schedule_retry(struct transport *t)
{
    pthread_mutex_lock(&t->lock);
    t->state = TRANSPORT_IDLE;
    t->next_attempt = (int64_t)time(NULL) + t->backoff_s;
    t->backoff_s =
        t->backoff_s * 2 > TRANSPORT_BACKOFF_MAX_S ? TRANSPORT_BACKOFF_MAX_S : t->backoff_s * 2;
    pthread_mutex_unlock(&t->lock);
}

static void transport_on_connection_lost(void *ctx, char *cause)
{
    struct transport *t = ctx;
    log_msg(LOG_WARN, "mqtt", "connection lost broker=%s cause=%s", t->opt.uri,
            cause ? cause : "unknown");
    free(cause);
    pthread_mutex_lock(&t->lock);
    t->backoff_s = TRANSPORT_BACKOFF_MIN_S;
    pthread_mutex_unlock(&t->lock);
    transport_schedule_retry(t);
}

static void transport_on_subscribed(void *ctx, MQTTAsync_successData *data)
{
    (void)data;
    struct transport *t = ctx;
    log_msg(LOG_INFO, "mqtt", "subscribed filters=%zu", t->opt.subscription_count);
    if (t->opt.on_connected)
        t->opt.on_connected(t->opt.ctx);
}

static void transport_on_subscribe_failed(void *ctx, MQTTAsync_failureData *data)
{
    struct transport *t = ctx;
    log_msg(LOG_ERROR, "mqtt", "subscribe failed code=%d message=%s", data ? data->code : -1,
            data && data->message ? data->message : "none");
    /* Without subscriptions the service is deaf: drop the connection and start over. */
    if (MQTTAsync_disconnect(t->client, NULL) != MQTTASYNC_SUCCESS)
        log_msg(LOG_WARN, "mqtt", "disconnect after failed subscribe did not start");
    transport_schedule_retry(t);
}

static void transport_subscribe_all(struct transport *t)
{
    size_t n = t->opt.subscription_count;
    int *qos = malloc(n * sizeof *qos);
    if (qos == NULL) {
        transport_on_subscribe_failed(t, NULL);
        return;
    }
    for (size_t i = 0; i < n; i++)
        qos[i] = 1;
    MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
    ro.onSuccess = transport_on_subscribed;
    ro.onFailure = transport_on_subscribe_failed;
    ro.context = t;
    int rc =
        MQTTAsync_subscribeMany(t->client, (int)n, (char *const *)t->opt.subscriptions, qos, &ro);
    free(qos);
    if (rc != MQTTASYNC_SUCCESS) {
        log_msg(LOG_ERROR, "mqtt", "subscribe not started code=%d", rc);
        transport_schedule_retry(t);
    }
}

static void transport_on_connect(void *ctx, MQTTAsync_successData *data)
{
    (void)data;
    struct transport *t = ctx;
    pthread_mutex_lock(&t->lock);
    t->state = TRANSPORT_CONNECTED;
    t->backoff_s = TRANSPORT_BACKOFF_MIN_S;
    pthread_mutex_unlock(&t->lock);
    log_msg(LOG_INFO, "mqtt", "connected broker=%s client_id=%s", t->opt.uri, t->opt.client_id);
    transport_subscribe_all(t);
}

static void transport_on_connect_failed(void *ctx, MQTTAsync_failureData *data)
{
    struct transport *t = ctx;
    log_msg(LOG_WARN, "mqtt", "connect failed broker=%s code=%d retry_in_s=%d", t->opt.uri,
            data ? data->code : -1, t->backoff_s);
    transport_schedule_retry(t);
}

static int transport_on_message(void *ctx, char *topic, int topic_len, MQTTAsync_message *msg)
{
    struct transport *t = ctx;
    size_t len = topic_len > 0 ? (size_t)topic_len : strlen(topic);
    t->opt.on_message(t->opt.ctx, topic, len, msg->payload, (size_t)msg->payloadlen);
    MQTTAsync_freeMessage(&msg);
    MQTTAsync_free(topic);
    return 1; /* processed and committed: Paho may acknowledge it now */
}

/* ---- Public interface ---------------------------------------------------------------------- */

static void transport_setup_tls(struct transport *t)
{
    const struct transport_options *o = &t->opt;
    t->use_ssl = strncmp(o->uri, "ssl://", 6) == 0 || strncmp(o->uri, "mqtts://", 8) == 0;
    MQTTAsync_SSLOptions ssl = MQTTAsync_SSLOptions_initializer;
    ssl.trustStore = o->tls_ca;
    ssl.keyStore = o->tls_cert;
    ssl.privateKey = o->tls_key;
    ssl.enableServerCertAuth = 1;
    ssl.verify = 1; /* the broker's certificate must name the host we connect to */
    t->ssl = ssl;
}

int transport_create(const struct transport_options *opt, struct transport **out)
{
    struct transport *t = calloc(1, sizeof *t);
    if (t == NULL) {
        log_msg(LOG_ERROR, "mqtt", "out of memory");
        return -1;
    }
    t->opt = *opt;
    t->backoff_s = TRANSPORT_BACKOFF_MIN_S;
    transport_setup_tls(t);
    if (pthread_mutex_init(&t->lock, NULL) != 0) {
        free(t);
        log_msg(LOG_ERROR, "mqtt", "mutex init failed");
        return -1;
    }
    MQTTAsync_createOptions co = MQTTAsync_createOptions_initializer;
    co.sendWhileDisconnected = 0;
    /* Paho counts queued commands against this even while connected: it bounds a burst. */
    co.maxBufferedMessages = 20000;
    int rc = MQTTAsync_createWithOptions(&t->client, opt->uri, opt->client_id,
                                         MQTTCLIENT_PERSISTENCE_NONE, NULL, &co);
    if (rc == MQTTASYNC_SUCCESS)
        rc = MQTTAsync_setCallbacks(t->client, t, transport_on_connection_lost,
                                    transport_on_message, NULL);
    if (rc != MQTTASYNC_SUCCESS) {
        log_msg(LOG_ERROR, "mqtt", "client create failed broker=%s code=%d", opt->uri, rc);
        transport_destroy(t);
        return -1;
    }
    *out = t;
    return 0;
}

static void transport_connect(struct transport *t)
{
    MQTTAsync_connectOptions co = MQTTAsync_connectOptions_initializer;
    co.keepAliveInterval = 30;
    co.cleansession = 0; /* persistent session: the broker queues QoS 1 while we are away */
    co.connectTimeout = 10;
    co.username = t->opt.username;
    co.password = t->opt.password;
    co.onSuccess = transport_on_connect;
    co.onFailure = transport_on_connect_failed;
    co.context = t;
    if (t->opt.will_topic) {
        MQTTAsync_willOptions will = MQTTAsync_willOptions_initializer;
        will.topicName = t->opt.will_topic;
        will.message = t->opt.will_payload;
        will.retained = 1;
        will.qos = 1;
        t->will = will;
        co.will = &t->will;
    }
    if (t->use_ssl)
        co.ssl = &t->ssl;
    int rc = MQTTAsync_connect(t->client, &co);
    if (rc != MQTTASYNC_SUCCESS) {
        log_msg(LOG_WARN, "mqtt", "connect not started broker=%s code=%d", t->opt.uri, rc);
        transport_schedule_retry(t);
    }
}

void transport_poll(struct transport *t, int64_t now)
{
    pthread_mutex_lock(&t->lock);
    bool due = t->state == TRANSPORT_IDLE && now >= t->next_attempt;
    if (due)
        t->state = TRANSPORT_CONNECTING;
    pthread_mutex_unlock(&t->lock);
    if (due)
        transport_connect(t);
}

bool transport_connected(const struct transport *t)
{
    return MQTTAsync_isConnected(t->client) != 0;
}

size_t transport_pending(struct transport *t)
{
    MQTTAsync_token *tokens = NULL;
    size_t n = 0;
    if (MQTTAsync_getPendingTokens(t->client, &tokens) != MQTTASYNC_SUCCESS || tokens == NULL)
        return 0;
    while (tokens[n] != -1)
        n++;
    MQTTAsync_free(tokens);
    return n;
}

static int transport_send(struct transport *t, const char *topic, const void *payload, size_t len,
                          bool retained, MQTTAsync_token *token)
{
    MQTTAsync_message msg = MQTTAsync_message_initializer;
    msg.payload = (void *)payload;
    msg.payloadlen = (int)len;
    msg.qos = 1;
    msg.retained = retained ? 1 : 0;
    MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
    /* No lock of ours around the send: Paho runs the message callback holding its own lock, and
     * the callback publishes; a second lock taken in the other order would deadlock. Paho's
     * lock serialises the sends. */
    int rc = MQTTAsync_sendMessage(t->client, topic, &msg, &ro);
    if (rc != MQTTASYNC_SUCCESS) {
        log_msg(LOG_WARN, "mqtt", "publish failed topic=%s code=%d", topic, rc);
        return -1;
    }
    if (token)
        *token = ro.token;
    return 0;
}

int transport_publish(struct transport *t, const char *topic, const void *payload, size_t len,
                      bool retained)
{
    return transport_send(t, topic, payload, len, retained, NULL);
}

void transport_shutdown(struct transport *t, const char *topic, const char *payload, int timeout_ms)
{
    if (!transport_connected(t))
        return;
    MQTTAsync_token token = 0;
    if (transport_send(t, topic, payload, strlen(payload), true, &token) == 0 &&
        MQTTAsync_waitForCompletion(t->client, token, (unsigned long)timeout_ms) !=
            MQTTASYNC_SUCCESS)
        log_msg(LOG_WARN, "mqtt", "final status not confirmed topic=%s", topic);
    MQTTAsync_disconnectOptions dopt = MQTTAsync_disconnectOptions_initializer;
    dopt.timeout = timeout_ms;
    int rc = MQTTAsync_disconnect(t->client, &dopt);
    if (rc != MQTTASYNC_SUCCESS) {
        log_msg(LOG_WARN, "mqtt", "disconnect failed code=%d", rc);
        return;
    }
    /* Disconnect completes on Paho's thread; wait for it so the broker sees a clean close. */
    for (int waited = 0; waited < timeout_ms && transport_connected(t); waited += 10) {
        struct timespec ts = {0, 10 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

void transport_destroy(struct transport *t)
{
    if (t == NULL)
        return;
    if (t->client)
        MQTTAsync_destroy(&t->client);
    pthread_mutex_destroy(&t->lock);
    free(t);
}
