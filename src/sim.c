/* sim.c — a fleet of simulated prepayment meters and mediators (see sim.h for the idea).
 *
 * Time runs as events: each meter has one entry in a min-heap keyed by the next instant it must
 * act (a live report, a profile-log upload, a tariff activation). Running an event first
 * integrates the meter's registers and balance up to that instant, half-hour by half-hour, then
 * acts. Since power is constant within a UTC half-hour and every draw is a hash, the state at an
 * instant is the same however the time before it was cut into events. */
#include "sim.h"

#include <assert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "intervals.h"
#include "isotime.h"
#include "registry.h"
#include "strmap.h"
#include "tzone.h"

#define SIM_DAY_S INT64_C(86400)
#define SIM_PI 3.14159265358979323846
#define SIM_LATITUDE_DEG 51.45   /* Bristol, where the example fleet lives */
#define SIM_LONGITUDE_DEG (-2.6) /* west: solar noon comes about 10 minutes after 12:00 UTC */
#define SIM_HEAT_BASE_C 15.5     /* heating degree days count below this mean temperature */
#define SIM_FIRMWARE "3.4.2"
#define SIM_TOPUP_SMALL INT64_C(1000000) /* £10 */
#define SIM_TOPUP_LARGE INT64_C(2000000) /* £20 */

const struct tariff sim_default_tariff = {
    .amount = {[TARIFF_STANDING_CHARGE] = 53000,
               [TARIFF_UNIT_RATE_ELEMENT_A] = 24500,
               [TARIFF_UNIT_RATE_ELEMENT_B] = 18500,
               [TARIFF_PREPAYMENT_ECREDIT_AVAILABILITY] = 500000,
               [TARIFF_PREPAYMENT_DEBT_RECOVERY_RATE] = 0,
               [TARIFF_PREPAYMENT_EMERGENCY_CREDIT] = 1000000},
};

struct sim_fleet {
    struct sim_options opt;
    struct sim_meter *meters;
    size_t count;
    struct strmap by_serial; /* serial → index */
    int64_t now;
    uint64_t next_id;
    /* Min-heap of meter indices by (due, index); pos[i] is meter i's place in it. */
    size_t *heap;
    size_t *pos;
    int64_t *due;
};

/* ---- Randomness: hashes, not a running generator ------------------------------------------- */

/* The splitmix64 finaliser: a bijection that scatters every input bit over the output. */
static uint64_t sim_mix(uint64_t z)
{
    z += UINT64_C(0x9E3779B97F4A7C15);
    z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
    return z ^ (z >> 31);
}

static uint64_t sim_hash(uint64_t seed, uint64_t key, enum sim_stream what, int64_t when)
{
    uint64_t h = sim_mix(seed);
    h = sim_mix(h ^ key);
    h = sim_mix(h ^ (uint64_t)what);
    return sim_mix(h ^ (uint64_t)when);
}

double sim_uniform(uint64_t seed, uint64_t key, enum sim_stream what, int64_t when)
{
    return (double)(sim_hash(seed, key, what, when) >> 11) * 0x1.0p-53;
}

uint64_t sim_serial_key(const char *serial)
{
    return sim_mix(strmap_hash(serial, strlen(serial)));
}

static double sim_draw(const struct sim_fleet *f, const struct sim_meter *m, enum sim_stream what,
                       int64_t when)
{
    return sim_uniform(f->opt.seed, m->key, what, when);
}

static bool sim_chance(const struct sim_fleet *f, const struct sim_meter *m, enum sim_stream what,
                       int64_t when, double pct)
{
    return pct > 0 && sim_draw(f, m, what, when) * 100.0 < pct;
}

/* ---- Calendar, weather and sun ------------------------------------------------------------- */

static int64_t sim_floor_div(int64_t a, int64_t b)
{
    return a >= 0 ? a / b : -((-a + b - 1) / b);
}

static int64_t sim_day(int64_t t)
{
    return sim_floor_div(t, SIM_DAY_S);
}

static int sim_day_of_year(int64_t day)
{
    int64_t y;
    unsigned m, d;
    isotime_civil_from_days(day, &y, &m, &d);
    return (int)(day - isotime_days_from_civil(y, 1, 1));
}

static bool sim_weekend(int64_t day)
{
    int64_t wday = (day % 7 + 7 + 4) % 7; /* 1970-01-01 was a Thursday; 0 = Sunday */
    return wday == 0 || wday == 6;
}

double sim_day_temperature(uint64_t seed, int64_t t)
{
    int64_t day = sim_day(t);
    double season = cos(2.0 * SIM_PI * (sim_day_of_year(day) - 15) / 365.25);
    double weather = sim_uniform(seed, 0, SIM_STREAM_WEATHER, day * 2) - 0.5;
    return 10.5 - 6.5 * season + 6.0 * weather;
}

/* The share of clear sky on the day holding t: one sky for the whole fleet. */
static double sim_day_sunshine(uint64_t seed, int64_t t)
{
    return 0.25 + 0.75 * sim_uniform(seed, 0, SIM_STREAM_WEATHER, sim_day(t) * 2 + 1);
}

double sim_sun_sine(int64_t t)
{
    const double rad = SIM_PI / 180.0;
    int64_t day = sim_day(t);
    double declination = 23.44 * rad * sin(2.0 * SIM_PI * (284 + sim_day_of_year(day)) / 365.0);
    double hours = (double)(t - day * SIM_DAY_S) / 3600.0;
    double hour_angle = (15.0 * (hours - 12.0) + SIM_LONGITUDE_DEG) * rad;
    double lat = SIM_LATITUDE_DEG * rad;
    return sin(lat) * sin(declination) + cos(lat) * cos(declination) * cos(hour_angle);
}

/* ---- Power --------------------------------------------------------------------------------- */

/* The profile's weight of the half-hour at p relative to the day's mean (mean 1.0). */
static double sim_profile_shape(const struct interval_profile *profile, int64_t p)
{
    int64_t slot = (p - sim_day(p) * SIM_DAY_S) / SIM_PERIOD_S;
    return (double)profile->weight[slot] * INTERVAL_SLOTS / (double)profile->prefix[INTERVAL_SLOTS];
}

