/* metersim.c — a fleet of simulated meters and mediators on MQTT (SPEC §1, §3, §5, §8).
 *
 * The physics lives in sim.c; this file is the program around it: options, the fleet (a §7
 * topology, or N synthetic meters), Paho MQTTAsync, and pacing. Simulated time runs at --speed
 * simulated seconds per real second from --start, never ahead of the wall clock when it started
 * in the past (the service refuses readings from the future), so a demo first replays the recent
 * past quickly and then runs live.
 *
 * Threads: the main thread steps the fleet and is the only one that publishes. Paho's threads run
 * the callbacks: an inbound command is copied onto a queue for the main thread; a delivery
 * confirmation settles its pending record (counted, and written to --log). The lock guarding the
 * queue, the pending list and the counters is never held around a Paho call, because Paho runs
 * its callbacks holding its own lock. */
#include <MQTTAsync.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "intervals.h"
#include "isotime.h"
#include "log.h"
#include "registry.h"
#include "sim.h"
#include "topics.h"
#include "tzone.h"
#include "version.h"

#define MSIM_USAGE 2
#define MSIM_FAILURE 1
#define MSIM_FILE_MAX (256u << 20) /* a topology file larger than this is a mistake */
#define MSIM_INFLIGHT_MAX 5000     /* unconfirmed messages before stepping pauses */
#define MSIM_PAHO_INFLIGHT 20000   /* Paho's window: above ours, so Paho never stalls on it */
#define MSIM_PAHO_BUFFER 100000    /* Paho's queue of commands, connected or not */
#define MSIM_TICK_NS 10000000L     /* 10 ms between pacing steps */
#define MSIM_DRAIN_MS 10000        /* wait for confirmations at the end */
#define MSIM_DRY_RUN_DAYS 1        /* --dry-run without --duration or --messages */

extern const char *const default_load_profile[]; /* schema/load_profile.csv, embedded */

struct msim_options {
    const char *broker, *topic_root, *client_id, *topology, *write_topology, *log_path;
    size_t meters; /* synthetic fleet size when no topology */
    double speed;
    bool has_start;
    int64_t duration;  /* simulated seconds; < 0 for no end */
    uint64_t messages; /* 0 for no limit */
    int qos;
    bool dry_run;
    struct sim_options sim;
    const char **reject, **silent; /* serials named by the options */
    size_t reject_count, silent_count;
};

/* A message handed to Paho and not yet confirmed. */
struct msim_pending {
    struct msim *app;
    struct msim_pending *prev, *next;
    uint64_t id;
    int64_t ts;
    size_t meter;
    enum sim_message_kind kind;
    bool malformed, duplicate;
    char *payload; /* copy kept for --log; NULL without it */
};

/* A command received for a meter, waiting for the main thread. */
struct msim_command {
    struct msim_command *next;
    char serial[TOPIC_SERIAL_MAX + 1];
    size_t len;
    char payload[]; /* len bytes, then NUL */
};

struct msim {
    struct msim_options opt;
    struct interval_profile profile;
    struct tzone london;
    struct sim_meter_spec *specs;
    size_t spec_count;
    struct sim_fleet *fleet;
    struct sim_outbox box;
    FILE *log;
    MQTTAsync client;
    char command_filter[TOPIC_MAX];
    uint64_t published;
    pthread_mutex_t lock; /* guards everything below */
    bool connected_once, connect_failed;
    struct msim_pending *pending; /* unconfirmed messages */
    size_t inflight;
    uint64_t acked, failed;
    struct msim_command *commands, **commands_tail;
    uint64_t commands_received;
};

/* ---- Options ------------------------------------------------------------------------------- */

static const char msim_usage_text[] =
    "usage: metersim [--topology FILE | --meters N] [options]\n"
    "\n"
    "Simulates prepayment meters and their mediators on MQTT: live reports on\n"
    "meters/{serial}/reported, daily profile logs on meters/{serial}/reads, and answers to\n"
    "meters/{serial}/commands.\n"
    "\n"
    "Fleet:\n"
    "  --topology FILE         meters, registers and circuits of a shadowctl import file: a\n"
    "                          register in a solar circuit exports by day, in a heat circuit\n"
    "                          follows the day's temperature\n"
    "  --meters N              N synthetic meters SIM000001... (default 10 without --topology)\n"
    "  --write-topology FILE   write the topology of the --meters fleet to FILE (- for stdout)\n"
    "                          and exit, for `shadowctl import`\n"
    "Time:\n"
    "  --start ISO             simulated start instant (default: yesterday 00:00 UTC)\n"
    "  --speed X               simulated seconds per real second (default 3600); the simulated\n"
    "                          clock never passes the wall clock when it started in the past\n"
    "  --duration S            stop after S simulated seconds\n"
    "  --messages N            stop after N publications\n"
    "  --report-interval S     simulated seconds between a meter's live reports (default 1800)\n"
    "  --seed N                random seed (default 1): the same seed gives the same readings\n"
    "Behaviour (PCT is a percentage, 0-100):\n"
    "  --reads-batch PCT       meters read by a mediator: registers arrive once a simulated day\n"
    "                          as a profile log of HH reads on reads (default 20)\n"
    "  --offline-pct PCT       chance per meter and day of an offline spell of 1-6 h (default 2)\n"
    "  --missed-pct PCT        chance that a read is not taken (default 1)\n"
    "  --malformed PCT         reports and batches sent as malformed payloads (default 0)\n"
    "  --duplicate PCT         messages published twice (default 0)\n"
    "  --reject-commands X     a SERIAL, or PCT% of meters, answering commands with an error;\n"
    "                          repeatable, comma-separated\n"
    "  --silent SERIAL         a meter that publishes and answers nothing; repeatable\n"
    "MQTT and output:\n"
    "  --broker URI            tcp://host:port (default tcp://127.0.0.1:1883)\n"
    "  --topic-root PREFIX     topics under PREFIX/ (default none)\n"
    "  --client-id ID          (default metersim-PID)\n"
    "  --qos 0|1               publication QoS (default 1)\n"
    "  --log FILE              JSON lines: every message the broker confirmed (id, serial,\n"
    "                          topic, simulated ts, flags, payload)\n"
    "  --dry-run               print `topic payload` lines instead of publishing, as fast as\n"
    "                          possible (default duration: one simulated day)\n"
    "  --log-level LEVEL       error, warn, info (default) or debug\n"
    "  --help, --version\n"
    "\n"
    "Exit codes: 0 done or stopped by SIGINT/SIGTERM, 1 failure, 2 bad usage.\n";

