// SPDX-License-Identifier: MIT
/*
 * Forwarding (auto-routing): every instance the archive stores is matched against the
 * forwarding rules (`route.NAME = DEST [conditions]`, see pacs/base/config.h); for each matching
 * destination an entry is written to the persistent queue in the index before the store is
 * acknowledged. One worker thread sends due entries, grouped by destination on one association
 * each, and retries failures with exponential back-off (forward.retry_min .. forward.retry_max
 * seconds) until they succeed, or until forward.max_attempts when that is set, after which they
 * are marked failed and stay listed (`pacs forward list`, `pacs forward retry`). Entries survive
 * restarts and crashes; an entry is marked done only after the destination's C-STORE-RSP.
 *
 * Thread-safe: the stored hook runs on any ingest thread; the worker owns its association.
 */
#ifndef PACS_DIMSE_FORWARD_H
#define PACS_DIMSE_FORWARD_H

#include "pacs/base/config.h"
#include "pacs/base/err.h"
#include "dimse/aetable.h"
#include "storage/archive.h"

typedef struct pacs_forwarder pacs_forwarder;

/**
 * Installs the archive's stored hook and starts the worker. `cfg`, `archive` and `table` are
 * borrowed and must outlive the forwarder. Entries left in the queue by an earlier run are sent.
 */
pacs_err pacs_forward_start(const pacs_config *cfg, pacs_archive *archive, pacs_aetable *table,
                            pacs_forwarder **out, pacs_errinfo *ei);

/** Wakes the worker now (after a reload, say) instead of at its next poll. */
void pacs_forward_wake(pacs_forwarder *f);

/** Removes the hook, stops the worker (cutting short an association in progress) and
 *  frees it. Unsent entries stay queued. NULL is accepted. */
void pacs_forward_stop(pacs_forwarder *f);

#endif