/* Import and export power in W (network view) of register e during the half-hour starting p. */
static void sim_power_w(const struct sim_fleet *f, const struct sim_meter *m, enum sim_element e,
                        int64_t p, double w[SIM_FLOWS])
{
    w[SIM_IMPORT] = w[SIM_EXPORT] = 0;
    if (!m->spec.reg[e].present)
        return;
    double noise = sim_draw(f, m, SIM_STREAM_NOISE, p * 2 + e);
    double shape = sim_profile_shape(f->opt.profile, p);
    switch (m->spec.reg[e].role) {
    case SIM_ROLE_POWER:
        w[SIM_IMPORT] =
            m->demand_w * shape * (sim_weekend(sim_day(p)) ? 1.12 : 1.0) * (0.7 + 0.6 * noise);
        break;
    case SIM_ROLE_HEAT: {
        double degrees = SIM_HEAT_BASE_C - sim_day_temperature(f->opt.seed, p);
        double demand = 0.25 + 0.12 * (degrees > 0 ? degrees : 0); /* hot water + space heat */
        w[SIM_IMPORT] = m->heat_w * demand * (0.6 + 0.4 * shape) * (0.85 + 0.3 * noise);
        break;
    }
    case SIM_ROLE_SOLAR: {
        double sun = sim_sun_sine(p + SIM_PERIOD_S / 2);
        if (sun > 0)
            w[SIM_EXPORT] =
                m->solar_kw * 1000.0 * sun * sim_day_sunshine(f->opt.seed, p) * (0.9 + 0.2 * noise);
        else
            w[SIM_IMPORT] = 5.0; /* the inverter's standby at night */
        break;
    }
    }
}

static void sim_power_mw_pair(const struct sim_fleet *f, const struct sim_meter *m,
                              enum sim_element e, int64_t p, int64_t mw[SIM_FLOWS])
{
    double w[SIM_FLOWS];
    sim_power_w(f, m, e, p, w);
    for (int flow = 0; flow < SIM_FLOWS; flow++)
        mw[flow] = (int64_t)llround(w[flow] * 1000.0);
}

int64_t sim_power_mw(const struct sim_fleet *f, size_t i, enum sim_element e, enum sim_flow flow,
                     int64_t t)
{
    int64_t mw[SIM_FLOWS];
    sim_power_mw_pair(f, &f->meters[i], e, interval_period_start(t), mw);
    return mw[flow];
}

int64_t sim_energy_mj(const struct sim_fleet *f, size_t i, enum sim_element e, enum sim_flow flow,
                      int64_t t0, int64_t t1)
{
    int64_t total = 0;
    for (int64_t t = t0; t < t1;) {
        int64_t p = interval_period_start(t);
        int64_t end = p + SIM_PERIOD_S < t1 ? p + SIM_PERIOD_S : t1;
        int64_t mw[SIM_FLOWS];
        sim_power_mw_pair(f, &f->meters[i], e, p, mw);
        total += mw[flow] * (end - t);
        t = end;
    }
    return total;
}

int64_t sim_meter_register_wh(const struct sim_meter *m, enum sim_element e, enum sim_flow flow)
{
    const struct sim_register_spec *r = &m->spec.reg[e];
    enum sim_flow network = r->direction_reversed ? (enum sim_flow)(SIM_FLOWS - 1 - flow) : flow;
    int64_t wh = m->energy_mj[e][network] / SIM_MJ_PER_WH;
    return r->rollover_wh > 0 ? wh % r->rollover_wh : wh;
}

/* ---- Spells: offline, unhealthy ------------------------------------------------------------ */

/* Whether t lies in a spell of stream what: each UTC day holds one with chance pct, starting
 * anywhere in the day and lasting lo–hi seconds (so it may run into the next day). Sets *end and
 * *which (a draw that picks among variants). */
static bool sim_spell(const struct sim_fleet *f, const struct sim_meter *m, enum sim_stream what,
                      double pct, int64_t lo, int64_t hi, int64_t t, int64_t *end, double *which)
{
    for (int64_t day = sim_day(t); day >= sim_day(t) - 1; day--) {
        if (!sim_chance(f, m, what, day * 4, pct))
            continue;
        int64_t start = day * SIM_DAY_S + (int64_t)(sim_draw(f, m, what, day * 4 + 1) * SIM_DAY_S);
        int64_t length = lo + (int64_t)(sim_draw(f, m, what, day * 4 + 2) * (double)(hi - lo));
        if (start <= t && t < start + length) {
            *end = start + length;
            *which = sim_draw(f, m, what, day * 4 + 3);
            return true;
        }
    }
    return false;
}

static bool sim_offline(const struct sim_fleet *f, const struct sim_meter *m, int64_t t,
                        int64_t *until)
{
    double which;
    return sim_spell(f, m, SIM_STREAM_OFFLINE, f->opt.offline_pct, 3600, 6 * 3600, t, until,
                     &which);
}

/* The meter's health text at t: NULL while healthy. */
static const char *sim_fault(const struct sim_fleet *f, const struct sim_meter *m, int64_t t)
{
    static const char *const faults[] = {"relay fault", "low battery", "terminal cover open"};
    int64_t end;
    double which;
    if (!sim_spell(f, m, SIM_STREAM_HEALTH, 3.0, 2 * 3600, 12 * 3600, t, &end, &which))
        return NULL;
    return faults[(size_t)(which * 3) % 3];
}

static bool sim_can_send(const struct sim_fleet *f, const struct sim_meter *m, int64_t t)
{
    int64_t until;
    return !m->spec.silent && !sim_offline(f, m, t, &until);
}

/* The meter clock's error at t: it drifts at drift_ppm and is set right every sync period. */
static int64_t sim_clock_diff(const struct sim_meter *m, int64_t t)
{
    int64_t since =
        t - m->clock_sync_offset_s -
        sim_floor_div(t - m->clock_sync_offset_s, m->clock_sync_period_s) * m->clock_sync_period_s;
    return (int64_t)llround(m->drift_ppm * 1e-6 * (double)since);
}

/* ---- The schedule heap --------------------------------------------------------------------- */

static int64_t sim_meter_due(const struct sim_meter *m)
{
    int64_t due = m->next_report;
    if (m->ring != NULL && m->next_batch < due)
        due = m->next_batch;
    if (m->has_future) {
        int64_t at = m->future_at > m->state_at ? m->future_at : m->state_at;
        if (at < due)
            due = at;
    }
    return due;
}

static bool sim_heap_less(const struct sim_fleet *f, size_t a, size_t b)
{
    if (f->due[a] != f->due[b])
        return f->due[a] < f->due[b];
    return a < b; /* ties by meter index, so the order never depends on the heap's shape */
}

static void sim_heap_swap(struct sim_fleet *f, size_t x, size_t y)
{
    size_t a = f->heap[x], b = f->heap[y];
    f->heap[x] = b;
    f->heap[y] = a;
    f->pos[b] = x;
    f->pos[a] = y;
}

static void sim_heap_up(struct sim_fleet *f, size_t at)
{
    while (at > 0 && sim_heap_less(f, f->heap[at], f->heap[(at - 1) / 2])) {
        sim_heap_swap(f, at, (at - 1) / 2);
        at = (at - 1) / 2;
    }
}

