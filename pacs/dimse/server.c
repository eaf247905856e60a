// SPDX-License-Identifier: MIT
/*
 * The DIMSE server (dimse.h): accept loop, association negotiation and the per-association
 * message loop that dispatches to the services. Bounded: at most dimse.max_associations run at
 * once, every wait has a timeout, and stop() ends everything within its grace period.
 */
#include "pacs/dimse/dimse.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pacs/base/log.h"
#include "pacs/dicom/dcm.h"
#include "pacs/dimse/service.h"

#define VERIFICATION_CLASS "1.2.840.10008.1.1"
#define POLL_SECONDS 1

struct pacs_dimse_server {
    const pacs_config *cfg;
    pacs_archive *archive;
    pacs_net *net;
    pthread_t acceptor;
    int acceptor_started;
    atomic_int stopping;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    unsigned active;
    unsigned next_id;
    pacs_assoc **live; /* associations being served, for a forced shutdown */
    size_t n_live, cap_live;
    _Atomic(pacs_aetable *) aetable;
};

typedef struct assoc_job {
    pacs_dimse_server *s;
    pacs_assoc *assoc;
    unsigned id;
} assoc_job;

static const char *const find_classes[] = {
    "1.2.840.10008.5.1.4.1.2.1.1", /* Patient Root Query/Retrieve - FIND */
    "1.2.840.10008.5.1.4.1.2.2.1", /* Study Root Query/Retrieve - FIND */
    NULL,
};

static const char *const retrieve_classes[] = {
    "1.2.840.10008.5.1.4.1.2.1.2", /* Patient Root Query/Retrieve - MOVE */
    "1.2.840.10008.5.1.4.1.2.2.2", /* Study Root Query/Retrieve - MOVE */
    "1.2.840.10008.5.1.4.1.2.1.3", /* Patient Root Query/Retrieve - GET */
    "1.2.840.10008.5.1.4.1.2.2.3", /* Study Root Query/Retrieve - GET */
    PACS_COMMIT_PUSH_CLASS,        /* Storage Commitment Push Model */
    NULL,
};

static int in_list(const char *const *list, const char *uid)
{
    for (size_t i = 0; list[i]; i++) {
        if (strcmp(list[i], uid) == 0) {
            return 1;
        }
    }
    return 0;
}

/* The transfer syntax to accept: for images, the first the peer proposed that we can store
 * as it is (no conversion on the way in); for commands-only services, explicit LE if offered. */
static const char *choose_ts(const pacs_pc *pc, int prefer_explicit)
{
    if (prefer_explicit) {
        for (size_t i = 0; i < pc->n_ts; i++) {
            if (strcmp(pc->ts[i], PACS_TS_EXPLICIT_LE) == 0) {
                return pc->ts[i];
            }
        }
        for (size_t i = 0; i < pc->n_ts; i++) {
            if (strcmp(pc->ts[i], PACS_TS_IMPLICIT_LE) == 0) {
                return pc->ts[i];
            }
        }
        return NULL;
    }
    for (size_t i = 0; i < pc->n_ts; i++) {
        if (pacs_dcm_ts_known(pc->ts[i])) {
            return pc->ts[i];
        }
    }
    return NULL;
}

