/* check_fields.c — known meter fields and the tariff object (SPEC §5, §8): every field's valid
 * and invalid values with the exact error, document order, nulls, exact unit conversion. */
#include <check.h>
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fields.h"

#define NOW INT64_C(1795854600)        /* 2026-11-28T08:30:00Z */
#define ACTIVATION INT64_C(1796083200) /* 2026-12-01T00:00:00 as naive seconds */

/* JSON written with single quotes, for readable test data. Caller frees. */
static cJSON *json(const char *text)
{
    char *copy = strdup(text);
    ck_assert_ptr_nonnull(copy);
    for (char *p = copy; *p; p++)
        if (*p == '\'')
            *p = '"';
    cJSON *root = cJSON_Parse(copy);
    free(copy);
    ck_assert_msg(root != NULL, "test JSON does not parse: %s", text);
    return root;
}

/* Parses a report patch that must be rejected; checks code 400 and the exact message. */
static void expect_report_error(const char *text, const char *message)
{
    cJSON *patch = json(text);
    struct fields_reported r;
    struct api_error err = {0};
    ck_assert_int_eq(fields_parse_reported(patch, &r, &err), -1);
    ck_assert_int_eq(err.code, 400);
    ck_assert_str_eq(err.message, message);
    cJSON_Delete(patch);
}

/* Parses a report patch that must be accepted; returns it, since *r borrows from it. */
static cJSON *report_ok(const char *text, struct fields_reported *r)
{
    cJSON *patch = json(text);
    struct api_error err = {0};
    ck_assert_msg(fields_parse_reported(patch, r, &err) == 0, "%s: %s", text, err.message);
    return patch;
}

static void expect_report_ok(const char *text, struct fields_reported *r)
{
    cJSON_Delete(report_ok(text, r));
}

/* A rejected string of n bytes for the named field. */
static void expect_long_string_error(const char *field, size_t n, const char *message)
{
    char *s = malloc(n + 1);
    ck_assert_ptr_nonnull(s);
    memset(s, 'x', n);
    s[n] = '\0';
    cJSON *patch = cJSON_CreateObject();
    cJSON_AddStringToObject(patch, field, s);
    struct fields_reported r;
    struct api_error err = {0};
    ck_assert_int_eq(fields_parse_reported(patch, &r, &err), -1);
    ck_assert_str_eq(err.message, message);
    cJSON_SetValuestring(cJSON_GetObjectItemCaseSensitive(patch, field), s + 1); /* n − 1 bytes */
    ck_assert_int_eq(fields_parse_reported(patch, &r, &err), 0);
    cJSON_Delete(patch);
    free(s);
}

/* --- Units --- */

START_TEST(kwh_to_wh_exact)
{
    int64_t wh = -1;
    ck_assert_int_eq(fields_kwh_to_wh(0.1, &wh), 0);
    ck_assert_int_eq(wh, 100);
    ck_assert_int_eq(fields_kwh_to_wh(1234567.891, &wh), 0);
    ck_assert_int_eq(wh, 1234567891);
    ck_assert_int_eq(fields_kwh_to_wh(0.001, &wh), 0);
    ck_assert_int_eq(wh, 1);
    ck_assert_int_eq(fields_kwh_to_wh(0.0, &wh), 0);
    ck_assert_int_eq(wh, 0);
    ck_assert_int_eq(fields_kwh_to_wh(1e9, &wh), 0);
    ck_assert_int_eq(wh, INT64_C(1000000000000));
    ck_assert_int_eq(fields_kwh_to_wh(999999999.999, &wh), 0);
    ck_assert_int_eq(wh, INT64_C(999999999999));
}
END_TEST

START_TEST(kwh_more_decimals_round_to_nearest_wh)
{
    int64_t wh = -1;
    ck_assert_int_eq(fields_kwh_to_wh(0.0004, &wh), 0);
    ck_assert_int_eq(wh, 0);
    ck_assert_int_eq(fields_kwh_to_wh(0.0006, &wh), 0);
    ck_assert_int_eq(wh, 1);
    ck_assert_int_eq(fields_kwh_to_wh(12.3456, &wh), 0);
    ck_assert_int_eq(wh, 12346);
}
END_TEST

START_TEST(units_refuse_non_finite_and_huge)
{
    int64_t out = 42;
    ck_assert_int_eq(fields_kwh_to_wh(NAN, &out), -1);
    ck_assert_int_eq(fields_kwh_to_wh(INFINITY, &out), -1);
    ck_assert_int_eq(fields_gbp_to_money(-INFINITY, &out), -1);
    ck_assert_int_eq(fields_kwh_to_wh(1e13, &out), -1); /* 1e16 Wh > 2^53 */
    ck_assert_int_eq(out, 42);
    ck_assert(!fields_decimals_fit(NAN, 100000));
    ck_assert(!fields_decimals_fit(0.5, 0));
}
END_TEST

START_TEST(gbp_to_money_exact)
{
    int64_t m = -1;
    ck_assert_int_eq(fields_gbp_to_money(0.00001, &m), 0);
    ck_assert_int_eq(m, 1);
    ck_assert_int_eq(fields_gbp_to_money(0.12345, &m), 0);
    ck_assert_int_eq(m, 12345);
    ck_assert_int_eq(fields_gbp_to_money(-10000, &m), 0);
    ck_assert_int_eq(m, -1000000000);
    ck_assert_int_eq(fields_gbp_to_money(9999.99999, &m), 0);
    ck_assert_int_eq(m, 999999999);
    ck_assert_int_eq(fields_gbp_to_money(-0.00001, &m), 0);
    ck_assert_int_eq(m, -1);
    ck_assert_int_eq(fields_gbp_to_money(1.000004, &m), 0); /* balances: nearest 1e-5 £ */
    ck_assert_int_eq(m, 100000);
    ck_assert_int_eq(fields_gbp_to_money(1.000006, &m), 0);
    ck_assert_int_eq(m, 100001);
}
END_TEST

/* Every kWh value with 3 decimals from 0 to 2000 kWh, as strtod reads it, converts exactly.
 * (Long loops test with plain ifs: Check records every ck_assert it passes.) */
