// SPDX-License-Identifier: MIT
/*
 * Planned response bodies (body.h). Segments sit in one growing array; stored objects are named
 * by key in a second array (consecutive ranges of one object share an entry) and opened by the
 * producer when it reaches them, one descriptor at a time. The temporary file is a segment
 * source of its own (SPOOL).
 */
#include "dicomweb/body.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SPOOL ((size_t)-1)

typedef struct seg {
    char *data; /* literal bytes (owned), or NULL for a range */
    size_t obj; /* a range: index into objects, or SPOOL */
    uint64_t off, len;
    unsigned swap; /* 0, or the word size to swap to little endian */
} seg;

struct pacs_body {
    pacs_archive *a;
    char (*objects)[PACS_OBJECT_KEY_LEN + 1];
    size_t n_objects, cap_objects;
    seg *v;
    size_t n, cap;
    uint64_t total;
    int failed;
    int spool_fd; /* the temporary file, or -1 */
    uint64_t spool_end;
    /* producing */
    size_t i;
    uint64_t done;
    int fd;
    size_t fd_obj;
};

pacs_body *pacs_body_new(pacs_http_req *r)
{
    pacs_body *b = calloc(1, sizeof *b);
    if (b) {
        b->a = pacs_http_archive(r);
        b->fd = -1;
        b->spool_fd = -1;
    }
    return b;
}

void pacs_body_free(pacs_body *b)
{
    if (!b) {
        return;
    }
    for (size_t i = 0; i < b->n; i++) {
        free(b->v[i].data);
    }
    if (b->fd >= 0) {
        close(b->fd);
    }
    if (b->spool_fd >= 0) {
        close(b->spool_fd);
    }
    free(b->objects);
    free(b->v);
    free(b);
}

static void body_free(void *ctx)
{
    pacs_body_free(ctx);
}

int pacs_body_failed(const pacs_body *b)
{
    return b->failed;
}

static seg *new_seg(pacs_body *b)
{
    if (b->failed) {
        return NULL;
    }
    if (b->n == b->cap) {
        size_t cap = b->cap ? b->cap * 2 : 16;
        seg *g = realloc(b->v, cap * sizeof *g);
        if (!g) {
            b->failed = 1;
            return NULL;
        }
        b->v = g;
        b->cap = cap;
    }
    seg *s = &b->v[b->n++];
    memset(s, 0, sizeof *s);
    return s;
}

void pacs_body_take(pacs_body *b, uint8_t *data, size_t len)
{
    seg *s = new_seg(b);
    if (!s) {
        free(data);
        return;
    }
    s->data = (char *)data;
    s->len = len;
    b->total += len;
}

void pacs_body_text(pacs_body *b, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *text = NULL;
    int n = vasprintf(&text, fmt, ap);
    va_end(ap);
    if (n < 0) {
        b->failed = 1;
        return;
    }
    pacs_body_take(b, (uint8_t *)text, (size_t)n);
}

static size_t object_index(pacs_body *b, const char *object)
{
    if (b->n_objects > 0 && strcmp(b->objects[b->n_objects - 1], object) == 0) {
        return b->n_objects - 1;
    }
    if (b->n_objects == b->cap_objects) {
        size_t cap = b->cap_objects ? b->cap_objects * 2 : 16;
        void *g = realloc(b->objects, cap * sizeof *b->objects);
        if (!g) {
            b->failed = 1;
            return 0;
        }
        b->objects = g;
        b->cap_objects = cap;
    }
    snprintf(b->objects[b->n_objects], sizeof b->objects[0], "%s", object);
    return b->n_objects++;
}

void pacs_body_object(pacs_body *b, const char *object, uint64_t off, uint64_t len, unsigned swap)
{
    size_t obj = object_index(b, object);
    seg *s = new_seg(b);
    if (!s) {
        return;
    }
    s->obj = obj;
    s->off = off;
    s->len = len;
    s->swap = swap;
    b->total += len;
}

pacs_err pacs_body_spool(pacs_body *b, int *fd, uint64_t *at, pacs_errinfo *ei)
{
    if (b->spool_fd < 0) {
        pacs_err err = pacs_archive_temp_fd(b->a, &b->spool_fd, ei);
        if (err != PACS_OK) {
            return err;
        }
    }
    off_t end = lseek(b->spool_fd, 0, SEEK_END);
    if (end < 0) {
        return pacs_errf(ei, PACS_EIO, "temporary file: %s", strerror(errno));
    }
    b->spool_end = (uint64_t)end;
    *fd = b->spool_fd;
    *at = b->spool_end;
    return PACS_OK;
}

void pacs_body_spooled(pacs_body *b, uint64_t off, uint64_t len)
{
    seg *s = new_seg(b);
    if (!s) {
        return;
    }
    s->obj = SPOOL;
    s->off = off;
    s->len = len;
    b->total += len;
}

