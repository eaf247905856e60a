// SPDX-License-Identifier: MIT
/*
 * FHIR's RESTful interactions on Patient and ServiceRequest (fhir_internal.h): read, search by
 * identifier, create (POST) and update (PUT), over the archive's orders API. A ServiceRequest
 * whose status is revoked or entered-in-error cancels its order. Also the writes a transaction
 * makes (transaction.c). Load: one or two index reads per read or search, one commit per
 * write. Thread-safety: runs on the request's thread; the archive is thread-safe.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fhir/fhir_internal.h"

/* ---- the writes ---- */

pacs_err pacs_fhir__put_patient(pacs_fhir *f, const pacs_patient *p, int *created,
                                pacs_patient *stored, pacs_errinfo *ei)
{
    pacs_patient known;
    pacs_errinfo ignore;
    *created = 1;
    for (size_t i = 0; i < p->n_ids && *created; i++) {
        *created = pacs_orders_patient_get(f->archive, &p->ids[i], &known, &ignore) != PACS_OK;
    }
    int64_t key = 0;
    pacs_err err = pacs_orders_patient_put(f->archive, p, &key, ei);
    if (err == PACS_OK) {
        err = pacs_orders_patient_by_key(f->archive, key, stored, ei);
    }
    return err;
}

pacs_err pacs_fhir__subject(pacs_fhir *f, const pacs_patient_id *id, pacs_patient *out,
                            pacs_errinfo *ei)
{
    pacs_err err = pacs_orders_patient_get(f->archive, id, out, ei);
    if (err == PACS_ENOTFOUND) {
        return pacs_errf(ei, PACS_EINVAL,
                         "ServiceRequest.subject: no patient %s-%s (send the Patient first)",
                         id->system, id->value);
    }
    return err;
}

pacs_err pacs_fhir__put_order(pacs_fhir *f, pacs_order *o, pacs_fhir_sr_action action,
                              const pacs_patient *patient, int *created, pacs_order *stored,
                              pacs_errinfo *ei)
{
    pacs_order known;
    pacs_errinfo ignore;
    pacs_err err = pacs_orders_get(f->archive, o->placer, NULL, NULL, &known, &ignore);
    *created = err == PACS_ENOTFOUND;
    if (action == PACS_FHIR_SR_CANCEL) {
        if (*created) {
            return pacs_errf(ei, PACS_ENOTFOUND, "no order with placer number %s to cancel",
                             o->placer);
        }
        err = pacs_orders_cancel(f->archive, o->placer, ei);
    } else {
        o->patient = patient->key;
        if (!*created && known.patient != patient->key) {
            return pacs_errf(ei, PACS_ECONFLICT,
                             "ServiceRequest.subject: order %s belongs to another patient",
                             o->placer);
        }
        err = *created ? pacs_orders_place(f->archive, o, stored, ei)
                       : pacs_orders_change(f->archive, o, stored, ei);
    }
    if (err == PACS_OK) {
        err = pacs_orders_get(f->archive, o->placer, NULL, NULL, stored, ei);
    }
    return err;
}

/* ---- the handlers ---- */

/* The resource for the order `o` (looking up its patient); NULL with `ei` set on failure. */
static json_t *order_json(pacs_fhir *f, const pacs_order *o, pacs_errinfo *ei)
{
    pacs_patient p;
    if (pacs_orders_patient_by_key(f->archive, o->patient, &p, ei) != PACS_OK) {
        memset(&p, 0, sizeof p);
    }
    return pacs_fhir_order_json(&f->ids, o, &p);
}

void pacs_fhir__read(pacs_fhir *f, pacs_http_req *r, int type, const char *id)
{
    pacs_errinfo ei;
    pacs_err err;
    json_t *res = NULL;
    if (type == PACS_FHIR__PATIENT) {
        pacs_patient_id pid;
        pacs_patient p;
        err = pacs_fhir_patient_id_parse(&f->ids, id, &pid, &ei);
        if (err == PACS_OK) {
            err = pacs_orders_patient_get(f->archive, &pid, &p, &ei);
        }
        if (err == PACS_EBADDATA) {
            err = pacs_errf(&ei, PACS_ENOTFOUND, "no Patient %s", id);
        }
        if (err == PACS_OK) {
            res = pacs_fhir_patient_json(&f->ids, &p);
        }
    } else {
        pacs_order o;
        err = pacs_orders_get(f->archive, id, NULL, NULL, &o, &ei);
        if (err == PACS_OK) {
            res = order_json(f, &o, &ei);
        }
    }
    if (err != PACS_OK) {
        pacs_fhir__refuse(r, err, &ei);
        return;
    }
    pacs_fhir__send(f, r, 200, res, NULL);
}

