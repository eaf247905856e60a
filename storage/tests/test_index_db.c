// SPDX-License-Identifier: MIT
/*
 * Unit tests of the index's thin SQL driver (index_core.h) on SQLite and PostgreSQL (see
 * index_backends.h), on a pooled connection of a real index: the core's $1, $2, ... reach the
 * engine in any order and repeated, and not inside quotes; values go in and come back as they
 * were (64-bit integers, NULL, UTF-8, bytes with NULs; integers and booleans as decimal text);
 * a kept statement is prepared once and forgets its last bindings; a result left after a few
 * rows of many leaves the connection ready for the next statement; a failing statement gives
 * an error and leaves the connection usable.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "storage/index_core.h"
#include "storage/tests/index_backends.h"

typedef struct fixture {
    char dir[200];
    char loc[600];
    pacs_index *idx;
    pacs_db *db;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    f->idx = backend_open("db", f->dir, sizeof f->dir, f->loc, sizeof f->loc);
    assert_non_null(f->idx);
    assert_int_equal(f->idx->be->conn_get(f->idx, &f->db, NULL), PACS_OK);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    f->idx->be->conn_put(f->idx, f->db);
    assert_int_equal(backend_close(f->idx, f->dir, f->loc), 0);
    free(f);
    return 0;
}

/* Prepares `sql` for one use. */
static pacs_db_stmt *once(fixture *f, const char *sql)
{
    pacs_db_stmt *st = NULL;
    pacs_errinfo ei;
    if (f->idx->db->prepare(f->db, -1, sql, &st, &ei) != PACS_OK) {
        fail_msg("prepare %s: %s", sql, ei.msg);
    }
    return st;
}

/* Column `col` of the current row as text ("(null)" for NULL). */
static const char *text(fixture *f, pacs_db_stmt *st, int col)
{
    size_t n = 0;
    const char *v = f->idx->db->column(st, col, &n);
    return v ? v : "(null)";
}

/* The one integer a statement answers. */
static long long one_int(fixture *f, const char *sql)
{
    pacs_db_stmt *st = once(f, sql);
    assert_int_equal(f->idx->db->step(st, NULL), 1);
    long long v = f->idx->db->column_int(st, 0);
    assert_int_equal(f->idx->db->step(st, NULL), 0);
    f->idx->db->done(st);
    return v;
}

static void test_parameters(void **state)
{
    fixture *f = *state;
    const pacs_db_driver *d = f->idx->db;
    /* Out of order, repeated, and a '$1' that is text (SQLite reads ?1: the driver rewrites). */
    pacs_db_stmt *st = once(f, on_pg ? "SELECT $2::text, '$1 ?1', $1::text || $1::text"
                                     : "SELECT $2, '$1 ?1', $1 || $1");
    d->bind_text(st, 1, "a");
    d->bind_text(st, 2, "b");
    assert_int_equal(d->step(st, NULL), 1);
    assert_string_equal(text(f, st, 0), "b");
    assert_string_equal(text(f, st, 1), "$1 ?1");
    assert_string_equal(text(f, st, 2), "aa");
    assert_int_equal(d->step(st, NULL), 0);
    d->done(st);
}

static void test_values(void **state)
{
    fixture *f = *state;
    const pacs_db_driver *d = f->idx->db;
    const unsigned char bytes[] = {0x00, 0xff, 0x10, 0x00, 0x7f};
    const char *utf8 = "Nguyễn^Thị Hương";
    pacs_db_stmt *st =
        once(f, on_pg ? "SELECT $1::bigint, $2::bigint, $3::text, $4::text, $5::bytea, 1 = 1, 2 < 1"
                      : "SELECT $1, $2, $3, $4, $5, 1 = 1, 2 < 1");
    d->bind_int(st, 1, INT64_MAX);
    d->bind_int(st, 2, INT64_MIN);
    d->bind_text(st, 3, NULL);
    d->bind_text(st, 4, utf8);
    d->bind_blob(st, 5, bytes, sizeof bytes);
    assert_int_equal(d->step(st, NULL), 1);
    assert_string_equal(text(f, st, 0), "9223372036854775807");
    assert_true(d->column_int(st, 0) == INT64_MAX);
    assert_string_equal(text(f, st, 1), "-9223372036854775808");
    assert_true(d->column_int(st, 1) == INT64_MIN);
    size_t n = 99;
    assert_null(d->column(st, 2, &n));
    assert_int_equal(d->column_int(st, 2), 0);
    assert_string_equal(text(f, st, 3), utf8);
    const char *b = d->column(st, 4, &n);
    assert_int_equal(n, sizeof bytes);
    assert_memory_equal(b, bytes, sizeof bytes);
    assert_string_equal(text(f, st, 5), "1"); /* a boolean, as SQLite has it */
    assert_int_equal(d->column_int(st, 5), 1);
    assert_int_equal(d->column_int(st, 6), 0);
    assert_int_equal(d->step(st, NULL), 0);
    d->done(st);
}

