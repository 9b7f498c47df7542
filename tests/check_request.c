/* check_request.c — decoding inbound payloads (SPEC §4.7 steps 2–8, §4.8): every error with its
 * exact message, the order in which checks answer, which clientToken an error may echo, and the
 * UTF-8 validator on its own. */
#include <check.h>
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "request.h"
#include "shadow.h"

#define MAX_PAYLOAD 4096
static const struct request_limits limits = {.max_payload_bytes = MAX_PAYLOAD, .max_depth = 4};

/* Parses a copy of payload[0..len) in a buffer of exactly len bytes, so that any read past the
 * length is caught by AddressSanitizer: the payload is not NUL-terminated. */
static int parse_n(enum topic_action action, const char *payload, size_t len, struct request *req,
                   struct api_error *err)
{
    char *copy = malloc(len > 0 ? len : 1);
    ck_assert_ptr_nonnull(copy);
    memcpy(copy, payload, len);
    memset(err, 0, sizeof *err);
    int rc = request_parse(action, copy, len, &limits, req, err);
    free(copy);
    return rc;
}

static int parse(enum topic_action action, const char *payload, struct request *req,
                 struct api_error *err)
{
    return parse_n(action, payload, strlen(payload), req, err);
}

/* Asserts that payload fails with code and message; leaves *req for token checks. */
static void fails_n(enum topic_action action, const char *payload, size_t len, int code,
                    const char *message, struct request *req)
{
    struct api_error err;
    ck_assert_msg(parse_n(action, payload, len, req, &err) == -1, "accepted: %.*s", (int)len,
                  payload);
    ck_assert_msg(err.code == code && strcmp(err.message, message) == 0,
                  "%.*s: got %d '%s', want %d '%s'", (int)len, payload, err.code, err.message, code,
                  message);
    ck_assert_ptr_null(req->root);
    ck_assert_ptr_null(req->state);
    ck_assert_int_eq(req->action, action);
}

static void fails(enum topic_action action, const char *payload, int code, const char *message,
                  struct request *req)
{
    fails_n(action, payload, strlen(payload), code, message, req);
}

static void ok(enum topic_action action, const char *payload, struct request *req)
{
    struct api_error err;
    ck_assert_msg(parse(action, payload, req, &err) == 0, "refused %s: %d %s", payload, err.code,
                  err.message);
    ck_assert_int_eq(req->action, action);
}

#define INVALID_JSON "Invalid JSON"
#define NOT_OBJECT "Payload must be a JSON object"
#define BAD_TOKEN "Invalid clientToken"
#define NO_STATE "Missing required node: state"
#define STATE_NOT_OBJECT "State node must be an object"
#define DESIRED_NOT_NULL "Desired node must be null"
#define BAD_VERSION "Invalid version"
#define TOO_LARGE "The payload exceeds the maximum size allowed"
#define BAD_ENCODING "Unsupported encoding; supported encoding is UTF-8"

static const enum topic_action all_actions[] = {
    TOPIC_REPORTED, TOPIC_DESIRED, TOPIC_GET, TOPIC_DELETE, TOPIC_READS, TOPIC_COMMAND_RESULT};
#define N_ACTIONS (sizeof all_actions / sizeof all_actions[0])

/* --- UTF-8 --- */

static bool utf8(const char *s, size_t len)
{
    return utf8_valid(s, len);
}

START_TEST(utf8_accepts)
{
    ck_assert(utf8("", 0));
    ck_assert(utf8(NULL, 0));
    ck_assert(utf8("plain ascii {\"a\":1}", 19));
    ck_assert(utf8("\0", 1)); /* U+0000 is UTF-8; JSON refuses it later */
    ck_assert(utf8("\x7f", 1));
    ck_assert(utf8("\xc2\x80", 2));         /* U+0080 */
    ck_assert(utf8("\xdf\xbf", 2));         /* U+07FF */
    ck_assert(utf8("\xe0\xa0\x80", 3));     /* U+0800 */
    ck_assert(utf8("\xed\x9f\xbf", 3));     /* U+D7FF */
    ck_assert(utf8("\xee\x80\x80", 3));     /* U+E000 */
    ck_assert(utf8("\xef\xbf\xbf", 3));     /* U+FFFF */
    ck_assert(utf8("\xf0\x90\x80\x80", 4)); /* U+10000 */
    ck_assert(utf8("\xf4\x8f\xbf\xbf", 4)); /* U+10FFFF */
    ck_assert(utf8("\xc2\xa3"
                   "5 \xe2\x82\xac \xf0\x9f\x98\x80",
                   12)); /* £5 € 😀 */
}
END_TEST

