// SPDX-License-Identifier: MIT
/*
 * The share-link store (share.h): token minting and checking with OpenSSL's HMAC-SHA-256 and
 * random source, base64url from pacs/base/b64url.h; the records in the index (index.h, its
 * shares table), so that every node sharing an index knows every share. A data folder's
 * DATA/shares.db from before (its own SQLite file) is imported into the index once, at open.
 *
 * Load: one check per HTTP request that carries a share token: a stat of the key file, one
 * primary-key lookup in the index and one HMAC. Thread-safe: a mutex guards the key; the index
 * is thread-safe itself and orders other processes.
 */
#include <errno.h>
#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "storage/share.h"

#include "pacs/base/b64url.h"
#include "pacs/base/log.h"
#include "storage/index.h"

#define KEY_LEN 32
#define VERSION 1
#define ID_RAW 9
#define MAC_LEN 16
#define RAW_LEN (1 + ID_RAW + 4 + MAC_LEN) /* 30 bytes, 40 base64url characters */
#define CREATOR_MAX 128
#define DENIED_MSG "share token refused"

struct pacs_shares {
    pthread_mutex_t mu; /* guards the key */
    pacs_index *idx;
    char *key_path;
    unsigned char key[KEY_LEN];
    struct stat key_st; /* of the key file the key was read from, to notice a rotation */
};

/* Decodes exactly `n` bytes from base64url text; -1 otherwise. */
static int b64url_decode_exact(const char *in, size_t len, unsigned char *out, size_t n)
{
    size_t got = 0;
    unsigned char *raw = pacs_b64url_decode(in, len, &got);
    int ok = raw && got == n;
    if (ok) {
        memcpy(out, raw, n);
    }
    free(raw);
    return ok ? 0 : -1;
}

/* ---- helpers ---- */

static int valid_uid(const char *uid)
{
    size_t n = uid ? strlen(uid) : 0;
    if (n == 0 || n > 64 || uid[0] == '.' || uid[n - 1] == '.') {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        char c = uid[i];
        if (!((c >= '0' && c <= '9') || c == '.')) {
            return 0;
        }
        if (c == '.' && uid[i + 1] == '.') {
            return 0;
        }
    }
    return 1;
}

/* A subject other than a study: "patient:" and printable ASCII (storage/share_scope.h writes
 * them; this store only keeps and signs them). */
static int valid_subject(const char *subject)
{
    size_t n = subject ? strlen(subject) : 0;
    if (valid_uid(subject)) {
        return 1;
    }
    if (n <= 8 || n > PACS_SHARE_SUBJECT_MAX || strncmp(subject, "patient:", 8) != 0) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        if ((unsigned char)subject[i] <= 0x20 || (unsigned char)subject[i] >= 0x7f) {
            return 0;
        }
    }
    return 1;
}

static void put_u32(unsigned char *p, uint32_t v)
{
    p[0] = (unsigned char)(v >> 24);
    p[1] = (unsigned char)(v >> 16);
    p[2] = (unsigned char)(v >> 8);
    p[3] = (unsigned char)v;
}

static uint32_t get_u32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

/* The MAC of a token's first fields and the subject, truncated to MAC_LEN bytes. */
static int token_mac(const unsigned char key[KEY_LEN], const unsigned char *head, size_t head_len,
                     const char *study_uid, unsigned char mac[MAC_LEN])
{
    unsigned char msg[RAW_LEN + PACS_SHARE_SUBJECT_MAX + 16];
    unsigned char full[EVP_MAX_MD_SIZE];
    unsigned int full_len = 0;
    static const char label[] = "pacs-share";
    size_t uid_len = strlen(study_uid);
    size_t n = 0;
    if (uid_len > PACS_SHARE_SUBJECT_MAX) {
        uid_len = PACS_SHARE_SUBJECT_MAX;
    }
    memcpy(msg, label, sizeof label); /* with its NUL, as a separator */
    n += sizeof label;
    memcpy(msg + n, head, head_len);
    n += head_len;
    memcpy(msg + n, study_uid, uid_len);
    n += uid_len;
    if (!HMAC(EVP_sha256(), key, KEY_LEN, msg, n, full, &full_len) || full_len < MAC_LEN) {
        return -1;
    }
    memcpy(mac, full, MAC_LEN);
    OPENSSL_cleanse(full, sizeof full);
    return 0;
}

