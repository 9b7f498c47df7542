/* store_query.c — read-only queries for shadowctl, streamed into a sink.
 *
 * Every query is a definition: its SQL, the same SQL wrapped in count(*) for progress displays,
 * and its column names and kinds. One runner binds the parameters, counts when asked, and turns
 * each SQLite row into typed values, so a new question is a definition and a short function.
 *
 * Ranges are bound as NULL for an open end (`?2 IS NULL OR t >= ?2`), so one statement serves
 * every combination. Queries over HH periods and circuit buckets read the integer base tables
 * rather than the public views: a view with GROUP BY is materialised whole when joined, while
 * the base tables answer a (register or circuit, time range) question from their primary key. */
#include "store_query.h"

#include <stdio.h>
#include <string.h>

#include "isotime.h"
#include "store_internal.h"

/* ---- The runner ---------------------------------------------------------------------------- */

/* A column declared STORE_VALUE_NULL takes its kind from the stored value (service_stats.value
 * holds integers or reals). */
#define ANY STORE_VALUE_NULL
#define QUERY_COLUMNS_MAX 8

struct query {
    const char *sql;
    const char *count_sql;
    const char *const *names;
    const enum store_value_kind *kinds;
    size_t count;
};

#define QUERY_LENGTH(a) (sizeof(a) / sizeof((a)[0]))
/* A definition from its SQL and two arrays. The column count is the names'; the sizeof of a
 * negative-length array stops the build when kinds has another length or there are more
 * columns than a row holds. */
#define QUERY(body, names_, kinds_)                                                                \
    {                                                                                              \
        body, "SELECT count(*) FROM (" body ")", names_, kinds_,                                   \
            QUERY_LENGTH(names_) +                                                                 \
                0 * sizeof(char[QUERY_LENGTH(names_) == QUERY_LENGTH(kinds_) &&                    \
                                        QUERY_LENGTH(names_) <= QUERY_COLUMNS_MAX                  \
                                    ? 1                                                            \
                                    : -1])                                                         \
    }

enum param_kind { PARAM_NULL, PARAM_INT, PARAM_TEXT };

struct param {
    enum param_kind kind;
    int64_t integer;
    const char *text; /* borrowed until the query returns */
};

static struct param param_text(const char *text)
{
    struct param p = {text ? PARAM_TEXT : PARAM_NULL, 0, text};
    return p;
}

static struct param param_int(int64_t v)
{
    struct param p = {PARAM_INT, v, NULL};
    return p;
}

static struct param param_null(void)
{
    struct param p = {PARAM_NULL, 0, NULL};
    return p;
}

static int bind_params(struct store *st, sqlite3_stmt *s, const struct param *params, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        int col = (int)i + 1, rc;
        switch (params[i].kind) {
        case PARAM_INT:
            rc = sqlite3_bind_int64(s, col, params[i].integer);
            break;
        case PARAM_TEXT:
            rc = sqlite3_bind_text(s, col, params[i].text, -1, SQLITE_STATIC);
            break;
        default:
            rc = sqlite3_bind_null(s, col);
            break;
        }
        if (rc != SQLITE_OK)
            return store_fail(st, rc, "bind");
    }
    return STORE_OK;
}

static int query_count(struct store *st, const struct query *q, const struct param *params,
                       size_t n, size_t *total)
{
    sqlite3_stmt *s = store_prepare(st, q->count_sql);
    if (s == NULL)
        return STORE_ERROR;
    int rc = bind_params(st, s, params, n);
    if (rc != STORE_OK)
        return rc;
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        sqlite3_int64 c = sqlite3_column_int64(s, 0);
        *total = c > 0 ? (size_t)c : 0;
        rc = sqlite3_step(s);
    }
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? STORE_OK : store_fail(st, rc, "count rows");
}

