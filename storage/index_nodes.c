// SPDX-License-Identifier: MIT
/*
 * Several processes (nodes) on one index (index.h): intents and the release of objects. On a
 * shared index (a dialect with advisory locks: PostgreSQL) a node records an intent for an
 * object before committing it, its put removes the intent in the same transaction, and an
 * object is deleted only under its advisory lock when neither an instance nor an intent names
 * it. On an index one process uses (SQLite), intents are not kept and the caller's in-flight
 * set keeps its own ingests out.
 *
 * Load: one intent per stored object on a shared index (not flushed: a database crash fails the
 * ingest that needed it anyway); releases are rare. Thread-safe: pooled connections.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "storage/index_core.h"

int pacs_index_shared(const pacs_index *idx)
{
    return idx->d->shared;
}

/* The advisory lock of an object: its key's first 64 bits. */
static long long object_lock_key(const char *object)
{
    char head[17];
    snprintf(head, sizeof head, "%s", object);
    return (long long)strtoull(head, NULL, 16);
}

pacs_err pacs_index__intent_done(pacs_index *idx, pacs_db *db, const char *object, pacs_errinfo *ei)
{
    if (!idx->d->shared) {
        return PACS_OK;
    }
    return pacs_index__run(idx, db, PACS_SQL_INTENT_DONE,
                           "WITH d AS (DELETE FROM object_intents WHERE object=$1 AND node=$2"
                           " AND n<=1 RETURNING 1)"
                           " UPDATE object_intents SET n=n-1 WHERE object=$1 AND node=$2 AND n>1",
                           NULL, 0, ei, "ss", object, idx->node);
}

pacs_err pacs_index_intent_add(pacs_index *idx, const char *object, pacs_errinfo *ei)
{
    if (!idx->d->shared) {
        return PACS_OK;
    }
    pacs_db *db = NULL;
    pacs_err err = idx->be->conn_get(idx, &db, ei);
    if (err != PACS_OK) {
        return err;
    }
    /* The shared lock waits for a release of the same object in progress: after it, the
     * object is either gone (and will be written again) or kept for this intent. */
    err = pacs_index__run(idx, db, PACS_SQL_INTENT_ADD,
                          "WITH l AS (SELECT pg_advisory_xact_lock_shared($1::bigint))"
                          " INSERT INTO object_intents(object, node, since, n)"
                          " SELECT $2, $3, $4::bigint, 1 FROM l"
                          " ON CONFLICT(object, node) DO UPDATE SET n = object_intents.n + 1,"
                          " since = excluded.since",
                          NULL, 0, ei, "issi", object_lock_key(object), object, idx->node,
                          (long long)time(NULL));
    idx->be->conn_put(idx, db);
    return err;
}

pacs_err pacs_index_intent_clear(pacs_index *idx, const char *object, pacs_errinfo *ei)
{
    if (!idx->d->shared) {
        return PACS_OK;
    }
    pacs_db *db = NULL;
    pacs_err err = idx->be->conn_get(idx, &db, ei);
    if (err == PACS_OK) {
        err = pacs_index__intent_done(idx, db, object, ei);
        idx->be->conn_put(idx, db);
    }
    return err;
}

pacs_err pacs_index_intents_drop(pacs_index *idx, const char *node, int64_t older_than,
                                 pacs_object_cb cb, void *ctx, pacs_errinfo *ei)
{
    if (!idx->d->shared) {
        return PACS_OK;
    }
    return pacs_index__each_object(idx, PACS_SQL_INTENTS_DROP,
                                   "DELETE FROM object_intents WHERE ($1 = '' OR node = $1)"
                                   " AND ($2::bigint = 0 OR since < $2::bigint)"
                                   " RETURNING object, since, node",
                                   cb, ctx, ei, "si", node ? node : "", (long long)older_than);
}

/* The release where one process uses the index: the caller's in-flight set already keeps its
 * own ingests out. */
static pacs_err release_alone(pacs_index *idx, const char *object, pacs_release_cb rm, void *ctx,
                              int *removed, pacs_errinfo *ei)
{
    int referenced = 1;
    pacs_err err = pacs_index_object_referenced(idx, object, &referenced, ei);
    if (err == PACS_OK && !referenced) {
        err = rm(ctx, object, ei);
        *removed = err == PACS_OK;
    }
    if (err == PACS_OK) {
        err = pacs_index_sweep_done(idx, object, ei);
    }
    return err;
}

pacs_err pacs_index_object_release(pacs_index *idx, const char *object, pacs_release_cb rm,
                                   void *ctx, int *removed, pacs_errinfo *ei)
{
    *removed = 0;
    if (!idx->d->shared) {
        return release_alone(idx, object, rm, ctx, removed, ei);
    }
    pacs_db *db = NULL;
    pacs_err err = idx->be->conn_get(idx, &db, ei);
    if (err != PACS_OK) {
        return err;
    }
    pacs_index__result r;
    err = idx->db->exec(db, "BEGIN", ei);
    if (err == PACS_OK) {
        err = pacs_index__run(idx, db, PACS_SQL_OBJECT_LOCK,
                              "SELECT pg_advisory_xact_lock($1::bigint)", NULL, 0, ei, "i",
                              object_lock_key(object));
    }
    if (err == PACS_OK) {
        err = pacs_index__run(idx, db, PACS_SQL_OBJECT_BUSY,
                              "SELECT EXISTS(SELECT 1 FROM instances WHERE object=$1)"
                              " OR EXISTS(SELECT 1 FROM object_intents WHERE object=$1)",
                              &r, 1, ei, "s", object);
    }
    if (err == PACS_OK && !(r.found && r.v[0])) {
        err = rm(ctx, object, ei);
        *removed = err == PACS_OK;
    }
    if (err == PACS_OK) {
        err = pacs_index__run(idx, db, PACS_SQL_SWEEP_DONE, "DELETE FROM sweep WHERE object=$1",
                              NULL, 0, ei, "s", object);
    }
    if (err == PACS_OK) {
        err = idx->db->exec(db, "COMMIT", ei);
    } else {
        idx->db->exec(db, "ROLLBACK", NULL);
    }
    idx->be->conn_put(idx, db);
    return err;
}
