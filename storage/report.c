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
#define TAG_SOP_UID 0x00080018u
#define TAG_PATIENT_ID 0x00100020u
#define SOP_PDF "1.2.840.10008.5.1.4.1.1.104.1"
#define MAX_DOCS 64 /* documents of one study considered */
#define MAX_DEPTH 16

/* Basic Text, Enhanced, Comprehensive, Comprehensive 3D and Extensible SR, and PDF. */
static const char DOC_CLASSES[] = "1.2.840.10008.5.1.4.1.1.88.11\\1.2.840.10008.5.1.4.1.1.88.22\\"
                                  "1.2.840.10008.5.1.4.1.1.88.33\\1.2.840.10008.5.1.4.1.1.88.34\\"
                                  "1.2.840.10008.5.1.4.1.1.88.35\\" SOP_PDF;

typedef struct doc {
    char study_uid[65], series_uid[65], sop_uid[65], sop_class[65];
    json_t *meta;
    int amended; /* pacs_archive_reports: another document of the set names it */
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
    copy_str(o->study_uid, sizeof o->study_uid, rec->study_uid);
    copy_str(o->series_uid, sizeof o->series_uid, rec->series_uid);
    copy_str(o->sop_uid, sizeof o->sop_uid, rec->sop_uid);
    copy_str(o->sop_class, sizeof o->sop_class, rec->sop_class);
    o->meta = meta;
    return 0;
}

