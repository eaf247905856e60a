// SPDX-License-Identifier: MIT
/*
 * Backup and restore of a data folder (backup.h): a consistent copy of the SQLite index by
 * SQLite's online backup API, then the objects that copy refers to (only those not yet in the
 * destination, hashed on the way), the audit trail, the share key and the configuration file;
 * and the way back into an empty data folder. This file owns the backup folder's layout.
 *
 * Load: one pass over every new object's bytes; the index copy holds one read transaction of
 * the live index (WAL: pacsd's writers go on). Single-threaded.
 */
#define _GNU_SOURCE /* syncfs */
#include "storage/backup.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "pacs/base/log.h"
#include "storage/archive_internal.h"
#include "storage/index.h"
#include "storage/objstore.h"

#define PATH_CAP 4096
#define ATTEMPTS 3

/* ---- the objects an index refers to ---- */

typedef struct obj {
    char key[PACS_KEY_HEX + 1];
    uint64_t size;
} obj;

typedef struct objset {
    obj *v;
    size_t n, cap;
    int oom;
} objset;

static int collect_cb(void *ctx, const char *object, uint64_t size, const char *sop_uid)
{
    (void)sop_uid;
    objset *s = ctx;
    if (!pacs_key_valid(object)) {
        return 0;
    }
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 1024;
        obj *v = realloc(s->v, cap * sizeof *v);
        if (!v) {
            s->oom = 1;
            return 1;
        }
        s->v = v;
        s->cap = cap;
    }
    memcpy(s->v[s->n].key, object, PACS_KEY_HEX + 1);
    s->v[s->n++].size = size;
    return 0;
}

static int obj_cmp(const void *a, const void *b)
{
    return strcmp(((const obj *)a)->key, ((const obj *)b)->key);
}

/* The objects the index at `location` refers to, sorted by key. */
static pacs_err collect_objects(const char *location, objset *s, pacs_errinfo *ei)
{
    pacs_index *idx = NULL;
    s->n = 0;
    s->oom = 0;
    pacs_err err = pacs_index_open(location, &idx, ei);
    if (err == PACS_OK) {
        err = pacs_index_objects(idx, collect_cb, s, ei);
    }
    pacs_index_close(idx);
    if (err == PACS_OK && s->oom) {
        err = pacs_errf(ei, PACS_ENOMEM, "out of memory listing objects");
    }
    if (err == PACS_OK) {
        qsort(s->v, s->n, sizeof *s->v, obj_cmp);
    }
    return err;
}

static int objset_has(const objset *s, const char *key)
{
    obj k;
    snprintf(k.key, sizeof k.key, "%s", key);
    return bsearch(&k, s->v, s->n, sizeof *s->v, obj_cmp) != NULL;
}

/* ---- files ---- */

static pacs_err mkdir_p(const char *path, mode_t mode, pacs_errinfo *ei)
{
    char buf[PATH_CAP];
    if (snprintf(buf, sizeof buf, "%s", path) >= (int)sizeof buf) {
        return pacs_errf(ei, PACS_EINVAL, "path too long: %s", path);
    }
    for (char *p = buf + 1;; p++) {
        if (*p == '/' || *p == '\0') {
            char c = *p;
            *p = '\0';
            if (mkdir(buf, mode) != 0 && errno != EEXIST) {
                return pacs_errf(ei, pacs_err_from_errno(errno), "mkdir %s: %s", buf,
                                 strerror(errno));
            }
            *p = c;
            if (c == '\0') {
                break;
            }
        }
    }
    return PACS_OK;
}

static pacs_err fsync_path(const char *path, pacs_errinfo *ei)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fsync(fd) != 0) {
        int e = errno;
        if (fd >= 0) {
            close(fd);
        }
        return pacs_errf(ei, pacs_err_from_errno(e), "fsync %s: %s", path, strerror(e));
    }
    close(fd);
    return PACS_OK;
}

