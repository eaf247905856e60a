// SPDX-License-Identifier: MIT
/*
 * WADO-RS and WADO-URI (wado.h). A response is planned first as a list of segments (literal
 * multipart headers, and byte ranges of stored objects), which fixes its Content-Length before
 * anything is sent; a producer then walks the list, reading each range by pread through an fd
 * the archive opened, at most 256 KiB per step. Metadata is produced in batches of instances
 * (one index query per batch), so a study's JSON never sits in memory whole either.
 *
 * Load: a viewer scrolling a CT asks for one frame per slice; a referral site pulls whole
 * studies. Thread-safe: every request owns its plan and producer.
 */
#include "dicomweb/wado.h"
#include "dicomweb/rendered.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "dicomweb/media.h"
#include "pacs/base/log.h"
#include "pacs/dicom/part10.h"

#define MAX_INSTANCES 500000u
#define MAX_FRAMES 100000u
#define META_BATCH 64u
#define TAG_STUDY_UID 0x0020000Du
#define TAG_SERIES_UID 0x0020000Eu
#define TAG_SOP_UID 0x00080018u

/* ---- the instances a resource names ---- */

typedef struct inst {
    char study[65], series[65], sop[65], ts[65];
    char object[PACS_OBJECT_KEY_LEN + 1];
    uint64_t size;
    uint8_t *layout; /* pixel layout blob, when asked for */
    size_t layout_len;
} inst;

typedef struct inst_list {
    inst *v;
    size_t n, cap;
    int want_layout;
    pacs_err err;
} inst_list;

static void inst_list_free(inst_list *l)
{
    for (size_t i = 0; i < l->n; i++) {
        free(l->v[i].layout);
    }
    free(l->v);
    memset(l, 0, sizeof *l);
}

static int collect(void *ctx, const pacs_instance_rec *rec)
{
    inst_list *l = ctx;
    if (l->n == MAX_INSTANCES) {
        l->err = PACS_ETOOBIG;
        return 1;
    }
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        inst *g = realloc(l->v, cap * sizeof *g);
        if (!g) {
            l->err = PACS_ENOMEM;
            return 1;
        }
        l->v = g;
        l->cap = cap;
    }
    inst *in = &l->v[l->n];
    memset(in, 0, sizeof *in);
    memcpy(in->study, rec->study_uid, sizeof in->study);
    memcpy(in->series, rec->series_uid, sizeof in->series);
    memcpy(in->sop, rec->sop_uid, sizeof in->sop);
    memcpy(in->ts, rec->ts, sizeof in->ts);
    memcpy(in->object, rec->object, sizeof in->object);
    in->size = rec->size;
    if (l->want_layout && rec->pixel_layout && rec->pixel_layout_len) {
        in->layout = malloc(rec->pixel_layout_len);
        if (!in->layout) {
            l->err = PACS_ENOMEM;
            return 1;
        }
        memcpy(in->layout, rec->pixel_layout, rec->pixel_layout_len);
        in->layout_len = rec->pixel_layout_len;
    }
    l->n++;
    return 0;
}

/* The query naming the resource of `rt`: its deepest UID and the ones above it. */
static pacs_query *resource_query(const pacs_route *rt, pacs_errinfo *ei)
{
    pacs_level level = rt->sop      ? PACS_LEVEL_INSTANCE
                       : rt->series ? PACS_LEVEL_SERIES
                                    : PACS_LEVEL_STUDY;
    pacs_query *q = pacs_query_new(level);
    if (!q) {
        pacs_errf(ei, PACS_ENOMEM, "out of memory");
        return NULL;
    }
    pacs_err err = pacs_query_add(q, TAG_STUDY_UID, "UI", rt->study, ei);
    if (err == PACS_OK && rt->series) {
        err = pacs_query_add(q, TAG_SERIES_UID, "UI", rt->series, ei);
    }
    if (err == PACS_OK && rt->sop) {
        err = pacs_query_add(q, TAG_SOP_UID, "UI", rt->sop, ei);
    }
    if (err != PACS_OK) {
        pacs_query_free(q);
        return NULL;
    }
    return q;
}

static const char *resource_name(const pacs_route *rt)
{
    return rt->sop ? "instance" : rt->series ? "series" : "study";
}

