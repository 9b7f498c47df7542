/* ctl_intervals.c — `shadowctl intervals SERIAL|--circuit ID --period hh|day|month`: energy per
 * half-hour, local day or local month (SPEC §6), as rows or as a terminal chart.
 *
 * Rows flow from the store through small sinks: a circuit's buckets are stored per period, so
 * they go straight to the writer; a meter's days and months are not stored, so its half-hours
 * are summed per register on local days of the aggregate zone by a fold in between (the same
 * cut the circuit buckets use). --chart swaps the writer for a collector that sums the rows of
 * one period (a meter's registers) and fills missing half-hours, so a day always reads as a day. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "chart.h"
#include "ctl.h"
#include "isotime.h"

#define CTL_HH 1800
#define CTL_GAP_ROWS 48    /* a longer run of missing half-hours is one line */
#define CTL_CHART_WIDTH 80 /* when stdout is not a terminal */
#define CTL_CHART_WIDEST 200

enum ctl_period { CTL_PERIOD_HH, CTL_PERIOD_DAY, CTL_PERIOD_MONTH };

struct ctl_intervals_args {
    const char *serial;
    const char *circuit;
    enum ctl_period period;
    struct store_range range;
    bool chart;
    enum ctl_format format;
};

/* kWh as the store gives it (mWh / 1e6) back to exact mWh. */
static int64_t ctl_mwh(double kwh)
{
    return llround(kwh * 1e6);
}

/* ---- The fold: a meter's half-hours into local days or months, per register ---------------- */

static const char *const CTL_DAY_NAMES[] = {"day",        "element",  "import_kwh",
                                            "export_kwh", "hh_count", "complete"};
static const char *const CTL_MONTH_NAMES[] = {"month",      "element",  "import_kwh",
                                              "export_kwh", "hh_count", "complete"};
static const char *const CTL_ELEMENTS[] = {"A", "B", "SINGLE"};

struct ctl_bucket {
    bool open;
    bool has_import, has_export;
    int64_t import_mwh, export_mwh;
    int64_t hh_count;
    bool all_complete;
};

struct ctl_fold {
    const struct store_sink *out;
    const struct tzone *tz;
    bool monthly;
    char label[TZONE_DAY_LABEL_LEN]; /* the bucket being summed, "" before the first row */
    int y, m, d;
    struct ctl_bucket buckets[3]; /* by CTL_ELEMENTS */
};

static int ctl_fold_begin(void *ctx, const char *const *names, size_t count, size_t total)
{
    struct ctl_fold *f = ctx;
    (void)names;
    (void)count;
    (void)total; /* counts half-hours, not the buckets written */
    return f->out->begin(f->out->ctx, f->monthly ? CTL_MONTH_NAMES : CTL_DAY_NAMES, 6, 0);
}

/* Writes the open buckets of the current label in element order, and closes them. */
static int ctl_fold_flush(struct ctl_fold *f)
{
    int periods = f->monthly ? tzone_month_periods(f->tz, f->y, f->m)
                             : tzone_day_periods(f->tz, f->y, f->m, f->d);
    for (size_t e = 0; e < 3; e++) {
        struct ctl_bucket *b = &f->buckets[e];
        if (!b->open)
            continue;
        struct store_value v[6] = {
            {STORE_VALUE_TEXT, 0, 0, f->label},
            {STORE_VALUE_TEXT, 0, 0, CTL_ELEMENTS[e]},
            {b->has_import ? STORE_VALUE_REAL : STORE_VALUE_NULL, 0, (double)b->import_mwh / 1e6,
             NULL},
            {b->has_export ? STORE_VALUE_REAL : STORE_VALUE_NULL, 0, (double)b->export_mwh / 1e6,
             NULL},
            {STORE_VALUE_INT, b->hh_count, 0, NULL},
            {STORE_VALUE_BOOL, b->all_complete && b->hh_count == periods, 0, NULL},
        };
        memset(b, 0, sizeof *b);
        if (f->out->row(f->out->ctx, v, 6) != 0)
            return -1;
    }
    return 0;
}

