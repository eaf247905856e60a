// SPDX-License-Identifier: MIT
/*
 * Part 10 framing, in plain C: the file meta header we write (deterministic, so that a resent
 * dataset hashes to the same object), reading a meta header from the front of a byte stream,
 * and locating the pixel data and its frames in a stored file so that frames can be served
 * with one pread. DCMTK parses and validates the dataset itself (dcm.h); it does not expose
 * element offsets, so the scan asks the element walker (walk.h), which only skips values.
 *
 * Thread-safe: no shared state.
 */
#ifndef PACS_DICOM_PART10_H
#define PACS_DICOM_PART10_H

#include <stddef.h>
#include <stdint.h>

#include "pacs/base/err.h"

#ifdef __cplusplus
extern "C" {
#endif

#define PACS_UID_MAX 64

#define PACS_TS_IMPLICIT_LE "1.2.840.10008.1.2"
#define PACS_TS_EXPLICIT_LE "1.2.840.10008.1.2.1"
#define PACS_TS_DEFLATED_LE "1.2.840.10008.1.2.1.99"
#define PACS_TS_EXPLICIT_BE "1.2.840.10008.1.2.2"

/** Our implementation identity, written in every meta header. */
#define PACS_IMPLEMENTATION_CLASS_UID "1.2.826.0.1.3680043.10.1347.1"
#define PACS_IMPLEMENTATION_VERSION "PACSD_010"

/** The identity of a stored object, as its meta header states it. */
typedef struct pacs_meta {
    char sop_class_uid[PACS_UID_MAX + 1];
    char sop_instance_uid[PACS_UID_MAX + 1];
    char transfer_syntax_uid[PACS_UID_MAX + 1];
} pacs_meta;

/** True when `uid` is a syntactically valid UID (PS3.5 9.1): 1..64 chars, digits and dots,
 *  no empty component, no leading zero in a multi-digit component. */
int pacs_uid_valid(const char *uid);

/**
 * Writes the 128-byte preamble, "DICM" and our meta header for `m` into `buf`. The bytes depend
 * only on the three UIDs. Returns PACS_ETOOBIG if `cap` is too small (512 bytes always
 * suffice) and PACS_EINVAL for an invalid UID.
 */
pacs_err pacs_meta_build(const pacs_meta *m, uint8_t *buf, size_t cap, size_t *len,
                         pacs_errinfo *ei);

/**
 * Reads a Part 10 preamble and meta header from the first `len` bytes of a stream. On success
 * fills `m` and sets `*dataset_start` to the offset of the first dataset byte. Returns
 * PACS_EAGAIN when more bytes are needed to decide, PACS_EBADDATA when the bytes are not a
 * Part 10 file (no "DICM" at 128) or the meta header is malformed or lacks a UID.
 */
pacs_err pacs_meta_read(const uint8_t *buf, size_t len, pacs_meta *m, size_t *dataset_start,
                        pacs_errinfo *ei);

/** How a stored object's pixel data can be reached. */
typedef enum pacs_pixel_kind {
    PACS_PIXELS_NONE = 0,     /* no top-level Pixel Data */
    PACS_PIXELS_NATIVE,       /* uncompressed: frame i at offset + i * frame_size */
    PACS_PIXELS_ENCAPSULATED, /* compressed: frame i is fragments [first[i], first[i+1]) */
    PACS_PIXELS_OPAQUE        /* present but not addressable (deflated, unmappable frames) */
} pacs_pixel_kind;

typedef struct pacs_fragment {
    uint64_t offset; /* file offset of the fragment's value */
    uint32_t length;
    uint8_t head[4]; /* the value's first bytes, to find frame starts */
} pacs_fragment;

typedef struct pacs_pixel_layout {
    pacs_pixel_kind kind;
    uint64_t offset;      /* native: file offset of the Pixel Data value */
    uint64_t length;      /* native: value length */
    uint64_t frame_size;  /* native: bytes per frame, set by pacs_pixel_layout_map_frames */
    uint32_t n_frames;    /* set by pacs_pixel_layout_map_frames */
    uint32_t n_fragments; /* encapsulated */
    pacs_fragment *fragments;
    uint32_t *frame_first; /* n_frames + 1 entries once mapped */
    uint32_t n_offsets;    /* Basic or Extended Offset Table entries, before mapping */
    uint64_t *offsets;     /* relative to the first fragment item, as the tables define */
    int bigendian;         /* native data stored big endian (explicit VR big endian) */
} pacs_pixel_layout;

/**
 * Walks the top-level elements of the dataset in the file `fd` (whose dataset starts at
 * `dataset_start` and is encoded in `ts_uid`) and records where Pixel Data lies. A deflated
 * dataset gives PACS_PIXELS_OPAQUE. Returns PACS_EBADDATA when the encoding is inconsistent.
 * `out` is overwritten; release it with pacs_pixel_layout_clear().
 */
pacs_err pacs_pixel_layout_scan(int fd, uint64_t dataset_start, const char *ts_uid,
                                pacs_pixel_layout *out, pacs_errinfo *ei);

/**
 * Assigns fragments (or native byte ranges) to `n_frames` frames. `frame_size` is the size of
 * one uncompressed frame in bytes (0 when unknown, such as for 1-bit images); a native layout
 * whose length cannot hold the frames, or fragments that cannot be mapped, turn the layout
 * into PACS_PIXELS_OPAQUE rather than failing: the frames are then reached by a full decode.
 */
pacs_err pacs_pixel_layout_map_frames(pacs_pixel_layout *pl, uint32_t n_frames, uint64_t frame_size,
                                      pacs_errinfo *ei);

/** Releases the arrays of `pl` and zeroes it; NULL is accepted. */
void pacs_pixel_layout_clear(pacs_pixel_layout *pl);

/** Serialises a mapped layout to a compact blob for the index; the caller frees `*blob`. */
pacs_err pacs_pixel_layout_encode(const pacs_pixel_layout *pl, uint8_t **blob, size_t *len,
                                  pacs_errinfo *ei);

/** Restores a layout from pacs_pixel_layout_encode()'s blob. */
pacs_err pacs_pixel_layout_decode(const uint8_t *blob, size_t len, pacs_pixel_layout *out,
                                  pacs_errinfo *ei);

/** File byte ranges of frame `index` (0-based): at most `cap` ranges written to `ranges`,
 *  their number to `*n`. Returns PACS_ENOTFOUND for an index out of range, PACS_EUNSUPPORTED
 *  for NONE and OPAQUE layouts. */
pacs_err pacs_pixel_layout_frame(const pacs_pixel_layout *pl, uint32_t index, pacs_fragment *ranges,
                                 size_t cap, size_t *n, pacs_errinfo *ei);

#ifdef __cplusplus
}
#endif

#endif
