// SPDX-License-Identifier: MIT
/*
 * pacs-bench's query figures (run.h): the stored count (so that a fast ingest figure is not a
 * lossy one), C-ECHO and C-FIND latency on one kept-open association, QIDO-RS latency on one
 * keep-alive connection, and QIDO-RS throughput on 4 connections. Every query's matches are
 * checked against the generator's model.
 *
 * Load: the index on a big data set. Thread-safety: the throughput clients run on 4 threads,
 * each with its own connection, sharing only atomic counters; the rest is the main thread.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>

#include "tools/bench/run.h"

/* ---- QIDO throughput clients ---- */

typedef struct tput_ctx {
    const bench_server *s;
    const bench_query *q;
    double until;
    atomic_uint done;
    atomic_uint failed;
} tput_ctx;

static void *tput_worker(void *arg)
{
    tput_ctx *t = arg;
    bench_http *h = bench_http_new();
    char *urls[BENCH_Q_COUNT];
    for (int i = 0; i < BENCH_Q_COUNT; i++) {
        urls[i] = bench_query_url(t->s, i, &t->q[i]);
    }
    for (int k = 0; h && bench_now() < t->until; k++) {
        long st;
        uint64_t b;
        double secs;
        pacs_errinfo ei;
        const char *u = urls[k % BENCH_Q_COUNT];
        if (u && bench_http_get(h, u, "application/dicom+json", &st, &b, &secs, &ei) == PACS_OK &&
            (st == 200 || st == 204)) {
            atomic_fetch_add(&t->done, 1);
        } else {
            atomic_fetch_add(&t->failed, 1);
        }
    }
    for (int i = 0; i < BENCH_Q_COUNT; i++) {
        free(urls[i]);
    }
    bench_http_free(h);
    return NULL;
}

/* ---- The figures ---- */

/* The stored count, by one C-FIND over every date. */
static void verify_count(const bench_layout *l, bench_dimse *d, const bench_server *s,
                         bench_report *rep, const int *stored)
{
    const int k = s->kind;
    pacs_errinfo ei;
    unsigned n = 0;
    unsigned want = 0;
    for (uint32_t i = 0; i < l->w.n_studies; i++) {
        want += stored[i] ? 1 : 0;
    }
    bench_row *rb = bench_report_row(rep, "bulk_load", "", "", BENCH_HIGHER);
    if (bench_dimse_find_study(d, 0x00080020, "19000101-20991231", &n, &ei) == PACS_OK) {
        if (n != want) {
            bench_samples_note(&rb->s[k], "%u of %u studies found", n, want);
        }
        printf("pacs-bench: [%s] %u of %u studies found by C-FIND\n", s->name, n, want);
    } else {
        bench_samples_note(&rb->s[k], "count C-FIND failed: %s", ei.msg);
    }
}

/* C-ECHO and C-FIND latency on one association. */
static void dimse_latency(const bench_cfg *c, bench_dimse *d, const bench_server *s,
                          bench_report *rep, const bench_query *q)
{
    const int k = s->kind;
    pacs_errinfo ei;
    bench_row *recho = bench_report_row(rep, "cecho", "C-ECHO round trip", "ms", BENCH_LOWER);
    for (int i = 0; i < c->reps + 1; i++) {
        double t0 = bench_now();
        if (bench_dimse_echo(d, &ei) != PACS_OK) {
            bench_samples_note(&recho->s[k], "%s", ei.msg);
            break;
        }
        if (i > 0) {
            bench_samples_add(&recho->s[k], (bench_now() - t0) * 1e3);
        }
    }
    printf("pacs-bench: [%s] C-FIND and QIDO-RS latency\n", s->name);
    fflush(stdout);
    for (int qi = 0; qi < BENCH_Q_COUNT; qi++) {
        char id[64], label[160];
        snprintf(id, sizeof id, "cfind_%s", q[qi].id);
        snprintf(label, sizeof label, "C-FIND %s", q[qi].label);
        bench_row *rf = bench_report_row(rep, id, label, "ms", BENCH_LOWER);
        unsigned matches = 0;
        int ok = 1;
        for (int i = 0; ok && i < c->reps + 1; i++) {
            double t0 = bench_now();
            if (bench_dimse_find_study(d, q[qi].tag, q[qi].value, &matches, &ei) != PACS_OK) {
                bench_samples_note(&rf->s[k], "%s", ei.msg);
                ok = 0;
            } else if (i > 0) {
                bench_samples_add(&rf->s[k], (bench_now() - t0) * 1e3);
            }
        }
        if (ok && matches != q[qi].expected) {
            bench_samples_note(&rf->s[k], "%u of %u matches", matches, q[qi].expected);
        }
    }
}

