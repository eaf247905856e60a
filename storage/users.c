// SPDX-License-Identifier: MIT
/*
 * Built-in users (users.h), written once over the index core's SQL driver (index_core.h), so
 * that SQLite and PostgreSQL keep the same table (PACS_INDEX__USERS in both backends'
 * migrations). Passwords are hashed with Debian's libargon2 (Argon2id); the salt comes from
 * getrandom(2). Changes run as jobs of the index's writer and return once committed; a login's
 * hash is verified outside any transaction, so a slow hash never holds up the writer.
 *
 * Load: a login is one read, one Argon2id verification and one write. Thread-safe as the index
 * is; the hash verified for unknown names is made once (pthread_once).
 */
#include "storage/users.h"

#include <argon2.h>
#include <errno.h>
#include <pthread.h>
#include <openssl/crypto.h>
#include <openssl/sha.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include "storage/archive_internal.h"
#include "storage/index_core.h"

/* OWASP's Argon2id baseline (2023): 19 MiB, 2 passes, 1 lane; 16-byte salt, 32-byte hash. */
#define ARGON_M_KIB 19456u
#define ARGON_T 2u
#define ARGON_P 1u
#define SALT_LEN 16
#define HASH_LEN 32

static const char *const role_names[] = {"", "radiologist", "technician", "admin"};

const char *pacs_role_name(pacs_role r)
{
    return (unsigned)r < sizeof role_names / sizeof role_names[0] ? role_names[r] : "";
}

pacs_role pacs_role_parse(const char *s)
{
    for (size_t i = 1; s && i < sizeof role_names / sizeof role_names[0]; i++) {
        if (strcmp(s, role_names[i]) == 0) {
            return (pacs_role)i;
        }
    }
    return PACS_ROLE_NONE;
}

int pacs_user_name_valid(const char *name)
{
    size_t n = name ? strlen(name) : 0;
    return n > 0 && n <= PACS_USER_NAME_MAX &&
           strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._@-") == n;
}

static pacs_err check_password(const char *pw, pacs_errinfo *ei)
{
    size_t n = pw ? strlen(pw) : 0;
    if (n < PACS_PASSWORD_MIN || n > PACS_PASSWORD_MAX) {
        return pacs_errf(ei, PACS_EINVAL, "a password has %d to %d bytes", PACS_PASSWORD_MIN,
                         PACS_PASSWORD_MAX);
    }
    return PACS_OK;
}

pacs_err pacs_password_hash(const char *password, char *out, size_t cap, pacs_errinfo *ei)
{
    unsigned char salt[SALT_LEN];
    pacs_err err = check_password(password, ei);
    if (err != PACS_OK) {
        return err;
    }
    if (cap < PACS_PASSWORD_HASH_CAP ||
        argon2_encodedlen(ARGON_T, ARGON_M_KIB, ARGON_P, SALT_LEN, HASH_LEN, Argon2_id) > cap) {
        return pacs_errf(ei, PACS_EINVAL, "password hash buffer too small");
    }
    if (getrandom(salt, sizeof salt, 0) != (ssize_t)sizeof salt) {
        return pacs_errf(ei, PACS_EIO, "getrandom: %s", strerror(errno));
    }
    int rc = argon2id_hash_encoded(ARGON_T, ARGON_M_KIB, ARGON_P, password, strlen(password), salt,
                                   sizeof salt, HASH_LEN, out, cap);
    if (rc != ARGON2_OK) {
        return pacs_errf(ei, rc == ARGON2_MEMORY_ALLOCATION_ERROR ? PACS_ENOMEM : PACS_EINVAL,
                         "argon2id: %s", argon2_error_message(rc));
    }
    return PACS_OK;
}

int pacs_password_verify(const char *encoded, const char *password)
{
    if (!encoded || !password || strlen(password) > PACS_PASSWORD_MAX) {
        return 0;
    }
    argon2_type type = strncmp(encoded, "$argon2id$", 10) == 0 ? Argon2_id
                       : strncmp(encoded, "$argon2i$", 9) == 0 ? Argon2_i
                       : strncmp(encoded, "$argon2d$", 9) == 0 ? Argon2_d
                                                               : (argon2_type)-1;
    if ((int)type < 0) {
        return 0;
    }
    return argon2_verify(encoded, password, strlen(password), type) == ARGON2_OK;
}

/* ---- the table ---- */

