// SPDX-License-Identifier: MIT
/*
 * Compression at rest (compress.h): the rule, one pass over the index's instances with pixel
 * data, and for each selected instance transcode, compare the decoded pixels, store, switch
 * the index row (index_compress.c) and sweep the original, in that order.
 *
 * Load: the transcode and the two decodes are the cost (CPU); the pass runs on its caller's
 * thread, one instance at a time, paced by the rate cap. Thread-safe: no shared state.
 */
#define _GNU_SOURCE
#include "storage/compress.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "pacs/base/log.h"
#include "pacs/base/metrics.h"
#include "pacs/dicom/codec.h"
#include "pacs/dicom/dcm.h"
#include "pacs/image/decode.h"
#include "pacs/image/transcode.h"
#include "storage/archive_internal.h"

/* Images of fewer pixels a frame are left as they are. */
#define MIN_PIXELS 4096

static int eq(const char *a, const char *b)
{
    return strcmp(a, b) == 0;
}

pacs_err pacs_compress_options_load(const pacs_config *cfg, pacs_compress_options *o,
                                    pacs_errinfo *ei)
{
    memset(o, 0, sizeof *o);
    const char *syn = pacs_config_str(cfg, "compress.syntax");
    if (eq(syn, "jpeg-ls") || eq(syn, PACS_TS_JPEGLS_LOSSLESS)) {
        snprintf(o->ts_uid, sizeof o->ts_uid, "%s", PACS_TS_JPEGLS_LOSSLESS);
    } else if (eq(syn, "htj2k") || eq(syn, PACS_TS_HTJ2K_LOSSLESS)) {
        snprintf(o->ts_uid, sizeof o->ts_uid, "%s", PACS_TS_HTJ2K_LOSSLESS);
    } else {
        return pacs_errf(ei, PACS_EINVAL, "compress.syntax: '%s' is not jpeg-ls or htj2k", syn);
    }
    /* "CT, MR,CR": upper-cased, blanks dropped; "*" or empty for every modality. */
    const char *p = pacs_config_str(cfg, "compress.modalities");
    while (*p) {
        while (*p == ',' || isspace((unsigned char)*p)) {
            p++;
        }
        size_t n = 0;
        char m[17];
        while (*p && *p != ',' && !isspace((unsigned char)*p)) {
            if (n + 1 >= sizeof m) {
                return pacs_errf(ei, PACS_EINVAL, "compress.modalities: a modality is too long");
            }
            m[n++] = (char)toupper((unsigned char)*p++);
        }
        m[n] = '\0';
        if (n == 0 || eq(m, "*")) {
            continue;
        }
        if (o->n_modalities == PACS_COMPRESS_MAX_MODALITIES) {
            return pacs_errf(ei, PACS_EINVAL, "compress.modalities: more than %d modalities",
                             PACS_COMPRESS_MAX_MODALITIES);
        }
        snprintf(o->modalities[o->n_modalities++], sizeof o->modalities[0], "%s", m);
    }
    o->after_days = pacs_config_int(cfg, "compress.after_days");
    o->rate = pacs_config_int(cfg, "compress.rate");
    return PACS_OK;
}

/* Syntaxes whose pixels are exact, so that a lossless re-encoding keeps every value. */
static int lossless_source(const char *ts)
{
    static const char *const ok[] = {PACS_TS_IMPLICIT_LE,
                                     PACS_TS_EXPLICIT_LE,
                                     PACS_TS_DEFLATED_LE,
                                     PACS_TS_EXPLICIT_BE,
                                     PACS_TS_RLE,
                                     PACS_TS_JPEG_LOSSLESS,
                                     PACS_TS_JPEG_LOSSLESS_SV1,
                                     PACS_TS_JPEGLS_LOSSLESS,
                                     PACS_TS_J2K_LOSSLESS,
                                     PACS_TS_HTJ2K_LOSSLESS,
                                     PACS_TS_HTJ2K_LOSSLESS_RPCL};
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        if (eq(ts, ok[i])) {
            return 1;
        }
    }
    return 0;
}

static int modality_selected(const pacs_compress_options *o, const char *modality)
{
    if (o->n_modalities == 0) {
        return 1;
    }
    for (size_t i = 0; i < o->n_modalities; i++) {
        if (eq(o->modalities[i], modality)) {
            return 1;
        }
    }
    return 0;
}