/* Adds a search match to `bundle`; 0 when out of memory. */
static int add_match(pacs_fhir *f, pacs_http_req *r, json_t *bundle, json_t *res)
{
    if (!res) {
        return 0;
    }
    const char *type = json_string_value(json_object_get(res, "resourceType"));
    const char *id = json_string_value(json_object_get(res, "id"));
    json_t *entry = json_pack("{s:o,s:{s:s}}", "resource", res, "search", "mode", "match");
    if (entry && id) {
        char *url = NULL;
        if (asprintf(&url, "%s/%s/%s", pacs_fhir__base(f, r), type, id) > 0) {
            json_object_set_new(entry, "fullUrl", json_string(url));
            free(url);
        }
    }
    return entry && json_array_append_new(json_object_get(bundle, "entry"), entry) == 0;
}

void pacs_fhir__search(pacs_fhir *f, pacs_http_req *r, int type)
{
    const pacs_params *pp = pacs_http_params(r);
    for (size_t i = 0; i < pp->n; i++) {
        if (strcmp(pp->v[i].name, "identifier") != 0 && strcmp(pp->v[i].name, "_format") != 0) {
            pacs_fhir__outcome(r, 400, "not-supported",
                               "search parameter '%.64s' is not supported (identifier)",
                               pp->v[i].name);
            return;
        }
    }
    const char *q = pacs_params_get(pp, "identifier");
    if (!q || !q[0]) {
        pacs_fhir__outcome(r, 400, "not-supported",
                           "search needs identifier=[system|]value (listing all is not served)");
        return;
    }
    const char *bar = strchr(q, '|');
    const char *value = bar ? bar + 1 : q;
    char uri[1024];
    snprintf(uri, sizeof uri, "%.*s", bar ? (int)(bar - q) : 0, q);
    json_t *bundle =
        json_pack("{s:s,s:s,s:[]}", "resourceType", "Bundle", "type", "searchset", "entry");
    pacs_errinfo ei;
    pacs_err err = PACS_OK;
    int ok = bundle != NULL;
    if (type == PACS_FHIR__PATIENT) {
        const char *mine = uri[0] ? pacs_fhir_ids_system(&f->ids, uri) : NULL;
        for (size_t s = 0; ok && s < f->ids.n && (!uri[0] || mine); s++) {
            if (mine && strcmp(mine, f->ids.system[s]) != 0) {
                continue;
            }
            pacs_patient_id pid;
            pacs_patient p;
            memset(&pid, 0, sizeof pid);
            snprintf(pid.system, sizeof pid.system, "%s", f->ids.system[s]);
            snprintf(pid.value, sizeof pid.value, "%s", value);
            err = pacs_orders_patient_get(f->archive, &pid, &p, &ei);
            if (err == PACS_OK) {
                ok = add_match(f, r, bundle, pacs_fhir_patient_json(&f->ids, &p));
                break;
            }
            if (err != PACS_ENOTFOUND) {
                break;
            }
        }
    } else {
        /* The placer number, else the accession number. */
        pacs_order o;
        err = pacs_orders_get(f->archive, value, NULL, NULL, &o, &ei);
        if (err == PACS_ENOTFOUND && strlen(value) < 17) {
            err = pacs_orders_get(f->archive, NULL, value, NULL, &o, &ei);
        }
        if (err == PACS_OK) {
            ok = add_match(f, r, bundle, order_json(f, &o, &ei));
        }
    }
    if (err != PACS_OK && err != PACS_ENOTFOUND) {
        json_decref(bundle);
        pacs_fhir__refuse(r, err, &ei);
        return;
    }
    if (ok) {
        ok = json_object_set_new(
                 bundle, "total",
                 json_integer((json_int_t)json_array_size(json_object_get(bundle, "entry")))) == 0;
    }
    if (ok && json_array_size(json_object_get(bundle, "entry")) == 0) {
        json_object_del(bundle, "entry"); /* FHIR has no empty arrays */
    }
    if (!ok) {
        json_decref(bundle);
        bundle = NULL;
    }
    pacs_fhir__send(f, r, 200, bundle, NULL);
}

