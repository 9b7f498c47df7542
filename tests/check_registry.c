/* check_registry.c — the topology file (SPEC §7): every rule of registry_parse, each problem's
 * exact location and wording, and that one run lists every problem of a file while keeping the
 * entities whose natural key is good (so the store can still check their references).
 *
 * Documents are written with ' for " to stay readable; q() swaps them back. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "isotime.h"
#include "registry.h"

static struct topology topo;
static struct registry_problems problems;

static void setup(void)
{
    memset(&topo, 0, sizeof topo);
    registry_problems_init(&problems);
}

static void teardown(void)
{
    registry_topology_free(&topo);
    registry_problems_free(&problems);
}

/* Parses text (with ' for ") after releasing the previous parse. */
static int q(const char *text)
{
    char *json = strdup(text);
    ck_assert_ptr_nonnull(json);
    for (char *c = json; *c; c++)
        if (*c == '\'')
            *c = '"';
    registry_topology_free(&topo);
    registry_problems_free(&problems);
    int rc = registry_parse(json, strlen(json), &topo, &problems);
    free(json);
    return rc;
}

static bool has(const char *problem)
{
    for (size_t i = 0; i < problems.count; i++)
        if (strcmp(problems.items[i], problem) == 0)
            return true;
    return false;
}

static void dump(void)
{
    for (size_t i = 0; i < problems.count; i++)
        fprintf(stderr, "  problem: %s\n", problems.items[i]);
}

/* The document has exactly this one problem. */
static void only(const char *text, const char *problem)
{
    ck_assert_int_eq(q(text), -1);
    if (problems.count != 1 || !has(problem))
        dump();
    ck_assert_uint_eq(problems.count, 1);
    ck_assert_str_eq(problems.items[0], problem);
}

static void clean(const char *text)
{
    int rc = q(text);
    if (rc != 0)
        dump();
    ck_assert_int_eq(rc, 0);
    ck_assert_uint_eq(problems.count, 0);
}

/* ---- The shipped example ------------------------------------------------------------------- */

START_TEST(example_topology_is_valid)
{
    FILE *f = fopen("deploy/example-topology.json", "rb");
    ck_assert_msg(f != NULL, "run from the repository root");
    static char text[1 << 16];
    size_t n = fread(text, 1, sizeof text, f);
    ck_assert_int_eq(fclose(f), 0);
    ck_assert_uint_lt(n, sizeof text);
    int rc = registry_parse(text, n, &topo, &problems);
    if (rc != 0)
        dump();
    ck_assert_int_eq(rc, 0);
    ck_assert_uint_eq(topo.esco_count, 2);
    ck_assert_uint_eq(topo.site_count, 3);
    ck_assert_uint_ge(topo.feeder_count, 2);
    ck_assert_uint_ge(topo.service_head_count, 3);
    ck_assert_uint_ge(topo.meter_count, 8);
    ck_assert_uint_ge(topo.circuit_count, 3);

    bool single = false, pair = false, passive = false, reversed = false, rollover = false;
    bool dst_on = false, dst_off = false, one_phase = false, three_phase = false;
    for (size_t i = 0; i < topo.meter_count; i++) {
        const struct registry_meter *m = &topo.meters[i];
        single |= m->register_count == 1 && strcmp(m->registers[0].element, "SINGLE") == 0;
        pair |= registry_meter_register(m, "A") && registry_meter_register(m, "B");
        passive |= m->passive;
        dst_on |= m->dst_correction;
        dst_off |= !m->dst_correction;
        for (size_t j = 0; j < m->register_count; j++) {
            reversed |= m->registers[j].direction_reversed;
            rollover |= m->registers[j].has_rollover_kwh;
        }
    }
    for (size_t i = 0; i < topo.service_head_count; i++) {
        one_phase |= topo.service_heads[i].phase == 1 && topo.service_heads[i].has_fuse_rating_amps;
        three_phase |=
            topo.service_heads[i].phase == 3 && topo.service_heads[i].has_fuse_rating_amps;
    }
    ck_assert(single && pair && passive && reversed && rollover && dst_on && dst_off);
    ck_assert(one_phase && three_phase);

    bool types[3] = {false, false, false}, handover = false;
    for (size_t i = 0; i < topo.circuit_count; i++) {
        const struct registry_circuit *c = &topo.circuits[i];
        types[0] |= strcmp(c->type, "power") == 0;
        types[1] |= strcmp(c->type, "heat") == 0;
        types[2] |= strcmp(c->type, "solar") == 0;
        for (size_t j = 0; j < c->mapping_count; j++)
            for (size_t k = 0; k < c->mapping_count; k++)
                handover |= c->mappings[j].has_end && c->mappings[j].end == c->mappings[k].start;
    }
    ck_assert(types[0] && types[1] && types[2] && handover);
}
END_TEST

/* ---- Shapes and values --------------------------------------------------------------------- */

