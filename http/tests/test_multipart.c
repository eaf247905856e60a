// SPDX-License-Identifier: MIT
/* Table tests for the multipart parser (multipart.h): well-formed bodies fed whole and one byte
 * at a time give the same parts; malformed and truncated bodies are refused. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "http/multipart.h"

typedef struct got {
    char types[8][64];
    char bodies[8][256];
    size_t lens[8];
    int n, open, stop_after;
} got;

static int on_begin(void *ctx, const pacs_multipart_part *p)
{
    got *g = ctx;
    assert_false(g->open);
    assert_true(g->n < 8);
    strncpy(g->types[g->n], p->content_type, 63);
    g->open = 1;
    return 0;
}

static int on_data(void *ctx, const char *d, size_t n)
{
    got *g = ctx;
    assert_true(g->open);
    assert_true(g->lens[g->n] + n < 256);
    memcpy(g->bodies[g->n] + g->lens[g->n], d, n);
    g->lens[g->n] += n;
    return 0;
}

static int on_end(void *ctx)
{
    got *g = ctx;
    assert_true(g->open);
    g->open = 0;
    g->n++;
    return g->stop_after && g->n == g->stop_after;
}

static const pacs_multipart_cbs cbs = {on_begin, on_data, on_end};

static pacs_err parse(const char *boundary, const char *body, size_t len, size_t step, got *g)
{
    memset(g, 0, sizeof *g);
    pacs_multipart *mp = NULL;
    assert_int_equal(pacs_multipart_new(boundary, &cbs, g, &mp, NULL), PACS_OK);
    pacs_err err = PACS_OK;
    for (size_t off = 0; off < len && err == PACS_OK; off += step) {
        err = pacs_multipart_feed(mp, body + off, step < len - off ? step : len - off, NULL);
    }
    if (err == PACS_OK) {
        err = pacs_multipart_finish(mp, NULL);
    }
    pacs_multipart_free(mp);
    return err;
}

static void test_two_parts(void **state)
{
    (void)state;
    static const char body[] = "preamble\r\n--b1\r\nContent-Type: application/dicom\r\n\r\n"
                               "AAA\r\n--b\r\n-b1x-not\r\n--b1\r\ncontent-type:  text/x \r\n\r\n"
                               "\r\nB\r\n\r\n--b1--\r\nepilogue\r\n--b1\r\n";
    for (size_t step = 1; step <= sizeof body; step++) {
        got g;
        assert_int_equal(parse("b1", body, sizeof body - 1, step, &g), PACS_OK);
        assert_int_equal(g.n, 2);
        assert_string_equal(g.types[0], "application/dicom");
        assert_string_equal(g.types[1], "text/x");
        assert_int_equal(g.lens[0], 18);
        assert_memory_equal(g.bodies[0], "AAA\r\n--b\r\n-b1x-not", 18);
        assert_int_equal(g.lens[1], 5);
        assert_memory_equal(g.bodies[1], "\r\nB\r\n", 5);
    }
}

static void test_empty_part_and_padding(void **state)
{
    (void)state;
    static const char body[] = "--z \t\r\n\r\n\r\n--z--";
    got g;
    assert_int_equal(parse("z", body, sizeof body - 1, 1, &g), PACS_OK);
    assert_int_equal(g.n, 1);
    assert_int_equal(g.lens[0], 0);
    assert_string_equal(g.types[0], "");
}

static void test_malformed(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "--z\r\nContent-Type: a\r\n\r\nbody\r\n--z", /* truncated */
        "--z\r\nno colon here\r\n\r\nx\r\n--z--",    /* header without ':' */
        "--zX\r\n\r\nx\r\n--z--",                    /* boundary run on */
        "--z\r\n\r\nx\r\n--z-x\r\n--z--",            /* delimiter in content */
        "--z\r\n\r\nnever closed",                   /* no closing delimiter */
        "no delimiter at all",                       /* nothing */
        "",                                          /* empty */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        got g;
        assert_int_equal(parse("z", bad[i], strlen(bad[i]), 3, &g), PACS_EBADDATA);
    }
}

static void test_header_cap(void **state)
{
    (void)state;
    size_t n = PACS_MULTIPART_HEADER_MAX + 100;
    char *body = malloc(n + 64);
    assert_non_null(body);
    strcpy(body, "--z\r\nX-Long: ");
    size_t o = strlen(body);
    memset(body + o, 'a', n);
    strcpy(body + o + n, "\r\n\r\nx\r\n--z--");
    got g;
    assert_int_equal(parse("z", body, strlen(body), 4096, &g), PACS_EBADDATA);
    free(body);
}

