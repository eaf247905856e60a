// SPDX-License-Identifier: MIT
/*
 * ServiceRequest and Bundle checked and read (resource.h): the order a ServiceRequest places,
 * changes or cancels, and the shape of a transaction Bundle. Load: one resource per FHIR write.
 * Thread-safe: no shared state.
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "fhir/resource.h"
#include "fhir/resource_internal.h"

#define str pacs_fhir__str

static const pacs_fhir__elem order_elems[] = {{"resourceType", STR},
                                              DOMAIN,
                                              {"identifier", ARR_OBJ},
                                              {"instantiatesCanonical", ARR_STR},
                                              {"instantiatesUri", ARR_STR},
                                              {"basedOn", ARR_OBJ},
                                              {"replaces", ARR_OBJ},
                                              {"requisition", OBJ},
                                              {"status", STR},
                                              {"intent", STR},
                                              {"category", ARR_OBJ},
                                              {"priority", STR},
                                              {"doNotPerform", BOOL},
                                              {"code", OBJ},
                                              {"orderDetail", ARR_OBJ},
                                              {"quantityQuantity", OBJ},
                                              {"quantityRatio", OBJ},
                                              {"quantityRange", OBJ},
                                              {"subject", OBJ},
                                              {"encounter", OBJ},
                                              {"occurrenceDateTime", STR},
                                              {"occurrencePeriod", OBJ},
                                              {"occurrenceTiming", OBJ},
                                              {"asNeededBoolean", BOOL},
                                              {"asNeededCodeableConcept", OBJ},
                                              {"authoredOn", STR},
                                              {"requester", OBJ},
                                              {"performerType", OBJ},
                                              {"performer", ARR_OBJ},
                                              {"locationCode", ARR_OBJ},
                                              {"locationReference", ARR_OBJ},
                                              {"reasonCode", ARR_OBJ},
                                              {"reasonReference", ARR_OBJ},
                                              {"insurance", ARR_OBJ},
                                              {"supportingInfo", ARR_OBJ},
                                              {"specimen", ARR_OBJ},
                                              {"bodySite", ARR_OBJ},
                                              {"note", ARR_OBJ},
                                              {"patientInstruction", STR},
                                              {"relevantHistory", ARR_OBJ},
                                              {NULL, 0}};

static const pacs_fhir__elem bundle_elems[] = {{"resourceType", STR},
                                               {"id", STR},
                                               {"meta", OBJ},
                                               {"implicitRules", STR},
                                               {"language", STR},
                                               {"identifier", OBJ},
                                               {"type", STR},
                                               {"timestamp", STR},
                                               {"total", NUM},
                                               {"link", ARR_OBJ},
                                               {"entry", ARR_OBJ},
                                               {"signature", OBJ},
                                               {NULL, 0}};
static const pacs_fhir__elem entry_elems[] = {
    BACKBONE,        {"link", ARR_OBJ}, {"fullUrl", STR},  {"resource", OBJ},
    {"search", OBJ}, {"request", OBJ},  {"response", OBJ}, {NULL, 0}};
static const pacs_fhir__elem request_elems[] = {BACKBONE,
                                                {"method", STR},
                                                {"url", STR},
                                                {"ifNoneMatch", STR},
                                                {"ifModifiedSince", STR},
                                                {"ifMatch", STR},
                                                {"ifNoneExist", STR},
                                                {NULL, 0}};

/* True when the Identifier's type has a coding of v2-0203 (or no system) with `code`. */
static int has_type(const json_t *ident, const char *code)
{
    size_t i;
    const json_t *c;
    json_array_foreach(json_object_get(json_object_get(ident, "type"), "coding"), i, c)
    {
        const char *sys = str(c, "system"), *v = str(c, "code");
        if (v && strcmp(v, code) == 0 && (!sys || strcmp(sys, PACS_FHIR_V2_0203) == 0)) {
            return 1;
        }
    }
    return 0;
}

