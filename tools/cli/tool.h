// SPDX-License-Identifier: MIT
/*
 * Shared by the files of the `pacs` command: the subcommand signature, the progress meter and
 * small helpers. Each subcommand lives in its own file (import.c, admin.c) and is listed in the
 * table in pacs.c. The progress meter is thread-safe (import updates it from its workers);
 * everything else runs on the main thread.
 */
#ifndef PACS_TOOLS_TOOL_H
#define PACS_TOOLS_TOOL_H

#include <pthread.h>
#include <stdint.h>
#include <time.h>

#include "pacs/base/config.h"
#include "storage/archive.h"
#include "storage/audit.h"

/* Exit statuses of every subcommand. */
#define TOOL_OK 0       /* everything done */
#define TOOL_PROBLEMS 1 /* done, but something failed or was found wrong */
#define TOOL_USAGE 2    /* bad arguments or configuration; nothing done */

/** A subcommand: `args` are its own arguments (the shared options already applied to cfg). */
typedef int (*pacs_tool_cmd)(const pacs_config *cfg, int argc, char **argv);

int pacs_tool__import(const pacs_config *cfg, int argc, char **argv);
int pacs_tool__reindex(const pacs_config *cfg, int argc, char **argv);
int pacs_tool__verify(const pacs_config *cfg, int argc, char **argv);
int pacs_tool__delete(const pacs_config *cfg, int argc, char **argv);
int pacs_tool__stats(const pacs_config *cfg, int argc, char **argv);
int pacs_tool__forward(const pacs_config *cfg, int argc, char **argv); /* forward_cmd.c */
int pacs_tool__render(const pacs_config *cfg, int argc, char **argv);  /* render_cmd.c */
int pacs_tool__share(const pacs_config *cfg, int argc, char **argv);   /* share_cmd.c */
int pacs_tool__audit(const pacs_config *cfg, int argc, char **argv);   /* audit_cmd.c */
int pacs_tool__user(const pacs_config *cfg, int argc, char **argv);    /* user_cmd.c */

/** Appends one audit line for a command of the tool (who = the OS user); never fails. */
void pacs_tool__audit_event(const pacs_config *cfg, pacs_audit_action action, int success,
                            const char *study_uid, const char *detail, unsigned count);
/** The same for many lines (thread-safe between begin and end): opens the trail, ... */
void pacs_tool__audit_begin(const pacs_config *cfg);
/** ... appends one line (protocol "tool", who = the OS user), ... */
void pacs_tool__audit_line(pacs_audit_action action, int success, const char *study_uid,
                           const char *patient_id, const char *detail, unsigned count);
/** ... and syncs and closes it. */
void pacs_tool__audit_end(void);
int pacs_tool__migrate(const pacs_config *cfg, int argc, char **argv);   /* migrate_cmd.c */
int pacs_tool__compress(const pacs_config *cfg, int argc, char **argv);  /* compress_cmd.c */
int pacs_tool__retention(const pacs_config *cfg, int argc, char **argv); /* retention_cmd.c */
int pacs_tool__backup(const pacs_config *cfg, int argc, char **argv);    /* backup_cmd.c */
int pacs_tool__restore(const pacs_config *cfg, int argc, char **argv);   /* backup_cmd.c */

/** The configuration file given with --config (the last one), or NULL: `pacs backup` saves it.
 *  Borrowed from argv. */
const char *pacs_tool__config_file(void);

/**
 * Progress of a long run on stderr, only when stderr is a terminal: one line rewritten in place
 * at most ten times a second, "import  120/300  40%  35.2/s  0:05 left". Messages printed
 * with pacs_tool__msg() clear the line first so they are not mixed with it.
 */
typedef struct pacs_progress {
    const char *what;
    uint64_t total;
    uint64_t done;
    struct timespec start, last;
    int tty;
    int shown;
    pthread_mutex_t mu;
} pacs_progress;

void pacs_progress_start(pacs_progress *p, const char *what, uint64_t total);
/** Sets how far the run is; `total` 0 keeps the one given at the start. */
void pacs_progress_set(pacs_progress *p, uint64_t done, uint64_t total);
/** Erases the line until the next update (before printing to stdout). */
void pacs_progress_clear(pacs_progress *p);
/** Erases the line; the run's summary is the caller's. */
void pacs_progress_end(pacs_progress *p);
/** Seconds since the start. */
double pacs_progress_elapsed(const pacs_progress *p);

/** Prints one line on stderr ("pacs: ..."), first erasing the progress line (`p` may be NULL). */
void pacs_tool__msg(pacs_progress *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/** "12.3 MB" style size. */
void pacs_tool__size(uint64_t bytes, char *buf, size_t cap);

/** Opens the archive `cfg` names (pacs_archive_open_ex with `flags`); on failure prints
 *  "pacs: cannot open the archive in DATA: why" and returns -1. */
int pacs_tool__open_archive(const pacs_config *cfg, unsigned flags, pacs_archive **a);

#endif
