// SPDX-License-Identifier: MIT
/* Shared between the C++ files of pacs/dicom only: the DCMTK object behind a pacs_ds, and the
 * one registration of DCMTK's codecs. */
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

#endif
