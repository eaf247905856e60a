// SPDX-License-Identifier: MIT
/* Capped growable buffer (see buf.h). */
#include "pacs/base/buf.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void pacs_buf_init(pacs_buf *b, size_t max)
{
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    b->max = max;
}

void pacs_buf_free(pacs_buf *b)
{
    if (!b) {
        return;
    }
    free(b->data);
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
}

void pacs_buf_reset(pacs_buf *b)
{
    b->len = 0;
    if (b->data) {
        b->data[0] = '\0';
    }
}

pacs_err pacs_buf_reserve(pacs_buf *b, size_t extra)
{
    if (extra > b->max || b->len > b->max - extra) {
        return PACS_ETOOBIG;
    }
    size_t need = b->len + extra + 1;
    if (need <= b->cap) {
        return PACS_OK;
    }
    size_t cap = b->cap ? b->cap : 256;
    while (cap < need) {
        cap *= 2;
    }
    char *grown = realloc(b->data, cap);
    if (!grown) {
        return PACS_ENOMEM;
    }
    b->data = grown;
    b->cap = cap;
    return PACS_OK;
}

pacs_err pacs_buf_append(pacs_buf *b, const void *data, size_t len)
{
    pacs_err err = pacs_buf_reserve(b, len);
    if (err != PACS_OK) {
        return err;
    }
    if (len) {
        memcpy(b->data + b->len, data, len);
    }
    b->len += len;
    b->data[b->len] = '\0';
    return PACS_OK;
}

pacs_err pacs_buf_puts(pacs_buf *b, const char *s)
{
    return pacs_buf_append(b, s, strlen(s));
}

pacs_err pacs_buf_printf(pacs_buf *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        return PACS_EINVAL;
    }
    pacs_err err = pacs_buf_reserve(b, (size_t)n);
    if (err != PACS_OK) {
        return err;
    }
    va_start(ap, fmt);
    vsnprintf(b->data + b->len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    b->len += (size_t)n;
    return PACS_OK;
}

char *pacs_buf_take(pacs_buf *b, size_t *len)
{
    if (pacs_buf_reserve(b, 0) != PACS_OK) {
        return NULL;
    }
    char *d = b->data;
    if (len) {
        *len = b->len;
    }
    b->data = NULL;
    b->len = 0;
    b->cap = 0;
    return d;
}
