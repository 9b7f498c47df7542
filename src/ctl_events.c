/* ctl_events.c — `shadowctl events [SERIAL]`: what happened lately, newest first (SPEC §3.2,
 * §9): the service's events (offline, low_balance, command_failed, …) beside the meters' own,
 * from meter_event_log. */
#include <stdio.h>
#include <string.h>

#include "ctl.h"

#define CTL_EVENTS_DEFAULT 50

static int ctl_events_list(const struct ctl *ctl, struct store *st, const char *serial,
                           size_t limit, enum ctl_format format)
{
    struct store_meter meter;
    if (serial != NULL && ctl_meter_lookup(ctl, st, serial, &meter) != CTL_OK)
        return CTL_FAILURE;
    struct ctl_writer w;
    ctl_writer_init(&w, format, "reading events");
    struct store_sink sink = ctl_writer_sink(&w);
    int q = store_query_events(st, serial ? meter.id : NULL, limit, &sink);
    return ctl_writer_close(&w, ctl, st, q, "read events");
}

int ctl_events(struct ctl *ctl, int argc, char **argv)
{
    const char *serial = NULL, *limit_text = NULL;
    size_t limit = CTL_EVENTS_DEFAULT;
    enum ctl_format format;
    for (int i = 1; i < argc; i++) {
        int got = ctl_option_value(argv[0], argc, argv, &i, "--limit", &limit_text);
        if (got < 0)
            return CTL_USAGE;
        if (got > 0 || ctl_format_option(ctl, argv[i]))
            continue;
        int rc = ctl_serial_word(argv[0], argv[i], &serial);
        if (rc != CTL_NEXT)
            return rc;
    }
    if (limit_text != NULL && ctl_parse_count(limit_text, true, &limit) != 0)
        return ctl_command_bad_usage(argv[0], "--limit: '%s' is not a count (0 for all)",
                                     limit_text);
    if (ctl_output_format(ctl, argv[0], &format) != CTL_OK)
        return CTL_USAGE;
    if (serial != NULL && ctl_check_serial(argv[0], serial) != CTL_OK)
        return CTL_USAGE;
    struct store *st = NULL;
    if (ctl_open_read(ctl, &st) != 0)
        return CTL_FAILURE;
    int rc = ctl_events_list(ctl, st, serial, limit, format);
    store_close(st);
    return ctl_flush(rc);
}
