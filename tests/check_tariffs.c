/* check_tariffs.c — the tariff workflow's rules (SPEC §8): the activation instant with and
 * without daylight savings correction (the SPEC's example, both clock-change nights), the
 * "in the future" check, the command state machine across retries, expiry and a restart, the
 * commands/result payload, and the first-that-applies status rules. */
#include <check.h>
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "isotime.h"
#include "tariffs.h"

#define DAY 86400

static struct tzone london;

static int64_t at(const char *iso)
{
    int64_t t = 0;
    ck_assert_msg(isotime_parse(iso, &t) == 0, "bad instant %s", iso);
    return t;
}

/* A tariff whose activation_datetime is naive (meter clock time). */
static struct tariff future(const char *naive)
{
    struct tariff t;
    memset(&t, 0, sizeof t);
    t.amount[TARIFF_STANDING_CHARGE] = 50000;
    t.has_activation = true;
    ck_assert_int_eq(isotime_parse_naive(naive, &t.activation), 0);
    return t;
}

static int64_t instant(const char *naive, bool dst)
{
    struct tariff t = future(naive);
    int64_t out = -1;
    ck_assert_int_eq(tariffs_activation_at(&t, dst, &london, &out), 0);
    return out;
}

/* ---- Activation ---------------------------------------------------------------------------- */

START_TEST(activation_is_uk_local_with_correction_and_utc_without)
{
    ck_assert_int_eq(instant("2025-04-01T00:00:00", true), at("2025-03-31T23:00:00Z"));
    ck_assert_int_eq(instant("2025-04-01T00:00:00", false), at("2025-04-01T00:00:00Z"));
    ck_assert_int_eq(instant("2025-12-01T00:00:00", true), at("2025-12-01T00:00:00Z")); /* GMT */
}
END_TEST

START_TEST(activation_on_the_spring_clock_change_night)
{
    /* 2025-03-30: 01:00 GMT becomes 02:00 BST; 01:xx local never happens. */
    ck_assert_int_eq(instant("2025-03-30T00:59:59", true), at("2025-03-30T00:59:59Z"));
    ck_assert_int_eq(instant("2025-03-30T01:30:00", true), at("2025-03-30T01:30:00Z"));
    ck_assert_int_eq(instant("2025-03-30T02:00:00", true), at("2025-03-30T01:00:00Z"));
    ck_assert_int_eq(instant("2025-03-30T01:30:00", false), at("2025-03-30T01:30:00Z"));
}
END_TEST

START_TEST(activation_on_the_autumn_clock_change_night)
{
    /* 2025-10-26: 02:00 BST becomes 01:00 GMT; 01:xx local happens twice, the first counts. */
    ck_assert_int_eq(instant("2025-10-26T00:30:00", true), at("2025-10-25T23:30:00Z"));
    ck_assert_int_eq(instant("2025-10-26T01:30:00", true), at("2025-10-26T00:30:00Z"));
    ck_assert_int_eq(instant("2025-10-26T02:00:00", true), at("2025-10-26T02:00:00Z"));
    ck_assert_int_eq(instant("2025-10-26T01:30:00", false), at("2025-10-26T01:30:00Z"));
}
END_TEST

START_TEST(activation_needs_an_activation_datetime)
{
    struct tariff t = future("2025-04-01T00:00:00");
    int64_t out = 42;
    t.has_activation = false;
    ck_assert_int_eq(tariffs_activation_at(&t, true, &london, &out), -1);
    ck_assert_int_eq(out, 42);
}
END_TEST

START_TEST(future_check_reads_the_meter_clock)
{
    struct api_error err = {0, ""};
    struct tariff t = future("2025-04-01T00:00:00");
    int64_t now = at("2025-03-31T23:30:00Z");
    /* The same clock time is 30 minutes ahead in UTC and 30 minutes past in London. */
    ck_assert_int_eq(tariffs_check_future(&t, false, &london, now, &err), 0);
    ck_assert_int_eq(tariffs_check_future(&t, true, &london, now, &err), -1);
    ck_assert_int_eq(err.code, 400);
    ck_assert_str_eq(err.message,
                     "Invalid field: tariffs_future.activation_datetime (must be in the future)");
    int64_t exact = at("2025-04-01T00:00:00Z");
    ck_assert_int_eq(tariffs_check_future(&t, false, &london, exact, &err), -1);
    ck_assert_int_eq(tariffs_check_future(&t, false, &london, exact - 1, &err), 0);
}
END_TEST

