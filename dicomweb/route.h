// SPDX-License-Identifier: MIT
/*
 * The DICOMweb URL grammar (PS3.18 10): what resource a path below `http.prefix` names, with
 * its UIDs decoded and checked. A pure parser: no request, no server, no handler; the router
 * (router.h) reads its result, and handlers receive it. Every path shape is in
 * dicomweb/tests/test_route.c; fuzz/fuzz_router.c reaches it through the real server.
 * Thread-safe: no shared state.
 */
#ifndef PACS_DICOMWEB_ROUTE_H
#define PACS_DICOMWEB_ROUTE_H

#include <stddef.h>

#include "http/arena.h"
#include "pacs/base/err.h"

/** The resource a DICOMweb path names; absent parts are NULL. UIDs are decoded and valid. */
typedef struct pacs_route {
    int kind;           /* PACS_ROUTE_* */
    const char *study;  /* /studies/{study} */
    const char *series; /* .../series/{series} */
    const char *sop;    /* .../instances/{sop} */
    const char *arg;    /* frames: the list; bulkdata: the path after "bulkdata/" */
    int thumbnail;      /* PACS_ROUTE_RENDERED: .../thumbnail rather than .../rendered */
} pacs_route;

enum {
    PACS_ROUTE_NONE = 0,
    PACS_ROUTE_STUDIES,   /* /studies, /studies/{st}/series, .../instances (QIDO, STOW) */
    PACS_ROUTE_SERIES,    /* a QIDO collection of series */
    PACS_ROUTE_INSTANCES, /* a QIDO collection of instances */
    PACS_ROUTE_RESOURCE,  /* a study, series or instance itself */
    PACS_ROUTE_METADATA,
    PACS_ROUTE_FRAMES,
    PACS_ROUTE_BULKDATA,
    PACS_ROUTE_RENDERED, /* rendered and thumbnail: the imaging work */
    PACS_ROUTE_WADO_URI,
    PACS_ROUTE_REPORTS, /* /studies/{st}/reports: a report written into the study (reports.h) */
    /* The operations endpoints at the root, outside the prefix: never from pacs_route_parse
     * (the router matches their paths itself). */
    PACS_ROUTE_METRICS, /* /metrics */
    PACS_ROUTE_HEALTHZ, /* /healthz */
    PACS_ROUTE_READYZ   /* /readyz */
};

/**
 * Parses the path below the prefix (e.g. "/studies/1.2/series"), still percent-encoded, into
 * `*rt` (cleared first). PACS_ENOTFOUND for a path that names no DICOMweb resource, PACS_EINVAL
 * (with a message) for a malformed UID or escape (an arena too full to decode a segment reads
 * as one too), PACS_ENOMEM when the arena cannot hold a bulk data path. Strings are allocated
 * in `ar` and live as long as it.
 */
pacs_err pacs_route_parse(const char *path, size_t len, pacs_arena *ar, pacs_route *rt,
                          pacs_errinfo *ei);

#endif
