// SPDX-License-Identifier: MIT
/*
 * JPEG 2000 through OpenJPEG (a C library: used here directly): one frame decoded from, or
 * encoded to, a codestream in memory. Decoding accepts a JP2 file too, as some writers put
 * one in DICOM by mistake. OpenJPEG's messages are caught per codec into the error record.
 * Thread-safe: each call owns its codec and stream.
 */
#include <math.h>
#include <openjpeg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pacs/image/internal.h"

typedef struct mem_stream {
    uint8_t *data;
    size_t len, pos, cap;
} mem_stream;

static OPJ_SIZE_T mem_read(void *buf, OPJ_SIZE_T n, void *u)
{
    mem_stream *m = u;
    if (m->pos >= m->len) {
        return (OPJ_SIZE_T)-1;
    }
    size_t k = m->len - m->pos < n ? m->len - m->pos : n;
    memcpy(buf, m->data + m->pos, k);
    m->pos += k;
    return k;
}

static OPJ_OFF_T mem_skip_in(OPJ_OFF_T n, void *u)
{
    mem_stream *m = u;
    if (n < 0) {
        size_t back = (size_t)-n > m->pos ? m->pos : (size_t)-n;
        m->pos -= back;
        return -(OPJ_OFF_T)back;
    }
    size_t k = m->len - m->pos < (size_t)n ? m->len - m->pos : (size_t)n;
    m->pos += k;
    return (OPJ_OFF_T)k;
}

static OPJ_BOOL mem_seek_in(OPJ_OFF_T n, void *u)
{
    mem_stream *m = u;
    if (n < 0 || (size_t)n > m->len) {
        return OPJ_FALSE;
    }
    m->pos = (size_t)n;
    return OPJ_TRUE;
}

static int mem_reserve(mem_stream *m, size_t need)
{
    if (need <= m->cap) {
        return 0;
    }
    size_t cap = m->cap ? m->cap : 65536;
    while (cap < need) {
        cap *= 2;
    }
    uint8_t *p = realloc(m->data, cap);
    if (!p) {
        return -1;
    }
    memset(p + m->cap, 0, cap - m->cap);
    m->data = p;
    m->cap = cap;
    return 0;
}

static OPJ_SIZE_T mem_write(void *buf, OPJ_SIZE_T n, void *u)
{
    mem_stream *m = u;
    if (mem_reserve(m, m->pos + n)) {
        return (OPJ_SIZE_T)-1;
    }
    memcpy(m->data + m->pos, buf, n);
    m->pos += n;
    m->len = m->pos > m->len ? m->pos : m->len;
    return n;
}

static OPJ_OFF_T mem_skip_out(OPJ_OFF_T n, void *u)
{
    mem_stream *m = u;
    if (n < 0 || mem_reserve(m, m->pos + (size_t)n)) {
        return -1;
    }
    m->pos += (size_t)n;
    m->len = m->pos > m->len ? m->pos : m->len;
    return n;
}

static OPJ_BOOL mem_seek_out(OPJ_OFF_T n, void *u)
{
    mem_stream *m = u;
    if (n < 0 || mem_reserve(m, (size_t)n)) {
        return OPJ_FALSE;
    }
    m->pos = (size_t)n;
    return OPJ_TRUE;
}

static void on_error(const char *msg, void *u)
{
    char *buf = u;
    if (buf[0] == '\0') {
        snprintf(buf, 200, "%s", msg);
        size_t n = strlen(buf);
        if (n > 0 && buf[n - 1] == '\n') {
            buf[n - 1] = '\0';
        }
    }
}

static void on_quiet(const char *msg, void *u)
{
    (void)msg;
    (void)u;
}

