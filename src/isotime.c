/* isotime.c — instants on the wire: ISO-8601 text and Unix seconds (SPEC §3).
 *
 * Every instant is int64_t Unix seconds, UTC. Parsing is strict and hand-written (no strptime,
 * no timegm, no TZ environment): the calendar arithmetic is Howard Hinnant's days_from_civil /
 * civil_from_days, exact for the proleptic Gregorian calendar. The accepted range is the years
 * 1970–9999 in UTC, i.e. [0, ISOTIME_MAX]: no negative Unix times, and every accepted instant
 * formats back as exactly `YYYY-MM-DDTHH:MM:SSZ`.
 *
 * Decisions where ISO-8601 leaves room:
 * - the `T` separator and the `Z` designator must be upper case (RFC 3339 allows lower case;
 *   meters and operators here send upper case, and one spelling keeps logs greppable);
 * - seconds are 00–59: a leap second `:60` is refused (Unix time has no name for it);
 * - a fraction is `.` and one or more digits, of any length, and is dropped: an instant is
 *   floored to its second, which for a positive fraction is truncation toward the past whatever
 *   the offset (offsets are whole minutes);
 * - offsets are `±HH:MM` or `±HHMM` with HH 00–23 and MM 00–59; `-00:00` is accepted as UTC. */
#include "isotime.h"

#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>

#define ISOTIME_MAX INT64_C(253402300799) /* 9999-12-31T23:59:59Z */

/* --- Calendar (Howard Hinnant, "chrono-Compatible Low-Level Date Algorithms") --- */

int64_t isotime_days_from_civil(int64_t y, unsigned m, unsigned d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const int64_t yoe = y - era * 400;                                   /* [0, 399] */
    const int64_t doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1; /* [0, 365] */
    const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;           /* [0, 146096] */
    return era * 146097 + doe - 719468;
}

void isotime_civil_from_days(int64_t days, int64_t *y, unsigned *m, unsigned *d)
{
    days += 719468;
    const int64_t era = (days >= 0 ? days : days - 146096) / 146097;
    const int64_t doe = days - era * 146097;                                   /* [0, 146096] */
    const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365; /* [0, 399] */
    const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);               /* [0, 365] */
    const int64_t mp = (5 * doy + 2) / 153;                                    /* [0, 11] */
    *d = (unsigned)(doy - (153 * mp + 2) / 5 + 1);
    *m = (unsigned)(mp < 10 ? mp + 3 : mp - 9);
    *y = yoe + era * 400 + (*m <= 2);
}

static bool is_leap(int64_t y)
{
    return y % 4 == 0 && (y % 100 != 0 || y % 400 == 0);
}

static unsigned days_in_month(int64_t y, unsigned m)
{
    static const unsigned dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return m == 2 && is_leap(y) ? 29 : dim[m - 1];
}

/* --- Parsing --- */

/* Reads exactly n ASCII digits at *p into *out and advances *p. */
static bool read_digits(const char **p, int n, int *out)
{
    int v = 0;
    for (int i = 0; i < n; i++) {
        char c = (*p)[i];
        if (c < '0' || c > '9')
            return false;
        v = v * 10 + (c - '0');
    }
    *p += n;
    *out = v;
    return true;
}

static bool expect(const char **p, char c)
{
    if (**p != c)
        return false;
    (*p)++;
    return true;
}

/* `YYYY-MM-DDTHH:MM:SS`, calendar-checked, as seconds of a UTC-like timeline (no range check). */
static bool parse_datetime(const char **p, int64_t *out)
{
    int y, mo, d, h, mi, s;
    if (!read_digits(p, 4, &y) || !expect(p, '-') || !read_digits(p, 2, &mo) || !expect(p, '-') ||
        !read_digits(p, 2, &d) || !expect(p, 'T') || !read_digits(p, 2, &h) || !expect(p, ':') ||
        !read_digits(p, 2, &mi) || !expect(p, ':') || !read_digits(p, 2, &s))
        return false;
    if (mo < 1 || mo > 12 || d < 1 || (unsigned)d > days_in_month(y, (unsigned)mo) || h > 23 ||
        mi > 59 || s > 59)
        return false;
    *out = isotime_days_from_civil(y, (unsigned)mo, (unsigned)d) * 86400 + h * 3600 + mi * 60 + s;
    return true;
}

static int in_range(int64_t t, int64_t *out)
{
    if (t < 0 || t > ISOTIME_MAX)
        return -1;
    *out = t;
    return 0;
}

int isotime_parse(const char *text, int64_t *out)
{
    if (text == NULL)
        return -1;
    const char *p = text;
    int64_t t;
    if (!parse_datetime(&p, &t))
        return -1;
    if (*p == '.') {
        p++;
        if (*p < '0' || *p > '9')
            return -1;
        while (*p >= '0' && *p <= '9')
            p++;
    }
    if (*p == 'Z') {
        p++;
    } else if (*p == '+' || *p == '-') {
        int sign = *p == '-' ? -1 : 1;
        int oh, om;
        p++;
        if (!read_digits(&p, 2, &oh))
            return -1;
        if (*p == ':')
            p++;
        if (!read_digits(&p, 2, &om) || oh > 23 || om > 59)
            return -1;
        /* Local time = UTC + offset, so UTC = local − offset. */
        t -= sign * (oh * 3600 + om * 60);
    } else {
        return -1;
    }
    if (*p != '\0')
        return -1;
    return in_range(t, out);
}

int isotime_parse_naive(const char *text, int64_t *out)
{
    if (text == NULL)
        return -1;
    const char *p = text;
    int64_t t;
    if (!parse_datetime(&p, &t) || *p != '\0')
        return -1;
    return in_range(t, out);
}

int isotime_from_json(const cJSON *item, int64_t *out)
{
    if (cJSON_IsString(item))
        return isotime_parse(item->valuestring, out);
    if (!cJSON_IsNumber(item))
        return -1;
    double v = item->valuedouble;
    /* Compare as doubles before converting: the conversion of an out-of-range double is UB. */
    if (!isfinite(v) || v < 0.0 || v >= (double)(ISOTIME_MAX + 1))
        return -1;
    return in_range((int64_t)floor(v), out);
}

/* --- Formatting --- */

char *isotime_format(int64_t t, char out[ISOTIME_LEN])
{
    /* Outside the accepted range the output would not have the fixed shape: clamp. */
    if (t < 0)
        t = 0;
    else if (t > ISOTIME_MAX)
        t = ISOTIME_MAX;
    int64_t days = t / 86400, secs = t % 86400, y;
    unsigned m, d;
    isotime_civil_from_days(days, &y, &m, &d);
    snprintf(out, ISOTIME_LEN, "%04d-%02u-%02uT%02d:%02d:%02dZ", (int)y, m, d, (int)(secs / 3600),
             (int)(secs / 60 % 60), (int)(secs % 60));
    return out;
}

cJSON *isotime_add_to_json(cJSON *object, const char *name, int64_t t)
{
    char stamp[ISOTIME_LEN];
    return cJSON_AddStringToObject(object, name, isotime_format(t, stamp));
}
