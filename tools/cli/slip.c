// SPDX-License-Identifier: MIT
/*
 * The printed share slip (slip.h): an A5 PDF page drawn with cairo. Layout, top to bottom:
 * the hospital, a title, the patient and the study, the QR code (one path of every dark
 * module, filled once, so no seam shows between modules), the link as text, the expiry, and
 * the instruction. Text goes through fontconfig's choice for Vietnamese and is checked glyph by
 * glyph: a letter the font lacks is an error, never a blank box on paper.
 */
#include "tools/cli/slip.h"

#include <cairo-ft.h>
#include <cairo-pdf.h>
#include <cairo.h>
#include <errno.h>
#include <fontconfig/fontconfig.h>
#include <qrencode.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <utf8proc.h>

#define MM (72.0 / 25.4)
#define PAGE_W (148.0 * MM) /* A5 */
#define PAGE_H (210.0 * MM)
#define MARGIN (14.0 * MM)
#define TEXT_W (PAGE_W - 2 * MARGIN)
#define QR_SIDE (58.0 * MM) /* modules and quiet zone: a phone reads it from arm's length */
#define QR_QUIET 4

typedef struct slip_ctx {
    cairo_t *cr;
    cairo_font_face_t *regular, *bold;
    int missing; /* a character the font has no glyph for */
    char missing_what[64];
} slip_ctx;

enum { LEFT, CENTRE };

/* A font face for Vietnamese text, as fontconfig chooses it for `spec`; NULL when the best
 * match does not cover Vietnamese. */
static cairo_font_face_t *face_for(const char *spec, char *name, size_t cap)
{
    FcPattern *p = FcNameParse((const FcChar8 *)spec);
    if (!p) {
        return NULL;
    }
    FcConfigSubstitute(NULL, p, FcMatchPattern);
    FcDefaultSubstitute(p);
    FcResult res = FcResultNoMatch;
    FcPattern *m = FcFontMatch(NULL, p, &res);
    FcPatternDestroy(p);
    if (!m) {
        return NULL;
    }
    FcLangSet *langs = NULL;
    FcChar8 *family = NULL;
    if (FcPatternGetString(m, FC_FAMILY, 0, &family) == FcResultMatch) {
        snprintf(name, cap, "%s", (const char *)family);
    }
    if (FcPatternGetLangSet(m, FC_LANG, 0, &langs) != FcResultMatch ||
        FcLangSetHasLang(langs, (const FcChar8 *)"vi") == FcLangDifferentLang) {
        FcPatternDestroy(m);
        return NULL;
    }
    cairo_font_face_t *f = cairo_ft_font_face_create_for_pattern(m);
    FcPatternDestroy(m); /* cairo keeps its own reference */
    if (cairo_font_face_status(f) != CAIRO_STATUS_SUCCESS) {
        cairo_font_face_destroy(f);
        return NULL;
    }
    return f;
}

/* `s` in NFC (the caller frees); a copy when it cannot be normalised. */
static char *nfc(const char *s)
{
    char *n = (char *)utf8proc_NFC((const utf8proc_uint8_t *)s);
    return n ? n : strdup(s);
}

static void use(slip_ctx *c, int bold, double size)
{
    cairo_set_font_face(c->cr, bold ? c->bold : c->regular);
    cairo_set_font_size(c->cr, size);
}

/* Notes any character of `s` the current font draws as its "missing" glyph. */
static void check_glyphs(slip_ctx *c, const char *s)
{
    cairo_glyph_t *glyphs = NULL;
    int n = 0;
    cairo_scaled_font_t *sf = cairo_get_scaled_font(c->cr);
    if (cairo_scaled_font_text_to_glyphs(sf, 0, 0, s, -1, &glyphs, &n, NULL, NULL, NULL) !=
        CAIRO_STATUS_SUCCESS) {
        c->missing = 1;
        return;
    }
    for (int i = 0; i < n && !c->missing; i++) {
        if (glyphs[i].index == 0) {
            c->missing = 1;
            snprintf(c->missing_what, sizeof c->missing_what, "%.60s", s);
        }
    }
    cairo_glyph_free(glyphs);
}

static double width_of(slip_ctx *c, const char *s)
{
    cairo_text_extents_t e;
    cairo_text_extents(c->cr, s, &e);
    return e.x_advance;
}

static void show(slip_ctx *c, const char *s, double x, double y, int align, double w)
{
    check_glyphs(c, s);
    double dx = align == CENTRE ? (w - width_of(c, s)) / 2 : 0;
    cairo_move_to(c->cr, x + dx, y);
    cairo_show_text(c->cr, s);
}

/* Draws `text` in lines of at most `w` points, breaking at spaces (or anywhere in a word that
 * is wider than a line, such as a link); returns the baseline after the last line. */