static void read_value(sqlite3_stmt *s, int col, enum store_value_kind declared,
                       struct store_value *v)
{
    int type = sqlite3_column_type(s, col);
    memset(v, 0, sizeof *v);
    if (type == SQLITE_NULL)
        return;
    if (declared == ANY)
        declared = type == SQLITE_INTEGER ? STORE_VALUE_INT
                   : type == SQLITE_FLOAT ? STORE_VALUE_REAL
                                          : STORE_VALUE_TEXT;
    v->kind = declared;
    switch (declared) {
    case STORE_VALUE_INT:
    case STORE_VALUE_BOOL:
        v->integer = sqlite3_column_int64(s, col);
        if (declared == STORE_VALUE_BOOL)
            v->integer = v->integer != 0;
        break;
    case STORE_VALUE_REAL:
        v->real = sqlite3_column_double(s, col);
        break;
    default:
        v->text = (const char *)sqlite3_column_text(s, col);
        if (v->text == NULL) /* out of memory converting the value */
            v->kind = STORE_VALUE_NULL;
        break;
    }
}

/* Runs q with params into sink; see store_sink. */
static int query_run(struct store *st, const struct query *q, const struct param *params, size_t n,
                     const struct store_sink *sink)
{
    struct store_value values[QUERY_COLUMNS_MAX];
    size_t total = 0;
    int rc = sink->want_total ? query_count(st, q, params, n, &total) : STORE_OK;
    if (rc != STORE_OK)
        return rc;
    sqlite3_stmt *s = store_prepare(st, q->sql);
    if (s == NULL)
        return STORE_ERROR;
    if ((rc = bind_params(st, s, params, n)) != STORE_OK)
        return rc;
    if (sink->begin(sink->ctx, q->names, q->count, total) != 0)
        return STORE_QUERY_STOPPED;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        for (size_t c = 0; c < q->count; c++)
            read_value(s, (int)c, q->kinds[c], &values[c]);
        if (sink->row(sink->ctx, values, q->count) != 0) {
            sqlite3_reset(s); /* ends the read transaction now, not at the next use */
            return STORE_QUERY_STOPPED;
        }
    }
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? STORE_OK : store_fail(st, rc, "read rows");
}

/* Binds an ISO-8601 text bound, or NULL for an open end. stamp is the caller's buffer. */
static struct param param_time_text(bool has, int64_t t, char stamp[ISOTIME_LEN])
{
    return has ? param_text(isotime_format(t, stamp)) : param_null();
}

static struct param param_time_int(bool has, int64_t t)
{
    return has ? param_int(t) : param_null();
}

/* Answers a single integer (a count, an existence test). */
static int query_integer(struct store *st, const char *sql, const char *arg, int64_t *out)
{
    sqlite3_stmt *s = store_prepare(st, sql);
    if (s == NULL)
        return STORE_ERROR;
    struct param p = param_text(arg);
    int rc = arg ? bind_params(st, s, &p, 1) : STORE_OK;
    if (rc != STORE_OK)
        return rc;
    *out = 0;
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        *out = sqlite3_column_int64(s, 0);
        rc = sqlite3_step(s);
    }
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? STORE_OK : store_fail(st, rc, "query");
}

static const char SQL_TABLE_EXISTS[] =
    "SELECT count(*) FROM sqlite_master WHERE type IN ('table', 'view') AND name = ?1";

int store_query_table_exists(struct store *st, const char *name, bool *found)
{
    int64_t n = 0;
    int rc = query_integer(st, SQL_TABLE_EXISTS, name, &n);
    *found = rc == STORE_OK && n > 0;
    return rc;
}

/* ---- Meters -------------------------------------------------------------------------------- */

static const char *const METER_NAMES[] = {"serial",  "name",   "esco",         "mode",
                                          "balance", "health", "last_seen_at", "status"};
static const enum store_value_kind METER_KINDS[] = {
    STORE_VALUE_TEXT, STORE_VALUE_TEXT, STORE_VALUE_TEXT, STORE_VALUE_TEXT,
    STORE_VALUE_REAL, STORE_VALUE_TEXT, STORE_VALUE_TEXT, STORE_VALUE_TEXT};
static const struct query Q_METERS =
    QUERY("SELECT m.serial, m.name, e.code, m.mode, v.balance, v.health, v.last_seen_at,"
          " CASE WHEN s.last_seen IS NULL THEN 'never_seen' WHEN s.online = 1 THEN 'online'"
          " ELSE 'offline' END"
          " FROM meter_registry m LEFT JOIN escos e ON e.id = m.esco"
          " LEFT JOIN meter_shadows v ON v.id = m.id LEFT JOIN meter_state s ON s.meter_id = m.id"
          " WHERE (?1 IS NULL OR e.code = ?1) AND (?2 = 0 OR s.online = 0)"
          " AND (?3 = 0 OR m.id IN (SELECT meter_id FROM meters_low_balance))"
          " ORDER BY m.serial",
          METER_NAMES, METER_KINDS);

