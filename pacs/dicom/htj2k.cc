// SPDX-License-Identifier: MIT
/*
 * OpenJPH behind htj2k.h: HTJ2K encode and decode of one frame in memory. OpenJPH reports
 * errors by calling a message handler, whose default prints to stderr and throws; ours only
 * throws, with the message, and the try/catch shell turns it into a pacs_err. Line by line
 * transfer keeps memory to the codestream plus the frame. Thread-safe after the one-time
 * handler set-up (each call owns its codestream).
 */
#include "pacs/dicom/htj2k.h"

#include <cmath>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <string>

#include <openjph/ojph_arch.h>
#include <openjph/ojph_codestream.h>
#include <openjph/ojph_file.h>
#include <openjph/ojph_mem.h>
#include <openjph/ojph_message.h>
#include <openjph/ojph_params.h>

namespace
{

struct ojph_failure : std::runtime_error {
    explicit ojph_failure(const std::string &m) : std::runtime_error(m)
    {
    }
};

class throwing_error : public ojph::message_error
{
  public:
    void operator()(int code, const char *file, int line, const char *fmt, ...) override
    {
        (void)file;
        (void)line;
        char msg[200];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        throw ojph_failure("OpenJPH error " + std::to_string(code) + ": " + msg);
    }
};

class silent_warning : public ojph::message_warning
{
  public:
    void operator()(int, const char *, int, const char *, ...) override
    {
    }
};

class silent_info : public ojph::message_info
{
  public:
    void operator()(int, const char *, int, const char *, ...) override
    {
    }
};

std::once_flag handlers_once;
throwing_error error_handler;
silent_warning warning_handler;
silent_info info_handler;

void set_handlers()
{
    std::call_once(handlers_once, [] {
        /* Debian's 0.9 calls its default handlers whatever is configured, and they write to
         * these streams (NULL is not allowed): send them nowhere. */
        FILE *devnull = fopen("/dev/null", "w");
        if (devnull) {
            ojph::set_error_stream(devnull);
            ojph::set_warning_stream(devnull);
            ojph::set_info_stream(devnull);
        }
        ojph::configure_error(&error_handler);
        ojph::configure_warning(&warning_handler);
        ojph::configure_info(&info_handler);
    });
}

bool image_ok(const pacs_codec_image *img)
{
    return img->rows > 0 && img->cols > 0 && (img->samples == 1 || img->samples == 3) &&
           (img->bits_allocated == 8 || img->bits_allocated == 16) && img->bits_stored >= 1 &&
           img->bits_stored <= img->bits_allocated && img->pixel_rep <= 1;
}

size_t frame_bytes(const pacs_codec_image *img)
{
    return (size_t)img->rows * img->cols * img->samples * (img->bits_allocated / 8u);
}

/* Sample `i` of a native frame, reduced to BitsStored (sign-extended when signed). */
int32_t read_sample(const pacs_codec_image *img, const uint8_t *px, size_t i)
{
    uint32_t v = img->bits_allocated == 8 ? px[i] : (uint32_t)(px[2 * i] | (px[2 * i + 1] << 8));
    unsigned bits = img->bits_stored;
    uint32_t mask = bits >= 32 ? 0xFFFFFFFFu : ((1u << bits) - 1u);
    v &= mask;
    if (img->pixel_rep && (v >> (bits - 1)) & 1u) {
        return (int32_t)(v | ~mask);
    }
    return (int32_t)v;
}

void write_sample(const pacs_codec_image *img, uint8_t *px, size_t i, int32_t v)
{
    int32_t lo = img->pixel_rep ? -(1 << (img->bits_stored - 1)) : 0;
    int32_t hi = img->pixel_rep ? (1 << (img->bits_stored - 1)) - 1 : (1 << img->bits_stored) - 1;
    v = v < lo ? lo : v > hi ? hi : v;
    uint32_t u = (uint32_t)v;
    if (img->bits_allocated == 8) {
        px[i] = (uint8_t)u;
    } else {
        px[2 * i] = (uint8_t)u;
        px[2 * i + 1] = (uint8_t)(u >> 8);
    }
}

} // namespace

