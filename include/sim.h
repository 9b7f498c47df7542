/* sim.h — the physics of `metersim`: a fleet of prepayment meters and their mediators, stepped in
 * simulated time (SPEC §1, §3, §5, §8).
 *
 * Each register draws a power that is constant within each UTC half-hour: a domestic load profile
 * scaled per meter (power circuits), a heat pump following the day's temperature (heat circuits),
 * or panels following the sun (solar circuits). Registers integrate that power exactly, in integer
 * millijoules, so the energy a meter reports between two reads is exactly the integral of its
 * power; the prepayment balance falls with each kWh imported at the active tariff's unit rate and
 * with the standing charge, in integer 1e-5 £ with carried remainders, and rises with top-ups.
 *
 * Every random choice is a hash of (seed, meter serial, what, when) rather than a draw from a
 * running generator, so a meter's readings do not depend on how time is stepped, on real-time
 * pacing, or on the other meters: the same seed gives the same messages. Commands received from
 * the service are the only input that is not a function of the seed.
 *
 * Pure: no I/O, no clock. Messages are built as JSON text for the program to publish. */
#ifndef SIM_H
#define SIM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "fields.h"
#include "topics.h"

struct cJSON;
struct interval_profile;
struct topology;
struct tzone;

#define SIM_MJ_PER_WH INT64_C(3600000)          /* 1 Wh = 3600 J = 3.6e6 mJ */
#define SIM_MJ_PER_KWH INT64_C(3600000000)      /* the divisor of a unit-rate charge */
#define SIM_PERIOD_S 1800                       /* power is constant within a UTC half-hour */
#define SIM_RING 96                             /* HH reads a mediated meter keeps: two days */
#define SIM_EVENTS_MAX 8                        /* meter events held until a report carries them */
#define SIM_HARDWARE_MAX (FIELDS_LABEL_MAX + 1) /* hardware label plus NUL */

/* What a register measures: the type of the circuit it feeds. */
enum sim_role { SIM_ROLE_POWER = 0, SIM_ROLE_HEAT, SIM_ROLE_SOLAR };

/* Elements: index 0 is A (or SINGLE, reported as import_a/export_a), 1 is B. */
enum sim_element { SIM_A = 0, SIM_B, SIM_ELEMENTS };
/* Flows in the network's view: import is what the premises draw, export what they generate. */
enum sim_flow { SIM_IMPORT = 0, SIM_EXPORT, SIM_FLOWS };

/* Random streams: the `what` of a hash. Public so tests can check the rates they drive. */
enum sim_stream {
    SIM_STREAM_PARAM = 1, /* per-meter constants (demand factor, panel size, …) */
    SIM_STREAM_NOISE,     /* per register and half-hour */
    SIM_STREAM_WEATHER,   /* per day: temperature, cloud */
    SIM_STREAM_OFFLINE,   /* per meter and day: an offline spell */
    SIM_STREAM_HEALTH,    /* per meter and day: an unhealthy spell */
    SIM_STREAM_MISSED,    /* per read: not taken */
    SIM_STREAM_MALFORMED, /* per message */
    SIM_STREAM_DUPLICATE, /* per message */
    SIM_STREAM_WANDER,    /* per report: csq and voltage steps */
    SIM_STREAM_TOPUP,     /* per report: a top-up */
    SIM_STREAM_PICK,      /* per meter: chosen for a percentage option */
};

struct sim_register_spec {
    bool present;
    enum sim_role role;
    bool direction_reversed; /* wired backwards: the meter reports import as export and back */
    int64_t rollover_wh;     /* the register's modulus in Wh; 0 = none */
};

/* One meter as the simulator sees it: from the topology, or synthetic. */
struct sim_meter_spec {
    char serial[TOPIC_SERIAL_MAX + 1];
    char hardware[SIM_HARDWARE_MAX];
    struct sim_register_spec reg[SIM_ELEMENTS];
    int phases;          /* 1, or 3: reports voltage_l1..l3 */
    double scale;        /* demand multiplier: 1 for homes, more for halls and workshops */
    bool passive;        /* a twin without hardware: never reports tariffs, never answers */
    bool dst_correction; /* activation_datetime is UK local time */
    bool mediated;       /* registers arrive as daily profile-log batches on `reads` */
    bool rejects_commands;
    bool silent; /* publishes nothing and answers nothing */
};

