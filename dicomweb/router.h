// SPDX-License-Identifier: MIT
/*
 * The DICOMweb router: what happens to a request between the server (httpd.h) and a handler.
 * It answers what belongs to no handler itself (paths outside `http.prefix`: 404; malformed
 * query strings and UIDs: 400; CORS preflights: 204; methods a resource does not take: 405
 * with Allow), hands /viewer and /share to the viewer (viewer.h), checks credentials and
 * scopes (gate.h), serves the shares API (gate.h), plans the request's audit record, and calls
 * the handler its route table names for the resource (route.h) and method: QIDO-RS (qido.h),
 * WADO-RS and WADO-URI (wado.h), rendered images (rendered.h), STOW-RS (stow.h), DELETE
 * (delete.h), and the operations endpoints at the root, /metrics, /healthz and /readyz
 * (ops.h). Handlers answer through http.h and never call back into the router.
 *
 * Thread-safety: pacs_router_open, _listening and _close run once at server start and stop;
 * pacs_router_dispatch runs on every HTTP thread at once and only reads the router.
 */
#ifndef PACS_DICOMWEB_ROUTER_H
#define PACS_DICOMWEB_ROUTER_H

#include <stddef.h>

#include "http/http.h"
#include "dicomweb/route.h"
#include "pacs/base/config.h"
#include "pacs/base/err.h"
#include "storage/archive.h"

typedef struct pacs_router pacs_router;

/** A handler: answers the request for the resource `rt` names, exactly once, through http.h
 *  (or registers body callbacks and answers at the body's end). */
typedef void (*pacs_router_handler)(pacs_http_req *r, const pacs_route *rt);

/**
 * Checks http.prefix and http.public_url, opens authentication (auth.h, with its share store
 * in the archive's data folder) and the viewer (viewer.h). Warns when DICOMweb answers
 * without authentication on an address other than loopback. PACS_EINVAL (with a message
 * naming the setting) for a bad setting; the errors of pacs_auth_open and pacs_viewer_open.
 */
pacs_err pacs_router_open(const pacs_config *cfg, pacs_archive *archive, pacs_router **out,
                          pacs_errinfo *ei);

/** Tells the router the port the server bound (http.port may be 0), for the base URL of
 *  requests whose Host header is missing or unusable. Call before the port is announced. */
void pacs_router_listening(pacs_router *router, int port);

/** Answers `r` (http.h), or registers body callbacks: the dispatch function of httpd.h. */
void pacs_router_dispatch(pacs_router *router, pacs_http_req *r);

/**
 * The route table: the handler for `method` on the resource `rt` names, or NULL when that
 * resource does not take the method. `allow` (at least 64 bytes) receives the resource's
 * methods as an Allow header value either way ("GET, HEAD, OPTIONS").
 */
pacs_router_handler pacs_router_lookup(const pacs_route *rt, pacs_http_method method, char *allow,
                                       size_t cap);

/** Frees the router, its authentication and its viewer. NULL is accepted. */
void pacs_router_close(pacs_router *router);

#endif