static double wrapped(slip_ctx *c, const char *text, double x, double y, double w, double lead,
                      int align)
{
    char *t = nfc(text);
    if (!t) {
        return y;
    }
    size_t len = strlen(t), start = 0;
    char *line = malloc(len + 1);
    while (line && start < len) {
        /* The longest run that fits, ending at a space if one can. */
        size_t fit_word = 0, fit_any = 0, pos = start;
        while (pos < len) {
            size_t next = pos + 1;
            while (next < len && ((unsigned char)t[next] & 0xC0) == 0x80) {
                next++;
            }
            memcpy(line, t + start, next - start);
            line[next - start] = '\0';
            if (width_of(c, line) > w) {
                break;
            }
            fit_any = next - start;
            if (next == len || t[next] == ' ') {
                fit_word = next - start;
            }
            pos = next;
        }
        size_t n = fit_word ? fit_word : fit_any;
        if (n == 0) { /* not even one character fits: draw it anyway */
            n = 1;
            while (start + n < len && ((unsigned char)t[start + n] & 0xC0) == 0x80) {
                n++;
            }
        }
        memcpy(line, t + start, n);
        line[n] = '\0';
        show(c, line, x, y, align, w);
        y += lead;
        start += n;
        while (start < len && t[start] == ' ') {
            start++;
        }
    }
    free(line);
    free(t);
    return y;
}

/* A label and its value on one line (the value wrapped under itself when long). */
static double field(slip_ctx *c, const char *label, const char *value, int bold_value, double y)
{
    if (!value[0]) {
        return y;
    }
    const double label_w = 32.0 * MM;
    cairo_set_source_rgb(c->cr, 0.35, 0.35, 0.35);
    use(c, 0, 10);
    show(c, label, MARGIN, y, LEFT, 0);
    cairo_set_source_rgb(c->cr, 0, 0, 0);
    use(c, bold_value, bold_value ? 12 : 10.5);
    return wrapped(c, value, MARGIN + label_w, y, TEXT_W - label_w, 15, LEFT) + 2;
}

static void date_text(const char *da, char *out, size_t cap)
{
    if (strlen(da) == 8 && strspn(da, "0123456789") == 8) {
        snprintf(out, cap, "%.2s/%.2s/%.4s", da + 6, da + 4, da);
    } else {
        snprintf(out, cap, "%s", da);
    }
}

/* A PN as "Family Given Middle" (Vietnamese order, as written on Vietnamese papers). */
static void person(const char *pn, char *out, size_t cap)
{
    size_t n = 0;
    for (const char *p = pn; *p && *p != '=' && n + 1 < cap; p++) {
        if (*p == '^') {
            if (n > 0 && out[n - 1] != ' ') {
                out[n++] = ' ';
            }
        } else {
            out[n++] = *p;
        }
    }
    while (n > 0 && out[n - 1] == ' ') {
        n--;
    }
    out[n] = '\0';
}

