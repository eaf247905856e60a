// SPDX-License-Identifier: MIT
/*
 * Incremental multipart parser (multipart.h). The delimiter is "\r\n--" + boundary; the body
 * scan uses memmem over each pushed piece and keeps in `hold` only the bytes at the end of a
 * piece that could begin a delimiter. The preamble is scanned the same way with a virtual
 * "\r\n" in front, so a body that opens with "--boundary" needs no special case. No Debian
 * package offers a streaming multipart/related parser as a C library, hence this one; it has
 * table tests and a libFuzzer target. Not thread-safe (one parser per request).
 */
#include "http/multipart.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

typedef enum state {
    S_PREAMBLE,
    S_AFTER_DELIM, /* just past a delimiter: "--" closes, else padding then CRLF */
    S_AFTER_DASH,  /* one '-' seen */
    S_PAD,         /* transport padding, waiting for CR */
    S_CR,          /* CR seen, waiting for LF */
    S_HEADERS,
    S_BODY,
    S_EPILOGUE,
    S_ERROR
} state;

struct pacs_multipart {
    pacs_multipart_cbs cbs;
    void *ctx;
    state st;
    char delim[PACS_MULTIPART_BOUNDARY_MAX + 4];
    size_t dl;
    char hold[PACS_MULTIPART_BOUNDARY_MAX + 4];
    size_t hold_len;
    char hdr[PACS_MULTIPART_HEADER_MAX + 1];
    size_t hdr_len;
    unsigned parts;
    int in_part;
};

pacs_err pacs_multipart_boundary_check(const char *boundary, size_t len, pacs_errinfo *ei)
{
    if (len == 0) {
        return pacs_errf(ei, PACS_EINVAL, "the multipart boundary is empty");
    }
    if (len > PACS_MULTIPART_BOUNDARY_MAX) {
        return pacs_errf(ei, PACS_EINVAL,
                         "the multipart boundary has %zu characters: RFC 2046 allows %d, and this "
                         "server takes up to %d",
                         len, PACS_MULTIPART_RFC_BOUNDARY_MAX, PACS_MULTIPART_BOUNDARY_MAX);
    }
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)boundary[i];
        if (c < 0x20 || c > 0x7E) {
            return pacs_errf(ei, PACS_EINVAL,
                             "the multipart boundary holds byte 0x%02X at %zu: RFC 2046 allows "
                             "printable ASCII only",
                             c, i + 1);
        }
    }
    if (boundary[len - 1] == ' ') {
        return pacs_errf(ei, PACS_EINVAL,
                         "the multipart boundary ends with a space, which RFC 2046 forbids");
    }
    return PACS_OK;
}

pacs_err pacs_multipart_new(const char *boundary, const pacs_multipart_cbs *cbs, void *ctx,
                            pacs_multipart **out, pacs_errinfo *ei)
{
    size_t bl = boundary ? strlen(boundary) : 0;
    pacs_err err = pacs_multipart_boundary_check(boundary, bl, ei);
    if (err != PACS_OK) {
        return err;
    }
    pacs_multipart *mp = calloc(1, sizeof *mp);
    if (!mp) {
        return pacs_errf(ei, PACS_ENOMEM, "out of memory");
    }
    mp->cbs = *cbs;
    mp->ctx = ctx;
    memcpy(mp->delim, "\r\n--", 4);
    memcpy(mp->delim + 4, boundary, bl);
    mp->dl = bl + 4;
    memcpy(mp->hold, "\r\n", 2);
    mp->hold_len = 2;
    mp->st = S_PREAMBLE;
    *out = mp;
    return PACS_OK;
}

void pacs_multipart_free(pacs_multipart *mp)
{
    free(mp);
}

int pacs_multipart_in_part(const pacs_multipart *mp)
{
    return mp->in_part;
}

unsigned pacs_multipart_parts(const pacs_multipart *mp)
{
    return mp->parts;
}

