/* loadgen.c — MQTT load for shadowd, and for the broker alone as the baseline, timed out of band.
 *
 * A fleet of bench meters (meter_model.h) sends realistic 4-register reports at QoS 1 from one
 * publishing client while a second client of the same process listens, so both ends of every
 * message are stamped by one clock:
 *
 *   relay    the listener subscribes to meters/+/reported itself: what the broker alone relays
 *            with the same payloads, QoS and configuration (run it without shadowd);
 *   service  the listener subscribes to meters/+/reported/accepted and …/rejected: a report is
 *            done once shadowd has committed it and answered;
 *   startup  spawns the command after `--`, and times exec → the live `online` on shadowd/status
 *            (the child is left running; its pid is printed).
 *
 * Throughput: as fast as a window of --window reports in flight (published, not yet done)
 * allows; rate = reports / (last done − first published). Latency: with --rate R, report i is
 * published at i/R s, and each response is matched to its report by clientToken. Prints one
 * line of key=value figures, with the CPU time the load generator itself used per message (its
 * share of a 2-core machine matters). Paho is given a large in-flight window and buffer and the
 * window here paces the sends: Paho 1.3.12's send thread stalls when its own in-flight window
 * fills. */
#include <MQTTAsync.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "meter_model.h"

#define PAYLOAD_MAX 512
#define TOKEN_PREFIX "\"clientToken\":\"lg"

extern char **environ;

enum mode { MODE_RELAY, MODE_SERVICE, MODE_STARTUP };

struct options {
    const char *broker;
    enum mode mode;
    unsigned meters, first_meter;
    uint64_t reports;
    int64_t start, step_s;
    uint64_t window;
    double rate;
    double timeout_s;
    const char *child_log;
    char **child_argv;
};

/* What the listener has seen; guarded by lock, progress signalled on cond. */
struct tally {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    uint64_t sent, done, rejected, matched;
    double last_done;
    double *sent_at; /* owned; per report, monotonic seconds */
    double *latency; /* owned; per report, seconds; < 0 until answered */
    bool online, lost;
    char first_rejection[256];
};

