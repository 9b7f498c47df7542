/* fuzz_request.c — libFuzzer target for inbound payloads: request_parse for every action, then
 * the pure validation the service runs next on what it accepted.
 *
 * Input: [action][max_depth][payload limit][payload…]. The payload is handed over in a buffer of
 * exactly its length (never NUL-terminated), with small limits so the 413 and depth answers are
 * reached. After an accepted request, as the service does:
 * - reported: the report's `ts` (fields_parse_ts), the known fields (fields_parse_reported), each
 *   event element again (fields_event_parse, as the projection does), the accepted response's
 *   metadata (shadow_patch_metadata);
 * - desired: `tariffs_future` through tariff_parse (service_meter_validate);
 * - reads: each read's checks as src/service_reads.c validates them, then the store pass's
 *   parsing, which must then succeed, within what the interval engine takes.
 * Properties beyond "no crash": "Invalid JSON" exactly when an independent RFC 8259 validator
 * (plus the service's rules: no \u0000, no repeated key, finite numbers) says so; error codes and
 * messages as the SPEC lists them, in the SPEC's order; valid UTF-8 in every message and echoed
 * token, the token kept exactly when validated; every response body printable and re-readable as
 * strict JSON, the accepted echo holding the request's values; a validated tariff surviving its
 * command text; the values handed on staying within what the store and interval engine accept. */
#include <cjson/cJSON.h>
#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_error.h"
#include "fields.h"
#include "intervals.h"
#include "isotime.h"
#include "request.h"
#include "shadow.h"
#include "topics.h"

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);               \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#define NOW INT64_C(1795854600) /* 2026-11-28T08:30:00Z: the service's receipt time */
#define READS_FIELDS 4

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const reads_field_names[READS_FIELDS] = {"import_a", "import_b", "export_a",
                                                            "export_b"};

/* ---- checks shared by every path ---- */

static bool starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

/* An error as the SPEC's §4.8 allows it: a listed code, a non-empty message in its buffer,
 * valid UTF-8 (it is echoed in JSON). */
static void check_error(const struct api_error *err)
{
    CHECK(err->code == 400 || err->code == 403 || err->code == 404 || err->code == 409 ||
          err->code == 413 || err->code == 415 || err->code == 500);
    size_t n = strnlen(err->message, sizeof err->message);
    CHECK(n > 0 && n < sizeof err->message);
    CHECK(utf8_valid(err->message, n));
}

/* A field error: 400 `Invalid field: …`. */
static void check_field_error(const struct api_error *err)
{
    check_error(err);
    CHECK(err->code == 400);
    CHECK(starts_with(err->message, "Invalid field: "));
}

/* Prints body and reads it back as a strict request payload: what the service publishes is
 * always strict JSON. Takes ownership of body. */
static void check_printable(cJSON *body)
{
    CHECK(body != NULL);
    char *text = cJSON_PrintUnformatted(body);
    CHECK(text != NULL);
    struct request_limits big = {SIZE_MAX, 64};
    struct request req;
    struct api_error err;
    int rc = request_parse(TOPIC_GET, text, strlen(text), &big, &req, &err);
    if (rc != 0)
        fprintf(stderr, "not strict JSON (%d %s): %s\n", err.code, err.message, text);
    CHECK(rc == 0);
    request_free(&req);
    cJSON_free(text);
    cJSON_Delete(body);
}

/* The rejected body of §4.8. */
static void check_rejected_body(const struct api_error *err, const struct request *req)
{
    cJSON *body = cJSON_CreateObject();
    CHECK(body != NULL);
    cJSON_AddNumberToObject(body, "code", err->code);
    cJSON_AddStringToObject(body, "message", err->message);
    isotime_add_to_json(body, "timestamp", NOW);
    if (req->has_token)
        cJSON_AddStringToObject(body, "clientToken", req->token);
    check_printable(body);
}

