// SPDX-License-Identifier: MIT
/*
 * The PostgreSQL index backend (index.h, index_core.h), through libpq, for one archive served by
 * several pacsd nodes: the driver (statements kept prepared per connection, results streamed
 * one row at a time in binary, so a large answer is never held whole), the connections (one
 * writer per process for the core's group commit, a bounded pool for the rest), the schema's
 * migrations, PostgreSQL's dialect, bulk loads (one transaction from open to finish) and which
 * failures make a batch run again. Everything the index does is in the core (index.c and the
 * files it names), written once for both backends.
 *
 * Between nodes: rows that several nodes write are serialised by row locks; a batch that
 * PostgreSQL aborts for a deadlock, a serialisation failure or a unique-key race with another
 * node runs again whole (every job is idempotent); forwarding entries are claimed with FOR
 * UPDATE SKIP LOCKED and leased; objects about to be referenced carry intents, released under
 * advisory locks (index_nodes.c). The migrations run at open under an advisory lock, so nodes
 * starting together migrate once. Text columns are COLLATE "C": comparisons, ranges, ordering
 * and LIKE prefixes behave byte for byte as in SQLite, and plain btree indexes serve prefixes.
 *
 * Thread-safe: the pool has a mutex; a connection is used by one thread at a time.
 */
#include <arpa/inet.h>
#include <endian.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pacs/base/log.h"
#include "storage/index_core.h"

#define POOL_DEFAULT 8
#define POOL_WAIT_SECONDS 60
#define FWD_LEASE 300 /* default claim_seconds */
#define BATCH_TRIES 10
#define MIGRATION_LOCK "482670244708" /* 0x7061637364, "pacsd" */

/* ---- the dialect ---- */

static const pacs_sql_dialect dialect = {
    .name = "postgresql",
    .numbered_params = 1,
    .like_patterns = 1,
    .strpos = "strpos",
    .no_limit = NULL,
    .explicit_nulls = 1,
    .name_fts = NULL,
    .date_walk = NULL,
    .begin = "BEGIN",
    .for_update = " FOR UPDATE",
    .now_stamp = "to_char(now() AT TIME ZONE 'UTC', 'YYYYMMDDHH24MISS')",
    .string_agg = 1,
    .jsonb = 1,
    .shared = 1,
};

/* ---- the schema ---- */

/* Version 1 has the content of SQLite's version 1, in PostgreSQL's types; version 2 adds the
 * intents several nodes need and the indexes that keep C-FIND and QIDO fast at tens of millions
 * of instances; version 3 the share links (SQLite's version 4); version 4 the orders (SQLite's 5).
 * A released entry is never edited. */
