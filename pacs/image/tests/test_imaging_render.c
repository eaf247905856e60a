// SPDX-License-Identifier: MIT
/*
 * Unit tests of rendering: PS3.18 window and viewport parameters, the VOI functions of PS3.3
 * C.11.2.1.2-3 at known points, rescale, MONOCHROME1, YBR_FULL and palette colour, scaling.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "pacs/image/decode.h"
#include "pacs/image/encode.h"
#include "pacs/image/render.h"

static pacs_image_desc *desc_from(const char *text)
{
    json_error_t je;
    json_t *j = json_loads(text, 0, &je);
    assert_non_null(j);
    pacs_image_desc *d = NULL;
    pacs_errinfo ei;
    assert_int_equal(pacs_image_desc_from_json(j, &d, &ei), PACS_OK);
    json_decref(j);
    return d;
}

#define GREY16S                                                                                    \
    "\"00280010\":{\"vr\":\"US\",\"Value\":[1]},\"00280011\":{\"vr\":\"US\",\"Value\":[%d]},"      \
    "\"00280002\":{\"vr\":\"US\",\"Value\":[1]},\"00280100\":{\"vr\":\"US\",\"Value\":[16]},"      \
    "\"00280101\":{\"vr\":\"US\",\"Value\":[16]},\"00280102\":{\"vr\":\"US\",\"Value\":[15]},"     \
    "\"00280103\":{\"vr\":\"US\",\"Value\":[1]}"

/* A one-row signed 16-bit frame holding `v`. */
static pacs_frame *row16(const pacs_image_desc *d, const int16_t *v, int n)
{
    pacs_frame *f = calloc(1, sizeof *f);
    f->info = *pacs_image_desc_info(d);
    f->size = (size_t)n * 2;
    f->data = malloc(f->size);
    for (int i = 0; i < n; i++) {
        f->data[2 * i] = (uint8_t)(uint16_t)v[i];
        f->data[2 * i + 1] = (uint8_t)((uint16_t)v[i] >> 8);
    }
    return f;
}

static pacs_rendered *render(const pacs_image_desc *d, const pacs_frame *f,
                             const pacs_render_params *p)
{
    pacs_rendered *r = NULL;
    pacs_errinfo ei;
    pacs_err err = pacs_image_render(d, f, 0, p, &r, &ei);
    if (err) {
        fail_msg("render: %s", ei.msg);
    }
    return r;
}

static void test_parse_window(void **state)
{
    (void)state;
    pacs_render_params p;
    pacs_errinfo ei;
    memset(&p, 0, sizeof p);
    assert_int_equal(pacs_render_parse_window("40,400", &p, &ei), PACS_OK);
    assert_true(p.has_window);
    assert_true(p.center == 40 && p.width == 400 && p.function == PACS_VOI_LINEAR);
    assert_int_equal(pacs_render_parse_window("-600,1500,sigmoid", &p, &ei), PACS_OK);
    assert_int_equal(p.function, PACS_VOI_SIGMOID);
    assert_int_equal(pacs_render_parse_window("0.5,0.5,linear-exact", &p, &ei), PACS_OK);
    const char *bad[] = {"",        "40",     "40,",      "40,0",    "40,-3", "40,400,cubic",
                         "nan,400", "40,inf", "1e300,10", "40,400,", "a,b",   "40,0.5"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memset(&p, 0, sizeof p);
        if (pacs_render_parse_window(bad[i], &p, &ei) != PACS_EINVAL) {
            fail_msg("window '%s' was accepted", bad[i]);
        }
        assert_false(p.has_window);
    }
}

static void test_parse_viewport(void **state)
{
    (void)state;
    pacs_render_params p;
    pacs_errinfo ei;
    memset(&p, 0, sizeof p);
    assert_int_equal(pacs_render_parse_viewport("256,128", &p, &ei), PACS_OK);
    assert_int_equal(p.vp_cols, 256);
    assert_int_equal(p.vp_rows, 128);
    const char *bad[] = {"", "0,10", "10", "10,", "-1,5", "99999,10", "10,10x", "1e3,10"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(pacs_render_parse_viewport(bad[i], &p, &ei), PACS_EINVAL);
    }
    assert_int_equal(pacs_render_parse_viewport("10,10,0,0,5,5", &p, &ei), PACS_EUNSUPPORTED);
}

