/* check_topics.c — the topic API (SPEC §3): every inbound form with and without a root, response
 * and other topics refused, invalid serials flagged not dropped, and outbound topics that the
 * broker would refuse never formed. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "topics.h"

static const struct {
    const char *name;
    enum topic_action action;
} inbound[] = {
    {"reported", TOPIC_REPORTED}, {"desired", TOPIC_DESIRED},
    {"get", TOPIC_GET},           {"delete", TOPIC_DELETE},
    {"reads", TOPIC_READS},       {"commands/result", TOPIC_COMMAND_RESULT},
};

static int parse(const char *root, const char *topic, struct topic_parsed *out)
{
    return topic_parse(root, topic, strlen(topic), out);
}

static void refused(const char *root, const char *topic)
{
    struct topic_parsed p = {.action = TOPIC_UNKNOWN};
    ck_assert_msg(parse(root, topic, &p) == -1, "accepted: root=%s topic=%s",
                  root ? root : "(null)", topic);
}

static void check_inbound_forms(const char *root, const char *prefix)
{
    for (size_t i = 0; i < sizeof inbound / sizeof inbound[0]; i++) {
        char topic[256];
        snprintf(topic, sizeof topic, "%smeters/EML2137580826/%s", prefix, inbound[i].name);
        struct topic_parsed p;
        memset(&p, 0, sizeof p);
        ck_assert_int_eq(parse(root, topic, &p), 0);
        ck_assert_int_eq(p.action, inbound[i].action);
        ck_assert_uint_eq(p.serial_len, 13);
        ck_assert(memcmp(p.serial, "EML2137580826", 13) == 0);
        ck_assert_ptr_eq(p.serial, topic + strlen(prefix) + strlen("meters/"));
        ck_assert(p.serial_valid);
        ck_assert_str_eq(topic_action_name(p.action), inbound[i].name);
    }
}

START_TEST(inbound_without_root)
{
    check_inbound_forms(NULL, "");
    check_inbound_forms("", "");
}
END_TEST

START_TEST(inbound_with_root)
{
    check_inbound_forms("site1", "site1/");
    check_inbound_forms("fleet/site1", "fleet/site1/");
}
END_TEST

START_TEST(root_must_match)
{
    refused("site1", "meters/m1/reported");         /* root missing */
    refused("site1", "site2/meters/m1/reported");   /* another root */
    refused("site1", "site10/meters/m1/reported");  /* root is a whole level */
    refused("site1", "site1meters/m1/reported");    /* no separator */
    refused("site1", "site1//meters/m1/reported");  /* empty level after the root */
    refused("site1", "x/site1/meters/m1/reported"); /* root not at the start */
    refused(NULL, "site1/meters/m1/reported");      /* no root configured */
    refused("", "/meters/m1/reported");             /* leading slash */
    refused("site1", "site1");
    refused("site1", "site1/");
}
END_TEST

START_TEST(response_and_other_topics_refused)
{
    static const char *const others[] = {
        "meters/m1/reported/accepted",
        "meters/m1/reported/rejected",
        "meters/m1/desired/accepted",
        "meters/m1/get/accepted",
        "meters/m1/delete/rejected",
        "meters/m1/reads/accepted",
        "meters/m1/commands/result/accepted",
        "meters/m1/commands",
        "meters/m1/commands/",
        "meters/m1/commands/results",
        "meters/m1/delta",
        "meters/m1/documents",
        "meters/m1/events",
        "meters/m1/Reported",
        "meters/m1/reported/",
        "meters/m1/reportedx",
        "meters/m1/repor",
        "meters/m1/",
        "meters/m1",
        "meters/",
        "meters",
        "",
        "Meters/m1/reported",
        "meter/m1/reported",
        "circuits/c1/hh",
        "shadowd/status",
        "meters/a/b/reported", /* the serial is one level */
    };
    for (size_t i = 0; i < sizeof others / sizeof others[0]; i++) {
        refused(NULL, others[i]);
        char rooted[128];
        snprintf(rooted, sizeof rooted, "site1/%s", others[i]);
        refused("site1", rooted);
    }
}
END_TEST

