/* strmap.h — a small hash map from strings to 64-bit values, for the service's in-memory state
 * (e.g. the last delta published per meter). Open addressing with linear probing; keys are
 * copied and owned by the map. Not thread-safe: the caller serialises access. */
#ifndef STRMAP_H
#define STRMAP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct strmap_slot;

struct strmap {
    struct strmap_slot *slots;
    size_t cap;   /* a power of two, or 0 before the first put */
    size_t count; /* live keys */
};

void strmap_init(struct strmap *m);
void strmap_free(struct strmap *m);
/* Returns true and sets *value when key is present. */
bool strmap_get(const struct strmap *m, const char *key, uint64_t *value);
/* Inserts or overwrites. Returns 0, or -1 on allocation failure (the map is unchanged). */
int strmap_put(struct strmap *m, const char *key, uint64_t value);
/* Removes key if present. */
void strmap_remove(struct strmap *m, const char *key);

/* Keeps only the entries whose value is at least min_value (for maps of timestamps: forget the
 * old ones). O(capacity). Returns 0, or -1 on allocation failure (the map is unchanged). */
int strmap_retain_at_least(struct strmap *m, uint64_t min_value);

/* FNV-1a over len bytes: the map's hash, also used to fingerprint payloads. */
uint64_t strmap_hash(const void *data, size_t len);

#endif
