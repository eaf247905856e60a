// SPDX-License-Identifier: MIT
/*
 * WADO-RS content negotiation (negotiate.h). Ranges are tried in the order
 * pacs_media_accept_parse() gives them (by weight, then as written).
 */
#include "dicomweb/negotiate.h"

#include <stdio.h>
#include <string.h>

#include "pacs/image/transcode.h"

static int is_any(const pacs_media *m)
{
    return strcmp(m->type, "*/*") == 0;
}

static int is_multipart(const pacs_media *m)
{
    return strcmp(m->type, "multipart/related") == 0 || strcmp(m->type, "multipart/*") == 0;
}

/* A media range for the `type` parameter of a multipart range (its default when absent). */
static pacs_media related_range(const pacs_media *m, const char *dflt)
{
    pacs_media rel;
    memset(&rel, 0, sizeof rel);
    snprintf(rel.type, sizeof rel.type, "%s", m->related[0] ? m->related : dflt);
    return rel;
}

/* Whether a transfer-syntax parameter admits the stored syntax; "" means the default. */
static int ts_ok(const char *want, const char *stored, const char *dflt)
{
    if (strcmp(want, "*") == 0) {
        return 1;
    }
    return strcmp(want[0] ? want : dflt, stored) == 0;
}

pacs_err pacs_negotiate_read(pacs_http_req *r, pacs_media *m, size_t *n, pacs_errinfo *ei)
{
    const char *accept = pacs_params_get(pacs_http_params(r), "accept");
    if (!accept) {
        accept = pacs_http_header(r, "Accept");
    }
    return pacs_media_accept_parse(accept, m, PACS_ACCEPT_MAX, n, ei);
}

pacs_negotiate_how pacs_negotiate_instances(const pacs_media *m, size_t n,
                                            const pacs_resolve_list *l, int single_ok)
{
    for (size_t i = 0; i < n; i++) {
        if (is_any(&m[i])) {
            return PACS_NEGOTIATE_MULTIPART; /* no preference stated: the stored bytes */
        }
        int multi = is_multipart(&m[i]);
        pacs_media rel = multi ? related_range(&m[i], "application/dicom") : m[i];
        if (!multi && !(single_ok && strcmp(m[i].type, "application/dicom") == 0)) {
            continue;
        }
        if (!pacs_media_covers(&rel, "application/dicom")) {
            continue;
        }
        int all = 1;
        for (size_t k = 0; k < l->n && all; k++) {
            all = ts_ok(m[i].ts, l->v[k].ts, PACS_TS_EXPLICIT_LE);
        }
        if (all) {
            return multi ? PACS_NEGOTIATE_MULTIPART : PACS_NEGOTIATE_SINGLE;
        }
    }
    return PACS_NEGOTIATE_NONE;
}

const char *pacs_negotiate_instance_target(const pacs_media *m, size_t n, int single_ok,
                                           pacs_negotiate_how *how)
{
    for (size_t i = 0; i < n; i++) {
        int multi = strcmp(m[i].type, "multipart/related") == 0;
        const char *inner = multi ? m[i].related : m[i].type;
        if ((multi && inner[0] && strcmp(inner, "application/dicom") != 0) ||
            (!multi && (strcmp(inner, "application/dicom") != 0 || !single_ok)) || m[i].q == 0 ||
            strcmp(m[i].ts, "*") == 0) {
            continue;
        }
        /* No transfer-syntax: application/dicom's default (PS3.18 8.7.3, Table 8.7.3-2). */
        const char *ts = m[i].ts[0] ? m[i].ts : PACS_TS_EXPLICIT_LE;
        if (pacs_image_can_transcode_to(ts)) {
            *how = multi ? PACS_NEGOTIATE_MULTIPART : PACS_NEGOTIATE_SINGLE;
            return ts;
        }
    }
    return NULL;
}

/* The image media type of an encapsulated transfer syntax (PS3.18 Table 8.7.3-5). */
static const char *ts_media(const char *ts, int *is_default)
{
    static const struct {
        const char *ts, *media;
        int dflt;
    } map[] = {
        {"1.2.840.10008.1.2.4.50", "image/jpeg", 1},  {"1.2.840.10008.1.2.4.51", "image/jpeg", 0},
        {"1.2.840.10008.1.2.4.57", "image/jpeg", 0},  {"1.2.840.10008.1.2.4.70", "image/jpeg", 0},
        {"1.2.840.10008.1.2.4.80", "image/jls", 1},   {"1.2.840.10008.1.2.4.81", "image/jls", 0},
        {"1.2.840.10008.1.2.4.90", "image/jp2", 1},   {"1.2.840.10008.1.2.4.91", "image/jp2", 0},
        {"1.2.840.10008.1.2.4.92", "image/jpx", 1},   {"1.2.840.10008.1.2.4.93", "image/jpx", 0},
        {"1.2.840.10008.1.2.4.201", "image/jphc", 1}, {"1.2.840.10008.1.2.4.202", "image/jphc", 0},
        {"1.2.840.10008.1.2.4.203", "image/jphc", 0}, {"1.2.840.10008.1.2.5", "image/dicom-rle", 1},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
        if (strcmp(map[i].ts, ts) == 0) {
            *is_default = map[i].dflt;
            return map[i].media;
        }
    }
    *is_default = 0;
    return NULL;
}

