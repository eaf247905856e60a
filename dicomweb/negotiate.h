// SPDX-License-Identifier: MIT
/*
 * WADO-RS content negotiation (PS3.18 8.7): from the Accept media ranges of a request to what
 * is sent and in which transfer syntax. A range without a transfer-syntax parameter asks for
 * its media type's default (Table 8.7.3-2 and 8.7.3-4: Explicit VR Little Endian for
 * application/dicom and application/octet-stream; each image type its own, Table 8.7.3-5);
 * transfer-syntax=* (and a bare "*\/\*") takes whatever is stored. What is stored is preferred
 * whenever some range takes it; otherwise the first range whose syntax (named, or its type's
 * default) the server writes chooses it, and storage/delivery.h plans each instance into it:
 * an RLE, JPEG, JPEG-LS or JPEG 2000 instance asked for without a transfer syntax comes back
 * decompressed, not refused.
 *
 * Pure functions of their arguments but pacs_negotiate_read(). Thread-safe.
 */
#ifndef PACS_DICOMWEB_NEGOTIATE_H
#define PACS_DICOMWEB_NEGOTIATE_H

#include <stddef.h>

#include "http/http.h"
#include "http/media.h"
#include "storage/resolve.h"

/** How a response is shaped. */
typedef enum pacs_negotiate_how {
    PACS_NEGOTIATE_NONE = -1,     /* nothing acceptable */
    PACS_NEGOTIATE_MULTIPART = 0, /* multipart/related */
    PACS_NEGOTIATE_SINGLE = 1     /* one bare part (a single item was asked for by its type) */
} pacs_negotiate_how;

/** The Accept ranges of `r`: its `accept` query parameter (PS3.18 8.3.3.1) when given, else its
 *  Accept header (pacs_media_accept_parse: ordered by weight, at most PACS_ACCEPT_MAX). */
pacs_err pacs_negotiate_read(pacs_http_req *r, pacs_media *m, size_t *n, pacs_errinfo *ei);

/**
 * Instances as stored: MULTIPART when a multipart/related range of application/dicom (or "*\/\*")
 * takes every instance's stored syntax, SINGLE for a bare application/dicom range when
 * `single_ok` (one instance asked for), else NONE.
 */
pacs_negotiate_how pacs_negotiate_instances(const pacs_media *m, size_t n,
                                            const pacs_resolve_list *l, int single_ok);

/**
 * Instances in another syntax, when nothing takes them as stored: the syntax of the first range
 * of application/dicom (multipart/related, or bare when `single_ok`) that names one pacs/image
 * writes, or names none: Explicit VR Little Endian, application/dicom's default (so a client that
 * asks for no syntax gets compressed instances decompressed). `*how` receives the shape of the
 * range. NULL when there is none.
 */
const char *pacs_negotiate_instance_target(const pacs_media *m, size_t n, int single_ok,
                                           pacs_negotiate_how *how);

/**
 * Pixel data (frames, or the Pixel Data bulk value) stored in `ts` (`native`: uncompressed) sent
 * as stored: writes the part media type with its transfer-syntax into `part` and the multipart
 * `type` into `related`. MULTIPART, SINGLE (a bare range, allowed when `one_item`) or NONE.
 * Native pixels always go out as little endian application/octet-stream (Explicit VR Little
 * Endian bytes); compressed ones in their image media type or as octet-stream with their
 * syntax named or transfer-syntax=*.
 */
pacs_negotiate_how pacs_negotiate_pixels(const pacs_media *m, size_t n, const char *ts, int native,
                                         int one_item, char *part, size_t part_cap, char *related,
                                         size_t rel_cap);

/**
 * Pixel data in another syntax: the first range naming an image media type pacs/image writes
 * (image/jpeg, image/jls, image/jp2, image/jphc, image/dicom-rle, with a transfer-syntax that
 * type carries or the type's default) or application/octet-stream (with a syntax pacs/image
 * writes, or none: Explicit VR Little Endian, octet-stream's default, i.e. decoded pixels).
 * Multipart ranges always; a bare application/octet-stream when `one_item` (a bare image type is
 * not taken for frames). Returns the syntax (NULL: none) and writes the part media
 * type to `*media` and the shape to `*how`.
 */
const char *pacs_negotiate_pixels_target(const pacs_media *m, size_t n, int one_item,
                                         const char **media, pacs_negotiate_how *how);

/** Bulk data other than pixel data (application/octet-stream, as stored): the shape. */
pacs_negotiate_how pacs_negotiate_bulk(const pacs_media *m, size_t n);

/** True when a range takes DICOM JSON (metadata). */
int pacs_negotiate_json(const pacs_media *m, size_t n);

#endif
