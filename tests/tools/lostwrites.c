// SPDX-License-Identifier: MIT
/*
 * A power cut, emulated: an LD_PRELOAD library that journals every change a process makes
 * under one folder, and every flush that succeeds, so that tests/tools/lostwrites_undo can
 * throw away all that was not flushed once the process is killed (tests/test_power_cut.sh).
 * A kill -9 alone loses nothing the kernel already has; this loses what a disk without power
 * would: every write, truncation, new or removed name since the flush that covered it.
 *
 *   LOST_PREFIX=/data/folder/   the folder watched (paths are compared as given, made absolute)
 *   LOST_JOURNAL=/work/journal  the journal (lostwrites.h), appended to
 *   LOST_SIDE=/work/side        a folder on the same file system for side links, which keep
 *                               each inode the journal names reachable after a rename or unlink
 *
 * The model is POSIX's, not one file system's: fsync or fdatasync of a file makes its data and
 * size durable, not its name; fsync of a folder makes the names created, removed or renamed in
 * it durable (a rename needs both folders); syncfs and sync make everything durable. Writes to
 * files opened O_SYNC or O_DSYNC are durable at once. Not seen: stdio's writes (glibc calls its
 * own functions internally), mmap, fallocate and the *at forms other than openat, renameat and
 * unlinkat; pacsd's data path uses none of them for what must survive.
 *
 * What a change destroys (the bytes it overwrites, the file a name loses: kept by a side link)
 * is taken before it is made; the change is journaled once it succeeded, under one lock that
 * also covers the change, so the journal's order is the order of the changes. A kill between
 * the two leaves that one change in place, as a disk may also do. A flush is journaled after it
 * succeeds and covers the changes journaled before it started.
 */
#define _GNU_SOURCE
/* The build asks for 64-bit file offsets, which renames open, pwrite... to their *64 forms;
 * this file defines both forms itself. */
#undef _FILE_OFFSET_BITS
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#include "lostwrites.h"

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static uint64_t last_seq; /* under mu */
static int journal_fd = -1;

/* The libc function (or a sanitizer's in front of it) that `name` stands in front of. */
#define NEXT(type, name)                                                                           \
    static type next_##name;                                                                       \
    if (!next_##name) {                                                                            \
        *(void **)&next_##name = dlsym(RTLD_NEXT, #name);                                          \
    }

typedef ssize_t (*write_fn)(int, const void *, size_t);
typedef ssize_t (*pwrite_fn)(int, const void *, size_t, off_t);
typedef ssize_t (*writev_fn)(int, const struct iovec *, int);
typedef int (*ftruncate_fn)(int, off_t);
typedef int (*fd_fn)(int);
typedef int (*open_fn)(const char *, int, ...);
typedef int (*openat_fn)(int, const char *, int, ...);
typedef int (*tmpl_fn)(char *);
typedef int (*tmpl_flags_fn)(char *, int);
typedef int (*unlinkat_fn)(int, const char *, int);
typedef int (*rename_fn)(const char *, const char *);
typedef int (*renameat_fn)(int, const char *, int, const char *);
typedef int (*mkdir_fn)(const char *, mode_t);
typedef void (*sync_fn)(void);

/* ---- paths ---- */

