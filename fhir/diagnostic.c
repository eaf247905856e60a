// SPDX-License-Identifier: MIT
/*
 * FHIR DiagnosticReport (read and search; fhir_internal.h): a study's report documents as the
 * archive holds them (storage/report.h: Basic Text and other SR, Encapsulated PDF; never SQL).
 * Its id is the document's SOP Instance UID. status from the flags: an SR that is COMPLETE and
 * VERIFIED is final, or amended when it replaces a final one (Predecessor Documents Sequence);
 * otherwise preliminary; a PDF is final. conclusion is the SR's text, performer its author,
 * imagingStudy the study, and a PDF is the presentedForm (application/pdf: a URL to its WADO-RS
 * bulk data, or the data itself when the archive keeps it inline). Search: patient.identifier,
 * patient, or imaging-study (pacsd's own: ImagingStudy/{uid} or the UID).
 *
 * Load: one or two index queries per read or search. Thread-safety: the request's thread.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fhir/fhir_internal.h"
#include "pacs/dicom/part10.h"
#include "storage/report.h"

#define MAX_DOCS 64

typedef struct doc {
    pacs_report r; /* text and pdf_inline owned */
} doc;

typedef struct docs {
    doc v[MAX_DOCS];
    size_t n;
    int oom;
} docs;

static int keep(void *ctx, const pacs_report *r)
{
    docs *d = ctx;
    if (d->n == MAX_DOCS) {
        return 1;
    }
    doc *o = &d->v[d->n];
    o->r = *r;
    o->r.text = r->text ? strdup(r->text) : NULL;
    o->r.pdf_inline = r->pdf_inline ? strdup(r->pdf_inline) : NULL;
    if ((r->text && !o->r.text) || (r->pdf_inline && !o->r.pdf_inline)) {
        free(o->r.text);
        free(o->r.pdf_inline);
        d->oom = 1;
        return 1;
    }
    d->n++;
    return 0;
}

static void docs_clear(docs *d)
{
    for (size_t i = 0; i < d->n; i++) {
        free(d->v[i].r.text);
        free(d->v[i].r.pdf_inline);
    }
    d->n = 0;
}

/* Whether the document `sop` of the set is final. */
static int final_in(const docs *d, const char *sop)
{
    for (size_t i = 0; i < d->n; i++) {
        if (strcmp(d->v[i].r.sop_uid, sop) == 0) {
            return d->v[i].r.is_final;
        }
    }
    return 0;
}

static json_t *report_json(pacs_fhir *f, const char *dicomweb, int remote, const docs *d,
                           const pacs_report *rp)
{
    const char *status = !rp->is_final                              ? "preliminary"
                         : rp->amends[0] && final_in(d, rp->amends) ? "amended"
                                                                    : "final";
    char when[40];
    json_t *res = json_pack(
        "{s:s,s:s,s:[{s:s,s:s+}],s:s,s:[{s:[{s:s,s:s}]}],s:{s:[{s:s,s:s,s:s}]},s:[{s:s+}]}",
        "resourceType", "DiagnosticReport", "id", rp->sop_uid, "identifier", "system",
        "urn:dicom:uid", "value", "urn:oid:", rp->sop_uid, "status", status, "category", "coding",
        "system", "http://terminology.hl7.org/CodeSystem/v2-0074", "code", "RAD", "code", "coding",
        "system", "http://loinc.org", "code", "18748-4", "display", "Diagnostic imaging study",
        "imagingStudy", "reference", "ImagingStudy/", rp->study_uid);
    json_t *subject = res ? pacs_fhir__subject_ref(f, rp->patient_id, NULL, remote) : NULL;
    int ok = res && subject && json_object_set_new(res, "subject", subject) == 0;
    pacs_fhir__datetime(rp->date, rp->time, when, sizeof when);
    if (ok && when[0]) {
        ok = json_object_set_new(res, "effectiveDateTime", json_string(when)) == 0;
    }
    if (ok && rp->author[0]) {
        ok =
            json_object_set_new(res, "performer", json_pack("[{s:s}]", "display", rp->author)) == 0;
    }
    size_t text_len = rp->text ? strlen(rp->text) : 0;
    while (text_len > 0 && rp->text[text_len - 1] == '\n') {
        text_len--; /* the flattened text ends each line with one */
    }
    if (ok && text_len > 0) {
        ok = json_object_set_new(res, "conclusion", json_stringn(rp->text, text_len)) == 0;
    }
    if (ok && rp->pdf) {
        json_t *form = json_pack("{s:s}", "contentType", "application/pdf");
        ok = form != NULL;
        if (ok && rp->title[0]) {
            ok = json_object_set_new(form, "title", json_string(rp->title)) == 0;
        }
        if (ok && rp->pdf_bulk[0]) {
            char *url = NULL;
            ok = asprintf(&url, "%s/studies/%s/series/%s/instances/%s/%s", dicomweb, rp->study_uid,
                          rp->series_uid, rp->sop_uid, rp->pdf_bulk) > 0 &&
                 json_object_set_new(form, "url", json_string(url)) == 0;
            free(url);
        } else if (ok && rp->pdf_inline) {
            ok = json_object_set_new(form, "data", json_string(rp->pdf_inline)) == 0;
        }
        ok = ok && json_object_set_new(res, "presentedForm", json_pack("[o]", form)) == 0;
        if (!ok) {
            json_decref(form);
        }
    }
    if (!ok) {
        json_decref(res);
        return NULL;
    }
    return res;
}

