// SPDX-License-Identifier: MIT
/*
 * The C face of DCMTK's dcmdata: parsing a stored object once at ingest (DICOM JSON metadata in
 * UTF-8, identity, pixel layout), and small in-memory datasets for DIMSE identifiers and
 * responses. Implemented in C++ (dcm.cc, dcm_parse.cc, dcm_json.cc, dcm_ds.cc); no DCMTK type or
 * exception crosses this header.
 *
 * JSON values are jansson objects in the DICOM JSON model (PS3.18 F.2): keys "GGGGEEEE",
 * members "vr", "Value", "BulkDataURI", "InlineBinary". A BulkDataURI made at ingest is
 * relative to the instance's WADO-RS URL ("bulkdata/7FE00010", "bulkdata/00540016/0/00181072"),
 * so the stored metadata does not depend on the host name it is later served under.
 *
 * Thread-safe: distinct handles may be used from distinct threads at once.
 */
#ifndef PACS_DICOM_DCM_H
#define PACS_DICOM_DCM_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pacs/base/err.h"
#include "pacs/dicom/part10.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Flags to dump stored JSON with: compact, and DS values that read back as written. */
#define PACS_JSON_DUMP_FLAGS (JSON_COMPACT | JSON_REAL_PRECISION(16))

/** Binary values larger than this are written as BulkDataURI, smaller ones inline. */
#define PACS_INLINE_BINARY_MAX 1024

/**
 * One-time process set-up: checks that the DICOM data dictionary is loaded, registers DCMTK's
 * codecs (decoders and encoders, the one registration of the tree: codec.cc) and turns Nagle's
 * algorithm off for every association (TCP_NODELAY). Call before starting threads.
 */
pacs_err pacs_dcm_init(pacs_errinfo *ei);

/** What ingest learns from one parse of a stored object. */
typedef struct pacs_dcm_parsed {
    pacs_meta meta; /* the three UIDs, from the dataset (checked against the header) */
    char study_uid[PACS_UID_MAX + 1];
    char series_uid[PACS_UID_MAX + 1];
    json_t *json;             /* owned: the dataset as DICOM JSON, UTF-8 */
    uint32_t n_frames;        /* NumberOfFrames, 1 when absent; 0 without pixel data */
    pacs_pixel_layout pixels; /* where the frames are in the file */
    int charset_warning;      /* a value could not be decoded (kept as its bytes) or repaired */
} pacs_dcm_parsed;

/**
 * Parses the Part 10 file at `path` (which the caller wrote, with our meta header) with DCMTK,
 * without loading large values into memory. Checks that the dataset has valid SOP Class,
 * SOP Instance, Study and Series Instance UIDs that agree with the meta header; converts text
 * to UTF-8 from SpecificCharacterSet; builds the JSON metadata; locates pixel data and frames.
 * Returns PACS_EBADDATA with a message naming the problem for anything malformed.
 * `out` is written only on success; release it with pacs_dcm_parsed_clear().
 */
pacs_err pacs_dcm_parse_file(const char *path, pacs_dcm_parsed *out, pacs_errinfo *ei);

void pacs_dcm_parsed_clear(pacs_dcm_parsed *p);

/**
 * Reads an arbitrary DICOM file (with or without a meta header) far enough to learn its
 * identity and where its dataset starts, for importing files. The SOP Class and Instance UIDs
 * come from the dataset (a meta header that disagrees with it is ignored, as storescu does);
 * the transfer syntax from the meta header, or guessed for a bare dataset. `*dataset_start` is
 * 0 for a bare dataset. PACS_EBADDATA names the problem: no DICOM at all, a broken meta header
 * (a file with "DICM" at 128 is never read as a bare dataset), a dataset that cannot be parsed
 * up to its SOP Instance UID, or missing UIDs; PACS_EUNSUPPORTED for an unknown transfer
 * syntax. Only the dataset's first elements are read, up to (0008,0018): a file broken after
 * them passes here and is refused by pacs_dcm_parse_file.
 */
pacs_err pacs_dcm_probe_file(const char *path, pacs_meta *out, uint64_t *dataset_start,
                             pacs_errinfo *ei);

/** Whether the file at `path` says "DICM" after its 128-byte preamble (a Part 10 file); a bare
 * dataset has no such mark, and is told only by parsing it. */
bool pacs_dcm_has_dicm_prefix(const char *path);

/* ---- Small in-memory datasets: DIMSE identifiers and responses ---- */

