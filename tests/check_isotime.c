/* check_isotime.c — ISO-8601 and Unix seconds on the wire (SPEC §3): exact values, every
 * offset spelling, fractions floored, leap years, the 1970 and 9999 bounds, and refusals. */
#include <check.h>
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>

#include "isotime.h"

#define T_2026_11_28_0830 INT64_C(1795854600)
#define T_MAX INT64_C(253402300799) /* 9999-12-31T23:59:59Z */

static int64_t parsed(const char *text)
{
    int64_t t = -12345;
    ck_assert_msg(isotime_parse(text, &t) == 0, "refused: %s", text);
    return t;
}

static void refused(const char *text)
{
    int64_t t = -12345;
    ck_assert_msg(isotime_parse(text, &t) == -1, "accepted: %s", text);
    ck_assert_int_eq(t, -12345); /* *out untouched on failure */
}

START_TEST(days_from_civil_known_dates)
{
    ck_assert_int_eq(isotime_days_from_civil(1970, 1, 1), 0);
    ck_assert_int_eq(isotime_days_from_civil(2000, 3, 1), 11017);
    ck_assert_int_eq(isotime_days_from_civil(2000, 2, 29), 11016);
    ck_assert_int_eq(isotime_days_from_civil(1969, 12, 31), -1);
    ck_assert_int_eq(isotime_days_from_civil(2026, 11, 28), 20785);
    ck_assert_int_eq(isotime_days_from_civil(9999, 12, 31), 2932896);
    ck_assert_int_eq(isotime_days_from_civil(0, 3, 1), -719468);
}
END_TEST

START_TEST(civil_from_days_round_trips_every_day_to_9999)
{
    int64_t y;
    unsigned m, d;
    isotime_civil_from_days(11017, &y, &m, &d);
    ck_assert_int_eq(y, 2000);
    ck_assert_uint_eq(m, 3);
    ck_assert_uint_eq(d, 1);
    isotime_civil_from_days(-1, &y, &m, &d);
    ck_assert_int_eq(y, 1969);
    ck_assert_uint_eq(m, 12);
    ck_assert_uint_eq(d, 31);
    /* Every day of the range: back and forth, and consecutive days are consecutive dates.
     * (Counted, not asserted per day: a Check assertion per iteration is far too slow.) */
    int64_t prev_y = 1969, bad = 0;
    unsigned prev_m = 12, prev_d = 31;
    for (int64_t days = 0; days <= 2932896; days++) {
        isotime_civil_from_days(days, &y, &m, &d);
        if (isotime_days_from_civil(y, m, d) != days)
            bad++;
        if (d != prev_d + 1 &&
            !(d == 1 && (m == prev_m + 1 || (m == 1 && prev_m == 12 && y == prev_y + 1))))
            bad++;
        prev_y = y, prev_m = m, prev_d = d;
    }
    ck_assert_int_eq(bad, 0);
    ck_assert_int_eq(y, 9999);
}
END_TEST

START_TEST(parse_utc)
{
    ck_assert_int_eq(parsed("2026-11-28T08:30:00Z"), T_2026_11_28_0830);
    ck_assert_int_eq(parsed("2024-12-31T23:59:59Z"), INT64_C(1735689599));
    ck_assert_int_eq(parsed("2025-01-01T00:00:00Z"), INT64_C(1735689600));
}
END_TEST

START_TEST(parse_offsets)
{
    ck_assert_int_eq(parsed("2026-11-28T09:30:00+01:00"), T_2026_11_28_0830);
    ck_assert_int_eq(parsed("2026-11-28T09:30:00+0100"), T_2026_11_28_0830);
    ck_assert_int_eq(parsed("2026-11-28T03:00:00-05:30"), T_2026_11_28_0830);
    ck_assert_int_eq(parsed("2026-11-28T03:00:00-0530"), T_2026_11_28_0830);
    ck_assert_int_eq(parsed("2026-11-28T08:30:00+00:00"), T_2026_11_28_0830);
    ck_assert_int_eq(parsed("2026-11-28T08:30:00-00:00"), T_2026_11_28_0830);
    /* crossing a day, a month and a year */
    ck_assert_int_eq(parsed("2026-11-29T07:30:00+23:00"), T_2026_11_28_0830);
    ck_assert_int_eq(parsed("2025-01-01T05:29:59+05:30"), INT64_C(1735689599));
    ck_assert_int_eq(parsed("2024-12-31T23:00:00-01:00"), INT64_C(1735689600));
}
END_TEST