/* Columns in: timestamp, element, import_kwh, export_kwh, quality, complete, revision. */
static int ctl_fold_row(void *ctx, const struct store_value *v, size_t count)
{
    struct ctl_fold *f = ctx;
    char label[TZONE_DAY_LABEL_LEN];
    int64_t start;
    (void)count;
    if (v[0].kind != STORE_VALUE_TEXT || isotime_parse(v[0].text, &start) != 0)
        return 0; /* cannot happen: the store formats every start */
    int labelled =
        f->monthly ? tzone_month_label(f->tz, start, label) : tzone_day_label(f->tz, start, label);
    if (labelled != 0)
        return 0;
    if (strcmp(label, f->label) != 0) {
        if (f->label[0] != '\0' && ctl_fold_flush(f) != 0)
            return -1;
        memcpy(f->label, label, sizeof label);
        if (tzone_local_date(f->tz, start, &f->y, &f->m, &f->d) != 0)
            return 0;
    }
    size_t e = 0;
    while (e < 2 && strcmp(CTL_ELEMENTS[e], v[1].text ? v[1].text : "") != 0)
        e++;
    struct ctl_bucket *b = &f->buckets[e];
    if (!b->open)
        *b = (struct ctl_bucket){.open = true, .all_complete = true};
    if (v[2].kind == STORE_VALUE_REAL) {
        b->import_mwh += ctl_mwh(v[2].real);
        b->has_import = true;
    }
    if (v[3].kind == STORE_VALUE_REAL) {
        b->export_mwh += ctl_mwh(v[3].real);
        b->has_export = true;
    }
    b->hh_count++;
    b->all_complete = b->all_complete && v[5].integer != 0;
    return 0;
}

/* ---- The chart collector ------------------------------------------------------------------- */

struct ctl_plot {
    bool hh;
    struct store_range range;
    size_t import_col, export_col;
    struct chart_row *rows;
    size_t count, cap;
    int64_t next; /* hh: the start the next row should have, 0 before the first */
    bool any_export;
    bool out_of_memory;
};

static struct chart_row *ctl_plot_add(struct ctl_plot *p)
{
    if (p->count == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 64;
        struct chart_row *rows = realloc(p->rows, cap * sizeof *rows);
        if (rows == NULL) {
            p->out_of_memory = true;
            return NULL;
        }
        p->rows = rows;
        p->cap = cap;
    }
    struct chart_row *row = &p->rows[p->count++];
    memset(row, 0, sizeof *row);
    return row;
}

/* `2026-11-28 08:30` for the half-hour starting at t. */
static void ctl_hh_label(int64_t t, char out[CHART_LABEL_MAX])
{
    char stamp[ISOTIME_LEN];
    isotime_format(t, stamp);
    stamp[10] = ' ';
    stamp[16] = '\0';
    snprintf(out, CHART_LABEL_MAX, "%s", stamp);
}

/* Lines for the half-hours [from, to) that hold no value. */
static int ctl_plot_gap(struct ctl_plot *p, int64_t from, int64_t to)
{
    int64_t missing = to > from ? (to - from + CTL_HH - 1) / CTL_HH : 0;
    if (missing > CTL_GAP_ROWS) {
        struct chart_row *row = ctl_plot_add(p);
        if (row == NULL)
            return -1;
        snprintf(row->label, sizeof row->label, "\u2026 %lld missing", (long long)missing);
        return 0;
    }
    for (int64_t t = from; t < to; t += CTL_HH) {
        struct chart_row *row = ctl_plot_add(p);
        if (row == NULL)
            return -1;
        ctl_hh_label(t, row->label);
    }
    return 0;
}

/* The first half-hour at or after t. */
static int64_t ctl_hh_ceil(int64_t t)
{
    int64_t r = t % CTL_HH;
    return r == 0 ? t : t + (CTL_HH - (r < 0 ? r + CTL_HH : r));
}

static int ctl_plot_begin(void *ctx, const char *const *names, size_t count, size_t total)
{
    struct ctl_plot *p = ctx;
    (void)total;
    p->import_col = p->export_col = count;
    for (size_t c = 0; c < count; c++) {
        const char *suffix = strstr(names[c], "import_kwh");
        if (suffix != NULL && strcmp(suffix, "import_kwh") == 0)
            p->import_col = c;
        suffix = strstr(names[c], "export_kwh");
        if (suffix != NULL && strcmp(suffix, "export_kwh") == 0)
            p->export_col = c;
    }
    if (p->hh && p->range.has_from)
        p->next = ctl_hh_ceil(p->range.from);
    return 0;
}

static double ctl_plot_value(const struct store_value *v)
{
    return v->kind == STORE_VALUE_REAL  ? v->real
           : v->kind == STORE_VALUE_INT ? (double)v->integer
                                        : 0;
}

