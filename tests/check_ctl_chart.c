/* check_ctl_chart.c — the terminal bar chart of `shadowctl intervals --chart`: scaling to the
 * largest value, eighth blocks, the sliver for tiny values, empty periods, two series on one
 * scale, widths, and refusing a chart without series. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "chart.h"

#define FULL "\u2588"

/* Line n (0 = the title) of text, copied into out. */
static const char *line_of(const char *text, int n, char *out, size_t cap)
{
    const char *p = text;
    for (int i = 0; i < n && p != NULL; i++) {
        p = strchr(p, '\n');
        p = p ? p + 1 : NULL;
    }
    ck_assert_ptr_nonnull(p);
    size_t len = strcspn(p, "\n");
    ck_assert_uint_lt(len, cap);
    memcpy(out, p, len);
    out[len] = '\0';
    return out;
}

/* Terminal columns of a UTF-8 line. */
static size_t columns(const char *s)
{
    size_t n = 0;
    for (; *s != '\0'; s++)
        if (((unsigned char)*s & 0xc0) != 0x80)
            n++;
    return n;
}

/* Occurrences of a (multi-byte) string. */
static size_t count_of(const char *s, const char *what)
{
    size_t n = 0;
    for (const char *p = strstr(s, what); p != NULL; p = strstr(p + strlen(what), what))
        n++;
    return n;
}

static size_t lines_of(const char *text)
{
    size_t n = 0;
    for (const char *p = text; *p != '\0'; p++)
        n += *p == '\n';
    return n;
}

static struct chart one_series(const struct chart_row *rows, size_t n, size_t width)
{
    struct chart c = {"title", "kWh", 1, {"in", NULL}, rows, n, width};
    return c;
}

START_TEST(the_largest_value_fills_the_bar_and_others_scale)
{
    struct chart_row rows[] = {
        {"00:00", true, {1.0, 0}}, {"00:30", true, {0.5, 0}}, {"01:00", true, {0.0, 0}}};
    struct chart c = one_series(rows, 3, 40);
    char *text = chart_render(&c);
    char line[512];
    ck_assert_ptr_nonnull(text);
    ck_assert_uint_eq(lines_of(text), 5);
    ck_assert_str_eq(line_of(text, 0, line, sizeof line), "title");
    ck_assert_str_eq(line_of(text, 1, line, sizeof line), "          in full bar: 1.000 kWh");
    /* Label 5 + 2 + value 5 + 1 leaves 27 columns of bar at width 40. */
    line_of(text, 2, line, sizeof line);
    ck_assert_uint_eq(count_of(line, FULL), 27);
    ck_assert_uint_eq(columns(line), 40);
    ck_assert(strncmp(line, "00:00  1.000 ", 13) == 0);
    /* Half of 27 columns is 13.5: 13 full blocks and a half block. */
    line_of(text, 3, line, sizeof line);
    ck_assert_uint_eq(count_of(line, FULL), 13);
    ck_assert_uint_eq(count_of(line, "\u258c"), 1);
    ck_assert_str_eq(line_of(text, 4, line, sizeof line), "01:00  0.000");
    free(text);
}
END_TEST

START_TEST(a_tiny_value_gets_a_sliver)
{
    struct chart_row rows[] = {{"a", true, {1000.0, 0}}, {"b", true, {0.001, 0}}};
    struct chart c = one_series(rows, 2, 60);
    char *text = chart_render(&c);
    char line[512];
    ck_assert_ptr_nonnull(text);
    line_of(text, 3, line, sizeof line);
    ck_assert_uint_eq(count_of(line, "\u258f"), 1);
    ck_assert_uint_eq(count_of(line, FULL), 0);
    free(text);
}
END_TEST

START_TEST(a_period_without_data_shows_a_dash_under_the_values)
{
    struct chart_row rows[] = {{"2026-11-27 00:00", true, {12.5, 0}},
                               {"2026-11-27 00:30", false, {0, 0}}};
    struct chart c = one_series(rows, 2, 80);
    char *text = chart_render(&c);
    char line[512];
    ck_assert_ptr_nonnull(text);
    /* The value column is 6 wide ("12.500"): the dash sits at its right edge. */
    ck_assert_str_eq(line_of(text, 3, line, sizeof line), "2026-11-27 00:30       -");
    free(text);
}
END_TEST

