// SPDX-License-Identifier: MIT
/* Name folding on utf8proc (see fold.h). */
#include "storage/fold.h"

#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

char *pacs_fold_case(const char *utf8)
{
    utf8proc_uint8_t *out = NULL;
    utf8proc_ssize_t n =
        utf8proc_map((const utf8proc_uint8_t *)utf8, 0, &out,
                     UTF8PROC_NULLTERM | UTF8PROC_STABLE | UTF8PROC_COMPOSE | UTF8PROC_CASEFOLD);
    if (n < 0) {
        return NULL;
    }
    return (char *)out;
}

char *pacs_fold_name(const char *utf8)
{
    utf8proc_uint8_t *mapped = NULL;
    utf8proc_ssize_t n = utf8proc_map((const utf8proc_uint8_t *)utf8, 0, &mapped,
                                      UTF8PROC_NULLTERM | UTF8PROC_STABLE | UTF8PROC_DECOMPOSE |
                                          UTF8PROC_STRIPMARK | UTF8PROC_CASEFOLD);
    if (n < 0) {
        return NULL;
    }
    /* The result is never longer than the input: đ (2 bytes) becomes d (1). */
    char *out = malloc((size_t)n + 1);
    if (!out) {
        free(mapped);
        return NULL;
    }
    size_t o = 0;
    int space = 1; /* drop leading blanks */
    for (utf8proc_ssize_t i = 0; i < n;) {
        unsigned char c = mapped[i];
        if (c == 0xC4 && i + 1 < n && mapped[i + 1] == 0x91) { /* U+0111 đ */
            out[o++] = 'd';
            space = 0;
            i += 2;
            continue;
        }
        if (c == '^' || c == '=' || c == ' ' || c == '\t') {
            if (!space) {
                out[o++] = ' ';
                space = 1;
            }
            i++;
            continue;
        }
        out[o++] = (char)c;
        space = 0;
        i++;
    }
    while (o > 0 && out[o - 1] == ' ') {
        o--;
    }
    out[o] = '\0';
    free(mapped);
    return out;
}

char *pacs_fold_ascii_upper(const char *utf8)
{
    utf8proc_uint8_t *mapped = NULL;
    utf8proc_ssize_t n =
        utf8proc_map((const utf8proc_uint8_t *)utf8, 0, &mapped,
                     UTF8PROC_NULLTERM | UTF8PROC_STABLE | UTF8PROC_DECOMPOSE | UTF8PROC_STRIPMARK);
    if (n < 0) {
        return NULL;
    }
    /* Never longer than the mapped text: a character of 2 to 4 bytes becomes one. */
    char *out = malloc((size_t)n + 1);
    if (!out) {
        free(mapped);
        return NULL;
    }
    size_t o = 0;
    for (utf8proc_ssize_t i = 0; i < n;) {
        utf8proc_int32_t cp = 0;
        utf8proc_ssize_t k = utf8proc_iterate(mapped + i, n - i, &cp);
        if (k <= 0) {
            free(mapped);
            free(out);
            return NULL;
        }
        if (cp == 0x0110 || cp == 0x0111) { /* Đ đ: a letter of its own, not D plus a mark */
            out[o++] = 'D';
        } else if (cp < 0x80) {
            out[o++] = (char)(cp >= 'a' && cp <= 'z' ? cp - 'a' + 'A' : cp);
        } else {
            out[o++] = '?';
        }
        i += k;
    }
    out[o] = '\0';
    free(mapped);
    return out;
}

int pacs_is_ascii(const char *s)
{
    for (; *s; s++) {
        if ((unsigned char)*s >= 0x80) {
            return 0;
        }
    }
    return 1;
}
