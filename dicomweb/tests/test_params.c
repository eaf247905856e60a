// SPDX-License-Identifier: MIT
/* Table tests for the URL side of DICOMweb: query strings (params.h), media types and Accept
 * (media.h), QIDO-RS parameters (qido.h) and frame lists (wado.h); the URL grammar's are in
 * test_route.c. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "dicomweb/media.h"
#include "dicomweb/params.h"
#include "dicomweb/qido.h"
#include "dicomweb/route.h"
#include "dicomweb/wado.h"

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
    int capped = 0;
    assert_int_equal(pacs_qido_build(&rt, &p, 1000, &out, &capped, NULL), PACS_OK);
    assert_false(capped);
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
    static const char *const bad[] = {"limit=-1",        "offset=x",       "fuzzymatching=1",
                                      "NoSuchKeyword=1", "StudyDate=2020", "includefield=Nope",
                                      "PatientName.X=1", "00400275=1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(pacs_params_parse(bad[i], strlen(bad[i]), ar, &p, NULL), PACS_OK);
        assert_int_equal(pacs_qido_build(&rt, &p, 0, &out, &capped, NULL), PACS_EINVAL);
    }
    /* No limit asked: the server's cap applies and says so. */
    assert_int_equal(pacs_params_parse("", 0, ar, &p, NULL), PACS_OK);
    assert_int_equal(pacs_qido_build(&rt, &p, 50, &out, &capped, NULL), PACS_OK);
    assert_true(capped);
    assert_int_equal(pacs_query_limit(out), 50);
    pacs_query_free(out);
    pacs_arena_free(ar);
}

static void test_frame_list(void **state)
{
    (void)state;
    uint32_t f[4];
    size_t n = 0;
    assert_int_equal(pacs_wado_frame_list("1,3,2", f, 4, &n, NULL), PACS_OK);
    assert_int_equal(n, 3);
    assert_int_equal(f[1], 2);
    static const char *const bad[] = {"0", "1,", ",1",        "1 2",        "-1",
                                      "a", "",   "1,2,3,4,5", "99999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(pacs_wado_frame_list(bad[i], f, 4, &n, NULL), PACS_EINVAL);
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
