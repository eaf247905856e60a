// SPDX-License-Identifier: MIT
/*
 * STOW-RS (PS3.18 10.5): storing instances over HTTP.
 *
 * STOW-RS takes `POST /studies` and `POST /studies/{study}` with a multipart/related;
 * type="application/dicom" body. Each part goes through the archive's one ingest path as its
 * bytes arrive (nothing is buffered beyond a part's first kilobyte, kept to name it in a
 * failure); a part that is broken, of the wrong study, or cannot be stored fails alone. The
 * answer is the PS3.18 Store Instances Response in DICOM JSON: ReferencedSOPSequence with a
 * RetrieveURL per stored instance (and WarningReason where text was repaired),
 * FailedSOPSequence with a FailureReason per failed part; 200 when all were stored, 202 when
 * some were (or with warnings), 409 when none were. Thread-safe: no shared state.
 */
#ifndef PACS_DICOMWEB_STOW_H
#define PACS_DICOMWEB_STOW_H

#include "http/http.h"
#include "dicomweb/route.h"

/** POST /studies or /studies/{study}: reads the body (http.h body callbacks) and answers. */
void pacs_stow_store(pacs_http_req *r, const pacs_route *rt);

#endif