pacs_err pacs_image__j2k_decode(const uint8_t *data, size_t len, const pacs_image_info *info,
                                uint8_t *out, size_t cap, pacs_image_info *got, pacs_errinfo *ei)
{
    static const uint8_t jp2_sig[12] = {0, 0, 0, 12, 'j', 'P', ' ', ' ', 13, 10, 0x87, 10};
    char msg[200] = "";
    pacs_err err = PACS_OK;
    opj_image_t *image = NULL;
    OPJ_CODEC_FORMAT fmt;
    if (len >= 2 && data[0] == 0xFF && data[1] == 0x4F) {
        fmt = OPJ_CODEC_J2K;
    } else if (len >= 12 && memcmp(data, jp2_sig, 12) == 0) {
        fmt = OPJ_CODEC_JP2;
    } else {
        return pacs_errf(ei, PACS_EBADDATA, "not a JPEG 2000 codestream");
    }
    if (info->bits_allocated != 8 && info->bits_allocated != 16 && info->bits_allocated != 32) {
        return pacs_errf(ei, PACS_EUNSUPPORTED, "JPEG 2000 with %u bits allocated",
                         info->bits_allocated);
    }
    mem_stream m = {(uint8_t *)data, len, 0, len};
    opj_stream_t *s = opj_stream_create(65536, OPJ_TRUE);
    opj_codec_t *codec = opj_create_decompress(fmt);
    if (!s || !codec) {
        err = pacs_errf(ei, PACS_ENOMEM, "out of memory");
        goto done;
    }
    opj_stream_set_user_data(s, &m, NULL);
    opj_stream_set_user_data_length(s, len);
    opj_stream_set_read_function(s, mem_read);
    opj_stream_set_skip_function(s, mem_skip_in);
    opj_stream_set_seek_function(s, mem_seek_in);
    opj_set_error_handler(codec, on_error, msg);
    opj_set_warning_handler(codec, on_quiet, NULL);
    opj_set_info_handler(codec, on_quiet, NULL);
    opj_dparameters_t p;
    opj_set_default_decoder_parameters(&p);
    if (!opj_setup_decoder(codec, &p) || !opj_read_header(s, codec, &image) ||
        !opj_decode(codec, s, image) || !opj_end_decompress(codec, s)) {
        err = pacs_errf(ei, PACS_EBADDATA, "JPEG 2000: %s", msg[0] ? msg : "cannot decode");
        goto done;
    }
    if (image->numcomps < info->samples) {
        err = pacs_errf(ei, PACS_EBADDATA, "JPEG 2000: %u components, %u expected", image->numcomps,
                        info->samples);
        goto done;
    }
    unsigned prec = 0, sgnd = image->comps[0].sgnd;
    for (unsigned c = 0; c < info->samples; c++) {
        opj_image_comp_t *k = &image->comps[c];
        if (k->w != info->cols || k->h != info->rows || k->dx != 1 || k->dy != 1 || !k->data ||
            k->prec < 1 || k->prec > info->bits_allocated || k->sgnd != sgnd) {
            err = pacs_errf(ei, PACS_EBADDATA,
                            "JPEG 2000 component %u (%ux%u, %u bits) does not fit the dataset", c,
                            k->w, k->h, k->prec);
            goto done;
        }
        prec = k->prec > prec ? k->prec : prec;
    }
    unsigned bps = info->bits_allocated / 8u;
    size_t px = (size_t)info->rows * info->cols;
    if (cap < px * info->samples * bps) {
        err = pacs_errf(ei, PACS_EINVAL, "frame buffer too small");
        goto done;
    }
    int64_t lo = sgnd ? -((int64_t)1 << (prec - 1)) : 0;
    int64_t hi = sgnd ? ((int64_t)1 << (prec - 1)) - 1 : ((int64_t)1 << prec) - 1;
    for (unsigned c = 0; c < info->samples; c++) {
        const OPJ_INT32 *src = image->comps[c].data;
        for (size_t i = 0; i < px; i++) {
            int64_t v = src[i] < lo ? lo : src[i] > hi ? hi : src[i];
            uint32_t u = (uint32_t)(int32_t)v;
            uint8_t *d = out + (i * info->samples + c) * bps;
            for (unsigned b = 0; b < bps; b++) {
                d[b] = (uint8_t)(u >> (8 * b));
            }
        }
    }
    /* The stream's own signedness and precision describe what was decoded. */
    got->pixel_rep = (uint16_t)sgnd;
    if (prec > got->bits_stored) {
        got->bits_stored = (uint16_t)prec;
    }
    got->high_bit = (uint16_t)(got->bits_stored - 1);
    if (info->samples == 3 &&
        (strcmp(info->photometric, "YBR_RCT") == 0 || strcmp(info->photometric, "YBR_ICT") == 0)) {
        snprintf(got->photometric, sizeof got->photometric, "RGB");
    }
done:
    opj_image_destroy(image);
    opj_destroy_codec(codec);
    opj_stream_destroy(s);
    return err;
}

static int32_t sample_in(const pacs_image_info *info, const uint8_t *px, size_t i)
{
    uint32_t v = info->bits_allocated == 8 ? px[i] : (uint32_t)(px[2 * i] | (px[2 * i + 1] << 8));
    unsigned bits = info->bits_stored;
    uint32_t mask = (1u << bits) - 1u;
    v &= mask;
    if (info->pixel_rep && ((v >> (bits - 1)) & 1u)) {
        return (int32_t)(v | ~mask);
    }
    return (int32_t)v;
}