static pacs_err fail(pacs_multipart *mp, pacs_errinfo *ei, const char *msg)
{
    mp->st = S_ERROR;
    return pacs_errf(ei, PACS_EBADDATA, "malformed multipart body: %s", msg);
}

static pacs_err canceled(pacs_multipart *mp, pacs_errinfo *ei)
{
    mp->st = S_ERROR;
    return pacs_errf(ei, PACS_ECANCELED, "multipart parse stopped");
}

/* Hands body bytes on (the preamble's are dropped). */
static int emit(pacs_multipart *mp, const char *data, size_t len)
{
    if (mp->st != S_BODY || len == 0) {
        return 0;
    }
    return mp->cbs.data(mp->ctx, data, len);
}

/*
 * Scans for the delimiter. Returns the bytes consumed; sets *found when a whole delimiter was
 * consumed (the bytes before it were emitted). Returns (size_t)-1 when a callback stopped.
 */
static size_t scan(pacs_multipart *mp, const char *data, size_t len, int *found)
{
    *found = 0;
    size_t i = 0;
    while (i < len) {
        if (mp->hold_len > 0) {
            size_t need = mp->dl - mp->hold_len;
            size_t m = need < len - i ? need : len - i;
            if (memcmp(data + i, mp->delim + mp->hold_len, m) == 0) {
                i += m;
                if (m == need) {
                    mp->hold_len = 0;
                    *found = 1;
                    return i;
                }
                memcpy(mp->hold + mp->hold_len, data + i - m, m);
                mp->hold_len += m;
                return i;
            }
            /* Not a delimiter after all: release the held bytes that cannot start one. */
            size_t k = 1;
            while (k < mp->hold_len && memcmp(mp->hold + k, mp->delim, mp->hold_len - k) != 0) {
                k++;
            }
            if (emit(mp, mp->hold, k)) {
                return (size_t)-1;
            }
            memmove(mp->hold, mp->hold + k, mp->hold_len - k);
            mp->hold_len -= k;
            continue;
        }
        const char *p = memmem(data + i, len - i, mp->delim, mp->dl);
        if (p) {
            size_t at = (size_t)(p - data);
            if (emit(mp, data + i, at - i)) {
                return (size_t)-1;
            }
            *found = 1;
            return at + mp->dl;
        }
        /* Keep the longest tail that could begin a delimiter. */
        size_t s = len - i > mp->dl - 1 ? len - (mp->dl - 1) : i;
        while (s < len && !(data[s] == '\r' && memcmp(data + s, mp->delim, len - s) == 0)) {
            s++;
        }
        if (emit(mp, data + i, s - i)) {
            return (size_t)-1;
        }
        memcpy(mp->hold, data + s, len - s);
        mp->hold_len = len - s;
        i = len;
    }
    return i;
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t') {
        s++;
    }
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t')) {
        s[--n] = '\0';
    }
    return s;
}

/* Parses the collected header block (ending in CRLF CRLF, or just CRLF) and begins a part. */
static pacs_err begin_part(pacs_multipart *mp, pacs_errinfo *ei)
{
    pacs_multipart_part part = {"", "", "", mp->parts};
    mp->hdr[mp->hdr_len] = '\0';
    char *line = mp->hdr;
    while (*line) {
        char *eol = strstr(line, "\r\n");
        if (!eol) {
            return fail(mp, ei, "part header without CRLF");
        }
        *eol = '\0';
        if (*line) {
            char *colon = strchr(line, ':');
            if (!colon || colon == line) {
                return fail(mp, ei, "part header line without a name");
            }
            *colon = '\0';
            for (char *c = line; *c; c++) {
                if (!isgraph((unsigned char)*c)) {
                    return fail(mp, ei, "bad character in a part header name");
                }
            }
            char *value = trim(colon + 1);
            if (strcasecmp(line, "Content-Type") == 0) {
                part.content_type = value;
            } else if (strcasecmp(line, "Content-Location") == 0) {
                part.content_location = value;
            } else if (strcasecmp(line, "Content-Transfer-Encoding") == 0) {
                part.content_transfer_encoding = value;
            }
        }
        line = eol + 2;
    }
    mp->parts++;
    mp->in_part = 1;
    mp->st = S_BODY;
    if (mp->cbs.begin(mp->ctx, &part)) {
        return canceled(mp, ei);
    }
    return PACS_OK;
}

