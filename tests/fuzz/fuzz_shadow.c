/* fuzz_shadow.c — libFuzzer target for shadow documents (shadow.h): merge, metadata, delta, size,
 * copy and the stored form's round trip.
 *
 * Input: [flags][max_depth][document limit][fault] then parts separated by NUL bytes (a NUL can
 * never occur inside a payload the service accepts). The first part builds a document: either a
 * stored document read by shadow_doc_from_json, or a patch applied to an empty one. Every later
 * part is [control byte][payload]: a report or a desired update decoded by request_parse (which
 * runs shadow_check_patch, as the service does) and applied as service_apply does — version check,
 * `"desired":null`, the section patch at its time (ordered or not), the document limit — with
 * version and timestamp kept as service_update keeps them.
 *
 * Properties checked after every step, beyond "no crash":
 * - the section patched matches a reference merge (objects by key, null deletes, empty objects
 *   add nothing), whenever no leaf of it was newer than the patch; the other section is untouched;
 * - *changed says exactly whether a state value changed;
 * - metadata mirrors the state (one stamp per leaf and per array element), no empty object is
 *   left behind, every leaf written carries the patch's time, and under the out-of-order rule no
 *   leaf newer than the patch is changed;
 * - to_json → from_json gives back the same values and to_json the same text (with and without
 *   the delta), the snapshot is the stored form without its timestamp, shadow_doc_copy gives the
 *   same text;
 * - shadow_delta equals a reference delta; shadow_state_size is the length of the compact text
 *   it measures; every document printed is strict JSON.
 * Documents read from arbitrary stored text only get the properties their shape allows (a
 * stored document holds no duplicate key and no empty object; one that does is still loaded,
 * merged and printed, and must not crash anything).
 *
 * A non-zero fault byte replays the same steps with cJSON's allocator failing from the N-th
 * allocation on (or only at it): every failure must be reported as documented and leave nothing
 * leaked, and an update that still succeeds must give exactly the document it gives without
 * faults. */
#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "api_error.h"
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

#define BASE_TS INT64_C(1795852800) /* 2026-11-28T08:00:00Z */
#define STEP_TS 600                 /* a part's time: BASE_TS + k × STEP_TS, k = 0..63 */
#define MAX_PARTS 8

/* ---- allocation failures ---- */

static long fault_countdown = -1; /* allocations left before the failing one; -1: none fails */
static bool fault_sticky;         /* every allocation after the first failure fails too */

static void *fault_malloc(size_t n)
{
    if (fault_countdown == 0) {
        if (!fault_sticky)
            fault_countdown = -1;
        return NULL;
    }
    if (fault_countdown > 0)
        fault_countdown--;
    return malloc(n);
}

