// SPDX-License-Identifier: MIT
/*
 * The SQLite index backend (index.h, index_core.h): the driver over SQLite's C API, the
 * connections (one writer, owned by the writer thread of the core's group commit; readers from
 * a pool, query-only, which never block the writer), the schema's migrations and SQLite's
 * dialect. WAL with synchronous=FULL: a commit is durable when it returns. Everything the index
 * does is in the core (index.c and the files it names), written once for both backends.
 *
 * Thread-safe: the pool has a mutex; a connection is used by one thread at a time.
 */
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pacs/base/log.h"
#include "storage/index_core.h"

#define POOL_MAX 64

/* ---- the dialect ---- */

static const pacs_sql_dialect dialect = {
    .name = "sqlite",
    .numbered_params = 0,
    .like_patterns = 0,
    .strpos = "instr",
    .no_limit = "-1",
    .explicit_nulls = 0,
    .name_fts = "studies_name_fts",
    .date_walk = " INDEXED BY studies_date",
    .begin = "BEGIN IMMEDIATE",
    .for_update = "",
    .now_stamp = "strftime('%Y%m%d%H%M%S','now')",
    .string_agg = 0,
    .jsonb = 0,
    .shared = 0,
};

/* The handle: the core's part, the file, the writer's connection and the readers' pool. */
typedef struct sqlite_index {
    pacs_index core;
    char *path;
    pacs_db *writer;
    pthread_mutex_t pool_mu;
    pacs_db *pool[POOL_MAX];
    size_t n_pool;
    int lazy; /* the writer's synchronous is NORMAL (sq_batch_begin) */
} sqlite_index;

/* ---- the schema: versioned migrations, each run once, in order, at open ----
 * Version 1 is the schema as first released. Its statements are idempotent and run again on a
 * version-1 file, which is how files older than the forwarding queue gain it. Later changes are
 * new entries; an entry is never edited once released. meta.schema_version is the version a
 * file has reached. */

static const char *const schema_v1 =
    "CREATE TABLE IF NOT EXISTS patients("
    " pk INTEGER PRIMARY KEY, patient_id TEXT NOT NULL, issuer TEXT NOT NULL,"
    " name TEXT, name_ci TEXT, name_fold TEXT, birth_date TEXT, sex TEXT,"
    " num_studies INTEGER NOT NULL DEFAULT 0, num_series INTEGER NOT NULL DEFAULT 0,"
    " num_instances INTEGER NOT NULL DEFAULT 0, attrs TEXT, UNIQUE(patient_id, issuer));"
    "CREATE TABLE IF NOT EXISTS studies("
    " pk INTEGER PRIMARY KEY, patient_pk INTEGER NOT NULL, study_uid TEXT NOT NULL UNIQUE,"
    " study_date TEXT, study_time TEXT, accession TEXT, study_id TEXT,"
    " ref_physician TEXT, ref_physician_ci TEXT, ref_physician_fold TEXT, description TEXT,"
    " patient_name TEXT, patient_name_ci TEXT, patient_name_fold TEXT, patient_id TEXT,"
    " issuer TEXT, birth_date TEXT, sex TEXT, modalities TEXT, sop_classes TEXT,"
    " num_series INTEGER NOT NULL DEFAULT 0, num_instances INTEGER NOT NULL DEFAULT 0,"
    " attrs TEXT);" PACS_INDEX__V1_STUDY_INDEXES "CREATE TABLE IF NOT EXISTS series("
    " pk INTEGER PRIMARY KEY, study_pk INTEGER NOT NULL, series_uid TEXT NOT NULL UNIQUE,"
    " modality TEXT, series_number INTEGER, description TEXT, body_part TEXT,"
    " series_date TEXT, series_time TEXT, pps_start_date TEXT, pps_start_time TEXT,"
    " num_instances INTEGER NOT NULL DEFAULT 0, attrs TEXT);"
    "CREATE INDEX IF NOT EXISTS series_study ON series(study_pk);"
    "CREATE TABLE IF NOT EXISTS instances("
    " pk INTEGER PRIMARY KEY, series_pk INTEGER NOT NULL, sop_uid TEXT NOT NULL UNIQUE,"
    " sop_class TEXT, instance_number INTEGER, ts TEXT, object TEXT NOT NULL,"
    " size INTEGER NOT NULL, frames INTEGER, rows INTEGER, columns INTEGER,"
    " bits_allocated INTEGER, content_date TEXT, content_time TEXT, source_aet TEXT,"
    " received TEXT, pixels BLOB, metadata BLOB);"
    "CREATE INDEX IF NOT EXISTS instances_series ON instances(series_pk, instance_number);"
    "CREATE INDEX IF NOT EXISTS instances_object ON instances(object);"
    "CREATE TABLE IF NOT EXISTS sweep(object TEXT PRIMARY KEY);"
    /* The forwarding queue (added without a version change: older files simply gain it). */
    "CREATE TABLE IF NOT EXISTS forward_queue("
    " id INTEGER PRIMARY KEY, dest TEXT NOT NULL, rule TEXT NOT NULL, sop_uid TEXT NOT NULL,"
    " object TEXT NOT NULL, state INTEGER NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,"
    " next_try INTEGER NOT NULL, created INTEGER NOT NULL, updated INTEGER NOT NULL,"
    " error TEXT, UNIQUE(sop_uid, dest));"
    "CREATE INDEX IF NOT EXISTS forward_due ON forward_queue(state, next_try);";

