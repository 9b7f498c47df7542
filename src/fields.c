/* fields.c — known meter fields (SPEC §5) and the tariff object (SPEC §8): validation and units.
 *
 * The idea: validate once, at the edge, and hand the rest of the service integers. A meter keeps
 * energy in Wh and money in 1e-5 £; storing those integers (not doubles) is what lets a million
 * 0.1 kWh reads add up to exactly 100000 kWh, and lets a tariff round-trip to the meter unchanged.
 *
 * Converting a JSON double is exact by construction: a decimal with at most 5 decimals parses
 * (strtod, correctly rounded) to the double nearest to it, whose product with the scale lies far
 * closer than half a unit to the integer it stands for, so rounding recovers that integer. The
 * same argument gives an exact "at most 5 decimals" test without any tolerance: round, divide
 * back (also correctly rounded) and compare with the original double.
 *
 * Validation walks a patch in document order so the first invalid field is the one reported, and
 * builds error paths (`events[2].ts`, `tariffs_future.unit_rate_element_a`) as it goes. A JSON
 * null for a known field always means "delete the key": it is recorded, never projected. */
#include "fields.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "isotime.h"

/* 2^50 units: below it the rounding error of x·scale (about |x·scale|·2^-52) stays far under half
 * a unit, so rounding is exact; the largest value met here (1e12 Wh) is a thousand times smaller.
 */
#define EXACT_LIMIT 1125899906842624.0
#define PATH_LEN 128    /* longest error path built here */
#define KEY_ECHO_MAX 64 /* bytes of an unknown member name echoed in an error */
#define TIME_WHY "ISO-8601 with zone, or integer or decimal Unix seconds"
/* The bit after the amounts in a tariff's set of members seen. */
#define ACTIVATION_SLOT TARIFF_AMOUNT_COUNT

/* --- Errors and paths --- */

static int invalid(struct api_error *err, const char *path, const char *why)
{
    return api_error_set(err, 400, "Invalid field: %s (%s)", path, why);
}

/* Length of the longest prefix of s of at most max bytes that does not split a UTF-8 sequence:
 * error messages echo member names and must stay valid UTF-8 when cut short. */
static size_t utf8_prefix(const char *s, size_t max)
{
    size_t n = strnlen(s, max + 1);
    if (n <= max)
        return n;
    n = max;
    while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
        n--;
    return n;
}

static void member_path(char *buf, size_t cap, const char *prefix, const char *key)
{
    snprintf(buf, cap, "%s.%.*s", prefix, (int)utf8_prefix(key, KEY_ECHO_MAX), key);
}

/* --- Units --- */

static int to_units(double x, int64_t scale, int64_t *out)
{
    double r = x * (double)scale;
    if (!(fabs(r) <= EXACT_LIMIT)) /* also false for NaN and ±inf */
        return -1;
    *out = (int64_t)llround(r);
    return 0;
}

int fields_kwh_to_wh(double kwh, int64_t *wh)
{
    return to_units(kwh, FIELDS_WH_PER_KWH, wh);
}

int fields_gbp_to_money(double gbp, int64_t *money)
{
    return to_units(gbp, FIELDS_MONEY_PER_GBP, money);
}

bool fields_decimals_fit(double x, int64_t scale)
{
    int64_t n;
    if (scale <= 0 || to_units(x, scale, &n) != 0)
        return false;
    return (double)n / (double)scale == x;
}

/* --- Value checks --- */

/* A JSON number in [lo, hi]; NaN and ±inf fail the comparisons. */
static bool number_in(const cJSON *v, double lo, double hi)
{
    return cJSON_IsNumber(v) && v->valuedouble >= lo && v->valuedouble <= hi;
}

/* A JSON number in [lo, hi] with no fractional part (12.0 counts: numbers compare by value). */
static bool integer_in(const cJSON *v, double lo, double hi)
{
    return number_in(v, lo, hi) && floor(v->valuedouble) == v->valuedouble;
}

static bool string_within(const cJSON *v, size_t min, size_t max)
{
    if (!cJSON_IsString(v) || v->valuestring == NULL)
        return false;
    size_t n = strnlen(v->valuestring, max + 1);
    return n >= min && n <= max;
}

/* --- Instants and register reads (shared with the reads batch) --- */

int fields_parse_time(const cJSON *item, const char *name, int64_t earliest, int64_t latest,
                      int64_t *out, struct api_error *err)
{
    int64_t t;
    if (item == NULL || isotime_from_json(item, &t) != 0)
        return invalid(err, name, TIME_WHY);
    if (t < earliest || t > latest) {
        char lo[ISOTIME_LEN], hi[ISOTIME_LEN];
        return api_error_set(err, 400, "Invalid field: %s (must be from %s to %s)", name,
                             isotime_format(earliest, lo), isotime_format(latest, hi));
    }
    *out = t;
    return 0;
}