static void fault_free(void *p)
{
    free(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* ---- reference JSON semantics (independent of shadow.c) ---- */

static const cJSON *ref_get(const cJSON *obj, const char *key)
{
    if (!cJSON_IsObject(obj))
        return NULL;
    for (const cJSON *c = obj->child; c != NULL; c = c->next)
        if (c->string != NULL && strcmp(c->string, key) == 0)
            return c;
    return NULL;
}

static int ref_count(const cJSON *node)
{
    int n = 0;
    for (const cJSON *c = node != NULL ? node->child : NULL; c != NULL; c = c->next)
        n++;
    return n;
}

/* SPEC §4 equality for trees without duplicate keys. */
static bool ref_equal(const cJSON *a, const cJSON *b)
{
    if (a == NULL || b == NULL)
        return a == b;
    if ((a->type & 0xFF) != (b->type & 0xFF))
        return false;
    if (cJSON_IsNumber(a))
        return a->valuedouble == b->valuedouble;
    if (cJSON_IsString(a))
        return strcmp(a->valuestring, b->valuestring) == 0;
    if (cJSON_IsArray(a)) {
        const cJSON *x = a->child, *y = b->child;
        for (; x != NULL && y != NULL; x = x->next, y = y->next)
            if (!ref_equal(x, y))
                return false;
        return x == NULL && y == NULL;
    }
    if (cJSON_IsObject(a)) {
        if (ref_count(a) != ref_count(b))
            return false;
        for (const cJSON *x = a->child; x != NULL; x = x->next)
            if (!ref_equal(x, ref_get(b, x->string)))
                return false;
        return true;
    }
    return true;
}

/* No object repeats a key, anywhere. */
static bool ref_no_dup_keys(const cJSON *node)
{
    if (!cJSON_IsObject(node) && !cJSON_IsArray(node))
        return true;
    for (const cJSON *c = node->child; c != NULL; c = c->next) {
        if (cJSON_IsObject(node))
            for (const cJSON *d = c->next; d != NULL; d = d->next)
                if (strcmp(c->string, d->string) == 0)
                    return false;
        if (!ref_no_dup_keys(c))
            return false;
    }
    return true;
}

/* No empty object outside array values (merges never leave one behind). */
static bool ref_no_empty_objects(const cJSON *obj)
{
    if (obj->child == NULL)
        return false;
    for (const cJSON *c = obj->child; c != NULL; c = c->next)
        if (cJSON_IsObject(c) && !ref_no_empty_objects(c))
            return false;
    return true;
}

static void ref_put(cJSON *obj, const char *key, cJSON *item)
{
    CHECK(item != NULL);
    if (ref_get(obj, key) != NULL)
        CHECK(cJSON_ReplaceItemInObjectCaseSensitive(obj, key, item));
    else
        CHECK(cJSON_AddItemToObject(obj, key, item));
}

/* SPEC §4.2 merge, without time. */
static void ref_merge_into(cJSON *cur, const cJSON *patch)
{
    for (const cJSON *p = patch->child; p != NULL; p = p->next) {
        cJSON *c = cJSON_GetObjectItemCaseSensitive(cur, p->string);
        if (cJSON_IsObject(p)) {
            if (cJSON_IsObject(c)) {
                ref_merge_into(c, p);
                if (c->child == NULL)
                    cJSON_DeleteItemFromObjectCaseSensitive(cur, p->string);
            } else {
                cJSON *fresh = cJSON_CreateObject();
                CHECK(fresh != NULL);
                ref_merge_into(fresh, p);
                if (fresh->child != NULL)
                    ref_put(cur, p->string, fresh);
                else
                    cJSON_Delete(fresh);
            }
        } else if (cJSON_IsNull(p)) {
            cJSON_DeleteItemFromObjectCaseSensitive(cur, p->string);
        } else {
            ref_put(cur, p->string, cJSON_Duplicate(p, true));
        }
    }
}

/* The section after patch: a new tree, or NULL for an absent section. */
static cJSON *ref_merge(const cJSON *section, const cJSON *patch)
{
    if (cJSON_IsNull(patch))
        return NULL;
    cJSON *cur = section != NULL ? cJSON_Duplicate(section, true) : cJSON_CreateObject();
    CHECK(cur != NULL);
    ref_merge_into(cur, patch);
    if (cur->child == NULL) {
        cJSON_Delete(cur);
        return NULL;
    }
    return cur;
}

/* SPEC §4.3 delta; NULL when empty. */
static cJSON *ref_delta(const cJSON *desired, const cJSON *reported)
{
    if (!cJSON_IsObject(desired))
        return NULL;
    cJSON *delta = cJSON_CreateObject();
    CHECK(delta != NULL);
    for (const cJSON *d = desired->child; d != NULL; d = d->next) {
        const cJSON *r = ref_get(reported, d->string);
        cJSON *part = NULL;
        if (cJSON_IsObject(d) && cJSON_IsObject(r))
            part = ref_delta(d, r);
        else if (!ref_equal(d, r))
            part = cJSON_Duplicate(d, true);
        if (part != NULL)
            ref_put(delta, d->string, part);
    }
    if (delta->child == NULL) {
        cJSON_Delete(delta);
        return NULL;
    }
    return delta;
}

/* ---- metadata ---- */

/* A stamp: exactly {"timestamp":"<ISO-8601>"}; sets *t. */
static bool stamp_of(const cJSON *m, int64_t *t)
{
    return cJSON_IsObject(m) && m->child != NULL && m->child->next == NULL &&
           m->child->string != NULL && strcmp(m->child->string, "timestamp") == 0 &&
           cJSON_IsString(m->child) && isotime_parse(m->child->valuestring, t) == 0;
}

static bool mirror_ok(const cJSON *state, const cJSON *meta);

/* The metadata of one state value. */
static bool value_mirror_ok(const cJSON *v, const cJSON *m)
{
    int64_t t;
    if (cJSON_IsObject(v))
        return cJSON_IsObject(m) && mirror_ok(v, m);
    if (!cJSON_IsArray(v))
        return stamp_of(m, &t);
    if (!cJSON_IsArray(m) || ref_count(m) != ref_count(v))
        return false;
    for (const cJSON *e = m->child; e != NULL; e = e->next)
        if (!stamp_of(e, &t))
            return false;
    return true;
}

/* meta mirrors state: the same keys, a stamp per leaf and per array element (SPEC §4.1). */
static bool mirror_ok(const cJSON *state, const cJSON *meta)
{
    if (!cJSON_IsObject(state) || !cJSON_IsObject(meta) || ref_count(state) != ref_count(meta))
        return false;
    for (const cJSON *c = state->child; c != NULL; c = c->next)
        if (!value_mirror_ok(c, ref_get(meta, c->string)))
            return false;
    return true;
}

/* The newest stamp of a leaf's metadata (INT64_MIN when it has none: an empty array). */
static int64_t leaf_newest(const cJSON *m)
{
    int64_t t, newest = INT64_MIN;
    if (stamp_of(m, &t))
        return t;
    for (const cJSON *e = cJSON_IsArray(m) ? m->child : NULL; e != NULL; e = e->next)
        if (stamp_of(e, &t) && t > newest)
            newest = t;
    return newest;
}

/* Every stamp of a leaf's metadata is iso. */
static bool leaf_stamped(const cJSON *m, const char *iso)
{
    if (cJSON_IsArray(m)) {
        for (const cJSON *e = m->child; e != NULL; e = e->next)
            if (!leaf_stamped(e, iso))
                return false;
        return true;
    }
    return cJSON_IsObject(m) && m->child != NULL && cJSON_IsString(m->child) &&
           strcmp(m->child->valuestring, iso) == 0;
}

/* Under the out-of-order rule: every leaf of the old section newer than ts is still there, with
 * its value and its metadata. old_* are mirror-consistent. */
static void check_newer_kept(const cJSON *old_s, const cJSON *old_m, const cJSON *new_s,
                             const cJSON *new_m, int64_t ts)
{
    for (const cJSON *c = old_s != NULL ? old_s->child : NULL; c != NULL; c = c->next) {
        const cJSON *m = ref_get(old_m, c->string);
        const cJSON *nv = ref_get(new_s, c->string);
        const cJSON *nm = ref_get(new_m, c->string);
        if (cJSON_IsObject(c)) {
            check_newer_kept(c, m, cJSON_IsObject(nv) ? nv : NULL, nm, ts);
        } else if (leaf_newest(m) > ts) {
            CHECK(nv != NULL && ref_equal(c, nv) && ref_equal(m, nm));
        }
    }
}

/* The newest stamp of any leaf of a mirror-consistent section; INT64_MIN when there is none. */
static int64_t section_newest(const cJSON *state, const cJSON *meta)
{
    int64_t newest = INT64_MIN;
    for (const cJSON *c = state != NULL ? state->child : NULL; c != NULL; c = c->next) {
        const cJSON *m = ref_get(meta, c->string);
        int64_t t = cJSON_IsObject(c) ? section_newest(c, m) : leaf_newest(m);
        if (t > newest)
            newest = t;
    }
    return newest;
}

/* Every leaf of the new section either is the old one (value and metadata) or carries iso. */
static void check_written_stamped(const cJSON *new_s, const cJSON *new_m, const cJSON *old_s,
                                  const cJSON *old_m, const char *iso)
{
    for (const cJSON *c = new_s != NULL ? new_s->child : NULL; c != NULL; c = c->next) {
        const cJSON *m = ref_get(new_m, c->string);
        const cJSON *ov = ref_get(old_s, c->string);
        const cJSON *om = ref_get(old_m, c->string);
        if (cJSON_IsObject(c))
            check_written_stamped(c, m, cJSON_IsObject(ov) ? ov : NULL, om, iso);
        else if (!(ov != NULL && ref_equal(c, ov) && ref_equal(m, om)))
            CHECK(leaf_stamped(m, iso));
    }
}

/* Without the out-of-order rule every value leaf of the patch is written with iso, equal values
 * included (their metadata is refreshed). */
static void check_patch_stamped(const cJSON *patch, const cJSON *new_s, const cJSON *new_m,
                                const char *iso)
{
    for (const cJSON *p = patch->child; p != NULL; p = p->next) {
        const cJSON *v = ref_get(new_s, p->string);
        const cJSON *m = ref_get(new_m, p->string);
        if (cJSON_IsObject(p)) {
            if (cJSON_IsObject(v))
                check_patch_stamped(p, v, m, iso);
        } else if (!cJSON_IsNull(p)) {
            CHECK(v != NULL && leaf_stamped(m, iso));
        }
    }
}

/* ---- whole-document checks ---- */

/* The same tree, byte for byte once printed (duplicate keys included); both may be NULL. */
static bool same_text(const cJSON *a, const cJSON *b)
{
    if (a == NULL || b == NULL)
        return a == b;
    char *x = cJSON_PrintUnformatted(a), *y = cJSON_PrintUnformatted(b);
    CHECK(x != NULL && y != NULL);
    bool same = strcmp(x, y) == 0;
    cJSON_free(x);
    cJSON_free(y);
    return same;
}

static char *print_doc(const struct shadow_doc *doc, bool with_delta)
{
    cJSON *json = shadow_doc_to_json(doc, with_delta);
    CHECK(json != NULL);
    char *text = cJSON_PrintUnformatted(json);
    CHECK(text != NULL);
    cJSON_Delete(json);
    return text;
}

/* What the service publishes is strict JSON: re-read it as a request payload. */
static void check_strict(const char *text)
{
    struct request_limits big = {SIZE_MAX, 1000};
    struct request req;
    struct api_error err;
    int rc = request_parse(TOPIC_GET, text, strlen(text), &big, &req, &err);
    if (rc != 0)
        fprintf(stderr, "not strict JSON (%s): %s\n", err.message, text);
    CHECK(rc == 0);
    request_free(&req);
}

static void check_section_shape(const struct shadow_doc *doc, bool clean)
{
    for (int s = 0; s < 2; s++) {
        CHECK((doc->state[s] == NULL) == (doc->meta[s] == NULL));
        if (doc->state[s] == NULL)
            continue;
        CHECK(cJSON_IsObject(doc->state[s]) && cJSON_IsObject(doc->meta[s]));
        CHECK(doc->state[s]->child != NULL); /* an empty section is absent */
        if (clean)
            CHECK(ref_no_empty_objects(doc->state[s]) && mirror_ok(doc->state[s], doc->meta[s]));
    }
}

static void check_round_trip(const struct shadow_doc *doc, bool clean)
{
    char *t1 = print_doc(doc, false);
    struct shadow_doc d2;
    CHECK(shadow_doc_from_json(t1, &d2) == 0);
    CHECK(d2.exists && d2.version == doc->version && d2.timestamp == doc->timestamp);
    /* The stored form keeps every value (numbers by value, SPEC §4.3): a document read back
     * from the store must hold what was written, or an equal report would count as a change. */
    for (int s = 0; s < 2 && clean; s++) {
        if (!ref_equal(d2.state[s], doc->state[s]))
            fprintf(stderr, "the stored form changes a value: %s\n", t1);
        CHECK(ref_equal(d2.state[s], doc->state[s]));
    }
    char *t2 = print_doc(&d2, false);
    if (strcmp(t1, t2) != 0)
        fprintf(stderr, "round trip differs:\n%s\n%s\n", t1, t2);
    CHECK(strcmp(t1, t2) == 0);
    shadow_doc_clear(&d2);
    cJSON_free(t2);

    /* The get form: the delta is ignored on the way back in. */
    cJSON *with = shadow_doc_to_json(doc, true);
    CHECK(with != NULL);
    cJSON *delta = shadow_delta(doc->state[SHADOW_DESIRED], doc->state[SHADOW_REPORTED]);
    const cJSON *printed_delta =
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(with, "state"), "delta");
    CHECK((delta == NULL) == (printed_delta == NULL));
    if (delta != NULL) {
        char *a = cJSON_PrintUnformatted(delta), *b = cJSON_PrintUnformatted(printed_delta);
        CHECK(a != NULL && b != NULL && strcmp(a, b) == 0);
        cJSON_free(a);
        cJSON_free(b);
    }
    char *t3 = cJSON_PrintUnformatted(with);
    CHECK(t3 != NULL);
    CHECK(shadow_doc_from_json(t3, &d2) == 0);
    char *t4 = print_doc(&d2, false);
    CHECK(strcmp(t1, t4) == 0);
    shadow_doc_clear(&d2);
    cJSON_free(t4);

    /* The snapshot is the stored form without its timestamp. */
    cJSON *snap = shadow_doc_snapshot(doc);
    CHECK(snap != NULL);
    char iso[ISOTIME_LEN];
    CHECK(cJSON_AddStringToObject(snap, "timestamp", isotime_format(doc->timestamp, iso)));
    char *t5 = cJSON_PrintUnformatted(snap);
    CHECK(t5 != NULL && strcmp(t1, t5) == 0);

    if (clean) {
        check_strict(t1);
        check_strict(t3);
        cJSON *ref = ref_delta(doc->state[SHADOW_DESIRED], doc->state[SHADOW_REPORTED]);
        CHECK(ref_equal(ref, delta));
        cJSON_Delete(ref);
    }
    cJSON_Delete(delta);
    cJSON_Delete(with);
    cJSON_Delete(snap);
    cJSON_free(t3);
    cJSON_free(t5);

    /* shadow_state_size is the compact {"desired":…,"reported":…}. */
    cJSON *sections = cJSON_CreateObject();
    CHECK(sections != NULL);
    if (doc->state[SHADOW_DESIRED] != NULL)
        CHECK(cJSON_AddItemToObject(sections, "desired",
                                    cJSON_Duplicate(doc->state[SHADOW_DESIRED], true)));
    if (doc->state[SHADOW_REPORTED] != NULL)
        CHECK(cJSON_AddItemToObject(sections, "reported",
                                    cJSON_Duplicate(doc->state[SHADOW_REPORTED], true)));
    char *ts = cJSON_PrintUnformatted(sections);
    CHECK(ts != NULL && shadow_state_size(doc) == strlen(ts));
    cJSON_free(ts);
    cJSON_Delete(sections);

    /* The single print the service stores: the same text, state length and snapshot. */
    struct shadow_text once;
    CHECK(shadow_doc_print(doc, &once) == 0);
    CHECK(strcmp(once.text, t1) == 0);
    CHECK(once.state_len == shadow_state_size(doc));
    CHECK(strncmp(once.text + once.snapshot_len, ",\"timestamp\":\"", 14) == 0);
    shadow_text_free(&once);

    /* A copy prints the same. */
    struct shadow_doc copy;
    CHECK(shadow_doc_copy(&copy, doc) == 0);
    CHECK(copy.exists == doc->exists);
    char *t6 = print_doc(&copy, false);
    CHECK(strcmp(t1, t6) == 0);
    shadow_doc_clear(&copy);
    shadow_doc_clear(&copy);
    cJSON_free(t6);
    cJSON_free(t1);
}

/* ---- one update, as service_apply runs it ---- */

struct step {
    enum shadow_section section;
    bool ordered;
    int64_t ts; /* the report's time, and the receipt time */
};

/* Applies patch to one section and checks that call alone. Returns *changed. */
static bool apply_checked(struct shadow_doc *doc, enum shadow_section section, const cJSON *patch,
                          int64_t ts, bool ordered, bool clean)
{
    int s = section;
    struct shadow_doc before;
    CHECK(shadow_doc_copy(&before, doc) == 0);
    /* The reference and the freshness checks hold for a mirror-consistent section. */
    bool shaped = clean && (doc->state[s] == NULL || (ref_no_empty_objects(doc->state[s]) &&
                                                      mirror_ok(doc->state[s], doc->meta[s])));
    bool changed = true; /* must be overwritten */
    CHECK(shadow_apply(doc, section, patch, ts, ordered, &changed) == 0);
    CHECK(doc->version == before.version && doc->timestamp == before.timestamp &&
          doc->exists == before.exists);

    /* The other section is untouched. */
    int o = 1 - s;
    CHECK(same_text(doc->state[o], before.state[o]) && same_text(doc->meta[o], before.meta[o]));
    check_section_shape(doc, false);
    if (shaped) {
        char iso[ISOTIME_LEN];
        isotime_format(ts, iso);
        CHECK(changed == !ref_equal(before.state[s], doc->state[s]));
        CHECK(doc->state[s] == NULL ||
              (ref_no_empty_objects(doc->state[s]) && mirror_ok(doc->state[s], doc->meta[s])));
        check_written_stamped(doc->state[s], doc->meta[s], before.state[s], before.meta[s], iso);
        if (ordered)
            check_newer_kept(before.state[s], before.meta[s], doc->state[s], doc->meta[s], ts);
        /* Without the out-of-order rule, or when nothing held is newer than the patch, the
         * section is the reference merge. */
        if (!ordered || section_newest(before.state[s], before.meta[s]) <= ts) {
            cJSON *ref = ref_merge(before.state[s], patch);
            if (!ref_equal(ref, doc->state[s])) {
                char *a = ref != NULL ? cJSON_PrintUnformatted(ref) : NULL;
                char *b = doc->state[s] != NULL ? cJSON_PrintUnformatted(doc->state[s]) : NULL;
                fprintf(stderr, "merge differs from the reference:\nwant %s\ngot  %s\n",
                        a ? a : "(absent)", b ? b : "(absent)");
                abort();
            }
            cJSON_Delete(ref);
            if (cJSON_IsObject(patch))
                check_patch_stamped(patch, doc->state[s], doc->meta[s], iso);
        }
    }
    shadow_doc_clear(&before);
    return changed;
}

/* One request on a document as service_update does it; the document is kept only when the
 * update is accepted (a 409 or 413 leaves it as it was). */
static void update(struct shadow_doc *doc, const uint8_t *payload, size_t len,
                   const struct step *st, int max_depth, size_t max_doc, bool clean)
{
    /* The service answers 400/409/413 without touching the document. */
    enum topic_action action = st->section == SHADOW_REPORTED ? TOPIC_REPORTED : TOPIC_DESIRED;
    struct request_limits limits = {1048576, max_depth};
    struct request req;
    struct api_error err;
    char *copy = malloc(len > 0 ? len : 1);
    CHECK(copy != NULL);
    if (len > 0)
        memcpy(copy, payload, len);
    int rc = request_parse(action, copy, len, &limits, &req, &err);
    free(copy);
    if (rc != 0)
        return;
    /* request_parse ran shadow_check_patch; the service relies on it. */
    CHECK(shadow_check_patch(req.state, max_depth, &err) == 0);
    if (req.has_version && req.version != doc->version) {
        request_free(&req); /* 409 */
        return;
    }
    struct shadow_doc saved;
    CHECK(shadow_doc_copy(&saved, doc) == 0);
    bool cleared = false;
    if (req.clear_desired) {
        cJSON null_patch;
        memset(&null_patch, 0, sizeof null_patch);
        null_patch.type = cJSON_NULL;
        cleared = apply_checked(doc, SHADOW_DESIRED, &null_patch, st->ts, false, clean);
    }
    bool changed = apply_checked(doc, st->section, req.state, st->ts, st->ordered, clean);
    changed = changed || cleared;
    if (shadow_state_size(doc) > max_doc) { /* 413: the document is discarded */
        shadow_doc_clear(doc);
        *doc = saved;
    } else {
        shadow_doc_clear(&saved);
        if (changed) {
            doc->version++;
            doc->exists = true;
        }
        if (doc->exists)
            doc->timestamp = st->ts;
    }
    request_free(&req);
    if (doc->exists)
        check_round_trip(doc, clean);
}

/* The first part as a stored document. Returns whether it loaded; *clean says whether it is
 * free of what a stored document never holds (invalid JSON by the request rules, duplicate keys).
 */
static bool load_stored(struct shadow_doc *doc, const uint8_t *text, size_t len, bool *clean)
{
    char *s = malloc(len + 1);
    CHECK(s != NULL);
    memcpy(s, text, len);
    s[len] = '\0';
    struct request_limits big = {SIZE_MAX, 1000};
    struct request req;
    struct api_error err;
    *clean = request_parse(TOPIC_GET, s, len, &big, &req, &err) == 0 && req.root != NULL;
    if (*clean)
        *clean = ref_no_dup_keys(req.root);
    request_free(&req);
    int rc = shadow_doc_from_json(s, doc);
    free(s);
    if (rc != 0) {
        CHECK(doc->state[0] == NULL && doc->state[1] == NULL && doc->meta[0] == NULL &&
              doc->meta[1] == NULL && doc->version == 0 && !doc->exists);
        return false;
    }
    CHECK(doc->exists && doc->version >= 0 && doc->version <= (INT64_C(1) << 53));
    CHECK(doc->timestamp >= 0 && doc->timestamp <= INT64_C(253402300799));
    check_section_shape(doc, false);
    return true;
}

/* ---- the same steps under allocation failures ---- */

/* The stored text of a document, or NULL when it cannot be printed (allocation failure). */
static char *doc_text(const struct shadow_doc *doc)
{
    cJSON *json = shadow_doc_to_json(doc, false);
    char *text = json != NULL ? cJSON_PrintUnformatted(json) : NULL;
    cJSON_Delete(json);
    return text;
}

/* Exercises every read-only operation; any of them may fail, none may crash or leak. */
static void touch_all(const struct shadow_doc *doc)
{
    cJSON_Delete(shadow_delta(doc->state[SHADOW_DESIRED], doc->state[SHADOW_REPORTED]));
    cJSON_Delete(shadow_doc_snapshot(doc));
    (void)shadow_state_size(doc);
    cJSON *with = shadow_doc_to_json(doc, true);
    char *text = with != NULL ? cJSON_PrintUnformatted(with) : NULL;
    cJSON_Delete(with);
    if (text != NULL) {
        struct shadow_doc back;
        if (shadow_doc_from_json(text, &back) != 0)
            CHECK(back.state[0] == NULL && back.state[1] == NULL && !back.exists);
        shadow_doc_clear(&back);
        cJSON_free(text);
    }
    struct shadow_doc copy;
    if (shadow_doc_copy(&copy, doc) != 0)
        CHECK(copy.state[0] == NULL && copy.state[1] == NULL && copy.meta[0] == NULL &&
              copy.meta[1] == NULL && !copy.exists);
    shadow_doc_clear(&copy);
}

/* update() without the checks: whatever fails is handled as the service handles it (the
 * document of a failed update is discarded). Returns whether the document is known to be the
 * fault-free one: an update that succeeds must produce exactly ref (the fault-free text). */
static bool update_faulty(struct shadow_doc *doc, const uint8_t *payload, size_t len,
                          const struct step *st, int max_depth, size_t max_doc, const char *ref,
                          bool in_sync)
{
    enum topic_action action = st->section == SHADOW_REPORTED ? TOPIC_REPORTED : TOPIC_DESIRED;
    struct request_limits limits = {1048576, max_depth};
    struct request req;
    struct api_error err;
    char *copy = malloc(len > 0 ? len : 1);
    CHECK(copy != NULL);
    if (len > 0)
        memcpy(copy, payload, len);
    int rc = request_parse(action, copy, len, &limits, &req, &err);
    free(copy);
    if (rc != 0) {
        CHECK(req.root == NULL && req.state == NULL);
        char *now = doc_text(doc);
        bool same = now != NULL && ref != NULL && strcmp(now, ref) == 0;
        cJSON_free(now);
        return in_sync && same; /* refused: in sync only if the reference did not change */
    }
    cJSON_Delete(shadow_patch_metadata(req.state, st->ts));
    if (req.has_version && req.version != doc->version) {
        request_free(&req);
        return in_sync;
    }
    struct shadow_doc saved;
    if (shadow_doc_copy(&saved, doc) != 0) {
        CHECK(saved.state[0] == NULL && saved.state[1] == NULL && !saved.exists);
        request_free(&req); /* 500 before anything changed */
        return false;
    }
    bool cleared = false, changed = false;
    rc = 0;
    if (req.clear_desired) {
        cJSON null_patch;
        memset(&null_patch, 0, sizeof null_patch);
        null_patch.type = cJSON_NULL;
        rc = shadow_apply(doc, SHADOW_DESIRED, &null_patch, st->ts, false, &cleared);
    }
    if (rc == 0)
        rc = shadow_apply(doc, st->section, req.state, st->ts, st->ordered, &changed);
    size_t size = rc == 0 ? shadow_state_size(doc) : SIZE_MAX;
    bool ok = rc == 0 && size != SIZE_MAX;
    if (!ok || size > max_doc) { /* 500 or 413: the document is discarded */
        shadow_doc_clear(doc);
        *doc = saved;
    } else {
        shadow_doc_clear(&saved);
        if (changed || cleared) {
            doc->version++;
            doc->exists = true;
        }
        if (doc->exists)
            doc->timestamp = st->ts;
    }
    request_free(&req);
    check_section_shape(doc, false);
    if (ok && in_sync && ref != NULL) {
        /* A success under faults is the same success as without them. */
        char *now = doc_text(doc);
        if (now != NULL) {
            if (strcmp(now, ref) != 0)
                fprintf(stderr, "update under faults differs:\nwant %s\ngot  %s\n", ref, now);
            CHECK(strcmp(now, ref) == 0);
            cJSON_free(now);
        }
    }
    touch_all(doc);
    return ok && in_sync;
}

/* ---- the input ---- */

struct input {
    uint8_t flags;
    int max_depth;
    size_t max_doc;
    uint8_t fault;
    const uint8_t *part[MAX_PARTS];
    size_t part_len[MAX_PARTS];
    int nparts;
};

/* The step of part i (the first part's from the flags). */
static struct step step_of(const struct input *in, int i)
{
    if (i == 0) {
        struct step st = {(in->flags & 2) ? SHADOW_REPORTED : SHADOW_DESIRED, (in->flags & 4) != 0,
                          BASE_TS + (in->flags >> 3) * STEP_TS};
        return st;
    }
    uint8_t ctl = in->part_len[i] > 0 ? in->part[i][0] : 0; /* an empty part is skipped */
    /* ordered for reports, as the service; bit 1 flips it */
    struct step st = {(ctl & 1) ? SHADOW_REPORTED : SHADOW_DESIRED,
                      ((ctl & 1) != 0) != ((ctl & 2) != 0), BASE_TS + (ctl >> 2) * STEP_TS};
    return st;
}

/* The checked run; ref[i] gets the stored text after step i (NULL: no document yet). */
static void run_checked(const struct input *in, char *ref[MAX_PARTS])
{
    struct shadow_doc doc;
    shadow_doc_init(&doc);
    bool clean = true;
    for (int i = 0; i < in->nparts; i++) {
        ref[i] = NULL;
        struct step st = step_of(in, i);
        if (i == 0 && (in->flags & 1)) {
            if (load_stored(&doc, in->part[0], in->part_len[0], &clean))
                check_round_trip(&doc, clean);
            else
                clean = true; /* an empty document */
        } else if (i == 0) {
            update(&doc, in->part[0], in->part_len[0], &st, in->max_depth, in->max_doc, true);
        } else if (in->part_len[i] > 0) {
            update(&doc, in->part[i] + 1, in->part_len[i] - 1, &st, in->max_depth, in->max_doc,
                   clean);
        }
        ref[i] = doc_text(&doc);
        CHECK(ref[i] != NULL);
    }
    shadow_doc_clear(&doc);
    shadow_doc_clear(&doc);
}

static void run_faulty(const struct input *in, char *const ref[MAX_PARTS])
{
    cJSON_Hooks hooks = {fault_malloc, fault_free};
    fault_countdown = (long)(in->fault >> 1) * 3;
    fault_sticky = (in->fault & 1) != 0;
    cJSON_InitHooks(&hooks);

    struct shadow_doc doc;
    shadow_doc_init(&doc);
    bool in_sync = true;
    for (int i = 0; i < in->nparts; i++) {
        struct step st = step_of(in, i);
        if (i == 0 && (in->flags & 1)) {
            char *text = malloc(in->part_len[0] + 1);
            CHECK(text != NULL);
            memcpy(text, in->part[0], in->part_len[0]);
            text[in->part_len[0]] = '\0';
            int rc = shadow_doc_from_json(text, &doc);
            if (rc != 0)
                CHECK(doc.state[0] == NULL && doc.state[1] == NULL && doc.meta[0] == NULL &&
                      doc.meta[1] == NULL && !doc.exists);
            /* A load that succeeds under faults is the fault-free load. */
            char *now = doc_text(&doc);
            if (rc == 0 && now != NULL)
                CHECK(strcmp(now, ref[0]) == 0);
            in_sync = now != NULL && strcmp(now, ref[0]) == 0;
            cJSON_free(now);
            free(text);
            touch_all(&doc);
        } else if (i == 0) {
            in_sync = update_faulty(&doc, in->part[0], in->part_len[0], &st, in->max_depth,
                                    in->max_doc, ref[0], in_sync);
        } else if (in->part_len[i] > 0) {
            in_sync = update_faulty(&doc, in->part[i] + 1, in->part_len[i] - 1, &st, in->max_depth,
                                    in->max_doc, ref[i], in_sync);
        }
    }
    shadow_doc_clear(&doc);
    cJSON_InitHooks(NULL);
    fault_countdown = -1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct input in;
    if (size < 4)
        return 0;
    in.flags = data[0];
    in.max_depth = 1 + data[1] % 16;
    in.max_doc = data[2] < 128 ? 64 + (size_t)data[2] * 16 : 16384;
    in.fault = data[3];
    data += 4;
    size -= 4;

    /* Split at NUL bytes. */
    in.nparts = 0;
    while (in.nparts < MAX_PARTS) {
        const uint8_t *nul = memchr(data, 0, size);
        size_t n = nul != NULL ? (size_t)(nul - data) : size;
        in.part[in.nparts] = data;
        in.part_len[in.nparts++] = n;
        if (nul == NULL)
            break;
        data += n + 1;
        size -= n + 1;
    }

    char *ref[MAX_PARTS];
    run_checked(&in, ref);
    if (in.fault != 0)
        run_faulty(&in, ref);
    for (int i = 0; i < in.nparts; i++)
        cJSON_free(ref[i]);
    return 0;
}