/* Lists the instances of `rt`; PACS_ENOTFOUND when there are none. */
static pacs_err list_instances(pacs_http_req *r, const pacs_route *rt, int want_layout,
                               inst_list *out, pacs_errinfo *ei)
{
    memset(out, 0, sizeof *out);
    out->want_layout = want_layout;
    pacs_query *q = resource_query(rt, ei);
    if (!q) {
        return PACS_ENOMEM;
    }
    pacs_err err = pacs_archive_instances(pacs_http_archive(r), q, 0, collect, out, ei);
    pacs_query_free(q);
    if (err == PACS_OK && out->err != PACS_OK) {
        err = pacs_errf(ei, out->err,
                        out->err == PACS_ETOOBIG ? "too many instances" : "out of memory");
    }
    if (err == PACS_OK && out->n == 0) {
        err = pacs_errf(ei, PACS_ENOTFOUND, "no such %s", resource_name(rt));
    }
    if (err != PACS_OK) {
        inst_list_free(out);
    }
    return err;
}

/* ---- response plans: literal text and byte ranges of stored objects ---- */

typedef struct seg {
    char *text; /* literal, or NULL for a file range */
    size_t obj; /* index into objects */
    uint64_t off, len;
    unsigned swap; /* 0, or the word size to swap to little endian */
} seg;

typedef struct plan {
    pacs_archive *a;
    unsigned long req_id;
    char (*objects)[PACS_OBJECT_KEY_LEN + 1];
    size_t n_objects, cap_objects;
    seg *v;
    size_t n, cap;
    uint64_t total;
    int failed;
    /* producing */
    size_t i;
    uint64_t done;
    int fd;
    size_t fd_obj;
} plan;

static plan *plan_new(pacs_http_req *r)
{
    plan *p = calloc(1, sizeof *p);
    if (p) {
        p->a = pacs_http_archive(r);
        p->req_id = pacs_http_id(r);
        p->fd = -1;
    }
    return p;
}

static void plan_free(void *ctx)
{
    plan *p = ctx;
    if (!p) {
        return;
    }
    for (size_t i = 0; i < p->n; i++) {
        free(p->v[i].text);
    }
    if (p->fd >= 0) {
        close(p->fd);
    }
    free(p->objects);
    free(p->v);
    free(p);
}

static seg *plan_seg(plan *p)
{
    if (p->n == p->cap) {
        size_t cap = p->cap ? p->cap * 2 : 16;
        seg *g = realloc(p->v, cap * sizeof *g);
        if (!g) {
            p->failed = 1;
            return NULL;
        }
        p->v = g;
        p->cap = cap;
    }
    seg *s = &p->v[p->n++];
    memset(s, 0, sizeof *s);
    return s;
}