START_TEST(empty_documents_are_fine)
{
    clean("{}");
    clean("{'escos':[],'sites':[],'feeders':[],'service_heads':[],'properties':[],'meters':[],"
          "'circuits':[]}");
    clean("{'escos':null,'meters':null}");
    ck_assert_uint_eq(registry_entity_total(&topo), 0);
}
END_TEST

START_TEST(members_are_read)
{
    clean("{'escos':[{'code':'WLCE','name':'Water Lilies'}],"
          "'sites':[{'name':'WL','esco':'WLCE','location':'Bristol','capacity_kw':200}],"
          "'feeders':[{'name':'F1','substation':'North','rating_amps':400}],"
          "'service_heads':[{'name':'SH1','phase':3,'type':'network_owned','feeder':'F1',"
          "'fuse_rating_amps':100}],"
          "'properties':[{'plot':'P1','site':'WL','address':'1 Lane','type':'residential',"
          "'service_heads':['SH1']}],"
          "'meters':[{'serial':'EML2137580826','name':'n','ip_address':'10.0.0.1','hardware':'h',"
          "'esco':'WLCE','service_head':'SH1','mode':'passive','single_meter_app':true,"
          "'daylight_savings_correction_enabled':true,"
          "'registers':[{'element':'A','direction_reversed':true,'rollover_kwh':100000},"
          "{'element':'B'}]}],"
          "'circuits':[{'name':'C1','site':'WL','type':'heat','rating_amps':32,"
          "'registers':[{'meter':'EML2137580826','element':'B','start':'2025-01-01T01:00:00+01:00',"
          "'end':'2025-02-01T00:00:00Z'}]}]}");
    ck_assert_str_eq(topo.escos[0].name, "Water Lilies");
    ck_assert(topo.sites[0].has_capacity_kw && topo.sites[0].capacity_kw == 200);
    ck_assert_str_eq(topo.sites[0].esco, "WLCE");
    ck_assert(topo.feeders[0].has_rating_amps && topo.feeders[0].rating_amps == 400);
    ck_assert_int_eq(topo.service_heads[0].phase, 3);
    ck_assert(topo.service_heads[0].fuse_rating_amps == 100);
    ck_assert_uint_eq(topo.properties[0].service_head_count, 1);
    ck_assert_str_eq(topo.properties[0].service_heads[0], "SH1");
    const struct registry_meter *m = &topo.meters[0];
    ck_assert(m->passive && m->single_meter_app && m->dst_correction);
    ck_assert_str_eq(m->service_head, "SH1");
    ck_assert_uint_eq(m->register_count, 2);
    ck_assert(m->registers[0].direction_reversed && m->registers[0].has_rollover_kwh);
    ck_assert(m->registers[0].rollover_kwh == 100000);
    ck_assert(!m->registers[1].direction_reversed && !m->registers[1].has_rollover_kwh);
    const struct registry_mapping *r = &topo.circuits[0].mappings[0];
    ck_assert_int_eq(r->start, 1735689600); /* 2025-01-01T00:00:00Z */
    ck_assert(r->has_end);
    ck_assert_int_eq(r->end, 1738368000);
    ck_assert_uint_eq(topo.register_count, 2);
    ck_assert_uint_eq(topo.mapping_count, 1);
    /* 7 entities + 2 registers + 1 property link + 1 meter link + 1 mapping */
    ck_assert_uint_eq(registry_entity_total(&topo), 12);
}
END_TEST

START_TEST(optional_members_left_out_or_null)
{
    clean("{'meters':[{'serial':'M1'},{'serial':'M2','name':null,'mode':null,'esco':null,"
          "'daylight_savings_correction_enabled':null,'registers':null}],"
          "'service_heads':[{'name':'SH','phase':null,'fuse_rating_amps':null}],"
          "'circuits':[{'name':'C','type':'power','registers':[{'meter':'M1','element':'A',"
          "'start':'2025-01-01T00:00:00Z','end':null}]}]}");
    for (size_t i = 0; i < 2; i++) {
        const struct registry_meter *m = &topo.meters[i];
        ck_assert_ptr_null(m->name);
        ck_assert_ptr_null(m->esco);
        ck_assert_str_eq(m->id, "");
        ck_assert(!m->passive && !m->dst_correction && !m->single_meter_app);
        ck_assert_uint_eq(m->register_count, 0);
    }
    ck_assert_int_eq(topo.service_heads[0].phase, 0);
    ck_assert(!topo.service_heads[0].has_fuse_rating_amps);
    ck_assert(!topo.circuits[0].mappings[0].has_end);
}
END_TEST

