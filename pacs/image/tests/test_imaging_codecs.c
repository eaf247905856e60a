// SPDX-License-Identifier: MIT
/*
 * Unit tests of frame codecs on synthetic frames: every lossless encoder round-trips exactly
 * through the decoder of its syntax (RLE, JPEG lossless, JPEG-LS, JPEG 2000, HTJ2K, for grey
 * 8/16-bit signed and RGB), lossy ones stay within a bound, native frames are normalised (big
 * endian, planes, 1 bit), and damaged streams give an error, never a crash.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pacs/base/log.h"
#include "pacs/dicom/codec.h"
#include "pacs/dicom/dcm.h"
#include "pacs/dicom/htj2k.h"
#include "pacs/image/decode.h"
#include "pacs/image/internal.h"

typedef struct sample_image {
    pacs_image_info info;
    uint8_t *px;
    size_t len;
} sample_image;

/* A smooth gradient with a little noise: real enough for codecs, reproducible. */
static sample_image make(uint32_t rows, uint32_t cols, int samples, int bits, int is_signed)
{
    sample_image s;
    memset(&s, 0, sizeof s);
    s.info.rows = rows;
    s.info.cols = cols;
    s.info.frames = 1;
    s.info.samples = (uint16_t)samples;
    s.info.bits_allocated = bits > 8 ? 16 : 8;
    s.info.bits_stored = (uint16_t)bits;
    s.info.high_bit = (uint16_t)(bits - 1);
    s.info.pixel_rep = (uint16_t)is_signed;
    snprintf(s.info.photometric, sizeof s.info.photometric, "%s",
             samples == 3 ? "RGB" : "MONOCHROME2");
    s.len = pacs_image_frame_size(&s.info);
    s.px = malloc(s.len);
    uint32_t seed = 12345;
    int32_t span = 1 << bits, lo = is_signed ? -(span / 2) : 0;
    size_t n = (size_t)rows * cols * (size_t)samples;
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1103515245u + 12345u;
        size_t p = i / (size_t)samples;
        int32_t v = lo + (int32_t)(((p % cols) * 7 + (p / cols) * 3 + (i % (size_t)samples) * 50) %
                                   (uint32_t)span);
        v += (int32_t)((seed >> 16) % 5) - 2;
        v = v < lo ? lo : v >= lo + span ? lo + span - 1 : v;
        uint32_t u = (uint32_t)v & (uint32_t)(span - 1);
        if (s.info.bits_allocated == 8) {
            s.px[i] = (uint8_t)u;
        } else {
            s.px[2 * i] = (uint8_t)u;
            s.px[2 * i + 1] = (uint8_t)(u >> 8);
        }
    }
    return s;
}

/* Mean absolute difference of the last max_diff() call (for lossy codecs). */
static double last_mean;

/* Largest difference between stored values of two native frames of `info`. */
static int max_diff(const pacs_image_info *info, const uint8_t *a, const uint8_t *b)
{
    size_t n = (size_t)info->rows * info->cols * info->samples;
    int worst = 0;
    double sum = 0;
    for (size_t i = 0; i < n; i++) {
        int32_t x, y;
        if (info->bits_allocated == 8) {
            x = a[i], y = b[i];
        } else {
            uint32_t m = (1u << info->bits_stored) - 1u, sb = 1u << (info->bits_stored - 1);
            uint32_t ux = (uint32_t)(a[2 * i] | (a[2 * i + 1] << 8)) & m;
            uint32_t uy = (uint32_t)(b[2 * i] | (b[2 * i + 1] << 8)) & m;
            x = info->pixel_rep && (ux & sb) ? (int32_t)(ux | ~m) : (int32_t)ux;
            y = info->pixel_rep && (uy & sb) ? (int32_t)(uy | ~m) : (int32_t)uy;
        }
        int d = abs(x - y);
        worst = d > worst ? d : worst;
        sum += d;
    }
    last_mean = n ? sum / (double)n : 0;
    return worst;
}

