// SPDX-License-Identifier: MIT
/*
 * A growable byte buffer with a hard cap, for building SQL, JSON and HTTP bodies. Appends past
 * the cap fail with PACS_ETOOBIG and leave the buffer as it was. The data is always
 * NUL-terminated (not counted in len). Not thread-safe: one owner.
 */
#ifndef PACS_BASE_BUF_H
#define PACS_BASE_BUF_H

#include <stddef.h>
#include <string.h>

#include "pacs/base/err.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct pacs_buf {
    char *data;
    size_t len;
    size_t cap;
    size_t max; /* the cap: len never exceeds it */
} pacs_buf;

/** An empty buffer that may grow to `max` bytes. No allocation happens until the first append. */
void pacs_buf_init(pacs_buf *b, size_t max);

/** Frees the data and empties the buffer; it may be reused. NULL is accepted. */
void pacs_buf_free(pacs_buf *b);

/** Empties the buffer, keeping its memory. */
void pacs_buf_reset(pacs_buf *b);

/** Makes room for `extra` more bytes (and the NUL) without changing the data, so that a writer
 *  may fill data + len itself (then it sets len and the NUL). PACS_ETOOBIG past the cap. */
pacs_err pacs_buf_reserve(pacs_buf *b, size_t extra);

pacs_err pacs_buf_append(pacs_buf *b, const void *data, size_t len);

/** pacs_buf_append for writers' inner loops: no call when there is room (and a short constant
 *  `len` is copied inline). */
static inline pacs_err pacs_buf_put(pacs_buf *b, const void *data, size_t len)
{
    if (b->cap - b->len > len && len <= b->max - b->len) {
        memcpy(b->data + b->len, data, len);
        b->len += len;
        b->data[b->len] = '\0';
        return PACS_OK;
    }
    return pacs_buf_append(b, data, len);
}
pacs_err pacs_buf_puts(pacs_buf *b, const char *s);
pacs_err pacs_buf_printf(pacs_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/** Hands the data to the caller (who frees it) and empties the buffer. */
char *pacs_buf_take(pacs_buf *b, size_t *len);

#ifdef __cplusplus
}
#endif

#endif
