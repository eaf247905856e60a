// SPDX-License-Identifier: MIT
/*
 * Unit tests of the element walker (walk.c) on synthetic files written here, whose every
 * offset is known: header decoding in each encoding, skipping sequences of defined and
 * undefined length (and the implicit VR content of an undefined-length UN), BulkDataURI paths
 * to top-level and nested values in explicit and implicit VR little endian and explicit VR big
 * endian, paths that name nothing or are malformed, deflated datasets, and truncated, garbage
 * and too deeply nested input, which must fail cleanly.
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
#include "pacs/dicom/walk.h"

/* ---- a tiny writer of datasets ---- */

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
    put8(w, (uint8_t)(w->be ? v >> 8 : v));
    put8(w, (uint8_t)(w->be ? v : v >> 8));
}

static void put32(wbuf *w, uint32_t v)
{
    put16(w, (uint16_t)(w->be ? v >> 16 : v));
    put16(w, (uint16_t)(w->be ? v : v >> 16));
}

static void put_bytes(wbuf *w, const void *p, size_t n)
{
    assert_true(w->len + n <= sizeof w->data);
    memcpy(w->data + w->len, p, n);
    w->len += n;
}

/* An element header; `len` 0xFFFFFFFF for undefined length. */
static void elem(wbuf *w, uint16_t g, uint16_t e, const char *vr, uint32_t len)
{
    put16(w, g);
    put16(w, e);
    if (w->implicit) {
        put32(w, len);
    } else if (strstr("OB OD OF OL OV OW SQ SV UC UN UR UT UV", vr)) {
        put_bytes(w, vr, 2);
        put16(w, 0);
        put32(w, len);
    } else {
        put_bytes(w, vr, 2);
        put16(w, (uint16_t)len);
    }
}

static void text(wbuf *w, uint16_t g, uint16_t e, const char *vr, const char *v)
{
    size_t n = strlen(v);
    elem(w, g, e, vr, (uint32_t)(n + (n & 1)));
    put_bytes(w, v, n);
    if (n & 1) {
        put8(w, ' ');
    }
}

static void item(wbuf *w, uint16_t e, uint32_t len)
{
    put16(w, 0xFFFE);
    put16(w, e);
    put32(w, len);
}

/* Overwrites the 32-bit length at `at` once the value's size is known. */
static void patch32(wbuf *w, size_t at, uint32_t v)
{
    size_t save = w->len;
    w->len = at;
    put32(w, v);
    w->len = save;
}

static const uint8_t value_a[6] = {1, 2, 3, 4, 5, 6};
static const uint8_t value_b[10] = {10, 20, 30, 40, 50, 60, 70, 80, 90, 100};

/* Our meta header for `ts`, then the dataset; an fd (the file is unlinked) and where the
 * dataset starts. */
static int file_with(const char *ts, const wbuf *ds, uint64_t *start)
{
    pacs_meta m = {"1.2.840.10008.5.1.4.1.1.7", "1.2.3.4.5", ""};
    snprintf(m.transfer_syntax_uid, sizeof m.transfer_syntax_uid, "%s", ts);
    uint8_t meta[512];
    size_t ml = 0;
    assert_int_equal(pacs_meta_build(&m, meta, sizeof meta, &ml, NULL), PACS_OK);
    char path[] = "/tmp/pacs-test-walk.XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    unlink(path);
    assert_int_equal(write(fd, meta, ml), (ssize_t)ml);
    assert_int_equal(write(fd, ds->data, ds->len), (ssize_t)ds->len);
    if (start) {
        *start = ml;
    }
    return fd;
}

typedef struct layout {
    size_t a, b;     /* dataset offsets of value_a (top level) and value_b (item 1) */
    size_t seq, pix; /* dataset offsets of the sequence's and the pixel data's headers */
} layout;

/* (0008,0016) (0008,0018) (0010,0010), (0028,2000) = value_a, (0054,0016) SQ of two items,
 * the second holding (0028,2000) = value_b, then (7FE0,0010). `undefined`: the sequence and
 * its items have undefined lengths. */