START_TEST(parse_uses_length_not_nul)
{
    /* Only topic[0..len) is read: a longer buffer is cut where the caller says. */
    const char *buf = "meters/m1/reported/accepted";
    struct topic_parsed p;
    ck_assert_int_eq(topic_parse(NULL, buf, strlen("meters/m1/reported"), &p), 0);
    ck_assert_int_eq(p.action, TOPIC_REPORTED);
    ck_assert_int_eq(topic_parse(NULL, buf, strlen("meters/m1/rep"), &p), -1);
    /* An embedded NUL is a byte like another: in the action it makes no match. */
    const char nul_action[] = "meters/m1/get\0";
    ck_assert_int_eq(topic_parse(NULL, nul_action, sizeof nul_action - 1, &p), -1);
}
END_TEST

static void flagged(const char *serial, size_t len)
{
    char topic[256];
    memcpy(topic, "meters/", 7);
    memcpy(topic + 7, serial, len);
    memcpy(topic + 7 + len, "/reported", 9);
    struct topic_parsed p;
    memset(&p, 0, sizeof p);
    ck_assert_int_eq(topic_parse(NULL, topic, 7 + len + 9, &p), 0);
    ck_assert_int_eq(p.action, TOPIC_REPORTED);
    ck_assert_uint_eq(p.serial_len, len);
    ck_assert_ptr_eq(p.serial, topic + 7);
    ck_assert(!p.serial_valid);
    ck_assert(!topic_serial_valid(serial, len));
}

START_TEST(invalid_serials_flagged)
{
    char s65[66];
    memset(s65, 'A', 65);
    s65[65] = '\0';
    flagged(s65, 65);
    flagged("", 0);
    flagged(".", 1);
    flagged("m.1", 3);
    flagged(" ", 1);
    flagged("m 1", 3);
    flagged("m\xc3\xa9ter", 6); /* é */
    flagged("\xe2\x9a\xa1", 3); /* ⚡ */
    flagged("+", 1);
    flagged("#", 1);
    flagged("m\0001", 3);
    flagged("m:1", 3);
    flagged("m1\xff", 3);
}
END_TEST

START_TEST(serial_rule)
{
    char s64[65];
    memset(s64, 'z', 64);
    s64[64] = '\0';
    ck_assert(topic_serial_valid(s64, 64));
    ck_assert(topic_serial_valid("A", 1));
    ck_assert(topic_serial_valid("EML2137580826", 13));
    ck_assert(topic_serial_valid("abc_XYZ-019", 11));
    ck_assert(topic_serial_valid("-", 1));
    ck_assert(topic_serial_valid("_", 1));
    ck_assert(!topic_serial_valid("", 0));
    ck_assert(!topic_serial_valid("a/b", 3));
    ck_assert(!topic_serial_valid("a\tb", 3));
    /* only len bytes count */
    ck_assert(topic_serial_valid("ab.", 2));

    struct topic_parsed p;
    const char *t64 = "meters/zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz/get";
    ck_assert_int_eq(parse(NULL, t64, &p), 0);
    ck_assert_uint_eq(p.serial_len, 64);
    ck_assert(p.serial_valid);
}
END_TEST

START_TEST(meter_topics)
{
    char buf[TOPIC_MAX];
    ck_assert_int_eq(topic_meter(buf, sizeof buf, NULL, "m1", 2, "reported/accepted"), 0);
    ck_assert_str_eq(buf, "meters/m1/reported/accepted");
    ck_assert_int_eq(topic_meter(buf, sizeof buf, "", "m1", 2, "delta"), 0);
    ck_assert_str_eq(buf, "meters/m1/delta");
    ck_assert_int_eq(topic_meter(buf, sizeof buf, "site1", "m1", 2, "commands/result/rejected"), 0);
    ck_assert_str_eq(buf, "site1/meters/m1/commands/result/rejected");
    /* serial_len bytes only: the serial may point into a longer topic */
    ck_assert_int_eq(topic_meter(buf, sizeof buf, NULL, "m1/reported", 2, "get/accepted"), 0);
    ck_assert_str_eq(buf, "meters/m1/get/accepted");
}
END_TEST