static void plan_text(plan *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void plan_text(plan *p, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char *text = NULL;
    int n = vasprintf(&text, fmt, ap);
    va_end(ap);
    if (n < 0) {
        p->failed = 1;
        return;
    }
    seg *s = plan_seg(p);
    if (!s) {
        free(text);
        return;
    }
    s->text = text;
    s->len = (uint64_t)n;
    p->total += (uint64_t)n;
}

static size_t plan_object(plan *p, const char *object)
{
    if (p->n_objects > 0 && strcmp(p->objects[p->n_objects - 1], object) == 0) {
        return p->n_objects - 1;
    }
    if (p->n_objects == p->cap_objects) {
        size_t cap = p->cap_objects ? p->cap_objects * 2 : 16;
        void *g = realloc(p->objects, cap * sizeof *p->objects);
        if (!g) {
            p->failed = 1;
            return 0;
        }
        p->objects = g;
        p->cap_objects = cap;
    }
    snprintf(p->objects[p->n_objects], sizeof p->objects[0], "%s", object);
    return p->n_objects++;
}

static void plan_range(plan *p, const char *object, uint64_t off, uint64_t len, unsigned swap)
{
    size_t obj = plan_object(p, object);
    seg *s = p->failed ? NULL : plan_seg(p);
    if (!s) {
        return;
    }
    s->obj = obj;
    s->off = off;
    s->len = len;
    s->swap = swap;
    p->total += len;
}

static void swap_words(char *buf, size_t n, unsigned w)
{
    for (size_t i = 0; i + w <= n; i += w) {
        for (unsigned a = 0, b = w - 1; a < b; a++, b--) {
            char t = buf[i + a];
            buf[i + a] = buf[i + b];
            buf[i + b] = t;
        }
    }
}

/* Writes the plan's next bytes straight into libmicrohttpd's send buffer. */
static pacs_err plan_fill(void *ctx, char *buf, size_t max, size_t *n, int *eof, pacs_errinfo *ei)
{
    plan *p = ctx;
    size_t len = 0;
    while (len < max && p->i < p->n) {
        seg *s = &p->v[p->i];
        if (s->text) {
            size_t k = s->len - p->done < max - len ? (size_t)(s->len - p->done) : max - len;
            memcpy(buf + len, s->text + p->done, k);
            len += k;
            p->done += k;
            if (p->done == s->len) {
                p->done = 0;
                p->i++;
            }
            continue;
        }
        if (p->fd < 0 || p->fd_obj != s->obj) {
            if (p->fd >= 0) {
                close(p->fd);
                p->fd = -1;
            }
            pacs_err err = pacs_archive_open_object(p->a, p->objects[s->obj], &p->fd, ei);
            if (err != PACS_OK) {
                return err;
            }
            p->fd_obj = s->obj;
        }
        uint64_t want = s->len - p->done;
        if (want > max - len) {
            want = max - len;
        }
        if (s->swap > 1) {
            want -= want % s->swap;
            if (want == 0) {
                break; /* the next call has room for a whole word */
            }
        }
        ssize_t got = pread(p->fd, buf + len, (size_t)want, (off_t)(s->off + p->done));
        if (got < 0 && errno == EINTR) {
            continue;
        }
        if (got <= 0 || (s->swap > 1 && got % s->swap)) {
            return pacs_errf(ei, PACS_ECORRUPT, "object %s is shorter than indexed",
                             p->objects[s->obj]);
        }
        if (s->swap > 1) {
            swap_words(buf + len, (size_t)got, s->swap);
        }
        len += (size_t)got;
        p->done += (uint64_t)got;
        if (p->done == s->len) {
            p->done = 0;
            p->i++;
        }
    }
    if (p->i == p->n) {
        *eof = 1;
        if (p->fd >= 0) {
            close(p->fd);
            p->fd = -1;
        }
    }
    *n = len;
    return PACS_OK;
}

/* Sends a plan (taken) as the response. */
static void send_plan(pacs_http_req *r, plan *p, const char *content_type)
{
    if (p->failed) {
        plan_free(p);
        pacs_http_send_error(r, 500, "out of memory");
        return;
    }
    pacs_http_send_fill(r, 200, content_type, p->total, plan_fill, p, plan_free);
}

/* ---- negotiation ---- */

static pacs_err read_accept(pacs_http_req *r, pacs_media *m, size_t *n, pacs_errinfo *ei)
{
    const char *accept = pacs_params_get(pacs_http_params(r), "accept");
    if (!accept) {
        accept = pacs_http_header(r, "Accept");
    }
    return pacs_media_accept_parse(accept, m, PACS_ACCEPT_MAX, n, ei);
}

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

/* 0: multipart; 1: bare application/dicom (one instance); -1: nothing acceptable. */
static int pick_retrieve(const pacs_media *m, size_t n, const inst_list *l, int single_ok)
{
    for (size_t i = 0; i < n; i++) {
        if (is_any(&m[i])) {
            return 0; /* no preference stated: the stored bytes */
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
            return multi ? 0 : 1;
        }
    }
    return -1;
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

/*
 * How pixel data stored in `ts` (`native`: uncompressed) is sent: writes the part media type
 * (with its transfer-syntax) and the multipart `type`. Returns 0 for multipart, 1 for a
 * single-part body (allowed for one item), -1 when nothing acceptable can be sent as stored.
 */
static int pick_pixels(const pacs_media *m, size_t n, const char *ts, int native, int one_item,
                       char *part, size_t part_cap, char *related, size_t rel_cap)
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
            return multi ? 0 : 1;
        }
    }
    return -1;
}

static int wants_json(const pacs_media *m, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (pacs_media_covers(&m[i], "application/dicom+json") ||
            pacs_media_covers(&m[i], "application/json")) {
            return 1;
        }
    }
    return 0;
}

