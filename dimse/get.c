// SPDX-License-Identifier: MIT
/*
 * C-GET SCP (Patient Root and Study Root; all levels; UID lists). The C-STORE sub-operations go
 * back on the requester's own association, on the storage contexts it proposed with the SCP role
 * (PS3.7 D.3.3.4) and that negotiation accepted in a syntax we can produce
 * (pacs_dimse__get_storage_ts). Each instance goes in its stored syntax when that context was
 * accepted, otherwise converted. A C-CANCEL-RQ may arrive between a sub-operation's request and
 * its response; the retrieve engine watches for it. Runs on the requester's association thread.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pacs/base/log.h"
#include "dimse/retrieve.h"

pacs_err pacs_dimse__get(pacs_dimse_ctx *c, const pacs_dimse_msg *rq, pacs_errinfo *ei)
{
    pacs_resolve_list list;
    pacs_err err;
    if (!pacs_dimse__retr_begin(c, rq, PACS_C_GET_RSP, &list, &err, ei)) {
        return err;
    }
    pacs_sendset *pcs = calloc(1, sizeof *pcs);
    if (!pcs) {
        pacs_resolve_list_free(&list);
        return pacs_dimse__respond(c, rq, PACS_C_GET_RSP, PACS_ST_OUT_OF_RESOURCES, "out of memory",
                                   ei);
    }
    pacs_dimse__sendset_from_assoc(pcs, c->assoc);
    pacs_subop so;
    memset(&so, 0, sizeof so);
    so.archive = c->archive;
    so.assoc = c->assoc;
    so.pcs = pcs;
    so.timeout = c->timeout;
    so.stopping = c->stopping;
    so.next_msg_id = (uint16_t)(rq->msg_id + 1);
    if (so.next_msg_id == 0) {
        so.next_msg_id = 1;
    }
    so.watch_cancel = 1;
    so.cancel_msg_id = rq->msg_id;
    err =
        pacs_dimse__retrieve_run(c, rq, PACS_C_GET_RSP, &list, &so, c->info.calling_aet, NULL, ei);
    free(pcs);
    pacs_resolve_list_free(&list);
    return err;
}
