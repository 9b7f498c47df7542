/* ctl_stats.c — `shadowctl stats`: the service's counters and what the database holds.
 *
 * shadowd stores its `shadowd/stats` counters in service_stats every stats_interval_s (SPEC
 * §3.2), so they are readable without a broker; an older database, or one shadowd has not yet
 * written to, has none, which is not an error. The database figures are counted from the tables
 * themselves, so they are right even when shadowd is not running. */
#include <stdio.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "ctl.h"

/* The counters, collected from the store: small enough to hold, and every format needs the
 * newest updated_at before the first counter is printed. */
struct ctl_stats {
    cJSON *counters; /* name → number (or string), in name order */
    char updated_at[32];
    bool out_of_memory;
};

static int ctl_stats_begin(void *ctx, const char *const *names, size_t count, size_t total)
{
    (void)ctx;
    (void)names;
    (void)count;
    (void)total;
    return 0;
}

/* Columns: name, value, updated_at (store_query_service_stats). */
static int ctl_stats_row(void *ctx, const struct store_value *v, size_t count)
{
    struct ctl_stats *s = ctx;
    cJSON *value = NULL;
    (void)count;
    if (v[0].kind != STORE_VALUE_TEXT)
        return 0;
    if (v[1].kind == STORE_VALUE_INT)
        value = cJSON_CreateNumber((double)v[1].integer);
    else if (v[1].kind == STORE_VALUE_REAL)
        value = cJSON_CreateNumber(v[1].real);
    else
        value = v[1].kind == STORE_VALUE_TEXT ? cJSON_CreateString(v[1].text) : cJSON_CreateNull();
    if (value == NULL || !cJSON_AddItemToObject(s->counters, v[0].text, value)) {
        cJSON_Delete(value);
        s->out_of_memory = true;
        return -1;
    }
    if (v[2].kind == STORE_VALUE_TEXT && strcmp(v[2].text, s->updated_at) > 0)
        snprintf(s->updated_at, sizeof s->updated_at, "%s", v[2].text);
    return 0;
}

/* Fills s from service_stats when the table exists. Returns the exit code. */
static int ctl_stats_load(const struct ctl *ctl, struct store *st, struct ctl_stats *s)
{
    bool exists = false;
    if (store_query_table_exists(st, "service_stats", &exists) != STORE_OK)
        return ctl_store_failed(ctl, st, "look for service_stats");
    if (!exists)
        return CTL_OK;
    struct store_sink sink = {ctl_stats_begin, ctl_stats_row, s, false};
    int q = store_query_service_stats(st, &sink);
    if (q < 0)
        return ctl_store_failed(ctl, st, "read service_stats");
    if (s->out_of_memory) {
        fprintf(stderr, "shadowctl: out of memory\n");
        return CTL_FAILURE;
    }
    return CTL_OK;
}

/* ---- Output -------------------------------------------------------------------------------- */

struct ctl_figure {
    const char *name;
    int64_t value;
};

/* The database figures in print order; *n of them (the commands only when the table exists). */
static size_t ctl_figures_list(const struct store_figures *f, struct ctl_figure out[7])
{
    size_t n = 0;
    out[n++] = (struct ctl_figure){"meters", f->meters};
    out[n++] = (struct ctl_figure){"shadows", f->shadows};
    out[n++] = (struct ctl_figure){"register_reads", f->register_reads};
    out[n++] = (struct ctl_figure){"events", f->events};
    if (f->has_commands) {
        out[n++] = (struct ctl_figure){"commands_pending", f->commands_pending};
        out[n++] = (struct ctl_figure){"commands_confirmed", f->commands_confirmed};
        out[n++] = (struct ctl_figure){"commands_failed", f->commands_failed};
    }
    return n;
}

/* A counter's value as text (numbers as ctl_format_number writes them). */
static const char *ctl_counter_text(const cJSON *item, char buf[32])
{
    if (cJSON_IsNumber(item))
        return ctl_format_number(item->valuedouble, buf);
    return cJSON_IsString(item) ? item->valuestring : "";
}

static int ctl_stats_table(const struct ctl_stats *s, const struct store_figures *f)
{
    struct ctl_figure figures[7];
    size_t n = ctl_figures_list(f, figures);
    char buf[32];
    int width = 20;
    for (const cJSON *c = s->counters->child; c != NULL; c = c->next)
        width = (int)strlen(c->string) > width ? (int)strlen(c->string) : width;
    if (s->counters->child == NULL)
        printf("service: no statistics yet\n");
    else
        printf("service (as of %s)\n", s->updated_at);
    for (const cJSON *c = s->counters->child; c != NULL; c = c->next)
        printf("  %-*s %12s\n", width, c->string, ctl_counter_text(c, buf));
    printf("database\n");
    for (size_t i = 0; i < n; i++)
        printf("  %-*s %12lld\n", width, figures[i].name, (long long)figures[i].value);
    return CTL_OK;
}

