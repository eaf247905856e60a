// SPDX-License-Identifier: MIT
/*
 * Delivery plans (delivery.h): which of as stored, converted or transcoded an instance needs,
 * and carrying it out: DCMTK re-encodes a converted dataset (pacs_codec_recode_coerced), pacs/image
 * transcodes pixels (pacs_image_transcode), both into a file descriptor the caller or the
 * archive's temporary folder provides. An instance reconciled to an order's patient is
 * converted, even into its own syntax, with the patient attributes the index serves.
 */
#include "storage/delivery.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pacs/dicom/codec.h"
#include "pacs/dicom/dcm.h"
#include "pacs/image/transcode.h"

static int eq(const char *a, const char *b)
{
    return a && b && strcmp(a, b) == 0;
}

/* The syntaxes whose pixel data DCMTK writes without a codec. */
static int native(const char *ts)
{
    return eq(ts, PACS_TS_IMPLICIT_LE) || eq(ts, PACS_TS_EXPLICIT_LE) ||
           eq(ts, PACS_TS_EXPLICIT_BE) || eq(ts, PACS_TS_DEFLATED_LE);
}

static int htj2k(const char *ts)
{
    return eq(ts, PACS_TS_HTJ2K_LOSSLESS) || eq(ts, PACS_TS_HTJ2K_LOSSLESS_RPCL) ||
           eq(ts, PACS_TS_HTJ2K);
}

/* Lossy by name: what pacs/image writes only lossy (JPEG 4.91 and HTJ2K 4.203 it writes
 * lossless unless lossy is allowed). */
static int lossy_only(const char *ts)
{
    return pacs_image_ts_is_lossy(ts) && !eq(ts, PACS_TS_J2K) && !eq(ts, PACS_TS_HTJ2K);
}

const char *pacs_delivery_kind_name(pacs_delivery_kind kind)
{
    switch (kind) {
    case PACS_DELIVERY_AS_STORED:
        return "as stored";
    case PACS_DELIVERY_CONVERTED:
        return "converted";
    case PACS_DELIVERY_TRANSCODED:
        return "transcoded";
    default:
        return "none";
    }
}

pacs_delivery_kind pacs_delivery_kind_of(const char *stored_ts, const char *target_ts,
                                         int has_pixels, unsigned flags)
{
    if (!stored_ts || !target_ts || !stored_ts[0] || !target_ts[0]) {
        return PACS_DELIVERY_NONE;
    }
    if (eq(stored_ts, target_ts)) {
        return PACS_DELIVERY_AS_STORED;
    }
    if (!pacs_dcm_ts_known(stored_ts) || !pacs_dcm_ts_known(target_ts)) {
        return PACS_DELIVERY_NONE;
    }
    if (native(stored_ts) && native(target_ts)) {
        return PACS_DELIVERY_CONVERTED;
    }
    if (!has_pixels) {
        /* Nothing to encode: DCMTK writes the dataset in any syntax it knows. */
        return htj2k(stored_ts) || htj2k(target_ts) ? PACS_DELIVERY_NONE : PACS_DELIVERY_CONVERTED;
    }
    if (!pacs_image_can_decode(stored_ts) || !pacs_image_can_transcode_to(target_ts)) {
        return PACS_DELIVERY_NONE;
    }
    if (lossy_only(target_ts) && !(flags & PACS_DELIVERY_LOSSY)) {
        return PACS_DELIVERY_NONE;
    }
    return PACS_DELIVERY_TRANSCODED;
}

int pacs_delivery_choose(const char *stored_ts, int has_pixels, const char *const *offered,
                         size_t n, unsigned flags)
{
    for (size_t i = 0; i < n; i++) {
        if (eq(offered[i], stored_ts)) {
            return (int)i;
        }
    }
    int best = -1, best_rank = 99;
    for (size_t i = 0; i < n; i++) {
        int rank = eq(offered[i], PACS_TS_EXPLICIT_LE)   ? 0
                   : eq(offered[i], PACS_TS_IMPLICIT_LE) ? 1
                                                         : 2;
        if (rank < best_rank &&
            pacs_delivery_kind_of(stored_ts, offered[i], has_pixels, flags) != PACS_DELIVERY_NONE) {
            best = (int)i;
            best_rank = rank;
        }
    }
    return best;
}

