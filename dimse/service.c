// SPDX-License-Identifier: MIT
/*
 * The context API of the DIMSE services (service.h): what a handler uses besides the archive
 * to answer a request (a response copying the request's identifiers, the audit record, a
 * refused dataset drained) and to reach another AE (an association as dimse.aet, over TLS for
 * AEs marked so). Handlers call only this and the network layer; none of it calls a handler
 * or the dispatcher.
 *
 * Load: one call per DIMSE response. Thread-safety: each call uses only its association,
 * which one thread serves at a time.
 */
#include "dimse/service.h"

#include <stdio.h>
#include <string.h>

pacs_err pacs_dimse__respond(pacs_dimse_ctx *c, const pacs_dimse_msg *rq, pacs_dimse_type type,
                             uint16_t status, const char *comment, pacs_errinfo *ei)
{
    pacs_dimse_msg rsp;
    memset(&rsp, 0, sizeof rsp);
    rsp.type = type;
    rsp.pc_id = rq->pc_id;
    rsp.msg_id = rq->msg_id;
    rsp.status = status;
    memcpy(rsp.sop_class, rq->sop_class, sizeof rsp.sop_class);
    memcpy(rsp.sop_instance, rq->sop_instance, sizeof rsp.sop_instance);
    rsp.action_type = rq->action_type;
    rsp.event_type = rq->event_type;
    if (comment) {
        snprintf(rsp.error_comment, sizeof rsp.error_comment, "%s", comment);
    }
    return pacs_msg_send(c->assoc, &rsp, NULL, ei);
}

static pacs_err discard(void *ctx, const void *buf, size_t len, pacs_errinfo *ei)
{
    (void)ctx;
    (void)buf;
    (void)len;
    (void)ei;
    return PACS_OK;
}

pacs_err pacs_dimse__drain(pacs_dimse_ctx *c, pacs_errinfo *ei)
{
    return pacs_msg_recv_dataset_raw(c->assoc, c->timeout, discard, NULL, ei);
}

void pacs_dimse__audit(const pacs_dimse_ctx *c, pacs_audit_action action, int success,
                       const char *study_uid, const char *patient_id, const char *detail,
                       unsigned count)
{
    pacs_audit_event ev = {
        .action = action,
        .success = success,
        .protocol = "dimse",
        .who = c->info.calling_aet,
        .from = c->info.peer_host,
        .study_uid = study_uid,
        .patient_id = patient_id,
        .detail = detail,
        .count = count,
    };
    pacs_audit_record(&ev);
}

pacs_err pacs_dimse__request(const pacs_config *cfg, const pacs_remote_ae *ae, pacs_pc *pcs,
                             size_t n_pcs, pacs_assoc **out, pacs_errinfo *ei)
{
    const char *our_aet = pacs_config_str(cfg, "dimse.aet");
    int timeout = (int)pacs_config_int(cfg, "dimse.acse_timeout");
    long max_pdu = pacs_config_int(cfg, "dimse.max_pdu");
    if (!ae->tls) {
        return pacs_assoc_request(our_aet, ae->aet, ae->host, ae->port, timeout, max_pdu, pcs,
                                  n_pcs, out, ei);
    }
    pacs_tls_opts tls = {
        .cert_file = pacs_config_str(cfg, "dimse.tls.cert"),
        .key_file = pacs_config_str(cfg, "dimse.tls.key"),
        .ca_file = pacs_config_str(cfg, "dimse.tls.ca"),
        .verify_peer = 1,
        .profile = pacs_config_str(cfg, "dimse.tls.profile"),
    };
    return pacs_assoc_request_tls(our_aet, ae->aet, ae->host, ae->port, timeout, max_pdu, pcs,
                                  n_pcs, &tls, out, ei);
}