static void sim_heap_down(struct sim_fleet *f, size_t at)
{
    for (;;) {
        size_t least = at, l = 2 * at + 1, r = l + 1;
        if (l < f->count && sim_heap_less(f, f->heap[l], f->heap[least]))
            least = l;
        if (r < f->count && sim_heap_less(f, f->heap[r], f->heap[least]))
            least = r;
        if (least == at)
            return;
        sim_heap_swap(f, at, least);
        at = least;
    }
}

/* Meter i's due instant may have changed: put it back in its place. */
static void sim_heap_update(struct sim_fleet *f, size_t i)
{
    f->due[i] = sim_meter_due(&f->meters[i]);
    sim_heap_up(f, f->pos[i]);
    sim_heap_down(f, f->pos[i]);
}

/* ---- Integration: registers, balance, profile log ------------------------------------------ */

static void sim_ring_push(const struct sim_fleet *f, struct sim_meter *m, int64_t ts)
{
    size_t at;
    if (m->ring_count == SIM_RING) { /* full: the oldest read is overwritten, as in a meter */
        at = m->ring_head;
        m->ring_head = (m->ring_head + 1) % SIM_RING;
    } else {
        at = (m->ring_head + m->ring_count++) % SIM_RING;
    }
    struct sim_hh_read *r = &m->ring[at];
    r->ts = ts;
    r->missed = sim_chance(f, m, SIM_STREAM_MISSED, ts, f->opt.missed_pct);
    for (int e = 0; e < SIM_ELEMENTS; e++)
        for (int flow = 0; flow < SIM_FLOWS; flow++)
            r->wh[e][flow] = sim_meter_register_wh(m, (enum sim_element)e, (enum sim_flow)flow);
}

/* Charges d_mj of import on element e at its unit rate; the remainder carries, so the total
 * charged is always the floor of the exact cost of all energy imported. */
static void sim_charge_energy(struct sim_meter *m, enum sim_element e, int64_t d_mj)
{
    int64_t rate =
        m->active.amount[e == SIM_A ? TARIFF_UNIT_RATE_ELEMENT_A : TARIFF_UNIT_RATE_ELEMENT_B];
    m->charge_rem[e] += d_mj * rate;
    int64_t money = m->charge_rem[e] / SIM_MJ_PER_KWH;
    m->charge_rem[e] %= SIM_MJ_PER_KWH;
    m->balance -= money;
    m->charged += money;
}

static void sim_charge_standing(struct sim_meter *m, int64_t seconds)
{
    m->standing_rem += seconds * m->active.amount[TARIFF_STANDING_CHARGE];
    int64_t money = m->standing_rem / SIM_DAY_S;
    m->standing_rem %= SIM_DAY_S;
    m->balance -= money;
    m->charged += money;
}

/* Runs the meter's physics from state_at to until, one half-hour piece at a time. */
static void sim_integrate(const struct sim_fleet *f, struct sim_meter *m, int64_t until)
{
    while (m->state_at < until) {
        int64_t p = interval_period_start(m->state_at);
        int64_t end = p + SIM_PERIOD_S < until ? p + SIM_PERIOD_S : until;
        int64_t dt = end - m->state_at;
        for (int e = 0; e < SIM_ELEMENTS; e++) {
            int64_t mw[SIM_FLOWS];
            sim_power_mw_pair(f, m, (enum sim_element)e, p, mw);
            m->energy_mj[e][SIM_IMPORT] += mw[SIM_IMPORT] * dt;
            m->energy_mj[e][SIM_EXPORT] += mw[SIM_EXPORT] * dt;
            sim_charge_energy(m, (enum sim_element)e, mw[SIM_IMPORT] * dt);
        }
        sim_charge_standing(m, dt);
        m->state_at = end;
        if (m->ring != NULL && end % SIM_PERIOD_S == 0)
            sim_ring_push(f, m, end);
    }
}

/* ---- Outbox and misbehaviour --------------------------------------------------------------- */

const char *sim_message_suffix(enum sim_message_kind kind)
{
    switch (kind) {
    case SIM_MSG_REPORT:
        return "reported";
    case SIM_MSG_READS:
        return "reads";
    case SIM_MSG_RESULT:
        return "commands/result";
    }
    return "reported";
}

void sim_outbox_clear(struct sim_outbox *box)
{
    for (size_t i = 0; i < box->count; i++)
        cJSON_free(box->items[i].payload);
    box->count = 0;
}

void sim_outbox_free(struct sim_outbox *box)
{
    sim_outbox_clear(box);
    free(box->items);
    *box = (struct sim_outbox){0};
}

static int sim_outbox_append(struct sim_outbox *box, const struct sim_message *msg)
{
    if (box->count == box->cap) {
        size_t cap = box->cap ? box->cap * 2 : 64;
        struct sim_message *items = realloc(box->items, cap * sizeof *items);
        if (items == NULL)
            return -1;
        box->items = items;
        box->cap = cap;
    }
    box->items[box->count++] = *msg;
    return 0;
}

static char *sim_strdup(const char *text, size_t len)
{
    char *copy = cJSON_malloc(len + 1);
    if (copy != NULL) {
        memcpy(copy, text, len);
        copy[len] = '\0';
    }
    return copy;
}

/* A payload that a careful service must refuse: cut short, not an object, a field of the wrong
 * type, bytes that are not UTF-8, or no state at all. */
static char *sim_garbage(const char *good, size_t len, enum sim_message_kind kind, int64_t ts,
                         double which)
{
    char when[ISOTIME_LEN], text[160];
    isotime_format(ts, when);
    bool reads = kind == SIM_MSG_READS;
    switch ((int)(which * 5) % 5) {
    case 0:
        return sim_strdup(good, len / 2);
    case 1:
        snprintf(text, sizeof text, "[\"%s\",1]", when);
        break;
    case 2:
        snprintf(text, sizeof text,
                 reads ? "{\"reads\":[{\"ts\":\"%s\",\"import_a\":\"12.5\"}]}"
                       : "{\"state\":{\"balance\":\"12.5\"},\"ts\":\"%s\"}",
                 when);
        break;
    case 3:
        snprintf(text, sizeof text, "{\"state\":{\"health_details\":\"\xff\xfe\"},\"ts\":\"%s\"}",
                 when);
        break;
    default:
        snprintf(text, sizeof text, "{\"ts\":\"%s\"}", when);
        break;
    }
    return sim_strdup(text, strlen(text));
}

/* Queues a message of meter i (taking payload), perhaps spoilt or doubled as the options say.
 * Returns 0, or -1 when out of memory (payload freed). */
