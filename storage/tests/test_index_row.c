// SPDX-License-Identifier: MIT
/*
 * Unit tests of a find's results written as text (index.h's pacs_find_row_write), on SQLite and
 * PostgreSQL (index_backends.h): for every result of finds at every level (default keys, keys
 * from the stored attributes, includefield=all, keys matched in C, paging), the text is byte
 * for byte what QIDO-RS wrote before it had its own writer: the jansson object of
 * pacs_find_row_json with the added attributes set, Specific Character Set dropped, dumped
 * with sorted keys, and when that text is not ASCII, "ISO_IR 192" set and dumped again. And
 * the character set is there exactly for the results with non-ASCII text.
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
#include "storage/index.h"
#include "storage/tests/index_fixture.h"

/* Instances whose stored attributes hold what results are made of: UTF-8 names with their
 * ideographic group, escaped characters, reals, sequences with keys out of order, a stored
 * character set, a timezone (a study key without a column), bulk data. */
static const char *const instances[] = {
    "{\"00080005\":{\"vr\":\"CS\",\"Value\":[\"ISO_IR 192\"]},"
    "\"0020000D\":{\"vr\":\"UI\",\"Value\":[\"1.9.1\"]},\"0020000E\":{\"vr\":\"UI\",\"Value\":"
    "[\"1.9.1.1\"]},\"00080018\":{\"vr\":\"UI\",\"Value\":[\"1.9.1.1.1\"]},\"00080016\":{\"vr\":"
    "\"UI\",\"Value\":[\"" CT "\"]},\"00100020\":{\"vr\":\"LO\",\"Value\":[\"VN1\"]},"
    "\"00100010\":{\"vr\":\"PN\",\"Value\":[{\"Alphabetic\":\"Nguyễn^Thị Hương\","
    "\"Ideographic\":\"阮^氏香\"}]},\"00080020\":{\"vr\":\"DA\",\"Value\":[\"20240615\"]},"
    "\"00080201\":{\"vr\":\"SH\",\"Value\":[\"+0700\"]},\"00081030\":{\"vr\":\"LO\",\"Value\":"
    "[\"CT \\\"bụng\\\"\\t\\\\ x\\u0001\"]},\"00080060\":{\"vr\":\"CS\",\"Value\":[\"CT\"]},"
    "\"00081032\":{\"vr\":\"SQ\",\"Value\":[{\"00080104\":{\"vr\":\"LO\",\"Value\":[\"Bụng\"]},"
    "\"00080100\":{\"vr\":\"SH\",\"Value\":[\"X1\"]}}]},\"00200013\":{\"vr\":\"IS\",\"Value\":[1]},"
    "\"00200032\":{\"vr\":\"DS\",\"Value\":[-122.5,0.1,338.687338501292]},\"00280010\":{\"vr\":"
    "\"US\",\"Value\":[512]},\"7FE00010\":{\"vr\":\"OB\",\"BulkDataURI\":\"bulkdata/7FE00010\"}}",
    "{\"0020000D\":{\"vr\":\"UI\",\"Value\":[\"1.9.2\"]},\"0020000E\":{\"vr\":\"UI\",\"Value\":"
    "[\"1.9.2.1\"]},\"00080018\":{\"vr\":\"UI\",\"Value\":[\"1.9.2.1.1\"]},\"00080016\":{\"vr\":"
    "\"UI\",\"Value\":[\"" MR "\"]},\"00100020\":{\"vr\":\"LO\",\"Value\":[\"P2\"]},"
    "\"00100010\":{\"vr\":\"PN\",\"Value\":[{\"Alphabetic\":\"DOE^JOHN\"}]},\"00080020\":{\"vr\":"
    "\"DA\",\"Value\":[\"20230101\"]},\"00080060\":{\"vr\":\"CS\",\"Value\":[\"MR\"]},"
    "\"00200013\":{\"vr\":\"IS\",\"Value\":[3]}}",
    "{\"0020000D\":{\"vr\":\"UI\",\"Value\":[\"1.9.2\"]},\"0020000E\":{\"vr\":\"UI\",\"Value\":"
    "[\"1.9.2.2\"]},\"00080018\":{\"vr\":\"UI\",\"Value\":[\"1.9.2.2.1\"]},\"00080016\":{\"vr\":"
    "\"UI\",\"Value\":[\"" SR "\"]},\"00100020\":{\"vr\":\"LO\",\"Value\":[\"P2\"]},"
    "\"00100010\":{\"vr\":\"PN\",\"Value\":[{\"Alphabetic\":\"DOE^JOHN\"}]},\"00080060\":{\"vr\":"
    "\"CS\",\"Value\":[\"SR\"]},\"0008103E\":{\"vr\":\"LO\",\"Value\":[\"Kết quả\"]}}",
};

