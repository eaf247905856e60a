// SPDX-License-Identifier: MIT
/*
 * FHIR ImagingStudy (read and search; fhir_internal.h): a stored study as the health record
 * sees it, read through the archive's query model (study, series and instance levels; never
 * SQL). Its id is the Study Instance UID; it carries its series and instances, their counts,
 * and a contained Endpoint whose address is this server's DICOMweb base (dicom-wado-rs), so a
 * viewer can fetch the images. Search: patient.identifier=[SYSTEM|]VALUE or patient=ID (the
 * person's studies, by the PatientID the archive indexes them under), date (eq, ge, le on
 * StudyDate), modality (ModalitiesInStudy) and status (every stored study is available).
 *
 * Load: three index queries per study returned. Thread-safety: runs on the request's thread.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fhir/fhir_internal.h"

#define TAG_STUDY_UID 0x0020000Du
#define TAG_PATIENT_ID 0x00100020u
#define TAG_STUDY_DATE 0x00080020u
#define TAG_MODALITIES 0x00080061u
#define PAGE_DEFAULT 100 /* studies in a page of a search without _count */
#define PAGE_MAX 1000
#define ENDPOINT_TYPE "http://terminology.hl7.org/CodeSystem/endpoint-connection-type"

const char *pacs_fhir__dcm_str(const json_t *ds, const char *tag)
{
    const json_t *v = json_array_get(json_object_get(json_object_get(ds, tag), "Value"), 0);
    if (json_is_object(v)) {
        v = json_object_get(v, "Alphabetic");
    }
    return json_is_string(v) ? json_string_value(v) : "";
}

/* An IS or US value (a number in DICOM JSON, or a string); -1 when absent. */
static long long int_of(const json_t *ds, const char *tag)
{
    const json_t *v = json_array_get(json_object_get(json_object_get(ds, tag), "Value"), 0);
    if (json_is_integer(v)) {
        return json_integer_value(v);
    }
    if (json_is_real(v)) {
        return (long long)json_real_value(v);
    }
    const char *s = json_string_value(v);
    char *end = NULL;
    long long n = s ? strtoll(s, &end, 10) : -1;
    return s && end != s ? n : -1;
}

static int set_count(json_t *o, const char *name, long long n)
{
    return n < 0 || json_object_set_new(o, name, json_integer(n)) == 0;
}

static json_t *collect_all(pacs_fhir *f, pacs_level level, const char *study_uid,
                           const uint32_t *tags, size_t n_tags, pacs_errinfo *ei, pacs_err *err);

/* ---- building the resource ---- */

static json_t *series_of(pacs_fhir *f, const char *study_uid, pacs_errinfo *ei, pacs_err *err)
{
    static const uint32_t s_tags[] = {0x00080060u, 0x0008103Eu, 0x00200011u, 0x00201209u};
    static const uint32_t i_tags[] = {0x00080016u, 0x00200013u, 0x0020000Eu};
    json_t *series = collect_all(f, PACS_LEVEL_SERIES, study_uid, s_tags, 4, ei, err);
    json_t *inst =
        series ? collect_all(f, PACS_LEVEL_INSTANCE, study_uid, i_tags, 3, ei, err) : NULL;
    json_t *out = json_array();
    int ok = series && inst && out;
    for (size_t i = 0; ok && i < json_array_size(series); i++) {
        const json_t *s = json_array_get(series, i);
        const char *uid = pacs_fhir__dcm_str(s, "0020000E");
        const char *mod = pacs_fhir__dcm_str(s, "00080060");
        json_t *o = json_pack("{s:s,s:{s:s,s:s}}", "uid", uid, "modality", "system", PACS_FHIR_DCM,
                              "code", mod[0] ? mod : "OT");
        json_t *list = json_array();
        ok = o && list && set_count(o, "number", int_of(s, "00200011"));
        if (ok && pacs_fhir__dcm_str(s, "0008103E")[0]) {
            ok = json_object_set_new(o, "description",
                                     json_string(pacs_fhir__dcm_str(s, "0008103E"))) == 0;
        }
        for (size_t k = 0; ok && k < json_array_size(inst); k++) {
            const json_t *in = json_array_get(inst, k);
            if (strcmp(pacs_fhir__dcm_str(in, "0020000E"), uid) != 0) {
                continue;
            }
            json_t *x = json_pack("{s:s,s:{s:s,s:s+}}", "uid", pacs_fhir__dcm_str(in, "00080018"),
                                  "sopClass", "system", "urn:ietf:rfc:3986", "code",
                                  "urn:oid:", pacs_fhir__dcm_str(in, "00080016"));
            ok = x && set_count(x, "number", int_of(in, "00200013")) &&
                 json_array_append_new(list, x) == 0;
        }
        ok = ok && set_count(o, "numberOfInstances", (long long)json_array_size(list));
        if (ok && json_array_size(list) > 0) {
            ok = json_object_set(o, "instance", list) == 0;
        }
        json_decref(list);
        ok = ok && json_array_append_new(out, o) == 0;
    }
    json_decref(series);
    json_decref(inst);
    if (!ok) {
        json_decref(out);
        if (*err == PACS_OK) {
            *err = pacs_errf(ei, PACS_ENOMEM, "out of memory");
        }
        return NULL;
    }
    return out;
}

