// SPDX-License-Identifier: MIT
/*
 * The object description (decode.h): what a frame decoder and the renderer need to know about an
 * image object (size, pixel format, photometric interpretation, windows, modality and VOI LUTs,
 * palettes, per-frame values), read from the instance's DICOM JSON. Load: once per object per
 * cache miss, a walk over a few dozen attributes. Thread-safe: no shared state.
 */
#include "pacs/image/decode.h"

#include <math.h>
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>

#include "pacs/dicom/codec.h"
#include "pacs/image/internal.h"
#include "pacs/image/render.h"

static const json_t *attr(const json_t *ds, const char *key)
{
    return ds ? json_object_get(ds, key) : NULL;
}

/* Value `i` of a numeric or numeric-string attribute; 0 when present, -1 when absent. */
static int num_at(const json_t *ds, const char *key, size_t i, double *v)
{
    const json_t *a = attr(ds, key);
    const json_t *vals = a ? json_object_get(a, "Value") : NULL;
    const json_t *x = json_is_array(vals) ? json_array_get(vals, i) : NULL;
    if (json_is_number(x)) {
        *v = json_number_value(x);
        return 0;
    }
    if (json_is_string(x)) {
        char *end = NULL;
        const char *s = json_string_value(x);
        double d = strtod(s, &end);
        if (end != s && isfinite(d)) {
            *v = d;
            return 0;
        }
    }
    return -1;
}

static size_t n_values(const json_t *ds, const char *key)
{
    const json_t *a = attr(ds, key);
    const json_t *vals = a ? json_object_get(a, "Value") : NULL;
    return json_is_array(vals) ? json_array_size(vals) : 0;
}

static int str_at(const json_t *ds, const char *key, char *buf, size_t cap)
{
    const json_t *a = attr(ds, key);
    const json_t *vals = a ? json_object_get(a, "Value") : NULL;
    const json_t *x = json_is_array(vals) ? json_array_get(vals, 0) : NULL;
    if (!json_is_string(x)) {
        return -1;
    }
    snprintf(buf, cap, "%s", json_string_value(x));
    return 0;
}

/* The first item of a sequence attribute, or NULL. */
static const json_t *item0(const json_t *ds, const char *key)
{
    const json_t *a = attr(ds, key);
    const json_t *vals = a ? json_object_get(a, "Value") : NULL;
    const json_t *x = json_is_array(vals) ? json_array_get(vals, 0) : NULL;
    return json_is_object(x) ? x : NULL;
}

/* A 16-bit-per-entry LUT from a descriptor and data attribute inside `item`. */
static pacs_err read_lut(const json_t *item, const char *desc_key, const char *data_key,
                         pacs_image__lut *lut, pacs_errinfo *ei)
{
    double n = 0, first = 0, bits = 0;
    if (num_at(item, desc_key, 0, &n) || num_at(item, desc_key, 1, &first) ||
        num_at(item, desc_key, 2, &bits)) {
        return pacs_errf(ei, PACS_EBADDATA, "LUT descriptor %s is incomplete", desc_key);
    }
    if (n == 0) {
        n = 65536;
    }
    if (n < 1 || n > 65536 || bits < 1 || bits > 16 || first < -65536 || first > 65535) {
        return pacs_errf(ei, PACS_EBADDATA, "LUT descriptor %s out of range", desc_key);
    }
    const json_t *a = attr(item, data_key);
    if (!a) {
        return pacs_errf(ei, PACS_EBADDATA, "LUT data %s is missing", data_key);
    }
    if (json_object_get(a, "BulkDataURI")) {
        return pacs_errf(ei, PACS_EAGAIN, "LUT data %s is bulk data", data_key);
    }
    uint16_t *data = calloc((size_t)n, sizeof *data);
    if (!data) {
        return pacs_errf(ei, PACS_ENOMEM, "out of memory");
    }
    const json_t *ib = json_object_get(a, "InlineBinary");
    const json_t *vals = json_object_get(a, "Value");
    if (json_is_string(ib)) {
        const char *b64 = json_string_value(ib);
        size_t blen = strlen(b64);
        unsigned char *raw = malloc(blen / 4 * 3 + 4);
        int got = raw ? EVP_DecodeBlock(raw, (const unsigned char *)b64, (int)blen) : -1;
        if (got < 0) {
            free(raw);
            free(data);
            return pacs_errf(ei, PACS_EBADDATA, "LUT data %s: bad base64", data_key);
        }
        /* EVP_DecodeBlock counts padding as data: drop what '=' stood for. */
        while (blen > 0 && b64[blen - 1] == '=') {
            blen--;
            got--;
        }
        size_t words = (size_t)got / 2;
        if (bits <= 8 && (size_t)got >= (size_t)n && words < (size_t)n) {
            for (size_t i = 0; i < (size_t)n; i++) { /* 8-bit entries, one per byte */
                data[i] = raw[i];
            }
        } else {
            for (size_t i = 0; i < (size_t)n && i < words; i++) {
                data[i] = (uint16_t)(raw[2 * i] | (raw[2 * i + 1] << 8));
            }
        }
        free(raw);
    } else if (json_is_array(vals)) {
        for (size_t i = 0; i < (size_t)n && i < json_array_size(vals); i++) {
            json_t *x = json_array_get(vals, i);
            data[i] = json_is_number(x) ? (uint16_t)(int)json_number_value(x) : 0;
        }
    } else {
        free(data);
        return pacs_errf(ei, PACS_EBADDATA, "LUT data %s has no value", data_key);
    }
    lut->n = (uint32_t)n;
    lut->first = (int32_t)first;
    lut->bits = (uint16_t)bits;
    lut->data = data;
    return PACS_OK;
}

