// SPDX-License-Identifier: MIT
/*
 * The content-addressed object store on a local (or shared) filesystem. An object's key is the
 * SHA-256 of its bytes, in hex; it lives at ROOT/ab/cd/<key>. Writing goes to a temporary file
 * in the same filesystem (hashing on the way), then fsync, rename into place, fsync of the
 * directory: a crash leaves either no object or a whole one. A byte-identical object that
 * already exists is kept and the new copy dropped. Objects are never modified in place.
 *
 * Thread-safe: writers are independent; the store itself holds no mutable state.
 */
#ifndef PACS_STORAGE_OBJSTORE_H
#define PACS_STORAGE_OBJSTORE_H

#include <stddef.h>
#include <stdint.h>

#include "pacs/base/err.h"

#define PACS_KEY_HEX 64

typedef struct pacs_objstore pacs_objstore;
typedef struct pacs_objwriter pacs_objwriter;

/** Opens the store at `root`, creating it; temporary files go to `tmp_dir` (same filesystem). */
pacs_err pacs_objstore_open(const char *root, const char *tmp_dir, pacs_objstore **out,
                            pacs_errinfo *ei);
void pacs_objstore_close(pacs_objstore *os);

/** Removes leftover temporary files from an earlier run (call before accepting work). */
void pacs_objstore_clean_tmp(pacs_objstore *os);

/** Starts a new object; `max_size` bounds it (PACS_ETOOBIG past it). */
pacs_err pacs_objstore_begin(pacs_objstore *os, uint64_t max_size, pacs_objwriter **out,
                             pacs_errinfo *ei);

/** Appends bytes (hashed as they go). A full disk gives PACS_ENOSPC. */
pacs_err pacs_objwriter_write(pacs_objwriter *w, const void *data, size_t len, pacs_errinfo *ei);

/** The temporary file's path (readable while the writer is open) and size so far. */
const char *pacs_objwriter_path(const pacs_objwriter *w);
uint64_t pacs_objwriter_size(const pacs_objwriter *w);

/** Ends hashing and returns the key; no writes are accepted afterwards. */
pacs_err pacs_objwriter_key(pacs_objwriter *w, char key[PACS_KEY_HEX + 1], pacs_errinfo *ei);

/** Makes the object durable under its key and frees the writer (on success and failure). */
pacs_err pacs_objwriter_commit(pacs_objwriter *w, pacs_errinfo *ei);

/** Puts the object under its key, not yet durable, and frees the writer (on success and
 *  failure): pacs_objstore_flush makes it durable, with whatever else the caller wrote to the
 *  same file system before that call (one flush for an object and its index rows). */
pacs_err pacs_objwriter_place(pacs_objwriter *w, pacs_errinfo *ei);

/** Returns once a flush of the store's file system that started after this call has
 *  finished (concurrent callers share flushes); PACS_EIO and co. when it failed. */
pacs_err pacs_objstore_flush(pacs_objstore *os, pacs_errinfo *ei);

/** Drops the temporary file and frees the writer. NULL is accepted. */
void pacs_objwriter_abort(pacs_objwriter *w);

/** The path of object `key` into `buf`. */
pacs_err pacs_objstore_path(const pacs_objstore *os, const char *key, char *buf, size_t cap);

/** Opens object `key` for reading (O_RDONLY|O_CLOEXEC); PACS_ENOTFOUND if missing. */
pacs_err pacs_objstore_open_read(const pacs_objstore *os, const char *key, int *fd,
                                 pacs_errinfo *ei);

/** Deletes object `key` (durably); a missing object is not an error. */
pacs_err pacs_objstore_remove(pacs_objstore *os, const char *key, pacs_errinfo *ei);

/** Rehashes object `key`: PACS_ECORRUPT when its bytes no longer match, PACS_ENOTFOUND when
 *  missing. */
pacs_err pacs_objstore_verify(const pacs_objstore *os, const char *key, uint64_t *size,
                              pacs_errinfo *ei);

/** Calls `cb` for every object file under the root (key, size); non-zero stops. Files whose
 *  names are not keys are reported with key "" and their path in `path`. */
typedef int (*pacs_objstore_cb)(void *ctx, const char *key, uint64_t size, const char *path);
pacs_err pacs_objstore_foreach(const pacs_objstore *os, pacs_objstore_cb cb, void *ctx,
                               pacs_errinfo *ei);

/** True for a 64-character lowercase hex string. */
int pacs_key_valid(const char *key);

#endif