static void put_json(fixture *f, const char *text)
{
    json_t *j = json_loads(text, 0, NULL);
    assert_non_null(j);
    pacs_index_entry e;
    memset(&e, 0, sizeof e);
    e.json = j;
    e.study_uid = json_string_value(
        json_array_get(json_object_get(json_object_get(j, "0020000D"), "Value"), 0));
    e.series_uid = json_string_value(
        json_array_get(json_object_get(json_object_get(j, "0020000E"), "Value"), 0));
    e.sop_uid = json_string_value(
        json_array_get(json_object_get(json_object_get(j, "00080018"), "Value"), 0));
    e.sop_class_uid = json_string_value(
        json_array_get(json_object_get(json_object_get(j, "00080016"), "Value"), 0));
    e.ts_uid = "1.2.840.10008.1.2.1";
    key_of(e.sop_uid, e.object);
    e.object_size = 1000;
    e.n_frames = 1;
    e.source_aet = "TEST";
    pacs_put_result res;
    pacs_errinfo ei;
    if (pacs_index_put(f->idx, &e, &res, &ei) != PACS_OK) {
        fail_msg("put: %s", ei.msg);
    }
    json_decref(j);
}

typedef struct check {
    pacs_level level;
    size_t results, with_charset;
} check;

/* What QIDO-RS wrote before pacs_find_row_write: the result's object with `add` set. */
static char *oracle(pacs_find_row *row, const pacs_find_add *add, size_t n_add)
{
    json_t *r = pacs_find_row_json(row);
    assert_non_null(r);
    for (size_t i = 0; i < n_add; i++) {
        char key[9];
        snprintf(key, sizeof key, "%08X", add[i].tag);
        json_object_set_new(r, key,
                            json_pack("{s:s,s:[s]}", "vr", add[i].vr, "Value", add[i].value));
    }
    json_object_del(r, "00080005");
    char *text = json_dumps(r, PACS_JSON_DUMP_FLAGS | JSON_SORT_KEYS);
    int high = 0;
    for (const char *p = text; *p; p++) {
        high |= (unsigned char)*p >= 0x80;
    }
    if (high) {
        free(text);
        json_object_set_new(r, "00080005",
                            json_pack("{s:s,s:[s]}", "vr", "CS", "Value", "ISO_IR 192"));
        text = json_dumps(r, PACS_JSON_DUMP_FLAGS | JSON_SORT_KEYS);
    }
    json_decref(r);
    return text;
}

static int compare(void *ctx, pacs_find_row *row)
{
    check *c = ctx;
    /* NULL at patient level: a find returns the unique keys of its level and those above. */
    const char *st = pacs_find_row_uid(row, PACS_LEVEL_STUDY);
    assert_true(!st == (c->level == PACS_LEVEL_PATIENT));
    char url[256];
    snprintf(url, sizeof url, "http://h/studies/%s", st ? st : "");
    const pacs_find_add add[] = {{0x00080056, "CS", "ONLINE"}, {0x00081190, "UR", url}};
    char *want = oracle(row, add, 2);
    pacs_buf b;
    pacs_buf_init(&b, 1u << 20);
    assert_int_equal(pacs_buf_puts(&b, "["), PACS_OK);
    assert_int_equal(pacs_find_row_write(row, add, 2, PACS_FIND_UTF8_CHARSET, &b), PACS_OK);
    assert_string_equal(b.data + 1, want);
    c->with_charset +=
        strstr(b.data, "\"00080005\":{\"Value\":[\"ISO_IR 192\"],\"vr\":\"CS\"}") != NULL;
    /* Without the flag, nothing is added and the stored character set stays. */
    pacs_buf_reset(&b);
    assert_int_equal(pacs_find_row_write(row, NULL, 0, 0, &b), PACS_OK);
    json_t *r = pacs_find_row_json(row);
    char *plain = json_dumps(r, PACS_JSON_DUMP_FLAGS | JSON_SORT_KEYS);
    assert_string_equal(b.data, plain);
    free(plain);
    json_decref(r);
    pacs_buf_free(&b);
    free(want);
    c->results++;
    return 0;
}