/* Fleet-wide settings. Percentages are 0–100. */
struct sim_options {
    uint64_t seed;
    int64_t start;             /* simulated start instant, Unix seconds */
    int64_t report_interval_s; /* between a meter's live reports, ≥ 1 */
    double offline_pct;        /* chance per meter and day of an offline spell (1–6 h) */
    double missed_pct;         /* chance per read that it is not taken */
    double malformed_pct;      /* chance per report or batch that its payload is garbage */
    double duplicate_pct;      /* chance per message that it is published twice */
    double reads_batch_pct;    /* meters picked to be mediated (besides spec.mediated) */
    double reject_pct;         /* meters picked to reject commands (besides the spec's) */
    const struct interval_profile *profile; /* borrowed: the domestic daily load shape */
    const struct tzone *london;             /* borrowed: activation of DST-corrected meters */
};

/* The default tariff every meter starts with, in the meter's units (1e-5 £). */
extern const struct tariff sim_default_tariff;

/* A read of every register at an HH boundary, kept by mediated meters for their profile log. */
struct sim_hh_read {
    int64_t ts;
    int64_t wh[SIM_ELEMENTS][SIM_FLOWS]; /* as the meter reports: after reversal and rollover */
    bool missed;
};

/* A meter's state. Read it through sim_fleet_meter; only sim.c writes it. */
struct sim_meter {
    struct sim_meter_spec spec;
    uint64_t key; /* hash of the serial: the meter's identity in every random draw */
    /* Physics, integrated up to state_at. */
    int64_t state_at;
    int64_t energy_mj[SIM_ELEMENTS][SIM_FLOWS]; /* cumulative, network view */
    int64_t balance;                            /* 1e-5 £ */
    int64_t charge_rem[SIM_ELEMENTS];           /* unit charges not yet whole 1e-5 £ */
    int64_t standing_rem;                       /* standing charge not yet whole 1e-5 £ */
    int64_t topped_up;                          /* 1e-5 £ of top-ups so far */
    int64_t charged;                            /* 1e-5 £ of charges so far */
    /* Per-meter constants. */
    double demand_w, heat_w, solar_kw, drift_ppm, voltage_mean;
    int csq_mean;
    int64_t clock_sync_period_s, clock_sync_offset_s, report_phase_s, batch_delay_s;
    int64_t topup_threshold;
    /* Wandering readings, stepped at each scheduled report. */
    int csq;
    double voltage[3];
    /* Tariffs. */
    struct tariff active;
    bool has_future;
    struct tariff future;
    int64_t future_at; /* activation instant, UTC */
    /* Schedule. */
    int64_t next_report, next_batch;
    int64_t info_day; /* UTC day of the last report that carried hardware and firmware */
    /* Meter events waiting for a report (top-ups). */
    struct {
        int64_t ts;
        int64_t amount;
    } events[SIM_EVENTS_MAX];
    size_t event_count;
    /* Profile log of a mediated meter: HH reads, oldest first, not yet uploaded. */
    struct sim_hh_read *ring;
    size_t ring_head, ring_count;
};

enum sim_message_kind { SIM_MSG_REPORT, SIM_MSG_READS, SIM_MSG_RESULT };

/* One message to publish on `{root/}meters/{serial}/{suffix}`. */
struct sim_message {
    uint64_t id; /* fleet-wide, from 1; a duplicate repeats its original's id */
    size_t meter;
    enum sim_message_kind kind;
    int64_t ts;    /* simulated instant it is sent */
    char *payload; /* owned by the outbox (cJSON_malloc) */
    size_t len;
    bool malformed; /* deliberately invalid */
    bool duplicate; /* the second copy of the message before it */
};

/* Messages produced by a step, in the order to publish them. */
struct sim_outbox {
    struct sim_message *items;
    size_t count, cap;
};

struct sim_fleet;

/* --- Messages --- */

/* The topic suffix of a kind: "reported", "reads", "commands/result". */
const char *sim_message_suffix(enum sim_message_kind kind);
/* Frees the payloads and empties the outbox (its array is kept for reuse). */
void sim_outbox_clear(struct sim_outbox *box);
/* Frees everything; the outbox is empty and reusable after. */
void sim_outbox_free(struct sim_outbox *box);

/* --- Fleets --- */

