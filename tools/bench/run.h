// SPDX-License-Identifier: MIT
/*
 * One run of pacs-bench, shared by its files: the run's settings (bench_main.c), the data set
 * and its file lists (data.c), storescu runs timed from their logs (scu.c), the servers under
 * test (servers.c), the queries and their expected matches (queries.c), the measurements
 * (measure.c and measure_*.c: limits, ingest, import, queries, retrieval) and the targets
 * beside each figure (targets.c). The rows of the report are created in the order the
 * measurements run, which is the order of report.md and report.json.
 *
 * Thread-safety: the main thread runs everything; only the QIDO throughput clients
 * (measure_query.c), the POST /instances clients (measure_import.c) and the copy of the
 * import limit (limits.c) run on threads of their own, each on its own part of the work.
 */
#ifndef PACS_TOOLS_BENCH_RUN_H
#define PACS_TOOLS_BENCH_RUN_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "tools/bench/bench.h"
#include "tools/bench/gen.h"

/* ---- Settings (bench_main.c) ---- */

typedef struct bench_cfg {
    const char *size;
    uint64_t seed;
    uint32_t fill_studies, fill_per_study, fill_matrix;
    uint32_t hot_slices, meta_slices;
    uint32_t dx_images, dx_rows, dx_cols;
    uint32_t import_studies, import_per_study, import_matrix; /* per import run */
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
} bench_cfg;

/* ---- The data set (data.c) ---- */

/** Sets the figures of a size ("smoke", "small", "full", "huge"); -1 for an unknown one. */
int bench_cfg_size(bench_cfg *c, const char *size);

/* The world: fill studies, then the 300-slice metadata study, then the ingest runs, then the
 * import runs (`runs` groups of import_studies small studies). */
typedef struct bench_layout {
    gen_world w;
    uint32_t meta;
    uint32_t ct1, ct4, stow, dx; /* first study of each group of `runs` */
    uint32_t import;             /* first study of the import runs */
} bench_layout;

void bench_layout_init(bench_layout *l, const bench_cfg *c);

/** Writes the data set into c->data unless a complete one is there. 0, or -1 (reported). */
int bench_generate(const bench_cfg *c, const bench_layout *l, bench_report *rep);

/** A list of files (paths owned by the list) and their total size. */
typedef struct bench_files {
    char **path;
    size_t n, cap;
    uint64_t bytes;
} bench_files;

void bench_files_add(bench_files *f, const char *path, uint64_t size);
void bench_files_free(bench_files *f);
/** Splits the files of `src` round-robin into `n` new lists. */
void bench_files_split(const bench_files *src, bench_files *out, int n);

/** The folder of import run `r` (its studies' folders are in it). */
void bench_import_dir(const bench_cfg *c, int r, char *out, size_t cap);

/** True when `path` exists. */
int bench_file_exists(const char *path);

/** What each measurement sends, listed once. */
typedef struct bench_dataset {
    bench_files fill_dirs; /* not files: the folders for bulk load */
    bench_files ct1[16], ct4[16], stow[16], dx[16];
    bench_files import[16]; /* small files, one set per import run */
    bench_files meta;
    uint64_t fill_bytes;
    size_t fill_files;
} bench_dataset;

/** Lists the generated files of every group (zeroes `ds` first). */
void bench_dataset_load(bench_dataset *ds, const bench_cfg *c);
void bench_dataset_free(bench_dataset *ds, const bench_cfg *c);

/* ---- storescu (scu.c) ---- */

/**
 * Sends `lists[0..n)` (or the folders `dirs[0..n)`, recursively) with one storescu each, in
 * parallel. Returns the seconds from the first association request to the last response, or
 * -1 (with `why`) unless exactly `expect` instances were stored successfully.
 */
double bench_storescu(const bench_cfg *c, const char *aet, int port, bench_files *lists, int n,
                      const char *const *dirs, size_t expect, double timeout_s, char *why,
                      size_t why_cap);

/* ---- Servers (servers.c) ---- */

typedef struct bench_server {
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
} bench_server;

/** Notes the server's peak RSS so far, so that the report says which phase raised it. */
void bench_server_rss_mark(bench_server *s, const char *phase);

/** Waits up to `timeout_s` for a C-ECHO to succeed: 0, or -1. */
int bench_server_wait_echo(bench_server *s, double timeout_s);