static pacs_err read_identifiers(const json_t *res, pacs_order *o, pacs_errinfo *ei)
{
    size_t i;
    const json_t *x;
    char path[64];
    json_array_foreach(json_object_get(res, "identifier"), i, x)
    {
        const char *sys = str(x, "system"), *value = str(x, "value");
        pacs_err err = PACS_OK;
        if (!value) {
            continue;
        }
        if (has_type(x, "ACSN")) {
            snprintf(path, sizeof path, "ServiceRequest.identifier[%zu] (ACSN)", i);
            err = pacs_fhir__put(o->accession, sizeof o->accession, value, path, ei);
        } else if (sys && strcmp(sys, "urn:dicom:uid") == 0) {
            snprintf(path, sizeof path, "ServiceRequest.identifier[%zu] (urn:dicom:uid)", i);
            const char *uid = strncmp(value, "urn:oid:", 8) == 0 ? value + 8 : value;
            err = pacs_fhir__put(o->study_uid, sizeof o->study_uid, uid, path, ei);
        } else if (!o->placer[0] || has_type(x, "PLAC")) {
            snprintf(path, sizeof path, "ServiceRequest.identifier[%zu] (placer)", i);
            err = pacs_fhir__put(o->placer, sizeof o->placer, value, path, ei);
        }
        if (err != PACS_OK) {
            return err;
        }
    }
    return PACS_OK;
}

/* The subject: a reference Patient/<id> or urn:uuid:... (a transaction's entry), or an
 * identifier. */
static pacs_err read_subject(const pacs_fhir_ids *ids, const json_t *res, pacs_fhir_subject *s,
                             pacs_errinfo *ei)
{
    const json_t *subj = json_object_get(res, "subject");
    if (!subj) {
        return pacs_errf(ei, PACS_EBADDATA, "ServiceRequest.subject: required (1..1)");
    }
    pacs_err err =
        pacs_fhir__check_shape(subj, pacs_fhir__reference_elems, "ServiceRequest.subject", ei);
    if (err == PACS_OK) {
        err = pacs_fhir__check_member(subj, "identifier", pacs_fhir__identifier_elems,
                                      "ServiceRequest.subject", ei);
    }
    if (err != PACS_OK) {
        return err;
    }
    const char *ref = str(subj, "reference");
    const json_t *ident = json_object_get(subj, "identifier");
    if (ref && strncmp(ref, "Patient/", 8) == 0) {
        return pacs_fhir_patient_id_parse(ids, ref + 8, &s->id, ei);
    }
    if (ref && (strncmp(ref, "urn:uuid:", 9) == 0 || strncmp(ref, "urn:oid:", 8) == 0)) {
        return pacs_fhir__put(s->full_url, sizeof s->full_url, ref, "ServiceRequest.subject", ei);
    }
    if (ref) {
        return pacs_errf(ei, PACS_EINVAL,
                         "ServiceRequest.subject.reference: must be Patient/<id> (or a "
                         "transaction entry's urn:uuid)");
    }
    const char *sys = str(ident, "system"), *value = str(ident, "value");
    const char *mine = sys ? pacs_fhir_ids_system(ids, sys) : NULL;
    if (!mine || !value) {
        return pacs_errf(ei, PACS_EINVAL,
                         "ServiceRequest.subject: a reference Patient/<id>, or an identifier of a "
                         "known system (fhir.id.*)");
    }
    memcpy(s->id.system, mine, strlen(mine) + 1);
    return pacs_fhir__put(s->id.value, sizeof s->id.value, value,
                          "ServiceRequest.subject.identifier.value", ei);
}

/* The first coding of `concept` with system `sys` (any system when NULL). */
static const json_t *coding_of(const json_t *concept, const char *sys)
{
    size_t i;
    const json_t *c;
    json_array_foreach(json_object_get(concept, "coding"), i, c)
    {
        const char *s = str(c, "system");
        if (!sys || (s && strcmp(s, sys) == 0)) {
            return c;
        }
    }
    return NULL;
}

/* The DICOM coding scheme designator of a FHIR code system URI. */
static const char *scheme_of(const char *uri)
{
    static const struct {
        const char *uri, *scheme;
    } known[] = {{"http://loinc.org", "LN"},
                 {"http://snomed.info/sct", "SCT"},
                 {PACS_FHIR_DCM, "DCM"},
                 {"http://www.radlex.org", "RADLEX"}};
    for (size_t i = 0; uri && i < sizeof known / sizeof known[0]; i++) {
        if (strcmp(uri, known[i].uri) == 0) {
            return known[i].scheme;
        }
    }
    return "L"; /* local */
}

