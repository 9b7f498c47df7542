/* tariffs.c — the tariff workflow's rules (SPEC §8), apart from any store or broker.
 *
 * A command is a small state machine driven by the clock the caller passes in: pending with a
 * due time, then confirmed or failed, never back. Keeping "what is due" as one stored instant per
 * command (next_at) lets the service find work with one indexed query and makes a restart
 * harmless: whatever fell due while it was down is simply due now, and happens once. */
#include "tariffs.h"

#include <cjson/cJSON.h>
#include <string.h>

/* ---- Activation ---------------------------------------------------------------------------- */

int tariffs_activation_at(const struct tariff *t, bool dst_correction, const struct tzone *london,
                          int64_t *at)
{
    if (!t->has_activation)
        return -1;
    if (!dst_correction) {
        *at = t->activation; /* meter clock time is UTC */
        return 0;
    }
    return tzone_local_to_utc(london, t->activation, at);
}

int tariffs_check_future(const struct tariff *t, bool dst_correction, const struct tzone *london,
                         int64_t now, struct api_error *err)
{
    int64_t at = 0;
    if (tariffs_activation_at(t, dst_correction, london, &at) != 0 || at <= now)
        return api_error_set(err, 400,
                             "Invalid field: tariffs_future.activation_datetime (must be in the "
                             "future)");
    return 0;
}

bool tariffs_overdue(int64_t activation_at, int64_t now, long retry_s)
{
    return now - activation_at > (int64_t)retry_s;
}

/* ---- Commands ------------------------------------------------------------------------------ */

static const char *const COMMAND_STATUS_NAMES[] = {
    [TARIFFS_COMMAND_PENDING] = "pending",
    [TARIFFS_COMMAND_CONFIRMED] = "confirmed",
    [TARIFFS_COMMAND_FAILED] = "failed",
};

#define COMMAND_STATUS_COUNT (sizeof COMMAND_STATUS_NAMES / sizeof COMMAND_STATUS_NAMES[0])

const char *tariffs_command_status_name(enum tariffs_command_status s)
{
    return (unsigned)s < COMMAND_STATUS_COUNT ? COMMAND_STATUS_NAMES[s] : NULL;
}

int tariffs_command_status_parse(const char *text, enum tariffs_command_status *s)
{
    for (size_t i = 0; i < COMMAND_STATUS_COUNT; i++) {
        if (strcmp(text, COMMAND_STATUS_NAMES[i]) == 0) {
            *s = (enum tariffs_command_status)i;
            return 0;
        }
    }
    return -1;
}

void tariffs_command_init(struct tariffs_command *c, int64_t now)
{
    c->status = TARIFFS_COMMAND_PENDING;
    c->attempts = 0;
    c->last_attempt_at = 0;
    c->next_at = now;
}

enum tariffs_step tariffs_command_step(const struct tariffs_command *c, int64_t now,
                                       long max_attempts)
{
    if (c->status != TARIFFS_COMMAND_PENDING || now < c->next_at)
        return TARIFFS_STEP_WAIT;
    return c->attempts < max_attempts ? TARIFFS_STEP_SEND : TARIFFS_STEP_EXPIRE;
}

void tariffs_command_sent(struct tariffs_command *c, int64_t now, long retry_s)
{
    c->attempts++;
    c->last_attempt_at = now;
    c->next_at = now + retry_s;
}

bool tariffs_command_end(struct tariffs_command *c, enum tariffs_command_status to)
{
    if (c->status != TARIFFS_COMMAND_PENDING || to == TARIFFS_COMMAND_PENDING)
        return false;
    c->status = to;
    return true;
}

cJSON *tariffs_command_message(const char *id, const char *command, int64_t version, int attempt,
                               const cJSON *args)
{
    cJSON *msg = cJSON_CreateObject();
    cJSON *copy = cJSON_Duplicate(args, true);
    if (msg == NULL || copy == NULL || cJSON_AddStringToObject(msg, "id", id) == NULL ||
        cJSON_AddStringToObject(msg, "command", command) == NULL ||
        cJSON_AddNumberToObject(msg, "version", (double)version) == NULL ||
        cJSON_AddNumberToObject(msg, "attempt", attempt) == NULL) {
        cJSON_Delete(msg);
        cJSON_Delete(copy);
        return NULL;
    }
    cJSON_AddItemToObject(msg, "args", copy);
    return msg;
}

/* ---- Results ------------------------------------------------------------------------------- */

int tariffs_result_parse(const cJSON *root, struct tariffs_result *out, struct api_error *err)
{
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(root, "id");
    const cJSON *status = cJSON_GetObjectItemCaseSensitive(root, "status");
    const cJSON *message = cJSON_GetObjectItemCaseSensitive(root, "message");
    if (!cJSON_IsString(id) || id->valuestring[0] == '\0' ||
        strlen(id->valuestring) > TARIFFS_ID_MAX)
        return api_error_set(err, 400, "Invalid field: id (must be a string of 1 to %d bytes)",
                             TARIFFS_ID_MAX);
    if (!cJSON_IsString(status) ||
        (strcmp(status->valuestring, "ok") != 0 && strcmp(status->valuestring, "error") != 0))
        return api_error_set(err, 400, "Invalid field: status (must be \"ok\" or \"error\")");
    if (message != NULL && !cJSON_IsNull(message) &&
        (!cJSON_IsString(message) || strlen(message->valuestring) > TARIFFS_MESSAGE_MAX))
        return api_error_set(err, 400,
                             "Invalid field: message (must be a string of at most %d "
                             "bytes)",
                             TARIFFS_MESSAGE_MAX);
    out->id = id->valuestring;
    out->ok = strcmp(status->valuestring, "ok") == 0;
    out->message = cJSON_IsString(message) ? message->valuestring : NULL;
    return 0;
}

/* ---- Status -------------------------------------------------------------------------------- */

static const char *const STATUS_NAMES[TARIFFS_STATUS_COUNT] = {
    [TARIFFS_NO_FUTURE] = "No future tariff",      [TARIFFS_FAILED] = "Failed",
    [TARIFFS_PENDING_PUSH] = "Pending push",       [TARIFFS_OVERDUE] = "Overdue activation",
    [TARIFFS_ACTIVATING_SOON] = "Activating soon", [TARIFFS_CONFIRMED] = "Confirmed",
};

const char *tariffs_status_name(enum tariffs_status s)
{
    return (unsigned)s < TARIFFS_STATUS_COUNT ? STATUS_NAMES[s] : NULL;
}

enum tariffs_status tariffs_status_of(const struct tariffs_status_input *in, int64_t now)
{
    if (!in->has_future)
        return TARIFFS_NO_FUTURE;
    /* The meter holding the tariff settles the push whatever its command's fate; a passive meter
     * needs no push at all. */
    bool settled = in->passive || in->reported_matches ||
                   (in->has_command && in->command == TARIFFS_COMMAND_CONFIRMED);
    if (!settled && in->has_command && in->command == TARIFFS_COMMAND_FAILED)
        return TARIFFS_FAILED;
    if (!settled)
        return TARIFFS_PENDING_PUSH;
    if (now > in->activation_at)
        return TARIFFS_OVERDUE;
    if (in->activation_at - now < TARIFFS_SOON_S)
        return TARIFFS_ACTIVATING_SOON;
    return TARIFFS_CONFIRMED;
}