/* PUT: the resource's id must be the one in the URL. */
static int id_matches(pacs_http_req *r, const json_t *body, const char *id)
{
    const char *rid = json_string_value(json_object_get(body, "id"));
    if (id && (!rid || strcmp(rid, id) != 0)) {
        pacs_fhir__outcome(r, 400, "invalid", "the resource's id must be %s, as in the URL", id);
        return 0;
    }
    return 1;
}

static void write_patient(pacs_fhir *f, pacs_http_req *r, const char *id, json_t *body)
{
    pacs_patient p, stored;
    pacs_errinfo ei;
    int created = 0;
    pacs_err err = pacs_fhir_patient_read(&f->ids, body, &p, &ei);
    if (err == PACS_OK && id) {
        pacs_patient_id named;
        err = pacs_fhir_patient_id_parse(&f->ids, id, &named, &ei);
        int carried = 0;
        for (size_t i = 0; err == PACS_OK && i < p.n_ids; i++) {
            carried |= strcmp(p.ids[i].system, named.system) == 0 &&
                       strcmp(p.ids[i].value, named.value) == 0;
        }
        if (err == PACS_OK && !carried) {
            err = pacs_errf(&ei, PACS_EBADDATA,
                            "Patient %s: the resource must carry the identifier its id names", id);
        }
    }
    if (err == PACS_OK) {
        err = pacs_fhir__put_patient(f, &p, &created, &stored, &ei);
    }
    if (err != PACS_OK) {
        pacs_fhir__refuse(r, err, &ei);
        return;
    }
    json_t *res = pacs_fhir_patient_json(&f->ids, &stored);
    const char *rid = res ? json_string_value(json_object_get(res, "id")) : NULL;
    char *loc = rid ? pacs_arena_printf(pacs_http_arena(r), "Patient/%s", rid) : NULL;
    pacs_fhir__send(f, r, created ? 201 : 200, res, loc);
}

static void write_order(pacs_fhir *f, pacs_http_req *r, const char *id, json_t *body)
{
    pacs_order o, stored;
    pacs_fhir_sr_action action;
    pacs_fhir_subject subject;
    pacs_patient p;
    pacs_errinfo ei;
    int created = 0;
    pacs_err err = pacs_fhir_order_read(&f->ids, body, &o, &action, &subject, &ei);
    if (err == PACS_OK && id && strcmp(o.placer, id) != 0) {
        err = pacs_errf(&ei, PACS_EBADDATA,
                        "ServiceRequest %s: its placer identifier must be the id in the URL", id);
    }
    if (err == PACS_OK && subject.full_url[0]) {
        err = pacs_errf(&ei, PACS_EINVAL,
                        "ServiceRequest.subject: %s names no resource outside a transaction",
                        subject.full_url);
    }
    if (err == PACS_OK) {
        err = pacs_fhir__subject(f, &subject.id, &p, &ei);
    }
    if (err == PACS_OK) {
        err = pacs_fhir__put_order(f, &o, action, &p, &created, &stored, &ei);
    }
    if (err != PACS_OK) {
        pacs_fhir__refuse(r, err, &ei);
        return;
    }
    json_t *res = order_json(f, &stored, &ei);
    char *loc = pacs_fhir_id_valid(stored.placer)
                    ? pacs_arena_printf(pacs_http_arena(r), "ServiceRequest/%s", stored.placer)
                    : NULL;
    pacs_fhir__send(f, r, created ? 201 : 200, res, loc);
}

void pacs_fhir__write(pacs_fhir *f, pacs_http_req *r, int type, const char *id, json_t *body)
{
    if (!id_matches(r, body, id)) {
        return;
    }
    if (type == PACS_FHIR__PATIENT) {
        write_patient(f, r, id, body);
    } else {
        write_order(f, r, id, body);
    }
}