static int msim_bad_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int msim_bad_usage(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("metersim: ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("\nusage: metersim [--topology FILE | --meters N] [options]; --help for more\n", stderr);
    return MSIM_USAGE;
}

static bool msim_parse_u64(const char *text, uint64_t max, uint64_t *out)
{
    char *end;
    errno = 0;
    if (text[0] < '0' || text[0] > '9')
        return false;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno != 0 || *end != '\0' || v > max)
        return false;
    *out = v;
    return true;
}

static bool msim_parse_double(const char *text, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (errno != 0 || end == text || *end != '\0' || !(v >= lo && v <= hi))
        return false;
    *out = v;
    return true;
}

static bool msim_parse_pct(const char *text, double *out)
{
    return msim_parse_double(text, 0, 100, out);
}

/* Appends every comma-separated item of text (which stays owned by argv) to a list of serials;
 * text is cut in place. Returns false when out of memory or an item is not a serial. */
static bool msim_add_serials(char *text, const char ***list, size_t *count)
{
    for (char *item = strtok(text, ","); item != NULL; item = strtok(NULL, ",")) {
        if (!topic_serial_valid(item, strlen(item)))
            return false;
        const char **grown = realloc(*list, (*count + 1) * sizeof *grown);
        if (grown == NULL)
            return false;
        grown[(*count)++] = item;
        *list = grown;
    }
    return true;
}

/* --reject-commands: a percentage (a number, optionally with %) or serials. */
static bool msim_parse_reject(char *text, struct msim_options *o)
{
    size_t len = strlen(text);
    char number[32];
    if (len > 0 && len < sizeof number) {
        memcpy(number, text, len + 1);
        if (number[len - 1] == '%')
            number[len - 1] = '\0';
        if (msim_parse_pct(number, &o->sim.reject_pct))
            return true;
    }
    return msim_add_serials(text, &o->reject, &o->reject_count);
}

enum msim_flag {
    OPT_BROKER = 256,
    OPT_TOPIC_ROOT,
    OPT_CLIENT_ID,
    OPT_TOPOLOGY,
    OPT_METERS,
    OPT_WRITE_TOPOLOGY,
    OPT_SEED,
    OPT_SPEED,
    OPT_START,
    OPT_DURATION,
    OPT_MESSAGES,
    OPT_REPORT_INTERVAL,
    OPT_READS_BATCH,
    OPT_OFFLINE,
    OPT_MISSED,
    OPT_MALFORMED,
    OPT_DUPLICATE,
    OPT_REJECT,
    OPT_SILENT,
    OPT_QOS,
    OPT_LOG,
    OPT_DRY_RUN,
    OPT_LOG_LEVEL,
    OPT_HELP,
    OPT_VERSION,
};

static const struct option msim_long_options[] = {
    {"broker", required_argument, NULL, OPT_BROKER},
    {"topic-root", required_argument, NULL, OPT_TOPIC_ROOT},
    {"client-id", required_argument, NULL, OPT_CLIENT_ID},
    {"topology", required_argument, NULL, OPT_TOPOLOGY},
    {"meters", required_argument, NULL, OPT_METERS},
    {"write-topology", required_argument, NULL, OPT_WRITE_TOPOLOGY},
    {"seed", required_argument, NULL, OPT_SEED},
    {"speed", required_argument, NULL, OPT_SPEED},
    {"start", required_argument, NULL, OPT_START},
    {"duration", required_argument, NULL, OPT_DURATION},
    {"messages", required_argument, NULL, OPT_MESSAGES},
    {"report-interval", required_argument, NULL, OPT_REPORT_INTERVAL},
    {"reads-batch", required_argument, NULL, OPT_READS_BATCH},
    {"offline-pct", required_argument, NULL, OPT_OFFLINE},
    {"missed-pct", required_argument, NULL, OPT_MISSED},
    {"malformed", required_argument, NULL, OPT_MALFORMED},
    {"duplicate", required_argument, NULL, OPT_DUPLICATE},
    {"reject-commands", required_argument, NULL, OPT_REJECT},
    {"silent", required_argument, NULL, OPT_SILENT},
    {"qos", required_argument, NULL, OPT_QOS},
    {"log", required_argument, NULL, OPT_LOG},
    {"dry-run", no_argument, NULL, OPT_DRY_RUN},
    {"log-level", required_argument, NULL, OPT_LOG_LEVEL},
    {"help", no_argument, NULL, OPT_HELP},
    {"version", no_argument, NULL, OPT_VERSION},
    {NULL, 0, NULL, 0},
};

