/* ctl_args.c — the options every shadowctl command shares: values, output formats, counts, and
 * the --from/--to times.
 *
 * A bare date names a local day of shadowd's aggregate_timezone, because that is the day the
 * daily and monthly circuit buckets are cut on: `--from 2026-07-01 --to 2026-07-01` selects the
 * same half-hours whether the operator asks for hh, day or month. */
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ctl.h"
#include "isotime.h"
#include "topics.h"

/* ---- Options ------------------------------------------------------------------------------- */

int ctl_option_value(const char *command, int argc, char **argv, int *i, const char *name,
                     const char **value)
{
    const char *arg = argv[*i];
    size_t n = strlen(name);
    if (strncmp(arg, name, n) != 0 || (arg[n] != '\0' && arg[n] != '='))
        return 0;
    if (arg[n] == '=') {
        *value = arg + n + 1;
    } else if (*i + 1 < argc) {
        *value = argv[++*i];
    } else {
        ctl_command_bad_usage(command, "option '%s' needs a value", name);
        return -1;
    }
    if (**value == '\0') {
        ctl_command_bad_usage(command, "option '%s' needs a value", name);
        return -1;
    }
    return 1;
}

int ctl_serial_word(const char *command, const char *word, const char **serial)
{
    if (strcmp(word, "--help") == 0)
        return ctl_command_help(command);
    if (word[0] == '-')
        return ctl_command_bad_usage(command, "unknown option '%s'", word);
    if (*serial != NULL)
        return ctl_command_bad_usage(command, "more than one SERIAL ('%s')", word);
    *serial = word;
    return CTL_NEXT;
}

bool ctl_format_option(struct ctl *ctl, const char *arg)
{
    if (strcmp(arg, "--json") == 0)
        ctl->json = true;
    else if (strcmp(arg, "--csv") == 0)
        ctl->csv = true;
    else
        return false;
    return true;
}

int ctl_output_format(const struct ctl *ctl, const char *command, enum ctl_format *out)
{
    if (ctl->json && ctl->csv)
        return ctl_command_bad_usage(command, "choose one of --json and --csv");
    *out = ctl->json ? CTL_FORMAT_JSON : ctl->csv ? CTL_FORMAT_CSV : CTL_FORMAT_TABLE;
    return CTL_OK;
}

int ctl_check_serial(const char *command, const char *serial)
{
    if (topic_serial_valid(serial, strlen(serial)))
        return CTL_OK;
    return ctl_command_bad_usage(command, "'%s' is not a meter serial (1-64 of A-Z a-z 0-9 _ -)",
                                 serial);
}

int ctl_parse_count(const char *text, bool allow_zero, size_t *out)
{
    char *end = NULL;
    if (!isdigit((unsigned char)text[0]))
        return -1;
    errno = 0;
    unsigned long long v = strtoull(text, &end, 10);
    if (errno != 0 || *end != '\0' || v > SIZE_MAX / 2 || (v == 0 && !allow_zero))
        return -1;
    *out = (size_t)v;
    return 0;
}

/* ---- Times --------------------------------------------------------------------------------- */

int ctl_zone_get(struct ctl_zone *z, const struct tzone **tz)
{
    if (!z->loaded) {
        const char *env = getenv("SHADOWD_AGGREGATE_TIMEZONE");
        z->name = env != NULL && env[0] != '\0' ? env : CTL_DEFAULT_ZONE;
        if (tzone_load(z->name, &z->tz) != 0) {
            fprintf(stderr, "shadowctl: cannot load the time zone '%s' (aggregate_timezone)\n",
                    z->name);
            return CTL_FAILURE;
        }
        z->loaded = true;
    }
    *tz = &z->tz;
    return CTL_OK;
}

/* `YYYY-MM-DD` exactly: returns 0 with the date, -1 for anything else (the calendar is checked
 * by tzone_day_bounds). */
static int ctl_parse_date(const char *text, int *y, int *m, int *d)
{
    if (strlen(text) != 10 || text[4] != '-' || text[7] != '-')
        return -1;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && !isdigit((unsigned char)text[i]))
            return -1;
    *y = atoi(text);
    *m = atoi(text + 5);
    *d = atoi(text + 8);
    return 0;
}

/* One bound: returns CTL_OK, CTL_USAGE (printed) or CTL_FAILURE (zone, printed). */
static int ctl_parse_time(const char *command, const char *option, const char *text, bool is_end,
                          struct ctl_zone *z, int64_t *out)
{
    int y, m, d;
    if (isotime_parse(text, out) == 0)
        return CTL_OK;
    if (ctl_parse_date(text, &y, &m, &d) == 0) {
        const struct tzone *tz;
        int64_t start, end;
        if (ctl_zone_get(z, &tz) != CTL_OK)
            return CTL_FAILURE;
        if (tzone_day_bounds(tz, y, m, d, &start, &end) == 0) {
            *out = is_end ? end : start;
            return CTL_OK;
        }
    }
    return ctl_command_bad_usage(command,
                                 "%s: '%s' is not a time: give YYYY-MM-DD or ISO-8601 with a zone"
                                 " (2026-11-28T08:30:00Z)",
                                 option, text);
}

int ctl_parse_range(const char *command, const char *from, const char *to, struct ctl_zone *z,
                    struct store_range *range)
{
    int rc = CTL_OK;
    memset(range, 0, sizeof *range);
    if (from != NULL) {
        rc = ctl_parse_time(command, "--from", from, false, z, &range->from);
        range->has_from = rc == CTL_OK;
    }
    if (rc == CTL_OK && to != NULL) {
        rc = ctl_parse_time(command, "--to", to, true, z, &range->to);
        range->has_to = rc == CTL_OK;
    }
    if (rc == CTL_OK && range->has_from && range->has_to && range->from >= range->to)
        rc = ctl_command_bad_usage(command, "--from %s is not before --to %s", from, to);
    return rc;
}