/* ---- retrieve ---- */

static void send_object_fd(pacs_http_req *r, const inst *in, int with_ts)
{
    int fd = -1;
    pacs_errinfo ei;
    pacs_err err = pacs_archive_open_object(pacs_http_archive(r), in->object, &fd, &ei);
    if (err != PACS_OK) {
        pacs_http_send_error(r, err == PACS_ENOTFOUND ? 500 : pacs_http_status_of(err),
                             "cannot read the stored object: %s", ei.msg);
        return;
    }
    /* A one-instance plan: the same streaming path, sized by the index. */
    plan *p = plan_new(r);
    if (!p) {
        close(fd);
        pacs_http_send_error(r, 500, "out of memory");
        return;
    }
    plan_range(p, in->object, 0, in->size, 0);
    p->fd = fd;
    p->fd_obj = 0;
    /* PS3.18 8.7.3.5.2: no transfer-syntax parameter in URI service responses. */
    char ct[128];
    snprintf(ct, sizeof ct, "application/dicom%s%s", with_ts ? "; transfer-syntax=" : "",
             with_ts ? in->ts : "");
    send_plan(r, p, ct);
}

void pacs_wado_retrieve(pacs_http_req *r, const pacs_route *rt)
{
    pacs_errinfo ei;
    pacs_media m[PACS_ACCEPT_MAX];
    size_t nm = 0;
    if (read_accept(r, m, &nm, &ei) != PACS_OK) {
        pacs_http_send_error(r, 400, "Accept: %s", ei.msg);
        return;
    }
    inst_list l;
    pacs_err err = list_instances(r, rt, 0, &l, &ei);
    if (err != PACS_OK) {
        pacs_http_send_error(r, pacs_http_status_of(err), "%s", ei.msg);
        return;
    }
    int how = pick_retrieve(m, nm, &l, rt->sop != NULL);
    if (how < 0 && nm > 0) {
        inst_list_free(&l);
        pacs_rendered_transcoded(r, rt, m, nm); /* dicomweb/rendered.c */
        return;
    }
    if (how < 0) {
        pacs_http_send_error(r, 406,
                             "nothing acceptable: the %s is stored as %s%s; ask for "
                             "multipart/related; type=\"application/dicom\"; transfer-syntax=* "
                             "(no transcoding was possible)",
                             resource_name(rt), l.v[0].ts, l.n > 1 ? " (and others)" : "");
        inst_list_free(&l);
        return;
    }
    if (how == 1) {
        send_object_fd(r, &l.v[0], 1);
        inst_list_free(&l);
        return;
    }
    char boundary[40];
    pacs_http_boundary(boundary, sizeof boundary);
    plan *p = plan_new(r);
    if (!p) {
        inst_list_free(&l);
        pacs_http_send_error(r, 500, "out of memory");
        return;
    }
    const char *base = pacs_http_base_url(r);
    for (size_t i = 0; i < l.n && !p->failed; i++) {
        const inst *in = &l.v[i];
        plan_text(p,
                  "%s--%s\r\nContent-Type: application/dicom; transfer-syntax=%s\r\n"
                  "Content-Location: %s/studies/%s/series/%s/instances/%s\r\n\r\n",
                  i ? "\r\n" : "", boundary, in->ts, base, in->study, in->series, in->sop);
        plan_range(p, in->object, 0, in->size, 0);
    }
    plan_text(p, "\r\n--%s--\r\n", boundary);
    inst_list_free(&l);
    char ct[160];
    snprintf(ct, sizeof ct, "multipart/related; type=\"application/dicom\"; boundary=%s", boundary);
    send_plan(r, p, ct);
}

/* ---- metadata ---- */

typedef struct meta_stream {
    pacs_archive *a;
    char *base;
    inst_list l;
    size_t next, emitted;
    int started;
    pacs_buf *out;
    pacs_err err;
    pacs_errinfo ei;
} meta_stream;

static void meta_free(void *ctx)
{
    meta_stream *ms = ctx;
    if (!ms) {
        return;
    }
    inst_list_free(&ms->l);
    free(ms->base);
    free(ms);
}

