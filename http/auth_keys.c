// SPDX-License-Identifier: MIT
/*
 * The public keys JWTs are verified against (auth_keys.h): a JWKS file (each JWK made a key
 * with OpenSSL 3's EVP_PKEY_fromdata) or a PEM file of public keys. RSA keys of at least 2048
 * bits and EC keys on P-256, P-384 and P-521 only. Signatures are checked here with OpenSSL,
 * not libjwt: Debian's libjwt 1.10 refuses any `typ` but "JWT", and so the access tokens of
 * RFC 9068 ("at+jwt") that identity providers issue. Load: once, when pacsd starts.
 * Thread-safe: the keys are read-only after loading; each check has its own context.
 */
#include "http/auth_keys.h"

#include <errno.h>
#include <jansson.h>
#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <openssl/param_build.h>
#include <openssl/pem.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pacs/base/b64url.h"

#define KEYFILE_MAX (1u << 20)

/* Fills type/curve/pkey of `k` from a public key (a reference of its own). */
static pacs_err key_from_pkey(EVP_PKEY *pk, pacs_jwt_key *k, pacs_errinfo *ei)
{
    if (EVP_PKEY_is_a(pk, "RSA")) {
        if (EVP_PKEY_get_bits(pk) < 2048) {
            return pacs_errf(ei, PACS_EINVAL, "RSA key of %d bits: at least 2048 are needed",
                             EVP_PKEY_get_bits(pk));
        }
        k->type = PACS_JWT_KEY_RSA;
    } else if (EVP_PKEY_is_a(pk, "EC")) {
        k->type = PACS_JWT_KEY_EC;
        k->curve_bits = EVP_PKEY_get_bits(pk);
        if (k->curve_bits != 256 && k->curve_bits != 384 && k->curve_bits != 521) {
            return pacs_errf(ei, PACS_EINVAL, "EC key on an unsupported curve");
        }
    } else {
        return pacs_errf(ei, PACS_EINVAL, "only RSA and EC public keys are accepted");
    }
    if (EVP_PKEY_up_ref(pk) != 1) {
        return pacs_errf(ei, PACS_ENOMEM, "out of memory");
    }
    k->pkey = pk;
    return PACS_OK;
}

static BIGNUM *jwk_bn(json_t *jwk, const char *name)
{
    const char *v = json_string_value(json_object_get(jwk, name));
    size_t n = 0;
    unsigned char *raw = v ? pacs_b64url_decode(v, strlen(v), &n) : NULL;
    BIGNUM *bn = raw ? BN_bin2bn(raw, (int)n, NULL) : NULL;
    free(raw);
    return bn;
}