static void token_hash(const char *token, size_t len, unsigned char out[SHA256_DIGEST_LENGTH])
{
    SHA256((const unsigned char *)token, len, out);
}

static pacs_err fsync_dir_of(const char *path, pacs_errinfo *ei)
{
    char dir[4096];
    const char *slash = strrchr(path, '/');
    size_t n = slash ? (size_t)(slash - path) : 1;
    if (n == 0) {
        n = 1;
    }
    if (n >= sizeof dir) {
        return pacs_errf(ei, PACS_EINVAL, "path too long: %s", path);
    }
    memcpy(dir, slash ? path : ".", n);
    dir[n] = '\0';
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        return pacs_errf(ei, PACS_EIO, "open %s: %s", dir, strerror(errno));
    }
    int rc = fsync(fd);
    int e = errno;
    close(fd);
    if (rc != 0) {
        return pacs_errf(ei, PACS_EIO, "fsync %s: %s", dir, strerror(e));
    }
    return PACS_OK;
}

/* Writes a new random key to `path` through a temporary file, fsync and rename. */
static pacs_err write_new_key(const char *path, int exclusive, pacs_errinfo *ei)
{
    unsigned char key[KEY_LEN];
    char tmp[4200];
    pacs_err err = PACS_OK;
    int fd = -1;
    if (RAND_bytes(key, KEY_LEN) != 1) {
        return pacs_errf(ei, PACS_EIO, "share key: no random bytes");
    }
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof tmp) {
        err = pacs_errf(ei, PACS_EINVAL, "path too long: %s", path);
        goto fail;
    }
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0) {
        err = pacs_errf(ei, PACS_EIO, "create %s: %s", tmp, strerror(errno));
        goto fail;
    }
    if (fchmod(fd, 0600) != 0 || write(fd, key, KEY_LEN) != KEY_LEN || fsync(fd) != 0) {
        err = pacs_errf(ei, PACS_EIO, "write %s: %s", tmp, strerror(errno));
        goto fail;
    }
    close(fd);
    fd = -1;
    if (exclusive) {
        /* First start: never replace a key another process made a moment ago. */
        if (link(tmp, path) != 0) {
            int e = errno;
            unlink(tmp);
            if (e == EEXIST) {
                goto done;
            }
            err = pacs_errf(ei, PACS_EIO, "link %s: %s", path, strerror(e));
            goto fail;
        }
        unlink(tmp);
    } else if (rename(tmp, path) != 0) {
        err = pacs_errf(ei, PACS_EIO, "rename %s: %s", tmp, strerror(errno));
        unlink(tmp);
        goto fail;
    }
    err = fsync_dir_of(path, ei);
done:
fail:
    if (fd >= 0) {
        close(fd);
        unlink(tmp);
    }
    OPENSSL_cleanse(key, sizeof key);
    return err;
}

/* Reads the key file into s->key when it is not the one already read. Called with s->mu held. */
static pacs_err load_key(pacs_shares *s, pacs_errinfo *ei)
{
    struct stat st;
    unsigned char key[KEY_LEN];
    pacs_err err = PACS_OK;
    int fd = open(s->key_path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        return pacs_errf(ei, PACS_EIO, "open %s: %s", s->key_path, strerror(errno));
    }
    if (fstat(fd, &st) != 0) {
        err = pacs_errf(ei, PACS_EIO, "stat %s: %s", s->key_path, strerror(errno));
        goto fail;
    }
    if (st.st_ino == s->key_st.st_ino && st.st_dev == s->key_st.st_dev &&
        st.st_mtim.tv_sec == s->key_st.st_mtim.tv_sec &&
        st.st_mtim.tv_nsec == s->key_st.st_mtim.tv_nsec && st.st_size == KEY_LEN) {
        goto fail; /* unchanged */
    }
    if (!S_ISREG(st.st_mode) || st.st_size != KEY_LEN) {
        err = pacs_errf(ei, PACS_EIO, "%s: not a %d-byte key file", s->key_path, KEY_LEN);
        goto fail;
    }
    if (st.st_mode & 077) {
        err = pacs_errf(ei, PACS_EIO, "%s: readable by others (mode %03o); chmod 600 it",
                        s->key_path, (unsigned)(st.st_mode & 0777));
        goto fail;
    }
    if (pread(fd, key, KEY_LEN, 0) != KEY_LEN) {
        err = pacs_errf(ei, PACS_EIO, "read %s: short read", s->key_path);
        goto fail;
    }
    memcpy(s->key, key, KEY_LEN);
    s->key_st = st;
fail:
    OPENSSL_cleanse(key, sizeof key);
    close(fd);
    return err;
}

