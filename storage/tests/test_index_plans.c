// SPDX-License-Identifier: MIT
/*
 * Unit tests of how the index reads a limited study find (index_read.c's choice between the
 * planner's plan and a walk of the study dates, index_sql.h), on SQLite and PostgreSQL (see
 * index_backends.h): an archive of a few hundred studies where one family name is most of them
 * and another is rare, with ties of date and time and studies without a date. Every page
 * (limit, offset) of every kind of query (name prefix with and without diacritics, a rare name,
 * a wildcard, fuzzy names, a date range, a PatientID, a name within dates, no key) must be the
 * same studies in the same order as the slice of the whole unpaged answer; and on SQLite a
 * common name is read by walking the dates (no sort), a rare one through the name index.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sqlite3.h>

#include "storage/index.h"
#include "storage/index_core.h"
#include "storage/tests/index_fixture.h"

#define N_STUDIES 400
#define MAX_ROWS (N_STUDIES + 1)

static const char *const kGiven[] = {"Văn An",   "Thị Hương", "Minh Đức", "Quốc Bảo",
                                     "Ngọc Lan", "Văn Đạt",   "Thị Thu"};

/* Study i: 70% Nguyễn, 20% Trần, 2% Quách, the rest Lê; dates over two months with ties, a
 * time on most, no date on some. */
static void load_many(fixture *f)
{
    for (int i = 0; i < N_STUDIES; i++) {
        char study[32], series[32], sop[32], pid[16], name[64], date[16], time[16];
        snprintf(study, sizeof study, "7.%d", i);
        snprintf(series, sizeof series, "7.%d.1", i);
        snprintf(sop, sizeof sop, "7.%d.1.1", i);
        snprintf(pid, sizeof pid, "P%d", i % 37);
        const char *family = i % 50 == 9  ? "Quách"
                             : i % 10 < 7 ? "Nguyễn"
                             : i % 10 < 9 ? "Trần"
                                          : "Lê";
        snprintf(name, sizeof name, "%s^%s", family, kGiven[i % 7]);
        snprintf(date, sizeof date, "202401%02d", 1 + (i * 7919) % 28);
        snprintf(time, sizeof time, "%02d0000", (i * 31) % 5 + 8);
        inst in = {study,
                   series,
                   sop,
                   CT,
                   pid,
                   name,
                   "CT",
                   i % 23 == 0 ? NULL : date,
                   i % 11 == 0 ? NULL : time,
                   "CHEST",
                   1,
                   NULL};
        put(f, &in);
    }
}

typedef struct uids {
    char uid[MAX_ROWS][32];
    size_t n;
} uids;

static int uid_cb(void *ctx, const json_t *result)
{
    uids *u = ctx;
    assert_true(u->n < MAX_ROWS);
    char *v = pacs_json_text(result, 0x0020000Du);
    snprintf(u->uid[u->n++], sizeof u->uid[0], "%s", v ? v : "");
    free(v);
    return 0;
}

/* A study query from "TAGHEX=value" keys (NULL-terminated, or NULL), fuzzy or not. */
static pacs_query *study_query(const char *const *keys, int fuzzy, size_t limit, size_t offset)
{
    pacs_query *q = pacs_query_new(PACS_LEVEL_STUDY);
    pacs_errinfo ei;
    for (size_t i = 0; keys && keys[i]; i++) {
        const char *eq = strchr(keys[i], '=');
        if (pacs_query_add(q, (uint32_t)strtoul(keys[i], NULL, 16), NULL, eq + 1, &ei) != PACS_OK) {
            fail_msg("key %s: %s", keys[i], ei.msg);
        }
    }
    pacs_query_set_fuzzy(q, fuzzy);
    pacs_query_set_paging(q, limit, offset);
    return q;
}