/* QIDO-RS latency on one keep-alive connection (`h`, NULL when there is no DICOMweb port). */
static void qido_latency(const bench_cfg *c, const bench_server *s, bench_report *rep,
                         const bench_query *q, bench_http *h)
{
    const int k = s->kind;
    pacs_errinfo ei;
    for (int qi = 0; qi < BENCH_Q_COUNT; qi++) {
        char id[64], label[160];
        snprintf(id, sizeof id, "qido_%s", q[qi].id);
        snprintf(label, sizeof label, "QIDO-RS %s", q[qi].label);
        bench_row *rq = bench_report_row(rep, id, label, "ms", BENCH_LOWER);
        if (!h) {
            bench_samples_note(&rq->s[k], "no DICOMweb port");
            continue;
        }
        char *u = bench_query_url(s, qi, &q[qi]);
        unsigned matches = 0;
        for (int i = 0; u && i < c->reps + 1; i++) {
            long st;
            uint64_t b;
            double secs;
            if (bench_http_get(h, u, "application/dicom+json", &st, &b, &secs, &ei) != PACS_OK ||
                (st != 200 && st != 204)) {
                bench_samples_note(&rq->s[k], "%s HTTP %ld",
                                   bench_http_missing(st) ? "not offered:" : "", st);
                break;
            }
            size_t len;
            const char *body = bench_http_body(h, &len);
            matches = st == 204 ? 0 : bench_json_array_size(body, len);
            if (i > 0) {
                bench_samples_add(&rq->s[k], secs * 1e3);
            }
        }
        if (rq->s[k].n && matches != q[qi].expected) {
            bench_samples_note(&rq->s[k], "%u of %u matches", matches, q[qi].expected);
        }
        free(u);
    }
}

/* QIDO-RS throughput, 4 connections. */
static void qido_throughput(const bench_cfg *c, const bench_server *s, bench_report *rep,
                            const bench_query *q, const bench_http *h)
{
    const int k = s->kind;
    bench_row *rt = bench_report_row(rep, "qido_tput", "QIDO-RS throughput, 4 connections", "q/s",
                                     BENCH_HIGHER);
    if (!h) {
        bench_samples_note(&rt->s[k], "no DICOMweb port");
    } else {
        bench_row *probe = bench_report_row(rep, "qido_id", "", "", BENCH_LOWER);
        for (int r = 0; probe->s[k].n > 0 && r < 3; r++) {
            tput_ctx t = {.s = s, .q = q, .until = 0};
            atomic_init(&t.done, 0);
            atomic_init(&t.failed, 0);
            pthread_t th[4];
            double t0 = bench_now();
            t.until = t0 + c->qido_secs / 3;
            int n = 0;
            for (int i = 0; i < 4; i++) {
                if (pthread_create(&th[i], NULL, tput_worker, &t) == 0) {
                    n++;
                }
            }
            for (int i = 0; i < n; i++) {
                pthread_join(th[i], NULL);
            }
            double el = bench_now() - t0;
            if (atomic_load(&t.failed) == 0 && el > 0) {
                bench_samples_add(&rt->s[k], atomic_load(&t.done) / el);
            } else {
                bench_samples_note(&rt->s[k], "%u failed requests", atomic_load(&t.failed));
            }
        }
        if (probe->s[k].n == 0) {
            bench_samples_note(&rt->s[k], "QIDO not offered");
        }
    }
}

int bench_measure_query(const bench_cfg *c, const bench_layout *l, bench_server *s,
                        bench_report *rep, const int *stored)
{
    pacs_errinfo ei;
    bench_dimse *d = NULL;
    if (bench_dimse_open(s->aet, s->dimse_port, &d, &ei) != PACS_OK) {
        fprintf(stderr, "pacs-bench: [%s] cannot open an association: %s\n", s->name, ei.msg);
        return -1;
    }
    if (c->verify_fill) {
        verify_count(l, d, s, rep, stored);
    }
    bench_query q[BENCH_Q_COUNT];
    bench_queries_make(c, l, stored, q);
    dimse_latency(c, d, s, rep, q);
    bench_dimse_close(d);
    bench_server_rss_mark(s, "C-FIND");

    bench_http *h = s->web[0] ? bench_http_new() : NULL;
    if (h) {
        bench_http_keep_body(h, 64u << 20);
    }
    qido_latency(c, s, rep, q, h);
    bench_server_rss_mark(s, "QIDO-RS");
    qido_throughput(c, s, rep, q, h);
    bench_server_rss_mark(s, "QIDO throughput");
    bench_http_free(h);
    return 0;
}
