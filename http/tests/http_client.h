// SPDX-License-Identifier: MIT
/*
 * A small libcurl client for the DICOMweb unit tests (test_http.c, test_router.c): one request
 * at a time on a handle that keeps its connection alive, with the status, the response headers
 * and the body kept for the test to check. Every transfer is bounded (30 s). Not thread-safe:
 * one handle per thread.
 */
#ifndef PACS_HTTP_TESTS_HTTP_CLIENT_H
#define PACS_HTTP_TESTS_HTTP_CLIENT_H

#include <stddef.h>

typedef struct hc_client hc_client;

typedef struct hc_response {
    long status;    /* 0 when no answer came (the connection failed or was closed) */
    int curl_error; /* libcurl's CURLcode: 0, or why the transfer ended early */
    char *body;     /* NUL-terminated; the client owns it until the next request */
    size_t len;     /* bytes of body (after gzip decoding, when gzip_ok) */
    char *headers;  /* the raw header lines of the final answer */
    long new_conns; /* connections opened for this request (0: one was reused) */
} hc_response;

/** A client; `gzip_ok` sends Accept-Encoding: gzip and decodes what comes back. */
hc_client *hc_new(int gzip_ok);
void hc_free(hc_client *c);

/**
 * `method` `url` with the NULL-terminated `headers` ("Name: value") and, unless NULL, a body
 * of `len` bytes (sent with Content-Length). HEAD asks for no body. The response stays valid
 * until the next request on `c`.
 */
const hc_response *hc_request(hc_client *c, const char *method, const char *url,
                              const char *const *headers, const char *body, size_t len);

/** The value of response header `name` (case-insensitive; the first one), copied into `buf`;
 *  NULL when absent. */
const char *hc_header(const hc_response *r, const char *name, char *buf, size_t cap);

#endif
