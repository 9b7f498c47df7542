/* check_health.c — the alert latches and the liveness rule. */
#include <check.h>
#include <stdint.h>
#include <stdlib.h>

#include "health.h"

START_TEST(latch_raises_once_per_crossing)
{
    ck_assert_int_eq(health_latch(false, true), HEALTH_RAISED);
    ck_assert_int_eq(health_latch(true, true), HEALTH_STEADY);
    ck_assert_int_eq(health_latch(true, false), HEALTH_CLEARED);
    ck_assert_int_eq(health_latch(false, false), HEALTH_STEADY);
}
END_TEST

START_TEST(balance_below_threshold_is_low_and_equal_is_not)
{
    int64_t five_pounds = 500000;
    ck_assert(health_balance_low(499999, five_pounds));
    ck_assert(!health_balance_low(500000, five_pounds));
    ck_assert(health_balance_low(-100000, five_pounds));
}
END_TEST

START_TEST(drift_counts_both_directions_from_the_alert_on)
{
    ck_assert(health_clock_drifting(60, 60));
    ck_assert(health_clock_drifting(-60, 60));
    ck_assert(!health_clock_drifting(59, 60));
    ck_assert(!health_clock_drifting(-59, 60));
    ck_assert(health_clock_drifting(INT64_MIN, 60));
}
END_TEST

START_TEST(offline_only_after_more_than_the_limit)
{
    ck_assert(!health_offline(1000, 1000 + 10800, 10800));
    ck_assert(health_offline(1000, 1000 + 10801, 10800));
    ck_assert(!health_offline(1000, 900, 10800)); /* a clock step back is not offline */
}
END_TEST

int main(void)
{
    Suite *s = suite_create("health");
    TCase *tc = tcase_create("rules");
    tcase_add_test(tc, latch_raises_once_per_crossing);
    tcase_add_test(tc, balance_below_threshold_is_low_and_equal_is_not);
    tcase_add_test(tc, drift_counts_both_directions_from_the_alert_on);
    tcase_add_test(tc, offline_only_after_more_than_the_limit);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
