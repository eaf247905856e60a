// SPDX-License-Identifier: MIT
/*
 * The archive: the one ingest path, the one query model and the one retrieve path that every
 * protocol (DIMSE, DICOMweb) and tool uses. It owns the object store and the index; nothing
 * above it touches SQL or object files directly.
 *
 * Ingest: begin, write the dataset's bytes as they arrive, finish. Finish parses once, makes the
 * object durable, commits the index rows (group commit) and only then reports success.
 *
 * Thread-safe: one archive serves all threads; each ingest belongs to one thread.
 */
#ifndef PACS_STORAGE_ARCHIVE_H
#define PACS_STORAGE_ARCHIVE_H

#include <stddef.h>
#include <stdint.h>

#include "pacs/base/buf.h"
#include "pacs/base/config.h"
#include "pacs/base/err.h"
#include "pacs/dicom/part10.h"
#include "pacs/dicom/walk.h"
#include "storage/index.h"
#include "storage/query.h"
#include "storage/space.h"

typedef struct pacs_archive pacs_archive;
typedef struct pacs_ingest pacs_ingest;

/**
 * Opens the archive in the configured data folder (objects/, tmp/, index.sqlite, pacs.lock).
 * Several processes may have one data folder open at once (pacsd and `pacs import`, say); each
 * holds DATA/pacs.lock shared. The first to open it, when no other process has it open, cleans
 * up: it removes temporary files left by an earlier run, sweeps objects whose removal was
 * recorded but not done and, when the last run ended uncleanly (a crash or kill -9), sweeps the
 * orphan objects it may have left (written but never indexed, so never acknowledged).
 * PACS_EBUSY when a process holds the folder exclusively.
 */
pacs_err pacs_archive_open(const pacs_config *cfg, pacs_archive **out, pacs_errinfo *ei);

/** With this flag, pacs_archive_open_ex() fails with PACS_EBUSY unless no other process has
 *  the data folder open, and keeps others out until the archive is closed. */
#define PACS_ARCHIVE_EXCLUSIVE 1u

/** pacs_archive_open() with flags (PACS_ARCHIVE_EXCLUSIVE). */
pacs_err pacs_archive_open_ex(const pacs_config *cfg, unsigned flags, pacs_archive **out,
                              pacs_errinfo *ei);

/** Closes; the last process to close the data folder records a clean stop. NULL is accepted. */
void pacs_archive_close(pacs_archive *a);

/** The data folder. */
const char *pacs_archive_data_dir(const pacs_archive *a);

/** The disk watermarks of the archive's folders (space.h), borrowed until it is closed. Every
 *  ingest is refused with PACS_ENOSPC while one is below storage.free_min. */
pacs_space *pacs_archive_space(pacs_archive *a);

/** The index's backend: "sqlite" or "postgresql". */
const char *pacs_archive_index_backend(const pacs_archive *a);

/**
 * Starts storing one instance. With `m` set (C-STORE: the identity is in the command), the bytes
 * written are the bare dataset in m->transfer_syntax_uid. With `m` NULL (STOW-RS, files), the
 * bytes are a whole Part 10 stream; its meta header is read and replaced by ours. `source_aet`
 * names the sender ("" when none). PACS_ENOSPC, storing nothing, while free space is below
 * storage.free_min (space.h).
 */
pacs_err pacs_archive_ingest_begin(pacs_archive *a, const pacs_meta *m, const char *source_aet,
                                   pacs_ingest **out, pacs_errinfo *ei);

/** Appends received bytes. Errors (full disk, object too large, not DICOM) are sticky: later
 *  writes fail the same way, and finish reports it. */
pacs_err pacs_ingest_write(pacs_ingest *in, const void *data, size_t len, pacs_errinfo *ei);

