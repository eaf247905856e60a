// SPDX-License-Identifier: MIT
/*
 * Share links: signed, expiring, revocable tokens that grant read-only access to one study (the
 * film-replacement link or QR code a patient takes home, or a link a referring doctor opens).
 *
 * A token is 40 URL-safe characters (base64url without padding, alphabet [A-Za-z0-9_-]) of 30
 * bytes: a version byte, a 9-byte random id, the expiry (unsigned 32-bit seconds since the
 * epoch, big-endian) and the first 16 bytes of an HMAC-SHA-256 over those fields and the
 * study UID, under a 32-byte key kept in DATA/share.key (made at first open, mode 0600).
 * The study UID is not in the token: the store maps the id to it, and the MAC binds the two,
 * so a token cannot be moved to another study even by someone who can write the store. A share
 * may also grant something other than one study (a patient's studies, storage/share_scope.h):
 * its subject, a string of printable ASCII starting with "patient:", then takes the study
 * UID's place, in the store and under the MAC alike; only pacs_shares_check_subject returns
 * such a share, and the study functions refuse it.
 * Rotating the key makes every earlier token fail the MAC check (and marks every share
 * revoked, so that a process still holding the old key refuses them too).
 *
 * The records live in the index (storage/index.h, its shares table; SQLite or PostgreSQL),
 * which keeps per share: the id, the SHA-256 of the token (never the token), the study UID,
 * created and expiry times, the creator, and the revoked flag and time. A token can be shown
 * only once, when it is created. The records of a data folder's older DATA/shares.db (the
 * store's own SQLite file before) are imported into the index at the first open, and the
 * file is renamed DATA/shares.db.imported, so that the links made before keep working.
 *
 * Several nodes on one PostgreSQL index: every node sees every share and every revocation; a
 * node accepts the tokens signed with the key in its own data folder, so nodes that are to
 * accept each other's links are given the same DATA/share.key (copy it, mode 0600, before
 * they start, and again after `pacs share --rotate-key`).
 *
 * Load: one check per authenticated HTTP request carrying a share token (one primary-key
 * lookup in the index and one HMAC); creation, revocation and listing are rare.
 *
 * Thread-safe: one handle may be used from any number of threads (a mutex guards its key; the
 * index is thread-safe). Several processes may open the same data folder and index at once
 * (pacsd and the `pacs share` tool): the index orders them, and a process notices a key
 * rotated by another.
 */
#ifndef PACS_STORAGE_SHARE_H
#define PACS_STORAGE_SHARE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "pacs/base/err.h"

/** Length of a token, without the terminating NUL; buffers need PACS_SHARE_TOKEN_LEN + 1. */
#define PACS_SHARE_TOKEN_LEN 40
/** Length of a share id (base64url of the 9 random bytes), without the NUL. */
#define PACS_SHARE_ID_LEN 12
/** Room for a study UID and its NUL. */
#define PACS_SHARE_UID_CAP 65
/** Longest share subject (pacs_shares_create_subject), without the NUL. */
#define PACS_SHARE_SUBJECT_MAX 4096

typedef struct pacs_shares pacs_shares;

/** One share as pacs_shares_list reports it; every string is borrowed for the callback only. */
typedef struct pacs_share_info {
    const char *id; /* PACS_SHARE_ID_LEN characters */
    const char *study_uid;
    const char *creator; /* as given to pacs_shares_create; "" when none was given */
    int64_t created_at;  /* seconds since the epoch (UTC) */
    int64_t expires_at;
    int64_t revoked_at; /* 0 when not revoked */
    int revoked;        /* 1 when revoked (by id, by token, or by a key rotation) */
} pacs_share_info;

/** Called once per share; return non-zero to stop the listing (pacs_shares_list then succeeds). */
typedef int (*pacs_share_list_cb)(void *ctx, const pacs_share_info *info);

/**
 * Opens the share store of the data folder `data_dir` (which must exist) with its records in
 * the index at `index_location` (as pacs_index_open takes it; NULL or "": the data folder's
 * own SQLite index, DATA/index.sqlite, the archive's default): DATA/share.key is created when
 * missing (from the system's random source, mode 0600, written durably), and DATA/shares.db,
 * when there is one, is imported into the index and renamed. The handle opens the index for
 * itself. Errors: PACS_EIO (key or folder unreadable, a key file of the wrong size or mode
 * readable by others), PACS_EDB (index or old store), PACS_ENOMEM, and the index's own.
 */
pacs_err pacs_shares_open_at(const char *data_dir, const char *index_location, pacs_shares **out,
                             pacs_errinfo *ei);

/** pacs_shares_open_at with the data folder's own SQLite index. */
pacs_err pacs_shares_open(const char *data_dir, pacs_shares **out, pacs_errinfo *ei);

/** Closes the store; NULL is accepted. */
void pacs_shares_close(pacs_shares *s);

