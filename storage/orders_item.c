// SPDX-License-Identifier: MIT
/* Worklist items, their matching and the MPPS attribute checks (orders_item.h). No state. */
#include "storage/orders_item.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pacs/dicom/dcm.h"
#include "storage/catalog.h"
#include "storage/fold.h"

#define TAG_SPS_SEQUENCE 0x00400100u
#define TAG_PATIENT_NAME 0x00100010u

/* One attribute: {"vr": VR, "Value": [text]}, or without Value when `text` is "". */
static void put(json_t *obj, const char *tag, const char *vr, const char *text)
{
    json_t *a = json_pack("{s:s}", "vr", vr);
    if (a && text && text[0]) {
        json_object_set_new(a, "Value", json_pack("[s]", text));
    }
    json_object_set_new(obj, tag, a);
}

/* A person name, folded to upper-case ASCII when asked. */
static void put_pn(json_t *obj, const char *tag, const char *name, int ascii)
{
    char *folded = ascii && name[0] ? pacs_fold_ascii_upper(name) : NULL;
    json_t *a = json_pack("{s:s}", "vr", "PN");
    const char *v = folded ? folded : name;
    if (a && v[0]) {
        json_object_set_new(a, "Value", json_pack("[{s:s}]", "Alphabetic", v));
    }
    json_object_set_new(obj, tag, a);
    free(folded);
}

static void upper(char *dst, size_t cap, const char *src)
{
    size_t i = 0;
    for (; src[i] && i + 1 < cap; i++) {
        dst[i] = (char)toupper((unsigned char)src[i]);
    }
    dst[i] = '\0';
}

json_t *pacs_orders__patient_json(const pacs_patient *p, char (*systems)[17], size_t n_systems,
                                  int ascii_names)
{
    json_t *it = json_object();
    json_t *others = json_array();
    if (!it || !others) {
        json_decref(it);
        json_decref(others);
        return NULL;
    }
    /* The PatientID: the first system of patient.id_order the patient has. */
    const pacs_patient_id *main_id = NULL;
    for (size_t s = 0; s < n_systems && !main_id; s++) {
        for (size_t i = 0; i < p->n_ids; i++) {
            if (strcmp(p->ids[i].system, systems[s]) == 0) {
                main_id = &p->ids[i];
                break;
            }
        }
    }
    if (!main_id && p->n_ids > 0) {
        main_id = &p->ids[0];
    }
    char issuer[17] = "";
    if (main_id) {
        upper(issuer, sizeof issuer, main_id->system);
    }
    put_pn(it, "00100010", p->name, ascii_names);
    put(it, "00100020", "LO", main_id ? main_id->value : "");
    put(it, "00100021", "LO", issuer);
    put(it, "00100030", "DA", p->birth_date);
    put(it, "00100040", "CS", p->sex);
    for (size_t i = 0; i < p->n_ids; i++) {
        if (&p->ids[i] == main_id) {
            continue;
        }
        json_t *item = json_object();
        char up[17];
        upper(up, sizeof up, p->ids[i].system);
        put(item, "00100020", "LO", p->ids[i].value);
        put(item, "00100021", "LO", up);
        json_array_append_new(others, item);
    }
    json_object_set_new(it, "00101002", json_pack("{s:s,s:o}", "vr", "SQ", "Value", others));
    return it;
}

