/* tzone.c — local time of a named zone, read from compiled TZif files (RFC 8536).
 *
 * Daily and monthly aggregates are cut on local days (SPEC §6) and a tariff's activation time may
 * be UK local time (SPEC §8). The C library answers such questions only through TZ, tzset and
 * localtime: one zone per process, global state, not thread-safe. So this module reads the zone's
 * TZif file itself and keeps the rules of the tz database rather than hand-written ones.
 *
 * The model: a zone's UT offset is a step function of the UTC instant. The file's table gives the
 * steps up to its last transition ("fat" files run to 2037, "slim" ones stop around 2007); after
 * it the footer's POSIX TZ rule (e.g. `GMT0BST,M3.5.0/1,M10.5.0`) generates them year by year.
 * Going back from a local wall time to UTC inverts the step function by trying the few offsets in
 * force around that time: none fitting means a spring gap, two fitting an autumn overlap.
 *
 * A local day runs from the first instant of its date to the first instant of the next. A day's
 * HH periods are the UTC half-hours starting inside it, so a period is assigned by the local date
 * of its start; that is exact for London, whose days begin on UTC half-hours, and still counts
 * every period once in zones with 15- or 45-minute offsets. */
#include "tzone.h"

#include "isotime.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DAY 86400
#define HH 1800
#define HOUR 3600
/* Wider than any UT offset (RFC 8536 bounds them below 26 h), so the instants one span before and
 * after a local time see the offsets on both sides of a clock change near it. */
#define SPAN (2 * DAY)
#define UTOFF_MIN (-89999) /* -24:59:59, RFC 8536 §3.2 */
#define UTOFF_MAX 93599    /* +25:59:59 */
#define HEADER_LEN 44
#define DEFAULT_RULE_TIME (2 * HOUR) /* POSIX: a rule date without /time means 02:00 */

/* --- Arithmetic --- */

static int64_t floor_div(int64_t a, int64_t b)
{
    int64_t q = a / b;
    return (a % b != 0 && a < 0) ? q - 1 : q;
}

static int64_t ceil_div(int64_t a, int64_t b)
{
    return -floor_div(-a, b);
}

static int64_t clamp_time(int64_t t)
{
    if (t < -TZONE_TIME_LIMIT)
        return -TZONE_TIME_LIMIT;
    return t > TZONE_TIME_LIMIT ? TZONE_TIME_LIMIT : t;
}

static bool in_limit(int64_t t)
{
    return t >= -TZONE_TIME_LIMIT && t <= TZONE_TIME_LIMIT;
}

