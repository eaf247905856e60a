// SPDX-License-Identifier: MIT
/*
 * Unit tests of the index's records beside the DICOM hierarchy (index.h), on SQLite and
 * PostgreSQL as test_index.c (index_fixture.h): the forwarding queue (claims and leases on a
 * shared index), share records (with their copy into another index), intents and the
 * release of objects, and the HTTP credential instances came with (routes' study_from; carried
 * by the copy into another index).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "storage/index.h"
#include "storage/tests/index_fixture.h"

/* ---- the forwarding queue ---- */

typedef struct fwd_rows {
    pacs_fwd_entry e[8];
    size_t n;
} fwd_rows;

static int fwd_cb(void *ctx, const pacs_fwd_entry *e)
{
    fwd_rows *r = ctx;
    assert_true(r->n < 8);
    r->e[r->n++] = *e;
    return 0;
}

static fwd_rows due(fixture *f, int64_t now)
{
    fwd_rows r;
    memset(&r, 0, sizeof r);
    assert_int_equal(pacs_index_fwd_due(f->idx, now, 10, fwd_cb, &r, NULL), PACS_OK);
    return r;
}

static fwd_rows listed(fixture *f, int state)
{
    fwd_rows r;
    memset(&r, 0, sizeof r);
    assert_int_equal(pacs_index_fwd_list(f->idx, state, fwd_cb, &r, NULL), PACS_OK);
    return r;
}

static void test_forwarding_queue(void **state)
{
    fixture *f = *state;
    load(f);
    char obj[PACS_OBJECT_KEY_LEN + 1], other[PACS_OBJECT_KEY_LEN + 1];
    key_of("1.1.1.1", obj);
    key_of("elsewhere", other);
    int added = -1;
    assert_int_equal(
        pacs_index_fwd_enqueue(f->idx, "DEST", "r1", "1.1.1.1", obj, 1000, &added, NULL), PACS_OK);
    assert_int_equal(added, 1);
    assert_int_equal(
        pacs_index_fwd_enqueue(f->idx, "DEST", "r1", "1.1.1.1", obj, 1001, &added, NULL), PACS_OK);
    assert_int_equal(added, 0); /* pending already */
    assert_int_equal(
        pacs_index_fwd_enqueue(f->idx, "DEST", "r2", "9.9.9", other, 1000, &added, NULL), PACS_OK);
    assert_int_equal(added, 1);
    assert_int_equal(due(f, 999).n, 0);
    fwd_rows r = due(f, 1000);
    assert_int_equal(r.n, 2);
    assert_string_equal(r.e[0].sop_uid, "1.1.1.1"); /* by destination, then age */
    assert_string_equal(r.e[0].sop_class, CT);
    assert_string_equal(r.e[0].object, obj);
    assert_string_equal(r.e[0].rule, "r1");
    assert_int_equal(r.e[0].state, PACS_FWD_PENDING);
    assert_string_equal(r.e[1].sop_uid, "9.9.9"); /* no longer (never) stored */
    assert_string_equal(r.e[1].object, "");
    /* A shared index leases what it hands out; one process gets the entries again. */
    assert_int_equal(due(f, 1000).n, on_pg ? 0 : 2);
    pacs_fwd_update u[2] = {{r.e[0].id, PACS_FWD_DONE, 1, 0, NULL, 0, 0},
                            {r.e[1].id, PACS_FWD_FAILED, 3, 0, "refused", 0, 0}};
    assert_int_equal(pacs_index_fwd_update(f->idx, u, 2, NULL), PACS_OK);
    assert_int_equal(due(f, 5000).n, 0);
    r = listed(f, PACS_FWD_DONE);
    assert_int_equal(r.n, 1);
    assert_int_equal(r.e[0].attempts, 1);
    r = listed(f, PACS_FWD_FAILED);
    assert_int_equal(r.n, 1);
    assert_string_equal(r.e[0].error, "refused");
    assert_int_equal(listed(f, -1).n, 2);
    /* Delivered: not again for the same object; a failed one comes back with a new store. */
    assert_int_equal(
        pacs_index_fwd_enqueue(f->idx, "DEST", "r1", "1.1.1.1", obj, 2000, &added, NULL), PACS_OK);
    assert_int_equal(added, 0);
    uint64_t n = 99;
    assert_int_equal(pacs_index_fwd_retry(f->idx, u[0].id, 3000, &n, NULL), PACS_OK);
    assert_int_equal(n, 0); /* delivered entries are not retried */
    assert_int_equal(pacs_index_fwd_retry(f->idx, 0, 3000, &n, NULL), PACS_OK);
    assert_int_equal(n, 1);
    r = listed(f, PACS_FWD_PENDING);
    assert_int_equal(r.n, 1);
    assert_int_equal(r.e[0].attempts, 0);
    assert_int_equal(r.e[0].next_try, 3000);
    assert_string_equal(r.e[0].error, "refused"); /* the last error, until the next try */
}