START_TEST(document_must_be_a_json_object)
{
    only("[]", "document: must be a JSON object, got an array");
    only("'x'", "document: must be a JSON object, got 'x'");
    only("{'escos':[}", "line 1, column 11: invalid JSON");
    only("{\n 'escos': [],\n 'sites': [,]\n}", "line 3, column 12: invalid JSON");
    only("{} {}", "line 1, column 4: unexpected text after the JSON document");
    clean("{}\n\t ");
    only("{'escos':[{'code':'A\\u0000B'}]}",
         "line 1, column 21: NUL characters (or \\u0000) are not allowed");
    clean("{'escos':[{'code':'A\\\\u0000B'}]}"); /* an escaped backslash, then text */
    only("{'escos':{}}", "escos: must be an array, got an object");
    only("{'meters':[1]}", "meters[0]: must be an object, got 1");
    only("{'colour':'blue'}", "document: unknown member 'colour'");

    registry_topology_free(&topo);
    registry_problems_free(&problems);
    static const char bad_utf8[] = "{\"escos\":[{\"code\":\"\xff\"}]}";
    ck_assert_int_eq(registry_parse(bad_utf8, sizeof bad_utf8 - 1, &topo, &problems), -1);
    ck_assert_str_eq(problems.items[0], "document: is not valid UTF-8");

    registry_topology_free(&topo);
    registry_problems_free(&problems);
    static const char nul[] = "{\"escos\":[]}\0";
    ck_assert_int_eq(registry_parse(nul, sizeof nul - 1, &topo, &problems), -1);
    ck_assert_str_eq(problems.items[0],
                     "line 1, column 13: NUL characters (or \\u0000) are not allowed");
}
END_TEST

START_TEST(unknown_and_repeated_members)
{
    only("{'meters':[{'serial':'M1','registers':[{'element':'A','rolover_kwh':5}]}]}",
         "meters[0].registers[0]: unknown member 'rolover_kwh'");
    only("{'escos':[{'code':'A','name':'x','name':'y'}]}", "escos[0].name: is given 2 times");
    only("{'circuits':[{'name':'C','type':'heat','registers':[{'meter':'M','element':'A',"
         "'start':'2025-01-01T00:00:00Z','until':1}]}]}",
         "circuits[0].registers[0]: unknown member 'until'");
}
END_TEST

START_TEST(required_members)
{
    only("{'escos':[{'name':'x'}]}", "escos[0].code: is required");
    only("{'sites':[{'esco':'x'}]}", "sites[0].name: is required");
    only("{'feeders':[{}]}", "feeders[0].name: is required");
    only("{'service_heads':[{'phase':1}]}", "service_heads[0].name: is required");
    only("{'properties':[{'site':'S'}]}", "properties[0].plot: is required");
    only("{'meters':[{'name':'m'}]}", "meters[0].serial: is required");
    only("{'meters':[{'serial':'M','registers':[{}]}]}",
         "meters[0].registers[0].element: is required");
    only("{'circuits':[{'name':'C'}]}", "circuits[0].type: is required");
    only("{'circuits':[{'type':'power'}]}", "circuits[0].name: is required");
    only("{'circuits':[{'name':'C','type':'power','registers':[{'element':'A',"
         "'start':'2025-01-01T00:00:00Z'}]}]}",
         "circuits[0].registers[0].meter: is required");
    only("{'circuits':[{'name':'C','type':'power','registers':[{'meter':'M',"
         "'start':'2025-01-01T00:00:00Z'}]}]}",
         "circuits[0].registers[0].element: is required");
    only("{'circuits':[{'name':'C','type':'power','registers':[{'meter':'M','element':'A'}]}]}",
         "circuits[0].registers[0].start: is required");
}
END_TEST

START_TEST(text_members)
{
    only("{'escos':[{'code':5}]}", "escos[0].code: must be a string, got 5");
    only("{'escos':[{'code':'A','name':true}]}", "escos[0].name: must be a string, got true");
    only("{'escos':[{'code':''}]}", "escos[0].code: must be 1 to 1024 bytes long, got 0");
    only("{'sites':[{'name':'S','location':['x']}]}",
         "sites[0].location: must be a string, got an array");
    only("{'sites':[{'name':'S','esco':'WL\\nCE'}]}",
         "sites[0].esco: must not contain control characters, got 'WL?CE'");
    only("{'properties':[{'plot':'P','service_heads':['SH\\t1']}]}",
         "properties[0].service_heads[0]: must not contain control characters, got 'SH?1'");
    clean("{'sites':[{'name':'Caf\u00e9 \u2013 \u6c34'}]}"); /* any other character is fine */

    char big[1200], doc[1300];
    memset(big, 'x', 1025);
    big[1025] = '\0';
    snprintf(doc, sizeof doc, "{'escos':[{'code':'A','name':'%s'}]}", big);
    only(doc, "escos[0].name: must be 1 to 1024 bytes long, got 1025");
    big[1024] = '\0';
    snprintf(doc, sizeof doc, "{'escos':[{'code':'A','name':'%s'}]}", big);
    clean(doc);
}
END_TEST

START_TEST(long_values_are_cut_in_messages)
{
    only("{'meters':[{'serial':'M','mode':'aaaaaaaaaabbbbbbbbbbccccccccccddddddddddeeee'}]}",
         "meters[0].mode: must be active or passive, got "
         "'aaaaaaaaaabbbbbbbbbbccccccccccdddddddddd...'");
    only("{'meters':[{'serial':'M','mode':'a\\tb'}]}",
         "meters[0].mode: must be active or passive, got 'a?b'");
}
END_TEST

