// SPDX-License-Identifier: MIT
/*
 * The index core and the thin SQL driver it runs on. The index's logic (ingest with its counter
 * cascade and study sets, removal, the forwarding queue, share records, intents, group commit,
 * every read) is written once, in index.c, index_write.c, index_read.c and index_nodes.c,
 * against the driver below; a backend (index_sqlite.c, index_pg.c) supplies only the driver
 * (prepare, bind, step, column, transactions), its connections and pool, its migrations and
 * its dialect (index_sql.h). Internal to storage/ (pacs_index__ and pacs_db names).
 *
 * Statements: the core's fixed statements are numbered (the PACS_SQL_* slots) and written where
 * they are used; each is prepared once per connection, on its first use there, and kept;
 * queries compiled per call are prepared for that use only. The core writes parameters as $1,
 * $2, ... (the SQLite driver spells them ?1, ?2, ...).
 *
 * Threads: a connection (pacs_db) and its statements belong to one thread at a time: the
 * writer thread has the writer's, a reader takes one from the pool for one call.
 */
#ifndef PACS_STORAGE_INDEX_CORE_H
#define PACS_STORAGE_INDEX_CORE_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "pacs/base/err.h"
#include "storage/index.h"
#include "storage/index_queue.h"
#include "storage/index_sql.h"

/* ---- the fixed statements ---- */