static layout write_dataset(wbuf *w, int undefined)
{
    layout l;
    text(w, 0x0008, 0x0016, "UI", "1.2.840.10008.5.1.4.1.1.7");
    text(w, 0x0008, 0x0018, "UI", "1.2.3.4.5");
    text(w, 0x0010, 0x0010, "PN", "Nguyen^Van An");
    elem(w, 0x0028, 0x2000, "OB", sizeof value_a);
    l.a = w->len;
    put_bytes(w, value_a, sizeof value_a);
    l.seq = w->len;
    elem(w, 0x0054, 0x0016, "SQ", 0xFFFFFFFF);
    size_t seq_len_at = w->len - 4, seq_start = w->len;
    for (int i = 0; i < 2; i++) {
        item(w, 0xE000, 0xFFFFFFFF);
        size_t item_len_at = w->len - 4, item_start = w->len;
        text(w, 0x0018, 0x1072, "TM", i ? "111111" : "101010");
        if (i == 1) {
            elem(w, 0x0028, 0x2000, "OB", sizeof value_b);
            l.b = w->len;
            put_bytes(w, value_b, sizeof value_b);
        }
        if (undefined) {
            item(w, 0xE00D, 0);
        } else {
            patch32(w, item_len_at, (uint32_t)(w->len - item_start));
        }
    }
    if (undefined) {
        item(w, 0xE0DD, 0);
    } else {
        patch32(w, seq_len_at, (uint32_t)(w->len - seq_start));
    }
    l.pix = w->len;
    elem(w, 0x7FE0, 0x0010, "OB", 4);
    put32(w, 0x01020304);
    return l;
}

/* ---- tests ---- */

static void test_parse_header(void **state)
{
    (void)state;
    pacs_walk_elem e;
    const pacs_walk_enc ele = {1, 0}, ile = {0, 0}, ebe = {1, 1};
    static const uint8_t us[] = {0x28, 0x00, 0x10, 0x00, 'U', 'S', 0x02, 0x00};
    assert_int_equal(pacs_walk_parse_header(us, sizeof us, ele, 100, &e), 8);
    assert_int_equal(e.tag, 0x00280010u);
    assert_string_equal(e.vr, "US");
    assert_int_equal(e.length, 2);
    assert_int_equal(e.value, 108);
    static const uint8_t ob[] = {0xE0, 0x7F, 0x10, 0x00, 'O', 'B', 0, 0, 0xFF, 0xFF, 0xFF, 0xFF};
    assert_int_equal(pacs_walk_parse_header(ob, 8, ele, 0, &e), 0); /* needs 12 bytes */
    assert_int_equal(pacs_walk_parse_header(ob, 7, ile, 0, &e), 0);
    assert_int_equal(pacs_walk_parse_header(ob, 12, ele, 0, &e), 12);
    assert_int_equal(e.tag, 0x7FE00010u);
    assert_int_equal(e.length, PACS_WALK_UNDEFINED);
    assert_int_equal(e.value, 12);
    assert_int_equal(pacs_walk_parse_header(ob, 12, ile, 0, &e), 8); /* implicit: no VR */
    assert_string_equal(e.vr, "");
    assert_int_equal(e.length, 0x0000424Fu);
    static const uint8_t it[] = {0xFE, 0xFF, 0x00, 0xE0, 0x10, 0x00, 0x00, 0x00};
    assert_int_equal(pacs_walk_parse_header(it, sizeof it, ele, 0, &e), 8); /* items: no VR */
    assert_int_equal(e.tag, PACS_TAG_ITEM);
    assert_int_equal(e.length, 16);
    static const uint8_t junk[] = {0x08, 0x00, 0x20, 0x00, 0x01, 'a', 0x08, 0x00};
    assert_int_equal(pacs_walk_parse_header(junk, sizeof junk, ele, 0, &e), -1);
    static const uint8_t be[] = {0x00, 0x28, 0x00, 0x10, 'U', 'S', 0x00, 0x02};
    assert_int_equal(pacs_walk_parse_header(be, sizeof be, ebe, 0, &e), 8);
    assert_int_equal(e.tag, 0x00280010u);
    assert_int_equal(e.length, 2);
    assert_true(pacs_walk_enc_of(PACS_TS_IMPLICIT_LE).explicit_vr == 0);
    assert_true(pacs_walk_enc_of(PACS_TS_EXPLICIT_BE).bigendian == 1);
    assert_true(pacs_walk_enc_of("1.2.840.10008.1.2.4.50").explicit_vr == 1);
}

static void test_skip(void **state)
{
    (void)state;
    for (int undefined = 0; undefined < 2; undefined++) {
        wbuf w;
        memset(&w, 0, sizeof w);
        layout l = write_dataset(&w, undefined);
        uint64_t start = 0;
        int fd = file_with(PACS_TS_EXPLICIT_LE, &w, &start);
        pacs_walk *wk = NULL;
        assert_int_equal(pacs_walk_open(fd, &wk, NULL), PACS_OK);
        assert_int_equal(pacs_walk_size(wk), start + w.len);
        pacs_walk_elem e;
        const pacs_walk_enc enc = {1, 0};
        assert_int_equal(pacs_walk_header(wk, start + l.seq, enc, &e, NULL), PACS_OK);
        assert_int_equal(e.tag, 0x00540016u);
        assert_string_equal(e.vr, "SQ");
        uint64_t next = 0;
        assert_int_equal(pacs_walk_skip(wk, &e, enc, &next, NULL), PACS_OK);
        assert_int_equal(next, start + l.pix);
        uint8_t got[sizeof value_b];
        assert_int_equal(pacs_walk_read(wk, start + l.b, got, sizeof got, NULL), PACS_OK);
        assert_memory_equal(got, value_b, sizeof got);
        assert_int_equal(pacs_walk_read(wk, start + w.len - 2, got, 4, NULL), PACS_EBADDATA);
        assert_int_equal(pacs_walk_header(wk, start + w.len - 4, enc, &e, NULL), PACS_EBADDATA);
        pacs_walk_close(wk);
        close(fd);
    }
}