START_TEST(utf8_refuses)
{
    ck_assert(!utf8("\x80", 1));                     /* stray continuation */
    ck_assert(!utf8("a\xbf", 2));                    /* stray continuation */
    ck_assert(!utf8("\xc0\x80", 2));                 /* overlong U+0000 */
    ck_assert(!utf8("\xc0\xaf", 2));                 /* overlong '/' */
    ck_assert(!utf8("\xc1\xbf", 2));                 /* overlong U+007F */
    ck_assert(!utf8("\xe0\x80\x80", 3));             /* overlong */
    ck_assert(!utf8("\xe0\x9f\xbf", 3));             /* overlong U+07FF */
    ck_assert(!utf8("\xf0\x80\x80\x80", 4));         /* overlong */
    ck_assert(!utf8("\xf0\x8f\xbf\xbf", 4));         /* overlong U+FFFF */
    ck_assert(!utf8("\xed\xa0\x80", 3));             /* U+D800 */
    ck_assert(!utf8("\xed\xbf\xbf", 3));             /* U+DFFF */
    ck_assert(!utf8("\xed\xa0\xbd\xed\xb8\x80", 6)); /* CESU-8 surrogate pair */
    ck_assert(!utf8("\xf4\x90\x80\x80", 4));         /* U+110000 */
    ck_assert(!utf8("\xf5\x80\x80\x80", 4));
    ck_assert(!utf8("\xf8\x88\x80\x80\x80", 5)); /* 5-byte form */
    ck_assert(!utf8("\xfe", 1));
    ck_assert(!utf8("\xff", 1));
    ck_assert(!utf8("\xc3", 1));             /* truncated */
    ck_assert(!utf8("\xe2\x82", 2));         /* truncated */
    ck_assert(!utf8("\xf0\x9f\x98", 3));     /* truncated */
    ck_assert(!utf8("ok\xe2\x82", 4));       /* truncated at the end */
    ck_assert(!utf8("\xc3\x41", 2));         /* continuation missing */
    ck_assert(!utf8("\xe2\x28\xa1", 3));     /* continuation missing */
    ck_assert(!utf8("\xf0\x9f\x98\x41", 4)); /* continuation missing */
    /* length counts: the valid prefix of a cut sequence is not enough */
    ck_assert(!utf8("\xc3\xa9", 1));
    ck_assert(utf8("\xc3\xa9", 2));
}
END_TEST

/* --- 1. size --- */

START_TEST(size_limit)
{
    struct request req;
    char *big = malloc(MAX_PAYLOAD + 1);
    ck_assert_ptr_nonnull(big);
    /* exactly the limit: accepted */
    memset(big, ' ', MAX_PAYLOAD);
    memcpy(big, "{\"clientToken\":\"t\"}", 19);
    struct api_error err;
    ck_assert_int_eq(parse_n(TOPIC_GET, big, MAX_PAYLOAD, &req, &err), 0);
    ck_assert(req.has_token);
    request_free(&req);
    /* one byte more: 413 before anything else, whatever the bytes */
    for (size_t i = 0; i < N_ACTIONS; i++) {
        memset(big, ' ', MAX_PAYLOAD + 1);
        memcpy(big, "{\"clientToken\":\"t\"}", 19);
        fails_n(all_actions[i], big, MAX_PAYLOAD + 1, 413, TOO_LARGE, &req);
        ck_assert(!req.has_token);
        memset(big, '{', MAX_PAYLOAD + 1); /* invalid JSON too */
        fails_n(all_actions[i], big, MAX_PAYLOAD + 1, 413, TOO_LARGE, &req);
        memset(big, 0xff, MAX_PAYLOAD + 1); /* invalid UTF-8 too */
        fails_n(all_actions[i], big, MAX_PAYLOAD + 1, 413, TOO_LARGE, &req);
    }
    free(big);
}
END_TEST

/* --- 2. UTF-8 --- */

