/* ctl_tariff.c — `shadowctl tariff push|status` (SPEC §8).
 *
 * push sets desired.tariffs_future of every selected meter directly in the database, in one
 * transaction, exactly as a desired update on MQTT would change the document (merge, metadata,
 * version). It also marks each meter's tariff schedule `pushed`: a running shadowd looks for due
 * schedule rows every tick, so it creates and sends the commands within a second, and one that is
 * stopped does it when it starts. status reads the same documents and meter_commands and applies
 * the status rules of tariffs.h to each meter. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "ctl.h"
#include "isotime.h"
#include "shadow.h"
#include "store.h"
#include "tariffs.h"

#define CTL_TARIFF_FILE_MAX 65536 /* a tariff object is a few hundred bytes */

/* The arguments of `tariff push` and `tariff status`. */
struct ctl_tariff_args {
    enum store_meter_scope scope;
    const char *name; /* the ESCO code or site name */
    const char *file; /* push only */
};

/* ---- Arguments ----------------------------------------------------------------------------- */

static void ctl_tariff_help(void)
{
    printf("usage: shadowctl [--db PATH] tariff push (--esco CODE | --site NAME) [--json] FILE\n"
           "       shadowctl [--db PATH] tariff status [--esco CODE | --site NAME] [--json]\n"
           "push sets desired.tariffs_future of every meter of the ESCO or site (passive ones\n"
           "included) to the tariff object in FILE (- for stdin); a running shadowd sends the\n"
           "commands within a second. status lists every selected meter (all when none is\n"
           "named) with the first status that applies: No future tariff, Failed, Pending push,\n"
           "Overdue activation, Activating soon (under 7 days), Confirmed; then the counts.\n");
}

/* Takes the value of --esco/--site at argv[*i] (also `--esco=CODE`). Returns 1 when argv[*i] was
 * one of them, 0 when not, -1 after a bad usage was printed. */
static int ctl_tariff_scope(struct ctl_tariff_args *a, int argc, char **argv, int *i)
{
    static const char *const flags[] = {"--esco", "--site"};
    for (int f = 0; f < 2; f++) {
        size_t len = strlen(flags[f]);
        const char *value = NULL;
        if (strcmp(argv[*i], flags[f]) == 0 && *i + 1 < argc)
            value = argv[++*i];
        else if (strncmp(argv[*i], flags[f], len) == 0 && argv[*i][len] == '=')
            value = argv[*i] + len + 1;
        else if (strcmp(argv[*i], flags[f]) != 0)
            continue;
        if (value == NULL || value[0] == '\0' || a->scope != STORE_SCOPE_ALL) {
            ctl_bad_usage("tariff: give one --esco CODE or --site NAME");
            return -1;
        }
        a->scope = f == 0 ? STORE_SCOPE_ESCO : STORE_SCOPE_SITE;
        a->name = value;
        return 1;
    }
    return 0;
}

/* Parses argv after push/status. Returns 0, CTL_USAGE (printed) or -1 (help printed). */
static int ctl_tariff_parse_args(struct ctl *ctl, int argc, char **argv, bool push,
                                 struct ctl_tariff_args *a)
{
    bool options = true;
    memset(a, 0, sizeof *a);
    for (int i = 1; i < argc; i++) {
        int scope = options ? ctl_tariff_scope(a, argc, argv, &i) : 0;
        if (scope < 0)
            return CTL_USAGE;
        if (scope > 0)
            continue;
        if (options && strcmp(argv[i], "--") == 0) {
            options = false;
        } else if (options && strcmp(argv[i], "--json") == 0) {
            ctl->json = true;
        } else if (options && strcmp(argv[i], "--help") == 0) {
            ctl_tariff_help();
            return -1;
        } else if (options && argv[i][0] == '-' && argv[i][1] != '\0') {
            return ctl_bad_usage("tariff: unknown option '%s'", argv[i]);
        } else if (!push || a->file != NULL) {
            return ctl_bad_usage("tariff: unexpected argument '%s'", argv[i]);
        } else {
            a->file = argv[i];
        }
    }
    if (push && (a->scope == STORE_SCOPE_ALL || a->file == NULL))
        return ctl_bad_usage("tariff push: --esco CODE or --site NAME, and FILE, are required");
    return 0;
}