/* metadata mirrors patch: same keys in the same order, a stamp per leaf, one per array element. */
static void check_meta_mirror(const cJSON *patch, const cJSON *meta, const char *iso)
{
    if (cJSON_IsObject(patch)) {
        CHECK(cJSON_IsObject(meta));
        const cJSON *m = meta->child;
        for (const cJSON *p = patch->child; p != NULL; p = p->next, m = m->next) {
            CHECK(m != NULL && m->string != NULL && strcmp(m->string, p->string) == 0);
            check_meta_mirror(p, m, iso);
        }
        CHECK(m == NULL);
        return;
    }
    if (cJSON_IsArray(patch)) {
        CHECK(cJSON_IsArray(meta));
        CHECK(cJSON_GetArraySize(meta) == cJSON_GetArraySize(patch));
        for (const cJSON *m = meta->child; m != NULL; m = m->next)
            check_meta_mirror(NULL, m, iso);
        return;
    }
    /* A leaf (or an array element): {"timestamp":iso} and nothing else. */
    CHECK(cJSON_IsObject(meta) && meta->child != NULL && meta->child->next == NULL);
    CHECK(cJSON_IsString(meta->child) && strcmp(meta->child->string, "timestamp") == 0);
    CHECK(strcmp(meta->child->valuestring, iso) == 0);
}

/* ---- tariffs ---- */

/* A validated tariff is sent to the meter as tariff_to_json's text; the meter's echo of that
 * text must validate again to the same tariff (what confirms a command). */
static void check_tariff_round_trip(const struct tariff *t, bool future)
{
    CHECK(tariff_amount_name((enum tariff_amount)TARIFF_AMOUNT_COUNT) == NULL);
    for (int a = 0; a < TARIFF_AMOUNT_COUNT; a++) {
        CHECK(tariff_amount_name((enum tariff_amount)a) != NULL);
        int64_t max = a <= TARIFF_UNIT_RATE_ELEMENT_B ? TARIFF_RATE_MAX_GBP : TARIFF_PREPAY_MAX_GBP;
        CHECK(t->amount[a] >= 0 && t->amount[a] <= max * FIELDS_MONEY_PER_GBP);
    }
    if (future)
        CHECK(t->has_activation);
    cJSON *json = tariff_to_json(t, true);
    CHECK(json != NULL);
    char *text = cJSON_PrintUnformatted(json);
    CHECK(text != NULL);
    cJSON *back = cJSON_Parse(text);
    CHECK(back != NULL);
    struct tariff t2;
    struct api_error err;
    int rc = tariff_parse(back, future, &t2, &err);
    if (rc != 0)
        fprintf(stderr, "canonical tariff refused (%s): %s\n", err.message, text);
    CHECK(rc == 0);
    CHECK(tariff_equal(t, &t2));
    CHECK(tariff_equal_ignoring_activation(t, &t2));
    cJSON_Delete(back);
    cJSON_free(text);
    cJSON_Delete(json);
}

/* ---- reported ---- */

static void check_event(const cJSON *element, size_t index)
{
    struct fields_event ev;
    struct api_error err;
    /* The projection parses each element again; a failure there would be a 500. */
    CHECK(fields_event_parse(element, index, &ev, &err) == 0);
    CHECK(ev.ts >= 0 && ev.ts <= INTERVAL_TS_MAX);
    CHECK(ev.code != NULL);
    size_t n = strlen(ev.code);
    CHECK(n >= 1 && n <= FIELDS_EVENT_CODE_MAX);
    CHECK(ev.text == NULL || strlen(ev.text) <= FIELDS_TEXT_MAX);
}