static void test_stop(void **state)
{
    (void)state;
    static const char body[] = "--z\r\n\r\na\r\n--z\r\n\r\nb\r\n--z--";
    got g;
    memset(&g, 0, sizeof g);
    g.stop_after = 1;
    pacs_multipart *mp = NULL;
    assert_int_equal(pacs_multipart_new("z", &cbs, &g, &mp, NULL), PACS_OK);
    assert_int_equal(pacs_multipart_feed(mp, body, sizeof body - 1, NULL), PACS_ECANCELED);
    assert_int_equal(g.n, 1);
    pacs_multipart_free(mp);
}

static void test_bad_boundary(void **state)
{
    (void)state;
    pacs_multipart *mp = NULL;
    char longb[PACS_MULTIPART_BOUNDARY_MAX + 2];
    memset(longb, 'a', sizeof longb - 1);
    longb[sizeof longb - 1] = '\0';
    pacs_errinfo ei;
    assert_int_equal(pacs_multipart_new("", &cbs, NULL, &mp, &ei), PACS_EINVAL);
    assert_int_equal(pacs_multipart_new(longb, &cbs, NULL, &mp, &ei), PACS_EINVAL);
    assert_non_null(strstr(ei.msg, "201 characters: RFC 2046 allows 70"));
    assert_int_equal(pacs_multipart_new("ends ", &cbs, NULL, &mp, &ei), PACS_EINVAL);
    assert_non_null(strstr(ei.msg, "space"));
    assert_int_equal(pacs_multipart_new("a\x7f", &cbs, NULL, &mp, &ei), PACS_EINVAL);
    assert_non_null(strstr(ei.msg, "0x7F"));
}

/* Boundaries past RFC 2046's 70 characters, up to the cap, work in pieces of any size. */
static void test_long_boundary(void **state)
{
    (void)state;
    static const char *const bs[] = {
        "dd27df8e-397b-45f6-b099-c2638d9ebcdf-dd27df8e-397b-45f6-b099-c2638d9ebcdf",
        "x123456789x123456789x123456789x123456789x123456789x123456789x123456789x123456789"
        "x123456789x123456789x123456789x123456789x123456789x123456789x123456789x123456789"
        "x123456789x123456789x123456789x123456789",
    };
    for (size_t i = 0; i < sizeof bs / sizeof bs[0]; i++) {
        char body[1200];
        /* The first part's content holds the delimiter less its last character. */
        size_t bl = strlen(bs[i]);
        int n = snprintf(body, sizeof body, "--%s\r\n\r\nA\r\n--%.*s\r\n--%s--\r\n", bs[i],
                         (int)(bl - 1), bs[i], bs[i]);
        for (size_t step = 1; step < (size_t)n; step += 7) {
            got g;
            assert_int_equal(parse(bs[i], body, (size_t)n, step, &g), PACS_OK);
            assert_int_equal(g.n, 1);
            assert_int_equal(g.lens[0], 5 + bl - 1);
        }
    }
    assert_int_equal(strlen(bs[1]), PACS_MULTIPART_BOUNDARY_MAX);
}

/* A body that never holds its boundary says so, naming the boundary looked for. */
static void test_boundary_never_seen(void **state)
{
    (void)state;
    got g;
    memset(&g, 0, sizeof g);
    pacs_multipart *mp = NULL;
    static const char body[] = "--other\r\n\r\nx\r\n--other--\r\n";
    pacs_errinfo ei;
    assert_int_equal(pacs_multipart_new("wanted", &cbs, &g, &mp, NULL), PACS_OK);
    assert_int_equal(pacs_multipart_feed(mp, body, sizeof body - 1, NULL), PACS_OK);
    assert_int_equal(pacs_multipart_finish(mp, &ei), PACS_EBADDATA);
    assert_non_null(strstr(ei.msg, "never holds a line '--wanted'"));
    assert_int_equal(g.n, 0);
    pacs_multipart_free(mp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_two_parts),     cmocka_unit_test(test_empty_part_and_padding),
        cmocka_unit_test(test_malformed),     cmocka_unit_test(test_header_cap),
        cmocka_unit_test(test_stop),          cmocka_unit_test(test_bad_boundary),
        cmocka_unit_test(test_long_boundary), cmocka_unit_test(test_boundary_never_seen),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
