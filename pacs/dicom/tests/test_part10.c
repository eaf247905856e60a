// SPDX-License-Identifier: MIT
/*
 * Unit tests of Part 10 framing (part10.c): UID syntax, our meta header (build/read round trip,
 * determinism, EAGAIN on every short prefix, malformed headers), and the pixel-data walker on
 * synthetic files written here: native, encapsulated with and without a Basic Offset Table,
 * an Extended Offset Table, several fragments per frame, big endian, sequences before the
 * pixels, truncated and garbage input, and the nesting limit.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "pacs/dicom/part10.h"

/* ---- a tiny writer of explicit/implicit VR datasets ---- */

typedef struct wbuf {
    uint8_t data[1 << 16];
    size_t len;
    int be, implicit;
} wbuf;

static void put8(wbuf *w, uint8_t v)
{
    assert_true(w->len < sizeof w->data);
    w->data[w->len++] = v;
}

static void put16(wbuf *w, uint16_t v)
{
    if (w->be) {
        put8(w, (uint8_t)(v >> 8));
        put8(w, (uint8_t)v);
    } else {
        put8(w, (uint8_t)v);
        put8(w, (uint8_t)(v >> 8));
    }
}

static void put32(wbuf *w, uint32_t v)
{
    if (w->be) {
        put16(w, (uint16_t)(v >> 16));
        put16(w, (uint16_t)v);
    } else {
        put16(w, (uint16_t)v);
        put16(w, (uint16_t)(v >> 16));
    }
}

static void put_bytes(wbuf *w, const void *p, size_t n)
{
    assert_true(w->len + n <= sizeof w->data);
    memcpy(w->data + w->len, p, n);
    w->len += n;
}

static int long_vr(const char *vr)
{
    return strstr("OB OD OF OL OV OW SQ SV UC UN UR UT UV", vr) != NULL;
}

/* An element header; `len` 0xFFFFFFFF for undefined length. */
static void elem(wbuf *w, uint16_t g, uint16_t e, const char *vr, uint32_t len)
{
    put16(w, g);
    put16(w, e);
    if (w->implicit) {
        put32(w, len);
    } else if (long_vr(vr)) {
        put_bytes(w, vr, 2);
        put16(w, 0);
        put32(w, len);
    } else {
        put_bytes(w, vr, 2);
        put16(w, (uint16_t)len);
    }
}

static void text_elem(wbuf *w, uint16_t g, uint16_t e, const char *vr, const char *v)
{
    size_t n = strlen(v);
    elem(w, g, e, vr, (uint32_t)(n + (n & 1)));
    put_bytes(w, v, n);
    if (n & 1) {
        put8(w, vr[0] == 'U' && vr[1] == 'I' ? 0 : ' ');
    }
}

static void item(wbuf *w, uint16_t e, uint32_t len)
{
    put16(w, 0xFFFE);
    put16(w, e);
    put32(w, len);
}

static void fragment(wbuf *w, const uint8_t *head, size_t n)
{
    item(w, 0xE000, (uint32_t)n);
    for (size_t i = 0; i < n; i++) {
        put8(w, i < 4 && head ? head[i] : (uint8_t)i);
    }
}

static const pacs_meta ct_meta = {"1.2.840.10008.5.1.4.1.1.2", "1.2.3.4.5.6.7",
                                  "1.2.840.10008.1.2.1"};

/* Writes our meta header then the dataset to a temporary file; returns an fd (unlinked). */
static int file_with(const char *ts, const wbuf *ds, uint64_t *start)
{
    pacs_meta m = ct_meta;
    snprintf(m.transfer_syntax_uid, sizeof m.transfer_syntax_uid, "%s", ts);
    uint8_t meta[512];
    size_t meta_len = 0;
    assert_int_equal(pacs_meta_build(&m, meta, sizeof meta, &meta_len, NULL), PACS_OK);
    char path[] = "/tmp/pacs-test-part10.XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    unlink(path);
    assert_int_equal(write(fd, meta, meta_len), (ssize_t)meta_len);
    assert_int_equal(write(fd, ds->data, ds->len), (ssize_t)ds->len);
    *start = meta_len;
    return fd;
}