typedef struct pacs_ingest_result {
    pacs_meta meta;
    char study_uid[PACS_UID_MAX + 1];
    char series_uid[PACS_UID_MAX + 1];
    char object[PACS_OBJECT_KEY_LEN + 1];
    int duplicate;       /* the identical object was already stored */
    int replaced;        /* the same SOP Instance UID with other content was replaced */
    int charset_warning; /* some text was not valid in its character set and was repaired */
    char modality[17];   /* Modality (0008,0060), "" when absent (for forwarding rules) */
    char patient_id[65]; /* PatientID (0010,0020), "" when absent (for the audit trail) */
    char source_http[PACS_SOURCE_HTTP_MAX + 1]; /* pacs_ingest_set_http_source's, or "" */
} pacs_ingest_result;

/**
 * Parses, stores and indexes the instance; returns only when it is durable (or has failed,
 * leaving nothing behind). Errors: PACS_EBADDATA (malformed, or UIDs missing/invalid/disagreeing:
 * the message says which), PACS_ENOSPC (full disk), PACS_ETOOBIG, PACS_EUNSUPPORTED (unknown
 * transfer syntax), PACS_EIO/PACS_EDB. Frees `in` in every case.
 */
pacs_err pacs_ingest_finish(pacs_ingest *in, pacs_ingest_result *res, pacs_errinfo *ei);

/** Abandons an ingest (the peer went away). NULL is accepted. */
void pacs_ingest_abort(pacs_ingest *in);

/** Stores a file from disk (with or without a meta header) through the same path: its dataset,
 *  under the SOP Class and Instance UIDs the dataset states (see pacs_dcm_probe_file). */
pacs_err pacs_archive_ingest_file(pacs_archive *a, const char *path, const char *source_aet,
                                  pacs_ingest_result *res, pacs_errinfo *ei);

/** pacs_archive_ingest_file for a file its caller has probed already (`m` and `dataset_start`
 *  from pacs_dcm_probe_file): pacs import looks at each file before storing it, and a second
 *  probe per file cost as much as the first. */
pacs_err pacs_archive_ingest_probed(pacs_archive *a, const char *path, const pacs_meta *m,
                                    uint64_t dataset_start, const char *source_aet,
                                    pacs_ingest_result *res, pacs_errinfo *ei);

/** Runs a query (see pacs_index_find). */
pacs_err pacs_archive_find(pacs_archive *a, const pacs_query *q, pacs_find_cb cb, void *ctx,
                           pacs_errinfo *ei);

/** Runs a query, its results unbuilt (see pacs_index_find_rows). */
pacs_err pacs_archive_find_rows(pacs_archive *a, const pacs_query *q, pacs_find_row_cb cb,
                                void *ctx, pacs_errinfo *ei);

/** Lists instances under a query's matches (see pacs_index_instances). */
pacs_err pacs_archive_instances(pacs_archive *a, const pacs_query *q, unsigned flags,
                                pacs_instance_cb cb, void *ctx, pacs_errinfo *ei);

/** Opens a stored object for reading (O_RDONLY); PACS_ENOTFOUND when it is missing. */
pacs_err pacs_archive_open_object(pacs_archive *a, const char *object, int *fd, pacs_errinfo *ei);

/** The path of a stored object (for DCMTK, which reads files by name). */
pacs_err pacs_archive_object_path(pacs_archive *a, const char *object, char *buf, size_t cap,
                                  pacs_errinfo *ei);

/**
 * Appends an instance's stored DICOM JSON (`json`, `len`: the text a PACS_REC_METADATA record
 * holds) to `out`, with every relative BulkDataURI ("bulkdata/7FE00010") made absolute by
 * putting `instance_url` and '/' in front. The text is copied, not parsed: it was dumped
 * compact, so the characters `"BulkDataURI":"` can only be a key. PACS_ETOOBIG when `out` is
 * full.
 */
pacs_err pacs_archive_metadata_append(const char *json, size_t len, const char *instance_url,
                                      pacs_buf *out, pacs_errinfo *ei);

