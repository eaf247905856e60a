// SPDX-License-Identifier: MIT
/*
 * Metrics: the counters, gauges and histograms that every floor of the tree updates (DIMSE,
 * DICOMweb, the archive, images) and that pacsd serves at /metrics in the Prometheus text
 * exposition format (version 0.0.4). Every metric is declared once in PACS_METRICS below, with
 * its name, type, fixed labels and help text, the way the errors are (err.h): a module counts
 * with `pacs_metrics_add(PACS_M_..., 1)` and needs nothing else. Two kinds of labels exist:
 * fixed ones written in the list (protocol="dimse"), and labels known only at run time (a
 * calling AE title, an HTTP route and status), counted with pacs_metrics_add_labeled into a
 * bounded table. Values that are cheaper to read when asked than to keep up to date (free
 * space, index size, counts in the index) come from collectors registered at start-up.
 *
 * Load: an update is one relaxed atomic add on a process-wide array (no lock, no allocation),
 * so counting on hot paths (every C-STORE, every HTTP request) costs nanoseconds; a labeled
 * update adds a hash and a string comparison. Rendering walks everything once per scrape.
 *
 * Thread-safety: every function may be called from any thread at any time; collectors are
 * registered and removed under a mutex that rendering also takes.
 */
#ifndef PACS_BASE_METRICS_H
#define PACS_BASE_METRICS_H

#include <stddef.h>
#include <stdint.h>

#include "pacs/base/buf.h"
#include "pacs/base/err.h"

