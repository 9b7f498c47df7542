/* config.c — shadowd's settings: defaults, SHADOWD_* environment, config file, flags (SPEC §2).
 *
 * Every key is one row of config_keys[]: its name, its default as text, how its value is parsed
 * and checked, and where it lives in struct config. Defaults, the environment, the file and the
 * flags all go through config_set(), so a value is validated the same way wherever it comes from,
 * and the defaults are themselves checked by the same code.
 *
 * Precedence is plain "last writer wins": config_load applies the environment, then the file,
 * then the flags, so the environment overrides only the defaults. Errors are one line, naming
 * where the value came from (FILE:LINE, SHADOWD_X or --flag) and the key. */
#include "config.h"

#include "log.h"

#include <assert.h>
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- Key table ---------------------------------------------------------------------------- */

enum key_kind { KEY_STRING, KEY_LONG, KEY_DOUBLE, KEY_ENUM };

/* Why a string value is bad, as the text after "key: must …"; NULL when it is fine. */
typedef const char *(*string_check)(const char *value);

struct key_def {
    const char *name;
    const char *fallback; /* the default, as text; "" for unset */
    enum key_kind kind;
    size_t offset; /* of the char * / long / double member; unused for KEY_ENUM */
    /* KEY_STRING */
    string_check check; /* NULL: any text */
    bool empty_unsets;  /* "" stores NULL (optional keys) instead of "" */
    /* KEY_LONG: inclusive range */
    long lmin, lmax;
    /* KEY_DOUBLE: (dmin or [dmin, dmax] */
    double dmin, dmax;
    bool dmin_open;
    /* KEY_ENUM: NULL-terminated names, the index is the enum value */
    const char *const *choices;
    void (*set_enum)(struct config *cfg, int index);
};

static const char *check_broker(const char *v);
static const char *check_not_empty(const char *v);
static const char *check_client_id(const char *v);
static const char *check_topic_root(const char *v);
static const char *check_log_level(const char *v);
static const char *check_username(const char *v);
static const char *check_timezone(const char *v);

static void set_unknown_meters(struct config *cfg, int i)
{
    cfg->unknown_meters = i == 1 ? UNKNOWN_METERS_PROVISION : UNKNOWN_METERS_REJECT;
}

static void set_durability(struct config *cfg, int i)
{
    cfg->durability = i == 1 ? DURABILITY_FULL : DURABILITY_NORMAL;
}

static const char *const unknown_meters_names[] = {"reject", "provision", NULL};
static const char *const durability_names[] = {"normal", "full", NULL};

/* Integers that are durations or counts are capped at INT_MAX so callers may keep them in an int
 * and scale them (s → ms, h → s) in 64 bits without overflow. */
#define STR(key, def, chk, unset)                                                                  \
    {                                                                                              \
        .name = #key, .fallback = def, .kind = KEY_STRING, .offset = offsetof(struct config, key), \
        .check = chk, .empty_unsets = unset                                                        \
    }
#define LONG(key, def, lo, hi)                                                                     \
    {                                                                                              \
        .name = #key, .fallback = def, .kind = KEY_LONG, .offset = offsetof(struct config, key),   \
        .lmin = lo, .lmax = hi                                                                     \
    }
#define DOUBLE(key, def, lo, hi, open)                                                             \
    {                                                                                              \
        .name = #key, .fallback = def, .kind = KEY_DOUBLE, .offset = offsetof(struct config, key), \
        .dmin = lo, .dmax = hi, .dmin_open = open                                                  \
    }
#define ENUM(key, def, names, setter)                                                              \
    {                                                                                              \
        .name = #key, .fallback = def, .kind = KEY_ENUM, .choices = names, .set_enum = setter      \
    }

