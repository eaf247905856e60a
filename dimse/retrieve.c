// SPDX-License-Identifier: MIT
/*
 * The retrieve engine (retrieve.h) behind C-MOVE, C-GET and forwarding. Instances are listed
 * from the index by the archive's resolve step (never by parsing files), then sent one C-STORE
 * at a time, each as its delivery plan says: as stored (the dataset bytes streamed unparsed), or
 * converted or transcoded into a temporary copy first, only when the peer did not accept the
 * stored syntax. Bears the load of every outgoing image; memory per retrieve is the instance
 * list (about 430 bytes per instance) plus the Failed SOP Instance UID List.
 */
#include "dimse/retrieve.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pacs/base/buf.h"
#include "pacs/base/log.h"
#include "storage/catalog.h"
#include "storage/delivery.h"

#define TAG_QR_LEVEL 0x00080052u
#define TAG_PATIENT_ID 0x00100020u
#define TAG_STUDY_UID 0x0020000Du
#define TAG_SERIES_UID 0x0020000Eu
#define TAG_SOP_UID 0x00080018u
#define TAG_FAILED_LIST 0x00080058u

#define PATIENT_ROOT_PREFIX "1.2.840.10008.5.1.4.1.2.1."
#define FAILED_LIST_MAX (32u << 20)

uint16_t pacs_dimse__retr_collect(pacs_dimse_ctx *c, const char *model_class, const pacs_ds *id,
                                  pacs_resolve_list *out, char *comment, size_t cap)
{
    static const struct {
        uint32_t tag;
        pacs_level level;
    } keys[] = {
        {TAG_PATIENT_ID, PACS_LEVEL_PATIENT},
        {TAG_STUDY_UID, PACS_LEVEL_STUDY},
        {TAG_SERIES_UID, PACS_LEVEL_SERIES},
        {TAG_SOP_UID, PACS_LEVEL_INSTANCE},
    };
    pacs_errinfo sub;
    json_t *j = NULL;
    pacs_query *q = NULL;
    uint16_t status = 0;
    if (pacs_ds_to_json(id, &j, &sub) != PACS_OK) {
        snprintf(comment, cap, "unreadable identifier: %s", sub.msg);
        return PACS_ST_CANNOT_UNDERSTAND;
    }
    char *level_text = pacs_json_text(j, TAG_QR_LEVEL);
    int level = level_text ? pacs_level_parse(level_text) : -1;
    free(level_text);
    int patient_root = strncmp(model_class, PATIENT_ROOT_PREFIX, strlen(PATIENT_ROOT_PREFIX)) == 0;
    if (level < 0 || (level == PACS_LEVEL_PATIENT && !patient_root)) {
        snprintf(comment, cap, "missing or invalid QueryRetrieveLevel");
        status = PACS_ST_IDENTIFIER_MISMATCH;
        goto done;
    }
    q = pacs_query_new((pacs_level)level);
    if (!q) {
        snprintf(comment, cap, "out of memory");
        status = PACS_ST_OUT_OF_RESOURCES;
        goto done;
    }
    int have_unique = 0;
    for (size_t k = 0; k < sizeof keys / sizeof keys[0]; k++) {
        if ((int)keys[k].level > level) {
            continue;
        }
        char *text = pacs_json_text(j, keys[k].tag);
        if (!text || !text[0]) {
            free(text);
            continue;
        }
        if (strpbrk(text, "*?")) {
            snprintf(comment, cap, "wildcards are not allowed in retrieve keys");
            free(text);
            status = PACS_ST_IDENTIFIER_MISMATCH;
            goto done;
        }
        pacs_err err = pacs_query_add(q, keys[k].tag, NULL, text, &sub);
        free(text);
        if (err != PACS_OK) {
            snprintf(comment, cap, "%s", sub.msg);
            status = PACS_ST_IDENTIFIER_MISMATCH;
            goto done;
        }
        have_unique |= (int)keys[k].level == level;
    }
    if (!have_unique) {
        snprintf(comment, cap, "the unique key of level %s is missing",
                 pacs_level_name((pacs_level)level));
        status = PACS_ST_IDENTIFIER_MISMATCH;
        goto done;
    }
    if (pacs_resolve_instances(c->archive, q, 0, 0, out, &sub) != PACS_OK) {
        snprintf(comment, cap, "cannot list the instances: %s", sub.msg);
        pacs_log(PACS_LOG_WARN, "dimse", "assoc=%u retrieve: %s", c->assoc_id, comment);
        status = 0xA701; /* out of resources: unable to calculate number of matches */
    }
done:
    pacs_query_free(q);
    json_decref(j);
    return status;
}