static void test_linear_window(void **state)
{
    (void)state;
    char text[1024];
    snprintf(text, sizeof text, "{" GREY16S "}", 5);
    pacs_image_desc *d = desc_from(text);
    /* c=100, w=201 (PS3.3 linear): x <= -0.5 -> 0, x > 199.5 -> 255, x = 99.5 -> 127.5. */
    int16_t v[5] = {-1, 0, 100, 199, 200};
    pacs_frame *f = row16(d, v, 5);
    pacs_render_params p = {1, 100, 201, PACS_VOI_LINEAR, 0, 0};
    pacs_rendered *r = render(d, f, &p);
    assert_int_equal(r->channels, 1);
    assert_int_equal(r->data[0], 0);
    assert_int_equal(r->data[1], 1);   /* ((0 - 99.5) / 200 + 0.5) * 255 = 0.64 */
    assert_int_equal(r->data[2], 128); /* 128.14 */
    assert_int_equal(r->data[3], 254); /* 254.36 */
    assert_int_equal(r->data[4], 255);
    pacs_rendered_free(r);
    pacs_frame_free(f);
    pacs_image_desc_free(d);
}

static void test_voi_functions(void **state)
{
    (void)state;
    char text[1024];
    snprintf(text, sizeof text, "{" GREY16S "}", 3);
    pacs_image_desc *d = desc_from(text);
    int16_t v[3] = {-1000, 50, 1000};
    pacs_frame *f = row16(d, v, 3);
    pacs_render_params p = {1, 50, 100, PACS_VOI_SIGMOID, 0, 0};
    pacs_rendered *r = render(d, f, &p);
    assert_true(r->data[0] <= 1);
    assert_true(r->data[1] == 128 || r->data[1] == 127); /* 255 / 2 at the centre */
    assert_true(r->data[2] >= 254);
    pacs_rendered_free(r);
    p.function = PACS_VOI_LINEAR_EXACT;
    r = render(d, f, &p);
    assert_int_equal(r->data[0], 0);
    assert_true(r->data[1] == 128 || r->data[1] == 127);
    assert_int_equal(r->data[2], 255);
    pacs_rendered_free(r);
    pacs_frame_free(f);
    pacs_image_desc_free(d);
}

static void test_rescale_and_dataset_window(void **state)
{
    (void)state;
    char text[2048];
    /* CT: stored 1024 with intercept -1024 is 0 HU; window 0/2 from the dataset. */
    snprintf(text, sizeof text,
             "{" GREY16S ",\"00281052\":{\"vr\":\"DS\",\"Value\":[-1024]},"
             "\"00281053\":{\"vr\":\"DS\",\"Value\":[1]},"
             "\"00281050\":{\"vr\":\"DS\",\"Value\":[0.5,300]},"
             "\"00281051\":{\"vr\":\"DS\",\"Value\":[2,1000]}}",
             3);
    pacs_image_desc *d = desc_from(text);
    int16_t v[3] = {1023, 1024, 1025};
    pacs_frame *f = row16(d, v, 3);
    pacs_render_params p;
    memset(&p, 0, sizeof p);
    pacs_rendered *r = render(d, f, &p);
    assert_int_equal(r->data[0], 0);   /* -1 HU <= c - 0.5 - (w - 1) / 2 */
    assert_int_equal(r->data[1], 128); /* 0 HU: ((0 - 0) / 1 + 0.5) * 255 */
    assert_int_equal(r->data[2], 255); /* 1 HU > c - 0.5 + (w - 1) / 2 */
    pacs_rendered_free(r);
    pacs_frame_free(f);
    pacs_image_desc_free(d);
}

static void test_monochrome1_inverted(void **state)
{
    (void)state;
    char text[1024];
    snprintf(text, sizeof text,
             "{" GREY16S ",\"00280004\":{\"vr\":\"CS\",\"Value\":[\"MONOCHROME1\"]}}", 2);
    pacs_image_desc *d = desc_from(text);
    int16_t v[2] = {0, 1000};
    pacs_frame *f = row16(d, v, 2);
    pacs_render_params p;
    memset(&p, 0, sizeof p);
    pacs_rendered *r = render(d, f, &p); /* no window: the frame's range */
    assert_int_equal(r->data[0], 255);
    assert_int_equal(r->data[1], 0);
    pacs_rendered_free(r);
    pacs_frame_free(f);
    pacs_image_desc_free(d);
}