/* Flushes the file system that holds `dir` (every file copied so far). */
static pacs_err flush_fs(const char *dir, pacs_errinfo *ei)
{
    int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0 || syncfs(fd) != 0) {
        int e = errno;
        if (fd >= 0) {
            close(fd);
        }
        return pacs_errf(ei, pacs_err_from_errno(e), "syncfs %s: %s", dir, strerror(e));
    }
    close(fd);
    return PACS_OK;
}

/*
 * Copies `src` to `dst` through a temporary file in `tmp_dir` and a rename, so that `dst` is
 * either absent or whole. With `key`, the bytes must hash (SHA-256) to it: PACS_ECORRUPT
 * otherwise, and nothing is renamed. PACS_ENOTFOUND when `src` is missing. Not flushed: the
 * caller flushes the file system once.
 */
static pacs_err copy_file(const char *src, const char *dst, const char *tmp_dir, const char *key,
                          mode_t mode, uint64_t *bytes, pacs_errinfo *ei)
{
    enum { BUF = 1 << 20 };
    char tmp[PATH_CAP];
    char *buf = malloc(BUF);
    pacs_err err = PACS_OK;
    uint64_t n = 0;
    int in = -1, out = -1;
    EVP_MD_CTX *md = NULL;
    snprintf(tmp, sizeof tmp, "%s/copy.XXXXXX", tmp_dir);
    if (!buf) {
        tmp[0] = '\0';
        err = pacs_errf(ei, PACS_ENOMEM, "out of memory copying %s", src);
        goto fail;
    }
    in = open(src, O_RDONLY | O_CLOEXEC);
    if (in < 0) {
        err = errno == ENOENT
                  ? pacs_errf(ei, PACS_ENOTFOUND, "%s: missing", src)
                  : pacs_errf(ei, pacs_err_from_errno(errno), "open %s: %s", src, strerror(errno));
        tmp[0] = '\0';
        goto fail;
    }
    out = mkstemp(tmp);
    if (out < 0) {
        err =
            pacs_errf(ei, pacs_err_from_errno(errno), "create in %s: %s", tmp_dir, strerror(errno));
        tmp[0] = '\0';
        goto fail;
    }
    if (key) {
        md = EVP_MD_CTX_new();
        if (!md || EVP_DigestInit_ex(md, EVP_sha256(), NULL) != 1) {
            err = pacs_errf(ei, PACS_ENOMEM, "SHA-256 context");
            goto fail;
        }
    }
    for (;;) {
        ssize_t r = read(in, buf, BUF);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r < 0) {
            err = pacs_errf(ei, PACS_EIO, "read %s: %s", src, strerror(errno));
            goto fail;
        }
        if (r == 0) {
            break;
        }
        if (md && EVP_DigestUpdate(md, buf, (size_t)r) != 1) {
            err = pacs_errf(ei, PACS_EIO, "SHA-256 of %s", src);
            goto fail;
        }
        for (ssize_t off = 0; off < r;) {
            ssize_t w = write(out, buf + off, (size_t)(r - off));
            if (w < 0 && errno == EINTR) {
                continue;
            }
            if (w < 0) {
                err =
                    pacs_errf(ei, pacs_err_from_errno(errno), "write %s: %s", dst, strerror(errno));
                goto fail;
            }
            off += w;
        }
        n += (uint64_t)r;
    }
    if (md) {
        unsigned char d[32];
        unsigned dlen = 0;
        char hex[PACS_KEY_HEX + 1];
        if (EVP_DigestFinal_ex(md, d, &dlen) != 1 || dlen != sizeof d) {
            err = pacs_errf(ei, PACS_EIO, "SHA-256 of %s", src);
            goto fail;
        }
        for (unsigned i = 0; i < dlen; i++) {
            snprintf(hex + 2 * i, 3, "%02x", d[i]);
        }
        if (strcmp(hex, key) != 0) {
            err = pacs_errf(ei, PACS_ECORRUPT, "%s: its bytes no longer hash to its name", src);
            goto fail;
        }
    }
    if (fchmod(out, mode) != 0 || close(out) != 0) {
        out = -1;
        err = pacs_errf(ei, pacs_err_from_errno(errno), "write %s: %s", dst, strerror(errno));
        goto fail;
    }
    out = -1;
    if (rename(tmp, dst) != 0) {
        err = pacs_errf(ei, pacs_err_from_errno(errno), "rename to %s: %s", dst, strerror(errno));
        goto fail;
    }
    tmp[0] = '\0';
    *bytes += n;
