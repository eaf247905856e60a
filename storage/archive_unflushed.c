// SPDX-License-Identifier: MIT
/*
 * One flush per instance (index.h, "Puts the object store's flush makes durable"): whether this
 * archive may use it, and putting right the rows whose object did not become durable: after a
 * flush that failed, and at the start after a power cut (or a kill: the same check, which then
 * finds every object whole). Such a row was never acknowledged, so it is dropped; when its put
 * had replaced an earlier version of the instance, that version (still on disk: it is swept
 * only after the flush) is indexed again.
 *
 * Load: a few rows at start-up after an unclean stop, each object rehashed once. Thread-safe as
 * the index and the object store are.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "pacs/base/log.h"
#include "storage/archive_internal.h"

int pacs_archive__one_flush_possible(pacs_archive *a, const char *index_path, const char *objects)
{
    struct stat si, so;
    return pacs_index_defers_flush(a->index) && stat(index_path, &si) == 0 &&
           stat(objects, &so) == 0 && si.st_dev == so.st_dev;
}

/* Indexes the earlier version `old` again, as stored (its origin is not known any more). */
static pacs_err restore(pacs_archive *a, const char *old, pacs_errinfo *ei)
{
    char path[4096];
    uint64_t size = 0;
    pacs_err err = pacs_objstore_verify(a->store, old, &size, ei);
    if (err == PACS_OK) {
        err = pacs_objstore_path(a->store, old, path, sizeof path);
    }
    if (err != PACS_OK) {
        return err;
    }
    pacs_dcm_parsed parsed;
    pacs_index_entry e;
    uint8_t *layout = NULL;
    err = pacs_archive__parse_for_index(path, old, size, "", &parsed, &e, &layout, ei);
    if (err == PACS_OK) {
        e.id_systems = (const char(*)[17])a->id_systems;
        e.n_id_systems = a->n_id_systems;
        pacs_put_result put;
        err = pacs_index_put(a->index, &e, &put, ei);
        pacs_dcm_parsed_clear(&parsed);
        free(layout);
    }
    return err;
}

void pacs_archive__unflushed_undo(pacs_archive *a, const char *object, const char *old)
{
    pacs_errinfo ei;
    uint64_t n = 0;
    if (pacs_index_drop_object(a->index, object, old, &n, &ei) != PACS_OK) {
        pacs_log(PACS_LOG_ERROR, "archive",
                 "object=%s did not reach the disk, and its rows stay: %s", object, ei.msg);
        return;
    }
    pacs_log(PACS_LOG_WARN, "archive",
             "object=%s did not reach the disk: %llu instance row(s) removed", object,
             (unsigned long long)n);
    if (old[0]) {
        if (restore(a, old, &ei) == PACS_OK) {
            pacs_log(PACS_LOG_WARN, "archive",
                     "object=%s: the version it replaced (object=%s) is indexed again", object,
                     old);
        } else {
            pacs_log(PACS_LOG_ERROR, "archive",
                     "object=%s: the version it replaced (object=%s) cannot be indexed again: %s",
                     object, old, ei.msg);
        }
    }
    pacs_archive__sweep_object(a, object);
}

typedef struct record {
    int64_t id;
    char object[PACS_OBJECT_KEY_LEN + 1], old[PACS_OBJECT_KEY_LEN + 1];
} record;

typedef struct records {
    record *v;
    size_t n, cap;
} records;

static int collect(void *ctx, int64_t id, const char *object, const char *old)
{
    records *rs = ctx;
    if (rs->n == rs->cap) {
        size_t cap = rs->cap ? rs->cap * 2 : 64;
        record *v = realloc(rs->v, cap * sizeof *v);
        if (!v) {
            return 1;
        }
        rs->v = v;
        rs->cap = cap;
    }
    record *r = &rs->v[rs->n++];
    r->id = id;
    snprintf(r->object, sizeof r->object, "%s", object);
    snprintf(r->old, sizeof r->old, "%s", old ? old : "");
    return 0;
}

void pacs_archive__recover_unflushed(pacs_archive *a)
{
    records rs = {0};
    pacs_errinfo ei;
    if (pacs_index_unflushed(a->index, collect, &rs, &ei) != PACS_OK) {
        pacs_log(PACS_LOG_WARN, "archive", "reading the unflushed puts failed: %s", ei.msg);
        free(rs.v);
        return;
    }
    size_t bad = 0;
    for (size_t i = 0; i < rs.n; i++) {
        if (pacs_objstore_verify(a->store, rs.v[i].object, NULL, NULL) != PACS_OK) {
            pacs_archive__unflushed_undo(a, rs.v[i].object, rs.v[i].old);
            bad++;
        }
    }
    if (rs.n > 0) {
        /* All of them, with those the undos recorded: this durable commit carries the undos. */
        if (pacs_index_unflushed_clear(a->index, INT64_MAX, &ei) != PACS_OK) {
            pacs_log(PACS_LOG_WARN, "archive", "forgetting the unflushed puts failed: %s", ei.msg);
        }
        pacs_log(bad ? PACS_LOG_WARN : PACS_LOG_INFO, "archive",
                 "checked %zu instance(s) stored just before the last stop: %zu had not reached"
                 " the disk and were removed",
                 rs.n, bad);
    }
    free(rs.v);
}