/* Appends fd in decimal to buf ("/proc/self/fd/"), without snprintf (see join). */
static void fd_name(char *buf, int fd)
{
    char digits[16];
    int n = 0;
    unsigned v = (unsigned)fd;
    do {
        digits[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v && n < 15);
    size_t len = strlen(buf);
    while (n > 0) {
        buf[len++] = digits[--n];
    }
    buf[len] = '\0';
}

/* Under the folder watched, or the folder itself (whose fsync makes its names durable). */
static int watched(const char *abs)
{
    const char *prefix = getenv("LOST_PREFIX");
    if (!prefix || !prefix[0]) {
        return 0;
    }
    size_t n = strlen(prefix);
    if (strncmp(abs, prefix, n) == 0) {
        return 1;
    }
    return n > 1 && prefix[n - 1] == '/' && strlen(abs) == n - 1 &&
           strncmp(abs, prefix, n - 1) == 0;
}

/* out = a "/" b (b may be NULL), or -1 when it does not fit. No libc call that a sanitizer
 * intercepts: ASan's start-up makes folders through these wrappers before it can serve one. */
static int join(char *out, size_t cap, const char *a, const char *b)
{
    size_t na = strlen(a), nb = b ? strlen(b) : 0;
    if (na + nb + 2 > cap) {
        return -1;
    }
    memcpy(out, a, na);
    if (b) {
        out[na] = '/';
        memcpy(out + na + 1, b, nb);
        na += nb + 1;
    }
    out[na] = '\0';
    return 0;
}

/* The absolute form of path relative to dirfd (or the working folder) in out. */
static int abs_at(int dirfd, const char *path, char *out, size_t cap)
{
    if (!path) {
        return -1;
    }
    if (path[0] == '/') {
        return join(out, cap, path, NULL);
    }
    char base[PATH_MAX];
    if (dirfd == AT_FDCWD) {
        long n = syscall(SYS_getcwd, base, sizeof base);
        if (n < 0) {
            return -1;
        }
    } else {
        char link[64] = "/proc/self/fd/";
        fd_name(link, dirfd);
        long n = syscall(SYS_readlinkat, AT_FDCWD, link, base, sizeof base - 1);
        if (n < 0) {
            return -1;
        }
        base[n] = '\0';
    }
    return join(out, cap, base, path);
}

static int fd_watched(int fd)
{
    char link[64] = "/proc/self/fd/", path[PATH_MAX];
    fd_name(link, fd);
    long n = syscall(SYS_readlinkat, AT_FDCWD, link, path, sizeof path - 1);
    if (n < 0) {
        return 0;
    }
    path[n] = '\0';
    return watched(path);
}

/* The inode of the folder holding abs, or 0. */
static uint64_t parent_ino(const char *abs)
{
    char dir[PATH_MAX];
    snprintf(dir, sizeof dir, "%s", abs);
    char *slash = strrchr(dir, '/');
    if (!slash) {
        return 0;
    }
    if (slash == dir) {
        slash[1] = '\0';
    } else {
        *slash = '\0';
    }
    struct stat sb;
    return stat(dir, &sb) == 0 ? (uint64_t)sb.st_ino : 0;
}

/* ---- the journal ---- */

static void journal_put(const void *p, size_t n)
{
    const char *c = p;
    while (n > 0) {
        long w = syscall(SYS_write, journal_fd, c, n);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            return;
        }
        c += w;
        n -= (size_t)w;
    }
}

