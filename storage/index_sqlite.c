// SPDX-License-Identifier: MIT
/*
 * The SQLite index backend (index.h). One writer thread owns the only writing connection and
 * commits queued puts and removals in shared transactions (group commit; WAL with
 * synchronous=FULL, so a commit is durable when it returns); each job runs in its own savepoint,
 * so one bad job fails alone. Readers take a connection from a pool and never block the writer.
 * Queries are compiled by the compiler both backends share (index_sql.h), in SQLite's dialect,
 * with bound parameters only; keys that no column covers are matched in C against the stored
 * attributes. The schema is a list of versioned migrations run at open.
 */
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pacs/base/buf.h"
#include "pacs/base/log.h"
#include "pacs/dicom/dcm.h"
#include "storage/catalog.h"
#include "storage/index.h"
#include "storage/index_queue.h"
#include "storage/index_sql.h"

#define BATCH_MAX 512
#define POOL_MAX 64

typedef pacs_index__job job;
typedef pacs_index__fwd_args fwd_args;

typedef struct sqlite_index {
    pacs_index base;
    char *path;
    sqlite3 *wdb;
    pacs_index__queue queue; /* group commit: the writer thread runs run_batch */
    pthread_mutex_t pool_mu;
    sqlite3 *pool[POOL_MAX];
    size_t n_pool;
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
    " attrs TEXT);"
    "CREATE INDEX IF NOT EXISTS studies_patient ON studies(patient_pk);"
    "CREATE INDEX IF NOT EXISTS studies_date ON studies(study_date, study_time);"
    "CREATE INDEX IF NOT EXISTS studies_pid ON studies(patient_id);"
    "CREATE INDEX IF NOT EXISTS studies_name ON studies(patient_name_ci);"
    "CREATE INDEX IF NOT EXISTS studies_name_fold ON studies(patient_name_fold);"
    "CREATE INDEX IF NOT EXISTS studies_accession ON studies(accession);"
    "CREATE TABLE IF NOT EXISTS series("
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

typedef struct migration {
    int version;
    const char *what;
    const char *sql;
} migration;

static const migration migrations[] = {
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
};
#define N_MIGRATIONS (sizeof migrations / sizeof migrations[0])

/* ---- small SQLite helpers ---- */

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

static pacs_err exec(sqlite3 *db, const char *sql, pacs_errinfo *ei)
{
    int rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
    return rc == SQLITE_OK ? PACS_OK : db_err(db, rc, ei, sql);
}

static pacs_err prepare(sqlite3 *db, const char *sql, sqlite3_stmt **st, pacs_errinfo *ei)
{
    int rc = sqlite3_prepare_v2(db, sql, -1, st, NULL);
    return rc == SQLITE_OK ? PACS_OK : db_err(db, rc, ei, "prepare");
}

static void bind_text(sqlite3_stmt *st, int i, const char *s)
{
    if (s) {
        sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT);
    } else {
        sqlite3_bind_null(st, i);
    }
}

static void col_copy(sqlite3_stmt *st, int i, char *dst, size_t cap)
{
    const unsigned char *t = sqlite3_column_text(st, i);
    snprintf(dst, cap, "%s", t ? (const char *)t : "");
}

static pacs_err open_connection(const char *path, int writer, sqlite3 **out, pacs_errinfo *ei)
{
    sqlite3 *db = NULL;
    int rc = sqlite3_open_v2(
        path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        pacs_err e = db_err(db, rc, ei, "open");
        sqlite3_close(db);
        return e;
    }
    sqlite3_busy_timeout(db, 10000);
    /* Small private caches: the kernel's page cache holds the index for every connection at
     * once, and a reader's cache is dropped whenever a commit changes the file anyway. No
     * mmap, so that index pages are not counted in (and do not inflate) the server's RSS.
     * 8 KiB pages for a new file (an existing one keeps its size): an instance row with its
     * compressed metadata is ~1 KiB, and 4 KiB pages left a fifth of the table unused. */
    const char *pragmas = writer ? "PRAGMA page_size=8192; PRAGMA journal_mode=WAL;"
                                   "PRAGMA synchronous=FULL;"
                                   "PRAGMA temp_store=MEMORY; PRAGMA cache_size=-32768;"
                                 : "PRAGMA query_only=1; PRAGMA temp_store=MEMORY;"
                                   "PRAGMA cache_size=-4096; PRAGMA mmap_size=0;";
    pacs_err err = exec(db, pragmas, ei);
    if (err != PACS_OK) {
        sqlite3_close(db);
        return err;
    }
    *out = db;
    return PACS_OK;
}

static pacs_err reader_get(sqlite_index *si, sqlite3 **out, pacs_errinfo *ei)
{
    pthread_mutex_lock(&si->pool_mu);
    if (si->n_pool > 0) {
        *out = si->pool[--si->n_pool];
        pthread_mutex_unlock(&si->pool_mu);
        return PACS_OK;
    }
    pthread_mutex_unlock(&si->pool_mu);
    return open_connection(si->path, 0, out, ei);
}

static void reader_put(sqlite_index *si, sqlite3 *db)
{
    pthread_mutex_lock(&si->pool_mu);
    if (si->n_pool < POOL_MAX) {
        si->pool[si->n_pool++] = db;
        db = NULL;
    }
    pthread_mutex_unlock(&si->pool_mu);
    sqlite3_close(db);
}

/* ---- the writer ---- */

static void bind_int_text(sqlite3_stmt *st, int i, const char *s)
{
    char *end = NULL;
    long long v = s ? strtoll(s, &end, 10) : 0;
    if (s && end && end != s) {
        sqlite3_bind_int64(st, i, v);
    } else {
        sqlite3_bind_null(st, i);
    }
}

/* Runs a statement that returns no rows. */
static pacs_err run(sqlite3 *db, sqlite3_stmt *st, pacs_errinfo *ei, const char *what)
{
    int rc = sqlite3_step(st);
    pacs_err err = rc == SQLITE_DONE || rc == SQLITE_ROW ? PACS_OK : db_err(db, rc, ei, what);
    sqlite3_finalize(st);
    return err;
}

static pacs_err run_sql(sqlite3 *db, pacs_errinfo *ei, const char *sql, const char *fmt, ...)
{
    sqlite3_stmt *st = NULL;
    pacs_err err = prepare(db, sql, &st, ei);
    if (err != PACS_OK) {
        return err;
    }
    va_list ap;
    va_start(ap, fmt);
    for (int i = 0; fmt[i]; i++) {
        if (fmt[i] == 's') {
            bind_text(st, i + 1, va_arg(ap, const char *));
        } else {
            sqlite3_bind_int64(st, i + 1, va_arg(ap, long long));
        }
    }
    va_end(ap);
    return run(db, st, ei, sql);
}

