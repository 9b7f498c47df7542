/* store_registry.c — the registry in SQLite: topology import, meter lookup and provisioning
 * (SPEC §5, §7, §10).
 *
 * An import is one transaction in two passes over the parsed file. The check pass gives every
 * entity its id (the stored one, found by natural key; else the file's; else a new UUID v4) and
 * resolves every reference, file first and database second, listing each problem; any problem
 * rolls the transaction back, so a refused file changes nothing. The write pass then upserts in
 * dependency order. "Unchanged" must mean "not written" (`updated_at` is how readers see change),
 * so every UPDATE carries its own comparison — `WHERE id = ?1 AND (a IS NOT ?4 OR …)` — and
 * sqlite3_changes() tells updated from unchanged without reading the row first.
 *
 * The import is an upsert, never a sync: entities absent from the file are kept (they carry
 * history). An entity listed in the file is described whole: its members left out become NULL
 * or their default, and its links (a property's service heads, a meter's service head, a
 * circuit's register mappings) become exactly those listed; links no longer named are removed.
 *
 * Statement parameters follow one numbering per table — ?1 id, ?2 the import time, ?3 the natural
 * key, then the columns — so the INSERT and the UPDATE of a table share one binding function. */
#include "store_registry.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include "isotime.h"
#include "store_internal.h"
#include "topics.h"

#define WHERE_MAX 96
#define PROGRESS_EVERY 256 /* entities between progress calls */
#define VOLTS 230          /* SPEC §6: max power = fuse A × 230 V × phases */

struct slot {
    char id[REGISTRY_ID_LEN];
    bool exists; /* a stored row has the natural key */
};

struct import {
    struct store *st;
    const struct topology *t;
    struct registry_report *report;
    struct registry_problems *problems;
    char now[ISOTIME_LEN];
    struct slot *slots[REGISTRY_KIND_COUNT]; /* per entity kind; registers flat, meter by meter */
    size_t *first_register;                  /* per meter: its registers' first slot */
    size_t done, total;
};

/* ---- Small helpers ------------------------------------------------------------------------- */

static int uuid4(struct store *st, char out[REGISTRY_ID_LEN])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char b[16];
    size_t got = 0;
    while (got < sizeof b) {
        ssize_t n = getrandom(b + got, sizeof b - got, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            snprintf(st->errmsg, sizeof st->errmsg, "getrandom: %s", strerror(errno));
            return STORE_ERROR;
        }
        got += (size_t)n;
    }
    b[6] = (unsigned char)((b[6] & 0x0f) | 0x40); /* version 4 */
    b[8] = (unsigned char)((b[8] & 0x3f) | 0x80); /* RFC 4122 variant */
    size_t o = 0;
    for (size_t i = 0; i < sizeof b; i++) {
        if (i == 4 || i == 6 || i == 8 || i == 10)
            out[o++] = '-';
        out[o++] = hex[b[i] >> 4];
        out[o++] = hex[b[i] & 15];
    }
    out[o] = '\0';
    return STORE_OK;
}

/* Text or NULL; the text outlives the statement's step (it is the topology's or a local). */
static int bind_text(sqlite3_stmt *s, int i, const char *v)
{
    return v ? sqlite3_bind_text(s, i, v, -1, SQLITE_STATIC) : sqlite3_bind_null(s, i);
}

static int bind_real(sqlite3_stmt *s, int i, bool has, double v)
{
    return has ? sqlite3_bind_double(s, i, v) : sqlite3_bind_null(s, i);
}

/* ?1 id, ?2 now, ?3 natural key: the start of every entity statement. */
static int bind_head(const struct import *im, sqlite3_stmt *s, const char *id, const char *key)
{
    return sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC) |
           sqlite3_bind_text(s, 2, im->now, -1, SQLITE_STATIC) | bind_text(s, 3, key);
}

/* Runs sql with text parameters a (and b unless NULL) and copies column 0 of its first row into
 * out (cap bytes); *found says whether there was a row. */
static int query_text(struct store *st, const char *sql, const char *a, const char *b, char *out,
                      size_t cap, bool *found)
{
    sqlite3_stmt *s = store_prepare(st, sql);
    *found = false;
    if (s == NULL)
        return STORE_ERROR;
    if ((bind_text(s, 1, a) | (b ? bind_text(s, 2, b) : SQLITE_OK)) != SQLITE_OK)
        return store_fail(st, SQLITE_ERROR, "bind");
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        const char *v = (const char *)sqlite3_column_text(s, 0);
        snprintf(out, cap, "%s", v ? v : "");
        *found = true;
        rc = SQLITE_DONE;
    }
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? STORE_OK : store_fail(st, rc, "registry lookup");
}

static void loc(char out[WHERE_MAX], const char *section, size_t at)
{
    if (snprintf(out, WHERE_MAX, "%s[%zu]", section, at) < 0)
        snprintf(out, WHERE_MAX, "%s", section);
}

static void loc2(char out[WHERE_MAX], const char *section, size_t at, const char *list, size_t at2)
{
    if (snprintf(out, WHERE_MAX, "%s[%zu].%s[%zu]", section, at, list, at2) < 0)
        snprintf(out, WHERE_MAX, "%s", section);
}

/* ---- Natural keys and ids ------------------------------------------------------------------ */

struct kind_sql {
    const char *what;   /* in messages: "ESCO", "site", … */
    const char *by_key; /* id of the row with natural key ?1 (?2: element, for registers) */
    const char *by_id;  /* natural key of the row with id ?1 */
};

static const struct kind_sql kinds[REGISTRY_KIND_COUNT] = {
    [REGISTRY_ESCOS] = {"ESCO", "SELECT id FROM escos WHERE code = ?1",
                        "SELECT code FROM escos WHERE id = ?1"},
    [REGISTRY_SITES] = {"site", "SELECT id FROM sites_new WHERE name = ?1",
                        "SELECT name FROM sites_new WHERE id = ?1"},
    [REGISTRY_FEEDERS] = {"feeder", "SELECT id FROM feeder_registry WHERE name = ?1",
                          "SELECT name FROM feeder_registry WHERE id = ?1"},
    [REGISTRY_SERVICE_HEADS] = {"service head",
                                "SELECT id FROM service_head_registry WHERE name = ?1",
                                "SELECT name FROM service_head_registry WHERE id = ?1"},
    [REGISTRY_PROPERTIES] = {"property", "SELECT id FROM properties WHERE plot = ?1",
                             "SELECT plot FROM properties WHERE id = ?1"},
    [REGISTRY_METERS] = {"meter", "SELECT id FROM meter_registry WHERE serial = ?1",
                         "SELECT serial FROM meter_registry WHERE id = ?1"},
    [REGISTRY_REGISTERS] = {"register",
                            "SELECT register_id FROM meter_registers"
                            " WHERE meter_id = ?1 AND element = ?2",
                            "SELECT m.serial || ' ' || r.element FROM meter_registers r"
                            " JOIN meter_registry m ON m.id = r.meter_id"
                            " WHERE r.register_id = ?1"},
    [REGISTRY_CIRCUITS] = {"circuit", "SELECT id FROM circuits WHERE name = ?1",
                           "SELECT name FROM circuits WHERE id = ?1"},
};

