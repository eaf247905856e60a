// SPDX-License-Identifier: MIT
/*
 * The one DICOM element walker of the tree, in plain C: it reads data element headers of a
 * stored Part 10 file and skips values without reading them, to find what DCMTK parses but does
 * not expose, the file offset of a value. Two places ask it: the pixel-data scan (part10.c, once
 * per stored instance at ingest) and the BulkDataURI lookup (every .../bulkdata/{path} request,
 * served then with one pread). No other file of the tree walks elements, and this one never
 * interprets a value.
 *
 * Every read is bounded by the file size and nesting by PACS_WALK_DEPTH_MAX; headers are read
 * through a 64 KiB read-ahead window, so that walking many small headers costs few system calls.
 *
 * Thread-safe: a walker belongs to one thread; walkers on one fd may run at once (pread only).
 */
#ifndef PACS_DICOM_WALK_H
#define PACS_DICOM_WALK_H

#include <stddef.h>
#include <stdint.h>

#include "pacs/base/err.h"

#ifdef __cplusplus
extern "C" {
#endif

/** A value length that is not stated: the value ends at a delimitation item. */
#define PACS_WALK_UNDEFINED 0xFFFFFFFFu
/** Item, Item Delimitation, Sequence Delimitation (PS3.5 7.5). */
#define PACS_TAG_ITEM 0xFFFEE000u
#define PACS_TAG_ITEM_END 0xFFFEE00Du
#define PACS_TAG_SEQ_END 0xFFFEE0DDu
/** Sequences (or undefined-length values) nested deeper than this are refused. */
#define PACS_WALK_DEPTH_MAX 16

/** How a dataset's element headers are encoded. */
typedef struct pacs_walk_enc {
    int explicit_vr;
    int bigendian;
} pacs_walk_enc;

/** One element header as found in the file. */
typedef struct pacs_walk_elem {
    uint32_t tag;    /* group << 16 | element */
    char vr[3];      /* explicit VR: its two letters; "" in implicit VR and for items */
    uint32_t length; /* PACS_WALK_UNDEFINED when not stated */
    uint64_t value;  /* file offset of the value */
} pacs_walk_elem;

typedef struct pacs_walk pacs_walk;

/** The encoding of the transfer syntax `ts_uid`: implicit VR little endian, explicit VR big
 *  endian, or (every other syntax, encapsulated ones included) explicit VR little endian. A
 *  deflated dataset cannot be walked; callers check for it. */
pacs_walk_enc pacs_walk_enc_of(const char *ts_uid);

/**
 * Decodes the element header at the front of `b` (`n` bytes of it), found at file offset `pos`.
 * Items and delimiters (group FFFE) have no VR in any encoding. Returns the header's size (8
 * or 12), 0 when more than `n` bytes are needed to tell, -1 when an explicit VR is not two
 * upper-case letters.
 */
int pacs_walk_parse_header(const uint8_t *b, size_t n, pacs_walk_enc enc, uint64_t pos,
                           pacs_walk_elem *e);

/** A walker over the file `fd` (borrowed; read with pread only, never closed here). PACS_EIO
 *  when the file cannot be sized, PACS_ENOMEM. Release with pacs_walk_close(). */
pacs_err pacs_walk_open(int fd, pacs_walk **out, pacs_errinfo *ei);

/** Releases `w` (not its fd); NULL is accepted. */
void pacs_walk_close(pacs_walk *w);

/** The file's size when the walker was opened. */
uint64_t pacs_walk_size(const pacs_walk *w);

/** Copies `n` (at most 64 KiB) bytes at `off` to `dst`. PACS_EBADDATA when they run past the
 *  end of the file, PACS_EIO when the file cannot be read. */
pacs_err pacs_walk_read(pacs_walk *w, uint64_t off, void *dst, size_t n, pacs_errinfo *ei);

/** Reads the element header at `pos`. PACS_EBADDATA when it runs past the end of the file or
 *  its VR is not two letters; PACS_EIO when the file cannot be read. */
pacs_err pacs_walk_header(pacs_walk *w, uint64_t pos, pacs_walk_enc enc, pacs_walk_elem *e,
                          pacs_errinfo *ei);

/**
 * Sets `*next` to the offset just past the element `e` (read in `enc`): past its value, or for
 * an undefined length past the Sequence Delimitation Item that ends its items (the items of an
 * undefined-length UN are implicit VR little endian, PS3.5 6.2.2). PACS_EBADDATA when the value
 * runs past the end of the file, the items are malformed or nest too deep.
 */
pacs_err pacs_walk_skip(pacs_walk *w, const pacs_walk_elem *e, pacs_walk_enc enc, uint64_t *next,
                        pacs_errinfo *ei);

/** Where a value lies in a stored object (pacs_walk_find_value). */
typedef struct pacs_walk_value {
    uint64_t offset, length; /* the value's bytes in the file */
    char vr[3];              /* its VR ("UN" when the transfer syntax is implicit) */
    int bigendian;           /* stored in Explicit VR Big Endian */
} pacs_walk_value;

/**
 * Finds the value that a BulkDataURI path of our metadata (dcm.h) names in the Part 10 file
 * `fd`: "00431029" (a top-level attribute) or "00540016/0/00181072" (attribute, item index from
 * 0, attribute, ...). Reads the meta header, then element headers only. PACS_EINVAL for a
 * malformed path; PACS_ENOTFOUND when the path names nothing; PACS_EUNSUPPORTED for a deflated
 * dataset or a value of undefined length (encapsulated pixel data); PACS_EBADDATA when the file
 * does not parse; PACS_EIO. `out` is written only on success.
 */
pacs_err pacs_walk_find_value(int fd, const char *path, pacs_walk_value *out, pacs_errinfo *ei);

#ifdef __cplusplus
}
#endif

#endif
