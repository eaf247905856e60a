// SPDX-License-Identifier: MIT
/*
 * pacs-bench's ingest figures (run.h): the bulk load that fills the index the queries run on
 * (storescu over 4 associations), C-STORE of CT and DX studies on 1 and 4 associations,
 * STOW-RS in batches on one connection, then the import of small files (measure_import.c).
 * Each run marks the studies it stored, so that later figures know what to expect.
 *
 * Load: the server's whole ingest path; the clients are DCMTK's storescu and one keep-alive
 * libcurl handle with bodies built before the clock starts. Thread-safety: main thread only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "tools/bench/run.h"

/* Bulk load: the index that queries run on. */
static void bulk_load(const bench_cfg *c, const bench_layout *l, bench_dataset *ds, bench_server *s,
                      bench_report *rep, int *stored)
{
    const int k = s->kind;
    char why[512] = "";
    const char *dirs[16];
    for (size_t i = 0; i < ds->fill_dirs.n && i < 16; i++) {
        dirs[i] = ds->fill_dirs.path[i];
    }
    bench_row *rb = bench_report_row(rep, "bulk_load", "bulk load of the index, 4 associations",
                                     "inst/s", BENCH_HIGHER);
    double t = bench_storescu(c, s->aet, s->dimse_port, NULL, (int)ds->fill_dirs.n, dirs,
                              ds->fill_files, 7200, why, sizeof why);
    if (t > 0) {
        bench_samples_add(&rb->s[k], (double)ds->fill_files / t);
    } else {
        bench_samples_note(&rb->s[k], "%s", why);
    }
    for (uint32_t i = 0; i <= l->meta; i++) {
        stored[i] = t > 0;
    }
}

/* C-STORE, 1 and 4 associations, CT and DX. */
static void cstore(const bench_cfg *c, const bench_layout *l, bench_dataset *ds, bench_server *s,
                   bench_report *rep, int *stored)
{
    const int k = s->kind;
    char why[512] = "";
    const char *ids[3] = {"cstore_ct_1", "cstore_ct_4", "cstore_dx_1"};
    const char *labels[3] = {"C-STORE CT 512x512, 1 association",
                             "C-STORE CT 512x512, 4 associations",
                             "C-STORE DX 3000x2500, 1 association"};
    bench_files *sets[3] = {ds->ct1, ds->ct4, ds->dx};
    uint32_t firsts[3] = {l->ct1, l->ct4, l->dx};
    for (int g = 0; g < 3; g++) {
        char mbid[64], mblabel[128];
        snprintf(mbid, sizeof mbid, "%s_mb", ids[g]);
        snprintf(mblabel, sizeof mblabel, "%s (MB/s)", labels[g]);
        bench_row *ri = bench_report_row(rep, ids[g], labels[g], "inst/s", BENCH_HIGHER);
        bench_row *rm = bench_report_row(rep, mbid, mblabel, "MB/s", BENCH_HIGHER);
        printf("pacs-bench: [%s] %s\n", s->name, labels[g]);
        fflush(stdout);
        for (int r = 0; r < c->runs; r++) {
            bench_files parts[4];
            int n = g == 1 ? 4 : 1;
            bench_files_split(&sets[g][r], parts, n);
            double t = bench_storescu(c, s->aet, s->dimse_port, parts, n, NULL, sets[g][r].n, 1800,
                                      why, sizeof why);
            for (int i = 0; i < n; i++) {
                bench_files_free(&parts[i]);
            }
            if (t > 0) {
                bench_samples_add(&ri->s[k], (double)sets[g][r].n / t);
                bench_samples_add(&rm->s[k], (double)sets[g][r].bytes / 1e6 / t);
                stored[firsts[g] + (uint32_t)r] = 1;
            } else {
                bench_samples_note(&ri->s[k], "%s", why);
            }
        }
    }
}