int pacs_dimse__retr_begin(pacs_dimse_ctx *c, const pacs_dimse_msg *rq, pacs_dimse_type rsp_type,
                           pacs_resolve_list *list, pacs_err *err, pacs_errinfo *ei)
{
    const char *what = rsp_type == PACS_C_GET_RSP ? "C-GET" : "C-MOVE";
    memset(list, 0, sizeof *list);
    char comment[160] = "";
    if (!rq->has_dataset) {
        snprintf(comment, sizeof comment, "%s request without an identifier", what);
        *err = pacs_dimse__respond(c, rq, rsp_type, PACS_ST_IDENTIFIER_MISMATCH, comment, ei);
        return 0;
    }
    pacs_ds *id = NULL;
    pacs_errinfo sub;
    *err = pacs_msg_recv_dataset(c->assoc, c->timeout, &id, &sub);
    if (*err != PACS_OK) {
        if (ei) {
            *ei = sub;
        }
        return 0;
    }
    uint16_t status = pacs_dimse__retr_collect(c, rq->sop_class, id, list, comment, sizeof comment);
    pacs_ds_free(id);
    if (status != 0) {
        pacs_log(PACS_LOG_WARN, "dimse", "assoc=%u calling=%s %s refused status=0x%04x: %s",
                 c->assoc_id, c->info.calling_aet, what, status, comment);
        pacs_dimse__audit(c, PACS_AUDIT_RETRIEVE, 0, NULL, NULL, comment, 0);
        *err = pacs_dimse__respond(c, rq, rsp_type, status, comment, ei);
        return 0;
    }
    return 1;
}

/* Whether an instance stored in `ts` can be sent as `to` (DIMSE never writes a lossy syntax the
 * instance is not stored in). Proposals are per SOP class and syntax: assume pixel data. */
static int can_send(const char *ts, const char *to)
{
    return pacs_delivery_kind_of(ts, to, 1, 0) != PACS_DELIVERY_NONE;
}

/* ---- presentation contexts ---- */

static int is_le(const char *ts)
{
    return strcmp(ts, PACS_TS_EXPLICIT_LE) == 0 || strcmp(ts, PACS_TS_IMPLICIT_LE) == 0;
}

static int is_le_pair(const pacs_pc *pc)
{
    return pc->n_ts == 2 && is_le(pc->ts[0]) && is_le(pc->ts[1]);
}

static void add_pc(pacs_proposal *p, const char *sop_class, const char *ts1, const char *ts2)
{
    if (p->n >= sizeof p->pcs / sizeof p->pcs[0]) {
        p->overflow++;
        return;
    }
    pacs_pc *pc = &p->pcs[p->n];
    memset(pc, 0, sizeof *pc);
    pc->id = (uint8_t)(2 * p->n + 1);
    snprintf(pc->abstract_syntax, sizeof pc->abstract_syntax, "%s", sop_class);
    snprintf(pc->ts[0], sizeof pc->ts[0], "%s", ts1);
    pc->n_ts = 1;
    if (ts2) {
        snprintf(pc->ts[1], sizeof pc->ts[1], "%s", ts2);
        pc->n_ts = 2;
    }
    pc->role = PACS_ROLE_DEFAULT;
    p->n++;
}

