/* ctl.h — what shadowctl's command files share: the invocation, exit codes and helpers.
 *
 * shadowctl.c parses the global options and dispatches to a command; each command lives in its
 * own file (ctl_<command>.c) and prints errors as `shadowctl: …` on stderr. Results go to stdout
 * through one writer (ctl_output.c) as a human table, JSON or CSV; progress goes to stderr, and
 * only when stderr is a terminal, so scripts and pipes see nothing but results. */
#ifndef CTL_H
#define CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "store.h"
#include "store_query.h"
#include "tzone.h"

struct cJSON;

#define CTL_OK 0
#define CTL_FAILURE 1
#define CTL_USAGE 2

#define CTL_DEFAULT_DB "./shadow.db"
/* Local days (bare dates, daily and monthly sums) are those of shadowd's aggregate_timezone:
 * $SHADOWD_AGGREGATE_TIMEZONE when set, else shadowd's default. */
#define CTL_DEFAULT_ZONE "Europe/London"

/* The global options of one invocation. */
struct ctl {
    const char *db; /* --db, else SHADOWD_DB, else ./shadow.db */
    bool json;      /* --json */
    bool csv;       /* --csv */
};

struct ctl_command {
    const char *name;
    const char *args;
    const char *summary;
    int (*run)(struct ctl *ctl, int argc, char **argv); /* argv[0] is the command's name */
    const char *help; /* what `shadowctl COMMAND --help` adds to the usage line; may be NULL */
};

/* ---- Usage and options (shadowctl.c, ctl_args.c) ------------------------------------------- */

