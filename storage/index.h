// SPDX-License-Identifier: MIT
/*
 * The index: patients, studies, series and instances with their matching keys, computed counts,
 * stored DICOM JSON metadata and where each instance's object and frames are. This header is
 * the one interface the archive uses; a backend (SQLite now, PostgreSQL later) implements
 * pacs_index_ops and is chosen by the location string. Only the archive calls it: protocols go
 * through storage/archive.h.
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

#include "pacs/base/err.h"
#include "storage/query.h"

#define PACS_OBJECT_KEY_LEN 64 /* hex SHA-256 */

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
    const char *source_aet; /* calling AE, or "" for STOW/import */
} pacs_index_entry;

typedef struct pacs_put_result {
    int existed;                              /* the SOP Instance UID was already indexed */
    int replaced;                             /* ... with a different object, now swept */
    char old_object[PACS_OBJECT_KEY_LEN + 1]; /* set when replaced */
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
} pacs_instance_rec;

#define PACS_REC_METADATA 1u

/** Called once per result; return non-zero to stop early (not an error). */
typedef int (*pacs_find_cb)(void *ctx, const json_t *result);
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
} pacs_fwd_entry;

/** Called once per entry; return non-zero to stop early. */
typedef int (*pacs_fwd_cb)(void *ctx, const pacs_fwd_entry *e);

/** The outcome of one try, written back with pacs_index_fwd_update. */
typedef struct pacs_fwd_update {
    int64_t id;
    pacs_fwd_state state;
    uint32_t attempts;
    int64_t next_try;
    const char *error; /* NULL or "" clears it */
} pacs_fwd_update;

/** A backend's functions; see the pacs_index_* wrappers below for each contract. */
typedef struct pacs_index_ops {
    const char *name;
    void (*close)(pacs_index *idx);
    pacs_err (*put)(pacs_index *idx, const pacs_index_entry *e, pacs_put_result *res,
                    pacs_errinfo *ei);
    pacs_err (*find)(pacs_index *idx, const pacs_query *q, pacs_find_cb cb, void *ctx,
                     pacs_errinfo *ei);
    pacs_err (*instances)(pacs_index *idx, const pacs_query *q, unsigned flags,
                          pacs_instance_cb cb, void *ctx, pacs_errinfo *ei);
    pacs_err (*remove)(pacs_index *idx, const pacs_query *q, uint64_t *n_removed,
                       pacs_errinfo *ei);
    pacs_err (*objects)(pacs_index *idx, pacs_object_cb cb, void *ctx, pacs_errinfo *ei);
    pacs_err (*sweep_pending)(pacs_index *idx, pacs_object_cb cb, void *ctx, pacs_errinfo *ei);
    pacs_err (*sweep_done)(pacs_index *idx, const char *object, pacs_errinfo *ei);
    pacs_err (*object_referenced)(pacs_index *idx, const char *object, int *referenced,
                                  pacs_errinfo *ei);
    pacs_err (*stats)(pacs_index *idx, pacs_index_stats *out, pacs_errinfo *ei);
    pacs_err (*fwd_enqueue)(pacs_index *idx, const char *dest, const char *rule,
                            const char *sop_uid, const char *object, int64_t now, int *added,
                            pacs_errinfo *ei);
    pacs_err (*fwd_due)(pacs_index *idx, int64_t now, size_t limit, pacs_fwd_cb cb, void *ctx,
                        pacs_errinfo *ei);
    pacs_err (*fwd_update)(pacs_index *idx, const pacs_fwd_update *u, size_t n, pacs_errinfo *ei);
    pacs_err (*fwd_list)(pacs_index *idx, int state, pacs_fwd_cb cb, void *ctx, pacs_errinfo *ei);
    pacs_err (*fwd_retry)(pacs_index *idx, int64_t id, int64_t now, uint64_t *n, pacs_errinfo *ei);
} pacs_index_ops;

/** Every backend's handle starts with this. */
struct pacs_index {
    const pacs_index_ops *ops;
};

/**
 * Opens (creating if needed) the index at `location`: a file path or "sqlite:PATH" for SQLite.
 * Schema creation and upgrades run here.
 */
pacs_err pacs_index_open(const char *location, pacs_index **out, pacs_errinfo *ei);

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

/**
 * Runs a query and calls `cb` with one DICOM JSON object per match, holding the query's return
 * keys (those without a value are present and empty) plus the unique keys of the level and the
 * levels above. Results are ordered (studies newest first, series and instances by number).
 */
pacs_err pacs_index_find(pacs_index *idx, const pacs_query *q, pacs_find_cb cb, void *ctx,
                         pacs_errinfo *ei);

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
pacs_err pacs_index_sweep_pending(pacs_index *idx, pacs_object_cb cb, void *ctx,
                                  pacs_errinfo *ei);

/** Forgets a sweep record once its object is deleted (or found referenced again). */
pacs_err pacs_index_sweep_done(pacs_index *idx, const char *object, pacs_errinfo *ei);

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
 *  age. */
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

/* Backends. */
pacs_err pacs_index_sqlite_open(const char *path, pacs_index **out, pacs_errinfo *ei);

#endif
