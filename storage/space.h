// SPDX-License-Identifier: MIT
/*
 * Disk watermarks: the free space of the file systems the archive writes to (its object folder
 * and its data folder, once each when they share one), against two levels from the
 * configuration: below storage.free_warn a warning is logged and shown in the metrics; below
 * storage.free_min (the high watermark) new stores are refused before the disk is full, so
 * that a modality gets a clean "out of resources" (C-STORE 0xA700, STOW-RS 507) instead of a
 * half-written object, and the index and audit trail keep room to work. Each is "N%" of the
 * file system or a size. Stores are accepted again as soon as space is freed: every check
 * asks the file system afresh (one statvfs per folder, about a microsecond).
 *
 * Load: one check at the start of every ingest (pacs_archive_ingest_begin) and one per
 * scrape or readiness probe. Thread-safety: any thread; a change of level is logged once, by
 * the thread that sees it first (an atomic per file system).
 */
#ifndef PACS_STORAGE_SPACE_H
#define PACS_STORAGE_SPACE_H

#include <stddef.h>
#include <stdint.h>

#include "pacs/base/config.h"
#include "pacs/base/err.h"

typedef struct pacs_space pacs_space;

typedef enum pacs_space_level {
    PACS_SPACE_OK = 0,
    PACS_SPACE_LOW = 1,    /* below storage.free_warn: warned */
    PACS_SPACE_REFUSE = 2, /* below storage.free_min: new stores refused */
} pacs_space_level;

/** Most file systems one archive watches (object folder, data folder). */
#define PACS_SPACE_MAX 2

/** One file system as last seen. */
typedef struct pacs_space_info {
    char path[512];        /* the folder that stands for it */
    uint64_t size, avail;  /* bytes: the file system's size, and what pacsd may still write */
    uint64_t warn_below;   /* storage.free_warn in bytes for this file system */
    uint64_t refuse_below; /* storage.free_min in bytes */
    pacs_space_level level;
} pacs_space_info;

/**
 * Watches the file systems of `folders` (which must exist; two on one file system count once)
 * with the levels of storage.free_min and storage.free_warn. Errors: PACS_EIO when a folder
 * cannot be examined, PACS_ENOMEM.
 */
pacs_err pacs_space_open(const pacs_config *cfg, const char *const *folders, size_t n,
                         pacs_space **out, pacs_errinfo *ei);

/** Frees the watcher; NULL is accepted. */
void pacs_space_close(pacs_space *s);

/**
 * Asks whether a new object may be stored: PACS_OK, or PACS_ENOSPC with a message naming the
 * folder, its free space and the setting when a file system is below storage.free_min (counted
 * in pacs_store_refused_low_space_total). A file system that cannot be examined is not
 * refused (the write itself will say what is wrong).
 */
pacs_err pacs_space_admit(pacs_space *s, pacs_errinfo *ei);

/** Examines every file system now and writes up to `cap` records to `out`; returns how many
 *  were written (0 when none could be examined). Logs a change of level. */
size_t pacs_space_check(pacs_space *s, pacs_space_info *out, size_t cap);

#endif
