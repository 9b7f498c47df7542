/* ctl_output.c — how shadowctl shows results: aligned tables for people, JSON and CSV for
 * scripts, and a progress bar on stderr while a long result is read.
 *
 * Rows arrive from a store query one at a time (store_sink). JSON and CSV are written as they
 * come, so an export of a year of half-hours never sits in memory; a table must see every row
 * before it knows its column widths, so it keeps the formatted cells and prints at the end. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "ctl.h"

#define CTL_PROGRESS_MIN_ROWS 2000 /* fewer rows are read before a bar would even show */
#define CTL_PROGRESS_WIDTH 30

/* ---- Numbers ------------------------------------------------------------------------------- */

char *ctl_format_number(double x, char out[32])
{
    /* Fixed notation reads best in a column (0.000001 kWh rather than 1e-06); the shortest
     * that round-trips shows a stored 12.34567 as exactly that. */
    for (int decimals = 0; decimals <= 9; decimals++) {
        int n = snprintf(out, 32, "%.*f", decimals, x);
        if (n > 0 && n < 32 && strtod(out, NULL) == x)
            return out;
    }
    snprintf(out, 32, "%.17g", x);
    return out;
}

/* ---- Progress ------------------------------------------------------------------------------ */

void ctl_progress_begin(struct ctl_progress *p, const char *label, size_t total)
{
    p->shown = total > 0 && isatty(STDERR_FILENO);
    p->label = label;
    p->total = total;
    p->percent = -1;
}

void ctl_progress_update(struct ctl_progress *p, size_t done)
{
    if (!p->shown)
        return;
    if (done > p->total)
        done = p->total;
    int percent = (int)((double)done * 100.0 / (double)p->total);
    if (percent == p->percent)
        return;
    p->percent = percent;
    int filled = percent * CTL_PROGRESS_WIDTH / 100;
    fprintf(stderr, "\r%s [", p->label);
    for (int i = 0; i < CTL_PROGRESS_WIDTH; i++)
        fputs(i < filled ? "\u2588" : "\u2591", stderr); /* █ done, ░ to go */
    fprintf(stderr, "] %3d%% %zu/%zu", percent, done, p->total);
    fflush(stderr);
}

void ctl_progress_end(struct ctl_progress *p)
{
    if (p->shown && p->percent >= 0) {
        fputs("\r\033[K", stderr);
        fflush(stderr);
    }
    p->shown = false;
}

/* ---- Cells --------------------------------------------------------------------------------- */

static bool ctl_value_numeric(const struct store_value *v)
{
    return v->kind == STORE_VALUE_INT || v->kind == STORE_VALUE_REAL;
}

/* The text of a value for a table or CSV, into buf (numbers) or borrowed (strings). */
static const char *ctl_value_text(const struct store_value *v, bool table, char buf[32])
{
    switch (v->kind) {
    case STORE_VALUE_NULL:
        return table ? "-" : "";
    case STORE_VALUE_INT:
        snprintf(buf, 32, "%lld", (long long)v->integer);
        return buf;
    case STORE_VALUE_REAL:
        return ctl_format_number(v->real, buf);
    case STORE_VALUE_BOOL:
        return v->integer ? (table ? "yes" : "true") : (table ? "no" : "false");
    default:
        return v->text;
    }
}

/* A copy of text for a table cell, with control characters (a newline in a meter's event
 * text) shown as spaces so every row stays on one line. NULL when out of memory. */
static char *ctl_cell_copy(const char *text)
{
    char *copy = strdup(text);
    for (char *c = copy; c != NULL && *c != '\0'; c++)
        if ((unsigned char)*c < 0x20 || *c == 0x7f)
            *c = ' ';
    return copy;
}

/* Columns a UTF-8 string takes on a terminal: one per code point. */
static size_t ctl_text_width(const char *s)
{
    size_t n = 0;
    for (; *s != '\0'; s++)
        if (((unsigned char)*s & 0xc0) != 0x80)
            n++;
    return n;
}

static void ctl_csv_field(const char *text)
{
    if (strpbrk(text, ",\"\r\n") == NULL) {
        fputs(text, stdout);
        return;
    }
    putchar('"');
    for (const char *c = text; *c != '\0'; c++) {
        if (*c == '"')
            putchar('"');
        putchar(*c);
    }
    putchar('"');
}

