// SPDX-License-Identifier: MIT
/*
 * Rendered resources (rendered.h). One request: resolve the instances of the resource through
 * the archive, pick the frames to show (all frames for rendered, the middle instance of the
 * first series for a study or series thumbnail), and for each frame return the cached image
 * or decode (through the instance's pixels as storage/delivery.h opens them), render and encode
 * it once. Several images go out as multipart/related. Load: a cache miss costs a decode (1-60
 * ms per frame depending on the codec); a hit costs a copy.
 */
#include "dicomweb/rendered.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/media.h"
#include "http/params.h"
#include "pacs/base/buf.h"
#include "pacs/image/decode.h"
#include "pacs/image/encode.h"
#include "pacs/image/render.h"
#include "storage/delivery.h"
#include "storage/resolve.h"

/* Bytes of encoded images kept across requests. */
#define CACHE_BYTES ((size_t)256 << 20)
/* Instances of one resource. */
#define MAX_INSTANCES 1000000u
/* Images in one multipart answer. */
#define MAX_PARTS 2000
/* Body of one multipart answer. */
#define MAX_BODY ((size_t)512 << 20)
#define THUMB_SIDE 128
#define THUMB_QUALITY 75

static pacs_image_cache *cache;
static pthread_once_t cache_once = PTHREAD_ONCE_INIT;

static void cache_init(void)
{
    cache = pacs_image_cache_new(CACHE_BYTES);
}

pacs_image_cache *pacs_rendered_cache(void)
{
    pthread_once(&cache_once, cache_init);
    return cache;
}

typedef struct request {
    pacs_render_params p;
    pacs_image_format fmt;
    int quality;
    char params_key[128];
} request;

/* Decodes, renders and encodes frame `frame` of `in`, or takes it from the cache. */
static pacs_err one_image(pacs_archive *a, const pacs_resolve_item *in, uint32_t frame,
                          const request *rq, uint8_t **out, size_t *len, pacs_errinfo *ei)
{
    const char *media = pacs_image_format_media_type(rq->fmt);
    char key[512];
    pacs_image_cache_key(key, sizeof key, in->object, frame, rq->params_key, media);
    if (cache && pacs_image_cache_get(cache, key, out, len, NULL)) {
        return PACS_OK;
    }
    pacs_delivery_pixels *px = NULL;
    pacs_frame *f = NULL;
    pacs_rendered *img = NULL;
    pacs_err err = pacs_delivery_pixels_open(a, in, &px, ei);
    if (!err) {
        err = pacs_image_decode(pacs_delivery_pixels_source(px), pacs_delivery_pixels_desc(px),
                                frame, &f, ei);
    }
    if (!err) {
        err = pacs_image_render(pacs_delivery_pixels_desc(px), f, frame, &rq->p, &img, ei);
    }
    if (!err) {
        err = pacs_image_encode(img, rq->fmt, rq->quality, out, len, ei);
    }
    if (!err && cache) {
        pacs_image_cache_put(cache, key, *out, *len, media);
    }
    pacs_rendered_free(img);
    pacs_frame_free(f);
    pacs_delivery_pixels_close(px);
    return err;
}

/* Accept (header, or the `accept` query parameter): image/jpeg unless PNG comes first. */
static pacs_err choose_format(pacs_http_req *r, pacs_image_format *fmt, pacs_errinfo *ei)
{
    const char *acc = pacs_params_get(pacs_http_params(r), "accept");
    if (!acc || !acc[0]) {
        acc = pacs_http_header(r, "Accept");
    }
    *fmt = PACS_IMAGE_JPEG;
    if (!acc || !acc[0]) {
        return PACS_OK;
    }
    pacs_media m[PACS_ACCEPT_MAX];
    size_t n = 0;
    pacs_err err = pacs_media_accept_parse(acc, m, PACS_ACCEPT_MAX, &n, ei);
    if (err) {
        return pacs_errf(ei, PACS_EINVAL, "Accept: %s", ei->msg);
    }
    int best_q = -1;
    for (size_t i = 0; i < n; i++) {
        pacs_image_format f = pacs_image_format_for(m[i].type);
        if (!f && (strcmp(m[i].type, "*/*") == 0 || strcmp(m[i].type, "image/*") == 0)) {
            f = PACS_IMAGE_JPEG;
        }
        if (f && m[i].q > 0 && m[i].q > best_q) {
            best_q = m[i].q;
            *fmt = f;
        }
    }
    if (best_q < 0) {
        return pacs_errf(ei, PACS_EUNSUPPORTED, "rendered images are image/jpeg or image/png");
    }
    return PACS_OK;
}