/* Stat-only fast path: reload the key only when the file changed. Called with s->mu held. */
static pacs_err refresh_key(pacs_shares *s, pacs_errinfo *ei)
{
    struct stat st;
    if (stat(s->key_path, &st) == 0 && st.st_ino == s->key_st.st_ino &&
        st.st_dev == s->key_st.st_dev && st.st_mtim.tv_sec == s->key_st.st_mtim.tv_sec &&
        st.st_mtim.tv_nsec == s->key_st.st_mtim.tv_nsec) {
        return PACS_OK;
    }
    return load_key(s, ei);
}

/* ---- DATA/shares.db, the store before the index ---- */

/* Owned copies of the old store's rows. */
typedef struct old_rows {
    pacs_index_share *r;
    size_t n, cap;
} old_rows;

static void old_rows_free(old_rows *o)
{
    for (size_t i = 0; i < o->n; i++) {
        free((char *)o->r[i].id);
        free((unsigned char *)o->r[i].token_sha256);
        free((char *)o->r[i].study_uid);
        free((char *)o->r[i].creator);
    }
    free(o->r);
}

static char *copy_column(sqlite3_stmt *st, int col, size_t *len)
{
    const void *v = sqlite3_column_blob(st, col);
    size_t n = (size_t)sqlite3_column_bytes(st, col);
    char *d = malloc(n + 1);
    if (d) {
        memcpy(d, v ? v : "", n);
        d[n] = '\0';
    }
    if (len) {
        *len = n;
    }
    return d;
}

static pacs_err read_old_rows(sqlite3 *db, old_rows *o, pacs_errinfo *ei)
{
    sqlite3_stmt *st = NULL;
    int rc = sqlite3_prepare_v2(db,
                                "SELECT id, token_sha256, study_uid, created_at, expires_at,"
                                " creator, revoked, revoked_at FROM shares ORDER BY rowid",
                                -1, &st, NULL);
    while (rc == SQLITE_OK || rc == SQLITE_ROW) {
        rc = sqlite3_step(st);
        if (rc != SQLITE_ROW) {
            break;
        }
        if (o->n == o->cap) {
            size_t cap = o->cap ? o->cap * 2 : 64;
            pacs_index_share *g = realloc(o->r, cap * sizeof *g);
            if (!g) {
                sqlite3_finalize(st);
                return pacs_errf(ei, PACS_ENOMEM, "out of memory");
            }
            o->r = g;
            o->cap = cap;
        }
        pacs_index_share *r = &o->r[o->n++];
        memset(r, 0, sizeof *r);
        r->id = copy_column(st, 0, NULL);
        r->token_sha256 = (unsigned char *)copy_column(st, 1, &r->token_sha256_len);
        r->study_uid = copy_column(st, 2, NULL);
        r->created_at = sqlite3_column_int64(st, 3);
        r->expires_at = sqlite3_column_int64(st, 4);
        r->creator = copy_column(st, 5, NULL);
        r->revoked = sqlite3_column_int(st, 6) != 0;
        r->revoked_at = sqlite3_column_int64(st, 7);
        if (!r->id || !r->token_sha256 || !r->study_uid || !r->creator) {
            sqlite3_finalize(st);
            return pacs_errf(ei, PACS_ENOMEM, "out of memory");
        }
    }
    pacs_err err =
        rc == SQLITE_DONE ? PACS_OK : pacs_errf(ei, PACS_EDB, "shares.db: %s", sqlite3_errmsg(db));
    sqlite3_finalize(st);
    return err;
}

/* Imports DATA/shares.db into the index, then renames it shares.db.imported, so that the links
 * made before the index kept them go on working. Several processes may do it at once: records
 * are added only where their id is new, and one that finds the file gone has nothing to do. */