static void header_elems(wbuf *w)
{
    text_elem(w, 0x0008, 0x0016, "UI", ct_meta.sop_class_uid);
    text_elem(w, 0x0008, 0x0018, "UI", ct_meta.sop_instance_uid);
    text_elem(w, 0x0010, 0x0010, "PN", "Nguyen^Van An");
}

/* ---- UIDs and the meta header ---- */

static void test_uid_valid(void **state)
{
    (void)state;
    assert_true(pacs_uid_valid("1.2.840.10008.1.2"));
    assert_true(pacs_uid_valid("0"));
    assert_true(pacs_uid_valid("1.0.2"));
    assert_false(pacs_uid_valid(""));
    assert_false(pacs_uid_valid("1..2"));
    assert_false(pacs_uid_valid(".1.2"));
    assert_false(pacs_uid_valid("1.2."));
    assert_false(pacs_uid_valid("1.02"));
    assert_false(pacs_uid_valid("1.2a"));
    assert_false(pacs_uid_valid("1.2 "));
    char uid[80];
    memset(uid, '1', 64);
    uid[64] = '\0';
    assert_true(pacs_uid_valid(uid));
    uid[64] = '1';
    uid[65] = '\0';
    assert_false(pacs_uid_valid(uid));
}

static void test_meta_round_trip(void **state)
{
    (void)state;
    uint8_t a[512], b[512];
    size_t na = 0, nb = 0;
    assert_int_equal(pacs_meta_build(&ct_meta, a, sizeof a, &na, NULL), PACS_OK);
    assert_int_equal(pacs_meta_build(&ct_meta, b, sizeof b, &nb, NULL), PACS_OK);
    assert_int_equal(na, nb);
    assert_memory_equal(a, b, na); /* deterministic: the same dataset hashes the same */
    assert_memory_equal(a + 128, "DICM", 4);
    assert_int_equal(na % 2, 0);
    pacs_meta m;
    size_t start = 0;
    /* The header alone cannot tell whether more meta elements follow. */
    assert_int_equal(pacs_meta_read(a, na, &m, &start, NULL), PACS_EAGAIN);
    uint8_t d[600];
    memcpy(d, a, na);
    memcpy(d + na,
           "\x08\x00\x05\x00"
           "CS\x0a\x00"
           "ISO_IR 192",
           18);
    assert_int_equal(pacs_meta_read(d, na + 18, &m, &start, NULL), PACS_OK);
    assert_int_equal(start, na);
    assert_string_equal(m.sop_class_uid, ct_meta.sop_class_uid);
    assert_string_equal(m.sop_instance_uid, ct_meta.sop_instance_uid);
    assert_string_equal(m.transfer_syntax_uid, ct_meta.transfer_syntax_uid);
    /* The group length covers exactly the elements after it. */
    uint32_t gl =
        (uint32_t)a[140] | (uint32_t)a[141] << 8 | (uint32_t)a[142] << 16 | (uint32_t)a[143] << 24;
    assert_int_equal(gl, na - 144);
    /* Every shorter prefix asks for more, never fails or overreads. */
    for (size_t n = 0; n < na; n++) {
        uint8_t *copy = malloc(n ? n : 1);
        memcpy(copy, a, n);
        assert_int_equal(pacs_meta_read(copy, n, &m, &start, NULL), PACS_EAGAIN);
        free(copy);
    }
    /* The dataset that follows is not meta: reading stops at its first element. */
    uint8_t c[600];
    memcpy(c, a, na);
    memcpy(c + na,
           "\x08\x00\x16\x00UI\x02\x00"
           "1\0",
           10);
    assert_int_equal(pacs_meta_read(c, na + 10, &m, &start, NULL), PACS_OK);
    assert_int_equal(start, na);
}

static void test_meta_build_errors(void **state)
{
    (void)state;
    uint8_t buf[512];
    size_t n = 0;
    pacs_meta m = ct_meta;
    pacs_errinfo ei;
    snprintf(m.sop_instance_uid, sizeof m.sop_instance_uid, "1.2.bad");
    assert_int_equal(pacs_meta_build(&m, buf, sizeof buf, &n, &ei), PACS_EINVAL);
    assert_non_null(strstr(ei.msg, "1.2.bad"));
    assert_int_equal(pacs_meta_build(&ct_meta, buf, 100, &n, &ei), PACS_ETOOBIG);
}

