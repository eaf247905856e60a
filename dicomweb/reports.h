// SPDX-License-Identifier: MIT
/*
 * Writing a report into a study over HTTP (pacsd's own call beside DICOMweb; issue 17):
 *   POST {prefix}/studies/{StudyInstanceUID}/reports
 *   Content-Type: application/json
 *   {"text": "...", "author": "Family^Given", "status": "preliminary" | "final",
 *    "amends": SOPInstanceUID (optional), "organization": "..." (optional)}
 * The archive makes a Basic Text SR of it and stores it through the one ingest path, as if
 * STOW-RS had received it (storage/report_make.h); the same credential as STOW-RS (the write
 * scope) is needed. Answers 201 with the new document's UIDs and its WADO-RS URL (also in
 * Location); 400 for a body that is not such an object (or an `amends` that is no report of
 * the study), 404 for an unknown study, 415 for another media type, 413 past 1 MiB, 507 when
 * the disk is full, 503 when the index fails. Thread-safe: state per request.
 */
#ifndef PACS_DICOMWEB_REPORTS_H
#define PACS_DICOMWEB_REPORTS_H

#include "dicomweb/route.h"
#include "http/http.h"

/** POST {prefix}/studies/{study}/reports: reads the JSON body and answers. */
void pacs_reports_create(pacs_http_req *r, const pacs_route *rt);

#endif
