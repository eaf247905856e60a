// SPDX-License-Identifier: MIT
/*
 * The index: patients, studies, series and instances with their matching keys, computed counts,
 * stored DICOM JSON metadata and where each instance's object and frames are; the forwarding
 * queue; share links' records. This header is the one interface the archive uses; the backend
 * (SQLite, PostgreSQL) is chosen by the location string. Only the archive (and tools through
 * it, and the share store) calls it: protocols go through storage/archive.h. The logic is
 * written once over a thin SQL driver (index_core.h), and both backends compile queries with
 * the same compiler (index_sql.h), so they give the same answers.
 *
 * Thread-safe: all functions may be called from any thread. Writes (put, delete) are queued to
 * one writer that commits them in shared transactions (group commit); each call returns once
 * its own change is durable.
 */
#ifndef PACS_STORAGE_INDEX_H
#define PACS_STORAGE_INDEX_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "pacs/base/buf.h"
#include "pacs/base/err.h"
#include "storage/query.h"

#define PACS_OBJECT_KEY_LEN 64   /* hex SHA-256 */
#define PACS_SOURCE_HTTP_MAX 129 /* an HTTP credential's name (http/auth.h's principal) */

typedef struct pacs_index pacs_index;

/** What ingest hands to the index for one instance. All pointers are borrowed for the call. */
typedef struct pacs_index_entry {
    const json_t *json; /* the instance's DICOM JSON (UTF-8); columns are taken from it */
    const char *study_uid, *series_uid, *sop_uid, *sop_class_uid, *ts_uid;
    char object[PACS_OBJECT_KEY_LEN + 1];
    uint64_t object_size;
    const uint8_t *pixel_layout; /* pacs_pixel_layout_encode() output, or NULL */
    size_t pixel_layout_len;
    uint32_t n_frames;
    const char *source_aet;  /* calling AE, or "" for STOW/import */
    const char *source_http; /* the HTTP credential's name (STOW-RS, reports), or NULL */
    const char *received;    /* when it was first stored, "YYYYMMDDHHMMSS" UTC; NULL: now */
    /* Reconciliation with the HIS's orders (storage/orders_link.c): the systems of
     * patient.id_order, in order. With n_id_systems 0 the instance is indexed as `json` says
     * (a copy of an index, whose metadata is reconciled already); otherwise an instance whose
     * AccessionNumber or StudyInstanceUID names an order is indexed under the order's patient
     * and its metadata reconciled to it (orders_item.h, pacs_orders__reconcile_json). */
    const char (*id_systems)[17];
    size_t n_id_systems;
    /* One flush per instance (see "Puts the object store's flush makes durable" below): the
     * put is committed without its own flush and recorded as unflushed. */
    int unflushed;
} pacs_index_entry;

typedef struct pacs_put_result {
    int existed;                              /* the SOP Instance UID was already indexed */
    int replaced;                             /* ... with a different object, now swept */
    char old_object[PACS_OBJECT_KEY_LEN + 1]; /* set when replaced */
    int reconciled;                           /* an order named it: indexed under its patient */
    int study_linked;                         /* ... and its study was linked to the order now */
    int order_started;                        /* ... and that order went IN PROGRESS with it */
    char order_placer[65];                    /* the order's placer number, when reconciled */
    char patient_id[65];                      /* the PatientID it is indexed under then */
    int64_t unflushed_id; /* with entry->unflushed: the record's number (pacs_index_flushed) */
} pacs_put_result;

/** One instance, as retrieval needs it. Pointers are valid during the callback only. */
typedef struct pacs_instance_rec {
    char study_uid[65], series_uid[65], sop_uid[65], sop_class[65], ts[65];
    char object[PACS_OBJECT_KEY_LEN + 1];
    uint64_t size;
    uint32_t frames;
    const uint8_t *pixel_layout;
    size_t pixel_layout_len;
    const char *metadata; /* the stored DICOM JSON text, with PACS_REC_METADATA only */
    size_t metadata_len;
    const char *source_aet, *received; /* with PACS_REC_ORIGIN only */
    const char *source_http;           /* with PACS_REC_ORIGIN only; NULL when none */
} pacs_instance_rec;

