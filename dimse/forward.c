// SPDX-License-Identifier: MIT
/*
 * Forwarding (forward.h): the stored hook that queues, and the worker that sends. The worker
 * wakes when something is queued or every POLL_SECONDS (to pick up retries that fell due and
 * entries a tool made pending), takes up to BATCH due entries ordered by destination, and sends
 * each destination's entries on one association proposing exactly their SOP classes and stored
 * syntaxes (plus little endian where a conversion is possible). Outcomes are written back in
 * one transaction per destination. A destination that could not be reached is not tried again
 * before its entries' back-off has passed, so a burst of new instances does not hammer it.
 */
#include "dimse/forward.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pacs/base/log.h"
#include "pacs/base/metrics.h"
#include "dimse/retrieve.h"

#define POLL_SECONDS 2
#define BATCH 256
#define MAX_BLOCKED 64

typedef struct blocked_dest {
    char aet[17];
    int64_t until;
} blocked_dest;

struct pacs_forwarder {
    const pacs_config *cfg;
    pacs_archive *archive;
    pacs_aetable *table;
    pthread_t worker;
    int started;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stopping;
    int kicked;
    pacs_assoc *current; /* the association being used, for pacs_forward_stop to cut short */
    blocked_dest blocked[MAX_BLOCKED];
    size_t n_blocked;
    long retry_min, retry_max, max_attempts;
    int timeout;
};

/* ---- the audit trail: where each instance went ---- */

/* One line per instance sent (or given up), naming its study (as the index has it: the queue
 * keeps only the SOP instance), so that `pacs audit --patient` shows where images went. */
static void audit_forward(pacs_forwarder *f, const pacs_fwd_entry *e, const char *study,
                          const char *dest, int ok, const char *why)
{
    char detail[320];
    snprintf(detail, sizeof detail, "forward rule=%s to=%s sop=%s%s%.200s", e->rule, dest,
             e->sop_uid, why ? ": " : "", why ? why : "");
    pacs_audit_event ev = {.action = PACS_AUDIT_RETRIEVE,
                           .success = ok,
                           .protocol = "dimse",
                           .who = pacs_config_str(f->cfg, "dimse.aet"),
                           .from = "local",
                           .study_uid = study,
                           .detail = detail,
                           .count = ok ? 1u : 0u};
    pacs_audit_record(&ev);
}

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

static void stored_hook(void *ctx, const pacs_ingest_result *res, const char *source_aet)
{
    pacs_forwarder *f = ctx;
    pacs_aetable_route_input in = {source_aet ? source_aet : "", res->modality,
                                   res->meta.sop_class_uid};
    enqueue_ctx e = {f, res, 0};
    pacs_aetable_route(f->table, &in, enqueue_one, &e);
    if (e.added) {
        pacs_forward_wake(f);
    }
}

/* ---- the worker ---- */

typedef struct due_list {
    pacs_fwd_entry *items;
    size_t n, cap;
} due_list;

static int due_cb(void *ctx, const pacs_fwd_entry *e)
{
    due_list *l = ctx;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        pacs_fwd_entry *g = realloc(l->items, cap * sizeof *g);
        if (!g) {
            return 1;
        }
        l->items = g;
        l->cap = cap;
    }
    l->items[l->n++] = *e;
    return 0;
}

static int64_t backoff(const pacs_forwarder *f, uint32_t attempts)
{
    int64_t d = f->retry_min;
    for (uint32_t i = 1; i < attempts && d < f->retry_max; i++) {
        d *= 2;
    }
    return d > f->retry_max ? f->retry_max : d;
}

static blocked_dest *find_blocked(pacs_forwarder *f, const char *aet)
{
    for (size_t i = 0; i < f->n_blocked; i++) {
        if (strcmp(f->blocked[i].aet, aet) == 0) {
            return &f->blocked[i];
        }
    }
    return NULL;
}

static void block(pacs_forwarder *f, const char *aet, int64_t until)
{
    blocked_dest *b = find_blocked(f, aet);
    if (!b && f->n_blocked < MAX_BLOCKED) {
        b = &f->blocked[f->n_blocked++];
        snprintf(b->aet, sizeof b->aet, "%s", aet);
    }
    if (b) {
        b->until = until;
    }
}

static void unblock(pacs_forwarder *f, const char *aet)
{
    blocked_dest *b = find_blocked(f, aet);
    if (b) {
        *b = f->blocked[--f->n_blocked];
    }
}