static pacs_err import_old_store(pacs_shares *s, const char *data_dir, pacs_errinfo *ei)
{
    char path[4200], done[4300];
    snprintf(path, sizeof path, "%s/shares.db", data_dir);
    if (access(path, F_OK) != 0) {
        return PACS_OK;
    }
    sqlite3 *db = NULL;
    old_rows o;
    memset(&o, 0, sizeof o);
    pacs_err err = PACS_OK;
    int rc = sqlite3_open_v2(path, &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        err = access(path, F_OK) != 0 ? PACS_OK /* imported by another process meanwhile */
                                      : pacs_errf(ei, PACS_EDB, "open %s: %s", path,
                                                  db ? sqlite3_errmsg(db) : "out of memory");
        sqlite3_close(db);
        return err;
    }
    sqlite3_busy_timeout(db, 10000);
    err = read_old_rows(db, &o, ei);
    sqlite3_close(db);
    uint64_t added = 0;
    if (err == PACS_OK) {
        err = pacs_index_share_import(s->idx, o.r, o.n, &added, ei);
    }
    old_rows_free(&o);
    if (err != PACS_OK) {
        return err;
    }
    snprintf(done, sizeof done, "%s.imported", path);
    if (rename(path, done) != 0) {
        return errno == ENOENT ? PACS_OK
                               : pacs_errf(ei, PACS_EIO, "rename %s: %s", path, strerror(errno));
    }
    pacs_log(PACS_LOG_INFO, "share",
             "imported %llu share record(s) from %s into the index (the file is kept as %s)",
             (unsigned long long)added, path, done);
    return fsync_dir_of(path, ei);
}

/* ---- the API ---- */

pacs_err pacs_shares_open(const char *data_dir, pacs_shares **out, pacs_errinfo *ei)
{
    return pacs_shares_open_at(data_dir, NULL, out, ei);
}

pacs_err pacs_shares_open_at(const char *data_dir, const char *index_location, pacs_shares **out,
                             pacs_errinfo *ei)
{
    pacs_err err = PACS_OK;
    char path[4200];
    pacs_shares *s = calloc(1, sizeof *s);
    if (!s) {
        return pacs_errf(ei, PACS_ENOMEM, "out of memory");
    }
    pthread_mutex_init(&s->mu, NULL);
    if (snprintf(path, sizeof path, "%s/share.key", data_dir) >= (int)sizeof path) {
        err = pacs_errf(ei, PACS_EINVAL, "data folder path too long");
        goto fail;
    }
    s->key_path = strdup(path);
    if (!s->key_path) {
        err = pacs_errf(ei, PACS_ENOMEM, "out of memory");
        goto fail;
    }
    if (access(path, F_OK) != 0) {
        err = write_new_key(path, 1, ei);
        if (err) {
            goto fail;
        }
    }
    err = load_key(s, ei);
    if (err) {
        goto fail;
    }
    if (index_location && index_location[0]) {
        snprintf(path, sizeof path, "%s", index_location);
    } else {
        snprintf(path, sizeof path, "%s/index.sqlite", data_dir);
    }
    err = pacs_index_open(path, &s->idx, ei);
    if (err == PACS_OK) {
        err = import_old_store(s, data_dir, ei);
    }
    if (err) {
        goto fail;
    }
    *out = s;
    return PACS_OK;
fail:
    pacs_shares_close(s);
    return err;
}

void pacs_shares_close(pacs_shares *s)
{
    if (!s) {
        return;
    }
    pacs_index_close(s->idx);
    OPENSSL_cleanse(s->key, sizeof s->key);
    free(s->key_path);
    pthread_mutex_destroy(&s->mu);
    free(s);
}

/* Copies the current key (read again if the file changed) to `key`, for use outside the lock. */
static pacs_err current_key(pacs_shares *s, unsigned char key[KEY_LEN], pacs_errinfo *ei)
{
    pthread_mutex_lock(&s->mu);
    pacs_err err = refresh_key(s, ei);
    if (!err) {
        memcpy(key, s->key, KEY_LEN);
    }
    pthread_mutex_unlock(&s->mu);
    return err;
}