static int meta_cb(void *ctx, const pacs_instance_rec *rec)
{
    meta_stream *ms = ctx;
    if (!rec->metadata || rec->metadata_len == 0) {
        return 0;
    }
    char url[512];
    snprintf(url, sizeof url, "%s/studies/%s/series/%s/instances/%s", ms->base, rec->study_uid,
             rec->series_uid, rec->sop_uid);
    pacs_err err = ms->emitted ? pacs_buf_append(ms->out, ",", 1) : PACS_OK;
    if (err == PACS_OK) {
        err = pacs_archive_metadata_append(rec->metadata, rec->metadata_len, url, ms->out, &ms->ei);
    }
    if (err != PACS_OK) {
        ms->err = err;
        return 1;
    }
    ms->emitted++;
    return 0;
}

/* Appends the metadata of instances [next, next + batch) to `out`. */
static pacs_err meta_batch(meta_stream *ms, size_t batch, pacs_errinfo *ei)
{
    pacs_query *q = pacs_query_new(PACS_LEVEL_INSTANCE);
    char *list = malloc(batch * 65 + 1);
    pacs_err err = q && list ? PACS_OK : pacs_errf(ei, PACS_ENOMEM, "out of memory");
    if (err == PACS_OK) {
        size_t o = 0;
        for (size_t i = 0; i < batch; i++) {
            o += (size_t)sprintf(list + o, "%s%s", i ? "\\" : "", ms->l.v[ms->next + i].sop);
        }
        err = pacs_query_add(q, TAG_STUDY_UID, "UI", ms->l.v[ms->next].study, ei);
    }
    if (err == PACS_OK) {
        err = pacs_query_add(q, TAG_SOP_UID, "UI", list, ei);
    }
    if (err == PACS_OK) {
        err = pacs_archive_instances(ms->a, q, PACS_REC_METADATA, meta_cb, ms, ei);
    }
    pacs_query_free(q);
    free(list);
    if (err == PACS_OK && ms->err != PACS_OK) {
        err = ms->err;
        if (ei) {
            *ei = ms->ei;
        }
    }
    return err;
}

static pacs_err meta_produce(void *ctx, pacs_buf *out, int *eof, pacs_errinfo *ei)
{
    meta_stream *ms = ctx;
    ms->out = out;
    if (!ms->started) {
        ms->started = 1;
        pacs_buf_append(out, "[", 1);
    }
    size_t batch = ms->l.n - ms->next < META_BATCH ? ms->l.n - ms->next : META_BATCH;
    while (batch > 0) {
        size_t len0 = out->len, emitted0 = ms->emitted;
        pacs_err err = meta_batch(ms, batch, ei);
        if (err == PACS_OK) {
            ms->next += batch;
            break;
        }
        if (err != PACS_ETOOBIG || batch == 1) {
            return err;
        }
        /* Large metadata (enhanced multi-frame objects): the same instances in halves. */
        out->len = len0;
        out->data[len0] = '\0';
        ms->emitted = emitted0;
        ms->err = PACS_OK;
        batch /= 2;
    }
    if (ms->next == ms->l.n) {
        pacs_buf_append(out, "]", 1);
        *eof = 1;
    } else if (out->len == 0) {
        /* A batch whose instances all went away meanwhile: keep the body non-empty. */
        pacs_buf_append(out, " ", 1);
    }
    return PACS_OK;
}

void pacs_wado_metadata(pacs_http_req *r, const pacs_route *rt)
{
    pacs_errinfo ei;
    pacs_media m[PACS_ACCEPT_MAX];
    size_t nm = 0;
    if (read_accept(r, m, &nm, &ei) != PACS_OK) {
        pacs_http_send_error(r, 400, "Accept: %s", ei.msg);
        return;
    }
    if (!wants_json(m, nm)) {
        pacs_http_send_error(r, 406, "metadata is served as application/dicom+json only");
        return;
    }
    meta_stream *ms = calloc(1, sizeof *ms);
    if (!ms || !(ms->base = strdup(pacs_http_base_url(r)))) {
        free(ms);
        pacs_http_send_error(r, 500, "out of memory");
        return;
    }
    ms->a = pacs_http_archive(r);
    pacs_err err = list_instances(r, rt, 0, &ms->l, &ei);
    if (err != PACS_OK) {
        meta_free(ms);
        pacs_http_send_error(r, pacs_http_status_of(err), "%s", ei.msg);
        return;
    }
    pacs_http_send_stream(r, 200, "application/dicom+json", UINT64_MAX, 1, meta_produce, ms,
                          meta_free);
}

