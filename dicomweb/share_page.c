// SPDX-License-Identifier: MIT
/*
 * The share page (share_page.h): GET /share/{token} checks the token with the share store,
 * gathers what the link shows (one study, or every study a patient's share grants now,
 * storage/share_scope.h) through the archive's query model (the patient's name; each
 * study's date and description, its final report (storage/report.h) and its series with
 * images, with the middle image of each to show first) and answers the phone-first page of
 * share_html.c, with the share cookie for the DICOMweb root (for the OHIF button; the page's
 * own requests carry the token as a Bearer token). Any token that does not check out, and a
 * study no longer stored, get the same plain "this link is not valid" page with the same
 * status, so the page tells nothing about why. Every answer is `Cache-Control: no-store` and
 * `Referrer-Policy: no-referrer`.
 *
 * Load: one page per link opened: one token check, and per study one study query, one
 * instance-level query (the study's images, from the index) and one query for its report.
 * Thread-safety: no state of its own; the share store and the archive are thread-safe.
 */
#include "dicomweb/share_page.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/auth.h"
#include "dicomweb/share_html.h"
#include "dicomweb/viewer.h"
#include "pacs/base/log.h"
#include "pacs/dicom/dcm.h"
#include "storage/archive.h"
#include "storage/query.h"
#include "storage/resolve.h"
#include "storage/report.h"
#include "storage/share_scope.h"

#define PAGE_MAX (4u * 1024u * 1024u)
#define MAX_SERIES 200  /* series listed per study */
#define MAX_STUDIES 100 /* studies listed for a patient's share, newest first */

static void copy_str(char *dst, size_t cap, const char *src)
{
    size_t n = src ? strlen(src) : 0;
    if (n >= cap) {
        n = cap - 1;
        while (n > 0 && ((unsigned char)src[n] & 0xC0) == 0x80) {
            n--; /* never cut a UTF-8 sequence in half */
        }
    }
    if (n) {
        memcpy(dst, src, n);
    }
    dst[n] = '\0';
}

/* The first value of a DICOM JSON attribute: a string, or a PN's Alphabetic group. */
static const char *first_value(const json_t *ds, uint32_t tag)
{
    char key[9];
    pacs_dcm_tag_key(tag, key);
    const json_t *v = json_array_get(json_object_get(json_object_get(ds, key), "Value"), 0);
    if (json_is_string(v)) {
        return json_string_value(v);
    }
    return json_string_value(json_object_get(v, "Alphabetic"));
}

/* A numeric attribute (IS and US come as JSON numbers, sometimes as strings); 0 if absent. */
static unsigned number_of(const json_t *ds, uint32_t tag)
{
    char key[9];
    pacs_dcm_tag_key(tag, key);
    const json_t *v = json_array_get(json_object_get(json_object_get(ds, key), "Value"), 0);
    if (json_is_integer(v)) {
        json_int_t n = json_integer_value(v);
        return n > 0 && n < 1000000000 ? (unsigned)n : 0;
    }
    if (json_is_real(v)) {
        double n = json_real_value(v);
        return n > 0 && n < 1e9 ? (unsigned)n : 0;
    }
    if (json_is_string(v)) {
        long n = strtol(json_string_value(v), NULL, 10);
        return n > 0 && n < 1000000000L ? (unsigned)n : 0;
    }
    return 0;
}

/* ---- gathering one study ---- */

typedef struct study_head {
    char name[256];
    share_study *st;
    int found;
} study_head;

static int on_study(void *ctx, const json_t *result)
{
    study_head *h = ctx;
    copy_str(h->name, sizeof h->name, first_value(result, 0x00100010));
    copy_str(h->st->date, sizeof h->st->date, first_value(result, 0x00080020));
    copy_str(h->st->description, sizeof h->st->description, first_value(result, 0x00081030));
    h->found = 1;
    return 1; /* one is enough */
}

typedef struct image {
    char sop[65];
    unsigned frames;
} image;

/* The series of one study as its instances come in (ordered by series and instance number). */
typedef struct series_walk {
    share_study *st;
    image *images; /* of the current series */
    size_t n_images, cap_images;
    int oom;
} series_walk;