static uids *find_uids(fixture *f, const char *const *keys, int fuzzy, size_t limit, size_t offset)
{
    uids *u = calloc(1, sizeof *u);
    pacs_query *q = study_query(keys, fuzzy, limit, offset);
    pacs_errinfo ei;
    if (pacs_index_find(f->idx, q, uid_cb, u, &ei) != PACS_OK) {
        fail_msg("find: %s", ei.msg);
    }
    pacs_query_free(q);
    return u;
}

#define KEYS(...) ((const char *const[]){__VA_ARGS__, NULL})

typedef struct query_case {
    const char *const *keys;
    int fuzzy;
    size_t min_matches; /* the whole answer has at least this many (so the case tests something) */
} query_case;

static void test_pages_match_whole_answer(void **state)
{
    fixture *f = *state;
    load_many(f);
    const query_case cases[] = {
        {KEYS("00100010=Nguyễn*"), 0, 250},
        {KEYS("00100010=nguyen*"), 0, 250},
        {KEYS("00100010=Quách*"), 0, 5},
        {KEYS("00100010=Tr?n*"), 0, 60},
        {KEYS("00100010=*guy*"), 0, 250},
        {KEYS("00100010=*quach*"), 0, 5},
        {KEYS("00100010=nguyen"), 1, 250},
        {KEYS("00100010=van"), 1, 100},
        {KEYS("00100010=quach minh"), 1, 1},
        {KEYS("00100010=le"), 1, 20}, /* no word long enough for the trigram table */
        {KEYS("00080020=20240110-20240116"), 0, 80},
        {KEYS("00100020=P3"), 0, 5},
        {KEYS("00100020=P3"), 1, 5},
        {KEYS("00100010=Nguyễn*", "00080020=20240105-20240120"), 0, 100},
        {NULL, 0, N_STUDIES},
    };
    const size_t limits[] = {1, 7, 25, 100};
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        uids *whole = find_uids(f, cases[c].keys, cases[c].fuzzy, 0, 0);
        if (whole->n < cases[c].min_matches) {
            fail_msg("case %zu: %zu matches, fewer than %zu", c, whole->n, cases[c].min_matches);
        }
        size_t offsets[] = {0, 3, 60, whole->n > 3 ? whole->n - 3 : 0};
        for (size_t l = 0; l < sizeof limits / sizeof limits[0]; l++) {
            for (size_t o = 0; o < sizeof offsets / sizeof offsets[0]; o++) {
                uids *page = find_uids(f, cases[c].keys, cases[c].fuzzy, limits[l], offsets[o]);
                size_t want = offsets[o] >= whole->n ? 0 : whole->n - offsets[o];
                want = want < limits[l] ? want : limits[l];
                if (page->n != want) {
                    fail_msg("case %zu, limit %zu offset %zu: %zu studies, not %zu", c, limits[l],
                             offsets[o], page->n, want);
                }
                for (size_t i = 0; i < page->n; i++) {
                    if (strcmp(page->uid[i], whole->uid[offsets[o] + i]) != 0) {
                        fail_msg("case %zu, limit %zu offset %zu, row %zu: %s, not %s", c,
                                 limits[l], offsets[o], i, page->uid[i],
                                 whole->uid[offsets[o] + i]);
                    }
                }
                free(page);
            }
        }
        free(whole);
    }
}

/* Whether the last plan chosen narrows through the name trigram table (SQLite). */
static int last_plan_trigrams;

