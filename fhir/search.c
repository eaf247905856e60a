// SPDX-License-Identifier: MIT
/*
 * What FHIR's read-only imaging resources share (fhir_internal.h): searchset Bundles with
 * total and self link, the patient criterion of a search (patient.identifier=SYSTEM|VALUE or
 * patient=ID) resolved to the PatientID the archive indexes that person's studies under, the
 * subject Reference of a study, DICOM dates as FHIR dateTimes, and this server's DICOMweb base.
 * Load: a handful of string operations and at most a few patient look-ups per search.
 * Thread-safety: runs on the request's thread.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "fhir/fhir_internal.h"

const char *pacs_fhir__dicomweb(pacs_fhir *f, pacs_http_req *r)
{
    const char *pub = pacs_config_str(f->cfg, "http.public_url");
    if (pub && pub[0]) {
        return pub;
    }
    const char *base = pacs_fhir__base(f, r);
    size_t bl = strlen(base), pl = strlen(f->prefix);
    if (pl && bl >= pl && strcmp(base + bl - pl, f->prefix) == 0) {
        bl -= pl;
    }
    const char *url = pacs_arena_printf(pacs_http_arena(r), "%.*s%s", (int)bl, base,
                                        pacs_config_str(f->cfg, "http.prefix"));
    return url ? url : "";
}

void pacs_fhir__datetime(const char *date, const char *time_of_day, char *buf, size_t cap)
{
    buf[0] = '\0';
    if (!date || strlen(date) != 8) {
        return;
    }
    if (!time_of_day || strlen(time_of_day) < 6) {
        snprintf(buf, cap, "%.4s-%.2s-%.2s", date, date + 4, date + 6);
        return;
    }
    /* DICOM dates and times are local: the server's offset on that day says which zone. */
    char zone[8];
    pacs_fhir_zone_offset(date, zone, sizeof zone);
    snprintf(buf, cap, "%.4s-%.2s-%.2sT%.2s:%.2s:%.2s%s", date, date + 4, date + 6, time_of_day,
             time_of_day + 2, time_of_day + 4, zone);
}

/* The PatientID studies of `p` carry: its identifier of the first system of patient.id_order
 * it has. */
static const char *served_id(pacs_fhir *f, const pacs_patient *p)
{
    for (size_t s = 0; s < f->ids.n; s++) {
        for (size_t i = 0; i < p->n_ids; i++) {
            if (strcmp(p->ids[i].system, f->ids.system[s]) == 0) {
                return p->ids[i].value;
            }
        }
    }
    return NULL;
}

json_t *pacs_fhir__subject_ref(pacs_fhir *f, const char *pid, const char *name, int remote)
{
    pacs_patient p;
    pacs_patient_id id;
    pacs_errinfo ei;
    char fid[65];
    memset(&id, 0, sizeof id);
    /* Without a registered patient, the PatientID is taken as the first system's (as pid_of
     * does); a remote server gets that system's URI with it. */
    char uri[1024] = "";
    if (remote && f->ids.n > 0) {
        pacs_fhir_ids_uri(&f->ids, f->ids.system[0], uri, sizeof uri);
    }
    if (f->ids.n > 0 && pid && pid[0]) {
        snprintf(id.system, sizeof id.system, "%s", f->ids.system[0]);
        snprintf(id.value, sizeof id.value, "%s", pid);
        /* The registered patient this PatientID is served for, if the HIS told us of one. */
        for (size_t s = 0; s < f->ids.n; s++) {
            snprintf(id.system, sizeof id.system, "%s", f->ids.system[s]);
            if (pacs_orders_patient_get(f->archive, &id, &p, &ei) == PACS_OK) {
                const char *served = served_id(f, &p);
                if (remote && served && strcmp(served, pid) == 0) {
                    pacs_fhir_ids_uri(&f->ids, f->ids.system[s], uri, sizeof uri);
                    break;
                }
                if (served && strcmp(served, pid) == 0) {
                    json_t *pat = pacs_fhir_patient_json(&f->ids, &p);
                    const char *rid = json_string_value(json_object_get(pat, "id"));
                    snprintf(fid, sizeof fid, "%s", rid ? rid : "");
                    json_decref(pat);
                    if (fid[0]) {
                        return json_pack("{s:s+}", "reference", "Patient/", fid);
                    }
                }
            }
        }
    }
    json_t *ref = json_object();
    if (ref && pid && pid[0]) {
        json_object_set_new(ref, "identifier",
                            uri[0] ? json_pack("{s:s,s:s}", "system", uri, "value", pid)
                                   : json_pack("{s:s}", "value", pid));
    }
    if (ref && name && name[0]) {
        json_object_set_new(ref, "display", json_string(name));
    }
    if (ref && json_object_size(ref) == 0) {
        json_object_set_new(ref, "display", json_string("unknown"));
    }
    return ref;
}

