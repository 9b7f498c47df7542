/* request.h — decoding an inbound payload into a request (SPEC §4.7 steps 2–8).
 *
 * Runs the checks that need nothing but the bytes, in the SPEC's order: payload size, UTF-8,
 * JSON, object, clientToken, `state` node, `version` type, depth and nulls in arrays. Known-field
 * validation, registry, version conflict and document size come later, in the service. Pure. */
#ifndef REQUEST_H
#define REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api_error.h"
#include "topics.h"

struct cJSON;

#define REQUEST_TOKEN_MAX 64

struct request_limits {
    size_t max_payload_bytes; /* larger: 413 before parsing */
    int max_depth;            /* SPEC max_depth */
};

struct request {
    enum topic_action action;
    struct cJSON *root;  /* the parsed payload (NULL for an empty payload); owned */
    struct cJSON *state; /* into root: the `state` member (object or JSON null), or NULL */
    bool clear_desired;  /* a report carrying "desired": null */
    bool has_version;
    int64_t version;
    bool has_ts; /* `ts` present (reported); parsed by the service with the known fields */
    bool has_token;
    char token[REQUEST_TOKEN_MAX + 1];
};

/* Decodes payload[0..len) for action (payload need not be NUL-terminated). On success returns 0
 * and fills *req (release with request_free). On failure returns -1 with *err set; *req is freed
 * and keeps only action and, when the failing check came after the token was validated, the
 * clientToken, so the error can echo it.
 * - An empty or all-whitespace payload is allowed on get and delete (root NULL), else Invalid JSON.
 * - Invalid JSON also covers what cJSON would let through: bytes after the value, raw control
 *   characters in strings, NUL or \u0000, numbers beyond a double's range, duplicate keys.
 * - The state checks (state, desired, ts, version, shadow_check_patch) run for REPORTED and
 *   DESIRED only; the other topics stop after the clientToken. */
int request_parse(enum topic_action action, const void *payload, size_t len,
                  const struct request_limits *limits, struct request *req, struct api_error *err);

/* Frees what request_parse allocated; keeps the token. Safe to call twice. */
void request_free(struct request *req);

/* True when s[0..len) is valid UTF-8 (no overlongs, no surrogates, ≤ U+10FFFF). */
bool utf8_valid(const void *s, size_t len);

#endif
