// SPDX-License-Identifier: MIT
/*
 * The forwarding worker (forward_worker.h): wakes when something is queued or every
 * POLL_SECONDS (to pick up retries that fell due and entries a tool made pending), takes up to
 * BATCH due entries ordered by destination, hands each destination's entries to its sender and
 * writes the outcomes back in one transaction per destination. The back-off, the blocked
 * destinations, the audit lines and the metrics live here once for every protocol.
 */
#include "storage/forward_worker.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pacs/base/log.h"
#include "pacs/base/metrics.h"
#include "storage/audit.h"

#define POLL_SECONDS 2
#define BATCH 256
#define MAX_BLOCKED 64
#define MAX_SENDERS 4

typedef struct blocked_dest {
    char dest[17];
    int64_t until;
} blocked_dest;

struct pacs_fwd_worker {
    const pacs_config *cfg;
    pacs_archive *archive;
    pacs_fwd_sender senders[MAX_SENDERS];
    size_t n_senders;
    pthread_t thread;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int stopping;
    int kicked;
    blocked_dest blocked[MAX_BLOCKED];
    size_t n_blocked;
    long retry_min, retry_max, max_attempts;
};

/* One line per instance sent (or given up), naming its study, so that `pacs audit --patient`
 * shows where images went. */
static void audit_forward(const pacs_fwd_worker *w, const pacs_fwd_sender *s,
                          const pacs_fwd_entry *e, const pacs_fwd_outcome *o)
{
    int ok = o->result == PACS_FWD_SENT;
    char detail[320];
    snprintf(detail, sizeof detail, "forward rule=%s to=%s sop=%s%s%.200s", e->rule, e->dest,
             e->sop_uid, ok ? "" : ": ", ok ? "" : o->why);
    pacs_audit_event ev = {.action = PACS_AUDIT_RETRIEVE,
                           .success = ok,
                           .protocol = s->protocol,
                           .who = pacs_config_str(w->cfg, "dimse.aet"),
                           .from = "local",
                           .study_uid = o->study,
                           .detail = detail,
                           .count = ok ? 1u : 0u};
    pacs_audit_record(&ev);
}

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

static int64_t backoff(const pacs_fwd_worker *w, uint32_t attempts)
{
    int64_t d = w->retry_min;
    for (uint32_t i = 1; i < attempts && d < w->retry_max; i++) {
        d *= 2;
    }
    return d > w->retry_max ? w->retry_max : d;
}

static blocked_dest *find_blocked(pacs_fwd_worker *w, const char *dest)
{
    for (size_t i = 0; i < w->n_blocked; i++) {
        if (strcmp(w->blocked[i].dest, dest) == 0) {
            return &w->blocked[i];
        }
    }
    return NULL;
}

static void block(pacs_fwd_worker *w, const char *dest, int64_t until)
{
    blocked_dest *b = find_blocked(w, dest);
    if (!b && w->n_blocked < MAX_BLOCKED) {
        b = &w->blocked[w->n_blocked++];
        snprintf(b->dest, sizeof b->dest, "%s", dest);
    }
    if (b) {
        b->until = until;
    }
}

static void unblock(pacs_fwd_worker *w, const char *dest)
{
    blocked_dest *b = find_blocked(w, dest);
    if (b) {
        *b = w->blocked[--w->n_blocked];
    }
}

int pacs_fwd_worker_stopping(pacs_fwd_worker *w)
{
    pthread_mutex_lock(&w->mu);
    int stop = w->stopping;
    pthread_mutex_unlock(&w->mu);
    return stop;
}

static const pacs_fwd_sender *sender_for(pacs_fwd_worker *w, const char *dest)
{
    for (size_t i = 0; i < w->n_senders; i++) {
        if (w->senders[i].knows(w->senders[i].ctx, dest)) {
            return &w->senders[i];
        }
    }
    return NULL;
}

/* The update an outcome makes: done; retried after the back-off (or failed after
 * max_attempts); failed now. */