enum {
    /* ingest (index_write.c) */
    PACS_SQL_INSTANCE_OF_SOP,
    PACS_SQL_PATIENT_ADD,
    PACS_SQL_PATIENT_SET,
    PACS_SQL_STUDY_ADD,
    PACS_SQL_STUDY_OF_UID,
    PACS_SQL_STUDY_SET,
    PACS_SQL_STUDY_KEYS_SET,
    PACS_SQL_SERIES_ADD,
    PACS_SQL_SERIES_OF_UID,
    PACS_SQL_SERIES_SET,
    PACS_SQL_INSTANCE_ADD,
    PACS_SQL_PATIENT_STUDIES_ADD,
    PACS_SQL_PATIENT_SERIES_ADD,
    PACS_SQL_PATIENT_INSTANCES_ADD,
    PACS_SQL_STUDY_SERIES_ADD,
    PACS_SQL_STUDY_INSTANCES_ADD,
    PACS_SQL_SERIES_INSTANCES_ADD,
    PACS_SQL_STUDY_HAS_CLASS,
    PACS_SQL_STUDY_SETS,
    PACS_SQL_STUDY_MODALITIES,
    PACS_SQL_STUDY_CLASSES,
    PACS_SQL_STUDY_SETS_SET,
    /* removal */
    PACS_SQL_INSTANCE_PARENTS,
    PACS_SQL_SWEEP_ADD,
    PACS_SQL_INSTANCE_DEL,
    PACS_SQL_STUDY_INSTANCES_SUB,
    PACS_SQL_PATIENT_INSTANCES_SUB,
    PACS_SQL_SERIES_INSTANCES_SUB,
    PACS_SQL_SERIES_DEL,
    PACS_SQL_PATIENT_SERIES_SUB,
    PACS_SQL_STUDY_SERIES_SUB,
    PACS_SQL_STUDY_DEL,
    PACS_SQL_PATIENT_STUDIES_SUB,
    PACS_SQL_PATIENT_DEL,
    PACS_SQL_SWEEP_DONE,
    /* the forwarding queue */
    PACS_SQL_FWD_ENQUEUE,
    PACS_SQL_FWD_UPDATE,
    PACS_SQL_FWD_RETRY_ONE,
    PACS_SQL_FWD_RETRY_ALL,
    PACS_SQL_FWD_DUE,
    PACS_SQL_FWD_LIST_ALL,
    PACS_SQL_FWD_LIST_STATE,
    /* share records */
    PACS_SQL_SHARE_ADD,
    PACS_SQL_SHARE_REVOKE_ID,
    PACS_SQL_SHARE_REVOKE_STUDY,
    PACS_SQL_SHARE_REVOKE_ALL,
    PACS_SQL_SHARE_GET,
    PACS_SQL_SHARE_LIST_ALL,
    PACS_SQL_SHARE_LIST_STUDY,
    /* reads */
    PACS_SQL_OBJECTS,
    PACS_SQL_SWEEP_PENDING,
    PACS_SQL_OBJECT_REFERENCED,
    PACS_SQL_STUDY_FROM,
    PACS_SQL_STATS,
    /* several nodes (index_nodes.c) */
    PACS_SQL_INTENT_ADD,
    PACS_SQL_INTENT_DONE,
    PACS_SQL_INTENTS_DROP,
    PACS_SQL_OBJECT_LOCK,
    PACS_SQL_OBJECT_BUSY,
    /* orders and patients (orders.c) */
    PACS_SQL_ORD_ID_GET,
    PACS_SQL_ORD_PAT_GET,
    PACS_SQL_ORD_PAT_IDS,
    PACS_SQL_ORD_PAT_ADD,
    PACS_SQL_ORD_PAT_SET,
    PACS_SQL_ORD_ID_DEL,
    PACS_SQL_ORD_ID_ADD,
    PACS_SQL_ORD_MERGE,
    PACS_SQL_ORD_MOVE,
    PACS_SQL_ORD_GET_PLACER, /* pacs_orders__get: one statement per key, in this order */
    PACS_SQL_ORD_GET_ACCESSION,
    PACS_SQL_ORD_GET_STUDY,
    PACS_SQL_ORD_GET_SPS,
    PACS_SQL_ORD_GET_PK,
    PACS_SQL_ORD_ADD,
    PACS_SQL_ORD_SET,
    PACS_SQL_MPPS_GET,
    PACS_SQL_MPPS_ADD,
    PACS_SQL_MPPS_SET,
    PACS_SQL_ORD_COPY_PATIENTS, /* orders_copy.c */
    PACS_SQL_ORD_COPY_IDS,
    PACS_SQL_ORD_COPY_ORDERS,
    PACS_SQL_ORD_COPY_MPPS,
    PACS_SQL_ORD_COPY_LINKS,
    PACS_SQL_LINK_ADD, /* orders_link.c */
    PACS_SQL_LINK_STUDIES,
    PACS_SQL_LINK_STUDY,
    PACS_SQL_LINK_INSTANCES,
    PACS_SQL_LINK_METADATA,
    PACS_SQL_LINK_METADATA_SET,
    PACS_SQL_LINK_STUDY_SET,
    PACS_SQL_LINK_PATIENT_MOVE,
    PACS_SQL_LINK_PATIENT_DROP,
    PACS_SQL_LINK_OF_STUDY,
    /* compression at rest (index_compress.c) */
    PACS_SQL_COMPRESS_CANDIDATES,
    PACS_SQL_COMPRESS_METADATA,
    PACS_SQL_COMPRESS_SWAP,
    PACS_SQL_COMPRESS_SWEEP_OLD,
    /* retention (retention.c) */
    PACS_SQL_RETENTION_STUDIES,
    PACS_SQL_LINK_STORED,
    PACS_SQL_LINK_SERIES_ADD,
    PACS_SQL_LINK_OF_SERIES,
    PACS_SQL_ORD_WORDS_DEL, /* orders_worklist.c */
    PACS_SQL_ORD_WORD_ADD,
    PACS_SQL_ORD_WORDS_SET,
    /* built-in users (users.c) */
    PACS_SQL_USER_GET,
    PACS_SQL_USER_ADD,
    PACS_SQL_USER_HASH_SET,
    PACS_SQL_USER_ROLE_SET,
    PACS_SQL_USER_DEL,
    PACS_SQL_USER_LIST,
    PACS_SQL_USER_COUNT_SET,
    PACS_SQL_USER_COPY_READ,
    PACS_SQL_USER_COPY_ADD,
    PACS_SQL_USER_TOUCH,
    PACS_SQL_UNFLUSHED_ADD,
    PACS_SQL_UNFLUSHED_CLEAR,
    PACS_SQL_UNFLUSHED_LIST,
    PACS_SQL_INSTANCE_OF_OBJECT,
    PACS_SQL_SLOTS
};

