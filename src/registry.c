/* registry.c — the topology file of `shadowctl import` (SPEC §7): JSON text → struct topology,
 * with every problem listed.
 *
 * An operator fixing a fleet file wants the whole list of what is wrong in one run, not one error
 * per attempt. So nothing here stops at the first problem: every member is checked on its own, a
 * bad member is dropped with its problem, and an entity is kept as long as its natural key is
 * good — references to it can then still be checked (by the store), and a typo in one meter's
 * `mode` does not hide an unknown ESCO three meters later. Entities without a usable key, repeated
 * keys, and registers or mappings that break a rule are dropped, so what the topology holds is
 * always valid on its own.
 *
 * Strings are borrowed from the cJSON tree, which the topology owns. The file is strict: unknown
 * members and repeated members are problems (a misspelt `rolover_kwh` must not be ignored in
 * silence), and a JSON null is the same as a member left out. */
#include "registry.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "isotime.h"
#include "request.h"
#include "topics.h"

#define WHERE_MAX 96 /* "circuits[N].registers[M]" with 20-digit indexes fits */
#define SHOW_MAX 64  /* a value quoted in a message */
#define SHOW_TEXT 40 /* bytes of a string value shown before "..." */

/* Sanity bounds for the numbers of the file: beyond them a value is a typo, not a fleet. */
#define CAPACITY_KW_MAX 1e6
#define AMPS_MAX 1e5
#define ROLLOVER_KWH_MAX 1e9

struct parse {
    struct registry_problems *problems;
    size_t found; /* problems of this parse (the list may hold earlier ones) */
    struct topology *t;
    struct strmap ids[REGISTRY_KIND_COUNT]; /* ids given in the file, per kind: repeats */
};

/* ---- Problems ------------------------------------------------------------------------------ */

void registry_problems_init(struct registry_problems *p)
{
    memset(p, 0, sizeof *p);
}

int registry_problems_addv(struct registry_problems *p, const char *fmt, va_list ap)
{
    char line[512];
    if (vsnprintf(line, sizeof line, fmt, ap) < 0)
        snprintf(line, sizeof line, "(a problem that could not be formatted)");
    if (p->count == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 16;
        char **items = realloc(p->items, cap * sizeof *items);
        if (items == NULL) {
            p->out_of_memory = true;
            return -1;
        }
        p->items = items;
        p->cap = cap;
    }
    char *copy = strdup(line);
    if (copy == NULL) {
        p->out_of_memory = true;
        return -1;
    }
    p->items[p->count++] = copy;
    return 0;
}

int registry_problems_add(struct registry_problems *p, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int rc = registry_problems_addv(p, fmt, ap);
    va_end(ap);
    return rc;
}

bool registry_problems_any(const struct registry_problems *p)
{
    return p->count > 0 || p->out_of_memory;
}

void registry_problems_free(struct registry_problems *p)
{
    for (size_t i = 0; i < p->count; i++)
        free(p->items[i]);
    free(p->items);
    registry_problems_init(p);
}

/* Records `where[.member]: why`. A problem lost to memory is flagged in problems->out_of_memory,
 * which rejects the file all the same, so the result needs no checking here. */
