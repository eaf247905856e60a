// SPDX-License-Identifier: MIT
/*
 * The known remote AEs (`ae.TITLE = host:port`) and forwarding rules (`route.NAME = ...`) as the
 * running server sees them. The configuration object is read-only once loaded; this table is the
 * one piece that can be replaced while the server runs (pacsd reloads it on SIGHUP), so C-MOVE,
 * Storage Commitment and forwarding look destinations up here rather than in the configuration.
 *
 * Thread-safe: lookups copy what they return under a read lock; a load swaps the whole table
 * under the write lock, so a reader sees either the old table or the new one, never a mix.
 */
#ifndef PACS_DIMSE_AETABLE_H
#define PACS_DIMSE_AETABLE_H

#include <stddef.h>

#include "pacs/base/config.h"
#include "pacs/base/err.h"

typedef struct pacs_aetable pacs_aetable;

/** An empty table; NULL when out of memory. */
pacs_aetable *pacs_aetable_new(void);
void pacs_aetable_free(pacs_aetable *t);

/**
 * Replaces the table's AEs and rules with those of `cfg` (which pacs_config_finish() has
 * validated). On failure (out of memory) the old table stays in force.
 */
pacs_err pacs_aetable_load(pacs_aetable *t, const pacs_config *cfg, pacs_errinfo *ei);

/** Copies the known AE titled `aet` (blanks trimmed) into `out`; returns 0 when unknown. */
int pacs_aetable_find(pacs_aetable *t, const char *aet, pacs_remote_ae *out);

/** Numbers of known AEs and rules (for log lines). */
void pacs_aetable_counts(pacs_aetable *t, size_t *n_aes, size_t *n_routes);

/** What a forwarding rule is matched against. */
typedef struct pacs_aetable_route_input {
    const char *calling_aet; /* "" for STOW-RS and imports */
    const char *modality;    /* "" when absent */
    const char *sop_class;
    const char *source_http; /* the HTTP credential it came with; NULL or "" when none */
    /* For rules with study_from: 1 when the instance's study holds an instance that came with
     * the credential `name`, 0 when not or when it cannot be told (the callee logs why). NULL:
     * such rules match only on source_http. */
    int (*study_from)(void *ctx, const char *name);
    void *ctx;
} pacs_aetable_route_input;

/** Called for each matching rule with its name and destination (borrowed for the call). */
typedef void (*pacs_aetable_route_cb)(void *ctx, const char *rule, const char *dest);

/**
 * Calls `cb` once per destination for the rules that match `in` (a destination named by two
 * matching rules is reported once, for the first). Returns the number of destinations. The
 * callback runs under the read lock: it must not call pacs_aetable_load.
 */
size_t pacs_aetable_route(pacs_aetable *t, const pacs_aetable_route_input *in,
                          pacs_aetable_route_cb cb, void *ctx);

/** True when `value` equals one item of the comma-separated `list` (exact, after trimming). */
int pacs_aetable_list_has(const char *list, const char *value);

#endif
