// SPDX-License-Identifier: MIT
/*
 * Unit tests of a patient's share's subject (share_scope.c): what pacs_share_scope_format
 * writes, pacs_share_scope_parse reads back exactly (IDs with every printable character, an
 * empty issuer, the most studies), and anything else is refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "storage/share_scope.h"

static void round_trip(const pacs_share_scope *in)
{
    char subject[PACS_SHARE_SUBJECT_MAX + 1];
    pacs_share_scope *out = calloc(1, sizeof *out);
    assert_non_null(out);
    assert_int_equal(pacs_share_scope_format(in, subject, sizeof subject, NULL), PACS_OK);
    assert_true(pacs_share_scope_is_patient(subject));
    for (const char *p = subject; *p; p++) {
        assert_true(*p > 0x20 && *p < 0x7f); /* what the share store accepts */
    }
    assert_int_equal(pacs_share_scope_parse(subject, out, NULL), PACS_OK);
    assert_string_equal(out->patient_id, in->patient_id);
    assert_string_equal(out->issuer, in->issuer);
    assert_int_equal(out->later, in->later);
    assert_int_equal(out->n_studies, in->later ? 0 : in->n_studies);
    for (size_t i = 0; i < out->n_studies; i++) {
        assert_string_equal(out->studies[i], in->studies[i]);
    }
    free(out);
}

static void test_round_trip(void **state)
{
    (void)state;
    pacs_share_scope *sc = calloc(1, sizeof *sc);
    assert_non_null(sc);
    snprintf(sc->patient_id, sizeof sc->patient_id, "GD4790123456789");
    snprintf(sc->issuer, sizeof sc->issuer, "BHXH");
    sc->n_studies = 2;
    snprintf(sc->studies[0], sizeof sc->studies[0], "1.2.3.4");
    snprintf(sc->studies[1], sizeof sc->studies[1], "1.2.826.0.1.3680043.10.1347.94.3");
    round_trip(sc);
    sc->later = 1;
    round_trip(sc);
    /* Spaces, colons, commas, quotes and UTF-8 in the ID; no issuer. */
    snprintf(sc->patient_id, sizeof sc->patient_id, "Mã: 12,3 \"Đ\"^=");
    sc->issuer[0] = '\0';
    sc->later = 0;
    round_trip(sc);
    /* 64 characters each, and the most studies with the longest UIDs: it still fits. */
    memset(sc->patient_id, 'x', 64);
    sc->patient_id[64] = '\0';
    memset(sc->issuer, 'y', 64);
    sc->issuer[64] = '\0';
    sc->n_studies = PACS_SHARE_SCOPE_MAX_STUDIES;
    for (size_t i = 0; i < sc->n_studies; i++) {
        snprintf(sc->studies[i], sizeof sc->studies[i], "1.%062zu", i);
    }
    round_trip(sc);
    free(sc);
}

static void test_refused(void **state)
{
    (void)state;
    pacs_share_scope out;
    memset(&out, 0x5a, sizeof out);
    static const char *const bad[] = {
        "1.2.3.4",                    /* a study's subject */
        "patient:",                   /* nothing after the prefix */
        "patient:L:",                 /* fields missing */
        "patient:X:R0Q::",            /* unknown mode */
        "patient:LL:R0Q::",           /* a longer mode */
        "patient:L::QkhYSA:",         /* no patient ID */
        "patient:L:R0Q*:QkhYSA:",     /* not base64url */
        "patient:L:R0Q:QkhYSA:1.2.3", /* studies with "later" */
        "patient:S:R0Q::1..2",        /* a malformed UID */
        "patient:S:R0Q::1.2,",        /* an empty UID */
        "patient:S:R0Q::1.2.x",       /* not a UID */
        "patient:S:AA::1.2",          /* an ID with a NUL */
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        pacs_errinfo ei;
        assert_int_equal(pacs_share_scope_parse(bad[i], &out, &ei), PACS_EINVAL);
        assert_int_equal(((unsigned char *)&out)[0], 0x5a); /* nothing written */
    }
    assert_false(pacs_share_scope_is_patient("1.2.3"));
    assert_false(pacs_share_scope_is_patient(NULL));
    /* One study too many. */
    char subject[PACS_SHARE_SUBJECT_MAX + 1];
    int n = snprintf(subject, sizeof subject, "patient:S:R0Q::");
    for (int i = 0; i <= PACS_SHARE_SCOPE_MAX_STUDIES; i++) {
        n += snprintf(subject + n, sizeof subject - (size_t)n, "%s1.2.%d", i ? "," : "", i);
    }
    assert_int_equal(pacs_share_scope_parse(subject, &out, NULL), PACS_EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_refused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