/* Appends one record (under mu); a change takes the next sequence number, a flush `covers`. */
static void journal(uint32_t kind, struct lw_record *r, const char *path, const char *path2,
                    const void *data)
{
    if (journal_fd < 0) {
        const char *j = getenv("LOST_JOURNAL");
        if (!j) {
            return;
        }
        journal_fd =
            (int)syscall(SYS_openat, AT_FDCWD, j, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
        if (journal_fd < 0) {
            return;
        }
    }
    r->magic = LW_MAGIC;
    r->kind = kind;
    if (kind < LW_FSYNC) {
        r->seq = ++last_seq;
    }
    r->path_len = path ? (uint32_t)strlen(path) : 0;
    r->path2_len = path2 ? (uint32_t)strlen(path2) : 0;
    size_t total = sizeof *r + r->path_len + r->path2_len + r->data_len;
    char *buf = malloc(total);
    if (!buf) {
        return;
    }
    memcpy(buf, r, sizeof *r);
    memcpy(buf + sizeof *r, path ? path : "", r->path_len);
    memcpy(buf + sizeof *r + r->path_len, path2 ? path2 : "", r->path2_len);
    if (r->data_len) {
        memcpy(buf + sizeof *r + r->path_len + r->path2_len, data, r->data_len);
    }
    journal_put(buf, total); /* one write: a kill leaves at most the last record short */
    free(buf);
}

/* A hard link SIDE/<ino> to the file fd or path names, made once. */
static void side_link(uint64_t ino, int fd, const char *path)
{
    const char *side = getenv("LOST_SIDE");
    if (!side) {
        return;
    }
    char dst[PATH_MAX], src[64];
    snprintf(dst, sizeof dst, LW_SIDE_FMT, side, (unsigned long long)ino);
    if (syscall(SYS_faccessat, AT_FDCWD, dst, F_OK, 0) == 0) {
        return;
    }
    if (!path) {
        snprintf(src, sizeof src, "/proc/self/fd/%d", fd);
        path = src;
    }
    syscall(SYS_linkat, AT_FDCWD, path, AT_FDCWD, dst, AT_SYMLINK_FOLLOW);
}

/* The bytes of fd's file in [off, off + n) that exist (before `size`). Read through fd itself
 * when it is readable: closing any other descriptor of a file drops every POSIX lock the
 * process holds on it (fcntl's rule), and SQLite's locks on its database must survive the
 * emulator (a second process could otherwise take the database as unused and delete its log).
 * A write-only descriptor (no locks: objects, the audit trail) is read through procfs.
 * Returns a malloc'd copy and its length. */
static void *read_old(int fd, int64_t off, size_t n, int64_t size, uint64_t *len)
{
    *len = 0;
    if (off >= size || n == 0) {
        return NULL;
    }
    size_t want = (size_t)(size - off) < n ? (size_t)(size - off) : n;
    int fl = fcntl(fd, F_GETFL);
    int rfd = fd;
    if (fl < 0 || (fl & O_ACCMODE) == O_WRONLY) {
        char src[64];
        snprintf(src, sizeof src, "/proc/self/fd/%d", fd);
        rfd = (int)syscall(SYS_openat, AT_FDCWD, src, O_RDONLY | O_CLOEXEC);
        if (rfd < 0) {
            return NULL;
        }
    }
    char *buf = malloc(want);
    size_t got = 0;
    while (buf && got < want) {
        long r = syscall(SYS_pread64, rfd, buf + got, want - got, (long)(off + (int64_t)got));
        if (r <= 0) {
            break;
        }
        got += (size_t)r;
    }
    if (rfd != fd) {
        syscall(SYS_close, rfd);
    }
    *len = got;
    return buf;
}

/* What a write of n bytes at off (-1: at the file position, or the end with O_APPEND) to fd
 * is about to overwrite, taken before it is made. */
struct pending_write {
    struct lw_record r;
    void *old;
    int regular, sync;
};

static void before_write(int fd, int64_t off, size_t n, struct pending_write *p)
{
    struct stat sb;
    memset(p, 0, sizeof *p);
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        return;
    }
    int fl = fcntl(fd, F_GETFL);
    if (off < 0) {
        off = (fl & O_APPEND) ? (int64_t)sb.st_size : (int64_t)lseek(fd, 0, SEEK_CUR);
    }
    side_link(sb.st_ino, fd, NULL);
    p->regular = 1;
    p->sync = fl >= 0 && (fl & (O_SYNC | O_DSYNC)) != 0;
    p->r.ino = sb.st_ino;
    p->r.off = off;
    p->r.old_size = sb.st_size;
    p->old = read_old(fd, off, n, sb.st_size, &p->r.data_len);
}

/* Journals the write once made (rc bytes); a synchronous one is durable at once. */
static void after_write(struct pending_write *p, ssize_t rc)
{
    if (p->regular && rc > 0) {
        journal(LW_WRITE, &p->r, NULL, NULL, p->old);
        if (p->sync) {
            struct lw_record f = {0};
            f.ino = p->r.ino;
            f.seq = last_seq;
            journal(LW_FSYNC, &f, NULL, NULL, NULL);
        }
    }
    free(p->old);
}

/* ---- writes ---- */

static ssize_t do_write(write_fn w, pwrite_fn pw, int fd, const void *buf, size_t n, off_t off)
{
    if (!fd_watched(fd)) {
        return w ? w(fd, buf, n) : pw(fd, buf, n, off);
    }
    struct pending_write p;
    pthread_mutex_lock(&mu);
    before_write(fd, w ? -1 : (int64_t)off, n, &p);
    ssize_t rc = w ? w(fd, buf, n) : pw(fd, buf, n, off);
    int e = errno;
    after_write(&p, rc);
    pthread_mutex_unlock(&mu);
    errno = e;
    return rc;
}

ssize_t write(int fd, const void *buf, size_t n)
{
    NEXT(write_fn, write);
    return do_write(next_write, NULL, fd, buf, n, 0);
}

