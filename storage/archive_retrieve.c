// SPDX-License-Identifier: MIT
/*
 * What the protocols read from the archive (archive.h): queries and instance lists (the index),
 * stored objects and the ranges of their bulk data values (found by the element walker in
 * pacs/dicom, served with pread), stored metadata with absolute BulkDataURIs, Storage
 * Commitment's check, and temporary files for transcoded copies. Every QIDO, WADO, C-FIND,
 * C-MOVE and C-GET passes through here; nothing here parses a dataset.
 *
 * Thread-safe: any thread, any number at once.
 */
#define _GNU_SOURCE /* memmem */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pacs/dicom/walk.h"
#include "storage/archive_internal.h"

pacs_err pacs_archive_find(pacs_archive *a, const pacs_query *q, pacs_find_cb cb, void *ctx,
                           pacs_errinfo *ei)
{
    return pacs_index_find(a->index, q, cb, ctx, ei);
}

pacs_err pacs_archive_find_rows(pacs_archive *a, const pacs_query *q, pacs_find_row_cb cb,
                                void *ctx, pacs_errinfo *ei)
{
    return pacs_index_find_rows(a->index, q, cb, ctx, ei);
}

pacs_err pacs_archive_instances(pacs_archive *a, const pacs_query *q, unsigned flags,
                                pacs_instance_cb cb, void *ctx, pacs_errinfo *ei)
{
    return pacs_index_instances(a->index, q, flags, cb, ctx, ei);
}

pacs_err pacs_archive_stats(pacs_archive *a, pacs_index_stats *out, pacs_errinfo *ei)
{
    return pacs_index_stats_get(a->index, out, ei);
}

pacs_err pacs_archive_open_object(pacs_archive *a, const char *object, int *fd, pacs_errinfo *ei)
{
    return pacs_objstore_open_read(a->store, object, fd, ei);
}

pacs_err pacs_archive_object_path(pacs_archive *a, const char *object, char *buf, size_t cap,
                                  pacs_errinfo *ei)
{
    if (pacs_objstore_path(a->store, object, buf, cap) != PACS_OK) {
        return pacs_errf(ei, PACS_EINVAL, "bad object key '%s'", object);
    }
    return PACS_OK;
}

pacs_err pacs_archive_bulkdata_find(pacs_archive *a, const char *object, const char *path,
                                    pacs_bulk_range *out, pacs_errinfo *ei)
{
    int fd = -1;
    pacs_err err = pacs_objstore_open_read(a->store, object, &fd, ei);
    if (err != PACS_OK) {
        return err;
    }
    err = pacs_walk_find_value(fd, path, out, ei);
    close(fd);
    if (err == PACS_EBADDATA) {
        /* Every stored object parsed at ingest: one that no longer does has been damaged. */
        err = PACS_ECORRUPT;
        if (ei) {
            ei->code = err;
        }
    }
    return err;
}

pacs_err pacs_archive_metadata_append(const char *json, size_t len, const char *instance_url,
                                      pacs_buf *out, pacs_errinfo *ei)
{
    static const char key[] = "\"BulkDataURI\":\"";
    const size_t klen = sizeof key - 1;
    const char *p = json, *end = json + len;
    pacs_err err = PACS_OK;
    while (err == PACS_OK && p < end) {
        const char *hit = memmem(p, (size_t)(end - p), key, klen);
        if (!hit) {
            err = pacs_buf_append(out, p, (size_t)(end - p));
            break;
        }
        hit += klen;
        err = pacs_buf_append(out, p, (size_t)(hit - p));
        /* Absolute URIs (from an older ingest, say) are kept as they are. */
        if (err == PACS_OK &&
            !(end - hit >= 5 && (memcmp(hit, "http:", 5) == 0 || memcmp(hit, "https", 5) == 0))) {
            err = pacs_buf_puts(out, instance_url);
            if (err == PACS_OK) {
                err = pacs_buf_append(out, "/", 1);
            }
        }
        p = hit;
    }
    return err == PACS_OK ? PACS_OK : pacs_errf(ei, err, "metadata too large");
}

/* ---- Storage commitment ---- */

typedef struct commit_lookup {
    int found;
    char sop_class[PACS_UID_MAX + 1];
    char object[PACS_OBJECT_KEY_LEN + 1];
} commit_lookup;

static int commit_cb(void *ctx, const pacs_instance_rec *rec)
{
    commit_lookup *l = ctx;
    l->found = 1;
    snprintf(l->sop_class, sizeof l->sop_class, "%s", rec->sop_class);
    snprintf(l->object, sizeof l->object, "%s", rec->object);
    return 1;
}

pacs_err pacs_archive_commit_check(pacs_archive *a, const char *sop_class, const char *sop_uid,
                                   pacs_errinfo *ei)
{
    if (!pacs_uid_valid(sop_uid)) {
        return pacs_errf(ei, PACS_ENOTFOUND, "'%s' is not a valid SOP Instance UID", sop_uid);
    }
    pacs_query *q = pacs_query_new(PACS_LEVEL_INSTANCE);
    if (!q) {
        return pacs_errf(ei, PACS_ENOMEM, "out of memory");
    }
    commit_lookup l;
    memset(&l, 0, sizeof l);
    pacs_err err = pacs_query_add(q, 0x00080018u, "UI", sop_uid, ei);
    if (err == PACS_OK) {
        err = pacs_index_instances(a->index, q, 0, commit_cb, &l, ei);
    }
    pacs_query_free(q);
    if (err != PACS_OK) {
        return err;
    }
    if (!l.found) {
        return pacs_errf(ei, PACS_ENOTFOUND, "SOP instance %s is not stored", sop_uid);
    }
    if (strcmp(l.sop_class, sop_class) != 0) {
        return pacs_errf(ei, PACS_ECONFLICT, "SOP instance %s is stored as class %s, not %s",
                         sop_uid, l.sop_class, sop_class);
    }
    uint64_t size = 0;
    err = pacs_objstore_verify(a->store, l.object, &size, ei);
    if (err == PACS_ENOTFOUND) {
        return pacs_errf(ei, PACS_ECORRUPT, "the object of %s is missing", sop_uid);
    }
    return err;
}

pacs_err pacs_archive_temp_fd(pacs_archive *a, int *fd, pacs_errinfo *ei)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/tmp/xfer-XXXXXX", a->data_dir);
    int f = mkstemp(path);
    if (f < 0) {
        return pacs_errf(ei, pacs_err_from_errno(errno), "temporary file in %s/tmp: %s",
                         a->data_dir, strerror(errno));
    }
    unlink(path);
    fcntl(f, F_SETFD, FD_CLOEXEC);
    *fd = f;
    return PACS_OK;
}
