/* check_shadow.c — unit tests of shadow documents (SPEC §4): merge, metadata, delta, limits.
 *
 * JSON in the tests is written with single quotes (J("{'a':1}")) and turned into real JSON by
 * the helpers. Every tree a test builds is kept in an arena freed by the fixture, so the tests
 * stay leak-free under AddressSanitizer. Times: T0 is 2026-11-28T08:30:00Z. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>
#include <cjson/cJSON.h>

#include "shadow.h"

#define T0 INT64_C(1795854600)
#define T0_ISO "2026-11-28T08:30:00Z"
#define T30_ISO "2026-11-28T08:30:30Z"
#define T60_ISO "2026-11-28T08:31:00Z"
#define T120_ISO "2026-11-28T08:32:00Z"

/* ---- helpers ---- */

static cJSON *arena[512];
static size_t arena_len;
static char *printed[128];
static size_t printed_len;
static struct shadow_doc doc;

static void setup(void)
{
    arena_len = 0;
    printed_len = 0;
    shadow_doc_init(&doc);
}

static void teardown(void)
{
    while (arena_len > 0)
        cJSON_Delete(arena[--arena_len]);
    while (printed_len > 0)
        cJSON_free(printed[--printed_len]);
    shadow_doc_clear(&doc);
}

static cJSON *keep(cJSON *item)
{
    ck_assert_uint_lt(arena_len, sizeof arena / sizeof arena[0]);
    arena[arena_len++] = item;
    return item;
}

/* Single quotes become double quotes; the text must parse. */
static char *quote(const char *text)
{
    size_t len = strlen(text);
    char *s = malloc(len + 1);
    ck_assert_ptr_nonnull(s);
    memcpy(s, text, len + 1);
    for (char *p = s; *p; p++)
        if (*p == '\'')
            *p = '"';
    return s;
}

static cJSON *J(const char *text)
{
    char *s = quote(text);
    cJSON *item = cJSON_Parse(s);
    ck_assert_msg(item != NULL, "test JSON does not parse: %s", s);
    free(s);
    return keep(item);
}

/* Printed compact JSON, kept for the whole test. */
static const char *P(const cJSON *item)
{
    if (item == NULL)
        return "(NULL)";
    ck_assert_uint_lt(printed_len, sizeof printed / sizeof printed[0]);
    char *s = cJSON_PrintUnformatted(item);
    ck_assert_ptr_nonnull(s);
    printed[printed_len++] = s;
    return s;
}