START_TEST(two_series_share_one_scale_and_the_width)
{
    struct chart_row rows[] = {{"12:00", true, {2.0, 1.0}}, {"12:30", true, {0.0, 2.0}}};
    struct chart c = {NULL, "kWh", 2, {"import", "export"}, rows, 2, 60};
    char *text = chart_render(&c);
    char line[512];
    ck_assert_ptr_nonnull(text);
    ck_assert_uint_eq(lines_of(text), 3); /* no title */
    line_of(text, 0, line, sizeof line);
    ck_assert_ptr_nonnull(strstr(line, "import"));
    ck_assert_ptr_nonnull(strstr(line, "export"));
    /* "full bar: 2.000 kWh" is wider than a bar of 18: the scale loses its words. */
    ck_assert_ptr_nonnull(strstr(line, " 2.000 kWh"));
    ck_assert_ptr_null(strstr(line, "full bar"));
    /* Label 5, then two of (2 + value 6 + 1): 23 fixed, 37 left, 18 columns each; the
     * column left over stays unused. */
    line_of(text, 1, line, sizeof line);
    ck_assert_uint_eq(count_of(line, FULL), 18 + 9);
    ck_assert_uint_eq(columns(line), 59 - 9);
    line_of(text, 2, line, sizeof line);
    ck_assert_uint_eq(count_of(line, FULL), 18);
    ck_assert_uint_eq(columns(line), 59);
    free(text);
}
END_TEST

START_TEST(no_line_ends_in_a_space_or_exceeds_the_width)
{
    struct chart_row rows[48];
    memset(rows, 0, sizeof rows);
    for (int i = 0; i < 48; i++) {
        snprintf(rows[i].label, sizeof rows[i].label, "2026-11-27 %02d:%02d", i / 2, i % 2 * 30);
        rows[i].has_value = i % 7 != 3;
        rows[i].value[0] = (double)(i % 12) * 0.05;
        rows[i].value[1] = 0;
    }
    for (size_t width = 20; width <= 120; width += 25) {
        struct chart c = one_series(rows, 48, width);
        char *text = chart_render(&c);
        char line[512];
        ck_assert_ptr_nonnull(text);
        ck_assert_uint_eq(lines_of(text), 50);
        for (int n = 0; n < 50; n++) {
            line_of(text, n, line, sizeof line);
            size_t len = strlen(line);
            ck_assert(len == 0 || line[len - 1] != ' ');
            ck_assert_uint_le(columns(line), width < CHART_WIDTH_MIN ? CHART_WIDTH_MIN : width);
        }
        free(text);
    }
}
END_TEST

START_TEST(nonsense_values_are_drawn_as_zero)
{
    struct chart_row rows[] = {{"a", true, {-5.0, 0}}, {"b", true, {INFINITY, 0}}};
    struct chart c = one_series(rows, 2, 40);
    char *text = chart_render(&c);
    char line[512];
    ck_assert_ptr_nonnull(text);
    ck_assert_str_eq(line_of(text, 2, line, sizeof line), "a  0.000");
    ck_assert_str_eq(line_of(text, 3, line, sizeof line), "b  0.000");
    free(text);
}
END_TEST

START_TEST(a_chart_needs_one_or_two_series)
{
    struct chart_row rows[] = {{"a", true, {1.0, 0}}};
    struct chart c = one_series(rows, 1, 80);
    c.series = 0;
    ck_assert_ptr_null(chart_render(&c));
    c.series = CHART_SERIES_MAX + 1;
    ck_assert_ptr_null(chart_render(&c));
}
END_TEST

START_TEST(an_empty_chart_is_its_heading)
{
    struct chart c = one_series(NULL, 0, 80);
    char *text = chart_render(&c);
    ck_assert_ptr_nonnull(text);
    ck_assert_str_eq(text, "title\n  in full bar: 0.000 kWh\n");
    free(text);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("chart");
    TCase *tc = tcase_create("render");
    tcase_add_test(tc, the_largest_value_fills_the_bar_and_others_scale);
    tcase_add_test(tc, a_tiny_value_gets_a_sliver);
    tcase_add_test(tc, a_period_without_data_shows_a_dash_under_the_values);
    tcase_add_test(tc, two_series_share_one_scale_and_the_width);
    tcase_add_test(tc, no_line_ends_in_a_space_or_exceeds_the_width);
    tcase_add_test(tc, nonsense_values_are_drawn_as_zero);
    tcase_add_test(tc, a_chart_needs_one_or_two_series);
    tcase_add_test(tc, an_empty_chart_is_its_heading);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