ssize_t pwrite(int fd, const void *buf, size_t n, off_t off)
{
    NEXT(pwrite_fn, pwrite);
    return do_write(NULL, next_pwrite, fd, buf, n, off);
}

ssize_t pwrite64(int fd, const void *buf, size_t n, off_t off)
{
    NEXT(pwrite_fn, pwrite64);
    return do_write(NULL, next_pwrite64, fd, buf, n, off);
}

ssize_t writev(int fd, const struct iovec *iov, int iovcnt)
{
    NEXT(writev_fn, writev);
    writev_fn next = next_writev;
    if (!fd_watched(fd)) {
        return next(fd, iov, iovcnt);
    }
    size_t n = 0;
    for (int i = 0; i < iovcnt; i++) {
        n += iov[i].iov_len;
    }
    struct pending_write p;
    pthread_mutex_lock(&mu);
    before_write(fd, -1, n, &p);
    ssize_t rc = next(fd, iov, iovcnt);
    int e = errno;
    after_write(&p, rc);
    pthread_mutex_unlock(&mu);
    errno = e;
    return rc;
}

static int do_ftruncate(ftruncate_fn next, int fd, off_t len)
{
    struct stat sb;
    if (!fd_watched(fd) || fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        return next(fd, len);
    }
    pthread_mutex_lock(&mu);
    side_link(sb.st_ino, fd, NULL);
    struct lw_record r = {0};
    r.ino = sb.st_ino;
    r.off = len;
    r.old_size = sb.st_size;
    void *old = NULL;
    if ((int64_t)len < (int64_t)sb.st_size) {
        old = read_old(fd, len, (size_t)(sb.st_size - len), sb.st_size, &r.data_len);
    }
    int rc = next(fd, len);
    int e = errno;
    if (rc == 0) {
        journal(LW_SIZE, &r, NULL, NULL, old);
    }
    free(old);
    pthread_mutex_unlock(&mu);
    errno = e;
    return rc;
}

int ftruncate(int fd, off_t len)
{
    NEXT(ftruncate_fn, ftruncate);
    return do_ftruncate(next_ftruncate, fd, len);
}

int ftruncate64(int fd, off_t len)
{
    NEXT(ftruncate_fn, ftruncate64);
    return do_ftruncate(next_ftruncate64, fd, len);
}

/* ---- flushes ---- */

static int do_flush(fd_fn next, int fd, int all)
{
    struct stat sb;
    if ((!all && !fd_watched(fd)) || fstat(fd, &sb) != 0) {
        return next(fd);
    }
    pthread_mutex_lock(&mu);
    uint64_t covers = last_seq;
    pthread_mutex_unlock(&mu);
    int rc = next(fd);
    int e = errno;
    if (rc == 0) {
        struct lw_record r = {0};
        r.ino = sb.st_ino;
        r.seq = covers;
        pthread_mutex_lock(&mu);
        journal(all                   ? LW_SYNCALL
                : S_ISDIR(sb.st_mode) ? LW_DIRSYNC
                                      : LW_FSYNC,
                &r, NULL, NULL, NULL);
        pthread_mutex_unlock(&mu);
    }
    errno = e;
    return rc;
}

int fsync(int fd)
{
    NEXT(fd_fn, fsync);
    return do_flush(next_fsync, fd, 0);
}

int fdatasync(int fd)
{
    NEXT(fd_fn, fdatasync);
    return do_flush(next_fdatasync, fd, 0);
}

int syncfs(int fd)
{
    NEXT(fd_fn, syncfs);
    return do_flush(next_syncfs, fd, 1);
}

void sync(void)
{
    NEXT(sync_fn, sync);
    pthread_mutex_lock(&mu);
    struct lw_record r = {0};
    r.seq = last_seq;
    pthread_mutex_unlock(&mu);
    next_sync();
    pthread_mutex_lock(&mu);
    journal(LW_SYNCALL, &r, NULL, NULL, NULL);
    pthread_mutex_unlock(&mu);
}

/* ---- names ---- */

/* Journals a new file at abs (fd open on it), after it was made. Call under mu. */
static void created(const char *abs, int fd)
{
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) != 0) {
        return;
    }
    side_link(sb.st_ino, fd, NULL);
    struct lw_record r = {0};
    r.ino = sb.st_ino;
    r.dir = parent_ino(abs);
    journal(LW_CREATE, &r, abs, NULL, NULL);
}

