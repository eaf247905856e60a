// SPDX-License-Identifier: MIT
/*
 * Table tests for forwarding rules (`route.NAME = ...`, parsed by pacs/base/config.c) and the
 * reloadable AE table (dimse/aetable.c): parsing, refusal of bad rules, matching, and a
 * reload that replaces everything at once. Single-threaded.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "dimse/aetable.h"

static pacs_config *load(const char *text, pacs_err *err)
{
    pacs_config *cfg = pacs_config_new();
    assert_non_null(cfg);
    pacs_errinfo ei;
    *err = pacs_config_load_text(cfg, text, strlen(text), "test", &ei);
    if (*err == PACS_OK) {
        *err = pacs_config_finish(cfg, &ei);
    }
    return cfg;
}

static void test_bad_rules_refused(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "route.r = \n",                              /* no destination */
        "route.r = NOWHERE\n",                       /* not a known AE */
        "ae.A = h:1\nroute.r = A modality\n",        /* not condition=values */
        "ae.A = h:1\nroute.r = A modaliti=CT\n",     /* unknown condition */
        "ae.A = h:1\nroute.r = A modality=\n",       /* empty list */
        "ae.A = h:1\nroute.r = A modality=CT,,MR\n", /* empty item */
        "ae.A = h:1\nroute.r = A calling=CT1,\n",    /* trailing comma */
        "ae.A = h:1\nroute.r = ABCDEFGHIJKLMNOPQ\n", /* AE title too long */
        "ae.A = h:1\nforward.retry_min = 10\nforward.retry_max = 5\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        pacs_err err;
        pacs_config *cfg = load(bad[i], &err);
        if (err != PACS_EINVAL) {
            fail_msg("accepted: %s", bad[i]);
        }
        pacs_config_free(cfg);
    }
}

typedef struct hits {
    char dests[8][17];
    char rules[8][65];
    size_t n;
} hits;

static void collect(void *ctx, const char *rule, const char *dest)
{
    hits *h = ctx;
    if (h->n < 8) {
        strcpy(h->dests[h->n], dest);
        strcpy(h->rules[h->n], rule);
        h->n++;
    }
}

/* A table loaded from a valid configuration text. */
static pacs_aetable *table_of(const char *text)
{
    pacs_err err;
    pacs_config *cfg = load(text, &err);
    assert_int_equal(err, PACS_OK);
    pacs_aetable *t = pacs_aetable_new();
    assert_non_null(t);
    pacs_errinfo ei;
    assert_int_equal(pacs_aetable_load(t, cfg, &ei), PACS_OK);
    pacs_config_free(cfg);
    return t;
}

static size_t route(pacs_aetable *t, const char *calling, const char *modality, const char *cls,
                    hits *h)
{
    memset(h, 0, sizeof *h);
    pacs_aetable_route_input in = {calling, modality, cls, NULL, NULL, NULL};
    return pacs_aetable_route(t, &in, collect, h);
}

/* The archive's side of study_from, as a list of the study's sources; counts the questions. */
typedef struct origins {
    const char *sources; /* comma-separated */
    int asked;
} origins;

static int study_from(void *ctx, const char *name)
{
    origins *o = ctx;
    o->asked++;
    return pacs_aetable_list_has(o->sources, name);
}

static void test_study_from(void **state)
{
    (void)state;
    pacs_aetable *t =
        table_of("web.DIST_A = https://a/dw\n"
                 "web.DIST_B = https://b/dw\n"
                 "ae.ARCH = archive.local:11112\n"
                 "route.back-a = DIST_A modality=SR study_from=key:district-a\n"
                 "route.back-b = DIST_B modality=SR study_from=key:district-b,key:b2\n"
                 "route.all = ARCH\n");
    hits h;
    memset(&h, 0, sizeof h);
    /* A report written at central (by user:dr) in a study district B sent: DIST_B only. */
    origins o = {"key:district-b", 0};
    pacs_aetable_route_input in = {"",        "SR",       "1.2.840.10008.5.1.4.1.1.88.11",
                                   "user:dr", study_from, &o};
    assert_int_equal(pacs_aetable_route(t, &in, collect, &h), 2);
    assert_string_equal(h.dests[0], "DIST_B");
    assert_string_equal(h.dests[1], "ARCH");
    assert_true(o.asked >= 2);
    /* Only rules whose other conditions hold ask the archive: a CT asks nothing. */
    memset(&h, 0, sizeof h);
    o.asked = 0;
    in.modality = "CT";
    assert_int_equal(pacs_aetable_route(t, &in, collect, &h), 1);
    assert_string_equal(h.dests[0], "ARCH");
    assert_int_equal(o.asked, 0);
    /* The instance's own credential matches without a question; the second name of a list. */
    memset(&h, 0, sizeof h);
    in.modality = "SR";
    in.source_http = "key:b2";
    o.sources = "";
    assert_int_equal(pacs_aetable_route(t, &in, collect, &h), 2);
    assert_string_equal(h.dests[0], "DIST_B");
    /* A study from nobody named: neither district. */
    memset(&h, 0, sizeof h);
    in.source_http = NULL;
    o.sources = "key:district-c";
    assert_int_equal(pacs_aetable_route(t, &in, collect, &h), 1);
    assert_string_equal(h.dests[0], "ARCH");
    /* Without a lookup, only the instance's own credential counts. */
    memset(&h, 0, sizeof h);
    in.source_http = "key:district-a";
    in.study_from = NULL;
    assert_int_equal(pacs_aetable_route(t, &in, collect, &h), 2);
    assert_string_equal(h.dests[0], "DIST_A");
    pacs_aetable_free(t);
}