static void msim_defaults(struct msim_options *o)
{
    *o = (struct msim_options){
        .broker = "tcp://127.0.0.1:1883",
        .topic_root = "",
        .speed = 3600,
        .duration = -1,
        .qos = 1,
        .sim = {.seed = 1,
                .report_interval_s = 1800,
                .offline_pct = 2,
                .missed_pct = 1,
                .reads_batch_pct = 20},
    };
}

/* Numeric and time flags. Returns false when the value is bad. */
static bool msim_set_number(struct msim_options *o, int flag, const char *v)
{
    uint64_t n;
    switch (flag) {
    case OPT_METERS:
        return msim_parse_u64(v, 10000000, &n) && n > 0 && (o->meters = (size_t)n, true);
    case OPT_SEED:
        return msim_parse_u64(v, UINT64_MAX, &o->sim.seed);
    case OPT_SPEED:
        return msim_parse_double(v, 1e-3, 1e9, &o->speed);
    case OPT_START:
        return (o->has_start = isotime_parse(v, &o->sim.start) == 0);
    case OPT_DURATION:
        return msim_parse_u64(v, INT64_C(1) << 40, &n) && (o->duration = (int64_t)n, true);
    case OPT_MESSAGES:
        return msim_parse_u64(v, UINT64_MAX, &o->messages) && o->messages > 0;
    case OPT_REPORT_INTERVAL:
        return msim_parse_u64(v, 86400 * 366, &n) && n > 0 &&
               (o->sim.report_interval_s = (int64_t)n, true);
    case OPT_QOS:
        return msim_parse_u64(v, 1, &n) && (o->qos = (int)n, true);
    }
    return false;
}

/* Percentages and serial lists. */
static bool msim_set_behaviour(struct msim_options *o, int flag, char *v)
{
    switch (flag) {
    case OPT_READS_BATCH:
        return msim_parse_pct(v, &o->sim.reads_batch_pct);
    case OPT_OFFLINE:
        return msim_parse_pct(v, &o->sim.offline_pct);
    case OPT_MISSED:
        return msim_parse_pct(v, &o->sim.missed_pct);
    case OPT_MALFORMED:
        return msim_parse_pct(v, &o->sim.malformed_pct);
    case OPT_DUPLICATE:
        return msim_parse_pct(v, &o->sim.duplicate_pct);
    case OPT_REJECT:
        return msim_parse_reject(v, o);
    case OPT_SILENT:
        return msim_add_serials(v, &o->silent, &o->silent_count);
    }
    return msim_set_number(o, flag, v);
}

static bool msim_set_text(struct msim_options *o, int flag, const char *v)
{
    switch (flag) {
    case OPT_BROKER:
        o->broker = v;
        return strncmp(v, "tcp://", 6) == 0 || strncmp(v, "mqtt://", 7) == 0 ||
               strncmp(v, "ssl://", 6) == 0 || strncmp(v, "mqtts://", 8) == 0;
    case OPT_TOPIC_ROOT:
        o->topic_root = v;
        return strpbrk(v, "+#") == NULL;
    case OPT_CLIENT_ID:
        o->client_id = v;
        return v[0] != '\0';
    case OPT_TOPOLOGY:
        o->topology = v;
        return true;
    case OPT_WRITE_TOPOLOGY:
        o->write_topology = v;
        return true;
    case OPT_LOG:
        o->log_path = v;
        return true;
    case OPT_LOG_LEVEL: {
        enum log_level level;
        if (log_level_parse(v, &level) != 0)
            return false;
        log_set_level(level);
        return true;
    }
    }
    return false;
}

/* Returns -1 to go on, else the exit code (0 after --help or --version). */
static int msim_parse_args(int argc, char **argv, struct msim_options *o)
{
    int flag, which = 0;
    opterr = 0;
    while ((flag = getopt_long(argc, argv, "", msim_long_options, &which)) != -1) {
        if (flag == OPT_HELP) {
            fputs(msim_usage_text, stdout);
            return 0;
        }
        if (flag == OPT_VERSION) {
            printf("metersim %s\n", SHADOW_VERSION);
            return 0;
        }
        if (flag == OPT_DRY_RUN) {
            o->dry_run = true;
            continue;
        }
        if (flag == '?' || flag == ':')
            return msim_bad_usage("unknown option or missing value: %s", argv[optind - 1]);
        if (!msim_set_text(o, flag, optarg) && !msim_set_behaviour(o, flag, optarg))
            return msim_bad_usage("bad value for --%s: '%s'", msim_long_options[which].name,
                                  optarg);
    }
    if (optind < argc)
        return msim_bad_usage("unexpected argument: %s", argv[optind]);
    if (o->topology && o->meters)
        return msim_bad_usage("--topology and --meters exclude each other");
    if (o->write_topology && !o->meters)
        return msim_bad_usage("--write-topology needs --meters N");
    return -1;
}

/* ---- The fleet ----------------------------------------------------------------------------- */