int fields_parse_ts(const cJSON *ts, int64_t earliest, int64_t latest, int64_t *out,
                    struct api_error *err)
{
    return fields_parse_time(ts, "ts", earliest, latest, out, err);
}

int fields_parse_kwh(const cJSON *item, const char *name, int64_t *wh, struct api_error *err)
{
    if (!number_in(item, 0.0, INFINITY))
        return invalid(err, name, "must be a number >= 0");
    if (item->valuedouble > FIELDS_KWH_MAX || fields_kwh_to_wh(item->valuedouble, wh) != 0)
        return invalid(err, name, "must be at most 1000000000 kWh");
    return 0;
}

/* --- Events --- */

static int event_member(const cJSON *m, const char *elem, struct fields_event *ev, bool *has_ts,
                        bool *has_code, struct api_error *err)
{
    char path[PATH_LEN];
    member_path(path, sizeof path, elem, m->string);
    if (strcmp(m->string, "ts") == 0) {
        *has_ts = true;
        return isotime_from_json(m, &ev->ts) == 0 ? 0 : invalid(err, path, TIME_WHY);
    }
    if (strcmp(m->string, "code") == 0) {
        *has_code = true;
        ev->code = m->valuestring;
        return string_within(m, 1, FIELDS_EVENT_CODE_MAX)
                   ? 0
                   : invalid(err, path, "must be a non-empty string of at most 64 bytes");
    }
    if (strcmp(m->string, "text") == 0) {
        ev->text = cJSON_IsNull(m) ? NULL : m->valuestring;
        return cJSON_IsNull(m) || string_within(m, 0, FIELDS_TEXT_MAX)
                   ? 0
                   : invalid(err, path, "must be a string of at most 1024 bytes");
    }
    return 0; /* extra members stay in the shadow as sent */
}

int fields_event_parse(const cJSON *element, size_t index, struct fields_event *ev,
                       struct api_error *err)
{
    char elem[PATH_LEN];
    snprintf(elem, sizeof elem, "events[%zu]", index);
    if (!cJSON_IsObject(element))
        return invalid(err, elem, "must be an object");
    bool has_ts = false, has_code = false;
    *ev = (struct fields_event){0};
    const cJSON *m;
    cJSON_ArrayForEach(m, element)
    {
        if (m->string != NULL && event_member(m, elem, ev, &has_ts, &has_code, err) != 0)
            return -1;
    }
    if (!has_ts || !has_code) {
        char path[PATH_LEN];
        member_path(path, sizeof path, elem, has_ts ? "code" : "ts");
        return invalid(err, path, "missing");
    }
    return 0;
}

/* --- Tariff object --- */

static const char *const AMOUNT_NAMES[TARIFF_AMOUNT_COUNT] = {
    [TARIFF_STANDING_CHARGE] = "standing_charge",
    [TARIFF_UNIT_RATE_ELEMENT_A] = "unit_rate_element_a",
    [TARIFF_UNIT_RATE_ELEMENT_B] = "unit_rate_element_b",
    [TARIFF_PREPAYMENT_ECREDIT_AVAILABILITY] = "prepayment_ecredit_availability",
    [TARIFF_PREPAYMENT_DEBT_RECOVERY_RATE] = "prepayment_debt_recovery_rate",
    [TARIFF_PREPAYMENT_EMERGENCY_CREDIT] = "prepayment_emergency_credit",
};

const char *tariff_amount_name(enum tariff_amount a)
{
    return (int)a >= 0 && a < TARIFF_AMOUNT_COUNT ? AMOUNT_NAMES[a] : NULL;
}

/* The slot of a tariff member: an amount, ACTIVATION_SLOT, or -1 for an unknown name. */
static int tariff_slot(const char *key)
{
    for (int a = 0; a < TARIFF_AMOUNT_COUNT; a++)
        if (strcmp(key, AMOUNT_NAMES[a]) == 0)
            return a;
    return strcmp(key, "activation_datetime") == 0 ? ACTIVATION_SLOT : -1;
}

