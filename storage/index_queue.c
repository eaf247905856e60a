// SPDX-License-Identifier: MIT
/*
 * The index's group-commit queue (index_queue.h): a FIFO of jobs under one mutex, one
 * writer thread taking batches, callers waiting on a condition for their job's result.
 */
#include "storage/index_queue.h"

#include <string.h>

#include "pacs/base/metrics.h"

void pacs_index__queue_init(pacs_index__queue *q, size_t batch_max, pacs_index__batch_fn run,
                            void *ctx)
{
    memset(q, 0, sizeof *q);
    pthread_mutex_init(&q->mu, NULL);
    pthread_cond_init(&q->cv_work, NULL);
    q->batch_max = batch_max ? batch_max : 1;
    q->run = run;
    q->ctx = ctx;
}

static void *writer_main(void *arg)
{
    pacs_index__queue *q = arg;
    for (;;) {
        pthread_mutex_lock(&q->mu);
        while (!q->head && !q->stopping) {
            pthread_cond_wait(&q->cv_work, &q->mu);
        }
        if (!q->head) {
            pthread_mutex_unlock(&q->mu);
            break;
        }
        /* Take up to batch_max jobs; later ones wait for the next transaction. */
        pacs_index__job *batch = q->head, *last = batch;
        size_t n = 1;
        while (last->next && n < q->batch_max) {
            last = last->next;
            n++;
        }
        q->head = last->next;
        if (!q->head) {
            q->tail = NULL;
        }
        last->next = NULL;
        pthread_mutex_unlock(&q->mu);
        pacs_metrics_sub(PACS_M_QUEUE_INDEX, n);
        pacs_metrics_add(PACS_M_INDEX_COMMITS, 1);

        q->run(q->ctx, batch);

        /* Each waiter is woken alone: one broadcast woke every thread waiting, most of them for
         * a later batch (with `pacs import`'s 32 files at a time, ~9 context switches a file). */
        pthread_mutex_lock(&q->mu);
        for (pacs_index__job *j = batch; j; j = j->next) {
            j->done = 1;
            pthread_cond_signal(&j->cv);
        }
        pthread_mutex_unlock(&q->mu);
    }
    return NULL;
}

pacs_err pacs_index__queue_start(pacs_index__queue *q, pacs_errinfo *ei)
{
    if (pthread_create(&q->writer, NULL, writer_main, q) != 0) {
        return pacs_errf(ei, PACS_ENOMEM, "cannot start the index writer");
    }
    q->started = 1;
    return PACS_OK;
}

void pacs_index__queue_destroy(pacs_index__queue *q)
{
    if (q->started) {
        pthread_mutex_lock(&q->mu);
        q->stopping = 1;
        pthread_cond_broadcast(&q->cv_work);
        pthread_mutex_unlock(&q->mu);
        pthread_join(q->writer, NULL);
        q->started = 0;
    }
    pthread_mutex_destroy(&q->mu);
    pthread_cond_destroy(&q->cv_work);
}

pacs_err pacs_index__queue_submit(pacs_index__queue *q, pacs_index__job *j, pacs_errinfo *ei)
{
    j->done = 0;
    j->next = NULL;
    j->err = PACS_OK;
    pthread_mutex_lock(&q->mu);
    if (q->stopping) {
        pthread_mutex_unlock(&q->mu);
        return pacs_errf(ei, PACS_EBUSY, "the index is closing");
    }
    pthread_cond_init(&j->cv, NULL);
    if (q->tail) {
        q->tail->next = j;
    } else {
        q->head = j;
    }
    q->tail = j;
    pacs_metrics_add(PACS_M_QUEUE_INDEX, 1);
    pthread_cond_signal(&q->cv_work);
    while (!j->done) {
        pthread_cond_wait(&j->cv, &q->mu);
    }
    pthread_mutex_unlock(&q->mu);
    pthread_cond_destroy(&j->cv);
    if (j->err != PACS_OK && ei) {
        *ei = j->ei;
        ei->code = j->err;
    }
    return j->err;
}

/* ---- the ops that are one job each ---- */

static pacs_err submit_kind(pacs_index__queue *q, pacs_index__job_kind kind, pacs_index__job *j,
                            pacs_errinfo *ei)
{
    j->kind = kind;
    return pacs_index__queue_submit(q, j, ei);
}