/* A failed try: retried after the back-off, or given up after max_attempts. */
static void set_retry(const pacs_forwarder *f, const pacs_fwd_entry *e, pacs_fwd_update *u,
                      char *errbuf, size_t cap, const char *why, int64_t now)
{
    pacs_metrics_add(PACS_M_FORWARD_FAILED, 1);
    u->id = e->id;
    u->attempts = e->attempts + 1;
    snprintf(errbuf, cap, "%.190s", why);
    u->error = errbuf;
    if (f->max_attempts > 0 && (long)u->attempts >= f->max_attempts) {
        u->state = PACS_FWD_FAILED;
        u->next_try = now;
    } else {
        u->state = PACS_FWD_PENDING;
        u->next_try = now + backoff(f, u->attempts);
    }
}

static void set_failed(pacs_fwd_update *u, const pacs_fwd_entry *e, char *errbuf, size_t cap,
                       const char *why, int64_t now)
{
    pacs_metrics_add(PACS_M_FORWARD_FAILED, 1);
    u->id = e->id;
    u->state = PACS_FWD_FAILED;
    u->attempts = e->attempts + 1;
    u->next_try = now;
    snprintf(errbuf, cap, "%.190s", why);
    u->error = errbuf;
}

static int stopping(pacs_forwarder *f)
{
    pthread_mutex_lock(&f->mu);
    int stop = f->stopping;
    pthread_mutex_unlock(&f->mu);
    return stop;
}

static void set_current(pacs_forwarder *f, pacs_assoc *a)
{
    pthread_mutex_lock(&f->mu);
    f->current = a;
    pthread_mutex_unlock(&f->mu);
}

/* Sends one destination's entries [first, first + n) and records the outcomes. Entries left
 * untouched when the server stops keep their state (their update has id 0, which matches
 * nothing). */