/* Encodes with the codec for `ts`, decodes through pacs_image_decode_bytes, returns the error. */
static int round_trip(const char *ts, sample_image *s, int quality, size_t *packed)
{
    pacs_codec_frame enc;
    pacs_errinfo ei;
    pacs_err err;
    memset(&enc, 0, sizeof enc);
    pacs_codec_image img;
    pacs_image__codec_image(&s->info, &img);
    int lossless = quality == 0;
    if (!strcmp(ts, PACS_TS_J2K_LOSSLESS) || !strcmp(ts, PACS_TS_J2K)) {
        err = pacs_image__j2k_encode(&s->info, s->px, s->len, lossless, quality, &enc, &ei);
    } else if (!strcmp(ts, PACS_TS_HTJ2K_LOSSLESS) || !strcmp(ts, PACS_TS_HTJ2K)) {
        err = pacs_htj2k_encode(&img, s->px, s->len, lossless, quality, &enc, &ei);
    } else {
        err = pacs_codec_encode(ts, &img, s->px, s->len, quality, &enc, &ei);
    }
    if (err) {
        fail_msg("encode %s: %s", ts, ei.msg);
    }
    assert_true(enc.len > 0 && enc.len % 2 == 0);
    *packed = enc.len;
    pacs_image_info info = s->info;
    snprintf(info.photometric, sizeof info.photometric, "%s", enc.photometric);
    pacs_frame *f = NULL;
    err = pacs_image_decode_bytes(ts, &info, enc.data, enc.len, &f, &ei);
    if (err) {
        fail_msg("decode %s: %s", ts, ei.msg);
    }
    assert_int_equal(f->size, s->len);
    if (s->info.samples == 3) {
        assert_string_equal(f->info.photometric, "RGB");
    }
    int d = max_diff(&s->info, s->px, f->data);
    /* Damaged copies of the same stream: an error or some pixels, never a crash. */
    for (size_t k = 0; k < 24; k++) {
        uint8_t *bad = malloc(enc.len);
        memcpy(bad, enc.data, enc.len);
        size_t at = (k * 2654435761u) % enc.len;
        bad[at] ^= (uint8_t)(0x5A + k);
        size_t cut = k % 3 == 0 ? enc.len / 2 : enc.len;
        pacs_frame *g = NULL;
        if (pacs_image_decode_bytes(ts, &info, bad, cut, &g, &ei) == PACS_OK) {
            assert_int_equal(g->size, s->len);
            pacs_frame_free(g);
        }
        free(bad);
    }
    pacs_frame_free(f);
    free(enc.data);
    return d;
}

static void test_lossless_round_trips(void **state)
{
    (void)state;
    static const char *const ts[] = {PACS_TS_RLE,
                                     PACS_TS_JPEG_LOSSLESS,
                                     PACS_TS_JPEG_LOSSLESS_SV1,
                                     PACS_TS_JPEGLS_LOSSLESS,
                                     PACS_TS_J2K_LOSSLESS,
                                     PACS_TS_HTJ2K_LOSSLESS};
    struct {
        int samples, bits, is_signed;
    } kinds[] = {{1, 8, 0}, {1, 12, 0}, {1, 16, 1}, {3, 8, 0}};
    for (size_t k = 0; k < sizeof kinds / sizeof kinds[0]; k++) {
        sample_image s = make(67, 45, kinds[k].samples, kinds[k].bits, kinds[k].is_signed);
        for (size_t t = 0; t < sizeof ts / sizeof ts[0]; t++) {
            size_t packed = 0;
            int d = round_trip(ts[t], &s, 0, &packed);
            if (d != 0) {
                fail_msg("%s, %d samples of %d bits: max difference %d", ts[t], kinds[k].samples,
                         kinds[k].bits, d);
            }
        }
        free(s.px);
    }
}