/* Finishes the current series: its image count and middle image. */
static void close_series(series_walk *w)
{
    if (w->st->n_series == 0 || w->n_images == 0) {
        return;
    }
    share_series *se = &w->st->series[w->st->n_series - 1];
    const image *mid = &w->images[w->n_images / 2];
    copy_str(se->mid_sop, sizeof se->mid_sop, mid->sop);
    se->mid_frame = mid->frames / 2 + 1;
    w->n_images = 0;
}

static int on_instance(void *ctx, const json_t *result)
{
    series_walk *w = ctx;
    share_study *st = w->st;
    const char *series = first_value(result, 0x0020000E);
    const char *sop = first_value(result, 0x00080018);
    unsigned rows = number_of(result, 0x00280010), cols = number_of(result, 0x00280011);
    if (!series || !sop || rows == 0 || cols == 0) {
        return 0; /* no pixel data: a report, a presentation state */
    }
    share_series *se = st->n_series ? &st->series[st->n_series - 1] : NULL;
    if (!se || strcmp(se->uid, series) != 0) {
        close_series(w);
        if (st->n_series == MAX_SERIES) {
            return 1;
        }
        se = &st->series[st->n_series++];
        memset(se, 0, sizeof *se);
        copy_str(se->uid, sizeof se->uid, series);
        copy_str(se->modality, sizeof se->modality, first_value(result, 0x00080060));
        unsigned no = number_of(result, 0x00200011);
        if (no) {
            snprintf(se->number, sizeof se->number, "%u", no);
        }
        copy_str(se->description, sizeof se->description, first_value(result, 0x0008103E));
        se->rows = rows;
        se->cols = cols;
    }
    if (w->n_images == w->cap_images) {
        size_t cap = w->cap_images ? w->cap_images * 2 : 256;
        image *v = cap < 10000000 ? realloc(w->images, cap * sizeof *v) : NULL;
        if (!v) {
            w->oom = 1;
            return 1;
        }
        w->images = v;
        w->cap_images = cap;
    }
    image *im = &w->images[w->n_images++];
    copy_str(im->sop, sizeof im->sop, sop);
    unsigned frames = number_of(result, 0x00280008);
    im->frames = frames ? frames : 1;
    se->images += im->frames;
    if (rows > se->rows) {
        se->rows = rows;
    }
    if (cols > se->cols) {
        se->cols = cols;
    }
    return 0;
}

static pacs_err find_series(pacs_archive *a, share_study *st, pacs_errinfo *ei)
{
    series_walk w;
    memset(&w, 0, sizeof w);
    w.st = st;
    st->series = calloc(MAX_SERIES, sizeof *st->series);
    pacs_query *q = pacs_query_new(PACS_LEVEL_INSTANCE);
    pacs_err err = PACS_OK;
    if (!st->series || !q) {
        err = pacs_errf(ei, PACS_ENOMEM, "out of memory");
        goto fail;
    }
    err = pacs_query_add(q, 0x0020000D, "UI", st->uid, ei);
    static const uint32_t shown[] = {0x00080060, 0x00200011, 0x0008103E, 0x00200013,
                                     0x00280008, 0x00280010, 0x00280011};
    for (size_t i = 0; err == PACS_OK && i < sizeof shown / sizeof shown[0]; i++) {
        err = pacs_query_include(q, shown[i], ei);
    }
    if (err == PACS_OK) {
        err = pacs_archive_find(a, q, on_instance, &w, ei);
    }
    if (err == PACS_OK && w.oom) {
        err = pacs_errf(ei, PACS_ENOMEM, "out of memory");
    }
    if (err == PACS_OK) {
        close_series(&w);
    }
fail:
    free(w.images);
    pacs_query_free(q);
    return err;
}

