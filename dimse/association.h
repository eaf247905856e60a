// SPDX-License-Identifier: MIT
/*
 * What the DIMSE server (server.c) does with each association it accepts, shared inside
 * dimse/ only: negotiate it (negotiate.c), then serve its messages (dispatch.c), which hands
 * each request to its service's handler through a table (service.h). Neither calls back into
 * the server, and no handler calls either. Thread-safety: both run on the association's own
 * thread.
 */
#ifndef PACS_DIMSE_ASSOCIATION_H
#define PACS_DIMSE_ASSOCIATION_H

#include "dimse/service.h"

/**
 * Decides the association request on `c->assoc` (whose `info`, `cfg` and `aetable` are set):
 * sets `c->allow`, accepts or rejects each presentation context and sends A-ASSOCIATE-AC.
 * PACS_EDENIED when the association was rejected (A-ASSOCIATE-RJ sent, logged, audited); the
 * network error of the acknowledgement otherwise.
 */
pacs_err pacs_dimse__negotiate(pacs_dimse_ctx *c, pacs_errinfo *ei);

/**
 * Serves an accepted association until it ends: receives each message (polling `c->stopping`
 * every second, aborting after `c->timeout` idle seconds) and hands it to its service. Returns
 * how the association ended, for the closing log line ("released", "aborted by peer",
 * "aborted (idle timeout)", ...); the association has been released or aborted, not freed.
 */
const char *pacs_dimse__serve(pacs_dimse_ctx *c);

#endif
