// SPDX-License-Identifier: MIT
/*
 * The element walker (walk.h): a read-ahead window over the file, element headers, skipping
 * values and sequences, and the BulkDataURI path lookup. Runs once per stored instance at
 * ingest (through the pixel-data scan), so a header costs a bounds check and, mostly, no
 * system call; nothing here allocates but the walker itself.
 */
#include "pacs/dicom/walk.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pacs/dicom/part10.h"

struct pacs_walk {
    int fd;
    uint64_t size;
    uint64_t base; /* file offset of buf[0] */
    size_t have;   /* bytes of buf that hold the file */
    uint8_t buf[64 * 1024];
};

static uint32_t get16(const uint8_t *p, int be)
{
    return be ? (uint32_t)(p[0] << 8 | p[1]) : (uint32_t)(p[1] << 8 | p[0]);
}

static uint32_t get32(const uint8_t *p, int be)
{
    if (be) {
        return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
    }
    return (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

/* The VRs whose explicit header has a 32-bit length after two reserved bytes (PS3.5 7.1.2). */
static int is_long_vr(const uint8_t *vr)
{
    static const char *const long_vrs[] = {"OB", "OD", "OF", "OL", "OV", "OW", "SQ",
                                           "SV", "UC", "UN", "UR", "UT", "UV"};
    for (size_t i = 0; i < sizeof long_vrs / sizeof long_vrs[0]; i++) {
        if (vr[0] == (uint8_t)long_vrs[i][0] && vr[1] == (uint8_t)long_vrs[i][1]) {
            return 1;
        }
    }
    return 0;
}

pacs_walk_enc pacs_walk_enc_of(const char *ts_uid)
{
    pacs_walk_enc e = {1, 0};
    if (strcmp(ts_uid, PACS_TS_IMPLICIT_LE) == 0) {
        e.explicit_vr = 0;
    } else if (strcmp(ts_uid, PACS_TS_EXPLICIT_BE) == 0) {
        e.bigendian = 1;
    }
    return e;
}

int pacs_walk_parse_header(const uint8_t *b, size_t n, pacs_walk_enc enc, uint64_t pos,
                           pacs_walk_elem *e)
{
    if (n < 8) {
        return 0;
    }
    e->tag = get16(b, enc.bigendian) << 16 | get16(b + 2, enc.bigendian);
    e->vr[0] = e->vr[1] = e->vr[2] = '\0';
    if ((e->tag >> 16) == 0xFFFE || !enc.explicit_vr) {
        e->length = get32(b + 4, enc.bigendian);
        e->value = pos + 8;
        return 8;
    }
    if (b[4] < 'A' || b[4] > 'Z' || b[5] < 'A' || b[5] > 'Z') {
        return -1;
    }
    e->vr[0] = (char)b[4];
    e->vr[1] = (char)b[5];
    if (!is_long_vr(b + 4)) {
        e->length = get16(b + 6, enc.bigendian);
        e->value = pos + 8;
        return 8;
    }
    if (n < 12) {
        return 0;
    }
    e->length = get32(b + 8, enc.bigendian);
    e->value = pos + 12;
    return 12;
}

pacs_err pacs_walk_open(int fd, pacs_walk **out, pacs_errinfo *ei)
{
    struct stat st;
    if (fstat(fd, &st) != 0) {
        return pacs_errf(ei, PACS_EIO, "cannot size object: %s", strerror(errno));
    }
    pacs_walk *w = malloc(sizeof *w);
    if (!w) {
        return pacs_errf(ei, PACS_ENOMEM, "out of memory");
    }
    w->fd = fd;
    w->size = (uint64_t)st.st_size;
    w->base = 0;
    w->have = 0;
    *out = w;
    return PACS_OK;
}

void pacs_walk_close(pacs_walk *w)
{
    free(w);
}

uint64_t pacs_walk_size(const pacs_walk *w)
{
    return w->size;
}

/* The `n` bytes at `off`, in the window (valid until the next call); NULL when they run past
 * the end of the file (errno 0) or cannot be read (errno set). */
static const uint8_t *window(pacs_walk *w, uint64_t off, size_t n)
{
    errno = 0;
    if (off > w->size || n > w->size - off || n > sizeof w->buf) {
        return NULL;
    }
    if (off < w->base || off + n > w->base + w->have) {
        size_t want = sizeof w->buf;
        if (w->size - off < want) {
            want = (size_t)(w->size - off);
        }
        size_t got = 0;
        while (got < want) {
            ssize_t k = pread(w->fd, w->buf + got, want - got, (off_t)(off + got));
            if (k < 0 && errno == EINTR) {
                continue;
            }
            if (k <= 0) {
                if (k == 0) {
                    errno = EIO; /* the file shrank */
                }
                w->have = 0;
                return NULL;
            }
            got += (size_t)k;
        }
        w->base = off;
        w->have = got;
    }
    return w->buf + (off - w->base);
}

static pacs_err window_error(pacs_errinfo *ei, uint64_t off)
{
    if (errno != 0) {
        return pacs_errf(ei, PACS_EIO, "cannot read the object: %s", strerror(errno));
    }
    return pacs_errf(ei, PACS_EBADDATA, "data at offset %llu runs past the end of the object",
                     (unsigned long long)off);
}

pacs_err pacs_walk_read(pacs_walk *w, uint64_t off, void *dst, size_t n, pacs_errinfo *ei)
{
    const uint8_t *p = window(w, off, n);
    if (!p) {
        return window_error(ei, off);
    }
    memcpy(dst, p, n);
    return PACS_OK;
}

/* 0, or -1 when the header at `pos` cannot be read. */
static int header(pacs_walk *w, uint64_t pos, pacs_walk_enc enc, pacs_walk_elem *e)
{
    const uint8_t *p = window(w, pos, 8);
    if (!p) {
        return -1;
    }
    int n = pacs_walk_parse_header(p, 8, enc, pos, e);
    if (n == 0) {
        p = window(w, pos, 12);
        n = p ? pacs_walk_parse_header(p, 12, enc, pos, e) : -1;
    }
    return n > 0 ? 0 : -1;
}

pacs_err pacs_walk_header(pacs_walk *w, uint64_t pos, pacs_walk_enc enc, pacs_walk_elem *e,
                          pacs_errinfo *ei)
{
    if (header(w, pos, enc, e) != 0) {
        if (errno != 0) {
            return window_error(ei, pos);
        }
        return pacs_errf(ei, PACS_EBADDATA, "unreadable element at offset %llu",
                         (unsigned long long)pos);
    }
    return PACS_OK;
}

/* The encoding of the items of `e`: PS3.5 6.2.2, an undefined-length UN holds implicit VR
 * little endian. */
static pacs_walk_enc inner_enc(pacs_walk_enc enc, const pacs_walk_elem *e)
{
    if (enc.explicit_vr && e->vr[0] == 'U' && e->vr[1] == 'N') {
        return (pacs_walk_enc){0, 0};
    }
    return enc;
}

static int skip_elements(pacs_walk *w, uint64_t *pos, pacs_walk_enc enc, int depth);

/* Skips the items of an undefined-length value whose first item starts at *pos; on return *pos
 * is just past its Sequence Delimitation Item. `depth` counts the sequences being skipped. */
static int skip_sequence(pacs_walk *w, uint64_t *pos, pacs_walk_enc enc, int depth)
{
    if (depth > PACS_WALK_DEPTH_MAX) {
        return -1;
    }
    for (;;) {
        pacs_walk_elem h;
        if (header(w, *pos, enc, &h) != 0 || (h.tag >> 16) != 0xFFFE) {
            return -1;
        }
        if (h.tag == PACS_TAG_SEQ_END) {
            *pos = h.value;
            return 0;
        }
        if (h.tag != PACS_TAG_ITEM) {
            return -1;
        }
        if (h.length == PACS_WALK_UNDEFINED) {
            *pos = h.value;
            if (skip_elements(w, pos, enc, depth) != 0) {
                return -1;
            }
        } else {
            if (h.value + h.length > w->size) {
                return -1;
            }
            *pos = h.value + h.length;
        }
    }
}

/* Skips the elements of an undefined-length item up to and including its Item Delimitation. */
static int skip_elements(pacs_walk *w, uint64_t *pos, pacs_walk_enc enc, int depth)
{
    for (;;) {
        pacs_walk_elem h;
        if (header(w, *pos, enc, &h) != 0) {
            return -1;
        }
        if ((h.tag >> 16) == 0xFFFE) {
            if (h.tag == PACS_TAG_ITEM_END) {
                *pos = h.value;
                return 0;
            }
            return -1;
        }
        if (h.length == PACS_WALK_UNDEFINED) {
            *pos = h.value;
            if (skip_sequence(w, pos, inner_enc(enc, &h), depth + 1) != 0) {
                return -1;
            }
        } else {
            if (h.value + h.length > w->size) {
                return -1;
            }
            *pos = h.value + h.length;
        }
    }
}

pacs_err pacs_walk_skip(pacs_walk *w, const pacs_walk_elem *e, pacs_walk_enc enc, uint64_t *next,
                        pacs_errinfo *ei)
{
    if (e->length != PACS_WALK_UNDEFINED) {
        if (e->value + e->length > w->size) {
            return pacs_errf(ei, PACS_EBADDATA, "element (%04X,%04X) runs past the end",
                             e->tag >> 16, e->tag & 0xFFFF);
        }
        *next = e->value + e->length;
        return PACS_OK;
    }
    uint64_t pos = e->value;
    if (skip_sequence(w, &pos, inner_enc(enc, e), 1) != 0) {
        return pacs_errf(ei, PACS_EBADDATA, "malformed sequence (%04X,%04X)", e->tag >> 16,
                         e->tag & 0xFFFF);
    }
    *next = pos;
    return PACS_OK;
}

/* ---- BulkDataURI paths ---- */

/* The elements of one level: from `pos` up to `limit` or, in an undefined-length item
 * (`limit` UINT64_MAX), up to its Item Delimitation. */
typedef struct level {
    uint64_t pos, limit;
    pacs_walk_enc enc;
} level;

/* Finds `tag` among the elements of `lv`. Elements are in ascending order, so the walk stops
 * at the first greater tag. */
static pacs_err find_in(pacs_walk *w, const level *lv, uint32_t tag, pacs_walk_elem *found,
                        pacs_errinfo *ei)
{
    uint64_t pos = lv->pos, limit = lv->limit == UINT64_MAX ? w->size : lv->limit;
    while (pos < limit) {
        pacs_walk_elem e;
        pacs_err err = pacs_walk_header(w, pos, lv->enc, &e, ei);
        if (err != PACS_OK) {
            return err;
        }
        if (e.tag == PACS_TAG_ITEM_END && lv->limit == UINT64_MAX) {
            break;
        }
        if ((e.tag >> 16) == 0xFFFE) {
            return pacs_errf(ei, PACS_EBADDATA, "unexpected item at offset %llu",
                             (unsigned long long)pos);
        }
        if (e.tag == tag) {
            *found = e;
            return PACS_OK;
        }
        if (e.tag > tag) {
            break;
        }
        err = pacs_walk_skip(w, &e, lv->enc, &pos, ei);
        if (err != PACS_OK) {
            return err;
        }
    }
    return pacs_errf(ei, PACS_ENOTFOUND, "no bulk data at that path");
}

/* Finds item `index` of the sequence `seq` (read in `enc`) and makes `lv` its elements. */
static pacs_err find_item(pacs_walk *w, const pacs_walk_elem *seq, pacs_walk_enc enc,
                          unsigned long index, level *lv, pacs_errinfo *ei)
{
    pacs_walk_enc inner = inner_enc(enc, seq);
    uint64_t pos = seq->value;
    uint64_t end = seq->length == PACS_WALK_UNDEFINED ? UINT64_MAX : seq->value + seq->length;
    for (unsigned long i = 0; pos < end; i++) {
        pacs_walk_elem it;
        pacs_err err = pacs_walk_header(w, pos, inner, &it, ei);
        if (err != PACS_OK) {
            return err;
        }
        if (it.tag == PACS_TAG_SEQ_END) {
            break;
        }
        if (it.tag != PACS_TAG_ITEM) {
            return pacs_errf(ei, PACS_EBADDATA, "item expected in a sequence");
        }
        if (i == index) {
            lv->pos = it.value;
            lv->limit = it.length == PACS_WALK_UNDEFINED ? UINT64_MAX : it.value + it.length;
            lv->enc = inner;
            return PACS_OK;
        }
        if (it.length != PACS_WALK_UNDEFINED) {
            pos = it.value + it.length;
            continue;
        }
        pos = it.value;
        if (skip_elements(w, &pos, inner, 1) != 0) {
            return pacs_errf(ei, PACS_EBADDATA, "malformed item in a sequence");
        }
    }
    return pacs_errf(ei, PACS_ENOTFOUND, "no item %lu in that sequence", index);
}

static pacs_err find_path(pacs_walk *w, level lv, const char *path, pacs_walk_elem *e,
                          pacs_errinfo *ei)
{
    const char *p = path;
    for (;;) {
        if (strspn(p, "0123456789abcdefABCDEF") != 8 || (p[8] != '/' && p[8] != '\0')) {
            return pacs_errf(ei, PACS_EINVAL, "bad bulk data path '%.80s'", path);
        }
        pacs_err err = find_in(w, &lv, (uint32_t)strtoul(p, NULL, 16), e, ei);
        if (err != PACS_OK || p[8] == '\0') {
            return err;
        }
        p += 9;
        char *endp = NULL;
        unsigned long index = strtoul(p, &endp, 10);
        if (endp == p || *endp != '/' || !isdigit((unsigned char)*p)) {
            return pacs_errf(ei, PACS_EINVAL, "bad bulk data path '%.80s'", path);
        }
        p = endp + 1;
        err = find_item(w, e, lv.enc, index, &lv, ei);
        if (err != PACS_OK) {
            return err;
        }
    }
}

pacs_err pacs_walk_find_value(int fd, const char *path, pacs_walk_value *out, pacs_errinfo *ei)
{
    pacs_walk *w = NULL;
    pacs_err err = pacs_walk_open(fd, &w, ei);
    if (err != PACS_OK) {
        return err;
    }
    pacs_meta m;
    size_t ds_start = 0;
    size_t head = w->size < 4096 ? (size_t)w->size : 4096;
    const uint8_t *p = head ? window(w, 0, head) : NULL;
    if (!p) {
        err = head ? window_error(ei, 0) : pacs_errf(ei, PACS_EBADDATA, "the object is empty");
        goto fail;
    }
    err = pacs_meta_read(p, head, &m, &ds_start, ei);
    if (err == PACS_EAGAIN) {
        err = pacs_errf(ei, PACS_EBADDATA, "the meta header does not end");
    }
    if (err != PACS_OK) {
        goto fail;
    }
    if (strcmp(m.transfer_syntax_uid, PACS_TS_DEFLATED_LE) == 0) {
        err = pacs_errf(ei, PACS_EUNSUPPORTED, "the dataset is deflated");
        goto fail;
    }
    level top = {ds_start, w->size, pacs_walk_enc_of(m.transfer_syntax_uid)};
    pacs_walk_elem e;
    err = find_path(w, top, path, &e, ei);
    if (err != PACS_OK) {
        goto fail;
    }
    if (e.length == PACS_WALK_UNDEFINED) {
        err = pacs_errf(ei, PACS_EUNSUPPORTED,
                        "the value has no defined length "
                        "(encapsulated pixel data: ask for frames)");
        goto fail;
    }
    if (e.value + e.length > w->size) {
        err = pacs_errf(ei, PACS_EBADDATA, "the value runs past the end of the object");
        goto fail;
    }
    out->offset = e.value;
    out->length = e.length;
    memcpy(out->vr, e.vr[0] ? e.vr : "UN", 3);
    out->bigendian = top.enc.bigendian;
fail:
    pacs_walk_close(w);
    return err;
}