static const struct key_def config_keys[] = {
    STR(broker, "tcp://127.0.0.1:1883", check_broker, false),
    STR(db, "./shadow.db", check_not_empty, false),
    STR(client_id, "shadowd", check_client_id, false),
    STR(topic_root, "", check_topic_root, false),
    STR(log_level, "info", check_log_level, false),
    STR(username, "", check_username, true),
    STR(password_file, "", NULL, true),
    STR(tls_ca, "", NULL, true),
    STR(tls_cert, "", NULL, true),
    STR(tls_key, "", NULL, true),
    ENUM(unknown_meters, "reject", unknown_meters_names, set_unknown_meters),
    LONG(max_document_bytes, "16384", 64, INT_MAX),
    LONG(max_depth, "8", 1, 64),
    STR(aggregate_timezone, "Europe/London", check_timezone, false),
    LONG(offline_after_s, "10800", 1, INT_MAX),
    DOUBLE(low_balance_gbp, "5.00", -10000.0, 10000.0, false),
    LONG(clock_drift_alert_s, "60", 1, INT_MAX),
    LONG(command_retry_s, "300", 1, INT_MAX),
    LONG(command_max_attempts, "12", 1, INT_MAX),
    LONG(stats_interval_s, "60", 1, INT_MAX),
    LONG(max_interpolate_h, "6", 1, INT_MAX),
    DOUBLE(default_max_kw, "23", 0.0, HUGE_VAL, true),
    ENUM(durability, "normal", durability_names, set_durability),
    LONG(max_payload_bytes, "1048576", 64, 268435455), /* MQTT's largest packet */
};

#define CONFIG_NKEYS (sizeof config_keys / sizeof config_keys[0])

static const struct key_def *key_find(const char *name)
{
    for (size_t i = 0; i < CONFIG_NKEYS; i++)
        if (strcmp(config_keys[i].name, name) == 0)
            return &config_keys[i];
    return NULL;
}

/* ---- Error text --------------------------------------------------------------------------- */

/* Replaces control bytes so the message stays one line whatever the input held. */
static void err_sanitize(char *err)
{
    for (unsigned char *p = (unsigned char *)err; *p; p++)
        if (*p < 0x20 || *p == 0x7f)
            *p = '?';
}

static void __attribute__((format(printf, 2, 3))) err_set(char *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(err, CONFIG_ERROR_MAX, fmt, ap);
    va_end(ap);
    if (n < 0)
        snprintf(err, CONFIG_ERROR_MAX, "configuration error");
    err_sanitize(err);
}

/* A value as it appears inside quotes in an error: at most 64 bytes (cut on a UTF-8 boundary,
 * then "..."), so the key and the reason always fit in CONFIG_ERROR_MAX. */
#define QUOTE_MAX 72
static const char *quote(const char *v, char out[QUOTE_MAX])
{
    size_t len = strlen(v);
    if (len <= 64)
        return v;
    size_t cut = 64;
    while (cut > 0 && ((unsigned char)v[cut] & 0xC0) == 0x80)
        cut--;
    memcpy(out, v, cut);
    memcpy(out + cut, "...", 4);
    return out;
}

/* ---- Value checks ------------------------------------------------------------------------- */

/* True when s is well-formed UTF-8 (no overlongs, surrogates or code points past U+10FFFF) and
 * holds no control characters (MQTT strings must not hold U+0000 and should not hold the rest). */
