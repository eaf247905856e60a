// SPDX-License-Identifier: MIT
/*
 * Modality Worklist SCP (PS3.4 K, C-FIND on 1.2.840.10008.5.1.4.31): the identifier's keys,
 * the Scheduled Procedure Step Sequence's item among them, become a query of the archive's
 * worklist (storage/orders.h); each scheduled step it finds is a pending response holding the
 * requested keys. Names go out in UTF-8 (ISO_IR 192), or, for a calling AE configured with
 * `names=ascii`, without diacritics in upper case with no Specific Character Set, for consoles
 * that cannot show Vietnamese. C-CANCEL is honoured between responses. One association's
 * thread.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pacs/base/log.h"
#include "dimse/service.h"
#include "storage/orders.h"

#define TAG_CHARSET 0x00080005u

typedef struct wl_state {
    pacs_dimse_ctx *c;
    const pacs_dimse_msg *rq;
    const json_t *request;
    int ascii;
    int canceled;
    pacs_err net_err;
    pacs_errinfo net_ei;
    unsigned matches;
} wl_state;

/* The requested keys of `request` with the values of `result` (a key the result lacks is sent
 * empty, as asked); a sequence key takes the result's item whole. */
static json_t *answer(const json_t *request, const json_t *result, int ascii)
{
    json_t *out = json_object();
    const char *key;
    json_t *attr;
    json_object_foreach((json_t *)request, key, attr)
    {
        uint32_t tag = (uint32_t)strtoul(key, NULL, 16);
        if (tag == TAG_CHARSET || (tag >> 16) == 0x0000) {
            continue;
        }
        json_t *v = json_object_get(result, key);
        if (v) {
            json_object_set(out, key, v);
        } else {
            json_t *empty = json_object();
            json_object_set(empty, "vr", json_object_get(attr, "vr"));
            json_object_set_new(out, key, empty);
        }
    }
    if (!ascii) {
        json_object_set_new(out, "00080005",
                            json_pack("{s:s,s:[s]}", "vr", "CS", "Value", "ISO_IR 192"));
    }
    return out;
}

static int send_item(void *ctx, const json_t *result)
{
    wl_state *ws = ctx;
    json_t *out = answer(ws->request, result, ws->ascii);
    pacs_ds *ds = NULL;
    pacs_errinfo ei;
    pacs_err err = pacs_ds_from_json(out, &ds, &ei);
    json_decref(out);
    if (err != PACS_OK) {
        pacs_log(PACS_LOG_WARN, "dimse", "assoc=%u cannot encode a worklist item: %s",
                 ws->c->assoc_id, ei.msg);
        return 0;
    }
    pacs_dimse_msg rsp;
    memset(&rsp, 0, sizeof rsp);
    rsp.type = PACS_C_FIND_RSP;
    rsp.pc_id = ws->rq->pc_id;
    rsp.msg_id = ws->rq->msg_id;
    rsp.status = PACS_ST_PENDING;
    rsp.has_dataset = 1;
    memcpy(rsp.sop_class, ws->rq->sop_class, sizeof rsp.sop_class);
    err = pacs_msg_send(ws->c->assoc, &rsp, ds, &ws->net_ei);
    pacs_ds_free(ds);
    if (err != PACS_OK) {
        ws->net_err = err;
        return 1;
    }
    ws->matches++;
    if (pacs_msg_cancel_requested(ws->c->assoc, ws->rq->msg_id)) {
        ws->canceled = 1;
        return 1;
    }
    return 0;
}

pacs_err pacs_dimse__worklist(pacs_dimse_ctx *c, const pacs_dimse_msg *rq, pacs_errinfo *ei)
{
    c->finds++;
    if (!rq->has_dataset) {
        return pacs_dimse__respond(c, rq, PACS_C_FIND_RSP, PACS_ST_IDENTIFIER_MISMATCH,
                                   "worklist C-FIND without an identifier", ei);
    }
    json_t *id = NULL;
    pacs_errinfo sub;
    pacs_errinfo_clear(&sub);
    pacs_err err = pacs_dimse__find_identifier(c, rq, PACS_ST_IDENTIFIER_MISMATCH, &id, ei);
    if (err != PACS_OK || !id) {
        return err;
    }
    /* A worklist identifier asks for scheduled steps: its Scheduled Procedure Step Sequence
     * (PS3.4 K.6.1.1.2) must be a sequence when it is there. */
    json_t *sps = json_object_get(id, "00400100");
    const char *sps_vr = sps ? json_string_value(json_object_get(sps, "vr")) : "SQ";
    pacs_query *q = pacs_query_new(PACS_LEVEL_PATIENT);
    uint16_t status = 0;
    if (!sps_vr || strcmp(sps_vr, "SQ") != 0) {
        snprintf(sub.msg, sizeof sub.msg, "ScheduledProcedureStepSequence is not a sequence");
        status = PACS_ST_IDENTIFIER_MISMATCH;
    } else if (!q) {
        status = PACS_ST_OUT_OF_RESOURCES;
    } else {
        status = pacs_dimse__query_keys(id, q, &sub);
        status = status ? PACS_ST_IDENTIFIER_MISMATCH : 0;
    }
    if (status != 0) {
        pacs_query_free(q);
        json_decref(id);
        pacs_log(PACS_LOG_WARN, "dimse", "assoc=%u worklist C-FIND refused: %s", c->assoc_id,
                 sub.msg);
        pacs_dimse__audit(c, PACS_AUDIT_QUERY, 0, NULL, NULL, "worklist C-FIND refused", 0);
        return pacs_dimse__respond(c, rq, PACS_C_FIND_RSP, status, sub.msg, ei);
    }
    wl_state ws;
    memset(&ws, 0, sizeof ws);
    ws.c = c;
    ws.rq = rq;
    ws.request = id;
    pacs_remote_ae ae;
    ws.ascii =
        c->aetable && pacs_aetable_find(c->aetable, c->info.calling_aet, &ae) && ae.ascii_names;
    err = pacs_orders_worklist(c->archive, q, ws.ascii, send_item, &ws, &sub);
    pacs_query_free(q);
    json_decref(id);
    pacs_dimse__audit(c, PACS_AUDIT_QUERY, err == PACS_OK && ws.net_err == PACS_OK && !ws.canceled,
                      NULL, NULL, "worklist C-FIND", ws.matches);
    if (ws.net_err != PACS_OK) {
        if (ei) {
            *ei = ws.net_ei;
        }
        return ws.net_err;
    }
    pacs_log(PACS_LOG_DEBUG, "dimse", "assoc=%u worklist C-FIND matches=%u ascii=%d%s", c->assoc_id,
             ws.matches, ws.ascii, ws.canceled ? " (canceled)" : "");
    if (ws.canceled) {
        return pacs_dimse__respond(c, rq, PACS_C_FIND_RSP, PACS_ST_CANCEL, NULL, ei);
    }
    if (err != PACS_OK) {
        pacs_log(PACS_LOG_WARN, "dimse", "assoc=%u worklist C-FIND failed: %s", c->assoc_id,
                 sub.msg);
        return pacs_dimse__respond(c, rq, PACS_C_FIND_RSP,
                                   err == PACS_EINVAL ? PACS_ST_IDENTIFIER_MISMATCH
                                                      : PACS_ST_UNABLE_TO_PROCESS,
                                   sub.msg, ei);
    }
    return pacs_dimse__respond(c, rq, PACS_C_FIND_RSP, PACS_ST_SUCCESS, NULL, ei);
}