/* The plan of `sql` (SQLite) with the find's parameters bound: each step's detail joined. */
static void explain(fixture *f, const char *sql, const pacs_index__find_plan *plan, char *out,
                    size_t cap)
{
    sqlite3 *s = NULL;
    assert_int_equal(sqlite3_open_v2(f->loc, &s, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
    char text[8192];
    assert_true((size_t)snprintf(text, sizeof text, "EXPLAIN QUERY PLAN %s", sql) < sizeof text);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(s, text, -1, &st, NULL), SQLITE_OK);
    for (size_t i = 0; i < plan->c.n_binds; i++) {
        const pacs_index__bind *b = &plan->c.binds[i];
        if (b->is_int) {
            sqlite3_bind_int64(st, (int)i + 1, b->i);
        } else {
            sqlite3_bind_text(st, (int)i + 1, b->s, -1, SQLITE_STATIC);
        }
    }
    size_t len = 0;
    out[0] = '\0';
    while (sqlite3_step(st) == SQLITE_ROW) {
        const char *detail = (const char *)sqlite3_column_text(st, 3);
        int n = snprintf(out + len, cap - len, "%s; ", detail ? detail : "");
        assert_true(n > 0 && (size_t)n < cap - len);
        len += (size_t)n;
    }
    assert_true(len > 0);
    sqlite3_finalize(st);
    sqlite3_close(s);
}

/* The plan chosen for a study find; `walks` set when it reads the dates. On SQLite, the walk's
 * query plan is checked to sort nothing (no temporary B-tree), and its keys (names and dates
 * here) to be tested on the date index's entries alone: a study that does not match is not
 * read from the table. */
static void chosen_plan(fixture *f, const char *const *keys, int fuzzy, size_t limit, int *walks)
{
    pacs_query *q = study_query(keys, fuzzy, limit, 0);
    pacs_index__find_plan *plan = calloc(1, sizeof *plan);
    pacs_db *db = NULL;
    pacs_errinfo ei;
    assert_int_equal(f->idx->be->conn_get(f->idx, &db, &ei), PACS_OK);
    if (pacs_index__find_choose(f->idx, db, q, plan, &ei) != PACS_OK) {
        fail_msg("plan: %s", ei.msg);
    }
    f->idx->be->conn_put(f->idx, db);
    *walks = plan->date_walk;
    last_plan_trigrams = strstr(plan->sql.data, "_fts") != NULL;
    if (!on_pg && plan->date_walk) {
        char detail[2048];
        explain(f, plan->sql.data, plan, detail, sizeof detail);
        if (strstr(detail, "TEMP B-TREE")) {
            fail_msg("the date walk sorts: %s(%s)", detail, plan->sql.data);
        }
        char keys_only[8192];
        assert_true((size_t)snprintf(keys_only, sizeof keys_only,
                                     "SELECT st.pk FROM studies st INDEXED BY studies_date%s",
                                     plan->c.where.data) < sizeof keys_only);
        explain(f, keys_only, plan, detail, sizeof detail);
        if (!strstr(detail, "COVERING INDEX")) {
            fail_msg("the date walk reads each study's row to test its keys: %s(%s)", detail,
                     keys_only);
        }
    }
    pacs_index__find_plan_free(plan);
    free(plan);
    pacs_query_free(q);
}

static void test_plan_chosen_from_counts(void **state)
{
    fixture *f = *state;
    load_many(f);
    int walks = -1;
    /* 280 of 400 studies match, far above sqrt(10 x 400): walk the dates (where the dialect
     * is told to; PostgreSQL's planner weighs it from its statistics). */
    chosen_plan(f, KEYS("00100010=Nguyễn*"), 0, 10, &walks);
    assert_int_equal(walks, !on_pg);
    chosen_plan(f, KEYS("00100010=nguyen"), 1, 10, &walks);
    assert_int_equal(walks, !on_pg);
    /* 8 match: fetch them through the name index, then sort. */
    chosen_plan(f, KEYS("00100010=Quách*"), 0, 10, &walks);
    assert_int_equal(walks, 0);
    chosen_plan(f, KEYS("00100010=quach"), 1, 10, &walks);
    assert_int_equal(walks, 0);
    /* A fuzzy word too short for the trigram table: the page is found among the newest. */
    chosen_plan(f, KEYS("00100010=le"), 1, 1, &walks);
    assert_int_equal(walks, !on_pg);
    /* Fuzzy matching asked for (as OHIF always does) without a name: counted in its index. */
    chosen_plan(f, KEYS("00100020=P3"), 1, 10, &walks);
    assert_int_equal(walks, 0);
    chosen_plan(f, KEYS("00080020=20240101-20240128"), 1, 10, &walks);
    assert_int_equal(walks, !on_pg);
    /* A pattern no index serves: the page is found among the newest, or it is not. */
    chosen_plan(f, KEYS("00100010=*guy*"), 0, 10, &walks);
    assert_int_equal(walks, !on_pg);
    assert_int_equal(last_plan_trigrams, 0);
    /* ... and one rare enough is narrowed through the trigram table (SQLite; PostgreSQL's own
     * trigram index serves the pattern itself). */
    chosen_plan(f, KEYS("00100010=*quach*"), 0, 10, &walks);
    assert_int_equal(walks, 0);
    assert_int_equal(last_plan_trigrams, !on_pg);
    /* Typed with diacritics the pattern is matched on the name as written: no narrowing. */
    chosen_plan(f, KEYS("00100010=*Quách*"), 0, 10, &walks);
    assert_int_equal(last_plan_trigrams, 0);
    if (!on_pg) {
        /* The narrowed answer is the pattern's whole answer: counted here by the pattern alone. */
        sqlite3 *s = NULL;
        sqlite3_stmt *st = NULL;
        assert_int_equal(sqlite3_open_v2(f->loc, &s, SQLITE_OPEN_READONLY, NULL), SQLITE_OK);
        assert_int_equal(sqlite3_prepare_v2(s,
                                            "SELECT count(*) FROM studies"
                                            " WHERE patient_name_fold GLOB '*quach*'",
                                            -1, &st, NULL),
                         SQLITE_OK);
        assert_int_equal(sqlite3_step(st), SQLITE_ROW);
        long long n = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
        sqlite3_close(s);
        uids *u = find_uids(f, KEYS("00100010=*quach*"), 0, 0, 0);
        assert_true(n >= 5);
        assert_int_equal((long long)u->n, n);
        free(u);
    }
    /* Without a limit every match is read: the planner's plan. */
    chosen_plan(f, KEYS("00100010=Nguyễn*"), 0, 0, &walks);
    assert_int_equal(walks, 0);
}

/* PostgreSQL: the folded names carry finer statistics (index_pg.c, migration 12), from which its
 * planner tells a rare *text* pattern from a common one. */
static void test_pg_name_statistics(void **state)
{
    fixture *f = *state;
    if (!on_pg) {
        skip();
    }
    assert_int_equal(sh("test \"$(timeout 60 psql '%s' -qAtX -c \"SELECT attstattarget FROM"
                        " pg_attribute WHERE attrelid = 'studies'::regclass AND attname ="
                        " 'patient_name_fold'\")\" = 1000",
                        f->loc),
                     0);
}

static void test_walk_cap(void **state)
{
    (void)state;
    pacs_query *q = study_query(NULL, 0, 10, 0);
    assert_int_equal(pacs_index__walk_cap(q, 400), 63); /* floor(sqrt(4000)) */
    assert_int_equal(pacs_index__walk_cap(q, 200000), 1414);
    assert_int_equal(pacs_index__walk_cap(q, 0), 11); /* never below the page */
    pacs_query_set_paging(q, 100, SIZE_MAX - 50);     /* an absurd offset does not wrap */
    assert_true(pacs_index__walk_cap(q, 1000000) > 1000000);
    pacs_query_free(q);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_pages_match_whole_answer, setup, teardown),
        cmocka_unit_test_setup_teardown(test_plan_chosen_from_counts, setup, teardown),
        cmocka_unit_test_setup_teardown(test_pg_name_statistics, setup, teardown),
        cmocka_unit_test(test_walk_cap),
    };
    int rc = backends_init(argc, argv);
    if (rc == 0) {
        rc = cmocka_run_group_tests_name(backends_name("index plans"), tests, NULL, NULL);
    }
    return backends_fini(rc);
}
