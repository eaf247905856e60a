// SPDX-License-Identifier: MIT
/*
 * Rendering (render.h). Grey images go through one table from stored value to 8-bit output
 * (at most 65536 entries, built per call), so a 512x512 CT slice costs one lookup per pixel;
 * 32-bit images compute per pixel. The scaler is separable with precomputed weights.
 * Thread-safe: no shared state.
 */
#include "pacs/image/render.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pacs/image/internal.h"

/* Window values beyond this are refused as absurd. */
#define WINDOW_ABS_MAX 1e9

void pacs_rendered_free(pacs_rendered *r)
{
    if (r) {
        free(r->data);
        free(r);
    }
}

/* Stored value `i` of a frame: shifted below the high bit, masked, sign-extended. */
static int64_t stored_value(const pacs_image_info *in, const uint8_t *d, size_t i)
{
    uint32_t v;
    switch (in->bits_allocated) {
    case 8:
        v = d[i];
        break;
    case 16:
        v = (uint32_t)d[2 * i] | ((uint32_t)d[2 * i + 1] << 8);
        break;
    default:
        v = (uint32_t)d[4 * i] | ((uint32_t)d[4 * i + 1] << 8) | ((uint32_t)d[4 * i + 2] << 16) |
            ((uint32_t)d[4 * i + 3] << 24);
        break;
    }
    unsigned bits = in->bits_stored;
    unsigned shift = in->high_bit + 1u >= bits ? in->high_bit + 1u - bits : 0;
    v >>= shift;
    uint32_t mask = bits >= 32 ? 0xFFFFFFFFu : ((1u << bits) - 1u);
    v &= mask;
    if (in->pixel_rep && ((v >> (bits - 1)) & 1u)) {
        return (int64_t)(int32_t)(v | ~mask);
    }
    return (int64_t)v;
}

static double lut_value(const pacs_image__lut *l, double x)
{
    double i = floor(x) - l->first;
    size_t k = i <= 0 ? 0 : i >= (double)(l->n - 1) ? l->n - 1 : (size_t)i;
    return l->data[k];
}

typedef struct voi {
    int use_lut;
    const pacs_image__lut *lut;
    double c, w;
    pacs_voi_function fn;
} voi;

/* PS3.3 C.11.2.1.2 and C.11.2.1.3, output range 0..255. */
static double apply_voi(const voi *v, double x)
{
    if (v->use_lut) {
        double max = (double)((1u << v->lut->bits) - 1u);
        return lut_value(v->lut, x) / max * 255.0;
    }
    double y;
    switch (v->fn) {
    case PACS_VOI_SIGMOID:
        y = 255.0 / (1.0 + exp(-4.0 * (x - v->c) / v->w));
        break;
    case PACS_VOI_LINEAR_EXACT:
        if (x <= v->c - v->w / 2) {
            y = 0;
        } else if (x > v->c + v->w / 2) {
            y = 255;
        } else {
            y = ((x - v->c) / v->w + 0.5) * 255.0;
        }
        break;
    default:
        if (v->w <= 1) {
            y = x <= v->c - 0.5 ? 0 : 255;
        } else if (x <= v->c - 0.5 - (v->w - 1) / 2) {
            y = 0;
        } else if (x > v->c - 0.5 + (v->w - 1) / 2) {
            y = 255;
        } else {
            y = ((x - (v->c - 0.5)) / (v->w - 1) + 0.5) * 255.0;
        }
        break;
    }
    return y < 0 ? 0 : y > 255 ? 255 : y;
}

static uint8_t to8(double y)
{
    return (uint8_t)(y < 0 ? 0 : y > 255 ? 255 : y + 0.5);
}

typedef struct modality {
    const pacs_image__lut *lut;
    double slope, intercept;
} modality;

static double apply_modality(const modality *m, int64_t sv)
{
    if (m->lut) {
        return lut_value(m->lut, (double)sv);
    }
    return (double)sv * m->slope + m->intercept;
}