START_TEST(meter_topics_for_invalid_serials)
{
    /* An invalid serial is still answered where a topic can be formed. */
    char buf[TOPIC_MAX];
    ck_assert_int_eq(topic_meter(buf, sizeof buf, NULL, "m.1", 3, "reported/rejected"), 0);
    ck_assert_str_eq(buf, "meters/m.1/reported/rejected");
    ck_assert_int_eq(topic_meter(buf, sizeof buf, NULL, "", 0, "get/rejected"), 0);
    ck_assert_str_eq(buf, "meters//get/rejected");
    ck_assert_int_eq(topic_meter(buf, sizeof buf, NULL, "m\xc3\xa9", 3, "get/rejected"), 0);
    ck_assert_str_eq(buf, "meters/m\xc3\xa9/get/rejected");
    char s65[65];
    memset(s65, 'A', 65);
    ck_assert_int_eq(topic_meter(buf, sizeof buf, NULL, s65, 65, "get/rejected"), 0);
    ck_assert_uint_eq(strlen(buf), 7 + 65 + 13);
}
END_TEST

static void meter_refused(const char *root, const char *serial, size_t len, const char *suffix)
{
    char buf[TOPIC_MAX];
    strcpy(buf, "untouched");
    ck_assert_int_eq(topic_meter(buf, sizeof buf, root, serial, len, suffix), -1);
}

START_TEST(meter_topics_refused)
{
    meter_refused(NULL, "+", 1, "reported/rejected");
    meter_refused(NULL, "#", 1, "reported/rejected");
    meter_refused(NULL, "m+1", 3, "reported/rejected");
    meter_refused(NULL, "m#", 2, "reported/rejected");
    meter_refused(NULL, "m\0001", 3, "reported/rejected"); /* NUL */
    meter_refused(NULL, "a/b", 3, "reported/rejected");    /* would name another meter */
    meter_refused(NULL, "m\x01", 2, "reported/rejected");  /* control characters */
    meter_refused(NULL, "m\x1f", 2, "reported/rejected");
    meter_refused(NULL, "m\x7f", 2, "reported/rejected");
    meter_refused(NULL, "m\xc2\x85", 3, "reported/rejected");         /* U+0085, a C1 control */
    meter_refused(NULL, "m\xef\xb7\x90", 4, "reported/rejected");     /* U+FDD0 */
    meter_refused(NULL, "m\xef\xbf\xbf", 4, "reported/rejected");     /* U+FFFF */
    meter_refused(NULL, "m\xf0\x9f\xbf\xbe", 5, "reported/rejected"); /* U+1FFFE */
    meter_refused(NULL, "m\xff", 2, "reported/rejected");             /* not UTF-8 */
    meter_refused(NULL, "m\xc0\xaf", 3, "reported/rejected");         /* overlong '/' */
    meter_refused(NULL, "m\xed\xa0\x80", 4, "reported/rejected");     /* surrogate */
    meter_refused(NULL, "m\xc3", 2, "reported/rejected");             /* truncated */
    meter_refused("site+", "m1", 2, "reported/rejected");
    meter_refused(NULL, "m1", 2, "#");
    meter_refused(NULL, NULL, 0, "get/rejected");
    meter_refused(NULL, "m1", 2, NULL);

    char buf[TOPIC_MAX];
    /* the next code points past the refused ones are fine */
    ck_assert_int_eq(topic_meter(buf, sizeof buf, NULL, "m\xc2\xa0", 3, "get"), 0);     /* U+00A0 */
    ck_assert_int_eq(topic_meter(buf, sizeof buf, NULL, "m\xef\xb7\xb0", 4, "get"), 0); /* FDF0 */
    ck_assert_int_eq(topic_meter(buf, sizeof buf, NULL, "m\xef\xbf\xbd", 4, "get"), 0); /* FFFD */
    ck_assert_int_eq(topic_meter(buf, sizeof buf, NULL, "m\xf0\x9f\x98\x80", 5, "get"), 0);
}
END_TEST

START_TEST(buffer_too_small)
{
    /* "meters/m1/get" is 13 bytes: 14 with its NUL fit, 13 do not. */
    char buf[64];
    ck_assert_int_eq(topic_meter(buf, 14, NULL, "m1", 2, "get"), 0);
    ck_assert_str_eq(buf, "meters/m1/get");
    memset(buf, 'x', sizeof buf);
    ck_assert_int_eq(topic_meter(buf, 13, NULL, "m1", 2, "get"), -1);
    for (size_t i = 13; i < sizeof buf; i++)
        ck_assert_int_eq(buf[i], 'x'); /* nothing written past cap */
    ck_assert_int_eq(topic_meter(buf, 0, NULL, "m1", 2, "get"), -1);
    ck_assert_int_eq(topic_meter(NULL, 0, NULL, "m1", 2, "get"), -1);
    /* "site1/meters/m1/get" is 19 bytes */
    ck_assert_int_eq(topic_meter(buf, 20, "site1", "m1", 2, "get"), 0);
    ck_assert_int_eq(topic_meter(buf, 19, "site1", "m1", 2, "get"), -1);
    /* a serial as long as the buffer */
    char big[TOPIC_MAX + 1];
    memset(big, 'A', sizeof big);
    char out[TOPIC_MAX];
    ck_assert_int_eq(topic_meter(out, sizeof out, NULL, big, sizeof big, "get"), -1);
}
END_TEST