static int parse_voi_function(const json_t *ds)
{
    char f[32];
    if (str_at(ds, "00281056", f, sizeof f) == 0) {
        if (strcmp(f, "SIGMOID") == 0) {
            return PACS_VOI_SIGMOID;
        }
        if (strcmp(f, "LINEAR_EXACT") == 0) {
            return PACS_VOI_LINEAR_EXACT;
        }
    }
    return PACS_VOI_LINEAR;
}

/* Per-frame values of one functional group macro (Frame VOI LUT, Pixel Value Transformation). */
static pacs_err per_frame(pacs_image_desc *d, const json_t *ds)
{
    const json_t *shared = item0(ds, "52009229");
    const json_t *pf = attr(ds, "52009230");
    const json_t *items = pf ? json_object_get(pf, "Value") : NULL;
    if (!shared && !json_is_array(items)) {
        return PACS_OK;
    }
    uint32_t n = d->info.frames;
    d->pf_center = malloc(n * sizeof(double));
    d->pf_width = malloc(n * sizeof(double));
    d->pf_slope = malloc(n * sizeof(double));
    d->pf_intercept = malloc(n * sizeof(double));
    if (!d->pf_center || !d->pf_width || !d->pf_slope || !d->pf_intercept) {
        return PACS_ENOMEM;
    }
    for (uint32_t i = 0; i < n; i++) {
        const json_t *fi = json_is_array(items) ? json_array_get(items, i) : NULL;
        const json_t *srcs[2] = {fi, shared};
        d->pf_center[i] = d->pf_width[i] = d->pf_slope[i] = d->pf_intercept[i] = NAN;
        for (int k = 1; k >= 0; k--) { /* per-frame values override shared ones */
            const json_t *voi = item0(srcs[k], "00289132");
            const json_t *pvt = item0(srcs[k], "00289145");
            double v;
            if (voi && num_at(voi, "00281050", 0, &v) == 0) {
                d->pf_center[i] = v;
            }
            if (voi && num_at(voi, "00281051", 0, &v) == 0) {
                d->pf_width[i] = v;
            }
            if (pvt && num_at(pvt, "00281053", 0, &v) == 0) {
                d->pf_slope[i] = v;
            }
            if (pvt && num_at(pvt, "00281052", 0, &v) == 0) {
                d->pf_intercept[i] = v;
            }
        }
    }
    return PACS_OK;
}

static int photometric_known(const char *pi)
{
    static const char *const known[] = {"MONOCHROME1",
                                        "MONOCHROME2",
                                        "RGB",
                                        "YBR_FULL",
                                        "YBR_FULL_422",
                                        "YBR_PARTIAL_422",
                                        "YBR_PARTIAL_420",
                                        "YBR_RCT",
                                        "YBR_ICT",
                                        "PALETTE COLOR",
                                        NULL};
    for (int i = 0; known[i]; i++) {
        if (strcmp(pi, known[i]) == 0) {
            return 1;
        }
    }
    return 0;
}