START_TEST(kwh_exhaustive_three_decimals)
{
    char text[40];
    for (int64_t i = 0; i <= 2000000; i++) {
        snprintf(text, sizeof text, "%lld.%03lld", (long long)(i / 1000), (long long)(i % 1000));
        int64_t wh = -1;
        if (fields_kwh_to_wh(strtod(text, NULL), &wh) != 0 || wh != i)
            ck_abort_msg("%s kWh gave %lld Wh", text, (long long)wh);
    }
}
END_TEST

/* Sampled over the whole range up to 1e9 kWh, through cJSON as a report would be. */
START_TEST(kwh_sampled_full_range_through_cjson)
{
    uint64_t seed = 88172645463325252u;
    char text[48];
    for (int k = 0; k < 200000; k++) {
        seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
        int64_t i = (int64_t)(seed % UINT64_C(1000000000001));
        snprintf(text, sizeof text, "%lld.%03lld", (long long)(i / 1000), (long long)(i % 1000));
        cJSON *n = cJSON_Parse(text);
        int64_t wh = -1;
        bool ok = fields_kwh_to_wh(n->valuedouble, &wh) == 0 && wh == i &&
                  fields_decimals_fit(n->valuedouble, FIELDS_WH_PER_KWH);
        cJSON_Delete(n);
        if (!ok)
            ck_abort_msg("%s kWh gave %lld Wh", text, (long long)wh);
    }
}
END_TEST

/* Every £ amount with 5 decimals in ±£20 exhaustively, then sampled over ±£10000. */
START_TEST(gbp_five_decimals_exact)
{
    char text[48];
    uint64_t seed = 2463534242u;
    for (int64_t k = -2000000; k <= 2200000; k++) {
        int64_t i = k;
        if (k > 2000000) {
            seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
            i = (int64_t)(seed % UINT64_C(2000000001)) - 1000000000;
        }
        int64_t a = i < 0 ? -i : i;
        snprintf(text, sizeof text, "%s%lld.%05lld", i < 0 ? "-" : "", (long long)(a / 100000),
                 (long long)(a % 100000));
        double x = strtod(text, NULL);
        int64_t m = -1;
        if (fields_gbp_to_money(x, &m) != 0 || m != i ||
            !fields_decimals_fit(x, FIELDS_MONEY_PER_GBP))
            ck_abort_msg("%s £ gave %lld", text, (long long)m);
    }
}
END_TEST

/* A sixth decimal that is not zero is always seen, even next to £10000. */
START_TEST(six_decimals_never_fit)
{
    char text[48];
    uint64_t seed = 123456789u;
    for (int k = 0; k < 300000; k++) {
        seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
        int64_t i = (int64_t)(seed % UINT64_C(10000000000));
        if (i % 10 == 0)
            i++;
        snprintf(text, sizeof text, "%lld.%06lld", (long long)(i / 1000000),
                 (long long)(i % 1000000));
        if (fields_decimals_fit(strtod(text, NULL), FIELDS_MONEY_PER_GBP))
            ck_abort_msg("%s taken as 5 decimals", text);
    }
    ck_assert(!fields_decimals_fit(9999.999991, FIELDS_MONEY_PER_GBP));
    ck_assert(!fields_decimals_fit(0.123456, FIELDS_MONEY_PER_GBP));
    ck_assert(fields_decimals_fit(0.12345, FIELDS_MONEY_PER_GBP));
    ck_assert(fields_decimals_fit(1.2345e-1, FIELDS_MONEY_PER_GBP));
    ck_assert(!fields_decimals_fit(0.0001, FIELDS_WH_PER_KWH));
}
END_TEST

START_TEST(million_tenth_kwh_steps_stay_exact)
{
    int64_t total = 0, step = 0;
    double drifting = 0.0;
    ck_assert_int_eq(fields_kwh_to_wh(0.1, &step), 0);
    for (int i = 0; i < 1000000; i++) {
        total += step;
        drifting += 0.1;
    }
    ck_assert_int_eq(total, 100000000);
    char shown[32];
    snprintf(shown, sizeof shown, "%lld.%03lld", (long long)(total / 1000),
             (long long)(total % 1000));
    ck_assert_str_eq(shown, "100000.000");
    ck_assert(drifting != 100000.0); /* why the store keeps integers */
}
END_TEST

/* --- Report fields: valid values --- */

START_TEST(report_every_field_valid)
{
    struct fields_reported r;
    cJSON *patch =
        json("{'import_a': 1234567.891, 'import_b': 0, 'export_a': 0.1, 'export_b': 1000000000,"
             " 'balance': -12.5, 'emergency_credit': 10000, 'csq': 31, 'voltage': 230.5,"
             " 'voltage_l1': 0, 'voltage_l2': 500, 'voltage_l3': 241.25,"
             " 'clock_time_diff_seconds': -61, 'health': 'unhealthy', 'health_details': 'relay',"
             " 'tariffs_active': {'standing_charge': 0.5, 'unit_rate_element_a': 0.3,"
             "   'unit_rate_element_b': 0.2, 'prepayment_ecredit_availability': 5,"
             "   'prepayment_debt_recovery_rate': 0.5, 'prepayment_emergency_credit': 10},"
             " 'tariffs_future': {'standing_charge': 0.5, 'unit_rate_element_a': 0.12345,"
             "   'unit_rate_element_b': 0.2, 'prepayment_ecredit_availability': 5,"
             "   'prepayment_debt_recovery_rate': 0.5, 'prepayment_emergency_credit': 10,"
             "   'activation_datetime': '2026-12-01T00:00:00'},"
             " 'events': [{'ts': '2026-11-28T08:00:00Z', 'code': 'TAMPER', 'text': 'cover open'},"
             "            {'ts': 1795852800, 'code': 'PF'}],"
             " 'hardware': 'EMP1AX', 'firmware_version': '1.2.3', 'other': {'x': 1}}");
    struct api_error err = {0};
    ck_assert_int_eq(fields_parse_reported(patch, &r, &err), 0);
    ck_assert_uint_eq(r.present, (1u << FIELDS_COUNT) - 1);
    ck_assert_uint_eq(r.nulled, 0);
    ck_assert_int_eq(r.register_wh[FIELDS_IMPORT_A], 1234567891);
    ck_assert_int_eq(r.register_wh[FIELDS_IMPORT_B], 0);
    ck_assert_int_eq(r.register_wh[FIELDS_EXPORT_A], 100);
    ck_assert_int_eq(r.register_wh[FIELDS_EXPORT_B], INT64_C(1000000000000));
    ck_assert_int_eq(r.balance, -1250000);
    ck_assert_int_eq(r.emergency_credit, 1000000000);
    ck_assert_int_eq(r.csq, 31);
    ck_assert_double_eq(r.voltage, 230.5);
    ck_assert_double_eq(r.voltage_l[0], 0);
    ck_assert_double_eq(r.voltage_l[1], 500);
    ck_assert_double_eq(r.voltage_l[2], 241.25);
    ck_assert_int_eq(r.clock_time_diff_seconds, -61);
    ck_assert(!r.healthy);
    ck_assert_str_eq(r.health_details, "relay");
    ck_assert_int_eq(r.tariffs_active.amount[TARIFF_UNIT_RATE_ELEMENT_A], 30000);
    ck_assert(!r.tariffs_active.has_activation);
    ck_assert_int_eq(r.tariffs_future.amount[TARIFF_UNIT_RATE_ELEMENT_A], 12345);
    ck_assert(r.tariffs_future.has_activation);
    ck_assert_int_eq(r.tariffs_future.activation, ACTIVATION);
    ck_assert_uint_eq(r.event_count, 2);
    ck_assert_ptr_eq(r.events, cJSON_GetObjectItemCaseSensitive(patch, "events"));
    ck_assert_str_eq(r.hardware, "EMP1AX");
    ck_assert_str_eq(r.firmware_version, "1.2.3");

    struct fields_event ev;
    ck_assert_int_eq(fields_event_parse(cJSON_GetArrayItem(r.events, 0), 0, &ev, &err), 0);
    ck_assert_int_eq(ev.ts, 1795852800);
    ck_assert_str_eq(ev.code, "TAMPER");
    ck_assert_str_eq(ev.text, "cover open");
    ck_assert_int_eq(fields_event_parse(cJSON_GetArrayItem(r.events, 1), 1, &ev, &err), 0);
    ck_assert_int_eq(ev.ts, 1795852800);
    ck_assert_ptr_null(ev.text);
    cJSON_Delete(patch);
}
END_TEST