static void test_lossy_within_bounds(void **state)
{
    (void)state;
    size_t packed = 0;
    /* Lossy codecs: the mean error stays within a few levels of the sample range. */
    sample_image g8 = make(64, 80, 1, 8, 0);
    round_trip(PACS_TS_JPEG_BASELINE, &g8, 90, &packed);
    assert_true(last_mean <= 4.0);
    sample_image c8 = make(64, 80, 3, 8, 0);
    round_trip(PACS_TS_JPEG_BASELINE, &c8, 95, &packed);
    /* 4:2:2 chroma on a pattern with a sharp edge every 36 columns: ~8.5 levels. */
    print_message("JPEG colour: mean error %.2f\n", last_mean);
    assert_true(last_mean <= 12.0);
    sample_image g12 = make(64, 80, 1, 12, 0);
    round_trip(PACS_TS_JPEG_EXTENDED, &g12, 90, &packed);
    assert_true(last_mean <= 16.0 * 4);
    assert_true(round_trip(PACS_TS_JPEGLS_NEAR, &g12, 0, &packed) <= 2); /* NEAR=2 */
    sample_image g16 = make(64, 80, 1, 16, 1);
    round_trip(PACS_TS_J2K, &g16, 90, &packed);
    print_message("J2K lossy: mean error %.1f of 65536, %zu -> %zu bytes\n", last_mean, g16.len,
                  packed);
    assert_true(last_mean <= 256 * 4 && packed < g16.len);
    round_trip(PACS_TS_HTJ2K, &g16, 90, &packed);
    print_message("HTJ2K lossy: mean error %.1f of 65536, %zu -> %zu bytes\n", last_mean, g16.len,
                  packed);
    assert_true(last_mean <= 256 * 4 && packed < g16.len);
    pacs_codec_frame enc;
    pacs_errinfo ei;
    pacs_codec_image img;
    pacs_image__codec_image(&g16.info, &img);
    assert_int_equal(pacs_codec_encode(PACS_TS_JPEG_BASELINE, &img, g16.px, g16.len, 90, &enc, &ei),
                     PACS_EUNSUPPORTED);
    free(g8.px);
    free(c8.px);
    free(g12.px);
    free(g16.px);
}

static void test_native_frames(void **state)
{
    (void)state;
    pacs_image_info info = {2, 2, 1, 1, 16, 12, 11, 0, 0, "MONOCHROME2"};
    uint8_t be[8] = {0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08};
    pacs_frame *f = NULL;
    pacs_errinfo ei;
    assert_int_equal(pacs_image_decode_bytes(PACS_TS_EXPLICIT_BE, &info, be, 8, &f, &ei), PACS_OK);
    assert_int_equal(f->data[0], 0x02);
    assert_int_equal(f->data[1], 0x01);
    pacs_frame_free(f);
    assert_int_equal(pacs_image_decode_bytes(PACS_TS_EXPLICIT_LE, &info, be, 7, &f, &ei),
                     PACS_EBADDATA);
    pacs_image_info rgb = {1, 2, 1, 3, 8, 8, 7, 0, 1, "RGB"};
    uint8_t planes[6] = {1, 2, 10, 20, 100, 200};
    assert_int_equal(pacs_image_decode_bytes(PACS_TS_EXPLICIT_LE, &rgb, planes, 6, &f, &ei),
                     PACS_OK);
    uint8_t want[6] = {1, 10, 100, 2, 20, 200};
    assert_memory_equal(f->data, want, 6);
    assert_int_equal(f->info.planar, 0);
    pacs_frame_free(f);
    pacs_image_info bits = {3, 3, 1, 1, 1, 1, 0, 0, 0, "MONOCHROME2"};
    uint8_t packed[2] = {0x05, 0x01}; /* pixels 0 and 2 set, pixel 8 set */
    assert_int_equal(pacs_image_decode_bytes(PACS_TS_IMPLICIT_LE, &bits, packed, 2, &f, &ei),
                     PACS_OK);
    uint8_t unpacked[9] = {1, 0, 1, 0, 0, 0, 0, 0, 1};
    assert_memory_equal(f->data, unpacked, 9);
    pacs_frame_free(f);
}

