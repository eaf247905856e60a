// SPDX-License-Identifier: MIT
/*
 * Built-in users (storage/users.h) on a real archive, on SQLite and (argument "postgresql") on
 * PostgreSQL, as the index tests run (index_backends.h): Argon2id hashes that verify only their
 * own password and carry a fresh salt each time; users added, listed, refused twice, given a
 * new password and removed; logins with the right and wrong password and an unknown name; the
 * lockout after the configured failures, which refuses even the right password until it ends
 * (times are passed in, so nothing waits), and which a new password clears; all of it kept
 * across a reopened archive.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pacs/base/config.h"
#include "storage/archive.h"
#include "storage/tests/archive_fixture.h"
#include "storage/users.h"

static void test_hash(void **state)
{
    (void)state;
    pacs_errinfo ei;
    char h1[PACS_PASSWORD_HASH_CAP], h2[PACS_PASSWORD_HASH_CAP];
    assert_int_equal(pacs_password_hash("correct horse", h1, sizeof h1, &ei), PACS_OK);
    assert_int_equal(pacs_password_hash("correct horse", h2, sizeof h2, &ei), PACS_OK);
    assert_true(strncmp(h1, "$argon2id$v=19$m=", 17) == 0);
    assert_string_not_equal(h1, h2); /* a fresh salt each time */
    assert_true(pacs_password_verify(h1, "correct horse"));
    assert_true(pacs_password_verify(h2, "correct horse"));
    assert_false(pacs_password_verify(h1, "correct horsE"));
    assert_false(pacs_password_verify(h1, ""));
    assert_false(pacs_password_verify("", "correct horse"));
    assert_false(pacs_password_verify("$argon2id$garbage", "correct horse"));
    /* Too short, too long, too small a buffer. */
    assert_int_equal(pacs_password_hash("short", h1, sizeof h1, &ei), PACS_EINVAL);
    char *big = malloc(PACS_PASSWORD_MAX + 2);
    assert_non_null(big);
    memset(big, 'p', PACS_PASSWORD_MAX + 1);
    big[PACS_PASSWORD_MAX + 1] = '\0';
    assert_int_equal(pacs_password_hash(big, h1, sizeof h1, &ei), PACS_EINVAL);
    free(big);
    assert_int_equal(pacs_password_hash("correct horse", h1, 20, &ei), PACS_EINVAL);
}

typedef struct seen {
    char names[8][PACS_USER_NAME_MAX + 1];
    pacs_role roles[8];
    int64_t locked[8];
    size_t n;
} seen;

static int on_user(void *ctx, const pacs_user_info *u)
{
    seen *s = ctx;
    if (s->n < 8) {
        snprintf(s->names[s->n], sizeof s->names[0], "%s", u->name);
        s->roles[s->n] = u->role;
        s->locked[s->n] = u->locked_until;
        s->n++;
    }
    return 0;
}

static pacs_login_outcome login(fixture *f, const char *name, const char *pw, int64_t now,
                                pacs_role *role)
{
    static const pacs_login_policy policy = {3, 600, 900};
    pacs_login_outcome o = (pacs_login_outcome)-1;
    pacs_errinfo ei;
    pacs_role r = PACS_ROLE_NONE;
    assert_int_equal(pacs_users_login(f->a, name, pw, &policy, now, &o, &r, NULL, &ei), PACS_OK);
    if (role) {
        *role = r;
    }
    return o;
}

