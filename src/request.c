/* request.c — an inbound payload decoded into a request (SPEC §4.7 steps 2–8, §4.8 messages).
 *
 * The checks that need nothing but the bytes, in the SPEC's order, the first failure answering:
 * size (413), UTF-8 (415), JSON, object, clientToken, `state` node, `version` type, then the
 * structural checks of the patch (shadow_check_patch). Everything later — known fields, registry,
 * version conflict, document size — is the service's.
 *
 * The payload is not NUL-terminated, so it is parsed by length. cJSON is more lenient than JSON,
 * and what it lets through would surface later as silent data changes, so "Invalid JSON" also
 * covers, here and nowhere else:
 * - trailing bytes after the value other than JSON whitespace (cJSON's own require-null-terminated
 *   check reads past the length, so it is done here);
 * - raw control characters inside strings and NUL anywhere, and the escape \u0000 (cJSON keeps
 *   strings NUL-terminated and would cut them short);
 * - a number outside the range of a double (cJSON makes it ±inf, which prints as null);
 * - a duplicate key in any object (which copy wins would be the parser's whim).
 * An empty or all-whitespace payload is a request without a body: allowed on get and delete. */
#include "request.h"

#include <assert.h>
#include <cjson/cJSON.h>
#include <ctype.h>
#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "shadow.h"

#define MSG_TOO_LARGE "The payload exceeds the maximum size allowed"
#define MSG_ENCODING "Unsupported encoding; supported encoding is UTF-8"
#define MSG_INVALID_JSON "Invalid JSON"
#define VERSION_MAX 9007199254740992.0 /* 2^53: above it a double no longer counts one by one */

/* --- UTF-8 --- */