static pacs_err negotiate(pacs_dimse_server *s, pacs_dimse_ctx *c, pacs_errinfo *ei)
{
    const char *our_aet = pacs_config_str(s->cfg, "dimse.aet");
    if (pacs_config_bool(s->cfg, "dimse.strict_called_aet") &&
        strcmp(c->info.called_aet, our_aet) != 0) {
        pacs_log(PACS_LOG_WARN, "dimse", "assoc=%u calling=%s called=%s rejected: called AE "
                                         "title is not ours (%s)",
                 c->assoc_id, c->info.calling_aet, c->info.called_aet, our_aet);
        pacs_assoc_reject(c->assoc, PACS_RJ_CALLED_AET_UNKNOWN, NULL);
        return pacs_errf(ei, PACS_EDENIED, "called AE title not recognised");
    }
    if (!pacs_config_calling_aet_allowed(s->cfg, c->info.calling_aet)) {
        pacs_log(PACS_LOG_WARN, "dimse", "assoc=%u calling=%s host=%s rejected: calling AE "
                                         "title not allowed",
                 c->assoc_id, c->info.calling_aet, c->info.peer_host);
        pacs_assoc_reject(c->assoc, PACS_RJ_CALLING_AET_UNKNOWN, NULL);
        return pacs_errf(ei, PACS_EDENIED, "calling AE title not allowed");
    }
    size_t n = pacs_assoc_pc_count(c->assoc), accepted = 0;
    for (size_t i = 0; i < n; i++) {
        pacs_pc pc;
        if (pacs_assoc_pc_at(c->assoc, i, &pc) != PACS_OK) {
            continue;
        }
        const char *ts = NULL;
        pacs_role role = PACS_ROLE_DEFAULT;
        int known = 1;
        if (strcmp(pc.abstract_syntax, VERIFICATION_CLASS) == 0 ||
            in_list(find_classes, pc.abstract_syntax) ||
            in_list(retrieve_classes, pc.abstract_syntax)) {
            ts = choose_ts(&pc, 1);
        } else if (pacs_dcm_is_storage_class(pc.abstract_syntax)) {
            /* A peer that only receives on this context (C-GET) gets what we can send it. */
            ts = pc.role == PACS_ROLE_SCP ? pacs_dimse__get_storage_ts(&pc) : choose_ts(&pc, 0);
            if (pc.role == PACS_ROLE_SCP || pc.role == PACS_ROLE_SCU_SCP) {
                role = pc.role;
            }
        } else {
            known = 0;
        }
        if (ts) {
            pacs_assoc_pc_accept(c->assoc, pc.id, ts, role, NULL);
            accepted++;
        } else {
            pacs_assoc_pc_reject(c->assoc, pc.id,
                                 known ? PACS_PC_REJECT_TRANSFER_SYNTAXES
                                       : PACS_PC_REJECT_ABSTRACT_SYNTAX,
                                 NULL);
        }
    }
    pacs_err err = pacs_assoc_acknowledge(c->assoc, ei);
    if (err == PACS_OK) {
        pacs_log(PACS_LOG_INFO, "dimse", "assoc=%u calling=%s host=%s accepted contexts=%zu/%zu",
                 c->assoc_id, c->info.calling_aet, c->info.peer_host, accepted, n);
    }
    return err;
}

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
    return pacs_assoc_send(c->assoc, &rsp, NULL, ei);
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
    return pacs_assoc_recv_dataset_raw(c->assoc, c->timeout, discard, NULL, ei);
}

static pacs_dimse_type response_type(pacs_dimse_type rq)
{
    switch (rq) {
    case PACS_C_STORE_RQ:
        return PACS_C_STORE_RSP;
    case PACS_C_FIND_RQ:
        return PACS_C_FIND_RSP;
    case PACS_C_MOVE_RQ:
        return PACS_C_MOVE_RSP;
    case PACS_C_GET_RQ:
        return PACS_C_GET_RSP;
    case PACS_N_ACTION_RQ:
        return PACS_N_ACTION_RSP;
    case PACS_N_EVENT_REPORT_RQ:
        return PACS_N_EVENT_REPORT_RSP;
    default:
        return PACS_C_ECHO_RSP;
    }
}

static pacs_err dispatch(pacs_dimse_ctx *c, const pacs_dimse_msg *rq, pacs_errinfo *ei)
{
    switch (rq->type) {
    case PACS_C_ECHO_RQ:
        return pacs_dimse__respond(c, rq, PACS_C_ECHO_RSP, PACS_ST_SUCCESS, NULL, ei);
    case PACS_C_STORE_RQ:
        return pacs_dimse__store(c, rq, ei);
    case PACS_C_FIND_RQ:
        return pacs_dimse__find(c, rq, ei);
    case PACS_C_MOVE_RQ:
        return pacs_dimse__move(c, rq, ei);
    case PACS_C_GET_RQ:
        return pacs_dimse__get(c, rq, ei);
    case PACS_N_ACTION_RQ:
        return pacs_dimse__commit(c, rq, ei);
    case PACS_C_CANCEL_RQ:
        return PACS_OK; /* nothing of that id is running */
    default:
        break;
    }
    /* A request on a context we did not accept, or one we do not serve. */
    pacs_log(PACS_LOG_WARN, "dimse", "assoc=%u unsupported command type=%d", c->assoc_id,
             (int)rq->type);
    if (rq->has_dataset) {
        pacs_err err = pacs_dimse__drain(c, ei);
        if (err != PACS_OK) {
            return err;
        }
    }
    if (rq->type == PACS_DIMSE_OTHER) {
        return pacs_errf(ei, PACS_ENET, "unrecognised DIMSE command");
    }
    return pacs_dimse__respond(c, rq, response_type(rq->type), 0x0211, "unrecognized operation",
                               ei);
}

