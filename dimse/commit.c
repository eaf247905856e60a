// SPDX-License-Identifier: MIT
/*
 * Storage Commitment Push Model SCP (PS3.4 Annex J). An N-ACTION-RQ (Request Storage
 * Commitment) is answered at once; then every referenced instance is checked by the archive
 * (durably indexed, under that SOP class, and its object still hashes to its key) and the result
 * goes back in an N-EVENT-REPORT-RQ: on the same association when the requester is still there,
 * otherwise on a new association to the requester's known AE (ae.TITLE), on which we take the
 * SCP role. Instances that fail go in the Failed SOP Sequence with a Failure Reason:
 * 0x0112 (not stored), 0x0119 (stored under another SOP class), 0x0110 (object missing or
 * corrupt, or the check failed). Runs on the requester's association thread; the reports are
 * not kept across a restart (the requester asks again).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pacs/base/log.h"
#include "dimse/service.h"
#include "storage/catalog.h"

#define TAG_TRANSACTION_UID 0x00081195u
#define TAG_REF_SOP_SEQ "00081199"
#define TAG_FAILED_SOP_SEQ "00081198"
#define KEY_REF_CLASS "00081150"
#define KEY_REF_INSTANCE "00081155"
#define KEY_FAILURE_REASON "00081197"
#define KEY_TRANSACTION_UID "00081195"
#define KEY_RETRIEVE_AET "00080054"

#define ACTION_REQUEST_COMMIT 1
#define EVENT_ALL_COMMITTED 1
#define EVENT_SOME_FAILED 2
#define MAX_REFERENCES 100000
#define REDELIVERY_ATTEMPTS 3

static json_t *uid_attr(const char *uid)
{
    return json_pack("{s:s,s:[s]}", "vr", "UI", "Value", uid);
}

static uint16_t reason_for(pacs_err err)
{
    switch (err) {
    case PACS_ENOTFOUND:
        return PACS_ST_NO_SUCH_INSTANCE;
    case PACS_ECONFLICT:
        return PACS_ST_CLASS_INSTANCE_CONFLICT;
    default:
        return PACS_ST_PROCESSING_FAILURE;
    }
}

/* Checks each referenced instance; fills the event report and returns its event type. */
static uint16_t build_report(pacs_dimse_ctx *c, const char *txuid, const json_t *refs,
                             json_t *report, size_t *n_ok, size_t *n_failed)
{
    json_t *ok = json_array(), *failed = json_array();
    size_t i;
    json_t *item;
    json_array_foreach(refs, i, item)
    {
        char *cls = pacs_json_text(item, 0x00081150u);
        char *inst = pacs_json_text(item, 0x00081155u);
        pacs_errinfo sub;
        pacs_errinfo_clear(&sub);
        pacs_err err = PACS_ENOTFOUND;
        if (cls && inst) {
            err = pacs_archive_commit_check(c->archive, cls, inst, &sub);
        } else {
            snprintf(sub.msg, sizeof sub.msg, "reference without SOP class or instance UID");
        }
        json_t *ref = json_object();
        json_object_set_new(ref, KEY_REF_CLASS, uid_attr(cls ? cls : ""));
        json_object_set_new(ref, KEY_REF_INSTANCE, uid_attr(inst ? inst : ""));
        if (err == PACS_OK) {
            json_array_append_new(ok, ref);
        } else {
            uint16_t reason = reason_for(err);
            json_object_set_new(ref, KEY_FAILURE_REASON,
                                json_pack("{s:s,s:[i]}", "vr", "US", "Value", (int)reason));
            json_array_append_new(failed, ref);
            pacs_log(PACS_LOG_WARN, "dimse",
                     "assoc=%u commitment transaction=%s sop=%s not committed reason=0x%04x: %s",
                     c->assoc_id, txuid, inst ? inst : "", reason, sub.msg);
        }
        free(cls);
        free(inst);
    }
    *n_ok = json_array_size(ok);
    *n_failed = json_array_size(failed);
    json_object_set_new(report, KEY_TRANSACTION_UID, uid_attr(txuid));
    json_object_set_new(
        report, KEY_RETRIEVE_AET,
        json_pack("{s:s,s:[s]}", "vr", "AE", "Value", pacs_config_str(c->cfg, "dimse.aet")));
    if (*n_ok) {
        json_object_set_new(report, TAG_REF_SOP_SEQ,
                            json_pack("{s:s,s:o}", "vr", "SQ", "Value", ok));
    } else {
        json_decref(ok);
    }
    if (*n_failed) {
        json_object_set_new(report, TAG_FAILED_SOP_SEQ,
                            json_pack("{s:s,s:o}", "vr", "SQ", "Value", failed));
    } else {
        json_decref(failed);
    }
    return *n_failed ? EVENT_SOME_FAILED : EVENT_ALL_COMMITTED;
}

