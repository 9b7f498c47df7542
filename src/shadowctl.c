/* shadowctl.c — the operator's command line (SPEC §12): `shadowctl [--db PATH] COMMAND …`.
 *
 * A table of commands, each one function (in its own ctl_<command>.c) that parses its own
 * arguments and returns the exit code, so a new command is one row and one file. Results go to
 * stdout (a human table by default, --json or --csv for scripts), errors to stderr as
 * `shadowctl: …`, printed once where they are found. Exit codes: 0 ok, 1 failure (a refused file,
 * a missing meter, a database error), 2 bad usage.
 *
 * The database is the one shadowd uses (--db, else $SHADOWD_DB, else ./shadow.db). `import` opens
 * it for writing and applies pending migrations, so it may be the first to create it; every
 * other command opens it read-only, so it never blocks a running shadowd. */
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl.h"
#include "version.h"

/* The read commands need the tables and views of schema/001–004. */
#define CTL_SCHEMA_READ_MIN 4

static const struct ctl_command ctl_commands[] = {
    {"import", "[--json|--csv] FILE",
     "load the fleet topology in FILE (- for stdin): an upsert by natural keys", ctl_import,
     "Loads the fleet topology in FILE (format: SPEC section 7). Prints what was created,\n"
     "updated, left unchanged and removed per entity type; a file with problems is refused\n"
     "whole and changes nothing.\n"},
    {"meters", "[--esco CODE] [--offline] [--low-balance] [--json|--csv]",
     "one row per registered meter: balance, health, last seen, online", ctl_meters,
     "Lists every registered meter by serial: name, ESCO, mode, balance (GBP), health, when it\n"
     "was last heard from, and status: online, offline (silent for offline_after_s) or\n"
     "never_seen. --offline and --low-balance keep only the meters shadowd has flagged.\n"},
    {"shadow", "SERIAL", "the meter's whole shadow document, as a get answers it", ctl_shadow,
     "Prints the shadow document (state with desired, reported and, when non-empty, delta;\n"
     "metadata; version; timestamp) as indented JSON. Exits 1 when the meter has no shadow.\n"},
    {"history", "SERIAL --field F [--from T] [--to T] [--json|--csv]",
     "the history rows of one field of a meter", ctl_history,
     "F: import_a, import_b, export_a, export_b (register reads with their interval kWh),\n"
     "balance, emergency_credit, csq, voltage, voltage_l1, voltage_l2, voltage_l3, health.\n"
     "T: ISO-8601 with a zone, or YYYY-MM-DD for a local day (--to includes that day).\n"},
    {"intervals",
     "SERIAL|--circuit ID --period hh|day|month [--from T] [--to T] [--json|--csv|--chart]",
     "half-hourly, daily or monthly energy of a meter or a circuit", ctl_intervals,
     "A meter's rows are per register (element); its days and months are summed from its\n"
     "half-hours on local days. --circuit takes a circuit's id or name. --chart draws the\n"
     "import (and export, when there is any) as bars, one row per period, with its value.\n"
     "T: ISO-8601 with a zone, or YYYY-MM-DD for a local day (--to includes that day).\n"},
    {"events", "[SERIAL] [--limit N] [--json|--csv]", "meter events, newest first", ctl_events,
     "Events raised by the service and reported by meters (meter_event_log), newest first:\n"
     "the last 50, or N (--limit 0: all).\n"},
    {"stats", "[--json|--csv]", "the service's counters and what the database holds", ctl_stats,
     "The counters shadowd last stored (every stats_interval_s), then figures counted from\n"
     "the database: meters, shadows, register reads, events, commands by status.\n"},
    {"tariff", "push --esco CODE|--site NAME FILE | status [--esco CODE|--site NAME] [--json]",
     "push a future tariff to a fleet, or show where each meter stands", ctl_tariff, NULL},
};

#define CTL_COMMAND_COUNT (sizeof ctl_commands / sizeof ctl_commands[0])

/* ---- Usage --------------------------------------------------------------------------------- */

static const struct ctl_command *ctl_find(const char *name)
{
    for (size_t i = 0; i < CTL_COMMAND_COUNT; i++)
        if (strcmp(ctl_commands[i].name, name) == 0)
            return &ctl_commands[i];
    return NULL;
}

static void ctl_usage_line(FILE *out)
{
    fprintf(out, "usage: shadowctl [--db PATH] [--json] COMMAND [ARGS...]\n");
}

static void ctl_help(void)
{
    ctl_usage_line(stdout);
    printf("\nCommands:\n");
    for (size_t i = 0; i < CTL_COMMAND_COUNT; i++)
        printf("  %s %s\n      %s\n", ctl_commands[i].name, ctl_commands[i].args,
               ctl_commands[i].summary);
    printf("\nOptions:\n"
           "  --db PATH   the database (default: $SHADOWD_DB, else " CTL_DEFAULT_DB ")\n"
           "  --json      results as JSON instead of a table\n"
           "  --csv       results as CSV instead of a table\n"
           "  --help      this text; `shadowctl COMMAND --help` for one command\n"
           "  --version   the program's version\n"
           "\nExit codes: 0 ok, 1 failure, 2 bad usage.\n");
}