static void check_fields(const struct fields_reported *f)
{
    CHECK((f->present & f->nulled) == 0);
    CHECK((f->present | f->nulled) >> FIELDS_COUNT == 0);
    for (int id = 0; id < FIELDS_COUNT; id++) {
        const char *name = fields_name((enum fields_id)id);
        CHECK(name != NULL && fields_lookup(name) == id);
        char element = 0;
        bool is_import = false;
        CHECK(fields_register_of(name, &element, &is_import) == (id <= FIELDS_EXPORT_B));
        CHECK(fields_is_reported_only(name) == (id != FIELDS_TARIFFS_FUTURE));
    }
    for (int id = FIELDS_IMPORT_A; id <= FIELDS_EXPORT_B; id++) {
        if (fields_has(f, (enum fields_id)id)) {
            /* What the register projection hands the interval engine must be accepted there. */
            CHECK(f->register_wh[id] >= 0 &&
                  f->register_wh[id] <= (int64_t)FIELDS_KWH_MAX * FIELDS_WH_PER_KWH);
            CHECK(f->register_wh[id] <= INTERVAL_WH_MAX);
        }
    }
    int64_t money_max = (int64_t)FIELDS_GBP_LIMIT * FIELDS_MONEY_PER_GBP;
    if (fields_has(f, FIELDS_BALANCE))
        CHECK(f->balance >= -money_max && f->balance <= money_max);
    if (fields_has(f, FIELDS_EMERGENCY_CREDIT))
        CHECK(f->emergency_credit >= -money_max && f->emergency_credit <= money_max);
    if (fields_has(f, FIELDS_CSQ))
        CHECK(f->csq >= 0 && f->csq <= FIELDS_CSQ_MAX);
    if (fields_has(f, FIELDS_VOLTAGE))
        CHECK(f->voltage >= 0 && f->voltage <= FIELDS_VOLTS_MAX);
    for (int i = 0; i < 3; i++)
        if (fields_has(f, (enum fields_id)(FIELDS_VOLTAGE_L1 + i)))
            CHECK(f->voltage_l[i] >= 0 && f->voltage_l[i] <= FIELDS_VOLTS_MAX);
    if (fields_has(f, FIELDS_CLOCK_TIME_DIFF_SECONDS))
        CHECK(f->clock_time_diff_seconds >= -FIELDS_CLOCK_DIFF_MAX &&
              f->clock_time_diff_seconds <= FIELDS_CLOCK_DIFF_MAX);
    if (fields_has(f, FIELDS_HEALTH_DETAILS))
        CHECK(f->health_details != NULL && strlen(f->health_details) <= FIELDS_TEXT_MAX);
    if (fields_has(f, FIELDS_HARDWARE))
        CHECK(f->hardware != NULL && strlen(f->hardware) <= FIELDS_LABEL_MAX);
    if (fields_has(f, FIELDS_FIRMWARE_VERSION))
        CHECK(f->firmware_version != NULL && strlen(f->firmware_version) <= FIELDS_LABEL_MAX);
    if (fields_has(f, FIELDS_TARIFFS_ACTIVE))
        check_tariff_round_trip(&f->tariffs_active, false);
    if (fields_has(f, FIELDS_TARIFFS_FUTURE))
        check_tariff_round_trip(&f->tariffs_future, true);
    if (fields_has(f, FIELDS_TARIFFS_ACTIVE) && fields_has(f, FIELDS_TARIFFS_FUTURE)) {
        /* What activation compares: equal implies equal amounts; both are symmetric. */
        const struct tariff *a = &f->tariffs_active, *b = &f->tariffs_future;
        bool eq = tariff_equal(a, b), amounts = tariff_equal_ignoring_activation(a, b);
        CHECK(eq == tariff_equal(b, a) && amounts == tariff_equal_ignoring_activation(b, a));
        CHECK(!eq || amounts);
        CHECK(eq == (amounts && a->has_activation == b->has_activation &&
                     (!a->has_activation || a->activation == b->activation)));
    }
    if (fields_has(f, FIELDS_EVENTS)) {
        CHECK(cJSON_IsArray(f->events));
        CHECK(f->event_count == (size_t)cJSON_GetArraySize(f->events));
        CHECK(f->event_count <= FIELDS_EVENTS_MAX);
        size_t i = 0;
        for (const cJSON *e = f->events->child; e != NULL; e = e->next, i++)
            check_event(e, i);
    }
}

/* The accepted response: the request's state echoed with its metadata. */
static void check_accepted_body(const struct request *req, int64_t ts, const char *section)
{
    char iso[ISOTIME_LEN];
    isotime_format(ts, iso);
    cJSON *meta = shadow_patch_metadata(req->state, ts);
    CHECK(meta != NULL);
    if (cJSON_IsNull(req->state))
        CHECK(cJSON_IsNull(meta));
    else
        check_meta_mirror(req->state, meta, iso);
    cJSON *body = cJSON_CreateObject();
    CHECK(body != NULL);
    cJSON *state = cJSON_AddObjectToObject(body, "state");
    cJSON *metadata = cJSON_AddObjectToObject(body, "metadata");
    CHECK(state != NULL && metadata != NULL);
    cJSON_AddItemToObject(state, section, cJSON_Duplicate(req->state, true));
    if (req->clear_desired)
        cJSON_AddNullToObject(state, "desired");
    cJSON_AddItemToObject(metadata, section, meta);
    cJSON_AddNumberToObject(body, "version", 1);
    isotime_add_to_json(body, "timestamp", NOW);
    if (req->has_token)
        cJSON_AddStringToObject(body, "clientToken", req->token);
    /* The echo is the request as received (SPEC §4.6): its values survive printing. */
    char *text = cJSON_PrintUnformatted(body);
    CHECK(text != NULL);
    cJSON *back = cJSON_Parse(text);
    CHECK(back != NULL);
    const cJSON *echo =
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(back, "state"), section);
    if (!json_equal(echo, req->state))
        fprintf(stderr, "the accepted echo changes a value: %s\n", text);
    CHECK(json_equal(echo, req->state));
    cJSON_Delete(back);
    cJSON_free(text);
    check_printable(body);
}

