// SPDX-License-Identifier: MIT
/*
 * Frame decoding (decode.h): reading one frame's stored bytes with pread, and turning them into
 * a native frame with the codec the transfer syntax names. The object description
 * (pacs_image_desc, from DICOM JSON) is desc.c's. Load: every rendered image and every
 * transcoded frame passes here once per cache miss; the native path is a copy plus byte
 * swapping, the compressed paths cost what their codec costs. Thread-safe: no shared state.
 */
#include "pacs/image/decode.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "pacs/dicom/codec.h"
#include "pacs/dicom/htj2k.h"
#include "pacs/image/internal.h"
#include "pacs/image/render.h"

/* A frame spread over more fragments than this is refused. */
#define MAX_FRAGMENTS 4096

size_t pacs_image_frame_size(const pacs_image_info *info)
{
    size_t px = (size_t)info->rows * info->cols * info->samples;
    if (info->bits_allocated == 1) {
        return (px + 7) / 8;
    }
    return px * (info->bits_allocated / 8u);
}

void pacs_image__codec_image(const pacs_image_info *info, pacs_codec_image *img)
{
    memset(img, 0, sizeof *img);
    img->rows = (uint16_t)info->rows;
    img->cols = (uint16_t)info->cols;
    img->samples = info->samples;
    img->bits_allocated = info->bits_allocated;
    img->bits_stored = info->bits_stored;
    img->high_bit = info->high_bit;
    img->pixel_rep = info->pixel_rep;
    img->planar = info->planar;
    memcpy(img->photometric, info->photometric, sizeof img->photometric);
}

void pacs_frame_free(pacs_frame *f)
{
    if (f) {
        free(f->data);
        free(f);
    }
}

/* ---- Transfer syntaxes ---- */

static int is_native(const char *ts)
{
    return strcmp(ts, PACS_TS_IMPLICIT_LE) == 0 || strcmp(ts, PACS_TS_EXPLICIT_LE) == 0 ||
           strcmp(ts, PACS_TS_EXPLICIT_BE) == 0 || strcmp(ts, PACS_TS_DEFLATED_LE) == 0;
}

static int is_j2k(const char *ts)
{
    return strcmp(ts, PACS_TS_J2K_LOSSLESS) == 0 || strcmp(ts, PACS_TS_J2K) == 0 ||
           strcmp(ts, "1.2.840.10008.1.2.4.92") == 0 || strcmp(ts, "1.2.840.10008.1.2.4.93") == 0;
}

static int is_htj2k(const char *ts)
{
    return strcmp(ts, PACS_TS_HTJ2K_LOSSLESS) == 0 ||
           strcmp(ts, PACS_TS_HTJ2K_LOSSLESS_RPCL) == 0 || strcmp(ts, PACS_TS_HTJ2K) == 0;
}

int pacs_image_can_decode(const char *ts_uid)
{
    return ts_uid && (is_native(ts_uid) || is_j2k(ts_uid) || is_htj2k(ts_uid) ||
                      pacs_codec_can_decode(ts_uid));
}

/* ---- Reading stored bytes ---- */

static pacs_err pread_all(int fd, uint8_t *buf, size_t len, uint64_t off, pacs_errinfo *ei)
{
    size_t done = 0;
    while (done < len) {
        ssize_t n = pread(fd, buf + done, len - done, (off_t)(off + done));
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return pacs_errf(ei, pacs_err_from_errno(errno), "read: %s", strerror(errno));
        }
        if (n == 0) {
            return pacs_errf(ei, PACS_ECORRUPT, "object shorter than its pixel layout says");
        }
        done += (size_t)n;
    }
    return PACS_OK;
}