static pacs_err render_grey(const pacs_image_desc *d, const pacs_frame *f, uint32_t index,
                            const pacs_render_params *p, uint8_t *out, pacs_errinfo *ei)
{
    const pacs_image_info *in = &f->info;
    size_t n = (size_t)in->rows * in->cols;
    modality m = {d->modality_lut.data ? &d->modality_lut : NULL, d->slope, d->intercept};
    if (d->pf_slope && index < d->info.frames && !isnan(d->pf_slope[index])) {
        m.slope = d->pf_slope[index];
    }
    if (d->pf_intercept && index < d->info.frames && !isnan(d->pf_intercept[index])) {
        m.intercept = d->pf_intercept[index];
    }
    voi v = {0, NULL, 0, 0, PACS_VOI_LINEAR};
    if (p->has_window) {
        v.c = p->center, v.w = p->width, v.fn = p->function;
    } else if (d->pf_center && index < d->info.frames && !isnan(d->pf_center[index]) &&
               !isnan(d->pf_width[index]) && d->pf_width[index] > 0) {
        v.c = d->pf_center[index], v.w = d->pf_width[index], v.fn = d->voi_function;
    } else if (d->n_windows > 0) {
        v.c = d->centers[0], v.w = d->widths[0], v.fn = d->voi_function;
    } else if (d->voi_lut.data) {
        v.use_lut = 1;
        v.lut = &d->voi_lut;
    } else {
        /* No VOI anywhere: the frame's own range, end to end. */
        double lo = INFINITY, hi = -INFINITY;
        for (size_t i = 0; i < n; i++) {
            double x = apply_modality(&m, stored_value(in, f->data, i));
            lo = x < lo ? x : lo;
            hi = x > hi ? x : hi;
        }
        v.fn = PACS_VOI_LINEAR_EXACT;
        v.c = (lo + hi) / 2;
        v.w = hi > lo ? hi - lo : 1;
    }
    int invert = strcmp(in->photometric, "MONOCHROME1") == 0;
    if (in->bits_stored <= 16) {
        int64_t lo = in->pixel_rep ? -((int64_t)1 << (in->bits_stored - 1)) : 0;
        size_t span = (size_t)1 << in->bits_stored;
        uint8_t *table = malloc(span);
        if (!table) {
            return pacs_errf(ei, PACS_ENOMEM, "out of memory");
        }
        for (size_t k = 0; k < span; k++) {
            uint8_t y = to8(apply_voi(&v, apply_modality(&m, lo + (int64_t)k)));
            table[k] = invert ? (uint8_t)(255 - y) : y;
        }
        for (size_t i = 0; i < n; i++) {
            out[i] = table[stored_value(in, f->data, i) - lo];
        }
        free(table);
        return PACS_OK;
    }
    for (size_t i = 0; i < n; i++) {
        uint8_t y = to8(apply_voi(&v, apply_modality(&m, stored_value(in, f->data, i))));
        out[i] = invert ? (uint8_t)(255 - y) : y;
    }
    return PACS_OK;
}

static uint8_t palette_entry(const pacs_image__lut *l, int64_t sv, int wide)
{
    double e = lut_value(l, (double)sv);
    return (uint8_t)(wide ? (unsigned)e >> 8 : (unsigned)e);
}

