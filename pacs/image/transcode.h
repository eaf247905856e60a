// SPDX-License-Identifier: MIT
/*
 * Transcoding a stored object to another transfer syntax: the one transcoder of the tree, which
 * the archive's delivery plans call (storage/delivery.h) for DICOMweb retrieval (transfer-syntax
 * in Accept, image media types for frames) and DIMSE retrieval (C-MOVE, C-GET and forwarding to
 * a peer that did not accept the stored syntax) alike, and `pacs render --transcode`. Input: an
 * object as the archive hands it out (pacs_image_source: fd, path, transfer syntax, pixel
 * layout) and its description; output: a new Part 10 stream written to a file descriptor, or one
 * frame's bytes. Frames are decoded and encoded one at a time.
 *
 * Targets: Explicit and Implicit VR Little Endian, RLE, JPEG baseline (8-bit) and extended
 * (12-bit), JPEG lossless (process 14 and SV1), JPEG-LS lossless and near-lossless, JPEG 2000
 * (lossless, or lossy when allowed), HTJ2K (lossless, RPCL lossless, lossy when allowed).
 * A lossy result carries LossyImageCompression "01", the ratio and the method (PS3.3
 * C.7.6.1.1.5); pixels decoded from a lossy-only syntax (JPEG 4.50/4.51, JPEG-LS 4.81) keep or
 * get LossyImageCompression "01". The SOP Instance UID is kept unless the caller asks for a new
 * one (a retrieval that allowed lossy delivers the same instance in another encoding; a stored
 * derived copy must get a new UID).
 *
 * Thread-safe: no shared state.
 */
#ifndef PACS_IMAGE_TRANSCODE_H
#define PACS_IMAGE_TRANSCODE_H

#include <stddef.h>
#include <stdint.h>

#include "pacs/base/err.h"
#include "pacs/dicom/codec.h"
#include "pacs/image/decode.h"

typedef struct pacs_transcode_params {
    const char *ts_uid; /* the target transfer syntax */
    int allow_lossy;    /* 0: lossy targets give PACS_EUNSUPPORTED; 4.91/4.203 stay lossless */
    int quality;        /* 1..100 for lossy targets; 0 means 90 */
    int new_uid;        /* give a lossy result a new SOP Instance UID */
} pacs_transcode_params;

/** True when `ts_uid` is a target this module writes. */
int pacs_image_can_transcode_to(const char *ts_uid);

/** True when encoding to `ts_uid` with allow_lossy set loses information: 4.50, 4.51, 4.81,
 *  and 4.91 and 4.203 (which this module encodes lossy only when allowed). */
int pacs_image_ts_is_lossy(const char *ts_uid);

/** What was written. */
typedef struct pacs_transcode_result {
    uint64_t bytes;       /* written to the fd */
    int lossy;            /* LossyImageCompression was set to 01 by this transcode */
    double ratio;         /* uncompressed / compressed pixel bytes (1 for native targets) */
    char sop_uid[65];     /* the result's SOP Instance UID */
    char photometric[17]; /* the result's PhotometricInterpretation */
} pacs_transcode_result;

/**
 * Writes `src` as a Part 10 stream (preamble, our meta header, dataset) in p->ts_uid to
 * `out_fd` from its current position. Needs src->path (DCMTK re-encodes the attributes).
 * The target equal to the source syntax copies the object as it is. Errors:
 * PACS_EUNSUPPORTED (target unknown, lossy not allowed, image the target cannot hold: the
 * message says which), PACS_EBADDATA (a frame does not decode), PACS_EIO/PACS_ENOSPC
 * (writing). On error some bytes may have been written: write to a temporary file.
 */
pacs_err pacs_image_transcode(const pacs_image_source *src, const pacs_image_desc *desc,
                              const pacs_transcode_params *p, int out_fd,
                              pacs_transcode_result *res, pacs_errinfo *ei);

/**
 * Encodes frame `index` (0-based) of `src` alone in p->ts_uid: the bytes a DICOMweb frame
 * request returns for image/jpeg, image/jls, image/jp2, image/jphc, or a transfer syntax
 * (native bytes for uncompressed targets). A frame already in the target syntax is returned
 * as stored. out->photometric names the colour model of the result; out->data is the
 * caller's to free().
 */
pacs_err pacs_image_transcode_frame(const pacs_image_source *src, const pacs_image_desc *desc,
                                    uint32_t index, const pacs_transcode_params *p,
                                    pacs_codec_frame *out, int *lossy, pacs_errinfo *ei);

/** The default transfer syntax of an image media type for frames (PS3.18 Table 8.7.3-2):
 *  image/jpeg 4.70 (lossless SV1), image/jls 4.80, image/jp2 4.90, image/jphc 4.201,
 *  image/dicom-rle RLE; NULL for others. */
const char *pacs_image_ts_for_media_type(const char *media_type);

#endif