static pacs_err parse_quality(const char *text, int *q, pacs_errinfo *ei)
{
    if (!text || !text[0]) {
        return PACS_OK;
    }
    char *end = NULL;
    long v = strtol(text, &end, 10);
    if (*end != '\0' || v < 1 || v > 100) {
        return pacs_errf(ei, PACS_EINVAL, "quality must be 1..100");
    }
    *q = (int)v;
    return PACS_OK;
}

/* Sends one image, or several as multipart/related. */
static void send_images(pacs_http_req *r, pacs_archive *a, const pacs_resolve_list *l,
                        const size_t *which, const uint32_t *frames, size_t n, const request *rq)
{
    pacs_errinfo ei;
    const char *media = pacs_image_format_media_type(rq->fmt);
    pacs_buf body;
    pacs_buf_init(&body, MAX_BODY);
    char boundary[80];
    pacs_http_boundary(boundary, sizeof boundary);
    for (size_t k = 0; k < n; k++) {
        uint8_t *img = NULL;
        size_t len = 0;
        pacs_err err = one_image(a, &l->v[which[k]], frames[k], rq, &img, &len, &ei);
        if (err) {
            pacs_buf_free(&body);
            pacs_http_send_error(r, pacs_http_status_of(err), "%s", ei.msg);
            return;
        }
        if (n > 1) {
            err = pacs_buf_printf(&body, "--%s\r\nContent-Type: %s\r\n\r\n", boundary, media);
        }
        if (!err) {
            err = pacs_buf_append(&body, img, len);
        }
        if (!err && n > 1) {
            err = pacs_buf_puts(&body, "\r\n");
        }
        free(img);
        if (err) {
            pacs_buf_free(&body);
            pacs_http_send_error(r, 413, "the rendered images exceed %zu bytes", MAX_BODY);
            return;
        }
    }
    if (n == 1) {
        pacs_http_send_buf(r, 200, media, &body, 0);
        return;
    }
    char ct[200];
    if (pacs_buf_printf(&body, "--%s--\r\n", boundary)) {
        pacs_buf_free(&body);
        pacs_http_send_error(r, 413, "the rendered images exceed %zu bytes", MAX_BODY);
        return;
    }
    snprintf(ct, sizeof ct, "multipart/related; type=\"%s\"; boundary=%s", media, boundary);
    pacs_http_send_buf(r, 200, ct, &body, 0);
}

/* The middle instance of the first series (a study's or series' representative image). */
static size_t representative(const pacs_resolve_list *l)
{
    size_t first = 0, count = 0;
    for (size_t i = 0; i < l->n; i++) {
        if (strcmp(l->v[i].series_uid, l->v[0].series_uid) == 0 && l->v[i].has_pixels) {
            if (count == 0) {
                first = i;
            }
            count++;
        }
    }
    return count ? first + count / 2 : 0;
}

static int parse_frame_list(const char *text, uint32_t *out, size_t cap, size_t *n)
{
    *n = 0;
    const char *p = text;
    while (*p) {
        char *end = NULL;
        long v = strtol(p, &end, 10);
        if (end == p || v < 1 || v > 100000000L || *n == cap || (*end != ',' && *end != '\0')) {
            return -1;
        }
        out[(*n)++] = (uint32_t)(v - 1);
        p = *end == ',' ? end + 1 : end;
    }
    return *n > 0 ? 0 : -1;
}

