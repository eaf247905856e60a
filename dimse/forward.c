// SPDX-License-Identifier: MIT
/*
 * Forwarding (forward.h): the stored hook that queues, and the DIMSE sender the queue's worker
 * calls. The sender sends one destination's entries on one association proposing exactly their
 * SOP classes and stored syntaxes (plus little endian where a conversion is possible); an
 * association that cannot be opened, or that breaks, leaves the rest for a retry.
 */
#include "dimse/forward.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pacs/base/log.h"
#include "dimse/retrieve.h"

struct pacs_forwarder {
    const pacs_config *cfg;
    pacs_archive *archive;
    pacs_aetable *table;
    pacs_fwd_worker *worker; /* woken by the hook */
    pthread_mutex_t mu;
    pacs_assoc *current; /* the association being used, for the cancel to cut short */
    int timeout;
};

/* ---- queueing, on the ingest threads ---- */

typedef struct enqueue_ctx {
    pacs_forwarder *f;
    const pacs_ingest_result *res;
    size_t added;
} enqueue_ctx;

static void enqueue_one(void *ctx, const char *rule, const char *dest)
{
    enqueue_ctx *e = ctx;
    pacs_errinfo ei;
    int added = 0;
    if (pacs_archive_forward_enqueue(e->f->archive, dest, rule, e->res->meta.sop_instance_uid,
                                     e->res->object, &added, &ei) != PACS_OK) {
        /* The instance is stored but its forward is not queued: say so loudly. */
        pacs_log(PACS_LOG_ERROR, "forward", "sop=%s dest=%s rule=%s NOT QUEUED: %s",
                 e->res->meta.sop_instance_uid, dest, rule, ei.msg);
        return;
    }
    if (added) {
        e->added++;
        pacs_log(PACS_LOG_DEBUG, "forward", "sop=%s dest=%s rule=%s queued",
                 e->res->meta.sop_instance_uid, dest, rule);
    }
}

/* A rule's study_from, asked of the archive: one indexed lookup. */
static int study_from(void *ctx, const char *name)
{
    enqueue_ctx *e = ctx;
    int found = 0;
    pacs_errinfo ei;
    pacs_errinfo_clear(&ei);
    if (pacs_archive_study_from(e->f->archive, e->res->study_uid, name, &found, &ei) != PACS_OK) {
        /* The instance is stored, but whether the rule wants it cannot be told. */
        pacs_log(PACS_LOG_ERROR, "forward", "sop=%s study_from=%s NOT CHECKED: %s",
                 e->res->meta.sop_instance_uid, name, ei.msg);
        return 0;
    }
    return found;
}

static void stored_hook(void *ctx, const pacs_ingest_result *res, const char *source_aet)
{
    pacs_forwarder *f = ctx;
    enqueue_ctx e = {f, res, 0};
    pacs_aetable_route_input in = {source_aet ? source_aet : "",
                                   res->modality,
                                   res->meta.sop_class_uid,
                                   res->source_http,
                                   study_from,
                                   &e};
    pacs_aetable_route(f->table, &in, enqueue_one, &e);
    if (e.added) {
        pthread_mutex_lock(&f->mu);
        pacs_fwd_worker *w = f->worker;
        pthread_mutex_unlock(&f->mu);
        pacs_fwd_worker_wake(w);
    }
}

/* ---- the DIMSE sender, on the worker's thread ---- */

static int knows(void *ctx, const char *dest)
{
    pacs_forwarder *f = ctx;
    pacs_remote_ae ae;
    return pacs_aetable_find(f->table, dest, &ae);
}

static void set_current(pacs_forwarder *f, pacs_assoc *a)
{
    pthread_mutex_lock(&f->mu);
    f->current = a;
    pthread_mutex_unlock(&f->mu);
}

static void outcome(pacs_fwd_outcome *o, pacs_fwd_result r, const char *why)
{
    o->result = r;
    snprintf(o->why, sizeof o->why, "%.190s", why ? why : "");
}

/* Sends one instance on the open association and says what became of it. Returns 1 when the
 * association broke. */
static int send_one(pacs_forwarder *f, pacs_subop *so, const pacs_fwd_entry *e, pacs_fwd_outcome *o)
{
    /* The instance as the index has it now: its syntax, whether it has pixel data, and whether
     * its study is reconciled to an order (then the delivery plan coerces it to the identity
     * the index serves, as for any retrieval). */
    pacs_resolve_list rl;
    uint16_t st = 0;
    pacs_errinfo sub;
    pacs_errinfo_clear(&sub);
    pacs_err rerr = pacs_resolve_uids(f->archive, NULL, NULL, e->sop_uid, 0, 1, &rl, &sub);
    if (rerr == PACS_ENOTFOUND) {
        outcome(o, PACS_FWD_GIVE_UP, "the instance is no longer stored");
        return 0;
    }
    if (rerr != PACS_OK) {
        outcome(o, PACS_FWD_RETRY, sub.msg);
        return 0;
    }
    snprintf(o->study, sizeof o->study, "%s", rl.v[0].study_uid);
    pacs_subop_result r = pacs_dimse__store_one(so, &rl.v[0], &st, &sub);
    int broken = 0;
    if (r == PACS_SUBOP_OK || r == PACS_SUBOP_WARNING) {
        outcome(o, PACS_FWD_SENT, r == PACS_SUBOP_WARNING ? sub.msg : NULL);
        o->bytes = rl.v[0].size;
    } else if (r == PACS_SUBOP_FAILED && st == 0) {
        /* Nothing the destination can change: no context, or no conversion. */
        outcome(o, PACS_FWD_GIVE_UP, sub.msg);
        pacs_log(PACS_LOG_WARN, "forward", "dest=%s sop=%s failed: %s", e->dest, e->sop_uid,
                 sub.msg);
    } else {
        broken = r == PACS_SUBOP_BROKEN;
        outcome(o, PACS_FWD_RETRY, sub.msg);
        pacs_log(PACS_LOG_WARN, "forward", "dest=%s sop=%s attempt %u failed: %s", e->dest,
                 e->sop_uid, e->attempts + 1, sub.msg);
    }
    pacs_resolve_list_free(&rl);
    return broken;
}