static int sim_emit(struct sim_fleet *f, size_t i, enum sim_message_kind kind, int64_t ts,
                    char *payload, bool may_spoil, struct sim_outbox *out)
{
    const struct sim_meter *m = &f->meters[i];
    if (payload == NULL)
        return -1;
    struct sim_message msg = {.id = ++f->next_id, .meter = i, .kind = kind, .ts = ts};
    int64_t when = ts * 4 + kind;
    if (may_spoil && sim_chance(f, m, SIM_STREAM_MALFORMED, when, f->opt.malformed_pct)) {
        char *bad = sim_garbage(payload, strlen(payload), kind, ts,
                                sim_draw(f, m, SIM_STREAM_MALFORMED, when + 1));
        cJSON_free(payload);
        if (bad == NULL)
            return -1;
        payload = bad;
        msg.malformed = true;
    }
    msg.payload = payload;
    msg.len = strlen(payload);
    if (sim_outbox_append(out, &msg) != 0) {
        cJSON_free(payload);
        return -1;
    }
    if (!sim_chance(f, m, SIM_STREAM_DUPLICATE, when, f->opt.duplicate_pct))
        return 0;
    msg.payload = sim_strdup(payload, msg.len);
    msg.duplicate = true;
    if (msg.payload == NULL)
        return -1;
    if (sim_outbox_append(out, &msg) != 0) {
        cJSON_free(msg.payload);
        return -1;
    }
    return 0;
}

/* Prints root (deleting it) into a payload, or NULL. */
static char *sim_print(cJSON *root)
{
    char *text = root ? cJSON_PrintUnformatted(root) : NULL;
    cJSON_Delete(root);
    return text;
}

/* ---- Report contents ----------------------------------------------------------------------- */

static const char *const sim_register_names[SIM_ELEMENTS][SIM_FLOWS] = {{"import_a", "export_a"},
                                                                        {"import_b", "export_b"}};

static bool sim_add_kwh(cJSON *o, const char *name, int64_t wh, bool missed)
{
    return (missed ? cJSON_AddNullToObject(o, name)
                   : cJSON_AddNumberToObject(o, name, (double)wh / FIELDS_WH_PER_KWH)) != NULL;
}

static bool sim_add_registers(const struct sim_meter *m, cJSON *state)
{
    for (int e = 0; e < SIM_ELEMENTS; e++)
        for (int flow = 0; m->spec.reg[e].present && flow < SIM_FLOWS; flow++)
            if (!sim_add_kwh(state, sim_register_names[e][flow],
                             sim_meter_register_wh(m, (enum sim_element)e, (enum sim_flow)flow),
                             false))
                return false;
    return true;
}

static bool sim_add_money(cJSON *o, const char *name, int64_t money)
{
    return cJSON_AddNumberToObject(o, name, (double)money / FIELDS_MONEY_PER_GBP) != NULL;
}

/* The emergency credit still available: all of it while the balance is positive. */
static int64_t sim_emergency_credit(const struct sim_meter *m)
{
    int64_t ec = m->active.amount[TARIFF_PREPAYMENT_EMERGENCY_CREDIT];
    if (m->balance >= 0)
        return ec;
    return ec + m->balance > 0 ? ec + m->balance : 0;
}

static bool sim_add_voltage(const struct sim_meter *m, cJSON *state)
{
    static const char *const phase_names[] = {"voltage_l1", "voltage_l2", "voltage_l3"};
    if (m->spec.phases != 3)
        return cJSON_AddNumberToObject(state, "voltage", round(m->voltage[0] * 10) / 10) != NULL;
    for (int l = 0; l < 3; l++)
        if (cJSON_AddNumberToObject(state, phase_names[l], round(m->voltage[l] * 10) / 10) == NULL)
            return false;
    return true;
}

static bool sim_add_health(const struct sim_fleet *f, const struct sim_meter *m, int64_t t,
                           cJSON *state)
{
    const char *fault = sim_fault(f, m, t);
    return cJSON_AddStringToObject(state, "health", fault ? "unhealthy" : "healthy") != NULL &&
           cJSON_AddStringToObject(state, "health_details", fault ? fault : "ok") != NULL;
}

static bool sim_add_tariffs(const struct sim_meter *m, cJSON *state)
{
    cJSON *active = tariff_to_json(&m->active, false);
    if (active == NULL || !cJSON_AddItemToObject(state, "tariffs_active", active)) {
        cJSON_Delete(active);
        return false;
    }
    if (!m->has_future)
        return cJSON_AddNullToObject(state, "tariffs_future") != NULL;
    cJSON *future = tariff_to_json(&m->future, true);
    if (future == NULL || !cJSON_AddItemToObject(state, "tariffs_future", future)) {
        cJSON_Delete(future);
        return false;
    }
    return true;
}

static bool sim_add_events(struct sim_meter *m, cJSON *state)
{
    if (m->event_count == 0)
        return true;
    cJSON *list = cJSON_AddArrayToObject(state, "events");
    for (size_t k = 0; list != NULL && k < m->event_count; k++) {
        char text[64];
        snprintf(text, sizeof text, "top-up %.2f GBP", (double)m->events[k].amount / 1e5);
        cJSON *ev = cJSON_CreateObject();
        if (ev == NULL || !cJSON_AddItemToArray(list, ev) ||
            isotime_add_to_json(ev, "ts", m->events[k].ts) == NULL ||
            cJSON_AddStringToObject(ev, "code", "TOPUP") == NULL ||
            cJSON_AddStringToObject(ev, "text", text) == NULL)
            return false;
    }
    m->event_count = 0;
    return list != NULL;
}

static bool sim_add_identity(struct sim_meter *m, int64_t t, cJSON *state)
{
    if (m->info_day == sim_day(t))
        return true;
    m->info_day = sim_day(t);
    return cJSON_AddStringToObject(state, "hardware", m->spec.hardware) != NULL &&
           cJSON_AddStringToObject(state, "firmware_version", SIM_FIRMWARE) != NULL;
}

/* {"state":…,"ts":…} around a new state object; NULL when out of memory. */
static cJSON *sim_report_root(int64_t t, cJSON **state)
{
    cJSON *root = cJSON_CreateObject();
    *state = cJSON_AddObjectToObject(root, "state");
    if (*state == NULL || isotime_add_to_json(root, "ts", t) == NULL) {
        cJSON_Delete(root);
        return NULL;
    }
    return root;
}

/* The live report: everything the meter shows (registers only when not mediated). */
static char *sim_report_payload(const struct sim_fleet *f, struct sim_meter *m, int64_t t)
{
    cJSON *state;
    cJSON *root = sim_report_root(t, &state);
    bool ok = root != NULL && (m->spec.mediated || sim_add_registers(m, state)) &&
              sim_add_money(state, "balance", m->balance) &&
              sim_add_money(state, "emergency_credit", sim_emergency_credit(m)) &&
              cJSON_AddNumberToObject(state, "csq", m->csq) != NULL && sim_add_voltage(m, state) &&
              cJSON_AddNumberToObject(state, "clock_time_diff_seconds",
                                      (double)sim_clock_diff(m, t)) != NULL &&
              sim_add_health(f, m, t, state) && (m->spec.passive || sim_add_tariffs(m, state)) &&
              sim_add_events(m, state) && sim_add_identity(m, t, state);
    if (!ok) {
        cJSON_Delete(root);
        return NULL;
    }
    return sim_print(root);
}

