// SPDX-License-Identifier: MIT
/*
 * The share page (share_page.h): GET /share/{token} checks the token with the share store,
 * reads the study's patient name, date and description through the archive's query model, and
 * answers a small page (server-rendered, every value HTML-escaped, no script, no external
 * asset) that sets the share cookie for the DICOMweb root and links to the viewer on that study.
 * Any token that does not check out, and a study no longer stored, get the same plain "this link
 * is not valid" page with the same status, so the page tells nothing about why.
 *
 * Load: one page per link opened (one token check, one indexed study query).
 * Thread-safety: no state of its own; the share store and the archive are thread-safe.
 */
#include "dicomweb/share_page.h"

#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "dicomweb/auth.h"
#include "dicomweb/viewer.h"
#include "pacs/base/log.h"
#include "storage/archive.h"
#include "storage/query.h"
#include "storage/resolve.h"

#define PAGE_MAX (64u * 1024u)

typedef struct study_info {
    char name[256]; /* UTF-8, as stored ('^' between name parts) */
    char date[16];
    char description[256];
    int found;
} study_info;

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
static const char *first_value(const json_t *ds, const char *tag)
{
    const json_t *v = json_array_get(json_object_get(json_object_get(ds, tag), "Value"), 0);
    if (json_is_string(v)) {
        return json_string_value(v);
    }
    return json_string_value(json_object_get(v, "Alphabetic"));
}

static int on_study(void *ctx, const json_t *result)
{
    study_info *si = ctx;
    copy_str(si->name, sizeof si->name, first_value(result, "00100010"));
    copy_str(si->date, sizeof si->date, first_value(result, "00080020"));
    copy_str(si->description, sizeof si->description, first_value(result, "00081030"));
    si->found = 1;
    return 1; /* one is enough */
}

static pacs_err find_study(pacs_archive *a, const char *uid, study_info *si, pacs_errinfo *ei)
{
    memset(si, 0, sizeof *si);
    pacs_query *q = pacs_resolve_query(uid, NULL, NULL, ei);
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
        err = pacs_archive_find(a, q, on_study, si, ei);
    }
    pacs_query_free(q);
    return err;
}

/* Appends `s` HTML-escaped; with `pn`, DICOM's '^' and '=' separators become spaces. */
static void put_escaped(pacs_buf *b, const char *s, int pn)
{
    for (const char *p = s; *p; p++) {
        switch (*p) {
        case '&':
            pacs_buf_puts(b, "&amp;");
            break;
        case '<':
            pacs_buf_puts(b, "&lt;");
            break;
        case '>':
            pacs_buf_puts(b, "&gt;");
            break;
        case '"':
            pacs_buf_puts(b, "&quot;");
            break;
        case '\'':
            pacs_buf_puts(b, "&#39;");
            break;
        default:
            if (pn && (*p == '^' || *p == '=')) {
                if (p[1] && p[1] != '^' && p[1] != '=' && b->len && b->data[b->len - 1] != ' ') {
                    pacs_buf_append(b, " ", 1);
                }
            } else if ((unsigned char)*p >= 0x20 && *p != 0x7f) {
                pacs_buf_append(b, p, 1);
            }
            break;
        }
    }
}

static const char *const STYLE =
    "<style>body{font-family:system-ui,sans-serif;margin:0;background:#0b1a2b;color:#e8eef5}"
    "main{max-width:36em;margin:0 auto;padding:1.5em}h1{font-size:1.6em;margin:.2em 0 .6em}"
    "dt{color:#9fb3c8;font-size:.9em}dd{margin:0 0 .8em 0;font-size:1.15em}"
    "a.open{display:inline-block;margin-top:1em;padding:.8em 1.4em;background:#2f80ed;"
    "color:#fff;text-decoration:none;border-radius:.4em;font-size:1.2em}"
    "p.small{color:#9fb3c8;font-size:.85em;margin-top:2em}</style>";

static void page_start(pacs_buf *b, const char *title)
{
    pacs_buf_puts(b, "<!doctype html><html lang=\"vi\"><head><meta charset=\"utf-8\">"
                     "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
                     "<meta name=\"referrer\" content=\"no-referrer\"><title>");
    pacs_buf_puts(b, title);
    pacs_buf_puts(b, "</title>");
    pacs_buf_puts(b, STYLE);
    pacs_buf_puts(b, "</head><body><main>");
}