#define PACS_REC_METADATA 1u
#define PACS_REC_ORIGIN 2u

/** Called once per result; return non-zero to stop early (not an error). */
typedef int (*pacs_find_cb)(void *ctx, const json_t *result);

/** A find's result as the index reads it (pacs_index_find_rows): valid during the callback. */
typedef struct pacs_find_row pacs_find_row;

/** Called once per result; return non-zero to stop early (not an error). */
typedef int (*pacs_find_row_cb)(void *ctx, pacs_find_row *row);
typedef int (*pacs_instance_cb)(void *ctx, const pacs_instance_rec *rec);
typedef int (*pacs_object_cb)(void *ctx, const char *object, uint64_t size, const char *sop_uid);

typedef struct pacs_index_stats {
    uint64_t patients, studies, series, instances, object_bytes;
} pacs_index_stats;

/* ---- The forwarding queue: one row per (SOP Instance UID, destination AE) ---- */

typedef enum pacs_fwd_state {
    PACS_FWD_PENDING = 0, /* waiting for its first try or a retry */
    PACS_FWD_DONE,        /* the destination confirmed it */
    PACS_FWD_FAILED       /* given up; `pacs forward retry` queues it again */
} pacs_fwd_state;

/** Text form of a state ("pending", "done", "failed"). */
const char *pacs_fwd_state_name(pacs_fwd_state s);

/** One queue entry. With due entries, sop_class/ts/object describe the instance as stored now
 *  (empty when it is no longer stored). */
typedef struct pacs_fwd_entry {
    int64_t id;
    char dest[17];
    char rule[65];
    char sop_uid[65];
    char sop_class[65];
    char ts[65];
    char object[PACS_OBJECT_KEY_LEN + 1];
    pacs_fwd_state state;
    uint32_t attempts;
    int64_t next_try; /* Unix seconds */
    int64_t updated;  /* Unix seconds */
    char error[256];
    uint64_t bytes; /* done: the bytes it took on the wire */
    uint64_t ms;    /* done: its share of the sending time, in milliseconds */
} pacs_fwd_entry;

/** Called once per entry; return non-zero to stop early. */
typedef int (*pacs_fwd_cb)(void *ctx, const pacs_fwd_entry *e);

/** The outcome of one try, written back with pacs_index_fwd_update. */
typedef struct pacs_fwd_update {
    int64_t id;
    pacs_fwd_state state;
    uint32_t attempts;
    int64_t next_try;
    const char *error;  /* NULL or "" clears it */
    uint64_t bytes, ms; /* with PACS_FWD_DONE: what the send took (pacs_fwd_entry) */
} pacs_fwd_update;

/* ---- Share links' records (storage/share.h makes and checks the tokens) ---- */

#define PACS_INDEX_SHARE_HASH_LEN 32 /* SHA-256 of the token */

/** One share as the index keeps it. Strings are borrowed for the call (or the callback). */
typedef struct pacs_index_share {
    const char *id; /* the share's public id */
    const unsigned char *token_sha256;
    size_t token_sha256_len; /* PACS_INDEX_SHARE_HASH_LEN when written by share.c */
    const char *study_uid;
    const char *creator; /* "" when none */
    int64_t created_at, expires_at;
    int revoked;
    int64_t revoked_at; /* 0 when not revoked */
} pacs_index_share;

/** Called once per share; return non-zero to stop early. */
typedef int (*pacs_share_cb)(void *ctx, const pacs_index_share *s);

/** Deletes an object; called by pacs_index_object_release while no one can take it up. */
typedef pacs_err (*pacs_release_cb)(void *ctx, const char *object, pacs_errinfo *ei);

/**
 * Opens (creating if needed) the index at `location`: a file path or "sqlite:PATH" for SQLite,
 * a libpq connection URI "postgresql://[user@]host[:port]/database[?...]" (or "postgres://")
 * for PostgreSQL. The schema's versioned migrations run here, each once, in order (several
 * processes opening one PostgreSQL index at once are serialised); an index newer than this
 * program is refused with PACS_EUNSUPPORTED.
 */
pacs_err pacs_index_open(const char *location, pacs_index **out, pacs_errinfo *ei);