START_TEST(report_boundaries_valid)
{
    struct fields_reported r;
    cJSON *patch = report_ok("{'balance': -10000, 'emergency_credit': 0.00001, 'csq': 0,"
                             " 'clock_time_diff_seconds': 1000000000, 'health': 'healthy',"
                             " 'health_details': '', 'csq': 12.0}",
                             &r);
    ck_assert_int_eq(r.balance, -1000000000);
    ck_assert_int_eq(r.emergency_credit, 1);
    ck_assert_int_eq(r.csq, 12);
    ck_assert_int_eq(r.clock_time_diff_seconds, 1000000000);
    ck_assert(r.healthy);
    ck_assert_str_eq(r.health_details, "");
    cJSON_Delete(patch);
    expect_report_ok("{'clock_time_diff_seconds': -1000000000, 'import_a': -0}", &r);
    ck_assert_int_eq(r.clock_time_diff_seconds, -1000000000);
    ck_assert_int_eq(r.register_wh[FIELDS_IMPORT_A], 0);
}
END_TEST

START_TEST(report_empty_null_and_unknown)
{
    struct fields_reported r;
    struct api_error err = {0};
    ck_assert_int_eq(fields_parse_reported(NULL, &r, &err), 0);
    ck_assert_uint_eq(r.present | r.nulled, 0);
    cJSON *null = cJSON_CreateNull();
    ck_assert_int_eq(fields_parse_reported(null, &r, &err), 0);
    ck_assert_uint_eq(r.present | r.nulled, 0);
    cJSON_Delete(null);
    /* Unknown fields (names are case-sensitive) are not validated. */
    expect_report_ok("{'Import_A': 'x', 'meter': {'import_a': -5}, 'ts': 'yesterday'}", &r);
    ck_assert_uint_eq(r.present | r.nulled, 0);
    expect_report_error("[1]", "State node must be an object");
}
END_TEST

START_TEST(report_null_deletes_and_projects_nothing)
{
    struct fields_reported r;
    expect_report_ok("{'csq': null, 'import_a': null, 'tariffs_future': null, 'events': null,"
                     " 'balance': 3}",
                     &r);
    ck_assert_uint_eq(r.nulled, (1u << FIELDS_CSQ) | (1u << FIELDS_IMPORT_A) |
                                    (1u << FIELDS_TARIFFS_FUTURE) | (1u << FIELDS_EVENTS));
    ck_assert_uint_eq(r.present, 1u << FIELDS_BALANCE);
    ck_assert(!fields_has(&r, FIELDS_CSQ));
    ck_assert(fields_has(&r, FIELDS_BALANCE));
    ck_assert(!fields_has(&r, FIELDS_COUNT));
}
END_TEST

START_TEST(report_repeated_key_last_wins)
{
    struct fields_reported r;
    expect_report_ok("{'csq': 5, 'csq': null}", &r);
    ck_assert(!fields_has(&r, FIELDS_CSQ));
    ck_assert_uint_eq(r.nulled, 1u << FIELDS_CSQ);
    expect_report_ok("{'csq': null, 'csq': 7}", &r);
    ck_assert(fields_has(&r, FIELDS_CSQ));
    ck_assert_uint_eq(r.nulled, 0);
    ck_assert_int_eq(r.csq, 7);
    expect_report_error("{'csq': 7, 'csq': 70}",
                        "Invalid field: csq (must be an integer from 0 to 31, or null)");
}
END_TEST

/* --- Report fields: every invalid value, exact message --- */