/* Builds a multipart/related body of `f`'s files [from, to). */
static char *stow_body(const bench_files *f, size_t from, size_t to, const char *boundary,
                       size_t *len)
{
    size_t cap = 0;
    for (size_t i = from; i < to; i++) {
        struct stat sb;
        if (stat(f->path[i], &sb) == 0) {
            cap += (size_t)sb.st_size + 256;
        }
    }
    cap += 256;
    char *b = malloc(cap);
    size_t n = 0;
    if (!b) {
        return NULL;
    }
    for (size_t i = from; i < to; i++) {
        n += (size_t)snprintf(b + n, cap - n, "--%s\r\nContent-Type: application/dicom\r\n\r\n",
                              boundary);
        FILE *fp = fopen(f->path[i], "rb");
        if (!fp) {
            free(b);
            return NULL;
        }
        n += fread(b + n, 1, cap - n, fp);
        fclose(fp);
        n += (size_t)snprintf(b + n, cap - n, "\r\n");
    }
    n += (size_t)snprintf(b + n, cap - n, "--%s--\r\n", boundary);
    *len = n;
    return b;
}

/* STOW-RS: batches of stow_batch instances, one connection. */
static void stow(const bench_cfg *c, const bench_layout *l, bench_dataset *ds, bench_server *s,
                 bench_report *rep, int *stored)
{
    const int k = s->kind;
    pacs_errinfo ei;
    bench_row *ri =
        bench_report_row(rep, "stow", "STOW-RS CT 512x512, 1 connection", "inst/s", BENCH_HIGHER);
    bench_row *rm =
        bench_report_row(rep, "stow_mb", "STOW-RS CT 512x512 (MB/s)", "MB/s", BENCH_HIGHER);
    printf("pacs-bench: [%s] STOW-RS\n", s->name);
    fflush(stdout);
    bench_http *h = s->web[0] ? bench_http_new() : NULL;
    if (!h) {
        bench_samples_note(&ri->s[k], "no DICOMweb port");
    }
    char url[512];
    snprintf(url, sizeof url, "%s/studies", s->web);
    const char *boundary = "pacs-bench-7d3f9a2c41e8";
    char ctype[256];
    snprintf(ctype, sizeof ctype, "multipart/related; type=\"application/dicom\"; boundary=%s",
             boundary);
    for (int r = 0; h && r < c->runs; r++) {
        const bench_files *f = &ds->stow[r];
        size_t nb = (f->n + (size_t)c->stow_batch - 1) / (size_t)c->stow_batch;
        char **bodies = calloc(nb, sizeof *bodies);
        size_t *lens = calloc(nb, sizeof *lens);
        int ok = bodies && lens;
        for (size_t b = 0; ok && b < nb; b++) {
            size_t to = (b + 1) * (size_t)c->stow_batch;
            bodies[b] =
                stow_body(f, b * (size_t)c->stow_batch, to < f->n ? to : f->n, boundary, &lens[b]);
            ok = bodies[b] != NULL;
        }
        double total = 0;
        long st = 0;
        for (size_t b = 0; ok && b < nb; b++) {
            double secs;
            if (bench_http_post(h, url, ctype, "application/dicom+json", bodies[b], lens[b], &st,
                                &secs, &ei) != PACS_OK ||
                st != 200) {
                ok = 0;
                if (bench_http_missing(st)) {
                    bench_samples_note(&ri->s[k], "not offered (HTTP %ld)", st);
                } else {
                    bench_samples_note(&ri->s[k], "HTTP %ld %s", st, st ? "" : ei.msg);
                }
            }
            total += secs;
        }
        for (size_t b = 0; bodies && b < nb; b++) {
            free(bodies[b]);
        }
        free(bodies);
        free(lens);
        if (!ok) {
            break;
        }
        bench_samples_add(&ri->s[k], (double)f->n / total);
        bench_samples_add(&rm->s[k], (double)f->bytes / 1e6 / total);
        stored[l->stow + (uint32_t)r] = 1;
    }
    bench_http_free(h);
}

void bench_measure_ingest(const bench_cfg *c, const bench_layout *l, bench_dataset *ds,
                          bench_server *s, bench_report *rep, int *stored)
{
    printf("pacs-bench: [%s] bulk load: %zu files over %d associations\n", s->name, ds->fill_files,
           c->load_assocs);
    fflush(stdout);
    bulk_load(c, l, ds, s, rep, stored);
    bench_server_rss_mark(s, "bulk load");
    cstore(c, l, ds, s, rep, stored);
    bench_server_rss_mark(s, "C-STORE");
    stow(c, l, ds, s, rep, stored);
    bench_server_rss_mark(s, "STOW-RS");
    bench_measure_import(c, l, ds, s, rep, stored);
    bench_server_rss_mark(s, "import");
}