static long long query_int(sqlite3 *db, const char *sql, long long arg, long long dflt)
{
    sqlite3_stmt *st = NULL;
    long long v = dflt;
    if (sqlite3_prepare_v2(db, sql, -1, &st, NULL) == SQLITE_OK) {
        sqlite3_bind_int64(st, 1, arg);
        if (sqlite3_step(st) == SQLITE_ROW) {
            v = sqlite3_column_int64(st, 0);
        }
    }
    sqlite3_finalize(st);
    return v;
}

/* Builds "\A\B\" from a statement's first column over its rows. */
static pacs_err collect_set(sqlite3 *db, const char *sql, long long arg, char **out,
                            pacs_errinfo *ei)
{
    sqlite3_stmt *st = NULL;
    pacs_err err = prepare(db, sql, &st, ei);
    if (err != PACS_OK) {
        return err;
    }
    sqlite3_bind_int64(st, 1, arg);
    pacs_buf b;
    pacs_buf_init(&b, 1u << 20);
    pacs_buf_puts(&b, "\\");
    while (sqlite3_step(st) == SQLITE_ROW) {
        const unsigned char *t = sqlite3_column_text(st, 0);
        if (t && *t) {
            pacs_buf_printf(&b, "%s\\", (const char *)t);
        }
    }
    sqlite3_finalize(st);
    *out = pacs_buf_take(&b, NULL);
    return *out ? PACS_OK : pacs_errf(ei, PACS_ENOMEM, "out of memory");
}

static pacs_err refresh_study_sets(sqlite3 *db, long long study_pk, pacs_errinfo *ei)
{
    char *mods = NULL, *classes = NULL;
    pacs_err err = collect_set(db,
                               "SELECT DISTINCT modality FROM series WHERE study_pk=? "
                               "ORDER BY modality",
                               study_pk, &mods, ei);
    if (err == PACS_OK) {
        err = collect_set(db,
                          "SELECT DISTINCT i.sop_class FROM instances i JOIN series se ON "
                          "i.series_pk=se.pk WHERE se.study_pk=? ORDER BY i.sop_class",
                          study_pk, &classes, ei);
    }
    if (err == PACS_OK) {
        err = run_sql(db, ei, "UPDATE studies SET modalities=?, sop_classes=? WHERE pk=?", "ssi",
                      mods, classes, study_pk);
    }
    free(mods);
    free(classes);
    return err;
}

/* Removes one instance row, records its object for sweeping, fixes counts and drops parents
 * left empty. */
static pacs_err remove_instance(sqlite3 *db, long long pk, pacs_errinfo *ei)
{
    long long series_pk = query_int(db, "SELECT series_pk FROM instances WHERE pk=?", pk, -1);
    long long study_pk = query_int(db, "SELECT study_pk FROM series WHERE pk=?", series_pk, -1);
    long long patient_pk = query_int(db, "SELECT patient_pk FROM studies WHERE pk=?", study_pk, -1);
    if (series_pk < 0 || study_pk < 0 || patient_pk < 0) {
        return pacs_errf(ei, PACS_EDB, "index inconsistency around instance %lld", pk);
    }
    pacs_err err = run_sql(db, ei,
                           "INSERT OR IGNORE INTO sweep(object) SELECT object FROM "
                           "instances WHERE pk=?",
                           "i", pk);
    if (err == PACS_OK) {
        err = run_sql(db, ei, "DELETE FROM instances WHERE pk=?", "i", pk);
    }
    if (err == PACS_OK) {
        err = run_sql(db, ei, "UPDATE series SET num_instances=num_instances-1 WHERE pk=?", "i",
                      series_pk);
    }
    if (err == PACS_OK) {
        err = run_sql(db, ei, "UPDATE studies SET num_instances=num_instances-1 WHERE pk=?", "i",
                      study_pk);
    }
    if (err == PACS_OK) {
        err = run_sql(db, ei, "UPDATE patients SET num_instances=num_instances-1 WHERE pk=?", "i",
                      patient_pk);
    }
    if (err != PACS_OK) {
        return err;
    }
    if (query_int(db, "SELECT num_instances FROM series WHERE pk=?", series_pk, 0) <= 0) {
        err = run_sql(db, ei, "DELETE FROM series WHERE pk=?", "i", series_pk);
        if (err == PACS_OK) {
            err = run_sql(db, ei, "UPDATE studies SET num_series=num_series-1 WHERE pk=?", "i",
                          study_pk);
        }
        if (err == PACS_OK) {
            err = run_sql(db, ei, "UPDATE patients SET num_series=num_series-1 WHERE pk=?", "i",
                          patient_pk);
        }
    }
    if (err != PACS_OK) {
        return err;
    }
    if (query_int(db, "SELECT num_series FROM studies WHERE pk=?", study_pk, 0) <= 0) {
        err = run_sql(db, ei, "DELETE FROM studies WHERE pk=?", "i", study_pk);
        if (err == PACS_OK) {
            err = run_sql(db, ei, "UPDATE patients SET num_studies=num_studies-1 WHERE pk=?", "i",
                          patient_pk);
        }
        if (err == PACS_OK &&
            query_int(db, "SELECT num_studies FROM patients WHERE pk=?", patient_pk, 0) <= 0) {
            err = run_sql(db, ei, "DELETE FROM patients WHERE pk=?", "i", patient_pk);
        }
        return err;
    }
    return refresh_study_sets(db, study_pk, ei);
}