static void after_reported(const struct request *req)
{
    struct api_error err;
    int64_t ts = NOW;
    /* service_report_time, then service_meter_validate, as service_update runs them. */
    if (req->has_ts) {
        const cJSON *item = cJSON_GetObjectItemCaseSensitive(req->root, "ts");
        CHECK(item != NULL);
        if (fields_parse_ts(item, FIELDS_TS_EARLIEST, NOW + FIELDS_TS_AHEAD_MAX, &ts, &err) != 0) {
            check_field_error(&err);
            check_rejected_body(&err, req);
            return;
        }
        CHECK(ts >= FIELDS_TS_EARLIEST && ts <= NOW + FIELDS_TS_AHEAD_MAX);
    }
    struct fields_reported f;
    if (fields_parse_reported(req->state, &f, &err) != 0) {
        check_field_error(&err);
        check_rejected_body(&err, req);
        return;
    }
    check_fields(&f);
    check_accepted_body(req, ts, "reported");
}

static void after_desired(const struct request *req)
{
    struct api_error err;
    if (cJSON_IsObject(req->state)) {
        const cJSON *future = cJSON_GetObjectItemCaseSensitive(req->state, "tariffs_future");
        if (future != NULL && !cJSON_IsNull(future)) {
            struct tariff t;
            if (tariff_parse(future, true, &t, &err) != 0) {
                check_field_error(&err);
                CHECK(starts_with(err.message, "Invalid field: tariffs_future"));
                check_rejected_body(&err, req);
                return;
            }
            check_tariff_round_trip(&t, true);
        }
        /* What service_meter_check_desired asks of each member (a passive meter's 403). */
        for (const cJSON *item = req->state->child; item != NULL; item = item->next)
            CHECK(fields_is_reported_only(item->string) ==
                  (fields_lookup(item->string) >= 0 &&
                   fields_lookup(item->string) != FIELDS_TARIFFS_FUTURE));
    }
    check_accepted_body(req, NOW, "desired");
}

/* ---- reads: the call sequence of src/service_reads.c ---- */

/* service_reads_check: one element of `reads`. */
static int reads_check(const cJSON *read, size_t index, int64_t now, bool want[2],
                       struct api_error *err)
{
    char name[64];
    int64_t ts, wh;
    if (!cJSON_IsObject(read))
        return api_error_set(err, 400, "Invalid field: reads[%zu] (must be an object)", index);
    snprintf(name, sizeof name, "reads[%zu].ts", index);
    if (fields_parse_time(cJSON_GetObjectItemCaseSensitive(read, "ts"), name, FIELDS_TS_EARLIEST,
                          now + FIELDS_TS_AHEAD_MAX, &ts, err) != 0)
        return -1;
    CHECK(ts >= FIELDS_TS_EARLIEST && ts <= now + FIELDS_TS_AHEAD_MAX);
    const cJSON *status = cJSON_GetObjectItemCaseSensitive(read, "status");
    if (status != NULL && !cJSON_IsString(status) && !cJSON_IsNull(status))
        return api_error_set(err, 400, "Invalid field: reads[%zu].status (must be a string)",
                             index);
    for (int i = 0; i < READS_FIELDS; i++) {
        const cJSON *item = cJSON_GetObjectItemCaseSensitive(read, reads_field_names[i]);
        if (item == NULL || cJSON_IsNull(item))
            continue;
        snprintf(name, sizeof name, "reads[%zu].%s", index, reads_field_names[i]);
        if (fields_parse_kwh(item, name, &wh, err) != 0)
            return -1;
        want[i % 2] = true;
    }
    return 0;
}

