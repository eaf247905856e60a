// SPDX-License-Identifier: MIT
/*
 * The SQLite index backend (index.h). One writer thread owns the only writing connection and
 * commits queued puts and removals in shared transactions (group commit; WAL with
 * synchronous=FULL, so a commit is durable when it returns); each job runs in its own savepoint,
 * so one bad job fails alone. Readers take a connection from a pool and never block the writer.
 * Queries are compiled from the query model to SQL with bound parameters only; keys that no
 * column covers are matched in C against the stored attributes.
 */
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <zstd.h>

#include "pacs/base/buf.h"
#include "pacs/base/log.h"
#include "pacs/dicom/dcm.h"
#include "storage/catalog.h"
#include "storage/fold.h"
#include "storage/index.h"

#define SCHEMA_VERSION 1
#define BATCH_MAX 512
#define SQL_MAX (256u * 1024u)
#define POOL_MAX 64

typedef enum job_kind {
    JOB_PUT,
    JOB_REMOVE,
    JOB_SWEEP_DONE,
    JOB_FWD_ENQUEUE,
    JOB_FWD_UPDATE,
    JOB_FWD_RETRY
} job_kind;

/* Arguments and results of the forwarding-queue jobs. */
typedef struct fwd_args {
    const char *dest, *rule, *sop_uid, *object;
    int64_t now, id;
    const pacs_fwd_update *updates;
    size_t n_updates;
    uint64_t changed;
} fwd_args;

typedef struct job {
    job_kind kind;
    const pacs_index_entry *entry;
    pacs_put_result *put_result;
    const pacs_query *query;
    uint64_t removed;
    const char *object;
    fwd_args *fwd;
    pacs_err err;
    pacs_errinfo ei;
    int done;
    struct job *next;
} job;

typedef struct sqlite_index {
    pacs_index base;
    char *path;
    sqlite3 *wdb;
    pthread_t writer;
    int writer_started;
    pthread_mutex_t mu;
    pthread_cond_t cv_work, cv_done;
    job *head, *tail;
    int stopping;
    pthread_mutex_t pool_mu;
    sqlite3 *pool[POOL_MAX];
    size_t n_pool;
} sqlite_index;

static const char *const schema_sql =
    "CREATE TABLE IF NOT EXISTS meta(key TEXT PRIMARY KEY, value TEXT);"
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

/* ---- small SQLite helpers ---- */

static pacs_err db_err(sqlite3 *db, int rc, pacs_errinfo *ei, const char *what)
{
    int base = rc & 0xff;
    pacs_err code = base == SQLITE_FULL ? PACS_ENOSPC
                    : base == SQLITE_BUSY || base == SQLITE_LOCKED ? PACS_EBUSY
                    : base == SQLITE_NOMEM ? PACS_ENOMEM
                    : base == SQLITE_READONLY || base == SQLITE_PERM || base == SQLITE_CANTOPEN
                        ? PACS_EDENIED
                    : base == SQLITE_IOERR ? PACS_EIO
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
    int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                                            SQLITE_OPEN_NOMUTEX,
                             NULL);
    if (rc != SQLITE_OK) {
        pacs_err e = db_err(db, rc, ei, "open");
        sqlite3_close(db);
        return e;
    }
    sqlite3_busy_timeout(db, 10000);
    const char *pragmas = writer ? "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;"
                                   "PRAGMA temp_store=MEMORY; PRAGMA cache_size=-65536;"
                                 : "PRAGMA query_only=1; PRAGMA temp_store=MEMORY;"
                                   "PRAGMA cache_size=-16384; PRAGMA mmap_size=268435456;";
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

/* ---- metadata compression ---- */

static pacs_err compress_json(const json_t *json, void **out, size_t *out_len, pacs_errinfo *ei)
{
    char *text = json_dumps(json, PACS_JSON_DUMP_FLAGS);
    if (!text) {
        return pacs_errf(ei, PACS_ENOMEM, "cannot serialise metadata");
    }
    size_t n = strlen(text);
    size_t cap = ZSTD_compressBound(n);
    void *z = malloc(cap);
    if (!z) {
        free(text);
        return pacs_errf(ei, PACS_ENOMEM, "out of memory");
    }
    size_t zn = ZSTD_compress(z, cap, text, n, 3);
    free(text);
    if (ZSTD_isError(zn)) {
        free(z);
        return pacs_errf(ei, PACS_EIO, "metadata compression: %s", ZSTD_getErrorName(zn));
    }
    *out = z;
    *out_len = zn;
    return PACS_OK;
}

/* Decompresses into `b` (reset first); the text is NUL-terminated. */
static pacs_err decompress_into(const void *z, size_t zn, pacs_buf *b, pacs_errinfo *ei)
{
    unsigned long long n = ZSTD_getFrameContentSize(z, zn);
    if (n == ZSTD_CONTENTSIZE_ERROR || n == ZSTD_CONTENTSIZE_UNKNOWN || n > (64u << 20)) {
        return pacs_errf(ei, PACS_ECORRUPT, "stored metadata is unreadable");
    }
    pacs_buf_reset(b);
    if (n > 0) {
        /* Reserve n bytes. Appending from `z` itself would read past its zn bytes. */
        static const char zeros[4096];
        pacs_err err = PACS_OK;
        for (size_t left = (size_t)n; left > 0 && err == PACS_OK;) {
            size_t k = left < sizeof zeros ? left : sizeof zeros;
            err = pacs_buf_append(b, zeros, k);
            left -= k;
        }
        if (err != PACS_OK) {
            return pacs_errf(ei, err, "out of memory");
        }
        size_t got = ZSTD_decompress(b->data, (size_t)n, z, zn);
        if (ZSTD_isError(got) || got != n) {
            return pacs_errf(ei, PACS_ECORRUPT, "stored metadata is unreadable");
        }
        b->data[n] = '\0';
    }
    return PACS_OK;
}

