// SPDX-License-Identifier: MIT
/*
 * Transcoding (transcode.h): decode each frame with decode.c, encode it with the target's
 * codec (DCMTK for RLE, JPEG and JPEG-LS; OpenJPEG for JPEG 2000; OpenJPH for HTJ2K), then
 * write preamble, our meta header, the dataset re-encoded by DCMTK without its pixel data, and
 * a new Pixel Data element. Native targets stream frame by frame; encapsulated targets keep
 * the compressed frames in memory until the ratio (which the header states) is known.
 * Thread-safe: no shared state.
 */
#include "pacs/image/transcode.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pacs/dicom/htj2k.h"
#include "pacs/dicom/part10.h"
#include "pacs/image/internal.h"

static int eq(const char *a, const char *b)
{
    return a && b && strcmp(a, b) == 0;
}

static int native_target(const char *ts)
{
    return eq(ts, PACS_TS_EXPLICIT_LE) || eq(ts, PACS_TS_IMPLICIT_LE);
}

static int j2k_target(const char *ts)
{
    return eq(ts, PACS_TS_J2K_LOSSLESS) || eq(ts, PACS_TS_J2K);
}

static int htj2k_target(const char *ts)
{
    return eq(ts, PACS_TS_HTJ2K_LOSSLESS) || eq(ts, PACS_TS_HTJ2K_LOSSLESS_RPCL) ||
           eq(ts, PACS_TS_HTJ2K);
}

int pacs_image_can_transcode_to(const char *ts_uid)
{
    return native_target(ts_uid) || j2k_target(ts_uid) || htj2k_target(ts_uid) ||
           pacs_codec_can_encode(ts_uid);
}

int pacs_image_ts_is_lossy(const char *ts_uid)
{
    return eq(ts_uid, PACS_TS_JPEG_BASELINE) || eq(ts_uid, PACS_TS_JPEG_EXTENDED) ||
           eq(ts_uid, PACS_TS_JPEGLS_NEAR) || eq(ts_uid, PACS_TS_J2K) || eq(ts_uid, PACS_TS_HTJ2K);
}

/* Lossy only where the syntax cannot be lossless (JPEG DCT, JPEG-LS near) or where the
 * caller allowed it (J2K 4.91, HTJ2K 4.203). */
static int encodes_lossy(const char *ts, int allow_lossy)
{
    if (eq(ts, PACS_TS_JPEG_BASELINE) || eq(ts, PACS_TS_JPEG_EXTENDED) ||
        eq(ts, PACS_TS_JPEGLS_NEAR)) {
        return 1;
    }
    return allow_lossy && (eq(ts, PACS_TS_J2K) || eq(ts, PACS_TS_HTJ2K));
}

/* Stored pixels that are lossy whatever the encoder did (JPEG DCT, JPEG-LS near-lossless): a
 * decoded copy keeps LossyImageCompression 01 (PS3.3 C.7.6.1.1.5). JPEG 2000 4.91 and HTJ2K
 * 4.203 may hold lossless streams; the stored attribute (copied) says which. */
static int source_lossy(const char *ts)
{
    return eq(ts, PACS_TS_JPEG_BASELINE) || eq(ts, PACS_TS_JPEG_EXTENDED) ||
           eq(ts, PACS_TS_JPEGLS_NEAR);
}

static const char *lossy_method(const char *ts)
{
    if (eq(ts, PACS_TS_JPEGLS_NEAR)) {
        return "ISO_14495_1";
    }
    if (j2k_target(ts)) {
        return "ISO_15444_1";
    }
    if (htj2k_target(ts)) {
        return "ISO_15444_15";
    }
    return "ISO_10918_1";
}

const char *pacs_image_ts_for_media_type(const char *media_type)
{
    if (eq(media_type, "image/jpeg")) {
        return PACS_TS_JPEG_LOSSLESS_SV1;
    }
    if (eq(media_type, "image/jls")) {
        return PACS_TS_JPEGLS_LOSSLESS;
    }
    if (eq(media_type, "image/jp2")) {
        return PACS_TS_J2K_LOSSLESS;
    }
    if (eq(media_type, "image/jphc")) {
        return PACS_TS_HTJ2K_LOSSLESS;
    }
    if (eq(media_type, "image/dicom-rle")) {
        return PACS_TS_RLE;
    }
    return NULL;
}