/* ---- Shared -------------------------------------------------------------------------------- */

/* Reads the tariff object of path ("-": stdin). Returns 0 with *t, or -1 (printed). */
static int ctl_tariff_read(const char *path, struct tariff *t)
{
    static char buf[CTL_TARIFF_FILE_MAX + 1];
    struct api_error err;
    bool is_stdin = strcmp(path, "-") == 0;
    FILE *f = is_stdin ? stdin : fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "shadowctl: %s: %s\n", path, strerror(errno));
        return -1;
    }
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    bool failed = ferror(f) != 0, too_large = !failed && fgetc(f) != EOF;
    if (failed)
        fprintf(stderr, "shadowctl: %s: %s\n", path, strerror(errno));
    if (!is_stdin)
        fclose(f);
    if (failed || too_large) {
        if (too_large)
            fprintf(stderr, "shadowctl: %s: file too large for a tariff\n", path);
        return -1;
    }
    buf[n] = '\0';
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithOpts(buf, &end, true);
    int rc = root ? tariff_parse(root, true, t, &err) : api_error_set(&err, 400, "Invalid JSON");
    cJSON_Delete(root);
    if (rc != 0)
        fprintf(stderr, "shadowctl: %s: %s\n", path, err.message);
    return rc;
}

/* The selected meters (printed error and -1 when the ESCO or site does not exist). */
static int ctl_tariff_select(struct store *st, const struct ctl_tariff_args *a,
                             struct store_meter_ref **meters, size_t *n)
{
    bool found = false;
    if (store_meters_select(st, a->scope, a->name, meters, n, &found) != STORE_OK) {
        fprintf(stderr, "shadowctl: reading the registry: %s\n", store_errmsg(st));
        return -1;
    }
    if (!found) {
        fprintf(stderr, "shadowctl: no %s named '%s'\n",
                a->scope == STORE_SCOPE_ESCO ? "ESCO" : "site", a->name);
        return -1;
    }
    return 0;
}

/* Loads serial's document as the service does: a soft-deleted one is absent at its version. */
static int ctl_tariff_load(struct store *st, const char *serial, struct shadow_doc *doc)
{
    struct store_shadow row;
    shadow_doc_init(doc);
    if (store_shadow_load(st, serial, &row) != STORE_OK) {
        fprintf(stderr, "shadowctl: reading %s: %s\n", serial, store_errmsg(st));
        return -1;
    }
    int rc = row.found && !row.deleted ? shadow_doc_from_json(row.document, doc) : 0;
    if (rc != 0)
        fprintf(stderr, "shadowctl: the stored document of %s is unreadable\n", serial);
    doc->version = row.version;
    doc->exists = row.found && !row.deleted && rc == 0;
    store_shadow_free(&row);
    return rc;
}

/* ---- push ---------------------------------------------------------------------------------- */

struct ctl_pushed {
    int64_t version;
    bool changed;
    int64_t activation_at;
};

/* Every meter's activation must lie ahead; prints each one that does not. */
static int ctl_tariff_check_all(const struct tariff *t, const struct tzone *london,
                                const struct store_meter_ref *meters, size_t n, int64_t now,
                                struct ctl_pushed *out)
{
    struct api_error err = {0, ""};
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        if (tariffs_check_future(t, meters[i].dst_correction, london, now, &err) != 0 ||
            tariffs_activation_at(t, meters[i].dst_correction, london, &out[i].activation_at) !=
                0) {
            fprintf(stderr, "shadowctl: %s: %s\n", meters[i].serial, err.message);
            rc = -1;
        }
    }
    return rc;
}