static void test_ybr_full_and_palette(void **state)
{
    (void)state;
    const char *ybr = "{\"00280010\":{\"vr\":\"US\",\"Value\":[1]},"
                      "\"00280011\":{\"vr\":\"US\",\"Value\":[2]},"
                      "\"00280002\":{\"vr\":\"US\",\"Value\":[3]},"
                      "\"00280100\":{\"vr\":\"US\",\"Value\":[8]},"
                      "\"00280004\":{\"vr\":\"CS\",\"Value\":[\"YBR_FULL\"]}}";
    pacs_image_desc *d = desc_from(ybr);
    pacs_frame f = {*pacs_image_desc_info(d), NULL, 6};
    uint8_t px[6] = {76, 85, 255, 150, 44, 21}; /* pure red, pure green in YCbCr */
    f.data = px;
    pacs_render_params p;
    memset(&p, 0, sizeof p);
    pacs_rendered *r = render(d, &f, &p);
    assert_int_equal(r->channels, 3);
    assert_true(r->data[0] >= 253 && r->data[1] <= 2 && r->data[2] <= 2);
    assert_true(r->data[3] <= 2 && r->data[4] >= 253 && r->data[5] <= 3);
    pacs_rendered_free(r);
    pacs_image_desc_free(d);
    /* Palette: 4 entries of 16 bits, first mapped value 0; index 2 is (0xFF00, 0x8000, 0). */
    const char *pal = "{\"00280010\":{\"vr\":\"US\",\"Value\":[1]},"
                      "\"00280011\":{\"vr\":\"US\",\"Value\":[2]},"
                      "\"00280100\":{\"vr\":\"US\",\"Value\":[8]},"
                      "\"00280004\":{\"vr\":\"CS\",\"Value\":[\"PALETTE COLOR\"]},"
                      "\"00281101\":{\"vr\":\"US\",\"Value\":[4,0,16]},"
                      "\"00281102\":{\"vr\":\"US\",\"Value\":[4,0,16]},"
                      "\"00281103\":{\"vr\":\"US\",\"Value\":[4,0,16]},"
                      "\"00281201\":{\"vr\":\"OW\",\"Value\":[0,0,65280,0]},"
                      "\"00281202\":{\"vr\":\"OW\",\"Value\":[0,0,32768,0]},"
                      "\"00281203\":{\"vr\":\"OW\",\"InlineBinary\":\"AAAAAAAAAAA=\"}}";
    d = desc_from(pal);
    uint8_t idx[2] = {2, 9};
    pacs_frame g = {*pacs_image_desc_info(d), idx, 2};
    r = render(d, &g, &p);
    assert_int_equal(r->channels, 3);
    assert_int_equal(r->data[0], 255);
    assert_int_equal(r->data[1], 128);
    assert_int_equal(r->data[2], 0);
    assert_int_equal(r->data[3], 0); /* index past the end takes the last entry */
    pacs_rendered_free(r);
    pacs_image_desc_free(d);
}

