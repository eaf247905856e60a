// SPDX-License-Identifier: MIT
/*
 * The index's part of compression at rest (storage/compress.h), for both backends: listing the
 * instances with pixel data in row order, and pointing one instance at its re-encoded object in
 * one transaction (transfer syntax, size, pixel layout, the pixel attributes of its stored
 * metadata), recording the old object for sweeping in the same transaction, so that a crash
 * anywhere leaves the instance on one whole object or the other.
 *
 * Load: one read per batch of candidates, one writer job per instance compressed (a background
 * job at a capped rate). Thread-safe as the index is: the swap runs on the writer thread.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pacs/base/buf.h"
#include "storage/index_core.h"

typedef struct cand_job {
    int64_t after_pk;
    size_t limit;
    pacs_candidate_cb cb;
    void *ctx;
} cand_job;

static void copy_col(pacs_index *idx, pacs_db_stmt *st, int col, char *dst, size_t cap)
{
    size_t n = 0;
    const char *v = idx->db->column(st, col, &n);
    snprintf(dst, cap, "%s", v ? v : "");
}

static pacs_err do_candidates(pacs_index *idx, pacs_db *db, void *ctx, pacs_errinfo *ei)
{
    cand_job *j = ctx;
    pacs_db_stmt *st = pacs_index__stmt(
        idx, db, PACS_SQL_COMPRESS_CANDIDATES,
        "SELECT i.pk, s.study_uid, se.series_uid, i.sop_uid, i.ts, i.object, i.size,"
        " coalesce(se.modality, ''), coalesce(i.received, '') FROM instances i"
        " JOIN series se ON i.series_pk=se.pk JOIN studies s ON se.study_pk=s.pk"
        " WHERE i.pk > $1 AND coalesce(length(i.pixels), 0) > 0 ORDER BY i.pk LIMIT $2",
        ei);
    if (!st) {
        return ei ? ei->code : PACS_EDB;
    }
    idx->db->bind_int(st, 1, (long long)j->after_pk);
    idx->db->bind_int(st, 2, (long long)j->limit);
    int rc, stop = 0;
    while ((rc = idx->db->step(st, ei)) == 1) {
        if (stop) {
            continue; /* read to the end: a kept statement is reset by done() */
        }
        pacs_index_candidate c;
        memset(&c, 0, sizeof c);
        c.pk = idx->db->column_int(st, 0);
        copy_col(idx, st, 1, c.study_uid, sizeof c.study_uid);
        copy_col(idx, st, 2, c.series_uid, sizeof c.series_uid);
        copy_col(idx, st, 3, c.sop_uid, sizeof c.sop_uid);
        copy_col(idx, st, 4, c.ts, sizeof c.ts);
        copy_col(idx, st, 5, c.object, sizeof c.object);
        c.size = (uint64_t)idx->db->column_int(st, 6);
        copy_col(idx, st, 7, c.modality, sizeof c.modality);
        copy_col(idx, st, 8, c.received, sizeof c.received);
        stop = j->cb(j->ctx, &c);
    }
    idx->db->done(st);
    return rc < 0 ? (ei ? ei->code : PACS_EDB) : PACS_OK;
}

pacs_err pacs_index_candidates(pacs_index *idx, int64_t after_pk, size_t limit,
                               pacs_candidate_cb cb, void *ctx, pacs_errinfo *ei)
{
    cand_job j = {after_pk, limit, cb, ctx};
    return pacs_index__read(idx, do_candidates, &j, ei);
}

typedef struct swap_job {
    const pacs_index_swap *s;
    int swapped;
} swap_job;

/* The stored metadata of the instance (still on the old object), with `set` applied and
 * compressed again into `*out`; `*found` 0 when the instance no longer has that object. */
static pacs_err patched_metadata(pacs_index *idx, pacs_db *db, const pacs_index_swap *s, void **out,
                                 size_t *out_len, int *found, pacs_errinfo *ei)
{
    *found = 0;
    pacs_db_stmt *st =
        pacs_index__stmt(idx, db, PACS_SQL_COMPRESS_METADATA,
                         "SELECT metadata FROM instances WHERE sop_uid=$1 AND object=$2{U}", ei);
    if (!st) {
        return ei ? ei->code : PACS_EDB;
    }
    idx->db->bind_text(st, 1, s->sop_uid);
    idx->db->bind_text(st, 2, s->old_object);
    pacs_buf b;
    pacs_buf_init(&b, (size_t)1 << 30);
    pacs_err err = PACS_OK;
    int rc;
    while ((rc = idx->db->step(st, ei)) == 1) {
        size_t n = 0;
        const char *z = idx->db->column(st, 0, &n);
        if (!*found && err == PACS_OK) {
            err = pacs_index__decompress(z, n, &b, ei);
            *found = 1;
        }
    }
    idx->db->done(st);
    if (rc < 0 && err == PACS_OK) {
        err = ei ? ei->code : PACS_EDB;
    }
    json_t *meta = NULL;
    if (err == PACS_OK && *found) {
        json_error_t jerr;
        meta = json_loadb((const char *)b.data, b.len, 0, &jerr);
        if (!meta || !json_is_object(meta)) {
            err = pacs_errf(ei, PACS_ECORRUPT, "stored metadata of %s: %s", s->sop_uid, jerr.text);
        }
    }
    if (err == PACS_OK && *found) {
        const char *key;
        json_t *v;
        json_object_foreach((json_t *)s->set, key, v)
        {
            json_object_set(meta, key, v);
        }
        err = pacs_index__compress_json(meta, out, out_len, ei);
    }
    json_decref(meta);
    pacs_buf_free(&b);
    return err;
}

static pacs_err do_swap(pacs_index *idx, pacs_db *db, void *ctx, pacs_errinfo *ei)
{
    swap_job *j = ctx;
    const pacs_index_swap *s = j->s;
    j->swapped = 0;
    void *meta = NULL;
    size_t meta_len = 0;
    int found = 0;
    pacs_err err = patched_metadata(idx, db, s, &meta, &meta_len, &found, ei);
    if (err != PACS_OK || !found) {
        free(meta);
        return err;
    }
    pacs_index__result r;
    err = pacs_index__run(idx, db, PACS_SQL_COMPRESS_SWAP,
                          "UPDATE instances SET ts=$1, object=$2, size=$3, pixels=$4, metadata=$5"
                          " WHERE sop_uid=$6 AND object=$7",
                          &r, 0, ei, "ssibbss", s->ts_uid, s->new_object, (long long)s->size,
                          (const void *)s->pixel_layout, s->pixel_layout_len, (const void *)meta,
                          meta_len, s->sop_uid, s->old_object);
    free(meta);
    if (err == PACS_OK && r.changes != 1) {
        return PACS_OK;
    }
    if (err == PACS_OK) {
        err = pacs_index__run(idx, db, PACS_SQL_COMPRESS_SWEEP_OLD,
                              "INSERT INTO sweep(object) VALUES($1) ON CONFLICT DO NOTHING", NULL,
                              0, ei, "s", s->old_object);
    }
    if (err == PACS_OK) {
        err = pacs_index__intent_done(idx, db, s->new_object, ei);
    }
    j->swapped = err == PACS_OK;
    return err;
}

pacs_err pacs_index_swap_object(pacs_index *idx, const pacs_index_swap *s, int *swapped,
                                pacs_errinfo *ei)
{
    swap_job j = {s, 0};
    pacs_err err = pacs_index__write(idx, do_swap, &j, ei);
    *swapped = err == PACS_OK && j.swapped;
    return err;
}