static void track(pacs_dimse_server *s, pacs_assoc *a, int add)
{
    pthread_mutex_lock(&s->mu);
    if (add) {
        if (s->n_live == s->cap_live) {
            size_t cap = s->cap_live ? s->cap_live * 2 : 16;
            pacs_assoc **g = realloc(s->live, cap * sizeof *g);
            if (g) {
                s->live = g;
                s->cap_live = cap;
            }
        }
        if (s->n_live < s->cap_live) {
            s->live[s->n_live++] = a;
        }
    } else {
        for (size_t i = 0; i < s->n_live; i++) {
            if (s->live[i] == a) {
                s->live[i] = s->live[--s->n_live];
                break;
            }
        }
    }
    pthread_mutex_unlock(&s->mu);
}

static void *serve_association(void *arg)
{
    assoc_job *job = arg;
    pacs_dimse_server *s = job->s;
    pacs_dimse_ctx c;
    memset(&c, 0, sizeof c);
    c.assoc = job->assoc;
    c.archive = s->archive;
    c.cfg = s->cfg;
    c.assoc_id = job->id;
    c.timeout = (int)pacs_config_int(s->cfg, "dimse.timeout");
    c.stopping = &s->stopping;
    c.aetable = atomic_load(&s->aetable);
    pacs_assoc_get_info(c.assoc, &c.info);
    free(job);
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);

    pacs_errinfo ei;
    pacs_errinfo_clear(&ei);
    pacs_err err = negotiate(s, &c, &ei);
    const char *end = "released";
    if (err == PACS_OK) {
        track(s, c.assoc, 1);
        int idle = 0;
        for (;;) {
            if (atomic_load(&s->stopping)) {
                end = "aborted (server stopping)";
                pacs_assoc_abort(c.assoc);
                break;
            }
            pacs_dimse_msg rq;
            err = pacs_assoc_recv(c.assoc, POLL_SECONDS, &rq, &ei);
            if (err == PACS_ETIMEOUT) {
                idle += POLL_SECONDS;
                if (idle >= c.timeout) {
                    end = "aborted (idle timeout)";
                    pacs_assoc_abort(c.assoc);
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
                pacs_log(PACS_LOG_WARN, "dimse", "assoc=%u %s", c.assoc_id, ei.msg);
                pacs_assoc_abort(c.assoc);
                break;
            }
            err = dispatch(&c, &rq, &ei);
            if (err == PACS_ECLOSED) {
                end = ei.msg[0] ? "aborted by peer" : "released";
                break;
            }
            if (err != PACS_OK) {
                end = "aborted (network error)";
                pacs_log(PACS_LOG_WARN, "dimse", "assoc=%u %s", c.assoc_id, ei.msg);
                pacs_assoc_abort(c.assoc);
                break;
            }
        }
        track(s, c.assoc, 0);
        struct timespec t1;
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
        pacs_log(PACS_LOG_INFO, "dimse",
                 "assoc=%u calling=%s %s stored=%u failed=%u finds=%u seconds=%.2f", c.assoc_id,
                 c.info.calling_aet, end, c.stored, c.store_failed, c.finds, secs);
    }
    pacs_assoc_free(c.assoc);
    pthread_mutex_lock(&s->mu);
    s->active--;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

static void *accept_loop(void *arg)
{
    pacs_dimse_server *s = arg;
    long max_pdu = pacs_config_int(s->cfg, "dimse.max_pdu");
    unsigned max_assoc = (unsigned)pacs_config_int(s->cfg, "dimse.max_associations");
    while (!atomic_load(&s->stopping)) {
        pacs_assoc *a = NULL;
        pacs_errinfo ei;
        pacs_err err = pacs_net_accept(s->net, 250, max_pdu, &a, &ei);
        if (err == PACS_ETIMEOUT) {
            continue;
        }
        if (err != PACS_OK) {
            pacs_log(PACS_LOG_WARN, "dimse", "%s", ei.msg);
            continue;
        }
        pthread_mutex_lock(&s->mu);
        unsigned id = ++s->next_id;
        int full = s->active >= max_assoc;
        if (!full) {
            s->active++;
        }
        pthread_mutex_unlock(&s->mu);
        if (full) {
            pacs_assoc_info info;
            pacs_assoc_get_info(a, &info);
            pacs_log(PACS_LOG_WARN, "dimse", "assoc=%u calling=%s rejected: %u associations "
                                             "already running",
                     id, info.calling_aet, max_assoc);
            pacs_assoc_reject(a, PACS_RJ_LOCAL_LIMIT_EXCEEDED, NULL);
            pacs_assoc_free(a);
            continue;
        }
        assoc_job *job = malloc(sizeof *job);
        pthread_t t;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        if (job) {
            job->s = s;
            job->assoc = a;
            job->id = id;
        }
        if (!job || pthread_create(&t, &attr, serve_association, job) != 0) {
            free(job);
            pacs_assoc_reject(a, PACS_RJ_TEMPORARY_CONGESTION, NULL);
            pacs_assoc_free(a);
            pthread_mutex_lock(&s->mu);
            s->active--;
            pthread_mutex_unlock(&s->mu);
        }
        pthread_attr_destroy(&attr);
    }
    return NULL;
}

pacs_err pacs_dimse_start(const pacs_config *cfg, pacs_archive *archive, pacs_dimse_server **out,
                          int *port, pacs_errinfo *ei)
{
    pacs_dimse_server *s = calloc(1, sizeof *s);
    if (!s) {
        return pacs_errf(ei, PACS_ENOMEM, "out of memory");
    }
    s->cfg = cfg;
    s->archive = archive;
    atomic_init(&s->stopping, 0);
    atomic_init(&s->aetable, NULL);
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    pacs_err err = pacs_net_listen(pacs_config_str(cfg, "dimse.bind"),
                                   (int)pacs_config_int(cfg, "dimse.port"),
                                   (int)pacs_config_int(cfg, "dimse.acse_timeout"), &s->net, port,
                                   ei);
    if (err != PACS_OK) {
        pacs_dimse_stop(s, 0);
        return err;
    }
    if (pthread_create(&s->acceptor, NULL, accept_loop, s) != 0) {
        pacs_dimse_stop(s, 0);
        return pacs_errf(ei, PACS_ENOMEM, "cannot start the DIMSE listener");
    }
    s->acceptor_started = 1;
    *out = s;
    return PACS_OK;
}

void pacs_dimse_set_aetable(pacs_dimse_server *s, pacs_aetable *t)
{
    atomic_store(&s->aetable, t);
}

static int wait_idle(pacs_dimse_server *s, int seconds)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += seconds;
    pthread_mutex_lock(&s->mu);
    while (s->active > 0) {
        if (pthread_cond_timedwait(&s->cv, &s->mu, &until) != 0) {
            break;
        }
    }
    int idle = s->active == 0;
    pthread_mutex_unlock(&s->mu);
    return idle;
}

void pacs_dimse_stop(pacs_dimse_server *s, int grace_s)
{
    if (!s) {
        return;
    }
    atomic_store(&s->stopping, 1);
    if (s->acceptor_started) {
        pthread_join(s->acceptor, NULL);
    }
    pacs_net_close(s->net);
    /* Associations stop between messages; a transfer still running after the grace period is
     * cut off (its object was never committed, so nothing is half-written). */
    if (!wait_idle(s, grace_s)) {
        pthread_mutex_lock(&s->mu);
        for (size_t i = 0; i < s->n_live; i++) {
            pacs_assoc_shutdown(s->live[i]);
        }
        pthread_mutex_unlock(&s->mu);
        wait_idle(s, 10);
    }
    pthread_mutex_lock(&s->mu);
    unsigned left = s->active;
    pthread_mutex_unlock(&s->mu);
    if (left > 0) {
        /* Threads still hold the server; leaking it beats freeing memory they use. */
        pacs_log(PACS_LOG_ERROR, "dimse", "%u associations did not end", left);
        return;
    }
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    free(s->live);
    free(s);
}
