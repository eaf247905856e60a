// SPDX-License-Identifier: MIT
/*
 * Shared between the files of pacs/image only: the description's inside (render.c reads the
 * transforms decode.c parsed) and the C codecs (OpenJPEG in j2k.c, libjpeg-turbo in jpeg.c).
 * Thread-safe as the public headers say.
 */
#ifndef PACS_IMAGE_INTERNAL_H
#define PACS_IMAGE_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

#include "pacs/base/err.h"
#include "pacs/dicom/codec.h"
#include "pacs/image/decode.h"

/** A LUT as its descriptor states it: `n` entries, the first mapped from `first`. */
typedef struct pacs_image__lut {
    uint32_t n;
    int32_t first;
    uint16_t bits;
    uint16_t *data; /* NULL when absent */
} pacs_image__lut;

struct pacs_image_desc {
    pacs_image_info info;
    char modality[17];
    double slope, intercept; /* 1 and 0 when absent */
    pacs_image__lut modality_lut;
    uint32_t n_windows;
    double *centers, *widths; /* n_windows each */
    int voi_function;         /* pacs_voi_function from VOILUTFunction */
    pacs_image__lut voi_lut;
    pacs_image__lut palette[3];
    /* Enhanced multi-frame: per-frame values (NaN where absent), or NULL. */
    double *pf_center, *pf_width, *pf_slope, *pf_intercept;
};

/** The codec view of an info (for pacs/dicom). */
void pacs_image__codec_image(const pacs_image_info *info, pacs_codec_image *img);

/** JPEG 2000 codestream (or JP2 file) to a native frame of `info`'s geometry in `out`;
 *  `got` receives the decoded frame's info (signedness and precision of the stream). */
pacs_err pacs_image__j2k_decode(const uint8_t *data, size_t len, const pacs_image_info *info,
                                uint8_t *out, size_t cap, pacs_image_info *got, pacs_errinfo *ei);

/** Native frame to a JPEG 2000 codestream: reversible when `lossless`, else irreversible at a
 *  compression ratio chosen from `quality`. Three-sample RGB uses the colour transform. */
pacs_err pacs_image__j2k_encode(const pacs_image_info *info, const uint8_t *px, size_t len,
                                int lossless, int quality, pacs_codec_frame *out, pacs_errinfo *ei);

/** 8-bit JPEG with libjpeg-turbo to a native frame (grey or RGB). PACS_EUNSUPPORTED when
 *  libjpeg-turbo cannot take the stream (the caller falls back to DCMTK). */
pacs_err pacs_image__jpeg_decode(const uint8_t *data, size_t len, const pacs_image_info *info,
                                 uint8_t *out, size_t cap, char photometric_out[17],
                                 pacs_errinfo *ei);

/** An 8-bit grey or RGB image to JPEG (4:2:0 for colour below quality 90, else 4:4:4). */
pacs_err pacs_image__jpeg_encode(const uint8_t *px, uint32_t rows, uint32_t cols, int channels,
                                 int quality, uint8_t **out, size_t *len, pacs_errinfo *ei);

#endif