void pacs_dimse__propose(pacs_proposal *p, const char *sop_class, const char *ts)
{
    int have_exact = 0, have_le = 0;
    for (size_t i = 0; i < p->n; i++) {
        const pacs_pc *pc = &p->pcs[i];
        if (strcmp(pc->abstract_syntax, sop_class) != 0) {
            continue;
        }
        have_le |= is_le_pair(pc);
        have_exact |= pc->n_ts == 1 && strcmp(pc->ts[0], ts) == 0;
    }
    if (is_le(ts)) {
        /* Stored uncompressed LE: either LE syntax sends it without touching pixels. */
        if (!have_le) {
            const char *other =
                strcmp(ts, PACS_TS_EXPLICIT_LE) == 0 ? PACS_TS_IMPLICIT_LE : PACS_TS_EXPLICIT_LE;
            add_pc(p, sop_class, ts, other);
        }
        return;
    }
    if (!have_exact) {
        add_pc(p, sop_class, ts, NULL);
    }
    if (!have_le && can_send(ts, PACS_TS_EXPLICIT_LE)) {
        add_pc(p, sop_class, PACS_TS_EXPLICIT_LE, PACS_TS_IMPLICIT_LE);
    }
}

static void sendset_add(pacs_sendset *s, uint8_t id, const char *abstract, const char *ts)
{
    if (s->n >= sizeof s->pcs / sizeof s->pcs[0]) {
        return;
    }
    pacs_send_pc *pc = &s->pcs[s->n++];
    pc->id = id;
    snprintf(pc->abstract_syntax, sizeof pc->abstract_syntax, "%s", abstract);
    snprintf(pc->ts, sizeof pc->ts, "%s", ts);
}

void pacs_dimse__sendset_from_request(pacs_sendset *s, const pacs_pc *pcs, size_t n)
{
    s->n = 0;
    for (size_t i = 0; i < n; i++) {
        if (pcs[i].accepted) {
            sendset_add(s, pcs[i].id, pcs[i].abstract_syntax, pcs[i].accepted_ts);
        }
    }
}

void pacs_dimse__sendset_from_assoc(pacs_sendset *s, const pacs_assoc *a)
{
    s->n = 0;
    size_t n = pacs_assoc_pc_count(a);
    for (size_t i = 0; i < n; i++) {
        pacs_pc pc;
        if (pacs_assoc_pc_at(a, i, &pc) != PACS_OK || !pc.accepted) {
            continue;
        }
        if ((pc.role == PACS_ROLE_SCP || pc.role == PACS_ROLE_SCU_SCP) &&
            pacs_dcm_is_storage_class(pc.abstract_syntax)) {
            sendset_add(s, pc.id, pc.abstract_syntax, pc.accepted_ts);
        }
    }
}

const pacs_send_pc *pacs_dimse__sendset_pick(const pacs_sendset *s, const pacs_resolve_item *it)
{
    const pacs_send_pc *match[sizeof s->pcs / sizeof s->pcs[0]];
    const char *offered[sizeof s->pcs / sizeof s->pcs[0]];
    size_t n = 0;
    for (size_t i = 0; i < s->n; i++) {
        if (strcmp(s->pcs[i].abstract_syntax, it->sop_class) == 0) {
            match[n] = &s->pcs[i];
            offered[n++] = s->pcs[i].ts;
        }
    }
    int k = pacs_delivery_choose(it->ts, it->has_pixels, offered, n, 0);
    return k < 0 ? NULL : match[k];
}

const char *pacs_dimse__get_storage_ts(const pacs_pc *pc)
{
    /* Any stored object can be sent uncompressed or losslessly re-encoded; a lossy or JPEG 2000
     * syntax could only carry objects already stored that way, so it comes last. */
    for (size_t i = 0; i < pc->n_ts; i++) {
        if (can_send(PACS_TS_EXPLICIT_LE, pc->ts[i])) {
            return pc->ts[i];
        }
    }
    for (size_t i = 0; i < pc->n_ts; i++) {
        if (pacs_dcm_ts_known(pc->ts[i])) {
            return pc->ts[i];
        }
    }
    return NULL;
}

/* ---- one sub-operation ---- */

/* Sends `it` on `rq`'s context as its delivery plan for `ts` has it. Errors before the first
 * byte leaves (the plan cannot be carried out, the object is unreadable) leave the association
 * usable; PACS_ENET and PACS_ENOMEM do not. */