pacs_err pacs_image_read_frame(const pacs_image_source *src, uint32_t index, uint8_t **out,
                               size_t *len, pacs_errinfo *ei)
{
    pacs_fragment *r = malloc(MAX_FRAGMENTS * sizeof *r);
    uint8_t *buf = NULL;
    size_t n = 0, total = 0;
    if (!r) {
        return pacs_errf(ei, PACS_ENOMEM, "out of memory");
    }
    pacs_err err = pacs_pixel_layout_frame(src->layout, index, r, MAX_FRAGMENTS, &n, ei);
    if (err) {
        goto fail;
    }
    for (size_t i = 0; i < n; i++) {
        total += r[i].length;
    }
    if (total > PACS_IMAGE_FRAME_MAX) {
        err = pacs_errf(ei, PACS_ETOOBIG, "frame of %zu bytes", total);
        goto fail;
    }
    buf = malloc(total ? total : 1);
    if (!buf) {
        err = pacs_errf(ei, PACS_ENOMEM, "out of memory");
        goto fail;
    }
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        err = pread_all(src->fd, buf + at, r[i].length, r[i].offset, ei);
        if (err) {
            goto fail;
        }
        at += r[i].length;
    }
    free(r);
    *out = buf;
    *len = total;
    return PACS_OK;
fail:
    free(r);
    free(buf);
    return err;
}

/* ---- Native frames ---- */

static void ybr422_to_full(const uint8_t *in, uint8_t *out, uint32_t rows, uint32_t cols)
{
    /* Two pixels share Cb and Cr: Y0 Y1 Cb Cr (PS3.3 C.7.6.3.1.2). */
    for (uint32_t y = 0; y < rows; y++) {
        const uint8_t *s = in + (size_t)y * cols * 2;
        uint8_t *d = out + (size_t)y * cols * 3;
        for (uint32_t x = 0; x + 1 < cols; x += 2, s += 4, d += 6) {
            d[0] = s[0], d[1] = s[2], d[2] = s[3];
            d[3] = s[1], d[4] = s[2], d[5] = s[3];
        }
        if (cols & 1) {
            d[0] = s[0], d[1] = s[2], d[2] = s[3];
        }
    }
}

/* Native stored bytes to a native frame: byte order, planes, 1-bit, YBR 4:2:2. */
static pacs_err native_frame(const pacs_image_info *info, int bigendian, const uint8_t *data,
                             size_t len, pacs_frame *f, pacs_errinfo *ei)
{
    f->info = *info;
    f->info.frames = 1;
    f->info.planar = 0;
    size_t px = (size_t)info->rows * info->cols;
    if (info->bits_allocated == 1) {
        if (len < (px + 7) / 8) {
            return pacs_errf(ei, PACS_EBADDATA, "1-bit frame of %zu bytes is short", len);
        }
        f->info.bits_allocated = 8;
        f->info.bits_stored = 1;
        f->info.high_bit = 0;
        f->size = px;
        f->data = malloc(px);
        if (!f->data) {
            return pacs_errf(ei, PACS_ENOMEM, "out of memory");
        }
        for (size_t i = 0; i < px; i++) {
            f->data[i] = (data[i >> 3] >> (i & 7)) & 1u;
        }
        return PACS_OK;
    }
    if (info->samples == 3 && strcmp(info->photometric, "YBR_FULL_422") == 0 &&
        info->bits_allocated == 8 && len >= px * 2 && len < px * 3) {
        f->size = px * 3;
        f->data = malloc(f->size);
        if (!f->data) {
            return pacs_errf(ei, PACS_ENOMEM, "out of memory");
        }
        ybr422_to_full(data, f->data, info->rows, info->cols);
        snprintf(f->info.photometric, sizeof f->info.photometric, "YBR_FULL");
        return PACS_OK;
    }
    size_t size = pacs_image_frame_size(info);
    if (len < size) {
        return pacs_errf(ei, PACS_EBADDATA, "native frame of %zu bytes, %zu expected", len, size);
    }
    f->size = size;
    f->data = malloc(size ? size : 1);
    if (!f->data) {
        return pacs_errf(ei, PACS_ENOMEM, "out of memory");
    }
    unsigned bps = info->bits_allocated / 8u;
    if (info->samples == 3 && info->planar == 1) {
        for (size_t i = 0; i < px; i++) {
            for (unsigned s = 0; s < 3; s++) {
                memcpy(f->data + (i * 3 + s) * bps, data + (s * px + i) * bps, bps);
            }
        }
    } else {
        memcpy(f->data, data, size);
    }
    if (bigendian && bps > 1) {
        for (size_t i = 0; i < size; i += bps) {
            for (unsigned k = 0; k < bps / 2; k++) {
                uint8_t t = f->data[i + k];
                f->data[i + k] = f->data[i + bps - 1 - k];
                f->data[i + bps - 1 - k] = t;
            }
        }
    }
    return PACS_OK;
}