int store_query_meters(struct store *st, const struct store_meter_filter *filter,
                       const struct store_sink *sink)
{
    struct param params[] = {param_text(filter->esco), param_int(filter->offline),
                             param_int(filter->low_balance)};
    return query_run(st, &Q_METERS, params, 3, sink);
}

static const char SQL_ESCO_EXISTS[] = "SELECT count(*) FROM escos WHERE code = ?1";

int store_query_esco_exists(struct store *st, const char *code, bool *found)
{
    int64_t n = 0;
    int rc = query_integer(st, SQL_ESCO_EXISTS, code, &n);
    *found = rc == STORE_OK && n > 0;
    return rc;
}

/* ---- History ------------------------------------------------------------------------------- */

static const char *const READ_NAMES[] = {"timestamp", "cumulative_kwh", "interval_kwh",
                                         "estimated"};
static const enum store_value_kind READ_KINDS[] = {STORE_VALUE_TEXT, STORE_VALUE_REAL,
                                                   STORE_VALUE_REAL, STORE_VALUE_BOOL};
static const struct query Q_READS = QUERY(
    "SELECT strftime('%Y-%m-%dT%H:%M:%SZ', ts, 'unixepoch'), wh / 1000.0, interval_wh / 1000.0,"
    " estimated FROM register_reads WHERE register_id = ?1 AND flow = ?2"
    " AND (?3 IS NULL OR ts >= ?3) AND (?4 IS NULL OR ts < ?4) ORDER BY ts",
    READ_NAMES, READ_KINDS);

int store_query_register_reads(struct store *st, const char *register_id, enum store_flow flow,
                               const struct store_range *range, const struct store_sink *sink)
{
    struct param params[] = {
        param_text(register_id), param_text(flow == STORE_FLOW_IMPORT ? "import" : "export"),
        param_time_int(range->has_from, range->from), param_time_int(range->has_to, range->to)};
    return query_run(st, &Q_READS, params, 4, sink);
}

#define HISTORY_SQL(columns, table, value)                                                         \
    "SELECT timestamp, " columns " FROM " table " WHERE meter_id = ?1 AND " value " IS NOT NULL"   \
    " AND (?2 IS NULL OR timestamp >= ?2) AND (?3 IS NULL OR timestamp < ?3) ORDER BY timestamp"

static const enum store_value_kind HISTORY_REAL[] = {STORE_VALUE_TEXT, STORE_VALUE_REAL};
static const enum store_value_kind HISTORY_INT[] = {STORE_VALUE_TEXT, STORE_VALUE_INT};
static const enum store_value_kind HISTORY_HEALTH[] = {STORE_VALUE_TEXT, STORE_VALUE_TEXT,
                                                       STORE_VALUE_TEXT};
static const char *const BALANCE_NAMES[] = {"timestamp", "balance"};
static const char *const CREDIT_NAMES[] = {"timestamp", "emergency_credit"};
static const char *const CSQ_NAMES[] = {"timestamp", "csq"};
static const char *const VOLTAGE_NAMES[] = {"timestamp", "voltage"};
static const char *const L1_NAMES[] = {"timestamp", "voltage_l1"};
static const char *const L2_NAMES[] = {"timestamp", "voltage_l2"};
static const char *const L3_NAMES[] = {"timestamp", "voltage_l3"};
static const char *const HEALTH_NAMES[] = {"timestamp", "health", "reason"};