pacs_err pacs_multipart_feed(pacs_multipart *mp, const char *data, size_t len, pacs_errinfo *ei)
{
    size_t i = 0;
    while (i < len) {
        switch (mp->st) {
        case S_PREAMBLE:
        case S_BODY: {
            int found = 0;
            size_t used = scan(mp, data + i, len - i, &found);
            if (used == (size_t)-1) {
                return canceled(mp, ei);
            }
            i += used;
            if (found) {
                if (mp->st == S_BODY) {
                    mp->in_part = 0;
                    if (mp->cbs.end(mp->ctx)) {
                        return canceled(mp, ei);
                    }
                }
                mp->st = S_AFTER_DELIM;
            }
            break;
        }
        case S_AFTER_DELIM: {
            char c = data[i++];
            if (c == '-') {
                mp->st = S_AFTER_DASH;
            } else if (c == ' ' || c == '\t') {
                mp->st = S_PAD;
            } else if (c == '\r') {
                mp->st = S_CR;
            } else {
                return fail(mp, ei, "boundary not followed by CRLF");
            }
            break;
        }
        case S_AFTER_DASH:
            if (data[i++] != '-') {
                return fail(mp, ei, "boundary not followed by CRLF");
            }
            mp->st = S_EPILOGUE;
            break;
        case S_PAD: {
            char c = data[i++];
            if (c == '\r') {
                mp->st = S_CR;
            } else if (c != ' ' && c != '\t') {
                return fail(mp, ei, "boundary not followed by CRLF");
            }
            break;
        }
        case S_CR:
            if (data[i++] != '\n') {
                return fail(mp, ei, "boundary not followed by CRLF");
            }
            mp->st = S_HEADERS;
            mp->hdr_len = 0;
            break;
        case S_HEADERS: {
            if (mp->hdr_len == PACS_MULTIPART_HEADER_MAX) {
                return fail(mp, ei, "part headers too long");
            }
            mp->hdr[mp->hdr_len++] = data[i++];
            size_t n = mp->hdr_len;
            if ((n == 2 && memcmp(mp->hdr, "\r\n", 2) == 0) ||
                (n >= 4 && memcmp(mp->hdr + n - 4, "\r\n\r\n", 4) == 0)) {
                mp->hdr_len -= 2; /* keep one CRLF after the last header line */
                if (mp->hdr_len == 0) {
                    mp->hdr[0] = '\0';
                }
                pacs_err err = begin_part(mp, ei);
                if (err != PACS_OK) {
                    return err;
                }
            }
            break;
        }
        case S_EPILOGUE:
            return PACS_OK;
        case S_ERROR:
        default:
            return pacs_errf(ei, PACS_EBADDATA, "malformed multipart body");
        }
    }
    return PACS_OK;
}

pacs_err pacs_multipart_finish(pacs_multipart *mp, pacs_errinfo *ei)
{
    if (mp->st == S_EPILOGUE) {
        return PACS_OK;
    }
    if (mp->st == S_ERROR) {
        return pacs_errf(ei, PACS_EBADDATA, "malformed multipart body");
    }
    int never = mp->st == S_PREAMBLE;
    mp->st = S_ERROR;
    if (never) {
        /* The delimiter is CRLF "--" boundary: say which line was looked for. */
        return pacs_errf(ei, PACS_EBADDATA,
                         "the multipart body never holds a line '--%.*s' (the boundary its "
                         "Content-Type names)",
                         (int)(mp->dl - 4 > 120 ? 120 : mp->dl - 4), mp->delim + 4);
    }
    return pacs_errf(ei, PACS_EBADDATA, "multipart body ended before its closing boundary");
}
