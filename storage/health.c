// SPDX-License-Identifier: MIT
/*
 * Readiness and the archive's gauges (health.h). Thread-safe: no state of its own.
 */
#include "storage/health.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pacs/base/log.h"
#include "pacs/base/metrics.h"

#define TAG_STUDY_UID 0x0020000Du

static int count_match(void *ctx, const json_t *result)
{
    (void)result;
    (*(int *)ctx)++;
    return 1;
}

/* The index answers a query: one by a Study Instance UID that no study has (an indexed
 * lookup that costs the same however large the index is). */
static pacs_err index_answers(pacs_archive *a, pacs_errinfo *ei)
{
    pacs_query *q = pacs_query_new(PACS_LEVEL_STUDY);
    if (!q) {
        return pacs_errf(ei, PACS_ENOMEM, "out of memory");
    }
    int n = 0;
    pacs_errinfo sub;
    pacs_err err = pacs_query_add(q, TAG_STUDY_UID, NULL, "0.0", &sub);
    if (err == PACS_OK) {
        err = pacs_archive_find(a, q, count_match, &n, &sub);
    }
    pacs_query_free(q);
    if (err != PACS_OK) {
        return pacs_errf(ei, err, "the index does not answer: %s", sub.msg);
    }
    return PACS_OK;
}

/* The data folder takes a write: a byte in an anonymous temporary file of DATA/tmp. */
static pacs_err folder_writable(pacs_archive *a, pacs_errinfo *ei)
{
    int fd = -1;
    pacs_errinfo sub;
    pacs_err err = pacs_archive_temp_fd(a, &fd, &sub);
    if (err != PACS_OK) {
        return pacs_errf(ei, err, "the data folder cannot be written: %s", sub.msg);
    }
    ssize_t n = write(fd, "", 1);
    int e = errno;
    close(fd);
    if (n != 1) {
        return pacs_errf(ei, pacs_err_from_errno(e), "the data folder cannot be written: %s",
                         strerror(e));
    }
    return PACS_OK;
}

pacs_err pacs_health_ready(pacs_archive *a, pacs_errinfo *ei)
{
    pacs_err err = index_answers(a, ei);
    if (err == PACS_OK) {
        err = folder_writable(a, ei);
    }
    if (err != PACS_OK) {
        return err;
    }
    pacs_space_info fs[PACS_SPACE_MAX];
    size_t n = pacs_space_check(pacs_archive_space(a), fs, PACS_SPACE_MAX);
    for (size_t i = 0; i < n; i++) {
        if (fs[i].level == PACS_SPACE_REFUSE) {
            return pacs_errf(ei, PACS_ENOSPC,
                             "free space on %s is below storage.free_min: stores are refused",
                             fs[i].path);
        }
    }
    return PACS_OK;
}

/* ---- the gauges ---- */

static void gauge(pacs_buf *out, const char *name, const char *help, double v)
{
    pacs_metrics_family(out, name, "gauge", help);
    pacs_metrics_sample(out, name, NULL, v);
}

static void archive_counts(pacs_archive *a, pacs_buf *out)
{
    pacs_index_stats st;
    pacs_errinfo ei;
    if (pacs_archive_stats(a, &st, &ei) != PACS_OK) {
        pacs_log(PACS_LOG_DEBUG, "metrics", "archive counts: %s", ei.msg);
        return;
    }
    gauge(out, "pacs_archive_patients", "patients in the index", (double)st.patients);
    gauge(out, "pacs_archive_studies", "studies in the index", (double)st.studies);
    gauge(out, "pacs_archive_series", "series in the index", (double)st.series);
    gauge(out, "pacs_archive_instances", "instances in the index", (double)st.instances);
    gauge(out, "pacs_archive_object_bytes", "bytes of the objects the index refers to",
          (double)st.object_bytes);
}

static uint64_t file_size(const char *dir, const char *name)
{
    char path[4200];
    struct stat st;
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
}

static void index_size(pacs_archive *a, pacs_buf *out)
{
    if (strcmp(pacs_archive_index_backend(a), "sqlite") != 0) {
        return; /* PostgreSQL's size is its server's to report */
    }
    const char *data = pacs_archive_data_dir(a);
    uint64_t n = file_size(data, "index.sqlite") + file_size(data, "index.sqlite-wal");
    gauge(out, "pacs_index_size_bytes", "size of the SQLite index file and its write-ahead log",
          (double)n);
}

static void forward_queue(pacs_archive *a, pacs_buf *out)
{
    uint64_t pending = 0, failed = 0;
    pacs_errinfo ei;
    if (pacs_archive_forward_depth(a, &pending, &failed, &ei) != PACS_OK) {
        pacs_log(PACS_LOG_DEBUG, "metrics", "forwarding queue: %s", ei.msg);
        return;
    }
    pacs_metrics_family(out, "pacs_forward_queue", "gauge",
                        "forwarding queue entries: pending (waiting for a try or a retry) and "
                        "failed (given up; pacs forward retry queues them again)");
    pacs_metrics_sample(out, "pacs_forward_queue", "state=\"pending\"", (double)pending);
    pacs_metrics_sample(out, "pacs_forward_queue", "state=\"failed\"", (double)failed);
}

static void disks(pacs_archive *a, pacs_buf *out)
{
    pacs_space_info fs[PACS_SPACE_MAX];
    size_t n = pacs_space_check(pacs_archive_space(a), fs, PACS_SPACE_MAX);
    static const struct {
        const char *name, *help;
    } families[] = {
        {"pacs_disk_size_bytes", "size of a file system the archive writes to"},
        {"pacs_disk_free_bytes", "free space pacsd may still use on it"},
        {"pacs_disk_free_warn_bytes", "storage.free_warn in bytes: a warning below it"},
        {"pacs_disk_free_min_bytes", "storage.free_min in bytes: stores are refused below it"},
        {"pacs_disk_space_level", "0 enough space, 1 below storage.free_warn (warning), 2 below "
                                  "storage.free_min (stores refused)"},
    };
    for (size_t f = 0; f < sizeof families / sizeof families[0] && n > 0; f++) {
        pacs_metrics_family(out, families[f].name, "gauge", families[f].help);
        for (size_t i = 0; i < n; i++) {
            const double v[] = {(double)fs[i].size, (double)fs[i].avail, (double)fs[i].warn_below,
                                (double)fs[i].refuse_below, (double)fs[i].level};
            char label[600];
            pacs_metrics_sample(out, families[f].name,
                                pacs_metrics_label(label, sizeof label, "path", fs[i].path), v[f]);
        }
    }
}

void pacs_health_collect(void *archive, pacs_buf *out)
{
    pacs_archive *a = archive;
    archive_counts(a, out);
    index_size(a, out);
    forward_queue(a, out);
    disks(a, out);
}
