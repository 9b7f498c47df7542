/* check_tzone.c — local days and months from the tz database (SPEC §6, §8): London's 46/48/50
 * period days, local labels around midnight, local → UTC in the gap and the overlap, the footer
 * rule after the table, other zones, and TZif files built here byte by byte (slim, version 1,
 * corrupt, too large) so the parser is tested without the system files. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "isotime.h"
#include "tzone.h"

#define HOUR 3600
#define DAY 86400

/* UTC (or naive local) seconds of a civil date and time. */
static int64_t ts(int y, int mo, int d, int h, int mi)
{
    return isotime_days_from_civil(y, (unsigned)mo, (unsigned)d) * DAY + h * HOUR + mi * 60;
}

static void load(const char *name, struct tzone *tz)
{
    ck_assert_msg(tzone_load(name, tz) == 0, "cannot load %s", name);
}

static void assert_day(const struct tzone *tz, int64_t utc, const char *day, const char *month)
{
    char d[TZONE_DAY_LABEL_LEN], m[TZONE_MONTH_LABEL_LEN];
    ck_assert_int_eq(tzone_day_label(tz, utc, d), 0);
    ck_assert_int_eq(tzone_month_label(tz, utc, m), 0);
    ck_assert_str_eq(d, day);
    ck_assert_str_eq(m, month);
}

static int64_t to_utc(const struct tzone *tz, int64_t local)
{
    int64_t utc = -1;
    ck_assert_int_eq(tzone_local_to_utc(tz, local, &utc), 0);
    return utc;
}

/* --- Building TZif files (RFC 8536) --- */

struct writer {
    unsigned char *buf;
    size_t len;
    size_t cap;
};

static void put(struct writer *w, uint64_t v, size_t bytes)
{
    ck_assert(bytes <= 8 && w->len + bytes <= w->cap);
    for (size_t i = bytes; i-- > 0;)
        w->buf[w->len++] = (unsigned char)(v >> (8 * i));
}

/* Two local time types, 0 = GMT (+0) and 1 = BST (+1 h). */
static void put_block(struct writer *w, char version, size_t n, const int64_t *at,
                      const unsigned char *type, size_t timesize)
{
    put(w, 0x545a6966, 4); /* "TZif" */
    put(w, (unsigned char)version, 1);
    put(w, 0, 8); /* 15 unused bytes */
    put(w, 0, 7);
    put(w, 0, 4); /* isutcnt */
    put(w, 0, 4); /* isstdcnt */
    put(w, 0, 4); /* leapcnt */
    put(w, n, 4);
    put(w, 2, 4); /* typecnt */
    put(w, 8, 4); /* charcnt */
    for (size_t i = 0; i < n; i++)
        put(w, (uint64_t)at[i], timesize);
    for (size_t i = 0; i < n; i++)
        put(w, type[i], 1);
    put(w, 0, 4); /* GMT: utoff 0, isdst 0, desigidx 0 */
    put(w, 0x0000, 2);
    put(w, HOUR, 4); /* BST: utoff 3600, isdst 1, desigidx 4 */
    put(w, 0x0104, 2);
    memcpy(w->buf + w->len, "GMT\0BST\0", 8);
    w->len += 8;
}

/* A TZif file: version 0 (i.e. 1) has no footer; version '2' gets both blocks and the footer. */
static size_t build(unsigned char *buf, size_t cap, char version, size_t n, const int64_t *at,
                    const unsigned char *type, const char *footer)
{
    struct writer w = {buf, 0, cap};
    put_block(&w, version, n, at, type, 4);
    if (version == 0)
        return w.len;
    put_block(&w, version, n, at, type, 8);
    size_t flen = strlen(footer);
    ck_assert(w.len + flen + 2 <= cap);
    w.buf[w.len++] = '\n';
    memcpy(w.buf + w.len, footer, flen);
    w.len += flen;
    w.buf[w.len++] = '\n';
    return w.len;
}

/* London's table cut after 2007, as a slim file: the footer carries every later change. */
static const int64_t SLIM_AT[4] = {1143334800, 1162083600, 1174784400, 1193533200};
static const unsigned char SLIM_TYPE[4] = {1, 0, 1, 0};

static size_t build_slim_london(unsigned char *buf, size_t cap)
{
    return build(buf, cap, '2', 4, SLIM_AT, SLIM_TYPE, "GMT0BST,M3.5.0/1,M10.5.0");
}

/* A zone with no transitions, only a footer. */
static int parse_footer(const char *footer, struct tzone *tz)
{
    unsigned char buf[512];
    size_t len = build(buf, sizeof buf, '2', 0, NULL, NULL, footer);
    return tzone_parse(buf, len, tz);
}

static size_t read_system_file(const char *name, unsigned char *buf, size_t cap)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", TZONE_DEFAULT_DIR, name);
    FILE *f = fopen(path, "rb");
    ck_assert_ptr_nonnull(f);
    size_t len = fread(buf, 1, cap, f);
    fclose(f);
    ck_assert(len > 0 && len < cap);
    return len;
}

