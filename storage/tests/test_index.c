// SPDX-License-Identifier: MIT
/*
 * Unit tests of the index (index.h) on a real database, SQLite (a file in a temporary folder)
 * or PostgreSQL (a fresh database; see index_backends.h), the same tests on both: put (new,
 * identical, replacement), find at every level with the computed keys, instance lists, removal
 * at every level with sweep records, ModalitiesInStudy and SOPClassesInStudy kept right through
 * adds, removals and replacements, person names matched with and without diacritics, date and
 * time ranges, UID lists, sequence matching, paging with and without keys matched in C, and
 * group commit when a job fails. The index's other records: test_index_records.c.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "storage/catalog.h"
#include "storage/index.h"
#include "storage/tests/index_fixture.h"

/* Results of a find, as "value of tag A|value of tag B" lines. */
typedef struct rows {
    uint32_t tags[4];
    size_t n_tags;
    char text[64][256];
    size_t n;
} rows;

static int row_cb(void *ctx, const json_t *result)
{
    rows *r = ctx;
    assert_true(r->n < 64);
    char *line = r->text[r->n++];
    line[0] = '\0';
    for (size_t i = 0; i < r->n_tags; i++) {
        char *v = pacs_json_text(result, r->tags[i]);
        size_t len = strlen(line);
        snprintf(line + len, 256 - len, "%s%s", i ? "|" : "", v ? v : "");
        free(v);
    }
    return 0;
}

/* Runs a find at `level` with `keys` ("TAGHEX=value" strings, NULL-terminated) and returns the
 * values of `show` (hex tags, at most 4) per match. */
static rows find(fixture *f, pacs_level level, const char *const *keys, const char *const *show,
                 size_t limit, size_t offset)
{
    pacs_query *q = pacs_query_new(level);
    rows r;
    memset(&r, 0, sizeof r);
    for (size_t i = 0; show[i]; i++) {
        r.tags[r.n_tags++] = (uint32_t)strtoul(show[i], NULL, 16);
        assert_int_equal(pacs_query_include(q, r.tags[i], NULL), PACS_OK);
    }
    pacs_errinfo ei;
    for (size_t i = 0; keys && keys[i]; i++) {
        const char *eq = strchr(keys[i], '=');
        if (pacs_query_add(q, (uint32_t)strtoul(keys[i], NULL, 16), NULL, eq + 1, &ei) != PACS_OK) {
            fail_msg("key %s: %s", keys[i], ei.msg);
        }
    }
    pacs_query_set_paging(q, limit, offset);
    if (pacs_index_find(f->idx, q, row_cb, &r, &ei) != PACS_OK) {
        fail_msg("find: %s", ei.msg);
    }
    pacs_query_free(q);
    return r;
}

#define KEYS(...) ((const char *const[]){__VA_ARGS__, NULL})

static size_t count(fixture *f, pacs_level level, const char *const *keys)
{
    return find(f, level, keys, KEYS("0020000D"), 0, 0).n;
}

static void test_find_levels(void **state)
{
    fixture *f = *state;
    load(f);
    /* Studies newest first, with their computed keys. */
    rows r =
        find(f, PACS_LEVEL_STUDY, NULL, KEYS("0020000D", "00201208", "00201206", "00080061"), 0, 0);
    assert_int_equal(r.n, 3);
    assert_string_equal(r.text[0], "1.3|1|1|CT");
    assert_string_equal(r.text[1], "1.1|3|2|CT\\SR");
    assert_string_equal(r.text[2], "1.2|1|1|MR");
    r = find(f, PACS_LEVEL_STUDY, KEYS("0020000D=1.1"), KEYS("00080062"), 0, 0);
    assert_int_equal(r.n, 1);
    assert_string_equal(r.text[0], CT "\\" SR);
    r = find(f, PACS_LEVEL_PATIENT, NULL, KEYS("00100020", "00201200", "00201202", "00201204"), 0,
             0);
    assert_int_equal(r.n, 2);
    assert_string_equal(r.text[0], "P1|2|3|4");
    assert_string_equal(r.text[1], "P2|1|1|1");
    r = find(f, PACS_LEVEL_SERIES, KEYS("0020000D=1.1"), KEYS("0020000E", "00080060", "00201209"),
             0, 0);
    assert_int_equal(r.n, 2);
    assert_string_equal(r.text[0], "1.1.1|CT|2");
    assert_string_equal(r.text[1], "1.1.2|SR|1");
    r = find(f, PACS_LEVEL_INSTANCE, KEYS("0020000E=1.1.1"), KEYS("00080018", "00200013"), 0, 0);
    assert_int_equal(r.n, 2);
    assert_string_equal(r.text[0], "1.1.1.1|1");
    assert_string_equal(r.text[1], "1.1.1.2|2");
    /* Unique keys of the levels above come back without being asked for. */
    r = find(f, PACS_LEVEL_INSTANCE, KEYS("00080018=1.3.1.1"), KEYS("0020000D", "0020000E"), 0, 0);
    assert_string_equal(r.text[0], "1.3|1.3.1");
    /* An instance-level key at study level cannot match. */
    assert_int_equal(count(f, PACS_LEVEL_STUDY, KEYS("00080018=1.1.1.1")), 0);
    pacs_index_stats s;
    assert_int_equal(pacs_index_stats_get(f->idx, &s, NULL), PACS_OK);
    assert_int_equal(s.patients, 2);
    assert_int_equal(s.studies, 3);
    assert_int_equal(s.series, 4);
    assert_int_equal(s.instances, 5);
    assert_int_equal(s.object_bytes, 5000);
}