/* A patient's PatientID from an identifier; "" when the archive knows no such patient. The
 * first system of patient.id_order is the PatientID itself, so its value names the studies
 * of a patient the HIS never registered too. */
static void pid_of(pacs_fhir *f, const pacs_patient_id *id, char *pid, size_t cap)
{
    pacs_patient p;
    pacs_errinfo ei;
    pid[0] = '\0';
    if (pacs_orders_patient_get(f->archive, id, &p, &ei) == PACS_OK) {
        const char *served = served_id(f, &p);
        snprintf(pid, cap, "%s", served ? served : "");
    } else if (f->ids.n > 0 && strcmp(id->system, f->ids.system[0]) == 0) {
        snprintf(pid, cap, "%s", id->value);
    }
}

int pacs_fhir__patient_criterion(pacs_fhir *f, pacs_http_req *r, char *pid, size_t cap, int *given)
{
    const pacs_params *pp = pacs_http_params(r);
    const char *chained = pacs_params_get(pp, "patient.identifier");
    const char *ref = pacs_params_get(pp, "patient");
    pacs_errinfo ei;
    *given = chained || ref;
    pid[0] = '\0';
    if (chained && ref) {
        pacs_fhir__outcome(r, 400, "invalid", "give patient or patient.identifier, not both");
        return 0;
    }
    if (ref) {
        const char *id = strncmp(ref, "Patient/", 8) == 0 ? ref + 8 : ref;
        pacs_patient_id pat;
        if (!pacs_fhir_id_valid(id) ||
            pacs_fhir_patient_id_parse(&f->ids, id, &pat, &ei) != PACS_OK) {
            pacs_fhir__outcome(r, 400, "invalid",
                               "patient: '%.64s' is not a Patient id of this server "
                               "(system-value, e.g. bhxh-DN4010123456789)",
                               ref);
            return 0;
        }
        pid_of(f, &pat, pid, cap);
        return 1;
    }
    if (!chained) {
        return 1;
    }
    const char *bar = strchr(chained, '|');
    const char *value = bar ? bar + 1 : chained;
    if (!value[0] || strlen(value) > 64 || (bar && strchr(value, '|'))) {
        pacs_fhir__outcome(r, 400, "invalid",
                           "patient.identifier must be [system|]value with a value of 1 to 64 "
                           "characters");
        return 0;
    }
    char uri[1024];
    snprintf(uri, sizeof uri, "%.*s", bar ? (int)(bar - chained) : 0, chained);
    const char *mine = uri[0] ? pacs_fhir_ids_system(&f->ids, uri) : NULL;
    if (uri[0] && !mine) {
        return 1; /* a system this server keeps no identifiers of: nobody */
    }
    for (size_t s = 0; s < f->ids.n && !pid[0]; s++) {
        if (mine && strcmp(mine, f->ids.system[s]) != 0) {
            continue;
        }
        pacs_patient_id id;
        memset(&id, 0, sizeof id);
        snprintf(id.system, sizeof id.system, "%s", f->ids.system[s]);
        snprintf(id.value, sizeof id.value, "%s", value);
        pid_of(f, &id, pid, cap);
    }
    return 1;
}

/* ---- searchset Bundles ---- */

json_t *pacs_fhir__bundle_new(void)
{
    return json_pack("{s:s,s:s,s:[]}", "resourceType", "Bundle", "type", "searchset", "entry");
}

int pacs_fhir__bundle_add(pacs_fhir *f, pacs_http_req *r, json_t *bundle, json_t *res)
{
    if (!res) {
        return 0;
    }
    const char *type = json_string_value(json_object_get(res, "resourceType"));
    const char *id = json_string_value(json_object_get(res, "id"));
    json_t *entry = json_pack("{s:o,s:{s:s}}", "resource", res, "search", "mode", "match");
    char *url = NULL;
    if (entry && type && id && asprintf(&url, "%s/%s/%s", pacs_fhir__base(f, r), type, id) > 0) {
        json_object_set_new(entry, "fullUrl", json_string(url));
        free(url);
    }
    return entry && json_array_append_new(json_object_get(bundle, "entry"), entry) == 0;
}

