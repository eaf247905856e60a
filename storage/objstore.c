// SPDX-License-Identifier: MIT
/*
 * Content-addressed object store (objstore.h). SHA-256 comes from OpenSSL's libcrypto (the
 * EVP interface), which is in Debian everywhere and is as fast as the hardware allows.
 *
 * Durability is a group flush: a committed object is renamed into place and then waits for one
 * syncfs(2) of the store's file system that started after its rename. That one call makes the
 * data, the directory entry and any new folder durable for every object renamed before it, so
 * concurrent ingests share a flush, and even a lone one pays one flush where a file fdatasync
 * plus a directory fsync (two journal commits on ext4) were needed. The cost: syncfs also
 * writes whatever else is dirty on that file system, so the data folder is best on a file system
 * of its own (docs/operations.md, "Where the data lives"). A large object's pages are sent to
 * the disk while it is still arriving (sync_file_range, which waits for nothing and makes nothing
 * durable), so that the flush finds them written: 1.35-1.47 -> 1.00-1.08 ms per 512x512 CT slice.
 */
#define _GNU_SOURCE /* syncfs, sync_file_range */
#include "storage/objstore.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pacs/base/metrics.h"

struct pacs_objstore {
    char *root;
    char *tmp;
    int root_fd; /* for syncfs */
    /* group flush: generations started and finished, the last that failed and its errno */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    uint64_t started, done, failed;
    int running, failed_errno;
};

struct pacs_objwriter {
    pacs_objstore *os;
    int fd;
    char path[4096];
    uint64_t size, max;
    uint64_t started; /* bytes whose write-out to the disk has been started */
    EVP_MD_CTX *md;
    int hashed;
    char key[PACS_KEY_HEX + 1];
};

int pacs_key_valid(const char *key)
{
    if (strlen(key) != PACS_KEY_HEX) {
        return 0;
    }
    for (const char *p = key; *p; p++) {
        if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f'))) {
            return 0;
        }
    }
    return 1;
}

static pacs_err mkdir_p(const char *path, pacs_errinfo *ei)
{
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", path);
    for (char *p = buf + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            if (mkdir(buf, 0755) != 0 && errno != EEXIST) {
                return pacs_errf(ei, pacs_err_from_errno(errno), "mkdir %s: %s", buf,
                                 strerror(errno));
            }
            *p = '/';
        }
    }
    if (mkdir(buf, 0755) != 0 && errno != EEXIST) {
        return pacs_errf(ei, pacs_err_from_errno(errno), "mkdir %s: %s", buf, strerror(errno));
    }
    return PACS_OK;
}

/* Makes the object folder `dir` (ROOT/xx/yy; `parent_len` is the length of ROOT/xx): its
 * parent first, and the whole path only when the root itself is missing. */
static pacs_err make_leaf(char *dir, size_t parent_len, pacs_errinfo *ei)
{
    dir[parent_len] = '\0';
    int rc = mkdir(dir, 0755);
    int missing = rc != 0 && errno == ENOENT;
    dir[parent_len] = '/';
    if (missing) {
        return mkdir_p(dir, ei);
    }
    if (mkdir(dir, 0755) != 0 && errno != EEXIST) {
        return pacs_errf(ei, pacs_err_from_errno(errno), "mkdir %s: %s", dir, strerror(errno));
    }
    return PACS_OK;
}

static int fsync_dir(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0) {
        return -1;
    }
    int rc = fsync(fd);
    int saved = errno;
    close(fd);
    errno = saved;
    return rc;
}