/* ---- Events: live report, profile-log upload, activation ----------------------------------- */

/* csq and voltage wander: a bounded random walk pulled back toward the meter's own level. */
static void sim_wander(const struct sim_fleet *f, struct sim_meter *m, int64_t t)
{
    int step = (int)(sim_draw(f, m, SIM_STREAM_WANDER, t * 4) * 5) - 2;
    if (m->csq < m->csq_mean - 4)
        step = step < 0 ? -step : step;
    if (m->csq > m->csq_mean + 4)
        step = step > 0 ? -step : step;
    m->csq += step;
    m->csq = m->csq < 0 ? 0 : m->csq > FIELDS_CSQ_MAX ? FIELDS_CSQ_MAX : m->csq;
    for (int l = 0; l < 3; l++) {
        double v = m->voltage[l] + 0.3 * (m->voltage_mean - m->voltage[l]) +
                   3.0 * (sim_draw(f, m, SIM_STREAM_WANDER, t * 4 + 1 + l) - 0.5);
        m->voltage[l] = v < 207 ? 207 : v > 253 ? 253 : v;
    }
}

/* A low balance is topped up now and then (always before emergency credit runs out). */
static void sim_topup(const struct sim_fleet *f, struct sim_meter *m, int64_t t)
{
    if (m->balance >= m->topup_threshold)
        return;
    bool forced = m->balance < -m->active.amount[TARIFF_PREPAYMENT_EMERGENCY_CREDIT] / 2;
    if (!forced && sim_draw(f, m, SIM_STREAM_TOPUP, t * 2) >= 0.35)
        return;
    int64_t amount =
        sim_draw(f, m, SIM_STREAM_TOPUP, t * 2 + 1) < 0.6 ? SIM_TOPUP_SMALL : SIM_TOPUP_LARGE;
    m->balance += amount;
    m->topped_up += amount;
    if (m->event_count < SIM_EVENTS_MAX) {
        m->events[m->event_count].ts = t;
        m->events[m->event_count++].amount = amount;
    }
}

static int sim_live_report(struct sim_fleet *f, size_t i, int64_t t, struct sim_outbox *out)
{
    struct sim_meter *m = &f->meters[i];
    sim_wander(f, m, t);
    sim_topup(f, m, t);
    if (!sim_can_send(f, m, t) || sim_chance(f, m, SIM_STREAM_MISSED, t, f->opt.missed_pct))
        return 0;
    return sim_emit(f, i, SIM_MSG_REPORT, t, sim_report_payload(f, m, t), true, out);
}

/* A tariff-only report: after a command, or at an activation between live reports. */
static int sim_tariff_report(struct sim_fleet *f, size_t i, int64_t t, struct sim_outbox *out)
{
    struct sim_meter *m = &f->meters[i];
    if (!sim_can_send(f, m, t) || m->spec.passive)
        return 0;
    cJSON *state;
    cJSON *root = sim_report_root(t, &state);
    if (root == NULL || !sim_add_tariffs(m, state)) {
        cJSON_Delete(root);
        return -1;
    }
    return sim_emit(f, i, SIM_MSG_REPORT, t, sim_print(root), false, out);
}

static cJSON *sim_read_json(const struct sim_meter *m, const struct sim_hh_read *r)
{
    cJSON *o = cJSON_CreateObject();
    if (o == NULL || isotime_add_to_json(o, "ts", r->ts) == NULL)
        goto fail;
    for (int e = 0; e < SIM_ELEMENTS; e++)
        for (int flow = 0; m->spec.reg[e].present && flow < SIM_FLOWS; flow++)
            if (!sim_add_kwh(o, sim_register_names[e][flow], r->wh[e][flow], r->missed))
                goto fail;
    return o;
fail:
    cJSON_Delete(o);
    return NULL;
}

/* Takes the profile log's reads before cut out of the ring as a `reads` payload; NULL with
 * *empty set when there are none. */
static char *sim_batch_payload(struct sim_meter *m, int64_t cut, bool *empty)
{
    cJSON *root = cJSON_CreateObject();
    cJSON *reads = cJSON_AddArrayToObject(root, "reads");
    *empty = true;
    while (reads != NULL && m->ring_count > 0 && m->ring[m->ring_head].ts < cut) {
        cJSON *read = sim_read_json(m, &m->ring[m->ring_head]);
        if (read == NULL || !cJSON_AddItemToArray(reads, read)) {
            cJSON_Delete(read);
            reads = NULL;
            break;
        }
        *empty = false;
        m->ring_head = (m->ring_head + 1) % SIM_RING;
        m->ring_count--;
    }
    if (reads == NULL || *empty) {
        cJSON_Delete(root);
        return NULL;
    }
    return sim_print(root);
}

/* A mediator uploads the meter's profile log of the UTC days before t: once a day, a while after
 * midnight, or when the meter comes back from an offline spell. */
static int sim_batch(struct sim_fleet *f, size_t i, int64_t t, struct sim_outbox *out)
{
    struct sim_meter *m = &f->meters[i];
    int64_t back;
    if (!m->spec.silent && sim_offline(f, m, t, &back)) {
        m->next_batch = back;
        return 0;
    }
    m->next_batch = (sim_day(t) + 1) * SIM_DAY_S + m->batch_delay_s;
    bool empty;
    char *payload = sim_batch_payload(m, sim_day(t) * SIM_DAY_S, &empty);
    if (empty)
        return 0;
    if (m->spec.silent) {
        cJSON_free(payload);
        return 0;
    }
    return sim_emit(f, i, SIM_MSG_READS, t, payload, true, out);
}

static void sim_activate(struct sim_meter *m)
{
    m->active = m->future;
    m->active.has_activation = false;
    m->has_future = false;
}

static int sim_meter_event(struct sim_fleet *f, size_t i, int64_t t, struct sim_outbox *out)
{
    struct sim_meter *m = &f->meters[i];
    int rc = 0;
    sim_integrate(f, m, t);
    bool activated = m->has_future && m->future_at <= t;
    if (activated)
        sim_activate(m);
    if (m->next_report <= t) {
        rc |= sim_live_report(f, i, t, out);
        while (m->next_report <= t)
            m->next_report += f->opt.report_interval_s;
    } else if (activated) {
        rc |= sim_tariff_report(f, i, t, out);
    }
    if (m->ring != NULL && m->next_batch <= t)
        rc |= sim_batch(f, i, t, out);
    return rc ? -1 : 0;
}

/* ---- Fleet --------------------------------------------------------------------------------- */