static pacs_err check_target(const pacs_image_desc *desc, const pacs_transcode_params *p,
                             pacs_errinfo *ei)
{
    if (!pacs_image_can_transcode_to(p->ts_uid)) {
        return pacs_errf(ei, PACS_EUNSUPPORTED, "cannot transcode to %s",
                         p->ts_uid ? p->ts_uid : "(none)");
    }
    if (!p->allow_lossy && encodes_lossy(p->ts_uid, 1) && !eq(p->ts_uid, PACS_TS_J2K) &&
        !eq(p->ts_uid, PACS_TS_HTJ2K)) {
        return pacs_errf(ei, PACS_EUNSUPPORTED, "%s is lossy and lossy was not allowed", p->ts_uid);
    }
    if (p->quality < 0 || p->quality > 100) {
        return pacs_errf(ei, PACS_EINVAL, "quality %d is not in 1..100", p->quality);
    }
    if (pacs_image_desc_info(desc)->bits_allocated == 1) {
        return pacs_errf(ei, PACS_EUNSUPPORTED, "1-bit images are served as stored");
    }
    return PACS_OK;
}

/* One decoded frame to the target syntax. */
static pacs_err encode_frame(const pacs_frame *f, const pacs_transcode_params *p,
                             pacs_codec_frame *out, pacs_errinfo *ei)
{
    int quality = p->quality ? p->quality : 90;
    int lossy = encodes_lossy(p->ts_uid, p->allow_lossy);
    memset(out, 0, sizeof *out);
    if (native_target(p->ts_uid)) {
        out->data = malloc(f->size ? f->size : 1);
        if (!out->data) {
            return pacs_errf(ei, PACS_ENOMEM, "out of memory");
        }
        memcpy(out->data, f->data, f->size);
        out->len = f->size;
        snprintf(out->photometric, sizeof out->photometric, "%s", f->info.photometric);
        return PACS_OK;
    }
    if (j2k_target(p->ts_uid)) {
        return pacs_image__j2k_encode(&f->info, f->data, f->size, !lossy, quality, out, ei);
    }
    pacs_codec_image img;
    pacs_image__codec_image(&f->info, &img);
    if (htj2k_target(p->ts_uid)) {
        return pacs_htj2k_encode(&img, f->data, f->size, !lossy, quality, out, ei);
    }
    return pacs_codec_encode(p->ts_uid, &img, f->data, f->size, quality, out, ei);
}

pacs_err pacs_image_transcode_frame(const pacs_image_source *src, const pacs_image_desc *desc,
                                    uint32_t index, const pacs_transcode_params *p,
                                    pacs_codec_frame *out, int *lossy, pacs_errinfo *ei)
{
    pacs_err err = check_target(desc, p, ei);
    if (err) {
        return err;
    }
    const pacs_image_info *info = pacs_image_desc_info(desc);
    if (eq(src->ts_uid, p->ts_uid) && !native_target(p->ts_uid)) {
        uint8_t *bytes = NULL;
        size_t len = 0;
        err = pacs_image_read_frame(src, index, &bytes, &len, ei);
        if (err) {
            return err;
        }
        out->data = bytes;
        out->len = len;
        snprintf(out->photometric, sizeof out->photometric, "%s", info->photometric);
        *lossy = 0;
        return PACS_OK;
    }
    pacs_frame *f = NULL;
    err = pacs_image_decode(src, desc, index, &f, ei);
    if (err) {
        return err;
    }
    err = encode_frame(f, p, out, ei);
    pacs_frame_free(f);
    if (!err) {
        *lossy = encodes_lossy(p->ts_uid, p->allow_lossy);
    }
    return err;
}

/* ---- Writing ---- */

static pacs_err write_all(int fd, const void *buf, size_t len, uint64_t *count, pacs_errinfo *ei)
{
    const uint8_t *b = buf;
    while (len > 0) {
        ssize_t n = write(fd, b, len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return pacs_errf(ei, pacs_err_from_errno(errno), "write: %s", strerror(errno));
        }
        b += n;
        len -= (size_t)n;
        *count += (uint64_t)n;
    }
    return PACS_OK;
}

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
}

static void put32(uint8_t *p, uint32_t v)
{
    put16(p, (uint16_t)v);
    put16(p + 2, (uint16_t)(v >> 16));
}

/* An item or delimiter header: (FFFE,xxxx) and a 32-bit length. */
static pacs_err write_item(int fd, uint16_t elem, uint32_t len, uint64_t *count, pacs_errinfo *ei)
{
    uint8_t h[8];
    put16(h, 0xFFFE);
    put16(h + 2, elem);
    put32(h + 4, len);
    return write_all(fd, h, sizeof h, count, ei);
}

static pacs_err copy_object(int in_fd, int out_fd, uint64_t *count, pacs_errinfo *ei)
{
    uint8_t buf[65536];
    off_t off = 0;
    for (;;) {
        ssize_t n = pread(in_fd, buf, sizeof buf, off);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return pacs_errf(ei, pacs_err_from_errno(errno), "read: %s", strerror(errno));
        }
        if (n == 0) {
            return PACS_OK;
        }
        pacs_err err = write_all(out_fd, buf, (size_t)n, count, ei);
        if (err) {
            return err;
        }
        off += n;
    }
}

