// SPDX-License-Identifier: MIT
/*
 * Media type and Accept parsing (media.h). A hand-written tokenizer: the grammar is small, and
 * no Debian library parses HTTP media ranges apart from a whole HTTP stack. Thread-safe.
 */
#include "http/media.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

static int is_tchar(int c)
{
    return isalnum(c) || (c && strchr("!#$%&'*+-.^_`|~", c));
}

static void skip_ows(const char **p, const char *end)
{
    while (*p < end && (**p == ' ' || **p == '\t')) {
        (*p)++;
    }
}

/* A token into `dst` (lower case when `lower`); returns its length, 0 when none. */
static size_t take_token(const char **p, const char *end, char *dst, size_t cap, int lower)
{
    size_t n = 0;
    while (*p < end && is_tchar((unsigned char)**p)) {
        if (n + 1 < cap) {
            dst[n] = lower ? (char)tolower((unsigned char)**p) : **p;
        }
        n++;
        (*p)++;
    }
    if (cap) {
        dst[n < cap ? n : cap - 1] = '\0';
    }
    return n;
}

/* A token or quoted-string value; returns -1 when malformed, else its length. */
static long take_value(const char **p, const char *end, char *dst, size_t cap)
{
    if (*p < end && **p == '"') {
        (*p)++;
        size_t n = 0;
        while (*p < end && **p != '"') {
            if (**p == '\\' && *p + 1 < end) {
                (*p)++;
            }
            unsigned char c = (unsigned char)**p;
            if (c < 0x20 && c != '\t') {
                return -1;
            }
            if (n + 1 < cap) {
                dst[n] = (char)c;
            }
            n++;
            (*p)++;
        }
        if (*p >= end) {
            return -1;
        }
        (*p)++;
        dst[n < cap ? n : cap - 1] = '\0';
        return (long)n;
    }
    /* Unquoted values may hold '/': clients send type=application/dicom without quotes. */
    size_t n = 0;
    while (*p < end && (is_tchar((unsigned char)**p) || **p == '/')) {
        if (n + 1 < cap) {
            dst[n] = **p;
        }
        n++;
        (*p)++;
    }
    if (cap) {
        dst[n < cap ? n : cap - 1] = '\0';
    }
    return n ? (long)n : -1;
}

static pacs_err set_param(pacs_media *m, const char *name, const char *value, size_t vlen,
                          pacs_errinfo *ei)
{
    char *dst = NULL;
    size_t cap = 0;
    int lower = 0;
    if (strcmp(name, "type") == 0) {
        dst = m->related;
        cap = sizeof m->related;
        lower = 1;
    } else if (strcmp(name, "transfer-syntax") == 0) {
        dst = m->ts;
        cap = sizeof m->ts;
    } else if (strcmp(name, "boundary") == 0) {
        /* `value` holds at most the longest boundary taken; `vlen` is the whole value's. */
        pacs_err err = pacs_multipart_boundary_check(value, vlen, ei);
        if (err != PACS_OK) {
            return err;
        }
        dst = m->boundary;
        cap = sizeof m->boundary;
    } else if (strcmp(name, "charset") == 0) {
        dst = m->charset;
        cap = sizeof m->charset;
        lower = 1;
    } else if (strcmp(name, "q") == 0) {
        /* qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ) */
        int q = 0;
        if (vlen < 1 || (value[0] != '0' && value[0] != '1') || (vlen > 1 && value[1] != '.') ||
            vlen > 5) {
            return pacs_errf(ei, PACS_EINVAL, "bad weight q=%s", value);
        }
        q = (value[0] - '0') * 1000;
        int scale = 100;
        for (size_t i = 2; i < vlen; i++, scale /= 10) {
            if (!isdigit((unsigned char)value[i])) {
                return pacs_errf(ei, PACS_EINVAL, "bad weight q=%s", value);
            }
            q += (value[i] - '0') * scale;
        }
        if (q > 1000) {
            return pacs_errf(ei, PACS_EINVAL, "bad weight q=%s", value);
        }
        m->q = q;
        return PACS_OK;
    } else {
        return PACS_OK; /* other parameters do not change what we send */
    }
    if (vlen >= cap) {
        return pacs_errf(ei, PACS_EINVAL, "media type parameter %s is too long", name);
    }
    for (size_t i = 0; i < vlen; i++) {
        dst[i] = lower ? (char)tolower((unsigned char)value[i]) : value[i];
    }
    dst[vlen] = '\0';
    return PACS_OK;
}