/* ---- the driver ---- */

typedef struct pacs_db pacs_db;           /* one connection, the backend's */
typedef struct pacs_db_stmt pacs_db_stmt; /* one statement on one connection */

typedef struct pacs_db_driver {
    /** Prepares `sql` on `db`, ready for binding: with `slot` >= 0 (below PACS_SQL_SLOTS)
     *  to be kept on the connection (the core keeps it: pacs_db_kept), with -1 for this use
     *  only. */
    pacs_err (*prepare)(pacs_db *db, int slot, const char *sql, pacs_db_stmt **out,
                        pacs_errinfo *ei);
    /** Frees a statement, kept or not. */
    void (*release)(pacs_db_stmt *st);
    /** Closes the connection and frees it (its statements are released by then). */
    void (*disconnect)(pacs_db *db);
    /** Parameters count from 1. Text and bytes are borrowed until done(); NULL text binds
     *  SQL NULL. */
    void (*bind_int)(pacs_db_stmt *st, int i, long long v);
    void (*bind_text)(pacs_db_stmt *st, int i, const char *s);
    void (*bind_blob)(pacs_db_stmt *st, int i, const void *p, size_t n);
    /** Runs the statement on, one row at a time: 1 with a row, 0 at the end, -1 on an error
     *  (`ei` filled; the backend notes the failure for its batch_retry). */
    int (*step)(pacs_db_stmt *st, pacs_errinfo *ei);
    /** The current row's column `col`: its bytes (text NUL-terminated; an integer or a
     *  boolean as decimal text), `*len` set, or NULL for SQL NULL; valid until the next step.
     *  Its signature is pacs_index__row's value(), with the statement as context. */
    const char *(*column)(void *st, int col, size_t *len);
    /** The current row's column `col` as an integer (0 for NULL). */
    long long (*column_int)(pacs_db_stmt *st, int col);
    /** Rows the statement changed, once step() returned 0. */
    uint64_t (*changes)(pacs_db_stmt *st);
    /** Ends a use: a kept statement is reset for the next one (a result still streaming is
     *  cancelled and drained), another is freed. NULL is accepted. */
    void (*done)(pacs_db_stmt *st);
    /** Runs SQL without parameters or rows (several statements separated by ';'). */
    pacs_err (*exec)(pacs_db *db, const char *sql, pacs_errinfo *ei);
    /** Whether the engine rolled back the whole open transaction with the last failure (a
     *  full disk on SQLite), rather than only the failed statement. */
    int (*txn_lost)(pacs_db *db);
} pacs_db_driver;

/** The start of every backend's connection (struct pacs_db): the statements kept on it, which
 *  the core fills (pacs_index__stmt) and frees with the connection (pacs_db_close). */
typedef struct pacs_db_kept {
    pacs_db_stmt *stmt[PACS_SQL_SLOTS];
} pacs_db_kept;

/** Releases the statements kept on `db` and disconnects it. NULL is accepted. */
void pacs_db_close(const pacs_db_driver *d, pacs_db *db);

/** A backend's driver, from its functions P_prepare, P_release, P_disconnect, P_bind_int, ...
 *  P_txn_lost. */
#define PACS_DB_DRIVER(P)                                                                          \
    {                                                                                              \
        .prepare = P##_prepare, .release = P##_release, .disconnect = P##_disconnect,              \
        .bind_int = P##_bind_int, .bind_text = P##_bind_text, .bind_blob = P##_bind_blob,          \
        .step = P##_step, .column = P##_column, .column_int = P##_column_int,                      \
        .changes = P##_changes, .done = P##_done, .exec = P##_exec, .txn_lost = P##_txn_lost       \
    }

