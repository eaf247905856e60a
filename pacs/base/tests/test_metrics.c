// SPDX-License-Identifier: MIT
/*
 * Unit tests of the metrics registry (metrics.c): counters, gauges and histograms rendered in
 * the Prometheus text format; labeled counts from many threads at once landing in one sample
 * per label set without loss; the table's overflow; label escaping; collectors. The rendered
 * text is also what promtool checks in tests/test_metrics.sh.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pacs/base/metrics.h"

/* The value of the sample line that starts with `key` ("name{labels}" as rendered). */
static double value_of(const char *text, const char *key)
{
    size_t n = strlen(key);
    for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
        if (strncmp(p, key, n) == 0 && p[n] == ' ') {
            return strtod(p + n + 1, NULL);
        }
    }
    fail_msg("no sample %s", key);
    return -1;
}

static char *render(void)
{
    pacs_buf b;
    pacs_buf_init(&b, 4u << 20);
    assert_int_equal(pacs_metrics_render(&b), PACS_OK);
    return pacs_buf_take(&b, NULL);
}

static void test_counters_gauges(void **state)
{
    (void)state;
    pacs_metrics_reset();
    pacs_metrics_add(PACS_M_STORED_DIMSE, 3);
    pacs_metrics_add(PACS_M_STORED_STOW, 1);
    pacs_metrics_add(PACS_M_QUEUE_INDEX, 5);
    pacs_metrics_sub(PACS_M_QUEUE_INDEX, 7); /* a gauge may go below zero */
    char *t = render();
    assert_true(value_of(t, "pacs_instances_stored_total{protocol=\"dimse\"}") == 3);
    assert_true(value_of(t, "pacs_instances_stored_total{protocol=\"stow\"}") == 1);
    assert_true(value_of(t, "pacs_queue_depth{queue=\"index_writes\"}") == -2);
    /* One HELP and TYPE per family, before its samples. */
    const char *help = strstr(t, "# HELP pacs_instances_stored_total ");
    assert_non_null(help);
    assert_null(strstr(help + 1, "# HELP pacs_instances_stored_total "));
    assert_non_null(strstr(t, "# TYPE pacs_instances_stored_total counter\n"));
    assert_true(strstr(t, "# TYPE pacs_queue_depth gauge\n") != NULL);
    assert_true(value_of(t, "process_resident_memory_bytes") > 0);
    free(t);
}

static void test_histogram(void **state)
{
    (void)state;
    pacs_metrics_reset();
    pacs_metrics_observe(PACS_M_STORE_SECONDS_DIMSE, 0.0005);
    pacs_metrics_observe(PACS_M_STORE_SECONDS_DIMSE, 0.001); /* on a bound: le is inclusive */
    pacs_metrics_observe(PACS_M_STORE_SECONDS_DIMSE, 0.2);
    pacs_metrics_observe(PACS_M_STORE_SECONDS_DIMSE, 60);
    char *t = render();
    const char *p = "pacs_store_duration_seconds_bucket{protocol=\"dimse\",le=";
    char key[160];
    snprintf(key, sizeof key, "%s\"0.001\"}", p);
    assert_true(value_of(t, key) == 2);
    snprintf(key, sizeof key, "%s\"0.1\"}", p);
    assert_true(value_of(t, key) == 2);
    snprintf(key, sizeof key, "%s\"0.25\"}", p);
    assert_true(value_of(t, key) == 3);
    snprintf(key, sizeof key, "%s\"10\"}", p);
    assert_true(value_of(t, key) == 3);
    snprintf(key, sizeof key, "%s\"+Inf\"}", p);
    assert_true(value_of(t, key) == 4);
    assert_true(value_of(t, "pacs_store_duration_seconds_count{protocol=\"dimse\"}") == 4);
    double sum = value_of(t, "pacs_store_duration_seconds_sum{protocol=\"dimse\"}");
    assert_true(sum > 60.2014 && sum < 60.2016);
    free(t);
}

#define THREADS 8
#define PER_THREAD 20000
#define LABEL_SETS 40

