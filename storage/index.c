// SPDX-License-Identifier: MIT
/*
 * The index (index.h) over the driver of its backend (index_core.h): opening by location, the
 * changing operations as jobs of the group-commit queue (index_queue.c), and the writer's
 * batches, each one transaction with a savepoint per job, so that one bad job fails alone and
 * concurrent stores share a commit. A batch the engine rolls back whole (SQLite on a full disk)
 * fails exactly the jobs it undid; one lost to a race with another node (PostgreSQL: deadlock,
 * serialisation failure, unique-key race) runs again whole, which is safe because every job is
 * idempotent. Also the statement helpers the other core files share.
 *
 * Load: every store and removal of the process passes through run_batch. Thread-safe: any
 * thread may call; the batches run on the queue's writer thread only.
 */
#include "storage/index.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pacs/base/buf.h"
#include "pacs/base/log.h"
#include "storage/index_core.h"

#define BATCH_MAX 512
#define BACKOFF_MS 5

typedef pacs_index__job job;

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
    return idx->be->name;
}

static pacs_err nothing(pacs_index *idx, pacs_db *db, void *ctx, pacs_errinfo *ei)
{
    (void)idx;
    (void)db;
    (void)ctx;
    (void)ei;
    return PACS_OK;
}

void pacs_index_close(pacs_index *idx)
{
    if (!idx) {
        return;
    }
    if (atomic_load(&idx->flushed_upto) > 0) {
        /* A last batch forgets the unflushed records whose objects are durable, so that a
         * clean stop leaves none to check at the next start. */
        pacs_index__write(idx, nothing, NULL, NULL);
    }
    idx->be->close(idx);
}

/* ---- statements ---- */

pacs_db_stmt *pacs_index__stmt(pacs_index *idx, pacs_db *db, int slot, const char *sql,
                               pacs_errinfo *ei)
{
    pacs_db_kept *kept = (pacs_db_kept *)db;
    pacs_db_stmt *st = kept->stmt[slot];
    if (st) {
        return st;
    }
    /* The first use on this connection: the dialect's words in, then prepared and kept. */
    static const struct {
        const char *mark;
        size_t len;
    } marks[] = {{"{U}", 3}, {"{NOW}", 5}, {"{POS}", 5}};
    const char *with[] = {idx->d->for_update, idx->d->now_stamp, idx->d->strpos};
    pacs_buf b;
    pacs_buf_init(&b, 1u << 16);
    pacs_err err = PACS_OK;
    for (const char *p = sql; *p && err == PACS_OK;) {
        size_t m = 0;
        while (m < 3 && strncmp(p, marks[m].mark, marks[m].len) != 0) {
            m++;
        }
        if (m < 3) {
            err = pacs_buf_puts(&b, with[m]);
            p += marks[m].len;
        } else {
            err = pacs_buf_append(&b, p++, 1);
        }
    }
    if (err == PACS_OK && !b.data) {
        err = pacs_buf_puts(&b, "");
    }
    if (err != PACS_OK) {
        pacs_errf(ei, PACS_ENOMEM, "out of memory");
    } else if (idx->db->prepare(db, slot, b.data, &st, ei) != PACS_OK) {
        st = NULL;
    }
    kept->stmt[slot] = st;
    pacs_buf_free(&b);
    return st;
}

void pacs_db_close(const pacs_db_driver *d, pacs_db *db)
{
    if (!db) {
        return;
    }
    pacs_db_kept *kept = (pacs_db_kept *)db;
    for (size_t i = 0; i < PACS_SQL_SLOTS; i++) {
        if (kept->stmt[i]) {
            d->release(kept->stmt[i]);
        }
    }
    d->disconnect(db);
}