/* A user's row as a login reads it. */
typedef struct user_row {
    int found;
    char hash[PACS_PASSWORD_HASH_CAP];
    pacs_role role;
    unsigned failures;
    int64_t failed_since, locked_until;
} user_row;

typedef struct user_job {
    const char *name;
    pacs_role role;
    const char *hash;
    user_row row;
    int64_t now;
    const pacs_login_policy *policy;
    int failed; /* for the login's write: the password did not match */
    pacs_login_outcome outcome;
    pacs_user_cb cb;
    void *ctx;
} user_job;

static pacs_err step_err(pacs_errinfo *ei)
{
    return ei->code != PACS_OK ? ei->code : PACS_EDB;
}

static pacs_err read_row(pacs_index *idx, pacs_db *db, const char *name, user_row *row,
                         pacs_errinfo *ei)
{
    memset(row, 0, sizeof *row);
    pacs_db_stmt *st = pacs_index__stmt(idx, db, PACS_SQL_USER_GET,
                                        "SELECT hash, role, failures, failed_since, locked_until"
                                        " FROM users WHERE name=$1{U}",
                                        ei);
    if (!st) {
        return ei->code;
    }
    idx->db->bind_text(st, 1, name);
    int rc = idx->db->step(st, ei);
    if (rc == 1) {
        size_t len = 0;
        const char *h = idx->db->column(st, 0, &len);
        row->found = 1;
        snprintf(row->hash, sizeof row->hash, "%.*s", (int)len, h ? h : "");
        row->role = pacs_role_parse(idx->db->column(st, 1, &len));
        row->failures = (unsigned)idx->db->column_int(st, 2);
        row->failed_since = idx->db->column_int(st, 3);
        row->locked_until = idx->db->column_int(st, 4);
    }
    idx->db->done(st);
    return rc < 0 ? step_err(ei) : PACS_OK;
}

static pacs_err do_add(pacs_index *idx, pacs_db *db, void *ctx, pacs_errinfo *ei)
{
    user_job *j = ctx;
    pacs_err err = read_row(idx, db, j->name, &j->row, ei);
    if (err == PACS_OK && j->row.found) {
        return pacs_errf(ei, PACS_EEXIST, "user %s already exists", j->name);
    }
    if (err != PACS_OK) {
        return err;
    }
    return pacs_index__run(
        idx, db, PACS_SQL_USER_ADD,
        "INSERT INTO users(name, role, hash, created_at) VALUES ($1, $2, $3, $4)", NULL, 0, ei,
        "sssi", j->name, pacs_role_name(j->role), j->hash, (long long)time(NULL));
}

/* A write to the row of user `name`: PACS_ENOTFOUND when it changed none. */
static pacs_err one_user(pacs_err err, const pacs_index__result *r, const char *name,
                         pacs_errinfo *ei)
{
    if (err == PACS_OK && r->changes == 0) {
        return pacs_errf(ei, PACS_ENOTFOUND, "no user %s", name);
    }
    return err;
}

static pacs_err do_passwd(pacs_index *idx, pacs_db *db, void *ctx, pacs_errinfo *ei)
{
    user_job *j = ctx;
    pacs_index__result r;
    pacs_err err = pacs_index__run(idx, db, PACS_SQL_USER_HASH_SET,
                                   "UPDATE users SET hash=$2, failures=0, failed_since=0,"
                                   " locked_until=0 WHERE name=$1",
                                   &r, 0, ei, "ss", j->name, j->hash);
    return one_user(err, &r, j->name, ei);
}

static pacs_err do_set_role(pacs_index *idx, pacs_db *db, void *ctx, pacs_errinfo *ei)
{
    user_job *j = ctx;
    pacs_index__result r;
    pacs_err err =
        pacs_index__run(idx, db, PACS_SQL_USER_ROLE_SET, "UPDATE users SET role=$2 WHERE name=$1",
                        &r, 0, ei, "ss", j->name, pacs_role_name(j->role));
    return one_user(err, &r, j->name, ei);
}

static pacs_err do_remove(pacs_index *idx, pacs_db *db, void *ctx, pacs_errinfo *ei)
{
    user_job *j = ctx;
    pacs_index__result r;
    pacs_err err = pacs_index__run(idx, db, PACS_SQL_USER_DEL, "DELETE FROM users WHERE name=$1",
                                   &r, 0, ei, "s", j->name);
    return one_user(err, &r, j->name, ei);
}