static bool utf8_printable(const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        unsigned c = *p;
        if (c < 0x80) {
            if (c < 0x20 || c == 0x7f)
                return false;
            p++;
            continue;
        }
        int extra;
        unsigned cp, min;
        if (c >= 0xC2 && c <= 0xDF) {
            extra = 1, cp = c & 0x1F, min = 0x80;
        } else if (c >= 0xE0 && c <= 0xEF) {
            extra = 2, cp = c & 0x0F, min = 0x800;
        } else if (c >= 0xF0 && c <= 0xF4) {
            extra = 3, cp = c & 0x07, min = 0x10000;
        } else {
            return false;
        }
        for (int i = 1; i <= extra; i++) {
            if ((p[i] & 0xC0) != 0x80)
                return false;
            cp = (cp << 6) | (p[i] & 0x3F);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        if (cp >= 0x80 && cp <= 0x9F) /* C1 controls */
            return false;
        p += extra + 1;
    }
    return true;
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Paho's URI forms for a plain or TLS MQTT connection: scheme://host[:port], where host is a
 * name, an IPv4 address or a bracketed IPv6 address, and port is 1..65535. WebSocket (ws://,
 * wss://) and Unix sockets are not offered: the service talks MQTT over TCP only. */
static const char *const broker_schemes[] = {"tcp://", "ssl://", "mqtt://", "mqtts://"};

static const char *check_broker(const char *v)
{
    static const char *const why = "must be tcp://, ssl://, mqtt:// or mqtts:// then host[:port]";
    const char *rest = NULL;
    for (size_t i = 0; i < sizeof broker_schemes / sizeof broker_schemes[0]; i++) {
        size_t n = strlen(broker_schemes[i]);
        if (strncmp(v, broker_schemes[i], n) == 0) {
            rest = v + n;
            break;
        }
    }
    if (!rest)
        return why;
    const char *p = rest;
    if (*p == '[') { /* [IPv6] */
        p++;
        const char *start = p;
        while (*p && *p != ']' && (is_digit(*p) || strchr("abcdefABCDEF:.", *p)))
            p++;
        if (*p != ']' || p == start)
            return why;
        p++;
    } else {
        const char *start = p;
        while (*p && *p != ':' && *p != '/' && (unsigned char)*p > 0x20 && *p != 0x7f &&
               !strchr("[]@?#", *p))
            p++;
        if (p == start)
            return why;
    }
    if (*p == ':') {
        p++;
        long port = 0;
        int digits = 0;
        while (is_digit(*p) && digits < 6) {
            port = port * 10 + (*p - '0');
            p++;
            digits++;
        }
        if (digits == 0 || port < 1 || port > 65535)
            return why;
    }
    return *p == '\0' ? NULL : why;
}

static const char *check_not_empty(const char *v)
{
    return *v ? NULL : "must not be empty";
}

static const char *check_client_id(const char *v)
{
    if (!*v || strlen(v) > 65535 || !utf8_printable(v))
        return "must be 1 to 65535 bytes of UTF-8 without control characters";
    return NULL;
}

/* A topic prefix: MQTT topic levels joined by '/', so every topic the service uses can be formed
 * as ROOT/meters/... and matched by a subscription. Empty means no prefix. */
#define TOPIC_ROOT_MAX 1024

static const char *check_topic_root(const char *v)
{
    if (!*v)
        return NULL;
    if (strlen(v) > TOPIC_ROOT_MAX)
        return "must be at most 1024 bytes";
    if (!utf8_printable(v))
        return "must be UTF-8 without control characters";
    if (strpbrk(v, "+#"))
        return "must not contain the wildcards '+' or '#'";
    if (v[0] == '/' || v[strlen(v) - 1] == '/')
        return "must not start or end with '/'";
    if (strstr(v, "//"))
        return "must not contain an empty level ('//')";
    if (v[0] == '$')
        return "must not start with '$' (reserved for the broker)";
    return NULL;
}

static const char *check_log_level(const char *v)
{
    enum log_level level;
    return log_level_parse(v, &level) == 0 ? NULL : "must be one of error, warn, info, debug";
}

static const char *check_username(const char *v)
{
    if (strlen(v) > 65535 || !utf8_printable(v))
        return "must be at most 65535 bytes of UTF-8 without control characters";
    return NULL;
}

/* A tz database name, later opened under the zoneinfo directory: the character set and the ban
 * on a leading '/' keep it inside that directory ('.' is not allowed at all, so no ".."). */
static const char *check_timezone(const char *v)
{
    static const char *const why =
        "must be a tz database name like Europe/London (letters, digits, '_', '+', '-', '/')";
    size_t len = strlen(v);
    if (len == 0 || len > 255 || v[0] == '/' || v[len - 1] == '/' || strstr(v, "..") ||
        strstr(v, "//"))
        return why;
    for (const char *p = v; *p; p++) {
        char c = *p;
        bool ok = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || is_digit(c) || c == '_' ||
                  c == '+' || c == '-' || c == '/';
        if (!ok)
            return why;
    }
    return NULL;
}

/* Whole-string base-10 integer; no leading spaces, no trailing bytes. */
static bool parse_long(const char *s, long *out)
{
    const char *digits = (*s == '-' || *s == '+') ? s + 1 : s;
    if (!is_digit(*digits))
        return false;
    errno = 0;
    char *end;
    long v = strtol(s, &end, 10);
    if (*end != '\0' || errno == ERANGE)
        return false;
    *out = v;
    return true;
}

/* Whole-string decimal number, finite. Only digits, sign, '.', and an exponent: strtod's "inf",
 * "nan" and hexadecimal forms are refused. */
static bool parse_double(const char *s, double *out)
{
    if (!*s || strspn(s, "0123456789+-.eE") != strlen(s))
        return false;
    errno = 0;
    char *end;
    double v = strtod(s, &end);
    if (end == s || *end != '\0' || errno == ERANGE || !isfinite(v))
        return false;
    *out = v;
    return true;
}

/* ---- Public: defaults, set, free ---------------------------------------------------------- */

int config_set(struct config *cfg, const char *key, const char *value, char err[CONFIG_ERROR_MAX])
{
    assert(cfg && key && value && err);
    char q[QUOTE_MAX];
    const struct key_def *def = key_find(key);
    if (!def) {
        err_set(err, "unknown key '%s'", quote(key, q));
        return -1;
    }
    switch (def->kind) {
    case KEY_STRING: {
        const char *why = def->check ? def->check(value) : NULL;
        if (why && !(def->empty_unsets && *value == '\0')) {
            err_set(err, "%s: %s, got '%s'", key, why, quote(value, q));
            return -1;
        }
        char *copy = NULL;
        if (*value || !def->empty_unsets) {
            copy = strdup(value);
            if (!copy) {
                err_set(err, "%s: out of memory", key);
                return -1;
            }
        }
        char **slot = (char **)(void *)((char *)cfg + def->offset);
        free(*slot);
        *slot = copy;
        return 0;
    }
    case KEY_LONG: {
        long v;
        if (!parse_long(value, &v) || v < def->lmin || v > def->lmax) {
            err_set(err, "%s: must be an integer from %ld to %ld, got '%s'", key, def->lmin,
                    def->lmax, quote(value, q));
            return -1;
        }
        *(long *)(void *)((char *)cfg + def->offset) = v;
        return 0;
    }
    case KEY_DOUBLE: {
        double v;
        bool ok = parse_double(value, &v) && v <= def->dmax &&
                  (def->dmin_open ? v > def->dmin : v >= def->dmin);
        if (!ok) {
            if (def->dmin_open)
                err_set(err, "%s: must be a number greater than %g, got '%s'", key, def->dmin,
                        quote(value, q));
            else
                err_set(err, "%s: must be a number from %g to %g, got '%s'", key, def->dmin,
                        def->dmax, quote(value, q));
            return -1;
        }
        *(double *)(void *)((char *)cfg + def->offset) = v;
        return 0;
    }
    case KEY_ENUM:
        for (int i = 0; def->choices[i]; i++) {
            if (strcmp(def->choices[i], value) == 0) {
                def->set_enum(cfg, i);
                return 0;
            }
        }
        err_set(err, "%s: must be '%s' or '%s', got '%s'", key, def->choices[0], def->choices[1],
                quote(value, q));
        return -1;
    }
    err_set(err, "%s: internal error", key);
    return -1;
}

int config_defaults(struct config *cfg)
{
    memset(cfg, 0, sizeof *cfg);
    char err[CONFIG_ERROR_MAX];
    for (size_t i = 0; i < CONFIG_NKEYS; i++) {
        if (config_set(cfg, config_keys[i].name, config_keys[i].fallback, err) != 0) {
            /* Only allocation can fail here: the defaults pass their own checks (tested). */
            config_free(cfg);
            return -1;
        }
    }
    return 0;
}

void config_free(struct config *cfg)
{
    if (!cfg)
        return;
    for (size_t i = 0; i < CONFIG_NKEYS; i++) {
        if (config_keys[i].kind != KEY_STRING)
            continue;
        char **slot = (char **)(void *)((char *)cfg + config_keys[i].offset);
        free(*slot);
        *slot = NULL;
    }
}

/* ---- Sources: environment, file, command line --------------------------------------------- */

static const char *real_getenv(const char *name)
{
    return getenv(name);
}

/* SHADOWD_<KEY> for every key. An empty variable counts as unset. */
static int apply_env(struct config *cfg, const char *(*getenv_fn)(const char *), char *err)
{
    for (size_t i = 0; i < CONFIG_NKEYS; i++) {
        char name[64] = "SHADOWD_";
        size_t n = strlen(name);
        for (const char *k = config_keys[i].name; *k && n < sizeof name - 1; k++)
            name[n++] = (*k >= 'a' && *k <= 'z') ? (char)(*k - 'a' + 'A') : *k;
        name[n] = '\0';
        const char *value = getenv_fn(name);
        if (!value || !*value)
            continue;
        char why[CONFIG_ERROR_MAX];
        if (config_set(cfg, config_keys[i].name, value, why) != 0) {
            err_set(err, "%s: %s", name, why);
            return -1;
        }
    }
    return 0;
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\v' || *s == '\f')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n' ||
                     s[n - 1] == '\v' || s[n - 1] == '\f'))
        s[--n] = '\0';
    return s;
}