static void test_matching(void **state)
{
    (void)state;
    pacs_err err;
    pacs_errinfo ei;
    pacs_aetable *t = table_of("ae.REF = 10.0.0.5:104\n"
                               "ae.ARCH = archive.local:11112\n"
                               "route.ct = REF modality=CT,MR\n"
                               "route.from-ct1 = ARCH calling=CT1\n"
                               "route.sc = REF sop_class=1.2.840.10008.5.1.4.1.1.7 calling=WS\n"
                               "route.ct-again = REF modality=CT\n");

    hits h;
    /* CT from anywhere goes to REF once, though two rules name it. */
    assert_int_equal(route(t, "STORESCU", "CT", "1.2.840.10008.5.1.4.1.1.2", &h), 1);
    assert_string_equal(h.dests[0], "REF");
    assert_string_equal(h.rules[0], "ct");
    /* MR from CT1: REF by modality, ARCH by calling AE. */
    assert_int_equal(route(t, "CT1", "MR", "1.2.840.10008.5.1.4.1.1.4", &h), 2);
    assert_string_equal(h.dests[0], "REF");
    assert_string_equal(h.dests[1], "ARCH");
    /* Every condition of a rule must hold. */
    assert_int_equal(route(t, "WS", "OT", "1.2.840.10008.5.1.4.1.1.7", &h), 1);
    assert_string_equal(h.rules[0], "sc");
    assert_int_equal(route(t, "OTHER", "OT", "1.2.840.10008.5.1.4.1.1.7", &h), 0);
    /* An absent modality matches no modality list. */
    assert_int_equal(route(t, "", "", "1.2.840.10008.5.1.4.1.1.2", &h), 0);

    pacs_remote_ae ae;
    assert_true(pacs_aetable_find(t, " ARCH ", &ae));
    assert_string_equal(ae.host, "archive.local");
    assert_int_equal(ae.port, 11112);
    assert_false(pacs_aetable_find(t, "NOBODY", &ae));

    /* A reload replaces AEs and rules together. */
    pacs_config *cfg = load("ae.NEW = 127.0.0.1:4242\nroute.all = NEW\n", &err);
    assert_int_equal(err, PACS_OK);
    assert_int_equal(pacs_aetable_load(t, cfg, &ei), PACS_OK);
    pacs_config_free(cfg);
    assert_false(pacs_aetable_find(t, "REF", &ae));
    assert_true(pacs_aetable_find(t, "NEW", &ae));
    assert_int_equal(route(t, "X", "CT", "1.2.3", &h), 1);
    assert_string_equal(h.dests[0], "NEW");
    size_t n_aes = 0, n_routes = 0;
    pacs_aetable_counts(t, &n_aes, &n_routes);
    assert_int_equal(n_aes, 1);
    assert_int_equal(n_routes, 1);
    pacs_aetable_free(t);
}

static void test_list_has(void **state)
{
    (void)state;
    assert_true(pacs_aetable_list_has("CT,MR", "MR"));
    assert_true(pacs_aetable_list_has("CT, MR ", " MR"));
    assert_false(pacs_aetable_list_has("CT,MR", "M"));
    assert_false(pacs_aetable_list_has("CT,MR", ""));
    assert_false(pacs_aetable_list_has("", "CT"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_rules_refused),
        cmocka_unit_test(test_matching),
        cmocka_unit_test(test_study_from),
        cmocka_unit_test(test_list_has),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