static pacs_err read_order_values(const json_t *res, pacs_order *o, pacs_errinfo *ei)
{
    pacs_err err = PACS_OK;
    const json_t *code = json_object_get(res, "code");
    const json_t *c = coding_of(code, NULL);
    const char *text = str(code, "text");
    if (c && str(c, "code")) {
        err = pacs_fhir__put(o->procedure_code, sizeof o->procedure_code, str(c, "code"),
                             "ServiceRequest.code.coding.code", ei);
        snprintf(o->procedure_scheme, sizeof o->procedure_scheme, "%s",
                 scheme_of(str(c, "system")));
        if (!text) {
            text = str(c, "display");
        }
    }
    if (err == PACS_OK && text) {
        err = pacs_fhir__put(o->procedure_text, sizeof o->procedure_text, text,
                             "ServiceRequest.code.text", ei);
        snprintf(o->sps_text, sizeof o->sps_text, "%s", o->procedure_text);
    }
    const json_t *m = coding_of(json_object_get(res, "performerType"), PACS_FHIR_DCM);
    if (err == PACS_OK && m && str(m, "code")) {
        err = pacs_fhir__put(o->modality, sizeof o->modality, str(m, "code"),
                             "ServiceRequest.performerType.coding.code", ei);
    }
    size_t i;
    const json_t *loc;
    json_array_foreach(json_object_get(res, "locationCode"), i, loc)
    {
        const json_t *ae = coding_of(loc, PACS_FHIR_AE);
        if (err == PACS_OK && ae && !o->station_aet[0] && str(ae, "code")) {
            err = pacs_fhir__put(o->station_aet, sizeof o->station_aet, str(ae, "code"),
                                 "ServiceRequest.locationCode.coding.code (urn:dicom:ae)", ei);
            if (err == PACS_OK && str(ae, "display")) {
                err = pacs_fhir__put(o->station_name, sizeof o->station_name, str(ae, "display"),
                                     "ServiceRequest.locationCode.coding.display", ei);
            }
        }
    }
    const char *when = str(res, "occurrenceDateTime");
    if (err == PACS_OK && when) {
        if (!pacs_fhir__date_ok(when, 1)) {
            return pacs_errf(ei, PACS_EBADDATA,
                             "ServiceRequest.occurrenceDateTime: not a FHIR dateTime");
        }
        if (strlen(when) >= 10) {
            snprintf(o->start_date, sizeof o->start_date, "%.4s%.2s%.2s", when, when + 5, when + 8);
        }
        if (strlen(when) >= 19) {
            snprintf(o->start_time, sizeof o->start_time, "%.2s%.2s%.2s", when + 11, when + 14,
                     when + 17);
        }
    }
    const char *who = str(json_object_get(res, "requester"), "display");
    if (err == PACS_OK && who) {
        if (strpbrk(who, "^=\\")) {
            return pacs_errf(ei, PACS_EINVAL, "ServiceRequest.requester.display: holds ^, = or \\");
        }
        err = pacs_fhir__put(o->referring, sizeof o->referring, who,
                             "ServiceRequest.requester.display", ei);
    }
    return err;
}

