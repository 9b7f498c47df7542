/* check_strmap.c — the string map: insert, overwrite, growth, and removal inside probe runs. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>

#include "strmap.h"

START_TEST(put_then_get_returns_the_value)
{
    struct strmap m;
    uint64_t v = 0;
    strmap_init(&m);
    ck_assert_int_eq(strmap_put(&m, "EML1", 42), 0);
    ck_assert(strmap_get(&m, "EML1", &v));
    ck_assert_uint_eq(v, 42);
    ck_assert(!strmap_get(&m, "EML2", &v));
    strmap_free(&m);
}
END_TEST

START_TEST(put_overwrites_without_a_second_key)
{
    struct strmap m;
    uint64_t v = 0;
    strmap_init(&m);
    ck_assert_int_eq(strmap_put(&m, "a", 1), 0);
    ck_assert_int_eq(strmap_put(&m, "a", 2), 0);
    ck_assert_uint_eq(m.count, 1);
    ck_assert(strmap_get(&m, "a", &v));
    ck_assert_uint_eq(v, 2);
    strmap_free(&m);
}
END_TEST

START_TEST(many_keys_survive_growth_and_removal)
{
    struct strmap m;
    char key[32];
    uint64_t v = 0;
    strmap_init(&m);
    for (int i = 0; i < 10000; i++) {
        snprintf(key, sizeof key, "M%d", i);
        ck_assert_int_eq(strmap_put(&m, key, (uint64_t)i), 0);
    }
    /* Remove every third key: the others must stay reachable across the shifted runs. */
    for (int i = 0; i < 10000; i += 3) {
        snprintf(key, sizeof key, "M%d", i);
        strmap_remove(&m, key);
    }
    for (int i = 0; i < 10000; i++) {
        snprintf(key, sizeof key, "M%d", i);
        bool found = strmap_get(&m, key, &v);
        ck_assert_int_eq(found, i % 3 != 0);
        if (found)
            ck_assert_uint_eq(v, (uint64_t)i);
    }
    ck_assert_uint_eq(m.count, 10000 - 3334);
    strmap_free(&m);
}
END_TEST

START_TEST(remove_of_a_missing_key_is_harmless)
{
    struct strmap m;
    strmap_init(&m);
    strmap_remove(&m, "nothing");
    ck_assert_int_eq(strmap_put(&m, "x", 1), 0);
    strmap_remove(&m, "y");
    ck_assert_uint_eq(m.count, 1);
    strmap_free(&m);
}
END_TEST

START_TEST(retain_keeps_only_recent_entries)
{
    struct strmap m;
    char key[32];
    uint64_t v = 0;
    strmap_init(&m);
    for (int i = 0; i < 1000; i++) {
        snprintf(key, sizeof key, "bucket/%d", i);
        ck_assert_int_eq(strmap_put(&m, key, (uint64_t)i), 0);
    }
    ck_assert_int_eq(strmap_retain_at_least(&m, 990), 0);
    ck_assert_uint_eq(m.count, 10);
    ck_assert(strmap_get(&m, "bucket/995", &v));
    ck_assert_uint_eq(v, 995);
    ck_assert(!strmap_get(&m, "bucket/989", &v));
    strmap_free(&m);
}
END_TEST

START_TEST(hash_is_fnv1a)
{
    /* FNV-1a 64 of "a" is a published test vector. */
    ck_assert_uint_eq(strmap_hash("a", 1), 0xaf63dc4c8601ec8cULL);
    ck_assert_uint_eq(strmap_hash("", 0), 0xcbf29ce484222325ULL);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("strmap");
    TCase *tc = tcase_create("core");
    tcase_add_test(tc, put_then_get_returns_the_value);
    tcase_add_test(tc, put_overwrites_without_a_second_key);
    tcase_add_test(tc, many_keys_survive_growth_and_removal);
    tcase_add_test(tc, remove_of_a_missing_key_is_harmless);
    tcase_add_test(tc, retain_keeps_only_recent_entries);
    tcase_add_test(tc, hash_is_fnv1a);
    suite_add_tcase(s, tc);
    SRunner *sr = srunner_create(s);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
