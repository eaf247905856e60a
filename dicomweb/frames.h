// SPDX-License-Identifier: MIT
/*
 * WADO-RS frames (PS3.18 10.4.1.1.4) and the Pixel Data bulk value: GET .../frames/{list} and
 * .../bulkdata/7FE00010. As stored, a frame is one pread (native) or its fragments (compressed)
 * at the offsets the index recorded at ingest, never a parse; big endian stored native pixels
 * are swapped to little endian on the way out. In another syntax (what a viewer on a slow link
 * asks for: JPEG-LS or HTJ2K of an uncompressed study; or decoded frames of a compressed one),
 * each frame is transcoded alone by the instance's delivery plan, through the image cache.
 * Thread-safe: no shared state but the image cache (locked).
 */
#ifndef PACS_DICOMWEB_FRAMES_H
#define PACS_DICOMWEB_FRAMES_H

#include <stddef.h>
#include <stdint.h>

#include "http/http.h"
#include "dicomweb/route.h"

/** GET .../instances/{sop}/frames/{list}. */
void pacs_frames_retrieve(pacs_http_req *r, const pacs_route *rt);

/** GET .../instances/{sop}/bulkdata/7FE00010: native pixel data as one value, encapsulated
 *  pixel data as its frames. */
void pacs_frames_pixel_data(pacs_http_req *r, const pacs_route *rt);

/**
 * Parses a frame list ("1,2,3", 1-based) into `out` (0-based, in the order given, at most
 * `cap`). PACS_EINVAL for anything else (0, signs, blanks, empty items, too many).
 */
pacs_err pacs_frames_parse_list(const char *text, uint32_t *out, size_t cap, size_t *n,
                                pacs_errinfo *ei);

#endif
