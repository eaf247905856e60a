// SPDX-License-Identifier: MIT
/*
 * Rendered images and thumbnails over HTTP (PS3.18 8.3.5 and 9): WADO-RS /rendered and
 * /thumbnail at study, series, instance and frame level, and WADO-URI with an image
 * contentType. Pixels come from pacs/image (decode, render, encode) and a process-wide image
 * cache keyed by (object hash, frame, parameters, media type). Objects are reached through
 * the archive (index rows, an fd and a path the archive makes). Thread-safe: the cache is
 * locked; everything else is per request.
 */
#ifndef PACS_DICOMWEB_RENDERED_H
#define PACS_DICOMWEB_RENDERED_H

#include "dicomweb/http.h"
#include "dicomweb/media.h"
#include "dicomweb/route.h"

/** GET .../rendered and .../thumbnail (rt->thumbnail tells which). */
void pacs_rendered_resource(pacs_http_req *r, const pacs_route *rt);

/** WADO-URI with contentType image/jpeg or image/png (or none: image/jpeg), windowCenter,
 *  windowWidth, rows, columns, frameNumber, imageQuality. */
void pacs_rendered_uri(pacs_http_req *r, const char *study, const char *series, const char *sop);

/**
 * Retrieval in a transfer syntax other than the stored one (PS3.18 8.7.3.5): called when no
 * Accept range takes the stored bytes. Transcodes every instance of the resource to the first
 * transfer syntax named in a multipart/related; type="application/dicom" range (or a bare
 * application/dicom one, for one instance) that pacs/image writes, and answers multipart/
 * related; 406 when none is writable. Lossy syntaxes (4.50, 4.51, 4.81) are used only when
 * named; 4.91 and 4.203 are written lossless.
 */
void pacs_rendered_transcoded(pacs_http_req *r, const pacs_route *rt, const pacs_media *m,
                              size_t nm);

/**
 * WADO-RS frames (PS3.18 8.7.3.5.3) in a transfer syntax other than the stored one: called when
 * no Accept range takes the stored bytes. Takes the first multipart/related range naming an
 * image media type (image/jpeg, image/jls, image/jp2, image/jphc, image/dicom-rle, with its
 * transfer-syntax or the type's default) or application/octet-stream (with a transfer-syntax
 * that pacs/image writes; none means Explicit VR Little Endian, i.e. decoded frames), transcodes
 * frames `idx` (0-based, already checked to exist) of the instance the caller looked up (its
 * object key, stored transfer syntax and pixel layout, from the index) one at a time through
 * the image cache, and answers multipart/related. Lossy only when a lossy syntax was named
 * (4.50, 4.51, 4.81). Returns -1, having sent nothing, when no range names a syntax it can write
 * (the caller answers 406); 0 once an answer (or an error) was sent. This is what lets a viewer
 * on a slow link ask for JPEG-LS or HTJ2K frames of an uncompressed study.
 */
int pacs_rendered_frames_transcoded(pacs_http_req *r, const char *object, const char *stored_ts,
                                    const uint8_t *layout, size_t layout_len, const uint32_t *idx,
                                    size_t n_idx, const pacs_media *m, size_t nm);

#endif