static void send_group(pacs_forwarder *f, pacs_fwd_entry *ents, size_t n)
{
    const char *dest = ents[0].dest;
    int64_t now = (int64_t)time(NULL);
    pacs_fwd_update *ups = calloc(n, sizeof *ups);
    char(*errs)[200] = calloc(n, sizeof *errs);
    pacs_proposal *prop = calloc(1, sizeof *prop);
    pacs_sendset *pcs = calloc(1, sizeof *pcs);
    pacs_assoc *a = NULL;
    if (!ups || !errs || !prop || !pcs) {
        pacs_log(PACS_LOG_ERROR, "forward", "dest=%s: out of memory", dest);
        goto out;
    }
    pacs_remote_ae ae;
    pacs_errinfo ei;
    pacs_errinfo_clear(&ei);
    int reachable = pacs_aetable_find(f->table, dest, &ae);
    if (!reachable) {
        snprintf(ei.msg, sizeof ei.msg, "%s is no longer a known AE (ae.%s)", dest, dest);
    }
    size_t n_send = 0;
    for (size_t i = 0; i < n; i++) {
        if (!ents[i].object[0]) {
            continue; /* no longer stored: marked below */
        }
        pacs_dimse__propose(prop, ents[i].sop_class, ents[i].ts);
        n_send++;
    }
    if (reachable && n_send > 0) {
        pacs_err err = pacs_dimse__request(f->cfg, &ae, prop->pcs, prop->n, &a, &ei);
        if (err != PACS_OK) {
            a = NULL;
            reachable = 0;
        } else {
            pacs_dimse__sendset_from_request(pcs, prop->pcs, prop->n);
            set_current(f, a);
        }
    }
    size_t sent = 0, failed = 0, retried = 0;
    if (!reachable && n_send > 0) {
        pacs_log(PACS_LOG_WARN, "forward", "dest=%s unreachable, %zu instances wait: %s", dest,
                 n_send, ei.msg);
    }
    pacs_subop so;
    memset(&so, 0, sizeof so);
    so.archive = f->archive;
    so.assoc = a;
    so.pcs = pcs;
    so.timeout = f->timeout;
    so.next_msg_id = 1;
    int broken = 0;
    int64_t soonest = 0;
    char broken_why[200] = "";
    for (size_t i = 0; i < n; i++) {
        pacs_fwd_entry *e = &ents[i];
        now = (int64_t)time(NULL);
        if (stopping(f)) {
            break;
        }
        if (!e->object[0]) {
            set_failed(&ups[i], e, errs[i], sizeof errs[i], "the instance is no longer stored",
                       now);
            failed++;
            continue;
        }
        if (!reachable || broken) {
            set_retry(f, e, &ups[i], errs[i], sizeof errs[i], broken ? broken_why : ei.msg, now);
            retried++;
        } else {
            /* The instance as the index has it now: its syntax, whether it has pixel data, and
             * whether its study is reconciled to an order (then the delivery plan coerces it to
             * the identity the index serves, as for any retrieval). */
            pacs_resolve_list rl;
            uint16_t st = 0;
            pacs_errinfo sub;
            pacs_errinfo_clear(&sub);
            pacs_err rerr = pacs_resolve_uids(f->archive, NULL, NULL, e->sop_uid, 0, 1, &rl, &sub);
            pacs_subop_result r = PACS_SUBOP_FAILED;
            if (rerr == PACS_OK) {
                r = pacs_dimse__store_one(&so, &rl.v[0], &st, &sub);
            }
            const char *study = rerr == PACS_OK ? rl.v[0].study_uid : "";
            if (rerr == PACS_ENOTFOUND) {
                set_failed(&ups[i], e, errs[i], sizeof errs[i], "the instance is no longer stored",
                           now);
                failed++;
            } else if (rerr != PACS_OK) {
                set_retry(f, e, &ups[i], errs[i], sizeof errs[i], sub.msg, now);
                retried++;
            } else if (r == PACS_SUBOP_OK || r == PACS_SUBOP_WARNING) {
                ups[i].id = e->id;
                ups[i].state = PACS_FWD_DONE;
                ups[i].attempts = e->attempts + 1;
                ups[i].next_try = now;
                ups[i].error = r == PACS_SUBOP_WARNING ? sub.msg : NULL;
                if (ups[i].error) {
                    snprintf(errs[i], sizeof errs[i], "%.190s", sub.msg);
                    ups[i].error = errs[i];
                }
                sent++;
                pacs_metrics_add(PACS_M_FORWARD_SENT, 1);
                audit_forward(f, e, study, dest, 1, NULL);
            } else if (r == PACS_SUBOP_FAILED && st == 0) {
                /* Nothing the destination can change: no context, or no conversion. */
                set_failed(&ups[i], e, errs[i], sizeof errs[i], sub.msg, now);
                failed++;
                audit_forward(f, e, study, dest, 0, sub.msg);
                pacs_log(PACS_LOG_WARN, "forward", "dest=%s sop=%s failed: %s", dest, e->sop_uid,
                         sub.msg);
            } else {
                if (r == PACS_SUBOP_BROKEN) {
                    broken = 1;
                    snprintf(broken_why, sizeof broken_why, "%.190s", sub.msg);
                }
                set_retry(f, e, &ups[i], errs[i], sizeof errs[i], sub.msg, now);
                retried++;
                pacs_log(PACS_LOG_WARN, "forward", "dest=%s sop=%s attempt %u failed: %s", dest,
                         e->sop_uid, ups[i].attempts, sub.msg);
            }
            pacs_resolve_list_free(&rl);
        }
        if (ups[i].state == PACS_FWD_PENDING && (soonest == 0 || ups[i].next_try < soonest)) {
            soonest = ups[i].next_try;
        }
    }
    if (a) {
        set_current(f, NULL);
        /* A destination that stopped answering would hold a release or an A-ABORT (which
         * waits for the peer to close) for the ACSE timeout: just cut the connection. */
        pacs_errinfo rei;
        if (broken || so.broken || stopping(f)) {
            pacs_assoc_shutdown(a);
        } else if (pacs_assoc_release(a, &rei) != PACS_OK) {
            pacs_assoc_abort(a);
        }
        pacs_assoc_free(a);
    }
    if (!reachable || broken) {
        block(f, dest, soonest ? soonest : now + f->retry_min);
    } else {
        unblock(f, dest);
    }
    pacs_errinfo uei;
    if (pacs_archive_forward_update(f->archive, ups, n, &uei) != PACS_OK) {
        /* Entries stay pending as they were: sent ones may go a second time, none is lost. */
        pacs_log(PACS_LOG_ERROR, "forward", "dest=%s cannot record outcomes: %s", dest, uei.msg);
    }
    if (sent || failed) {
        pacs_log(PACS_LOG_INFO, "forward", "dest=%s sent=%zu failed=%zu retry=%zu", dest, sent,
                 failed, retried);
    }
out:
    free(ups);
    free(errs);
    free(prop);
    free(pcs);
}

/* Entries for a destination that is backing off wait for it without using an attempt, so they
 * do not fill every batch and starve other destinations. */