/* Builds a fleet of n meters (copied from specs) at o->start. Options are validated (percentages
 * 0–100, interval ≥ 1, profile and london set); serials must be unique. Returns 0, or -1 for bad
 * options or out of memory (*out untouched). */
int sim_fleet_create(const struct sim_options *o, const struct sim_meter_spec *specs, size_t n,
                     struct sim_fleet **out);
void sim_fleet_free(struct sim_fleet *f);

size_t sim_fleet_size(const struct sim_fleet *f);
/* The state of meter i (i < size). */
const struct sim_meter *sim_fleet_meter(const struct sim_fleet *f, size_t i);
/* The meter with this serial (len bytes). Returns true and sets *index, or false. */
bool sim_fleet_find(const struct sim_fleet *f, const char *serial, size_t len, size_t *index);

/* The simulated instant every event up to which has been run. */
int64_t sim_fleet_now(const struct sim_fleet *f);
/* The earliest instant at which some meter has something to do (> now once advanced to now). */
int64_t sim_fleet_next_due(const struct sim_fleet *f);

/* Runs every event due at or before until (until ≥ now), in time order, ties by meter index, and
 * appends the messages to out; now becomes until. Returns 0, or -1 when out of memory (the
 * fleet is then still consistent but a message may be lost). */
int sim_fleet_advance(struct sim_fleet *f, int64_t until, struct sim_outbox *out);

/* A message received on meter i's `commands` topic at now: `tariffs_future_write` stores the
 * tariff as the meter's future one, answers `{"id","status":"ok"}` and reports tariffs_future at
 * once; a rejecting meter, an unknown command or a bad tariff answers status "error". Silent,
 * passive and offline meters answer nothing. Returns 0, or -1 when out of memory. */
int sim_fleet_command(struct sim_fleet *f, size_t i, const char *payload, size_t len,
                      struct sim_outbox *out);

/* --- Physics (exposed for tests) --- */

/* The power of meter i's register e in flow, in mW, during the half-hour holding t. */
int64_t sim_power_mw(const struct sim_fleet *f, size_t i, enum sim_element e, enum sim_flow flow,
                     int64_t t);
/* The energy of that register and flow over [t0, t1), in mJ: the exact integral of its power. */
int64_t sim_energy_mj(const struct sim_fleet *f, size_t i, enum sim_element e, enum sim_flow flow,
                      int64_t t0, int64_t t1);
/* The register value the meter shows, in Wh: after reversal (flow is the meter's own) and
 * rollover, at state_at. */
int64_t sim_meter_register_wh(const struct sim_meter *m, enum sim_element e, enum sim_flow flow);

/* The mean outdoor temperature of the UTC day holding t, °C (seasonal curve plus weather). */
double sim_day_temperature(uint64_t seed, int64_t t);
/* The sine of the sun's elevation at t over the south of England: > 0 means daylight. */
double sim_sun_sine(int64_t t);
/* A draw in [0, 1) of stream what for the meter with key at when. */
double sim_uniform(uint64_t seed, uint64_t key, enum sim_stream what, int64_t when);
/* The key of a serial: what sim_meter.key holds. */
uint64_t sim_serial_key(const char *serial);

/* The UTC instant of a tariff's activation_datetime (naive meter time): read in Europe/London
 * when dst_correction, else as UTC. Returns 0, or -1 when london cannot place it. */
int sim_activation_instant(const struct tzone *london, bool dst_correction, int64_t naive,
                           int64_t *out);

/* --- Fleet sources --- */

/* Specs for every meter of a parsed topology: register roles from the circuits the registers
 * feed at instant at (power when none), phases from the service head, scale from the property
 * type. *out is a new array of *count specs owned by the caller (free), NULL when empty.
 * Returns 0, or -1 when out of memory. */
int sim_specs_from_topology(const struct topology *t, int64_t at, struct sim_meter_spec **out,
                            size_t *count);
/* The spec of synthetic meter i (serial SIM000001 for i = 0): a mix of homes, heat pumps on
 * element B and solar meters, fixed by i alone so a written topology matches any seed. */
void sim_synthetic_spec(size_t i, struct sim_meter_spec *out);
/* A §7 topology JSON for synthetic meters 0..n-1: one ESCO, one site, a power, a heat and a
 * solar circuit. New tree owned by the caller; NULL when out of memory. */
struct cJSON *sim_synthetic_topology(size_t n);

#endif
