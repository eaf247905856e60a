// SPDX-License-Identifier: MIT
/*
 * The PostgreSQL index backend (index.h), through libpq, for one archive served by several
 * pacsd nodes. The same query model is compiled by the compiler SQLite uses (index_sql.h), in
 * PostgreSQL's dialect, with bound parameters only; rows are streamed (single-row mode), so a
 * large answer is never held whole.
 *
 * Load it bears: every store and query of every node. Writes (puts, removals, queue outcomes)
 * go to one writer thread per process that commits them in shared transactions (group commit;
 * a commit is durable when it returns, synchronous_commit as the server has it); each job runs
 * in its own savepoint, so one bad job fails alone. Nodes writing the same rows at once are
 * serialised by row locks; a batch that PostgreSQL aborts for a deadlock, a serialisation
 * failure or a unique-key race with another node is rolled back and run again whole, which is
 * safe because every job is idempotent. Reads take a connection from a bounded pool.
 *
 * Between nodes: forwarding-queue rows are claimed with SELECT ... FOR UPDATE SKIP LOCKED and
 * leased (next_try moved claim_seconds ahead) so exactly one node sends each, and another
 * takes them over only if that node dies; objects about to be referenced carry intents, and
 * an object is deleted only under its advisory lock when no instance and no intent names it.
 *
 * The schema is a list of versioned migrations run at open under an advisory lock, so nodes
 * starting together migrate once. Text columns are COLLATE "C": comparisons, ranges, ordering
 * and LIKE prefixes behave byte for byte as in SQLite, and plain btree indexes serve prefixes.
 *
 * Thread-safe: all entry points may be called from any thread.
 */
#include <arpa/inet.h>
#include <endian.h>
#include <libpq-fe.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pacs/base/log.h"
#include "storage/index.h"
#include "storage/index_queue.h"
#include "storage/index_sql.h"

#define BATCH_MAX 512
#define POOL_DEFAULT 8
#define POOL_WAIT_SECONDS 60
#define FWD_LEASE 300 /* default claim_seconds */
#define BATCH_TRIES 10
#define MAX_PARAMS 24
#define MIGRATION_LOCK 0x7061637364LL /* "pacsd" */

/* ---- the schema ---- */

typedef struct migration {
    int version;
    const char *what;
    const char *sql;
} migration;

/* Version 1 has the content of SQLite's version 1, in PostgreSQL's types; version 2 adds the
 * intents several nodes need and the indexes that keep C-FIND and QIDO fast at tens of millions
 * of instances; version 3 the share links (SQLite's version 4). A released entry is never
 * edited. */
static const migration migrations[] = {
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
     " attrs TEXT);"
     "CREATE INDEX IF NOT EXISTS studies_patient ON studies(patient_pk);"
     "CREATE INDEX IF NOT EXISTS studies_date ON studies(study_date, study_time);"
     "CREATE INDEX IF NOT EXISTS studies_pid ON studies(patient_id);"
     "CREATE INDEX IF NOT EXISTS studies_name ON studies(patient_name_ci);"
     "CREATE INDEX IF NOT EXISTS studies_name_fold ON studies(patient_name_fold);"
     "CREATE INDEX IF NOT EXISTS studies_accession ON studies(accession);"
     "CREATE TABLE IF NOT EXISTS series("
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
};
#define N_MIGRATIONS (sizeof migrations / sizeof migrations[0])

/* ---- jobs for the writer ---- */

typedef pacs_index__job job;
typedef pacs_index__fwd_args fwd_args;

typedef struct pg_index {
    pacs_index base;
    char *conninfo;
    char node[128];
    unsigned bulk;
    int bulk_open;   /* the bulk transaction has begun */
    int bulk_failed; /* ... and something in it failed for good */
    PGconn *wconn;
    char wstate[6];          /* SQLSTATE of the writer's last error */
    pacs_index__queue queue; /* group commit: the writer thread runs run_batch */
    pthread_mutex_t pool_mu;
    pthread_cond_t pool_cv;
    PGconn **idle;
    size_t n_idle, n_open, pool_max;
    unsigned lease; /* claim_seconds */
} pg_index;

/* ---- connections and statements ---- */

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
 * SQLSTATE goes to `state` when given. */
static pacs_err pg_err(PGconn *c, const PGresult *r, char *state, pacs_errinfo *ei,
                       const char *what)
{
    const char *st = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    if (state) {
        snprintf(state, 6, "%s", st ? st : "");
    }
    const char *msg = r ? PQresultErrorMessage(r) : NULL;
    if (!msg || !*msg) {
        msg = c ? PQerrorMessage(c) : "no connection";
    }
    char clean[200];
    snprintf(clean, sizeof clean, "%s", msg);
    clean[strcspn(clean, "\n")] = '\0';
    return pacs_errf(ei, map_state(st), "index %s: %s", what, clean);
}

/* Parameters for one statement, built from a format: 's' text (NULL for SQL NULL), 'i' long
 * long, 'b' bytes (pointer, size_t length). */
typedef struct params {
    const char *vals[MAX_PARAMS];
    int lens[MAX_PARAMS];
    int fmts[MAX_PARAMS];
    char ints[MAX_PARAMS][24];
    int n;
} params;

static void params_v(params *p, const char *fmt, va_list ap)
{
    p->n = 0;
    for (int i = 0; fmt[i] && i < MAX_PARAMS; i++) {
        p->lens[i] = 0;
        p->fmts[i] = 0;
        if (fmt[i] == 's') {
            p->vals[i] = va_arg(ap, const char *);
        } else if (fmt[i] == 'i') {
            snprintf(p->ints[i], sizeof p->ints[i], "%lld", va_arg(ap, long long));
            p->vals[i] = p->ints[i];
        } else {
            p->vals[i] = va_arg(ap, const char *);
            p->lens[i] = (int)va_arg(ap, size_t);
            p->fmts[i] = 1;
        }
        p->n = i + 1;
    }
}

/* Runs a statement; `*out` receives its result (text format) when wanted, else it is freed. */
static pacs_err sql(PGconn *c, PGresult **out, char *state, pacs_errinfo *ei, const char *text,
                    const char *fmt, ...)
{
    params p;
    va_list ap;
    va_start(ap, fmt);
    params_v(&p, fmt, ap);
    va_end(ap);
    PGresult *r = PQexecParams(c, text, p.n, NULL, p.vals, p.lens, p.fmts, 0);
    ExecStatusType s = PQresultStatus(r);
    if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK) {
        pacs_err err = pg_err(c, r, state, ei, "statement");
        PQclear(r);
        return err;
    }
    if (out) {
        *out = r;
    } else {
        PQclear(r);
    }
    return PACS_OK;
}

/* Runs a parameterless command (or several separated by ';'). */
static pacs_err cmd(PGconn *c, char *state, pacs_errinfo *ei, const char *text)
{
    PGresult *r = PQexec(c, text);
    ExecStatusType s = PQresultStatus(r);
    pacs_err err = PACS_OK;
    if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK) {
        err = pg_err(c, r, state, ei, text);
    }
    PQclear(r);
    return err;
}

/* The first column of the first row as an integer; `*found` says whether there was a row. */
static long long first_int(const PGresult *r, int col, int *found)
{
    *found = PQntuples(r) > 0 && !PQgetisnull(r, 0, col);
    return *found ? strtoll(PQgetvalue(r, 0, col), NULL, 10) : 0;
}

/* Server notices ("relation ... already exists, skipping") are not errors: DEBUG only. */
static void on_notice(void *arg, const char *message)
{
    (void)arg;
    pacs_log(PACS_LOG_DEBUG, "index", "postgresql: %.*s", (int)strcspn(message, "\n"), message);
}

static pacs_err connect_db(const char *conninfo, int reader, PGconn **out, pacs_errinfo *ei)
{
    /* The URI's own settings win over application_name; the encoding is always UTF-8. */
    const char *keys[] = {"application_name", "dbname", "client_encoding", "connect_timeout", NULL};
    const char *vals[] = {"pacsd", conninfo, "UTF8", "10", NULL};
    PGconn *c = PQconnectdbParams(keys, vals, 1);
    if (!c || PQstatus(c) != CONNECTION_OK) {
        char msg[200];
        snprintf(msg, sizeof msg, "%s", c ? PQerrorMessage(c) : "out of memory");
        msg[strcspn(msg, "\n")] = '\0';
        PQfinish(c);
        return pacs_errf(ei, PACS_EDB, "cannot connect to the PostgreSQL index: %s", msg);
    }
    PQsetNoticeProcessor(c, on_notice, NULL);
    /* Readers also record intents, claims and sweep outcomes: all are either redone after a
     * database crash or concern ingests that fail with it, so they need not wait for a flush. */
    pacs_err err = cmd(c, NULL, ei,
                       reader ? "SET synchronous_commit TO off; SET statement_timeout TO 0"
                              : "SET statement_timeout TO 0");
    if (err != PACS_OK) {
        PQfinish(c);
        return err;
    }
    *out = c;
    return PACS_OK;
}