static const struct bad {
    const char *json;
    const char *message;
} BAD[] = {
    {"{'import_a': -1}", "Invalid field: import_a (must be a number >= 0)"},
    {"{'import_a': -0.001}", "Invalid field: import_a (must be a number >= 0)"},
    {"{'import_b': '12'}", "Invalid field: import_b (must be a number >= 0)"},
    {"{'export_a': true}", "Invalid field: export_a (must be a number >= 0)"},
    {"{'export_b': {}}", "Invalid field: export_b (must be a number >= 0)"},
    {"{'export_b': 1e999}", "Invalid field: export_b (must be at most 1000000000 kWh)"},
    {"{'import_a': -1e999}", "Invalid field: import_a (must be a number >= 0)"},
    {"{'import_a': 1000000000.001}", "Invalid field: import_a (must be at most 1000000000 kWh)"},
    {"{'balance': -10000.00001}", "Invalid field: balance (must be a number from -10000 to 10000)"},
    {"{'balance': 10000.001}", "Invalid field: balance (must be a number from -10000 to 10000)"},
    {"{'balance': '5.00'}", "Invalid field: balance (must be a number from -10000 to 10000)"},
    {"{'emergency_credit': [5]}",
     "Invalid field: emergency_credit (must be a number from -10000 to 10000)"},
    {"{'csq': 32}", "Invalid field: csq (must be an integer from 0 to 31, or null)"},
    {"{'csq': -1}", "Invalid field: csq (must be an integer from 0 to 31, or null)"},
    {"{'csq': 12.5}", "Invalid field: csq (must be an integer from 0 to 31, or null)"},
    {"{'csq': '12'}", "Invalid field: csq (must be an integer from 0 to 31, or null)"},
    {"{'voltage': 500.1}", "Invalid field: voltage (must be a number from 0 to 500)"},
    {"{'voltage': false}", "Invalid field: voltage (must be a number from 0 to 500)"},
    {"{'voltage_l1': -0.1}", "Invalid field: voltage_l1 (must be a number from 0 to 500)"},
    {"{'voltage_l2': '230'}", "Invalid field: voltage_l2 (must be a number from 0 to 500)"},
    {"{'voltage_l3': 1e999}", "Invalid field: voltage_l3 (must be a number from 0 to 500)"},
    {"{'clock_time_diff_seconds': 1.5}",
     "Invalid field: clock_time_diff_seconds (must be an integer from -1000000000 to 1000000000)"},
    {"{'clock_time_diff_seconds': -1000000001}",
     "Invalid field: clock_time_diff_seconds (must be an integer from -1000000000 to 1000000000)"},
    {"{'clock_time_diff_seconds': '3'}",
     "Invalid field: clock_time_diff_seconds (must be an integer from -1000000000 to 1000000000)"},
    {"{'health': 'ok'}", "Invalid field: health (must be healthy or unhealthy)"},
    {"{'health': 'Healthy'}", "Invalid field: health (must be healthy or unhealthy)"},
    {"{'health': true}", "Invalid field: health (must be healthy or unhealthy)"},
    {"{'health_details': 5}",
     "Invalid field: health_details (must be a string of at most 1024 bytes)"},
    {"{'hardware': ['EMP1AX']}", "Invalid field: hardware (must be a string of at most 128 bytes)"},
    {"{'firmware_version': 1.2}",
     "Invalid field: firmware_version (must be a string of at most 128 bytes)"},
    {"{'tariffs_active': 'flat'}", "Invalid field: tariffs_active (must be a tariff object)"},
    {"{'tariffs_future': []}", "Invalid field: tariffs_future (must be a tariff object)"},
    {"{'tariffs_future': {'standing_charge': 0.5}}",
     "Invalid field: tariffs_future.unit_rate_element_a (missing)"},
    {"{'events': {}}", "Invalid field: events (must be an array of at most 1000 events)"},
    {"{'events': 'boot'}", "Invalid field: events (must be an array of at most 1000 events)"},
    {"{'events': [1]}", "Invalid field: events[0] (must be an object)"},
    {"{'events': [{'ts': 1795852800, 'code': 'A'}, []]}",
     "Invalid field: events[1] (must be an object)"},
    {"{'events': [{'ts': 1795852800, 'code': 'A'}, {'ts': 1795852800, 'code': 'B'},"
     " {'ts': '2026-11-28T08:00:00', 'code': 'C'}]}",
     "Invalid field: events[2].ts (ISO-8601 with zone, or integer or decimal Unix seconds)"},
    {"{'events': [{'ts': -1, 'code': 'A'}]}",
     "Invalid field: events[0].ts (ISO-8601 with zone, or integer or decimal Unix seconds)"},
    {"{'events': [{'ts': null, 'code': 'A'}]}",
     "Invalid field: events[0].ts (ISO-8601 with zone, or integer or decimal Unix seconds)"},
    {"{'events': [{'code': 'A'}]}", "Invalid field: events[0].ts (missing)"},
    {"{'events': [{'text': 'x'}]}", "Invalid field: events[0].ts (missing)"},
    {"{'events': [{'ts': 1795852800}]}", "Invalid field: events[0].code (missing)"},
    {"{'events': [{'ts': 1795852800, 'code': ''}]}",
     "Invalid field: events[0].code (must be a non-empty string of at most 64 bytes)"},
    {"{'events': [{'ts': 1795852800, 'code': 7}]}",
     "Invalid field: events[0].code (must be a non-empty string of at most 64 bytes)"},
    {"{'events': [{'ts': 1795852800, 'code': "
     "'12345678901234567890123456789012345678901234567890123456789012345'}]}",
     "Invalid field: events[0].code (must be a non-empty string of at most 64 bytes)"},
    {"{'events': [{'ts': 1795852800, 'code': 'A', 'text': 3}]}",
     "Invalid field: events[0].text (must be a string of at most 1024 bytes)"},
    /* Within an event, members are checked in document order too. */
    {"{'events': [{'code': '', 'ts': 'now'}]}",
     "Invalid field: events[0].code (must be a non-empty string of at most 64 bytes)"},
};

START_TEST(report_invalid_values)
{
    expect_report_error(BAD[_i].json, BAD[_i].message);
}
END_TEST

START_TEST(report_string_lengths)
{
    expect_long_string_error("health_details", 1025,
                             "Invalid field: health_details (must be a string of at most 1024 "
                             "bytes)");
    expect_long_string_error("hardware", 129,
                             "Invalid field: hardware (must be a string of at most 128 bytes)");
    expect_long_string_error("firmware_version", 129,
                             "Invalid field: firmware_version (must be a string of at most 128 "
                             "bytes)");
}
END_TEST

START_TEST(report_first_invalid_in_document_order_wins)
{
    expect_report_error("{'csq': 40, 'import_a': -1}",
                        "Invalid field: csq (must be an integer from 0 to 31, or null)");
    expect_report_error("{'import_a': -1, 'csq': 40}",
                        "Invalid field: import_a (must be a number >= 0)");
    expect_report_error("{'hardware': 'ok', 'unknown': -1, 'events': [{'ts': 1, 'code': 'A'},"
                        " {'ts': 2}], 'voltage': 900}",
                        "Invalid field: events[1].code (missing)");
    expect_report_error("{'tariffs_future': {'unit_rate_element_b': 2, 'standing_charge': -1}}",
                        "Invalid field: tariffs_future.unit_rate_element_b (must be a number "
                        "from 0 to 1.0 with at most 5 decimals)");
}
END_TEST

