// SPDX-License-Identifier: MIT
/*
 * Encoding rendered images for HTTP: JPEG through libjpeg-turbo (the fastest JPEG encoder in
 * Debian, and C) and PNG through libpng (the reference PNG library, C, in Debian; DCMTK's PNG
 * plugin works only on its own DicomImage, which would mean a second decode of the object).
 * GIF is not offered: no well-kept Debian library writes it cheaply, and PS3.18 does not
 * require it.
 *
 * Thread-safe: no shared state.
 */
#ifndef PACS_IMAGE_ENCODE_H
#define PACS_IMAGE_ENCODE_H

#include <stddef.h>
#include <stdint.h>

#include "pacs/base/err.h"
#include "pacs/image/render.h"

/** Output formats for rendered images. */
typedef enum pacs_image_format { PACS_IMAGE_JPEG = 1, PACS_IMAGE_PNG } pacs_image_format;

/** The format for a media type ("image/jpeg", "image/png"); 0 when not offered. */
pacs_image_format pacs_image_format_for(const char *media_type);

/** The media type of a format. */
const char *pacs_image_format_media_type(pacs_image_format f);

/**
 * Encodes `r` as `f`. `quality` (1..100) is JPEG's; PNG ignores it. `*out` is the caller's to
 * free(). PACS_EINVAL for a quality out of range.
 */
pacs_err pacs_image_encode(const pacs_rendered *r, pacs_image_format f, int quality, uint8_t **out,
                           size_t *len, pacs_errinfo *ei);

#endif
