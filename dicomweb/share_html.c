// SPDX-License-Identifier: MIT
/*
 * The share page's HTML (share_html.h): server-rendered in Vietnamese and English at once
 * (the script shows one, CSS hides the other), every stored value HTML-escaped, the style and
 * script inlined, and the viewer's controls present from the start so the script only wires
 * them. Load: one page per link opened, a few kilobytes.
 */
#include "dicomweb/share_html.h"

#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

static char csp[600];
static pthread_once_t csp_once = PTHREAD_ONCE_INIT;

/* "'sha256-BASE64'" of an inline block, as CSP level 2 names it. */
static void hash_source(const unsigned char *data, size_t len, char *out, size_t cap)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int md_len = 0;
    unsigned char b64[64];
    if (!EVP_Digest(data, len, md, &md_len, EVP_sha256(), NULL) || md_len != 32) {
        snprintf(out, cap, "'none'");
        return;
    }
    EVP_EncodeBlock(b64, md, (int)md_len);
    snprintf(out, cap, "'sha256-%s'", (const char *)b64);
}

static void csp_init(void)
{
    char js[80], css[80];
    hash_source(pacs_viewer__share_js, pacs_viewer__share_js_len, js, sizeof js);
    hash_source(pacs_viewer__share_css, pacs_viewer__share_css_len, css, sizeof css);
    snprintf(csp, sizeof csp,
             "default-src 'none'; script-src %s; style-src %s; img-src 'self' blob: data:; "
             "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
             js, css);
}

const char *pacs_viewer__share_csp(void)
{
    pthread_once(&csp_once, csp_init);
    return csp;
}

void pacs_viewer__html_escape(pacs_buf *b, const char *s, int pn)
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
            } else if (*p == '\n' && !pn) {
                pacs_buf_append(b, "\n", 1);
            }
            break;
        }
    }
}

void pacs_viewer__html_start(pacs_buf *b, const char *title)
{
    pacs_buf_puts(b, "<!doctype html><html lang=\"vi\"><head><meta charset=\"utf-8\">"
                     "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
                     "<meta name=\"referrer\" content=\"no-referrer\">"
                     "<meta name=\"robots\" content=\"noindex\">"
                     "<link rel=\"icon\" href=\"data:,\"><title>");
    pacs_buf_puts(b, title);
    pacs_buf_puts(b, "</title>");
}

/* "{prefix}/studies/{st}/series/{se}[/instances/{sop}]", every part HTML-escaped (they are
 * UIDs and a configured path: the escaping is for safety, not expected to change them). */
static void put_path(pacs_buf *b, const char *prefix, const char *st, const char *se,
                     const char *sop)
{
    pacs_viewer__html_escape(b, prefix, 0);
    pacs_buf_puts(b, "/studies/");
    pacs_viewer__html_escape(b, st, 0);
    pacs_buf_puts(b, "/series/");
    pacs_viewer__html_escape(b, se, 0);
    if (sop) {
        pacs_buf_puts(b, "/instances/");
        pacs_viewer__html_escape(b, sop, 0);
    }
}

/* A label in both languages. */
static void both(pacs_buf *b, const char *vi, const char *en)
{
    pacs_buf_printf(b, "<span class=\"vi\">%s</span><span class=\"en\">%s</span>", vi, en);
}

static void put_date(pacs_buf *b, const char *da)
{
    if (strlen(da) == 8 && strspn(da, "0123456789") == 8) {
        pacs_buf_printf(b, "%.2s/%.2s/%.4s", da + 6, da + 4, da); /* as Vietnam writes dates */
    } else {
        pacs_viewer__html_escape(b, da[0] ? da : "—", 0);
    }
}