/* Gives one entity its id: the stored row's (by natural key), else the file's, else a new one.
 * A file id that contradicts the stored one, or belongs to another row, is a problem. owner is
 * the stored meter id for a register (NULL for other kinds, or for a register of a new meter). */
static int assign_id(struct import *im, enum registry_kind kind, const char *where, const char *key,
                     const char *owner, const char *given, struct slot *slot)
{
    char other[REGISTRY_TEXT_MAX + 16];
    bool found = false;
    int rc = STORE_OK;
    if (kind != REGISTRY_REGISTERS || owner != NULL)
        rc = query_text(im->st, kinds[kind].by_key, kind == REGISTRY_REGISTERS ? owner : key,
                        kind == REGISTRY_REGISTERS ? key : NULL, slot->id, sizeof slot->id,
                        &slot->exists);
    if (rc != STORE_OK || slot->exists) {
        if (rc == STORE_OK && given[0] != '\0' && strcmp(given, slot->id) != 0)
            registry_problems_add(im->problems,
                                  "%s.id: '%s' differs from the stored id '%s' of this %s;"
                                  " ids never change",
                                  where, given, slot->id, kinds[kind].what);
        return rc;
    }
    if (given[0] == '\0')
        return uuid4(im->st, slot->id);
    rc = query_text(im->st, kinds[kind].by_id, given, NULL, other, sizeof other, &found);
    if (rc == STORE_OK && found)
        registry_problems_add(im->problems, "%s.id: '%s' is already the id of %s '%s'", where,
                              given, kinds[kind].what, other);
    snprintf(slot->id, sizeof slot->id, "%s", given);
    return rc;
}

static int assign_register_ids(struct import *im, size_t mi)
{
    const struct registry_meter *m = &im->t->meters[mi];
    const struct slot *meter = &im->slots[REGISTRY_METERS][mi];
    int rc = STORE_OK;
    for (size_t j = 0; j < m->register_count && rc == STORE_OK; j++) {
        char where[WHERE_MAX];
        const struct registry_register *r = &m->registers[j];
        loc2(where, "meters", m->at, "registers", r->at);
        rc = assign_id(im, REGISTRY_REGISTERS, where, r->element, meter->exists ? meter->id : NULL,
                       r->id, &im->slots[REGISTRY_REGISTERS][im->first_register[mi] + j]);
    }
    return rc;
}

/* The natural key, file id and array position of entity i of kind (not registers). */
static void entity_of(const struct topology *t, enum registry_kind kind, size_t i, const char **key,
                      const char **id, size_t *at)
{
    switch (kind) {
    case REGISTRY_ESCOS:
        *key = t->escos[i].code, *id = t->escos[i].id, *at = t->escos[i].at;
        break;
    case REGISTRY_SITES:
        *key = t->sites[i].name, *id = t->sites[i].id, *at = t->sites[i].at;
        break;
    case REGISTRY_FEEDERS:
        *key = t->feeders[i].name, *id = t->feeders[i].id, *at = t->feeders[i].at;
        break;
    case REGISTRY_SERVICE_HEADS:
        *key = t->service_heads[i].name, *id = t->service_heads[i].id;
        *at = t->service_heads[i].at;
        break;
    case REGISTRY_PROPERTIES:
        *key = t->properties[i].plot, *id = t->properties[i].id, *at = t->properties[i].at;
        break;
    case REGISTRY_METERS:
        *key = t->meters[i].serial, *id = t->meters[i].id, *at = t->meters[i].at;
        break;
    default:
        *key = t->circuits[i].name, *id = t->circuits[i].id, *at = t->circuits[i].at;
        break;
    }
}

static size_t entity_count(const struct topology *t, enum registry_kind kind)
{
    const size_t counts[REGISTRY_KIND_COUNT] = {
        [REGISTRY_ESCOS] = t->esco_count,          [REGISTRY_SITES] = t->site_count,
        [REGISTRY_FEEDERS] = t->feeder_count,      [REGISTRY_SERVICE_HEADS] = t->service_head_count,
        [REGISTRY_PROPERTIES] = t->property_count, [REGISTRY_METERS] = t->meter_count,
        [REGISTRY_REGISTERS] = t->register_count,  [REGISTRY_CIRCUITS] = t->circuit_count,
    };
    return counts[kind];
}

static int assign_ids(struct import *im)
{
    static const enum registry_kind order[] = {
        REGISTRY_ESCOS,      REGISTRY_SITES,  REGISTRY_FEEDERS,  REGISTRY_SERVICE_HEADS,
        REGISTRY_PROPERTIES, REGISTRY_METERS, REGISTRY_CIRCUITS,
    };
    static const char *const sections[REGISTRY_KIND_COUNT] = {
        [REGISTRY_ESCOS] = "escos",           [REGISTRY_SITES] = "sites",
        [REGISTRY_FEEDERS] = "feeders",       [REGISTRY_SERVICE_HEADS] = "service_heads",
        [REGISTRY_PROPERTIES] = "properties", [REGISTRY_METERS] = "meters",
        [REGISTRY_CIRCUITS] = "circuits",
    };
    int rc = STORE_OK;
    for (size_t k = 0; k < sizeof order / sizeof order[0] && rc == STORE_OK; k++) {
        enum registry_kind kind = order[k];
        for (size_t i = 0; i < entity_count(im->t, kind) && rc == STORE_OK; i++) {
            char where[WHERE_MAX];
            const char *key, *id;
            size_t at;
            entity_of(im->t, kind, i, &key, &id, &at);
            loc(where, sections[kind], at);
            rc = assign_id(im, kind, where, key, NULL, id, &im->slots[kind][i]);
        }
    }
    for (size_t i = 0; i < im->t->meter_count && rc == STORE_OK; i++)
        rc = assign_register_ids(im, i);
    return rc;
}

/* ---- References ---------------------------------------------------------------------------- */

/* The id of the entity of kind with natural key key: the file's, else the database's. */
static int resolve(struct import *im, enum registry_kind kind, const char *key,
                   char out[REGISTRY_ID_LEN], bool *found)
{
    size_t i;
    if (registry_find(im->t, kind, key, &i)) {
        memcpy(out, im->slots[kind][i].id, REGISTRY_ID_LEN);
        *found = true;
        return STORE_OK;
    }
    return query_text(im->st, kinds[kind].by_key, key, NULL, out, REGISTRY_ID_LEN, found);
}

/* Like resolve for a reference at where.member (NULL member: where is the whole location); an
 * unresolved one is a problem and leaves out "". A NULL key is no reference: out is "". */
static int reference(struct import *im, enum registry_kind kind, const char *where,
                     const char *member, const char *key, char out[REGISTRY_ID_LEN])
{
    bool found = false;
    out[0] = '\0';
    if (key == NULL)
        return STORE_OK;
    int rc = resolve(im, kind, key, out, &found);
    if (rc == STORE_OK && !found) {
        out[0] = '\0';
        registry_problems_add(im->problems, "%s%s%s: no %s '%s' in the file or the database", where,
                              member ? "." : "", member ? member : "", kinds[kind].what, key);
    }
    return rc;
}