json_t *pacs_orders__item_json(const pacs_order *o, const pacs_patient *p, char (*systems)[17],
                               size_t n_systems, int ascii_names)
{
    json_t *it = pacs_orders__patient_json(p, systems, n_systems, ascii_names);
    json_t *sps = json_object();
    json_t *code = json_object();
    if (!it || !sps || !code) {
        json_decref(it);
        json_decref(sps);
        json_decref(code);
        return NULL;
    }
    put(it, "00080050", "SH", o->accession);
    put_pn(it, "00080090", o->referring, ascii_names);
    put(it, "0020000D", "UI", o->study_uid);
    put(it, "00401001", "SH", o->requested_procedure_id);
    put(it, "00321060", "LO", o->procedure_text);
    put(it, "00401003", "SH", o->priority);
    put(it, "00402016", "LO", o->placer);
    put(it, "00402017", "LO", o->filler);
    put(code, "00080100", "SH", o->procedure_code);
    put(code, "00080102", "SH", o->procedure_scheme);
    put(code, "00080104", "LO", o->procedure_text);
    json_object_set_new(it, "00321064",
                        o->procedure_code[0] ? json_pack("{s:s,s:[o]}", "vr", "SQ", "Value", code)
                                             : json_pack("{s:s,s:[]}", "vr", "SQ", "Value"));
    if (!o->procedure_code[0]) {
        json_decref(code);
    }
    put(sps, "00080060", "CS", o->modality);
    put(sps, "00400001", "AE", o->station_aet);
    put(sps, "00400002", "DA", o->start_date);
    put(sps, "00400003", "TM", o->start_time);
    put(sps, "00400007", "LO", o->sps_text);
    put(sps, "00400009", "SH", o->sps_id);
    put(sps, "00400010", "SH", o->station_name);
    put(sps, "00400020", "CS", pacs_order_status_name(o->status));
    json_object_set_new(it, "00400100", json_pack("{s:s,s:[o]}", "vr", "SQ", "Value", sps));
    return it;
}

/* One key against the attribute `attr` (may be NULL) of an item. */
static int key_matches(const pacs_query_key *k, const json_t *attr)
{
    if (k->match == PACS_MATCH_UNIVERSAL) {
        return 1;
    }
    int fuzzy = 0;
    if (k->tag == TAG_PATIENT_NAME && k->value) {
        fuzzy = pacs_is_ascii(k->value); /* as C-FIND: nguyen* finds Nguyễn */
    }
    return pacs_query_key_matches(k, attr, fuzzy);
}

int pacs_orders__item_matches(const pacs_query *q, const json_t *item)
{
    char key[9];
    for (size_t i = 0; i < pacs_query_key_count(q); i++) {
        const pacs_query_key *k = pacs_query_key_at(q, i);
        pacs_dcm_tag_key(k->tag, key);
        const json_t *attr = json_object_get(item, key);
        if (k->tag == TAG_SPS_SEQUENCE && k->match == PACS_MATCH_SEQUENCE && k->item) {
            const json_t *sps = json_array_get(json_object_get(attr, "Value"), 0);
            for (size_t j = 0; j < pacs_query_key_count(k->item); j++) {
                const pacs_query_key *ik = pacs_query_key_at(k->item, j);
                pacs_dcm_tag_key(ik->tag, key);
                if (!key_matches(ik, sps ? json_object_get(sps, key) : NULL)) {
                    return 0;
                }
            }
            continue;
        }
        if (!key_matches(k, attr)) {
            return 0;
        }
    }
    return 1;
}

/* ---- MPPS ---- */

static pacs_err need(const json_t *attrs, uint32_t tag, const char *name, char *out, size_t cap,
                     pacs_errinfo *ei)
{
    char *v = pacs_json_text(attrs, tag);
    if (!v || !v[0]) {
        free(v);
        return pacs_errf(ei, PACS_EINVAL, "missing %s (%04X,%04X)", name, tag >> 16, tag & 0xFFFF);
    }
    if (out) {
        snprintf(out, cap, "%s", v);
    }
    free(v);
    return PACS_OK;
}

static int status_parse(const char *s)
{
    static const struct {
        const char *name;
        pacs_order_status st;
    } names[] = {{"IN PROGRESS", PACS_ORDER_IN_PROGRESS},
                 {"COMPLETED", PACS_ORDER_COMPLETED},
                 {"DISCONTINUED", PACS_ORDER_DISCONTINUED}};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (strcmp(s, names[i].name) == 0) {
            return (int)names[i].st;
        }
    }
    return -1;
}

