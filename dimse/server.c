// SPDX-License-Identifier: MIT
/*
 * The DIMSE server (dimse.h): accept loop, association negotiation and the per-association
 * message loop that dispatches to the services. Bounded: at most dimse.max_associations run at
 * once, every wait has a timeout, and stop() ends everything within its grace period.
 */
#include "dimse/dimse.h"

#include <arpa/inet.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pacs/base/log.h"
#include "pacs/dicom/dcm.h"
#include "dimse/service.h"

#define VERIFICATION_CLASS "1.2.840.10008.1.1"
#define POLL_SECONDS 1

struct pacs_dimse_server {
    const pacs_config *cfg;
    pacs_archive *archive;
    pacs_net *net;     /* plain port, NULL when dimse.plain is off */
    pacs_net *tls_net; /* TLS port, NULL when dimse.tls.port is -1 */
    int tls_port;
    pthread_t acceptor, tls_acceptor;
    int acceptor_started, tls_acceptor_started;
    atomic_int stopping;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    unsigned active;
    unsigned receiving; /* threads reading an association request (receive()) */
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

/* ---- access control (dimse.access_control) ---- */

/* True when `item` (an IPv4 address, a CIDR block, a host name or *) covers `peer`. */
static int addr_matches(const char *item, const struct in_addr *peer)
{
    if (strcmp(item, "*") == 0) {
        return 1;
    }
    char host[64];
    snprintf(host, sizeof host, "%s", item);
    char *slash = strchr(host, '/');
    long bits = 32;
    if (slash) {
        *slash = '\0';
        char *end = NULL;
        bits = strtol(slash + 1, &end, 10);
        if (end == slash + 1 || *end != '\0' || bits < 0 || bits > 32) {
            return 0;
        }
    }
    struct in_addr want;
    if (inet_pton(AF_INET, host, &want) == 1) {
        uint32_t mask = bits == 0 ? 0 : htonl(0xFFFFFFFFu << (32 - bits));
        return (want.s_addr & mask) == (peer->s_addr & mask);
    }
    if (slash) {
        return 0;
    }
    /* A host name: its addresses now (from /etc/hosts or DNS), never the peer's reverse name. */
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(host, NULL, &hints, &res) != 0) {
        return 0;
    }
    int found = 0;
    for (struct addrinfo *ai = res; ai && !found; ai = ai->ai_next) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)(const void *)ai->ai_addr;
        found = sin->sin_addr.s_addr == peer->s_addr;
    }
    freeaddrinfo(res);
    return found;
}

/* True when the known AE may call from `peer` (a numeric address): its from= list, or the host
 * of its host:port when there is none. */
static int addr_allowed(const pacs_remote_ae *ae, const char *peer)
{
    struct in_addr p;
    if (inet_pton(AF_INET, peer, &p) != 1) {
        return 0;
    }
    char list[sizeof ae->from];
    snprintf(list, sizeof list, "%s", ae->from[0] ? ae->from : ae->host);
    char *save = NULL;
    for (char *it = strtok_r(list, ", ", &save); it; it = strtok_r(NULL, ", ", &save)) {
        if (addr_matches(it, &p)) {
            return 1;
        }
    }
    return 0;
}

/* The permission a presentation context needs (0: none, C-ECHO), or -1 for classes we do not
 * serve (left to the usual rejection). */
static int needed_permission(const pacs_pc *pc)
{
    if (strcmp(pc->abstract_syntax, VERIFICATION_CLASS) == 0) {
        return 0;
    }
    if (in_list(find_classes, pc->abstract_syntax)) {
        return PACS_AE_ALLOW_FIND;
    }
    if (strcmp(pc->abstract_syntax, PACS_COMMIT_PUSH_CLASS) == 0) {
        return PACS_AE_ALLOW_COMMIT;
    }
    if (in_list(retrieve_classes, pc->abstract_syntax)) {
        /* ...2.1.2 and ...2.2.2 are MOVE, ...2.1.3 and ...2.2.3 GET */
        size_t n = strlen(pc->abstract_syntax);
        return pc->abstract_syntax[n - 1] == '2' ? PACS_AE_ALLOW_MOVE : PACS_AE_ALLOW_GET;
    }
    if (pacs_dcm_is_storage_class(pc->abstract_syntax)) {
        /* The requester receiving on this context (SCP role) is C-GET; sending is C-STORE. */
        return pc->role == PACS_ROLE_SCP ? PACS_AE_ALLOW_GET : PACS_AE_ALLOW_STORE;
    }
    return -1;
}

