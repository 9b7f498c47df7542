/* main.c — shadowd: configuration → store → service → transport → loop. Wiring only.
 *
 * Signals are blocked in every thread and taken synchronously here, so a SIGTERM never interrupts
 * a message in hand: the loop sees it between ticks, and shutdown waits for the service's lock. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "config.h"
#include "log.h"
#include "service.h"
#include "store.h"
#include "transport.h"
#include "version.h"

struct shadowd {
    struct config cfg;
    struct store *store;
    struct service *service;
    struct transport *transport;
    char *password;
    char *will;
};

static void shadowd_on_message(void *ctx, const char *topic, size_t topic_len, const void *payload,
                               size_t len)
{
    struct shadowd *d = ctx;
    service_handle(d->service, topic, topic_len, payload, len, (int64_t)time(NULL));
}

static void shadowd_on_connected(void *ctx)
{
    struct shadowd *d = ctx;
    service_announce_online(d->service, (int64_t)time(NULL));
}

/* A stop while a message is held for the store (see service_handle): returning from the MQTT
 * callback would acknowledge it, and a clean shutdown needs the client's lock, which the held
 * callback owns. So the process ends here; the broker keeps the message for the next start. */
static void shadowd_exit_holding(void)
{
    log_msg(LOG_ERROR, "shadowd",
            "stopping while the store cannot write: the message in hand stays unacknowledged");
    _exit(1);
}

/* Between attempts at a held message: sleeps, but still takes a stop signal. */
static void shadowd_hold_wait(void *ctx, int ms)
{
    const sigset_t *stop_signals = ctx;
    struct timespec pause = {ms / 1000, (long)(ms % 1000) * 1000000L};
    int sig = sigtimedwait(stop_signals, NULL, &pause);
    if (sig == SIGTERM || sig == SIGINT)
        shadowd_exit_holding();
}

static int shadowd_publish(void *ctx, const char *topic, const void *payload, size_t len,
                           bool retained)
{
    struct shadowd *d = ctx;
    return transport_publish(d->transport, topic, payload, len, retained);
}

/* Reads the first line of the password file; the password never sits in the config itself. */
static int shadowd_read_password(const char *path, char **out)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        log_msg(LOG_ERROR, "config", "cannot read password_file path=%s error=\"%s\"", path,
                strerror(errno));
        return -1;
    }
    char line[1024];
    int rc = fgets(line, sizeof line, f) ? 0 : -1;
    if (fclose(f) != 0 || rc != 0) {
        log_msg(LOG_ERROR, "config", "password_file is empty or unreadable path=%s", path);
        return -1;
    }
    line[strcspn(line, "\r\n")] = '\0';
    *out = strdup(line);
    return *out ? 0 : -1;
}

static int shadowd_start(struct shadowd *d, sigset_t *stop_signals)
{
    char err[256];
    struct store_options so = {.path = d->cfg.db,
                               .durability_full = d->cfg.durability == DURABILITY_FULL,
                               .busy_timeout_ms = 5000};
    if (d->cfg.password_file && shadowd_read_password(d->cfg.password_file, &d->password) != 0)
        return -1;
    if (store_open(&so, &d->store, err, sizeof err) != STORE_OK) {
        log_msg(LOG_ERROR, "store", "open failed db=%s error=\"%s\"", d->cfg.db, err);
        return -1;
    }
    struct service_options svo = {
        &d->cfg,           d->store,    shadowd_publish, d, (int64_t)time(NULL),
        shadowd_hold_wait, stop_signals};
    if (service_create(&svo, &d->service) != 0)
        return -1;
    d->will = service_status_payload(false, -1);
    if (d->will == NULL)
        return -1;
    struct transport_options to = {
        .uri = d->cfg.broker,
        .client_id = d->cfg.client_id,
        .username = d->cfg.username,
        .password = d->password,
        .tls_ca = d->cfg.tls_ca,
        .tls_cert = d->cfg.tls_cert,
        .tls_key = d->cfg.tls_key,
        .will_topic = service_status_topic(d->service),
        .will_payload = d->will,
        .on_message = shadowd_on_message,
        .on_connected = shadowd_on_connected,
        .ctx = d,
    };
    to.subscriptions = service_subscriptions(d->service, &to.subscription_count);
    if (transport_create(&to, &d->transport) != 0)
        return -1;
    log_msg(LOG_INFO, "shadowd", "started version=%s db=%s broker=%s", SHADOW_VERSION, d->cfg.db,
            d->cfg.broker);
    return 0;
}

/* Runs until SIGTERM or SIGINT; the signals are blocked and taken here, once a tick. */
static void shadowd_loop(struct shadowd *d, const sigset_t *stop_signals)
{
    struct timespec tick = {0, 200 * 1000 * 1000};
    for (;;) {
        int sig = sigtimedwait(stop_signals, NULL, &tick);
        if ((sig == SIGTERM || sig == SIGINT) && service_holding(d->service))
            shadowd_exit_holding();
        if (sig == SIGTERM || sig == SIGINT) {
            log_msg(LOG_INFO, "shadowd", "stopping signal=%s", sig == SIGTERM ? "TERM" : "INT");
            return;
        }
        if (service_holding(d->service))
            continue; /* the MQTT client's lock is the held callback's */
        int64_t now = (int64_t)time(NULL);
        transport_poll(d->transport, now);
        service_tick(d->service, now, transport_pending(d->transport),
                     transport_connected(d->transport));
    }
}

static void shadowd_stop(struct shadowd *d)
{
    if (d->transport && d->service) {
        char *offline = service_status_payload(false, (int64_t)time(NULL));
        if (offline)
            transport_shutdown(d->transport, service_status_topic(d->service), offline, 2000);
        free(offline);
    }
    transport_destroy(d->transport);
    service_destroy(d->service);
    store_close(d->store);
    free(d->password);
    free(d->will);
    config_free(&d->cfg);
}

/* Blocks the stop signals in this thread before any other thread exists, so they inherit it. */
static int shadowd_signals(sigset_t *stop_signals)
{
    struct sigaction ignore = {.sa_handler = SIG_IGN};
    sigemptyset(stop_signals);
    sigaddset(stop_signals, SIGTERM);
    sigaddset(stop_signals, SIGINT);
    return sigaction(SIGPIPE, &ignore, NULL) == 0 &&
                   pthread_sigmask(SIG_BLOCK, stop_signals, NULL) == 0
               ? 0
               : -1;
}

int main(int argc, char **argv)
{
    struct shadowd d = {0};
    char err[CONFIG_ERROR_MAX];
    enum log_level level = LOG_INFO;
    sigset_t stop_signals;
    if (config_defaults(&d.cfg) != 0 || config_load(&d.cfg, argc, argv, NULL, err) != 0) {
        fprintf(stderr, "shadowd: %s\n", d.cfg.broker ? err : "out of memory");
        config_free(&d.cfg);
        return 2;
    }
    if (d.cfg.show_help || d.cfg.show_version || d.cfg.check_only) {
        if (d.cfg.show_help)
            fputs(config_usage(), stdout);
        else if (d.cfg.show_version)
            printf("shadowd %s\n", SHADOW_VERSION);
        else
            printf("shadowd: configuration OK\n");
        config_free(&d.cfg);
        return 0;
    }
    if (log_level_parse(d.cfg.log_level, &level) == 0)
        log_set_level(level);
    if (shadowd_signals(&stop_signals) != 0 || shadowd_start(&d, &stop_signals) != 0) {
        shadowd_stop(&d);
        return 1;
    }
    shadowd_loop(&d, &stop_signals);
    shadowd_stop(&d);
    return 0;
}
