/* fields.h — the known meter fields of a report (SPEC §5) and the tariff object (SPEC §8).
 *
 * Validation turns a report's state patch into plain values for the history tables, in the
 * meter's own integer units: energy in Wh, money in 1e-5 £ (what a meter's money registers hold),
 * so sums never drift. Strings and the events array are borrowed from the cJSON tree they were
 * read from. Every failure is a 400 `Invalid field: NAME (why)`. Pure: no I/O, no clock. */
#ifndef FIELDS_H
#define FIELDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api_error.h"

struct cJSON;

#define FIELDS_WH_PER_KWH 1000      /* energy unit: 1 Wh */
#define FIELDS_MONEY_PER_GBP 100000 /* money unit: 1e-5 £ */

#define FIELDS_KWH_MAX 1000000000        /* register reads, kWh */
#define FIELDS_GBP_LIMIT 10000           /* balance, emergency credit: within ±£10000 */
#define FIELDS_VOLTS_MAX 500             /* voltage, voltage_l1..l3 */
#define FIELDS_CSQ_MAX 31                /* signal quality 0–31 */
#define FIELDS_CLOCK_DIFF_MAX 1000000000 /* |clock_time_diff_seconds| */
#define FIELDS_TEXT_MAX 1024             /* bytes of health_details, events[].text */
#define FIELDS_LABEL_MAX 128             /* bytes of hardware, firmware_version */
#define FIELDS_EVENT_CODE_MAX 64         /* bytes of events[].code (at least 1) */
#define FIELDS_EVENTS_MAX 1000           /* elements of events */

/* Report times before 2000 or more than a day after now are bogus (an unset or runaway clock). */
#define FIELDS_TS_EARLIEST INT64_C(946684800) /* 2000-01-01T00:00:00Z */
#define FIELDS_TS_AHEAD_MAX INT64_C(86400)

#define TARIFF_RATE_MAX_GBP 1       /* standing charge and unit rates */
#define TARIFF_PREPAY_MAX_GBP 10000 /* the three prepayment amounts */

/* The known reported fields, in the order of SPEC §5. The first four index register_wh. */
enum fields_id {
    FIELDS_IMPORT_A = 0,
    FIELDS_IMPORT_B,
    FIELDS_EXPORT_A,
    FIELDS_EXPORT_B,
    FIELDS_BALANCE,
    FIELDS_EMERGENCY_CREDIT,
    FIELDS_CSQ,
    FIELDS_VOLTAGE,
    FIELDS_VOLTAGE_L1,
    FIELDS_VOLTAGE_L2,
    FIELDS_VOLTAGE_L3,
    FIELDS_CLOCK_TIME_DIFF_SECONDS,
    FIELDS_HEALTH,
    FIELDS_HEALTH_DETAILS,
    FIELDS_TARIFFS_ACTIVE,
    FIELDS_TARIFFS_FUTURE,
    FIELDS_EVENTS,
    FIELDS_HARDWARE,
    FIELDS_FIRMWARE_VERSION,
    FIELDS_COUNT
};

/* The six amounts of a tariff, in their canonical order. */
enum tariff_amount {
    TARIFF_STANDING_CHARGE = 0,
    TARIFF_UNIT_RATE_ELEMENT_A,
    TARIFF_UNIT_RATE_ELEMENT_B,
    TARIFF_PREPAYMENT_ECREDIT_AVAILABILITY,
    TARIFF_PREPAYMENT_DEBT_RECOVERY_RATE,
    TARIFF_PREPAYMENT_EMERGENCY_CREDIT,
    TARIFF_AMOUNT_COUNT
};

struct tariff {
    int64_t amount[TARIFF_AMOUNT_COUNT]; /* 1e-5 £, by enum tariff_amount */
    bool has_activation;                 /* activation_datetime was given */
    int64_t activation;                  /* meter clock time as naive seconds (read as if UTC) */
};

/* One element of `events`, as validated. Strings are borrowed from the cJSON tree. */
struct fields_event {
    int64_t ts;       /* Unix seconds */
    const char *code; /* 1–64 bytes */
    const char *text; /* NULL when absent or null */
};

/* A validated report patch. A field's value is meaningful only when its present bit is set. */
struct fields_reported {
    uint32_t present;         /* bit (1u << id): a valid, non-null value below */
    uint32_t nulled;          /* bit (1u << id): null, i.e. delete the key, project nothing */
    int64_t register_wh[4];   /* by FIELDS_IMPORT_A..FIELDS_EXPORT_B: cumulative Wh (nearest) */
    int64_t balance;          /* 1e-5 £ (nearest: a balance may carry more decimals) */
    int64_t emergency_credit; /* 1e-5 £ */
    int csq;                  /* 0–31 */
    double voltage;           /* V */
    double voltage_l[3];      /* V, l1..l3 */
    int64_t clock_time_diff_seconds;
    bool healthy;                 /* health is "healthy" (else "unhealthy") */
    const char *health_details;   /* borrowed */
    struct tariff tariffs_active; /* has_activation only when the meter sent one */
    struct tariff tariffs_future; /* has_activation always true */
    const struct cJSON *events;   /* borrowed array; read elements with fields_event_parse */
    size_t event_count;
    const char *hardware;         /* borrowed */
    const char *firmware_version; /* borrowed */
};

