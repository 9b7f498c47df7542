/* check_config.c — settings: defaults, every key, the file format, precedence of environment,
 * file and flags, the command line, and one-line errors naming the bad key (SPEC §2). */
#include "config.h"

#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- Helpers ------------------------------------------------------------------------------ */

/* A fake environment: NULL-terminated name/value pairs, set by each test. */
static const char *const *fake_env;

static const char *fake_getenv(const char *name)
{
    for (const char *const *p = fake_env; p && p[0]; p += 2)
        if (strcmp(p[0], name) == 0)
            return p[1];
    return NULL;
}

static const char *const no_env[] = {NULL};

/* Writes text into a new temporary file; path receives its name. */
static void write_conf(char path[64], const char *text, size_t len)
{
    const char *dir = getenv("TMPDIR");
    snprintf(path, 64, "%s/check_config_XXXXXX", dir && strlen(dir) < 40 ? dir : "/tmp");
    int fd = mkstemp(path);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(write(fd, text, len), (ssize_t)len);
    close(fd);
}

static void write_text(char path[64], const char *text)
{
    write_conf(path, text, strlen(text));
}

/* Runs config_load on a NULL-terminated argv (argv[0] "shadowd"), on fresh defaults. */
static int load_argv(struct config *cfg, char err[CONFIG_ERROR_MAX], char **argv)
{
    int argc = 0;
    while (argv[argc])
        argc++;
    ck_assert_int_eq(config_defaults(cfg), 0);
    err[0] = '\0';
    return config_load(cfg, argc, argv, fake_getenv, err);
}

/* load_args(&cfg, err, "--db", "x.db", NULL): the arguments after the program name. The final
 * NULL ends the list (an array, not a variadic call, so NULL needs no cast). */
#define load_args(cfg, err, ...) load_argv(cfg, err, (char *[]){"shadowd", __VA_ARGS__, NULL})

/* Loads a file holding text (and nothing else on the command line). */
static int load_text(struct config *cfg, char err[CONFIG_ERROR_MAX], const char *text,
                     char path[64])
{
    write_text(path, text);
    int rc = load_args(cfg, err, "-c", path, NULL);
    unlink(path);
    return rc;
}

static void assert_defaults(const struct config *c)
{
    ck_assert_str_eq(c->broker, "tcp://127.0.0.1:1883");
    ck_assert_str_eq(c->db, "./shadow.db");
    ck_assert_str_eq(c->client_id, "shadowd");
    ck_assert_str_eq(c->topic_root, "");
    ck_assert_str_eq(c->log_level, "info");
    ck_assert_ptr_null(c->username);
    ck_assert_ptr_null(c->password_file);
    ck_assert_ptr_null(c->tls_ca);
    ck_assert_ptr_null(c->tls_cert);
    ck_assert_ptr_null(c->tls_key);
    ck_assert_str_eq(c->aggregate_timezone, "Europe/London");
    ck_assert_int_eq(c->unknown_meters, UNKNOWN_METERS_REJECT);
    ck_assert_int_eq(c->durability, DURABILITY_NORMAL);
    ck_assert_int_eq(c->max_document_bytes, 16384);
    ck_assert_int_eq(c->max_depth, 8);
    ck_assert_int_eq(c->offline_after_s, 10800);
    ck_assert_double_eq(c->low_balance_gbp, 5.0);
    ck_assert_int_eq(c->clock_drift_alert_s, 60);
    ck_assert_int_eq(c->command_retry_s, 300);
    ck_assert_int_eq(c->command_max_attempts, 12);
    ck_assert_int_eq(c->stats_interval_s, 60);
    ck_assert_int_eq(c->max_interpolate_h, 6);
    ck_assert_double_eq(c->default_max_kw, 23.0);
    ck_assert_int_eq(c->max_payload_bytes, 1048576);
    ck_assert(!c->check_only);
    ck_assert(!c->show_version);
    ck_assert(!c->show_help);
}

static const char *const all_keys[] = {
    "broker",
    "db",
    "client_id",
    "topic_root",
    "log_level",
    "username",
    "password_file",
    "tls_ca",
    "tls_cert",
    "tls_key",
    "unknown_meters",
    "max_document_bytes",
    "max_depth",
    "aggregate_timezone",
    "offline_after_s",
    "low_balance_gbp",
    "clock_drift_alert_s",
    "command_retry_s",
    "command_max_attempts",
    "stats_interval_s",
    "max_interpolate_h",
    "default_max_kw",
    "durability",
    "max_payload_bytes",
};
#define NKEYS (sizeof all_keys / sizeof all_keys[0])

/* Non-default values for every key, as `key = value` text, and the check that they landed. */
static const char every_key_text[] = "broker = mqtts://broker.example.org:8883\n"
                                     "db = /var/lib/shadowd/shadow.db\n"
                                     "client_id = shadowd-site1\n"
                                     "topic_root = site1/north\n"
                                     "log_level = debug\n"
                                     "username = shadowd\n"
                                     "password_file = /etc/shadowd/password\n"
                                     "tls_ca = /etc/ssl/ca.pem\n"
                                     "tls_cert = /etc/ssl/shadowd.pem\n"
                                     "tls_key = /etc/ssl/shadowd.key\n"
                                     "unknown_meters = provision\n"
                                     "max_document_bytes = 32768\n"
                                     "max_depth = 12\n"
                                     "aggregate_timezone = America/Argentina/Buenos_Aires\n"
                                     "offline_after_s = 3600\n"
                                     "low_balance_gbp = -2.50\n"
                                     "clock_drift_alert_s = 30\n"
                                     "command_retry_s = 120\n"
                                     "command_max_attempts = 5\n"
                                     "stats_interval_s = 10\n"
                                     "max_interpolate_h = 3\n"
                                     "default_max_kw = 69.5\n"
                                     "durability = full\n"
                                     "max_payload_bytes = 65536\n";