/* ---- frames and bulk data ---- */

pacs_err pacs_wado_frame_list(const char *text, uint32_t *out, size_t cap, size_t *n,
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
typedef struct bits_ctx {
    unsigned bits;
} bits_ctx;

static int bits_cb(void *ctx, const pacs_instance_rec *rec)
{
    bits_ctx *b = ctx;
    json_t *j = rec->metadata ? json_loadb(rec->metadata, rec->metadata_len, 0, NULL) : NULL;
    json_t *v = json_array_get(json_object_get(json_object_get(j, "00280100"), "Value"), 0);
    if (json_is_integer(v)) {
        b->bits = (unsigned)json_integer_value(v);
    }
    json_decref(j);
    return 1;
}

/* The word size to swap a native big endian instance's pixels by (0: none). */
static unsigned swap_size(pacs_http_req *r, const pacs_route *rt)
{
    pacs_errinfo ei;
    pacs_query *q = resource_query(rt, &ei);
    bits_ctx b = {0};
    if (q) {
        pacs_archive_instances(pacs_http_archive(r), q, PACS_REC_METADATA, bits_cb, &b, &ei);
    }
    pacs_query_free(q);
    return b.bits >= 16 && b.bits % 8 == 0 ? b.bits / 8 : 0;
}

/* Frames `idx` (0-based) of the instance `rt` names, as PS3.18 10.4.1.1.4 sends them. */
static void send_frames(pacs_http_req *r, const pacs_route *rt, const uint32_t *idx, size_t n_idx,
                        int whole_pixel_data)
{
    pacs_errinfo ei;
    pacs_media m[PACS_ACCEPT_MAX];
    size_t nm = 0;
    if (read_accept(r, m, &nm, &ei) != PACS_OK) {
        pacs_http_send_error(r, 400, "Accept: %s", ei.msg);
        return;
    }
    inst_list l;
    pacs_err err = list_instances(r, rt, 1, &l, &ei);
    if (err != PACS_OK) {
        pacs_http_send_error(r, pacs_http_status_of(err), "%s", ei.msg);
        return;
    }
    const inst *in = &l.v[0];
    pacs_pixel_layout pl;
    memset(&pl, 0, sizeof pl);
    plan *p = NULL;
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
    if (whole_pixel_data) {
        /* Bulk data of Pixel Data: native as one value, encapsulated as its frames. */
        if (native) {
            n_idx = 1;
        } else {
            all = malloc((pl.n_frames ? pl.n_frames : 1) * sizeof *all);
            if (!all) {
                pacs_http_send_error(r, 500, "out of memory");
                goto done;
            }
            for (uint32_t f = 0; f < pl.n_frames; f++) {
                all[f] = f;
            }
            idx = all;
            n_idx = pl.n_frames;
        }
    }
    for (size_t i = 0; i < n_idx && !(whole_pixel_data && native); i++) {
        if (idx[i] >= pl.n_frames) {
            pacs_http_send_error(r, 404, "frame %u does not exist (the instance has %u)",
                                 idx[i] + 1, pl.n_frames);
            goto done;
        }
    }
    char part[160], related[80];
    int how =
        pick_pixels(m, nm, in->ts, native, n_idx == 1, part, sizeof part, related, sizeof related);
    if (how < 0 && !whole_pixel_data &&
        pacs_rendered_frames_transcoded(r, in->object, in->ts, in->layout, in->layout_len, idx,
                                        n_idx, m, nm) == 0) {
        goto done; /* dicomweb/rendered.c answered in another transfer syntax */
    }
    if (how < 0) {
        pacs_http_send_error(r, 406,
                             "nothing acceptable: the pixel data is stored as %s (%s); ask for "
                             "multipart/related; type=\"application/octet-stream\"; "
                             "transfer-syntax=*, or an image type or transfer syntax this "
                             "server writes (image/jls, image/jp2, image/jphc, image/jpeg, "
                             "image/dicom-rle)",
                             in->ts, native ? "uncompressed" : "compressed");
        goto done;
    }
    unsigned swap = native && pl.bigendian ? swap_size(r, rt) : 0;
    ranges = calloc(pl.n_fragments + 1, sizeof *ranges);
    p = plan_new(r);
    if (!ranges || !p) {
        pacs_http_send_error(r, 500, "out of memory");
        goto done;
    }
    char boundary[40];
    pacs_http_boundary(boundary, sizeof boundary);
    const char *base = pacs_http_base_url(r);
    for (size_t i = 0; i < n_idx && !p->failed; i++) {
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
        if (how == 0) {
            if (whole_pixel_data) {
                plan_text(p, "%s--%s\r\nContent-Type: %s\r\n\r\n", i ? "\r\n" : "", boundary, part);
            } else {
                plan_text(p,
                          "%s--%s\r\nContent-Type: %s\r\nContent-Location: "
                          "%s/studies/%s/series/%s/instances/%s/frames/%u\r\n\r\n",
                          i ? "\r\n" : "", boundary, part, base, in->study, in->series, in->sop,
                          idx[i] + 1);
            }
        }
        for (size_t k = 0; k < nr; k++) {
            plan_range(p, in->object, ranges[k].offset, ranges[k].length, swap);
        }
    }
    if (how == 0) {
        plan_text(p, "\r\n--%s--\r\n", boundary);
        char ct[200];
        snprintf(ct, sizeof ct, "multipart/related; type=\"%s\"; boundary=%s", related, boundary);
        send_plan(r, p, ct);
    } else {
        send_plan(r, p, part);
    }
    p = NULL;
done:
    plan_free(p);
    free(ranges);
    free(all);
    pacs_pixel_layout_clear(&pl);
    inst_list_free(&l);
}

void pacs_wado_frames(pacs_http_req *r, const pacs_route *rt)
{
    pacs_errinfo ei;
    size_t n = 0;
    uint32_t *idx = malloc(MAX_FRAMES * sizeof *idx);
    if (!idx) {
        pacs_http_send_error(r, 500, "out of memory");
        return;
    }
    if (pacs_wado_frame_list(rt->arg, idx, MAX_FRAMES, &n, &ei) != PACS_OK) {
        free(idx);
        pacs_http_send_error(r, 400, "%s", ei.msg);
        return;
    }
    send_frames(r, rt, idx, n, 0);
    free(idx);
}

/* The word size a big endian value of `vr` is swapped by (0: bytes). */
static unsigned vr_word(const char *vr)
{
    static const struct {
        const char *vr;
        unsigned w;
    } words[] = {{"OW", 2}, {"US", 2}, {"SS", 2}, {"OL", 4}, {"OF", 4}, {"UL", 4}, {"SL", 4},
                 {"FL", 4}, {"OD", 8}, {"FD", 8}, {"OV", 8}, {"SV", 8}, {"UV", 8}};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
        if (strcmp(words[i].vr, vr) == 0) {
            return words[i].w;
        }
    }
    return 0;
}