/* --- Units --- */

/* kWh → Wh and £ → 1e-5 £: x·scale rounded to the nearest unit (halves away from zero). Exact
 * for every value typed with at most 3 (kWh) / 5 (£) decimals. Returns 0, or -1 (out untouched)
 * for NaN, ±inf, or a result beyond ±2^50 units, where that exactness would no longer hold. */
int fields_kwh_to_wh(double kwh, int64_t *wh);
int fields_gbp_to_money(double gbp, int64_t *money);

/* True when x is exactly the double a JSON parser yields for a decimal with at most
 * log10(scale) decimals (scale 100000: at most 5), i.e. round(x·scale)/scale == x. A decimal
 * with more digits than a double can tell apart from such a value is indistinguishable. */
bool fields_decimals_fit(double x, int64_t scale);

/* --- Report fields --- */

/* The id of a known field name (exact, case-sensitive), or -1. */
int fields_lookup(const char *name);
/* The wire name of a field id; NULL outside [0, FIELDS_COUNT). */
const char *fields_name(enum fields_id id);
/* True when r holds a valid value for id (present bit set). */
bool fields_has(const struct fields_reported *r, enum fields_id id);

/* Validates every known field of a report's state patch in document order; the first invalid one
 * answers 400 `Invalid field: NAME (why)`. Unknown fields are ignored; null sets the nulled bit
 * and nothing else. patch may be NULL or JSON null (nothing present). Returns 0 with *out filled
 * (borrowing from patch), or -1 with *err set and *out unspecified. */
int fields_parse_reported(const struct cJSON *patch, struct fields_reported *out,
                          struct api_error *err);

/* Reads an instant (ISO-8601 with a zone, or integer or decimal Unix seconds) that must lie in
 * [earliest, latest]. name is the field named in the error. Returns 0 with *out set, or -1 with
 * 400 `Invalid field: NAME (ISO-8601 with zone, or Unix seconds)` or `(must be from T1 to T2)`. */
int fields_parse_time(const struct cJSON *item, const char *name, int64_t earliest, int64_t latest,
                      int64_t *out, struct api_error *err);
/* fields_parse_time for a report's top-level `ts`; callers pass FIELDS_TS_EARLIEST and
 * now + FIELDS_TS_AHEAD_MAX. item must be the member itself (a JSON null is invalid). */
int fields_parse_ts(const struct cJSON *ts, int64_t earliest, int64_t latest, int64_t *out,
                    struct api_error *err);

/* A cumulative register read in kWh (a number, 0–FIELDS_KWH_MAX) as Wh; name is the field named
 * in the error (`import_a`, `reads[3].import_a`). Returns 0, or -1 with *err set. */
int fields_parse_kwh(const struct cJSON *item, const char *name, int64_t *wh,
                     struct api_error *err);

/* Validates element index of an `events` array: an object with `ts` (instant, unbounded beyond
 * 1970–9999), `code` (string, 1–64 bytes) and optional `text` (string ≤ 1024 bytes, or null);
 * other members are ignored. Returns 0 with *ev filled (borrowing), or -1 with *err set. */
int fields_event_parse(const struct cJSON *element, size_t index, struct fields_event *ev,
                       struct api_error *err);

/* True for the fields only a meter may set: every known field but tariffs_future (an operator's
 * desired value for them is answered 403 where the service forbids it). False for unknown names. */
bool fields_is_reported_only(const char *name);

/* For import_a, import_b, export_a, export_b: sets *element to 'A' or 'B' and *is_import, and
 * returns true ('A' also stands for a SINGLE meter's register, resolved against the registry by
 * the caller). Returns false (outputs untouched) for any other name. */
bool fields_register_of(const char *name, char *element, bool *is_import);

/* --- Tariff object (SPEC §8) --- */

/* The wire name of an amount; NULL outside [0, TARIFF_AMOUNT_COUNT). */
const char *tariff_amount_name(enum tariff_amount a);

/* Validates a tariff object, naming errors under `tariffs_future.` or `tariffs_active.`: all six
 * amounts as numbers with at most 5 decimals (the first three 0–1.0, the rest 0–10000);
 * activation_datetime `YYYY-MM-DDTHH:MM:SS` required when future, optional when active; any other
 * member is rejected. Returns 0 with *out filled, or -1 with *err set. */
int tariff_parse(const struct cJSON *obj, bool future, struct tariff *out, struct api_error *err);

/* Equal amounts and equal activation (both absent, or both present and equal). */
bool tariff_equal(const struct tariff *a, const struct tariff *b);
/* Equal amounts, whatever the activation: a reported active tariff against a desired future one. */
bool tariff_equal_ignoring_activation(const struct tariff *a, const struct tariff *b);

/* The canonical object: the six amounts in enum order as exact decimals (0.12345), then
 * activation_datetime when with_activation and t has one. New tree owned by the caller, NULL on
 * allocation failure. */
struct cJSON *tariff_to_json(const struct tariff *t, bool with_activation);

#endif
