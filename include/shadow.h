/* shadow.h — shadow documents (SPEC §4): merge, metadata, delta, limits. Pure: no I/O.
 *
 * A document holds two sections, desired and reported, each a JSON object with a mirrored
 * metadata tree whose leaves are {"timestamp":"…Z"} (an array value gets an array of them, one
 * per element). The document owns every cJSON tree it points to. Times are Unix seconds. */
#ifndef SHADOW_H
#define SHADOW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "api_error.h"

struct cJSON;

enum shadow_section { SHADOW_DESIRED = 0, SHADOW_REPORTED = 1 };

struct shadow_doc {
    struct cJSON *state[2]; /* [section]: object, or NULL when the section is absent */
    struct cJSON *meta[2];  /* [section]: metadata mirror, NULL exactly when state is NULL */
    int64_t version;        /* 0 for a shadow that never existed */
    int64_t timestamp;      /* time of the last accepted update, 0 when none */
    bool exists;            /* false: never created, or soft-deleted (version kept) */
};

/* An empty, non-existing document at version 0. */
void shadow_doc_init(struct shadow_doc *doc);
/* Frees every tree and re-initialises; safe on an initialised or zeroed document. */
void shadow_doc_clear(struct shadow_doc *doc);

/* Loads the stored form (as written by shadow_doc_to_json(doc, false)). doc is an output: what it
 * held before is not freed. Returns 0 (exists = true), or -1 on a document that is not of that
 * shape or on allocation failure (doc is left cleared). An empty section loads as absent.
 * version/exists are the caller's to set from the store's columns when they are authoritative. */
int shadow_doc_from_json(const char *text, struct shadow_doc *doc);

/* The whole document `{"state":{"desired","reported"[,"delta"]},"metadata":{…},"version":N,
 * "timestamp":T}` in that key order; empty sections are absent; `delta` only when with_delta and
 * non-empty; timestamp always present (1970-01-01T00:00:00Z when 0).
 * Returns a new tree owned by the caller, NULL on allocation failure. */
struct cJSON *shadow_doc_to_json(const struct shadow_doc *doc, bool with_delta);

/* `{"state":{…},"metadata":{…},"version":N}` as carried in a `documents` message. New tree. */
struct cJSON *shadow_doc_snapshot(const struct shadow_doc *doc);

/* The stored form (shadow_doc_to_json(doc, false)) printed once, with where its parts end, so one
 * print serves the size check, the store and the `documents` message. */
struct shadow_text {
    char *text;          /* {"state":S,"metadata":M,"version":N,"timestamp":T}; owned */
    size_t state_len;    /* bytes of S: shadow_state_size */
    size_t snapshot_len; /* bytes before ,"timestamp": — with a closing brace, the snapshot */
};
/* Returns 0, or -1 on allocation failure (out cleared). Free with shadow_text_free. */
int shadow_doc_print(const struct shadow_doc *doc, struct shadow_text *out);
void shadow_text_free(struct shadow_text *t);

/* The delta of desired against reported (SPEC §4.3): every desired leaf whose value differs from
 * reported, with its path; arrays compare whole, numbers by value. Returns a new object, or NULL
 * when the delta is empty (or on allocation failure, which callers treat the same). */
struct cJSON *shadow_delta(const struct cJSON *desired, const struct cJSON *reported);

/* Structural checks of a request's `state` patch, in the SPEC's order: a top-level `delta` key
 * (400 `State contains an invalid node: 'delta'`), depth beyond max_depth (400 `JSON contains too
 * many levels of nesting; maximum is N`), a null inside an array (400 `Arrays can't contain null
 * values`). Depth counts the keys and indices from the patch root to every value (empty objects
 * and arrays included); a too-deep value anywhere wins over a null in an array anywhere. A null
 * anywhere within an array value counts, also as a member of an object inside it. patch may be
 * an object or JSON null (or NULL: nothing to check); anything else is 400 `State node must be
 * an object`. Returns 0 or -1 with *err set. */
int shadow_check_patch(const struct cJSON *patch, int max_depth, struct api_error *err);

/* Applies a patch to one section at time ts (SPEC §4.2, §4.4, §4.6).
 * - patch is an object (merge: objects key by key, other values replace, null deletes, empty
 *   objects add nothing, objects left empty are removed) or JSON null (drop the whole section).
 *   A patch object that adds no leaf (`{}`, only nulls of absent keys) neither adds nor replaces.
 * - ordered: the out-of-order rule of §4.6 — a leaf at path P is applied only when ts is not older
 *   than the metadata timestamp of P (or of the newest leaf under P). Used for reports. A JSON
 *   null patch is the path of the whole section: skipped when any of its leaves is newer.
 * - Equal re-reported values refresh their metadata timestamps without counting as a change.
 * Sets *changed (changed may be NULL) to whether a state value was added, changed or removed.
 * Does not touch version, timestamp or exists: the caller decides those. patch NULL: nothing to
 * do. Returns 0, or -1 on allocation failure or a patch that is neither object nor JSON null
 * (the document may then be partly updated and must be discarded). */
int shadow_apply(struct shadow_doc *doc, enum shadow_section section, const struct cJSON *patch,
                 int64_t ts, bool ordered, bool *changed);

/* Metadata mirroring a request patch, every leaf (nulls included) stamped ts; for the accepted
 * response. patch may be JSON null (gives JSON null). New tree, NULL on allocation failure. */
struct cJSON *shadow_patch_metadata(const struct cJSON *patch, int64_t ts);

/* Bytes of the desired and reported sections serialised as compact JSON
 * (`{"desired":…,"reported":…}`, absent sections omitted: an empty document is 2), the measure of
 * max_document_bytes. SIZE_MAX on allocation failure. */
size_t shadow_state_size(const struct shadow_doc *doc);

/* Deep copy. dst is an output: what it held before is not freed. Returns 0 or -1 on allocation
 * failure (dst left cleared). */
int shadow_doc_copy(struct shadow_doc *dst, const struct shadow_doc *src);

/* JSON equality as the SPEC means it: objects by key set and values, arrays element-wise in order,
 * numbers by value (1 == 1.0), strings byte for byte. */
bool json_equal(const struct cJSON *a, const struct cJSON *b);

#endif
