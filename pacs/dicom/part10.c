// SPDX-License-Identifier: MIT
/*
 * Part 10 framing: our deterministic meta header, reading a client's meta header, and the pixel
 * layout: the scan that finds Pixel Data and its fragments with the element walker (walk.h),
 * frame mapping, and the layout's blob for the index. Nothing here allocates more than the
 * fragment and offset tables (and the walker's window, for one scan).
 */
#include "pacs/dicom/part10.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pacs/dicom/walk.h"

#define MAX_META_BYTES (64u * 1024u)
#define MAX_FRAGMENTS (1u << 24)
#define MAX_OFFSETS (1u << 24)

int pacs_uid_valid(const char *uid)
{
    size_t n = strlen(uid);
    if (n == 0 || n > PACS_UID_MAX) {
        return 0;
    }
    size_t comp_len = 0;
    char comp_first = 0;
    for (size_t i = 0; i <= n; i++) {
        char c = uid[i];
        if (c == '.' || c == '\0') {
            if (comp_len == 0 || (comp_len > 1 && comp_first == '0')) {
                return 0;
            }
            comp_len = 0;
        } else if (c >= '0' && c <= '9') {
            if (comp_len == 0) {
                comp_first = c;
            }
            comp_len++;
        } else {
            return 0;
        }
    }
    return 1;
}

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) {
        p[i] = (uint8_t)(v >> (8 * i));
    }
}

static uint16_t get16(const uint8_t *p, int be)
{
    return be ? (uint16_t)((p[0] << 8) | p[1]) : (uint16_t)(p[0] | (p[1] << 8));
}

static uint32_t get32(const uint8_t *p, int be)
{
    if (be) {
        return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
    }
    return ((uint32_t)p[3] << 24) | ((uint32_t)p[2] << 16) | ((uint32_t)p[1] << 8) | p[0];
}

static uint64_t get64(const uint8_t *p, int be)
{
    uint64_t hi = get32(p + (be ? 0 : 4), be), lo = get32(p + (be ? 4 : 0), be);
    return (hi << 32) | lo;
}

/* Appends one short-form explicit VR LE element, padding the value to even length. */
static size_t put_short_element(uint8_t *p, uint16_t elem, const char *vr, const char *value,
                                char pad)
{
    size_t n = strlen(value), padded = n + (n & 1);
    put16(p, 0x0002);
    put16(p + 2, elem);
    p[4] = (uint8_t)vr[0];
    p[5] = (uint8_t)vr[1];
    put16(p + 6, (uint16_t)padded);
    memcpy(p + 8, value, n);
    if (padded != n) {
        p[8 + n] = (uint8_t)pad;
    }
    return 8 + padded;
}

pacs_err pacs_meta_build(const pacs_meta *m, uint8_t *buf, size_t cap, size_t *len,
                         pacs_errinfo *ei)
{
    if (!pacs_uid_valid(m->sop_class_uid) || !pacs_uid_valid(m->sop_instance_uid) ||
        !pacs_uid_valid(m->transfer_syntax_uid)) {
        return pacs_errf(ei, PACS_EINVAL,
                         "invalid UID in meta header (class '%s', instance "
                         "'%s', transfer syntax '%s')",
                         m->sop_class_uid, m->sop_instance_uid, m->transfer_syntax_uid);
    }
    if (cap < 512) {
        return pacs_errf(ei, PACS_ETOOBIG, "meta header buffer too small");
    }
    memset(buf, 0, 128);
    memcpy(buf + 128, "DICM", 4);
    uint8_t *p = buf + 132;
    uint8_t *group_length_value = p + 8;
    put16(p, 0x0002);
    put16(p + 2, 0x0000);
    memcpy(p + 4, "UL", 2);
    put16(p + 6, 4);
    p += 12;
    uint8_t *start = p;
    put16(p, 0x0002);
    put16(p + 2, 0x0001);
    memcpy(p + 4, "OB\0\0", 4);
    put32(p + 8, 2);
    p[12] = 0x00;
    p[13] = 0x01;
    p += 14;
    p += put_short_element(p, 0x0002, "UI", m->sop_class_uid, '\0');
    p += put_short_element(p, 0x0003, "UI", m->sop_instance_uid, '\0');
    p += put_short_element(p, 0x0010, "UI", m->transfer_syntax_uid, '\0');
    p += put_short_element(p, 0x0012, "UI", PACS_IMPLEMENTATION_CLASS_UID, '\0');
    p += put_short_element(p, 0x0013, "SH", PACS_IMPLEMENTATION_VERSION, ' ');
    put32(group_length_value, (uint32_t)(p - start));
    *len = (size_t)(p - buf);
    return PACS_OK;
}

