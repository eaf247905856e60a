// SPDX-License-Identifier: MIT
/*
 * The image cache (cache.h): a chained hash table (FNV-1a over the key) plus a doubly linked
 * list in recency order. Every operation is O(1) expected under one mutex; values are copied
 * in and out, which for images of a few KB to a few hundred KB costs far less than the decode
 * it saves.
 */
#include "pacs/image/cache.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pacs/base/metrics.h"

typedef struct entry {
    struct entry *next_in_bucket;
    struct entry *prev, *next; /* recency: head is the most recent */
    uint64_t hash;
    char *key;
    uint8_t *data;
    size_t len;
    char media_type[64];
} entry;

struct pacs_image_cache {
    pthread_mutex_t lock;
    entry **buckets;
    size_t n_buckets;
    entry *head, *tail;
    size_t max_bytes, bytes;
    pacs_image_cache_stats stats;
};

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 1469598103934665603ull;
    for (; *s; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ull;
    }
    return h;
}

pacs_image_cache *pacs_image_cache_new(size_t max_bytes)
{
    pacs_image_cache *c = calloc(1, sizeof *c);
    if (!c) {
        return NULL;
    }
    c->n_buckets = 4096;
    c->buckets = calloc(c->n_buckets, sizeof *c->buckets);
    if (!c->buckets || pthread_mutex_init(&c->lock, NULL) != 0) {
        free(c->buckets);
        free(c);
        return NULL;
    }
    c->max_bytes = max_bytes;
    return c;
}

static void entry_free(entry *e)
{
    free(e->key);
    free(e->data);
    free(e);
}

void pacs_image_cache_free(pacs_image_cache *c)
{
    if (!c) {
        return;
    }
    for (entry *e = c->head; e;) {
        entry *next = e->next;
        entry_free(e);
        e = next;
    }
    free(c->buckets);
    pthread_mutex_destroy(&c->lock);
    free(c);
}

static void unlink_recency(pacs_image_cache *c, entry *e)
{
    if (e->prev) {
        e->prev->next = e->next;
    } else {
        c->head = e->next;
    }
    if (e->next) {
        e->next->prev = e->prev;
    } else {
        c->tail = e->prev;
    }
    e->prev = e->next = NULL;
}

static void push_front(pacs_image_cache *c, entry *e)
{
    e->prev = NULL;
    e->next = c->head;
    if (c->head) {
        c->head->prev = e;
    }
    c->head = e;
    if (!c->tail) {
        c->tail = e;
    }
}

static entry **slot_of(pacs_image_cache *c, const char *key, uint64_t h)
{
    entry **p = &c->buckets[h % c->n_buckets];
    while (*p && ((*p)->hash != h || strcmp((*p)->key, key) != 0)) {
        p = &(*p)->next_in_bucket;
    }
    return p;
}

/* Unlinks and frees the entry at `slot`. */
static void remove_at(pacs_image_cache *c, entry **slot)
{
    entry *e = *slot;
    *slot = e->next_in_bucket;
    unlink_recency(c, e);
    c->bytes -= e->len;
    c->stats.entries--;
    entry_free(e);
}

int pacs_image_cache_get(pacs_image_cache *c, const char *key, uint8_t **out, size_t *len,
                         char media_type[64])
{
    uint64_t h = fnv1a(key);
    int found = 0;
    pthread_mutex_lock(&c->lock);
    entry *e = *slot_of(c, key, h);
    if (e) {
        uint8_t *copy = malloc(e->len ? e->len : 1);
        if (copy) {
            memcpy(copy, e->data, e->len);
            *out = copy;
            *len = e->len;
            if (media_type) {
                memcpy(media_type, e->media_type, sizeof e->media_type);
            }
            unlink_recency(c, e);
            push_front(c, e);
            found = 1;
        }
    }
    if (found) {
        c->stats.hits++;
    } else {
        c->stats.misses++;
    }
    pthread_mutex_unlock(&c->lock);
    pacs_metrics_add(found ? PACS_M_IMAGE_CACHE_HIT : PACS_M_IMAGE_CACHE_MISS, 1);
    return found;
}

void pacs_image_cache_put(pacs_image_cache *c, const char *key, const uint8_t *data, size_t len,
                          const char *media_type)
{
    if (len > c->max_bytes / 4) {
        return;
    }
    entry *e = calloc(1, sizeof *e);
    if (!e) {
        return;
    }
    e->key = strdup(key);
    e->data = malloc(len ? len : 1);
    if (!e->key || !e->data) {
        entry_free(e);
        return;
    }
    memcpy(e->data, data, len);
    e->len = len;
    e->hash = fnv1a(key);
    snprintf(e->media_type, sizeof e->media_type, "%s", media_type ? media_type : "");
    pthread_mutex_lock(&c->lock);
    entry **slot = slot_of(c, key, e->hash);
    if (*slot) {
        remove_at(c, slot);
        slot = slot_of(c, key, e->hash);
    }
    while (c->tail && c->bytes + len > c->max_bytes) {
        entry *old = c->tail;
        remove_at(c, slot_of(c, old->key, old->hash));
        c->stats.evictions++;
        slot = slot_of(c, key, e->hash);
    }
    *slot = e;
    push_front(c, e);
    c->bytes += len;
    c->stats.entries++;
    pthread_mutex_unlock(&c->lock);
}

void pacs_image_cache_get_stats(pacs_image_cache *c, pacs_image_cache_stats *out)
{
    pthread_mutex_lock(&c->lock);
    *out = c->stats;
    out->bytes = c->bytes;
    pthread_mutex_unlock(&c->lock);
}

void pacs_image_cache_key(char *buf, size_t cap, const char *object, uint32_t frame,
                          const char *params, const char *media_type)
{
    snprintf(buf, cap, "%s/%u/%s/%s", object ? object : "", frame, params ? params : "",
             media_type ? media_type : "");
}