static void test_kept(void **state)
{
    fixture *f = *state;
    const pacs_db_driver *d = f->idx->db;
    const char *sql = on_pg ? "SELECT $1::bigint, $2::text" : "SELECT $1, $2";
    pacs_db_stmt *st = pacs_index__stmt(f->idx, f->db, PACS_SQL_STATS, sql, NULL);
    assert_non_null(st);
    d->bind_int(st, 1, 7);
    d->bind_text(st, 2, "x");
    assert_int_equal(d->step(st, NULL), 1);
    assert_string_equal(text(f, st, 1), "x");
    d->done(st);
    /* Kept: the same statement again (whatever text is given now), its bindings forgotten. */
    assert_ptr_equal(pacs_index__stmt(f->idx, f->db, PACS_SQL_STATS, "SELECT nonsense", NULL), st);
    d->bind_int(st, 1, 8);
    assert_int_equal(d->step(st, NULL), 1);
    assert_int_equal(d->column_int(st, 0), 8);
    size_t n = 0;
    assert_null(d->column(st, 1, &n));
    assert_int_equal(d->step(st, NULL), 0);
    d->done(st);
    /* The dialect's words are put in where the core's statements name them. */
    st =
        pacs_index__stmt(f->idx, f->db, PACS_SQL_STUDY_HAS_CLASS, "SELECT {POS}('abc', 'c')", NULL);
    assert_non_null(st);
    assert_int_equal(d->step(st, NULL), 1);
    assert_int_equal(d->column_int(st, 0), 3);
    d->done(st);
}

/* A statement left after a few rows of many: the connection takes the next one. */
static void test_early_stop(void **state)
{
    fixture *f = *state;
    const pacs_db_driver *d = f->idx->db;
    const char *many = "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c"
                       " WHERE x < 200000) SELECT x, 'some text to make the rows longer' FROM c";
    for (int round = 0; round < 3; round++) {
        pacs_db_stmt *st = once(f, many);
        for (int i = 1; i <= 3; i++) {
            assert_int_equal(d->step(st, NULL), 1);
            assert_int_equal(d->column_int(st, 0), i);
        }
        d->done(st);
        assert_int_equal(one_int(f, "SELECT 42"), 42);
    }
    /* A kept one too, and then used again from its start. */
    pacs_db_stmt *st = pacs_index__stmt(f->idx, f->db, PACS_SQL_OBJECTS, many, NULL);
    assert_int_equal(d->step(st, NULL), 1);
    d->done(st);
    assert_int_equal(one_int(f, "SELECT 43"), 43);
    assert_int_equal(d->step(st, NULL), 1);
    assert_int_equal(d->column_int(st, 0), 1);
    d->done(st);
}

static void test_errors(void **state)
{
    fixture *f = *state;
    const pacs_db_driver *d = f->idx->db;
    pacs_db_stmt *st = NULL;
    pacs_errinfo ei;
    /* Refused at prepare (SQLite) or at the first step (PostgreSQL: sent with it). */
    pacs_err err = d->prepare(f->db, -1, "SELEKT 1", &st, &ei);
    if (err == PACS_OK) {
        assert_int_equal(d->step(st, &ei), -1);
        d->done(st);
    }
    assert_int_equal(ei.code, PACS_EDB);
    assert_non_null(strstr(ei.msg, "syntax"));
    assert_int_equal(one_int(f, "SELECT 44"), 44);
    /* Failing while it runs. */
    st = once(f, on_pg ? "SELECT 1 / (x - 2) FROM (VALUES (1), (2)) AS v(x)"
                       : "SELECT abs(-9223372036854775807 - x) FROM (SELECT 1 AS x UNION ALL"
                         " SELECT 2)");
    int rc;
    while ((rc = d->step(st, &ei)) == 1) {
    }
    assert_int_equal(rc, -1);
    assert_int_not_equal(ei.code, PACS_OK);
    d->done(st);
    assert_int_equal(one_int(f, "SELECT 45"), 45);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_parameters, setup, teardown),
        cmocka_unit_test_setup_teardown(test_values, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kept, setup, teardown),
        cmocka_unit_test_setup_teardown(test_early_stop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_errors, setup, teardown),
    };
    int rc = backends_init(argc, argv);
    if (rc == 0) {
        rc = cmocka_run_group_tests_name(backends_name("index driver"), tests, NULL, NULL);
    }
    return backends_fini(rc);
}