static void send_page(pacs_http_req *r, unsigned status, pacs_buf *b)
{
    pacs_http_add_header(r, "Cache-Control", "no-store");
    pacs_http_add_header(r, "Referrer-Policy", "no-referrer");
    pacs_http_add_header(r, "X-Content-Type-Options", "nosniff");
    pacs_http_add_header(r, "Content-Security-Policy",
                         "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'");
    pacs_http_send_buf(r, status, "text/html; charset=utf-8", b, 0);
}

static void not_valid(pacs_http_req *r)
{
    pacs_buf b;
    pacs_buf_init(&b, PAGE_MAX);
    page_start(&b, "Liên kết không hợp lệ / Link not valid");
    pacs_buf_puts(&b, "<h1>Liên kết không hợp lệ</h1><p>This link is not valid. It may have "
                      "expired or been withdrawn. Please ask the hospital for a new one.</p>"
                      "</main></body></html>\n");
    pacs_http_add_header(r, "Set-Cookie", pacs_auth_cookie_clear());
    send_page(r, 404, &b);
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
    char study[PACS_SHARE_UID_CAP];
    int64_t expires = 0;
    pacs_err err = pacs_shares_check(shares, token, study, &expires, &ei);
    if (err == PACS_EDENIED) {
        not_valid(r);
        return;
    }
    if (err != PACS_OK) {
        pacs_log(PACS_LOG_ERROR, "viewer", "req=%lu share store: %s", pacs_http_id(r), ei.msg);
        pacs_http_send_error(r, 503, "share links are not available now");
        return;
    }
    study_info si;
    err = find_study(pacs_http_archive(r), study, &si, &ei);
    if (err != PACS_OK) {
        pacs_log(PACS_LOG_ERROR, "viewer", "req=%lu study=%s share page query: %s", pacs_http_id(r),
                 study, ei.msg);
        pacs_http_send_error(r, pacs_http_status_of(err), "the study cannot be read now");
        return;
    }
    if (strspn(study, "0123456789.") != strlen(study)) {
        not_valid(r); /* never in the store: it checks UIDs when a share is made */
        return;
    }
    if (!si.found) {
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
        return;
    }
    pacs_http_add_header(r, "Set-Cookie", cookie);

    pacs_buf b;
    pacs_buf_init(&b, PAGE_MAX);
    page_start(&b, "Hình ảnh chẩn đoán / Medical images");
    pacs_buf_puts(&b, "<p>Hình ảnh chẩn đoán / Medical images</p><h1>");
    put_escaped(&b, si.name[0] ? si.name : "—", 1);
    pacs_buf_puts(&b, "</h1><dl><dt>Ngày chụp / Study date</dt><dd>");
    if (strlen(si.date) == 8) {
        pacs_buf_printf(&b, "%.4s-%.2s-%.2s", si.date, si.date + 4, si.date + 6);
    } else {
        put_escaped(&b, si.date[0] ? si.date : "—", 0);
    }
    pacs_buf_puts(&b, "</dd><dt>Mô tả / Description</dt><dd>");
    put_escaped(&b, si.description[0] ? si.description : "—", 0);
    pacs_buf_printf(&b,
                    "</dd></dl><a class=\"open\" id=\"open\" href=\"" PACS_VIEWER_PATH
                    "/viewer?StudyInstanceUIDs=%s\">Xem hình ảnh / Open the images</a>",
                    study);
    struct tm tm;
    time_t exp = (time_t)expires;
    char until[32] = "";
    if (gmtime_r(&exp, &tm)) {
        strftime(until, sizeof until, "%Y-%m-%d", &tm);
    }
    pacs_buf_printf(&b,
                    "<p class=\"small\">Liên kết có hiệu lực đến / This link works until %s "
                    "(UTC). Keep it private: anyone with it can see these images.</p>",
                    until);
    pacs_buf_puts(&b, "</main></body></html>\n");
    if (b.len == 0) {
        pacs_buf_free(&b);
        pacs_http_send_error(r, 500, "out of memory");
        return;
    }
    send_page(r, 200, &b);
}