void pacs_index__bind_args(pacs_index *idx, pacs_db_stmt *st, const char *fmt, va_list ap)
{
    const pacs_db_driver *db = idx->db;
    for (int i = 0; fmt[i]; i++) {
        if (fmt[i] == 's') {
            db->bind_text(st, i + 1, va_arg(ap, const char *));
        } else if (fmt[i] == 'i') {
            db->bind_int(st, i + 1, va_arg(ap, long long));
        } else if (fmt[i] == 'n') {
            int ok = 0;
            long long v = pacs_index__int_value(va_arg(ap, const char *), &ok);
            if (ok) {
                db->bind_int(st, i + 1, v);
            } else {
                db->bind_text(st, i + 1, NULL);
            }
        } else {
            const void *p = va_arg(ap, const void *);
            db->bind_blob(st, i + 1, p, va_arg(ap, size_t));
        }
    }
}

pacs_err pacs_index__run(pacs_index *idx, pacs_db *db, int slot, const char *sql,
                         pacs_index__result *out, int ncols, pacs_errinfo *ei, const char *fmt, ...)
{
    if (out) {
        memset(out, 0, sizeof *out);
    }
    pacs_db_stmt *st = pacs_index__stmt(idx, db, slot, sql, ei);
    if (!st) {
        return ei ? ei->code : PACS_EDB;
    }
    va_list ap;
    va_start(ap, fmt);
    pacs_index__bind_args(idx, st, fmt, ap);
    va_end(ap);
    int rc;
    while ((rc = idx->db->step(st, ei)) == 1) {
        if (out && !out->found) {
            out->found = 1;
            for (int c = 0; c < ncols && c < 3; c++) {
                out->v[c] = idx->db->column_int(st, c);
            }
        }
    }
    if (rc == 0 && out) {
        out->changes = idx->db->changes(st);
    }
    idx->db->done(st);
    return rc == 0 ? PACS_OK : (ei && ei->code != PACS_OK ? ei->code : PACS_EDB);
}

void pacs_index__bind_compiled(pacs_index *idx, pacs_db_stmt *st, const pacs_index__compiled *c)
{
    for (size_t i = 0; i < c->n_binds; i++) {
        if (c->binds[i].is_int) {
            idx->db->bind_int(st, (int)i + 1, c->binds[i].i);
        } else {
            idx->db->bind_text(st, (int)i + 1, c->binds[i].s);
        }
    }
}

/* ---- the writer's batches ---- */

static pacs_err run_job(pacs_index *idx, pacs_db *db, job *j)
{
    switch (j->kind) {
    case PACS_INDEX_JOB_PUT:
        return pacs_index__do_put(idx, db, j->entry, j->texts, j->put_result, &j->ei);
    case PACS_INDEX_JOB_REMOVE:
        return pacs_index__do_remove(idx, db, j->query, &j->removed, &j->ei);
    case PACS_INDEX_JOB_SWEEP_DONE:
        return pacs_index__run(idx, db, PACS_SQL_SWEEP_DONE, "DELETE FROM sweep WHERE object=$1",
                               NULL, 0, &j->ei, "s", j->object);
    case PACS_INDEX_JOB_FWD_ENQUEUE:
    case PACS_INDEX_JOB_FWD_UPDATE:
    case PACS_INDEX_JOB_FWD_RETRY:
        return pacs_index__do_fwd(idx, db, j->kind, j->fwd, &j->ei);
    case PACS_INDEX_JOB_SHARE_ADD:
    case PACS_INDEX_JOB_SHARE_REVOKE:
        return pacs_index__do_share(idx, db, j->kind, j->share, &j->ei);
    case PACS_INDEX_JOB_CALL:
        return j->call(idx, db, j->call_ctx, &j->ei);
    case PACS_INDEX_JOB_FINISH:
        return PACS_OK; /* the commit itself is the work (run_batch) */
    }
    return pacs_errf(&j->ei, PACS_EINVAL, "unknown index job");
}

/* Fails every job from `from` on that has not failed yet. */
static void fail_from(job *from, pacs_err err, const pacs_errinfo *ei)
{
    for (job *j = from; j; j = j->next) {
        if (j->err == PACS_OK) {
            j->err = err;
            j->ei = *ei;
            j->ei.code = err;
        }
    }
}

static int retry(pacs_index *idx, int attempt)
{
    return idx->be->batch_retry && idx->be->batch_retry(idx, attempt);
}