static const struct query Q_HISTORY[STORE_SERIES_COUNT] = {
    [STORE_SERIES_BALANCE] = QUERY(HISTORY_SQL("balance", "meter_prepay_balance", "balance"),
                                   BALANCE_NAMES, HISTORY_REAL),
    [STORE_SERIES_EMERGENCY_CREDIT] =
        QUERY(HISTORY_SQL("emergency_credit", "meter_prepay_balance", "emergency_credit"),
              CREDIT_NAMES, HISTORY_REAL),
    [STORE_SERIES_CSQ] = QUERY(HISTORY_SQL("csq", "meter_csq", "csq"), CSQ_NAMES, HISTORY_INT),
    [STORE_SERIES_VOLTAGE] =
        QUERY(HISTORY_SQL("voltage", "meter_voltage", "voltage"), VOLTAGE_NAMES, HISTORY_REAL),
    [STORE_SERIES_VOLTAGE_L1] =
        QUERY(HISTORY_SQL("voltage_l1", "meter_3p_voltage", "voltage_l1"), L1_NAMES, HISTORY_REAL),
    [STORE_SERIES_VOLTAGE_L2] =
        QUERY(HISTORY_SQL("voltage_l2", "meter_3p_voltage", "voltage_l2"), L2_NAMES, HISTORY_REAL),
    [STORE_SERIES_VOLTAGE_L3] =
        QUERY(HISTORY_SQL("voltage_l3", "meter_3p_voltage", "voltage_l3"), L3_NAMES, HISTORY_REAL),
    [STORE_SERIES_HEALTH] = QUERY(HISTORY_SQL("health, reason", "meter_health_history", "health"),
                                  HEALTH_NAMES, HISTORY_HEALTH),
};

int store_query_meter_history(struct store *st, const char *meter_id,
                              enum store_meter_series series, const struct store_range *range,
                              const struct store_sink *sink)
{
    char from[ISOTIME_LEN], to[ISOTIME_LEN];
    if ((unsigned)series >= STORE_SERIES_COUNT) {
        snprintf(st->errmsg, sizeof st->errmsg, "unknown history series %d", (int)series);
        return STORE_ERROR;
    }
    struct param params[] = {param_text(meter_id),
                             param_time_text(range->has_from, range->from, from),
                             param_time_text(range->has_to, range->to, to)};
    return query_run(st, &Q_HISTORY[series], params, 3, sink);
}

/* ---- Intervals ----------------------------------------------------------------------------- */

static const char *const METER_HH_NAMES[] = {"timestamp", "element",  "import_kwh", "export_kwh",
                                             "quality",   "complete", "revision"};
static const enum store_value_kind METER_HH_KINDS[] = {
    STORE_VALUE_TEXT, STORE_VALUE_TEXT, STORE_VALUE_REAL, STORE_VALUE_REAL,
    STORE_VALUE_TEXT, STORE_VALUE_BOOL, STORE_VALUE_INT};
/* Quality over both flows: the worst, ranked as the register_interval_hh view ranks it. */
static const struct query Q_METER_HH = QUERY(
    "SELECT strftime('%Y-%m-%dT%H:%M:%SZ', p.start, 'unixepoch'), r.element,"
    " MAX(CASE p.flow WHEN 'import' THEN p.mwh END) / 1000000.0,"
    " MAX(CASE p.flow WHEN 'export' THEN p.mwh END) / 1000000.0,"
    " CASE MAX(CASE p.quality WHEN 'reset' THEN 5 WHEN 'rollover' THEN 4 WHEN 'negative' THEN 3"
    " WHEN 'estimated' THEN 2 WHEN 'actual' THEN 1 ELSE 0 END)"
    " WHEN 5 THEN 'reset' WHEN 4 THEN 'rollover' WHEN 3 THEN 'negative'"
    " WHEN 2 THEN 'estimated' WHEN 1 THEN 'actual' ELSE 'missing' END,"
    " MIN(p.complete), MAX(p.revision)"
    " FROM meter_registers r JOIN register_periods p ON p.register_id = r.register_id"
    " WHERE r.meter_id = ?1 AND (?2 IS NULL OR p.start >= ?2) AND (?3 IS NULL OR p.start < ?3)"
    " GROUP BY p.start, r.register_id"
    " ORDER BY p.start, CASE r.element WHEN 'A' THEN 0 WHEN 'B' THEN 1 ELSE 2 END",
    METER_HH_NAMES, METER_HH_KINDS);

int store_query_meter_hh(struct store *st, const char *meter_id, const struct store_range *range,
                         const struct store_sink *sink)
{
    struct param params[] = {param_text(meter_id), param_time_int(range->has_from, range->from),
                             param_time_int(range->has_to, range->to)};
    return query_run(st, &Q_METER_HH, params, 3, sink);
}

static const char SQL_CIRCUIT_FIND[] =
    "SELECT id, name FROM circuits WHERE id = ?1 OR name = ?1 ORDER BY id = ?1 DESC LIMIT 1";

