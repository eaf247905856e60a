// SPDX-License-Identifier: MIT
/*
 * Reading a DICOMDIR (PS3.10 media directory, as on a patient's CD) for the import tool: the
 * files its directory records refer to. Implemented on DCMTK (dicomdir.cc); no DCMTK type
 * crosses this header. Thread-safe: no shared state.
 */
#ifndef PACS_DICOM_DICOMDIR_H
#define PACS_DICOM_DICOMDIR_H

#include "pacs/base/err.h"

#ifdef __cplusplus
extern "C" {
#endif

/** Called with each referenced file's path; return non-zero to stop early (not an error). */
typedef int (*pacs_dicomdir_cb)(void *ctx, const char *path);

/**
 * Calls `cb` for every directory record of the DICOMDIR at `path` that has a Referenced File
 * ID (0004,1500), in record order, with the ID's components joined by '/' and prefixed with the
 * DICOMDIR's folder ("CD/PT000000/ST000000/IM0"). IDs that climb out of that folder ("..")
 * are skipped. The file is not checked for existence (CD file systems may change case).
 * PACS_EBADDATA when `path` is not a readable DICOMDIR (no Directory Record Sequence).
 */
pacs_err pacs_dicomdir_files(const char *path, pacs_dicomdir_cb cb, void *ctx, pacs_errinfo *ei);

#ifdef __cplusplus
}
#endif

#endif