pacs_negotiate_how pacs_negotiate_pixels(const pacs_media *m, size_t n, const char *ts, int native,
                                         int one_item, char *part, size_t part_cap, char *related,
                                         size_t rel_cap)
{
    int dflt = 0;
    const char *media = native ? NULL : ts_media(ts, &dflt);
    for (size_t i = 0; i < n; i++) {
        int multi = is_multipart(&m[i]) || is_any(&m[i]);
        if (!multi && !one_item) {
            continue;
        }
        pacs_media rel = is_any(&m[i]) ? m[i]
                         : multi       ? related_range(&m[i], "application/octet-stream")
                                       : m[i];
        const char *want = is_any(&m[i]) ? "*" : m[i].ts;
        const char *chosen = NULL, *chosen_ts = ts;
        if (native) {
            if (pacs_media_covers(&rel, "application/octet-stream") &&
                ts_ok(want, PACS_TS_EXPLICIT_LE, PACS_TS_EXPLICIT_LE)) {
                chosen = "application/octet-stream";
                chosen_ts = PACS_TS_EXPLICIT_LE; /* little endian bytes, whatever was stored */
            }
        } else if (media && pacs_media_covers(&rel, media) &&
                   (strcmp(want, "*") == 0 || strcmp(want, ts) == 0 || (!want[0] && dflt))) {
            chosen = media;
        } else if (pacs_media_covers(&rel, "application/octet-stream") &&
                   (strcmp(want, "*") == 0 || strcmp(want, ts) == 0)) {
            chosen = "application/octet-stream";
        }
        if (chosen) {
            snprintf(part, part_cap, "%s; transfer-syntax=%s", chosen, chosen_ts);
            snprintf(related, rel_cap, "%s", chosen);
            return multi ? PACS_NEGOTIATE_MULTIPART : PACS_NEGOTIATE_SINGLE;
        }
    }
    return PACS_NEGOTIATE_NONE;
}

const char *pacs_negotiate_pixels_target(const pacs_media *m, size_t n, int one_item,
                                         const char **media, pacs_negotiate_how *how)
{
    static const char *const images[] = {"image/jpeg", "image/jls", "image/jp2", "image/jphc",
                                         "image/dicom-rle"};
    for (size_t i = 0; i < n; i++) {
        int multi = strcmp(m[i].type, "multipart/related") == 0;
        if (m[i].q == 0 || (!multi && !one_item)) {
            continue;
        }
        const char *inner = !multi            ? m[i].type
                            : m[i].related[0] ? m[i].related
                                              : "application/octet-stream";
        const char *ts = m[i].ts[0] && strcmp(m[i].ts, "*") != 0 ? m[i].ts : NULL;
        pacs_negotiate_how shape = multi ? PACS_NEGOTIATE_MULTIPART : PACS_NEGOTIATE_SINGLE;
        for (size_t k = 0; multi && k < sizeof images / sizeof images[0]; k++) {
            int dflt = 0;
            if (strcmp(inner, images[k]) != 0) {
                continue;
            }
            /* A named syntax must be one the type carries (Table 8.7.3-5). */
            const char *t = ts ? ts : pacs_image_ts_for_media_type(inner);
            const char *carrier = t ? ts_media(t, &dflt) : NULL;
            if (t && carrier && strcmp(carrier, inner) == 0 && pacs_image_can_transcode_to(t)) {
                *media = images[k];
                *how = shape;
                return t;
            }
        }
        if (strcmp(inner, "application/octet-stream") != 0) {
            continue;
        }
        /* No transfer-syntax: octet-stream's default (PS3.18 Table 8.7.3-4), decoded pixels. */
        if (!ts) {
            ts = PACS_TS_EXPLICIT_LE;
        }
        if (pacs_image_can_transcode_to(ts)) {
            *media = "application/octet-stream";
            *how = shape;
            return ts;
        }
    }
    return NULL;
}

pacs_negotiate_how pacs_negotiate_bulk(const pacs_media *m, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        pacs_media rel =
            is_multipart(&m[i]) ? related_range(&m[i], "application/octet-stream") : m[i];
        if (pacs_media_covers(&rel, "application/octet-stream")) {
            return is_multipart(&m[i]) || is_any(&m[i]) ? PACS_NEGOTIATE_MULTIPART
                                                        : PACS_NEGOTIATE_SINGLE;
        }
    }
    return PACS_NEGOTIATE_NONE;
}

int pacs_negotiate_json(const pacs_media *m, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (pacs_media_covers(&m[i], "application/dicom+json") ||
            pacs_media_covers(&m[i], "application/json")) {
            return 1;
        }
    }
    return 0;
}