static void problem(struct parse *p, const char *where, const char *member, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

static void problem(struct parse *p, const char *where, const char *member, const char *fmt, ...)
{
    char why[384];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(why, sizeof why, fmt, ap);
    va_end(ap);
    if (n < 0)
        snprintf(why, sizeof why, "is invalid");
    p->found++;
    if (member != NULL)
        registry_problems_add(p->problems, "%s.%s: %s", where, member, why);
    else
        registry_problems_add(p->problems, "%s: %s", where, why);
}

static void out_of_memory(struct parse *p)
{
    p->problems->out_of_memory = true;
}

/* "parent[at]" (or "parent.name[at]") into out; a location never needs more than WHERE_MAX. */
static void where_at(char out[WHERE_MAX], const char *parent, const char *name, size_t at)
{
    int n = name ? snprintf(out, WHERE_MAX, "%s.%s[%zu]", parent, name, at)
                 : snprintf(out, WHERE_MAX, "%s[%zu]", parent, at);
    if (n < 0 || n >= WHERE_MAX)
        snprintf(out, WHERE_MAX, "%s", parent);
}

/* ---- Showing values in messages ------------------------------------------------------------ */

/* 'text' cut to SHOW_TEXT bytes on a character boundary, control bytes shown as '?'. */
static const char *show_text(const char *s, char out[SHOW_MAX])
{
    size_t n = strlen(s), cut = n > SHOW_TEXT ? SHOW_TEXT : n;
    while (cut > 0 && cut < n && ((unsigned char)s[cut] & 0xC0) == 0x80)
        cut--; /* never split a UTF-8 sequence */
    size_t o = 0;
    out[o++] = '\'';
    for (size_t i = 0; i < cut; i++) {
        unsigned char c = (unsigned char)s[i];
        out[o++] = c < 0x20 || c == 0x7f ? '?' : (char)c;
    }
    if (cut < n) {
        memcpy(out + o, "...", 3);
        o += 3;
    }
    out[o++] = '\'';
    out[o] = '\0';
    return out;
}

/* A JSON value as a message shows it: 'text', 12.5, true, null, an array, an object. */
static const char *show(const cJSON *v, char out[SHOW_MAX])
{
    if (cJSON_IsString(v))
        return show_text(v->valuestring, out);
    if (cJSON_IsNumber(v)) {
        if (snprintf(out, SHOW_MAX, "%.15g", v->valuedouble) < 0)
            snprintf(out, SHOW_MAX, "a number");
        return out;
    }
    if (cJSON_IsBool(v))
        return cJSON_IsTrue(v) ? "true" : "false";
    if (cJSON_IsNull(v))
        return "null";
    return cJSON_IsArray(v) ? "an array" : "an object";
}

/* Records `where[.member]: why, got <value>`. */
static void wrong(struct parse *p, const char *where, const char *member, const cJSON *value,
                  const char *why)
{
    char shown[SHOW_MAX];
    problem(p, where, member, "%s, got %s", why, show(value, shown));
}

/* ---- Members ------------------------------------------------------------------------------- */

static bool in_list(const char *name, const char *const *list)
{
    for (size_t i = 0; list[i] != NULL; i++)
        if (strcmp(name, list[i]) == 0)
            return true;
    return false;
}

/* Unknown members, and members given twice (which copy counts would be the parser's whim). */
static void check_members(struct parse *p, const cJSON *obj, const char *where,
                          const char *const *allowed)
{
    for (const cJSON *m = obj->child; m != NULL; m = m->next) {
        if (!in_list(m->string, allowed)) {
            char shown[SHOW_MAX];
            problem(p, where, NULL, "unknown member %s", show_text(m->string, shown));
        }
    }
    for (size_t i = 0; allowed[i] != NULL; i++) {
        size_t seen = 0;
        for (const cJSON *m = obj->child; m != NULL; m = m->next)
            seen += strcmp(m->string, allowed[i]) == 0;
        if (seen > 1)
            problem(p, where, allowed[i], "is given %zu times", seen);
    }
}

/* The member, or NULL when it is left out or null: the two mean the same. */
static const cJSON *member(const cJSON *obj, const char *name)
{
    const cJSON *m = cJSON_GetObjectItemCaseSensitive(obj, name);
    return m == NULL || cJSON_IsNull(m) ? NULL : m;
}

static size_t child_count(const cJSON *array)
{
    size_t n = 0;
    for (const cJSON *c = array->child; c != NULL; c = c->next)
        n++;
    return n;
}

/* A string of 1–REGISTRY_TEXT_MAX bytes without control characters, or NULL with a problem. */
static const char *text_value(struct parse *p, const cJSON *v, const char *where, const char *name)
{
    if (!cJSON_IsString(v)) {
        wrong(p, where, name, v, "must be a string");
        return NULL;
    }
    size_t n = strlen(v->valuestring);
    if (n == 0 || n > REGISTRY_TEXT_MAX) {
        problem(p, where, name, "must be 1 to %d bytes long, got %zu", REGISTRY_TEXT_MAX, n);
        return NULL;
    }
    /* A control character in a name is a paste accident, and would break the one-problem-per-line
     * listing of anything that quotes it. */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)v->valuestring[i];
        if (c < 0x20 || c == 0x7f) {
            wrong(p, where, name, v, "must not contain control characters");
            return NULL;
        }
    }
    return v->valuestring;
}

static const char *get_text(struct parse *p, const cJSON *obj, const char *where, const char *name,
                            bool required)
{
    const cJSON *m = member(obj, name);
    if (m == NULL) {
        if (required)
            problem(p, where, name, "is required");
        return NULL;
    }
    return text_value(p, m, where, name);
}

/* One of choices (a NULL-terminated list), returned as the list's own string; said is how the
 * message lists them ("A, B or SINGLE"). */
static const char *get_choice(struct parse *p, const cJSON *obj, const char *where,
                              const char *name, const char *const *choices, const char *said,
                              bool required)
{
    const cJSON *m = member(obj, name);
    if (m == NULL) {
        if (required)
            problem(p, where, name, "is required");
        return NULL;
    }
    for (size_t i = 0; cJSON_IsString(m) && choices[i] != NULL; i++)
        if (strcmp(m->valuestring, choices[i]) == 0)
            return choices[i];
    char shown[SHOW_MAX];
    problem(p, where, name, "must be %s, got %s", said, show(m, shown));
    return NULL;
}