static pacs_err render_colour(const pacs_image_desc *d, const pacs_frame *f, uint8_t *out,
                              pacs_errinfo *ei)
{
    const pacs_image_info *in = &f->info;
    size_t n = (size_t)in->rows * in->cols;
    const char *pi = in->photometric;
    if (strcmp(pi, "PALETTE COLOR") == 0) {
        if (!d->palette[0].data || !d->palette[1].data || !d->palette[2].data) {
            return pacs_errf(ei, PACS_EBADDATA, "palette colour image without its LUTs");
        }
        int wide[3];
        for (int c = 0; c < 3; c++) {
            /* 8-bit descriptors with 16-bit entries are common; trust the entries. */
            wide[c] = d->palette[c].bits > 8;
            for (uint32_t k = 0; !wide[c] && k < d->palette[c].n; k++) {
                wide[c] = d->palette[c].data[k] > 255;
            }
        }
        for (size_t i = 0; i < n; i++) {
            int64_t sv = stored_value(in, f->data, i);
            for (int c = 0; c < 3; c++) {
                out[3 * i + c] = palette_entry(&d->palette[c], sv, wide[c]);
            }
        }
        return PACS_OK;
    }
    int ybr_full = strcmp(pi, "YBR_FULL") == 0 || strcmp(pi, "YBR_FULL_422") == 0;
    int ybr_partial = strncmp(pi, "YBR_PARTIAL", 11) == 0;
    unsigned down = in->bits_stored > 8 ? in->bits_stored - 8u : 0;
    for (size_t i = 0; i < n; i++) {
        double s[3];
        for (int c = 0; c < 3; c++) {
            int64_t v = stored_value(in, f->data, 3 * i + (size_t)c);
            s[c] = (double)((v < 0 ? 0 : v) >> down);
        }
        if (ybr_full) {
            double y = s[0], cb = s[1] - 128, cr = s[2] - 128;
            s[0] = y + 1.402 * cr;
            s[1] = y - 0.344136 * cb - 0.714136 * cr;
            s[2] = y + 1.772 * cb;
        } else if (ybr_partial) {
            double y = 1.164383 * (s[0] - 16), cb = s[1] - 128, cr = s[2] - 128;
            s[0] = y + 1.596027 * cr;
            s[1] = y - 0.391762 * cb - 0.812968 * cr;
            s[2] = y + 2.017232 * cb;
        }
        for (int c = 0; c < 3; c++) {
            out[3 * i + c] = to8(s[c]);
        }
    }
    return PACS_OK;
}

/* ---- Scaling ---- */

typedef struct taps {
    int *first; /* first source index per output index */
    int *count;
    float *w; /* count weights per output index, `width` slots each */
    int width;
} taps;

static void taps_free(taps *t)
{
    free(t->first);
    free(t->count);
    free(t->w);
}

static int taps_make(taps *t, uint32_t src, uint32_t dst)
{
    double scale = (double)src / dst;
    double radius = scale > 1 ? scale : 1;
    t->width = (int)ceil(radius) * 2 + 2;
    t->first = malloc(dst * sizeof(int));
    t->count = malloc(dst * sizeof(int));
    t->w = malloc((size_t)dst * (size_t)t->width * sizeof(float));
    if (!t->first || !t->count || !t->w) {
        return -1;
    }
    for (uint32_t o = 0; o < dst; o++) {
        double c = (o + 0.5) * scale - 0.5;
        int a = (int)ceil(c - radius), b = (int)floor(c + radius);
        if (b - a + 1 > t->width) {
            b = a + t->width - 1;
        }
        float *w = t->w + (size_t)o * (size_t)t->width;
        double sum = 0;
        int k = 0;
        for (int i = a; i <= b; i++, k++) {
            double x = fabs(i - c) / radius;
            w[k] = (float)(x < 1 ? 1 - x : 0);
            sum += w[k];
        }
        if (sum <= 0) { /* the centre sits exactly on a sample */
            a = (int)lround(c);
            k = 1;
            w[0] = 1;
            sum = 1;
        }
        for (int j = 0; j < k; j++) {
            w[j] = (float)(w[j] / sum);
        }
        t->first[o] = a;
        t->count[o] = k;
    }
    return 0;
}

static int clampi(int i, int n)
{
    return i < 0 ? 0 : i >= n ? n - 1 : i;
}