pacs_err pacs_shares_create(pacs_shares *s, const char *study_uid, int64_t expires_at,
                            const char *creator, char *token_out, size_t token_cap, char *id_out,
                            size_t id_cap, pacs_errinfo *ei)
{
    if (!valid_uid(study_uid)) {
        return pacs_errf(ei, PACS_EINVAL, "not a valid study UID");
    }
    return pacs_shares_create_subject(s, study_uid, expires_at, creator, token_out, token_cap,
                                      id_out, id_cap, ei);
}

pacs_err pacs_shares_create_subject(pacs_shares *s, const char *study_uid, int64_t expires_at,
                                    const char *creator, char *token_out, size_t token_cap,
                                    char *id_out, size_t id_cap, pacs_errinfo *ei)
{
    unsigned char raw[RAW_LEN];
    unsigned char hash[SHA256_DIGEST_LENGTH];
    unsigned char key[KEY_LEN];
    char token[PACS_SHARE_TOKEN_LEN + 1];
    char id[PACS_SHARE_ID_LEN + 1];
    pacs_err err = PACS_OK;
    int64_t now = (int64_t)time(NULL);
    if (!valid_subject(study_uid)) {
        return pacs_errf(ei, PACS_EINVAL, "not a valid study UID or share subject");
    }
    if (expires_at <= now || expires_at > (int64_t)UINT32_MAX) {
        return pacs_errf(ei, PACS_EINVAL, "expiry must be in the future (and before 2106)");
    }
    if (creator && strlen(creator) > CREATOR_MAX) {
        return pacs_errf(ei, PACS_EINVAL, "creator longer than %d bytes", CREATOR_MAX);
    }
    if ((token_out && token_cap < sizeof token) || (id_out && id_cap < sizeof id)) {
        return pacs_errf(ei, PACS_EINVAL, "buffer too small for a share token or id");
    }
    err = current_key(s, key, ei);
    if (err) {
        goto fail;
    }
    raw[0] = VERSION;
    put_u32(raw + 1 + ID_RAW, (uint32_t)expires_at);
    /* A 72-bit random id collides practically never; a few tries cover a bad random source. */
    for (int attempt = 0;; attempt++) {
        if (RAND_bytes(raw + 1, ID_RAW) != 1) {
            err = pacs_errf(ei, PACS_EIO, "share: no random bytes");
            goto fail;
        }
        /* The id is typed as a command-line argument (pacs share --revoke ID): its first
         * character is a letter or digit, never '-' or '_' (71 random bits are left). */
        raw[1] &= 0x7f;
        if (token_mac(key, raw, 1 + ID_RAW + 4, study_uid, raw + 1 + ID_RAW + 4) != 0) {
            err = pacs_errf(ei, PACS_EIO, "share: HMAC failed");
            goto fail;
        }
        pacs_b64url_encode(raw, RAW_LEN, token);
        pacs_b64url_encode(raw + 1, ID_RAW, id);
        token_hash(token, PACS_SHARE_TOKEN_LEN, hash);
        pacs_index_share rec;
        memset(&rec, 0, sizeof rec);
        rec.id = id;
        rec.token_sha256 = hash;
        rec.token_sha256_len = sizeof hash;
        rec.study_uid = study_uid;
        rec.creator = creator ? creator : "";
        rec.created_at = now;
        rec.expires_at = expires_at;
        err = pacs_index_share_add(s->idx, &rec, ei);
        if (err != PACS_EEXIST || attempt >= 3) {
            break;
        }
    }
    if (err) {
        goto fail;
    }
    if (token_out) {
        memcpy(token_out, token, sizeof token);
    }
    if (id_out) {
        memcpy(id_out, id, sizeof id);
    }
fail:
    OPENSSL_cleanse(key, sizeof key);
    OPENSSL_cleanse(token, sizeof token);
    OPENSSL_cleanse(raw, sizeof raw);
    return err;
}

/* The stored record of a share, as the checks need it. */
typedef struct row {
    int found;
    char study_uid[PACS_SHARE_SUBJECT_MAX + 1]; /* the subject */
    int64_t expires_at;
    int revoked;
    unsigned char hash[SHA256_DIGEST_LENGTH];
} row;