void pacs_wado_bulkdata(pacs_http_req *r, const pacs_route *rt)
{
    if (strcasecmp(rt->arg, "7FE00010") == 0) {
        /* Top-level Pixel Data: native as one value, encapsulated as its frames. */
        send_frames(r, rt, NULL, 0, 1);
        return;
    }
    pacs_errinfo ei;
    pacs_media m[PACS_ACCEPT_MAX];
    size_t nm = 0;
    if (read_accept(r, m, &nm, &ei) != PACS_OK) {
        pacs_http_send_error(r, 400, "Accept: %s", ei.msg);
        return;
    }
    int how = -1;
    for (size_t i = 0; i < nm && how < 0; i++) {
        pacs_media rel =
            is_multipart(&m[i]) ? related_range(&m[i], "application/octet-stream") : m[i];
        if (pacs_media_covers(&rel, "application/octet-stream")) {
            how = is_multipart(&m[i]) || is_any(&m[i]) ? 0 : 1;
        }
    }
    if (how < 0) {
        pacs_http_send_error(r, 406, "bulk data is served as application/octet-stream");
        return;
    }
    inst_list l;
    pacs_err err = list_instances(r, rt, 0, &l, &ei);
    if (err != PACS_OK) {
        pacs_http_send_error(r, pacs_http_status_of(err), "%s", ei.msg);
        return;
    }
    pacs_bulk_range br;
    err = pacs_archive_bulkdata_find(pacs_http_archive(r), l.v[0].object, rt->arg, &br, &ei);
    if (err != PACS_OK) {
        inst_list_free(&l);
        pacs_http_send_error(r, err == PACS_ECORRUPT ? 500 : pacs_http_status_of(err), "%s",
                             ei.msg);
        return;
    }
    plan *p = plan_new(r);
    if (!p) {
        inst_list_free(&l);
        pacs_http_send_error(r, 500, "out of memory");
        return;
    }
    char boundary[40];
    pacs_http_boundary(boundary, sizeof boundary);
    unsigned swap = br.bigendian ? vr_word(br.vr) : 0;
    if (how == 0) {
        plan_text(p, "--%s\r\nContent-Type: application/octet-stream\r\n\r\n", boundary);
    }
    plan_range(p, l.v[0].object, br.offset, br.length, swap);
    inst_list_free(&l);
    if (how == 0) {
        plan_text(p, "\r\n--%s--\r\n", boundary);
        char ct[160];
        snprintf(ct, sizeof ct, "multipart/related; type=\"application/octet-stream\"; boundary=%s",
                 boundary);
        send_plan(r, p, ct);
    } else {
        send_plan(r, p, "application/octet-stream");
    }
}