static pacs_err send_instance(pacs_subop *so, const pacs_dimse_msg *rq, const pacs_resolve_item *it,
                              const char *ts, pacs_errinfo *ei)
{
    pacs_delivery_plan plan;
    pacs_delivery_stream out;
    pacs_err err = pacs_delivery_plan_for(it, ts, 0, &plan, ei);
    if (err == PACS_OK) {
        err = pacs_delivery_open(so->archive, it, &plan, &out, ei);
    }
    if (err != PACS_OK) {
        return err == PACS_ENET || err == PACS_ENOMEM ? PACS_EUNSUPPORTED : err;
    }
    err = pacs_send_part10(so->assoc, rq, out.fd, ei);
    pacs_delivery_stream_close(&out);
    return err;
}

static pacs_subop_result store_one(pacs_subop *so, const pacs_resolve_item *it, uint16_t *status,
                                   pacs_errinfo *ei)
{
    *status = 0;
    const pacs_send_pc *pc = pacs_dimse__sendset_pick(so->pcs, it);
    if (!pc) {
        pacs_errf(ei, PACS_EUNSUPPORTED,
                  "no accepted presentation context for %s in %s or a syntax it converts to",
                  it->sop_class, it->ts);
        return PACS_SUBOP_FAILED;
    }
    pacs_dimse_msg rq;
    memset(&rq, 0, sizeof rq);
    rq.type = PACS_C_STORE_RQ;
    rq.pc_id = pc->id;
    rq.msg_id = so->next_msg_id++;
    if (so->next_msg_id == 0) {
        so->next_msg_id = 1;
    }
    rq.has_dataset = 1;
    snprintf(rq.sop_class, sizeof rq.sop_class, "%s", it->sop_class);
    snprintf(rq.sop_instance, sizeof rq.sop_instance, "%s", it->sop_uid);
    if (so->orig_aet) {
        snprintf(rq.move_originator_aet, sizeof rq.move_originator_aet, "%s", so->orig_aet);
        rq.move_originator_msg_id = so->orig_msg_id;
    }
    pacs_err err = send_instance(so, &rq, it, pc->ts, ei);
    if (err == PACS_ENET || err == PACS_ENOMEM) {
        return PACS_SUBOP_BROKEN;
    }
    if (err != PACS_OK) {
        return PACS_SUBOP_FAILED; /* nothing was sent: the object could not be read or converted */
    }
    int waited = 0;
    for (;;) {
        pacs_dimse_msg rsp;
        pacs_errinfo sub;
        pacs_errinfo_clear(&sub);
        /* Wait in one-second steps when a server stop should cut the wait short. */
        int step = so->stopping ? 1 : so->timeout;
        err = pacs_msg_recv(so->assoc, step, &rsp, &sub);
        if (err == PACS_ETIMEOUT && so->stopping) {
            waited += step;
            if (atomic_load(so->stopping)) {
                pacs_errf(ei, PACS_ECANCELED, "the server is stopping");
                return PACS_SUBOP_BROKEN;
            }
            if (waited < so->timeout) {
                continue;
            }
        }
        if (err == PACS_ECLOSED && !sub.msg[0]) {
            so->peer_released = 1;
            pacs_errf(ei, PACS_ECLOSED, "the peer released the association");
            return PACS_SUBOP_BROKEN;
        }
        if (err != PACS_OK) {
            pacs_errf(ei, err, "waiting for the C-STORE response: %s", sub.msg);
            return PACS_SUBOP_BROKEN;
        }
        if (rsp.type == PACS_C_CANCEL_RQ && so->watch_cancel && rsp.msg_id == so->cancel_msg_id) {
            so->canceled = 1;
            continue;
        }
        if (rsp.type != PACS_C_STORE_RSP || rsp.msg_id != rq.msg_id) {
            pacs_errf(ei, PACS_ENET, "unexpected DIMSE message (type %d) instead of C-STORE-RSP",
                      (int)rsp.type);
            return PACS_SUBOP_BROKEN;
        }
        *status = rsp.status;
        if (rsp.status == PACS_ST_SUCCESS) {
            return PACS_SUBOP_OK;
        }
        if ((rsp.status & 0xF000) == 0xB000 || rsp.status == 0x0001) {
            pacs_errf(ei, PACS_OK, "stored with warning 0x%04x %s", rsp.status, rsp.error_comment);
            return PACS_SUBOP_WARNING;
        }
        pacs_errf(ei, PACS_EDENIED, "the destination answered 0x%04x %s", rsp.status,
                  rsp.error_comment);
        return PACS_SUBOP_FAILED;
    }
}

