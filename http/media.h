// SPDX-License-Identifier: MIT
/*
 * Media types as HTTP carries them (RFC 9110 8.3, 12.5.1) and as PS3.18 8.7 uses them: a
 * Content-Type or one Accept media range with the parameters DICOMweb cares about (the
 * multipart `type`, `transfer-syntax`, `boundary`, `charset`, and the weight `q`). Parsing is
 * bounded: values longer than the fields below, or more than PACS_ACCEPT_MAX ranges, are
 * refused rather than truncated. Thread-safe: no shared state.
 */
#ifndef PACS_HTTP_MEDIA_H
#define PACS_HTTP_MEDIA_H

#include <stddef.h>

#include "http/multipart.h"
#include "pacs/base/err.h"

#define PACS_ACCEPT_MAX 32

typedef struct pacs_media {
    char type[80];    /* "type/subtype" in lower case ("*\/\*" for any) */
    char related[80]; /* multipart/related: the `type` parameter, lower case; "" when absent */
    char ts[65];      /* the `transfer-syntax` parameter ("*" or a UID); "" when absent */
    char charset[40]; /* the `charset` parameter, lower case */
    int q;            /* weight times 1000: 1000 unless given */
    /* multipart: the `boundary` parameter (multipart.h says how long it may be) */
    char boundary[PACS_MULTIPART_BOUNDARY_MAX + 1];
} pacs_media;

/** Parses one media type with its parameters (a Content-Type value). PACS_EINVAL with a message
 *  when it is malformed (a `boundary` is held to pacs_multipart_boundary_check's rules). */
pacs_err pacs_media_parse(const char *text, size_t len, pacs_media *out, pacs_errinfo *ei);

/**
 * Parses an Accept header into at most `cap` media ranges, ordered by weight (highest first,
 * ties in the order given); ranges with q=0 are dropped. A NULL or blank header means "*\/\*".
 * PACS_EINVAL when malformed or when there are more than `cap` ranges.
 */
pacs_err pacs_media_accept_parse(const char *header, pacs_media *out, size_t cap, size_t *n,
                                 pacs_errinfo *ei);

/** True when the range `m` covers the concrete media type `type` (lower case). */
int pacs_media_covers(const pacs_media *m, const char *type);

#endif
