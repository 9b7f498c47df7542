/* store_commands.c — meter_commands, meter_tariff_schedule and the meters a tariff push selects.
 *
 * The service asks "what is due?" about once a second, so both due lookups read a partial index
 * holding only live rows (pending commands, scheduled looks) with a LIMIT: the question costs the
 * same for a fleet with years of finished commands as for an empty one. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "isotime.h"
#include "store_commands.h"
#include "store_internal.h"

/* ---- Commands ------------------------------------------------------------------------------ */

/* A version 4 UUID from SQLite's own generator (seeded from the operating system). */
static const char SQL_UUID[] =
    "SELECT lower(hex(randomblob(4)) || '-' || hex(randomblob(2)) || '-4' ||"
    " substr(hex(randomblob(2)), 2) || '-' || substr('89ab', 1 + abs(random() % 4), 1) ||"
    " substr(hex(randomblob(2)), 2) || '-' || hex(randomblob(6)))";
static const char SQL_COMMAND_INSERT[] =
    "INSERT INTO meter_commands (id, meter_id, command, args, status, attempts, created_at,"
    " updated_at, version, next_attempt_at) VALUES (?1, ?2, ?3, ?4, 'pending', 0, ?5, ?5, ?6, ?7)";
#define SQL_COMMAND_COLUMNS                                                                        \
    "SELECT c.id, c.meter_id, m.serial, c.version, c.status, c.attempts, c.last_attempt_at,"       \
    " c.next_attempt_at, c.args FROM meter_commands c JOIN meter_registry m ON m.id = c.meter_id"
static const char SQL_COMMAND_FIND[] = SQL_COMMAND_COLUMNS " WHERE c.id = ?1";
static const char SQL_COMMAND_PENDING[] =
    SQL_COMMAND_COLUMNS " WHERE c.meter_id = ?1 AND c.status = 'pending' ORDER BY c.rowid LIMIT ?2";
static const char SQL_COMMAND_DUE[] = SQL_COMMAND_COLUMNS
    " WHERE c.status = 'pending' AND c.next_attempt_at <= ?1 ORDER BY c.next_attempt_at LIMIT ?2";
static const char SQL_COMMAND_LATEST[] =
    SQL_COMMAND_COLUMNS " WHERE c.meter_id = ?1 ORDER BY c.rowid DESC LIMIT 1";
static const char SQL_COMMAND_SAVE[] =
    "UPDATE meter_commands SET status = ?2, attempts = ?3, last_attempt_at = ?4,"
    " next_attempt_at = ?5, reason = coalesce(?6, reason), updated_at = ?7 WHERE id = ?1";
static const char SQL_COMMAND_ANSWER[] =
    "UPDATE meter_commands SET result = ?2, result_message = ?3, updated_at = ?4 WHERE id = ?1";

static int store_mint_id(struct store *st, char out[37])
{
    sqlite3_stmt *s = store_prepare(st, SQL_UUID);
    if (s == NULL)
        return STORE_ERROR;
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW)
        snprintf(out, 37, "%s", (const char *)sqlite3_column_text(s, 0));
    sqlite3_reset(s);
    return rc == SQLITE_ROW ? STORE_OK : store_fail(st, rc, "command id");
}

/* Copies text column col into out (cap bytes); a longer or NULL value is a corrupt row. */
static int store_copy_text(struct store *st, sqlite3_stmt *s, int col, char *out, size_t cap)
{
    const unsigned char *text = sqlite3_column_text(s, col);
    if (text == NULL || (size_t)sqlite3_column_bytes(s, col) >= cap) {
        snprintf(st->errmsg, sizeof st->errmsg, "meter_commands: column %d missing or too long",
                 col);
        return STORE_ERROR;
    }
    memcpy(out, text, (size_t)sqlite3_column_bytes(s, col) + 1);
    return STORE_OK;
}