/* The register of a circuit mapping: the meter's from the file, else from the database. */
static int reference_register(struct import *im, const char *where,
                              const struct registry_mapping *r, char out[REGISTRY_ID_LEN])
{
    char meter_id[REGISTRY_ID_LEN];
    bool found = false;
    size_t mi;
    out[0] = '\0';
    int rc = reference(im, REGISTRY_METERS, where, "meter", r->meter, meter_id);
    if (rc != STORE_OK || meter_id[0] == '\0')
        return rc;
    if (registry_find(im->t, REGISTRY_METERS, r->meter, &mi)) {
        const struct registry_meter *m = &im->t->meters[mi];
        const struct registry_register *reg = registry_meter_register(m, r->element);
        if (reg != NULL) {
            size_t slot = im->first_register[mi] + (size_t)(reg - m->registers);
            memcpy(out, im->slots[REGISTRY_REGISTERS][slot].id, REGISTRY_ID_LEN);
            return STORE_OK;
        }
    }
    rc = query_text(im->st, kinds[REGISTRY_REGISTERS].by_key, meter_id, r->element, out,
                    REGISTRY_ID_LEN, &found);
    if (rc == STORE_OK && !found) {
        out[0] = '\0';
        registry_problems_add(im->problems,
                              "%s.element: meter '%s' has no register '%s' in the file or the"
                              " database",
                              where, r->meter, r->element);
    }
    return rc;
}

/* A stored register of a listed meter must not break the SINGLE rule with the file's ones. */
static int check_stored_registers(struct import *im, size_t mi)
{
    static const char SQL[] = "SELECT element FROM meter_registers WHERE meter_id = ?1";
    const struct registry_meter *m = &im->t->meters[mi];
    sqlite3_stmt *s = store_prepare(im->st, SQL);
    if (s == NULL)
        return STORE_ERROR;
    if (sqlite3_bind_text(s, 1, im->slots[REGISTRY_METERS][mi].id, -1, SQLITE_STATIC) != SQLITE_OK)
        return store_fail(im->st, SQLITE_ERROR, "bind");
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
        const char *stored = (const char *)sqlite3_column_text(s, 0);
        bool single = stored != NULL && strcmp(stored, "SINGLE") == 0;
        for (size_t j = 0; j < m->register_count; j++) {
            if (single == (strcmp(m->registers[j].element, "SINGLE") == 0))
                continue;
            registry_problems_add(im->problems,
                                  "meters[%zu].registers[%zu].element: a SINGLE meter has only a"
                                  " SINGLE register, got '%s' beside the stored register '%s'",
                                  m->at, m->registers[j].at, m->registers[j].element,
                                  stored ? stored : "");
        }
    }
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? STORE_OK : store_fail(im->st, rc, "read registers");
}

/* Resolves every reference of the file once, listing the problems (the write pass resolves them
 * again as it goes: same transaction, same answers). */
static int check_references(struct import *im)
{
    const struct topology *t = im->t;
    char where[WHERE_MAX], id[REGISTRY_ID_LEN];
    int rc = STORE_OK;
    for (size_t i = 0; i < t->site_count && rc == STORE_OK; i++) {
        loc(where, "sites", t->sites[i].at);
        rc = reference(im, REGISTRY_ESCOS, where, "esco", t->sites[i].esco, id);
    }
    for (size_t i = 0; i < t->service_head_count && rc == STORE_OK; i++) {
        loc(where, "service_heads", t->service_heads[i].at);
        rc = reference(im, REGISTRY_FEEDERS, where, "feeder", t->service_heads[i].feeder, id);
    }
    for (size_t i = 0; i < t->property_count && rc == STORE_OK; i++) {
        const struct registry_property *p = &t->properties[i];
        loc(where, "properties", p->at);
        rc = reference(im, REGISTRY_SITES, where, "site", p->site, id);
        for (size_t j = 0; j < p->service_head_count && rc == STORE_OK; j++)
            rc = reference(im, REGISTRY_SERVICE_HEADS, where, "service_heads", p->service_heads[j],
                           id);
    }
    for (size_t i = 0; i < t->meter_count && rc == STORE_OK; i++) {
        loc(where, "meters", t->meters[i].at);
        rc = reference(im, REGISTRY_ESCOS, where, "esco", t->meters[i].esco, id);
        if (rc == STORE_OK)
            rc = reference(im, REGISTRY_SERVICE_HEADS, where, "service_head",
                           t->meters[i].service_head, id);
        if (rc == STORE_OK && im->slots[REGISTRY_METERS][i].exists)
            rc = check_stored_registers(im, i);
    }
    for (size_t i = 0; i < t->circuit_count && rc == STORE_OK; i++) {
        const struct registry_circuit *c = &t->circuits[i];
        loc(where, "circuits", c->at);
        rc = reference(im, REGISTRY_SITES, where, "site", c->site, id);
        for (size_t j = 0; j < c->mapping_count && rc == STORE_OK; j++) {
            loc2(where, "circuits", c->at, "registers", c->mappings[j].at);
            rc = reference_register(im, where, &c->mappings[j], id);
        }
    }
    return rc;
}

/* ---- Writing ------------------------------------------------------------------------------- */

static void tick(struct import *im)
{
    im->done++;
    if (im->report->progress != NULL && (im->done % PROGRESS_EVERY == 0 || im->done == im->total))
        im->report->progress(im->report->progress_ctx, im->done, im->total);
}

/* Runs a bound INSERT (a new row) or UPDATE-if-different (a stored row) and counts it. */
static int write_row(struct import *im, enum registry_kind kind, bool exists, sqlite3_stmt *s,
                     int bind_rc, const char *what)
{
    if (bind_rc != SQLITE_OK)
        return store_fail(im->st, SQLITE_ERROR, "bind");
    int rc = store_step_done(im->st, s, what);
    if (rc != STORE_OK)
        return rc;
    struct registry_counts *c = &im->report->counts[kind];
    if (!exists)
        c->created++;
    else if (sqlite3_changes(im->st->db) > 0)
        c->updated++;
    else
        c->unchanged++;
    tick(im);
    return STORE_OK;
}

static const char SQL_ESCO_INSERT[] =
    "INSERT INTO escos (id, created_at, code, name) VALUES (?1, ?2, ?3, ?4)";
static const char SQL_ESCO_UPDATE[] =
    "UPDATE escos SET name = ?4 WHERE id = ?1 AND code = ?3 AND name IS NOT ?4";

static int write_esco(struct import *im, size_t i)
{
    const struct registry_esco *e = &im->t->escos[i];
    const struct slot *slot = &im->slots[REGISTRY_ESCOS][i];
    sqlite3_stmt *s = store_prepare(im->st, slot->exists ? SQL_ESCO_UPDATE : SQL_ESCO_INSERT);
    if (s == NULL)
        return STORE_ERROR;
    int rc = bind_head(im, s, slot->id, e->code) | bind_text(s, 4, e->name);
    return write_row(im, REGISTRY_ESCOS, slot->exists, s, rc, "write ESCO");
}