/* --- Europe/London: periods per local day and month --- */

START_TEST(london_spring_day_has_46_periods)
{
    struct tzone tz;
    load("Europe/London", &tz);
    ck_assert_int_eq(tzone_day_periods(&tz, 2025, 3, 30), 46);
    ck_assert_int_eq(tzone_day_periods(&tz, 2025, 3, 29), 48);
    ck_assert_int_eq(tzone_day_periods(&tz, 2025, 3, 31), 48);
}
END_TEST

START_TEST(london_autumn_day_has_50_periods)
{
    struct tzone tz;
    load("Europe/London", &tz);
    ck_assert_int_eq(tzone_day_periods(&tz, 2025, 10, 26), 50);
    ck_assert_int_eq(tzone_day_periods(&tz, 2025, 10, 25), 48);
    ck_assert_int_eq(tzone_day_periods(&tz, 2025, 10, 27), 48);
}
END_TEST

START_TEST(london_ordinary_days_have_48_periods)
{
    struct tzone tz;
    load("Europe/London", &tz);
    ck_assert_int_eq(tzone_day_periods(&tz, 2025, 6, 1), 48);
    ck_assert_int_eq(tzone_day_periods(&tz, 2025, 1, 15), 48);
    ck_assert_int_eq(tzone_day_periods(&tz, 2024, 2, 29), 48);
}
END_TEST

START_TEST(london_month_days_and_periods)
{
    struct tzone tz;
    load("Europe/London", &tz);
    ck_assert_int_eq(tzone_month_days(2025, 3), 31);
    ck_assert_int_eq(tzone_month_periods(&tz, 2025, 3), 1486);
    ck_assert_int_eq(tzone_month_days(2025, 10), 31);
    ck_assert_int_eq(tzone_month_periods(&tz, 2025, 10), 1490);
    ck_assert_int_eq(tzone_month_days(2025, 6), 30);
    ck_assert_int_eq(tzone_month_periods(&tz, 2025, 6), 1440);
    ck_assert_int_eq(tzone_month_periods(&tz, 2024, 2), 1392);
}
END_TEST

START_TEST(london_day_and_month_bounds)
{
    struct tzone tz;
    int64_t start = 0, end = 0;
    load("Europe/London", &tz);
    ck_assert_int_eq(tzone_day_bounds(&tz, 2025, 3, 30, &start, &end), 0);
    ck_assert_int_eq(start, 1743292800); /* 2025-03-30T00:00:00Z */
    ck_assert_int_eq(end, ts(2025, 3, 30, 23, 0));
    ck_assert_int_eq(tzone_day_bounds(&tz, 2025, 10, 26, &start, &end), 0);
    ck_assert_int_eq(start, ts(2025, 10, 25, 23, 0));
    ck_assert_int_eq(end, ts(2025, 10, 27, 0, 0));
    ck_assert_int_eq(tzone_month_bounds(&tz, 2025, 3, &start, &end), 0);
    ck_assert_int_eq(start, ts(2025, 3, 1, 0, 0));
    ck_assert_int_eq(end, ts(2025, 3, 31, 23, 0));
    ck_assert_int_eq(tzone_month_bounds(&tz, 2025, 12, &start, &end), 0);
    ck_assert_int_eq(start, ts(2025, 12, 1, 0, 0));
    ck_assert_int_eq(end, ts(2026, 1, 1, 0, 0));
}
END_TEST

/* --- Europe/London: which local day a period belongs to --- */

START_TEST(london_period_before_bst_midnight_is_next_local_day)
{
    struct tzone tz;
    int y = 0, m = 0, d = 0;
    load("Europe/London", &tz);
    ck_assert_int_eq(tzone_local_date(&tz, ts(2025, 6, 30, 23, 30), &y, &m, &d), 0);
    ck_assert_int_eq(y, 2025);
    ck_assert_int_eq(m, 7);
    ck_assert_int_eq(d, 1);
    assert_day(&tz, ts(2025, 6, 30, 23, 30), "2025-07-01", "2025-07");
    assert_day(&tz, ts(2025, 6, 30, 22, 30), "2025-06-30", "2025-06");
}
END_TEST

START_TEST(london_period_before_gmt_midnight_is_same_day)
{
    struct tzone tz;
    load("Europe/London", &tz);
    assert_day(&tz, ts(2025, 12, 31, 23, 30), "2025-12-31", "2025-12");
    assert_day(&tz, ts(2026, 1, 1, 0, 0), "2026-01-01", "2026-01");
}
END_TEST