static pacs_err do_put(sqlite3 *db, const pacs_index_entry *e, pacs_put_result *res,
                       pacs_errinfo *ei)
{
    memset(res, 0, sizeof *res);
    sqlite3_stmt *st = NULL;
    pacs_err err = prepare(db, "SELECT pk, object FROM instances WHERE sop_uid=?", &st, ei);
    if (err != PACS_OK) {
        return err;
    }
    bind_text(st, 1, e->sop_uid);
    long long old_pk = -1;
    if (sqlite3_step(st) == SQLITE_ROW) {
        old_pk = sqlite3_column_int64(st, 0);
        col_copy(st, 1, res->old_object, sizeof res->old_object);
        res->existed = 1;
    }
    sqlite3_finalize(st);
    if (old_pk >= 0) {
        if (strcmp(res->old_object, e->object) == 0) {
            res->old_object[0] = '\0';
            return PACS_OK; /* the very same bytes: nothing changes */
        }
        res->replaced = 1;
        err = remove_instance(db, old_pk, ei);
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
    if (!patient_attrs || !study_attrs || !series_attrs) {
        err = pacs_errf(ei, PACS_ENOMEM, "out of memory");
        goto done;
    }
    err = pacs_index__compress_json(e->json, &meta, &meta_len, ei);
    if (err != PACS_OK) {
        goto done;
    }

    /* Patient: identified by PatientID and its issuer; the latest instance's details win. */
    err = run_sql(db, ei,
                  "INSERT INTO patients(patient_id, issuer) VALUES(?,?) "
                  "ON CONFLICT(patient_id, issuer) DO NOTHING",
                  "ss", pid, issuer);
    if (err != PACS_OK) {
        goto done;
    }
    err = prepare(db, "SELECT pk FROM patients WHERE patient_id=? AND issuer=?", &st, ei);
    if (err != PACS_OK) {
        goto done;
    }
    bind_text(st, 1, pid);
    bind_text(st, 2, issuer);
    if (sqlite3_step(st) == SQLITE_ROW) {
        patient_pk = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    err = run_sql(db, ei,
                  "UPDATE patients SET name=?, name_ci=?, name_fold=?, birth_date=?, "
                  "sex=?, attrs=? WHERE pk=?",
                  "ssssssi", f.name, f.name_ci, f.name_fold, f.birth_date, f.sex, patient_attrs,
                  patient_pk);
    if (err != PACS_OK) {
        goto done;
    }

    /* Study. */
    study_pk = -1;
    err = prepare(db, "SELECT pk, patient_pk FROM studies WHERE study_uid=?", &st, ei);
    if (err != PACS_OK) {
        goto done;
    }
    bind_text(st, 1, e->study_uid);
    if (sqlite3_step(st) == SQLITE_ROW) {
        study_pk = sqlite3_column_int64(st, 0);
        patient_pk = sqlite3_column_int64(st, 1); /* a study stays with its first patient */
    }
    sqlite3_finalize(st);
    if (study_pk < 0) {
        err = run_sql(db, ei,
                      "INSERT INTO studies(patient_pk, study_uid, modalities, sop_classes)"
                      " VALUES(?,?,'\\','\\')",
                      "is", patient_pk, e->study_uid);
        if (err != PACS_OK) {
            goto done;
        }
        study_pk = sqlite3_last_insert_rowid(db);
        err = run_sql(db, ei, "UPDATE patients SET num_studies=num_studies+1 WHERE pk=?", "i",
                      patient_pk);
        if (err != PACS_OK) {
            goto done;
        }
    }
    err = run_sql(db, ei,
                  "UPDATE studies SET study_date=?, study_time=?, accession=?, study_id=?, "
                  "ref_physician=?, ref_physician_ci=?, ref_physician_fold=?, description=?, "
                  "patient_name=?, patient_name_ci=?, patient_name_fold=?, patient_id=?, "
                  "issuer=?, birth_date=?, sex=?, attrs=? WHERE pk=?",
                  "ssssssssssssssssi", f.study_date, f.study_time, f.accession, f.study_id,
                  f.ref_phys, f.ref_phys_ci, f.ref_phys_fold, f.study_desc, f.name, f.name_ci,
                  f.name_fold, pid, issuer, f.birth_date, f.sex, study_attrs, study_pk);
    if (err != PACS_OK) {
        goto done;
    }

    /* Series. */
    err = prepare(db,
                  "SELECT pk, coalesce(modality, '') = coalesce(?, '') FROM series"
                  " WHERE series_uid=?",
                  &st, ei);
    if (err != PACS_OK) {
        goto done;
    }
    bind_text(st, 1, f.modality);
    bind_text(st, 2, e->series_uid);
    if (sqlite3_step(st) == SQLITE_ROW) {
        series_pk = sqlite3_column_int64(st, 0);
        same_modality = sqlite3_column_int(st, 1);
    }
    sqlite3_finalize(st);
    if (series_pk < 0) {
        err = run_sql(db, ei, "INSERT INTO series(study_pk, series_uid) VALUES(?,?)", "is",
                      study_pk, e->series_uid);
        if (err != PACS_OK) {
            goto done;
        }
        series_pk = sqlite3_last_insert_rowid(db);
        new_series = 1;
        err =
            run_sql(db, ei, "UPDATE studies SET num_series=num_series+1 WHERE pk=?", "i", study_pk);
        if (err == PACS_OK) {
            err = run_sql(db, ei, "UPDATE patients SET num_series=num_series+1 WHERE pk=?", "i",
                          patient_pk);
        }
        if (err != PACS_OK) {
            goto done;
        }
    }
    err = prepare(db,
                  "UPDATE series SET modality=?, series_number=?, description=?, body_part=?,"
                  " series_date=?, series_time=?, pps_start_date=?, pps_start_time=?, attrs=?"
                  " WHERE pk=?",
                  &st, ei);
    if (err != PACS_OK) {
        goto done;
    }
    bind_text(st, 1, f.modality);
    bind_int_text(st, 2, f.series_number);
    bind_text(st, 3, f.series_desc);
    bind_text(st, 4, f.body_part);
    bind_text(st, 5, f.series_date);
    bind_text(st, 6, f.series_time);
    bind_text(st, 7, f.pps_date);
    bind_text(st, 8, f.pps_time);
    bind_text(st, 9, series_attrs);
    sqlite3_bind_int64(st, 10, series_pk);
    err = run(db, st, ei, "update series");
    if (err != PACS_OK) {
        goto done;
    }

    /* Instance. */
    err = prepare(db,
                  "INSERT INTO instances(series_pk, sop_uid, sop_class, instance_number, ts,"
                  " object, size, frames, rows, columns, bits_allocated, content_date,"
                  " content_time, source_aet, received, pixels, metadata)"
                  " VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,"
                  " coalesce(?17, strftime('%Y%m%d%H%M%S','now')), ?15, ?16)",
                  &st, ei);
    if (err != PACS_OK) {
        goto done;
    }
    sqlite3_bind_int64(st, 1, series_pk);
    bind_text(st, 2, e->sop_uid);
    bind_text(st, 3, e->sop_class_uid);
    bind_int_text(st, 4, f.instance_number);
    bind_text(st, 5, e->ts_uid);
    bind_text(st, 6, e->object);
    sqlite3_bind_int64(st, 7, (sqlite3_int64)e->object_size);
    sqlite3_bind_int64(st, 8, e->n_frames);
    bind_int_text(st, 9, f.rows);
    bind_int_text(st, 10, f.columns);
    bind_int_text(st, 11, f.bits);
    bind_text(st, 12, f.content_date);
    bind_text(st, 13, f.content_time);
    bind_text(st, 14, e->source_aet);
    if (e->pixel_layout) {
        sqlite3_bind_blob(st, 15, e->pixel_layout, (int)e->pixel_layout_len, SQLITE_TRANSIENT);
    }
    sqlite3_bind_blob(st, 16, meta, (int)meta_len, SQLITE_TRANSIENT);
    bind_text(st, 17, e->received);
    err = run(db, st, ei, "insert instance");
    if (err != PACS_OK) {
        goto done;
    }
    err = run_sql(db, ei, "UPDATE series SET num_instances=num_instances+1 WHERE pk=?", "i",
                  series_pk);
    if (err == PACS_OK) {
        err = run_sql(db, ei, "UPDATE studies SET num_instances=num_instances+1 WHERE pk=?", "i",
                      study_pk);
    }
    if (err == PACS_OK) {
        err = run_sql(db, ei, "UPDATE patients SET num_instances=num_instances+1 WHERE pk=?", "i",
                      patient_pk);
    }
    if (err != PACS_OK) {
        goto done;
    }
    /* ModalitiesInStudy and SOPClassesInStudy change only with a new series, a series whose
     * modality changed, or a SOP class the study has not seen; otherwise the recomputation is
     * skipped. */
    int known = 0;
    if (!new_series && same_modality) {
        sqlite3_stmt *chk = NULL;
        if (prepare(db, "SELECT instr(sop_classes, ?) FROM studies WHERE pk=?", &chk, NULL) ==
            PACS_OK) {
            char pat[80];
            snprintf(pat, sizeof pat, "\\%s\\", e->sop_class_uid);
            bind_text(chk, 1, pat);
            sqlite3_bind_int64(chk, 2, study_pk);
            known = sqlite3_step(chk) == SQLITE_ROW && sqlite3_column_int(chk, 0) > 0;
        }
        sqlite3_finalize(chk);
    }
    if (!known) {
        err = refresh_study_sets(db, study_pk, ei);
    }
done:
    free(meta);
    free(patient_attrs);
    free(study_attrs);
    free(series_attrs);
    pacs_index__fields_free(&f);
    return err;
}

/* ---- queries (compiled by index_sql.c) ---- */

static void bind_all(sqlite3_stmt *st, const pacs_index__compiled *c)
{
    for (size_t i = 0; i < c->n_binds; i++) {
        if (c->binds[i].is_int) {
            sqlite3_bind_int64(st, (int)i + 1, c->binds[i].i);
        } else {
            sqlite3_bind_text(st, (int)i + 1, c->binds[i].s, -1, SQLITE_STATIC);
        }
    }
}

/* A result column for the shared row readers: text (integers as decimal text) or blob. */
static const char *row_value(void *ctx, int col, size_t *len)
{
    sqlite3_stmt *st = ctx;
    int type = sqlite3_column_type(st, col);
    if (type == SQLITE_NULL) {
        return NULL;
    }
    const char *v = type == SQLITE_BLOB ? (const char *)sqlite3_column_blob(st, col)
                                        : (const char *)sqlite3_column_text(st, col);
    *len = (size_t)sqlite3_column_bytes(st, col);
    return v ? v : "";
}

static pacs_err do_find(sqlite_index *si, const pacs_query *q, pacs_find_cb cb, void *ctx,
                        pacs_errinfo *ei)
{
    pacs_index__find_plan *plan = malloc(sizeof *plan);
    if (!plan) {
        return pacs_errf(ei, PACS_ENOMEM, "out of memory");
    }
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    pacs_err err = pacs_index__find_plan_build(&pacs_index__sqlite_dialect, q, plan, ei);
    if (err != PACS_OK) {
        goto done;
    }
    err = reader_get(si, &db, ei);
    if (err != PACS_OK) {
        goto done;
    }
    err = prepare(db, plan->sql.data, &st, ei);
    if (err != PACS_OK) {
        goto done;
    }
    bind_all(st, &plan->c);
    pacs_index__row row = {row_value, st};
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
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
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        err = db_err(db, rc, ei, "query");
    }
done:
    sqlite3_finalize(st);
    if (db) {
        reader_put(si, db);
    }
    pacs_index__find_plan_free(plan);
    free(plan);
    return err;
}

/* Runs `q` as a selection of instance rows on `db`, calling `cb` per row. `pk_out` mode
 * (cb == NULL) collects instance pks instead, for removal. */
typedef struct pk_list {
    long long *pks;
    size_t n, cap;
} pk_list;

static pacs_err select_instances(sqlite3 *db, const pacs_query *q, unsigned flags,
                                 pacs_instance_cb cb, void *ctx, pk_list *pks, pacs_errinfo *ei)
{
    pacs_index__inst_plan plan;
    pacs_buf meta;
    pacs_buf_init(&meta, 64u << 20);
    sqlite3_stmt *st = NULL;
    pacs_err err = pacs_index__inst_plan_build(&pacs_index__sqlite_dialect, q, &plan, ei);
    if (err != PACS_OK) {
        goto done;
    }
    err = prepare(db, plan.sql.data, &st, ei);
    if (err != PACS_OK) {
        goto done;
    }
    bind_all(st, &plan.c);
    pacs_index__row row = {row_value, st};
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        if (!pacs_index__inst_row_matches(&plan, q, &row)) {
            continue;
        }
        if (pks) {
            if (pks->n == pks->cap) {
                size_t cap = pks->cap ? pks->cap * 2 : 64;
                long long *g = realloc(pks->pks, cap * sizeof *g);
                if (!g) {
                    err = pacs_errf(ei, PACS_ENOMEM, "out of memory");
                    break;
                }
                pks->pks = g;
                pks->cap = cap;
            }
            pks->pks[pks->n++] = sqlite3_column_int64(st, PACS_INDEX__COL_PK);
            continue;
        }
        pacs_instance_rec rec;
        err = pacs_index__inst_row_rec(&row, flags, &meta, &rec, ei);
        if (err != PACS_OK) {
            break;
        }
        if (cb(ctx, &rec)) {
            break;
        }
    }
    if (err == PACS_OK && rc != SQLITE_ROW && rc != SQLITE_DONE) {
        err = db_err(db, rc, ei, "query");
    }
done:
    sqlite3_finalize(st);
    pacs_buf_free(&meta);
    pacs_index__inst_plan_free(&plan);
    return err;
}

