// SPDX-License-Identifier: MIT
/*
 * The forwarding queue's worker, the same for every protocol: one thread takes the due entries
 * of the persistent queue (archive.h, pacs_archive_forward_*), groups them by destination, hands
 * each group to the sender that knows the destination (DIMSE C-STORE in dimse/forward.c, STOW-RS
 * in dicomweb/sender.c, FHIR PUTs to the health record in fhir/push.c) and writes the outcomes
 * back: done, retried with exponential back-off (forward.retry_min .. forward.retry_max
 * seconds), or failed after forward.max_attempts (when set) or when nothing the destination does
 * can change it. A destination that is down is not tried again before its entries' back-off has
 * passed, so a burst of new instances does not hammer it. Entries of a destination no sender knows
 * wait, retried, and stay listed.
 *
 * Thread-safe: wake and stop from any thread; the senders' send runs on the worker thread,
 * their cancel on the stopping one.
 */
#ifndef PACS_STORAGE_FORWARD_WORKER_H
#define PACS_STORAGE_FORWARD_WORKER_H

#include <stddef.h>
#include <stdint.h>

#include "pacs/base/config.h"
#include "pacs/base/err.h"
#include "storage/archive.h"

typedef struct pacs_fwd_worker pacs_fwd_worker;

/** What became of one entry a sender was given. */
typedef enum pacs_fwd_result {
    PACS_FWD_UNTRIED = 0, /* not tried (the worker is stopping): the entry keeps its state */
    PACS_FWD_SENT,        /* the destination confirmed it */
    PACS_FWD_RETRY,       /* try again after the back-off */
    PACS_FWD_GIVE_UP      /* nothing the destination can change: failed now */
} pacs_fwd_result;

/** One entry's outcome, written by the sender. */
typedef struct pacs_fwd_outcome {
    pacs_fwd_result result;
    char why[200];                /* the error; with SENT, a warning or "" */
    char study[PACS_UID_MAX + 1]; /* its study for the audit trail, "" when unknown */
    uint64_t bytes;               /* bytes sent on the wire for it (SENT) */
    uint64_t ms;                  /* its share of the time the sending took (SENT) */
} pacs_fwd_outcome;

/** A protocol's sender. The entries given to send() are all for one destination, which
 *  knows() accepted, and each is still stored (its object is not ""). */
typedef struct pacs_fwd_sender {
    const char *protocol; /* for the audit trail: "dimse", "dicomweb", "fhir" */
    int (*knows)(void *ctx, const char *dest);
    /* Writes out[i] for each entry (those left UNTRIED keep their state); returns non-zero
     * when the destination is down (unreachable, or the connection broke), so that it waits
     * for the soonest retry. pacs_fwd_worker_stopping() says when to stop early. */
    int (*send)(void *ctx, pacs_fwd_worker *w, const pacs_fwd_entry *ents, size_t n,
                pacs_fwd_outcome *out);
    void (*cancel)(void *ctx); /* cuts a send in progress short; any thread; may be NULL */
    void *ctx;
} pacs_fwd_sender;

/**
 * Starts the worker with `n` senders (copied; their contexts are borrowed and must outlive the
 * worker). `cfg` and `archive` are borrowed too. Entries an earlier run left are sent at once.
 */
pacs_err pacs_fwd_worker_start(const pacs_config *cfg, pacs_archive *archive,
                               const pacs_fwd_sender *senders, size_t n, pacs_fwd_worker **out,
                               pacs_errinfo *ei);

/** Wakes the worker now (something was queued, a reload) instead of at its next poll. */
void pacs_fwd_worker_wake(pacs_fwd_worker *w);

/** True once pacs_fwd_worker_stop() was called: a sender stops between entries. */
int pacs_fwd_worker_stopping(pacs_fwd_worker *w);

/** Stops the worker (cancelling a send in progress) and frees it. Unsent entries stay
 *  queued. NULL is accepted. */
void pacs_fwd_worker_stop(pacs_fwd_worker *w);

#endif
