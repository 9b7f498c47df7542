/* intervals.c — does a register read cost more as history grows? (the interval engine's cost)
 *
 * Feeds hourly cumulative reads of many registers through the real store: store_register_read
 * on a SQLite file, which is the service's path minus MQTT and JSON. Reads go in time order
 * across the fleet, as a live fleet sends them, with one write transaction per --batch reads.
 * For every block of days it prints wall time, SQLite virtual-machine steps, full-scan steps and
 * rows written per read. VM steps count the work SQLite did, independent of the machine: if a
 * lookup scanned history, the later blocks would show more of them.
 *
 *   intervals [--registers N] [--days D] [--step-s S] [--batch B] [--circuit-size K]
 *             [--flows 1|2] [--start UNIX] [--block-days D] [--cache-mb MB] [--db PATH]
 *             [--keep]
 *
 * Without --db a temporary file is used, and removed unless --keep. A --db that already holds
 * meters (a bench topology imported with shadowctl) keeps its registry: its BENCH… meters'
 * registers get the history, from the shared meter model, so that reports sent later continue it
 * (cost growth runs). Otherwise N registers (meters with A and B) are created with plain SQL and
 * mapped to circuits of K registers. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "meter_model.h"
#include "store_internal.h" /* the connection and statement cache, for setup SQL and counters */
#include "store_intervals.h"

#define DAY_S 86400

struct options {
    unsigned registers;
    int days;
    int64_t step_s;
    int batch;
    unsigned circuit_size;
    int flows;
    int64_t start;
    int block_days;
    int cache_mb; /* 0: SQLite's default page cache, as shadowd uses */
    const char *db;
    bool keep;
};

struct bench_register {
    char id[REGISTRY_ID_LEN];
    unsigned meter;
    int element; /* 0 = A or SINGLE, 1 = B */
};

struct fleet {
    struct bench_register *regs; /* owned */
    size_t count;
};

/* What one block of days cost, from SQLite's own counters and the clock. */
struct block_cost {
    int64_t reads, new_reads, vm_steps, fullscan_steps, rows_written;
    double seconds;
};

/* ---- Setup --------------------------------------------------------------------------------- */

static int usage(void)
{
    fprintf(stderr, "usage: intervals [--registers N] [--days D] [--step-s S] [--batch B]"
                    " [--circuit-size K] [--flows 1|2] [--start UNIX] [--block-days D]"
                    " [--cache-mb MB] [--db PATH] [--keep]\n");
    return 2;
}

static int parse_int(const char *text, long long min, long long max, long long *out)
{
    char *end = NULL;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || v < min || v > max)
        return -1;
    *out = v;
    return 0;
}

static int parse_options(int argc, char **argv, struct options *o)
{
    *o = (struct options){.registers = 1000,
                          .days = 31,
                          .step_s = 3600,
                          .batch = 1000,
                          .circuit_size = 20,
                          .flows = 1,
                          .start = MODEL_EPOCH};
    for (int i = 1; i < argc; i++) {
        long long v = 0;
        const char *name = argv[i];
        if (strcmp(name, "--keep") == 0) {
            o->keep = true;
            continue;
        }
        if (i + 1 == argc)
            return -1;
        const char *value = argv[++i];
        if (strcmp(name, "--db") == 0)
            o->db = value;
        else if (strcmp(name, "--registers") == 0 && parse_int(value, 1, 10000000, &v) == 0)
            o->registers = (unsigned)v;
        else if (strcmp(name, "--days") == 0 && parse_int(value, 1, 3660, &v) == 0)
            o->days = (int)v;
        else if (strcmp(name, "--step-s") == 0 && parse_int(value, 60, DAY_S, &v) == 0)
            o->step_s = v;
        else if (strcmp(name, "--batch") == 0 && parse_int(value, 1, 10000000, &v) == 0)
            o->batch = (int)v;
        else if (strcmp(name, "--circuit-size") == 0 && parse_int(value, 0, 1000000, &v) == 0)
            o->circuit_size = (unsigned)v;
        else if (strcmp(name, "--flows") == 0 && parse_int(value, 1, 2, &v) == 0)
            o->flows = (int)v;
        else if (strcmp(name, "--start") == 0 &&
                 parse_int(value, MODEL_EPOCH, INT64_C(4102444800), &v) == 0)
            o->start = v;
        else if (strcmp(name, "--block-days") == 0 && parse_int(value, 1, 3660, &v) == 0)
            o->block_days = (int)v;
        else if (strcmp(name, "--cache-mb") == 0 && parse_int(value, 1, 65536, &v) == 0)
            o->cache_mb = (int)v;
        else
            return -1;
    }
    if (o->block_days == 0)
        o->block_days = o->days > 62 ? 30 : 7;
    return 0;
}