/* Bad usage: one line saying why, the usage line, exit code 2. */
int ctl_bad_usage(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("shadowctl: ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    ctl_usage_line(stderr);
    return CTL_USAGE;
}

int ctl_command_bad_usage(const char *command, const char *fmt, ...)
{
    const struct ctl_command *cmd = ctl_find(command);
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "shadowctl: %s: ", command);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    if (cmd != NULL)
        fprintf(stderr, "usage: shadowctl [--db PATH] %s %s\n", cmd->name, cmd->args);
    return CTL_USAGE;
}

int ctl_command_help(const char *command)
{
    const struct ctl_command *cmd = ctl_find(command);
    if (cmd != NULL)
        printf("usage: shadowctl [--db PATH] %s %s\n%s\n%s", cmd->name, cmd->args, cmd->summary,
               cmd->help ? cmd->help : "");
    return ctl_flush(CTL_OK);
}

/* Flushes stdout; a result that could not be written is a failure, reported once. */
int ctl_flush(int rc)
{
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fprintf(stderr, "shadowctl: writing the output: %s\n", strerror(errno));
        return CTL_FAILURE;
    }
    return rc;
}

/* ---- The database -------------------------------------------------------------------------- */

int ctl_open(const struct ctl *ctl, struct store **st)
{
    char err[256];
    struct store_options opt = {.path = ctl->db, .busy_timeout_ms = 5000};
    if (store_open(&opt, st, err, sizeof err) != STORE_OK) {
        fprintf(stderr, "shadowctl: %s: %s\n", ctl->db, err);
        return -1;
    }
    return 0;
}

int ctl_open_read(const struct ctl *ctl, struct store **st)
{
    char err[256];
    struct store_options opt = {.path = ctl->db, .read_only = true, .busy_timeout_ms = 5000};
    /* SQLite would say "unable to open database file"; say what to do about it. */
    if (access(ctl->db, F_OK) != 0) {
        fprintf(stderr,
                "shadowctl: %s: no database here (%s); shadowd or `shadowctl import` creates it\n",
                ctl->db, strerror(errno));
        return -1;
    }
    if (store_open(&opt, st, err, sizeof err) != STORE_OK) {
        fprintf(stderr, "shadowctl: %s: %s\n", ctl->db, err);
        return -1;
    }
    int version = store_schema_version(*st);
    if (version < CTL_SCHEMA_READ_MIN) {
        if (version < 0)
            fprintf(stderr, "shadowctl: %s: cannot read the schema version: not a database?\n",
                    ctl->db);
        else
            fprintf(stderr,
                    "shadowctl: %s: schema version %d is older than this program's; start "
                    "shadowd once to migrate it\n",
                    ctl->db, version);
        store_close(*st);
        *st = NULL;
        return -1;
    }
    return 0;
}

int ctl_store_failed(const struct ctl *ctl, struct store *st, const char *what)
{
    fprintf(stderr, "shadowctl: %s: %s: %s\n", ctl->db, what, store_errmsg(st));
    return CTL_FAILURE;
}

int ctl_meter_lookup(const struct ctl *ctl, struct store *st, const char *serial,
                     struct store_meter *meter)
{
    if (store_meter_lookup(st, serial, meter) != STORE_OK)
        return ctl_store_failed(ctl, st, "look up meter");
    if (!meter->found) {
        fprintf(stderr, "shadowctl: meter not registered: %s\n", serial);
        return CTL_FAILURE;
    }
    return CTL_OK;
}

/* ---- Main ---------------------------------------------------------------------------------- */

/* Parses the options before COMMAND; returns the index of COMMAND, or -1 (help or version
 * printed: exit 0) or -2 (bad usage, printed). */
static int ctl_options(struct ctl *ctl, int argc, char **argv)
{
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "--db") == 0 && i + 1 < argc) {
            ctl->db = argv[++i];
        } else if (strncmp(argv[i], "--db=", 5) == 0 && argv[i][5] != '\0') {
            ctl->db = argv[i] + 5;
        } else if (ctl_format_option(ctl, argv[i])) {
            continue;
        } else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            ctl_help();
            return -1;
        } else if (strcmp(argv[i], "--version") == 0) {
            printf("shadowctl %s\n", SHADOW_VERSION);
            return -1;
        } else {
            if (strcmp(argv[i], "--db") == 0)
                ctl_bad_usage("option '%s' needs a PATH", argv[i]);
            else
                ctl_bad_usage("unknown option '%s'", argv[i]);
            return -2;
        }
    }
    if (i == argc) {
        ctl_bad_usage("a COMMAND is required");
        return -2;
    }
    return i;
}

int main(int argc, char **argv)
{
    const char *env_db = getenv("SHADOWD_DB");
    struct ctl ctl = {
        .db = env_db && env_db[0] ? env_db : CTL_DEFAULT_DB, .json = false, .csv = false};
    int at = ctl_options(&ctl, argc, argv);
    if (at == -1)
        return ctl_flush(CTL_OK);
    if (at < 0)
        return CTL_USAGE;
    const struct ctl_command *cmd = ctl_find(argv[at]);
    if (cmd == NULL)
        return ctl_bad_usage("unknown command '%s'", argv[at]);
    return cmd->run(&ctl, argc - at, argv + at);
}
