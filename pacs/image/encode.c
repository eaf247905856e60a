// SPDX-License-Identifier: MIT
/*
 * Rendered image encoders (encode.h): JPEG in jpeg.c (libjpeg-turbo), PNG here through
 * libpng's simplified memory API. Thread-safe: no shared state.
 */
#include "pacs/image/encode.h"

#include <png.h>
#include <stdlib.h>
#include <string.h>

#include "pacs/image/internal.h"

pacs_image_format pacs_image_format_for(const char *media_type)
{
    if (!media_type) {
        return 0;
    }
    if (strcmp(media_type, "image/jpeg") == 0) {
        return PACS_IMAGE_JPEG;
    }
    if (strcmp(media_type, "image/png") == 0) {
        return PACS_IMAGE_PNG;
    }
    return 0;
}

const char *pacs_image_format_media_type(pacs_image_format f)
{
    return f == PACS_IMAGE_PNG ? "image/png" : "image/jpeg";
}

static pacs_err encode_png(const pacs_rendered *r, uint8_t **out, size_t *len, pacs_errinfo *ei)
{
    png_image img;
    memset(&img, 0, sizeof img);
    img.version = PNG_IMAGE_VERSION;
    img.width = r->cols;
    img.height = r->rows;
    img.format = r->channels == 3 ? PNG_FORMAT_RGB : PNG_FORMAT_GRAY;
    png_alloc_size_t size = 0;
    if (!png_image_write_to_memory(&img, NULL, &size, 0, r->data, 0, NULL)) {
        pacs_err err = pacs_errf(ei, PACS_EINVAL, "PNG: %s", img.message);
        png_image_free(&img);
        return err;
    }
    uint8_t *buf = malloc(size);
    if (!buf) {
        png_image_free(&img);
        return pacs_errf(ei, PACS_ENOMEM, "out of memory");
    }
    if (!png_image_write_to_memory(&img, buf, &size, 0, r->data, 0, NULL)) {
        pacs_err err = pacs_errf(ei, PACS_EINVAL, "PNG: %s", img.message);
        png_image_free(&img);
        free(buf);
        return err;
    }
    png_image_free(&img);
    *out = buf;
    *len = size;
    return PACS_OK;
}

pacs_err pacs_image_encode(const pacs_rendered *r, pacs_image_format f, int quality, uint8_t **out,
                           size_t *len, pacs_errinfo *ei)
{
    if (!r || !r->data || r->rows == 0 || r->cols == 0 || (r->channels != 1 && r->channels != 3)) {
        return pacs_errf(ei, PACS_EINVAL, "nothing to encode");
    }
    switch (f) {
    case PACS_IMAGE_JPEG:
        if (quality < 1 || quality > 100) {
            return pacs_errf(ei, PACS_EINVAL, "quality %d is not in 1..100", quality);
        }
        return pacs_image__jpeg_encode(r->data, r->rows, r->cols, r->channels, quality, out, len,
                                       ei);
    case PACS_IMAGE_PNG:
        return encode_png(r, out, len, ei);
    }
    return pacs_errf(ei, PACS_EUNSUPPORTED, "unknown image format");
}