START_TEST(parse_fractions_floor)
{
    ck_assert_int_eq(parsed("2026-11-28T08:30:00.5Z"), T_2026_11_28_0830);
    ck_assert_int_eq(parsed("2026-11-28T08:30:00.999999999Z"), T_2026_11_28_0830);
    ck_assert_int_eq(parsed("2026-11-28T08:30:00.000Z"), T_2026_11_28_0830);
    ck_assert_int_eq(parsed("2026-11-28T08:30:59.9Z"), T_2026_11_28_0830 + 59);
    ck_assert_int_eq(parsed("2026-11-28T09:30:00.75+01:00"), T_2026_11_28_0830);
    ck_assert_int_eq(parsed("2026-11-28T03:00:00.1-0530"), T_2026_11_28_0830);
    ck_assert_int_eq(parsed("2024-12-31T23:59:59.999Z"), INT64_C(1735689599));
}
END_TEST

START_TEST(parse_leap_years)
{
    ck_assert_int_eq(parsed("2024-02-29T00:00:00Z"), INT64_C(1709164800));
    ck_assert_int_eq(parsed("2000-02-29T12:00:00Z"), INT64_C(951825600));
    refused("2026-02-29T00:00:00Z");
    refused("2100-02-29T00:00:00Z");
    refused("2023-02-29T00:00:00Z");
    refused("2024-02-30T00:00:00Z");
    ck_assert_int_eq(parsed("2026-02-28T23:59:59Z") + 1, parsed("2026-03-01T00:00:00Z"));
    ck_assert_int_eq(parsed("2024-02-28T00:00:00Z") + 2 * 86400, parsed("2024-03-01T00:00:00Z"));
}
END_TEST

START_TEST(parse_bounds)
{
    ck_assert_int_eq(parsed("1970-01-01T00:00:00Z"), 0);
    ck_assert_int_eq(parsed("1969-12-31T23:00:00-01:00"), 0);
    ck_assert_int_eq(parsed("9999-12-31T23:59:59Z"), T_MAX);
    ck_assert_int_eq(parsed("9999-12-31T23:59:59.999Z"), T_MAX);
    ck_assert_int_eq(parsed("9999-12-31T23:59:59+00:00"), T_MAX);
    ck_assert_int_eq(parsed("9999-12-31T23:59:59+01:00"), T_MAX - 3600);
}
END_TEST

START_TEST(parse_out_of_range)
{
    refused("1969-12-31T23:59:59Z");
    refused("1970-01-01T00:00:00+00:01"); /* one minute before the epoch */
    refused("1970-01-01T00:59:59+01:00");
    refused("0000-01-01T00:00:00Z");
    refused("9999-12-31T23:59:59-00:01"); /* year 10000 in UTC */
    refused("9999-12-31T23:00:00-01:00");
}
END_TEST

START_TEST(parse_refuses_malformed)
{
    refused("");
    refused("2026-11-28T08:30:00");   /* no zone */
    refused("2026-11-28T08:30Z");     /* no seconds */
    refused("2026-11-28");            /* date only */
    refused("2026-11-28 08:30:00Z");  /* space separator */
    refused("2026-11-28t08:30:00Z");  /* lower-case t */
    refused("2026-11-28T08:30:00z");  /* lower-case z */
    refused("2026-11-28T24:00:00Z");  /* hour 24 */
    refused("2026-11-28T23:60:00Z");  /* minute 60 */
    refused("2026-11-28T23:59:60Z");  /* leap second */
    refused("2026-13-01T00:00:00Z");  /* month 13 */
    refused("2026-00-10T00:00:00Z");  /* month 0 */
    refused("2026-04-31T00:00:00Z");  /* April has 30 days */
    refused("2026-11-00T00:00:00Z");  /* day 0 */
    refused("2026-11-28T08:30:00Zx"); /* trailing bytes */
    refused("2026-11-28T08:30:00Z "); /* trailing space */
    refused(" 2026-11-28T08:30:00Z"); /* leading space */
    refused("2026-11-28T08:30:00+01:00Z");
    refused("2026-11-28T08:30:00.Z");     /* fraction without digits */
    refused("2026-11-28T08:30:00,5Z");    /* comma fraction */
    refused("2026-11-28T08:30:00+01");    /* hours-only offset */
    refused("2026-11-28T08:30:00+1:00");  /* one-digit hour */
    refused("2026-11-28T08:30:00+01:0");  /* one-digit minute */
    refused("2026-11-28T08:30:00+24:00"); /* offset hour 24 */
    refused("2026-11-28T08:30:00+01:60"); /* offset minute 60 */
    refused("2026-11-28T08:30:00+01:00:00");
    refused("2026-1-28T08:30:00Z");
    refused("+2026-11-28T08:30:00Z");
    refused("20261128T083000Z"); /* basic format */
    refused("NaN");
    refused("inf");
    refused("1795854600");
    int64_t t = 7;
    ck_assert_int_eq(isotime_parse(NULL, &t), -1);
    ck_assert_int_eq(t, 7);
}
END_TEST