static int tariff_amount(const cJSON *m, enum tariff_amount a, const char *path, int64_t *out,
                         struct api_error *err)
{
    bool rate = a <= TARIFF_UNIT_RATE_ELEMENT_B;
    double max = rate ? TARIFF_RATE_MAX_GBP : TARIFF_PREPAY_MAX_GBP;
    if (!number_in(m, 0.0, max) || !fields_decimals_fit(m->valuedouble, FIELDS_MONEY_PER_GBP) ||
        fields_gbp_to_money(m->valuedouble, out) != 0)
        return invalid(err, path,
                       rate ? "must be a number from 0 to 1.0 with at most 5 decimals"
                            : "must be a number from 0 to 10000 with at most 5 decimals");
    return 0;
}

/* An active tariff may carry activation_datetime (or null, meaning none); a future one must. */
static int tariff_activation(const cJSON *m, bool future, const char *path, struct tariff *out,
                             struct api_error *err)
{
    if (!future && cJSON_IsNull(m))
        return 0;
    if (!cJSON_IsString(m) || isotime_parse_naive(m->valuestring, &out->activation) != 0)
        return invalid(err, path, "must be a string YYYY-MM-DDTHH:MM:SS");
    out->has_activation = true;
    return 0;
}

static int tariff_member(const cJSON *m, const char *field, bool future, struct tariff *out,
                         unsigned *seen, struct api_error *err)
{
    const char *key = m->string != NULL ? m->string : "";
    char path[PATH_LEN];
    member_path(path, sizeof path, field, key);
    int slot = tariff_slot(key);
    if (slot < 0)
        return invalid(err, path, "unknown member");
    /* cJSON keeps both copies of a repeated key; which one "counts" would be a guess. */
    if (*seen & (1u << slot))
        return invalid(err, path, "duplicate member");
    *seen |= 1u << slot;
    if (slot == ACTIVATION_SLOT)
        return tariff_activation(m, future, path, out, err);
    return tariff_amount(m, (enum tariff_amount)slot, path, &out->amount[slot], err);
}

static int tariff_require(const char *field, bool future, unsigned seen, struct api_error *err)
{
    char path[PATH_LEN];
    for (int a = 0; a < TARIFF_AMOUNT_COUNT; a++) {
        if (!(seen & (1u << a))) {
            member_path(path, sizeof path, field, AMOUNT_NAMES[a]);
            return invalid(err, path, "missing");
        }
    }
    if (future && !(seen & (1u << ACTIVATION_SLOT))) {
        member_path(path, sizeof path, field, "activation_datetime");
        return invalid(err, path, "missing");
    }
    return 0;
}

int tariff_parse(const cJSON *obj, bool future, struct tariff *out, struct api_error *err)
{
    const char *field = future ? "tariffs_future" : "tariffs_active";
    if (!cJSON_IsObject(obj))
        return invalid(err, field, "must be a tariff object");
    memset(out, 0, sizeof *out);
    unsigned seen = 0;
    const cJSON *m;
    cJSON_ArrayForEach(m, obj)
    {
        if (tariff_member(m, field, future, out, &seen, err) != 0)
            return -1;
    }
    return tariff_require(field, future, seen, err);
}

bool tariff_equal_ignoring_activation(const struct tariff *a, const struct tariff *b)
{
    for (int i = 0; i < TARIFF_AMOUNT_COUNT; i++)
        if (a->amount[i] != b->amount[i])
            return false;
    return true;
}

bool tariff_equal(const struct tariff *a, const struct tariff *b)
{
    if (a->has_activation != b->has_activation)
        return false;
    if (a->has_activation && a->activation != b->activation)
        return false;
    return tariff_equal_ignoring_activation(a, b);
}

cJSON *tariff_to_json(const struct tariff *t, bool with_activation)
{
    cJSON *o = cJSON_CreateObject();
    if (o == NULL)
        return NULL;
    /* n / 1e5 is the double nearest the decimal, and cJSON prints it with 15 significant digits
     * (more than any amount here needs), so the text is the exact decimal: 0.12345. */
    for (int a = 0; a < TARIFF_AMOUNT_COUNT; a++)
        if (cJSON_AddNumberToObject(o, AMOUNT_NAMES[a],
                                    (double)t->amount[a] / FIELDS_MONEY_PER_GBP) == NULL)
            goto fail;
    if (with_activation && t->has_activation) {
        char text[ISOTIME_LEN];
        isotime_format(t->activation, text);
        text[ISOTIME_LEN - 2] = '\0'; /* drop the `Z`: meter clock time has no zone */
        if (cJSON_AddStringToObject(o, "activation_datetime", text) == NULL)
            goto fail;
    }
    return o;
fail:
    cJSON_Delete(o);
    return NULL;
}

/* --- Report fields --- */

