/* check_sim.c — the fleet simulator's physics: the same seed gives the same messages however time
 * is stepped; registers report exactly the integral of the power they draw; solar exports only by
 * day and heat follows the day's temperature; the balance falls by exactly the energy and standing
 * charges; tariffs activate at their instant; misbehaviour comes at the rates asked for.
 *
 * Run from the repository root: the shipped load profile and example topology are read from it. */
#include <check.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "fields.h"
#include "intervals.h"
#include "isotime.h"
#include "registry.h"
#include "sim.h"
#include "tzone.h"

#define HOUR INT64_C(3600)
#define DAY INT64_C(86400)

static struct interval_profile profile;
static struct tzone london;

/* UTC seconds of a civil date and time. */
static int64_t ts(int y, int mo, int d, int h, int mi)
{
    return isotime_days_from_civil(y, (unsigned)mo, (unsigned)d) * DAY + h * HOUR + mi * 60;
}

static char *read_text(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot open %s: run from the repository root", path);
    static char buf[1 << 16];
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
}

static void setup(void)
{
    int bad;
    ck_assert_int_eq(
        interval_profile_parse(read_text("schema/load_profile.csv", NULL), &profile, &bad), 0);
    ck_assert_int_eq(tzone_load("Europe/London", &london), 0);
}

static struct sim_options options(uint64_t seed, int64_t start)
{
    struct sim_options o = {.seed = seed,
                            .start = start,
                            .report_interval_s = 1800,
                            .profile = &profile,
                            .london = &london};
    return o;
}

static struct sim_fleet *synthetic_fleet(const struct sim_options *o, size_t n)
{
    struct sim_meter_spec *specs = calloc(n, sizeof *specs);
    ck_assert_ptr_nonnull(specs);
    for (size_t i = 0; i < n; i++)
        sim_synthetic_spec(i, &specs[i]);
    struct sim_fleet *f = NULL;
    ck_assert_int_eq(sim_fleet_create(o, specs, n, &f), 0);
    free(specs);
    return f;
}

static bool same_message(const struct sim_message *a, const struct sim_message *b)
{
    return a->id == b->id && a->meter == b->meter && a->kind == b->kind && a->ts == b->ts &&
           a->malformed == b->malformed && a->duplicate == b->duplicate && a->len == b->len &&
           memcmp(a->payload, b->payload, a->len) == 0;
}

/* --- Determinism --- */

START_TEST(same_seed_same_messages_however_stepped)
{
    struct sim_options o = options(42, ts(2026, 3, 27, 0, 0)); /* over the spring clock change */
    o.malformed_pct = 5;
    o.duplicate_pct = 5;
    o.offline_pct = 20;
    o.missed_pct = 5;
    o.reads_batch_pct = 30;
    struct sim_fleet *a = synthetic_fleet(&o, 30), *b = synthetic_fleet(&o, 30);
    struct sim_outbox ba = {0}, bb = {0};
    int64_t end = o.start + 3 * DAY;
    ck_assert_int_eq(sim_fleet_advance(a, end, &ba), 0);
    /* b in uneven steps, as real-time pacing would cut it */
    for (int64_t t = o.start, step = 1; t < end; step = step * 7 % 4001 + 1) {
        t = t + step < end ? t + step : end;
        ck_assert_int_eq(sim_fleet_advance(b, t, &bb), 0);
    }
    ck_assert_uint_gt(ba.count, 30 * 3 * 40);
    ck_assert_uint_eq(ba.count, bb.count);
    for (size_t k = 0; k < ba.count; k++)
        ck_assert_msg(same_message(&ba.items[k], &bb.items[k]), "message %zu differs", k);
    for (size_t i = 0; i < 30; i++)
        ck_assert_int_eq(sim_fleet_meter(a, i)->balance, sim_fleet_meter(b, i)->balance);

    o.seed = 43;
    struct sim_fleet *c = synthetic_fleet(&o, 30);
    struct sim_outbox bc = {0};
    ck_assert_int_eq(sim_fleet_advance(c, end, &bc), 0);
    size_t differ = 0;
    for (size_t k = 0; k < bc.count && k < ba.count; k++)
        differ += !same_message(&ba.items[k], &bc.items[k]);
    ck_assert_uint_gt(differ, ba.count / 2);
    sim_outbox_free(&ba);
    sim_outbox_free(&bb);
    sim_outbox_free(&bc);
    sim_fleet_free(a);
    sim_fleet_free(b);
    sim_fleet_free(c);
}
END_TEST

START_TEST(messages_come_in_time_order)
{
    struct sim_options o = options(1, ts(2026, 11, 20, 0, 0));
    o.reads_batch_pct = 50;
    struct sim_fleet *f = synthetic_fleet(&o, 20);
    struct sim_outbox box = {0};
    ck_assert_int_eq(sim_fleet_advance(f, o.start + 2 * DAY, &box), 0);
    for (size_t k = 1; k < box.count; k++) {
        ck_assert_int_le(box.items[k - 1].ts, box.items[k].ts);
        ck_assert_uint_eq(box.items[k].id, box.items[k - 1].id + 1);
    }
    ck_assert_int_eq(sim_fleet_now(f), o.start + 2 * DAY);
    ck_assert_int_gt(sim_fleet_next_due(f), sim_fleet_now(f));
    sim_outbox_free(&box);
    sim_fleet_free(f);
}
END_TEST