static const pacs_index__migration migrations[] = {
    {1, "patients, studies, series, instances, sweep records, forwarding queue",
     "CREATE TABLE IF NOT EXISTS patients("
     " pk BIGSERIAL PRIMARY KEY, patient_id TEXT COLLATE \"C\" NOT NULL,"
     " issuer TEXT COLLATE \"C\" NOT NULL, name TEXT COLLATE \"C\", name_ci TEXT COLLATE \"C\","
     " name_fold TEXT COLLATE \"C\", birth_date TEXT COLLATE \"C\", sex TEXT COLLATE \"C\","
     " num_studies BIGINT NOT NULL DEFAULT 0, num_series BIGINT NOT NULL DEFAULT 0,"
     " num_instances BIGINT NOT NULL DEFAULT 0, attrs TEXT, UNIQUE(patient_id, issuer));"
     "CREATE TABLE IF NOT EXISTS studies("
     " pk BIGSERIAL PRIMARY KEY, patient_pk BIGINT NOT NULL,"
     " study_uid TEXT COLLATE \"C\" NOT NULL UNIQUE, study_date TEXT COLLATE \"C\","
     " study_time TEXT COLLATE \"C\", accession TEXT COLLATE \"C\", study_id TEXT COLLATE \"C\","
     " ref_physician TEXT COLLATE \"C\", ref_physician_ci TEXT COLLATE \"C\","
     " ref_physician_fold TEXT COLLATE \"C\", description TEXT COLLATE \"C\","
     " patient_name TEXT COLLATE \"C\", patient_name_ci TEXT COLLATE \"C\","
     " patient_name_fold TEXT COLLATE \"C\", patient_id TEXT COLLATE \"C\","
     " issuer TEXT COLLATE \"C\", birth_date TEXT COLLATE \"C\", sex TEXT COLLATE \"C\","
     " modalities TEXT COLLATE \"C\", sop_classes TEXT COLLATE \"C\","
     " num_series BIGINT NOT NULL DEFAULT 0, num_instances BIGINT NOT NULL DEFAULT 0,"
     " attrs TEXT);" PACS_INDEX__V1_STUDY_INDEXES "CREATE TABLE IF NOT EXISTS series("
     " pk BIGSERIAL PRIMARY KEY, study_pk BIGINT NOT NULL,"
     " series_uid TEXT COLLATE \"C\" NOT NULL UNIQUE, modality TEXT COLLATE \"C\","
     " series_number BIGINT, description TEXT COLLATE \"C\", body_part TEXT COLLATE \"C\","
     " series_date TEXT COLLATE \"C\", series_time TEXT COLLATE \"C\","
     " pps_start_date TEXT COLLATE \"C\", pps_start_time TEXT COLLATE \"C\","
     " num_instances BIGINT NOT NULL DEFAULT 0, attrs TEXT);"
     "CREATE INDEX IF NOT EXISTS series_study ON series(study_pk);"
     "CREATE TABLE IF NOT EXISTS instances("
     " pk BIGSERIAL PRIMARY KEY, series_pk BIGINT NOT NULL,"
     " sop_uid TEXT COLLATE \"C\" NOT NULL UNIQUE, sop_class TEXT COLLATE \"C\","
     " instance_number BIGINT, ts TEXT COLLATE \"C\", object TEXT COLLATE \"C\" NOT NULL,"
     " size BIGINT NOT NULL, frames BIGINT, rows BIGINT, columns BIGINT, bits_allocated BIGINT,"
     " content_date TEXT COLLATE \"C\", content_time TEXT COLLATE \"C\","
     " source_aet TEXT COLLATE \"C\", received TEXT COLLATE \"C\", pixels BYTEA, metadata BYTEA);"
     "CREATE INDEX IF NOT EXISTS instances_series ON instances(series_pk, instance_number);"
     "CREATE INDEX IF NOT EXISTS instances_object ON instances(object);"
     "CREATE TABLE IF NOT EXISTS sweep(object TEXT COLLATE \"C\" PRIMARY KEY);"
     "CREATE TABLE IF NOT EXISTS forward_queue("
     " id BIGSERIAL PRIMARY KEY, dest TEXT COLLATE \"C\" NOT NULL,"
     " rule TEXT COLLATE \"C\" NOT NULL, sop_uid TEXT COLLATE \"C\" NOT NULL,"
     " object TEXT COLLATE \"C\" NOT NULL, state INTEGER NOT NULL,"
     " attempts INTEGER NOT NULL DEFAULT 0, next_try BIGINT NOT NULL, created BIGINT NOT NULL,"
     " updated BIGINT NOT NULL, error TEXT, UNIQUE(sop_uid, dest));"
     "CREATE INDEX IF NOT EXISTS forward_due ON forward_queue(state, next_try);"},
    {2, "intents of several nodes; indexes for large archives",
     /* An object a node is about to refer to (see index.h). */
     "CREATE TABLE IF NOT EXISTS object_intents("
     " object TEXT COLLATE \"C\" NOT NULL, node TEXT COLLATE \"C\" NOT NULL,"
     " since BIGINT NOT NULL, n INTEGER NOT NULL, PRIMARY KEY(object, node));"
     /* The study list, newest first, read in index order: QIDO's /studies?limit=... stops
      * after `limit` rows instead of sorting the whole table. */
     "DROP INDEX IF EXISTS studies_date;"
     "CREATE INDEX IF NOT EXISTS studies_date ON studies("
     " study_date DESC NULLS LAST, study_time DESC NULLS LAST, pk DESC);"
     "CREATE INDEX IF NOT EXISTS studies_ref_fold ON studies(ref_physician_fold);"
     "CREATE INDEX IF NOT EXISTS studies_ref_ci ON studies(ref_physician_ci);"
     "CREATE INDEX IF NOT EXISTS series_modality ON series(modality);"
     /* Names matched anywhere (OHIF's PatientName=*text*) and word prefixes (fuzzy matching):
      * trigram indexes, which serve LIKE '%text%'. */
     "CREATE EXTENSION IF NOT EXISTS pg_trgm;"
     "CREATE INDEX IF NOT EXISTS studies_name_fold_trgm ON studies"
     " USING gin (patient_name_fold gin_trgm_ops);"
     "CREATE INDEX IF NOT EXISTS studies_name_ci_trgm ON studies"
     " USING gin (patient_name_ci gin_trgm_ops);"
     "CREATE INDEX IF NOT EXISTS studies_name_words_trgm ON studies"
     " USING gin ((' ' || patient_name_fold) gin_trgm_ops);"
     "CREATE INDEX IF NOT EXISTS studies_description_trgm ON studies"
     " USING gin (description gin_trgm_ops);"},
    {3, "share links' records (until now in each node's DATA/shares.db)",
     "CREATE TABLE IF NOT EXISTS shares("
     " pk BIGSERIAL PRIMARY KEY, id TEXT COLLATE \"C\" NOT NULL UNIQUE,"
     " token_sha256 BYTEA NOT NULL, study_uid TEXT COLLATE \"C\" NOT NULL,"
     " created_at BIGINT NOT NULL, expires_at BIGINT NOT NULL,"
     " creator TEXT NOT NULL DEFAULT '', revoked INTEGER NOT NULL DEFAULT 0,"
     " revoked_at BIGINT NOT NULL DEFAULT 0);"
     "CREATE INDEX IF NOT EXISTS shares_study ON shares(study_uid);"},
    {4, "the HIS's patients and identifiers, orders, MPPS instances",
     PACS_INDEX__ORDERS_TABLES("BIGSERIAL PRIMARY KEY", "BIGINT", "TEXT COLLATE \"C\"")},
    {5, "the studies reconciled to an order",
     PACS_INDEX__ORDER_LINKS("BIGINT", "TEXT COLLATE \"C\"")},
    {6, "the series an order's MPPS performed",
     PACS_INDEX__ORDER_SERIES("BIGINT", "TEXT COLLATE \"C\"")},
    {7, "the words of the HIS's patients' names, for the worklist",
     PACS_INDEX__PATIENT_WORDS("BIGINT", "TEXT COLLATE \"C\"")},
    {8, "built-in users (the login page)", PACS_INDEX__USERS("BIGINT", "TEXT COLLATE \"C\"")},
    {9, "bytes and sending time of delivered forwards", PACS_INDEX__FWD_COUNTERS},
    {10, "the HTTP credential an instance came with (routes' study_from)",
     PACS_INDEX__SOURCE_HTTP("TEXT COLLATE \"C\"")},
    {11, "puts waiting for the object store's flush (one flush per instance)",
     PACS_INDEX__UNFLUSHED("BIGSERIAL PRIMARY KEY", "TEXT COLLATE \"C\"")},
    /* The planner estimates a pattern with a leading wildcard (OHIF's PatientName=*text*)
     * from the column's histogram; with the default 100 entries a name that 0.1% of studies
     * hold was guessed at 0.8%, enough to walk the date index and filter (45 ms warm at
     * 200,000 studies) instead of reading its ~200 studies through the trigram index (2.5 ms). */
    {12, "finer statistics of the patients' folded names",
     "ALTER TABLE studies ALTER COLUMN patient_name_fold SET STATISTICS 1000;"
     "ANALYZE studies;"},
};
#define N_MIGRATIONS (sizeof migrations / sizeof migrations[0])