/* The ImagingStudy for a study-level result, its Endpoint at `dicomweb`; NULL with `*err` set on
 * failure. */
static json_t *study_json(pacs_fhir *f, const char *dicomweb, int remote, const json_t *st,
                          pacs_errinfo *ei, pacs_err *err)
{
    const char *uid = pacs_fhir__dcm_str(st, "0020000D");
    char when[40];
    json_t *res = json_pack(
        "{s:s,s:s,s:[{s:s,s:s,s:s,s:{s:s,s:s},s:[{s:s}],s:s}],s:[{s:s,s:s+}],s:s,s:[{s:s}]}",
        "resourceType", "ImagingStudy", "id", uid, "contained", "resourceType", "Endpoint", "id",
        "dicomweb", "status", "active", "connectionType", "system", ENDPOINT_TYPE, "code",
        "dicom-wado-rs", "payloadType", "text", "DICOM", "address", dicomweb, "identifier",
        "system", "urn:dicom:uid", "value", "urn:oid:", uid, "status", "available", "endpoint",
        "reference", "#dicomweb");
    int ok = res != NULL;
    const char *acc = pacs_fhir__dcm_str(st, "00080050");
    if (ok && acc[0]) {
        ok = json_array_append_new(json_object_get(res, "identifier"),
                                   json_pack("{s:{s:[{s:s,s:s}]},s:s}", "type", "coding", "system",
                                             PACS_FHIR_V2_0203, "code", "ACSN", "value", acc)) == 0;
    }
    const json_t *mods = json_object_get(json_object_get(st, "00080061"), "Value");
    json_t *modality = json_array();
    for (size_t i = 0; ok && modality && i < json_array_size(mods); i++) {
        const char *m = json_string_value(json_array_get(mods, i));
        if (m && m[0]) {
            ok = json_array_append_new(
                     modality, json_pack("{s:s,s:s}", "system", PACS_FHIR_DCM, "code", m)) == 0;
        }
    }
    ok = ok && modality;
    if (ok && json_array_size(modality) > 0) {
        ok = json_object_set(res, "modality", modality) == 0;
    }
    json_decref(modality);
    json_t *subject = ok ? pacs_fhir__subject_ref(f, pacs_fhir__dcm_str(st, "00100020"),
                                                  pacs_fhir__dcm_str(st, "00100010"), remote)
                         : NULL;
    ok = ok && subject && json_object_set_new(res, "subject", subject) == 0;
    pacs_fhir__datetime(pacs_fhir__dcm_str(st, "00080020"), pacs_fhir__dcm_str(st, "00080030"),
                        when, sizeof when);
    if (ok && when[0]) {
        ok = json_object_set_new(res, "started", json_string(when)) == 0;
    }
    if (ok && pacs_fhir__dcm_str(st, "00081030")[0]) {
        ok = json_object_set_new(res, "description",
                                 json_string(pacs_fhir__dcm_str(st, "00081030"))) == 0;
    }
    json_t *series = ok ? series_of(f, uid, ei, err) : NULL;
    ok = ok && series;
    if (ok) {
        size_t n_inst = 0;
        for (size_t i = 0; i < json_array_size(series); i++) {
            n_inst += (size_t)json_integer_value(
                json_object_get(json_array_get(series, i), "numberOfInstances"));
        }
        ok = set_count(res, "numberOfSeries", (long long)json_array_size(series)) &&
             set_count(res, "numberOfInstances", (long long)n_inst);
    }
    if (ok && json_array_size(series) > 0) {
        ok = json_object_set(res, "series", series) == 0;
    }
    json_decref(series);
    if (!ok) {
        json_decref(res);
        if (*err == PACS_OK) {
            *err = pacs_errf(ei, PACS_ENOMEM, "out of memory");
        }
        return NULL;
    }
    return res;
}

/* ---- queries ---- */

typedef struct results {
    json_t *list;
    size_t max; /* stop after this many (0: no limit) */
} results;

static int keep(void *ctx, const json_t *result)
{
    results *rs = ctx;
    json_array_append_new(rs->list, json_deep_copy(result));
    return rs->max && json_array_size(rs->list) >= rs->max;
}

