/* shadow.c — shadow documents (SPEC §4): merge, metadata, delta, limits. Pure: no I/O.
 *
 * A section (desired or reported) is a cJSON object; beside it lives a metadata tree of the same
 * shape whose leaves are {"timestamp":"…Z"} (an array value: one such object per element). The
 * two trees are edited together, key by key, so the invariant "metadata mirrors the leaves" holds
 * after every update. A metadata node is a leaf exactly when it is an object whose "timestamp"
 * member is a string: a state key named "timestamp" mirrors to an object or an array, never to a
 * string, so the two cannot be confused.
 *
 * Out-of-order reports (§4.6) need "the newest leaf under P"; it is found by walking the metadata
 * subtree and parsing its ISO timestamps. Documents are small (max_document_bytes), so the walk is
 * cheap next to the store round trip that follows every update. */
#include "shadow.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "isotime.h"

static const char *const section_names[2] = {"desired", "reported"};

/* ---- small cJSON helpers ---- */

/* Puts item under key, replacing an existing member in place (the key keeps its position).
 * Takes ownership of item in every case. Returns 0, or -1 (item freed) on failure. */
static int obj_put(cJSON *obj, const char *key, cJSON *item)
{
    if (item == NULL)
        return -1;
    if (cJSON_GetObjectItemCaseSensitive(obj, key) != NULL) {
        if (cJSON_ReplaceItemInObjectCaseSensitive(obj, key, item))
            return 0;
    } else if (cJSON_AddItemToObject(obj, key, item)) {
        return 0;
    }
    cJSON_Delete(item);
    return -1;
}

static bool obj_empty(const cJSON *obj)
{
    return obj->child == NULL;
}

/* A deep copy, or a new empty object when src is NULL. */
static cJSON *dup_or_empty(const cJSON *src)
{
    return src != NULL ? cJSON_Duplicate(src, true) : cJSON_CreateObject();
}

/* ---- JSON equality ---- */

/* Every member of a has a member of the same name in b with an equal value. */
static bool object_covers(const cJSON *a, const cJSON *b)
{
    for (const cJSON *x = a->child; x != NULL; x = x->next) {
        const cJSON *y = cJSON_GetObjectItemCaseSensitive(b, x->string);
        if (y == NULL || !json_equal(x, y))
            return false;
    }
    return true;
}

bool json_equal(const cJSON *a, const cJSON *b)
{
    if (a == NULL || b == NULL)
        return a == b;
    int ta = a->type & 0xFF, tb = b->type & 0xFF;
    if (ta != tb)
        return false;
    switch (ta) {
    case cJSON_Number:
        /* cJSON keeps the parsed value as a double: 1 and 1.0 are the same double. */
        return a->valuedouble == b->valuedouble;
    case cJSON_String:
    case cJSON_Raw:
        if (a->valuestring == NULL || b->valuestring == NULL)
            return a->valuestring == b->valuestring;
        return strcmp(a->valuestring, b->valuestring) == 0;
    case cJSON_Array: {
        const cJSON *x = a->child, *y = b->child;
        for (; x != NULL && y != NULL; x = x->next, y = y->next)
            if (!json_equal(x, y))
                return false;
        return x == NULL && y == NULL;
    }
    case cJSON_Object:
        /* Both directions: duplicate keys (which cJSON's parser keeps) must not fool a one-way
         * check. */
        return object_covers(a, b) && object_covers(b, a);
    default: /* true, false, null: the type says it all */
        return true;
    }
}

/* ---- metadata ---- */

static cJSON *meta_stamp(const char *iso)
{
    cJSON *leaf = cJSON_CreateObject();
    if (leaf != NULL && cJSON_AddStringToObject(leaf, "timestamp", iso) == NULL) {
        cJSON_Delete(leaf);
        return NULL;
    }
    return leaf;
}

