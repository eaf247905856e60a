// SPDX-License-Identifier: MIT
/*
 * An LD_PRELOAD fault injector for the fault tests (tests/test_disk_full.sh,
 * tests/test_faults_*.sh): it makes file system calls on paths under a prefix fail as a
 * broken or full disk would, while a flag file exists, so that a test can turn a fault on and
 * off in a running server. Everything else passes through to libc.
 *
 *   FAULT_PREFIX=/data/folder/  FAULT_FLAG=/some/file
 *   The flag file holds the fault's name, optionally followed by a narrower prefix for it
 *   ("fsync /data/folder/index"):
 *     enospc   write, pwrite, writev and ftruncate fail with ENOSPC (a full disk)
 *     eio      the same calls fail with EIO (a failing disk)
 *     fsync    fsync, fdatasync and syncfs fail with EIO (a disk that loses a flush)
 *     erofs    everything that would change the folder fails with EROFS: writes, opening for
 *              writing or creating, mkstemp, rename, mkdir, unlink (a read-only file system)
 *   ENOSPC_PREFIX=...  ENOSPC_FLAG=...   the original form: "enospc" while the flag exists
 *
 * The flag is re-read on every intercepted call, so the fault starts and stops at once. The
 * prefix is compared with the path the call names, or for a file descriptor with the path
 * /proc/self/fd shows for it. Thread-safe: the only state is the resolved libc functions, and
 * resolving one twice is harmless.
 */
#define _GNU_SOURCE
/* The build asks for 64-bit file offsets, which renames open, pwrite... to their *64 forms;
 * this file defines both forms itself. */
#undef _FILE_OFFSET_BITS
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

enum fault { F_NONE, F_ENOSPC, F_EIO, F_FSYNC, F_EROFS };

/* The fault in force for a path (or "" when it cannot be known), read from the flag file with
 * raw system calls so that no intercepted function is re-entered. */
static enum fault fault_for_path(const char *path)
{
    const char *prefix = getenv("FAULT_PREFIX"), *flag = getenv("FAULT_FLAG");
    const char *old_prefix = getenv("ENOSPC_PREFIX"), *old_flag = getenv("ENOSPC_FLAG");
    if (old_prefix && old_flag && strncmp(path, old_prefix, strlen(old_prefix)) == 0 &&
        syscall(SYS_faccessat, AT_FDCWD, old_flag, F_OK, 0) == 0) {
        return F_ENOSPC;
    }
    if (!prefix || !flag || strncmp(path, prefix, strlen(prefix)) != 0) {
        return F_NONE;
    }
    int fd = (int)syscall(SYS_openat, AT_FDCWD, flag, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return F_NONE;
    }
    char text[4200];
    long n = syscall(SYS_read, fd, text, sizeof text - 1);
    syscall(SYS_close, fd);
    if (n <= 0) {
        return F_NONE;
    }
    text[n] = '\0';
    char *word = text, *narrow = text + strcspn(text, " \t\r\n");
    if (*narrow) {
        *narrow++ = '\0';
        narrow += strspn(narrow, " \t");
        narrow[strcspn(narrow, " \t\r\n")] = '\0';
        if (*narrow && strncmp(path, narrow, strlen(narrow)) != 0) {
            return F_NONE;
        }
    }
    return strcmp(word, "enospc") == 0  ? F_ENOSPC
           : strcmp(word, "eio") == 0   ? F_EIO
           : strcmp(word, "fsync") == 0 ? F_FSYNC
           : strcmp(word, "erofs") == 0 ? F_EROFS
                                        : F_NONE;
}

static enum fault fault_for_fd(int fd)
{
    char link[64], path[4096];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    long n = syscall(SYS_readlinkat, AT_FDCWD, link, path, sizeof path - 1);
    if (n < 0) {
        return F_NONE;
    }
    path[n] = '\0';
    return fault_for_path(path);
}

/* Absolute form of a path relative to dirfd (or the working folder), for the prefix test. */
static enum fault fault_for_at(int dirfd, const char *path)
{
    if (!path) {
        return F_NONE;
    }
    if (path[0] == '/') {
        return fault_for_path(path);
    }
    char base[4096], full[8192];
    if (dirfd == AT_FDCWD) {
        if (!getcwd(base, sizeof base)) {
            return F_NONE;
        }
    } else {
        char link[64];
        snprintf(link, sizeof link, "/proc/self/fd/%d", dirfd);
        long n = syscall(SYS_readlinkat, AT_FDCWD, link, base, sizeof base - 1);
        if (n < 0) {
            return F_NONE;
        }
        base[n] = '\0';
    }
    snprintf(full, sizeof full, "%s/%s", base, path);
    return fault_for_path(full);
}

