// SPDX-License-Identifier: MIT
/*
 * WADO-RS metadata (PS3.18 10.4.1.1.2): GET .../metadata of a study, series or instance, as one
 * DICOM JSON array of every instance's stored metadata (from the index, never by parsing an
 * object), with relative BulkDataURIs made absolute. Thread-safe: no shared state.
 */
#ifndef PACS_DICOMWEB_METADATA_H
#define PACS_DICOMWEB_METADATA_H

#include "http/http.h"
#include "dicomweb/route.h"

/** GET .../metadata. */
void pacs_metadata_retrieve(pacs_http_req *r, const pacs_route *rt);

#endif