/* Runs a find at `level` returning `include` (hex tags; "all"), with `key` ("TAG=value") when
 * given, and compares every result. */
static check run(fixture *f, pacs_level level, const char *const *include, const char *key,
                 size_t limit, size_t offset)
{
    pacs_query *q = pacs_query_new(level);
    for (size_t i = 0; include && include[i]; i++) {
        if (strcmp(include[i], "all") == 0) {
            pacs_query_include_all(q, 1);
        } else {
            assert_int_equal(pacs_query_include(q, (uint32_t)strtoul(include[i], NULL, 16), NULL),
                             PACS_OK);
        }
    }
    if (key) {
        assert_int_equal(
            pacs_query_add(q, (uint32_t)strtoul(key, NULL, 16), NULL, strchr(key, '=') + 1, NULL),
            PACS_OK);
    }
    pacs_query_set_paging(q, limit, offset);
    check c = {level, 0, 0};
    pacs_errinfo ei;
    if (pacs_index_find_rows(f->idx, q, compare, &c, &ei) != PACS_OK) {
        fail_msg("find: %s", ei.msg);
    }
    pacs_query_free(q);
    return c;
}

#define TAGS(...) ((const char *const[]){__VA_ARGS__, NULL})

static void test_text_is_the_objects_dump(void **state)
{
    fixture *f = *state;
    load(f);
    for (size_t i = 0; i < sizeof instances / sizeof instances[0]; i++) {
        put_json(f, instances[i]);
    }
    /* QIDO's study defaults: columns, and the timezone from the stored attributes. */
    const char *const study[] = {"00080020", "00080030", "00080050", "00080061", "00080090",
                                 "00080201", "00100010", "00100020", "00100030", "00100040",
                                 "0020000D", "00200010", "00201206", "00201208", NULL};
    check c = run(f, PACS_LEVEL_STUDY, study, NULL, 0, 0);
    assert_int_equal(c.results, 5);
    /* Nguyễn (twice), Đặng and 阮 are not ASCII; DOE^JOHN is. */
    assert_int_equal(c.with_charset, 4);
    c = run(f, PACS_LEVEL_STUDY, TAGS("all"), NULL, 0, 0);
    assert_int_equal(c.results, 5);
    c = run(f, PACS_LEVEL_STUDY, TAGS("00080005", "00081032", "00081030", "00080062"), NULL, 2, 1);
    assert_int_equal(c.results, 2);
    /* A key matched in C (no column), with paging. */
    c = run(f, PACS_LEVEL_STUDY, study, "00080201=+0700", 1, 0);
    assert_int_equal(c.results, 1);
    assert_int_equal(c.with_charset, 1);
    c = run(f, PACS_LEVEL_SERIES, TAGS("00080060", "0008103E", "00200011", "00201209"), NULL, 0, 0);
    assert_int_equal(c.results, 7);
    c = run(f, PACS_LEVEL_SERIES, TAGS("all"), "0020000D=1.9.2", 0, 0);
    assert_int_equal(c.results, 2);
    assert_int_equal(c.with_charset, 1);
    c = run(f, PACS_LEVEL_INSTANCE, TAGS("00080016", "00200013", "00280010", "00200032"), NULL, 0,
            0);
    assert_int_equal(c.results, 8);
    c = run(f, PACS_LEVEL_INSTANCE, TAGS("all"), NULL, 0, 0);
    assert_int_equal(c.results, 8);
    c = run(f, PACS_LEVEL_PATIENT, TAGS("00100010", "00201200"), NULL, 0, 0);
    assert_int_equal(c.results, 3);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_text_is_the_objects_dump, setup, teardown),
    };
    int rc = backends_init(argc, argv);
    if (rc == 0) {
        rc = cmocka_run_group_tests_name(backends_name("index rows"), tests, NULL, NULL);
    }
    return backends_fini(rc);
}
