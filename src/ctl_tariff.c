/* ctl_tariff.c — `shadowctl tariff push|status` (SPEC §8). */
#include <stdio.h>

#include "ctl.h"

int ctl_tariff(struct ctl *ctl, int argc, char **argv)
{
    (void)ctl;
    (void)argc;
    (void)argv;
    fprintf(stderr, "shadowctl: tariff: not available yet\n");
    return CTL_FAILURE;
}
