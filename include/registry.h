/* registry.h — the fleet topology file of `shadowctl import` (SPEC §7), parsed and checked.
 *
 * registry_parse turns the JSON text into a struct topology and lists every problem it finds, each
 * with its location (`meters[2].registers[1].element: must be A, B or SINGLE, got 'C'`). It checks
 * shape, types and the rules that need nothing but the file; references by natural key (a meter's
 * `esco`, a circuit's register) may name rows already in the database, so they are resolved by
 * the store (store_registry.h), which appends its problems to the same list. Pure: no I/O. */
#ifndef REGISTRY_H
#define REGISTRY_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "strmap.h"

#define REGISTRY_ID_LEN 37     /* a UUID in text, 8-4-4-4-12 lower-case hex, plus NUL */
#define REGISTRY_TEXT_MAX 1024 /* bytes of any string member */

struct cJSON;

/* ---- Problems ------------------------------------------------------------------------------ */

/* Every problem of one import, in the order found: `location: why`. Owns its strings. */
struct registry_problems {
    char **items;
    size_t count;
    size_t cap;
    bool out_of_memory; /* a problem could not be recorded: treat the file as rejected */
};

/* An empty list; nothing allocated until the first problem. */
void registry_problems_init(struct registry_problems *p);
/* Appends one printf-formatted problem (copied; at most 511 bytes kept). Returns 0, or -1 (and
 * sets out_of_memory) when it cannot be stored. The addv form takes a va_list. */