/* ---- what a backend supplies ---- */

typedef struct pacs_index__backend {
    const char *name;
    const pacs_sql_dialect *dialect;
    const pacs_db_driver *db;
    /** A pooled connection for one call (reads; on a shared index also claims, intents and
     *  releases, in their own transactions), and its return. */
    pacs_err (*conn_get)(pacs_index *idx, pacs_db **out, pacs_errinfo *ei);
    void (*conn_put)(pacs_index *idx, pacs_db *db);
    /** On the writer thread: the writer's connection with a transaction open for a batch
     *  (PostgreSQL: connecting again when it was lost; in bulk mode, the one transaction).
     *  `lazy`: every job is an unflushed put, so a backend that defers flushes (sets
     *  defers_flush) commits it without one. */
    pacs_err (*batch_begin)(pacs_index *idx, pacs_db **out, int lazy, pacs_errinfo *ei);
    /** Commits the batch's transaction (bulk mode: only with `finish`). */
    pacs_err (*batch_commit)(pacs_index *idx, pacs_db *db, int finish, pacs_errinfo *ei);
    /** Whether a batch that failed as the writer's last failure says is to be run again
     *  (`attempt` counts from 0); NULL: never. */
    int (*batch_retry)(pacs_index *idx, int attempt);
    /** Frees the backend's part (the core's queue is stopped by then). */
    void (*close)(pacs_index *idx);
} pacs_index__backend;

/** A backend, from its dialect, its driver and its functions P_conn_get ... P_close. */
#define PACS_INDEX__BACKEND(NAME, DIALECT, DRIVER, P)                                              \
    {                                                                                              \
        .name = NAME, .dialect = DIALECT, .db = DRIVER, .conn_get = P##_conn_get,                  \
        .conn_put = P##_conn_put, .batch_begin = P##_batch_begin,                                  \
        .batch_commit = P##_batch_commit, .batch_retry = P##_batch_retry, .close = P##_close       \
    }

/** The index handle: the core's state; a backend's handle starts with it. */
struct pacs_index {
    const pacs_index__backend *be;
    const pacs_db_driver *db;
    const pacs_sql_dialect *d;
    pacs_index__queue queue; /* group commit: the writer thread runs batches */
    char node[128];          /* this process among those sharing the index (intents) */
    unsigned lease;          /* seconds a claimed forward stays claimed */
    unsigned bulk;           /* PACS_INDEX_BULK... (a backend with bulk loads sets it) */
    int defers_flush;        /* lazy batches commit without a flush (the backend sets it) */
    /* Unflushed records whose objects are durable (pacs_index_flushed), and those the writer
     * has forgotten: it deletes the difference at the start of its next batch. */
    _Atomic int64_t flushed_upto;
    int64_t cleared_upto; /* the writer's */
};

/** Sets up the core part of a new handle (zeroed by the caller) and its queue, whose writer
 *  pacs_index__opened starts. */
void pacs_index__init(pacs_index *idx, const pacs_index__backend *be, const char *node,
                      unsigned lease);
/** Stops the writer (after the queued jobs) and frees the core part; the backend's close
 *  calls it first. */
void pacs_index__fini(pacs_index *idx);
/** Ends a backend's open: with `err` PACS_OK starts the writer and sets `*out`; on any error
 *  closes the handle. Returns the error. */
pacs_err pacs_index__opened(pacs_index *idx, pacs_err err, pacs_index **out, pacs_errinfo *ei);