/* Whether every job of the batch is a put the object store's flush will make durable. */
static int batch_lazy(const job *batch)
{
    for (const job *j = batch; j; j = j->next) {
        if (!j->lazy && (j->kind != PACS_INDEX_JOB_PUT || !j->entry->unflushed)) {
            return 0;
        }
    }
    return 1;
}

/* Whether every job of the batch is a put: a put can run again from the start (its result is
 * made anew), so a batch of puts is first run without a savepoint per job (see run_batch). */
static int batch_all_puts(const job *batch)
{
    for (const job *j = batch; j; j = j->next) {
        if (j->kind != PACS_INDEX_JOB_PUT) {
            return 0;
        }
    }
    return 1;
}

/* A batch runs in one transaction, each job inside a savepoint so that a failing job's changes
 * go and the others' stay. A batch of puts is tried first without the savepoints (they cost the
 * writer about a sixth of a put: each one flushes FTS5's pending rows, and the pages a job
 * changes are copied for it): when all of its puts succeed, as they nearly always do, that is
 * the commit; when one fails, the whole transaction is rolled back and the batch runs again,
 * job by job in savepoints. */
static void run_batch(void *ctx, job *batch)
{
    pacs_index *idx = ctx;
    const pacs_db_driver *d = idx->db;
    pacs_errinfo ei;
    pacs_errinfo_clear(&ei);
    int lazy = batch_lazy(batch);
    int optimistic = batch_all_puts(batch);
    for (int attempt = 0;; attempt++) {
        for (job *j = batch; j; j = j->next) {
            j->err = PACS_OK;
            pacs_errinfo_clear(&j->ei);
        }
        pacs_db *db = NULL;
        pacs_err err = idx->be->batch_begin(idx, &db, lazy, &ei);
        if (err == PACS_OK) {
            pacs_index__unflushed_forget(idx, db);
        }
        if (err != PACS_OK) {
            if (retry(idx, attempt)) {
                continue;
            }
            fail_from(batch, err, &ei);
            return;
        }
        job *first = batch; /* the first job of the open transaction */
        int again = 0, finish = 0;
        for (job *j = batch; j; j = j->next) {
            if (err != PACS_OK) {
                j->err = err;
                j->ei = ei;
                continue;
            }
            if (j->kind == PACS_INDEX_JOB_FINISH) {
                finish = 1;
                continue;
            }
            if (!optimistic) {
                d->exec(db, "SAVEPOINT job", NULL);
            }
            j->err = run_job(idx, db, j);
            if (j->err == PACS_OK) {
                if (!optimistic) {
                    d->exec(db, "RELEASE job", NULL);
                }
                continue;
            }
            j->ei.code = j->err;
            if (optimistic) {
                again = 1; /* the careful pass, at once */
                break;
            }
            if (retry(idx, attempt)) {
                again = 1; /* a race with another node: run the whole batch again */
                break;
            }
            if (d->txn_lost(db)) {
                /* The engine rolled the whole transaction back (a full disk, an I/O error):
                 * the jobs before this one in it are undone too, and those after must not run
                 * outside a transaction (they would commit, yet be reported failed). */
                for (job *k = first; k != j; k = k->next) {
                    if (k->err == PACS_OK) {
                        k->err = j->err;
                        pacs_errf(&k->ei, j->err,
                                  "undone with a change made in the same commit: %s", j->ei.msg);
                    }
                }
                first = j->next;
                err = idx->be->batch_begin(idx, &db, lazy, &ei);
                continue;
            }
            d->exec(db, "ROLLBACK TO job", NULL);
            d->exec(db, "RELEASE job", NULL);
        }
        if (again && optimistic) {
            d->exec(db, "ROLLBACK", NULL);
            optimistic = 0;
            attempt--; /* not a retry */
            continue;
        }
        if (again) {
            d->exec(db, "ROLLBACK", NULL);
            pacs_log(PACS_LOG_DEBUG, "index", "batch retried attempt=%d", attempt + 1);
            usleep((useconds_t)(1000 * (1 + attempt) + rand() % (BACKOFF_MS * 1000)));
            continue;
        }
        if (err != PACS_OK) {
            return; /* a new transaction did not begin: every later job has failed */
        }
        err = idx->be->batch_commit(idx, db, finish, &ei);
        if (err != PACS_OK && retry(idx, attempt)) {
            continue;
        }
        if (err != PACS_OK) {
            d->exec(db, "ROLLBACK", NULL);
            fail_from(first, err, &ei);
        }
        return;
    }
}