static const char SQL_FEEDER_INSERT[] =
    "INSERT INTO feeder_registry (id, name, substation, rating_amps) VALUES (?1, ?3, ?4, ?5)";
static const char SQL_FEEDER_UPDATE[] =
    "UPDATE feeder_registry SET substation = ?4, rating_amps = ?5 WHERE id = ?1 AND name = ?3"
    " AND (substation IS NOT ?4 OR rating_amps IS NOT ?5)";

static int write_feeder(struct import *im, size_t i)
{
    const struct registry_feeder *f = &im->t->feeders[i];
    const struct slot *slot = &im->slots[REGISTRY_FEEDERS][i];
    sqlite3_stmt *s = store_prepare(im->st, slot->exists ? SQL_FEEDER_UPDATE : SQL_FEEDER_INSERT);
    if (s == NULL)
        return STORE_ERROR;
    int rc = bind_head(im, s, slot->id, f->name) | bind_text(s, 4, f->substation) |
             bind_real(s, 5, f->has_rating_amps, f->rating_amps);
    return write_row(im, REGISTRY_FEEDERS, slot->exists, s, rc, "write feeder");
}

static const char SQL_SITE_INSERT[] =
    "INSERT INTO sites_new (id, name, esco, location, capacity_kw) VALUES (?1, ?3, ?4, ?5, ?6)";
static const char SQL_SITE_UPDATE[] =
    "UPDATE sites_new SET esco = ?4, location = ?5, capacity_kw = ?6 WHERE id = ?1 AND name = ?3"
    " AND (esco IS NOT ?4 OR location IS NOT ?5 OR capacity_kw IS NOT ?6)";

static int write_site(struct import *im, size_t i)
{
    const struct registry_site *site = &im->t->sites[i];
    const struct slot *slot = &im->slots[REGISTRY_SITES][i];
    char where[WHERE_MAX], esco[REGISTRY_ID_LEN];
    loc(where, "sites", site->at);
    int rc = reference(im, REGISTRY_ESCOS, where, "esco", site->esco, esco);
    sqlite3_stmt *s = store_prepare(im->st, slot->exists ? SQL_SITE_UPDATE : SQL_SITE_INSERT);
    if (rc != STORE_OK || s == NULL)
        return STORE_ERROR;
    rc = bind_head(im, s, slot->id, site->name) | bind_text(s, 4, esco[0] ? esco : NULL) |
         bind_text(s, 5, site->location) |
         bind_real(s, 6, site->has_capacity_kw, site->capacity_kw);
    return write_row(im, REGISTRY_SITES, slot->exists, s, rc, "write site");
}

static const char SQL_HEAD_INSERT[] =
    "INSERT INTO service_head_registry (id, name, phase, type, feeder, fuse_rating_amps)"
    " VALUES (?1, ?3, ?4, ?5, ?6, ?7)";
static const char SQL_HEAD_UPDATE[] =
    "UPDATE service_head_registry SET phase = ?4, type = ?5, feeder = ?6, fuse_rating_amps = ?7"
    " WHERE id = ?1 AND name = ?3 AND (phase IS NOT ?4 OR type IS NOT ?5 OR feeder IS NOT ?6"
    " OR fuse_rating_amps IS NOT ?7)";

static int write_service_head(struct import *im, size_t i)
{
    const struct registry_service_head *h = &im->t->service_heads[i];
    const struct slot *slot = &im->slots[REGISTRY_SERVICE_HEADS][i];
    char where[WHERE_MAX], feeder[REGISTRY_ID_LEN];
    loc(where, "service_heads", h->at);
    int rc = reference(im, REGISTRY_FEEDERS, where, "feeder", h->feeder, feeder);
    sqlite3_stmt *s = store_prepare(im->st, slot->exists ? SQL_HEAD_UPDATE : SQL_HEAD_INSERT);
    if (rc != STORE_OK || s == NULL)
        return STORE_ERROR;
    rc = bind_head(im, s, slot->id, h->name) |
         (h->phase ? sqlite3_bind_int(s, 4, h->phase) : sqlite3_bind_null(s, 4)) |
         bind_text(s, 5, h->type) | bind_text(s, 6, feeder[0] ? feeder : NULL) |
         bind_real(s, 7, h->has_fuse_rating_amps, h->fuse_rating_amps);
    return write_row(im, REGISTRY_SERVICE_HEADS, slot->exists, s, rc, "write service head");
}

/* ---- Property and its service heads -------------------------------------------------------- */

static const char SQL_PROPERTY_INSERT[] =
    "INSERT INTO properties (id, plot, site, address, type) VALUES (?1, ?3, ?4, ?5, ?6)";
static const char SQL_PROPERTY_UPDATE[] =
    "UPDATE properties SET site = ?4, address = ?5, type = ?6 WHERE id = ?1 AND plot = ?3"
    " AND (site IS NOT ?4 OR address IS NOT ?5 OR type IS NOT ?6)";
static const char SQL_PROPERTY_HEAD_ADD[] =
    "INSERT INTO properties_service_head (property, service_head) VALUES (?1, ?2)"
    " ON CONFLICT DO NOTHING";
/* The stored links walked one by one in key order, so rows can be deleted between steps. */
static const char SQL_PROPERTY_HEAD_NEXT[] =
    "SELECT service_head FROM properties_service_head WHERE property = ?1 AND service_head > ?2"
    " ORDER BY service_head LIMIT 1";
static const char SQL_PROPERTY_HEAD_DELETE[] =
    "DELETE FROM properties_service_head WHERE property = ?1 AND service_head = ?2";

/* Runs a statement of text parameters a and b (b NULL: the SQL has only ?1) that returns no rows;
 * *changed says whether it changed a row. */
static int run_pair(struct import *im, const char *sql, const char *a, const char *b, bool *changed,
                    const char *what)
{
    sqlite3_stmt *s = store_prepare(im->st, sql);
    if (s == NULL)
        return STORE_ERROR;
    if ((bind_text(s, 1, a) | (b ? bind_text(s, 2, b) : SQLITE_OK)) != SQLITE_OK)
        return store_fail(im->st, SQLITE_ERROR, "bind");
    int rc = store_step_done(im->st, s, what);
    *changed = rc == STORE_OK && sqlite3_changes(im->st->db) > 0;
    return rc;
}

static bool listed(const char (*ids)[REGISTRY_ID_LEN], size_t n, const char *id)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(ids[i], id) == 0)
            return true;
    return false;
}

/* Removes the stored links of property that are not among heads[0..n). */
static int prune_property_heads(struct import *im, const char *property,
                                const char (*heads)[REGISTRY_ID_LEN], size_t n)
{
    char after[REGISTRY_ID_LEN] = "", stored[REGISTRY_ID_LEN];
    bool found = true, removed;
    int rc = STORE_OK;
    while (rc == STORE_OK) {
        rc = query_text(im->st, SQL_PROPERTY_HEAD_NEXT, property, after, stored, sizeof stored,
                        &found);
        if (rc != STORE_OK || !found)
            break;
        if (!listed(heads, n, stored)) {
            rc = run_pair(im, SQL_PROPERTY_HEAD_DELETE, property, stored, &removed,
                          "remove property service head");
            im->report->counts[REGISTRY_PROPERTY_SERVICE_HEADS].removed += removed;
        }
        memcpy(after, stored, sizeof after);
    }
    return rc;
}

