// SPDX-License-Identifier: MIT
/*
 * Unit tests of the per-address login limit (http/addr_limit.c): failures within the window
 * lock the address (times are passed in, so nothing waits), the lock ends on time, failures
 * older than the window start a new count, other addresses are not affected, 0 turns it off.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "http/addr_limit.h"

static void test_limit(void **state)
{
    (void)state;
    pacs_errinfo ei;
    pacs_addr_limit *l = NULL;
    assert_int_equal(pacs_addr_limit_new(3, 100, 600, &l, &ei), PACS_OK);
    const char *a = "10.0.0.21", *b = "2001:db8::7";
    assert_false(pacs_addr_limit_locked(l, a, 0));
    assert_false(pacs_addr_limit_fail(l, a, 0));
    assert_false(pacs_addr_limit_fail(l, a, 10));
    /* The window ran out: a new count begins. */
    assert_false(pacs_addr_limit_fail(l, a, 100));
    assert_false(pacs_addr_limit_fail(l, a, 150));
    assert_false(pacs_addr_limit_locked(l, a, 150));
    assert_true(pacs_addr_limit_fail(l, a, 160));
    assert_true(pacs_addr_limit_locked(l, a, 161));
    assert_true(pacs_addr_limit_locked(l, a, 759));
    assert_false(pacs_addr_limit_locked(l, b, 200));
    assert_false(pacs_addr_limit_fail(l, b, 200));
    /* Failures while locked do not lengthen the lock. */
    assert_false(pacs_addr_limit_fail(l, a, 700));
    assert_false(pacs_addr_limit_locked(l, a, 760));
    pacs_addr_limit_free(l);

    assert_int_equal(pacs_addr_limit_new(0, 100, 600, &l, &ei), PACS_OK);
    for (int i = 0; i < 10; i++) {
        assert_false(pacs_addr_limit_fail(l, a, i));
    }
    assert_false(pacs_addr_limit_locked(l, a, 10));
    pacs_addr_limit_free(l);
    pacs_addr_limit_free(NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_limit),
    };
    return cmocka_run_group_tests_name("http_addr_limit", tests, NULL, NULL);
}