/* A number in [min, max], or (min, max] when min_excluded. Returns true with *out when present
 * and valid. */
static bool get_number(struct parse *p, const cJSON *obj, const char *where, const char *name,
                       double min, bool min_excluded, double max, double *out)
{
    const cJSON *m = member(obj, name);
    if (m == NULL)
        return false;
    double v = cJSON_IsNumber(m) ? m->valuedouble : NAN;
    bool above_min = min_excluded ? v > min : v >= min;
    if (!cJSON_IsNumber(m) || !above_min || !(v <= max)) {
        char shown[SHOW_MAX];
        problem(p, where, name, "must be a number %s %g and at most %g, got %s",
                min_excluded ? "greater than" : "of at least", min, max, show(m, shown));
        return false;
    }
    *out = v;
    return true;
}

/* true or false; *out is left alone when the member is left out. */
static void get_flag(struct parse *p, const cJSON *obj, const char *where, const char *name,
                     bool *out)
{
    const cJSON *m = member(obj, name);
    if (m == NULL)
        return;
    if (cJSON_IsBool(m))
        *out = cJSON_IsTrue(m);
    else
        wrong(p, where, name, m, "must be true or false");
}

/* An instant as ISO-8601 text with a zone. Returns true with *out when present and valid. */
static bool get_time(struct parse *p, const cJSON *obj, const char *where, const char *name,
                     bool required, int64_t *out)
{
    const cJSON *m = member(obj, name);
    if (m == NULL) {
        if (required)
            problem(p, where, name, "is required");
        return false;
    }
    if (!cJSON_IsString(m) || isotime_parse(m->valuestring, out) != 0) {
        wrong(p, where, name, m, "must be an ISO-8601 time with a zone (2025-01-01T00:00:00Z)");
        return false;
    }
    return true;
}

bool registry_uuid_valid(const char *text)
{
    static const char shape[] = "xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx";
    for (size_t i = 0; i < sizeof shape - 1; i++) {
        char c = text[i];
        bool hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
        if (shape[i] == '-' ? c != '-' : !hex)
            return false; /* also stops at a NUL before the end */
    }
    return text[sizeof shape - 1] == '\0';
}

/* The optional `id`, lower-cased into out ("" when left out or bad); an id given twice for the
 * same kind of entity is a problem, as two rows cannot share it. */
static void get_id(struct parse *p, const cJSON *obj, const char *where, enum registry_kind kind,
                   char out[REGISTRY_ID_LEN])
{
    uint64_t earlier;
    out[0] = '\0';
    const cJSON *m = member(obj, "id");
    if (m == NULL)
        return;
    if (!cJSON_IsString(m) || !registry_uuid_valid(m->valuestring)) {
        wrong(p, where, "id", m, "must be a UUID (8-4-4-4-12 hex digits)");
        return;
    }
    for (size_t i = 0; i < REGISTRY_ID_LEN; i++) {
        char c = m->valuestring[i];
        out[i] = c >= 'A' && c <= 'F' ? (char)(c - 'A' + 'a') : c;
    }
    if (strmap_get(&p->ids[kind], out, &earlier)) {
        problem(p, where, "id", "'%s' is already the id of an earlier entry", out);
        out[0] = '\0';
    } else if (strmap_put(&p->ids[kind], out, 1) != 0) {
        out_of_memory(p);
    }
}

/* ---- Entities ------------------------------------------------------------------------------ */

static const char *const elements[] = {"A", "B", "SINGLE", NULL};
static const char *const modes[] = {"active", "passive", NULL};
static const char *const circuit_types[] = {"power", "heat", "solar", NULL};

static const char *parse_esco(struct parse *p, const cJSON *obj, const char *where, size_t at,
                              void *entity)
{
    static const char *const members[] = {"id", "code", "name", NULL};
    struct registry_esco *e = entity;
    check_members(p, obj, where, members);
    e->at = at;
    get_id(p, obj, where, REGISTRY_ESCOS, e->id);
    e->code = get_text(p, obj, where, "code", true);
    e->name = get_text(p, obj, where, "name", false);
    return e->code;
}

static const char *parse_site(struct parse *p, const cJSON *obj, const char *where, size_t at,
                              void *entity)
{
    static const char *const members[] = {"id", "name", "esco", "location", "capacity_kw", NULL};
    struct registry_site *s = entity;
    check_members(p, obj, where, members);
    s->at = at;
    get_id(p, obj, where, REGISTRY_SITES, s->id);
    s->name = get_text(p, obj, where, "name", true);
    s->esco = get_text(p, obj, where, "esco", false);
    s->location = get_text(p, obj, where, "location", false);
    s->has_capacity_kw =
        get_number(p, obj, where, "capacity_kw", 0, false, CAPACITY_KW_MAX, &s->capacity_kw);
    return s->name;
}

