// SPDX-License-Identifier: MIT
/*
 * pacs-bench's data set (run.h): the figures each size sets, the layout of the generated
 * world (fill studies, the metadata study, the ingest and import runs), its generation with
 * gen.h (kept and reused when complete), and the lists of files each measurement sends.
 *
 * Load: generation writes every file once per seed and size; listing reads the folders once
 * per run. Thread-safety: main thread only (the file scan keeps its target in a static, as
 * nftw has no context argument); gen_write_parallel runs its own threads.
 */
#define _XOPEN_SOURCE 700 /* nftw */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "tools/bench/run.h"

/* ---- Sizes and layout ---- */

int bench_cfg_size(bench_cfg *c, const char *size)
{
    c->size = size;
    c->fill_per_study = 3;
    c->fill_matrix = 64;
    c->meta_slices = 300;
    c->dx_rows = 3000;
    c->dx_cols = 2500;
    c->load_assocs = 4;
    c->stow_batch = 50;
    c->verify_fill = 1;
    /* The import runs: folders of small files (16x16), 20 to a study, as an old archive or a
     * pile of CDs is; 1000 or 2000 a run, so that the per-file cost is what is timed. */
    c->import_per_study = 20;
    c->import_matrix = 16;
    c->import_studies = 100;
    if (strcmp(size, "smoke") == 0) {
        c->fill_studies = 40;
        c->hot_slices = 12;
        c->meta_slices = 30;
        c->dx_images = 1;
        c->dx_rows = 600;
        c->dx_cols = 500;
        c->runs = 2;
        c->import_studies = 3;
        c->reps = 5;
        c->frames_n = 3;
        c->qido_secs = 0.6;
    } else if (strcmp(size, "small") == 0) {
        c->fill_studies = 2000;
        c->hot_slices = 100;
        c->dx_images = 2;
        c->runs = 3;
        c->import_studies = 50;
        c->reps = 20;
        c->frames_n = 10;
        c->qido_secs = 3;
    } else if (strcmp(size, "full") == 0) {
        c->fill_studies = 20000;
        c->hot_slices = 300;
        c->dx_images = 2;
        c->runs = 5;
        c->reps = 30;
        c->frames_n = 20;
        c->qido_secs = 6;
    } else if (strcmp(size, "huge") == 0) {
        c->fill_studies = 333334;
        c->hot_slices = 300;
        c->dx_images = 2;
        c->runs = 5;
        c->reps = 30;
        c->frames_n = 20;
        c->qido_secs = 6;
        c->verify_fill = 0;
    } else {
        return -1;
    }
    return 0;
}

void bench_layout_init(bench_layout *l, const bench_cfg *c)
{
    uint32_t F = c->fill_studies;
    l->meta = F;
    l->ct1 = F + 1;
    l->ct4 = l->ct1 + (uint32_t)c->runs;
    l->stow = l->ct4 + (uint32_t)c->runs;
    l->dx = l->stow + (uint32_t)c->runs;
    l->import = l->dx + (uint32_t)c->runs;
    gen_world_init(&l->w, c->seed, l->import + (uint32_t)c->runs * c->import_studies);
}

void bench_import_dir(const bench_cfg *c, int r, char *out, size_t cap)
{
    snprintf(out, cap, "%s/import-%d", c->data, r);
}

typedef struct plan_ctx {
    const bench_cfg *c;
    const bench_layout *l;
} plan_ctx;

static gen_kind fill_kind(uint32_t s)
{
    return s % 5 == 4 ? GEN_DX : GEN_CT;
}

static void plan(void *ctx, uint32_t s, gen_shape *shape, char *dir, size_t cap)
{
    const plan_ctx *p = ctx;
    const bench_cfg *c = p->c;
    const bench_layout *l = p->l;
    memset(shape, 0, sizeof *shape);
    shape->n_series = 1;
    if (s < l->meta) {
        shape->kind = fill_kind(s);
        shape->n_per_series = c->fill_per_study;
        shape->rows = shape->cols = c->fill_matrix;
        snprintf(dir, cap, "%s/fill/%u/%07u", c->data, s % (uint32_t)c->load_assocs, s);
    } else if (s == l->meta) {
        shape->kind = GEN_CT;
        shape->n_per_series = c->meta_slices;
        shape->rows = shape->cols = 512;
        snprintf(dir, cap, "%s/fill/0/meta", c->data);
    } else if (s < l->dx) {
        shape->kind = GEN_CT;
        shape->n_per_series = c->hot_slices;
        shape->rows = shape->cols = 512;
        const char *g = s < l->ct4 ? "ct1" : s < l->stow ? "ct4" : "stow";
        uint32_t base = s < l->ct4 ? l->ct1 : s < l->stow ? l->ct4 : l->stow;
        snprintf(dir, cap, "%s/%s-%u", c->data, g, s - base);
    } else if (s < l->import) {
        shape->kind = GEN_DX;
        shape->n_per_series = c->dx_images;
        shape->rows = c->dx_rows;
        shape->cols = c->dx_cols;
        snprintf(dir, cap, "%s/dx-%u", c->data, s - l->dx);
    } else {
        /* CT and DX mixed as in the fill, every study in a folder of its own. */
        shape->kind = fill_kind(s);
        shape->n_per_series = c->import_per_study;
        shape->rows = shape->cols = c->import_matrix;
        char run[2900];
        bench_import_dir(c, (int)((s - l->import) / c->import_studies), run, sizeof run);
        snprintf(dir, cap, "%s/%07u", run, s);
    }
}

/* ---- File lists ---- */

