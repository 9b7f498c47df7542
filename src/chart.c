/* chart.c — terminal bar charts, built as text (see chart.h).
 *
 * Layout of a line: the label padded to the longest label, then per series two spaces, the
 * value right-aligned to the widest value, a space and the bar. The bar width is what the line
 * width leaves, shared by the series; a bar's length is value / max × width in eighths of a
 * column, and a non-zero value always gets at least one eighth, so "tiny" never reads as "none".
 * Every column of padding is counted in code points, since block characters take three bytes. */
#include "chart.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CHART_BAR_MIN 4 /* a bar narrower than this says nothing */

/* Eighths of a column: index 1–7 are the partial blocks, 8 the full block. */
static const char *const chart_blocks[9] = {"",       "\u258f", "\u258e", "\u258d", "\u258c",
                                            "\u258b", "\u258a", "\u2589", "\u2588"};

/* ---- A growing string ---------------------------------------------------------------------- */

struct chart_text {
    char *buf;
    size_t len, cap;
    bool failed;
};

static void chart_put(struct chart_text *t, const char *s, size_t n)
{
    if (t->failed)
        return;
    if (t->len + n + 1 > t->cap) {
        size_t cap = t->cap ? t->cap : 256;
        while (cap < t->len + n + 1)
            cap *= 2;
        char *grown = realloc(t->buf, cap);
        if (grown == NULL) {
            t->failed = true;
            return;
        }
        t->buf = grown;
        t->cap = cap;
    }
    memcpy(t->buf + t->len, s, n);
    t->len += n;
    t->buf[t->len] = '\0';
}

static void chart_puts(struct chart_text *t, const char *s)
{
    chart_put(t, s, strlen(s));
}

static void chart_spaces(struct chart_text *t, size_t n)
{
    while (n-- > 0)
        chart_put(t, " ", 1);
}

/* Columns taken by UTF-8 text: one per code point. */
static size_t chart_width_of(const char *s)
{
    size_t n = 0;
    for (; *s != '\0'; s++)
        if (((unsigned char)*s & 0xc0) != 0x80)
            n++;
    return n;
}

/* ---- Measures ------------------------------------------------------------------------------ */

static double chart_clean(double v)
{
    return isfinite(v) && v > 0 ? v : 0;
}

static void chart_value_text(double v, char out[48])
{
    snprintf(out, 48, "%.*f", CHART_DECIMALS, chart_clean(v));
}

struct chart_layout {
    size_t label_w, value_w, bar_w;
    double max;
};

static void chart_measure(const struct chart *c, struct chart_layout *l)
{
    char text[48];
    memset(l, 0, sizeof *l);
    for (size_t s = 0; s < c->series; s++) {
        size_t n = c->series_name[s] ? chart_width_of(c->series_name[s]) : 0;
        l->value_w = n > l->value_w ? n : l->value_w;
    }
    for (size_t r = 0; r < c->row_count; r++) {
        const struct chart_row *row = &c->rows[r];
        size_t n = chart_width_of(row->label);
        l->label_w = n > l->label_w ? n : l->label_w;
        for (size_t s = 0; s < c->series && row->has_value; s++) {
            double v = chart_clean(row->value[s]);
            chart_value_text(v, text);
            l->value_w = strlen(text) > l->value_w ? strlen(text) : l->value_w;
            l->max = v > l->max ? v : l->max;
        }
    }
    size_t width = c->width > CHART_WIDTH_MIN ? c->width : CHART_WIDTH_MIN;
    size_t fixed = l->label_w + c->series * (2 + l->value_w + 1);
    l->bar_w = width > fixed ? (width - fixed) / c->series : 0;
    if (l->bar_w < CHART_BAR_MIN)
        l->bar_w = CHART_BAR_MIN;
}

/* ---- Drawing ------------------------------------------------------------------------------- */

/* The bar of v, in bar_w columns; padded with spaces unless it ends the line. */
static void chart_bar(struct chart_text *t, const struct chart_layout *l, double v, bool last)
{
    size_t eighths = 0, cells = l->bar_w * 8;
    if (l->max > 0 && v > 0) {
        double scaled = v / l->max * (double)cells;
        eighths = scaled >= (double)cells ? cells : (size_t)llround(scaled);
        if (eighths == 0)
            eighths = 1;
    }
    for (size_t i = 0; i < eighths / 8; i++)
        chart_puts(t, chart_blocks[8]);
    chart_puts(t, chart_blocks[eighths % 8]);
    if (!last)
        chart_spaces(t, l->bar_w - (eighths + 7) / 8);
}

/* The scale for the heading, in at most room columns: "full bar: 0.600 kWh", or without its
 * words, or nothing (every line shows its value anyway). */
static void chart_scale(const struct chart *c, const struct chart_layout *l, size_t room,
                        char out[96])
{
    char max[48];
    chart_value_text(l->max, max);
    const char *unit = c->unit && c->unit[0] ? c->unit : NULL;
    snprintf(out, 96, "full bar: %s%s%s", max, unit ? " " : "", unit ? unit : "");
    if (chart_width_of(out) > room)
        snprintf(out, 96, "%s%s%s", max, unit ? " " : "", unit ? unit : "");
    if (chart_width_of(out) > room)
        out[0] = '\0';
}

static void chart_heading(struct chart_text *t, const struct chart *c, const struct chart_layout *l)
{
    char scale[96];
    if (c->title != NULL) {
        chart_puts(t, c->title);
        chart_puts(t, "\n");
    }
    chart_scale(c, l, l->bar_w, scale);
    chart_spaces(t, l->label_w);
    for (size_t s = 0; s < c->series; s++) {
        const char *name = c->series_name[s] ? c->series_name[s] : "";
        chart_spaces(t, 2 + l->value_w - chart_width_of(name));
        chart_puts(t, name);
        if (s + 1 < c->series) {
            chart_spaces(t, 1 + l->bar_w);
        } else if (scale[0] != '\0') {
            chart_puts(t, " ");
            chart_puts(t, scale);
        }
    }
    chart_puts(t, "\n");
}

static void chart_line(struct chart_text *t, const struct chart *c, const struct chart_layout *l,
                       const struct chart_row *row)
{
    char text[48];
    chart_puts(t, row->label);
    if (!row->has_value) {
        /* Only the first value column says "-"; nothing trails it. */
        chart_spaces(t, l->label_w - chart_width_of(row->label) + 2 + l->value_w - 1);
        chart_puts(t, "-\n");
        return;
    }
    chart_spaces(t, l->label_w - chart_width_of(row->label));
    for (size_t s = 0; s < c->series; s++) {
        double v = chart_clean(row->value[s]);
        chart_value_text(v, text);
        chart_spaces(t, 2 + l->value_w - strlen(text));
        chart_puts(t, text);
        bool last = s + 1 == c->series;
        if (v > 0 || !last)
            chart_puts(t, " ");
        chart_bar(t, l, v, last);
    }
    chart_puts(t, "\n");
}

char *chart_render(const struct chart *c)
{
    struct chart_text t = {NULL, 0, 0, false};
    struct chart_layout l;
    if (c->series == 0 || c->series > CHART_SERIES_MAX)
        return NULL;
    chart_measure(c, &l);
    chart_heading(&t, c, &l);
    for (size_t r = 0; r < c->row_count; r++)
        chart_line(&t, c, &l, &c->rows[r]);
    if (t.failed || t.buf == NULL) {
        free(t.buf);
        return NULL;
    }
    return t.buf;
}