static const char *parse_feeder(struct parse *p, const cJSON *obj, const char *where, size_t at,
                                void *entity)
{
    static const char *const members[] = {"id", "name", "substation", "rating_amps", NULL};
    struct registry_feeder *f = entity;
    check_members(p, obj, where, members);
    f->at = at;
    get_id(p, obj, where, REGISTRY_FEEDERS, f->id);
    f->name = get_text(p, obj, where, "name", true);
    f->substation = get_text(p, obj, where, "substation", false);
    f->has_rating_amps =
        get_number(p, obj, where, "rating_amps", 0, true, AMPS_MAX, &f->rating_amps);
    return f->name;
}

/* 1 or 3, as a JSON integer; 0 when left out or bad. */
static int get_phase(struct parse *p, const cJSON *obj, const char *where)
{
    const cJSON *m = member(obj, "phase");
    if (m == NULL)
        return 0;
    if (cJSON_IsNumber(m) && (m->valuedouble == 1 || m->valuedouble == 3))
        return (int)m->valuedouble;
    wrong(p, where, "phase", m, "must be 1 or 3");
    return 0;
}

static const char *parse_service_head(struct parse *p, const cJSON *obj, const char *where,
                                      size_t at, void *entity)
{
    static const char *const members[] = {
        "id", "name", "phase", "type", "feeder", "fuse_rating_amps", NULL};
    struct registry_service_head *h = entity;
    check_members(p, obj, where, members);
    h->at = at;
    get_id(p, obj, where, REGISTRY_SERVICE_HEADS, h->id);
    h->name = get_text(p, obj, where, "name", true);
    h->phase = get_phase(p, obj, where);
    h->type = get_text(p, obj, where, "type", false);
    h->feeder = get_text(p, obj, where, "feeder", false);
    h->has_fuse_rating_amps =
        get_number(p, obj, where, "fuse_rating_amps", 0, true, AMPS_MAX, &h->fuse_rating_amps);
    return h->name;
}

/* The array member `name` of obj, with zeroed room for its elements (elem_size each) allocated
 * into *items (owned by the caller's entity). Returns the array, or NULL when it is absent, empty,
 * not an array, or could not be allocated (the last two recorded as problems). */
static const cJSON *open_list(struct parse *p, const cJSON *obj, const char *where,
                              const char *name, size_t elem_size, void **items)
{
    const cJSON *list = member(obj, name);
    if (list == NULL)
        return NULL;
    if (!cJSON_IsArray(list)) {
        wrong(p, where, name, list, "must be an array");
        return NULL;
    }
    size_t n = child_count(list);
    if (n == 0)
        return NULL;
    *items = calloc(n, elem_size);
    if (*items == NULL) {
        out_of_memory(p);
        return NULL;
    }
    return list;
}

/* A property's `service_heads`: names, each once. */
static void parse_property_heads(struct parse *p, const cJSON *obj, const char *where,
                                 struct registry_property *pr)
{
    void *items = NULL;
    const cJSON *list =
        open_list(p, obj, where, "service_heads", sizeof *pr->service_heads, &items);
    size_t at = 0;
    if (list == NULL)
        return;
    pr->service_heads = items;
    for (const cJSON *c = list->child; c != NULL; c = c->next, at++) {
        char item[WHERE_MAX];
        where_at(item, where, "service_heads", at);
        const char *name = text_value(p, c, item, NULL);
        bool repeated = false;
        for (size_t i = 0; name != NULL && i < pr->service_head_count && !repeated; i++)
            repeated = strcmp(pr->service_heads[i], name) == 0;
        if (repeated) {
            char shown[SHOW_MAX];
            problem(p, item, NULL, "%s is listed more than once", show(c, shown));
        } else if (name != NULL) {
            pr->service_heads[pr->service_head_count++] = name;
        }
    }
}

static const char *parse_property(struct parse *p, const cJSON *obj, const char *where, size_t at,
                                  void *entity)
{
    static const char *const members[] = {"id",   "plot",          "site", "address",
                                          "type", "service_heads", NULL};
    struct registry_property *pr = entity;
    check_members(p, obj, where, members);
    pr->at = at;
    get_id(p, obj, where, REGISTRY_PROPERTIES, pr->id);
    pr->plot = get_text(p, obj, where, "plot", true);
    pr->site = get_text(p, obj, where, "site", false);
    pr->address = get_text(p, obj, where, "address", false);
    pr->type = get_text(p, obj, where, "type", false);
    parse_property_heads(p, obj, where, pr);
    return pr->plot;
}