static void test_meta_read_errors(void **state)
{
    (void)state;
    uint8_t a[512];
    size_t na = 0, start = 0;
    pacs_meta m;
    pacs_errinfo ei;
    assert_int_equal(pacs_meta_build(&ct_meta, a, sizeof a, &na, NULL), PACS_OK);
    uint8_t bad[512];
    memcpy(bad, a, na);
    memcpy(bad + 128, "DICX", 4);
    assert_int_equal(pacs_meta_read(bad, na, &m, &start, &ei), PACS_EBADDATA);
    assert_non_null(strstr(ei.msg, "DICM"));
    /* An undefined length in the meta group. */
    memcpy(bad, a, na);
    bad[144 + 8] = bad[144 + 9] = bad[144 + 10] = bad[144 + 11] = 0xFF; /* (0002,0001) OB len */
    assert_int_equal(pacs_meta_read(bad, na, &m, &start, &ei), PACS_EBADDATA);
    /* A meta header without a transfer syntax. */
    wbuf w;
    memset(&w, 0, sizeof w);
    put_bytes(&w, a, 132);
    text_elem(&w, 0x0002, 0x0002, "UI", ct_meta.sop_class_uid);
    text_elem(&w, 0x0002, 0x0003, "UI", ct_meta.sop_instance_uid);
    text_elem(&w, 0x0008, 0x0016, "UI", ct_meta.sop_class_uid);
    assert_int_equal(pacs_meta_read(w.data, w.len, &m, &start, &ei), PACS_EBADDATA);
    assert_non_null(strstr(ei.msg, "Transfer Syntax"));
    /* Without the SOP Instance UID. */
    memset(&w, 0, sizeof w);
    put_bytes(&w, a, 132);
    text_elem(&w, 0x0002, 0x0002, "UI", ct_meta.sop_class_uid);
    text_elem(&w, 0x0002, 0x0010, "UI", PACS_TS_EXPLICIT_LE);
    text_elem(&w, 0x0008, 0x0016, "UI", ct_meta.sop_class_uid);
    assert_int_equal(pacs_meta_read(w.data, w.len, &m, &start, &ei), PACS_EBADDATA);
    /* A UID value of 65 or 66 bytes must be refused, not copied past the 65-byte field. */
    for (int len = 64; len <= 66; len++) {
        char uid[80];
        memset(uid, '1', (size_t)len);
        uid[len] = '\0';
        memset(&w, 0, sizeof w);
        put_bytes(&w, a, 132);
        elem(&w, 0x0002, 0x0003, "UI", (uint32_t)len);
        put_bytes(&w, uid, (size_t)len);
        text_elem(&w, 0x0002, 0x0002, "UI", ct_meta.sop_class_uid);
        text_elem(&w, 0x0002, 0x0010, "UI", PACS_TS_EXPLICIT_LE);
        text_elem(&w, 0x0008, 0x0016, "UI", ct_meta.sop_class_uid);
        pacs_err err = pacs_meta_read(w.data, w.len, &m, &start, &ei);
        if (len == 64) {
            assert_int_equal(err, PACS_OK);
            assert_int_equal(strlen(m.sop_instance_uid), 64);
        } else {
            assert_int_equal(err, PACS_EBADDATA);
        }
    }
    /* Trailing NUL and space padding of UIDs is removed. */
    memset(&w, 0, sizeof w);
    put_bytes(&w, a, 132);
    elem(&w, 0x0002, 0x0002, "UI", 6);
    put_bytes(&w, "1.2.3 ", 6);
    elem(&w, 0x0002, 0x0003, "UI", 6);
    put_bytes(&w, "1.2.4\0", 6);
    text_elem(&w, 0x0002, 0x0010, "UI", PACS_TS_IMPLICIT_LE);
    text_elem(&w, 0x0008, 0x0016, "UI", ct_meta.sop_class_uid);
    assert_int_equal(pacs_meta_read(w.data, w.len, &m, &start, &ei), PACS_OK);
    assert_string_equal(m.sop_class_uid, "1.2.3");
    assert_string_equal(m.sop_instance_uid, "1.2.4");
    assert_string_equal(m.transfer_syntax_uid, PACS_TS_IMPLICIT_LE);
}

/* ---- the pixel-data walker ---- */