static void test_bad_input(void **state)
{
    (void)state;
    pacs_image_info info = {16, 16, 1, 1, 16, 16, 15, 1, 0, "MONOCHROME2"};
    uint8_t junk[64];
    memset(junk, 0xA5, sizeof junk);
    pacs_frame *f = NULL;
    pacs_errinfo ei;
    static const char *const ts[] = {PACS_TS_RLE,           PACS_TS_JPEG_BASELINE,
                                     PACS_TS_JPEG_LOSSLESS, PACS_TS_JPEGLS_LOSSLESS,
                                     PACS_TS_J2K,           PACS_TS_HTJ2K};
    for (size_t t = 0; t < sizeof ts / sizeof ts[0]; t++) {
        pacs_err err = pacs_image_decode_bytes(ts[t], &info, junk, sizeof junk, &f, &ei);
        if (err == PACS_OK) {
            fail_msg("%s decoded junk", ts[t]);
        }
        assert_true(ei.msg[0] != '\0');
    }
    /* A J2K main header alone (SOC, SIZ start) and nothing after it. */
    uint8_t j2k[8] = {0xFF, 0x4F, 0xFF, 0x51, 0x00, 0x29, 0x00, 0x00};
    assert_int_equal(pacs_image_decode_bytes(PACS_TS_J2K, &info, j2k, 8, &f, &ei), PACS_EBADDATA);
    assert_int_equal(pacs_image_decode_bytes("1.2.3.4", &info, junk, 8, &f, &ei),
                     PACS_EUNSUPPORTED);
    /* Crashes fuzz_decode found in DCMTK 3.6.7, now stopped before DCMTK sees the bytes: an
     * RLE segment offset past the frame (read out of bounds), a JPEG segment of length 0
     * (endless loop while looking for the bit depth). */
    uint8_t rle[80];
    memset(rle, 0, sizeof rle);
    rle[0] = 2;    /* two segments for 16-bit grey */
    rle[4] = 64;   /* first at 64 */
    rle[9] = 0x40; /* second at 0x4000, far past the end */
    assert_int_equal(pacs_image_decode_bytes(PACS_TS_RLE, &info, rle, sizeof rle, &f, &ei),
                     PACS_EBADDATA);
    uint8_t jpg[16] = {0xFF, 0xD8, 0xFF, 0xE0, 0x00, 0x00, 0xFF, 0xC0, 0, 11, 8, 0, 16, 0, 16, 1};
    assert_int_equal(pacs_image_decode_bytes(PACS_TS_JPEG_LOSSLESS, &info, jpg, 16, &f, &ei),
                     PACS_EBADDATA);
    pacs_image_info huge = {65535, 65535, 1, 3, 32, 32, 31, 0, 0, "RGB"};
    assert_int_equal(pacs_image_decode_bytes(PACS_TS_EXPLICIT_LE, &huge, junk, 8, &f, &ei),
                     PACS_ETOOBIG);
    pacs_image_info zero = {0, 16, 1, 1, 16, 16, 15, 1, 0, "MONOCHROME2"};
    assert_int_equal(pacs_image_decode_bytes(PACS_TS_EXPLICIT_LE, &zero, junk, 8, &f, &ei),
                     PACS_EBADDATA);
}

static int setup(void **state)
{
    (void)state;
    pacs_errinfo ei;
    if (getenv("PACS_TEST_DEBUG")) {
        pacs_log_set_level(PACS_LOG_DEBUG);
    }
    return pacs_dcm_init(&ei) == PACS_OK ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lossless_round_trips),
        cmocka_unit_test(test_lossy_within_bounds),
        cmocka_unit_test(test_native_frames),
        cmocka_unit_test(test_bad_input),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