/* The indexes of studies in version 1 of both backends' schemas (as released: never edited). */
#define PACS_INDEX__V1_STUDY_INDEXES                                                               \
    "CREATE INDEX IF NOT EXISTS studies_patient ON studies(patient_pk);"                           \
    "CREATE INDEX IF NOT EXISTS studies_date ON studies(study_date, study_time);"                  \
    "CREATE INDEX IF NOT EXISTS studies_pid ON studies(patient_id);"                               \
    "CREATE INDEX IF NOT EXISTS studies_name ON studies(patient_name_ci);"                         \
    "CREATE INDEX IF NOT EXISTS studies_name_fold ON studies(patient_name_fold);"                  \
    "CREATE INDEX IF NOT EXISTS studies_accession ON studies(accession);"

/* The tables of orders and patients (orders.c), in both backends' schemas: `PK` is the type of
 * a new row's key, `INT` an integer's, `TEXT` a string's. The HIS's patients are not the index's
 * DICOM patients (table patients): his_patients holds the identity the HIS sends; each of its
 * identifiers (system, value) names one patient; a retired patient (ADT^A40) points at its
 * survivor (merged_into). */
#define PACS_INDEX__ORDERS_TABLES(PK, INT, TEXT)                                                   \
    "CREATE TABLE IF NOT EXISTS his_patients(pk " PK ", name " TEXT " NOT NULL DEFAULT '',"        \
    " birth_date " TEXT " NOT NULL DEFAULT '', sex " TEXT " NOT NULL DEFAULT '',"                  \
    " merged_into " INT " NOT NULL DEFAULT 0);"                                                    \
    "CREATE TABLE IF NOT EXISTS his_patient_ids(system " TEXT " NOT NULL, value " TEXT             \
    " NOT NULL,"                                                                                   \
    " patient_pk " INT " NOT NULL, PRIMARY KEY(system, value));"                                   \
    "CREATE INDEX IF NOT EXISTS his_patient_ids_patient ON his_patient_ids(patient_pk);"           \
    "CREATE TABLE IF NOT EXISTS orders(pk " PK ", patient_pk " INT " NOT NULL,"                    \
    " status " INT " NOT NULL, placer " TEXT " NOT NULL UNIQUE, filler " TEXT " NOT NULL,"         \
    " accession " TEXT " NOT NULL UNIQUE, study_uid " TEXT " NOT NULL UNIQUE,"                     \
    " requested_procedure_id " TEXT " NOT NULL, procedure_code " TEXT " NOT NULL,"                 \
    " procedure_scheme " TEXT " NOT NULL, procedure_text " TEXT " NOT NULL,"                       \
    " referring " TEXT " NOT NULL, priority " TEXT " NOT NULL, sps_id " TEXT " NOT NULL,"          \
    " station_aet " TEXT " NOT NULL, station_name " TEXT " NOT NULL, modality " TEXT " NOT NULL,"  \
    " start_date " TEXT " NOT NULL, start_time " TEXT " NOT NULL, sps_text " TEXT " NOT NULL,"     \
    " mpps_uid " TEXT " NOT NULL);"                                                                \
    "CREATE INDEX IF NOT EXISTS orders_worklist ON orders(status, start_date, start_time);"        \
    "CREATE INDEX IF NOT EXISTS orders_patient ON orders(patient_pk);"                             \
    "CREATE INDEX IF NOT EXISTS orders_sps ON orders(sps_id);"                                     \
    "CREATE TABLE IF NOT EXISTS mpps(uid " TEXT " PRIMARY KEY, order_pk " INT " NOT NULL,"         \
    " status " INT " NOT NULL, attrs " TEXT " NOT NULL);"

/* The studies reconciled to an order (orders_link.c): a study whose instances named the order
 * (by AccessionNumber or StudyInstanceUID) is indexed under the order's patient; an ADT update
 * or merge of that patient restates the studies these rows name. */