static int msim_read_file(const char *path, char **text, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL) {
        log_msg(LOG_ERROR, "metersim", "cannot open path=%s error=\"%s\"", path, strerror(errno));
        return -1;
    }
    char *buf = NULL;
    size_t n = 0, cap = 0;
    int rc = 0;
    while (rc == 0 && !feof(f)) {
        if (n == cap) {
            char *grown = cap < MSIM_FILE_MAX ? realloc(buf, cap ? cap * 2 : 65536) : NULL;
            if (grown == NULL) {
                log_msg(LOG_ERROR, "metersim", "file too large or out of memory path=%s", path);
                rc = -1;
                break;
            }
            buf = grown;
            cap = cap ? cap * 2 : 65536;
        }
        n += fread(buf + n, 1, cap - n, f);
        if (ferror(f)) {
            log_msg(LOG_ERROR, "metersim", "cannot read path=%s", path);
            rc = -1;
        }
    }
    if (fclose(f) != 0 || rc != 0) {
        free(buf);
        return -1;
    }
    *text = buf;
    *len = n;
    return 0;
}

static int msim_load_topology(struct msim *app)
{
    char *text;
    size_t len;
    if (msim_read_file(app->opt.topology, &text, &len) != 0)
        return -1;
    struct topology topo;
    struct registry_problems problems;
    registry_problems_init(&problems);
    int rc = registry_parse(text, len, &topo, &problems);
    free(text);
    for (size_t i = 0; i < problems.count && i < 20; i++)
        log_msg(LOG_ERROR, "metersim", "topology problem path=%s problem=\"%s\"", app->opt.topology,
                problems.items[i]);
    if (rc == 0 &&
        sim_specs_from_topology(&topo, app->opt.sim.start, &app->specs, &app->spec_count) != 0) {
        log_msg(LOG_ERROR, "metersim", "out of memory");
        rc = -1;
    }
    registry_problems_free(&problems);
    registry_topology_free(&topo);
    return rc;
}

static int msim_synthetic_specs(struct msim *app)
{
    size_t n = app->opt.meters ? app->opt.meters : 10;
    app->specs = calloc(n, sizeof *app->specs);
    if (app->specs == NULL) {
        log_msg(LOG_ERROR, "metersim", "out of memory meters=%zu", n);
        return -1;
    }
    for (size_t i = 0; i < n; i++)
        sim_synthetic_spec(i, &app->specs[i]);
    app->spec_count = n;
    return 0;
}

/* Marks the meters that --reject-commands and --silent name; an unknown serial is bad usage. */
static int msim_mark_serials(struct msim *app, const char **serials, size_t count, bool silent)
{
    for (size_t k = 0; k < count; k++) {
        size_t i = 0;
        while (i < app->spec_count && strcmp(app->specs[i].serial, serials[k]) != 0)
            i++;
        if (i == app->spec_count)
            return msim_bad_usage("no meter %s in the fleet", serials[k]);
        if (silent)
            app->specs[i].silent = true;
        else
            app->specs[i].rejects_commands = true;
    }
    return 0;
}

static int msim_write_topology(const struct msim_options *o)
{
    cJSON *topo = sim_synthetic_topology(o->meters);
    char *text = topo ? cJSON_Print(topo) : NULL;
    cJSON_Delete(topo);
    if (text == NULL) {
        log_msg(LOG_ERROR, "metersim", "out of memory");
        return MSIM_FAILURE;
    }
    bool to_stdout = strcmp(o->write_topology, "-") == 0;
    FILE *f = to_stdout ? stdout : fopen(o->write_topology, "w");
    int rc = f != NULL && fputs(text, f) >= 0 && fputc('\n', f) != EOF ? 0 : MSIM_FAILURE;
    if (f != NULL && (to_stdout ? fflush(f) : fclose(f)) != 0)
        rc = MSIM_FAILURE;
    if (rc != 0)
        log_msg(LOG_ERROR, "metersim", "cannot write path=%s error=\"%s\"", o->write_topology,
                strerror(errno));
    cJSON_free(text);
    return rc;
}

/* Loads the profile, the zone and the fleet. Returns 0, or an exit code. */
static int msim_build_fleet(struct msim *app)
{
    int bad_line;
    if (interval_profile_parse(default_load_profile[0], &app->profile, &bad_line) != 0 ||
        tzone_load("Europe/London", &app->london) != 0) {
        log_msg(LOG_ERROR, "metersim", "cannot load the load profile or Europe/London");
        return MSIM_FAILURE;
    }
    if ((app->opt.topology ? msim_load_topology(app) : msim_synthetic_specs(app)) != 0)
        return MSIM_FAILURE;
    int rc = msim_mark_serials(app, app->opt.reject, app->opt.reject_count, false);
    if (rc == 0)
        rc = msim_mark_serials(app, app->opt.silent, app->opt.silent_count, true);
    if (rc != 0)
        return rc;
    app->opt.sim.profile = &app->profile;
    app->opt.sim.london = &app->london;
    if (sim_fleet_create(&app->opt.sim, app->specs, app->spec_count, &app->fleet) != 0) {
        log_msg(LOG_ERROR, "metersim", "cannot create the fleet (duplicate serial or no memory)");
        return MSIM_FAILURE;
    }
    log_msg(LOG_INFO, "metersim", "fleet meters=%zu seed=%llu", app->spec_count,
            (unsigned long long)app->opt.sim.seed);
    return 0;
}

/* ---- Output: topics and the log ------------------------------------------------------------ */

static int msim_topic(const struct msim *app, const struct sim_message *msg, char *buf, size_t cap)
{
    const char *serial = sim_fleet_meter(app->fleet, msg->meter)->spec.serial;
    return topic_meter(buf, cap, app->opt.topic_root, serial, strlen(serial),
                       sim_message_suffix(msg->kind));
}

