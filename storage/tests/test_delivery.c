// SPDX-License-Identifier: MIT
/*
 * Unit tests of the retrieve path's delivery plans (delivery.c) on a real archive in a
 * temporary folder, filled with pydicom's samples through the real ingest path: which of as
 * stored, converted and transcoded each pair of syntaxes takes (lossy targets only when allowed,
 * any syntax for an object without pixel data), the order a recipient's syntaxes are chosen in,
 * and each plan carried out: as stored gives the object's own bytes; converted keeps every pixel
 * value and the SOP Instance UID; transcoded gives back the same pixels from JPEG-LS, RLE and
 * JPEG 2000, keeps LossyImageCompression 01 when the source was lossy and sets it for a lossy
 * target; a missing object is PACS_ENOTFOUND; pixels open with and without the index's layout;
 * one frame is transcoded alone.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "pacs/image/decode.h"
#include "storage/delivery.h"
#include "storage/resolve.h"
#include "storage/tests/sample_archive.h"

#define TAG_SOP 0x00080018u
#define TAG_LOSSY 0x00282110u
#define TAG_PHOTOMETRIC 0x00280004u

#define EXPLICIT "1.2.840.10008.1.2.1"
#define IMPLICIT "1.2.840.10008.1.2"
#define BIG "1.2.840.10008.1.2.2"
#define DEFLATED "1.2.840.10008.1.2.1.99"
#define RLE "1.2.840.10008.1.2.5"
#define JPEG8 "1.2.840.10008.1.2.4.50"
#define JPEG12 "1.2.840.10008.1.2.4.51"
#define JPEG_SV1 "1.2.840.10008.1.2.4.70"
#define JLS "1.2.840.10008.1.2.4.80"
#define JLS_NEAR "1.2.840.10008.1.2.4.81"
#define J2K_LOSSLESS "1.2.840.10008.1.2.4.90"
#define J2K "1.2.840.10008.1.2.4.91"
#define HTJ2K "1.2.840.10008.1.2.4.201"

static int setup(void **state)
{
    sample_archive *s = sample_archive_open();
    *state = s;
    return s ? 0 : -1;
}

static int teardown(void **state)
{
    sample_archive_close(*state);
    return 0;
}

/* The stored instance of sample `name`, resolved with its layout. */
static pacs_resolve_list resolve(sample_archive *s, const char *name)
{
    char *sop = sample_value(name, TAG_SOP);
    pacs_resolve_list l;
    pacs_errinfo ei;
    assert_non_null(sop);
    assert_int_equal(pacs_resolve_uids(s->a, NULL, NULL, sop, PACS_RESOLVE_LAYOUT, 0, &l, &ei),
                     PACS_OK);
    assert_int_equal(l.n, 1);
    free(sop);
    return l;
}

/* Writes what `fd` holds from offset 0 into a file in the archive's folder; returns its path. */
static const char *to_file(sample_archive *s, int fd, const char *name, char *path, size_t cap)
{
    snprintf(path, cap, "%s/%s.dcm", s->dir, name);
    int out = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(out >= 0);
    char buf[65536];
    off_t off = 0;
    ssize_t n;
    while ((n = pread(fd, buf, sizeof buf, off)) > 0) {
        assert_int_equal(write(out, buf, (size_t)n), n);
        off += n;
    }
    assert_int_equal(n, 0);
    close(out);
    return path;
}

/* Delivers sample `name` in `ts` and writes the result to a file; returns its path. */
static const char *deliver(sample_archive *s, const char *name, const char *ts, unsigned flags,
                           pacs_delivery_kind want, char *path, size_t cap)
{
    pacs_resolve_list l = resolve(s, name);
    pacs_delivery_plan p;
    pacs_delivery_stream out;
    pacs_errinfo ei;
    assert_int_equal(pacs_delivery_plan_for(&l.v[0], ts, flags, &p, &ei), PACS_OK);
    assert_int_equal(p.kind, want);
    if (pacs_delivery_open(s->a, &l.v[0], &p, &out, &ei) != PACS_OK) {
        fail_msg("%s as %s: %s", name, ts, ei.msg);
    }
    assert_int_equal((uint64_t)lseek(out.fd, 0, SEEK_END), out.size);
    assert_string_equal(out.ts, ts);
    char tag[160];
    snprintf(tag, sizeof tag, "%s-as-%s", name, ts);
    to_file(s, out.fd, tag, path, cap);
    pacs_delivery_stream_close(&out);
    pacs_resolve_list_free(&l);
    return path;
}