/* The permission a request needs, by command. */
static unsigned command_permission(pacs_dimse_type t)
{
    switch (t) {
    case PACS_C_STORE_RQ:
        return PACS_AE_ALLOW_STORE;
    case PACS_C_FIND_RQ:
        return PACS_AE_ALLOW_FIND;
    case PACS_C_MOVE_RQ:
        return PACS_AE_ALLOW_MOVE;
    case PACS_C_GET_RQ:
        return PACS_AE_ALLOW_GET;
    case PACS_N_ACTION_RQ:
        return PACS_AE_ALLOW_COMMIT;
    default:
        return 0;
    }
}

static pacs_err reject(pacs_dimse_ctx *c, pacs_reject_reason why, const char *text,
                       pacs_errinfo *ei)
{
    pacs_log(PACS_LOG_WARN, "dimse", "assoc=%u calling=%s called=%s host=%s rejected: %s",
             c->assoc_id, c->info.calling_aet, c->info.called_aet, c->info.peer_host, text);
    pacs_assoc_reject(c->assoc, why, NULL);
    char detail[160];
    snprintf(detail, sizeof detail, "A-ASSOCIATE-RJ: %s", text);
    pacs_dimse__audit(c, PACS_AUDIT_ACCESS_DENIED, 0, NULL, NULL, detail, 0);
    return pacs_errf(ei, PACS_EDENIED, "%s", text);
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
    c->allow = PACS_AE_ALLOW_ALL;
    if (pacs_config_bool(s->cfg, "dimse.strict_called_aet") &&
        strcmp(c->info.called_aet, our_aet) != 0) {
        return reject(c, PACS_RJ_CALLED_AET_UNKNOWN, "called AE title not recognised", ei);
    }
    if (!pacs_config_calling_aet_allowed(s->cfg, c->info.calling_aet)) {
        return reject(c, PACS_RJ_CALLING_AET_UNKNOWN, "calling AE title not allowed", ei);
    }
    if (pacs_config_bool(s->cfg, "dimse.access_control")) {
        pacs_remote_ae ae;
        if (!c->aetable || !pacs_aetable_find(c->aetable, c->info.calling_aet, &ae)) {
            return reject(c, PACS_RJ_CALLING_AET_UNKNOWN, "calling AE title not known", ei);
        }
        if (!addr_allowed(&ae, c->info.peer_host)) {
            return reject(c, PACS_RJ_CALLING_AET_UNKNOWN,
                          "calling AE title not allowed from this address", ei);
        }
        if (ae.tls && !c->info.tls) {
            return reject(c, PACS_RJ_CALLING_AET_UNKNOWN,
                          "calling AE title marked tls called on the plain port", ei);
        }
        if (ae.cert[0] && strcmp(c->info.peer_cert_cn, ae.cert) != 0) {
            return reject(c, PACS_RJ_CALLING_AET_UNKNOWN,
                          "calling AE title used with another certificate (cert=)", ei);
        }
        c->allow = ae.allow;
    }
    size_t n = pacs_assoc_pc_count(c->assoc), accepted = 0, denied = 0;
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
        int need = needed_permission(&pc);
        if (ts && need == (int)PACS_AE_ALLOW_STORE && role == PACS_ROLE_SCU_SCP) {
            /* Both ways proposed: keep the way(s) this AE may use. */
            unsigned both = c->allow & (PACS_AE_ALLOW_STORE | PACS_AE_ALLOW_GET);
            if (both == PACS_AE_ALLOW_GET) {
                role = PACS_ROLE_SCP;
                need = PACS_AE_ALLOW_GET;
            } else if (both == PACS_AE_ALLOW_STORE) {
                role = PACS_ROLE_DEFAULT;
            }
        }
        if (ts && need > 0 && !(c->allow & (unsigned)need)) {
            /* A service this AE may not use (PS3.8 9.3.3.2 user-rejection). */
            pacs_log(PACS_LOG_WARN, "dimse",
                     "assoc=%u calling=%s context=%u %s refused: not "
                     "allowed for this AE",
                     c->assoc_id, c->info.calling_aet, pc.id, pc.abstract_syntax);
            pacs_assoc_pc_reject(c->assoc, pc.id, PACS_PC_REJECT_USER, NULL);
            denied++;
            continue;
        }
        if (ts) {
            pacs_assoc_pc_accept(c->assoc, pc.id, ts, role, NULL);
            accepted++;
        } else {
            pacs_assoc_pc_reject(
                c->assoc, pc.id,
                known ? PACS_PC_REJECT_TRANSFER_SYNTAXES : PACS_PC_REJECT_ABSTRACT_SYNTAX, NULL);
        }
    }
    if (denied) {
        char detail[96];
        snprintf(detail, sizeof detail, "presentation contexts refused: %zu not allowed", denied);
        pacs_dimse__audit(c, PACS_AUDIT_ACCESS_DENIED, 0, NULL, NULL, detail, (unsigned)denied);
    }
    pacs_err err = pacs_assoc_acknowledge(c->assoc, ei);
    if (err == PACS_OK) {
        pacs_log(PACS_LOG_INFO, "dimse", "assoc=%u calling=%s host=%s accepted contexts=%zu/%zu",
                 c->assoc_id, c->info.calling_aet, c->info.peer_host, accepted, n);
    }
    return err;
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
    unsigned need = command_permission(rq->type);
    if (need && !(c->allow & need)) {
        /* Not reachable through negotiation (the context was refused); kept as a second lock
         * for contexts whose role lets one service reach another's class. */
        pacs_log(PACS_LOG_WARN, "dimse",
                 "assoc=%u calling=%s command type=%d refused: not "
                 "allowed for this AE",
                 c->assoc_id, c->info.calling_aet, (int)rq->type);
        pacs_dimse__audit(c, PACS_AUDIT_ACCESS_DENIED, 0, NULL, NULL,
                          "request refused: service not allowed for this AE", 0);
        if (rq->has_dataset) {
            pacs_err err = pacs_dimse__drain(c, ei);
            if (err != PACS_OK) {
                return err;
            }
        }
        return pacs_dimse__respond(c, rq, response_type(rq->type), PACS_ST_NOT_AUTHORIZED,
                                   "not authorized", ei);
    }
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