START_TEST(encoding)
{
    struct request req;
    for (size_t i = 0; i < N_ACTIONS; i++) {
        fails(all_actions[i], "{\"state\":{\"a\":\"\xff\"}}", 415, BAD_ENCODING, &req);
        fails(all_actions[i], "{\"clientToken\":\"\xc0\xaf\"}", 415, BAD_ENCODING, &req);
        ck_assert(!req.has_token);
        fails(all_actions[i], "\xed\xa0\x80", 415, BAD_ENCODING, &req); /* and not JSON */
        fails(all_actions[i], "{\"a\":\"\xe2\x82\"}", 415, BAD_ENCODING, &req);
    }
    /* valid multi-byte text passes */
    ok(TOPIC_REPORTED, "{\"state\":{\"name\":\"caf\xc3\xa9 \xf0\x9f\x98\x80\"}}", &req);
    request_free(&req);
}
END_TEST

/* --- 3. JSON --- */

START_TEST(invalid_json)
{
    static const char *const bad[] = {
        "{",
        "}",
        "{\"state\":}",
        "{\"state\":{},}",
        "{'state':{}}",
        "{\"state\":{}} x",
        "{\"state\":{}}{}",
        "{} {}",
        "{}]",
        "nul",
        "{\"a\":tru}",
        "{\"a\":\"unterminated}",
        "{\"a\":\"\\ud800\"}",   /* lone surrogate escape */
        "{\"a\":\"tab\there\"}", /* raw control character in a string */
        "{\"a\":\"line\nbreak\"}",
        "{\"a\":\"nul\\u0000cut\"}", /* would be cut short */
        "{\"a\":1,\"a\":2}",         /* duplicate key */
        "{\"state\":{\"x\":{\"k\":1,\"j\":2,\"k\":3}}}",
        "{\"a\":1e400}", /* not representable */
        "{\"a\":[-1e999]}",
        "\xef\xbb\xbf\xef\xbb\xbf{}",
        "/* c */ {}",
    };
    struct request req;
    for (size_t a = 0; a < N_ACTIONS; a++)
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
            fails(all_actions[a], bad[i], 400, INVALID_JSON, &req);
    /* a NUL right after the value, and inside a string */
    fails_n(TOPIC_GET, "{}\0", 3, 400, INVALID_JSON, &req);
    fails_n(TOPIC_REPORTED, "{\"state\":{\"a\":\"x\0y\"}}", 21, 400, INVALID_JSON, &req);
    fails_n(TOPIC_GET, "\0", 1, 400, INVALID_JSON, &req);
}
END_TEST

START_TEST(valid_json_edges)
{
    struct request req;
    /* whitespace around the value, escaped backslashes before "u0000", unique keys */
    ok(TOPIC_REPORTED, " \t\r\n{\"state\":{\"a\":\"\\\\u0000\"}} \n", &req);
    ck_assert_str_eq(cJSON_GetObjectItem(req.state, "a")->valuestring, "\\u0000");
    request_free(&req);
    /* the same key in two objects is no duplicate */
    ok(TOPIC_REPORTED, "{\"state\":{\"a\":{\"k\":1},\"b\":{\"k\":2}}}", &req);
    request_free(&req);
    ok(TOPIC_REPORTED, "{\"state\":{\"q\":\"say \\\"hi\\\" \\n\"}}", &req);
    request_free(&req);
    ok(TOPIC_REPORTED, "{\"state\":{\"big\":1e308,\"neg\":-1e-400}}", &req);
    request_free(&req);
    /* many keys: the duplicate check stays fast and exact */
    size_t cap = 200000;
    char *many = malloc(cap);
    ck_assert_ptr_nonnull(many);
    size_t n = (size_t)snprintf(many, cap, "{\"state\":{");
    for (int i = 0; i < 5000; i++)
        n += (size_t)snprintf(many + n, cap - n, "%s\"k%d\":%d", i ? "," : "", i, i);
    n += (size_t)snprintf(many + n, cap - n, "}}");
    struct request_limits wide = {.max_payload_bytes = cap, .max_depth = 4};
    struct api_error err;
    ck_assert_int_eq(request_parse(TOPIC_REPORTED, many, n, &wide, &req, &err), 0);
    request_free(&req);
    memcpy(many + n - 2, ",\"k4999\":1}}", 12); /* one duplicate at the very end */
    ck_assert_int_eq(request_parse(TOPIC_REPORTED, many, n + 10, &wide, &req, &err), -1);
    ck_assert_str_eq(err.message, INVALID_JSON);
    free(many);
}
END_TEST