static pacs_err alloc_frame(const pacs_image_info *info, pacs_frame *f, pacs_errinfo *ei)
{
    f->info = *info;
    f->info.frames = 1;
    f->info.planar = 0;
    f->size = pacs_image_frame_size(info);
    f->data = malloc(f->size ? f->size : 1);
    return f->data ? PACS_OK : pacs_errf(ei, PACS_ENOMEM, "out of memory");
}

static int turbo_candidate(const char *ts, const pacs_image_info *info)
{
    if (strcmp(ts, PACS_TS_JPEG_BASELINE) != 0 && strcmp(ts, PACS_TS_JPEG_EXTENDED) != 0) {
        return 0;
    }
    if (info->bits_allocated != 8 || info->bits_stored > 8) {
        return 0;
    }
    /* DICOM's RGB means "no colour transform", which libjpeg-turbo cannot be told. */
    return info->samples == 1 || strncmp(info->photometric, "YBR", 3) == 0;
}

static pacs_err check_info(const pacs_image_info *info, pacs_errinfo *ei)
{
    if (info->rows == 0 || info->cols == 0 || info->rows > 65535 || info->cols > 65535 ||
        !(info->samples == 1 || info->samples == 3) ||
        !(info->bits_allocated == 1 || info->bits_allocated == 8 || info->bits_allocated == 16 ||
          info->bits_allocated == 32) ||
        info->bits_stored == 0 || info->bits_stored > info->bits_allocated ||
        info->high_bit >= info->bits_allocated) {
        return pacs_errf(ei, PACS_EBADDATA, "pixel attributes out of range");
    }
    if (pacs_image_frame_size(info) > PACS_IMAGE_FRAME_MAX) {
        return pacs_errf(ei, PACS_ETOOBIG, "a frame of %ux%u is too large", info->rows, info->cols);
    }
    return PACS_OK;
}

static uint32_t le32(const uint8_t *p)
{
    return (uint32_t)p[0] | ((uint32_t)p[1] << 8) | ((uint32_t)p[2] << 16) | ((uint32_t)p[3] << 24);
}

/* The RLE header (PS3.5 G.5) must describe segments inside the frame: DCMTK 3.6.7 reads
 * out of bounds otherwise (found by fuzz_decode). */
static pacs_err check_rle(const pacs_image_info *info, const uint8_t *data, size_t len,
                          pacs_errinfo *ei)
{
    if (len < 64) {
        return pacs_errf(ei, PACS_EBADDATA, "RLE frame shorter than its header");
    }
    uint32_t n = le32(data);
    if (n == 0 || n > 15 || n != (uint32_t)info->samples * (info->bits_allocated / 8u)) {
        return pacs_errf(ei, PACS_EBADDATA, "RLE header names %u segments", n);
    }
    uint32_t prev = 0;
    for (uint32_t i = 0; i < n; i++) {
        uint32_t off = le32(data + 4 + 4 * i);
        if ((i == 0 && off != 64) || off <= prev || off >= len) {
            return pacs_errf(ei, PACS_EBADDATA, "RLE segment %u starts at %u (frame of %zu)", i,
                             off, len);
        }
        prev = off;
    }
    return PACS_OK;
}

/* The marker segments of a JPEG or JPEG-LS stream up to its frame header must be well
 * formed: DCMTK 3.6.7 loops forever on a zero-length segment while it looks for the bit
 * depth (found by fuzz_decode). */
