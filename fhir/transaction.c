// SPDX-License-Identifier: MIT
/*
 * FHIR transaction Bundles (fhir_internal.h) of Patient and ServiceRequest entries, POSTed to
 * the FHIR base. Every entry is checked first (its resource, its request, the patient each
 * order names: a Patient entry of the Bundle, by its fullUrl or by an identifier it carries,
 * else one in the archive; and that no order named is past SCHEDULED), so that a Bundle that
 * cannot succeed changes nothing. Then the Patients and the ServiceRequests are stored in one
 * transaction of the archive (pacs_orders_batch): when a write fails all the same (two orders
 * of the Bundle with one accession number, another client taking one in between, the index
 * failing), none of them is kept, and the answer (409, 503...) names the entry.
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

/* The Patient entry's location: Patient/{id} by the first identifier system it has. */
static void patient_location(pacs_fhir *f, entry *e)
{
    char id[65] = "";
    for (size_t s = 0; s < f->ids.n && !id[0]; s++) {
        for (size_t k = 0; k < e->patient.n_ids && !id[0]; k++) {
            if (strcmp(e->patient.ids[k].system, f->ids.system[s]) == 0 &&
                !pacs_fhir_patient_id(&e->patient.ids[k], id, sizeof id)) {
                id[0] = '\0';
            }
        }
    }
    snprintf(e->location, sizeof e->location, "Patient/%s", id);
}

/* Stores the entries, Patients then ServiceRequests, in one transaction of the archive: all or
 * none. */
static pacs_err apply(pacs_fhir *f, entry *v, size_t n, pacs_errinfo *ei)
{
    pacs_orders_op *ops = calloc(n, sizeof *ops);
    size_t *op_of = calloc(n, sizeof *op_of); /* entry -> its op */
    size_t *entry_of = calloc(n, sizeof *entry_of);
    pacs_err err = ops && op_of && entry_of ? PACS_OK : pacs_errf(ei, PACS_ENOMEM, "out of memory");
    size_t n_ops = 0;
    for (int pass = PACS_FHIR__PATIENT; err == PACS_OK && pass <= PACS_FHIR__ORDER; pass++) {
        for (size_t i = 0; err == PACS_OK && i < n; i++) {
            if (v[i].type != pass) {
                continue;
            }
            pacs_orders_op *op = &ops[n_ops];
            entry_of[n_ops] = i;
            op_of[i] = n_ops++;
            pacs_errinfo ignore;
            if (pass == PACS_FHIR__PATIENT) {
                pacs_patient known;
                v[i].created = 1;
                for (size_t k = 0; k < v[i].patient.n_ids && v[i].created; k++) {
                    v[i].created = pacs_orders_patient_get(f->archive, &v[i].patient.ids[k], &known,
                                                           &ignore) != PACS_OK;
                }
                op->kind = PACS_ORDERS_OP_PATIENT;
                op->patient = &v[i].patient;
                continue;
            }
            pacs_order known;
            v[i].created = pacs_orders_get(f->archive, v[i].order.placer, NULL, NULL, &known,
                                           &ignore) == PACS_ENOTFOUND;
            op->order = v[i].order;
            if (v[i].action == PACS_FHIR_SR_CANCEL) {
                op->kind = PACS_ORDERS_OP_CANCEL;
                if (v[i].created) {
                    err = pacs_errf(ei, PACS_ENOTFOUND,
                                    "Bundle.entry[%zu]: no order with placer number %s to cancel",
                                    i, v[i].order.placer);
                }
                continue;
            }
            op->kind = v[i].created ? PACS_ORDERS_OP_PLACE : PACS_ORDERS_OP_CHANGE;
            if (v[i].subject_entry) {
                op->patient_op = op_of[v[i].subject_entry - 1] + 1;
            } else {
                op->order.patient = v[i].subject.key;
            }
            snprintf(v[i].location, sizeof v[i].location, "ServiceRequest/%s", v[i].order.placer);
        }
    }
    size_t failed = 0;
    if (err == PACS_OK) {
        err = pacs_orders_batch(f->archive, ops, n_ops, &failed, ei);
        if (err != PACS_OK) {
            char msg[sizeof ei->msg];
            snprintf(msg, sizeof msg, "%s", ei->msg);
            pacs_errf(ei, err, "Bundle.entry[%zu]: %s (nothing was stored)", entry_of[failed], msg);
        }
    }
    for (size_t k = 0; err == PACS_OK && k < n_ops; k++) {
        entry *e = &v[entry_of[k]];
        if (ops[k].kind == PACS_ORDERS_OP_PATIENT) {
            pacs_patient stored;
            err = pacs_orders_patient_by_key(f->archive, ops[k].key, &stored, ei);
            e->patient = stored;
            patient_location(f, e);
        } else if (ops[k].kind == PACS_ORDERS_OP_CANCEL) {
            snprintf(e->location, sizeof e->location, "ServiceRequest/%s", e->order.placer);
        }
    }
    free(ops);
    free(op_of);
    free(entry_of);
    return err;
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
