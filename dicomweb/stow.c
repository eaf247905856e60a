// SPDX-License-Identifier: MIT
/*
 * STOW-RS (stow.h). The body flows: libmicrohttpd -> multipart parser -> the
 * current part's pacs_ingest, piece by piece; the ingest finishes (parse, fsync, index commit)
 * when the part's closing boundary is seen, so a request's instances are each durable before
 * the answer says so. Load: referral sites pushing whole studies. Thread-safe: the state
 * belongs to one request, served on one thread.
 */
#include "dicomweb/stow.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "http/media.h"
#include "http/multipart.h"
#include "pacs/base/log.h"
#include "pacs/base/metrics.h"
#include "pacs/dicom/dcm.h"
#include "pacs/dicom/part10.h"

#define HEAD_KEEP 4096u
#define MAX_PARTS 100000u

/* PS3.18 Table 10.5.3-1 failure reasons and the warning used here (PS3.4 Annex B). */
#define REASON_PROCESSING 0x0110u
#define REASON_OUT_OF_RESOURCES 0xA700u
#define REASON_MISMATCH 0xA900u
#define REASON_CANNOT_UNDERSTAND 0xC000u
#define REASON_TS_UNSUPPORTED 0xC122u
#define REASON_CLASS_UNSUPPORTED 0x0122u
#define WARNING_COERCED 0xB000u

typedef struct outcome {
    int stored;
    unsigned reason; /* failure or warning, 0 when none */
    char sop_class[PACS_UID_MAX + 1], sop[PACS_UID_MAX + 1];
    char study[PACS_UID_MAX + 1], series[PACS_UID_MAX + 1];
} outcome;

typedef struct stow {
    pacs_archive *a;
    unsigned long req_id;
    char *study;                                         /* from the URL, or NULL */
    char source_http[sizeof((pacs_principal *)0)->name]; /* the credential's name, or "" */
    pacs_multipart *mp;
    pacs_err body_err;
    pacs_errinfo body_ei;
    /* the part being received */
    pacs_ingest *in;
    unsigned bad_reason; /* the part was refused before ingest */
    char bad_msg[sizeof((pacs_errinfo *)0)->msg];
    uint8_t head[HEAD_KEEP];
    size_t head_len;
    double part_start; /* pacs_metrics_now() at its first byte */
    uint64_t part_bytes;
    /* results */
    outcome *v;
    size_t n, cap;
    size_t n_stored;
    /* parts refused for the server's own trouble (full disk, busy index, I/O error) */
    pacs_err bad_err;
    size_t n_server;
    pacs_err server_err;
    char server_msg[sizeof((pacs_errinfo *)0)->msg];
} stow;

static void stow_release(void *ctx)
{
    stow *s = ctx;
    if (!s) {
        return;
    }
    pacs_ingest_abort(s->in);
    pacs_multipart_free(s->mp);
    free(s->study);
    free(s->v);
    free(s);
}

static unsigned reason_of(pacs_err err)
{
    switch (err) {
    case PACS_EBADDATA:
        return REASON_CANNOT_UNDERSTAND;
    case PACS_EUNSUPPORTED:
        return REASON_TS_UNSUPPORTED;
    case PACS_ECONFLICT:
        return REASON_MISMATCH;
    case PACS_ENOSPC:
    case PACS_ETOOBIG:
    case PACS_ENOMEM:
    case PACS_EBUSY: /* the index is locked: as C-STORE answers (dimse/store.c) */
        return REASON_OUT_OF_RESOURCES;
    default:
        return REASON_PROCESSING;
    }
}

/* True when storing failed for the server's own trouble, not for anything in the request. */
static int server_fault(pacs_err err)
{
    switch (err) {
    case PACS_ENOSPC:
    case PACS_ENOMEM:
    case PACS_EBUSY:
    case PACS_EIO:
    case PACS_EDB:
    case PACS_EDENIED:
    case PACS_ETIMEOUT:
        return 1;
    default:
        return 0;
    }
}