/* ---- errors ---- */

static pacs_err map_state(const char *state)
{
    if (!state) {
        return PACS_EDB;
    }
    if (strcmp(state, "53100") == 0) {
        return PACS_ENOSPC;
    }
    if (strcmp(state, "53200") == 0) {
        return PACS_ENOMEM;
    }
    if (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0 || strcmp(state, "55P03") == 0) {
        return PACS_EBUSY;
    }
    if (strcmp(state, "42501") == 0 || strncmp(state, "28", 2) == 0) {
        return PACS_EDENIED;
    }
    if (strcmp(state, "23505") == 0) {
        return PACS_ECONFLICT;
    }
    return PACS_EDB;
}

/* Fills `ei` from a failed result (or the connection's message) and returns the code; the
 * SQLSTATE goes to `state`. */
static pacs_err pg_err(PGconn *c, const PGresult *r, char *state, pacs_errinfo *ei,
                       const char *what)
{
    const char *st = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    snprintf(state, 6, "%s", st ? st : "");
    const char *msg = r ? PQresultErrorMessage(r) : NULL;
    if (!msg || !*msg) {
        msg = c ? PQerrorMessage(c) : "no connection";
    }
    char clean[200];
    snprintf(clean, sizeof clean, "%s", msg);
    clean[strcspn(clean, "\n")] = '\0';
    return pacs_errf(ei, map_state(st), "index %s: %s", what, clean);
}