/* --- Energy --- */

/* The register value a meter must show at t: its start value plus the integral of its power,
 * summed here half-hour by half-hour from sim_power_mw, independently of the fleet's stepping. */
static int64_t expected_mj(const struct sim_fleet *f, size_t i, enum sim_element e,
                           enum sim_flow flow, int64_t start_mj, int64_t t0, int64_t t1)
{
    int64_t total = start_mj;
    for (int64_t p = interval_period_start(t0); p < t1; p += SIM_PERIOD_S) {
        int64_t from = p > t0 ? p : t0, to = p + SIM_PERIOD_S < t1 ? p + SIM_PERIOD_S : t1;
        total += sim_power_mw(f, i, e, flow, p) * (to - from);
    }
    return total;
}

START_TEST(registers_report_the_integral_of_their_power)
{
    struct sim_options o = options(7, ts(2026, 6, 10, 0, 0));
    enum { N = 10 };
    struct sim_fleet *f = synthetic_fleet(&o, N);
    int64_t start_mj[N][SIM_ELEMENTS][SIM_FLOWS];
    for (size_t i = 0; i < N; i++)
        memcpy(start_mj[i], sim_fleet_meter(f, i)->energy_mj, sizeof start_mj[i]);
    struct sim_outbox box = {0};
    int64_t end = o.start + 2 * DAY + 777;
    ck_assert_int_eq(sim_fleet_advance(f, end, &box), 0);
    size_t checked = 0;
    for (size_t k = 0; k < box.count; k++) {
        const struct sim_message *msg = &box.items[k];
        const struct sim_meter *m = sim_fleet_meter(f, msg->meter);
        cJSON *root = cJSON_Parse(msg->payload);
        const cJSON *state = cJSON_GetObjectItemCaseSensitive(root, "state");
        for (int e = 0; e < SIM_ELEMENTS && m->spec.reg[e].present; e++) {
            const cJSON *v = cJSON_GetObjectItemCaseSensitive(state, e ? "import_b" : "import_a");
            if (!cJSON_IsNumber(v))
                continue;
            /* the meter's own import is the network export when it is wired backwards */
            enum sim_flow flow = m->spec.reg[e].direction_reversed ? SIM_EXPORT : SIM_IMPORT;
            int64_t mj = expected_mj(f, msg->meter, (enum sim_element)e, flow,
                                     start_mj[msg->meter][e][flow], o.start, msg->ts);
            int64_t wh;
            ck_assert_int_eq(fields_kwh_to_wh(v->valuedouble, &wh), 0);
            ck_assert_int_eq(wh, mj / SIM_MJ_PER_WH);
            checked++;
        }
        cJSON_Delete(root);
    }
    ck_assert_uint_gt(checked, N * 90);
    /* a meter's state is integrated up to its last event (state_at), not to the fleet's now */
    for (size_t i = 0; i < N; i++) {
        const struct sim_meter *m = sim_fleet_meter(f, i);
        ck_assert_int_gt(m->state_at, end - 1800);
        for (int e = 0; e < SIM_ELEMENTS; e++)
            for (int flow = 0; flow < SIM_FLOWS; flow++) {
                int64_t got = m->energy_mj[e][flow] - start_mj[i][e][flow];
                ck_assert_int_eq(got, sim_energy_mj(f, i, (enum sim_element)e, (enum sim_flow)flow,
                                                    o.start, m->state_at));
                ck_assert_int_eq(got + start_mj[i][e][flow],
                                 expected_mj(f, i, (enum sim_element)e, (enum sim_flow)flow,
                                             start_mj[i][e][flow], o.start, m->state_at));
            }
    }
    sim_outbox_free(&box);
    sim_fleet_free(f);
}
END_TEST

START_TEST(a_home_uses_a_plausible_amount)
{
    struct sim_options o = options(3, ts(2026, 11, 2, 0, 0));
    struct sim_fleet *f = synthetic_fleet(&o, 6); /* homes only */
    for (size_t i = 0; i < 6; i++) {
        double kwh = (double)sim_energy_mj(f, i, SIM_A, SIM_IMPORT, o.start, o.start + 7 * DAY) /
                     SIM_MJ_PER_KWH / 7;
        ck_assert_msg(kwh > 3 && kwh < 25, "meter %zu uses %.1f kWh a day", i, kwh);
        ck_assert_int_eq(sim_energy_mj(f, i, SIM_A, SIM_EXPORT, o.start, o.start + 7 * DAY), 0);
    }
    /* the evening peak draws more than the small hours */
    int64_t evening = 0, night = 0;
    for (int d = 0; d < 7; d++) {
        evening += sim_energy_mj(f, 0, SIM_A, SIM_IMPORT, o.start + d * DAY + 17 * HOUR,
                                 o.start + d * DAY + 19 * HOUR);
        night += sim_energy_mj(f, 0, SIM_A, SIM_IMPORT, o.start + d * DAY + 3 * HOUR,
                               o.start + d * DAY + 5 * HOUR);
    }
    ck_assert_int_gt(evening, night * 2);
    sim_fleet_free(f);
}
END_TEST