pacs_err pacs_objstore_open(const char *root, const char *tmp_dir, pacs_objstore **out,
                            pacs_errinfo *ei)
{
    pacs_err err = mkdir_p(root, ei);
    if (err == PACS_OK) {
        err = mkdir_p(tmp_dir, ei);
    }
    if (err != PACS_OK) {
        return err;
    }
    pacs_objstore *os = calloc(1, sizeof *os);
    if (os) {
        os->root_fd = -1;
        pthread_mutex_init(&os->mu, NULL);
        pthread_cond_init(&os->cv, NULL);
    }
    if (!os || !(os->root = strdup(root)) || !(os->tmp = strdup(tmp_dir))) {
        pacs_objstore_close(os);
        return pacs_errf(ei, PACS_ENOMEM, "out of memory");
    }
    os->root_fd = open(root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (os->root_fd < 0) {
        err = pacs_errf(ei, pacs_err_from_errno(errno), "open %s: %s", root, strerror(errno));
        pacs_objstore_close(os);
        return err;
    }
    *out = os;
    return PACS_OK;
}

void pacs_objstore_close(pacs_objstore *os)
{
    if (!os) {
        return;
    }
    if (os->root_fd >= 0) {
        close(os->root_fd);
    }
    pthread_mutex_destroy(&os->mu);
    pthread_cond_destroy(&os->cv);
    free(os->root);
    free(os->tmp);
    free(os);
}

/* Returns once a syncfs that started after this call has finished: 0, or -1 with errno when
 * that flush (or a later one) failed. The first caller to find no flush running does it; the
 * others wait for it and, if it started before them, for the next. */
static int group_flush(pacs_objstore *os)
{
    pacs_metrics_add(PACS_M_QUEUE_SYNC, 1);
    pthread_mutex_lock(&os->mu);
    uint64_t need = os->started + 1;
    while (os->done < need) {
        if (os->running) {
            pthread_cond_wait(&os->cv, &os->mu);
            continue;
        }
        os->running = 1;
        uint64_t gen = ++os->started;
        pthread_mutex_unlock(&os->mu);
        int rc = syncfs(os->root_fd);
        int e = errno;
        pthread_mutex_lock(&os->mu);
        os->running = 0;
        os->done = gen;
        if (rc != 0) {
            os->failed = gen;
            os->failed_errno = e;
        }
        pthread_cond_broadcast(&os->cv);
    }
    int rc = 0, e = 0;
    if (os->failed >= need) {
        rc = -1;
        e = os->failed_errno;
    }
    pthread_mutex_unlock(&os->mu);
    pacs_metrics_sub(PACS_M_QUEUE_SYNC, 1);
    errno = e;
    return rc;
}

void pacs_objstore_clean_tmp(pacs_objstore *os)
{
    DIR *d = opendir(os->tmp);
    if (!d) {
        return;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, "obj-", 4) == 0) {
            char p[4096];
            if (snprintf(p, sizeof p, "%s/%s", os->tmp, e->d_name) < (int)sizeof p) {
                unlink(p);
            }
        }
    }
    closedir(d);
}

pacs_err pacs_objstore_begin(pacs_objstore *os, uint64_t max_size, pacs_objwriter **out,
                             pacs_errinfo *ei)
{
    pacs_objwriter *w = calloc(1, sizeof *w);
    if (!w) {
        return pacs_errf(ei, PACS_ENOMEM, "out of memory");
    }
    w->os = os;
    w->max = max_size;
    snprintf(w->path, sizeof w->path, "%s/obj-XXXXXX", os->tmp);
    w->fd = mkstemp(w->path);
    if (w->fd >= 0) {
        fcntl(w->fd, F_SETFD, FD_CLOEXEC);
    }
    if (w->fd < 0) {
        /* The cause first: a DIMSE error comment keeps only 64 characters. */
        pacs_err e =
            pacs_errf(ei, pacs_err_from_errno(errno), "cannot create a temporary file: %s (in %s)",
                      strerror(errno), os->tmp);
        free(w);
        return e;
    }
    w->md = EVP_MD_CTX_new();
    if (!w->md || EVP_DigestInit_ex(w->md, EVP_sha256(), NULL) != 1) {
        pacs_objwriter_abort(w);
        return pacs_errf(ei, PACS_ENOMEM, "cannot start SHA-256");
    }
    *out = w;
    return PACS_OK;
}

/* A large object's pages are sent to the disk while the rest of it is still arriving, so that
 * the flush before success finds them written (an asynchronous write-out: no waiting here).
 * Small objects are left to the flush, which writes many of them together. */
enum { WRITE_OUT_STEP = 256 * 1024 };

static void start_write_out(pacs_objwriter *w)
{
    if (w->size > w->started) {
        (void)sync_file_range(w->fd, (off_t)w->started, (off_t)(w->size - w->started),
                              SYNC_FILE_RANGE_WRITE);
        w->started = w->size;
    }
}

pacs_err pacs_objwriter_write(pacs_objwriter *w, const void *data, size_t len, pacs_errinfo *ei)
{
    if (w->hashed) {
        return pacs_errf(ei, PACS_EINVAL, "object already finished");
    }
    if (len > w->max || w->size > w->max - len) {
        return pacs_errf(ei, PACS_ETOOBIG, "object larger than the %llu MiB limit",
                         (unsigned long long)(w->max >> 20));
    }
    const char *p = data;
    size_t left = len;
    while (left > 0) {
        ssize_t n = write(w->fd, p, left);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return pacs_errf(ei, pacs_err_from_errno(errno), "writing object: %s", strerror(errno));
        }
        p += n;
        left -= (size_t)n;
    }
    EVP_DigestUpdate(w->md, data, len);
    w->size += len;
    if (w->size - w->started >= WRITE_OUT_STEP) {
        start_write_out(w);
    }
    return PACS_OK;
}

const char *pacs_objwriter_path(const pacs_objwriter *w)
{
    return w->path;
}

uint64_t pacs_objwriter_size(const pacs_objwriter *w)
{
    return w->size;
}