static int exec_sql(struct store *st, const char *sql)
{
    char *err = NULL;
    if (sqlite3_exec(st->db, sql, NULL, NULL, &err) != SQLITE_OK) {
        fprintf(stderr, "intervals: %s: %s\n", sql, err ? err : "?");
        sqlite3_free(err);
        return -1;
    }
    return 0;
}

static int prepare(struct store *st, const char *sql, sqlite3_stmt **out)
{
    if (sqlite3_prepare_v2(st->db, sql, -1, out, NULL) != SQLITE_OK) {
        fprintf(stderr, "intervals: prepare %s: %s\n", sql, sqlite3_errmsg(st->db));
        return -1;
    }
    return 0;
}

/* Runs a bound insert statement once and resets it. */
static int step_once(struct store *st, sqlite3_stmt *s)
{
    int rc = sqlite3_step(s);
    sqlite3_reset(s);
    if (rc != SQLITE_DONE) {
        fprintf(stderr, "intervals: insert: %s\n", sqlite3_errmsg(st->db));
        return -1;
    }
    return 0;
}

static int fleet_add(struct fleet *f, size_t cap, const char *id, unsigned meter, int element)
{
    if (f->count == cap)
        return -1;
    struct bench_register *r = &f->regs[f->count++];
    snprintf(r->id, sizeof r->id, "%s", id);
    r->meter = meter;
    r->element = element;
    return 0;
}