static pacs_err check_jpeg_markers(const uint8_t *d, size_t len, pacs_errinfo *ei)
{
    if (len < 4 || d[0] != 0xFF || d[1] != 0xD8) {
        return pacs_errf(ei, PACS_EBADDATA, "JPEG stream does not start with SOI");
    }
    size_t pos = 2;
    while (pos + 1 < len) {
        if (d[pos] != 0xFF) {
            return pacs_errf(ei, PACS_EBADDATA, "JPEG: no marker at byte %zu", pos);
        }
        while (pos < len && d[pos] == 0xFF) {
            pos++; /* fill bytes */
        }
        if (pos >= len) {
            break;
        }
        uint8_t m = d[pos++];
        if (m == 0x01 || (m >= 0xD0 && m <= 0xD7)) {
            continue; /* markers without a segment */
        }
        if (m == 0xD9 || m == 0xDA || m == 0xD8 || m == 0x00) {
            return pacs_errf(ei, PACS_EBADDATA, "JPEG: marker 0x%02X before the frame header", m);
        }
        if (pos + 2 > len) {
            break;
        }
        size_t seg = ((size_t)d[pos] << 8) | d[pos + 1];
        if (seg < 2 || pos + seg > len) {
            return pacs_errf(ei, PACS_EBADDATA, "JPEG: segment 0x%02X of length %zu", m, seg);
        }
        int sof = (m >= 0xC0 && m <= 0xCF && m != 0xC4 && m != 0xC8 && m != 0xCC) || m == 0xF7;
        if (sof) {
            return PACS_OK;
        }
        pos += seg;
    }
    return pacs_errf(ei, PACS_EBADDATA, "JPEG stream ends before its frame header");
}

/* True when a JPEG 2000 stream may use HT code blocks (a CAP marker in its main header), or
 * cannot be told: such streams decode in a child (decode_htj2k_isolated), whatever syntax the
 * object claims. Plain JPEG 2000 (the common case) decodes in-process. */
static int uses_ht_blocks(const uint8_t *d, size_t len)
{
    if (len < 4 || d[0] != 0xFF || d[1] != 0x4F) {
        return 1; /* a JP2 file or garbage: OpenJPEG will look deeper than we do */
    }
    size_t pos = 2;
    while (pos + 4 <= len) {
        if (d[pos] != 0xFF) {
            return 1;
        }
        uint8_t m = d[pos + 1];
        if (m == 0x90) {
            return 0; /* SOT: the main header ended without a CAP marker */
        }
        if (m == 0x50) {
            return 1; /* CAP: Part 15 (HTJ2K) capabilities */
        }
        size_t seg = ((size_t)d[pos + 2] << 8) | d[pos + 3];
        if (seg < 2) {
            return 1;
        }
        pos += 2 + seg;
    }
    return 1;
}

/* What the child decoding an HTJ2K frame hands back, in memory shared with it. */
typedef struct htj2k_result {
    pacs_err err;
    pacs_errinfo ei;
    pacs_image_info got;
} htj2k_result;

/*
 * HTJ2K frames decode in a child process. Debian's HT block decoders (OpenJPH 0.9 and
 * OpenJPEG 2.5.0, which shares its code) abort on assertions or divide by zero on corrupt
 * codestreams (found by fuzz_decode); in a child that costs one error, not the server. The
 * child runs OpenJPEG, writes the pixels into shared memory and exits at once (_exit). A fork
 * costs about a millisecond; HTJ2K objects are rare in storage (they are mostly produced on
 * the way out, from our own encoder).
 */
static pacs_err decode_htj2k_isolated(int openjph, const uint8_t *data, size_t len,
                                      const pacs_image_info *info, pacs_frame *f, pacs_errinfo *ei)
{
    size_t total = sizeof(htj2k_result) + f->size;
    void *sh = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (sh == MAP_FAILED) {
        return pacs_errf(ei, PACS_ENOMEM, "mmap: %s", strerror(errno));
    }
    htj2k_result *r = sh;
    uint8_t *px = (uint8_t *)sh + sizeof *r;
    r->err = PACS_EBADDATA;
    r->got = f->info;
    pacs_errinfo_clear(&r->ei);
    pid_t pid = fork();
    if (pid == 0) {
        alarm(60);
        if (openjph) {
            /* OpenJPH decodes HT code blocks several times faster than OpenJPEG. */
            pacs_codec_image img;
            pacs_image__codec_image(info, &img);
            r->err = pacs_htj2k_decode(data, len, &img, px, f->size, &r->ei);
            if (r->err == PACS_OK && info->samples == 3 &&
                strncmp(info->photometric, "YBR_", 4) == 0) {
                snprintf(r->got.photometric, sizeof r->got.photometric, "RGB");
            }
        } else {
            r->err = pacs_image__j2k_decode(data, len, info, px, f->size, &r->got, &r->ei);
        }
        _exit(0);
    }
    pacs_err err;
    int st = 0;
    if (pid < 0) {
        err = pacs_errf(ei, pacs_err_from_errno(errno), "fork: %s", strerror(errno));
    } else {
        pid_t w;
        do {
            w = waitpid(pid, &st, 0);
        } while (w < 0 && errno == EINTR);
        if (w != pid || !WIFEXITED(st) || WEXITSTATUS(st) != 0) {
            err = pacs_errf(ei, PACS_EBADDATA, "HTJ2K: the decoder failed on this codestream%s",
                            w == pid && WIFSIGNALED(st) ? " (it crashed)" : "");
        } else if (r->err != PACS_OK) {
            err = pacs_errf(ei, r->err, "%s", r->ei.msg);
        } else {
            memcpy(f->data, px, f->size);
            f->info = r->got;
            err = PACS_OK;
        }
    }
    munmap(sh, total);
    return err;
}

