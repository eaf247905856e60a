// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for the frame decode entry (pacs_image_decode_bytes) and the renderer
 * behind it. Input: a 6-byte header choosing the transfer syntax and the image attributes,
 * then one frame's bytes as a stored object would hold them (a native frame, an RLE frame, a
 * JPEG / JPEG-LS / JPEG 2000 / HTJ2K codestream). Seeds: testdata/fuzz/decode/. Runs single-
 * threaded; DCMTK's codecs are registered once.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "pacs/dicom/dcm.h"
#include "pacs/image/decode.h"
#include "pacs/image/render.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const syntaxes[] = {
    "1.2.840.10008.1.2.1",    "1.2.840.10008.1.2.2",    "1.2.840.10008.1.2.5",
    "1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.51", "1.2.840.10008.1.2.4.57",
    "1.2.840.10008.1.2.4.70", "1.2.840.10008.1.2.4.80", "1.2.840.10008.1.2.4.81",
    "1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.4.91", "1.2.840.10008.1.2.4.201",
    "1.2.840.10008.1.2.4.203"};
#define N_SYNTAXES (sizeof syntaxes / sizeof syntaxes[0])

static const char *const photometrics[] = {"MONOCHROME2", "MONOCHROME1",  "RGB",
                                           "YBR_FULL",    "YBR_FULL_422", "YBR_RCT"};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int initialised;
    if (!initialised) {
        pacs_errinfo ei;
        if (pacs_dcm_init(&ei) != PACS_OK) {
            fprintf(stderr, "%s\n", ei.msg);
            return 0;
        }
        initialised = 1;
    }
    if (size < 6) {
        return 0;
    }
    /* Header: syntax, rows-1, cols-1, flags (samples, signed, photometric), bits, frame. */
    pacs_image_info info;
    memset(&info, 0, sizeof info);
    const char *ts = syntaxes[data[0] % N_SYNTAXES];
    info.rows = (uint32_t)data[1] + 1;
    info.cols = (uint32_t)data[2] + 1;
    info.frames = 1;
    info.samples = (data[3] & 1) ? 3 : 1;
    info.pixel_rep = (data[3] >> 1) & 1;
    info.planar = (data[3] >> 2) & 1;
    static const uint16_t alloc[4] = {8, 16, 16, 32};
    info.bits_allocated = alloc[data[4] & 3];
    info.bits_stored = (uint16_t)(1 + (data[4] >> 2) % info.bits_allocated);
    info.high_bit = (uint16_t)(info.bits_stored - 1);
    const char *pi =
        info.samples == 3 ? photometrics[2 + (data[3] >> 3) % 4] : photometrics[(data[3] >> 3) & 1];
    snprintf(info.photometric, sizeof info.photometric, "%s", pi);
    pacs_frame *f = NULL;
    pacs_errinfo ei;
    if (pacs_image_decode_bytes(ts, &info, data + 6, size - 6, &f, &ei) != PACS_OK) {
        return 0;
    }
    /* What decoded must render: exercise the renderer on it with a viewport. */
    char json[512];
    snprintf(json, sizeof json,
             "{\"00280010\":{\"vr\":\"US\",\"Value\":[%u]},\"00280011\":{\"vr\":\"US\","
             "\"Value\":[%u]},\"00280002\":{\"vr\":\"US\",\"Value\":[%u]},\"00280100\":{\"vr\":"
             "\"US\",\"Value\":[%u]},\"00280101\":{\"vr\":\"US\",\"Value\":[%u]},\"00280103\":"
             "{\"vr\":\"US\",\"Value\":[%u]},\"00280004\":{\"vr\":\"CS\",\"Value\":[\"%s\"]}}",
             f->info.rows, f->info.cols, f->info.samples, f->info.bits_allocated,
             f->info.bits_stored, f->info.pixel_rep, f->info.photometric);
    json_t *j = json_loads(json, 0, NULL);
    pacs_image_desc *d = NULL;
    if (j && pacs_image_desc_from_json(j, &d, &ei) == PACS_OK) {
        pacs_render_params p;
        memset(&p, 0, sizeof p);
        p.vp_cols = 1 + data[5] % 64;
        p.vp_rows = 1 + data[5] / 4;
        pacs_rendered *r = NULL;
        if (pacs_image_render(d, f, 0, &p, &r, &ei) == PACS_OK) {
            pacs_rendered_free(r);
        }
        pacs_image_desc_free(d);
    }
    json_decref(j);
    pacs_frame_free(f);
    return 0;
}
