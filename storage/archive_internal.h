// SPDX-License-Identifier: MIT
/*
 * Shared between the files of the archive only (storage/archive*.c); callers use archive.h.
 * The archive's state and the few functions one of its files uses from another:
 *   archive.c           opening, start-up recovery, closing; removing objects safely
 *   archive_lock.c      who has the data folder open (DATA/pacs.lock)
 *   archive_ingest.c    the one ingest path
 *   archive_retrieve.c  what protocols read: queries, objects, bulk data, metadata, commitment
 *   archive_verify.c    verify, orphan sweeps, reindex, index copy
 *   archive_forward.c   the forwarding queue
 */
#ifndef PACS_STORAGE_ARCHIVE_INTERNAL_H
#define PACS_STORAGE_ARCHIVE_INTERNAL_H

#include <pthread.h>
#include <stdint.h>

#include "pacs/dicom/dcm.h"
#include "storage/archive.h"
#include "storage/objstore.h"

struct pacs_archive {
    char *data_dir;
    pacs_objstore *store;
    pacs_index *index;
    pacs_space *space; /* disk watermarks, checked before every ingest */
    uint64_t max_object;
    pthread_mutex_t inflight_mu;
    char (*inflight)[PACS_OBJECT_KEY_LEN + 1];
    size_t n_inflight, cap_inflight;
    pacs_stored_hook hook;
    void *hook_ctx;
    int lock_fd;            /* DATA/pacs.lock, flock()ed shared (or exclusive) while open */
    int exclusive;          /* opened with PACS_ARCHIVE_EXCLUSIVE */
    char node[128];         /* this node's name (intents, its temporary folder) */
    int shared_store;       /* the object folder is storage.objects, which other nodes may use */
    int64_t sweep_grace;    /* seconds before a shared folder's unreferenced object is an orphan */
    char id_systems[4][17]; /* patient.id_order (orders.c) */
    size_t n_id_systems;
    int one_flush; /* ingest's object and index rows made durable by one flush */
};

/* ---- archive.c ---- */

/** The configured index location: `index`, or DATA/index.sqlite. */
void pacs_archive__index_location(const pacs_config *cfg, char *buf, size_t cap);

/** This node's name: node.name, or the host name with a hash of the data folder's real path. */
void pacs_archive__node_name(const pacs_config *cfg, char *buf, size_t cap);

/** The object folder and this node's temporary folder (`cap` bytes each). */
void pacs_archive__store_dirs(const pacs_config *cfg, const char *node, char *objects, char *tmp,
                              size_t cap);

/** Marks `key` as being ingested here, so that no sweep removes it meanwhile; and unmarks it. */
void pacs_archive__inflight_add(pacs_archive *a, const char *key);
void pacs_archive__inflight_remove(pacs_archive *a, const char *key);

/** Deletes the object `key` unless something refers to it or is about to (the in-flight set,
 *  every node's intents); returns whether it was deleted. Failures are logged. */
int pacs_archive__sweep_object(pacs_archive *a, const char *key);

/* ---- archive_lock.c: DATA/pacs.lock ---- */

/** Locks the data folder itself (open and close are serialised by it); -1 with errno set. */
int pacs_archive__lock_dir(const char *data);
void pacs_archive__unlock_dir(int fd);

/**
 * Takes DATA/pacs.lock into `*lock_fd`: exclusively when `exclusive` (PACS_EBUSY unless nobody
 * else holds it), shared otherwise (PACS_EBUSY while another process holds it exclusively).
 * `*sole`: nobody else holds it; `*unclean`: and the last run ended uncleanly. Call with the
 * folder locked.
 */
pacs_err pacs_archive__lock_use(const char *data, int exclusive, int *lock_fd, int *sole,
                                int *unclean, pacs_errinfo *ei);

/** Records in the lock file whether the archive is open or was closed cleanly (fsynced). */
void pacs_archive__mark_open(int fd, int open_now);

/* ---- archive_ingest.c ---- */

/**
 * Parses the object at `path` (stored under `key`, `size` bytes) and builds its index entry
 * `e`, which borrows from `parsed` and `*layout`: clear `parsed` with pacs_dcm_parsed_clear()
 * and free `*layout` after use. Errors as pacs_dcm_parse_file().
 */
pacs_err pacs_archive__parse_for_index(const char *path, const char *key, uint64_t size,
                                       const char *source, pacs_dcm_parsed *parsed,
                                       pacs_index_entry *e, uint8_t **layout, pacs_errinfo *ei);

/* ---- archive_unflushed.c ---- */

/** Whether one flush of the object store makes the index durable too: an index that defers
 *  flushes (SQLite) in a file on the objects' file system. */
int pacs_archive__one_flush_possible(pacs_archive *a, const char *index_path, const char *objects);

/** The flush after the put of `object` failed, or a power cut may have lost it: drops the
 *  instance rows stored as `object`, indexes again `old` (the version that put replaced, or
 *  ""), and sweeps `object`. Logs what it did. */
void pacs_archive__unflushed_undo(pacs_archive *a, const char *object, const char *old);

/** At start-up (no other process using the archive): checks the objects of the puts still
 *  recorded as unflushed and undoes those that are missing or do not hash to their key. */
void pacs_archive__recover_unflushed(pacs_archive *a);

/* ---- archive_verify.c ---- */

/** After an unclean stop of this node on a shared index: releases the objects its intents
 *  still name. Logs what it did. */
void pacs_archive__recover_intents(pacs_archive *a);

/** Walks the store for objects the index does not know, reporting each; `sweep` deletes them. */
pacs_err pacs_archive__sweep_orphans(pacs_archive *a, int sweep, pacs_problem_cb problem, void *ctx,
                                     pacs_verify_report *r, pacs_errinfo *ei);

#endif
