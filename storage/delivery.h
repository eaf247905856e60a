// SPDX-License-Identifier: MIT
/*
 * The retrieve path's second step: one delivery plan per instance (storage/resolve.h lists the
 * instances). An instance goes out in the transfer syntax its recipient takes, in one of three
 * ways, chosen here for every protocol alike (C-MOVE, C-GET, forwarding, WADO-RS, and whatever
 * comes next):
 *
 *   as stored   the object's bytes, unchanged (the protocol streams them: sendfile, PDVs, a
 *               pread at a frame's offset);
 *   converted   the dataset re-encoded by DCMTK between the syntaxes that need no codec
 *               (Implicit/Explicit VR Little Endian, Explicit VR Big Endian, Deflated), pixel
 *               values untouched; or any syntax for an object without pixel data;
 *   transcoded  the pixels decoded and encoded again by pacs/image, the one transcoder (RLE,
 *               JPEG, JPEG-LS, JPEG 2000, HTJ2K, to and from the native syntaxes).
 *
 * An instance reconciled to an order's patient (pacs_resolve_item.coerce) is never sent as
 * stored: it is converted, in its own syntax if need be, with the patient attributes the index
 * serves for it (from its stored metadata), and a transcoded one is coerced after encoding.
 *
 * Transcoding happens only when the recipient does not take the stored syntax. A lossy target
 * is written only when the caller allows it (PACS_DELIVERY_LOSSY: WADO-RS, when a client names
 * one); JPEG 2000 4.91 and HTJ2K 4.203 are then written lossless. Pixels decoded from a lossy
 * syntax keep LossyImageCompression "01".
 *
 * Load: as stored costs nothing here. A converted or transcoded instance is written once into
 * an anonymous temporary file in the data folder (never held in memory whole), which the
 * protocol then streams like a stored object. Thread-safe: no shared state.
 */
#ifndef PACS_STORAGE_DELIVERY_H
#define PACS_STORAGE_DELIVERY_H

#include <stddef.h>
#include <stdint.h>

#include "pacs/base/err.h"
#include "pacs/dicom/codec.h"
#include "pacs/image/decode.h"
#include "storage/archive.h"
#include "storage/resolve.h"

typedef enum pacs_delivery_kind {
    PACS_DELIVERY_NONE = 0,  /* cannot be delivered in that syntax */
    PACS_DELIVERY_AS_STORED, /* the stored bytes */
    PACS_DELIVERY_CONVERTED, /* the dataset re-encoded, pixel values untouched (DCMTK) */
    PACS_DELIVERY_TRANSCODED /* the pixels decoded and encoded again (pacs/image) */
} pacs_delivery_kind;

/** Flag: a lossy target syntax (JPEG 4.50/4.51, JPEG-LS 4.81) may be written. */
#define PACS_DELIVERY_LOSSY 1u

/** "as stored", "converted", "transcoded" or "none" (for log lines). */
const char *pacs_delivery_kind_name(pacs_delivery_kind kind);

/**
 * How an object stored in `stored_ts` (with top-level pixel data when `has_pixels`) can be
 * delivered in `target_ts`; PACS_DELIVERY_NONE when it cannot. A `TRANSCODED` answer can still
 * fail for one image (a bit depth the target cannot hold, a corrupt frame).
 */
pacs_delivery_kind pacs_delivery_kind_of(const char *stored_ts, const char *target_ts,
                                         int has_pixels, unsigned flags);

/**
 * The syntax to deliver an object stored in `stored_ts` in, among the `n` syntaxes a recipient
 * takes (`offered`): the stored one when offered, else Explicit VR Little Endian, else Implicit
 * VR Little Endian, else the first other one it can be made into. Returns its index in
 * `offered`, or -1 when none will do.
 */
int pacs_delivery_choose(const char *stored_ts, int has_pixels, const char *const *offered,
                         size_t n, unsigned flags);

/** One instance's plan. */
typedef struct pacs_delivery_plan {
    pacs_delivery_kind kind;
    char ts[PACS_UID_MAX + 1]; /* the syntax delivered */
    unsigned flags;            /* PACS_DELIVERY_LOSSY */
} pacs_delivery_plan;

