// SPDX-License-Identifier: MIT
/* The index interface: picks a backend from the location and forwards each call to it.
 * Thread-safe as the backends are. */
#include "storage/index.h"

#include <string.h>

pacs_err pacs_index_open(const char *location, pacs_index **out, pacs_errinfo *ei)
{
    return pacs_index_open_opts(location, NULL, out, ei);
}

pacs_err pacs_index_open_opts(const char *location, const pacs_index_options *o, pacs_index **out,
                              pacs_errinfo *ei)
{
    if (strncmp(location, "postgresql:", 11) == 0 || strncmp(location, "postgres:", 9) == 0) {
#ifdef PACS_HAVE_POSTGRESQL
        pacs_index_options dflt = {0, NULL, 0, 0};
        return pacs_index_pg_open(location, o ? o : &dflt, out, ei);
#else
        return pacs_errf(ei, PACS_EUNSUPPORTED,
                         "this build has no PostgreSQL index (libpq-dev was missing)");
#endif
    }
    if (strncmp(location, "sqlite:", 7) == 0) {
        location += 7;
    }
    return pacs_index_sqlite_open(location, out, ei);
}

const char *pacs_index_backend(const pacs_index *idx)
{
    return idx->ops->name;
}

pacs_err pacs_index_finish(pacs_index *idx, pacs_errinfo *ei)
{
    return idx->ops->finish ? idx->ops->finish(idx, ei) : PACS_OK;
}

int pacs_index_shared(const pacs_index *idx)
{
    return idx->ops->intent_add != NULL;
}

pacs_err pacs_index_intent_add(pacs_index *idx, const char *object, pacs_errinfo *ei)
{
    return idx->ops->intent_add ? idx->ops->intent_add(idx, object, ei) : PACS_OK;
}

pacs_err pacs_index_intent_clear(pacs_index *idx, const char *object, pacs_errinfo *ei)
{
    return idx->ops->intent_clear ? idx->ops->intent_clear(idx, object, ei) : PACS_OK;
}

pacs_err pacs_index_intents_drop(pacs_index *idx, const char *node, int64_t older_than,
                                 pacs_object_cb cb, void *ctx, pacs_errinfo *ei)
{
    return idx->ops->intents_drop ? idx->ops->intents_drop(idx, node, older_than, cb, ctx, ei)
                                  : PACS_OK;
}

pacs_err pacs_index_object_release(pacs_index *idx, const char *object, pacs_release_cb rm,
                                   void *ctx, int *removed, pacs_errinfo *ei)
{
    *removed = 0;
    if (idx->ops->object_release) {
        return idx->ops->object_release(idx, object, rm, ctx, removed, ei);
    }
    /* One process: the caller's in-flight set already keeps its own ingests out. */
    int referenced = 1;
    pacs_err err = idx->ops->object_referenced(idx, object, &referenced, ei);
    if (err == PACS_OK && !referenced) {
        err = rm(ctx, object, ei);
        *removed = err == PACS_OK;
    }
    if (err == PACS_OK) {
        err = idx->ops->sweep_done(idx, object, ei);
    }
    return err;
}

void pacs_index_close(pacs_index *idx)
{
    if (idx) {
        idx->ops->close(idx);
    }
}

pacs_err pacs_index_put(pacs_index *idx, const pacs_index_entry *e, pacs_put_result *res,
                        pacs_errinfo *ei)
{
    return idx->ops->put(idx, e, res, ei);
}

pacs_err pacs_index_find(pacs_index *idx, const pacs_query *q, pacs_find_cb cb, void *ctx,
                         pacs_errinfo *ei)
{
    return idx->ops->find(idx, q, cb, ctx, ei);
}

pacs_err pacs_index_instances(pacs_index *idx, const pacs_query *q, unsigned flags,
                              pacs_instance_cb cb, void *ctx, pacs_errinfo *ei)
{
    return idx->ops->instances(idx, q, flags, cb, ctx, ei);
}

pacs_err pacs_index_remove(pacs_index *idx, const pacs_query *q, uint64_t *n_removed,
                           pacs_errinfo *ei)
{
    return idx->ops->remove(idx, q, n_removed, ei);
}

pacs_err pacs_index_objects(pacs_index *idx, pacs_object_cb cb, void *ctx, pacs_errinfo *ei)
{
    return idx->ops->objects(idx, cb, ctx, ei);
}