static pacs_err do_list(pacs_index *idx, pacs_db *db, void *ctx, pacs_errinfo *ei)
{
    user_job *j = ctx;
    pacs_db_stmt *st = pacs_index__stmt(idx, db, PACS_SQL_USER_LIST,
                                        "SELECT name, role, created_at, locked_until, failures"
                                        " FROM users ORDER BY name",
                                        ei);
    if (!st) {
        return ei->code;
    }
    int rc;
    while ((rc = idx->db->step(st, ei)) == 1) {
        pacs_user_info u;
        size_t len = 0;
        const char *name = idx->db->column(st, 0, &len);
        u.name = name ? name : "";
        u.role = pacs_role_parse(idx->db->column(st, 1, &len));
        u.created_at = idx->db->column_int(st, 2);
        u.locked_until = idx->db->column_int(st, 3);
        u.failures = (unsigned)idx->db->column_int(st, 4);
        if (j->cb(j->ctx, &u)) {
            rc = 0;
            break;
        }
    }
    idx->db->done(st);
    return rc < 0 ? step_err(ei) : PACS_OK;
}

static pacs_err do_read(pacs_index *idx, pacs_db *db, void *ctx, pacs_errinfo *ei)
{
    user_job *j = ctx;
    return read_row(idx, db, j->name, &j->row, ei);
}

/* The login's write, from the row as it is now (another node may have counted meanwhile). */
static pacs_err do_count(pacs_index *idx, pacs_db *db, void *ctx, pacs_errinfo *ei)
{
    user_job *j = ctx;
    user_row row;
    j->outcome = PACS_LOGIN_UNKNOWN; /* removed meanwhile */
    pacs_err err = read_row(idx, db, j->name, &row, ei);
    if (err != PACS_OK || !row.found) {
        return err;
    }
    const pacs_login_policy *p = j->policy;
    unsigned failures = 0;
    int64_t since = 0, locked = row.locked_until > j->now ? row.locked_until : 0;
    j->outcome = j->failed ? PACS_LOGIN_BAD : PACS_LOGIN_OK;
    if (locked) {
        j->outcome = PACS_LOGIN_LOCKED; /* locked by another attempt meanwhile */
        return PACS_OK;
    }
    if (j->failed) {
        int fresh = row.failures == 0 || row.failed_since + (int64_t)p->window <= j->now;
        failures = fresh ? 1 : row.failures + 1;
        since = fresh ? j->now : row.failed_since;
        if (p->max_failures > 0 && failures >= p->max_failures) {
            locked = j->now + (int64_t)p->lock;
            failures = 0;
            since = 0;
            j->outcome = PACS_LOGIN_LOCKED_NOW;
        }
    } else if (row.failures == 0 && row.locked_until == 0) {
        return PACS_OK; /* nothing to clear: no write */
    }
    return pacs_index__run(idx, db, PACS_SQL_USER_COUNT_SET,
                           "UPDATE users SET failures=$2, failed_since=$3, locked_until=$4"
                           " WHERE name=$1",
                           NULL, 0, ei, "siii", j->name, (long long)failures, (long long)since,
                           (long long)locked);
}

/* A write that changes nothing anyone reads, through the writer like a counted failure. */
static pacs_err do_touch(pacs_index *idx, pacs_db *db, void *ctx, pacs_errinfo *ei)
{
    (void)ctx;
    return pacs_index__run(idx, db, PACS_SQL_USER_TOUCH,
                           "UPDATE meta SET value=value WHERE key='schema_version'", NULL, 0, ei,
                           "");
}

/* ---- copying (pacs migrate, reindex) ---- */

typedef struct copy_row {
    char name[PACS_USER_NAME_MAX + 1], role[16], hash[PACS_PASSWORD_HASH_CAP];
    long long created_at, failures, failed_since, locked_until;
} copy_row;

typedef struct copy_job {
    copy_row *rows;
    size_t n, cap;
} copy_job;

