// SPDX-License-Identifier: MIT
/*
 * The study's final report (report.h): one instance-level query for the study's SR and PDF
 * documents with their stored DICOM JSON metadata, the choice of the final one, and the SR
 * content tree flattened to text with jansson. Stateless; thread-safe as the archive.
 */
#include "storage/report.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pacs/base/buf.h"

#define TAG_STUDY_UID 0x0020000Du
#define TAG_SOP_CLASS 0x00080016u
#define SOP_PDF "1.2.840.10008.5.1.4.1.1.104.1"
#define MAX_DOCS 64 /* documents of one study considered */
#define MAX_DEPTH 16

/* Basic Text, Enhanced, Comprehensive, Comprehensive 3D and Extensible SR, and PDF. */
static const char DOC_CLASSES[] = "1.2.840.10008.5.1.4.1.1.88.11\\1.2.840.10008.5.1.4.1.1.88.22\\"
                                  "1.2.840.10008.5.1.4.1.1.88.33\\1.2.840.10008.5.1.4.1.1.88.34\\"
                                  "1.2.840.10008.5.1.4.1.1.88.35\\" SOP_PDF;

typedef struct doc {
    char series_uid[65], sop_uid[65], sop_class[65];
    json_t *meta;
} doc;

typedef struct docs {
    doc v[MAX_DOCS];
    size_t n;
    int oom;
} docs;

/* ---- DICOM JSON access ---- */

static const json_t *values(const json_t *ds, const char *tag)
{
    return json_object_get(json_object_get(ds, tag), "Value");
}

/* The first value of a string attribute, or of a PN's Alphabetic group; "" when absent. */
static const char *text_of(const json_t *ds, const char *tag)
{
    const json_t *v = json_array_get(values(ds, tag), 0);
    const char *s = json_is_string(v) ? json_string_value(v)
                                      : json_string_value(json_object_get(v, "Alphabetic"));
    return s ? s : "";
}

static void copy_str(char *dst, size_t cap, const char *src)
{
    snprintf(dst, cap, "%s", src ? src : "");
}

static int collect(void *ctx, const pacs_instance_rec *rec)
{
    docs *d = ctx;
    if (d->n == MAX_DOCS || !rec->metadata) {
        return 0;
    }
    json_error_t jerr;
    json_t *meta = json_loadb(rec->metadata, rec->metadata_len, 0, &jerr);
    if (!json_is_object(meta)) {
        json_decref(meta);
        return 0; /* a document whose metadata cannot be read is no report */
    }
    doc *o = &d->v[d->n++];
    copy_str(o->series_uid, sizeof o->series_uid, rec->series_uid);
    copy_str(o->sop_uid, sizeof o->sop_uid, rec->sop_uid);
    copy_str(o->sop_class, sizeof o->sop_class, rec->sop_class);
    o->meta = meta;
    return 0;
}

/* ---- which document is final ---- */

static int is_pdf(const doc *o)
{
    return strcmp(o->sop_class, SOP_PDF) == 0;
}

static int counts(const doc *o)
{
    if (is_pdf(o)) {
        return 1;
    }
    return strcmp(text_of(o->meta, "0040A491"), "COMPLETE") == 0 &&
           strcmp(text_of(o->meta, "0040A493"), "VERIFIED") == 0;
}

/* 1 when `sop` is named in the Predecessor Documents Sequence of `o` (study > series > SOP). */
static int names_predecessor(const doc *o, const char *sop)
{
    const json_t *studies = values(o->meta, "0040A360");
    for (size_t i = 0; i < json_array_size(studies); i++) {
        const json_t *series = values(json_array_get(studies, i), "00081115");
        for (size_t j = 0; j < json_array_size(series); j++) {
            const json_t *sops = values(json_array_get(series, j), "00081199");
            for (size_t k = 0; k < json_array_size(sops); k++) {
                if (strcmp(text_of(json_array_get(sops, k), "00081155"), sop) == 0) {
                    return 1;
                }
            }
        }
    }
    return 0;
}

/* "YYYYMMDDHHMMSS..." of a document, for comparing which is later. */
static void when(const doc *o, char *buf, size_t cap)
{
    snprintf(buf, cap, "%-8.8s%-13.13s", text_of(o->meta, "00080023"),
             text_of(o->meta, "00080033"));
}

/* ---- the SR content tree as text ---- */

static const char *concept_name(const json_t *item)
{
    return text_of(json_array_get(values(item, "0040A043"), 0), "00080104");
}

static void put_line(pacs_buf *b, const char *name, const char *value)
{
    if (!value[0]) {
        return;
    }
    if (name[0]) {
        pacs_buf_printf(b, "%s: %s\n", name, value);
    } else {
        pacs_buf_printf(b, "%s\n", value);
    }
}