pacs_err pacs_image_desc_from_json(const json_t *ds, pacs_image_desc **out, pacs_errinfo *ei)
{
    pacs_err err = PACS_OK;
    pacs_image_desc *d = calloc(1, sizeof *d);
    if (!d) {
        return pacs_errf(ei, PACS_ENOMEM, "out of memory");
    }
    double rows, cols, spp = 1, ba, bs, hb, pr = 0, pc = 0, frames = 1;
    if (num_at(ds, "00280010", 0, &rows) || num_at(ds, "00280011", 0, &cols) ||
        num_at(ds, "00280100", 0, &ba)) {
        err = pacs_errf(ei, PACS_EBADDATA, "Rows, Columns or BitsAllocated is missing");
        goto fail;
    }
    num_at(ds, "00280002", 0, &spp);
    if (num_at(ds, "00280101", 0, &bs)) {
        bs = ba;
    }
    if (num_at(ds, "00280102", 0, &hb)) {
        hb = bs - 1;
    }
    num_at(ds, "00280103", 0, &pr);
    num_at(ds, "00280006", 0, &pc);
    if (num_at(ds, "00280008", 0, &frames) || frames < 1) {
        frames = 1;
    }
    if (rows < 1 || rows > 65535 || cols < 1 || cols > 65535 || frames > 1e7 ||
        !(spp == 1 || spp == 3) || !(ba == 1 || ba == 8 || ba == 16 || ba == 32) || bs < 1 ||
        bs > ba || hb < bs - 1 || hb >= ba || !(pr == 0 || pr == 1)) {
        err = pacs_errf(ei, PACS_EBADDATA, "pixel attributes out of range");
        goto fail;
    }
    d->info.rows = (uint32_t)rows;
    d->info.cols = (uint32_t)cols;
    d->info.frames = (uint32_t)frames;
    d->info.samples = (uint16_t)spp;
    d->info.bits_allocated = (uint16_t)ba;
    d->info.bits_stored = (uint16_t)bs;
    d->info.high_bit = (uint16_t)hb;
    d->info.pixel_rep = (uint16_t)pr;
    d->info.planar = pc == 1 ? 1 : 0;
    if (str_at(ds, "00280004", d->info.photometric, sizeof d->info.photometric)) {
        snprintf(d->info.photometric, sizeof d->info.photometric, "%s",
                 spp == 3 ? "RGB" : "MONOCHROME2");
    }
    if (!photometric_known(d->info.photometric)) {
        err =
            pacs_errf(ei, PACS_EUNSUPPORTED, "photometric interpretation %s", d->info.photometric);
        goto fail;
    }
    if ((spp == 3) != (strncmp(d->info.photometric, "MONO", 4) != 0 &&
                       strcmp(d->info.photometric, "PALETTE COLOR") != 0)) {
        err = pacs_errf(ei, PACS_EBADDATA, "%s with %d samples per pixel", d->info.photometric,
                        (int)spp);
        goto fail;
    }
    str_at(ds, "00080060", d->modality, sizeof d->modality);
    d->slope = 1;
    d->intercept = 0;
    num_at(ds, "00281053", 0, &d->slope);
    num_at(ds, "00281052", 0, &d->intercept);
    if (d->slope == 0) {
        d->slope = 1;
    }
    size_t nc = n_values(ds, "00281050"), nw = n_values(ds, "00281051");
    size_t nwin = nc < nw ? nc : nw;
    if (nwin > 0) {
        d->centers = calloc(nwin, sizeof(double));
        d->widths = calloc(nwin, sizeof(double));
        if (!d->centers || !d->widths) {
            err = pacs_errf(ei, PACS_ENOMEM, "out of memory");
            goto fail;
        }
        for (size_t i = 0; i < nwin; i++) {
            if (num_at(ds, "00281050", i, &d->centers[d->n_windows]) == 0 &&
                num_at(ds, "00281051", i, &d->widths[d->n_windows]) == 0 &&
                d->widths[d->n_windows] > 0) {
                d->n_windows++;
            }
        }
    }
    d->voi_function = parse_voi_function(ds);
    const json_t *mlut = item0(ds, "00283000");
    if (mlut) {
        err = read_lut(mlut, "00283002", "00283006", &d->modality_lut, ei);
        if (err) {
            goto fail;
        }
    }
    const json_t *vlut = item0(ds, "00283010");
    if (vlut) {
        err = read_lut(vlut, "00283002", "00283006", &d->voi_lut, ei);
        if (err) {
            goto fail;
        }
    }
    if (strcmp(d->info.photometric, "PALETTE COLOR") == 0) {
        static const char *const descs[3] = {"00281101", "00281102", "00281103"};
        static const char *const datas[3] = {"00281201", "00281202", "00281203"};
        if (attr(ds, "00281221")) {
            err = pacs_errf(ei, PACS_EUNSUPPORTED, "segmented palette colour LUTs");
            goto fail;
        }
        for (int i = 0; i < 3; i++) {
            err = read_lut(ds, descs[i], datas[i], &d->palette[i], ei);
            if (err) {
                goto fail;
            }
        }
    }
    if (per_frame(d, ds)) {
        err = pacs_errf(ei, PACS_ENOMEM, "out of memory");
        goto fail;
    }
    *out = d;
    return PACS_OK;
fail:
    pacs_image_desc_free(d);
    return err;
}

pacs_err pacs_image_desc_from_file(const char *path, pacs_image_desc **out, pacs_errinfo *ei)
{
    json_t *j = NULL;
    pacs_err err = pacs_codec_image_json(path, &j, ei);
    if (err) {
        return err;
    }
    err = pacs_image_desc_from_json(j, out, ei);
    json_decref(j);
    return err;
}

static void lut_clear(pacs_image__lut *l)
{
    free(l->data);
    l->data = NULL;
}

void pacs_image_desc_free(pacs_image_desc *d)
{
    if (!d) {
        return;
    }
    free(d->centers);
    free(d->widths);
    lut_clear(&d->modality_lut);
    lut_clear(&d->voi_lut);
    for (int i = 0; i < 3; i++) {
        lut_clear(&d->palette[i]);
    }
    free(d->pf_center);
    free(d->pf_width);
    free(d->pf_slope);
    free(d->pf_intercept);
    free(d);
}

const pacs_image_info *pacs_image_desc_info(const pacs_image_desc *d)
{
    return &d->info;
}