/* Prints `shadowctl: MESSAGE` and the usage line on stderr; returns CTL_USAGE. */
int ctl_bad_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* The same for one command: `shadowctl: COMMAND: MESSAGE` and that command's usage line. */
int ctl_command_bad_usage(const char *command, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Prints the usage and help of command on stdout; returns ctl_flush(CTL_OK). */
int ctl_command_help(const char *command);
/* Flushes stdout; a write error (a full disk, a closed pipe) turns rc into CTL_FAILURE. */
int ctl_flush(int rc);

/* argv[*i] is option name, as `NAME VALUE` or `NAME=VALUE`: returns 1 with *value set and *i on
 * the last word used; 0 when argv[*i] is another word; -1 (bad usage printed) when the value is
 * missing or empty. */
int ctl_option_value(const char *command, int argc, char **argv, int *i, const char *name,
                     const char **value);
/* A word that is none of a SERIAL command's own options: --help, an unknown option, or the
 * command's one SERIAL (stored in *serial). Returns CTL_NEXT when the word was the SERIAL, else
 * the exit code to return (help printed, or bad usage). */
#define CTL_NEXT (-1)
int ctl_serial_word(const char *command, const char *word, const char **serial);
/* Consumes --json and --csv into ctl; returns true when arg was one of them. */
bool ctl_format_option(struct ctl *ctl, const char *arg);

enum ctl_format { CTL_FORMAT_TABLE, CTL_FORMAT_JSON, CTL_FORMAT_CSV };
/* The output format of ctl; --json with --csv is bad usage (printed, CTL_USAGE returned). */
int ctl_output_format(const struct ctl *ctl, const char *command, enum ctl_format *out);

/* A meter serial as the topic API allows it (1–64 of A-Z a-z 0-9 _ -): CTL_OK, or CTL_USAGE with
 * the reason printed. */
int ctl_check_serial(const char *command, const char *serial);

/* Parses a positive decimal count (1 … SIZE_MAX/2, or 0 when allow_zero). Returns 0 or -1. */
int ctl_parse_count(const char *text, bool allow_zero, size_t *out);

/* ---- Times (ctl_args.c) -------------------------------------------------------------------- */

/* The aggregate time zone, loaded on first use. */
struct ctl_zone {
    bool loaded;
    const char *name;
    struct tzone tz;
};

/* Loads the zone into z once ($SHADOWD_AGGREGATE_TIMEZONE, else CTL_DEFAULT_ZONE) and sets *tz.
 * Returns CTL_OK, or CTL_FAILURE with the error printed. */
int ctl_zone_get(struct ctl_zone *z, const struct tzone **tz);

/* Parses --from/--to of command into *range ([from, to), NULL text: open). A time is ISO-8601
 * with a zone, or YYYY-MM-DD: the start of that local day for --from and the start of the next
 * one for --to, so `--from D --to D` is the whole day D. Returns CTL_OK, CTL_USAGE (a bad time or
 * from not before to, printed) or CTL_FAILURE (the zone could not be loaded, printed). */
int ctl_parse_range(const char *command, const char *from, const char *to, struct ctl_zone *z,
                    struct store_range *range);

/* ---- The database (shadowctl.c) ------------------------------------------------------------ */

/* Opens the store (creating and migrating it when needed); prints the error and returns -1. */
int ctl_open(const struct ctl *ctl, struct store **st);
/* Opens an existing database read-only, so a reader never blocks shadowd, and checks it holds
 * the tables the read commands need (migrations are not applied to a read-only store). Prints the
 * error and returns -1. */
int ctl_open_read(const struct ctl *ctl, struct store **st);
/* Prints `shadowctl: DB: what: the store's error` for a failed query; returns CTL_FAILURE. */
int ctl_store_failed(const struct ctl *ctl, struct store *st, const char *what);
/* Looks serial up in the registry into *meter: CTL_OK, or CTL_FAILURE printed (a database error,
 * or `meter not registered: SERIAL`). */
int ctl_meter_lookup(const struct ctl *ctl, struct store *st, const char *serial,
                     struct store_meter *meter);

/* ---- Output (ctl_output.c) ----------------------------------------------------------------- */

/* Writes the shortest decimal (no exponent, at most 9 decimals) that reads back as x; %.17g
 * when none does. Returns out. */
char *ctl_format_number(double x, char out[32]);

/* A progress bar on stderr, drawn only when stderr is a terminal and total is not 0; redrawn
 * when the shown percentage changes, so it costs nothing per row. */
struct ctl_progress {
    bool shown;
    const char *label; /* borrowed */
    size_t total;
    int percent; /* last drawn, -1 before the first */
};
void ctl_progress_begin(struct ctl_progress *p, const char *label, size_t total);
void ctl_progress_update(struct ctl_progress *p, size_t done);
/* Erases the bar (if drawn) so the terminal shows only results. */
void ctl_progress_end(struct ctl_progress *p);

/* How a table column is aligned: numbers right, anything else left; unknown while only nulls
 * have been seen. */
enum ctl_align { CTL_ALIGN_UNKNOWN, CTL_ALIGN_RIGHT, CTL_ALIGN_LEFT };

/* Writes one result set (a store query's rows) to stdout as a table, JSON or CSV:
 * - table: columns aligned (numbers to the right), `-` for null, `yes`/`no`; printed at the end,
 *   since widths depend on every row;
 * - json: an array of objects, one per line, streamed; a details column is embedded as JSON;
 * - csv: a header line then one line per row (RFC 4180 quoting, LF line ends, empty for null),
 *   streamed.
 * The writer owns the table's cells until ctl_writer_close. */
struct ctl_writer {
    enum ctl_format format;
    const char *const *names; /* borrowed from the query: static strings */
    size_t columns;
    char **cells;          /* table: rows × columns strings, malloc'd */
    enum ctl_align *align; /* per column */
    size_t rows, cap;
    size_t written; /* rows written (json, csv) or kept (table) */
    const char *progress_label;
    struct ctl_progress progress;
    bool out_of_memory;
};

/* progress_label: what the progress bar says ("exporting"); NULL for no bar. */
void ctl_writer_init(struct ctl_writer *w, enum ctl_format format, const char *progress_label);
/* The sink to hand to a store_query_* call (or to a sink that reshapes rows on their way); it
 * asks for a row count when a bar may be shown. */
struct store_sink ctl_writer_sink(struct ctl_writer *w);
/* Ends a query written through w: query_rc is what the store_query_* call returned. A store error
 * is printed (`what` says what was being read); otherwise the result is finished (the table
 * printed, the JSON array closed), or its out-of-memory error printed. Frees what w holds and
 * returns the exit code. */
int ctl_writer_close(struct ctl_writer *w, const struct ctl *ctl, struct store *st, int query_rc,
                     const char *what);

/* Prints a cJSON tree on stdout, indented, with a final newline. Returns CTL_OK or CTL_FAILURE
 * (printed). The tree stays the caller's. */
int ctl_print_json(const struct cJSON *tree);

/* ---- Commands, one file each --------------------------------------------------------------- */

int ctl_import(struct ctl *ctl, int argc, char **argv);    /* ctl_import.c */
int ctl_meters(struct ctl *ctl, int argc, char **argv);    /* ctl_meters.c */
int ctl_shadow(struct ctl *ctl, int argc, char **argv);    /* ctl_shadow.c */
int ctl_history(struct ctl *ctl, int argc, char **argv);   /* ctl_history.c */
int ctl_intervals(struct ctl *ctl, int argc, char **argv); /* ctl_intervals.c */
int ctl_events(struct ctl *ctl, int argc, char **argv);    /* ctl_events.c */
int ctl_stats(struct ctl *ctl, int argc, char **argv);     /* ctl_stats.c */
int ctl_tariff(struct ctl *ctl, int argc, char **argv);    /* ctl_tariff.c */

#endif