static void note_fault(stow *s, pacs_err err, const char *msg)
{
    if (!server_fault(err)) {
        return;
    }
    if (s->n_server++ == 0) {
        s->server_err = err;
        snprintf(s->server_msg, sizeof s->server_msg, "%s", msg);
    }
}

static outcome *add_outcome(stow *s)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        outcome *g = realloc(s->v, cap * sizeof *g);
        if (!g) {
            return NULL;
        }
        s->v = g;
        s->cap = cap;
    }
    outcome *o = &s->v[s->n++];
    memset(o, 0, sizeof *o);
    return o;
}

/* Records a failed part, naming it from its meta header when that much arrived. */
static void add_failure(stow *s, unsigned reason, const char *msg)
{
    unsigned index = s->mp ? pacs_multipart_parts(s->mp) : 0;
    outcome *o = add_outcome(s);
    pacs_meta m;
    size_t start = 0;
    pacs_metrics_add(PACS_M_STORE_FAILED_STOW, 1);
    if (o) {
        o->reason = reason;
        if (pacs_meta_read(s->head, s->head_len, &m, &start, NULL) == PACS_OK) {
            snprintf(o->sop_class, sizeof o->sop_class, "%s", m.sop_class_uid);
            snprintf(o->sop, sizeof o->sop, "%s", m.sop_instance_uid);
        }
    }
    /* The server's own trouble is a warning; a bad part is the client's business. */
    pacs_log(reason == REASON_OUT_OF_RESOURCES || reason == REASON_PROCESSING ? PACS_LOG_WARN
                                                                              : PACS_LOG_INFO,
             "stow", "req=%lu part=%u sop=%s failed (0x%04X): %s", s->req_id, index,
             o && o->sop[0] ? o->sop : "?", reason, msg);
}

static int part_begin(void *ctx, const pacs_multipart_part *part)
{
    stow *s = ctx;
    s->head_len = 0;
    s->part_start = pacs_metrics_now();
    s->part_bytes = 0;
    s->bad_reason = 0;
    s->bad_err = PACS_OK;
    if (pacs_multipart_parts(s->mp) > MAX_PARTS) {
        s->bad_reason = REASON_OUT_OF_RESOURCES;
        snprintf(s->bad_msg, sizeof s->bad_msg, "more than %u parts", MAX_PARTS);
        return 0;
    }
    pacs_media mt;
    pacs_errinfo ei;
    if (part->content_type[0] &&
        (pacs_media_parse(part->content_type, strlen(part->content_type), &mt, &ei) != PACS_OK ||
         strcmp(mt.type, "application/dicom") != 0)) {
        s->bad_reason = REASON_CANNOT_UNDERSTAND;
        snprintf(s->bad_msg, sizeof s->bad_msg,
                 "part Content-Type %.80s is not application/dicom (bulk data and metadata "
                 "parts are not taken)",
                 part->content_type);
        return 0;
    }
    if (part->content_transfer_encoding[0] &&
        strcasecmp(part->content_transfer_encoding, "binary") != 0 &&
        strcasecmp(part->content_transfer_encoding, "8bit") != 0) {
        s->bad_reason = REASON_CANNOT_UNDERSTAND;
        snprintf(s->bad_msg, sizeof s->bad_msg, "Content-Transfer-Encoding %.40s is not binary",
                 part->content_transfer_encoding);
        return 0;
    }
    pacs_err err = pacs_archive_ingest_begin(s->a, NULL, "", &s->in, &ei);
    if (err != PACS_OK) {
        s->bad_reason = reason_of(err);
        s->bad_err = err;
        snprintf(s->bad_msg, sizeof s->bad_msg, "%s", ei.msg);
        return 0;
    }
    pacs_ingest_set_http_source(s->in, s->source_http);
    if (s->study) {
        pacs_ingest_expect_study(s->in, s->study);
    }
    return 0;
}