static void assert_every_key(const struct config *c)
{
    ck_assert_str_eq(c->broker, "mqtts://broker.example.org:8883");
    ck_assert_str_eq(c->db, "/var/lib/shadowd/shadow.db");
    ck_assert_str_eq(c->client_id, "shadowd-site1");
    ck_assert_str_eq(c->topic_root, "site1/north");
    ck_assert_str_eq(c->log_level, "debug");
    ck_assert_str_eq(c->username, "shadowd");
    ck_assert_str_eq(c->password_file, "/etc/shadowd/password");
    ck_assert_str_eq(c->tls_ca, "/etc/ssl/ca.pem");
    ck_assert_str_eq(c->tls_cert, "/etc/ssl/shadowd.pem");
    ck_assert_str_eq(c->tls_key, "/etc/ssl/shadowd.key");
    ck_assert_int_eq(c->unknown_meters, UNKNOWN_METERS_PROVISION);
    ck_assert_int_eq(c->max_document_bytes, 32768);
    ck_assert_int_eq(c->max_depth, 12);
    ck_assert_str_eq(c->aggregate_timezone, "America/Argentina/Buenos_Aires");
    ck_assert_int_eq(c->offline_after_s, 3600);
    ck_assert_double_eq(c->low_balance_gbp, -2.5);
    ck_assert_int_eq(c->clock_drift_alert_s, 30);
    ck_assert_int_eq(c->command_retry_s, 120);
    ck_assert_int_eq(c->command_max_attempts, 5);
    ck_assert_int_eq(c->stats_interval_s, 10);
    ck_assert_int_eq(c->max_interpolate_h, 3);
    ck_assert_double_eq(c->default_max_kw, 69.5);
    ck_assert_int_eq(c->durability, DURABILITY_FULL);
    ck_assert_int_eq(c->max_payload_bytes, 65536);
}

static void setup(void)
{
    fake_env = no_env;
}

/* ---- Defaults ----------------------------------------------------------------------------- */

START_TEST(defaults_are_exact)
{
    struct config cfg;
    ck_assert_int_eq(config_defaults(&cfg), 0);
    assert_defaults(&cfg);
    config_free(&cfg);
}
END_TEST

START_TEST(no_arguments_no_environment_gives_defaults)
{
    struct config cfg;
    char err[CONFIG_ERROR_MAX];
    ck_assert_int_eq(load_args(&cfg, err, NULL), 0);
    assert_defaults(&cfg);
    config_free(&cfg);
    /* argc 0 (no program name) is tolerated too. */
    ck_assert_int_eq(config_defaults(&cfg), 0);
    ck_assert_int_eq(config_load(&cfg, 0, NULL, fake_getenv, err), 0);
    assert_defaults(&cfg);
    config_free(&cfg);
}
END_TEST

/* ---- The file ----------------------------------------------------------------------------- */

START_TEST(file_sets_every_key)
{
    struct config cfg;
    char err[CONFIG_ERROR_MAX], path[64];
    ck_assert_msg(load_text(&cfg, err, every_key_text, path) == 0, "%s", err);
    assert_every_key(&cfg);
    ck_assert(!cfg.check_only);
    config_free(&cfg);
}
END_TEST

START_TEST(file_comments_blank_lines_and_spaces)
{
    struct config cfg;
    char err[CONFIG_ERROR_MAX], path[64];
    const char *text = "\xEF\xBB\xBF# shadowd settings\n"
                       "\n"
                       "   \t \n"
                       "    # an indented comment: broker = nonsense\n"
                       "#db = commented.db\n"
                       "\tdb\t=\t/data/with # hash.db  \r\n"
                       "client_id=no-spaces\n"
                       "  max_depth   =   16\n"
                       "topic_root =\n"
                       "username = first\n"
                       "username = second\n"
                       "log_level = warn"; /* no final newline */
    ck_assert_msg(load_text(&cfg, err, text, path) == 0, "%s", err);
    ck_assert_str_eq(cfg.broker, "tcp://127.0.0.1:1883");
    ck_assert_str_eq(cfg.db, "/data/with # hash.db");
    ck_assert_str_eq(cfg.client_id, "no-spaces");
    ck_assert_int_eq(cfg.max_depth, 16);
    ck_assert_str_eq(cfg.topic_root, "");
    ck_assert_str_eq(cfg.username, "second");
    ck_assert_str_eq(cfg.log_level, "warn");
    config_free(&cfg);
}
END_TEST

START_TEST(empty_file_gives_defaults)
{
    struct config cfg;
    char err[CONFIG_ERROR_MAX], path[64];
    ck_assert_int_eq(load_text(&cfg, err, "", path), 0);
    assert_defaults(&cfg);
    config_free(&cfg);
}
END_TEST

START_TEST(unknown_key_names_file_line_and_key)
{
    struct config cfg;
    char err[CONFIG_ERROR_MAX], path[64], want[CONFIG_ERROR_MAX];
    ck_assert_int_eq(load_text(&cfg, err, "# x\n\ndb = a.db\nbrokr = tcp://h\n", path), -1);
    snprintf(want, sizeof want, "%s:4: unknown key 'brokr'", path);
    ck_assert_str_eq(err, want);
    config_free(&cfg);
    /* Keys are case-sensitive. */
    ck_assert_int_eq(load_text(&cfg, err, "Broker = tcp://h\n", path), -1);
    snprintf(want, sizeof want, "%s:1: unknown key 'Broker'", path);
    ck_assert_str_eq(err, want);
    config_free(&cfg);
}
END_TEST

START_TEST(line_without_equals_is_an_error)
{
    struct config cfg;
    char err[CONFIG_ERROR_MAX], path[64], want[CONFIG_ERROR_MAX];
    ck_assert_int_eq(load_text(&cfg, err, "db = a.db\nbroker tcp://h:1883\n", path), -1);
    snprintf(want, sizeof want, "%s:2: expected 'key = value', got 'broker tcp://h:1883'", path);
    ck_assert_str_eq(err, want);
    config_free(&cfg);

    ck_assert_int_eq(load_text(&cfg, err, "  = value\n", path), -1);
    snprintf(want, sizeof want, "%s:1: missing key before '='", path);
    ck_assert_str_eq(err, want);
    config_free(&cfg);
}
END_TEST

