/* store_registry.h — the store's registry (SPEC §7, §10): importing a topology, and what the
 * daemon needs to know about one meter.
 *
 * Part of the store interface (store.h): same error convention (STORE_OK or a negative
 * store_status, store_errmsg says why), the only place that speaks registry SQL. */
#ifndef STORE_REGISTRY_H
#define STORE_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "registry.h"
#include "store.h"

/* store_registry_import's answer when the file was refused: problems listed, nothing changed. */
#define STORE_REGISTRY_REJECTED 1

/* Imports t in one transaction of its own (st must not be inside one): references are resolved
 * against the file first, then the database, and every problem of that step is appended to
 * problems, which may already hold registry_parse's. If problems then lists anything, the
 * transaction is rolled back and STORE_REGISTRY_REJECTED returned: nothing changes. Otherwise
 * every entity is upserted by its natural key and counted into *report (zeroed first; its
 * progress callback is kept): STORE_OK after the commit, or a store_status with everything rolled
 * back. Rows equal to the file's are not written at all; entities absent from t are kept. */
int store_registry_import(struct store *st, const struct topology *t, int64_t now,
                          struct registry_report *report, struct registry_problems *problems);

/* ---- One meter, for the daemon ------------------------------------------------------------- */

struct store_register {
    char id[REGISTRY_ID_LEN];
    char element[7]; /* "A", "B" or "SINGLE" */
    bool direction_reversed;
    int64_t rollover_wh; /* rollover_kwh × 1000; 0 = none */
};

struct store_meter {
    bool found;
    char id[REGISTRY_ID_LEN];
    bool passive;
    bool dst_correction;
    int64_t max_power_w; /* fuse A × 230 V × phases of its service head; 0 when unknown */
    size_t register_count;
    struct store_register registers[3]; /* ordered A, B, SINGLE */
};

/* Fills *out with the meter of serial and its registers (found false, STORE_OK, when there is
 * none). Reads only; works inside or outside a transaction. */
int store_meter_lookup(struct store *st, const char *serial, struct store_meter *out);

/* unknown_meters = provision (SPEC §5): creates an active meter with registers for elements[0..n)
 * ("A", "B", "SINGLE"), or adds the missing ones to an existing meter ("A" is already there when
 * the meter has SINGLE, which stands for it), then fills *out as store_meter_lookup does. Runs
 * inside the caller's transaction; an unknown element, or SINGLE beside A or B, is STORE_ERROR
 * before anything is written. */
int store_meter_provision(struct store *st, const char *serial, const char *const *elements,
                          size_t n, int64_t now, struct store_meter *out);

#endif