/* ---- JSON ---------------------------------------------------------------------------------- */

/* A details column: embedded as JSON when it holds an object or an array (what the service
 * writes), else kept as the string it is (a meter's own event text). */
static cJSON *ctl_json_details(const char *text)
{
    cJSON *parsed = cJSON_Parse(text);
    if (parsed != NULL && (cJSON_IsObject(parsed) || cJSON_IsArray(parsed)))
        return parsed;
    cJSON_Delete(parsed);
    return cJSON_CreateString(text);
}

static cJSON *ctl_json_value(const struct store_value *v)
{
    switch (v->kind) {
    case STORE_VALUE_INT:
        return cJSON_CreateNumber((double)v->integer);
    case STORE_VALUE_REAL:
        return cJSON_CreateNumber(v->real);
    case STORE_VALUE_BOOL:
        return cJSON_CreateBool(v->integer != 0);
    case STORE_VALUE_TEXT:
        return cJSON_CreateString(v->text);
    case STORE_VALUE_JSON:
        return ctl_json_details(v->text);
    default:
        return cJSON_CreateNull();
    }
}

int ctl_print_json(const struct cJSON *tree)
{
    char *text = cJSON_Print(tree);
    if (text == NULL) {
        fprintf(stderr, "shadowctl: out of memory\n");
        return CTL_FAILURE;
    }
    puts(text);
    cJSON_free(text);
    return CTL_OK;
}

/* ---- The writer ---------------------------------------------------------------------------- */

void ctl_writer_init(struct ctl_writer *w, enum ctl_format format, const char *progress_label)
{
    memset(w, 0, sizeof *w);
    w->format = format;
    w->progress_label = progress_label;
}

static int ctl_writer_begin(void *writer, const char *const *names, size_t count, size_t total)
{
    struct ctl_writer *w = writer;
    w->names = names;
    w->columns = count;
    if (w->progress_label != NULL && total >= CTL_PROGRESS_MIN_ROWS)
        ctl_progress_begin(&w->progress, w->progress_label, total);
    if (w->format == CTL_FORMAT_CSV) {
        for (size_t c = 0; c < count; c++) {
            if (c > 0)
                putchar(',');
            ctl_csv_field(names[c]);
        }
        putchar('\n');
    } else if (w->format == CTL_FORMAT_TABLE) {
        w->align = calloc(count, sizeof *w->align);
        if (w->align == NULL) {
            w->out_of_memory = true;
            return -1;
        }
    }
    return 0;
}

static int ctl_writer_json_row(struct ctl_writer *w, const struct store_value *values)
{
    cJSON *row = cJSON_CreateObject();
    bool ok = row != NULL;
    for (size_t c = 0; c < w->columns && ok; c++) {
        cJSON *item = ctl_json_value(&values[c]);
        ok = item != NULL && cJSON_AddItemToObject(row, w->names[c], item);
        if (!ok)
            cJSON_Delete(item);
    }
    char *text = ok ? cJSON_PrintUnformatted(row) : NULL;
    cJSON_Delete(row);
    if (text == NULL)
        return -1;
    fputs(w->written == 0 ? "[\n" : ",\n", stdout);
    fputs(text, stdout);
    cJSON_free(text);
    return 0;
}

static void ctl_writer_csv_row(struct ctl_writer *w, const struct store_value *values)
{
    char buf[32];
    for (size_t c = 0; c < w->columns; c++) {
        if (c > 0)
            putchar(',');
        ctl_csv_field(ctl_value_text(&values[c], false, buf));
    }
    putchar('\n');
}

static int ctl_writer_table_row(struct ctl_writer *w, const struct store_value *values)
{
    if (w->rows == w->cap) {
        size_t cap = w->cap ? w->cap * 2 : 64;
        char **cells = realloc(w->cells, cap * w->columns * sizeof *cells);
        if (cells == NULL)
            return -1;
        w->cells = cells;
        w->cap = cap;
    }
    char **row = &w->cells[w->rows * w->columns];
    char buf[32];
    for (size_t c = 0; c < w->columns; c++) {
        row[c] = ctl_cell_copy(ctl_value_text(&values[c], true, buf));
        if (row[c] == NULL) {
            while (c > 0)
                free(row[--c]);
            return -1;
        }
        /* A column of numbers goes right; any text in it sends it left for good. */
        if (values[c].kind != STORE_VALUE_NULL && w->align[c] != CTL_ALIGN_LEFT)
            w->align[c] = ctl_value_numeric(&values[c]) ? CTL_ALIGN_RIGHT : CTL_ALIGN_LEFT;
    }
    w->rows++;
    return 0;
}