START_TEST(solar_exports_only_by_day)
{
    struct sim_options o = options(11, ts(2026, 1, 1, 0, 0));
    struct sim_fleet *f = synthetic_fleet(&o, 10); /* meters 8 (wired backwards) and 9: solar */
    for (size_t i = 8; i < 10; i++) {
        for (int64_t p = o.start; p < o.start + 365 * DAY; p += SIM_PERIOD_S) {
            int64_t out = sim_power_mw(f, i, SIM_A, SIM_EXPORT, p);
            int64_t in = sim_power_mw(f, i, SIM_A, SIM_IMPORT, p);
            bool daylight = sim_sun_sine(p + SIM_PERIOD_S / 2) > 0;
            ck_assert_msg(daylight ? out > 0 && in == 0 : out == 0 && in > 0, "meter %zu at %lld",
                          i, (long long)p);
        }
        /* winter nights from 17:00 to 08:00 UTC are dark; a June noon is bright */
        ck_assert_int_eq(
            sim_energy_mj(f, i, SIM_A, SIM_EXPORT, ts(2026, 12, 21, 17, 0), ts(2026, 12, 22, 8, 0)),
            0);
        ck_assert_int_gt(sim_power_mw(f, i, SIM_A, SIM_EXPORT, ts(2026, 6, 21, 12, 0)), 500000);
    }
    /* a meter wired backwards shows the generation on its import register */
    struct sim_outbox box = {0};
    const struct sim_meter *m = sim_fleet_meter(f, 8);
    int64_t before = sim_meter_register_wh(m, SIM_A, SIM_IMPORT);
    int64_t generated = sim_energy_mj(f, 8, SIM_A, SIM_EXPORT, o.start, o.start + 2 * DAY);
    ck_assert_int_eq(sim_fleet_advance(f, o.start + 2 * DAY, &box), 0);
    ck_assert_int_gt(generated, 0);
    ck_assert_int_eq(sim_meter_register_wh(m, SIM_A, SIM_IMPORT) - before,
                     (m->energy_mj[SIM_A][SIM_EXPORT]) / SIM_MJ_PER_WH -
                         (m->energy_mj[SIM_A][SIM_EXPORT] - generated) / SIM_MJ_PER_WH);
    sim_outbox_free(&box);
    sim_fleet_free(f);
}
END_TEST

START_TEST(heat_follows_the_temperature_of_the_day)
{
    struct sim_options o = options(5, ts(2026, 1, 1, 0, 0));
    struct sim_fleet *f = synthetic_fleet(&o, 8); /* meter 6: a heat pump on element B */
    int64_t cold_max = INT64_MAX, warm_max = 0;
    int cold_days = 0, warm_days = 0;
    for (int64_t day = o.start; day < o.start + 365 * DAY; day += DAY) {
        double temp = sim_day_temperature(o.seed, day);
        int64_t mj = sim_energy_mj(f, 6, SIM_B, SIM_IMPORT, day, day + DAY);
        ck_assert_int_eq(sim_energy_mj(f, 6, SIM_B, SIM_EXPORT, day, day + DAY), 0);
        if (temp <= 5) {
            cold_days++;
            cold_max = mj < cold_max ? mj : cold_max; /* the least a cold day uses */
        } else if (temp >= 13) {
            warm_days++;
            warm_max = mj > warm_max ? mj : warm_max; /* the most a warm day uses */
        }
    }
    ck_assert_int_gt(cold_days, 10);
    ck_assert_int_gt(warm_days, 10);
    ck_assert_int_gt(cold_max, warm_max * 2);
    /* the seasons: January is colder than July on average */
    double jan = 0, jul = 0;
    for (int d = 0; d < 31; d++) {
        jan += sim_day_temperature(o.seed, ts(2026, 1, 1, 12, 0) + d * DAY);
        jul += sim_day_temperature(o.seed, ts(2026, 7, 1, 12, 0) + d * DAY);
    }
    ck_assert(jan / 31 < 8 && jul / 31 > 13);
    sim_fleet_free(f);
}
END_TEST

/* --- Money --- */

