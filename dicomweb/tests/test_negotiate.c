// SPDX-License-Identifier: MIT
/*
 * Table tests of WADO-RS content negotiation (negotiate.c, PS3.18 8.7) on Accept headers as
 * clients send them (curl, dicomweb-client, OHIF): instances as stored or in the syntax a range
 * names, pixel data as stored (native always as little endian octet-stream, compressed in its
 * image media type) or in another syntax, bulk data, and metadata.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "dicomweb/negotiate.h"

#define EXPLICIT "1.2.840.10008.1.2.1"
#define RLE "1.2.840.10008.1.2.5"
#define J2K "1.2.840.10008.1.2.4.91"
#define JLS "1.2.840.10008.1.2.4.80"

#define DICOM_ANY "multipart/related; type=\"application/dicom\"; transfer-syntax=*"
#define DICOM "multipart/related; type=\"application/dicom\""
#define OCTET "multipart/related; type=\"application/octet-stream\""

typedef struct accept {
    pacs_media m[PACS_ACCEPT_MAX];
    size_t n;
} accept;

static accept parse(const char *header)
{
    accept a;
    pacs_errinfo ei;
    if (pacs_media_accept_parse(header, a.m, PACS_ACCEPT_MAX, &a.n, &ei) != PACS_OK) {
        fail_msg("%s: %s", header, ei.msg);
    }
    return a;
}

/* A list of instances stored in the given syntaxes (NULL-terminated). */
static pacs_resolve_list stored(const char *ts, ...)
{
    pacs_resolve_list l;
    memset(&l, 0, sizeof l);
    l.v = calloc(8, sizeof *l.v);
    va_list ap;
    va_start(ap, ts);
    for (const char *t = ts; t && l.n < 8; t = va_arg(ap, const char *)) {
        snprintf(l.v[l.n].ts, sizeof l.v[l.n].ts, "%s", t);
        l.v[l.n++].has_pixels = 1;
    }
    va_end(ap);
    return l;
}

static void test_instances_as_stored(void **state)
{
    (void)state;
    static const struct {
        const char *accept;
        int single_ok;
        int native; /* 1: instances stored Explicit VR LE; 0: one RLE, one JPEG 2000 */
        pacs_negotiate_how want;
    } cases[] = {
        {DICOM_ANY, 0, 0, PACS_NEGOTIATE_MULTIPART},
        {"*/*", 0, 0, PACS_NEGOTIATE_MULTIPART},
        {DICOM, 0, 1, PACS_NEGOTIATE_MULTIPART},
        {DICOM, 0, 0, PACS_NEGOTIATE_NONE},
        {DICOM "; transfer-syntax=" EXPLICIT, 0, 1, PACS_NEGOTIATE_MULTIPART},
        {DICOM "; transfer-syntax=" RLE, 0, 0, PACS_NEGOTIATE_NONE}, /* not both */
        {"application/dicom", 1, 1, PACS_NEGOTIATE_SINGLE},
        {"application/dicom", 0, 1, PACS_NEGOTIATE_NONE},
        {"application/dicom; transfer-syntax=*", 1, 0, PACS_NEGOTIATE_SINGLE},
        {"multipart/related; type=\"application/dicom+xml\"", 0, 1, PACS_NEGOTIATE_NONE},
        {"image/jpeg", 1, 1, PACS_NEGOTIATE_NONE},
        /* The first acceptable range decides, whatever comes before it. */
        {DICOM "; transfer-syntax=" JLS ", " DICOM_ANY ";q=0.5", 0, 0, PACS_NEGOTIATE_MULTIPART},
    };
    pacs_resolve_list native = stored(EXPLICIT, EXPLICIT, NULL);
    pacs_resolve_list mixed = stored(RLE, J2K, NULL);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        accept a = parse(cases[i].accept);
        pacs_negotiate_how got = pacs_negotiate_instances(
            a.m, a.n, cases[i].native ? &native : &mixed, cases[i].single_ok);
        if (got != cases[i].want) {
            fail_msg("'%s': %d, want %d", cases[i].accept, got, cases[i].want);
        }
    }
    pacs_resolve_list_free(&native);
    pacs_resolve_list_free(&mixed);
}