void bench_files_add(bench_files *f, const char *path, uint64_t size)
{
    if (f->n == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 64;
        char **p = realloc(f->path, cap * sizeof *p);
        if (!p) {
            return;
        }
        f->path = p;
        f->cap = cap;
    }
    f->path[f->n] = strdup(path);
    if (f->path[f->n]) {
        f->n++;
        f->bytes += size;
    }
}

void bench_files_free(bench_files *f)
{
    for (size_t i = 0; i < f->n; i++) {
        free(f->path[i]);
    }
    free(f->path);
    memset(f, 0, sizeof *f);
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static bench_files *scan_target; /* nftw has no context argument; scans run on the main thread */

static int scan_visit(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    (void)ftw;
    size_t n = strlen(path);
    if (type == FTW_F && n > 4 && strcmp(path + n - 4, ".dcm") == 0) {
        bench_files_add(scan_target, path, (uint64_t)sb->st_size);
    }
    return 0;
}

/* The .dcm files under `dir`, recursively, sorted. */
static void files_scan(bench_files *f, const char *dir)
{
    scan_target = f;
    nftw(dir, scan_visit, 32, FTW_PHYS);
    scan_target = NULL;
    qsort(f->path, f->n, sizeof *f->path, cmp_str);
}

/* Splits the files of `src` round-robin into `n` lists. */
void bench_files_split(const bench_files *src, bench_files *out, int n)
{
    for (int i = 0; i < n; i++) {
        memset(&out[i], 0, sizeof out[i]);
    }
    for (size_t k = 0; k < src->n; k++) {
        bench_files_add(&out[k % (size_t)n], src->path[k], 0);
    }
    for (int i = 0; i < n; i++) {
        out[i].bytes = src->bytes * out[i].n / (src->n ? src->n : 1);
    }
}

/* ---- Generation ---- */

int bench_file_exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

int bench_generate(const bench_cfg *c, const bench_layout *l, bench_report *rep)
{
    char mark[4096];
    snprintf(mark, sizeof mark, "%s/.complete", c->data);
    if (bench_file_exists(mark)) {
        printf("pacs-bench: reusing generated data in %s\n", c->data);
        return 0;
    }
    bench_rmtree(c->data);
    pacs_errinfo ei;
    pacs_errinfo_clear(&ei);
    if (gen_mkdirs(c->data, &ei) != PACS_OK) {
        fprintf(stderr, "pacs-bench: %s\n", ei.msg);
        return -1;
    }
    uint32_t n = l->w.n_studies;
    uint32_t *list = malloc(n * sizeof *list);
    if (!list) {
        return -1;
    }
    for (uint32_t i = 0; i < n; i++) {
        list[i] = i;
    }
    plan_ctx pc = {c, l};
    uint64_t bytes = 0;
    uint32_t nfiles = 0;
    printf("pacs-bench: generating %u studies into %s\n", n, c->data);
    fflush(stdout);
    double t0 = bench_now();
    pacs_err err = gen_write_parallel(&l->w, list, n, plan, &pc, c->jobs, &bytes, &nfiles, &ei);
    double t = bench_now() - t0;
    free(list);
    if (err != PACS_OK) {
        fprintf(stderr, "pacs-bench: generation failed: %s\n", ei.msg);
        return -1;
    }
    char buf[256];
    snprintf(buf, sizeof buf, "%u files, %.0f MB in %.1f s (%.0f files/s)", nfiles, bytes / 1e6, t,
             t > 0 ? nfiles / t : 0.0);
    bench_report_meta(rep, "generation", buf);
    printf("pacs-bench: generated %s\n", buf);
    FILE *f = fopen(mark, "w");
    if (f) {
        fprintf(f, "%s\n", buf);
        fclose(f);
    }
    return 0;
}

/* ---- The data set's file lists ---- */

void bench_dataset_load(bench_dataset *ds, const bench_cfg *c)
{
    memset(ds, 0, sizeof *ds);
    for (int g = 0; g < c->load_assocs; g++) {
        char p[3000];
        snprintf(p, sizeof p, "%s/fill/%d", c->data, g);
        if (bench_file_exists(p)) {
            bench_files tmp = {0};
            files_scan(&tmp, p);
            ds->fill_files += tmp.n;
            ds->fill_bytes += tmp.bytes;
            bench_files_free(&tmp);
            bench_files_add(&ds->fill_dirs, p, 0);
        }
    }
    {
        char p[3000];
        snprintf(p, sizeof p, "%s/fill/0/meta", c->data);
        files_scan(&ds->meta, p);
    }
    for (int r = 0; r < c->runs; r++) {
        char p[3000];
        snprintf(p, sizeof p, "%s/ct1-%d", c->data, r);
        files_scan(&ds->ct1[r], p);
        snprintf(p, sizeof p, "%s/ct4-%d", c->data, r);
        files_scan(&ds->ct4[r], p);
        snprintf(p, sizeof p, "%s/stow-%d", c->data, r);
        files_scan(&ds->stow[r], p);
        snprintf(p, sizeof p, "%s/dx-%d", c->data, r);
        files_scan(&ds->dx[r], p);
        bench_import_dir(c, r, p, sizeof p);
        files_scan(&ds->import[r], p);
    }
}

void bench_dataset_free(bench_dataset *ds, const bench_cfg *c)
{
    for (int r = 0; r < c->runs; r++) {
        bench_files_free(&ds->ct1[r]);
        bench_files_free(&ds->ct4[r]);
        bench_files_free(&ds->stow[r]);
        bench_files_free(&ds->dx[r]);
        bench_files_free(&ds->import[r]);
    }
    bench_files_free(&ds->meta);
    bench_files_free(&ds->fill_dirs);
}
