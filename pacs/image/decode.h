// SPDX-License-Identifier: MIT
/*
 * Frame decoding: one stored frame, in any transfer syntax the archive takes, to native pixels.
 * Frame i is read with pread from the byte ranges the index recorded at ingest
 * (pacs_pixel_layout_frame), so decoding one frame of a multi-frame object never reads or
 * decodes the others; only objects whose frames are not addressable (deflated datasets) are
 * decoded through DCMTK from the whole file.
 *
 * Codecs: uncompressed (every bit depth, signed or not, planar configuration 0 or 1, big
 * endian, 1-bit), RLE, JPEG-LS and the JPEG processes (DCMTK, through pacs/dicom/codec.h),
 * 8-bit JPEG through libjpeg-turbo (faster than DCMTK's IJG 6b; DCMTK takes over when
 * libjpeg-turbo refuses a stream), JPEG 2000 through OpenJPEG, HTJ2K through OpenJPH
 * (pacs/dicom/htj2k.h).
 *
 * A decoded frame is "native": bytes as Explicit VR Little Endian stores one frame, samples
 * interleaved; its pacs_image_info says what they are (a YCbCr JPEG comes out RGB, a 1-bit
 * image comes out one byte per pixel, a JPEG 2000 stream's own signedness wins over a
 * PixelRepresentation that disagrees with it).
 *
 * Thread-safe: no shared state; descriptions are read-only once built.
 */
#ifndef PACS_IMAGE_DECODE_H
#define PACS_IMAGE_DECODE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "pacs/base/err.h"
#include "pacs/dicom/part10.h"

/** Frames larger than this (bytes, decoded) are refused: PACS_ETOOBIG. */
#define PACS_IMAGE_FRAME_MAX ((size_t)1 << 30)

/** The Image Pixel attributes of an object or of a decoded frame. */
typedef struct pacs_image_info {
    uint32_t rows, cols;
    uint32_t frames;         /* NumberOfFrames (1 when absent); 1 for a decoded frame */
    uint16_t samples;        /* 1 or 3 */
    uint16_t bits_allocated; /* 1, 8, 16 or 32 (a decoded 1-bit frame says 8) */
    uint16_t bits_stored;
    uint16_t high_bit;
    uint16_t pixel_rep; /* 1: two's complement */
    uint16_t planar;    /* as stored; a decoded frame is always 0 */
    char photometric[17];
} pacs_image_info;

/** Bytes of one native frame of `info` (rows*cols*samples*bits/8, rounded up for 1-bit). */
size_t pacs_image_frame_size(const pacs_image_info *info);

/**
 * What decoding and rendering need to know about an object: its pixel attributes plus the
 * modality and VOI transforms and palettes. Opaque; build it once per object.
 */
typedef struct pacs_image_desc pacs_image_desc;

/**
 * A description from an object's DICOM JSON (the metadata the index stores). Returns
 * PACS_EAGAIN when a value the renderer needs is a BulkDataURI (large LUTs): build it from the
 * file then. PACS_EBADDATA when the pixel attributes are missing or out of range,
 * PACS_EUNSUPPORTED for a photometric interpretation or bit depth we cannot decode.
 */
pacs_err pacs_image_desc_from_json(const json_t *ds, pacs_image_desc **out, pacs_errinfo *ei);

/** A description read from the Part 10 file at `path` (pixel data is not loaded). */
pacs_err pacs_image_desc_from_file(const char *path, pacs_image_desc **out, pacs_errinfo *ei);

void pacs_image_desc_free(pacs_image_desc *d);

/** The object's pixel attributes (borrowed from `d`). */
const pacs_image_info *pacs_image_desc_info(const pacs_image_desc *d);

/** A stored object to read frames from. Everything is borrowed for the call. */
typedef struct pacs_image_source {
    int fd;                          /* the object, open for reading (pread only) */
    const char *path;                /* its path, for DCMTK (whole-file fallbacks, transcode) */
    const char *ts_uid;              /* its transfer syntax */
    const pacs_pixel_layout *layout; /* mapped: pacs_pixel_layout_decode() or _map_frames() */
} pacs_image_source;

/** One decoded frame. Release with pacs_frame_free(). */
typedef struct pacs_frame {
    pacs_image_info info;
    uint8_t *data; /* pacs_image_frame_size(&info) bytes */
    size_t size;
} pacs_frame;

void pacs_frame_free(pacs_frame *f);

/** True when frames in `ts_uid` can be decoded. */
int pacs_image_can_decode(const char *ts_uid);

/**
 * Reads the stored bytes of frame `index` (0-based) as they are in the object: a native frame's
 * range, or an encapsulated frame's fragments concatenated. `*out` is the caller's to free().
 * PACS_ENOTFOUND for a frame out of range, PACS_EUNSUPPORTED when the layout does not address
 * frames (then only pacs_image_decode works), PACS_EIO for a short read.
 */
pacs_err pacs_image_read_frame(const pacs_image_source *src, uint32_t index, uint8_t **out,
                               size_t *len, pacs_errinfo *ei);

/**
 * Decodes frame `index` (0-based) of `src`. PACS_ENOTFOUND for a frame out of range,
 * PACS_EBADDATA for a corrupt stream (the message says what the codec said),
 * PACS_EUNSUPPORTED for a syntax or image we cannot decode.
 */
pacs_err pacs_image_decode(const pacs_image_source *src, const pacs_image_desc *desc,
                           uint32_t index, pacs_frame **out, pacs_errinfo *ei);

/**
 * Decodes one frame given as bytes: a native frame (uncompressed syntaxes; `len` must hold the
 * frame) or one frame's compressed bytes. `info` describes the object (its `frames` is
 * ignored). This is the entry the fuzz target drives.
 */
pacs_err pacs_image_decode_bytes(const char *ts_uid, const pacs_image_info *info,
                                 const uint8_t *data, size_t len, pacs_frame **out,
                                 pacs_errinfo *ei);

/**
 * A Part 10 file opened for decoding outside the archive (tools, tests, benchmark): its meta
 * header read, its pixel layout scanned and mapped, its description built.
 */
typedef struct pacs_image_file {
    pacs_image_source src; /* fd and path owned by the file */
    pacs_meta meta;
    pacs_pixel_layout layout;
    pacs_image_desc *desc;
} pacs_image_file;

pacs_err pacs_image_file_open(const char *path, pacs_image_file **out, pacs_errinfo *ei);
void pacs_image_file_close(pacs_image_file *f);

#endif
