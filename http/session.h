// SPDX-License-Identifier: MIT
/*
 * Login sessions: what a browser holds after a built-in user signs in (dicomweb/login.c), as
 * the PACS_SESSION_COOKIE cookie, and what every later request of that browser is
 * authenticated by (auth.h). Wherever a login comes from (the login page today, an OpenID
 * Connect sign-in later), the session is the credential: a name for the trail and the scopes
 * of the user's role.
 *
 * A session id is 32 random bytes (256 bits, OpenSSL's RAND_bytes) sent as 43 base64url
 * characters; the store keeps only its SHA-256, so the table (in a core dump, say) gives no
 * usable cookie. A session ends at its idle expiry (no request for `idle` seconds), its
 * absolute expiry (`max_age` seconds after the login, whatever the activity), or its logout.
 *
 * The store is in the memory of the pacsd process: a restart, or another node behind a load
 * balancer, does not know the session, and the user signs in again. That is the price of a
 * credential checked on every request (a viewer makes hundreds) without an index round trip,
 * and it errs on the safe side: a stolen cookie dies with the process. Users, passwords and
 * lockouts are durable in the index (storage/users.h).
 *
 * A session's user is looked up again in the index every `recheck` seconds (the caller's, on
 * `due`), so that a user removed with `pacs user remove`, or given a new password with `pacs
 * user passwd`, on any node, loses its sessions within that time, and one given another role
 * gets its scopes.
 *
 * Load: a hash and a bucket walk under one mutex per request. Thread-safe: every function.
 */
#ifndef PACS_HTTP_SESSION_H
#define PACS_HTTP_SESSION_H

#include <stddef.h>
#include <stdint.h>

#include "pacs/base/err.h"

/** The session cookie's name. */
#define PACS_SESSION_COOKIE "pacs_session"
/** A session id's length, without the NUL (base64url of 32 bytes). */
#define PACS_SESSION_ID_LEN 43
/** Room for a session's user name and its NUL. */
#define PACS_SESSION_USER_CAP 65

typedef struct pacs_sessions pacs_sessions;

/**
 * A store whose sessions live at most `max_age` seconds, and `idle` seconds without a request
 * (both at least 1), holding at most `cap` at once; a session's user is due to be looked up
 * again (pacs_sessions_check's `*due`) `recheck` seconds after the last look (0: on every
 * request). Errors: PACS_EINVAL, PACS_ENOMEM.
 */
pacs_err pacs_sessions_new(unsigned idle, unsigned max_age, unsigned recheck, size_t cap,
                           pacs_sessions **out, pacs_errinfo *ei);

/** Frees the store (and forgets every session); NULL is accepted. */
void pacs_sessions_free(pacs_sessions *s);

/**
 * Begins a session of `user` (at most PACS_SESSION_USER_CAP - 1 bytes) with `scopes` at `now`
 * (seconds), `stamp` being the user's password as the login found it (pacs_users_role): writes its
 * id (PACS_SESSION_ID_LEN characters and a NUL) to `id_out` (`cap` bytes). Expired sessions are
 * dropped first; a full store refuses with PACS_EBUSY. Errors: PACS_EINVAL (user, buffer), PACS_EIO
 * (no random bytes), PACS_ENOMEM, PACS_EBUSY.
 */
pacs_err pacs_sessions_begin(pacs_sessions *s, const char *user, unsigned scopes, uint64_t stamp,
                             int64_t now, char *id_out, size_t cap, pacs_errinfo *ei);

/**
 * Checks session `id` (any string) at `now`: 1 when it is live, its last use then set to `now`
 * and its user and scopes written (either may be NULL; `user` needs PACS_SESSION_USER_CAP),
 * and `*due` (may be NULL) set when its user is to be looked up again (pacs_sessions_restate);
 * 0 when it is unknown, expired (and then dropped) or malformed.
 */
int pacs_sessions_check(pacs_sessions *s, const char *id, int64_t now, char *user, unsigned *scopes,
                        int *due);

/** After a look at session `id`'s user at `now`: its scopes are now `scopes`, or the session
 *  ends, when `scopes` is 0 (the user is gone) or `stamp` is not the login's (the password
 *  was changed since). Returns 1 when the session lives on. */
int pacs_sessions_restate(pacs_sessions *s, const char *id, int64_t now, unsigned scopes,
                          uint64_t stamp);

/** Ends session `id`: 1 when it was live (its user written to `user`, may be NULL), else 0. */
int pacs_sessions_end(pacs_sessions *s, const char *id, int64_t now, char *user);

/** Ends every session of `user` (a removed user, a new password); returns how many. */
size_t pacs_sessions_end_user(pacs_sessions *s, const char *user);

/** Sessions held now (for tests and metrics). */
size_t pacs_sessions_count(pacs_sessions *s);

#endif
