// SPDX-License-Identifier: MIT
/*
 * The DIMSE server (dimse.h): the listening ports, a receiving thread per connecting peer, and
 * a thread per association, which negotiates it (negotiate.c) and serves its messages
 * (dispatch.c) until it ends. Bounded: at most dimse.max_associations run at once, every wait
 * has a timeout, and stop() ends everything within its grace period.
 *
 * Load: one thread per association for its whole life; the port's watcher wakes every 250 ms.
 * Thread-safety: the server's counters and live list are under its mutex; pacs_dimse_start and
 * _stop run on one thread.
 */
#include "dimse/dimse.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dimse/association.h"
#include "pacs/base/log.h"
#include "pacs/base/metrics.h"
#include "pacs/base/workers.h"

struct pacs_dimse_server {
    const pacs_config *cfg;
    pacs_archive *archive;
    pacs_net *net;     /* plain port, NULL when dimse.plain is off */
    pacs_net *tls_net; /* TLS port, NULL when dimse.tls.port is -1 */
    int tls_port;
    pthread_t acceptor, tls_acceptor;
    int acceptor_started, tls_acceptor_started;
    atomic_int stopping;
    pacs_workers assocs; /* a thread per association; the associations, for a forced stop */
    pthread_mutex_t mu;  /* guards receiving */
    pthread_cond_t cv;
    unsigned receiving; /* threads reading an association request (receive()) */
    _Atomic(pacs_aetable *) aetable;
};

typedef struct assoc_job {
    pacs_dimse_server *s;
    pacs_assoc *assoc;
    unsigned id;
} assoc_job;

static void cut_assoc(void *item)
{
    pacs_assoc_shutdown(item);
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
    if (pacs_dimse__negotiate(&c, &ei) == PACS_OK) {
        char label[64];
        pacs_metrics_add_labeled(
            PACS_M_ASSOCIATIONS,
            pacs_metrics_label(label, sizeof label, "calling_ae", c.info.calling_aet), 1);
        pacs_metrics_add(PACS_M_ASSOC_ACTIVE, 1);
        pacs_workers_track(&s->assocs, c.assoc, 1);
        const char *end = pacs_dimse__serve(&c);
        pacs_workers_track(&s->assocs, c.assoc, 0);
        pacs_metrics_sub(PACS_M_ASSOC_ACTIVE, 1);
        struct timespec t1;
        clock_gettime(CLOCK_MONOTONIC, &t1);
        double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
        pacs_log(PACS_LOG_INFO, "dimse",
                 "assoc=%u calling=%s %s stored=%u failed=%u finds=%u seconds=%.2f", c.assoc_id,
                 c.info.calling_aet, end, c.stored, c.store_failed, c.finds, secs);
    } else {
        pacs_metrics_add(PACS_M_ASSOC_REJECTED, 1);
    }
    pacs_assoc_free(c.assoc);
    pacs_workers_leave(&s->assocs);
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
    /* Counted in as serving before counted out as receiving: a stop never sees it in neither. */
    if (err == PACS_OK) {
        full = !pacs_workers_enter(&s->assocs, max_assoc, &id);
    }
    pthread_mutex_lock(&s->mu);
    s->receiving--;
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
        pacs_metrics_add(PACS_M_ASSOC_REJECTED, 1);
        return NULL;
    }
    assoc_job *job = malloc(sizeof *job);
    if (!job) {
        pacs_assoc_reject(a, PACS_RJ_TEMPORARY_CONGESTION, NULL);
        pacs_assoc_free(a);
        pacs_workers_leave(&s->assocs);
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
    pacs_workers_init(&s->assocs);
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
    if (!pacs_workers_wait_idle(&s->assocs, grace_s)) {
        pacs_workers_cut(&s->assocs, cut_assoc);
        pacs_workers_wait_idle(&s->assocs, 10);
    }
    pthread_mutex_lock(&s->mu);
    unsigned left = pacs_workers_active(&s->assocs) + s->receiving;
    pthread_mutex_unlock(&s->mu);
    if (left > 0) {
        /* Threads still hold the server; leaking it beats freeing memory they use. */
        pacs_log(PACS_LOG_ERROR, "dimse", "%u associations (or peers connecting) did not end",
                 left);
        return;
    }
    pacs_workers_destroy(&s->assocs);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    free(s);
}