fail:
    free(buf);
    EVP_MD_CTX_free(md);
    if (in >= 0) {
        close(in);
    }
    if (out >= 0) {
        close(out);
    }
    if (tmp[0]) {
        unlink(tmp);
    }
    return err;
}

static int same_size(const char *a, const char *b)
{
    struct stat sa, sb;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_size == sb.st_size;
}

/* Copies the objects in `s` from the folder `from` into `to` (both ROOT/ab/cd/<key>) unless
 * they are there with their size; counts into `r`. Corrupt and missing sources are counted,
 * not errors. */
static pacs_err copy_objects(const objset *s, const char *from, const char *to, const char *tmp_dir,
                             pacs_progress_cb progress, void *ctx, pacs_backup_report *r,
                             pacs_errinfo *ei)
{
    char src[PATH_CAP], dst[PATH_CAP + 80], dir[PATH_CAP];
    for (size_t i = 0; i < s->n; i++) {
        const char *k = s->v[i].key;
        snprintf(src, sizeof src, "%s/%.2s/%.2s/%s", from, k, k + 2, k);
        snprintf(dir, sizeof dir, "%s/%.2s/%.2s", to, k, k + 2);
        snprintf(dst, sizeof dst, "%s/%s", dir, k);
        struct stat st;
        if (stat(dst, &st) == 0 && (uint64_t)st.st_size == s->v[i].size) {
            r->present++;
        } else {
            pacs_err err = mkdir_p(dir, 0755, ei);
            uint64_t bytes = 0;
            if (err == PACS_OK) {
                err = copy_file(src, dst, tmp_dir, k, 0644, &bytes, ei);
            }
            if (err == PACS_OK) {
                r->copied++;
                r->copied_bytes += bytes;
            } else if (err == PACS_ENOTFOUND) {
                r->missing++;
            } else if (err == PACS_ECORRUPT) {
                r->corrupt++;
                pacs_log(PACS_LOG_WARN, "backup", "object=%s corrupt: not copied", k);
            } else {
                return err;
            }
        }
        if (progress) {
            progress(ctx, i + 1, s->n);
        }
    }
    return PACS_OK;
}

/* Copies the files of folder `from` (the audit trail's days) into `to` when new or of another size.
 */
static pacs_err copy_folder(const char *from, const char *to, const char *tmp_dir,
                            pacs_backup_report *r, pacs_errinfo *ei)
{
    char src[PATH_CAP + 256], dst[PATH_CAP + 256];
    DIR *d = opendir(from);
    if (!d) {
        return errno == ENOENT ? PACS_OK
                               : pacs_errf(ei, pacs_err_from_errno(errno), "open %s: %s", from,
                                           strerror(errno));
    }
    pacs_err err = mkdir_p(to, 0750, ei);
    struct dirent *e;
    while (err == PACS_OK && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') {
            continue;
        }
        snprintf(src, sizeof src, "%s/%s", from, e->d_name);
        snprintf(dst, sizeof dst, "%s/%s", to, e->d_name);
        struct stat st;
        if (stat(src, &st) != 0 || !S_ISREG(st.st_mode) || same_size(src, dst)) {
            continue;
        }
        uint64_t bytes = 0;
        err = copy_file(src, dst, tmp_dir, NULL, 0640, &bytes, ei);
        if (err == PACS_OK) {
            r->audit_files++;
            r->audit_bytes += bytes;
        }
    }
    closedir(d);
    return err;
}

/* Copies one small file when it is there (share.key, the configuration): `*copied` says so. */
static pacs_err copy_if_present(const char *src, const char *dst, const char *tmp_dir, int *copied,
                                pacs_errinfo *ei)
{
    uint64_t bytes = 0;
    pacs_err err = copy_file(src, dst, tmp_dir, NULL, 0600, &bytes, ei);
    if (err == PACS_ENOTFOUND) {
        return PACS_OK;
    }
    if (err == PACS_OK && copied) {
        *copied = 1;
    }
    return err;
}