START_TEST(parse_naive)
{
    int64_t t = 0;
    ck_assert_int_eq(isotime_parse_naive("2026-03-29T01:30:00", &t), 0);
    ck_assert_int_eq(t, INT64_C(1774747800));
    ck_assert_int_eq(isotime_parse_naive("1970-01-01T00:00:00", &t), 0);
    ck_assert_int_eq(t, 0);
    ck_assert_int_eq(isotime_parse_naive("9999-12-31T23:59:59", &t), 0);
    ck_assert_int_eq(t, T_MAX);
    t = 5;
    ck_assert_int_eq(isotime_parse_naive("2026-03-29T01:30:00Z", &t), -1);
    ck_assert_int_eq(isotime_parse_naive("2026-03-29T01:30:00+01:00", &t), -1);
    ck_assert_int_eq(isotime_parse_naive("2026-03-29T01:30:00.5", &t), -1);
    ck_assert_int_eq(isotime_parse_naive("2026-03-29T01:30", &t), -1);
    ck_assert_int_eq(isotime_parse_naive("2026-03-29 01:30:00", &t), -1);
    ck_assert_int_eq(isotime_parse_naive("2026-02-29T00:00:00", &t), -1);
    ck_assert_int_eq(isotime_parse_naive("2026-03-29T24:00:00", &t), -1);
    ck_assert_int_eq(isotime_parse_naive("1969-12-31T23:59:59", &t), -1);
    ck_assert_int_eq(isotime_parse_naive("", &t), -1);
    ck_assert_int_eq(isotime_parse_naive(NULL, &t), -1);
    ck_assert_int_eq(t, 5);
}
END_TEST

START_TEST(format_exact)
{
    char buf[ISOTIME_LEN];
    ck_assert_str_eq(isotime_format(0, buf), "1970-01-01T00:00:00Z");
    ck_assert_str_eq(isotime_format(T_2026_11_28_0830, buf), "2026-11-28T08:30:00Z");
    ck_assert_str_eq(isotime_format(INT64_C(1709164800), buf), "2024-02-29T00:00:00Z");
    ck_assert_str_eq(isotime_format(INT64_C(1735689599), buf), "2024-12-31T23:59:59Z");
    ck_assert_str_eq(isotime_format(T_MAX, buf), "9999-12-31T23:59:59Z");
    ck_assert_ptr_eq(isotime_format(1, buf), buf);
    /* out of range clamps to the bounds, keeping the fixed shape */
    ck_assert_str_eq(isotime_format(-1, buf), "1970-01-01T00:00:00Z");
    ck_assert_str_eq(isotime_format(T_MAX + 1, buf), "9999-12-31T23:59:59Z");
    ck_assert_str_eq(isotime_format(INT64_MAX, buf), "9999-12-31T23:59:59Z");
    ck_assert_str_eq(isotime_format(INT64_MIN, buf), "1970-01-01T00:00:00Z");
}
END_TEST

START_TEST(format_parse_round_trip)
{
    char buf[ISOTIME_LEN];
    /* a stride that visits every second-of-day residue class and every month over the range */
    int64_t bad = 0, back = -1;
    for (int64_t t = 0; t <= T_MAX; t += INT64_C(86400) * 37 + 3607) {
        if (isotime_parse(isotime_format(t, buf), &back) != 0 || back != t)
            bad++;
    }
    ck_assert_int_eq(bad, 0);
    ck_assert_int_eq(isotime_parse(isotime_format(T_MAX, buf), &back), 0);
    ck_assert_int_eq(back, T_MAX);
}
END_TEST

static int from_json_number(double v, int64_t *out)
{
    cJSON *n = cJSON_CreateNumber(v);
    int rc = isotime_from_json(n, out);
    cJSON_Delete(n);
    return rc;
}