pacs_err pacs_index__queue_put(pacs_index__queue *q, const pacs_index_entry *e,
                               const struct pacs_index__texts *texts, pacs_put_result *res,
                               pacs_errinfo *ei)
{
    pacs_index__job j;
    memset(&j, 0, sizeof j);
    j.entry = e;
    j.texts = texts;
    j.put_result = res;
    return submit_kind(q, PACS_INDEX_JOB_PUT, &j, ei);
}

pacs_err pacs_index__queue_remove(pacs_index__queue *q, const pacs_query *query, uint64_t *n,
                                  pacs_errinfo *ei)
{
    pacs_index__job j;
    memset(&j, 0, sizeof j);
    j.query = query;
    pacs_err err = submit_kind(q, PACS_INDEX_JOB_REMOVE, &j, ei);
    if (err == PACS_OK) {
        *n = j.removed;
    }
    return err;
}

pacs_err pacs_index__queue_sweep_done(pacs_index__queue *q, const char *object, pacs_errinfo *ei)
{
    pacs_index__job j;
    memset(&j, 0, sizeof j);
    j.object = object;
    return submit_kind(q, PACS_INDEX_JOB_SWEEP_DONE, &j, ei);
}

static pacs_err submit_fwd(pacs_index__queue *q, pacs_index__job_kind kind, pacs_index__fwd_args *f,
                           pacs_errinfo *ei)
{
    pacs_index__job j;
    memset(&j, 0, sizeof j);
    j.fwd = f;
    return submit_kind(q, kind, &j, ei);
}

pacs_err pacs_index__queue_fwd_enqueue(pacs_index__queue *q, const char *dest, const char *rule,
                                       const char *sop_uid, const char *object, int64_t now,
                                       int *added, pacs_errinfo *ei)
{
    pacs_index__fwd_args f;
    memset(&f, 0, sizeof f);
    f.dest = dest;
    f.rule = rule;
    f.sop_uid = sop_uid;
    f.object = object;
    f.now = now;
    pacs_err err = submit_fwd(q, PACS_INDEX_JOB_FWD_ENQUEUE, &f, ei);
    if (err == PACS_OK && added) {
        *added = f.changed > 0;
    }
    return err;
}

pacs_err pacs_index__queue_fwd_update(pacs_index__queue *q, const pacs_fwd_update *u, size_t n,
                                      pacs_errinfo *ei)
{
    if (n == 0) {
        return PACS_OK;
    }
    pacs_index__fwd_args f;
    memset(&f, 0, sizeof f);
    f.updates = u;
    f.n_updates = n;
    return submit_fwd(q, PACS_INDEX_JOB_FWD_UPDATE, &f, ei);
}

pacs_err pacs_index__queue_fwd_retry(pacs_index__queue *q, int64_t id, int64_t now, uint64_t *n,
                                     pacs_errinfo *ei)
{
    pacs_index__fwd_args f;
    memset(&f, 0, sizeof f);
    f.id = id;
    f.now = now;
    pacs_err err = submit_fwd(q, PACS_INDEX_JOB_FWD_RETRY, &f, ei);
    if (err == PACS_OK && n) {
        *n = f.changed;
    }
    return err;
}

pacs_err pacs_index__queue_share_add(pacs_index__queue *q, const pacs_index_share *s, size_t n,
                                     uint64_t *added, pacs_errinfo *ei)
{
    pacs_index__share_args a;
    memset(&a, 0, sizeof a);
    a.recs = s;
    a.n = n;
    pacs_index__job j;
    memset(&j, 0, sizeof j);
    j.share = &a;
    pacs_err err = submit_kind(q, PACS_INDEX_JOB_SHARE_ADD, &j, ei);
    if (err == PACS_OK) {
        *added = a.changed;
    }
    return err;
}

pacs_err pacs_index__queue_share_revoke(pacs_index__queue *q, const char *id, const char *study_uid,
                                        int64_t now, uint64_t *n, pacs_errinfo *ei)
{
    pacs_index__share_args a;
    memset(&a, 0, sizeof a);
    a.id = id;
    a.study_uid = study_uid;
    a.now = now;
    pacs_index__job j;
    memset(&j, 0, sizeof j);
    j.share = &a;
    pacs_err err = submit_kind(q, PACS_INDEX_JOB_SHARE_REVOKE, &j, ei);
    if (err == PACS_OK) {
        *n = a.changed;
    }
    return err;
}