/* "YYYYMMDDHHMMSS" (UTC) `days` ago. */
static void stamp_days_ago(long days, char out[15])
{
    time_t t = time(NULL) - (time_t)days * 86400;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 15, "%Y%m%d%H%M%S", &tm);
}

static double thread_cpu(void)
{
    struct rusage ru;
    if (getrusage(RUSAGE_THREAD, &ru) != 0) {
        return 0;
    }
    return (double)ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + (double)ru.ru_stime.tv_sec +
           ru.ru_stime.tv_usec / 1e6;
}

static double now_mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* Decodes every frame of both and compares them: PACS_OK when identical, PACS_ECONFLICT (with
 * the frame) when not; a decoding error as it is. */
static pacs_err same_pixels(const pacs_image_file *a, const pacs_image_file *b, pacs_errinfo *ei)
{
    const pacs_image_info *ia = pacs_image_desc_info(a->desc);
    const pacs_image_info *ib = pacs_image_desc_info(b->desc);
    if (ia->frames != ib->frames || ia->rows != ib->rows || ia->cols != ib->cols ||
        ia->samples != ib->samples || ia->bits_allocated != ib->bits_allocated) {
        return pacs_errf(ei, PACS_ECONFLICT, "the image attributes differ");
    }
    pacs_err err = PACS_OK;
    for (uint32_t i = 0; i < ia->frames && err == PACS_OK; i++) {
        pacs_frame *fa = NULL, *fb = NULL;
        err = pacs_image_decode(&a->src, a->desc, i, &fa, ei);
        if (err == PACS_OK) {
            err = pacs_image_decode(&b->src, b->desc, i, &fb, ei);
        }
        if (err == PACS_OK && (fa->size != fb->size || memcmp(fa->data, fb->data, fa->size) != 0)) {
            err = pacs_errf(ei, PACS_ECONFLICT, "frame %u decodes differently", i + 1);
        }
        pacs_frame_free(fa);
        pacs_frame_free(fb);
    }
    return err;
}

/* Copies the temporary file into a new object writer. */
static pacs_err copy_into(int fd, pacs_objwriter *w, pacs_errinfo *ei)
{
    static __thread uint8_t buf[1 << 17];
    off_t off = 0;
    for (;;) {
        ssize_t n = pread(fd, buf, sizeof buf, off);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            return pacs_errf(ei, PACS_EIO, "reading the transcoded copy: %s", strerror(errno));
        }
        if (n == 0) {
            return PACS_OK;
        }
        pacs_err err = pacs_objwriter_write(w, buf, (size_t)n, ei);
        if (err != PACS_OK) {
            return err;
        }
        off += n;
    }
}

/* The pixel attributes of the new object that its index metadata must carry. */
static json_t *pixel_attrs(const json_t *parsed)
{
    static const char *const tags[] = {"00280004", "00280006"};
    json_t *set = json_object();
    for (size_t i = 0; set && i < sizeof tags / sizeof tags[0]; i++) {
        json_t *v = json_object_get(parsed, tags[i]);
        if (v) {
            json_object_set(set, tags[i], v);
        }
    }
    return set;
}

/* Stores the transcoded copy in `tmp_fd` as a new object and switches `c` to it; `*done` says
 * whether the index now points at it (0: the instance changed meanwhile, nothing done). */
