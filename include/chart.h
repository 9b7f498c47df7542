/* chart.h — horizontal bar charts for a terminal (`shadowctl intervals --chart`).
 *
 * One line per period: its label, its value and a bar scaled so the largest value fills the bar
 * width, drawn with Unicode eighth blocks (▏▎▍▌▋▊▉█) for eight steps per column; a day of
 * half-hours is 48 lines an operator reads at a glance. Up to two series (import and export)
 * share one scale, side by side. Pure: builds UTF-8 text and prints nothing. */
#ifndef CHART_H
#define CHART_H

#include <stdbool.h>
#include <stddef.h>

#define CHART_SERIES_MAX 2
#define CHART_LABEL_MAX 32 /* bytes of a label, NUL included */
#define CHART_WIDTH_MIN 40 /* narrower widths are drawn at this width */
#define CHART_DECIMALS 3   /* values are shown as %.3f */

struct chart_row {
    char label[CHART_LABEL_MAX];    /* shown as is, left-aligned (UTF-8, one column per char) */
    bool has_value;                 /* false: a period without data, shown as "-", no bar */
    double value[CHART_SERIES_MAX]; /* drawn from 0; negative, NaN and inf are drawn as 0 */
};

struct chart {
    const char *title; /* the first line; NULL for none */
    const char *unit;  /* named in the scale line ("kWh") */
    size_t series;     /* 1 … CHART_SERIES_MAX */
    const char *series_name[CHART_SERIES_MAX];
    const struct chart_row *rows; /* borrowed */
    size_t row_count;
    size_t width; /* the widest line, in terminal columns */
};

/* Renders c: the title, a heading with the series names and the scale, then one line per row.
 * No line ends in a space, and none is wider than max(width, CHART_WIDTH_MIN) columns unless the
 * labels and values leave less than 4 columns per bar (bars are never narrower). Returns a
 * malloc'd, NUL-terminated string owned by the caller, or NULL when out of memory or when series is
 * 0 or beyond CHART_SERIES_MAX. */
char *chart_render(const struct chart *c);

#endif
