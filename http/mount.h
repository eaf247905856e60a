// SPDX-License-Identifier: MIT
/*
 * Mounts: how several HTTP protocols share one server. Each protocol owns the paths under its
 * prefix ("/fhir" and below) and is handed those requests by pacs_http_mounts_dispatch, the
 * server's dispatch function (httpd.h); every other request goes to the fallback (DICOMweb's
 * router, which owns http.prefix, the viewer and the operations endpoints). pacsd builds the
 * table; no protocol knows of another.
 *
 * Thread-safety: filled before the server starts, then read-only.
 */
#ifndef PACS_HTTP_MOUNT_H
#define PACS_HTTP_MOUNT_H

#include "http/httpd.h"
#include "pacs/base/err.h"

#define PACS_HTTP_MOUNTS_MAX 4

typedef struct pacs_http_mount {
    char prefix[64]; /* "/name": the path itself and everything below "/name/" */
    pacs_httpd_dispatch_fn dispatch;
    void *ctx;
} pacs_http_mount;

/** A mount table; zero it before the first pacs_http_mounts_add. */
typedef struct pacs_http_mounts {
    pacs_http_mount v[PACS_HTTP_MOUNTS_MAX];
    size_t n;
    pacs_httpd_dispatch_fn fallback; /* every request no mount owns */
    void *fallback_ctx;
} pacs_http_mounts;

/**
 * Gives the paths under `prefix` to `dispatch` with `ctx` (borrowed while the server runs).
 * PACS_EINVAL when `prefix` does not start with '/', ends with '/', holds '?', '%' or '#', is
 * longer than 63 bytes, or is taken; PACS_ENOMEM past PACS_HTTP_MOUNTS_MAX.
 */
pacs_err pacs_http_mounts_add(pacs_http_mounts *m, const char *prefix,
                              pacs_httpd_dispatch_fn dispatch, void *ctx, pacs_errinfo *ei);

/**
 * A pacs_httpd_dispatch_fn over a pacs_http_mounts (`ctx`): a request whose path is a mount's
 * prefix or lies below it goes to that mount, with pacs_http_path giving the part below the
 * prefix; any other to the fallback (404 when there is none).
 */
void pacs_http_mounts_dispatch(void *ctx, pacs_http_req *r);

#endif
