// SPDX-License-Identifier: MIT
/*
 * pacs-bench's retrieval figures (run.h), on the 300-instance CT study: WADO-RS of the whole
 * study, its /metadata (the first request and repeated ones), /frames/1 on the connection
 * that just carried the metadata (as a viewer asks), then /frames/1 and /rendered on distinct
 * instances and repeated.
 *
 * Load: the server's retrieval paths; one keep-alive libcurl handle per group of figures.
 * Thread-safety: main thread only.
 */
#include <stdio.h>

#include "tools/bench/run.h"

/* Each group of HTTP figures gets its own keep-alive connection, so that what one response
 * leaves behind on a connection (see frames_after_metadata) does not colour the next figure. */
static void fresh_connection(const bench_server *s, bench_http **h)
{
    bench_http_free(*h);
    *h = s->web[0] ? bench_http_new() : NULL;
}

/* WADO-RS of the whole study. */
static void whole_study(const bench_cfg *c, const bench_dataset *ds, const bench_server *s,
                        bench_report *rep, const gen_study *study)
{
    const int k = s->kind;
    pacs_errinfo ei;
    bench_http *h = NULL;
    bench_row *rw = bench_report_row(rep, "wado_study", "WADO-RS whole study (300 x 512x512 CT)",
                                     "MB/s", BENCH_HIGHER);
    char url[1024];
    snprintf(url, sizeof url, "%s/studies/%s", s->web, study->uid);
    fresh_connection(s, &h);
    for (int r = 0; h && r < c->runs; r++) {
        long st;
        uint64_t b;
        double secs;
        if (bench_http_get(h, url, "multipart/related; type=\"application/dicom\"", &st, &b, &secs,
                           &ei) != PACS_OK ||
            st != 200) {
            bench_samples_note(&rw->s[k], "%sHTTP %ld",
                               bench_http_missing(st) ? "not offered: " : "", st);
            break;
        }
        if (b < ds->meta.bytes) {
            bench_samples_note(&rw->s[k], "%llu of %llu bytes", (unsigned long long)b,
                               (unsigned long long)ds->meta.bytes);
        }
        bench_samples_add(&rw->s[k], (double)b / 1e6 / secs);
    }
    if (!h) {
        bench_samples_note(&rw->s[k], "no DICOMweb port");
    }
    bench_http_free(h);
}

/* The study's /metadata, then /frames/1 on the same connection. */
static void metadata(const bench_cfg *c, const bench_layout *l, const bench_server *s,
                     bench_report *rep, const gen_study *study, const char *series_uid)
{
    const int k = s->kind;
    pacs_errinfo ei;
    bench_http *h = NULL;
    char label[128];
    snprintf(label, sizeof label, "study /metadata, %u instances, first request", c->meta_slices);
    bench_row *rc = bench_report_row(rep, "metadata_first", label, "ms", BENCH_LOWER);
    snprintf(label, sizeof label, "study /metadata, %u instances, repeated", c->meta_slices);
    bench_row *rr = bench_report_row(rep, "metadata", label, "ms", BENCH_LOWER);
    char url[1024];
    snprintf(url, sizeof url, "%s/studies/%s/metadata", s->web, study->uid);
    fresh_connection(s, &h);
    if (h) {
        bench_http_keep_body(h, 256u << 20);
    }
    for (int i = 0; h && i < c->reps + 1; i++) {
        long st;
        uint64_t b;
        double secs;
        if (bench_http_get(h, url, "application/dicom+json", &st, &b, &secs, &ei) != PACS_OK ||
            st != 200) {
            bench_samples_note(i ? &rr->s[k] : &rc->s[k], "%sHTTP %ld",
                               bench_http_missing(st) ? "not offered: " : "", st);
            break;
        }
        if (i == 0) {
            size_t len;
            const char *body = bench_http_body(h, &len);
            unsigned n = bench_json_array_size(body, len);
            if (n != c->meta_slices) {
                bench_samples_note(&rc->s[k], "%u of %u instances", n, c->meta_slices);
            }
        }
        bench_samples_add(i == 0 ? &rc->s[k] : &rr->s[k], secs * 1e3);
    }
    if (h) {
        bench_http_keep_body(h, 0);
    } else {
        bench_samples_note(&rc->s[k], "no DICOMweb port");
    }
    /* A viewer asks for frames on the connection that just carried the metadata. */
    bench_row *ra =
        bench_report_row(rep, "frames_after_metadata",
                         "/frames/1, same connection right after /metadata", "ms", BENCH_LOWER);
    char sop[65];
    gen_instance_uid(&l->w, l->meta, 0, 0, sop);
    snprintf(url, sizeof url, "%s/studies/%s/series/%s/instances/%s/frames/1", s->web, study->uid,
             series_uid, sop);
    for (int i = 0; h && rr->s[k].n > 0 && i < c->reps; i++) {
        long st;
        uint64_t b;
        double secs;
        if (bench_http_get(h, url, "multipart/related; type=\"application/octet-stream\"", &st, &b,
                           &secs, &ei) != PACS_OK ||
            st != 200) {
            bench_samples_note(&ra->s[k], "%sHTTP %ld",
                               bench_http_missing(st) ? "not offered: " : "", st);
            break;
        }
        bench_samples_add(&ra->s[k], secs * 1e3);
    }
    bench_http_free(h);
}