/* ---- the driver ---- */

struct pacs_db {
    pacs_db_kept kept; /* first: the core's */
    PGconn *c;
    char state[6]; /* SQLSTATE of the last failure */
};

enum { P_TEXT, P_INT, P_BYTES };

struct pacs_db_stmt {
    pacs_db *db;
    int slot;  /* kept as prepared statement "p<slot>"; -1: `sql` for this use */
    char *sql; /* with slot -1 */
    int n, cap;
    const char **vals;
    int *lens, *fmts, *kinds;
    char (*ints)[24];
    int sent, ended;
    PGresult *r; /* the current row */
    uint64_t changes;
    char (*cols)[24]; /* integer columns as decimal text */
    int n_cols;
};

static void pq_release(pacs_db_stmt *st)
{
    PQclear(st->r);
    free(st->sql);
    free(st->vals);
    free(st->lens);
    free(st->fmts);
    free(st->kinds);
    free(st->ints);
    free(st->cols);
    free(st);
}

static pacs_err pq_prepare(pacs_db *db, int slot, const char *sql, pacs_db_stmt **out,
                           pacs_errinfo *ei)
{
    pacs_db_stmt *st = calloc(1, sizeof *st);
    if (!st) {
        return pacs_errf(ei, PACS_ENOMEM, "out of memory");
    }
    st->db = db;
    st->slot = slot;
    if (slot < 0) {
        st->sql = strdup(sql);
        if (!st->sql) {
            free(st);
            return pacs_errf(ei, PACS_ENOMEM, "out of memory");
        }
        *out = st;
        return PACS_OK;
    }
    /* Once per connection: one round trip now, none later. */
    char name[16];
    snprintf(name, sizeof name, "p%d", slot);
    PGresult *r = PQprepare(db->c, name, sql, 0, NULL);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) {
        pacs_err err = pg_err(db->c, r, db->state, ei, "prepare");
        PQclear(r);
        free(st);
        return err;
    }
    PQclear(r);
    *out = st;
    return PACS_OK;
}

/* Room for parameter `i` (from 1); 0 when out of memory (the parameter is then dropped and
 * the statement fails on the server for want of it). */
static int param(pacs_db_stmt *st, int i, int kind)
{
    if (i > st->cap) {
        int cap = i < 16 ? 16 : i * 2;
        const char **v = realloc(st->vals, (size_t)cap * sizeof *v);
        st->vals = v ? v : st->vals;
        int *l = realloc(st->lens, (size_t)cap * sizeof *l);
        st->lens = l ? l : st->lens;
        int *f = realloc(st->fmts, (size_t)cap * sizeof *f);
        st->fmts = f ? f : st->fmts;
        int *k = realloc(st->kinds, (size_t)cap * sizeof *k);
        st->kinds = k ? k : st->kinds;
        char(*n)[24] = realloc(st->ints, (size_t)cap * sizeof *n);
        st->ints = n ? n : st->ints;
        if (!v || !l || !f || !k || !n) {
            return 0;
        }
        st->cap = cap;
    }
    for (int j = st->n; j < i; j++) {
        st->vals[j] = NULL;
        st->lens[j] = st->fmts[j] = 0;
        st->kinds[j] = P_TEXT;
    }
    st->n = i > st->n ? i : st->n;
    st->kinds[i - 1] = kind;
    st->lens[i - 1] = 0;
    st->fmts[i - 1] = kind == P_BYTES;
    return 1;
}