static pacs_err do_remove(sqlite3 *db, const pacs_query *q, uint64_t *removed, pacs_errinfo *ei)
{
    pk_list pks = {NULL, 0, 0};
    pacs_err err = select_instances(db, q, 0, NULL, NULL, &pks, ei);
    for (size_t i = 0; err == PACS_OK && i < pks.n; i++) {
        err = remove_instance(db, pks.pks[i], ei);
    }
    if (err == PACS_OK) {
        *removed = pks.n;
    }
    free(pks.pks);
    return err;
}

/* ---- the forwarding queue ---- */

static pacs_err fwd_enqueue(sqlite3 *db, fwd_args *f, pacs_errinfo *ei)
{
    /* A pending entry keeps its back-off; a delivered one is not sent again unless the object
     * changed; a failed one is revived by a new store. */
    sqlite3_stmt *st = NULL;
    pacs_err err = prepare(db,
                           "INSERT INTO forward_queue(dest, rule, sop_uid, object, state, attempts,"
                           " next_try, created, updated, error) VALUES(?1, ?2, ?3, ?4, 0, 0, ?5,"
                           " ?5, ?5, NULL) ON CONFLICT(sop_uid, dest) DO UPDATE SET"
                           " rule=excluded.rule, object=excluded.object, state=0, attempts=0,"
                           " next_try=excluded.next_try, updated=excluded.updated, error=NULL"
                           " WHERE NOT (forward_queue.object=excluded.object"
                           " AND forward_queue.state IN (0, 1))",
                           &st, ei);
    if (err != PACS_OK) {
        return err;
    }
    bind_text(st, 1, f->dest);
    bind_text(st, 2, f->rule);
    bind_text(st, 3, f->sop_uid);
    bind_text(st, 4, f->object);
    sqlite3_bind_int64(st, 5, f->now);
    err = run(db, st, ei, "enqueue");
    if (err == PACS_OK) {
        f->changed = (uint64_t)sqlite3_changes(db);
    }
    return err;
}