START_TEST(overdue_only_after_more_than_the_retry_interval)
{
    ck_assert(!tariffs_overdue(1000, 1000, 300));
    ck_assert(!tariffs_overdue(1000, 1300, 300));
    ck_assert(tariffs_overdue(1000, 1301, 300));
    ck_assert(!tariffs_overdue(1000, 900, 300));
}
END_TEST

/* ---- Commands ------------------------------------------------------------------------------ */

START_TEST(command_is_sent_retried_then_fails_without_an_answer)
{
    struct tariffs_command c;
    tariffs_command_init(&c, 100);
    ck_assert_int_eq(c.status, TARIFFS_COMMAND_PENDING);
    ck_assert_int_eq(c.attempts, 0);
    ck_assert_int_eq(tariffs_command_step(&c, 99, 3), TARIFFS_STEP_WAIT);
    for (int k = 1; k <= 3; k++) {
        int64_t now = 100 + (k - 1) * 300;
        ck_assert_int_eq(tariffs_command_step(&c, now, 3), TARIFFS_STEP_SEND);
        tariffs_command_sent(&c, now, 300);
        ck_assert_int_eq(c.attempts, k);
        ck_assert_int_eq(c.last_attempt_at, now);
        ck_assert_int_eq(c.next_at, now + 300);
        ck_assert_int_eq(tariffs_command_step(&c, now + 299, 3), TARIFFS_STEP_WAIT);
    }
    /* No answer retry_s after the last attempt: failed. */
    ck_assert_int_eq(tariffs_command_step(&c, 100 + 2 * 300 + 300, 3), TARIFFS_STEP_EXPIRE);
    ck_assert(tariffs_command_end(&c, TARIFFS_COMMAND_FAILED));
    ck_assert_int_eq(c.status, TARIFFS_COMMAND_FAILED);
    ck_assert_int_eq(tariffs_command_step(&c, 10000, 3), TARIFFS_STEP_WAIT);
}
END_TEST

START_TEST(command_that_fell_due_while_down_acts_once)
{
    struct tariffs_command c;
    tariffs_command_init(&c, 100);
    tariffs_command_sent(&c, 100, 300);
    /* The service was down from 150 to 5000: attempt 2 is due at once, and only once. */
    ck_assert_int_eq(tariffs_command_step(&c, 5000, 12), TARIFFS_STEP_SEND);
    tariffs_command_sent(&c, 5000, 300);
    ck_assert_int_eq(c.attempts, 2);
    ck_assert_int_eq(tariffs_command_step(&c, 5000, 12), TARIFFS_STEP_WAIT);
    ck_assert_int_eq(tariffs_command_step(&c, 5300, 12), TARIFFS_STEP_SEND);
    /* With every attempt spent while down, it fails at once instead. */
    c.attempts = 12;
    ck_assert_int_eq(tariffs_command_step(&c, 99999, 12), TARIFFS_STEP_EXPIRE);
}
END_TEST

START_TEST(command_ends_once)
{
    struct tariffs_command c;
    tariffs_command_init(&c, 0);
    ck_assert(!tariffs_command_end(&c, TARIFFS_COMMAND_PENDING));
    ck_assert(tariffs_command_end(&c, TARIFFS_COMMAND_CONFIRMED));
    ck_assert(!tariffs_command_end(&c, TARIFFS_COMMAND_FAILED));
    ck_assert_int_eq(c.status, TARIFFS_COMMAND_CONFIRMED);
}
END_TEST

START_TEST(command_status_names_round_trip)
{
    enum tariffs_command_status s = TARIFFS_COMMAND_PENDING;
    for (int i = TARIFFS_COMMAND_PENDING; i <= TARIFFS_COMMAND_FAILED; i++) {
        const char *name = tariffs_command_status_name((enum tariffs_command_status)i);
        ck_assert_ptr_nonnull(name);
        ck_assert_int_eq(tariffs_command_status_parse(name, &s), 0);
        ck_assert_int_eq(s, i);
    }
    ck_assert_str_eq(tariffs_command_status_name(TARIFFS_COMMAND_CONFIRMED), "confirmed");
    ck_assert_ptr_null(tariffs_command_status_name((enum tariffs_command_status)3));
    ck_assert_int_eq(tariffs_command_status_parse("superseded", &s), -1);
    ck_assert_int_eq(s, TARIFFS_COMMAND_FAILED);
}
END_TEST

