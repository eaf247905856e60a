// SPDX-License-Identifier: MIT
/*
 * Copying one index into another (index.h, pacs_index_copy): `pacs migrate` moves a SQLite
 * index into PostgreSQL with it. Every instance is read back with its stored DICOM JSON,
 * pixel layout and origin and put into the destination, which derives its columns from the
 * JSON exactly as ingest did; no object is read. Pending forwards, the share links' records and the
 * orders and the built-in users follow (pacs_index_share_copy, pacs_orders__copy and
 * pacs_users__copy, which a rebuilt index also uses).
 * Runs on the calling thread; the destination's writer batches the puts (in bulk mode: one
 * transaction).
 */
#include <stdlib.h>
#include <string.h>

#include "storage/index.h"
#include "storage/orders_store.h"

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
    e.source_http = rec->source_http && rec->source_http[0] ? rec->source_http : NULL;
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

/* Shares read from the source, owned copies, imported in one transaction. */
typedef struct share_copy {
    pacs_index_share *s;
    size_t n, cap;
    int oom;
} share_copy;

static char *dup_bytes(const void *p, size_t n)
{
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, p ? p : "", n);
        d[n] = '\0';
    }
    return d;
}

static int collect_share(void *ctx, const pacs_index_share *s)
{
    share_copy *c = ctx;
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 64;
        pacs_index_share *g = realloc(c->s, cap * sizeof *g);
        if (!g) {
            c->oom = 1;
            return 1;
        }
        c->s = g;
        c->cap = cap;
    }
    pacs_index_share *d = &c->s[c->n];
    *d = *s;
    d->id = dup_bytes(s->id, strlen(s->id));
    d->token_sha256 = (const unsigned char *)dup_bytes(s->token_sha256, s->token_sha256_len);
    d->study_uid = dup_bytes(s->study_uid, strlen(s->study_uid));
    d->creator = dup_bytes(s->creator, strlen(s->creator));
    c->n++;
    if (!d->id || !d->token_sha256 || !d->study_uid || !d->creator) {
        c->oom = 1;
        return 1;
    }
    return 0;
}

pacs_err pacs_index_share_copy(pacs_index *src, pacs_index *dst, uint64_t *n, pacs_errinfo *ei)
{
    share_copy c;
    memset(&c, 0, sizeof c);
    pacs_err err = pacs_index_share_list(src, NULL, collect_share, &c, ei);
    if (err == PACS_OK && c.oom) {
        err = pacs_errf(ei, PACS_ENOMEM, "out of memory");
    }
    /* Oldest first, so that the destination lists them in the same order. */
    for (size_t i = 0; err == PACS_OK && i < c.n / 2; i++) {
        pacs_index_share t = c.s[i];
        c.s[i] = c.s[c.n - 1 - i];
        c.s[c.n - 1 - i] = t;
    }
    if (err == PACS_OK) {
        err = pacs_index_share_import(dst, c.s, c.n, n, ei);
    }
    for (size_t i = 0; i < c.n; i++) {
        free((char *)c.s[i].id);
        free((unsigned char *)c.s[i].token_sha256);
        free((char *)c.s[i].study_uid);
        free((char *)c.s[i].creator);
    }
    free(c.s);
    return err;
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
    /* Every share, revoked ones included: a revoked link must stay refused. */
    if (err == PACS_OK) {
        err = pacs_index_share_copy(src, dst, NULL, ei);
    }
    /* The HIS's patients, orders and MPPS instances: in no object either. */
    if (err == PACS_OK) {
        err = pacs_orders__copy(src, dst, ei);
    }
    /* The built-in users, with their password hashes and lockouts. */
    if (err == PACS_OK) {
        err = pacs_users__copy(src, dst, ei);
    }
    if (err == PACS_OK) {
        *instances = c.done;
        *forwards = f.copied;
    }
    return err;
}