/* One JSON line for a confirmed message: the payload is embedded when it is valid JSON. */
static void msim_log_line(struct msim *app, const struct msim_pending *p)
{
    char topic[TOPIC_MAX], when[ISOTIME_LEN];
    struct sim_message msg = {.meter = p->meter, .kind = p->kind};
    if (app->log == NULL || msim_topic(app, &msg, topic, sizeof topic) != 0)
        return;
    fprintf(app->log,
            "{\"id\":%llu,\"serial\":\"%s\",\"topic\":\"%s\",\"ts\":\"%s\",\"malformed\":%s,"
            "\"duplicate\":%s",
            (unsigned long long)p->id, sim_fleet_meter(app->fleet, p->meter)->spec.serial, topic,
            isotime_format(p->ts, when), p->malformed ? "true" : "false",
            p->duplicate ? "true" : "false");
    if (!p->malformed && p->payload != NULL)
        fprintf(app->log, ",\"payload\":%s", p->payload);
    fputs("}\n", app->log);
}

/* ---- MQTT ---------------------------------------------------------------------------------- */

static void msim_settle(struct msim_pending *p, bool ok)
{
    struct msim *app = p->app;
    pthread_mutex_lock(&app->lock);
    if (p->prev)
        p->prev->next = p->next;
    else
        app->pending = p->next;
    if (p->next)
        p->next->prev = p->prev;
    app->inflight--;
    if (ok) {
        app->acked++;
        msim_log_line(app, p);
    } else {
        app->failed++;
    }
    pthread_mutex_unlock(&app->lock);
    free(p->payload);
    free(p);
}

static void msim_on_sent(void *ctx, MQTTAsync_successData *data)
{
    (void)data;
    msim_settle(ctx, true);
}

static void msim_on_send_failed(void *ctx, MQTTAsync_failureData *data)
{
    log_msg(LOG_DEBUG, "mqtt", "publish not confirmed code=%d", data ? data->code : -1);
    msim_settle(ctx, false);
}

/* The serial of `{root/}meters/{serial}/commands` (the only filter subscribed), or false. */
static bool msim_command_serial(const struct msim *app, const char *topic, size_t len,
                                const char **serial, size_t *serial_len)
{
    size_t root = app->opt.topic_root[0] ? strlen(app->opt.topic_root) + 1 : 0;
    if (len < root + 7 || memcmp(topic + root, "meters/", 7) != 0)
        return false;
    const char *s = topic + root + 7;
    size_t rest = len - root - 7;
    const char *slash = memchr(s, '/', rest);
    if (slash == NULL)
        return false;
    size_t n = (size_t)(slash - s);
    if (n == 0 || n > TOPIC_SERIAL_MAX || rest - n != 9 || memcmp(slash, "/commands", 9) != 0)
        return false;
    *serial = s;
    *serial_len = n;
    return true;
}

/* Paho's thread: copy the command onto the queue; the main thread answers it. */
static int msim_on_message(void *ctx, char *topic, int topic_len, MQTTAsync_message *msg)
{
    struct msim *app = ctx;
    size_t len = topic_len > 0 ? (size_t)topic_len : strlen(topic);
    size_t payload_len = msg->payloadlen > 0 ? (size_t)msg->payloadlen : 0;
    const char *serial;
    size_t serial_len;
    struct msim_command *cmd = NULL;
    if (msim_command_serial(app, topic, len, &serial, &serial_len))
        cmd = malloc(sizeof *cmd + payload_len + 1);
    if (cmd != NULL) {
        memcpy(cmd->serial, serial, serial_len);
        cmd->serial[serial_len] = '\0';
        if (payload_len > 0)
            memcpy(cmd->payload, msg->payload, payload_len);
        cmd->payload[payload_len] = '\0';
        cmd->len = payload_len;
        cmd->next = NULL;
        pthread_mutex_lock(&app->lock);
        *app->commands_tail = cmd;
        app->commands_tail = &cmd->next;
        app->commands_received++;
        pthread_mutex_unlock(&app->lock);
    }
    MQTTAsync_freeMessage(&msg);
    MQTTAsync_free(topic);
    return 1;
}

static void msim_on_subscribe_failed(void *ctx, MQTTAsync_failureData *data)
{
    (void)ctx;
    log_msg(LOG_ERROR, "mqtt", "subscribe to commands failed code=%d", data ? data->code : -1);
}

/* After every connect, first or automatic: the session is clean, so subscribe again. */
static void msim_on_connected(void *ctx, char *cause)
{
    (void)cause;
    struct msim *app = ctx;
    MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
    ro.onFailure = msim_on_subscribe_failed;
    ro.context = app;
    int rc = MQTTAsync_subscribe(app->client, app->command_filter, 1, &ro);
    if (rc != MQTTASYNC_SUCCESS)
        log_msg(LOG_ERROR, "mqtt", "subscribe not started code=%d", rc);
    log_msg(LOG_INFO, "mqtt", "connected broker=%s", app->opt.broker);
    pthread_mutex_lock(&app->lock);
    app->connected_once = true;
    pthread_mutex_unlock(&app->lock);
}

static void msim_on_connect_failed(void *ctx, MQTTAsync_failureData *data)
{
    struct msim *app = ctx;
    log_msg(LOG_WARN, "mqtt", "connect failed broker=%s code=%d", app->opt.broker,
            data ? data->code : -1);
    pthread_mutex_lock(&app->lock);
    app->connect_failed = true;
    pthread_mutex_unlock(&app->lock);
}