static int write_property_heads(struct import *im, size_t i)
{
    const struct registry_property *p = &im->t->properties[i];
    const char *property = im->slots[REGISTRY_PROPERTIES][i].id;
    struct registry_counts *c = &im->report->counts[REGISTRY_PROPERTY_SERVICE_HEADS];
    char where[WHERE_MAX];
    char(*heads)[REGISTRY_ID_LEN] = calloc(p->service_head_count + 1, sizeof *heads);
    int rc = STORE_OK;
    if (heads == NULL) {
        snprintf(im->st->errmsg, sizeof im->st->errmsg, "out of memory");
        return STORE_ERROR;
    }
    loc(where, "properties", p->at);
    for (size_t j = 0; j < p->service_head_count && rc == STORE_OK; j++) {
        bool added = false;
        rc = reference(im, REGISTRY_SERVICE_HEADS, where, "service_heads", p->service_heads[j],
                       heads[j]);
        if (rc == STORE_OK)
            rc = run_pair(im, SQL_PROPERTY_HEAD_ADD, property, heads[j], &added,
                          "write property service head");
        if (rc != STORE_OK)
            break;
        if (added)
            c->created++;
        else
            c->unchanged++;
        tick(im);
    }
    if (rc == STORE_OK)
        rc = prune_property_heads(im, property, (const char(*)[REGISTRY_ID_LEN])heads,
                                  p->service_head_count);
    free(heads);
    return rc;
}

static int write_property(struct import *im, size_t i)
{
    const struct registry_property *p = &im->t->properties[i];
    const struct slot *slot = &im->slots[REGISTRY_PROPERTIES][i];
    char where[WHERE_MAX], site[REGISTRY_ID_LEN];
    loc(where, "properties", p->at);
    int rc = reference(im, REGISTRY_SITES, where, "site", p->site, site);
    sqlite3_stmt *s =
        store_prepare(im->st, slot->exists ? SQL_PROPERTY_UPDATE : SQL_PROPERTY_INSERT);
    if (rc != STORE_OK || s == NULL)
        return STORE_ERROR;
    rc = bind_head(im, s, slot->id, p->plot) | bind_text(s, 4, site[0] ? site : NULL) |
         bind_text(s, 5, p->address) | bind_text(s, 6, p->type);
    rc = write_row(im, REGISTRY_PROPERTIES, slot->exists, s, rc, "write property");
    return rc == STORE_OK ? write_property_heads(im, i) : rc;
}

/* ---- Meter, its registers and its service head --------------------------------------------- */

static const char SQL_METER_INSERT[] =
    "INSERT INTO meter_registry (id, serial, name, ip_address, hardware, mode, esco,"
    " single_meter_app, daylight_savings_correction_enabled, created_at, updated_at)"
    " VALUES (?1, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?2, ?2)";
static const char SQL_METER_UPDATE[] =
    "UPDATE meter_registry SET name = ?4, ip_address = ?5, hardware = ?6, mode = ?7, esco = ?8,"
    " single_meter_app = ?9, daylight_savings_correction_enabled = ?10, updated_at = ?2"
    " WHERE id = ?1 AND serial = ?3 AND (name IS NOT ?4 OR ip_address IS NOT ?5"
    " OR hardware IS NOT ?6 OR mode IS NOT ?7 OR esco IS NOT ?8 OR single_meter_app IS NOT ?9"
    " OR daylight_savings_correction_enabled IS NOT ?10)";
static const char SQL_REGISTER_INSERT[] =
    "INSERT INTO meter_registers (register_id, meter_id, element, direction_reversed,"
    " rollover_kwh, created_at) VALUES (?1, ?3, ?4, ?5, ?6, ?2)";
static const char SQL_REGISTER_UPDATE[] =
    "UPDATE meter_registers SET direction_reversed = ?5, rollover_kwh = ?6"
    " WHERE register_id = ?1 AND meter_id = ?3 AND element = ?4"
    " AND (direction_reversed IS NOT ?5 OR rollover_kwh IS NOT ?6)";
static const char SQL_METER_HEAD_GET[] =
    "SELECT service_head FROM service_head_meter WHERE meter = ?1";
static const char SQL_METER_HEAD_ADD[] =
    "INSERT INTO service_head_meter (meter, service_head) VALUES (?1, ?2)";
static const char SQL_METER_HEAD_MOVE[] =
    "UPDATE service_head_meter SET service_head = ?2 WHERE meter = ?1";
static const char SQL_METER_HEAD_DELETE[] = "DELETE FROM service_head_meter WHERE meter = ?1";

static int write_register(struct import *im, size_t mi, size_t j)
{
    const struct registry_register *r = &im->t->meters[mi].registers[j];
    const struct slot *slot = &im->slots[REGISTRY_REGISTERS][im->first_register[mi] + j];
    sqlite3_stmt *s =
        store_prepare(im->st, slot->exists ? SQL_REGISTER_UPDATE : SQL_REGISTER_INSERT);
    if (s == NULL)
        return STORE_ERROR;
    int rc = bind_head(im, s, slot->id, im->slots[REGISTRY_METERS][mi].id) |
             bind_text(s, 4, r->element) | sqlite3_bind_int(s, 5, r->direction_reversed) |
             bind_real(s, 6, r->has_rollover_kwh, r->rollover_kwh);
    return write_row(im, REGISTRY_REGISTERS, slot->exists, s, rc, "write register");
}

/* A meter sits under at most one service head: the file's replaces the stored one. */
static int write_meter_head(struct import *im, size_t mi)
{
    const struct registry_meter *m = &im->t->meters[mi];
    const char *meter = im->slots[REGISTRY_METERS][mi].id;
    struct registry_counts *c = &im->report->counts[REGISTRY_METER_SERVICE_HEADS];
    char where[WHERE_MAX], head[REGISTRY_ID_LEN], stored[REGISTRY_ID_LEN];
    bool found = false, changed = false;
    loc(where, "meters", m->at);
    int rc = reference(im, REGISTRY_SERVICE_HEADS, where, "service_head", m->service_head, head);
    if (rc == STORE_OK)
        rc = query_text(im->st, SQL_METER_HEAD_GET, meter, NULL, stored, sizeof stored, &found);
    if (rc != STORE_OK || (!found && head[0] == '\0'))
        return rc;
    if (head[0] == '\0') {
        rc = run_pair(im, SQL_METER_HEAD_DELETE, meter, NULL, &changed, "remove meter head");
        c->removed += changed;
        return rc;
    }
    if (found && strcmp(stored, head) == 0)
        c->unchanged++;
    else if (found)
        rc = run_pair(im, SQL_METER_HEAD_MOVE, meter, head, &changed, "move meter service head");
    else
        rc = run_pair(im, SQL_METER_HEAD_ADD, meter, head, &changed, "add meter service head");
    if (rc != STORE_OK)
        return rc;
    if (changed && found)
        c->updated++;
    else if (changed)
        c->created++;
    tick(im);
    return STORE_OK;
}