static int from_json_text(const char *json, int64_t *out)
{
    cJSON *n = cJSON_Parse(json);
    ck_assert_ptr_nonnull(n);
    int rc = isotime_from_json(n, out);
    cJSON_Delete(n);
    return rc;
}

START_TEST(from_json_numbers)
{
    int64_t t = -1;
    ck_assert_int_eq(from_json_text("1795854600", &t), 0);
    ck_assert_int_eq(t, T_2026_11_28_0830);
    ck_assert_int_eq(from_json_text("1795854600.999", &t), 0);
    ck_assert_int_eq(t, T_2026_11_28_0830);
    ck_assert_int_eq(from_json_text("1795854600.0", &t), 0);
    ck_assert_int_eq(t, T_2026_11_28_0830);
    ck_assert_int_eq(from_json_text("1.7958546e9", &t), 0);
    ck_assert_int_eq(t, T_2026_11_28_0830);
    ck_assert_int_eq(from_json_text("0", &t), 0);
    ck_assert_int_eq(t, 0);
    ck_assert_int_eq(from_json_text("0.5", &t), 0);
    ck_assert_int_eq(t, 0);
    ck_assert_int_eq(from_json_text("253402300799", &t), 0);
    ck_assert_int_eq(t, T_MAX);
    ck_assert_int_eq(from_json_text("253402300799.5", &t), 0);
    ck_assert_int_eq(t, T_MAX);
    t = 9;
    ck_assert_int_eq(from_json_text("253402300800", &t), -1);
    ck_assert_int_eq(from_json_text("-1", &t), -1);
    ck_assert_int_eq(from_json_text("-0.5", &t), -1);
    ck_assert_int_eq(from_json_text("1e300", &t), -1);
    ck_assert_int_eq(from_json_text("-1e300", &t), -1);
    ck_assert_int_eq(from_json_number(NAN, &t), -1);
    ck_assert_int_eq(from_json_number(INFINITY, &t), -1);
    ck_assert_int_eq(from_json_number(-INFINITY, &t), -1);
    ck_assert_int_eq(t, 9);
}
END_TEST

START_TEST(from_json_strings_and_types)
{
    int64_t t = -1;
    ck_assert_int_eq(from_json_text("\"2026-11-28T08:30:00Z\"", &t), 0);
    ck_assert_int_eq(t, T_2026_11_28_0830);
    ck_assert_int_eq(from_json_text("\"2026-11-28T09:30:00.5+01:00\"", &t), 0);
    ck_assert_int_eq(t, T_2026_11_28_0830);
    t = 9;
    ck_assert_int_eq(from_json_text("\"1795854600\"", &t), -1); /* numbers only as numbers */
    ck_assert_int_eq(from_json_text("\"NaN\"", &t), -1);
    ck_assert_int_eq(from_json_text("\"Infinity\"", &t), -1);
    ck_assert_int_eq(from_json_text("\"-inf\"", &t), -1);
    ck_assert_int_eq(from_json_text("\"\"", &t), -1);
    ck_assert_int_eq(from_json_text("\"2026-11-28T08:30:00\"", &t), -1);
    ck_assert_int_eq(from_json_text("\"1969-12-31T23:59:59Z\"", &t), -1);
    ck_assert_int_eq(from_json_text("null", &t), -1);
    ck_assert_int_eq(from_json_text("true", &t), -1);
    ck_assert_int_eq(from_json_text("[1795854600]", &t), -1);
    ck_assert_int_eq(from_json_text("{\"ts\":1795854600}", &t), -1);
    ck_assert_int_eq(isotime_from_json(NULL, &t), -1);
    ck_assert_int_eq(t, 9);
}
END_TEST

static Suite *isotime_suite(void)
{
    Suite *s = suite_create("isotime");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, days_from_civil_known_dates);
    tcase_add_test(tc, civil_from_days_round_trips_every_day_to_9999);
    tcase_add_test(tc, parse_utc);
    tcase_add_test(tc, parse_offsets);
    tcase_add_test(tc, parse_fractions_floor);
    tcase_add_test(tc, parse_leap_years);
    tcase_add_test(tc, parse_bounds);
    tcase_add_test(tc, parse_out_of_range);
    tcase_add_test(tc, parse_refuses_malformed);
    tcase_add_test(tc, parse_naive);
    tcase_add_test(tc, format_exact);
    tcase_add_test(tc, format_parse_round_trip);
    tcase_add_test(tc, from_json_numbers);
    tcase_add_test(tc, from_json_strings_and_types);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(isotime_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