static void test_paths(void **state)
{
    (void)state;
    static const char *const syntaxes[] = {PACS_TS_EXPLICIT_LE, PACS_TS_IMPLICIT_LE,
                                           PACS_TS_EXPLICIT_BE};
    for (int t = 0; t < 3; t++) {
        for (int undefined = 0; undefined < 2; undefined++) {
            wbuf w;
            memset(&w, 0, sizeof w);
            w.implicit = t == 1;
            w.be = t == 2;
            layout l = write_dataset(&w, undefined);
            uint64_t start = 0;
            int fd = file_with(syntaxes[t], &w, &start);
            const char *vr = t == 1 ? "UN" : "OB";
            pacs_walk_value v;
            assert_int_equal(pacs_walk_find_value(fd, "00282000", &v, NULL), PACS_OK);
            assert_int_equal(v.offset, start + l.a);
            assert_int_equal(v.length, sizeof value_a);
            assert_string_equal(v.vr, vr);
            assert_int_equal(v.bigendian, t == 2);
            assert_int_equal(pacs_walk_find_value(fd, "00540016/1/00282000", &v, NULL), PACS_OK);
            assert_int_equal(v.offset, start + l.b);
            assert_int_equal(v.length, sizeof value_b);
            assert_int_equal(pacs_walk_find_value(fd, "00540016/1/00181072", &v, NULL), PACS_OK);
            assert_int_equal(v.length, 6);
            assert_int_equal(pacs_walk_find_value(fd, "7fe00010", &v, NULL), PACS_OK);
            assert_int_equal(v.offset, start + l.pix + (t == 1 ? 8 : 12));
            /* Nothing there: an item without it, an item too many, a tag between two. */
            assert_int_equal(pacs_walk_find_value(fd, "00540016/0/00282000", &v, NULL),
                             PACS_ENOTFOUND);
            assert_int_equal(pacs_walk_find_value(fd, "00540016/2/00282000", &v, NULL),
                             PACS_ENOTFOUND);
            assert_int_equal(pacs_walk_find_value(fd, "00100020", &v, NULL), PACS_ENOTFOUND);
            assert_int_equal(pacs_walk_find_value(fd, "7FE00020", &v, NULL), PACS_ENOTFOUND);
            /* A sequence of undefined length has no single range. */
            assert_int_equal(pacs_walk_find_value(fd, "00540016", &v, NULL),
                             undefined ? PACS_EUNSUPPORTED : PACS_OK);
            static const char *const bad[] = {"",
                                              "0028200",
                                              "002820000",
                                              "00282000/",
                                              "00540016/-1/00282000",
                                              "00540016/1",
                                              "00540016//00282000",
                                              "0028200g",
                                              "../etc/passwd"};
            for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
                assert_int_equal(pacs_walk_find_value(fd, bad[k], &v, NULL), PACS_EINVAL);
            }
            close(fd);
        }
    }
}

/* An undefined-length UN in an explicit VR dataset holds implicit VR little endian items
 * (PS3.5 6.2.2): both skipping it and finding a value inside it must read them so. */
static void test_un_of_undefined_length(void **state)
{
    (void)state;
    wbuf w;
    memset(&w, 0, sizeof w);
    text(&w, 0x0008, 0x0018, "UI", "1.2.3.4.5");
    elem(&w, 0x0009, 0x0010, "LO", 4);
    put_bytes(&w, "ACME", 4);
    elem(&w, 0x0009, 0x1010, "UN", 0xFFFFFFFF);
    item(&w, 0xE000, 0xFFFFFFFF);
    w.implicit = 1;
    elem(&w, 0x0009, 0x1011, "", 10); /* read as explicit VR, its length is no VR */
    size_t inner = w.len;
    put_bytes(&w, value_b, sizeof value_b);
    w.implicit = 0;
    item(&w, 0xE00D, 0);
    item(&w, 0xE0DD, 0);
    elem(&w, 0x0028, 0x2000, "OB", sizeof value_a);
    size_t after = w.len;
    put_bytes(&w, value_a, sizeof value_a);
    uint64_t start = 0;
    int fd = file_with(PACS_TS_EXPLICIT_LE, &w, &start);
    pacs_walk_value v;
    assert_int_equal(pacs_walk_find_value(fd, "00282000", &v, NULL), PACS_OK);
    assert_int_equal(v.offset, start + after);
    assert_int_equal(pacs_walk_find_value(fd, "00091010/0/00091011", &v, NULL), PACS_OK);
    assert_int_equal(v.offset, start + inner);
    assert_int_equal(v.length, sizeof value_b);
    assert_string_equal(v.vr, "UN");
    close(fd);
}

