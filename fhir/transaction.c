// SPDX-License-Identifier: MIT
/*
 * FHIR transaction Bundles (fhir_internal.h) of Patient and ServiceRequest entries, POSTed to
 * the FHIR base. Every entry is checked first (its resource, its request, the patient each
 * order names: a Patient entry of the Bundle, by its fullUrl or by an identifier it carries,
 * else one in the archive; and that no order named is past SCHEDULED), so that a Bundle that
 * cannot succeed changes nothing. Then the Patients are stored, then the ServiceRequests, each
 * committed by the archive in turn.
 * The archive has no transaction across calls: if one of these writes fails all the same (the
 * index failing between two commits, or another client taking an accession number in between),
 * the writes before it stay, and the answer (503 or 409) says so.
 *
 * Load: a Bundle of a few entries per order. Thread-safety: runs on the request's thread.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fhir/fhir_internal.h"

#define ENTRIES_MAX 64

typedef struct entry {
    int type;
    const char *full_url;
    pacs_patient patient; /* a Patient entry */
    pacs_order order;     /* a ServiceRequest entry */
    pacs_fhir_sr_action action;
    pacs_fhir_subject named; /* whom the order names */
    size_t subject_entry;    /* the Patient entry the order names + 1; 0: in the archive */
    pacs_patient subject;    /* the archive's patient it names */
    int created;
    char location[256];
} entry;

/* Reads and checks entry `i`. */
static pacs_err read_entry(pacs_fhir *f, const json_t *e, size_t i, entry *out, pacs_errinfo *ei)
{
    const json_t *res = json_object_get(e, "resource");
    const json_t *req = json_object_get(e, "request");
    const char *method = json_string_value(json_object_get(req, "method"));
    const char *type = json_string_value(json_object_get(res, "resourceType"));
    out->full_url = json_string_value(json_object_get(e, "fullUrl"));
    if (!res || !method || (strcmp(method, "POST") != 0 && strcmp(method, "PUT") != 0)) {
        return pacs_errf(ei, PACS_EBADDATA,
                         "Bundle.entry[%zu]: needs a resource and request.method POST or PUT", i);
    }
    pacs_err err;
    if (type && strcmp(type, "Patient") == 0) {
        out->type = PACS_FHIR__PATIENT;
        err = pacs_fhir_patient_read(&f->ids, res, &out->patient, ei);
    } else if (type && strcmp(type, "ServiceRequest") == 0) {
        out->type = PACS_FHIR__ORDER;
        err = pacs_fhir_order_read(&f->ids, res, &out->order, &out->action, &out->named, ei);
    } else {
        return pacs_errf(ei, PACS_EUNSUPPORTED,
                         "Bundle.entry[%zu]: only Patient and ServiceRequest are served", i);
    }
    if (err != PACS_OK) {
        char msg[sizeof ei->msg];
        snprintf(msg, sizeof msg, "%s", ei->msg);
        return pacs_errf(ei, err, "Bundle.entry[%zu]: %s", i, msg);
    }
    return PACS_OK;
}

/* True when Patient entry `e` carries identifier `id`. */
static int carries(const entry *e, const pacs_patient_id *id)
{
    for (size_t k = 0; k < e->patient.n_ids; k++) {
        if (strcmp(e->patient.ids[k].system, id->system) == 0 &&
            strcmp(e->patient.ids[k].value, id->value) == 0) {
            return 1;
        }
    }
    return 0;
}

/* Each order finds its patient: a Patient entry by its fullUrl or by an identifier it carries,
 * else the archive's; no order is past SCHEDULED. */
static pacs_err link_entries(pacs_fhir *f, entry *v, size_t n, pacs_errinfo *ei)
{
    for (size_t i = 0; i < n; i++) {
        if (v[i].type != PACS_FHIR__ORDER) {
            continue;
        }
        const pacs_fhir_subject *s = &v[i].named;
        for (size_t k = 0; k < n && !v[i].subject_entry; k++) {
            if (v[k].type != PACS_FHIR__PATIENT) {
                continue;
            }
            if (s->full_url[0] ? v[k].full_url && strcmp(v[k].full_url, s->full_url) == 0
                               : carries(&v[k], &s->id)) {
                v[i].subject_entry = k + 1;
            }
        }
        if (!v[i].subject_entry && s->full_url[0]) {
            return pacs_errf(ei, PACS_EINVAL,
                             "Bundle.entry[%zu]: subject %.100s is no Patient entry's fullUrl", i,
                             s->full_url);
        }
        if (!v[i].subject_entry) {
            pacs_err err = pacs_fhir__subject(f, &s->id, &v[i].subject, ei);
            if (err != PACS_OK) {
                char msg[sizeof ei->msg];
                snprintf(msg, sizeof msg, "%s", ei->msg);
                return pacs_errf(ei, err, "Bundle.entry[%zu]: %s", i, msg);
            }
        }
        pacs_order known;
        pacs_errinfo ignore;
        if (v[i].action == PACS_FHIR_SR_PLACE &&
            pacs_orders_get(f->archive, v[i].order.placer, NULL, NULL, &known, &ignore) ==
                PACS_OK &&
            known.status != PACS_ORDER_SCHEDULED) {
            return pacs_errf(ei, PACS_ECONFLICT, "Bundle.entry[%zu]: order %s is already %s", i,
                             v[i].order.placer, pacs_order_status_name(known.status));
        }
    }
    return PACS_OK;
}