static int write_meter(struct import *im, size_t i)
{
    const struct registry_meter *m = &im->t->meters[i];
    const struct slot *slot = &im->slots[REGISTRY_METERS][i];
    char where[WHERE_MAX], esco[REGISTRY_ID_LEN];
    loc(where, "meters", m->at);
    int rc = reference(im, REGISTRY_ESCOS, where, "esco", m->esco, esco);
    sqlite3_stmt *s = store_prepare(im->st, slot->exists ? SQL_METER_UPDATE : SQL_METER_INSERT);
    if (rc != STORE_OK || s == NULL)
        return STORE_ERROR;
    rc = bind_head(im, s, slot->id, m->serial) | bind_text(s, 4, m->name) |
         bind_text(s, 5, m->ip_address) | bind_text(s, 6, m->hardware) |
         bind_text(s, 7, m->passive ? "passive" : "active") |
         bind_text(s, 8, esco[0] ? esco : NULL) | sqlite3_bind_int(s, 9, m->single_meter_app) |
         sqlite3_bind_int(s, 10, m->dst_correction);
    rc = write_row(im, REGISTRY_METERS, slot->exists, s, rc, "write meter");
    for (size_t j = 0; j < m->register_count && rc == STORE_OK; j++)
        rc = write_register(im, i, j);
    return rc == STORE_OK ? write_meter_head(im, i) : rc;
}

/* ---- Circuit and its register mappings ----------------------------------------------------- */

static const char SQL_CIRCUIT_INSERT[] =
    "INSERT INTO circuits (id, name, type, site, rating_amps) VALUES (?1, ?3, ?4, ?5, ?6)";
static const char SQL_CIRCUIT_UPDATE[] =
    "UPDATE circuits SET type = ?4, site = ?5, rating_amps = ?6 WHERE id = ?1 AND name = ?3"
    " AND (type IS NOT ?4 OR site IS NOT ?5 OR rating_amps IS NOT ?6)";
static const char SQL_MAPPING_UPDATE[] =
    "UPDATE circuit_register SET end_time = ?4"
    " WHERE circuit = ?1 AND register = ?2 AND start_time = ?3 AND end_time IS NOT ?4";
static const char SQL_MAPPING_INSERT[] =
    "INSERT INTO circuit_register (circuit, register, start_time, end_time)"
    " VALUES (?1, ?2, ?3, ?4) ON CONFLICT DO NOTHING";
static const char SQL_MAPPING_NEXT[] = "SELECT register, start_time FROM circuit_register"
                                       " WHERE circuit = ?1 AND (register, start_time) > (?2, ?3)"
                                       " ORDER BY register, start_time LIMIT 1";
static const char SQL_MAPPING_DELETE[] =
    "DELETE FROM circuit_register WHERE circuit = ?1 AND register = ?2 AND start_time = ?3";
/* The circuit's half-hours were folded over the old mapping: their next change folds them again
 * (see store_aggregates.c). */
static const char SQL_MAPPING_FORGET_PARTS[] =
    "UPDATE circuit_hh SET mapped_registers = NULL, complete_registers = NULL"
    " WHERE circuit_id = ?1 AND mapped_registers IS NOT NULL";

/* Runs a mapping statement (?1 circuit, ?2 register, ?3 start, ?4 end when the SQL has it). */
static int run_mapping(struct import *im, const char *sql, const char *circuit, const char *reg,
                       const char *start, const char *end, bool *changed)
{
    sqlite3_stmt *s = store_prepare(im->st, sql);
    if (s == NULL)
        return STORE_ERROR;
    int rc = bind_text(s, 1, circuit) | bind_text(s, 2, reg) | bind_text(s, 3, start);
    if (sql != SQL_MAPPING_DELETE)
        rc |= bind_text(s, 4, end);
    if (rc != SQLITE_OK)
        return store_fail(im->st, SQLITE_ERROR, "bind");
    rc = store_step_done(im->st, s, "write circuit register");
    *changed = rc == STORE_OK && sqlite3_changes(im->st->db) > 0;
    if (*changed) {
        s = store_prepare(im->st, SQL_MAPPING_FORGET_PARTS);
        rc = s == NULL ? STORE_ERROR
             : bind_text(s, 1, circuit) != SQLITE_OK
                 ? store_fail(im->st, SQLITE_ERROR, "bind")
                 : store_step_done(im->st, s, "forget circuit half-hour parts");
    }
    return rc;
}

static int write_mapping(struct import *im, const char *circuit, const char *reg,
                         const struct registry_mapping *r)
{
    struct registry_counts *c = &im->report->counts[REGISTRY_CIRCUIT_REGISTERS];
    char start[ISOTIME_LEN], end[ISOTIME_LEN];
    bool updated = false, created = false;
    isotime_format(r->start, start);
    const char *until = r->has_end ? isotime_format(r->end, end) : NULL;
    int rc = run_mapping(im, SQL_MAPPING_UPDATE, circuit, reg, start, until, &updated);
    if (rc == STORE_OK && !updated)
        rc = run_mapping(im, SQL_MAPPING_INSERT, circuit, reg, start, until, &created);
    if (rc != STORE_OK)
        return rc;
    if (updated)
        c->updated++;
    else if (created)
        c->created++;
    else
        c->unchanged++;
    tick(im);
    return STORE_OK;
}

/* The next stored mapping of circuit after (reg, start) in key order. */
static int next_mapping(struct import *im, const char *circuit, char reg[REGISTRY_ID_LEN],
                        char start[ISOTIME_LEN], bool *found)
{
    sqlite3_stmt *s = store_prepare(im->st, SQL_MAPPING_NEXT);
    *found = false;
    if (s == NULL)
        return STORE_ERROR;
    if ((bind_text(s, 1, circuit) | bind_text(s, 2, reg) | bind_text(s, 3, start)) != SQLITE_OK)
        return store_fail(im->st, SQLITE_ERROR, "bind");
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        const char *r = (const char *)sqlite3_column_text(s, 0);
        const char *t = (const char *)sqlite3_column_text(s, 1);
        snprintf(reg, REGISTRY_ID_LEN, "%s", r ? r : "");
        snprintf(start, ISOTIME_LEN, "%s", t ? t : "");
        *found = true;
        rc = SQLITE_DONE;
    }
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? STORE_OK : store_fail(im->st, rc, "read circuit registers");
}