/**
 * Plans the delivery of `it` in `target_ts`. PACS_EUNSUPPORTED, with the reason, when the
 * stored syntax cannot be made into the target; `out` is written only on success.
 */
pacs_err pacs_delivery_plan_for(const pacs_resolve_item *it, const char *target_ts, unsigned flags,
                                pacs_delivery_plan *out, pacs_errinfo *ei);

/**
 * Writes `it` as `p` plans it, as a Part 10 stream, to `out_fd` from its current position (the
 * stored object itself when the plan is as stored). `*written` receives its length. Errors:
 * PACS_EUNSUPPORTED (this image cannot be written in the target: the message says why),
 * PACS_EBADDATA (a frame does not decode), PACS_ECORRUPT or PACS_ENOTFOUND (the object is
 * unreadable or missing), PACS_EIO/PACS_ENOSPC (writing; some bytes may have been written).
 */
pacs_err pacs_delivery_write(pacs_archive *a, const pacs_resolve_item *it,
                             const pacs_delivery_plan *p, int out_fd, uint64_t *written,
                             pacs_errinfo *ei);

/** A Part 10 stream ready to send: the stored object, or a temporary copy made by the plan. */
typedef struct pacs_delivery_stream {
    int fd;        /* open for reading (pread from 0); pacs_delivery_stream_close() closes it */
    uint64_t size; /* its bytes */
    pacs_delivery_kind kind;
    char ts[PACS_UID_MAX + 1];
} pacs_delivery_stream;

/**
 * Opens `it` as `p` plans it: the stored object for as stored; otherwise the instance is first
 * written into an anonymous temporary file (pacs_archive_temp_fd) by pacs_delivery_write().
 * Errors as pacs_delivery_write(); nothing is left open on failure.
 */
pacs_err pacs_delivery_open(pacs_archive *a, const pacs_resolve_item *it,
                            const pacs_delivery_plan *p, pacs_delivery_stream *out,
                            pacs_errinfo *ei);

/** Closes what pacs_delivery_open() opened (a temporary copy vanishes). NULL is accepted. */
void pacs_delivery_stream_close(pacs_delivery_stream *s);

/** One instance's pixels, open for decoding frame by frame (rendered images, frames in
 *  another syntax). Opaque. */
typedef struct pacs_delivery_pixels pacs_delivery_pixels;

/**
 * Opens the pixels of `it`: its object, its pixel layout (from `it->layout` when resolved with
 * PACS_RESOLVE_LAYOUT, else scanned from the object) and its image description (read from the
 * object, without its pixel data). PACS_ENOTFOUND when the instance has no pixel data;
 * PACS_EBADDATA or PACS_EUNSUPPORTED when its image attributes cannot be decoded.
 */
pacs_err pacs_delivery_pixels_open(pacs_archive *a, const pacs_resolve_item *it,
                                   pacs_delivery_pixels **out, pacs_errinfo *ei);

/** What pacs/image reads frames from (borrowed from `px`). */
const pacs_image_source *pacs_delivery_pixels_source(const pacs_delivery_pixels *px);

/** The image description (borrowed from `px`). */
const pacs_image_desc *pacs_delivery_pixels_desc(const pacs_delivery_pixels *px);

/** Closes the pixels. NULL is accepted. */
void pacs_delivery_pixels_close(pacs_delivery_pixels *px);

/**
 * Frame `index` (0-based) of `px` alone, as plan `p` has it (planned for the instance the pixels
 * belong to): the bytes a DICOMweb frame request returns (the stored frame when the plan is as
 * stored; native bytes for an uncompressed target). out->photometric names the colour model of
 * the result; out->data is the caller's to free(). Errors as pacs_image_transcode_frame().
 */
pacs_err pacs_delivery_frame(const pacs_delivery_pixels *px, uint32_t index,
                             const pacs_delivery_plan *p, pacs_codec_frame *out, pacs_errinfo *ei);

#endif