static int ctl_writer_row(void *writer, const struct store_value *values, size_t count)
{
    struct ctl_writer *w = writer;
    int rc = 0;
    (void)count; /* always w->columns: the same query gave both */
    if (w->format == CTL_FORMAT_JSON)
        rc = ctl_writer_json_row(w, values);
    else if (w->format == CTL_FORMAT_CSV)
        ctl_writer_csv_row(w, values);
    else
        rc = ctl_writer_table_row(w, values);
    if (rc != 0) {
        w->out_of_memory = true;
        return rc;
    }
    w->written++;
    ctl_progress_update(&w->progress, w->written);
    /* A closed pipe (`| head`) ends the walk instead of reading rows nobody will see. */
    return ferror(stdout) ? -1 : 0;
}

struct store_sink ctl_writer_sink(struct ctl_writer *w)
{
    struct store_sink sink = {ctl_writer_begin, ctl_writer_row, w,
                              w->progress_label != NULL && isatty(STDERR_FILENO)};
    return sink;
}

static void ctl_table_line(const struct ctl_writer *w, char *const *cells, const size_t *width)
{
    for (size_t c = 0; c < w->columns; c++) {
        size_t pad = width[c] - ctl_text_width(cells[c]);
        bool last = c + 1 == w->columns;
        if (c > 0)
            fputs("  ", stdout);
        if (w->align[c] == CTL_ALIGN_RIGHT)
            printf("%*s%s", (int)pad, "", cells[c]);
        else
            printf("%s%*s", cells[c], last ? 0 : (int)pad, "");
    }
    putchar('\n');
}

static int ctl_writer_table(struct ctl_writer *w)
{
    char **header = calloc(w->columns, sizeof *header);
    size_t *width = calloc(w->columns, sizeof *width);
    bool ok = header != NULL && width != NULL;
    for (size_t c = 0; c < w->columns && ok; c++) {
        header[c] = strdup(w->names[c]);
        ok = header[c] != NULL;
        for (char *u = ok ? strchr(header[c], '_') : NULL; u != NULL; u = strchr(u, '_'))
            *u = ' ';
        width[c] = ok ? ctl_text_width(header[c]) : 0;
        for (size_t r = 0; r < w->rows && ok; r++) {
            size_t n = ctl_text_width(w->cells[r * w->columns + c]);
            width[c] = n > width[c] ? n : width[c];
        }
    }
    if (ok) {
        ctl_table_line(w, header, width);
        for (size_t r = 0; r < w->rows; r++)
            ctl_table_line(w, &w->cells[r * w->columns], width);
    }
    for (size_t c = 0; header != NULL && c < w->columns; c++)
        free(header[c]);
    free(header);
    free(width);
    return ok ? 0 : -1;
}

static int ctl_writer_finish(struct ctl_writer *w)
{
    ctl_progress_end(&w->progress);
    int rc = w->out_of_memory ? -1 : 0;
    if (rc == 0 && w->format == CTL_FORMAT_JSON)
        fputs(w->written == 0 ? "[]\n" : "\n]\n", stdout);
    else if (rc == 0 && w->format == CTL_FORMAT_TABLE && w->columns > 0)
        rc = ctl_writer_table(w);
    if (rc != 0) {
        fprintf(stderr, "shadowctl: out of memory\n");
        return CTL_FAILURE;
    }
    return CTL_OK;
}

static void ctl_writer_free(struct ctl_writer *w)
{
    for (size_t i = 0; i < w->rows * w->columns; i++)
        free(w->cells[i]);
    free(w->cells);
    free(w->align);
    ctl_progress_end(&w->progress);
    memset(w, 0, sizeof *w);
}

int ctl_writer_close(struct ctl_writer *w, const struct ctl *ctl, struct store *st, int query_rc,
                     const char *what)
{
    int rc;
    ctl_progress_end(&w->progress);
    if (query_rc < 0)
        rc = ctl_store_failed(ctl, st, what);
    else
        rc = ctl_writer_finish(w);
    ctl_writer_free(w);
    return rc;
}