/* One `key = value` per line. A line whose first non-blank byte is '#' is a comment; elsewhere
 * '#' is part of the value (as in mosquitto.conf), so paths and ids may hold it. A key given
 * twice takes its last value. */
static int apply_file(struct config *cfg, const char *path, char *err)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        err_set(err, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    long lineno = 0;
    int rc = 0;
    char q[QUOTE_MAX];
    errno = 0;
    while (rc == 0 && (len = getline(&line, &cap, f)) != -1) {
        lineno++;
        if ((size_t)len != strlen(line)) {
            err_set(err, "%s:%ld: line holds a NUL byte", path, lineno);
            rc = -1;
            break;
        }
        char *s = line;
        if (lineno == 1 && strncmp(s, "\xEF\xBB\xBF", 3) == 0) /* UTF-8 byte order mark */
            s += 3;
        s = trim(s);
        if (*s == '\0' || *s == '#')
            continue;
        char *eq = strchr(s, '=');
        if (!eq) {
            err_set(err, "%s:%ld: expected 'key = value', got '%s'", path, lineno, quote(s, q));
            rc = -1;
            break;
        }
        *eq = '\0';
        char *key = trim(s);
        char *value = trim(eq + 1);
        if (*key == '\0') {
            err_set(err, "%s:%ld: missing key before '='", path, lineno);
            rc = -1;
            break;
        }
        char why[CONFIG_ERROR_MAX];
        if (config_set(cfg, key, value, why) != 0) {
            err_set(err, "%s:%ld: %s", path, lineno, why);
            rc = -1;
        }
    }
    if (rc == 0 && ferror(f)) {
        err_set(err, "%s: cannot read: %s", path, strerror(errno ? errno : EIO));
        rc = -1;
    }
    free(line);
    fclose(f);
    return rc;
}