static void accept_loop(pacs_dimse_server *s, pacs_net *net);

static void *accept_plain(void *arg)
{
    pacs_dimse_server *s = arg;
    accept_loop(s, s->net);
    return NULL;
}

static void *accept_tls(void *arg)
{
    pacs_dimse_server *s = arg;
    accept_loop(s, s->tls_net);
    return NULL;
}

/* A receiving thread: takes one pending connection, reads its association request (and, on
 * the TLS port, first completes the handshake), then serves the association itself. Slow or
 * silent peers thus hold up only their own thread, never the port. */
typedef struct recv_job {
    pacs_dimse_server *s;
    pacs_net *net;
} recv_job;

static void *receive(void *arg)
{
    recv_job *rj = arg;
    pacs_dimse_server *s = rj->s;
    pacs_net *net = rj->net;
    free(rj);
    long max_pdu = pacs_config_int(s->cfg, "dimse.max_pdu");
    unsigned max_assoc = (unsigned)pacs_config_int(s->cfg, "dimse.max_associations");
    pacs_assoc *a = NULL;
    pacs_errinfo ei;
    pacs_err err = pacs_net_accept(net, 0, max_pdu, &a, &ei);
    int full = 0;
    unsigned id = 0;
    pthread_mutex_lock(&s->mu);
    s->receiving--;
    if (err == PACS_OK) {
        id = ++s->next_id;
        full = s->active >= max_assoc;
        if (!full) {
            s->active++;
        }
    }
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    if (err == PACS_ETIMEOUT) {
        return NULL; /* another thread took the connection */
    }
    if (err != PACS_OK) {
        pacs_log(PACS_LOG_WARN, "dimse", "%s%s", net == s->tls_net ? "TLS port: " : "", ei.msg);
        if (net == s->tls_net) {
            /* Mostly a failed handshake: no certificate, an untrusted or expired one, or a
             * peer that does not speak TLS. */
            pacs_audit_event ev = {
                .action = PACS_AUDIT_LOGIN_FAILURE, .protocol = "dimse", .detail = ei.msg};
            pacs_audit_record(&ev);
        }
        return NULL;
    }
    if (full) {
        pacs_assoc_info info;
        pacs_assoc_get_info(a, &info);
        pacs_log(PACS_LOG_WARN, "dimse",
                 "assoc=%u calling=%s rejected: %u associations "
                 "already running",
                 id, info.calling_aet, max_assoc);
        pacs_assoc_reject(a, PACS_RJ_LOCAL_LIMIT_EXCEEDED, NULL);
        pacs_assoc_free(a);
        return NULL;
    }
    assoc_job *job = malloc(sizeof *job);
    if (!job) {
        pacs_assoc_reject(a, PACS_RJ_TEMPORARY_CONGESTION, NULL);
        pacs_assoc_free(a);
        pthread_mutex_lock(&s->mu);
        s->active--;
        pthread_cond_broadcast(&s->cv);
        pthread_mutex_unlock(&s->mu);
        return NULL;
    }
    job->s = s;
    job->assoc = a;
    job->id = id;
    return serve_association(job);
}

/* The port's one watcher: for each pending connection, a receiving thread (at most
 * dimse.max_associations receiving at once; beyond that, connections wait in the backlog). */
