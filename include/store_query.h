/* store_query.h — the read-only questions of the operator's command line (SPEC §9, §10, §12).
 *
 * Each query streams its rows into a sink: first the column names (and, when asked, how many
 * rows follow), then one array of typed values per row in that column order. A caller can print
 * a table, JSON or CSV without knowing the schema, and a long export never sits in memory.
 *
 * Part of the store interface (store.h): STORE_OK or a negative store_status with store_errmsg
 * set. Nothing here writes, so every call works on a store opened read_only, which shadowd keeps
 * writing meanwhile (WAL readers never block the writer). Times are Unix seconds; energy is kWh,
 * money £, as in the public views. */
#ifndef STORE_QUERY_H
#define STORE_QUERY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "registry.h"
#include "store.h"

/* ---- Rows and sinks ------------------------------------------------------------------------ */

enum store_value_kind {
    STORE_VALUE_NULL = 0,
    STORE_VALUE_INT,
    STORE_VALUE_REAL,
    STORE_VALUE_TEXT,
    STORE_VALUE_BOOL,
    STORE_VALUE_JSON, /* text holding JSON when the service wrote it (event details); a meter's
                         own free text otherwise, so readers must fall back to plain text */
};

/* One cell. text is borrowed from the store: valid only during the sink call that carries it. */
struct store_value {
    enum store_value_kind kind;
    int64_t integer;  /* INT; BOOL as 0 or 1 */
    double real;      /* REAL */
    const char *text; /* TEXT and JSON */
};

/* Where a query's rows go. begin is called once before any row, also for an empty result, with
 * the column names (static strings) and, when want_total is set, the number of rows that follow
 * (counted by one more query, for a progress display; a writer committing meanwhile may make it
 * a little off), else 0. row is called once per row with count values in column order. A
 * non-zero return from either stops the query, which then returns STORE_QUERY_STOPPED. */
struct store_sink {
    int (*begin)(void *ctx, const char *const *names, size_t count, size_t total);
    int (*row)(void *ctx, const struct store_value *values, size_t count);
    void *ctx;
    bool want_total;
};

#define STORE_QUERY_STOPPED 1 /* a sink callback asked to stop; nothing is wrong with the store */

/* A time range [from, to) of Unix seconds; an end is open when its has_ flag is false. */
struct store_range {
    bool has_from, has_to;
    int64_t from, to;
};

/* *found tells whether the database holds table (a table or view) called name: readers of an
 * older file, which a read-only store does not migrate, check before asking for newer tables. */
int store_query_table_exists(struct store *st, const char *name, bool *found);

/* ---- Meters -------------------------------------------------------------------------------- */

struct store_meter_filter {
    const char *esco; /* ESCO code; NULL: every ESCO */
    bool offline;     /* only meters the service has marked offline (SPEC §9) */
    bool low_balance; /* only meters under low_balance_gbp, as meters_low_balance lists them */
};

/* One row per registered meter passing the filter, by serial. Columns: serial, name, esco (code),
 * mode, balance (£), health, last_seen_at, status: `online`, `offline` (the service's offline
 * rule has fired and no message came since) or `never_seen` (no message received yet). */
int store_query_meters(struct store *st, const struct store_meter_filter *filter,
                       const struct store_sink *sink);

/* *found tells whether an ESCO with this code is registered. */
int store_query_esco_exists(struct store *st, const char *code, bool *found);

/* ---- History ------------------------------------------------------------------------------- */

/* A register's reads of one flow (after direction_reversed, as in register_import/export), oldest
 * first. Columns: timestamp, cumulative_kwh, interval_kwh (null for the first read), estimated. */
int store_query_register_reads(struct store *st, const char *register_id, enum store_flow flow,
                               const struct store_range *range, const struct store_sink *sink);

/* The meter history tables of SPEC §5 other than register reads. */
enum store_meter_series {
    STORE_SERIES_BALANCE,          /* meter_prepay_balance.balance */
    STORE_SERIES_EMERGENCY_CREDIT, /* meter_prepay_balance.emergency_credit */
    STORE_SERIES_CSQ,              /* meter_csq */
    STORE_SERIES_VOLTAGE,          /* meter_voltage */
    STORE_SERIES_VOLTAGE_L1,       /* meter_3p_voltage.voltage_l1 */
    STORE_SERIES_VOLTAGE_L2,
    STORE_SERIES_VOLTAGE_L3,
    STORE_SERIES_HEALTH, /* meter_health_history */
    STORE_SERIES_COUNT
};

/* Rows of one series of meter_id (meter_registry.id) in range, oldest first, skipping rows where
 * the series' value is null. Columns: timestamp and the value, named as the series (`balance`,
 * `csq`, `voltage_l2`, …); health adds `reason`. */
int store_query_meter_history(struct store *st, const char *meter_id,
                              enum store_meter_series series, const struct store_range *range,
                              const struct store_sink *sink);

/* ---- Intervals ----------------------------------------------------------------------------- */

/* The HH periods of every register of meter_id starting in range, by time, then element (A, B,
 * SINGLE). Columns: timestamp, element, import_kwh, export_kwh, quality, complete, revision (as
 * the register_interval_hh view; an energy is null where that flow has no period). */
int store_query_meter_hh(struct store *st, const char *meter_id, const struct store_range *range,
                         const struct store_sink *sink);

/* The circuit named by key, its id or its name (an id wins). found false when there is none. */
struct store_circuit_ref {
    bool found;
    char id[REGISTRY_ID_LEN];
    char name[REGISTRY_TEXT_MAX + 1];
};
int store_query_circuit_find(struct store *st, const char *key, struct store_circuit_ref *out);

/* A circuit's HH buckets starting in range, by time. Columns: timestamp, import_kwh, export_kwh,
 * registers, estimated, complete, revision (as circuit_interval_hh). */
int store_query_circuit_hh(struct store *st, const char *circuit_id,
                           const struct store_range *range, const struct store_sink *sink);

/* A circuit's local days (labels `YYYY-MM-DD`) or months (`YYYY-MM`) from first to last label
 * inclusive (NULL: open), in label order. Day columns: day, total_import_kwh, total_export_kwh,
 * hh_count, complete, revision. Month columns: month, total_import_kwh, total_export_kwh,
 * hh_count (the sum over its days), days_in_month, complete, revision. */
int store_query_circuit_daily(struct store *st, const char *circuit_id, const char *first,
                              const char *last, const struct store_sink *sink);
int store_query_circuit_monthly(struct store *st, const char *circuit_id, const char *first,
                                const char *last, const struct store_sink *sink);

/* ---- Events and statistics ----------------------------------------------------------------- */

/* The newest limit rows of meter_event_log (limit 0: all), of meter_id or of every meter (NULL),
 * newest first. Columns: timestamp, serial, type, source (`meter` or `service`), details (JSON). */
int store_query_events(struct store *st, const char *meter_id, size_t limit,
                       const struct store_sink *sink);

/* The service's counters (table service_stats, schema/006), by name. Columns: name, value,
 * updated_at. The caller checks that the table exists (store_query_table_exists). */
int store_query_service_stats(struct store *st, const struct store_sink *sink);

/* Figures counted from the tables themselves. */
struct store_figures {
    int64_t meters;         /* registered meters */
    int64_t shadows;        /* shadow documents not deleted */
    int64_t register_reads; /* cumulative reads held, both flows */
    int64_t events;         /* meter_event_log rows */
    bool has_commands;      /* the meter_commands table exists (schema/005 and later) */
    int64_t commands_pending, commands_confirmed, commands_failed;
};
int store_query_figures(struct store *st, struct store_figures *out);

#endif