START_TEST(london_offsets_change_at_0100_utc)
{
    struct tzone tz;
    load("Europe/London", &tz);
    ck_assert_int_eq(tzone_offset(&tz, ts(2025, 3, 30, 1, 0) - 1), 0);
    ck_assert_int_eq(tzone_offset(&tz, ts(2025, 3, 30, 1, 0)), HOUR);
    ck_assert_int_eq(tzone_offset(&tz, ts(2025, 10, 26, 1, 0) - 1), HOUR);
    ck_assert_int_eq(tzone_offset(&tz, ts(2025, 10, 26, 1, 0)), 0);
}
END_TEST

START_TEST(london_history_comes_from_the_table)
{
    struct tzone tz;
    load("Europe/London", &tz);
    ck_assert_int_eq(tzone_offset(&tz, 0), HOUR); /* British Standard Time, 1970 */
    ck_assert_int_eq(tzone_offset(&tz, ts(1800, 1, 1, 0, 0)), -75); /* local mean time */
}
END_TEST

/* --- Europe/London: local wall time to UTC (SPEC §8 activation_datetime) --- */

START_TEST(london_local_to_utc_summer_and_winter)
{
    struct tzone tz;
    load("Europe/London", &tz);
    ck_assert_int_eq(to_utc(&tz, ts(2025, 4, 1, 0, 0)), ts(2025, 3, 31, 23, 0));
    ck_assert_int_eq(to_utc(&tz, ts(2025, 1, 15, 0, 0)), ts(2025, 1, 15, 0, 0));
}
END_TEST

START_TEST(london_spring_gap_moves_forward_by_the_gap)
{
    struct tzone tz;
    load("Europe/London", &tz);
    /* 01:30 does not exist on 2025-03-30: it becomes 02:30 BST. */
    ck_assert_int_eq(to_utc(&tz, ts(2025, 3, 30, 1, 30)), ts(2025, 3, 30, 1, 30));
    ck_assert_int_eq(to_utc(&tz, ts(2025, 3, 30, 1, 0)), ts(2025, 3, 30, 1, 0));
    ck_assert_int_eq(to_utc(&tz, ts(2025, 3, 30, 0, 59)), ts(2025, 3, 30, 0, 59));
    ck_assert_int_eq(to_utc(&tz, ts(2025, 3, 30, 2, 0)), ts(2025, 3, 30, 1, 0));
}
END_TEST

START_TEST(london_autumn_overlap_takes_the_first_instant)
{
    struct tzone tz;
    load("Europe/London", &tz);
    /* 01:30 happens twice on 2025-10-26: 00:30Z (BST) is chosen, not 01:30Z (GMT). */
    ck_assert_int_eq(to_utc(&tz, ts(2025, 10, 26, 1, 30)), ts(2025, 10, 26, 0, 30));
    ck_assert_int_eq(to_utc(&tz, ts(2025, 10, 26, 0, 59)), ts(2025, 10, 25, 23, 59));
    ck_assert_int_eq(to_utc(&tz, ts(2025, 10, 26, 2, 0)), ts(2025, 10, 26, 2, 0));
}
END_TEST

/* --- Europe/London: after the table, from the footer rule --- */

START_TEST(london_2045_clock_changes_come_from_the_footer)
{
    struct tzone tz;
    load("Europe/London", &tz);
    ck_assert(tz.has_rule);
    ck_assert_str_eq(tz.rule.std_name, "GMT");
    ck_assert_str_eq(tz.rule.dst_name, "BST");
    ck_assert(tz.count > 0 && tz.at[tz.count - 1] < ts(2045, 1, 1, 0, 0));
    /* The last Sunday of March 2045 is the 26th; of October, the 29th. */
    ck_assert_int_eq(tzone_day_periods(&tz, 2045, 3, 26), 46);
    ck_assert_int_eq(tzone_day_periods(&tz, 2045, 3, 19), 48);
    ck_assert_int_eq(tzone_day_periods(&tz, 2045, 10, 29), 50);
    ck_assert_int_eq(tzone_offset(&tz, ts(2045, 3, 26, 1, 0) - 1), 0);
    ck_assert_int_eq(tzone_offset(&tz, ts(2045, 3, 26, 1, 0)), HOUR);
    ck_assert_int_eq(to_utc(&tz, ts(2045, 7, 1, 0, 0)), ts(2045, 6, 30, 23, 0));
    assert_day(&tz, ts(2045, 6, 30, 23, 30), "2045-07-01", "2045-07");
}
END_TEST

/* --- Other zones --- */

START_TEST(utc_zone_has_48_periods_every_day)
{
    struct tzone tz;
    load("UTC", &tz);
    ck_assert_int_eq(tzone_offset(&tz, ts(2025, 7, 1, 0, 0)), 0);
    ck_assert_int_eq(tzone_day_periods(&tz, 2025, 3, 30), 48);
    ck_assert_int_eq(tzone_day_periods(&tz, 2025, 10, 26), 48);
    ck_assert_int_eq(tzone_month_periods(&tz, 2025, 3), 1488);
    ck_assert_int_eq(to_utc(&tz, ts(2025, 3, 30, 1, 30)), ts(2025, 3, 30, 1, 30));
    assert_day(&tz, ts(2025, 6, 30, 23, 30), "2025-06-30", "2025-06");
}
END_TEST

