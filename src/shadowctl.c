/* shadowctl.c — the operator's command line (SPEC §12): `shadowctl [--db PATH] COMMAND …`.
 *
 * A table of commands, each one function that parses its own arguments and returns the exit
 * code, so a new command is one row and one function. Everything a command prints is printed
 * here, once: results on stdout (a human table, or JSON with --json), errors on stderr as
 * `shadowctl: …`. Exit codes: 0 ok, 1 failure (a refused file, a database error), 2 bad usage.
 *
 * The database is the one shadowd uses (--db, else $SHADOWD_DB, else ./shadow.db); opening it
 * applies pending migrations, so `shadowctl import` may be the first to create it. */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "ctl.h"
#include "registry.h"
#include "store.h"
#include "store_registry.h"
#include "version.h"

#define CTL_FILE_MAX (256u << 20) /* a topology file larger than this is a mistake */

static int ctl_import(struct ctl *ctl, int argc, char **argv);

static const struct ctl_command ctl_commands[] = {
    {"import", "[--json] FILE",
     "load the fleet topology in FILE (- for stdin): an upsert by natural keys", ctl_import},
    {"tariff", "push --esco CODE|--site NAME FILE | status [--esco CODE|--site NAME] [--json]",
     "push a future tariff to a fleet, or show where each meter stands", ctl_tariff},
};

#define CTL_COMMAND_COUNT (sizeof ctl_commands / sizeof ctl_commands[0])

/* ---- Usage --------------------------------------------------------------------------------- */

static void ctl_usage_line(FILE *out)
{
    fprintf(out, "usage: shadowctl [--db PATH] [--json] COMMAND [ARGS...]\n");
}

static void ctl_help(void)
{
    ctl_usage_line(stdout);
    printf("\nCommands:\n");
    for (size_t i = 0; i < CTL_COMMAND_COUNT; i++)
        printf("  %s %-16s %s\n", ctl_commands[i].name, ctl_commands[i].args,
               ctl_commands[i].summary);
    printf("\nOptions:\n"
           "  --db PATH   the database (default: $SHADOWD_DB, else " CTL_DEFAULT_DB ")\n"
           "  --json      results as one JSON object instead of a table\n"
           "  --help      this text; `shadowctl COMMAND --help` for one command\n"
           "  --version   the program's version\n"
           "\nExit codes: 0 ok, 1 failure, 2 bad usage.\n");
}

/* Bad usage: one line saying why, the usage line, exit code 2. */
int ctl_bad_usage(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("shadowctl: ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    ctl_usage_line(stderr);
    return CTL_USAGE;
}

/* Flushes stdout; a result that could not be written is a failure, reported once. */
int ctl_flush(int rc)
{
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "shadowctl: writing the output: %s\n", strerror(errno));
        return CTL_FAILURE;
    }
    return rc;
}

/* ---- Import -------------------------------------------------------------------------------- */

/* Reads all of path ("-": stdin) into a malloc'd buffer owned by the caller. Prints the error. */
static int ctl_read_file(const char *path, char **text, size_t *len)
{
    bool is_stdin = strcmp(path, "-") == 0;
    FILE *f = is_stdin ? stdin : fopen(path, "rb");
    size_t cap = 0, n = 0;
    char *buf = NULL;
    if (f == NULL) {
        fprintf(stderr, "shadowctl: %s: %s\n", path, strerror(errno));
        return -1;
    }
    for (;;) {
        if (n == cap) {
            char *grown = cap < CTL_FILE_MAX ? realloc(buf, cap ? cap * 2 : 65536) : NULL;
            if (grown == NULL) {
                fprintf(stderr, "shadowctl: %s: %s\n", path,
                        cap < CTL_FILE_MAX ? "out of memory" : "file too large");
                break;
            }
            buf = grown;
            cap = cap ? cap * 2 : 65536;
        }
        n += fread(buf + n, 1, cap - n, f);
        if (feof(f) || ferror(f))
            break;
    }
    bool ok = n < cap && !ferror(f);
    if (ferror(f))
        fprintf(stderr, "shadowctl: %s: %s\n", path, strerror(errno));
    if (!is_stdin && fclose(f) != 0 && ok) {
        fprintf(stderr, "shadowctl: %s: %s\n", path, strerror(errno));
        ok = false;
    }
    if (!ok) {
        free(buf);
        return -1;
    }
    *text = buf;
    *len = n;
    return 0;
}