static pacs_err read_meta(int fd, pacs_meta *m, pacs_errinfo *ei)
{
    uint8_t head[8192];
    size_t start = 0;
    ssize_t n = pread(fd, head, sizeof head, 0);
    if (n < 0) {
        return pacs_errf(ei, pacs_err_from_errno(errno), "read: %s", strerror(errno));
    }
    return pacs_meta_read(head, (size_t)n, m, &start, ei);
}

/* Preamble, meta header and the dataset without pixel data. */
static pacs_err write_front(const pacs_image_source *src, const pacs_transcode_params *p,
                            const char *photometric, int lossy, double ratio, int out_fd,
                            pacs_transcode_result *res, pacs_errinfo *ei)
{
    pacs_meta m;
    pacs_err err = read_meta(src->fd, &m, ei);
    if (err) {
        return err;
    }
    char uid[65] = "";
    if (lossy && p->new_uid) {
        pacs_codec_new_uid(uid);
    }
    pacs_codec_header h;
    memset(&h, 0, sizeof h);
    h.ts_uid = p->ts_uid;
    h.photometric = photometric;
    h.set_planar0 = 1;
    h.lossy = lossy;
    h.keep_lossy = source_lossy(src->ts_uid);
    h.lossy_ratio = ratio;
    h.lossy_method = lossy_method(p->ts_uid);
    h.new_sop_uid = uid[0] ? uid : NULL;
    uint8_t *front = NULL;
    size_t front_len = 0;
    err = pacs_codec_dataset_front(src->path, &h, &front, &front_len, ei);
    if (err) {
        return err;
    }
    /* The meta header names what the dataset says (an archive object's agree already). */
    if (h.sop_class_uid[0] && h.sop_instance_uid[0]) {
        snprintf(m.sop_class_uid, sizeof m.sop_class_uid, "%s", h.sop_class_uid);
        snprintf(m.sop_instance_uid, sizeof m.sop_instance_uid, "%s", h.sop_instance_uid);
    }
    snprintf(m.transfer_syntax_uid, sizeof m.transfer_syntax_uid, "%s", p->ts_uid);
    uint8_t meta[512];
    size_t meta_len = 0;
    err = pacs_meta_build(&m, meta, sizeof meta, &meta_len, ei);
    if (err) {
        free(front);
        return err;
    }
    err = write_all(out_fd, meta, meta_len, &res->bytes, ei);
    if (!err) {
        err = write_all(out_fd, front, front_len, &res->bytes, ei);
    }
    free(front);
    snprintf(res->sop_uid, sizeof res->sop_uid, "%s", m.sop_instance_uid);
    snprintf(res->photometric, sizeof res->photometric, "%s", photometric);
    return err;
}

static pacs_err transcode_native(const pacs_image_source *src, const pacs_image_desc *desc,
                                 const pacs_transcode_params *p, int out_fd,
                                 pacs_transcode_result *res, pacs_errinfo *ei)
{
    const pacs_image_info *info = pacs_image_desc_info(desc);
    pacs_frame *f = NULL;
    /* The first frame tells the photometric interpretation of the decoded pixels. */
    pacs_err err = pacs_image_decode(src, desc, 0, &f, ei);
    if (err) {
        return err;
    }
    uint64_t total = (uint64_t)f->size * info->frames;
    if (total + (total & 1u) > 0xFFFFFFFEu) {
        pacs_frame_free(f);
        return pacs_errf(ei, PACS_ETOOBIG, "pixel data of %llu bytes", (unsigned long long)total);
    }
    err = write_front(src, p, f->info.photometric, 0, 1.0, out_fd, res, ei);
    uint8_t h[12];
    size_t hl;
    uint32_t vlen = (uint32_t)(total + (total & 1u));
    put16(h, 0x7FE0);
    put16(h + 2, 0x0010);
    if (eq(p->ts_uid, PACS_TS_IMPLICIT_LE)) {
        put32(h + 4, vlen);
        hl = 8;
    } else {
        h[4] = 'O';
        h[5] = f->info.bits_allocated > 8 ? 'W' : 'B';
        put16(h + 6, 0);
        put32(h + 8, vlen);
        hl = 12;
    }
    if (!err) {
        err = write_all(out_fd, h, hl, &res->bytes, ei);
    }
    for (uint32_t i = 0; !err && i < info->frames; i++) {
        if (i > 0) {
            pacs_frame_free(f);
            f = NULL;
            err = pacs_image_decode(src, desc, i, &f, ei);
            if (err) {
                break;
            }
        }
        err = write_all(out_fd, f->data, f->size, &res->bytes, ei);
    }
    if (!err && (total & 1u)) {
        uint8_t pad = 0;
        err = write_all(out_fd, &pad, 1, &res->bytes, ei);
    }
    pacs_frame_free(f);
    res->lossy = 0;
    res->ratio = 1.0;
    return err;
}

