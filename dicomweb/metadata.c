// SPDX-License-Identifier: MIT
/*
 * WADO-RS metadata (metadata.h). The instance list comes from the resolve step; their stored
 * JSON is then read in batches of META_BATCH instances (one index query per batch) and streamed,
 * so a study's JSON never sits in memory whole. A batch too large for the producer's buffer
 * (enhanced multi-frame objects) is retried in halves.
 *
 * Load: a viewer asks for a series' or study's metadata before anything else. Thread-safe: every
 * request owns its stream.
 */
#include "dicomweb/metadata.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dicomweb/negotiate.h"
#include "storage/resolve.h"

#define MAX_INSTANCES 500000u
#define META_BATCH 64u

typedef struct meta_stream {
    pacs_archive *a;
    char *base;
    pacs_resolve_list l;
    size_t next, emitted;
    int started;
    pacs_buf *out;
    pacs_err err;
    pacs_errinfo ei;
} meta_stream;

static void meta_free(void *ctx)
{
    meta_stream *ms = ctx;
    if (!ms) {
        return;
    }
    pacs_resolve_list_free(&ms->l);
    free(ms->base);
    free(ms);
}

static int meta_cb(void *ctx, const pacs_instance_rec *rec)
{
    meta_stream *ms = ctx;
    if (!rec->metadata || rec->metadata_len == 0) {
        return 0;
    }
    char url[512];
    snprintf(url, sizeof url, "%s/studies/%s/series/%s/instances/%s", ms->base, rec->study_uid,
             rec->series_uid, rec->sop_uid);
    pacs_err err = ms->emitted ? pacs_buf_append(ms->out, ",", 1) : PACS_OK;
    if (err == PACS_OK) {
        err = pacs_archive_metadata_append(rec->metadata, rec->metadata_len, url, ms->out, &ms->ei);
    }
    if (err != PACS_OK) {
        ms->err = err;
        return 1;
    }
    ms->emitted++;
    return 0;
}

/* Appends the metadata of instances [next, next + batch) to `out`. */
static pacs_err meta_batch(meta_stream *ms, size_t batch, pacs_errinfo *ei)
{
    char *list = malloc(batch * 65 + 1);
    if (!list) {
        return pacs_errf(ei, PACS_ENOMEM, "out of memory");
    }
    size_t o = 0;
    for (size_t i = 0; i < batch; i++) {
        o += (size_t)sprintf(list + o, "%s%s", i ? "\\" : "", ms->l.v[ms->next + i].sop_uid);
    }
    pacs_query *q = pacs_resolve_query(ms->l.v[ms->next].study_uid, NULL, list, ei);
    free(list);
    if (!q) {
        return ei && ei->code != PACS_OK ? ei->code : PACS_ENOMEM;
    }
    pacs_err err = pacs_archive_instances(ms->a, q, PACS_REC_METADATA, meta_cb, ms, ei);
    pacs_query_free(q);
    if (err == PACS_OK && ms->err != PACS_OK) {
        err = ms->err;
        if (ei) {
            *ei = ms->ei;
        }
    }
    return err;
}

static pacs_err meta_produce(void *ctx, pacs_buf *out, int *eof, pacs_errinfo *ei)
{
    meta_stream *ms = ctx;
    ms->out = out;
    if (!ms->started) {
        ms->started = 1;
        pacs_buf_append(out, "[", 1);
    }
    size_t batch = ms->l.n - ms->next < META_BATCH ? ms->l.n - ms->next : META_BATCH;
    while (batch > 0) {
        size_t len0 = out->len, emitted0 = ms->emitted;
        pacs_err err = meta_batch(ms, batch, ei);
        if (err == PACS_OK) {
            ms->next += batch;
            break;
        }
        if (err != PACS_ETOOBIG || batch == 1) {
            return err;
        }
        /* Large metadata (enhanced multi-frame objects): the same instances in halves. */
        out->len = len0;
        out->data[len0] = '\0';
        ms->emitted = emitted0;
        ms->err = PACS_OK;
        batch /= 2;
    }
    if (ms->next == ms->l.n) {
        pacs_buf_append(out, "]", 1);
        *eof = 1;
    } else if (out->len == 0) {
        /* A batch whose instances all went away meanwhile: keep the body non-empty. */
        pacs_buf_append(out, " ", 1);
    }
    return PACS_OK;
}

void pacs_metadata_retrieve(pacs_http_req *r, const pacs_route *rt)
{
    pacs_errinfo ei;
    pacs_media m[PACS_ACCEPT_MAX];
    size_t nm = 0;
    if (pacs_negotiate_read(r, m, &nm, &ei) != PACS_OK) {
        pacs_http_send_error(r, 400, "Accept: %s", ei.msg);
        return;
    }
    if (!pacs_negotiate_json(m, nm)) {
        pacs_http_send_error(r, 406, "metadata is served as application/dicom+json only");
        return;
    }
    meta_stream *ms = calloc(1, sizeof *ms);
    if (!ms || !(ms->base = strdup(pacs_http_base_url(r)))) {
        free(ms);
        pacs_http_send_error(r, 500, "out of memory");
        return;
    }
    ms->a = pacs_http_archive(r);
    pacs_err err =
        pacs_resolve_uids(ms->a, rt->study, rt->series, rt->sop, 0, MAX_INSTANCES, &ms->l, &ei);
    if (err != PACS_OK) {
        meta_free(ms);
        pacs_http_send_error(r, pacs_http_status_of(err), "%s", ei.msg);
        return;
    }
    pacs_http_send_stream(r, 200, "application/dicom+json", UINT64_MAX, 1, meta_produce, ms,
                          meta_free);
}