struct flag_def {
    const char *flag; /* without the leading "--" */
    const char *key;  /* NULL for a boolean flag */
    size_t offset;    /* of the bool, for a boolean flag */
};

static const struct flag_def config_flags[] = {
    {"broker", "broker", 0},
    {"db", "db", 0},
    {"client-id", "client_id", 0},
    {"topic-root", "topic_root", 0},
    {"log-level", "log_level", 0},
    {"check-config", NULL, offsetof(struct config, check_only)},
    {"version", NULL, offsetof(struct config, show_version)},
    {"help", NULL, offsetof(struct config, show_help)},
};

static const struct flag_def *flag_find(const char *name, size_t len)
{
    for (size_t i = 0; i < sizeof config_flags / sizeof config_flags[0]; i++)
        if (strlen(config_flags[i].flag) == len && strncmp(config_flags[i].flag, name, len) == 0)
            return &config_flags[i];
    return NULL;
}

/* Walks argv. The first pass (apply false) checks the syntax, finds -c and sets the booleans;
 * the second (apply true) sets the keys, after the environment and the file. A value flag takes
 * `--flag=value` or the next argument, unless that starts with "--" (then the value is missing:
 * write `--flag=--text` for such a value). */
static int walk_args(struct config *cfg, int argc, char **argv, bool apply, const char **file,
                     char *err)
{
    char q[QUOTE_MAX];
    for (int i = 1; i < argc && argv[i]; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "-c") == 0) {
            if (i + 1 >= argc || !argv[i + 1]) {
                err_set(err, "option '-c' requires a file name");
                return -1;
            }
            const char *path = argv[++i];
            if (!apply) {
                if (*file) {
                    err_set(err, "option '-c' given more than once");
                    return -1;
                }
                *file = path;
            }
            continue;
        }
        if (strncmp(arg, "--", 2) != 0 || arg[2] == '\0') {
            if (arg[0] == '-' && arg[1] != '\0')
                err_set(err, "unknown option '%s'", quote(arg, q));
            else
                err_set(err, "unexpected argument '%s'", quote(arg, q));
            return -1;
        }
        const char *name = arg + 2;
        const char *eq = strchr(name, '=');
        size_t name_len = eq ? (size_t)(eq - name) : strlen(name);
        const struct flag_def *flag = flag_find(name, name_len);
        if (!flag) {
            char shown[QUOTE_MAX];
            size_t n = name_len + 2 < 64 ? name_len + 2 : 64;
            memcpy(shown, arg, n);
            shown[n] = '\0';
            err_set(err, "unknown option '%s'", shown);
            return -1;
        }
        if (!flag->key) {
            if (eq) {
                err_set(err, "option '--%s' takes no value", flag->flag);
                return -1;
            }
            *(bool *)(void *)((char *)cfg + flag->offset) = true;
            continue;
        }
        const char *value;
        if (eq) {
            value = eq + 1;
        } else if (i + 1 < argc && argv[i + 1] && strncmp(argv[i + 1], "--", 2) != 0) {
            value = argv[++i];
        } else {
            err_set(err, "option '--%s' requires a value", flag->flag);
            return -1;
        }
        if (apply) {
            char why[CONFIG_ERROR_MAX];
            if (config_set(cfg, flag->key, value, why) != 0) {
                err_set(err, "--%s: %s", flag->flag, why);
                return -1;
            }
        }
    }
    return 0;
}