/* Fills `st` (whose uid is set) and the patient's name; *found is 0 when the study is gone. */
static pacs_err gather_study(pacs_archive *a, share_study *st, char *name, size_t name_cap,
                             int *found, pacs_errinfo *ei)
{
    study_head h;
    memset(&h, 0, sizeof h);
    h.st = st;
    pacs_query *q = pacs_resolve_query(st->uid, NULL, NULL, ei);
    if (!q) {
        return ei && ei->code != PACS_OK ? ei->code : PACS_ENOMEM;
    }
    pacs_err err = PACS_OK;
    static const uint32_t shown[] = {0x00100010, 0x00080020, 0x00081030};
    for (size_t i = 0; err == PACS_OK && i < sizeof shown / sizeof shown[0]; i++) {
        err = pacs_query_include(q, shown[i], ei);
    }
    if (err == PACS_OK) {
        pacs_query_set_paging(q, 1, 0);
        err = pacs_archive_find(a, q, on_study, &h, ei);
    }
    pacs_query_free(q);
    *found = h.found;
    if (err != PACS_OK || !h.found) {
        return err;
    }
    if (name[0] == '\0') {
        copy_str(name, name_cap, h.name);
    }
    err = find_series(a, st, ei);
    if (err == PACS_OK) {
        err = pacs_archive_report(a, st->uid, &st->report, ei);
        if (err == PACS_ENOTFOUND) {
            st->report = NULL;
            err = PACS_OK;
        }
    }
    return err;
}

static void free_studies(share_study *v, size_t n)
{
    for (size_t i = 0; v && i < n; i++) {
        free(v[i].series);
        pacs_report_free(v[i].report);
    }
    free(v);
}

/* ---- answers ---- */

static void send_page(pacs_http_req *r, unsigned status, pacs_buf *b, const char *csp)
{
    pacs_http_add_header(r, "Cache-Control", "no-store");
    pacs_http_add_header(r, "Referrer-Policy", "no-referrer");
    pacs_http_add_header(r, "X-Content-Type-Options", "nosniff");
    pacs_http_add_header(r, "Content-Security-Policy", csp);
    pacs_http_send_buf(r, status, "text/html; charset=utf-8", b, 1);
}

static void not_valid(pacs_http_req *r)
{
    pacs_buf b;
    pacs_buf_init(&b, PAGE_MAX);
    pacs_viewer__html_start(&b, "Liên kết không hợp lệ / Link not valid");
    pacs_buf_puts(&b, "<style>body{font-family:system-ui,sans-serif;margin:0;background:#0b1a2b;"
                      "color:#e8eef5}main{max-width:36em;margin:0 auto;padding:1.5em}</style>"
                      "</head><body><main><h1>Liên kết không hợp lệ</h1><p>This link is not "
                      "valid. It may have expired or been withdrawn. Please ask the hospital for "
                      "a new one.</p></main></body></html>\n");
    pacs_http_add_header(r, "Set-Cookie", pacs_auth_cookie_clear());
    send_page(r, 404, &b,
              "default-src 'none'; style-src 'unsafe-inline'; base-uri 'none'; "
              "frame-ancestors 'none'");
}

typedef struct study_list {
    share_study *v;
    size_t n;
} study_list;

static int add_study(void *ctx, const char *uid)
{
    study_list *l = ctx;
    if (l->n == MAX_STUDIES) {
        return 1;
    }
    copy_str(l->v[l->n++].uid, sizeof l->v[0].uid, uid);
    return 0;
}

/* The studies a share's subject grants now (their UIDs set), into `l` (MAX_STUDIES entries). */
static pacs_err granted(pacs_archive *a, const char *subject, study_list *l, pacs_errinfo *ei)
{
    if (!pacs_share_scope_is_patient(subject)) {
        if (strspn(subject, "0123456789.") != strlen(subject)) {
            return PACS_OK; /* never in the store: it checks UIDs when a share is made */
        }
        return add_study(l, subject) ? pacs_errf(ei, PACS_EINVAL, "no room") : PACS_OK;
    }
    pacs_share_scope *sc = malloc(sizeof *sc);
    if (!sc) {
        return pacs_errf(ei, PACS_ENOMEM, "out of memory");
    }
    pacs_err err = pacs_share_scope_parse(subject, sc, ei);
    if (err == PACS_OK) {
        err = pacs_share_scope_studies(a, sc, add_study, l, ei);
    } else {
        err = PACS_OK; /* a subject this version cannot read shows nothing */
    }
    free(sc);
    return err;
}