pacs_err pacs_delivery_plan_for(const pacs_resolve_item *it, const char *target_ts, unsigned flags,
                                pacs_delivery_plan *out, pacs_errinfo *ei)
{
    pacs_delivery_kind kind = pacs_delivery_kind_of(it->ts, target_ts, it->has_pixels, flags);
    if (kind == PACS_DELIVERY_NONE) {
        return pacs_errf(ei, PACS_EUNSUPPORTED,
                         "instance %s is stored as %s%s, which this server "
                         "cannot make into %s",
                         it->sop_uid, it->ts, it->has_pixels ? "" : " (no pixel data)",
                         target_ts && target_ts[0] ? target_ts : "(none)");
    }
    /* An instance reconciled to an order goes out with the identity the archive serves: its
     * dataset written again, with the patient's attributes coerced (encapsulated pixel data,
     * HTJ2K's too, copied as they are). */
    if (kind == PACS_DELIVERY_AS_STORED && it->coerce) {
        kind = PACS_DELIVERY_CONVERTED;
    }
    memset(out, 0, sizeof *out);
    out->kind = kind;
    snprintf(out->ts, sizeof out->ts, "%s", target_ts);
    out->flags = flags;
    return PACS_OK;
}

/* ---- carrying a plan out ---- */

/* What pacs/image is asked for: lossy only for a syntax that is lossy by name, and only when the
 * plan allows it; the SOP Instance UID is kept (the same instance in another encoding). */
static void transcode_params(const pacs_delivery_plan *p, pacs_transcode_params *tp)
{
    memset(tp, 0, sizeof *tp);
    tp->ts_uid = p->ts;
    tp->allow_lossy = (p->flags & PACS_DELIVERY_LOSSY) && lossy_only(p->ts);
}

static pacs_err copy_fd(int in_fd, int out_fd, uint64_t *written, pacs_errinfo *ei)
{
    char buf[65536];
    off_t off = 0;
    for (;;) {
        ssize_t n = pread(in_fd, buf, sizeof buf, off);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return pacs_errf(ei, PACS_ECORRUPT, "reading the stored object: %s", strerror(errno));
        }
        if (n == 0) {
            return PACS_OK;
        }
        for (ssize_t done = 0; done < n;) {
            ssize_t w = write(out_fd, buf + done, (size_t)(n - done));
            if (w < 0 && errno == EINTR) {
                continue;
            }
            if (w < 0) {
                return pacs_errf(ei, pacs_err_from_errno(errno), "write: %s", strerror(errno));
            }
            done += w;
            *written += (uint64_t)w;
        }
        off += n;
    }
}

/* ---- coercion: the identity the index serves, written into what goes out ---- */

/* The attributes a reconciled instance is coerced with: the patient's, the Original Attributes
 * Sequence that keeps what was received, and the time of the coercion. */
static const char *const coerced_tags[] = {"00100010", "00100020", "00100021", "00100030",
                                           "00100040", "00101002", "04000561", "00080015"};

static int take_coercion(void *ctx, const pacs_instance_rec *rec)
{
    json_error_t jerr;
    json_t *meta = json_loadb(rec->metadata, rec->metadata_len, 0, &jerr);
    json_t *c = json_object();
    if (meta && c && json_object_get(meta, "04000561")) {
        for (size_t i = 0; i < sizeof coerced_tags / sizeof coerced_tags[0]; i++) {
            json_t *v = json_object_get(meta, coerced_tags[i]);
            if (v) {
                json_object_set(c, coerced_tags[i], v);
            }
        }
        *(json_t **)ctx = c;
        c = NULL;
    }
    json_decref(c);
    json_decref(meta);
    return 1;
}

/* `*out`: what `it` is coerced with, from its stored metadata; NULL when it was not reconciled
 * (then it goes out as stored). */
