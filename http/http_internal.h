// SPDX-License-Identifier: MIT
/*
 * The request record behind http.h, shared by the three files that make, route and answer
 * requests: httpd.c (creates a request when libmicrohttpd shows its URI, feeds it its body,
 * frees it on completion), router.c (fills in the path, parameters, principal, base URL and
 * audit plan, then calls a handler) and http.c (the API handlers use). Handlers never include
 * this header. Thread-safety: a request belongs to the thread of its connection.
 */
#ifndef PACS_HTTP_HTTP_INTERNAL_H
#define PACS_HTTP_HTTP_INTERNAL_H

#include <microhttpd.h>
#include <stdint.h>

#include "http/http.h"

#define PACS_HTTP__MAX_EXTRA_HEADERS 8

struct pacs_http_req {
    struct MHD_Connection *conn;
    pacs_arena *ar;
    const pacs_config *cfg;
    pacs_archive *archive;
    unsigned long id;
    const char *raw_uri; /* as received, with the query */
    const char *path;    /* the part the router routes (below the prefix), still encoded */
    size_t path_len;
    pacs_http_method method;
    const char *method_name;
    pacs_params params;
    const char *base_url;
    int started;    /* libmicrohttpd's first call (headers only) has been seen */
    int dispatched; /* the router has been called */
    int answered;
    unsigned status;
    int gzip_ok;
    const char *origin; /* an allowed Origin, for CORS headers */
    struct {
        const char *name, *value;
    } extra[PACS_HTTP__MAX_EXTRA_HEADERS];
    size_t n_extra;
    const pacs_http_body_ops *body;
    void *body_ctx;
    uint64_t body_seen;
    int body_failed;
    int body_over; /* past http.max_body_mb: the rest is read and dropped, then 413 */
    pacs_principal principal;
    char peer[64];
    int audit_action;         /* PACS_AUDIT_* + 1 for a request the trail records; 0: none */
    const char *audit_study;  /* the study it names, or NULL */
    const char *metric_route; /* the route's name in pacs_http_requests_total; NULL: "other" */
};

/**
 * A new request for `uri` (copied) with its own arena, or NULL when out of memory. `cfg` and
 * `archive` are borrowed for the request's life.
 */
pacs_http_req *pacs_http__new(const pacs_config *cfg, pacs_archive *archive, unsigned long id,
                              const char *uri);

/** Libmicrohttpd's first call for the request: its connection and method are known, and so
 *  are its headers (CORS origin, gzip). */
void pacs_http__begin(pacs_http_req *r, struct MHD_Connection *conn, const char *method);

/** The request is over (`ok`: completed, else failed or aborted): releases its body context,
 *  logs it at DEBUG and frees it with its arena. NULL is accepted. */
void pacs_http__end(pacs_http_req *r, int ok, int code);

#endif
