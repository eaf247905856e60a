// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for the multipart parser (multipart.h). Input: an optional first line
 * "b=BOUNDARY\n" (up to one character past PACS_MULTIPART_BOUNDARY_MAX; else the boundary is
 * "xyz"), then the body. The body is parsed twice, whole
 * and in pieces whose size comes from the input, and both parses must agree on every byte
 * handed to the callbacks and on the outcome: chunking must never change what is parsed.
 * Also checks that callbacks pair up (begin, data*, end). Single-threaded.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/multipart.h"

typedef struct trace {
    unsigned char *buf;
    size_t len, cap;
    int open;
    int bad;
} trace;

static void put(trace *t, const void *p, size_t n)
{
    if (t->len + n > t->cap) {
        size_t cap = (t->len + n) * 2 + 64;
        unsigned char *g = realloc(t->buf, cap);
        if (!g) {
            abort();
        }
        t->buf = g;
        t->cap = cap;
    }
    memcpy(t->buf + t->len, p, n);
    t->len += n;
}

static int on_begin(void *ctx, const pacs_multipart_part *part)
{
    trace *t = ctx;
    t->bad |= t->open;
    t->open = 1;
    put(t, "B", 1);
    put(t, part->content_type, strlen(part->content_type) + 1);
    put(t, part->content_location, strlen(part->content_location) + 1);
    return 0;
}

static int on_data(void *ctx, const char *data, size_t len)
{
    trace *t = ctx;
    t->bad |= !t->open || len == 0;
    put(t, data, len);
    return 0;
}

static int on_end(void *ctx)
{
    trace *t = ctx;
    t->bad |= !t->open;
    t->open = 0;
    put(t, "E", 1);
    return 0;
}

/* Parses `body` in pieces of `step` bytes (0: whole); returns the outcome code. */
static int parse(const char *boundary, const uint8_t *body, size_t len, size_t step, trace *t)
{
    static const pacs_multipart_cbs cbs = {on_begin, on_data, on_end};
    pacs_multipart *mp = NULL;
    if (pacs_multipart_new(boundary, &cbs, t, &mp, NULL) != PACS_OK) {
        return -1;
    }
    pacs_err err = PACS_OK;
    size_t off = 0;
    while (off < len && err == PACS_OK) {
        size_t n = step && step < len - off ? step : len - off;
        err = pacs_multipart_feed(mp, (const char *)body + off, n, NULL);
        off += n;
    }
    if (err == PACS_OK) {
        err = pacs_multipart_finish(mp, NULL);
    }
    if (pacs_multipart_in_part(mp) != t->open) {
        abort();
    }
    pacs_multipart_free(mp);
    return (int)err;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* Room for one character past the cap, so that refusing it is exercised too. */
    char boundary[PACS_MULTIPART_BOUNDARY_MAX + 2] = "xyz";
    const uint8_t *body = data;
    size_t len = size;
    if (size > 2 && data[0] == 'b' && data[1] == '=') {
        const size_t scan = sizeof boundary + 2; /* "b=", the boundary, '\n' */
        const uint8_t *nl = memchr(data, '\n', size < scan ? size : scan);
        if (nl) {
            size_t bl = (size_t)(nl - data) - 2;
            memcpy(boundary, data + 2, bl);
            boundary[bl] = '\0';
            body = nl + 1;
            len = size - (size_t)(nl + 1 - data);
        }
    }
    size_t step = size ? (size_t)(data[size - 1] % 23) + 1 : 1;
    trace whole = {0}, pieces = {0};
    int a = parse(boundary, body, len, 0, &whole);
    int b = parse(boundary, body, len, step, &pieces);
    if (a != b || whole.len != pieces.len ||
        (whole.len && memcmp(whole.buf, pieces.buf, whole.len)) || whole.bad || pieces.bad) {
        abort();
    }
    free(whole.buf);
    free(pieces.buf);
    return 0;
}