/* Removes the stored mappings of circuit i that the file no longer lists. */
static int prune_mappings(struct import *im, size_t i, const char (*regs)[REGISTRY_ID_LEN])
{
    const struct registry_circuit *c = &im->t->circuits[i];
    const char *circuit = im->slots[REGISTRY_CIRCUITS][i].id;
    char reg[REGISTRY_ID_LEN] = "", start[ISOTIME_LEN] = "", text[ISOTIME_LEN];
    bool found = true, removed = false;
    int rc = STORE_OK;
    while (rc == STORE_OK && (rc = next_mapping(im, circuit, reg, start, &found)) == STORE_OK &&
           found) {
        bool kept = false;
        for (size_t j = 0; j < c->mapping_count && !kept; j++)
            kept = strcmp(regs[j], reg) == 0 &&
                   strcmp(isotime_format(c->mappings[j].start, text), start) == 0;
        if (!kept) {
            rc = run_mapping(im, SQL_MAPPING_DELETE, circuit, reg, start, NULL, &removed);
            im->report->counts[REGISTRY_CIRCUIT_REGISTERS].removed += removed;
        }
    }
    return rc;
}

static int write_mappings(struct import *im, size_t i)
{
    const struct registry_circuit *c = &im->t->circuits[i];
    char(*regs)[REGISTRY_ID_LEN] = calloc(c->mapping_count + 1, sizeof *regs);
    int rc = STORE_OK;
    if (regs == NULL) {
        snprintf(im->st->errmsg, sizeof im->st->errmsg, "out of memory");
        return STORE_ERROR;
    }
    for (size_t j = 0; j < c->mapping_count && rc == STORE_OK; j++) {
        char where[WHERE_MAX];
        loc2(where, "circuits", c->at, "registers", c->mappings[j].at);
        rc = reference_register(im, where, &c->mappings[j], regs[j]);
        if (rc == STORE_OK)
            rc = write_mapping(im, im->slots[REGISTRY_CIRCUITS][i].id, regs[j], &c->mappings[j]);
    }
    if (rc == STORE_OK)
        rc = prune_mappings(im, i, (const char(*)[REGISTRY_ID_LEN])regs);
    free(regs);
    return rc;
}

static int write_circuit(struct import *im, size_t i)
{
    const struct registry_circuit *c = &im->t->circuits[i];
    const struct slot *slot = &im->slots[REGISTRY_CIRCUITS][i];
    char where[WHERE_MAX], site[REGISTRY_ID_LEN];
    loc(where, "circuits", c->at);
    int rc = reference(im, REGISTRY_SITES, where, "site", c->site, site);
    sqlite3_stmt *s = store_prepare(im->st, slot->exists ? SQL_CIRCUIT_UPDATE : SQL_CIRCUIT_INSERT);
    if (rc != STORE_OK || s == NULL)
        return STORE_ERROR;
    rc = bind_head(im, s, slot->id, c->name) | bind_text(s, 4, c->type) |
         bind_text(s, 5, site[0] ? site : NULL) |
         bind_real(s, 6, c->has_rating_amps, c->rating_amps);
    rc = write_row(im, REGISTRY_CIRCUITS, slot->exists, s, rc, "write circuit");
    return rc == STORE_OK ? write_mappings(im, i) : rc;
}

/* ---- Import -------------------------------------------------------------------------------- */

/* Every kind in dependency order, so each row's references exist when it is written. */
static int write_all(struct import *im)
{
    static int (*const writers[])(struct import *, size_t) = {
        write_esco,     write_feeder, write_site,    write_service_head,
        write_property, write_meter,  write_circuit,
    };
    static const enum registry_kind kinds_of[] = {
        REGISTRY_ESCOS,      REGISTRY_FEEDERS, REGISTRY_SITES,    REGISTRY_SERVICE_HEADS,
        REGISTRY_PROPERTIES, REGISTRY_METERS,  REGISTRY_CIRCUITS,
    };
    int rc = STORE_OK;
    for (size_t k = 0; k < sizeof writers / sizeof writers[0] && rc == STORE_OK; k++)
        for (size_t i = 0; i < entity_count(im->t, kinds_of[k]) && rc == STORE_OK; i++)
            rc = writers[k](im, i);
    return rc;
}

static int import_alloc(struct import *im)
{
    for (int k = 0; k < REGISTRY_KIND_COUNT; k++) {
        size_t n = k <= REGISTRY_CIRCUITS ? entity_count(im->t, (enum registry_kind)k) : 0;
        im->slots[k] = calloc(n + 1, sizeof *im->slots[k]);
        if (im->slots[k] == NULL)
            return -1;
    }
    im->first_register = calloc(im->t->meter_count + 1, sizeof *im->first_register);
    if (im->first_register == NULL)
        return -1;
    for (size_t i = 1; i <= im->t->meter_count; i++)
        im->first_register[i] = im->first_register[i - 1] + im->t->meters[i - 1].register_count;
    return 0;
}

static void import_free(struct import *im)
{
    for (int k = 0; k < REGISTRY_KIND_COUNT; k++)
        free(im->slots[k]);
    free(im->first_register);
}

/* Both passes inside the open transaction; STORE_REGISTRY_REJECTED when problems were found. */
static int import_run(struct import *im)
{
    int rc = assign_ids(im);
    if (rc == STORE_OK)
        rc = check_references(im);
    if (rc == STORE_OK && registry_problems_any(im->problems))
        return STORE_REGISTRY_REJECTED;
    if (rc == STORE_OK)
        rc = write_all(im);
    /* The write pass resolves what the check pass did; a problem here would be a bug, and must
     * still not commit. */
    if (rc == STORE_OK && registry_problems_any(im->problems))
        rc = STORE_REGISTRY_REJECTED;
    return rc;
}

int store_registry_import(struct store *st, const struct topology *t, int64_t now,
                          struct registry_report *report, struct registry_problems *problems)
{
    struct import im = {.st = st, .t = t, .report = report, .problems = problems};
    memset(report->counts, 0, sizeof report->counts);
    isotime_format(now, im.now);
    im.total = registry_entity_total(t);
    if (import_alloc(&im) != 0) {
        import_free(&im);
        snprintf(st->errmsg, sizeof st->errmsg, "out of memory");
        return STORE_ERROR;
    }
    int rc = store_begin(st);
    if (rc == STORE_OK)
        rc = import_run(&im);
    if (rc == STORE_OK)
        rc = store_commit(st);
    else
        store_rollback(st);
    if (rc != STORE_OK)
        memset(report->counts, 0, sizeof report->counts); /* nothing of it was kept */
    import_free(&im);
    return rc;
}

/* ---- One meter, for the daemon ------------------------------------------------------------- */

static const char SQL_METER_LOOKUP[] =
    "SELECT m.id, m.mode, m.daylight_savings_correction_enabled, h.fuse_rating_amps, h.phase"
    " FROM meter_registry m LEFT JOIN service_head_meter sm ON sm.meter = m.id"
    " LEFT JOIN service_head_registry h ON h.id = sm.service_head WHERE m.serial = ?1";
static const char SQL_METER_REGISTERS[] =
    "SELECT register_id, element, direction_reversed, rollover_kwh FROM meter_registers"
    " WHERE meter_id = ?1 ORDER BY CASE element WHEN 'A' THEN 0 WHEN 'B' THEN 1 ELSE 2 END";