/* One JWK into a public key; *skip is set for keys that are not for signatures. */
static pacs_err jwk_to_key(json_t *jwk, pacs_jwt_key *k, int *skip, pacs_errinfo *ei)
{
    const char *kty = json_string_value(json_object_get(jwk, "kty"));
    const char *use = json_string_value(json_object_get(jwk, "use"));
    const char *kid = json_string_value(json_object_get(jwk, "kid"));
    const char *alg = json_string_value(json_object_get(jwk, "alg"));
    EVP_PKEY_CTX *ctx = NULL;
    OSSL_PARAM_BLD *bld = NULL;
    OSSL_PARAM *params = NULL;
    EVP_PKEY *pk = NULL;
    BIGNUM *n = NULL, *e = NULL;
    unsigned char *x = NULL, *y = NULL;
    unsigned char *pub = NULL;
    pacs_err err = PACS_OK;
    *skip = 0;
    if (use && strcmp(use, "sig") != 0) {
        *skip = 1;
        return PACS_OK;
    }
    if (!kty) {
        return pacs_errf(ei, PACS_EINVAL, "a JWK without kty");
    }
    snprintf(k->kid, sizeof k->kid, "%s", kid ? kid : "");
    snprintf(k->alg, sizeof k->alg, "%s", alg ? alg : "");
    bld = OSSL_PARAM_BLD_new();
    if (!bld) {
        err = pacs_errf(ei, PACS_ENOMEM, "out of memory");
        goto fail;
    }
    if (strcmp(kty, "RSA") == 0) {
        n = jwk_bn(jwk, "n");
        e = jwk_bn(jwk, "e");
        if (!n || !e) {
            err = pacs_errf(ei, PACS_EINVAL, "JWK %s: RSA key without n and e", k->kid);
            goto fail;
        }
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_N, n);
        OSSL_PARAM_BLD_push_BN(bld, OSSL_PKEY_PARAM_RSA_E, e);
        ctx = EVP_PKEY_CTX_new_from_name(NULL, "RSA", NULL);
    } else if (strcmp(kty, "EC") == 0) {
        const char *crv = json_string_value(json_object_get(jwk, "crv"));
        const char *group = !crv                        ? NULL
                            : strcmp(crv, "P-256") == 0 ? "prime256v1"
                            : strcmp(crv, "P-384") == 0 ? "secp384r1"
                            : strcmp(crv, "P-521") == 0 ? "secp521r1"
                                                        : NULL;
        size_t want = !crv                        ? 0
                      : strcmp(crv, "P-256") == 0 ? 32
                      : strcmp(crv, "P-384") == 0 ? 48
                                                  : 66;
        const char *xs = json_string_value(json_object_get(jwk, "x"));
        const char *ys = json_string_value(json_object_get(jwk, "y"));
        size_t nx = 0, ny = 0;
        if (!group || !xs || !ys) {
            err =
                pacs_errf(ei, PACS_EINVAL, "JWK %s: EC key needs crv P-256/384/521, x, y", k->kid);
            goto fail;
        }
        x = pacs_b64url_decode(xs, strlen(xs), &nx);
        y = pacs_b64url_decode(ys, strlen(ys), &ny);
        if (!x || !y || nx != want || ny != want) {
            err = pacs_errf(ei, PACS_EINVAL, "JWK %s: bad EC coordinates", k->kid);
            goto fail;
        }
        pub = malloc(1 + 2 * want);
        if (!pub) {
            err = pacs_errf(ei, PACS_ENOMEM, "out of memory");
            goto fail;
        }
        pub[0] = 0x04; /* uncompressed point */
        memcpy(pub + 1, x, want);
        memcpy(pub + 1 + want, y, want);
        OSSL_PARAM_BLD_push_utf8_string(bld, OSSL_PKEY_PARAM_GROUP_NAME, group, 0);
        OSSL_PARAM_BLD_push_octet_string(bld, OSSL_PKEY_PARAM_PUB_KEY, pub, 1 + 2 * want);
        ctx = EVP_PKEY_CTX_new_from_name(NULL, "EC", NULL);
    } else {
        *skip = 1; /* "oct" (symmetric) and others: never used for verification */
        goto fail;
    }
    params = OSSL_PARAM_BLD_to_param(bld);
    if (!ctx || !params || EVP_PKEY_fromdata_init(ctx) != 1 ||
        EVP_PKEY_fromdata(ctx, &pk, EVP_PKEY_PUBLIC_KEY, params) != 1) {
        err = pacs_errf(ei, PACS_EINVAL, "JWK %s: not a valid %s public key", k->kid, kty);
        goto fail;
    }
    err = key_from_pkey(pk, k, ei);
fail:
    EVP_PKEY_free(pk);
    EVP_PKEY_CTX_free(ctx);
    OSSL_PARAM_free(params);
    OSSL_PARAM_BLD_free(bld);
    BN_free(n);
    BN_free(e);
    free(x);
    free(y);
    free(pub);
    return err;
}

static pacs_err load_jwks(pacs_jwt_keys *a, const char *path, const char *text, pacs_errinfo *ei)
{
    json_error_t jerr;
    json_t *root = json_loads(text, 0, &jerr);
    pacs_err err = PACS_OK;
    json_t *keys = root ? json_object_get(root, "keys") : NULL;
    if (!json_is_array(keys)) {
        err = pacs_errf(ei, PACS_EINVAL, "%s: not a JWKS (an object with a \"keys\" array)", path);
        goto fail;
    }
    size_t i;
    json_t *jwk;
    json_array_foreach(keys, i, jwk)
    {
        int skip = 0;
        if (a->n >= PACS_JWT_KEYS_MAX) {
            err = pacs_errf(ei, PACS_EINVAL, "%s: more than %d keys", path, PACS_JWT_KEYS_MAX);
            goto fail;
        }
        pacs_jwt_key *k = &a->keys[a->n];
        memset(k, 0, sizeof *k);
        err = json_is_object(jwk) ? jwk_to_key(jwk, k, &skip, ei)
                                  : pacs_errf(ei, PACS_EINVAL, "a JWK is not an object");
        if (err) {
            char msg[sizeof ei->msg];
            snprintf(msg, sizeof msg, "%s", ei ? ei->msg : "");
            err = pacs_errf(ei, err, "%s: %s", path, msg);
            goto fail;
        }
        if (!skip) {
            a->n++;
        }
    }
fail:
    json_decref(root);
    return err;
}