/* Removes what an interrupted run left in a temporary folder. */
static void clean_dir(const char *dir)
{
    char path[PATH_CAP + 256];
    DIR *d = opendir(dir);
    if (!d) {
        return;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] != '.') {
            snprintf(path, sizeof path, "%s/%s", dir, e->d_name);
            unlink(path);
        }
    }
    closedir(d);
}

/* Removes a SQLite file and the journals beside it. */
static void remove_db(const char *path)
{
    static const char *const ext[] = {"", "-wal", "-shm", "-journal"};
    char p[PATH_CAP];
    for (size_t i = 0; i < sizeof ext / sizeof ext[0]; i++) {
        snprintf(p, sizeof p, "%s%s", path, ext[i]);
        unlink(p);
    }
}

/* ---- the index ---- */

/* Copies the live SQLite index `from` into the new file `to` in one read transaction. */
static pacs_err snapshot_index(const char *from, const char *to, pacs_errinfo *ei)
{
    sqlite3 *src = NULL, *dst = NULL;
    pacs_err err = PACS_OK;
    remove_db(to);
    int rc = sqlite3_open_v2(from, &src, SQLITE_OPEN_READONLY, NULL);
    if (rc == SQLITE_OK) {
        sqlite3_busy_timeout(src, 30000);
        rc = sqlite3_open_v2(to, &dst, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE, NULL);
    }
    if (rc == SQLITE_OK) {
        sqlite3_backup *b = sqlite3_backup_init(dst, "main", src, "main");
        if (!b) {
            rc = sqlite3_errcode(dst);
        } else {
            /* -1: every page in one step, so in one read transaction of the source. */
            rc = sqlite3_backup_step(b, -1);
            int frc = sqlite3_backup_finish(b);
            rc = rc == SQLITE_DONE ? frc : rc;
        }
    }
    if (rc != SQLITE_OK) {
        err = pacs_errf(ei, PACS_EDB, "copy of the index %s: %s", from,
                        dst   ? sqlite3_errmsg(dst)
                        : src ? sqlite3_errmsg(src)
                              : "cannot open");
    }
    sqlite3_close(dst);
    sqlite3_close(src);
    if (err == PACS_OK) {
        err = fsync_path(to, ei);
    }
    return err;
}

static int is_postgresql(const char *location)
{
    return strncmp(location, "postgresql:", 11) == 0 || strncmp(location, "postgres:", 9) == 0;
}

void pacs_backup_pg_dump_command(const char *location, const char *dest, char *buf, size_t cap)
{
    snprintf(buf, cap, "pg_dump --format=custom --file='%s/index.pgdump' '%s'", dest, location);
}

