// SPDX-License-Identifier: MIT
/*
 * DCMTK's pixel codecs behind a C API, for pacs/image: decoding one compressed frame (RLE, JPEG
 * baseline/extended/lossless, JPEG-LS) from its bytes alone, encoding one native frame, the
 * imaging attributes of a stored object as DICOM JSON with every binary value inline, and the
 * dataset of an object re-encoded without its pixel data (the front of a transcoded object), and
 * a whole object re-encoded in a syntax that needs no codec (pacs_codec_recode).
 * The codecs work on one frame at a time, so decoding frame i of a multi-frame object never
 * touches the other frames. Implemented in C++ (codec.cc); no DCMTK type crosses this header.
 *
 * Frames crossing this API are "native": the bytes of one uncompressed frame as Explicit VR
 * Little Endian would store them, samples interleaved (PlanarConfiguration 0).
 *
 * Thread-safe: every call works on its own datasets; DCMTK's codec list is locked inside.
 * pacs_dcm_init() must have run: it registers DCMTK's codecs, once for the whole tree, with the
 * parameters this API needs.
 */
#ifndef PACS_DICOM_CODEC_H
#define PACS_DICOM_CODEC_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "pacs/base/err.h"

#ifdef __cplusplus
extern "C" {
#endif

#define PACS_TS_RLE "1.2.840.10008.1.2.5"
#define PACS_TS_JPEG_BASELINE "1.2.840.10008.1.2.4.50"
#define PACS_TS_JPEG_EXTENDED "1.2.840.10008.1.2.4.51"
#define PACS_TS_JPEG_LOSSLESS "1.2.840.10008.1.2.4.57"
#define PACS_TS_JPEG_LOSSLESS_SV1 "1.2.840.10008.1.2.4.70"
#define PACS_TS_JPEGLS_LOSSLESS "1.2.840.10008.1.2.4.80"
#define PACS_TS_JPEGLS_NEAR "1.2.840.10008.1.2.4.81"
#define PACS_TS_J2K_LOSSLESS "1.2.840.10008.1.2.4.90"
#define PACS_TS_J2K "1.2.840.10008.1.2.4.91"
#define PACS_TS_HTJ2K_LOSSLESS "1.2.840.10008.1.2.4.201"
#define PACS_TS_HTJ2K_LOSSLESS_RPCL "1.2.840.10008.1.2.4.202"
#define PACS_TS_HTJ2K "1.2.840.10008.1.2.4.203"

/** The Image Pixel attributes a codec needs for one frame. */
typedef struct pacs_codec_image {
    uint16_t rows, cols;
    uint16_t samples;        /* SamplesPerPixel: 1 or 3 */
    uint16_t bits_allocated; /* 8, 16 or 32 */
    uint16_t bits_stored;
    uint16_t high_bit;
    uint16_t pixel_rep; /* 1: signed */
    uint16_t planar;    /* PlanarConfiguration as stored (compressed streams ignore it) */
    char photometric[17];
} pacs_codec_image;

/** True when DCMTK decodes frames in `ts_uid` (RLE, the JPEG processes, JPEG-LS). */
int pacs_codec_can_decode(const char *ts_uid);

/** True when DCMTK encodes frames to `ts_uid` (RLE, JPEG 4.50/4.51/4.57/4.70, JPEG-LS). */
int pacs_codec_can_encode(const char *ts_uid);

/**
 * Decodes one frame whose compressed bytes (its fragments, concatenated) are `data`, into `out`
 * as a native frame of exactly rows*cols*samples*bits_allocated/8 bytes (`cap` at least that).
 * `photometric_out` receives the colour model of the result (JPEG's YCbCr comes out as RGB).
 * Errors: PACS_EUNSUPPORTED for a syntax DCMTK cannot decode, PACS_EBADDATA for a corrupt
 * stream, PACS_EINVAL for a `cap` too small. `out` may be partly written on failure.
 */
pacs_err pacs_codec_decode(const char *ts_uid, const pacs_codec_image *img, const uint8_t *data,
                           size_t len, uint8_t *out, size_t cap, char photometric_out[17],
                           pacs_errinfo *ei);

/** What pacs_codec_encode produced. `data` is the caller's to free(). */
typedef struct pacs_codec_frame {
    uint8_t *data;
    size_t len;
    char photometric[17]; /* the frame's colour model (RGB becomes YBR_FULL_422 for JPEG) */
} pacs_codec_frame;

/**
 * Encodes one native frame (`len` = rows*cols*samples*bits_allocated/8 bytes) to `ts_uid`.
 * `quality` (1..100) applies to lossy JPEG; JPEG-LS near-lossless uses NEAR=2. JPEG baseline
 * takes 8-bit data only and extended at most 12 bits stored: others give PACS_EUNSUPPORTED.
 * The result is one fragment's worth of bytes, even length (padded as DICOM requires).
 */
pacs_err pacs_codec_encode(const char *ts_uid, const pacs_codec_image *img, const uint8_t *pixels,
                           size_t len, int quality, pacs_codec_frame *out, pacs_errinfo *ei);

/**
 * Decodes frame `index` (0-based) of the whole file at `path` with DCMTK, for objects whose
 * frames cannot be addressed one by one (deflated datasets, unmappable fragments): this reads
 * and may decompress the whole pixel data. Fills `img` with the object's attributes and `out`
 * (malloc'd, the caller frees) with the native frame; `photometric_out` as pacs_codec_decode.
 */
pacs_err pacs_codec_decode_file(const char *path, uint32_t index, pacs_codec_image *img,
                                uint8_t **out, size_t *out_len, char photometric_out[17],
                                pacs_errinfo *ei);

/**
 * The attributes that decoding and rendering read (group 0028, SOP Class, Modality,
 * NumberOfFrames, Presentation LUT Shape, the shared and per-frame functional groups), as
 * DICOM JSON with binary values inline (LUT data included), read from the file at `path`
 * without loading its pixel data. The caller owns `*out` (json_decref).
 */
pacs_err pacs_codec_image_json(const char *path, json_t **out, pacs_errinfo *ei);

/** Attribute changes for a transcoded object's dataset. */
typedef struct pacs_codec_header {
    const char *ts_uid;      /* the target transfer syntax */
    const char *photometric; /* new PhotometricInterpretation, or NULL to keep */
    int set_planar0;         /* set PlanarConfiguration to 0 (when SamplesPerPixel > 1) */
    int lossy;               /* set LossyImageCompression to "01" and append ratio and method */
    int keep_lossy;          /* the source pixels were lossy: LossyImageCompression becomes "01"
                              * (its ratio and method stay as stored) */
    double lossy_ratio;
    const char *lossy_method; /* e.g. "ISO_10918_1", "ISO_15444_1", "ISO_15444_15" */
    const char *new_sop_uid;  /* replace SOPInstanceUID (NULL to keep) */
    /* Written by pacs_codec_dataset_front: the dataset's SOP Class and Instance UIDs (after
     * new_sop_uid), for the meta header in front of it. */
    char sop_class_uid[65];
    char sop_instance_uid[65];
} pacs_codec_header;

/**
 * Reads the Part 10 file at `path` and encodes its dataset in `h->ts_uid` without Pixel Data and
 * without any element after it, applying `h`. The result (`*out`, malloc'd, the caller frees)
 * is the dataset's bytes only, to be followed by a Pixel Data element the caller writes.
 */
pacs_err pacs_codec_dataset_front(const char *path, pacs_codec_header *h, uint8_t **out,
                                  size_t *out_len, pacs_errinfo *ei);

/**
 * Writes the Part 10 object at `path` again in `ts_uid` to `out_fd`, from its current position:
 * our meta header (the object's own, naming the new syntax), then the dataset as DCMTK encodes
 * it, every value unchanged. This is the conversion between the syntaxes that need no codec:
 * Implicit and Explicit VR Little Endian, Explicit VR Big Endian and Deflated Explicit VR Little
 * Endian (and any syntax for an object without Pixel Data). Pixel data are never decoded or
 * encoded here (that is pacs/image's transcoding): PACS_EUNSUPPORTED, before anything is
 * written, when the pixel data would have to change encoding or DCMTK cannot write `ts_uid`.
 * The object is read as needed (large values stay in the file). `*written` receives the bytes
 * written. PACS_EBADDATA when the object cannot be read; PACS_EIO or PACS_ENOSPC when writing
 * fails, possibly after some bytes were written (write to a temporary file).
 */
pacs_err pacs_codec_recode(const char *path, const char *ts_uid, int out_fd, uint64_t *written,
                           pacs_errinfo *ei);

/**
 * pacs_codec_recode, with the top-level attributes `coerce` holds (DICOM JSON, UTF-8; NULL for
 * none) replacing the object's in what is written: how an archive serves an instance with an
 * identity it corrected (the object itself is not changed). When a coerced value is not ASCII,
 * the whole dataset is written in UTF-8 (ISO_IR 192). PACS_EINVAL for an attribute of `coerce`
 * that is not valid DICOM JSON; otherwise as pacs_codec_recode.
 */
pacs_err pacs_codec_recode_coerced(const char *path, const char *ts_uid, const json_t *coerce,
                                   int out_fd, uint64_t *written, pacs_errinfo *ei);

/** A fresh UID under our root (for a derived object). `buf` holds 65 bytes. */
void pacs_codec_new_uid(char buf[65]);

#ifdef __cplusplus
}
#endif

#endif