static pacs_err decode_compressed(const char *ts, const pacs_image_info *info, const uint8_t *data,
                                  size_t len, pacs_frame *f, pacs_errinfo *ei)
{
    if (info->bits_allocated == 1) {
        return pacs_errf(ei, PACS_EUNSUPPORTED, "compressed 1-bit images");
    }
    pacs_err err = alloc_frame(info, f, ei);
    if (err) {
        return err;
    }
    if (is_j2k(ts) && !uses_ht_blocks(data, len)) {
        return pacs_image__j2k_decode(data, len, info, f->data, f->size, &f->info, ei);
    }
    if (is_j2k(ts)) {
        return decode_htj2k_isolated(0, data, len, info, f, ei);
    }
    if (is_htj2k(ts)) {
        return decode_htj2k_isolated(1, data, len, info, f, ei);
    }
    pacs_codec_image img;
    pacs_image__codec_image(info, &img);
    if (strcmp(ts, PACS_TS_RLE) == 0) {
        err = check_rle(info, data, len, ei);
    } else {
        err = check_jpeg_markers(data, len, ei);
    }
    if (err) {
        return err;
    }
    if (turbo_candidate(ts, info)) {
        err = pacs_image__jpeg_decode(data, len, info, f->data, f->size, f->info.photometric, NULL);
        if (!err) {
            return PACS_OK;
        }
    }
    return pacs_codec_decode(ts, &img, data, len, f->data, f->size, f->info.photometric, ei);
}

pacs_err pacs_image_decode_bytes(const char *ts_uid, const pacs_image_info *info,
                                 const uint8_t *data, size_t len, pacs_frame **out,
                                 pacs_errinfo *ei)
{
    if (!ts_uid || !pacs_image_can_decode(ts_uid)) {
        return pacs_errf(ei, PACS_EUNSUPPORTED, "cannot decode transfer syntax %s",
                         ts_uid ? ts_uid : "(none)");
    }
    pacs_err err = check_info(info, ei);
    if (err) {
        return err;
    }
    pacs_frame *f = calloc(1, sizeof *f);
    if (!f) {
        return pacs_errf(ei, PACS_ENOMEM, "out of memory");
    }
    if (is_native(ts_uid)) {
        err = native_frame(info, strcmp(ts_uid, PACS_TS_EXPLICIT_BE) == 0, data, len, f, ei);
    } else {
        err = decode_compressed(ts_uid, info, data, len, f, ei);
    }
    if (err) {
        pacs_frame_free(f);
        return err;
    }
    *out = f;
    return PACS_OK;
}

/* Whole-file fallback through DCMTK for layouts that do not address frames. */
static pacs_err decode_opaque(const pacs_image_source *src, const pacs_image_info *info,
                              uint32_t index, pacs_frame **out, pacs_errinfo *ei)
{
    if (!src->path) {
        return pacs_errf(ei, PACS_EUNSUPPORTED, "frames of this object are not addressable");
    }
    if (is_j2k(src->ts_uid) || is_htj2k(src->ts_uid)) {
        return pacs_errf(ei, PACS_EUNSUPPORTED,
                         "JPEG 2000 frames that cannot be told apart in the pixel data");
    }
    pacs_codec_image img;
    uint8_t *buf = NULL;
    size_t len = 0;
    char pi[17];
    pacs_err err = pacs_codec_decode_file(src->path, index, &img, &buf, &len, pi, ei);
    if (err) {
        return err;
    }
    /* DCMTK hands native frames over as stored in memory: planes kept, host byte order. */
    pacs_image_info fi = *info;
    if (is_native(src->ts_uid)) {
        err = pacs_image_decode_bytes(PACS_TS_EXPLICIT_LE, &fi, buf, len, out, ei);
        free(buf);
        return err;
    }
    fi.planar = 0;
    pacs_frame *f = calloc(1, sizeof *f);
    if (!f) {
        free(buf);
        return pacs_errf(ei, PACS_ENOMEM, "out of memory");
    }
    f->info = fi;
    f->info.frames = 1;
    memcpy(f->info.photometric, pi, sizeof pi);
    f->data = buf;
    f->size = len;
    if (len < pacs_image_frame_size(&fi)) {
        pacs_frame_free(f);
        return pacs_errf(ei, PACS_EBADDATA, "decoded frame is short");
    }
    *out = f;
    return PACS_OK;
}