START_TEST(empty_payload)
{
    struct request req;
    struct api_error err;
    /* get and delete: no body at all, or only whitespace */
    ck_assert_int_eq(parse_n(TOPIC_GET, "", 0, &req, &err), 0);
    ck_assert_ptr_null(req.root);
    ck_assert(!req.has_token);
    request_free(&req);
    ck_assert_int_eq(parse_n(TOPIC_DELETE, "", 0, &req, &err), 0);
    ck_assert_ptr_null(req.root);
    ck_assert_int_eq(request_parse(TOPIC_GET, NULL, 0, &limits, &req, &err), 0);
    ck_assert_int_eq(parse(TOPIC_GET, " \n", &req, &err), 0);
    ck_assert_ptr_null(req.root);
    ck_assert_int_eq(parse(TOPIC_DELETE, "\r\n\t ", &req, &err), 0);
    /* the others need a body */
    fails_n(TOPIC_REPORTED, "", 0, 400, INVALID_JSON, &req);
    fails_n(TOPIC_DESIRED, "", 0, 400, INVALID_JSON, &req);
    fails_n(TOPIC_READS, "", 0, 400, INVALID_JSON, &req);
    fails_n(TOPIC_COMMAND_RESULT, "", 0, 400, INVALID_JSON, &req);
    fails(TOPIC_REPORTED, "  \n", 400, INVALID_JSON, &req);
    /* a body on get/delete must still be an object */
    fails(TOPIC_GET, "null", 400, NOT_OBJECT, &req);
    fails(TOPIC_DELETE, "[]", 400, NOT_OBJECT, &req);
    ok(TOPIC_GET, "{}", &req);
    ck_assert_ptr_nonnull(req.root);
    ck_assert(!req.has_token);
    request_free(&req);
}
END_TEST

/* --- 4. object --- */

START_TEST(not_an_object)
{
    static const char *const bad[] = {
        "[]", "[{\"state\":{}}]", "1", "-0.5", "\"state\"", "true", "false", "null", " 42 "};
    struct request req;
    for (size_t a = 0; a < N_ACTIONS; a++)
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
            fails(all_actions[a], bad[i], 400, NOT_OBJECT, &req);
}
END_TEST

/* --- 5. clientToken --- */

START_TEST(client_token)
{
    struct request req;
    char token64[65], token65[66], payload[256];
    memset(token64, 'x', 64);
    token64[64] = '\0';
    memset(token65, 'y', 65);
    token65[65] = '\0';

    snprintf(payload, sizeof payload, "{\"state\":{},\"clientToken\":\"%s\"}", token64);
    ok(TOPIC_DESIRED, payload, &req);
    ck_assert(req.has_token);
    ck_assert_str_eq(req.token, token64);
    request_free(&req);

    snprintf(payload, sizeof payload, "{\"state\":{},\"clientToken\":\"%s\"}", token65);
    fails(TOPIC_DESIRED, payload, 400, BAD_TOKEN, &req);
    ck_assert(!req.has_token);
    ck_assert_str_eq(req.token, "");

    /* 64 bytes, not characters: 32 × "é" fit, 33 do not */
    char accents[80] = "";
    for (int i = 0; i < 32; i++)
        strcat(accents, "\xc3\xa9");
    snprintf(payload, sizeof payload, "{\"clientToken\":\"%s\"}", accents);
    ok(TOPIC_GET, payload, &req);
    ck_assert_str_eq(req.token, accents);
    request_free(&req);
    snprintf(payload, sizeof payload, "{\"clientToken\":\"%s\xc3\xa9\"}", accents);
    fails(TOPIC_GET, payload, 400, BAD_TOKEN, &req);
    /* measured after unescaping: 64 × "\n" escapes are 128 bytes of text, 64 bytes of token */
    char escaped[200] = "{\"clientToken\":\"";
    for (int i = 0; i < 64; i++)
        strcat(escaped, "\\n");
    strcat(escaped, "\"}");
    ok(TOPIC_GET, escaped, &req);
    ck_assert_uint_eq(strlen(req.token), 64);
    request_free(&req);

    ok(TOPIC_GET, "{\"clientToken\":\"\"}", &req); /* empty is a string of ≤ 64 bytes */
    ck_assert(req.has_token);
    ck_assert_str_eq(req.token, "");
    request_free(&req);

    static const char *const wrong_type[] = {
        "{\"clientToken\":null}",    "{\"clientToken\":42}",        "{\"clientToken\":true}",
        "{\"clientToken\":[\"a\"]}", "{\"clientToken\":{\"a\":1}}",
    };
    for (size_t a = 0; a < N_ACTIONS; a++)
        for (size_t i = 0; i < sizeof wrong_type / sizeof wrong_type[0]; i++) {
            fails(all_actions[a], wrong_type[i], 400, BAD_TOKEN, &req);
            ck_assert(!req.has_token);
        }
    /* the key is case-sensitive: another spelling is just an unknown member */
    ok(TOPIC_GET, "{\"clienttoken\":42}", &req);
    ck_assert(!req.has_token);
    request_free(&req);
    /* every topic echoes a good token */
    for (size_t a = 0; a < N_ACTIONS; a++) {
        ok(all_actions[a], "{\"state\":{},\"clientToken\":\"abc\"}", &req);
        ck_assert(req.has_token);
        ck_assert_str_eq(req.token, "abc");
        request_free(&req);
    }
}
END_TEST