/* Opening: O_CREAT of a name that did not exist is a new name; O_TRUNC of a file with bytes
 * is a size change. */
static int do_open(int dirfd, const char *path, int flags, mode_t mode, open_fn o, openat_fn oat)
{
    char abs[PATH_MAX];
    int watch =
        (flags & (O_CREAT | O_TRUNC)) && abs_at(dirfd, path, abs, sizeof abs) == 0 && watched(abs);
    if (!watch) {
        return oat ? oat(dirfd, path, flags, mode) : o(path, flags, mode);
    }
    pthread_mutex_lock(&mu);
    struct stat sb;
    struct lw_record r = {0};
    void *old = NULL;
    int existed = stat(abs, &sb) == 0, truncating = 0;
    if (existed && (flags & O_TRUNC) && S_ISREG(sb.st_mode) && sb.st_size > 0) {
        int rfd = (int)syscall(SYS_openat, AT_FDCWD, abs, O_RDONLY | O_CLOEXEC);
        if (rfd >= 0) {
            side_link(sb.st_ino, rfd, NULL);
            r.ino = sb.st_ino;
            r.old_size = sb.st_size;
            old = read_old(rfd, 0, (size_t)sb.st_size, sb.st_size, &r.data_len);
            truncating = 1;
            syscall(SYS_close, rfd);
        }
    }
    int fd = oat ? oat(dirfd, path, flags, mode) : o(path, flags, mode);
    int e = errno;
    if (fd >= 0 && !existed) {
        created(abs, fd);
    } else if (fd >= 0 && truncating) {
        journal(LW_SIZE, &r, NULL, NULL, old);
    }
    free(old);
    pthread_mutex_unlock(&mu);
    errno = e;
    return fd;
}

static mode_t mode_arg(int flags, va_list ap)
{
    return (flags & (O_CREAT | O_TMPFILE)) ? (mode_t)va_arg(ap, int) : 0;
}