static void pq_disconnect(pacs_db *db)
{
    PQfinish(db->c);
    free(db);
}

static void pq_bind_int(pacs_db_stmt *st, int i, long long v)
{
    if (param(st, i, P_INT)) {
        snprintf(st->ints[i - 1], sizeof st->ints[i - 1], "%lld", v);
    }
}

static void pq_bind_text(pacs_db_stmt *st, int i, const char *s)
{
    if (param(st, i, P_TEXT)) {
        st->vals[i - 1] = s;
    }
}

static void pq_bind_blob(pacs_db_stmt *st, int i, const void *p, size_t n)
{
    if (param(st, i, P_BYTES)) {
        st->vals[i - 1] = p;
        st->lens[i - 1] = (int)n;
    }
}

/* Drains what is left of a result, so that the connection takes the next statement. */
static void drain(pacs_db *db)
{
    PGresult *r;
    while ((r = PQgetResult(db->c)) != NULL) {
        PQclear(r);
    }
}

static int pq_step(pacs_db_stmt *st, pacs_errinfo *ei)
{
    PGconn *c = st->db->c;
    if (!st->sent) {
        for (int i = 0; i < st->n; i++) {
            if (st->kinds[i] == P_INT) {
                st->vals[i] = st->ints[i];
            }
        }
        char name[16];
        snprintf(name, sizeof name, "p%d", st->slot);
        int ok = st->slot >= 0
                     ? PQsendQueryPrepared(c, name, st->n, st->vals, st->lens, st->fmts, 1)
                     : PQsendQueryParams(c, st->sql, st->n, NULL, st->vals, st->lens, st->fmts, 1);
        st->sent = 1;
        if (!ok || !PQsetSingleRowMode(c)) {
            st->ended = 1;
            pg_err(c, NULL, st->db->state, ei, "statement");
            drain(st->db);
            return -1;
        }
    }
    if (st->ended) {
        return 0;
    }
    PQclear(st->r);
    st->r = PQgetResult(c);
    ExecStatusType s = st->r ? PQresultStatus(st->r) : PGRES_COMMAND_OK;
    if (s == PGRES_SINGLE_TUPLE) {
        int nf = PQnfields(st->r);
        if (nf > st->n_cols) {
            char(*g)[24] = realloc(st->cols, (size_t)nf * sizeof *g);
            if (!g) {
                pacs_errf(ei, PACS_ENOMEM, "out of memory");
                return -1;
            }
            st->cols = g;
            st->n_cols = nf;
        }
        return 1;
    }
    st->ended = 1;
    if (s == PGRES_TUPLES_OK || s == PGRES_COMMAND_OK) {
        st->changes = st->r ? strtoull(PQcmdTuples(st->r), NULL, 10) : 0;
        PQclear(st->r);
        st->r = NULL;
        drain(st->db);
        return 0;
    }
    pg_err(c, st->r, st->db->state, ei, "statement");
    PQclear(st->r);
    st->r = NULL;
    drain(st->db);
    return -1;
}

/* A binary integer or boolean column's value; 0 in `*ok` for other types. */
static long long binary_int(const PGresult *r, int col, int *ok)
{
    const char *v = PQgetvalue(r, 0, col);
    int n = PQgetlength(r, 0, col);
    Oid type = PQftype(r, col);
    *ok = 1;
    if (type == 20 && n == 8) {
        uint64_t b;
        memcpy(&b, v, 8);
        return (long long)be64toh(b);
    }
    if (type == 23 && n == 4) {
        uint32_t b;
        memcpy(&b, v, 4);
        return (int32_t)ntohl(b);
    }
    if (type == 21 && n == 2) {
        uint16_t b;
        memcpy(&b, v, 2);
        return (int16_t)ntohs(b);
    }
    if (type == 16 && n == 1) {
        return v[0] != 0;
    }
    *ok = 0;
    return 0;
}