pacs_subop_result pacs_dimse__store_one(pacs_subop *so, const pacs_resolve_item *it,
                                        uint16_t *status, pacs_errinfo *ei)
{
    pacs_subop_result r = store_one(so, it, status, ei);
    if (r == PACS_SUBOP_BROKEN) {
        so->broken = 1;
    }
    return r;
}

/* ---- the retrieve loop ---- */

static uint16_t clamp16(size_t v)
{
    return v > 0xFFFF ? 0xFFFF : (uint16_t)v;
}

typedef struct tally {
    size_t completed, failed, warning;
    pacs_buf failed_uids;
} tally;

static void add_failed(tally *t, const char *uid)
{
    t->failed++;
    if (t->failed_uids.len) {
        pacs_buf_puts(&t->failed_uids, "\\");
    }
    pacs_buf_puts(&t->failed_uids, uid);
}

static pacs_err respond(pacs_dimse_ctx *c, const pacs_dimse_msg *rq, pacs_dimse_type type,
                        uint16_t status, size_t remaining, const tally *t, const char *comment,
                        pacs_errinfo *ei)
{
    pacs_dimse_msg rsp;
    memset(&rsp, 0, sizeof rsp);
    rsp.type = type;
    rsp.pc_id = rq->pc_id;
    rsp.msg_id = rq->msg_id;
    rsp.status = status;
    memcpy(rsp.sop_class, rq->sop_class, sizeof rsp.sop_class);
    rsp.has_counts = 1;
    rsp.remaining = clamp16(remaining);
    rsp.completed = clamp16(t->completed);
    rsp.failed = clamp16(t->failed);
    rsp.warning = clamp16(t->warning);
    if (comment && status != PACS_ST_PENDING && status != PACS_ST_SUCCESS) {
        snprintf(rsp.error_comment, sizeof rsp.error_comment, "%s", comment);
    }
    pacs_ds *ds = NULL;
    if (status != PACS_ST_PENDING && t->failed_uids.len) {
        ds = pacs_ds_new();
        if (ds && pacs_ds_put_string(ds, TAG_FAILED_LIST, t->failed_uids.data, NULL) == PACS_OK) {
            rsp.has_dataset = 1;
        }
    }
    pacs_err err = pacs_msg_send(c->assoc, &rsp, ds, ei);
    pacs_ds_free(ds);
    return err;
}

/* One audit line per study a C-MOVE/C-GET named (usually one), written before the final
 * response; `sent` marks the instances that reached the destination. */
static void audit_retrieve(pacs_dimse_ctx *c, const char *verb, const pacs_resolve_list *list,
                           const unsigned char *sent, const char *dest, uint16_t status)
{
    char detail[160];
    snprintf(detail, sizeof detail, "%s to=%s status=0x%04x", verb, dest, status);
    int ok = status == PACS_ST_SUCCESS || status == PACS_ST_SUBOPS_WARNING;
    if (list->n == 0) {
        pacs_dimse__audit(c, PACS_AUDIT_RETRIEVE, ok, NULL, NULL, detail, 0);
        return;
    }
    for (size_t i = 0; i < list->n; i++) {
        const char *study = list->v[i].study_uid;
        int seen = 0;
        for (size_t j = 0; j < i && !seen; j++) {
            seen = strcmp(list->v[j].study_uid, study) == 0;
        }
        if (seen) {
            continue;
        }
        unsigned n = 0;
        for (size_t j = i; j < list->n; j++) {
            n += sent && sent[j] && strcmp(list->v[j].study_uid, study) == 0;
        }
        pacs_dimse__audit(c, PACS_AUDIT_RETRIEVE, ok, study, NULL, detail, n);
    }
}