/* --- 6. state and desired --- */

START_TEST(state_node)
{
    struct request req;
    for (int u = 0; u < 2; u++) {
        enum topic_action a = u ? TOPIC_DESIRED : TOPIC_REPORTED;
        fails(a, "{}", 400, NO_STATE, &req);
        fails(a, "{\"State\":{}}", 400, NO_STATE, &req);
        fails(a, "{\"reported\":{\"a\":1}}", 400, NO_STATE, &req);
        fails(a, "{\"state\":1}", 400, STATE_NOT_OBJECT, &req);
        fails(a, "{\"state\":\"x\"}", 400, STATE_NOT_OBJECT, &req);
        fails(a, "{\"state\":[]}", 400, STATE_NOT_OBJECT, &req);
        fails(a, "{\"state\":[{\"a\":1}]}", 400, STATE_NOT_OBJECT, &req);
        fails(a, "{\"state\":true}", 400, STATE_NOT_OBJECT, &req);

        ok(a, "{\"state\":{}}", &req);
        ck_assert(cJSON_IsObject(req.state));
        ck_assert_ptr_eq(req.state, cJSON_GetObjectItem(req.root, "state"));
        request_free(&req);
        ok(a, "{\"state\":null}", &req); /* drops the section */
        ck_assert(cJSON_IsNull(req.state));
        request_free(&req);
        ok(a, "{\"state\":{\"import_a\":12.5,\"nested\":{\"x\":[1,2]}},\"extra\":1}", &req);
        ck_assert_double_eq(cJSON_GetObjectItem(req.state, "import_a")->valuedouble, 12.5);
        ck_assert(!req.has_version);
        request_free(&req);
    }
}
END_TEST

START_TEST(desired_on_report)
{
    struct request req;
    ok(TOPIC_REPORTED, "{\"state\":{\"a\":1},\"desired\":null}", &req);
    ck_assert(req.clear_desired);
    request_free(&req);
    ok(TOPIC_REPORTED, "{\"state\":{\"a\":1}}", &req);
    ck_assert(!req.clear_desired);
    request_free(&req);
    static const char *const bad[] = {
        "{\"state\":{},\"desired\":{}}",       "{\"state\":{},\"desired\":{\"a\":1}}",
        "{\"state\":{},\"desired\":1}",        "{\"state\":{},\"desired\":\"null\"}",
        "{\"state\":{},\"desired\":false}",    "{\"state\":{},\"desired\":[]}",
        "{\"state\":null,\"desired\":[null]}",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        fails(TOPIC_REPORTED, bad[i], 400, DESIRED_NOT_NULL, &req);
        ck_assert(!req.clear_desired);
    }
    /* on the desired topic a `desired` member is just an unknown member */
    ok(TOPIC_DESIRED, "{\"state\":{},\"desired\":{\"a\":1}}", &req);
    ck_assert(!req.clear_desired);
    request_free(&req);
    ok(TOPIC_DESIRED, "{\"state\":{},\"desired\":null}", &req);
    ck_assert(!req.clear_desired);
    request_free(&req);
}
END_TEST

START_TEST(ts_presence)
{
    struct request req;
    ok(TOPIC_REPORTED, "{\"state\":{},\"ts\":1795854600}", &req);
    ck_assert(req.has_ts);
    request_free(&req);
    ok(TOPIC_REPORTED, "{\"state\":{},\"ts\":\"not a time\"}", &req); /* judged later */
    ck_assert(req.has_ts);
    request_free(&req);
    ok(TOPIC_REPORTED, "{\"state\":{}}", &req);
    ck_assert(!req.has_ts);
    request_free(&req);
    ok(TOPIC_DESIRED, "{\"state\":{},\"ts\":1795854600}", &req);
    ck_assert(!req.has_ts);
    request_free(&req);
}
END_TEST