static void test_matching(void **state)
{
    fixture *f = *state;
    load(f);
    static const struct {
        pacs_level level;
        const char *key;
        size_t want;
    } cases[] = {
        {PACS_LEVEL_STUDY, "00100010=Nguyễn^Thị Hương", 2},
        {PACS_LEVEL_STUDY, "00100010=NGUYỄN^THỊ HƯƠNG", 2},
        {PACS_LEVEL_STUDY, "00100010=nguyen^thi huong", 2},
        {PACS_LEVEL_STUDY, "00100010=nguyen*", 2},
        {PACS_LEVEL_STUDY, "00100010=*HUONG", 2},
        {PACS_LEVEL_STUDY, "00100010=Nguyễn*", 2},
        {PACS_LEVEL_STUDY, "00100010=Nguyến*", 0}, /* typed with another tone */
        {PACS_LEVEL_STUDY, "00100010=huong", 0},   /* not the whole name */
        {PACS_LEVEL_STUDY, "00100010=dang*", 1},
        {PACS_LEVEL_STUDY, "00100010=đặng*", 1},
        {PACS_LEVEL_STUDY, "00100010=?ặng*", 1},
        {PACS_LEVEL_PATIENT, "00100010=*duc", 1},
        {PACS_LEVEL_STUDY, "00080020=20240101-20241231", 2},
        {PACS_LEVEL_STUDY, "00080020=20240615-", 2},
        {PACS_LEVEL_STUDY, "00080020=-20231231", 1},
        {PACS_LEVEL_STUDY, "00080020=20240615", 1},
        {PACS_LEVEL_STUDY, "00080020=2024*", 2},
        {PACS_LEVEL_STUDY, "00080020=20240615\\20230101", 2},
        {PACS_LEVEL_STUDY, "00080030=10-10", 1}, /* the hour 10:00-10:59:59 */
        {PACS_LEVEL_STUDY, "00080030=1015-1015", 1},
        {PACS_LEVEL_STUDY, "00080030=-0800", 1},
        {PACS_LEVEL_STUDY, "00080030=2359-", 1},
        {PACS_LEVEL_STUDY, "00080030=0801-1014", 0},
        {PACS_LEVEL_STUDY, "0020000D=1.1\\1.3\\9.9", 2},
        {PACS_LEVEL_STUDY, "00080061=SR", 1},
        {PACS_LEVEL_STUDY, "00080061=CT", 2},
        {PACS_LEVEL_STUDY, "00080061=MR\\SR", 2},
        {PACS_LEVEL_STUDY, "00080061=C*", 2},
        {PACS_LEVEL_STUDY, "00081030=*EST", 1},
        {PACS_LEVEL_STUDY, "00100020=P1", 2},
        {PACS_LEVEL_SERIES, "00080060=CT", 2},
        {PACS_LEVEL_SERIES, "00080060=CT\\MR", 3},
        {PACS_LEVEL_SERIES, "00200011=", 4},
        {PACS_LEVEL_INSTANCE, "00200013=2", 1},
        {PACS_LEVEL_INSTANCE, "00200013=1\\2", 5},
        {PACS_LEVEL_INSTANCE, "00080016=" CT, 3},
        {PACS_LEVEL_INSTANCE, "00100010=dang^van duc", 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t n = count(f, cases[i].level, KEYS(cases[i].key));
        if (n != cases[i].want) {
            fail_msg("%s at %s: %zu matches, wanted %zu", cases[i].key,
                     pacs_level_name(cases[i].level), n, cases[i].want);
        }
    }
    /* A numeric key cannot take a range. */
    pacs_query *q = pacs_query_new(PACS_LEVEL_INSTANCE);
    assert_int_equal(pacs_query_add(q, 0x00200013u, "IS", "1*", NULL), PACS_OK);
    rows r;
    memset(&r, 0, sizeof r);
    pacs_errinfo ei;
    assert_int_equal(pacs_index_find(f->idx, q, row_cb, &r, &ei), PACS_EINVAL);
    pacs_query_free(q);
}

/* Fuzzy matching (QIDO fuzzymatching=true): any word's start, diacritics and case ignored. */
static void test_fuzzy(void **state)
{
    fixture *f = *state;
    load(f);
    static const struct {
        const char *name;
        size_t want;
    } cases[] = {
        {"huong", 2}, {"HƯƠNG", 2},    {"thi", 2},  {"ngu", 2},
        {"duc", 1},   {"đặng văn", 1}, {"uyen", 0}, {"nguyen duc", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        pacs_query *q = pacs_query_new(PACS_LEVEL_STUDY);
        assert_int_equal(pacs_query_add(q, 0x00100010u, "PN", cases[i].name, NULL), PACS_OK);
        pacs_query_set_fuzzy(q, 1);
        rows r;
        memset(&r, 0, sizeof r);
        r.tags[r.n_tags++] = 0x0020000Du;
        assert_int_equal(pacs_index_find(f->idx, q, row_cb, &r, NULL), PACS_OK);
        if (r.n != cases[i].want) {
            fail_msg("fuzzy '%s': %zu matches, wanted %zu", cases[i].name, r.n, cases[i].want);
        }
        pacs_query_free(q);
    }
}

static void test_resend_and_replace(void **state)
{
    fixture *f = *state;
    load(f);
    inst again = {"1.1", "1.1.1",    "1.1.1.2", CT,      "P1", "Nguyễn^Thị Hương",
                  "CT",  "20240615", "101500",  "CHEST", 2,    NULL};
    pacs_put_result r = put(f, &again);
    assert_true(r.existed);
    assert_false(r.replaced);
    rows rs = find(f, PACS_LEVEL_STUDY, KEYS("0020000D=1.1"), KEYS("00201208"), 0, 0);
    assert_string_equal(rs.text[0], "3");
    /* Changed content, same SOP Instance UID: replaced, the old object recorded for sweeping. */
    again.object_seed = "changed";
    again.description = "CHEST NEW";
    r = put(f, &again);
    assert_true(r.existed);
    assert_true(r.replaced);
    char old[PACS_OBJECT_KEY_LEN + 1];
    key_of("1.1.1.2", old);
    assert_string_equal(r.old_object, old);
    rs = find(f, PACS_LEVEL_STUDY, KEYS("0020000D=1.1"), KEYS("00201208", "00081030"), 0, 0);
    assert_string_equal(rs.text[0], "3|CHEST NEW");
    int referenced = 1;
    assert_int_equal(pacs_index_object_referenced(f->idx, old, &referenced, NULL), PACS_OK);
    assert_false(referenced);
    char now[PACS_OBJECT_KEY_LEN + 1];
    key_of("changed", now);
    assert_int_equal(pacs_index_object_referenced(f->idx, now, &referenced, NULL), PACS_OK);
    assert_true(referenced);
    pacs_index_stats s;
    assert_int_equal(pacs_index_stats_get(f->idx, &s, NULL), PACS_OK);
    assert_int_equal(s.instances, 5);
}

static void test_sweep_records(void **state)
{
    fixture *f = *state;
    load(f);
    assert_int_equal(pending(f).n, 0);
    inst v2 = {"1.3", "1.3.1",    "1.3.1.1", CT,        "P2", "Đặng^Văn Đức",
               "CT",  "20240701", "080000",  "ABDOMEN", 1,    "v2"};
    put(f, &v2);
    objs o = pending(f);
    assert_int_equal(o.n, 1);
    char old[PACS_OBJECT_KEY_LEN + 1];
    key_of("1.3.1.1", old);
    assert_string_equal(o.keys[0], old);
    assert_int_equal(pacs_index_sweep_done(f->idx, old, NULL), PACS_OK);
    assert_int_equal(pending(f).n, 0);
    objs all;
    memset(&all, 0, sizeof all);
    assert_int_equal(pacs_index_objects(f->idx, obj_cb, &all, NULL), PACS_OK);
    assert_int_equal(all.n, 5);
}

static void test_remove_levels(void **state)
{
    fixture *f = *state;
    load(f);
    /* One instance of a two-instance series: counts drop, nothing else goes. */
    remove_q(f, PACS_LEVEL_INSTANCE, 0x00080018u, "1.1.1.1", 1);
    rows r = find(f, PACS_LEVEL_STUDY, KEYS("0020000D=1.1"),
                  KEYS("00201208", "00201206", "00080061", "00080062"), 0, 0);
    assert_string_equal(r.text[0], "2|2|CT\\SR|" CT "\\" SR);
    assert_int_equal(pending(f).n, 1);
    /* The SR series: the study keeps CT only, in both computed sets. */
    remove_q(f, PACS_LEVEL_SERIES, 0x0020000Eu, "1.1.2", 1);
    r = find(f, PACS_LEVEL_STUDY, KEYS("0020000D=1.1"),
             KEYS("00201208", "00201206", "00080061", "00080062"), 0, 0);
    assert_string_equal(r.text[0], "1|1|CT|" CT);
    r = find(f, PACS_LEVEL_PATIENT, KEYS("00100020=P1"), KEYS("00201200", "00201202", "00201204"),
             0, 0);
    assert_string_equal(r.text[0], "2|2|2");
    /* A whole study; the patient stays for the other one. */
    remove_q(f, PACS_LEVEL_STUDY, 0x0020000Du, "1.1", 1);
    r = find(f, PACS_LEVEL_PATIENT, KEYS("00100020=P1"), KEYS("00201200", "00201202", "00201204"),
             0, 0);
    assert_string_equal(r.text[0], "1|1|1");
    /* The last study of a patient takes the patient with it. */
    remove_q(f, PACS_LEVEL_STUDY, 0x0020000Du, "1.2", 1);
    assert_int_equal(count(f, PACS_LEVEL_PATIENT, KEYS("00100020=P1")), 0);
    remove_q(f, PACS_LEVEL_STUDY, 0x0020000Du, "9.9.9", 0);
    pacs_index_stats s;
    assert_int_equal(pacs_index_stats_get(f->idx, &s, NULL), PACS_OK);
    assert_int_equal(s.patients, 1);
    assert_int_equal(s.studies, 1);
    assert_int_equal(s.series, 1);
    assert_int_equal(s.instances, 1);
    assert_int_equal(pending(f).n, 4);
}

/* ModalitiesInStudy and SOPClassesInStudy follow every change, replacements included. */
static void test_study_sets_on_replace(void **state)
{
    fixture *f = *state;
    inst a = {"7.1", "7.1.1", "7.1.1.1", CT, "P7", "X^Y", "CT", "20240101", "1000", "", 1, NULL};
    inst b = {"7.1", "7.1.1", "7.1.1.2", CT, "P7", "X^Y", "CT", "20240101", "1000", "", 2, NULL};
    put(f, &a);
    put(f, &b);
    rows r = find(f, PACS_LEVEL_STUDY, KEYS("0020000D=7.1"), KEYS("00080061", "00080062"), 0, 0);
    assert_string_equal(r.text[0], "CT|" CT);
    /* Instance b is resent, corrected: it is an MR image of another class now. */
    b.modality = "MR";
    b.sop_class = MR;
    b.object_seed = "b2";
    assert_true(put(f, &b).replaced);
    r = find(f, PACS_LEVEL_STUDY, KEYS("0020000D=7.1"), KEYS("00080061", "00080062"), 0, 0);
    assert_string_equal(r.text[0], "MR|" CT "\\" MR);
    /* And a is corrected the same way: CT is gone from both sets. */
    a.modality = "MR";
    a.sop_class = MR;
    a.object_seed = "a2";
    assert_true(put(f, &a).replaced);
    r = find(f, PACS_LEVEL_STUDY, KEYS("0020000D=7.1"), KEYS("00080061", "00080062", "00201208"), 0,
             0);
    assert_string_equal(r.text[0], "MR|" MR "|2");
    assert_int_equal(count(f, PACS_LEVEL_STUDY, KEYS("00080061=CT")), 0);
    assert_int_equal(count(f, PACS_LEVEL_STUDY, KEYS("00080061=MR")), 1);
    /* Regression: a resend that changes only the modality (same series, same SOP class) left
     * ModalitiesInStudy as it was. */
    inst c = {"7.2", "7.2.1", "7.2.1.1", CT, "P7", "X^Y", "CT", "20240101", "1000", "", 1, NULL};
    inst d = {"7.2", "7.2.1", "7.2.1.2", CT, "P7", "X^Y", "CT", "20240101", "1000", "", 2, NULL};
    put(f, &c);
    put(f, &d);
    d.modality = "PT";
    d.object_seed = "d2";
    assert_true(put(f, &d).replaced);
    r = find(f, PACS_LEVEL_SERIES, KEYS("0020000E=7.2.1"), KEYS("00080060"), 0, 0);
    assert_string_equal(r.text[0], "PT"); /* the series takes its latest instance's modality */
    r = find(f, PACS_LEVEL_STUDY, KEYS("0020000D=7.2"), KEYS("00080061", "00080062"), 0, 0);
    assert_string_equal(r.text[0], "PT|" CT);
    assert_int_equal(count(f, PACS_LEVEL_STUDY, KEYS("00080061=CT")), 0);
    /* And a new instance of a known class in an existing series with another modality. */
    inst e = {"7.2", "7.2.1", "7.2.1.3", CT, "P7", "X^Y", "OT", "20240101", "1000", "", 3, NULL};
    put(f, &e);
    r = find(f, PACS_LEVEL_STUDY, KEYS("0020000D=7.2"), KEYS("00080061"), 0, 0);
    assert_string_equal(r.text[0], "OT");
}

/* A later instance that leaves a study or patient attribute out, or empty (a report sent by a
 * RIS without the study's description or the patient's name), keeps the earlier value; one
 * that gives a value replaces it. */
static void test_later_instance_keeps_values(void **state)
{
    fixture *f = *state;
    inst ct = {"8.1", "8.1.1",    "8.1.1.1", CT,      "P8", "Lê^Văn Tám",
               "CT",  "20240301", "0900",    "CHEST", 1,    NULL};
    inst sr = {"8.1", "8.1.2", "8.1.2.1", SR, "P8", NULL, "SR", NULL, NULL, NULL, 1, NULL};
    put(f, &ct);
    put(f, &sr);
    const char *const *show = KEYS("00081030", "00100010", "00080020", "00080030");
    rows r = find(f, PACS_LEVEL_STUDY, KEYS("0020000D=8.1"), show, 0, 0);
    assert_int_equal(r.n, 1);
    assert_string_equal(r.text[0], "CHEST|Lê^Văn Tám|20240301|0900");
    /* Matched by the kept values, with and without diacritics. */
    assert_int_equal(count(f, PACS_LEVEL_STUDY, KEYS("00081030=CHEST", "00100010=le^van*")), 1);
    r = find(f, PACS_LEVEL_PATIENT, KEYS("00100020=P8"), KEYS("00100010"), 0, 0);
    assert_string_equal(r.text[0], "Lê^Văn Tám");
    /* Empty values keep them too. */
    inst blank = {"8.1", "8.1.2", "8.1.2.2", SR, "P8", "", "SR", "", "", "", 2, NULL};
    put(f, &blank);
    r = find(f, PACS_LEVEL_STUDY, KEYS("0020000D=8.1"), show, 0, 0);
    assert_string_equal(r.text[0], "CHEST|Lê^Văn Tám|20240301|0900");
    /* A value given replaces: the latest instance's wins, as before. */
    inst fix = {"8.1", "8.1.1", "8.1.1.2", CT,         "P8", "Lê^Văn Tâm",
                "CT",  NULL,    NULL,      "CHEST PA", 2,    NULL};
    put(f, &fix);
    r = find(f, PACS_LEVEL_STUDY, KEYS("0020000D=8.1"), show, 0, 0);
    assert_string_equal(r.text[0], "CHEST PA|Lê^Văn Tâm|20240301|0900");
    assert_int_equal(count(f, PACS_LEVEL_STUDY, KEYS("00100010=Lê^Văn Tám")), 0);
    r = find(f, PACS_LEVEL_PATIENT, KEYS("00100020=P8"), KEYS("00100010"), 0, 0);
    assert_string_equal(r.text[0], "Lê^Văn Tâm");
}

/* The WAL frames written since the last call (SQLite), the WAL emptied after. */
static int wal_frames(fixture *f)
{
    sqlite3 *db = NULL;
    int frames = -1;
    assert_int_equal(sqlite3_open(f->loc, &db), SQLITE_OK);
    sqlite3_busy_timeout(db, 10000);
    sqlite3_stmt *st = NULL;
    assert_int_equal(sqlite3_prepare_v2(db, "PRAGMA wal_checkpoint(PASSIVE)", -1, &st, NULL),
                     SQLITE_OK);
    if (sqlite3_step(st) == SQLITE_ROW) {
        frames = sqlite3_column_int(st, 1);
    }
    sqlite3_finalize(st);
    assert_int_equal(sqlite3_exec(db, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL),
                     SQLITE_OK);
    sqlite3_close(db);
    return frames;
}

/* On SQLite, an instance that changes none of its study's indexed values (the usual case: every
 * slice of a CT says the same) leaves the study's indexes unwritten; SQLite rewrote their
 * entries with the same values for every instance before (7 pages of WAL each). One that
 * changes one writes it, and the study is found by the new value only. */
static void test_same_study_values_leave_indexes(void **state)
{
    fixture *f = *state;
    if (on_pg) {
        skip();
    }
    inst a = {"6.1", "6.1.1",    "6.1.1.1", CT,     "P6", "Phạm^Văn Hải",
              "CT",  "20240401", "0800",    "HEAD", 1,    NULL};
    put(f, &a);
    wal_frames(f);
    inst b = a;
    b.sop = "6.1.1.2";
    b.number = 2;
    put(f, &b);
    int same = wal_frames(f);
    inst c = a;
    c.sop = "6.1.1.3";
    c.number = 3;
    c.date = "20240402";
    put(f, &c);
    int changed = wal_frames(f);
    assert_true(same > 0);
    assert_true(changed > same);
    assert_int_equal(count(f, PACS_LEVEL_STUDY, KEYS("00080020=20240402")), 1);
    assert_int_equal(count(f, PACS_LEVEL_STUDY, KEYS("00080020=20240401")), 0);
    assert_int_equal(count(f, PACS_LEVEL_STUDY, KEYS("00100010=pham^van hai", "00080020=20240402")),
                     1);
}

static void test_sequence_and_paging(void **state)
{
    fixture *f = *state;
    char study[32], series[32], sop[32];
    for (int i = 0; i < 12; i++) {
        snprintf(study, sizeof study, "9.%d", i);
        snprintf(series, sizeof series, "9.%d.1", i);
        snprintf(sop, sizeof sop, "9.%d.1.1", i);
        char date[16];
        snprintf(date, sizeof date, "202401%02d", i + 1);
        inst in = {study,       series, sop,  CT,     "P9",
                   "Trần^Quốc", "CT",   date, "1200", i % 3 == 0 ? "ROUTINE" : "OTHER",
                   1,           NULL};
        json_t *j = instance_json(&in);
        /* RequestAttributesSequence: one item, requested procedure "RP<i mod 2>". */
        char rp[8];
        snprintf(rp, sizeof rp, "RP%d", i % 2);
        json_object_set_new(j, "00400275",
                            json_pack("{s:s,s:[{s:{s:s,s:[s]}}]}", "vr", "SQ", "Value", "00401001",
                                      "vr", "SH", "Value", rp));
        pacs_index_entry e;
        memset(&e, 0, sizeof e);
        e.json = j;
        e.study_uid = in.study;
        e.series_uid = in.series;
        e.sop_uid = in.sop;
        e.sop_class_uid = in.sop_class;
        e.ts_uid = "1.2.840.10008.1.2.1";
        key_of(in.sop, e.object);
        e.object_size = 10;
        e.source_aet = "";
        pacs_put_result res;
        assert_int_equal(pacs_index_put(f->idx, &e, &res, NULL), PACS_OK);
        json_decref(j);
    }
    /* Paging in SQL (no key matched in C): newest first. */
    rows r = find(f, PACS_LEVEL_STUDY, NULL, KEYS("0020000D"), 5, 0);
    assert_int_equal(r.n, 5);
    assert_string_equal(r.text[0], "9.11");
    r = find(f, PACS_LEVEL_STUDY, NULL, KEYS("0020000D"), 5, 10);
    assert_int_equal(r.n, 2);
    assert_string_equal(r.text[1], "9.0");
    r = find(f, PACS_LEVEL_STUDY, NULL, KEYS("0020000D"), 0, 11);
    assert_int_equal(r.n, 1);
    /* Sequence matching at series level (matched in C against stored attributes). */
    pacs_query *q = pacs_query_new(PACS_LEVEL_SERIES);
    pacs_query *item = NULL;
    assert_int_equal(pacs_query_add_sequence(q, 0x00400275u, &item, NULL), PACS_OK);
    assert_int_equal(pacs_query_add(item, 0x00401001u, "SH", "RP1", NULL), PACS_OK);
    memset(&r, 0, sizeof r);
    r.tags[r.n_tags++] = 0x0020000Eu;
    assert_int_equal(pacs_index_find(f->idx, q, row_cb, &r, NULL), PACS_OK);
    assert_int_equal(r.n, 6);
    /* Paging after the C-side filter: offset and limit count matches, not rows read. */
    pacs_query_set_paging(q, 4, 3);
    memset(&r, 0, sizeof r);
    r.tags[r.n_tags++] = 0x0020000Eu;
    assert_int_equal(pacs_index_find(f->idx, q, row_cb, &r, NULL), PACS_OK);
    assert_int_equal(r.n, 3);
    assert_string_equal(r.text[0], "9.7.1");
    pacs_query_free(q);
    /* Paging in SQL behind a WHERE clause. */
    r = find(f, PACS_LEVEL_STUDY, KEYS("00081030=ROUTINE"), KEYS("0020000D"), 2, 1);
    assert_int_equal(r.n, 2);
    assert_string_equal(r.text[0], "9.6");
    /* The returned sequence is the stored one. */
    q = pacs_query_new(PACS_LEVEL_SERIES);
    assert_int_equal(pacs_query_add(q, 0x0020000Eu, "UI", "9.3.1", NULL), PACS_OK);
    assert_int_equal(pacs_query_add_sequence(q, 0x00400275u, &item, NULL), PACS_OK);
    memset(&r, 0, sizeof r);
    r.tags[r.n_tags++] = 0x0020000Eu;
    assert_int_equal(pacs_index_find(f->idx, q, row_cb, &r, NULL), PACS_OK);
    assert_int_equal(r.n, 1);
    pacs_query_free(q);
}

typedef struct inst_rows {
    char sops[16][65];
    size_t n;
    int had_metadata;
} inst_rows;

static int inst_cb(void *ctx, const pacs_instance_rec *rec)
{
    inst_rows *r = ctx;
    assert_true(r->n < 16);
    snprintf(r->sops[r->n++], 65, "%s", rec->sop_uid);
    if (rec->metadata) {
        json_t *j = json_loadb(rec->metadata, rec->metadata_len, 0, NULL);
        assert_non_null(j);
        char *sop = pacs_json_text(j, 0x00080018u);
        assert_string_equal(sop, rec->sop_uid);
        free(sop);
        json_decref(j);
        r->had_metadata = 1;
    }
    assert_int_equal(strlen(rec->object), PACS_OBJECT_KEY_LEN);
    return 0;
}

static void test_instances(void **state)
{
    fixture *f = *state;
    load(f);
    pacs_query *q = pacs_query_new(PACS_LEVEL_STUDY);
    assert_int_equal(pacs_query_add(q, 0x0020000Du, "UI", "1.1", NULL), PACS_OK);
    inst_rows r;
    memset(&r, 0, sizeof r);
    assert_int_equal(pacs_index_instances(f->idx, q, PACS_REC_METADATA, inst_cb, &r, NULL),
                     PACS_OK);
    assert_int_equal(r.n, 3);
    assert_true(r.had_metadata);
    assert_string_equal(r.sops[0], "1.1.1.1");
    assert_string_equal(r.sops[1], "1.1.1.2");
    assert_string_equal(r.sops[2], "1.1.2.1");
    pacs_query_free(q);
    q = pacs_query_new(PACS_LEVEL_PATIENT);
    assert_int_equal(pacs_query_add(q, 0x00100020u, "LO", "P1", NULL), PACS_OK);
    memset(&r, 0, sizeof r);
    assert_int_equal(pacs_index_instances(f->idx, q, 0, inst_cb, &r, NULL), PACS_OK);
    assert_int_equal(r.n, 4);
    assert_false(r.had_metadata);
    pacs_query_free(q);
}

/* The index reopens with everything in it (the writer's commits are durable). */
static void test_reopen(void **state)
{
    fixture *f = *state;
    load(f);
    pacs_index_close(f->idx);
    char loc[700];
    snprintf(loc, sizeof loc, "%s%s", on_pg ? "" : "sqlite:", f->loc);
    assert_int_equal(pacs_index_open(loc, &f->idx, NULL), PACS_OK);
    assert_int_equal(count(f, PACS_LEVEL_STUDY, NULL), 3);
    pacs_index *other = NULL;
    assert_int_equal(pacs_index_open("postgresql://127.0.0.1:1/none", &other, NULL) == PACS_OK, 0);
}

/* ---- group commit: a job that fails in a shared transaction ---- */

typedef struct putter {
    fixture *f;
    inst in;
    char sop[32];
    pacs_err err;
    pthread_barrier_t *start;
} putter;

static void *put_thread(void *arg)
{
    putter *p = arg;
    json_t *j = instance_json(&p->in);
    pacs_index_entry e;
    memset(&e, 0, sizeof e);
    e.json = j;
    e.study_uid = p->in.study;
    e.series_uid = p->in.series;
    e.sop_uid = p->in.sop;
    e.sop_class_uid = p->in.sop_class;
    e.ts_uid = "1.2.840.10008.1.2.1";
    key_of(p->in.sop, e.object);
    e.object_size = 10;
    e.source_aet = "";
    pacs_put_result res;
    pthread_barrier_wait(p->start);
    p->err = pacs_index_put(p->f->idx, &e, &res, NULL);
    json_decref(j);
    return NULL;
}

/* A trigger refusing the insert of an instance whose SOP Instance UID ends in .666: on SQLite
 * RAISE(`how`), ROLLBACK or ABORT; on PostgreSQL an exception (the transaction is aborted). */
static void refuse_sop_666(fixture *f, const char *how)
{
    char sql[512];
    if (on_pg) {
        snprintf(sql, sizeof sql, "%s",
                 "CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
                 " IF NEW.sop_uid LIKE '%.666' THEN RAISE EXCEPTION 'injected failure'; END IF;"
                 " RETURN NEW; END $$;"
                 "CREATE TRIGGER refuse BEFORE INSERT ON instances FOR EACH ROW"
                 " EXECUTE FUNCTION refuse();");
    } else {
        snprintf(sql, sizeof sql,
                 "CREATE TRIGGER refuse BEFORE INSERT ON instances"
                 " WHEN NEW.sop_uid LIKE '%%.666' BEGIN"
                 " SELECT RAISE(%s, 'injected failure'); END",
                 how);
    }
    assert_int_equal(backend_sql(f->loc, sql), 0);
}

enum { PUTTERS = 12, ROUNDS = 20 };

/* Runs the `n` (at most PUTTERS) puts of `p` (their f, in and sop set) at once, from as many
 * threads. */
static void put_together(putter *p, int n)
{
    pthread_t t[PUTTERS];
    assert_true(n <= PUTTERS);
    pthread_barrier_t start;
    pthread_barrier_init(&start, NULL, (unsigned)n);
    for (int i = 0; i < n; i++) {
        p[i].start = &start;
        p[i].in.sop = p[i].sop;
        assert_int_equal(pthread_create(&t[i], NULL, put_thread, &p[i]), 0);
    }
    for (int i = 0; i < n; i++) {
        pthread_join(t[i], NULL);
    }
    pthread_barrier_destroy(&start);
}

/* Regression: when one job's failure made SQLite roll the whole transaction back (as a full
 * disk does), the jobs after it ran outside any transaction and were committed, yet reported
 * failed at COMMIT. Now a job is reported stored exactly when it is in the index. On
 * PostgreSQL the failure undoes only its own job (its savepoint), with the same promise. */
static void test_group_commit_rollback(void **state)
{
    fixture *f = *state;
    /* SQLite's RAISE(ROLLBACK) undoes the whole transaction, like SQLITE_FULL does. */
    refuse_sop_666(f, "ROLLBACK");
    enum { N = PUTTERS };
    for (int round = 0; round < ROUNDS; round++) {
        putter p[N];
        for (int i = 0; i < N; i++) {
            memset(&p[i], 0, sizeof p[i]);
            p[i].f = f;
            snprintf(p[i].sop, sizeof p[i].sop, "8.%d.%d", round, i == N / 2 ? 666 : i);
            inst in = {"8.1", "8.1.1",    p[i].sop, CT, "P8", "A^B",
                       "CT",  "20240101", "1000",   "", i,    NULL};
            p[i].in = in;
        }
        put_together(p, N);
        for (int i = 0; i < N; i++) {
            char key[64];
            snprintf(key, sizeof key, "00080018=%s", p[i].sop);
            size_t found = count(f, PACS_LEVEL_INSTANCE, KEYS(key));
            if ((p[i].err == PACS_OK) != (found == 1)) {
                fail_msg("round %d, %s: put returned %d but the index has %zu", round, p[i].sop,
                         p[i].err, found);
            }
            if (i == N / 2) {
                assert_int_not_equal(p[i].err, PACS_OK);
            }
        }
    }
}

/* A put that fails alone (a statement refused, the transaction still open) leaves nothing of
 * itself, not even the rows of its new patient and study, while the puts that shared its commit
 * stay with their counts right. A batch of puts runs first without a savepoint per job; this is
 * the case where that first pass must be rolled back and run again job by job. */
static void test_group_commit_one_refused(void **state)
{
    fixture *f = *state;
    refuse_sop_666(f, "ABORT"); /* the statement undone, the transaction open */
    enum { N = PUTTERS };
    size_t stored = 0;
    for (int round = 0; round < ROUNDS; round++) {
        putter p[N];
        for (int i = 0; i < N; i++) {
            memset(&p[i], 0, sizeof p[i]);
            p[i].f = f;
            int refused = i == N / 2;
            snprintf(p[i].sop, sizeof p[i].sop, "8.%d.%d", round, refused ? 666 : i);
            inst ok = {"8.1", "8.1.1",    p[i].sop, CT, "P8", "A^B",
                       "CT",  "20240101", "1000",   "", i,    NULL};
            inst no = {"9.1", "9.1.1",    p[i].sop, CT, "P9", "C^D",
                       "CT",  "20240102", "1000",   "", i,    NULL};
            p[i].in = refused ? no : ok;
        }
        put_together(p, N);
        for (int i = 0; i < N; i++) {
            char key[64];
            snprintf(key, sizeof key, "00080018=%s", p[i].sop);
            int refused = i == N / 2;
            assert_int_equal(p[i].err == PACS_OK, !refused);
            assert_int_equal(count(f, PACS_LEVEL_INSTANCE, KEYS(key)), !refused);
            stored += !refused;
        }
        assert_int_equal(count(f, PACS_LEVEL_PATIENT, KEYS("00100020=P9")), 0);
        assert_int_equal(count(f, PACS_LEVEL_STUDY, KEYS("0020000D=9.1")), 0);
        rows r = find(f, PACS_LEVEL_STUDY, KEYS("0020000D=8.1"), KEYS("00201208"), 0, 0);
        assert_int_equal(r.n, 1);
        assert_int_equal(strtoul(r.text[0], NULL, 10), stored);
    }
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_find_levels, setup, teardown),
        cmocka_unit_test_setup_teardown(test_matching, setup, teardown),
        cmocka_unit_test_setup_teardown(test_fuzzy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resend_and_replace, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sweep_records, setup, teardown),
        cmocka_unit_test_setup_teardown(test_remove_levels, setup, teardown),
        cmocka_unit_test_setup_teardown(test_study_sets_on_replace, setup, teardown),
        cmocka_unit_test_setup_teardown(test_later_instance_keeps_values, setup, teardown),
        cmocka_unit_test_setup_teardown(test_same_study_values_leave_indexes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_sequence_and_paging, setup, teardown),
        cmocka_unit_test_setup_teardown(test_instances, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reopen, setup, teardown),
        cmocka_unit_test_setup_teardown(test_group_commit_rollback, setup, teardown),
        cmocka_unit_test_setup_teardown(test_group_commit_one_refused, setup, teardown),
    };
    int rc = backends_init(argc, argv);
    if (rc == 0) {
        rc = cmocka_run_group_tests_name(backends_name("index"), tests, NULL, NULL);
    }
    return backends_fini(rc);
}
