// SPDX-License-Identifier: MIT
/*
 * URL query strings and path segments: splitting `a=1&b=2`, percent-decoding (RFC 3986 2.1;
 * '+' is a space in a query, as HTML forms and most HTTP clients send it), and refusing what
 * cannot be valid (a bad %-escape, an encoded NUL, too many parameters). Everything decoded is
 * allocated in the request's arena. Thread-safe: no shared state.
 */
#ifndef PACS_HTTP_PARAMS_H
#define PACS_HTTP_PARAMS_H

#include <stddef.h>

#include "http/arena.h"
#include "pacs/base/err.h"

#define PACS_PARAMS_MAX 256

typedef struct pacs_param {
    const char *name;  /* decoded, NUL-terminated */
    const char *value; /* decoded; "" for `name` or `name=` */
} pacs_param;

typedef struct pacs_params {
    pacs_param *v;
    size_t n;
} pacs_params;

/**
 * Splits and decodes the query string `q` (without the '?'), `len` bytes. Empty pieces
 * (`a=1&&b=2`) are skipped. PACS_EINVAL with a message for a malformed escape, an encoded NUL
 * or more than PACS_PARAMS_MAX parameters; PACS_ENOMEM when the arena is exhausted.
 */
pacs_err pacs_params_parse(const char *q, size_t len, pacs_arena *ar, pacs_params *out,
                           pacs_errinfo *ei);

/** The value of the first parameter called `name`, or NULL. */
const char *pacs_params_get(const pacs_params *p, const char *name);

/**
 * Percent-decodes `len` bytes of `s` into a new arena string (`plus_space`: '+' becomes ' ').
 * NULL when malformed, when it would contain a NUL, or when the arena is exhausted.
 */
char *pacs_params_url_decode(pacs_arena *ar, const char *s, size_t len, int plus_space);

#endif