/* ---- share records ---- */

typedef struct share_rows {
    char ids[8][16];
    char studies[8][65];
    unsigned char hash[8][PACS_INDEX_SHARE_HASH_LEN];
    int64_t revoked_at[8];
    int revoked[8];
    size_t n;
} share_rows;

static int share_cb(void *ctx, const pacs_index_share *s)
{
    share_rows *r = ctx;
    assert_true(r->n < 8);
    assert_int_equal(s->token_sha256_len, PACS_INDEX_SHARE_HASH_LEN);
    snprintf(r->ids[r->n], sizeof r->ids[r->n], "%s", s->id);
    snprintf(r->studies[r->n], sizeof r->studies[r->n], "%s", s->study_uid);
    memcpy(r->hash[r->n], s->token_sha256, PACS_INDEX_SHARE_HASH_LEN);
    r->revoked_at[r->n] = s->revoked_at;
    r->revoked[r->n] = s->revoked;
    r->n++;
    return 0;
}

static share_rows shares_of(pacs_index *idx, const char *study)
{
    share_rows r;
    memset(&r, 0, sizeof r);
    assert_int_equal(pacs_index_share_list(idx, study, share_cb, &r, NULL), PACS_OK);
    return r;
}

static void test_shares(void **state)
{
    fixture *f = *state;
    unsigned char h[4][PACS_INDEX_SHARE_HASH_LEN];
    for (int i = 0; i < 4; i++) {
        for (int b = 0; b < PACS_INDEX_SHARE_HASH_LEN; b++) {
            h[i][b] = (unsigned char)(b * 7 + i); /* a NUL byte among them */
        }
    }
    pacs_index_share s[4] = {
        {"share-one", h[0], 32, "1.2.3", "a", 100, 900, 0, 0},
        {"share-two", h[1], 32, "1.2.3", "", 100, 900, 0, 0},
        {"share-three", h[2], 32, "1.2.4", "b", 50, 900, 1, 60},
        {"share-four", h[3], 32, "1.2.4", "c", 200, 900, 0, 0},
    };
    pacs_errinfo ei;
    assert_int_equal(pacs_index_share_add(f->idx, &s[0], &ei), PACS_OK);
    assert_int_equal(pacs_index_share_add(f->idx, &s[0], &ei), PACS_EEXIST);
    uint64_t n = 99;
    assert_int_equal(pacs_index_share_import(f->idx, s, 3, &n, NULL), PACS_OK);
    assert_int_equal(n, 2); /* the first is known */
    assert_int_equal(pacs_index_share_add(f->idx, &s[3], NULL), PACS_OK);
    /* Newest first; among equal times, the later made first. */
    share_rows r = shares_of(f->idx, NULL);
    assert_int_equal(r.n, 4);
    assert_string_equal(r.ids[0], "share-four");
    assert_string_equal(r.ids[1], "share-two");
    assert_string_equal(r.ids[2], "share-one");
    assert_string_equal(r.ids[3], "share-three");
    assert_memory_equal(r.hash[1], h[1], PACS_INDEX_SHARE_HASH_LEN);
    assert_true(r.revoked[3] && r.revoked_at[3] == 60);
    assert_int_equal(shares_of(f->idx, "1.2.4").n, 2);
    assert_int_equal(shares_of(f->idx, "9.9").n, 0);
    memset(&r, 0, sizeof r);
    int found = -1;
    assert_int_equal(pacs_index_share_get(f->idx, "share-two", share_cb, &r, &found, NULL),
                     PACS_OK);
    assert_int_equal(found, 1);
    assert_string_equal(r.studies[0], "1.2.3");
    assert_int_equal(pacs_index_share_get(f->idx, "share-none", share_cb, &r, &found, NULL),
                     PACS_OK);
    assert_int_equal(found, 0);
    assert_int_equal(r.n, 1);
    /* By id (again: still one, the first time kept), by study (those not yet revoked), all. */
    assert_int_equal(pacs_index_share_revoke(f->idx, "share-one", NULL, 300, &n, NULL), PACS_OK);
    assert_int_equal(n, 1);
    assert_int_equal(pacs_index_share_revoke(f->idx, "share-one", NULL, 400, &n, NULL), PACS_OK);
    assert_int_equal(n, 1);
    assert_int_equal(pacs_index_share_revoke(f->idx, "share-none", NULL, 400, &n, NULL), PACS_OK);
    assert_int_equal(n, 0);
    assert_int_equal(pacs_index_share_revoke(f->idx, NULL, "1.2.3", 500, &n, NULL), PACS_OK);
    assert_int_equal(n, 1);
    r = shares_of(f->idx, "1.2.3");
    assert_true(r.revoked[0] && r.revoked_at[0] == 500); /* share-two */
    assert_true(r.revoked[1] && r.revoked_at[1] == 300); /* share-one */
    assert_int_equal(pacs_index_share_revoke(f->idx, NULL, NULL, 600, &n, NULL), PACS_OK);
    assert_int_equal(n, 1); /* share-four */
    /* Copied into another index (SQLite), all of them, in the same order. */
    char loc[300];
    snprintf(loc, sizeof loc, "%s/copy.sqlite", f->dir);
    pacs_index *copy = NULL;
    assert_int_equal(pacs_index_open(loc, &copy, NULL), PACS_OK);
    assert_int_equal(pacs_index_share_copy(f->idx, copy, &n, NULL), PACS_OK);
    assert_int_equal(n, 4);
    share_rows a = shares_of(f->idx, NULL), b = shares_of(copy, NULL);
    assert_memory_equal(&a, &b, sizeof a);
    pacs_index_close(copy);
}

