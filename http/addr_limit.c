// SPDX-License-Identifier: MIT
/*
 * Failed logins per client address (addr_limit.h): a direct-mapped table of SLOTS entries,
 * keyed by a hash of the address text; an address that finds its slot held by another takes
 * it when the other is neither counting nor locked, else it shares the other's fate for the
 * moment (a collision can only make the rule stricter, never let an address escape it).
 *
 * Load: one FNV-1a hash and a string compare per call. Thread-safe: one mutex.
 */
#include "http/addr_limit.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define SLOTS 4096
#define ADDR_CAP 64

typedef struct slot {
    char addr[ADDR_CAP];
    unsigned failures;
    int64_t since, locked_until;
} slot;

struct pacs_addr_limit {
    pthread_mutex_t mu;
    unsigned max_failures, window, lock;
    slot slots[SLOTS];
};

pacs_err pacs_addr_limit_new(unsigned max_failures, unsigned window, unsigned lock,
                             pacs_addr_limit **out, pacs_errinfo *ei)
{
    pacs_addr_limit *l = calloc(1, sizeof *l);
    if (!l) {
        return pacs_errf(ei, PACS_ENOMEM, "out of memory");
    }
    pthread_mutex_init(&l->mu, NULL);
    l->max_failures = max_failures;
    l->window = window;
    l->lock = lock;
    *out = l;
    return PACS_OK;
}

void pacs_addr_limit_free(pacs_addr_limit *l)
{
    if (!l) {
        return;
    }
    pthread_mutex_destroy(&l->mu);
    free(l);
}

static slot *slot_of(pacs_addr_limit *l, const char *addr)
{
    uint32_t h = 2166136261u;
    for (const char *p = addr; *p; p++) {
        h = (h ^ (unsigned char)*p) * 16777619u;
    }
    return &l->slots[h % SLOTS];
}

/* The slot's state at `now`, the window and lock that have run out cleared. Mutex held. */
static void age(pacs_addr_limit *l, slot *s, int64_t now)
{
    if (s->locked_until && s->locked_until <= now) {
        s->locked_until = 0;
    }
    if (s->failures && s->since + (int64_t)l->window <= now) {
        s->failures = 0;
    }
}

int pacs_addr_limit_locked(pacs_addr_limit *l, const char *addr, int64_t now)
{
    if (!l || l->max_failures == 0 || !addr) {
        return 0;
    }
    pthread_mutex_lock(&l->mu);
    slot *s = slot_of(l, addr);
    age(l, s, now);
    int locked = s->locked_until > now;
    pthread_mutex_unlock(&l->mu);
    return locked;
}

int pacs_addr_limit_fail(pacs_addr_limit *l, const char *addr, int64_t now)
{
    if (!l || l->max_failures == 0 || !addr) {
        return 0;
    }
    int locked_now = 0;
    pthread_mutex_lock(&l->mu);
    slot *s = slot_of(l, addr);
    age(l, s, now);
    if (strncmp(s->addr, addr, sizeof s->addr - 1) != 0 && !s->failures && !s->locked_until) {
        snprintf(s->addr, sizeof s->addr, "%s", addr);
    }
    if (!s->locked_until) {
        if (s->failures == 0) {
            s->since = now;
        }
        if (++s->failures >= l->max_failures) {
            s->locked_until = now + (int64_t)l->lock;
            s->failures = 0;
            locked_now = 1;
        }
    }
    pthread_mutex_unlock(&l->mu);
    return locked_now;
}