START_TEST(bad_value_in_file_names_line_and_key)
{
    struct config cfg;
    char err[CONFIG_ERROR_MAX], path[64], want[CONFIG_ERROR_MAX];
    ck_assert_int_eq(load_text(&cfg, err, "db = a.db\n\nmax_depth = x\n", path), -1);
    snprintf(want, sizeof want, "%s:3: max_depth: must be an integer from 1 to 64, got 'x'", path);
    ck_assert_str_eq(err, want);
    config_free(&cfg);
}
END_TEST

START_TEST(nul_byte_in_file_is_an_error)
{
    struct config cfg;
    char err[CONFIG_ERROR_MAX], path[64], want[CONFIG_ERROR_MAX];
    static const char text[] = "db = a\0b\n";
    write_conf(path, text, sizeof text - 1);
    ck_assert_int_eq(load_args(&cfg, err, "-c", path, NULL), -1);
    unlink(path);
    snprintf(want, sizeof want, "%s:1: line holds a NUL byte", path);
    ck_assert_str_eq(err, want);
    config_free(&cfg);
}
END_TEST

START_TEST(missing_config_file_is_an_error)
{
    struct config cfg;
    char err[CONFIG_ERROR_MAX];
    ck_assert_int_eq(load_args(&cfg, err, "-c", "/nonexistent/shadowd.conf", NULL), -1);
    ck_assert_str_eq(err, "/nonexistent/shadowd.conf: cannot open: No such file or directory");
    config_free(&cfg);
}
END_TEST

START_TEST(directory_as_config_file_is_an_error)
{
    struct config cfg;
    char err[CONFIG_ERROR_MAX];
    ck_assert_int_eq(load_args(&cfg, err, "-c", "/", NULL), -1);
    ck_assert_msg(strncmp(err, "/: cannot ", 10) == 0, "%s", err);
    config_free(&cfg);
}
END_TEST

/* The shipped example lists every key, commented out, at its default: uncommenting every
 * `#key = value` line must load and change nothing. */
START_TEST(example_file_lists_every_key_with_its_default)
{
    FILE *f = fopen("deploy/shadowd.conf.example", "r");
    if (!f)
        f = fopen("../deploy/shadowd.conf.example", "r");
    ck_assert_msg(f != NULL, "deploy/shadowd.conf.example not found (run from the repository)");
    char text[16384] = "", line[512];
    size_t used = 0;
    bool seen[NKEYS] = {false};
    while (fgets(line, sizeof line, f)) {
        for (size_t i = 0; i < NKEYS; i++) {
            size_t n = strlen(all_keys[i]);
            if (line[0] == '#' && strncmp(line + 1, all_keys[i], n) == 0 &&
                strncmp(line + 1 + n, " =", 2) == 0) {
                seen[i] = true;
                size_t len = strlen(line + 1);
                ck_assert_uint_lt(used + len, sizeof text);
                memcpy(text + used, line + 1, len + 1);
                used += len;
            }
        }
    }
    fclose(f);
    for (size_t i = 0; i < NKEYS; i++)
        ck_assert_msg(seen[i], "key %s missing from the example", all_keys[i]);

    struct config cfg;
    char err[CONFIG_ERROR_MAX], path[64];
    ck_assert_msg(load_text(&cfg, err, text, path) == 0, "%s", err);
    assert_defaults(&cfg);
    config_free(&cfg);
}
END_TEST

/* ---- Values ------------------------------------------------------------------------------- */

struct bad_value {
    const char *key, *value, *err;
};