static void release_property(void *entity)
{
    struct registry_property *pr = entity;
    free(pr->service_heads);
    pr->service_heads = NULL;
}

/* ---- Meters and their registers ------------------------------------------------------------ */

static bool parse_register(struct parse *p, const cJSON *obj, const char *where, size_t at,
                           struct registry_register *r)
{
    static const char *const members[] = {"id", "element", "direction_reversed", "rollover_kwh",
                                          NULL};
    if (!cJSON_IsObject(obj)) {
        wrong(p, where, NULL, obj, "must be an object");
        return false;
    }
    check_members(p, obj, where, members);
    r->at = at;
    get_id(p, obj, where, REGISTRY_REGISTERS, r->id);
    r->element = get_choice(p, obj, where, "element", elements, "A, B or SINGLE", true);
    get_flag(p, obj, where, "direction_reversed", &r->direction_reversed);
    r->has_rollover_kwh =
        get_number(p, obj, where, "rollover_kwh", 0, true, ROLLOVER_KWH_MAX, &r->rollover_kwh);
    return r->element != NULL;
}

/* A register's element against the meter's earlier ones: each element once, and a SINGLE meter
 * has only a SINGLE register. Returns true when r may join them. */
static bool register_fits(struct parse *p, const char *where, const struct registry_meter *m,
                          const struct registry_register *r)
{
    bool single = strcmp(r->element, "SINGLE") == 0;
    for (size_t i = 0; i < m->register_count; i++) {
        const struct registry_register *e = &m->registers[i];
        if (strcmp(e->element, r->element) == 0) {
            problem(p, where, "element", "'%s' is already registers[%zu]", r->element, e->at);
            return false;
        }
        if (single != (strcmp(e->element, "SINGLE") == 0)) {
            problem(p, where, "element",
                    "a SINGLE meter has only a SINGLE register, got '%s' beside '%s' "
                    "(registers[%zu])",
                    r->element, e->element, e->at);
            return false;
        }
    }
    return true;
}

static void parse_meter_registers(struct parse *p, const cJSON *obj, const char *where,
                                  struct registry_meter *m)
{
    void *items = NULL;
    const cJSON *list = open_list(p, obj, where, "registers", sizeof *m->registers, &items);
    size_t at = 0;
    if (list == NULL)
        return;
    m->registers = items;
    for (const cJSON *c = list->child; c != NULL; c = c->next, at++) {
        char item[WHERE_MAX];
        struct registry_register r = {0};
        where_at(item, where, "registers", at);
        if (parse_register(p, c, item, at, &r) && register_fits(p, item, m, &r))
            m->registers[m->register_count++] = r;
    }
}

static const char *get_serial(struct parse *p, const cJSON *obj, const char *where)
{
    const cJSON *m = member(obj, "serial");
    if (m == NULL) {
        problem(p, where, "serial", "is required");
        return NULL;
    }
    if (!cJSON_IsString(m) || !topic_serial_valid(m->valuestring, strlen(m->valuestring))) {
        wrong(p, where, "serial", m, "must be 1 to 64 of A-Z a-z 0-9 _ -");
        return NULL;
    }
    return m->valuestring;
}

static const char *parse_meter(struct parse *p, const cJSON *obj, const char *where, size_t at,
                               void *entity)
{
    static const char *const members[] = {"id",
                                          "serial",
                                          "name",
                                          "ip_address",
                                          "hardware",
                                          "esco",
                                          "service_head",
                                          "mode",
                                          "single_meter_app",
                                          "daylight_savings_correction_enabled",
                                          "registers",
                                          NULL};
    struct registry_meter *m = entity;
    check_members(p, obj, where, members);
    m->at = at;
    get_id(p, obj, where, REGISTRY_METERS, m->id);
    m->serial = get_serial(p, obj, where);
    m->name = get_text(p, obj, where, "name", false);
    m->ip_address = get_text(p, obj, where, "ip_address", false);
    m->hardware = get_text(p, obj, where, "hardware", false);
    m->esco = get_text(p, obj, where, "esco", false);
    m->service_head = get_text(p, obj, where, "service_head", false);
    const char *mode = get_choice(p, obj, where, "mode", modes, "active or passive", false);
    m->passive = mode != NULL && strcmp(mode, "passive") == 0;
    get_flag(p, obj, where, "single_meter_app", &m->single_meter_app);
    get_flag(p, obj, where, "daylight_savings_correction_enabled", &m->dst_correction);
    parse_meter_registers(p, obj, where, m);
    return m->serial;
}