static void to_hex(const unsigned char *d, size_t n, char *out)
{
    static const char hex[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        out[2 * i] = hex[d[i] >> 4];
        out[2 * i + 1] = hex[d[i] & 15];
    }
    out[2 * n] = '\0';
}

pacs_err pacs_objwriter_key(pacs_objwriter *w, char key[PACS_KEY_HEX + 1], pacs_errinfo *ei)
{
    if (!w->hashed) {
        unsigned char d[32];
        unsigned int n = 0;
        if (EVP_DigestFinal_ex(w->md, d, &n) != 1 || n != 32) {
            return pacs_errf(ei, PACS_EIO, "SHA-256 failed");
        }
        to_hex(d, 32, w->key);
        w->hashed = 1;
        if (w->started > 0) {
            start_write_out(w);
        }
    }
    memcpy(key, w->key, PACS_KEY_HEX + 1);
    return PACS_OK;
}

pacs_err pacs_objstore_path(const pacs_objstore *os, const char *key, char *buf, size_t cap)
{
    if (!pacs_key_valid(key)) {
        return PACS_EINVAL;
    }
    int n = snprintf(buf, cap, "%s/%.2s/%.2s/%s", os->root, key, key + 2, key);
    return n > 0 && (size_t)n < cap ? PACS_OK : PACS_ETOOBIG;
}

/* Renames the object into place at `final_path`, or finds the identical one there (`*renamed`
 * tells which). */
static pacs_err place(pacs_objwriter *w, char *final_path, size_t cap, int *renamed,
                      pacs_errinfo *ei)
{
    char key[PACS_KEY_HEX + 1], dir[4096];
    pacs_objstore *os = w->os;
    *renamed = 0;
    pacs_err err = pacs_objwriter_key(w, key, ei);
    if (err != PACS_OK) {
        return err;
    }
    pacs_objstore_path(os, key, final_path, cap);
    struct stat sb;
    if (stat(final_path, &sb) == 0 && (uint64_t)sb.st_size == w->size &&
        pacs_objstore_verify(os, key, NULL, NULL) == PACS_OK) {
        /* The identical object is already there: this copy is not needed. (A stored copy that
         * no longer hashes to its name is replaced below by this good one: a resend repairs
         * it.) It may have been renamed an instant ago by a concurrent ingest whose flush is
         * still to come, so the caller flushes all the same. */
        return PACS_OK;
    }
    /* The rename is tried first: its folders exist but for the first objects of a prefix.
     * New folders are made durable by the flush. */
    int rc = rename(w->path, final_path);
    if (rc != 0 && errno == ENOENT) {
        snprintf(dir, sizeof dir, "%s/%.2s/%.2s", os->root, key, key + 2);
        err = make_leaf(dir, strlen(os->root) + 3, ei);
        if (err != PACS_OK) {
            return err;
        }
        rc = rename(w->path, final_path);
    }
    if (rc != 0) {
        return pacs_errf(ei, pacs_err_from_errno(errno), "rename into the store: %s",
                         strerror(errno));
    }
    w->path[0] = '\0';
    *renamed = 1;
    return PACS_OK;
}

pacs_err pacs_objstore_flush(pacs_objstore *os, pacs_errinfo *ei)
{
    if (group_flush(os) != 0) {
        return pacs_errf(ei, pacs_err_from_errno(errno), "fsync of object: %s", strerror(errno));
    }
    return PACS_OK;
}

pacs_err pacs_objwriter_commit(pacs_objwriter *w, pacs_errinfo *ei)
{
    char final_path[4096];
    int renamed = 0;
    pacs_objstore *os = w->os;
    pacs_err err = place(w, final_path, sizeof final_path, &renamed, ei);
    pacs_objwriter_abort(w);
    if (err == PACS_OK) {
        err = pacs_objstore_flush(os, ei);
    }
    if (err != PACS_OK && renamed) {
        /* The flush failed (renamed means placing worked): the cached pages may look right
         * while the disk is not, so the copy goes and a resend writes it again. */
        unlink(final_path);
    }
    return err;
}

pacs_err pacs_objwriter_place(pacs_objwriter *w, pacs_errinfo *ei)
{
    char final_path[4096];
    int renamed = 0;
    pacs_err err = place(w, final_path, sizeof final_path, &renamed, ei);
    pacs_objwriter_abort(w);
    return err;
}

void pacs_objwriter_abort(pacs_objwriter *w)
{
    if (!w) {
        return;
    }
    if (w->fd >= 0) {
        close(w->fd);
    }
    if (w->path[0]) {
        unlink(w->path);
    }
    EVP_MD_CTX_free(w->md);
    free(w);
}

