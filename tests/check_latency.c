/* check_latency.c — histogram buckets and percentiles. */
#include <check.h>
#include <stdlib.h>

#include "latency.h"

START_TEST(empty_histogram_reports_zero)
{
    struct latency_hist h;
    latency_init(&h);
    ck_assert_uint_eq(latency_percentile(&h, 0.5), 0);
}
END_TEST

START_TEST(small_values_are_exact)
{
    struct latency_hist h;
    latency_init(&h);
    for (uint64_t v = 0; v < 8; v++)
        latency_record(&h, v);
    ck_assert_uint_eq(latency_percentile(&h, 0.5), 3);
    ck_assert_uint_eq(latency_percentile(&h, 1.0), 7);
}
END_TEST

START_TEST(percentile_bounds_the_value_within_an_eighth)
{
    for (uint64_t v = 8; v < 5000000; v = v * 3 + 1) {
        struct latency_hist h;
        latency_init(&h);
        latency_record(&h, v);
        uint64_t got = latency_percentile(&h, 0.99);
        ck_assert_uint_ge(got, v);
        ck_assert_uint_le(got, v + v / 8);
    }
}
END_TEST

START_TEST(p50_and_p99_of_a_uniform_spread)
{
    struct latency_hist h;
    latency_init(&h);
    for (uint64_t v = 1; v <= 1000; v++)
        latency_record(&h, v);
    uint64_t p50 = latency_percentile(&h, 0.5), p99 = latency_percentile(&h, 0.99);
    ck_assert_uint_ge(p50, 500);
    ck_assert_uint_le(p50, 500 + 500 / 8);
    ck_assert_uint_ge(p99, 990);
    ck_assert_uint_le(p99, 990 + 990 / 8);
}
END_TEST

START_TEST(largest_values_do_not_overflow)
{
    struct latency_hist h;
    latency_init(&h);
    latency_record(&h, UINT64_MAX);
    ck_assert_uint_eq(latency_percentile(&h, 0.5), UINT64_MAX);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("latency");
    TCase *tc = tcase_create("histogram");
    tcase_add_test(tc, empty_histogram_reports_zero);
    tcase_add_test(tc, small_values_are_exact);
    tcase_add_test(tc, percentile_bounds_the_value_within_an_eighth);
    tcase_add_test(tc, p50_and_p99_of_a_uniform_spread);
    tcase_add_test(tc, largest_values_do_not_overflow);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
