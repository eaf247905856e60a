// SPDX-License-Identifier: MIT
/*
 * A bounded in-memory cache of encoded images (rendered frames, thumbnails, transcoded
 * frames), keyed by text made of (object hash, frame, parameters, media type), so that a
 * second viewer opening the same study is served without decoding. Least recently used
 * entries go first once the byte bound is reached; an entry larger than a quarter of the bound
 * is not kept. Objects are content-addressed, so a key never goes stale: a changed instance
 * is a different object.
 *
 * Thread-safe: one mutex; gets copy the bytes out, so nothing borrowed outlives the lock.
 */
#ifndef PACS_IMAGE_CACHE_H
#define PACS_IMAGE_CACHE_H

#include <stddef.h>
#include <stdint.h>

#include "pacs/base/err.h"

typedef struct pacs_image_cache pacs_image_cache;

/** A cache holding at most `max_bytes` of values (keys and bookkeeping not counted). NULL when
 *  out of memory. A bound of 0 makes a cache that keeps nothing. */
pacs_image_cache *pacs_image_cache_new(size_t max_bytes);
void pacs_image_cache_free(pacs_image_cache *c);

/** Copies the value of `key` to `*out` (the caller frees) and returns 1, or returns 0 when
 *  absent (or when out of memory). `media_type` (may be NULL) receives the stored type,
 *  NUL-terminated, up to 63 characters. */
int pacs_image_cache_get(pacs_image_cache *c, const char *key, uint8_t **out, size_t *len,
                         char media_type[64]);

/** Stores a copy of `data` under `key` (replacing an older value). Failing to store (out of
 *  memory, too large) is silent: a cache may always forget. */
void pacs_image_cache_put(pacs_image_cache *c, const char *key, const uint8_t *data, size_t len,
                          const char *media_type);

typedef struct pacs_image_cache_stats {
    uint64_t hits, misses, entries, bytes, evictions;
} pacs_image_cache_stats;

void pacs_image_cache_get_stats(pacs_image_cache *c, pacs_image_cache_stats *out);

/** Writes the key for (object, frame (0-based), parameter text, media type) into `buf`. */
void pacs_image_cache_key(char *buf, size_t cap, const char *object, uint32_t frame,
                          const char *params, const char *media_type);

#endif