static void test_native(void **state)
{
    (void)state;
    wbuf w;
    memset(&w, 0, sizeof w);
    header_elems(&w);
    /* A sequence of undefined length with a nested one before the pixels. */
    elem(&w, 0x0008, 0x1140, "SQ", 0xFFFFFFFF);
    item(&w, 0xE000, 0xFFFFFFFF);
    text_elem(&w, 0x0008, 0x1150, "UI", "1.2.3");
    elem(&w, 0x0008, 0x1199, "SQ", 0xFFFFFFFF);
    item(&w, 0xE000, 0xFFFFFFFF);
    item(&w, 0xE00D, 0);
    item(&w, 0xE0DD, 0);
    item(&w, 0xE00D, 0);
    item(&w, 0xE0DD, 0);
    elem(&w, 0x0028, 0x0010, "US", 2);
    put16(&w, 4);
    size_t value_at = w.len + 12;
    elem(&w, 0x7FE0, 0x0010, "OW", 3 * 32);
    for (int i = 0; i < 96; i++) {
        put8(&w, (uint8_t)i);
    }
    text_elem(&w, 0xFFFA, 0xFFFA, "OB", "xx"); /* padding after the pixels is ignored */
    uint64_t start = 0;
    int fd = file_with(PACS_TS_EXPLICIT_LE, &w, &start);
    pacs_pixel_layout pl;
    assert_int_equal(pacs_pixel_layout_scan(fd, start, PACS_TS_EXPLICIT_LE, &pl, NULL), PACS_OK);
    assert_int_equal(pl.kind, PACS_PIXELS_NATIVE);
    assert_int_equal(pl.offset, start + value_at);
    assert_int_equal(pl.length, 96);
    assert_int_equal(pacs_pixel_layout_map_frames(&pl, 3, 32, NULL), PACS_OK);
    assert_int_equal(pl.kind, PACS_PIXELS_NATIVE);
    pacs_fragment r[4];
    size_t n = 0;
    assert_int_equal(pacs_pixel_layout_frame(&pl, 2, r, 4, &n, NULL), PACS_OK);
    assert_int_equal(n, 1);
    assert_int_equal(r[0].offset, start + value_at + 64);
    assert_int_equal(r[0].length, 32);
    assert_int_equal(pacs_pixel_layout_frame(&pl, 3, r, 4, &n, NULL), PACS_ENOTFOUND);
    /* Round trip through the index blob. */
    uint8_t *blob = NULL;
    size_t blen = 0;
    assert_int_equal(pacs_pixel_layout_encode(&pl, &blob, &blen, NULL), PACS_OK);
    pacs_pixel_layout back;
    assert_int_equal(pacs_pixel_layout_decode(blob, blen, &back, NULL), PACS_OK);
    assert_int_equal(back.kind, PACS_PIXELS_NATIVE);
    assert_int_equal(back.offset, pl.offset);
    assert_int_equal(back.frame_size, 32);
    assert_int_equal(back.n_frames, 3);
    assert_int_equal(pacs_pixel_layout_decode(blob, blen - 1, &back, NULL), PACS_ECORRUPT);
    free(blob);
    /* Frames that do not fit the value make the layout opaque rather than wrong. */
    pacs_pixel_layout_clear(&pl);
    assert_int_equal(pacs_pixel_layout_scan(fd, start, PACS_TS_EXPLICIT_LE, &pl, NULL), PACS_OK);
    assert_int_equal(pacs_pixel_layout_map_frames(&pl, 4, 32, NULL), PACS_OK);
    assert_int_equal(pl.kind, PACS_PIXELS_OPAQUE);
    assert_int_equal(pacs_pixel_layout_frame(&pl, 0, r, 4, &n, NULL), PACS_EUNSUPPORTED);
    pacs_pixel_layout_clear(&pl);
    pacs_pixel_layout_clear(NULL);
    close(fd);
}