typedef int (*field_parser)(const cJSON *v, enum fields_id id, struct fields_reported *out,
                            struct api_error *err);

static const char *const FIELD_NAMES[FIELDS_COUNT] = {
    [FIELDS_IMPORT_A] = "import_a",
    [FIELDS_IMPORT_B] = "import_b",
    [FIELDS_EXPORT_A] = "export_a",
    [FIELDS_EXPORT_B] = "export_b",
    [FIELDS_BALANCE] = "balance",
    [FIELDS_EMERGENCY_CREDIT] = "emergency_credit",
    [FIELDS_CSQ] = "csq",
    [FIELDS_VOLTAGE] = "voltage",
    [FIELDS_VOLTAGE_L1] = "voltage_l1",
    [FIELDS_VOLTAGE_L2] = "voltage_l2",
    [FIELDS_VOLTAGE_L3] = "voltage_l3",
    [FIELDS_CLOCK_TIME_DIFF_SECONDS] = "clock_time_diff_seconds",
    [FIELDS_HEALTH] = "health",
    [FIELDS_HEALTH_DETAILS] = "health_details",
    [FIELDS_TARIFFS_ACTIVE] = "tariffs_active",
    [FIELDS_TARIFFS_FUTURE] = "tariffs_future",
    [FIELDS_EVENTS] = "events",
    [FIELDS_HARDWARE] = "hardware",
    [FIELDS_FIRMWARE_VERSION] = "firmware_version",
};

static int parse_register(const cJSON *v, enum fields_id id, struct fields_reported *out,
                          struct api_error *err)
{
    return fields_parse_kwh(v, FIELD_NAMES[id], &out->register_wh[id], err);
}

static int parse_money(const cJSON *v, enum fields_id id, struct fields_reported *out,
                       struct api_error *err)
{
    int64_t *slot = id == FIELDS_BALANCE ? &out->balance : &out->emergency_credit;
    if (!number_in(v, -FIELDS_GBP_LIMIT, FIELDS_GBP_LIMIT) ||
        fields_gbp_to_money(v->valuedouble, slot) != 0)
        return invalid(err, FIELD_NAMES[id], "must be a number from -10000 to 10000");
    return 0;
}

static int parse_csq(const cJSON *v, enum fields_id id, struct fields_reported *out,
                     struct api_error *err)
{
    if (!integer_in(v, 0, FIELDS_CSQ_MAX))
        return invalid(err, FIELD_NAMES[id], "must be an integer from 0 to 31, or null");
    out->csq = (int)v->valuedouble;
    return 0;
}

static int parse_voltage(const cJSON *v, enum fields_id id, struct fields_reported *out,
                         struct api_error *err)
{
    if (!number_in(v, 0, FIELDS_VOLTS_MAX))
        return invalid(err, FIELD_NAMES[id], "must be a number from 0 to 500");
    if (id == FIELDS_VOLTAGE)
        out->voltage = v->valuedouble;
    else
        out->voltage_l[id - FIELDS_VOLTAGE_L1] = v->valuedouble;
    return 0;
}

static int parse_clock_diff(const cJSON *v, enum fields_id id, struct fields_reported *out,
                            struct api_error *err)
{
    if (!integer_in(v, -FIELDS_CLOCK_DIFF_MAX, FIELDS_CLOCK_DIFF_MAX))
        return invalid(err, FIELD_NAMES[id], "must be an integer from -1000000000 to 1000000000");
    out->clock_time_diff_seconds = (int64_t)v->valuedouble;
    return 0;
}

static int parse_health(const cJSON *v, enum fields_id id, struct fields_reported *out,
                        struct api_error *err)
{
    bool healthy = cJSON_IsString(v) && strcmp(v->valuestring, "healthy") == 0;
    if (!healthy && !(cJSON_IsString(v) && strcmp(v->valuestring, "unhealthy") == 0))
        return invalid(err, FIELD_NAMES[id], "must be healthy or unhealthy");
    out->healthy = healthy;
    return 0;
}

static int parse_text(const cJSON *v, enum fields_id id, struct fields_reported *out,
                      struct api_error *err)
{
    bool details = id == FIELDS_HEALTH_DETAILS;
    if (!string_within(v, 0, details ? FIELDS_TEXT_MAX : FIELDS_LABEL_MAX))
        return invalid(err, FIELD_NAMES[id],
                       details ? "must be a string of at most 1024 bytes"
                               : "must be a string of at most 128 bytes");
    if (details)
        out->health_details = v->valuestring;
    else if (id == FIELDS_HARDWARE)
        out->hardware = v->valuestring;
    else
        out->firmware_version = v->valuestring;
    return 0;
}

