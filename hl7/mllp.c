// SPDX-License-Identifier: MIT
/* MLLP framing (mllp.h): a byte-at-a-time state machine over a capped buffer. One reader per
 * connection; no shared state. */
#include "hl7/mllp.h"

#include <stdlib.h>
#include <string.h>

enum { OUTSIDE, INSIDE, AFTER_FS };

void pacs_mllp_init(pacs_mllp_reader *r, size_t max)
{
    memset(r, 0, sizeof *r);
    r->max = max;
}

void pacs_mllp_free(pacs_mllp_reader *r)
{
    free(r->buf);
    r->buf = NULL;
    r->cap = r->len = 0;
}

void pacs_mllp_next(pacs_mllp_reader *r)
{
    r->len = r->total = 0;
    r->oversize = 0;
    r->state = OUTSIDE;
    if (r->buf) {
        r->buf[0] = '\0';
    }
}

int pacs_mllp_partial(const pacs_mllp_reader *r)
{
    return r->state != OUTSIDE;
}

/* Keeps one content byte (or only counts it past the cap and the head). */
static pacs_err keep(pacs_mllp_reader *r, char c)
{
    r->total++;
    if (r->total > r->max) {
        r->oversize = 1;
    }
    size_t limit = r->max < PACS_MLLP_HEAD ? PACS_MLLP_HEAD : r->max;
    if (r->oversize && r->len >= PACS_MLLP_HEAD) {
        return PACS_OK;
    }
    if (r->len + 1 >= r->cap) {
        size_t cap = r->cap ? r->cap * 2 : 4096;
        if (cap > limit + 1) {
            cap = limit + 1;
        }
        if (cap <= r->len + 1) {
            return PACS_OK; /* cannot happen: the limits above stop keeping first */
        }
        char *g = realloc(r->buf, cap);
        if (!g) {
            return PACS_ENOMEM;
        }
        r->buf = g;
        r->cap = cap;
    }
    r->buf[r->len++] = c;
    r->buf[r->len] = '\0';
    return PACS_OK;
}

static pacs_err finish(pacs_mllp_reader *r)
{
    if (!r->buf) {
        r->buf = malloc(1);
        if (!r->buf) {
            return PACS_ENOMEM;
        }
        r->cap = 1;
    }
    if (r->oversize && r->len > PACS_MLLP_HEAD) {
        r->len = PACS_MLLP_HEAD;
    }
    r->buf[r->len] = '\0';
    return PACS_OK;
}

pacs_err pacs_mllp_feed(pacs_mllp_reader *r, const void *data, size_t len, size_t *used)
{
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = p[i];
        switch (r->state) {
        case OUTSIDE:
            if (c == PACS_MLLP_VT) {
                r->state = INSIDE;
            } else if (c != '\r' && c != '\n') {
                r->junk++;
                *used = i + 1;
                return PACS_EBADDATA;
            }
            break;
        case INSIDE:
            if (c == PACS_MLLP_FS) {
                r->state = AFTER_FS;
            } else if (c == PACS_MLLP_VT) {
                r->restarts++;
                r->len = r->total = 0;
                r->oversize = 0;
            } else {
                pacs_err err = keep(r, (char)c);
                if (err != PACS_OK) {
                    *used = i + 1;
                    return err;
                }
            }
            break;
        default: /* AFTER_FS: the CR ends the frame; a sender that leaves it out is forgiven */
            *used = c == PACS_MLLP_CR ? i + 1 : i;
            return finish(r);
        }
    }
    *used = len;
    return PACS_EAGAIN;
}