/* Bytes as sent; binary integers and booleans as decimal text, as SQLite hands them over. */
static const char *pq_column(void *ctx, int col, size_t *len)
{
    pacs_db_stmt *st = ctx;
    if (PQgetisnull(st->r, 0, col)) {
        return NULL;
    }
    int ok = 0;
    long long x = binary_int(st->r, col, &ok);
    if (ok && col < st->n_cols) {
        *len = (size_t)snprintf(st->cols[col], sizeof st->cols[col], "%lld", x);
        return st->cols[col];
    }
    *len = (size_t)PQgetlength(st->r, 0, col);
    return PQgetvalue(st->r, 0, col);
}

static long long pq_column_int(pacs_db_stmt *st, int col)
{
    if (PQgetisnull(st->r, 0, col)) {
        return 0;
    }
    int ok = 0;
    long long x = binary_int(st->r, col, &ok);
    return ok ? x : strtoll(PQgetvalue(st->r, 0, col), NULL, 10);
}

static uint64_t pq_changes(pacs_db_stmt *st)
{
    return st->changes;
}

static void pq_done(pacs_db_stmt *st)
{
    if (!st) {
        return;
    }
    PGconn *c = st->db->c;
    PQclear(st->r);
    st->r = NULL;
    if (st->sent && !st->ended) {
        /* Stopped early: cancel what the server is still sending, and drain it. */
        if (PQisBusy(c) || PQtransactionStatus(c) == PQTRANS_ACTIVE) {
            PGcancel *cn = PQgetCancel(c);
            char buf[128];
            if (cn) {
                PQcancel(cn, buf, sizeof buf);
                PQfreeCancel(cn);
            }
        }
        drain(st->db);
    }
    if (st->slot < 0) {
        pq_release(st);
        return;
    }
    /* As SQLite's clear_bindings: what the next use does not bind is NULL. */
    for (int i = 0; i < st->n; i++) {
        st->vals[i] = NULL;
        st->lens[i] = st->fmts[i] = 0;
        st->kinds[i] = P_TEXT;
    }
    st->sent = st->ended = 0;
    st->changes = 0;
}

static pacs_err pq_exec(pacs_db *db, const char *sql, pacs_errinfo *ei)
{
    PGresult *r = PQexec(db->c, sql);
    ExecStatusType s = PQresultStatus(r);
    pacs_err err = PACS_OK;
    if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK) {
        err = pg_err(db->c, r, db->state, ei, sql);
    }
    PQclear(r);
    return err;
}

/* PostgreSQL rolls back only the failed statement's work (to the savepoint). */
static int pq_txn_lost(pacs_db *db)
{
    return PQtransactionStatus(db->c) == PQTRANS_IDLE;
}

static const pacs_db_driver driver = PACS_DB_DRIVER(pq);

/* ---- connections ---- */

typedef struct pg_index {
    pacs_index core;
    char *conninfo;
    int bulk_open;   /* the bulk transaction has begun */
    int bulk_failed; /* ... and something in it failed for good */
    pacs_db *writer;
    pthread_mutex_t pool_mu;
    pthread_cond_t pool_cv;
    pacs_db **idle;
    size_t n_idle, n_open, pool_max;
} pg_index;

/* Server notices ("relation ... already exists, skipping") are not errors: DEBUG only. */
static void on_notice(void *arg, const char *message)
{
    (void)arg;
    pacs_log(PACS_LOG_DEBUG, "index", "postgresql: %.*s", (int)strcspn(message, "\n"), message);
}

static pacs_err connect_db(const char *conninfo, int reader, pacs_db **out, pacs_errinfo *ei)
{
    pacs_db *db = calloc(1, sizeof *db);
    if (!db) {
        return pacs_errf(ei, PACS_ENOMEM, "out of memory");
    }
    /* The URI's own settings win over application_name; the encoding is always UTF-8. */
    const char *keys[] = {"application_name", "dbname", "client_encoding", "connect_timeout", NULL};
    const char *vals[] = {"pacsd", conninfo, "UTF8", "10", NULL};
    db->c = PQconnectdbParams(keys, vals, 1);
    if (!db->c || PQstatus(db->c) != CONNECTION_OK) {
        char msg[200];
        snprintf(msg, sizeof msg, "%s", db->c ? PQerrorMessage(db->c) : "out of memory");
        msg[strcspn(msg, "\n")] = '\0';
        pacs_db_close(&driver, db);
        return pacs_errf(ei, PACS_EDB, "cannot connect to the PostgreSQL index: %s", msg);
    }
    PQsetNoticeProcessor(db->c, on_notice, NULL);
    /* Pooled connections also record intents, claims and sweep outcomes: all are either redone
     * after a database crash or concern ingests that fail with it, so they need not wait for a
     * flush. */
    pacs_err err = pq_exec(db,
                           reader ? "SET synchronous_commit TO off; SET statement_timeout TO 0"
                                  : "SET statement_timeout TO 0",
                           ei);
    if (err != PACS_OK) {
        pacs_db_close(&driver, db);
        return err;
    }
    *out = db;
    return PACS_OK;
}