START_TEST(meter_serial)
{
    only("{'meters':[{'serial':'EML 1'}]}",
         "meters[0].serial: must be 1 to 64 of A-Z a-z 0-9 _ -, got 'EML 1'");
    only("{'meters':[{'serial':'a/b'}]}",
         "meters[0].serial: must be 1 to 64 of A-Z a-z 0-9 _ -, got 'a/b'");
    only("{'meters':[{'serial':''}]}",
         "meters[0].serial: must be 1 to 64 of A-Z a-z 0-9 _ -, got ''");
    only("{'meters':[{'serial':42}]}",
         "meters[0].serial: must be 1 to 64 of A-Z a-z 0-9 _ -, got 42");
    clean("{'meters':[{'serial':'EML2137580826'},{'serial':'meter_x-1'}]}");
}
END_TEST

START_TEST(register_element)
{
    only("{'meters':[{'serial':'M0'},{'serial':'M1'},{'serial':'M2','registers':[{'element':'A'},"
         "{'element':'C'}]}]}",
         "meters[2].registers[1].element: must be A, B or SINGLE, got 'C'");
    only("{'meters':[{'serial':'M','registers':[{'element':'a'}]}]}",
         "meters[0].registers[0].element: must be A, B or SINGLE, got 'a'");
    only("{'meters':[{'serial':'M','registers':[{'element':1}]}]}",
         "meters[0].registers[0].element: must be A, B or SINGLE, got 1");
    only("{'meters':[{'serial':'M','registers':{}}]}",
         "meters[0].registers: must be an array, got an object");
    only("{'meters':[{'serial':'M','registers':['A']}]}",
         "meters[0].registers[0]: must be an object, got 'A'");
    ck_assert_uint_eq(topo.meter_count, 1);
    ck_assert_uint_eq(topo.meters[0].register_count, 0);
}
END_TEST

START_TEST(single_meter_has_only_a_single_register)
{
    only("{'meters':[{'serial':'M','registers':[{'element':'SINGLE'},{'element':'A'}]}]}",
         "meters[0].registers[1].element: a SINGLE meter has only a SINGLE register, got 'A' "
         "beside 'SINGLE' (registers[0])");
    only("{'meters':[{'serial':'M','registers':[{'element':'B'},{'element':'SINGLE'}]}]}",
         "meters[0].registers[1].element: a SINGLE meter has only a SINGLE register, got 'SINGLE' "
         "beside 'B' (registers[0])");
    ck_assert_uint_eq(topo.meters[0].register_count, 1);
    clean("{'meters':[{'serial':'M','registers':[{'element':'SINGLE'}]},"
          "{'serial':'N','registers':[{'element':'A'},{'element':'B'}]},"
          "{'serial':'O','registers':[{'element':'B'}]}]}");
}
END_TEST

START_TEST(no_duplicate_element_per_meter)
{
    only(
        "{'meters':[{'serial':'M','registers':[{'element':'A'},{'element':'B'},{'element':'A'}]}]}",
        "meters[0].registers[2].element: 'A' is already registers[0]");
    ck_assert_uint_eq(topo.meters[0].register_count, 2);
    only("{'meters':[{'serial':'M','registers':[{'element':'SINGLE'},{'element':'SINGLE'}]}]}",
         "meters[0].registers[1].element: 'SINGLE' is already registers[0]");
    /* The same element on two meters is two registers. */
    clean("{'meters':[{'serial':'M','registers':[{'element':'A'}]},"
          "{'serial':'N','registers':[{'element':'A'}]}]}");
}
END_TEST

START_TEST(meter_mode_and_flags)
{
    only("{'meters':[{'serial':'M','mode':'sleepy'}]}",
         "meters[0].mode: must be active or passive, got 'sleepy'");
    only("{'meters':[{'serial':'M','mode':'Active'}]}",
         "meters[0].mode: must be active or passive, got 'Active'");
    clean("{'meters':[{'serial':'M','mode':'active'},{'serial':'N','mode':'passive'}]}");
    ck_assert(!topo.meters[0].passive && topo.meters[1].passive);
    only("{'meters':[{'serial':'M','daylight_savings_correction_enabled':1}]}",
         "meters[0].daylight_savings_correction_enabled: must be true or false, got 1");
    only("{'meters':[{'serial':'M','single_meter_app':'no'}]}",
         "meters[0].single_meter_app: must be true or false, got 'no'");
    only("{'meters':[{'serial':'M','registers':[{'element':'A','direction_reversed':'yes'}]}]}",
         "meters[0].registers[0].direction_reversed: must be true or false, got 'yes'");
}
END_TEST