START_TEST(balance_falls_by_energy_and_standing_charges)
{
    struct sim_options o = options(9, ts(2026, 11, 2, 0, 0));
    enum { N = 10 };
    struct sim_fleet *f = synthetic_fleet(&o, N);
    int64_t start_balance[N], start_mj[N][SIM_ELEMENTS];
    for (size_t i = 0; i < N; i++) {
        start_balance[i] = sim_fleet_meter(f, i)->balance;
        for (int e = 0; e < SIM_ELEMENTS; e++)
            start_mj[i][e] = sim_fleet_meter(f, i)->energy_mj[e][SIM_IMPORT];
    }
    struct sim_outbox box = {0};
    int64_t span = 3 * DAY;
    ck_assert_int_eq(sim_fleet_advance(f, o.start + span, &box), 0);
    int falling = 0;
    const struct tariff *t = &sim_default_tariff;
    for (size_t i = 0; i < N; i++) {
        const struct sim_meter *m = sim_fleet_meter(f, i);
        int64_t a = m->energy_mj[SIM_A][SIM_IMPORT] - start_mj[i][SIM_A];
        int64_t b = m->energy_mj[SIM_B][SIM_IMPORT] - start_mj[i][SIM_B];
        int64_t seconds = m->state_at - o.start; /* integrated up to its last event */
        ck_assert_int_gt(seconds, span - 1800);
        int64_t expected = a * t->amount[TARIFF_UNIT_RATE_ELEMENT_A] / SIM_MJ_PER_KWH +
                           b * t->amount[TARIFF_UNIT_RATE_ELEMENT_B] / SIM_MJ_PER_KWH +
                           seconds * t->amount[TARIFF_STANDING_CHARGE] / DAY;
        ck_assert_int_eq(m->charged, expected);
        ck_assert_int_eq(m->balance, start_balance[i] - m->charged + m->topped_up);
        ck_assert_int_ge(m->charged, 2 * t->amount[TARIFF_STANDING_CHARGE]);
        if (m->topped_up == 0) {
            ck_assert_int_lt(m->balance, start_balance[i]);
            falling++;
        }
        ck_assert_int_eq(m->topped_up % 1000000, 0); /* top-ups are £10 or £20 */
    }
    ck_assert_int_gt(falling, 0);
    sim_outbox_free(&box);
    sim_fleet_free(f);
}
END_TEST

START_TEST(low_balances_are_topped_up_and_reported)
{
    struct sim_options o = options(13, ts(2026, 11, 2, 0, 0));
    struct sim_fleet *f = synthetic_fleet(&o, 20);
    struct sim_outbox box = {0};
    ck_assert_int_eq(sim_fleet_advance(f, o.start + 30 * DAY, &box), 0);
    int64_t topped = 0;
    for (size_t i = 0; i < 20; i++) {
        const struct sim_meter *m = sim_fleet_meter(f, i);
        topped += m->topped_up;
        /* never far into emergency credit */
        ck_assert_int_gt(m->balance, -m->active.amount[TARIFF_PREPAYMENT_EMERGENCY_CREDIT]);
    }
    ck_assert_int_gt(topped, 0);
    size_t events = 0;
    for (size_t k = 0; k < box.count; k++)
        events += strstr(box.items[k].payload, "\"code\":\"TOPUP\"") != NULL;
    ck_assert_uint_gt(events, 0);
    sim_outbox_free(&box);
    sim_fleet_free(f);
}
END_TEST

/* --- Tariffs --- */

START_TEST(activation_instant_follows_dst_correction)
{
    int64_t naive = ts(2026, 7, 1, 0, 0), at = 0;
    ck_assert_int_eq(sim_activation_instant(&london, true, naive, &at), 0);
    ck_assert_int_eq(at, naive - HOUR); /* BST */
    ck_assert_int_eq(sim_activation_instant(&london, false, naive, &at), 0);
    ck_assert_int_eq(at, naive);
    ck_assert_int_eq(sim_activation_instant(&london, true, ts(2026, 12, 1, 0, 0), &at), 0);
    ck_assert_int_eq(at, ts(2026, 12, 1, 0, 0)); /* GMT */
}
END_TEST

static const char TARIFF_CMD[] =
    "{\"id\":\"c-1\",\"command\":\"tariffs_future_write\",\"version\":3,\"attempt\":1,"
    "\"args\":{\"standing_charge\":0.6,\"unit_rate_element_a\":0.3,\"unit_rate_element_b\":0.2,"
    "\"prepayment_ecredit_availability\":5,\"prepayment_debt_recovery_rate\":0.1,"
    "\"prepayment_emergency_credit\":15,\"activation_datetime\":\"2026-07-01T03:00:00\"}}";

static cJSON *payload_of(const struct sim_message *msg)
{
    cJSON *root = cJSON_Parse(msg->payload);
    ck_assert_ptr_nonnull(root);
    return root;
}

