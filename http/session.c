// SPDX-License-Identifier: MIT
/*
 * Login sessions in memory (session.h): a chained hash table keyed by the SHA-256 of the
 * session id, under one mutex. Ids are compared as hashes in constant time.
 *
 * Load: one SHA-256 and a short bucket walk per request; a sweep of the table at each login.
 * Thread-safe: the mutex guards everything.
 */
#include "http/session.h"

#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pacs/base/b64url.h"

#define BUCKETS 1024
#define ID_BYTES 32

typedef struct session {
    struct session *next;
    unsigned char hash[SHA256_DIGEST_LENGTH];
    char user[PACS_SESSION_USER_CAP];
    unsigned scopes;
    uint64_t stamp; /* the user's password as it was at the login (pacs_users_role) */
    int64_t born, used, checked;
} session;

struct pacs_sessions {
    pthread_mutex_t mu;
    unsigned idle, max_age, recheck;
    size_t cap, n;
    session *bucket[BUCKETS];
};

pacs_err pacs_sessions_new(unsigned idle, unsigned max_age, unsigned recheck, size_t cap,
                           pacs_sessions **out, pacs_errinfo *ei)
{
    if (idle == 0 || max_age == 0 || cap == 0) {
        return pacs_errf(ei, PACS_EINVAL, "session lifetimes and capacity must be positive");
    }
    pacs_sessions *s = calloc(1, sizeof *s);
    if (!s) {
        return pacs_errf(ei, PACS_ENOMEM, "out of memory");
    }
    pthread_mutex_init(&s->mu, NULL);
    s->idle = idle;
    s->max_age = max_age;
    s->recheck = recheck;
    s->cap = cap;
    *out = s;
    return PACS_OK;
}

static void drop(session *e)
{
    OPENSSL_cleanse(e, sizeof *e);
    free(e);
}

void pacs_sessions_free(pacs_sessions *s)
{
    if (!s) {
        return;
    }
    for (size_t i = 0; i < BUCKETS; i++) {
        for (session *e = s->bucket[i], *next; e; e = next) {
            next = e->next;
            drop(e);
        }
    }
    pthread_mutex_destroy(&s->mu);
    free(s);
}

static int expired(const pacs_sessions *s, const session *e, int64_t now)
{
    return now >= e->born + (int64_t)s->max_age || now >= e->used + (int64_t)s->idle;
}

static size_t bucket_of(const unsigned char *h)
{
    return ((size_t)h[0] | (size_t)h[1] << 8) % BUCKETS;
}

/* The link that points at the session of hash `h` (its entry is *link); NULL when none. */
static session **find(pacs_sessions *s, const unsigned char *h)
{
    for (session **l = &s->bucket[bucket_of(h)]; *l; l = &(*l)->next) {
        if (CRYPTO_memcmp((*l)->hash, h, SHA256_DIGEST_LENGTH) == 0) {
            return l;
        }
    }
    return NULL;
}

/* Takes the session *l out of its bucket and frees it. Mutex held. */
static void unlink_drop(pacs_sessions *s, session **l)
{
    session *e = *l;
    *l = e->next;
    drop(e);
    s->n--;
}

/* Drops expired sessions (and, with `user`, every session of that user). Mutex held. */
static size_t sweep(pacs_sessions *s, int64_t now, const char *user)
{
    size_t n = 0;
    for (size_t i = 0; i < BUCKETS; i++) {
        for (session **l = &s->bucket[i]; *l;) {
            session *e = *l;
            if (user ? strcmp(e->user, user) == 0 : expired(s, e, now)) {
                unlink_drop(s, l);
                n++;
            } else {
                l = &e->next;
            }
        }
    }
    return n;
}