pacs_err pacs_body_instance(pacs_body *b, const pacs_resolve_item *it,
                            const pacs_delivery_plan *plan, pacs_errinfo *ei)
{
    if (plan->kind == PACS_DELIVERY_AS_STORED) {
        pacs_body_object(b, it->object, 0, it->size, 0);
        return PACS_OK;
    }
    int fd = -1;
    uint64_t at = 0, len = 0;
    pacs_err err = pacs_body_spool(b, &fd, &at, ei);
    if (err == PACS_OK) {
        err = pacs_delivery_write(b->a, it, plan, fd, &len, ei);
    }
    if (err == PACS_OK) {
        pacs_body_spooled(b, at, len);
    }
    return err;
}

static pacs_err open_object(pacs_body *b, size_t obj, pacs_errinfo *ei)
{
    if (b->fd >= 0) {
        close(b->fd);
        b->fd = -1;
    }
    pacs_err err = pacs_archive_open_object(b->a, b->objects[obj], &b->fd, ei);
    if (err == PACS_OK) {
        b->fd_obj = obj;
    }
    return err;
}

pacs_err pacs_body_open_first(pacs_body *b, pacs_errinfo *ei)
{
    for (size_t i = 0; i < b->n; i++) {
        if (!b->v[i].data && b->v[i].obj != SPOOL) {
            return open_object(b, b->v[i].obj, ei);
        }
    }
    return PACS_OK;
}

static void swap_words(char *buf, size_t n, unsigned w)
{
    for (size_t i = 0; i + w <= n; i += w) {
        for (unsigned x = 0, y = w - 1; x < y; x++, y--) {
            char t = buf[i + x];
            buf[i + x] = buf[i + y];
            buf[i + y] = t;
        }
    }
}

/* Writes the body's next bytes straight into libmicrohttpd's send buffer. */
static pacs_err fill(void *ctx, char *buf, size_t max, size_t *n, int *eof, pacs_errinfo *ei)
{
    pacs_body *b = ctx;
    size_t len = 0;
    while (len < max && b->i < b->n) {
        seg *s = &b->v[b->i];
        if (s->data) {
            size_t k = s->len - b->done < max - len ? (size_t)(s->len - b->done) : max - len;
            memcpy(buf + len, s->data + b->done, k);
            len += k;
            b->done += k;
            if (b->done == s->len) {
                b->done = 0;
                b->i++;
            }
            continue;
        }
        int fd = b->spool_fd;
        if (s->obj != SPOOL) {
            if (b->fd < 0 || b->fd_obj != s->obj) {
                pacs_err err = open_object(b, s->obj, ei);
                if (err != PACS_OK) {
                    return err;
                }
            }
            fd = b->fd;
        }
        uint64_t want = s->len - b->done;
        if (want > max - len) {
            want = max - len;
        }
        if (s->swap > 1) {
            want -= want % s->swap;
            if (want == 0) {
                break; /* the next call has room for a whole word */
            }
        }
        ssize_t got = pread(fd, buf + len, (size_t)want, (off_t)(s->off + b->done));
        if (got < 0 && errno == EINTR) {
            continue;
        }
        if (got <= 0 || (s->swap > 1 && got % s->swap)) {
            return pacs_errf(ei, PACS_ECORRUPT, "object %s is shorter than indexed",
                             s->obj == SPOOL ? "(temporary copy)" : b->objects[s->obj]);
        }
        if (s->swap > 1) {
            swap_words(buf + len, (size_t)got, s->swap);
        }
        len += (size_t)got;
        b->done += (uint64_t)got;
        if (b->done == s->len) {
            b->done = 0;
            b->i++;
        }
    }
    if (b->i == b->n) {
        *eof = 1;
        if (b->fd >= 0) {
            close(b->fd);
            b->fd = -1;
        }
    }
    *n = len;
    return PACS_OK;
}

void pacs_body_send(pacs_http_req *r, pacs_body *b, const char *content_type)
{
    if (b->failed) {
        pacs_body_free(b);
        pacs_http_send_error(r, 500, "out of memory");
        return;
    }
    pacs_http_send_fill(r, 200, content_type, b->total, fill, b, body_free);
}

void pacs_body_send_object(pacs_http_req *r, const char *object, uint64_t size,
                           const char *content_type)
{
    pacs_errinfo ei;
    pacs_body *b = pacs_body_new(r);
    if (!b) {
        pacs_http_send_error(r, 500, "out of memory");
        return;
    }
    pacs_body_object(b, object, 0, size, 0);
    pacs_err err = pacs_body_open_first(b, &ei);
    if (err != PACS_OK) {
        pacs_body_free(b);
        pacs_http_send_error(r, err == PACS_ENOTFOUND ? 500 : pacs_http_status_of(err),
                             "cannot read the stored object: %s", ei.msg);
        return;
    }
    pacs_body_send(r, b, content_type);
}