/* Stores the entries: Patients, then ServiceRequests. */
static pacs_err apply(pacs_fhir *f, entry *v, size_t n, pacs_errinfo *ei)
{
    for (int pass = PACS_FHIR__PATIENT; pass <= PACS_FHIR__ORDER; pass++) {
        for (size_t i = 0; i < n; i++) {
            pacs_err err = PACS_OK;
            if (v[i].type != pass) {
                continue;
            }
            if (pass == PACS_FHIR__PATIENT) {
                pacs_patient stored;
                char id[65] = "";
                err = pacs_fhir__put_patient(f, &v[i].patient, &v[i].created, &stored, ei);
                v[i].patient = stored;
                for (size_t s = 0; err == PACS_OK && s < f->ids.n && !id[0]; s++) {
                    for (size_t k = 0; k < stored.n_ids && !id[0]; k++) {
                        if (strcmp(stored.ids[k].system, f->ids.system[s]) == 0 &&
                            !pacs_fhir_patient_id(&stored.ids[k], id, sizeof id)) {
                            id[0] = '\0';
                        }
                    }
                }
                snprintf(v[i].location, sizeof v[i].location, "Patient/%s", id);
            } else {
                const pacs_patient *p =
                    v[i].subject_entry ? &v[v[i].subject_entry - 1].patient : &v[i].subject;
                pacs_order stored;
                err = pacs_fhir__put_order(f, &v[i].order, v[i].action, p, &v[i].created, &stored,
                                           ei);
                snprintf(v[i].location, sizeof v[i].location, "ServiceRequest/%s",
                         v[i].order.placer);
            }
            if (err != PACS_OK) {
                char msg[sizeof ei->msg];
                snprintf(msg, sizeof msg, "%s", ei->msg);
                return pacs_errf(
                    ei, err, "Bundle.entry[%zu]: %s (entries stored before it are kept)", i, msg);
            }
        }
    }
    return PACS_OK;
}

void pacs_fhir__transaction(pacs_fhir *f, pacs_http_req *r, json_t *body)
{
    pacs_errinfo ei;
    pacs_err err = pacs_fhir_bundle_check(body, &ei);
    const char *type = json_string_value(json_object_get(body, "type"));
    const json_t *entries = json_object_get(body, "entry");
    size_t n = json_array_size(entries);
    if (err == PACS_OK && strcmp(type, "transaction") != 0) {
        err = pacs_errf(&ei, PACS_EUNSUPPORTED, "Bundle.type: only transaction is served");
    }
    if (err == PACS_OK && (n == 0 || n > ENTRIES_MAX)) {
        err = pacs_errf(&ei, PACS_EINVAL, "Bundle.entry: 1 to %d entries", ENTRIES_MAX);
    }
    entry *v = err == PACS_OK ? calloc(n, sizeof *v) : NULL;
    if (err == PACS_OK && !v) {
        err = pacs_errf(&ei, PACS_ENOMEM, "out of memory");
    }
    for (size_t i = 0; err == PACS_OK && i < n; i++) {
        err = read_entry(f, json_array_get(entries, i), i, &v[i], &ei);
    }
    if (err == PACS_OK) {
        err = link_entries(f, v, n, &ei);
    }
    if (err == PACS_OK) {
        err = apply(f, v, n, &ei);
    }
    if (err != PACS_OK) {
        free(v);
        pacs_fhir__refuse(r, err, &ei);
        return;
    }
    json_t *out = json_pack("{s:s,s:s,s:[]}", "resourceType", "Bundle", "type",
                            "transaction-response", "entry");
    int ok = out != NULL;
    for (size_t i = 0; ok && i < n; i++) {
        char *loc = NULL;
        ok = asprintf(&loc, "%s/%s", pacs_fhir__base(f, r), v[i].location) > 0;
        json_t *e = ok ? json_pack("{s:{s:s,s:s}}", "response", "status",
                                   v[i].created ? "201 Created" : "200 OK", "location", loc)
                       : NULL;
        free(loc);
        ok = e && json_array_append_new(json_object_get(out, "entry"), e) == 0;
    }
    free(v);
    if (!ok) {
        json_decref(out);
        out = NULL;
    }
    pacs_fhir__send(f, r, 200, out, NULL);
}