static pacs_err fwd_update(sqlite3 *db, fwd_args *f, pacs_errinfo *ei)
{
    int64_t now = (int64_t)time(NULL);
    for (size_t i = 0; i < f->n_updates; i++) {
        const pacs_fwd_update *u = &f->updates[i];
        pacs_err err =
            run_sql(db, ei,
                    "UPDATE forward_queue SET state=?, attempts=?, next_try=?,"
                    " updated=?, error=? WHERE id=?",
                    "iiiisi", (long long)u->state, (long long)u->attempts, (long long)u->next_try,
                    (long long)now, u->error && u->error[0] ? u->error : NULL, (long long)u->id);
        if (err != PACS_OK) {
            return err;
        }
    }
    f->changed = f->n_updates;
    return PACS_OK;
}

static pacs_err fwd_retry(sqlite3 *db, fwd_args *f, pacs_errinfo *ei)
{
    pacs_err err =
        f->id > 0 ? run_sql(db, ei,
                            "UPDATE forward_queue SET state=0, attempts=0, next_try=?, updated=?"
                            " WHERE id=? AND state IN (0, 2)",
                            "iii", (long long)f->now, (long long)f->now, (long long)f->id)
                  : run_sql(db, ei,
                            "UPDATE forward_queue SET state=0, attempts=0, next_try=?, updated=?"
                            " WHERE state IN (0, 2)",
                            "ii", (long long)f->now, (long long)f->now);
    if (err == PACS_OK) {
        f->changed = (uint64_t)sqlite3_changes(db);
    }
    return err;
}

/* ---- share links' records ---- */

static pacs_err share_add(sqlite3 *db, pacs_index__share_args *a, pacs_errinfo *ei)
{
    sqlite3_stmt *st = NULL;
    pacs_err err = prepare(db,
                           "INSERT INTO shares(id, token_sha256, study_uid, created_at, expires_at,"
                           " creator, revoked, revoked_at) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)"
                           " ON CONFLICT(id) DO NOTHING",
                           &st, ei);
    a->changed = 0;
    for (size_t i = 0; err == PACS_OK && i < a->n; i++) {
        const pacs_index_share *r = &a->recs[i];
        sqlite3_reset(st);
        bind_text(st, 1, r->id);
        sqlite3_bind_blob(st, 2, r->token_sha256, (int)r->token_sha256_len, SQLITE_STATIC);
        bind_text(st, 3, r->study_uid);
        sqlite3_bind_int64(st, 4, r->created_at);
        sqlite3_bind_int64(st, 5, r->expires_at);
        bind_text(st, 6, r->creator ? r->creator : "");
        sqlite3_bind_int64(st, 7, r->revoked != 0);
        sqlite3_bind_int64(st, 8, r->revoked_at);
        int rc = sqlite3_step(st);
        if (rc != SQLITE_DONE) {
            err = db_err(db, rc, ei, "share");
        } else {
            a->changed += (uint64_t)sqlite3_changes(db);
        }
    }
    sqlite3_finalize(st);
    return err;
}

static pacs_err share_revoke(sqlite3 *db, pacs_index__share_args *a, pacs_errinfo *ei)
{
    pacs_err err =
        a->id ? run_sql(db, ei,
                        "UPDATE shares SET revoked_at = CASE WHEN revoked <> 0 THEN revoked_at"
                        " ELSE ?2 END, revoked = 1 WHERE id = ?1",
                        "si", a->id, (long long)a->now)
        : a->study_uid
            ? run_sql(db, ei,
                      "UPDATE shares SET revoked = 1, revoked_at = ?2"
                      " WHERE study_uid = ?1 AND revoked = 0",
                      "si", a->study_uid, (long long)a->now)
            : run_sql(db, ei, "UPDATE shares SET revoked = 1, revoked_at = ?1 WHERE revoked = 0",
                      "i", (long long)a->now);
    if (err == PACS_OK) {
        a->changed = (uint64_t)sqlite3_changes(db);
    }
    return err;
}