static pacs_err coercion_of(pacs_archive *a, const pacs_resolve_item *it, json_t **out,
                            pacs_errinfo *ei)
{
    *out = NULL;
    if (!it->coerce) {
        return PACS_OK;
    }
    pacs_query *q = pacs_resolve_query(it->study_uid, it->series_uid, it->sop_uid, ei);
    if (!q) {
        return ei ? ei->code : PACS_ENOMEM;
    }
    pacs_err err = pacs_archive_instances(a, q, PACS_REC_METADATA, take_coercion, out, ei);
    pacs_query_free(q);
    return err;
}

/* The transcoded instance, written again with the coercion (it is in `tmp_fd`, from 0). */
static pacs_err coerce_copy(int tmp_fd, const char *ts, const json_t *coerce, int out_fd,
                            uint64_t *written, pacs_errinfo *ei)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", tmp_fd);
    return pacs_codec_recode_coerced(path, ts, coerce, out_fd, written, ei);
}

pacs_err pacs_delivery_write(pacs_archive *a, const pacs_resolve_item *it,
                             const pacs_delivery_plan *p, int out_fd, uint64_t *written,
                             pacs_errinfo *ei)
{
    *written = 0;
    int fd = -1, tmp_fd = -1;
    pacs_delivery_pixels *px = NULL;
    json_t *coerce = NULL;
    char path[4096];
    /* Opening the object first tells a missing object (PACS_ENOTFOUND) from a bad one. */
    pacs_err err = pacs_archive_open_object(a, it->object, &fd, ei);
    if (err == PACS_OK) {
        err = pacs_archive_object_path(a, it->object, path, sizeof path, ei);
    }
    if (err == PACS_OK && p->kind != PACS_DELIVERY_AS_STORED) {
        err = coercion_of(a, it, &coerce, ei);
    }
    if (err != PACS_OK) {
        goto fail;
    }
    switch (p->kind) {
    case PACS_DELIVERY_AS_STORED:
        err = copy_fd(fd, out_fd, written, ei);
        break;
    case PACS_DELIVERY_CONVERTED:
        if (!coerce && eq(p->ts, it->ts)) {
            err = copy_fd(fd, out_fd, written, ei); /* planned for a coercion it does not need */
            break;
        }
        err = pacs_codec_recode_coerced(path, p->ts, coerce, out_fd, written, ei);
        break;
    case PACS_DELIVERY_TRANSCODED: {
        err = pacs_delivery_pixels_open(a, it, &px, ei);
        if (err == PACS_OK && coerce) {
            err = pacs_archive_temp_fd(a, &tmp_fd, ei);
        }
        if (err != PACS_OK) {
            break;
        }
        pacs_transcode_params tp;
        transcode_params(p, &tp);
        pacs_transcode_result res;
        err = pacs_image_transcode(pacs_delivery_pixels_source(px), pacs_delivery_pixels_desc(px),
                                   &tp, coerce ? tmp_fd : out_fd, &res, ei);
        *written = res.bytes;
        if (err == PACS_OK && coerce) {
            *written = 0;
            err = coerce_copy(tmp_fd, p->ts, coerce, out_fd, written, ei);
        }
        break;
    }
    default:
        err = pacs_errf(ei, PACS_EUNSUPPORTED, "instance %s cannot be delivered in %s", it->sop_uid,
                        p->ts);
        break;
    }
fail:
    json_decref(coerce);
    pacs_delivery_pixels_close(px);
    if (tmp_fd >= 0) {
        close(tmp_fd);
    }
    if (fd >= 0) {
        close(fd);
    }
    return err;
}