/** Where a bulk data value lies in a stored object (pacs_archive_bulkdata_find): offset and
 *  length in the object file, its VR ("UN" when the transfer syntax is implicit) and whether
 *  it is stored big endian. */
typedef pacs_walk_value pacs_bulk_range;

/**
 * Finds the value a BulkDataURI path names in a stored object: "00431029" (a top-level
 * attribute) or "00540016/0/00181072" (attribute, item index from 0, attribute, ...), so that
 * .../bulkdata/{path} is served with pread and no parse. The element walker (walk.h) reads
 * element headers through the object's fd, skipping values without reading them.
 * PACS_ENOTFOUND when the path names nothing; PACS_EUNSUPPORTED for a deflated dataset or a
 * value of undefined length (encapsulated pixel data, served by frames instead); PACS_EINVAL
 * for a malformed path; PACS_ECORRUPT when the object does not parse.
 */
pacs_err pacs_archive_bulkdata_find(pacs_archive *a, const char *object, const char *path,
                                    pacs_bulk_range *out, pacs_errinfo *ei);

/**
 * Records that the instance came over HTTP with the credential named `name` (the principal's
 * name: "key:NAME", "jwt:SUBJECT", "user:LOGIN"; http/auth.h), "" or NULL for none. Kept in
 * the index apart from the DIMSE calling AE (an AE title could be spelt like a name), for the
 * routes' `study_from=key:NAME` (pacs_archive_study_from).
 */
void pacs_ingest_set_http_source(pacs_ingest *in, const char *name);

/**
 * Makes pacs_ingest_finish() refuse the instance, storing nothing, unless its Study Instance
 * UID is `study_uid` (STOW-RS to /studies/{study}): it then fails with PACS_ECONFLICT.
 */
void pacs_ingest_expect_study(pacs_ingest *in, const char *study_uid);

/** Removes every instance under the query's matches and deletes their objects. */
pacs_err pacs_archive_delete(pacs_archive *a, const pacs_query *q, uint64_t *n_removed,
                             pacs_errinfo *ei);

/** Counts of what is stored. */
pacs_err pacs_archive_stats(pacs_archive *a, pacs_index_stats *out, pacs_errinfo *ei);

/** Progress of a long operation: `done` of `total` items (total 0 when unknown). */
typedef void (*pacs_progress_cb)(void *ctx, uint64_t done, uint64_t total);

typedef struct pacs_verify_report {
    uint64_t checked; /* objects rehashed */
    uint64_t corrupt; /* content no longer matches its key */
    uint64_t missing; /* indexed but absent */
    uint64_t orphans; /* present but not indexed (removed with `sweep`) */
    uint64_t swept;
} pacs_verify_report;

/** Called for every problem found: kind is "corrupt", "missing" or "orphan". */
typedef void (*pacs_problem_cb)(void *ctx, const char *kind, const char *object,
                                const char *sop_uid, const char *detail);

/**
 * Rehashes every indexed object and looks for orphans (objects no instance refers to);
 * `sweep` deletes the orphans, and needs the archive opened with PACS_ARCHIVE_EXCLUSIVE
 * (PACS_EBUSY otherwise: another process's object may be written and not yet indexed). While
 * other processes store, an object written an instant before the walk reaches it may be
 * reported as an orphan.
 */
pacs_err pacs_archive_verify(pacs_archive *a, int sweep, pacs_progress_cb progress,
                             pacs_problem_cb problem, void *ctx, pacs_verify_report *report,
                             pacs_errinfo *ei);

/**
 * Rebuilds the index of `data_dir` from its objects alone: every object is parsed and indexed
 * into a new index file that then replaces the old one. Refused with PACS_EBUSY while any
 * other process has the data folder open (a running pacsd). Objects that do not parse are
 * reported through `problem` ("unreadable") and left in place.
 */
pacs_err pacs_archive_reindex(const pacs_config *cfg, pacs_progress_cb progress,
                              pacs_problem_cb problem, void *ctx, uint64_t *indexed,
                              pacs_errinfo *ei);