/* ---- other records over the same driver ---- */

static pacs_err write_job(pacs_index *idx, pacs_index__call_fn fn, void *ctx, int lazy,
                          pacs_errinfo *ei)
{
    job j;
    memset(&j, 0, sizeof j);
    j.kind = PACS_INDEX_JOB_CALL;
    j.call = fn;
    j.call_ctx = ctx;
    j.lazy = lazy;
    return pacs_index__queue_submit(&idx->queue, &j, ei);
}

pacs_err pacs_index__write(pacs_index *idx, pacs_index__call_fn fn, void *ctx, pacs_errinfo *ei)
{
    return write_job(idx, fn, ctx, 0, ei);
}

pacs_err pacs_index__write_lazy(pacs_index *idx, pacs_index__call_fn fn, void *ctx,
                                pacs_errinfo *ei)
{
    return write_job(idx, fn, ctx, 1, ei);
}

pacs_err pacs_index__read(pacs_index *idx, pacs_index__call_fn fn, void *ctx, pacs_errinfo *ei)
{
    pacs_db *db = NULL;
    pacs_err err = idx->be->conn_get(idx, &db, ei);
    if (err != PACS_OK) {
        return err;
    }
    err = fn(idx, db, ctx, ei);
    idx->be->conn_put(idx, db);
    return err;
}

/* ---- the schema ---- */

