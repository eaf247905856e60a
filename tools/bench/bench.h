// SPDX-License-Identifier: MIT
/*
 * Shared pieces of pacs-bench, the benchmark of issue 6: child processes (servers and DCMTK
 * tools), sample statistics, the report, a DIMSE client (C-ECHO, C-FIND over pacs/dicom/msg.h),
 * an HTTP client (libcurl) and the machine's limits. The benchmark talks to a PACS only through
 * DIMSE and DICOMweb, so the same code measures pacsd and Orthanc.
 *
 * Load: none of this is on a server's path; clients are written to add as little as possible
 * to what they time (one association or keep-alive connection reused, bodies prepared before
 * the clock starts). Thread-safety: a bench_http or bench_dimse handle belongs to one thread;
 * the report is filled from the main thread only.
 */
#ifndef PACS_TOOLS_BENCH_H
#define PACS_TOOLS_BENCH_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "pacs/base/err.h"

/* ---- Time and processes (proc.c) ---- */

/** Monotonic seconds. */
double bench_now(void);

/**
 * Starts `argv[0]` (searched in PATH) with stdout and stderr appended to `log_path` (or
 * /dev/null when NULL), in its own process group. Returns the pid, or -1.
 */
pid_t bench_spawn(char *const argv[], const char *log_path);

/** Waits up to `timeout_s` for `pid`; kills its group on timeout. Returns the exit status
 *  (0..255), 128+signal, or -1 on timeout. */
int bench_wait(pid_t pid, double timeout_s);

/** SIGTERM to the group, then SIGKILL after `grace_s`; reaps it. */
void bench_stop(pid_t pid, double grace_s);

/** Runs a command to completion (bounded), returning bench_wait()'s result. */
int bench_run(char *const argv[], const char *log_path, double timeout_s);

/** A TCP port on 127.0.0.1 that was free a moment ago, or 0. */
int bench_free_port(void);

/** Peak resident set size (VmHWM) of `pid` in bytes, or 0 when unknown. */
uint64_t bench_peak_rss(pid_t pid);

/** Current anonymous (private) and file-backed (mapped files, shared with the page cache)
 *  resident bytes of `pid` (RssAnon, RssFile); 0 when unknown. */
void bench_rss_split(pid_t pid, uint64_t *anon, uint64_t *file);

/** Allocated bytes (st_blocks) and apparent bytes of every regular file under `path`. */
void bench_du(const char *path, uint64_t *allocated, uint64_t *apparent);

/** rm -rf `path` (only paths under the benchmark's work folder are ever given). */
void bench_rmtree(const char *path);

/* ---- Samples and the report (report.c) ---- */

typedef struct bench_samples {
    double *v;
    size_t n, cap;
    char note[160]; /* why a figure is missing, or a remark on it ("3 of 5 matches") */
} bench_samples;

void bench_samples_add(bench_samples *s, double v);
void bench_samples_free(bench_samples *s);
/** Adds to a figure's note, once: a later note (a count check) must not hide an earlier one
 *  (why a run failed). The note is cut at its capacity. */