/* A file's transfer syntax, from its meta header. */
static void file_ts(const char *path, char ts[PACS_UID_MAX + 1])
{
    uint8_t head[8192];
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    ssize_t n = pread(fd, head, sizeof head, 0);
    close(fd);
    pacs_meta m;
    size_t start = 0;
    assert_int_equal(pacs_meta_read(head, (size_t)n, &m, &start, NULL), PACS_OK);
    snprintf(ts, PACS_UID_MAX + 1, "%s", m.transfer_syntax_uid);
}

/* A top-level text value of a file; "" when absent. The caller frees. */
static char *value_of(const char *path, uint32_t tag)
{
    pacs_ds *ds = NULL;
    char *v = NULL;
    assert_int_equal(pacs_ds_load_file(path, &ds, NULL), PACS_OK);
    if (pacs_ds_get_string(ds, tag, &v, NULL) != PACS_OK) {
        v = strdup("");
    }
    pacs_ds_free(ds);
    return v;
}

/* Asserts that every frame of `a` and `b` decodes to the same bytes. */
static void same_frames(const char *a, const char *b)
{
    pacs_image_file *fa = NULL, *fb = NULL;
    pacs_errinfo ei;
    if (pacs_image_file_open(a, &fa, &ei) != PACS_OK ||
        pacs_image_file_open(b, &fb, &ei) != PACS_OK) {
        fail_msg("%s", ei.msg);
    }
    uint32_t n = pacs_image_desc_info(fa->desc)->frames;
    assert_int_equal(n, pacs_image_desc_info(fb->desc)->frames);
    for (uint32_t i = 0; i < n; i++) {
        pacs_frame *x = NULL, *y = NULL;
        assert_int_equal(pacs_image_decode(&fa->src, fa->desc, i, &x, &ei), PACS_OK);
        assert_int_equal(pacs_image_decode(&fb->src, fb->desc, i, &y, &ei), PACS_OK);
        assert_int_equal(x->size, y->size);
        assert_memory_equal(x->data, y->data, x->size);
        pacs_frame_free(x);
        pacs_frame_free(y);
    }
    pacs_image_file_close(fa);
    pacs_image_file_close(fb);
}

