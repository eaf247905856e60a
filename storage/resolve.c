// SPDX-License-Identifier: MIT
/*
 * Resolving UIDs to stored instances (resolve.h): one query of the index, whose rows are copied
 * into a growing array as they come (the index hands out borrowed rows); for whole instances,
 * one look-up per study of whether it is reconciled to an order (orders_link.c).
 */
#include "storage/resolve.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage/archive_internal.h"
#include "storage/orders_store.h"

#define TAG_STUDY_UID 0x0020000Du
#define TAG_SERIES_UID 0x0020000Eu
#define TAG_SOP_UID 0x00080018u

static pacs_err make_query(const char *study, const char *series, const char *sop, pacs_query **out,
                           pacs_errinfo *ei)
{
    pacs_level level = sop ? PACS_LEVEL_INSTANCE : series ? PACS_LEVEL_SERIES : PACS_LEVEL_STUDY;
    pacs_query *q = pacs_query_new(level);
    if (!q) {
        return pacs_errf(ei, PACS_ENOMEM, "out of memory");
    }
    pacs_err err = PACS_OK;
    if (study) {
        err = pacs_query_add(q, TAG_STUDY_UID, "UI", study, ei);
    }
    if (err == PACS_OK && series) {
        err = pacs_query_add(q, TAG_SERIES_UID, "UI", series, ei);
    }
    if (err == PACS_OK && sop) {
        err = pacs_query_add(q, TAG_SOP_UID, "UI", sop, ei);
    }
    if (err != PACS_OK) {
        pacs_query_free(q);
        return err;
    }
    *out = q;
    return PACS_OK;
}

pacs_query *pacs_resolve_query(const char *study, const char *series, const char *sop,
                               pacs_errinfo *ei)
{
    pacs_query *q = NULL;
    return make_query(study, series, sop, &q, ei) == PACS_OK ? q : NULL;
}

void pacs_resolve_list_free(pacs_resolve_list *l)
{
    if (!l) {
        return;
    }
    for (size_t i = 0; i < l->n; i++) {
        free(l->v[i].layout);
    }
    free(l->v);
    memset(l, 0, sizeof *l);
}

typedef struct collect_ctx {
    pacs_resolve_list *out;
    unsigned flags;
    size_t max;
    pacs_err err;
} collect_ctx;

static int collect(void *ctx, const pacs_instance_rec *rec)
{
    collect_ctx *c = ctx;
    pacs_resolve_list *l = c->out;
    if (c->max && l->n == c->max) {
        c->err = PACS_ETOOBIG;
        return 1;
    }
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        pacs_resolve_item *g = realloc(l->v, cap * sizeof *g);
        if (!g) {
            c->err = PACS_ENOMEM;
            return 1;
        }
        l->v = g;
        l->cap = cap;
    }
    pacs_resolve_item *it = &l->v[l->n];
    memset(it, 0, sizeof *it);
    snprintf(it->study_uid, sizeof it->study_uid, "%s", rec->study_uid);
    snprintf(it->series_uid, sizeof it->series_uid, "%s", rec->series_uid);
    snprintf(it->sop_uid, sizeof it->sop_uid, "%s", rec->sop_uid);
    snprintf(it->sop_class, sizeof it->sop_class, "%s", rec->sop_class);
    snprintf(it->ts, sizeof it->ts, "%s", rec->ts);
    snprintf(it->object, sizeof it->object, "%s", rec->object);
    it->size = rec->size;
    it->frames = rec->frames;
    it->has_pixels = rec->pixel_layout && rec->pixel_layout_len > 0;
    if ((c->flags & PACS_RESOLVE_LAYOUT) && it->has_pixels) {
        it->layout = malloc(rec->pixel_layout_len);
        if (!it->layout) {
            c->err = PACS_ENOMEM;
            return 1;
        }
        memcpy(it->layout, rec->pixel_layout, rec->pixel_layout_len);
        it->layout_len = rec->pixel_layout_len;
    }
    l->n++;
    return 0;
}

pacs_err pacs_resolve_instances(pacs_archive *a, const pacs_query *q, unsigned flags, size_t max,
                                pacs_resolve_list *out, pacs_errinfo *ei)
{
    memset(out, 0, sizeof *out);
    collect_ctx c = {out, flags, max, PACS_OK};
    pacs_err err = pacs_archive_instances(a, q, 0, collect, &c, ei);
    /* Whole instances: which studies go out with a reconciled identity (one look-up each). */
    for (size_t i = 0;
         err == PACS_OK && c.err == PACS_OK && !(flags & PACS_RESOLVE_LAYOUT) && i < out->n; i++) {
        pacs_resolve_item *it = &out->v[i];
        if (i > 0 && strcmp(it->study_uid, out->v[i - 1].study_uid) == 0) {
            it->coerce = out->v[i - 1].coerce;
            continue;
        }
        err = pacs_orders__study_linked(a->index, it->study_uid, &it->coerce, ei);
    }
    if (err == PACS_OK && c.err == PACS_ETOOBIG) {
        err = pacs_errf(ei, PACS_ETOOBIG, "too many instances (more than %zu)", max);
    } else if (err == PACS_OK && c.err != PACS_OK) {
        err = pacs_errf(ei, c.err, "out of memory");
    }
    if (err != PACS_OK) {
        pacs_resolve_list_free(out);
    }
    return err;
}

pacs_err pacs_resolve_uids(pacs_archive *a, const char *study, const char *series, const char *sop,
                           unsigned flags, size_t max, pacs_resolve_list *out, pacs_errinfo *ei)
{
    memset(out, 0, sizeof *out);
    pacs_query *q = NULL;
    pacs_err err = make_query(study, series, sop, &q, ei);
    if (err != PACS_OK) {
        return err;
    }
    err = pacs_resolve_instances(a, q, flags, max, out, ei);
    pacs_query_free(q);
    if (err == PACS_OK && out->n == 0) {
        err = pacs_errf(ei, PACS_ENOTFOUND, "no such %s",
                        sop      ? "instance"
                        : series ? "series"
                                 : "study");
    }
    return err;
}