/** How an index is opened; zero or NULL fields take the defaults. */
typedef struct pacs_index_options {
    unsigned pool;          /* reader connections kept open (PostgreSQL; default 8) */
    const char *node;       /* this process's name among those sharing the index (intents) */
    unsigned bulk;          /* PACS_INDEX_BULK... flags (PostgreSQL; SQLite ignores them) */
    unsigned claim_seconds; /* lease of claimed forwarding entries (shared index; default 300) */
} pacs_index_options;

/** One transaction from open to pacs_index_finish: all or nothing, and invisible to other
 *  connections until then (loading, migrating, reindexing). */
#define PACS_INDEX_BULK 1u
/** With PACS_INDEX_BULK: first empty the index (all but the forwarding queue) in the same
 *  transaction, so that readers see the old index until the new one is committed. */
#define PACS_INDEX_BULK_EMPTY 2u

pacs_err pacs_index_open_opts(const char *location, const pacs_index_options *o, pacs_index **out,
                              pacs_errinfo *ei);

/** "sqlite" or "postgresql". */
const char *pacs_index_backend(const pacs_index *idx);

/** Commits what a bulk index did (then close it); closing without it rolls everything back.
 *  A no-op for an index not in bulk mode. */
pacs_err pacs_index_finish(pacs_index *idx, pacs_errinfo *ei);

/** Finishes queued writes and closes. NULL is accepted. */
void pacs_index_close(pacs_index *idx);

/**
 * Indexes one instance (inserting its patient, study and series as needed and updating the
 * computed counts), or replaces the entry for the same SOP Instance UID. When a replaced entry
 * pointed to another object, that object is recorded for sweeping in the same transaction.
 * Returns once the change is durable.
 */
pacs_err pacs_index_put(pacs_index *idx, const pacs_index_entry *e, pacs_put_result *res,
                        pacs_errinfo *ei);

/* ---- Puts the object store's flush makes durable ----
 * With the index in a file on the objects' file system (SQLite), one flush can make both an
 * object and its index rows durable: ingest renames the object into place, puts it with
 * `unflushed` set (committed without a flush of its own, with a record of the object in the
 * same commit), flushes the file system (which carries the index's log too) and only then
 * reports success. A power cut before that flush can leave rows whose object never reached
 * the disk; the records say which rows to check at the next start. */

/** Whether puts with `unflushed` are committed without a flush of their own (SQLite); on
 *  another backend they are durable on return as any put, and recorded all the same. */
int pacs_index_defers_flush(const pacs_index *idx);

/** Tells the writer that the objects of records up to `upto` are durable: it forgets those
 *  records with a later commit (no flush of its own). Thread-safe, cheap. */
void pacs_index_flushed(pacs_index *idx, int64_t upto);

/** Called once per unflushed record, oldest first: `old_object` is the object the put
 *  replaced ("" if none), which is swept only after the flush. Non-zero stops. */
typedef int (*pacs_unflushed_cb)(void *ctx, int64_t id, const char *object, const char *old_object);
pacs_err pacs_index_unflushed(pacs_index *idx, pacs_unflushed_cb cb, void *ctx, pacs_errinfo *ei);

/** Removes every instance stored as `object` (counts, parents and sweep records as
 *  pacs_index_remove); `*n` how many. Committed as an unflushed put is (its flush may be what
 *  failed), with a new unflushed record of `object` (and `old`, the version its put replaced,
 *  or NULL), so that a power cut before the next flush leaves it to be checked again. */
pacs_err pacs_index_drop_object(pacs_index *idx, const char *object, const char *old, uint64_t *n,
                                pacs_errinfo *ei);

/** Forgets the unflushed records up to `upto`, durably. */
pacs_err pacs_index_unflushed_clear(pacs_index *idx, int64_t upto, pacs_errinfo *ei);

/**
 * Runs a query and calls `cb` with one DICOM JSON object per match, holding the query's return
 * keys (those without a value are present and empty) plus the unique keys of the level and the
 * levels above. Results are ordered (studies newest first, series and instances by number).
 */