/* The errno a write-like call gets under fault `f`, or 0 to let it through. */
static int write_errno(enum fault f)
{
    return f == F_ENOSPC ? ENOSPC : f == F_EIO ? EIO : f == F_EROFS ? EROFS : 0;
}

static int fail_with(int e)
{
    errno = e;
    return -1;
}

typedef ssize_t (*write_fn)(int, const void *, size_t);
typedef ssize_t (*pwrite_fn)(int, const void *, size_t, off_t);
typedef ssize_t (*writev_fn)(int, const struct iovec *, int);
typedef int (*fd_off_fn)(int, off_t);
typedef int (*fd_fn)(int);
typedef int (*open_fn)(const char *, int, ...);
typedef int (*openat_fn)(int, const char *, int, ...);
typedef int (*tmpl_fn)(char *);
typedef int (*tmpl_flags_fn)(char *, int);
typedef int (*path2_fn)(const char *, const char *);
typedef int (*path_mode_fn)(const char *, mode_t);
typedef int (*path_fn)(const char *);

ssize_t write(int fd, const void *buf, size_t count)
{
    static write_fn next;
    if (!next) {
        *(void **)&next = dlsym(RTLD_NEXT, "write"); /* libc, or a sanitizer in front */
    }
    int e = write_errno(fault_for_fd(fd));
    return e ? fail_with(e) : next(fd, buf, count);
}

ssize_t pwrite(int fd, const void *buf, size_t count, off_t offset)
{
    static pwrite_fn next;
    if (!next) {
        *(void **)&next = dlsym(RTLD_NEXT, "pwrite");
    }
    int e = write_errno(fault_for_fd(fd));
    return e ? fail_with(e) : next(fd, buf, count, offset);
}

ssize_t pwrite64(int fd, const void *buf, size_t count, off_t offset)
{
    static pwrite_fn next;
    if (!next) {
        *(void **)&next = dlsym(RTLD_NEXT, "pwrite64");
    }
    int e = write_errno(fault_for_fd(fd));
    return e ? fail_with(e) : next(fd, buf, count, offset);
}

ssize_t writev(int fd, const struct iovec *iov, int iovcnt)
{
    static writev_fn next;
    if (!next) {
        *(void **)&next = dlsym(RTLD_NEXT, "writev");
    }
    int e = write_errno(fault_for_fd(fd));
    return e ? fail_with(e) : next(fd, iov, iovcnt);
}

int ftruncate(int fd, off_t length)
{
    static fd_off_fn next;
    if (!next) {
        *(void **)&next = dlsym(RTLD_NEXT, "ftruncate");
    }
    int e = write_errno(fault_for_fd(fd));
    return e ? fail_with(e) : next(fd, length);
}

int ftruncate64(int fd, off_t length)
{
    static fd_off_fn next;
    if (!next) {
        *(void **)&next = dlsym(RTLD_NEXT, "ftruncate64");
    }
    int e = write_errno(fault_for_fd(fd));
    return e ? fail_with(e) : next(fd, length);
}

static int sync_errno(int fd)
{
    enum fault f = fault_for_fd(fd);
    return f == F_FSYNC ? EIO : f == F_EROFS ? EROFS : 0;
}

int fsync(int fd)
{
    static fd_fn next;
    if (!next) {
        *(void **)&next = dlsym(RTLD_NEXT, "fsync");
    }
    int e = sync_errno(fd);
    return e ? fail_with(e) : next(fd);
}

int fdatasync(int fd)
{
    static fd_fn next;
    if (!next) {
        *(void **)&next = dlsym(RTLD_NEXT, "fdatasync");
    }
    int e = sync_errno(fd);
    return e ? fail_with(e) : next(fd);
}

/* The object store's group flush: syncfs of the file system holding fd (the objects folder). */
int syncfs(int fd)
{
    static fd_fn next;
    if (!next) {
        *(void **)&next = dlsym(RTLD_NEXT, "syncfs");
    }
    return fault_for_fd(fd) == F_FSYNC ? fail_with(EIO) : next(fd);
}