static void run_batch(void *ctx, job *batch)
{
    sqlite_index *si = ctx;
    sqlite3 *db = si->wdb;
    pacs_errinfo ei;
    pacs_err err = exec(db, "BEGIN IMMEDIATE", &ei);
    job *first = batch; /* the first job of the open transaction */
    for (job *j = batch; j; j = j->next) {
        if (err != PACS_OK) {
            j->err = err;
            j->ei = ei;
            continue;
        }
        exec(db, "SAVEPOINT job", NULL);
        pacs_errinfo_clear(&j->ei);
        switch (j->kind) {
        case PACS_INDEX_JOB_PUT:
            j->err = do_put(db, j->entry, j->put_result, &j->ei);
            break;
        case PACS_INDEX_JOB_REMOVE:
            j->err = do_remove(db, j->query, &j->removed, &j->ei);
            break;
        case PACS_INDEX_JOB_SWEEP_DONE:
            j->err = run_sql(db, &j->ei, "DELETE FROM sweep WHERE object=?", "s", j->object);
            break;
        case PACS_INDEX_JOB_FWD_ENQUEUE:
            j->err = fwd_enqueue(db, j->fwd, &j->ei);
            break;
        case PACS_INDEX_JOB_FWD_UPDATE:
            j->err = fwd_update(db, j->fwd, &j->ei);
            break;
        case PACS_INDEX_JOB_FWD_RETRY:
            j->err = fwd_retry(db, j->fwd, &j->ei);
            break;
        case PACS_INDEX_JOB_SHARE_ADD:
            j->err = share_add(db, j->share, &j->ei);
            break;
        case PACS_INDEX_JOB_SHARE_REVOKE:
            j->err = share_revoke(db, j->share, &j->ei);
            break;
        case PACS_INDEX_JOB_FINISH: /* no bulk load on SQLite: nothing stays open */
            j->err = PACS_OK;
            break;
        }
        if (j->err != PACS_OK && sqlite3_get_autocommit(db)) {
            /* SQLite rolled the whole transaction back (a full disk, an I/O error): the jobs
             * before this one in it are undone too, and those after must not run outside a
             * transaction (they would commit, yet be reported failed at COMMIT). */
            for (job *k = first; k != j; k = k->next) {
                if (k->err == PACS_OK) {
                    k->err = j->err;
                    pacs_errf(&k->ei, j->err, "undone with a change made in the same commit: %s",
                              j->ei.msg);
                }
            }
            first = j->next;
            err = exec(db, "BEGIN IMMEDIATE", &ei);
            continue;
        }
        if (j->err != PACS_OK) {
            exec(db, "ROLLBACK TO job", NULL);
        }
        exec(db, "RELEASE job", NULL);
    }
    if (err != PACS_OK) {
        return;
    }
    err = exec(db, "COMMIT", &ei);
    if (err != PACS_OK) {
        exec(db, "ROLLBACK", NULL);
        for (job *j = first; j; j = j->next) {
            if (j->err == PACS_OK) {
                j->err = err;
                j->ei = ei;
            }
        }
    }
}

/* ---- the ops ---- */

static pacs_err sq_put(pacs_index *idx, const pacs_index_entry *e, pacs_put_result *res,
                       pacs_errinfo *ei)
{
    return pacs_index__queue_put(&((sqlite_index *)idx)->queue, e, res, ei);
}

static pacs_err sq_remove(pacs_index *idx, const pacs_query *q, uint64_t *n, pacs_errinfo *ei)
{
    return pacs_index__queue_remove(&((sqlite_index *)idx)->queue, q, n, ei);
}

static pacs_err sq_sweep_done(pacs_index *idx, const char *object, pacs_errinfo *ei)
{
    return pacs_index__queue_sweep_done(&((sqlite_index *)idx)->queue, object, ei);
}

static pacs_err sq_find(pacs_index *idx, const pacs_query *q, pacs_find_cb cb, void *ctx,
                        pacs_errinfo *ei)
{
    return do_find((sqlite_index *)idx, q, cb, ctx, ei);
}

static pacs_err sq_instances(pacs_index *idx, const pacs_query *q, unsigned flags,
                             pacs_instance_cb cb, void *ctx, pacs_errinfo *ei)
{
    sqlite_index *si = (sqlite_index *)idx;
    sqlite3 *db = NULL;
    pacs_err err = reader_get(si, &db, ei);
    if (err != PACS_OK) {
        return err;
    }
    err = select_instances(db, q, flags, cb, ctx, NULL, ei);
    reader_put(si, db);
    return err;
}

static pacs_err each_row(sqlite_index *si, const char *sql, pacs_object_cb cb, void *ctx,
                         pacs_errinfo *ei)
{
    sqlite3 *db = NULL;
    pacs_err err = reader_get(si, &db, ei);
    if (err != PACS_OK) {
        return err;
    }
    sqlite3_stmt *st = NULL;
    err = prepare(db, sql, &st, ei);
    int rc = SQLITE_DONE;
    while (err == PACS_OK && (rc = sqlite3_step(st)) == SQLITE_ROW) {
        const char *obj = (const char *)sqlite3_column_text(st, 0);
        const char *sop = (const char *)sqlite3_column_text(st, 2);
        if (cb(ctx, obj ? obj : "", (uint64_t)sqlite3_column_int64(st, 1), sop ? sop : "")) {
            break;
        }
    }
    if (err == PACS_OK && rc != SQLITE_ROW && rc != SQLITE_DONE) {
        err = db_err(db, rc, ei, "scan");
    }
    sqlite3_finalize(st);
    reader_put(si, db);
    return err;
}

static pacs_err sq_objects(pacs_index *idx, pacs_object_cb cb, void *ctx, pacs_errinfo *ei)
{
    return each_row((sqlite_index *)idx, "SELECT object, size, sop_uid FROM instances ORDER BY pk",
                    cb, ctx, ei);
}

static pacs_err sq_sweep_pending(pacs_index *idx, pacs_object_cb cb, void *ctx, pacs_errinfo *ei)
{
    return each_row((sqlite_index *)idx, "SELECT object, 0, '' FROM sweep", cb, ctx, ei);
}

static pacs_err sq_object_referenced(pacs_index *idx, const char *object, int *referenced,
                                     pacs_errinfo *ei)
{
    sqlite_index *si = (sqlite_index *)idx;
    sqlite3 *db = NULL;
    pacs_err err = reader_get(si, &db, ei);
    if (err != PACS_OK) {
        return err;
    }
    sqlite3_stmt *st = NULL;
    err = prepare(db, "SELECT 1 FROM instances WHERE object=? LIMIT 1", &st, ei);
    if (err == PACS_OK) {
        bind_text(st, 1, object);
        int rc = sqlite3_step(st);
        if (rc == SQLITE_ROW || rc == SQLITE_DONE) {
            *referenced = rc == SQLITE_ROW;
        } else {
            err = db_err(db, rc, ei, "lookup");
        }
    }
    sqlite3_finalize(st);
    reader_put(si, db);
    return err;
}