/* ---- the writer ---- */

typedef struct fields {
    char *patient_id, *issuer, *name, *name_ci, *name_fold, *birth_date, *sex;
    char *study_date, *study_time, *accession, *study_id, *ref_phys, *ref_phys_ci, *ref_phys_fold,
        *study_desc;
    char *modality, *series_number, *series_desc, *body_part, *series_date, *series_time,
        *pps_date, *pps_time;
    char *instance_number, *frames, *rows, *columns, *bits, *content_date, *content_time;
} fields;

static char *strip_colons(char *s)
{
    if (s) {
        char *o = s;
        for (char *p = s; *p; p++) {
            if (*p != ':') {
                *o++ = *p;
            }
        }
        *o = '\0';
    }
    return s;
}

static void fields_load(fields *f, const json_t *j)
{
    memset(f, 0, sizeof *f);
    f->patient_id = pacs_json_text(j, 0x00100020);
    f->issuer = pacs_json_text(j, 0x00100021);
    f->name = pacs_json_text(j, 0x00100010);
    f->name_ci = f->name ? pacs_fold_case(f->name) : NULL;
    f->name_fold = f->name ? pacs_fold_name(f->name) : NULL;
    f->birth_date = pacs_json_text(j, 0x00100030);
    f->sex = pacs_json_text(j, 0x00100040);
    f->study_date = pacs_json_text(j, 0x00080020);
    f->study_time = strip_colons(pacs_json_text(j, 0x00080030));
    f->accession = pacs_json_text(j, 0x00080050);
    f->study_id = pacs_json_text(j, 0x00200010);
    f->ref_phys = pacs_json_text(j, 0x00080090);
    f->ref_phys_ci = f->ref_phys ? pacs_fold_case(f->ref_phys) : NULL;
    f->ref_phys_fold = f->ref_phys ? pacs_fold_name(f->ref_phys) : NULL;
    f->study_desc = pacs_json_text(j, 0x00081030);
    f->modality = pacs_json_text(j, 0x00080060);
    f->series_number = pacs_json_text(j, 0x00200011);
    f->series_desc = pacs_json_text(j, 0x0008103E);
    f->body_part = pacs_json_text(j, 0x00180015);
    f->series_date = pacs_json_text(j, 0x00080021);
    f->series_time = strip_colons(pacs_json_text(j, 0x00080031));
    f->pps_date = pacs_json_text(j, 0x00400244);
    f->pps_time = strip_colons(pacs_json_text(j, 0x00400245));
    f->instance_number = pacs_json_text(j, 0x00200013);
    f->frames = pacs_json_text(j, 0x00280008);
    f->rows = pacs_json_text(j, 0x00280010);
    f->columns = pacs_json_text(j, 0x00280011);
    f->bits = pacs_json_text(j, 0x00280100);
    f->content_date = pacs_json_text(j, 0x00080023);
    f->content_time = strip_colons(pacs_json_text(j, 0x00080033));
}

static void fields_free(fields *f)
{
    char **p = (char **)f;
    for (size_t i = 0; i < sizeof *f / sizeof(char *); i++) {
        free(p[i]);
    }
}

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
    pacs_err err = collect_set(db, "SELECT DISTINCT modality FROM series WHERE study_pk=? "
                                   "ORDER BY modality",
                               study_pk, &mods, ei);
    if (err == PACS_OK) {
        err = collect_set(db, "SELECT DISTINCT i.sop_class FROM instances i JOIN series se ON "
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
    pacs_err err = run_sql(db, ei, "INSERT OR IGNORE INTO sweep(object) SELECT object FROM "
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
            err = run_sql(db, ei, "UPDATE patients SET num_studies=num_studies-1 WHERE pk=?",
                          "i", patient_pk);
        }
        if (err == PACS_OK &&
            query_int(db, "SELECT num_studies FROM patients WHERE pk=?", patient_pk, 0) <= 0) {
            err = run_sql(db, ei, "DELETE FROM patients WHERE pk=?", "i", patient_pk);
        }
        return err;
    }
    return refresh_study_sets(db, study_pk, ei);
}