static int part_data(void *ctx, const char *data, size_t len)
{
    stow *s = ctx;
    s->part_bytes += len;
    if (s->head_len < HEAD_KEEP) {
        size_t take = HEAD_KEEP - s->head_len < len ? HEAD_KEEP - s->head_len : len;
        memcpy(s->head + s->head_len, data, take);
        s->head_len += take;
    }
    if (s->in) {
        /* Errors are sticky in the ingest and reported by finish. */
        pacs_ingest_write(s->in, data, len, NULL);
    }
    return 0;
}

static int part_end(void *ctx)
{
    stow *s = ctx;
    if (!s->in) {
        note_fault(s, s->bad_err, s->bad_msg);
        add_failure(s, s->bad_reason ? s->bad_reason : REASON_PROCESSING, s->bad_msg);
        return 0;
    }
    pacs_ingest_result res;
    pacs_errinfo ei;
    pacs_ingest *in = s->in;
    s->in = NULL;
    pacs_err err = pacs_ingest_finish(in, &res, &ei);
    if (err != PACS_OK) {
        note_fault(s, err, ei.msg);
        add_failure(s, reason_of(err), ei.msg);
        return 0;
    }
    pacs_metrics_add(PACS_M_STORED_STOW, 1);
    pacs_metrics_add(PACS_M_BYTES_STOW, s->part_bytes);
    pacs_metrics_observe(PACS_M_STORE_SECONDS_STOW, pacs_metrics_now() - s->part_start);
    outcome *o = add_outcome(s);
    if (!o) {
        return 1;
    }
    o->stored = 1;
    o->reason = res.charset_warning ? WARNING_COERCED : 0;
    snprintf(o->sop_class, sizeof o->sop_class, "%s", res.meta.sop_class_uid);
    snprintf(o->sop, sizeof o->sop, "%s", res.meta.sop_instance_uid);
    snprintf(o->study, sizeof o->study, "%s", res.study_uid);
    snprintf(o->series, sizeof o->series, "%s", res.series_uid);
    s->n_stored++;
    return 0;
}

static pacs_err body_data(pacs_http_req *r, void *ctx, const char *data, size_t len)
{
    (void)r;
    stow *s = ctx;
    if (s->body_err != PACS_OK) {
        return PACS_OK; /* already malformed: the rest is read and dropped, then answered */
    }
    pacs_err err = pacs_multipart_feed(s->mp, data, len, &s->body_ei);
    if (err != PACS_OK) {
        s->body_err = err;
        if (pacs_multipart_in_part(s->mp)) {
            pacs_ingest_abort(s->in);
            s->in = NULL;
            add_failure(s, REASON_CANNOT_UNDERSTAND, s->body_ei.msg);
        }
    }
    return PACS_OK;
}

/* Adds `Warning: 299 {host} "text"` (RFC 7234 5.5), the text made a valid quoted-string. */
static void add_warning(pacs_http_req *r, const char *text)
{
    const char *base = pacs_http_base_url(r), *host = strstr(base, "://");
    host = host ? host + 3 : base;
    char warn[sizeof((pacs_errinfo *)0)->msg + 400];
    size_t hl = strcspn(host, "/");
    size_t n = (size_t)snprintf(warn, sizeof warn, "299 %.*s \"", (int)(hl > 200 ? 200 : hl), host);
    for (const char *c = text; *c && n + 2 < sizeof warn; c++) {
        warn[n++] = *c == '"' || *c == '\\' || (unsigned char)*c < 0x20 ? '\'' : *c;
    }
    warn[n++] = '"';
    warn[n] = '\0';
    pacs_http_add_header(r, "Warning", warn);
}

static json_t *uid_attr(const char *uid)
{
    return uid[0] ? json_pack("{s:s,s:[s]}", "vr", "UI", "Value", uid)
                  : json_pack("{s:s}", "vr", "UI");
}