/* Copies a UID value without its padding into `dst` (PACS_UID_MAX + 1 bytes); -1 when the
 * unpadded value is longer than a UID may be. */
static int copy_uid(char *dst, const uint8_t *src, uint32_t n)
{
    while (n > 0 && (src[n - 1] == '\0' || src[n - 1] == ' ')) {
        n--;
    }
    if (n > PACS_UID_MAX) {
        return -1;
    }
    memcpy(dst, src, n);
    dst[n] = '\0';
    return 0;
}

pacs_err pacs_meta_read(const uint8_t *buf, size_t len, pacs_meta *m, size_t *dataset_start,
                        pacs_errinfo *ei)
{
    if (len < 132) {
        return PACS_EAGAIN;
    }
    if (memcmp(buf + 128, "DICM", 4) != 0) {
        return pacs_errf(ei, PACS_EBADDATA, "not a DICOM Part 10 file (no DICM prefix)");
    }
    pacs_meta got;
    memset(&got, 0, sizeof got);
    size_t pos = 132;
    for (;;) {
        if (pos > MAX_META_BYTES) {
            return pacs_errf(ei, PACS_EBADDATA, "meta header longer than %u bytes", MAX_META_BYTES);
        }
        if (len < pos + 8) {
            return PACS_EAGAIN;
        }
        uint16_t group = get16(buf + pos, 0), elem = get16(buf + pos + 2, 0);
        if (group != 0x0002) {
            break;
        }
        pacs_walk_elem h;
        int header = pacs_walk_parse_header(buf + pos, len - pos, (pacs_walk_enc){1, 0}, pos, &h);
        if (header < 0) {
            /* implicit VR meta: not conformant, but seen */
            header = pacs_walk_parse_header(buf + pos, len - pos, (pacs_walk_enc){0, 0}, pos, &h);
        }
        if (header == 0) {
            return PACS_EAGAIN;
        }
        uint32_t vlen = h.length;
        if (vlen == PACS_WALK_UNDEFINED || vlen > MAX_META_BYTES) {
            return pacs_errf(ei, PACS_EBADDATA, "meta element (0002,%04X) has a bad length", elem);
        }
        if (len < pos + header + vlen) {
            return PACS_EAGAIN;
        }
        const uint8_t *v = buf + pos + header;
        char *dst = NULL;
        if (elem == 0x0002) {
            dst = got.sop_class_uid;
        } else if (elem == 0x0003) {
            dst = got.sop_instance_uid;
        } else if (elem == 0x0010) {
            dst = got.transfer_syntax_uid;
        }
        if (dst) {
            if (vlen > PACS_UID_MAX + 2 || copy_uid(dst, v, vlen) != 0) {
                return pacs_errf(ei, PACS_EBADDATA, "meta element (0002,%04X) too long", elem);
            }
        }
        pos += header + vlen;
    }
    if (got.transfer_syntax_uid[0] == '\0') {
        return pacs_errf(ei, PACS_EBADDATA, "meta header has no Transfer Syntax UID");
    }
    if (got.sop_class_uid[0] == '\0' || got.sop_instance_uid[0] == '\0') {
        return pacs_errf(ei, PACS_EBADDATA, "meta header lacks the SOP Class or Instance UID");
    }
    *m = got;
    *dataset_start = pos;
    return PACS_OK;
}

static int read_offsets(pacs_walk *w, const pacs_walk_elem *h, int be, size_t width, uint64_t **out,
                        uint32_t *n)
{
    if (h->length == 0 || h->length % width != 0 || h->length / width > MAX_OFFSETS) {
        return h->length == 0 ? 0 : -1;
    }
    uint32_t count = (uint32_t)(h->length / width);
    uint64_t *v = malloc(count * sizeof *v);
    if (!v) {
        return -1;
    }
    for (uint32_t i = 0; i < count; i++) {
        uint8_t b[8];
        if (pacs_walk_read(w, h->value + (uint64_t)i * width, b, width, NULL) != PACS_OK) {
            free(v);
            return -1;
        }
        v[i] = width == 8 ? get64(b, be) : get32(b, be);
    }
    free(*out);
    *out = v;
    *n = count;
    return 0;
}