pacs_err pacs_objstore_open_read(const pacs_objstore *os, const char *key, int *fd,
                                 pacs_errinfo *ei)
{
    char path[4096];
    if (pacs_objstore_path(os, key, path, sizeof path) != PACS_OK) {
        return pacs_errf(ei, PACS_EINVAL, "bad object key");
    }
    int f = open(path, O_RDONLY | O_CLOEXEC);
    if (f < 0) {
        return pacs_errf(ei, pacs_err_from_errno(errno), "object %s: %s", key, strerror(errno));
    }
    *fd = f;
    return PACS_OK;
}

pacs_err pacs_objstore_remove(pacs_objstore *os, const char *key, pacs_errinfo *ei)
{
    char path[4096], dir[4096];
    if (pacs_objstore_path(os, key, path, sizeof path) != PACS_OK) {
        return pacs_errf(ei, PACS_EINVAL, "bad object key");
    }
    if (unlink(path) != 0) {
        if (errno == ENOENT) {
            return PACS_OK;
        }
        return pacs_errf(ei, pacs_err_from_errno(errno), "unlink %s: %s", path, strerror(errno));
    }
    snprintf(dir, sizeof dir, "%s/%.2s/%.2s", os->root, key, key + 2);
    fsync_dir(dir);
    return PACS_OK;
}

pacs_err pacs_objstore_verify(const pacs_objstore *os, const char *key, uint64_t *size,
                              pacs_errinfo *ei)
{
    int fd = -1;
    pacs_err err = pacs_objstore_open_read(os, key, &fd, ei);
    if (err != PACS_OK) {
        return err;
    }
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    if (!md || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
        close(fd);
        EVP_MD_CTX_free(md);
        return pacs_errf(ei, PACS_ENOMEM, "cannot start SHA-256");
    }
    static __thread unsigned char buf[1 << 17];
    uint64_t total = 0;
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            err = pacs_errf(ei, PACS_EIO, "reading object %s: %s", key, strerror(errno));
            break;
        }
        if (n == 0) {
            break;
        }
        EVP_DigestUpdate(md, buf, (size_t)n);
        total += (uint64_t)n;
    }
    close(fd);
    if (err == PACS_OK) {
        unsigned char d[32];
        unsigned int dn = 0;
        char hex[PACS_KEY_HEX + 1];
        EVP_DigestFinal_ex(md, d, &dn);
        to_hex(d, 32, hex);
        if (strcmp(hex, key) != 0) {
            err = pacs_errf(ei, PACS_ECORRUPT, "object %s: content hashes to %s", key, hex);
        } else if (size) {
            *size = total;
        }
    }
    EVP_MD_CTX_free(md);
    return err;
}

static int hex2(const char *s)
{
    return strlen(s) == 2 && strspn(s, "0123456789abcdef") == 2;
}

pacs_err pacs_objstore_foreach(const pacs_objstore *os, pacs_objstore_cb cb, void *ctx,
                               pacs_errinfo *ei)
{
    DIR *d1 = opendir(os->root);
    if (!d1) {
        return pacs_errf(ei, pacs_err_from_errno(errno), "cannot list %s: %s", os->root,
                         strerror(errno));
    }
    int stop = 0;
    struct dirent *e1;
    while (!stop && (e1 = readdir(d1)) != NULL) {
        if (!hex2(e1->d_name)) {
            continue;
        }
        char p1[4096];
        if (snprintf(p1, sizeof p1, "%s/%s", os->root, e1->d_name) >= (int)sizeof p1) {
            continue;
        }
        DIR *d2 = opendir(p1);
        if (!d2) {
            continue;
        }
        struct dirent *e2;
        while (!stop && (e2 = readdir(d2)) != NULL) {
            if (!hex2(e2->d_name)) {
                continue;
            }
            char p2[4096];
            if (snprintf(p2, sizeof p2, "%s/%s", p1, e2->d_name) >= (int)sizeof p2) {
                continue;
            }
            DIR *d3 = opendir(p2);
            if (!d3) {
                continue;
            }
            struct dirent *e3;
            while (!stop && (e3 = readdir(d3)) != NULL) {
                if (e3->d_name[0] == '.') {
                    continue;
                }
                char p3[4096];
                if (snprintf(p3, sizeof p3, "%s/%s", p2, e3->d_name) >= (int)sizeof p3) {
                    continue;
                }
                struct stat sb;
                if (stat(p3, &sb) != 0 || !S_ISREG(sb.st_mode)) {
                    continue;
                }
                int ok = pacs_key_valid(e3->d_name) && strncmp(e3->d_name, e1->d_name, 2) == 0 &&
                         strncmp(e3->d_name + 2, e2->d_name, 2) == 0;
                stop = cb(ctx, ok ? e3->d_name : "", (uint64_t)sb.st_size, p3);
            }
            closedir(d3);
        }
        closedir(d2);
    }
    closedir(d1);
    return PACS_OK;
}
