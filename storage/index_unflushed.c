// SPDX-License-Identifier: MIT
/*
 * Puts the object store's flush makes durable (index.h): the record an unflushed put leaves in
 * its own commit, the writer forgetting records once their objects are durable, and what the
 * archive's start-up check after a power cut reads and removes.
 *
 * Load: one insert per ingested instance, one delete per writer batch. Thread-safe:
 * pacs_index_flushed from any thread (an atomic maximum); the rest on the writer or a pooled
 * connection as every index call.
 */
#include <stdatomic.h>
#include <string.h>

#include "storage/index.h"
#include "storage/index_core.h"

int pacs_index_defers_flush(const pacs_index *idx)
{
    return idx->defers_flush;
}

pacs_err pacs_index__unflushed_add(pacs_index *idx, pacs_db *db, const char *object,
                                   const char *old_object, int64_t *id, pacs_errinfo *ei)
{
    pacs_index__result r;
    pacs_err err = pacs_index__run(idx, db, PACS_SQL_UNFLUSHED_ADD,
                                   "INSERT INTO unflushed(object, old_object) VALUES($1,$2)"
                                   " RETURNING id",
                                   &r, 1, ei, "ss", object, old_object);
    if (err == PACS_OK) {
        *id = r.v[0];
    }
    return err;
}

void pacs_index_flushed(pacs_index *idx, int64_t upto)
{
    int64_t cur = atomic_load(&idx->flushed_upto);
    while (cur < upto && !atomic_compare_exchange_weak(&idx->flushed_upto, &cur, upto)) {
    }
}

/* On the writer, inside a batch's transaction: a failure leaves the records for later. */
void pacs_index__unflushed_forget(pacs_index *idx, pacs_db *db)
{
    int64_t upto = atomic_load(&idx->flushed_upto);
    if (upto <= idx->cleared_upto) {
        return;
    }
    idx->db->exec(db, "SAVEPOINT forget", NULL);
    if (pacs_index__run(idx, db, PACS_SQL_UNFLUSHED_CLEAR, "DELETE FROM unflushed WHERE id<=$1",
                        NULL, 0, NULL, "i", (long long)upto) == PACS_OK) {
        idx->db->exec(db, "RELEASE forget", NULL);
        idx->cleared_upto = upto;
    } else {
        idx->db->exec(db, "ROLLBACK TO forget", NULL);
        idx->db->exec(db, "RELEASE forget", NULL);
    }
}

typedef struct record_rows {
    pacs_unflushed_cb cb;
    void *ctx;
} record_rows;

static int record_row(void *ctx, const char *object, uint64_t id, const char *old_object)
{
    record_rows *r = ctx;
    return r->cb(r->ctx, (int64_t)id, object, old_object);
}

pacs_err pacs_index_unflushed(pacs_index *idx, pacs_unflushed_cb cb, void *ctx, pacs_errinfo *ei)
{
    record_rows r = {cb, ctx};
    return pacs_index__each_object(idx, PACS_SQL_UNFLUSHED_LIST,
                                   "SELECT object, id, old_object FROM unflushed ORDER BY id",
                                   record_row, &r, ei, "");
}

typedef struct drop_args {
    const char *object, *old;
    uint64_t n;
} drop_args;

/* Committed unflushed (its flush may be what failed), so it records the object again, under
 * a number no earlier flush covers: the record outlives the removal until a flush makes that
 * durable, and a start-up after a power cut checks the object again. */
static pacs_err drop_object(pacs_index *idx, pacs_db *db, void *ctx, pacs_errinfo *ei)
{
    drop_args *a = ctx;
    a->n = 0;
    int64_t id = 0;
    pacs_err err = pacs_index__unflushed_add(idx, db, a->object, a->old, &id, ei);
    while (err == PACS_OK) {
        pacs_index__result r;
        err = pacs_index__run(idx, db, PACS_SQL_INSTANCE_OF_OBJECT,
                              "SELECT pk FROM instances WHERE object=$1 LIMIT 1", &r, 1, ei, "s",
                              a->object);
        if (err != PACS_OK || !r.found) {
            return err;
        }
        err = pacs_index__remove_instance(idx, db, r.v[0], ei);
        a->n += err == PACS_OK;
    }
    return err;
}

pacs_err pacs_index_drop_object(pacs_index *idx, const char *object, const char *old, uint64_t *n,
                                pacs_errinfo *ei)
{
    drop_args a = {object, old ? old : "", 0};
    pacs_err err = pacs_index__write_lazy(idx, drop_object, &a, ei);
    if (err == PACS_OK && n) {
        *n = a.n;
    }
    return err;
}

static pacs_err clear_records(pacs_index *idx, pacs_db *db, void *ctx, pacs_errinfo *ei)
{
    return pacs_index__run(idx, db, PACS_SQL_UNFLUSHED_CLEAR, "DELETE FROM unflushed WHERE id<=$1",
                           NULL, 0, ei, "i", (long long)*(int64_t *)ctx);
}

pacs_err pacs_index_unflushed_clear(pacs_index *idx, int64_t upto, pacs_errinfo *ei)
{
    return pacs_index__write(idx, clear_records, &upto, ei);
}