static int send_dimse(void *ctx, pacs_fwd_worker *w, const pacs_fwd_entry *ents, size_t n,
                      pacs_fwd_outcome *out)
{
    pacs_forwarder *f = ctx;
    const char *dest = ents[0].dest;
    pacs_proposal *prop = calloc(1, sizeof *prop);
    pacs_sendset *pcs = calloc(1, sizeof *pcs);
    pacs_assoc *a = NULL;
    int down = 1;
    pacs_remote_ae ae;
    pacs_errinfo ei;
    pacs_errinfo_clear(&ei);
    if (!prop || !pcs) {
        snprintf(ei.msg, sizeof ei.msg, "out of memory");
    } else if (!pacs_aetable_find(f->table, dest, &ae)) {
        snprintf(ei.msg, sizeof ei.msg, "%s is no longer a known AE (ae.%s)", dest, dest);
    } else {
        for (size_t i = 0; i < n; i++) {
            pacs_dimse__propose(prop, ents[i].sop_class, ents[i].ts);
        }
        if (pacs_dimse__request(f->cfg, &ae, prop->pcs, prop->n, &a, &ei) == PACS_OK) {
            pacs_dimse__sendset_from_request(pcs, prop->pcs, prop->n);
            set_current(f, a);
            down = 0;
        } else {
            a = NULL;
        }
    }
    if (down) {
        pacs_log(PACS_LOG_WARN, "forward", "dest=%s unreachable, %zu instances wait: %s", dest, n,
                 ei.msg);
        for (size_t i = 0; i < n; i++) {
            outcome(&out[i], PACS_FWD_RETRY, ei.msg);
        }
        free(prop);
        free(pcs);
        return 1;
    }
    pacs_subop so;
    memset(&so, 0, sizeof so);
    so.archive = f->archive;
    so.assoc = a;
    so.pcs = pcs;
    so.timeout = f->timeout;
    so.next_msg_id = 1;
    int broken = 0;
    char broken_why[200] = "";
    for (size_t i = 0; i < n && !pacs_fwd_worker_stopping(w); i++) {
        if (broken) {
            outcome(&out[i], PACS_FWD_RETRY, broken_why);
            continue;
        }
        struct timespec t0, t1;
        clock_gettime(CLOCK_MONOTONIC, &t0);
        broken = send_one(f, &so, &ents[i], &out[i]);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        out[i].ms =
            (uint64_t)((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000);
        if (broken) {
            snprintf(broken_why, sizeof broken_why, "%s", out[i].why);
        }
    }
    set_current(f, NULL);
    /* A destination that stopped answering would hold a release or an A-ABORT (which waits
     * for the peer to close) for the ACSE timeout: just cut the connection. */
    pacs_errinfo rei;
    if (broken || so.broken || pacs_fwd_worker_stopping(w)) {
        pacs_assoc_shutdown(a);
    } else if (pacs_assoc_release(a, &rei) != PACS_OK) {
        pacs_assoc_abort(a);
    }
    pacs_assoc_free(a);
    free(prop);
    free(pcs);
    return broken;
}

static void cancel_dimse(void *ctx)
{
    pacs_forwarder *f = ctx;
    pthread_mutex_lock(&f->mu);
    if (f->current) {
        /* A sub-operation waiting on a slow destination returns now; the entry stays queued. */
        pacs_assoc_shutdown(f->current);
    }
    pthread_mutex_unlock(&f->mu);
}

pacs_err pacs_forward_new(const pacs_config *cfg, pacs_archive *archive, pacs_aetable *table,
                          pacs_forwarder **out, pacs_errinfo *ei)
{
    pacs_forwarder *f = calloc(1, sizeof *f);
    if (!f) {
        return pacs_errf(ei, PACS_ENOMEM, "out of memory");
    }
    f->cfg = cfg;
    f->archive = archive;
    f->table = table;
    f->timeout = (int)pacs_config_int(cfg, "dimse.timeout");
    pthread_mutex_init(&f->mu, NULL);
    *out = f;
    return PACS_OK;
}

pacs_fwd_sender pacs_forward_sender(pacs_forwarder *f)
{
    pacs_fwd_sender s = {"dimse", knows, send_dimse, cancel_dimse, f};
    return s;
}

void pacs_forward_attach(pacs_forwarder *f, pacs_fwd_worker *w)
{
    if (!w) {
        pacs_archive_set_stored_hook(f->archive, NULL, NULL);
    }
    pthread_mutex_lock(&f->mu);
    f->worker = w;
    pthread_mutex_unlock(&f->mu);
    if (w) {
        pacs_archive_set_stored_hook(f->archive, stored_hook, f);
    }
}

void pacs_forward_free(pacs_forwarder *f)
{
    if (!f) {
        return;
    }
    pthread_mutex_destroy(&f->mu);
    free(f);
}