static pacs_err store_and_switch(pacs_archive *a, const pacs_index_candidate *c, int tmp_fd,
                                 int *done, uint64_t *new_size, pacs_errinfo *ei)
{
    *done = 0;
    pacs_objwriter *w = NULL;
    pacs_dcm_parsed parsed;
    memset(&parsed, 0, sizeof parsed);
    uint8_t *layout = NULL;
    json_t *set = NULL;
    char key[PACS_OBJECT_KEY_LEN + 1] = "";
    int committed = 0, swapped = 0;
    pacs_err err = pacs_objstore_begin(a->store, a->max_object, &w, ei);
    if (err == PACS_OK) {
        err = copy_into(tmp_fd, w, ei);
    }
    if (err == PACS_OK) {
        err = pacs_objwriter_key(w, key, ei);
    }
    pacs_index_entry e;
    if (err == PACS_OK) {
        err = pacs_archive__parse_for_index(pacs_objwriter_path(w), key, pacs_objwriter_size(w), "",
                                            &parsed, &e, &layout, ei);
    }
    if (err != PACS_OK) {
        goto fail;
    }
    if (!eq(e.sop_uid, c->sop_uid) || !eq(e.study_uid, c->study_uid) ||
        !eq(e.series_uid, c->series_uid) || !e.pixel_layout) {
        err = pacs_errf(ei, PACS_ECONFLICT, "the transcoded object is not the same instance");
        goto fail;
    }
    set = pixel_attrs(parsed.json);
    if (!set) {
        err = pacs_errf(ei, PACS_ENOMEM, "out of memory");
        goto fail;
    }
    *new_size = e.object_size;
    pacs_archive__inflight_add(a, key);
    err = pacs_index_intent_add(a->index, key, ei);
    if (err == PACS_OK) {
        err = pacs_objwriter_commit(w, ei);
        w = NULL;
        committed = err == PACS_OK;
    }
    if (err == PACS_OK) {
        pacs_index_swap s = {c->sop_uid,     c->object,          key, e.ts_uid, e.object_size,
                             e.pixel_layout, e.pixel_layout_len, set};
        err = pacs_index_swap_object(a->index, &s, &swapped, ei);
    }
    if (!swapped) {
        pacs_index_intent_clear(a->index, key, NULL);
    }
    pacs_archive__inflight_remove(a, key);
    if (swapped) {
        *done = 1;
        pacs_archive__sweep_object(a, c->object); /* its sweep record outlives a crash here */
    } else if (committed) {
        pacs_archive__sweep_object(a, key);
    }
fail:
    pacs_objwriter_abort(w);
    json_decref(set);
    pacs_dcm_parsed_clear(&parsed);
    free(layout);
    return err;
}

typedef struct batch {
    pacs_index_candidate c[32];
    size_t n;
} batch;

static int take_candidate(void *ctx, const pacs_index_candidate *c)
{
    batch *b = ctx;
    b->c[b->n++] = *c;
    return b->n == sizeof b->c / sizeof b->c[0];
}

/* One instance: what happened goes to `cb` and `r`. Returns 1 when it cost a transcode (the
 * rate cap counts those). */