static uint8_t *scale_image(const uint8_t *src, uint32_t rows, uint32_t cols, int ch,
                            uint32_t orows, uint32_t ocols)
{
    taps h = {0}, v = {0};
    float *mid = NULL;
    uint8_t *dst = NULL;
    if (taps_make(&h, cols, ocols) || taps_make(&v, rows, orows)) {
        goto done;
    }
    mid = malloc((size_t)rows * ocols * (size_t)ch * sizeof(float));
    dst = malloc((size_t)orows * ocols * (size_t)ch);
    if (!mid || !dst) {
        free(dst);
        dst = NULL;
        goto done;
    }
    for (uint32_t y = 0; y < rows; y++) {
        const uint8_t *s = src + (size_t)y * cols * (size_t)ch;
        float *m = mid + (size_t)y * ocols * (size_t)ch;
        for (uint32_t x = 0; x < ocols; x++) {
            const float *w = h.w + (size_t)x * (size_t)h.width;
            for (int c = 0; c < ch; c++) {
                float acc = 0;
                for (int k = 0; k < h.count[x]; k++) {
                    acc += w[k] *
                           s[(size_t)clampi(h.first[x] + k, (int)cols) * (size_t)ch + (size_t)c];
                }
                m[(size_t)x * (size_t)ch + (size_t)c] = acc;
            }
        }
    }
    size_t stride = (size_t)ocols * (size_t)ch;
    for (uint32_t y = 0; y < orows; y++) {
        const float *w = v.w + (size_t)y * (size_t)v.width;
        uint8_t *d = dst + (size_t)y * stride;
        for (size_t x = 0; x < stride; x++) {
            float acc = 0;
            for (int k = 0; k < v.count[y]; k++) {
                acc += w[k] * mid[(size_t)clampi(v.first[y] + k, (int)rows) * stride + x];
            }
            d[x] = to8(acc);
        }
    }
done:
    taps_free(&h);
    taps_free(&v);
    free(mid);
    return dst;
}

static pacs_err check_params(const pacs_render_params *p, pacs_errinfo *ei)
{
    if (p->has_window) {
        if (!isfinite(p->center) || !isfinite(p->width) || fabs(p->center) > WINDOW_ABS_MAX ||
            p->width > WINDOW_ABS_MAX) {
            return pacs_errf(ei, PACS_EINVAL, "window values out of range");
        }
        if (p->width <= 0 || (p->function == PACS_VOI_LINEAR && p->width < 1)) {
            return pacs_errf(ei, PACS_EINVAL, "window width must be %s",
                             p->function == PACS_VOI_LINEAR ? "at least 1" : "above 0");
        }
        if (p->function < PACS_VOI_LINEAR || p->function > PACS_VOI_SIGMOID) {
            return pacs_errf(ei, PACS_EINVAL, "unknown VOI function");
        }
    }
    if (p->vp_cols > PACS_RENDER_MAX_SIDE || p->vp_rows > PACS_RENDER_MAX_SIDE) {
        return pacs_errf(ei, PACS_EINVAL, "viewport larger than %d pixels", PACS_RENDER_MAX_SIDE);
    }
    return PACS_OK;
}

pacs_err pacs_image_render(const pacs_image_desc *desc, const pacs_frame *frame, uint32_t index,
                           const pacs_render_params *p, pacs_rendered **out, pacs_errinfo *ei)
{
    pacs_err err = check_params(p, ei);
    if (err) {
        return err;
    }
    const pacs_image_info *in = &frame->info;
    if (frame->size < pacs_image_frame_size(in) || in->bits_allocated == 1) {
        return pacs_errf(ei, PACS_EINVAL, "frame buffer does not match its attributes");
    }
    int grey = in->samples == 1 && strcmp(in->photometric, "PALETTE COLOR") != 0;
    int ch = grey ? 1 : 3;
    size_t n = (size_t)in->rows * in->cols;
    uint8_t *full = malloc(n * (size_t)ch);
    pacs_rendered *r = calloc(1, sizeof *r);
    if (!full || !r) {
        err = pacs_errf(ei, PACS_ENOMEM, "out of memory");
        goto fail;
    }
    err =
        grey ? render_grey(desc, frame, index, p, full, ei) : render_colour(desc, frame, full, ei);
    if (err) {
        goto fail;
    }
    uint32_t orows = in->rows, ocols = in->cols;
    if (p->vp_cols || p->vp_rows) {
        double sx = p->vp_cols ? (double)p->vp_cols / in->cols : INFINITY;
        double sy = p->vp_rows ? (double)p->vp_rows / in->rows : INFINITY;
        double s = sx < sy ? sx : sy;
        double oc = floor(in->cols * s + 0.5), orr = floor(in->rows * s + 0.5);
        ocols = oc < 1 ? 1 : oc > PACS_RENDER_MAX_SIDE ? PACS_RENDER_MAX_SIDE : (uint32_t)oc;
        orows = orr < 1 ? 1 : orr > PACS_RENDER_MAX_SIDE ? PACS_RENDER_MAX_SIDE : (uint32_t)orr;
    }
    if (orows != in->rows || ocols != in->cols) {
        uint8_t *scaled = scale_image(full, in->rows, in->cols, ch, orows, ocols);
        if (!scaled) {
            err = pacs_errf(ei, PACS_ENOMEM, "out of memory");
            goto fail;
        }
        free(full);
        full = scaled;
    }
    r->rows = orows;
    r->cols = ocols;
    r->channels = ch;
    r->data = full;
    *out = r;
    return PACS_OK;
fail:
    free(full);
    free(r);
    return err;
}