bool utf8_valid(const void *s, size_t len)
{
    const unsigned char *p = s;
    size_t i = 0;
    while (i < len) {
        unsigned char c = p[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t n;     /* continuation bytes */
        uint32_t cp;  /* code point */
        uint32_t min; /* smallest code point allowed this many bytes: refuses overlongs */
        if (c >= 0xC2 && c <= 0xDF) {
            n = 1, cp = c & 0x1Fu, min = 0x80;
        } else if ((c & 0xF0) == 0xE0) {
            n = 2, cp = c & 0x0Fu, min = 0x800;
        } else if (c >= 0xF0 && c <= 0xF4) {
            n = 3, cp = c & 0x07u, min = 0x10000;
        } else {
            return false; /* stray continuation byte, C0/C1 (always overlong), F5–FF */
        }
        if (len - i - 1 < n)
            return false; /* truncated */
        for (size_t k = 1; k <= n; k++) {
            if ((p[i + k] & 0xC0) != 0x80)
                return false;
            cp = cp << 6 | (p[i + k] & 0x3Fu);
        }
        if (cp < min || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
            return false;
        i += n + 1;
    }
    return true;
}

/* --- JSON strictness beyond cJSON --- */

static bool json_space(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

/* The end of a JSON number token starting at p[i] (RFC 8259 grammar), or 0 when it is not one.
 * cJSON accepts more (`01`, `1.`, `-.5`), so the grammar is checked on the raw text. */
static size_t json_number_end(const unsigned char *p, size_t len, size_t i)
{
    if (i < len && p[i] == '-')
        i++;
    if (i < len && p[i] == '0')
        i++;
    else if (i < len && p[i] >= '1' && p[i] <= '9')
        while (i < len && isdigit(p[i]))
            i++;
    else
        return 0;
    if (i < len && p[i] == '.') {
        if (++i == len || !isdigit(p[i]))
            return 0;
        while (i < len && isdigit(p[i]))
            i++;
    }
    if (i < len && (p[i] == 'e' || p[i] == 'E')) {
        if (++i < len && (p[i] == '+' || p[i] == '-'))
            i++;
        if (i == len || !isdigit(p[i]))
            return 0;
        while (i < len && isdigit(p[i]))
            i++;
    }
    return i;
}

/* The end of the escape at p[i] (just after a backslash), or 0 when it is not valid JSON.
 * cJSON reads a bad \u escape as U+0000 and cuts the string there, and \u0000 itself would cut
 * it too: both are refused. */
static size_t json_escape_end(const unsigned char *p, size_t len, size_t i)
{
    if (i >= len)
        return 0;
    if (strchr("\"\\/bfnrt", p[i]) != NULL && p[i] != '\0')
        return i + 1;
    if (p[i] != 'u' || len - i < 5 || memcmp(p + i + 1, "0000", 4) == 0)
        return 0;
    for (size_t k = 1; k <= 4; k++)
        if (!isxdigit(p[i + k]))
            return 0;
    return i + 5;
}

/* Lexical checks on the raw text that cJSON does not make: outside strings only JSON whitespace,
 * structure, literals and grammatical numbers (cJSON skips any byte below 0x21 as whitespace);
 * inside strings no control byte and only valid escapes; no NUL anywhere. */
static bool json_lexically_clean(const unsigned char *p, size_t len)
{
    size_t i = 0;
    while (i < len) {
        unsigned char c = p[i];
        if (c == '"') {
            for (i++; i < len && p[i] != '"'; i++) {
                if (p[i] < 0x20)
                    return false;
                if (p[i] == '\\') {
                    size_t end = json_escape_end(p, len, i + 1);
                    if (end == 0)
                        return false;
                    i = end - 1;
                }
            }
            i++;
        } else if (c == '-' || isdigit(c)) {
            /* A number ends at a delimiter: "01" is not two numbers. */
            i = json_number_end(p, len, i);
            if (i == 0 || (i < len && !json_space(p[i]) && strchr(",]}", p[i]) == NULL))
                return false;
        } else if (c < 0x21 && !json_space(c)) {
            return false;
        } else {
            i++;
        }
    }
    return true;
}

/* Settles a number to the value cJSON will print for it: cJSON prints 15 significant digits
 * whenever they come within one DBL_EPSILON of the value, so 0.30000000000000004 is stored as 0.3.
 * Taking that value now makes what is stored, echoed and compared the same number. Returns false
 * for a number whose printed form is not finite (1.7976931348623157e308 prints as 1.798…e+308). */
static bool json_number_settle(cJSON *item)
{
    char text[64];
    double d = item->valuedouble;
    if (!isfinite(d))
        return false;
    snprintf(text, sizeof text, "%1.15g", d);
    double printed = strtod(text, NULL);
    double larger = fabs(printed) > fabs(d) ? fabs(printed) : fabs(d);
    if (printed != d && fabs(printed - d) <= larger * DBL_EPSILON)
        d = printed;
    if (!isfinite(d))
        return false;
    cJSON_SetNumberValue(item, d);
    return true;
}

static int name_cmp(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* 1 when every number in the tree is finite (and settled, see json_number_settle) and no object
 * repeats a key; 0 when not; -1 when memory runs out. Recursion depth is bounded by cJSON's
 * nesting limit (1000). */
static int json_tree_clean(cJSON *item)
{
    if (cJSON_IsNumber(item))
        return json_number_settle(item) ? 1 : 0;
    if (!cJSON_IsObject(item) && !cJSON_IsArray(item))
        return 1;
    size_t n = 0;
    for (cJSON *c = item->child; c != NULL; c = c->next) {
        int r = json_tree_clean(c);
        if (r != 1)
            return r;
        n++;
    }
    if (!cJSON_IsObject(item) || n < 2)
        return 1;
    const char **names = malloc(n * sizeof *names);
    if (names == NULL)
        return -1;
    size_t k = 0;
    for (const cJSON *c = item->child; c != NULL; c = c->next)
        names[k++] = c->string;
    qsort(names, n, sizeof *names, name_cmp);
    int r = 1;
    for (size_t i = 1; i < n && r == 1; i++)
        if (strcmp(names[i - 1], names[i]) == 0)
            r = 0;
    free(names);
    return r;
}

/* Parses payload[0..len) as one JSON value followed only by whitespace. An empty or
 * all-whitespace payload gives *root NULL with 0. */
static int parse_json(const char *payload, size_t len, cJSON **root, struct api_error *err)
{
    *root = NULL;
    size_t start = 0;
    while (start < len && json_space((unsigned char)payload[start]))
        start++;
    if (start == len)
        return 0;
    if (!json_lexically_clean((const unsigned char *)payload, len))
        return api_error_set(err, 400, MSG_INVALID_JSON);
    const char *end = NULL;
    cJSON *json = cJSON_ParseWithLengthOpts(payload, len, &end, false);
    if (json == NULL)
        return api_error_set(err, 400, MSG_INVALID_JSON);
    for (size_t i = (size_t)(end - payload); i < len; i++) {
        if (!json_space((unsigned char)payload[i])) {
            cJSON_Delete(json);
            return api_error_set(err, 400, MSG_INVALID_JSON);
        }
    }
    int clean = json_tree_clean(json);
    if (clean != 1) {
        cJSON_Delete(json);
        return clean < 0 ? api_error_set(err, 500, "Internal failure")
                         : api_error_set(err, 400, MSG_INVALID_JSON);
    }
    *root = json;
    return 0;
}

/* --- The request --- */

static bool is_update(enum topic_action action)
{
    return action == TOPIC_REPORTED || action == TOPIC_DESIRED;
}

/* Steps 6–8 for a report or a desired update; the token is already in req. */
static int check_update(struct request *req, const struct request_limits *limits,
                        struct api_error *err)
{
    const cJSON *root = req->root;
    cJSON *state = cJSON_GetObjectItemCaseSensitive(root, "state");
    if (state == NULL)
        return api_error_set(err, 400, "Missing required node: state");
    if (!cJSON_IsObject(state) && !cJSON_IsNull(state))
        return api_error_set(err, 400, "State node must be an object");
    req->state = state;
    if (req->action == TOPIC_REPORTED) {
        const cJSON *desired = cJSON_GetObjectItemCaseSensitive(root, "desired");
        if (desired != NULL && !cJSON_IsNull(desired))
            return api_error_set(err, 400, "Desired node must be null");
        req->clear_desired = desired != NULL;
        req->has_ts = cJSON_GetObjectItemCaseSensitive(root, "ts") != NULL;
    }
    const cJSON *version = cJSON_GetObjectItemCaseSensitive(root, "version");
    if (version != NULL) {
        if (!cJSON_IsNumber(version) || !(version->valuedouble >= 0.0) ||
            version->valuedouble > VERSION_MAX ||
            version->valuedouble != floor(version->valuedouble))
            return api_error_set(err, 400, "Invalid version");
        req->has_version = true;
        req->version = (int64_t)version->valuedouble;
    }
    if (cJSON_IsObject(state))
        return shadow_check_patch(state, limits->max_depth, err);
    return 0;
}

/* Steps 2–8 (size is the caller's); on failure req->root may be set and is freed by the caller. */
static int decode(struct request *req, const char *payload, size_t len,
                  const struct request_limits *limits, struct api_error *err)
{
    if (!utf8_valid(payload, len))
        return api_error_set(err, 415, MSG_ENCODING);
    if (parse_json(payload, len, &req->root, err) != 0)
        return -1;
    if (req->root == NULL) {
        if (req->action == TOPIC_GET || req->action == TOPIC_DELETE)
            return 0;
        return api_error_set(err, 400, MSG_INVALID_JSON);
    }
    if (!cJSON_IsObject(req->root))
        return api_error_set(err, 400, "Payload must be a JSON object");
    const cJSON *token = cJSON_GetObjectItemCaseSensitive(req->root, "clientToken");
    if (token != NULL) {
        if (!cJSON_IsString(token) || strlen(token->valuestring) > REQUEST_TOKEN_MAX)
            return api_error_set(err, 400, "Invalid clientToken");
        strcpy(req->token, token->valuestring);
        req->has_token = true;
    }
    return is_update(req->action) ? check_update(req, limits, err) : 0;
}

int request_parse(enum topic_action action, const void *payload, size_t len,
                  const struct request_limits *limits, struct request *req, struct api_error *err)
{
    assert(payload != NULL || len == 0);
    memset(req, 0, sizeof *req);
    req->action = action;
    if (len > limits->max_payload_bytes)
        return api_error_set(err, 413, MSG_TOO_LARGE);
    if (decode(req, payload, len, limits, err) == 0)
        return 0;
    /* Keep only what the error may echo: the action and a token validated before the failure. */
    struct request keep = {.action = action, .has_token = req->has_token};
    memcpy(keep.token, req->token, sizeof keep.token);
    request_free(req);
    *req = keep;
    return -1;
}

void request_free(struct request *req)
{
    if (req == NULL)
        return;
    cJSON_Delete(req->root);
    req->root = NULL;
    req->state = NULL;
}