static void test_native_implicit_and_big_endian(void **state)
{
    (void)state;
    static const char *const ts[] = {PACS_TS_IMPLICIT_LE, PACS_TS_EXPLICIT_BE};
    for (int t = 0; t < 2; t++) {
        wbuf w;
        memset(&w, 0, sizeof w);
        w.implicit = t == 0;
        w.be = t == 1;
        header_elems(&w);
        elem(&w, 0x0008, 0x1140, "SQ", 0xFFFFFFFF); /* implicit: undefined length = SQ */
        item(&w, 0xE000, 10);
        text_elem(&w, 0x0008, 0x0050, "SH", "ab");
        item(&w, 0xE0DD, 0);
        size_t value_at = w.len + (w.implicit ? 8 : 12);
        elem(&w, 0x7FE0, 0x0010, "OW", 8);
        put_bytes(&w, "\1\2\3\4\5\6\7\10", 8);
        uint64_t start = 0;
        int fd = file_with(ts[t], &w, &start);
        pacs_pixel_layout pl;
        assert_int_equal(pacs_pixel_layout_scan(fd, start, ts[t], &pl, NULL), PACS_OK);
        assert_int_equal(pl.kind, PACS_PIXELS_NATIVE);
        assert_int_equal(pl.offset, start + value_at);
        assert_int_equal(pl.bigendian, t == 1);
        pacs_pixel_layout_clear(&pl);
        close(fd);
    }
}

static const uint8_t jpeg_soi[4] = {0xFF, 0xD8, 0xFF, 0xE0};
static const uint8_t j2k_soc[4] = {0xFF, 0x4F, 0xFF, 0x51};
static const uint8_t not_start[4] = {0x12, 0x34, 0x56, 0x78};

/* Encapsulated pixel data with `n_frames` frames of `per_frame` fragments each; with_bot
 * writes a Basic Offset Table, with_eot an Extended Offset Table (and an empty BOT). */
static int encapsulated_at(int n_frames, int per_frame, int with_bot, int with_eot,
                           const uint8_t *first_head, uint64_t *start, uint64_t *frag0,
                           uint64_t *pixel_at);

static int encapsulated(int n_frames, int per_frame, int with_bot, int with_eot,
                        const uint8_t *first_head, uint64_t *start, uint64_t *frag0)
{
    return encapsulated_at(n_frames, per_frame, with_bot, with_eot, first_head, start, frag0, NULL);
}

static int encapsulated_at(int n_frames, int per_frame, int with_bot, int with_eot,
                           const uint8_t *first_head, uint64_t *start, uint64_t *frag0,
                           uint64_t *pixel_at)
{
    wbuf w;
    memset(&w, 0, sizeof w);
    header_elems(&w);
    const uint32_t frag_len = 10;
    if (with_eot) {
        elem(&w, 0x7FE0, 0x0001, "OV", (uint32_t)(8 * n_frames));
        for (int f = 0; f < n_frames; f++) {
            put32(&w, (uint32_t)(f * per_frame * (8 + frag_len)));
            put32(&w, 0);
        }
        elem(&w, 0x7FE0, 0x0002, "OV", (uint32_t)(8 * n_frames));
        for (int f = 0; f < n_frames; f++) {
            put32(&w, (uint32_t)(per_frame * frag_len));
            put32(&w, 0);
        }
    }
    uint64_t px = w.len;
    elem(&w, 0x7FE0, 0x0010, "OB", 0xFFFFFFFF);
    if (with_bot) {
        item(&w, 0xE000, (uint32_t)(4 * n_frames));
        for (int f = 0; f < n_frames; f++) {
            put32(&w, (uint32_t)(f * per_frame * (8 + frag_len)));
        }
    } else {
        item(&w, 0xE000, 0);
    }
    *frag0 = w.len + 8;
    for (int f = 0; f < n_frames; f++) {
        for (int k = 0; k < per_frame; k++) {
            fragment(&w, k == 0 ? first_head : not_start, frag_len);
        }
    }
    item(&w, 0xE0DD, 0);
    int fd = file_with("1.2.840.10008.1.2.4.90", &w, start);
    *frag0 += *start;
    if (pixel_at) {
        *pixel_at = px + *start;
    }
    return fd;
}

static void check_frames(pacs_pixel_layout *pl, int n_frames, int per_frame, uint64_t frag0)
{
    assert_int_equal(pl->kind, PACS_PIXELS_ENCAPSULATED);
    assert_int_equal(pl->n_frames, (uint32_t)n_frames);
    for (int f = 0; f < n_frames; f++) {
        pacs_fragment r[8];
        size_t n = 0;
        assert_int_equal(pacs_pixel_layout_frame(pl, (uint32_t)f, r, 8, &n, NULL), PACS_OK);
        assert_int_equal(n, (size_t)per_frame);
        assert_int_equal(r[0].offset, frag0 + (uint64_t)(f * per_frame) * 18);
        assert_int_equal(r[0].length, 10);
    }
}