/* Reads the row SQL_COMMAND_COLUMNS selects. */
static int store_command_row(struct store *st, sqlite3_stmt *s, struct store_command *out)
{
    memset(out, 0, sizeof *out);
    if (store_copy_text(st, s, 0, out->id, sizeof out->id) != STORE_OK ||
        store_copy_text(st, s, 1, out->meter_id, sizeof out->meter_id) != STORE_OK ||
        store_copy_text(st, s, 2, out->serial, sizeof out->serial) != STORE_OK ||
        store_copy_text(st, s, 8, out->args, sizeof out->args) != STORE_OK)
        return STORE_ERROR;
    const char *status = (const char *)sqlite3_column_text(s, 4);
    if (status == NULL || tariffs_command_status_parse(status, &out->state.status) != 0) {
        snprintf(st->errmsg, sizeof st->errmsg, "meter_commands: unknown status");
        return STORE_ERROR;
    }
    out->version = sqlite3_column_int64(s, 3);
    out->state.attempts = sqlite3_column_int(s, 5);
    out->state.last_attempt_at = sqlite3_column_int64(s, 6);
    out->state.next_at = sqlite3_column_int64(s, 7);
    return STORE_OK;
}

/* Steps s (bound) and reads up to cap rows into out. */
static int store_command_rows(struct store *st, sqlite3_stmt *s, struct store_command *out,
                              size_t cap, size_t *n)
{
    int rc = SQLITE_DONE;
    *n = 0;
    while (*n < cap && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        if (store_command_row(st, s, &out[*n]) != STORE_OK) {
            sqlite3_reset(s);
            return STORE_ERROR;
        }
        (*n)++;
    }
    if (*n == cap)
        rc = SQLITE_DONE;
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? STORE_OK : store_fail(st, rc, "read commands");
}

int store_command_create(struct store *st, const char *meter_id, const char *command,
                         const char *args, int64_t version, int64_t now, struct store_command *out)
{
    char stamp[ISOTIME_LEN];
    memset(out, 0, sizeof *out);
    if (strlen(args) >= sizeof out->args) {
        snprintf(st->errmsg, sizeof st->errmsg, "command args too long");
        return STORE_ERROR;
    }
    int rc = store_mint_id(st, out->id);
    sqlite3_stmt *s = rc == STORE_OK ? store_prepare(st, SQL_COMMAND_INSERT) : NULL;
    if (s == NULL)
        return STORE_ERROR;
    if ((sqlite3_bind_text(s, 1, out->id, -1, SQLITE_STATIC) |
         sqlite3_bind_text(s, 2, meter_id, -1, SQLITE_STATIC) |
         sqlite3_bind_text(s, 3, command, -1, SQLITE_STATIC) |
         sqlite3_bind_text(s, 4, args, -1, SQLITE_STATIC) |
         sqlite3_bind_text(s, 5, isotime_format(now, stamp), -1, SQLITE_TRANSIENT) |
         sqlite3_bind_int64(s, 6, version) | sqlite3_bind_int64(s, 7, now)) != SQLITE_OK)
        return store_fail(st, SQLITE_ERROR, "bind");
    rc = store_step_done(st, s, "insert command");
    if (rc != STORE_OK)
        return rc;
    snprintf(out->meter_id, sizeof out->meter_id, "%s", meter_id);
    snprintf(out->args, sizeof out->args, "%s", args);
    out->version = version;
    tariffs_command_init(&out->state, now);
    return STORE_OK;
}

int store_command_find(struct store *st, const char *id, struct store_command *out, bool *found)
{
    size_t n = 0;
    sqlite3_stmt *s = store_prepare(st, SQL_COMMAND_FIND);
    if (s == NULL)
        return STORE_ERROR;
    if (sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC) != SQLITE_OK)
        return store_fail(st, SQLITE_ERROR, "bind");
    int rc = store_command_rows(st, s, out, 1, &n);
    *found = rc == STORE_OK && n == 1;
    return rc;
}