/* The share links' records (share.h): the columns of the former DATA/shares.db, and pk for
 * the order of creation. */
#define SHARES_TABLE                                                                               \
    "CREATE TABLE IF NOT EXISTS shares("                                                           \
    " pk INTEGER PRIMARY KEY, id TEXT NOT NULL UNIQUE, token_sha256 BLOB NOT NULL,"                \
    " study_uid TEXT NOT NULL, created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL,"          \
    " creator TEXT NOT NULL DEFAULT '', revoked INTEGER NOT NULL DEFAULT 0,"                       \
    " revoked_at INTEGER NOT NULL DEFAULT 0);"                                                     \
    "CREATE INDEX IF NOT EXISTS shares_study ON shares(study_uid);"

static const pacs_index__migration migrations[] = {
    {1, "patients, studies, series, instances, sweep records, forwarding queue", schema_v1},
    {2, "indexes for matching the referring physician's name",
     "CREATE INDEX IF NOT EXISTS studies_ref_fold ON studies(ref_physician_fold);"
     "CREATE INDEX IF NOT EXISTS studies_ref_ci ON studies(ref_physician_ci);"},
    {3, "a trigram index of patients' folded names, for fuzzy name matching",
     "CREATE VIRTUAL TABLE IF NOT EXISTS studies_name_fts USING fts5("
     " patient_name_fold, content='studies', content_rowid='pk', tokenize='trigram');"
     "CREATE TRIGGER IF NOT EXISTS studies_name_fts_ins AFTER INSERT ON studies BEGIN"
     " INSERT INTO studies_name_fts(rowid, patient_name_fold)"
     " VALUES (new.pk, new.patient_name_fold); END;"
     "CREATE TRIGGER IF NOT EXISTS studies_name_fts_del AFTER DELETE ON studies BEGIN"
     " INSERT INTO studies_name_fts(studies_name_fts, rowid, patient_name_fold)"
     " VALUES ('delete', old.pk, old.patient_name_fold); END;"
     "CREATE TRIGGER IF NOT EXISTS studies_name_fts_upd AFTER UPDATE OF patient_name_fold"
     " ON studies WHEN old.patient_name_fold IS NOT new.patient_name_fold BEGIN"
     " INSERT INTO studies_name_fts(studies_name_fts, rowid, patient_name_fold)"
     " VALUES ('delete', old.pk, old.patient_name_fold);"
     " INSERT INTO studies_name_fts(rowid, patient_name_fold)"
     " VALUES (new.pk, new.patient_name_fold); END;"
     "INSERT INTO studies_name_fts(studies_name_fts) VALUES ('rebuild');"},
    {4, "share links' records (until now in DATA/shares.db)", SHARES_TABLE},
    {5, "the HIS's patients and identifiers, orders, MPPS instances",
     PACS_INDEX__ORDERS_TABLES("INTEGER PRIMARY KEY", "INTEGER", "TEXT")},
    {6, "the studies reconciled to an order", PACS_INDEX__ORDER_LINKS("INTEGER", "TEXT")},
    {7, "the series an order's MPPS performed", PACS_INDEX__ORDER_SERIES("INTEGER", "TEXT")},
    {8, "the words of the HIS's patients' names, for the worklist",
     PACS_INDEX__PATIENT_WORDS("INTEGER", "TEXT")},
    {9, "built-in users (the login page)", PACS_INDEX__USERS("INTEGER", "TEXT")},
    {10, "bytes and sending time of delivered forwards", PACS_INDEX__FWD_COUNTERS},
    {11, "the HTTP credential an instance came with (routes' study_from)",
     PACS_INDEX__SOURCE_HTTP("TEXT")},
    {12, "puts waiting for the object store's flush (one flush per instance)",
     PACS_INDEX__UNFLUSHED("INTEGER PRIMARY KEY AUTOINCREMENT", "TEXT")},
    /* A walk in date order (index_walk.c) tests the patient's name on each study it passes:
     * from the index entry now, instead of the study's row, which sits elsewhere in the table
     * for each (the deep page of a common name at a million instances: 7 ms of row reads ->
     * 0.2 ms). pk after the time, so that the index's order is still the list's order. */
    {13, "the study dates' index holds the patient's names",
     "DROP INDEX IF EXISTS studies_date;"
     "CREATE INDEX studies_date ON studies(study_date, study_time, pk, patient_name_ci,"
     " patient_name_fold);"},
};
#define N_MIGRATIONS (sizeof migrations / sizeof migrations[0])

