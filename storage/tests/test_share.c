// SPDX-License-Identifier: MIT
/*
 * Unit tests of the share-link store (share.c) in a temporary data folder: token form, check of
 * a good token, refusal of tampered, truncated, foreign, expired, revoked and unknown tokens
 * (all with the same error and message), revocation by id, by token and by study, the listing,
 * key creation mode 0600, key rotation seen by a second handle, bad arguments, shares of a
 * subject other than a study (a patient's, storage/share_scope.h), which only
 * pacs_shares_check_subject accepts, and the import of a data folder's DATA/shares.db of before
 * (when the store was its own SQLite file) into the index, once, with its links still working
 * and its revocations kept.
 */
#include <setjmp.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "storage/share.h"

#define STUDY_A "1.2.826.0.1.3680043.8.498.1"
#define STUDY_B "1.2.826.0.1.3680043.8.498.2"

typedef struct fixture {
    char dir[200];
    pacs_shares *s;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    const char *tmp = getenv("TMPDIR");
    snprintf(f->dir, sizeof f->dir, "%s/pacs-test-share.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    assert_non_null(mkdtemp(f->dir));
    assert_int_equal(pacs_shares_open(f->dir, &f->s, NULL), PACS_OK);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    pacs_shares_close(f->s);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

static void make(fixture *f, const char *study, int64_t ttl, char tok[PACS_SHARE_TOKEN_LEN + 1],
                 char id[PACS_SHARE_ID_LEN + 1])
{
    pacs_errinfo ei;
    assert_int_equal(pacs_shares_create(f->s, study, (int64_t)time(NULL) + ttl, "tester", tok,
                                        PACS_SHARE_TOKEN_LEN + 1, id, PACS_SHARE_ID_LEN + 1, &ei),
                     PACS_OK);
}

/* Asserts the refusal every bad token gets: the same code and the same message. */
static void assert_denied(fixture *f, const char *tok)
{
    pacs_errinfo ei;
    char uid[PACS_SHARE_UID_CAP] = "untouched";
    assert_int_equal(pacs_shares_check(f->s, tok, uid, NULL, &ei), PACS_EDENIED);
    assert_string_equal(ei.msg, "share token refused");
    assert_string_equal(uid, "untouched");
}

static void test_good_token(void **state)
{
    fixture *f = *state;
    char tok[PACS_SHARE_TOKEN_LEN + 1], id[PACS_SHARE_ID_LEN + 1];
    char uid[PACS_SHARE_UID_CAP];
    int64_t exp = 0;
    make(f, STUDY_A, 3600, tok, id);
    assert_int_equal(strlen(tok), PACS_SHARE_TOKEN_LEN);
    assert_int_equal(strlen(id), PACS_SHARE_ID_LEN);
    assert_int_equal(
        strspn(tok, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
        PACS_SHARE_TOKEN_LEN);
    assert_int_equal(pacs_shares_check(f->s, tok, uid, &exp, NULL), PACS_OK);
    assert_string_equal(uid, STUDY_A);
    char got_id[PACS_SHARE_ID_LEN + 1] = "";
    assert_int_equal(pacs_shares_check_id(f->s, tok, NULL, NULL, got_id, NULL), PACS_OK);
    assert_string_equal(got_id, id);
    assert_true(exp > (int64_t)time(NULL));

    /* Two shares of one study get different tokens and ids. */
    char tok2[PACS_SHARE_TOKEN_LEN + 1], id2[PACS_SHARE_ID_LEN + 1];
    make(f, STUDY_A, 3600, tok2, id2);
    assert_string_not_equal(tok, tok2);
    assert_string_not_equal(id, id2);

    /* The key file is private. */
    char path[300];
    struct stat st;
    snprintf(path, sizeof path, "%s/share.key", f->dir);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600);
    assert_int_equal(st.st_size, 32);
}

static void test_bad_tokens(void **state)
{
    fixture *f = *state;
    char tok[PACS_SHARE_TOKEN_LEN + 1], id[PACS_SHARE_ID_LEN + 1];
    char bad[PACS_SHARE_TOKEN_LEN + 8];
    make(f, STUDY_A, 3600, tok, id);

    assert_denied(f, "");
    assert_denied(f, NULL);
    assert_denied(f, "not-a-token");
    assert_denied(f, id);
    /* Each character changed in turn (30 bytes are exactly 40 characters: no ignored bits). */
    for (size_t i = 0; i < PACS_SHARE_TOKEN_LEN; i++) {
        memcpy(bad, tok, sizeof tok);
        bad[i] = bad[i] == 'A' ? 'z' : 'A';
        assert_denied(f, bad);
    }
    /* Truncated, extended, with characters outside the alphabet. */
    memcpy(bad, tok, sizeof tok);
    bad[PACS_SHARE_TOKEN_LEN - 1] = '\0';
    assert_denied(f, bad);
    snprintf(bad, sizeof bad, "%sA", tok);
    assert_denied(f, bad);
    memcpy(bad, tok, sizeof tok);
    bad[5] = '+';
    assert_denied(f, bad);
    memcpy(bad, tok, sizeof tok);
    bad[5] = '=';
    assert_denied(f, bad);

    /* A token from another data folder (another key) with the same shape. */
    fixture other;
    memcpy(other.dir, f->dir, sizeof other.dir);
    other.dir[strlen(other.dir) - 1] = other.dir[strlen(other.dir) - 1] == 'x' ? 'y' : 'x';
    assert_int_equal(mkdir(other.dir, 0700), 0);
    assert_int_equal(pacs_shares_open(other.dir, &other.s, NULL), PACS_OK);
    char foreign[PACS_SHARE_TOKEN_LEN + 1];
    make(&other, STUDY_A, 3600, foreign, id);
    assert_denied(f, foreign);
    pacs_shares_close(other.s);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", other.dir);
    assert_int_equal(system(cmd), 0);

    /* The good token still works after all that. */
    assert_int_equal(pacs_shares_check(f->s, tok, NULL, NULL, NULL), PACS_OK);
}

static void test_expired(void **state)
{
    fixture *f = *state;
    char tok[PACS_SHARE_TOKEN_LEN + 1], id[PACS_SHARE_ID_LEN + 1];
    pacs_errinfo ei;
    /* Expiry in the past is refused at creation. */
    assert_int_equal(pacs_shares_create(f->s, STUDY_A, (int64_t)time(NULL) - 1, NULL, tok,
                                        sizeof tok, NULL, 0, &ei),
                     PACS_EINVAL);
    /* A share that expires in a second is refused once it has. */
    make(f, STUDY_A, 1, tok, id);
    int64_t until = (int64_t)time(NULL) + 1;
    while ((int64_t)time(NULL) <= until) {
        usleep(50 * 1000);
    }
    assert_denied(f, tok);
}

static void test_revoke(void **state)
{
    fixture *f = *state;
    char t1[PACS_SHARE_TOKEN_LEN + 1], i1[PACS_SHARE_ID_LEN + 1];
    char t2[PACS_SHARE_TOKEN_LEN + 1], i2[PACS_SHARE_ID_LEN + 1];
    char t3[PACS_SHARE_TOKEN_LEN + 1], i3[PACS_SHARE_ID_LEN + 1];
    char t4[PACS_SHARE_TOKEN_LEN + 1], i4[PACS_SHARE_ID_LEN + 1];
    pacs_errinfo ei;
    unsigned n = 99;
    make(f, STUDY_A, 3600, t1, i1);
    make(f, STUDY_A, 3600, t2, i2);
    make(f, STUDY_A, 3600, t3, i3);
    make(f, STUDY_B, 3600, t4, i4);

    assert_int_equal(pacs_shares_revoke(f->s, i1, &ei), PACS_OK);
    assert_denied(f, t1);
    assert_int_equal(pacs_shares_revoke(f->s, i1, &ei), PACS_OK); /* again: still fine */
    assert_int_equal(pacs_shares_revoke(f->s, t2, &ei), PACS_OK);
    assert_denied(f, t2);
    assert_int_equal(pacs_shares_check(f->s, t3, NULL, NULL, NULL), PACS_OK);

    assert_int_equal(pacs_shares_revoke(f->s, "AAAAAAAAAAAA", &ei), PACS_ENOTFOUND);
    assert_int_equal(pacs_shares_revoke(f->s, "nonsense", &ei), PACS_ENOTFOUND);
    char forged[PACS_SHARE_TOKEN_LEN + 1];
    memcpy(forged, t4, sizeof forged);
    forged[30] = forged[30] == 'A' ? 'B' : 'A';
    assert_int_equal(pacs_shares_revoke(f->s, forged, &ei), PACS_ENOTFOUND);
    assert_int_equal(pacs_shares_check(f->s, t4, NULL, NULL, NULL), PACS_OK);

    assert_int_equal(pacs_shares_revoke_study(f->s, STUDY_A, &n, &ei), PACS_OK);
    assert_int_equal(n, 1); /* only t3 was still live */
    assert_denied(f, t3);
    assert_int_equal(pacs_shares_check(f->s, t4, NULL, NULL, NULL), PACS_OK);
}

typedef struct listing {
    int n, n_revoked, n_study_b;
    char first_id[PACS_SHARE_ID_LEN + 1];
} listing;

static int on_share(void *ctx, const pacs_share_info *in)
{
    listing *l = ctx;
    if (l->n == 0) {
        snprintf(l->first_id, sizeof l->first_id, "%s", in->id);
    }
    l->n++;
    l->n_revoked += in->revoked;
    l->n_study_b += strcmp(in->study_uid, STUDY_B) == 0;
    assert_string_equal(in->creator, "tester");
    assert_true(in->expires_at > in->created_at);
    assert_int_equal(in->revoked_at != 0, in->revoked);
    return 0;
}

static void test_list(void **state)
{
    fixture *f = *state;
    char t[PACS_SHARE_TOKEN_LEN + 1], i1[PACS_SHARE_ID_LEN + 1], i2[PACS_SHARE_ID_LEN + 1];
    make(f, STUDY_A, 3600, t, i1);
    make(f, STUDY_B, 3600, t, i2);
    assert_int_equal(pacs_shares_revoke(f->s, i1, NULL), PACS_OK);
    listing l = {0};
    assert_int_equal(pacs_shares_list(f->s, NULL, on_share, &l, NULL), PACS_OK);
    assert_int_equal(l.n, 2);
    assert_int_equal(l.n_revoked, 1);
    assert_int_equal(l.n_study_b, 1);
    assert_string_equal(l.first_id, i2); /* newest first */
    listing lb = {0};
    assert_int_equal(pacs_shares_list(f->s, STUDY_B, on_share, &lb, NULL), PACS_OK);
    assert_int_equal(lb.n, 1);
    assert_int_equal(lb.n_study_b, 1);
}

static void test_rotate(void **state)
{
    fixture *f = *state;
    char t1[PACS_SHARE_TOKEN_LEN + 1], i1[PACS_SHARE_ID_LEN + 1];
    char t2[PACS_SHARE_TOKEN_LEN + 1], i2[PACS_SHARE_ID_LEN + 1];
    pacs_shares *second = NULL;
    make(f, STUDY_A, 3600, t1, i1);
    /* A second handle, as the `pacs share` tool beside a running pacsd. */
    assert_int_equal(pacs_shares_open(f->dir, &second, NULL), PACS_OK);
    assert_int_equal(pacs_shares_check(second, t1, NULL, NULL, NULL), PACS_OK);
    assert_int_equal(pacs_shares_rotate_key(second, NULL), PACS_OK);
    assert_denied(f, t1);
    /* A share made by the rotating handle is accepted by the other (it reloads the key). */
    assert_int_equal(pacs_shares_create(second, STUDY_B, (int64_t)time(NULL) + 60, "tester", t2,
                                        sizeof t2, i2, sizeof i2, NULL),
                     PACS_OK);
    assert_int_equal(pacs_shares_check(f->s, t2, NULL, NULL, NULL), PACS_OK);
    pacs_shares_close(second);
    /* A key readable by others is refused at open. */
    char path[300];
    snprintf(path, sizeof path, "%s/share.key", f->dir);
    assert_int_equal(chmod(path, 0644), 0);
    pacs_errinfo ei;
    assert_int_equal(pacs_shares_open(f->dir, &second, &ei), PACS_EIO);
    assert_non_null(strstr(ei.msg, "readable by others"));
    assert_int_equal(chmod(path, 0600), 0);
}

/* Ids are typed on command lines (pacs share --revoke ID): never a leading '-' or '_'. Without
 * the rule, 2 in 64 ids would start so; 300 shares would show it almost surely. */
static void test_id_first_char(void **state)
{
    fixture *f = *state;
    char tok[PACS_SHARE_TOKEN_LEN + 1], id[PACS_SHARE_ID_LEN + 1];
    for (int i = 0; i < 300; i++) {
        make(f, STUDY_A, 60, tok, id);
        assert_true(id[0] != '-' && id[0] != '_');
        char uid[PACS_SHARE_UID_CAP];
        assert_int_equal(pacs_shares_check(f->s, tok, uid, NULL, NULL), PACS_OK);
    }
}

static void test_subject(void **state)
{
    fixture *f = *state;
    pacs_errinfo ei;
    const char *subject = "patient:0:SEQ0MDEw:-:" STUDY_A "," STUDY_B;
    char tok[PACS_SHARE_TOKEN_LEN + 1], id[PACS_SHARE_ID_LEN + 1];
    assert_int_equal(pacs_shares_create_subject(f->s, subject, (int64_t)time(NULL) + 3600, "tester",
                                                tok, sizeof tok, id, sizeof id, &ei),
                     PACS_OK);
    char got[PACS_SHARE_SUBJECT_MAX + 1], got_id[PACS_SHARE_ID_LEN + 1];
    int64_t exp = 0;
    assert_int_equal(pacs_shares_check_subject(f->s, tok, got, sizeof got, &exp, got_id, &ei),
                     PACS_OK);
    assert_string_equal(got, subject);
    assert_string_equal(got_id, id);
    assert_true(exp > (int64_t)time(NULL));
    /* Too small a buffer is an error, not a cut subject. */
    char small[16];
    assert_int_equal(pacs_shares_check_subject(f->s, tok, small, sizeof small, NULL, NULL, &ei),
                     PACS_EINVAL);
    /* The study functions never take it for a study, and write nothing. */
    assert_denied(f, tok);
    char uid[PACS_SHARE_UID_CAP] = "untouched", id2[PACS_SHARE_ID_LEN + 1] = "untouched";
    int64_t exp2 = -1;
    assert_int_equal(pacs_shares_check_id(f->s, tok, uid, &exp2, id2, &ei), PACS_EDENIED);
    assert_string_equal(uid, "untouched");
    assert_string_equal(id2, "untouched");
    assert_int_equal(exp2, -1);
    /* A study's token through check_subject gives its UID. */
    char stok[PACS_SHARE_TOKEN_LEN + 1], sid[PACS_SHARE_ID_LEN + 1];
    make(f, STUDY_A, 3600, stok, sid);
    assert_int_equal(pacs_shares_check_subject(f->s, stok, got, sizeof got, NULL, NULL, &ei),
                     PACS_OK);
    assert_string_equal(got, STUDY_A);
    /* Revoked by id like any share. */
    assert_int_equal(pacs_shares_revoke(f->s, id, &ei), PACS_OK);
    assert_int_equal(pacs_shares_check_subject(f->s, tok, got, sizeof got, NULL, NULL, &ei),
                     PACS_EDENIED);

    /* Subjects the store refuses: the plain study function for a patient subject, no text after
     * "patient:", a space, a byte outside ASCII, another prefix, longer than the maximum. */
    int64_t later = (int64_t)time(NULL) + 3600;
    assert_int_equal(pacs_shares_create(f->s, subject, later, NULL, NULL, 0, NULL, 0, &ei),
                     PACS_EINVAL);
    static const char *const bad[] = {"patient:", "patient:a b", "patient:\xc3\xa9", "person:1",
                                      "1.2..3"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(
            pacs_shares_create_subject(f->s, bad[i], later, NULL, NULL, 0, NULL, 0, &ei),
            PACS_EINVAL);
    }
    char *huge = malloc(PACS_SHARE_SUBJECT_MAX + 2);
    assert_non_null(huge);
    memset(huge, 'x', PACS_SHARE_SUBJECT_MAX + 1);
    memcpy(huge, "patient:", 8);
    huge[PACS_SHARE_SUBJECT_MAX + 1] = '\0';
    assert_int_equal(pacs_shares_create_subject(f->s, huge, later, NULL, NULL, 0, NULL, 0, &ei),
                     PACS_EINVAL);
    huge[PACS_SHARE_SUBJECT_MAX] = '\0'; /* exactly the maximum */
    assert_int_equal(
        pacs_shares_create_subject(f->s, huge, later, NULL, tok, sizeof tok, NULL, 0, &ei),
        PACS_OK);
    char *back = malloc(PACS_SHARE_SUBJECT_MAX + 1);
    assert_non_null(back);
    assert_int_equal(
        pacs_shares_check_subject(f->s, tok, back, PACS_SHARE_SUBJECT_MAX + 1, NULL, NULL, &ei),
        PACS_OK);
    assert_string_equal(back, huge);
    free(back);
    free(huge);
}

static void test_bad_args(void **state)
{
    fixture *f = *state;
    char tok[PACS_SHARE_TOKEN_LEN + 1];
    char small[8];
    int64_t later = (int64_t)time(NULL) + 60;
    pacs_errinfo ei;
    const char *bad_uids[] = {"",
                              "1..2",
                              ".1.2",
                              "1.2.",
                              "1.2.a",
                              "1.2.3 ",
                              "1.2.3.4.5.6.7.8.9.10.11.12.13.14.15.16.17.18.19.20.21.22.23.24.25"};
    for (size_t i = 0; i < sizeof bad_uids / sizeof bad_uids[0]; i++) {
        assert_int_equal(
            pacs_shares_create(f->s, bad_uids[i], later, NULL, tok, sizeof tok, NULL, 0, &ei),
            PACS_EINVAL);
    }
    assert_int_equal(
        pacs_shares_create(f->s, STUDY_A, later, NULL, small, sizeof small, NULL, 0, &ei),
        PACS_EINVAL);
    assert_int_equal(pacs_shares_create(f->s, STUDY_A, (int64_t)UINT32_MAX + 1, NULL, tok,
                                        sizeof tok, NULL, 0, &ei),
                     PACS_EINVAL);
    char creator[200];
    memset(creator, 'c', sizeof creator - 1);
    creator[sizeof creator - 1] = '\0';
    assert_int_equal(
        pacs_shares_create(f->s, STUDY_A, later, creator, tok, sizeof tok, NULL, 0, &ei),
        PACS_EINVAL);
}

/* Writes DATA/shares.db as the store wrote it before the index kept the shares, holding the
 * rows of `from_index` (another store's index file), and gives DATA that store's key. */
static void write_old_store(const char *from_dir, const char *data_dir)
{
    char path[300], cmd[700];
    snprintf(cmd, sizeof cmd, "cp -p '%s/share.key' '%s/share.key'", from_dir, data_dir);
    assert_int_equal(system(cmd), 0);
    sqlite3 *db = NULL;
    snprintf(path, sizeof path, "%s/shares.db", data_dir);
    assert_int_equal(sqlite3_open(path, &db), SQLITE_OK);
    snprintf(path, sizeof path, "%s/index.sqlite", from_dir);
    char *attach = sqlite3_mprintf("ATTACH %Q AS src", path);
    assert_int_equal(
        sqlite3_exec(db,
                     "PRAGMA journal_mode=WAL;"
                     "CREATE TABLE shares (id TEXT PRIMARY KEY, token_sha256 BLOB NOT NULL,"
                     " study_uid TEXT NOT NULL, created_at INTEGER NOT NULL,"
                     " expires_at INTEGER NOT NULL, creator TEXT NOT NULL DEFAULT '',"
                     " revoked INTEGER NOT NULL DEFAULT 0, revoked_at INTEGER NOT NULL DEFAULT 0);"
                     "CREATE INDEX shares_study ON shares(study_uid);",
                     NULL, NULL, NULL),
        SQLITE_OK);
    assert_int_equal(sqlite3_exec(db, attach, NULL, NULL, NULL), SQLITE_OK);
    assert_int_equal(sqlite3_exec(db,
                                  "INSERT INTO shares SELECT id, token_sha256, study_uid,"
                                  " created_at, expires_at, creator, revoked, revoked_at"
                                  " FROM src.shares ORDER BY pk",
                                  NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_free(attach);
    sqlite3_close(db);
}

static void test_import_old_store(void **state)
{
    fixture *f = *state;
    char t1[PACS_SHARE_TOKEN_LEN + 1], i1[PACS_SHARE_ID_LEN + 1];
    char t2[PACS_SHARE_TOKEN_LEN + 1], i2[PACS_SHARE_ID_LEN + 1];
    make(f, STUDY_A, 3600, t1, i1);
    make(f, STUDY_B, 3600, t2, i2);
    assert_int_equal(pacs_shares_revoke(f->s, i2, NULL), PACS_OK);
    /* Another data folder that has only the old store (and the same key). */
    fixture old;
    memcpy(old.dir, f->dir, sizeof old.dir);
    old.dir[strlen(old.dir) - 1] = old.dir[strlen(old.dir) - 1] == 'o' ? 'p' : 'o';
    assert_int_equal(mkdir(old.dir, 0700), 0);
    write_old_store(f->dir, old.dir);
    pacs_errinfo ei;
    if (pacs_shares_open(old.dir, &old.s, &ei) != PACS_OK) {
        fail_msg("open with an old store: %s", ei.msg);
    }
    char uid[PACS_SHARE_UID_CAP];
    assert_int_equal(pacs_shares_check(old.s, t1, uid, NULL, NULL), PACS_OK);
    assert_string_equal(uid, STUDY_A);
    assert_denied(&old, t2); /* revoked before, revoked after */
    listing l = {0};
    assert_int_equal(pacs_shares_list(old.s, NULL, on_share, &l, NULL), PACS_OK);
    assert_int_equal(l.n, 2);
    assert_int_equal(l.n_revoked, 1);
    pacs_shares_close(old.s);
    /* Imported once: the file is renamed, and a second open adds nothing. */
    char path[300];
    snprintf(path, sizeof path, "%s/shares.db", old.dir);
    assert_int_not_equal(access(path, F_OK), 0);
    snprintf(path, sizeof path, "%s/shares.db.imported", old.dir);
    assert_int_equal(access(path, F_OK), 0);
    /* An old store appearing again (copied back) is imported again without duplicates, and
     * does not undo a revocation made in the index since. */
    assert_int_equal(pacs_shares_open(old.dir, &old.s, NULL), PACS_OK);
    assert_int_equal(pacs_shares_revoke(old.s, i1, NULL), PACS_OK);
    pacs_shares_close(old.s);
    char cmd[700];
    snprintf(cmd, sizeof cmd, "cp '%s/shares.db.imported' '%s/shares.db'", old.dir, old.dir);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(pacs_shares_open(old.dir, &old.s, NULL), PACS_OK);
    memset(&l, 0, sizeof l);
    assert_int_equal(pacs_shares_list(old.s, NULL, on_share, &l, NULL), PACS_OK);
    assert_int_equal(l.n, 2);
    assert_int_equal(l.n_revoked, 2);
    assert_denied(&old, t1);
    pacs_shares_close(old.s);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", old.dir);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_good_token, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_tokens, setup, teardown),
        cmocka_unit_test_setup_teardown(test_expired, setup, teardown),
        cmocka_unit_test_setup_teardown(test_revoke, setup, teardown),
        cmocka_unit_test_setup_teardown(test_list, setup, teardown),
        cmocka_unit_test_setup_teardown(test_rotate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_id_first_char, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bad_args, setup, teardown),
        cmocka_unit_test_setup_teardown(test_import_old_store, setup, teardown),
        cmocka_unit_test_setup_teardown(test_subject, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