/* Writes DEST/BACKUP, the folder's description, durably. */
static pacs_err write_manifest(const char *dest, int sqlite, const pacs_backup_report *r,
                               pacs_errinfo *ei)
{
    char path[PATH_CAP], tmp[PATH_CAP], when[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    snprintf(path, sizeof path, "%s/BACKUP", dest);
    snprintf(tmp, sizeof tmp, "%s/BACKUP.tmp", dest);
    FILE *f = fopen(tmp, "w");
    if (!f) {
        return pacs_errf(ei, pacs_err_from_errno(errno), "create %s: %s", tmp, strerror(errno));
    }
    fprintf(f, "pacs-backup 1\nindex=%s\ncreated=%s\nobjects=%llu\n",
            sqlite ? "sqlite" : "postgresql", when, (unsigned long long)r->objects);
    if (fflush(f) != 0 || fsync(fileno(f)) != 0) {
        fclose(f);
        return pacs_errf(ei, PACS_EIO, "write %s: %s", tmp, strerror(errno));
    }
    if (fclose(f) != 0 || rename(tmp, path) != 0) {
        return pacs_errf(ei, PACS_EIO, "write %s: %s", path, strerror(errno));
    }
    return fsync_path(dest, ei);
}

/* "sqlite", "postgresql", or "" when `dir` holds no backup. */
static void read_manifest(const char *dir, char *index, size_t cap)
{
    char path[PATH_CAP], line[256];
    index[0] = '\0';
    snprintf(path, sizeof path, "%s/BACKUP", dir);
    FILE *f = fopen(path, "r");
    if (!f) {
        return;
    }
    if (fgets(line, sizeof line, f) && strcmp(line, "pacs-backup 1\n") == 0) {
        while (fgets(line, sizeof line, f)) {
            if (strncmp(line, "index=", 6) == 0) {
                snprintf(index, cap, "%.*s", (int)strcspn(line + 6, "\n"), line + 6);
            }
        }
    }
    fclose(f);
}

/* ---- backup ---- */

typedef struct prune_ctx {
    const objset *keep;
    uint64_t removed;
} prune_ctx;

static int prune_cb(void *ctx, const char *key, uint64_t size, const char *path)
{
    (void)size;
    prune_ctx *p = ctx;
    if (key[0] && !objset_has(p->keep, key) && unlink(path) == 0) {
        p->removed++;
    }
    return 0;
}

/* Removes the objects of DEST/objects that the index copy no longer refers to. */
static pacs_err prune(const char *objects, const char *tmp, const objset *keep, uint64_t *n,
                      pacs_errinfo *ei)
{
    pacs_objstore *os = NULL;
    prune_ctx p = {keep, 0};
    pacs_err err = pacs_objstore_open(objects, tmp, &os, ei);
    if (err == PACS_OK) {
        err = pacs_objstore_foreach(os, prune_cb, &p, ei);
    }
    pacs_objstore_close(os);
    *n = p.removed;
    return err;
}

pacs_err pacs_backup_run(const pacs_config *cfg, const char *dest, const char *config_file,
                         pacs_progress_cb progress, void *ctx, pacs_backup_report *out,
                         pacs_errinfo *ei)
{
    char location[PATH_CAP], node[256], src_objects[PATH_CAP], src_tmp[PATH_CAP];
    char d_objects[PATH_CAP], d_tmp[PATH_CAP], d_index[PATH_CAP], d_new[PATH_CAP];
    char path[PATH_CAP], path2[PATH_CAP];
    const char *data = pacs_config_str(cfg, "data");
    pacs_backup_report r;
    objset s = {0};
    memset(&r, 0, sizeof r);
    int lock = -1;
    pacs_archive__index_location(cfg, location, sizeof location);
    pacs_archive__node_name(cfg, node, sizeof node);
    pacs_archive__store_dirs(cfg, node, src_objects, src_tmp, sizeof src_objects);
    int sqlite = !is_postgresql(location);
    snprintf(d_objects, sizeof d_objects, "%s/objects", dest);
    snprintf(d_tmp, sizeof d_tmp, "%s/tmp", dest);
    snprintf(d_index, sizeof d_index, "%s/index.sqlite", dest);
    snprintf(d_new, sizeof d_new, "%s/index.sqlite.new", dest);
    pacs_err err = mkdir_p(d_objects, 0750, ei);
    if (err == PACS_OK) {
        err = mkdir_p(d_tmp, 0750, ei);
    }
    if (err != PACS_OK) {
        goto fail;
    }
    snprintf(path, sizeof path, "%s/backup.lock", dest);
    lock = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
    if (lock < 0 || flock(lock, LOCK_EX | LOCK_NB) != 0) {
        err = errno == EWOULDBLOCK
                  ? pacs_errf(ei, PACS_EBUSY, "another backup into %s is running", dest)
                  : pacs_errf(ei, pacs_err_from_errno(errno), "%s: %s", path, strerror(errno));
        goto fail;
    }
    clean_dir(d_tmp);
    /* The index copy first, then the objects it refers to: they were on disk before their
     * rows committed. One deleted since (a delete, a changed resend) makes a fresh copy. */
    for (int attempt = 1;; attempt++) {
        uint64_t copied = r.copied, bytes = r.copied_bytes;
        memset(&r, 0, sizeof r);
        r.copied = copied;
        r.copied_bytes = bytes;
        err = sqlite ? snapshot_index(location, d_new, ei) : PACS_OK;
        if (err == PACS_OK) {
            err = collect_objects(sqlite ? d_new : location, &s, ei);
        }
        if (err == PACS_OK) {
            r.objects = s.n;
            err = copy_objects(&s, src_objects, d_objects, d_tmp, progress, ctx, &r, ei);
        }
        if (err != PACS_OK) {
            goto fail;
        }
        if (r.missing == 0 || !sqlite || attempt == ATTEMPTS) {
            break;
        }
        pacs_log(PACS_LOG_INFO, "backup", "missing=%llu deleted meanwhile: copying the index again",
                 (unsigned long long)r.missing);
    }
    /* With PostgreSQL an object gone since it was listed was deleted: the dump taken after
     * this backup (backup.h) does not name it, so it is only counted. With SQLite the index
     * copy names it: the previous index copy stays, with all of its objects. */
    if (r.missing > 0 && sqlite) {
        err = pacs_errf(ei, PACS_EIO, "%llu object(s) the index refers to vanished meanwhile",
                        (unsigned long long)r.missing);
        goto fail;
    }
    /* The audit trail after the index copy, so that it holds at least what the index does. */
    snprintf(path, sizeof path, "%s/audit", data);
    snprintf(path2, sizeof path2, "%s/audit", dest);
    err = copy_folder(path, path2, d_tmp, &r, ei);
    if (err == PACS_OK) {
        int dummy = 0;
        snprintf(path, sizeof path, "%s/share.key", data);
        snprintf(path2, sizeof path2, "%s/share.key", dest);
        err = copy_if_present(path, path2, d_tmp, &dummy, ei);
    }
    if (err == PACS_OK && config_file) {
        snprintf(path2, sizeof path2, "%s/pacsd.conf", dest);
        err = copy_if_present(config_file, path2, d_tmp, &r.config_copied, ei);
    }
    if (err == PACS_OK) {
        err = flush_fs(dest, ei);
    }
    if (err != PACS_OK) {
        goto fail;
    }
    if (sqlite) {
        if (rename(d_new, d_index) != 0) {
            err = pacs_errf(ei, pacs_err_from_errno(errno), "rename to %s: %s", d_index,
                            strerror(errno));
            goto fail;
        }
        r.index_copied = 1;
    }
    err = write_manifest(dest, sqlite, &r, ei);
    if (err == PACS_OK) {
        err = prune(d_objects, d_tmp, &s, &r.pruned, ei);
    }
    if (err == PACS_OK && r.corrupt > 0) {
        err = pacs_errf(ei, PACS_ECORRUPT, "%llu object(s) of the archive are corrupt",
                        (unsigned long long)r.corrupt);
    }
    if (err == PACS_OK || err == PACS_ECORRUPT) {
        *out = r;
    }
fail:
    if (err != PACS_OK && err != PACS_ECORRUPT) {
        remove_db(d_new);
    }
    free(s.v);
    if (lock >= 0) {
        close(lock);
    }
    return err;
}

/* ---- restore ---- */

static int dir_empty_or_absent(const char *dir, pacs_errinfo *ei, pacs_err *err)
{
    DIR *d = opendir(dir);
    if (!d) {
        if (errno == ENOENT) {
            return 1;
        }
        *err = pacs_errf(ei, pacs_err_from_errno(errno), "%s: %s", dir, strerror(errno));
        return 0;
    }
    struct dirent *e;
    int empty = 1;
    while (empty && (e = readdir(d)) != NULL) {
        empty = strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0;
    }
    closedir(d);
    if (!empty) {
        *err = pacs_errf(ei, PACS_EEXIST,
                         "%s is not empty: restore only into an empty or new data folder", dir);
    }
    return empty;
}

static int walk_cb(void *ctx, const char *key, uint64_t size, const char *path)
{
    (void)path;
    return key[0] ? collect_cb(ctx, key, size, "") : 0;
}

pacs_err pacs_backup_restore(const char *src, const char *data_dir, pacs_progress_cb progress,
                             void *ctx, pacs_backup_report *out, pacs_errinfo *ei)
{
    char kind[32], s_objects[PATH_CAP], d_objects[PATH_CAP], d_tmp[PATH_CAP];
    char path[PATH_CAP], path2[PATH_CAP], d_new[PATH_CAP];
    pacs_backup_report r;
    objset s = {0};
    pacs_objstore *os = NULL;
    memset(&r, 0, sizeof r);
    pacs_err err = PACS_OK;
    read_manifest(src, kind, sizeof kind);
    if (strcmp(kind, "sqlite") != 0 && strcmp(kind, "postgresql") != 0) {
        return pacs_errf(ei, PACS_EINVAL, "%s holds no backup made by pacs backup (no BACKUP file)",
                         src);
    }
    if (!dir_empty_or_absent(data_dir, ei, &err)) {
        return err;
    }
    int sqlite = strcmp(kind, "sqlite") == 0;
    snprintf(s_objects, sizeof s_objects, "%s/objects", src);
    snprintf(d_objects, sizeof d_objects, "%s/objects", data_dir);
    snprintf(d_tmp, sizeof d_tmp, "%s/tmp", data_dir);
    snprintf(d_new, sizeof d_new, "%s/index.sqlite.restoring", data_dir);
    err = mkdir_p(d_objects, 0750, ei);
    if (err == PACS_OK) {
        err = mkdir_p(d_tmp, 0750, ei);
    }
    if (err == PACS_OK && sqlite) {
        /* The index is copied under another name first and put in place last: its objects
         * are listed from the copy, so the backup folder is only read. */
        uint64_t bytes = 0;
        snprintf(path, sizeof path, "%s/index.sqlite", src);
        err = copy_file(path, d_new, d_tmp, NULL, 0640, &bytes, ei);
        if (err == PACS_OK) {
            err = collect_objects(d_new, &s, ei);
        }
    } else if (err == PACS_OK) {
        err = pacs_objstore_open(s_objects, d_tmp, &os, ei);
        if (err == PACS_OK) {
            err = pacs_objstore_foreach(os, walk_cb, &s, ei);
        }
        if (err == PACS_OK && s.oom) {
            err = pacs_errf(ei, PACS_ENOMEM, "out of memory listing objects");
        }
    }
    if (err == PACS_OK) {
        r.objects = s.n;
        err = copy_objects(&s, s_objects, d_objects, d_tmp, progress, ctx, &r, ei);
    }
    if (err == PACS_OK) {
        snprintf(path, sizeof path, "%s/audit", src);
        snprintf(path2, sizeof path2, "%s/audit", data_dir);
        err = copy_folder(path, path2, d_tmp, &r, ei);
    }
    if (err == PACS_OK) {
        int dummy = 0;
        snprintf(path, sizeof path, "%s/share.key", src);
        snprintf(path2, sizeof path2, "%s/share.key", data_dir);
        err = copy_if_present(path, path2, d_tmp, &dummy, ei);
    }
    if (err == PACS_OK) {
        err = flush_fs(data_dir, ei);
    }
    if (err == PACS_OK && sqlite) {
        snprintf(path, sizeof path, "%s/index.sqlite", data_dir);
        if (rename(d_new, path) != 0) {
            err = pacs_errf(ei, pacs_err_from_errno(errno), "rename to %s: %s", path,
                            strerror(errno));
        } else {
            r.index_copied = 1;
            err = fsync_path(data_dir, ei);
        }
    }
    if (err == PACS_OK && (r.missing > 0 || r.corrupt > 0)) {
        err = pacs_errf(ei, PACS_ECORRUPT, "%llu object(s) of the backup missing, %llu corrupt",
                        (unsigned long long)r.missing, (unsigned long long)r.corrupt);
    }
    if (err == PACS_OK || err == PACS_ECORRUPT) {
        *out = r;
    }
    pacs_objstore_close(os);
    free(s.v);
    return err;
}
