/* tariffs.h — the tariff workflow's rules (SPEC §8): when a future tariff takes effect, the life
 * of a command that pushes it to a meter, a meter's answer, and where each meter stands.
 *
 * Pure: no I/O, no clock. Times are Unix seconds (UTC) passed in by the caller; a tariff's
 * activation_datetime is meter clock time, held as naive seconds (struct tariff, fields.h). */
#ifndef TARIFFS_H
#define TARIFFS_H

#include <stdbool.h>
#include <stdint.h>

#include "api_error.h"
#include "fields.h"
#include "tzone.h"

struct cJSON;

#define TARIFFS_COMMAND_WRITE "tariffs_future_write" /* the only command so far */
#define TARIFFS_SOON_S (7 * 86400)                   /* `Activating soon`: under a week away */
#define TARIFFS_ID_MAX 64                            /* bytes of a command id on the wire */
#define TARIFFS_MESSAGE_MAX 1024                     /* bytes of a result's message */

/* --- Activation --- */

/* The UTC instant of t's activation_datetime: read in Europe/London (london) when the meter has
 * daylight_savings_correction_enabled, else as UTC. A time skipped by the spring change counts
 * from when the clock reaches it; one that occurs twice in autumn is the first. Returns 0 with
 * *at, or -1 (*at untouched) when t has no activation or it is out of the zone's range. */
int tariffs_activation_at(const struct tariff *t, bool dst_correction, const struct tzone *london,
                          int64_t *at);

/* A desired future tariff must take effect after now. Returns 0, or -1 with 400
 * `Invalid field: tariffs_future.activation_datetime (must be in the future)`. */
int tariffs_check_future(const struct tariff *t, bool dst_correction, const struct tzone *london,
                         int64_t now, struct api_error *err);

/* True when tariff_overdue is due: the instant passed by more than retry_s. */
bool tariffs_overdue(int64_t activation_at, int64_t now, long retry_s);

/* --- Commands: pending → confirmed | failed --- */

enum tariffs_command_status {
    TARIFFS_COMMAND_PENDING = 0,
    TARIFFS_COMMAND_CONFIRMED,
    TARIFFS_COMMAND_FAILED
};

struct tariffs_command {
    enum tariffs_command_status status;
    int attempts;            /* publications so far */
    int64_t last_attempt_at; /* 0 before the first */
    int64_t next_at;         /* pending: when the next step is due (send, or give up) */
};

enum tariffs_step {
    TARIFFS_STEP_WAIT = 0, /* nothing to do yet (or the command has ended) */
    TARIFFS_STEP_SEND,     /* publish attempt attempts + 1 */
    TARIFFS_STEP_EXPIRE    /* no answer retry_s after the last allowed attempt: failed */
};

/* "pending", "confirmed", "failed"; NULL outside the enum. */
const char *tariffs_command_status_name(enum tariffs_command_status s);
/* The status named by text. Returns 0, or -1 for any other text (*s untouched). */
int tariffs_command_status_parse(const char *text, enum tariffs_command_status *s);

/* A new command: pending, no attempt yet, its first attempt due at now. */
void tariffs_command_init(struct tariffs_command *c, int64_t now);
/* What is due at now for a command allowed max_attempts publications. A step is due from its
 * time on, so a command that fell due while the service was down acts at once, and only once. */
enum tariffs_step tariffs_command_step(const struct tariffs_command *c, int64_t now,
                                       long max_attempts);
/* Records a publication at now: one more attempt, the next step retry_s later. */
void tariffs_command_sent(struct tariffs_command *c, int64_t now, long retry_s);
/* Ends a pending command as to (confirmed or failed). Returns true when it was pending; an ended
 * command never changes again (false, untouched). */
bool tariffs_command_end(struct tariffs_command *c, enum tariffs_command_status to);

/* The message published on meters/{serial}/commands:
 * {"id":…,"command":…,"version":N,"attempt":k,"args":{…}}. args is copied. New tree owned by
 * the caller, NULL on allocation failure. */
struct cJSON *tariffs_command_message(const char *id, const char *command, int64_t version,
                                      int attempt, const struct cJSON *args);

/* --- A meter's answer on meters/{serial}/commands/result --- */

struct tariffs_result {
    const char *id;      /* borrowed from the payload */
    bool ok;             /* "ok"; false for "error" */
    const char *message; /* borrowed; NULL when absent or null */
};

/* Validates {"id":S,"status":"ok"|"error","message":S?} (other members ignored): id a string of
 * 1–64 bytes, message at most 1024 bytes. Returns 0 with *out borrowing from root, or -1 with 400
 * `Invalid field: NAME (why)`. */
int tariffs_result_parse(const struct cJSON *root, struct tariffs_result *out,
                         struct api_error *err);

/* --- Where a meter stands (`shadowctl tariff status`) --- */

enum tariffs_status {
    TARIFFS_NO_FUTURE = 0,
    TARIFFS_FAILED,
    TARIFFS_PENDING_PUSH,
    TARIFFS_OVERDUE,
    TARIFFS_ACTIVATING_SOON,
    TARIFFS_CONFIRMED,
    TARIFFS_STATUS_COUNT
};

struct tariffs_status_input {
    bool has_future;       /* desired.tariffs_future is set */
    bool passive;          /* no commands: the service activates it itself */
    bool reported_matches; /* the meter reports that very tariff as its future one */
    bool has_command;      /* a command carries that tariff (the meter's latest command) */
    enum tariffs_command_status command; /* its status, when has_command */
    int64_t activation_at;               /* the instant, when has_future */
};

/* The first that applies: `No future tariff`; `Failed` (its command failed and the meter does not
 * report it); `Pending push` (an active meter whose command is pending or not created yet);
 * `Overdue activation` (the instant has passed, yet it is still desired); `Activating soon` (less
 * than TARIFFS_SOON_S away); `Confirmed`. */
enum tariffs_status tariffs_status_of(const struct tariffs_status_input *in, int64_t now);
/* The label above; NULL outside the enum. */
const char *tariffs_status_name(enum tariffs_status s);

#endif