/* Opening for writing or creating is what a read-only file system refuses. */
static int open_errno(int dirfd, const char *path, int flags)
{
    if (!(flags & (O_WRONLY | O_RDWR | O_CREAT | O_TRUNC))) {
        return 0;
    }
    return fault_for_at(dirfd, path) == F_EROFS ? EROFS : 0;
}

static mode_t mode_arg(int flags, va_list ap)
{
    return (flags & (O_CREAT | O_TMPFILE)) ? (mode_t)va_arg(ap, int) : 0;
}

int open(const char *path, int flags, ...)
{
    static open_fn next;
    if (!next) {
        *(void **)&next = dlsym(RTLD_NEXT, "open");
    }
    va_list ap;
    va_start(ap, flags);
    mode_t mode = mode_arg(flags, ap);
    va_end(ap);
    int e = open_errno(AT_FDCWD, path, flags);
    return e ? fail_with(e) : next(path, flags, mode);
}

int open64(const char *path, int flags, ...)
{
    static open_fn next;
    if (!next) {
        *(void **)&next = dlsym(RTLD_NEXT, "open64");
    }
    va_list ap;
    va_start(ap, flags);
    mode_t mode = mode_arg(flags, ap);
    va_end(ap);
    int e = open_errno(AT_FDCWD, path, flags);
    return e ? fail_with(e) : next(path, flags, mode);
}

int openat(int dirfd, const char *path, int flags, ...)
{
    static openat_fn next;
    if (!next) {
        *(void **)&next = dlsym(RTLD_NEXT, "openat");
    }
    va_list ap;
    va_start(ap, flags);
    mode_t mode = mode_arg(flags, ap);
    va_end(ap);
    int e = open_errno(dirfd, path, flags);
    return e ? fail_with(e) : next(dirfd, path, flags, mode);
}

int openat64(int dirfd, const char *path, int flags, ...)
{
    static openat_fn next;
    if (!next) {
        *(void **)&next = dlsym(RTLD_NEXT, "openat64");
    }
    va_list ap;
    va_start(ap, flags);
    mode_t mode = mode_arg(flags, ap);
    va_end(ap);
    int e = open_errno(dirfd, path, flags);
    return e ? fail_with(e) : next(dirfd, path, flags, mode);
}

static int path_errno(const char *path)
{
    return fault_for_at(AT_FDCWD, path) == F_EROFS ? EROFS : 0;
}

/* glibc's mkstemp opens its file with an internal call, so it is caught here by name. */
int mkstemp(char *tmpl)
{
    static tmpl_fn next;
    if (!next) {
        *(void **)&next = dlsym(RTLD_NEXT, "mkstemp");
    }
    int e = path_errno(tmpl);
    return e ? fail_with(e) : next(tmpl);
}

int mkstemp64(char *tmpl)
{
    static tmpl_fn next;
    if (!next) {
        *(void **)&next = dlsym(RTLD_NEXT, "mkstemp64");
    }
    int e = path_errno(tmpl);
    return e ? fail_with(e) : next(tmpl);
}

int mkostemp(char *tmpl, int flags)
{
    static tmpl_flags_fn next;
    if (!next) {
        *(void **)&next = dlsym(RTLD_NEXT, "mkostemp");
    }
    int e = path_errno(tmpl);
    return e ? fail_with(e) : next(tmpl, flags);
}

int rename(const char *from, const char *to)
{
    static path2_fn next;
    if (!next) {
        *(void **)&next = dlsym(RTLD_NEXT, "rename");
    }
    int e = path_errno(from) ? path_errno(from) : path_errno(to);
    return e ? fail_with(e) : next(from, to);
}

int mkdir(const char *path, mode_t mode)
{
    static path_mode_fn next;
    if (!next) {
        *(void **)&next = dlsym(RTLD_NEXT, "mkdir");
    }
    int e = path_errno(path);
    return e ? fail_with(e) : next(path, mode);
}

int unlink(const char *path)
{
    static path_fn next;
    if (!next) {
        *(void **)&next = dlsym(RTLD_NEXT, "unlink");
    }
    int e = path_errno(path);
    return e ? fail_with(e) : next(path);
}