START_TEST(service_head_phase)
{
    clean("{'service_heads':[{'name':'A','phase':1},{'name':'B','phase':3},{'name':'C','phase':3.0}"
          "]}");
    ck_assert_int_eq(topo.service_heads[2].phase, 3);
    only("{'service_heads':[{'name':'A','phase':2}]}",
         "service_heads[0].phase: must be 1 or 3, got 2");
    only("{'service_heads':[{'name':'A','phase':1.5}]}",
         "service_heads[0].phase: must be 1 or 3, got 1.5");
    only("{'service_heads':[{'name':'A','phase':'1'}]}",
         "service_heads[0].phase: must be 1 or 3, got '1'");
    ck_assert_uint_eq(topo.service_head_count, 1); /* kept: its key is good */
}
END_TEST

START_TEST(circuit_type)
{
    clean("{'circuits':[{'name':'P','type':'power'},{'name':'H','type':'heat'},"
          "{'name':'S','type':'solar'}]}");
    only("{'circuits':[{'name':'C','type':'steam'}]}",
         "circuits[0].type: must be power, heat or solar, got 'steam'");
    ck_assert_uint_eq(topo.circuit_count, 0);
}
END_TEST

START_TEST(numbers)
{
    only("{'sites':[{'name':'S','capacity_kw':-1}]}",
         "sites[0].capacity_kw: must be a number of at least 0 and at most 1e+06, got -1");
    clean("{'sites':[{'name':'S','capacity_kw':0}]}");
    only("{'feeders':[{'name':'F','rating_amps':0}]}",
         "feeders[0].rating_amps: must be a number greater than 0 and at most 100000, got 0");
    only("{'service_heads':[{'name':'H','fuse_rating_amps':'100'}]}",
         "service_heads[0].fuse_rating_amps: must be a number greater than 0 and at most 100000, "
         "got '100'");
    only("{'circuits':[{'name':'C','type':'power','rating_amps':1e9}]}",
         "circuits[0].rating_amps: must be a number greater than 0 and at most 100000, got "
         "1000000000");
    only("{'meters':[{'serial':'M','registers':[{'element':'A','rollover_kwh':0}]}]}",
         "meters[0].registers[0].rollover_kwh: must be a number greater than 0 and at most 1e+09, "
         "got 0");
    only("{'meters':[{'serial':'M','registers':[{'element':'A','rollover_kwh':1e999}]}]}",
         "meters[0].registers[0].rollover_kwh: must be a number greater than 0 and at most 1e+09, "
         "got inf");
}
END_TEST

START_TEST(mapping_times)
{
    static const char head[] = "{'circuits':[{'name':'C','type':'power','registers':[";
    char doc[512];
    snprintf(doc, sizeof doc, "%s{'meter':'M','element':'A','start':'2025-01-01'}]}]}", head);
    only(doc, "circuits[0].registers[0].start: must be an ISO-8601 time with a zone "
              "(2025-01-01T00:00:00Z), got '2025-01-01'");
    snprintf(doc, sizeof doc, "%s{'meter':'M','element':'A','start':1735689600}]}]}", head);
    only(doc, "circuits[0].registers[0].start: must be an ISO-8601 time with a zone "
              "(2025-01-01T00:00:00Z), got 1735689600");
    snprintf(doc, sizeof doc,
             "%s{'meter':'M','element':'A','start':'2025-01-01T00:00:00Z','end':'2025-13-01T00:00:"
             "00Z'}]}]}",
             head);
    only(doc, "circuits[0].registers[0].end: must be an ISO-8601 time with a zone "
              "(2025-01-01T00:00:00Z), got '2025-13-01T00:00:00Z'");
    snprintf(doc, sizeof doc,
             "%s{'meter':'M','element':'A','start':'2025-02-01T00:00:00Z','end':'2025-01-01T00:00:"
             "00Z'}]}]}",
             head);
    only(doc, "circuits[0].registers[0].end: must be after start (2025-02-01T00:00:00Z), got "
              "'2025-01-01T00:00:00Z'");
    ck_assert_uint_eq(topo.circuits[0].mapping_count, 0);
    /* start == end is an empty interval, refused the same way; the offset is honoured. */
    snprintf(doc, sizeof doc,
             "%s{'meter':'M','element':'A','start':'2025-01-01T01:00:00+01:00','end':'2025-01-"
             "01T00:00:00Z'}]}]}",
             head);
    only(doc, "circuits[0].registers[0].end: must be after start (2025-01-01T00:00:00Z), got "
              "'2025-01-01T00:00:00Z'");
}
END_TEST

