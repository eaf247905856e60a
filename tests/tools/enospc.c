// SPDX-License-Identifier: MIT
/*
 * An LD_PRELOAD shim for the full-disk test where mounting a small tmpfs is not permitted:
 * while the file named by ENOSPC_FLAG exists, write() and pwrite() to files whose path starts
 * with ENOSPC_PREFIX fail with ENOSPC, as on a full disk. Everything else passes through.
 * Thread-safe: no state besides the resolved libc functions.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <unistd.h>

static int full(int fd)
{
    const char *prefix = getenv("ENOSPC_PREFIX"), *flag = getenv("ENOSPC_FLAG");
    if (!prefix || !flag || access(flag, F_OK) != 0) {
        return 0;
    }
    char link[64], path[4096];
    snprintf(link, sizeof link, "/proc/self/fd/%d", fd);
    ssize_t n = readlink(link, path, sizeof path - 1);
    if (n < 0) {
        return 0;
    }
    path[n] = '\0';
    return strncmp(path, prefix, strlen(prefix)) == 0;
}

ssize_t write(int fd, const void *buf, size_t count)
{
    static ssize_t (*real)(int, const void *, size_t);
    if (full(fd)) {
        errno = ENOSPC;
        return -1;
    }
    if (!real) {
        *(void **)&real = dlsym(RTLD_NEXT, "write");
    }
    return real(fd, buf, count);
}

ssize_t pwrite(int fd, const void *buf, size_t count, off_t offset)
{
    static ssize_t (*real)(int, const void *, size_t, off_t);
    if (full(fd)) {
        errno = ENOSPC;
        return -1;
    }
    if (!real) {
        *(void **)&real = dlsym(RTLD_NEXT, "pwrite");
    }
    return real(fd, buf, count, offset);
}