void pacs_fhir__report_read(pacs_fhir *f, pacs_http_req *r, const char *id)
{
    docs *d = calloc(1, sizeof *d);
    pacs_errinfo ei;
    pacs_err err = d ? PACS_OK : pacs_errf(&ei, PACS_ENOMEM, "out of memory");
    json_t *res = NULL;
    if (err == PACS_OK && !pacs_uid_valid(id)) {
        err = pacs_errf(&ei, PACS_ENOTFOUND, "no DiagnosticReport %s", id);
    }
    if (err == PACS_OK) {
        err = pacs_archive_reports(f->archive, NULL, NULL, id, keep, d, &ei);
    }
    if (err == PACS_OK && d->n == 0) {
        err = pacs_errf(&ei, PACS_ENOTFOUND, "no DiagnosticReport %s", id);
    }
    if (err == PACS_OK) {
        /* Its study's other documents say whether it was amended, or amends a final one. */
        char study[65];
        snprintf(study, sizeof study, "%s", d->v[0].r.study_uid);
        docs_clear(d);
        err = pacs_archive_reports(f->archive, study, NULL, NULL, keep, d, &ei);
    }
    for (size_t i = 0; err == PACS_OK && d && i < d->n && !res; i++) {
        if (strcmp(d->v[i].r.sop_uid, id) == 0) {
            res = report_json(f, pacs_fhir__dicomweb(f, r), 0, d, &d->v[i].r);
            err = res ? PACS_OK : pacs_errf(&ei, PACS_ENOMEM, "out of memory");
        }
    }
    if (err == PACS_OK && (!res || d->oom)) {
        json_decref(res);
        res = NULL;
        err = d->oom ? pacs_errf(&ei, PACS_ENOMEM, "out of memory")
                     : pacs_errf(&ei, PACS_ENOTFOUND, "no DiagnosticReport %s", id);
    }
    if (d) {
        docs_clear(d);
        free(d);
    }
    if (err != PACS_OK) {
        pacs_fhir__refuse(r, err, &ei);
        return;
    }
    pacs_fhir__send(f, r, 200, res, NULL);
}

void pacs_fhir__report_search(pacs_fhir *f, pacs_http_req *r)
{
    const pacs_params *pp = pacs_http_params(r);
    for (size_t i = 0; i < pp->n; i++) {
        const char *n = pp->v[i].name;
        if (strcmp(n, "patient") != 0 && strcmp(n, "patient.identifier") != 0 &&
            strcmp(n, "imaging-study") != 0 && strcmp(n, "_format") != 0) {
            pacs_fhir__outcome(r, 400, "not-supported",
                               "search parameter '%.64s' is not supported (patient, "
                               "patient.identifier, imaging-study)",
                               n);
            return;
        }
    }
    char pid[65];
    int by_patient = 0;
    if (!pacs_fhir__patient_criterion(f, r, pid, sizeof pid, &by_patient)) {
        return;
    }
    const char *study = pacs_params_get(pp, "imaging-study");
    if (study && strncmp(study, "ImagingStudy/", 13) == 0) {
        study += 13;
    }
    if (study && !pacs_uid_valid(study)) {
        pacs_fhir__outcome(r, 400, "invalid",
                           "imaging-study: ImagingStudy/{StudyInstanceUID} or the UID");
        return;
    }
    if (!by_patient && !study) {
        pacs_fhir__outcome(r, 400, "not-supported",
                           "search needs patient, patient.identifier or imaging-study");
        return;
    }
    docs *d = calloc(1, sizeof *d);
    json_t *bundle = pacs_fhir__bundle_new();
    pacs_errinfo ei;
    pacs_err err = d && bundle ? PACS_OK : pacs_errf(&ei, PACS_ENOMEM, "out of memory");
    if (err == PACS_OK && !(by_patient && !pid[0])) {
        err = pacs_archive_reports(f->archive, study, by_patient ? pid : NULL, NULL, keep, d, &ei);
    }
    if (err == PACS_OK && d->oom) {
        err = pacs_errf(&ei, PACS_ENOMEM, "out of memory");
    }
    for (size_t i = 0; err == PACS_OK && i < d->n; i++) {
        if (!pacs_fhir__bundle_add(f, r, bundle,
                                   report_json(f, pacs_fhir__dicomweb(f, r), 0, d, &d->v[i].r))) {
            err = pacs_errf(&ei, PACS_ENOMEM, "out of memory");
        }
    }
    if (d) {
        docs_clear(d);
        free(d);
    }
    if (err != PACS_OK) {
        json_decref(bundle);
        pacs_fhir__refuse(r, err, &ei);
        return;
    }
    pacs_fhir__bundle_send(f, r, "DiagnosticReport", bundle);
}

pacs_err pacs_fhir__study_reports(pacs_fhir *f, const char *dicomweb, const char *study_uid,
                                  pacs_fhir_report_cb cb, void *ctx, pacs_errinfo *ei)
{
    docs *d = calloc(1, sizeof *d);
    pacs_err err = d ? pacs_archive_reports(f->archive, study_uid, NULL, NULL, keep, d, ei)
                     : pacs_errf(ei, PACS_ENOMEM, "out of memory");
    if (err == PACS_OK && d->oom) {
        err = pacs_errf(ei, PACS_ENOMEM, "out of memory");
    }
    for (size_t i = 0; err == PACS_OK && i < d->n; i++) {
        json_t *res = report_json(f, dicomweb, 1, d, &d->v[i].r);
        if (!res) {
            err = pacs_errf(ei, PACS_ENOMEM, "out of memory");
        } else if (cb(ctx, &d->v[i].r, res) != 0) {
            break;
        }
    }
    if (d) {
        docs_clear(d);
        free(d);
    }
    return err;
}
