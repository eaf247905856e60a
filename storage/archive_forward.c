// SPDX-License-Identifier: MIT
/*
 * The forwarding queue through the archive (archive.h): persistent entries in the index, which
 * the stored hook (dimse/forward.c) fills after each stored instance and the queue's worker
 * (forward_worker.c, with a sender per protocol) drains. The tools' list
 * and retry open only the index, so that they can run beside a running server.
 *
 * Thread-safe: any thread.
 */
#include <stdio.h>
#include <time.h>

#include "storage/archive_internal.h"

/* ---- The forwarding queue ---- */

pacs_err pacs_archive_study_from(pacs_archive *a, const char *study_uid, const char *name,
                                 int *found, pacs_errinfo *ei)
{
    return pacs_index_study_from(a->index, study_uid, name, found, ei);
}

pacs_err pacs_archive_forward_enqueue(pacs_archive *a, const char *dest, const char *rule,
                                      const char *sop_uid, const char *object, int *added,
                                      pacs_errinfo *ei)
{
    return pacs_index_fwd_enqueue(a->index, dest, rule, sop_uid, object, (int64_t)time(NULL), added,
                                  ei);
}

pacs_err pacs_archive_forward_due(pacs_archive *a, size_t limit, pacs_fwd_cb cb, void *ctx,
                                  pacs_errinfo *ei)
{
    return pacs_index_fwd_due(a->index, (int64_t)time(NULL), limit, cb, ctx, ei);
}

static int count_entry(void *ctx, const pacs_fwd_entry *e)
{
    (void)e;
    (*(uint64_t *)ctx)++;
    return 0;
}

pacs_err pacs_archive_forward_depth(pacs_archive *a, uint64_t *pending, uint64_t *failed,
                                    pacs_errinfo *ei)
{
    uint64_t p = 0, f = 0;
    pacs_err err = pacs_index_fwd_list(a->index, PACS_FWD_PENDING, count_entry, &p, ei);
    if (err == PACS_OK) {
        err = pacs_index_fwd_list(a->index, PACS_FWD_FAILED, count_entry, &f, ei);
    }
    if (err == PACS_OK) {
        *pending = p;
        *failed = f;
    }
    return err;
}

pacs_err pacs_archive_forward_update(pacs_archive *a, const pacs_fwd_update *u, size_t n,
                                     pacs_errinfo *ei)
{
    return pacs_index_fwd_update(a->index, u, n, ei);
}

pacs_err pacs_archive_forward_list(const pacs_config *cfg, int state, pacs_fwd_cb cb, void *ctx,
                                   pacs_errinfo *ei)
{
    char loc[4096];
    pacs_archive__index_location(cfg, loc, sizeof loc);
    pacs_index *idx = NULL;
    pacs_err err = pacs_index_open(loc, &idx, ei);
    if (err != PACS_OK) {
        return err;
    }
    err = pacs_index_fwd_list(idx, state, cb, ctx, ei);
    pacs_index_close(idx);
    return err;
}

pacs_err pacs_archive_forward_retry(const pacs_config *cfg, int64_t id, uint64_t *n,
                                    pacs_errinfo *ei)
{
    char loc[4096];
    pacs_archive__index_location(cfg, loc, sizeof loc);
    pacs_index *idx = NULL;
    pacs_err err = pacs_index_open(loc, &idx, ei);
    if (err != PACS_OK) {
        return err;
    }
    err = pacs_index_fwd_retry(idx, id, (int64_t)time(NULL), n, ei);
    pacs_index_close(idx);
    return err;
}