void pacs_rendered_resource(pacs_http_req *r, const pacs_route *rt)
{
    pacs_rendered_cache();
    const pacs_params *pp = pacs_http_params(r);
    pacs_errinfo ei;
    request rq;
    memset(&rq, 0, sizeof rq);
    rq.quality = rt->thumbnail ? THUMB_QUALITY : 90;
    const char *window = pacs_params_get(pp, "window");
    const char *viewport = pacs_params_get(pp, "viewport");
    pacs_err err = choose_format(r, &rq.fmt, &ei);
    if (!err && window && window[0]) {
        err = pacs_render_parse_window(window, &rq.p, &ei);
    }
    if (!err && viewport && viewport[0]) {
        err = pacs_render_parse_viewport(viewport, &rq.p, &ei);
    }
    if (!err) {
        err = parse_quality(pacs_params_get(pp, "quality"), &rq.quality, &ei);
    }
    if (err) {
        pacs_http_send_error(r, err == PACS_EUNSUPPORTED && !window ? 406 : 400, "%s", ei.msg);
        return;
    }
    if (rt->thumbnail && !rq.p.vp_cols) {
        rq.p.vp_cols = rq.p.vp_rows = THUMB_SIDE;
    }
    pacs_render_params_key(&rq.p, rq.params_key, sizeof rq.params_key);
    size_t kl = strlen(rq.params_key);
    snprintf(rq.params_key + kl, sizeof rq.params_key - kl, ";q=%d", rq.quality);
    pacs_archive *a = pacs_http_archive(r);
    pacs_resolve_list l;
    err = pacs_resolve_uids(a, rt->study, rt->series, rt->sop, PACS_RESOLVE_LAYOUT, MAX_INSTANCES,
                            &l, &ei);
    if (err) {
        pacs_http_send_error(r, pacs_http_status_of(err), "%s", ei.msg);
        return;
    }
    size_t *which = calloc(MAX_PARTS, sizeof *which);
    uint32_t *frames = calloc(MAX_PARTS, sizeof *frames);
    size_t n = 0;
    if (!which || !frames) {
        pacs_http_send_error(r, 500, "out of memory");
        goto done;
    }
    if (rt->arg) { /* frame level: the listed frames of the one instance */
        if (parse_frame_list(rt->arg, frames, MAX_PARTS, &n)) {
            pacs_http_send_error(r, 400, "bad frame list");
            goto done;
        }
        for (size_t k = 0; k < n; k++) {
            if (frames[k] >= (l.v[0].frames ? l.v[0].frames : 1)) {
                pacs_http_send_error(r, 404, "frame %u out of range (the instance has %u)",
                                     frames[k] + 1, l.v[0].frames);
                goto done;
            }
            which[k] = 0;
        }
        if (rt->thumbnail) {
            n = 1;
        }
    } else if (rt->thumbnail) {
        which[0] = rt->sop ? 0 : representative(&l);
        frames[0] = l.v[which[0]].frames > 1 ? l.v[which[0]].frames / 2 : 0;
        n = 1;
    } else { /* every frame of every instance with pixels */
        for (size_t i = 0; i < l.n; i++) {
            for (uint32_t fr = 0; l.v[i].has_pixels && fr < (l.v[i].frames ? l.v[i].frames : 1);
                 fr++) {
                if (n == MAX_PARTS) {
                    pacs_http_send_error(r, 413,
                                         "more than %d images: ask per series or "
                                         "instance",
                                         MAX_PARTS);
                    goto done;
                }
                which[n] = i;
                frames[n++] = fr;
            }
        }
        if (n == 0) {
            pacs_http_send_error(r, 404, "nothing with pixel data here");
            goto done;
        }
    }
    send_images(r, a, &l, which, frames, n, &rq);
done:
    free(which);
    free(frames);
    pacs_resolve_list_free(&l);
}