/* The hash of a well-formed id into `h`; 0 for a malformed one. */
static int id_hash(const char *id, unsigned char *h)
{
    if (!id || strlen(id) != PACS_SESSION_ID_LEN ||
        strspn(id, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") !=
            PACS_SESSION_ID_LEN) {
        return 0;
    }
    SHA256((const unsigned char *)id, PACS_SESSION_ID_LEN, h);
    return 1;
}

pacs_err pacs_sessions_begin(pacs_sessions *s, const char *user, unsigned scopes, uint64_t stamp,
                             int64_t now, char *id_out, size_t cap, pacs_errinfo *ei)
{
    unsigned char raw[ID_BYTES];
    char id[PACS_SESSION_ID_LEN + 8];
    if (!user || !user[0] || strlen(user) >= PACS_SESSION_USER_CAP) {
        return pacs_errf(ei, PACS_EINVAL, "bad user name for a session");
    }
    if (cap < PACS_SESSION_ID_LEN + 1) {
        return pacs_errf(ei, PACS_EINVAL, "session id buffer too small");
    }
    if (RAND_bytes(raw, sizeof raw) != 1) {
        return pacs_errf(ei, PACS_EIO, "no random bytes for a session id");
    }
    size_t n = pacs_b64url_encode(raw, sizeof raw, id);
    OPENSSL_cleanse(raw, sizeof raw);
    if (n != PACS_SESSION_ID_LEN) {
        return pacs_errf(ei, PACS_EIO, "session id of %zu characters", n);
    }
    id[n] = '\0';
    session *e = calloc(1, sizeof *e);
    if (!e) {
        return pacs_errf(ei, PACS_ENOMEM, "out of memory");
    }
    SHA256((const unsigned char *)id, n, e->hash);
    snprintf(e->user, sizeof e->user, "%s", user);
    e->scopes = scopes;
    e->stamp = stamp;
    e->born = e->used = e->checked = now;
    pthread_mutex_lock(&s->mu);
    sweep(s, now, NULL);
    int full = s->n >= s->cap;
    if (!full) {
        size_t b = bucket_of(e->hash);
        e->next = s->bucket[b];
        s->bucket[b] = e;
        s->n++;
    }
    pthread_mutex_unlock(&s->mu);
    if (full) {
        drop(e);
        OPENSSL_cleanse(id, sizeof id);
        return pacs_errf(ei, PACS_EBUSY, "too many sessions (%zu)", s->cap);
    }
    memcpy(id_out, id, n + 1);
    OPENSSL_cleanse(id, sizeof id);
    return PACS_OK;
}

int pacs_sessions_check(pacs_sessions *s, const char *id, int64_t now, char *user, unsigned *scopes,
                        int *due)
{
    unsigned char h[SHA256_DIGEST_LENGTH];
    if (!id_hash(id, h)) {
        return 0;
    }
    int live = 0;
    pthread_mutex_lock(&s->mu);
    session **l = find(s, h);
    if (l && expired(s, *l, now)) {
        unlink_drop(s, l);
    } else if (l) {
        session *e = *l;
        e->used = now > e->used ? now : e->used;
        if (user) {
            memcpy(user, e->user, sizeof e->user);
        }
        if (scopes) {
            *scopes = e->scopes;
        }
        if (due) {
            *due = now >= e->checked + (int64_t)s->recheck;
        }
        live = 1;
    }
    pthread_mutex_unlock(&s->mu);
    return live;
}

int pacs_sessions_restate(pacs_sessions *s, const char *id, int64_t now, unsigned scopes,
                          uint64_t stamp)
{
    unsigned char h[SHA256_DIGEST_LENGTH];
    if (!id_hash(id, h)) {
        return 0;
    }
    int live = 0;
    pthread_mutex_lock(&s->mu);
    session **l = find(s, h);
    if (l && (scopes == 0 || (*l)->stamp != stamp)) {
        unlink_drop(s, l);
    } else if (l) {
        (*l)->scopes = scopes;
        (*l)->checked = now;
        live = 1;
    }
    pthread_mutex_unlock(&s->mu);
    return live;
}

int pacs_sessions_end(pacs_sessions *s, const char *id, int64_t now, char *user)
{
    unsigned char h[SHA256_DIGEST_LENGTH];
    if (!id_hash(id, h)) {
        return 0;
    }
    int live = 0;
    pthread_mutex_lock(&s->mu);
    session **l = find(s, h);
    if (l) {
        session *e = *l;
        live = !expired(s, e, now);
        if (live && user) {
            memcpy(user, e->user, sizeof e->user);
        }
        unlink_drop(s, l);
    }
    pthread_mutex_unlock(&s->mu);
    return live;
}

size_t pacs_sessions_end_user(pacs_sessions *s, const char *user)
{
    pthread_mutex_lock(&s->mu);
    size_t n = sweep(s, 0, user);
    pthread_mutex_unlock(&s->mu);
    return n;
}

size_t pacs_sessions_count(pacs_sessions *s)
{
    pthread_mutex_lock(&s->mu);
    size_t n = s->n;
    pthread_mutex_unlock(&s->mu);
    return n;
}
