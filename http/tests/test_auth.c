// SPDX-License-Identifier: MIT
/*
 * Unit tests of DICOMweb authentication (auth.c) without a server: settings refused at open,
 * API keys and their scopes, anonymous principals with auth off and refusal with auth
 * required, where credentials are looked for (header, parameter and cookie, the last two on
 * GET only), share tokens through the store, JWT shapes refused before any key is tried, the
 * QIDO study limit in the query model, and the share cookie's attributes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "http/auth.h"

#define STUDY_A "1.2.826.0.1.3680043.8.498.10"
#define STUDY_B "1.2.826.0.1.3680043.8.498.20"
/* A well-formed hash value (of no key used here). */
#define H_READER "sha256:b1d4bd0b4c9ee7f0cdf6bc59b7dd2a1a8a3a2a1ef8f3ebb9c4a7d4e6e3bb4f9a"

typedef struct fixture {
    char dir[200];
    pacs_config *cfg;
    pacs_auth *a;
} fixture;

static void sha_hex(const char *s, char out[72])
{
    char cmd[300];
    snprintf(cmd, sizeof cmd, "printf %%s '%s' | sha256sum", s);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    char hex[65] = "";
    assert_int_equal(fscanf(p, "%64s", hex), 1);
    pclose(p);
    snprintf(out, 72, "sha256:%s", hex);
}