pacs_err pacs_index__migrate(pacs_index *idx, pacs_db *db, const pacs_index__migration *m, size_t n,
                             const char *begin, int rerun_first, int log_new, const char *where,
                             pacs_errinfo *ei)
{
    const pacs_db_driver *d = idx->db;
    pacs_db_stmt *st = NULL;
    long long version = 0;
    pacs_err err = d->exec(db, begin, ei);
    if (err != PACS_OK) {
        return err;
    }
    err = d->prepare(db, -1, "SELECT CAST(value AS BIGINT) FROM meta WHERE key='schema_version'",
                     &st, ei);
    if (err == PACS_OK) {
        int rc = d->step(st, ei);
        version = rc == 1 ? d->column_int(st, 0) : 0;
        err = rc >= 0 ? PACS_OK : PACS_EDB;
        d->done(st);
    }
    const int last = m[n - 1].version;
    if (err == PACS_OK && version > last) {
        err = pacs_errf(ei, PACS_EUNSUPPORTED,
                        "index schema version %lld is newer than this program (%d)", version, last);
    }
    for (size_t i = 0; i < n && err == PACS_OK; i++) {
        if (m[i].version > version || (rerun_first && i == 0 && version == m[0].version)) {
            err = d->exec(db, m[i].sql, ei);
            if (err == PACS_OK && m[i].version > version && (version > 0 || log_new)) {
                pacs_log(PACS_LOG_INFO, "index", "%s migration=%d: %s", where, m[i].version,
                         m[i].what);
            }
        }
    }
    if (err == PACS_OK && version != last) {
        err = d->prepare(db, -1,
                         "INSERT INTO meta(key, value) VALUES('schema_version', $1)"
                         " ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                         &st, ei);
        if (err == PACS_OK) {
            char v[24];
            snprintf(v, sizeof v, "%d", last);
            d->bind_text(st, 1, v);
            err = d->step(st, ei) == 0 ? PACS_OK : PACS_EDB;
            d->done(st);
        }
    }
    if (err == PACS_OK) {
        err = d->exec(db, "COMMIT", ei);
    } else {
        d->exec(db, "ROLLBACK", NULL);
    }
    return err;
}

void pacs_index__init(pacs_index *idx, const pacs_index__backend *be, const char *node,
                      unsigned lease)
{
    idx->be = be;
    idx->db = be->db;
    idx->d = be->dialect;
    snprintf(idx->node, sizeof idx->node, "%s", node && node[0] ? node : "pacsd");
    idx->lease = lease;
    pacs_index__queue_init(&idx->queue, BATCH_MAX, run_batch, idx);
}

void pacs_index__fini(pacs_index *idx)
{
    pacs_index__queue_destroy(&idx->queue);
}

pacs_err pacs_index__opened(pacs_index *idx, pacs_err err, pacs_index **out, pacs_errinfo *ei)
{
    if (err == PACS_OK) {
        err = pacs_index__queue_start(&idx->queue, ei);
    }
    if (err != PACS_OK) {
        idx->be->close(idx);
        return err;
    }
    *out = idx;
    return PACS_OK;
}

/* ---- the changing operations: one job each ---- */

pacs_err pacs_index_put(pacs_index *idx, const pacs_index_entry *e, pacs_put_result *res,
                        pacs_errinfo *ei)
{
    pacs_index__texts texts;
    pacs_err err = pacs_index__texts_make(e->json, &texts, ei);
    if (err == PACS_OK) {
        err = pacs_index__queue_put(&idx->queue, e, &texts, res, ei);
        pacs_index__texts_free(&texts);
    }
    return err;
}

pacs_err pacs_index_remove(pacs_index *idx, const pacs_query *q, uint64_t *n_removed,
                           pacs_errinfo *ei)
{
    return pacs_index__queue_remove(&idx->queue, q, n_removed, ei);
}

pacs_err pacs_index_sweep_done(pacs_index *idx, const char *object, pacs_errinfo *ei)
{
    return pacs_index__queue_sweep_done(&idx->queue, object, ei);
}

pacs_err pacs_index_fwd_enqueue(pacs_index *idx, const char *dest, const char *rule,
                                const char *sop_uid, const char *object, int64_t now, int *added,
                                pacs_errinfo *ei)
{
    return pacs_index__queue_fwd_enqueue(&idx->queue, dest, rule, sop_uid, object, now, added, ei);
}

pacs_err pacs_index_fwd_update(pacs_index *idx, const pacs_fwd_update *u, size_t n,
                               pacs_errinfo *ei)
{
    return pacs_index__queue_fwd_update(&idx->queue, u, n, ei);
}

pacs_err pacs_index_fwd_retry(pacs_index *idx, int64_t id, int64_t now, uint64_t *n,
                              pacs_errinfo *ei)
{
    return pacs_index__queue_fwd_retry(&idx->queue, id, now, n, ei);
}

pacs_err pacs_index_share_add(pacs_index *idx, const pacs_index_share *s, pacs_errinfo *ei)
{
    uint64_t added = 0;
    pacs_err err = pacs_index__queue_share_add(&idx->queue, s, 1, &added, ei);
    if (err == PACS_OK && added == 0) {
        err = pacs_errf(ei, PACS_EEXIST, "a share with id %s exists already", s->id);
    }
    return err;
}

pacs_err pacs_index_share_import(pacs_index *idx, const pacs_index_share *s, size_t n,
                                 uint64_t *added, pacs_errinfo *ei)
{
    uint64_t got = 0;
    pacs_err err = n ? pacs_index__queue_share_add(&idx->queue, s, n, &got, ei) : PACS_OK;
    if (err == PACS_OK && added) {
        *added = got;
    }
    return err;
}

pacs_err pacs_index_share_revoke(pacs_index *idx, const char *id, const char *study_uid,
                                 int64_t now, uint64_t *n, pacs_errinfo *ei)
{
    uint64_t got = 0;
    pacs_err err = pacs_index__queue_share_revoke(&idx->queue, id, study_uid, now, &got, ei);
    if (err == PACS_OK && n) {
        *n = got;
    }
    return err;
}

pacs_err pacs_index_finish(pacs_index *idx, pacs_errinfo *ei)
{
    if (!idx->bulk) {
        return PACS_OK;
    }
    job j;
    memset(&j, 0, sizeof j);
    j.kind = PACS_INDEX_JOB_FINISH;
    return pacs_index__queue_submit(&idx->queue, &j, ei);
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