pacs_err pacs_index_find(pacs_index *idx, const pacs_query *q, pacs_find_cb cb, void *ctx,
                         pacs_errinfo *ei);

/** pacs_index_find with each result handed over unbuilt, to be read with pacs_find_row_uid,
 *  taken as JSON (pacs_find_row_json) or written as text (pacs_find_row_write). */
pacs_err pacs_index_find_rows(pacs_index *idx, const pacs_query *q, pacs_find_row_cb cb, void *ctx,
                              pacs_errinfo *ei);

/** The result's unique key of `level` (one the find returns: its level's or one above), or NULL
 *  when it has none. Borrowed for the callback. */
const char *pacs_find_row_uid(pacs_find_row *row, pacs_level level);

/** The result as pacs_index_find gives it (a new object: the caller decrefs); NULL when out
 *  of memory. */
json_t *pacs_find_row_json(pacs_find_row *row);

/** An attribute pacs_find_row_write puts into a result: one text value of valid UTF-8 (one
 *  that is not is left out). */
typedef struct pacs_find_add {
    uint32_t tag;
    const char *vr;
    const char *value;
} pacs_find_add;

/** pacs_find_row_write: drop the result's Specific Character Set (0008,0005) and put in
 *  "ISO_IR 192" when the written object holds non-ASCII text (DICOM JSON is UTF-8; PS3.18 F.2). */
#define PACS_FIND_UTF8_CHARSET 1u

/**
 * Appends the result to `out` as one DICOM JSON object, with the `n_add` attributes of `add`
 * (sorted by tag) put in, each in place of the result's own: byte for byte what
 * json_dumps(PACS_JSON_DUMP_FLAGS | JSON_SORT_KEYS) writes of pacs_find_row_json's object with
 * them set, without building it. PACS_ETOOBIG past `out`'s cap, PACS_ENOMEM; on failure `out`
 * holds part of the object.
 */
pacs_err pacs_find_row_write(pacs_find_row *row, const pacs_find_add *add, size_t n_add,
                             unsigned flags, pacs_buf *out);

/** Calls `cb` for every instance under the query's matches (at any level), ordered by series
 *  and instance number. */
pacs_err pacs_index_instances(pacs_index *idx, const pacs_query *q, unsigned flags,
                              pacs_instance_cb cb, void *ctx, pacs_errinfo *ei);

/** Removes every instance under the query's matches, and records their objects for sweeping.
 *  Durable on return. */
pacs_err pacs_index_remove(pacs_index *idx, const pacs_query *q, uint64_t *n_removed,
                           pacs_errinfo *ei);

/** Every object the index refers to. */
pacs_err pacs_index_objects(pacs_index *idx, pacs_object_cb cb, void *ctx, pacs_errinfo *ei);

/** Objects recorded for sweeping and not yet confirmed gone (`size` and `sop_uid` are 0/""). */
pacs_err pacs_index_sweep_pending(pacs_index *idx, pacs_object_cb cb, void *ctx, pacs_errinfo *ei);

/** Forgets a sweep record once its object is deleted (or found referenced again). */
pacs_err pacs_index_sweep_done(pacs_index *idx, const char *object, pacs_errinfo *ei);

/** Whether study `study_uid` has an instance whose source_http is `name` (`*found` 1 or 0). */
pacs_err pacs_index_study_from(pacs_index *idx, const char *study_uid, const char *name, int *found,
                               pacs_errinfo *ei);

/** Whether any instance refers to `object`. */
pacs_err pacs_index_object_referenced(pacs_index *idx, const char *object, int *referenced,
                                      pacs_errinfo *ei);

pacs_err pacs_index_stats_get(pacs_index *idx, pacs_index_stats *out, pacs_errinfo *ei);

/**
 * Queues `sop_uid` (stored as `object`) for sending to `dest`, due at `now`, durably. Nothing is
 * added (`*added` = 0) when the same object is already pending or was already delivered to
 * `dest`; a changed object, or an entry that had failed, is queued afresh.
 */
pacs_err pacs_index_fwd_enqueue(pacs_index *idx, const char *dest, const char *rule,
                                const char *sop_uid, const char *object, int64_t now, int *added,
                                pacs_errinfo *ei);

