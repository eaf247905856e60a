// SPDX-License-Identifier: MIT
/*
 * pacs-bench: the benchmark of issue 6. Generates one deterministic data set (gen.h), measures
 * the machine's limits (storescu -> storescp --ignore, durable file writes, loopback TCP,
 * SHA-256), then starts pacsd and Orthanc one after the other on loopback, each with an empty
 * temporary data folder, and measures both through DIMSE and DICOMweb only: bulk load of the
 * index, C-STORE ingest on 1 and 4 associations, STOW-RS, C-FIND and QIDO-RS latency on the
 * big index, QIDO throughput on 4 connections, WADO-RS study retrieval, study metadata,
 * frames and rendered images, peak RSS and bytes on disk. Prints a Markdown table and writes
 * report.md and report.json in the work folder.
 *
 * Load: the clients are DCMTK's storescu (as the protocol ceiling is measured with it), one
 * kept-open association for C-FIND and keep-alive libcurl handles for HTTP, so that what is
 * timed is the server. Single-threaded except the QIDO throughput clients.
 */
#define _XOPEN_SOURCE 700 /* nftw */
#include <errno.h>
#include <ftw.h>
#include <getopt.h>
#include <jansson.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>
#include <utf8proc.h>

#include "pacs/dicom/dcm.h"
#include "tools/bench/bench.h"
#include "tools/bench/gen.h"

/* ---- Configuration ---- */

typedef struct cfg {
    const char *size;
    uint64_t seed;
    uint32_t fill_studies, fill_per_study, fill_matrix;
    uint32_t hot_slices, meta_slices;
    uint32_t dx_images, dx_rows, dx_cols;
    int runs, reps, frames_n, load_assocs, stow_batch;
    double qido_secs;
    char work[2048];
    char data[2560];
    const char *pacsd;
    const char *orthanc_mode; /* install, auto or no */
    int want[BENCH_NSERVERS];
    int jobs;
    int keep;
    int verify_fill;
} cfg;

static int set_size(cfg *c, const char *size)
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
    if (strcmp(size, "smoke") == 0) {
        c->fill_studies = 40;
        c->hot_slices = 12;
        c->meta_slices = 30;
        c->dx_images = 1;
        c->dx_rows = 600;
        c->dx_cols = 500;
        c->runs = 2;
        c->reps = 5;
        c->frames_n = 3;
        c->qido_secs = 0.6;
    } else if (strcmp(size, "small") == 0) {
        c->fill_studies = 2000;
        c->hot_slices = 100;
        c->dx_images = 2;
        c->runs = 3;
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

/* The world: fill studies, then the 300-slice metadata study, then the ingest runs. */
typedef struct layout {
    gen_world w;
    uint32_t meta;
    uint32_t ct1, ct4, stow, dx; /* first study of each group of `runs` */
} layout;

static void layout_init(layout *l, const cfg *c)
{
    uint32_t F = c->fill_studies;
    l->meta = F;
    l->ct1 = F + 1;
    l->ct4 = l->ct1 + (uint32_t)c->runs;
    l->stow = l->ct4 + (uint32_t)c->runs;
    l->dx = l->stow + (uint32_t)c->runs;
    gen_world_init(&l->w, c->seed, l->dx + (uint32_t)c->runs);
}

typedef struct plan_ctx {
    const cfg *c;
    const layout *l;
} plan_ctx;

static gen_kind fill_kind(uint32_t s)
{
    return s % 5 == 4 ? GEN_DX : GEN_CT;
}

static void plan(void *ctx, uint32_t s, gen_shape *shape, char *dir, size_t cap)
{
    const plan_ctx *p = ctx;
    const cfg *c = p->c;
    const layout *l = p->l;
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
    } else {
        shape->kind = GEN_DX;
        shape->n_per_series = c->dx_images;
        shape->rows = c->dx_rows;
        shape->cols = c->dx_cols;
        snprintf(dir, cap, "%s/dx-%u", c->data, s - l->dx);
    }
}

/* ---- File lists ---- */

typedef struct files {
    char **path;
    size_t n, cap;
    uint64_t bytes;
} files;

static void files_add(files *f, const char *path, uint64_t size)
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

static void files_free(files *f)
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

static files *scan_target; /* nftw has no context argument; scans run on the main thread */

static int scan_visit(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    (void)ftw;
    size_t n = strlen(path);
    if (type == FTW_F && n > 4 && strcmp(path + n - 4, ".dcm") == 0) {
        files_add(scan_target, path, (uint64_t)sb->st_size);
    }
    return 0;
}

/* The .dcm files under `dir`, recursively, sorted. */
static void files_scan(files *f, const char *dir)
{
    scan_target = f;
    nftw(dir, scan_visit, 32, FTW_PHYS);
    scan_target = NULL;
    qsort(f->path, f->n, sizeof *f->path, cmp_str);
}

/* ---- Generation ---- */

static int file_exists(const char *path)
{
    struct stat sb;
    return stat(path, &sb) == 0;
}