void pacs_viewer__share_page(pacs_http_req *r, pacs_shares *shares, const char *rest, size_t len)
{
    char token[PACS_SHARE_TOKEN_LEN + 1];
    if (len > 0 && rest[0] == '/') {
        rest++;
        len--;
    }
    if (len > 0 && rest[len - 1] == '/') {
        len--;
    }
    if (len != PACS_SHARE_TOKEN_LEN) {
        not_valid(r);
        return;
    }
    memcpy(token, rest, len);
    token[len] = '\0';
    if (!shares) {
        pacs_http_send_error(r, 503, "share links are not available (see the server log)");
        return;
    }
    pacs_errinfo ei;
    char subject[PACS_SHARE_SUBJECT_MAX + 1];
    int64_t expires = 0;
    pacs_err err =
        pacs_shares_check_subject(shares, token, subject, sizeof subject, &expires, NULL, &ei);
    if (err == PACS_EDENIED) {
        not_valid(r);
        return;
    }
    if (err != PACS_OK) {
        pacs_log(PACS_LOG_ERROR, "viewer", "req=%lu share store: %s", pacs_http_id(r), ei.msg);
        pacs_http_send_error(r, 503, "share links are not available now");
        return;
    }
    share_model m;
    memset(&m, 0, sizeof m);
    study_list l = {calloc(MAX_STUDIES, sizeof(share_study)), 0};
    if (!l.v) {
        pacs_http_send_error(r, 500, "out of memory");
        return;
    }
    pacs_archive *a = pacs_http_archive(r);
    err = granted(a, subject, &l, &ei);
    /* Each study in turn; one deleted since is left out (a study share's then is empty). */
    size_t n = 0;
    for (size_t i = 0; err == PACS_OK && i < l.n; i++) {
        int found = 0;
        if (n != i) {
            l.v[n] = l.v[i];
            memset(&l.v[i], 0, sizeof l.v[i]);
        }
        err = gather_study(a, &l.v[n], m.name, sizeof m.name, &found, &ei);
        n += found ? 1 : 0;
    }
    if (err != PACS_OK) {
        pacs_log(PACS_LOG_ERROR, "viewer", "req=%lu share page query: %s", pacs_http_id(r), ei.msg);
        pacs_http_send_error(r, pacs_http_status_of(err), "the studies cannot be read now");
        free_studies(l.v, l.n);
        return;
    }
    share_study *studies = l.v;
    if (n == 0) {
        free_studies(studies, l.n);
        not_valid(r); /* deleted since it was shared */
        return;
    }
    /* The cookie auth.h reads: HttpOnly, SameSite=Strict, Path=/, Secure over HTTPS. */
    const pacs_config *cfg = pacs_http_config(r);
    int secure = pacs_config_bool(cfg, "http.tls") ||
                 strncmp(pacs_config_str(cfg, "http.public_url"), "https://", 8) == 0;
    char cookie[256];
    if (pacs_auth_cookie(token, expires, secure, cookie, sizeof cookie, &ei) != PACS_OK) {
        pacs_log(PACS_LOG_ERROR, "viewer", "req=%lu share cookie: %s", pacs_http_id(r), ei.msg);
        pacs_http_send_error(r, 500, "cannot make the share cookie");
        free_studies(studies, l.n);
        return;
    }
    pacs_http_add_header(r, "Set-Cookie", cookie);

    m.studies = studies;
    m.n_studies = n;
    m.expires = expires;
    m.prefix = pacs_config_str(cfg, "http.prefix");
    m.viewer_path = PACS_VIEWER_PATH;
    pacs_buf b;
    pacs_buf_init(&b, PAGE_MAX);
    pacs_viewer__share_html(&b, &m);
    free_studies(studies, l.n);
    if (b.len == 0) {
        pacs_buf_free(&b);
        pacs_http_send_error(r, 500, "out of memory");
        return;
    }
    send_page(r, 200, &b, pacs_viewer__share_csp());
}