/* A PN value as "Family Given" (components joined by spaces, empty ones skipped). */
static void person(const char *pn, char *out, size_t cap)
{
    size_t n = 0;
    out[0] = '\0';
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

static void flatten(pacs_buf *b, const json_t *container, int depth)
{
    const json_t *items = values(container, "0040A730");
    for (size_t i = 0; i < json_array_size(items) && depth < MAX_DEPTH; i++) {
        const json_t *it = json_array_get(items, i);
        if (strcmp(text_of(it, "0040A010"), "CONTAINS") != 0) {
            continue;
        }
        const char *type = text_of(it, "0040A040");
        const char *name = concept_name(it);
        char buf[512];
        if (strcmp(type, "CONTAINER") == 0) {
            if (name[0]) {
                if (b->len > 0) {
                    pacs_buf_puts(b, "\n");
                }
                pacs_buf_printf(b, "%s\n", name);
            }
            flatten(b, it, depth + 1);
        } else if (strcmp(type, "TEXT") == 0) {
            put_line(b, "", text_of(it, "0040A160"));
        } else if (strcmp(type, "CODE") == 0) {
            put_line(b, name, text_of(json_array_get(values(it, "0040A168"), 0), "00080104"));
        } else if (strcmp(type, "NUM") == 0) {
            const json_t *mv = json_array_get(values(it, "0040A300"), 0);
            const json_t *num = json_array_get(values(mv, "0040A30A"), 0);
            const json_t *unit = json_array_get(values(mv, "004008EA"), 0);
            const char *u = text_of(unit, "00080100");
            if (json_is_number(num)) {
                snprintf(buf, sizeof buf, "%g%s%s", json_number_value(num), u[0] ? " " : "", u);
            } else {
                snprintf(buf, sizeof buf, "%s%s%s", text_of(mv, "0040A30A"), u[0] ? " " : "", u);
            }
            put_line(b, name, buf);
        } else if (strcmp(type, "PNAME") == 0) {
            person(text_of(it, "0040A123"), buf, sizeof buf);
            put_line(b, name, buf);
        } else if (strcmp(type, "DATE") == 0 || strcmp(type, "TIME") == 0 ||
                   strcmp(type, "DATETIME") == 0 || strcmp(type, "UIDREF") == 0) {
            static const char *const tag[][2] = {{"DATE", "0040A121"},
                                                 {"TIME", "0040A122"},
                                                 {"DATETIME", "0040A120"},
                                                 {"UIDREF", "0040A124"}};
            for (size_t k = 0; k < sizeof tag / sizeof tag[0]; k++) {
                if (strcmp(type, tag[k][0]) == 0) {
                    put_line(b, name, text_of(it, tag[k][1]));
                }
            }
        }
    }
}

/* ---- the API ---- */

pacs_err pacs_archive_report(pacs_archive *a, const char *study_uid, pacs_report **out,
                             pacs_errinfo *ei)
{
    docs *d = calloc(1, sizeof *d);
    pacs_query *q = pacs_query_new(PACS_LEVEL_INSTANCE);
    pacs_report *r = NULL;
    pacs_err err = PACS_OK;
    if (!d || !q) {
        err = pacs_errf(ei, PACS_ENOMEM, "out of memory");
        goto fail;
    }
    err = pacs_query_add(q, TAG_STUDY_UID, "UI", study_uid, ei);
    if (!err) {
        err = pacs_query_add(q, TAG_SOP_CLASS, "UI", DOC_CLASSES, ei);
    }
    if (!err) {
        err = pacs_archive_instances(a, q, PACS_REC_METADATA, collect, d, ei);
    }
    if (err) {
        goto fail;
    }
    const doc *best = NULL;
    char best_when[32] = "", w[32];
    for (size_t i = 0; i < d->n; i++) {
        const doc *o = &d->v[i];
        int superseded = 0;
        for (size_t j = 0; j < d->n && !superseded; j++) {
            superseded = j != i && names_predecessor(&d->v[j], o->sop_uid);
        }
        if (superseded || !counts(o)) {
            continue;
        }
        when(o, w, sizeof w);
        if (!best || strcmp(w, best_when) >= 0) {
            best = o;
            memcpy(best_when, w, sizeof w);
        }
    }
    if (!best) {
        err = pacs_errf(ei, PACS_ENOTFOUND, "no final report in the study");
        goto fail;
    }
    r = calloc(1, sizeof *r);
    if (!r) {
        err = pacs_errf(ei, PACS_ENOMEM, "out of memory");
        goto fail;
    }
    copy_str(r->series_uid, sizeof r->series_uid, best->series_uid);
    copy_str(r->sop_uid, sizeof r->sop_uid, best->sop_uid);
    copy_str(r->sop_class, sizeof r->sop_class, best->sop_class);
    copy_str(r->date, sizeof r->date, text_of(best->meta, "00080023"));
    copy_str(r->time, sizeof r->time, text_of(best->meta, "00080033"));
    person(text_of(json_array_get(values(best->meta, "0040A073"), 0), "0040A075"), r->observer,
           sizeof r->observer);
    r->pdf = is_pdf(best);
    if (!r->pdf) {
        pacs_buf b;
        pacs_buf_init(&b, PACS_REPORT_TEXT_MAX);
        flatten(&b, best->meta, 0);
        size_t len = 0;
        r->text = pacs_buf_take(&b, &len);
        if (!r->text) {
            r->text = strdup("");
        }
        if (!r->text) {
            err = pacs_errf(ei, PACS_ENOMEM, "out of memory");
            goto fail;
        }
    }
    *out = r;
    r = NULL;
fail:
    pacs_report_free(r);
    for (size_t i = 0; d && i < d->n; i++) {
        json_decref(d->v[i].meta);
    }
    free(d);
    pacs_query_free(q);
    return err;
}

void pacs_report_free(pacs_report *r)
{
    if (!r) {
        return;
    }
    free(r->text);
    free(r);
}
