// SPDX-License-Identifier: MIT
/* Table tests for the URL side of DICOMweb: query strings (params.h), media types and Accept
 * (media.h), QIDO-RS parameters (qido.h) and frame lists (frames.h); the URL grammar's are in
 * test_route.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "http/media.h"
#include "http/params.h"
#include "dicomweb/qido.h"
#include "dicomweb/route.h"
#include "dicomweb/frames.h"

static void test_params_parse(void **state)
{
    (void)state;
    pacs_arena *ar = pacs_arena_new(1 << 20);
    pacs_params p;
    const char *q = "PatientName=Nguy%E1%BB%85n*&includefield=a&&includefield=b+c&flag&x=";
    assert_int_equal(pacs_params_parse(q, strlen(q), ar, &p, NULL), PACS_OK);
    assert_int_equal(p.n, 5);
    assert_string_equal(p.v[0].value, "Nguy\xe1\xbb\x85n*");
    assert_string_equal(p.v[2].value, "b c");
    assert_string_equal(p.v[3].name, "flag");
    assert_string_equal(p.v[3].value, "");
    assert_string_equal(pacs_params_get(&p, "includefield"), "a");
    assert_null(pacs_params_get(&p, "nope"));
    static const char *const bad[] = {"a=%4", "a=%zz", "a=%00", "=x", "a=%"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(pacs_params_parse(bad[i], strlen(bad[i]), ar, &p, NULL), PACS_EINVAL);
    }
    pacs_arena_free(ar);
}

static void test_media(void **state)
{
    (void)state;
    pacs_media m;
    const char *ct = "Multipart/Related; type=\"application/dicom\"; boundary=\"a b\"";
    assert_int_equal(pacs_media_parse(ct, strlen(ct), &m, NULL), PACS_OK);
    assert_string_equal(m.type, "multipart/related");
    assert_string_equal(m.related, "application/dicom");
    assert_string_equal(m.boundary, "a b");
    /* Orthanc's 73-character boundary (two UUIDs) is taken; past 200, the reason is named. */
    const char *orthanc = "multipart/related; type=\"application/dicom\"; boundary=dd27df8e-397b-"
                          "45f6-b099-c2638d9ebcdf-dd27df8e-397b-45f6-b099-c2638d9ebcdf";
    assert_int_equal(pacs_media_parse(orthanc, strlen(orthanc), &m, NULL), PACS_OK);
    assert_int_equal(strlen(m.boundary), 73);
    char longct[400];
    int o = snprintf(longct, sizeof longct, "multipart/related; boundary=");
    memset(longct + o, 'b', 201);
    longct[o + 201] = '\0';
    pacs_errinfo ei;
    assert_int_equal(pacs_media_parse(longct, strlen(longct), &m, &ei), PACS_EINVAL);
    assert_non_null(strstr(ei.msg, "201 characters"));
    assert_non_null(strstr(ei.msg, "RFC 2046"));
    longct[o + 200] = '\0';
    assert_int_equal(pacs_media_parse(longct, strlen(longct), &m, NULL), PACS_OK);
    assert_int_equal(strlen(m.boundary), 200);
    const char *tab = "multipart/related; boundary=\"a\tb\"";
    assert_int_equal(pacs_media_parse(tab, strlen(tab), &m, &ei), PACS_EINVAL);
    assert_non_null(strstr(ei.msg, "0x09"));
    pacs_media a[PACS_ACCEPT_MAX];
    size_t n = 0;
    const char *acc = "image/jpeg;q=0.5, multipart/related; type=application/octet-stream; "
                      "transfer-syntax=*, text/html;q=0";
    assert_int_equal(pacs_media_accept_parse(acc, a, PACS_ACCEPT_MAX, &n, NULL), PACS_OK);
    assert_int_equal(n, 2);
    assert_string_equal(a[0].type, "multipart/related");
    assert_string_equal(a[0].ts, "*");
    assert_int_equal(a[1].q, 500);
    assert_int_equal(pacs_media_accept_parse(NULL, a, PACS_ACCEPT_MAX, &n, NULL), PACS_OK);
    assert_true(pacs_media_covers(&a[0], "application/dicom+json"));
    static const char *const bad[] = {"text", "a/b; q=2", "a/b; x", "*/json", "a/b; t=\"open"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(pacs_media_accept_parse(bad[i], a, PACS_ACCEPT_MAX, &n, NULL),
                         PACS_EINVAL);
    }
}

