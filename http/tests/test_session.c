// SPDX-License-Identifier: MIT
/*
 * Unit tests of the login sessions (http/session.c): ids of 43 base64url characters, each
 * different; a live session gives its user and scopes; idle and absolute expiry (times are
 * passed in, so nothing waits); logout, a user's sessions ended together, forged and
 * malformed ids refused, a full store refusing a new session until one expires, and the
 * periodic look at a session's user, which sets its scopes or ends it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "http/session.h"

static void test_lifetimes(void **state)
{
    (void)state;
    pacs_errinfo ei;
    pacs_sessions *s = NULL;
    char a[PACS_SESSION_ID_LEN + 1], b[PACS_SESSION_ID_LEN + 1];
    char user[PACS_SESSION_USER_CAP];
    unsigned scopes = 0;
    assert_int_equal(pacs_sessions_new(100, 1000, 60, 16, &s, &ei), PACS_OK);
    assert_int_equal(pacs_sessions_begin(s, "lan", 7, 0, 10, a, sizeof a, &ei), PACS_OK);
    assert_int_equal(pacs_sessions_begin(s, "lan", 7, 0, 10, b, sizeof b, &ei), PACS_OK);
    assert_int_equal(strlen(a), PACS_SESSION_ID_LEN);
    assert_string_not_equal(a, b);
    assert_int_equal(pacs_sessions_count(s), 2);
    assert_true(pacs_sessions_check(s, a, 50, user, &scopes, NULL));
    assert_string_equal(user, "lan");
    assert_int_equal(scopes, 7);
    /* Each use moves the idle expiry on: 50 + 99 is still live, then 100 s of silence ends it. */
    assert_true(pacs_sessions_check(s, a, 149, NULL, NULL, NULL));
    assert_true(pacs_sessions_check(s, a, 248, NULL, NULL, NULL));
    assert_false(pacs_sessions_check(s, b, 110, NULL, NULL, NULL)); /* idle since 10 */
    assert_false(pacs_sessions_check(s, a, 348, NULL, NULL, NULL));
    assert_false(pacs_sessions_check(s, a, 349, NULL, NULL, NULL));
    assert_int_equal(pacs_sessions_count(s), 0);

    /* The absolute expiry holds however busy the session is. */
    assert_int_equal(pacs_sessions_begin(s, "tech", 3, 0, 0, a, sizeof a, &ei), PACS_OK);
    for (int64_t t = 50; t < 1000; t += 50) {
        assert_true(pacs_sessions_check(s, a, t, NULL, NULL, NULL));
    }
    assert_false(pacs_sessions_check(s, a, 1000, NULL, NULL, NULL));

    /* Forged and malformed ids. */
    assert_int_equal(pacs_sessions_begin(s, "tech", 3, 0, 2000, a, sizeof a, &ei), PACS_OK);
    char forged[PACS_SESSION_ID_LEN + 1];
    memcpy(forged, a, sizeof forged);
    forged[0] = forged[0] == 'A' ? 'B' : 'A';
    assert_false(pacs_sessions_check(s, forged, 2001, NULL, NULL, NULL));
    assert_false(pacs_sessions_check(s, "", 2001, NULL, NULL, NULL));
    assert_false(pacs_sessions_check(s, NULL, 2001, NULL, NULL, NULL));
    forged[5] = '%';
    assert_false(pacs_sessions_check(s, forged, 2001, NULL, NULL, NULL));
    char longer[PACS_SESSION_ID_LEN + 2];
    snprintf(longer, sizeof longer, "%sA", a);
    assert_false(pacs_sessions_check(s, longer, 2001, NULL, NULL, NULL));
    assert_true(pacs_sessions_check(s, a, 2001, NULL, NULL, NULL));

    /* Logout ends it, once. */
    assert_true(pacs_sessions_end(s, a, 2002, user));
    assert_string_equal(user, "tech");
    assert_false(pacs_sessions_end(s, a, 2003, NULL));
    assert_false(pacs_sessions_check(s, a, 2003, NULL, NULL, NULL));
    pacs_sessions_free(s);
}