static bool sim_options_valid(const struct sim_options *o)
{
    const double pct[] = {o->offline_pct,   o->missed_pct,      o->malformed_pct,
                          o->duplicate_pct, o->reads_batch_pct, o->reject_pct};
    for (size_t k = 0; k < sizeof pct / sizeof pct[0]; k++)
        if (!(pct[k] >= 0 && pct[k] <= 100))
            return false;
    return o->report_interval_s >= 1 && o->profile != NULL && o->london != NULL && o->start >= 0 &&
           o->start <= INTERVAL_TS_MAX;
}

/* Per-meter constants, all drawn from the seed and the serial. */
static void sim_meter_params(const struct sim_fleet *f, struct sim_meter *m)
{
    double u[24];
    for (int k = 0; k < 24; k++)
        u[k] = sim_draw(f, m, SIM_STREAM_PARAM, k);
    double scale = m->spec.scale > 0 ? m->spec.scale : 1.0;
    m->demand_w = 340.0 * scale * (0.6 + u[0]);
    m->heat_w = 900.0 * scale * (0.7 + 0.6 * u[1]);
    m->solar_kw = (2.5 + 2.0 * u[2]) * scale;
    bool bad_clock = u[3] < 0.1; /* one meter in ten keeps poor time and is rarely set right */
    m->drift_ppm = (bad_clock ? 400 + 600 * u[4] : 25 * u[4]) * (u[5] < 0.5 ? -1 : 1);
    m->clock_sync_period_s = bad_clock ? 14 * SIM_DAY_S : SIM_DAY_S;
    m->clock_sync_offset_s = (int64_t)(u[6] * (double)m->clock_sync_period_s);
    m->csq_mean = 8 + (int)(u[7] * 20);
    m->csq = m->csq_mean;
    m->voltage_mean = 236 + 10 * u[8];
    for (int l = 0; l < 3; l++)
        m->voltage[l] = m->voltage_mean;
    int64_t phase_span = f->opt.report_interval_s < 300 ? f->opt.report_interval_s : 300;
    m->report_phase_s = (int64_t)(u[9] * (double)phase_span);
    m->batch_delay_s = 300 + (int64_t)(u[10] * 5100);
    m->topup_threshold = 200000 + (int64_t)(u[11] * 400000);
    m->balance = 500000 + (int64_t)(u[12] * 3500000);
    for (int e = 0; e < SIM_ELEMENTS; e++) {
        bool solar = m->spec.reg[e].role == SIM_ROLE_SOLAR; /* imports only standby power */
        int64_t import_kwh =
            solar ? (int64_t)(u[13 + 2 * e] * 50) : 500 + (int64_t)(u[13 + 2 * e] * 19500);
        int64_t export_kwh = solar ? 100 + (int64_t)(u[14 + 2 * e] * 4900) : 0;
        m->energy_mj[e][SIM_IMPORT] = import_kwh * SIM_MJ_PER_KWH;
        m->energy_mj[e][SIM_EXPORT] = export_kwh * SIM_MJ_PER_KWH;
    }
    m->spec.mediated |= sim_chance(f, m, SIM_STREAM_PICK, 0, f->opt.reads_batch_pct);
    m->spec.rejects_commands |= sim_chance(f, m, SIM_STREAM_PICK, 1, f->opt.reject_pct);
}

static int sim_meter_init(struct sim_fleet *f, size_t i, const struct sim_meter_spec *spec)
{
    struct sim_meter *m = &f->meters[i];
    m->spec = *spec;
    m->spec.serial[TOPIC_SERIAL_MAX] = '\0';
    m->spec.hardware[SIM_HARDWARE_MAX - 1] = '\0';
    m->key = sim_serial_key(m->spec.serial);
    m->state_at = f->opt.start;
    m->active = sim_default_tariff;
    m->info_day = -1;
    sim_meter_params(f, m);
    m->next_report = f->opt.start + m->report_phase_s;
    if (m->spec.mediated) {
        m->ring = calloc(SIM_RING, sizeof *m->ring);
        if (m->ring == NULL)
            return -1;
        if (f->opt.start % SIM_PERIOD_S == 0)
            sim_ring_push(f, m, f->opt.start);
        m->next_batch = (sim_day(f->opt.start) + 1) * SIM_DAY_S + m->batch_delay_s;
    }
    uint64_t seen;
    if (strmap_get(&f->by_serial, m->spec.serial, &seen))
        return -1; /* serials are unique */
    return strmap_put(&f->by_serial, m->spec.serial, i);
}

int sim_fleet_create(const struct sim_options *o, const struct sim_meter_spec *specs, size_t n,
                     struct sim_fleet **out)
{
    if (!sim_options_valid(o) || (n > 0 && specs == NULL))
        return -1;
    struct sim_fleet *f = calloc(1, sizeof *f);
    if (f == NULL)
        return -1;
    f->opt = *o;
    f->now = o->start;
    strmap_init(&f->by_serial);
    size_t slots = n > 0 ? n : 1;
    f->meters = calloc(slots, sizeof *f->meters);
    f->heap = calloc(slots, sizeof *f->heap);
    f->pos = calloc(slots, sizeof *f->pos);
    f->due = calloc(slots, sizeof *f->due);
    if (f->meters == NULL || f->heap == NULL || f->pos == NULL || f->due == NULL)
        goto fail;
    for (size_t i = 0; i < n; i++) {
        f->count = i + 1;
        if (sim_meter_init(f, i, &specs[i]) != 0)
            goto fail;
        f->heap[i] = i;
        f->pos[i] = i;
        f->due[i] = sim_meter_due(&f->meters[i]);
        sim_heap_up(f, i);
    }
    *out = f;
    return 0;
fail:
    sim_fleet_free(f);
    return -1;
}

void sim_fleet_free(struct sim_fleet *f)
{
    if (f == NULL)
        return;
    for (size_t i = 0; f->meters != NULL && i < f->count; i++)
        free(f->meters[i].ring);
    free(f->meters);
    free(f->heap);
    free(f->pos);
    free(f->due);
    strmap_free(&f->by_serial);
    free(f);
}

size_t sim_fleet_size(const struct sim_fleet *f)
{
    return f->count;
}

const struct sim_meter *sim_fleet_meter(const struct sim_fleet *f, size_t i)
{
    assert(i < f->count);
    return &f->meters[i];
}

bool sim_fleet_find(const struct sim_fleet *f, const char *serial, size_t len, size_t *index)
{
    char key[TOPIC_SERIAL_MAX + 1];
    uint64_t value;
    if (len == 0 || len > TOPIC_SERIAL_MAX)
        return false;
    memcpy(key, serial, len);
    key[len] = '\0';
    if (!strmap_get(&f->by_serial, key, &value))
        return false;
    *index = (size_t)value;
    return true;
}

int64_t sim_fleet_now(const struct sim_fleet *f)
{
    return f->now;
}

