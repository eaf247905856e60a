// SPDX-License-Identifier: MIT
/*
 * Unit tests of the audit trail (storage/audit.h) in a temporary data folder: nothing happens
 * before open; lines are JSON with absent fields left out; the reader's patient, study and
 * since filters, studies tied to a patient by the trail or by the caller; a torn last line is
 * skipped and counted; threads never interleave their lines; text that is not UTF-8 is left out
 * rather than losing the line.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "storage/audit.h"

static char *make_dir(void)
{
    const char *tmp = getenv("TMPDIR");
    char tmpl[512];
    snprintf(tmpl, sizeof tmpl, "%s/pacs-audit-XXXXXX", tmp && tmp[0] ? tmp : "/tmp");
    char *d = mkdtemp(tmpl);
    assert_non_null(d);
    return strdup(d);
}

static void remove_dir(const char *dir)
{
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

/* Reads the trail with `f` into memory; returns the text (caller frees). */
static char *read_all(const char *dir, const pacs_audit_filter *f, size_t *lines, size_t *bad)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    assert_non_null(out);
    pacs_errinfo ei;
    assert_int_equal(pacs_audit_read(dir, f, out, lines, bad, &ei), PACS_OK);
    fclose(out);
    return buf;
}

static void record(pacs_audit_action a, const char *who, const char *study, const char *patient)
{
    pacs_audit_event ev = {.action = a,
                           .success = 1,
                           .protocol = "dimse",
                           .who = who,
                           .from = "10.0.0.1",
                           .study_uid = study,
                           .patient_id = patient,
                           .detail = "x",
                           .count = 1};
    pacs_audit_record(&ev);
}

static void test_noop_before_open(void **state)
{
    (void)state;
    char *dir = make_dir();
    record(PACS_AUDIT_STORE, "CT1", "1.2.3", "P1"); /* before open: dropped, no crash */
    pacs_audit_sync();
    pacs_audit_close();
    size_t lines = 1, bad = 1;
    free(read_all(dir, NULL, &lines, &bad));
    assert_int_equal(lines, 0);
    assert_int_equal(bad, 0);
    remove_dir(dir);
    free(dir);
}

static void test_lines_and_filters(void **state)
{
    (void)state;
    char *dir = make_dir();
    pacs_errinfo ei;
    assert_int_equal(pacs_audit_open(dir, &ei), PACS_OK);
    record(PACS_AUDIT_STORE, "CT1", "1.2.3", "P1");
    record(PACS_AUDIT_QUERY, "WS1", "1.2.3", NULL); /* names only the study */
    record(PACS_AUDIT_RETRIEVE, "WS1", "1.2.4", NULL);
    record(PACS_AUDIT_ACCESS_DENIED, "INTRUDER", NULL, NULL);
    pacs_audit_close();
    record(PACS_AUDIT_STORE, "CT1", "1.2.9", "P9"); /* after close: dropped */

    size_t lines = 0, bad = 0;
    char *all = read_all(dir, NULL, &lines, &bad);
    assert_int_equal(lines, 4);
    assert_int_equal(bad, 0);
    /* Each line is an object with the fields given, and none of those left NULL. */
    char *save = NULL;
    int n = 0;
    for (char *line = strtok_r(all, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        json_t *o = json_loads(line, 0, NULL);
        assert_true(json_is_object(o));
        assert_non_null(json_object_get(o, "time"));
        assert_string_equal(json_string_value(json_object_get(o, "outcome")), "success");
        if (n == 3) {
            assert_string_equal(json_string_value(json_object_get(o, "action")), "access-denied");
            assert_string_equal(json_string_value(json_object_get(o, "atna")), "110113");
            assert_null(json_object_get(o, "study"));
            assert_null(json_object_get(o, "patient"));
        }
        json_decref(o);
        n++;
    }
    free(all);

    /* The patient's store line, and the query that names only its study. */
    pacs_audit_filter f = {.patient_id = "P1"};
    char *p1 = read_all(dir, &f, &lines, &bad);
    assert_int_equal(lines, 2);
    assert_non_null(strstr(p1, "\"action\":\"store\""));
    assert_non_null(strstr(p1, "\"action\":\"query\""));
    assert_null(strstr(p1, "1.2.4"));
    free(p1);
    /* A study the caller knows to be the patient's (from the index). */
    const char *const more[] = {"1.2.4"};
    f.studies = more;
    f.n_studies = 1;
    free(read_all(dir, &f, &lines, &bad));
    assert_int_equal(lines, 3);

    pacs_audit_filter fs = {.study_uid = "1.2.4"};
    free(read_all(dir, &fs, &lines, &bad));
    assert_int_equal(lines, 1);
    pacs_audit_filter future = {.since = "2999-01-01"};
    free(read_all(dir, &future, &lines, &bad));
    assert_int_equal(lines, 0);
    pacs_audit_filter past = {.since = "2000-01-01T00:00:00"};
    free(read_all(dir, &past, &lines, &bad));
    assert_int_equal(lines, 4);
    pacs_audit_filter nobody = {.patient_id = "NOBODY"};
    free(read_all(dir, &nobody, &lines, &bad));
    assert_int_equal(lines, 0);
    remove_dir(dir);
    free(dir);
}

static void test_torn_line_and_bad_text(void **state)
{
    (void)state;
    char *dir = make_dir();
    pacs_errinfo ei;
    assert_int_equal(pacs_audit_open(dir, &ei), PACS_OK);
    record(PACS_AUDIT_STORE, "CT1", "1.2.3", "P1");
    record(PACS_AUDIT_STORE, "\xff\xfe not UTF-8", "1.2.3", "P1"); /* the line, without "who" */
    pacs_audit_close();
    /* A power cut in the middle of a write leaves a line without its newline. */
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "printf '{\"time\":\"20' >>%s/audit/$(date -u +%%Y-%%m-%%d).jsonl",
             dir);
    assert_int_equal(system(cmd), 0);
    size_t lines = 0, bad = 0;
    char *all = read_all(dir, NULL, &lines, &bad);
    assert_int_equal(lines, 2);
    assert_int_equal(bad, 1);
    const char *second = strchr(all, '\n') + 1;
    assert_null(strstr(second, "\"who\""));
    assert_non_null(strstr(second, "\"patient\":\"P1\""));
    free(all);
    remove_dir(dir);
    free(dir);
}

#define THREADS 4
#define PER_THREAD 2000

static void *writer(void *arg)
{
    char who[16];
    snprintf(who, sizeof who, "T%d", (int)(intptr_t)arg);
    for (int i = 0; i < PER_THREAD; i++) {
        record(PACS_AUDIT_QUERY, who, "1.2.840.10008.99.1", "P1");
    }
    return NULL;
}

static void test_threads(void **state)
{
    (void)state;
    char *dir = make_dir();
    pacs_errinfo ei;
    assert_int_equal(pacs_audit_open(dir, &ei), PACS_OK);
    pthread_t t[THREADS];
    for (intptr_t i = 0; i < THREADS; i++) {
        assert_int_equal(pthread_create(&t[i], NULL, writer, (void *)i), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
    }
    pacs_audit_sync();
    pacs_audit_close();
    size_t lines = 0, bad = 0;
    free(read_all(dir, NULL, &lines, &bad));
    assert_int_equal(lines, THREADS * PER_THREAD); /* every line whole and parseable */
    assert_int_equal(bad, 0);
    remove_dir(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_noop_before_open),
        cmocka_unit_test(test_lines_and_filters),
        cmocka_unit_test(test_torn_line_and_bad_text),
        cmocka_unit_test(test_threads),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
