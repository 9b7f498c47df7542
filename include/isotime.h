/* isotime.h — instants on the wire: ISO-8601 and Unix seconds (SPEC §3).
 *
 * Internally an instant is int64_t Unix seconds (UTC); the SPEC compares times at second
 * precision. Output is always `YYYY-MM-DDTHH:MM:SSZ`. Pure: no clock, no time zone state. */
#ifndef ISOTIME_H
#define ISOTIME_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define ISOTIME_LEN 21 /* "2026-11-28T08:30:00Z" plus NUL */

struct cJSON;

/* Parses ISO-8601 with a zone: `YYYY-MM-DDTHH:MM:SS[.fff](Z|±HH:MM|±HHMM)`. Fractions (one or
 * more digits) are truncated toward the past. `T` and `Z` upper case only; seconds 00–59 (no leap
 * second); offset HH 00–23, MM 00–59. The instant must fall in the years 1970–9999 UTC (0 to
 * 253402300799). Returns 0 and sets *out, or -1 for anything else (no zone, bad calendar date,
 * trailing bytes, out of range), leaving *out untouched. */
int isotime_parse(const char *text, int64_t *out);

/* Reads an instant from JSON: an ISO-8601 string as above, or an integer or decimal number of Unix
 * seconds (floored). Returns 0 or -1 (wrong type, NaN/inf, out of the years 1970–9999). */
int isotime_from_json(const struct cJSON *item, int64_t *out);

/* Writes `YYYY-MM-DDTHH:MM:SSZ` into out (ISOTIME_LEN bytes). Returns out. t outside the range
 * above is clamped to it, so the output always has that shape. */
char *isotime_format(int64_t t, char out[ISOTIME_LEN]);

/* Days since 1970-01-01 of a proleptic Gregorian civil date, and back (Howard Hinnant's
 * algorithms); exact for every year the service meets. */
int64_t isotime_days_from_civil(int64_t y, unsigned m, unsigned d);
void isotime_civil_from_days(int64_t days, int64_t *y, unsigned *m, unsigned *d);

/* Parses a zone-less `YYYY-MM-DDTHH:MM:SS` (a meter's clock time, SPEC §8) as if it were UTC:
 * exactly that shape, no zone, no fraction, same calendar checks and range. Returns 0 or -1. */
int isotime_parse_naive(const char *text, int64_t *out);

/* Adds member name = t as `YYYY-MM-DDTHH:MM:SSZ` to a JSON object. Returns the new item, or NULL
 * on allocation failure (the object is then unchanged). */
struct cJSON *isotime_add_to_json(struct cJSON *object, const char *name, int64_t t);

#endif