/* The metadata of a state leaf: {"timestamp":T}, or for an array one such object per element. */
static cJSON *meta_leaf(const cJSON *value, const char *iso)
{
    if (!cJSON_IsArray(value))
        return meta_stamp(iso);
    cJSON *arr = cJSON_CreateArray();
    if (arr == NULL)
        return NULL;
    for (const cJSON *e = value->child; e != NULL; e = e->next) {
        cJSON *stamp = meta_stamp(iso);
        if (stamp == NULL || !cJSON_AddItemToArray(arr, stamp)) {
            cJSON_Delete(stamp);
            cJSON_Delete(arr);
            return NULL;
        }
    }
    return arr;
}

/* The newest timestamp of any leaf under metadata node m; INT64_MIN when there is none. */
static int64_t meta_newest(const cJSON *m)
{
    if (m == NULL)
        return INT64_MIN;
    if (cJSON_IsObject(m)) {
        const cJSON *ts = cJSON_GetObjectItemCaseSensitive(m, "timestamp");
        if (cJSON_IsString(ts)) {
            int64_t t;
            return isotime_parse(ts->valuestring, &t) == 0 ? t : INT64_MIN;
        }
    }
    int64_t newest = INT64_MIN;
    if (cJSON_IsObject(m) || cJSON_IsArray(m)) {
        for (const cJSON *c = m->child; c != NULL; c = c->next) {
            int64_t t = meta_newest(c);
            if (t > newest)
                newest = t;
        }
    }
    return newest;
}

static cJSON *patch_meta(const cJSON *patch, const char *iso)
{
    if (!cJSON_IsObject(patch))
        return meta_leaf(patch, iso);
    cJSON *out = cJSON_CreateObject();
    if (out == NULL)
        return NULL;
    for (const cJSON *p = patch->child; p != NULL; p = p->next) {
        if (obj_put(out, p->string, patch_meta(p, iso)) != 0) {
            cJSON_Delete(out);
            return NULL;
        }
    }
    return out;
}

cJSON *shadow_patch_metadata(const cJSON *patch, int64_t ts)
{
    if (patch == NULL || cJSON_IsNull(patch))
        return cJSON_CreateNull();
    char iso[ISOTIME_LEN];
    isotime_format(ts, iso);
    return patch_meta(patch, iso);
}

/* ---- delta ---- */

/* Sets *out to the delta of desired against reported, NULL when empty. Returns 0, or -1 on
 * allocation failure (*out NULL), so that a failure never passes for a smaller delta. */
static int delta_of(const cJSON *desired, const cJSON *reported, cJSON **out)
{
    *out = NULL;
    if (!cJSON_IsObject(desired))
        return 0;
    if (!cJSON_IsObject(reported))
        reported = NULL;
    cJSON *delta = cJSON_CreateObject();
    if (delta == NULL)
        return -1;
    for (const cJSON *d = desired->child; d != NULL; d = d->next) {
        const cJSON *r =
            reported != NULL ? cJSON_GetObjectItemCaseSensitive(reported, d->string) : NULL;
        cJSON *part = NULL;
        if (cJSON_IsObject(d) && cJSON_IsObject(r)) {
            if (delta_of(d, r, &part) != 0)
                goto fail;
        } else if (!json_equal(d, r)) {
            part = cJSON_Duplicate(d, true);
            if (part == NULL)
                goto fail;
        }
        if (part != NULL && obj_put(delta, d->string, part) != 0)
            goto fail;
    }
    if (obj_empty(delta))
        cJSON_Delete(delta);
    else
        *out = delta;
    return 0;
fail:
    cJSON_Delete(delta);
    return -1;
}

cJSON *shadow_delta(const cJSON *desired, const cJSON *reported)
{
    cJSON *delta;
    return delta_of(desired, reported, &delta) == 0 ? delta : NULL;
}

/* ---- documents ---- */

void shadow_doc_init(struct shadow_doc *doc)
{
    for (int s = 0; s < 2; s++) {
        doc->state[s] = NULL;
        doc->meta[s] = NULL;
    }
    doc->version = 0;
    doc->timestamp = 0;
    doc->exists = false;
}