/* ---- WADO-URI ---- */

void pacs_wado_uri(pacs_http_req *r, const pacs_route *route)
{
    (void)route; /* WADO-URI names its object in the query, not the path */
    const pacs_params *pp = pacs_http_params(r);
    const char *type = pacs_params_get(pp, "requestType");
    const char *st = pacs_params_get(pp, "studyUID"), *se = pacs_params_get(pp, "seriesUID"),
               *sop = pacs_params_get(pp, "objectUID");
    const char *ct = pacs_params_get(pp, "contentType");
    const char *ts = pacs_params_get(pp, "transferSyntax");
    if (!type || strcmp(type, "WADO") != 0) {
        pacs_http_send_error(r, 400, "requestType=WADO is required");
        return;
    }
    if (!st || !se || !sop || !pacs_uid_valid(st) || !pacs_uid_valid(se) || !pacs_uid_valid(sop)) {
        pacs_http_send_error(r, 400, "studyUID, seriesUID and objectUID must be valid UIDs");
        return;
    }
    /* contentType may list several types; application/dicom is what can be sent as stored. */
    int dicom = 0, listed = ct && ct[0];
    if (listed) {
        pacs_media m[PACS_ACCEPT_MAX];
        size_t nm = 0;
        pacs_errinfo ei;
        if (pacs_media_accept_parse(ct, m, PACS_ACCEPT_MAX, &nm, &ei) != PACS_OK) {
            pacs_http_send_error(r, 400, "contentType: %s", ei.msg);
            return;
        }
        for (size_t i = 0; i < nm; i++) {
            dicom |= strcmp(m[i].type, "application/dicom") == 0 || is_any(&m[i]);
        }
    }
    if (!dicom) {
        pacs_rendered_uri(r, st, se, sop); /* image/jpeg (the default) or image/png */
        return;
    }
    pacs_route rt;
    memset(&rt, 0, sizeof rt);
    rt.kind = PACS_ROUTE_RESOURCE;
    rt.study = st;
    rt.series = se;
    rt.sop = sop;
    inst_list l;
    pacs_errinfo ei;
    pacs_err err = list_instances(r, &rt, 0, &l, &ei);
    if (err != PACS_OK) {
        pacs_http_send_error(r, pacs_http_status_of(err), "%s", ei.msg);
        return;
    }
    if (ts && ts[0] && strcmp(ts, "*") != 0 && strcmp(ts, l.v[0].ts) != 0) {
        pacs_http_send_error(r, 406,
                             "the object is stored as %s; WADO-URI does not transcode to "
                             "%.64s (WADO-RS does)",
                             l.v[0].ts, ts);
        inst_list_free(&l);
        return;
    }
    send_object_fd(r, &l.v[0], 0);
    inst_list_free(&l);
}