/** Pending entries due at `now` (next_try <= now), at most `limit`, ordered by destination and
 *  age. On a shared index the entries are claimed for the caller: no other process gets them
 *  until pacs_index_fwd_update writes their outcome or the claim runs out (claim_seconds). */
pacs_err pacs_index_fwd_due(pacs_index *idx, int64_t now, size_t limit, pacs_fwd_cb cb, void *ctx,
                            pacs_errinfo *ei);

/** Writes the outcomes of `n` tries in one transaction; durable on return. */
pacs_err pacs_index_fwd_update(pacs_index *idx, const pacs_fwd_update *u, size_t n,
                               pacs_errinfo *ei);

/** Every entry in `state` (-1: all states), oldest first. */
pacs_err pacs_index_fwd_list(pacs_index *idx, int state, pacs_fwd_cb cb, void *ctx,
                             pacs_errinfo *ei);

/** Makes entry `id` (0: every failed or pending entry) pending and due at `now`, with its
 *  attempt count reset; `*n` receives how many changed. */
pacs_err pacs_index_fwd_retry(pacs_index *idx, int64_t id, int64_t now, uint64_t *n,
                              pacs_errinfo *ei);

/* ---- Share links ----
 * The records behind share tokens (storage/share.h): in the index, so that every node sharing
 * it accepts and revokes the same links. The token itself is never stored, only its hash. */

/** Records a new share (revoked and revoked_at as given), durably. PACS_EEXIST when a share
 *  with its id exists already. */
pacs_err pacs_index_share_add(pacs_index *idx, const pacs_index_share *s, pacs_errinfo *ei);

/** Records `n` shares made elsewhere (an older store, another index) in one transaction,
 *  durably; a share whose id is already known is left as it is. `*added` (may be NULL)
 *  receives how many were new. */
pacs_err pacs_index_share_import(pacs_index *idx, const pacs_index_share *s, size_t n,
                                 uint64_t *added, pacs_errinfo *ei);

/** Calls `cb` once with share `id` when there is one; `*found` (may be NULL) says whether
 *  there was. */
pacs_err pacs_index_share_get(pacs_index *idx, const char *id, pacs_share_cb cb, void *ctx,
                              int *found, pacs_errinfo *ei);

/**
 * Marks shares revoked at `now`, durably: share `id` when it is not NULL (one already revoked
 * keeps its time, and counts); else every share of `study_uid` not yet revoked when that is
 * not NULL; else every share not yet revoked. `*n` (may be NULL) receives how many.
 */
pacs_err pacs_index_share_revoke(pacs_index *idx, const char *id, const char *study_uid,
                                 int64_t now, uint64_t *n, pacs_errinfo *ei);

/** Every share (only those of `study_uid` when it is not NULL), newest first. */
pacs_err pacs_index_share_list(pacs_index *idx, const char *study_uid, pacs_share_cb cb, void *ctx,
                               pacs_errinfo *ei);

/** Copies every share of `src` into `dst` (pacs_index_share_import); `*n` (may be NULL)
 *  receives how many were new there. */
pacs_err pacs_index_share_copy(pacs_index *src, pacs_index *dst, uint64_t *n, pacs_errinfo *ei);

/* ---- Several processes (nodes) on one index ----
 * A shared index (PostgreSQL) can be used by pacsd processes on several machines that share
 * one object store. An object one node is about to refer to must not be deleted by another
 * node's sweep: before committing an object, a node records an intent for it; its put of the
 * instance removes the intent in the same transaction; pacs_index_object_release deletes an
 * object only while holding the object's lock, when neither an instance nor an intent refers
 * to it. */

/** True when several processes may use this index at once (intents are kept). */
int pacs_index_shared(const pacs_index *idx);

/** Records that this node is about to refer to `object` (a no-op when not shared). Cheap: not
 *  flushed to disk (a database crash fails the ingest that needed it anyway). */
pacs_err pacs_index_intent_add(pacs_index *idx, const char *object, pacs_errinfo *ei);

/** Drops one intent of this node for `object` (the ingest failed before its put). */
pacs_err pacs_index_intent_clear(pacs_index *idx, const char *object, pacs_errinfo *ei);

