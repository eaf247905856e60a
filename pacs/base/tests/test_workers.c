// SPDX-License-Identifier: MIT
/*
 * Unit tests of the counted set of workers (workers.c): the limit, the sequence numbers, the
 * listed items a forced stop cuts, and the bounded wait for idleness, with real threads.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "pacs/base/workers.h"

static void test_limit_and_ids(void **state)
{
    (void)state;
    pacs_workers w;
    pacs_workers_init(&w);
    unsigned id = 0;
    assert_int_equal(pacs_workers_enter(&w, 2, &id), 1);
    assert_int_equal(id, 1);
    assert_int_equal(pacs_workers_enter(&w, 2, &id), 1);
    assert_int_equal(id, 2);
    assert_int_equal(pacs_workers_enter(&w, 2, &id), 0); /* full, numbered all the same */
    assert_int_equal(id, 3);
    assert_int_equal(pacs_workers_active(&w), 2);
    assert_int_equal(pacs_workers_wait_idle(&w, 0), 0);
    pacs_workers_leave(&w);
    pacs_workers_leave(&w);
    assert_int_equal(pacs_workers_active(&w), 0);
    assert_int_equal(pacs_workers_wait_idle(&w, 0), 1);
    pacs_workers_destroy(&w);
}

static int cuts[3];

static void cut(void *item)
{
    cuts[*(int *)item]++;
}

static void test_track_and_cut(void **state)
{
    (void)state;
    pacs_workers w;
    pacs_workers_init(&w);
    int items[3] = {0, 1, 2};
    for (int i = 0; i < 3; i++) {
        pacs_workers_track(&w, &items[i], 1);
    }
    pacs_workers_track(&w, &items[1], 0);
    pacs_workers_cut(&w, cut);
    assert_int_equal(cuts[0], 1);
    assert_int_equal(cuts[1], 0); /* unlisted: not cut */
    assert_int_equal(cuts[2], 1);
    pacs_workers_destroy(&w);
}

/* A worker that ends once the test lets it (a stop's cut, here). */
typedef struct gate {
    pacs_workers *w;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int open;
} gate;

static gate the_gate = {NULL, PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, 0};

static void *worker(void *arg)
{
    gate *g = arg;
    pthread_mutex_lock(&g->mu);
    while (!g->open) {
        pthread_cond_wait(&g->cv, &g->mu);
    }
    pthread_mutex_unlock(&g->mu);
    pacs_workers_leave(g->w);
    return NULL;
}

static void open_gate(void *item)
{
    gate *g = item;
    pthread_mutex_lock(&g->mu);
    g->open = 1;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

static void test_wait_idle_after_cut(void **state)
{
    (void)state;
    pacs_workers w;
    pacs_workers_init(&w);
    the_gate.w = &w;
    pthread_t t[4];
    for (int i = 0; i < 4; i++) {
        unsigned id;
        assert_int_equal(pacs_workers_enter(&w, 8, &id), 1);
        assert_int_equal(pthread_create(&t[i], NULL, worker, &the_gate), 0);
    }
    pacs_workers_track(&w, &the_gate, 1);
    assert_int_equal(pacs_workers_wait_idle(&w, 1), 0); /* nobody leaves by themselves */
    assert_int_equal(pacs_workers_active(&w), 4);
    pacs_workers_cut(&w, open_gate);
    assert_int_equal(pacs_workers_wait_idle(&w, 60), 1);
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
    }
    pacs_workers_destroy(&w);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_limit_and_ids),
        cmocka_unit_test(test_track_and_cut),
        cmocka_unit_test(test_wait_idle_after_cut),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