static cJSON *events_array(int n)
{
    cJSON *patch = cJSON_CreateObject();
    cJSON *events = cJSON_AddArrayToObject(patch, "events");
    for (int i = 0; i < n; i++) {
        cJSON *e = cJSON_CreateObject();
        cJSON_AddNumberToObject(e, "ts", 1795852800 + i);
        cJSON_AddStringToObject(e, "code", "PF");
        cJSON_AddItemToArray(events, e);
    }
    return patch;
}

START_TEST(report_events_count_limit)
{
    struct fields_reported r;
    struct api_error err = {0};
    cJSON *patch = events_array(FIELDS_EVENTS_MAX);
    ck_assert_int_eq(fields_parse_reported(patch, &r, &err), 0);
    ck_assert_uint_eq(r.event_count, 1000);
    cJSON_Delete(patch);
    patch = events_array(FIELDS_EVENTS_MAX + 1);
    ck_assert_int_eq(fields_parse_reported(patch, &r, &err), -1);
    ck_assert_str_eq(err.message,
                     "Invalid field: events (must be an array of at most 1000 events)");
    cJSON_Delete(patch);
    expect_report_ok("{'events': []}", &r);
    ck_assert(fields_has(&r, FIELDS_EVENTS));
    ck_assert_uint_eq(r.event_count, 0);
}
END_TEST

START_TEST(report_event_extras_and_decimal_ts)
{
    struct fields_reported r;
    cJSON *patch =
        report_ok("{'events': [{'ts': 1795852800.9, 'code': 'A', 'text': null, 'extra': [1]},"
                  " {'ts': '2026-11-28T09:00:00+01:00', 'code': 'B', 'text': ''}]}",
                  &r);
    struct fields_event ev;
    struct api_error err = {0};
    ck_assert_int_eq(fields_event_parse(cJSON_GetArrayItem(r.events, 0), 0, &ev, &err), 0);
    ck_assert_int_eq(ev.ts, 1795852800);
    ck_assert_ptr_null(ev.text);
    ck_assert_int_eq(fields_event_parse(cJSON_GetArrayItem(r.events, 1), 1, &ev, &err), 0);
    ck_assert_int_eq(ev.ts, 1795852800);
    ck_assert_str_eq(ev.text, "");
    cJSON_Delete(patch);
}
END_TEST

/* --- ts and register reads --- */

static int parse_ts_text(const char *text, int64_t *out, struct api_error *err)
{
    cJSON *ts = json(text);
    int rc = fields_parse_ts(ts, FIELDS_TS_EARLIEST, NOW + FIELDS_TS_AHEAD_MAX, out, err);
    cJSON_Delete(ts);
    return rc;
}

START_TEST(ts_valid_forms)
{
    int64_t t = 0;
    struct api_error err = {0};
    ck_assert_int_eq(parse_ts_text("'2026-11-28T08:30:00Z'", &t, &err), 0);
    ck_assert_int_eq(t, NOW);
    ck_assert_int_eq(parse_ts_text("'2026-11-28T09:30:00.75+01:00'", &t, &err), 0);
    ck_assert_int_eq(t, NOW);
    ck_assert_int_eq(parse_ts_text("1795854600", &t, &err), 0);
    ck_assert_int_eq(t, NOW);
    ck_assert_int_eq(parse_ts_text("1795854600.999", &t, &err), 0);
    ck_assert_int_eq(t, NOW);
    ck_assert_int_eq(parse_ts_text("946684800", &t, &err), 0); /* bounds are inclusive */
    ck_assert_int_eq(t, FIELDS_TS_EARLIEST);
    ck_assert_int_eq(parse_ts_text("'2026-11-29T08:30:00Z'", &t, &err), 0);
    ck_assert_int_eq(t, NOW + 86400);
}
END_TEST

START_TEST(ts_invalid_forms)
{
    static const char *const bad[] = {
        "'2026-11-28T08:30:00'",  "'yesterday'", "null", "true", "-5", "1e999", "{}", "[1]",
        "'2026-02-30T00:00:00Z'", "''"};
    int64_t t = 7;
    struct api_error err = {0};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_int_eq(parse_ts_text(bad[i], &t, &err), -1);
        ck_assert_int_eq(err.code, 400);
        ck_assert_str_eq(err.message,
                         "Invalid field: ts (ISO-8601 with zone, or integer or decimal Unix "
                         "seconds)");
    }
    ck_assert_int_eq(fields_parse_ts(NULL, 0, NOW, &t, &err), -1);
    ck_assert_int_eq(t, 7);
}
END_TEST

START_TEST(ts_bounds)
{
    int64_t t = 7;
    struct api_error err = {0};
    const char *msg = "Invalid field: ts (must be from 2000-01-01T00:00:00Z to "
                      "2026-11-29T08:30:00Z)";
    ck_assert_int_eq(parse_ts_text("'1999-12-31T23:59:59Z'", &t, &err), -1);
    ck_assert_str_eq(err.message, msg);
    ck_assert_int_eq(parse_ts_text("0", &t, &err), -1);
    ck_assert_str_eq(err.message, msg);
    ck_assert_int_eq(parse_ts_text("'2026-11-29T08:30:01Z'", &t, &err), -1);
    ck_assert_str_eq(err.message, msg);
    ck_assert_int_eq(t, 7);
    /* The bounds are the caller's: a reads batch names its own field. */
    cJSON *item = json("'2030-01-01T00:00:00Z'");
    ck_assert_int_eq(fields_parse_time(item, "reads[3].ts", 0, NOW, &t, &err), -1);
    ck_assert_str_eq(err.message, "Invalid field: reads[3].ts (must be from 1970-01-01T00:00:00Z "
                                  "to 2026-11-28T08:30:00Z)");
    cJSON_Delete(item);
}
END_TEST

START_TEST(kwh_named_for_reads)
{
    int64_t wh = 0;
    struct api_error err = {0};
    cJSON *item = json("-2");
    ck_assert_int_eq(fields_parse_kwh(item, "reads[3].import_a", &wh, &err), -1);
    ck_assert_str_eq(err.message, "Invalid field: reads[3].import_a (must be a number >= 0)");
    cJSON_Delete(item);
    item = json("42.042");
    ck_assert_int_eq(fields_parse_kwh(item, "reads[3].import_a", &wh, &err), 0);
    ck_assert_int_eq(wh, 42042);
    cJSON_Delete(item);
}
END_TEST