static void body_end(pacs_http_req *r, void *ctx)
{
    stow *s = ctx;
    if (s->body_err == PACS_OK) {
        pacs_errinfo ei;
        if (pacs_multipart_finish(s->mp, &ei) != PACS_OK) {
            s->body_err = PACS_EBADDATA;
            s->body_ei = ei;
            if (pacs_multipart_in_part(s->mp)) {
                pacs_ingest_abort(s->in);
                s->in = NULL;
                add_failure(s, REASON_CANNOT_UNDERSTAND, "the part was cut short");
            }
        }
    }
    if (s->n == 0 || (s->body_err != PACS_OK && s->n_stored == 0)) {
        pacs_http_send_error(r, 400, "%s",
                             s->body_err != PACS_OK ? s->body_ei.msg
                                                    : "the request holds no DICOM parts");
        return;
    }
    const char *base = pacs_http_base_url(r);
    json_t *resp = json_object(), *refs = json_array(), *fails = json_array();
    const char *one_study = NULL;
    int many_studies = 0, warnings = 0;
    char url[1024];
    for (size_t i = 0; i < s->n; i++) {
        const outcome *o = &s->v[i];
        json_t *item = json_object();
        json_object_set_new(item, "00081150", uid_attr(o->sop_class));
        json_object_set_new(item, "00081155", uid_attr(o->sop));
        if (o->stored) {
            snprintf(url, sizeof url, "%s/studies/%s/series/%s/instances/%s", base, o->study,
                     o->series, o->sop);
            json_object_set_new(item, "00081190",
                                json_pack("{s:s,s:[s]}", "vr", "UR", "Value", url));
            if (o->reason) {
                json_object_set_new(item, "00081196",
                                    json_pack("{s:s,s:[i]}", "vr", "US", "Value", (int)o->reason));
                warnings = 1;
            }
            json_array_append_new(refs, item);
            if (one_study && strcmp(one_study, o->study) != 0) {
                many_studies = 1;
            }
            one_study = o->study;
        } else {
            json_object_set_new(item, "00081197",
                                json_pack("{s:s,s:[i]}", "vr", "US", "Value", (int)o->reason));
            json_array_append_new(fails, item);
        }
    }
    if (one_study && !many_studies) {
        snprintf(url, sizeof url, "%s/studies/%s", base, one_study);
        json_object_set_new(resp, "00081190", json_pack("{s:s,s:[s]}", "vr", "UR", "Value", url));
    }
    if (json_array_size(fails)) {
        json_object_set_new(resp, "00081198", json_pack("{s:s,s:o}", "vr", "SQ", "Value", fails));
    } else {
        json_decref(fails);
    }
    if (json_array_size(refs)) {
        json_object_set_new(resp, "00081199", json_pack("{s:s,s:o}", "vr", "SQ", "Value", refs));
    } else {
        json_decref(refs);
    }
    char *text = json_dumps(resp, PACS_JSON_DUMP_FLAGS | JSON_SORT_KEYS);
    json_decref(resp);
    if (!text) {
        pacs_http_send_error(r, 500, "out of memory");
        return;
    }
    /* Nothing stored: 409 when the request is at fault (PS3.18 10.5.3); when every part failed
     * for the server's own trouble, 507 for want of space (a full disk, or free space below
     * storage.free_min), 503 if it may pass (busy index: like those, DIMSE's 0xA700) or 500
     * (I/O errors: 0x0110), with the reason in a Warning header. */
    unsigned status = s->n_stored == s->n && !warnings ? 200 : s->n_stored ? 202 : 409;
    if (s->n_stored == 0 && s->n_server == s->n) {
        pacs_err e = s->server_err;
        status = e == PACS_ENOSPC                                            ? 507
                 : e == PACS_EBUSY || e == PACS_ENOMEM || e == PACS_ETIMEOUT ? 503
                                                                             : 500;
        add_warning(r, s->server_msg);
    } else if (s->body_err != PACS_OK) {
        /* Parts came whole before the body went wrong: they are stored, and the answer says
         * the rest of the body was not read. */
        status = 202;
        add_warning(r, s->body_ei.msg);
    }
    pacs_log(PACS_LOG_INFO, "stow", "req=%lu parts=%zu stored=%zu failed=%zu status=%u", s->req_id,
             s->n, s->n_stored, s->n - s->n_stored, status);
    pacs_buf b;
    pacs_buf_init(&b, strlen(text) + 1);
    pacs_buf_puts(&b, text);
    free(text);
    pacs_http_send_buf(r, status, "application/dicom+json", &b, 1);
}