static const struct bad_value bad_values[] = {
    /* integers */
    {"max_depth", "x", "max_depth: must be an integer from 1 to 64, got 'x'"},
    {"max_depth", "", "max_depth: must be an integer from 1 to 64, got ''"},
    {"max_depth", "0", "max_depth: must be an integer from 1 to 64, got '0'"},
    {"max_depth", "65", "max_depth: must be an integer from 1 to 64, got '65'"},
    {"max_depth", "8x", "max_depth: must be an integer from 1 to 64, got '8x'"},
    {"max_depth", " 8", "max_depth: must be an integer from 1 to 64, got ' 8'"},
    {"max_depth", "8.0", "max_depth: must be an integer from 1 to 64, got '8.0'"},
    {"max_depth", "0x8", "max_depth: must be an integer from 1 to 64, got '0x8'"},
    {"max_depth", "-", "max_depth: must be an integer from 1 to 64, got '-'"},
    {"max_document_bytes", "63",
     "max_document_bytes: must be an integer from 64 to 2147483647, got '63'"},
    {"max_payload_bytes", "63",
     "max_payload_bytes: must be an integer from 64 to 268435455, got '63'"},
    {"max_payload_bytes", "268435456",
     "max_payload_bytes: must be an integer from 64 to 268435455, got '268435456'"},
    {"offline_after_s", "0", "offline_after_s: must be an integer from 1 to 2147483647, got '0'"},
    {"offline_after_s", "-5", "offline_after_s: must be an integer from 1 to 2147483647, got '-5'"},
    {"offline_after_s", "2147483648",
     "offline_after_s: must be an integer from 1 to 2147483647, got '2147483648'"},
    {"offline_after_s", "99999999999999999999999",
     "offline_after_s: must be an integer from 1 to 2147483647, got '99999999999999999999999'"},
    {"clock_drift_alert_s", "0",
     "clock_drift_alert_s: must be an integer from 1 to 2147483647, got '0'"},
    {"command_retry_s", "1e3",
     "command_retry_s: must be an integer from 1 to 2147483647, got '1e3'"},
    {"command_max_attempts", "0",
     "command_max_attempts: must be an integer from 1 to 2147483647, got '0'"},
    {"stats_interval_s", "-1",
     "stats_interval_s: must be an integer from 1 to 2147483647, got '-1'"},
    {"max_interpolate_h", "six",
     "max_interpolate_h: must be an integer from 1 to 2147483647, got 'six'"},
    /* decimals */
    {"low_balance_gbp", "nan", "low_balance_gbp: must be a number from -10000 to 10000, got 'nan'"},
    {"low_balance_gbp", "inf", "low_balance_gbp: must be a number from -10000 to 10000, got 'inf'"},
    {"low_balance_gbp", "1e400",
     "low_balance_gbp: must be a number from -10000 to 10000, got '1e400'"},
    {"low_balance_gbp", "10000.01",
     "low_balance_gbp: must be a number from -10000 to 10000, got '10000.01'"},
    {"low_balance_gbp", "-10001",
     "low_balance_gbp: must be a number from -10000 to 10000, got '-10001'"},
    {"low_balance_gbp", "0x10",
     "low_balance_gbp: must be a number from -10000 to 10000, got '0x10'"},
    {"low_balance_gbp", "£5", "low_balance_gbp: must be a number from -10000 to 10000, got '£5'"},
    {"low_balance_gbp", "", "low_balance_gbp: must be a number from -10000 to 10000, got ''"},
    {"default_max_kw", "0", "default_max_kw: must be a number greater than 0, got '0'"},
    {"default_max_kw", "-23", "default_max_kw: must be a number greater than 0, got '-23'"},
    {"default_max_kw", "Infinity",
     "default_max_kw: must be a number greater than 0, got 'Infinity'"},
    /* enumerations */
    {"unknown_meters", "Reject", "unknown_meters: must be 'reject' or 'provision', got 'Reject'"},
    {"unknown_meters", "", "unknown_meters: must be 'reject' or 'provision', got ''"},
    {"durability", "extra", "durability: must be 'normal' or 'full', got 'extra'"},
    {"log_level", "verbose", "log_level: must be one of error, warn, info, debug, got 'verbose'"},
    {"log_level", "INFO", "log_level: must be one of error, warn, info, debug, got 'INFO'"},
    /* strings */
    {"db", "", "db: must not be empty, got ''"},
    {"client_id", "",
     "client_id: must be 1 to 65535 bytes of UTF-8 without control characters, got ''"},
    {"client_id", "a\tb",
     "client_id: must be 1 to 65535 bytes of UTF-8 without control characters, got 'a?b'"},
    {"client_id", "\xff",
     "client_id: must be 1 to 65535 bytes of UTF-8 without control characters, got '\xff'"},
    {"username", "\xc0\xaf",
     "username: must be at most 65535 bytes of UTF-8 without control characters, got "
     "'\xc0\xaf'"},
    {"topic_root", "site/+", "topic_root: must not contain the wildcards '+' or '#', got 'site/+'"},
    {"topic_root", "site#", "topic_root: must not contain the wildcards '+' or '#', got 'site#'"},
    {"topic_root", "/site", "topic_root: must not start or end with '/', got '/site'"},
    {"topic_root", "site/", "topic_root: must not start or end with '/', got 'site/'"},
    {"topic_root", "/", "topic_root: must not start or end with '/', got '/'"},
    {"topic_root", "a//b", "topic_root: must not contain an empty level ('//'), got 'a//b'"},
    {"topic_root", "$SYS",
     "topic_root: must not start with '$' (reserved for the broker), got '$SYS'"},
    {"aggregate_timezone", "", NULL},
    {"aggregate_timezone", "../../etc/passwd", NULL},
    {"aggregate_timezone", "Europe/..", NULL},
    {"aggregate_timezone", "/etc/localtime", NULL},
    {"aggregate_timezone", "Europe/London ", NULL},
    {"aggregate_timezone", "Europe//London", NULL},
    {"aggregate_timezone", "Europe/", NULL},
    {"aggregate_timezone", "Europe.London", NULL},
    {"broker", "127.0.0.1:1883", NULL},
    {"broker", "http://h:1883", NULL},
    {"broker", "ws://h:8080", NULL},
    {"broker", "TCP://h", NULL},
    {"broker", "tcp://", NULL},
    {"broker", "tcp://:1883", NULL},
    {"broker", "tcp://h:", NULL},
    {"broker", "tcp://h:0", NULL},
    {"broker", "tcp://h:65536", NULL},
    {"broker", "tcp://h:18830000", NULL},
    {"broker", "tcp://h:1883x", NULL},
    {"broker", "tcp://h:1883/", NULL},
    {"broker", "tcp://h h:1883", NULL},
    {"broker", "tcp://user@h:1883", NULL},
    {"broker", "tcp://::1:1883", NULL},
    {"broker", "tcp://[::1", NULL},
    {"broker", "tcp://[]:1883", NULL},
};

/* Every kind of bad value is refused with its one-line message, and leaves the key unchanged. */
START_TEST(bad_values_are_refused_naming_the_key)
{
    const struct bad_value *b = &bad_values[_i];
    struct config cfg, before;
    char err[CONFIG_ERROR_MAX];
    ck_assert_int_eq(config_defaults(&cfg), 0);
    memcpy(&before, &cfg, sizeof cfg);
    ck_assert_msg(config_set(&cfg, b->key, b->value, err) == -1, "%s = '%s' accepted", b->key,
                  b->value);
    if (b->err) {
        /* The message is sanitised to one line: control bytes show as '?'. */
        ck_assert_str_eq(err, b->err);
    } else {
        char prefix[64];
        snprintf(prefix, sizeof prefix, "%s: must ", b->key);
        ck_assert_msg(strncmp(err, prefix, strlen(prefix)) == 0, "%s", err);
    }
    ck_assert_ptr_null(strchr(err, '\n'));
    ck_assert_mem_eq(&cfg, &before, sizeof cfg);
    config_free(&cfg);
}
END_TEST

struct good_value {
    const char *key, *value;
};