static void read_meter_row(sqlite3_stmt *s, struct store_meter *out)
{
    const char *id = (const char *)sqlite3_column_text(s, 0);
    const char *mode = (const char *)sqlite3_column_text(s, 1);
    snprintf(out->id, sizeof out->id, "%s", id ? id : "");
    out->passive = mode != NULL && strcmp(mode, "passive") == 0;
    out->dst_correction = sqlite3_column_int(s, 2) != 0;
    if (sqlite3_column_type(s, 3) != SQLITE_NULL && sqlite3_column_type(s, 4) != SQLITE_NULL)
        out->max_power_w = llround(sqlite3_column_double(s, 3) * VOLTS * sqlite3_column_int(s, 4));
    out->found = true;
}

static int read_meter_registers(struct store *st, struct store_meter *out)
{
    sqlite3_stmt *s = store_prepare(st, SQL_METER_REGISTERS);
    if (s == NULL)
        return STORE_ERROR;
    if (sqlite3_bind_text(s, 1, out->id, -1, SQLITE_STATIC) != SQLITE_OK)
        return store_fail(st, SQLITE_ERROR, "bind");
    int rc;
    while ((rc = sqlite3_step(s)) == SQLITE_ROW && out->register_count < 3) {
        struct store_register *r = &out->registers[out->register_count++];
        const char *id = (const char *)sqlite3_column_text(s, 0);
        const char *element = (const char *)sqlite3_column_text(s, 1);
        snprintf(r->id, sizeof r->id, "%s", id ? id : "");
        snprintf(r->element, sizeof r->element, "%s", element ? element : "");
        r->direction_reversed = sqlite3_column_int(s, 2) != 0;
        r->rollover_wh = sqlite3_column_type(s, 3) == SQLITE_NULL
                             ? 0
                             : llround(sqlite3_column_double(s, 3) * 1000.0);
    }
    sqlite3_reset(s);
    /* The schema allows three registers per meter (one per element), so a fourth row cannot be. */
    return rc == SQLITE_DONE || rc == SQLITE_ROW ? STORE_OK : store_fail(st, rc, "read registers");
}

int store_meter_lookup(struct store *st, const char *serial, struct store_meter *out)
{
    memset(out, 0, sizeof *out);
    sqlite3_stmt *s = store_prepare(st, SQL_METER_LOOKUP);
    if (s == NULL)
        return STORE_ERROR;
    if (sqlite3_bind_text(s, 1, serial, -1, SQLITE_STATIC) != SQLITE_OK)
        return store_fail(st, SQLITE_ERROR, "bind");
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
        read_meter_row(s, out);
        rc = SQLITE_DONE;
    }
    sqlite3_reset(s);
    if (rc != SQLITE_DONE)
        return store_fail(st, rc, "look up meter");
    return out->found ? read_meter_registers(st, out) : STORE_OK;
}

/* ---- Provisioning -------------------------------------------------------------------------- */

static const char SQL_PROVISION_METER[] =
    "INSERT INTO meter_registry (id, serial, mode, created_at, updated_at)"
    " VALUES (?1, ?2, 'active', ?3, ?3)";
static const char SQL_PROVISION_REGISTER[] =
    "INSERT INTO meter_registers (register_id, meter_id, element, created_at)"
    " VALUES (?1, ?2, ?3, ?4)";

static bool meter_has(const struct store_meter *m, const char *element)
{
    for (size_t i = 0; i < m->register_count; i++)
        if (strcmp(m->registers[i].element, element) == 0)
            return true;
    return false;
}

/* Which of A, B, SINGLE must be added to m (want[0..2]); an element that breaks the rules is an
 * error with the message recorded. */
static int provision_plan(struct store *st, const struct store_meter *m,
                          const char *const *elements, size_t n, bool want[3])
{
    static const char *const names[3] = {"A", "B", "SINGLE"};
    bool has_single = meter_has(m, "SINGLE"), has_pair = meter_has(m, "A") || meter_has(m, "B");
    for (size_t i = 0; i < n; i++) {
        size_t e = 0;
        while (e < 3 && strcmp(elements[i], names[e]) != 0)
            e++;
        if (e == 3) {
            snprintf(st->errmsg, sizeof st->errmsg, "provision: unknown element '%.16s'",
                     elements[i]);
            return STORE_ERROR;
        }
        want[e] = !meter_has(m, names[e]) && !(e == 0 && has_single);
    }
    if ((want[2] && (has_pair || want[0] || want[1])) || (has_single && want[1])) {
        snprintf(st->errmsg, sizeof st->errmsg,
                 "provision: a SINGLE meter has only a SINGLE register");
        return STORE_ERROR;
    }
    return STORE_OK;
}

static int provision_meter(struct store *st, const char *serial, const char *now,
                           struct store_meter *m)
{
    int rc = uuid4(st, m->id);
    sqlite3_stmt *s = rc == STORE_OK ? store_prepare(st, SQL_PROVISION_METER) : NULL;
    if (s == NULL)
        return STORE_ERROR;
    if ((sqlite3_bind_text(s, 1, m->id, -1, SQLITE_STATIC) |
         sqlite3_bind_text(s, 2, serial, -1, SQLITE_STATIC) |
         sqlite3_bind_text(s, 3, now, -1, SQLITE_STATIC)) != SQLITE_OK)
        return store_fail(st, SQLITE_ERROR, "bind");
    return store_step_done(st, s, "provision meter");
}

static int provision_register(struct store *st, const char *meter_id, const char *element,
                              const char *now)
{
    char id[REGISTRY_ID_LEN];
    int rc = uuid4(st, id);
    sqlite3_stmt *s = rc == STORE_OK ? store_prepare(st, SQL_PROVISION_REGISTER) : NULL;
    if (s == NULL)
        return STORE_ERROR;
    if ((sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC) |
         sqlite3_bind_text(s, 2, meter_id, -1, SQLITE_STATIC) |
         sqlite3_bind_text(s, 3, element, -1, SQLITE_STATIC) |
         sqlite3_bind_text(s, 4, now, -1, SQLITE_STATIC)) != SQLITE_OK)
        return store_fail(st, SQLITE_ERROR, "bind");
    return store_step_done(st, s, "provision register");
}

int store_meter_provision(struct store *st, const char *serial, const char *const *elements,
                          size_t n, int64_t now, struct store_meter *out)
{
    static const char *const names[3] = {"A", "B", "SINGLE"};
    bool want[3] = {false, false, false};
    char stamp[ISOTIME_LEN];
    if (!topic_serial_valid(serial, strlen(serial))) {
        snprintf(st->errmsg, sizeof st->errmsg, "provision: invalid meter serial");
        return STORE_ERROR;
    }
    int rc = store_meter_lookup(st, serial, out);
    if (rc == STORE_OK)
        rc = provision_plan(st, out, elements, n, want);
    if (rc != STORE_OK)
        return rc;
    isotime_format(now, stamp);
    if (!out->found)
        rc = provision_meter(st, serial, stamp, out);
    for (size_t e = 0; e < 3 && rc == STORE_OK; e++)
        if (want[e])
            rc = provision_register(st, out->id, names[e], stamp);
    return rc == STORE_OK ? store_meter_lookup(st, serial, out) : rc;
}
