// SPDX-License-Identifier: MIT
/*
 * The HTTP server underneath DICOMweb, on libmicrohttpd: an internal thread pool with epoll
 * (`http.threads`), a connection limit (`http.max_connections`), a per-connection idle timeout
 * (`http.timeout`), a cap on request headers (libmicrohttpd's per-connection memory) and on
 * request bodies (`http.max_body_mb`: 413 before the body is read, or the connection closed
 * when a chunked body grows past it), keep-alive, HEAD, and HTTPS (`http.tls`). It makes each
 * request (http.h) and hands it to one dispatch function, which answers it through the API;
 * it knows no URL, route or handler. pacs_dicomweb_start (dicomweb.h) gives it the router.
 *
 * Thread-safety: start and stop from one thread; the dispatch function runs on the pool's
 * threads, for different requests at once.
 */
#ifndef PACS_HTTP_HTTPD_H
#define PACS_HTTP_HTTPD_H

#include "http/http.h"
#include "pacs/base/config.h"
#include "pacs/base/err.h"
#include "storage/archive.h"

typedef struct pacs_httpd pacs_httpd;

/**
 * Called once per request, on its connection's thread: after its headers for a request
 * without a body; before the body is read for one with a body. It must answer (http.h) or
 * register body callbacks (pacs_http_expect_body); a request left without either gets 500.
 * Methods other than GET, HEAD, POST, DELETE and OPTIONS never reach it when they carry no
 * body (405 with Allow).
 */
typedef void (*pacs_httpd_dispatch_fn)(void *ctx, pacs_http_req *r);

/**
 * Starts serving on http.bind:http.port (0 picks a free port, written to `*port`), handing
 * every request to `dispatch` with `ctx` (borrowed until pacs_httpd_stop, as are `cfg` and
 * `archive`, which requests return from pacs_http_config and pacs_http_archive). PACS_EINVAL
 * for a bad setting (a bind that is not an IP address, an unreadable TLS key or certificate),
 * PACS_ENET when the port cannot be bound. Nothing is left running on failure.
 */
pacs_err pacs_httpd_start(const pacs_config *cfg, pacs_archive *archive,
                          pacs_httpd_dispatch_fn dispatch, void *ctx, pacs_httpd **out, int *port,
                          pacs_errinfo *ei);

/** Stops accepting, closes every connection (aborting responses in progress, whose requests
 *  are then freed) and frees the server. NULL is accepted. */
void pacs_httpd_stop(pacs_httpd *h);

#endif