pacs_err pacs_orders__mpps_check_create(const json_t *attrs, pacs_mpps_link *link, pacs_errinfo *ei)
{
    char status[32];
    pacs_err err =
        need(attrs, 0x00400252u, "PerformedProcedureStepStatus", status, sizeof status, ei);
    if (err != PACS_OK) {
        return err;
    }
    if (strcmp(status, "IN PROGRESS") != 0) {
        return pacs_errf(ei, PACS_EINVAL,
                         "PerformedProcedureStepStatus (0040,0252): '%s' is not IN PROGRESS",
                         status);
    }
    static const struct {
        uint32_t tag;
        const char *name;
    } required[] = {{0x00400253u, "PerformedProcedureStepID"},
                    {0x00400244u, "PerformedProcedureStepStartDate"},
                    {0x00400245u, "PerformedProcedureStepStartTime"},
                    {0x00080060u, "Modality"}};
    for (size_t i = 0; i < sizeof required / sizeof required[0]; i++) {
        err = need(attrs, required[i].tag, required[i].name, NULL, 0, ei);
        if (err != PACS_OK) {
            return err;
        }
    }
    const json_t *items = json_object_get(json_object_get(attrs, "00400270"), "Value");
    const json_t *first = json_array_get(items, 0);
    if (!first) {
        return pacs_errf(ei, PACS_EINVAL, "missing ScheduledStepAttributesSequence (0040,0270)");
    }
    pacs_mpps_link l;
    memset(&l, 0, sizeof l);
    char *acc = pacs_json_text(first, 0x00080050u);
    char *study = pacs_json_text(first, 0x0020000Du);
    char *sps = pacs_json_text(first, 0x00400009u);
    snprintf(l.accession, sizeof l.accession, "%s", acc ? acc : "");
    snprintf(l.study_uid, sizeof l.study_uid, "%s", study ? study : "");
    snprintf(l.sps_id, sizeof l.sps_id, "%s", sps ? sps : "");
    free(acc);
    free(study);
    free(sps);
    *link = l;
    return PACS_OK;
}

pacs_err pacs_orders__mpps_check_set(pacs_order_status current, const json_t *attrs,
                                     pacs_order_status *next, pacs_errinfo *ei)
{
    if (current != PACS_ORDER_IN_PROGRESS) {
        return pacs_errf(ei, PACS_ECONFLICT,
                         "the performed procedure step is %s and may no longer be updated",
                         pacs_order_status_name(current));
    }
    /* Attributes an N-SET may not touch (PS3.4 Table F.7.2-1: not "3/3" in the N-SET column). */
    static const struct {
        const char *key, *name;
    } fixed[] = {{"00400270", "ScheduledStepAttributesSequence"},
                 {"00100020", "PatientID"},
                 {"00100010", "PatientName"},
                 {"00400253", "PerformedProcedureStepID"},
                 {"00400244", "PerformedProcedureStepStartDate"},
                 {"00400245", "PerformedProcedureStepStartTime"},
                 {"00080060", "Modality"}};
    for (size_t i = 0; i < sizeof fixed / sizeof fixed[0]; i++) {
        if (json_object_get(attrs, fixed[i].key)) {
            return pacs_errf(ei, PACS_EINVAL, "%s (%.4s,%.4s): an N-SET may not change it",
                             fixed[i].name, fixed[i].key, fixed[i].key + 4);
        }
    }
    *next = current;
    char *status = pacs_json_text(attrs, 0x00400252u);
    if (status && status[0]) {
        int st = status_parse(status);
        if (st < 0) {
            pacs_err e = pacs_errf(ei, PACS_EINVAL,
                                   "PerformedProcedureStepStatus (0040,0252): '%.32s' is not "
                                   "IN PROGRESS, COMPLETED or DISCONTINUED",
                                   status);
            free(status);
            return e;
        }
        *next = (pacs_order_status)st;
    }
    free(status);
    return PACS_OK;
}
