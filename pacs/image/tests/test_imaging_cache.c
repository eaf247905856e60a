// SPDX-License-Identifier: MIT
/* Unit tests of the image cache: hits, misses, replacement, LRU eviction, the size bound. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pacs/image/cache.h"

static int get_str(pacs_image_cache *c, const char *key, char *buf, size_t cap)
{
    uint8_t *v = NULL;
    size_t len = 0;
    char mt[64];
    if (!pacs_image_cache_get(c, key, &v, &len, mt)) {
        return 0;
    }
    snprintf(buf, cap, "%.*s|%s", (int)len, (const char *)v, mt);
    free(v);
    return 1;
}

static void test_hit_miss_replace(void **state)
{
    (void)state;
    pacs_image_cache *c = pacs_image_cache_new(1000);
    char buf[128];
    assert_non_null(c);
    assert_int_equal(get_str(c, "a", buf, sizeof buf), 0);
    pacs_image_cache_put(c, "a", (const uint8_t *)"one", 3, "image/jpeg");
    assert_int_equal(get_str(c, "a", buf, sizeof buf), 1);
    assert_string_equal(buf, "one|image/jpeg");
    pacs_image_cache_put(c, "a", (const uint8_t *)"three", 5, "image/png");
    assert_int_equal(get_str(c, "a", buf, sizeof buf), 1);
    assert_string_equal(buf, "three|image/png");
    pacs_image_cache_stats st;
    pacs_image_cache_get_stats(c, &st);
    assert_int_equal(st.hits, 2);
    assert_int_equal(st.misses, 1);
    assert_int_equal(st.entries, 1);
    assert_int_equal(st.bytes, 5);
    pacs_image_cache_free(c);
}

static void test_lru_eviction(void **state)
{
    (void)state;
    uint8_t v[100];
    char key[32], buf[256];
    memset(v, 'x', sizeof v);
    pacs_image_cache *c = pacs_image_cache_new(1000); /* ten values of 100 bytes */
    for (int i = 0; i < 10; i++) {
        snprintf(key, sizeof key, "k%d", i);
        pacs_image_cache_put(c, key, v, sizeof v, "image/jpeg");
    }
    assert_int_equal(get_str(c, "k0", buf, sizeof buf), 1); /* k0 becomes the most recent */
    pacs_image_cache_put(c, "k10", v, sizeof v, "image/jpeg");
    assert_int_equal(get_str(c, "k1", buf, sizeof buf), 0); /* the least recent went */
    assert_int_equal(get_str(c, "k0", buf, sizeof buf), 1);
    assert_int_equal(get_str(c, "k10", buf, sizeof buf), 1);
    pacs_image_cache_stats st;
    pacs_image_cache_get_stats(c, &st);
    assert_true(st.bytes <= 1000);
    assert_int_equal(st.evictions, 1);
    pacs_image_cache_free(c);
}

static void test_too_large_not_kept(void **state)
{
    (void)state;
    uint8_t v[300];
    char buf[512];
    memset(v, 'y', sizeof v);
    pacs_image_cache *c = pacs_image_cache_new(1000);
    pacs_image_cache_put(c, "big", v, sizeof v, "image/png");
    assert_int_equal(get_str(c, "big", buf, sizeof buf), 0);
    pacs_image_cache_free(c);
    pacs_image_cache_free(NULL);
}

static void test_key(void **state)
{
    (void)state;
    char k[256];
    pacs_image_cache_key(k, sizeof k, "abcd", 3, "w=;v=128,128", "image/jpeg");
    assert_string_equal(k, "abcd/3/w=;v=128,128/image/jpeg");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hit_miss_replace),
        cmocka_unit_test(test_lru_eviction),
        cmocka_unit_test(test_too_large_not_kept),
        cmocka_unit_test(test_key),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