#define PACS_INDEX__ORDER_LINKS(INT, TEXT)                                                         \
    "CREATE TABLE IF NOT EXISTS his_studies(study_uid " TEXT " PRIMARY KEY,"                       \
    " order_pk " INT " NOT NULL);"                                                                 \
    "CREATE INDEX IF NOT EXISTS his_studies_order ON his_studies(order_pk);"

/* The words of each HIS patient's folded name (fold.h), so that a worklist query by name reads
 * the steps of the patients whose name has a word it begins; `words` is 0 for a patient whose
 * words are not written yet (those stored before this table), whom such a query still reads. */
#define PACS_INDEX__PATIENT_WORDS(INT, TEXT)                                                       \
    "CREATE TABLE IF NOT EXISTS his_patient_words(word " TEXT " NOT NULL,"                         \
    " patient_pk " INT " NOT NULL, PRIMARY KEY(word, patient_pk));"                                \
    "CREATE INDEX IF NOT EXISTS his_patient_words_patient ON his_patient_words(patient_pk);"       \
    "ALTER TABLE his_patients ADD COLUMN words INTEGER NOT NULL DEFAULT 0;"                        \
    "CREATE INDEX IF NOT EXISTS his_patients_words ON his_patients(words);"

/* The built-in users (users.c): a password only as its Argon2id hash (PHC string), the role,
 * and the lockout's counters: failures counted since failed_since, locked until locked_until
 * (seconds since the epoch; 0: not). */
#define PACS_INDEX__USERS(INT, TEXT)                                                               \
    "CREATE TABLE IF NOT EXISTS users(name " TEXT " PRIMARY KEY, role " TEXT " NOT NULL,"          \
    " hash " TEXT " NOT NULL, created_at " INT " NOT NULL, failures " INT " NOT NULL DEFAULT 0,"   \
    " failed_since " INT " NOT NULL DEFAULT 0, locked_until " INT " NOT NULL DEFAULT 0);"

/* What each delivered forward took: its bytes on the wire and its share of the sending time
 * (milliseconds), summed per destination by `pacs forward list`. */
#define PACS_INDEX__FWD_COUNTERS                                                                   \
    "ALTER TABLE forward_queue ADD COLUMN bytes BIGINT NOT NULL DEFAULT 0;"                        \
    "ALTER TABLE forward_queue ADD COLUMN ms BIGINT NOT NULL DEFAULT 0;"

/* Puts committed without a flush of their own until the object store's flush (index.h):
 * which objects to check after a power cut. Rows live for a moment (forgotten by the writer's
 * next batch), so the table stays a few pages. Ids are never used twice (SQLite's
 * AUTOINCREMENT, a sequence on PostgreSQL): the writer forgets "every id up to n", which must
 * not take in a record made after the table emptied. */
#define PACS_INDEX__UNFLUSHED(PK, TEXT)                                                            \
    "CREATE TABLE IF NOT EXISTS unflushed(id " PK ", object " TEXT " NOT NULL,"                    \
    " old_object " TEXT " NOT NULL DEFAULT '');"

/* The HTTP credential an instance came with, apart from source_aet (a calling AE could be spelt
 * like any credential's name). Partial index: instances from DIMSE and imports (NULL) cost it
 * nothing at ingest; a route's study_from asks it once per series of the routed study. */
#define PACS_INDEX__SOURCE_HTTP(TEXT)                                                              \
    "ALTER TABLE instances ADD COLUMN source_http " TEXT ";"                                       \
    "CREATE INDEX IF NOT EXISTS instances_source_http ON instances(series_pk, source_http)"        \
    " WHERE source_http IS NOT NULL;"

/* The series an MPPS of an order reports performed (its Performed Series Sequence): their
 * images are reconciled to the order whatever accession number they carry. */
#define PACS_INDEX__ORDER_SERIES(INT, TEXT)                                                        \
    "CREATE TABLE IF NOT EXISTS his_series(series_uid " TEXT " PRIMARY KEY,"                       \
    " order_pk " INT " NOT NULL);"                                                                 \
    "CREATE INDEX IF NOT EXISTS his_series_order ON his_series(order_pk);"