static void release_meter(void *entity)
{
    struct registry_meter *m = entity;
    free(m->registers);
    m->registers = NULL;
}

/* ---- Circuits and their register mappings -------------------------------------------------- */

static bool parse_mapping(struct parse *p, const cJSON *obj, const char *where, size_t at,
                          struct registry_mapping *r)
{
    static const char *const members[] = {"meter", "element", "start", "end", NULL};
    if (!cJSON_IsObject(obj)) {
        wrong(p, where, NULL, obj, "must be an object");
        return false;
    }
    check_members(p, obj, where, members);
    r->at = at;
    r->meter = get_text(p, obj, where, "meter", true);
    r->element = get_choice(p, obj, where, "element", elements, "A, B or SINGLE", true);
    bool start_ok = get_time(p, obj, where, "start", true, &r->start);
    bool end_given = member(obj, "end") != NULL;
    r->has_end = get_time(p, obj, where, "end", false, &r->end);
    bool end_ok = !end_given || r->has_end;
    if (r->has_end && start_ok && r->end <= r->start) {
        char start[ISOTIME_LEN], shown[SHOW_MAX];
        problem(p, where, "end", "must be after start (%s), got %s",
                isotime_format(r->start, start), show(member(obj, "end"), shown));
        end_ok = false;
    }
    return r->meter != NULL && r->element != NULL && start_ok && end_ok;
}

/* Two mappings of one register to one circuit must not overlap: the register would count twice. */
static bool mapping_fits(struct parse *p, const char *where, const struct registry_circuit *c,
                         const struct registry_mapping *r)
{
    for (size_t i = 0; i < c->mapping_count; i++) {
        const struct registry_mapping *e = &c->mappings[i];
        bool starts_before_end = !e->has_end || r->start < e->end;
        bool ends_after_start = !r->has_end || e->start < r->end;
        if (strcmp(e->meter, r->meter) == 0 && strcmp(e->element, r->element) == 0 &&
            starts_before_end && ends_after_start) {
            problem(p, where, NULL, "overlaps registers[%zu], the same register (%s %s)", e->at,
                    r->meter, r->element);
            return false;
        }
    }
    return true;
}

static void parse_circuit_mappings(struct parse *p, const cJSON *obj, const char *where,
                                   struct registry_circuit *c)
{
    void *items = NULL;
    const cJSON *list = open_list(p, obj, where, "registers", sizeof *c->mappings, &items);
    size_t at = 0;
    if (list == NULL)
        return;
    c->mappings = items;
    for (const cJSON *e = list->child; e != NULL; e = e->next, at++) {
        char item[WHERE_MAX];
        struct registry_mapping r = {0};
        where_at(item, where, "registers", at);
        if (parse_mapping(p, e, item, at, &r) && mapping_fits(p, item, c, &r))
            c->mappings[c->mapping_count++] = r;
    }
}

static const char *parse_circuit(struct parse *p, const cJSON *obj, const char *where, size_t at,
                                 void *entity)
{
    static const char *const members[] = {"id",          "name",      "site", "type",
                                          "rating_amps", "registers", NULL};
    struct registry_circuit *c = entity;
    check_members(p, obj, where, members);
    c->at = at;
    get_id(p, obj, where, REGISTRY_CIRCUITS, c->id);
    c->name = get_text(p, obj, where, "name", true);
    c->site = get_text(p, obj, where, "site", false);
    c->type = get_choice(p, obj, where, "type", circuit_types, "power, heat or solar", true);
    c->has_rating_amps =
        get_number(p, obj, where, "rating_amps", 0, true, AMPS_MAX, &c->rating_amps);
    parse_circuit_mappings(p, obj, where, c);
    /* A circuit without a valid type cannot be stored; keep its name only when the type is good. */
    return c->type != NULL ? c->name : NULL;
}

static void release_circuit(void *entity)
{
    struct registry_circuit *c = entity;
    free(c->mappings);
    c->mappings = NULL;
}

/* ---- Sections ------------------------------------------------------------------------------ */

/* One top-level array. parse fills a zeroed entity and returns its natural key, or NULL to drop
 * it; release frees what parse allocated inside a dropped entity (NULL when nothing). */
struct section {
    const char *name;
    enum registry_kind kind;
    const char *key_member;
    size_t entity_size;
    const char *(*parse)(struct parse *p, const cJSON *obj, const char *where, size_t at,
                         void *entity);
    void (*release)(void *entity);
};

static const struct section escos_section = {
    "escos", REGISTRY_ESCOS, "code", sizeof(struct registry_esco), parse_esco, NULL};
static const struct section sites_section = {
    "sites", REGISTRY_SITES, "name", sizeof(struct registry_site), parse_site, NULL};