static pacs_err transcode_encapsulated(const pacs_image_source *src, const pacs_image_desc *desc,
                                       const pacs_transcode_params *p, int out_fd,
                                       pacs_transcode_result *res, pacs_errinfo *ei)
{
    const pacs_image_info *info = pacs_image_desc_info(desc);
    pacs_err err = PACS_OK;
    uint32_t n = info->frames;
    pacs_codec_frame *frames = calloc(n, sizeof *frames);
    uint32_t *bot = calloc(n, sizeof *bot);
    uint64_t raw = 0, packed = 0;
    if (!frames || !bot) {
        err = pacs_errf(ei, PACS_ENOMEM, "out of memory");
        goto done;
    }
    for (uint32_t i = 0; i < n; i++) {
        pacs_frame *f = NULL;
        err = pacs_image_decode(src, desc, i, &f, ei);
        if (err) {
            goto done;
        }
        raw += f->size;
        err = encode_frame(f, p, &frames[i], ei);
        pacs_frame_free(f);
        if (err) {
            goto done;
        }
        if (packed > 0xFFFFFFF0u - frames[i].len) {
            err = pacs_errf(ei, PACS_ETOOBIG, "compressed pixel data over 4 GB");
            goto done;
        }
        bot[i] = (uint32_t)(packed + 8u * i);
        packed += frames[i].len;
    }
    int lossy = encodes_lossy(p->ts_uid, p->allow_lossy);
    double ratio = packed ? (double)raw / (double)packed : 1.0;
    err = write_front(src, p, frames[0].photometric, lossy, ratio, out_fd, res, ei);
    if (err) {
        goto done;
    }
    uint8_t h[12];
    put16(h, 0x7FE0);
    put16(h + 2, 0x0010);
    h[4] = 'O';
    h[5] = 'B';
    put16(h + 6, 0);
    put32(h + 8, 0xFFFFFFFFu);
    err = write_all(out_fd, h, sizeof h, &res->bytes, ei);
    /* A Basic Offset Table for multi-frame objects, empty for one frame. */
    uint32_t bot_len = n > 1 ? 4u * n : 0;
    if (!err) {
        err = write_item(out_fd, 0xE000, bot_len, &res->bytes, ei);
    }
    for (uint32_t i = 0; !err && i < n && n > 1; i++) {
        uint8_t b[4];
        put32(b, bot[i]);
        err = write_all(out_fd, b, 4, &res->bytes, ei);
    }
    for (uint32_t i = 0; !err && i < n; i++) {
        err = write_item(out_fd, 0xE000, (uint32_t)frames[i].len, &res->bytes, ei);
        if (!err) {
            err = write_all(out_fd, frames[i].data, frames[i].len, &res->bytes, ei);
        }
    }
    if (!err) {
        err = write_item(out_fd, 0xE0DD, 0, &res->bytes, ei);
    }
    res->lossy = lossy;
    res->ratio = ratio;
done:
    for (uint32_t i = 0; frames && i < n; i++) {
        free(frames[i].data);
    }
    free(frames);
    free(bot);
    return err;
}

pacs_err pacs_image_transcode(const pacs_image_source *src, const pacs_image_desc *desc,
                              const pacs_transcode_params *p, int out_fd,
                              pacs_transcode_result *res, pacs_errinfo *ei)
{
    memset(res, 0, sizeof *res);
    if (eq(src->ts_uid, p->ts_uid)) {
        pacs_meta m;
        pacs_err err = read_meta(src->fd, &m, ei);
        if (err) {
            return err;
        }
        snprintf(res->sop_uid, sizeof res->sop_uid, "%s", m.sop_instance_uid);
        snprintf(res->photometric, sizeof res->photometric, "%s",
                 pacs_image_desc_info(desc)->photometric);
        res->ratio = 1.0;
        return copy_object(src->fd, out_fd, &res->bytes, ei);
    }
    pacs_err err = check_target(desc, p, ei);
    if (err) {
        return err;
    }
    if (!src->path) {
        return pacs_errf(ei, PACS_EINVAL, "transcoding needs the object's path");
    }
    if (native_target(p->ts_uid)) {
        return transcode_native(src, desc, p, out_fd, res, ei);
    }
    return transcode_encapsulated(src, desc, p, out_fd, res, ei);
}