static pacs_err sq_stats(pacs_index *idx, pacs_index_stats *out, pacs_errinfo *ei)
{
    sqlite_index *si = (sqlite_index *)idx;
    sqlite3 *db = NULL;
    pacs_err err = reader_get(si, &db, ei);
    if (err != PACS_OK) {
        return err;
    }
    sqlite3_stmt *st = NULL;
    err = prepare(db,
                  "SELECT (SELECT count(*) FROM patients), (SELECT count(*) FROM studies),"
                  " (SELECT count(*) FROM series), (SELECT count(*) FROM instances),"
                  " (SELECT coalesce(sum(size),0) FROM instances)",
                  &st, ei);
    if (err == PACS_OK && sqlite3_step(st) == SQLITE_ROW) {
        out->patients = (uint64_t)sqlite3_column_int64(st, 0);
        out->studies = (uint64_t)sqlite3_column_int64(st, 1);
        out->series = (uint64_t)sqlite3_column_int64(st, 2);
        out->instances = (uint64_t)sqlite3_column_int64(st, 3);
        out->object_bytes = (uint64_t)sqlite3_column_int64(st, 4);
    }
    sqlite3_finalize(st);
    reader_put(si, db);
    return err;
}

static pacs_err sq_fwd_enqueue(pacs_index *idx, const char *dest, const char *rule,
                               const char *sop_uid, const char *object, int64_t now, int *added,
                               pacs_errinfo *ei)
{
    return pacs_index__queue_fwd_enqueue(&((sqlite_index *)idx)->queue, dest, rule, sop_uid, object,
                                         now, added, ei);
}

static pacs_err sq_fwd_update(pacs_index *idx, const pacs_fwd_update *u, size_t n, pacs_errinfo *ei)
{
    return pacs_index__queue_fwd_update(&((sqlite_index *)idx)->queue, u, n, ei);
}

static pacs_err sq_fwd_retry(pacs_index *idx, int64_t id, int64_t now, uint64_t *n,
                             pacs_errinfo *ei)
{
    return pacs_index__queue_fwd_retry(&((sqlite_index *)idx)->queue, id, now, n, ei);
}

/* Runs a queue SELECT whose columns are those of fwd_row() and calls `cb` per row. */
static pacs_err fwd_select(sqlite_index *si, const char *sql, int64_t a, int64_t b, int n_args,
                           pacs_fwd_cb cb, void *ctx, pacs_errinfo *ei)
{
    sqlite3 *db = NULL;
    pacs_err err = reader_get(si, &db, ei);
    if (err != PACS_OK) {
        return err;
    }
    sqlite3_stmt *st = NULL;
    err = prepare(db, sql, &st, ei);
    int rc = SQLITE_DONE;
    if (err == PACS_OK) {
        if (n_args > 0) {
            sqlite3_bind_int64(st, 1, a);
        }
        if (n_args > 1) {
            sqlite3_bind_int64(st, 2, b);
        }
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            pacs_fwd_entry e;
            memset(&e, 0, sizeof e);
            e.id = sqlite3_column_int64(st, 0);
            col_copy(st, 1, e.dest, sizeof e.dest);
            col_copy(st, 2, e.rule, sizeof e.rule);
            col_copy(st, 3, e.sop_uid, sizeof e.sop_uid);
            col_copy(st, 4, e.sop_class, sizeof e.sop_class);
            col_copy(st, 5, e.ts, sizeof e.ts);
            col_copy(st, 6, e.object, sizeof e.object);
            e.state = (pacs_fwd_state)sqlite3_column_int(st, 7);
            e.attempts = (uint32_t)sqlite3_column_int64(st, 8);
            e.next_try = sqlite3_column_int64(st, 9);
            e.updated = sqlite3_column_int64(st, 10);
            col_copy(st, 11, e.error, sizeof e.error);
            if (cb(ctx, &e)) {
                break;
            }
        }
        if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
            err = db_err(db, rc, ei, "forward queue");
        }
    }
    sqlite3_finalize(st);
    reader_put(si, db);
    return err;
}

#define FWD_COLUMNS                                                                                \
    "SELECT q.id, q.dest, q.rule, q.sop_uid, coalesce(i.sop_class, ''), coalesce(i.ts, ''),"       \
    " coalesce(i.object, ''), q.state, q.attempts, q.next_try, q.updated, coalesce(q.error, '')"   \
    " FROM forward_queue q LEFT JOIN instances i ON i.sop_uid = q.sop_uid"

static pacs_err sq_fwd_due(pacs_index *idx, int64_t now, size_t limit, pacs_fwd_cb cb, void *ctx,
                           pacs_errinfo *ei)
{
    return fwd_select((sqlite_index *)idx,
                      FWD_COLUMNS " WHERE q.state = 0 AND q.next_try <= ?1"
                                  " ORDER BY q.dest, q.id LIMIT ?2",
                      now, (int64_t)limit, 2, cb, ctx, ei);
}

static pacs_err sq_fwd_list(pacs_index *idx, int state, pacs_fwd_cb cb, void *ctx, pacs_errinfo *ei)
{
    if (state < 0) {
        return fwd_select((sqlite_index *)idx, FWD_COLUMNS " ORDER BY q.id", 0, 0, 0, cb, ctx, ei);
    }
    return fwd_select((sqlite_index *)idx, FWD_COLUMNS " WHERE q.state = ?1 ORDER BY q.id", state,
                      0, 1, cb, ctx, ei);
}

static pacs_err sq_share_add(pacs_index *idx, const pacs_index_share *s, size_t n, uint64_t *added,
                             pacs_errinfo *ei)
{
    return pacs_index__queue_share_add(&((sqlite_index *)idx)->queue, s, n, added, ei);
}

static pacs_err sq_share_revoke(pacs_index *idx, const char *id, const char *study_uid, int64_t now,
                                uint64_t *n, pacs_errinfo *ei)
{
    return pacs_index__queue_share_revoke(&((sqlite_index *)idx)->queue, id, study_uid, now, n, ei);
}