#ifdef __cplusplus
extern "C" {
#endif

/* X(id, type, name, fixed labels, help): entries of one name must be adjacent; the first one's
 * help text is the family's. LABELED entries take their labels at each update. */
#define PACS_METRICS(X)                                                                            \
    X(PACS_M_ASSOC_ACTIVE, GAUGE, "pacs_dimse_associations_active", "",                            \
      "DIMSE associations being served now")                                                       \
    X(PACS_M_ASSOCIATIONS, LABELED, "pacs_dimse_associations_total", "",                           \
      "DIMSE associations accepted, by calling AE title")                                          \
    X(PACS_M_ASSOC_REJECTED, COUNTER, "pacs_dimse_associations_rejected_total", "",                \
      "DIMSE associations refused (negotiation, access control, dimse.max_associations)")          \
    X(PACS_M_STORED_DIMSE, COUNTER, "pacs_instances_stored_total", "protocol=\"dimse\"",           \
      "instances stored durably and acknowledged")                                                 \
    X(PACS_M_STORED_STOW, COUNTER, "pacs_instances_stored_total", "protocol=\"stow\"", "")         \
    X(PACS_M_BYTES_DIMSE, COUNTER, "pacs_stored_bytes_total", "protocol=\"dimse\"",                \
      "bytes received for instances stored (their datasets as sent)")                              \
    X(PACS_M_BYTES_STOW, COUNTER, "pacs_stored_bytes_total", "protocol=\"stow\"", "")              \
    X(PACS_M_STORE_FAILED_DIMSE, COUNTER, "pacs_store_failures_total", "protocol=\"dimse\"",       \
      "instances refused or not stored")                                                           \
    X(PACS_M_STORE_FAILED_STOW, COUNTER, "pacs_store_failures_total", "protocol=\"stow\"", "")     \
    X(PACS_M_STORE_SECONDS_DIMSE, HISTOGRAM, "pacs_store_duration_seconds", "protocol=\"dimse\"",  \
      "time from an instance's first byte to its durable index commit")                            \
    X(PACS_M_STORE_SECONDS_STOW, HISTOGRAM, "pacs_store_duration_seconds", "protocol=\"stow\"",    \
      "")                                                                                          \
    X(PACS_M_WATERMARK_REFUSED, COUNTER, "pacs_store_refused_low_space_total", "",                 \
      "stores refused because free space was below storage.free_min (the high watermark)")         \
    X(PACS_M_QUEUE_INDEX, GAUGE, "pacs_queue_depth", "queue=\"index_writes\"",                     \
      "work waiting in a queue: index writes for the group commit, objects waiting for their "     \
      "file system flush")                                                                         \
    X(PACS_M_QUEUE_SYNC, GAUGE, "pacs_queue_depth", "queue=\"object_syncs\"", "")                  \
    X(PACS_M_INDEX_COMMITS, COUNTER, "pacs_index_commits_total", "",                               \
      "transactions of the index writer (each may hold many stores)")                              \
    X(PACS_M_FORWARD_SENT, COUNTER, "pacs_forward_sent_total", "",                                 \
      "instances forwarded and confirmed by their destination")                                    \
    X(PACS_M_FORWARD_FAILED, COUNTER, "pacs_forward_failures_total", "",                           \
      "forwarding tries that failed (each is retried until forward.max_attempts)")                 \
    X(PACS_M_HTTP_REQUESTS, LABELED, "pacs_http_requests_total", "",                               \
      "HTTP requests answered, by route and status code")                                          \
    X(PACS_M_IMAGE_CACHE_HIT, COUNTER, "pacs_image_cache_requests_total", "result=\"hit\"",        \
      "lookups in the cache of rendered and transcoded images")                                    \
    X(PACS_M_IMAGE_CACHE_MISS, COUNTER, "pacs_image_cache_requests_total", "result=\"miss\"", "")  \
    X(PACS_M_COMPRESS_INSTANCES, COUNTER, "pacs_compress_instances_total", "",                     \
      "instances compression at rest switched to a smaller lossless object")                       \
    X(PACS_M_COMPRESS_SAVED, COUNTER, "pacs_compress_saved_bytes_total", "",                       \
      "bytes compression at rest saved (original objects' sizes minus their replacements')")

#define PACS_METRIC_ENUM_(id, type, name, labels, help) id,
typedef enum pacs_metric { PACS_METRICS(PACS_METRIC_ENUM_) PACS_METRIC_COUNT_ } pacs_metric;
#undef PACS_METRIC_ENUM_

/** Adds `n` to a counter or gauge. */
void pacs_metrics_add(pacs_metric m, uint64_t n);

/** Subtracts `n` from a gauge. */
void pacs_metrics_sub(pacs_metric m, uint64_t n);

/** Sets a gauge. */
void pacs_metrics_set(pacs_metric m, int64_t value);

/** Counts one observation of `seconds` in a histogram (buckets from 1 ms to 10 s). */
void pacs_metrics_observe(pacs_metric m, double seconds);

/**
 * Adds `n` to a LABELED metric's sample for `labels`, the label pairs as they appear between
 * the braces (`route="qido",code="200"`; values escaped with pacs_metrics_label). The table
 * holds PACS_METRICS_LABELED_MAX label sets for all such metrics together; once it is full
 * (or `labels` is longer than 160 bytes) new sets are counted under `overflow="true"`.
 */
void pacs_metrics_add_labeled(pacs_metric m, const char *labels, uint64_t n);

#define PACS_METRICS_LABELED_MAX 512

/** Writes `name="value"` into `buf` with the value escaped as the format requires (backslash,
 *  double quote, newline); truncated to fit. Returns `buf`. */
char *pacs_metrics_label(char *buf, size_t cap, const char *name, const char *value);

/** Seconds on the monotonic clock, for measuring durations. */
double pacs_metrics_now(void);

/**
 * A collector writes families that are read when asked (free space, index size) into `out`
 * with pacs_metrics_family and pacs_metrics_sample. Called with the registry's mutex held, on
 * the scraping thread; it must not register or remove collectors.
 */
typedef void (*pacs_metrics_collect_fn)(void *ctx, pacs_buf *out);

/** Adds a collector (at most 16). PACS_ETOOBIG when there is no room. */
pacs_err pacs_metrics_add_collector(pacs_metrics_collect_fn fn, void *ctx, pacs_errinfo *ei);

/** Removes the collector added with the same `fn` and `ctx`; returns once no scrape runs it. */
void pacs_metrics_remove_collector(pacs_metrics_collect_fn fn, void *ctx);

/** Writes a family's HELP and TYPE lines (`type`: "gauge", "counter"). */
void pacs_metrics_family(pacs_buf *out, const char *name, const char *type, const char *help);

/** Writes one sample line; `labels` may be NULL or "". */
void pacs_metrics_sample(pacs_buf *out, const char *name, const char *labels, double value);

/**
 * Renders every metric, then the process's own (CPU time, resident memory, open files, start
 * time), then every collector's families, in the text format. PACS_ETOOBIG when `out` is full.
 */
pacs_err pacs_metrics_render(pacs_buf *out);

/** Clears every value and label set (for tests). */
void pacs_metrics_reset(void);

#ifdef __cplusplus
}
#endif

#endif