static int ctl_stats_csv(const struct ctl_stats *s, const struct store_figures *f)
{
    struct ctl_figure figures[7];
    size_t n = ctl_figures_list(f, figures);
    char buf[32];
    /* Counter names are the service's identifiers: no commas or quotes to escape. */
    printf("section,name,value,updated_at\n");
    for (const cJSON *c = s->counters->child; c != NULL; c = c->next)
        printf("service,%s,%s,%s\n", c->string, ctl_counter_text(c, buf), s->updated_at);
    for (size_t i = 0; i < n; i++)
        printf("database,%s,%lld,\n", figures[i].name, (long long)figures[i].value);
    return CTL_OK;
}

/* {"service":{"updated_at":T,"counters":{…}}|null,"database":{…,"commands":{…}|null}} */
static int ctl_stats_json(struct ctl_stats *s, const struct store_figures *f)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *service = s->counters->child ? cJSON_CreateObject() : cJSON_CreateNull();
    bool ok = root != NULL && service != NULL && cJSON_AddItemToObject(root, "service", service);
    if (!ok)
        cJSON_Delete(service);
    if (ok && s->counters->child != NULL) {
        ok = cJSON_AddStringToObject(service, "updated_at", s->updated_at) != NULL &&
             cJSON_AddItemToObject(service, "counters", s->counters);
        if (ok)
            s->counters = NULL; /* now the tree's */
    }
    cJSON *db = ok ? cJSON_AddObjectToObject(root, "database") : NULL;
    ok = db != NULL && cJSON_AddNumberToObject(db, "meters", (double)f->meters) &&
         cJSON_AddNumberToObject(db, "shadows", (double)f->shadows) &&
         cJSON_AddNumberToObject(db, "register_reads", (double)f->register_reads) &&
         cJSON_AddNumberToObject(db, "events", (double)f->events);
    cJSON *commands = ok && f->has_commands ? cJSON_AddObjectToObject(db, "commands") : NULL;
    if (ok && f->has_commands)
        ok = commands != NULL &&
             cJSON_AddNumberToObject(commands, "pending", (double)f->commands_pending) &&
             cJSON_AddNumberToObject(commands, "confirmed", (double)f->commands_confirmed) &&
             cJSON_AddNumberToObject(commands, "failed", (double)f->commands_failed);
    else if (ok)
        ok = cJSON_AddNullToObject(db, "commands") != NULL;
    int rc = ok ? ctl_print_json(root) : CTL_FAILURE;
    if (!ok)
        fprintf(stderr, "shadowctl: out of memory\n");
    cJSON_Delete(root);
    return rc;
}

static int ctl_stats_show(const struct ctl *ctl, struct store *st, enum ctl_format format)
{
    struct ctl_stats s = {cJSON_CreateObject(), "", false};
    struct store_figures figures;
    int rc;
    if (s.counters == NULL) {
        fprintf(stderr, "shadowctl: out of memory\n");
        return CTL_FAILURE;
    }
    rc = ctl_stats_load(ctl, st, &s);
    if (rc == CTL_OK && store_query_figures(st, &figures) != STORE_OK)
        rc = ctl_store_failed(ctl, st, "count rows");
    if (rc == CTL_OK)
        rc = format == CTL_FORMAT_JSON  ? ctl_stats_json(&s, &figures)
             : format == CTL_FORMAT_CSV ? ctl_stats_csv(&s, &figures)
                                        : ctl_stats_table(&s, &figures);
    cJSON_Delete(s.counters);
    return rc;
}

int ctl_stats(struct ctl *ctl, int argc, char **argv)
{
    enum ctl_format format;
    for (int i = 1; i < argc; i++) {
        if (ctl_format_option(ctl, argv[i]))
            continue;
        if (strcmp(argv[i], "--help") == 0)
            return ctl_command_help(argv[0]);
        return ctl_command_bad_usage(argv[0], "unexpected argument '%s'", argv[i]);
    }
    if (ctl_output_format(ctl, argv[0], &format) != CTL_OK)
        return CTL_USAGE;
    struct store *st = NULL;
    if (ctl_open_read(ctl, &st) != 0)
        return CTL_FAILURE;
    int rc = ctl_stats_show(ctl, st, format);
    store_close(st);
    return ctl_flush(rc);
}