/* service_reads_store_one's parsing of an element that passed reads_check: it must succeed, and
 * give what the interval engine accepts. */
static void reads_store_one(const cJSON *read, struct interval_read *prev, bool *has_prev)
{
    struct api_error err;
    int64_t ts, wh;
    const cJSON *status = cJSON_GetObjectItemCaseSensitive(read, "status");
    bool estimated = cJSON_IsString(status) && strcmp(status->valuestring, "estimated") == 0;
    CHECK(fields_parse_time(cJSON_GetObjectItemCaseSensitive(read, "ts"), "ts", 0, INT64_MAX, &ts,
                            &err) == 0);
    CHECK(ts >= 0 && ts <= INTERVAL_TS_MAX);
    for (int i = 0; i < READS_FIELDS; i++) {
        const cJSON *item = cJSON_GetObjectItemCaseSensitive(read, reads_field_names[i]);
        if (item == NULL || cJSON_IsNull(item))
            continue;
        CHECK(fields_parse_kwh(item, reads_field_names[i], &wh, &err) == 0);
        CHECK(wh >= 0 && wh <= INTERVAL_WH_MAX);
        struct interval_read r;
        interval_read_init(&r, ts, wh, estimated);
        if (i == 0) {
            /* import_a against the batch's previous import_a: the engine takes the pair. */
            if (*has_prev && prev->ts < ts) {
                struct interval_rules rules = {0, 23000, 6 * 3600, NULL};
                struct interval_segment seg;
                CHECK(interval_segment_judge(&rules, prev, &r, &seg) == 0);
                CHECK(seg.energy_wh >= 0);
                interval_read_settle(&r, &seg);
            }
            *prev = r;
            *has_prev = true;
        }
    }
}

static void after_reads(const struct request *req)
{
    struct api_error err;
    bool want[2] = {false, false};
    const cJSON *reads = cJSON_GetObjectItemCaseSensitive(req->root, "reads");
    if (!cJSON_IsArray(reads)) {
        api_error_set(&err, 400, "Invalid field: reads (must be an array of reads)");
        check_rejected_body(&err, req);
        return;
    }
    size_t index = 0;
    for (const cJSON *read = reads->child; read != NULL; read = read->next, index++) {
        if (reads_check(read, index, NOW, want, &err) != 0) {
            check_field_error(&err);
            check_rejected_body(&err, req);
            return;
        }
    }
    struct interval_read prev;
    bool has_prev = false;
    for (const cJSON *read = reads->child; read != NULL; read = read->next)
        reads_store_one(read, &prev, &has_prev);
}

/* ---- reference JSON validator (RFC 8259 and the service's own rules) ---- */

/* What request.h promises to answer "Invalid JSON" for, decided here without cJSON: text that is
 * not one RFC 8259 value between JSON whitespace, the escape \u0000 or a lone surrogate, a number
 * beyond a double's range, a repeated key in an object (keys compared decoded). Inputs this
 * reference does not judge (nesting near cJSON's limit of 1000, number tokens of 64 bytes or
 * more, which cJSON cannot read) are skipped. */
struct ref_json {
    const unsigned char *p;
    size_t len, pos;
    int depth;
    bool unjudged;
};

#define REF_KEY_MAX 4096