int store_command_save(struct store *st, const struct store_command *c, const char *reason,
                       int64_t now)
{
    char stamp[ISOTIME_LEN];
    bool pending = c->state.status == TARIFFS_COMMAND_PENDING;
    sqlite3_stmt *s = store_prepare(st, SQL_COMMAND_SAVE);
    if (s == NULL)
        return STORE_ERROR;
    int rc =
        sqlite3_bind_text(s, 1, c->id, -1, SQLITE_STATIC) |
        sqlite3_bind_text(s, 2, tariffs_command_status_name(c->state.status), -1, SQLITE_STATIC) |
        sqlite3_bind_int(s, 3, c->state.attempts) |
        (c->state.attempts > 0 ? sqlite3_bind_int64(s, 4, c->state.last_attempt_at)
                               : sqlite3_bind_null(s, 4)) |
        (pending ? sqlite3_bind_int64(s, 5, c->state.next_at) : sqlite3_bind_null(s, 5)) |
        (reason ? sqlite3_bind_text(s, 6, reason, -1, SQLITE_STATIC) : sqlite3_bind_null(s, 6)) |
        sqlite3_bind_text(s, 7, isotime_format(now, stamp), -1, SQLITE_TRANSIENT);
    if (rc != SQLITE_OK)
        return store_fail(st, SQLITE_ERROR, "bind");
    return store_step_done(st, s, "save command");
}

int store_command_answer(struct store *st, const char *id, bool ok, const char *message,
                         int64_t now)
{
    char stamp[ISOTIME_LEN];
    sqlite3_stmt *s = store_prepare(st, SQL_COMMAND_ANSWER);
    if (s == NULL)
        return STORE_ERROR;
    int rc =
        sqlite3_bind_text(s, 1, id, -1, SQLITE_STATIC) |
        sqlite3_bind_text(s, 2, ok ? "ok" : "error", -1, SQLITE_STATIC) |
        (message ? sqlite3_bind_text(s, 3, message, -1, SQLITE_STATIC) : sqlite3_bind_null(s, 3)) |
        sqlite3_bind_text(s, 4, isotime_format(now, stamp), -1, SQLITE_TRANSIENT);
    if (rc != SQLITE_OK)
        return store_fail(st, SQLITE_ERROR, "bind");
    return store_step_done(st, s, "answer command");
}

int store_commands_pending(struct store *st, const char *meter_id, struct store_command *out,
                           size_t cap, size_t *n)
{
    *n = 0;
    sqlite3_stmt *s = store_prepare(st, SQL_COMMAND_PENDING);
    if (s == NULL)
        return STORE_ERROR;
    if ((sqlite3_bind_text(s, 1, meter_id, -1, SQLITE_STATIC) |
         sqlite3_bind_int64(s, 2, (int64_t)cap)) != SQLITE_OK)
        return store_fail(st, SQLITE_ERROR, "bind");
    return store_command_rows(st, s, out, cap, n);
}

int store_commands_due(struct store *st, int64_t now, struct store_command *out, size_t cap,
                       size_t *n)
{
    *n = 0;
    sqlite3_stmt *s = store_prepare(st, SQL_COMMAND_DUE);
    if (s == NULL)
        return STORE_ERROR;
    if ((sqlite3_bind_int64(s, 1, now) | sqlite3_bind_int64(s, 2, (int64_t)cap)) != SQLITE_OK)
        return store_fail(st, SQLITE_ERROR, "bind");
    return store_command_rows(st, s, out, cap, n);
}

int store_command_latest(struct store *st, const char *meter_id, struct store_command *out,
                         bool *found)
{
    size_t n = 0;
    sqlite3_stmt *s = store_prepare(st, SQL_COMMAND_LATEST);
    if (s == NULL)
        return STORE_ERROR;
    if (sqlite3_bind_text(s, 1, meter_id, -1, SQLITE_STATIC) != SQLITE_OK)
        return store_fail(st, SQLITE_ERROR, "bind");
    int rc = store_command_rows(st, s, out, 1, &n);
    *found = rc == STORE_OK && n == 1;
    return rc;
}

/* ---- Tariff schedule ----------------------------------------------------------------------- */

static const char SQL_SCHEDULE_SET[] =
    "INSERT INTO meter_tariff_schedule (meter_id, stage, due_at) VALUES (?1, ?2, ?3)"
    " ON CONFLICT (meter_id) DO UPDATE SET stage = excluded.stage, due_at = excluded.due_at";