void shadow_doc_clear(struct shadow_doc *doc)
{
    for (int s = 0; s < 2; s++) {
        cJSON_Delete(doc->state[s]);
        cJSON_Delete(doc->meta[s]);
    }
    shadow_doc_init(doc);
}

int shadow_doc_copy(struct shadow_doc *dst, const struct shadow_doc *src)
{
    shadow_doc_init(dst);
    for (int s = 0; s < 2; s++) {
        if (src->state[s] == NULL)
            continue;
        dst->state[s] = cJSON_Duplicate(src->state[s], true);
        dst->meta[s] = dup_or_empty(src->meta[s]);
        if (dst->state[s] == NULL || dst->meta[s] == NULL) {
            shadow_doc_clear(dst);
            return -1;
        }
    }
    dst->version = src->version;
    dst->timestamp = src->timestamp;
    dst->exists = src->exists;
    return 0;
}

/* Moves one section of a parsed stored document into doc. An empty section becomes absent;
 * missing metadata for a present section becomes an empty mirror (every leaf then counts as
 * oldest). */
static int load_section(cJSON *state, cJSON *meta, int s, struct shadow_doc *doc)
{
    const char *name = section_names[s];
    const cJSON *st = cJSON_GetObjectItemCaseSensitive(state, name);
    const cJSON *mt = cJSON_GetObjectItemCaseSensitive(meta, name);
    if (st == NULL || cJSON_IsNull(st))
        return 0;
    if (!cJSON_IsObject(st) || (mt != NULL && !cJSON_IsObject(mt)))
        return -1;
    if (obj_empty(st))
        return 0;
    doc->state[s] = cJSON_DetachItemFromObjectCaseSensitive(state, name);
    doc->meta[s] =
        mt != NULL ? cJSON_DetachItemFromObjectCaseSensitive(meta, name) : cJSON_CreateObject();
    return doc->meta[s] != NULL ? 0 : -1;
}

int shadow_doc_from_json(const char *text, struct shadow_doc *doc)
{
    shadow_doc_init(doc);
    if (text == NULL)
        return -1;
    cJSON *root = cJSON_ParseWithOpts(text, NULL, true);
    cJSON *state = cJSON_GetObjectItemCaseSensitive(root, "state");
    cJSON *meta = cJSON_GetObjectItemCaseSensitive(root, "metadata");
    const cJSON *version = cJSON_GetObjectItemCaseSensitive(root, "version");
    const cJSON *timestamp = cJSON_GetObjectItemCaseSensitive(root, "timestamp");
    int64_t ts = 0;
    int rc = -1;
    if (!cJSON_IsObject(root) || !cJSON_IsObject(state) || !cJSON_IsObject(meta) ||
        !cJSON_IsNumber(version) || !cJSON_IsString(timestamp) ||
        isotime_parse(timestamp->valuestring, &ts) != 0)
        goto out;
    /* Versions are whole numbers within what a double carries exactly. */
    double v = version->valuedouble;
    if (!(v >= 0 && v <= 9007199254740992.0) || v != (double)(int64_t)v)
        goto out;
    for (int s = 0; s < 2; s++)
        if (load_section(state, meta, s, doc) != 0)
            goto out;
    doc->version = (int64_t)v;
    doc->timestamp = ts;
    doc->exists = true;
    rc = 0;
out:
    cJSON_Delete(root);
    if (rc != 0)
        shadow_doc_clear(doc);
    return rc;
}

/* Adds {"desired":copy,"reported":copy} of trees[] (absent ones omitted) under key of parent.
 * Returns the new object or NULL. */
static cJSON *add_sections(cJSON *parent, const char *key, cJSON *const trees[2])
{
    cJSON *obj = cJSON_AddObjectToObject(parent, key);
    if (obj == NULL)
        return NULL;
    for (int s = 0; s < 2; s++) {
        if (trees[s] != NULL &&
            obj_put(obj, section_names[s], cJSON_Duplicate(trees[s], true)) != 0)
            return NULL;
    }
    return obj;
}