struct loadgen {
    struct options o;
    MQTTAsync pub, sub;
    struct tally t;
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_s(double s)
{
    if (s <= 0)
        return;
    struct timespec ts = {(time_t)s, (long)((s - (double)(time_t)s) * 1e9)};
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* ---- Options ------------------------------------------------------------------------------- */

static int usage(void)
{
    fprintf(stderr,
            "usage: loadgen --broker URI [--mode relay|service] [--meters M] [--first-meter F]\n"
            "               [--reports N] [--start UNIX] [--step-s S] [--window W] [--rate R]\n"
            "               [--timeout-s T]\n"
            "       loadgen --broker URI --mode startup --child-log FILE -- COMMAND [ARGS…]\n");
    return 2;
}

static int parse_num(const char *text, double min, double max, double *out)
{
    char *end = NULL;
    errno = 0;
    double v = strtod(text, &end);
    if (errno != 0 || end == text || *end != '\0' || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

static int parse_mode(const char *text, enum mode *out)
{
    static const char *const names[] = {"relay", "service", "startup"};
    for (int i = 0; i < 3; i++)
        if (strcmp(text, names[i]) == 0) {
            *out = (enum mode)i;
            return 0;
        }
    return -1;
}

static int parse_option(struct options *o, const char *name, const char *value)
{
    double v = 0;
    if (strcmp(name, "--broker") == 0)
        o->broker = value;
    else if (strcmp(name, "--child-log") == 0)
        o->child_log = value;
    else if (strcmp(name, "--mode") == 0)
        return parse_mode(value, &o->mode);
    else if (parse_num(value, 0, 1e12, &v) != 0)
        return -1;
    else if (strcmp(name, "--meters") == 0 && v >= 1 && v <= 1e7)
        o->meters = (unsigned)v;
    else if (strcmp(name, "--first-meter") == 0 && v <= 1e7)
        o->first_meter = (unsigned)v;
    else if (strcmp(name, "--reports") == 0 && v >= 1 && v <= 1e9)
        o->reports = (uint64_t)v;
    else if (strcmp(name, "--start") == 0 && v >= (double)MODEL_EPOCH && v < 4102444800.0)
        o->start = (int64_t)v;
    else if (strcmp(name, "--step-s") == 0 && v >= 1)
        o->step_s = (int64_t)v;
    else if (strcmp(name, "--window") == 0 && v >= 1)
        o->window = (uint64_t)v;
    else if (strcmp(name, "--rate") == 0)
        o->rate = v;
    else if (strcmp(name, "--timeout-s") == 0 && v > 0)
        o->timeout_s = v;
    else
        return -1;
    return 0;
}

static int parse_options(int argc, char **argv, struct options *o)
{
    *o = (struct options){.mode = MODE_SERVICE,
                          .meters = 1000,
                          .reports = 10000,
                          .start = MODEL_EPOCH + 400 * 86400,
                          .step_s = 1800,
                          .window = 50,
                          .timeout_s = 60};
    for (int i = 1; i < argc; i += 2) {
        if (strcmp(argv[i], "--") == 0) {
            o->child_argv = &argv[i + 1];
            break;
        }
        if (i + 1 == argc || parse_option(o, argv[i], argv[i + 1]) != 0)
            return -1;
    }
    if (o->broker == NULL)
        return -1;
    if (o->mode == MODE_STARTUP &&
        (o->child_argv == NULL || o->child_argv[0] == NULL || o->child_log == NULL))
        return -1;
    return 0;
}

/* ---- Reports ------------------------------------------------------------------------------- */

/* Report i: meter first + i mod M, that meter's (i div M)-th report, ts step_s after the last. */
static void report_of(const struct options *o, uint64_t i, unsigned *meter, int64_t *ts)
{
    *meter = o->first_meter + (unsigned)(i % o->meters);
    *ts = o->start + (int64_t)(i / o->meters) * o->step_s;
}

static int kwh_text(char *out, size_t cap, int64_t wh)
{
    return snprintf(out, cap, "%" PRId64 ".%03" PRId64, wh / 1000, wh % 1000);
}

/* The report's topic and JSON payload; returns the payload length, or -1. */
static int report_build(const struct options *o, uint64_t i, char *topic, size_t topic_cap,
                        char *payload, size_t cap)
{
    unsigned m;
    int64_t ts;
    char v[4][32], when[32];
    report_of(o, i, &m, &ts);
    for (int k = 0; k < 4; k++)
        kwh_text(v[k], sizeof v[k], model_wh(m, k % 2, (enum model_flow)(k / 2), ts));
    time_t t = (time_t)ts;
    struct tm tm;
    if (gmtime_r(&t, &tm) == NULL || strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
        return -1;
    int64_t p = model_balance_p(m, ts);
    int n = snprintf(topic, topic_cap, "meters/" MODEL_SERIAL_FMT "/reported", m);
    if (n < 0 || (size_t)n >= topic_cap)
        return -1;
    n = snprintf(payload, cap,
                 "{\"state\":{\"import_a\":%s,\"import_b\":%s,\"export_a\":%s,\"export_b\":%s,"
                 "\"balance\":%" PRId64 ".%02" PRId64 "},\"ts\":\"%s\",\"clientToken\":\"lg%" PRIu64
                 "\"}",
                 v[0], v[1], v[2], v[3], p / 100, p % 100, when, i);
    return n > 0 && (size_t)n < cap ? n : -1;
}

/* The report index a payload's clientToken names, or -1. */
static int64_t report_token(const char *payload, size_t len, uint64_t reports)
{
    char text[PAYLOAD_MAX * 4];
    if (len >= sizeof text)
        len = sizeof text - 1;
    memcpy(text, payload, len);
    text[len] = '\0';
    const char *at = strstr(text, TOKEN_PREFIX);
    if (at == NULL)
        return -1;
    char *end = NULL;
    unsigned long long i = strtoull(at + strlen(TOKEN_PREFIX), &end, 10);
    return end != NULL && *end == '"' && i < reports ? (int64_t)i : -1;
}

/* ---- Paho callbacks ------------------------------------------------------------------------ */

static bool ends_with(const char *s, size_t len, const char *suffix)
{
    size_t n = strlen(suffix);
    return len >= n && memcmp(s + len - n, suffix, n) == 0;
}

static bool contains(const void *data, size_t len, const char *needle)
{
    size_t n = strlen(needle);
    for (size_t i = 0; i + n <= len; i++)
        if (memcmp((const char *)data + i, needle, n) == 0)
            return true;
    return false;
}

/* Counts a report as done; under t->lock. */
static void tally_done(struct tally *t, const struct options *o, const MQTTAsync_message *msg)
{
    double now = now_s();
    int64_t i = report_token(msg->payload, (size_t)msg->payloadlen, o->reports);
    if (i >= 0 && t->latency[i] < 0) {
        t->latency[i] = now - t->sent_at[i];
        t->matched++;
    }
    t->done++;
    t->last_done = now;
}

static void tally_rejected(struct tally *t, const MQTTAsync_message *msg)
{
    if (t->rejected++ == 0)
        snprintf(t->first_rejection, sizeof t->first_rejection, "%.*s", msg->payloadlen,
                 (const char *)msg->payload);
}

static int on_message(void *ctx, char *topic, int topic_len, MQTTAsync_message *msg)
{
    struct loadgen *lg = ctx;
    struct tally *t = &lg->t;
    size_t len = topic_len > 0 ? (size_t)topic_len : strlen(topic);
    pthread_mutex_lock(&t->lock);
    if (lg->o.mode == MODE_STARTUP) {
        bool online = !msg->retained && ends_with(topic, len, "shadowd/status") &&
                      contains(msg->payload, (size_t)msg->payloadlen, "\"online\"");
        t->online = t->online || online;
    } else if (ends_with(topic, len, "/rejected")) {
        tally_rejected(t, msg);
        tally_done(t, &lg->o, msg);
    } else {
        tally_done(t, &lg->o, msg);
    }
    pthread_cond_broadcast(&t->cond);
    pthread_mutex_unlock(&t->lock);
    MQTTAsync_freeMessage(&msg);
    MQTTAsync_free(topic);
    return 1;
}

static void on_connection_lost(void *ctx, char *cause)
{
    struct loadgen *lg = ctx;
    fprintf(stderr, "loadgen: connection lost: %s\n", cause ? cause : "unknown");
    pthread_mutex_lock(&lg->t.lock);
    lg->t.lost = true;
    pthread_cond_broadcast(&lg->t.cond);
    pthread_mutex_unlock(&lg->t.lock);
}

/* A connect or subscribe in progress: done and ok, signalled on the tally's cond. */
struct pending {
    struct tally *t;
    bool done, ok;
    int code;
};

static void pending_finish(struct pending *p, bool ok, int code)
{
    pthread_mutex_lock(&p->t->lock);
    p->done = true;
    p->ok = ok;
    p->code = code;
    pthread_cond_broadcast(&p->t->cond);
    pthread_mutex_unlock(&p->t->lock);
}

static void on_success(void *ctx, MQTTAsync_successData *data)
{
    (void)data;
    pending_finish(ctx, true, 0);
}

static void on_failure(void *ctx, MQTTAsync_failureData *data)
{
    pending_finish(ctx, false, data ? data->code : -1);
}

/* Waits for p to finish (no lock held while Paho works). */
static int pending_wait(struct pending *p, const char *what)
{
    pthread_mutex_lock(&p->t->lock);
    while (!p->done)
        pthread_cond_wait(&p->t->cond, &p->t->lock);
    pthread_mutex_unlock(&p->t->lock);
    if (!p->ok)
        fprintf(stderr, "loadgen: %s failed code=%d\n", what, p->code);
    return p->ok ? 0 : -1;
}

/* ---- Clients ------------------------------------------------------------------------------- */

static int client_open(struct loadgen *lg, MQTTAsync *c, const char *role)
{
    char id[64];
    snprintf(id, sizeof id, "loadgen-%ld-%s", (long)getpid(), role);
    MQTTAsync_createOptions co = MQTTAsync_createOptions_initializer;
    co.maxBufferedMessages = 1000000; /* Paho counts queued sends against it even connected */
    int rc =
        MQTTAsync_createWithOptions(c, lg->o.broker, id, MQTTCLIENT_PERSISTENCE_NONE, NULL, &co);
    if (rc == MQTTASYNC_SUCCESS)
        rc = MQTTAsync_setCallbacks(*c, lg, on_connection_lost, on_message, NULL);
    struct pending p = {.t = &lg->t};
    MQTTAsync_connectOptions opt = MQTTAsync_connectOptions_initializer;
    opt.keepAliveInterval = 60;
    opt.cleansession = 1;
    opt.maxInflight = 65535; /* the window, not Paho, bounds what is in flight */
    opt.onSuccess = on_success;
    opt.onFailure = on_failure;
    opt.context = &p;
    if (rc == MQTTASYNC_SUCCESS)
        rc = MQTTAsync_connect(*c, &opt);
    if (rc != MQTTASYNC_SUCCESS) {
        fprintf(stderr, "loadgen: %s client to %s failed code=%d\n", role, lg->o.broker, rc);
        return -1;
    }
    return pending_wait(&p, "connect");
}

static int client_subscribe(struct loadgen *lg, char *const *filters, int n)
{
    int qos[4] = {1, 1, 1, 1};
    struct pending p = {.t = &lg->t};
    MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
    ro.onSuccess = on_success;
    ro.onFailure = on_failure;
    ro.context = &p;
    int rc = MQTTAsync_subscribeMany(lg->sub, n, filters, qos, &ro);
    if (rc != MQTTASYNC_SUCCESS) {
        fprintf(stderr, "loadgen: subscribe failed code=%d\n", rc);
        return -1;
    }
    return pending_wait(&p, "subscribe");
}

static void client_close(MQTTAsync *c)
{
    if (*c == NULL)
        return;
    MQTTAsync_disconnectOptions d = MQTTAsync_disconnectOptions_initializer;
    d.timeout = 1000;
    if (MQTTAsync_isConnected(*c) && MQTTAsync_disconnect(*c, &d) == MQTTASYNC_SUCCESS)
        sleep_s(0.1); /* the disconnect completes on Paho's thread */
    MQTTAsync_destroy(c);
}

/* ---- Load ---------------------------------------------------------------------------------- */

/* Waits until fewer than window reports are in flight; -1 on a stall or a lost connection. */
static int window_wait(struct loadgen *lg, uint64_t limit)
{
    struct tally *t = &lg->t;
    int rc = 0;
    pthread_mutex_lock(&t->lock);
    uint64_t seen = t->done;
    double idle_since = now_s();
    while (rc == 0 && t->sent - t->done > limit) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += 100 * 1000 * 1000;
        until.tv_sec += until.tv_nsec / 1000000000;
        until.tv_nsec %= 1000000000;
        pthread_cond_timedwait(&t->cond, &t->lock, &until);
        if (t->done != seen) {
            seen = t->done;
            idle_since = now_s();
        } else if (t->lost || now_s() - idle_since > lg->o.timeout_s) {
            rc = -1;
        }
    }
    pthread_mutex_unlock(&t->lock);
    return rc;
}

static int publish_one(struct loadgen *lg, uint64_t i, size_t *bytes)
{
    char topic[64], payload[PAYLOAD_MAX];
    int len = report_build(&lg->o, i, topic, sizeof topic, payload, sizeof payload);
    if (len < 0)
        return -1;
    MQTTAsync_message msg = MQTTAsync_message_initializer;
    msg.payload = payload;
    msg.payloadlen = len;
    msg.qos = 1;
    MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
    pthread_mutex_lock(&lg->t.lock);
    lg->t.sent_at[i] = now_s();
    lg->t.sent++;
    pthread_mutex_unlock(&lg->t.lock);
    for (int tries = 0;; tries++) { /* no lock of ours is held around a Paho call */
        int rc = MQTTAsync_sendMessage(lg->pub, topic, &msg, &ro);
        if (rc == MQTTASYNC_SUCCESS)
            break;
        if (rc != MQTTASYNC_MAX_BUFFERED || tries == 1000) {
            fprintf(stderr, "loadgen: publish %s failed code=%d\n", topic, rc);
            return -1;
        }
        sleep_s(0.001);
    }
    *bytes += (size_t)len;
    return 0;
}

static int publish_all(struct loadgen *lg, double *first_sent, size_t *bytes)
{
    const struct options *o = &lg->o;
    *first_sent = now_s();
    for (uint64_t i = 0; i < o->reports; i++) {
        if (o->rate > 0)
            sleep_s(*first_sent + (double)i / o->rate - now_s());
        if (window_wait(lg, o->window - 1) != 0 || publish_one(lg, i, bytes) != 0)
            return -1;
    }
    return window_wait(lg, 0);
}

static int compare_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The latencies of answered reports, sorted, in a new array; n answered. */
static double *latencies_sorted(const struct tally *t, uint64_t reports, uint64_t *n)
{
    double *v = malloc((reports ? reports : 1) * sizeof *v);
    *n = 0;
    if (v == NULL)
        return NULL;
    for (uint64_t i = 0; i < reports; i++)
        if (t->latency[i] >= 0)
            v[(*n)++] = t->latency[i];
    qsort(v, *n, sizeof *v, compare_double);
    return v;
}

static double quantile_ms(const double *v, uint64_t n, double q)
{
    if (n == 0)
        return 0;
    uint64_t k = (uint64_t)(q * (double)(n - 1) + 0.5);
    return v[k] * 1000;
}

/* CPU seconds this process (both clients and Paho's threads) has used so far. */
static double cpu_used_s(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) != 0)
        return 0;
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

static void print_result(struct loadgen *lg, double first_sent, size_t bytes, double cpu_s)
{
    const struct options *o = &lg->o;
    struct tally *t = &lg->t;
    pthread_mutex_lock(&t->lock);
    double seconds = t->last_done - first_sent;
    uint64_t n = 0;
    double *v = latencies_sorted(t, o->reports, &n);
    printf("loadgen mode=%s meters=%u reports=%" PRIu64 " window=%" PRIu64 " rate=%.0f"
           " payload_bytes=%.0f done=%" PRIu64 " rejected=%" PRIu64 " seconds=%.3f"
           " msgs_per_s=%.0f p50_ms=%.2f p99_ms=%.2f p999_ms=%.2f max_ms=%.2f"
           " client_cpu_us_per_msg=%.0f\n",
           o->mode == MODE_RELAY ? "relay" : "service", o->meters, o->reports, o->window, o->rate,
           (double)bytes / (double)(t->sent ? t->sent : 1), t->done, t->rejected, seconds,
           seconds > 0 ? (double)t->done / seconds : 0, quantile_ms(v, n, 0.5),
           quantile_ms(v, n, 0.99), quantile_ms(v, n, 0.999), n ? v[n - 1] * 1000 : 0,
           cpu_s * 1e6 / (double)(t->sent ? t->sent : 1));
    if (t->rejected > 0)
        fprintf(stderr, "loadgen: first rejection: %s\n", t->first_rejection);
    pthread_mutex_unlock(&t->lock);
    free(v);
}

static int run_load(struct loadgen *lg)
{
    static char *relay_filters[] = {"meters/+/reported"};
    static char *service_filters[] = {"meters/+/reported/accepted", "meters/+/reported/rejected"};
    struct tally *t = &lg->t;
    t->sent_at = calloc(lg->o.reports, sizeof *t->sent_at);
    t->latency = malloc(lg->o.reports * sizeof *t->latency);
    if (t->sent_at == NULL || t->latency == NULL)
        return -1;
    for (uint64_t i = 0; i < lg->o.reports; i++)
        t->latency[i] = -1;
    bool relay = lg->o.mode == MODE_RELAY;
    if (client_open(lg, &lg->sub, "sub") != 0 ||
        client_subscribe(lg, relay ? relay_filters : service_filters, relay ? 1 : 2) != 0 ||
        client_open(lg, &lg->pub, "pub") != 0)
        return -1;
    double first_sent = 0, cpu0 = cpu_used_s();
    size_t bytes = 0;
    int rc = publish_all(lg, &first_sent, &bytes);
    print_result(lg, first_sent, bytes, cpu_used_s() - cpu0);
    if (rc != 0)
        fprintf(stderr, "loadgen: stalled: sent=%" PRIu64 " done=%" PRIu64 "\n", t->sent, t->done);
    return rc == 0 && t->rejected == 0 ? 0 : -1;
}

/* ---- Startup ------------------------------------------------------------------------------- */

static int spawn_child(const struct options *o, pid_t *pid)
{
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    sigset_t defaults;
    sigemptyset(&defaults);
    sigaddset(&defaults, SIGPIPE);
    int rc = posix_spawn_file_actions_init(&fa);
    if (rc == 0 && (rc = posix_spawnattr_init(&attr)) == 0) {
        int out = O_WRONLY | O_CREAT | O_APPEND;
        if ((rc = posix_spawn_file_actions_addopen(&fa, 1, o->child_log, out, 0644)) == 0 &&
            (rc = posix_spawn_file_actions_adddup2(&fa, 1, 2)) == 0 &&
            (rc = posix_spawnattr_setsigdefault(&attr, &defaults)) == 0 &&
            (rc = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGDEF)) == 0)
            rc = posix_spawnp(pid, o->child_argv[0], &fa, &attr, o->child_argv, environ);
        posix_spawnattr_destroy(&attr);
        posix_spawn_file_actions_destroy(&fa);
    }
    if (rc != 0)
        fprintf(stderr, "loadgen: cannot start %s: %s\n", o->child_argv[0], strerror(rc));
    return rc == 0 ? 0 : -1;
}

/* Waits for the live online status; -1 when the child exits or the timeout passes first. */
static int wait_online(struct loadgen *lg, pid_t pid, double t0)
{
    for (;;) {
        pthread_mutex_lock(&lg->t.lock);
        bool online = lg->t.online;
        pthread_mutex_unlock(&lg->t.lock);
        if (online)
            return 0;
        int status;
        if (waitpid(pid, &status, WNOHANG) == pid) {
            fprintf(stderr, "loadgen: %s exited before going online\n", lg->o.child_argv[0]);
            return -1;
        }
        if (now_s() - t0 > lg->o.timeout_s) {
            fprintf(stderr, "loadgen: no online status after %.0f s\n", lg->o.timeout_s);
            return -1;
        }
        sleep_s(0.0005);
    }
}

static int run_startup(struct loadgen *lg)
{
    static char *filters[] = {"shadowd/status"};
    pid_t pid;
    if (client_open(lg, &lg->sub, "sub") != 0 || client_subscribe(lg, filters, 1) != 0)
        return -1;
    sleep_s(0.3); /* the retained status arrives now, and is not the one we wait for */
    double t0 = now_s();
    if (spawn_child(&lg->o, &pid) != 0 || wait_online(lg, pid, t0) != 0)
        return -1;
    printf("loadgen mode=startup startup_ms=%.1f pid=%ld\n", (now_s() - t0) * 1000, (long)pid);
    return 0;
}

/* ---- Main ---------------------------------------------------------------------------------- */

int main(int argc, char **argv)
{
    struct loadgen lg = {0};
    struct sigaction ignore = {.sa_handler = SIG_IGN};
    if (parse_options(argc, argv, &lg.o) != 0)
        return usage();
    if (sigaction(SIGPIPE, &ignore, NULL) != 0 || pthread_mutex_init(&lg.t.lock, NULL) != 0 ||
        pthread_cond_init(&lg.t.cond, NULL) != 0) {
        fprintf(stderr, "loadgen: setup failed\n");
        return 1;
    }
    setvbuf(stdout, NULL, _IOLBF, 0);
    int rc = lg.o.mode == MODE_STARTUP ? run_startup(&lg) : run_load(&lg);
    client_close(&lg.pub);
    client_close(&lg.sub);
    free(lg.t.sent_at);
    free(lg.t.latency);
    pthread_cond_destroy(&lg.t.cond);
    pthread_mutex_destroy(&lg.t.lock);
    return rc == 0 ? 0 : 1;
}
