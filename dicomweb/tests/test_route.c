// SPDX-License-Identifier: MIT
/*
 * Table tests for the DICOMweb URL grammar (dicomweb/route.c): every path shape of PS3.18 10
 * with the parts it names, percent-decoding of each segment on its own, and the paths that
 * name nothing (404) or carry a malformed UID or escape (400). Single-threaded.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "dicomweb/route.h"

typedef struct route_case {
    const char *path;
    pacs_err err;
    int kind;
    const char *study, *series, *sop, *arg;
    int thumbnail;
} route_case;

#define ST "1.2.840.1"
#define SE "1.2.840.1.2"
#define SOP "1.2.840.1.2.3"
#define INST "/studies/" ST "/series/" SE "/instances/" SOP

/* Every shape the router serves, and what it names. */
static const route_case shapes[] = {
    {"/studies", PACS_OK, PACS_ROUTE_STUDIES, NULL, NULL, NULL, NULL, 0},
    {"/studies/", PACS_OK, PACS_ROUTE_STUDIES, NULL, NULL, NULL, NULL, 0},
    {"/series", PACS_OK, PACS_ROUTE_SERIES, NULL, NULL, NULL, NULL, 0},
    {"/instances", PACS_OK, PACS_ROUTE_INSTANCES, NULL, NULL, NULL, NULL, 0},
    {"/wado", PACS_OK, PACS_ROUTE_WADO_URI, NULL, NULL, NULL, NULL, 0},
    {"/studies/" ST, PACS_OK, PACS_ROUTE_RESOURCE, ST, NULL, NULL, NULL, 0},
    {"/studies/" ST "/", PACS_OK, PACS_ROUTE_RESOURCE, ST, NULL, NULL, NULL, 0},
    {"/studies/" ST "/series", PACS_OK, PACS_ROUTE_SERIES, ST, NULL, NULL, NULL, 0},
    {"/studies/" ST "/instances", PACS_OK, PACS_ROUTE_INSTANCES, ST, NULL, NULL, NULL, 0},
    {"/studies/" ST "/reports", PACS_OK, PACS_ROUTE_REPORTS, ST, NULL, NULL, NULL, 0},
    {"/studies/" ST "/series/" SE "/reports", PACS_ENOTFOUND, 0, NULL, NULL, NULL, NULL, 0},
    {"/studies/" ST "/metadata", PACS_OK, PACS_ROUTE_METADATA, ST, NULL, NULL, NULL, 0},
    {"/studies/" ST "/rendered", PACS_OK, PACS_ROUTE_RENDERED, ST, NULL, NULL, NULL, 0},
    {"/studies/" ST "/thumbnail", PACS_OK, PACS_ROUTE_RENDERED, ST, NULL, NULL, NULL, 1},
    {"/studies/" ST "/series/" SE, PACS_OK, PACS_ROUTE_RESOURCE, ST, SE, NULL, NULL, 0},
    {"/studies/" ST "/series/" SE "/instances", PACS_OK, PACS_ROUTE_INSTANCES, ST, SE, NULL, NULL,
     0},
    {"/studies/" ST "/series/" SE "/metadata", PACS_OK, PACS_ROUTE_METADATA, ST, SE, NULL, NULL, 0},
    {"/studies/" ST "/series/" SE "/rendered", PACS_OK, PACS_ROUTE_RENDERED, ST, SE, NULL, NULL, 0},
    {"/studies/" ST "/series/" SE "/thumbnail", PACS_OK, PACS_ROUTE_RENDERED, ST, SE, NULL, NULL,
     1},
    {INST, PACS_OK, PACS_ROUTE_RESOURCE, ST, SE, SOP, NULL, 0},
    {INST "/metadata", PACS_OK, PACS_ROUTE_METADATA, ST, SE, SOP, NULL, 0},
    {INST "/rendered", PACS_OK, PACS_ROUTE_RENDERED, ST, SE, SOP, NULL, 0},
    {INST "/thumbnail", PACS_OK, PACS_ROUTE_RENDERED, ST, SE, SOP, NULL, 1},
    {INST "/frames/1", PACS_OK, PACS_ROUTE_FRAMES, ST, SE, SOP, "1", 0},
    {INST "/frames/1,2,3", PACS_OK, PACS_ROUTE_FRAMES, ST, SE, SOP, "1,2,3", 0},
    {INST "/frames/2/rendered", PACS_OK, PACS_ROUTE_RENDERED, ST, SE, SOP, "2", 0},
    {INST "/frames/2/thumbnail", PACS_OK, PACS_ROUTE_RENDERED, ST, SE, SOP, "2", 1},
    {INST "/bulkdata/7FE00010", PACS_OK, PACS_ROUTE_BULKDATA, ST, SE, SOP, "7FE00010", 0},
    {INST "/bulkdata/00540016/0/00181072", PACS_OK, PACS_ROUTE_BULKDATA, ST, SE, SOP,
     "00540016/0/00181072", 0},
    /* Percent-decoding, one segment at a time. */
    {"/%73tudies", PACS_OK, PACS_ROUTE_STUDIES, NULL, NULL, NULL, NULL, 0},
    {"/studies/1%2E2%2e840", PACS_OK, PACS_ROUTE_RESOURCE, "1.2.840", NULL, NULL, NULL, 0},
    {INST "/frames/1%2C2", PACS_OK, PACS_ROUTE_FRAMES, ST, SE, SOP, "1,2", 0},
};