static int parse_tariff(const cJSON *v, enum fields_id id, struct fields_reported *out,
                        struct api_error *err)
{
    bool future = id == FIELDS_TARIFFS_FUTURE;
    return tariff_parse(v, future, future ? &out->tariffs_future : &out->tariffs_active, err);
}

static int parse_events(const cJSON *v, enum fields_id id, struct fields_reported *out,
                        struct api_error *err)
{
    if (!cJSON_IsArray(v) || cJSON_GetArraySize(v) > FIELDS_EVENTS_MAX)
        return invalid(err, FIELD_NAMES[id], "must be an array of at most 1000 events");
    size_t i = 0;
    const cJSON *e;
    cJSON_ArrayForEach(e, v)
    {
        struct fields_event ev;
        if (fields_event_parse(e, i++, &ev, err) != 0)
            return -1;
    }
    out->events = v;
    out->event_count = i;
    return 0;
}

static const field_parser PARSERS[FIELDS_COUNT] = {
    [FIELDS_IMPORT_A] = parse_register,
    [FIELDS_IMPORT_B] = parse_register,
    [FIELDS_EXPORT_A] = parse_register,
    [FIELDS_EXPORT_B] = parse_register,
    [FIELDS_BALANCE] = parse_money,
    [FIELDS_EMERGENCY_CREDIT] = parse_money,
    [FIELDS_CSQ] = parse_csq,
    [FIELDS_VOLTAGE] = parse_voltage,
    [FIELDS_VOLTAGE_L1] = parse_voltage,
    [FIELDS_VOLTAGE_L2] = parse_voltage,
    [FIELDS_VOLTAGE_L3] = parse_voltage,
    [FIELDS_CLOCK_TIME_DIFF_SECONDS] = parse_clock_diff,
    [FIELDS_HEALTH] = parse_health,
    [FIELDS_HEALTH_DETAILS] = parse_text,
    [FIELDS_TARIFFS_ACTIVE] = parse_tariff,
    [FIELDS_TARIFFS_FUTURE] = parse_tariff,
    [FIELDS_EVENTS] = parse_events,
    [FIELDS_HARDWARE] = parse_text,
    [FIELDS_FIRMWARE_VERSION] = parse_text,
};

int fields_lookup(const char *name)
{
    for (int id = 0; name != NULL && id < FIELDS_COUNT; id++)
        if (strcmp(name, FIELD_NAMES[id]) == 0)
            return id;
    return -1;
}

const char *fields_name(enum fields_id id)
{
    return (int)id >= 0 && id < FIELDS_COUNT ? FIELD_NAMES[id] : NULL;
}

bool fields_has(const struct fields_reported *r, enum fields_id id)
{
    return (int)id >= 0 && id < FIELDS_COUNT && (r->present & (1u << id)) != 0;
}

/* A repeated key is validated each time; the last occurrence decides, as an in-order merge. */
static int parse_one(const cJSON *m, enum fields_id id, struct fields_reported *out,
                     struct api_error *err)
{
    uint32_t bit = 1u << id;
    if (cJSON_IsNull(m)) {
        out->nulled |= bit;
        out->present &= ~bit;
        return 0;
    }
    if (PARSERS[id](m, id, out, err) != 0)
        return -1;
    out->present |= bit;
    out->nulled &= ~bit;
    return 0;
}

int fields_parse_reported(const cJSON *patch, struct fields_reported *out, struct api_error *err)
{
    *out = (struct fields_reported){0};
    if (patch == NULL || cJSON_IsNull(patch))
        return 0;
    if (!cJSON_IsObject(patch))
        return api_error_set(err, 400, "State node must be an object");
    const cJSON *m;
    cJSON_ArrayForEach(m, patch)
    {
        int id = fields_lookup(m->string);
        if (id >= 0 && parse_one(m, (enum fields_id)id, out, err) != 0)
            return -1;
    }
    return 0;
}

/* --- Roles of fields --- */

bool fields_is_reported_only(const char *name)
{
    int id = fields_lookup(name);
    return id >= 0 && id != FIELDS_TARIFFS_FUTURE;
}

bool fields_register_of(const char *name, char *element, bool *is_import)
{
    int id = fields_lookup(name);
    if (id < FIELDS_IMPORT_A || id > FIELDS_EXPORT_B)
        return false;
    *element = id == FIELDS_IMPORT_A || id == FIELDS_EXPORT_A ? 'A' : 'B';
    *is_import = id == FIELDS_IMPORT_A || id == FIELDS_IMPORT_B;
    return true;
}