static void event_msg(pacs_dimse_msg *m, uint8_t pc, uint16_t msg_id, uint16_t event_type)
{
    memset(m, 0, sizeof *m);
    m->type = PACS_N_EVENT_REPORT_RQ;
    m->pc_id = pc;
    m->msg_id = msg_id;
    m->event_type = event_type;
    m->has_dataset = 1;
    snprintf(m->sop_class, sizeof m->sop_class, "%s", PACS_COMMIT_PUSH_CLASS);
    snprintf(m->sop_instance, sizeof m->sop_instance, "%s", PACS_COMMIT_PUSH_INSTANCE);
}

/* Sends the report and waits for its response. PACS_OK when the peer confirmed it. */
static pacs_err send_report(pacs_assoc *a, uint8_t pc, uint16_t msg_id, uint16_t event_type,
                            const pacs_ds *report, int timeout, uint16_t *status, pacs_errinfo *ei)
{
    pacs_dimse_msg m;
    event_msg(&m, pc, msg_id, event_type);
    pacs_err err = pacs_msg_send(a, &m, report, ei);
    if (err != PACS_OK) {
        return err;
    }
    for (;;) {
        pacs_dimse_msg rsp;
        pacs_errinfo sub;
        pacs_errinfo_clear(&sub);
        err = pacs_msg_recv(a, timeout, &rsp, &sub);
        if (err != PACS_OK) {
            if (ei) {
                *ei = sub;
                ei->code = err;
            }
            return err;
        }
        if (rsp.has_dataset) {
            pacs_ds *junk = NULL;
            if (pacs_msg_recv_dataset(a, timeout, &junk, ei) != PACS_OK) {
                return PACS_ENET;
            }
            pacs_ds_free(junk);
        }
        if (rsp.type == PACS_N_EVENT_REPORT_RSP && rsp.msg_id == msg_id) {
            *status = rsp.status;
            return PACS_OK;
        }
        return pacs_errf(ei, PACS_ENET,
                         "unexpected DIMSE message (type %d) while waiting for "
                         "N-EVENT-REPORT-RSP",
                         (int)rsp.type);
    }
}

/* Delivers the report on a new association to the requester's known AE, a few times. */
static void deliver_new(pacs_dimse_ctx *c, const char *txuid, uint16_t event_type,
                        const pacs_ds *report)
{
    pacs_remote_ae ae;
    if (!c->aetable || !pacs_aetable_find(c->aetable, c->info.calling_aet, &ae)) {
        pacs_log(PACS_LOG_ERROR, "dimse",
                 "assoc=%u commitment transaction=%s report not delivered: the association "
                 "ended and %s is not a known AE (add ae.%s = host:port)",
                 c->assoc_id, txuid, c->info.calling_aet, c->info.calling_aet);
        return;
    }
    pacs_errinfo ei;
    pacs_errinfo_clear(&ei);
    for (int attempt = 1; attempt <= REDELIVERY_ATTEMPTS; attempt++) {
        if (attempt > 1) {
            sleep((unsigned)attempt);
        }
        if (atomic_load(c->stopping)) {
            break;
        }
        pacs_pc pc;
        memset(&pc, 0, sizeof pc);
        pc.id = 1;
        snprintf(pc.abstract_syntax, sizeof pc.abstract_syntax, "%s", PACS_COMMIT_PUSH_CLASS);
        snprintf(pc.ts[0], sizeof pc.ts[0], "%s", PACS_TS_EXPLICIT_LE);
        snprintf(pc.ts[1], sizeof pc.ts[1], "%s", PACS_TS_IMPLICIT_LE);
        pc.n_ts = 2;
        pc.role = PACS_ROLE_SCP; /* we, the requester, send the event report */
        pacs_assoc *a = NULL;
        pacs_err err = pacs_dimse__request(c->cfg, &ae, &pc, 1, &a, &ei);
        if (err == PACS_OK && !pc.accepted) {
            err = pacs_errf(&ei, PACS_EDENIED, "%s did not accept Storage Commitment", ae.aet);
        }
        uint16_t status = 0;
        if (err == PACS_OK) {
            err = send_report(a, pc.id, 1, event_type, report, c->timeout, &status, &ei);
        }
        if (a) {
            pacs_errinfo rei;
            if (err != PACS_OK || pacs_assoc_release(a, &rei) != PACS_OK) {
                pacs_assoc_abort(a);
            }
            pacs_assoc_free(a);
        }
        if (err == PACS_OK) {
            pacs_log(PACS_LOG_INFO, "dimse",
                     "assoc=%u commitment transaction=%s report delivered to %s on a new "
                     "association status=0x%04x",
                     c->assoc_id, txuid, ae.aet, status);
            return;
        }
        pacs_log(PACS_LOG_WARN, "dimse",
                 "assoc=%u commitment transaction=%s delivery to %s attempt %d failed: %s",
                 c->assoc_id, txuid, ae.aet, attempt, ei.msg);
    }
    pacs_log(PACS_LOG_ERROR, "dimse", "assoc=%u commitment transaction=%s report not delivered",
             c->assoc_id, txuid);
}