static void test_kinds(void **state)
{
    (void)state;
    static const struct {
        const char *from, *to;
        int pixels;
        unsigned flags;
        pacs_delivery_kind want;
    } cases[] = {
        {EXPLICIT, EXPLICIT, 1, 0, PACS_DELIVERY_AS_STORED},
        {J2K, J2K, 1, 0, PACS_DELIVERY_AS_STORED},
        {EXPLICIT, IMPLICIT, 1, 0, PACS_DELIVERY_CONVERTED},
        {BIG, EXPLICIT, 1, 0, PACS_DELIVERY_CONVERTED},
        {EXPLICIT, DEFLATED, 1, 0, PACS_DELIVERY_CONVERTED},
        {DEFLATED, IMPLICIT, 1, 0, PACS_DELIVERY_CONVERTED},
        {RLE, EXPLICIT, 1, 0, PACS_DELIVERY_TRANSCODED},
        {JPEG8, EXPLICIT, 1, 0, PACS_DELIVERY_TRANSCODED},
        {J2K, IMPLICIT, 1, 0, PACS_DELIVERY_TRANSCODED},
        {EXPLICIT, JLS, 1, 0, PACS_DELIVERY_TRANSCODED},
        {EXPLICIT, HTJ2K, 1, 0, PACS_DELIVERY_TRANSCODED},
        {JLS, RLE, 1, 0, PACS_DELIVERY_TRANSCODED},
        /* JPEG 2000 4.91 is written lossless unless lossy is allowed: always possible. */
        {EXPLICIT, J2K, 1, 0, PACS_DELIVERY_TRANSCODED},
        /* Lossy-only targets need the flag. */
        {EXPLICIT, JPEG8, 1, 0, PACS_DELIVERY_NONE},
        {EXPLICIT, JPEG8, 1, PACS_DELIVERY_LOSSY, PACS_DELIVERY_TRANSCODED},
        {RLE, JLS_NEAR, 1, 0, PACS_DELIVERY_NONE},
        {JPEG12, JPEG8, 1, 0, PACS_DELIVERY_NONE},
        /* Uncompressed but not a target pacs/image writes. */
        {RLE, BIG, 1, 0, PACS_DELIVERY_NONE},
        /* Without pixel data, nothing is encoded: any known syntax will do. */
        {IMPLICIT, JPEG_SV1, 0, 0, PACS_DELIVERY_CONVERTED},
        {RLE, EXPLICIT, 0, 0, PACS_DELIVERY_CONVERTED},
        {IMPLICIT, HTJ2K, 0, 0, PACS_DELIVERY_NONE},
        /* Unknown syntaxes and empty names. */
        {EXPLICIT, "1.2.3.4", 1, 0, PACS_DELIVERY_NONE},
        {"1.2.3.4", EXPLICIT, 0, 0, PACS_DELIVERY_NONE},
        {EXPLICIT, "", 1, 0, PACS_DELIVERY_NONE},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        pacs_delivery_kind got =
            pacs_delivery_kind_of(cases[i].from, cases[i].to, cases[i].pixels, cases[i].flags);
        if (got != cases[i].want) {
            fail_msg("%s -> %s (pixels %d, flags %u): %s, want %s", cases[i].from, cases[i].to,
                     cases[i].pixels, cases[i].flags, pacs_delivery_kind_name(got),
                     pacs_delivery_kind_name(cases[i].want));
        }
    }
    assert_int_equal(pacs_delivery_kind_of(NULL, EXPLICIT, 1, 0), PACS_DELIVERY_NONE);
}

static void test_choose(void **state)
{
    (void)state;
    const char *offer1[] = {JLS, IMPLICIT, EXPLICIT, RLE};
    assert_int_equal(pacs_delivery_choose(RLE, 1, offer1, 4, 0), 3);   /* as stored */
    assert_int_equal(pacs_delivery_choose(JPEG8, 1, offer1, 4, 0), 2); /* explicit LE */
    const char *offer2[] = {JLS, IMPLICIT};
    assert_int_equal(pacs_delivery_choose(JPEG8, 1, offer2, 2, 0), 1); /* implicit LE */
    const char *offer3[] = {JPEG8, J2K_LOSSLESS};
    assert_int_equal(pacs_delivery_choose(EXPLICIT, 1, offer3, 2, 0), 1); /* never lossy */
    const char *offer4[] = {JPEG8};
    assert_int_equal(pacs_delivery_choose(EXPLICIT, 1, offer4, 1, 0), -1);
    assert_int_equal(pacs_delivery_choose(EXPLICIT, 1, NULL, 0, 0), -1);
}

static void test_plan_refused(void **state)
{
    sample_archive *s = *state;
    pacs_resolve_list l = resolve(s, S_CT);
    pacs_delivery_plan p;
    memset(&p, 0x5a, sizeof p);
    pacs_errinfo ei;
    assert_int_equal(pacs_delivery_plan_for(&l.v[0], JPEG8, 0, &p, &ei), PACS_EUNSUPPORTED);
    assert_non_null(strstr(ei.msg, l.v[0].sop_uid));
    assert_int_equal(p.kind, (pacs_delivery_kind)0x5a5a5a5a); /* untouched */
    pacs_resolve_list_free(&l);
}