static const struct good_value good_values[] = {
    {"max_depth", "1"},
    {"max_depth", "64"},
    {"max_depth", "+5"},
    {"max_document_bytes", "64"},
    {"max_payload_bytes", "268435455"},
    {"offline_after_s", "2147483647"},
    {"low_balance_gbp", "-10000"},
    {"low_balance_gbp", "10000"},
    {"low_balance_gbp", "0"},
    {"low_balance_gbp", "-0.5"},
    {"low_balance_gbp", "1e3"},
    {"low_balance_gbp", ".5"},
    {"default_max_kw", "0.001"},
    {"default_max_kw", "1e6"},
    {"log_level", "error"},
    {"log_level", "warn"},
    {"log_level", "info"},
    {"log_level", "debug"},
    {"unknown_meters", "reject"},
    {"durability", "normal"},
    {"broker", "tcp://localhost"},
    {"broker", "ssl://broker.example.org:8883"},
    {"broker", "mqtt://10.0.0.1:1883"},
    {"broker", "mqtts://mqtt-1.example_site.net:65535"},
    {"broker", "tcp://[::1]:1883"},
    {"broker", "tcp://[fe80::1]"},
    {"client_id", "shadowd/é"},
    {"topic_root", ""},
    {"topic_root", "site1"},
    {"topic_root", "esco/site 1/shadow"},
    {"aggregate_timezone", "UTC"},
    {"aggregate_timezone", "Etc/GMT+1"},
    {"aggregate_timezone", "America/Port-au-Prince"},
    {"username", "operator"},
    {"password_file", "/etc/shadowd/pw#1"},
};

START_TEST(good_values_are_accepted)
{
    const struct good_value *g = &good_values[_i];
    struct config cfg;
    char err[CONFIG_ERROR_MAX];
    ck_assert_int_eq(config_defaults(&cfg), 0);
    ck_assert_msg(config_set(&cfg, g->key, g->value, err) == 0, "%s", err);
    config_free(&cfg);
}
END_TEST

START_TEST(set_converts_values)
{
    struct config cfg;
    char err[CONFIG_ERROR_MAX];
    ck_assert_int_eq(config_defaults(&cfg), 0);
    ck_assert_int_eq(config_set(&cfg, "low_balance_gbp", "-0.25", err), 0);
    ck_assert_double_eq(cfg.low_balance_gbp, -0.25);
    ck_assert_int_eq(config_set(&cfg, "max_depth", "+5", err), 0);
    ck_assert_int_eq(cfg.max_depth, 5);
    ck_assert_int_eq(config_set(&cfg, "unknown_meters", "provision", err), 0);
    ck_assert_int_eq(cfg.unknown_meters, UNKNOWN_METERS_PROVISION);
    ck_assert_int_eq(config_set(&cfg, "unknown_meters", "reject", err), 0);
    ck_assert_int_eq(cfg.unknown_meters, UNKNOWN_METERS_REJECT);
    ck_assert_int_eq(config_set(&cfg, "durability", "full", err), 0);
    ck_assert_int_eq(cfg.durability, DURABILITY_FULL);
    config_free(&cfg);
}
END_TEST

START_TEST(optional_strings_unset_when_empty)
{
    struct config cfg;
    char err[CONFIG_ERROR_MAX];
    const char *keys[] = {"username", "password_file", "tls_ca", "tls_cert", "tls_key"};
    ck_assert_int_eq(config_defaults(&cfg), 0);
    for (size_t i = 0; i < 5; i++) {
        ck_assert_int_eq(config_set(&cfg, keys[i], "x", err), 0);
        ck_assert_int_eq(config_set(&cfg, keys[i], "", err), 0);
    }
    ck_assert_ptr_null(cfg.username);
    ck_assert_ptr_null(cfg.password_file);
    ck_assert_ptr_null(cfg.tls_ca);
    ck_assert_ptr_null(cfg.tls_cert);
    ck_assert_ptr_null(cfg.tls_key);
    /* topic_root keeps "" rather than NULL: callers never test it for NULL. */
    ck_assert_int_eq(config_set(&cfg, "topic_root", "x", err), 0);
    ck_assert_int_eq(config_set(&cfg, "topic_root", "", err), 0);
    ck_assert_str_eq(cfg.topic_root, "");
    config_free(&cfg);
}
END_TEST

START_TEST(set_unknown_key)
{
    struct config cfg;
    char err[CONFIG_ERROR_MAX];
    ck_assert_int_eq(config_defaults(&cfg), 0);
    ck_assert_int_eq(config_set(&cfg, "brokr", "x", err), -1);
    ck_assert_str_eq(err, "unknown key 'brokr'");
    /* The flag spelling is not a key. */
    ck_assert_int_eq(config_set(&cfg, "client-id", "x", err), -1);
    ck_assert_str_eq(err, "unknown key 'client-id'");
    config_free(&cfg);
}
END_TEST

START_TEST(errors_are_one_bounded_line)
{
    struct config cfg;
    char err[CONFIG_ERROR_MAX];
    char long_value[1000];
    memset(long_value, 'x', sizeof long_value - 1);
    long_value[sizeof long_value - 1] = '\0';
    ck_assert_int_eq(config_defaults(&cfg), 0);
    ck_assert_int_eq(config_set(&cfg, "max_depth", long_value, err), -1);
    ck_assert_uint_lt(strlen(err), CONFIG_ERROR_MAX);
    ck_assert_msg(strstr(err, "xxx...'") != NULL, "%s", err);
    ck_assert_int_eq(config_set(&cfg, "durability", "a\nb\r", err), -1);
    ck_assert_str_eq(err, "durability: must be 'normal' or 'full', got 'a?b?'");
    config_free(&cfg);
}
END_TEST

/* ---- Environment and precedence ----------------------------------------------------------- */

