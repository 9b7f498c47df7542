/* tzone.h — local time of a named zone, read from the system tz database (SPEC §6, §8).
 *
 * A struct tzone is a plain value decoded from a compiled TZif file (RFC 8536): the UTC instants
 * at which the zone's offset changes, the offset after each, and the POSIX TZ rule of the file's
 * footer for instants after the table. It holds no pointers and needs no freeing; copy it freely.
 * Nothing here touches process-wide state (TZ, tzset, localtime), so any thread may use any zone.
 *
 * Instants are int64_t Unix seconds (UTC). A "naive" local time is a wall-clock reading counted as
 * if it were UTC (what isotime_parse_naive returns). Calendar dates are proleptic Gregorian, with
 * y, m, d as plain ints (m 1–12, d 1–31). HH periods are UTC half-hours [s, s + 1800) with s a
 * multiple of 1800; a period belongs to the local day of its start instant. Pointer arguments
 * must not be NULL (asserted), except tzone_parse's data and tzone_load's name, which give -1. */
#ifndef TZONE_H
#define TZONE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define TZONE_DEFAULT_DIR "/usr/share/zoneinfo" /* used when $TZDIR is unset or empty */
#define TZONE_MAX_TRANSITIONS 1024 /* the fattest Debian 12 file (Europe/London) has 242 */
#define TZONE_MAX_FILE 65536       /* larger files are refused unread */
#define TZONE_ABBR_MAX 16          /* abbreviation bytes including NUL ("GMT", "<+0545>") */
#define TZONE_TIME_LIMIT (INT64_C(1) << 40) /* |instant| handled: about ±34,800 years */
#define TZONE_DAY_LABEL_LEN 11              /* "2025-03-30" plus NUL */
#define TZONE_MONTH_LABEL_LEN 8             /* "2025-03" plus NUL */

/* One end of daylight time in a POSIX TZ rule, `Mm.w.d/time`: day d (0 = Sunday) of week w
 * (1–5, 5 = last) of month m, at `time` seconds after local midnight (may be negative or
 * beyond 24 h, RFC 8536 §3.3.1). */
struct tzone_when {
    int month;
    int week;
    int wday;
    int32_t time;
};

/* The footer's rule: standard time, and daylight time between `start` (read in standard time)
 * and `end` (read in daylight time). Offsets are seconds east of UTC. */
struct tzone_rule {
    char std_name[TZONE_ABBR_MAX];
    char dst_name[TZONE_ABBR_MAX]; /* "" when has_dst is false */
    int32_t std_offset;
    int32_t dst_offset;
    bool has_dst;
    struct tzone_when start;
    struct tzone_when end;
};

/* About 12 KiB: keep one per configured zone rather than one per call on a small stack. */
struct tzone {
    size_t count;                          /* transitions held, ≤ TZONE_MAX_TRANSITIONS */
    int64_t at[TZONE_MAX_TRANSITIONS];     /* strictly ascending UTC instants */
    int32_t offset[TZONE_MAX_TRANSITIONS]; /* seconds east of UTC from at[i] on */
    int32_t initial_offset;                /* before at[0] (TZif time type 0) */
    bool has_rule;                         /* footer present: it governs after at[count - 1] */
    struct tzone_rule rule;
};

/* --- Loading --- */

/* Decodes a TZif buffer (version 1, or 2+ using its 64-bit block and footer). Pure; data is only
 * read. Returns 0, or -1 for anything truncated, inconsistent, beyond the caps above, with leap
 * second records ("right/" zones), or with a footer form other than fixed or `Mm.w.d` rules.
 * On failure *out is unspecified: load into a scratch value to keep a working zone. */
int tzone_parse(const unsigned char *data, size_t len, struct tzone *out);

/* Reads and decodes `$TZDIR/name`, or TZONE_DEFAULT_DIR/name, e.g. "Europe/London" or "UTC".
 * Returns 0, or -1 when name is empty, starts with '/' or contains "..", or the file is missing,
 * unreadable or refused by tzone_parse (*out then unspecified). The only I/O in this module. */
int tzone_load(const char *name, struct tzone *out);

/* --- Instants --- */

/* Seconds east of UTC in effect at utc. Instants beyond ±TZONE_TIME_LIMIT get the offset at
 * the limit. */
int32_t tzone_offset(const struct tzone *tz, int64_t utc);

/* The UTC instant of a naive local time. A time skipped by a clock change (spring gap) is moved
 * forward by the gap (01:30 in London's gap is 02:30 BST = 01:30Z); a time that occurs twice
 * (autumn overlap) is its first, earlier occurrence (daylight time). Returns 0, or -1 when
 * |local_naive| > TZONE_TIME_LIMIT; *utc is untouched on failure. */
int tzone_local_to_utc(const struct tzone *tz, int64_t local_naive, int64_t *utc);

/* --- Local calendar (daily and monthly aggregates) --- */

/* The local calendar date at utc. Returns 0, or -1 when |utc| > TZONE_TIME_LIMIT. */
int tzone_local_date(const struct tzone *tz, int64_t utc, int *y, int *m, int *d);

/* The local day y-m-d as UTC [*start, *end): first instant of that date to first instant of the
 * next. A midnight inside a gap starts the day when the clock reaches that date. Returns 0, or -1
 * for an invalid date or a year outside 1–9999; outputs untouched on failure. */
int tzone_day_bounds(const struct tzone *tz, int y, int m, int d, int64_t *start, int64_t *end);

/* The local month y-m as UTC [*start, *end), from its first day's start to the next month's.
 * Returns 0, or -1 for m outside 1–12 or a year outside 1–9999. */
int tzone_month_bounds(const struct tzone *tz, int y, int m, int64_t *start, int64_t *end);

/* Number of HH periods whose start lies in the local day (46/48/50 in London) or month. Returns
 * that count, or -1 for an invalid date as in tzone_day_bounds. */
int tzone_day_periods(const struct tzone *tz, int y, int m, int d);
int tzone_month_periods(const struct tzone *tz, int y, int m);

/* Calendar days in month m of year y (28–31), or -1 for m outside 1–12 or y outside 1–9999. */
int tzone_month_days(int y, int m);

/* Writes the local date at utc as `YYYY-MM-DD` / `YYYY-MM`. Returns 0, or -1 when that date is
 * outside the years 1–9999 (out is then ""). */
int tzone_day_label(const struct tzone *tz, int64_t utc, char out[TZONE_DAY_LABEL_LEN]);
int tzone_month_label(const struct tzone *tz, int64_t utc, char out[TZONE_MONTH_LABEL_LEN]);

#endif
