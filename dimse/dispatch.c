// SPDX-License-Identifier: MIT
/*
 * The DIMSE dispatcher (association.h): the message loop of an accepted association and the
 * table that gives each request its service: C-ECHO (answered here), C-STORE (store.c),
 * C-FIND (find.c; the Modality Worklist's in worklist.c), C-MOVE (move.c), C-GET (get.c),
 * N-ACTION for Storage Commitment (commit.c), N-CREATE and N-SET for MPPS (mpps.c). A command the
 * peer's AE may not use is refused with 0x0124 (a second lock: negotiation refuses its context
 * first); one no service takes is answered 0x0211. Handlers answer through service.h and return
 * here; they never call the dispatcher.
 *
 * Load: one table lookup per DIMSE message. Thread-safety: runs on the association's thread.
 */
#include <string.h>

#include "dimse/association.h"
#include "pacs/base/log.h"

#define POLL_SECONDS 1
#define ST_UNRECOGNIZED_OPERATION 0x0211

static pacs_err echo(pacs_dimse_ctx *c, const pacs_dimse_msg *rq, pacs_errinfo *ei)
{
    return pacs_dimse__respond(c, rq, PACS_C_ECHO_RSP, PACS_ST_SUCCESS, NULL, ei);
}

static pacs_err cancel(pacs_dimse_ctx *c, const pacs_dimse_msg *rq, pacs_errinfo *ei)
{
    (void)c;
    (void)rq;
    (void)ei;
    return PACS_OK; /* nothing of that id is running: a running C-MOVE or C-GET sees its own */
}

/* The services, by request. A request without a handler is answered "unrecognized" with its
 * response type; one not listed at all is answered as a C-ECHO-RSP (it has no other). */
static const struct service {
    pacs_dimse_type rq, rsp;
    unsigned permission; /* PACS_AE_ALLOW_* the command needs; 0: none */
    pacs_dimse_handler handler;
} services[] = {
    {PACS_C_ECHO_RQ, PACS_C_ECHO_RSP, 0, echo},
    {PACS_C_STORE_RQ, PACS_C_STORE_RSP, PACS_AE_ALLOW_STORE, pacs_dimse__store},
    {PACS_C_FIND_RQ, PACS_C_FIND_RSP, PACS_AE_ALLOW_FIND, pacs_dimse__find},
    {PACS_C_MOVE_RQ, PACS_C_MOVE_RSP, PACS_AE_ALLOW_MOVE, pacs_dimse__move},
    {PACS_C_GET_RQ, PACS_C_GET_RSP, PACS_AE_ALLOW_GET, pacs_dimse__get},
    {PACS_C_CANCEL_RQ, PACS_C_ECHO_RSP, 0, cancel},
    {PACS_N_ACTION_RQ, PACS_N_ACTION_RSP, PACS_AE_ALLOW_COMMIT, pacs_dimse__commit},
    {PACS_N_EVENT_REPORT_RQ, PACS_N_EVENT_REPORT_RSP, 0, NULL},
    {PACS_N_CREATE_RQ, PACS_N_CREATE_RSP, PACS_AE_ALLOW_MPPS, pacs_dimse__mpps},
    {PACS_N_SET_RQ, PACS_N_SET_RSP, PACS_AE_ALLOW_MPPS, pacs_dimse__mpps},
};

static const struct service *service_for(pacs_dimse_type rq)
{
    for (size_t i = 0; i < sizeof services / sizeof services[0]; i++) {
        if (services[i].rq == rq) {
            return &services[i];
        }
    }
    return NULL;
}

/* Refuses the request (after draining its dataset) with `status`. */
static pacs_err refuse(pacs_dimse_ctx *c, const pacs_dimse_msg *rq, pacs_dimse_type rsp,
                       uint16_t status, const char *comment, pacs_errinfo *ei)
{
    if (rq->has_dataset) {
        pacs_err err = pacs_dimse__drain(c, ei);
        if (err != PACS_OK) {
            return err;
        }
    }
    return pacs_dimse__respond(c, rq, rsp, status, comment, ei);
}

static pacs_err dispatch(pacs_dimse_ctx *c, const pacs_dimse_msg *rq, pacs_errinfo *ei)
{
    const struct service *sv = service_for(rq->type);
    pacs_dimse_type rsp = sv ? sv->rsp : PACS_C_ECHO_RSP;
    if (sv && sv->permission && !(c->allow & sv->permission)) {
        /* Not reachable through negotiation (the context was refused); kept as a second lock
         * for contexts whose role lets one service reach another's class. */
        pacs_log(PACS_LOG_WARN, "dimse",
                 "assoc=%u calling=%s command type=%d refused: not "
                 "allowed for this AE",
                 c->assoc_id, c->info.calling_aet, (int)rq->type);
        pacs_dimse__audit(c, PACS_AUDIT_ACCESS_DENIED, 0, NULL, NULL,
                          "request refused: service not allowed for this AE", 0);
        return refuse(c, rq, rsp, PACS_ST_NOT_AUTHORIZED, "not authorized", ei);
    }
    if (sv && sv->handler) {
        return sv->handler(c, rq, ei);
    }
    /* A request on a context we did not accept, or one we do not serve. */
    pacs_log(PACS_LOG_WARN, "dimse", "assoc=%u unsupported command type=%d", c->assoc_id,
             (int)rq->type);
    if (rq->type == PACS_DIMSE_OTHER) {
        pacs_err err = rq->has_dataset ? pacs_dimse__drain(c, ei) : PACS_OK;
        return err != PACS_OK ? err : pacs_errf(ei, PACS_ENET, "unrecognised DIMSE command");
    }
    return refuse(c, rq, rsp, ST_UNRECOGNIZED_OPERATION, "unrecognized operation", ei);
}

const char *pacs_dimse__serve(pacs_dimse_ctx *c)
{
    pacs_errinfo ei;
    pacs_errinfo_clear(&ei);
    const char *end = "released";
    int idle = 0;
    for (;;) {
        if (atomic_load(c->stopping)) {
            end = "aborted (server stopping)";
            pacs_assoc_abort(c->assoc);
            break;
        }
        pacs_dimse_msg rq;
        pacs_err err = pacs_msg_recv(c->assoc, POLL_SECONDS, &rq, &ei);
        if (err == PACS_ETIMEOUT) {
            idle += POLL_SECONDS;
            if (idle >= c->timeout) {
                end = "aborted (idle timeout)";
                pacs_assoc_abort(c->assoc);
                break;
            }
            continue;
        }
        idle = 0;
        if (err == PACS_ECLOSED) {
            end = ei.msg[0] ? "aborted by peer" : "released";
            break;
        }
        if (err != PACS_OK) {
            end = "aborted (protocol error)";
            pacs_log(PACS_LOG_WARN, "dimse", "assoc=%u %s", c->assoc_id, ei.msg);
            pacs_assoc_abort(c->assoc);
            break;
        }
        err = dispatch(c, &rq, &ei);
        if (err == PACS_ECLOSED) {
            end = ei.msg[0] ? "aborted by peer" : "released";
            break;
        }
        if (err != PACS_OK) {
            end = "aborted (network error)";
            pacs_log(PACS_LOG_WARN, "dimse", "assoc=%u %s", c->assoc_id, ei.msg);
            pacs_assoc_abort(c->assoc);
            break;
        }
    }
    return end;
}