#define ck_assert_json(got, expected)                                                              \
    do {                                                                                           \
        const cJSON *got_ = (got);                                                                 \
        ck_assert_msg(got_ != NULL, "%s is NULL, expected %s", #got, expected);                    \
        const cJSON *exp_ = J(expected);                                                           \
        ck_assert_msg(json_equal(got_, exp_), "%s = %s, expected %s", #got, P(got_), P(exp_));     \
    } while (0)

/* Compact JSON with exact key order, for the stored form. */
#define ck_assert_printed(got, expected)                                                           \
    do {                                                                                           \
        char *exp_ = quote(expected);                                                              \
        ck_assert_str_eq(P(got), exp_);                                                            \
        free(exp_);                                                                                \
    } while (0)

/* Applies a patch (single-quoted JSON) and returns *changed; the call must succeed. */
static bool apply_at(enum shadow_section s, const char *patch, int64_t ts, bool ordered)
{
    bool changed = true;
    ck_assert_int_eq(shadow_apply(&doc, s, J(patch), ts, ordered, &changed), 0);
    /* The invariant of shadow.h: metadata is NULL exactly when state is, no empty section. */
    for (int i = 0; i < 2; i++) {
        ck_assert((doc.state[i] == NULL) == (doc.meta[i] == NULL));
        if (doc.state[i] != NULL)
            ck_assert_ptr_nonnull(doc.state[i]->child);
    }
    return changed;
}

static bool report(const char *patch, int64_t ts)
{
    return apply_at(SHADOW_REPORTED, patch, ts, true);
}

static bool desire(const char *patch, int64_t ts)
{
    return apply_at(SHADOW_DESIRED, patch, ts, false);
}

static cJSON *delta(void)
{
    cJSON *d = shadow_delta(doc.state[SHADOW_DESIRED], doc.state[SHADOW_REPORTED]);
    return d != NULL ? keep(d) : NULL;
}

static const char *check(const char *patch, int max_depth)
{
    static struct api_error err;
    memset(&err, 0, sizeof err);
    if (shadow_check_patch(J(patch), max_depth, &err) == 0) {
        ck_assert_int_eq(err.code, 0);
        return NULL;
    }
    ck_assert_int_eq(err.code, 400);
    return err.message;
}

/* {"a1":{"a2":…{"aN":1}…}}: a leaf at depth n. */
static const char *nested_objects(int n)
{
    static char buf[512];
    size_t len = 0;
    for (int i = 1; i <= n; i++)
        len += (size_t)snprintf(buf + len, sizeof buf - len, "{'a%d':", i);
    len += (size_t)snprintf(buf + len, sizeof buf - len, "1");
    for (int i = 1; i <= n; i++)
        len += (size_t)snprintf(buf + len, sizeof buf - len, "}");
    return buf;
}

/* {"a":[[…[1]…]]}: the key plus n-1 array levels, a leaf at depth n. */
static const char *nested_arrays(int n)
{
    static char buf[512];
    size_t len = (size_t)snprintf(buf, sizeof buf, "{'a':");
    for (int i = 1; i < n; i++)
        len += (size_t)snprintf(buf + len, sizeof buf - len, "[");
    len += (size_t)snprintf(buf + len, sizeof buf - len, "1");
    for (int i = 1; i < n; i++)
        len += (size_t)snprintf(buf + len, sizeof buf - len, "]");
    snprintf(buf + len, sizeof buf - len, "}");
    return buf;
}

/* ---- json_equal ---- */

START_TEST(equal_numbers_by_value)
{
    ck_assert(json_equal(J("1"), J("1.0")));
    ck_assert(json_equal(J("100"), J("1e2")));
    ck_assert(json_equal(J("0.1"), J("0.10")));
    ck_assert(json_equal(J("0"), J("-0")));
    ck_assert(!json_equal(J("1"), J("2")));
    /* cJSON_Compare would call these equal (epsilon); the SPEC compares values. */
    ck_assert(!json_equal(J("1"), J("1.0000000000000002")));
    ck_assert(!json_equal(J("1"), J("'1'")));
}
END_TEST

START_TEST(equal_strings_byte_for_byte)
{
    ck_assert(json_equal(J("'abc'"), J("'abc'")));
    ck_assert(!json_equal(J("'abc'"), J("'ABC'")));
    ck_assert(!json_equal(J("'abc'"), J("'abc '")));
    ck_assert(json_equal(J("'\\u00e9'"), J("'\xc3\xa9'"))); /* escapes decode to the same bytes */
    ck_assert(!json_equal(J("'e'"), J("'\xc3\xa9'")));
}
END_TEST

START_TEST(equal_objects_as_key_sets)
{
    ck_assert(json_equal(J("{'a':1,'b':{'c':2,'d':3}}"), J("{'b':{'d':3,'c':2.0},'a':1}")));
    ck_assert(!json_equal(J("{'a':1}"), J("{'a':1,'b':2}")));
    ck_assert(!json_equal(J("{'a':1,'b':2}"), J("{'a':1}")));
    ck_assert(!json_equal(J("{'a':1}"), J("{'A':1}")));
    ck_assert(json_equal(J("{}"), J("{}")));
    /* duplicate keys (kept by cJSON's parser) do not fool the comparison either way */
    ck_assert(!json_equal(J("{'a':1,'a':2}"), J("{'a':1,'b':3}")));
    ck_assert(!json_equal(J("{'a':1,'b':3}"), J("{'a':1,'a':2}")));
}
END_TEST

START_TEST(equal_arrays_in_order)
{
    ck_assert(json_equal(J("[1,'x',[true],{'a':null}]"), J("[1.0,'x',[true],{'a':null}]")));
    ck_assert(!json_equal(J("[1,2]"), J("[2,1]")));
    ck_assert(!json_equal(J("[1,2]"), J("[1,2,3]")));
    ck_assert(!json_equal(J("[1,2,3]"), J("[1,2]")));
    ck_assert(json_equal(J("[]"), J("[]")));
    ck_assert(!json_equal(J("[]"), J("{}")));
}
END_TEST

START_TEST(equal_literals_by_type)
{
    ck_assert(json_equal(J("true"), J("true")));
    ck_assert(json_equal(J("false"), J("false")));
    ck_assert(json_equal(J("null"), J("null")));
    ck_assert(!json_equal(J("true"), J("false")));
    ck_assert(!json_equal(J("true"), J("1")));
    ck_assert(!json_equal(J("false"), J("null")));
    ck_assert(!json_equal(J("null"), J("0")));
    ck_assert(json_equal(NULL, NULL));
    ck_assert(!json_equal(J("null"), NULL));
    ck_assert(!json_equal(NULL, J("1")));
}
END_TEST

/* ---- delta (§4.3) ---- */

START_TEST(delta_desired_against_reported)
{
    ck_assert_json(keep(shadow_delta(J("{'color':'red'}"), J("{'color':'green'}"))),
                   "{'color':'red'}");
    /* missing from reported, or no reported section at all, counts as different */
    ck_assert_json(keep(shadow_delta(J("{'color':'red','on':true}"), J("{'on':true}"))),
                   "{'color':'red'}");
    ck_assert_json(keep(shadow_delta(J("{'color':'red'}"), NULL)), "{'color':'red'}");
    /* reported-only keys never appear */
    ck_assert_json(keep(shadow_delta(J("{'a':1}"), J("{'a':2,'extra':3,'o':{'x':1}}"))), "{'a':1}");
    ck_assert_ptr_null(shadow_delta(J("{'a':1}"), J("{'a':1,'extra':3}")));
    ck_assert_ptr_null(shadow_delta(NULL, J("{'a':1}")));
    ck_assert_ptr_null(shadow_delta(NULL, NULL));
}
END_TEST

START_TEST(delta_nested_leaf_keeps_path)
{
    ck_assert_json(
        keep(shadow_delta(J("{'lights':{'color':'red','on':true},'fan':{'speed':2}}"),
                          J("{'lights':{'color':'green','on':true},'fan':{'speed':2}}"))),
        "{'lights':{'color':'red'}}");
    ck_assert_json(keep(shadow_delta(J("{'a':{'b':{'c':1,'d':2}}}"), J("{'a':{'b':{'c':1}}}"))),
                   "{'a':{'b':{'d':2}}}");
    /* an object against a non-object is different as a whole */
    ck_assert_json(keep(shadow_delta(J("{'a':{'b':1}}"), J("{'a':5}"))), "{'a':{'b':1}}");
    ck_assert_json(keep(shadow_delta(J("{'a':5}"), J("{'a':{'b':1}}"))), "{'a':5}");
}
END_TEST

START_TEST(delta_arrays_compare_whole)
{
    ck_assert_json(keep(shadow_delta(J("{'a':[1,2,3]}"), J("{'a':[1,2]}"))), "{'a':[1,2,3]}");
    ck_assert_json(keep(shadow_delta(J("{'a':[1,2]}"), J("{'a':[2,1]}"))), "{'a':[1,2]}");
    ck_assert_json(keep(shadow_delta(J("{'a':[{'x':1},{'y':2}]}"), J("{'a':[{'x':1},{'y':3}]}"))),
                   "{'a':[{'x':1},{'y':2}]}");
    ck_assert_ptr_null(shadow_delta(J("{'a':[1,{'x':[2]}]}"), J("{'a':[1.0,{'x':[2.0]}]}")));
}
END_TEST

START_TEST(delta_numbers_by_value)
{
    ck_assert_ptr_null(shadow_delta(J("{'x':1,'y':{'z':2.50}}"), J("{'x':1.0,'y':{'z':2.5}}")));
    ck_assert_json(keep(shadow_delta(J("{'x':1}"), J("{'x':'1'}"))), "{'x':1}");
}
END_TEST

/* ---- the AWS IoT Device Shadow documentation's walk-through ---- */

START_TEST(aws_create_via_reported)
{
    ck_assert(report("{'color':'green'}", T0));
    ck_assert_json(doc.state[SHADOW_REPORTED], "{'color':'green'}");
    ck_assert_json(doc.meta[SHADOW_REPORTED], "{'color':{'timestamp':'" T0_ISO "'}}");
    ck_assert_ptr_null(doc.state[SHADOW_DESIRED]);
    ck_assert_ptr_null(doc.meta[SHADOW_DESIRED]);
    ck_assert_ptr_null(delta());
}
END_TEST

START_TEST(aws_desired_then_delta)
{
    report("{'color':'green'}", T0);
    ck_assert(desire("{'color':'red'}", T0 + 60));
    ck_assert_json(delta(), "{'color':'red'}");
    cJSON *got = keep(shadow_doc_to_json(&doc, true));
    ck_assert_json(cJSON_GetObjectItem(got, "state"),
                   "{'desired':{'color':'red'},'reported':{'color':'green'},"
                   "'delta':{'color':'red'}}");
    ck_assert_json(cJSON_GetObjectItem(got, "metadata"),
                   "{'desired':{'color':{'timestamp':'" T60_ISO "'}},"
                   "'reported':{'color':{'timestamp':'" T0_ISO "'}}}");
    /* delta is never stored */
    cJSON *stored = keep(shadow_doc_to_json(&doc, false));
    ck_assert_ptr_null(cJSON_GetObjectItem(cJSON_GetObjectItem(stored, "state"), "delta"));
}
END_TEST

START_TEST(aws_report_matching_desired_empties_delta)
{
    report("{'color':'green'}", T0);
    desire("{'color':'red'}", T0 + 60);
    ck_assert(report("{'color':'red'}", T0 + 120));
    ck_assert_ptr_null(delta());
    cJSON *got = keep(shadow_doc_to_json(&doc, true));
    ck_assert_ptr_null(cJSON_GetObjectItem(cJSON_GetObjectItem(got, "state"), "delta"));
    ck_assert_ptr_null(cJSON_GetObjectItem(cJSON_GetObjectItem(got, "metadata"), "delta"));
}
END_TEST

START_TEST(aws_nested_delta_with_path)
{
    report("{'lights':{'color':'green','on':true},'temp':21}", T0);
    desire("{'lights':{'color':'red','on':true}}", T0);
    ck_assert_json(delta(), "{'lights':{'color':'red'}}");
    desire("{'lights':{'on':false}}", T0);
    ck_assert_json(delta(), "{'lights':{'color':'red','on':false}}");
}
END_TEST

START_TEST(aws_arrays_replace_whole)
{
    ck_assert(report("{'colors':['red','green','blue'],'keep':1}", T0));
    ck_assert(report("{'colors':['white']}", T0 + 60));
    ck_assert_json(doc.state[SHADOW_REPORTED], "{'colors':['white'],'keep':1}");
    ck_assert_json(doc.meta[SHADOW_REPORTED], "{'colors':[{'timestamp':'" T60_ISO "'}],"
                                              "'keep':{'timestamp':'" T0_ISO "'}}");
    /* an array never merges with an object, nor an object with an array */
    ck_assert(report("{'colors':{'0':'x'}}", T0 + 60));
    ck_assert_json(doc.state[SHADOW_REPORTED], "{'colors':{'0':'x'},'keep':1}");
    ck_assert(report("{'colors':[]}", T0 + 60));
    ck_assert_json(doc.state[SHADOW_REPORTED], "{'colors':[],'keep':1}");
    ck_assert_json(doc.meta[SHADOW_REPORTED], "{'colors':[],'keep':{'timestamp':'" T0_ISO "'}}");
}
END_TEST

START_TEST(aws_numbers_one_and_one_point_zero)
{
    report("{'level':1}", T0);
    ck_assert(!report("{'level':1.0}", T0 + 60)); /* equal: no change */
    desire("{'level':1.0}", T0);
    ck_assert_ptr_null(delta());
}
END_TEST

START_TEST(aws_null_deletes_leaf)
{
    report("{'a':1,'b':2}", T0);
    ck_assert(report("{'a':null}", T0 + 60));
    ck_assert_json(doc.state[SHADOW_REPORTED], "{'b':2}");
    ck_assert_json(doc.meta[SHADOW_REPORTED], "{'b':{'timestamp':'" T0_ISO "'}}");
    /* null for an absent key changes nothing */
    ck_assert(!report("{'a':null,'zz':{'y':null}}", T0 + 60));
    ck_assert_json(doc.state[SHADOW_REPORTED], "{'b':2}");
    /* null deletes a whole object, metadata included */
    report("{'o':{'x':1,'y':{'z':2}}}", T0 + 60);
    ck_assert(report("{'o':null}", T0 + 60));
    ck_assert_json(doc.state[SHADOW_REPORTED], "{'b':2}");
    ck_assert_json(doc.meta[SHADOW_REPORTED], "{'b':{'timestamp':'" T0_ISO "'}}");
}
END_TEST

START_TEST(aws_deleting_all_leaves_removes_object)
{
    report("{'lights':{'color':'red','on':true},'fan':1}", T0);
    ck_assert(report("{'lights':{'color':null}}", T0));
    ck_assert_json(doc.state[SHADOW_REPORTED], "{'lights':{'on':true},'fan':1}");
    ck_assert(report("{'lights':{'on':null}}", T0));
    ck_assert_json(doc.state[SHADOW_REPORTED], "{'fan':1}");
    ck_assert_json(doc.meta[SHADOW_REPORTED], "{'fan':{'timestamp':'" T0_ISO "'}}");
    /* deep: emptied parents go too, and an emptied section becomes absent */
    report("{'a':{'b':{'c':1}}}", T0);
    ck_assert(report("{'a':{'b':{'c':null}},'fan':null}", T0));
    ck_assert_ptr_null(doc.state[SHADOW_REPORTED]);
    ck_assert_ptr_null(doc.meta[SHADOW_REPORTED]);
}
END_TEST

START_TEST(aws_state_null_drops_section)
{
    report("{'a':1}", T0);
    desire("{'a':2}", T0);
    bool changed = false;
    ck_assert_int_eq(shadow_apply(&doc, SHADOW_DESIRED, J("null"), T0, false, &changed), 0);
    ck_assert(changed);
    ck_assert_ptr_null(doc.state[SHADOW_DESIRED]);
    ck_assert_ptr_null(doc.meta[SHADOW_DESIRED]);
    ck_assert_json(doc.state[SHADOW_REPORTED], "{'a':1}");
    /* again: nothing to drop, no change */
    ck_assert_int_eq(shadow_apply(&doc, SHADOW_DESIRED, J("null"), T0, false, &changed), 0);
    ck_assert(!changed);
    /* shadow_apply never touches version, timestamp or exists */
    doc.version = 5;
    doc.timestamp = T0;
    doc.exists = true;
    ck_assert_int_eq(shadow_apply(&doc, SHADOW_REPORTED, J("null"), T0, true, &changed), 0);
    ck_assert(changed);
    ck_assert_ptr_null(doc.state[SHADOW_REPORTED]);
    ck_assert_int_eq(doc.version, 5);
    ck_assert_int_eq(doc.timestamp, T0);
    ck_assert(doc.exists);
}
END_TEST

START_TEST(aws_equal_rereport_refreshes_metadata)
{
    report("{'a':1,'arr':[1,2],'o':{'x':'y'}}", T0);
    ck_assert(!report("{'a':1.0,'arr':[1,2],'o':{'x':'y'}}", T0 + 60));
    ck_assert_json(doc.state[SHADOW_REPORTED], "{'a':1,'arr':[1,2],'o':{'x':'y'}}");
    ck_assert_json(doc.meta[SHADOW_REPORTED],
                   "{'a':{'timestamp':'" T60_ISO "'},"
                   "'arr':[{'timestamp':'" T60_ISO "'},{'timestamp':'" T60_ISO "'}],"
                   "'o':{'x':{'timestamp':'" T60_ISO "'}}}");
}
END_TEST

/* ---- merge rules (§4.2) ---- */

START_TEST(merge_objects_key_by_key)
{
    ck_assert(desire("{'a':{'x':1}}", T0));
    ck_assert(desire("{'a':{'y':2},'b':true}", T0 + 60));
    ck_assert_json(doc.state[SHADOW_DESIRED], "{'a':{'x':1,'y':2},'b':true}");
    ck_assert_json(doc.meta[SHADOW_DESIRED], "{'a':{'x':{'timestamp':'" T0_ISO "'},"
                                             "'y':{'timestamp':'" T60_ISO "'}},"
                                             "'b':{'timestamp':'" T60_ISO "'}}");
}
END_TEST

START_TEST(merge_object_and_scalar_replace_each_other)
{
    report("{'a':5}", T0);
    ck_assert(report("{'a':{'b':1}}", T0));
    ck_assert_json(doc.state[SHADOW_REPORTED], "{'a':{'b':1}}");
    ck_assert_json(doc.meta[SHADOW_REPORTED], "{'a':{'b':{'timestamp':'" T0_ISO "'}}}");
    ck_assert(report("{'a':'text'}", T0));
    ck_assert_json(doc.state[SHADOW_REPORTED], "{'a':'text'}");
    ck_assert_json(doc.meta[SHADOW_REPORTED], "{'a':{'timestamp':'" T0_ISO "'}}");
    ck_assert(report("{'a':false}", T0));
    ck_assert_json(doc.state[SHADOW_REPORTED], "{'a':false}");
}
END_TEST

START_TEST(merge_empty_objects_add_nothing)
{
    ck_assert(!report("{'a':{}}", T0));
    ck_assert_ptr_null(doc.state[SHADOW_REPORTED]);
    ck_assert(!report("{'a':{'b':{}},'c':{'d':null}}", T0));
    ck_assert_ptr_null(doc.state[SHADOW_REPORTED]);
    ck_assert(!report("{}", T0));
    ck_assert_ptr_null(doc.state[SHADOW_REPORTED]);
    report("{'a':5,'o':{'x':1}}", T0);
    /* nor do they replace or remove what is there */
    ck_assert(!report("{'a':{},'o':{}}", T0 + 60));
    ck_assert(!report("{'a':{'q':null}}", T0 + 60));
    ck_assert_json(doc.state[SHADOW_REPORTED], "{'a':5,'o':{'x':1}}");
    ck_assert_json(doc.meta[SHADOW_REPORTED],
                   "{'a':{'timestamp':'" T0_ISO "'},'o':{'x':{'timestamp':'" T0_ISO "'}}}");
}
END_TEST

START_TEST(merge_key_named_timestamp)
{
    /* a state key "timestamp" mirrors to an object, never to a leaf's string */
    report("{'timestamp':{'timestamp':7},'x':{'timestamp':'2000-01-01T00:00:00Z'}}", T0 + 60);
    ck_assert_json(doc.meta[SHADOW_REPORTED],
                   "{'timestamp':{'timestamp':{'timestamp':'" T60_ISO "'}},"
                   "'x':{'timestamp':{'timestamp':'" T60_ISO "'}}}");
    /* the string value under x is not mistaken for metadata: x is newer than T0 */
    ck_assert(!report("{'x':null}", T0));
    ck_assert(report("{'x':null}", T0 + 60));
}
END_TEST

START_TEST(merge_replace_then_append_keeps_list_sound)
{
    /* replacing the last member and then appending must keep cJSON's sibling links sound */
    report("{'a':1,'b':2}", T0);
    report("{'b':3}", T0);
    report("{'c':4}", T0);
    report("{'a':{'n':1}}", T0);
    report("{'d':5}", T0);
    ck_assert_printed(doc.state[SHADOW_REPORTED], "{'a':{'n':1},'b':3,'c':4,'d':5}");
    ck_assert_json(doc.meta[SHADOW_REPORTED],
                   "{'a':{'n':{'timestamp':'" T0_ISO "'}},'b':{'timestamp':'" T0_ISO "'},"
                   "'c':{'timestamp':'" T0_ISO "'},'d':{'timestamp':'" T0_ISO "'}}");
}
END_TEST

START_TEST(apply_rejects_bad_patch)
{
    bool changed = true;
    report("{'a':1}", T0);
    ck_assert_int_eq(shadow_apply(&doc, SHADOW_REPORTED, J("[1]"), T0, true, &changed), -1);
    ck_assert_int_eq(shadow_apply(&doc, SHADOW_REPORTED, J("3"), T0, true, &changed), -1);
    ck_assert_int_eq(shadow_apply(&doc, SHADOW_REPORTED, NULL, T0, true, &changed), 0);
    ck_assert(!changed);
    ck_assert_int_eq(shadow_apply(&doc, SHADOW_REPORTED, J("{'b':2}"), T0, true, NULL), 0);
    ck_assert_json(doc.state[SHADOW_REPORTED], "{'a':1,'b':2}");
}
END_TEST

/* ---- out-of-order reports (§4.6) ---- */

START_TEST(ordered_older_report_does_not_move_back)
{
    report("{'v':2}", T0 + 60);
    ck_assert(!report("{'v':1}", T0));
    ck_assert_json(doc.state[SHADOW_REPORTED], "{'v':2}");
    ck_assert_json(doc.meta[SHADOW_REPORTED], "{'v':{'timestamp':'" T60_ISO "'}}");
    /* an equal older value does not refresh the metadata backwards either */
    ck_assert(!report("{'v':2}", T0));
    ck_assert_json(doc.meta[SHADOW_REPORTED], "{'v':{'timestamp':'" T60_ISO "'}}");
    /* nor does an older null delete it */
    ck_assert(!report("{'v':null}", T0));
    ck_assert_json(doc.state[SHADOW_REPORTED], "{'v':2}");
}
END_TEST

START_TEST(ordered_newer_report_applies)
{
    report("{'v':2}", T0 + 60);
    ck_assert(report("{'v':3}", T0 + 120));
    ck_assert_json(doc.state[SHADOW_REPORTED], "{'v':3}");
    ck_assert_json(doc.meta[SHADOW_REPORTED], "{'v':{'timestamp':'" T120_ISO "'}}");
}
END_TEST

START_TEST(ordered_older_report_new_key_applies)
{
    report("{'v':2}", T0 + 60);
    ck_assert(report("{'v':1,'w':9}", T0)); /* v stays, w is new */
    ck_assert_json(doc.state[SHADOW_REPORTED], "{'v':2,'w':9}");
    ck_assert_json(doc.meta[SHADOW_REPORTED],
                   "{'v':{'timestamp':'" T60_ISO "'},'w':{'timestamp':'" T0_ISO "'}}");
}
END_TEST

START_TEST(ordered_object_path_uses_newest_leaf)
{
    report("{'o':{'a':1}}", T0);
    report("{'o':{'b':{'c':2}}}", T0 + 60);
    /* at T0+30 the newest leaf under o (o.b.c, T0+60) is newer: null and scalar skipped */
    ck_assert(!report("{'o':null}", T0 + 30));
    ck_assert(!report("{'o':5}", T0 + 30));
    ck_assert(!report("{'o':[1]}", T0 + 30));
    ck_assert_json(doc.state[SHADOW_REPORTED], "{'o':{'a':1,'b':{'c':2}}}");
    /* a patch object merges leaf by leaf: o.a (T0) is older than T0+30, o.b.c is not */
    ck_assert(report("{'o':{'a':7,'b':{'c':8}}}", T0 + 30));
    ck_assert_json(doc.state[SHADOW_REPORTED], "{'o':{'a':7,'b':{'c':2}}}");
    ck_assert_json(doc.meta[SHADOW_REPORTED], "{'o':{'a':{'timestamp':'" T30_ISO "'},"
                                              "'b':{'c':{'timestamp':'" T60_ISO "'}}}}");
    /* an object patch over a newer scalar is skipped; over an older one it replaces */
    report("{'s':1}", T0 + 60);
    ck_assert(!report("{'s':{'x':1}}", T0 + 30));
    ck_assert_json(cJSON_GetObjectItem(doc.state[SHADOW_REPORTED], "s"), "1");
    ck_assert(report("{'s':{'x':1}}", T0 + 120));
    ck_assert_json(cJSON_GetObjectItem(doc.state[SHADOW_REPORTED], "s"), "{'x':1}");
    /* the whole section (state null) is the object path at the root */
    ck_assert(!report("null", T0 + 60));
    ck_assert_ptr_nonnull(doc.state[SHADOW_REPORTED]);
    ck_assert(report("null", T0 + 120));
    ck_assert_ptr_null(doc.state[SHADOW_REPORTED]);
}
END_TEST

START_TEST(ordered_ties_apply)
{
    report("{'v':1,'o':{'x':1}}", T0);
    ck_assert(report("{'v':2}", T0));
    ck_assert_json(doc.state[SHADOW_REPORTED], "{'v':2,'o':{'x':1}}");
    ck_assert(report("{'o':null}", T0));
    ck_assert_json(doc.state[SHADOW_REPORTED], "{'v':2}");
}
END_TEST

START_TEST(unordered_updates_ignore_time)
{
    desire("{'v':2}", T0 + 60);
    ck_assert(desire("{'v':1}", T0));
    ck_assert_json(doc.state[SHADOW_DESIRED], "{'v':1}");
    ck_assert_json(doc.meta[SHADOW_DESIRED], "{'v':{'timestamp':'" T0_ISO "'}}");
    ck_assert(apply_at(SHADOW_DESIRED, "null", T0 - 3600, false));
    ck_assert_ptr_null(doc.state[SHADOW_DESIRED]);
}
END_TEST

/* ---- structural checks (§4.3, §4.7) ---- */

START_TEST(check_top_level_delta_rejected)
{
    ck_assert_str_eq(check("{'delta':{'a':1}}", 8), "State contains an invalid node: 'delta'");
    ck_assert_str_eq(check("{'a':1,'delta':null}", 8), "State contains an invalid node: 'delta'");
    /* first in order: before depth and nulls in arrays */
    ck_assert_str_eq(check("{'x':[null],'y':{'z':1},'delta':1}", 1),
                     "State contains an invalid node: 'delta'");
    /* a nested key named delta is an ordinary key */
    ck_assert_ptr_null(check("{'a':{'delta':1},'b':[{'delta':2}]}", 8));
    ck_assert_ptr_null(check("{'Delta':1}", 8));
}
END_TEST

START_TEST(check_depth_exact_boundary)
{
    ck_assert_ptr_null(check("{'a':{'b':1}}", 2));
    ck_assert_str_eq(check("{'a':{'b':1}}", 1),
                     "JSON contains too many levels of nesting; maximum is 1");
    ck_assert_ptr_null(check(nested_objects(8), 8));
    ck_assert_str_eq(check(nested_objects(9), 8),
                     "JSON contains too many levels of nesting; maximum is 8");
    /* array indices count */
    ck_assert_ptr_null(check("{'a':[1]}", 2));
    ck_assert_str_eq(check("{'a':[1]}", 1),
                     "JSON contains too many levels of nesting; maximum is 1");
    ck_assert_ptr_null(check("{'a':[[1]]}", 3));
    ck_assert_ptr_nonnull(check("{'a':[[1]]}", 2));
    ck_assert_ptr_null(check(nested_arrays(8), 8));
    ck_assert_str_eq(check(nested_arrays(9), 8),
                     "JSON contains too many levels of nesting; maximum is 8");
    ck_assert_ptr_null(check("{'a':[{'b':[1]}]}", 4));
    ck_assert_ptr_nonnull(check("{'a':[{'b':[1]}]}", 3));
    /* the deepest leaf decides, wherever it is */
    ck_assert_ptr_null(check("{'x':1,'a':{'b':{'c':1}},'y':[1,[2]]}", 3));
    ck_assert_ptr_nonnull(check("{'x':1,'a':{'b':{'c':1}},'y':[1,[2,[3]]]}", 3));
    /* the same numbers the service's default uses */
    ck_assert_str_eq(check("{'a':{'b':{'c':{'d':{'e':{'f':{'g':{'h':[1]}}}}}}}}", 8),
                     "JSON contains too many levels of nesting; maximum is 8");
}
END_TEST

START_TEST(check_nulls_in_arrays_rejected)
{
    ck_assert_str_eq(check("{'a':[1,null]}", 8), "Arrays can't contain null values");
    ck_assert_str_eq(check("{'a':{'b':[null]}}", 8), "Arrays can't contain null values");
    ck_assert_str_eq(check("{'a':[[1],[2,null]]}", 8), "Arrays can't contain null values");
    ck_assert_str_eq(check("{'a':[{'b':null}]}", 8), "Arrays can't contain null values");
    /* nulls outside arrays are deletions */
    ck_assert_ptr_null(check("{'a':null,'b':{'c':null},'d':[1,{'e':2}],'f':[]}", 8));
}
END_TEST

START_TEST(check_depth_reported_before_nulls)
{
    /* the null comes first in the walk, the too-deep leaf later: depth wins */
    char patch[600];
    snprintf(patch, sizeof patch, "{'n':[null],'deep':%s}", nested_objects(9));
    ck_assert_str_eq(check(patch, 9), "JSON contains too many levels of nesting; maximum is 9");
    ck_assert_str_eq(check(patch, 10), "Arrays can't contain null values");
}
END_TEST

START_TEST(check_accepts_null_and_objects_only)
{
    ck_assert_ptr_null(check("null", 8));
    ck_assert_ptr_null(check("{}", 8));
    ck_assert_int_eq(shadow_check_patch(NULL, 8, NULL), 0);
    ck_assert_str_eq(check("[1]", 8), "State node must be an object");
    ck_assert_str_eq(check("'x'", 8), "State node must be an object");
}
END_TEST

/* ---- metadata of a request (§4.5) ---- */

START_TEST(patch_metadata_mirrors_request)
{
    cJSON *m =
        keep(shadow_patch_metadata(J("{'a':1,'b':{'c':null,'e':{}},'d':[1,{'e':2},[3]]}"), T0));
    ck_assert_json(m, "{'a':{'timestamp':'" T0_ISO "'},"
                      "'b':{'c':{'timestamp':'" T0_ISO "'},'e':{}},"
                      "'d':[{'timestamp':'" T0_ISO "'},{'timestamp':'" T0_ISO "'},"
                      "{'timestamp':'" T0_ISO "'}]}");
    cJSON *n = keep(shadow_patch_metadata(J("null"), T0));
    ck_assert(cJSON_IsNull(n));
}
END_TEST

START_TEST(metadata_mirrors_arrays_per_element)
{
    report("{'a':[1,{'x':1},[2,3],'s']}", T0);
    ck_assert_json(doc.meta[SHADOW_REPORTED],
                   "{'a':[{'timestamp':'" T0_ISO "'},{'timestamp':'" T0_ISO "'},"
                   "{'timestamp':'" T0_ISO "'},{'timestamp':'" T0_ISO "'}]}");
    /* an array's newest element time guards it */
    ck_assert(!report("{'a':[0]}", T0 - 1));
    ck_assert(report("{'a':[0]}", T0));
    ck_assert_json(doc.meta[SHADOW_REPORTED], "{'a':[{'timestamp':'" T0_ISO "'}]}");
}
END_TEST

/* ---- size, stored form, snapshot, copy ---- */

START_TEST(state_size_measure)
{
    ck_assert_uint_eq(shadow_state_size(&doc), 2); /* {} */
    report("{'a':1}", T0);
    ck_assert_uint_eq(shadow_state_size(&doc), strlen("{\"reported\":{\"a\":1}}"));
    desire("{'b':'xy','c':[1,2]}", T0);
    ck_assert_uint_eq(shadow_state_size(&doc),
                      strlen("{\"desired\":{\"b\":\"xy\",\"c\":[1,2]},\"reported\":{\"a\":1}}"));
    /* the same as printing the object itself */
    cJSON *both = keep(cJSON_CreateObject());
    cJSON_AddItemToObject(both, "desired", cJSON_Duplicate(doc.state[SHADOW_DESIRED], true));
    cJSON_AddItemToObject(both, "reported", cJSON_Duplicate(doc.state[SHADOW_REPORTED], true));
    ck_assert_uint_eq(shadow_state_size(&doc), strlen(P(both)));
    /* metadata does not count: re-reporting refreshes it without changing the size */
    size_t before = shadow_state_size(&doc);
    report("{'a':1}", T0 + 60);
    ck_assert_uint_eq(shadow_state_size(&doc), before);
    apply_at(SHADOW_REPORTED, "null", T0 + 60, true);
    ck_assert_uint_eq(shadow_state_size(&doc), strlen("{\"desired\":{\"b\":\"xy\",\"c\":[1,2]}}"));
}
END_TEST

START_TEST(stored_form_exact)
{
    report("{'a':1}", T0);
    doc.version = 1;
    doc.timestamp = T0;
    doc.exists = true;
    ck_assert_printed(keep(shadow_doc_to_json(&doc, false)),
                      "{'state':{'reported':{'a':1}},"
                      "'metadata':{'reported':{'a':{'timestamp':'" T0_ISO "'}}},"
                      "'version':1,'timestamp':'" T0_ISO "'}");
    desire("{'a':2}", T0 + 60);
    ck_assert_printed(keep(shadow_doc_to_json(&doc, true)),
                      "{'state':{'desired':{'a':2},'reported':{'a':1},'delta':{'a':2}},"
                      "'metadata':{'desired':{'a':{'timestamp':'" T60_ISO "'}},"
                      "'reported':{'a':{'timestamp':'" T0_ISO "'}}},"
                      "'version':1,'timestamp':'" T0_ISO "'}");
    shadow_doc_clear(&doc);
    ck_assert_printed(keep(shadow_doc_to_json(&doc, true)),
                      "{'state':{},'metadata':{},'version':0,'timestamp':'1970-01-01T00:00:00Z'}");
}
END_TEST

START_TEST(printed_once_serves_size_store_and_snapshot)
{
    struct shadow_text t;
    for (int round = 0; round < 3; round++) {
        if (round == 1)
            report("{'a':1,'o':{'x':[1,{'y':true}],'s':'t'}}", T0);
        if (round == 2)
            desire("{'o':{'s':'u'},'z':2.5}", T0 + 60);
        doc.version = 7 + round;
        doc.timestamp = T0 + round;
        ck_assert_int_eq(shadow_doc_print(&doc, &t), 0);
        ck_assert_str_eq(t.text, P(keep(shadow_doc_to_json(&doc, false))));
        ck_assert_uint_eq(t.state_len, shadow_state_size(&doc));
        char snapshot[1024];
        snprintf(snapshot, sizeof snapshot, "%.*s}", (int)t.snapshot_len, t.text);
        ck_assert_str_eq(snapshot, P(keep(shadow_doc_snapshot(&doc))));
        shadow_text_free(&t);
        ck_assert_ptr_null(t.text);
    }
}
END_TEST

START_TEST(stored_form_round_trip)
{
    report("{'a':1,'o':{'x':[1,{'y':true}],'s':'t'}}", T0);
    desire("{'o':{'s':'u'},'n':null,'z':2.5}", T0 + 60);
    doc.version = 42;
    doc.timestamp = T0 + 60;
    cJSON *stored = keep(shadow_doc_to_json(&doc, false));
    const char *text = P(stored);

    struct shadow_doc back;
    ck_assert_int_eq(shadow_doc_from_json(text, &back), 0);
    ck_assert(back.exists);
    ck_assert_int_eq(back.version, 42);
    ck_assert_int_eq(back.timestamp, T0 + 60);
    for (int s = 0; s < 2; s++) {
        ck_assert(json_equal(back.state[s], doc.state[s]));
        ck_assert(json_equal(back.meta[s], doc.meta[s]));
    }
    /* and the loaded document prints the same text */
    cJSON *again = keep(shadow_doc_to_json(&back, false));
    ck_assert_str_eq(P(again), text);
    /* the loaded metadata still guards out-of-order reports */
    bool changed = true;
    ck_assert_int_eq(shadow_apply(&back, SHADOW_REPORTED, J("{'a':0}"), T0 - 1, true, &changed), 0);
    ck_assert(!changed);
    shadow_doc_clear(&back);
}
END_TEST

START_TEST(from_json_one_section_and_leniency)
{
    struct shadow_doc d;
    ck_assert_int_eq(shadow_doc_from_json("{\"state\":{\"desired\":{\"a\":1},\"reported\":{}},"
                                          "\"metadata\":{},\"version\":3,"
                                          "\"timestamp\":\"" T0_ISO "\"}",
                                          &d),
                     0);
    ck_assert_json(d.state[SHADOW_DESIRED], "{'a':1}");
    ck_assert_json(d.meta[SHADOW_DESIRED], "{}"); /* missing metadata: an empty mirror */
    ck_assert_ptr_null(d.state[SHADOW_REPORTED]); /* empty section: absent */
    ck_assert_ptr_null(d.meta[SHADOW_REPORTED]);
    ck_assert_int_eq(d.version, 3);
    shadow_doc_clear(&d);
    /* a stray delta in the stored state is not part of the document */
    ck_assert_int_eq(shadow_doc_from_json("{\"state\":{\"delta\":{\"a\":1}},\"metadata\":{},"
                                          "\"version\":0,\"timestamp\":\"" T0_ISO "\"}",
                                          &d),
                     0);
    ck_assert_ptr_null(d.state[SHADOW_DESIRED]);
    ck_assert_ptr_null(d.state[SHADOW_REPORTED]);
    shadow_doc_clear(&d);
}
END_TEST

START_TEST(from_json_rejects_other_shapes)
{
    static const char *const bad[] = {
        "",
        "not json",
        "[]",
        "{\"state\":{},\"metadata\":{},\"version\":1}",
        "{\"metadata\":{},\"version\":1,\"timestamp\":\"" T0_ISO "\"}",
        "{\"state\":{},\"version\":1,\"timestamp\":\"" T0_ISO "\"}",
        "{\"state\":[],\"metadata\":{},\"version\":1,\"timestamp\":\"" T0_ISO "\"}",
        "{\"state\":{},\"metadata\":{},\"version\":\"1\",\"timestamp\":\"" T0_ISO "\"}",
        "{\"state\":{},\"metadata\":{},\"version\":-1,\"timestamp\":\"" T0_ISO "\"}",
        "{\"state\":{},\"metadata\":{},\"version\":1.5,\"timestamp\":\"" T0_ISO "\"}",
        "{\"state\":{},\"metadata\":{},\"version\":1,\"timestamp\":\"yesterday\"}",
        "{\"state\":{},\"metadata\":{},\"version\":1,\"timestamp\":5}",
        "{\"state\":{\"desired\":5},\"metadata\":{},\"version\":1,\"timestamp\":\"" T0_ISO "\"}",
        "{\"state\":{\"reported\":{\"a\":1}},\"metadata\":{\"reported\":[]},\"version\":1,"
        "\"timestamp\":\"" T0_ISO "\"}",
        "{\"state\":{},\"metadata\":{},\"version\":1,\"timestamp\":\"" T0_ISO "\"} trailing",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct shadow_doc d;
        d.version = 99;
        d.exists = true;
        ck_assert_msg(shadow_doc_from_json(bad[i], &d) == -1, "accepted: %s", bad[i]);
        ck_assert_int_eq(d.version, 0);
        ck_assert(!d.exists);
        ck_assert_ptr_null(d.state[0]);
        ck_assert_ptr_null(d.state[1]);
    }
    struct shadow_doc d;
    ck_assert_int_eq(shadow_doc_from_json(NULL, &d), -1);
}
END_TEST

START_TEST(snapshot_shape)
{
    report("{'a':1}", T0);
    desire("{'a':2}", T0);
    doc.version = 7;
    doc.timestamp = T0;
    cJSON *snap = keep(shadow_doc_snapshot(&doc));
    ck_assert_printed(snap, "{'state':{'desired':{'a':2},'reported':{'a':1}},"
                            "'metadata':{'desired':{'a':{'timestamp':'" T0_ISO "'}},"
                            "'reported':{'a':{'timestamp':'" T0_ISO "'}}},'version':7}");
    shadow_doc_clear(&doc);
    ck_assert_printed(keep(shadow_doc_snapshot(&doc)), "{'state':{},'metadata':{},'version':0}");
}
END_TEST

START_TEST(copy_is_deep_and_independent)
{
    report("{'a':1,'o':{'x':[1,2]}}", T0);
    desire("{'a':2}", T0);
    doc.version = 3;
    doc.timestamp = T0;
    doc.exists = true;
    struct shadow_doc c;
    ck_assert_int_eq(shadow_doc_copy(&c, &doc), 0);
    ck_assert_int_eq(c.version, 3);
    ck_assert_int_eq(c.timestamp, T0);
    ck_assert(c.exists);
    for (int s = 0; s < 2; s++) {
        ck_assert_ptr_ne(c.state[s], doc.state[s]);
        ck_assert_ptr_ne(c.meta[s], doc.meta[s]);
        ck_assert(json_equal(c.state[s], doc.state[s]));
        ck_assert(json_equal(c.meta[s], doc.meta[s]));
    }
    bool changed;
    ck_assert_int_eq(
        shadow_apply(&c, SHADOW_REPORTED, J("{'o':{'x':null},'a':5}"), T0 + 60, true, &changed), 0);
    ck_assert_int_eq(shadow_apply(&c, SHADOW_DESIRED, J("null"), T0, false, &changed), 0);
    ck_assert_json(doc.state[SHADOW_REPORTED], "{'a':1,'o':{'x':[1,2]}}");
    ck_assert_json(doc.meta[SHADOW_REPORTED],
                   "{'a':{'timestamp':'" T0_ISO "'},'o':{'x':[{'timestamp':'" T0_ISO "'},"
                   "{'timestamp':'" T0_ISO "'}]}}");
    ck_assert_json(doc.state[SHADOW_DESIRED], "{'a':2}");
    ck_assert_json(c.state[SHADOW_REPORTED], "{'a':5}");
    ck_assert_ptr_null(c.state[SHADOW_DESIRED]);
    shadow_doc_clear(&c);
    /* copying an empty document */
    shadow_doc_clear(&doc);
    ck_assert_int_eq(shadow_doc_copy(&c, &doc), 0);
    ck_assert_ptr_null(c.state[0]);
    ck_assert_ptr_null(c.state[1]);
    shadow_doc_clear(&c);
}
END_TEST

START_TEST(init_and_clear)
{
    struct shadow_doc d;
    memset(&d, 0, sizeof d);
    shadow_doc_clear(&d); /* safe on a zeroed document */
    shadow_doc_init(&d);
    ck_assert_int_eq(d.version, 0);
    ck_assert_int_eq(d.timestamp, 0);
    ck_assert(!d.exists);
    ck_assert_ptr_null(d.state[0]);
    ck_assert_ptr_null(d.meta[1]);
    shadow_doc_clear(&d);
    shadow_doc_clear(&d); /* and twice */
}
END_TEST

/* ---- allocation failures ---- */

/* cJSON's allocator fails once `alloc_budget` allocations have succeeded (-1: never). Every
 * operation is run with budgets 0, 1, 2, … until it succeeds; each failing run must report the
 * failure as documented and leak nothing (the sanitizer and valgrind runs check the leaks). */
static long alloc_budget = -1;

static void *failing_malloc(size_t n)
{
    if (alloc_budget == 0)
        return NULL;
    if (alloc_budget > 0)
        alloc_budget--;
    return malloc(n);
}

static void failing_free(void *p)
{
    free(p);
}

static void faults_on(long budget)
{
    cJSON_Hooks hooks = {failing_malloc, failing_free};
    alloc_budget = budget;
    cJSON_InitHooks(&hooks);
}

static void faults_off(void)
{
    cJSON_InitHooks(NULL);
    alloc_budget = -1;
}

#define FAULT_RUNS 5000

/* The document every fault test starts from. */
static void fault_base(struct shadow_doc *d)
{
    shadow_doc_init(d);
    ck_assert_int_eq(shadow_apply(d, SHADOW_REPORTED,
                                  J("{'a':1,'o':{'x':[1,2],'y':'s'},'s':5,'gone':{'g':1}}"), T0,
                                  true, NULL),
                     0);
    ck_assert_int_eq(shadow_apply(d, SHADOW_DESIRED, J("{'a':2,'o':{'x':[1,2],'z':{'w':true}}}"),
                                  T0, false, NULL),
                     0);
    d->version = 4;
    d->timestamp = T0;
    d->exists = true;
}

START_TEST(faults_in_apply)
{
    const cJSON *patch = J("{'a':1,'o':{'x':[3],'n':{'m':[{'k':1}]},'y':null},'s':{'t':1},"
                           "'gone':null,'new':'v','e':{}}");
    struct shadow_doc want;
    fault_base(&want);
    bool want_changed;
    ck_assert_int_eq(shadow_apply(&want, SHADOW_REPORTED, patch, T0 + 60, true, &want_changed), 0);
    long n;
    for (n = 0; n < FAULT_RUNS; n++) {
        struct shadow_doc d;
        fault_base(&d);
        bool changed;
        faults_on(n);
        int rc = shadow_apply(&d, SHADOW_REPORTED, patch, T0 + 60, true, &changed);
        faults_off();
        if (rc == 0) {
            ck_assert(changed == want_changed);
            ck_assert(json_equal(d.state[SHADOW_REPORTED], want.state[SHADOW_REPORTED]));
            ck_assert(json_equal(d.meta[SHADOW_REPORTED], want.meta[SHADOW_REPORTED]));
        }
        shadow_doc_clear(&d); /* a failed document is discarded: it must still free cleanly */
        if (rc == 0)
            break;
        ck_assert_int_eq(rc, -1);
    }
    ck_assert_int_gt(n, 3);
    ck_assert_int_lt(n, FAULT_RUNS);
    shadow_doc_clear(&want);
}
END_TEST

START_TEST(faults_in_outputs)
{
    struct shadow_doc base;
    fault_base(&base);
    cJSON *want_json = keep(shadow_doc_to_json(&base, true));
    cJSON *want_snap = keep(shadow_doc_snapshot(&base));
    cJSON *want_delta = keep(shadow_delta(base.state[0], base.state[1]));
    const cJSON *patch = J("{'a':1,'o':{'x':[3],'n':null},'arr':[{'k':1},2]}");
    cJSON *want_meta = keep(shadow_patch_metadata(patch, T0));
    size_t want_size = shadow_state_size(&base);
    const char *stored = P(keep(shadow_doc_to_json(&base, false)));
    bool done[8] = {false};
    for (long n = 0; n < FAULT_RUNS; n++) {
        bool all = true;
        for (int op = 0; op < 8; op++) {
            if (done[op])
                continue;
            cJSON *got = NULL;
            struct shadow_doc d;
            int rc;
            size_t size;
            faults_on(n);
            switch (op) {
            case 0:
                got = shadow_doc_to_json(&base, true);
                faults_off();
                done[op] = got != NULL && json_equal(got, want_json);
                break;
            case 1:
                got = shadow_doc_snapshot(&base);
                faults_off();
                done[op] = got != NULL && json_equal(got, want_snap);
                break;
            case 2:
                got = shadow_delta(base.state[0], base.state[1]);
                faults_off();
                /* never a partial delta: NULL or the whole of it */
                ck_assert(got == NULL || json_equal(got, want_delta));
                done[op] = got != NULL;
                break;
            case 3:
                got = shadow_patch_metadata(patch, T0);
                faults_off();
                done[op] = got != NULL && json_equal(got, want_meta);
                break;
            case 4:
                size = shadow_state_size(&base);
                faults_off();
                ck_assert(size == SIZE_MAX || size == want_size);
                done[op] = size == want_size;
                break;
            case 5:
                rc = shadow_doc_copy(&d, &base);
                faults_off();
                if (rc != 0)
                    ck_assert(d.state[0] == NULL && d.state[1] == NULL && d.meta[0] == NULL);
                done[op] = rc == 0 && json_equal(d.state[0], base.state[0]) &&
                           json_equal(d.meta[1], base.meta[1]);
                shadow_doc_clear(&d);
                break;
            case 6:
                rc = shadow_doc_from_json(stored, &d);
                faults_off();
                if (rc != 0)
                    ck_assert(d.state[0] == NULL && d.state[1] == NULL && !d.exists);
                done[op] = rc == 0 && json_equal(d.state[1], base.state[1]) &&
                           json_equal(d.meta[0], base.meta[0]) && d.version == 4;
                shadow_doc_clear(&d);
                break;
            default: {
                struct shadow_text t;
                rc = shadow_doc_print(&base, &t);
                faults_off();
                if (rc != 0)
                    ck_assert(t.text == NULL);
                done[op] = rc == 0 && strcmp(t.text, stored) == 0;
                shadow_text_free(&t);
                break;
            }
            }
            cJSON_Delete(got);
            all = all && done[op];
        }
        if (all)
            break;
    }
    for (int op = 0; op < 8; op++)
        ck_assert_msg(done[op], "operation %d never succeeded", op);
    shadow_doc_clear(&base);
}
END_TEST

/* ---- suite ---- */

static Suite *shadow_suite(void)
{
    Suite *s = suite_create("shadow");
    struct {
        const char *name;
        const TTest *tests[16];
    } groups[] = {
        {"json_equal",
         {equal_numbers_by_value, equal_strings_byte_for_byte, equal_objects_as_key_sets,
          equal_arrays_in_order, equal_literals_by_type}},
        {"delta",
         {delta_desired_against_reported, delta_nested_leaf_keeps_path, delta_arrays_compare_whole,
          delta_numbers_by_value}},
        {"aws",
         {aws_create_via_reported, aws_desired_then_delta,
          aws_report_matching_desired_empties_delta, aws_nested_delta_with_path,
          aws_arrays_replace_whole, aws_numbers_one_and_one_point_zero, aws_null_deletes_leaf,
          aws_deleting_all_leaves_removes_object, aws_state_null_drops_section,
          aws_equal_rereport_refreshes_metadata}},
        {"merge",
         {merge_objects_key_by_key, merge_object_and_scalar_replace_each_other,
          merge_empty_objects_add_nothing, merge_key_named_timestamp,
          merge_replace_then_append_keeps_list_sound, apply_rejects_bad_patch}},
        {"ordered",
         {ordered_older_report_does_not_move_back, ordered_newer_report_applies,
          ordered_older_report_new_key_applies, ordered_object_path_uses_newest_leaf,
          ordered_ties_apply, unordered_updates_ignore_time}},
        {"check",
         {check_top_level_delta_rejected, check_depth_exact_boundary,
          check_nulls_in_arrays_rejected, check_depth_reported_before_nulls,
          check_accepts_null_and_objects_only}},
        {"metadata", {patch_metadata_mirrors_request, metadata_mirrors_arrays_per_element}},
        {"document",
         {state_size_measure, stored_form_exact, stored_form_round_trip,
          printed_once_serves_size_store_and_snapshot, from_json_one_section_and_leniency,
          from_json_rejects_other_shapes, snapshot_shape, copy_is_deep_and_independent,
          init_and_clear}},
        {"faults", {faults_in_apply, faults_in_outputs}},
    };
    for (size_t g = 0; g < sizeof groups / sizeof groups[0]; g++) {
        TCase *tc = tcase_create(groups[g].name);
        tcase_add_checked_fixture(tc, setup, teardown);
        for (size_t t = 0; t < 16 && groups[g].tests[t] != NULL; t++)
            tcase_add_test(tc, groups[g].tests[t]);
        suite_add_tcase(s, tc);
    }
    return s;
}

int main(void)
{
    SRunner *sr = srunner_create(shadow_suite());
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
