/* ctl.h — what shadowctl's command files share: the invocation, exit codes and helpers.
 *
 * shadowctl.c parses the global options and dispatches to a command; each command lives in its
 * own file (ctl_<command>.c) and prints errors as `shadowctl: …` on stderr. */
#ifndef CTL_H
#define CTL_H

#include <stdbool.h>

#include "store.h"

#define CTL_OK 0
#define CTL_FAILURE 1
#define CTL_USAGE 2

#define CTL_DEFAULT_DB "./shadow.db"

/* The global options of one invocation. */
struct ctl {
    const char *db; /* --db, else SHADOWD_DB, else ./shadow.db */
    bool json;      /* --json */
};

struct ctl_command {
    const char *name;
    const char *args;
    const char *summary;
    int (*run)(struct ctl *ctl, int argc, char **argv); /* argv[0] is the command's name */
};

/* Prints `shadowctl: MESSAGE` and the usage line on stderr; returns CTL_USAGE. */
int ctl_bad_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Flushes stdout; a write error (a full disk, a closed pipe) turns rc into CTL_FAILURE. */
int ctl_flush(int rc);
/* Opens the store (creating and migrating it when needed); prints the error and returns -1. */
int ctl_open(const struct ctl *ctl, struct store **st);

/* Commands implemented in their own files. */
int ctl_tariff(struct ctl *ctl, int argc, char **argv); /* ctl_tariff.c */

#endif