/* Paths that name nothing, or name it badly. */
static const route_case bad[] = {
    {"", PACS_ENOTFOUND, 0, NULL, NULL, NULL, NULL, 0},
    {"/", PACS_ENOTFOUND, 0, NULL, NULL, NULL, NULL, 0},
    {"studies", PACS_ENOTFOUND, 0, NULL, NULL, NULL, NULL, 0},
    {"//studies", PACS_ENOTFOUND, 0, NULL, NULL, NULL, NULL, 0},
    {"/Studies", PACS_ENOTFOUND, 0, NULL, NULL, NULL, NULL, 0},
    {"/patients", PACS_ENOTFOUND, 0, NULL, NULL, NULL, NULL, 0},
    {"/../etc/passwd", PACS_ENOTFOUND, 0, NULL, NULL, NULL, NULL, 0},
    {"/series/" SE, PACS_ENOTFOUND, 0, NULL, NULL, NULL, NULL, 0},
    {"/wado/x", PACS_ENOTFOUND, 0, NULL, NULL, NULL, NULL, 0},
    {"/studies/" ST "/nothing", PACS_ENOTFOUND, 0, NULL, NULL, NULL, NULL, 0},
    {"/studies/" ST "/frames/1", PACS_ENOTFOUND, 0, NULL, NULL, NULL, NULL, 0},
    {"/studies/" ST "/series/" SE "/frames/1", PACS_ENOTFOUND, 0, NULL, NULL, NULL, NULL, 0},
    {"/studies/" ST "/series/" SE "/bulkdata/7FE00010", PACS_ENOTFOUND, 0, NULL, NULL, NULL, NULL,
     0},
    {"/studies/" ST "/series/" SE "/series", PACS_ENOTFOUND, 0, NULL, NULL, NULL, NULL, 0},
    {"/studies/" ST "/metadata/x", PACS_ENOTFOUND, 0, NULL, NULL, NULL, NULL, 0},
    {INST "/frames", PACS_ENOTFOUND, 0, NULL, NULL, NULL, NULL, 0},
    {INST "/frames/1/x", PACS_ENOTFOUND, 0, NULL, NULL, NULL, NULL, 0},
    {INST "/frames/1/rendered/x", PACS_ENOTFOUND, 0, NULL, NULL, NULL, NULL, 0},
    {INST "/bulkdata", PACS_ENOTFOUND, 0, NULL, NULL, NULL, NULL, 0},
    {"/studies//series", PACS_EINVAL, 0, NULL, NULL, NULL, NULL, 0},
    {"/a/b/c/d/e/f/g/h/i/j/k/l/m/n/o/p/q", PACS_ENOTFOUND, 0, NULL, NULL, NULL, NULL, 0},
    /* Malformed UIDs: leading zeros, letters, too long, a hidden '/' or "..". */
    {"/studies/1.02", PACS_EINVAL, 0, NULL, NULL, NULL, NULL, 0},
    {"/studies/abc", PACS_EINVAL, 0, NULL, NULL, NULL, NULL, 0},
    {"/studies/1..2", PACS_EINVAL, 0, NULL, NULL, NULL, NULL, 0},
    {"/studies/..%2F..%2Fetc", PACS_EINVAL, 0, NULL, NULL, NULL, NULL, 0},
    {"/studies/1.2%2F3", PACS_EINVAL, 0, NULL, NULL, NULL, NULL, 0},
    {"/studies/1.2345678901234567890123456789012345678901234567890123456789012345", PACS_EINVAL, 0,
     NULL, NULL, NULL, NULL, 0},
    {"/studies/" ST "/series/x", PACS_EINVAL, 0, NULL, NULL, NULL, NULL, 0},
    {"/studies/" ST "/series/" SE "/instances/1.2.", PACS_EINVAL, 0, NULL, NULL, NULL, NULL, 0},
    /* Malformed escapes, and an encoded NUL. */
    {"/studies/1.2%zz", PACS_EINVAL, 0, NULL, NULL, NULL, NULL, 0},
    {"/studies/1.2%2", PACS_EINVAL, 0, NULL, NULL, NULL, NULL, 0},
    {"/studies/%00", PACS_EINVAL, 0, NULL, NULL, NULL, NULL, 0},
    {"/stud%ies", PACS_EINVAL, 0, NULL, NULL, NULL, NULL, 0},
};