static const char *const env_every_key[] = {
    "SHADOWD_BROKER",
    "mqtts://broker.example.org:8883",
    "SHADOWD_DB",
    "/var/lib/shadowd/shadow.db",
    "SHADOWD_CLIENT_ID",
    "shadowd-site1",
    "SHADOWD_TOPIC_ROOT",
    "site1/north",
    "SHADOWD_LOG_LEVEL",
    "debug",
    "SHADOWD_USERNAME",
    "shadowd",
    "SHADOWD_PASSWORD_FILE",
    "/etc/shadowd/password",
    "SHADOWD_TLS_CA",
    "/etc/ssl/ca.pem",
    "SHADOWD_TLS_CERT",
    "/etc/ssl/shadowd.pem",
    "SHADOWD_TLS_KEY",
    "/etc/ssl/shadowd.key",
    "SHADOWD_UNKNOWN_METERS",
    "provision",
    "SHADOWD_MAX_DOCUMENT_BYTES",
    "32768",
    "SHADOWD_MAX_DEPTH",
    "12",
    "SHADOWD_AGGREGATE_TIMEZONE",
    "America/Argentina/Buenos_Aires",
    "SHADOWD_OFFLINE_AFTER_S",
    "3600",
    "SHADOWD_LOW_BALANCE_GBP",
    "-2.50",
    "SHADOWD_CLOCK_DRIFT_ALERT_S",
    "30",
    "SHADOWD_COMMAND_RETRY_S",
    "120",
    "SHADOWD_COMMAND_MAX_ATTEMPTS",
    "5",
    "SHADOWD_STATS_INTERVAL_S",
    "10",
    "SHADOWD_MAX_INTERPOLATE_H",
    "3",
    "SHADOWD_DEFAULT_MAX_KW",
    "69.5",
    "SHADOWD_DURABILITY",
    "full",
    "SHADOWD_MAX_PAYLOAD_BYTES",
    "65536",
    NULL,
};

START_TEST(environment_overrides_every_default)
{
    struct config cfg;
    char err[CONFIG_ERROR_MAX];
    fake_env = env_every_key;
    ck_assert_msg(load_args(&cfg, err, NULL) == 0, "%s", err);
    assert_every_key(&cfg);
    config_free(&cfg);
}
END_TEST

START_TEST(empty_or_foreign_environment_is_ignored)
{
    static const char *const env[] = {"SHADOWD_DB", "",           "SHADOWD_BROKR", "x", "DB",
                                      "x.db",       "shadowd_db", "y.db",          NULL};
    struct config cfg;
    char err[CONFIG_ERROR_MAX];
    fake_env = env;
    ck_assert_msg(load_args(&cfg, err, NULL) == 0, "%s", err);
    assert_defaults(&cfg);
    config_free(&cfg);
}
END_TEST

START_TEST(bad_environment_value_names_the_variable)
{
    static const char *const env[] = {"SHADOWD_MAX_DEPTH", "x", NULL};
    struct config cfg;
    char err[CONFIG_ERROR_MAX];
    fake_env = env;
    ck_assert_int_eq(load_args(&cfg, err, NULL), -1);
    ck_assert_str_eq(err, "SHADOWD_MAX_DEPTH: max_depth: must be an integer from 1 to 64, got 'x'");
    config_free(&cfg);
}
END_TEST

START_TEST(file_overrides_environment)
{
    static const char *const env[] = {
        "SHADOWD_DB", "/env.db", "SHADOWD_MAX_DEPTH", "20", "SHADOWD_CLIENT_ID", "from-env", NULL};
    struct config cfg;
    char err[CONFIG_ERROR_MAX], path[64];
    fake_env = env;
    ck_assert_msg(load_text(&cfg, err, "db = /file.db\nmax_depth = 30\n", path) == 0, "%s", err);
    ck_assert_str_eq(cfg.db, "/file.db");
    ck_assert_int_eq(cfg.max_depth, 30);
    ck_assert_str_eq(cfg.client_id, "from-env"); /* not in the file: the environment stands */
    config_free(&cfg);
}
END_TEST

START_TEST(flags_override_file_and_environment)
{
    static const char *const env[] = {"SHADOWD_BROKER", "tcp://env:1883", "SHADOWD_LOG_LEVEL",
                                      "error", NULL};
    struct config cfg;
    char err[CONFIG_ERROR_MAX], path[64];
    fake_env = env;
    write_text(path, "broker = tcp://file:1883\ndb = /file.db\ntopic_root = file\n");
    int rc = load_args(&cfg, err, "--db", "/flag.db", "-c", path, "--log-level=debug",
                       "--topic-root", "flag", NULL);
    unlink(path);
    ck_assert_msg(rc == 0, "%s", err);
    ck_assert_str_eq(cfg.broker, "tcp://file:1883");
    ck_assert_str_eq(cfg.db, "/flag.db");
    ck_assert_str_eq(cfg.topic_root, "flag");
    ck_assert_str_eq(cfg.log_level, "debug");
    config_free(&cfg);
}
END_TEST

/* ---- Command line ------------------------------------------------------------------------- */

START_TEST(flags_take_separate_or_attached_values)
{
    struct config cfg;
    char err[CONFIG_ERROR_MAX];
    ck_assert_msg(load_args(&cfg, err, "--broker", "ssl://b:8883", "--db", "/a.db", "--client-id",
                            "c1", "--topic-root", "t/r", "--log-level", "warn", NULL) == 0,
                  "%s", err);
    ck_assert_str_eq(cfg.broker, "ssl://b:8883");
    ck_assert_str_eq(cfg.db, "/a.db");
    ck_assert_str_eq(cfg.client_id, "c1");
    ck_assert_str_eq(cfg.topic_root, "t/r");
    ck_assert_str_eq(cfg.log_level, "warn");
    config_free(&cfg);

    ck_assert_msg(load_args(&cfg, err, "--broker=mqtt://b", "--db=/b=c.db", "--client-id=c2",
                            "--topic-root=", "--log-level=error", NULL) == 0,
                  "%s", err);
    ck_assert_str_eq(cfg.broker, "mqtt://b");
    ck_assert_str_eq(cfg.db, "/b=c.db");
    ck_assert_str_eq(cfg.client_id, "c2");
    ck_assert_str_eq(cfg.topic_root, "");
    ck_assert_str_eq(cfg.log_level, "error");
    config_free(&cfg);

    /* A repeated flag: the last one wins; a value may start with a single '-'. */
    ck_assert_msg(load_args(&cfg, err, "--db", "a.db", "--db", "-b.db", NULL) == 0, "%s", err);
    ck_assert_str_eq(cfg.db, "-b.db");
    config_free(&cfg);
}
END_TEST

