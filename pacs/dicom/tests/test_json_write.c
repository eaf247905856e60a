// SPDX-License-Identifier: MIT
/*
 * Unit tests of the DICOM JSON text writer (json_write.h): for values of every JSON type, every
 * escaped character, keys out of order, objects of more keys than the writer sorts on its
 * stack, and reals and integers of every shape, the text is byte for byte jansson's json_dumps
 * with PACS_JSON_DUMP_FLAGS | JSON_SORT_KEYS, an object's chosen members too; and a full buffer
 * fails.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pacs/dicom/dcm.h"
#include "pacs/dicom/json_write.h"

static void same_as_jansson(const json_t *v)
{
    char *want = json_dumps(v, PACS_JSON_DUMP_FLAGS | JSON_SORT_KEYS | JSON_ENCODE_ANY);
    assert_non_null(want);
    pacs_buf b;
    pacs_buf_init(&b, 1u << 20);
    assert_int_equal(pacs_json_write(&b, v), PACS_OK);
    assert_string_equal(b.data, want);
    assert_int_equal(b.len, strlen(want));
    pacs_buf_free(&b);
    free(want);
}

static void test_values(void **state)
{
    (void)state;
    json_t *v = json_loads(
        "{\"00100010\":{\"vr\":\"PN\",\"Value\":[{\"Phonetic\":\"p\",\"Alphabetic\":\"Nguyễn^Thị\","
        "\"Ideographic\":\"阮^氏\"}]},\"00081030\":{\"vr\":\"LO\",\"Value\":[\"a \\\"q\\\" \\\\ "
        "\\/ \\b\\f\\n\\r\\t \\u0001\\u001f\\u007f end\"]},\"00200032\":{\"vr\":\"DS\",\"Value\":"
        "[-122.5,0.1,1e-20,338.687338501292,5.0,1e300]},\"00280010\":{\"vr\":\"US\",\"Value\":[512,"
        "-3,0]},\"00400275\":{\"vr\":\"SQ\",\"Value\":[{\"00400009\":{\"vr\":\"SH\",\"Value\":"
        "[\"x\"]},\"00400007\":{\"vr\":\"LO\"}},{}]},\"7FE00010\":{\"vr\":\"OB\",\"BulkDataURI\":"
        "\"bulkdata/7FE00010\"},\"00080201\":{\"vr\":\"SH\",\"Value\":[]},\"x\":[true,false,null,"
        "[],{}],\"00080005\":{\"vr\":\"CS\",\"Value\":[\"ISO_IR 192\"]}}",
        0, NULL);
    assert_non_null(v);
    same_as_jansson(v);
    /* A string with a NUL inside, and every control character. */
    char ctl[40];
    for (int i = 0; i < 32; i++) {
        ctl[i] = (char)i;
    }
    memcpy(ctl + 32, "\"\\/é", 6);
    json_t *s = json_stringn(ctl, 38);
    assert_non_null(s);
    same_as_jansson(s);
    json_decref(s);
    json_decref(v);
}

static void test_many_keys(void **state)
{
    (void)state;
    /* More keys than the writer sorts on its stack, inserted backwards, with a prefix pair. */
    json_t *o = json_object();
    for (int i = 40; i >= 0; i--) {
        char key[16];
        snprintf(key, sizeof key, "%08X", 0x00100000u + (unsigned)i * 7u);
        json_object_set_new(o, key, json_integer(i));
    }
    json_object_set_new(o, "0010", json_string("short"));
    json_object_set_new(o, "00100", json_string("longer"));
    same_as_jansson(o);
    json_decref(o);
}

/* Numbers written by hand, as jansson writes them: integers to both ends of their range, and
 * reals with and without a fraction, with exponents of one to three digits either way, the
 * largest and the smallest, 16 significant digits and more. */
static void test_numbers(void **state)
{
    (void)state;
    static const double reals[] = {
        0.0,      -0.0,     3.0,      -7.0,     0.1,   0.30000000000000004,    338.687338501292,
        -122.5,   1e15,     1e16,     1e17,     1e20,  123456789012345678.0,   1e-4,
        1e-5,     -1.5e-10, 2.5e-308, 4.9e-324, 1e100, 1.7976931348623157e308, 6.02214076e23,
        1.0 / 3.0};
    json_t *a = json_array();
    for (size_t i = 0; i < sizeof reals / sizeof reals[0]; i++) {
        json_t *r = json_real(reals[i]);
        same_as_jansson(r);
        json_array_append_new(a, r);
    }
    static const json_int_t ints[] = {
        0, 1, -1, 9, 10, -10, 512, 65535, 2147483648LL, INT64_MAX, INT64_MIN, INT64_MIN + 1};
    for (size_t i = 0; i < sizeof ints / sizeof ints[0]; i++) {
        json_t *n = json_integer(ints[i]);
        same_as_jansson(n);
        json_array_append_new(a, n);
    }
    same_as_jansson(a);
    json_decref(a);
}

static int keep_odd_group(const char *key, void *ctx)
{
    (void)ctx;
    return (strtoul(key, NULL, 16) >> 16) % 2 == 1;
}

/* Some members of an object, written without a copy: the same text as the copy holding them. */
static void test_members(void **state)
{
    (void)state;
    json_t *o = json_object(), *copy = json_object();
    for (int i = 30; i >= 0; i--) {
        char key[16];
        snprintf(key, sizeof key, "%04X%04X", 0x0008u + (unsigned)i, (unsigned)i * 3u);
        json_t *v = json_pack("{s:s,s:[i]}", "vr", "US", "Value", i);
        if (keep_odd_group(key, NULL)) {
            json_object_set(copy, key, v);
        }
        json_object_set_new(o, key, v);
    }
    char *want = json_dumps(copy, PACS_JSON_DUMP_FLAGS | JSON_SORT_KEYS);
    pacs_buf b;
    pacs_buf_init(&b, 1u << 20);
    assert_int_equal(pacs_json_write_members(&b, o, keep_odd_group, NULL), PACS_OK);
    assert_string_equal(b.data, want);
    assert_int_equal(json_object_size(copy), 15);
    pacs_buf_free(&b);
    free(want);
    json_t *a = json_array();
    pacs_buf_init(&b, 64);
    assert_int_equal(pacs_json_write_members(&b, a, keep_odd_group, NULL), PACS_EINVAL);
    pacs_buf_free(&b);
    json_decref(a);
    json_decref(copy);
    json_decref(o);
}

static void test_cap(void **state)
{
    (void)state;
    pacs_buf b;
    pacs_buf_init(&b, 8);
    assert_int_equal(pacs_json_write_string(&b, "0123456789", 10), PACS_ETOOBIG);
    pacs_buf_free(&b);
    pacs_buf_init(&b, 64);
    assert_int_equal(pacs_json_write_string(&b, "a\nb", 3), PACS_OK);
    assert_string_equal(b.data, "\"a\\nb\"");
    pacs_buf_free(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_values),  cmocka_unit_test(test_many_keys),
        cmocka_unit_test(test_numbers), cmocka_unit_test(test_members),
        cmocka_unit_test(test_cap),
    };
    return cmocka_run_group_tests_name("json_write", tests, NULL, NULL);
}