static int generate(const cfg *c, const layout *l, bench_report *rep)
{
    char mark[4096];
    snprintf(mark, sizeof mark, "%s/.complete", c->data);
    if (file_exists(mark)) {
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

/* ---- storescu runs ---- */

/*
 * storescu is timed from its own log, not by the wall clock of the process: its start-up
 * (loading the data dictionary, checking every input file) costs 50-100 ms, as much as
 * storing 100 instances, and has nothing to do with the server. The window runs from
 * "Requesting Association" to the last "Received Store Response", on a log whose lines carry
 * microsecond timestamps (DCMTK's log4cplus configuration, -lc).
 */
static int write_log_config(const char *cfg_path, const char *log_path)
{
    FILE *f = fopen(cfg_path, "w");
    if (!f) {
        return -1;
    }
    fprintf(f,
            "log4cplus.rootLogger = INFO, file\n"
            "log4cplus.appender.file = log4cplus::FileAppender\n"
            "log4cplus.appender.file.File = %s\n"
            "log4cplus.appender.file.Append = false\n"
            "log4cplus.appender.file.ImmediateFlush = false\n"
            "log4cplus.appender.file.layout = log4cplus::PatternLayout\n"
            "log4cplus.appender.file.layout.ConversionPattern = %%D{%%H:%%M:%%S.%%Q} %%m%%n\n",
            log_path);
    return fclose(f);
}

/* Seconds of the day from "HH:MM:SS.mmm.uuu", or -1. */
static double log_time(const char *line)
{
    unsigned h, m, sec, ms, us;
    if (sscanf(line, "%2u:%2u:%2u.%3u.%3u", &h, &m, &sec, &ms, &us) != 5) {
        return -1;
    }
    return h * 3600.0 + m * 60.0 + sec + ms / 1e3 + us / 1e6;
}

/* The log's window, its successful stores and (when `times` is given) their times. */
static int parse_scu_log(const char *path, double *start, double *end, size_t *ok,
                         bench_samples *times)
{
    FILE *f = fopen(path, "r");
    char line[4096];
    *start = *end = -1;
    *ok = 0;
    if (!f) {
        return -1;
    }
    while (fgets(line, sizeof line, f)) {
        double t = log_time(line);
        if (t < 0) {
            continue;
        }
        if (*start >= 0 && t < *start) {
            t += 86400; /* the run crossed midnight */
        }
        if (*start < 0 && strstr(line, " Requesting Association")) {
            *start = t;
        } else if (strstr(line, " Received Store Response")) {
            *end = t;
            if (strstr(line, "(Success)") || strstr(line, "Warning")) {
                (*ok)++;
                if (times) {
                    bench_samples_add(times, t);
                }
            }
        }
    }
    fclose(f);
    return *start >= 0 && *end >= 0 ? 0 : -1;
}

/* Sends `lists[0..n)` (or the folders `dirs[0..n)`, recursively) with one storescu each, in
 * parallel. Returns the seconds from the first association request to the last response,
 * or -1 (with `why`) unless exactly `expect` instances were stored successfully. */
static double run_storescu(const cfg *c, const char *aet, int port, files *lists, int n,
                           const char *const *dirs, size_t expect, double timeout_s, char *why,
                           size_t why_cap)
{
    pid_t pids[16];
    char portbuf[16], cfgs[16][3000], logs[16][3000], out[3000];
    snprintf(portbuf, sizeof portbuf, "%d", port);
    snprintf(out, sizeof out, "%s/run/storescu.out", c->work);
    int started = 0;
    for (int i = 0; i < n && i < 16; i++) {
        snprintf(cfgs[i], sizeof cfgs[i], "%s/run/scu-%d.cfg", c->work, i);
        snprintf(logs[i], sizeof logs[i], "%s/run/scu-%d.log", c->work, i);
        unlink(logs[i]);
        if (write_log_config(cfgs[i], logs[i]) != 0) {
            break;
        }
        size_t nf = dirs ? 1 : lists[i].n;
        char **argv = calloc(nf + 20, sizeof *argv);
        if (!argv) {
            break;
        }
        int a = 0;
        argv[a++] = "storescu";
        argv[a++] = "-lc";
        argv[a++] = cfgs[i];
        argv[a++] = "-aet";
        argv[a++] = "BENCH";
        argv[a++] = "-aec";
        argv[a++] = (char *)aet;
        if (dirs) {
            argv[a++] = "+sd";
            argv[a++] = "+r";
        }
        argv[a++] = "127.0.0.1";
        argv[a++] = portbuf;
        if (dirs) {
            argv[a++] = (char *)dirs[i];
        } else {
            for (size_t k = 0; k < nf; k++) {
                argv[a++] = lists[i].path[k];
            }
        }
        argv[a] = NULL;
        pids[i] = bench_spawn(argv, out);
        free(argv);
        if (pids[i] < 0) {
            break;
        }
        started++;
    }
    int ok = started == n;
    if (!ok) {
        snprintf(why, why_cap, "cannot start storescu");
    }
    for (int i = 0; i < started; i++) {
        int rc = bench_wait(pids[i], timeout_s);
        if (rc != 0 && ok) {
            ok = 0;
            snprintf(why, why_cap, "storescu exit %d", rc);
        }
    }
    double first = -1, last = -1, late_start = -1, early_end = -1;
    size_t stored = 0;
    bench_samples times = {0};
    for (int i = 0; i < started; i++) {
        double s0, s1;
        size_t k;
        if (parse_scu_log(logs[i], &s0, &s1, &k, n > 1 ? &times : NULL) != 0) {
            ok = 0;
            continue;
        }
        stored += k;
        first = first < 0 || s0 < first ? s0 : first;
        last = s1 > last ? s1 : last;
        late_start = s0 > late_start ? s0 : late_start;
        early_end = early_end < 0 || s1 < early_end ? s1 : early_end;
    }
    if (stored != expect) {
        snprintf(why, why_cap, "%zu of %zu stored", stored, expect);
        ok = 0;
    }
    double secs = ok && last > first ? last - first : -1;
    /* Several associations: their start-ups (dictionary, file checks) overlap on few cores
     * and skew the window, so the rate is taken while all of them were open, and returned as
     * the time `expect` instances take at that rate. */
    if (secs > 0 && n > 1 && early_end - late_start > 0.25 * secs) {
        size_t in = 0;
        for (size_t i = 0; i < times.n; i++) {
            in += times.v[i] > late_start && times.v[i] <= early_end;
        }
        if (in >= 8) {
            secs = (double)expect * (early_end - late_start) / (double)in;
        }
    }
    bench_samples_free(&times);
    return secs;
}

/* Splits the files of `src` round-robin into `n` lists. */
static void split(const files *src, files *out, int n)
{
    for (int i = 0; i < n; i++) {
        memset(&out[i], 0, sizeof out[i]);
    }
    for (size_t k = 0; k < src->n; k++) {
        files_add(&out[k % (size_t)n], src->path[k], 0);
    }
    for (int i = 0; i < n; i++) {
        out[i].bytes = src->bytes * out[i].n / (src->n ? src->n : 1);
    }
}

/* ---- Servers ---- */

typedef struct server {
    int kind;
    const char *name;
    pid_t pid;
    int dimse_port, http_port;
    char aet[17];
    char web[256]; /* DICOMweb root, no trailing slash; empty when there is no HTTP port */
    char dir[3000];
    char data[3100];
    char index_dir[3100]; /* Orthanc only */
    char log[3100];
    char rss_phases[1024]; /* "bulk load 40 MB (now 30 anon + 10 file); ..." */
} server;

/* Notes the server's peak RSS so far, so that the report says which phase raised it. */
static void rss_mark(server *s, const char *phase)
{
    size_t n = strlen(s->rss_phases);
    uint64_t rss = bench_peak_rss(s->pid), anon, file;
    bench_rss_split(s->pid, &anon, &file);
    snprintf(s->rss_phases + n, sizeof s->rss_phases - n,
             "%s%s %.0f MB (now %.0f anon + %.0f file)", n ? "; " : "", phase, (double)rss / 1e6,
             (double)anon / 1e6, (double)file / 1e6);
}

static int wait_echo(server *s, double timeout_s)
{
    double end = bench_now() + timeout_s;
    while (bench_now() < end) {
        bench_dimse *d = NULL;
        pacs_errinfo ei;
        if (bench_dimse_open(s->aet, s->dimse_port, &d, &ei) == PACS_OK) {
            pacs_err e = bench_dimse_echo(d, &ei);
            bench_dimse_close(d);
            if (e == PACS_OK) {
                return 0;
            }
        }
        usleep(100000);
    }
    return -1;
}

static int start_pacsd(const cfg *c, server *s)
{
    char ready[3200];
    snprintf(s->dir, sizeof s->dir, "%s/run/pacsd", c->work);
    bench_rmtree(s->dir);
    pacs_errinfo ei;
    if (gen_mkdirs(s->dir, &ei) != PACS_OK) {
        return -1;
    }
    snprintf(s->data, sizeof s->data, "%s/data", s->dir);
    snprintf(s->log, sizeof s->log, "%s/pacsd.log", s->dir);
    snprintf(ready, sizeof ready, "%s/ready", s->dir);
    char *argv[] = {(char *)c->pacsd,
                    "--data",
                    s->data,
                    "--set",
                    "dimse.port=0",
                    "--set",
                    "http.port=0",
                    "--set",
                    "http.bind=127.0.0.1",
                    "--set",
                    "dimse.bind=127.0.0.1",
                    "--ready-file",
                    ready,
                    NULL};
    s->pid = bench_spawn(argv, s->log);
    if (s->pid < 0) {
        return -1;
    }
    double end = bench_now() + 30;
    while (bench_now() < end && !file_exists(ready)) {
        usleep(20000);
    }
    usleep(20000);
    FILE *f = fopen(ready, "r");
    if (!f) {
        fprintf(stderr, "pacs-bench: pacsd did not become ready; see %s\n", s->log);
        return -1;
    }
    char line[256];
    while (fgets(line, sizeof line, f)) {
        sscanf(line, "DIMSE_PORT=%d", &s->dimse_port);
        sscanf(line, "HTTP_PORT=%d", &s->http_port);
    }
    fclose(f);
    snprintf(s->aet, sizeof s->aet, "PACS");
    if (s->http_port > 0) {
        snprintf(s->web, sizeof s->web, "http://127.0.0.1:%d/dicomweb", s->http_port);
    }
    return s->dimse_port > 0 && wait_echo(s, 30) == 0 ? 0 : -1;
}

static const char *orthanc_binary(void)
{
    static const char *const cands[] = {"/usr/sbin/Orthanc", "/usr/bin/Orthanc"};
    for (size_t i = 0; i < 2; i++) {
        if (access(cands[i], X_OK) == 0) {
            return cands[i];
        }
    }
    return NULL;
}

#define ORTHANC_DICOMWEB_PLUGIN "/usr/share/orthanc/plugins/libOrthancDicomWeb.so"

/* Installs Debian's orthanc and orthanc-dicomweb when missing and allowed to. */
static const char *ensure_orthanc(const cfg *c, char *why, size_t cap)
{
    const char *bin = orthanc_binary();
    if (bin && access(ORTHANC_DICOMWEB_PLUGIN, R_OK) == 0) {
        return bin;
    }
    if (strcmp(c->orthanc_mode, "install") != 0) {
        snprintf(why, cap, "Orthanc is not installed (--orthanc install to install it)");
        return NULL;
    }
    if (geteuid() != 0) {
        snprintf(why, cap, "Orthanc is not installed and installing needs root");
        return NULL;
    }
    printf("pacs-bench: installing orthanc and orthanc-dicomweb with apt-get\n");
    fflush(stdout);
    char log[3000];
    snprintf(log, sizeof log, "%s/apt.log", c->work);
    setenv("DEBIAN_FRONTEND", "noninteractive", 1);
    char *argv[] = {"apt-get", "install",          "-y", "-q", "--no-install-recommends",
                    "orthanc", "orthanc-dicomweb", NULL};
    if (bench_run(argv, log, 900) != 0) {
        char *upd[] = {"apt-get", "update", "-q", NULL};
        bench_run(upd, log, 600);
        if (bench_run(argv, log, 900) != 0) {
            snprintf(why, cap, "apt-get install orthanc failed; see %.150s", log);
            return NULL;
        }
    }
    bin = orthanc_binary();
    if (!bin) {
        snprintf(why, cap, "Orthanc binary not found after installation");
    }
    return bin;
}

static int start_orthanc(const cfg *c, server *s, const char *bin)
{
    snprintf(s->dir, sizeof s->dir, "%s/run/orthanc", c->work);
    bench_rmtree(s->dir);
    snprintf(s->data, sizeof s->data, "%s/storage", s->dir);
    snprintf(s->index_dir, sizeof s->index_dir, "%s/index", s->dir);
    snprintf(s->log, sizeof s->log, "%s/orthanc.log", s->dir);
    pacs_errinfo ei;
    if (gen_mkdirs(s->data, &ei) != PACS_OK || gen_mkdirs(s->index_dir, &ei) != PACS_OK) {
        return -1;
    }
    s->dimse_port = bench_free_port();
    s->http_port = bench_free_port();
    while (s->http_port == s->dimse_port) {
        s->http_port = bench_free_port();
    }
    snprintf(s->aet, sizeof s->aet, "ORTHANC");
    /* The configuration NOTES.md documents for a fair comparison: fsync on, no compression,
     * no storage access on find, no job persistence, TCP_NODELAY, DICOMweb under /dicom-web/. */
    json_t *conf = json_pack(
        "{s:s, s:s, s:s, s:b, s:b, s:s, s:b, s:b, s:i, s:i, s:s, s:b, s:b, s:b, s:b, s:b, s:b, "
        "s:b, s:[s], s:{s:b, s:s}}",
        "Name", "pacs-bench", "StorageDirectory", s->data, "IndexDirectory", s->index_dir,
        "StorageCompression", 0, "SyncStorageArea", 1, "StorageAccessOnFind", "Never", "SaveJobs",
        0, "TcpNoDelay", 1, "HttpPort", s->http_port, "DicomPort", s->dimse_port, "DicomAet",
        s->aet, "RemoteAccessAllowed", 0, "AuthenticationEnabled", 0, "DicomAlwaysAllowEcho", 1,
        "DicomAlwaysAllowStore", 1, "DicomAlwaysAllowFind", 1, "DicomCheckCalledAet", 0,
        "KeepAlive", 1, "Plugins", ORTHANC_DICOMWEB_PLUGIN, "DicomWeb", "Enable", 1, "Root",
        "/dicom-web/");
    char conf_path[3200];
    snprintf(conf_path, sizeof conf_path, "%s/orthanc.json", s->dir);
    if (!conf || json_dump_file(conf, conf_path, JSON_INDENT(2)) != 0) {
        json_decref(conf);
        return -1;
    }
    json_decref(conf);
    char *argv[] = {(char *)bin, conf_path, NULL};
    s->pid = bench_spawn(argv, s->log);
    if (s->pid < 0) {
        return -1;
    }
    snprintf(s->web, sizeof s->web, "http://127.0.0.1:%d/dicom-web", s->http_port);
    char url[512];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/system", s->http_port);
    bench_http *h = bench_http_new();
    double end = bench_now() + 60;
    int up = 0;
    while (h && bench_now() < end && !up) {
        long st;
        uint64_t b;
        double t;
        if (bench_http_get(h, url, NULL, &st, &b, &t, &ei) == PACS_OK && st == 200) {
            up = 1;
        } else {
            usleep(100000);
        }
    }
    bench_http_free(h);
    if (!up) {
        fprintf(stderr, "pacs-bench: Orthanc did not start; see %s\n", s->log);
        return -1;
    }
    return wait_echo(s, 30);
}

/* ---- Queries and their expected matches ---- */

enum { Q_PATIENT_ID, Q_NAME_UTF8, Q_NAME_FOLDED, Q_DATE_RANGE, Q_UNKNOWN_UID, Q_COUNT };

typedef struct query {
    const char *id;
    const char *label;
    uint32_t tag;
    char value[128];
    int fuzzy;
    unsigned expected;
} query;

/* Case-folded, diacritics stripped, đ as d and '^' as a space: how a name typed without
 * diacritics is meant to match (utf8proc does the Unicode). */
static char *fold(const char *s)
{
    utf8proc_uint8_t *out = NULL;
    utf8proc_ssize_t n = utf8proc_map((const utf8proc_uint8_t *)s, 0, &out,
                                      UTF8PROC_NULLTERM | UTF8PROC_STABLE | UTF8PROC_DECOMPOSE |
                                          UTF8PROC_STRIPMARK | UTF8PROC_CASEFOLD);
    if (n < 0) {
        return NULL;
    }
    char *r = (char *)out, *w = r;
    for (char *p = r; *p; p++) {
        if ((unsigned char)p[0] == 0xC4 && (unsigned char)p[1] == 0x91) {
            *w++ = 'd';
            p++;
        } else {
            *w++ = *p == '^' ? ' ' : *p;
        }
    }
    *w = '\0';
    return r;
}

/* The first `n` code points of a UTF-8 string. */
static void utf8_prefix(const char *s, int n, char *out, size_t cap)
{
    size_t i = 0;
    int cps = 0;
    while (s[i] && cps < n) {
        i++;
        while (((unsigned char)s[i] & 0xC0) == 0x80) {
            i++;
        }
        cps++;
    }
    snprintf(out, cap, "%.*s", (int)i, s);
}

static void make_queries(const cfg *c, const layout *l, const int *stored, query *q)
{
    const gen_world *w = &l->w;
    gen_patient p0;
    uint32_t s0 = c->fill_studies / 2 + 1;
    /* A patient whose family name is not Nguyễn keeps the name query selective. */
    for (uint32_t s = s0; s < s0 + 200 && s < c->fill_studies; s++) {
        gen_patient_make(w, gen_study_patient(w, s), &p0);
        if (strcmp(p0.family, "Nguyễn") != 0) {
            s0 = s;
            break;
        }
    }
    gen_patient_make(w, gen_study_patient(w, s0), &p0);
    char given2[32];
    utf8_prefix(p0.given, 2, given2, sizeof given2);

    q[Q_PATIENT_ID] = (query){"id", "exact PatientID", 0x00100020, "", 0, 0};
    snprintf(q[Q_PATIENT_ID].value, sizeof q[0].value, "%s", p0.id);
    q[Q_NAME_UTF8] = (query){"name_utf8", "PatientName prefix, UTF-8", 0x00100010, "", 0, 0};
    snprintf(q[Q_NAME_UTF8].value, sizeof q[0].value, "%s^%s %s*", p0.family, p0.middle, given2);
    char *folded = fold(q[Q_NAME_UTF8].value);
    q[Q_NAME_FOLDED] = (query){"name_folded", "PatientName prefix, folded", 0x00100010, "", 1, 0};
    snprintf(q[Q_NAME_FOLDED].value, sizeof q[0].value, "%s", folded ? folded : "");
    /* Typed the way people type it: family^given without diacritics, lower case. */
    for (char *p = q[Q_NAME_FOLDED].value; *p; p++) {
        if (*p == ' ') {
            *p = '^';
            break;
        }
    }
    char d0[9];
    gen_study_date(w, c->fill_studies / 3, d0);
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    sscanf(d0, "%4d%2d%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday);
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    tm.tm_mday += 6;
    tm.tm_hour = 12;
    mktime(&tm);
    char d1[16];
    strftime(d1, sizeof d1, "%Y%m%d", &tm);
    q[Q_DATE_RANGE] = (query){"date", "StudyDate range (7 days)", 0x00080020, "", 0, 0};
    snprintf(q[Q_DATE_RANGE].value, sizeof q[0].value, "%s-%s", d0, d1);
    q[Q_UNKNOWN_UID] = (query){"uid", "unknown StudyInstanceUID", 0x0020000D, "", 0, 0};
    snprintf(q[Q_UNKNOWN_UID].value, sizeof q[0].value, "%s.999999.1.1", GEN_UID_ROOT);

    /* Expected matches, from the model: every stored study is enumerated. */
    char *fq = fold(q[Q_NAME_UTF8].value);
    size_t fql = fq ? strlen(fq) - 1 : 0; /* without the '*' */
    size_t uql = strlen(q[Q_NAME_UTF8].value) - 1;
    for (uint32_t s = 0; s < w->n_studies; s++) {
        if (!stored[s]) {
            continue;
        }
        uint32_t p = gen_study_patient(w, s);
        gen_patient pt;
        gen_patient_make(w, p, &pt);
        if (strcmp(pt.id, p0.id) == 0) {
            q[Q_PATIENT_ID].expected++;
        }
        if (strncmp(pt.name, q[Q_NAME_UTF8].value, uql) == 0) {
            q[Q_NAME_UTF8].expected++;
        }
        char *fn = fold(pt.name);
        if (fn && fq && strncmp(fn, fq, fql) == 0) {
            q[Q_NAME_FOLDED].expected++;
        }
        free(fn);
        char d[9];
        gen_study_date(w, s, d);
        if (strcmp(d, d0) >= 0 && strcmp(d, d1) <= 0) {
            q[Q_DATE_RANGE].expected++;
        }
    }
    free(fq);
    free(folded);
}

static char *qido_url_for(const server *s, int qi, const query *q)
{
    static const char *const names[Q_COUNT] = {"PatientID", "PatientName", "PatientName",
                                               "StudyDate", "StudyInstanceUID"};
    char *v = bench_http_escape(q->value);
    if (!v) {
        return NULL;
    }
    size_t cap = strlen(s->web) + strlen(v) + 128;
    char *u = malloc(cap);
    if (u) {
        snprintf(u, cap, "%s/studies?%s=%s%s", s->web, names[qi], v,
                 q->fuzzy ? "&fuzzymatching=true" : "");
    }
    free(v);
    return u;
}

static unsigned count_json_array(const char *body, size_t len)
{
    if (len == 0) {
        return 0;
    }
    json_t *j = json_loadb(body, len, 0, NULL);
    unsigned n = json_is_array(j) ? (unsigned)json_array_size(j) : 0;
    json_decref(j);
    return n;
}

/* ---- QIDO throughput ---- */

typedef struct tput_ctx {
    const server *s;
    const query *q;
    double until;
    atomic_uint done;
    atomic_uint failed;
} tput_ctx;

static void *tput_worker(void *arg)
{
    tput_ctx *t = arg;
    bench_http *h = bench_http_new();
    char *urls[Q_COUNT];
    for (int i = 0; i < Q_COUNT; i++) {
        urls[i] = qido_url_for(t->s, i, &t->q[i]);
    }
    for (int k = 0; h && bench_now() < t->until; k++) {
        long st;
        uint64_t b;
        double secs;
        pacs_errinfo ei;
        const char *u = urls[k % Q_COUNT];
        if (u && bench_http_get(h, u, "application/dicom+json", &st, &b, &secs, &ei) == PACS_OK &&
            (st == 200 || st == 204)) {
            atomic_fetch_add(&t->done, 1);
        } else {
            atomic_fetch_add(&t->failed, 1);
        }
    }
    for (int i = 0; i < Q_COUNT; i++) {
        free(urls[i]);
    }
    bench_http_free(h);
    return NULL;
}

/* ---- One server, every measurement ---- */

/* Each group of HTTP figures gets its own keep-alive connection, so that what one response
 * leaves behind on a connection (see frames_after_metadata) does not colour the next figure. */
static void fresh_connection(const server *s, bench_http **h)
{
    bench_http_free(*h);
    *h = s->web[0] ? bench_http_new() : NULL;
}

typedef struct dataset {
    files fill_dirs; /* not files: the folders for bulk load */
    files ct1[16], ct4[16], stow[16], dx[16];
    files meta;
    uint64_t fill_bytes;
    size_t fill_files;
} dataset;

static void note(bench_samples *s, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Adds to a figure's note, once: a later note (a count check) must not hide an earlier one
 * (why a run failed). */
static void note(bench_samples *s, const char *fmt, ...)
{
    char text[sizeof s->note];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    if (strstr(s->note, text)) {
        return;
    }
    size_t used = strlen(s->note);
    snprintf(s->note + used, sizeof s->note - used, "%s%s", used ? "; " : "", text);
}

static bench_row *row(bench_report *r, const char *id, const char *label, const char *unit,
                      bench_better b)
{
    return bench_report_row(r, id, label, unit, b);
}

/* Builds a multipart/related body of `f`'s files [from, to). */
static char *stow_body(const files *f, size_t from, size_t to, const char *boundary, size_t *len)
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

static int http_missing(long st)
{
    return st == 404 || st == 405 || st == 501 || st == 0;
}

static void measure_server(const cfg *c, const layout *l, dataset *ds, server *s, bench_report *rep,
                           int *stored)
{
    const int k = s->kind;
    char why[512] = "";
    pacs_errinfo ei;
    printf("pacs-bench: [%s] bulk load: %zu files over %d associations\n", s->name, ds->fill_files,
           c->load_assocs);
    fflush(stdout);

    /* Bulk load: the index that queries run on. */
    {
        const char *dirs[16];
        for (size_t i = 0; i < ds->fill_dirs.n && i < 16; i++) {
            dirs[i] = ds->fill_dirs.path[i];
        }
        bench_row *rb =
            row(rep, "bulk_load", "bulk load of the index, 4 associations", "inst/s", BENCH_HIGHER);
        double t = run_storescu(c, s->aet, s->dimse_port, NULL, (int)ds->fill_dirs.n, dirs,
                                ds->fill_files, 7200, why, sizeof why);
        if (t > 0) {
            bench_samples_add(&rb->s[k], (double)ds->fill_files / t);
        } else {
            note(&rb->s[k], "%s", why);
        }
        for (uint32_t i = 0; i <= l->meta; i++) {
            stored[i] = t > 0;
        }
    }

    rss_mark(s, "bulk load");

    /* C-STORE, 1 and 4 associations, CT and DX. */
    const char *ids[3] = {"cstore_ct_1", "cstore_ct_4", "cstore_dx_1"};
    const char *labels[3] = {"C-STORE CT 512x512, 1 association",
                             "C-STORE CT 512x512, 4 associations",
                             "C-STORE DX 3000x2500, 1 association"};
    files *sets[3] = {ds->ct1, ds->ct4, ds->dx};
    uint32_t firsts[3] = {l->ct1, l->ct4, l->dx};
    for (int g = 0; g < 3; g++) {
        char mbid[64], mblabel[128];
        snprintf(mbid, sizeof mbid, "%s_mb", ids[g]);
        snprintf(mblabel, sizeof mblabel, "%s (MB/s)", labels[g]);
        bench_row *ri = row(rep, ids[g], labels[g], "inst/s", BENCH_HIGHER);
        bench_row *rm = row(rep, mbid, mblabel, "MB/s", BENCH_HIGHER);
        printf("pacs-bench: [%s] %s\n", s->name, labels[g]);
        fflush(stdout);
        for (int r = 0; r < c->runs; r++) {
            files parts[4];
            int n = g == 1 ? 4 : 1;
            split(&sets[g][r], parts, n);
            double t = run_storescu(c, s->aet, s->dimse_port, parts, n, NULL, sets[g][r].n, 1800,
                                    why, sizeof why);
            for (int i = 0; i < n; i++) {
                files_free(&parts[i]);
            }
            if (t > 0) {
                bench_samples_add(&ri->s[k], (double)sets[g][r].n / t);
                bench_samples_add(&rm->s[k], (double)sets[g][r].bytes / 1e6 / t);
                stored[firsts[g] + (uint32_t)r] = 1;
            } else {
                note(&ri->s[k], "%s", why);
            }
        }
    }

    rss_mark(s, "C-STORE");

    /* STOW-RS: batches of stow_batch instances, one connection. */
    {
        bench_row *ri =
            row(rep, "stow", "STOW-RS CT 512x512, 1 connection", "inst/s", BENCH_HIGHER);
        bench_row *rm = row(rep, "stow_mb", "STOW-RS CT 512x512 (MB/s)", "MB/s", BENCH_HIGHER);
        printf("pacs-bench: [%s] STOW-RS\n", s->name);
        fflush(stdout);
        bench_http *h = s->web[0] ? bench_http_new() : NULL;
        if (!h) {
            note(&ri->s[k], "no DICOMweb port");
        }
        char url[512];
        snprintf(url, sizeof url, "%s/studies", s->web);
        const char *boundary = "pacs-bench-7d3f9a2c41e8";
        char ctype[256];
        snprintf(ctype, sizeof ctype, "multipart/related; type=\"application/dicom\"; boundary=%s",
                 boundary);
        for (int r = 0; h && r < c->runs; r++) {
            const files *f = &ds->stow[r];
            size_t nb = (f->n + (size_t)c->stow_batch - 1) / (size_t)c->stow_batch;
            char **bodies = calloc(nb, sizeof *bodies);
            size_t *lens = calloc(nb, sizeof *lens);
            int ok = bodies && lens;
            for (size_t b = 0; ok && b < nb; b++) {
                size_t to = (b + 1) * (size_t)c->stow_batch;
                bodies[b] = stow_body(f, b * (size_t)c->stow_batch, to < f->n ? to : f->n, boundary,
                                      &lens[b]);
                ok = bodies[b] != NULL;
            }
            double total = 0;
            long st = 0;
            for (size_t b = 0; ok && b < nb; b++) {
                double secs;
                if (bench_http_post(h, url, ctype, bodies[b], lens[b], &st, &secs, &ei) !=
                        PACS_OK ||
                    st != 200) {
                    ok = 0;
                    if (http_missing(st)) {
                        note(&ri->s[k], "not offered (HTTP %ld)", st);
                    } else {
                        note(&ri->s[k], "HTTP %ld %s", st, st ? "" : ei.msg);
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

    rss_mark(s, "STOW-RS");

    /* The stored counts, so that a fast figure is not a lossy one. */
    bench_dimse *d = NULL;
    if (bench_dimse_open(s->aet, s->dimse_port, &d, &ei) != PACS_OK) {
        fprintf(stderr, "pacs-bench: [%s] cannot open an association: %s\n", s->name, ei.msg);
        return;
    }
    if (c->verify_fill) {
        unsigned n = 0;
        unsigned want = 0;
        for (uint32_t i = 0; i < l->w.n_studies; i++) {
            want += stored[i] ? 1 : 0;
        }
        bench_row *rb = row(rep, "bulk_load", "", "", BENCH_HIGHER);
        if (bench_dimse_find_study(d, 0x00080020, "19000101-20991231", &n, &ei) == PACS_OK) {
            if (n != want) {
                note(&rb->s[k], "%u of %u studies found", n, want);
            }
            printf("pacs-bench: [%s] %u of %u studies found by C-FIND\n", s->name, n, want);
        } else {
            note(&rb->s[k], "count C-FIND failed: %s", ei.msg);
        }
    }

    /* C-ECHO and C-FIND latency on one association. */
    query q[Q_COUNT];
    make_queries(c, l, stored, q);
    bench_row *recho = row(rep, "cecho", "C-ECHO round trip", "ms", BENCH_LOWER);
    for (int i = 0; i < c->reps + 1; i++) {
        double t0 = bench_now();
        if (bench_dimse_echo(d, &ei) != PACS_OK) {
            note(&recho->s[k], "%s", ei.msg);
            break;
        }
        if (i > 0) {
            bench_samples_add(&recho->s[k], (bench_now() - t0) * 1e3);
        }
    }
    printf("pacs-bench: [%s] C-FIND and QIDO-RS latency\n", s->name);
    fflush(stdout);
    for (int qi = 0; qi < Q_COUNT; qi++) {
        char id[64], label[160];
        snprintf(id, sizeof id, "cfind_%s", q[qi].id);
        snprintf(label, sizeof label, "C-FIND %s", q[qi].label);
        bench_row *rf = row(rep, id, label, "ms", BENCH_LOWER);
        unsigned matches = 0;
        int ok = 1;
        for (int i = 0; ok && i < c->reps + 1; i++) {
            double t0 = bench_now();
            if (bench_dimse_find_study(d, q[qi].tag, q[qi].value, &matches, &ei) != PACS_OK) {
                note(&rf->s[k], "%s", ei.msg);
                ok = 0;
            } else if (i > 0) {
                bench_samples_add(&rf->s[k], (bench_now() - t0) * 1e3);
            }
        }
        if (ok && matches != q[qi].expected) {
            note(&rf->s[k], "%u of %u matches", matches, q[qi].expected);
        }
    }
    bench_dimse_close(d);

    rss_mark(s, "C-FIND");

    /* QIDO-RS latency on one keep-alive connection. */
    bench_http *h = s->web[0] ? bench_http_new() : NULL;
    if (h) {
        bench_http_keep_body(h, 64u << 20);
    }
    for (int qi = 0; qi < Q_COUNT; qi++) {
        char id[64], label[160];
        snprintf(id, sizeof id, "qido_%s", q[qi].id);
        snprintf(label, sizeof label, "QIDO-RS %s", q[qi].label);
        bench_row *rq = row(rep, id, label, "ms", BENCH_LOWER);
        if (!h) {
            note(&rq->s[k], "no DICOMweb port");
            continue;
        }
        char *u = qido_url_for(s, qi, &q[qi]);
        unsigned matches = 0;
        for (int i = 0; u && i < c->reps + 1; i++) {
            long st;
            uint64_t b;
            double secs;
            if (bench_http_get(h, u, "application/dicom+json", &st, &b, &secs, &ei) != PACS_OK ||
                (st != 200 && st != 204)) {
                note(&rq->s[k], "%s HTTP %ld", http_missing(st) ? "not offered:" : "", st);
                break;
            }
            size_t len;
            const char *body = bench_http_body(h, &len);
            matches = st == 204 ? 0 : count_json_array(body, len);
            if (i > 0) {
                bench_samples_add(&rq->s[k], secs * 1e3);
            }
        }
        if (rq->s[k].n && matches != q[qi].expected) {
            note(&rq->s[k], "%u of %u matches", matches, q[qi].expected);
        }
        free(u);
    }

    rss_mark(s, "QIDO-RS");

    /* QIDO-RS throughput, 4 connections. */
    {
        bench_row *rt =
            row(rep, "qido_tput", "QIDO-RS throughput, 4 connections", "q/s", BENCH_HIGHER);
        if (!h) {
            note(&rt->s[k], "no DICOMweb port");
        } else {
            bench_row *probe = row(rep, "qido_id", "", "", BENCH_LOWER);
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
                    note(&rt->s[k], "%u failed requests", atomic_load(&t.failed));
                }
            }
            if (probe->s[k].n == 0) {
                note(&rt->s[k], "QIDO not offered");
            }
        }
    }

    rss_mark(s, "QIDO throughput");

    /* WADO-RS: the 300-instance study, its metadata, frames and rendered images. */
    gen_study ms;
    gen_study_make(&l->w, l->meta, GEN_CT, &ms);
    char series_uid[65];
    gen_series_uid(&l->w, l->meta, 0, series_uid);
    printf("pacs-bench: [%s] WADO-RS\n", s->name);
    fflush(stdout);
    {
        bench_row *rw =
            row(rep, "wado_study", "WADO-RS whole study (300 x 512x512 CT)", "MB/s", BENCH_HIGHER);
        char url[1024];
        snprintf(url, sizeof url, "%s/studies/%s", s->web, ms.uid);
        fresh_connection(s, &h);
        for (int r = 0; h && r < c->runs; r++) {
            long st;
            uint64_t b;
            double secs;
            if (bench_http_get(h, url, "multipart/related; type=\"application/dicom\"", &st, &b,
                               &secs, &ei) != PACS_OK ||
                st != 200) {
                note(&rw->s[k], "%sHTTP %ld", http_missing(st) ? "not offered: " : "", st);
                break;
            }
            if (b < ds->meta.bytes) {
                note(&rw->s[k], "%llu of %llu bytes", (unsigned long long)b,
                     (unsigned long long)ds->meta.bytes);
            }
            bench_samples_add(&rw->s[k], (double)b / 1e6 / secs);
        }
        if (!h) {
            note(&rw->s[k], "no DICOMweb port");
        }
    }
    {
        char label[128];
        snprintf(label, sizeof label, "study /metadata, %u instances, first request",
                 c->meta_slices);
        bench_row *rc = row(rep, "metadata_first", label, "ms", BENCH_LOWER);
        snprintf(label, sizeof label, "study /metadata, %u instances, repeated", c->meta_slices);
        bench_row *rr = row(rep, "metadata", label, "ms", BENCH_LOWER);
        char url[1024];
        snprintf(url, sizeof url, "%s/studies/%s/metadata", s->web, ms.uid);
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
                note(i ? &rr->s[k] : &rc->s[k], "%sHTTP %ld",
                     http_missing(st) ? "not offered: " : "", st);
                break;
            }
            if (i == 0) {
                size_t len;
                const char *body = bench_http_body(h, &len);
                unsigned n = count_json_array(body, len);
                if (n != c->meta_slices) {
                    note(&rc->s[k], "%u of %u instances", n, c->meta_slices);
                }
            }
            bench_samples_add(i == 0 ? &rc->s[k] : &rr->s[k], secs * 1e3);
        }
        if (h) {
            bench_http_keep_body(h, 0);
        } else {
            note(&rc->s[k], "no DICOMweb port");
        }
        /* A viewer asks for frames on the connection that just carried the metadata. */
        bench_row *ra = row(rep, "frames_after_metadata",
                            "/frames/1, same connection right after /metadata", "ms", BENCH_LOWER);
        char sop[65];
        gen_instance_uid(&l->w, l->meta, 0, 0, sop);
        snprintf(url, sizeof url, "%s/studies/%s/series/%s/instances/%s/frames/1", s->web, ms.uid,
                 series_uid, sop);
        for (int i = 0; h && rr->s[k].n > 0 && i < c->reps; i++) {
            long st;
            uint64_t b;
            double secs;
            if (bench_http_get(h, url, "multipart/related; type=\"application/octet-stream\"", &st,
                               &b, &secs, &ei) != PACS_OK ||
                st != 200) {
                note(&ra->s[k], "%sHTTP %ld", http_missing(st) ? "not offered: " : "", st);
                break;
            }
            bench_samples_add(&ra->s[k], secs * 1e3);
        }
    }
    rss_mark(s, "WADO-RS study and metadata");
    for (int kind = 0; kind < 2; kind++) {
        /* frames/1 on even slices, rendered on odd ones: every "first" request is a first. */
        const char *what = kind == 0 ? "frames" : "rendered";
        char id[64], label[128];
        snprintf(id, sizeof id, "%s_cold", what);
        snprintf(label, sizeof label, "%s, first request per instance",
                 kind == 0 ? "/frames/1 (uncompressed)" : "/rendered 512x512 CT (JPEG)");
        bench_row *rc = row(rep, id, label, "ms", BENCH_LOWER);
        snprintf(id, sizeof id, "%s_cached", what);
        snprintf(label, sizeof label, "%s, repeated",
                 kind == 0 ? "/frames/1 (uncompressed)" : "/rendered 512x512 CT (JPEG)");
        bench_row *rr = row(rep, id, label, "ms", BENCH_LOWER);
        fresh_connection(s, &h);
        if (!h) {
            note(&rc->s[k], "no DICOMweb port");
            continue;
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
            snprintf(url, sizeof url, "%s/studies/%s/series/%s/instances/%s/%s", s->web, ms.uid,
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
                note(j < c->frames_n ? &rc->s[k] : &rr->s[k], "%sHTTP %ld",
                     http_missing(st) ? "not offered: " : "", st);
                ok = 0;
                break;
            }
            bench_samples_add(j < c->frames_n ? &rc->s[k] : &rr->s[k], secs * 1e3);
        }
    }
    bench_http_free(h);

    rss_mark(s, "frames and rendered");
    {
        char key[64];
        snprintf(key, sizeof key, "%s peak RSS after each phase", s->name);
        bench_report_meta(rep, key, s->rss_phases);
    }

    /* Peak memory over the whole run. */
    bench_row *rr = row(rep, "rss", "server peak RSS over the run", "MB", BENCH_LOWER);
    uint64_t rss = bench_peak_rss(s->pid);
    if (rss) {
        bench_samples_add(&rr->s[k], (double)rss / 1e6);
    }
    /* VmHWM counts mapped file pages too (an mmap'ed index), which the page cache shares. */
    bench_row *ra = row(rep, "rss_anon", "server private (anonymous) RSS at the end of the run",
                        "MB", BENCH_LOWER);
    uint64_t anon, file;
    bench_rss_split(s->pid, &anon, &file);
    if (anon) {
        bench_samples_add(&ra->s[k], (double)anon / 1e6);
    }
}

/* After the server stopped: bytes on disk and in the index, per stored instance. */
static void measure_disk(const layout *l, const dataset *ds, const server *s, const cfg *c,
                         const int *stored, bench_report *rep)
{
    (void)l;
    uint64_t n = ds->fill_files, raw = ds->fill_bytes;
    for (int r = 0; r < c->runs; r++) {
        if (stored[l->ct1 + (uint32_t)r]) {
            n += ds->ct1[r].n, raw += ds->ct1[r].bytes;
        }
        if (stored[l->ct4 + (uint32_t)r]) {
            n += ds->ct4[r].n, raw += ds->ct4[r].bytes;
        }
        if (stored[l->stow + (uint32_t)r]) {
            n += ds->stow[r].n, raw += ds->stow[r].bytes;
        }
        if (stored[l->dx + (uint32_t)r]) {
            n += ds->dx[r].n, raw += ds->dx[r].bytes;
        }
    }
    uint64_t all_alloc, all_app, idx_alloc = 0, idx_app = 0;
    if (s->kind == BENCH_ORTHANC) {
        bench_du(s->data, &all_alloc, &all_app);
        bench_du(s->index_dir, &idx_alloc, &idx_app);
    } else {
        bench_du(s->data, &all_alloc, &all_app);
        static const char *const names[] = {"index.sqlite", "index.sqlite-wal", "index.sqlite-shm"};
        for (size_t i = 0; i < 3; i++) {
            char p[3300];
            struct stat sb;
            snprintf(p, sizeof p, "%s/%s", s->data, names[i]);
            if (stat(p, &sb) == 0) {
                idx_alloc += (uint64_t)sb.st_blocks * 512;
                idx_app += (uint64_t)sb.st_size;
            }
        }
        all_alloc -= idx_alloc;
        all_app -= idx_app;
    }
    bench_row *ro =
        row(rep, "disk_objects", "object bytes on disk per instance", "KB", BENCH_LOWER);
    bench_row *ri =
        row(rep, "disk_index", "index bytes per instance (metadata included)", "KB", BENCH_LOWER);
    if (n > 0) {
        bench_samples_add(&ro->s[s->kind], (double)all_alloc / 1e3 / (double)n);
        bench_samples_add(&ri->s[s->kind], (double)idx_app / 1e3 / (double)n);
        ro->has_limit = 1;
        ro->limit = (double)raw / 1e3 / (double)n;
        snprintf(ro->limit_label, sizeof ro->limit_label, "the files sent");
    }
}

/* ---- Limits ---- */

static void measure_limits(const cfg *c, dataset *ds, bench_report *rep)
{
    char why[512];
    char log[3000];
    snprintf(log, sizeof log, "%s/run/storescp.log", c->work);
    printf("pacs-bench: machine limits\n");
    fflush(stdout);
    for (int mode = 0; mode < 2; mode++) {
        int port = bench_free_port();
        char portbuf[16];
        snprintf(portbuf, sizeof portbuf, "%d", port);
        char *argv1[] = {"storescp", "--ignore", "-aet", "STORESCP", portbuf, NULL};
        char *argv4[] = {"storescp", "--fork", "--ignore", "-aet", "STORESCP", portbuf, NULL};
        pid_t pid = bench_spawn(mode == 0 ? argv1 : argv4, log);
        if (pid < 0) {
            continue;
        }
        usleep(300000);
        server sc = {.dimse_port = port};
        snprintf(sc.aet, sizeof sc.aet, "STORESCP");
        if (wait_echo(&sc, 10) != 0) {
            bench_stop(pid, 2);
            continue;
        }
        const char *idi = mode == 0 ? "ceiling_ct_1" : "ceiling_ct_4";
        bench_samples si = {0}, sm = {0};
        files *set = mode == 0 ? ds->ct1 : ds->ct4;
        int n = mode == 0 ? 1 : 4;
        for (int r = 0; r < c->runs; r++) {
            files parts[4];
            split(&set[r], parts, n);
            double t =
                run_storescu(c, "STORESCP", port, parts, n, NULL, set[r].n, 600, why, sizeof why);
            for (int i = 0; i < n; i++) {
                files_free(&parts[i]);
            }
            if (t > 0) {
                bench_samples_add(&si, (double)set[r].n / t);
                bench_samples_add(&sm, (double)set[r].bytes / 1e6 / t);
            }
        }
        char label[128];
        snprintf(label, sizeof label, "storescu -> storescp --ignore%s, CT, %d association%s",
                 mode ? " --fork" : "", n, n > 1 ? "s" : "");
        bench_report_limit(rep, idi, label, "inst/s", &si);
        char idm[64];
        snprintf(idm, sizeof idm, "%s_mb", idi);
        bench_report_limit(rep, idm, label, "MB/s", &sm);
        bench_samples_free(&si);
        bench_samples_free(&sm);
        if (mode == 0) {
            bench_samples di = {0}, dm = {0};
            for (int r = 0; r < c->runs; r++) {
                double t = run_storescu(c, "STORESCP", port, &ds->dx[r], 1, NULL, ds->dx[r].n, 600,
                                        why, sizeof why);
                if (t > 0) {
                    bench_samples_add(&di, (double)ds->dx[r].n / t);
                    bench_samples_add(&dm, (double)ds->dx[r].bytes / 1e6 / t);
                }
            }
            bench_report_limit(rep, "ceiling_dx_1",
                               "storescu -> storescp --ignore, DX, 1 association", "inst/s", &di);
            bench_report_limit(rep, "ceiling_dx_1_mb",
                               "storescu -> storescp --ignore, DX, 1 association", "MB/s", &dm);
            bench_samples_free(&di);
            bench_samples_free(&dm);
        } else {
            const char *dirs[16];
            for (size_t i = 0; i < ds->fill_dirs.n && i < 16; i++) {
                dirs[i] = ds->fill_dirs.path[i];
            }
            bench_samples bi = {0};
            double t = run_storescu(c, "STORESCP", port, NULL, (int)ds->fill_dirs.n, dirs,
                                    ds->fill_files, 3600, why, sizeof why);
            if (t > 0) {
                bench_samples_add(&bi, (double)ds->fill_files / t);
            }
            bench_report_limit(rep, "ceiling_bulk",
                               "storescu -> storescp --ignore --fork, bulk load, 4 associations",
                               "inst/s", &bi);
            bench_samples_free(&bi);
        }
        bench_stop(pid, 5);
    }
    size_t inst_size = ds->ct1[0].n ? (size_t)(ds->ct1[0].bytes / ds->ct1[0].n) : 528000;
    char dir[3000];
    snprintf(dir, sizeof dir, "%s/run/fsync", c->work);
    pacs_errinfo ei;
    gen_mkdirs(dir, &ei);
    bench_samples f = {0}, t1 = {0}, t4 = {0}, sh = {0};
    bench_limit_fsync(dir, inst_size, strcmp(c->size, "smoke") == 0 ? 50 : 200, 3, &f);
    char label[128];
    snprintf(label, sizeof label, "create+write+fsync+close, %zu KB files", inst_size / 1000);
    bench_report_limit(rep, "fsync_files", label, "files/s", &f);
    bench_rmtree(dir);
    double mb = strcmp(c->size, "smoke") == 0 ? 200 : 2000;
    bench_limit_tcp(1, mb, 3, &t1);
    bench_report_limit(rep, "tcp_1", "loopback TCP, 1 stream", "MB/s", &t1);
    bench_limit_tcp(4, mb / 4, 3, &t4);
    bench_report_limit(rep, "tcp_4", "loopback TCP, 4 streams", "MB/s", &t4);
    bench_limit_sha256(3, &sh);
    bench_report_limit(rep, "sha256", "SHA-256 (OpenSSL), one core", "MB/s", &sh);
    bench_samples_free(&f);
    bench_samples_free(&t1);
    bench_samples_free(&t4);
    bench_samples_free(&sh);
}

/* Limits and targets beside each row, once every figure is in. */
static void attach_targets(bench_report *rep, const cfg *c)
{
    struct {
        const char *row, *limit, *label;
    } lim[] = {
        {"cstore_ct_1", "ceiling_ct_1", "storescu->storescp, 1 assoc"},
        {"cstore_ct_1_mb", "ceiling_ct_1_mb", "storescu->storescp, 1 assoc"},
        {"cstore_ct_4", "ceiling_ct_4", "storescu->storescp, 4 assoc"},
        {"cstore_ct_4_mb", "ceiling_ct_4_mb", "storescu->storescp, 4 assoc"},
        {"cstore_dx_1", "ceiling_dx_1", "storescu->storescp, 1 assoc"},
        {"cstore_dx_1_mb", "ceiling_dx_1_mb", "storescu->storescp, 1 assoc"},
        {"bulk_load", "ceiling_bulk", "storescu->storescp, 4 assoc"},
        {"stow", "fsync_files", "create+write+fsync of one file"},
        {"stow_mb", "tcp_1", "loopback TCP, 1 stream"},
        {"wado_study", "tcp_1", "loopback TCP, 1 stream"},
    };
    for (size_t i = 0; i < sizeof lim / sizeof lim[0]; i++) {
        bench_row *r = bench_report_row(rep, lim[i].row, "", "", BENCH_HIGHER);
        double v = bench_report_limit_value(rep, lim[i].limit);
        if (v > 0) {
            r->has_limit = 1;
            r->limit = v;
            snprintf(r->limit_label, sizeof r->limit_label, "%s", lim[i].label);
        }
    }
    bench_row *r;
    r = bench_report_row(rep, "cstore_ct_1", "", "", BENCH_HIGHER);
    r->target = BENCH_T_CEILING80_ORTHANC5;
    snprintf(r->target_text, sizeof r->target_text, ">= 80%% of ceiling and >= 5x Orthanc");
    r = bench_report_row(rep, "cstore_ct_4", "", "", BENCH_HIGHER);
    r->target = BENCH_T_CEILING80;
    snprintf(r->target_text, sizeof r->target_text, ">= 80%% of ceiling");
    bench_row *echo = bench_report_row(rep, "cecho", "", "", BENCH_LOWER);
    static const char *const qids[] = {"id", "name_utf8", "name_folded", "date", "uid"};
    for (size_t i = 0; i < 5; i++) {
        char id[64];
        snprintf(id, sizeof id, "cfind_%s", qids[i]);
        r = bench_report_row(rep, id, "", "", BENCH_LOWER);
        double med, mn, mx;
        if (bench_samples_stats(&echo->s[BENCH_PACSD], &med, &mn, &mx)) {
            r->has_limit = 1;
            r->limit = med;
            snprintf(r->limit_label, sizeof r->limit_label, "pacsd C-ECHO");
        }
        r->target = BENCH_T_OVER_LIMIT_LE;
        r->target_value = 2;
        snprintf(r->target_text, sizeof r->target_text, "within 2 ms of a C-ECHO");
        snprintf(id, sizeof id, "qido_%s", qids[i]);
        r = bench_report_row(rep, id, "", "", BENCH_LOWER);
        r->target = BENCH_T_ABS_LE;
        r->target_value = 2;
        snprintf(r->target_text, sizeof r->target_text, "p50 <= 2 ms");
    }
    r = bench_report_row(rep, "qido_tput", "", "", BENCH_HIGHER);
    r->target = BENCH_T_ORTHANC_X;
    r->target_value = 50;
    snprintf(r->target_text, sizeof r->target_text, ">= 50x Orthanc");
    r = bench_report_row(rep, "wado_study", "", "", BENCH_HIGHER);
    r->target = BENCH_T_LIMIT_FRACTION;
    r->target_value = 0.7;
    snprintf(r->target_text, sizeof r->target_text, ">= 70%% of loopback TCP");
    r = bench_report_row(rep, "metadata", "", "", BENCH_LOWER);
    r->target = BENCH_T_ABS_LE_ORTHANC_X;
    r->target_value = 5;
    r->target_value2 = 25;
    snprintf(r->target_text, sizeof r->target_text, "<= 5 ms and >= 25x Orthanc");
    if (c->meta_slices != 300) {
        r->target = BENCH_T_NONE;
        snprintf(r->target_text, sizeof r->target_text, "(300 instances in the full run)");
    }
    const char *abs_rows[][2] = {{"frames_cold", "0.5"},
                                 {"frames_cached", "0.5"},
                                 {"rendered_cold", "3"},
                                 {"rendered_cached", "0.5"},
                                 {"rss", "100"}};
    for (size_t i = 0; i < 5; i++) {
        r = bench_report_row(rep, abs_rows[i][0], "", "", BENCH_LOWER);
        r->target = BENCH_T_ABS_LE;
        r->target_value = atof(abs_rows[i][1]);
        snprintf(r->target_text, sizeof r->target_text, "<= %s %s", abs_rows[i][1], r->unit);
    }
    r = bench_report_row(rep, "disk_index", "", "", BENCH_LOWER);
    r->target = BENCH_T_LE_ORTHANC;
    snprintf(r->target_text, sizeof r->target_text, "<= Orthanc's");
}

/* ---- main ---- */

static void usage(FILE *f)
{
    fprintf(f, "usage: pacs-bench [options]\n"
               "  --size S        smoke, small (default, a few minutes), full (20,000 studies /\n"
               "                  60,000+ instances in the index) or huge (1,000,000 instances)\n"
               "  --work DIR      work folder: generated data (kept and reused), server data,\n"
               "                  logs, report.md, report.json (default ./bench-work)\n"
               "  --servers LIST  pacsd,orthanc (default both)\n"
               "  --orthanc MODE  install (default: apt-get install orthanc orthanc-dicomweb when\n"
               "                  missing), auto (use it if installed) or no\n"
               "  --pacsd PATH    the pacsd binary (default: next to this build's tools/)\n"
               "  --seed N        data seed (default 1)\n"
               "  --fill N        studies in the index (overrides the size)\n"
               "  --runs N        runs per ingest figure (overrides the size)\n"
               "  -j N            generator threads (default: number of CPUs)\n"
               "  --keep          keep the servers' data folders\n");
}

static void default_pacsd(char *out, size_t cap)
{
    char self[2048];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    out[0] = '\0';
    if (n <= 0) {
        return;
    }
    self[n] = '\0';
    char *slash = strrchr(self, '/');
    if (slash) {
        *slash = '\0';
    }
    /* build/bin/pacs-bench -> build/bin/pacsd */
    snprintf(out, cap, "%s/pacsd", self);
}

/* The 1-minute load average: figures from a busy machine are not comparable with others. */
static void note_load(bench_report *rep, const char *key)
{
    FILE *f = fopen("/proc/loadavg", "r");
    char buf[128] = "";
    if (f) {
        if (!fgets(buf, sizeof buf, f)) {
            buf[0] = '\0';
        }
        fclose(f);
    }
    buf[strcspn(buf, "\n")] = '\0';
    bench_report_meta(rep, key, buf);
}

static void capture_version(const char *bin, const char *arg, char *out, size_t cap,
                            const char *tmp)
{
    char *argv[] = {(char *)bin, (char *)arg, NULL};
    unlink(tmp);
    out[0] = '\0';
    if (bench_run(argv, tmp, 10) < 0) {
        return;
    }
    FILE *f = fopen(tmp, "r");
    if (f) {
        if (fgets(out, (int)cap, f)) {
            out[strcspn(out, "\n")] = '\0';
        }
        fclose(f);
    }
    unlink(tmp);
}

int main(int argc, char **argv)
{
    cfg c;
    memset(&c, 0, sizeof c);
    set_size(&c, "small");
    c.seed = 1;
    c.orthanc_mode = "install";
    c.want[BENCH_PACSD] = c.want[BENCH_ORTHANC] = 1;
    c.jobs = (int)sysconf(_SC_NPROCESSORS_ONLN);
    const char *work = "./bench-work";
    static char pacsd_buf[2200];
    default_pacsd(pacsd_buf, sizeof pacsd_buf);
    c.pacsd = pacsd_buf;
    long fill = -1, runs = -1;
    static const struct option opts[] = {
        {"size", required_argument, NULL, 's'},
        {"work", required_argument, NULL, 'w'},
        {"servers", required_argument, NULL, 'S'},
        {"orthanc", required_argument, NULL, 'o'},
        {"pacsd", required_argument, NULL, 'p'},
        {"seed", required_argument, NULL, 'e'},
        {"fill", required_argument, NULL, 'f'},
        {"runs", required_argument, NULL, 'r'},
        {"keep", no_argument, NULL, 'k'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int o;
    while ((o = getopt_long(argc, argv, "j:h", opts, NULL)) != -1) {
        switch (o) {
        case 's':
            if (set_size(&c, optarg) != 0) {
                usage(stderr);
                return 2;
            }
            break;
        case 'w':
            work = optarg;
            break;
        case 'S':
            c.want[BENCH_PACSD] = strstr(optarg, "pacsd") != NULL;
            c.want[BENCH_ORTHANC] = strstr(optarg, "orthanc") != NULL;
            break;
        case 'o':
            c.orthanc_mode = optarg;
            break;
        case 'p':
            c.pacsd = optarg;
            break;
        case 'e':
            c.seed = strtoull(optarg, NULL, 10);
            break;
        case 'f':
            fill = atol(optarg);
            break;
        case 'r':
            runs = atol(optarg);
            break;
        case 'j':
            c.jobs = atoi(optarg);
            break;
        case 'k':
            c.keep = 1;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (fill > 0) {
        c.fill_studies = (uint32_t)fill;
    }
    if (runs > 0) {
        c.runs = runs > 16 ? 16 : (int)runs;
    }
    if (strcmp(c.orthanc_mode, "install") != 0 && strcmp(c.orthanc_mode, "auto") != 0 &&
        strcmp(c.orthanc_mode, "no") != 0) {
        usage(stderr);
        return 2;
    }
    if (strcmp(c.orthanc_mode, "no") == 0) {
        c.want[BENCH_ORTHANC] = 0;
    }
    /* Nagle's algorithm off for every DCMTK process this starts, and for Orthanc. */
    setenv("TCP_NODELAY", "1", 1);
    pacs_errinfo ei;
    pacs_errinfo_clear(&ei);
    if (pacs_dcm_init(&ei) != PACS_OK) {
        fprintf(stderr, "pacs-bench: %s\n", ei.msg);
        return 1;
    }
    bench_http_global_init();
    if (gen_mkdirs(work, &ei) != PACS_OK || !realpath(work, c.work)) {
        fprintf(stderr, "pacs-bench: cannot use work folder %s\n", work);
        return 1;
    }
    snprintf(c.data, sizeof c.data, "%s/data-s%llu-f%u-m%u-h%u-t%u-r%d-d%ux%ux%u", c.work,
             (unsigned long long)c.seed, c.fill_studies, c.fill_matrix, c.hot_slices, c.meta_slices,
             c.runs, c.dx_images, c.dx_rows, c.dx_cols);
    char run_dir[2100];
    snprintf(run_dir, sizeof run_dir, "%s/run", c.work);
    bench_rmtree(run_dir);
    gen_mkdirs(run_dir, &ei);

    bench_report *rep = bench_report_new();
    if (!rep) {
        return 1;
    }
    {
        char cmd[2048] = "";
        for (int i = 0; i < argc; i++) {
            strncat(cmd, argv[i], sizeof cmd - strlen(cmd) - 2);
            strncat(cmd, " ", sizeof cmd - strlen(cmd) - 1);
        }
        bench_report_meta(rep, "command", cmd);
        bench_report_meta(rep, "size", c.size);
        char buf[512];
        time_t now = time(NULL);
        strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", gmtime(&now));
        bench_report_meta(rep, "date", buf);
        struct utsname u;
        uname(&u);
        FILE *f = fopen("/proc/cpuinfo", "r");
        char model[256] = "?";
        char line[512];
        while (f && fgets(line, sizeof line, f)) {
            if (strncmp(line, "model name", 10) == 0) {
                char *p = strchr(line, ':');
                snprintf(model, sizeof model, "%.200s", p ? p + 2 : line);
                model[strcspn(model, "\n")] = '\0';
                break;
            }
        }
        if (f) {
            fclose(f);
        }
        snprintf(buf, sizeof buf, "%ld CPUs (%s), %.1f GiB RAM, Linux %s",
                 sysconf(_SC_NPROCESSORS_ONLN), model,
                 (double)sysconf(_SC_PHYS_PAGES) * (double)sysconf(_SC_PAGESIZE) / (1 << 30),
                 u.release);
        bench_report_meta(rep, "machine", buf);
        snprintf(buf, sizeof buf,
                 "%u fill studies x %u instances (%ux%u), one %u-slice CT study, %d runs of "
                 "%u-slice CT studies and %u DX %ux%u, seed %llu",
                 c.fill_studies, c.fill_per_study, c.fill_matrix, c.fill_matrix, c.meta_slices,
                 c.runs, c.hot_slices, c.dx_images, c.dx_rows, c.dx_cols,
                 (unsigned long long)c.seed);
        bench_report_meta(rep, "data", buf);
    }

    note_load(rep, "load average at start (1, 5, 15 min)");
    layout l;
    layout_init(&l, &c);
    double t_start = bench_now();
    if (generate(&c, &l, rep) != 0) {
        bench_report_free(rep);
        return 1;
    }

    /* File lists, once. */
    dataset ds;
    memset(&ds, 0, sizeof ds);
    for (int g = 0; g < c.load_assocs; g++) {
        char p[3000];
        snprintf(p, sizeof p, "%s/fill/%d", c.data, g);
        if (file_exists(p)) {
            files tmp = {0};
            files_scan(&tmp, p);
            ds.fill_files += tmp.n;
            ds.fill_bytes += tmp.bytes;
            files_free(&tmp);
            files_add(&ds.fill_dirs, p, 0);
        }
    }
    {
        char p[3000];
        snprintf(p, sizeof p, "%s/fill/0/meta", c.data);
        files_scan(&ds.meta, p);
    }
    for (int r = 0; r < c.runs; r++) {
        char p[3000];
        snprintf(p, sizeof p, "%s/ct1-%d", c.data, r);
        files_scan(&ds.ct1[r], p);
        snprintf(p, sizeof p, "%s/ct4-%d", c.data, r);
        files_scan(&ds.ct4[r], p);
        snprintf(p, sizeof p, "%s/stow-%d", c.data, r);
        files_scan(&ds.stow[r], p);
        snprintf(p, sizeof p, "%s/dx-%d", c.data, r);
        files_scan(&ds.dx[r], p);
    }
    char buf[256];
    snprintf(buf, sizeof buf, "%zu instances in the bulk load, %zu per CT ingest run",
             ds.fill_files, ds.ct1[0].n);
    bench_report_meta(rep, "instances", buf);

    measure_limits(&c, &ds, rep);

    int *stored = calloc(l.w.n_studies, sizeof *stored);
    char vtmp[3000];
    snprintf(vtmp, sizeof vtmp, "%s/run/version.txt", c.work);
    int rc = 0;
    for (int kind = 0; kind < BENCH_NSERVERS && stored; kind++) {
        if (!c.want[kind]) {
            continue;
        }
        server s;
        memset(&s, 0, sizeof s);
        s.kind = kind;
        s.name = kind == BENCH_PACSD ? "pacsd" : "Orthanc";
        int ok;
        char ver[256];
        if (kind == BENCH_PACSD) {
            capture_version(c.pacsd, "--version", ver, sizeof ver, vtmp);
            bench_report_meta(rep, "pacsd", ver[0] ? ver : c.pacsd);
            ok = start_pacsd(&c, &s) == 0;
        } else {
            char why[256] = "";
            const char *bin = ensure_orthanc(&c, why, sizeof why);
            if (!bin) {
                printf("pacs-bench: skipping Orthanc: %s\n", why);
                bench_report_meta(rep, "orthanc", why);
                continue;
            }
            capture_version(bin, "--version", ver, sizeof ver, vtmp);
            bench_report_meta(rep, "orthanc", ver);
            ok = start_orthanc(&c, &s, bin) == 0;
        }
        if (!ok) {
            fprintf(stderr, "pacs-bench: %s did not start; see %s\n", s.name, s.log);
            bench_stop(s.pid, 5);
            rc = 1;
            continue;
        }
        printf("pacs-bench: [%s] started: DICOM port %d, HTTP port %d\n", s.name, s.dimse_port,
               s.http_port);
        memset(stored, 0, l.w.n_studies * sizeof *stored);
        measure_server(&c, &l, &ds, &s, rep, stored);
        bench_stop(s.pid, 60);
        measure_disk(&l, &ds, &s, &c, stored, rep);
        if (!c.keep) {
            bench_rmtree(s.dir);
        }
    }
    free(stored);
    note_load(rep, "load average at end (1, 5, 15 min)");
    attach_targets(rep, &c);
    snprintf(buf, sizeof buf, "%.0f s", bench_now() - t_start);
    bench_report_meta(rep, "duration", buf);
    char md[2200], js[2200];
    snprintf(md, sizeof md, "%s/report.md", c.work);
    snprintf(js, sizeof js, "%s/report.json", c.work);
    printf("\n");
    if (bench_report_write(rep, md, js, 1) != 0) {
        fprintf(stderr, "pacs-bench: cannot write %s\n", js);
        rc = 1;
    }
    printf("\npacs-bench: wrote %s and %s\n", md, js);
    for (int r = 0; r < c.runs; r++) {
        files_free(&ds.ct1[r]);
        files_free(&ds.ct4[r]);
        files_free(&ds.stow[r]);
        files_free(&ds.dx[r]);
    }
    files_free(&ds.meta);
    files_free(&ds.fill_dirs);
    bench_report_free(rep);
    return rc;
}
