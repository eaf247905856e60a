// SPDX-License-Identifier: MIT
/*
 * WADO-RS frames and the Pixel Data bulk value (frames.h). The instance and its pixel layout come
 * from the resolve step; as stored, the answer is a body (body.h) of the frames' byte ranges;
 * in another syntax, of the frames the delivery plan transcoded one at a time (each looked up
 * in, or added to, the image cache first).
 *
 * Load: a viewer scrolling a CT asks for one frame per slice. Thread-safe: every request owns
 * its body.
 */
#include "dicomweb/frames.h"

#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dicomweb/body.h"
#include "dicomweb/negotiate.h"
#include "dicomweb/rendered.h"
#include "pacs/base/log.h"
#include "pacs/image/cache.h"
#include "storage/delivery.h"
#include "storage/resolve.h"

#define MAX_FRAMES 100000u
/* Transcoded frames of one answer (they are held in memory until sent). */
#define MAX_TRANSCODED ((uint64_t)512 << 20)

pacs_err pacs_frames_parse_list(const char *text, uint32_t *out, size_t cap, size_t *n,
                                pacs_errinfo *ei)
{
    size_t count = 0;
    const char *p = text;
    for (;;) {
        if (!isdigit((unsigned char)*p)) {
            return pacs_errf(ei, PACS_EINVAL,
                             "bad frame list '%.64s' (1-based numbers, "
                             "comma-separated)",
                             text);
        }
        unsigned long v = 0;
        while (isdigit((unsigned char)*p)) {
            v = v * 10 + (unsigned long)(*p - '0');
            if (v > 0xFFFFFFFFul) {
                return pacs_errf(ei, PACS_EINVAL, "frame number too large");
            }
            p++;
        }
        if (v == 0) {
            return pacs_errf(ei, PACS_EINVAL, "frame numbers start at 1");
        }
        if (count == cap) {
            return pacs_errf(ei, PACS_EINVAL, "too many frames in one request (at most %zu)", cap);
        }
        out[count++] = (uint32_t)(v - 1);
        if (*p == '\0') {
            break;
        }
        if (*p != ',') {
            return pacs_errf(ei, PACS_EINVAL,
                             "bad frame list '%.64s' (1-based numbers, "
                             "comma-separated)",
                             text);
        }
        p++;
    }
    *n = count;
    return PACS_OK;
}

/* BitsAllocated from an instance's stored JSON (for swapping big endian frames). */
static int bits_cb(void *ctx, const pacs_instance_rec *rec)
{
    unsigned *bits = ctx;
    json_t *j = rec->metadata ? json_loadb(rec->metadata, rec->metadata_len, 0, NULL) : NULL;
    json_t *v = json_array_get(json_object_get(json_object_get(j, "00280100"), "Value"), 0);
    if (json_is_integer(v)) {
        *bits = (unsigned)json_integer_value(v);
    }
    json_decref(j);
    return 1;
}

/* The word size to swap a native big endian instance's pixels by (0: none). */
static unsigned swap_size(pacs_http_req *r, const pacs_resolve_item *it)
{
    pacs_errinfo ei;
    unsigned bits = 0;
    pacs_query *q = pacs_resolve_query(it->study_uid, it->series_uid, it->sop_uid, &ei);
    if (q) {
        pacs_archive_instances(pacs_http_archive(r), q, PACS_REC_METADATA, bits_cb, &bits, &ei);
    }
    pacs_query_free(q);
    return bits >= 16 && bits % 8 == 0 ? bits / 8 : 0;
}

static int native_ts(const char *ts)
{
    return strcmp(ts, PACS_TS_EXPLICIT_LE) == 0 || strcmp(ts, PACS_TS_IMPLICIT_LE) == 0;
}

/*
 * Frames `idx` (0-based, checked to exist) of `it` in another syntax, when no range takes them as
 * stored; with `whole`, the Pixel Data bulk value (every frame): one value when the target is
 * uncompressed (the frames decoded, back to back), else one part per frame. Returns -1, having
 * sent nothing, when no range names a syntax that can be written (the caller answers 406); 0
 * once an answer (or an error) was sent.
 */
