// SPDX-License-Identifier: MIT
/*
 * Writing a report (report_make.h): the study's attributes from one study-level query, the
 * document amended from the study's report documents (report.h), the SR from pacs/dicom/sr.h,
 * then pacs_archive_ingest_begin/write/finish on its bytes as for a STOW-RS part. Stateless;
 * thread-safe as the archive.
 */
#include "storage/report_make.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pacs/dicom/sr.h"
#include "storage/report.h"

#define TAG_STUDY_UID 0x0020000Du
#define TAG_ACCESSION 0x00080050u

/* The study's attributes a report copies, as DICOM JSON keys. */
static const uint32_t STUDY_TAGS[] = {0x00100010u, 0x00100020u, 0x00100021u, 0x00100030u,
                                      0x00100040u, 0x00080020u, 0x00080030u, 0x00200010u,
                                      0x00080050u, 0x00080090u};

typedef struct found {
    json_t *study; /* the first match */
    size_t n;
} found;

static int keep_study(void *ctx, const json_t *result)
{
    found *f = ctx;
    if (f->n++ == 0) {
        f->study = json_deep_copy(result);
    }
    return f->n > 1;
}

/* The first value of a string attribute (a PN's Alphabetic group); NULL when absent. */
static const char *value_of(const json_t *ds, const char *tag)
{
    const json_t *v = json_array_get(json_object_get(json_object_get(ds, tag), "Value"), 0);
    if (json_is_object(v)) {
        v = json_object_get(v, "Alphabetic");
    }
    return json_string_value(v);
}

static pacs_err find_study(pacs_archive *a, const pacs_report_new *rn, found *f, pacs_errinfo *ei)
{
    pacs_query *q = pacs_query_new(PACS_LEVEL_STUDY);
    if (!q) {
        return pacs_errf(ei, PACS_ENOMEM, "out of memory");
    }
    pacs_err err = rn->study_uid ? pacs_query_add(q, TAG_STUDY_UID, "UI", rn->study_uid, ei)
                                 : pacs_query_add(q, TAG_ACCESSION, "SH", rn->accession, ei);
    for (size_t i = 0; !err && i < sizeof STUDY_TAGS / sizeof STUDY_TAGS[0]; i++) {
        err = pacs_query_include(q, STUDY_TAGS[i], ei);
    }
    if (!err) {
        pacs_query_set_paging(q, 2, 0);
        err = pacs_archive_find(a, q, keep_study, f, ei);
    }
    pacs_query_free(q);
    if (!err && f->n == 0) {
        err = rn->study_uid ? pacs_errf(ei, PACS_ENOTFOUND, "no study %s", rn->study_uid)
                            : pacs_errf(ei, PACS_ENOTFOUND, "no study with accession number %s",
                                        rn->accession);
    } else if (!err && f->n > 1) {
        err = pacs_errf(ei, PACS_ECONFLICT, "accession number %s names several studies",
                        rn->accession);
    } else if (!err && !f->study) {
        err = pacs_errf(ei, PACS_ENOMEM, "out of memory");
    }
    return err;
}

typedef struct target {
    const char *sop; /* the one wanted, or NULL: the latest */
    pacs_report found;
    int n;
} target;

static int pick(void *ctx, const pacs_report *r)
{
    target *t = ctx;
    if (!t->sop || strcmp(t->sop, r->sop_uid) == 0) {
        t->found = *r; /* oldest first: the last one kept is the latest */
        t->found.text = NULL;
        t->n++;
    }
    return 0;
}

/* The document amended: its series and class. */
static pacs_err find_amended(pacs_archive *a, const char *study_uid, const pacs_report_new *rn,
                             target *t, pacs_errinfo *ei)
{
    t->sop = rn->amends;
    pacs_err err = pacs_archive_reports(a, study_uid, NULL, NULL, pick, t, ei);
    if (!err && t->n == 0 && rn->amends) {
        err = pacs_errf(ei, PACS_EINVAL, "amends: %s is no report document of study %s", rn->amends,
                        study_uid);
    }
    return err;
}

static pacs_err store(pacs_archive *a, const uint8_t *bytes, size_t len, const char *study_uid,
                      const char *source, const char *source_http, pacs_ingest_result *res,
                      pacs_errinfo *ei)
{
    pacs_ingest *in = NULL;
    pacs_err err = pacs_archive_ingest_begin(a, NULL, source, &in, ei);
    if (err) {
        return err;
    }
    pacs_ingest_set_http_source(in, source_http);
    pacs_ingest_expect_study(in, study_uid);
    err = pacs_ingest_write(in, bytes, len, ei);
    if (err) {
        pacs_ingest_abort(in);
        return err;
    }
    return pacs_ingest_finish(in, res, ei);
}

pacs_err pacs_archive_report_make(pacs_archive *a, const pacs_report_new *rn, const char *source,
                                  const char *source_http, pacs_ingest_result *res,
                                  pacs_errinfo *ei)
{
    if (!rn->text || !rn->text[0]) {
        return pacs_errf(ei, PACS_EINVAL, "text: missing or empty");
    }
    if (!rn->author || !rn->author[0]) {
        return pacs_errf(ei, PACS_EINVAL, "author: missing or empty");
    }
    if (!rn->study_uid && (!rn->accession || !rn->accession[0])) {
        return pacs_errf(ei, PACS_EINVAL, "which study? (StudyInstanceUID or accession number)");
    }
    found f = {0};
    target t = {0};
    uint8_t *bytes = NULL;
    size_t len = 0;
    pacs_err err = find_study(a, rn, &f, ei);
    const char *study_uid = err ? NULL : value_of(f.study, "0020000D");
    if (!err && !study_uid) {
        err = pacs_errf(ei, PACS_EDB, "the study has no StudyInstanceUID");
    }
    if (!err && (rn->amends || rn->amends_latest)) {
        err = find_amended(a, study_uid, rn, &t, ei);
    }
    if (err) {
        goto fail;
    }
    char series[65], sop[65], date[9], tm_text[7];
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    strftime(date, sizeof date, "%Y%m%d", &tm);
    strftime(tm_text, sizeof tm_text, "%H%M%S", &tm);
    pacs_sr_new_uid(series);
    pacs_sr_new_uid(sop);
    pacs_sr_input in = {
        .patient_name = value_of(f.study, "00100010"),
        .patient_id = value_of(f.study, "00100020"),
        .issuer = value_of(f.study, "00100021"),
        .birth_date = value_of(f.study, "00100030"),
        .sex = value_of(f.study, "00100040"),
        .study_uid = study_uid,
        .study_date = value_of(f.study, "00080020"),
        .study_time = value_of(f.study, "00080030"),
        .study_id = value_of(f.study, "00200010"),
        .accession = value_of(f.study, "00080050"),
        .referring = value_of(f.study, "00080090"),
        .series_uid = series,
        .sop_uid = sop,
        .content_date = date,
        .content_time = tm_text,
        .text = rn->text,
        .author = rn->author,
        .organization = rn->organization,
        .final = rn->final,
    };
    if (t.n > 0) {
        in.amends_series = t.found.series_uid;
        in.amends_sop = t.found.sop_uid;
        in.amends_class = t.found.sop_class;
    }
    err = pacs_sr_build(&in, &bytes, &len, ei);
    if (!err) {
        err = store(a, bytes, len, study_uid, source, source_http, res, ei);
    }
fail:
    free(bytes);
    json_decref(f.study);
    return err;
}