START_TEST(command_message_has_the_wire_shape)
{
    cJSON *args = cJSON_Parse("{\"standing_charge\":0.5}");
    cJSON *msg = tariffs_command_message("c-1", TARIFFS_COMMAND_WRITE, 7, 2, args);
    char *text = cJSON_PrintUnformatted(msg);
    ck_assert_str_eq(text, "{\"id\":\"c-1\",\"command\":\"tariffs_future_write\",\"version\":7,"
                           "\"attempt\":2,\"args\":{\"standing_charge\":0.5}}");
    free(text);
    cJSON_Delete(msg);
    cJSON_Delete(args);
}
END_TEST

/* ---- Results ------------------------------------------------------------------------------- */

/* Parses json into *root (freeing the previous tree: *out borrows from the new one). */
static int result(cJSON **root, const char *json, struct tariffs_result *out, struct api_error *err)
{
    cJSON_Delete(*root);
    *root = cJSON_Parse(json);
    ck_assert_ptr_nonnull(*root);
    return tariffs_result_parse(*root, out, err);
}

START_TEST(result_payloads_are_validated)
{
    struct tariffs_result r;
    struct api_error err = {0, ""};
    cJSON *root = NULL;
    ck_assert_int_eq(result(&root, "{\"id\":\"c-1\",\"status\":\"ok\",\"extra\":1}", &r, &err), 0);
    ck_assert_str_eq(r.id, "c-1");
    ck_assert(r.ok);
    ck_assert_ptr_null(r.message);
    ck_assert_int_eq(
        result(&root, "{\"id\":\"c-1\",\"status\":\"error\",\"message\":\"busy\"}", &r, &err), 0);
    ck_assert(!r.ok);
    ck_assert_str_eq(r.message, "busy");
    ck_assert_int_eq(
        result(&root, "{\"id\":\"c-1\",\"status\":\"error\",\"message\":null}", &r, &err), 0);
    ck_assert_ptr_null(r.message);

    static const char *const bad[][2] = {
        {"{\"status\":\"ok\"}", "Invalid field: id (must be a string of 1 to 64 bytes)"},
        {"{\"id\":\"\",\"status\":\"ok\"}",
         "Invalid field: id (must be a string of 1 to 64 bytes)"},
        {"{\"id\":7,\"status\":\"ok\"}", "Invalid field: id (must be a string of 1 to 64 bytes)"},
        {"{\"id\":\"c\"}", "Invalid field: status (must be \"ok\" or \"error\")"},
        {"{\"id\":\"c\",\"status\":\"OK\"}", "Invalid field: status (must be \"ok\" or \"error\")"},
        {"{\"id\":\"c\",\"status\":\"ok\",\"message\":1}",
         "Invalid field: message (must be a string of at most 1024 bytes)"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        ck_assert_int_eq(result(&root, bad[i][0], &r, &err), -1);
        ck_assert_int_eq(err.code, 400);
        ck_assert_str_eq(err.message, bad[i][1]);
    }
    cJSON_Delete(root);
}
END_TEST

START_TEST(result_lengths_are_bounded)
{
    struct tariffs_result r;
    struct api_error err = {0, ""};
    char json[2200], id[TARIFFS_ID_MAX + 2], message[TARIFFS_MESSAGE_MAX + 2];
    cJSON *root = NULL;
    memset(id, 'a', sizeof id - 1);
    id[TARIFFS_ID_MAX] = '\0';
    snprintf(json, sizeof json, "{\"id\":\"%s\",\"status\":\"ok\"}", id);
    ck_assert_int_eq(result(&root, json, &r, &err), 0);
    id[TARIFFS_ID_MAX] = 'a';
    id[TARIFFS_ID_MAX + 1] = '\0';
    snprintf(json, sizeof json, "{\"id\":\"%s\",\"status\":\"ok\"}", id);
    ck_assert_int_eq(result(&root, json, &r, &err), -1);
    memset(message, 'm', sizeof message - 1);
    message[TARIFFS_MESSAGE_MAX] = '\0';
    snprintf(json, sizeof json, "{\"id\":\"c\",\"status\":\"error\",\"message\":\"%s\"}", message);
    ck_assert_int_eq(result(&root, json, &r, &err), 0);
    message[TARIFFS_MESSAGE_MAX] = 'm';
    message[TARIFFS_MESSAGE_MAX + 1] = '\0';
    snprintf(json, sizeof json, "{\"id\":\"c\",\"status\":\"error\",\"message\":\"%s\"}", message);
    ck_assert_int_eq(result(&root, json, &r, &err), -1);
    cJSON_Delete(root);
}
END_TEST

/* ---- Status -------------------------------------------------------------------------------- */

static enum tariffs_status status(struct tariffs_status_input in, int64_t now)
{
    return tariffs_status_of(&in, now);
}

START_TEST(status_rules_apply_in_order)
{
    const int64_t now = 1000000, far = now + 30 * DAY;
    struct tariffs_status_input none = {.has_future = false};
    struct tariffs_status_input failed = {.has_future = true,
                                          .has_command = true,
                                          .command = TARIFFS_COMMAND_FAILED,
                                          .activation_at = now};
    struct tariffs_status_input pending = {.has_future = true,
                                           .has_command = true,
                                           .command = TARIFFS_COMMAND_PENDING,
                                           .activation_at = now};
    struct tariffs_status_input unsent = {.has_future = true, .activation_at = far};
    struct tariffs_status_input confirmed = {.has_future = true,
                                             .has_command = true,
                                             .command = TARIFFS_COMMAND_CONFIRMED,
                                             .activation_at = far};
    ck_assert_int_eq(status(none, now), TARIFFS_NO_FUTURE);
    ck_assert_int_eq(status(failed, now + DAY), TARIFFS_FAILED); /* before Overdue */
    ck_assert_int_eq(status(pending, now + DAY), TARIFFS_PENDING_PUSH);
    ck_assert_int_eq(status(unsent, now), TARIFFS_PENDING_PUSH); /* the service has yet to act */
    ck_assert_int_eq(status(confirmed, now), TARIFFS_CONFIRMED);
    confirmed.activation_at = now - 1;
    ck_assert_int_eq(status(confirmed, now), TARIFFS_OVERDUE);
    confirmed.activation_at = now;
    ck_assert_int_eq(status(confirmed, now), TARIFFS_ACTIVATING_SOON);
    confirmed.activation_at = now + 7 * DAY - 1;
    ck_assert_int_eq(status(confirmed, now), TARIFFS_ACTIVATING_SOON);
    confirmed.activation_at = now + 7 * DAY;
    ck_assert_int_eq(status(confirmed, now), TARIFFS_CONFIRMED);
}
END_TEST

START_TEST(status_of_a_tariff_the_meter_holds_or_needs_no_push)
{
    const int64_t now = 1000000;
    struct tariffs_status_input held = {.has_future = true,
                                        .reported_matches = true,
                                        .has_command = true,
                                        .command = TARIFFS_COMMAND_FAILED,
                                        .activation_at = now + 30 * DAY};
    ck_assert_int_eq(tariffs_status_of(&held, now), TARIFFS_CONFIRMED);
    struct tariffs_status_input passive = {
        .has_future = true, .passive = true, .activation_at = now + DAY};
    ck_assert_int_eq(tariffs_status_of(&passive, now), TARIFFS_ACTIVATING_SOON);
    ck_assert_str_eq(tariffs_status_name(TARIFFS_NO_FUTURE), "No future tariff");
    ck_assert_str_eq(tariffs_status_name(TARIFFS_OVERDUE), "Overdue activation");
    ck_assert_ptr_null(tariffs_status_name(TARIFFS_STATUS_COUNT));
}
END_TEST

int main(void)
{
    if (tzone_load("Europe/London", &london) != 0) {
        fprintf(stderr, "check_tariffs: cannot load Europe/London from the tz database\n");
        return EXIT_FAILURE;
    }
    Suite *s = suite_create("tariffs");
    TCase *tc = tcase_create("rules");
    tcase_add_test(tc, activation_is_uk_local_with_correction_and_utc_without);
    tcase_add_test(tc, activation_on_the_spring_clock_change_night);
    tcase_add_test(tc, activation_on_the_autumn_clock_change_night);
    tcase_add_test(tc, activation_needs_an_activation_datetime);
    tcase_add_test(tc, future_check_reads_the_meter_clock);
    tcase_add_test(tc, overdue_only_after_more_than_the_retry_interval);
    tcase_add_test(tc, command_is_sent_retried_then_fails_without_an_answer);
    tcase_add_test(tc, command_that_fell_due_while_down_acts_once);
    tcase_add_test(tc, command_ends_once);
    tcase_add_test(tc, command_status_names_round_trip);
    tcase_add_test(tc, command_message_has_the_wire_shape);
    tcase_add_test(tc, result_payloads_are_validated);
    tcase_add_test(tc, result_lengths_are_bounded);
    tcase_add_test(tc, status_rules_apply_in_order);
    tcase_add_test(tc, status_of_a_tariff_the_meter_holds_or_needs_no_push);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