static void accept_loop(pacs_dimse_server *s, pacs_net *net)
{
    unsigned max_recv = (unsigned)pacs_config_int(s->cfg, "dimse.max_associations");
    const struct timespec pause = {0, 2 * 1000 * 1000};
    while (!atomic_load(&s->stopping)) {
        if (!pacs_net_pending(net, 250)) {
            continue;
        }
        pthread_mutex_lock(&s->mu);
        if (s->receiving >= max_recv) {
            /* Full: the connection waits in the backlog until a receiver is done. */
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_nsec += 100 * 1000 * 1000;
            if (until.tv_nsec >= 1000000000L) {
                until.tv_sec++;
                until.tv_nsec -= 1000000000L;
            }
            pthread_cond_timedwait(&s->cv, &s->mu, &until);
        }
        int room = s->receiving < max_recv;
        if (room) {
            s->receiving++;
        }
        pthread_mutex_unlock(&s->mu);
        recv_job *rj = room ? malloc(sizeof *rj) : NULL;
        pthread_t t;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        if (rj) {
            rj->s = s;
            rj->net = net;
        }
        if (room && (!rj || pthread_create(&t, &attr, receive, rj) != 0)) {
            free(rj);
            pthread_mutex_lock(&s->mu);
            s->receiving--;
            pthread_mutex_unlock(&s->mu);
        }
        pthread_attr_destroy(&attr);
        /* Let the receiver take the connection before looking again; a second receiver
         * started for the same one finds nothing and ends at once. */
        nanosleep(&pause, NULL);
    }
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
    s->tls_port = -1;
    *port = -1;
    pacs_err err = PACS_OK;
    if (pacs_config_bool(cfg, "dimse.plain")) {
        err = pacs_net_listen(pacs_config_str(cfg, "dimse.bind"),
                              (int)pacs_config_int(cfg, "dimse.port"),
                              (int)pacs_config_int(cfg, "dimse.acse_timeout"), &s->net, port, ei);
    }
    if (err == PACS_OK && pacs_config_int(cfg, "dimse.tls.port") >= 0) {
        pacs_tls_opts tls = {
            .cert_file = pacs_config_str(cfg, "dimse.tls.cert"),
            .key_file = pacs_config_str(cfg, "dimse.tls.key"),
            .ca_file = pacs_config_str(cfg, "dimse.tls.ca"),
            .verify_peer = pacs_config_bool(cfg, "dimse.tls.verify_client"),
            .profile = pacs_config_str(cfg, "dimse.tls.profile"),
        };
        err = pacs_net_listen_tls(
            pacs_config_str(cfg, "dimse.bind"), (int)pacs_config_int(cfg, "dimse.tls.port"),
            (int)pacs_config_int(cfg, "dimse.acse_timeout"), &tls, &s->tls_net, &s->tls_port, ei);
    }
    if (err != PACS_OK) {
        pacs_dimse_stop(s, 0);
        return err;
    }
    if (s->net && pthread_create(&s->acceptor, NULL, accept_plain, s) != 0) {
        pacs_dimse_stop(s, 0);
        return pacs_errf(ei, PACS_ENOMEM, "cannot start the DIMSE listener");
    }
    s->acceptor_started = s->net != NULL;
    if (s->tls_net && pthread_create(&s->tls_acceptor, NULL, accept_tls, s) != 0) {
        pacs_dimse_stop(s, 0);
        return pacs_errf(ei, PACS_ENOMEM, "cannot start the DIMSE TLS listener");
    }
    s->tls_acceptor_started = s->tls_net != NULL;
    *out = s;
    return PACS_OK;
}

int pacs_dimse_tls_port(const pacs_dimse_server *s)
{
    return s->tls_port;
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
    if (s->tls_acceptor_started) {
        pthread_join(s->tls_acceptor, NULL);
    }
    /* Threads still reading a request use the ports; they end within the ACSE timeout (the
     * TLS handshake within DCMTK's socket timeout). Waiting that long would hold up the stop. */
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 2;
    pthread_mutex_lock(&s->mu);
    while (s->receiving > 0) {
        if (pthread_cond_timedwait(&s->cv, &s->mu, &until) != 0) {
            break;
        }
    }
    unsigned receiving = s->receiving;
    pthread_mutex_unlock(&s->mu);
    if (receiving > 0) {
        pacs_log(PACS_LOG_WARN, "dimse", "%u peers still connecting; their ports are left open",
                 receiving);
    } else {
        pacs_net_close(s->net);
        pacs_net_close(s->tls_net);
    }
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
    unsigned left = s->active + s->receiving;
    pthread_mutex_unlock(&s->mu);
    if (left > 0) {
        /* Threads still hold the server; leaking it beats freeing memory they use. */
        pacs_log(PACS_LOG_ERROR, "dimse", "%u associations (or peers connecting) did not end",
                 left);
        return;
    }
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    free(s->live);
    free(s);
}
