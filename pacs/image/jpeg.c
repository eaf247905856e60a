// SPDX-License-Identifier: MIT
/*
 * 8-bit JPEG through libjpeg-turbo's TurboJPEG API: decoding 8-bit DICOM JPEG frames (faster
 * than DCMTK's IJG 6b) and encoding rendered images. A handle per call keeps it thread-safe
 * without shared state; creating one costs microseconds next to a decode.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <turbojpeg.h>

#include "pacs/image/internal.h"

pacs_err pacs_image__jpeg_decode(const uint8_t *data, size_t len, const pacs_image_info *info,
                                 uint8_t *out, size_t cap, char photometric_out[17],
                                 pacs_errinfo *ei)
{
    if (len > 0x7FFFFFFF) {
        return pacs_errf(ei, PACS_ETOOBIG, "JPEG stream too large");
    }
    tjhandle h = tjInitDecompress();
    if (!h) {
        return pacs_errf(ei, PACS_ENOMEM, "libjpeg-turbo: %s", tjGetErrorStr2(NULL));
    }
    pacs_err err = PACS_OK;
    int w = 0, ht = 0, sub = 0, cs = 0;
    if (tjDecompressHeader3(h, data, (unsigned long)len, &w, &ht, &sub, &cs) != 0) {
        err = pacs_errf(ei, PACS_EUNSUPPORTED, "libjpeg-turbo: %s", tjGetErrorStr2(h));
        goto done;
    }
    if ((uint32_t)w != info->cols || (uint32_t)ht != info->rows) {
        err = pacs_errf(ei, PACS_EUNSUPPORTED, "JPEG is %dx%d, the dataset says %ux%u", w, ht,
                        info->cols, info->rows);
        goto done;
    }
    int grey = info->samples == 1;
    if (grey != (cs == TJCS_GRAY) || cs == TJCS_CMYK || cs == TJCS_YCCK) {
        err = pacs_errf(ei, PACS_EUNSUPPORTED, "JPEG colour space does not match the dataset");
        goto done;
    }
    size_t need = (size_t)w * (size_t)ht * (grey ? 1u : 3u);
    if (cap < need) {
        err = pacs_errf(ei, PACS_EINVAL, "frame buffer too small");
        goto done;
    }
    if (tjDecompress2(h, data, (unsigned long)len, out, w, 0, ht, grey ? TJPF_GRAY : TJPF_RGB,
                      TJFLAG_ACCURATEDCT | TJFLAG_STOPONWARNING) != 0) {
        err = pacs_errf(ei, PACS_EUNSUPPORTED, "libjpeg-turbo: %s", tjGetErrorStr2(h));
        goto done;
    }
    snprintf(photometric_out, 17, "%s", grey ? info->photometric : "RGB");
done:
    tjDestroy(h);
    return err;
}

pacs_err pacs_image__jpeg_encode(const uint8_t *px, uint32_t rows, uint32_t cols, int channels,
                                 int quality, uint8_t **out, size_t *len, pacs_errinfo *ei)
{
    tjhandle h = tjInitCompress();
    if (!h) {
        return pacs_errf(ei, PACS_ENOMEM, "libjpeg-turbo: %s", tjGetErrorStr2(NULL));
    }
    unsigned char *jpg = NULL;
    unsigned long size = 0;
    int sub = channels == 1 ? TJSAMP_GRAY : quality >= 90 ? TJSAMP_444 : TJSAMP_420;
    pacs_err err = PACS_OK;
    if (tjCompress2(h, px, (int)cols, 0, (int)rows, channels == 1 ? TJPF_GRAY : TJPF_RGB, &jpg,
                    &size, sub, quality, 0) != 0) {
        err = pacs_errf(ei, PACS_EINVAL, "libjpeg-turbo: %s", tjGetErrorStr2(h));
        goto done;
    }
    uint8_t *buf = malloc(size);
    if (!buf) {
        err = pacs_errf(ei, PACS_ENOMEM, "out of memory");
        goto done;
    }
    memcpy(buf, jpg, size);
    *out = buf;
    *len = size;
done:
    tjFree(jpg);
    tjDestroy(h);
    return err;
}