START_TEST(new_york_spring_day_has_46_periods)
{
    struct tzone tz;
    int64_t start = 0, end = 0;
    load("America/New_York", &tz);
    ck_assert_int_eq(tzone_day_periods(&tz, 2025, 3, 9), 46);
    ck_assert_int_eq(tzone_day_periods(&tz, 2025, 11, 2), 50);
    ck_assert_int_eq(tzone_day_bounds(&tz, 2025, 3, 9, &start, &end), 0);
    ck_assert_int_eq(start, ts(2025, 3, 9, 5, 0));
    ck_assert_int_eq(end, ts(2025, 3, 10, 4, 0));
    ck_assert_int_eq(to_utc(&tz, ts(2025, 3, 9, 2, 30)), ts(2025, 3, 9, 7, 30));
    ck_assert_int_eq(to_utc(&tz, ts(2025, 11, 2, 1, 30)), ts(2025, 11, 2, 5, 30));
}
END_TEST

START_TEST(kathmandu_period_goes_to_the_day_of_its_start)
{
    struct tzone tz;
    int64_t start = 0, end = 0;
    load("Asia/Kathmandu", &tz);
    ck_assert_int_eq(tzone_offset(&tz, ts(2025, 6, 1, 0, 0)), 5 * HOUR + 45 * 60);
    ck_assert_int_eq(tzone_day_bounds(&tz, 2025, 6, 1, &start, &end), 0);
    ck_assert_int_eq(start, ts(2025, 5, 31, 18, 15));
    ck_assert_int_eq(end, ts(2025, 6, 1, 18, 15));
    /* 18:00Z–18:30Z straddles local midnight; it starts at 23:45 on the 31st. */
    assert_day(&tz, ts(2025, 5, 31, 18, 0), "2025-05-31", "2025-05");
    assert_day(&tz, ts(2025, 5, 31, 18, 30), "2025-06-01", "2025-06");
    ck_assert_int_eq(tzone_day_periods(&tz, 2025, 6, 1), 48);
    ck_assert_int_eq(tzone_month_periods(&tz, 2025, 6), 1440);
}
END_TEST

START_TEST(lord_howe_half_hour_shift_gives_49_and_47)
{
    struct tzone tz;
    load("Australia/Lord_Howe", &tz);
    ck_assert_int_eq(tzone_day_periods(&tz, 2025, 4, 6), 49);
    ck_assert_int_eq(tzone_day_periods(&tz, 2025, 10, 5), 47);
}
END_TEST

/* --- Loading --- */

START_TEST(load_refuses_bad_names)
{
    struct tzone tz;
    ck_assert_int_eq(tzone_load(NULL, &tz), -1);
    ck_assert_int_eq(tzone_load("", &tz), -1);
    ck_assert_int_eq(tzone_load("/etc/passwd", &tz), -1);
    ck_assert_int_eq(tzone_load("../zoneinfo/UTC", &tz), -1);
    ck_assert_int_eq(tzone_load("Europe/../UTC", &tz), -1);
    ck_assert_int_eq(tzone_load("Europe/Londn", &tz), -1);
    ck_assert_int_eq(tzone_load("Europe", &tz), -1); /* a directory */
    char long_name[5000];
    memset(long_name, 'A', sizeof long_name - 1);
    long_name[sizeof long_name - 1] = '\0';
    ck_assert_int_eq(tzone_load(long_name, &tz), -1); /* path too long */
}
END_TEST

START_TEST(load_reads_from_tzdir)
{
    char dir[] = P_tmpdir "/check_tzone.XXXXXX";
    char path[sizeof dir + 16];
    unsigned char buf[1024];
    struct tzone tz;
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/Slim", dir);
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    size_t len = build_slim_london(buf, sizeof buf);
    ck_assert_uint_eq(fwrite(buf, 1, len, f), len);
    fclose(f);
    ck_assert_int_eq(setenv("TZDIR", dir, 1), 0);
    ck_assert_int_eq(tzone_load("Slim", &tz), 0);
    ck_assert_int_eq(tzone_day_periods(&tz, 2025, 3, 30), 46);
    ck_assert_int_eq(tzone_load("Europe/London", &tz), -1);
    unsetenv("TZDIR");
    ck_assert_int_eq(unlink(path), 0);
    ck_assert_int_eq(rmdir(dir), 0);
}
END_TEST

