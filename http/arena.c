// SPDX-License-Identifier: MIT
/*
 * Per-request arena (arena.h): a chain of blocks, bump-allocated; a request typically fits in
 * the first 8 KiB block. Not thread-safe (one request, one thread).
 */
#include "http/arena.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define BLOCK_MIN 8192u
#define ALIGN 16u

typedef struct block {
    struct block *next;
    size_t used, cap;
    _Alignas(16) unsigned char data[];
} block;

struct pacs_arena {
    block *head;
    size_t total, max;
};

pacs_arena *pacs_arena_new(size_t max)
{
    pacs_arena *ar = calloc(1, sizeof *ar);
    if (ar) {
        ar->max = max;
    }
    return ar;
}

void pacs_arena_free(pacs_arena *ar)
{
    if (!ar) {
        return;
    }
    block *b = ar->head;
    while (b) {
        block *next = b->next;
        free(b);
        b = next;
    }
    free(ar);
}

void *pacs_arena_alloc(pacs_arena *ar, size_t n)
{
    size_t need = (n + ALIGN - 1) & ~(size_t)(ALIGN - 1);
    if (need < n) {
        return NULL;
    }
    block *b = ar->head;
    if (!b || b->cap - b->used < need) {
        size_t cap = need > BLOCK_MIN ? need : BLOCK_MIN;
        if (cap > ar->max || ar->total > ar->max - cap) {
            return NULL;
        }
        b = malloc(sizeof *b + cap);
        if (!b) {
            return NULL;
        }
        b->used = 0;
        b->cap = cap;
        b->next = ar->head;
        ar->head = b;
        ar->total += cap;
    }
    void *p = b->data + b->used;
    b->used += need;
    memset(p, 0, n);
    return p;
}

char *pacs_arena_strndup(pacs_arena *ar, const char *s, size_t len)
{
    if (len == SIZE_MAX) {
        return NULL;
    }
    char *p = pacs_arena_alloc(ar, len + 1);
    if (p) {
        memcpy(p, s, len);
        p[len] = '\0';
    }
    return p;
}

char *pacs_arena_printf(pacs_arena *ar, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        return NULL;
    }
    char *p = pacs_arena_alloc(ar, (size_t)n + 1);
    if (!p) {
        return NULL;
    }
    va_start(ap, fmt);
    vsnprintf(p, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return p;
}