/* --- Tariff object --- */

#define BASE_TARIFF                                                                                \
    "{'standing_charge': 0.5, 'unit_rate_element_a': 0.12345, 'unit_rate_element_b': 0.2,"         \
    " 'prepayment_ecredit_availability': 5, 'prepayment_debt_recovery_rate': 0.5,"                 \
    " 'prepayment_emergency_credit': 10, 'activation_datetime': '2026-12-01T00:00:00'}"

/* The base future tariff with member set to value (JSON text), or removed when value is NULL. */
static cJSON *tariff_with(const char *member, const char *value)
{
    cJSON *t = json(BASE_TARIFF);
    if (member == NULL)
        return t;
    cJSON_DeleteItemFromObjectCaseSensitive(t, member);
    if (value != NULL)
        cJSON_AddItemToObject(t, member, json(value));
    return t;
}

/* Parses base-with-change as a future tariff; message NULL means it must be accepted. */
static void expect_tariff(const char *member, const char *value, const char *message)
{
    cJSON *obj = tariff_with(member, value);
    struct tariff t;
    struct api_error err = {0};
    int rc = tariff_parse(obj, true, &t, &err);
    if (message == NULL) {
        ck_assert_msg(rc == 0, "%s = %s: %s", member, value, err.message);
    } else {
        ck_assert_msg(rc == -1, "%s = %s accepted", member, value);
        ck_assert_int_eq(err.code, 400);
        ck_assert_str_eq(err.message, message);
    }
    cJSON_Delete(obj);
}

#define RATE_WHY "(must be a number from 0 to 1.0 with at most 5 decimals)"
#define PREPAY_WHY "(must be a number from 0 to 10000 with at most 5 decimals)"

START_TEST(tariff_valid)
{
    cJSON *obj = json(BASE_TARIFF);
    struct tariff t;
    struct api_error err = {0};
    ck_assert_int_eq(tariff_parse(obj, true, &t, &err), 0);
    ck_assert_int_eq(t.amount[TARIFF_STANDING_CHARGE], 50000);
    ck_assert_int_eq(t.amount[TARIFF_UNIT_RATE_ELEMENT_A], 12345);
    ck_assert_int_eq(t.amount[TARIFF_UNIT_RATE_ELEMENT_B], 20000);
    ck_assert_int_eq(t.amount[TARIFF_PREPAYMENT_ECREDIT_AVAILABILITY], 500000);
    ck_assert_int_eq(t.amount[TARIFF_PREPAYMENT_DEBT_RECOVERY_RATE], 50000);
    ck_assert_int_eq(t.amount[TARIFF_PREPAYMENT_EMERGENCY_CREDIT], 1000000);
    ck_assert(t.has_activation);
    ck_assert_int_eq(t.activation, ACTIVATION);
    cJSON_Delete(obj);
}
END_TEST

START_TEST(tariff_rate_limits)
{
    static const char *const rates[] = {"standing_charge", "unit_rate_element_a",
                                        "unit_rate_element_b"};
    char msg[200];
    for (size_t i = 0; i < 3; i++) {
        snprintf(msg, sizeof msg, "Invalid field: tariffs_future.%s " RATE_WHY, rates[i]);
        expect_tariff(rates[i], "1.0", NULL);
        expect_tariff(rates[i], "0", NULL);
        expect_tariff(rates[i], "0.12345", NULL);
        expect_tariff(rates[i], "0.00001", NULL);
        expect_tariff(rates[i], "0.99999", NULL);
        expect_tariff(rates[i], "1.00001", msg);
        expect_tariff(rates[i], "0.123456", msg);
        expect_tariff(rates[i], "0.000001", msg);
        expect_tariff(rates[i], "-0.1", msg);
        expect_tariff(rates[i], "'0.1'", msg);
        expect_tariff(rates[i], "null", msg);
        expect_tariff(rates[i], "1e999", msg);
    }
}
END_TEST

START_TEST(tariff_prepayment_limits)
{
    static const char *const amounts[] = {"prepayment_ecredit_availability",
                                          "prepayment_debt_recovery_rate",
                                          "prepayment_emergency_credit"};
    char msg[200];
    for (size_t i = 0; i < 3; i++) {
        snprintf(msg, sizeof msg, "Invalid field: tariffs_future.%s " PREPAY_WHY, amounts[i]);
        expect_tariff(amounts[i], "10000", NULL);
        expect_tariff(amounts[i], "9999.99999", NULL);
        expect_tariff(amounts[i], "1.5", NULL);
        expect_tariff(amounts[i], "10000.00001", msg);
        expect_tariff(amounts[i], "9999.999991", msg);
        expect_tariff(amounts[i], "-1", msg);
        expect_tariff(amounts[i], "true", msg);
    }
}
END_TEST

START_TEST(tariff_missing_members)
{
    for (int a = 0; a < TARIFF_AMOUNT_COUNT; a++) {
        char msg[200];
        snprintf(msg, sizeof msg, "Invalid field: tariffs_future.%s (missing)",
                 tariff_amount_name((enum tariff_amount)a));
        expect_tariff(tariff_amount_name((enum tariff_amount)a), NULL, msg);
    }
    expect_tariff("activation_datetime", NULL,
                  "Invalid field: tariffs_future.activation_datetime (missing)");
    cJSON *empty = cJSON_CreateObject();
    struct tariff t;
    struct api_error err = {0};
    ck_assert_int_eq(tariff_parse(empty, false, &t, &err), -1);
    ck_assert_str_eq(err.message, "Invalid field: tariffs_active.standing_charge (missing)");
    cJSON_Delete(empty);
}
END_TEST

START_TEST(tariff_activation_format)
{
    const char *msg = "Invalid field: tariffs_future.activation_datetime (must be a string "
                      "YYYY-MM-DDTHH:MM:SS)";
    expect_tariff("activation_datetime", "'2026-12-01T00:00:00Z'", msg);
    expect_tariff("activation_datetime", "'2026-12-01T00:00:00+01:00'", msg);
    expect_tariff("activation_datetime", "'2026-12-01T00:00:00.5'", msg);
    expect_tariff("activation_datetime", "'2026-12-01 00:00:00'", msg);
    expect_tariff("activation_datetime", "'2026-12-01'", msg);
    expect_tariff("activation_datetime", "'2026-02-29T00:00:00'", msg);
    expect_tariff("activation_datetime", "1796083200", msg);
    expect_tariff("activation_datetime", "null", msg);
    expect_tariff("activation_datetime", "'2028-02-29T23:59:59'", NULL);
}
END_TEST