/* Sets desired.tariffs_future of one meter as a desired update would, inside the transaction. */
static int ctl_tariff_push_one(struct store *st, const struct store_meter_ref *meter,
                               const cJSON *patch, int64_t now, struct ctl_pushed *out)
{
    struct shadow_doc doc;
    if (ctl_tariff_load(st, meter->serial, &doc) != 0)
        return -1;
    int rc = shadow_apply(&doc, SHADOW_DESIRED, patch, now, false, &out->changed);
    char *text = NULL;
    if (rc == 0 && out->changed) {
        doc.version++;
        doc.exists = true;
        doc.timestamp = now;
        cJSON *json = shadow_doc_to_json(&doc, false);
        text = json ? cJSON_PrintUnformatted(json) : NULL;
        cJSON_Delete(json);
        rc = text && store_shadow_save(st, meter->serial, text, doc.version, false, now) == STORE_OK
                 ? 0
                 : -1;
    }
    out->version = doc.version;
    free(text);
    shadow_doc_clear(&doc);
    /* Marked even when unchanged: pushing again is how an operator retries a failed push. */
    if (rc == 0 &&
        (store_tariff_schedule_set(st, meter->id, STORE_TARIFF_PUSHED, &now) != STORE_OK ||
         store_tariff_activation_set(st, meter->id, &out->activation_at) != STORE_OK))
        rc = -1;
    return rc;
}

static int ctl_tariff_push_all(struct store *st, const struct tariff *t,
                               const struct store_meter_ref *meters, size_t n, int64_t now,
                               struct ctl_pushed *out)
{
    cJSON *patch = cJSON_CreateObject();
    int rc = patch && cJSON_AddItemToObject(patch, "tariffs_future", tariff_to_json(t, true)) &&
                     store_begin(st) == STORE_OK
                 ? 0
                 : -1;
    for (size_t i = 0; rc == 0 && i < n; i++)
        rc = ctl_tariff_push_one(st, &meters[i], patch, now, &out[i]);
    cJSON_Delete(patch);
    if (rc == 0 && store_commit(st) == STORE_OK)
        return 0;
    fprintf(stderr, "shadowctl: push failed, nothing was changed: %s\n", store_errmsg(st));
    store_rollback(st);
    return -1;
}

static cJSON *ctl_tariff_pushed_json(const struct store_meter_ref *meters, size_t n,
                                     const struct ctl_pushed *pushed, size_t changed)
{
    char at[ISOTIME_LEN];
    cJSON *root = cJSON_CreateObject();
    cJSON *list = root ? cJSON_AddArrayToObject(root, "meters") : NULL;
    bool ok = list != NULL && cJSON_AddNumberToObject(root, "pushed", (double)n) &&
              cJSON_AddNumberToObject(root, "changed", (double)changed);
    for (size_t i = 0; ok && i < n; i++) {
        cJSON *o = cJSON_CreateObject();
        ok = cJSON_AddItemToArray(list, o) &&
             cJSON_AddStringToObject(o, "serial", meters[i].serial) &&
             cJSON_AddNumberToObject(o, "version", (double)pushed[i].version) &&
             cJSON_AddBoolToObject(o, "changed", pushed[i].changed) &&
             cJSON_AddStringToObject(o, "activation_at",
                                     isotime_format(pushed[i].activation_at, at));
    }
    if (!ok) {
        cJSON_Delete(root);
        return NULL;
    }
    return root;
}

static int ctl_tariff_print_push(const struct ctl *ctl, const struct store_meter_ref *meters,
                                 size_t n, const struct ctl_pushed *pushed)
{
    char at[ISOTIME_LEN];
    size_t changed = 0;
    for (size_t i = 0; i < n; i++)
        changed += pushed[i].changed;
    if (ctl->json) {
        cJSON *root = ctl_tariff_pushed_json(meters, n, pushed, changed);
        char *text = root ? cJSON_PrintUnformatted(root) : NULL;
        cJSON_Delete(root);
        if (text == NULL) {
            fprintf(stderr, "shadowctl: out of memory\n");
            return -1;
        }
        printf("%s\n", text);
        free(text);
        return 0;
    }
    printf("%-16s %8s  %-20s %s\n", "serial", "version", "activation_at", "change");
    for (size_t i = 0; i < n; i++)
        printf("%-16s %8lld  %-20s %s\n", meters[i].serial, (long long)pushed[i].version,
               isotime_format(pushed[i].activation_at, at),
               pushed[i].changed ? "desired set" : "unchanged");
    printf("pushed to %zu meter%s (%zu changed)\n", n, n == 1 ? "" : "s", changed);
    return 0;
}