/**
 * Statement `slot` of `db`, ready for binding: the kept one, or `sql` prepared and kept on
 * its first use on this connection (NULL on an error, `ei` filled). In `sql`, {U} stands for
 * the dialect's row lock (" FOR UPDATE" or nothing), {NOW} for its UTC time stamp and {POS}
 * for its substring-position function.
 */
pacs_db_stmt *pacs_index__stmt(pacs_index *idx, pacs_db *db, int slot, const char *sql,
                               pacs_errinfo *ei);

/** What pacs_index__run read: the first row's first integer columns, whether there was a
 *  row, and the rows changed. */
typedef struct pacs_index__result {
    long long v[3];
    int found;
    uint64_t changes;
} pacs_index__result;

/**
 * Runs statement `slot` (`sql`, as pacs_index__stmt takes it) on `db` with its parameters
 * bound from `fmt`: 's' text (NULL for SQL NULL), 'i' a long long, 'n' text holding a decimal
 * integer, bound as that integer (NULL when it is none), 'b' bytes (a pointer and a size_t
 * length). Steps it to its end; `out` (may be NULL) receives the first row's first `ncols` (at
 * most 3) integers and the rows changed.
 */
pacs_err pacs_index__run(pacs_index *idx, pacs_db *db, int slot, const char *sql,
                         pacs_index__result *out, int ncols, pacs_errinfo *ei, const char *fmt,
                         ...);

/** Binds arguments as pacs_index__run does. */
void pacs_index__bind_args(pacs_index *idx, pacs_db_stmt *st, const char *fmt, va_list ap);

/** Runs statement `slot` (bound from `fmt`) on a pooled connection and calls `cb` per row of
 *  (object, size, text). */
pacs_err pacs_index__each_object(pacs_index *idx, int slot, const char *sql, pacs_object_cb cb,
                                 void *ctx, pacs_errinfo *ei, const char *fmt, ...);

/** Called per instance row that passes the keys matched in C; non-zero stops. */
typedef int (*pacs_index__inst_fn)(void *ctx, const pacs_index__row *row);

/** Runs an instance listing on `db` and calls `fn` per matching row. */
pacs_err pacs_index__each_instance(pacs_index *idx, pacs_db *db, pacs_index__inst_plan *plan,
                                   const pacs_query *q, pacs_index__inst_fn fn, void *ctx,
                                   pacs_errinfo *ei);

/** The plan of a find (pacs_index_find) on `db`: as pacs_index__find_plan_build writes it, read
 *  in date order when the matches, counted first on `db`, reach pacs_index__walk_cap. `plan`
 *  is the caller's to free, on success and failure. */
pacs_err pacs_index__find_choose(pacs_index *idx, pacs_db *db, const pacs_query *q,
                                 pacs_index__find_plan *plan, pacs_errinfo *ei);

/** Binds a compiled query's parameters. */
void pacs_index__bind_compiled(pacs_index *idx, pacs_db_stmt *st, const pacs_index__compiled *c);

/* ---- the schema ---- */

/** One step of a backend's schema: applied once, in order; never edited once released. */
typedef struct pacs_index__migration {
    int version;
    const char *what;
    const char *sql;
} pacs_index__migration;

/**
 * Brings the schema on `db` to the last of `m` (`n` steps, in order) in one transaction, which
 * `begin` opens and which keeps other processes out meanwhile (it also creates the table
 * meta(key, value) that holds schema_version). An index newer than the program is refused with
 * PACS_EUNSUPPORTED. `rerun_first`: the first step's idempotent statements run again on an
 * index at that version (how SQLite files older than the forwarding queue gain it). Each step
 * applied to an existing index is logged with `where`, and with `log_new` also on a new one.
 */
