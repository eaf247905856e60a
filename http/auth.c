// SPDX-License-Identifier: MIT
/*
 * DICOMweb authentication (auth.h): API keys compared by SHA-256 in constant time, OAuth2
 * bearer JWTs verified by libjwt 1.10 (Debian's libjwt-dev) against the public keys of a JWKS
 * or PEM file (read by auth_keys.c), and share tokens checked by storage/share.h. JSON is
 * jansson's.
 *
 * libjwt picks the verification from the token's own "alg" header, so the algorithm and the key
 * are chosen here first (asymmetric algorithms only, the key's type and curve matching them)
 * and libjwt is handed that one key; its answer is then checked to have used the same
 * algorithm. Claims are read from the verified payload with jansson.
 *
 * Load: one call per HTTP request. Thread-safe: the handle is read-only after open but for the
 * table of verified JWTs (its own mutex); libjwt and OpenSSL keep no shared state across calls,
 * and the share store locks itself.
 */
#include "http/auth.h"
#include "http/auth_keys.h"

#include <jansson.h>
#include <jwt.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/sha.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "pacs/base/b64url.h"
#include "pacs/base/log.h"
#include "storage/share_scope.h"

#define MAX_TOKEN 8192
#define TAG_STUDY_UID 0x0020000Du
#define JWT_CACHE 256     /* verified JWTs remembered (direct-mapped by their hash) */
#define JWT_CACHE_MAX 300 /* seconds a verified JWT is remembered at most */

/* A JWT that verified: its hash, until when it may be taken without verifying again (its exp
 * with the leeway, at most JWT_CACHE_MAX seconds on), and what it was found to be. */
typedef struct jwt_seen {
    unsigned char hash[SHA256_DIGEST_LENGTH];
    int64_t until;
    pacs_principal p;
} jwt_seen;

typedef struct api_key {
    char name[65];
    unsigned char hash[SHA256_DIGEST_LENGTH];
    unsigned scopes;
} api_key;

struct pacs_auth {
    int required;
    pacs_shares *shares;
    pacs_jwt_keys keys;
    char issuer[512];
    char audience[512];
    long leeway;
    api_key *api;
    size_t n_api;
    pacs_sessions *sessions;
    pacs_addr_limit *addr_limit;
    pthread_mutex_t seen_mu;
    jwt_seen seen[JWT_CACHE];
};

/* ---- small helpers ---- */

static unsigned scope_bit(const char *w, size_t n)
{
    static const struct {
        const char *name;
        unsigned bit;
    } names[] = {{"read", PACS_SCOPE_READ},
                 {"write", PACS_SCOPE_WRITE},
                 {"delete", PACS_SCOPE_DELETE},
                 {"share", PACS_SCOPE_SHARE},
                 {"metrics", PACS_SCOPE_METRICS}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (strlen(names[i].name) == n && strncmp(names[i].name, w, n) == 0) {
            return names[i].bit;
        }
    }
    return 0;
}

/* The scopes named in a space- or comma-separated list; unknown words go to `*unknown`. */
static unsigned parse_scopes(const char *s, int *unknown)
{
    unsigned bits = 0;
    while (*s) {
        while (*s == ' ' || *s == ',' || *s == '\t') {
            s++;
        }
        const char *e = s;
        while (*e && *e != ' ' && *e != ',' && *e != '\t') {
            e++;
        }
        if (e > s) {
            unsigned b = scope_bit(s, (size_t)(e - s));
            if (!b && unknown) {
                *unknown = 1;
            }
            bits |= b;
        }
        s = e;
    }
    return bits;
}

/* Copies `src` into `dst` keeping printable ASCII only (names go to logs and the audit trail). */
static void copy_printable(char *dst, size_t cap, const char *prefix, const char *src)
{
    size_t n = 0;
    for (const char *p = prefix; *p && n + 1 < cap; p++) {
        dst[n++] = *p;
    }
    for (const char *p = src; p && *p && n + 1 < cap; p++) {
        unsigned char c = (unsigned char)*p;
        dst[n++] = c >= 0x20 && c < 0x7f ? (char)c : '?';
    }
    dst[n] = '\0';
}