/* ---- intents and the release of objects ---- */

typedef struct released {
    int calls;
    char object[PACS_OBJECT_KEY_LEN + 1];
} released;

static pacs_err release_cb(void *ctx, const char *object, pacs_errinfo *ei)
{
    (void)ei;
    released *r = ctx;
    r->calls++;
    snprintf(r->object, sizeof r->object, "%s", object);
    return PACS_OK;
}

static int release(fixture *f, const char *object, released *r)
{
    int removed = -1;
    memset(r, 0, sizeof *r);
    assert_int_equal(pacs_index_object_release(f->idx, object, release_cb, r, &removed, NULL),
                     PACS_OK);
    assert_int_equal(removed, r->calls);
    return removed;
}

static void test_intents_and_release(void **state)
{
    fixture *f = *state;
    assert_int_equal(pacs_index_shared(f->idx), on_pg);
    load(f);
    char stored[PACS_OBJECT_KEY_LEN + 1], loose[PACS_OBJECT_KEY_LEN + 1];
    key_of("1.1.1.1", stored);
    key_of("loose", loose);
    released r;
    assert_int_equal(release(f, stored, &r), 0); /* an instance refers to it */
    /* An intent keeps an object (a shared index keeps intents; one process keeps none). */
    assert_int_equal(pacs_index_intent_add(f->idx, loose, NULL), PACS_OK);
    assert_int_equal(release(f, loose, &r), on_pg ? 0 : 1);
    assert_int_equal(pacs_index_intent_clear(f->idx, loose, NULL), PACS_OK);
    assert_int_equal(release(f, loose, &r), 1);
    assert_string_equal(r.object, loose);
    /* A put fulfils its intent; intents left (a node that died) are dropped with their names. */
    assert_int_equal(pacs_index_intent_add(f->idx, loose, NULL), PACS_OK);
    inst in = {"5.1", "5.1.1",    "5.1.1.1", CT, "P5", "A^B",
               "CT",  "20240101", "1000",    "", 1,    "loose"};
    put(f, &in);
    objs o;
    memset(&o, 0, sizeof o);
    assert_int_equal(pacs_index_intents_drop(f->idx, NULL, 0, obj_cb, &o, NULL), PACS_OK);
    assert_int_equal(o.n, 0);
    assert_int_equal(pacs_index_intent_add(f->idx, stored, NULL), PACS_OK);
    assert_int_equal(pacs_index_intents_drop(f->idx, "another-node", 0, obj_cb, &o, NULL), PACS_OK);
    assert_int_equal(o.n, 0);
    assert_int_equal(pacs_index_intents_drop(f->idx, NULL, 0, obj_cb, &o, NULL), PACS_OK);
    assert_int_equal(o.n, on_pg ? 1 : 0);
    if (on_pg) {
        assert_string_equal(o.keys[0], stored);
    }
    /* The sweep record of a released object is gone too. */
    remove_q(f, PACS_LEVEL_INSTANCE, 0x00080018u, "5.1.1.1", 1);
    assert_int_equal(pending(f).n, 1);
    assert_int_equal(release(f, loose, &r), 1);
    assert_int_equal(pending(f).n, 0);
}

/* ---- where instances came from ---- */

static int from(fixture *f, const char *study, const char *name)
{
    int found = -1;
    pacs_errinfo ei;
    if (pacs_index_study_from(f->idx, study, name, &found, &ei) != PACS_OK) {
        fail_msg("study_from %s %s: %s", study, name, ei.msg);
    }
    return found;
}

