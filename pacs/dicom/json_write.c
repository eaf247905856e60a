// SPDX-License-Identifier: MIT
/* DICOM JSON as text (json_write.h), byte for byte what jansson's json_dumps writes with
 * PACS_JSON_DUMP_FLAGS | JSON_SORT_KEYS (test_json_write compares the two). */
#include "pacs/dicom/json_write.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pacs/dicom/dcm.h"

/* The length of the run at `s` that needs no escape: eight bytes at a time while none of them
 * is a control character, '"' or '\\' (the "has a byte less than" bit trick). */
static size_t plain_run(const char *s, size_t n)
{
    const uint64_t ones = 0x0101010101010101ull, highs = 0x8080808080808080ull;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        uint64_t w, q, bs;
        memcpy(&w, s + i, 8);
        q = w ^ (ones * '"');
        bs = w ^ (ones * '\\');
        if ((((w - ones * 0x20) & ~w) | ((q - ones) & ~q) | ((bs - ones) & ~bs)) & highs) {
            break;
        }
    }
    for (; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 || c == '"' || c == '\\') {
            break;
        }
    }
    return i;
}

pacs_err pacs_json_write_string(pacs_buf *b, const char *s, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    pacs_err err = pacs_buf_reserve(b, n + 2);
    if (err != PACS_OK) {
        return err;
    }
    char *o = b->data + b->len;
    *o++ = '"';
    for (size_t i = 0; i < n; i++) {
        size_t run = plain_run(s + i, n - i);
        memcpy(o, s + i, run);
        o += run;
        i += run;
        if (i == n) {
            break;
        }
        unsigned char c = (unsigned char)s[i];
        /* An escape takes up to 6 bytes for one: room for it, the rest and the quote. */
        b->len = (size_t)(o - b->data);
        err = pacs_buf_reserve(b, n - i + 6);
        if (err != PACS_OK) {
            return err;
        }
        o = b->data + b->len;
        *o++ = '\\';
        switch (c) {
        case '"':
        case '\\':
            *o++ = (char)c;
            break;
        case '\b':
            *o++ = 'b';
            break;
        case '\f':
            *o++ = 'f';
            break;
        case '\n':
            *o++ = 'n';
            break;
        case '\r':
            *o++ = 'r';
            break;
        case '\t':
            *o++ = 't';
            break;
        default:
            memcpy(o, "u00", 3);
            o[3] = hex[c >> 4];
            o[4] = hex[c & 0xF];
            o += 5;
        }
    }
    *o++ = '"';
    *o = '\0';
    b->len = (size_t)(o - b->data);
    return PACS_OK;
}

typedef struct key_len {
    const char *key;
    size_t len;
    json_t *value;
} key_len;

/* jansson's order of keys: bytes, then length. */
static int key_cmp(const key_len *a, const key_len *b)
{
    int c = memcmp(a->key, b->key, a->len < b->len ? a->len : b->len);
    return c ? c : (a->len > b->len) - (a->len < b->len);
}

static pacs_err write_object(pacs_buf *b, const json_t *o, pacs_json_keep_fn keep, void *ctx)
{
    size_t n = json_object_size(o);
    key_len small[16];
    key_len *k = n <= 16 ? small : malloc(n * sizeof *k);
    if (!k) {
        return PACS_ENOMEM;
    }
    /* Insertion sort: the keys of DICOM JSON usually come (nearly) sorted already. */
    size_t i = 0;
    const char *key;
    json_t *value;
    json_object_foreach((json_t *)o, key, value)
    {
        if (keep && !keep(key, ctx)) {
            continue;
        }
        key_len e = {key, json_object_iter_key_len(json_object_key_to_iter(key)), value};
        size_t j = i++;
        for (; j > 0 && key_cmp(&k[j - 1], &e) > 0; j--) {
            k[j] = k[j - 1];
        }
        k[j] = e;
    }
    n = i;
    pacs_err err = pacs_buf_put(b, "{", 1);
    for (i = 0; i < n && err == PACS_OK; i++) {
        err = i ? pacs_buf_put(b, ",", 1) : PACS_OK;
        if (err == PACS_OK) {
            err = pacs_json_write_string(b, k[i].key, k[i].len);
        }
        if (err == PACS_OK) {
            err = pacs_buf_put(b, ":", 1);
        }
        if (err == PACS_OK) {
            err = pacs_json_write(b, k[i].value);
        }
    }
    if (k != small) {
        free(k);
    }
    return err == PACS_OK ? pacs_buf_put(b, "}", 1) : err;
}

/* Digit by digit: snprintf cost a thousand instructions for each. */
pacs_err pacs_json_write_integer(pacs_buf *b, long long v)
{
    char d[24];
    size_t i = sizeof d;
    unsigned long long u = v < 0 ? 0ull - (unsigned long long)v : (unsigned long long)v;
    do {
        d[--i] = (char)('0' + u % 10);
        u /= 10;
    } while (u);
    if (v < 0) {
        d[--i] = '-';
    }
    return pacs_buf_put(b, d + i, sizeof d - i);
}

/* A real as jansson writes one at precision 16: "%.16g", a '.' whatever the locale, ".0" when
 * it would read as an integer, and the exponent without '+' or leading zeros ("1e20",
 * "1e-5"). json_dumps did it with a buffer and a callback of its own for each value: 4,400
 * instructions, a fifth of a CT slice's metadata text. */
static pacs_err write_real(pacs_buf *b, double v)
{
    char t[64];
    int n = snprintf(t, sizeof t, "%.16g", v);
    if (n < 0 || (size_t)n >= sizeof t - 2) {
        return PACS_EINVAL;
    }
    size_t len = (size_t)n;
    char *comma = strchr(t, ',');
    if (comma) {
        *comma = '.';
    }
    if (!strchr(t, '.') && !strchr(t, 'e')) {
        memcpy(t + len, ".0", 3);
        len += 2;
    }
    char *e = strchr(t, 'e');
    if (e) {
        char *start = e + 1, *end = e + 2;
        if (*start == '-') {
            start++;
        }
        while (*end == '0') {
            end++;
        }
        if (end != start) {
            memmove(start, end, len + 1 - (size_t)(end - t));
            len -= (size_t)(end - start);
        }
    }
    return pacs_buf_put(b, t, len);
}

pacs_err pacs_json_write(pacs_buf *b, const json_t *v)
{
    switch (json_typeof(v)) {
    case JSON_OBJECT:
        return write_object(b, v, NULL, NULL);
    case JSON_ARRAY: {
        pacs_err err = pacs_buf_put(b, "[", 1);
        for (size_t i = 0; i < json_array_size(v) && err == PACS_OK; i++) {
            err = i ? pacs_buf_put(b, ",", 1) : PACS_OK;
            if (err == PACS_OK) {
                err = pacs_json_write(b, json_array_get(v, i));
            }
        }
        return err == PACS_OK ? pacs_buf_put(b, "]", 1) : err;
    }
    case JSON_STRING:
        return pacs_json_write_string(b, json_string_value(v), json_string_length(v));
    case JSON_INTEGER:
        return pacs_json_write_integer(b, json_integer_value(v));
    case JSON_REAL:
        return write_real(b, json_real_value(v));
    case JSON_TRUE:
        return pacs_buf_puts(b, "true");
    case JSON_FALSE:
        return pacs_buf_puts(b, "false");
    default:
        return pacs_buf_puts(b, "null");
    }
}

pacs_err pacs_json_write_members(pacs_buf *b, const json_t *o, pacs_json_keep_fn keep, void *ctx)
{
    return json_is_object(o) ? write_object(b, o, keep, ctx) : PACS_EINVAL;
}