static void to_update(const pacs_fwd_worker *w, const pacs_fwd_entry *e, const pacs_fwd_outcome *o,
                      int64_t now, pacs_fwd_update *u)
{
    u->id = e->id;
    u->attempts = e->attempts + 1;
    u->next_try = now;
    u->error = o->why;
    u->bytes = o->bytes;
    u->ms = o->ms;
    if (o->result == PACS_FWD_SENT) {
        u->state = PACS_FWD_DONE;
        pacs_metrics_add(PACS_M_FORWARD_SENT, 1);
        return;
    }
    pacs_metrics_add(PACS_M_FORWARD_FAILED, 1);
    if (o->result == PACS_FWD_GIVE_UP ||
        (w->max_attempts > 0 && (long)u->attempts >= w->max_attempts)) {
        u->state = PACS_FWD_FAILED;
    } else {
        u->state = PACS_FWD_PENDING;
        u->next_try = now + backoff(w, u->attempts);
    }
}

/* Sends one destination's entries and records the outcomes. Entries left untried when the
 * server stops keep their state (their update has id 0, which matches nothing). */
static void send_group(pacs_fwd_worker *w, const pacs_fwd_entry *ents, size_t n)
{
    const char *dest = ents[0].dest;
    pacs_fwd_update *ups = calloc(n, sizeof *ups);
    pacs_fwd_outcome *outs = calloc(n, sizeof *outs);
    pacs_fwd_entry *stored = calloc(n, sizeof *stored);
    size_t *where = calloc(n, sizeof *where);
    if (!ups || !outs || !stored || !where) {
        pacs_log(PACS_LOG_ERROR, "forward", "dest=%s: out of memory", dest);
        goto out;
    }
    const pacs_fwd_sender *s = sender_for(w, dest);
    /* Entries whose instance is gone are failed here; the sender gets the rest. */
    size_t n_send = 0;
    for (size_t i = 0; i < n; i++) {
        if (!ents[i].object[0]) {
            outs[i].result = PACS_FWD_GIVE_UP;
            snprintf(outs[i].why, sizeof outs[i].why, "the instance is no longer stored");
        } else {
            where[n_send] = i;
            stored[n_send++] = ents[i];
        }
    }
    int down = 0;
    if (n_send > 0 && !s) {
        down = 1;
        for (size_t k = 0; k < n_send; k++) {
            outs[where[k]].result = PACS_FWD_RETRY;
            snprintf(outs[where[k]].why, sizeof outs[where[k]].why,
                     "%s is no longer a known destination (ae.%s, web.%s or ehr.%s)", dest, dest,
                     dest, dest);
        }
        pacs_log(PACS_LOG_WARN, "forward", "dest=%s unknown, %zu instances wait", dest, n_send);
    } else if (n_send > 0) {
        pacs_fwd_outcome *sub = calloc(n_send, sizeof *sub);
        if (!sub) {
            pacs_log(PACS_LOG_ERROR, "forward", "dest=%s: out of memory", dest);
            goto out;
        }
        down = s->send(s->ctx, w, stored, n_send, sub);
        for (size_t k = 0; k < n_send; k++) {
            outs[where[k]] = sub[k];
        }
        free(sub);
    }
    int64_t now = (int64_t)time(NULL);
    int64_t soonest = 0;
    size_t sent = 0, failed = 0, retried = 0;
    for (size_t i = 0; i < n; i++) {
        if (outs[i].result == PACS_FWD_UNTRIED) {
            continue;
        }
        to_update(w, &ents[i], &outs[i], now, &ups[i]);
        if (ups[i].state == PACS_FWD_DONE) {
            sent++;
        } else if (ups[i].state == PACS_FWD_FAILED) {
            failed++;
        } else {
            retried++;
            if (soonest == 0 || ups[i].next_try < soonest) {
                soonest = ups[i].next_try;
            }
        }
        if (s && ups[i].state != PACS_FWD_PENDING) {
            audit_forward(w, s, &ents[i], &outs[i]);
        }
    }
    if (down) {
        block(w, dest, soonest ? soonest : now + w->retry_min);
    } else {
        unblock(w, dest);
    }
    pacs_errinfo uei;
    if (pacs_archive_forward_update(w->archive, ups, n, &uei) != PACS_OK) {
        /* Entries stay pending as they were: sent ones may go a second time, none is lost. */
        pacs_log(PACS_LOG_ERROR, "forward", "dest=%s cannot record outcomes: %s", dest, uei.msg);
    }
    if (sent || failed) {
        pacs_log(PACS_LOG_INFO, "forward", "dest=%s sent=%zu failed=%zu retry=%zu", dest, sent,
                 failed, retried);
    }
out:
    free(ups);
    free(outs);
    free(stored);
    free(where);
}