static void test_viewport_scaling(void **state)
{
    (void)state;
    const char *grey = "{\"00280010\":{\"vr\":\"US\",\"Value\":[100]},"
                       "\"00280011\":{\"vr\":\"US\",\"Value\":[200]},"
                       "\"00280100\":{\"vr\":\"US\",\"Value\":[8]}}";
    pacs_image_desc *d = desc_from(grey);
    pacs_frame f = {*pacs_image_desc_info(d), NULL, 20000};
    f.data = malloc(20000);
    for (int i = 0; i < 20000; i++) {
        f.data[i] = (uint8_t)((i % 200) < 100 ? 0 : 255); /* left half black, right white */
    }
    pacs_render_params p;
    memset(&p, 0, sizeof p);
    p.vp_cols = 64;
    p.vp_rows = 64; /* aspect 2:1 kept: 64x32 */
    pacs_rendered *r = render(d, &f, &p);
    assert_int_equal(r->cols, 64);
    assert_int_equal(r->rows, 32);
    assert_int_equal(r->data[0], 0);
    assert_int_equal(r->data[63], 255);
    pacs_rendered_free(r);
    p.vp_cols = 400;
    p.vp_rows = 400; /* enlarging: 400x200 */
    r = render(d, &f, &p);
    assert_int_equal(r->cols, 400);
    assert_int_equal(r->rows, 200);
    uint8_t *jpg = NULL;
    size_t len = 0;
    pacs_errinfo ei;
    assert_int_equal(pacs_image_encode(r, PACS_IMAGE_JPEG, 80, &jpg, &len, &ei), PACS_OK);
    assert_true(len > 100 && jpg[0] == 0xFF && jpg[1] == 0xD8);
    free(jpg);
    assert_int_equal(pacs_image_encode(r, PACS_IMAGE_PNG, 0, &jpg, &len, &ei), PACS_OK);
    assert_true(len > 8 && memcmp(jpg, "\x89PNG", 4) == 0);
    free(jpg);
    assert_int_equal(pacs_image_encode(r, PACS_IMAGE_JPEG, 0, &jpg, &len, &ei), PACS_EINVAL);
    pacs_rendered_free(r);
    p.vp_cols = 100000; /* absurd */
    assert_int_equal(pacs_image_render(d, &f, 0, &p, &r, &ei), PACS_EINVAL);
    memset(&p, 0, sizeof p);
    p.has_window = 1;
    p.width = -5;
    assert_int_equal(pacs_image_render(d, &f, 0, &p, &r, &ei), PACS_EINVAL);
    free(f.data);
    pacs_image_desc_free(d);
}

static void test_bad_descriptions(void **state)
{
    (void)state;
    const char *bad[] = {
        "{}",
        "{\"00280010\":{\"vr\":\"US\",\"Value\":[0]},\"00280011\":{\"vr\":\"US\",\"Value\":[2]},"
        "\"00280100\":{\"vr\":\"US\",\"Value\":[8]}}",
        "{\"00280010\":{\"vr\":\"US\",\"Value\":[2]},\"00280011\":{\"vr\":\"US\",\"Value\":[2]},"
        "\"00280100\":{\"vr\":\"US\",\"Value\":[12]}}",
        "{\"00280010\":{\"vr\":\"US\",\"Value\":[2]},\"00280011\":{\"vr\":\"US\",\"Value\":[2]},"
        "\"00280100\":{\"vr\":\"US\",\"Value\":[8]},\"00280101\":{\"vr\":\"US\",\"Value\":[9]}}",
    };
    pacs_errinfo ei;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        json_t *j = json_loads(bad[i], 0, NULL);
        pacs_image_desc *d = NULL;
        assert_int_equal(pacs_image_desc_from_json(j, &d, &ei), PACS_EBADDATA);
        json_decref(j);
    }
    /* A VOI LUT kept as bulk data needs the file. */
    json_t *j = json_loads(
        "{\"00280010\":{\"vr\":\"US\",\"Value\":[2]},\"00280011\":{\"vr\":\"US\",\"Value\":[2]},"
        "\"00280100\":{\"vr\":\"US\",\"Value\":[16]},\"00283010\":{\"vr\":\"SQ\",\"Value\":[{"
        "\"00283002\":{\"vr\":\"US\",\"Value\":[4096,0,12]},"
        "\"00283006\":{\"vr\":\"OW\",\"BulkDataURI\":\"bulkdata/00283010/0/00283006\"}}]}}",
        0, NULL);
    pacs_image_desc *d = NULL;
    assert_int_equal(pacs_image_desc_from_json(j, &d, &ei), PACS_EAGAIN);
    json_decref(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_window),
        cmocka_unit_test(test_parse_viewport),
        cmocka_unit_test(test_linear_window),
        cmocka_unit_test(test_voi_functions),
        cmocka_unit_test(test_rescale_and_dataset_window),
        cmocka_unit_test(test_monochrome1_inverted),
        cmocka_unit_test(test_ybr_full_and_palette),
        cmocka_unit_test(test_viewport_scaling),
        cmocka_unit_test(test_bad_descriptions),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
