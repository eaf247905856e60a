// SPDX-License-Identifier: MIT
/*
 * WADO-RS (PS3.18 10.4) and WADO-URI (PS3.18 9): retrieval of studies, series and instances as
 * multipart/related; type="application/dicom", their metadata as DICOM JSON, their frames and
 * bulk data, and single objects by WADO-URI. Everything is read through the archive: the
 * instance list and stored metadata from the index, object bytes through an fd the archive
 * opens, frames by pread at the offsets recorded at ingest. Bodies larger than one piece are
 * streamed (http.h), so a study of any size is never held in memory.
 *
 * Accept negotiation follows PS3.18 8.7: the stored transfer syntax is served when the client
 * accepts it (explicitly, or with transfer-syntax=*, or by asking for anything with "*\/\*");
 * instances asked for in another syntax are transcoded, and rendered images drawn, by
 * rendered.h (pacs/image). Frames and bulk data are served as stored only: what would need
 * decoding them is answered 406.
 * Thread-safe: no shared state.
 */
#ifndef PACS_DICOMWEB_WADO_H
#define PACS_DICOMWEB_WADO_H

#include <stddef.h>
#include <stdint.h>

#include "dicomweb/http.h"
#include "dicomweb/route.h"

/** GET a study, series or instance (`rt->kind` PACS_ROUTE_RESOURCE). */
void pacs_wado_retrieve(pacs_http_req *r, const pacs_route *rt);

/** GET .../metadata: the stored DICOM JSON of every instance, as one array. */
void pacs_wado_metadata(pacs_http_req *r, const pacs_route *rt);

/** GET .../instances/{sop}/frames/{list}. */
void pacs_wado_frames(pacs_http_req *r, const pacs_route *rt);

/** GET .../instances/{sop}/bulkdata/{tag path}: the value a BulkDataURI names. */
void pacs_wado_bulkdata(pacs_http_req *r, const pacs_route *rt);

/** GET {prefix}/wado?requestType=WADO&studyUID=..&seriesUID=..&objectUID=..&contentType=.. */
void pacs_wado_uri(pacs_http_req *r, const pacs_route *route);

/**
 * Parses a frame list ("1,2,3", 1-based) into `out` (0-based, in the order given, at most
 * `cap`). PACS_EINVAL for anything else (0, signs, blanks, empty items, too many).
 */
pacs_err pacs_wado_frame_list(const char *text, uint32_t *out, size_t cap, size_t *n,
                              pacs_errinfo *ei);

#endif