static pacs_err load_pem(pacs_jwt_keys *a, const char *path, const char *text, size_t len,
                         pacs_errinfo *ei)
{
    BIO *b = BIO_new_mem_buf(text, (int)len);
    pacs_err err = PACS_OK;
    EVP_PKEY *pk;
    if (!b) {
        return pacs_errf(ei, PACS_ENOMEM, "out of memory");
    }
    while ((pk = PEM_read_bio_PUBKEY(b, NULL, NULL, NULL)) != NULL) {
        if (a->n >= PACS_JWT_KEYS_MAX) {
            EVP_PKEY_free(pk);
            err = pacs_errf(ei, PACS_EINVAL, "%s: more than %d keys", path, PACS_JWT_KEYS_MAX);
            break;
        }
        pacs_jwt_key *k = &a->keys[a->n];
        memset(k, 0, sizeof *k);
        err = key_from_pkey(pk, k, ei);
        EVP_PKEY_free(pk);
        if (err) {
            break;
        }
        a->n++;
    }
    BIO_free(b);
    return err;
}

pacs_err pacs_jwt_keys_load(pacs_jwt_keys *a, const char *path, pacs_errinfo *ei)
{
    pacs_err err = PACS_OK;
    char *text = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) {
        return pacs_errf(ei, PACS_EINVAL, "auth.jwt_keys: cannot open %s: %s", path,
                         strerror(errno));
    }
    text = malloc(KEYFILE_MAX + 1);
    if (!text) {
        fclose(f);
        return pacs_errf(ei, PACS_ENOMEM, "out of memory");
    }
    size_t len = fread(text, 1, KEYFILE_MAX + 1, f);
    fclose(f);
    if (len > KEYFILE_MAX) {
        err = pacs_errf(ei, PACS_EINVAL, "auth.jwt_keys: %s is larger than 1 MiB", path);
        goto fail;
    }
    text[len] = '\0';
    const char *p = text;
    while (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t') {
        p++;
    }
    err = *p == '{' ? load_jwks(a, path, p, ei) : load_pem(a, path, text, len, ei);
    if (!err && a->n == 0) {
        err = pacs_errf(ei, PACS_EINVAL, "auth.jwt_keys: no RSA or EC public key in %s", path);
    }
fail:
    free(text);
    return err;
}

void pacs_jwt_keys_free(pacs_jwt_keys *a)
{
    for (size_t i = 0; i < a->n; i++) {
        EVP_PKEY_free(a->keys[i].pkey);
        a->keys[i].pkey = NULL;
    }
    a->n = 0;
}

/* A JWS EC signature (r||s, each as long as the curve's order) as the DER OpenSSL verifies. */
static unsigned char *ec_sig_der(const pacs_jwt_key *k, const unsigned char *sig, size_t len,
                                 int *der_len)
{
    size_t half = ((size_t)k->curve_bits + 7) / 8;
    if (len != 2 * half) {
        return NULL;
    }
    ECDSA_SIG *es = ECDSA_SIG_new();
    BIGNUM *r = BN_bin2bn(sig, (int)half, NULL);
    BIGNUM *s = BN_bin2bn(sig + half, (int)half, NULL);
    unsigned char *der = NULL;
    if (es && r && s && ECDSA_SIG_set0(es, r, s) == 1) {
        r = s = NULL; /* owned by es now */
        *der_len = i2d_ECDSA_SIG(es, &der);
        if (*der_len <= 0) {
            der = NULL;
        }
    }
    BN_free(r);
    BN_free(s);
    ECDSA_SIG_free(es);
    return der;
}

int pacs_jwt_key_verify(const pacs_jwt_key *k, int hash_bits, const void *input, size_t input_len,
                        const unsigned char *sig, size_t sig_len)
{
    const EVP_MD *md = hash_bits == 256   ? EVP_sha256()
                       : hash_bits == 384 ? EVP_sha384()
                       : hash_bits == 512 ? EVP_sha512()
                                          : NULL;
    if (!md || !k->pkey) {
        return 0;
    }
    unsigned char *der = NULL;
    int der_len = 0;
    if (k->type == PACS_JWT_KEY_EC) {
        der = ec_sig_der(k, sig, sig_len, &der_len);
        if (!der) {
            return 0;
        }
        sig = der;
        sig_len = (size_t)der_len;
    }
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok = ctx && EVP_DigestVerifyInit(ctx, NULL, md, NULL, k->pkey) == 1 &&
             EVP_DigestVerify(ctx, sig, sig_len, input, input_len) == 1;
    EVP_MD_CTX_free(ctx);
    OPENSSL_free(der);
    return ok;
}