static int ctl_tariff_push(struct ctl *ctl, const struct ctl_tariff_args *a,
                           const struct tzone *london)
{
    struct tariff t;
    struct store *st = NULL;
    struct store_meter_ref *meters = NULL;
    struct ctl_pushed *pushed = NULL;
    size_t n = 0;
    int64_t now = (int64_t)time(NULL);
    int rc = CTL_FAILURE;
    if (ctl_tariff_read(a->file, &t) != 0 || ctl_open(ctl, &st) != 0 ||
        ctl_tariff_select(st, a, &meters, &n) != 0)
        goto done;
    pushed = calloc(n ? n : 1, sizeof *pushed);
    if (pushed == NULL) {
        fprintf(stderr, "shadowctl: out of memory\n");
        goto done;
    }
    if (ctl_tariff_check_all(&t, london, meters, n, now, pushed) != 0) {
        fprintf(stderr, "shadowctl: %s: refused, nothing was changed\n", a->file);
        goto done;
    }
    if (ctl_tariff_push_all(st, &t, meters, n, now, pushed) == 0 &&
        ctl_tariff_print_push(ctl, meters, n, pushed) == 0)
        rc = CTL_OK;
done:
    free(pushed);
    free(meters);
    store_close(st);
    return rc;
}

/* ---- status -------------------------------------------------------------------------------- */

struct ctl_meter_status {
    enum tariffs_status status;
    bool has_activation;
    int64_t activation_at;
    bool has_command;
    struct store_command command; /* the latest command, when has_command */
};

/* Gathers what the status rules need about one meter. */
static int ctl_tariff_meter_status(struct store *st, const struct tzone *london,
                                   const struct store_meter_ref *meter, int64_t now,
                                   struct ctl_meter_status *out)
{
    struct tariffs_status_input in = {.passive = meter->passive};
    struct shadow_doc doc;
    struct api_error err;
    struct tariff want, held;
    memset(out, 0, sizeof *out);
    if (ctl_tariff_load(st, meter->serial, &doc) != 0)
        return -1;
    const cJSON *desired =
        cJSON_GetObjectItemCaseSensitive(doc.state[SHADOW_DESIRED], "tariffs_future");
    const cJSON *reported =
        cJSON_GetObjectItemCaseSensitive(doc.state[SHADOW_REPORTED], "tariffs_future");
    in.has_future =
        desired != NULL && tariff_parse(desired, true, &want, &err) == 0 &&
        tariffs_activation_at(&want, meter->dst_correction, london, &in.activation_at) == 0;
    in.reported_matches = in.has_future && reported != NULL &&
                          tariff_parse(reported, true, &held, &err) == 0 &&
                          tariff_equal(&held, &want);
    shadow_doc_clear(&doc);
    if (store_command_latest(st, meter->id, &out->command, &out->has_command) != STORE_OK) {
        fprintf(stderr, "shadowctl: reading commands of %s: %s\n", meter->serial, store_errmsg(st));
        return -1;
    }
    if (in.has_future && out->has_command) {
        cJSON *json = tariff_to_json(&want, true);
        char *args = json ? cJSON_PrintUnformatted(json) : NULL;
        cJSON_Delete(json);
        in.has_command = args != NULL && strcmp(args, out->command.args) == 0;
        in.command = out->command.state.status;
        free(args);
    }
    out->status = tariffs_status_of(&in, now);
    out->has_activation = in.has_future;
    out->activation_at = in.activation_at;
    return 0;
}

static cJSON *ctl_tariff_status_json(const struct store_meter_ref *meter,
                                     const struct ctl_meter_status *s)
{
    cJSON *o = cJSON_CreateObject();
    if (o == NULL)
        return NULL;
    cJSON_AddStringToObject(o, "serial", meter->serial);
    cJSON_AddStringToObject(o, "mode", meter->passive ? "passive" : "active");
    cJSON_AddStringToObject(o, "status", tariffs_status_name(s->status));
    if (s->has_activation)
        isotime_add_to_json(o, "activation_at", s->activation_at);
    else
        cJSON_AddNullToObject(o, "activation_at");
    cJSON *c = s->has_command ? cJSON_AddObjectToObject(o, "command")
                              : cJSON_AddNullToObject(o, "command");
    if (s->has_command && c != NULL) {
        cJSON_AddStringToObject(c, "id", s->command.id);
        cJSON_AddStringToObject(c, "status", tariffs_command_status_name(s->command.state.status));
        cJSON_AddNumberToObject(c, "attempts", s->command.state.attempts);
    }
    return o;
}