START_TEST(load_refuses_an_oversized_file)
{
    char dir[] = P_tmpdir "/check_tzone.XXXXXX";
    char path[sizeof dir + 16];
    static unsigned char big[TZONE_MAX_FILE + 1];
    struct tzone tz;
    ck_assert_ptr_nonnull(mkdtemp(dir));
    snprintf(path, sizeof path, "%s/Big", dir);
    size_t len = build_slim_london(big, sizeof big);
    memset(big + len, '\n', sizeof big - len); /* valid prefix, then too many bytes */
    FILE *f = fopen(path, "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_uint_eq(fwrite(big, 1, sizeof big, f), sizeof big);
    fclose(f);
    ck_assert_int_eq(setenv("TZDIR", dir, 1), 0);
    ck_assert_int_eq(tzone_load("Big", &tz), -1);
    unsetenv("TZDIR");
    ck_assert_int_eq(unlink(path), 0);
    ck_assert_int_eq(rmdir(dir), 0);
}
END_TEST

/* --- Parsing built TZif buffers --- */

START_TEST(parse_slim_london_uses_footer_after_2007)
{
    unsigned char buf[1024];
    struct tzone tz;
    size_t len = build_slim_london(buf, sizeof buf);
    ck_assert_int_eq(tzone_parse(buf, len, &tz), 0);
    ck_assert_uint_eq(tz.count, 4);
    ck_assert_int_eq(tzone_offset(&tz, ts(2007, 7, 1, 0, 0)), HOUR);
    ck_assert_int_eq(tzone_offset(&tz, ts(2005, 7, 1, 0, 0)), 0); /* before: type 0 */
    ck_assert_int_eq(tzone_day_periods(&tz, 2025, 3, 30), 46);
    ck_assert_int_eq(tzone_day_periods(&tz, 2025, 10, 26), 50);
    ck_assert_int_eq(tzone_month_periods(&tz, 2025, 3), 1486);
}
END_TEST

START_TEST(parse_slim_london_agrees_with_the_system_file)
{
    unsigned char buf[1024];
    struct tzone slim, fat;
    ck_assert_int_eq(tzone_parse(buf, build_slim_london(buf, sizeof buf), &slim), 0);
    load("Europe/London", &fat);
    int64_t differ = 0; /* counted, not asserted per step: an assertion per step is slow */
    for (int64_t t = ts(2007, 1, 1, 0, 0); t < ts(2060, 1, 1, 0, 0); t += 1800)
        differ += tzone_offset(&slim, t) != tzone_offset(&fat, t);
    ck_assert_int_eq(differ, 0);
}
END_TEST

START_TEST(parse_version_1_keeps_last_offset)
{
    unsigned char buf[1024];
    struct tzone tz;
    size_t len = build(buf, sizeof buf, 0, 4, SLIM_AT, SLIM_TYPE, NULL);
    ck_assert_int_eq(tzone_parse(buf, len, &tz), 0);
    ck_assert(!tz.has_rule);
    ck_assert_int_eq(tzone_offset(&tz, ts(2007, 7, 1, 0, 0)), HOUR);
    ck_assert_int_eq(tzone_offset(&tz, ts(2025, 7, 1, 0, 0)), 0);
    ck_assert_int_eq(tzone_day_periods(&tz, 2025, 3, 30), 48);
    buf[len] = 0;
    ck_assert_int_eq(tzone_parse(buf, len + 1, &tz), -1); /* nothing may follow the block */
}
END_TEST

START_TEST(parse_empty_footer_keeps_last_offset)
{
    unsigned char buf[1024];
    struct tzone tz;
    size_t len = build(buf, sizeof buf, '2', 4, SLIM_AT, SLIM_TYPE, "");
    ck_assert_int_eq(tzone_parse(buf, len, &tz), 0);
    ck_assert(!tz.has_rule);
    ck_assert_int_eq(tzone_offset(&tz, ts(2025, 7, 1, 0, 0)), 0);
}
END_TEST

START_TEST(parse_caps_the_transition_table)
{
    static int64_t at[TZONE_MAX_TRANSITIONS + 1];
    static unsigned char type[TZONE_MAX_TRANSITIONS + 1];
    static unsigned char buf[32768];
    struct tzone tz;
    for (size_t i = 0; i < TZONE_MAX_TRANSITIONS + 1; i++) {
        at[i] = (int64_t)i * DAY;
        type[i] = (unsigned char)(i % 2);
    }
    size_t len = build(buf, sizeof buf, '2', TZONE_MAX_TRANSITIONS, at, type, "GMT0");
    ck_assert_int_eq(tzone_parse(buf, len, &tz), 0);
    ck_assert_uint_eq(tz.count, TZONE_MAX_TRANSITIONS);
    len = build(buf, sizeof buf, '2', TZONE_MAX_TRANSITIONS + 1, at, type, "GMT0");
    ck_assert_int_eq(tzone_parse(buf, len, &tz), -1);
}
END_TEST

START_TEST(parse_refuses_every_truncation_of_london)
{
    static unsigned char buf[TZONE_MAX_FILE];
    struct tzone tz;
    size_t len = read_system_file("Europe/London", buf, sizeof buf);
    ck_assert_int_eq(tzone_parse(buf, len, &tz), 0);
    for (size_t cut = 0; cut < len; cut++)
        ck_assert_msg(tzone_parse(buf, cut, &tz) == -1, "accepted %zu of %zu bytes", cut, len);
}
END_TEST

/* Offsets of the second (64-bit) block of the slim build, for corrupting it. */
#define V1_LEN (44 + 4 * 5 + 12 + 8)
#define V2_TIMES (V1_LEN + 44)
#define V2_INDEX (V2_TIMES + 4 * 8)
#define V2_TYPES (V2_INDEX + 4)

static int parse_corrupted(size_t at, unsigned char value)
{
    unsigned char buf[1024];
    struct tzone tz;
    size_t len = build_slim_london(buf, sizeof buf);
    buf[at] = value;
    return tzone_parse(buf, len, &tz);
}

START_TEST(parse_refuses_garbage)
{
    unsigned char buf[1024];
    struct tzone tz;
    size_t len = build_slim_london(buf, sizeof buf);
    ck_assert_int_eq(tzone_parse(buf, len, &tz), 0); /* the baseline is good */
    ck_assert_int_eq(tzone_parse(NULL, 0, &tz), -1);
    ck_assert_int_eq(tzone_parse((const unsigned char *)"not a tzif file at all", 22, &tz), -1);
    ck_assert_int_eq(parse_corrupted(0, 'X'), -1);                 /* magic */
    ck_assert_int_eq(parse_corrupted(4, '5'), -1);                 /* unknown version */
    ck_assert_int_eq(parse_corrupted(V1_LEN + 4, 0), -1);          /* second header says 1 */
    ck_assert_int_eq(parse_corrupted(V1_LEN + 31, 1), -1);         /* leap second records */
    ck_assert_int_eq(parse_corrupted(V2_INDEX + 2, 2), -1);        /* type index out of range */
    ck_assert_int_eq(parse_corrupted(V2_TIMES + 8 + 4, 0), -1);    /* times not ascending */
    ck_assert_int_eq(parse_corrupted(V2_TYPES + 6 + 1, 0x7f), -1); /* offset beyond 26 h */
    ck_assert_int_eq(parse_corrupted(V2_TYPES + 6 + 4, 2), -1);    /* isdst not 0 or 1 */
    ck_assert_int_eq(parse_corrupted(V2_TYPES + 6 + 5, 8), -1);    /* abbreviation index */
    ck_assert_int_eq(parse_corrupted(len - 1, 'x'), -1);           /* footer unterminated */
    ck_assert_int_eq(parse_corrupted(len - 26, 'x'), -1);          /* no newline before footer */
    buf[len] = '\n';
    ck_assert_int_eq(tzone_parse(buf, len + 1, &tz), -1); /* trailing bytes */
}
END_TEST

/* --- POSIX TZ footer forms --- */

static void assert_footer_change(const char *footer, int64_t at, int32_t before, int32_t after)
{
    struct tzone tz;
    ck_assert_msg(parse_footer(footer, &tz) == 0, "refused %s", footer);
    ck_assert_int_eq(tzone_offset(&tz, at - 1), before);
    ck_assert_int_eq(tzone_offset(&tz, at), after);
}

START_TEST(footer_fixed_zones)
{
    struct tzone tz;
    ck_assert_int_eq(parse_footer("UTC0", &tz), 0);
    ck_assert_int_eq(tzone_offset(&tz, ts(2025, 7, 1, 0, 0)), 0);
    ck_assert_str_eq(tz.rule.std_name, "UTC");
    ck_assert_int_eq(parse_footer("<+0545>-5:45", &tz), 0);
    ck_assert_str_eq(tz.rule.std_name, "+0545");
    ck_assert_int_eq(tzone_offset(&tz, ts(2025, 7, 1, 0, 0)), 20700);
    ck_assert_int_eq(parse_footer("<-0930>9:30", &tz), 0);
    ck_assert_int_eq(tzone_offset(&tz, 0), -34200);
}
END_TEST

START_TEST(footer_rules)
{
    assert_footer_change("GMT0BST,M3.5.0/1,M10.5.0", ts(2025, 3, 30, 1, 0), 0, HOUR);
    assert_footer_change("CET-1CEST,M3.5.0,M10.5.0/3", ts(2025, 3, 30, 1, 0), HOUR, 2 * HOUR);
    assert_footer_change("CET-1CEST,M3.5.0,M10.5.0/3", ts(2025, 10, 26, 1, 0), 2 * HOUR, HOUR);
    assert_footer_change("EST5EDT,M3.2.0,M11.1.0", ts(2025, 3, 9, 7, 0), -5 * HOUR, -4 * HOUR);
    /* Southern hemisphere: daylight time spans New Year. */
    assert_footer_change("AEST-10AEDT,M10.1.0,M4.1.0/3", ts(2025, 4, 5, 16, 0), 11 * HOUR,
                         10 * HOUR);
    /* Negative daylight saving (Europe/Dublin): winter is the "daylight" period. */
    assert_footer_change("IST-1GMT0,M10.5.0,M3.5.0/1", ts(2025, 10, 26, 1, 0), HOUR, 0);
    /* RFC 8536 extensions: times beyond 24 h and negative. 4th Thursday of March 2025 = 27th. */
    assert_footer_change("EET-2EEST,M3.4.4/50,M10.4.4/50", ts(2025, 3, 29, 0, 0), 2 * HOUR,
                         3 * HOUR);
    assert_footer_change("<-02>2<-01>,M3.5.0/-1,M10.5.0/0", ts(2025, 3, 30, 1, 0), -2 * HOUR,
                         -HOUR);
    assert_footer_change("<+1245>-12:45<+1345>,M9.5.0/2:45,M4.1.0/3:45", ts(2025, 4, 5, 14, 0),
                         49500, 45900);
}
END_TEST

START_TEST(footer_refuses_unsupported_or_malformed)
{
    static const char *const bad[] = {
        "EST5EDT",                     /* daylight name without a rule */
        "EST5EDT,J60,J300",            /* Julian day forms */
        "EST5EDT,60,300",              /* zero-based day forms */
        "GMT0BST,M13.5.0,M10.5.0",     /* month */
        "GMT0BST,M3.6.0,M10.5.0",      /* week */
        "GMT0BST,M3.5.7,M10.5.0",      /* weekday */
        "GMT0BST,M3.5.0/168,M10.5.0",  /* rule time beyond 167 h */
        "GMT0BST,M3.5.0,M10.5.0,",     /* trailing bytes */
        "GMT0BST,M3.5.0",              /* one end only */
        "GMT0BS,M3.5.0,M10.5.0",       /* daylight name too short */
        "GMT0BST-1:60,M3.5.0,M10.5.0", /* daylight offset minutes */
        "GM0",                         /* name too short */
        "GMT",                         /* no offset */
        "GMT25",                       /* offset beyond 24 h */
        "GMT0:60",                     /* minutes */
        "<+05",                        /* unclosed name */
        "ABCDEFGHIJKLMNOPQRSTUVWXYZ0", /* name longer than TZONE_ABBR_MAX */
    };
    struct tzone tz;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(parse_footer(bad[i], &tz) == -1, "accepted %s", bad[i]);
}
END_TEST

/* --- Midnight inside a gap, and range limits --- */

START_TEST(day_starting_in_a_gap_starts_at_the_clock_change)
{
    struct tzone tz;
    int64_t start = 0, end = 0;
    int y = 0, m = 0, d = 0;
    /* Clocks jump from 23:30 on Sunday 2025-03-30 to 00:30 on the 31st: midnight is skipped. */
    ck_assert_int_eq(parse_footer("AAA0BBB-1,M3.5.0/23:30,M10.5.0", &tz), 0);
    ck_assert_int_eq(tzone_day_bounds(&tz, 2025, 3, 31, &start, &end), 0);
    ck_assert_int_eq(start, ts(2025, 3, 30, 23, 30));
    ck_assert_int_eq(end, ts(2025, 3, 31, 23, 0));
    ck_assert_int_eq(tzone_local_date(&tz, start, &y, &m, &d), 0);
    ck_assert_int_eq(d, 31);
    ck_assert_int_eq(tzone_local_date(&tz, start - 1, &y, &m, &d), 0);
    ck_assert_int_eq(d, 30);
    ck_assert_int_eq(tzone_day_periods(&tz, 2025, 3, 30), 47);
    ck_assert_int_eq(tzone_day_periods(&tz, 2025, 3, 31), 47);
    /* A wall time in the gap still moves forward by the gap. */
    ck_assert_int_eq(to_utc(&tz, ts(2025, 3, 31, 0, 0)), ts(2025, 3, 31, 0, 0));
}
END_TEST

START_TEST(calendar_refuses_invalid_dates)
{
    struct tzone tz;
    int64_t start = 7, end = 7;
    load("Europe/London", &tz);
    ck_assert_int_eq(tzone_day_bounds(&tz, 2025, 2, 29, &start, &end), -1);
    ck_assert_int_eq(tzone_day_bounds(&tz, 2025, 13, 1, &start, &end), -1);
    ck_assert_int_eq(tzone_day_bounds(&tz, 0, 1, 1, &start, &end), -1);
    ck_assert_int_eq(tzone_month_bounds(&tz, 10000, 1, &start, &end), -1);
    ck_assert_int_eq(start, 7);
    ck_assert_int_eq(end, 7);
    ck_assert_int_eq(tzone_day_periods(&tz, 2025, 4, 31), -1);
    ck_assert_int_eq(tzone_month_periods(&tz, 2025, 0), -1);
    ck_assert_int_eq(tzone_month_days(2024, 2), 29);
    ck_assert_int_eq(tzone_month_days(2025, 2), 28);
    ck_assert_int_eq(tzone_month_days(1900, 2), 28);
    ck_assert_int_eq(tzone_month_days(2000, 2), 29);
    ck_assert_int_eq(tzone_month_days(2025, 0), -1);
    ck_assert_int_eq(tzone_month_days(2025, 13), -1);
}
END_TEST

START_TEST(range_limits)
{
    struct tzone tz;
    char label[TZONE_DAY_LABEL_LEN];
    int64_t utc = 7;
    int y, m, d;
    ck_assert_int_eq(parse_footer("<+14>-14", &tz), 0);
    ck_assert_int_eq(tzone_day_label(&tz, ts(9999, 12, 31, 9, 59), label), 0);
    ck_assert_str_eq(label, "9999-12-31");
    ck_assert_int_eq(tzone_day_label(&tz, ts(9999, 12, 31, 10, 0), label), -1);
    ck_assert_str_eq(label, "");
    ck_assert_int_eq(tzone_month_label(&tz, ts(9999, 12, 31, 10, 0), label), -1);
    ck_assert_str_eq(label, "");
    ck_assert_int_eq(tzone_local_to_utc(&tz, TZONE_TIME_LIMIT + 1, &utc), -1);
    ck_assert_int_eq(utc, 7);
    ck_assert_int_eq(tzone_local_date(&tz, -TZONE_TIME_LIMIT - 1, &y, &m, &d), -1);
    ck_assert_int_eq(tzone_offset(&tz, INT64_MAX), 14 * HOUR);
    load("Europe/London", &tz);
    ck_assert_int_eq(tzone_offset(&tz, INT64_MIN), -75);
    ck_assert_int_eq(tzone_offset(&tz, INT64_MAX), 0);
    ck_assert_int_eq(tzone_day_periods(&tz, 9999, 12, 31), 48);
    ck_assert_int_eq(tzone_day_periods(&tz, 1, 1, 1), 48);
}
END_TEST

static Suite *tzone_suite(void)
{
    Suite *s = suite_create("tzone");
    TCase *london = tcase_create("london");
    tcase_add_test(london, london_spring_day_has_46_periods);
    tcase_add_test(london, london_autumn_day_has_50_periods);
    tcase_add_test(london, london_ordinary_days_have_48_periods);
    tcase_add_test(london, london_month_days_and_periods);
    tcase_add_test(london, london_day_and_month_bounds);
    tcase_add_test(london, london_period_before_bst_midnight_is_next_local_day);
    tcase_add_test(london, london_period_before_gmt_midnight_is_same_day);
    tcase_add_test(london, london_offsets_change_at_0100_utc);
    tcase_add_test(london, london_history_comes_from_the_table);
    tcase_add_test(london, london_local_to_utc_summer_and_winter);
    tcase_add_test(london, london_spring_gap_moves_forward_by_the_gap);
    tcase_add_test(london, london_autumn_overlap_takes_the_first_instant);
    tcase_add_test(london, london_2045_clock_changes_come_from_the_footer);
    suite_add_tcase(s, london);

    TCase *zones = tcase_create("zones");
    tcase_add_test(zones, utc_zone_has_48_periods_every_day);
    tcase_add_test(zones, new_york_spring_day_has_46_periods);
    tcase_add_test(zones, kathmandu_period_goes_to_the_day_of_its_start);
    tcase_add_test(zones, lord_howe_half_hour_shift_gives_49_and_47);
    tcase_add_test(zones, load_refuses_bad_names);
    tcase_add_test(zones, load_reads_from_tzdir);
    tcase_add_test(zones, load_refuses_an_oversized_file);
    suite_add_tcase(s, zones);

    TCase *tzif = tcase_create("tzif");
    tcase_add_test(tzif, parse_slim_london_uses_footer_after_2007);
    tcase_add_test(tzif, parse_slim_london_agrees_with_the_system_file);
    tcase_add_test(tzif, parse_version_1_keeps_last_offset);
    tcase_add_test(tzif, parse_empty_footer_keeps_last_offset);
    tcase_add_test(tzif, parse_caps_the_transition_table);
    tcase_add_test(tzif, parse_refuses_every_truncation_of_london);
    tcase_add_test(tzif, parse_refuses_garbage);
    tcase_add_test(tzif, footer_fixed_zones);
    tcase_add_test(tzif, footer_rules);
    tcase_add_test(tzif, footer_refuses_unsupported_or_malformed);
    tcase_add_test(tzif, day_starting_in_a_gap_starts_at_the_clock_change);
    tcase_add_test(tzif, calendar_refuses_invalid_dates);
    tcase_add_test(tzif, range_limits);
    suite_add_tcase(s, tzif);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(tzone_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