static int scan_fragments(pacs_walk *w, uint64_t pos, int be, pacs_pixel_layout *pl)
{
    size_t cap = 0;
    int first = 1;
    for (;;) {
        pacs_walk_elem h;
        if (pacs_walk_header(w, pos, (pacs_walk_enc){0, be}, &h, NULL) != PACS_OK ||
            (h.tag >> 16) != 0xFFFE) {
            return -1;
        }
        if (h.tag == PACS_TAG_SEQ_END) {
            return 0;
        }
        if (h.tag != PACS_TAG_ITEM || h.length == PACS_WALK_UNDEFINED ||
            h.value + h.length > pacs_walk_size(w)) {
            return -1;
        }
        if (first) {
            /* The Basic Offset Table; an Extended Offset Table, read earlier, wins. */
            if (pl->n_offsets == 0 && read_offsets(w, &h, be, 4, &pl->offsets, &pl->n_offsets)) {
                return -1;
            }
            first = 0;
        } else {
            if (pl->n_fragments == MAX_FRAGMENTS) {
                return -1;
            }
            if (pl->n_fragments == cap) {
                cap = cap ? cap * 2 : 16;
                pacs_fragment *grown = realloc(pl->fragments, cap * sizeof *grown);
                if (!grown) {
                    return -1;
                }
                pl->fragments = grown;
            }
            pacs_fragment *f = &pl->fragments[pl->n_fragments++];
            f->offset = h.value;
            f->length = h.length;
            memset(f->head, 0, sizeof f->head);
            if (h.length >= 4 && pacs_walk_read(w, h.value, f->head, 4, NULL) != PACS_OK) {
                return -1;
            }
        }
        pos = h.value + h.length;
    }
}

pacs_err pacs_pixel_layout_scan(int fd, uint64_t dataset_start, const char *ts_uid,
                                pacs_pixel_layout *out, pacs_errinfo *ei)
{
    memset(out, 0, sizeof *out);
    if (strcmp(ts_uid, PACS_TS_DEFLATED_LE) == 0) {
        out->kind = PACS_PIXELS_OPAQUE;
        return PACS_OK;
    }
    pacs_walk_enc e = pacs_walk_enc_of(ts_uid);
    out->bigendian = e.bigendian;
    pacs_walk *w = NULL;
    pacs_err err = pacs_walk_open(fd, &w, ei);
    if (err != PACS_OK) {
        return err;
    }
    uint64_t pos = dataset_start, size = pacs_walk_size(w);
    uint64_t *eot_lengths = NULL;
    uint32_t n_eot_lengths = 0;
    while (pos < size) {
        pacs_walk_elem h;
        if (pacs_walk_header(w, pos, e, &h, NULL) != PACS_OK || (h.tag >> 16) == 0xFFFE) {
            err = pacs_errf(ei, PACS_EBADDATA, "unreadable element at offset %llu",
                            (unsigned long long)pos);
            goto fail;
        }
        if (h.tag == 0x7FE00001u && h.length != PACS_WALK_UNDEFINED) {
            if (read_offsets(w, &h, e.bigendian, 8, &out->offsets, &out->n_offsets) != 0) {
                err = pacs_errf(ei, PACS_EBADDATA, "bad Extended Offset Table");
                goto fail;
            }
        } else if (h.tag == 0x7FE00002u && h.length != PACS_WALK_UNDEFINED) {
            if (read_offsets(w, &h, e.bigendian, 8, &eot_lengths, &n_eot_lengths) != 0) {
                err = pacs_errf(ei, PACS_EBADDATA, "bad Extended Offset Table Lengths");
                goto fail;
            }
        } else if (h.tag == 0x7FE00010u) {
            if (h.length == PACS_WALK_UNDEFINED) {
                out->kind = PACS_PIXELS_ENCAPSULATED;
                if (scan_fragments(w, h.value, e.bigendian, out) != 0) {
                    err = pacs_errf(ei, PACS_EBADDATA, "malformed encapsulated pixel data");
                    goto fail;
                }
            } else {
                if (h.value + h.length > size) {
                    err = pacs_errf(ei, PACS_EBADDATA, "pixel data runs past the end");
                    goto fail;
                }
                out->kind = PACS_PIXELS_NATIVE;
                out->offset = h.value;
                out->length = h.length;
            }
            break; /* nothing after Pixel Data matters here */
        }
        err = pacs_walk_skip(w, &h, e, &pos, ei);
        if (err != PACS_OK) {
            goto fail;
        }
    }
    free(eot_lengths);
    pacs_walk_close(w);
    return PACS_OK;
fail:
    free(eot_lengths);
    pacs_walk_close(w);
    pacs_pixel_layout_clear(out);
    return err;
}

static int is_frame_start(const uint8_t *h)
{
    static const uint8_t soi[] = {0xFF, 0xD8, 0xFF}, soc[] = {0xFF, 0x4F, 0xFF, 0x51},
                         jp2[] = {0x00, 0x00, 0x00, 0x0C};
    return memcmp(h, soi, 3) == 0 || memcmp(h, soc, 4) == 0 || memcmp(h, jp2, 4) == 0;
}