int64_t sim_fleet_next_due(const struct sim_fleet *f)
{
    return f->count > 0 ? f->due[f->heap[0]] : INT64_MAX;
}

int sim_fleet_advance(struct sim_fleet *f, int64_t until, struct sim_outbox *out)
{
    int rc = 0;
    while (f->count > 0 && f->due[f->heap[0]] <= until) {
        size_t i = f->heap[0];
        int64_t t = f->due[i] > f->now ? f->due[i] : f->now;
        f->now = t;
        if (sim_meter_event(f, i, t, out) != 0)
            rc = -1;
        sim_heap_update(f, i);
    }
    if (until > f->now)
        f->now = until;
    return rc;
}

/* ---- Commands ------------------------------------------------------------------------------ */

static int sim_command_result(struct sim_fleet *f, size_t i, const char *id, const char *error,
                              struct sim_outbox *out)
{
    cJSON *root = cJSON_CreateObject();
    if (root == NULL || cJSON_AddStringToObject(root, "id", id) == NULL ||
        cJSON_AddStringToObject(root, "status", error ? "error" : "ok") == NULL ||
        (error != NULL && cJSON_AddStringToObject(root, "message", error) == NULL)) {
        cJSON_Delete(root);
        return -1;
    }
    return sim_emit(f, i, SIM_MSG_RESULT, f->now, sim_print(root), false, out);
}

/* Writes the tariff of a tariffs_future_write into the meter. Returns NULL, or why not. */
static const char *sim_write_future(struct sim_fleet *f, struct sim_meter *m, const cJSON *cmd,
                                    struct api_error *err)
{
    const cJSON *command = cJSON_GetObjectItemCaseSensitive(cmd, "command");
    if (m->spec.rejects_commands)
        return "command refused by meter";
    if (!cJSON_IsString(command) || strcmp(command->valuestring, "tariffs_future_write") != 0)
        return "unsupported command";
    struct tariff t;
    if (tariff_parse(cJSON_GetObjectItemCaseSensitive(cmd, "args"), true, &t, err) != 0)
        return err->message;
    int64_t at;
    if (sim_activation_instant(f->opt.london, m->spec.dst_correction, t.activation, &at) != 0)
        return "activation_datetime out of range";
    m->future = t;
    m->has_future = true;
    m->future_at = at;
    return NULL;
}

int sim_fleet_command(struct sim_fleet *f, size_t i, const char *payload, size_t len,
                      struct sim_outbox *out)
{
    struct sim_meter *m = &f->meters[i];
    if (m->spec.passive || !sim_can_send(f, m, f->now))
        return 0;
    sim_integrate(f, m, f->now);
    cJSON *cmd = cJSON_ParseWithLength(payload, len);
    const cJSON *id = cJSON_GetObjectItemCaseSensitive(cmd, "id");
    int rc = 0;
    if (cJSON_IsString(id)) { /* without an id there is nobody to answer */
        struct api_error err = {0};
        const char *error = sim_write_future(f, m, cmd, &err);
        rc = sim_command_result(f, i, id->valuestring, error, out);
        if (error == NULL && sim_tariff_report(f, i, f->now, out) != 0)
            rc = -1;
        sim_heap_update(f, i);
    }
    cJSON_Delete(cmd);
    return rc;
}

int sim_activation_instant(const struct tzone *london, bool dst_correction, int64_t naive,
                           int64_t *out)
{
    if (!dst_correction) {
        *out = naive;
        return 0;
    }
    return tzone_local_to_utc(london, naive, out);
}

/* ---- Fleet sources ------------------------------------------------------------------------- */

static enum sim_role sim_role_named(const char *type)
{
    if (type != NULL && strcmp(type, "solar") == 0)
        return SIM_ROLE_SOLAR;
    if (type != NULL && strcmp(type, "heat") == 0)
        return SIM_ROLE_HEAT;
    return SIM_ROLE_POWER;
}

/* The role of a register: the type of the circuit it feeds at instant at, else of the circuit it
 * fed most recently, else power. */
static enum sim_role sim_role_of(const struct topology *t, const char *serial, const char *element,
                                 int64_t at)
{
    const char *latest_type = NULL;
    int64_t latest_start = INT64_MIN;
    for (size_t c = 0; c < t->circuit_count; c++) {
        const struct registry_circuit *circuit = &t->circuits[c];
        for (size_t k = 0; k < circuit->mapping_count; k++) {
            const struct registry_mapping *map = &circuit->mappings[k];
            if (strcmp(map->meter, serial) != 0 || strcmp(map->element, element) != 0)
                continue;
            if (map->start <= at && (!map->has_end || at < map->end))
                return sim_role_named(circuit->type);
            if (map->start > latest_start) {
                latest_start = map->start;
                latest_type = circuit->type;
            }
        }
    }
    return sim_role_named(latest_type);
}

/* Demand scale from the type of the property the meter's service head feeds. */
static double sim_scale_of(const struct topology *t, const char *service_head)
{
    for (size_t p = 0; service_head != NULL && p < t->property_count; p++) {
        const struct registry_property *prop = &t->properties[p];
        for (size_t h = 0; h < prop->service_head_count; h++) {
            if (strcmp(prop->service_heads[h], service_head) != 0 || prop->type == NULL)
                continue;
            if (strcmp(prop->type, "commercial") == 0)
                return 3.0;
            return strcmp(prop->type, "community") == 0 ? 2.0 : 1.0;
        }
    }
    return 1.0;
}

static void sim_spec_of(const struct topology *t, const struct registry_meter *rm, int64_t at,
                        struct sim_meter_spec *s)
{
    memset(s, 0, sizeof *s);
    snprintf(s->serial, sizeof s->serial, "%s", rm->serial);
    snprintf(s->hardware, sizeof s->hardware, "%s", rm->hardware ? rm->hardware : "EMS1");
    size_t head;
    s->phases = rm->service_head != NULL &&
                        registry_find(t, REGISTRY_SERVICE_HEADS, rm->service_head, &head) &&
                        t->service_heads[head].phase == 3
                    ? 3
                    : 1;
    s->scale = sim_scale_of(t, rm->service_head);
    s->passive = rm->passive;
    s->dst_correction = rm->dst_correction;
    for (size_t r = 0; r < rm->register_count; r++) {
        const struct registry_register *reg = &rm->registers[r];
        struct sim_register_spec *rs = &s->reg[strcmp(reg->element, "B") == 0 ? SIM_B : SIM_A];
        rs->present = true;
        rs->role = sim_role_of(t, rm->serial, reg->element, at);
        rs->direction_reversed = reg->direction_reversed;
        rs->rollover_wh =
            reg->has_rollover_kwh ? (int64_t)llround(reg->rollover_kwh * FIELDS_WH_PER_KWH) : 0;
    }
}