/* ---- open and close ---- */

static pacs_err load_api_keys(pacs_auth *a, const pacs_config *cfg, pacs_errinfo *ei)
{
    size_t n = pacs_config_api_key_count(cfg);
    if (n == 0) {
        return PACS_OK;
    }
    a->api = calloc(n, sizeof *a->api);
    if (!a->api) {
        return pacs_errf(ei, PACS_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        const pacs_api_key *ck = pacs_config_api_key_at(cfg, i);
        api_key *k = &a->api[a->n_api];
        const char *v = ck->value;
        int unknown = 0;
        if (strncmp(v, "sha256:", 7) != 0) {
            return pacs_errf(ei, PACS_EINVAL,
                             "auth.key.%s: must be sha256:HEX followed by scopes (the key's "
                             "SHA-256, e.g. printf %%s KEY | sha256sum)",
                             ck->name);
        }
        v += 7;
        for (size_t j = 0; j < SHA256_DIGEST_LENGTH; j++) {
            int hi = OPENSSL_hexchar2int((unsigned char)v[2 * j]),
                lo = hi < 0 ? -1 : OPENSSL_hexchar2int((unsigned char)v[2 * j + 1]);
            if (hi < 0 || lo < 0) {
                return pacs_errf(ei, PACS_EINVAL, "auth.key.%s: the hash must be 64 hex digits",
                                 ck->name);
            }
            k->hash[j] = (unsigned char)(hi << 4 | lo);
        }
        v += 2 * SHA256_DIGEST_LENGTH;
        if (*v && *v != ' ' && *v != '\t') {
            return pacs_errf(ei, PACS_EINVAL, "auth.key.%s: the hash must be 64 hex digits",
                             ck->name);
        }
        k->scopes = parse_scopes(v, &unknown);
        if (unknown || k->scopes == 0) {
            return pacs_errf(
                ei, PACS_EINVAL,
                "auth.key.%s: scopes must be among read, write, delete, share, metrics", ck->name);
        }
        snprintf(k->name, sizeof k->name, "%s", ck->name);
        a->n_api++;
    }
    return PACS_OK;
}

pacs_err pacs_auth_open(const pacs_config *cfg, const char *data_dir, pacs_auth **out,
                        pacs_errinfo *ei)
{
    pacs_err err = PACS_OK;
    pacs_auth *a = calloc(1, sizeof *a);
    if (!a) {
        return pacs_errf(ei, PACS_ENOMEM, "out of memory");
    }
    pthread_mutex_init(&a->seen_mu, NULL);
    const char *mode = pacs_config_str(cfg, "http.auth");
    if (strcmp(mode, "required") == 0) {
        a->required = 1;
    } else if (strcmp(mode, "off") != 0) {
        err = pacs_errf(ei, PACS_EINVAL, "http.auth: '%s' is not off or required", mode);
        goto fail;
    }
    snprintf(a->issuer, sizeof a->issuer, "%s", pacs_config_str(cfg, "auth.jwt_issuer"));
    snprintf(a->audience, sizeof a->audience, "%s", pacs_config_str(cfg, "auth.jwt_audience"));
    a->leeway = pacs_config_int(cfg, "auth.jwt_leeway");
    const char *keys = pacs_config_str(cfg, "auth.jwt_keys");
    if (keys[0]) {
        if (!a->issuer[0] || !a->audience[0]) {
            err = pacs_errf(ei, PACS_EINVAL,
                            "auth.jwt_keys needs auth.jwt_issuer and auth.jwt_audience too");
            goto fail;
        }
        err = pacs_jwt_keys_load(&a->keys, keys, ei);
        if (err) {
            goto fail;
        }
    }
    err = load_api_keys(a, cfg, ei);
    if (err) {
        goto fail;
    }
    err = pacs_shares_open_at(data_dir, pacs_config_str(cfg, "index"), &a->shares, ei);
    if (err) {
        goto fail;
    }
    err = pacs_sessions_new((unsigned)pacs_config_int(cfg, "auth.session_idle"),
                            (unsigned)pacs_config_int(cfg, "auth.session_max_age"),
                            (unsigned)pacs_config_int(cfg, "auth.session_recheck"),
                            (size_t)pacs_config_int(cfg, "auth.sessions_max"), &a->sessions, ei);
    if (err) {
        goto fail;
    }
    err = pacs_addr_limit_new((unsigned)pacs_config_int(cfg, "auth.lockout_address_failures"),
                              (unsigned)pacs_config_int(cfg, "auth.lockout_window"),
                              (unsigned)pacs_config_int(cfg, "auth.lockout_minutes") * 60u,
                              &a->addr_limit, ei);
    if (err) {
        goto fail;
    }
    *out = a;
    return PACS_OK;
fail:
    pacs_auth_close(a);
    return err;
}

void pacs_auth_close(pacs_auth *a)
{
    if (!a) {
        return;
    }
    pacs_jwt_keys_free(&a->keys);
    if (a->api) {
        OPENSSL_cleanse(a->api, a->n_api * sizeof *a->api);
    }
    free(a->api);
    pacs_shares_close(a->shares);
    pacs_sessions_free(a->sessions);
    pacs_addr_limit_free(a->addr_limit);
    OPENSSL_cleanse(a->seen, sizeof a->seen);
    pthread_mutex_destroy(&a->seen_mu);
    free(a);
}

int pacs_auth_required(const pacs_auth *a)
{
    return a->required;
}

pacs_shares *pacs_auth_shares(pacs_auth *a)
{
    return a->shares;
}

pacs_sessions *pacs_auth_sessions(pacs_auth *a)
{
    return a->sessions;
}

pacs_addr_limit *pacs_auth_addr_limit(pacs_auth *a)
{
    return a->addr_limit;
}

unsigned pacs_auth_role_scopes(pacs_role role)
{
    switch (role) {
    case PACS_ROLE_RADIOLOGIST:
        return PACS_SCOPE_READ | PACS_SCOPE_WRITE | PACS_SCOPE_SHARE;
    case PACS_ROLE_TECHNICIAN:
        return PACS_SCOPE_READ | PACS_SCOPE_WRITE;
    case PACS_ROLE_ADMIN:
        return PACS_SCOPE_READ | PACS_SCOPE_WRITE | PACS_SCOPE_DELETE | PACS_SCOPE_SHARE |
               PACS_SCOPE_METRICS;
    default:
        return 0;
    }
}

/* `url` without its http:// or https://; NULL for another scheme. */
static const char *after_scheme(const char *url)
{
    if (strncasecmp(url, "http://", 7) == 0) {
        return url + 7;
    }
    if (strncasecmp(url, "https://", 8) == 0) {
        return url + 8;
    }
    return NULL;
}

int pacs_auth_same_origin(const pacs_auth_request *in)
{
    size_t hl = in->host ? strlen(in->host) : 0;
    if (hl == 0) {
        return 0;
    }
    if (in->origin) {
        const char *o = after_scheme(in->origin);
        return o && strcasecmp(o, in->host) == 0;
    }
    if (in->referer) {
        const char *o = after_scheme(in->referer);
        return o && strncasecmp(o, in->host, hl) == 0 && (o[hl] == '/' || o[hl] == '\0');
    }
    return 0;
}

/* ---- checking credentials ---- */

/* The JWS algorithm names this server verifies, with the key they need. */
static int alg_spec(jwt_alg_t alg, pacs_jwt_key_type *type, int *curve_bits, int *hash_bits)
{
    *curve_bits = 0;
    switch (alg) {
    case JWT_ALG_RS256:
    case JWT_ALG_RS384:
    case JWT_ALG_RS512:
        *type = PACS_JWT_KEY_RSA;
        *hash_bits = alg == JWT_ALG_RS256 ? 256 : alg == JWT_ALG_RS384 ? 384 : 512;
        return 1;
    case JWT_ALG_ES256:
        *type = PACS_JWT_KEY_EC;
        *curve_bits = *hash_bits = 256;
        return 1;
    case JWT_ALG_ES384:
        *type = PACS_JWT_KEY_EC;
        *curve_bits = *hash_bits = 384;
        return 1;
    case JWT_ALG_ES512:
        *type = PACS_JWT_KEY_EC;
        *curve_bits = 521;
        *hash_bits = 512;
        return 1;
    default:
        return 0; /* none, HS256/384/512: never */
    }
}

/* The header's typ, if any: a JWT (what Keycloak and Azure AD write) or an OAuth2 access
 * token of RFC 9068. Other types (logout tokens, DPoP proofs, ...) are no access tokens. */
static int typ_ok(const json_t *typ)
{
    if (!typ) {
        return 1;
    }
    const char *t = json_string_value(typ);
    return t && (strcasecmp(t, "JWT") == 0 || strcasecmp(t, "at+jwt") == 0 ||
                 strcasecmp(t, "application/at+jwt") == 0);
}

/* True when the "aud" claim (a string or an array of strings) holds `want`. */
static int aud_ok(json_t *aud, const char *want)
{
    if (json_is_string(aud)) {
        return strcmp(json_string_value(aud), want) == 0;
    }
    if (json_is_array(aud)) {
        size_t i;
        json_t *v;
        json_array_foreach(aud, i, v)
        {
            if (json_is_string(v) && strcmp(json_string_value(v), want) == 0) {
                return 1;
            }
        }
    }
    return 0;
}

static pacs_err check_claims(pacs_auth *a, json_t *c, pacs_principal *out, int64_t *until,
                             pacs_errinfo *ei)
{
    int64_t now = (int64_t)time(NULL);
    const char *iss = json_string_value(json_object_get(c, "iss"));
    json_t *exp = json_object_get(c, "exp");
    json_t *nbf = json_object_get(c, "nbf");
    if (!iss || strcmp(iss, a->issuer) != 0) {
        return pacs_errf(ei, PACS_EDENIED, "JWT from another issuer");
    }
    if (!aud_ok(json_object_get(c, "aud"), a->audience)) {
        return pacs_errf(ei, PACS_EDENIED, "JWT for another audience");
    }
    if (!json_is_number(exp)) {
        return pacs_errf(ei, PACS_EDENIED, "JWT without exp");
    }
    /* Compared as doubles: a huge exp must not overflow a cast to an integer. */
    if (json_number_value(exp) + (double)a->leeway <= (double)now) {
        return pacs_errf(ei, PACS_EDENIED, "JWT expired");
    }
    if (nbf && (!json_is_number(nbf) || json_number_value(nbf) - (double)a->leeway > (double)now)) {
        return pacs_errf(ei, PACS_EDENIED, "JWT not yet valid");
    }
    unsigned scopes = 0;
    json_t *scope = json_object_get(c, "scope");
    json_t *scp = json_object_get(c, "scp");
    if (json_is_string(scope)) {
        scopes |= parse_scopes(json_string_value(scope), NULL);
    }
    if (json_is_string(scp)) {
        scopes |= parse_scopes(json_string_value(scp), NULL);
    } else if (json_is_array(scp)) {
        size_t i;
        json_t *v;
        json_array_foreach(scp, i, v)
        {
            if (json_is_string(v)) {
                scopes |= parse_scopes(json_string_value(v), NULL);
            }
        }
    }
    json_t *study = json_object_get(c, "study_uid");
    memset(out, 0, sizeof *out);
    if (study) {
        const char *s = json_string_value(study);
        size_t n = s ? strlen(s) : 0;
        if (n == 0 || n >= sizeof out->study || strspn(s, "0123456789.") != n) {
            return pacs_errf(ei, PACS_EDENIED, "JWT with a malformed study_uid claim");
        }
        memcpy(out->study, s, n + 1);
        scopes &= PACS_SCOPE_READ; /* a study-limited token only ever reads */
    }
    double last = json_number_value(exp) + (double)a->leeway;
    *until = last > (double)(now + JWT_CACHE_MAX) ? now + JWT_CACHE_MAX : (int64_t)last;
    out->kind = PACS_PRINCIPAL_JWT;
    out->scopes = scopes;
    copy_printable(out->name, sizeof out->name,
                   "jwt:", json_string_value(json_object_get(c, "sub")));
    return PACS_OK;
}

static pacs_err verify_jwt(pacs_auth *a, const char *token, pacs_principal *out, int64_t *until,
                           pacs_errinfo *ei)
{
    pacs_jwt_key_type type;
    int bits, hash_bits;
    if (a->keys.n == 0) {
        return pacs_errf(ei, PACS_EDENIED, "a JWT, but auth.jwt_keys is not set");
    }
    /* header.payload.signature, each base64url; the header, unverified, chooses the
     * algorithm and the key. */
    const char *dot = strchr(token, '.');
    const char *dot2 = dot ? strchr(dot + 1, '.') : NULL;
    if (!dot2 || strchr(dot2 + 1, '.')) {
        return pacs_errf(ei, PACS_EDENIED, "malformed JWT");
    }
    size_t hlen = 0;
    unsigned char *hraw = pacs_b64url_decode(token, (size_t)(dot - token), &hlen);
    json_t *hdr = hraw ? json_loadb((const char *)hraw, hlen, 0, NULL) : NULL;
    free(hraw);
    const char *alg_h = json_string_value(json_object_get(hdr, "alg"));
    const char *kid_h = json_string_value(json_object_get(hdr, "kid"));
    jwt_alg_t alg = alg_h ? jwt_str_alg(alg_h) : JWT_ALG_INVAL;
    char kid[128], alg_text[17];
    snprintf(kid, sizeof kid, "%s", kid_h ? kid_h : "");
    snprintf(alg_text, sizeof alg_text, "%s", alg_h ? alg_h : "(none given)");
    int kid_given = kid_h != NULL;
    /* RFC 7515 4.1.11: extensions we do not implement must make the token fail. */
    int hdr_ok = json_is_object(hdr) && !json_object_get(hdr, "crit");
    int typ_good = hdr_ok && typ_ok(json_object_get(hdr, "typ"));
    json_decref(hdr);
    if (!hdr_ok) {
        return pacs_errf(ei, PACS_EDENIED, "malformed JWT header");
    }
    if (!typ_good) {
        return pacs_errf(ei, PACS_EDENIED, "JWT of a type that is no access token");
    }
    if (!alg_spec(alg, &type, &bits, &hash_bits)) {
        return pacs_errf(ei, PACS_EDENIED, "JWT algorithm %s refused", alg_text);
    }
    const pacs_jwt_key *key = NULL;
    size_t n_match = 0;
    for (size_t i = 0; i < a->keys.n; i++) {
        const pacs_jwt_key *k = &a->keys.keys[i];
        if (k->type != type || (type == PACS_JWT_KEY_EC && k->curve_bits != bits) ||
            (k->alg[0] && strcmp(k->alg, jwt_alg_str(alg)) != 0)) {
            continue;
        }
        if (kid_given && k->kid[0] && strcmp(k->kid, kid) != 0) {
            continue;
        }
        if (kid_given && !k->kid[0] && a->keys.n > 1) {
            continue;
        }
        key = k;
        n_match++;
    }
    if (n_match != 1) {
        return pacs_errf(ei, PACS_EDENIED, "no single key for this JWT (alg %s, kid '%.64s')",
                         jwt_alg_str(alg), kid);
    }
    size_t slen = 0;
    unsigned char *sig = pacs_b64url_decode(dot2 + 1, strlen(dot2 + 1), &slen);
    int good = sig && pacs_jwt_key_verify(key, hash_bits, token, (size_t)(dot2 - token), sig, slen);
    free(sig);
    if (!good) {
        return pacs_errf(ei, PACS_EDENIED, "JWT signature does not verify");
    }
    size_t plen = 0;
    unsigned char *payload = pacs_b64url_decode(dot + 1, (size_t)(dot2 - dot - 1), &plen);
    json_t *claims = payload ? json_loadb((const char *)payload, plen, 0, NULL) : NULL;
    free(payload);
    if (!json_is_object(claims)) {
        json_decref(claims);
        return pacs_errf(ei, PACS_EDENIED, "JWT payload is not an object");
    }
    pacs_err err = check_claims(a, claims, out, until, ei);
    json_decref(claims);
    return err;
}

/* A JWT, verified once and then remembered by its SHA-256 until it expires (at most
 * JWT_CACHE_MAX seconds), so that a viewer's hundreds of requests with one token cost one
 * signature check. Only verified tokens are remembered; a refusal is always worked out anew. */
static pacs_err check_jwt(pacs_auth *a, const char *token, pacs_principal *out, pacs_errinfo *ei)
{
    unsigned char h[SHA256_DIGEST_LENGTH];
    int64_t now = (int64_t)time(NULL), until = 0;
    SHA256((const unsigned char *)token, strlen(token), h);
    jwt_seen *e = &a->seen[(h[0] | (unsigned)h[1] << 8) % JWT_CACHE];
    pthread_mutex_lock(&a->seen_mu);
    int hit = e->until > now && CRYPTO_memcmp(e->hash, h, sizeof h) == 0;
    if (hit) {
        *out = e->p;
    }
    pthread_mutex_unlock(&a->seen_mu);
    if (hit) {
        return PACS_OK;
    }
    pacs_principal p;
    pacs_err err = verify_jwt(a, token, &p, &until, ei);
    if (err != PACS_OK) {
        return err;
    }
    pthread_mutex_lock(&a->seen_mu);
    memcpy(e->hash, h, sizeof h);
    e->until = until;
    e->p = p;
    pthread_mutex_unlock(&a->seen_mu);
    *out = p;
    return PACS_OK;
}

/* An API key, compared against every configured hash in constant time. */
static int check_api_key(pacs_auth *a, const char *key, pacs_principal *out)
{
    unsigned char h[SHA256_DIGEST_LENGTH];
    size_t found = SIZE_MAX;
    SHA256((const unsigned char *)key, strlen(key), h);
    for (size_t i = 0; i < a->n_api; i++) {
        int eq = CRYPTO_memcmp(h, a->api[i].hash, sizeof h) == 0;
        found = eq ? i : found;
    }
    if (found == SIZE_MAX) {
        return 0;
    }
    memset(out, 0, sizeof *out);
    out->kind = PACS_PRINCIPAL_API_KEY;
    out->scopes = a->api[found].scopes;
    copy_printable(out->name, sizeof out->name, "key:", a->api[found].name);
    return 1;
}

static int share_shaped(const char *t)
{
    return strlen(t) == PACS_SHARE_TOKEN_LEN &&
           strspn(t, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_") ==
               PACS_SHARE_TOKEN_LEN;
}

/* A share token, of a study or (with room for its subject in `in`) of a patient. */
static pacs_err check_share(pacs_auth *a, const pacs_auth_request *in, const char *token,
                            pacs_principal *out, pacs_errinfo *ei)
{
    char study[PACS_SHARE_UID_CAP], id[PACS_SHARE_ID_LEN + 1];
    pacs_err err;
    memset(out, 0, sizeof *out);
    if (in->subject && in->subject_cap > PACS_SHARE_SUBJECT_MAX) {
        err =
            pacs_shares_check_subject(a->shares, token, in->subject, in->subject_cap, NULL, id, ei);
        if (err) {
            return err;
        }
        if (pacs_share_scope_is_patient(in->subject)) {
            out->scope = in->subject;
        } else if (strlen(in->subject) < sizeof out->study) {
            memcpy(out->study, in->subject, strlen(in->subject) + 1);
        } else {
            return pacs_errf(ei, PACS_EDENIED, "unknown, expired or revoked token");
        }
    } else {
        err = pacs_shares_check_id(a->shares, token, study, NULL, id, ei);
        if (err) {
            return err;
        }
        memcpy(out->study, study, sizeof study);
    }
    out->kind = PACS_PRINCIPAL_SHARE;
    out->scopes = PACS_SCOPE_READ;
    snprintf(out->name, sizeof out->name, "share:%s", id);
    return PACS_OK;
}

/* A bearer credential of any kind. */
static pacs_err check_bearer(pacs_auth *a, const pacs_auth_request *in, const char *t,
                             pacs_principal *out, pacs_errinfo *ei)
{
    size_t n = strlen(t);
    if (n == 0 || n > MAX_TOKEN) {
        return pacs_errf(ei, PACS_EDENIED, "empty or oversized bearer token");
    }
    const char *dot = strchr(t, '.');
    if (dot && strchr(dot + 1, '.')) {
        return check_jwt(a, t, out, ei);
    }
    if (share_shaped(t)) {
        pacs_err err = check_share(a, in, t, out, ei);
        if (err != PACS_EDENIED) {
            return err;
        }
    }
    if (check_api_key(a, t, out)) {
        return PACS_OK;
    }
    return pacs_errf(ei, PACS_EDENIED, "unknown, expired or revoked token");
}

/* The value of cookie `name` in a Cookie header, copied into `buf`; NULL when absent. */
static const char *cookie_value(const char *header, const char *name, char *buf, size_t cap)
{
    size_t nl = strlen(name);
    const char *p = header;
    while (p && *p) {
        while (*p == ' ' || *p == ';') {
            p++;
        }
        const char *end = strchr(p, ';');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (len > nl && strncmp(p, name, nl) == 0 && p[nl] == '=') {
            size_t vl = len - nl - 1;
            if (vl >= cap) {
                return NULL;
            }
            memcpy(buf, p + nl + 1, vl);
            buf[vl] = '\0';
            return buf;
        }
        p = end;
    }
    return NULL;
}

const char *pacs_auth_session_of(const char *cookie_header, char *buf, size_t cap)
{
    return cookie_header ? cookie_value(cookie_header, PACS_SESSION_COOKIE, buf, cap) : NULL;
}

/* A login session's cookie: PACS_OK with its principal, else PACS_EDENIED and `*why` (for the
 * log) when one was there but does not count. */
static pacs_err check_session(pacs_auth *a, const pacs_auth_request *in, pacs_principal *out,
                              const char **why)
{
    char id[PACS_SESSION_ID_LEN + 2], user[PACS_SESSION_USER_CAP];
    unsigned scopes = 0;
    int due = 0;
    const char *c = pacs_auth_session_of(in->cookie, id, sizeof id);
    if (!c) {
        return PACS_EDENIED;
    }
    if (!in->safe_method && !pacs_auth_same_origin(in)) {
        *why = "a session cookie on a cross-site request (Origin/Referer is not this server)";
        return PACS_EDENIED;
    }
    if (!pacs_sessions_check(a->sessions, c, (int64_t)time(NULL), user, &scopes, &due)) {
        *why = "unknown, expired or ended session";
        return PACS_EDENIED;
    }
    memset(out, 0, sizeof *out);
    out->kind = PACS_PRINCIPAL_SESSION;
    out->scopes = scopes;
    out->recheck = due;
    copy_printable(out->name, sizeof out->name, "user:", user);
    return PACS_OK;
}

pacs_err pacs_auth_check(pacs_auth *a, const pacs_auth_request *in, pacs_principal *out,
                         int *presented, pacs_errinfo *ei)
{
    pacs_principal p;
    pacs_err err;
    if (presented) {
        *presented = 0;
    }
    if (in->authorization) {
        const char *v = in->authorization;
        if (presented) {
            *presented = 1;
        }
        if (strncasecmp(v, "Bearer ", 7) != 0) {
            return pacs_errf(ei, PACS_EDENIED, "Authorization is not a Bearer token");
        }
        v += 7;
        while (*v == ' ') {
            v++;
        }
        err = check_bearer(a, in, v, &p, ei);
    } else if (in->query_token && in->safe_method) {
        if (presented) {
            *presented = 1;
        }
        err = share_shaped(in->query_token)
                  ? check_share(a, in, in->query_token, &p, ei)
                  : pacs_errf(ei, PACS_EDENIED, "the token parameter is not a share token");
        if (err == PACS_EDENIED) {
            err = pacs_errf(ei, PACS_EDENIED, "unknown, expired or revoked token");
        }
    } else {
        char buf[PACS_SHARE_TOKEN_LEN + 2];
        const char *why = "credentials required";
        err = check_session(a, in, &p, &why);
        if (err == PACS_EDENIED) {
            const char *c = in->cookie && in->safe_method
                                ? cookie_value(in->cookie, PACS_AUTH_COOKIE, buf, sizeof buf)
                                : NULL;
            err = c && share_shaped(c) ? check_share(a, in, c, &p, ei) : PACS_EDENIED;
        }
        if (err == PACS_EDENIED) {
            /* No credential, or a stale cookie: anonymous, if that is allowed. */
            if (a->required) {
                return pacs_errf(ei, PACS_EDENIED, "%s", why);
            }
            memset(&p, 0, sizeof p);
            p.kind = PACS_PRINCIPAL_ANONYMOUS;
            p.scopes = PACS_SCOPE_READ | PACS_SCOPE_WRITE | PACS_SCOPE_DELETE;
            err = PACS_OK;
        }
    }
    if (err == PACS_OK) {
        *out = p;
    }
    return err;
}

/* ---- cookies (the study limits: auth_limit.c) ---- */

pacs_err pacs_auth_cookie(const char *token, int64_t expires_at, int secure, char *buf, size_t cap,
                          pacs_errinfo *ei)
{
    int64_t age = expires_at - (int64_t)time(NULL);
    if (!token || !share_shaped(token)) {
        return pacs_errf(ei, PACS_EINVAL, "not a share token");
    }
    if (age < 0) {
        age = 0;
    }
    int n = snprintf(buf, cap, "%s=%s; Path=/; Max-Age=%lld; HttpOnly; SameSite=Strict%s",
                     PACS_AUTH_COOKIE, token, (long long)age, secure ? "; Secure" : "");
    if (n < 0 || (size_t)n >= cap) {
        return pacs_errf(ei, PACS_EINVAL, "cookie buffer too small");
    }
    return PACS_OK;
}

const char *pacs_auth_cookie_clear(void)
{
    return PACS_AUTH_COOKIE "=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict";
}

pacs_err pacs_auth_session_cookie(const char *id, unsigned max_age, int secure, char *buf,
                                  size_t cap, pacs_errinfo *ei)
{
    int n = snprintf(buf, cap, "%s=%s; Path=/; Max-Age=%u; HttpOnly; SameSite=Strict%s",
                     PACS_SESSION_COOKIE, id, max_age, secure ? "; Secure" : "");
    if (n < 0 || (size_t)n >= cap) {
        return pacs_errf(ei, PACS_EINVAL, "cookie buffer too small");
    }
    return PACS_OK;
}

const char *pacs_auth_session_cookie_clear(void)
{
    return PACS_SESSION_COOKIE "=; Path=/; Max-Age=0; HttpOnly; SameSite=Strict";
}