/* --- 7. version --- */

START_TEST(version_type)
{
    struct request req;
    static const char *const bad[] = {
        "{\"state\":{},\"version\":1.5}",
        "{\"state\":{},\"version\":-1}",
        "{\"state\":{},\"version\":\"3\"}",
        "{\"state\":{},\"version\":null}",
        "{\"state\":{},\"version\":true}",
        "{\"state\":{},\"version\":[3]}",
        "{\"state\":{},\"version\":{}}",
        "{\"state\":{},\"version\":0.0001}",
        "{\"state\":{},\"version\":1e300}",
        "{\"state\":{},\"version\":9007199254740994}", /* 2^53 + 2 */
    };
    for (int u = 0; u < 2; u++) {
        enum topic_action a = u ? TOPIC_DESIRED : TOPIC_REPORTED;
        for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
            fails(a, bad[i], 400, BAD_VERSION, &req);
            ck_assert(!req.has_version);
        }
        ok(a, "{\"state\":{},\"version\":0}", &req);
        ck_assert(req.has_version);
        ck_assert_int_eq(req.version, 0);
        request_free(&req);
        ok(a, "{\"state\":{},\"version\":7}", &req);
        ck_assert(req.has_version);
        ck_assert_int_eq(req.version, 7);
        request_free(&req);
        ok(a, "{\"state\":{},\"version\":3.0}", &req); /* integral value */
        ck_assert_int_eq(req.version, 3);
        request_free(&req);
        ok(a, "{\"state\":{},\"version\":1e3}", &req);
        ck_assert_int_eq(req.version, 1000);
        request_free(&req);
        ok(a, "{\"state\":{},\"version\":-0}", &req);
        ck_assert_int_eq(req.version, 0);
        request_free(&req);
        ok(a, "{\"state\":{},\"version\":999999999999999}", &req); /* 15 digits: exact */
        ck_assert_int_eq(req.version, INT64_C(999999999999999));
        request_free(&req);
    }
    /* other topics do not look at version */
    ok(TOPIC_GET, "{\"version\":\"x\"}", &req);
    ck_assert(!req.has_version);
    request_free(&req);
    ok(TOPIC_READS, "{\"reads\":[],\"version\":-1}", &req);
    ck_assert(!req.has_version);
    request_free(&req);
}
END_TEST

/* --- 8. structural checks of the patch (shadow_check_patch) --- */

/* The error shadow_check_patch gives for a state tree. */
static struct api_error patch_error(const char *state_json, int max_depth)
{
    struct api_error err = {0};
    cJSON *state = cJSON_Parse(state_json);
    ck_assert_ptr_nonnull(state);
    ck_assert_int_eq(shadow_check_patch(state, max_depth, &err), -1);
    cJSON_Delete(state);
    return err;
}

START_TEST(patch_checks)
{
    struct request req;
    char payload[256];
    static const char *const states[] = {
        "{\"delta\":{\"a\":1}}", "{\"a\":{\"b\":{\"c\":{\"d\":{\"e\":1}}}}}", /* depth 5 > 4 */
        "{\"a\":[[[[1]]]]}",                                                  /* depth 5 > 4 */
        "{\"a\":[1,null]}",      "{\"a\":{\"b\":[null]}}",
    };
    for (int u = 0; u < 2; u++) {
        enum topic_action a = u ? TOPIC_DESIRED : TOPIC_REPORTED;
        for (size_t i = 0; i < sizeof states / sizeof states[0]; i++) {
            struct api_error want = patch_error(states[i], limits.max_depth);
            snprintf(payload, sizeof payload, "{\"clientToken\":\"t%zu\",\"state\":%s}", i,
                     states[i]);
            fails(a, payload, want.code, want.message, &req);
            ck_assert(req.has_token); /* after the token: echoed */
        }
        fails(a, "{\"state\":{\"delta\":{}}}", 400, "State contains an invalid node: 'delta'",
              &req);
        fails(a, "{\"state\":{\"a\":{\"b\":{\"c\":{\"d\":{\"e\":1}}}}}}", 400,
              "JSON contains too many levels of nesting; maximum is 4", &req);
        fails(a, "{\"state\":{\"a\":[1,null]}}", 400, "Arrays can't contain null values", &req);
        /* at the limit, a null leaf (deletion) and a nested delta key are fine */
        ok(a,
           "{\"state\":{\"a\":{\"b\":{\"c\":{\"d\":1}}},\"x\":[[[1]]],\"n\":null,"
           "\"o\":{\"delta\":1}}}",
           &req);
        request_free(&req);
    }
    /* state null is never walked */
    ok(TOPIC_REPORTED, "{\"state\":null}", &req);
    request_free(&req);
    /* other topics do not look at state */
    ok(TOPIC_READS, "{\"reads\":[{\"ts\":1,\"import_a\":null}],\"state\":{\"delta\":[null]}}",
       &req);
    request_free(&req);
    ok(TOPIC_COMMAND_RESULT, "{\"id\":\"c1\",\"status\":\"ok\",\"state\":5}", &req);
    request_free(&req);
}
END_TEST