static const char SQL_SCHEDULE_REMOVE[] = "DELETE FROM meter_tariff_schedule WHERE meter_id = ?1";
static const char SQL_SCHEDULE_DUE[] =
    "SELECT t.meter_id, m.serial, t.stage, t.due_at FROM meter_tariff_schedule t"
    " JOIN meter_registry m ON m.id = t.meter_id WHERE t.due_at <= ?1 ORDER BY t.due_at LIMIT ?2";
static const char SQL_ACTIVATION_SET[] =
    "INSERT INTO meter_state (meter_id, future_activation_at) VALUES (?1, ?2)"
    " ON CONFLICT (meter_id) DO UPDATE SET future_activation_at = excluded.future_activation_at";

static const char *store_stage_name(enum store_tariff_stage stage)
{
    return stage == STORE_TARIFF_PUSHED ? "pushed" : "scheduled";
}

int store_tariff_schedule_set(struct store *st, const char *meter_id, enum store_tariff_stage stage,
                              const int64_t *due_at)
{
    sqlite3_stmt *s = store_prepare(st, SQL_SCHEDULE_SET);
    if (s == NULL)
        return STORE_ERROR;
    if ((sqlite3_bind_text(s, 1, meter_id, -1, SQLITE_STATIC) |
         sqlite3_bind_text(s, 2, store_stage_name(stage), -1, SQLITE_STATIC) |
         (due_at ? sqlite3_bind_int64(s, 3, *due_at) : sqlite3_bind_null(s, 3))) != SQLITE_OK)
        return store_fail(st, SQLITE_ERROR, "bind");
    return store_step_done(st, s, "set tariff schedule");
}

int store_tariff_schedule_remove(struct store *st, const char *meter_id)
{
    sqlite3_stmt *s = store_prepare(st, SQL_SCHEDULE_REMOVE);
    if (s == NULL)
        return STORE_ERROR;
    if (sqlite3_bind_text(s, 1, meter_id, -1, SQLITE_STATIC) != SQLITE_OK)
        return store_fail(st, SQLITE_ERROR, "bind");
    return store_step_done(st, s, "remove tariff schedule");
}

int store_tariff_schedule_due(struct store *st, int64_t now, struct store_tariff_due *out,
                              size_t cap, size_t *n)
{
    *n = 0;
    sqlite3_stmt *s = store_prepare(st, SQL_SCHEDULE_DUE);
    if (s == NULL)
        return STORE_ERROR;
    if ((sqlite3_bind_int64(s, 1, now) | sqlite3_bind_int64(s, 2, (int64_t)cap)) != SQLITE_OK)
        return store_fail(st, SQLITE_ERROR, "bind");
    int rc = SQLITE_DONE;
    while (*n < cap && (rc = sqlite3_step(s)) == SQLITE_ROW) {
        struct store_tariff_due *d = &out[*n];
        const char *stage = (const char *)sqlite3_column_text(s, 2);
        if (store_copy_text(st, s, 0, d->meter_id, sizeof d->meter_id) != STORE_OK ||
            store_copy_text(st, s, 1, d->serial, sizeof d->serial) != STORE_OK) {
            sqlite3_reset(s);
            return STORE_ERROR;
        }
        d->stage =
            stage && strcmp(stage, "pushed") == 0 ? STORE_TARIFF_PUSHED : STORE_TARIFF_SCHEDULED;
        d->due_at = sqlite3_column_int64(s, 3);
        (*n)++;
    }
    if (*n == cap)
        rc = SQLITE_DONE;
    sqlite3_reset(s);
    return rc == SQLITE_DONE ? STORE_OK : store_fail(st, rc, "tariff schedule due");
}

int store_tariff_activation_set(struct store *st, const char *meter_id, const int64_t *at)
{
    sqlite3_stmt *s = store_prepare(st, SQL_ACTIVATION_SET);
    if (s == NULL)
        return STORE_ERROR;
    if ((sqlite3_bind_text(s, 1, meter_id, -1, SQLITE_STATIC) |
         (at ? sqlite3_bind_int64(s, 2, *at) : sqlite3_bind_null(s, 2))) != SQLITE_OK)
        return store_fail(st, SQLITE_ERROR, "bind");
    return store_step_done(st, s, "set future activation");
}

/* ---- Selecting meters ---------------------------------------------------------------------- */

