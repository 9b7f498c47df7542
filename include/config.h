/* config.h — shadowd's settings (SPEC §2): embedded defaults, then SHADOWD_* environment, then
 * the config file, then command-line flags, each overriding the one before.
 *
 * The environment overrides defaults only: a key set in the file or on the command line wins over
 * it. Pure apart from reading the named file; errors name the bad key in one line. */
#ifndef CONFIG_H
#define CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CONFIG_ERROR_MAX 256

enum unknown_meters { UNKNOWN_METERS_REJECT = 0, UNKNOWN_METERS_PROVISION };
enum durability { DURABILITY_NORMAL = 0, DURABILITY_FULL };

struct config {
    /* Strings are owned by the config (malloc'd); NULL means unset where a default is empty. */
    char *broker;                                                 /* "tcp://127.0.0.1:1883" */
    char *db;                                                     /* "./shadow.db" */
    char *client_id;                                              /* "shadowd" */
    char *topic_root;                                             /* "" */
    char *log_level;                                              /* "info" */
    char *username, *password_file, *tls_ca, *tls_cert, *tls_key; /* NULL */
    char *aggregate_timezone;                                     /* "Europe/London" */
    enum unknown_meters unknown_meters;                           /* reject */
    enum durability durability;                                   /* normal */
    long max_document_bytes;                                      /* 16384 */
    long max_depth;                                               /* 8 */
    long offline_after_s;                                         /* 10800 */
    double low_balance_gbp;                                       /* 5.00 */
    long clock_drift_alert_s;                                     /* 60 */
    long command_retry_s;                                         /* 300 */
    long command_max_attempts;                                    /* 12 */
    long stats_interval_s;                                        /* 60 */
    long max_interpolate_h;                                       /* 6 */
    double default_max_kw;                                        /* 23 */
    long max_payload_bytes;                                       /* 1048576 */
    bool check_only;                                              /* --check-config */
    bool show_version;                                            /* --version */
    bool show_help;                                               /* --help */
};

/* Fills *cfg with the embedded defaults. Returns 0 or -1 on allocation failure. */
int config_defaults(struct config *cfg);

/* Applies, in order: environment (SHADOWD_<KEY>, via getenv_fn so tests can inject it; NULL means
 * getenv), the file named by -c (if any), then the flags in argv. On error returns -1 and writes
 * one line naming the bad key or argument into err. cfg must come from config_defaults.
 *
 * argv is checked first (unknown option, missing value, stray argument, -c twice). With --help or
 * --version it then returns 0 at once, reading neither the environment nor the file. An empty
 * SHADOWD_ variable counts as unset. Last, rules across keys are checked on the final settings
 * (tls_cert and tls_key come together; tls_* needs an ssl:// or mqtts:// broker). Errors read
 * `FILE:LINE: key: why, got 'value'`, `SHADOWD_KEY: key: …`, `--flag: key: …`,
 * `FILE:LINE: unknown key 'k'` or `unknown option '--x'`. On error cfg may hold a mix of old and
 * new values: config_free it. */
int config_load(struct config *cfg, int argc, char **argv, const char *(*getenv_fn)(const char *),
                char err[CONFIG_ERROR_MAX]);

/* Sets one key from its text value, as a file line or flag would. Returns 0 or -1 with err set
 * (unknown key, bad number, out of range, bad enum) as `key: must …, got 'value'`; on error the
 * key keeps its old value. For username, password_file and tls_* an empty value unsets (NULL). */
int config_set(struct config *cfg, const char *key, const char *value, char err[CONFIG_ERROR_MAX]);

/* Frees the strings and sets them to NULL; safe to call twice, and on NULL. */
void config_free(struct config *cfg);

/* The usage text for --help: several lines, ending in a newline; static storage. */
const char *config_usage(void);

#endif