/** Starts pacsd on loopback with a fresh data folder; 0 once it answers C-ECHO, else -1. */
int bench_server_start_pacsd(const bench_cfg *c, bench_server *s);

/**
 * The command line of `bin` (pacsd, or the `pacs` tool) on pacsd's data folder with the
 * settings pacsd runs with, then `tail` (NULL-terminated), into `argv` (room for `cap`
 * pointers, borrowed from `s` and the arguments). Returns 0, or -1 when it does not fit.
 */
int bench_pacsd_argv(const bench_server *s, const char *bin, const char *const *tail, char **argv,
                     size_t cap);

/** The `pacs` tool of the same build tree as c->pacsd (the same folder). */
void bench_pacs_tool(const bench_cfg *c, char *out, size_t cap);

/** Orthanc's binary, installed with apt-get first when missing and --orthanc install allows;
 *  NULL (with `why`) when there is none. */
const char *bench_orthanc_ensure(const bench_cfg *c, char *why, size_t cap);

/** Starts Orthanc (the configuration NOTES.md gives for a fair comparison); 0 once it answers
 *  HTTP and C-ECHO, else -1. */
int bench_server_start_orthanc(const bench_cfg *c, bench_server *s, const char *bin);

/* ---- Queries (queries.c) ---- */

enum {
    BENCH_Q_PATIENT_ID,
    BENCH_Q_NAME_UTF8,
    BENCH_Q_NAME_FOLDED,
    BENCH_Q_DATE,
    BENCH_Q_UID,
    BENCH_Q_COUNT
};

typedef struct bench_query {
    const char *id;
    const char *label;
    uint32_t tag;
    char value[128];
    int fuzzy;
    unsigned expected;
} bench_query;

/** The BENCH_Q_COUNT queries into `q`, with their expected matches among the studies `stored`
 *  marks. */
void bench_queries_make(const bench_cfg *c, const bench_layout *l, const int *stored,
                        bench_query *q);

/** The QIDO-RS URL of query `qi` on `s`; the caller frees it. NULL when out of memory. */
char *bench_query_url(const bench_server *s, int qi, const bench_query *q);

/** The number of items of a JSON array body (0 for anything else). */
unsigned bench_json_array_size(const char *body, size_t len);

/* ---- Measurements (measure*.c) ---- */

/** The machine's limits: storescu -> storescp, durable writes, copying the import sets,
 *  loopback TCP, SHA-256. */
void bench_measure_limits(const bench_cfg *c, bench_dataset *ds, bench_report *rep);

/** Every figure of one server, which is running; `stored` marks the studies it stored. */
void bench_measure_server(const bench_cfg *c, const bench_layout *l, bench_dataset *ds,
                          bench_server *s, bench_report *rep, int *stored);

/** Bulk load, C-STORE on 1 and 4 associations, STOW-RS, then the import of small files
 *  (measure_ingest.c). */
void bench_measure_ingest(const bench_cfg *c, const bench_layout *l, bench_dataset *ds,
                          bench_server *s, bench_report *rep, int *stored);

/** Importing folders of small files: `pacs import` beside pacsd, one REST `POST /instances`
 *  per file into Orthanc (measure_import.c). */
void bench_measure_import(const bench_cfg *c, const bench_layout *l, bench_dataset *ds,
                          bench_server *s, bench_report *rep, int *stored);

/** The stored count, C-ECHO, C-FIND and QIDO-RS latency, QIDO-RS throughput
 *  (measure_query.c). -1 when no association could be opened (nothing after it measured). */
int bench_measure_query(const bench_cfg *c, const bench_layout *l, bench_server *s,
                        bench_report *rep, const int *stored);

/** WADO-RS: a whole study, its metadata, frames and rendered images (measure_wado.c). */
void bench_measure_wado(const bench_cfg *c, const bench_layout *l, const bench_dataset *ds,
                        bench_server *s, bench_report *rep);

/** After the server stopped: bytes on disk and in the index, per stored instance. */
void bench_measure_disk(const bench_layout *l, const bench_dataset *ds, const bench_server *s,
                        const bench_cfg *c, const int *stored, bench_report *rep);

/** Limits and targets beside each row, once every figure is in (targets.c). */
void bench_attach_targets(bench_report *rep, const bench_cfg *c);

#endif