static pacs_err refuse(pacs_dimse_ctx *c, const pacs_dimse_msg *rq, uint16_t status,
                       const char *why, pacs_errinfo *ei)
{
    pacs_log(PACS_LOG_WARN, "dimse", "assoc=%u calling=%s N-ACTION refused status=0x%04x: %s",
             c->assoc_id, c->info.calling_aet, status, why);
    pacs_dimse__audit(c, PACS_AUDIT_COMMIT, 0, NULL, NULL, why, 0);
    return pacs_dimse__respond(c, rq, PACS_N_ACTION_RSP, status, why, ei);
}

pacs_err pacs_dimse__commit(pacs_dimse_ctx *c, const pacs_dimse_msg *rq, pacs_errinfo *ei)
{
    pacs_errinfo sub;
    pacs_errinfo_clear(&sub);
    pacs_ds *ds = NULL;
    if (rq->has_dataset) {
        pacs_err err = pacs_msg_recv_dataset(c->assoc, c->timeout, &ds, &sub);
        if (err != PACS_OK) {
            if (ei) {
                *ei = sub;
            }
            return err;
        }
    }
    json_t *j = NULL;
    pacs_err err = PACS_OK;
    char *txuid = NULL;
    if (strcmp(rq->sop_class, PACS_COMMIT_PUSH_CLASS) != 0) {
        err = refuse(c, rq, PACS_ST_SOP_CLASS_NOT_SUPPORTED,
                     "N-ACTION is served for Storage "
                     "Commitment only",
                     ei);
        goto done;
    }
    if (rq->action_type != ACTION_REQUEST_COMMIT) {
        err = refuse(c, rq, PACS_ST_NO_SUCH_ACTION, "unknown action type", ei);
        goto done;
    }
    if (strcmp(rq->sop_instance, PACS_COMMIT_PUSH_INSTANCE) != 0) {
        err = refuse(c, rq, 0x0117, "requested SOP instance is not the well-known instance", ei);
        goto done;
    }
    if (!ds || pacs_ds_to_json(ds, &j, &sub) != PACS_OK) {
        err =
            refuse(c, rq, PACS_ST_INVALID_ARGUMENT, "missing or unreadable action information", ei);
        goto done;
    }
    txuid = pacs_json_text(j, TAG_TRANSACTION_UID);
    const json_t *refs = json_object_get(json_object_get(j, TAG_REF_SOP_SEQ), "Value");
    if (!txuid || !pacs_uid_valid(txuid)) {
        err = refuse(c, rq, 0x0120, "missing or invalid Transaction UID", ei);
        goto done;
    }
    if (!json_is_array(refs) || json_array_size(refs) == 0 ||
        json_array_size(refs) > MAX_REFERENCES) {
        err = refuse(c, rq, 0x0120, "missing or empty Referenced SOP Sequence", ei);
        goto done;
    }
    err = pacs_dimse__respond(c, rq, PACS_N_ACTION_RSP, PACS_ST_SUCCESS, NULL, ei);
    if (err != PACS_OK) {
        goto done;
    }

    json_t *report_json = json_object();
    size_t n_ok = 0, n_failed = 0;
    uint16_t event_type = build_report(c, txuid, refs, report_json, &n_ok, &n_failed);
    pacs_ds *report = NULL;
    pacs_err rerr = pacs_ds_from_json(report_json, &report, &sub);
    json_decref(report_json);
    if (rerr != PACS_OK) {
        pacs_log(PACS_LOG_ERROR, "dimse",
                 "assoc=%u commitment transaction=%s: cannot build the "
                 "report: %s",
                 c->assoc_id, txuid, sub.msg);
        goto done;
    }
    pacs_log(PACS_LOG_INFO, "dimse",
             "assoc=%u calling=%s commitment transaction=%s committed=%zu failed=%zu", c->assoc_id,
             c->info.calling_aet, txuid, n_ok, n_failed);
    char detail[128];
    snprintf(detail, sizeof detail, "transaction=%s failed=%zu", txuid, n_failed);
    pacs_dimse__audit(c, PACS_AUDIT_COMMIT, n_failed == 0, NULL, NULL, detail, (unsigned)n_ok);
    uint16_t status = 0;
    pacs_errinfo rei;
    pacs_errinfo_clear(&rei);
    rerr = send_report(c->assoc, rq->pc_id, (uint16_t)(rq->msg_id + 1), event_type, report,
                       c->timeout, &status, &rei);
    if (rerr == PACS_OK) {
        pacs_log(PACS_LOG_DEBUG, "dimse", "assoc=%u commitment transaction=%s report status=0x%04x",
                 c->assoc_id, txuid, status);
    } else {
        /* The requester left (or stopped answering) before confirming the report. */
        pacs_log(PACS_LOG_INFO, "dimse",
                 "assoc=%u commitment transaction=%s not confirmed on this association (%s); "
                 "sending it on a new one",
                 c->assoc_id, txuid, rei.msg[0] ? rei.msg : "released");
        deliver_new(c, txuid, event_type, report);
        if (rerr == PACS_ECLOSED && !rei.msg[0]) {
            pacs_errinfo_clear(ei);
        } else if (ei) {
            *ei = rei;
        }
        err = rerr;
    }
    pacs_ds_free(report);
done:
    free(txuid);
    json_decref(j);
    pacs_ds_free(ds);
    return err;
}