static void check_string(const char *what, const char *want, const char *got, const char *path)
{
    if (!want) {
        if (got) {
            fail_msg("%s: %s is '%s', expected none", path, what, got);
        }
        return;
    }
    if (!got || strcmp(want, got) != 0) {
        fail_msg("%s: %s is '%s', expected '%s'", path, what, got ? got : "(none)", want);
    }
}

static void run(const route_case *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const route_case *tc = &cases[i];
        pacs_arena *ar = pacs_arena_new(1 << 20);
        assert_non_null(ar);
        pacs_route rt;
        pacs_errinfo ei;
        pacs_errinfo_clear(&ei);
        pacs_err err = pacs_route_parse(tc->path, strlen(tc->path), ar, &rt, &ei);
        if (err != tc->err) {
            fail_msg("%s: %s, expected %s", tc->path, pacs_err_str(err), pacs_err_str(tc->err));
        }
        if (err != PACS_OK) {
            if (!ei.msg[0]) {
                fail_msg("%s: refused without a message", tc->path);
            }
            pacs_arena_free(ar);
            continue;
        }
        if (rt.kind != tc->kind) {
            fail_msg("%s: kind %d, expected %d", tc->path, rt.kind, tc->kind);
        }
        check_string("study", tc->study, rt.study, tc->path);
        check_string("series", tc->series, rt.series, tc->path);
        check_string("sop", tc->sop, rt.sop, tc->path);
        check_string("arg", tc->arg, rt.arg, tc->path);
        if (rt.thumbnail != tc->thumbnail) {
            fail_msg("%s: thumbnail %d, expected %d", tc->path, rt.thumbnail, tc->thumbnail);
        }
        pacs_arena_free(ar);
    }
}

static void test_shapes(void **state)
{
    (void)state;
    run(shapes, sizeof shapes / sizeof shapes[0]);
}

static void test_bad_paths(void **state)
{
    (void)state;
    run(bad, sizeof bad / sizeof bad[0]);
}

/* Only `len` bytes are read: the path need not end where the buffer does. */
static void test_length_bounds_the_path(void **state)
{
    (void)state;
    pacs_arena *ar = pacs_arena_new(1 << 20);
    pacs_route rt;
    const char *p = "/studies/" ST "/metadata?ignored";
    assert_int_equal(pacs_route_parse(p, strlen(p) - strlen("/metadata?ignored"), ar, &rt, NULL),
                     PACS_OK);
    assert_int_equal(rt.kind, PACS_ROUTE_RESOURCE);
    assert_string_equal(rt.study, ST);
    pacs_arena_free(ar);
}

/* Decoded strings live in the arena (blocks of 8 KiB): an arena that can hold none refuses
 * the path cleanly, with a message, and one block is enough for any path. */
static void test_arena_exhausted(void **state)
{
    (void)state;
    const char *p = INST "/bulkdata/00540016/0/00181072";
    pacs_arena *ar = pacs_arena_new(4096);
    assert_non_null(ar);
    pacs_route rt;
    pacs_errinfo ei;
    pacs_errinfo_clear(&ei);
    pacs_err err = pacs_route_parse(p, strlen(p), ar, &rt, &ei);
    assert_true(err == PACS_EINVAL || err == PACS_ENOMEM);
    assert_true(ei.msg[0] != '\0');
    pacs_arena_free(ar);
    ar = pacs_arena_new(8192);
    assert_int_equal(pacs_route_parse(p, strlen(p), ar, &rt, NULL), PACS_OK);
    assert_string_equal(rt.arg, "00540016/0/00181072");
    pacs_arena_free(ar);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shapes),
        cmocka_unit_test(test_bad_paths),
        cmocka_unit_test(test_length_bounds_the_path),
        cmocka_unit_test(test_arena_exhausted),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