static int send_transcoded(pacs_http_req *r, const pacs_resolve_item *it, const uint32_t *idx,
                           size_t n_idx, int whole, const pacs_media *m, size_t nm)
{
    const char *media = NULL;
    pacs_negotiate_how how = PACS_NEGOTIATE_NONE;
    const char *ts = pacs_negotiate_pixels_target(m, nm, whole || n_idx == 1, &media, &how);
    if (!ts) {
        return -1;
    }
    int one_value = whole && native_ts(ts);
    if (how == PACS_NEGOTIATE_SINGLE && !one_value && n_idx > 1) {
        return -1; /* a bare body holds one frame */
    }
    pacs_image_cache *cache = pacs_rendered_cache();
    pacs_errinfo ei;
    pacs_delivery_plan plan;
    pacs_delivery_pixels *px = NULL;
    char boundary[80], key[512];
    uint64_t total = 0;
    int multi = how == PACS_NEGOTIATE_MULTIPART;
    pacs_body *b = pacs_body_new(r);
    pacs_err err = b ? pacs_delivery_plan_for(it, ts, PACS_DELIVERY_LOSSY, &plan, &ei)
                     : pacs_errf(&ei, PACS_ENOMEM, "out of memory");
    pacs_http_boundary(boundary, sizeof boundary);
    for (size_t i = 0; i < n_idx && err == PACS_OK; i++) {
        uint8_t *data = NULL;
        size_t len = 0;
        pacs_image_cache_key(key, sizeof key, it->object, idx[i], ts, media);
        int hit = cache && pacs_image_cache_get(cache, key, &data, &len, NULL);
        if (!hit && !px) { /* the object is opened once, for the first frame not cached */
            err = pacs_delivery_pixels_open(pacs_http_archive(r), it, &px, &ei);
        }
        if (!hit && err == PACS_OK) {
            pacs_codec_frame f;
            err = pacs_delivery_frame(px, idx[i], &plan, &f, &ei);
            data = f.data;
            len = f.len;
            if (err == PACS_OK && cache) {
                pacs_image_cache_put(cache, key, data, len, media);
            }
        }
        total += len;
        if (err == PACS_OK && total > MAX_TRANSCODED) {
            err = pacs_errf(&ei, PACS_ETOOBIG, "the transcoded answer exceeds %llu bytes",
                            (unsigned long long)MAX_TRANSCODED);
        }
        if (err != PACS_OK) {
            free(data);
            break;
        }
        if (multi && (!one_value || i == 0)) {
            pacs_body_text(b, "--%s\r\nContent-Type: %s; transfer-syntax=%s\r\n\r\n", boundary,
                           media, ts);
        }
        pacs_body_take(b, data, len);
        if (multi && (!one_value || i + 1 == n_idx)) {
            pacs_body_text(b, "\r\n");
        }
    }
    pacs_delivery_pixels_close(px);
    if (err != PACS_OK) {
        pacs_body_free(b);
        pacs_log(PACS_LOG_WARN, "wado", "req=%lu frames to %s failed: %s", pacs_http_id(r), ts,
                 ei.msg);
        pacs_http_send_error(r, pacs_http_status_of(err), "%s", ei.msg);
        return 0;
    }
    char ct[200];
    if (multi) {
        pacs_body_text(b, "--%s--\r\n", boundary);
        snprintf(ct, sizeof ct, "multipart/related; type=\"%s\"; transfer-syntax=%s; boundary=%s",
                 media, ts, boundary);
    } else {
        snprintf(ct, sizeof ct, "%s; transfer-syntax=%s", media, ts);
    }
    pacs_body_send(r, b, ct);
    return 0;
}

/* Frames `idx` (0-based) of the instance `rt` names, as PS3.18 10.4.1.1.4 sends them; with
 * `whole_pixel_data`, the Pixel Data bulk value instead. */
