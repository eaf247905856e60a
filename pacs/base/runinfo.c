// SPDX-License-Identifier: MIT
/*
 * DATA/pacsd.http (runinfo.h): KEY=VALUE lines (PID, SCHEME, BIND, PORT, PREFIX), the same
 * shape as pacsd's --ready-file, so a shell script can source it too.
 */
#include "pacs/base/runinfo.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int path_of(const char *data_dir, const char *suffix, char *buf, size_t cap)
{
    int n = snprintf(buf, cap, "%s/" PACS_RUNINFO_FILE "%s", data_dir, suffix);
    return n > 0 && (size_t)n < cap ? 0 : -1;
}

/* A value the file can hold: printable, no quote or shell-special character. */
static int plain(const char *s)
{
    for (const char *p = s; *p; p++) {
        if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f || strchr("'\"\\$`;&|<>", *p)) {
            return 0;
        }
    }
    return 1;
}

pacs_err pacs_runinfo_write(const char *data_dir, const pacs_runinfo *ri, pacs_errinfo *ei)
{
    char path[4200], tmp[4200];
    if (path_of(data_dir, "", path, sizeof path) || path_of(data_dir, ".tmp", tmp, sizeof tmp)) {
        return pacs_errf(ei, PACS_EINVAL, "data folder path too long");
    }
    if (!plain(ri->scheme) || !plain(ri->bind) || !plain(ri->prefix)) {
        return pacs_errf(ei, PACS_EINVAL, "%s: a value with spaces or quotes", path);
    }
    FILE *f = fopen(tmp, "w");
    if (!f) {
        return pacs_errf(ei, PACS_EIO, "create %s: %s", tmp, strerror(errno));
    }
    fprintf(f, "PID=%ld\nSCHEME=%s\nBIND=%s\nPORT=%d\nPREFIX=%s\n", ri->pid, ri->scheme,
            ri->bind[0] ? ri->bind : "0.0.0.0", ri->port, ri->prefix);
    if (fclose(f) != 0 || rename(tmp, path) != 0) {
        pacs_err err = pacs_errf(ei, PACS_EIO, "write %s: %s", path, strerror(errno));
        unlink(tmp);
        return err;
    }
    return PACS_OK;
}

static void copy_value(char *dst, size_t cap, const char *v)
{
    snprintf(dst, cap, "%s", v);
}

pacs_err pacs_runinfo_read(const char *data_dir, pacs_runinfo *out, pacs_errinfo *ei)
{
    char path[4200], line[512];
    if (path_of(data_dir, "", path, sizeof path)) {
        return pacs_errf(ei, PACS_EINVAL, "data folder path too long");
    }
    FILE *f = fopen(path, "r");
    if (!f) {
        return pacs_errf(ei, errno == ENOENT ? PACS_ENOTFOUND : PACS_EIO, "open %s: %s", path,
                         strerror(errno));
    }
    pacs_runinfo ri;
    memset(&ri, 0, sizeof ri);
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = '\0';
        char *eq = strchr(line, '=');
        if (!eq) {
            continue;
        }
        *eq = '\0';
        const char *v = eq + 1;
        if (strcmp(line, "PID") == 0) {
            ri.pid = strtol(v, NULL, 10);
        } else if (strcmp(line, "SCHEME") == 0) {
            copy_value(ri.scheme, sizeof ri.scheme, v);
        } else if (strcmp(line, "BIND") == 0) {
            copy_value(ri.bind, sizeof ri.bind, v);
        } else if (strcmp(line, "PORT") == 0) {
            ri.port = (int)strtol(v, NULL, 10);
        } else if (strcmp(line, "PREFIX") == 0) {
            copy_value(ri.prefix, sizeof ri.prefix, v);
        }
    }
    fclose(f);
    if (ri.port <= 0 || ri.port > 65535 || ri.pid <= 0 ||
        (strcmp(ri.scheme, "http") != 0 && strcmp(ri.scheme, "https") != 0)) {
        return pacs_errf(ei, PACS_EINVAL, "%s: not what pacsd writes", path);
    }
    *out = ri;
    return PACS_OK;
}

void pacs_runinfo_remove(const char *data_dir, long pid)
{
    pacs_runinfo ri;
    pacs_errinfo ei;
    char path[4200];
    if (path_of(data_dir, "", path, sizeof path) == 0 &&
        pacs_runinfo_read(data_dir, &ri, &ei) == PACS_OK && ri.pid == pid) {
        unlink(path);
    }
}

int pacs_runinfo_alive(long pid)
{
    return pid > 0 && (kill((pid_t)pid, 0) == 0 || errno == EPERM);
}

int pacs_runinfo_wildcard(const char *bind)
{
    return !bind[0] || strcmp(bind, "0.0.0.0") == 0 || strcmp(bind, "::") == 0 ||
           strcmp(bind, "[::]") == 0;
}