/* state, metadata and version: the part shared by the stored form and the snapshot. */
static cJSON *doc_body(const struct shadow_doc *doc, bool with_delta)
{
    cJSON *root = cJSON_CreateObject();
    if (root == NULL)
        return NULL;
    cJSON *state = add_sections(root, "state", doc->state);
    if (state == NULL)
        goto fail;
    if (with_delta) {
        cJSON *delta;
        if (delta_of(doc->state[SHADOW_DESIRED], doc->state[SHADOW_REPORTED], &delta) != 0 ||
            (delta != NULL && obj_put(state, "delta", delta) != 0))
            goto fail;
    }
    if (add_sections(root, "metadata", doc->meta) == NULL ||
        cJSON_AddNumberToObject(root, "version", (double)doc->version) == NULL)
        goto fail;
    return root;
fail:
    cJSON_Delete(root);
    return NULL;
}

cJSON *shadow_doc_to_json(const struct shadow_doc *doc, bool with_delta)
{
    cJSON *root = doc_body(doc, with_delta);
    char iso[ISOTIME_LEN];
    if (root != NULL &&
        cJSON_AddStringToObject(root, "timestamp", isotime_format(doc->timestamp, iso)) == NULL) {
        cJSON_Delete(root);
        return NULL;
    }
    return root;
}

cJSON *shadow_doc_snapshot(const struct shadow_doc *doc)
{
    return doc_body(doc, false);
}

/* {"desired":…,"reported":…} of trees printed without copying them: each section is a reference
 * to the tree's members (freed with obj, the members untouched). Constant keys allocate nothing,
 * so adding cannot fail half-way (cJSON_AddItemReferenceToObject leaks its item when it does). */
static char *print_sections(cJSON *const trees[2])
{
    cJSON *obj = cJSON_CreateObject();
    bool ok = obj != NULL;
    for (int s = 0; ok && s < 2; s++) {
        if (trees[s] == NULL)
            continue;
        cJSON *ref = cJSON_CreateObjectReference(trees[s]->child);
        ok = ref != NULL && cJSON_AddItemToObjectCS(obj, section_names[s], ref);
        if (ref != NULL && !ok)
            cJSON_Delete(ref);
    }
    char *text = ok ? cJSON_PrintUnformatted(obj) : NULL;
    cJSON_Delete(obj);
    return text;
}

int shadow_doc_print(const struct shadow_doc *doc, struct shadow_text *out)
{
    memset(out, 0, sizeof *out);
    char *state = print_sections(doc->state), *meta = print_sections(doc->meta);
    int head = -1, tail = -1;
    if (state != NULL && meta != NULL) {
        out->state_len = strlen(state);
        size_t cap = out->state_len + strlen(meta) + 128; /* keys, version, timestamp */
        out->text = malloc(cap);
        if (out->text != NULL)
            head = snprintf(out->text, cap, "{\"state\":%s,\"metadata\":%s,\"version\":%lld", state,
                            meta, (long long)doc->version);
        if (head >= 0 && (size_t)head < cap) {
            char iso[ISOTIME_LEN];
            tail = snprintf(out->text + head, cap - (size_t)head, ",\"timestamp\":\"%s\"}",
                            isotime_format(doc->timestamp, iso));
        }
    }
    cJSON_free(state);
    cJSON_free(meta);
    if (tail < 0) {
        shadow_text_free(out);
        return -1;
    }
    out->snapshot_len = (size_t)head;
    return 0;
}

void shadow_text_free(struct shadow_text *t)
{
    free(t->text);
    memset(t, 0, sizeof *t);
}

size_t shadow_state_size(const struct shadow_doc *doc)
{
    char *text = print_sections(doc->state);
    size_t size = text != NULL ? strlen(text) : SIZE_MAX;
    cJSON_free(text);
    return size;
}