static int ctl_plot_row(void *ctx, const struct store_value *v, size_t count)
{
    struct ctl_plot *p = ctx;
    char label[CHART_LABEL_MAX];
    int64_t start = 0;
    if (v[0].kind != STORE_VALUE_TEXT)
        return 0;
    if (p->hh) {
        if (isotime_parse(v[0].text, &start) != 0)
            return 0;
        ctl_hh_label(start, label);
    } else {
        snprintf(label, sizeof label, "%s", v[0].text);
    }
    struct chart_row *row = p->count > 0 ? &p->rows[p->count - 1] : NULL;
    if (row == NULL || strcmp(row->label, label) != 0) {
        /* A new period: first the half-hours missing before it. */
        if (p->hh && p->next != 0 && ctl_plot_gap(p, p->next, start) != 0)
            return -1;
        if ((row = ctl_plot_add(p)) == NULL)
            return -1;
        memcpy(row->label, label, sizeof label);
        p->next = start + CTL_HH;
    }
    if (p->import_col < count && v[p->import_col].kind != STORE_VALUE_NULL) {
        row->value[0] += ctl_plot_value(&v[p->import_col]);
        row->has_value = true;
    }
    if (p->export_col < count && v[p->export_col].kind != STORE_VALUE_NULL) {
        row->value[1] += ctl_plot_value(&v[p->export_col]);
        row->has_value = true;
        p->any_export = p->any_export || row->value[1] > 0;
    }
    return 0;
}

static size_t ctl_terminal_width(void)
{
    struct winsize ws;
    if (!isatty(STDOUT_FILENO) || ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) != 0 || ws.ws_col == 0)
        return CTL_CHART_WIDTH;
    return ws.ws_col < CTL_CHART_WIDEST ? ws.ws_col : CTL_CHART_WIDEST;
}

/* Draws what the collector holds; returns the exit code. */
static int ctl_plot_print(struct ctl_plot *p, const char *title)
{
    if (p->hh && p->range.has_to && p->next != 0 && ctl_plot_gap(p, p->next, p->range.to) != 0)
        p->out_of_memory = true;
    if (p->out_of_memory) {
        fprintf(stderr, "shadowctl: out of memory\n");
        return CTL_FAILURE;
    }
    if (p->count == 0) {
        printf("%s\nno intervals\n", title);
        return CTL_OK;
    }
    struct chart c = {title,   "kWh",    p->any_export ? 2 : 1, {"import", "export"},
                      p->rows, p->count, ctl_terminal_width()};
    char *text = chart_render(&c);
    if (text == NULL) {
        fprintf(stderr, "shadowctl: out of memory\n");
        return CTL_FAILURE;
    }
    fputs(text, stdout);
    free(text);
    return CTL_OK;
}

/* ---- Running the query --------------------------------------------------------------------- */

/* What the query is asked, worked out before it runs (so a zone that cannot be loaded is an
 * error before any output): the range, and for stored days and months their labels. */
struct ctl_intervals_query {
    struct store_range range;
    const struct tzone *tz;          /* for a meter's days and months */
    char first[TZONE_DAY_LABEL_LEN]; /* a circuit's first day or month, "" when open */
    char last[TZONE_DAY_LABEL_LEN];  /* its last, inclusive, "" when open */
};

/* The local day or month of t: its label, or its bounds. Returns 0 or -1 (beyond the calendar). */
static int ctl_local_label(const struct tzone *tz, bool monthly, int64_t t,
                           char out[TZONE_DAY_LABEL_LEN])
{
    return monthly ? tzone_month_label(tz, t, out) : tzone_day_label(tz, t, out);
}

static int ctl_local_bounds(const struct tzone *tz, bool monthly, int64_t t, int64_t *start,
                            int64_t *end)
{
    int y, m, d;
    if (tzone_local_date(tz, t, &y, &m, &d) != 0)
        return -1;
    return monthly ? tzone_month_bounds(tz, y, m, start, end)
                   : tzone_day_bounds(tz, y, m, d, start, end);
}