static pacs_err pq_conn_get(pacs_index *idx, pacs_db **out, pacs_errinfo *ei)
{
    pg_index *pi = (pg_index *)idx;
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += POOL_WAIT_SECONDS;
    pthread_mutex_lock(&pi->pool_mu);
    while (pi->n_idle == 0 && pi->n_open >= pi->pool_max) {
        if (pthread_cond_timedwait(&pi->pool_cv, &pi->pool_mu, &until) != 0) {
            pthread_mutex_unlock(&pi->pool_mu);
            return pacs_errf(ei, PACS_EBUSY, "no index connection free within %d s",
                             POOL_WAIT_SECONDS);
        }
    }
    if (pi->n_idle > 0) {
        *out = pi->idle[--pi->n_idle];
        pthread_mutex_unlock(&pi->pool_mu);
        return PACS_OK;
    }
    pi->n_open++;
    pthread_mutex_unlock(&pi->pool_mu);
    pacs_err err = connect_db(pi->conninfo, 1, out, ei);
    if (err != PACS_OK) {
        pthread_mutex_lock(&pi->pool_mu);
        pi->n_open--;
        pthread_cond_signal(&pi->pool_cv);
        pthread_mutex_unlock(&pi->pool_mu);
    }
    return err;
}

/* Returns a connection to the pool; a broken one (or one left inside a transaction) is closed
 * so that the next caller opens a fresh one. */
static void pq_conn_put(pacs_index *idx, pacs_db *db)
{
    pg_index *pi = (pg_index *)idx;
    if (!db) {
        return;
    }
    int bad = PQstatus(db->c) != CONNECTION_OK || PQtransactionStatus(db->c) != PQTRANS_IDLE;
    pthread_mutex_lock(&pi->pool_mu);
    if (bad) {
        pi->n_open--;
    } else {
        pi->idle[pi->n_idle++] = db;
        db = NULL;
    }
    pthread_cond_signal(&pi->pool_cv);
    pthread_mutex_unlock(&pi->pool_mu);
    pacs_db_close(&driver, db);
}

/* ---- the writer's batches ---- */

static int retryable(const char *state)
{
    return strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0 ||
           strcmp(state, "23505") == 0 || strncmp(state, "08", 2) == 0;
}

/* Makes sure the writer has a working connection. */
static pacs_err writer_connection(pg_index *pi, pacs_errinfo *ei)
{
    if (pi->writer && PQstatus(pi->writer->c) == CONNECTION_OK) {
        return PACS_OK;
    }
    if (pi->core.bulk && pi->bulk_open) {
        pi->bulk_failed = 1;
        return pacs_errf(ei, PACS_EDB, "the connection of a bulk load was lost");
    }
    pacs_db_close(&driver, pi->writer);
    pi->writer = NULL;
    return connect_db(pi->conninfo, 0, &pi->writer, ei);
}