START_TEST(mappings_must_not_overlap)
{
    static const char head[] = "{'circuits':[{'name':'C','type':'heat','registers':[";
    char doc[768];
    /* A handover at one instant is not an overlap. */
    snprintf(
        doc, sizeof doc,
        "%s{'meter':'M','element':'A','start':'2025-01-01T00:00:00Z','end':'2025-06-01T00:00:00Z'},"
        "{'meter':'M','element':'A','start':'2025-06-01T00:00:00Z'},"
        "{'meter':'N','element':'A','start':'2025-01-01T00:00:00Z'}]}]}",
        head);
    clean(doc);
    ck_assert_uint_eq(topo.circuits[0].mapping_count, 3);
    snprintf(doc, sizeof doc,
             "%s{'meter':'M','element':'A','start':'2025-01-01T00:00:00Z'},"
             "{'meter':'M','element':'A','start':'2025-06-01T00:00:00Z','end':'2025-07-01T00:00:"
             "00Z'}]}]}",
             head);
    only(doc, "circuits[0].registers[1]: overlaps registers[0], the same register (M A)");
    snprintf(
        doc, sizeof doc,
        "%s{'meter':'M','element':'B','start':'2025-03-01T00:00:00Z','end':'2025-06-01T00:00:00Z'},"
        "{'meter':'M','element':'B','start':'2025-01-01T00:00:00Z','end':'2025-03-01T00:00:01Z'}]}]"
        "}",
        head);
    only(doc, "circuits[0].registers[1]: overlaps registers[0], the same register (M B)");
    snprintf(doc, sizeof doc,
             "%s{'meter':'M','element':'A','start':'2025-01-01T00:00:00Z'},"
             "{'meter':'M','element':'A','start':'2025-01-01T00:00:00Z'}]}]}",
             head);
    only(doc, "circuits[0].registers[1]: overlaps registers[0], the same register (M A)");
    only("{'circuits':[{'name':'C','type':'heat','registers':'M'}]}",
         "circuits[0].registers: must be an array, got 'M'");
}
END_TEST

START_TEST(ids)
{
    clean("{'escos':[{'id':'2B1F6C0E-7D4A-4E8B-9C1D-3F5A7B9E0A11','code':'A'}],"
          "'sites':[{'id':'2b1f6c0e-7d4a-4e8b-9c1d-3f5a7b9e0a11','name':'S'}]}");
    ck_assert_str_eq(topo.escos[0].id, "2b1f6c0e-7d4a-4e8b-9c1d-3f5a7b9e0a11");
    ck_assert_str_eq(topo.sites[0].id, "2b1f6c0e-7d4a-4e8b-9c1d-3f5a7b9e0a11");
    only("{'meters':[{'id':'2b1f6c0e','serial':'M'}]}",
         "meters[0].id: must be a UUID (8-4-4-4-12 hex digits), got '2b1f6c0e'");
    ck_assert_str_eq(topo.meters[0].id, "");
    only("{'meters':[{'id':'2b1f6c0e-7d4a-4e8b-9c1d-3f5a7b9e0a1g','serial':'M'}]}",
         "meters[0].id: must be a UUID (8-4-4-4-12 hex digits), got "
         "'2b1f6c0e-7d4a-4e8b-9c1d-3f5a7b9e0a1g'");
    only("{'circuits':[{'id':7,'name':'C','type':'power'}]}",
         "circuits[0].id: must be a UUID (8-4-4-4-12 hex digits), got 7");
    only("{'meters':[{'serial':'M','registers':[{'element':'A','id':'2b1f6c0e-7d4a-4e8b-9c1d-"
         "3f5a7b9e0a11'},"
         "{'element':'B','id':'2b1f6c0e-7d4a-4e8b-9c1d-3f5a7b9e0a11'}]}]}",
         "meters[0].registers[1].id: '2b1f6c0e-7d4a-4e8b-9c1d-3f5a7b9e0a11' is already the id of "
         "an earlier entry");
    only("{'feeders':[{'name':'F1','id':'2b1f6c0e-7d4a-4e8b-9c1d-3f5a7b9e0a11'},"
         "{'name':'F2','id':'2B1F6C0E-7D4A-4E8B-9C1D-3F5A7B9E0A11'}]}",
         "feeders[1].id: '2b1f6c0e-7d4a-4e8b-9c1d-3f5a7b9e0a11' is already the id of an earlier "
         "entry");
    ck_assert_uint_eq(topo.feeder_count, 2);
    ck_assert_str_eq(topo.feeders[1].id, "");
}
END_TEST

START_TEST(uuid_shape)
{
    ck_assert(registry_uuid_valid("00000000-0000-0000-0000-000000000000"));
    ck_assert(registry_uuid_valid("abcdefAB-CDEF-0123-4567-89abcdef0123"));
    ck_assert(!registry_uuid_valid(""));
    ck_assert(!registry_uuid_valid("00000000-0000-0000-0000-00000000000"));
    ck_assert(!registry_uuid_valid("00000000-0000-0000-0000-0000000000000"));
    ck_assert(!registry_uuid_valid("00000000+0000-0000-0000-000000000000"));
    ck_assert(!registry_uuid_valid("{0000000-0000-0000-0000-000000000000"));
}
END_TEST

