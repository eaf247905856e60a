// SPDX-License-Identifier: MIT
/*
 * The archive's patients and orders written as FHIR R4 Patient and ServiceRequest resources
 * (resource.h), the inverse of what resource.c and order.c read. Load: one resource per FHIR
 * answer. Thread-safe: no shared state.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "fhir/resource.h"

/* Adds `v` under `key` when it is not empty; returns 0 when out of memory. */
static int set_str(json_t *obj, const char *key, const char *v)
{
    return !v[0] || json_object_set_new(obj, key, json_string(v)) == 0;
}

/* `text` split at spaces into a JSON array of strings (NULL: empty or out of memory). */
static json_t *words(const char *text)
{
    json_t *a = json_array();
    const char *p = text;
    while (a && *p) {
        while (*p == ' ') {
            p++;
        }
        const char *e = strchr(p, ' ');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n && json_array_append_new(a, json_stringn(p, n)) != 0) {
            json_decref(a);
            return NULL;
        }
        p += n;
    }
    if (a && json_array_size(a) == 0) {
        json_decref(a);
        return NULL;
    }
    return a;
}

static json_t *human_name(const char *pn)
{
    char parts[5][324];
    memset(parts, 0, sizeof parts);
    const char *p = pn;
    for (int i = 0; i < 5 && p; i++) {
        const char *e = strchr(p, '^');
        snprintf(parts[i], sizeof parts[i], "%.*s", (int)(e ? e - p : (long)strlen(p)), p);
        p = e ? e + 1 : NULL;
    }
    json_t *n = json_object();
    char text[1700];
    snprintf(text, sizeof text, "%s%s%s%s%s", parts[0], parts[0][0] && parts[1][0] ? " " : "",
             parts[1], parts[2][0] ? " " : "", parts[2]);
    int ok = n && set_str(n, "text", text) && set_str(n, "family", parts[0]);
    static const char *const lists[] = {"given", NULL, NULL, "prefix", "suffix"};
    for (int i = 1; ok && i < 5; i++) {
        const char *key = lists[i] ? lists[i] : "given";
        json_t *w = parts[i][0] ? words(parts[i]) : NULL;
        json_t *have = json_object_get(n, key);
        if (w && have) {
            ok = json_array_extend(have, w) == 0;
            json_decref(w);
        } else if (w) {
            ok = json_object_set_new(n, key, w) == 0;
        }
    }
    if (ok) {
        ok = json_object_set_new(n, "use", json_string("official")) == 0;
    }
    if (!ok) {
        json_decref(n);
        return NULL;
    }
    return n;
}

json_t *pacs_fhir_patient_json(const pacs_fhir_ids *ids, const pacs_patient *p)
{
    json_t *res = json_object(), *idents = json_array();
    char id[65] = "", uri[1024];
    int ok = res && idents && json_object_set_new(res, "resourceType", json_string("Patient")) == 0;
    /* The resource id: the first identifier, in patient.id_order, an id can hold. */
    for (size_t s = 0; ok && s < ids->n && !id[0]; s++) {
        for (size_t i = 0; i < p->n_ids; i++) {
            if (strcmp(p->ids[i].system, ids->system[s]) == 0 &&
                !pacs_fhir_patient_id(&p->ids[i], id, sizeof id)) {
                id[0] = '\0';
            }
        }
    }
    ok = ok && set_str(res, "id", id);
    for (size_t i = 0; ok && i < p->n_ids; i++) {
        pacs_fhir_ids_uri(ids, p->ids[i].system, uri, sizeof uri);
        json_t *x = json_object();
        ok = x && set_str(x, "system", uri) && set_str(x, "value", p->ids[i].value) &&
             json_array_append_new(idents, x) == 0;
        if (!ok) {
            json_decref(x);
        }
    }
    if (ok && json_array_size(idents)) {
        ok = json_object_set(res, "identifier", idents) == 0;
    }
    if (ok && p->name[0]) {
        json_t *n = human_name(p->name);
        ok = n && json_object_set_new(res, "name", json_pack("[o]", n)) == 0;
    }
    if (ok && p->sex[0]) {
        const char *g = p->sex[0] == 'M' ? "male" : p->sex[0] == 'F' ? "female" : "other";
        ok = json_object_set_new(res, "gender", json_string(g)) == 0;
    }
    if (ok && strlen(p->birth_date) == 8) {
        char d[11];
        snprintf(d, sizeof d, "%.4s-%.2s-%.2s", p->birth_date, p->birth_date + 4,
                 p->birth_date + 6);
        ok = json_object_set_new(res, "birthDate", json_string(d)) == 0;
    }
    json_decref(idents);
    if (!ok) {
        json_decref(res);
        return NULL;
    }
    return res;
}

/* An Identifier with a v2-0203 type code. */
static json_t *typed_identifier(const char *type, const char *value)
{
    return json_pack("{s:{s:[{s:s,s:s}]},s:s}", "type", "coding", "system", PACS_FHIR_V2_0203,
                     "code", type, "value", value);
}

static const char *status_of(pacs_order_status s)
{
    switch (s) {
    case PACS_ORDER_COMPLETED:
        return "completed";
    case PACS_ORDER_DISCONTINUED:
    case PACS_ORDER_CANCELED:
        return "revoked";
    default:
        return "active";
    }
}