#define OPEN_WRAPPER(name)                                                                         \
    int name(const char *path, int flags, ...)                                                     \
    {                                                                                              \
        NEXT(open_fn, name);                                                                       \
        va_list ap;                                                                                \
        va_start(ap, flags);                                                                       \
        mode_t mode = mode_arg(flags, ap);                                                         \
        va_end(ap);                                                                                \
        return do_open(AT_FDCWD, path, flags, mode, next_##name, NULL);                            \
    }
#define OPENAT_WRAPPER(name)                                                                       \
    int name(int dirfd, const char *path, int flags, ...)                                          \
    {                                                                                              \
        NEXT(openat_fn, name);                                                                     \
        va_list ap;                                                                                \
        va_start(ap, flags);                                                                       \
        mode_t mode = mode_arg(flags, ap);                                                         \
        va_end(ap);                                                                                \
        return do_open(dirfd, path, flags, mode, NULL, next_##name);                               \
    }
OPEN_WRAPPER(open)
OPEN_WRAPPER(open64)
OPENAT_WRAPPER(openat)
OPENAT_WRAPPER(openat64)

/* glibc's mkstemp family opens its file with an internal call, so it is caught by name. */
static int after_mkstemp(char *tmpl, int fd)
{
    char abs[PATH_MAX];
    if (fd >= 0 && abs_at(AT_FDCWD, tmpl, abs, sizeof abs) == 0 && watched(abs)) {
        int e = errno;
        pthread_mutex_lock(&mu);
        created(abs, fd);
        pthread_mutex_unlock(&mu);
        errno = e;
    }
    return fd;
}

int mkstemp(char *tmpl)
{
    NEXT(tmpl_fn, mkstemp);
    return after_mkstemp(tmpl, next_mkstemp(tmpl));
}

int mkstemp64(char *tmpl)
{
    NEXT(tmpl_fn, mkstemp64);
    return after_mkstemp(tmpl, next_mkstemp64(tmpl));
}

int mkostemp(char *tmpl, int flags)
{
    NEXT(tmpl_flags_fn, mkostemp);
    return after_mkstemp(tmpl, next_mkostemp(tmpl, flags));
}

int mkdir(const char *path, mode_t mode)
{
    NEXT(mkdir_fn, mkdir);
    char abs[PATH_MAX];
    if (abs_at(AT_FDCWD, path, abs, sizeof abs) != 0 || !watched(abs)) {
        return next_mkdir(path, mode);
    }
    pthread_mutex_lock(&mu);
    int rc = next_mkdir(path, mode);
    int e = errno;
    if (rc == 0) {
        struct lw_record r = {0};
        r.dir = parent_ino(abs);
        journal(LW_MKDIR, &r, abs, NULL, NULL);
    }
    pthread_mutex_unlock(&mu);
    errno = e;
    return rc;
}

/* Removing a name (flags: AT_REMOVEDIR for a folder) relative to dirfd. */
static int do_unlink(int dirfd, const char *path, int flags, unlinkat_fn next)
{
    char abs[PATH_MAX];
    if (abs_at(dirfd, path, abs, sizeof abs) != 0 || !watched(abs)) {
        return next(dirfd, path, flags);
    }
    pthread_mutex_lock(&mu);
    struct stat sb;
    struct lw_record r = {0};
    r.dir = parent_ino(abs);
    uint32_t kind = 0;
    if (lstat(abs, &sb) == 0) {
        if (!(flags & AT_REMOVEDIR) && S_ISREG(sb.st_mode)) {
            r.ino = sb.st_ino;
            side_link(sb.st_ino, -1, abs);
            kind = LW_UNLINK;
        } else if (flags & AT_REMOVEDIR) {
            kind = LW_RMDIR;
        }
    }
    int rc = next(dirfd, path, flags);
    int e = errno;
    if (rc == 0 && kind) {
        journal(kind, &r, abs, NULL, NULL);
    }
    pthread_mutex_unlock(&mu);
    errno = e;
    return rc;
}

/* unlink and rmdir go through the libc's unlinkat, which is not interposed by this file. */
static int libc_unlinkat(int dirfd, const char *path, int flags)
{
    NEXT(unlinkat_fn, unlinkat);
    return next_unlinkat(dirfd, path, flags);
}

int unlink(const char *path)
{
    return do_unlink(AT_FDCWD, path, 0, libc_unlinkat);
}

int rmdir(const char *path)
{
    return do_unlink(AT_FDCWD, path, AT_REMOVEDIR, libc_unlinkat);
}

int unlinkat(int dirfd, const char *path, int flags)
{
    return do_unlink(dirfd, path, flags, libc_unlinkat);
}

static int do_rename(int fromfd, const char *from, int tofd, const char *to, rename_fn rn,
                     renameat_fn rnat)
{
    char a[PATH_MAX], b[PATH_MAX];
    if (abs_at(fromfd, from, a, sizeof a) != 0 || abs_at(tofd, to, b, sizeof b) != 0 ||
        (!watched(a) && !watched(b))) {
        return rnat ? rnat(fromfd, from, tofd, to) : rn(from, to);
    }
    pthread_mutex_lock(&mu);
    struct stat sa, sb;
    struct lw_record r = {0};
    r.dir = parent_ino(a);
    r.dir2 = parent_ino(b);
    if (lstat(a, &sa) == 0) {
        r.ino = sa.st_ino;
        if (S_ISREG(sa.st_mode)) {
            side_link(sa.st_ino, -1, a);
        }
        if (lstat(b, &sb) == 0 && S_ISREG(sb.st_mode) && sb.st_ino != sa.st_ino) {
            r.ino2 = sb.st_ino;
            side_link(sb.st_ino, -1, b);
        }
    }
    int rc = rnat ? rnat(fromfd, from, tofd, to) : rn(from, to);
    int e = errno;
    if (rc == 0 && r.ino) {
        journal(LW_RENAME, &r, a, b, NULL);
    }
    pthread_mutex_unlock(&mu);
    errno = e;
    return rc;
}

int rename(const char *from, const char *to)
{
    NEXT(rename_fn, rename);
    return do_rename(AT_FDCWD, from, AT_FDCWD, to, next_rename, NULL);
}

int renameat(int fromfd, const char *from, int tofd, const char *to)
{
    NEXT(renameat_fn, renameat);
    return do_rename(fromfd, from, tofd, to, NULL, next_renameat);
}