/* Creates meters BENCH… with registers A and B (n registers in all) and circuits of k registers. */
static int fleet_create(struct store *st, unsigned n, unsigned k, struct fleet *f)
{
    static const char *const T = "2025-01-01T00:00:00Z";
    sqlite3_stmt *meter = NULL, *reg = NULL, *circuit = NULL, *map = NULL;
    int rc = exec_sql(st, "BEGIN");
    if (rc == 0)
        rc = prepare(st,
                     "INSERT INTO meter_registry (id, serial, created_at, updated_at)"
                     " VALUES (?1, ?2, ?3, ?3)",
                     &meter) |
             prepare(st,
                     "INSERT INTO meter_registers (register_id, meter_id, element, created_at)"
                     " VALUES (?1, ?2, ?3, ?4)",
                     &reg) |
             prepare(st, "INSERT INTO circuits (id, type, name) VALUES (?1, 'power', ?1)",
                     &circuit) |
             prepare(st, "INSERT INTO circuit_register VALUES (?1, ?2, ?3, NULL)", &map);
    for (unsigned i = 0; rc == 0 && i < n; i++) {
        char serial[16], meter_id[24], reg_id[24];
        unsigned m = i / 2;
        int element = (int)(i % 2);
        snprintf(serial, sizeof serial, MODEL_SERIAL_FMT, m);
        snprintf(meter_id, sizeof meter_id, "m-%s", serial);
        snprintf(reg_id, sizeof reg_id, "r-%s-%c", serial, element ? 'B' : 'A');
        if (element == 0) {
            sqlite3_bind_text(meter, 1, meter_id, -1, SQLITE_TRANSIENT);
            sqlite3_bind_text(meter, 2, serial, -1, SQLITE_TRANSIENT);
            sqlite3_bind_text(meter, 3, T, -1, SQLITE_STATIC);
            rc = step_once(st, meter);
        }
        sqlite3_bind_text(reg, 1, reg_id, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(reg, 2, meter_id, -1, SQLITE_TRANSIENT);
        sqlite3_bind_text(reg, 3, element ? "B" : "A", -1, SQLITE_STATIC);
        sqlite3_bind_text(reg, 4, T, -1, SQLITE_STATIC);
        if (rc == 0)
            rc = step_once(st, reg);
        if (rc == 0 && k > 0) {
            char circuit_id[24];
            snprintf(circuit_id, sizeof circuit_id, "c-%06u", i / k);
            sqlite3_bind_text(circuit, 1, circuit_id, -1, SQLITE_TRANSIENT);
            sqlite3_bind_text(map, 1, circuit_id, -1, SQLITE_TRANSIENT);
            sqlite3_bind_text(map, 2, reg_id, -1, SQLITE_TRANSIENT);
            sqlite3_bind_text(map, 3, T, -1, SQLITE_STATIC);
            rc = (i % k == 0 ? step_once(st, circuit) : 0) | step_once(st, map);
        }
        if (rc == 0)
            rc = fleet_add(f, n, reg_id, m, element);
    }
    sqlite3_finalize(meter);
    sqlite3_finalize(reg);
    sqlite3_finalize(circuit);
    sqlite3_finalize(map);
    return rc == 0 ? exec_sql(st, "COMMIT") : (exec_sql(st, "ROLLBACK"), -1);
}

static int64_t count_registers(struct store *st)
{
    sqlite3_stmt *s = NULL;
    if (prepare(st, "SELECT count(*) FROM meter_registers", &s) != 0)
        return -1;
    int64_t n = sqlite3_step(s) == SQLITE_ROW ? sqlite3_column_int64(s, 0) : -1;
    sqlite3_finalize(s);
    return n;
}

/* Loads the registers of the database's BENCH… meters. */
static int fleet_load(struct store *st, size_t n, struct fleet *f)
{
    sqlite3_stmt *s = NULL;
    if (prepare(st,
                "SELECT r.register_id, m.serial, r.element FROM meter_registers r"
                " JOIN meter_registry m ON m.id = r.meter_id ORDER BY m.serial, r.element",
                &s) != 0)
        return -1;
    int rc = 0, step;
    while (rc == 0 && (step = sqlite3_step(s)) == SQLITE_ROW) {
        unsigned meter = 0;
        const char *serial = (const char *)sqlite3_column_text(s, 1);
        const char *element = (const char *)sqlite3_column_text(s, 2);
        if (serial == NULL || element == NULL || sscanf(serial, MODEL_SERIAL_SCAN, &meter) != 1) {
            fprintf(stderr, "intervals: meter %s is not a bench meter\n", serial ? serial : "?");
            rc = -1;
            break;
        }
        rc = fleet_add(f, n, (const char *)sqlite3_column_text(s, 0), meter,
                       strcmp(element, "B") == 0 ? 1 : 0);
    }
    sqlite3_finalize(s);
    return rc;
}

/* ---- Measuring ----------------------------------------------------------------------------- */

static double now_s(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* A per-statement counter summed over the store's statement cache, and reset. */
static int64_t counter_take(struct store *st, int op)
{
    int64_t sum = 0;
    for (size_t i = 0; i < STORE_STMT_CACHE; i++)
        if (st->cache[i].stmt != NULL)
            sum += sqlite3_stmt_status(st->cache[i].stmt, op, 1);
    return sum;
}

static int64_t file_bytes(const char *path, const char *suffix)
{
    char name[4096];
    struct stat sb;
    snprintf(name, sizeof name, "%s%s", path, suffix);
    return stat(name, &sb) == 0 ? (int64_t)sb.st_size : 0;
}

static void block_print_header(void)
{
    printf("%-6s %-10s %10s %9s %11s %12s %10s %10s\n", "block", "from", "reads", "us/read",
           "vm_steps/r", "rows_writ/r", "fullscan/r", "db_MB");
}

static void block_print(int index, int64_t from, const struct block_cost *c, const char *db)
{
    char day[16];
    time_t t = (time_t)from;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(day, sizeof day, "%Y-%m-%d", &tm);
    double n = c->reads > 0 ? (double)c->reads : 1.0;
    double mb = (double)(file_bytes(db, "") + file_bytes(db, "-wal")) / 1e6;
    printf("%-6d %-10s %10" PRId64 " %9.2f %11.1f %12.2f %10.2f %10.1f\n", index, day, c->reads,
           c->seconds * 1e6 / n, (double)c->vm_steps / n, (double)c->rows_written / n,
           (double)c->fullscan_steps / n, mb);
    fflush(stdout);
}

/* ---- Ingest -------------------------------------------------------------------------------- */

struct run {
    const struct options *o;
    struct store *st;
    const struct fleet *fleet;
    const struct tzone *tz;
    struct interval_rules rules;
    int in_tx;
    int64_t resets, duplicates, conflicts;
};

static int run_commit(struct run *r)
{
    if (r->in_tx == 0)
        return 0;
    r->in_tx = 0;
    if (store_commit(r->st) != STORE_OK) {
        fprintf(stderr, "intervals: commit: %s\n", store_errmsg(r->st));
        return -1;
    }
    return 0;
}

static int run_read(struct run *r, const struct bench_register *reg, enum model_flow flow,
                    int64_t ts)
{
    struct store_read_result res;
    if (r->in_tx == 0 && store_begin(r->st) != STORE_OK) {
        fprintf(stderr, "intervals: begin: %s\n", store_errmsg(r->st));
        return -1;
    }
    r->in_tx++;
    int64_t wh = model_wh(reg->meter, reg->element, flow, ts);
    if (store_register_read(r->st, reg->id,
                            flow == MODEL_IMPORT ? STORE_FLOW_IMPORT : STORE_FLOW_EXPORT, ts, wh,
                            false, &r->rules, r->tz, NULL, &res) != STORE_OK) {
        fprintf(stderr, "intervals: read %s %" PRId64 ": %s\n", reg->id, ts, store_errmsg(r->st));
        store_rollback(r->st);
        return -1;
    }
    r->resets += res.reset;
    r->duplicates += res.arrival == INTERVAL_DUPLICATE;
    r->conflicts += res.arrival == INTERVAL_CONFLICT;
    return r->in_tx >= r->o->batch ? run_commit(r) : 0;
}

/* One step of time: a read of every register flow. */
static int run_hour(struct run *r, int64_t ts, struct block_cost *c)
{
    for (size_t i = 0; i < r->fleet->count; i++)
        for (int flow = 0; flow < r->o->flows; flow++) {
            if (run_read(r, &r->fleet->regs[i], (enum model_flow)flow, ts) != 0)
                return -1;
            c->reads++;
        }
    return 0;
}

static int run_all(struct run *r, const char *db, double *seconds, int64_t *reads)
{
    const struct options *o = r->o;
    int64_t end = o->start + (int64_t)o->days * DAY_S, block_s = (int64_t)o->block_days * DAY_S;
    int64_t block_from = o->start;
    int block = 0;
    struct block_cost c = {0};
    double t0 = now_s(), block_t0 = t0;
    block_print_header();
    counter_take(r->st, SQLITE_STMTSTATUS_VM_STEP);
    counter_take(r->st, SQLITE_STMTSTATUS_FULLSCAN_STEP);
    int64_t changes0 = sqlite3_total_changes64(r->st->db);
    for (int64_t ts = o->start; ts < end; ts += o->step_s) {
        if (run_hour(r, ts, &c) != 0)
            return -1;
        if (ts + o->step_s < end && (ts + o->step_s - o->start) / block_s == block)
            continue;
        if (run_commit(r) != 0) /* the block's last commit belongs to the block */
            return -1;
        double t = now_s();
        int64_t changes = sqlite3_total_changes64(r->st->db);
        c.seconds = t - block_t0;
        c.vm_steps = counter_take(r->st, SQLITE_STMTSTATUS_VM_STEP);
        c.fullscan_steps = counter_take(r->st, SQLITE_STMTSTATUS_FULLSCAN_STEP);
        c.rows_written = changes - changes0;
        block_print(block, block_from, &c, db);
        *reads += c.reads;
        c = (struct block_cost){0};
        changes0 = changes;
        block_t0 = now_s(); /* printing is not the engine's time */
        block++;
        block_from = o->start + (int64_t)block * block_s;
    }
    *seconds = now_s() - t0;
    return 0;
}

/* ---- Main ---------------------------------------------------------------------------------- */

static void remove_db(const char *path)
{
    static const char *const suffixes[] = {"", "-wal", "-shm"};
    char name[4096];
    for (size_t i = 0; i < 3; i++) {
        snprintf(name, sizeof name, "%s%s", path, suffixes[i]);
        if (unlink(name) != 0 && errno != ENOENT)
            fprintf(stderr, "intervals: cannot remove %s: %s\n", name, strerror(errno));
    }
}

/* Opens the store as shadowd does; a larger page cache only when asked (an experiment). */
static int open_store(const char *path, int cache_mb, struct store **st)
{
    char err[256], pragma[64];
    struct store_options so = {.path = path, .busy_timeout_ms = 5000};
    if (store_open(&so, st, err, sizeof err) != STORE_OK) {
        fprintf(stderr, "intervals: open %s: %s\n", path, err);
        return -1;
    }
    snprintf(pragma, sizeof pragma, "PRAGMA cache_size = %d", -1024 * cache_mb);
    return cache_mb > 0 ? exec_sql(*st, pragma) : 0;
}

static int prepare_fleet(struct store *st, const struct options *o, struct fleet *f)
{
    int64_t held = count_registers(st);
    size_t cap = held > 0 ? (size_t)held : o->registers;
    f->regs = calloc(cap, sizeof *f->regs);
    if (held < 0 || f->regs == NULL)
        return -1;
    int rc = held > 0 ? fleet_load(st, cap, f) : fleet_create(st, o->registers, o->circuit_size, f);
    printf("intervals: %zu registers (%s), %d days, a read every %" PRId64 " s, %d flow(s),"
           " %d reads per transaction\n",
           f->count, held > 0 ? "from the database" : "created", o->days, o->step_s, o->flows,
           o->batch);
    return rc;
}

static int bench(const struct options *o, const char *db)
{
    struct store *st = NULL;
    struct fleet fleet = {0};
    struct tzone london;
    double seconds = 0;
    int64_t reads = 0;
    if (tzone_load("Europe/London", &london) != 0) {
        fprintf(stderr, "intervals: Europe/London time zone not installed\n");
        return 1;
    }
    int rc = open_store(db, o->cache_mb, &st);
    if (rc == 0)
        rc = prepare_fleet(st, o, &fleet);
    struct run r = {.o = o,
                    .st = st,
                    .fleet = &fleet,
                    .tz = &london,
                    .rules = {.max_power_w = 23000, .max_interpolate_s = 6 * 3600}};
    if (rc == 0)
        rc = run_all(&r, db, &seconds, &reads);
    if (rc == 0) {
        printf("intervals: reads=%" PRId64 " seconds=%.1f reads_per_s=%.0f resets=%" PRId64
               " duplicates=%" PRId64 " conflicts=%" PRId64 "\n",
               reads, seconds, (double)reads / seconds, r.resets, r.duplicates, r.conflicts);
        rc = exec_sql(st, "PRAGMA wal_checkpoint(TRUNCATE)");
        printf("intervals: db_bytes=%" PRId64 " bytes_per_register_day=%.0f\n", file_bytes(db, ""),
               (double)file_bytes(db, "") / ((double)fleet.count * o->days));
    }
    if (st != NULL)
        store_close(st);
    free(fleet.regs);
    return rc == 0 ? 0 : 1;
}

int main(int argc, char **argv)
{
    struct options o;
    char temp[4096];
    if (parse_options(argc, argv, &o) != 0)
        return usage();
    const char *db = o.db;
    if (db == NULL) {
        const char *dir = getenv("TMPDIR");
        snprintf(temp, sizeof temp, "%s/bench_intervals_XXXXXX", dir ? dir : "/tmp");
        int fd = mkstemp(temp);
        if (fd < 0 || close(fd) != 0) {
            fprintf(stderr, "intervals: cannot create a temporary file: %s\n", strerror(errno));
            return 1;
        }
        db = temp;
    }
    int rc = bench(&o, db);
    if (o.db == NULL && !o.keep)
        remove_db(db);
    else
        printf("intervals: database %s\n", db);
    return rc;
}