static bool ref_ws(unsigned char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static void ref_skip(struct ref_json *r)
{
    while (r->pos < r->len && ref_ws(r->p[r->pos]))
        r->pos++;
}

static bool ref_lit(struct ref_json *r, const char *lit)
{
    size_t n = strlen(lit);
    if (r->len - r->pos < n || memcmp(r->p + r->pos, lit, n) != 0)
        return false;
    r->pos += n;
    return true;
}

static int ref_hex4(const unsigned char *h)
{
    int v = 0;
    for (int i = 0; i < 4; i++) {
        int d = h[i] >= '0' && h[i] <= '9'   ? h[i] - '0'
                : h[i] >= 'a' && h[i] <= 'f' ? h[i] - 'a' + 10
                : h[i] >= 'A' && h[i] <= 'F' ? h[i] - 'A' + 10
                                             : -1;
        if (d < 0)
            return -1;
        v = v * 16 + d;
    }
    return v;
}

/* Reads a string at pos ('"'), decoding it into out (cap bytes, *n set). */
static bool ref_string(struct ref_json *r, unsigned char *out, size_t cap, size_t *n)
{
    *n = 0;
    if (r->pos >= r->len || r->p[r->pos] != '"')
        return false;
    r->pos++;
    while (r->pos < r->len) {
        unsigned char c = r->p[r->pos++];
        long cp = c;
        if (c == '"')
            return true;
        if (c < 0x20)
            return false;
        if (c == '\\') {
            if (r->pos >= r->len)
                return false;
            unsigned char e = r->p[r->pos++];
            const char *simple = strchr("\"\\/bfnrt", e);
            if (e != 'u' && (simple == NULL || e == '\0'))
                return false;
            if (e != 'u') {
                cp = e; /* the escaped character itself, or mapped below */
            } else {
                if (r->len - r->pos < 4 || (cp = ref_hex4(r->p + r->pos)) < 0)
                    return false;
                r->pos += 4;
                if (cp == 0 || (cp >= 0xDC00 && cp <= 0xDFFF))
                    return false; /* \u0000, a lone low surrogate */
                if (cp >= 0xD800 && cp <= 0xDBFF) {
                    int lo;
                    if (r->len - r->pos < 6 || r->p[r->pos] != '\\' || r->p[r->pos + 1] != 'u' ||
                        (lo = ref_hex4(r->p + r->pos + 2)) < 0xDC00 || lo > 0xDFFF)
                        return false;
                    r->pos += 6;
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                }
                /* Encode as UTF-8 so "\u00e9" and a raw "é" compare equal. */
                unsigned char u[4];
                size_t k = cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : 4;
                if (k == 1)
                    u[0] = (unsigned char)cp;
                else if (k == 2)
                    u[0] = (unsigned char)(0xC0 | cp >> 6),
                    u[1] = (unsigned char)(0x80 | (cp & 0x3F));
                else if (k == 3)
                    u[0] = (unsigned char)(0xE0 | cp >> 12),
                    u[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F)),
                    u[2] = (unsigned char)(0x80 | (cp & 0x3F));
                else
                    u[0] = (unsigned char)(0xF0 | cp >> 18),
                    u[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F)),
                    u[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F)),
                    u[3] = (unsigned char)(0x80 | (cp & 0x3F));
                for (size_t i = 0; i < k; i++)
                    if (*n < cap)
                        out[(*n)++] = u[i];
                continue;
            }
            if (e == 'b')
                cp = '\b';
            else if (e == 'f')
                cp = '\f';
            else if (e == 'n')
                cp = '\n';
            else if (e == 'r')
                cp = '\r';
            else if (e == 't')
                cp = '\t';
        }
        if (*n < cap)
            out[(*n)++] = (unsigned char)cp;
    }
    return false;
}

static bool ref_digits(struct ref_json *r)
{
    size_t start = r->pos;
    while (r->pos < r->len && r->p[r->pos] >= '0' && r->p[r->pos] <= '9')
        r->pos++;
    return r->pos > start;
}

static bool ref_number(struct ref_json *r)
{
    size_t start = r->pos;
    if (r->pos < r->len && r->p[r->pos] == '-')
        r->pos++;
    if (r->pos < r->len && r->p[r->pos] == '0')
        r->pos++;
    else if (!ref_digits(r))
        return false;
    if (r->pos < r->len && r->p[r->pos] == '.') {
        r->pos++;
        if (!ref_digits(r))
            return false;
    }
    if (r->pos < r->len && (r->p[r->pos] == 'e' || r->p[r->pos] == 'E')) {
        r->pos++;
        if (r->pos < r->len && (r->p[r->pos] == '+' || r->p[r->pos] == '-'))
            r->pos++;
        if (!ref_digits(r))
            return false;
    }
    size_t n = r->pos - start;
    if (n >= 64) {
        r->unjudged = true; /* cJSON reads at most 63 bytes of a number */
        return true;
    }
    char buf[64];
    memcpy(buf, r->p + start, n);
    buf[n] = '\0';
    return isfinite(strtod(buf, NULL));
}

static bool ref_value(struct ref_json *r);