/* --- Order: the first failing check answers --- */

START_TEST(check_order)
{
    struct request req;
    /* size before UTF-8 and JSON is covered by size_limit; UTF-8 before JSON */
    fails(TOPIC_REPORTED, "{\xff", 415, BAD_ENCODING, &req);
    /* JSON before object */
    fails(TOPIC_REPORTED, "[1,", 400, INVALID_JSON, &req);
    /* object before token */
    fails(TOPIC_REPORTED, "[{\"clientToken\":5}]", 400, NOT_OBJECT, &req);
    /* bad token and no state: the token answers, not echoed */
    fails(TOPIC_REPORTED, "{\"clientToken\":5}", 400, BAD_TOKEN, &req);
    ck_assert(!req.has_token);
    fails(TOPIC_DESIRED, "{\"clientToken\":null,\"state\":1,\"version\":-1}", 400, BAD_TOKEN, &req);
    /* good token and no state: state answers, token echoed */
    fails(TOPIC_REPORTED, "{\"clientToken\":\"abc\"}", 400, NO_STATE, &req);
    ck_assert(req.has_token);
    ck_assert_str_eq(req.token, "abc");
    /* state before desired and version */
    fails(TOPIC_REPORTED, "{\"desired\":1,\"version\":-1,\"clientToken\":\"k\"}", 400, NO_STATE,
          &req);
    ck_assert_str_eq(req.token, "k");
    fails(TOPIC_REPORTED, "{\"state\":[],\"desired\":1,\"version\":-1}", 400, STATE_NOT_OBJECT,
          &req);
    /* desired before version */
    fails(TOPIC_REPORTED, "{\"state\":{},\"desired\":1,\"version\":-1}", 400, DESIRED_NOT_NULL,
          &req);
    /* version before the patch checks */
    fails(TOPIC_DESIRED, "{\"state\":{\"delta\":1},\"version\":\"3\",\"clientToken\":\"v\"}", 400,
          BAD_VERSION, &req);
    ck_assert_str_eq(req.token, "v");
    /* a failure keeps nothing but the action and the token */
    fails(
        TOPIC_REPORTED,
        "{\"state\":{\"a\":[null]},\"desired\":null,\"ts\":1,\"version\":2,\"clientToken\":\"z\"}",
        400, "Arrays can't contain null values", &req);
    ck_assert(!req.clear_desired);
    ck_assert(!req.has_ts);
    ck_assert(!req.has_version);
    ck_assert(req.has_token);
    ck_assert_str_eq(req.token, "z");
}
END_TEST

/* --- The request value --- */

START_TEST(full_report)
{
    struct request req;
    ok(TOPIC_REPORTED,
       "{\"state\":{\"import_a\":1.5},\"desired\":null,\"ts\":\"2026-11-28T08:30:00Z\","
       "\"version\":4,\"clientToken\":\"tok-1\"}",
       &req);
    ck_assert_ptr_nonnull(req.root);
    ck_assert(cJSON_IsObject(req.state));
    ck_assert(req.clear_desired);
    ck_assert(req.has_ts);
    ck_assert(req.has_version);
    ck_assert_int_eq(req.version, 4);
    ck_assert(req.has_token);
    ck_assert_str_eq(req.token, "tok-1");
    request_free(&req);
    ck_assert_ptr_null(req.root);
    ck_assert_ptr_null(req.state);
    ck_assert_str_eq(req.token, "tok-1"); /* kept */
    request_free(&req);                   /* twice is safe */
    request_free(NULL);
}
END_TEST

