// SPDX-License-Identifier: MIT
/*
 * The public keys that OAuth2 bearer JWTs are verified against (auth.c's), read once from
 * auth.jwt_keys: a JWKS file or a PEM file, and the check of a JWS signature with one of them.
 * Internal to http/ (auth.c and auth_keys.c).
 */
#ifndef PACS_HTTP_AUTH_KEYS_H
#define PACS_HTTP_AUTH_KEYS_H

#include <stddef.h>

#include <openssl/types.h>

#include "pacs/base/err.h"

#define PACS_JWT_KEYS_MAX 64

typedef enum pacs_jwt_key_type { PACS_JWT_KEY_RSA = 1, PACS_JWT_KEY_EC } pacs_jwt_key_type;

typedef struct pacs_jwt_key {
    char kid[128]; /* "" when the key has none (PEM) */
    char alg[8];   /* the JWK's "alg", "" when not given */
    pacs_jwt_key_type type;
    int curve_bits; /* EC: 256, 384 or 521 */
    EVP_PKEY *pkey; /* owned */
} pacs_jwt_key;

typedef struct pacs_jwt_keys {
    pacs_jwt_key keys[PACS_JWT_KEYS_MAX];
    size_t n;
} pacs_jwt_keys;

/**
 * Adds the keys of the JWKS or PEM file at `path` (at most 1 MiB) to `keys`. PACS_EINVAL names
 * the file and what is wrong with it (unreadable, not a JWKS, a weak or unsupported key, more
 * than PACS_JWT_KEYS_MAX keys, no key at all). On error, keys already added stay owned by
 * `keys`: free them with pacs_jwt_keys_free().
 */
pacs_err pacs_jwt_keys_load(pacs_jwt_keys *keys, const char *path, pacs_errinfo *ei);

/** Frees the keys; `keys` is empty afterwards. */
void pacs_jwt_keys_free(pacs_jwt_keys *keys);

/**
 * True when `sig` (`sig_len` bytes, as the JWS carries it: PKCS #1 v1.5 for RSA, r||s for EC)
 * is `k`'s signature of `input` with SHA-`hash_bits` (256, 384 or 512).
 */
int pacs_jwt_key_verify(const pacs_jwt_key *k, int hash_bits, const void *input, size_t input_len,
                        const unsigned char *sig, size_t sig_len);

#endif