static bool ref_object(struct ref_json *r)
{
    r->pos++; /* '{' */
    ref_skip(r);
    if (r->pos < r->len && r->p[r->pos] == '}') {
        r->pos++;
        return true;
    }
    /* Decoded keys of this object, to find a repeated one. */
    size_t nkeys = 0, cap = 16;
    unsigned char **keys = malloc(cap * sizeof *keys);
    size_t *lens = malloc(cap * sizeof *lens);
    CHECK(keys != NULL && lens != NULL);
    bool ok = false;
    for (;;) {
        unsigned char *key = malloc(REF_KEY_MAX);
        size_t n;
        CHECK(key != NULL);
        if (!ref_string(r, key, REF_KEY_MAX, &n)) {
            free(key);
            break;
        }
        if (n >= REF_KEY_MAX)
            r->unjudged = true;
        bool dup = false;
        for (size_t i = 0; i < nkeys && !dup; i++)
            dup = lens[i] == n && memcmp(keys[i], key, n) == 0;
        if (nkeys == cap) {
            cap *= 2;
            unsigned char **more_keys = realloc(keys, cap * sizeof *keys);
            CHECK(more_keys != NULL);
            keys = more_keys;
            size_t *more_lens = realloc(lens, cap * sizeof *lens);
            CHECK(more_lens != NULL);
            lens = more_lens;
        }
        keys[nkeys] = key;
        lens[nkeys++] = n;
        if (dup)
            break;
        ref_skip(r);
        if (!ref_lit(r, ":"))
            break;
        ref_skip(r);
        if (!ref_value(r))
            break;
        ref_skip(r);
        if (ref_lit(r, "}")) {
            ok = true;
            break;
        }
        if (!ref_lit(r, ","))
            break;
        ref_skip(r);
    }
    for (size_t i = 0; i < nkeys; i++)
        free(keys[i]);
    free(keys);
    free(lens);
    return ok;
}

static bool ref_array(struct ref_json *r)
{
    r->pos++; /* '[' */
    ref_skip(r);
    if (ref_lit(r, "]"))
        return true;
    for (;;) {
        if (!ref_value(r))
            return false;
        ref_skip(r);
        if (ref_lit(r, "]"))
            return true;
        if (!ref_lit(r, ","))
            return false;
        ref_skip(r);
    }
}

static bool ref_value(struct ref_json *r)
{
    if (r->pos >= r->len)
        return false;
    unsigned char c = r->p[r->pos];
    if (c == '{' || c == '[') {
        if (++r->depth > 800) {
            r->unjudged = true; /* around cJSON's nesting limit */
            return false;
        }
        bool ok = c == '{' ? ref_object(r) : ref_array(r);
        r->depth--;
        return ok;
    }
    if (c == '"') {
        unsigned char scratch[1];
        size_t n;
        return ref_string(r, scratch, 0, &n);
    }
    if (c == '-' || (c >= '0' && c <= '9'))
        return ref_number(r);
    return ref_lit(r, "true") || ref_lit(r, "false") || ref_lit(r, "null");
}

/* 1: valid, 0: invalid, -1: not judged. */
static int ref_json_valid(const unsigned char *p, size_t len)
{
    struct ref_json r = {p, len, 0, 0, false};
    ref_skip(&r);
    bool ok = ref_value(&r);
    ref_skip(&r);
    ok = ok && r.pos == len;
    if (r.unjudged)
        return -1;
    return ok ? 1 : 0;
}

/* request_parse says "Invalid JSON" exactly when the reference does. */
static void check_json_verdict(enum topic_action action, int rc, const struct api_error *err,
                               const uint8_t *payload, size_t len,
                               const struct request_limits *limits)
{
    if (len > limits->max_payload_bytes || !utf8_valid(payload, len))
        return; /* answered before JSON */
    if (rc != 0 && err->code == 500)
        return;
    size_t i = 0;
    while (i < len && ref_ws(payload[i]))
        i++;
    if (i == len)
        return; /* no body: allowed on get and delete, else Invalid JSON (checked elsewhere) */
    int ref = ref_json_valid(payload, len);
    if (ref < 0)
        return;
    bool says_invalid = rc != 0 && strcmp(err->message, "Invalid JSON") == 0;
    if (says_invalid != (ref == 0))
        fprintf(stderr, "JSON verdict differs (%s %s, reference %s): %.*s\n",
                topic_action_name(action), says_invalid ? "invalid" : "valid",
                ref ? "valid" : "invalid", (int)len, (const char *)payload);
    CHECK(says_invalid == (ref == 0));
}

/* ---- the request ---- */

