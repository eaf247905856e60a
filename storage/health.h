// SPDX-License-Identifier: MIT
/*
 * The archive as the people who run it see it: whether it is ready to work (the index
 * answers, the data folder takes a write, free space is above storage.free_min), and the
 * values /metrics reads when asked rather than counts as it goes: what the index holds, its
 * size on disk, the forwarding queue, and each file system's size, free space and level.
 * Built on the archive's public API (archive.h, space.h) only.
 *
 * Load: a readiness probe every few seconds (one indexed query, one temporary file, a statvfs)
 * and a scrape every 15-60 s (the index's counts: one pass over its instances). Thread-safe:
 * any thread, as the archive is.
 */
#ifndef PACS_STORAGE_HEALTH_H
#define PACS_STORAGE_HEALTH_H

#include "pacs/base/buf.h"
#include "pacs/base/err.h"
#include "storage/archive.h"

/**
 * PACS_OK when the archive can take work; otherwise the first failing check's error with a
 * message saying which: the index does not answer (its error), the data folder cannot be
 * written (PACS_EIO and the like), or free space is below storage.free_min (PACS_ENOSPC).
 */
pacs_err pacs_health_ready(pacs_archive *a, pacs_errinfo *ei);

/**
 * A metrics collector (pacs/base/metrics.h; `archive` is the pacs_archive): writes the
 * pacs_archive_*, pacs_index_size_bytes, pacs_forward_queue and pacs_disk_* families. A value
 * that cannot be read is left out (and logged at DEBUG).
 */
void pacs_health_collect(void *archive, pacs_buf *out);

#endif
