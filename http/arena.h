// SPDX-License-Identifier: MIT
/*
 * A per-request memory arena: many small allocations (path segments, decoded parameters,
 * header values) released together when libmicrohttpd reports the request complete. Blocks are
 * chained; the total is capped so that no request can make the server allocate without bound.
 * Not thread-safe: an arena belongs to one request, which libmicrohttpd serves on one thread.
 */
#ifndef PACS_HTTP_ARENA_H
#define PACS_HTTP_ARENA_H

#include <stdarg.h>
#include <stddef.h>

typedef struct pacs_arena pacs_arena;

/** A new arena that hands out at most `max` bytes in all; NULL when out of memory. */
pacs_arena *pacs_arena_new(size_t max);

/** Releases every allocation and the arena; NULL is accepted. */
void pacs_arena_free(pacs_arena *ar);

/** `n` bytes aligned for any type, zeroed; NULL past the cap or when out of memory. */
void *pacs_arena_alloc(pacs_arena *ar, size_t n);

/** A NUL-terminated copy of `len` bytes of `s`; NULL on failure. */
char *pacs_arena_strndup(pacs_arena *ar, const char *s, size_t len);

/** A formatted string; NULL on failure. */
char *pacs_arena_printf(pacs_arena *ar, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