int registry_problems_add(struct registry_problems *p, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
int registry_problems_addv(struct registry_problems *p, const char *fmt, va_list ap)
    __attribute__((format(printf, 2, 0)));
/* True when the import must be rejected: a problem listed, or one lost to memory. */
bool registry_problems_any(const struct registry_problems *p);
/* Frees every string; p is empty (and reusable) after. Safe to call twice. */
void registry_problems_free(struct registry_problems *p);

/* ---- Topology ------------------------------------------------------------------------------ */

/* Every string member below points into the parsed document held by the topology, and lives as
 * long as it. A NULL string, a false has_ flag or phase 0 means the member was left out or null:
 * the stored column becomes NULL (or its default). id is "" when the file gives none. */

struct registry_esco {
    size_t at; /* position in the file's array, for problem locations */
    char id[REGISTRY_ID_LEN];
    const char *code; /* natural key */
    const char *name;
};

struct registry_site {
    size_t at; /* position in the file's array, for problem locations */
    char id[REGISTRY_ID_LEN];
    const char *name; /* natural key */
    const char *esco; /* ESCO code */
    const char *location;
    bool has_capacity_kw;
    double capacity_kw;
};

struct registry_feeder {
    size_t at; /* position in the file's array, for problem locations */
    char id[REGISTRY_ID_LEN];
    const char *name; /* natural key */
    const char *substation;
    bool has_rating_amps;
    double rating_amps;
};

struct registry_service_head {
    size_t at; /* position in the file's array, for problem locations */
    char id[REGISTRY_ID_LEN];
    const char *name; /* natural key */
    int phase;        /* 1 or 3; 0 when left out */
    const char *type;
    const char *feeder; /* feeder name */
    bool has_fuse_rating_amps;
    double fuse_rating_amps;
};

struct registry_property {
    size_t at; /* position in the file's array, for problem locations */
    char id[REGISTRY_ID_LEN];
    const char *plot; /* natural key */
    const char *site; /* site name */
    const char *address;
    const char *type;
    const char **service_heads; /* service head names; the property's whole list */
    size_t service_head_count;
};

struct registry_register {
    size_t at; /* position in the file's array, for problem locations */
    char id[REGISTRY_ID_LEN];
    const char *element; /* "A", "B" or "SINGLE": with the meter's serial, the natural key */
    bool direction_reversed;
    bool has_rollover_kwh;
    double rollover_kwh;
};

struct registry_meter {
    size_t at; /* position in the file's array, for problem locations */
    char id[REGISTRY_ID_LEN];
    const char *serial; /* natural key; a valid topic serial */
    const char *name;
    const char *ip_address;
    const char *hardware;
    const char *esco;         /* ESCO code */
    const char *service_head; /* service head name */
    bool passive;             /* mode = passive */
    bool single_meter_app;
    bool dst_correction; /* daylight_savings_correction_enabled */
    struct registry_register *registers;
    size_t register_count;
};

/* A register counted toward a circuit for start <= period < end (open when !has_end). */
struct registry_mapping {
    size_t at;           /* position in the circuit's `registers` array */
    const char *meter;   /* meter serial */
    const char *element; /* "A", "B" or "SINGLE" */
    int64_t start;
    bool has_end;
    int64_t end;
};

struct registry_circuit {
    size_t at; /* position in the file's array, for problem locations */
    char id[REGISTRY_ID_LEN];
    const char *name; /* natural key */
    const char *type; /* "power", "heat" or "solar" */
    const char *site; /* site name */
    bool has_rating_amps;
    double rating_amps;
    struct registry_mapping *mappings; /* the circuit's whole mapping history */
    size_t mapping_count;
};

/* What an import counts, one row per entity type and per link table. */
enum registry_kind {
    REGISTRY_ESCOS = 0,
    REGISTRY_SITES,
    REGISTRY_FEEDERS,
    REGISTRY_SERVICE_HEADS,
    REGISTRY_PROPERTIES,
    REGISTRY_METERS,
    REGISTRY_REGISTERS,
    REGISTRY_CIRCUITS,
    REGISTRY_PROPERTY_SERVICE_HEADS, /* properties_service_head rows */
    REGISTRY_METER_SERVICE_HEADS,    /* service_head_meter rows */
    REGISTRY_CIRCUIT_REGISTERS,      /* circuit_register rows */
    REGISTRY_KIND_COUNT
};

/* A parsed file. Entities whose natural key is missing or invalid, and repeats of a key, are left
 * out of the arrays (with a problem listed), so every entity here has a valid, unique key and
 * every member holds a valid value: the store can resolve references even in a rejected file and
 * so list its problems too. */
struct topology {
    struct registry_esco *escos;
    size_t esco_count;
    struct registry_site *sites;
    size_t site_count;
    struct registry_feeder *feeders;
    size_t feeder_count;
    struct registry_service_head *service_heads;
    size_t service_head_count;
    struct registry_property *properties;
    size_t property_count;
    struct registry_meter *meters;
    size_t meter_count;
    struct registry_circuit *circuits;
    size_t circuit_count;
    size_t register_count;                   /* over every meter */
    size_t mapping_count;                    /* over every circuit */
    struct strmap keys[REGISTRY_KIND_COUNT]; /* natural key → index, for the entity kinds */
    struct cJSON *doc;                       /* owns every string above */
};

/* Parses json_text[0..len) (need not be NUL-terminated) into *out and appends every problem
 * found to problems. Returns 0 when the file has no problem, -1 otherwise (problems listed, or
 * out of memory). *out is filled either way, as far as the file allows, and must be released with
 * registry_topology_free. */
int registry_parse(const char *json_text, size_t len, struct topology *out,
                   struct registry_problems *problems);

/* Frees what registry_parse allocated; *t is empty after. Safe to call twice. */
void registry_topology_free(struct topology *t);

/* The index of the entity of kind (ESCOS … CIRCUITS, not REGISTERS) whose natural key is key.
 * Returns true and sets *index, or false when the file has none. */
bool registry_find(const struct topology *t, enum registry_kind kind, const char *key,
                   size_t *index);

/* The register of meter m with element, or NULL. */
const struct registry_register *registry_meter_register(const struct registry_meter *m,
                                                        const char *element);

/* The number of entities and links of the file: the total a progress display counts to. */
size_t registry_entity_total(const struct topology *t);

/* ---- Import report ------------------------------------------------------------------------- */

struct registry_counts {
    size_t created;
    size_t updated;   /* a stored row whose values differ from the file's, rewritten */
    size_t unchanged; /* a stored row equal to the file's, not written at all */
    size_t removed;   /* links of a listed entity that the file no longer names */
};

/* Filled by store_registry_import. progress, when set by the caller, is called every few hundred
 * rows written and at the end, with the entities and links done so far and the total
 * (registry_entity_total); it runs inside the import's transaction, so it must be quick. */
struct registry_report {
    struct registry_counts counts[REGISTRY_KIND_COUNT];
    void (*progress)(void *ctx, size_t done, size_t total);
    void *progress_ctx;
};

/* The snake_case name of kind (`escos`, `service_heads`, `circuit_registers`): a JSON key and,
 * with spaces for `_`, a table label. "?" for a value out of range. */
const char *registry_kind_name(enum registry_kind kind);

/* True when text is a UUID: 8-4-4-4-12 hex digits of either case. */
bool registry_uuid_valid(const char *text);

#endif
