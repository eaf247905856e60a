// SPDX-License-Identifier: MIT
/*
 * Query-string splitting and percent-decoding (params.h). Hand-written: libmicrohttpd decodes
 * arguments itself but neither keeps their order nor reports a malformed escape, and both
 * matter here (repeated `includefield`, a 400 for garbage). Thread-safe.
 */
#include "http/params.h"

#include <openssl/crypto.h>
#include <string.h>

char *pacs_params_url_decode(pacs_arena *ar, const char *s, size_t len, int plus_space)
{
    char *out = pacs_arena_alloc(ar, len + 1);
    if (!out) {
        return NULL;
    }
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == '%') {
            if (i + 2 >= len) {
                return NULL;
            }
            int hi = OPENSSL_hexchar2int((unsigned char)s[i + 1]);
            int lo = OPENSSL_hexchar2int((unsigned char)s[i + 2]);
            if (hi < 0 || lo < 0) {
                return NULL;
            }
            c = (char)(hi * 16 + lo);
            i += 2;
        } else if (c == '+' && plus_space) {
            c = ' ';
        }
        if (c == '\0') {
            return NULL;
        }
        out[o++] = c;
    }
    out[o] = '\0';
    return out;
}

pacs_err pacs_params_parse(const char *q, size_t len, pacs_arena *ar, pacs_params *out,
                           pacs_errinfo *ei)
{
    size_t pieces = 1;
    for (size_t i = 0; i < len; i++) {
        pieces += q[i] == '&';
    }
    if (pieces > PACS_PARAMS_MAX) {
        return pacs_errf(ei, PACS_EINVAL, "more than %d query parameters", PACS_PARAMS_MAX);
    }
    pacs_param *v = pacs_arena_alloc(ar, pieces * sizeof *v);
    if (!v) {
        return pacs_errf(ei, PACS_ENOMEM, "out of memory");
    }
    size_t n = 0, start = 0;
    while (start <= len) {
        const char *amp = memchr(q + start, '&', len - start);
        size_t end = amp ? (size_t)(amp - q) : len;
        if (end > start) {
            const char *piece = q + start;
            size_t plen = end - start;
            const char *eq = memchr(piece, '=', plen);
            size_t nlen = eq ? (size_t)(eq - piece) : plen;
            char *name = pacs_params_url_decode(ar, piece, nlen, 1);
            char *value = eq ? pacs_params_url_decode(ar, eq + 1, plen - nlen - 1, 1)
                             : pacs_arena_strndup(ar, "", 0);
            if (!name || !value) {
                return pacs_errf(ei, PACS_EINVAL, "malformed %%-escape in the query string");
            }
            if (name[0] == '\0') {
                return pacs_errf(ei, PACS_EINVAL, "query parameter without a name");
            }
            v[n].name = name;
            v[n].value = value;
            n++;
        }
        start = end + 1;
    }
    out->v = v;
    out->n = n;
    return PACS_OK;
}

const char *pacs_params_get(const pacs_params *p, const char *name)
{
    for (size_t i = 0; i < p->n; i++) {
        if (strcmp(p->v[i].name, name) == 0) {
            return p->v[i].value;
        }
    }
    return NULL;
}
