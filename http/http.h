// SPDX-License-Identifier: MIT
/*
 * The request and response API of every HTTP protocol: what a handler (DICOMweb's QIDO-RS,
 * WADO-RS, STOW-RS, DELETE, the viewer, the shares API; FHIR's resources) reads from a request
 * and how it answers. It knows neither routers nor handlers: the server (httpd.h) runs
 * libmicrohttpd and hands each request to a protocol's dispatcher (mount.h), which finds the
 * handler (DICOMweb's router.h, fhir/fhir.h); handlers answer through this API.
 *
 * Each request gets a pacs_http_req with its own arena, freed when libmicrohttpd reports the
 * request complete (or aborted). A handler answers exactly once, with one of the
 * pacs_http_send_* functions, or registers body callbacks (pacs_http_expect_body) and answers
 * from their `end`. Large bodies are produced piece by piece by a pacs_http_producer while the
 * socket can take them, so no response is held whole in memory. Every answer carries the
 * headers added with pacs_http_add_header and the CORS headers (http.cors_origins); JSON is
 * gzip-compressed when the client accepts it.
 *
 * Thread-safety: handlers for one request all run on the thread libmicrohttpd assigned to its
 * connection; handlers of different requests run concurrently and share only the read-only
 * configuration and the (thread-safe) archive.
 */
#ifndef PACS_HTTP_HTTP_H
#define PACS_HTTP_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include <jansson.h>

#include "http/arena.h"
#include "http/auth.h"
#include "http/params.h"
#include "pacs/base/buf.h"
#include "pacs/base/config.h"
#include "pacs/base/err.h"
#include "storage/archive.h"

typedef struct pacs_http_req pacs_http_req;

typedef enum pacs_http_method {
    PACS_HTTP_GET = 0, /* HEAD is served as GET without the body */
    PACS_HTTP_POST,
    PACS_HTTP_DELETE,
    PACS_HTTP_OPTIONS,
    PACS_HTTP_PUT, /* FHIR's update; DICOMweb answers it 405 */
    PACS_HTTP_OTHER
} pacs_http_method;

/* ---- Request accessors, for handlers ---- */

pacs_http_method pacs_http_method_of(const pacs_http_req *r);
pacs_arena *pacs_http_arena(pacs_http_req *r);
const pacs_params *pacs_http_params(const pacs_http_req *r);
pacs_archive *pacs_http_archive(pacs_http_req *r);
const pacs_config *pacs_http_config(const pacs_http_req *r);
/** A request header, or NULL. */
const char *pacs_http_header(pacs_http_req *r, const char *name);
/** The absolute URL of the DICOMweb root, without a trailing '/' (from http.public_url or the
 *  Host header); set by the router before any handler runs, NULL before. */
const char *pacs_http_base_url(const pacs_http_req *r);
/** The path below the mount point (mount.h) or DICOMweb's prefix, still percent-encoded and
 *  without the query; `*len` receives its length. Set before any handler runs. */
const char *pacs_http_path(const pacs_http_req *r, size_t *len);
/** Parses the query string into what pacs_http_params returns (for a mount; DICOMweb's router
 *  does it itself). PACS_EINVAL with a message for a malformed one, PACS_ENOMEM. */
pacs_err pacs_http_parse_query(pacs_http_req *r, pacs_errinfo *ei);
/** Names the request's route in pacs_http_requests_total (a static string; default "other"). */
void pacs_http_set_metric_route(pacs_http_req *r, const char *name);
/** The request's id for log lines. */
unsigned long pacs_http_id(const pacs_http_req *r);
/** Who is asking (auth.h): set before any handler runs. */
const pacs_principal *pacs_http_principal(const pacs_http_req *r);
/** The client's IP address as text ("?" when unknown); borrowed for the request. */
const char *pacs_http_peer(pacs_http_req *r);
/** True when the client's Accept-Encoding admits gzip. */
int pacs_http_accepts_gzip(const pacs_http_req *r);

/* ---- Answers: each handler calls exactly one of these once ---- */

/** Adds a header to the response that will be sent (copied into the request's arena). At most
 *  eight per answer; more are dropped. */
void pacs_http_add_header(pacs_http_req *r, const char *name, const char *value);

/** Sends `body` (taken and freed) with `content_type`; `json` allows gzip. */
void pacs_http_send_buf(pacs_http_req *r, unsigned status, const char *content_type, pacs_buf *body,
                        int json);

/** Sends `j` (taken: decref'd whatever happens) as compact JSON with `content_type`. Returns
 *  PACS_ENOMEM, having sent nothing, when it cannot be written: the caller answers the error
 *  in its own protocol's form. */
pacs_err pacs_http_send_json(pacs_http_req *r, unsigned status, const char *content_type,
                             json_t *j);

/** Sends an error: status and a one-line message as text/plain (also logged). */
void pacs_http_send_error(pacs_http_req *r, unsigned status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/** Maps an archive error to an HTTP status (404, 400, 413, 503, 500...). */
unsigned pacs_http_status_of(pacs_err err);

/**
 * Produces the next piece of a streamed body by appending at least one byte to `out`, or sets
 * `*eof` when the body is complete. An error ends the response abruptly (the client sees a
 * truncated body: the status line has already gone).
 */
typedef pacs_err (*pacs_http_produce_fn)(void *ctx, pacs_buf *out, int *eof, pacs_errinfo *ei);

/** Streams a body. `size` is its exact length, or UINT64_MAX when unknown (chunked). `ctx` is
 *  released with `release` when the response is done or abandoned, also on failure. */
void pacs_http_send_stream(pacs_http_req *r, unsigned status, const char *content_type,
                           uint64_t size, int json, pacs_http_produce_fn produce, void *ctx,
                           void (*release)(void *ctx));

/**
 * Fills `buf` (room for `max` bytes) with the next bytes of a streamed body and sets `*n` to
 * how many (at least one unless `*eof` is set). Writing straight into libmicrohttpd's buffer
 * spares a copy for large bodies (objects, frames). Errors end the response abruptly.
 */
typedef pacs_err (*pacs_http_fill_fn)(void *ctx, char *buf, size_t max, size_t *n, int *eof,
                                      pacs_errinfo *ei);

/** Streams a body of exactly `size` bytes produced by `fill` (never compressed). `ctx` is
 *  released with `release` when the response is done or abandoned, also on failure. */
void pacs_http_send_fill(pacs_http_req *r, unsigned status, const char *content_type, uint64_t size,
                         pacs_http_fill_fn fill, void *ctx, void (*release)(void *ctx));

/** Body callbacks for requests that carry one (STOW-RS). */
typedef struct pacs_http_body_ops {
    /** A piece of the body as it arrives; return non-OK to stop reading (the connection is then
     *  closed unless `end` answers). */
    pacs_err (*data)(pacs_http_req *r, void *ctx, const char *data, size_t len);
    /** The whole body has arrived: answer now. */
    void (*end)(pacs_http_req *r, void *ctx);
    /** The request is over (answered or aborted): release ctx. */
    void (*release)(void *ctx);
    /** Optional: the body ran past http.max_body_mb (`limit` bytes). Called instead of `end`
     *  once the rest has been read and dropped; answers 413 (NULL: a plain 413 is sent). */
    void (*too_large)(pacs_http_req *r, void *ctx, uint64_t limit);
} pacs_http_body_ops;

/** Instead of answering now, reads the body into `ops`. */
void pacs_http_expect_body(pacs_http_req *r, const pacs_http_body_ops *ops, void *ctx);

/** Makes a random multipart boundary (hex) into `buf` (at least 33 bytes). */
void pacs_http_boundary(char *buf, size_t cap);

#endif