static void send_frames(pacs_http_req *r, const pacs_route *rt, const uint32_t *idx, size_t n_idx,
                        int whole_pixel_data)
{
    pacs_errinfo ei;
    pacs_media m[PACS_ACCEPT_MAX];
    size_t nm = 0;
    if (pacs_negotiate_read(r, m, &nm, &ei) != PACS_OK) {
        pacs_http_send_error(r, 400, "Accept: %s", ei.msg);
        return;
    }
    pacs_resolve_list l;
    pacs_err err = pacs_resolve_uids(pacs_http_archive(r), rt->study, rt->series, rt->sop,
                                     PACS_RESOLVE_LAYOUT, 0, &l, &ei);
    if (err != PACS_OK) {
        pacs_http_send_error(r, pacs_http_status_of(err), "%s", ei.msg);
        return;
    }
    const pacs_resolve_item *in = &l.v[0];
    pacs_pixel_layout pl;
    memset(&pl, 0, sizeof pl);
    pacs_body *b = NULL;
    pacs_fragment *ranges = NULL;
    uint32_t *all = NULL;
    if (!in->layout) {
        pacs_http_send_error(r, 404, "the instance has no pixel data");
        goto done;
    }
    err = pacs_pixel_layout_decode(in->layout, in->layout_len, &pl, &ei);
    if (err != PACS_OK) {
        pacs_http_send_error(r, 500, "stored pixel layout unreadable: %s", ei.msg);
        goto done;
    }
    if (pl.kind == PACS_PIXELS_NONE) {
        pacs_http_send_error(r, 404, "the instance has no pixel data");
        goto done;
    }
    if (pl.kind == PACS_PIXELS_OPAQUE) {
        pacs_http_send_error(r, 406,
                             "the frames of this instance (%s) can only be reached by "
                             "decoding it, which frame retrieval does not do yet",
                             in->ts);
        goto done;
    }
    int native = pl.kind == PACS_PIXELS_NATIVE;
    size_t n_frames = n_idx; /* what a transcoded answer holds */
    if (whole_pixel_data) {
        /* Bulk data of Pixel Data: native as one value, encapsulated as its frames; in another
         * syntax, every frame. */
        all = malloc((pl.n_frames ? pl.n_frames : 1) * sizeof *all);
        if (!all) {
            pacs_http_send_error(r, 500, "out of memory");
            goto done;
        }
        for (uint32_t f = 0; f < pl.n_frames; f++) {
            all[f] = f;
        }
        idx = all;
        n_frames = pl.n_frames;
        n_idx = native ? 1 : pl.n_frames;
    }
    for (size_t i = 0; i < n_idx && !(whole_pixel_data && native); i++) {
        if (idx[i] >= pl.n_frames) {
            pacs_http_send_error(r, 404, "frame %u does not exist (the instance has %u)",
                                 idx[i] + 1, pl.n_frames);
            goto done;
        }
    }
    char part[160], related[80];
    pacs_negotiate_how how = pacs_negotiate_pixels(m, nm, in->ts, native, n_idx == 1, part,
                                                   sizeof part, related, sizeof related);
    if (how == PACS_NEGOTIATE_NONE &&
        send_transcoded(r, in, idx, n_frames, whole_pixel_data, m, nm) == 0) {
        goto done; /* answered in another transfer syntax */
    }
    if (how == PACS_NEGOTIATE_NONE) {
        pacs_http_send_error(r, 406,
                             "nothing acceptable: the pixel data is stored as %s (%s); ask for "
                             "multipart/related; type=\"application/octet-stream\"; "
                             "transfer-syntax=*, or an image type or transfer syntax this "
                             "server writes (image/jls, image/jp2, image/jphc, image/jpeg, "
                             "image/dicom-rle)",
                             in->ts, native ? "uncompressed" : "compressed");
        goto done;
    }
    unsigned swap = native && pl.bigendian ? swap_size(r, in) : 0;
    ranges = calloc(pl.n_fragments + 1, sizeof *ranges);
    b = pacs_body_new(r);
    if (!ranges || !b) {
        pacs_http_send_error(r, 500, "out of memory");
        goto done;
    }
    char boundary[40];
    pacs_http_boundary(boundary, sizeof boundary);
    const char *base = pacs_http_base_url(r);
    for (size_t i = 0; i < n_idx && !pacs_body_failed(b); i++) {
        size_t nr = 0;
        if (whole_pixel_data && native) {
            ranges[0].offset = pl.offset;
            ranges[0].length = (uint32_t)pl.length;
            nr = 1;
        } else {
            err = pacs_pixel_layout_frame(&pl, idx[i], ranges, pl.n_fragments + 1, &nr, &ei);
            if (err != PACS_OK) {
                pacs_http_send_error(r, pacs_http_status_of(err), "%s", ei.msg);
                goto done;
            }
        }
        if (how == PACS_NEGOTIATE_MULTIPART) {
            if (whole_pixel_data) {
                pacs_body_text(b, "%s--%s\r\nContent-Type: %s\r\n\r\n", i ? "\r\n" : "", boundary,
                               part);
            } else {
                pacs_body_text(b,
                               "%s--%s\r\nContent-Type: %s\r\nContent-Location: "
                               "%s/studies/%s/series/%s/instances/%s/frames/%u\r\n\r\n",
                               i ? "\r\n" : "", boundary, part, base, in->study_uid, in->series_uid,
                               in->sop_uid, idx[i] + 1);
            }
        }
        for (size_t k = 0; k < nr; k++) {
            pacs_body_object(b, in->object, ranges[k].offset, ranges[k].length, swap);
        }
    }
    if (how == PACS_NEGOTIATE_MULTIPART) {
        pacs_body_text(b, "\r\n--%s--\r\n", boundary);
        char ct[200];
        snprintf(ct, sizeof ct, "multipart/related; type=\"%s\"; boundary=%s", related, boundary);
        pacs_body_send(r, b, ct);
    } else {
        pacs_body_send(r, b, part);
    }
    b = NULL;
done:
    pacs_body_free(b);
    free(ranges);
    free(all);
    pacs_pixel_layout_clear(&pl);
    pacs_resolve_list_free(&l);
}

void pacs_frames_retrieve(pacs_http_req *r, const pacs_route *rt)
{
    pacs_errinfo ei;
    size_t n = 0;
    uint32_t *idx = malloc(MAX_FRAMES * sizeof *idx);
    if (!idx) {
        pacs_http_send_error(r, 500, "out of memory");
        return;
    }
    if (pacs_frames_parse_list(rt->arg, idx, MAX_FRAMES, &n, &ei) != PACS_OK) {
        free(idx);
        pacs_http_send_error(r, 400, "%s", ei.msg);
        return;
    }
    send_frames(r, rt, idx, n, 0);
    free(idx);
}

void pacs_frames_pixel_data(pacs_http_req *r, const pacs_route *rt)
{
    send_frames(r, rt, NULL, 0, 1);
}