static int on_row(void *ctx, const pacs_index_share *s)
{
    row *r = ctx;
    if (strlen(s->study_uid) < sizeof r->study_uid && s->token_sha256_len == SHA256_DIGEST_LENGTH) {
        r->found = 1;
        snprintf(r->study_uid, sizeof r->study_uid, "%s", s->study_uid);
        r->expires_at = s->expires_at;
        r->revoked = s->revoked;
        memcpy(r->hash, s->token_sha256, SHA256_DIGEST_LENGTH);
    }
    return 1;
}

/* Verifies the token's form, MAC (under `key`) and stored hash; `*ok` is 1 only when all hold.
 * Fills `r` and `id`. Does the same work whether or not the id is known. */
static pacs_err verify(pacs_shares *s, const unsigned char key[KEY_LEN], const char *token, row *r,
                       char id[PACS_SHARE_ID_LEN + 1], int *ok, pacs_errinfo *ei)
{
    unsigned char raw[RAW_LEN];
    unsigned char mac[MAC_LEN];
    unsigned char hash[SHA256_DIGEST_LENGTH];
    size_t len = token ? strnlen(token, PACS_SHARE_TOKEN_LEN + 1) : 0;
    int good = 1;
    *ok = 0;
    memset(raw, 0, sizeof raw);
    memset(r, 0, sizeof *r);
    if (len != PACS_SHARE_TOKEN_LEN || b64url_decode_exact(token, len, raw, RAW_LEN) != 0) {
        good = 0;
        memset(raw, 0, sizeof raw);
    }
    good &= raw[0] == VERSION;
    pacs_b64url_encode(raw + 1, ID_RAW, id);
    pacs_err err = pacs_index_share_get(s->idx, id, on_row, r, NULL, ei);
    if (err) {
        return err;
    }
    good &= r->found;
    /* The MAC and the hash are computed and compared whether or not the id was found. */
    if (token_mac(key, raw, 1 + ID_RAW + 4, r->study_uid, mac) != 0) {
        return pacs_errf(ei, PACS_EIO, "share: HMAC failed");
    }
    good &= CRYPTO_memcmp(mac, raw + 1 + ID_RAW + 4, MAC_LEN) == 0;
    token_hash(len == PACS_SHARE_TOKEN_LEN ? token : "", len == PACS_SHARE_TOKEN_LEN ? len : 0,
               hash);
    good &= CRYPTO_memcmp(hash, r->hash, sizeof hash) == 0;
    good &= r->expires_at == (int64_t)get_u32(raw + 1 + ID_RAW);
    *ok = good;
    OPENSSL_cleanse(raw, sizeof raw);
    return PACS_OK;
}

/* verify() under the current key. */
static pacs_err verify_token(pacs_shares *s, const char *token, row *r,
                             char id[PACS_SHARE_ID_LEN + 1], int *ok, pacs_errinfo *ei)
{
    unsigned char key[KEY_LEN];
    pacs_err err = current_key(s, key, ei);
    if (!err) {
        err = verify(s, key, token, r, id, ok, ei);
    }
    OPENSSL_cleanse(key, sizeof key);
    return err;
}

pacs_err pacs_shares_check(pacs_shares *s, const char *token, char *study_uid_out,
                           int64_t *expires_at, pacs_errinfo *ei)
{
    return pacs_shares_check_id(s, token, study_uid_out, expires_at, NULL, ei);
}

pacs_err pacs_shares_check_id(pacs_shares *s, const char *token, char *study_uid_out,
                              int64_t *expires_at, char id_out[PACS_SHARE_ID_LEN + 1],
                              pacs_errinfo *ei)
{
    char subject[PACS_SHARE_SUBJECT_MAX + 1], id[PACS_SHARE_ID_LEN + 1];
    int64_t expires = 0;
    pacs_err err = pacs_shares_check_subject(s, token, subject, sizeof subject, &expires, id, ei);
    if (err != PACS_OK) {
        return err;
    }
    if (!valid_uid(subject)) {
        /* A share of something other than one study: only callers that know subjects may
         * take it (pacs_shares_check_subject), never as a study. */
        return pacs_errf(ei, PACS_EDENIED, DENIED_MSG);
    }
    if (study_uid_out) {
        memcpy(study_uid_out, subject, strlen(subject) + 1);
    }
    if (expires_at) {
        *expires_at = expires;
    }
    if (id_out) {
        memcpy(id_out, id, sizeof id);
    }
    return PACS_OK;
}