START_TEST(duplicate_natural_keys)
{
    only("{'escos':[{'code':'A','name':'one'},{'code':'A','name':'two'}]}",
         "escos[1].code: 'A' is already used by an earlier entry");
    ck_assert_uint_eq(topo.esco_count, 1);
    ck_assert_str_eq(topo.escos[0].name, "one");
    only("{'sites':[{'name':'S'},{'name':'S'}]}",
         "sites[1].name: 'S' is already used by an earlier entry");
    only("{'feeders':[{'name':'F'},{'name':'F'}]}",
         "feeders[1].name: 'F' is already used by an earlier entry");
    only("{'service_heads':[{'name':'H'},{'name':'H'}]}",
         "service_heads[1].name: 'H' is already used by an earlier entry");
    only("{'properties':[{'plot':'P'},{'plot':'P'}]}",
         "properties[1].plot: 'P' is already used by an earlier entry");
    only("{'meters':[{'serial':'M'},{'serial':'N'},{'serial':'M'}]}",
         "meters[2].serial: 'M' is already used by an earlier entry");
    only("{'circuits':[{'name':'C','type':'heat'},{'name':'C','type':'power'}]}",
         "circuits[1].name: 'C' is already used by an earlier entry");
    /* Keys are per kind: a site and a feeder may share a name. */
    clean("{'sites':[{'name':'X'}],'feeders':[{'name':'X'}],'service_heads':[{'name':'X'}]}");
}
END_TEST

START_TEST(property_service_heads)
{
    only("{'properties':[{'plot':'P','service_heads':'SH1'}]}",
         "properties[0].service_heads: must be an array, got 'SH1'");
    only("{'properties':[{'plot':'P','service_heads':['SH1',2]}]}",
         "properties[0].service_heads[1]: must be a string, got 2");
    ck_assert_uint_eq(topo.properties[0].service_head_count, 1);
    only("{'properties':[{'plot':'P','service_heads':['SH1','SH2','SH1']}]}",
         "properties[0].service_heads[2]: 'SH1' is listed more than once");
    ck_assert_uint_eq(topo.properties[0].service_head_count, 2);
}
END_TEST

/* One file, many problems: every one is listed, with its location, in one run, and what is
 * sound is kept. */
START_TEST(every_problem_is_listed)
{
    static const char *const expected[] = {
        "document: unknown member 'extra'",
        "escos[1].code: 'WLCE' is already used by an earlier entry",
        "escos[2].code: is required",
        "sites[0].capacity_kw: must be a number of at least 0 and at most 1e+06, got 'big'",
        "service_heads[0].phase: must be 1 or 3, got 2",
        "meters[0].mode: must be active or passive, got 'sleepy'",
        "meters[0].registers[1].element: a SINGLE meter has only a SINGLE register, got 'A' "
        "beside 'SINGLE' (registers[0])",
        "meters[1].registers[1].element: must be A, B or SINGLE, got 'C'",
        "meters[2].serial: must be 1 to 64 of A-Z a-z 0-9 _ -, got 'bad serial'",
        "circuits[0].type: must be power, heat or solar, got 'steam'",
        "circuits[1].id: must be a UUID (8-4-4-4-12 hex digits), got 'nope'",
        "circuits[1].registers[0].end: must be after start (2025-01-01T00:00:00Z), got "
        "'2024-01-01T00:00:00Z'",
    };
    int rc = q("{'escos':[{'code':'WLCE'},{'code':'WLCE'},{'name':'x'}],"
               "'sites':[{'name':'S','esco':'WLCE','capacity_kw':'big'}],"
               "'service_heads':[{'name':'H','phase':2}],"
               "'meters':[{'serial':'M1','mode':'sleepy','esco':'NOWHERE',"
               "'registers':[{'element':'SINGLE'},{'element':'A'}]},"
               "{'serial':'M2','registers':[{'element':'A'},{'element':'C'}]},"
               "{'serial':'bad serial'}],"
               "'circuits':[{'name':'C1','type':'steam'},"
               "{'id':'nope','name':'C2','type':'power','registers':[{'meter':'M2','element':'A',"
               "'start':'2025-01-01T00:00:00Z','end':'2024-01-01T00:00:00Z'},"
               "{'meter':'M2','element':'A','start':'2025-01-01T00:00:00Z'}]}],"
               "'extra':true}");
    ck_assert_int_eq(rc, -1);
    size_t n = sizeof expected / sizeof expected[0];
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(has(expected[i]), "missing: %s", expected[i]);
    if (problems.count != n)
        dump();
    ck_assert_uint_eq(problems.count, n);

    /* Kept: entities with a good key, minus their bad members (references are the store's). */
    ck_assert_uint_eq(topo.esco_count, 1);
    ck_assert_uint_eq(topo.site_count, 1);
    ck_assert(!topo.sites[0].has_capacity_kw);
    ck_assert_uint_eq(topo.service_head_count, 1);
    ck_assert_uint_eq(topo.meter_count, 2);
    ck_assert_str_eq(topo.meters[0].esco, "NOWHERE");
    ck_assert_uint_eq(topo.meters[0].register_count, 1);
    ck_assert_uint_eq(topo.meters[1].register_count, 1);
    ck_assert_uint_eq(topo.meters[1].at, 1);
    ck_assert_uint_eq(topo.circuit_count, 1);
    ck_assert_uint_eq(topo.circuits[0].at, 1);
    ck_assert_uint_eq(topo.circuits[0].mapping_count, 1);
    ck_assert_uint_eq(topo.circuits[0].mappings[0].at, 1);
    size_t i;
    ck_assert(registry_find(&topo, REGISTRY_METERS, "M2", &i) && i == 1);
    ck_assert(!registry_find(&topo, REGISTRY_METERS, "bad serial", &i));
    ck_assert(registry_find(&topo, REGISTRY_CIRCUITS, "C2", &i) && i == 0);
    ck_assert(!registry_find(&topo, REGISTRY_CIRCUITS, "C1", &i));
}
END_TEST