pacs_err pacs_index_sweep_pending(pacs_index *idx, pacs_object_cb cb, void *ctx, pacs_errinfo *ei)
{
    return idx->ops->sweep_pending(idx, cb, ctx, ei);
}

pacs_err pacs_index_sweep_done(pacs_index *idx, const char *object, pacs_errinfo *ei)
{
    return idx->ops->sweep_done(idx, object, ei);
}

pacs_err pacs_index_object_referenced(pacs_index *idx, const char *object, int *referenced,
                                      pacs_errinfo *ei)
{
    return idx->ops->object_referenced(idx, object, referenced, ei);
}

pacs_err pacs_index_stats_get(pacs_index *idx, pacs_index_stats *out, pacs_errinfo *ei)
{
    return idx->ops->stats(idx, out, ei);
}

const char *pacs_fwd_state_name(pacs_fwd_state s)
{
    switch (s) {
    case PACS_FWD_PENDING:
        return "pending";
    case PACS_FWD_DONE:
        return "done";
    case PACS_FWD_FAILED:
        return "failed";
    }
    return "unknown";
}

pacs_err pacs_index_fwd_enqueue(pacs_index *idx, const char *dest, const char *rule,
                                const char *sop_uid, const char *object, int64_t now, int *added,
                                pacs_errinfo *ei)
{
    return idx->ops->fwd_enqueue(idx, dest, rule, sop_uid, object, now, added, ei);
}

pacs_err pacs_index_fwd_due(pacs_index *idx, int64_t now, size_t limit, pacs_fwd_cb cb, void *ctx,
                            pacs_errinfo *ei)
{
    return idx->ops->fwd_due(idx, now, limit, cb, ctx, ei);
}

pacs_err pacs_index_fwd_update(pacs_index *idx, const pacs_fwd_update *u, size_t n,
                               pacs_errinfo *ei)
{
    return idx->ops->fwd_update(idx, u, n, ei);
}

pacs_err pacs_index_fwd_list(pacs_index *idx, int state, pacs_fwd_cb cb, void *ctx,
                             pacs_errinfo *ei)
{
    return idx->ops->fwd_list(idx, state, cb, ctx, ei);
}

pacs_err pacs_index_fwd_retry(pacs_index *idx, int64_t id, int64_t now, uint64_t *n,
                              pacs_errinfo *ei)
{
    return idx->ops->fwd_retry(idx, id, now, n, ei);
}

pacs_err pacs_index_share_add(pacs_index *idx, const pacs_index_share *s, pacs_errinfo *ei)
{
    uint64_t added = 0;
    pacs_err err = idx->ops->share_add(idx, s, 1, &added, ei);
    if (err == PACS_OK && added == 0) {
        err = pacs_errf(ei, PACS_EEXIST, "a share with id %s exists already", s->id);
    }
    return err;
}

pacs_err pacs_index_share_import(pacs_index *idx, const pacs_index_share *s, size_t n,
                                 uint64_t *added, pacs_errinfo *ei)
{
    uint64_t got = 0;
    pacs_err err = n ? idx->ops->share_add(idx, s, n, &got, ei) : PACS_OK;
    if (err == PACS_OK && added) {
        *added = got;
    }
    return err;
}

typedef struct share_found {
    pacs_share_cb cb;
    void *ctx;
    int found;
} share_found;

static int share_found_cb(void *ctx, const pacs_index_share *s)
{
    share_found *f = ctx;
    f->found = 1;
    return f->cb(f->ctx, s);
}

pacs_err pacs_index_share_get(pacs_index *idx, const char *id, pacs_share_cb cb, void *ctx,
                              int *found, pacs_errinfo *ei)
{
    share_found f = {cb, ctx, 0};
    pacs_err err = idx->ops->share_get(idx, id, share_found_cb, &f, ei);
    if (err == PACS_OK && found) {
        *found = f.found;
    }
    return err;
}

pacs_err pacs_index_share_revoke(pacs_index *idx, const char *id, const char *study_uid,
                                 int64_t now, uint64_t *n, pacs_errinfo *ei)
{
    uint64_t got = 0;
    pacs_err err = idx->ops->share_revoke(idx, id, study_uid, now, &got, ei);
    if (err == PACS_OK && n) {
        *n = got;
    }
    return err;
}

pacs_err pacs_index_share_list(pacs_index *idx, const char *study_uid, pacs_share_cb cb, void *ctx,
                               pacs_errinfo *ei)
{
    return idx->ops->share_list(idx, study_uid, cb, ctx, ei);
}