static void test_qido_build(void **state)
{
    (void)state;
    pacs_arena *ar = pacs_arena_new(1 << 20);
    pacs_params p;
    const char *q = "limit=101&offset=0&fuzzymatching=true&includefield=00081030%2C00080060"
                    "&PatientName=*nguyen*&StudyInstanceUID=1.2,1.3&StudyDate=20200101-";
    assert_int_equal(pacs_params_parse(q, strlen(q), ar, &p, NULL), PACS_OK);
    pacs_route rt = {PACS_ROUTE_STUDIES, NULL, NULL, NULL, NULL, 0};
    pacs_query *out = NULL;
    pacs_qido_notes notes;
    assert_int_equal(pacs_qido_build(&rt, &p, 1000, &out, &notes, NULL), PACS_OK);
    assert_false(notes.capped);
    assert_int_equal(notes.n_ignored, 0);
    assert_int_equal(pacs_query_limit(out), 101);
    assert_true(pacs_query_fuzzy(out));
    const pacs_query_key *k = pacs_query_find_key(out, 0x0020000D);
    assert_non_null(k);
    assert_int_equal(k->match, PACS_MATCH_LIST);
    assert_int_equal(k->n_list, 2);
    assert_int_equal(pacs_query_find_key(out, 0x00080020)->match, PACS_MATCH_RANGE);
    assert_non_null(pacs_query_find_key(out, 0x00081030)); /* includefield */
    assert_non_null(pacs_query_find_key(out, 0x00201208)); /* a default attribute */
    pacs_query_free(out);
    /* A known name with a bad value, or an attribute that cannot be matched: 400. */
    static const char *const bad[] = {
        "limit=-1",          "offset=x",   "fuzzymatching=1",         "StudyDate=2020",
        "includefield=Nope", "00400275=1", "PatientName.PatientID=1", "_=1&StudyDate=x",
        "00020010=1.2.3",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(pacs_params_parse(bad[i], strlen(bad[i]), ar, &p, NULL), PACS_OK);
        pacs_errinfo ei;
        assert_int_equal(pacs_qido_build(&rt, &p, 0, &out, &notes, &ei), PACS_EINVAL);
        assert_true(strlen(ei.msg) > 10);
    }
    /* Names QIDO-RS does not know are ignored, and listed (PS3.18 8.3). */
    static const struct {
        const char *q;
        size_t n;
        const char *first;
    } ignored[] = {
        {"_=1733456789", 1, "_"},
        {"NoSuchKeyword=1&PatientID=X", 1, "NoSuchKeyword"},
        {"PatientName.X=1", 1, "PatientName.X"},
        {"emptyvaluematching=true&multiplevaluematching=false", 2, "emptyvaluematching"},
        {"a=1&b=2&c=3&d=4&e=5&f=6&g=7&h=8&i=9&j=10", 10, "a"},
    };
    for (size_t i = 0; i < sizeof ignored / sizeof ignored[0]; i++) {
        assert_int_equal(pacs_params_parse(ignored[i].q, strlen(ignored[i].q), ar, &p, NULL),
                         PACS_OK);
        assert_int_equal(pacs_qido_build(&rt, &p, 0, &out, &notes, NULL), PACS_OK);
        assert_int_equal(notes.n_ignored, ignored[i].n);
        assert_string_equal(notes.ignored[0], ignored[i].first);
        pacs_query_free(out);
    }
    /* The known key beside an ignored one still matches. */
    assert_int_equal(pacs_params_parse("_=1&PatientID=X", 15, ar, &p, NULL), PACS_OK);
    assert_int_equal(pacs_qido_build(&rt, &p, 0, &out, &notes, NULL), PACS_OK);
    assert_non_null(pacs_query_find_key(out, 0x00100020));
    pacs_query_free(out);
    /* No limit asked: the server's cap applies and says so. */
    assert_int_equal(pacs_params_parse("", 0, ar, &p, NULL), PACS_OK);
    assert_int_equal(pacs_qido_build(&rt, &p, 50, &out, &notes, NULL), PACS_OK);
    assert_true(notes.capped);
    assert_int_equal(pacs_query_limit(out), 50);
    pacs_query_free(out);
    pacs_arena_free(ar);
}

static void test_frame_list(void **state)
{
    (void)state;
    uint32_t f[4];
    size_t n = 0;
    assert_int_equal(pacs_frames_parse_list("1,3,2", f, 4, &n, NULL), PACS_OK);
    assert_int_equal(n, 3);
    assert_int_equal(f[1], 2);
    static const char *const bad[] = {"0", "1,", ",1",        "1 2",        "-1",
                                      "a", "",   "1,2,3,4,5", "99999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(pacs_frames_parse_list(bad[i], f, 4, &n, NULL), PACS_EINVAL);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_params_parse),
        cmocka_unit_test(test_media),
        cmocka_unit_test(test_qido_build),
        cmocka_unit_test(test_frame_list),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