static void test_users_and_capacity(void **state)
{
    (void)state;
    pacs_errinfo ei;
    pacs_sessions *s = NULL;
    char id[4][PACS_SESSION_ID_LEN + 1];
    assert_int_equal(pacs_sessions_new(100, 1000, 60, 3, &s, &ei), PACS_OK);
    assert_int_equal(pacs_sessions_begin(s, "lan", 1, 0, 0, id[0], sizeof id[0], &ei), PACS_OK);
    assert_int_equal(pacs_sessions_begin(s, "lan", 1, 0, 0, id[1], sizeof id[1], &ei), PACS_OK);
    assert_int_equal(pacs_sessions_begin(s, "tech", 1, 0, 0, id[2], sizeof id[2], &ei), PACS_OK);
    assert_int_equal(pacs_sessions_begin(s, "x", 1, 0, 0, id[3], sizeof id[3], &ei), PACS_EBUSY);
    assert_int_equal(pacs_sessions_end_user(s, "lan"), 2);
    assert_false(pacs_sessions_check(s, id[0], 1, NULL, NULL, NULL));
    assert_false(pacs_sessions_check(s, id[1], 1, NULL, NULL, NULL));
    assert_true(pacs_sessions_check(s, id[2], 1, NULL, NULL, NULL));
    assert_int_equal(pacs_sessions_begin(s, "x", 1, 0, 1, id[3], sizeof id[3], &ei), PACS_OK);
    assert_int_equal(pacs_sessions_begin(s, "y", 1, 0, 1, id[0], sizeof id[0], &ei), PACS_OK);
    assert_int_equal(pacs_sessions_begin(s, "z", 1, 0, 1, id[1], sizeof id[1], &ei), PACS_EBUSY);
    /* Expired sessions make room. */
    assert_int_equal(pacs_sessions_begin(s, "z", 1, 0, 500, id[1], sizeof id[1], &ei), PACS_OK);
    assert_int_equal(pacs_sessions_count(s), 1);
    /* Bad arguments. */
    assert_int_equal(pacs_sessions_begin(s, "", 1, 0, 500, id[1], sizeof id[1], &ei), PACS_EINVAL);
    assert_int_equal(pacs_sessions_begin(s, "z", 1, 0, 500, id[1], 10, &ei), PACS_EINVAL);
    pacs_sessions_free(s);
    assert_int_equal(pacs_sessions_new(0, 1000, 60, 3, &s, &ei), PACS_EINVAL);
    pacs_sessions_free(NULL);
}

/* A session's user is due for a look every `recheck` seconds; the look sets its scopes, or
 * ends it. */
static void test_recheck(void **state)
{
    (void)state;
    pacs_errinfo ei;
    pacs_sessions *s = NULL;
    char id[PACS_SESSION_ID_LEN + 1];
    unsigned scopes = 0;
    int due = -1;
    assert_int_equal(pacs_sessions_new(100, 1000, 60, 4, &s, &ei), PACS_OK);
    assert_int_equal(pacs_sessions_begin(s, "lan", 7, 0, 0, id, sizeof id, &ei), PACS_OK);
    assert_true(pacs_sessions_check(s, id, 59, NULL, &scopes, &due));
    assert_int_equal(due, 0);
    assert_true(pacs_sessions_check(s, id, 60, NULL, &scopes, &due));
    assert_int_equal(due, 1);
    assert_true(pacs_sessions_restate(s, id, 60, 3, 0));
    assert_true(pacs_sessions_check(s, id, 61, NULL, &scopes, &due));
    assert_int_equal(due, 0);
    assert_int_equal(scopes, 3);
    assert_true(pacs_sessions_check(s, id, 120, NULL, &scopes, &due));
    assert_int_equal(due, 1);
    assert_false(pacs_sessions_restate(s, id, 120, 0, 0)); /* the user is gone */
    assert_false(pacs_sessions_check(s, id, 121, NULL, NULL, NULL));
    assert_int_equal(pacs_sessions_count(s), 0);
    /* A password changed since the login (another stamp) ends the session too. */
    assert_int_equal(pacs_sessions_begin(s, "lan", 7, 42, 200, id, sizeof id, &ei), PACS_OK);
    assert_true(pacs_sessions_restate(s, id, 260, 7, 42));
    assert_false(pacs_sessions_restate(s, id, 320, 7, 43));
    assert_false(pacs_sessions_check(s, id, 321, NULL, NULL, NULL));
    pacs_sessions_free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lifetimes),
        cmocka_unit_test(test_users_and_capacity),
        cmocka_unit_test(test_recheck),
    };
    return cmocka_run_group_tests_name("http_session", tests, NULL, NULL);
}