static void *count_many(void *arg)
{
    (void)arg;
    char label[64];
    for (int i = 0; i < PER_THREAD; i++) {
        snprintf(label, sizeof label, "calling_ae=\"AE%d\"", i % LABEL_SETS);
        pacs_metrics_add_labeled(PACS_M_ASSOCIATIONS, label, 1);
    }
    return NULL;
}

/* Threads claiming the same slots at once: one sample per label set, none lost. */
static void test_labeled_concurrent(void **state)
{
    (void)state;
    pacs_metrics_reset();
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++) {
        assert_int_equal(pthread_create(&t[i], NULL, count_many, NULL), 0);
    }
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
    }
    char *text = render();
    double total = 0;
    for (int i = 0; i < LABEL_SETS; i++) {
        char key[96];
        snprintf(key, sizeof key, "pacs_dimse_associations_total{calling_ae=\"AE%d\"}", i);
        total += value_of(text, key);
        /* exactly one line for it */
        const char *first = strstr(text, key);
        char again[100];
        snprintf(again, sizeof again, "\n%s ", key);
        assert_null(strstr(first + 1, again));
    }
    assert_true(total == (double)THREADS * PER_THREAD);
    assert_null(strstr(text, "overflow"));
    free(text);
}

static void test_labeled_overflow(void **state)
{
    (void)state;
    pacs_metrics_reset();
    char label[64];
    for (int i = 0; i < PACS_METRICS_LABELED_MAX + 10; i++) {
        snprintf(label, sizeof label, "route=\"r%d\",code=\"200\"", i);
        pacs_metrics_add_labeled(PACS_M_HTTP_REQUESTS, label, 2);
    }
    char long_label[300];
    memset(long_label, 'x', sizeof long_label - 1);
    long_label[sizeof long_label - 1] = '\0';
    pacs_metrics_add_labeled(PACS_M_ASSOCIATIONS, long_label, 1);
    char *t = render();
    assert_true(value_of(t, "pacs_http_requests_total{overflow=\"true\"}") == 20);
    assert_true(value_of(t, "pacs_dimse_associations_total{overflow=\"true\"}") == 1);
    assert_true(value_of(t, "pacs_http_requests_total{route=\"r0\",code=\"200\"}") == 2);
    free(t);
    pacs_metrics_reset();
}

static void test_label_escaping(void **state)
{
    (void)state;
    char buf[64];
    assert_string_equal(pacs_metrics_label(buf, sizeof buf, "calling_ae", "A\"B\\C\nD"),
                        "calling_ae=\"A\\\"B\\\\C\\nD\"");
    /* Truncated, but still closed. */
    char small[16];
    pacs_metrics_label(small, sizeof small, "k", "0123456789abcdef");
    assert_int_equal(small[strlen(small) - 1], '"');
}

static void collect(void *ctx, pacs_buf *out)
{
    pacs_metrics_family(out, "test_collected", "gauge", "a collector's family");
    pacs_metrics_sample(out, "test_collected", "k=\"v\"", *(double *)ctx);
}

static void test_collectors(void **state)
{
    (void)state;
    double v = 12345678901.0;
    pacs_errinfo ei;
    assert_int_equal(pacs_metrics_add_collector(collect, &v, &ei), PACS_OK);
    char *t = render();
    assert_true(value_of(t, "test_collected{k=\"v\"}") == v);
    free(t);
    pacs_metrics_remove_collector(collect, &v);
    t = render();
    assert_null(strstr(t, "test_collected"));
    free(t);
    /* A full buffer is reported, not served cut short. */
    pacs_buf small;
    pacs_buf_init(&small, 2048);
    assert_int_equal(pacs_metrics_render(&small), PACS_ETOOBIG);
    pacs_buf_free(&small);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_counters_gauges),    cmocka_unit_test(test_histogram),
        cmocka_unit_test(test_labeled_concurrent), cmocka_unit_test(test_labeled_overflow),
        cmocka_unit_test(test_label_escaping),     cmocka_unit_test(test_collectors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
