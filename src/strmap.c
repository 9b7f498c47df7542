/* strmap.c — open-addressing string map.
 *
 * Linear probing keeps lookups in one or two cache lines; removal shifts the following run back
 * instead of leaving tombstones, so the table never degrades under churn. The table doubles at
 * 70% load. */
#include "strmap.h"

#include <stdlib.h>
#include <string.h>

struct strmap_slot {
    char *key; /* NULL: empty */
    uint64_t hash;
    uint64_t value;
};

uint64_t strmap_hash(const void *data, size_t len)
{
    const unsigned char *p = data;
    uint64_t h = 14695981039346656037ULL;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 1099511628211ULL;
    }
    return h;
}

void strmap_init(struct strmap *m)
{
    memset(m, 0, sizeof *m);
}

void strmap_free(struct strmap *m)
{
    for (size_t i = 0; i < m->cap; i++)
        free(m->slots[i].key);
    free(m->slots);
    strmap_init(m);
}

/* Index of key's slot, or of the empty slot where it would go. cap must be > 0. */
static size_t strmap_find(const struct strmap *m, const char *key, uint64_t hash)
{
    size_t mask = m->cap - 1;
    size_t i = (size_t)hash & mask;
    while (m->slots[i].key != NULL &&
           (m->slots[i].hash != hash || strcmp(m->slots[i].key, key) != 0))
        i = (i + 1) & mask;
    return i;
}

bool strmap_get(const struct strmap *m, const char *key, uint64_t *value)
{
    if (m->cap == 0)
        return false;
    const struct strmap_slot *s = &m->slots[strmap_find(m, key, strmap_hash(key, strlen(key)))];
    if (s->key == NULL)
        return false;
    *value = s->value;
    return true;
}

static int strmap_grow(struct strmap *m)
{
    size_t cap = m->cap ? m->cap * 2 : 64;
    struct strmap_slot *slots = calloc(cap, sizeof *slots);
    if (slots == NULL)
        return -1;
    struct strmap old = *m;
    m->slots = slots;
    m->cap = cap;
    for (size_t i = 0; i < old.cap; i++)
        if (old.slots[i].key != NULL)
            m->slots[strmap_find(m, old.slots[i].key, old.slots[i].hash)] = old.slots[i];
    free(old.slots);
    return 0;
}

int strmap_put(struct strmap *m, const char *key, uint64_t value)
{
    if ((m->count + 1) * 10 > m->cap * 7 && strmap_grow(m) != 0)
        return -1;
    uint64_t hash = strmap_hash(key, strlen(key));
    struct strmap_slot *s = &m->slots[strmap_find(m, key, hash)];
    if (s->key == NULL) {
        s->key = strdup(key);
        if (s->key == NULL)
            return -1;
        s->hash = hash;
        m->count++;
    }
    s->value = value;
    return 0;
}

void strmap_remove(struct strmap *m, const char *key)
{
    if (m->cap == 0)
        return;
    size_t mask = m->cap - 1;
    size_t i = strmap_find(m, key, strmap_hash(key, strlen(key)));
    if (m->slots[i].key == NULL)
        return;
    free(m->slots[i].key);
    m->slots[i].key = NULL;
    m->count--;
    /* Shift back every entry of the run that would no longer be reachable past the hole. */
    for (size_t j = (i + 1) & mask; m->slots[j].key != NULL; j = (j + 1) & mask) {
        size_t home = (size_t)m->slots[j].hash & mask;
        bool reachable = (j > i) ? (home > i && home <= j) : (home > i || home <= j);
        if (!reachable) {
            m->slots[i] = m->slots[j];
            m->slots[j].key = NULL;
            i = j;
        }
    }
}

int strmap_retain_at_least(struct strmap *m, uint64_t min_value)
{
    struct strmap kept;
    strmap_init(&kept);
    for (size_t i = 0; i < m->cap; i++) {
        const struct strmap_slot *s = &m->slots[i];
        if (s->key != NULL && s->value >= min_value && strmap_put(&kept, s->key, s->value) != 0) {
            strmap_free(&kept);
            return -1;
        }
    }
    strmap_free(m);
    *m = kept;
    return 0;
}