static void defer_group(pacs_forwarder *f, const pacs_fwd_entry *ents, size_t n, int64_t until)
{
    pacs_fwd_update *ups = calloc(n, sizeof *ups);
    if (!ups) {
        return;
    }
    for (size_t i = 0; i < n; i++) {
        ups[i].id = ents[i].id;
        ups[i].state = PACS_FWD_PENDING;
        ups[i].attempts = ents[i].attempts;
        ups[i].next_try = until;
        ups[i].error = ents[i].error;
    }
    pacs_errinfo ei;
    if (pacs_archive_forward_update(f->archive, ups, n, &ei) != PACS_OK) {
        pacs_log(PACS_LOG_ERROR, "forward", "dest=%s cannot defer entries: %s", ents[0].dest,
                 ei.msg);
    }
    free(ups);
}

/* One pass over what is due; returns the number of entries handled. */
static size_t run_once(pacs_forwarder *f)
{
    due_list l = {NULL, 0, 0};
    pacs_errinfo ei;
    if (pacs_archive_forward_due(f->archive, BATCH, due_cb, &l, &ei) != PACS_OK) {
        pacs_log(PACS_LOG_ERROR, "forward", "cannot read the queue: %s", ei.msg);
        free(l.items);
        return 0;
    }
    int64_t now = (int64_t)time(NULL);
    size_t handled = 0;
    for (size_t i = 0; i < l.n;) {
        size_t j = i + 1;
        while (j < l.n && strcmp(l.items[j].dest, l.items[i].dest) == 0) {
            j++;
        }
        blocked_dest *b = find_blocked(f, l.items[i].dest);
        if (!b || b->until <= now) {
            send_group(f, &l.items[i], j - i);
        } else {
            defer_group(f, &l.items[i], j - i, b->until);
        }
        handled += j - i;
        i = j;
        if (stopping(f)) {
            break;
        }
    }
    free(l.items);
    return handled;
}

static void *worker_main(void *arg)
{
    pacs_forwarder *f = arg;
    for (;;) {
        pthread_mutex_lock(&f->mu);
        if (!f->stopping && !f->kicked) {
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_sec += POLL_SECONDS;
            pthread_cond_timedwait(&f->cv, &f->mu, &until);
        }
        int stop = f->stopping;
        f->kicked = 0;
        pthread_mutex_unlock(&f->mu);
        if (stop) {
            break;
        }
        /* A full batch may mean more is due: go again before sleeping. */
        while (run_once(f) >= BATCH && !stopping(f)) {
        }
    }
    return NULL;
}

pacs_err pacs_forward_start(const pacs_config *cfg, pacs_archive *archive, pacs_aetable *table,
                            pacs_forwarder **out, pacs_errinfo *ei)
{
    pacs_forwarder *f = calloc(1, sizeof *f);
    if (!f) {
        return pacs_errf(ei, PACS_ENOMEM, "out of memory");
    }
    f->cfg = cfg;
    f->archive = archive;
    f->table = table;
    f->retry_min = pacs_config_int(cfg, "forward.retry_min");
    f->retry_max = pacs_config_int(cfg, "forward.retry_max");
    f->max_attempts = pacs_config_int(cfg, "forward.max_attempts");
    f->timeout = (int)pacs_config_int(cfg, "dimse.timeout");
    f->kicked = 1; /* look at what an earlier run left, right away */
    pthread_mutex_init(&f->mu, NULL);
    pthread_cond_init(&f->cv, NULL);
    if (pthread_create(&f->worker, NULL, worker_main, f) != 0) {
        pthread_mutex_destroy(&f->mu);
        pthread_cond_destroy(&f->cv);
        free(f);
        return pacs_errf(ei, PACS_ENOMEM, "cannot start the forwarding worker");
    }
    f->started = 1;
    pacs_archive_set_stored_hook(archive, stored_hook, f);
    *out = f;
    return PACS_OK;
}

void pacs_forward_wake(pacs_forwarder *f)
{
    pthread_mutex_lock(&f->mu);
    f->kicked = 1;
    pthread_cond_signal(&f->cv);
    pthread_mutex_unlock(&f->mu);
}

void pacs_forward_stop(pacs_forwarder *f)
{
    if (!f) {
        return;
    }
    pacs_archive_set_stored_hook(f->archive, NULL, NULL);
    pthread_mutex_lock(&f->mu);
    f->stopping = 1;
    pthread_cond_signal(&f->cv);
    if (f->current) {
        /* A sub-operation waiting on a slow destination returns now; the entry stays queued. */
        pacs_assoc_shutdown(f->current);
    }
    pthread_mutex_unlock(&f->mu);
    if (f->started) {
        pthread_join(f->worker, NULL);
    }
    pthread_mutex_destroy(&f->mu);
    pthread_cond_destroy(&f->cv);
    free(f);
}