/* ---- structural checks ---- */

/* Walks node at the given depth (keys and indices from the section root). Returns 1 as soon as
 * a node lies deeper than max_depth; records in *null_in_array a null anywhere inside an array
 * (an element, or a member of an object that is one): array values are stored verbatim, and a
 * stored null would mean nothing. */
static int check_walk(const cJSON *node, int depth, bool in_array, int max_depth,
                      bool *null_in_array)
{
    if (depth > max_depth)
        return 1;
    if (in_array && cJSON_IsNull(node))
        *null_in_array = true;
    if (!cJSON_IsArray(node) && !cJSON_IsObject(node))
        return 0;
    in_array = in_array || cJSON_IsArray(node);
    for (const cJSON *c = node->child; c != NULL; c = c->next)
        if (check_walk(c, depth + 1, in_array, max_depth, null_in_array) != 0)
            return 1;
    return 0;
}

int shadow_check_patch(const cJSON *patch, int max_depth, struct api_error *err)
{
    if (patch == NULL || cJSON_IsNull(patch))
        return 0;
    if (!cJSON_IsObject(patch))
        return api_error_set(err, 400, "State node must be an object");
    if (cJSON_GetObjectItemCaseSensitive(patch, "delta") != NULL)
        return api_error_set(err, 400, "State contains an invalid node: 'delta'");
    /* One walk: depth wins over a null in an array wherever each is found. */
    bool null_in_array = false;
    if (check_walk(patch, 0, false, max_depth, &null_in_array) != 0)
        return api_error_set(err, 400, "JSON contains too many levels of nesting; maximum is %d",
                             max_depth);
    if (null_in_array)
        return api_error_set(err, 400, "Arrays can't contain null values");
    return 0;
}

/* ---- merge ---- */

struct merge_ctx {
    int64_t ts;
    const char *iso; /* ts formatted once */
    bool ordered;
    bool changed;
};

/* The patch at path P is older than the newest leaf already held at P (§4.6). */
static bool stale(const struct merge_ctx *ctx, const cJSON *meta_node)
{
    return ctx->ordered && meta_newest(meta_node) > ctx->ts;
}

/* The metadata object for key under meta, replacing whatever non-object is there. */
static cJSON *meta_object(cJSON *meta, const char *key)
{
    cJSON *m = cJSON_GetObjectItemCaseSensitive(meta, key);
    if (cJSON_IsObject(m))
        return m;
    cJSON *fresh = cJSON_CreateObject();
    return obj_put(meta, key, fresh) == 0 ? fresh : NULL;
}

static int merge(struct merge_ctx *ctx, cJSON *cur, cJSON *meta, const cJSON *patch);

/* patch[key] is an object. */
static int merge_object(struct merge_ctx *ctx, cJSON *cur, cJSON *meta, const char *key,
                        const cJSON *p)
{
    cJSON *c = cJSON_GetObjectItemCaseSensitive(cur, key);
    if (cJSON_IsObject(c)) {
        cJSON *m = meta_object(meta, key);
        if (m == NULL || merge(ctx, c, m, p) != 0)
            return -1;
        if (obj_empty(c)) { /* its last leaves were deleted */
            cJSON_DeleteItemFromObjectCaseSensitive(cur, key);
            cJSON_DeleteItemFromObjectCaseSensitive(meta, key);
        }
        return 0;
    }
    if (c != NULL && stale(ctx, cJSON_GetObjectItemCaseSensitive(meta, key)))
        return 0;
    /* Build the object apart and install it only when it holds a leaf: a patch object that adds
     * nothing (`{}`, or only nulls) neither adds nor replaces anything. */
    cJSON *obj = cJSON_CreateObject();
    cJSON *m = cJSON_CreateObject();
    if (obj == NULL || m == NULL || merge(ctx, obj, m, p) != 0) {
        cJSON_Delete(obj);
        cJSON_Delete(m);
        return -1;
    }
    if (obj_empty(obj)) {
        cJSON_Delete(obj);
        cJSON_Delete(m);
        return 0;
    }
    if (obj_put(cur, key, obj) != 0) {
        cJSON_Delete(m);
        return -1;
    }
    return obj_put(meta, key, m);
}