void pacs_rendered_uri(pacs_http_req *r, const char *study, const char *series, const char *sop)
{
    pacs_rendered_cache();
    const pacs_params *pp = pacs_http_params(r);
    pacs_errinfo ei;
    request rq;
    memset(&rq, 0, sizeof rq);
    rq.quality = 90;
    rq.fmt = PACS_IMAGE_JPEG;
    const char *ct = pacs_params_get(pp, "contentType");
    if (ct && ct[0]) {
        pacs_media m[PACS_ACCEPT_MAX];
        size_t nm = 0;
        rq.fmt = 0;
        if (pacs_media_accept_parse(ct, m, PACS_ACCEPT_MAX, &nm, &ei) == PACS_OK) {
            for (size_t i = 0; i < nm && !rq.fmt; i++) {
                rq.fmt = pacs_image_format_for(m[i].type);
            }
        }
        if (!rq.fmt) {
            pacs_http_send_error(r, 406,
                                 "contentType: image/jpeg, image/png or "
                                 "application/dicom");
            return;
        }
    }
    const char *wc = pacs_params_get(pp, "windowCenter");
    const char *ww = pacs_params_get(pp, "windowWidth");
    const char *rows = pacs_params_get(pp, "rows"), *cols = pacs_params_get(pp, "columns");
    const char *fn = pacs_params_get(pp, "frameNumber");
    pacs_err err = PACS_OK;
    if ((wc && wc[0]) != (ww && ww[0])) {
        err = pacs_errf(&ei, PACS_EINVAL, "windowCenter and windowWidth go together");
    } else if (wc && wc[0]) {
        char w[160];
        snprintf(w, sizeof w, "%s,%s", wc, ww);
        err = pacs_render_parse_window(w, &rq.p, &ei);
    }
    if (!err && ((rows && rows[0]) || (cols && cols[0]))) {
        char v[64];
        /* One side alone keeps the aspect ratio: the other side is unbounded. */
        snprintf(v, sizeof v, "%s,%s", cols && cols[0] ? cols : "8192",
                 rows && rows[0] ? rows : "8192");
        err = pacs_render_parse_viewport(v, &rq.p, &ei);
    }
    if (!err) {
        err = parse_quality(pacs_params_get(pp, "imageQuality"), &rq.quality, &ei);
    }
    uint32_t frame = 0;
    if (!err && fn && fn[0]) {
        char *end = NULL;
        long v = strtol(fn, &end, 10);
        if (*end != '\0' || v < 1 || v > 100000000L) {
            err = pacs_errf(&ei, PACS_EINVAL, "frameNumber must be a positive integer");
        }
        frame = (uint32_t)(v - 1);
    }
    if (err) {
        pacs_http_send_error(r, 400, "%s", ei.msg);
        return;
    }
    pacs_render_params_key(&rq.p, rq.params_key, sizeof rq.params_key);
    size_t kl = strlen(rq.params_key);
    snprintf(rq.params_key + kl, sizeof rq.params_key - kl, ";q=%d", rq.quality);
    pacs_archive *a = pacs_http_archive(r);
    pacs_resolve_list l;
    err = pacs_resolve_uids(a, study, series, sop, PACS_RESOLVE_LAYOUT, MAX_INSTANCES, &l, &ei);
    if (err) {
        pacs_http_send_error(r, pacs_http_status_of(err), "%s", ei.msg);
        return;
    }
    if (frame >= (l.v[0].frames ? l.v[0].frames : 1)) {
        pacs_http_send_error(r, 404, "frame %u out of range (the instance has %u)", frame + 1,
                             l.v[0].frames);
    } else {
        size_t which = 0;
        send_images(r, a, &l, &which, &frame, 1, &rq);
    }
    pacs_resolve_list_free(&l);
}