int store_query_circuit_find(struct store *st, const char *key, struct store_circuit_ref *out)
{
    memset(out, 0, sizeof *out);
    sqlite3_stmt *s = store_prepare(st, SQL_CIRCUIT_FIND);
    if (s == NULL)
        return STORE_ERROR;
    struct param p = param_text(key);
    int rc = bind_params(st, s, &p, 1);
    if (rc != STORE_OK)
        return rc;
    rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        const char *id = (const char *)sqlite3_column_text(s, 0);
        const char *name = (const char *)sqlite3_column_text(s, 1);
        snprintf(out->id, sizeof out->id, "%s", id ? id : "");
        snprintf(out->name, sizeof out->name, "%s", name ? name : "");
        out->found = true;
        rc = sqlite3_step(s);
    }
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? STORE_OK : store_fail(st, rc, "find circuit");
}

static const char *const CIRCUIT_HH_NAMES[] = {"timestamp", "import_kwh", "export_kwh", "registers",
                                               "estimated", "complete",   "revision"};
static const enum store_value_kind CIRCUIT_HH_KINDS[] = {
    STORE_VALUE_TEXT, STORE_VALUE_REAL, STORE_VALUE_REAL, STORE_VALUE_INT,
    STORE_VALUE_INT,  STORE_VALUE_BOOL, STORE_VALUE_INT};
static const struct query Q_CIRCUIT_HH =
    QUERY("SELECT strftime('%Y-%m-%dT%H:%M:%SZ', start, 'unixepoch'), import_mwh / 1000000.0,"
          " export_mwh / 1000000.0, registers, estimated, complete, revision FROM circuit_hh"
          " WHERE circuit_id = ?1 AND (?2 IS NULL OR start >= ?2) AND (?3 IS NULL OR start < ?3)"
          " ORDER BY start",
          CIRCUIT_HH_NAMES, CIRCUIT_HH_KINDS);

int store_query_circuit_hh(struct store *st, const char *circuit_id,
                           const struct store_range *range, const struct store_sink *sink)
{
    struct param params[] = {param_text(circuit_id), param_time_int(range->has_from, range->from),
                             param_time_int(range->has_to, range->to)};
    return query_run(st, &Q_CIRCUIT_HH, params, 3, sink);
}

static const char *const DAILY_NAMES[] = {"day",      "total_import_kwh", "total_export_kwh",
                                          "hh_count", "complete",         "revision"};
static const enum store_value_kind DAILY_KINDS[] = {STORE_VALUE_TEXT, STORE_VALUE_REAL,
                                                    STORE_VALUE_REAL, STORE_VALUE_INT,
                                                    STORE_VALUE_BOOL, STORE_VALUE_INT};
static const struct query Q_CIRCUIT_DAILY =
    QUERY("SELECT day, import_mwh / 1000000.0, export_mwh / 1000000.0, hh_count, complete, revision"
          " FROM circuit_daily WHERE circuit_id = ?1 AND (?2 IS NULL OR day >= ?2)"
          " AND (?3 IS NULL OR day <= ?3) ORDER BY day",
          DAILY_NAMES, DAILY_KINDS);

static const char *const MONTHLY_NAMES[] = {"month",    "total_import_kwh", "total_export_kwh",
                                            "hh_count", "days_in_month",    "complete",
                                            "revision"};
static const enum store_value_kind MONTHLY_KINDS[] = {
    STORE_VALUE_TEXT, STORE_VALUE_REAL, STORE_VALUE_REAL, STORE_VALUE_INT,
    STORE_VALUE_INT,  STORE_VALUE_BOOL, STORE_VALUE_INT};
/* A month's hh_count is the sum over its days, as the monthly publication carries it. */
static const struct query Q_CIRCUIT_MONTHLY = QUERY(
    "SELECT m.month, m.import_mwh / 1000000.0, m.export_mwh / 1000000.0,"
    " (SELECT coalesce(sum(d.hh_count), 0) FROM circuit_daily d WHERE d.circuit_id = m.circuit_id"
    " AND d.day >= m.month || '-01' AND d.day <= m.month || '-31'),"
    " m.days_in_month, m.complete, m.revision FROM circuit_monthly m"
    " WHERE m.circuit_id = ?1 AND (?2 IS NULL OR m.month >= ?2) AND (?3 IS NULL OR m.month <= ?3)"
    " ORDER BY m.month",
    MONTHLY_NAMES, MONTHLY_KINDS);