START_TEST(tariff_unknown_and_duplicate_members)
{
    expect_tariff("unit_rate_element_c", "0.1",
                  "Invalid field: tariffs_future.unit_rate_element_c (unknown member)");
    expect_tariff("Standing_Charge", "0.1",
                  "Invalid field: tariffs_future.Standing_Charge (unknown member)");
    cJSON *obj = json("{'standing_charge': 0.5, 'standing_charge': 0.6}");
    struct tariff t;
    struct api_error err = {0};
    ck_assert_int_eq(tariff_parse(obj, true, &t, &err), -1);
    ck_assert_str_eq(err.message,
                     "Invalid field: tariffs_future.standing_charge (duplicate member)");
    cJSON_Delete(obj);
}
END_TEST

/* An echoed member name is cut at 64 bytes without splitting a UTF-8 character. */
START_TEST(tariff_unknown_member_name_cut_on_utf8_boundary)
{
    char key[200] = "x";
    for (int i = 0; i < 40; i++)
        strcat(key, "\xc2\xa3"); /* "£", 2 bytes: 1 + 2·40 = 81 bytes */
    cJSON *obj = json(BASE_TARIFF);
    cJSON_AddNumberToObject(obj, key, 1);
    struct tariff t;
    struct api_error err = {0};
    ck_assert_int_eq(tariff_parse(obj, true, &t, &err), -1);
    char expected[256];
    snprintf(expected, sizeof expected, "Invalid field: tariffs_future.%.63s (unknown member)",
             key); /* 1 + 31·2 = 63 bytes: the 32nd "£" would end at byte 65 */
    ck_assert_str_eq(err.message, expected);
    cJSON_Delete(obj);
}
END_TEST

START_TEST(tariff_active_activation_optional)
{
    cJSON *obj = tariff_with("activation_datetime", NULL);
    struct tariff t;
    struct api_error err = {0};
    ck_assert_int_eq(tariff_parse(obj, false, &t, &err), 0);
    ck_assert(!t.has_activation);
    cJSON_AddNullToObject(obj, "activation_datetime");
    ck_assert_int_eq(tariff_parse(obj, false, &t, &err), 0);
    ck_assert(!t.has_activation);
    cJSON_Delete(obj);
    obj = json(BASE_TARIFF);
    ck_assert_int_eq(tariff_parse(obj, false, &t, &err), 0);
    ck_assert(t.has_activation);
    ck_assert_int_eq(t.activation, ACTIVATION);
    cJSON_Delete(obj);
    obj = tariff_with("activation_datetime", "'soon'");
    ck_assert_int_eq(tariff_parse(obj, false, &t, &err), -1);
    ck_assert_str_eq(err.message, "Invalid field: tariffs_active.activation_datetime (must be a "
                                  "string YYYY-MM-DDTHH:MM:SS)");
    cJSON_Delete(obj);
}
END_TEST

START_TEST(tariff_equality)
{
    cJSON *future = json(BASE_TARIFF);
    cJSON *active = tariff_with("activation_datetime", NULL);
    cJSON *later = tariff_with("activation_datetime", "'2027-01-01T00:00:00'");
    cJSON *dearer = tariff_with("unit_rate_element_a", "0.12346");
    struct tariff f, a, l, d;
    struct api_error err = {0};
    ck_assert_int_eq(tariff_parse(future, true, &f, &err), 0);
    ck_assert_int_eq(tariff_parse(active, false, &a, &err), 0);
    ck_assert_int_eq(tariff_parse(later, true, &l, &err), 0);
    ck_assert_int_eq(tariff_parse(dearer, true, &d, &err), 0);
    ck_assert(tariff_equal(&f, &f));
    ck_assert(!tariff_equal(&f, &a));
    ck_assert(!tariff_equal(&f, &l));
    ck_assert(tariff_equal_ignoring_activation(&f, &a));
    ck_assert(tariff_equal_ignoring_activation(&a, &l));
    ck_assert(!tariff_equal_ignoring_activation(&f, &d));
    ck_assert(!tariff_equal(&f, &d));
    /* 0.2 and 0.20000 are one value. */
    cJSON *same = tariff_with("unit_rate_element_b", "2.0000e-1");
    struct tariff s;
    ck_assert_int_eq(tariff_parse(same, true, &s, &err), 0);
    ck_assert(tariff_equal(&f, &s));
    cJSON_Delete(same);
    cJSON_Delete(future);
    cJSON_Delete(active);
    cJSON_Delete(later);
    cJSON_Delete(dearer);
}
END_TEST

static char *tariff_text(const struct tariff *t, bool with_activation)
{
    cJSON *o = tariff_to_json(t, with_activation);
    ck_assert_ptr_nonnull(o);
    char *text = cJSON_PrintUnformatted(o);
    cJSON_Delete(o);
    return text;
}

START_TEST(tariff_canonical_json)
{
    cJSON *obj = json("{'activation_datetime': '2026-12-01T00:00:00',"
                      " 'prepayment_emergency_credit': 10000, 'standing_charge': 1.0,"
                      " 'unit_rate_element_a': 0.12345, 'unit_rate_element_b': 0.00001,"
                      " 'prepayment_ecredit_availability': 9999.99999,"
                      " 'prepayment_debt_recovery_rate': 0}");
    struct tariff t, back;
    struct api_error err = {0};
    ck_assert_int_eq(tariff_parse(obj, true, &t, &err), 0);
    char *text = tariff_text(&t, true);
    ck_assert_str_eq(text, "{\"standing_charge\":1,\"unit_rate_element_a\":0.12345,"
                           "\"unit_rate_element_b\":1e-05,"
                           "\"prepayment_ecredit_availability\":9999.99999,"
                           "\"prepayment_debt_recovery_rate\":0,"
                           "\"prepayment_emergency_credit\":10000,"
                           "\"activation_datetime\":\"2026-12-01T00:00:00\"}");
    cJSON *again = cJSON_Parse(text);
    ck_assert_int_eq(tariff_parse(again, true, &back, &err), 0);
    ck_assert(tariff_equal(&t, &back));
    cJSON_Delete(again);
    free(text);
    text = tariff_text(&t, false);
    ck_assert_ptr_null(strstr(text, "activation_datetime"));
    free(text);
    cJSON_Delete(obj);
}
END_TEST

