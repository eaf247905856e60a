// SPDX-License-Identifier: MIT
/*
 * QIDO-RS (PS3.18 10.6): searches for studies, series and instances. URL parameters become a
 * query in the archive's one query model (storage/query.h): attribute matching by keyword or
 * tag (with sequence paths such as `RequestAttributesSequence.AccessionNumber`), wildcards,
 * ranges, UID lists (comma or backslash separated), `includefield` (a comma list or repeated,
 * or `all`), `limit`/`offset` and `fuzzymatching`. Results come from the index only (no object
 * file is opened) with the default return attributes of PS3.18 Tables 10.6.3-3 to -5, as
 * application/dicom+json. Thread-safe: no shared state.
 */
#ifndef PACS_DICOMWEB_QIDO_H
#define PACS_DICOMWEB_QIDO_H

#include <stddef.h>

#include "dicomweb/http.h"
#include "dicomweb/params.h"
#include "dicomweb/route.h"
#include "storage/query.h"

/** Answers a QIDO-RS search for the collection `rt` names. */
void pacs_qido_search(pacs_http_req *r, const pacs_route *rt);

/**
 * Builds the query for a search: the collection `rt` names (its kind and the study and series
 * UIDs in its path) and the URL parameters. At most `max_results` results are asked for (0: no
 * cap); `*capped` is set when the client's limit was lowered to it. PACS_EINVAL with a message
 * naming the parameter for anything that is not a valid QIDO-RS parameter or value.
 */
pacs_err pacs_qido_build(const pacs_route *rt, const pacs_params *params, size_t max_results,
                         pacs_query **out, int *capped, pacs_errinfo *ei);

#endif
