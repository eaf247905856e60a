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

#include "http/http.h"
#include "http/params.h"
#include "dicomweb/route.h"
#include "storage/query.h"

/** Answers a QIDO-RS search for the collection `rt` names. */
void pacs_qido_search(pacs_http_req *r, const pacs_route *rt);

#define PACS_QIDO_IGNORED_MAX 8

/** What pacs_qido_build noticed beside the query itself. */
typedef struct pacs_qido_notes {
    int capped;       /* the client's limit (or none) was lowered to max_results */
    size_t n_ignored; /* parameters whose names QIDO-RS here does not know */
    /* the first PACS_QIDO_IGNORED_MAX of those names, borrowed from the params */
    const char *ignored[PACS_QIDO_IGNORED_MAX];
} pacs_qido_notes;

/**
 * Builds the query for a search: the collection `rt` names (its kind and the study and series
 * UIDs in its path) and the URL parameters. At most `max_results` results are asked for (0: no
 * cap). A parameter whose name is neither a QIDO-RS parameter nor an attribute path (keywords
 * or tags, each dot-separated part) is ignored and listed in `notes` (PS3.18 8.3: "The origin
 * server shall ignore any unsupported Query Parameters"); a known name with a value that is not
 * valid for it gets PACS_EINVAL with a message naming the parameter, and so does an attribute
 * that cannot be matched. `notes` is written in full on success.
 */
pacs_err pacs_qido_build(const pacs_route *rt, const pacs_params *params, size_t max_results,
                         pacs_query **out, pacs_qido_notes *notes, pacs_errinfo *ei);

#endif