/* Fills q for a's target and period. Returns CTL_OK or CTL_FAILURE (printed). */
static int ctl_intervals_prepare(const struct ctl_intervals_args *a, struct ctl_zone *zone,
                                 struct ctl_intervals_query *q)
{
    bool monthly = a->period == CTL_PERIOD_MONTH;
    int64_t start, end;
    memset(q, 0, sizeof *q);
    q->range = a->range;
    if (a->period == CTL_PERIOD_HH)
        return CTL_OK;
    bool bounded = a->range.has_from || a->range.has_to;
    if ((a->serial != NULL || bounded) && ctl_zone_get(zone, &q->tz) != CTL_OK)
        return CTL_FAILURE;
    int bad = 0;
    if (a->circuit != NULL) {
        /* Stored buckets: every day or month the range touches, by label. */
        if (a->range.has_from)
            bad |= ctl_local_label(q->tz, monthly, a->range.from, q->first);
        if (a->range.has_to)
            bad |= ctl_local_label(q->tz, monthly, a->range.to - 1, q->last);
    } else {
        /* Half-hours summed here: widened to whole days or months, so none is summed in part. */
        if (a->range.has_from &&
            (bad |= ctl_local_bounds(q->tz, monthly, a->range.from, &start, &end)) == 0)
            q->range.from = start;
        if (a->range.has_to &&
            (bad |= ctl_local_bounds(q->tz, monthly, a->range.to - 1, &start, &end)) == 0)
            q->range.to = end;
    }
    if (bad != 0) {
        fprintf(stderr, "shadowctl: intervals: the range is beyond the calendar\n");
        return CTL_FAILURE;
    }
    return CTL_OK;
}

/* Runs the query into sink; returns what the store_query_* call returned. */
static int ctl_intervals_query(struct store *st, const struct ctl_intervals_args *a, const char *id,
                               const struct ctl_intervals_query *q, const struct store_sink *sink)
{
    const char *first = q->first[0] ? q->first : NULL, *last = q->last[0] ? q->last : NULL;
    if (a->circuit != NULL)
        return a->period == CTL_PERIOD_HH ? store_query_circuit_hh(st, id, &q->range, sink)
               : a->period == CTL_PERIOD_DAY
                   ? store_query_circuit_daily(st, id, first, last, sink)
                   : store_query_circuit_monthly(st, id, first, last, sink);
    if (a->period == CTL_PERIOD_HH)
        return store_query_meter_hh(st, id, &q->range, sink);
    struct ctl_fold fold = {sink, q->tz, a->period == CTL_PERIOD_MONTH, "", 0, 0, 0, {{0}}};
    struct store_sink through = {ctl_fold_begin, ctl_fold_row, &fold, false};
    int rc = store_query_meter_hh(st, id, &q->range, &through);
    if (rc == STORE_OK && fold.label[0] != '\0' && ctl_fold_flush(&fold) != 0)
        rc = STORE_QUERY_STOPPED; /* the writer says why */
    return rc;
}

static const char *const ctl_period_words[] = {"half-hourly", "daily", "monthly"};

/* Resolves the meter or circuit into its id and a chart title. Returns the exit code. */
static int ctl_intervals_target(const struct ctl *ctl, struct store *st,
                                const struct ctl_intervals_args *a, char id[REGISTRY_ID_LEN],
                                char *title, size_t title_len)
{
    if (a->circuit != NULL) {
        struct store_circuit_ref circuit;
        if (store_query_circuit_find(st, a->circuit, &circuit) != STORE_OK)
            return ctl_store_failed(ctl, st, "find circuit");
        if (!circuit.found) {
            fprintf(stderr, "shadowctl: intervals: no circuit with id or name '%s'\n", a->circuit);
            return CTL_FAILURE;
        }
        memcpy(id, circuit.id, REGISTRY_ID_LEN);
        snprintf(title, title_len, "circuit %s: %s energy", circuit.name,
                 ctl_period_words[a->period]);
    } else {
        struct store_meter meter;
        if (ctl_meter_lookup(ctl, st, a->serial, &meter) != CTL_OK)
            return CTL_FAILURE;
        memcpy(id, meter.id, REGISTRY_ID_LEN);
        snprintf(title, title_len, "meter %s: %s energy, all registers", a->serial,
                 ctl_period_words[a->period]);
    }
    if (a->period == CTL_PERIOD_HH)
        snprintf(title + strlen(title), title_len - strlen(title), ", times UTC");
    return CTL_OK;
}

