// SPDX-License-Identifier: MIT
/*
 * An incremental multipart/related body parser (RFC 2046 5.1, RFC 2387) for STOW-RS: bytes are
 * pushed as they arrive in pieces of any size, and each part's body is handed on as it streams,
 * so that no request is ever held in memory. Only the part headers (at most
 * PACS_MULTIPART_HEADER_MAX bytes per part) and less look-behind than one delimiter are kept.
 *
 * Contract of pacs_multipart_feed: every byte is consumed; the result is PACS_OK (more may
 * follow), PACS_EBADDATA (malformed: the parser is then stuck in that error) or PACS_ECANCELED
 * (a callback asked to stop). Not thread-safe: one parser per request.
 */
#ifndef PACS_HTTP_MULTIPART_H
#define PACS_HTTP_MULTIPART_H

#include <stddef.h>

#include "pacs/base/err.h"

#define PACS_MULTIPART_HEADER_MAX 8192
/* RFC 2046 5.1.1 allows boundaries of 1 to 70 characters; real clients send longer ones
 * (Orthanc's DICOMweb plugin: 73, two UUIDs), so this parser takes up to 200. */
#define PACS_MULTIPART_RFC_BOUNDARY_MAX 70
#define PACS_MULTIPART_BOUNDARY_MAX 200

typedef struct pacs_multipart pacs_multipart;

/** A part's headers; strings are "" when the header is absent, valid during `begin` only. */
typedef struct pacs_multipart_part {
    const char *content_type;
    const char *content_location;
    const char *content_transfer_encoding;
    unsigned index; /* 0 for the first part */
} pacs_multipart_part;

/** Callbacks; each returns 0 to go on, non-zero to stop the parse (PACS_ECANCELED). */
typedef struct pacs_multipart_cbs {
    int (*begin)(void *ctx, const pacs_multipart_part *part);
    int (*data)(void *ctx, const char *data, size_t len);
    int (*end)(void *ctx);
} pacs_multipart_cbs;

/**
 * Checks a boundary of `len` bytes: 1 to PACS_MULTIPART_BOUNDARY_MAX characters of RFC 2046's
 * printable ASCII, not ending in a space. PACS_EINVAL with a message naming the limit broken.
 */
pacs_err pacs_multipart_boundary_check(const char *boundary, size_t len, pacs_errinfo *ei);

/** A parser for parts delimited by `boundary` (pacs_multipart_boundary_check's rules). */
pacs_err pacs_multipart_new(const char *boundary, const pacs_multipart_cbs *cbs, void *ctx,
                            pacs_multipart **out, pacs_errinfo *ei);

/** NULL is accepted. */
void pacs_multipart_free(pacs_multipart *mp);

/** Pushes `len` more bytes of the body. */
pacs_err pacs_multipart_feed(pacs_multipart *mp, const char *data, size_t len, pacs_errinfo *ei);

/**
 * Called at the end of the body: PACS_OK when the closing delimiter was seen, PACS_EBADDATA
 * when the body was truncated (a part begun and not ended stays unended: the caller abandons
 * it) or never held the boundary at all (each with its own message).
 */
pacs_err pacs_multipart_finish(pacs_multipart *mp, pacs_errinfo *ei);

/** True while a part has begun and not ended (for callers cleaning up after an error). */
int pacs_multipart_in_part(const pacs_multipart *mp);

/** Number of parts begun so far. */
unsigned pacs_multipart_parts(const pacs_multipart *mp);

#endif