/* Entries for a destination that is backing off wait for it without using an attempt, so they
 * do not fill every batch and starve other destinations. */
static void defer_group(pacs_fwd_worker *w, const pacs_fwd_entry *ents, size_t n, int64_t until)
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
    if (pacs_archive_forward_update(w->archive, ups, n, &ei) != PACS_OK) {
        pacs_log(PACS_LOG_ERROR, "forward", "dest=%s cannot defer entries: %s", ents[0].dest,
                 ei.msg);
    }
    free(ups);
}

/* One pass over what is due; returns the number of entries handled. */
static size_t run_once(pacs_fwd_worker *w)
{
    due_list l = {NULL, 0, 0};
    pacs_errinfo ei;
    if (pacs_archive_forward_due(w->archive, BATCH, due_cb, &l, &ei) != PACS_OK) {
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
        blocked_dest *b = find_blocked(w, l.items[i].dest);
        if (!b || b->until <= now) {
            send_group(w, &l.items[i], j - i);
        } else {
            defer_group(w, &l.items[i], j - i, b->until);
        }
        handled += j - i;
        i = j;
        if (pacs_fwd_worker_stopping(w)) {
            break;
        }
    }
    free(l.items);
    return handled;
}

static void *worker_main(void *arg)
{
    pacs_fwd_worker *w = arg;
    for (;;) {
        pthread_mutex_lock(&w->mu);
        if (!w->stopping && !w->kicked) {
            struct timespec until;
            clock_gettime(CLOCK_REALTIME, &until);
            until.tv_sec += POLL_SECONDS;
            pthread_cond_timedwait(&w->cv, &w->mu, &until);
        }
        int stop = w->stopping;
        w->kicked = 0;
        pthread_mutex_unlock(&w->mu);
        if (stop) {
            break;
        }
        /* A full batch may mean more is due: go again before sleeping. */
        while (run_once(w) >= BATCH && !pacs_fwd_worker_stopping(w)) {
        }
    }
    return NULL;
}

pacs_err pacs_fwd_worker_start(const pacs_config *cfg, pacs_archive *archive,
                               const pacs_fwd_sender *senders, size_t n, pacs_fwd_worker **out,
                               pacs_errinfo *ei)
{
    if (n > MAX_SENDERS) {
        return pacs_errf(ei, PACS_EINVAL, "too many forwarding senders");
    }
    pacs_fwd_worker *w = calloc(1, sizeof *w);
    if (!w) {
        return pacs_errf(ei, PACS_ENOMEM, "out of memory");
    }
    w->cfg = cfg;
    w->archive = archive;
    memcpy(w->senders, senders, n * sizeof *senders);
    w->n_senders = n;
    w->retry_min = pacs_config_int(cfg, "forward.retry_min");
    w->retry_max = pacs_config_int(cfg, "forward.retry_max");
    w->max_attempts = pacs_config_int(cfg, "forward.max_attempts");
    w->kicked = 1; /* look at what an earlier run left, right away */
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
    if (pthread_create(&w->thread, NULL, worker_main, w) != 0) {
        pthread_mutex_destroy(&w->mu);
        pthread_cond_destroy(&w->cv);
        free(w);
        return pacs_errf(ei, PACS_ENOMEM, "cannot start the forwarding worker");
    }
    *out = w;
    return PACS_OK;
}

void pacs_fwd_worker_wake(pacs_fwd_worker *w)
{
    if (!w) {
        return;
    }
    pthread_mutex_lock(&w->mu);
    w->kicked = 1;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

void pacs_fwd_worker_stop(pacs_fwd_worker *w)
{
    if (!w) {
        return;
    }
    pthread_mutex_lock(&w->mu);
    w->stopping = 1;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
    for (size_t i = 0; i < w->n_senders; i++) {
        if (w->senders[i].cancel) {
            w->senders[i].cancel(w->senders[i].ctx);
        }
    }
    pthread_join(w->thread, NULL);
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    free(w);
}