/* ---- Lookups and bookkeeping --------------------------------------------------------------- */

START_TEST(lookups)
{
    clean("{'escos':[{'code':'A'},{'code':'B'}],'meters':[{'serial':'M',"
          "'registers':[{'element':'B'},{'element':'A'}]}]}");
    size_t i = 99;
    ck_assert(registry_find(&topo, REGISTRY_ESCOS, "B", &i));
    ck_assert_uint_eq(i, 1);
    ck_assert(!registry_find(&topo, REGISTRY_ESCOS, "C", &i));
    ck_assert(!registry_find(&topo, REGISTRY_SITES, "A", &i));
    ck_assert(!registry_find(&topo, REGISTRY_ESCOS, NULL, &i));
    ck_assert(!registry_find(&topo, REGISTRY_KIND_COUNT, "A", &i));
    const struct registry_meter *m = &topo.meters[0];
    ck_assert_ptr_eq(registry_meter_register(m, "A"), &m->registers[1]);
    ck_assert_ptr_null(registry_meter_register(m, "SINGLE"));
    ck_assert_str_eq(registry_kind_name(REGISTRY_ESCOS), "escos");
    ck_assert_str_eq(registry_kind_name(REGISTRY_SERVICE_HEADS), "service_heads");
    ck_assert_str_eq(registry_kind_name(REGISTRY_CIRCUIT_REGISTERS), "circuit_registers");
    ck_assert_str_eq(registry_kind_name(REGISTRY_KIND_COUNT), "?");
}
END_TEST

START_TEST(problem_list_grows_and_frees)
{
    struct registry_problems p;
    registry_problems_init(&p);
    ck_assert(!registry_problems_any(&p));
    for (int i = 0; i < 100; i++)
        ck_assert_int_eq(registry_problems_add(&p, "problem %d", i), 0);
    ck_assert_uint_eq(p.count, 100);
    ck_assert_str_eq(p.items[99], "problem 99");
    ck_assert(registry_problems_any(&p));
    registry_problems_free(&p);
    ck_assert_uint_eq(p.count, 0);
    registry_problems_free(&p);
    p.out_of_memory = true;
    ck_assert(registry_problems_any(&p));

    /* A problem list may arrive non-empty: parse reports only on its own. */
    struct registry_problems earlier;
    registry_problems_init(&earlier);
    ck_assert_int_eq(registry_problems_add(&earlier, "before"), 0);
    ck_assert_int_eq(registry_parse("{}", 2, &topo, &earlier), 0);
    ck_assert_uint_eq(earlier.count, 1);
    registry_problems_free(&earlier);
    registry_topology_free(&topo);
    registry_topology_free(&topo);
}
END_TEST

static Suite *registry_suite(void)
{
    Suite *s = suite_create("registry");
    TCase *tc = tcase_create("core");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, example_topology_is_valid);
    tcase_add_test(tc, empty_documents_are_fine);
    tcase_add_test(tc, members_are_read);
    tcase_add_test(tc, optional_members_left_out_or_null);
    tcase_add_test(tc, document_must_be_a_json_object);
    tcase_add_test(tc, unknown_and_repeated_members);
    tcase_add_test(tc, required_members);
    tcase_add_test(tc, text_members);
    tcase_add_test(tc, long_values_are_cut_in_messages);
    tcase_add_test(tc, meter_serial);
    tcase_add_test(tc, register_element);
    tcase_add_test(tc, single_meter_has_only_a_single_register);
    tcase_add_test(tc, no_duplicate_element_per_meter);
    tcase_add_test(tc, meter_mode_and_flags);
    tcase_add_test(tc, service_head_phase);
    tcase_add_test(tc, circuit_type);
    tcase_add_test(tc, numbers);
    tcase_add_test(tc, mapping_times);
    tcase_add_test(tc, mappings_must_not_overlap);
    tcase_add_test(tc, ids);
    tcase_add_test(tc, uuid_shape);
    tcase_add_test(tc, duplicate_natural_keys);
    tcase_add_test(tc, property_service_heads);
    tcase_add_test(tc, every_problem_is_listed);
    tcase_add_test(tc, lookups);
    tcase_add_test(tc, problem_list_grows_and_frees);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(registry_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