static json_t *collect_all(pacs_fhir *f, pacs_level level, const char *study_uid,
                           const uint32_t *tags, size_t n_tags, pacs_errinfo *ei, pacs_err *err)
{
    pacs_query *q = pacs_query_new(level);
    results rs = {json_array(), 0};
    *err = q && rs.list ? pacs_query_add(q, TAG_STUDY_UID, "UI", study_uid, ei)
                        : pacs_errf(ei, PACS_ENOMEM, "out of memory");
    for (size_t i = 0; *err == PACS_OK && i < n_tags; i++) {
        *err = pacs_query_include(q, tags[i], ei);
    }
    if (*err == PACS_OK) {
        *err = pacs_archive_find(f->archive, q, keep, &rs, ei);
    }
    pacs_query_free(q);
    if (*err != PACS_OK) {
        json_decref(rs.list);
        return NULL;
    }
    return rs.list;
}

static const uint32_t STUDY_TAGS[] = {0x00080020u, 0x00080030u, 0x00080050u, 0x00081030u,
                                      0x00080061u, 0x00100010u, 0x00100020u};

static pacs_query *study_query(pacs_errinfo *ei, pacs_err *err)
{
    pacs_query *q = pacs_query_new(PACS_LEVEL_STUDY);
    *err = q ? PACS_OK : pacs_errf(ei, PACS_ENOMEM, "out of memory");
    for (size_t i = 0; *err == PACS_OK && i < sizeof STUDY_TAGS / sizeof STUDY_TAGS[0]; i++) {
        *err = pacs_query_include(q, STUDY_TAGS[i], ei);
    }
    return q;
}

pacs_err pacs_fhir__imaging_study(pacs_fhir *f, const char *dicomweb, int remote, const char *id,
                                  json_t **out, pacs_errinfo *ei)
{
    pacs_err err = PACS_OK;
    results rs = {json_array(), 1};
    pacs_query *q = study_query(ei, &err);
    if (err == PACS_OK) {
        err = pacs_query_add(q, TAG_STUDY_UID, "UI", id, ei);
    }
    if (err == PACS_OK) {
        err = pacs_archive_find(f->archive, q, keep, &rs, ei);
    }
    pacs_query_free(q);
    json_t *res = NULL;
    if (err == PACS_OK && json_array_size(rs.list) == 0) {
        err = pacs_errf(ei, PACS_ENOTFOUND, "no ImagingStudy %s", id);
    }
    if (err == PACS_OK) {
        res = study_json(f, dicomweb, remote, json_array_get(rs.list, 0), ei, &err);
    }
    json_decref(rs.list);
    if (err == PACS_OK) {
        *out = res;
    }
    return err;
}

void pacs_fhir__imaging_read(pacs_fhir *f, pacs_http_req *r, const char *id)
{
    pacs_errinfo ei;
    json_t *res = NULL;
    pacs_err err = pacs_fhir__imaging_study(f, pacs_fhir__dicomweb(f, r), 0, id, &res, &ei);
    if (err != PACS_OK) {
        pacs_fhir__refuse(r, err, &ei);
        return;
    }
    pacs_fhir__send(f, r, 200, res, NULL);
}

/* Reads the date parameters (each [eq|ge|le]YYYY-MM-DD) into a DICOM range "lo-hi"; 0 when
 * one is malformed (an answer has been sent). */
static int date_range(pacs_http_req *r, char *out, size_t cap)
{
    const pacs_params *pp = pacs_http_params(r);
    char lo[9] = "", hi[9] = "";
    out[0] = '\0';
    for (size_t i = 0; i < pp->n; i++) {
        if (strcmp(pp->v[i].name, "date") != 0) {
            continue;
        }
        const char *v = pp->v[i].value;
        char prefix[3] = "eq";
        if (strlen(v) > 2 && v[0] >= 'a' && v[0] <= 'z') {
            memcpy(prefix, v, 2);
            v += 2;
        }
        int y = 0, m = 0, d = 0, n = 0;
        char day[9];
        if (strlen(v) != 10 || sscanf(v, "%4d-%2d-%2d%n", &y, &m, &d, &n) != 3 || n != 10 ||
            m < 1 || m > 12 || d < 1 || d > 31 ||
            (strcmp(prefix, "eq") != 0 && strcmp(prefix, "ge") != 0 && strcmp(prefix, "le") != 0)) {
            pacs_fhir__outcome(r, 400, "invalid",
                               "date: '%.40s' is not [eq|ge|le]YYYY-MM-DD (a day)", pp->v[i].value);
            return 0;
        }
        snprintf(day, sizeof day, "%04d%02d%02d", y, m, d);
        if (prefix[0] != 'l' && strcmp(day, lo) > 0) {
            memcpy(lo, day, sizeof lo);
        }
        if (prefix[0] != 'g' && (!hi[0] || strcmp(day, hi) < 0)) {
            memcpy(hi, day, sizeof hi);
        }
    }
    if (lo[0] || hi[0]) {
        snprintf(out, cap, "%s-%s", lo, hi);
    }
    return 1;
}