/* Runs a share SELECT (columns as SHARE_COLUMNS) with one optional text parameter. */
static pacs_err share_select(sqlite_index *si, const char *sql, const char *arg, pacs_share_cb cb,
                             void *ctx, pacs_errinfo *ei)
{
    sqlite3 *db = NULL;
    pacs_err err = reader_get(si, &db, ei);
    if (err != PACS_OK) {
        return err;
    }
    sqlite3_stmt *st = NULL;
    err = prepare(db, sql, &st, ei);
    int rc = SQLITE_DONE;
    if (err == PACS_OK) {
        if (arg) {
            bind_text(st, 1, arg);
        }
        while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
            pacs_index_share r;
            const char *t;
            t = (const char *)sqlite3_column_text(st, 0);
            r.id = t ? t : "";
            r.token_sha256 = sqlite3_column_blob(st, 1);
            r.token_sha256_len = (size_t)sqlite3_column_bytes(st, 1);
            t = (const char *)sqlite3_column_text(st, 2);
            r.study_uid = t ? t : "";
            t = (const char *)sqlite3_column_text(st, 3);
            r.creator = t ? t : "";
            r.created_at = sqlite3_column_int64(st, 4);
            r.expires_at = sqlite3_column_int64(st, 5);
            r.revoked = sqlite3_column_int64(st, 6) != 0;
            r.revoked_at = sqlite3_column_int64(st, 7);
            if (cb(ctx, &r)) {
                break;
            }
        }
        if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
            err = db_err(db, rc, ei, "shares");
        }
    }
    sqlite3_finalize(st);
    reader_put(si, db);
    return err;
}

#define SHARE_COLUMNS                                                                              \
    "SELECT id, token_sha256, study_uid, creator, created_at, expires_at, revoked, revoked_at"     \
    " FROM shares"

static pacs_err sq_share_get(pacs_index *idx, const char *id, pacs_share_cb cb, void *ctx,
                             pacs_errinfo *ei)
{
    return share_select((sqlite_index *)idx, SHARE_COLUMNS " WHERE id = ?1", id, cb, ctx, ei);
}

static pacs_err sq_share_list(pacs_index *idx, const char *study_uid, pacs_share_cb cb, void *ctx,
                              pacs_errinfo *ei)
{
    return share_select((sqlite_index *)idx,
                        study_uid ? SHARE_COLUMNS
                            " WHERE study_uid = ?1 ORDER BY created_at DESC, pk DESC"
                                  : SHARE_COLUMNS " ORDER BY created_at DESC, pk DESC",
                        study_uid, cb, ctx, ei);
}

/* Brings the schema to the last version in one transaction (another process opening the
 * same file waits for it: BEGIN IMMEDIATE). */
static pacs_err migrate(sqlite3 *db, const char *path, pacs_errinfo *ei)
{
    pacs_err err = exec(db,
                        "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT);"
                        "BEGIN IMMEDIATE",
                        ei);
    if (err != PACS_OK) {
        return err;
    }
    sqlite3_stmt *st = NULL;
    long long version = 0;
    err = prepare(db, "SELECT value FROM meta WHERE key='schema_version'", &st, ei);
    if (err == PACS_OK && sqlite3_step(st) == SQLITE_ROW) {
        version = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
    const int last = migrations[N_MIGRATIONS - 1].version;
    if (err == PACS_OK && version > last) {
        err = pacs_errf(ei, PACS_EUNSUPPORTED,
                        "index schema version %lld is newer than this program (%d)", version, last);
    }
    for (size_t i = 0; i < N_MIGRATIONS && err == PACS_OK; i++) {
        const migration *m = &migrations[i];
        if (m->version > version || (m->version == 1 && version == 1)) {
            err = exec(db, m->sql, ei);
            if (err == PACS_OK && version > 0 && m->version > version) {
                pacs_log(PACS_LOG_INFO, "index", "path=%s migration=%d: %s", path, m->version,
                         m->what);
            }
        }
    }
    if (err == PACS_OK && version != last) {
        err = run_sql(db, ei,
                      "INSERT INTO meta(key, value) VALUES('schema_version', ?)"
                      " ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                      "i", (long long)last);
    }
    if (err == PACS_OK) {
        err = exec(db, "COMMIT", ei);
    }
    if (err != PACS_OK) {
        exec(db, "ROLLBACK", NULL);
    }
    return err;
}

static void sq_close(pacs_index *idx)
{
    sqlite_index *si = (sqlite_index *)idx;
    pacs_index__queue_destroy(&si->queue);
    for (size_t i = 0; i < si->n_pool; i++) {
        sqlite3_close(si->pool[i]);
    }
    if (si->wdb) {
        /* Fold the WAL back into the database so the file stands alone. */
        sqlite3_exec(si->wdb, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL);
        sqlite3_close(si->wdb);
    }
    pthread_mutex_destroy(&si->pool_mu);
    free(si->path);
    free(si);
}

static const pacs_index_ops sqlite_ops = {
    .name = "sqlite",
    .close = sq_close,
    .put = sq_put,
    .find = sq_find,
    .instances = sq_instances,
    .remove = sq_remove,
    .objects = sq_objects,
    .sweep_pending = sq_sweep_pending,
    .sweep_done = sq_sweep_done,
    .object_referenced = sq_object_referenced,
    .stats = sq_stats,
    .fwd_enqueue = sq_fwd_enqueue,
    .fwd_due = sq_fwd_due,
    .fwd_update = sq_fwd_update,
    .fwd_list = sq_fwd_list,
    .fwd_retry = sq_fwd_retry,
    .share_add = sq_share_add,
    .share_get = sq_share_get,
    .share_revoke = sq_share_revoke,
    .share_list = sq_share_list,
    /* One process at a time: no intents (the archive's in-flight set suffices). */
};

pacs_err pacs_index_sqlite_open(const char *path, pacs_index **out, pacs_errinfo *ei)
{
    sqlite_index *si = calloc(1, sizeof *si);
    if (!si) {
        return pacs_errf(ei, PACS_ENOMEM, "out of memory");
    }
    si->base.ops = &sqlite_ops;
    pacs_index__queue_init(&si->queue, BATCH_MAX, run_batch, si);
    pthread_mutex_init(&si->pool_mu, NULL);
    si->path = strdup(path);
    if (!si->path) {
        sq_close(&si->base);
        return pacs_errf(ei, PACS_ENOMEM, "out of memory");
    }
    pacs_err err = open_connection(path, 1, &si->wdb, ei);
    if (err == PACS_OK) {
        err = migrate(si->wdb, path, ei);
    }
    if (err == PACS_OK) {
        err = pacs_index__queue_start(&si->queue, ei);
    }
    if (err != PACS_OK) {
        sq_close(&si->base);
        return err;
    }
    *out = &si->base;
    return PACS_OK;
}