static const char *const messages_400[] = {
    "Invalid JSON",
    "Payload must be a JSON object",
    "Missing required node: state",
    "State node must be an object",
    "Desired node must be null",
    "Arrays can't contain null values",
    "Invalid version",
    "Invalid clientToken",
    "State contains an invalid node: 'delta'",
};

static void check_request_error(enum topic_action action, const struct request *req,
                                const struct api_error *err, size_t len,
                                const struct request_limits *limits, const uint8_t *payload)
{
    check_error(err);
    CHECK(req->root == NULL && req->state == NULL && req->action == action);
    if (req->has_token) {
        size_t n = strnlen(req->token, sizeof req->token);
        CHECK(n < sizeof req->token && utf8_valid(req->token, n));
    }
    /* The first check that fails answers. */
    if (len > limits->max_payload_bytes) {
        CHECK(err->code == 413);
        return;
    }
    if (!utf8_valid(payload, len)) {
        CHECK(err->code == 415);
        return;
    }
    if (err->code == 500)
        return; /* out of memory */
    CHECK(err->code == 400);
    bool known = starts_with(err->message, "JSON contains too many levels of nesting; maximum is ");
    for (size_t i = 0; i < sizeof messages_400 / sizeof messages_400[0] && !known; i++)
        known = strcmp(err->message, messages_400[i]) == 0;
    CHECK(known);
    check_rejected_body(err, req);
}

static void check_request_ok(const struct request *req, const struct request_limits *limits)
{
    if (req->root == NULL) {
        CHECK(req->action == TOPIC_GET || req->action == TOPIC_DELETE);
        CHECK(!req->has_token && req->state == NULL);
        return;
    }
    CHECK(cJSON_IsObject(req->root));
    const cJSON *token = cJSON_GetObjectItemCaseSensitive(req->root, "clientToken");
    CHECK(req->has_token == (token != NULL));
    if (req->has_token)
        CHECK(strcmp(req->token, token->valuestring) == 0 && strlen(req->token) <= 64 &&
              utf8_valid(req->token, strlen(req->token)));
    if (req->action != TOPIC_REPORTED && req->action != TOPIC_DESIRED) {
        CHECK(req->state == NULL && !req->has_version && !req->clear_desired);
        return;
    }
    CHECK(req->state == cJSON_GetObjectItemCaseSensitive(req->root, "state"));
    CHECK(cJSON_IsObject(req->state) || cJSON_IsNull(req->state));
    struct api_error err;
    CHECK(shadow_check_patch(req->state, limits->max_depth, &err) == 0);
    if (req->has_version)
        CHECK(req->version >= 0 && req->version <= (INT64_C(1) << 53));
    if (req->action == TOPIC_DESIRED)
        CHECK(!req->clear_desired && !req->has_ts);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 3)
        return 0;
    enum topic_action action = (enum topic_action)(TOPIC_REPORTED + data[0] % 6);
    struct request_limits limits;
    limits.max_depth = 1 + data[1] % 64;
    size_t len = size - 3;
    /* The payload limit: around the payload's own size half the time, else small or large. */
    uint8_t sel = data[2];
    if (sel < 64)
        limits.max_payload_bytes = len + sel % 3 - (len > 0 ? 1 : 0);
    else if (sel < 128)
        limits.max_payload_bytes = 64 + (size_t)(sel - 64) * 16;
    else
        limits.max_payload_bytes = 1048576;

    uint8_t *payload = malloc(len > 0 ? len : 1);
    CHECK(payload != NULL);
    if (len > 0)
        memcpy(payload, data + 3, len);

    struct request req;
    struct api_error err;
    memset(&err, 0, sizeof err);
    int rc = request_parse(action, len > 0 ? payload : NULL, len, &limits, &req, &err);
    CHECK(rc == 0 || rc == -1);
    check_json_verdict(action, rc, &err, payload, len, &limits);
    if (rc != 0) {
        check_request_error(action, &req, &err, len, &limits, payload);
    } else {
        check_request_ok(&req, &limits);
        if (action == TOPIC_REPORTED)
            after_reported(&req);
        else if (action == TOPIC_DESIRED)
            after_desired(&req);
        else if (action == TOPIC_READS)
            after_reads(&req);
    }
    request_free(&req);
    request_free(&req); /* safe twice */
    request_free(NULL);
    free(payload);
    return 0;
}
