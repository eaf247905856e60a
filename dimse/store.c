// SPDX-License-Identifier: MIT
/*
 * C-STORE SCP: the dataset's bytes go straight from the network into the archive's ingest (no
 * parse or re-encode on the way in); the response is sent only after the instance is durable.
 * A refused or broken instance gets a failure status with an error comment, and the
 * association carries on.
 */
#include <stdio.h>
#include <string.h>

#include "pacs/base/log.h"
#include "pacs/base/metrics.h"
#include "dimse/service.h"

/* Where the dataset's bytes go, and how many came. */
typedef struct sink_ctx {
    pacs_ingest *in;
    uint64_t bytes;
} sink_ctx;

static pacs_err sink(void *ctx, const void *buf, size_t len, pacs_errinfo *ei)
{
    sink_ctx *s = ctx;
    s->bytes += len;
    return pacs_ingest_write(s->in, buf, len, ei);
}

/* PS3.4 B.2.3 statuses for what can go wrong while storing. */
static uint16_t status_for(pacs_err err)
{
    switch (err) {
    case PACS_ENOSPC:
    case PACS_ETOOBIG:
    case PACS_ENOMEM:
    case PACS_EBUSY:
        return PACS_ST_OUT_OF_RESOURCES;
    case PACS_EBADDATA:
    case PACS_EUNSUPPORTED:
        return PACS_ST_CANNOT_UNDERSTAND;
    default:
        return PACS_ST_PROCESSING_FAILURE;
    }
}

static int is_network(pacs_err err)
{
    return err == PACS_ENET || err == PACS_ECLOSED || err == PACS_ETIMEOUT;
}

static pacs_err refuse(pacs_dimse_ctx *c, const pacs_dimse_msg *rq, uint16_t status,
                       const char *why, pacs_errinfo *ei)
{
    c->store_failed++;
    pacs_metrics_add(PACS_M_STORE_FAILED_DIMSE, 1);
    pacs_log(PACS_LOG_WARN, "dimse", "assoc=%u calling=%s sop=%s store failed status=0x%04x: %s",
             c->assoc_id, c->info.calling_aet, rq->sop_instance, status, why);
    char detail[160];
    snprintf(detail, sizeof detail, "sop=%s status=0x%04x", rq->sop_instance, status);
    pacs_dimse__audit(c, PACS_AUDIT_STORE, 0, NULL, NULL, detail, 0);
    return pacs_dimse__respond(c, rq, PACS_C_STORE_RSP, status, why, ei);
}

pacs_err pacs_dimse__store(pacs_dimse_ctx *c, const pacs_dimse_msg *rq, pacs_errinfo *ei)
{
    char abstract[PACS_UID_MAX + 1], ts[PACS_UID_MAX + 1];
    double t0 = pacs_metrics_now();
    pacs_errinfo sub;
    pacs_errinfo_clear(&sub);
    if (!rq->has_dataset) {
        return refuse(c, rq, PACS_ST_CANNOT_UNDERSTAND, "C-STORE request without a dataset", ei);
    }
    pacs_err err = pacs_assoc_pc_syntaxes(c->assoc, rq->pc_id, abstract, ts, &sub);
    if (err == PACS_OK && strcmp(abstract, rq->sop_class) != 0) {
        snprintf(sub.msg, sizeof sub.msg, "SOP class %s sent on a context for %s", rq->sop_class,
                 abstract);
        err = PACS_EBADDATA;
    }
    pacs_ingest *in = NULL;
    if (err == PACS_OK) {
        pacs_meta m;
        memset(&m, 0, sizeof m);
        snprintf(m.sop_class_uid, sizeof m.sop_class_uid, "%s", rq->sop_class);
        snprintf(m.sop_instance_uid, sizeof m.sop_instance_uid, "%s", rq->sop_instance);
        snprintf(m.transfer_syntax_uid, sizeof m.transfer_syntax_uid, "%s", ts);
        err = pacs_archive_ingest_begin(c->archive, &m, c->info.calling_aet, &in, &sub);
    }
    if (err != PACS_OK) {
        pacs_errinfo net;
        pacs_err derr = pacs_dimse__drain(c, &net);
        if (derr != PACS_OK) {
            pacs_metrics_add(PACS_M_STORE_FAILED_DIMSE, 1);
            if (ei) {
                *ei = net;
            }
            return derr;
        }
        return refuse(c, rq, status_for(err), sub.msg, ei);
    }
    sink_ctx sc = {in, 0};
    err = pacs_msg_recv_dataset_raw(c->assoc, c->timeout, sink, &sc, &sub);
    if (err != PACS_OK) {
        pacs_ingest_abort(in);
        if (is_network(err)) {
            pacs_metrics_add(PACS_M_STORE_FAILED_DIMSE, 1);
            if (ei) {
                *ei = sub;
            }
            return err;
        }
        return refuse(c, rq, status_for(err), sub.msg, ei);
    }
    pacs_ingest_result res;
    err = pacs_ingest_finish(in, &res, &sub);
    if (err != PACS_OK) {
        return refuse(c, rq, status_for(err), sub.msg, ei);
    }
    c->stored++;
    pacs_metrics_add(PACS_M_STORED_DIMSE, 1);
    pacs_metrics_add(PACS_M_BYTES_DIMSE, sc.bytes);
    pacs_metrics_observe(PACS_M_STORE_SECONDS_DIMSE, pacs_metrics_now() - t0);
    /* Written before the response: an acknowledged instance always has its line. */
    char detail[96];
    snprintf(detail, sizeof detail, "sop=%s", res.meta.sop_instance_uid);
    pacs_dimse__audit(c, PACS_AUDIT_STORE, 1, res.study_uid, res.patient_id, detail, 1);
    pacs_log(PACS_LOG_DEBUG, "dimse", "assoc=%u sop=%s stored object=%.12s%s", c->assoc_id,
             res.meta.sop_instance_uid, res.object,
             res.duplicate  ? " (duplicate)"
             : res.replaced ? " (replaced)"
                            : "");
    return pacs_dimse__respond(c, rq, PACS_C_STORE_RSP, PACS_ST_SUCCESS, NULL, ei);
}