int store_query_circuit_daily(struct store *st, const char *circuit_id, const char *first,
                              const char *last, const struct store_sink *sink)
{
    struct param params[] = {param_text(circuit_id), param_text(first), param_text(last)};
    return query_run(st, &Q_CIRCUIT_DAILY, params, 3, sink);
}

int store_query_circuit_monthly(struct store *st, const char *circuit_id, const char *first,
                                const char *last, const struct store_sink *sink)
{
    struct param params[] = {param_text(circuit_id), param_text(first), param_text(last)};
    return query_run(st, &Q_CIRCUIT_MONTHLY, params, 3, sink);
}

/* ---- Events and statistics ----------------------------------------------------------------- */

static const char *const EVENT_NAMES[] = {"timestamp", "serial", "type", "source", "details"};
static const enum store_value_kind EVENT_KINDS[] = {
    STORE_VALUE_TEXT, STORE_VALUE_TEXT, STORE_VALUE_TEXT, STORE_VALUE_TEXT, STORE_VALUE_JSON};
/* LIMIT -1 is SQLite's "no limit". The rowid orders events of the same second newest first. */
static const struct query Q_EVENTS =
    QUERY("SELECT e.timestamp, m.serial, e.event_type, e.source, e.details FROM meter_event_log e"
          " LEFT JOIN meter_registry m ON m.id = e.meter_id WHERE (?1 IS NULL OR e.meter_id = ?1)"
          " ORDER BY e.timestamp DESC, e.rowid DESC LIMIT ?2",
          EVENT_NAMES, EVENT_KINDS);

int store_query_events(struct store *st, const char *meter_id, size_t limit,
                       const struct store_sink *sink)
{
    int64_t n = limit == 0 || limit > (size_t)INT64_MAX ? -1 : (int64_t)limit;
    struct param params[] = {param_text(meter_id), param_int(n)};
    return query_run(st, &Q_EVENTS, params, 2, sink);
}

static const char *const STATS_NAMES[] = {"name", "value", "updated_at"};
static const enum store_value_kind STATS_KINDS[] = {STORE_VALUE_TEXT, ANY, STORE_VALUE_TEXT};
static const struct query Q_STATS = QUERY(
    "SELECT name, value, updated_at FROM service_stats ORDER BY name", STATS_NAMES, STATS_KINDS);

int store_query_service_stats(struct store *st, const struct store_sink *sink)
{
    return query_run(st, &Q_STATS, NULL, 0, sink);
}

static const char SQL_COUNT_METERS[] = "SELECT count(*) FROM meter_registry";
static const char SQL_COUNT_SHADOWS[] = "SELECT count(*) FROM shadow_documents WHERE deleted = 0";
static const char SQL_COUNT_READS[] = "SELECT count(*) FROM register_reads";
static const char SQL_COUNT_EVENTS[] = "SELECT count(*) FROM meter_event_log";
static const char SQL_COUNT_COMMANDS[] = "SELECT count(*) FROM meter_commands WHERE status = ?1";

int store_query_figures(struct store *st, struct store_figures *out)
{
    memset(out, 0, sizeof *out);
    int rc = query_integer(st, SQL_COUNT_METERS, NULL, &out->meters);
    if (rc == STORE_OK)
        rc = query_integer(st, SQL_COUNT_SHADOWS, NULL, &out->shadows);
    if (rc == STORE_OK)
        rc = query_integer(st, SQL_COUNT_READS, NULL, &out->register_reads);
    if (rc == STORE_OK)
        rc = query_integer(st, SQL_COUNT_EVENTS, NULL, &out->events);
    if (rc == STORE_OK)
        rc = store_query_table_exists(st, "meter_commands", &out->has_commands);
    /* The statement naming meter_commands is prepared only once the table is known to exist. */
    if (rc == STORE_OK && out->has_commands)
        rc = query_integer(st, SQL_COUNT_COMMANDS, "pending", &out->commands_pending);
    if (rc == STORE_OK && out->has_commands)
        rc = query_integer(st, SQL_COUNT_COMMANDS, "confirmed", &out->commands_confirmed);
    if (rc == STORE_OK && out->has_commands)
        rc = query_integer(st, SQL_COUNT_COMMANDS, "failed", &out->commands_failed);
    return rc;
}
