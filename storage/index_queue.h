// SPDX-License-Identifier: MIT
/*
 * The index's group-commit queue: the changing operations become jobs that callers queue and
 * wait on, and one writer thread takes up to `batch_max` of them at a time and hands them to
 * the index core (index.c's run_batch), which runs them in one transaction, so concurrent
 * stores share a commit. This module owns the queue, the writer thread and the job-building
 * side of the operations; the SQL is the core's (index_write.c). Internal to storage/
 * (pacs_index__ names). Thread-safe: any thread may submit.
 */
#ifndef PACS_STORAGE_INDEX_QUEUE_H
#define PACS_STORAGE_INDEX_QUEUE_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>

#include "pacs/base/err.h"
#include "storage/index.h"

typedef enum pacs_index__job_kind {
    PACS_INDEX_JOB_PUT,
    PACS_INDEX_JOB_REMOVE,
    PACS_INDEX_JOB_SWEEP_DONE,
    PACS_INDEX_JOB_FWD_ENQUEUE,
    PACS_INDEX_JOB_FWD_UPDATE,
    PACS_INDEX_JOB_FWD_RETRY,
    PACS_INDEX_JOB_SHARE_ADD,
    PACS_INDEX_JOB_SHARE_REVOKE,
    PACS_INDEX_JOB_CALL,  /* a function of the core's users (pacs_index__write) */
    PACS_INDEX_JOB_FINISH /* PostgreSQL's bulk load: commit what is open */
} pacs_index__job_kind;

/** Arguments and results of the forwarding-queue jobs. */
typedef struct pacs_index__fwd_args {
    const char *dest, *rule, *sop_uid, *object;
    int64_t now, id;
    const pacs_fwd_update *updates;
    size_t n_updates;
    uint64_t changed;
} pacs_index__fwd_args;

/** Arguments and result of the share jobs: add `n` records (those whose id is known are
 *  left), or revoke by id, by study or all (see pacs_index_share_revoke). */
typedef struct pacs_index__share_args {
    const pacs_index_share *recs;
    size_t n;
    const char *id, *study_uid;
    int64_t now;
    uint64_t changed;
} pacs_index__share_args;

struct pacs_db; /* a backend's connection (index_core.h) */

/** One queued operation: its arguments, and the result the backend fills in (err, ei and
 *  the kind's outputs: put_result, removed, fwd->changed, share->changed). */
typedef struct pacs_index__job {
    pacs_index__job_kind kind;
    const pacs_index_entry *entry;
    const struct pacs_index__texts *texts; /* the put's texts, made before it was queued */
    pacs_put_result *put_result;
    const pacs_query *query;
    uint64_t removed;
    const char *object;
    pacs_index__fwd_args *fwd;
    pacs_index__share_args *share;
    pacs_err (*call)(pacs_index *idx, struct pacs_db *db, void *ctx, pacs_errinfo *ei);
    void *call_ctx;
    pacs_err err;
    pacs_errinfo ei;
    int done;
    pthread_cond_t cv; /* signalled when done (the submitter waits on it) */
    int lazy;          /* a CALL the object store's flush makes durable (pacs_index__write_lazy) */
    struct pacs_index__job *next;
} pacs_index__job;

/** Runs a batch (a list through ->next) and sets each job's err/ei. */
typedef void (*pacs_index__batch_fn)(void *ctx, pacs_index__job *batch);

typedef struct pacs_index__queue {
    pthread_mutex_t mu;
    pthread_cond_t cv_work;
    pacs_index__job *head, *tail;
    int stopping, started;
    pthread_t writer;
    size_t batch_max;
    pacs_index__batch_fn run;
    void *ctx;
} pacs_index__queue;

/** Initialises `q` (call once, before anything else on it). */
void pacs_index__queue_init(pacs_index__queue *q, size_t batch_max, pacs_index__batch_fn run,
                            void *ctx);
/** Starts the writer thread. */
pacs_err pacs_index__queue_start(pacs_index__queue *q, pacs_errinfo *ei);
/** Lets the writer finish the queued jobs, joins it, and releases `q`; later submits fail. */
void pacs_index__queue_destroy(pacs_index__queue *q);

/** Queues `j` (kind and arguments set) and waits for its result: j->err, with j->ei copied
 *  to `ei`. PACS_EBUSY once the queue is stopping. */
pacs_err pacs_index__queue_submit(pacs_index__queue *q, pacs_index__job *j, pacs_errinfo *ei);

/* The operations whose whole work is a job (index.c's write API). */
pacs_err pacs_index__queue_put(pacs_index__queue *q, const pacs_index_entry *e,
                               const struct pacs_index__texts *texts, pacs_put_result *res,
                               pacs_errinfo *ei);
pacs_err pacs_index__queue_remove(pacs_index__queue *q, const pacs_query *query, uint64_t *n,
                                  pacs_errinfo *ei);
pacs_err pacs_index__queue_sweep_done(pacs_index__queue *q, const char *object, pacs_errinfo *ei);
pacs_err pacs_index__queue_fwd_enqueue(pacs_index__queue *q, const char *dest, const char *rule,
                                       const char *sop_uid, const char *object, int64_t now,
                                       int *added, pacs_errinfo *ei);
pacs_err pacs_index__queue_fwd_update(pacs_index__queue *q, const pacs_fwd_update *u, size_t n,
                                      pacs_errinfo *ei);
pacs_err pacs_index__queue_fwd_retry(pacs_index__queue *q, int64_t id, int64_t now, uint64_t *n,
                                     pacs_errinfo *ei);
pacs_err pacs_index__queue_share_add(pacs_index__queue *q, const pacs_index_share *s, size_t n,
                                     uint64_t *added, pacs_errinfo *ei);
pacs_err pacs_index__queue_share_revoke(pacs_index__queue *q, const char *id, const char *study_uid,
                                        int64_t now, uint64_t *n, pacs_errinfo *ei);

#endif