static pacs_err do_copy_read(pacs_index *idx, pacs_db *db, void *ctx, pacs_errinfo *ei)
{
    copy_job *c = ctx;
    pacs_db_stmt *st = pacs_index__stmt(idx, db, PACS_SQL_USER_COPY_READ,
                                        "SELECT name, role, hash, created_at, failures,"
                                        " failed_since, locked_until FROM users ORDER BY name",
                                        ei);
    if (!st) {
        return ei->code;
    }
    int rc;
    pacs_err err = PACS_OK;
    while ((rc = idx->db->step(st, ei)) == 1) {
        if (c->n == c->cap) {
            size_t cap = c->cap ? 2 * c->cap : 16;
            copy_row *g = realloc(c->rows, cap * sizeof *g);
            if (!g) {
                err = pacs_errf(ei, PACS_ENOMEM, "out of memory");
                break;
            }
            c->rows = g;
            c->cap = cap;
        }
        copy_row *r = &c->rows[c->n++];
        size_t len = 0;
        const char *v = idx->db->column(st, 0, &len);
        snprintf(r->name, sizeof r->name, "%.*s", (int)len, v ? v : "");
        v = idx->db->column(st, 1, &len);
        snprintf(r->role, sizeof r->role, "%.*s", (int)len, v ? v : "");
        v = idx->db->column(st, 2, &len);
        snprintf(r->hash, sizeof r->hash, "%.*s", (int)len, v ? v : "");
        r->created_at = idx->db->column_int(st, 3);
        r->failures = idx->db->column_int(st, 4);
        r->failed_since = idx->db->column_int(st, 5);
        r->locked_until = idx->db->column_int(st, 6);
    }
    idx->db->done(st);
    if (err == PACS_OK && rc < 0) {
        err = step_err(ei);
    }
    return err;
}

static pacs_err do_copy_write(pacs_index *idx, pacs_db *db, void *ctx, pacs_errinfo *ei)
{
    copy_job *c = ctx;
    for (size_t i = 0; i < c->n; i++) {
        const copy_row *r = &c->rows[i];
        user_row have;
        pacs_err err = read_row(idx, db, r->name, &have, ei);
        if (err == PACS_OK && !have.found) {
            err =
                pacs_index__run(idx, db, PACS_SQL_USER_COPY_ADD,
                                "INSERT INTO users(name, role, hash, created_at, failures,"
                                " failed_since, locked_until) VALUES ($1, $2, $3, $4, $5, $6, $7)",
                                NULL, 0, ei, "sssiiii", r->name, r->role, r->hash, r->created_at,
                                r->failures, r->failed_since, r->locked_until);
        }
        if (err != PACS_OK) {
            return err;
        }
    }
    return PACS_OK;
}

pacs_err pacs_users__copy(pacs_index *src, pacs_index *dst, pacs_errinfo *ei)
{
    copy_job c;
    memset(&c, 0, sizeof c);
    pacs_err err = pacs_index__read(src, do_copy_read, &c, ei);
    if (err == PACS_OK && c.n > 0) {
        err = pacs_index__write(dst, do_copy_write, &c, ei);
    }
    if (c.rows) {
        OPENSSL_cleanse(c.rows, c.cap * sizeof *c.rows);
    }
    free(c.rows);
    return err;
}

/* ---- the API ---- */

static pacs_err check_name(const char *name, pacs_errinfo *ei)
{
    if (!pacs_user_name_valid(name)) {
        return pacs_errf(ei, PACS_EINVAL,
                         "a user name has 1 to %d characters among A-Z a-z 0-9 . _ @ -",
                         PACS_USER_NAME_MAX);
    }
    return PACS_OK;
}

pacs_err pacs_users_add(pacs_archive *a, const char *name, pacs_role role, const char *password,
                        pacs_errinfo *ei)
{
    char hash[PACS_PASSWORD_HASH_CAP];
    pacs_err err = check_name(name, ei);
    if (err != PACS_OK) {
        return err;
    }
    if (!pacs_role_name(role)[0]) {
        return pacs_errf(ei, PACS_EINVAL, "the role is radiologist, technician or admin");
    }
    err = pacs_password_hash(password, hash, sizeof hash, ei);
    if (err != PACS_OK) {
        return err;
    }
    user_job j = {.name = name, .role = role, .hash = hash};
    return pacs_index__write(a->index, do_add, &j, ei);
}

pacs_err pacs_users_passwd(pacs_archive *a, const char *name, const char *password,
                           pacs_errinfo *ei)
{
    char hash[PACS_PASSWORD_HASH_CAP];
    pacs_err err = check_name(name, ei);
    if (err == PACS_OK) {
        err = pacs_password_hash(password, hash, sizeof hash, ei);
    }
    if (err != PACS_OK) {
        return err;
    }
    user_job j = {.name = name, .hash = hash};
    return pacs_index__write(a->index, do_passwd, &j, ei);
}

