// SPDX-License-Identifier: MIT
/*
 * Rendered images and thumbnails over HTTP (PS3.18 8.3.5 and 9): WADO-RS /rendered and
 * /thumbnail at study, series, instance and frame level, and WADO-URI with an image
 * contentType. Pixels come from pacs/image (decode, render, encode) and a process-wide image
 * cache keyed by (object hash, frame, parameters, media type), which frames.h shares for frames
 * in another transfer syntax. Instances come from the archive's resolve step, their pixels
 * through storage/delivery.h. Thread-safe: the cache is locked; everything else is per request.
 */
#ifndef PACS_DICOMWEB_RENDERED_H
#define PACS_DICOMWEB_RENDERED_H

#include "http/http.h"
#include "dicomweb/route.h"
#include "pacs/image/cache.h"

/** GET .../rendered and .../thumbnail (rt->thumbnail tells which). */
void pacs_rendered_resource(pacs_http_req *r, const pacs_route *rt);

/** WADO-URI with contentType image/jpeg or image/png (or none: image/jpeg), windowCenter,
 *  windowWidth, rows, columns, frameNumber, imageQuality. */
void pacs_rendered_uri(pacs_http_req *r, const char *study, const char *series, const char *sop);

/** The process-wide image cache (made on first use; NULL when that failed: work uncached). */
pacs_image_cache *pacs_rendered_cache(void);

#endif
