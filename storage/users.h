// SPDX-License-Identifier: MIT
/*
 * Built-in users: the people who sign in to the viewer with a name and a password (the login
 * page, dicomweb/login.c), kept in the archive's index (its users table, SQLite or PostgreSQL)
 * so that every node sharing an index knows the same users and the same lockouts. Protocols
 * and tools call this API; none of them touches the table.
 *
 * A user has a name (1 to 64 characters of [A-Za-z0-9._@-]), a role (radiologist, technician,
 * admin; what each may do is the HTTP layer's, http/auth.h) and a password stored only as an
 * Argon2id hash (libargon2, PHC encoded string "$argon2id$v=19$m=...,t=...,p=...$salt$hash",
 * with a 16-byte salt from getrandom(2)); the parameters travel in the string, so raising them
 * later leaves older hashes verifiable.
 *
 * Lockout: pacs_users_login counts a user's failed logins within a window; the failure that
 * reaches the limit locks the user until a time, during which even the right password is
 * refused. The counters are in the same row, so the lock holds on every node and across
 * restarts; a successful login, and a new password, clear them.
 *
 * Load: a login costs one Argon2id verification (about 20 MiB of memory and tens of ms of one
 * core, by design), one read and one write of the index; user changes are rare.
 * Thread-safe: any thread may call any function; writes are serialised by the index's writer.
 */
#ifndef PACS_STORAGE_USERS_H
#define PACS_STORAGE_USERS_H

#include <stddef.h>
#include <stdint.h>

#include "pacs/base/err.h"
#include "storage/archive.h"

/** Longest user name, without the NUL. */
#define PACS_USER_NAME_MAX 64
/** Longest password accepted (bytes); the shortest is PACS_PASSWORD_MIN. */
#define PACS_PASSWORD_MAX 1024
#define PACS_PASSWORD_MIN 8
/** Room for an encoded hash and its NUL. */
#define PACS_PASSWORD_HASH_CAP 128

typedef enum pacs_role {
    PACS_ROLE_NONE = 0,
    PACS_ROLE_RADIOLOGIST,
    PACS_ROLE_TECHNICIAN,
    PACS_ROLE_ADMIN
} pacs_role;

/** "radiologist", "technician", "admin"; "" for another value. */
const char *pacs_role_name(pacs_role r);

/** The role named `s`; PACS_ROLE_NONE when it names none. */
pacs_role pacs_role_parse(const char *s);

/** True when `name` is a valid user name. */
int pacs_user_name_valid(const char *name);

/**
 * Hashes `password` (PACS_PASSWORD_MIN to PACS_PASSWORD_MAX bytes) with Argon2id and a fresh
 * random salt into `out` (at least PACS_PASSWORD_HASH_CAP bytes), the PHC encoded string.
 * Errors: PACS_EINVAL (length, buffer), PACS_EIO (no random bytes), PACS_ENOMEM.
 */
pacs_err pacs_password_hash(const char *password, char *out, size_t cap, pacs_errinfo *ei);

/** True when `password` matches the encoded hash `encoded` (any Argon2 variant's string);
 *  false for a mismatch or a malformed string. Constant time in the password. */
int pacs_password_verify(const char *encoded, const char *password);

/** One user as pacs_users_list reports it; strings borrowed for the callback. */
typedef struct pacs_user_info {
    const char *name;
    pacs_role role;
    int64_t created_at;   /* seconds since the epoch */
    int64_t locked_until; /* 0, or until when logins are refused */
    unsigned failures;    /* failed logins counted in the current window */
} pacs_user_info;

typedef int (*pacs_user_cb)(void *ctx, const pacs_user_info *u);

/** Adds a user, durably. Errors: PACS_EINVAL (name, role, password), PACS_EEXIST, the
 *  index's. */
pacs_err pacs_users_add(pacs_archive *a, const char *name, pacs_role role, const char *password,
                        pacs_errinfo *ei);

/** Sets a user's password (and clears a lockout), durably. PACS_ENOTFOUND for no such user. */
pacs_err pacs_users_passwd(pacs_archive *a, const char *name, const char *password,
                           pacs_errinfo *ei);

/** Gives a user another role, durably: a running pacsd applies it to the user's sessions at
 *  their next look at the user (auth.session_recheck). PACS_EINVAL for no role, PACS_ENOTFOUND
 *  for no such user. */
pacs_err pacs_users_set_role(pacs_archive *a, const char *name, pacs_role role, pacs_errinfo *ei);

/** Removes a user, durably. PACS_ENOTFOUND for no such user. */
pacs_err pacs_users_remove(pacs_archive *a, const char *name, pacs_errinfo *ei);

/** The role of user `name` into `*role`, and into `*stamp` (may be NULL) a number that changes
 *  when its password does (from the hash's SHA-256: a session begun before a new password can
 *  tell, http/session.h). PACS_ENOTFOUND for no such user (or an invalid name); other errors
 *  are the index's. */
pacs_err pacs_users_role(pacs_archive *a, const char *name, pacs_role *role, uint64_t *stamp,
                         pacs_errinfo *ei);

/** Calls `cb` per user, by name; non-zero from `cb` stops (still PACS_OK). */
pacs_err pacs_users_list(pacs_archive *a, pacs_user_cb cb, void *ctx, pacs_errinfo *ei);

/** The lockout rule of pacs_users_login. */
typedef struct pacs_login_policy {
    unsigned max_failures; /* failures within `window` seconds that lock the user */
    unsigned window;       /* seconds */
    unsigned lock;         /* seconds the user stays locked */
} pacs_login_policy;

typedef enum pacs_login_outcome {
    PACS_LOGIN_OK = 0,
    PACS_LOGIN_UNKNOWN,    /* no such user (a hash was still verified, for the same time) */
    PACS_LOGIN_BAD,        /* wrong password, counted */
    PACS_LOGIN_LOCKED_NOW, /* wrong password, the one that locked the user */
    PACS_LOGIN_LOCKED      /* the user is locked: refused whatever the password */
} pacs_login_outcome;

/**
 * Checks a login at time `now` under `policy`: writes the outcome to `*outcome` and, for
 * PACS_LOGIN_OK, the user's role to `*role` and its password's stamp (as pacs_users_role
 * gives it) to `*stamp` (may be NULL); counts a failure (and locks the user) as the
 * policy says, durably, before returning. Every outcome returns PACS_OK; errors are the
 * index's (the login then cannot be checked: answer 503).
 */
pacs_err pacs_users_login(pacs_archive *a, const char *name, const char *password,
                          const pacs_login_policy *policy, int64_t now, pacs_login_outcome *outcome,
                          pacs_role *role, uint64_t *stamp, pacs_errinfo *ei);

#endif