#define SQL_METER_REF                                                                              \
    "SELECT DISTINCT m.id, m.serial, m.mode = 'passive', m.daylight_savings_correction_enabled"    \
    " FROM meter_registry m"
static const char SQL_SELECT_ALL[] = SQL_METER_REF " ORDER BY m.serial";
static const char SQL_SELECT_ESCO[] =
    SQL_METER_REF " JOIN escos e ON e.id = m.esco WHERE e.code = ?1 ORDER BY m.serial";
static const char SQL_SELECT_SITE[] =
    SQL_METER_REF " JOIN service_head_meter shm ON shm.meter = m.id"
                  " JOIN properties_service_head psh ON psh.service_head = shm.service_head"
                  " JOIN properties p ON p.id = psh.property"
                  " JOIN sites_new s ON s.id = p.site WHERE s.name = ?1 ORDER BY m.serial";
static const char SQL_ESCO_EXISTS[] = "SELECT 1 FROM escos WHERE code = ?1";
static const char SQL_SITE_EXISTS[] = "SELECT 1 FROM sites_new WHERE name = ?1";

static int store_scope_exists(struct store *st, enum store_meter_scope scope, const char *name,
                              bool *found)
{
    *found = true;
    if (scope == STORE_SCOPE_ALL)
        return STORE_OK;
    sqlite3_stmt *s =
        store_prepare(st, scope == STORE_SCOPE_ESCO ? SQL_ESCO_EXISTS : SQL_SITE_EXISTS);
    if (s == NULL)
        return STORE_ERROR;
    if (sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC) != SQLITE_OK)
        return store_fail(st, SQLITE_ERROR, "bind");
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    *found = rc == SQLITE_ROW;
    return rc == SQLITE_ROW || rc == SQLITE_DONE ? STORE_OK : store_fail(st, rc, "find scope");
}

/* Appends the row s is on to *out, growing it. */
static int store_meter_ref_add(struct store *st, sqlite3_stmt *s, struct store_meter_ref **out,
                               size_t *n, size_t *cap)
{
    if (*n == *cap) {
        size_t grown = *cap ? *cap * 2 : 64;
        struct store_meter_ref *more = realloc(*out, grown * sizeof *more);
        if (more == NULL) {
            snprintf(st->errmsg, sizeof st->errmsg, "out of memory");
            return STORE_ERROR;
        }
        *out = more;
        *cap = grown;
    }
    struct store_meter_ref *r = &(*out)[*n];
    if (store_copy_text(st, s, 0, r->id, sizeof r->id) != STORE_OK ||
        store_copy_text(st, s, 1, r->serial, sizeof r->serial) != STORE_OK)
        return STORE_ERROR;
    r->passive = sqlite3_column_int(s, 2) != 0;
    r->dst_correction = sqlite3_column_int(s, 3) != 0;
    (*n)++;
    return STORE_OK;
}

int store_meters_select(struct store *st, enum store_meter_scope scope, const char *name,
                        struct store_meter_ref **out, size_t *n, bool *scope_found)
{
    static const char *const sql[] = {SQL_SELECT_ALL, SQL_SELECT_ESCO, SQL_SELECT_SITE};
    size_t cap = 0;
    *out = NULL;
    *n = 0;
    int rc = store_scope_exists(st, scope, name, scope_found);
    if (rc != STORE_OK || !*scope_found)
        return rc;
    sqlite3_stmt *s = store_prepare(st, sql[scope]);
    if (s == NULL)
        return STORE_ERROR;
    if (scope != STORE_SCOPE_ALL && sqlite3_bind_text(s, 1, name, -1, SQLITE_STATIC) != SQLITE_OK)
        return store_fail(st, SQLITE_ERROR, "bind");
    int step = SQLITE_DONE;
    rc = STORE_OK;
    while (rc == STORE_OK && (step = sqlite3_step(s)) == SQLITE_ROW)
        rc = store_meter_ref_add(st, s, out, n, &cap);
    if (rc == STORE_OK && step != SQLITE_DONE)
        rc = store_fail(st, step, "select meters");
    sqlite3_reset(s);
    if (rc != STORE_OK) {
        free(*out);
        *out = NULL;
        *n = 0;
    }
    return rc;
}