static void test_bad_files(void **state)
{
    (void)state;
    wbuf w;
    memset(&w, 0, sizeof w);
    layout l = write_dataset(&w, 1);
    uint64_t start = 0;
    pacs_walk_value v;
    int fd = file_with(PACS_TS_DEFLATED_LE, &w, &start);
    assert_int_equal(pacs_walk_find_value(fd, "00282000", &v, NULL), PACS_EUNSUPPORTED);
    close(fd);

    /* Every cut of the file finds the value (the cut fell after it), nothing, or fails
     * cleanly. */
    fd = file_with(PACS_TS_EXPLICIT_LE, &w, &start);
    size_t full = (size_t)start + w.len;
    uint8_t *all = malloc(full);
    assert_non_null(all);
    assert_int_equal(pread(fd, all, full, 0), (ssize_t)full);
    close(fd);
    for (size_t cut = 0; cut < full; cut++) {
        char path[] = "/tmp/pacs-test-walk-cut.XXXXXX";
        int cfd = mkstemp(path);
        unlink(path);
        assert_int_equal(write(cfd, all, cut), (ssize_t)cut);
        pacs_errinfo ei;
        pacs_err err = pacs_walk_find_value(cfd, "00540016/1/00282000", &v, &ei);
        if (err == PACS_OK) {
            assert_true(cut >= start + l.b + sizeof value_b);
        } else {
            assert_true(err == PACS_EBADDATA || err == PACS_ENOTFOUND);
            assert_true(ei.msg[0] != '\0');
        }
        close(cfd);
    }
    free(all);

    /* Not a Part 10 file; garbage after a good meta header. */
    char path[] = "/tmp/pacs-test-walk-junk.XXXXXX";
    int jfd = mkstemp(path);
    unlink(path);
    uint8_t junk[700];
    srand(11);
    for (size_t i = 0; i < sizeof junk; i++) {
        junk[i] = (uint8_t)rand();
    }
    assert_int_equal(write(jfd, junk, sizeof junk), (ssize_t)sizeof junk);
    assert_int_equal(pacs_walk_find_value(jfd, "00282000", &v, NULL), PACS_EBADDATA);
    close(jfd);
    for (int round = 0; round < 200; round++) {
        wbuf g;
        memset(&g, 0, sizeof g);
        for (int i = 0; i < 600; i++) {
            put8(&g, (uint8_t)rand());
        }
        int gfd = file_with(round % 2 ? PACS_TS_IMPLICIT_LE : PACS_TS_EXPLICIT_LE, &g, NULL);
        pacs_err err =
            pacs_walk_find_value(gfd, round % 3 ? "7FE00010" : "00540016/0/00282000", &v, NULL);
        assert_true(err == PACS_OK || err == PACS_EBADDATA || err == PACS_ENOTFOUND ||
                    err == PACS_EUNSUPPORTED);
        if (err == PACS_OK) {
            assert_true(v.offset + v.length <= 600 + 512);
        }
        close(gfd);
    }
}

static void test_nesting_limit(void **state)
{
    (void)state;
    for (int depth = PACS_WALK_DEPTH_MAX; depth <= PACS_WALK_DEPTH_MAX + 1; depth++) {
        wbuf w;
        memset(&w, 0, sizeof w);
        text(&w, 0x0008, 0x0018, "UI", "1.2.3.4.5");
        for (int d = 0; d < depth; d++) {
            elem(&w, 0x0008, 0x1140, "SQ", 0xFFFFFFFF);
            item(&w, 0xE000, 0xFFFFFFFF);
        }
        for (int d = 0; d < depth; d++) {
            item(&w, 0xE00D, 0);
            item(&w, 0xE0DD, 0);
        }
        elem(&w, 0x0028, 0x2000, "OB", sizeof value_a);
        put_bytes(&w, value_a, sizeof value_a);
        int fd = file_with(PACS_TS_EXPLICIT_LE, &w, NULL);
        pacs_walk_value v;
        pacs_err err = pacs_walk_find_value(fd, "00282000", &v, NULL);
        /* Up to the limit the value is found; past it the walk refuses rather than recursing. */
        assert_int_equal(err, depth <= PACS_WALK_DEPTH_MAX ? PACS_OK : PACS_EBADDATA);
        close(fd);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_header), cmocka_unit_test(test_skip),
        cmocka_unit_test(test_paths),        cmocka_unit_test(test_un_of_undefined_length),
        cmocka_unit_test(test_bad_files),    cmocka_unit_test(test_nesting_limit),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