/* /frames/1 (kind 0) or /rendered (kind 1), each first on distinct instances, then repeated. */
static void pixels(const bench_cfg *c, const bench_layout *l, const bench_server *s,
                   bench_report *rep, const gen_study *study, const char *series_uid, int kind)
{
    const int k = s->kind;
    pacs_errinfo ei;
    bench_http *h = NULL;
    /* frames/1 on even slices, rendered on odd ones: every "first" request is a first. */
    const char *what = kind == 0 ? "frames" : "rendered";
    char id[64], label[128];
    snprintf(id, sizeof id, "%s_cold", what);
    snprintf(label, sizeof label, "%s, first request per instance",
             kind == 0 ? "/frames/1 (uncompressed)" : "/rendered 512x512 CT (JPEG)");
    bench_row *rc = bench_report_row(rep, id, label, "ms", BENCH_LOWER);
    snprintf(id, sizeof id, "%s_cached", what);
    snprintf(label, sizeof label, "%s, repeated",
             kind == 0 ? "/frames/1 (uncompressed)" : "/rendered 512x512 CT (JPEG)");
    bench_row *rr = bench_report_row(rep, id, label, "ms", BENCH_LOWER);
    fresh_connection(s, &h);
    if (!h) {
        bench_samples_note(&rc->s[k], "no DICOMweb port");
        return;
    }
    const char *accepts[2][3] = {
        {"multipart/related; type=\"application/octet-stream\"; transfer-syntax=*",
         "multipart/related; type=\"application/octet-stream\"", NULL},
        {"image/jpeg", NULL, NULL}};
    int ai = 0;
    uint32_t stride = c->meta_slices / (2 * (uint32_t)c->frames_n);
    if (stride == 0) {
        stride = 1;
    }
    int ok = 1;
    for (int j = 0; ok && j < c->frames_n + c->reps; j++) {
        /* The first frames_n requests go to distinct instances, then one is repeated. */
        uint32_t inst =
            j < c->frames_n ? ((uint32_t)j * 2 * stride + (uint32_t)kind) : (uint32_t)kind;
        if (inst >= c->meta_slices) {
            inst = (uint32_t)kind;
        }
        char sop[65], url[1024];
        gen_instance_uid(&l->w, l->meta, 0, inst, sop);
        snprintf(url, sizeof url, "%s/studies/%s/series/%s/instances/%s/%s", s->web, study->uid,
                 series_uid, sop, kind == 0 ? "frames/1" : "rendered");
        long st;
        uint64_t b;
        double secs;
        for (;;) {
            pacs_err e = bench_http_get(h, url, accepts[kind][ai], &st, &b, &secs, &ei);
            if (e == PACS_OK && (st == 406 || st == 400) && accepts[kind][ai + 1]) {
                ai++;
                continue;
            }
            break;
        }
        if (st != 200) {
            bench_samples_note(j < c->frames_n ? &rc->s[k] : &rr->s[k], "%sHTTP %ld",
                               bench_http_missing(st) ? "not offered: " : "", st);
            ok = 0;
            break;
        }
        bench_samples_add(j < c->frames_n ? &rc->s[k] : &rr->s[k], secs * 1e3);
    }
    bench_http_free(h);
}

void bench_measure_wado(const bench_cfg *c, const bench_layout *l, const bench_dataset *ds,
                        bench_server *s, bench_report *rep)
{
    gen_study ms;
    gen_study_make(&l->w, l->meta, GEN_CT, &ms);
    char series_uid[65];
    gen_series_uid(&l->w, l->meta, 0, series_uid);
    printf("pacs-bench: [%s] WADO-RS\n", s->name);
    fflush(stdout);
    whole_study(c, ds, s, rep, &ms);
    metadata(c, l, s, rep, &ms, series_uid);
    bench_server_rss_mark(s, "WADO-RS study and metadata");
    for (int kind = 0; kind < 2; kind++) {
        pixels(c, l, s, rep, &ms, series_uid, kind);
    }
}