static int days_in_month(int64_t y, int m)
{
    static const int days[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    return days[m - 1] + (m == 2 && leap);
}

static bool valid_date(int y, int m, int d)
{
    return y >= 1 && y <= 9999 && m >= 1 && m <= 12 && d >= 1 && d <= days_in_month(y, m);
}

static int64_t year_of(int64_t t)
{
    int64_t y;
    unsigned m, d;
    isotime_civil_from_days(floor_div(t, DAY), &y, &m, &d);
    return y;
}

/* --- POSIX TZ footer (RFC 8536 §3.3) ---
 * Only the forms the tz database emits are accepted: a fixed zone (`UTC0`, `<+0545>-5:45`) and
 * daylight rules in `Mm.w.d[/time]` form. `Jn` and `n` dates, and a daylight name without a rule
 * (whose meaning POSIX leaves to the implementation), are refused rather than guessed. */

struct cursor {
    const char *p;
    const char *end;
};

static bool accept(struct cursor *c, char ch)
{
    if (c->p == c->end || *c->p != ch)
        return false;
    c->p++;
    return true;
}

static bool is_digit(char ch)
{
    return ch >= '0' && ch <= '9';
}

static bool name_char(char ch, bool quoted)
{
    bool alpha = (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z');
    return alpha || (quoted && (is_digit(ch) || ch == '+' || ch == '-'));
}

/* One or more decimal digits, at most max. */
static int parse_number(struct cursor *c, int max, int *out)
{
    int v = 0;
    const char *start = c->p;
    for (; c->p != c->end && is_digit(*c->p); c->p++) {
        v = v * 10 + (*c->p - '0');
        if (v > max)
            return -1;
    }
    if (c->p == start)
        return -1;
    *out = v;
    return 0;
}

/* An abbreviation: three or more letters, or `<...>` with letters, digits, '+' and '-'. */
static int parse_name(struct cursor *c, char out[TZONE_ABBR_MAX])
{
    bool quoted = accept(c, '<');
    size_t n = 0;
    for (; c->p != c->end && name_char(*c->p, quoted); c->p++) {
        if (n + 1 >= TZONE_ABBR_MAX)
            return -1;
        out[n++] = *c->p;
    }
    out[n] = '\0';
    if (n < 3 || (quoted && !accept(c, '>')))
        return -1;
    return 0;
}

/* `[+-]hh[:mm[:ss]]` as signed seconds, hh at most max_hours. */
static int parse_hms(struct cursor *c, int max_hours, int32_t *out)
{
    int sign = accept(c, '-') ? -1 : 1;
    int h, m = 0, s = 0;
    if (sign > 0)
        accept(c, '+');
    if (parse_number(c, max_hours, &h) != 0)
        return -1;
    if (accept(c, ':') &&
        (parse_number(c, 59, &m) != 0 || (accept(c, ':') && parse_number(c, 59, &s) != 0)))
        return -1;
    *out = sign * (h * HOUR + m * 60 + s);
    return 0;
}

/* A POSIX offset is hours *west* of UTC; everything else here counts east. */
static int parse_offset(struct cursor *c, int32_t *east)
{
    int32_t west;
    if (parse_hms(c, 24, &west) != 0)
        return -1;
    *east = -west;
    return 0;
}

/* `Mm.w.d[/time]`; RFC 8536 extends time to ±167 h. */
static int parse_when(struct cursor *c, struct tzone_when *w)
{
    if (!accept(c, 'M') || parse_number(c, 12, &w->month) != 0 || w->month < 1 || !accept(c, '.') ||
        parse_number(c, 5, &w->week) != 0 || w->week < 1 || !accept(c, '.') ||
        parse_number(c, 6, &w->wday) != 0)
        return -1;
    w->time = DEFAULT_RULE_TIME;
    if (accept(c, '/') && parse_hms(c, 167, &w->time) != 0)
        return -1;
    return 0;
}

static int parse_rule(const char *text, size_t len, struct tzone_rule *r)
{
    struct cursor c = {text, text + len};
    memset(r, 0, sizeof *r);
    if (parse_name(&c, r->std_name) != 0 || parse_offset(&c, &r->std_offset) != 0)
        return -1;
    if (c.p == c.end)
        return 0;
    if (parse_name(&c, r->dst_name) != 0)
        return -1;
    r->has_dst = true;
    r->dst_offset = r->std_offset + HOUR;
    if (c.p != c.end && *c.p != ',' && parse_offset(&c, &r->dst_offset) != 0)
        return -1;
    if (!accept(&c, ',') || parse_when(&c, &r->start) != 0 || !accept(&c, ',') ||
        parse_when(&c, &r->end) != 0)
        return -1;
    return c.p == c.end ? 0 : -1;
}

/* --- Evaluating the footer rule --- */

/* The UTC instant at which w happens in year y, its time read with UT offset `offset`. */
static int64_t rule_instant(const struct tzone_when *w, int64_t y, int32_t offset)
{
    int64_t first = isotime_days_from_civil(y, (unsigned)w->month, 1);
    int64_t first_wday = (first % 7 + 7 + 4) % 7; /* 1970-01-01 was a Thursday */
    int64_t day = first + (w->wday - first_wday + 7) % 7 + 7 * (w->week - 1);
    while (day >= first + days_in_month(y, w->month))
        day -= 7; /* week 5 means the last such weekday */
    return day * DAY + w->time - offset;
}

/* The offset after the latest rule change at or before t. Looking at the neighbouring years too
 * handles southern-hemisphere rules and changes pushed across New Year by their time. */
static int32_t rule_offset(const struct tzone_rule *r, int64_t t)
{
    if (!r->has_dst)
        return r->std_offset;
    int64_t y = year_of(t + r->std_offset), latest = INT64_MIN;
    int32_t offset = r->std_offset;
    for (int64_t yy = y - 1; yy <= y + 1; yy++) {
        int64_t start = rule_instant(&r->start, yy, r->std_offset);
        int64_t end = rule_instant(&r->end, yy, r->dst_offset);
        if (start <= t && start > latest) {
            latest = start;
            offset = r->dst_offset;
        }
        if (end <= t && end > latest) {
            latest = end;
            offset = r->std_offset;
        }
    }
    return offset;
}

/* --- TZif decoding (RFC 8536 §3) --- */

struct tzif_header {
    int version; /* 1, 2, 3 or 4 */
    uint32_t isutcnt, isstdcnt, leapcnt, timecnt, typecnt, charcnt;
};

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* Two's complement by arithmetic, not by an implementation-defined cast. */
static int64_t be_signed(const unsigned char *p, size_t size)
{
    if (size == 4) {
        uint32_t v = be32(p);
        return v <= INT32_MAX ? (int64_t)v : (int64_t)v - INT64_C(0x100000000);
    }
    uint64_t v = (uint64_t)be32(p) << 32 | be32(p + 4);
    return v <= INT64_MAX ? (int64_t)v : -(int64_t)~v - 1;
}

static int read_header(const unsigned char *p, size_t avail, struct tzif_header *h)
{
    if (avail < HEADER_LEN || memcmp(p, "TZif", 4) != 0)
        return -1;
    if (p[4] == 0)
        h->version = 1;
    else if (p[4] >= '2' && p[4] <= '4')
        h->version = p[4] - '0';
    else
        return -1;
    uint32_t *counts[6] = {&h->isutcnt, &h->isstdcnt, &h->leapcnt,
                           &h->timecnt, &h->typecnt,  &h->charcnt};
    for (size_t i = 0; i < 6; i++)
        *counts[i] = be32(p + 20 + 4 * i);
    return 0;
}

/* Bytes of the data block after a header; 64-bit sums cannot overflow from 32-bit counts. */
static uint64_t block_size(const struct tzif_header *h, size_t timesize)
{
    return (uint64_t)h->timecnt * (timesize + 1) + (uint64_t)h->typecnt * 6 + h->charcnt +
           (uint64_t)h->leapcnt * (timesize + 4) + h->isstdcnt + h->isutcnt;
}

/* Leap-second records ("right/" zones) are refused: their instants are not Unix seconds. */
static bool counts_ok(const struct tzif_header *h)
{
    return h->typecnt >= 1 && h->typecnt <= 256 && h->charcnt >= 1 && h->leapcnt == 0 &&
           (h->isstdcnt == 0 || h->isstdcnt == h->typecnt) &&
           (h->isutcnt == 0 || h->isutcnt == h->typecnt) && h->timecnt <= TZONE_MAX_TRANSITIONS;
}

/* Checks every local time type record; sets the offset of type 0 (in force before the table). */
static int read_types(const unsigned char *types, const struct tzif_header *h, struct tzone *out)
{
    for (uint32_t i = 0; i < h->typecnt; i++) {
        const unsigned char *t = types + 6 * i;
        int64_t utoff = be_signed(t, 4);
        if (utoff < UTOFF_MIN || utoff > UTOFF_MAX || t[4] > 1 || t[5] >= h->charcnt)
            return -1;
    }
    out->initial_offset = (int32_t)be_signed(types, 4);
    return 0;
}

static int read_block(const unsigned char *p, size_t avail, const struct tzif_header *h,
                      size_t timesize, struct tzone *out)
{
    if (!counts_ok(h) || block_size(h, timesize) > avail)
        return -1;
    const unsigned char *index = p + (size_t)h->timecnt * timesize;
    const unsigned char *types = index + h->timecnt;
    if (read_types(types, h, out) != 0)
        return -1;
    for (uint32_t i = 0; i < h->timecnt; i++) {
        int64_t at = be_signed(p + (size_t)i * timesize, timesize);
        if (index[i] >= h->typecnt || (i > 0 && at <= out->at[i - 1]))
            return -1;
        out->at[i] = at;
        out->offset[i] = (int32_t)be_signed(types + 6 * (size_t)index[i], 4);
    }
    out->count = h->timecnt;
    return 0;
}

/* `\n` TZ-string `\n`, ending the file; an empty string means no rule (the table's last offset
 * then holds for ever). */
static int read_footer(const unsigned char *p, size_t avail, struct tzone *out)
{
    if (avail < 2 || p[0] != '\n' || p[avail - 1] != '\n')
        return -1;
    const char *text = (const char *)p + 1;
    size_t len = avail - 2;
    if (memchr(text, '\n', len) != NULL)
        return -1;
    out->has_rule = len > 0;
    return len > 0 ? parse_rule(text, len, &out->rule) : 0;
}

int tzone_parse(const unsigned char *data, size_t len, struct tzone *out)
{
    struct tzif_header h;
    assert(out != NULL);
    if (data == NULL || read_header(data, len, &h) != 0)
        return -1;
    memset(out, 0, sizeof *out);
    if (h.version == 1) {
        /* A version 1 file is its 32-bit block and nothing more. */
        if (block_size(&h, 4) != len - HEADER_LEN)
            return -1;
        return read_block(data + HEADER_LEN, len - HEADER_LEN, &h, 4, out);
    }
    uint64_t off = HEADER_LEN + block_size(&h, 4); /* skip the 32-bit block */
    if (off > len || read_header(data + off, len - off, &h) != 0 || h.version == 1)
        return -1;
    off += HEADER_LEN;
    if (read_block(data + off, len - off, &h, 8, out) != 0)
        return -1;
    off += block_size(&h, 8);
    return read_footer(data + off, len - off, out);
}

/* --- Loading from the tz database --- */

/* A zone name is a path below the database directory and must not leave it. */
static bool name_ok(const char *name)
{
    return name != NULL && name[0] != '\0' && name[0] != '/' && strstr(name, "..") == NULL;
}

/* Reads at most cap bytes; *len == cap tells the caller the file may be longer. A directory
 * opens but fails at fread. */
static int read_file(const char *path, unsigned char *buf, size_t cap, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return -1;
    *len = fread(buf, 1, cap, f);
    int failed = ferror(f);
    fclose(f);
    return failed ? -1 : 0;
}

int tzone_load(const char *name, struct tzone *out)
{
    assert(out != NULL);
    if (!name_ok(name))
        return -1;
    const char *dir = getenv("TZDIR");
    if (dir == NULL || dir[0] == '\0')
        dir = TZONE_DEFAULT_DIR;
    char path[4096];
    int n = snprintf(path, sizeof path, "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= sizeof path)
        return -1;
    /* On the heap: a 64 KiB buffer is too much to ask of a worker thread's stack. */
    unsigned char *buf = malloc(TZONE_MAX_FILE + 1);
    if (buf == NULL)
        return -1;
    size_t len = 0;
    int rc = read_file(path, buf, TZONE_MAX_FILE + 1, &len);
    if (rc == 0)
        rc = len > TZONE_MAX_FILE ? -1 : tzone_parse(buf, len, out);
    free(buf);
    return rc;
}

/* --- Instants --- */

/* Index of the last transition at or before t; the caller ensures at[0] <= t. */
static size_t last_transition(const struct tzone *tz, int64_t t)
{
    size_t lo = 0, hi = tz->count; /* at[lo] <= t, and at[hi] > t or hi == count */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (tz->at[mid] <= t)
            lo = mid;
        else
            hi = mid;
    }
    return lo;
}

int32_t tzone_offset(const struct tzone *tz, int64_t utc)
{
    assert(tz != NULL && tz->count <= TZONE_MAX_TRANSITIONS);
    int64_t t = clamp_time(utc);
    if (tz->count == 0)
        return tz->has_rule ? rule_offset(&tz->rule, t) : tz->initial_offset;
    if (t < tz->at[0])
        return tz->initial_offset;
    if (tz->has_rule && t > tz->at[tz->count - 1])
        return rule_offset(&tz->rule, t);
    return tz->offset[last_transition(tz, t)];
}

/* The offsets in force a span before and after local, and the earliest instant whose local time
 * is local, if any: the candidates are those offsets and the ones they lead to, which covers a
 * single clock change near local (every real zone: changes are weeks apart). */
static bool earliest_instant(const struct tzone *tz, int64_t local, int32_t *before, int32_t *after,
                             int64_t *utc)
{
    *before = tzone_offset(tz, local - SPAN);
    *after = tzone_offset(tz, local + SPAN);
    const int32_t candidates[4] = {*before, *after, tzone_offset(tz, local - *before),
                                   tzone_offset(tz, local - *after)};
    bool found = false;
    int64_t earliest = 0;
    for (size_t i = 0; i < 4; i++) {
        int64_t u = local - candidates[i];
        if (tzone_offset(tz, u) == candidates[i] && (!found || u < earliest)) {
            earliest = u;
            found = true;
        }
    }
    if (found)
        *utc = earliest;
    return found;
}

int tzone_local_to_utc(const struct tzone *tz, int64_t local_naive, int64_t *utc)
{
    assert(tz != NULL && utc != NULL);
    if (!in_limit(local_naive))
        return -1;
    int32_t before, after;
    int64_t u;
    if (!earliest_instant(tz, local_naive, &before, &after, &u))
        u = local_naive - before; /* in a gap: read with the offset before it, i.e. moved on */
    *utc = u;
    return 0;
}

/* The first instant whose local time is at or after local. In a gap that is the clock change
 * itself, found by bisection between the instants the two offsets give. */
static int64_t first_instant_from(const struct tzone *tz, int64_t local)
{
    int32_t before, after;
    int64_t u;
    if (earliest_instant(tz, local, &before, &after, &u))
        return u;
    if (after <= before)
        return local - before;
    int64_t lo = local - after, hi = local - before; /* lo reads before local, hi at or after */
    while (hi - lo > 1) {
        int64_t mid = lo + (hi - lo) / 2;
        if (mid + tzone_offset(tz, mid) >= local)
            hi = mid;
        else
            lo = mid;
    }
    return hi;
}

/* --- Local calendar --- */

int tzone_local_date(const struct tzone *tz, int64_t utc, int *y, int *m, int *d)
{
    assert(tz != NULL && y != NULL && m != NULL && d != NULL);
    if (!in_limit(utc))
        return -1;
    int64_t yy;
    unsigned mm, dd;
    isotime_civil_from_days(floor_div(utc + tzone_offset(tz, utc), DAY), &yy, &mm, &dd);
    *y = (int)yy;
    *m = (int)mm;
    *d = (int)dd;
    return 0;
}

/* Start of the local day numbered `days` since 1970-01-01; the years 1–10000 stay in limit. */
static int64_t day_start(const struct tzone *tz, int64_t days)
{
    return first_instant_from(tz, days * DAY);
}

int tzone_day_bounds(const struct tzone *tz, int y, int m, int d, int64_t *start, int64_t *end)
{
    assert(tz != NULL && start != NULL && end != NULL);
    if (!valid_date(y, m, d))
        return -1;
    int64_t days = isotime_days_from_civil(y, (unsigned)m, (unsigned)d);
    *start = day_start(tz, days);
    *end = day_start(tz, days + 1);
    return 0;
}

int tzone_month_bounds(const struct tzone *tz, int y, int m, int64_t *start, int64_t *end)
{
    assert(tz != NULL && start != NULL && end != NULL);
    if (!valid_date(y, m, 1))
        return -1;
    int64_t first = isotime_days_from_civil(y, (unsigned)m, 1);
    *start = day_start(tz, first);
    *end = day_start(tz, first + days_in_month(y, m));
    return 0;
}

/* HH period starts (multiples of 1800) in [start, end). */
static int periods_between(int64_t start, int64_t end)
{
    return (int)(ceil_div(end, HH) - ceil_div(start, HH));
}

int tzone_day_periods(const struct tzone *tz, int y, int m, int d)
{
    int64_t start, end;
    if (tzone_day_bounds(tz, y, m, d, &start, &end) != 0)
        return -1;
    return periods_between(start, end);
}

int tzone_month_periods(const struct tzone *tz, int y, int m)
{
    int64_t start, end;
    if (tzone_month_bounds(tz, y, m, &start, &end) != 0)
        return -1;
    return periods_between(start, end);
}

int tzone_month_days(int y, int m)
{
    return valid_date(y, m, 1) ? days_in_month(y, m) : -1;
}

/* --- Labels --- */

/* Writes v as exactly n decimal digits. By hand rather than snprintf: the ranges are checked
 * here, and the compiler cannot see that they bound the width. */
static void put_digits(char *out, int v, int n)
{
    for (int i = n - 1; i >= 0; i--, v /= 10)
        out[i] = (char)('0' + v % 10);
}

/* `YYYY-MM`, and `-DD` too when with_day, of the local date at utc. */
static int write_label(const struct tzone *tz, int64_t utc, char *out, bool with_day)
{
    int y, m, d;
    out[0] = '\0';
    if (tzone_local_date(tz, utc, &y, &m, &d) != 0 || !valid_date(y, m, d))
        return -1;
    put_digits(out, y, 4);
    out[4] = '-';
    put_digits(out + 5, m, 2);
    out[7] = '\0';
    if (with_day) {
        out[7] = '-';
        put_digits(out + 8, d, 2);
        out[10] = '\0';
    }
    return 0;
}

int tzone_day_label(const struct tzone *tz, int64_t utc, char out[TZONE_DAY_LABEL_LEN])
{
    return write_label(tz, utc, out, true);
}

int tzone_month_label(const struct tzone *tz, int64_t utc, char out[TZONE_MONTH_LABEL_LEN])
{
    return write_label(tz, utc, out, false);
}