pacs_err pacs_delivery_open(pacs_archive *a, const pacs_resolve_item *it,
                            const pacs_delivery_plan *p, pacs_delivery_stream *out,
                            pacs_errinfo *ei)
{
    int fd = -1;
    uint64_t size = 0;
    pacs_err err = PACS_OK;
    if (p->kind == PACS_DELIVERY_AS_STORED) {
        err = pacs_archive_open_object(a, it->object, &fd, ei);
        size = it->size;
    } else {
        err = pacs_archive_temp_fd(a, &fd, ei);
        if (err == PACS_OK) {
            err = pacs_delivery_write(a, it, p, fd, &size, ei);
        }
    }
    if (err != PACS_OK) {
        if (fd >= 0) {
            close(fd);
        }
        return err;
    }
    memset(out, 0, sizeof *out);
    out->fd = fd;
    out->size = size;
    out->kind = p->kind;
    snprintf(out->ts, sizeof out->ts, "%s", p->ts);
    return PACS_OK;
}

void pacs_delivery_stream_close(pacs_delivery_stream *s)
{
    if (s && s->fd >= 0) {
        close(s->fd);
        s->fd = -1;
    }
}

/* ---- pixels ---- */

struct pacs_delivery_pixels {
    pacs_image_source src;
    const pacs_image_desc *desc;
    pacs_image_file *file;    /* the layout was scanned from the object */
    pacs_image_desc *own;     /* the layout came from the index: the description is ours */
    pacs_pixel_layout layout; /* ... and so is the layout */
    char ts[PACS_UID_MAX + 1];
    char path[4096];
};

pacs_err pacs_delivery_pixels_open(pacs_archive *a, const pacs_resolve_item *it,
                                   pacs_delivery_pixels **out, pacs_errinfo *ei)
{
    if (!it->has_pixels) {
        return pacs_errf(ei, PACS_ENOTFOUND, "instance %s has no pixel data", it->sop_uid);
    }
    pacs_delivery_pixels *px = calloc(1, sizeof *px);
    if (!px) {
        return pacs_errf(ei, PACS_ENOMEM, "out of memory");
    }
    px->src.fd = -1;
    pacs_err err = pacs_archive_object_path(a, it->object, px->path, sizeof px->path, ei);
    if (err != PACS_OK) {
        goto fail;
    }
    if (!it->layout) {
        err = pacs_image_file_open(px->path, &px->file, ei);
        if (err != PACS_OK) {
            goto fail;
        }
        px->src = px->file->src;
        px->desc = px->file->desc;
        *out = px;
        return PACS_OK;
    }
    err = pacs_archive_open_object(a, it->object, &px->src.fd, ei);
    if (err == PACS_OK) {
        err = pacs_pixel_layout_decode(it->layout, it->layout_len, &px->layout, ei);
    }
    if (err == PACS_OK) {
        err = pacs_image_desc_from_file(px->path, &px->own, ei);
    }
    if (err != PACS_OK) {
        goto fail;
    }
    px->src.path = px->path;
    snprintf(px->ts, sizeof px->ts, "%s", it->ts);
    px->src.ts_uid = px->ts;
    px->src.layout = &px->layout;
    px->desc = px->own;
    *out = px;
    return PACS_OK;
fail:
    pacs_delivery_pixels_close(px);
    return err;
}

const pacs_image_source *pacs_delivery_pixels_source(const pacs_delivery_pixels *px)
{
    return &px->src;
}

const pacs_image_desc *pacs_delivery_pixels_desc(const pacs_delivery_pixels *px)
{
    return px->desc;
}

void pacs_delivery_pixels_close(pacs_delivery_pixels *px)
{
    if (!px) {
        return;
    }
    if (px->file) {
        pacs_image_file_close(px->file);
    } else if (px->src.fd >= 0) {
        close(px->src.fd);
    }
    pacs_image_desc_free(px->own);
    pacs_pixel_layout_clear(&px->layout);
    free(px);
}

pacs_err pacs_delivery_frame(const pacs_delivery_pixels *px, uint32_t index,
                             const pacs_delivery_plan *p, pacs_codec_frame *out, pacs_errinfo *ei)
{
    pacs_transcode_params tp;
    transcode_params(p, &tp);
    int lossy = 0;
    memset(out, 0, sizeof *out);
    return pacs_image_transcode_frame(&px->src, px->desc, index, &tp, out, &lossy, ei);
}
