// SPDX-License-Identifier: MIT
/*
 * Modality Performed Procedure Step SCP (PS3.4 F, 1.2.840.10008.3.1.2.3.3): N-CREATE starts a
 * performed step (IN PROGRESS), N-SET updates it until it is COMPLETED or DISCONTINUED; the
 * archive's orders API (storage/orders.h) keeps the instance and moves the order it names. An
 * N-CREATE without an Affected SOP Instance UID gets one made here and returned. Failures are
 * DIMSE statuses naming the problem (0x0106, 0x0111, 0x0112, 0x0120, 0x0110). One
 * association's thread.
 */
#include <stdio.h>
#include <string.h>

#include "pacs/base/log.h"
#include "pacs/dicom/codec.h"
#include "dimse/service.h"
#include "storage/orders.h"

/* The DIMSE status for what the archive said. */
static uint16_t status_for(pacs_err e, const char *msg)
{
    switch (e) {
    case PACS_OK:
        return PACS_ST_SUCCESS;
    case PACS_EEXIST:
        return PACS_ST_DUPLICATE_INSTANCE;
    case PACS_ENOTFOUND:
        return PACS_ST_NO_SUCH_INSTANCE;
    case PACS_EINVAL:
    case PACS_EBADDATA:
        /* "missing" in the archive's message: a required attribute is absent (0x0120) */
        return strstr(msg, "missing") ? PACS_ST_MISSING_ATTRIBUTE : PACS_ST_INVALID_ATTRIBUTE_VALUE;
    default: /* no longer IN PROGRESS (PS3.4 F.7.2.2.4.2), or the index failing */
        return PACS_ST_PROCESSING_FAILURE;
    }
}

pacs_err pacs_dimse__mpps(pacs_dimse_ctx *c, const pacs_dimse_msg *rq, pacs_errinfo *ei)
{
    int create = rq->type == PACS_N_CREATE_RQ;
    pacs_dimse_type rsp_type = create ? PACS_N_CREATE_RSP : PACS_N_SET_RSP;
    pacs_dimse_msg rsp = *rq;
    if (strcmp(rq->sop_class, PACS_MPPS_CLASS) != 0) {
        if (rq->has_dataset) {
            pacs_err derr = pacs_dimse__drain(c, ei);
            if (derr != PACS_OK) {
                return derr;
            }
        }
        return pacs_dimse__respond(c, rq, rsp_type, PACS_ST_SOP_CLASS_NOT_SUPPORTED,
                                   "only MPPS is served by N-CREATE and N-SET", ei);
    }
    if (create && !rsp.sop_instance[0]) {
        pacs_codec_new_uid(rsp.sop_instance);
    }
    pacs_errinfo sub;
    pacs_errinfo_clear(&sub);
    json_t *attrs = NULL;
    pacs_err err = PACS_OK;
    if (rq->has_dataset) {
        pacs_ds *ds = NULL;
        err = pacs_msg_recv_dataset(c->assoc, c->timeout, &ds, &sub);
        if (err != PACS_OK) {
            if (ei) {
                *ei = sub;
            }
            return err;
        }
        err = pacs_ds_to_json(ds, &attrs, &sub);
        pacs_ds_free(ds);
    } else {
        err = pacs_errf(&sub, PACS_EINVAL, "%s without a dataset (attributes missing)",
                        create ? "N-CREATE" : "N-SET");
    }
    if (err == PACS_OK && !rq->sop_instance[0] && !create) {
        err = pacs_errf(&sub, PACS_ENOTFOUND, "N-SET without a Requested SOP Instance UID");
    }
    if (err == PACS_OK) {
        err = create ? pacs_orders_mpps_create(c->archive, rsp.sop_instance, attrs, &sub)
                     : pacs_orders_mpps_set(c->archive, rsp.sop_instance, attrs, &sub);
    }
    json_decref(attrs);
    uint16_t status = status_for(err, sub.msg);
    char detail[160];
    snprintf(detail, sizeof detail, "MPPS %s %s", create ? "N-CREATE" : "N-SET", rsp.sop_instance);
    pacs_dimse__audit(c, PACS_AUDIT_STORE, err == PACS_OK, NULL, NULL, detail, 1);
    if (err != PACS_OK) {
        pacs_log(PACS_LOG_WARN, "dimse", "assoc=%u MPPS %s %s refused status=0x%04x: %s",
                 c->assoc_id, create ? "N-CREATE" : "N-SET", rsp.sop_instance, status, sub.msg);
    } else {
        pacs_log(PACS_LOG_INFO, "dimse", "assoc=%u MPPS %s %s", c->assoc_id,
                 create ? "N-CREATE" : "N-SET", rsp.sop_instance);
    }
    /* The response names the instance (PS3.7 10.1.5.1.2: an SCP-made UID goes back). */
    pacs_dimse_msg r;
    memset(&r, 0, sizeof r);
    r.type = rsp_type;
    r.pc_id = rq->pc_id;
    r.msg_id = rq->msg_id;
    r.status = status;
    memcpy(r.sop_class, rq->sop_class, sizeof r.sop_class);
    memcpy(r.sop_instance, rsp.sop_instance, sizeof r.sop_instance);
    if (err != PACS_OK) {
        /* ErrorComment is LO: the first 64 characters of the reason */
        memcpy(r.error_comment, sub.msg, sizeof r.error_comment - 1);
        r.error_comment[sizeof r.error_comment - 1] = '\0';
    }
    return pacs_msg_send(c->assoc, &r, NULL, ei);
}