START_TEST(unknown_flag_or_stray_argument_is_named)
{
    struct config cfg;
    char err[CONFIG_ERROR_MAX];
    ck_assert_int_eq(load_args(&cfg, err, "--brokr", "tcp://h", NULL), -1);
    ck_assert_str_eq(err, "unknown option '--brokr'");
    config_free(&cfg);
    ck_assert_int_eq(load_args(&cfg, err, "--max-depth=9", NULL), -1);
    ck_assert_str_eq(err, "unknown option '--max-depth'");
    config_free(&cfg);
    ck_assert_int_eq(load_args(&cfg, err, "-x", NULL), -1);
    ck_assert_str_eq(err, "unknown option '-x'");
    config_free(&cfg);
    ck_assert_int_eq(load_args(&cfg, err, "-cfile", NULL), -1);
    ck_assert_str_eq(err, "unknown option '-cfile'");
    config_free(&cfg);
    ck_assert_int_eq(load_args(&cfg, err, "--", NULL), -1);
    ck_assert_str_eq(err, "unknown option '--'");
    config_free(&cfg);
    ck_assert_int_eq(load_args(&cfg, err, "--db", "a.db", "extra", NULL), -1);
    ck_assert_str_eq(err, "unexpected argument 'extra'");
    config_free(&cfg);
    ck_assert_int_eq(load_args(&cfg, err, "-", NULL), -1);
    ck_assert_str_eq(err, "unexpected argument '-'");
    config_free(&cfg);
}
END_TEST

START_TEST(missing_flag_value_is_named)
{
    struct config cfg;
    char err[CONFIG_ERROR_MAX];
    ck_assert_int_eq(load_args(&cfg, err, "--db", NULL), -1);
    ck_assert_str_eq(err, "option '--db' requires a value");
    config_free(&cfg);
    ck_assert_int_eq(load_args(&cfg, err, "--broker", "--db", "x.db", NULL), -1);
    ck_assert_str_eq(err, "option '--broker' requires a value");
    config_free(&cfg);
    ck_assert_int_eq(load_args(&cfg, err, "-c", NULL), -1);
    ck_assert_str_eq(err, "option '-c' requires a file name");
    config_free(&cfg);
    ck_assert_int_eq(load_args(&cfg, err, "-c", "a.conf", "-c", "b.conf", NULL), -1);
    ck_assert_str_eq(err, "option '-c' given more than once");
    config_free(&cfg);
}
END_TEST

START_TEST(bad_flag_value_names_flag_and_key)
{
    struct config cfg;
    char err[CONFIG_ERROR_MAX];
    ck_assert_int_eq(load_args(&cfg, err, "--log-level=loud", NULL), -1);
    ck_assert_str_eq(err,
                     "--log-level: log_level: must be one of error, warn, info, debug, got 'loud'");
    config_free(&cfg);
    ck_assert_int_eq(load_args(&cfg, err, "--topic-root", "a/#", NULL), -1);
    ck_assert_str_eq(
        err, "--topic-root: topic_root: must not contain the wildcards '+' or '#', got 'a/#'");
    config_free(&cfg);
}
END_TEST

START_TEST(boolean_flags_set_their_fields)
{
    struct config cfg;
    char err[CONFIG_ERROR_MAX], path[64];
    write_text(path, "db = /checked.db\n");
    ck_assert_int_eq(load_args(&cfg, err, "--check-config", "-c", path, NULL), 0);
    unlink(path);
    ck_assert(cfg.check_only);
    ck_assert(!cfg.show_version);
    ck_assert(!cfg.show_help);
    ck_assert_str_eq(cfg.db, "/checked.db"); /* --check-config still loads everything */
    config_free(&cfg);

    ck_assert_int_eq(load_args(&cfg, err, "--version", NULL), 0);
    ck_assert(cfg.show_version);
    ck_assert(!cfg.show_help);
    ck_assert(!cfg.check_only);
    config_free(&cfg);

    ck_assert_int_eq(load_args(&cfg, err, "--help", NULL), 0);
    ck_assert(cfg.show_help);
    ck_assert(!cfg.show_version);
    config_free(&cfg);

    ck_assert_int_eq(load_args(&cfg, err, "--help=yes", NULL), -1);
    ck_assert_str_eq(err, "option '--help' takes no value");
    config_free(&cfg);
}
END_TEST

/* --help and --version answer even when the settings are broken; argv must still parse. */
START_TEST(help_and_version_skip_settings)
{
    static const char *const env[] = {"SHADOWD_MAX_DEPTH", "x", NULL};
    struct config cfg;
    char err[CONFIG_ERROR_MAX];
    fake_env = env;
    ck_assert_int_eq(load_args(&cfg, err, "-c", "/nonexistent.conf", "--help", NULL), 0);
    ck_assert(cfg.show_help);
    config_free(&cfg);
    ck_assert_int_eq(load_args(&cfg, err, "--version", "--db=", NULL), 0);
    ck_assert(cfg.show_version);
    config_free(&cfg);
    ck_assert_int_eq(load_args(&cfg, err, "--version", "--bogus", NULL), -1);
    ck_assert_str_eq(err, "unknown option '--bogus'");
    config_free(&cfg);
    /* --check-config does not skip anything. */
    ck_assert_int_eq(load_args(&cfg, err, "--check-config", NULL), -1);
    ck_assert_str_eq(err, "SHADOWD_MAX_DEPTH: max_depth: must be an integer from 1 to 64, got 'x'");
    config_free(&cfg);
}
END_TEST