static const struct section feeders_section = {
    "feeders", REGISTRY_FEEDERS, "name", sizeof(struct registry_feeder), parse_feeder, NULL};
static const struct section heads_section = {"service_heads",
                                             REGISTRY_SERVICE_HEADS,
                                             "name",
                                             sizeof(struct registry_service_head),
                                             parse_service_head,
                                             NULL};
static const struct section properties_section = {"properties",   REGISTRY_PROPERTIES,
                                                  "plot",         sizeof(struct registry_property),
                                                  parse_property, release_property};
static const struct section meters_section = {
    "meters", REGISTRY_METERS, "serial", sizeof(struct registry_meter), parse_meter, release_meter};
static const struct section circuits_section = {"circuits",    REGISTRY_CIRCUITS,
                                                "name",        sizeof(struct registry_circuit),
                                                parse_circuit, release_circuit};

/* Takes key for entity number index of kind; a key already taken is a problem. */
static bool claim_key(struct parse *p, const struct section *s, const char *where, const char *key,
                      size_t index)
{
    uint64_t earlier;
    if (strmap_get(&p->t->keys[s->kind], key, &earlier)) {
        char shown[SHOW_MAX];
        problem(p, where, s->key_member, "%s is already used by an earlier entry",
                show_text(key, shown));
        return false;
    }
    if (strmap_put(&p->t->keys[s->kind], key, index) != 0) {
        out_of_memory(p);
        return false;
    }
    return true;
}

/* Parses the array s->name of root into a new array of entities; *count of them are kept. */
static void *parse_section(struct parse *p, const cJSON *root, const struct section *s,
                           size_t *count)
{
    *count = 0;
    const cJSON *list = member(root, s->name);
    if (list == NULL)
        return NULL;
    if (!cJSON_IsArray(list)) {
        wrong(p, s->name, NULL, list, "must be an array");
        return NULL;
    }
    size_t n = child_count(list), at = 0;
    char *entities = n ? calloc(n, s->entity_size) : NULL;
    if (n > 0 && entities == NULL) {
        out_of_memory(p);
        return NULL;
    }
    for (const cJSON *item = list->child; item != NULL; item = item->next, at++) {
        char where[WHERE_MAX];
        void *entity = entities + *count * s->entity_size;
        where_at(where, s->name, NULL, at);
        if (!cJSON_IsObject(item)) {
            wrong(p, where, NULL, item, "must be an object");
            continue;
        }
        const char *key = s->parse(p, item, where, at, entity);
        if (key != NULL && claim_key(p, s, where, key, *count)) {
            (*count)++;
            continue;
        }
        if (s->release != NULL)
            s->release(entity);
        memset(entity, 0, s->entity_size);
    }
    return entities;
}

static void parse_sections(struct parse *p, const cJSON *root)
{
    static const char *const members[] = {"escos",      "sites",  "feeders",  "service_heads",
                                          "properties", "meters", "circuits", NULL};
    struct topology *t = p->t;
    check_members(p, root, "document", members);
    t->escos = parse_section(p, root, &escos_section, &t->esco_count);
    t->sites = parse_section(p, root, &sites_section, &t->site_count);
    t->feeders = parse_section(p, root, &feeders_section, &t->feeder_count);
    t->service_heads = parse_section(p, root, &heads_section, &t->service_head_count);
    t->properties = parse_section(p, root, &properties_section, &t->property_count);
    t->meters = parse_section(p, root, &meters_section, &t->meter_count);
    t->circuits = parse_section(p, root, &circuits_section, &t->circuit_count);
    for (size_t i = 0; i < t->meter_count; i++)
        t->register_count += t->meters[i].register_count;
    for (size_t i = 0; i < t->circuit_count; i++)
        t->mapping_count += t->circuits[i].mapping_count;
}

/* ---- The document -------------------------------------------------------------------------- */

/* Where byte offset at of text is, as `line L, column C` (1-based, columns in bytes). */
static void where_offset(char out[WHERE_MAX], const char *text, size_t at)
{
    size_t line = 1, column = 1;
    for (size_t i = 0; i < at; i++) {
        column = text[i] == '\n' ? 1 : column + 1;
        line += text[i] == '\n';
    }
    if (snprintf(out, WHERE_MAX, "line %zu, column %zu", line, column) < 0)
        snprintf(out, WHERE_MAX, "document");
}

/* The offset of a \u0000 escape inside a string (cJSON would cut the string there), or len. */
static size_t find_nul_escape(const char *s, size_t len)
{
    bool in_string = false;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '"')
            in_string = !in_string;
        else if (in_string && s[i] == '\\') {
            if (len - i >= 6 && memcmp(s + i + 1, "u0000", 5) == 0)
                return i;
            i++; /* the escaped character cannot end the string */
        }
    }
    return len;
}