/**
 * Copies this archive's index into the empty index at `location` (`pacs migrate`): every
 * instance with its stored metadata, and the pending forwards, without reading an object; in
 * one transaction, so a failure leaves the destination as it was. Open the archive with
 * PACS_ARCHIVE_EXCLUSIVE, so that nothing is stored meanwhile.
 */
pacs_err pacs_archive_copy_index(pacs_archive *a, const char *location, pacs_progress_cb progress,
                                 void *ctx, uint64_t *instances, uint64_t *forwards,
                                 pacs_errinfo *ei);

/**
 * Whether study `study_uid` holds an instance that came over HTTP with the credential `name`
 * (pacs_ingest_set_http_source): `*found` 1 or 0. One indexed lookup. Errors: PACS_EDB.
 */
pacs_err pacs_archive_study_from(pacs_archive *a, const char *study_uid, const char *name,
                                 int *found, pacs_errinfo *ei);

/** Hook called after each instance is durably stored (forwarding, audit). */
typedef void (*pacs_stored_hook)(void *ctx, const pacs_ingest_result *res, const char *source_aet);
void pacs_archive_set_stored_hook(pacs_archive *a, pacs_stored_hook hook, void *ctx);

/**
 * Storage Commitment's question (PS3.4 J): is this instance durably stored, as this SOP class,
 * and does its object still hash to its key? PACS_OK when so; otherwise PACS_ENOTFOUND (not
 * stored), PACS_ECONFLICT (stored under another SOP class), PACS_ECORRUPT (the object is
 * missing or its bytes changed) or an index/IO error, with the detail in `ei`.
 */
pacs_err pacs_archive_commit_check(pacs_archive *a, const char *sop_class, const char *sop_uid,
                                   pacs_errinfo *ei);

/**
 * An anonymous temporary file in the data folder's tmp/ (already unlinked, so it vanishes when
 * closed), open for reading and writing: room for a transcoded copy of an object that a
 * retrieval sends. The caller closes `*fd`.
 */
pacs_err pacs_archive_temp_fd(pacs_archive *a, int *fd, pacs_errinfo *ei);

/* ---- The forwarding queue (persistent, in the index; see storage/index.h) ---- */

/** Queues a stored instance for `dest` under rule `rule`; durable on return. `*added` is 0
 *  when the same object was already queued or delivered there. */
pacs_err pacs_archive_forward_enqueue(pacs_archive *a, const char *dest, const char *rule,
                                      const char *sop_uid, const char *object, int *added,
                                      pacs_errinfo *ei);

/** Pending entries due now, at most `limit`, grouped by destination. */
pacs_err pacs_archive_forward_due(pacs_archive *a, size_t limit, pacs_fwd_cb cb, void *ctx,
                                  pacs_errinfo *ei);

/** How many entries are pending (waiting for a try or a retry) and failed (given up). */
pacs_err pacs_archive_forward_depth(pacs_archive *a, uint64_t *pending, uint64_t *failed,
                                    pacs_errinfo *ei);

/** Records the outcome of tries (one transaction). */
pacs_err pacs_archive_forward_update(pacs_archive *a, const pacs_fwd_update *u, size_t n,
                                     pacs_errinfo *ei);

/**
 * For tools, while the server may be running: opens only the configured index (never the
 * object store, whose start-up clean-up would disturb a running server), lists the queue
 * entries in `state` (-1: all) or makes entries pending again (`id` 0: every failed or pending
 * one, due now; `*n` receives the count), and closes it. The server picks retried entries up
 * within a few seconds.
 */
pacs_err pacs_archive_forward_list(const pacs_config *cfg, int state, pacs_fwd_cb cb, void *ctx,
                                   pacs_errinfo *ei);
pacs_err pacs_archive_forward_retry(const pacs_config *cfg, int64_t id, uint64_t *n,
                                    pacs_errinfo *ei);

#endif