/* The body ran past http.max_body_mb: the part being received is dropped (release aborts its
 * ingest); the parts completed before the limit stay stored, and the answer says how many. */
static void body_too_large(pacs_http_req *r, void *ctx, uint64_t limit)
{
    stow *s = ctx;
    pacs_log(PACS_LOG_INFO, "stow", "req=%lu body over %llu MiB after %zu stored instance(s)",
             s->req_id, (unsigned long long)(limit >> 20), s->n_stored);
    pacs_http_send_error(r, 413,
                         "request body larger than http.max_body_mb (%llu MiB); %zu instance(s) "
                         "complete before the limit were stored: send the rest in smaller "
                         "requests",
                         (unsigned long long)(limit >> 20), s->n_stored);
}

static const pacs_http_body_ops stow_ops = {body_data, body_end, stow_release, body_too_large};

void pacs_stow_store(pacs_http_req *r, const pacs_route *rt)
{
    pacs_errinfo ei;
    const char *ct = pacs_http_header(r, "Content-Type");
    pacs_media mt;
    /* Each refusal names its own reason: a client that gets one must be able to fix it. */
    if (!ct) {
        pacs_http_send_error(r, 415,
                             "STOW-RS needs a Content-Type: multipart/related; "
                             "type=\"application/dicom\"; boundary=...");
        return;
    }
    if (pacs_media_parse(ct, strlen(ct), &mt, &ei) != PACS_OK) {
        pacs_http_send_error(r, 400, "Content-Type: %s", ei.msg);
        return;
    }
    if (strcmp(mt.type, "multipart/related") != 0) {
        pacs_http_send_error(r, 415,
                             "STOW-RS takes multipart/related; type=\"application/dicom\", "
                             "not %s",
                             mt.type);
        return;
    }
    if (mt.related[0] && strcmp(mt.related, "application/dicom") != 0) {
        pacs_http_send_error(r, 415,
                             "STOW-RS here takes parts of type application/dicom, not %s "
                             "(metadata and bulk data parts are not taken)",
                             mt.related);
        return;
    }
    if (!mt.boundary[0]) {
        pacs_http_send_error(r, 400,
                             "the multipart/related Content-Type has no boundary "
                             "parameter");
        return;
    }
    /* The answer is DICOM JSON; a client that refuses it gets 406 before sending anything. */
    const char *accept = pacs_http_header(r, "Accept");
    pacs_media m[PACS_ACCEPT_MAX];
    size_t nm = 0;
    if (pacs_media_accept_parse(accept, m, PACS_ACCEPT_MAX, &nm, &ei) != PACS_OK) {
        pacs_http_send_error(r, 400, "Accept: %s", ei.msg);
        return;
    }
    int json = 0;
    for (size_t i = 0; i < nm; i++) {
        json |= pacs_media_covers(&m[i], "application/dicom+json") ||
                pacs_media_covers(&m[i], "application/json");
    }
    if (!json) {
        pacs_http_send_error(r, 406, "the store response is application/dicom+json only");
        return;
    }
    stow *s = calloc(1, sizeof *s);
    if (!s) {
        pacs_http_send_error(r, 500, "out of memory");
        return;
    }
    s->a = pacs_http_archive(r);
    s->req_id = pacs_http_id(r);
    const pacs_principal *who = pacs_http_principal(r);
    snprintf(s->source_http, sizeof s->source_http, "%s", who ? who->name : "");
    if (rt->study && !(s->study = strdup(rt->study))) {
        stow_release(s);
        pacs_http_send_error(r, 500, "out of memory");
        return;
    }
    static const pacs_multipart_cbs cbs = {part_begin, part_data, part_end};
    if (pacs_multipart_new(mt.boundary, &cbs, s, &s->mp, &ei) != PACS_OK) {
        stow_release(s);
        pacs_http_send_error(r, 400, "%s", ei.msg);
        return;
    }
    pacs_http_expect_body(r, &stow_ops, s);
}