static pacs_err pq_batch_begin(pacs_index *idx, pacs_db **out, int lazy, pacs_errinfo *ei)
{
    (void)lazy; /* the server's commits are its own to flush */
    pg_index *pi = (pg_index *)idx;
    pacs_err err = writer_connection(pi, ei);
    *out = pi->writer;
    if (err != PACS_OK) {
        return err;
    }
    if (!idx->bulk) {
        return pq_exec(pi->writer, "BEGIN", ei);
    }
    if (pi->bulk_failed) {
        return pacs_errf(ei, PACS_EDB, "an earlier part of this bulk load failed");
    }
    if (pi->bulk_open) {
        return PACS_OK; /* the one transaction of the load goes on */
    }
    err = pq_exec(pi->writer, "BEGIN", ei);
    if (err == PACS_OK && (idx->bulk & PACS_INDEX_BULK_EMPTY)) {
        err = pq_exec(pi->writer,
                      "DELETE FROM instances; DELETE FROM series; DELETE FROM studies;"
                      " DELETE FROM patients; DELETE FROM sweep",
                      ei);
    }
    if (err == PACS_OK) {
        pi->bulk_open = 1;
    } else {
        pi->bulk_failed = 1;
    }
    return err;
}

static pacs_err pq_batch_commit(pacs_index *idx, pacs_db *db, int finish, pacs_errinfo *ei)
{
    pg_index *pi = (pg_index *)idx;
    if (idx->bulk && !finish) {
        return PACS_OK; /* the bulk transaction stays open */
    }
    pacs_err err = pq_exec(db, "COMMIT", ei);
    if (idx->bulk) {
        pi->bulk_open = 0;
        pi->bulk_failed = err != PACS_OK;
    }
    return err;
}

static int pq_batch_retry(pacs_index *idx, int attempt)
{
    pg_index *pi = (pg_index *)idx;
    return !idx->bulk && attempt < BATCH_TRIES && pi->writer && retryable(pi->writer->state);
}

static void pq_close(pacs_index *idx)
{
    pg_index *pi = (pg_index *)idx;
    pacs_index__fini(idx);
    if (pi->writer && pi->bulk_open) {
        pq_exec(pi->writer, "ROLLBACK", NULL); /* a bulk load never finished */
    }
    pacs_db_close(&driver, pi->writer);
    for (size_t i = 0; i < pi->n_idle; i++) {
        pacs_db_close(&driver, pi->idle[i]);
    }
    free(pi->idle);
    pthread_mutex_destroy(&pi->pool_mu);
    pthread_cond_destroy(&pi->pool_cv);
    free(pi->conninfo);
    free(pi);
}

static const pacs_index__backend backend = PACS_INDEX__BACKEND("postgresql", &dialect, &driver, pq);

pacs_err pacs_index_pg_open(const char *conninfo, const pacs_index_options *o, pacs_index **out,
                            pacs_errinfo *ei)
{
    pg_index *pi = calloc(1, sizeof *pi);
    if (!pi) {
        return pacs_errf(ei, PACS_ENOMEM, "out of memory");
    }
    pacs_index__init(&pi->core, &backend, o->node, o->claim_seconds ? o->claim_seconds : FWD_LEASE);
    pi->core.bulk = (o->bulk & PACS_INDEX_BULK) ? o->bulk : 0;
    pthread_mutex_init(&pi->pool_mu, NULL);
    pthread_cond_init(&pi->pool_cv, NULL);
    pi->pool_max = o->pool ? o->pool : POOL_DEFAULT;
    pi->conninfo = strdup(conninfo);
    pi->idle = calloc(pi->pool_max, sizeof *pi->idle);
    if (!pi->conninfo || !pi->idle) {
        pq_close(&pi->core);
        return pacs_errf(ei, PACS_ENOMEM, "out of memory");
    }
    pacs_err err = connect_db(conninfo, 0, &pi->writer, ei);
    if (err == PACS_OK) {
        const char *enc = PQparameterStatus(pi->writer->c, "server_encoding");
        if (enc && strcmp(enc, "UTF8") != 0) {
            err = pacs_errf(ei, PACS_EUNSUPPORTED,
                            "the index database must be encoded in UTF8, not %s", enc);
        }
    }
    /* Once, whoever else is starting: under an advisory lock. */
    if (err == PACS_OK) {
        err = pacs_index__migrate(&pi->core, pi->writer, migrations, N_MIGRATIONS,
                                  "BEGIN; SELECT pg_advisory_xact_lock(" MIGRATION_LOCK ");"
                                  " CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY,"
                                  " value TEXT)",
                                  0, 1, "backend=postgresql", ei);
    }
    return pacs_index__opened(&pi->core, err, out, ei);
}