pacs_err pacs_index__migrate(pacs_index *idx, pacs_db *db, const pacs_index__migration *m, size_t n,
                             const char *begin, int rerun_first, int log_new, const char *where,
                             pacs_errinfo *ei);

/* ---- what the writer runs (index_write.c), inside the batch's transaction ---- */

/** Removes one instance row, records its object for sweeping, fixes counts and drops parents
 *  left empty. */
pacs_err pacs_index__remove_instance(pacs_index *idx, pacs_db *db, long long pk, pacs_errinfo *ei);
/** Records an unflushed put of `object` (replacing `old_object`, or ""): `*id` its number
 *  (index_unflushed.c). */
pacs_err pacs_index__unflushed_add(pacs_index *idx, pacs_db *db, const char *object,
                                   const char *old_object, int64_t *id, pacs_errinfo *ei);
/** At the start of a batch: forgets the records whose objects are durable (flushed_upto). */
void pacs_index__unflushed_forget(pacs_index *idx, pacs_db *db);

/** Indexes `e`; `texts` are its JSON's stored texts (pacs_index__texts_make), made again here
 *  when an order reconciles the instance and changes its JSON. */
pacs_err pacs_index__do_put(pacs_index *idx, pacs_db *db, const pacs_index_entry *e,
                            const pacs_index__texts *texts, pacs_put_result *res, pacs_errinfo *ei);
/** The patient's row of the index (patient_id, issuer from `f`), inserted when new, with the
 *  details of `f` and `attrs` (its stored attributes); `*pk` receives its key. */
pacs_err pacs_index__put_patient(pacs_index *idx, pacs_db *db, const pacs_index__fields *f,
                                 const char *attrs, long long *pk, pacs_errinfo *ei);
pacs_err pacs_index__do_remove(pacs_index *idx, pacs_db *db, const pacs_query *q, uint64_t *removed,
                               pacs_errinfo *ei);
pacs_err pacs_index__do_fwd(pacs_index *idx, pacs_db *db, pacs_index__job_kind kind,
                            pacs_index__fwd_args *f, pacs_errinfo *ei);
pacs_err pacs_index__do_share(pacs_index *idx, pacs_db *db, pacs_index__job_kind kind,
                              pacs_index__share_args *a, pacs_errinfo *ei);

/* ---- other records of the archive over the same driver (orders.c) ---- */

/** Work on the writer's connection, inside the batch's transaction (a savepoint of its own):
 *  a failure undoes what it wrote. It may run again whole (a batch retried after a race with
 *  another node), so it starts from its arguments, never from what an earlier run left. */
typedef pacs_err (*pacs_index__call_fn)(pacs_index *idx, pacs_db *db, void *ctx, pacs_errinfo *ei);

/** Runs `fn` as a job of the writer's queue and returns once its change is committed (or
 *  failed, undone). */
pacs_err pacs_index__write(pacs_index *idx, pacs_index__call_fn fn, void *ctx, pacs_errinfo *ei);
/** The same, committed without a flush where the backend defers flushes (index.h: durable
 *  only with the object store's next flush). */
pacs_err pacs_index__write_lazy(pacs_index *idx, pacs_index__call_fn fn, void *ctx,
                                pacs_errinfo *ei);

/** Runs `fn` on a pooled connection (reads). */
pacs_err pacs_index__read(pacs_index *idx, pacs_index__call_fn fn, void *ctx, pacs_errinfo *ei);

/* Built-in users (users.c): every user of `src` that `dst` does not know is copied into it,
 * hash, role and lockout as they are (pacs migrate, a rebuilt index: users are in no object). */
pacs_err pacs_users__copy(pacs_index *src, pacs_index *dst, pacs_errinfo *ei);

/* Several nodes (index_nodes.c): this node's intent for `object` is fulfilled or abandoned. */
pacs_err pacs_index__intent_done(pacs_index *idx, pacs_db *db, const char *object,
                                 pacs_errinfo *ei);

#endif
