// SPDX-License-Identifier: MIT
/*
 * What a running pacsd tells the other programs of its data folder: where its HTTP server
 * actually listens (scheme, address, port, prefix) and its process id, in DATA/pacsd.http, so
 * that `pacs share` prints a link to the running server rather than to the configuration's
 * defaults. pacsd writes the file once it listens (a temporary file, then rename: a reader sees
 * the old file or the new one, never half of one) and removes it when it stops cleanly; a file
 * left by a crash names a process that is gone, which pacs_runinfo_alive() tells.
 *
 * Load: one small file written at start-up and read by a command. Thread-safety: no state.
 */
#ifndef PACS_BASE_RUNINFO_H
#define PACS_BASE_RUNINFO_H

#include "pacs/base/err.h"

/** The file's name inside the data folder. */
#define PACS_RUNINFO_FILE "pacsd.http"

typedef struct pacs_runinfo {
    long pid;
    char scheme[8];   /* "http" or "https" */
    char bind[64];    /* the listening address as configured (http.bind); may be a wildcard */
    int port;         /* the port it listens on (the real one when http.port was 0) */
    char prefix[256]; /* http.prefix */
} pacs_runinfo;

/**
 * Writes `ri` to DATA/pacsd.http through a temporary file and rename. Errors: PACS_EINVAL (a
 * field that does not fit the file's line format), PACS_EIO.
 */
pacs_err pacs_runinfo_write(const char *data_dir, const pacs_runinfo *ri, pacs_errinfo *ei);

/**
 * Reads DATA/pacsd.http into `*out` (written only on success). Errors: PACS_ENOTFOUND (no such
 * file: no pacsd has run here, or the last one stopped cleanly), PACS_EINVAL (a malformed
 * file), PACS_EIO.
 */
pacs_err pacs_runinfo_read(const char *data_dir, pacs_runinfo *out, pacs_errinfo *ei);

/** Removes DATA/pacsd.http if it still names process `pid` (another pacsd may have started
 *  since); errors are ignored. */
void pacs_runinfo_remove(const char *data_dir, long pid);

/** 1 when process `pid` exists (as kill(pid, 0) tells), else 0. */
int pacs_runinfo_alive(long pid);

/** 1 when `bind` is a wildcard address (listening on every interface): "", "0.0.0.0", "::". */
int pacs_runinfo_wildcard(const char *bind);

#endif