/* Maps table offsets (relative to the first fragment's item) to fragment indexes. */
static int map_by_offsets(pacs_pixel_layout *pl, uint32_t *first)
{
    if (pl->n_offsets != pl->n_frames || pl->n_fragments == 0) {
        return -1;
    }
    uint64_t base = pl->fragments[0].offset;
    uint32_t j = 0;
    for (uint32_t i = 0; i < pl->n_frames; i++) {
        while (j < pl->n_fragments && pl->fragments[j].offset - base < pl->offsets[i]) {
            j++;
        }
        if (j == pl->n_fragments || pl->fragments[j].offset - base != pl->offsets[i] ||
            (i > 0 && first[i - 1] >= j)) {
            return -1;
        }
        first[i] = j;
    }
    return 0;
}

pacs_err pacs_pixel_layout_map_frames(pacs_pixel_layout *pl, uint32_t n_frames, uint64_t frame_size,
                                      pacs_errinfo *ei)
{
    if (n_frames == 0) {
        n_frames = 1;
    }
    pl->n_frames = n_frames;
    if (pl->kind == PACS_PIXELS_NATIVE) {
        if (frame_size == 0 && n_frames == 1) {
            frame_size = pl->length;
        }
        if (frame_size == 0 || frame_size > UINT32_MAX || frame_size > pl->length / n_frames) {
            pl->kind = PACS_PIXELS_OPAQUE;
            return PACS_OK;
        }
        pl->frame_size = frame_size;
        return PACS_OK;
    }
    if (pl->kind != PACS_PIXELS_ENCAPSULATED) {
        return PACS_OK;
    }
    uint32_t *first = calloc((size_t)n_frames + 1, sizeof *first);
    if (!first) {
        return pacs_errf(ei, PACS_ENOMEM, "out of memory");
    }
    int mapped = 0;
    if (pl->n_fragments > 0) {
        if (map_by_offsets(pl, first) == 0) {
            mapped = 1;
        } else if (n_frames == 1) {
            first[0] = 0;
            mapped = 1;
        } else if (pl->n_fragments == n_frames) {
            for (uint32_t i = 0; i < n_frames; i++) {
                first[i] = i;
            }
            mapped = 1;
        } else if (is_frame_start(pl->fragments[0].head)) {
            uint32_t k = 0;
            for (uint32_t j = 0; j < pl->n_fragments; j++) {
                if (is_frame_start(pl->fragments[j].head)) {
                    if (k == n_frames) {
                        k = n_frames + 1;
                        break;
                    }
                    first[k++] = j;
                }
            }
            mapped = k == n_frames;
        }
    }
    if (!mapped) {
        free(first);
        pl->kind = PACS_PIXELS_OPAQUE;
        return PACS_OK;
    }
    first[n_frames] = pl->n_fragments;
    free(pl->frame_first);
    pl->frame_first = first;
    return PACS_OK;
}

void pacs_pixel_layout_clear(pacs_pixel_layout *pl)
{
    if (!pl) {
        return;
    }
    free(pl->fragments);
    free(pl->frame_first);
    free(pl->offsets);
    memset(pl, 0, sizeof *pl);
}

#define BLOB_HEADER 12

pacs_err pacs_pixel_layout_encode(const pacs_pixel_layout *pl, uint8_t **blob, size_t *len,
                                  pacs_errinfo *ei)
{
    size_t n = BLOB_HEADER;
    if (pl->kind == PACS_PIXELS_NATIVE) {
        n += 24;
    } else if (pl->kind == PACS_PIXELS_ENCAPSULATED) {
        n += 4 + (size_t)pl->n_fragments * 12 + ((size_t)pl->n_frames + 1) * 4;
    }
    uint8_t *b = malloc(n);
    if (!b) {
        return pacs_errf(ei, PACS_ENOMEM, "out of memory");
    }
    b[0] = 'P';
    b[1] = 'L';
    b[2] = 1;
    b[3] = (uint8_t)pl->kind;
    b[4] = (uint8_t)(pl->bigendian != 0);
    b[5] = b[6] = b[7] = 0;
    put32(b + 8, pl->n_frames);
    uint8_t *p = b + BLOB_HEADER;
    if (pl->kind == PACS_PIXELS_NATIVE) {
        put64(p, pl->offset);
        put64(p + 8, pl->length);
        put64(p + 16, pl->frame_size);
    } else if (pl->kind == PACS_PIXELS_ENCAPSULATED) {
        put32(p, pl->n_fragments);
        p += 4;
        for (uint32_t i = 0; i < pl->n_fragments; i++, p += 12) {
            put64(p, pl->fragments[i].offset);
            put32(p + 8, pl->fragments[i].length);
        }
        for (uint32_t i = 0; i <= pl->n_frames; i++, p += 4) {
            put32(p, pl->frame_first[i]);
        }
    }
    *blob = b;
    *len = n;
    return PACS_OK;
}

