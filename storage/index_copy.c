// SPDX-License-Identifier: MIT
/*
 * Copying one index into another (index.h, pacs_index_copy): `pacs migrate` moves a SQLite
 * index into PostgreSQL with it. Every instance is read back with its stored DICOM JSON,
 * pixel layout and origin and put into the destination, which derives its columns from the
 * JSON exactly as ingest did; no object is read. Pending forwards follow. Runs on the calling
 * thread; the destination's writer batches the puts (in bulk mode: one transaction).
 */
#include <stdlib.h>
#include <string.h>

#include "storage/index.h"

typedef struct copy_ctx {
    pacs_index *dst;
    void (*progress)(void *ctx, uint64_t done, uint64_t total);
    void *pctx;
    uint64_t done, total;
    pacs_err err;
    pacs_errinfo ei;
} copy_ctx;

static int copy_instance(void *ctx, const pacs_instance_rec *rec)
{
    copy_ctx *c = ctx;
    json_error_t jerr;
    json_t *json = json_loadb(rec->metadata, rec->metadata_len, 0, &jerr);
    if (!json) {
        c->err = pacs_errf(&c->ei, PACS_ECORRUPT, "stored metadata of %s does not parse: %s",
                           rec->sop_uid, jerr.text);
        return 1;
    }
    pacs_index_entry e;
    memset(&e, 0, sizeof e);
    e.json = json;
    e.study_uid = rec->study_uid;
    e.series_uid = rec->series_uid;
    e.sop_uid = rec->sop_uid;
    e.sop_class_uid = rec->sop_class;
    e.ts_uid = rec->ts;
    memcpy(e.object, rec->object, sizeof e.object);
    e.object_size = rec->size;
    e.pixel_layout = rec->pixel_layout_len ? rec->pixel_layout : NULL;
    e.pixel_layout_len = rec->pixel_layout_len;
    e.n_frames = rec->frames;
    e.source_aet = rec->source_aet ? rec->source_aet : "";
    e.received = rec->received && rec->received[0] ? rec->received : NULL;
    pacs_put_result put;
    c->err = pacs_index_put(c->dst, &e, &put, &c->ei);
    json_decref(json);
    c->done++;
    if (c->progress) {
        c->progress(c->pctx, c->done, c->total);
    }
    return c->err != PACS_OK;
}

typedef struct fwd_copy {
    pacs_index *dst;
    uint64_t copied;
    pacs_err err;
    pacs_errinfo ei;
} fwd_copy;

static int copy_forward(void *ctx, const pacs_fwd_entry *e)
{
    fwd_copy *f = ctx;
    int added = 0;
    f->err = pacs_index_fwd_enqueue(f->dst, e->dest, e->rule, e->sop_uid, e->object, e->next_try,
                                    &added, &f->ei);
    f->copied += (uint64_t)added;
    return f->err != PACS_OK;
}

pacs_err pacs_index_copy(pacs_index *src, pacs_index *dst,
                         void (*progress)(void *ctx, uint64_t done, uint64_t total), void *ctx,
                         uint64_t *instances, uint64_t *forwards, pacs_errinfo *ei)
{
    pacs_index_stats st;
    pacs_err err = pacs_index_stats_get(dst, &st, ei);
    if (err != PACS_OK) {
        return err;
    }
    if (st.instances > 0) {
        return pacs_errf(ei, PACS_EEXIST,
                         "the destination index already holds %llu instance(s); copy into an "
                         "empty one",
                         (unsigned long long)st.instances);
    }
    err = pacs_index_stats_get(src, &st, ei);
    if (err != PACS_OK) {
        return err;
    }
    pacs_query *q = pacs_query_new(PACS_LEVEL_PATIENT);
    if (!q) {
        return pacs_errf(ei, PACS_ENOMEM, "out of memory");
    }
    copy_ctx c;
    memset(&c, 0, sizeof c);
    c.dst = dst;
    c.progress = progress;
    c.pctx = ctx;
    c.total = st.instances;
    err = pacs_index_instances(src, q, PACS_REC_METADATA | PACS_REC_ORIGIN, copy_instance, &c, ei);
    pacs_query_free(q);
    if (err == PACS_OK && c.err != PACS_OK) {
        err = c.err;
        if (ei) {
            *ei = c.ei;
        }
    }
    if (err != PACS_OK) {
        return err;
    }
    /* Pending forwards keep their due time; delivered and failed ones are history and stay
     * behind (`pacs forward list` on the old index still shows them). */
    fwd_copy f;
    memset(&f, 0, sizeof f);
    f.dst = dst;
    err = pacs_index_fwd_list(src, PACS_FWD_PENDING, copy_forward, &f, ei);
    if (err == PACS_OK && f.err != PACS_OK) {
        err = f.err;
        if (ei) {
            *ei = f.ei;
        }
    }
    if (err == PACS_OK) {
        *instances = c.done;
        *forwards = f.copied;
    }
    return err;
}