static void test_encapsulated(void **state)
{
    (void)state;
    static const struct {
        int frames, per_frame, bot, eot;
        const uint8_t *head;
        int mappable;
    } cases[] = {
        {1, 1, 0, 0, not_start, 1}, /* one frame: all fragments */
        {1, 3, 0, 0, not_start, 1}, /* one frame in three fragments */
        {3, 1, 0, 0, not_start, 1}, /* one fragment per frame, no table */
        {3, 2, 1, 0, not_start, 1}, /* Basic Offset Table */
        {3, 2, 0, 1, not_start, 1}, /* Extended Offset Table */
        {3, 2, 0, 0, jpeg_soi, 1},  /* no table: JPEG markers start frames */
        {2, 3, 0, 0, j2k_soc, 1},   /* no table: J2K codestream markers */
        {3, 2, 0, 0, not_start, 0}, /* no table, no markers: opaque */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint64_t start = 0, frag0 = 0;
        int fd = encapsulated(cases[i].frames, cases[i].per_frame, cases[i].bot, cases[i].eot,
                              cases[i].head, &start, &frag0);
        pacs_pixel_layout pl;
        assert_int_equal(pacs_pixel_layout_scan(fd, start, "1.2.840.10008.1.2.4.90", &pl, NULL),
                         PACS_OK);
        assert_int_equal(pl.kind, PACS_PIXELS_ENCAPSULATED);
        assert_int_equal(pl.n_fragments, (uint32_t)(cases[i].frames * cases[i].per_frame));
        assert_int_equal(pacs_pixel_layout_map_frames(&pl, (uint32_t)cases[i].frames, 0, NULL),
                         PACS_OK);
        if (cases[i].mappable) {
            check_frames(&pl, cases[i].frames, cases[i].per_frame, frag0);
            uint8_t *blob = NULL;
            size_t blen = 0;
            assert_int_equal(pacs_pixel_layout_encode(&pl, &blob, &blen, NULL), PACS_OK);
            pacs_pixel_layout back;
            assert_int_equal(pacs_pixel_layout_decode(blob, blen, &back, NULL), PACS_OK);
            check_frames(&back, cases[i].frames, cases[i].per_frame, frag0);
            pacs_pixel_layout_clear(&back);
            free(blob);
        } else {
            assert_int_equal(pl.kind, PACS_PIXELS_OPAQUE);
        }
        pacs_pixel_layout_clear(&pl);
        close(fd);
    }
}

static void test_deflated_and_none(void **state)
{
    (void)state;
    wbuf w;
    memset(&w, 0, sizeof w);
    header_elems(&w);
    uint64_t start = 0;
    int fd = file_with(PACS_TS_EXPLICIT_LE, &w, &start);
    pacs_pixel_layout pl;
    assert_int_equal(pacs_pixel_layout_scan(fd, start, PACS_TS_EXPLICIT_LE, &pl, NULL), PACS_OK);
    assert_int_equal(pl.kind, PACS_PIXELS_NONE);
    assert_int_equal(pacs_pixel_layout_scan(fd, start, PACS_TS_DEFLATED_LE, &pl, NULL), PACS_OK);
    assert_int_equal(pl.kind, PACS_PIXELS_OPAQUE);
    close(fd);
}

/* Every cut of a valid file either scans (the cut fell after the pixels' header) or fails
 * cleanly; random garbage fails cleanly. */
