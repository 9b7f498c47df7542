/* ctl_meters.c — `shadowctl meters`: the fleet at a glance (SPEC §9, §12).
 *
 * One row per registered meter, including meters that never reported, since those are the ones
 * an operator is looking for. Offline and low balance are the service's own flags (the ones that
 * raised the `offline` and `low_balance` events), not recomputed here: shadowctl does not know
 * shadowd's thresholds, and the two must never disagree. */
#include <stdio.h>
#include <string.h>

#include "ctl.h"

static int ctl_meters_list(const struct ctl *ctl, struct store *st,
                           const struct store_meter_filter *filter, enum ctl_format format)
{
    if (filter->esco != NULL) {
        bool found = false;
        if (store_query_esco_exists(st, filter->esco, &found) != STORE_OK)
            return ctl_store_failed(ctl, st, "look up ESCO");
        if (!found) {
            fprintf(stderr, "shadowctl: meters: no ESCO with code '%s'\n", filter->esco);
            return CTL_FAILURE;
        }
    }
    struct ctl_writer w;
    ctl_writer_init(&w, format, NULL);
    struct store_sink sink = ctl_writer_sink(&w);
    int q = store_query_meters(st, filter, &sink);
    return ctl_writer_close(&w, ctl, st, q, "list meters");
}

int ctl_meters(struct ctl *ctl, int argc, char **argv)
{
    struct store_meter_filter filter = {NULL, false, false};
    enum ctl_format format;
    for (int i = 1; i < argc; i++) {
        int got = ctl_option_value(argv[0], argc, argv, &i, "--esco", &filter.esco);
        if (got < 0)
            return CTL_USAGE;
        if (got > 0 || ctl_format_option(ctl, argv[i]))
            continue;
        if (strcmp(argv[i], "--offline") == 0)
            filter.offline = true;
        else if (strcmp(argv[i], "--low-balance") == 0)
            filter.low_balance = true;
        else if (strcmp(argv[i], "--help") == 0)
            return ctl_command_help(argv[0]);
        else
            return ctl_command_bad_usage(argv[0], "unexpected argument '%s'", argv[i]);
    }
    if (ctl_output_format(ctl, argv[0], &format) != CTL_OK)
        return CTL_USAGE;
    struct store *st = NULL;
    if (ctl_open_read(ctl, &st) != 0)
        return CTL_FAILURE;
    int rc = ctl_meters_list(ctl, st, &filter, format);
    store_close(st);
    return ctl_flush(rc);
}