int sim_specs_from_topology(const struct topology *t, int64_t at, struct sim_meter_spec **out,
                            size_t *count)
{
    *out = NULL;
    *count = 0;
    if (t->meter_count == 0)
        return 0;
    struct sim_meter_spec *specs = calloc(t->meter_count, sizeof *specs);
    if (specs == NULL)
        return -1;
    for (size_t i = 0; i < t->meter_count; i++)
        sim_spec_of(t, &t->meters[i], at, &specs[i]);
    *out = specs;
    *count = t->meter_count;
    return 0;
}

/* Synthetic meters come in tens: six homes, two homes with a heat pump on B, two solar meters
 * (one wired backwards). */
void sim_synthetic_spec(size_t i, struct sim_meter_spec *out)
{
    size_t kind = i % 10;
    memset(out, 0, sizeof *out);
    snprintf(out->serial, sizeof out->serial, "SIM%06zu", i + 1);
    out->phases = i % 7 == 3 ? 3 : 1;
    out->scale = 1.0;
    out->dst_correction = i % 2 == 0;
    out->reg[SIM_A].present = true;
    out->reg[SIM_A].role = kind >= 8 ? SIM_ROLE_SOLAR : SIM_ROLE_POWER;
    out->reg[SIM_A].direction_reversed = kind == 8;
    if (kind == 6 || kind == 7) {
        out->reg[SIM_B].present = true;
        out->reg[SIM_B].role = SIM_ROLE_HEAT;
    }
    snprintf(out->hardware, sizeof out->hardware, "%s",
             out->phases == 3          ? "EMP3AX"
             : out->reg[SIM_B].present ? "EMP1AX"
                                       : "EMS1");
}

static const char *sim_element_name(const struct sim_meter_spec *s, enum sim_element e)
{
    if (e == SIM_B)
        return "B";
    return s->reg[SIM_B].present ? "A" : "SINGLE";
}

static cJSON *sim_synthetic_meter(const struct sim_meter_spec *s)
{
    cJSON *m = cJSON_CreateObject();
    char name[64];
    snprintf(name, sizeof name, "Simulated meter %s", s->serial + 3);
    cJSON *regs = cJSON_AddArrayToObject(m, "registers");
    bool ok = regs != NULL && cJSON_AddStringToObject(m, "serial", s->serial) != NULL &&
              cJSON_AddStringToObject(m, "name", name) != NULL &&
              cJSON_AddStringToObject(m, "esco", "SIM") != NULL &&
              cJSON_AddStringToObject(m, "mode", "active") != NULL &&
              cJSON_AddStringToObject(m, "hardware", s->hardware) != NULL &&
              cJSON_AddBoolToObject(m, "daylight_savings_correction_enabled", s->dst_correction);
    for (int e = 0; ok && e < SIM_ELEMENTS; e++) {
        if (!s->reg[e].present)
            continue;
        cJSON *r = cJSON_CreateObject();
        ok = r != NULL && cJSON_AddItemToArray(regs, r) &&
             cJSON_AddStringToObject(r, "element", sim_element_name(s, (enum sim_element)e)) &&
             cJSON_AddBoolToObject(r, "direction_reversed", s->reg[e].direction_reversed);
    }
    if (!ok) {
        cJSON_Delete(m);
        return NULL;
    }
    return m;
}

static cJSON *sim_synthetic_circuit(size_t n, enum sim_role role)
{
    static const char *const names[] = {"SIM power", "SIM heat", "SIM solar"};
    static const char *const types[] = {"power", "heat", "solar"};
    cJSON *c = cJSON_CreateObject();
    cJSON *maps = cJSON_AddArrayToObject(c, "registers");
    bool ok = maps != NULL && cJSON_AddStringToObject(c, "name", names[role]) != NULL &&
              cJSON_AddStringToObject(c, "site", "Simulated site") != NULL &&
              cJSON_AddStringToObject(c, "type", types[role]) != NULL;
    for (size_t i = 0; ok && i < n; i++) {
        struct sim_meter_spec s;
        sim_synthetic_spec(i, &s);
        for (int e = 0; ok && e < SIM_ELEMENTS; e++) {
            if (!s.reg[e].present || s.reg[e].role != role)
                continue;
            cJSON *map = cJSON_CreateObject();
            ok = map != NULL && cJSON_AddItemToArray(maps, map) &&
                 cJSON_AddStringToObject(map, "meter", s.serial) &&
                 cJSON_AddStringToObject(map, "element",
                                         sim_element_name(&s, (enum sim_element)e)) &&
                 cJSON_AddStringToObject(map, "start", "2000-01-01T00:00:00Z");
        }
    }
    if (!ok) {
        cJSON_Delete(c);
        return NULL;
    }
    return c;
}

static bool sim_synthetic_registry(cJSON *root)
{
    cJSON *escos = cJSON_AddArrayToObject(root, "escos");
    cJSON *sites = cJSON_AddArrayToObject(root, "sites");
    cJSON *esco = cJSON_CreateObject(), *site = cJSON_CreateObject();
    if (esco == NULL || site == NULL || escos == NULL || sites == NULL ||
        !cJSON_AddItemToArray(escos, esco) || !cJSON_AddItemToArray(sites, site)) {
        cJSON_Delete(esco);
        cJSON_Delete(site);
        return false;
    }
    return cJSON_AddStringToObject(esco, "code", "SIM") &&
           cJSON_AddStringToObject(esco, "name", "Simulated fleet") &&
           cJSON_AddStringToObject(site, "name", "Simulated site") &&
           cJSON_AddStringToObject(site, "esco", "SIM") &&
           cJSON_AddStringToObject(site, "location", "Bristol");
}

cJSON *sim_synthetic_topology(size_t n)
{
    cJSON *root = cJSON_CreateObject();
    bool ok = root != NULL && sim_synthetic_registry(root);
    cJSON *meters = ok ? cJSON_AddArrayToObject(root, "meters") : NULL;
    cJSON *circuits = meters ? cJSON_AddArrayToObject(root, "circuits") : NULL;
    ok = circuits != NULL;
    for (size_t i = 0; ok && i < n; i++) {
        struct sim_meter_spec s;
        sim_synthetic_spec(i, &s);
        cJSON *m = sim_synthetic_meter(&s);
        ok = m != NULL && cJSON_AddItemToArray(meters, m);
        if (!ok)
            cJSON_Delete(m);
    }
    for (int role = 0; ok && role <= SIM_ROLE_SOLAR; role++) {
        cJSON *c = sim_synthetic_circuit(n, (enum sim_role)role);
        ok = c != NULL;
        if (ok && cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(c, "registers")) == 0)
            cJSON_Delete(c);
        else if (ok && !cJSON_AddItemToArray(circuits, c)) {
            cJSON_Delete(c);
            ok = false;
        }
    }
    if (!ok) {
        cJSON_Delete(root);
        return NULL;
    }
    return root;
}