/* A counter line on stderr, rewritten in place, while a long import runs at a terminal. */
struct ctl_progress {
    bool shown;
};

static void ctl_progress(void *ctx, size_t done, size_t total)
{
    struct ctl_progress *p = ctx;
    fprintf(stderr, "\rimporting: %zu/%zu", done, total);
    p->shown = true;
}

static void ctl_progress_clear(const struct ctl_progress *p)
{
    if (p->shown)
        fputs("\r\033[K", stderr);
}

static void ctl_print_table(const struct registry_report *r)
{
    struct registry_counts total = {0, 0, 0, 0};
    printf("%-24s %8s %8s %10s %8s\n", "entity", "created", "updated", "unchanged", "removed");
    for (int k = 0; k < REGISTRY_KIND_COUNT; k++) {
        const struct registry_counts *c = &r->counts[k];
        char label[32];
        snprintf(label, sizeof label, "%s", registry_kind_name((enum registry_kind)k));
        for (char *u = strchr(label, '_'); u != NULL; u = strchr(u, '_'))
            *u = ' ';
        printf("%-24s %8zu %8zu %10zu %8zu\n", label, c->created, c->updated, c->unchanged,
               c->removed);
        total.created += c->created;
        total.updated += c->updated;
        total.unchanged += c->unchanged;
        total.removed += c->removed;
    }
    printf("%-24s %8zu %8zu %10zu %8zu\n", "total", total.created, total.updated, total.unchanged,
           total.removed);
}

/* {"escos":{"created":n,"updated":n,"unchanged":n,"removed":n},…}. Returns 0 or -1 (memory). */
static int ctl_print_json(const struct registry_report *r)
{
    cJSON *root = cJSON_CreateObject();
    bool ok = root != NULL;
    for (int k = 0; k < REGISTRY_KIND_COUNT && ok; k++) {
        const struct registry_counts *c = &r->counts[k];
        cJSON *o = cJSON_AddObjectToObject(root, registry_kind_name((enum registry_kind)k));
        ok = o != NULL && cJSON_AddNumberToObject(o, "created", (double)c->created) &&
             cJSON_AddNumberToObject(o, "updated", (double)c->updated) &&
             cJSON_AddNumberToObject(o, "unchanged", (double)c->unchanged) &&
             cJSON_AddNumberToObject(o, "removed", (double)c->removed);
    }
    char *text = ok ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    if (text == NULL) {
        fprintf(stderr, "shadowctl: out of memory\n");
        return -1;
    }
    printf("%s\n", text);
    cJSON_free(text);
    return 0;
}

static void ctl_print_problems(const char *file, const struct registry_problems *problems)
{
    for (size_t i = 0; i < problems->count; i++)
        fprintf(stderr, "shadowctl: %s: %s\n", file, problems->items[i]);
    if (problems->out_of_memory)
        fprintf(stderr, "shadowctl: %s: out of memory while listing problems\n", file);
    fprintf(stderr, "shadowctl: %s: rejected with %zu problem%s; nothing was changed\n", file,
            problems->count, problems->count == 1 ? "" : "s");
}

int ctl_open(const struct ctl *ctl, struct store **st)
{
    char err[256];
    struct store_options opt = {.path = ctl->db, .busy_timeout_ms = 5000};
    if (store_open(&opt, st, err, sizeof err) != STORE_OK) {
        fprintf(stderr, "shadowctl: %s: %s\n", ctl->db, err);
        return -1;
    }
    return 0;
}