static void test_as_stored(void **state)
{
    sample_archive *s = *state;
    pacs_resolve_list l = resolve(s, S_J2K);
    pacs_delivery_plan p;
    pacs_delivery_stream out;
    pacs_errinfo ei;
    assert_int_equal(pacs_delivery_plan_for(&l.v[0], J2K, 0, &p, &ei), PACS_OK);
    assert_int_equal(p.kind, PACS_DELIVERY_AS_STORED);
    assert_int_equal(pacs_delivery_open(s->a, &l.v[0], &p, &out, &ei), PACS_OK);
    assert_int_equal(out.size, l.v[0].size);
    /* The stored object itself, byte for byte. */
    int fd = -1;
    assert_int_equal(pacs_archive_open_object(s->a, l.v[0].object, &fd, &ei), PACS_OK);
    uint8_t *a = malloc(out.size), *b = malloc(out.size);
    assert_int_equal(pread(out.fd, a, out.size, 0), (ssize_t)out.size);
    assert_int_equal(pread(fd, b, out.size, 0), (ssize_t)out.size);
    assert_memory_equal(a, b, out.size);
    free(a);
    free(b);
    close(fd);
    pacs_delivery_stream_close(&out);
    assert_int_equal(out.fd, -1);
    pacs_resolve_list_free(&l);
}

static void test_converted(void **state)
{
    sample_archive *s = *state;
    char src[512], path[512], ts[PACS_UID_MAX + 1];
    sample_path(S_CT, src, sizeof src);
    static const char *const targets[] = {IMPLICIT, BIG, DEFLATED};
    for (size_t i = 0; i < sizeof targets / sizeof targets[0]; i++) {
        deliver(s, S_CT, targets[i], 0, PACS_DELIVERY_CONVERTED, path, sizeof path);
        file_ts(path, ts);
        assert_string_equal(ts, targets[i]);
        same_frames(src, path);
        char *a = value_of(src, TAG_SOP), *b = value_of(path, TAG_SOP);
        assert_string_equal(a, b);
        free(a);
        free(b);
    }
    /* An object without pixel data, into a syntax that would need a codec for pixels. */
    deliver(s, S_PLAN, JPEG_SV1, 0, PACS_DELIVERY_CONVERTED, path, sizeof path);
    file_ts(path, ts);
    assert_string_equal(ts, JPEG_SV1);
    sample_path(S_PLAN, src, sizeof src);
    char *a = value_of(src, TAG_SOP), *b = value_of(path, TAG_SOP);
    assert_string_equal(a, b);
    free(a);
    free(b);
}

static void test_transcoded(void **state)
{
    sample_archive *s = *state;
    char src[512], path[512], ts[PACS_UID_MAX + 1];
    /* Compressed to uncompressed and back: the same pixels. */
    deliver(s, S_JLS, EXPLICIT, 0, PACS_DELIVERY_TRANSCODED, path, sizeof path);
    file_ts(path, ts);
    assert_string_equal(ts, EXPLICIT);
    same_frames(sample_path(S_JLS, src, sizeof src), path);
    deliver(s, S_RLE2, IMPLICIT, 0, PACS_DELIVERY_TRANSCODED, path, sizeof path);
    same_frames(sample_path(S_RLE2, src, sizeof src), path);
    deliver(s, S_CT, JLS, 0, PACS_DELIVERY_TRANSCODED, path, sizeof path);
    file_ts(path, ts);
    assert_string_equal(ts, JLS);
    same_frames(sample_path(S_CT, src, sizeof src), path);
    char *lossy = value_of(path, TAG_LOSSY);
    assert_string_not_equal(lossy, "01"); /* a lossless transcode is not marked lossy */
    free(lossy);
    /* A lossy source decoded keeps LossyImageCompression 01. */
    deliver(s, S_JPEG12, EXPLICIT, 0, PACS_DELIVERY_TRANSCODED, path, sizeof path);
    lossy = value_of(path, TAG_LOSSY);
    assert_string_equal(lossy, "01");
    free(lossy);
    /* A lossy target, allowed: marked lossy, still the same image size. */
    deliver(s, S_RLE2, JPEG8, PACS_DELIVERY_LOSSY, PACS_DELIVERY_TRANSCODED, path, sizeof path);
    lossy = value_of(path, TAG_LOSSY);
    assert_string_equal(lossy, "01");
    free(lossy);
    pacs_image_file *f = NULL;
    pacs_errinfo ei;
    assert_int_equal(pacs_image_file_open(path, &f, &ei), PACS_OK);
    assert_int_equal(pacs_image_desc_info(f->desc)->frames, 2);
    pacs_image_file_close(f);
}