static char *dump_attrs(const json_t *instance, pacs_level level)
{
    json_t *a = pacs_catalog_level_attrs(instance, level);
    char *s = a ? json_dumps(a, PACS_JSON_DUMP_FLAGS) : NULL;
    json_decref(a);
    return s;
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

    fields f;
    fields_load(&f, e->json);
    char *patient_attrs = dump_attrs(e->json, PACS_LEVEL_PATIENT);
    char *study_attrs = dump_attrs(e->json, PACS_LEVEL_STUDY);
    char *series_attrs = dump_attrs(e->json, PACS_LEVEL_SERIES);
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
    err = compress_json(e->json, &meta, &meta_len, ei);
    if (err != PACS_OK) {
        goto done;
    }

    /* Patient: identified by PatientID and its issuer; the latest instance's details win. */
    err = run_sql(db, ei, "INSERT INTO patients(patient_id, issuer) VALUES(?,?) "
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
    err = run_sql(db, ei, "UPDATE patients SET name=?, name_ci=?, name_fold=?, birth_date=?, "
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
        err = run_sql(db, ei, "INSERT INTO studies(patient_pk, study_uid, modalities, sop_classes)"
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
    err = prepare(db, "SELECT pk, coalesce(modality, '') = coalesce(?, '') FROM series"
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
        err = run_sql(db, ei, "UPDATE studies SET num_series=num_series+1 WHERE pk=?", "i",
                      study_pk);
        if (err == PACS_OK) {
            err = run_sql(db, ei, "UPDATE patients SET num_series=num_series+1 WHERE pk=?", "i",
                          patient_pk);
        }
        if (err != PACS_OK) {
            goto done;
        }
    }
    err = prepare(db, "UPDATE series SET modality=?, series_number=?, description=?, body_part=?,"
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
    err = prepare(db, "INSERT INTO instances(series_pk, sop_uid, sop_class, instance_number, ts,"
                      " object, size, frames, rows, columns, bits_allocated, content_date,"
                      " content_time, source_aet, received, pixels, metadata)"
                      " VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,strftime('%Y%m%d%H%M%S','now'),?,?)",
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
    fields_free(&f);
    return err;
}

/* ---- query compilation (shared by find, instances and remove) ---- */

typedef struct bindv {
    int is_int;
    long long i;
    char *s;
} bindv;

typedef struct compiled {
    pacs_buf where;
    bindv *binds;
    size_t n_binds, cap_binds;
    const pacs_query_key **post; /* keys matched in C */
    size_t n_post;
    int need_attrs[4];
} compiled;

static void compiled_free(compiled *c)
{
    pacs_buf_free(&c->where);
    for (size_t i = 0; i < c->n_binds; i++) {
        free(c->binds[i].s);
    }
    free(c->binds);
    free(c->post);
}

static pacs_err add_bind(compiled *c, const char *s, int is_int, long long iv)
{
    if (c->n_binds == c->cap_binds) {
        size_t cap = c->cap_binds ? c->cap_binds * 2 : 16;
        bindv *g = realloc(c->binds, cap * sizeof *g);
        if (!g) {
            return PACS_ENOMEM;
        }
        c->binds = g;
        c->cap_binds = cap;
    }
    bindv *b = &c->binds[c->n_binds];
    b->is_int = is_int;
    b->i = iv;
    b->s = NULL;
    if (!is_int) {
        b->s = strdup(s ? s : "");
        if (!b->s) {
            return PACS_ENOMEM;
        }
    }
    c->n_binds++;
    return PACS_OK;
}

/* A DICOM wildcard pattern as a SQLite GLOB pattern ('[' is special to GLOB only). */
static char *glob_pattern(const char *prefix, const char *dicom, const char *suffix)
{
    pacs_buf b;
    pacs_buf_init(&b, 1u << 16);
    pacs_buf_puts(&b, prefix);
    for (const char *p = dicom; *p; p++) {
        if (*p == '[') {
            pacs_buf_puts(&b, "[[]");
        } else {
            pacs_buf_append(&b, p, 1);
        }
    }
    pacs_buf_puts(&b, suffix);
    return pacs_buf_take(&b, NULL);
}

static pacs_err where_and(compiled *c)
{
    return pacs_buf_puts(&c->where, c->where.len ? " AND " : " WHERE ");
}

static pacs_err compile_key(compiled *c, const pacs_query *q, const pacs_query_key *k,
                            pacs_errinfo *ei)
{
    const pacs_column *col = pacs_catalog_column(pacs_query_level(q), k->tag);
    int post = !col || k->match == PACS_MATCH_SEQUENCE;
    if (col && col->kind == PACS_COL_INT && k->match != PACS_MATCH_SINGLE &&
        k->match != PACS_MATCH_LIST) {
        return pacs_errf(ei, PACS_EINVAL, "only single values or lists match numeric key %08X",
                         k->tag);
    }
    if (post) {
        int lvl = pacs_catalog_attrs_level(pacs_query_level(q), k->tag);
        if (lvl < 0) {
            /* An attribute of a lower level cannot match at this level. */
            where_and(c);
            return pacs_buf_puts(&c->where, "0") == PACS_OK ? PACS_OK
                                                             : pacs_errf(ei, PACS_ETOOBIG, "query too long");
        }
        c->need_attrs[lvl] = 1;
        const pacs_query_key **g = realloc(c->post, (c->n_post + 1) * sizeof *g);
        if (!g) {
            return pacs_errf(ei, PACS_ENOMEM, "out of memory");
        }
        c->post = g;
        c->post[c->n_post++] = k;
        return PACS_OK;
    }
    pacs_err err = where_and(c);
    const char *name = col->column;
    char ci[64];
    char *folded_value = NULL;
    if (col->kind == PACS_COL_PN) {
        if (pacs_query_fuzzy(q)) {
            /* Every folded query word must begin a word of the name. */
            char *folded = pacs_fold_name(k->value);
            if (!folded) {
                return pacs_errf(ei, PACS_EINVAL, "name is not valid UTF-8");
            }
            for (char *p = folded; *p; p++) {
                if (*p == '*' || *p == '?') {
                    *p = ' ';
                }
            }
            char *save = NULL;
            err = pacs_buf_puts(&c->where, "(1");
            for (char *w = strtok_r(folded, " ", &save); w && err == PACS_OK;
                 w = strtok_r(NULL, " ", &save)) {
                char *pat = glob_pattern("* ", w, "*");
                err = pat ? pacs_buf_printf(&c->where, " AND (' ' || %s_fold) GLOB ?", name)
                          : PACS_ENOMEM;
                if (err == PACS_OK) {
                    err = add_bind(c, pat, 0, 0);
                }
                free(pat);
            }
            free(folded);
            if (err == PACS_OK) {
                err = pacs_buf_puts(&c->where, ")");
            }
            return err == PACS_OK ? PACS_OK : pacs_errf(ei, err, "cannot build query");
        }
        /* A name typed without diacritics (ASCII) is matched against the folded name, so
         * "nguyen*" finds "Nguyễn^Văn An"; one typed with them must match them, case aside. */
        if (pacs_is_ascii(k->value)) {
            folded_value = pacs_fold_name(k->value);
            if (!folded_value) {
                return pacs_errf(ei, PACS_ENOMEM, "out of memory");
            }
            snprintf(ci, sizeof ci, "%s_fold", name);
        } else {
            snprintf(ci, sizeof ci, "%s_ci", name);
        }
        name = ci;
    }
    const char *value = folded_value ? folded_value : k->value;
    switch (k->match) {
    case PACS_MATCH_SINGLE:
        if (col->kind == PACS_COL_MULTI) {
            char pat[128];
            snprintf(pat, sizeof pat, "\\%s\\", k->value);
            err = pacs_buf_printf(&c->where, "instr(%s, ?) > 0", name);
            if (err == PACS_OK) {
                err = add_bind(c, pat, 0, 0);
            }
        } else if (col->kind == PACS_COL_INT) {
            char *end = NULL;
            long long v = strtoll(k->value, &end, 10);
            err = pacs_buf_printf(&c->where, "%s = ?", name);
            if (err == PACS_OK) {
                err = end && *end == '\0' ? add_bind(c, NULL, 1, v) : add_bind(c, "", 0, 0);
            }
        } else {
            err = pacs_buf_printf(&c->where, "%s = ?", name);
            if (err == PACS_OK) {
                err = add_bind(c, value, 0, 0);
            }
        }
        break;
    case PACS_MATCH_WILDCARD: {
        char *pat = col->kind == PACS_COL_MULTI ? glob_pattern("*\\", k->value, "\\*")
                                                : glob_pattern("", value, "");
        err = pat ? pacs_buf_printf(&c->where, "%s GLOB ?", name) : PACS_ENOMEM;
        if (err == PACS_OK) {
            err = add_bind(c, pat, 0, 0);
        }
        free(pat);
        break;
    }
    case PACS_MATCH_RANGE:
        err = pacs_buf_printf(&c->where, "(%s <> ''", name);
        if (err == PACS_OK && k->range_lo) {
            err = pacs_buf_printf(&c->where, " AND %s >= ?", name);
            if (err == PACS_OK) {
                err = add_bind(c, k->range_lo, 0, 0);
            }
        }
        if (err == PACS_OK && k->range_hi) {
            err = pacs_buf_printf(&c->where, " AND %s <= ?", name);
            if (err == PACS_OK) {
                err = add_bind(c, k->range_hi, 0, 0);
            }
        }
        if (err == PACS_OK) {
            err = pacs_buf_puts(&c->where, ")");
        }
        break;
    case PACS_MATCH_LIST:
        if (col->kind == PACS_COL_MULTI) {
            err = pacs_buf_puts(&c->where, "(0");
            for (size_t i = 0; i < k->n_list && err == PACS_OK; i++) {
                char pat[128];
                snprintf(pat, sizeof pat, "\\%s\\", k->list[i]);
                err = pacs_buf_printf(&c->where, " OR instr(%s, ?) > 0", name);
                if (err == PACS_OK) {
                    err = add_bind(c, pat, 0, 0);
                }
            }
            if (err == PACS_OK) {
                err = pacs_buf_puts(&c->where, ")");
            }
            break;
        }
        err = pacs_buf_printf(&c->where, "%s IN (", name);
        for (size_t i = 0; i < k->n_list && err == PACS_OK; i++) {
            err = pacs_buf_puts(&c->where, i ? ",?" : "?");
            if (err == PACS_OK) {
                if (col->kind == PACS_COL_INT) {
                    err = add_bind(c, NULL, 1, strtoll(k->list[i], NULL, 10));
                } else {
                    err = add_bind(c, k->list[i], 0, 0);
                }
            }
        }
        if (err == PACS_OK) {
            err = pacs_buf_puts(&c->where, ")");
        }
        break;
    default:
        break;
    }
    free(folded_value);
    return err == PACS_OK ? PACS_OK : pacs_errf(ei, err, "cannot build query");
}

static pacs_err compile(const pacs_query *q, compiled *c, pacs_errinfo *ei)
{
    memset(c, 0, sizeof *c);
    pacs_buf_init(&c->where, SQL_MAX);
    for (size_t i = 0; i < pacs_query_key_count(q); i++) {
        const pacs_query_key *k = pacs_query_key_at(q, i);
        if (k->match == PACS_MATCH_UNIVERSAL) {
            continue;
        }
        if (k->match == PACS_MATCH_SEQUENCE && pacs_query_key_count(k->item) == 0) {
            continue;
        }
        pacs_err err = compile_key(c, q, k, ei);
        if (err != PACS_OK) {
            compiled_free(c);
            return err;
        }
    }
    return PACS_OK;
}

static const char *from_clause(pacs_level level, int instances)
{
    if (level == PACS_LEVEL_PATIENT) {
        return instances ? " FROM instances i JOIN series se ON i.series_pk=se.pk JOIN studies st"
                           " ON se.study_pk=st.pk JOIN patients p ON st.patient_pk=p.pk"
                         : " FROM patients p";
    }
    if (instances || level == PACS_LEVEL_INSTANCE) {
        return " FROM instances i JOIN series se ON i.series_pk=se.pk JOIN studies st"
               " ON se.study_pk=st.pk";
    }
    if (level == PACS_LEVEL_SERIES) {
        return " FROM series se JOIN studies st ON se.study_pk=st.pk";
    }
    return " FROM studies st";
}

static const char *order_clause(pacs_level level, int instances)
{
    if (instances || level == PACS_LEVEL_INSTANCE) {
        return " ORDER BY st.pk, se.series_number, se.pk, i.instance_number, i.pk";
    }
    switch (level) {
    case PACS_LEVEL_PATIENT:
        return " ORDER BY p.pk";
    case PACS_LEVEL_STUDY:
        return " ORDER BY st.study_date DESC, st.study_time DESC, st.pk DESC";
    default:
        return " ORDER BY st.pk, se.series_number, se.pk";
    }
}

static const char *attrs_column(pacs_level level)
{
    static const char *const cols[] = {"p.attrs", "st.attrs", "se.attrs", "i.metadata"};
    return cols[level];
}

static void bind_all(sqlite3_stmt *st, const compiled *c)
{
    for (size_t i = 0; i < c->n_binds; i++) {
        if (c->binds[i].is_int) {
            sqlite3_bind_int64(st, (int)i + 1, c->binds[i].i);
        } else {
            sqlite3_bind_text(st, (int)i + 1, c->binds[i].s, -1, SQLITE_STATIC);
        }
    }
}

/* The parsed stored attributes of each level for the current row, loaded on demand. */
typedef struct row_attrs {
    json_t *level[4];
    int attrs_col[4]; /* result column of each level's attributes, -1 if not selected */
    pacs_buf scratch;
} row_attrs;

static const json_t *row_level_attrs(row_attrs *ra, sqlite3_stmt *st, int level)
{
    if (ra->level[level] || ra->attrs_col[level] < 0) {
        return ra->level[level];
    }
    int col = ra->attrs_col[level];
    if (level == PACS_LEVEL_INSTANCE) {
        const void *z = sqlite3_column_blob(st, col);
        int zn = sqlite3_column_bytes(st, col);
        if (z && decompress_into(z, (size_t)zn, &ra->scratch, NULL) == PACS_OK) {
            ra->level[level] = json_loadb(ra->scratch.data, ra->scratch.len, 0, NULL);
        }
    } else {
        const char *t = (const char *)sqlite3_column_text(st, col);
        if (t) {
            ra->level[level] = json_loads(t, 0, NULL);
        }
    }
    return ra->level[level];
}

static void row_attrs_clear(row_attrs *ra)
{
    for (int l = 0; l < 4; l++) {
        json_decref(ra->level[l]);
        ra->level[l] = NULL;
    }
}

static int post_filters_pass(const compiled *c, const pacs_query *q, row_attrs *ra,
                             sqlite3_stmt *st)
{
    for (size_t i = 0; i < c->n_post; i++) {
        const pacs_query_key *k = c->post[i];
        int lvl = pacs_catalog_attrs_level(pacs_query_level(q), k->tag);
        const json_t *attrs = lvl >= 0 ? row_level_attrs(ra, st, lvl) : NULL;
        char key[9];
        snprintf(key, sizeof key, "%08X", k->tag);
        if (!pacs_query_key_matches(k, json_object_get(attrs, key), pacs_query_fuzzy(q))) {
            return 0;
        }
    }
    return 1;
}

/* The DICOM JSON attribute for a column value. */
static json_t *column_attr(const pacs_column *col, sqlite3_stmt *st, int i)
{
    json_t *attr = json_object();
    json_object_set_new(attr, "vr", json_string(col->vr));
    if (sqlite3_column_type(st, i) == SQLITE_NULL) {
        return attr;
    }
    json_t *values = json_array();
    if (col->kind == PACS_COL_INT) {
        json_array_append_new(values, json_integer(sqlite3_column_int64(st, i)));
    } else {
        const char *t = (const char *)sqlite3_column_text(st, i);
        if (col->kind == PACS_COL_MULTI) {
            const char *p = t;
            while (p && *p) {
                while (*p == '\\') {
                    p++;
                }
                const char *e = strchr(p, '\\');
                if (!e) {
                    e = p + strlen(p);
                }
                if (e > p) {
                    json_array_append_new(values, json_stringn(p, (size_t)(e - p)));
                }
                p = e;
            }
        } else if (col->kind == PACS_COL_PN) {
            static const char *const groups[] = {"Alphabetic", "Ideographic", "Phonetic"};
            json_t *pn = json_object();
            const char *p = t;
            for (int g = 0; g < 3 && p; g++) {
                const char *e = strchr(p, '=');
                size_t n = e ? (size_t)(e - p) : strlen(p);
                if (n > 0) {
                    json_object_set_new(pn, groups[g], json_stringn(p, n));
                }
                p = e ? e + 1 : NULL;
            }
            json_array_append_new(values, pn);
        } else if (t && *t) {
            json_array_append_new(values, json_string(t));
        }
    }
    if (json_array_size(values) > 0) {
        json_object_set_new(attr, "Value", values);
    } else {
        json_decref(values);
    }
    return attr;
}

/* Return keys: the query's keys plus the unique keys of its level and those above. */
static size_t return_tags(const pacs_query *q, uint32_t *tags, const char **vrs, size_t cap)
{
    size_t n = 0;
    pacs_level level = pacs_query_level(q);
    for (int l = level == PACS_LEVEL_PATIENT ? 0 : 1; l <= (int)level && n < cap; l++) {
        tags[n] = pacs_catalog_unique_key((pacs_level)l);
        vrs[n++] = l == PACS_LEVEL_PATIENT ? "LO" : "UI";
    }
    for (size_t i = 0; i < pacs_query_key_count(q) && n < cap; i++) {
        const pacs_query_key *k = pacs_query_key_at(q, i);
        int dup = 0;
        for (size_t j = 0; j < n; j++) {
            dup |= tags[j] == k->tag;
        }
        if (!dup) {
            tags[n] = k->tag;
            vrs[n++] = k->vr;
        }
    }
    return n;
}

#define MAX_RETURN 512

static pacs_err do_find(sqlite_index *si, const pacs_query *q, pacs_find_cb cb, void *ctx,
                        pacs_errinfo *ei)
{
    pacs_level level = pacs_query_level(q);
    compiled c;
    pacs_err err = compile(q, &c, ei);
    if (err != PACS_OK) {
        return err;
    }
    uint32_t tags[MAX_RETURN];
    const char *vrs[MAX_RETURN];
    size_t n_ret = return_tags(q, tags, vrs, MAX_RETURN);
    const pacs_column *cols[MAX_RETURN];
    int result_col[MAX_RETURN];
    row_attrs ra;
    memset(&ra, 0, sizeof ra);
    pacs_buf_init(&ra.scratch, 64u << 20);
    pacs_buf sql;
    pacs_buf_init(&sql, SQL_MAX);
    pacs_buf_puts(&sql, "SELECT 0");
    int next_col = 1;
    for (size_t i = 0; i < n_ret; i++) {
        cols[i] = pacs_catalog_column(level, tags[i]);
        result_col[i] = -1;
        if (cols[i]) {
            pacs_buf_printf(&sql, ", %s", cols[i]->column);
            result_col[i] = next_col++;
        } else {
            int lvl = pacs_catalog_attrs_level(level, tags[i]);
            if (lvl >= 0) {
                c.need_attrs[lvl] = 1;
            }
        }
    }
    if (pacs_query_includes_all(q)) {
        c.need_attrs[level == PACS_LEVEL_PATIENT ? 0 : level] = 1;
    }
    for (int l = 0; l < 4; l++) {
        ra.attrs_col[l] = -1;
        if (c.need_attrs[l]) {
            pacs_buf_printf(&sql, ", %s", attrs_column((pacs_level)l));
            ra.attrs_col[l] = next_col++;
        }
    }
    pacs_buf_puts(&sql, from_clause(level, 0));
    if (c.where.len) {
        pacs_buf_append(&sql, c.where.data, c.where.len);
    }
    pacs_buf_puts(&sql, order_clause(level, 0));
    size_t limit = pacs_query_limit(q), offset = pacs_query_offset(q);
    if (c.n_post == 0 && (limit || offset)) {
        pacs_buf_printf(&sql, " LIMIT %lld OFFSET %zu", limit ? (long long)limit : -1LL, offset);
    }
    sqlite3 *db = NULL;
    sqlite3_stmt *st = NULL;
    if (!sql.data) {
        err = pacs_errf(ei, PACS_ETOOBIG, "query too long");
        goto done;
    }
    err = reader_get(si, &db, ei);
    if (err != PACS_OK) {
        goto done;
    }
    err = prepare(db, sql.data, &st, ei);
    if (err != PACS_OK) {
        goto done;
    }
    bind_all(st, &c);
    size_t skipped = 0, emitted = 0;
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        row_attrs_clear(&ra);
        if (c.n_post) {
            if (!post_filters_pass(&c, q, &ra, st)) {
                continue;
            }
            if (skipped < offset) {
                skipped++;
                continue;
            }
            if (limit && emitted >= limit) {
                break;
            }
        }
        json_t *r = json_object();
        for (size_t i = 0; i < n_ret; i++) {
            char key[9];
            snprintf(key, sizeof key, "%08X", tags[i]);
            json_t *attr = NULL;
            if (cols[i]) {
                attr = column_attr(cols[i], st, result_col[i]);
            } else {
                int lvl = pacs_catalog_attrs_level(level, tags[i]);
                const json_t *a = lvl >= 0 ? json_object_get(row_level_attrs(&ra, st, lvl), key) : NULL;
                if (a) {
                    attr = json_deep_copy(a);
                } else {
                    attr = json_object();
                    json_object_set_new(attr, "vr", json_string(vrs[i]));
                }
            }
            json_object_set_new(r, key, attr);
        }
        if (pacs_query_includes_all(q)) {
            const json_t *all = row_level_attrs(&ra, st, level == PACS_LEVEL_PATIENT ? 0 : level);
            const char *key;
            json_t *attr;
            json_object_foreach((json_t *)all, key, attr)
            {
                if (!json_object_get(r, key)) {
                    json_object_set(r, key, attr);
                }
            }
        }
        emitted++;
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
    row_attrs_clear(&ra);
    pacs_buf_free(&ra.scratch);
    sqlite3_finalize(st);
    if (db) {
        reader_put(si, db);
    }
    pacs_buf_free(&sql);
    compiled_free(&c);
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
    compiled c;
    pacs_err err = compile(q, &c, ei);
    if (err != PACS_OK) {
        return err;
    }
    pacs_level level = pacs_query_level(q);
    row_attrs ra;
    memset(&ra, 0, sizeof ra);
    pacs_buf_init(&ra.scratch, 64u << 20);
    pacs_buf meta;
    pacs_buf_init(&meta, 64u << 20);
    pacs_buf sql;
    pacs_buf_init(&sql, SQL_MAX);
    pacs_buf_puts(&sql, "SELECT i.pk, st.study_uid, se.series_uid, i.sop_uid, i.sop_class, i.ts,"
                        " i.object, i.size, i.frames, i.pixels, i.metadata");
    int next_col = 11;
    for (int l = 0; l < 4; l++) {
        ra.attrs_col[l] = -1;
        if (c.need_attrs[l]) {
            if (l == PACS_LEVEL_INSTANCE) {
                ra.attrs_col[l] = 10;
            } else {
                pacs_buf_printf(&sql, ", %s", attrs_column((pacs_level)l));
                ra.attrs_col[l] = next_col++;
            }
        }
    }
    pacs_buf_puts(&sql, from_clause(level, 1));
    if (c.where.len) {
        pacs_buf_append(&sql, c.where.data, c.where.len);
    }
    pacs_buf_puts(&sql, order_clause(level, 1));
    sqlite3_stmt *st = NULL;
    if (!sql.data) {
        err = pacs_errf(ei, PACS_ETOOBIG, "query too long");
        goto done;
    }
    err = prepare(db, sql.data, &st, ei);
    if (err != PACS_OK) {
        goto done;
    }
    bind_all(st, &c);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
        row_attrs_clear(&ra);
        if (c.n_post && !post_filters_pass(&c, q, &ra, st)) {
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
            pks->pks[pks->n++] = sqlite3_column_int64(st, 0);
            continue;
        }
        pacs_instance_rec rec;
        memset(&rec, 0, sizeof rec);
        col_copy(st, 1, rec.study_uid, sizeof rec.study_uid);
        col_copy(st, 2, rec.series_uid, sizeof rec.series_uid);
        col_copy(st, 3, rec.sop_uid, sizeof rec.sop_uid);
        col_copy(st, 4, rec.sop_class, sizeof rec.sop_class);
        col_copy(st, 5, rec.ts, sizeof rec.ts);
        col_copy(st, 6, rec.object, sizeof rec.object);
        rec.size = (uint64_t)sqlite3_column_int64(st, 7);
        rec.frames = (uint32_t)sqlite3_column_int64(st, 8);
        rec.pixel_layout = sqlite3_column_blob(st, 9);
        rec.pixel_layout_len = (size_t)sqlite3_column_bytes(st, 9);
        if (flags & PACS_REC_METADATA) {
            const void *z = sqlite3_column_blob(st, 10);
            err = decompress_into(z, (size_t)sqlite3_column_bytes(st, 10), &meta, ei);
            if (err != PACS_OK) {
                break;
            }
            rec.metadata = meta.data;
            rec.metadata_len = meta.len;
        }
        if (cb(ctx, &rec)) {
            break;
        }
    }
    if (err == PACS_OK && rc != SQLITE_ROW && rc != SQLITE_DONE) {
        err = db_err(db, rc, ei, "query");
    }
done:
    row_attrs_clear(&ra);
    pacs_buf_free(&ra.scratch);
    pacs_buf_free(&meta);
    sqlite3_finalize(st);
    pacs_buf_free(&sql);
    compiled_free(&c);
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

static void run_batch(sqlite_index *si, job *batch)
{
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
        case JOB_PUT:
            j->err = do_put(db, j->entry, j->put_result, &j->ei);
            break;
        case JOB_REMOVE:
            j->err = do_remove(db, j->query, &j->removed, &j->ei);
            break;
        case JOB_SWEEP_DONE:
            j->err = run_sql(db, &j->ei, "DELETE FROM sweep WHERE object=?", "s", j->object);
            break;
        case JOB_FWD_ENQUEUE:
            j->err = fwd_enqueue(db, j->fwd, &j->ei);
            break;
        case JOB_FWD_UPDATE:
            j->err = fwd_update(db, j->fwd, &j->ei);
            break;
        case JOB_FWD_RETRY:
            j->err = fwd_retry(db, j->fwd, &j->ei);
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

static void *writer_main(void *arg)
{
    sqlite_index *si = arg;
    for (;;) {
        pthread_mutex_lock(&si->mu);
        while (!si->head && !si->stopping) {
            pthread_cond_wait(&si->cv_work, &si->mu);
        }
        if (!si->head) {
            pthread_mutex_unlock(&si->mu);
            break;
        }
        /* Take up to BATCH_MAX jobs; later ones wait for the next transaction. */
        job *batch = si->head, *last = batch;
        size_t n = 1;
        while (last->next && n < BATCH_MAX) {
            last = last->next;
            n++;
        }
        si->head = last->next;
        if (!si->head) {
            si->tail = NULL;
        }
        last->next = NULL;
        pthread_mutex_unlock(&si->mu);

        run_batch(si, batch);

        pthread_mutex_lock(&si->mu);
        for (job *j = batch; j;) {
            job *next = j->next;
            j->done = 1;
            j = next;
        }
        pthread_cond_broadcast(&si->cv_done);
        pthread_mutex_unlock(&si->mu);
    }
    return NULL;
}

static pacs_err submit(sqlite_index *si, job *j, pacs_errinfo *ei)
{
    j->done = 0;
    j->next = NULL;
    j->err = PACS_OK;
    pthread_mutex_lock(&si->mu);
    if (si->stopping) {
        pthread_mutex_unlock(&si->mu);
        return pacs_errf(ei, PACS_EBUSY, "the index is closing");
    }
    if (si->tail) {
        si->tail->next = j;
    } else {
        si->head = j;
    }
    si->tail = j;
    pthread_cond_signal(&si->cv_work);
    while (!j->done) {
        pthread_cond_wait(&si->cv_done, &si->mu);
    }
    pthread_mutex_unlock(&si->mu);
    if (j->err != PACS_OK && ei) {
        *ei = j->ei;
        ei->code = j->err;
    }
    return j->err;
}

/* ---- the ops ---- */

static pacs_err sq_put(pacs_index *idx, const pacs_index_entry *e, pacs_put_result *res,
                       pacs_errinfo *ei)
{
    job j;
    memset(&j, 0, sizeof j);
    j.kind = JOB_PUT;
    j.entry = e;
    j.put_result = res;
    return submit((sqlite_index *)idx, &j, ei);
}

static pacs_err sq_remove(pacs_index *idx, const pacs_query *q, uint64_t *n, pacs_errinfo *ei)
{
    job j;
    memset(&j, 0, sizeof j);
    j.kind = JOB_REMOVE;
    j.query = q;
    pacs_err err = submit((sqlite_index *)idx, &j, ei);
    if (err == PACS_OK) {
        *n = j.removed;
    }
    return err;
}

static pacs_err sq_sweep_done(pacs_index *idx, const char *object, pacs_errinfo *ei)
{
    job j;
    memset(&j, 0, sizeof j);
    j.kind = JOB_SWEEP_DONE;
    j.object = object;
    return submit((sqlite_index *)idx, &j, ei);
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
    err = prepare(db, "SELECT (SELECT count(*) FROM patients), (SELECT count(*) FROM studies),"
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

static pacs_err submit_fwd(sqlite_index *si, job_kind kind, fwd_args *f, pacs_errinfo *ei)
{
    job j;
    memset(&j, 0, sizeof j);
    j.kind = kind;
    j.fwd = f;
    return submit(si, &j, ei);
}

static pacs_err sq_fwd_enqueue(pacs_index *idx, const char *dest, const char *rule,
                               const char *sop_uid, const char *object, int64_t now, int *added,
                               pacs_errinfo *ei)
{
    fwd_args f;
    memset(&f, 0, sizeof f);
    f.dest = dest;
    f.rule = rule;
    f.sop_uid = sop_uid;
    f.object = object;
    f.now = now;
    pacs_err err = submit_fwd((sqlite_index *)idx, JOB_FWD_ENQUEUE, &f, ei);
    if (err == PACS_OK && added) {
        *added = f.changed > 0;
    }
    return err;
}

static pacs_err sq_fwd_update(pacs_index *idx, const pacs_fwd_update *u, size_t n, pacs_errinfo *ei)
{
    if (n == 0) {
        return PACS_OK;
    }
    fwd_args f;
    memset(&f, 0, sizeof f);
    f.updates = u;
    f.n_updates = n;
    return submit_fwd((sqlite_index *)idx, JOB_FWD_UPDATE, &f, ei);
}

static pacs_err sq_fwd_retry(pacs_index *idx, int64_t id, int64_t now, uint64_t *n,
                             pacs_errinfo *ei)
{
    fwd_args f;
    memset(&f, 0, sizeof f);
    f.id = id;
    f.now = now;
    pacs_err err = submit_fwd((sqlite_index *)idx, JOB_FWD_RETRY, &f, ei);
    if (err == PACS_OK && n) {
        *n = f.changed;
    }
    return err;
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

static void sq_close(pacs_index *idx)
{
    sqlite_index *si = (sqlite_index *)idx;
    if (si->writer_started) {
        pthread_mutex_lock(&si->mu);
        si->stopping = 1;
        pthread_cond_broadcast(&si->cv_work);
        pthread_mutex_unlock(&si->mu);
        pthread_join(si->writer, NULL);
    }
    for (size_t i = 0; i < si->n_pool; i++) {
        sqlite3_close(si->pool[i]);
    }
    if (si->wdb) {
        /* Fold the WAL back into the database so the file stands alone. */
        sqlite3_exec(si->wdb, "PRAGMA wal_checkpoint(TRUNCATE)", NULL, NULL, NULL);
        sqlite3_close(si->wdb);
    }
    pthread_mutex_destroy(&si->mu);
    pthread_cond_destroy(&si->cv_work);
    pthread_cond_destroy(&si->cv_done);
    pthread_mutex_destroy(&si->pool_mu);
    free(si->path);
    free(si);
}

static const pacs_index_ops sqlite_ops = {
    "sqlite",     sq_close,       sq_put,           sq_find,       sq_instances,
    sq_remove,    sq_objects,     sq_sweep_pending, sq_sweep_done, sq_object_referenced,
    sq_stats,     sq_fwd_enqueue, sq_fwd_due,       sq_fwd_update, sq_fwd_list,
    sq_fwd_retry,
};

pacs_err pacs_index_sqlite_open(const char *path, pacs_index **out, pacs_errinfo *ei)
{
    sqlite_index *si = calloc(1, sizeof *si);
    if (!si) {
        return pacs_errf(ei, PACS_ENOMEM, "out of memory");
    }
    si->base.ops = &sqlite_ops;
    pthread_mutex_init(&si->mu, NULL);
    pthread_cond_init(&si->cv_work, NULL);
    pthread_cond_init(&si->cv_done, NULL);
    pthread_mutex_init(&si->pool_mu, NULL);
    si->path = strdup(path);
    if (!si->path) {
        sq_close(&si->base);
        return pacs_errf(ei, PACS_ENOMEM, "out of memory");
    }
    pacs_err err = open_connection(path, 1, &si->wdb, ei);
    if (err == PACS_OK) {
        err = exec(si->wdb, schema_sql, ei);
    }
    if (err == PACS_OK) {
        sqlite3_stmt *st = NULL;
        err = prepare(si->wdb, "SELECT value FROM meta WHERE key='schema_version'", &st, ei);
        long long version = 0;
        if (err == PACS_OK && sqlite3_step(st) == SQLITE_ROW) {
            version = sqlite3_column_int64(st, 0);
        }
        sqlite3_finalize(st);
        if (err == PACS_OK && version == 0) {
            char sql[128];
            snprintf(sql, sizeof sql, "INSERT INTO meta VALUES('schema_version', '%d')",
                     SCHEMA_VERSION);
            err = exec(si->wdb, sql, ei);
        } else if (err == PACS_OK && version > SCHEMA_VERSION) {
            err = pacs_errf(ei, PACS_EUNSUPPORTED,
                            "index schema version %lld is newer than this program (%d)", version,
                            SCHEMA_VERSION);
        }
    }
    if (err == PACS_OK) {
        if (pthread_create(&si->writer, NULL, writer_main, si) != 0) {
            err = pacs_errf(ei, PACS_ENOMEM, "cannot start the index writer");
        } else {
            si->writer_started = 1;
        }
    }
    if (err != PACS_OK) {
        sq_close(&si->base);
        return err;
    }
    *out = &si->base;
    return PACS_OK;
}
