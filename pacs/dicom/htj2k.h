// SPDX-License-Identifier: MIT
/*
 * High-Throughput JPEG 2000 (HTJ2K, ISO/IEC 15444-15) frames through OpenJPH, a C++ library,
 * which is why this wrapper lives in pacs/dicom. Frames are raw codestreams (no JP2 box), as
 * the HTJ2K transfer syntaxes (1.2.840.10008.1.2.4.201-203) carry them; pixels are native
 * frames as in codec.h. Implemented in htj2k.cc; no C++ type crosses this header.
 *
 * Thread-safe: each call has its own codestream; OpenJPH's message handlers are set once.
 */
#ifndef PACS_DICOM_HTJ2K_H
#define PACS_DICOM_HTJ2K_H

#include <stddef.h>
#include <stdint.h>

#include "pacs/base/err.h"
#include "pacs/dicom/codec.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Decodes an HTJ2K codestream into a native frame of `img`'s geometry in `out` (`cap` bytes at
 * least rows*cols*samples*bits_allocated/8). The codestream's size and component count must
 * match `img`. An inverse colour transform in the codestream is applied, so a YBR_RCT/YBR_ICT
 * frame comes out as RGB. Samples are clamped to the range of BitsStored. Errors:
 * PACS_EBADDATA for a corrupt or mismatching codestream.
 */
pacs_err pacs_htj2k_decode(const uint8_t *data, size_t len, const pacs_codec_image *img,
                           uint8_t *out, size_t cap, pacs_errinfo *ei);

/**
 * Encodes a native frame to an HTJ2K codestream in RPCL order, 5 decomposition levels (fewer
 * for small images), 64x64 code blocks. `lossless` selects the reversible 5/3 path; otherwise
 * `quality` (1..100) sets the quantisation step (90 gives a step of 1/1000). Three-sample RGB
 * frames use the colour transform, and out->photometric says YBR_RCT or YBR_ICT; others keep
 * img->photometric. Samples above BitsStored are ignored. out->data is the caller's to free().
 */
pacs_err pacs_htj2k_encode(const pacs_codec_image *img, const uint8_t *pixels, size_t len,
                           int lossless, int quality, pacs_codec_frame *out, pacs_errinfo *ei);

#ifdef __cplusplus
}
#endif

#endif