static void put_report(pacs_buf *b, const share_model *m, const share_study *st)
{
    const pacs_report *r = st->report;
    if (!r) {
        return;
    }
    pacs_buf_puts(b, "<article class=\"rp\"><h2>");
    both(b, "Kết quả", "Report");
    pacs_buf_puts(b, "</h2>");
    if (r->pdf) {
        pacs_buf_puts(b, "<button type=\"button\" class=\"pdf\" data-url=\"");
        put_path(b, m->prefix, st->uid, r->series_uid, r->sop_uid);
        pacs_buf_puts(b, "/bulkdata/00420011\">");
        both(b, "Xem kết quả (PDF)", "Open the report (PDF)");
        pacs_buf_puts(b, "</button>");
    } else {
        pacs_buf_puts(b, "<p class=\"rt\" id=\"report\">");
        pacs_viewer__html_escape(b, r->text ? r->text : "", 0);
        pacs_buf_puts(b, "</p>");
    }
    if (r->observer[0] || r->date[0]) {
        pacs_buf_puts(b, "<p class=\"by\">");
        both(b, "Bác sĩ đọc:", "Read by:");
        pacs_buf_puts(b, " ");
        pacs_viewer__html_escape(b, r->observer, 1);
        if (r->date[0]) {
            pacs_buf_puts(b, r->observer[0] ? ", " : "");
            put_date(b, r->date);
        }
        pacs_buf_puts(b, "</p>");
    }
    pacs_buf_puts(b, "</article>");
}

static void put_series(pacs_buf *b, const share_model *m, const share_study *st,
                       const share_series *se)
{
    pacs_buf_puts(b, "<li><button type=\"button\" class=\"s\" data-series=\"");
    pacs_viewer__html_escape(b, se->uid, 0);
    pacs_buf_puts(b, "\" data-mid=\"");
    pacs_viewer__html_escape(b, se->mid_sop, 0);
    pacs_buf_printf(b,
                    "\" data-fr=\"%u\" data-n=\"%u\" data-rows=\"%u\" data-cols=\"%u\" data-mod=\"",
                    se->mid_frame, se->images, se->rows, se->cols);
    pacs_viewer__html_escape(b, se->modality, 0);
    pacs_buf_puts(b, "\" data-no=\"");
    pacs_viewer__html_escape(b, se->number, 0);
    pacs_buf_puts(b, "\"><img alt=\"\" width=\"96\" height=\"96\" src=\"");
    put_path(b, m->prefix, st->uid, se->uid, NULL);
    pacs_buf_puts(b, "/thumbnail?viewport=256,256\"><span><b>");
    pacs_viewer__html_escape(b, se->description[0] ? se->description : se->modality, 0);
    pacs_buf_puts(b, "</b><small>");
    pacs_viewer__html_escape(b, se->modality, 0);
    if (se->number[0]) {
        pacs_buf_puts(b, " #");
        pacs_viewer__html_escape(b, se->number, 0);
    }
    pacs_buf_printf(b, " · %u ", se->images);
    both(b, "ảnh", se->images == 1 ? "image" : "images");
    pacs_buf_puts(b, "</small></span></button></li>");
}

static void put_study(pacs_buf *b, const share_model *m, const share_study *st)
{
    pacs_buf_puts(b, "<section class=\"st\" data-study=\"");
    pacs_viewer__html_escape(b, st->uid, 0);
    pacs_buf_puts(b, "\"><dl><dt>");
    both(b, "Ngày chụp", "Study date");
    pacs_buf_puts(b, "</dt><dd>");
    put_date(b, st->date);
    pacs_buf_puts(b, "</dd><dt>");
    both(b, "Mô tả", "Description");
    pacs_buf_puts(b, "</dt><dd>");
    pacs_viewer__html_escape(b, st->description[0] ? st->description : "—", 0);
    pacs_buf_puts(b, "</dd></dl>");
    put_report(b, m, st);
    pacs_buf_puts(b, "<h2>");
    both(b, "Loạt ảnh", "Series");
    pacs_buf_puts(b, "</h2>");
    if (st->n_series == 0) {
        pacs_buf_puts(b, "<p>");
        both(b, "Chưa có hình ảnh.", "No images yet.");
        pacs_buf_puts(b, "</p>");
    } else {
        pacs_buf_puts(b, "<ul class=\"se\">");
        for (size_t i = 0; i < st->n_series; i++) {
            put_series(b, m, st, &st->series[i]);
        }
        pacs_buf_puts(b, "</ul>");
    }
    pacs_buf_printf(b, "<a class=\"btn\" rel=\"noreferrer\" href=\"%s/viewer?StudyInstanceUIDs=",
                    m->viewer_path);
    pacs_viewer__html_escape(b, st->uid, 0);
    pacs_buf_puts(b, "\">");
    both(b, "Mở bằng OHIF (cho bác sĩ)", "Open in OHIF (for doctors)");
    pacs_buf_puts(b, "</a></section>");
}

