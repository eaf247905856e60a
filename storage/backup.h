// SPDX-License-Identifier: MIT
/*
 * Backup and restore of an archive's data folder (`pacs backup DEST`, `pacs restore SRC DATA`),
 * while pacsd runs. A backup folder holds:
 *
 *   BACKUP                  what it is: "pacs-backup 1", the index backend, when it was made
 *   index.sqlite            a consistent copy of the SQLite index (SQLite's online backup API:
 *                           one read transaction, which does not stop pacsd's writes); the share
 *                           links, orders and forwarding queue live in it
 *   objects/ab/cd/<sha256>  every object that copy refers to
 *   audit/YYYY-MM-DD.jsonl  the audit trail
 *   share.key               the key that signs share links
 *   pacsd.conf              the configuration file the backup was run with, when it had one
 *
 * Objects are immutable and named by the SHA-256 of their bytes, so an object already in the
 * destination is not copied again: a second backup into the same folder copies only the new
 * ones (and removes those the archive no longer refers to). Every copied object is hashed on
 * the way and compared with its name. The new index copy replaces the old one only after every
 * object it refers to is in place and flushed (one syncfs), so an interrupted backup leaves the
 * previous one usable. An object deleted from the archive between the index copy and its own
 * copy makes the backup start again from a fresh index copy (at most three times).
 *
 * With a PostgreSQL index the objects are copied the same way (those the index refers to when
 * they are listed; one deleted meanwhile is counted as missing) and the index is left to
 * pg_dump: pacs_backup_pg_dump_command() says how, and a backup run again after the dump copies
 * the objects stored in between.
 *
 * Load: a full read of every new object (SHA-256 at ~1.6 GB/s a core is not the limit; the
 * disks are); pacsd's stores go on meanwhile. Single-threaded; no global state.
 */
#ifndef PACS_STORAGE_BACKUP_H
#define PACS_STORAGE_BACKUP_H

#include <stddef.h>
#include <stdint.h>

#include "pacs/base/config.h"
#include "pacs/base/err.h"
#include "storage/archive.h"

/** What a backup or a restore did. */
typedef struct pacs_backup_report {
    uint64_t objects;      /* objects the index copy refers to */
    uint64_t copied;       /* objects copied this time */
    uint64_t copied_bytes; /* their bytes */
    uint64_t present;      /* already in the destination, left as they were */
    uint64_t pruned;       /* in the destination but no longer referred to: removed */
    uint64_t missing;      /* referred to but gone from the source (deleted meanwhile) */
    uint64_t corrupt;      /* whose bytes no longer hash to their name: not copied */
    uint64_t audit_files;  /* audit-trail files copied (new or grown since the last backup) */
    uint64_t audit_bytes;
    int index_copied;  /* 1: index.sqlite copied; 0: a PostgreSQL index (pg_dump's job) */
    int config_copied; /* 1: the configuration file was saved as pacsd.conf */
} pacs_backup_report;

/**
 * Backs up the archive `cfg` describes (its data folder, index and object folder) into `dest`,
 * made if missing; `config_file` (may be NULL) is the configuration file to save beside it.
 * Safe while pacsd runs and stores. Two backups into one folder at once are refused
 * (PACS_EBUSY; DEST/backup.lock). `progress` (may be NULL) gets objects done of total.
 * Errors: PACS_EIO (a read or write failed, or objects the index copy names were deleted
 * before they could be copied, three index copies in a row; the previous backup in `dest` is
 * kept), PACS_ENOSPC (the destination is full; the same),
 * PACS_EDB (the index could not be read), PACS_ECORRUPT (an object of the archive no longer
 * hashes to its name: the others are copied, `out` counts it, and the backup is complete but
 * for it). `*out` is written on success and on PACS_ECORRUPT.
 */
pacs_err pacs_backup_run(const pacs_config *cfg, const char *dest, const char *config_file,
                         pacs_progress_cb progress, void *ctx, pacs_backup_report *out,
                         pacs_errinfo *ei);

/**
 * Restores the backup in `src` into the data folder `data_dir`, which must not exist or be
 * empty (PACS_EEXIST otherwise: nothing is written). Objects go to DATA/objects, hashed on the
 * way; the index copy is put in place last, so a folder without DATA/index.sqlite is an
 * unfinished restore. The configuration saved in the backup is not installed: its path is
 * SRC/pacsd.conf. A PostgreSQL backup restores the objects, share key and audit trail; its
 * index is pg_restore's. Errors: PACS_EINVAL (`src` is not a backup), PACS_EEXIST, PACS_EIO,
 * PACS_ECORRUPT (an object of the backup is damaged: the others are restored).
 */
pacs_err pacs_backup_restore(const char *src, const char *data_dir, pacs_progress_cb progress,
                             void *ctx, pacs_backup_report *out, pacs_errinfo *ei);

/**
 * The pg_dump command that dumps the PostgreSQL index at `location` into DEST/index.pgdump
 * (custom format, for pg_restore), into `buf`.
 */
void pacs_backup_pg_dump_command(const char *location, const char *dest, char *buf, size_t cap);

#endif