static void msim_on_connection_lost(void *ctx, char *cause)
{
    struct msim *app = ctx;
    log_msg(LOG_WARN, "mqtt", "connection lost broker=%s cause=%s (reconnecting)", app->opt.broker,
            cause ? cause : "unknown");
    free(cause);
}

static int msim_connect(struct msim *app)
{
    MQTTAsync_connectOptions co = MQTTAsync_connectOptions_initializer;
    co.keepAliveInterval = 30;
    co.cleansession = 1;
    co.maxInflight = MSIM_PAHO_INFLIGHT;
    co.automaticReconnect = 1;
    co.minRetryInterval = 1;
    co.maxRetryInterval = 30;
    co.connectTimeout = 10;
    co.onFailure = msim_on_connect_failed;
    co.context = app;
    int rc = MQTTAsync_connect(app->client, &co);
    if (rc != MQTTASYNC_SUCCESS)
        log_msg(LOG_WARN, "mqtt", "connect not started broker=%s code=%d", app->opt.broker, rc);
    return rc == MQTTASYNC_SUCCESS ? 0 : -1;
}

static int msim_mqtt_create(struct msim *app)
{
    static char generated_id[48];
    const char *id = app->opt.client_id;
    if (id == NULL) {
        snprintf(generated_id, sizeof generated_id, "metersim-%ld", (long)getpid());
        id = generated_id;
    }
    const char *root = app->opt.topic_root;
    snprintf(app->command_filter, sizeof app->command_filter, "%s%smeters/+/commands", root,
             root[0] ? "/" : "");
    MQTTAsync_createOptions cro = MQTTAsync_createOptions_initializer;
    cro.sendWhileDisconnected = 1; /* a meter keeps its readings while the network is down */
    cro.maxBufferedMessages = MSIM_PAHO_BUFFER;
    int rc = MQTTAsync_createWithOptions(&app->client, app->opt.broker, id,
                                         MQTTCLIENT_PERSISTENCE_NONE, NULL, &cro);
    if (rc == MQTTASYNC_SUCCESS)
        rc = MQTTAsync_setCallbacks(app->client, app, msim_on_connection_lost, msim_on_message,
                                    NULL);
    if (rc == MQTTASYNC_SUCCESS)
        rc = MQTTAsync_setConnected(app->client, app, msim_on_connected);
    if (rc != MQTTASYNC_SUCCESS) {
        log_msg(LOG_ERROR, "mqtt", "client create failed broker=%s code=%d", app->opt.broker, rc);
        return -1;
    }
    return 0;
}

/* Hands one message to Paho; the pending record lives until Paho confirms or fails it. */
static void msim_publish(struct msim *app, const struct sim_message *msg)
{
    char topic[TOPIC_MAX];
    struct msim_pending *p = calloc(1, sizeof *p);
    char *copy = app->log != NULL ? strdup(msg->payload) : NULL;
    if (p == NULL || msim_topic(app, msg, topic, sizeof topic) != 0 ||
        (app->log != NULL && copy == NULL)) {
        log_msg(LOG_ERROR, "metersim", "message dropped id=%llu (no memory or bad topic)",
                (unsigned long long)msg->id);
        free(copy);
        free(p);
        return;
    }
    *p = (struct msim_pending){.app = app,
                               .id = msg->id,
                               .ts = msg->ts,
                               .meter = msg->meter,
                               .kind = msg->kind,
                               .malformed = msg->malformed,
                               .duplicate = msg->duplicate,
                               .payload = copy};
    pthread_mutex_lock(&app->lock);
    p->next = app->pending;
    if (app->pending)
        app->pending->prev = p;
    app->pending = p;
    app->inflight++;
    pthread_mutex_unlock(&app->lock);
    MQTTAsync_message m = MQTTAsync_message_initializer;
    m.payload = msg->payload;
    m.payloadlen = (int)msg->len;
    m.qos = app->opt.qos;
    MQTTAsync_responseOptions ro = MQTTAsync_responseOptions_initializer;
    ro.onSuccess = msim_on_sent;
    ro.onFailure = msim_on_send_failed;
    ro.context = p;
    int rc = MQTTAsync_sendMessage(app->client, topic, &m, &ro);
    if (rc != MQTTASYNC_SUCCESS) {
        log_msg(LOG_WARN, "mqtt", "publish failed topic=%s code=%d", topic, rc);
        msim_settle(p, false);
    }
}

/* ---- Stepping ------------------------------------------------------------------------------ */

static bool msim_limit_reached(const struct msim *app)
{
    return app->opt.messages > 0 && app->published >= app->opt.messages;
}

/* Publishes (or prints) the outbox, up to the message limit, and empties it. */
static void msim_flush(struct msim *app)
{
    for (size_t k = 0; k < app->box.count && !msim_limit_reached(app); k++) {
        const struct sim_message *msg = &app->box.items[k];
        app->published++;
        if (!app->opt.dry_run) {
            msim_publish(app, msg);
            continue;
        }
        char topic[TOPIC_MAX];
        if (msim_topic(app, msg, topic, sizeof topic) == 0)
            printf("%s %s\n", topic, msg->payload);
        struct msim_pending p = {.app = app,
                                 .id = msg->id,
                                 .ts = msg->ts,
                                 .meter = msg->meter,
                                 .kind = msg->kind,
                                 .malformed = msg->malformed,
                                 .duplicate = msg->duplicate,
                                 .payload = msg->payload};
        msim_log_line(app, &p);
        app->acked++;
    }
    sim_outbox_clear(&app->box);
}

