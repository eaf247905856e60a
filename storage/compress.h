// SPDX-License-Identifier: MIT
/*
 * Lossless compression at rest: stored instances that a rule selects (modalities, older than
 * some days) are re-encoded in JPEG-LS lossless (or HTJ2K lossless) through the one transcoder
 * (pacs/image/transcode.h), and each new object replaces the original only when it is smaller
 * and its pixels, decoded, are identical to the original's, decoded.
 *
 * For one instance, in this order: transcode into an anonymous temporary file; decode both
 * objects frame by frame and compare; store the new object (content-addressed, durable, with
 * an intent on a shared index); point the index row at it in one transaction (transfer syntax,
 * size, pixel layout, the pixel attributes of the stored metadata; the old object recorded for
 * sweeping); only then delete the original. A kill -9 at any point leaves the instance on one
 * whole object: before the switch, the new object is an orphan (`pacs verify` names it; the
 * next start after an unclean stop, or `pacs verify --sweep`, deletes it); after it, the old
 * object's sweep record makes the next start delete it. Lossy sources (JPEG 4.50/4.51, JPEG-LS
 * near-lossless, JPEG 2000 4.91, HTJ2K 4.203), images of fewer than 4096 pixels a frame,
 * objects that do not decode and objects that do not shrink are left alone.
 *
 * Load: one instance at a time on the calling thread (pacsd runs it on one background thread at
 * idle priority, `pacs compress` on its main thread), at most `rate` instances a minute.
 * Thread-safe: runs share nothing but the archive.
 */
#ifndef PACS_STORAGE_COMPRESS_H
#define PACS_STORAGE_COMPRESS_H

#include <signal.h>
#include <stdint.h>

#include "pacs/base/config.h"
#include "pacs/base/err.h"
#include "storage/archive.h"

#define PACS_COMPRESS_MAX_MODALITIES 16

/** The rule and how fast (from compress.* settings: pacs_compress_options_load). */
typedef struct pacs_compress_options {
    char ts_uid[65];                                   /* the target: 4.80 or 4.201 */
    char modalities[PACS_COMPRESS_MAX_MODALITIES][17]; /* none: every modality */
    size_t n_modalities;
    long after_days;                   /* only instances received at least this many days ago */
    long rate;                         /* at most this many instances a minute; 0: no cap */
    int dry_run;                       /* transcode and compare, but store and change nothing */
    const volatile sig_atomic_t *stop; /* non-zero: stop before the next instance (may be NULL) */
} pacs_compress_options;

/** Reads compress.syntax, compress.modalities, compress.after_days and compress.rate.
 *  PACS_EINVAL, naming the setting, for a value that makes no rule. */
pacs_err pacs_compress_options_load(const pacs_config *cfg, pacs_compress_options *o,
                                    pacs_errinfo *ei);

/** What a run did. Bytes are the objects' sizes, before and after, of those compressed (or,
 *  in a dry run, that would be). */
typedef struct pacs_compress_report {
    uint64_t examined;   /* instances with pixel data looked at */
    uint64_t compressed; /* switched to a new object (dry run: would be) */
    uint64_t skipped;    /* not selected by the rule, lossy, not smaller, not decodable */
    uint64_t failed;     /* an error stopped one instance (its original stays) */
    uint64_t bytes_before, bytes_after;
    double cpu_seconds; /* this thread's user + system time over the run */
    int64_t next_pk;    /* where the next run continues (pacs_compress_run's `from_pk`) */
} pacs_compress_report;

/** Called per instance looked at: outcome "compressed", "would compress", "skipped" or
 *  "failed", with the sizes before and after (0 when none) and why (never NULL). */
typedef void (*pacs_compress_cb)(void *ctx, const char *sop_uid, const char *outcome,
                                 uint64_t before, uint64_t after, const char *detail);

/**
 * One pass over the instances with pixel data from row `from_pk` on (0: all), compressing
 * those the rule selects; it ends at the first instance too young for the rule (instances
 * come in the order they were stored), at the end, or when `*o->stop` is set. Every instance
 * compressed adds to pacs_compress_instances_total and pacs_compress_saved_bytes_total.
 * An error about one instance counts it as failed and the pass goes on; an error returned
 * (the index unreadable) ends the pass, with `r` holding what was done.
 */
pacs_err pacs_compress_run(pacs_archive *a, const pacs_compress_options *o, int64_t from_pk,
                           pacs_compress_cb cb, void *ctx, pacs_compress_report *r,
                           pacs_errinfo *ei);

#endif