/* Appends `s` percent-encoded (RFC 3986 unreserved characters kept). */
static void encode(pacs_buf *b, const char *s)
{
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if ((*p >= 'A' && *p <= 'Z') || (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
            strchr("-._~", *p)) {
            pacs_buf_append(b, p, 1);
        } else {
            pacs_buf_printf(b, "%%%02X", *p);
        }
    }
}

int pacs_fhir__page_params(pacs_http_req *r, size_t dflt, size_t max, pacs_fhir_page *pg)
{
    static const char *const names[] = {"_count", "_offset"};
    size_t *dest[] = {&pg->count, &pg->offset};
    pg->count = dflt;
    pg->offset = 0;
    for (size_t i = 0; i < 2; i++) {
        const char *v = pacs_params_get(pacs_http_params(r), names[i]);
        if (!v) {
            continue;
        }
        char *end = NULL;
        unsigned long long n = v[0] >= '0' && v[0] <= '9' ? strtoull(v, &end, 10) : 0;
        if (!end || *end || n > 100000000ull || (i == 0 && n == 0)) {
            pacs_fhir__outcome(r, 400, "invalid", "%s: '%.20s' is not %s", names[i], v,
                               i == 0 ? "a count from 1" : "a number of matches to skip");
            return 0;
        }
        *dest[i] = (size_t)n;
    }
    if (pg->count > max) {
        pg->count = max;
    }
    return 1;
}

/* The search's URL on `type` with its parameters, `_count` and `_offset` given as `pg` says
 * (NULL: as asked). */
static int search_url(pacs_fhir *f, pacs_http_req *r, const char *type, const pacs_fhir_page *pg,
                      pacs_buf *url)
{
    pacs_buf_printf(url, "%s/%s", pacs_fhir__base(f, r), type);
    const pacs_params *pp = pacs_http_params(r);
    int first = 1;
    for (size_t i = 0; i < pp->n; i++) {
        if (pg && (strcmp(pp->v[i].name, "_count") == 0 || strcmp(pp->v[i].name, "_offset") == 0)) {
            continue;
        }
        pacs_buf_puts(url, first ? "?" : "&");
        first = 0;
        encode(url, pp->v[i].name);
        pacs_buf_puts(url, "=");
        encode(url, pp->v[i].value ? pp->v[i].value : "");
    }
    if (pg) {
        pacs_buf_printf(url, "%s_count=%zu&_offset=%zu", first ? "?" : "&", pg->count, pg->offset);
    }
    return url->data != NULL;
}

static void send_bundle(pacs_fhir *f, pacs_http_req *r, const char *type, json_t *bundle,
                        const pacs_fhir_page *pg, int more)
{
    json_t *entries = json_object_get(bundle, "entry");
    size_t before = pg ? pg->offset : 0;
    int ok = more || json_object_set_new(
                         bundle, "total",
                         json_integer((json_int_t)(before + json_array_size(entries)))) == 0;
    json_t *links = json_array();
    pacs_buf self;
    pacs_buf_init(&self, 16384);
    ok = ok && links && search_url(f, r, type, NULL, &self) &&
         json_array_append_new(links,
                               json_pack("{s:s,s:s}", "relation", "self", "url", self.data)) == 0;
    pacs_buf_free(&self);
    if (ok && more) {
        pacs_fhir_page next = {pg->count, pg->offset + pg->count};
        pacs_buf url;
        pacs_buf_init(&url, 16384);
        ok = search_url(f, r, type, &next, &url) &&
             json_array_append_new(
                 links, json_pack("{s:s,s:s}", "relation", "next", "url", url.data)) == 0;
        pacs_buf_free(&url);
    }
    if (ok) {
        ok = json_object_set_new(bundle, "link", links) == 0; /* taken, even when it fails */
    } else {
        json_decref(links);
    }
    if (ok && json_array_size(entries) == 0) {
        json_object_del(bundle, "entry"); /* FHIR has no empty arrays */
    }
    if (!ok) {
        json_decref(bundle);
        bundle = NULL;
    }
    pacs_fhir__send(f, r, 200, bundle, NULL);
}

void pacs_fhir__bundle_send(pacs_fhir *f, pacs_http_req *r, const char *type, json_t *bundle)
{
    send_bundle(f, r, type, bundle, NULL, 0);
}

void pacs_fhir__bundle_send_page(pacs_fhir *f, pacs_http_req *r, const char *type, json_t *bundle,
                                 const pacs_fhir_page *pg, int more)
{
    send_bundle(f, r, type, bundle, pg, more);
}
