// SPDX-License-Identifier: MIT
/*
 * Rendered resources (rendered.h). One request: list the instances of the resource through
 * the archive, pick the frames to show (all frames for rendered, the middle instance of the
 * first series for a study or series thumbnail), and for each frame return the cached image
 * or decode, render and encode it once. Several images go out as multipart/related. Load:
 * a cache miss costs a decode (1-60 ms per frame depending on the codec); a hit costs a copy.
 */
#include "dicomweb/rendered.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dicomweb/media.h"
#include "dicomweb/params.h"
#include "pacs/base/buf.h"
#include "pacs/base/log.h"
#include "pacs/image/cache.h"
#include "pacs/image/decode.h"
#include "pacs/image/encode.h"
#include "pacs/image/render.h"
#include "pacs/image/transcode.h"
#include "storage/archive.h"

#define TAG_STUDY_UID 0x0020000Du
#define TAG_SERIES_UID 0x0020000Eu
#define TAG_SOP_UID 0x00080018u

/* Bytes of encoded images kept across requests. */
#define CACHE_BYTES ((size_t)256 << 20)
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

typedef struct inst {
    char object[PACS_OBJECT_KEY_LEN + 1];
    char series[65], sop[65], ts[65];
    uint32_t frames;
    uint8_t *layout;
    size_t layout_len;
} inst;

typedef struct inst_list {
    inst *v;
    size_t n, cap;
    int oom;
} inst_list;

static int collect(void *ctx, const pacs_instance_rec *rec)
{
    inst_list *l = ctx;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        inst *v = cap <= 1000000 ? realloc(l->v, cap * sizeof *v) : NULL;
        if (!v) {
            l->oom = 1;
            return 1;
        }
        l->v = v;
        l->cap = cap;
    }
    inst *i = &l->v[l->n];
    memset(i, 0, sizeof *i);
    snprintf(i->object, sizeof i->object, "%s", rec->object);
    snprintf(i->series, sizeof i->series, "%s", rec->series_uid);
    snprintf(i->sop, sizeof i->sop, "%s", rec->sop_uid);
    snprintf(i->ts, sizeof i->ts, "%s", rec->ts);
    i->frames = rec->frames;
    if (rec->pixel_layout && rec->pixel_layout_len) {
        i->layout = malloc(rec->pixel_layout_len);
        if (!i->layout) {
            l->oom = 1;
            return 1;
        }
        memcpy(i->layout, rec->pixel_layout, rec->pixel_layout_len);
        i->layout_len = rec->pixel_layout_len;
    }
    l->n++;
    return 0;
}

static void list_free(inst_list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->v[i].layout);
    }
    free(l->v);
}

static pacs_err list_instances(pacs_archive *a, const char *st, const char *se, const char *sop,
                               inst_list *l, pacs_errinfo *ei)
{
    memset(l, 0, sizeof *l);
    pacs_query *q = pacs_query_new(sop  ? PACS_LEVEL_INSTANCE
                                   : se ? PACS_LEVEL_SERIES
                                        : PACS_LEVEL_STUDY);
    if (!q) {
        return pacs_errf(ei, PACS_ENOMEM, "out of memory");
    }
    pacs_err err = pacs_query_add(q, TAG_STUDY_UID, "UI", st, ei);
    if (!err && se) {
        err = pacs_query_add(q, TAG_SERIES_UID, "UI", se, ei);
    }
    if (!err && sop) {
        err = pacs_query_add(q, TAG_SOP_UID, "UI", sop, ei);
    }
    if (!err) {
        err = pacs_archive_instances(a, q, 0, collect, l, ei);
    }
    pacs_query_free(q);
    if (!err && l->oom) {
        err = pacs_errf(ei, PACS_ENOMEM, "out of memory");
    }
    if (!err && l->n == 0) {
        err = pacs_errf(ei, PACS_ENOTFOUND, "no such %s",
                        sop  ? "instance"
                        : se ? "series"
                             : "study");
    }
    if (err) {
        list_free(l);
    }
    return err;
}

typedef struct request {
    pacs_render_params p;
    pacs_image_format fmt;
    int quality;
    char params_key[128];
} request;

/* What decoding an instance's pixels needs, from the archive: the object's path and an open
 * descriptor, its pixel layout (from the index) and its image description. On error the caller
 * still releases what was set (fd >= 0, pl, *desc). */