static void test_instance_target(void **state)
{
    (void)state;
    static const struct {
        const char *accept;
        int single_ok;
        const char *want;
        pacs_negotiate_how how;
    } cases[] = {
        {DICOM "; transfer-syntax=1.2.840.10008.1.2.4.201", 0, "1.2.840.10008.1.2.4.201",
         PACS_NEGOTIATE_MULTIPART},
        {DICOM "; transfer-syntax=1.2.3.4", 0, NULL, PACS_NEGOTIATE_NONE},
        {DICOM "; transfer-syntax=1.2.3.4, " DICOM "; transfer-syntax=" RLE, 0, RLE,
         PACS_NEGOTIATE_MULTIPART},
        {"application/dicom; transfer-syntax=" JLS, 1, JLS, PACS_NEGOTIATE_SINGLE},
        {"application/dicom; transfer-syntax=" JLS, 0, NULL, PACS_NEGOTIATE_NONE},
        {"multipart/related; type=\"image/jpeg\"; transfer-syntax=" JLS, 0, NULL,
         PACS_NEGOTIATE_NONE},
        {DICOM_ANY, 0, NULL, PACS_NEGOTIATE_NONE},
        /* No transfer-syntax: Explicit VR Little Endian (PS3.18 Table 8.7.3-2). */
        {DICOM, 0, EXPLICIT, PACS_NEGOTIATE_MULTIPART},
        {"multipart/related", 0, EXPLICIT, PACS_NEGOTIATE_MULTIPART},
        {"application/dicom", 1, EXPLICIT, PACS_NEGOTIATE_SINGLE},
        {"application/dicom", 0, NULL, PACS_NEGOTIATE_NONE},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        accept a = parse(cases[i].accept);
        pacs_negotiate_how how = PACS_NEGOTIATE_NONE;
        const char *got = pacs_negotiate_instance_target(a.m, a.n, cases[i].single_ok, &how);
        if ((got == NULL) != (cases[i].want == NULL) ||
            (got && (strcmp(got, cases[i].want) != 0 || how != cases[i].how))) {
            fail_msg("'%s': %s (%d), want %s (%d)", cases[i].accept, got ? got : "NULL", how,
                     cases[i].want ? cases[i].want : "NULL", cases[i].how);
        }
    }
}

static void test_pixels_as_stored(void **state)
{
    (void)state;
    static const struct {
        const char *accept;
        const char *ts;
        int native, one;
        pacs_negotiate_how want;
        const char *part;
    } cases[] = {
        {OCTET, EXPLICIT, 1, 1, PACS_NEGOTIATE_MULTIPART,
         "application/octet-stream; transfer-syntax=" EXPLICIT},
        /* Big endian stored native pixels go out little endian: still Explicit VR LE. */
        {OCTET "; transfer-syntax=*", "1.2.840.10008.1.2.2", 1, 1, PACS_NEGOTIATE_MULTIPART,
         "application/octet-stream; transfer-syntax=" EXPLICIT},
        {"application/octet-stream", EXPLICIT, 1, 1, PACS_NEGOTIATE_SINGLE,
         "application/octet-stream; transfer-syntax=" EXPLICIT},
        {"application/octet-stream", EXPLICIT, 1, 0, PACS_NEGOTIATE_NONE, NULL},
        {"multipart/related; type=\"image/dicom-rle\"", RLE, 0, 0, PACS_NEGOTIATE_MULTIPART,
         "image/dicom-rle; transfer-syntax=" RLE},
        {OCTET "; transfer-syntax=*", RLE, 0, 1, PACS_NEGOTIATE_MULTIPART,
         "application/octet-stream; transfer-syntax=" RLE},
        {OCTET, RLE, 0, 1, PACS_NEGOTIATE_NONE, NULL}, /* octet-stream means decoded */
        /* image/jp2 means 4.90 unless 4.91 is named. */
        {"multipart/related; type=\"image/jp2\"", J2K, 0, 1, PACS_NEGOTIATE_NONE, NULL},
        {"multipart/related; type=\"image/jp2\"; transfer-syntax=" J2K, J2K, 0, 1,
         PACS_NEGOTIATE_MULTIPART, "image/jp2; transfer-syntax=" J2K},
        {"*/*", J2K, 0, 1, PACS_NEGOTIATE_MULTIPART, "image/jp2; transfer-syntax=" J2K},
        {"image/jpeg", RLE, 0, 1, PACS_NEGOTIATE_NONE, NULL},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        accept a = parse(cases[i].accept);
        char part[160] = "", related[80] = "";
        pacs_negotiate_how got =
            pacs_negotiate_pixels(a.m, a.n, cases[i].ts, cases[i].native, cases[i].one, part,
                                  sizeof part, related, sizeof related);
        if (got != cases[i].want || (cases[i].part && strcmp(part, cases[i].part) != 0)) {
            fail_msg("'%s' for %s: %d '%s', want %d '%s'", cases[i].accept, cases[i].ts, got, part,
                     cases[i].want, cases[i].part ? cases[i].part : "");
        }
    }
}