pacs_err pacs_dimse__retrieve_run(pacs_dimse_ctx *c, const pacs_dimse_msg *rq,
                                  pacs_dimse_type rsp_type, const pacs_resolve_list *list,
                                  pacs_subop *so, const char *dest, const char *why,
                                  pacs_errinfo *ei)
{
    const char *verb = rsp_type == PACS_C_MOVE_RSP ? "C-MOVE" : "C-GET";
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    tally t;
    memset(&t, 0, sizeof t);
    pacs_buf_init(&t.failed_uids, FAILED_LIST_MAX);
    char broken[128] = "";
    int canceled = 0;
    size_t done = 0;
    uint64_t bytes = 0;
    pacs_err err = PACS_OK;
    unsigned char *sent = list->n ? calloc(list->n, 1) : NULL;
    int audited = 0;
    for (size_t i = 0; i < list->n; i++) {
        const pacs_resolve_item *it = &list->v[i];
        if (atomic_load(c->stopping)) {
            err = pacs_errf(ei, PACS_ECANCELED, "%s stopped: the server is stopping", verb);
            goto out;
        }
        done = i + 1;
        if (!so || broken[0]) {
            add_failed(&t, it->sop_uid);
            continue;
        }
        uint16_t st = 0;
        pacs_errinfo sub;
        pacs_errinfo_clear(&sub);
        pacs_subop_result r = pacs_dimse__store_one(so, it, &st, &sub);
        switch (r) {
        case PACS_SUBOP_OK:
            t.completed++;
            bytes += it->size;
            if (sent) {
                sent[i] = 1;
            }
            break;
        case PACS_SUBOP_WARNING:
            t.warning++;
            bytes += it->size;
            if (sent) {
                sent[i] = 1;
            }
            break;
        case PACS_SUBOP_FAILED:
            add_failed(&t, it->sop_uid);
            pacs_log(PACS_LOG_WARN, "dimse", "assoc=%u %s to=%s sop=%s failed: %s", c->assoc_id,
                     verb, dest, it->sop_uid, sub.msg);
            break;
        case PACS_SUBOP_BROKEN:
            add_failed(&t, it->sop_uid);
            snprintf(broken, sizeof broken, "%.120s", sub.msg);
            pacs_log(PACS_LOG_WARN, "dimse",
                     "assoc=%u %s to=%s sop=%s failed, association lost: %s", c->assoc_id, verb,
                     dest, it->sop_uid, sub.msg);
            if (so->assoc == c->assoc) {
                /* C-GET: the requester's own association is gone; nobody to answer. */
                if (so->peer_released) {
                    pacs_errinfo_clear(ei);
                    err = PACS_ECLOSED;
                } else {
                    err = pacs_errf(ei, PACS_ENET, "%s", sub.msg);
                }
                goto out;
            }
            break;
        }
        if (so->canceled || pacs_msg_cancel_requested(c->assoc, rq->msg_id)) {
            canceled = 1;
            break;
        }
        if (i + 1 < list->n) {
            err = respond(c, rq, rsp_type, PACS_ST_PENDING, list->n - done, &t, NULL, ei);
            if (err != PACS_OK) {
                goto out;
            }
        }
    }
    uint16_t status;
    const char *comment = broken[0] ? broken : why;
    if (canceled) {
        status = PACS_ST_CANCEL;
    } else if (t.failed == 0 && t.warning == 0) {
        status = PACS_ST_SUCCESS;
    } else if (t.completed == 0 && t.warning == 0) {
        status = PACS_ST_SUBOPS_FAILED;
    } else {
        status = PACS_ST_SUBOPS_WARNING;
    }
    audit_retrieve(c, verb, list, sent, dest, status);
    audited = 1;
    err = respond(c, rq, rsp_type, status, list->n - done, &t, comment, ei);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    pacs_log(PACS_LOG_INFO, "dimse",
             "assoc=%u calling=%s %s to=%s instances=%zu completed=%zu warning=%zu failed=%zu "
             "status=0x%04x bytes=%llu seconds=%.3f%s",
             c->assoc_id, c->info.calling_aet, verb, dest, list->n, t.completed, t.warning,
             t.failed, status, (unsigned long long)bytes, secs, canceled ? " (canceled)" : "");
out:
    if (!audited && done > 0) {
        /* Cut short (server stopping, requester gone): what was sent is still recorded. */
        audit_retrieve(c, verb, list, sent, dest, PACS_ST_SUBOPS_FAILED);
    }
    free(sent);
    pacs_buf_free(&t.failed_uids);
    return err;
}