typedef struct pacs_ds pacs_ds;

/** An empty dataset; NULL when out of memory. */
pacs_ds *pacs_ds_new(void);
void pacs_ds_free(pacs_ds *ds);

/**
 * The dataset as DICOM JSON with text converted to UTF-8 (from its SpecificCharacterSet);
 * binary values are written inline. The caller owns the result (json_decref).
 */
pacs_err pacs_ds_to_json(const pacs_ds *ds, json_t **out, pacs_errinfo *ei);

/**
 * A dataset from DICOM JSON (as produced by pacs_ds_to_json or stored at ingest); BulkDataURI
 * values are left out. SpecificCharacterSet is set to ISO_IR 192 when any text is not ASCII.
 */
pacs_err pacs_ds_from_json(const json_t *obj, pacs_ds **out, pacs_errinfo *ei);

/** Loads a whole DICOM file into memory (for tests and tools; not for the ingest path). */
pacs_err pacs_ds_load_file(const char *path, pacs_ds **out, pacs_errinfo *ei);

/** Sets a text or numeric element from its DICOM string form (multiple values joined by '\'). */
pacs_err pacs_ds_put_string(pacs_ds *ds, uint32_t tag, const char *value, pacs_errinfo *ei);

/** Reads a top-level element as a string (values joined by '\'); PACS_ENOTFOUND if absent.
 *  The result is the caller's to free(). */
pacs_err pacs_ds_get_string(const pacs_ds *ds, uint32_t tag, char **out, pacs_errinfo *ei);

/**
 * Sets a top-level binary element (`vr` "OB" or "OW") to a copy of `len` bytes; "OW" data is
 * 16-bit words in host byte order and `len` must be even. Pixel Data (7FE0,0010) set this way
 * is native (uncompressed); pacs_ds_save_file() can encode it. For building test datasets
 * (the study generator), not for the ingest path.
 */
pacs_err pacs_ds_put_binary(pacs_ds *ds, uint32_t tag, const char *vr, const void *data, size_t len,
                            pacs_errinfo *ei);

/**
 * Writes `ds` as a Part 10 file at `path` (created or truncated; not fsynced) in the transfer
 * syntax `ts_uid`, with a meta header made by DCMTK from the dataset's SOP Class and Instance
 * UIDs. Native syntaxes (implicit/explicit little endian, explicit big endian) are written as
 * they are; JPEG Lossless SV1 (1.2.840.10008.1.2.4.70), JPEG-LS lossless (.4.80) and RLE
 * (.5) are encoded losslessly with DCMTK's encoders, which changes `ds`'s pixel data in place.
 * Returns PACS_EUNSUPPORTED for any other syntax, PACS_EIO when the file cannot be written.
 */
pacs_err pacs_ds_save_file(pacs_ds *ds, const char *path, const char *ts_uid, pacs_errinfo *ei);

/** The VR of `tag` in the data dictionary as two letters ("UN" when unknown). */
void pacs_dcm_dict_vr(uint32_t tag, char vr[3]);

/** A tag from a keyword ("PatientName") or an 8-digit hex string ("00100010"); PACS_ENOTFOUND
 *  for a keyword the dictionary does not hold. Keywords are bisected in a sorted copy of the
 *  dictionary made on first use. */
pacs_err pacs_dcm_tag_parse(const char *text, uint32_t *tag);

/** `tag` as DICOM JSON spells it ("GGGGEEEE", upper-case hex, as printf's %08X would), in
 *  `key`, NUL-terminated. Written by hand: it runs for each attribute of each stored instance. */
void pacs_dcm_tag_key(uint32_t tag, char key[9]);

/** For test_dcm: checks pacs_dcm_tag_parse against DCMTK's DcmTag::findTagFromName for every
 *  keyword in the dictionary; `*checked` receives how many. Returns the count that differ. */
size_t pacs_dcm__keyword_mismatches(size_t *checked);

/** The dictionary keyword of `tag`, or NULL. */
const char *pacs_dcm_tag_keyword(uint32_t tag);

/** True for Storage SOP Classes: those of sopclass.h's table, and any under its root. */
int pacs_dcm_is_storage_class(const char *uid);

/** True for the transfer syntaxes of sopclass.h's table (DCMTK's, plus HTJ2K). */
int pacs_dcm_ts_known(const char *ts_uid);

#ifdef __cplusplus
}
#endif

#endif