static int known_param(const char *name)
{
    static const char *const names[] = {
        "patient", "patient.identifier", "date", "modality", "status", "_format", "_count",
        "_offset"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (strcmp(name, names[i]) == 0) {
            return 1;
        }
    }
    return 0;
}

void pacs_fhir__imaging_search(pacs_fhir *f, pacs_http_req *r)
{
    const pacs_params *pp = pacs_http_params(r);
    for (size_t i = 0; i < pp->n; i++) {
        if (!known_param(pp->v[i].name)) {
            pacs_fhir__outcome(r, 400, "not-supported",
                               "search parameter '%.64s' is not supported (patient, "
                               "patient.identifier, date, modality, status, _count, _offset)",
                               pp->v[i].name);
            return;
        }
    }
    char pid[65], dates[20];
    int by_patient = 0;
    pacs_fhir_page page;
    if (!pacs_fhir__patient_criterion(f, r, pid, sizeof pid, &by_patient) ||
        !date_range(r, dates, sizeof dates) ||
        !pacs_fhir__page_params(r, PAGE_DEFAULT, PAGE_MAX, &page)) {
        return;
    }
    const char *modality = pacs_params_get(pp, "modality");
    const char *status = pacs_params_get(pp, "status");
    if (modality) {
        const char *bar = strchr(modality, '|');
        if (bar && strncmp(modality, PACS_FHIR_DCM "|", strlen(PACS_FHIR_DCM) + 1) != 0) {
            pacs_fhir__outcome(r, 400, "invalid", "modality: codes of %s only", PACS_FHIR_DCM);
            return;
        }
        modality = bar ? bar + 1 : modality;
        size_t n = strspn(modality, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_");
        if (n == 0 || n > 16 || modality[n]) {
            pacs_fhir__outcome(r, 400, "invalid", "modality: one DICOM modality code (CT, MR...)");
            return;
        }
    }
    static const char *const statuses[] = {"registered", "available", "cancelled",
                                           "entered-in-error", "unknown"};
    int status_ok = !status;
    for (size_t i = 0; status && i < sizeof statuses / sizeof statuses[0]; i++) {
        status_ok |= strcmp(status, statuses[i]) == 0;
    }
    if (!status_ok) {
        pacs_fhir__outcome(r, 400, "invalid",
                           "status: one of registered, available, cancelled, "
                           "entered-in-error, unknown");
        return;
    }
    if (!by_patient && !dates[0] && !modality) {
        pacs_fhir__outcome(r, 400, "not-supported",
                           "search needs patient, patient.identifier, date or modality (listing "
                           "all is not served)");
        return;
    }
    json_t *bundle = pacs_fhir__bundle_new();
    pacs_errinfo ei;
    pacs_err err = bundle ? PACS_OK : pacs_errf(&ei, PACS_ENOMEM, "out of memory");
    int none = (by_patient && !pid[0]) || (status && strcmp(status, "available") != 0);
    results rs = {json_array(), page.count + 1}; /* one more says another page follows */
    pacs_query *q = NULL;
    if (err == PACS_OK && !none) {
        q = study_query(&ei, &err);
        if (err == PACS_OK && pid[0]) {
            err = pacs_query_add(q, TAG_PATIENT_ID, "LO", pid, &ei);
        }
        if (err == PACS_OK && dates[0]) {
            err = pacs_query_add(q, TAG_STUDY_DATE, "DA", dates, &ei);
        }
        if (err == PACS_OK && modality) {
            err = pacs_query_add(q, TAG_MODALITIES, "CS", modality, &ei);
        }
        if (err == PACS_OK) {
            pacs_query_set_paging(q, page.count + 1, page.offset);
            err = pacs_archive_find(f->archive, q, keep, &rs, &ei);
        }
    }
    pacs_query_free(q);
    int more = json_array_size(rs.list) > page.count;
    if (more) {
        json_array_remove(rs.list, page.count);
    }
    for (size_t i = 0; err == PACS_OK && i < json_array_size(rs.list); i++) {
        json_t *res =
            study_json(f, pacs_fhir__dicomweb(f, r), 0, json_array_get(rs.list, i), &ei, &err);
        if (res && !pacs_fhir__bundle_add(f, r, bundle, res)) {
            err = pacs_errf(&ei, PACS_ENOMEM, "out of memory");
        }
    }
    json_decref(rs.list);
    if (err != PACS_OK) {
        json_decref(bundle);
        pacs_fhir__refuse(r, err, &ei);
        return;
    }
    pacs_fhir__bundle_send_page(f, r, "ImagingStudy", bundle, &page, more);
}