/** Forgets the intents of `node` (NULL: every node) recorded before `older_than` (Unix
 *  seconds; 0: any time) and calls `cb` once per object they named (`sop_uid` receives the
 *  node's name), so the caller can release them: after a crash of that node, or when a node
 *  has been gone longer than any ingest takes. */
pacs_err pacs_index_intents_drop(pacs_index *idx, const char *node, int64_t older_than,
                                 pacs_object_cb cb, void *ctx, pacs_errinfo *ei);

/**
 * Deletes `object` with `rm` if nothing refers to it (no instance, and on a shared index no
 * intent), excluding every other process from taking it up meanwhile, and forgets its sweep
 * record. `*removed` tells whether `rm` ran and succeeded; an error of `rm` is returned.
 */
pacs_err pacs_index_object_release(pacs_index *idx, const char *object, pacs_release_cb rm,
                                   void *ctx, int *removed, pacs_errinfo *ei);

/**
 * Copies every instance of `src` (its stored DICOM JSON, pixel layout, object key and origin)
 * into `dst`, which must hold none, the pending forwards, the share links' records and the
 * HIS's patients, orders and MPPS instances (storage/orders.h); objects are not read. Open `dst`
 * with PACS_INDEX_BULK for all or nothing. `progress` (may be NULL) is called per instance.
 */
pacs_err pacs_index_copy(pacs_index *src, pacs_index *dst,
                         void (*progress)(void *ctx, uint64_t done, uint64_t total), void *ctx,
                         uint64_t *instances, uint64_t *forwards, pacs_errinfo *ei);

/* ---- Compression at rest (storage/compress.h; index_compress.c) ---- */

/** An instance with pixel data that compression at rest may re-encode. */
typedef struct pacs_index_candidate {
    int64_t pk; /* its row: candidates come in this order */
    char study_uid[65], series_uid[65], sop_uid[65], ts[65];
    char modality[17]; /* its series' Modality */
    char object[PACS_OBJECT_KEY_LEN + 1];
    uint64_t size;
    char received[15]; /* "YYYYMMDDHHMMSS" UTC */
} pacs_index_candidate;

/** Called once per candidate; return non-zero to stop early. */
typedef int (*pacs_candidate_cb)(void *ctx, const pacs_index_candidate *c);

/** The instances with pixel data whose row comes after `after_pk`, in row order, at most
 *  `limit`. Read on a pooled connection; `cb` must not call the index. */
pacs_err pacs_index_candidates(pacs_index *idx, int64_t after_pk, size_t limit,
                               pacs_candidate_cb cb, void *ctx, pacs_errinfo *ei);

/** An instance's object replaced by a re-encoded one of the same pixels. */
typedef struct pacs_index_swap {
    const char *sop_uid;
    const char *old_object; /* the object it must still have */
    const char *new_object; /* stored and durable already */
    const char *ts_uid;     /* the new object's transfer syntax */
    uint64_t size;
    const uint8_t *pixel_layout; /* the new object's (pacs_pixel_layout_encode) */
    size_t pixel_layout_len;
    const json_t *set; /* top-level attributes of the stored metadata to replace (or NULL) */
} pacs_index_swap;

/**
 * Points the instance `s->sop_uid` at `s->new_object` in one transaction: transfer syntax,
 * size, pixel layout, and the attributes of `s->set` in its stored metadata (nothing else
 * changes), with the old object recorded for sweeping and this node's intent for the new one
 * fulfilled. Only when it still refers to `s->old_object`: `*swapped` is 0 (and nothing is
 * written) when it was replaced or deleted meanwhile. Durable on return.
 */
pacs_err pacs_index_swap_object(pacs_index *idx, const pacs_index_swap *s, int *swapped,
                                pacs_errinfo *ei);

/* Backends. */
pacs_err pacs_index_sqlite_open(const char *path, pacs_index **out, pacs_errinfo *ei);
#ifdef PACS_HAVE_POSTGRESQL
pacs_err pacs_index_pg_open(const char *conninfo, const pacs_index_options *o, pacs_index **out,
                            pacs_errinfo *ei);
#endif

#endif