extern "C" pacs_err pacs_htj2k_decode(const uint8_t *data, size_t len, const pacs_codec_image *img,
                                      uint8_t *out, size_t cap, pacs_errinfo *ei)
{
    try {
        set_handlers();
        if (!image_ok(img)) {
            return pacs_errf(ei, PACS_EUNSUPPORTED, "HTJ2K: unsupported image attributes");
        }
        if (cap < frame_bytes(img)) {
            return pacs_errf(ei, PACS_EINVAL, "frame buffer too small");
        }
        if (len < 2 || data[0] != 0xFF || data[1] != 0x4F) {
            return pacs_errf(ei, PACS_EBADDATA, "not a JPEG 2000 codestream (no SOC marker)");
        }
        ojph::mem_infile in;
        in.open(data, len);
        ojph::codestream cs;
        cs.read_headers(&in);
        ojph::param_siz siz = cs.access_siz();
        ojph::ui32 nc = siz.get_num_components();
        if (nc != img->samples) {
            return pacs_errf(ei, PACS_EBADDATA, "HTJ2K: %u components, expected %u", nc,
                             img->samples);
        }
        for (ojph::ui32 c = 0; c < nc; c++) {
            if (siz.get_recon_width(c) != img->cols || siz.get_recon_height(c) != img->rows) {
                return pacs_errf(ei, PACS_EBADDATA, "HTJ2K: component %u is %ux%u, expected %ux%u",
                                 c, siz.get_recon_width(c), siz.get_recon_height(c), img->cols,
                                 img->rows);
            }
        }
        cs.set_planar(false);
        cs.create();
        uint32_t row[3] = {0, 0, 0};
        size_t total = (size_t)img->rows * nc;
        for (size_t k = 0; k < total; k++) {
            ojph::ui32 comp = 0;
            ojph::line_buf *line = cs.pull(comp);
            if (!line || comp >= nc || row[comp] >= img->rows || line->size < img->cols) {
                return pacs_errf(ei, PACS_EBADDATA, "HTJ2K: codestream ended early");
            }
            size_t base = (size_t)row[comp] * img->cols;
            for (uint32_t x = 0; x < img->cols; x++) {
                write_sample(img, out, (base + x) * nc + comp, line->i32[x]);
            }
            row[comp]++;
        }
        cs.close();
        return PACS_OK;
    } catch (const ojph_failure &e) {
        return pacs_errf(ei, PACS_EBADDATA, "%s", e.what());
    } catch (const std::bad_alloc &) {
        return pacs_errf(ei, PACS_ENOMEM, "out of memory while decoding HTJ2K");
    } catch (const std::exception &e) {
        return pacs_errf(ei, PACS_EBADDATA, "HTJ2K: corrupt codestream (%s)", e.what());
    } catch (...) {
        return pacs_errf(ei, PACS_EBADDATA, "HTJ2K decoder failed");
    }
}

extern "C" pacs_err pacs_htj2k_encode(const pacs_codec_image *img, const uint8_t *pixels,
                                      size_t len, int lossless, int quality, pacs_codec_frame *out,
                                      pacs_errinfo *ei)
{
    try {
        set_handlers();
        if (!image_ok(img)) {
            return pacs_errf(ei, PACS_EUNSUPPORTED, "HTJ2K: unsupported image attributes");
        }
        if (len != frame_bytes(img)) {
            return pacs_errf(ei, PACS_EINVAL, "frame of %zu bytes, expected %zu", len,
                             frame_bytes(img));
        }
        if (!lossless && (quality < 1 || quality > 100)) {
            return pacs_errf(ei, PACS_EINVAL, "quality %d is not in 1..100", quality);
        }
        bool rgb = img->samples == 3 && strcmp(img->photometric, "RGB") == 0;
        ojph::codestream cs;
        ojph::param_siz siz = cs.access_siz();
        siz.set_image_extent(ojph::point(img->cols, img->rows));
        siz.set_num_components(img->samples);
        for (ojph::ui32 c = 0; c < img->samples; c++) {
            siz.set_component(c, ojph::point(1, 1), img->bits_stored, img->pixel_rep != 0);
        }
        siz.set_image_offset(ojph::point(0, 0));
        siz.set_tile_size(ojph::size(0, 0));
        siz.set_tile_offset(ojph::point(0, 0));
        ojph::param_cod cod = cs.access_cod();
        ojph::ui32 levels = 5;
        while (levels > 0 && ((img->cols >> levels) < 1 || (img->rows >> levels) < 1)) {
            levels--;
        }
        cod.set_num_decomposition(levels);
        cod.set_block_dims(64, 64);
        cod.set_progression_order("RPCL");
        cod.set_color_transform(rgb);
        cod.set_reversible(lossless != 0);
        if (!lossless) {
            cs.access_qcd().set_irrev_quant((float)(0.001 * std::pow(2.0, (90 - quality) / 10.0)));
        }
        cs.set_planar(false);
        ojph::mem_outfile mo;
        mo.open();
        cs.write_headers(&mo);
        ojph::ui32 comp = 0;
        ojph::line_buf *line = cs.exchange(nullptr, comp);
        uint32_t row[3] = {0, 0, 0};
        size_t total = (size_t)img->rows * img->samples;
        for (size_t k = 0; k < total; k++) {
            if (!line || comp >= img->samples || row[comp] >= img->rows) {
                return pacs_errf(ei, PACS_EBADDATA, "HTJ2K: encoder asked for a bad line");
            }
            size_t base = (size_t)row[comp] * img->cols;
            for (uint32_t x = 0; x < img->cols; x++) {
                line->i32[x] = read_sample(img, pixels, (base + x) * img->samples + comp);
            }
            row[comp]++;
            line = cs.exchange(line, comp);
        }
        cs.flush();
        size_t n = (size_t)mo.tell();
        uint8_t *buf = (uint8_t *)malloc(n + 1);
        if (!buf) {
            cs.close();
            return pacs_errf(ei, PACS_ENOMEM, "out of memory");
        }
        memcpy(buf, mo.get_data(), n);
        cs.close();
        if (n & 1u) {
            buf[n++] = 0; /* fragments have even length */
        }
        out->data = buf;
        out->len = n;
        snprintf(out->photometric, sizeof out->photometric, "%s",
                 rgb ? (lossless ? "YBR_RCT" : "YBR_ICT") : img->photometric);
        return PACS_OK;
    } catch (const ojph_failure &e) {
        return pacs_errf(ei, PACS_EBADDATA, "%s", e.what());
    } catch (const std::bad_alloc &) {
        return pacs_errf(ei, PACS_ENOMEM, "out of memory while encoding HTJ2K");
    } catch (const std::exception &e) {
        return pacs_errf(ei, PACS_EBADDATA, "HTJ2K encoder: %s", e.what());
    } catch (...) {
        return pacs_errf(ei, PACS_EBADDATA, "HTJ2K encoder failed");
    }
}