static void test_truncated_and_garbage(void **state)
{
    (void)state;
    uint64_t start = 0, frag0 = 0, pixel_at = 0;
    int fd = encapsulated_at(3, 2, 1, 0, not_start, &start, &frag0, &pixel_at);
    off_t full = lseek(fd, 0, SEEK_END);
    uint8_t *all = malloc((size_t)full);
    assert_int_equal(pread(fd, all, (size_t)full, 0), full);
    close(fd);
    for (off_t cut = (off_t)start + 1; cut < full; cut++) {
        char path[] = "/tmp/pacs-test-cut.XXXXXX";
        int cfd = mkstemp(path);
        unlink(path);
        assert_int_equal(write(cfd, all, (size_t)cut), cut);
        pacs_pixel_layout pl;
        pacs_errinfo ei;
        pacs_err err = pacs_pixel_layout_scan(cfd, start, "1.2.840.10008.1.2.4.90", &pl, &ei);
        if (err == PACS_OK) {
            /* Only a cut between elements before the pixels reads as "no pixel data". */
            assert_true((uint64_t)cut <= pixel_at);
            assert_int_equal(pl.kind, PACS_PIXELS_NONE);
        } else {
            assert_int_equal(err, PACS_EBADDATA);
        }
        close(cfd);
    }
    srand(7);
    for (int round = 0; round < 200; round++) {
        char path[] = "/tmp/pacs-test-junk.XXXXXX";
        int jfd = mkstemp(path);
        unlink(path);
        uint8_t junk[512];
        for (size_t i = 0; i < sizeof junk; i++) {
            junk[i] = (uint8_t)rand();
        }
        assert_int_equal(write(jfd, junk, sizeof junk), (ssize_t)sizeof junk);
        pacs_pixel_layout pl;
        pacs_err err = pacs_pixel_layout_scan(
            jfd, 0, round % 2 ? PACS_TS_IMPLICIT_LE : PACS_TS_EXPLICIT_LE, &pl, NULL);
        if (err == PACS_OK) {
            pacs_pixel_layout_clear(&pl); /* garbage may happen to parse; it must not crash */
        } else {
            assert_int_equal(err, PACS_EBADDATA);
        }
        close(jfd);
    }
    free(all);
}

static void test_nesting_limit(void **state)
{
    (void)state;
    for (int depth = 8; depth <= 40; depth += 32) {
        wbuf w;
        memset(&w, 0, sizeof w);
        header_elems(&w);
        for (int d = 0; d < depth; d++) {
            elem(&w, 0x0008, 0x1140, "SQ", 0xFFFFFFFF);
            item(&w, 0xE000, 0xFFFFFFFF);
        }
        for (int d = 0; d < depth; d++) {
            item(&w, 0xE00D, 0);
            item(&w, 0xE0DD, 0);
        }
        elem(&w, 0x7FE0, 0x0010, "OB", 2);
        put16(&w, 0);
        uint64_t start = 0;
        int fd = file_with(PACS_TS_EXPLICIT_LE, &w, &start);
        pacs_pixel_layout pl;
        pacs_err err = pacs_pixel_layout_scan(fd, start, PACS_TS_EXPLICIT_LE, &pl, NULL);
        if (depth == 8) {
            assert_int_equal(err, PACS_OK);
            assert_int_equal(pl.kind, PACS_PIXELS_NATIVE);
            pacs_pixel_layout_clear(&pl);
        } else {
            assert_int_equal(err, PACS_EBADDATA); /* past the limit: refused, not recursed */
        }
        close(fd);
    }
}

static void test_decode_rejects_bad_blobs(void **state)
{
    (void)state;
    pacs_pixel_layout pl;
    uint8_t junk[40] = {'P', 'L', 1, 2, 0, 0, 0, 0, 5, 0, 0, 0, 3, 0, 0, 0};
    assert_int_equal(pacs_pixel_layout_decode(junk, 5, &pl, NULL), PACS_ECORRUPT);
    assert_int_equal(pacs_pixel_layout_decode(junk, sizeof junk, &pl, NULL), PACS_ECORRUPT);
    junk[0] = 'X';
    assert_int_equal(pacs_pixel_layout_decode(junk, sizeof junk, &pl, NULL), PACS_ECORRUPT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_uid_valid),
        cmocka_unit_test(test_meta_round_trip),
        cmocka_unit_test(test_meta_build_errors),
        cmocka_unit_test(test_meta_read_errors),
        cmocka_unit_test(test_native),
        cmocka_unit_test(test_native_implicit_and_big_endian),
        cmocka_unit_test(test_encapsulated),
        cmocka_unit_test(test_deflated_and_none),
        cmocka_unit_test(test_truncated_and_garbage),
        cmocka_unit_test(test_nesting_limit),
        cmocka_unit_test(test_decode_rejects_bad_blobs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
