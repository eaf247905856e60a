// SPDX-License-Identifier: MIT
/* base64url (b64url.h) on OpenSSL's EVP_EncodeBlock/EVP_DecodeBlock. */
#include "pacs/base/b64url.h"

#include <openssl/evp.h>
#include <stdlib.h>

size_t pacs_b64url_encode(const unsigned char *in, size_t n, char *out)
{
    /* EVP_EncodeBlock writes 4*ceil(n/3) characters and a NUL, padded with '='. */
    int len = EVP_EncodeBlock((unsigned char *)out, in, (int)n);
    size_t o = len > 0 ? (size_t)len : 0;
    while (o > 0 && out[o - 1] == '=') {
        o--;
    }
    out[o] = '\0';
    for (size_t i = 0; i < o; i++) {
        if (out[i] == '+') {
            out[i] = '-';
        } else if (out[i] == '/') {
            out[i] = '_';
        }
    }
    return o;
}

unsigned char *pacs_b64url_decode(const char *in, size_t len, size_t *n)
{
    if (len == 0 || len > 4 * 4096 || len % 4 == 1) {
        return NULL;
    }
    size_t padded = (len + 3) / 4 * 4;
    char *tmp = malloc(padded + 1);
    unsigned char *out = malloc(padded / 4 * 3 + 1);
    if (!tmp || !out) {
        free(tmp);
        free(out);
        return NULL;
    }
    for (size_t i = 0; i < len; i++) {
        char c = in[i];
        if (c == '-') {
            c = '+';
        } else if (c == '_') {
            c = '/';
        } else if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) {
            free(tmp);
            free(out);
            return NULL;
        }
        tmp[i] = c;
    }
    for (size_t i = len; i < padded; i++) {
        tmp[i] = '=';
    }
    tmp[padded] = '\0';
    int got = EVP_DecodeBlock(out, (const unsigned char *)tmp, (int)padded);
    free(tmp);
    if (got < 0) {
        free(out);
        return NULL;
    }
    *n = (size_t)got - (padded - len); /* EVP_DecodeBlock counts the padding as zero bytes */
    return out;
}