static int parse_double(const char *s, char **end, double *v)
{
    errno = 0;
    *v = strtod(s, end);
    return *end == s || errno != 0 || !isfinite(*v) ? -1 : 0;
}

pacs_err pacs_render_parse_window(const char *text, pacs_render_params *p, pacs_errinfo *ei)
{
    char *end = NULL;
    double c, w;
    if (!text || parse_double(text, &end, &c) || *end != ',') {
        return pacs_errf(ei, PACS_EINVAL, "window: expected center,width[,function]");
    }
    if (parse_double(end + 1, &end, &w) || (*end != ',' && *end != '\0')) {
        return pacs_errf(ei, PACS_EINVAL, "window: bad width");
    }
    pacs_voi_function fn = PACS_VOI_LINEAR;
    if (*end == ',') {
        const char *f = end + 1;
        if (strcmp(f, "linear") == 0) {
            fn = PACS_VOI_LINEAR;
        } else if (strcmp(f, "linear-exact") == 0) {
            fn = PACS_VOI_LINEAR_EXACT;
        } else if (strcmp(f, "sigmoid") == 0) {
            fn = PACS_VOI_SIGMOID;
        } else {
            return pacs_errf(ei, PACS_EINVAL, "window: unknown function '%.32s'", f);
        }
    }
    pacs_render_params t = *p;
    t.has_window = 1;
    t.center = c;
    t.width = w;
    t.function = fn;
    pacs_err err = check_params(&t, ei);
    if (err) {
        return err;
    }
    *p = t;
    return PACS_OK;
}

static int parse_side(const char *s, char **end, uint32_t *v)
{
    errno = 0;
    long x = strtol(s, end, 10);
    if (*end == s || errno != 0 || x < 1 || x > PACS_RENDER_MAX_SIDE) {
        return -1;
    }
    *v = (uint32_t)x;
    return 0;
}

pacs_err pacs_render_parse_viewport(const char *text, pacs_render_params *p, pacs_errinfo *ei)
{
    char *end = NULL;
    uint32_t w, h;
    if (!text || parse_side(text, &end, &w) || *end != ',' || parse_side(end + 1, &end, &h)) {
        return pacs_errf(ei, PACS_EINVAL, "viewport: expected vw,vh with sides 1..%d",
                         PACS_RENDER_MAX_SIDE);
    }
    if (*end == ',') {
        return pacs_errf(ei, PACS_EUNSUPPORTED, "viewport: source regions are not supported");
    }
    if (*end != '\0') {
        return pacs_errf(ei, PACS_EINVAL, "viewport: trailing characters");
    }
    p->vp_cols = w;
    p->vp_rows = h;
    return PACS_OK;
}

void pacs_render_params_key(const pacs_render_params *p, char *buf, size_t cap)
{
    if (p->has_window) {
        snprintf(buf, cap, "w=%.17g,%.17g,%d;v=%u,%u", p->center, p->width, (int)p->function,
                 p->vp_cols, p->vp_rows);
    } else {
        snprintf(buf, cap, "w=;v=%u,%u", p->vp_cols, p->vp_rows);
    }
}
