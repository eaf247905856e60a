// SPDX-License-Identifier: MIT
/*
 * C-MOVE SCP (Patient Root and Study Root; PATIENT, STUDY, SERIES and IMAGE levels; UID lists).
 * The destination must be a known AE (0xA801 otherwise). One storage association is opened to it
 * for the whole request, proposing exactly the SOP classes and transfer syntaxes to send: each
 * stored syntax first, then explicit/implicit little endian where the stored syntax converts to
 * it. Sub-operations, responses and C-CANCEL are handled by the retrieve engine (retrieve.c).
 * Runs on the requester's association thread.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pacs/base/log.h"
#include "dimse/retrieve.h"

pacs_err pacs_dimse__move(pacs_dimse_ctx *c, const pacs_dimse_msg *rq, pacs_errinfo *ei)
{
    pacs_resolve_list list;
    pacs_err err;
    if (!pacs_dimse__retr_begin(c, rq, PACS_C_MOVE_RSP, &list, &err, ei)) {
        return err;
    }
    pacs_remote_ae dest;
    if (!c->aetable || !pacs_aetable_find(c->aetable, rq->move_destination, &dest)) {
        pacs_resolve_list_free(&list);
        pacs_log(PACS_LOG_WARN, "dimse",
                 "assoc=%u calling=%s C-MOVE refused: destination %s is "
                 "not a known AE",
                 c->assoc_id, c->info.calling_aet, rq->move_destination);
        char detail[64];
        snprintf(detail, sizeof detail, "C-MOVE to=%s: unknown destination", rq->move_destination);
        pacs_dimse__audit(c, PACS_AUDIT_RETRIEVE, 0, NULL, NULL, detail, 0);
        return pacs_dimse__respond(c, rq, PACS_C_MOVE_RSP, PACS_ST_MOVE_DEST_UNKNOWN,
                                   "move destination unknown", ei);
    }

    pacs_proposal *prop = calloc(1, sizeof *prop);
    pacs_sendset *pcs = calloc(1, sizeof *pcs);
    pacs_assoc *out = NULL;
    char why[320] = "";
    if (!prop || !pcs) {
        snprintf(why, sizeof why, "out of memory");
    } else if (list.n > 0) {
        for (size_t i = 0; i < list.n; i++) {
            pacs_dimse__propose(prop, list.v[i].sop_class, list.v[i].ts);
        }
        pacs_errinfo aei;
        err = pacs_dimse__request(c->cfg, &dest, prop->pcs, prop->n, &out, &aei);
        if (err != PACS_OK) {
            out = NULL;
            snprintf(why, sizeof why, "cannot open an association to %s: %s", dest.aet, aei.msg);
            pacs_log(PACS_LOG_WARN, "dimse", "assoc=%u C-MOVE %s", c->assoc_id, why);
        } else {
            pacs_dimse__sendset_from_request(pcs, prop->pcs, prop->n);
        }
    }
    pacs_subop so;
    memset(&so, 0, sizeof so);
    so.archive = c->archive;
    so.assoc = out;
    so.pcs = pcs;
    so.timeout = c->timeout;
    so.stopping = c->stopping;
    so.orig_aet = c->info.calling_aet;
    so.orig_msg_id = rq->msg_id;
    so.next_msg_id = 1;
    err = pacs_dimse__retrieve_run(c, rq, PACS_C_MOVE_RSP, &list, out ? &so : NULL, dest.aet,
                                   why[0] ? why : NULL, ei);
    if (out) {
        /* A destination that stopped answering would hold a release or an A-ABORT (which
         * waits for the peer to close) for the ACSE timeout: just cut the connection. */
        pacs_errinfo rei;
        if (so.broken || atomic_load(c->stopping)) {
            pacs_assoc_shutdown(out);
        } else if (pacs_assoc_release(out, &rei) != PACS_OK) {
            pacs_assoc_abort(out);
        }
        pacs_assoc_free(out);
    }
    free(prop);
    free(pcs);
    pacs_resolve_list_free(&list);
    return err;
}