pacs_err pacs_image__j2k_encode(const pacs_image_info *info, const uint8_t *px, size_t len,
                                int lossless, int quality, pacs_codec_frame *out, pacs_errinfo *ei)
{
    char msg[200] = "";
    pacs_err err = PACS_OK;
    if (info->bits_allocated != 8 && info->bits_allocated != 16) {
        return pacs_errf(ei, PACS_EUNSUPPORTED, "JPEG 2000 encoding of %u-bit samples",
                         info->bits_allocated);
    }
    if (len < pacs_image_frame_size(info)) {
        return pacs_errf(ei, PACS_EINVAL, "frame is short");
    }
    if (!lossless && (quality < 1 || quality > 100)) {
        return pacs_errf(ei, PACS_EINVAL, "quality %d is not in 1..100", quality);
    }
    int rgb = info->samples == 3 && strcmp(info->photometric, "RGB") == 0;
    opj_image_cmptparm_t cp[3];
    memset(cp, 0, sizeof cp);
    for (unsigned c = 0; c < info->samples; c++) {
        cp[c].dx = cp[c].dy = 1;
        cp[c].w = info->cols;
        cp[c].h = info->rows;
        cp[c].prec = info->bits_stored;
        cp[c].sgnd = info->pixel_rep;
    }
    mem_stream m = {NULL, 0, 0, 0};
    opj_stream_t *s = NULL;
    opj_codec_t *codec = NULL;
    opj_image_t *image =
        opj_image_create(info->samples, cp, info->samples == 3 ? OPJ_CLRSPC_SRGB : OPJ_CLRSPC_GRAY);
    if (!image) {
        return pacs_errf(ei, PACS_ENOMEM, "out of memory");
    }
    image->x0 = image->y0 = 0;
    image->x1 = info->cols;
    image->y1 = info->rows;
    size_t n = (size_t)info->rows * info->cols;
    for (unsigned c = 0; c < info->samples; c++) {
        for (size_t i = 0; i < n; i++) {
            image->comps[c].data[i] = sample_in(info, px, i * info->samples + c);
        }
    }
    opj_cparameters_t p;
    opj_set_default_encoder_parameters(&p);
    p.tcp_numlayers = 1;
    p.cp_disto_alloc = 1;
    /* Lossy: quality 100 gives 5:1, 90 gives 10:1, 50 gives 30:1. */
    p.tcp_rates[0] = lossless ? 0 : (float)(5.0 + (100 - quality) * 0.5);
    p.irreversible = lossless ? 0 : 1;
    p.tcp_mct = rgb ? 1 : 0;
    p.numresolution = 6;
    while (p.numresolution > 1 && ((info->cols >> (p.numresolution - 1)) < 1 ||
                                   (info->rows >> (p.numresolution - 1)) < 1)) {
        p.numresolution--;
    }
    s = opj_stream_create(65536, OPJ_FALSE);
    codec = opj_create_compress(OPJ_CODEC_J2K);
    if (!s || !codec) {
        err = pacs_errf(ei, PACS_ENOMEM, "out of memory");
        goto done;
    }
    opj_set_error_handler(codec, on_error, msg);
    opj_set_warning_handler(codec, on_quiet, NULL);
    opj_set_info_handler(codec, on_quiet, NULL);
    opj_stream_set_user_data(s, &m, NULL);
    opj_stream_set_write_function(s, mem_write);
    opj_stream_set_skip_function(s, mem_skip_out);
    opj_stream_set_seek_function(s, mem_seek_out);
    if (!opj_setup_encoder(codec, &p, image) || !opj_start_compress(codec, image, s) ||
        !opj_encode(codec, s) || !opj_end_compress(codec, s)) {
        err = pacs_errf(ei, PACS_EBADDATA, "JPEG 2000 encoder: %s", msg[0] ? msg : "failed");
        goto done;
    }
    opj_stream_destroy(s);
    s = NULL;
    if (mem_reserve(&m, m.len + 1)) {
        err = pacs_errf(ei, PACS_ENOMEM, "out of memory");
        goto done;
    }
    if (m.len & 1u) {
        m.data[m.len++] = 0; /* fragments have even length */
    }
    out->data = m.data;
    out->len = m.len;
    m.data = NULL;
    snprintf(out->photometric, sizeof out->photometric, "%s",
             rgb ? (lossless ? "YBR_RCT" : "YBR_ICT") : info->photometric);
done:
    free(m.data);
    opj_destroy_codec(codec);
    opj_stream_destroy(s);
    opj_image_destroy(image);
    return err;
}
