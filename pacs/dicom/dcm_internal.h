// SPDX-License-Identifier: MIT
/* Shared between the C++ files of pacs/dicom only: the DCMTK object behind a pacs_ds, and what
 * one dcm*.cc file uses from another. */
#ifndef PACS_DICOM_DCM_INTERNAL_H
#define PACS_DICOM_DCM_INTERNAL_H

#ifndef __cplusplus
#error "dcm_internal.h is for the C++ side of pacs/dicom"
#endif

#include "pacs/dicom/dcm.h"

class DcmDataset;

/** The DCMTK dataset a pacs_ds wraps (borrowed). */
DcmDataset *pacs_ds__dcmtk(pacs_ds *ds);

/** Wraps a heap DcmDataset, taking ownership; deletes it and returns NULL when out of memory. */
pacs_ds *pacs_ds__wrap(DcmDataset *d);

/** Registers DCMTK's decoders and encoders (codec.cc), once, with the one set of parameters the
 *  whole tree uses; pacs_dcm_init() calls it. Later calls do nothing. */
void pacs_codec__register(void);

/** True for the HTJ2K transfer syntaxes, which DCMTK does not know (read as explicit LE). */
bool pacs_dcm__ts_is_htj2k(const char *ts);

/**
 * `ds` as DICOM JSON (dcm_json.cc): converts its text to UTF-8 in place (from its
 * SpecificCharacterSet, charset_dcmtk.h); a value that cannot be decoded keeps its bytes and is
 * logged naming `what` (`*repaired`). With `bulk`, large
 * binary values and pixel data become relative BulkDataURIs ("bulkdata/..."), as stored at
 * ingest; without, binary values are inline. NULL when out of memory; may throw.
 */
json_t *pacs_dcm__dataset_json(DcmDataset *ds, bool bulk, const char *what, bool *repaired);

/** Fills `ds` from DICOM JSON (BulkDataURIs left out); SpecificCharacterSet becomes ISO_IR 192
 *  when any text is not ASCII. PACS_EINVAL names a bad attribute; may throw. */
pacs_err pacs_dcm__json_to_dataset(const json_t *obj, DcmDataset *ds, pacs_errinfo *ei);

#endif
