// SPDX-License-Identifier: MIT
/*
 * Rendering a decoded frame for a screen (PS3.18 8.3.5 "rendered" resources): the modality
 * transform (Modality LUT, or rescale slope and intercept), the VOI transform (the request's
 * window, else the dataset's first window or VOI LUT, else the frame's own range), MONOCHROME1
 * inverted, colour models (RGB, YBR_FULL/422/PARTIAL, PALETTE COLOR) to 8-bit RGB, then
 * scaling to a viewport with aspect ratio kept: an area-weighted (triangle) filter when
 * shrinking, bilinear when enlarging. Also parsers for the `window` and `viewport` query
 * parameters, shared by WADO-RS and WADO-URI.
 *
 * Thread-safe: no shared state.
 */
#ifndef PACS_IMAGE_RENDER_H
#define PACS_IMAGE_RENDER_H

#include <stddef.h>
#include <stdint.h>

#include "pacs/base/err.h"
#include "pacs/image/decode.h"

/** Largest viewport side accepted, in pixels. */
#define PACS_RENDER_MAX_SIDE 8192

/** VOI LUT functions (PS3.3 C.11.2.1.3; PS3.18's window=center,width,function). */
typedef enum pacs_voi_function {
    PACS_VOI_LINEAR = 0,
    PACS_VOI_LINEAR_EXACT,
    PACS_VOI_SIGMOID
} pacs_voi_function;

typedef struct pacs_render_params {
    int has_window; /* use center/width/function below instead of the dataset's VOI */
    double center, width;
    pacs_voi_function function;
    uint32_t vp_cols, vp_rows; /* viewport (width, height); 0 = the frame's own size */
} pacs_render_params;

/** An 8-bit rendered image, `channels` (1 grey, 3 RGB) interleaved, rows*cols*channels bytes. */
typedef struct pacs_rendered {
    uint32_t rows, cols;
    int channels;
    uint8_t *data;
} pacs_rendered;

void pacs_rendered_free(pacs_rendered *r);

/**
 * Renders `frame` (decoded from the object `desc` describes, frame number `index`, 0-based,
 * for per-frame transforms) with `p`. PACS_EINVAL for absurd parameters (window width <= 0 or
 * not finite, viewport side above PACS_RENDER_MAX_SIDE), PACS_EUNSUPPORTED for what cannot be
 * shown. `*out` is the caller's (pacs_rendered_free).
 */
pacs_err pacs_image_render(const pacs_image_desc *desc, const pacs_frame *frame, uint32_t index,
                           const pacs_render_params *p, pacs_rendered **out, pacs_errinfo *ei);

/** Parses PS3.18's `window=center,width[,function]` (function: linear, linear-exact, sigmoid)
 *  into `p` and sets has_window. PACS_EINVAL with a message for anything else. */
pacs_err pacs_render_parse_window(const char *text, pacs_render_params *p, pacs_errinfo *ei);

/** Parses `viewport=vw,vh` (positive integers up to PACS_RENDER_MAX_SIDE) into `p`. A source
 *  region after them (",sx,sy,sw,sh") is refused: PACS_EUNSUPPORTED. */
pacs_err pacs_render_parse_viewport(const char *text, pacs_render_params *p, pacs_errinfo *ei);

/** A canonical text of `p` (for cache keys): the same request always gives the same text. */
void pacs_render_params_key(const pacs_render_params *p, char *buf, size_t cap);

#endif