static pacs_err open_pixels(pacs_archive *a, const inst *in, char path[4096], int *fd,
                            pacs_pixel_layout *pl, pacs_image_desc **desc, pacs_errinfo *ei)
{
    pacs_err err = pacs_archive_object_path(a, in->object, path, 4096, ei);
    if (!err) {
        err = pacs_archive_open_object(a, in->object, fd, ei);
    }
    if (!err) {
        err = pacs_pixel_layout_decode(in->layout, in->layout_len, pl, ei);
    }
    if (!err) {
        err = pacs_image_desc_from_file(path, desc, ei);
    }
    return err;
}

/* Lossy output only for a syntax that is lossy by name (4.50, 4.51, 4.81); JPEG 2000 and HTJ2K
 * are written lossless unless asked otherwise. */
static int lossy_allowed(const char *ts)
{
    return pacs_image_ts_is_lossy(ts) && strcmp(ts, PACS_TS_J2K) != 0 &&
           strcmp(ts, PACS_TS_HTJ2K) != 0;
}

/* Decodes, renders and encodes frame `frame` of `in`, or takes it from the cache. */
static pacs_err one_image(pacs_archive *a, const inst *in, uint32_t frame, const request *rq,
                          uint8_t **out, size_t *len, pacs_errinfo *ei)
{
    const char *media = pacs_image_format_media_type(rq->fmt);
    char key[512];
    pacs_image_cache_key(key, sizeof key, in->object, frame, rq->params_key, media);
    if (cache && pacs_image_cache_get(cache, key, out, len, NULL)) {
        return PACS_OK;
    }
    if (!in->layout) {
        return pacs_errf(ei, PACS_ENOTFOUND, "instance %s has no pixel data", in->sop);
    }
    char path[4096];
    int fd = -1;
    pacs_pixel_layout pl;
    memset(&pl, 0, sizeof pl);
    pacs_image_desc *desc = NULL;
    pacs_frame *f = NULL;
    pacs_rendered *img = NULL;
    pacs_err err = open_pixels(a, in, path, &fd, &pl, &desc, ei);
    if (!err) {
        pacs_image_source src = {fd, path, in->ts, &pl};
        err = pacs_image_decode(&src, desc, frame, &f, ei);
    }
    if (!err) {
        err = pacs_image_render(desc, f, frame, &rq->p, &img, ei);
    }
    if (!err) {
        err = pacs_image_encode(img, rq->fmt, rq->quality, out, len, ei);
    }
    if (!err && cache) {
        pacs_image_cache_put(cache, key, *out, *len, media);
    }
    pacs_rendered_free(img);
    pacs_frame_free(f);
    pacs_image_desc_free(desc);
    pacs_pixel_layout_clear(&pl);
    if (fd >= 0) {
        close(fd);
    }
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
static void send_images(pacs_http_req *r, pacs_archive *a, const inst_list *l, const size_t *which,
                        const uint32_t *frames, size_t n, const request *rq)
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
static size_t representative(const inst_list *l)
{
    size_t first = 0, count = 0;
    for (size_t i = 0; i < l->n; i++) {
        if (strcmp(l->v[i].series, l->v[0].series) == 0 && l->v[i].layout) {
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
    pthread_once(&cache_once, cache_init);
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
    inst_list l;
    err = list_instances(a, rt->study, rt->series, rt->sop, &l, &ei);
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
            for (uint32_t fr = 0; l.v[i].layout && fr < (l.v[i].frames ? l.v[i].frames : 1); fr++) {
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
    list_free(&l);
}

void pacs_rendered_uri(pacs_http_req *r, const char *study, const char *series, const char *sop)
{
    pthread_once(&cache_once, cache_init);
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
    inst_list l;
    err = list_instances(a, study, series, sop, &l, &ei);
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
    list_free(&l);
}

/* Appends the whole of `fd` (from its start) to `b`. */
static pacs_err append_fd(pacs_buf *b, int fd, pacs_errinfo *ei)
{
    char chunk[65536];
    off_t off = 0;
    for (;;) {
        ssize_t n = pread(fd, chunk, sizeof chunk, off);
        if (n < 0) {
            return pacs_errf(ei, PACS_EIO, "reading the transcoded object");
        }
        if (n == 0) {
            return PACS_OK;
        }
        if (pacs_buf_append(b, chunk, (size_t)n)) {
            return pacs_errf(ei, PACS_ETOOBIG, "the transcoded answer exceeds %zu bytes", MAX_BODY);
        }
        off += n;
    }
}

void pacs_rendered_transcoded(pacs_http_req *r, const pacs_route *rt, const pacs_media *m,
                              size_t nm)
{
    const char *ts = NULL;
    for (size_t i = 0; i < nm && !ts; i++) {
        int multi = strcmp(m[i].type, "multipart/related") == 0;
        const char *inner = multi ? m[i].related : m[i].type;
        if ((multi && inner[0] && strcmp(inner, "application/dicom") != 0) ||
            (!multi && (strcmp(inner, "application/dicom") != 0 || !rt->sop)) || m[i].q == 0) {
            continue;
        }
        if (m[i].ts[0] && strcmp(m[i].ts, "*") != 0 && pacs_image_can_transcode_to(m[i].ts)) {
            ts = m[i].ts;
        }
    }
    if (!ts) {
        pacs_http_send_error(r, 406,
                             "nothing acceptable: name a transfer syntax this server "
                             "writes (explicit or implicit VR little endian, RLE, JPEG, "
                             "JPEG-LS, JPEG 2000, HTJ2K) or transfer-syntax=*");
        return;
    }
    pacs_archive *a = pacs_http_archive(r);
    pacs_errinfo ei;
    inst_list l;
    pacs_err err = list_instances(a, rt->study, rt->series, rt->sop, &l, &ei);
    if (err) {
        pacs_http_send_error(r, pacs_http_status_of(err), "%s", ei.msg);
        return;
    }
    pacs_buf body;
    pacs_buf_init(&body, MAX_BODY);
    char boundary[80];
    pacs_http_boundary(boundary, sizeof boundary);
    pacs_transcode_params tp = {ts, lossy_allowed(ts), 0, 0};
    for (size_t i = 0; i < l.n && !err; i++) {
        char path[4096];
        int fd = -1;
        FILE *tmp = tmpfile();
        pacs_pixel_layout pl;
        memset(&pl, 0, sizeof pl);
        pacs_image_desc *desc = NULL;
        pacs_transcode_result res;
        err = tmp ? PACS_OK : pacs_errf(&ei, PACS_EIO, "no temporary file");
        if (!err) {
            err = pacs_archive_object_path(a, l.v[i].object, path, sizeof path, &ei);
        }
        if (!err) {
            err = pacs_archive_open_object(a, l.v[i].object, &fd, &ei);
        }
        int same = strcmp(l.v[i].ts, ts) == 0;
        if (!err && !same && !l.v[i].layout) {
            err = pacs_errf(&ei, PACS_EUNSUPPORTED, "instance %s has no pixels and is stored as %s",
                            l.v[i].sop, l.v[i].ts);
        }
        if (!err && !same) {
            err = pacs_pixel_layout_decode(l.v[i].layout, l.v[i].layout_len, &pl, &ei);
        }
        if (!err && !same) {
            err = pacs_image_desc_from_file(path, &desc, &ei);
        }
        if (!err && !same) {
            pacs_image_source src = {fd, path, l.v[i].ts, &pl};
            err = pacs_image_transcode(&src, desc, &tp, fileno(tmp), &res, &ei);
        }
        if (!err) {
            err = pacs_buf_printf(&body,
                                  "--%s\r\nContent-Type: application/dicom; "
                                  "transfer-syntax=%s\r\n\r\n",
                                  boundary, ts);
        }
        if (!err) {
            err = append_fd(&body, same ? fd : fileno(tmp), &ei);
        }
        if (!err) {
            err = pacs_buf_puts(&body, "\r\n");
        }
        pacs_image_desc_free(desc);
        pacs_pixel_layout_clear(&pl);
        if (fd >= 0) {
            close(fd);
        }
        if (tmp) {
            fclose(tmp);
        }
    }
    list_free(&l);
    if (!err) {
        err = pacs_buf_printf(&body, "--%s--\r\n", boundary);
    }
    if (err) {
        pacs_buf_free(&body);
        pacs_log(PACS_LOG_WARN, "wado", "req=%lu transcode to %s failed: %s", pacs_http_id(r), ts,
                 ei.msg);
        pacs_http_send_error(r, err == PACS_ETOOBIG ? 413 : pacs_http_status_of(err), "%s", ei.msg);
        return;
    }
    char ct[200];
    snprintf(ct, sizeof ct,
             "multipart/related; type=\"application/dicom\"; transfer-syntax=%s; boundary=%s", ts,
             boundary);
    pacs_http_send_buf(r, 200, ct, &body, 0);
}

/* ---- frames in another transfer syntax ---- */

/* The first Accept range for frames that names something pacs/image writes: an image media
 * type in multipart/related (its transfer-syntax, or the type's default: image/jpeg is JPEG
 * lossless SV1), or application/octet-stream with an explicit transfer-syntax. */
static const char *frame_target(const pacs_media *m, size_t nm, const char **media)
{
    static const char *const images[] = {"image/jpeg", "image/jls", "image/jp2", "image/jphc",
                                         "image/dicom-rle"};
    for (size_t i = 0; i < nm; i++) {
        if (m[i].q == 0 || strcmp(m[i].type, "multipart/related") != 0) {
            continue;
        }
        const char *inner = m[i].related[0] ? m[i].related : "application/octet-stream";
        const char *ts = m[i].ts[0] && strcmp(m[i].ts, "*") != 0 ? m[i].ts : NULL;
        for (size_t k = 0; k < sizeof images / sizeof images[0]; k++) {
            if (strcmp(inner, images[k]) == 0) {
                const char *t = ts ? ts : pacs_image_ts_for_media_type(inner);
                if (t && pacs_image_can_transcode_to(t)) {
                    *media = images[k];
                    return t;
                }
            }
        }
        if (strcmp(inner, "application/octet-stream") == 0 && !ts) {
            ts = PACS_TS_EXPLICIT_LE; /* octet-stream's default (PS3.18 8.7.3.5.2): decoded */
        }
        if (strcmp(inner, "application/octet-stream") == 0 && pacs_image_can_transcode_to(ts)) {
            *media = "application/octet-stream";
            return ts;
        }
    }
    return NULL;
}

int pacs_rendered_frames_transcoded(pacs_http_req *r, const char *object, const char *stored_ts,
                                    const uint8_t *layout, size_t layout_len, const uint32_t *idx,
                                    size_t n_idx, const pacs_media *m, size_t nm)
{
    const char *media = NULL;
    const char *ts = frame_target(m, nm, &media);
    if (!ts) {
        return -1;
    }
    pthread_once(&cache_once, cache_init);
    pacs_archive *a = pacs_http_archive(r);
    pacs_errinfo ei;
    pacs_err err = PACS_OK;
    /* The instance as the caller found it in the index (open_pixels only reads the layout). */
    inst in;
    memset(&in, 0, sizeof in);
    snprintf(in.object, sizeof in.object, "%s", object);
    snprintf(in.ts, sizeof in.ts, "%s", stored_ts);
    in.layout = (uint8_t *)layout;
    in.layout_len = layout_len;
    pacs_transcode_params tp = {ts, lossy_allowed(ts), 0, 0};
    char path[4096], boundary[80], key[512];
    int fd = -1;
    pacs_pixel_layout pl;
    memset(&pl, 0, sizeof pl);
    pacs_image_desc *desc = NULL;
    pacs_buf body;
    pacs_buf_init(&body, MAX_BODY);
    pacs_http_boundary(boundary, sizeof boundary);
    for (size_t i = 0; i < n_idx && !err; i++) {
        uint8_t *data = NULL;
        size_t len = 0;
        pacs_image_cache_key(key, sizeof key, in.object, idx[i], ts, media);
        int hit = cache && pacs_image_cache_get(cache, key, &data, &len, NULL);
        if (!hit && fd < 0) { /* the object is opened once, for the first frame not cached */
            err = open_pixels(a, &in, path, &fd, &pl, &desc, &ei);
        }
        if (!hit && !err) {
            pacs_image_source src = {fd, path, in.ts, &pl};
            pacs_codec_frame f;
            int lossy = 0;
            memset(&f, 0, sizeof f);
            err = pacs_image_transcode_frame(&src, desc, idx[i], &tp, &f, &lossy, &ei);
            data = f.data;
            len = f.len;
            if (!err && cache) {
                pacs_image_cache_put(cache, key, data, len, media);
            }
        }
        if (!err) {
            err = pacs_buf_printf(&body, "--%s\r\nContent-Type: %s; transfer-syntax=%s\r\n\r\n",
                                  boundary, media, ts);
        }
        if (!err) {
            err = pacs_buf_append(&body, data, len);
        }
        if (!err) {
            err = pacs_buf_puts(&body, "\r\n");
        }
        free(data);
    }
    if (!err) {
        err = pacs_buf_printf(&body, "--%s--\r\n", boundary);
    }
    pacs_image_desc_free(desc);
    pacs_pixel_layout_clear(&pl);
    if (fd >= 0) {
        close(fd);
    }
    if (err) {
        pacs_buf_free(&body);
        pacs_log(PACS_LOG_WARN, "wado", "req=%lu frames to %s failed: %s", pacs_http_id(r), ts,
                 ei.msg);
        pacs_http_send_error(r, err == PACS_ETOOBIG ? 413 : pacs_http_status_of(err), "%s", ei.msg);
        return 0;
    }
    char ct[200];
    snprintf(ct, sizeof ct, "multipart/related; type=\"%s\"; transfer-syntax=%s; boundary=%s",
             media, ts, boundary);
    pacs_http_send_buf(r, 200, ct, &body, 0);
    return 0;
}