pacs_err pacs_pixel_layout_decode(const uint8_t *b, size_t len, pacs_pixel_layout *out,
                                  pacs_errinfo *ei)
{
    memset(out, 0, sizeof *out);
    if (len < BLOB_HEADER || b[0] != 'P' || b[1] != 'L' || b[2] != 1 || b[3] > 3) {
        return pacs_errf(ei, PACS_ECORRUPT, "bad pixel layout record");
    }
    out->kind = (pacs_pixel_kind)b[3];
    out->bigendian = b[4];
    out->n_frames = get32(b + 8, 0);
    const uint8_t *p = b + BLOB_HEADER;
    size_t rest = len - BLOB_HEADER;
    if (out->kind == PACS_PIXELS_NATIVE) {
        if (rest != 24) {
            return pacs_errf(ei, PACS_ECORRUPT, "bad native pixel layout record");
        }
        out->offset = get64(p, 0);
        out->length = get64(p + 8, 0);
        out->frame_size = get64(p + 16, 0);
    } else if (out->kind == PACS_PIXELS_ENCAPSULATED) {
        if (rest < 4) {
            return pacs_errf(ei, PACS_ECORRUPT, "bad encapsulated pixel layout record");
        }
        uint32_t nf = get32(p, 0);
        if (nf > MAX_FRAGMENTS || out->n_frames > MAX_FRAGMENTS ||
            rest != 4 + (size_t)nf * 12 + ((size_t)out->n_frames + 1) * 4) {
            return pacs_errf(ei, PACS_ECORRUPT, "bad encapsulated pixel layout record");
        }
        p += 4;
        out->n_fragments = nf;
        out->fragments = calloc(nf ? nf : 1, sizeof *out->fragments);
        out->frame_first = calloc((size_t)out->n_frames + 1, sizeof *out->frame_first);
        if (!out->fragments || !out->frame_first) {
            pacs_pixel_layout_clear(out);
            return pacs_errf(ei, PACS_ENOMEM, "out of memory");
        }
        for (uint32_t i = 0; i < nf; i++, p += 12) {
            out->fragments[i].offset = get64(p, 0);
            out->fragments[i].length = get32(p + 8, 0);
        }
        for (uint32_t i = 0; i <= out->n_frames; i++, p += 4) {
            out->frame_first[i] = get32(p, 0);
            if (out->frame_first[i] > nf ||
                (i > 0 && out->frame_first[i] < out->frame_first[i - 1])) {
                pacs_pixel_layout_clear(out);
                return pacs_errf(ei, PACS_ECORRUPT, "bad frame table in pixel layout record");
            }
        }
    }
    return PACS_OK;
}

pacs_err pacs_pixel_layout_frame(const pacs_pixel_layout *pl, uint32_t index, pacs_fragment *ranges,
                                 size_t cap, size_t *n, pacs_errinfo *ei)
{
    if (pl->kind != PACS_PIXELS_NATIVE && pl->kind != PACS_PIXELS_ENCAPSULATED) {
        return pacs_errf(ei, PACS_EUNSUPPORTED, "frames of this object are not addressable");
    }
    if (index >= pl->n_frames) {
        return pacs_errf(ei, PACS_ENOTFOUND, "frame %u out of range (the object has %u)", index + 1,
                         pl->n_frames);
    }
    if (pl->kind == PACS_PIXELS_NATIVE) {
        if (cap < 1) {
            return pacs_errf(ei, PACS_ETOOBIG, "no room for frame ranges");
        }
        ranges[0].offset = pl->offset + (uint64_t)index * pl->frame_size;
        ranges[0].length = (uint32_t)pl->frame_size;
        *n = 1;
        return PACS_OK;
    }
    uint32_t a = pl->frame_first[index], b = pl->frame_first[index + 1];
    if (b - a > cap) {
        return pacs_errf(ei, PACS_ETOOBIG, "frame %u has %u fragments", index + 1, b - a);
    }
    for (uint32_t j = a; j < b; j++) {
        ranges[j - a] = pl->fragments[j];
    }
    *n = b - a;
    return PACS_OK;
}