static void test_failures(void **state)
{
    sample_archive *s = *state;
    pacs_resolve_list l = resolve(s, S_CT);
    pacs_resolve_item it = l.v[0];
    it.layout = NULL;
    memset(it.object, 'a', PACS_OBJECT_KEY_LEN); /* a key nothing is stored under */
    pacs_delivery_plan p;
    pacs_delivery_stream out;
    pacs_errinfo ei;
    uint64_t n = 0;
    assert_int_equal(pacs_delivery_plan_for(&it, IMPLICIT, 0, &p, &ei), PACS_OK);
    assert_int_equal(pacs_delivery_open(s->a, &it, &p, &out, &ei), PACS_ENOTFOUND);
    assert_int_equal(pacs_delivery_write(s->a, &it, &p, 1, &n, &ei), PACS_ENOTFOUND);
    assert_int_equal(n, 0);
    /* A plan the stored pixels cannot be made into: a 16-bit CT as 8-bit JPEG baseline. */
    assert_int_equal(pacs_delivery_plan_for(&l.v[0], JPEG8, PACS_DELIVERY_LOSSY, &p, &ei), PACS_OK);
    assert_int_equal(pacs_delivery_open(s->a, &l.v[0], &p, &out, &ei), PACS_EUNSUPPORTED);
    pacs_resolve_list_free(&l);
}

static void test_pixels_and_frames(void **state)
{
    sample_archive *s = *state;
    pacs_resolve_list l = resolve(s, S_RLE2);
    pacs_resolve_item scanned = l.v[0];
    scanned.layout = NULL; /* as forwarding and C-MOVE resolve: layout scanned from the object */
    scanned.layout_len = 0;
    pacs_delivery_pixels *a = NULL, *b = NULL;
    pacs_errinfo ei;
    assert_int_equal(pacs_delivery_pixels_open(s->a, &l.v[0], &a, &ei), PACS_OK);
    assert_int_equal(pacs_delivery_pixels_open(s->a, &scanned, &b, &ei), PACS_OK);
    assert_string_equal(pacs_delivery_pixels_source(a)->ts_uid, RLE);
    for (uint32_t i = 0; i < 2; i++) {
        pacs_frame *x = NULL, *y = NULL;
        assert_int_equal(pacs_image_decode(pacs_delivery_pixels_source(a),
                                           pacs_delivery_pixels_desc(a), i, &x, &ei),
                         PACS_OK);
        assert_int_equal(pacs_image_decode(pacs_delivery_pixels_source(b),
                                           pacs_delivery_pixels_desc(b), i, &y, &ei),
                         PACS_OK);
        assert_int_equal(x->size, y->size);
        assert_memory_equal(x->data, y->data, x->size);
        /* Frame i alone, as JPEG-LS: decodes back to the same pixels. */
        pacs_delivery_plan p;
        assert_int_equal(pacs_delivery_plan_for(&l.v[0], JLS, 0, &p, &ei), PACS_OK);
        pacs_codec_frame f;
        assert_int_equal(pacs_delivery_frame(a, i, &p, &f, &ei), PACS_OK);
        assert_true(f.len > 4 && f.data[0] == 0xFF && f.data[1] == 0xD8);
        pacs_frame *z = NULL;
        assert_int_equal(pacs_image_decode_bytes(JLS, &x->info, f.data, f.len, &z, &ei), PACS_OK);
        assert_int_equal(z->size, x->size);
        assert_memory_equal(z->data, x->data, x->size);
        pacs_frame_free(z);
        free(f.data);
        pacs_frame_free(x);
        pacs_frame_free(y);
    }
    pacs_delivery_pixels_close(a);
    pacs_delivery_pixels_close(b);
    pacs_resolve_list_free(&l);
    /* No pixel data, nothing to open. */
    l = resolve(s, S_PLAN);
    assert_int_equal(pacs_delivery_pixels_open(s->a, &l.v[0], &a, &ei), PACS_ENOTFOUND);
    pacs_resolve_list_free(&l);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kinds),        cmocka_unit_test(test_choose),
        cmocka_unit_test(test_plan_refused), cmocka_unit_test(test_as_stored),
        cmocka_unit_test(test_converted),    cmocka_unit_test(test_transcoded),
        cmocka_unit_test(test_failures),     cmocka_unit_test(test_pixels_and_frames),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