static int origin_cb(void *ctx, const pacs_instance_rec *rec)
{
    char *out = ctx;
    snprintf(out, 200, "%s|%s", rec->source_aet, rec->source_http ? rec->source_http : "(null)");
    return 0;
}

static void test_study_from(void **state)
{
    fixture *f = *state;
    /* District A's CT came by STOW-RS with key district-a; district B's by C-STORE from an AE
     * spelt like that key: an AE is no HTTP credential. */
    inst a = {"7.1", "7.1.1", "7.1.1.1", CT, "PA", "A^A", "CT", "20240101", "1000", "", 1, NULL};
    inst b = {"7.2", "7.2.1", "7.2.1.1", CT, "PB", "B^B", "CT", "20240101", "1000", "", 1, NULL};
    put_from(f, &a, "", "key:district-a");
    put_from(f, &b, "key:district-a", NULL);
    assert_int_equal(from(f, "7.1", "key:district-a"), 1);
    assert_int_equal(from(f, "7.1", "key:district-b"), 0);
    assert_int_equal(from(f, "7.2", "key:district-a"), 0);
    assert_int_equal(from(f, "7.9", "key:district-a"), 0); /* no such study */
    /* A report in another series of study 7.1, written by user:dr: the study is from both. */
    inst rep = {"7.1", "7.1.2", "7.1.2.1", SR, "PA", "A^A", "SR", "20240101", "1000", "", 1, NULL};
    put_from(f, &rep, "", "user:dr");
    assert_int_equal(from(f, "7.1", "key:district-a"), 1);
    assert_int_equal(from(f, "7.1", "user:dr"), 1);
    /* Read back with the instance's origin, apart from the calling AE. */
    char got[200] = "";
    pacs_query *q = pacs_query_new(PACS_LEVEL_INSTANCE);
    assert_int_equal(pacs_query_add(q, 0x00080018u, "UI", "7.1.1.1", NULL), PACS_OK);
    assert_int_equal(pacs_index_instances(f->idx, q, PACS_REC_ORIGIN, origin_cb, got, NULL),
                     PACS_OK);
    assert_string_equal(got, "|key:district-a");
    pacs_query_free(q);
    q = pacs_query_new(PACS_LEVEL_INSTANCE);
    assert_int_equal(pacs_query_add(q, 0x00080018u, "UI", "7.2.1.1", NULL), PACS_OK);
    assert_int_equal(pacs_index_instances(f->idx, q, PACS_REC_ORIGIN, origin_cb, got, NULL),
                     PACS_OK);
    assert_string_equal(got, "key:district-a|(null)");
    pacs_query_free(q);
    /* pacs migrate's copy carries the origins. */
    char loc2[768];
    backend_location(f->dir, loc2, sizeof loc2);
    if (!on_pg) {
        snprintf(loc2, sizeof loc2, "%s/copy.sqlite", f->dir);
    }
    pacs_index *copy = NULL;
    pacs_errinfo ei;
    assert_int_equal(pacs_index_open(loc2, &copy, &ei), PACS_OK);
    uint64_t n_inst = 0, n_fwd = 0;
    assert_int_equal(pacs_index_copy(f->idx, copy, NULL, NULL, &n_inst, &n_fwd, &ei), PACS_OK);
    assert_int_equal(n_inst, 3);
    int found = -1;
    assert_int_equal(pacs_index_study_from(copy, "7.1", "key:district-a", &found, &ei), PACS_OK);
    assert_int_equal(found, 1);
    assert_int_equal(pacs_index_study_from(copy, "7.2", "key:district-a", &found, &ei), PACS_OK);
    assert_int_equal(found, 0);
    pacs_index_close(copy);
    backend_drop(loc2);
    /* The study's instances from district A removed: it no longer names A. */
    remove_q(f, PACS_LEVEL_SERIES, 0x0020000Eu, "7.1.1", 1);
    assert_int_equal(from(f, "7.1", "key:district-a"), 0);
    assert_int_equal(from(f, "7.1", "user:dr"), 1);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_forwarding_queue, setup, teardown),
        cmocka_unit_test_setup_teardown(test_shares, setup, teardown),
        cmocka_unit_test_setup_teardown(test_intents_and_release, setup, teardown),
        cmocka_unit_test_setup_teardown(test_study_from, setup, teardown),
    };
    int rc = backends_init(argc, argv);
    if (rc == 0) {
        rc = cmocka_run_group_tests_name(backends_name("index records"), tests, NULL, NULL);
    }
    return backends_fini(rc);
}