START_TEST(service_topics)
{
    char buf[TOPIC_MAX];
    ck_assert_int_eq(topic_service(buf, sizeof buf, NULL, "shadowd/status"), 0);
    ck_assert_str_eq(buf, "shadowd/status");
    ck_assert_int_eq(topic_service(buf, sizeof buf, "", "shadowd/stats"), 0);
    ck_assert_str_eq(buf, "shadowd/stats");
    ck_assert_int_eq(topic_service(buf, sizeof buf, "site1", "shadowd/status"), 0);
    ck_assert_str_eq(buf, "site1/shadowd/status");
    ck_assert_int_eq(topic_service(buf, sizeof buf, "site1", "circuits/2b1f/hh"), 0);
    ck_assert_str_eq(buf, "site1/circuits/2b1f/hh");
    ck_assert_int_eq(topic_service(buf, 21, "site1", "shadowd/status"), 0);
    ck_assert_int_eq(topic_service(buf, 20, "site1", "shadowd/status"), -1);
    ck_assert_int_eq(topic_service(buf, sizeof buf, NULL, ""), -1);
    ck_assert_int_eq(topic_service(buf, sizeof buf, NULL, NULL), -1);
    ck_assert_int_eq(topic_service(buf, sizeof buf, NULL, "circuits/+/hh"), -1);
    ck_assert_int_eq(topic_service(buf, sizeof buf, "#", "shadowd/status"), -1);
}
END_TEST

START_TEST(action_names)
{
    ck_assert_ptr_null(topic_action_name(TOPIC_UNKNOWN));
    ck_assert_ptr_null(topic_action_name((enum topic_action)99));
    ck_assert_str_eq(topic_action_name(TOPIC_REPORTED), "reported");
    ck_assert_str_eq(topic_action_name(TOPIC_DESIRED), "desired");
    ck_assert_str_eq(topic_action_name(TOPIC_GET), "get");
    ck_assert_str_eq(topic_action_name(TOPIC_DELETE), "delete");
    ck_assert_str_eq(topic_action_name(TOPIC_READS), "reads");
    ck_assert_str_eq(topic_action_name(TOPIC_COMMAND_RESULT), "commands/result");
}
END_TEST

START_TEST(parse_then_answer)
{
    /* The service's round trip: parse an inbound topic, answer on its rejected topic. */
    const char *topic = "site1/meters/bad.serial/desired";
    struct topic_parsed p;
    ck_assert_int_eq(parse("site1", topic, &p), 0);
    ck_assert(!p.serial_valid);
    char buf[TOPIC_MAX], suffix[64];
    snprintf(suffix, sizeof suffix, "%s/rejected", topic_action_name(p.action));
    ck_assert_int_eq(topic_meter(buf, sizeof buf, "site1", p.serial, p.serial_len, suffix), 0);
    ck_assert_str_eq(buf, "site1/meters/bad.serial/desired/rejected");
}
END_TEST

static Suite *topics_suite(void)
{
    Suite *s = suite_create("topics");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, inbound_without_root);
    tcase_add_test(tc, inbound_with_root);
    tcase_add_test(tc, root_must_match);
    tcase_add_test(tc, response_and_other_topics_refused);
    tcase_add_test(tc, parse_uses_length_not_nul);
    tcase_add_test(tc, invalid_serials_flagged);
    tcase_add_test(tc, serial_rule);
    tcase_add_test(tc, meter_topics);
    tcase_add_test(tc, meter_topics_for_invalid_serials);
    tcase_add_test(tc, meter_topics_refused);
    tcase_add_test(tc, buffer_too_small);
    tcase_add_test(tc, service_topics);
    tcase_add_test(tc, action_names);
    tcase_add_test(tc, parse_then_answer);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(topics_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