START_TEST(tariff_command_is_confirmed_and_activated_at_its_instant)
{
    struct sim_options o = options(2, ts(2026, 7, 1, 0, 0));
    struct sim_fleet *f = synthetic_fleet(&o, 2); /* meter 0 corrects for DST */
    struct sim_outbox box = {0};
    ck_assert_int_eq(sim_fleet_advance(f, o.start + 600, &box), 0);
    sim_outbox_clear(&box);
    ck_assert_int_eq(sim_fleet_command(f, 0, TARIFF_CMD, strlen(TARIFF_CMD), &box), 0);
    ck_assert_uint_eq(box.count, 2);
    cJSON *result = payload_of(&box.items[0]);
    ck_assert_int_eq(box.items[0].kind, SIM_MSG_RESULT);
    ck_assert_str_eq(cJSON_GetObjectItem(result, "id")->valuestring, "c-1");
    ck_assert_str_eq(cJSON_GetObjectItem(result, "status")->valuestring, "ok");
    cJSON_Delete(result);
    cJSON *report = payload_of(&box.items[1]);
    const cJSON *future =
        cJSON_GetObjectItem(cJSON_GetObjectItem(report, "state"), "tariffs_future");
    ck_assert_str_eq(cJSON_GetObjectItem(future, "activation_datetime")->valuestring,
                     "2026-07-01T03:00:00");
    ck_assert_double_eq(cJSON_GetObjectItem(future, "standing_charge")->valuedouble, 0.6);
    cJSON_Delete(report);
    sim_outbox_clear(&box);

    /* 03:00 BST is 02:00Z: a tariff-only report at that instant, and the new rates after it */
    int64_t instant = ts(2026, 7, 1, 2, 0);
    ck_assert_int_eq(sim_fleet_advance(f, instant - 1, &box), 0);
    ck_assert(sim_fleet_meter(f, 0)->has_future);
    sim_outbox_clear(&box);
    ck_assert_int_eq(sim_fleet_advance(f, instant, &box), 0);
    ck_assert(!sim_fleet_meter(f, 0)->has_future);
    ck_assert_int_eq(sim_fleet_meter(f, 0)->active.amount[TARIFF_STANDING_CHARGE], 60000);
    ck_assert_uint_eq(box.count, 1);
    ck_assert_int_eq(box.items[0].ts, instant);
    report = payload_of(&box.items[0]);
    const cJSON *state = cJSON_GetObjectItem(report, "state");
    ck_assert(cJSON_IsNull(cJSON_GetObjectItem(state, "tariffs_future")));
    const cJSON *active = cJSON_GetObjectItem(state, "tariffs_active");
    ck_assert_double_eq(cJSON_GetObjectItem(active, "unit_rate_element_a")->valuedouble, 0.3);
    ck_assert_ptr_null(cJSON_GetObjectItem(active, "activation_datetime"));
    cJSON_Delete(report);
    sim_outbox_free(&box);
    sim_fleet_free(f);
}
END_TEST

START_TEST(commands_can_be_refused)
{
    struct sim_options o = options(2, ts(2026, 7, 1, 0, 0));
    struct sim_meter_spec specs[3];
    for (size_t i = 0; i < 3; i++)
        sim_synthetic_spec(i, &specs[i]);
    specs[1].rejects_commands = true;
    specs[2].silent = true;
    struct sim_fleet *f = NULL;
    ck_assert_int_eq(sim_fleet_create(&o, specs, 3, &f), 0);
    struct sim_outbox box = {0};
    ck_assert_int_eq(sim_fleet_command(f, 1, TARIFF_CMD, strlen(TARIFF_CMD), &box), 0);
    ck_assert_uint_eq(box.count, 1);
    cJSON *result = payload_of(&box.items[0]);
    ck_assert_str_eq(cJSON_GetObjectItem(result, "status")->valuestring, "error");
    ck_assert(cJSON_IsString(cJSON_GetObjectItem(result, "message")));
    cJSON_Delete(result);
    ck_assert(!sim_fleet_meter(f, 1)->has_future);
    sim_outbox_clear(&box);

    static const char unknown[] = "{\"id\":\"c-2\",\"command\":\"relay_open\"}";
    static const char bad[] = "{\"id\":\"c-3\",\"command\":\"tariffs_future_write\",\"args\":{}}";
    static const char no_id[] = "{\"command\":\"tariffs_future_write\"}";
    const char *const errors[] = {unknown, bad};
    for (size_t k = 0; k < 2; k++) {
        ck_assert_int_eq(sim_fleet_command(f, 0, errors[k], strlen(errors[k]), &box), 0);
        ck_assert_uint_eq(box.count, 1);
        result = payload_of(&box.items[0]);
        ck_assert_str_eq(cJSON_GetObjectItem(result, "status")->valuestring, "error");
        cJSON_Delete(result);
        sim_outbox_clear(&box);
    }
    /* no id: nobody to answer; a silent meter hears nothing */
    ck_assert_int_eq(sim_fleet_command(f, 0, no_id, strlen(no_id), &box), 0);
    ck_assert_int_eq(sim_fleet_command(f, 2, TARIFF_CMD, strlen(TARIFF_CMD), &box), 0);
    ck_assert_int_eq(sim_fleet_command(f, 0, "{", 1, &box), 0);
    ck_assert_uint_eq(box.count, 0);
    ck_assert(!sim_fleet_meter(f, 0)->has_future && !sim_fleet_meter(f, 2)->has_future);
    sim_outbox_free(&box);
    sim_fleet_free(f);
}
END_TEST