pacs_err pacs_users_set_role(pacs_archive *a, const char *name, pacs_role role, pacs_errinfo *ei)
{
    pacs_err err = check_name(name, ei);
    if (err == PACS_OK && !pacs_role_name(role)[0]) {
        err = pacs_errf(ei, PACS_EINVAL, "the role is radiologist, technician or admin");
    }
    if (err != PACS_OK) {
        return err;
    }
    user_job j = {.name = name, .role = role};
    return pacs_index__write(a->index, do_set_role, &j, ei);
}

pacs_err pacs_users_remove(pacs_archive *a, const char *name, pacs_errinfo *ei)
{
    pacs_err err = check_name(name, ei);
    if (err != PACS_OK) {
        return err;
    }
    user_job j = {.name = name};
    return pacs_index__write(a->index, do_remove, &j, ei);
}

pacs_err pacs_users_list(pacs_archive *a, pacs_user_cb cb, void *ctx, pacs_errinfo *ei)
{
    user_job j = {.cb = cb, .ctx = ctx};
    return pacs_index__read(a->index, do_list, &j, ei);
}

/* The number that changes with a user's password: the first 8 bytes of its hash's SHA-256. */
static uint64_t hash_stamp(const char *hash)
{
    unsigned char h[SHA256_DIGEST_LENGTH];
    SHA256((const unsigned char *)hash, strlen(hash), h);
    uint64_t stamp = 0;
    for (size_t i = 0; i < sizeof stamp; i++) {
        stamp = stamp << 8 | h[i];
    }
    return stamp;
}

pacs_err pacs_users_role(pacs_archive *a, const char *name, pacs_role *role, uint64_t *stamp,
                         pacs_errinfo *ei)
{
    user_job j = {.name = name};
    if (!pacs_user_name_valid(name)) {
        return pacs_errf(ei, PACS_ENOTFOUND, "no such user");
    }
    pacs_err err = pacs_index__read(a->index, do_read, &j, ei);
    if (err == PACS_OK && !j.row.found) {
        return pacs_errf(ei, PACS_ENOTFOUND, "no user %s", name);
    }
    if (err == PACS_OK) {
        *role = j.row.role;
    }
    if (err == PACS_OK && stamp) {
        *stamp = hash_stamp(j.row.hash);
    }
    OPENSSL_cleanse(j.row.hash, sizeof j.row.hash);
    return err;
}

/* A hash of a password nobody knows, verified for unknown names so that they take as long. */
static char dummy_hash[PACS_PASSWORD_HASH_CAP];
static pthread_once_t dummy_once = PTHREAD_ONCE_INIT;

static void make_dummy(void)
{
    pacs_errinfo ei;
    unsigned char r[24];
    char pw[2 * sizeof r + 1];
    if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r) {
        memset(r, 0x5a, sizeof r); /* the hash is never matched by anyone anyway */
    }
    for (size_t i = 0; i < sizeof r; i++) {
        snprintf(pw + 2 * i, 3, "%02x", r[i]);
    }
    if (pacs_password_hash(pw, dummy_hash, sizeof dummy_hash, &ei) != PACS_OK) {
        dummy_hash[0] = '\0';
    }
}

pacs_err pacs_users_login(pacs_archive *a, const char *name, const char *password,
                          const pacs_login_policy *policy, int64_t now, pacs_login_outcome *outcome,
                          pacs_role *role, uint64_t *stamp, pacs_errinfo *ei)
{
    user_job j = {.name = name, .now = now, .policy = policy};
    pacs_err err = PACS_OK;
    if (pacs_user_name_valid(name)) {
        err = pacs_index__read(a->index, do_read, &j, ei);
    }
    if (err != PACS_OK) {
        return err;
    }
    pthread_once(&dummy_once, make_dummy);
    int match = pacs_password_verify(j.row.found ? j.row.hash : dummy_hash, password);
    if (!j.row.found || j.row.locked_until > now) {
        /* A write like a counted failure's, so that neither an unknown name nor a locked user
         * answers sooner than a wrong password: the time must not tell who exists. */
        err = pacs_index__write(a->index, do_touch, &j, ei);
        *outcome = j.row.found ? PACS_LOGIN_LOCKED : PACS_LOGIN_UNKNOWN;
        return err;
    }
    j.failed = !match;
    err = pacs_index__write(a->index, do_count, &j, ei);
    if (err != PACS_OK) {
        return err;
    }
    *outcome = j.outcome;
    if (j.outcome == PACS_LOGIN_OK) {
        *role = j.row.role;
        if (stamp) {
            *stamp = hash_stamp(j.row.hash);
        }
    }
    return PACS_OK;
}
