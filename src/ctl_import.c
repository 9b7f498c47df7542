/* ctl_import.c — `shadowctl import FILE` (SPEC §7): load the fleet topology.
 *
 * The file is parsed and checked whole before anything is written, then imported in one
 * transaction by the store; a refused file lists every problem and changes nothing. The import
 * opens the database for writing (creating and migrating it if needed), the only command that
 * does. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cjson/cJSON.h>

#include "ctl.h"
#include "registry.h"
#include "store.h"
#include "store_registry.h"

#define CTL_FILE_MAX (256u << 20) /* a topology file larger than this is a mistake */

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

/* The store calls this every few hundred rows, inside the import's transaction. */
static void ctl_import_progress(void *ctx, size_t done, size_t total)
{
    struct ctl_progress *p = ctx;
    if (p->total == 0)
        ctl_progress_begin(p, "importing", total);
    ctl_progress_update(p, done);
}

static void ctl_import_label(enum registry_kind kind, char label[32])
{
    snprintf(label, 32, "%s", registry_kind_name(kind));
    for (char *u = strchr(label, '_'); u != NULL; u = strchr(u, '_'))
        *u = ' ';
}

static void ctl_print_table(const struct registry_report *r)
{
    struct registry_counts total = {0, 0, 0, 0};
    char label[32];
    printf("%-24s %8s %8s %10s %8s\n", "entity", "created", "updated", "unchanged", "removed");
    for (int k = 0; k < REGISTRY_KIND_COUNT; k++) {
        const struct registry_counts *c = &r->counts[k];
        ctl_import_label((enum registry_kind)k, label);
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

static void ctl_print_csv(const struct registry_report *r)
{
    printf("entity,created,updated,unchanged,removed\n");
    for (int k = 0; k < REGISTRY_KIND_COUNT; k++) {
        const struct registry_counts *c = &r->counts[k];
        printf("%s,%zu,%zu,%zu,%zu\n", registry_kind_name((enum registry_kind)k), c->created,
               c->updated, c->unchanged, c->removed);
    }
}

/* {"escos":{"created":n,"updated":n,"unchanged":n,"removed":n},…}. Returns 0 or -1 (memory). */
static int ctl_print_report_json(const struct registry_report *r)
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

static int ctl_print_report(enum ctl_format format, const struct registry_report *r)
{
    if (format == CTL_FORMAT_JSON)
        return ctl_print_report_json(r) == 0 ? CTL_OK : CTL_FAILURE;
    if (format == CTL_FORMAT_CSV)
        ctl_print_csv(r);
    else
        ctl_print_table(r);
    return CTL_OK;
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

/* Parses the topology, imports it, prints the outcome; returns the exit code. */
static int ctl_import_text(const struct ctl *ctl, enum ctl_format format, const char *file,
                           const char *text, size_t len)
{
    struct registry_problems problems;
    struct topology topo;
    struct ctl_progress progress = {false, NULL, 0, -1};
    struct registry_report report = {.progress = ctl_import_progress, .progress_ctx = &progress};
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
    int imported = store_registry_import(st, &topo, (int64_t)now, &report, &problems);
    ctl_progress_end(&progress);
    if (imported == STORE_REGISTRY_REJECTED)
        ctl_print_problems(file, &problems);
    else if (imported != STORE_OK)
        fprintf(stderr, "shadowctl: %s: import failed, nothing was changed: %s\n", ctl->db,
                store_errmsg(st));
    else
        rc = ctl_print_report(format, &report);
done:
    store_close(st);
    registry_topology_free(&topo);
    registry_problems_free(&problems);
    return rc;
}

int ctl_import(struct ctl *ctl, int argc, char **argv)
{
    const char *file = NULL;
    bool options = true;
    enum ctl_format format;
    for (int i = 1; i < argc; i++) {
        if (options && strcmp(argv[i], "--") == 0)
            options = false;
        else if (options && ctl_format_option(ctl, argv[i]))
            continue;
        else if (options && strcmp(argv[i], "--help") == 0)
            return ctl_command_help(argv[0]);
        else if (options && argv[i][0] == '-' && argv[i][1] != '\0')
            return ctl_command_bad_usage(argv[0], "unknown option '%s'", argv[i]);
        else if (file != NULL)
            return ctl_command_bad_usage(argv[0], "more than one FILE ('%s')", argv[i]);
        else
            file = argv[i];
    }
    if (file == NULL)
        return ctl_command_bad_usage(argv[0], "FILE is required");
    if (ctl_output_format(ctl, argv[0], &format) != CTL_OK)
        return CTL_USAGE;
    char *text = NULL;
    size_t len = 0;
    if (ctl_read_file(file, &text, &len) != 0)
        return CTL_FAILURE;
    int rc = ctl_import_text(ctl, format, file, text, len);
    free(text);
    return ctl_flush(rc);
}