/* --- Misbehaviour --- */

/* True when payload is a report or batch the service would accept as far as its fields go. */
static bool acceptable(const struct sim_message *msg)
{
    cJSON *root = cJSON_ParseWithLength(msg->payload, msg->len);
    bool ok = cJSON_IsObject(root) && memchr(msg->payload, 0xff, msg->len) == NULL;
    const cJSON *state = cJSON_GetObjectItemCaseSensitive(root, "state");
    const cJSON *reads = cJSON_GetObjectItemCaseSensitive(root, "reads");
    struct fields_reported r;
    struct api_error err;
    if (ok && msg->kind == SIM_MSG_REPORT)
        ok = cJSON_IsObject(state) && fields_parse_reported(state, &r, &err) == 0;
    if (ok && msg->kind == SIM_MSG_READS) {
        ok = cJSON_IsArray(reads) && cJSON_GetArraySize(reads) > 0;
        const cJSON *read;
        cJSON_ArrayForEach(read, reads)
        {
            const cJSON *v;
            cJSON_ArrayForEach(v, read)
            {
                if (strcmp(v->string, "ts") != 0 && !cJSON_IsNumber(v) && !cJSON_IsNull(v))
                    ok = false;
            }
        }
    }
    cJSON_Delete(root);
    return ok;
}

START_TEST(malformed_and_duplicate_messages_come_at_their_rates)
{
    struct sim_options o = options(21, ts(2026, 11, 2, 0, 0));
    o.malformed_pct = 10;
    o.duplicate_pct = 20;
    o.reads_batch_pct = 20;
    struct sim_fleet *f = synthetic_fleet(&o, 50);
    struct sim_outbox box = {0};
    ck_assert_int_eq(sim_fleet_advance(f, o.start + 3 * DAY, &box), 0);
    size_t originals = 0, malformed = 0, duplicates = 0, batches = 0;
    for (size_t k = 0; k < box.count; k++) {
        const struct sim_message *msg = &box.items[k];
        ck_assert_msg(acceptable(msg) == !msg->malformed, "message %zu: %s", k, msg->payload);
        if (msg->duplicate) {
            duplicates++;
            ck_assert(k > 0 && msg->id == box.items[k - 1].id);
            ck_assert_str_eq(msg->payload, box.items[k - 1].payload);
            continue;
        }
        originals++;
        malformed += msg->malformed;
        batches += msg->kind == SIM_MSG_READS;
    }
    ck_assert_uint_gt(originals, 6000);
    ck_assert_uint_gt(batches, 10);
    double malformed_pct = 100.0 * (double)malformed / (double)originals;
    double duplicate_pct = 100.0 * (double)duplicates / (double)originals;
    ck_assert_msg(fabs(malformed_pct - 10) < 0.8, "malformed %.2f%%", malformed_pct);
    ck_assert_msg(fabs(duplicate_pct - 20) < 1.2, "duplicates %.2f%%", duplicate_pct);
    sim_outbox_free(&box);
    sim_fleet_free(f);
}
END_TEST

START_TEST(offline_missed_and_silent_meters_send_less)
{
    struct sim_options o = options(4, ts(2026, 11, 2, 0, 0));
    struct sim_meter_spec specs[40];
    for (size_t i = 0; i < 40; i++)
        sim_synthetic_spec(i, &specs[i]);
    specs[0].silent = true;
    o.missed_pct = 10;
    o.offline_pct = 50;
    struct sim_fleet *f = NULL;
    ck_assert_int_eq(sim_fleet_create(&o, specs, 40, &f), 0);
    struct sim_outbox box = {0};
    int days = 10;
    ck_assert_int_eq(sim_fleet_advance(f, o.start + days * DAY, &box), 0);
    size_t per_meter[40] = {0};
    int64_t longest_gap = 0, last[40];
    for (size_t i = 0; i < 40; i++)
        last[i] = o.start;
    for (size_t k = 0; k < box.count; k++) {
        size_t i = box.items[k].meter;
        per_meter[i]++;
        if (box.items[k].ts - last[i] > longest_gap)
            longest_gap = box.items[k].ts - last[i];
        last[i] = box.items[k].ts;
    }
    ck_assert_uint_eq(per_meter[0], 0);
    size_t sent = 0;
    for (size_t i = 1; i < 40; i++)
        sent += per_meter[i];
    /* 48 reports a day, less 10 % missed, less spells on half of the days (3.5 h mean): 0.83 */
    double share = (double)sent / (39.0 * 48 * days);
    ck_assert_msg(share > 0.80 && share < 0.87, "sent %.3f of the reports", share);
    ck_assert_int_ge(longest_gap, 3 * HOUR);
    sim_outbox_free(&box);
    sim_fleet_free(f);
}
END_TEST

/* --- Mediators --- */