/* Checks the bytes and parses them into t->doc. Returns 0, or -1 with the problem recorded. */
static int read_document(struct parse *p, const char *text, size_t len)
{
    char where[WHERE_MAX];
    const char *nul = memchr(text, '\0', len);
    size_t escape = find_nul_escape(text, len);
    if (!utf8_valid(text, len)) {
        problem(p, "document", NULL, "is not valid UTF-8");
        return -1;
    }
    if (nul != NULL || escape < len) {
        where_offset(where, text, nul ? (size_t)(nul - text) : escape);
        problem(p, where, NULL, "NUL characters (or \\u0000) are not allowed");
        return -1;
    }
    const char *end = NULL;
    p->t->doc = cJSON_ParseWithLengthOpts(text, len, &end, false);
    size_t at = end != NULL && end >= text ? (size_t)(end - text) : 0;
    if (p->t->doc == NULL) {
        where_offset(where, text, at > len ? len : at);
        problem(p, where, NULL, "invalid JSON");
        return -1;
    }
    while (at < len && strchr(" \t\r\n", text[at]) != NULL)
        at++;
    if (at < len) {
        where_offset(where, text, at);
        problem(p, where, NULL, "unexpected text after the JSON document");
        return -1;
    }
    return 0;
}

int registry_parse(const char *json_text, size_t len, struct topology *out,
                   struct registry_problems *problems)
{
    struct parse p = {.problems = problems, .t = out};
    memset(out, 0, sizeof *out);
    for (int k = 0; k < REGISTRY_KIND_COUNT; k++) {
        strmap_init(&out->keys[k]);
        strmap_init(&p.ids[k]);
    }
    if (read_document(&p, json_text, len) == 0) {
        if (cJSON_IsObject(out->doc))
            parse_sections(&p, out->doc);
        else
            wrong(&p, "document", NULL, out->doc, "must be a JSON object");
    }
    for (int k = 0; k < REGISTRY_KIND_COUNT; k++)
        strmap_free(&p.ids[k]);
    return p.found > 0 || problems->out_of_memory ? -1 : 0;
}

void registry_topology_free(struct topology *t)
{
    for (size_t i = 0; i < t->property_count; i++)
        release_property(&t->properties[i]);
    for (size_t i = 0; i < t->meter_count; i++)
        release_meter(&t->meters[i]);
    for (size_t i = 0; i < t->circuit_count; i++)
        release_circuit(&t->circuits[i]);
    free(t->escos);
    free(t->sites);
    free(t->feeders);
    free(t->service_heads);
    free(t->properties);
    free(t->meters);
    free(t->circuits);
    for (int k = 0; k < REGISTRY_KIND_COUNT; k++)
        strmap_free(&t->keys[k]);
    cJSON_Delete(t->doc);
    memset(t, 0, sizeof *t);
    for (int k = 0; k < REGISTRY_KIND_COUNT; k++)
        strmap_init(&t->keys[k]);
}

/* ---- Lookups ------------------------------------------------------------------------------- */

bool registry_find(const struct topology *t, enum registry_kind kind, const char *key,
                   size_t *index)
{
    uint64_t v;
    if ((unsigned)kind >= REGISTRY_KIND_COUNT || key == NULL ||
        !strmap_get(&t->keys[kind], key, &v))
        return false;
    *index = (size_t)v;
    return true;
}

const struct registry_register *registry_meter_register(const struct registry_meter *m,
                                                        const char *element)
{
    for (size_t i = 0; i < m->register_count; i++)
        if (strcmp(m->registers[i].element, element) == 0)
            return &m->registers[i];
    return NULL;
}

size_t registry_entity_total(const struct topology *t)
{
    size_t n = t->esco_count + t->site_count + t->feeder_count + t->service_head_count +
               t->property_count + t->meter_count + t->register_count + t->circuit_count +
               t->mapping_count;
    for (size_t i = 0; i < t->property_count; i++)
        n += t->properties[i].service_head_count;
    for (size_t i = 0; i < t->meter_count; i++)
        n += t->meters[i].service_head != NULL;
    return n;
}

const char *registry_kind_name(enum registry_kind kind)
{
    static const char *const names[REGISTRY_KIND_COUNT] = {"escos",
                                                           "sites",
                                                           "feeders",
                                                           "service_heads",
                                                           "properties",
                                                           "meters",
                                                           "registers",
                                                           "circuits",
                                                           "property_service_heads",
                                                           "meter_service_heads",
                                                           "circuit_registers"};
    return (unsigned)kind < REGISTRY_KIND_COUNT ? names[kind] : "?";
}
