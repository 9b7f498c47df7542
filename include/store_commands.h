/* store_commands.h — the store's side of the tariff workflow (SPEC §8, §10): commands sent to
 * meters (meter_commands), each meter's tariff schedule, and the meters a push selects.
 *
 * Part of the store interface (store.h): STORE_OK or a negative store_status, store_errmsg says
 * why. Writers run inside the caller's write transaction (store_begin); readers work inside or
 * outside one. Times are Unix seconds; output arrays are the caller's (or malloc'd, said so). */
#ifndef STORE_COMMANDS_H
#define STORE_COMMANDS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tariffs.h"

struct store;

#define STORE_COMMAND_ARGS_MAX 1024 /* bytes of a command's args (JSON text), NUL included */

/* ---- Commands ------------------------------------------------------------------------------ */

struct store_command {
    char id[37]; /* a UUID, the id published to the meter */
    char meter_id[37];
    char serial[65]; /* the meter's serial (for publishing) */
    int64_t version; /* the shadow version whose desired tariff it carries */
    struct tariffs_command state;
    char args[STORE_COMMAND_ARGS_MAX]; /* JSON text */
};

/* Creates a pending command (id minted here, state from tariffs_command_init at now) and fills
 * *out. args longer than STORE_COMMAND_ARGS_MAX - 1 bytes is STORE_ERROR, nothing written. */
int store_command_create(struct store *st, const char *meter_id, const char *command,
                         const char *args, int64_t version, int64_t now, struct store_command *out);

/* Loads the command id into *out (*found false, STORE_OK, when there is none). */
int store_command_find(struct store *st, const char *id, struct store_command *out, bool *found);

/* Stores c's state (status, attempts, attempt times) at now; reason (NULL: unchanged) says why a
 * command ended. */
int store_command_save(struct store *st, const struct store_command *c, const char *reason,
                       int64_t now);

/* Records the meter's answer ("ok" when ok, else "error", and its message, NULL for none). */
int store_command_answer(struct store *st, const char *id, bool ok, const char *message,
                         int64_t now);

/* Up to cap pending commands of meter_id, oldest first; *n is how many. */
int store_commands_pending(struct store *st, const char *meter_id, struct store_command *out,
                           size_t cap, size_t *n);

/* Up to cap pending commands whose next step is due at now, most overdue first (an indexed
 * lookup: cheap when nothing is due). */
int store_commands_due(struct store *st, int64_t now, struct store_command *out, size_t cap,
                       size_t *n);

/* The meter's most recently created command (*found false when it never had one). */
int store_command_latest(struct store *st, const char *meter_id, struct store_command *out,
                         bool *found);

/* ---- Tariff schedule: one row per meter with a desired future tariff ----------------------- */

enum store_tariff_stage {
    STORE_TARIFF_PUSHED = 0, /* set outside the service (shadowctl): the service has to act */
    STORE_TARIFF_SCHEDULED   /* the service acted; due_at is its next look (activation, overdue) */
};

struct store_tariff_due {
    char meter_id[37];
    char serial[65];
    enum store_tariff_stage stage;
    int64_t due_at;
};

/* Inserts or replaces the row of meter_id; due_at NULL: nothing due until it is set again. */
int store_tariff_schedule_set(struct store *st, const char *meter_id, enum store_tariff_stage stage,
                              const int64_t *due_at);
/* Deletes the row of meter_id, if any. */
int store_tariff_schedule_remove(struct store *st, const char *meter_id);
/* Up to cap rows due at now, most overdue first; *n is how many. */
int store_tariff_schedule_due(struct store *st, int64_t now, struct store_tariff_due *out,
                              size_t cap, size_t *n);

/* Sets meter_state.future_activation_at of meter_id (NULL clears it), creating the meter's state
 * row without a last_seen when it has none (so a meter never heard from is not taken offline). */
int store_tariff_activation_set(struct store *st, const char *meter_id, const int64_t *at);

/* ---- Selecting meters ---------------------------------------------------------------------- */

enum store_meter_scope { STORE_SCOPE_ALL = 0, STORE_SCOPE_ESCO, STORE_SCOPE_SITE };

struct store_meter_ref {
    char id[37];
    char serial[65];
    bool passive;
    bool dst_correction;
};

/* The meters of ESCO code name, of site name (through property and service head), or all, ordered
 * by serial: *out is malloc'd (NULL when *n is 0) and owned by the caller. *scope_found is false
 * when the named ESCO or site does not exist (then *n is 0). */
int store_meters_select(struct store *st, enum store_meter_scope scope, const char *name,
                        struct store_meter_ref **out, size_t *n, bool *scope_found);

#endif