static int qr(slip_ctx *c, const char *link, double y, char *why, size_t cap)
{
    QRcode *q = QRcode_encodeString(link, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
    if (!q) {
        snprintf(why, cap, "cannot make the QR code: %s", strerror(errno));
        return -1;
    }
    double m = QR_SIDE / (q->width + 2 * QR_QUIET);
    double x0 = (PAGE_W - QR_SIDE) / 2 + QR_QUIET * m, y0 = y + QR_QUIET * m;
    cairo_new_path(c->cr);
    for (int r = 0; r < q->width; r++) {
        for (int col = 0; col < q->width;) {
            if (!(q->data[r * q->width + col] & 1)) {
                col++;
                continue;
            }
            int run = 1;
            while (col + run < q->width && (q->data[r * q->width + col + run] & 1)) {
                run++;
            }
            cairo_rectangle(c->cr, x0 + col * m, y0 + r * m, run * m, m);
            col += run;
        }
    }
    cairo_set_source_rgb(c->cr, 0, 0, 0);
    cairo_fill(c->cr);
    QRcode_free(q);
    return 0;
}

static void draw(slip_ctx *c, const pacs_slip *s, char *why, size_t cap, int *rc)
{
    cairo_t *cr = c->cr;
    char buf[512], date[32];
    double y = MARGIN + 14;
    cairo_set_source_rgb(cr, 0, 0, 0);
    use(c, 1, 15);
    y = wrapped(c, s->hospital[0] ? s->hospital : "Phiếu xem hình ảnh", MARGIN, y, TEXT_W, 19,
                CENTRE);
    cairo_set_line_width(cr, 0.8);
    cairo_move_to(cr, MARGIN, y - 8);
    cairo_line_to(cr, PAGE_W - MARGIN, y - 8);
    cairo_stroke(cr);
    y += 10;
    use(c, 1, 12.5);
    y = wrapped(c, "PHIẾU XEM HÌNH ẢNH CHẨN ĐOÁN", MARGIN, y, TEXT_W, 16, CENTRE) + 8;

    person(s->patient_name, buf, sizeof buf);
    y = field(c, "Họ và tên:", buf, 1, y);
    y = field(c, "Mã bệnh nhân:", s->patient_id, 0, y);
    date_text(s->birth_date, date, sizeof date);
    y = field(c, "Ngày sinh:", date, 0, y);
    if (s->n_studies > 0) {
        snprintf(buf, sizeof buf, "%s%zu lần chụp%s", s->n_studies > 1 ? "Tất cả " : "",
                 s->n_studies, s->later ? ", và các lần chụp sau này" : "");
        y = field(c, "Hồ sơ:", buf, 0, y);
    } else {
        date_text(s->study_date, date, sizeof date);
        y = field(c, "Ngày chụp:", date, 0, y);
        y = field(c, "Nội dung:", s->study_description, 0, y);
    }

    y += 4;
    if (qr(c, s->link, y, why, cap) != 0) {
        *rc = -1;
        return;
    }
    y += QR_SIDE + 10;
    use(c, 0, 7.5);
    cairo_set_source_rgb(cr, 0.25, 0.25, 0.25);
    y = wrapped(c, s->link, MARGIN, y, TEXT_W, 10, CENTRE) + 6;

    time_t exp = (time_t)s->expires;
    struct tm tm;
    if (localtime_r(&exp, &tm)) { /* the hospital's own calendar */
        strftime(date, sizeof date, "%d/%m/%Y", &tm);
        snprintf(buf, sizeof buf, "Hiệu lực đến ngày %s", date);
        cairo_set_source_rgb(cr, 0, 0, 0);
        use(c, 1, 11.5);
        y = wrapped(c, buf, MARGIN, y, TEXT_W, 15, CENTRE) + 6;
    }

    use(c, 0, 9.5);
    cairo_set_source_rgb(cr, 0, 0, 0);
    y = wrapped(c,
                "Cách xem: mở máy ảnh (camera) của điện thoại, hướng vào mã QR rồi chạm vào "
                "đường liên kết hiện ra. Hình ảnh và kết quả hiện ngay trên điện thoại, không "
                "cần cài thêm ứng dụng. Vuốt lên hoặc xuống để xem từng lát cắt.",
                MARGIN, y, TEXT_W, 12.5, LEFT) +
        4;
    wrapped(c,
            "Giữ phiếu này cẩn thận: ai có mã QR này đều xem được hình ảnh của bạn. Khi đi khám "
            "ở nơi khác, hãy đưa phiếu này cho bác sĩ.",
            MARGIN, y, TEXT_W, 12.5, LEFT);

    time_t now = time(NULL);
    if (localtime_r(&now, &tm)) {
        strftime(date, sizeof date, "%d/%m/%Y %H:%M", &tm);
        snprintf(buf, sizeof buf, "In lúc %s", date);
        use(c, 0, 7);
        cairo_set_source_rgb(cr, 0.4, 0.4, 0.4);
        show(c, buf, MARGIN, PAGE_H - MARGIN / 2, LEFT, 0);
    }
}

int pacs_tool__slip(const pacs_slip *s, const char *path, char *why, size_t cap)
{
    slip_ctx c;
    memset(&c, 0, sizeof c);
    int rc = 0;
    char family[128] = "?";
    if (!FcInit()) {
        snprintf(why, cap, "fontconfig cannot start");
        return -1;
    }
    c.regular = face_for("sans-serif:lang=vi", family, sizeof family);
    c.bold = face_for("sans-serif:lang=vi:weight=bold", family, sizeof family);
    if (!c.regular || !c.bold) {
        snprintf(why, cap,
                 "no font for Vietnamese text (fontconfig offers %s): install one, such as "
                 "fonts-dejavu-core",
                 family);
        rc = -1;
        goto done;
    }
    cairo_surface_t *surface = cairo_pdf_surface_create(path, PAGE_W, PAGE_H);
    if (cairo_surface_status(surface) != CAIRO_STATUS_SUCCESS) {
        snprintf(why, cap, "cannot write %s: %s", path,
                 cairo_status_to_string(cairo_surface_status(surface)));
        cairo_surface_destroy(surface);
        rc = -1;
        goto done;
    }
    /* A generic title: the file's metadata need not name the patient. */
    cairo_pdf_surface_set_metadata(surface, CAIRO_PDF_METADATA_TITLE, "Phiếu xem hình ảnh");
    cairo_pdf_surface_set_metadata(surface, CAIRO_PDF_METADATA_CREATOR, "pacs share");
    c.cr = cairo_create(surface);
    draw(&c, s, why, cap, &rc);
    cairo_show_page(c.cr);
    cairo_status_t st = cairo_status(c.cr);
    cairo_destroy(c.cr);
    cairo_surface_finish(surface);
    if (st == CAIRO_STATUS_SUCCESS) {
        st = cairo_surface_status(surface);
    }
    cairo_surface_destroy(surface);
    if (rc == 0 && st != CAIRO_STATUS_SUCCESS) {
        snprintf(why, cap, "cannot write %s: %s", path, cairo_status_to_string(st));
        rc = -1;
    }
    if (rc == 0 && c.missing) {
        snprintf(why, cap, "the font %s has no letter for some of \"%s\"", family, c.missing_what);
        rc = -1;
    }
    if (rc != 0) {
        remove(path);
    }
done:
    cairo_font_face_destroy(c.regular);
    cairo_font_face_destroy(c.bold);
    return rc;
}