/* ---- errors ---- */

static pacs_err db_err(sqlite3 *db, int rc, pacs_errinfo *ei, const char *what)
{
    int base = rc & 0xff;
    pacs_err code = base == SQLITE_FULL                            ? PACS_ENOSPC
                    : base == SQLITE_BUSY || base == SQLITE_LOCKED ? PACS_EBUSY
                    : base == SQLITE_NOMEM                         ? PACS_ENOMEM
                    : base == SQLITE_READONLY || base == SQLITE_PERM || base == SQLITE_CANTOPEN
                        ? PACS_EDENIED
                    : base == SQLITE_IOERR                            ? PACS_EIO
                    : base == SQLITE_CORRUPT || base == SQLITE_NOTADB ? PACS_ECORRUPT
                                                                      : PACS_EDB;
    return pacs_errf(ei, code, "index %s: %s", what, db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
}

/* ---- the driver ---- */

/* Queries compiled per call (QIDO, C-FIND, listings) repeat a few shapes with new values, and
 * preparing one costs SQLite more than running it on an indexed key (~200 k instructions, half
 * of an empty QIDO request): each connection keeps the last few it prepared, keyed by their
 * text, and hands one out again reset, unless it is still in use. */
#define COMPILED_KEPT 16

typedef struct compiled {
    char *sql; /* the core's text (NULL: a free entry) */
    pacs_db_stmt *st;
    uint64_t used; /* the connection's use counter at its last use, for eviction */
    int busy;      /* handed out and not yet done */
} compiled;

struct pacs_db {
    pacs_db_kept kept; /* first: the core's */
    sqlite3 *h;
    compiled cache[COMPILED_KEPT];
    uint64_t uses;
};

struct pacs_db_stmt {
    pacs_db *db;
    sqlite3_stmt *st;
    int keep;         /* a slot's statement: reset when done, freed with the connection */
    compiled *cached; /* a compiled query kept in db->cache: reset when done */
};

/* The core's $1, $2, ... as SQLite's ?1, ?2, ... (outside quotes). */
static char *sqlite_params(const char *sql)
{
    char *out = strdup(sql);
    char quote = 0;
    for (char *p = out; p && *p; p++) {
        if (quote) {
            quote = *p == quote ? 0 : quote;
        } else if (*p == '\'' || *p == '"') {
            quote = *p;
        } else if (*p == '$' && p[1] >= '0' && p[1] <= '9') {
            *p = '?';
        }
    }
    return out;
}

static pacs_err prepare(pacs_db *db, int slot, const char *sql, pacs_db_stmt **out,
                        pacs_errinfo *ei)
{
    char *text = sqlite_params(sql);
    pacs_db_stmt *st = calloc(1, sizeof *st);
    if (!text || !st) {
        free(text);
        free(st);
        return pacs_errf(ei, PACS_ENOMEM, "out of memory");
    }
    int rc = sqlite3_prepare_v3(db->h, text, -1, slot >= 0 ? SQLITE_PREPARE_PERSISTENT : 0, &st->st,
                                NULL);
    free(text);
    if (rc != SQLITE_OK) {
        free(st);
        return db_err(db->h, rc, ei, "prepare");
    }
    st->db = db;
    st->keep = slot >= 0;
    *out = st;
    return PACS_OK;
}

static void sq_release(pacs_db_stmt *st)
{
    sqlite3_finalize(st->st);
    free(st);
}

/* A compiled query (slot -1): the kept one with the same text when it is free, else prepared
 * and kept in place of the least recently used free entry. */
static pacs_err sq_prepare(pacs_db *db, int slot, const char *sql, pacs_db_stmt **out,
                           pacs_errinfo *ei)
{
    if (slot >= 0) {
        return prepare(db, slot, sql, out, ei);
    }
    compiled *victim = NULL;
    db->uses++;
    for (size_t i = 0; i < COMPILED_KEPT; i++) {
        compiled *c = &db->cache[i];
        if (c->busy) {
            continue;
        }
        if (c->sql && strcmp(c->sql, sql) == 0) {
            c->busy = 1;
            c->used = db->uses;
            *out = c->st;
            return PACS_OK;
        }
        if (!victim || !c->sql || (victim->sql && c->used < victim->used)) {
            victim = c;
        }
    }
    pacs_err err = prepare(db, -1, sql, out, ei);
    char *key = err == PACS_OK && victim ? strdup(sql) : NULL;
    if (key) {
        if (victim->sql) {
            sq_release(victim->st);
            free(victim->sql);
        }
        *victim = (compiled){key, *out, db->uses, 1};
        (*out)->cached = victim;
    }
    return err;
}

static void sq_disconnect(pacs_db *db)
{
    for (size_t i = 0; i < COMPILED_KEPT; i++) {
        if (db->cache[i].sql) {
            sq_release(db->cache[i].st);
            free(db->cache[i].sql);
        }
    }
    sqlite3_close(db->h);
    free(db);
}

static void sq_bind_int(pacs_db_stmt *st, int i, long long v)
{
    sqlite3_bind_int64(st->st, i, v);
}

static void sq_bind_text(pacs_db_stmt *st, int i, const char *s)
{
    if (s) {
        sqlite3_bind_text(st->st, i, s, -1, SQLITE_STATIC);
    } else {
        sqlite3_bind_null(st->st, i);
    }
}

static void sq_bind_blob(pacs_db_stmt *st, int i, const void *p, size_t n)
{
    if (p) {
        sqlite3_bind_blob(st->st, i, p, (int)n, SQLITE_STATIC);
    } else {
        sqlite3_bind_null(st->st, i);
    }
}

static int sq_step(pacs_db_stmt *st, pacs_errinfo *ei)
{
    int rc = sqlite3_step(st->st);
    if (rc == SQLITE_ROW) {
        return 1;
    }
    if (rc == SQLITE_DONE) {
        return 0;
    }
    db_err(st->db->h, rc, ei, "statement");
    return -1;
}

/* Text (integers as decimal text) or bytes. */
static const char *sq_column(void *ctx, int col, size_t *len)
{
    sqlite3_stmt *st = ((pacs_db_stmt *)ctx)->st;
    int type = sqlite3_column_type(st, col);
    if (type == SQLITE_NULL) {
        return NULL;
    }
    const char *v = type == SQLITE_BLOB ? (const char *)sqlite3_column_blob(st, col)
                                        : (const char *)sqlite3_column_text(st, col);
    *len = (size_t)sqlite3_column_bytes(st, col);
    return v ? v : "";
}

static long long sq_column_int(pacs_db_stmt *st, int col)
{
    return sqlite3_column_int64(st->st, col);
}

/* Right after the statement's end: the connection's count is the statement's. */
static uint64_t sq_changes(pacs_db_stmt *st)
{
    return (uint64_t)sqlite3_changes(st->db->h);
}

static void sq_done(pacs_db_stmt *st)
{
    if (st && (st->keep || st->cached)) {
        sqlite3_reset(st->st);
        sqlite3_clear_bindings(st->st);
        if (st->cached) {
            st->cached->busy = 0;
        }
    } else if (st) {
        sq_release(st);
    }
}

static pacs_err sq_exec(pacs_db *db, const char *sql, pacs_errinfo *ei)
{
    int rc = sqlite3_exec(db->h, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? PACS_OK : db_err(db->h, rc, ei, sql);
}

static int sq_txn_lost(pacs_db *db)
{
    return sqlite3_get_autocommit(db->h) != 0;
}

static const pacs_db_driver driver = PACS_DB_DRIVER(sq);

/* ---- connections ---- */

static pacs_err db_open(const char *path, int writer, pacs_db **out, pacs_errinfo *ei)
{
    pacs_db *db = calloc(1, sizeof *db);
    if (!db) {
        return pacs_errf(ei, PACS_ENOMEM, "out of memory");
    }
    int rc = sqlite3_open_v2(
        path, &db->h, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_busy_timeout(db->h, 10000);
        /* Small private caches: the kernel's page cache holds the index for every connection at
         * once, and a reader's cache is dropped whenever a commit changes the file anyway. No
         * mmap, so that index pages are not counted in (and do not inflate) the server's RSS.
         * 8 KiB pages for a new file (an existing one keeps its size): an instance row with
         * its compressed metadata is ~1 KiB, and 4 KiB pages left a fifth of the table
         * unused. */
        rc = sqlite3_exec(db->h,
                          writer ? "PRAGMA page_size=8192; PRAGMA journal_mode=WAL;"
                                   "PRAGMA synchronous=FULL;"
                                   "PRAGMA temp_store=MEMORY; PRAGMA cache_size=-32768;"
                                 : "PRAGMA query_only=1; PRAGMA temp_store=MEMORY;"
                                   "PRAGMA cache_size=-4096; PRAGMA mmap_size=0;",
                          NULL, NULL, NULL);
    }
    if (rc != SQLITE_OK) {
        pacs_err err = db_err(db->h, rc, ei, "open");
        pacs_db_close(&driver, db);
        return err;
    }
    *out = db;
    return PACS_OK;
}

/* A lazy batch commits with synchronous=NORMAL: written to the WAL, flushed by the caller's
 * syncfs (or any later flush of the WAL). SQLite refuses to change it inside a transaction,
 * so it is set before BEGIN, and only when it changes. */
static pacs_err sq_batch_begin(pacs_index *idx, pacs_db **out, int lazy, pacs_errinfo *ei)
{
    sqlite_index *si = (sqlite_index *)idx;
    *out = si->writer;
    lazy = lazy && idx->defers_flush;
    if (lazy != si->lazy) {
        pacs_err err =
            sq_exec(*out, lazy ? "PRAGMA synchronous=NORMAL" : "PRAGMA synchronous=FULL", ei);
        if (err != PACS_OK) {
            return err;
        }
        si->lazy = lazy;
    }
    return sq_exec(*out, dialect.begin, ei);
}

static pacs_err sq_batch_commit(pacs_index *idx, pacs_db *db, int finish, pacs_errinfo *ei)
{
    (void)idx;
    (void)finish; /* no bulk load on SQLite: nothing stays open */
    return sq_exec(db, "COMMIT", ei);
}

/* One writer: nothing to race with. */
static int sq_batch_retry(pacs_index *idx, int attempt)
{
    (void)idx;
    (void)attempt;
    return 0;
}

static pacs_err sq_conn_get(pacs_index *idx, pacs_db **out, pacs_errinfo *ei)
{
    sqlite_index *si = (sqlite_index *)idx;
    pthread_mutex_lock(&si->pool_mu);
    if (si->n_pool > 0) {
        *out = si->pool[--si->n_pool];
        pthread_mutex_unlock(&si->pool_mu);
        return PACS_OK;
    }
    pthread_mutex_unlock(&si->pool_mu);
    return db_open(si->path, 0, out, ei);
}

static void sq_conn_put(pacs_index *idx, pacs_db *db)
{
    sqlite_index *si = (sqlite_index *)idx;
    pthread_mutex_lock(&si->pool_mu);
    if (si->n_pool < POOL_MAX) {
        si->pool[si->n_pool++] = db;
        db = NULL;
    }
    pthread_mutex_unlock(&si->pool_mu);
    pacs_db_close(&driver, db);
}

static void sq_close(pacs_index *idx)
{
    sqlite_index *si = (sqlite_index *)idx;
    pacs_index__fini(idx);
    for (size_t i = 0; i < si->n_pool; i++) {
        pacs_db_close(&driver, si->pool[i]);
    }
    if (si->writer) {
        /* Fold the WAL back into the database so the file stands alone. */
        sqlite3_exec(si->writer->h, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL);
        pacs_db_close(&driver, si->writer);
    }
    pthread_mutex_destroy(&si->pool_mu);
    free(si->path);
    free(si);
}

static const pacs_index__backend backend = PACS_INDEX__BACKEND("sqlite", &dialect, &driver, sq);

pacs_err pacs_index_sqlite_open(const char *path, pacs_index **out, pacs_errinfo *ei)
{
    sqlite_index *si = calloc(1, sizeof *si);
    if (!si) {
        return pacs_errf(ei, PACS_ENOMEM, "out of memory");
    }
    /* One process at a time: no intents (the archive's in-flight set suffices). Unflushed
     * puts commit to the WAL alone, which the object store's syncfs flushes (index.h). */
    pacs_index__init(&si->core, &backend, NULL, 0);
    si->core.defers_flush = 1;
    pthread_mutex_init(&si->pool_mu, NULL);
    si->path = strdup(path);
    if (!si->path) {
        sq_close(&si->core);
        return pacs_errf(ei, PACS_ENOMEM, "out of memory");
    }
    pacs_err err = db_open(path, 1, &si->writer, ei);
    char where[4200];
    snprintf(where, sizeof where, "path=%s", path);
    /* BEGIN IMMEDIATE: another process opening the same file waits for the migrations. */
    if (err == PACS_OK) {
        err = pacs_index__migrate(&si->core, si->writer, migrations, N_MIGRATIONS,
                                  "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value"
                                  " TEXT); BEGIN IMMEDIATE",
                                  1, 0, where, ei);
    }
    return pacs_index__opened(&si->core, err, out, ei);
}
