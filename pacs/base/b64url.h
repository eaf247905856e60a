// SPDX-License-Identifier: MIT
/*
 * base64url without padding (RFC 4648 section 5, as JOSE and our share tokens write it), on
 * OpenSSL's EVP base64 with the two characters swapped. Used by the share-link store
 * (storage/share.c) and by JWT/JWKS checking (http/auth.c). Stateless; thread-safe.
 */
#ifndef PACS_BASE_B64URL_H
#define PACS_BASE_B64URL_H

#include <stddef.h>

/** Encodes `n` bytes into `out`, which holds 4*ceil(n/3)+1 characters; no '=' padding.
 *  Returns the length written (without the NUL). */
size_t pacs_b64url_encode(const unsigned char *in, size_t n, char *out);

/** Decodes `len` base64url characters (no padding, nothing outside the alphabet) into a new
 *  buffer of `*n` bytes (the caller frees it), or NULL when the text is not base64url or is
 *  longer than 16 KB. */
unsigned char *pacs_b64url_decode(const char *in, size_t len, size_t *n);

#endif
