// SPDX-License-Identifier: MIT
/*
 * A counted set of worker threads, for the listeners that give each connection a thread of its
 * own (dimse/server.c, hl7/server.c): a worker is counted in under a limit and out when it
 * ends, the items it serves (a socket, an association) are listed so that a forced stop can cut
 * them off, and a stop waits, bounded, until none is left. What the two servers shared as
 * copies of the same fifteen lines.
 *
 * Thread-safe: every function but init and destroy may be called from any thread.
 */
#ifndef PACS_BASE_WORKERS_H
#define PACS_BASE_WORKERS_H

#include <pthread.h>
#include <stddef.h>

typedef struct pacs_workers {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    unsigned active;  /* workers counted in */
    unsigned next_id; /* the last sequence number given */
    void **live;      /* the items being served, for pacs_workers_cut */
    size_t n_live, cap_live;
} pacs_workers;

void pacs_workers_init(pacs_workers *w);

/** Frees what init made; no worker may be counted in any more. */
void pacs_workers_destroy(pacs_workers *w);

/** Gives the next sequence number (1, 2, ...) to `*id` and counts a worker in when fewer than
 *  `max` are: 1 then, 0 when the set is full (the number is given all the same). */
int pacs_workers_enter(pacs_workers *w, unsigned max, unsigned *id);

/** Counts a worker out (it must have entered) and wakes a waiting stop. */
void pacs_workers_leave(pacs_workers *w);

/** Lists (`add`) or unlists an item a worker serves. Out of memory, an item goes unlisted: a
 *  forced stop then waits for it to end by itself. */
void pacs_workers_track(pacs_workers *w, void *item, int add);

/** Calls `cut` on every listed item, under the set's lock (`cut` must not call back in). */
void pacs_workers_cut(pacs_workers *w, void (*cut)(void *item));

/** Waits until no worker is counted in, at most `seconds`: 1 when none is, else 0. */
int pacs_workers_wait_idle(pacs_workers *w, int seconds);

/** How many are counted in now. */
unsigned pacs_workers_active(pacs_workers *w);

#endif