START_TEST(mediators_upload_yesterdays_profile_log)
{
    struct sim_options o = options(6, ts(2026, 11, 2, 0, 0));
    o.reads_batch_pct = 100;
    o.missed_pct = 5;
    struct sim_fleet *f = synthetic_fleet(&o, 10);
    int64_t start_mj[SIM_ELEMENTS][SIM_FLOWS];
    memcpy(start_mj, sim_fleet_meter(f, 0)->energy_mj, sizeof start_mj);
    struct sim_outbox box = {0};
    ck_assert_int_eq(sim_fleet_advance(f, o.start + 3 * DAY, &box), 0);
    size_t batches = 0, nulls = 0;
    for (size_t k = 0; k < box.count; k++) {
        const struct sim_message *msg = &box.items[k];
        cJSON *root = payload_of(msg);
        const cJSON *state = cJSON_GetObjectItem(root, "state");
        ck_assert_ptr_null(cJSON_GetObjectItem(state, "import_a")); /* registers come in batches */
        if (msg->kind != SIM_MSG_READS || msg->meter != 0) {
            cJSON_Delete(root);
            continue;
        }
        const cJSON *reads = cJSON_GetObjectItem(root, "reads");
        ck_assert_int_eq(cJSON_GetArraySize(reads), 48);
        int64_t day = (msg->ts / DAY - 1) * DAY; /* the UTC day before the upload */
        int n = 0;
        const cJSON *read;
        cJSON_ArrayForEach(read, reads)
        {
            int64_t at;
            ck_assert_int_eq(isotime_from_json(cJSON_GetObjectItem(read, "ts"), &at), 0);
            ck_assert_int_eq(at, day + n++ * SIM_PERIOD_S);
            const cJSON *v = cJSON_GetObjectItem(read, "import_a");
            if (cJSON_IsNull(v)) {
                nulls++;
                continue;
            }
            int64_t wh;
            ck_assert_int_eq(fields_kwh_to_wh(v->valuedouble, &wh), 0);
            ck_assert_int_eq(
                wh, expected_mj(f, 0, SIM_A, SIM_IMPORT, start_mj[SIM_A][SIM_IMPORT], o.start, at) /
                        SIM_MJ_PER_WH);
        }
        batches++;
        cJSON_Delete(root);
    }
    ck_assert_uint_eq(batches, 2); /* after the first and second midnights */
    ck_assert_uint_gt(nulls, 0);
    sim_outbox_free(&box);
    sim_fleet_free(f);
}
END_TEST

/* --- Fleet sources --- */

START_TEST(topology_decides_roles_phases_and_scale)
{
    size_t len;
    const char *text = read_text("deploy/example-topology.json", &len);
    struct topology t;
    struct registry_problems p;
    registry_problems_init(&p);
    ck_assert_int_eq(registry_parse(text, len, &t, &p), 0);
    struct sim_meter_spec *specs;
    size_t n;
    ck_assert_int_eq(sim_specs_from_topology(&t, ts(2026, 11, 1, 0, 0), &specs, &n), 0);
    ck_assert_uint_eq(n, t.meter_count);
    const struct sim_meter_spec *by[16] = {0};
    const char *serials[] = {"EML2137580826", "EML2137580827", "EML2137580829",
                             "EML2137580830", "EML2137580831", "EML2226413301"};
    for (size_t k = 0; k < 6; k++)
        for (size_t i = 0; i < n; i++)
            if (strcmp(specs[i].serial, serials[k]) == 0)
                by[k] = &specs[i];
    for (size_t k = 0; k < 6; k++)
        ck_assert_ptr_nonnull(by[k]);
    /* WL-01 supply: B feeds WL heat from mid-2025, rolls over at 100000 kWh */
    ck_assert_int_eq(by[0]->reg[SIM_A].role, SIM_ROLE_POWER);
    ck_assert_int_eq(by[0]->reg[SIM_B].role, SIM_ROLE_HEAT);
    ck_assert_int_eq(by[0]->reg[SIM_B].rollover_wh, INT64_C(100000000));
    ck_assert(by[0]->dst_correction);
    /* WL-01 solar: SINGLE, wired backwards */
    ck_assert(by[1]->reg[SIM_A].present && !by[1]->reg[SIM_B].present);
    ck_assert_int_eq(by[1]->reg[SIM_A].role, SIM_ROLE_SOLAR);
    ck_assert(by[1]->reg[SIM_A].direction_reversed);
    /* the hall: three phases, community scale; its B left WL heat, the role it last had stays */
    ck_assert_int_eq(by[2]->phases, 3);
    ck_assert_double_eq(by[2]->scale, 2.0);
    ck_assert_int_eq(by[2]->reg[SIM_B].role, SIM_ROLE_HEAT);
    ck_assert(by[3]->passive);
    ck_assert_int_eq(by[4]->reg[SIM_B].role, SIM_ROLE_HEAT);
    ck_assert_double_eq(by[5]->scale, 3.0); /* the workshop */
    ck_assert_str_eq(by[5]->hardware, "EMP3AX");
    free(specs);
    registry_topology_free(&t);
    registry_problems_free(&p);
}
END_TEST