/**
 * Creates a share of study `study_uid` (a syntactically valid UID of at most 64 characters; its
 * existence in the archive is the caller's to check) that expires at `expires_at` (seconds since
 * the epoch, later than now and before 2106). `creator` (may be NULL) names who made it (a user,
 * an API key name, a token subject) for the list and the audit trail; at most 128 bytes.
 * Writes the token (PACS_SHARE_TOKEN_LEN characters and a NUL) to `token_out` and the share's
 * id to `id_out` (PACS_SHARE_ID_LEN and a NUL); either may be NULL. The share is durable when
 * this returns PACS_OK. Errors: PACS_EINVAL (bad UID, expiry, creator or too small a buffer),
 * PACS_EDB (or another of the index's errors), PACS_EIO.
 */
pacs_err pacs_shares_create(pacs_shares *s, const char *study_uid, int64_t expires_at,
                            const char *creator, char *token_out, size_t token_cap, char *id_out,
                            size_t id_cap, pacs_errinfo *ei);

/**
 * pacs_shares_create for any subject: a study UID, or "patient:..." (printable ASCII, at most
 * PACS_SHARE_SUBJECT_MAX bytes) as storage/share_scope.h writes it. Errors: as
 * pacs_shares_create.
 */
pacs_err pacs_shares_create_subject(pacs_shares *s, const char *subject, int64_t expires_at,
                                    const char *creator, char *token_out, size_t token_cap,
                                    char *id_out, size_t id_cap, pacs_errinfo *ei);

/**
 * Checks `token` (any string; at most a few hundred bytes are looked at). On PACS_OK the token is
 * well-formed, correctly signed under the current key, known to the store, not revoked and not
 * expired; then the study UID is written to `study_uid_out` (PACS_SHARE_UID_CAP bytes) and the
 * expiry to `*expires_at` (either may be NULL). Every refusal (malformed, bad signature, unknown,
 * revoked, expired) returns the same PACS_EDENIED with the same message, after the same work
 * (the MAC is computed and compared in constant time whether or not the id is known), so that
 * the answer tells an attacker nothing about which it was. A share whose subject is not a study
 * is refused the same way. Other errors: PACS_EDB, PACS_EIO (the store could not be read: the
 * caller should answer 500/503, not 401).
 */
pacs_err pacs_shares_check(pacs_shares *s, const char *token, char *study_uid_out,
                           int64_t *expires_at, pacs_errinfo *ei);

/**
 * pacs_shares_check that also writes the share's id (PACS_SHARE_ID_LEN characters and a NUL)
 * to `id_out` on PACS_OK (may be NULL), for logs and the audit trail.
 */
pacs_err pacs_shares_check_id(pacs_shares *s, const char *token, char *study_uid_out,
                              int64_t *expires_at, char id_out[PACS_SHARE_ID_LEN + 1],
                              pacs_errinfo *ei);

/**
 * pacs_shares_check_id for a share of any subject: on PACS_OK the subject (a study UID, or a
 * "patient:" subject) is written to `subject_out` (`subject_cap` bytes; PACS_EINVAL when it does
 * not fit: PACS_SHARE_SUBJECT_MAX + 1 always does).
 */
pacs_err pacs_shares_check_subject(pacs_shares *s, const char *token, char *subject_out,
                                   size_t subject_cap, int64_t *expires_at,
                                   char id_out[PACS_SHARE_ID_LEN + 1], pacs_errinfo *ei);

/**
 * Revokes one share, named by its id (PACS_SHARE_ID_LEN characters) or by its whole token
 * (which must also verify under the current key). Durable on return. Revoking a share already
 * revoked succeeds. Errors: PACS_ENOTFOUND (no such share, or a token that does not verify),
 * PACS_EDB.
 */
pacs_err pacs_shares_revoke(pacs_shares *s, const char *id_or_token, pacs_errinfo *ei);

/**
 * Revokes every share of study `study_uid` that is not already revoked; `*n` (may be NULL)
 * receives how many were. Durable on return. Errors: PACS_EINVAL, PACS_EDB.
 */
pacs_err pacs_shares_revoke_study(pacs_shares *s, const char *study_uid, unsigned *n,
                                  pacs_errinfo *ei);

/**
 * Calls `cb` for every share, newest first (info.study_uid is the subject), or only for those
 * of `study_uid` when it is not NULL; revoked and expired shares are included (the caller compares
 * expires_at with now). The callbacks run with the handle's lock held: do not call other
 * pacs_shares_* functions on the same handle from `cb`. Errors: PACS_EDB.
 */
pacs_err pacs_shares_list(pacs_shares *s, const char *study_uid, pacs_share_list_cb cb, void *ctx,
                          pacs_errinfo *ei);

/**
 * Replaces the signing key with a new random one (written to a temporary file, fsync, rename)
 * and marks every share revoked: every token made before stops working, in this process and in
 * any other that has the store open. Errors: PACS_EIO, PACS_EDB.
 */
pacs_err pacs_shares_rotate_key(pacs_shares *s, pacs_errinfo *ei);

#endif