static int ctl_intervals_run(const struct ctl *ctl, struct store *st,
                             const struct ctl_intervals_args *a, struct ctl_zone *zone)
{
    char id[REGISTRY_ID_LEN], title[REGISTRY_TEXT_MAX + 96];
    struct ctl_intervals_query q;
    int rc = ctl_intervals_target(ctl, st, a, id, title, sizeof title);
    if (rc == CTL_OK)
        rc = ctl_intervals_prepare(a, zone, &q);
    if (rc != CTL_OK)
        return rc;
    if (!a->chart) {
        struct ctl_writer w;
        ctl_writer_init(&w, a->format, "exporting");
        struct store_sink sink = ctl_writer_sink(&w);
        int done = ctl_intervals_query(st, a, id, &q, &sink);
        return ctl_writer_close(&w, ctl, st, done, "read intervals");
    }
    struct ctl_plot plot = {a->period == CTL_PERIOD_HH, q.range, 0, 0, NULL, 0, 0, 0, false, false};
    struct store_sink sink = {ctl_plot_begin, ctl_plot_row, &plot, false};
    int done = ctl_intervals_query(st, a, id, &q, &sink);
    rc = done < 0 ? ctl_store_failed(ctl, st, "read intervals") : ctl_plot_print(&plot, title);
    free(plot.rows);
    return rc;
}

/* ---- Arguments ----------------------------------------------------------------------------- */

static int ctl_parse_period(const char *text, enum ctl_period *out)
{
    static const char *const names[] = {"hh", "day", "month"};
    for (int p = CTL_PERIOD_HH; p <= CTL_PERIOD_MONTH; p++) {
        if (strcmp(text, names[p]) == 0) {
            *out = (enum ctl_period)p;
            return 0;
        }
    }
    return -1;
}

/* Parses argv into *a; returns CTL_OK, or CTL_USAGE / CTL_FAILURE (zone) after printing. */
static int ctl_intervals_args(struct ctl *ctl, int argc, char **argv, struct ctl_zone *zone,
                              struct ctl_intervals_args *a)
{
    const char *period = NULL, *from = NULL, *to = NULL, *cmd = argv[0];
    for (int i = 1; i < argc; i++) {
        int got = ctl_option_value(cmd, argc, argv, &i, "--circuit", &a->circuit);
        if (got == 0)
            got = ctl_option_value(cmd, argc, argv, &i, "--period", &period);
        if (got == 0)
            got = ctl_option_value(cmd, argc, argv, &i, "--from", &from);
        if (got == 0)
            got = ctl_option_value(cmd, argc, argv, &i, "--to", &to);
        if (got < 0)
            return CTL_USAGE;
        if (got > 0 || ctl_format_option(ctl, argv[i]))
            continue;
        if (strcmp(argv[i], "--chart") == 0)
            a->chart = true;
        else if (argv[i][0] == '-')
            return ctl_command_bad_usage(cmd, "unknown option '%s'", argv[i]);
        else if (a->serial != NULL)
            return ctl_command_bad_usage(cmd, "more than one SERIAL ('%s')", argv[i]);
        else
            a->serial = argv[i];
    }
    if ((a->serial == NULL) == (a->circuit == NULL))
        return ctl_command_bad_usage(cmd, "give either a SERIAL or --circuit ID");
    if (period == NULL)
        return ctl_command_bad_usage(cmd, "--period is required (hh, day or month)");
    if (ctl_parse_period(period, &a->period) != 0)
        return ctl_command_bad_usage(cmd, "--period: '%s' is not hh, day or month", period);
    if (ctl_output_format(ctl, cmd, &a->format) != CTL_OK)
        return CTL_USAGE;
    if (a->chart && a->format != CTL_FORMAT_TABLE)
        return ctl_command_bad_usage(cmd, "--chart draws for people: not with --json or --csv");
    if (a->serial != NULL && ctl_check_serial(cmd, a->serial) != CTL_OK)
        return CTL_USAGE;
    return ctl_parse_range(cmd, from, to, zone, &a->range);
}

int ctl_intervals(struct ctl *ctl, int argc, char **argv)
{
    struct ctl_intervals_args a = {
        NULL, NULL, CTL_PERIOD_HH, {false, false, 0, 0}, false, CTL_FORMAT_TABLE};
    struct ctl_zone zone = {false, NULL, {0}};
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0)
            return ctl_command_help(argv[0]);
    int rc = ctl_intervals_args(ctl, argc, argv, &zone, &a);
    if (rc != CTL_OK)
        return rc;
    struct store *st = NULL;
    if (ctl_open_read(ctl, &st) != 0)
        return CTL_FAILURE;
    rc = ctl_intervals_run(ctl, st, &a, &zone);
    store_close(st);
    return ctl_flush(rc);
}