/* Parses the topology, imports it, prints the outcome; returns the exit code. */
static int ctl_import_text(const struct ctl *ctl, const char *file, const char *text, size_t len)
{
    struct registry_problems problems;
    struct topology topo;
    struct registry_report report = {.progress = NULL};
    struct ctl_progress progress = {false};
    struct store *st = NULL;
    time_t now = time(NULL);
    int rc = CTL_FAILURE;
    registry_problems_init(&problems);
    registry_parse(text, len, &topo, &problems);
    if (now == (time_t)-1 || ctl_open(ctl, &st) != 0) {
        if (now == (time_t)-1)
            fprintf(stderr, "shadowctl: cannot read the clock: %s\n", strerror(errno));
        if (registry_problems_any(&problems))
            ctl_print_problems(file, &problems);
        goto done;
    }
    if (isatty(STDOUT_FILENO) && isatty(STDERR_FILENO)) {
        report.progress = ctl_progress;
        report.progress_ctx = &progress;
    }
    int imported = store_registry_import(st, &topo, (int64_t)now, &report, &problems);
    ctl_progress_clear(&progress);
    if (imported == STORE_REGISTRY_REJECTED) {
        ctl_print_problems(file, &problems);
    } else if (imported != STORE_OK) {
        fprintf(stderr, "shadowctl: %s: import failed, nothing was changed: %s\n", ctl->db,
                store_errmsg(st));
    } else if (ctl->json) {
        rc = ctl_print_json(&report) == 0 ? CTL_OK : CTL_FAILURE;
    } else {
        ctl_print_table(&report);
        rc = CTL_OK;
    }
done:
    store_close(st);
    registry_topology_free(&topo);
    registry_problems_free(&problems);
    return rc;
}

static int ctl_import(struct ctl *ctl, int argc, char **argv)
{
    const char *file = NULL;
    bool options = true;
    for (int i = 1; i < argc; i++) {
        if (options && strcmp(argv[i], "--") == 0) {
            options = false;
        } else if (options && strcmp(argv[i], "--json") == 0) {
            ctl->json = true;
        } else if (options && strcmp(argv[i], "--help") == 0) {
            printf("usage: shadowctl [--db PATH] import [--json] FILE\n"
                   "Loads the fleet topology in FILE (- for stdin; format: SPEC section 7).\n"
                   "Prints what was created, updated, left unchanged and removed per entity\n"
                   "type; a file with problems is refused whole and changes nothing.\n");
            return ctl_flush(CTL_OK);
        } else if (options && argv[i][0] == '-' && argv[i][1] != '\0') {
            return ctl_bad_usage("import: unknown option '%s'", argv[i]);
        } else if (file != NULL) {
            return ctl_bad_usage("import: more than one FILE ('%s')", argv[i]);
        } else {
            file = argv[i];
        }
    }
    if (file == NULL)
        return ctl_bad_usage("import: FILE is required");
    char *text = NULL;
    size_t len = 0;
    if (ctl_read_file(file, &text, &len) != 0)
        return CTL_FAILURE;
    int rc = ctl_import_text(ctl, file, text, len);
    free(text);
    return ctl_flush(rc);
}

/* ---- Main ---------------------------------------------------------------------------------- */

static const struct ctl_command *ctl_find(const char *name)
{
    for (size_t i = 0; i < CTL_COMMAND_COUNT; i++)
        if (strcmp(ctl_commands[i].name, name) == 0)
            return &ctl_commands[i];
    return NULL;
}

/* Parses the options before COMMAND; returns the index of COMMAND, or -1 (help or version
 * printed: exit 0) or -2 (bad usage, printed). */
static int ctl_options(struct ctl *ctl, int argc, char **argv)
{
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "--db") == 0 && i + 1 < argc) {
            ctl->db = argv[++i];
        } else if (strncmp(argv[i], "--db=", 5) == 0 && argv[i][5] != '\0') {
            ctl->db = argv[i] + 5;
        } else if (strcmp(argv[i], "--json") == 0) {
            ctl->json = true;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            ctl_help();
            return -1;
        } else if (strcmp(argv[i], "--version") == 0) {
            printf("shadowctl %s\n", SHADOW_VERSION);
            return -1;
        } else {
            if (strcmp(argv[i], "--db") == 0)
                ctl_bad_usage("option '%s' needs a PATH", argv[i]);
            else
                ctl_bad_usage("unknown option '%s'", argv[i]);
            return -2;
        }
    }
    if (i == argc) {
        ctl_bad_usage("a COMMAND is required");
        return -2;
    }
    return i;
}

int main(int argc, char **argv)
{
    const char *env_db = getenv("SHADOWD_DB");
    struct ctl ctl = {.db = env_db && env_db[0] ? env_db : CTL_DEFAULT_DB, .json = false};
    int at = ctl_options(&ctl, argc, argv);
    if (at == -1)
        return ctl_flush(CTL_OK);
    if (at < 0)
        return CTL_USAGE;
    const struct ctl_command *cmd = ctl_find(argv[at]);
    if (cmd == NULL)
        return ctl_bad_usage("unknown command '%s'", argv[at]);
    return cmd->run(&ctl, argc - at, argv + at);
}