pacs_err pacs_image_decode(const pacs_image_source *src, const pacs_image_desc *desc,
                           uint32_t index, pacs_frame **out, pacs_errinfo *ei)
{
    const pacs_image_info *info = &desc->info;
    if (index >= info->frames) {
        return pacs_errf(ei, PACS_ENOTFOUND, "frame %u out of range (the object has %u)", index + 1,
                         info->frames);
    }
    if (!src->layout || src->layout->kind == PACS_PIXELS_NONE) {
        return pacs_errf(ei, PACS_ENOTFOUND, "the object has no pixel data");
    }
    if (src->layout->kind == PACS_PIXELS_OPAQUE) {
        return decode_opaque(src, info, index, out, ei);
    }
    uint8_t *data = NULL;
    size_t len = 0;
    pacs_err err = pacs_image_read_frame(src, index, &data, &len, ei);
    if (err) {
        return err;
    }
    err = pacs_image_decode_bytes(src->ts_uid, info, data, len, out, ei);
    free(data);
    return err;
}

/* ---- Files outside the archive ---- */

pacs_err pacs_image_file_open(const char *path, pacs_image_file **out, pacs_errinfo *ei)
{
    pacs_err err = PACS_OK;
    uint8_t head[8192];
    size_t start = 0;
    pacs_image_file *f = calloc(1, sizeof *f);
    if (!f) {
        return pacs_errf(ei, PACS_ENOMEM, "out of memory");
    }
    f->src.fd = open(path, O_RDONLY | O_CLOEXEC);
    if (f->src.fd < 0) {
        free(f);
        return pacs_errf(ei, pacs_err_from_errno(errno), "open %s: %s", path, strerror(errno));
    }
    f->src.path = strdup(path);
    ssize_t n = pread(f->src.fd, head, sizeof head, 0);
    if (!f->src.path || n < 0) {
        err = pacs_errf(ei, PACS_EIO, "read %s", path);
        goto fail;
    }
    err = pacs_meta_read(head, (size_t)n, &f->meta, &start, ei);
    if (err) {
        goto fail;
    }
    f->src.ts_uid = f->meta.transfer_syntax_uid;
    err = pacs_image_desc_from_file(path, &f->desc, ei);
    if (err) {
        goto fail;
    }
    err = pacs_pixel_layout_scan(f->src.fd, start, f->src.ts_uid, &f->layout, ei);
    if (err) {
        goto fail;
    }
    const pacs_image_info *info = &f->desc->info;
    uint64_t fs = info->bits_allocated == 1 && info->frames > 1 ? 0 : pacs_image_frame_size(info);
    if (info->samples == 3 && strcmp(info->photometric, "YBR_FULL_422") == 0 &&
        info->bits_allocated == 8) {
        fs = (uint64_t)info->rows * info->cols * 2;
    }
    err = pacs_pixel_layout_map_frames(&f->layout, info->frames, fs, ei);
    if (err) {
        goto fail;
    }
    f->src.layout = &f->layout;
    *out = f;
    return PACS_OK;
fail:
    pacs_image_file_close(f);
    return err;
}

void pacs_image_file_close(pacs_image_file *f)
{
    if (!f) {
        return;
    }
    if (f->src.fd >= 0) {
        close(f->src.fd);
    }
    free((char *)f->src.path);
    pacs_pixel_layout_clear(&f->layout);
    pacs_image_desc_free(f->desc);
    free(f);
}