static void free_docs(docs *d)
{
    for (size_t i = 0; d && i < d->n; i++) {
        json_decref(d->v[i].meta);
    }
    free(d);
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

/* The first SOP Instance UID of the Predecessor Documents Sequence of `o`; "" when none. */
static const char *predecessor(const doc *o)
{
    const json_t *study = json_array_get(values(o->meta, "0040A360"), 0);
    const json_t *series = json_array_get(values(study, "00081115"), 0);
    return text_of(json_array_get(values(series, "00081199"), 0), "00081155");
}

static int superseded(const docs *d, size_t i)
{
    for (size_t j = 0; j < d->n; j++) {
        if (j != i && names_predecessor(&d->v[j], d->v[i].sop_uid)) {
            return 1;
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

/* The documents the filters name, with their metadata, into `*out` (the caller's). */
static pacs_err gather(pacs_archive *a, const char *study_uid, const char *patient_id,
                       const char *sop_uid, docs **out, pacs_errinfo *ei)
{
    docs *d = calloc(1, sizeof *d);
    pacs_query *q = pacs_query_new(PACS_LEVEL_INSTANCE);
    pacs_err err = PACS_OK;
    if (!d || !q) {
        err = pacs_errf(ei, PACS_ENOMEM, "out of memory");
        goto fail;
    }
    const struct {
        uint32_t tag;
        const char *vr, *value;
    } keys[] = {{TAG_STUDY_UID, "UI", study_uid},
                {TAG_PATIENT_ID, "LO", patient_id},
                {TAG_SOP_UID, "UI", sop_uid},
                {TAG_SOP_CLASS, "UI", DOC_CLASSES}};
    for (size_t i = 0; !err && i < sizeof keys / sizeof keys[0]; i++) {
        if (keys[i].value) {
            err = pacs_query_add(q, keys[i].tag, keys[i].vr, keys[i].value, ei);
        }
    }
    if (!err) {
        err = pacs_archive_instances(a, q, PACS_REC_METADATA, collect, d, ei);
    }
    if (!err) {
        *out = d;
        d = NULL;
    }
fail:
    free_docs(d);
    pacs_query_free(q);
    return err;
}

/* The author: the verifying observer, else the root's Person Observer Name (observation
 * context), else the Author Observer Sequence's person. */
static void author_of(const doc *o, char *out, size_t cap)
{
    const char *pn = text_of(json_array_get(values(o->meta, "0040A073"), 0), "0040A075");
    const json_t *items = values(o->meta, "0040A730");
    for (size_t i = 0; !pn[0] && i < json_array_size(items); i++) {
        const json_t *it = json_array_get(items, i);
        if (strcmp(text_of(it, "0040A010"), "HAS OBS CONTEXT") == 0 &&
            strcmp(text_of(it, "0040A040"), "PNAME") == 0) {
            pn = text_of(it, "0040A123");
        }
    }
    if (!pn[0]) {
        pn = text_of(json_array_get(values(o->meta, "0040A078"), 0), "0040A123");
    }
    person(pn, out, cap);
}

/* A new report for `o` (its text flattened); NULL when out of memory. */
static pacs_report *report_of(const doc *o)
{
    pacs_report *r = calloc(1, sizeof *r);
    if (!r) {
        return NULL;
    }
    copy_str(r->study_uid, sizeof r->study_uid, o->study_uid);
    copy_str(r->series_uid, sizeof r->series_uid, o->series_uid);
    copy_str(r->sop_uid, sizeof r->sop_uid, o->sop_uid);
    copy_str(r->sop_class, sizeof r->sop_class, o->sop_class);
    copy_str(r->date, sizeof r->date, text_of(o->meta, "00080023"));
    copy_str(r->time, sizeof r->time, text_of(o->meta, "00080033"));
    person(text_of(json_array_get(values(o->meta, "0040A073"), 0), "0040A075"), r->observer,
           sizeof r->observer);
    copy_str(r->completion, sizeof r->completion, text_of(o->meta, "0040A491"));
    copy_str(r->verification, sizeof r->verification, text_of(o->meta, "0040A493"));
    author_of(o, r->author, sizeof r->author);
    copy_str(r->amends, sizeof r->amends, predecessor(o));
    copy_str(r->patient_id, sizeof r->patient_id, text_of(o->meta, "00100020"));
    r->is_final = counts(o);
    r->pdf = is_pdf(o);
    copy_str(r->title, sizeof r->title,
             r->pdf ? text_of(o->meta, "00420010") : concept_name(o->meta));
    if (r->pdf) {
        const json_t *enc = json_object_get(o->meta, "00420011");
        const char *inl = json_string_value(json_object_get(enc, "InlineBinary"));
        copy_str(r->pdf_bulk, sizeof r->pdf_bulk,
                 json_string_value(json_object_get(enc, "BulkDataURI")));
        r->pdf_inline = inl ? strdup(inl) : NULL;
        if (inl && !r->pdf_inline) {
            pacs_report_free(r);
            return NULL;
        }
        return r;
    }
    pacs_buf b;
    pacs_buf_init(&b, PACS_REPORT_TEXT_MAX);
    flatten(&b, o->meta, 0);
    size_t len = 0;
    r->text = pacs_buf_take(&b, &len);
    if (!r->text) {
        r->text = strdup("");
    }
    if (!r->text) {
        pacs_report_free(r);
        return NULL;
    }
    return r;
}

pacs_err pacs_archive_report(pacs_archive *a, const char *study_uid, pacs_report **out,
                             pacs_errinfo *ei)
{
    docs *d = NULL;
    pacs_err err = gather(a, study_uid, NULL, NULL, &d, ei);
    if (err) {
        return err;
    }
    const doc *best = NULL;
    char best_when[32] = "", w[32];
    for (size_t i = 0; i < d->n; i++) {
        const doc *o = &d->v[i];
        if (superseded(d, i) || !counts(o)) {
            continue;
        }
        when(o, w, sizeof w);
        if (!best || strcmp(w, best_when) >= 0) {
            best = o;
            memcpy(best_when, w, sizeof w);
        }
    }
    pacs_report *r = NULL;
    if (!best) {
        err = pacs_errf(ei, PACS_ENOTFOUND, "no final report in the study");
    } else if (!(r = report_of(best))) {
        err = pacs_errf(ei, PACS_ENOMEM, "out of memory");
    } else {
        *out = r;
    }
    free_docs(d);
    return err;
}

static int by_when(const void *x, const void *y)
{
    char a[32], b[32];
    when(x, a, sizeof a);
    when(y, b, sizeof b);
    return strcmp(a, b);
}

pacs_err pacs_archive_reports(pacs_archive *a, const char *study_uid, const char *patient_id,
                              const char *sop_uid, pacs_report_cb cb, void *ctx, pacs_errinfo *ei)
{
    if (!study_uid && !patient_id && !sop_uid) {
        return pacs_errf(ei, PACS_EINVAL, "reports of which study, patient or document?");
    }
    docs *d = NULL;
    pacs_err err = gather(a, study_uid, patient_id, sop_uid, &d, ei);
    if (err) {
        return err;
    }
    for (size_t i = 0; i < d->n; i++) {
        d->v[i].amended = superseded(d, i);
    }
    qsort(d->v, d->n, sizeof d->v[0], by_when);
    for (size_t i = 0; i < d->n && !err; i++) {
        pacs_report *r = report_of(&d->v[i]);
        if (!r) {
            err = pacs_errf(ei, PACS_ENOMEM, "out of memory");
            break;
        }
        r->amended = d->v[i].amended;
        int stop = cb(ctx, r);
        pacs_report_free(r);
        if (stop) {
            break;
        }
    }
    free_docs(d);
    return err;
}

void pacs_report_free(pacs_report *r)
{
    if (!r) {
        return;
    }
    free(r->text);
    free(r->pdf_inline);
    free(r);
}