/* Rules that involve two keys, checked once every source is applied. */
static int check_combined(const struct config *cfg, char *err)
{
    if (cfg->tls_cert && !cfg->tls_key) {
        err_set(err, "tls_key: must be set when tls_cert is");
        return -1;
    }
    if (cfg->tls_key && !cfg->tls_cert) {
        err_set(err, "tls_cert: must be set when tls_key is");
        return -1;
    }
    bool tls_uri =
        strncmp(cfg->broker, "ssl://", 6) == 0 || strncmp(cfg->broker, "mqtts://", 8) == 0;
    const char *tls_key = cfg->tls_ca ? "tls_ca" : cfg->tls_cert ? "tls_cert" : NULL;
    if (tls_key && !tls_uri) {
        char q[QUOTE_MAX];
        err_set(err, "%s: needs an ssl:// or mqtts:// broker, got '%s'", tls_key,
                quote(cfg->broker, q));
        return -1;
    }
    return 0;
}

int config_load(struct config *cfg, int argc, char **argv, const char *(*getenv_fn)(const char *),
                char err[CONFIG_ERROR_MAX])
{
    assert(cfg && err);
    err[0] = '\0';
    const char *file = NULL;
    if (walk_args(cfg, argc, argv, false, &file, err) != 0)
        return -1;
    if (cfg->show_help || cfg->show_version)
        return 0; /* answered without reading any configuration */
    if (apply_env(cfg, getenv_fn ? getenv_fn : real_getenv, err) != 0)
        return -1;
    if (file && apply_file(cfg, file, err) != 0)
        return -1;
    if (walk_args(cfg, argc, argv, true, &file, err) != 0)
        return -1;
    return check_combined(cfg, err);
}

const char *config_usage(void)
{
    return "usage: shadowd [-c FILE] [--broker URI] [--db PATH] [--client-id ID] "
           "[--topic-root PREFIX]\n"
           "               [--log-level error|warn|info|debug] [--check-config] [--version] "
           "[--help]\n"
           "\n"
           "  -c FILE                 read settings from FILE (key = value lines)\n"
           "  --broker URI            MQTT broker: tcp://, ssl://, mqtt:// or mqtts://host[:port]\n"
           "                          (default tcp://127.0.0.1:1883)\n"
           "  --db PATH               SQLite database file (default ./shadow.db)\n"
           "  --client-id ID          MQTT client id (default shadowd)\n"
           "  --topic-root PREFIX     prefix for every topic, e.g. site1 (default none)\n"
           "  --log-level LEVEL       error, warn, info or debug (default info)\n"
           "  --check-config          validate the settings, then exit 0 (valid) or 2\n"
           "  --version               print the version and exit\n"
           "  --help                  print this help and exit\n"
           "\n"
           "Flags also take --flag=value. Precedence: defaults < SHADOWD_<KEY> environment\n"
           "(e.g. SHADOWD_DB) < config file < flags. Each flag has a config key of the same name\n"
           "with '_' for '-'; see deploy/shadowd.conf.example for every key.\n";
}