/* Runs the fleet's events up to until, one instant at a time so that the in-flight bound can
 * pause it between instants. Returns true when it reached until. */
static bool msim_step_to(struct msim *app, int64_t until)
{
    for (;;) {
        if (msim_limit_reached(app))
            return false;
        if (!app->opt.dry_run) {
            pthread_mutex_lock(&app->lock);
            size_t inflight = app->inflight;
            pthread_mutex_unlock(&app->lock);
            if (inflight >= MSIM_INFLIGHT_MAX)
                return false;
        }
        int64_t next = sim_fleet_next_due(app->fleet);
        int64_t to = next < until ? next : until;
        if (sim_fleet_advance(app->fleet, to, &app->box) != 0)
            log_msg(LOG_ERROR, "metersim", "out of memory: a message was lost");
        msim_flush(app);
        if (to == until)
            return true;
    }
}

/* Commands that arrived since the last tick, answered at the fleet's current instant. */
static void msim_take_commands(struct msim *app)
{
    pthread_mutex_lock(&app->lock);
    struct msim_command *list = app->commands;
    app->commands = NULL;
    app->commands_tail = &app->commands;
    pthread_mutex_unlock(&app->lock);
    while (list != NULL) {
        struct msim_command *next = list->next;
        size_t i;
        if (sim_fleet_find(app->fleet, list->serial, strlen(list->serial), &i)) {
            if (sim_fleet_command(app->fleet, i, list->payload, list->len, &app->box) != 0)
                log_msg(LOG_ERROR, "metersim", "out of memory answering a command");
            log_msg(LOG_DEBUG, "metersim", "command serial=%s", list->serial);
        }
        free(list);
        list = next;
    }
    msim_flush(app);
}

static int64_t msim_end(const struct msim *app)
{
    return app->opt.duration >= 0 ? app->opt.sim.start + app->opt.duration : INT64_MAX;
}

/* As fast as possible to the end: the given duration, else a day (a year with --messages, which
 * then stops it). */
static int msim_dry_run(struct msim *app)
{
    int64_t end = msim_end(app);
    if (end == INT64_MAX)
        end = app->opt.sim.start + (app->opt.messages ? 366 : MSIM_DRY_RUN_DAYS) * INT64_C(86400);
    msim_step_to(app, end);
    return fflush(stdout) == 0 && !ferror(stdout) ? 0 : MSIM_FAILURE;
}

static double msim_elapsed(const struct timespec *since)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - since->tv_sec) + (double)(now.tv_nsec - since->tv_nsec) / 1e9;
}

/* The simulated instant for this moment: paced, capped at the wall clock when the run started
 * in the past, and at the end. */
static int64_t msim_target(const struct msim *app, const struct timespec *t0, bool capped)
{
    double sim = (double)app->opt.sim.start + msim_elapsed(t0) * app->opt.speed;
    int64_t target = sim < 9e15 ? (int64_t)sim : INT64_MAX / 2;
    int64_t wall = (int64_t)time(NULL);
    if (capped && target > wall)
        target = wall;
    return target < msim_end(app) ? target : msim_end(app);
}

/* Waits for the first connect (retrying every second). Returns false when stopped first. */
static bool msim_wait_connected(struct msim *app, const sigset_t *stop)
{
    struct timespec tick = {0, MSIM_TICK_NS};
    const int retry_ticks = 1000000000L / MSIM_TICK_NS; /* a second */
    int until_retry = msim_connect(app) == 0 ? 0 : retry_ticks;
    for (;;) {
        int sig = sigtimedwait(stop, NULL, &tick);
        if (sig == SIGINT || sig == SIGTERM)
            return false;
        pthread_mutex_lock(&app->lock);
        bool up = app->connected_once, failed = app->connect_failed;
        app->connect_failed = false;
        pthread_mutex_unlock(&app->lock);
        if (up)
            return true;
        if (failed)
            until_retry = retry_ticks;
        if (until_retry > 0 && --until_retry == 0)
            until_retry = msim_connect(app) == 0 ? 0 : retry_ticks;
    }
}

static void msim_run_paced(struct msim *app, const sigset_t *stop)
{
    struct timespec t0, tick = {0, MSIM_TICK_NS};
    clock_gettime(CLOCK_MONOTONIC, &t0);
    bool capped = app->opt.sim.start <= (int64_t)time(NULL);
    if (!capped)
        log_msg(LOG_WARN, "metersim", "start is in the future: the service may refuse its ts");
    int64_t end = msim_end(app);
    for (;;) {
        int sig = sigtimedwait(stop, NULL, &tick);
        if (sig == SIGINT || sig == SIGTERM) {
            log_msg(LOG_INFO, "metersim", "stopping signal=%s", sig == SIGINT ? "INT" : "TERM");
            return;
        }
        msim_take_commands(app);
        msim_step_to(app, msim_target(app, &t0, capped));
        if (msim_limit_reached(app) ||
            (sim_fleet_now(app->fleet) >= end && sim_fleet_next_due(app->fleet) > end))
            return;
    }
}