static void test_users(void **state)
{
    fixture *f = *state;
    pacs_errinfo ei;
    assert_int_equal(pacs_role_parse("radiologist"), PACS_ROLE_RADIOLOGIST);
    assert_int_equal(pacs_role_parse("root"), PACS_ROLE_NONE);
    assert_int_equal(pacs_users_add(f->a, "lan.nguyen", PACS_ROLE_RADIOLOGIST, "phim-x-quang", &ei),
                     PACS_OK);
    assert_int_equal(pacs_users_add(f->a, "tech1", PACS_ROLE_TECHNICIAN, "may-chup-ct", &ei),
                     PACS_OK);
    assert_int_equal(pacs_users_add(f->a, "lan.nguyen", PACS_ROLE_ADMIN, "other-password", &ei),
                     PACS_EEXIST);
    assert_int_equal(pacs_users_add(f->a, "bad name", PACS_ROLE_ADMIN, "whatever-pw", &ei),
                     PACS_EINVAL);
    assert_int_equal(pacs_users_add(f->a, "x", PACS_ROLE_NONE, "whatever-pw", &ei), PACS_EINVAL);
    seen s;
    memset(&s, 0, sizeof s);
    assert_int_equal(pacs_users_list(f->a, on_user, &s, &ei), PACS_OK);
    assert_int_equal(s.n, 2);
    assert_string_equal(s.names[0], "lan.nguyen");
    assert_int_equal(s.roles[0], PACS_ROLE_RADIOLOGIST);
    assert_string_equal(s.names[1], "tech1");
    assert_int_equal(s.roles[1], PACS_ROLE_TECHNICIAN);

    pacs_role role = PACS_ROLE_NONE;
    assert_int_equal(pacs_users_role(f->a, "tech1", &role, NULL, &ei), PACS_OK);
    assert_int_equal(role, PACS_ROLE_TECHNICIAN);
    assert_int_equal(pacs_users_role(f->a, "nobody", &role, NULL, &ei), PACS_ENOTFOUND);
    assert_int_equal(pacs_users_role(f->a, "bad name", &role, NULL, &ei), PACS_ENOTFOUND);
    /* A new role, and back. */
    assert_int_equal(pacs_users_set_role(f->a, "tech1", PACS_ROLE_ADMIN, &ei), PACS_OK);
    assert_int_equal(pacs_users_role(f->a, "tech1", &role, NULL, &ei), PACS_OK);
    assert_int_equal(role, PACS_ROLE_ADMIN);
    assert_int_equal(pacs_users_set_role(f->a, "tech1", PACS_ROLE_NONE, &ei), PACS_EINVAL);
    assert_int_equal(pacs_users_set_role(f->a, "nobody", PACS_ROLE_ADMIN, &ei), PACS_ENOTFOUND);
    assert_int_equal(pacs_users_set_role(f->a, "tech1", PACS_ROLE_TECHNICIAN, &ei), PACS_OK);
    assert_int_equal(pacs_users_role(f->a, "tech1", &role, NULL, &ei), PACS_OK);
    assert_int_equal(role, PACS_ROLE_TECHNICIAN);
    assert_int_equal(login(f, "lan.nguyen", "phim-x-quang", 1000, &role), PACS_LOGIN_OK);
    assert_int_equal(role, PACS_ROLE_RADIOLOGIST);
    assert_int_equal(login(f, "lan.nguyen", "wrong-password", 1000, NULL), PACS_LOGIN_BAD);
    assert_int_equal(login(f, "nobody", "phim-x-quang", 1000, NULL), PACS_LOGIN_UNKNOWN);
    assert_int_equal(login(f, "bad name", "phim-x-quang", 1000, NULL), PACS_LOGIN_UNKNOWN);

    /* A success clears the count: two more failures do not lock (the policy says three). */
    assert_int_equal(login(f, "lan.nguyen", "phim-x-quang", 1001, NULL), PACS_LOGIN_OK);
    assert_int_equal(login(f, "lan.nguyen", "wrong-1", 1002, NULL), PACS_LOGIN_BAD);
    assert_int_equal(login(f, "lan.nguyen", "wrong-2", 1003, NULL), PACS_LOGIN_BAD);
    /* Failures older than the window start a new count. */
    assert_int_equal(login(f, "lan.nguyen", "wrong-3", 1002 + 600, NULL), PACS_LOGIN_BAD);
    assert_int_equal(login(f, "lan.nguyen", "wrong-4", 1700, NULL), PACS_LOGIN_BAD);
    assert_int_equal(login(f, "lan.nguyen", "wrong-5", 1701, NULL), PACS_LOGIN_LOCKED_NOW);
    /* Locked: even the right password is refused, until the lock ends. */
    assert_int_equal(login(f, "lan.nguyen", "phim-x-quang", 1702, NULL), PACS_LOGIN_LOCKED);
    assert_int_equal(login(f, "lan.nguyen", "phim-x-quang", 1701 + 899, NULL), PACS_LOGIN_LOCKED);
    /* The other user is not affected. */
    assert_int_equal(login(f, "tech1", "may-chup-ct", 1702, &role), PACS_LOGIN_OK);
    assert_int_equal(role, PACS_ROLE_TECHNICIAN);

    /* Kept across a reopened archive. */
    pacs_archive_close(f->a);
    open_archive(f);
    memset(&s, 0, sizeof s);
    assert_int_equal(pacs_users_list(f->a, on_user, &s, &ei), PACS_OK);
    assert_int_equal(s.n, 2);
    assert_int_equal(s.locked[0], 1701 + 900);
    assert_int_equal(login(f, "lan.nguyen", "phim-x-quang", 1701 + 900, NULL), PACS_LOGIN_OK);

    /* Locked again, then a new password clears the lock; the old one no longer works. */
    for (int i = 0; i < 3; i++) {
        login(f, "lan.nguyen", "wrong", 5000 + i, NULL);
    }
    assert_int_equal(login(f, "lan.nguyen", "phim-x-quang", 5010, NULL), PACS_LOGIN_LOCKED);
    uint64_t before = 0, after = 0, again = 0;
    assert_int_equal(pacs_users_role(f->a, "lan.nguyen", &role, &before, &ei), PACS_OK);
    assert_int_equal(pacs_users_role(f->a, "lan.nguyen", &role, &again, &ei), PACS_OK);
    assert_true(before == again); /* the same password, the same stamp */
    assert_int_equal(pacs_users_passwd(f->a, "lan.nguyen", "mat-khau-moi", &ei), PACS_OK);
    assert_int_equal(pacs_users_role(f->a, "lan.nguyen", &role, &after, &ei), PACS_OK);
    assert_true(before != after); /* a new password: sessions begun before can tell */
    assert_int_equal(login(f, "lan.nguyen", "phim-x-quang", 5011, NULL), PACS_LOGIN_BAD);
    assert_int_equal(login(f, "lan.nguyen", "mat-khau-moi", 5012, NULL), PACS_LOGIN_OK);
    assert_int_equal(pacs_users_passwd(f->a, "nobody", "mat-khau-moi", &ei), PACS_ENOTFOUND);

    assert_int_equal(pacs_users_remove(f->a, "tech1", &ei), PACS_OK);
    assert_int_equal(pacs_users_remove(f->a, "tech1", &ei), PACS_ENOTFOUND);
    assert_int_equal(login(f, "tech1", "may-chup-ct", 6000, NULL), PACS_LOGIN_UNKNOWN);
    memset(&s, 0, sizeof s);
    assert_int_equal(pacs_users_list(f->a, on_user, &s, &ei), PACS_OK);
    assert_int_equal(s.n, 1);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hash),
        cmocka_unit_test_setup_teardown(test_users, setup, teardown),
    };
    int rc = backends_init(argc, argv);
    if (rc == 0) {
        rc = cmocka_run_group_tests_name(backends_name("users"), tests, NULL, NULL);
    }
    return backends_fini(rc);
}