void bench_samples_note(bench_samples *s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/** Median, min and max; returns 0 when there are no samples. */
int bench_samples_stats(const bench_samples *s, double *median, double *min, double *max);

enum { BENCH_PACSD = 0, BENCH_ORTHANC = 1, BENCH_NSERVERS = 2 };

typedef enum bench_better { BENCH_HIGHER = 0, BENCH_LOWER = 1 } bench_better;

typedef enum bench_target {
    BENCH_T_NONE = 0,
    BENCH_T_CEILING80_ORTHANC5, /* >= 80% of the limit and >= 5x Orthanc */
    BENCH_T_CEILING80,          /* >= 80% of the limit */
    BENCH_T_ABS_LE,             /* median <= target_value */
    BENCH_T_OVER_LIMIT_LE,      /* median - limit <= target_value (C-FIND vs C-ECHO) */
    BENCH_T_ORTHANC_X,          /* >= target_value x Orthanc */
    BENCH_T_LIMIT_FRACTION,     /* >= target_value x the limit */
    BENCH_T_ABS_LE_ORTHANC_X,   /* <= target_value and >= target_value2 x Orthanc */
    BENCH_T_LE_ORTHANC,         /* <= Orthanc */
    BENCH_T_ABS_GE              /* median >= target_value */
} bench_target;

typedef struct bench_row {
    char id[48];
    char label[96];
    char unit[16];
    bench_better better;
    bench_samples s[BENCH_NSERVERS];
    int has_limit;
    double limit;
    char limit_label[64];
    bench_target target;
    double target_value, target_value2;
    char target_text[96];
} bench_row;

typedef struct bench_report bench_report;

bench_report *bench_report_new(void);
void bench_report_free(bench_report *r);

/** Adds (or returns the existing) row `id`; the pointer stays valid until the report is freed. */
bench_row *bench_report_row(bench_report *r, const char *id, const char *label, const char *unit,
                            bench_better better);

/** Records a machine limit (also printed in its own table). */
void bench_report_limit(bench_report *r, const char *id, const char *label, const char *unit,
                        const bench_samples *s);
/** Median of a recorded limit, or 0. */
double bench_report_limit_value(const bench_report *r, const char *id);

/** Free-form facts for the JSON and the header (command, sizes, versions). */
void bench_report_meta(bench_report *r, const char *key, const char *value);

/** Writes the Markdown report to `md` and the JSON report to `json_path`. */
int bench_report_write(const bench_report *r, const char *md_path, const char *json_path,
                       int print);

/* ---- DIMSE client (dimse_client.c) ---- */

typedef struct bench_dimse bench_dimse;

/** Opens an association proposing Verification and Study Root C-FIND to `aet`@127.0.0.1:`port`;
 *  fails unless Verification is accepted (C-FIND may be refused: storescp refuses it). */
pacs_err bench_dimse_open(const char *aet, int port, bench_dimse **out, pacs_errinfo *ei);
void bench_dimse_close(bench_dimse *d);
/** One C-ECHO round trip. */
pacs_err bench_dimse_echo(bench_dimse *d, pacs_errinfo *ei);

/** A STUDY-level C-FIND with one matching key (`key_tag` = `value`); returns the number of
 *  matches in `*matches`. */
pacs_err bench_dimse_find_study(bench_dimse *d, uint32_t key_tag, const char *value,
                                unsigned *matches, pacs_errinfo *ei);

typedef struct pacs_ds pacs_ds;

/** A Modality Worklist C-FIND with the identifier `q`; the number of items in `*matches`. */
pacs_err bench_dimse_find_worklist(bench_dimse *d, const pacs_ds *q, unsigned *matches,
                                   pacs_errinfo *ei);

/* ---- HTTP client (http.c) ---- */

typedef struct bench_http bench_http;

bench_http *bench_http_new(void);
void bench_http_free(bench_http *h);

/** Sets to keep up to `cap` bytes of the next bodies (0: count bytes only). */
void bench_http_keep_body(bench_http *h, size_t cap);

/**
 * GET `url` with `accept` (NULL for none). `*status` gets the HTTP status (0 when the server
 * could not be reached), `*bytes` the body length, `*secs` the time to the last byte.
 */
pacs_err bench_http_get(bench_http *h, const char *url, const char *accept, long *status,
                        uint64_t *bytes, double *secs, pacs_errinfo *ei);

/** POST `len` bytes of `body` with `content_type`, asking for `accept` (NULL for none); same
 *  outputs as bench_http_get. */
pacs_err bench_http_post(bench_http *h, const char *url, const char *content_type,
                         const char *accept, const void *body, size_t len, long *status,
                         double *secs, pacs_errinfo *ei);

/** The kept body of the last request (NUL-terminated) and its length. */
const char *bench_http_body(const bench_http *h, size_t *len);

/** True when an HTTP status says the server does not offer a resource (404, 405, 501) or
 *  could not be reached (0). */
int bench_http_missing(long status);

/** Percent-encodes a query value; the caller frees the result. */
char *bench_http_escape(const char *s);

/** One-time libcurl set-up, before threads start. */
void bench_http_global_init(void);

/* ---- Machine limits (limits.c) ---- */

/** Create+write+fsync+close of `n` files of `size` bytes in `dir`: files/s samples. */
void bench_limit_fsync(const char *dir, size_t size, int n, int runs, bench_samples *files_s);

/**
 * Copies the files `paths[0..n)`, all under the folder `src_root`, into the new folder `dest`
 * with the same layout, on `threads` threads (each file read whole, then created, written and
 * closed), then flushes the file system once (syncfs). Adds one files/s sample when every file
 * was copied; files larger than 1 MiB are not expected.
 */
void bench_limit_copy(char *const *paths, size_t n, const char *src_root, const char *dest,
                      int threads, bench_samples *files_s);

/** Loopback TCP throughput with `streams` parallel connections: MB/s samples. */
void bench_limit_tcp(int streams, double mb_per_stream, int runs, bench_samples *mb_s);

/** SHA-256 throughput on one core: MB/s samples. */
void bench_limit_sha256(int runs, bench_samples *mb_s);

#endif