/* Every 5-decimal rate survives parse → to_json → parse. */
START_TEST(tariff_json_round_trip_every_rate)
{
    struct tariff t = {{0}, false, 0}, back;
    struct api_error err = {0};
    for (int64_t n = 0; n <= 100000; n++) {
        t.amount[TARIFF_UNIT_RATE_ELEMENT_A] = n;
        t.amount[TARIFF_PREPAYMENT_ECREDIT_AVAILABILITY] = 1000000000 - n;
        cJSON *o = tariff_to_json(&t, false);
        bool ok = o != NULL && tariff_parse(o, false, &back, &err) == 0 && tariff_equal(&t, &back);
        cJSON_Delete(o);
        if (!ok)
            ck_abort_msg("rate %lld did not round-trip: %s", (long long)n, err.message);
    }
}
END_TEST

/* --- Roles of fields --- */

START_TEST(reported_only_fields)
{
    static const char *const reported_only[] = {
        "import_a",   "import_b",       "export_a",
        "export_b",   "balance",        "emergency_credit",
        "csq",        "voltage",        "voltage_l1",
        "voltage_l2", "voltage_l3",     "clock_time_diff_seconds",
        "health",     "health_details", "tariffs_active",
        "events",     "hardware",       "firmware_version"};
    for (size_t i = 0; i < sizeof reported_only / sizeof reported_only[0]; i++)
        ck_assert_msg(fields_is_reported_only(reported_only[i]), "%s", reported_only[i]);
    ck_assert(!fields_is_reported_only("tariffs_future"));
    ck_assert(!fields_is_reported_only("nickname"));
    ck_assert(!fields_is_reported_only("IMPORT_A"));
    ck_assert(!fields_is_reported_only(NULL));
}
END_TEST

START_TEST(field_names_round_trip)
{
    for (int id = 0; id < FIELDS_COUNT; id++)
        ck_assert_int_eq(fields_lookup(fields_name((enum fields_id)id)), id);
    ck_assert_str_eq(fields_name(FIELDS_CLOCK_TIME_DIFF_SECONDS), "clock_time_diff_seconds");
    ck_assert_ptr_null(fields_name(FIELDS_COUNT));
    ck_assert_int_eq(fields_lookup("ts"), -1);
    ck_assert_ptr_null(tariff_amount_name(TARIFF_AMOUNT_COUNT));
}
END_TEST

START_TEST(register_mapping)
{
    char el = '?';
    bool imp = false;
    ck_assert(fields_register_of("import_a", &el, &imp));
    ck_assert(el == 'A' && imp);
    ck_assert(fields_register_of("import_b", &el, &imp));
    ck_assert(el == 'B' && imp);
    ck_assert(fields_register_of("export_a", &el, &imp));
    ck_assert(el == 'A' && !imp);
    ck_assert(fields_register_of("export_b", &el, &imp));
    ck_assert(el == 'B' && !imp);
    el = '?';
    ck_assert(!fields_register_of("balance", &el, &imp));
    ck_assert(!fields_register_of("import_c", &el, &imp));
    ck_assert(!fields_register_of(NULL, &el, &imp));
    ck_assert_int_eq(el, '?');
}
END_TEST

static Suite *fields_suite(void)
{
    Suite *s = suite_create("fields");
    TCase *units = tcase_create("units");
    tcase_set_timeout(units, 60);
    tcase_add_test(units, kwh_to_wh_exact);
    tcase_add_test(units, kwh_more_decimals_round_to_nearest_wh);
    tcase_add_test(units, units_refuse_non_finite_and_huge);
    tcase_add_test(units, gbp_to_money_exact);
    tcase_add_test(units, kwh_exhaustive_three_decimals);
    tcase_add_test(units, kwh_sampled_full_range_through_cjson);
    tcase_add_test(units, gbp_five_decimals_exact);
    tcase_add_test(units, six_decimals_never_fit);
    tcase_add_test(units, million_tenth_kwh_steps_stay_exact);
    suite_add_tcase(s, units);

    TCase *report = tcase_create("report");
    tcase_add_test(report, report_every_field_valid);
    tcase_add_test(report, report_boundaries_valid);
    tcase_add_test(report, report_empty_null_and_unknown);
    tcase_add_test(report, report_null_deletes_and_projects_nothing);
    tcase_add_test(report, report_repeated_key_last_wins);
    tcase_add_loop_test(report, report_invalid_values, 0, (int)(sizeof BAD / sizeof BAD[0]));
    tcase_add_test(report, report_string_lengths);
    tcase_add_test(report, report_first_invalid_in_document_order_wins);
    tcase_add_test(report, report_events_count_limit);
    tcase_add_test(report, report_event_extras_and_decimal_ts);
    tcase_add_test(report, ts_valid_forms);
    tcase_add_test(report, ts_invalid_forms);
    tcase_add_test(report, ts_bounds);
    tcase_add_test(report, kwh_named_for_reads);
    suite_add_tcase(s, report);

    TCase *tariff = tcase_create("tariff");
    tcase_set_timeout(tariff, 60);
    tcase_add_test(tariff, tariff_valid);
    tcase_add_test(tariff, tariff_rate_limits);
    tcase_add_test(tariff, tariff_prepayment_limits);
    tcase_add_test(tariff, tariff_missing_members);
    tcase_add_test(tariff, tariff_activation_format);
    tcase_add_test(tariff, tariff_unknown_and_duplicate_members);
    tcase_add_test(tariff, tariff_unknown_member_name_cut_on_utf8_boundary);
    tcase_add_test(tariff, tariff_active_activation_optional);
    tcase_add_test(tariff, tariff_equality);
    tcase_add_test(tariff, tariff_canonical_json);
    tcase_add_test(tariff, tariff_json_round_trip_every_rate);
    suite_add_tcase(s, tariff);

    TCase *roles = tcase_create("roles");
    tcase_add_test(roles, reported_only_fields);
    tcase_add_test(roles, field_names_round_trip);
    tcase_add_test(roles, register_mapping);
    suite_add_tcase(s, roles);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(fields_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? 0 : 1;
}