/* patch[key] is null. */
static void merge_null(struct merge_ctx *ctx, cJSON *cur, cJSON *meta, const char *key)
{
    if (cJSON_GetObjectItemCaseSensitive(cur, key) == NULL)
        return;
    if (stale(ctx, cJSON_GetObjectItemCaseSensitive(meta, key)))
        return;
    cJSON_DeleteItemFromObjectCaseSensitive(cur, key);
    cJSON_DeleteItemFromObjectCaseSensitive(meta, key);
    ctx->changed = true;
}

/* patch[key] is a scalar or an array: it replaces whole. */
static int merge_value(struct merge_ctx *ctx, cJSON *cur, cJSON *meta, const char *key,
                       const cJSON *p)
{
    cJSON *c = cJSON_GetObjectItemCaseSensitive(cur, key);
    if (c != NULL && stale(ctx, cJSON_GetObjectItemCaseSensitive(meta, key)))
        return 0;
    if (c != NULL && json_equal(c, p)) /* re-reported: refresh the timestamps only */
        return obj_put(meta, key, meta_leaf(p, ctx->iso));
    if (obj_put(cur, key, cJSON_Duplicate(p, true)) != 0)
        return -1;
    ctx->changed = true;
    return obj_put(meta, key, meta_leaf(p, ctx->iso));
}

static int merge(struct merge_ctx *ctx, cJSON *cur, cJSON *meta, const cJSON *patch)
{
    for (const cJSON *p = patch->child; p != NULL; p = p->next) {
        int rc = 0;
        if (p->string == NULL)
            continue;
        if (cJSON_IsObject(p))
            rc = merge_object(ctx, cur, meta, p->string, p);
        else if (cJSON_IsNull(p))
            merge_null(ctx, cur, meta, p->string);
        else
            rc = merge_value(ctx, cur, meta, p->string, p);
        if (rc != 0)
            return -1;
    }
    return 0;
}

static void drop_section(struct shadow_doc *doc, int s)
{
    cJSON_Delete(doc->state[s]);
    cJSON_Delete(doc->meta[s]);
    doc->state[s] = NULL;
    doc->meta[s] = NULL;
}

int shadow_apply(struct shadow_doc *doc, enum shadow_section section, const cJSON *patch,
                 int64_t ts, bool ordered, bool *changed)
{
    char iso[ISOTIME_LEN];
    struct merge_ctx ctx = {ts, isotime_format(ts, iso), ordered, false};
    int s = section == SHADOW_REPORTED ? SHADOW_REPORTED : SHADOW_DESIRED;
    int rc = 0;
    if (changed != NULL)
        *changed = false;
    if (patch == NULL)
        return 0;
    if (cJSON_IsNull(patch)) {
        /* The whole section at once: under the out-of-order rule, P is the section root. */
        if (doc->state[s] != NULL && !stale(&ctx, doc->meta[s])) {
            drop_section(doc, s);
            ctx.changed = true;
        }
    } else if (!cJSON_IsObject(patch)) {
        return -1;
    } else {
        if (doc->state[s] == NULL)
            doc->state[s] = cJSON_CreateObject();
        if (doc->meta[s] == NULL)
            doc->meta[s] = cJSON_CreateObject();
        if (doc->state[s] == NULL || doc->meta[s] == NULL)
            rc = -1;
        else
            rc = merge(&ctx, doc->state[s], doc->meta[s], patch);
        if (doc->state[s] == NULL || obj_empty(doc->state[s]))
            drop_section(doc, s);
    }
    if (changed != NULL)
        *changed = ctx.changed;
    return rc;
}
