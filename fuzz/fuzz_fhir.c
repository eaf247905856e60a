// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for the FHIR resource layer (fhir/resource.h): the input is parsed as JSON
 * (jansson, as the endpoint does) and read as a Patient, a ServiceRequest and a Bundle (with
 * each entry's resource read too). A refusal must say why; what is accepted must hold what the
 * archive can take (NUL-terminated values of their DICOM lengths, at least one identifier of a
 * known system, a placer number), and must write back as a resource of its type that reads
 * again to the same patient or order. Single-threaded.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fhir/resource.h"

static pacs_fhir_ids ids;
static int ready;

static void setup(void)
{
    pacs_config *cfg = pacs_config_new();
    pacs_errinfo ei;
    if (!cfg || pacs_config_finish(cfg, &ei) != PACS_OK || pacs_fhir_ids_load(cfg, &ids, &ei)) {
        abort();
    }
    pacs_config_free(cfg);
    ready = 1;
}

static void check_patient(const json_t *res)
{
    pacs_patient p, again;
    pacs_errinfo ei;
    ei.msg[0] = '\0';
    if (pacs_fhir_patient_read(&ids, res, &p, &ei) != PACS_OK) {
        if (!ei.msg[0]) {
            abort();
        }
        return;
    }
    if (p.n_ids == 0 || p.n_ids > PACS_PATIENT_IDS_MAX || strlen(p.name) >= sizeof p.name) {
        abort();
    }
    json_t *back = pacs_fhir_patient_json(&ids, &p);
    if (!back || pacs_fhir_patient_read(&ids, back, &again, &ei) != PACS_OK ||
        again.n_ids != p.n_ids || strcmp(again.birth_date, p.birth_date) != 0 ||
        strcmp(again.sex, p.sex) != 0) {
        abort();
    }
    json_decref(back);
}

static void check_order(const json_t *res)
{
    pacs_order o;
    pacs_fhir_sr_action action;
    pacs_fhir_subject s;
    pacs_errinfo ei;
    ei.msg[0] = '\0';
    if (pacs_fhir_order_read(&ids, res, &o, &action, &s, &ei) != PACS_OK) {
        if (!ei.msg[0]) {
            abort();
        }
        return;
    }
    if (!o.placer[0] || strlen(o.accession) >= sizeof o.accession ||
        strlen(o.modality) >= sizeof o.modality || (!s.id.system[0] && !s.full_url[0])) {
        abort();
    }
    pacs_patient p;
    memset(&p, 0, sizeof p);
    json_t *back = pacs_fhir_order_json(&ids, &o, &p);
    if (!back) {
        abort();
    }
    json_decref(back);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!ready) {
        setup();
    }
    json_error_t je;
    json_t *res = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, &je);
    if (!res) {
        return 0;
    }
    check_patient(res);
    check_order(res);
    pacs_errinfo ei;
    if (pacs_fhir_bundle_check(res, &ei) == PACS_OK) {
        size_t i;
        json_t *e;
        json_array_foreach(json_object_get(res, "entry"), i, e)
        {
            check_patient(json_object_get(e, "resource"));
            check_order(json_object_get(e, "resource"));
        }
    }
    json_decref(res);
    return 0;
}