static void test_pixels_target(void **state)
{
    (void)state;
    static const struct {
        const char *accept;
        int one;
        const char *want, *media;
        pacs_negotiate_how how;
    } cases[] = {
        {"multipart/related; type=\"image/jls\"", 0, JLS, "image/jls", PACS_NEGOTIATE_MULTIPART},
        {"multipart/related; type=\"image/jphc\"", 0, "1.2.840.10008.1.2.4.201", "image/jphc",
         PACS_NEGOTIATE_MULTIPART},
        {"multipart/related; type=\"image/jpeg\"", 0, "1.2.840.10008.1.2.4.70", "image/jpeg",
         PACS_NEGOTIATE_MULTIPART},
        /* No transfer-syntax: Explicit VR Little Endian, decoded (PS3.18 Table 8.7.3-4). */
        {OCTET, 0, EXPLICIT, "application/octet-stream", PACS_NEGOTIATE_MULTIPART},
        {"application/octet-stream", 1, EXPLICIT, "application/octet-stream",
         PACS_NEGOTIATE_SINGLE},
        {"application/octet-stream", 0, NULL, NULL, PACS_NEGOTIATE_NONE},
        {"image/jls", 1, NULL, NULL, PACS_NEGOTIATE_NONE},
        {OCTET "; transfer-syntax=1.2.840.10008.1.2.4.201", 0, "1.2.840.10008.1.2.4.201",
         "application/octet-stream", PACS_NEGOTIATE_MULTIPART},
        {OCTET "; transfer-syntax=1.2.3.4", 0, NULL, NULL, PACS_NEGOTIATE_NONE},
        /* A syntax the image type does not carry (Table 8.7.3-5). */
        {"multipart/related; type=\"image/jp2\"; transfer-syntax=1.2.840.10008.1.2.4.50", 0, NULL,
         NULL, PACS_NEGOTIATE_NONE},
        {"multipart/related; type=\"image/gif\"", 0, NULL, NULL, PACS_NEGOTIATE_NONE},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        accept a = parse(cases[i].accept);
        const char *media = NULL;
        pacs_negotiate_how how = PACS_NEGOTIATE_NONE;
        const char *got = pacs_negotiate_pixels_target(a.m, a.n, cases[i].one, &media, &how);
        if ((got == NULL) != (cases[i].want == NULL) ||
            (got && (strcmp(got, cases[i].want) != 0 || strcmp(media, cases[i].media) != 0 ||
                     how != cases[i].how))) {
            fail_msg("'%s': %s %s (%d), want %s %s (%d)", cases[i].accept, got ? got : "NULL",
                     media ? media : "", how, cases[i].want ? cases[i].want : "NULL",
                     cases[i].media ? cases[i].media : "", cases[i].how);
        }
    }
}

static void test_bulk_and_json(void **state)
{
    (void)state;
    accept a = parse("application/octet-stream");
    assert_int_equal(pacs_negotiate_bulk(a.m, a.n), PACS_NEGOTIATE_SINGLE);
    a = parse(OCTET);
    assert_int_equal(pacs_negotiate_bulk(a.m, a.n), PACS_NEGOTIATE_MULTIPART);
    a = parse("*/*");
    assert_int_equal(pacs_negotiate_bulk(a.m, a.n), PACS_NEGOTIATE_MULTIPART);
    a = parse("application/json");
    assert_int_equal(pacs_negotiate_bulk(a.m, a.n), PACS_NEGOTIATE_NONE);
    assert_true(pacs_negotiate_json(a.m, a.n));
    a = parse("application/dicom+json");
    assert_true(pacs_negotiate_json(a.m, a.n));
    a = parse("*/*");
    assert_true(pacs_negotiate_json(a.m, a.n));
    a = parse("multipart/related; type=\"application/dicom+xml\"");
    assert_false(pacs_negotiate_json(a.m, a.n));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_instances_as_stored), cmocka_unit_test(test_instance_target),
        cmocka_unit_test(test_pixels_as_stored),    cmocka_unit_test(test_pixels_target),
        cmocka_unit_test(test_bulk_and_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
