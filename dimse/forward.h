// SPDX-License-Identifier: MIT
/*
 * Forwarding (auto-routing): every instance the archive stores is matched against the
 * forwarding rules (`route.NAME = DEST [conditions]`, see pacs/base/config.h); for each matching
 * destination an entry is written to the persistent queue in the index before the store is
 * acknowledged, and the queue's worker (storage/forward_worker.h) is woken. This module is also
 * the worker's DIMSE sender: the entries of a known AE (`ae.TITLE = host:port`) go on one
 * association per batch, and each is done only after the destination's C-STORE-RSP. (Entries of
 * a DICOMweb destination, `web.NAME`, are dicomweb/sender.h's.)
 *
 * Thread-safe: the stored hook runs on any ingest thread; the sender on the worker's thread.
 */
#ifndef PACS_DIMSE_FORWARD_H
#define PACS_DIMSE_FORWARD_H

#include "pacs/base/config.h"
#include "pacs/base/err.h"
#include "dimse/aetable.h"
#include "storage/archive.h"
#include "storage/forward_worker.h"

typedef struct pacs_forwarder pacs_forwarder;

/** A forwarder over `archive` and the AEs and rules of `table` (all borrowed: they must outlive
 *  it). The hook is not installed yet (pacs_forward_attach). */
pacs_err pacs_forward_new(const pacs_config *cfg, pacs_archive *archive, pacs_aetable *table,
                          pacs_forwarder **out, pacs_errinfo *ei);

/** The DIMSE sender, for pacs_fwd_worker_start(). */
pacs_fwd_sender pacs_forward_sender(pacs_forwarder *f);

/** Installs the archive's stored hook, which queues by the rules and wakes `w`; NULL removes
 *  it (before `w` is stopped). */
void pacs_forward_attach(pacs_forwarder *f, pacs_fwd_worker *w);

/** Frees the forwarder (its hook removed, its worker stopped). NULL is accepted. */
void pacs_forward_free(pacs_forwarder *f);

#endif