START_TEST(synthetic_topology_matches_synthetic_meters)
{
    cJSON *json = sim_synthetic_topology(25);
    ck_assert_ptr_nonnull(json);
    char *text = cJSON_PrintUnformatted(json);
    cJSON_Delete(json);
    struct topology t;
    struct registry_problems p;
    registry_problems_init(&p);
    int rc = registry_parse(text, strlen(text), &t, &p);
    ck_assert_msg(rc == 0, "%s", p.count ? p.items[0] : "?");
    struct sim_meter_spec *specs;
    size_t n;
    ck_assert_int_eq(sim_specs_from_topology(&t, ts(2026, 11, 1, 0, 0), &specs, &n), 0);
    ck_assert_uint_eq(n, 25);
    ck_assert_uint_eq(t.circuit_count, 3);
    for (size_t i = 0; i < n; i++) {
        struct sim_meter_spec want;
        sim_synthetic_spec(i, &want);
        ck_assert_str_eq(specs[i].serial, want.serial);
        for (int e = 0; e < SIM_ELEMENTS; e++) {
            ck_assert_int_eq(specs[i].reg[e].present, want.reg[e].present);
            ck_assert_int_eq(specs[i].reg[e].role, want.reg[e].role);
            ck_assert_int_eq(specs[i].reg[e].direction_reversed, want.reg[e].direction_reversed);
        }
        ck_assert_int_eq(specs[i].dst_correction, want.dst_correction);
    }
    ck_assert_str_eq(specs[0].serial, "SIM000001");
    free(specs);
    cJSON_free(text);
    registry_topology_free(&t);
    registry_problems_free(&p);
}
END_TEST

START_TEST(bad_options_and_repeated_serials_are_refused)
{
    struct sim_options o = options(1, ts(2026, 11, 2, 0, 0));
    struct sim_meter_spec specs[2];
    sim_synthetic_spec(0, &specs[0]);
    sim_synthetic_spec(0, &specs[1]);
    struct sim_fleet *f = NULL;
    ck_assert_int_eq(sim_fleet_create(&o, specs, 2, &f), -1);
    ck_assert_ptr_null(f);
    o.malformed_pct = 101;
    ck_assert_int_eq(sim_fleet_create(&o, specs, 1, &f), -1);
    o.malformed_pct = 0;
    o.report_interval_s = 0;
    ck_assert_int_eq(sim_fleet_create(&o, specs, 1, &f), -1);
    o.report_interval_s = 60;
    ck_assert_int_eq(sim_fleet_create(&o, specs, 1, &f), 0);
    size_t i = 9;
    ck_assert(sim_fleet_find(f, "SIM000001", 9, &i) && i == 0);
    ck_assert(!sim_fleet_find(f, "SIM000002", 9, &i));
    sim_fleet_free(f);
}
END_TEST

static Suite *sim_suite(void)
{
    Suite *s = suite_create("sim");
    TCase *det = tcase_create("determinism");
    tcase_add_checked_fixture(det, setup, NULL);
    tcase_set_timeout(det, 60);
    tcase_add_test(det, same_seed_same_messages_however_stepped);
    tcase_add_test(det, messages_come_in_time_order);
    suite_add_tcase(s, det);
    TCase *phy = tcase_create("physics");
    tcase_add_checked_fixture(phy, setup, NULL);
    tcase_set_timeout(phy, 60);
    tcase_add_test(phy, registers_report_the_integral_of_their_power);
    tcase_add_test(phy, a_home_uses_a_plausible_amount);
    tcase_add_test(phy, solar_exports_only_by_day);
    tcase_add_test(phy, heat_follows_the_temperature_of_the_day);
    tcase_add_test(phy, balance_falls_by_energy_and_standing_charges);
    tcase_add_test(phy, low_balances_are_topped_up_and_reported);
    suite_add_tcase(s, phy);
    TCase *cmd = tcase_create("commands");
    tcase_add_checked_fixture(cmd, setup, NULL);
    tcase_add_test(cmd, activation_instant_follows_dst_correction);
    tcase_add_test(cmd, tariff_command_is_confirmed_and_activated_at_its_instant);
    tcase_add_test(cmd, commands_can_be_refused);
    suite_add_tcase(s, cmd);
    TCase *bad = tcase_create("misbehaviour");
    tcase_add_checked_fixture(bad, setup, NULL);
    tcase_set_timeout(bad, 60);
    tcase_add_test(bad, malformed_and_duplicate_messages_come_at_their_rates);
    tcase_add_test(bad, offline_missed_and_silent_meters_send_less);
    tcase_add_test(bad, mediators_upload_yesterdays_profile_log);
    suite_add_tcase(s, bad);
    TCase *src = tcase_create("sources");
    tcase_add_checked_fixture(src, setup, NULL);
    tcase_add_test(src, topology_decides_roles_phases_and_scale);
    tcase_add_test(src, synthetic_topology_matches_synthetic_meters);
    tcase_add_test(src, bad_options_and_repeated_serials_are_refused);
    suite_add_tcase(s, src);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(sim_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