/* ---- Rules across keys -------------------------------------------------------------------- */

START_TEST(tls_settings_need_a_tls_broker_and_a_key_pair)
{
    struct config cfg;
    char err[CONFIG_ERROR_MAX], path[64];
    ck_assert_int_eq(load_text(&cfg, err, "tls_ca = /ca.pem\n", path), -1);
    ck_assert_str_eq(err, "tls_ca: needs an ssl:// or mqtts:// broker, got 'tcp://127.0.0.1:1883'");
    config_free(&cfg);
    ck_assert_int_eq(load_text(&cfg, err, "broker = ssl://b:8883\ntls_cert = /c.pem\n", path), -1);
    ck_assert_str_eq(err, "tls_key: must be set when tls_cert is");
    config_free(&cfg);
    ck_assert_int_eq(load_text(&cfg, err, "broker = mqtts://b\ntls_key = /c.key\n", path), -1);
    ck_assert_str_eq(err, "tls_cert: must be set when tls_key is");
    config_free(&cfg);
    ck_assert_int_eq(load_text(&cfg, err, "broker = ssl://b:8883\ntls_ca = /ca.pem\n", path), 0);
    config_free(&cfg);
    /* A flag can fix what the file broke: the rule applies to the final settings. */
    write_text(path, "tls_ca = /ca.pem\n");
    int rc = load_args(&cfg, err, "-c", path, "--broker", "mqtts://b:8883", NULL);
    unlink(path);
    ck_assert_msg(rc == 0, "%s", err);
    config_free(&cfg);
}
END_TEST

/* ---- Memory ------------------------------------------------------------------------------- */

/* Run under ASan/LSan (make sanitize): every string replaced, set and freed, on success and on
 * each kind of failure, leaves nothing behind. */
START_TEST(config_free_leaves_no_leaks)
{
    struct config cfg;
    char err[CONFIG_ERROR_MAX], path[64];
    fake_env = env_every_key;
    write_text(path, every_key_text);
    ck_assert_int_eq(load_args(&cfg, err, "-c", path, "--broker=ssl://x", "--db", "/d",
                               "--client-id", "c", "--topic-root", "t", "--log-level", "warn",
                               NULL),
                     0);
    config_free(&cfg);
    config_free(&cfg); /* twice is harmless */
    ck_assert_ptr_null(cfg.broker);
    ck_assert_int_eq(load_args(&cfg, err, "-c", path, "--db", NULL), -1);
    config_free(&cfg);
    ck_assert_int_eq(load_args(&cfg, err, "-c", path, "--log-level", "x", NULL), -1);
    config_free(&cfg);
    unlink(path);
    ck_assert_int_eq(load_text(&cfg, err, "db = a\nusername = u\nbad\n", path), -1);
    config_free(&cfg);
    config_free(NULL);
}
END_TEST

/* ---- Usage -------------------------------------------------------------------------------- */

START_TEST(usage_lists_every_flag)
{
    const char *u = config_usage();
    const char *want[] = {"shadowd [-c FILE]",
                          "--broker URI",
                          "--db PATH",
                          "--client-id ID",
                          "--topic-root PREFIX",
                          "--log-level",
                          "--check-config",
                          "--version",
                          "--help",
                          "deploy/shadowd.conf.example",
                          "SHADOWD_"};
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        ck_assert_msg(strstr(u, want[i]) != NULL, "usage lacks %s", want[i]);
    ck_assert_int_eq(u[strlen(u) - 1], '\n');
}
END_TEST

static Suite *config_suite(void)
{
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("config");
    tcase_add_checked_fixture(tc, setup, NULL);
    tcase_add_test(tc, defaults_are_exact);
    tcase_add_test(tc, no_arguments_no_environment_gives_defaults);
    tcase_add_test(tc, file_sets_every_key);
    tcase_add_test(tc, file_comments_blank_lines_and_spaces);
    tcase_add_test(tc, empty_file_gives_defaults);
    tcase_add_test(tc, unknown_key_names_file_line_and_key);
    tcase_add_test(tc, line_without_equals_is_an_error);
    tcase_add_test(tc, bad_value_in_file_names_line_and_key);
    tcase_add_test(tc, nul_byte_in_file_is_an_error);
    tcase_add_test(tc, missing_config_file_is_an_error);
    tcase_add_test(tc, directory_as_config_file_is_an_error);
    tcase_add_test(tc, example_file_lists_every_key_with_its_default);
    tcase_add_loop_test(tc, bad_values_are_refused_naming_the_key, 0,
                        (int)(sizeof bad_values / sizeof bad_values[0]));
    tcase_add_loop_test(tc, good_values_are_accepted, 0,
                        (int)(sizeof good_values / sizeof good_values[0]));
    tcase_add_test(tc, set_converts_values);
    tcase_add_test(tc, optional_strings_unset_when_empty);
    tcase_add_test(tc, set_unknown_key);
    tcase_add_test(tc, errors_are_one_bounded_line);
    tcase_add_test(tc, environment_overrides_every_default);
    tcase_add_test(tc, empty_or_foreign_environment_is_ignored);
    tcase_add_test(tc, bad_environment_value_names_the_variable);
    tcase_add_test(tc, file_overrides_environment);
    tcase_add_test(tc, flags_override_file_and_environment);
    tcase_add_test(tc, flags_take_separate_or_attached_values);
    tcase_add_test(tc, unknown_flag_or_stray_argument_is_named);
    tcase_add_test(tc, missing_flag_value_is_named);
    tcase_add_test(tc, bad_flag_value_names_flag_and_key);
    tcase_add_test(tc, boolean_flags_set_their_fields);
    tcase_add_test(tc, help_and_version_skip_settings);
    tcase_add_test(tc, tls_settings_need_a_tls_broker_and_a_key_pair);
    tcase_add_test(tc, config_free_leaves_no_leaks);
    tcase_add_test(tc, usage_lists_every_flag);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(config_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