/* Parses one media type starting at *p and stops at ',' or the end. */
static pacs_err parse_one(const char **p, const char *end, pacs_media *m, pacs_errinfo *ei)
{
    memset(m, 0, sizeof *m);
    m->q = 1000;
    skip_ows(p, end);
    char type[40], sub[40];
    size_t tn = take_token(p, end, type, sizeof type, 1);
    if (tn == 0 || tn >= sizeof type || *p >= end || **p != '/') {
        return pacs_errf(ei, PACS_EINVAL, "malformed media type");
    }
    (*p)++;
    size_t sn = take_token(p, end, sub, sizeof sub, 1);
    if (sn == 0 || sn >= sizeof sub || (strcmp(type, "*") == 0 && strcmp(sub, "*") != 0)) {
        return pacs_errf(ei, PACS_EINVAL, "malformed media type");
    }
    snprintf(m->type, sizeof m->type, "%s/%s", type, sub);
    for (;;) {
        skip_ows(p, end);
        if (*p >= end || **p == ',') {
            return PACS_OK;
        }
        if (**p != ';') {
            return pacs_errf(ei, PACS_EINVAL, "malformed media type parameters");
        }
        (*p)++;
        skip_ows(p, end);
        if (*p >= end || **p == ',') {
            return PACS_OK; /* a trailing ';' is tolerated */
        }
        /* Room for the longest boundary; set_param refuses longer values by their length. */
        char name[32], value[PACS_MULTIPART_BOUNDARY_MAX + 2];
        size_t nn = take_token(p, end, name, sizeof name, 1);
        skip_ows(p, end);
        if (nn == 0 || *p >= end || **p != '=') {
            return pacs_errf(ei, PACS_EINVAL, "malformed media type parameter");
        }
        (*p)++;
        skip_ows(p, end);
        long vn = take_value(p, end, value, sizeof value);
        if (vn < 0) {
            return pacs_errf(ei, PACS_EINVAL, "malformed media type parameter %s", name);
        }
        if (nn < sizeof name) {
            pacs_err err = set_param(m, name, value, (size_t)vn, ei);
            if (err != PACS_OK) {
                return err;
            }
        }
    }
}

pacs_err pacs_media_parse(const char *text, size_t len, pacs_media *out, pacs_errinfo *ei)
{
    const char *p = text, *end = text + len;
    pacs_media m;
    pacs_err err = parse_one(&p, end, &m, ei);
    if (err != PACS_OK) {
        return err;
    }
    skip_ows(&p, end);
    if (p != end) {
        return pacs_errf(ei, PACS_EINVAL, "malformed media type");
    }
    *out = m;
    return PACS_OK;
}

pacs_err pacs_media_accept_parse(const char *header, pacs_media *out, size_t cap, size_t *n,
                                 pacs_errinfo *ei)
{
    size_t count = 0;
    const char *p = header ? header : "", *end = p + strlen(p);
    skip_ows(&p, end);
    if (p == end) {
        if (cap == 0) {
            return pacs_errf(ei, PACS_EINVAL, "no room for media ranges");
        }
        memset(&out[0], 0, sizeof out[0]);
        snprintf(out[0].type, sizeof out[0].type, "*/*");
        out[0].q = 1000;
        *n = 1;
        return PACS_OK;
    }
    while (p < end) {
        skip_ows(&p, end);
        if (p < end && *p == ',') {
            p++; /* empty list elements are allowed (RFC 9110 5.6.1) */
            continue;
        }
        if (p >= end) {
            break;
        }
        pacs_media m;
        pacs_err err = parse_one(&p, end, &m, ei);
        if (err != PACS_OK) {
            return err;
        }
        if (m.q > 0) {
            if (count == cap) {
                return pacs_errf(ei, PACS_EINVAL, "too many media ranges in Accept");
            }
            /* Insertion keeps equal weights in the order given. */
            size_t i = count;
            while (i > 0 && out[i - 1].q < m.q) {
                out[i] = out[i - 1];
                i--;
            }
            out[i] = m;
            count++;
        }
        if (p < end) {
            p++; /* the ',' */
        }
    }
    if (count == 0) {
        return pacs_errf(ei, PACS_EINVAL, "Accept lists nothing acceptable");
    }
    *n = count;
    return PACS_OK;
}

int pacs_media_covers(const pacs_media *m, const char *type)
{
    if (strcmp(m->type, "*/*") == 0 || strcmp(m->type, type) == 0) {
        return 1;
    }
    size_t tl = strlen(m->type);
    return tl > 2 && strcmp(m->type + tl - 2, "/*") == 0 && strncmp(m->type, type, tl - 1) == 0;
}