static void ctl_tariff_status_line(const struct store_meter_ref *meter,
                                   const struct ctl_meter_status *s)
{
    char at[ISOTIME_LEN];
    printf("%-16s %-8s %-20s %s\n", meter->serial, meter->passive ? "passive" : "active",
           tariffs_status_name(s->status),
           s->has_activation ? isotime_format(s->activation_at, at) : "-");
}

/* Prints every meter and the counts per status. Returns 0 or -1 (printed). */
static int ctl_tariff_print_status(const struct ctl *ctl, struct store *st,
                                   const struct tzone *london, const struct store_meter_ref *meters,
                                   size_t n, int64_t now)
{
    size_t counts[TARIFFS_STATUS_COUNT] = {0};
    cJSON *root = ctl->json ? cJSON_CreateObject() : NULL;
    cJSON *list = root ? cJSON_AddArrayToObject(root, "meters") : NULL;
    if (ctl->json && list == NULL)
        goto oom;
    if (!ctl->json)
        printf("%-16s %-8s %-20s %s\n", "serial", "mode", "status", "activation_at");
    for (size_t i = 0; i < n; i++) {
        struct ctl_meter_status s;
        if (ctl_tariff_meter_status(st, london, &meters[i], now, &s) != 0) {
            cJSON_Delete(root);
            return -1;
        }
        counts[s.status]++;
        if (!ctl->json)
            ctl_tariff_status_line(&meters[i], &s);
        else if (!cJSON_AddItemToArray(list, ctl_tariff_status_json(&meters[i], &s)))
            goto oom;
    }
    cJSON *totals = root ? cJSON_AddObjectToObject(root, "counts") : NULL;
    if (!ctl->json)
        printf("\n");
    for (int k = 0; k < TARIFFS_STATUS_COUNT; k++) {
        const char *name = tariffs_status_name((enum tariffs_status)k);
        if (!ctl->json)
            printf("%-20s %zu\n", name, counts[k]);
        else if (totals == NULL || !cJSON_AddNumberToObject(totals, name, (double)counts[k]))
            goto oom;
    }
    if (!ctl->json)
        return 0;
    char *text = cJSON_PrintUnformatted(root);
    cJSON_Delete(root);
    root = NULL;
    if (text == NULL)
        goto oom;
    printf("%s\n", text);
    free(text);
    return 0;
oom:
    cJSON_Delete(root);
    fprintf(stderr, "shadowctl: out of memory\n");
    return -1;
}

static int ctl_tariff_status(struct ctl *ctl, const struct ctl_tariff_args *a,
                             const struct tzone *london)
{
    struct store *st = NULL;
    struct store_meter_ref *meters = NULL;
    size_t n = 0;
    int rc = CTL_FAILURE;
    if (ctl_open(ctl, &st) == 0 && ctl_tariff_select(st, a, &meters, &n) == 0 &&
        ctl_tariff_print_status(ctl, st, london, meters, n, (int64_t)time(NULL)) == 0)
        rc = CTL_OK;
    free(meters);
    store_close(st);
    return rc;
}

/* ---- Entry --------------------------------------------------------------------------------- */

int ctl_tariff(struct ctl *ctl, int argc, char **argv)
{
    static struct tzone london; /* about 12 KiB: not on the stack */
    struct ctl_tariff_args args;
    if (argc >= 2 && strcmp(argv[1], "--help") == 0) {
        ctl_tariff_help();
        return ctl_flush(CTL_OK);
    }
    bool push = argc >= 2 && strcmp(argv[1], "push") == 0;
    if (argc < 2 || (!push && strcmp(argv[1], "status") != 0))
        return ctl_bad_usage("tariff: push or status is required");
    int parsed = ctl_tariff_parse_args(ctl, argc - 1, argv + 1, push, &args);
    if (parsed != 0)
        return parsed < 0 ? ctl_flush(CTL_OK) : parsed;
    if (tzone_load("Europe/London", &london) != 0) {
        fprintf(stderr, "shadowctl: cannot load the time zone Europe/London\n");
        return CTL_FAILURE;
    }
    return ctl_flush(push ? ctl_tariff_push(ctl, &args, &london)
                          : ctl_tariff_status(ctl, &args, &london));
}