/* Waits until Paho has confirmed or failed everything, or the drain time is over. */
static void msim_drain(struct msim *app, const sigset_t *stop)
{
    struct timespec tick = {0, MSIM_TICK_NS};
    for (int waited = 0; waited < MSIM_DRAIN_MS; waited += MSIM_TICK_NS / 1000000) {
        pthread_mutex_lock(&app->lock);
        size_t inflight = app->inflight;
        pthread_mutex_unlock(&app->lock);
        if (inflight == 0)
            return;
        int sig = sigtimedwait(stop, NULL, &tick);
        if (sig == SIGINT || sig == SIGTERM)
            return;
    }
}

static void msim_disconnect(struct msim *app)
{
    if (app->client == NULL)
        return;
    if (MQTTAsync_isConnected(app->client)) {
        MQTTAsync_disconnectOptions dopt = MQTTAsync_disconnectOptions_initializer;
        dopt.timeout = 2000;
        if (MQTTAsync_disconnect(app->client, &dopt) != MQTTASYNC_SUCCESS)
            log_msg(LOG_WARN, "mqtt", "disconnect did not start");
        for (int waited = 0; waited < 2000 && MQTTAsync_isConnected(app->client); waited += 10) {
            struct timespec ts = {0, 10 * 1000 * 1000};
            nanosleep(&ts, NULL);
        }
    }
    MQTTAsync_destroy(&app->client);
}

static int msim_run_mqtt(struct msim *app, const sigset_t *stop)
{
    if (msim_mqtt_create(app) != 0) {
        msim_disconnect(app);
        return MSIM_FAILURE;
    }
    if (msim_wait_connected(app, stop)) {
        msim_run_paced(app, stop);
        msim_drain(app, stop);
    }
    msim_disconnect(app);
    return 0;
}

/* ---- Program ------------------------------------------------------------------------------- */

static int msim_signals(sigset_t *stop)
{
    struct sigaction ignore = {.sa_handler = SIG_IGN};
    sigemptyset(stop);
    sigaddset(stop, SIGTERM);
    sigaddset(stop, SIGINT);
    return sigaction(SIGPIPE, &ignore, NULL) == 0 && pthread_sigmask(SIG_BLOCK, stop, NULL) == 0
               ? 0
               : -1;
}

static void msim_summary(const struct msim *app)
{
    char from[ISOTIME_LEN], to[ISOTIME_LEN];
    fprintf(stderr,
            "metersim: published=%llu acked=%llu failed=%llu unconfirmed=%zu commands=%llu "
            "meters=%zu simulated=%s..%s\n",
            (unsigned long long)app->published, (unsigned long long)app->acked,
            (unsigned long long)app->failed, app->inflight,
            (unsigned long long)app->commands_received, app->spec_count,
            isotime_format(app->opt.sim.start, from),
            isotime_format(app->fleet ? sim_fleet_now(app->fleet) : app->opt.sim.start, to));
}

static void msim_free(struct msim *app)
{
    while (app->pending != NULL) { /* never confirmed: Paho is gone, so nobody else frees them */
        struct msim_pending *next = app->pending->next;
        free(app->pending->payload);
        free(app->pending);
        app->pending = next;
    }
    while (app->commands != NULL) {
        struct msim_command *next = app->commands->next;
        free(app->commands);
        app->commands = next;
    }
    sim_outbox_free(&app->box);
    sim_fleet_free(app->fleet);
    free(app->specs);
    free(app->opt.reject);
    free(app->opt.silent);
    pthread_mutex_destroy(&app->lock);
}

static int msim_open_log(struct msim *app)
{
    if (app->opt.log_path == NULL)
        return 0;
    app->log = fopen(app->opt.log_path, "w");
    if (app->log == NULL) {
        log_msg(LOG_ERROR, "metersim", "cannot open log path=%s error=\"%s\"", app->opt.log_path,
                strerror(errno));
        return -1;
    }
    return 0;
}

static int msim_close_log(struct msim *app)
{
    if (app->log == NULL || fclose(app->log) == 0)
        return 0;
    log_msg(LOG_ERROR, "metersim", "cannot write log path=%s", app->opt.log_path);
    return -1;
}

static int msim_main(struct msim *app, int argc, char **argv)
{
    sigset_t stop;
    msim_defaults(&app->opt);
    int rc = msim_parse_args(argc, argv, &app->opt);
    if (rc >= 0)
        return rc;
    if (app->opt.write_topology)
        return msim_write_topology(&app->opt);
    if (!app->opt.has_start) /* yesterday 00:00 UTC: a day to replay quickly, then live */
        app->opt.sim.start = ((int64_t)time(NULL) / 86400 - 1) * 86400;
    if (msim_signals(&stop) != 0) {
        log_msg(LOG_ERROR, "metersim", "cannot set up signals");
        return MSIM_FAILURE;
    }
    rc = msim_build_fleet(app);
    if (rc == 0 && msim_open_log(app) != 0)
        rc = MSIM_FAILURE;
    if (rc == 0)
        rc = app->opt.dry_run ? msim_dry_run(app) : msim_run_mqtt(app, &stop);
    if (app->fleet != NULL)
        msim_summary(app);
    if (msim_close_log(app) != 0 && rc == 0)
        rc = MSIM_FAILURE;
    return rc;
}

int main(int argc, char **argv)
{
    static struct msim app; /* large (the zone table): static, not on the stack */
    app.commands_tail = &app.commands;
    if (pthread_mutex_init(&app.lock, NULL) != 0) {
        fputs("metersim: cannot create a mutex\n", stderr);
        return MSIM_FAILURE;
    }
    int rc = msim_main(&app, argc, argv);
    msim_free(&app);
    return rc;
}