START_TEST(reused_request_starts_clean)
{
    struct request req;
    ok(TOPIC_REPORTED,
       "{\"state\":{},\"desired\":null,\"ts\":1,\"version\":2,\"clientToken\":\"a\"}", &req);
    request_free(&req);
    ok(TOPIC_GET, "", &req);
    ck_assert(!req.has_token);
    ck_assert(!req.clear_desired);
    ck_assert(!req.has_ts);
    ck_assert(!req.has_version);
    ck_assert_ptr_null(req.root);
    request_free(&req);
}
END_TEST

START_TEST(nesting_beyond_parser)
{
    /* Deeper than cJSON's nesting limit (1000): refused as JSON, without crashing. */
    size_t depth = 2000, len = 2 * depth + 1;
    char *deep = malloc(len);
    ck_assert_ptr_nonnull(deep);
    memset(deep, '[', depth);
    deep[depth] = '1';
    memset(deep + depth + 1, ']', depth);
    struct request req;
    fails_n(TOPIC_GET, deep, len, 400, INVALID_JSON, &req);
    free(deep);
}
END_TEST

START_TEST(json_outside_the_grammar_is_refused)
{
    /* cJSON accepts these; JSON does not, and a bad \u escape would silently cut the string. */
    static const char *const bad[] = {
        "{\"state\":{\"a\":\"x\\uZZZZy\"}}",
        "{\"state\":{\"a\":\"x\\u00G1\"}}",
        "{\"state\":{\"a\":\"x\\q\"}}",
        "{\x0b\"state\":{}}",
        "{\"state\":{\"a\":01}}",
        "{\"state\":{\"a\":1.}}",
        "{\"state\":{\"a\":-.5}}",
        "{\"state\":{\"a\":1.e5}}",
        "{\"state\":{\"a\":1e}}",
        "{\"state\":{\"a\":-}}",
    };
    struct request req;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        fails(TOPIC_REPORTED, bad[i], 400, INVALID_JSON, &req);
    ok(TOPIC_REPORTED, "{\"state\":{\"a\":-0.5e-3,\"b\":\"\\u00e9\\n\",\"c\":10E+2}}", &req);
    request_free(&req);
}
END_TEST

START_TEST(numbers_settle_to_what_is_stored)
{
    struct request req;
    /* Printed with 15 digits, this is 0.3: the request carries the value that will be stored. */
    ok(TOPIC_REPORTED, "{\"state\":{\"x\":0.30000000000000004}}", &req);
    ck_assert(cJSON_GetObjectItemCaseSensitive(req.state, "x")->valuedouble == 0.3);
    request_free(&req);
    /* The largest double prints as a number too large to read back: refused, not stored as null. */
    fails(TOPIC_REPORTED, "{\"state\":{\"x\":1.7976931348623157e308}}", 400, INVALID_JSON, &req);
    ok(TOPIC_REPORTED, "{\"state\":{\"x\":0.1,\"y\":123456.789}}", &req);
    ck_assert(cJSON_GetObjectItemCaseSensitive(req.state, "x")->valuedouble == 0.1);
    ck_assert(cJSON_GetObjectItemCaseSensitive(req.state, "y")->valuedouble == 123456.789);
    request_free(&req);
}
END_TEST

static Suite *request_suite(void)
{
    Suite *s = suite_create("request");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, utf8_accepts);
    tcase_add_test(tc, utf8_refuses);
    tcase_add_test(tc, size_limit);
    tcase_add_test(tc, encoding);
    tcase_add_test(tc, invalid_json);
    tcase_add_test(tc, valid_json_edges);
    tcase_add_test(tc, empty_payload);
    tcase_add_test(tc, not_an_object);
    tcase_add_test(tc, client_token);
    tcase_add_test(tc, state_node);
    tcase_add_test(tc, desired_on_report);
    tcase_add_test(tc, ts_presence);
    tcase_add_test(tc, version_type);
    tcase_add_test(tc, patch_checks);
    tcase_add_test(tc, check_order);
    tcase_add_test(tc, full_report);
    tcase_add_test(tc, reused_request_starts_clean);
    tcase_add_test(tc, nesting_beyond_parser);
    tcase_add_test(tc, json_outside_the_grammar_is_refused);
    tcase_add_test(tc, numbers_settle_to_what_is_stored);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(request_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