pacs_err pacs_shares_check_subject(pacs_shares *s, const char *token, char *subject_out,
                                   size_t subject_cap, int64_t *expires_at,
                                   char id_out[PACS_SHARE_ID_LEN + 1], pacs_errinfo *ei)
{
    row r;
    char id[PACS_SHARE_ID_LEN + 1];
    int ok = 0;
    pacs_err err = verify_token(s, token, &r, id, &ok, ei);
    if (err) {
        return err;
    }
    if (!ok || r.revoked || r.expires_at <= (int64_t)time(NULL)) {
        return pacs_errf(ei, PACS_EDENIED, DENIED_MSG);
    }
    if (subject_out) {
        if (strlen(r.study_uid) >= subject_cap) {
            return pacs_errf(ei, PACS_EINVAL, "subject buffer too small");
        }
        memcpy(subject_out, r.study_uid, strlen(r.study_uid) + 1);
    }
    if (expires_at) {
        *expires_at = r.expires_at;
    }
    if (id_out) {
        memcpy(id_out, id, sizeof id);
    }
    return PACS_OK;
}

pacs_err pacs_shares_revoke(pacs_shares *s, const char *id_or_token, pacs_errinfo *ei)
{
    char id[PACS_SHARE_ID_LEN + 1];
    size_t len = id_or_token ? strnlen(id_or_token, PACS_SHARE_TOKEN_LEN + 1) : 0;
    pacs_err err = PACS_OK;
    if (len == PACS_SHARE_ID_LEN) {
        memcpy(id, id_or_token, sizeof id);
    } else {
        row r;
        int ok = 0;
        err = verify_token(s, id_or_token, &r, id, &ok, ei);
        if (err) {
            return err;
        }
        if (!ok) {
            return pacs_errf(ei, PACS_ENOTFOUND, "no such share");
        }
    }
    uint64_t n = 0;
    err = pacs_index_share_revoke(s->idx, id, NULL, (int64_t)time(NULL), &n, ei);
    if (err == PACS_OK && n == 0) {
        err = pacs_errf(ei, PACS_ENOTFOUND, "no such share");
    }
    return err;
}

pacs_err pacs_shares_revoke_study(pacs_shares *s, const char *study_uid, unsigned *n,
                                  pacs_errinfo *ei)
{
    if (!valid_uid(study_uid)) {
        return pacs_errf(ei, PACS_EINVAL, "not a valid study UID");
    }
    uint64_t got = 0;
    pacs_err err = pacs_index_share_revoke(s->idx, NULL, study_uid, (int64_t)time(NULL), &got, ei);
    if (err == PACS_OK && n) {
        *n = (unsigned)got;
    }
    return err;
}

typedef struct list_ctx {
    pacs_share_list_cb cb;
    void *ctx;
} list_ctx;

static int on_list(void *ctx, const pacs_index_share *s)
{
    list_ctx *l = ctx;
    pacs_share_info info;
    info.id = s->id;
    info.study_uid = s->study_uid;
    info.creator = s->creator;
    info.created_at = s->created_at;
    info.expires_at = s->expires_at;
    info.revoked = s->revoked;
    info.revoked_at = s->revoked_at;
    return l->cb(l->ctx, &info) != 0;
}

pacs_err pacs_shares_list(pacs_shares *s, const char *study_uid, pacs_share_list_cb cb, void *ctx,
                          pacs_errinfo *ei)
{
    list_ctx l = {cb, ctx};
    pthread_mutex_lock(&s->mu);
    pacs_err err = pacs_index_share_list(s->idx, study_uid, on_list, &l, ei);
    pthread_mutex_unlock(&s->mu);
    return err;
}

pacs_err pacs_shares_rotate_key(pacs_shares *s, pacs_errinfo *ei)
{
    pthread_mutex_lock(&s->mu);
    /* Revoke first: a crash between the two steps leaves every old link refused either way. */
    pacs_err err = pacs_index_share_revoke(s->idx, NULL, NULL, (int64_t)time(NULL), NULL, ei);
    if (!err) {
        err = write_new_key(s->key_path, 0, ei);
    }
    if (!err) {
        err = load_key(s, ei);
    }
    pthread_mutex_unlock(&s->mu);
    return err;
}