static const char *system_of_scheme(const char *scheme)
{
    return strcmp(scheme, "LN") == 0       ? "http://loinc.org"
           : strcmp(scheme, "SCT") == 0    ? "http://snomed.info/sct"
           : strcmp(scheme, "DCM") == 0    ? PACS_FHIR_DCM
           : strcmp(scheme, "RADLEX") == 0 ? "http://www.radlex.org"
                                           : "";
}

void pacs_fhir_zone_offset(const char *date, char *buf, size_t cap)
{
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    int y = 0, m = 0, d = 0;
    sscanf(date, "%4d%2d%2d", &y, &m, &d);
    tm.tm_year = y - 1900;
    tm.tm_mon = m - 1;
    tm.tm_mday = d;
    tm.tm_hour = 12;
    tm.tm_isdst = -1;
    time_t t = mktime(&tm);
    struct tm lt;
    long off = t != (time_t)-1 && localtime_r(&t, &lt) ? lt.tm_gmtoff : 0;
    long a = off < 0 ? -off : off;
    snprintf(buf, cap, "%c%02ld:%02ld", off < 0 ? '-' : '+', (a / 3600) % 100, (a / 60) % 60);
}

json_t *pacs_fhir_order_json(const pacs_fhir_ids *ids, const pacs_order *o, const pacs_patient *p)
{
    json_t *res = json_object(), *idents = json_array();
    int ok = res && idents &&
             json_object_set_new(res, "resourceType", json_string("ServiceRequest")) == 0;
    if (ok && pacs_fhir_id_valid(o->placer)) {
        ok = set_str(res, "id", o->placer);
    }
    ok = ok && json_array_append_new(idents, typed_identifier("PLAC", o->placer)) == 0;
    if (ok && o->accession[0]) {
        ok = json_array_append_new(idents, typed_identifier("ACSN", o->accession)) == 0;
    }
    if (ok && o->study_uid[0]) {
        char uid[80];
        snprintf(uid, sizeof uid, "urn:oid:%s", o->study_uid);
        ok = json_array_append_new(
                 idents, json_pack("{s:s,s:s}", "system", "urn:dicom:uid", "value", uid)) == 0;
    }
    ok = ok && json_object_set(res, "identifier", idents) == 0 &&
         set_str(res, "status", status_of(o->status)) && set_str(res, "intent", "order");
    if (ok && o->priority[0]) {
        const char *pr = strcmp(o->priority, "STAT") == 0   ? "stat"
                         : strcmp(o->priority, "HIGH") == 0 ? "urgent"
                                                            : "routine";
        ok = set_str(res, "priority", pr);
    }
    if (ok && (o->procedure_code[0] || o->procedure_text[0])) {
        json_t *code = json_object();
        ok = code && json_object_set_new(res, "code", code) == 0;
        if (ok && o->procedure_code[0]) {
            json_t *c = json_object();
            ok = c && set_str(c, "system", system_of_scheme(o->procedure_scheme)) &&
                 set_str(c, "code", o->procedure_code) &&
                 set_str(c, "display", o->procedure_text) &&
                 json_object_set_new(code, "coding", json_pack("[o]", c)) == 0;
        }
        ok = ok && set_str(code, "text", o->procedure_text);
    }
    json_t *pat = pacs_fhir_patient_json(ids, p);
    const char *pid = pat ? json_string_value(json_object_get(pat, "id")) : NULL;
    if (ok && pid) {
        char ref[80];
        snprintf(ref, sizeof ref, "Patient/%s", pid);
        ok = json_object_set_new(res, "subject", json_pack("{s:s}", "reference", ref)) == 0;
    } else if (ok) {
        ok = json_object_set_new(res, "subject", json_pack("{s:s}", "display", "unknown")) == 0;
    }
    json_decref(pat);
    if (ok && o->start_date[0]) {
        char when[40], zone[8];
        if (strlen(o->start_time) >= 6) {
            pacs_fhir_zone_offset(o->start_date, zone, sizeof zone);
            snprintf(when, sizeof when, "%.4s-%.2s-%.2sT%.2s:%.2s:%.2s%s", o->start_date,
                     o->start_date + 4, o->start_date + 6, o->start_time, o->start_time + 2,
                     o->start_time + 4, zone);
        } else {
            snprintf(when, sizeof when, "%.4s-%.2s-%.2s", o->start_date, o->start_date + 4,
                     o->start_date + 6);
        }
        ok = set_str(res, "occurrenceDateTime", when);
    }
    if (ok && o->referring[0]) {
        ok =
            json_object_set_new(res, "requester", json_pack("{s:s}", "display", o->referring)) == 0;
    }
    if (ok && o->modality[0]) {
        ok = json_object_set_new(res, "performerType",
                                 json_pack("{s:[{s:s,s:s}]}", "coding", "system", PACS_FHIR_DCM,
                                           "code", o->modality)) == 0;
    }
    if (ok && o->station_aet[0]) {
        json_t *c = json_pack("{s:s,s:s}", "system", PACS_FHIR_AE, "code", o->station_aet);
        ok = c && set_str(c, "display", o->station_name) &&
             json_object_set_new(res, "locationCode", json_pack("[{s:[o]}]", "coding", c)) == 0;
    }
    json_decref(idents);
    if (!ok) {
        json_decref(res);
        return NULL;
    }
    return res;
}
