// SPDX-License-Identifier: MIT
/*
 * The counted set of worker threads (workers.h). Load: a lock per connection opened and closed.
 */
#include "pacs/base/workers.h"

#include <stdlib.h>
#include <time.h>

void pacs_workers_init(pacs_workers *w)
{
    *w = (pacs_workers){0};
    pthread_mutex_init(&w->mu, NULL);
    pthread_cond_init(&w->cv, NULL);
}

void pacs_workers_destroy(pacs_workers *w)
{
    pthread_mutex_destroy(&w->mu);
    pthread_cond_destroy(&w->cv);
    free(w->live);
    w->live = NULL;
}

int pacs_workers_enter(pacs_workers *w, unsigned max, unsigned *id)
{
    pthread_mutex_lock(&w->mu);
    *id = ++w->next_id;
    int room = w->active < max;
    if (room) {
        w->active++;
    }
    pthread_mutex_unlock(&w->mu);
    return room;
}

void pacs_workers_leave(pacs_workers *w)
{
    pthread_mutex_lock(&w->mu);
    w->active--;
    pthread_cond_broadcast(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

void pacs_workers_track(pacs_workers *w, void *item, int add)
{
    pthread_mutex_lock(&w->mu);
    if (add) {
        if (w->n_live == w->cap_live) {
            size_t cap = w->cap_live ? w->cap_live * 2 : 16;
            void **g = realloc(w->live, cap * sizeof *g);
            if (g) {
                w->live = g;
                w->cap_live = cap;
            }
        }
        if (w->n_live < w->cap_live) {
            w->live[w->n_live++] = item;
        }
    } else {
        for (size_t i = 0; i < w->n_live; i++) {
            if (w->live[i] == item) {
                w->live[i] = w->live[--w->n_live];
                break;
            }
        }
    }
    pthread_mutex_unlock(&w->mu);
}

void pacs_workers_cut(pacs_workers *w, void (*cut)(void *item))
{
    pthread_mutex_lock(&w->mu);
    for (size_t i = 0; i < w->n_live; i++) {
        cut(w->live[i]);
    }
    pthread_mutex_unlock(&w->mu);
}

int pacs_workers_wait_idle(pacs_workers *w, int seconds)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += seconds;
    pthread_mutex_lock(&w->mu);
    while (w->active > 0) {
        if (pthread_cond_timedwait(&w->cv, &w->mu, &until) != 0) {
            break;
        }
    }
    int idle = w->active == 0;
    pthread_mutex_unlock(&w->mu);
    return idle;
}

unsigned pacs_workers_active(pacs_workers *w)
{
    pthread_mutex_lock(&w->mu);
    unsigned n = w->active;
    pthread_mutex_unlock(&w->mu);
    return n;
}