/* The full-screen viewer, hidden until a series is tapped. */
static void put_viewer(pacs_buf *b)
{
    static const struct {
        const char *window, *vi, *en;
    } presets[] = {{"40,400", "Mô mềm", "Soft tissue"},
                   {"-600,1500", "Phổi", "Lung"},
                   {"400,1800", "Xương", "Bone"},
                   {"40,80", "Não", "Brain"}};
    pacs_buf_puts(b, "<div id=\"v\" hidden><div id=\"vs\"><img id=\"vi\" alt=\"\"></div>"
                     "<div id=\"vw\" hidden>");
    both(b, "Đang tải…", "Loading…");
    pacs_buf_puts(b, "</div><div id=\"ve\" hidden>");
    both(b, "Không tải được ảnh.", "The image could not be loaded.");
    pacs_buf_puts(b, "</div><p class=\"hint\">");
    both(b, "Vuốt để chuyển lát cắt · chụm hai ngón để phóng to · chạm hai lần để đặt lại",
         "Swipe to change slice · pinch to zoom · double tap to reset");
    pacs_buf_puts(b, "</p><div class=\"bar top\"><button type=\"button\" id=\"vx\" "
                     "aria-label=\"Đóng / Close\">✕</button><span id=\"vn\"></span>"
                     "<button type=\"button\" id=\"vsv\">");
    both(b, "Lưu JPEG", "Save JPEG");
    pacs_buf_puts(b, "</button></div><div class=\"bar bot\"><div id=\"vp\">"
                     "<button type=\"button\" data-w=\"\" class=\"on\">");
    both(b, "Gốc", "Default");
    pacs_buf_puts(b, "</button>");
    for (size_t i = 0; i < sizeof presets / sizeof presets[0]; i++) {
        pacs_buf_printf(b, "<button type=\"button\" class=\"ct\" data-w=\"%s\">",
                        presets[i].window);
        both(b, presets[i].vi, presets[i].en);
        pacs_buf_puts(b, "</button>");
    }
    pacs_buf_puts(b, "</div><input id=\"vr\" type=\"range\" min=\"1\" max=\"1\" value=\"1\" "
                     "aria-label=\"slice\"></div></div>");
}

void pacs_viewer__share_html(pacs_buf *b, const share_model *m)
{
    pacs_viewer__html_start(b, "Hình ảnh chẩn đoán / Medical images");
    pacs_buf_puts(b, "<style>");
    pacs_buf_append(b, pacs_viewer__share_css, pacs_viewer__share_css_len);
    pacs_buf_puts(b, "</style></head><body data-base=\"");
    pacs_viewer__html_escape(b, m->prefix, 0);
    pacs_buf_puts(b, "\"><header><p class=\"k\">");
    both(b, "Hình ảnh chẩn đoán", "Medical images");
    pacs_buf_puts(b, "</p><button type=\"button\" id=\"lang\">");
    both(b, "English", "Tiếng Việt");
    pacs_buf_puts(b, "</button><h1>");
    pacs_viewer__html_escape(b, m->name[0] ? m->name : "—", 1);
    pacs_buf_puts(b, "</h1></header><main>");
    for (size_t i = 0; i < m->n_studies; i++) {
        put_study(b, m, &m->studies[i]);
    }
    struct tm tm;
    time_t exp = (time_t)m->expires;
    char until[32] = "";
    if (gmtime_r(&exp, &tm)) {
        strftime(until, sizeof until, "%d/%m/%Y", &tm);
    }
    pacs_buf_puts(b, "<p class=\"small\">");
    pacs_buf_printf(b,
                    "<span class=\"vi\">Liên kết có hiệu lực đến %s (UTC). Hãy giữ riêng: ai có "
                    "liên kết này đều xem được các hình ảnh.</span><span class=\"en\">This link "
                    "works until %s (UTC). Keep it private: anyone with it can see these images."
                    "</span>",
                    until, until);
    pacs_buf_puts(b, "</p></main>");
    put_viewer(b);
    pacs_buf_puts(b, "<script>");
    pacs_buf_append(b, pacs_viewer__share_js, pacs_viewer__share_js_len);
    pacs_buf_puts(b, "</script></body></html>\n");
}