static pacs_err conn_get(pg_index *pi, PGconn **out, pacs_errinfo *ei)
{
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
static void conn_put(pg_index *pi, PGconn *c)
{
    if (!c) {
        return;
    }
    int bad = PQstatus(c) != CONNECTION_OK || PQtransactionStatus(c) != PQTRANS_IDLE;
    pthread_mutex_lock(&pi->pool_mu);
    if (bad) {
        pi->n_open--;
    } else {
        pi->idle[pi->n_idle++] = c;
        c = NULL;
    }
    pthread_cond_signal(&pi->pool_cv);
    pthread_mutex_unlock(&pi->pool_mu);
    PQfinish(c);
}

/* ---- streamed queries, for the shared row readers ---- */

typedef struct stream {
    PGconn *c;
    PGresult *r; /* the current row's result */
    char (*ints)[24];
    int n_ints;
} stream;

static const char *stream_value(void *ctx, int col, size_t *len)
{
    stream *s = ctx;
    if (PQgetisnull(s->r, 0, col)) {
        return NULL;
    }
    const char *v = PQgetvalue(s->r, 0, col);
    int n = PQgetlength(s->r, 0, col);
    Oid type = PQftype(s->r, col);
    if ((type == 20 || type == 23 || type == 21 || type == 16) && col < s->n_ints) {
        /* Binary integers as decimal text, as SQLite hands them over. */
        long long x = 0;
        if (type == 20 && n == 8) {
            uint64_t b;
            memcpy(&b, v, 8);
            x = (long long)be64toh(b);
        } else if (type == 23 && n == 4) {
            uint32_t b;
            memcpy(&b, v, 4);
            x = (int32_t)ntohl(b);
        } else if (type == 21 && n == 2) {
            uint16_t b;
            memcpy(&b, v, 2);
            x = (int16_t)ntohs(b);
        } else if (type == 16 && n == 1) {
            x = v[0] != 0;
        }
        int k = snprintf(s->ints[col], sizeof s->ints[col], "%lld", x);
        *len = (size_t)k;
        return s->ints[col];
    }
    *len = (size_t)n;
    return v;
}

/* Sends a query (binary results, one row at a time). */
static pacs_err stream_start(stream *s, PGconn *c, const char *text, const pacs_index__compiled *cp,
                             const params *extra, pacs_errinfo *ei)
{
    memset(s, 0, sizeof *s);
    s->c = c;
    size_t n = cp ? cp->n_binds : (size_t)extra->n;
    const char **vals = calloc(n ? n : 1, sizeof *vals);
    char(*ints)[24] = calloc(n ? n : 1, sizeof *ints);
    if (!vals || !ints) {
        free(vals);
        free(ints);
        return pacs_errf(ei, PACS_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        if (!cp) {
            vals[i] = extra->vals[i];
        } else if (cp->binds[i].is_int) {
            snprintf(ints[i], sizeof ints[i], "%lld", cp->binds[i].i);
            vals[i] = ints[i];
        } else {
            vals[i] = cp->binds[i].s;
        }
    }
    int ok = PQsendQueryParams(c, text, (int)n, NULL, vals, NULL, NULL, 1);
    free(vals);
    free(ints);
    if (!ok || !PQsetSingleRowMode(c)) {
        return pg_err(c, NULL, NULL, ei, "query");
    }
    return PACS_OK;
}

/* The next row: 1 (in s->r), 0 at the end, -1 on error (`ei` filled). */
static int stream_next(stream *s, pacs_errinfo *ei)
{
    PQclear(s->r);
    s->r = PQgetResult(s->c);
    if (!s->r) {
        return 0;
    }
    ExecStatusType st = PQresultStatus(s->r);
    if (st == PGRES_SINGLE_TUPLE) {
        int nf = PQnfields(s->r);
        if (nf > s->n_ints) {
            char(*g)[24] = realloc(s->ints, (size_t)nf * sizeof *g);
            if (!g) {
                pacs_errf(ei, PACS_ENOMEM, "out of memory");
                return -1;
            }
            s->ints = g;
            s->n_ints = nf;
        }
        return 1;
    }
    if (st == PGRES_TUPLES_OK || st == PGRES_COMMAND_OK) {
        PQclear(s->r);
        s->r = PQgetResult(s->c); /* the NULL that ends it */
        PQclear(s->r);
        s->r = NULL;
        return 0;
    }
    pg_err(s->c, s->r, NULL, ei, "query");
    return -1;
}

/* Ends a stream, early or not: cancels what the server is still sending and drains it. */
static void stream_end(stream *s)
{
    PQclear(s->r);
    s->r = NULL;
    if (PQisBusy(s->c) || PQtransactionStatus(s->c) == PQTRANS_ACTIVE) {
        PGcancel *cn = PQgetCancel(s->c);
        char buf[128];
        if (cn) {
            PQcancel(cn, buf, sizeof buf);
            PQfreeCancel(cn);
        }
    }
    PGresult *r;
    while ((r = PQgetResult(s->c)) != NULL) {
        PQclear(r);
    }
    free(s->ints);
    s->ints = NULL;
}

/* ---- the writer's jobs ---- */

static pacs_err refresh_study_sets(pg_index *pi, long long study_pk, pacs_errinfo *ei)
{
    return sql(pi->wconn, NULL, pi->wstate, ei,
               "UPDATE studies SET"
               " modalities = '\\' || coalesce((SELECT string_agg(DISTINCT modality, '\\'"
               "  ORDER BY modality) || '\\' FROM series WHERE study_pk=$1 AND modality <> ''),"
               "  ''),"
               " sop_classes = '\\' || coalesce((SELECT string_agg(DISTINCT i.sop_class, '\\'"
               "  ORDER BY i.sop_class) || '\\' FROM instances i JOIN series se"
               "  ON i.series_pk=se.pk WHERE se.study_pk=$1 AND i.sop_class <> ''), '')"
               " WHERE pk=$1",
               "i", study_pk);
}

/* Removes one instance row, records its object for sweeping, fixes counts and drops parents
 * left empty. */
static pacs_err remove_instance(pg_index *pi, long long pk, pacs_errinfo *ei)
{
    PGconn *c = pi->wconn;
    char *st = pi->wstate;
    PGresult *r = NULL;
    pacs_err err = sql(c, &r, st, ei,
                       "SELECT i.series_pk, se.study_pk, s.patient_pk FROM instances i"
                       " JOIN series se ON i.series_pk=se.pk JOIN studies s ON se.study_pk=s.pk"
                       " WHERE i.pk=$1",
                       "i", pk);
    if (err != PACS_OK) {
        return err;
    }
    int found = 0;
    long long series_pk = first_int(r, 0, &found);
    long long study_pk = found ? strtoll(PQgetvalue(r, 0, 1), NULL, 10) : -1;
    long long patient_pk = found ? strtoll(PQgetvalue(r, 0, 2), NULL, 10) : -1;
    PQclear(r);
    if (!found) {
        return pacs_errf(ei, PACS_EDB, "index inconsistency around instance %lld", pk);
    }
    err = sql(c, NULL, st, ei,
              "INSERT INTO sweep(object) SELECT object FROM instances WHERE pk=$1"
              " ON CONFLICT DO NOTHING",
              "i", pk);
    if (err == PACS_OK) {
        err = sql(c, NULL, st, ei, "DELETE FROM instances WHERE pk=$1", "i", pk);
    }
    if (err == PACS_OK) {
        err = sql(c, NULL, st, ei, "UPDATE studies SET num_instances=num_instances-1 WHERE pk=$1",
                  "i", study_pk);
    }
    if (err == PACS_OK) {
        err = sql(c, NULL, st, ei, "UPDATE patients SET num_instances=num_instances-1 WHERE pk=$1",
                  "i", patient_pk);
    }
    long long left = 0;
    if (err == PACS_OK) {
        err = sql(c, &r, st, ei,
                  "UPDATE series SET num_instances=num_instances-1 WHERE pk=$1"
                  " RETURNING num_instances",
                  "i", series_pk);
        if (err == PACS_OK) {
            left = first_int(r, 0, &found);
            PQclear(r);
        }
    }
    if (err != PACS_OK) {
        return err;
    }
    if (left > 0) {
        return refresh_study_sets(pi, study_pk, ei);
    }
    err = sql(c, NULL, st, ei, "DELETE FROM series WHERE pk=$1", "i", series_pk);
    if (err == PACS_OK) {
        err = sql(c, NULL, st, ei, "UPDATE patients SET num_series=num_series-1 WHERE pk=$1", "i",
                  patient_pk);
    }
    if (err == PACS_OK) {
        err = sql(c, &r, st, ei,
                  "UPDATE studies SET num_series=num_series-1 WHERE pk=$1 RETURNING num_series",
                  "i", study_pk);
        if (err == PACS_OK) {
            left = first_int(r, 0, &found);
            PQclear(r);
        }
    }
    if (err != PACS_OK) {
        return err;
    }
    if (left > 0) {
        return refresh_study_sets(pi, study_pk, ei);
    }
    err = sql(c, NULL, st, ei, "DELETE FROM studies WHERE pk=$1", "i", study_pk);
    if (err == PACS_OK) {
        err = sql(c, &r, st, ei,
                  "UPDATE patients SET num_studies=num_studies-1 WHERE pk=$1"
                  " RETURNING num_studies",
                  "i", patient_pk);
        if (err == PACS_OK) {
            left = first_int(r, 0, &found);
            PQclear(r);
        }
    }
    if (err == PACS_OK && left <= 0) {
        err = sql(c, NULL, st, ei, "DELETE FROM patients WHERE pk=$1", "i", patient_pk);
    }
    return err;
}

/* This node's intent for `object` is fulfilled (or abandoned): one fewer. */
static pacs_err intent_done(PGconn *c, char *state, const char *node, const char *object,
                            pacs_errinfo *ei)
{
    return sql(c, NULL, state, ei,
               "WITH d AS (DELETE FROM object_intents WHERE object=$1 AND node=$2 AND n<=1"
               " RETURNING 1)"
               " UPDATE object_intents SET n=n-1 WHERE object=$1 AND node=$2 AND n>1",
               "ss", object, node);
}

static const char *int_or_null(const char *s, char *buf, size_t cap)
{
    int ok = 0;
    long long v = pacs_index__int_value(s, &ok);
    if (!ok) {
        return NULL;
    }
    snprintf(buf, cap, "%lld", v);
    return buf;
}

static pacs_err do_put(pg_index *pi, const pacs_index_entry *e, pacs_put_result *res,
                       pacs_errinfo *ei)
{
    PGconn *c = pi->wconn;
    char *state = pi->wstate;
    memset(res, 0, sizeof *res);
    PGresult *r = NULL;
    pacs_err err =
        sql(c, &r, state, ei, "SELECT pk, object FROM instances WHERE sop_uid=$1 FOR UPDATE", "s",
            e->sop_uid);
    if (err != PACS_OK) {
        return err;
    }
    int found = 0;
    long long old_pk = first_int(r, 0, &found);
    if (found) {
        snprintf(res->old_object, sizeof res->old_object, "%s", PQgetvalue(r, 0, 1));
        res->existed = 1;
    }
    PQclear(r);
    if (found) {
        if (strcmp(res->old_object, e->object) == 0) {
            res->old_object[0] = '\0';
            return intent_done(c, state, pi->node, e->object, ei); /* the very same bytes */
        }
        res->replaced = 1;
        err = remove_instance(pi, old_pk, ei);
        if (err != PACS_OK) {
            return err;
        }
    }

    pacs_index__fields f;
    pacs_index__fields_load(&f, e->json);
    char *patient_attrs = pacs_index__level_attrs_text(e->json, PACS_LEVEL_PATIENT);
    char *study_attrs = pacs_index__level_attrs_text(e->json, PACS_LEVEL_STUDY);
    char *series_attrs = pacs_index__level_attrs_text(e->json, PACS_LEVEL_SERIES);
    void *meta = NULL;
    size_t meta_len = 0;
    long long patient_pk = -1, study_pk = -1, series_pk = -1;
    int new_series = 0, same_modality = 0;
    const char *pid = f.patient_id ? f.patient_id : "";
    const char *issuer = f.issuer ? f.issuer : "";
    char b1[24], b2[24], b3[24], b4[24], frames[24];
    if (!patient_attrs || !study_attrs || !series_attrs) {
        err = pacs_errf(ei, PACS_ENOMEM, "out of memory");
        goto done;
    }
    err = pacs_index__compress_json(e->json, &meta, &meta_len, ei);
    if (err != PACS_OK) {
        goto done;
    }

    /* Patient: identified by PatientID and its issuer; the latest instance's details win. The
     * UPDATE locks the row, so nodes storing for one patient take turns. */
    err = sql(c, NULL, state, ei,
              "INSERT INTO patients(patient_id, issuer) VALUES($1,$2)"
              " ON CONFLICT(patient_id, issuer) DO NOTHING",
              "ss", pid, issuer);
    if (err == PACS_OK) {
        err = sql(c, &r, state, ei,
                  "UPDATE patients SET name=$3, name_ci=$4, name_fold=$5, birth_date=$6, sex=$7,"
                  " attrs=$8 WHERE patient_id=$1 AND issuer=$2 RETURNING pk",
                  "ssssssss", pid, issuer, f.name, f.name_ci, f.name_fold, f.birth_date, f.sex,
                  patient_attrs);
    }
    if (err != PACS_OK) {
        goto done;
    }
    patient_pk = first_int(r, 0, &found);
    PQclear(r);
    if (!found) {
        err = pacs_errf(ei, PACS_EDB, "index: the patient row vanished");
        goto done;
    }

    /* Study: a study stays with its first patient. */
    err = sql(c, &r, state, ei,
              "INSERT INTO studies(patient_pk, study_uid, modalities, sop_classes)"
              " VALUES($1,$2,'\\','\\') ON CONFLICT(study_uid) DO NOTHING RETURNING pk",
              "is", patient_pk, e->study_uid);
    if (err != PACS_OK) {
        goto done;
    }
    study_pk = first_int(r, 0, &found);
    PQclear(r);
    if (found) {
        err = sql(c, NULL, state, ei, "UPDATE patients SET num_studies=num_studies+1 WHERE pk=$1",
                  "i", patient_pk);
    } else {
        err = sql(c, &r, state, ei,
                  "SELECT pk, patient_pk FROM studies WHERE study_uid=$1 FOR UPDATE", "s",
                  e->study_uid);
        if (err == PACS_OK) {
            study_pk = first_int(r, 0, &found);
            patient_pk = found ? strtoll(PQgetvalue(r, 0, 1), NULL, 10) : -1;
            PQclear(r);
        }
    }
    if (err != PACS_OK) {
        goto done;
    }
    err = sql(c, NULL, state, ei,
              "UPDATE studies SET study_date=$1, study_time=$2, accession=$3, study_id=$4,"
              " ref_physician=$5, ref_physician_ci=$6, ref_physician_fold=$7, description=$8,"
              " patient_name=$9, patient_name_ci=$10, patient_name_fold=$11, patient_id=$12,"
              " issuer=$13, birth_date=$14, sex=$15, attrs=$16 WHERE pk=$17",
              "ssssssssssssssssi", f.study_date, f.study_time, f.accession, f.study_id, f.ref_phys,
              f.ref_phys_ci, f.ref_phys_fold, f.study_desc, f.name, f.name_ci, f.name_fold, pid,
              issuer, f.birth_date, f.sex, study_attrs, study_pk);
    if (err != PACS_OK) {
        goto done;
    }

    /* Series. */
    err = sql(c, &r, state, ei,
              "INSERT INTO series(study_pk, series_uid) VALUES($1,$2)"
              " ON CONFLICT(series_uid) DO NOTHING RETURNING pk",
              "is", study_pk, e->series_uid);
    if (err != PACS_OK) {
        goto done;
    }
    series_pk = first_int(r, 0, &found);
    PQclear(r);
    if (found) {
        new_series = 1;
        err = sql(c, NULL, state, ei, "UPDATE studies SET num_series=num_series+1 WHERE pk=$1", "i",
                  study_pk);
        if (err == PACS_OK) {
            err = sql(c, NULL, state, ei, "UPDATE patients SET num_series=num_series+1 WHERE pk=$1",
                      "i", patient_pk);
        }
    } else {
        err = sql(c, &r, state, ei,
                  "SELECT pk, coalesce(modality, '') = coalesce($1, '') FROM series"
                  " WHERE series_uid=$2 FOR UPDATE",
                  "ss", f.modality, e->series_uid);
        if (err == PACS_OK) {
            series_pk = first_int(r, 0, &found);
            same_modality = found && PQgetvalue(r, 0, 1)[0] == 't';
            PQclear(r);
        }
    }
    if (err != PACS_OK) {
        goto done;
    }
    err = sql(c, NULL, state, ei,
              "UPDATE series SET modality=$1, series_number=$2, description=$3, body_part=$4,"
              " series_date=$5, series_time=$6, pps_start_date=$7, pps_start_time=$8, attrs=$9"
              " WHERE pk=$10",
              "sssssssssi", f.modality, int_or_null(f.series_number, b1, sizeof b1), f.series_desc,
              f.body_part, f.series_date, f.series_time, f.pps_date, f.pps_time, series_attrs,
              series_pk);
    if (err != PACS_OK) {
        goto done;
    }

    /* Instance. */
    snprintf(frames, sizeof frames, "%u", e->n_frames);
    err = sql(c, NULL, state, ei,
              "INSERT INTO instances(series_pk, sop_uid, sop_class, instance_number, ts, object,"
              " size, frames, rows, columns, bits_allocated, content_date, content_time,"
              " source_aet, received, pixels, metadata) VALUES($1,$2,$3,$4,$5,$6,$7,$8,$9,$10,"
              "$11,$12,$13,$14,coalesce($15,"
              " to_char(now() AT TIME ZONE 'UTC', 'YYYYMMDDHH24MISS')),$16,$17)",
              "isssssissssssssbb", series_pk, e->sop_uid, e->sop_class_uid,
              int_or_null(f.instance_number, b2, sizeof b2), e->ts_uid, e->object,
              (long long)e->object_size, frames, int_or_null(f.rows, b3, sizeof b3),
              int_or_null(f.columns, b4, sizeof b4), int_or_null(f.bits, b1, sizeof b1),
              f.content_date, f.content_time, e->source_aet, e->received,
              (const char *)e->pixel_layout, e->pixel_layout ? e->pixel_layout_len : (size_t)0,
              (const char *)meta, meta_len);
    if (err != PACS_OK) {
        goto done;
    }
    err = sql(c, NULL, state, ei, "UPDATE series SET num_instances=num_instances+1 WHERE pk=$1",
              "i", series_pk);
    if (err == PACS_OK) {
        err = sql(c, NULL, state, ei,
                  "UPDATE studies SET num_instances=num_instances+1 WHERE pk=$1", "i", study_pk);
    }
    if (err == PACS_OK) {
        err = sql(c, NULL, state, ei,
                  "UPDATE patients SET num_instances=num_instances+1 WHERE pk=$1", "i", patient_pk);
    }
    if (err == PACS_OK) {
        err = intent_done(c, state, pi->node, e->object, ei);
    }
    if (err != PACS_OK) {
        goto done;
    }
    /* ModalitiesInStudy and SOPClassesInStudy change only with a new series, a series whose
     * modality changed, or a SOP class the study has not seen. */
    int known = 0;
    if (!new_series && same_modality) {
        char pat[80];
        snprintf(pat, sizeof pat, "\\%s\\", e->sop_class_uid);
        if (sql(c, &r, state, NULL, "SELECT strpos(sop_classes, $1) FROM studies WHERE pk=$2", "si",
                pat, study_pk) == PACS_OK) {
            known = first_int(r, 0, &found) > 0;
            PQclear(r);
        }
    }
    if (!known) {
        err = refresh_study_sets(pi, study_pk, ei);
    }
done:
    free(meta);
    free(patient_attrs);
    free(study_attrs);
    free(series_attrs);
    pacs_index__fields_free(&f);
    return err;
}

static pacs_err do_remove(pg_index *pi, const pacs_query *q, uint64_t *removed, pacs_errinfo *ei)
{
    pacs_index__inst_plan plan;
    pacs_err err = pacs_index__inst_plan_build(&pacs_index__pg_dialect, q, &plan, ei);
    long long *pks = NULL;
    size_t n = 0, cap = 0;
    if (err == PACS_OK) {
        /* Lock the rows: a node storing into them waits, and cannot be lost in between. */
        err = pacs_buf_puts(&plan.sql, " FOR UPDATE OF i") == PACS_OK
                  ? PACS_OK
                  : pacs_errf(ei, PACS_ETOOBIG, "query too long");
    }
    stream s;
    memset(&s, 0, sizeof s);
    if (err == PACS_OK) {
        err = stream_start(&s, pi->wconn, plan.sql.data, &plan.c, NULL, ei);
        int rc;
        pacs_index__row row = {stream_value, &s};
        while (err == PACS_OK && (rc = stream_next(&s, ei)) != 0) {
            if (rc < 0) {
                err = ei ? ei->code : PACS_EDB;
                break;
            }
            if (!pacs_index__inst_row_matches(&plan, q, &row)) {
                continue;
            }
            if (n == cap) {
                cap = cap ? cap * 2 : 64;
                long long *g = realloc(pks, cap * sizeof *g);
                if (!g) {
                    err = pacs_errf(ei, PACS_ENOMEM, "out of memory");
                    break;
                }
                pks = g;
            }
            size_t len = 0;
            pks[n++] = strtoll(stream_value(&s, PACS_INDEX__COL_PK, &len), NULL, 10);
        }
        stream_end(&s);
    }
    for (size_t i = 0; err == PACS_OK && i < n; i++) {
        err = remove_instance(pi, pks[i], ei);
    }
    if (err == PACS_OK) {
        *removed = n;
    }
    free(pks);
    pacs_index__inst_plan_free(&plan);
    return err;
}

static pacs_err fwd_enqueue(pg_index *pi, fwd_args *f, pacs_errinfo *ei)
{
    /* A pending entry keeps its back-off; a delivered one is not sent again unless the object
     * changed; a failed one is revived by a new store. */
    PGresult *r = NULL;
    pacs_err err = sql(pi->wconn, &r, pi->wstate, ei,
                       "INSERT INTO forward_queue(dest, rule, sop_uid, object, state, attempts,"
                       " next_try, created, updated, error) VALUES($1, $2, $3, $4, 0, 0, $5,"
                       " $5, $5, NULL) ON CONFLICT(sop_uid, dest) DO UPDATE SET"
                       " rule=excluded.rule, object=excluded.object, state=0, attempts=0,"
                       " next_try=excluded.next_try, updated=excluded.updated, error=NULL"
                       " WHERE NOT (forward_queue.object=excluded.object"
                       " AND forward_queue.state IN (0, 1))",
                       "ssssi", f->dest, f->rule, f->sop_uid, f->object, (long long)f->now);
    if (err == PACS_OK) {
        f->changed = strtoull(PQcmdTuples(r), NULL, 10);
        PQclear(r);
    }
    return err;
}

static pacs_err fwd_update(pg_index *pi, fwd_args *f, pacs_errinfo *ei)
{
    long long now = (long long)time(NULL);
    for (size_t i = 0; i < f->n_updates; i++) {
        const pacs_fwd_update *u = &f->updates[i];
        pacs_err err =
            sql(pi->wconn, NULL, pi->wstate, ei,
                "UPDATE forward_queue SET state=$1, attempts=$2, next_try=$3,"
                " updated=$4, error=$5 WHERE id=$6",
                "iiiisi", (long long)u->state, (long long)u->attempts, (long long)u->next_try, now,
                u->error && u->error[0] ? u->error : NULL, (long long)u->id);
        if (err != PACS_OK) {
            return err;
        }
    }
    f->changed = f->n_updates;
    return PACS_OK;
}

static pacs_err fwd_retry(pg_index *pi, fwd_args *f, pacs_errinfo *ei)
{
    PGresult *r = NULL;
    pacs_err err = f->id > 0
                       ? sql(pi->wconn, &r, pi->wstate, ei,
                             "UPDATE forward_queue SET state=0, attempts=0, next_try=$1, updated=$1"
                             " WHERE id=$2 AND state IN (0, 2)",
                             "ii", (long long)f->now, (long long)f->id)
                       : sql(pi->wconn, &r, pi->wstate, ei,
                             "UPDATE forward_queue SET state=0, attempts=0, next_try=$1, updated=$1"
                             " WHERE state IN (0, 2)",
                             "i", (long long)f->now);
    if (err == PACS_OK) {
        f->changed = strtoull(PQcmdTuples(r), NULL, 10);
        PQclear(r);
    }
    return err;
}

/* ---- share links' records ---- */

static pacs_err share_add(pg_index *pi, pacs_index__share_args *a, pacs_errinfo *ei)
{
    a->changed = 0;
    for (size_t i = 0; i < a->n; i++) {
        const pacs_index_share *r = &a->recs[i];
        PGresult *res = NULL;
        pacs_err err =
            sql(pi->wconn, &res, pi->wstate, ei,
                "INSERT INTO shares(id, token_sha256, study_uid, created_at,"
                " expires_at, creator, revoked, revoked_at)"
                " VALUES($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT(id) DO NOTHING",
                "sbsiisii", r->id, (const char *)r->token_sha256, r->token_sha256_len, r->study_uid,
                (long long)r->created_at, (long long)r->expires_at, r->creator ? r->creator : "",
                (long long)(r->revoked != 0), (long long)r->revoked_at);
        if (err != PACS_OK) {
            return err;
        }
        a->changed += strtoull(PQcmdTuples(res), NULL, 10);
        PQclear(res);
    }
    return PACS_OK;
}

static pacs_err share_revoke(pg_index *pi, pacs_index__share_args *a, pacs_errinfo *ei)
{
    PGresult *r = NULL;
    pacs_err err =
        a->id          ? sql(pi->wconn, &r, pi->wstate, ei,
                             "UPDATE shares SET revoked_at = CASE WHEN revoked <> 0 THEN revoked_at"
                                      " ELSE $2 END, revoked = 1 WHERE id = $1",
                             "si", a->id, (long long)a->now)
        : a->study_uid ? sql(pi->wconn, &r, pi->wstate, ei,
                             "UPDATE shares SET revoked = 1, revoked_at = $2"
                             " WHERE study_uid = $1 AND revoked = 0",
                             "si", a->study_uid, (long long)a->now)
                       : sql(pi->wconn, &r, pi->wstate, ei,
                             "UPDATE shares SET revoked = 1, revoked_at = $1 WHERE revoked = 0",
                             "i", (long long)a->now);
    if (err == PACS_OK) {
        a->changed = strtoull(PQcmdTuples(r), NULL, 10);
        PQclear(r);
    }
    return err;
}

static pacs_err run_job(pg_index *pi, job *j)
{
    switch (j->kind) {
    case PACS_INDEX_JOB_PUT:
        return do_put(pi, j->entry, j->put_result, &j->ei);
    case PACS_INDEX_JOB_REMOVE:
        return do_remove(pi, j->query, &j->removed, &j->ei);
    case PACS_INDEX_JOB_SWEEP_DONE:
        return sql(pi->wconn, NULL, pi->wstate, &j->ei, "DELETE FROM sweep WHERE object=$1", "s",
                   j->object);
    case PACS_INDEX_JOB_FWD_ENQUEUE:
        return fwd_enqueue(pi, j->fwd, &j->ei);
    case PACS_INDEX_JOB_FWD_UPDATE:
        return fwd_update(pi, j->fwd, &j->ei);
    case PACS_INDEX_JOB_FWD_RETRY:
        return fwd_retry(pi, j->fwd, &j->ei);
    case PACS_INDEX_JOB_SHARE_ADD:
        return share_add(pi, j->share, &j->ei);
    case PACS_INDEX_JOB_SHARE_REVOKE:
        return share_revoke(pi, j->share, &j->ei);
    case PACS_INDEX_JOB_FINISH:
        return PACS_OK; /* handled by run_batch */
    }
    return PACS_EINVAL;
}

static int retryable(const char *state)
{
    return strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0 ||
           strcmp(state, "23505") == 0 || strncmp(state, "08", 2) == 0;
}

/* Makes sure the writer has a working connection. */
static pacs_err writer_connection(pg_index *pi, pacs_errinfo *ei)
{
    if (pi->wconn && PQstatus(pi->wconn) == CONNECTION_OK) {
        return PACS_OK;
    }
    if (pi->bulk && pi->bulk_open) {
        pi->bulk_failed = 1;
        return pacs_errf(ei, PACS_EDB, "the connection of a bulk load was lost");
    }
    PQfinish(pi->wconn);
    pi->wconn = NULL;
    return connect_db(pi->conninfo, 0, &pi->wconn, ei);
}

static pacs_err bulk_begin(pg_index *pi, pacs_errinfo *ei)
{
    pacs_err err = cmd(pi->wconn, pi->wstate, ei, "BEGIN");
    if (err == PACS_OK && (pi->bulk & PACS_INDEX_BULK_EMPTY)) {
        err = cmd(pi->wconn, pi->wstate, ei,
                  "DELETE FROM instances; DELETE FROM series; DELETE FROM studies;"
                  " DELETE FROM patients; DELETE FROM sweep");
    }
    if (err == PACS_OK) {
        pi->bulk_open = 1;
    } else {
        pi->bulk_failed = 1;
    }
    return err;
}

static void fail_all(job *batch, pacs_err err, const pacs_errinfo *ei)
{
    for (job *j = batch; j; j = j->next) {
        if (j->err == PACS_OK) {
            j->err = err;
            j->ei = *ei;
            j->ei.code = err;
        }
    }
}

static void run_batch(void *ctx, job *batch)
{
    pg_index *pi = ctx;
    pacs_errinfo ei;
    pacs_errinfo_clear(&ei);
    for (int attempt = 0;; attempt++) {
        for (job *j = batch; j; j = j->next) {
            j->err = PACS_OK;
            pacs_errinfo_clear(&j->ei);
        }
        pi->wstate[0] = '\0';
        pacs_err err = writer_connection(pi, &ei);
        if (err == PACS_OK && pi->bulk && pi->bulk_failed) {
            err = pacs_errf(&ei, PACS_EDB, "an earlier part of this bulk load failed");
        }
        if (err == PACS_OK && !pi->bulk) {
            err = cmd(pi->wconn, pi->wstate, &ei, "BEGIN");
        } else if (err == PACS_OK && !pi->bulk_open) {
            err = bulk_begin(pi, &ei);
        }
        if (err != PACS_OK) {
            if (!pi->bulk && attempt < BATCH_TRIES && retryable(pi->wstate)) {
                continue;
            }
            fail_all(batch, err, &ei);
            return;
        }
        int retry = 0, finish = 0;
        for (job *j = batch; j && !retry; j = j->next) {
            if (j->kind == PACS_INDEX_JOB_FINISH) {
                finish = 1;
                continue;
            }
            cmd(pi->wconn, NULL, NULL, "SAVEPOINT job");
            pi->wstate[0] = '\0';
            j->err = run_job(pi, j);
            if (j->err != PACS_OK && !pi->bulk && attempt < BATCH_TRIES && retryable(pi->wstate)) {
                retry = 1; /* a race with another node: run the whole batch again */
                break;
            }
            if (j->err != PACS_OK) {
                j->ei.code = j->err;
                cmd(pi->wconn, NULL, NULL, "ROLLBACK TO SAVEPOINT job");
            }
            cmd(pi->wconn, NULL, NULL, "RELEASE SAVEPOINT job");
        }
        if (retry) {
            cmd(pi->wconn, NULL, NULL, "ROLLBACK");
            pacs_log(PACS_LOG_DEBUG, "index", "batch retried sqlstate=%s attempt=%d", pi->wstate,
                     attempt + 1);
            usleep((useconds_t)(1000 * (1 + attempt) + rand() % 5000));
            continue;
        }
        if (pi->bulk && !finish) {
            return; /* the bulk transaction stays open */
        }
        err = cmd(pi->wconn, pi->wstate, &ei, "COMMIT");
        if (pi->bulk) {
            pi->bulk_open = 0;
            pi->bulk_failed = err != PACS_OK;
        }
        if (err != PACS_OK && !pi->bulk && attempt < BATCH_TRIES && retryable(pi->wstate)) {
            continue;
        }
        if (err != PACS_OK) {
            cmd(pi->wconn, NULL, NULL, "ROLLBACK");
            fail_all(batch, err, &ei);
        }
        return;
    }
}

/* ---- the ops ---- */

static pacs_err pg_put(pacs_index *idx, const pacs_index_entry *e, pacs_put_result *res,
                       pacs_errinfo *ei)
{
    return pacs_index__queue_put(&((pg_index *)idx)->queue, e, res, ei);
}

static pacs_err pg_remove(pacs_index *idx, const pacs_query *q, uint64_t *n, pacs_errinfo *ei)
{
    return pacs_index__queue_remove(&((pg_index *)idx)->queue, q, n, ei);
}

static pacs_err pg_sweep_done(pacs_index *idx, const char *object, pacs_errinfo *ei)
{
    return pacs_index__queue_sweep_done(&((pg_index *)idx)->queue, object, ei);
}

static pacs_err pg_finish(pacs_index *idx, pacs_errinfo *ei)
{
    pg_index *pi = (pg_index *)idx;
    if (!pi->bulk) {
        return PACS_OK;
    }
    job j;
    memset(&j, 0, sizeof j);
    j.kind = PACS_INDEX_JOB_FINISH;
    pacs_err err = pacs_index__queue_submit(&pi->queue, &j, ei);
    if (err == PACS_OK && pi->bulk_failed) {
        err = pacs_errf(ei, PACS_EDB, "the bulk load failed and was rolled back");
    }
    return err;
}

static pacs_err pg_find(pacs_index *idx, const pacs_query *q, pacs_find_cb cb, void *ctx,
                        pacs_errinfo *ei)
{
    pg_index *pi = (pg_index *)idx;
    pacs_index__find_plan *plan = malloc(sizeof *plan);
    if (!plan) {
        return pacs_errf(ei, PACS_ENOMEM, "out of memory");
    }
    PGconn *c = NULL;
    pacs_err err = pacs_index__find_plan_build(&pacs_index__pg_dialect, q, plan, ei);
    if (err == PACS_OK) {
        err = conn_get(pi, &c, ei);
    }
    stream s;
    if (err == PACS_OK) {
        err = stream_start(&s, c, plan->sql.data, &plan->c, NULL, ei);
        pacs_index__row row = {stream_value, &s};
        int rc;
        while (err == PACS_OK && (rc = stream_next(&s, ei)) != 0) {
            if (rc < 0) {
                err = ei ? ei->code : PACS_EDB;
                break;
            }
            json_t *r = NULL;
            int got = pacs_index__find_row(plan, q, &row, &r);
            if (got < 0) {
                break;
            }
            if (got == 0) {
                continue;
            }
            int stop = cb(ctx, r);
            json_decref(r);
            if (stop) {
                break;
            }
        }
        stream_end(&s);
    }
    conn_put(pi, c);
    pacs_index__find_plan_free(plan);
    free(plan);
    return err;
}

static pacs_err pg_instances(pacs_index *idx, const pacs_query *q, unsigned flags,
                             pacs_instance_cb cb, void *ctx, pacs_errinfo *ei)
{
    pg_index *pi = (pg_index *)idx;
    pacs_index__inst_plan plan;
    pacs_buf meta;
    pacs_buf_init(&meta, 64u << 20);
    PGconn *c = NULL;
    pacs_err err = pacs_index__inst_plan_build(&pacs_index__pg_dialect, q, &plan, ei);
    if (err == PACS_OK) {
        err = conn_get(pi, &c, ei);
    }
    stream s;
    if (err == PACS_OK) {
        err = stream_start(&s, c, plan.sql.data, &plan.c, NULL, ei);
        pacs_index__row row = {stream_value, &s};
        int rc;
        while (err == PACS_OK && (rc = stream_next(&s, ei)) != 0) {
            if (rc < 0) {
                err = ei ? ei->code : PACS_EDB;
                break;
            }
            if (!pacs_index__inst_row_matches(&plan, q, &row)) {
                continue;
            }
            pacs_instance_rec rec;
            err = pacs_index__inst_row_rec(&row, flags, &meta, &rec, ei);
            if (err != PACS_OK || cb(ctx, &rec)) {
                break;
            }
        }
        stream_end(&s);
    }
    conn_put(pi, c);
    pacs_buf_free(&meta);
    pacs_index__inst_plan_free(&plan);
    return err;
}

/* Streams a statement whose columns are (object, size, text) to an object callback. */
static pacs_err each_object(pg_index *pi, const char *text, const params *p, pacs_object_cb cb,
                            void *ctx, pacs_errinfo *ei)
{
    PGconn *c = NULL;
    pacs_err err = conn_get(pi, &c, ei);
    if (err != PACS_OK) {
        return err;
    }
    stream s;
    err = stream_start(&s, c, text, NULL, p, ei);
    int rc;
    while (err == PACS_OK && (rc = stream_next(&s, ei)) != 0) {
        if (rc < 0) {
            err = ei ? ei->code : PACS_EDB;
            break;
        }
        size_t n = 0;
        const char *obj = stream_value(&s, 0, &n);
        const char *size = stream_value(&s, 1, &n);
        const char *txt = stream_value(&s, 2, &n);
        if (cb(ctx, obj ? obj : "", size ? strtoull(size, NULL, 10) : 0, txt ? txt : "")) {
            break;
        }
    }
    stream_end(&s);
    conn_put(pi, c);
    return err;
}

static pacs_err pg_objects(pacs_index *idx, pacs_object_cb cb, void *ctx, pacs_errinfo *ei)
{
    params p = {.n = 0};
    return each_object((pg_index *)idx, "SELECT object, size, sop_uid FROM instances ORDER BY pk",
                       &p, cb, ctx, ei);
}

static pacs_err pg_sweep_pending(pacs_index *idx, pacs_object_cb cb, void *ctx, pacs_errinfo *ei)
{
    params p = {.n = 0};
    return each_object((pg_index *)idx, "SELECT object, 0::bigint, '' FROM sweep", &p, cb, ctx, ei);
}

/* Runs one statement on a pooled connection; `*out` (if given) gets its result. */
static pacs_err pooled(pg_index *pi, PGresult **out, pacs_errinfo *ei, const char *text,
                       const char *fmt, ...)
{
    PGconn *c = NULL;
    pacs_err err = conn_get(pi, &c, ei);
    if (err != PACS_OK) {
        return err;
    }
    params p;
    va_list ap;
    va_start(ap, fmt);
    params_v(&p, fmt, ap);
    va_end(ap);
    PGresult *r = PQexecParams(c, text, p.n, NULL, p.vals, p.lens, p.fmts, 0);
    ExecStatusType s = PQresultStatus(r);
    if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK) {
        err = pg_err(c, r, NULL, ei, "statement");
        PQclear(r);
    } else if (out) {
        *out = r;
    } else {
        PQclear(r);
    }
    conn_put(pi, c);
    return err;
}

static pacs_err pg_object_referenced(pacs_index *idx, const char *object, int *referenced,
                                     pacs_errinfo *ei)
{
    PGresult *r = NULL;
    pacs_err err = pooled((pg_index *)idx, &r, ei,
                          "SELECT 1 FROM instances WHERE object=$1 LIMIT 1", "s", object);
    if (err == PACS_OK) {
        *referenced = PQntuples(r) > 0;
        PQclear(r);
    }
    return err;
}

static pacs_err pg_stats(pacs_index *idx, pacs_index_stats *out, pacs_errinfo *ei)
{
    PGresult *r = NULL;
    pacs_err err = pooled((pg_index *)idx, &r, ei,
                          "SELECT (SELECT count(*) FROM patients), (SELECT count(*) FROM studies),"
                          " (SELECT count(*) FROM series), (SELECT count(*) FROM instances),"
                          " (SELECT coalesce(sum(size), 0) FROM instances)",
                          "");
    if (err == PACS_OK && PQntuples(r) == 1) {
        out->patients = strtoull(PQgetvalue(r, 0, 0), NULL, 10);
        out->studies = strtoull(PQgetvalue(r, 0, 1), NULL, 10);
        out->series = strtoull(PQgetvalue(r, 0, 2), NULL, 10);
        out->instances = strtoull(PQgetvalue(r, 0, 3), NULL, 10);
        out->object_bytes = strtoull(PQgetvalue(r, 0, 4), NULL, 10);
    }
    if (err == PACS_OK) {
        PQclear(r);
    }
    return err;
}

static pacs_err pg_fwd_enqueue(pacs_index *idx, const char *dest, const char *rule,
                               const char *sop_uid, const char *object, int64_t now, int *added,
                               pacs_errinfo *ei)
{
    return pacs_index__queue_fwd_enqueue(&((pg_index *)idx)->queue, dest, rule, sop_uid, object,
                                         now, added, ei);
}

static pacs_err pg_fwd_update(pacs_index *idx, const pacs_fwd_update *u, size_t n, pacs_errinfo *ei)
{
    return pacs_index__queue_fwd_update(&((pg_index *)idx)->queue, u, n, ei);
}

static pacs_err pg_fwd_retry(pacs_index *idx, int64_t id, int64_t now, uint64_t *n,
                             pacs_errinfo *ei)
{
    return pacs_index__queue_fwd_retry(&((pg_index *)idx)->queue, id, now, n, ei);
}

/* Runs a queue statement whose columns are those FWD_COLUMNS names; `cb` per row. */
static pacs_err fwd_select(pg_index *pi, const char *text, const params *p, pacs_fwd_cb cb,
                           void *ctx, pacs_errinfo *ei)
{
    PGconn *c = NULL;
    pacs_err err = conn_get(pi, &c, ei);
    if (err != PACS_OK) {
        return err;
    }
    stream s;
    err = stream_start(&s, c, text, NULL, p, ei);
    int rc;
    while (err == PACS_OK && (rc = stream_next(&s, ei)) != 0) {
        if (rc < 0) {
            err = ei ? ei->code : PACS_EDB;
            break;
        }
        pacs_fwd_entry e;
        memset(&e, 0, sizeof e);
        size_t n = 0;
        const char *v;
#define COPY(col, dst)                                                                             \
    v = stream_value(&s, col, &n);                                                                 \
    snprintf(dst, sizeof dst, "%s", v ? v : "")
        v = stream_value(&s, 0, &n);
        e.id = v ? strtoll(v, NULL, 10) : 0;
        COPY(1, e.dest);
        COPY(2, e.rule);
        COPY(3, e.sop_uid);
        COPY(4, e.sop_class);
        COPY(5, e.ts);
        COPY(6, e.object);
        v = stream_value(&s, 7, &n);
        e.state = (pacs_fwd_state)(v ? atoi(v) : 0);
        v = stream_value(&s, 8, &n);
        e.attempts = v ? (uint32_t)strtoul(v, NULL, 10) : 0;
        v = stream_value(&s, 9, &n);
        e.next_try = v ? strtoll(v, NULL, 10) : 0;
        v = stream_value(&s, 10, &n);
        e.updated = v ? strtoll(v, NULL, 10) : 0;
        COPY(11, e.error);
#undef COPY
        if (cb(ctx, &e)) {
            break;
        }
    }
    stream_end(&s);
    conn_put(pi, c);
    return err;
}

#define FWD_COLUMNS(q)                                                                             \
    "SELECT " q ".id, " q ".dest, " q ".rule, " q ".sop_uid, coalesce(i.sop_class, ''),"           \
    " coalesce(i.ts, ''), coalesce(i.object, ''), " q ".state, " q ".attempts, " q ".next_try, " q \
    ".updated, coalesce(" q ".error, '')"

/* Claims due entries for this node: locked rows of other nodes' claims in progress are skipped,
 * and the claimed ones are leased (next_try moved ahead) until pacs_index_fwd_update writes
 * their outcome, so no other node sends them meanwhile; if this node dies, the lease runs out
 * and another takes them over. */
static pacs_err pg_fwd_due(pacs_index *idx, int64_t now, size_t limit, pacs_fwd_cb cb, void *ctx,
                           pacs_errinfo *ei)
{
    params p;
    snprintf(p.ints[0], sizeof p.ints[0], "%lld", (long long)now);
    snprintf(p.ints[1], sizeof p.ints[1], "%zu", limit);
    snprintf(p.ints[2], sizeof p.ints[2], "%u", ((pg_index *)idx)->lease);
    for (int i = 0; i < 3; i++) {
        p.vals[i] = p.ints[i];
    }
    p.n = 3;
    return fwd_select((pg_index *)idx,
                      "WITH c AS (SELECT id, next_try AS due FROM forward_queue"
                      "  WHERE state = 0 AND next_try <= $1::bigint ORDER BY dest, id"
                      "  LIMIT $2::bigint FOR UPDATE SKIP LOCKED),"
                      " u AS (UPDATE forward_queue q SET next_try = $1::bigint + $3::bigint"
                      "  FROM c WHERE q.id = c.id RETURNING q.*, c.due)" FWD_COLUMNS(
                          "u") " FROM u LEFT JOIN instances i ON i.sop_uid = u.sop_uid"
                               " ORDER BY u.dest, u.id",
                      &p, cb, ctx, ei);
}

static pacs_err pg_fwd_list(pacs_index *idx, int state, pacs_fwd_cb cb, void *ctx, pacs_errinfo *ei)
{
    params p;
    snprintf(p.ints[0], sizeof p.ints[0], "%d", state);
    p.vals[0] = p.ints[0];
    p.n = 1;
    return fwd_select((pg_index *)idx,
                      FWD_COLUMNS("q") " FROM forward_queue q LEFT JOIN instances i"
                                       " ON i.sop_uid = q.sop_uid"
                                       " WHERE $1::int < 0 OR q.state = $1::int ORDER BY q.id",
                      &p, cb, ctx, ei);
}

static pacs_err pg_share_add(pacs_index *idx, const pacs_index_share *s, size_t n, uint64_t *added,
                             pacs_errinfo *ei)
{
    return pacs_index__queue_share_add(&((pg_index *)idx)->queue, s, n, added, ei);
}

static pacs_err pg_share_revoke(pacs_index *idx, const char *id, const char *study_uid, int64_t now,
                                uint64_t *n, pacs_errinfo *ei)
{
    return pacs_index__queue_share_revoke(&((pg_index *)idx)->queue, id, study_uid, now, n, ei);
}

/* Streams a share SELECT (columns as SHARE_COLUMNS) to `cb`. */
static pacs_err share_select(pg_index *pi, const char *text, const params *p, pacs_share_cb cb,
                             void *ctx, pacs_errinfo *ei)
{
    PGconn *c = NULL;
    pacs_err err = conn_get(pi, &c, ei);
    if (err != PACS_OK) {
        return err;
    }
    stream s;
    err = stream_start(&s, c, text, NULL, p, ei);
    int rc;
    while (err == PACS_OK && (rc = stream_next(&s, ei)) != 0) {
        if (rc < 0) {
            err = ei ? ei->code : PACS_EDB;
            break;
        }
        pacs_index_share r;
        size_t n = 0;
        const char *v;
        v = stream_value(&s, 0, &n);
        r.id = v ? v : "";
        v = stream_value(&s, 1, &n);
        r.token_sha256 = (const unsigned char *)v;
        r.token_sha256_len = v ? n : 0;
        v = stream_value(&s, 2, &n);
        r.study_uid = v ? v : "";
        v = stream_value(&s, 3, &n);
        r.creator = v ? v : "";
        v = stream_value(&s, 4, &n);
        r.created_at = v ? strtoll(v, NULL, 10) : 0;
        v = stream_value(&s, 5, &n);
        r.expires_at = v ? strtoll(v, NULL, 10) : 0;
        v = stream_value(&s, 6, &n);
        r.revoked = v && strtoll(v, NULL, 10) != 0;
        v = stream_value(&s, 7, &n);
        r.revoked_at = v ? strtoll(v, NULL, 10) : 0;
        if (cb(ctx, &r)) {
            break;
        }
    }
    stream_end(&s);
    conn_put(pi, c);
    return err;
}

#define SHARE_COLUMNS                                                                              \
    "SELECT id, token_sha256, study_uid, creator, created_at, expires_at, revoked, revoked_at"     \
    " FROM shares"

static pacs_err pg_share_get(pacs_index *idx, const char *id, pacs_share_cb cb, void *ctx,
                             pacs_errinfo *ei)
{
    params p = {.n = 1};
    p.vals[0] = id;
    return share_select((pg_index *)idx, SHARE_COLUMNS " WHERE id = $1", &p, cb, ctx, ei);
}

static pacs_err pg_share_list(pacs_index *idx, const char *study_uid, pacs_share_cb cb, void *ctx,
                              pacs_errinfo *ei)
{
    params p = {.n = study_uid ? 1 : 0};
    p.vals[0] = study_uid;
    return share_select((pg_index *)idx,
                        study_uid ? SHARE_COLUMNS
                            " WHERE study_uid = $1 ORDER BY created_at DESC, pk DESC"
                                  : SHARE_COLUMNS " ORDER BY created_at DESC, pk DESC",
                        &p, cb, ctx, ei);
}

/* The advisory lock of an object: its key's first 64 bits. */
static long long object_lock_key(const char *object)
{
    char head[17];
    snprintf(head, sizeof head, "%s", object);
    return (long long)strtoull(head, NULL, 16);
}

static pacs_err pg_intent_add(pacs_index *idx, const char *object, pacs_errinfo *ei)
{
    pg_index *pi = (pg_index *)idx;
    /* The shared lock waits for a release of the same object in progress: after it, the
     * object is either gone (and will be written again) or kept for this intent. */
    return pooled(pi, NULL, ei,
                  "WITH l AS (SELECT pg_advisory_xact_lock_shared($1::bigint))"
                  " INSERT INTO object_intents(object, node, since, n)"
                  " SELECT $2, $3, $4::bigint, 1 FROM l"
                  " ON CONFLICT(object, node) DO UPDATE SET n = object_intents.n + 1,"
                  " since = excluded.since",
                  "issi", object_lock_key(object), object, pi->node, (long long)time(NULL));
}

static pacs_err pg_intent_clear(pacs_index *idx, const char *object, pacs_errinfo *ei)
{
    pg_index *pi = (pg_index *)idx;
    PGconn *c = NULL;
    pacs_err err = conn_get(pi, &c, ei);
    if (err == PACS_OK) {
        err = intent_done(c, NULL, pi->node, object, ei);
        conn_put(pi, c);
    }
    return err;
}

static pacs_err pg_intents_drop(pacs_index *idx, const char *node, int64_t older_than,
                                pacs_object_cb cb, void *ctx, pacs_errinfo *ei)
{
    params p;
    p.vals[0] = node ? node : "";
    snprintf(p.ints[1], sizeof p.ints[1], "%lld", (long long)older_than);
    p.vals[1] = p.ints[1];
    p.n = 2;
    return each_object((pg_index *)idx,
                       "DELETE FROM object_intents WHERE ($1 = '' OR node = $1)"
                       " AND ($2::bigint = 0 OR since < $2::bigint)"
                       " RETURNING object, since, node",
                       &p, cb, ctx, ei);
}

static pacs_err pg_object_release(pacs_index *idx, const char *object, pacs_release_cb rm,
                                  void *ctx, int *removed, pacs_errinfo *ei)
{
    pg_index *pi = (pg_index *)idx;
    PGconn *c = NULL;
    pacs_err err = conn_get(pi, &c, ei);
    if (err != PACS_OK) {
        return err;
    }
    PGresult *r = NULL;
    err = cmd(c, NULL, ei, "BEGIN");
    if (err == PACS_OK) {
        err = sql(c, NULL, NULL, ei, "SELECT pg_advisory_xact_lock($1::bigint)", "i",
                  object_lock_key(object));
    }
    if (err == PACS_OK) {
        err = sql(c, &r, NULL, ei,
                  "SELECT EXISTS(SELECT 1 FROM instances WHERE object=$1)"
                  " OR EXISTS(SELECT 1 FROM object_intents WHERE object=$1)",
                  "s", object);
    }
    if (err == PACS_OK) {
        int busy = PQntuples(r) == 1 && PQgetvalue(r, 0, 0)[0] == 't';
        PQclear(r);
        if (!busy) {
            err = rm(ctx, object, ei);
            *removed = err == PACS_OK;
        }
    }
    if (err == PACS_OK) {
        err = sql(c, NULL, NULL, ei, "DELETE FROM sweep WHERE object=$1", "s", object);
    }
    if (err == PACS_OK) {
        err = cmd(c, NULL, ei, "COMMIT");
    } else {
        cmd(c, NULL, NULL, "ROLLBACK");
    }
    conn_put(pi, c);
    return err;
}

static void pg_close(pacs_index *idx)
{
    pg_index *pi = (pg_index *)idx;
    pacs_index__queue_destroy(&pi->queue);
    if (pi->wconn && pi->bulk_open) {
        cmd(pi->wconn, NULL, NULL, "ROLLBACK"); /* a bulk load never finished */
    }
    PQfinish(pi->wconn);
    for (size_t i = 0; i < pi->n_idle; i++) {
        PQfinish(pi->idle[i]);
    }
    free(pi->idle);
    pthread_mutex_destroy(&pi->pool_mu);
    pthread_cond_destroy(&pi->pool_cv);
    free(pi->conninfo);
    free(pi);
}

static const pacs_index_ops pg_ops = {
    .name = "postgresql",
    .close = pg_close,
    .put = pg_put,
    .find = pg_find,
    .instances = pg_instances,
    .remove = pg_remove,
    .objects = pg_objects,
    .sweep_pending = pg_sweep_pending,
    .sweep_done = pg_sweep_done,
    .object_referenced = pg_object_referenced,
    .stats = pg_stats,
    .fwd_enqueue = pg_fwd_enqueue,
    .fwd_due = pg_fwd_due,
    .fwd_update = pg_fwd_update,
    .fwd_list = pg_fwd_list,
    .fwd_retry = pg_fwd_retry,
    .share_add = pg_share_add,
    .share_get = pg_share_get,
    .share_revoke = pg_share_revoke,
    .share_list = pg_share_list,
    .intent_add = pg_intent_add,
    .intent_clear = pg_intent_clear,
    .intents_drop = pg_intents_drop,
    .object_release = pg_object_release,
    .finish = pg_finish,
};

/* Brings the schema to the last version, once, whoever else is starting: the migrations run in
 * one transaction under an advisory lock. */
static pacs_err migrate(PGconn *c, pacs_errinfo *ei)
{
    PGresult *r = NULL;
    pacs_err err = cmd(c, NULL, ei, "BEGIN");
    if (err == PACS_OK) {
        err =
            sql(c, NULL, NULL, ei, "SELECT pg_advisory_xact_lock($1::bigint)", "i", MIGRATION_LOCK);
    }
    if (err == PACS_OK) {
        err = cmd(c, NULL, ei, "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT)");
    }
    long long version = 0;
    if (err == PACS_OK) {
        err = sql(c, &r, NULL, ei, "SELECT value::bigint FROM meta WHERE key='schema_version'", "");
        if (err == PACS_OK) {
            int found = 0;
            version = first_int(r, 0, &found);
            PQclear(r);
        }
    }
    const int last = migrations[N_MIGRATIONS - 1].version;
    if (err == PACS_OK && version > last) {
        err = pacs_errf(ei, PACS_EUNSUPPORTED,
                        "index schema version %lld is newer than this program (%d)", version, last);
    }
    for (size_t i = 0; i < N_MIGRATIONS && err == PACS_OK; i++) {
        const migration *m = &migrations[i];
        if (m->version > version) {
            err = cmd(c, NULL, ei, m->sql);
            if (err == PACS_OK) {
                pacs_log(PACS_LOG_INFO, "index", "backend=postgresql migration=%d: %s", m->version,
                         m->what);
            }
        }
    }
    if (err == PACS_OK && version != last) {
        err = sql(c, NULL, NULL, ei,
                  "INSERT INTO meta(key, value) VALUES('schema_version', $1)"
                  " ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                  "i", (long long)last);
    }
    if (err == PACS_OK) {
        err = cmd(c, NULL, ei, "COMMIT");
    } else {
        cmd(c, NULL, NULL, "ROLLBACK");
    }
    return err;
}

pacs_err pacs_index_pg_open(const char *conninfo, const pacs_index_options *o, pacs_index **out,
                            pacs_errinfo *ei)
{
    pg_index *pi = calloc(1, sizeof *pi);
    if (!pi) {
        return pacs_errf(ei, PACS_ENOMEM, "out of memory");
    }
    pi->base.ops = &pg_ops;
    pacs_index__queue_init(&pi->queue, BATCH_MAX, run_batch, pi);
    pthread_mutex_init(&pi->pool_mu, NULL);
    pthread_cond_init(&pi->pool_cv, NULL);
    pi->pool_max = o->pool ? o->pool : POOL_DEFAULT;
    pi->lease = o->claim_seconds ? o->claim_seconds : FWD_LEASE;
    pi->bulk = (o->bulk & PACS_INDEX_BULK) ? o->bulk : 0;
    snprintf(pi->node, sizeof pi->node, "%s", o->node && o->node[0] ? o->node : "pacsd");
    pi->conninfo = strdup(conninfo);
    pi->idle = calloc(pi->pool_max, sizeof *pi->idle);
    if (!pi->conninfo || !pi->idle) {
        pg_close(&pi->base);
        return pacs_errf(ei, PACS_ENOMEM, "out of memory");
    }
    pacs_err err = connect_db(conninfo, 0, &pi->wconn, ei);
    if (err == PACS_OK) {
        PGresult *r = PQexec(pi->wconn, "SHOW server_encoding");
        if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1 &&
            strcmp(PQgetvalue(r, 0, 0), "UTF8") != 0) {
            err = pacs_errf(ei, PACS_EUNSUPPORTED,
                            "the index database must be encoded in UTF8, not %s",
                            PQgetvalue(r, 0, 0));
        }
        PQclear(r);
    }
    if (err == PACS_OK) {
        err = migrate(pi->wconn, ei);
    }
    if (err == PACS_OK) {
        err = pacs_index__queue_start(&pi->queue, ei);
    }
    if (err != PACS_OK) {
        pg_close(&pi->base);
        return err;
    }
    *out = &pi->base;
    return PACS_OK;
}
