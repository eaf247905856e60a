// SPDX-License-Identifier: MIT
/*
 * The share page's HTML (share_html.c), inside the viewer module only: share_page.c gathers
 * what a link shows into a share_model, and this file writes it as one self-contained page
 * (its style and script inlined from dicomweb/share_assets/, embedded at build time) with the
 * Content-Security-Policy that admits exactly those two inline blocks.
 * Thread-safety: any thread (the hashes are computed once, under pthread_once).
 */
#ifndef PACS_DICOMWEB_SHARE_HTML_H
#define PACS_DICOMWEB_SHARE_HTML_H

#include <stddef.h>
#include <stdint.h>

#include "pacs/base/buf.h"
#include "storage/report.h"

/** One series with images, as the page lists it. */
typedef struct share_series {
    char uid[65];
    char modality[17];
    char number[13];
    char description[200];
    char mid_sop[65]; /* the middle image, shown first (as the series thumbnail shows it) */
    unsigned mid_frame;
    unsigned images; /* frames of every instance with pixel data */
    unsigned rows, cols;
} share_series;

/** One study: its date, description, report (or NULL) and series with images. */
typedef struct share_study {
    char uid[65];
    char date[16];
    char description[256];
    pacs_report *report;
    share_series *series;
    size_t n_series;
} share_study;

/** What a link shows. */
typedef struct share_model {
    char name[256]; /* the patient's name as stored (PN) */
    const share_study *studies;
    size_t n_studies;
    int64_t expires;
    const char *prefix;      /* the DICOMweb root's path (http.prefix) */
    const char *viewer_path; /* OHIF's path (PACS_VIEWER_PATH) */
} share_model;

/** Writes the page for `m` into `b`. */
void pacs_viewer__share_html(pacs_buf *b, const share_model *m);

/** The Content-Security-Policy of the page pacs_viewer__share_html writes (static). */
const char *pacs_viewer__share_csp(void);

/** Appends `s` HTML-escaped; with `pn`, DICOM's '^' and '=' separators become spaces. */
void pacs_viewer__html_escape(pacs_buf *b, const char *s, int pn);

/** The page's opening up to <body> (lang vi), with `title` (not escaped: a literal). */
void pacs_viewer__html_start(pacs_buf *b, const char *title);

/* The embedded assets (share_assets.c, generated at build time from dicomweb/share_assets/). */
extern const unsigned char pacs_viewer__share_js[];
extern const size_t pacs_viewer__share_js_len;
extern const unsigned char pacs_viewer__share_css[];
extern const size_t pacs_viewer__share_css_len;

#endif