static void set(fixture *f, const char *k, const char *v)
{
    pacs_errinfo ei;
    assert_int_equal(pacs_config_set(f->cfg, k, v, &ei), PACS_OK);
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    const char *tmp = getenv("TMPDIR");
    snprintf(f->dir, sizeof f->dir, "%s/pacs-test-auth.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    assert_non_null(mkdtemp(f->dir));
    f->cfg = pacs_config_new();
    assert_non_null(f->cfg);
    char h[72], v[200];
    sha_hex("reader-key", h);
    snprintf(v, sizeof v, "%s read", h);
    set(f, "auth.key.reader", v);
    sha_hex("admin-key", h);
    snprintf(v, sizeof v, "%s read,write delete share", h);
    set(f, "auth.key.admin", v);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    pacs_auth_close(f->a);
    pacs_config_free(f->cfg);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

static void open_auth(fixture *f)
{
    pacs_errinfo ei;
    pacs_err err = pacs_auth_open(f->cfg, f->dir, &f->a, &ei);
    if (err != PACS_OK) {
        fail_msg("pacs_auth_open: %s", ei.msg);
    }
}

static pacs_err check(fixture *f, const char *authz, const char *qtok, const char *cookie, int get,
                      pacs_principal *p)
{
    pacs_auth_request in = {authz, qtok, cookie, get, NULL, 0, NULL, NULL, NULL};
    pacs_errinfo ei;
    return pacs_auth_check(f->a, &in, p, NULL, &ei);
}

static void test_bad_settings(void **state)
{
    fixture *f = *state;
    pacs_errinfo ei;
    const char *bad[] = {"sha256:abcd read", "md5:" H_READER, H_READER, H_READER " read admin",
                         H_READER "x read"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        set(f, "auth.key.bad", bad[i]);
        assert_int_equal(pacs_auth_open(f->cfg, f->dir, &f->a, &ei), PACS_EINVAL);
        assert_non_null(strstr(ei.msg, "auth.key.bad"));
    }
    set(f, "auth.key.bad", H_READER " read");
    set(f, "http.auth", "sometimes");
    assert_int_equal(pacs_auth_open(f->cfg, f->dir, &f->a, &ei), PACS_EINVAL);
    set(f, "http.auth", "required");
    set(f, "auth.jwt_keys", "/nonexistent/jwks.json");
    assert_int_equal(pacs_auth_open(f->cfg, f->dir, &f->a, &ei), PACS_EINVAL); /* no issuer */
    set(f, "auth.jwt_issuer", "https://idp.test");
    set(f, "auth.jwt_audience", "pacsd");
    assert_int_equal(pacs_auth_open(f->cfg, f->dir, &f->a, &ei), PACS_EINVAL);
    assert_non_null(strstr(ei.msg, "cannot open"));
    /* A JWKS of symmetric keys only gives no usable key. */
    char path[300];
    snprintf(path, sizeof path, "%s/jwks.json", f->dir);
    FILE *jf = fopen(path, "w");
    assert_non_null(jf);
    fputs("{\"keys\":[{\"kty\":\"oct\",\"k\":\"c2VjcmV0\"}]}", jf);
    fclose(jf);
    set(f, "auth.jwt_keys", path);
    assert_int_equal(pacs_auth_open(f->cfg, f->dir, &f->a, &ei), PACS_EINVAL);
    assert_non_null(strstr(ei.msg, "no RSA or EC public key"));
    assert_null(f->a);
}

static void test_api_keys(void **state)
{
    fixture *f = *state;
    pacs_principal p;
    set(f, "http.auth", "required");
    open_auth(f);
    assert_int_equal(check(f, "Bearer reader-key", NULL, NULL, 1, &p), PACS_OK);
    assert_int_equal(p.kind, PACS_PRINCIPAL_API_KEY);
    assert_int_equal(p.scopes, PACS_SCOPE_READ);
    assert_string_equal(p.name, "key:reader");
    assert_string_equal(p.study, "");
    assert_int_equal(check(f, "bearer   admin-key", NULL, NULL, 0, &p), PACS_OK);
    assert_int_equal(p.scopes,
                     PACS_SCOPE_READ | PACS_SCOPE_WRITE | PACS_SCOPE_DELETE | PACS_SCOPE_SHARE);
    assert_int_equal(check(f, "Bearer reader-key2", NULL, NULL, 1, &p), PACS_EDENIED);
    assert_int_equal(check(f, "Bearer ", NULL, NULL, 1, &p), PACS_EDENIED);
    assert_int_equal(check(f, "Basic cmVhZGVyLWtleQ==", NULL, NULL, 1, &p), PACS_EDENIED);
    assert_int_equal(check(f, "reader-key", NULL, NULL, 1, &p), PACS_EDENIED);
    /* An API key is no query parameter or cookie. */
    assert_int_equal(check(f, NULL, "reader-key", NULL, 1, &p), PACS_EDENIED);
    assert_int_equal(check(f, NULL, NULL, "pacs_share=reader-key", 1, &p), PACS_EDENIED);
    /* Nothing at all. */
    assert_int_equal(check(f, NULL, NULL, NULL, 1, &p), PACS_EDENIED);
}

static void test_anonymous(void **state)
{
    fixture *f = *state;
    pacs_principal p;
    open_auth(f); /* http.auth = off, the default */
    assert_false(pacs_auth_required(f->a));
    assert_int_equal(check(f, NULL, NULL, NULL, 0, &p), PACS_OK);
    assert_int_equal(p.kind, PACS_PRINCIPAL_ANONYMOUS);
    assert_int_equal(p.scopes, PACS_SCOPE_READ | PACS_SCOPE_WRITE | PACS_SCOPE_DELETE);
    assert_string_equal(p.study, "");
    /* Presented credentials still count, and still fail when bad. */
    assert_int_equal(check(f, "Bearer nonsense", NULL, NULL, 1, &p), PACS_EDENIED);
    assert_int_equal(check(f, "Bearer admin-key", NULL, NULL, 1, &p), PACS_OK);
    assert_true(p.scopes & PACS_SCOPE_SHARE);
}

static void test_share_tokens(void **state)
{
    fixture *f = *state;
    pacs_principal p;
    char tok[PACS_SHARE_TOKEN_LEN + 1], id[PACS_SHARE_ID_LEN + 1], hdr[80], cookie[200];
    set(f, "http.auth", "required");
    open_auth(f);
    assert_int_equal(pacs_shares_create(pacs_auth_shares(f->a), STUDY_A, (int64_t)time(NULL) + 60,
                                        "t", tok, sizeof tok, id, sizeof id, NULL),
                     PACS_OK);
    snprintf(hdr, sizeof hdr, "Bearer %s", tok);
    assert_int_equal(check(f, hdr, NULL, NULL, 1, &p), PACS_OK);
    assert_int_equal(p.kind, PACS_PRINCIPAL_SHARE);
    assert_int_equal(p.scopes, PACS_SCOPE_READ);
    assert_string_equal(p.study, STUDY_A);
    assert_int_equal(check(f, NULL, tok, NULL, 1, &p), PACS_OK);
    assert_string_equal(p.study, STUDY_A);
    assert_int_equal(check(f, NULL, tok, NULL, 0, &p), PACS_EDENIED); /* not on POST */
    snprintf(cookie, sizeof cookie, "a=1; pacs_share=%s; b=2", tok);
    assert_int_equal(check(f, NULL, NULL, cookie, 1, &p), PACS_OK);
    assert_string_equal(p.study, STUDY_A);
    assert_int_equal(check(f, NULL, NULL, cookie, 0, &p), PACS_EDENIED);
    snprintf(cookie, sizeof cookie, "xpacs_share=%s", tok);
    assert_int_equal(check(f, NULL, NULL, cookie, 1, &p), PACS_EDENIED);
    /* The header wins over the cookie, even when it is worse. */
    snprintf(cookie, sizeof cookie, "pacs_share=%s", tok);
    assert_int_equal(check(f, "Bearer nonsense", NULL, cookie, 1, &p), PACS_EDENIED);
    /* Revoked. */
    assert_int_equal(pacs_shares_revoke(pacs_auth_shares(f->a), id, NULL), PACS_OK);
    assert_int_equal(check(f, hdr, NULL, NULL, 1, &p), PACS_EDENIED);
    assert_int_equal(check(f, NULL, tok, NULL, 1, &p), PACS_EDENIED);
}

static void test_jwt_shapes(void **state)
{
    fixture *f = *state;
    pacs_principal p;
    open_auth(f); /* no auth.jwt_keys: every JWT is refused */
    const char *bad[] = {
        "Bearer eyJhbGciOiJub25lIn0.eyJzdWIiOiJ4In0.",      /* alg none */
        "Bearer eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiJ4In0.c2ln", /* HS256 */
        "Bearer a.b.c",
        "Bearer ..",
        "Bearer e30.e30.e30",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(check(f, bad[i], NULL, NULL, 1, &p), PACS_EDENIED);
    }
    char big[9000];
    memset(big, 'a', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    memcpy(big, "Bearer ", 7);
    assert_int_equal(check(f, big, NULL, NULL, 1, &p), PACS_EDENIED);
}

static void test_restrict_query(void **state)
{
    (void)state;
    pacs_principal open_p, lim;
    memset(&open_p, 0, sizeof open_p);
    memset(&lim, 0, sizeof lim);
    snprintf(lim.study, sizeof lim.study, "%s", STUDY_A);
    int empty = 7;
    pacs_query *q = pacs_query_new(PACS_LEVEL_SERIES);
    assert_int_equal(pacs_auth_restrict_query(&open_p, q, &empty, NULL), PACS_OK);
    assert_int_equal(empty, 0);
    assert_null(pacs_query_find_key(q, 0x0020000D));
    assert_int_equal(pacs_auth_restrict_query(&lim, q, &empty, NULL), PACS_OK);
    assert_int_equal(empty, 0);
    const pacs_query_key *k = pacs_query_find_key(q, 0x0020000D);
    assert_non_null(k);
    assert_int_equal(k->match, PACS_MATCH_SINGLE);
    assert_string_equal(k->value, STUDY_A);
    pacs_query_free(q);

    struct {
        const char *value;
        int empty;
    } cases[] = {{STUDY_B, 1},
                 {STUDY_A, 0},
                 {STUDY_B "\\" STUDY_A, 0},
                 {STUDY_B "\\1.2.3", 1},
                 {"1.2.826.0.1.3680043.8.498.1*", 1}, /* UI has no wildcards (PS3.4) */
                 {"1.2.3*", 1},
                 {"", 0}};
    /* The patient's counts would tell of other studies: refused, as return or matching key. */
    q = pacs_query_new(PACS_LEVEL_STUDY);
    assert_int_equal(pacs_query_include(q, 0x00201200, NULL), PACS_OK);
    assert_int_equal(pacs_auth_restrict_query(&lim, q, &empty, NULL), PACS_EINVAL);
    assert_int_equal(pacs_auth_restrict_query(&open_p, q, &empty, NULL), PACS_OK);
    pacs_query_free(q);
    q = pacs_query_new(PACS_LEVEL_INSTANCE);
    assert_int_equal(pacs_query_add(q, 0x00201204, NULL, "3", NULL), PACS_OK);
    assert_int_equal(pacs_auth_restrict_query(&lim, q, &empty, NULL), PACS_EINVAL);
    pacs_query_free(q);

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        q = pacs_query_new(PACS_LEVEL_STUDY);
        assert_int_equal(pacs_query_add(q, 0x0020000D, "UI", cases[i].value, NULL), PACS_OK);
        assert_int_equal(pacs_auth_restrict_query(&lim, q, &empty, NULL), PACS_OK);
        assert_int_equal(empty, cases[i].empty);
        if (!empty) {
            k = pacs_query_find_key(q, 0x0020000D);
            assert_string_equal(k->value, STUDY_A);
        }
        pacs_query_free(q);
    }
}

/* A patient's share: QIDO keeps to the studies the gate found for it, a study asked for that is
 * not among them gives nothing, and no study found gives nothing either. */
static void test_restrict_patient(void **state)
{
    (void)state;
    pacs_principal p;
    memset(&p, 0, sizeof p);
    p.kind = PACS_PRINCIPAL_SHARE;
    p.scope = "patient:S:SEQ:";
    p.studies = STUDY_A "\\" STUDY_B;
    assert_true(pacs_auth_limited(&p));
    assert_true(pacs_auth_reads_study(&p, STUDY_A));
    assert_true(pacs_auth_reads_study(&p, STUDY_B));
    assert_false(pacs_auth_reads_study(&p, "1.2.826.0.1.3680043.8.498"));
    assert_false(pacs_auth_reads_study(&p, "1.2.826.0.1.3680043.8.498.11"));
    assert_false(pacs_auth_reads_study(&p, NULL));
    struct {
        const char *value; /* the query's own StudyInstanceUID, NULL for none */
        const char *want;  /* the key after restriction, NULL for an empty answer */
    } cases[] = {{NULL, STUDY_A "\\" STUDY_B},
                 {"", STUDY_A "\\" STUDY_B},
                 {STUDY_B, STUDY_B},
                 {STUDY_B "\\1.2.3", STUDY_B},
                 {"1.2.3", NULL},
                 {"1.2.826.0.1.3680043.8.498.*", NULL}};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        pacs_query *q = pacs_query_new(PACS_LEVEL_INSTANCE);
        int empty = 7;
        if (cases[i].value) {
            assert_int_equal(pacs_query_add(q, 0x0020000D, "UI", cases[i].value, NULL), PACS_OK);
        }
        assert_int_equal(pacs_auth_restrict_query(&p, q, &empty, NULL), PACS_OK);
        assert_int_equal(empty, cases[i].want == NULL);
        if (cases[i].want) {
            const pacs_query_key *k = pacs_query_find_key(q, 0x0020000D);
            assert_non_null(k);
            pacs_query *w = pacs_query_new(PACS_LEVEL_INSTANCE);
            assert_int_equal(pacs_query_add(w, 0x0020000D, "UI", cases[i].want, NULL), PACS_OK);
            const pacs_query_key *kw = pacs_query_find_key(w, 0x0020000D);
            assert_int_equal(k->match, kw->match);
            assert_int_equal(k->n_list, kw->n_list);
            for (size_t j = 0; j < k->n_list; j++) {
                assert_string_equal(k->list[j], kw->list[j]);
            }
            if (k->match == PACS_MATCH_SINGLE) {
                assert_string_equal(k->value, cases[i].want);
            }
            pacs_query_free(w);
        }
        pacs_query_free(q);
    }
    /* No study granted now: nothing, whatever is asked. */
    p.studies = "";
    pacs_query *q = pacs_query_new(PACS_LEVEL_STUDY);
    int empty = 0;
    assert_int_equal(pacs_auth_restrict_query(&p, q, &empty, NULL), PACS_OK);
    assert_int_equal(empty, 1);
    assert_false(pacs_auth_reads_study(&p, STUDY_A));
    pacs_query_free(q);
    /* The patient's counts are refused as for one study. */
    p.studies = STUDY_A;
    q = pacs_query_new(PACS_LEVEL_STUDY);
    assert_int_equal(pacs_query_include(q, 0x00201202, NULL), PACS_OK);
    assert_int_equal(pacs_auth_restrict_query(&p, q, &empty, NULL), PACS_EINVAL);
    pacs_query_free(q);
}

static void test_cookie(void **state)
{
    (void)state;
    char buf[200];
    const char *tok = "AbCdEfGhIjKlMnOpQrStUvWxYz0123456789-_Ab";
    assert_int_equal(pacs_auth_cookie(tok, (int64_t)time(NULL) + 100, 1, buf, sizeof buf, NULL),
                     PACS_OK);
    assert_non_null(strstr(buf, "pacs_share=AbCdEf"));
    assert_non_null(strstr(buf, "; Path=/;"));
    assert_non_null(strstr(buf, "; HttpOnly; SameSite=Strict; Secure"));
    assert_int_equal(pacs_auth_cookie("short", 0, 0, buf, sizeof buf, NULL), PACS_EINVAL);
    assert_int_equal(pacs_auth_cookie(tok, 0, 0, buf, 20, NULL), PACS_EINVAL);
    assert_non_null(strstr(pacs_auth_cookie_clear(), "Max-Age=0"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_bad_settings, setup, teardown),
        cmocka_unit_test_setup_teardown(test_api_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_anonymous, setup, teardown),
        cmocka_unit_test_setup_teardown(test_share_tokens, setup, teardown),
        cmocka_unit_test_setup_teardown(test_jwt_shapes, setup, teardown),
        cmocka_unit_test(test_restrict_query),
        cmocka_unit_test(test_restrict_patient),
        cmocka_unit_test(test_cookie),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