static int compress_one(pacs_archive *a, const pacs_compress_options *o,
                        const pacs_index_candidate *c, pacs_compress_cb cb, void *ctx,
                        pacs_compress_report *r)
{
    const char *why = NULL;
    if (!modality_selected(o, c->modality)) {
        why = "modality not in compress.modalities";
    } else if (eq(c->ts, o->ts_uid)) {
        why = "already in the target syntax";
    } else if (!lossless_source(c->ts)) {
        why = "stored in a lossy or unknown syntax";
    }
    if (why) {
        r->skipped++;
        if (cb) {
            cb(ctx, c->sop_uid, "skipped", c->size, 0, why);
        }
        return 0;
    }
    pacs_errinfo ei;
    memset(&ei, 0, sizeof ei);
    pacs_image_file *orig = NULL, *copy = NULL;
    int tmp_fd = -1, switched = 0;
    uint64_t new_size = 0;
    char path[4096], tmp_path[64];
    pacs_err err = pacs_archive_object_path(a, c->object, path, sizeof path, &ei);
    if (err == PACS_OK) {
        err = pacs_image_file_open(path, &orig, &ei);
    }
    /* A few pixels gain nothing (a JPEG-LS header alone is larger), and Debian 12's DCMTK
     * 3.6.7 JPEG-LS encoder writes past its buffer when the stream outgrows the frame. */
    if (err == PACS_OK) {
        const pacs_image_info *info = pacs_image_desc_info(orig->desc);
        if ((uint64_t)info->rows * info->cols < MIN_PIXELS) {
            why = "too small to gain";
        }
    }
    if (err == PACS_OK && !why) {
        err = pacs_archive_temp_fd(a, &tmp_fd, &ei);
    }
    pacs_transcode_result res;
    memset(&res, 0, sizeof res);
    if (err == PACS_OK && !why) {
        pacs_transcode_params tp = {o->ts_uid, 0, 0, 0};
        err = pacs_image_transcode(&orig->src, orig->desc, &tp, tmp_fd, &res, &ei);
    }
    if (err == PACS_OK && !why && res.lossy) {
        err = pacs_errf(&ei, PACS_EUNSUPPORTED, "the encoding would be lossy");
    }
    if (err == PACS_OK && !why && res.bytes >= c->size) {
        why = "not smaller";
    }
    if (err == PACS_OK && !why) {
        snprintf(tmp_path, sizeof tmp_path, "/proc/self/fd/%d", tmp_fd);
        err = pacs_image_file_open(tmp_path, &copy, &ei);
    }
    if (err == PACS_OK && !why) {
        err = same_pixels(orig, copy, &ei);
    }
    if (err == PACS_OK && !why && o->dry_run) {
        new_size = res.bytes;
        switched = 1;
    } else if (err == PACS_OK && !why) {
        err = store_and_switch(a, c, tmp_fd, &switched, &new_size, &ei);
        if (err == PACS_OK && !switched) {
            why = "changed or deleted meanwhile";
        }
    }
    pacs_image_file_close(copy);
    pacs_image_file_close(orig);
    if (tmp_fd >= 0) {
        close(tmp_fd);
    }
    if (err == PACS_ECONFLICT || err == PACS_EUNSUPPORTED || err == PACS_EBADDATA ||
        err == PACS_ENOTFOUND) {
        why = ei.msg; /* this image is not for compression: its original stays */
        err = PACS_OK;
    }
    if (err != PACS_OK) {
        r->failed++;
        pacs_log(PACS_LOG_WARN, "compress", "sop=%s object=%s failed: %s", c->sop_uid, c->object,
                 ei.msg);
        if (cb) {
            cb(ctx, c->sop_uid, "failed", c->size, 0, ei.msg);
        }
    } else if (why) {
        r->skipped++;
        if (cb) {
            cb(ctx, c->sop_uid, "skipped", c->size, res.bytes, why);
        }
    } else {
        r->compressed++;
        r->bytes_before += c->size;
        r->bytes_after += new_size;
        if (!o->dry_run) {
            pacs_metrics_add(PACS_M_COMPRESS_INSTANCES, 1);
            pacs_metrics_add(PACS_M_COMPRESS_SAVED, c->size - new_size);
        }
        if (cb) {
            cb(ctx, c->sop_uid, o->dry_run ? "would compress" : "compressed", c->size, new_size,
               o->ts_uid);
        }
    }
    return 1;
}

static int stopped(const pacs_compress_options *o)
{
    return o->stop && *o->stop;
}

/* Waits until `due` (monotonic seconds), a tenth of a second at a time, or a stop. */
static void pace(const pacs_compress_options *o, double due)
{
    while (!stopped(o) && now_mono() < due) {
        double left = due - now_mono();
        struct timespec ts = {0, (long)((left < 0.1 ? left : 0.1) * 1e9)};
        nanosleep(&ts, NULL);
    }
}

pacs_err pacs_compress_run(pacs_archive *a, const pacs_compress_options *o, int64_t from_pk,
                           pacs_compress_cb cb, void *ctx, pacs_compress_report *r,
                           pacs_errinfo *ei)
{
    memset(r, 0, sizeof *r);
    r->next_pk = from_pk;
    double cpu0 = thread_cpu(), t0 = now_mono();
    char cutoff[15];
    stamp_days_ago(o->after_days, cutoff);
    uint64_t work = 0;
    pacs_err err = PACS_OK;
    for (int more = 1; more && !stopped(o);) {
        batch b;
        b.n = 0;
        err = pacs_index_candidates(a->index, r->next_pk, sizeof b.c / sizeof b.c[0],
                                    take_candidate, &b, ei);
        if (err != PACS_OK || b.n == 0) {
            break;
        }
        for (size_t i = 0; i < b.n && !stopped(o); i++) {
            const pacs_index_candidate *c = &b.c[i];
            /* Rows come in the order they were stored: the first too young ends the pass. */
            if (o->after_days > 0 && c->received[0] && strcmp(c->received, cutoff) > 0) {
                more = 0;
                break;
            }
            r->examined++;
            r->next_pk = c->pk;
            if (compress_one(a, o, c, cb, ctx, r) && o->rate > 0) {
                work++;
                pace(o, t0 + (double)work * 60.0 / (double)o->rate);
            }
        }
    }
    r->cpu_seconds = thread_cpu() - cpu0;
    return err;
}