pacs_err pacs_fhir_order_read(const pacs_fhir_ids *ids, const json_t *res, pacs_order *out,
                              pacs_fhir_sr_action *action, pacs_fhir_subject *subject,
                              pacs_errinfo *ei)
{
    static const char *const statuses[] = {"draft",     "active",           "on-hold", "revoked",
                                           "completed", "entered-in-error", "unknown", NULL};
    static const char *const intents[] = {
        "proposal",     "plan",         "directive",      "order",  "original-order",
        "reflex-order", "filler-order", "instance-order", "option", NULL};
    static const char *const priorities[] = {"routine", "urgent", "asap", "stat", NULL};
    memset(out, 0, sizeof *out);
    memset(subject, 0, sizeof *subject);
    const char *type = str(res, "resourceType");
    if (!type || strcmp(type, "ServiceRequest") != 0) {
        return pacs_errf(ei, PACS_EBADDATA, "resourceType: must be ServiceRequest");
    }
    const char *path = "ServiceRequest";
    pacs_err err = pacs_fhir__check_shape(res, order_elems, path, ei);
    if (err == PACS_OK) {
        err = pacs_fhir__check_member(res, "identifier", pacs_fhir__identifier_elems, path, ei);
    }
    static const char *const concepts[] = {"code", "performerType", "locationCode", "category"};
    for (size_t i = 0; i < 4 && err == PACS_OK; i++) {
        err = pacs_fhir__check_concept(res, concepts[i], path, ei);
    }
    if (err == PACS_OK) {
        err = pacs_fhir__check_member(res, "requester", pacs_fhir__reference_elems, path, ei);
    }
    if (err == PACS_OK) {
        err = pacs_fhir__check_member(res, "occurrencePeriod", pacs_fhir__period_elems, path, ei);
    }
    if (err != PACS_OK) {
        return err;
    }
    const char *id = str(res, "id"), *status = str(res, "status"), *intent = str(res, "intent");
    const char *priority = str(res, "priority");
    if (id && !pacs_fhir_id_valid(id)) {
        return pacs_errf(ei, PACS_EBADDATA, "ServiceRequest.id: not a FHIR id");
    }
    if (!status || !pacs_fhir__one_of(status, statuses)) {
        return pacs_errf(ei, PACS_EBADDATA,
                         "ServiceRequest.status: required, one of the RequestStatus codes");
    }
    if (!intent || !pacs_fhir__one_of(intent, intents)) {
        return pacs_errf(ei, PACS_EBADDATA,
                         "ServiceRequest.intent: required, one of the RequestIntent codes");
    }
    if (priority && !pacs_fhir__one_of(priority, priorities)) {
        return pacs_errf(ei, PACS_EBADDATA,
                         "ServiceRequest.priority: must be routine, urgent, asap or stat");
    }
    err = read_subject(ids, res, subject, ei);
    if (err == PACS_OK) {
        err = read_identifiers(res, out, ei);
    }
    if (err == PACS_OK) {
        err = read_order_values(res, out, ei);
    }
    if (err != PACS_OK) {
        return err;
    }
    if (strcmp(status, "revoked") == 0 || strcmp(status, "entered-in-error") == 0) {
        *action = PACS_FHIR_SR_CANCEL;
    } else if (strcmp(status, "completed") == 0 || strcmp(status, "unknown") == 0) {
        return pacs_errf(ei, PACS_EINVAL,
                         "ServiceRequest.status: %s is the modality's to report (MPPS), not the "
                         "HIS's to set",
                         status);
    } else {
        *action = PACS_FHIR_SR_PLACE;
    }
    if (priority) {
        snprintf(out->priority, sizeof out->priority, "%s",
                 strcmp(priority, "stat") == 0      ? "STAT"
                 : strcmp(priority, "routine") == 0 ? "ROUTINE"
                                                    : "HIGH");
    }
    if (!out->placer[0] && id) {
        snprintf(out->placer, sizeof out->placer, "%s", id);
    }
    if (!out->placer[0]) {
        return pacs_errf(ei, PACS_EINVAL,
                         "ServiceRequest.identifier: the placer order number is required");
    }
    return PACS_OK;
}

pacs_err pacs_fhir_bundle_check(const json_t *res, pacs_errinfo *ei)
{
    const char *type = str(res, "resourceType");
    if (!type || strcmp(type, "Bundle") != 0) {
        return pacs_errf(ei, PACS_EBADDATA, "resourceType: must be Bundle");
    }
    pacs_err err = pacs_fhir__check_shape(res, bundle_elems, "Bundle", ei);
    if (err == PACS_OK) {
        err = pacs_fhir__check_member(res, "entry", entry_elems, "Bundle", ei);
    }
    size_t i;
    const json_t *e;
    char path[64];
    json_array_foreach(json_object_get(res, "entry"), i, e)
    {
        snprintf(path, sizeof path, "Bundle.entry[%zu]", i);
        if (err == PACS_OK) {
            err = pacs_fhir__check_member(e, "request", request_elems, path, ei);
        }
    }
    if (err != PACS_OK) {
        return err;
    }
    if (!str(res, "type")) {
        return pacs_errf(ei, PACS_EBADDATA, "Bundle.type: required");
    }
    return PACS_OK;
}
