// SPDX-License-Identifier: MIT
/*
 * Unit tests for the FHIR resource layer (fhir/resource.h): identifier systems from the
 * configuration, Patient and ServiceRequest read into the archive's patients and orders (names,
 * dates, identifiers, codes, station, modality, priority, status), what is refused and with
 * which error (unknown elements, wrong types, codes outside their value sets, a missing
 * placer number, a modifierExtension), and the resources written back.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "fhir/resource.h"

#define BHXH "http://fhir.ehealth.gov.vn/core/sid/insurance_number"

static pacs_fhir_ids ids_of(const char *extra_mrn)
{
    pacs_config *cfg = pacs_config_new();
    assert_non_null(cfg);
    if (extra_mrn) {
        assert_int_equal(pacs_config_set(cfg, "fhir.id.mrn", extra_mrn, NULL), PACS_OK);
    }
    assert_int_equal(pacs_config_finish(cfg, NULL), PACS_OK);
    pacs_fhir_ids ids;
    pacs_errinfo ei;
    assert_int_equal(pacs_fhir_ids_load(cfg, &ids, &ei), PACS_OK);
    pacs_config_free(cfg);
    return ids;
}

static json_t *parse(const char *text)
{
    json_error_t je;
    json_t *j = json_loads(text, 0, &je);
    if (!j) {
        fail_msg("bad test JSON: %s", je.text);
    }
    return j;
}

static pacs_err read_patient(const pacs_fhir_ids *ids, const char *text, pacs_patient *p,
                             pacs_errinfo *ei)
{
    json_t *j = parse(text);
    pacs_err err = pacs_fhir_patient_read(ids, j, p, ei);
    json_decref(j);
    return err;
}

static void test_ids(void **state)
{
    (void)state;
    pacs_fhir_ids ids = ids_of("urn:a:mrn, urn:b:mrn");
    assert_string_equal(pacs_fhir_ids_system(&ids, BHXH), "bhxh");
    assert_string_equal(pacs_fhir_ids_system(&ids, "urn:pacsd:id:cccd"), "cccd");
    assert_string_equal(pacs_fhir_ids_system(&ids, "urn:b:mrn"), "mrn");
    assert_null(pacs_fhir_ids_system(&ids, "urn:b"));
    assert_null(pacs_fhir_ids_system(&ids, "urn:a:mrn,"));
    char uri[64];
    pacs_fhir_ids_uri(&ids, "mrn", uri, sizeof uri);
    assert_string_equal(uri, "urn:a:mrn");
    pacs_patient_id id = {"bhxh", "DN4010123456789"}, back;
    char text[65];
    pacs_errinfo ei;
    assert_true(pacs_fhir_patient_id(&id, text, sizeof text));
    assert_string_equal(text, "bhxh-DN4010123456789");
    assert_int_equal(pacs_fhir_patient_id_parse(&ids, text, &back, &ei), PACS_OK);
    assert_string_equal(back.system, "bhxh");
    assert_string_equal(back.value, "DN4010123456789");
    assert_int_equal(pacs_fhir_patient_id_parse(&ids, "passport-B123", &back, &ei), PACS_EBADDATA);
    assert_int_equal(pacs_fhir_patient_id_parse(&ids, "bhxh-", &back, &ei), PACS_EBADDATA);
    pacs_patient_id odd = {"mrn", "BN 0001/2"};
    assert_false(pacs_fhir_patient_id(&odd, text, sizeof text)); /* no id can hold it */
    assert_true(pacs_fhir_id_valid("PL-1.2"));
    assert_false(pacs_fhir_id_valid("PL_1"));
    assert_false(pacs_fhir_id_valid(""));
}

static void test_patient(void **state)
{
    (void)state;
    pacs_fhir_ids ids = ids_of(NULL);
    pacs_patient p;
    pacs_errinfo ei;
    assert_int_equal(
        read_patient(&ids,
                     "{\"resourceType\":\"Patient\",\"identifier\":[{\"system\":\"" BHXH
                     "\",\"value\":\"DN4010123456789\"},{\"system\":\"urn:other\",\"value\":\"x\"},"
                     "{\"system\":\"urn:pacsd:id:mrn\",\"value\":\"BN0001\",\"_value\":{\"id\":"
                     "\"v\"}}],\"name\":[{\"use\":\"nickname\",\"family\":\"X\"},{\"use\":"
                     "\"official\",\"family\":\"Nguyễn\",\"given\":[\"Văn\",\"An\"],\"prefix\":"
                     "[\"Ông\"]}],\"gender\":\"male\",\"birthDate\":\"1980-02-15\",\"address\":"
                     "[{\"city\":\"Huế\"}]}",
                     &p, &ei),
        PACS_OK);
    assert_int_equal(p.n_ids, 2); /* urn:other is of no known system */
    assert_string_equal(p.ids[0].system, "bhxh");
    assert_string_equal(p.ids[1].value, "BN0001");
    assert_string_equal(p.name, "Nguyễn^Văn An^^Ông");
    assert_string_equal(p.sex, "M");
    assert_string_equal(p.birth_date, "19800215");
    /* A name given only as text: the family name first, as Vietnamese names are written. */
    assert_int_equal(read_patient(&ids,
                                  "{\"resourceType\":\"Patient\",\"identifier\":[{\"system\":"
                                  "\"urn:pacsd:id:cccd\",\"value\":\"001\"}],\"name\":[{\"text\":"
                                  "\"Trần Thị Bình\"}],\"birthDate\":\"1990\",\"gender\":"
                                  "\"unknown\"}",
                                  &p, &ei),
                     PACS_OK);
    assert_string_equal(p.name, "Trần^Thị Bình");
    assert_string_equal(p.birth_date, ""); /* a partial date does not fit DA */
    assert_string_equal(p.sex, "");

    /* Written back: id, identifiers under their first URI, the name split again. */
    json_t *j = pacs_fhir_patient_json(&ids, &p);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "id")), "cccd-001");
    json_t *name = json_array_get(json_object_get(j, "name"), 0);
    assert_string_equal(json_string_value(json_object_get(name, "family")), "Trần");
    assert_int_equal(json_array_size(json_object_get(name, "given")), 2);
    json_decref(j);
}

static void test_patient_refused(void **state)
{
    (void)state;
    pacs_fhir_ids ids = ids_of(NULL);
    pacs_patient p;
    pacs_errinfo ei;
    static const struct {
        const char *json;
        pacs_err err;
        const char *names; /* what the message must name */
    } bad[] = {
        {"{\"resourceType\":\"Observation\"}", PACS_EBADDATA, "resourceType"},
        {"{\"identifier\":[]}", PACS_EBADDATA, "resourceType"},
        {"{\"resourceType\":\"Patient\",\"colour\":\"blue\"}", PACS_EBADDATA, "Patient.colour"},
        {"{\"resourceType\":\"Patient\",\"identifier\":{\"value\":\"1\"}}", PACS_EBADDATA,
         "Patient.identifier"},
        {"{\"resourceType\":\"Patient\",\"identifier\":[{\"system\":\"" BHXH "\",\"valu\":\"1\"}]}",
         PACS_EBADDATA, "identifier[0].valu"},
        {"{\"resourceType\":\"Patient\",\"gender\":\"M\"}", PACS_EBADDATA, "gender"},
        {"{\"resourceType\":\"Patient\",\"birthDate\":\"15/02/1980\"}", PACS_EBADDATA, "birthDate"},
        {"{\"resourceType\":\"Patient\",\"active\":\"yes\"}", PACS_EBADDATA, "active"},
        {"{\"resourceType\":\"Patient\",\"name\":[]}", PACS_EBADDATA, "name"},
        {"{\"resourceType\":\"Patient\",\"_name\":{}}", PACS_EBADDATA, "_name"},
        {"{\"resourceType\":\"Patient\",\"modifierExtension\":[{\"url\":\"x\"}]}",
         PACS_EUNSUPPORTED, "modifierExtension"},
        {"{\"resourceType\":\"Patient\",\"name\":[{\"family\":\"A\"}]}", PACS_EINVAL, "identifier"},
        {"{\"resourceType\":\"Patient\",\"identifier\":[{\"system\":\"" BHXH
         "\",\"value\":\"1\"},{\"system\":\"" BHXH "\",\"value\":\"2\"}]}",
         PACS_EINVAL, "second"},
        {"{\"resourceType\":\"Patient\",\"identifier\":[{\"system\":\"" BHXH
         "\",\"value\":\"1\"}],\"name\":[{\"family\":\"A^B\"}]}",
         PACS_EINVAL, "Patient.name"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        pacs_err err = read_patient(&ids, bad[i].json, &p, &ei);
        if (err != bad[i].err || !strstr(ei.msg, bad[i].names)) {
            fail_msg("%s: got %s '%s'", bad[i].json, pacs_err_str(err), ei.msg);
        }
    }
}

#define SR_HEAD                                                                                    \
    "{\"resourceType\":\"ServiceRequest\",\"identifier\":[{\"type\":{\"coding\":[{\"system\":"     \
    "\"" PACS_FHIR_V2_0203 "\",\"code\":\"ACSN\"}]},\"value\":\"ACC1\"},{\"value\":\"PL1\"},"      \
    "{\"system\":\"urn:dicom:uid\",\"value\":\"urn:oid:1.2.3\"}],\"intent\":\"order\","            \
    "\"subject\":{\"reference\":\"Patient/bhxh-DN1\"},"

static pacs_err read_order(const char *text, pacs_order *o, pacs_fhir_sr_action *action,
                           pacs_fhir_subject *s, pacs_errinfo *ei)
{
    pacs_fhir_ids ids = ids_of(NULL);
    json_t *j = parse(text);
    pacs_err err = pacs_fhir_order_read(&ids, j, o, action, s, ei);
    json_decref(j);
    return err;
}

static void test_order(void **state)
{
    (void)state;
    pacs_order o;
    pacs_fhir_sr_action action;
    pacs_fhir_subject s;
    pacs_errinfo ei;
    assert_int_equal(
        read_order(SR_HEAD
                   "\"status\":\"active\",\"priority\":\"asap\",\"code\":{\"coding\":[{"
                   "\"system\":\"http://loinc.org\",\"code\":\"24725-4\",\"display\":"
                   "\"CT head\"}],\"text\":\"CT sọ não\"},\"occurrenceDateTime\":"
                   "\"2024-01-06T09:30:00+07:00\",\"performerType\":{\"coding\":[{"
                   "\"system\":\"" PACS_FHIR_DCM "\",\"code\":\"CT\"}]},\"locationCode\":"
                   "[{\"text\":\"room\"},{\"coding\":[{\"system\":\"urn:dicom:ae\",\"code\":"
                   "\"CT1\",\"display\":\"CT 1\"}]}],\"requester\":{\"display\":\"Trần "
                   "Thị Bình\"}}",
                   &o, &action, &s, &ei),
        PACS_OK);
    assert_int_equal(action, PACS_FHIR_SR_PLACE);
    assert_string_equal(o.placer, "PL1");
    assert_string_equal(o.accession, "ACC1");
    assert_string_equal(o.study_uid, "1.2.3");
    assert_string_equal(s.id.system, "bhxh");
    assert_string_equal(s.id.value, "DN1");
    assert_string_equal(o.procedure_code, "24725-4");
    assert_string_equal(o.procedure_scheme, "LN");
    assert_string_equal(o.procedure_text, "CT sọ não");
    assert_string_equal(o.start_date, "20240106");
    assert_string_equal(o.start_time, "093000");
    assert_string_equal(o.modality, "CT");
    assert_string_equal(o.station_aet, "CT1");
    assert_string_equal(o.station_name, "CT 1");
    assert_string_equal(o.priority, "HIGH");
    assert_string_equal(o.referring, "Trần Thị Bình");

    /* Cancel; the placer from the id when no identifier carries one; a subject by identifier
     * and by a transaction's fullUrl. */
    assert_int_equal(read_order("{\"resourceType\":\"ServiceRequest\",\"id\":\"PL9\",\"status\":"
                                "\"revoked\",\"intent\":\"order\",\"subject\":{\"identifier\":{"
                                "\"system\":\"urn:pacsd:id:cccd\",\"value\":\"001\"}}}",
                                &o, &action, &s, &ei),
                     PACS_OK);
    assert_int_equal(action, PACS_FHIR_SR_CANCEL);
    assert_string_equal(o.placer, "PL9");
    assert_string_equal(s.id.system, "cccd");
    assert_int_equal(read_order("{\"resourceType\":\"ServiceRequest\",\"id\":\"PL9\",\"status\":"
                                "\"entered-in-error\",\"intent\":\"order\",\"subject\":{"
                                "\"reference\":\"urn:uuid:1\"}}",
                                &o, &action, &s, &ei),
                     PACS_OK);
    assert_int_equal(action, PACS_FHIR_SR_CANCEL);
    assert_string_equal(s.full_url, "urn:uuid:1");

    /* Written back. */
    pacs_patient p;
    memset(&p, 0, sizeof p);
    p.n_ids = 1;
    snprintf(p.ids[0].system, sizeof p.ids[0].system, "bhxh");
    snprintf(p.ids[0].value, sizeof p.ids[0].value, "DN1");
    assert_int_equal(
        read_order(SR_HEAD "\"status\":\"active\",\"priority\":\"stat\"}", &o, &action, &s, &ei),
        PACS_OK);
    pacs_fhir_ids ids = ids_of(NULL);
    json_t *j = pacs_fhir_order_json(&ids, &o, &p);
    assert_non_null(j);
    assert_string_equal(json_string_value(json_object_get(j, "id")), "PL1");
    assert_string_equal(json_string_value(json_object_get(j, "priority")), "stat");
    assert_string_equal(json_string_value(json_object_get(j, "status")), "active");
    assert_string_equal(
        json_string_value(json_object_get(json_object_get(j, "subject"), "reference")),
        "Patient/bhxh-DN1");
    json_decref(j);
}

static void test_order_refused(void **state)
{
    (void)state;
    pacs_order o;
    pacs_fhir_sr_action action;
    pacs_fhir_subject s;
    pacs_errinfo ei;
    static const struct {
        const char *json;
        pacs_err err;
        const char *names;
    } bad[] = {
        {SR_HEAD "\"status\":\"active\",\"occurrence\":\"x\"}", PACS_EBADDATA,
         "ServiceRequest.occurrence"},
        {SR_HEAD "\"status\":\"sent\"}", PACS_EBADDATA, "status"},
        {SR_HEAD "\"priority\":\"high\",\"status\":\"active\"}", PACS_EBADDATA, "priority"},
        {SR_HEAD "\"status\":\"active\",\"occurrenceDateTime\":\"2024-01-06T09:30\"}",
         PACS_EBADDATA, "occurrenceDateTime"},
        {SR_HEAD "\"status\":\"active\",\"code\":{\"coding\":[{\"cod\":\"1\"}]}}", PACS_EBADDATA,
         "coding[0].cod"},
        {SR_HEAD "\"status\":\"completed\"}", PACS_EINVAL, "MPPS"},
        {"{\"resourceType\":\"ServiceRequest\",\"status\":\"active\",\"intent\":\"order\"}",
         PACS_EBADDATA, "subject"},
        {"{\"resourceType\":\"ServiceRequest\",\"status\":\"active\",\"subject\":{\"reference\":"
         "\"Patient/bhxh-1\"}}",
         PACS_EBADDATA, "intent"},
        {"{\"resourceType\":\"ServiceRequest\",\"status\":\"active\",\"intent\":\"order\","
         "\"subject\":{\"reference\":\"Patient/bhxh-1\"}}",
         PACS_EINVAL, "placer"},
        {"{\"resourceType\":\"ServiceRequest\",\"id\":\"P\",\"status\":\"active\",\"intent\":"
         "\"order\",\"subject\":{\"reference\":\"Group/1\"}}",
         PACS_EINVAL, "subject"},
        {SR_HEAD "\"status\":\"active\",\"performerType\":{\"coding\":[{\"system\":"
                 "\"" PACS_FHIR_DCM "\",\"code\":\"AVERYLONGMODALITYCODE\"}]}}",
         PACS_EINVAL, "performerType"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        pacs_err err = read_order(bad[i].json, &o, &action, &s, &ei);
        if (err != bad[i].err || !strstr(ei.msg, bad[i].names)) {
            fail_msg("%s: got %s '%s'", bad[i].json, pacs_err_str(err), ei.msg);
        }
    }
}

static void test_bundle(void **state)
{
    (void)state;
    pacs_errinfo ei;
    json_t *j = parse("{\"resourceType\":\"Bundle\",\"type\":\"transaction\",\"entry\":[{"
                      "\"fullUrl\":\"urn:uuid:1\",\"resource\":{\"resourceType\":\"Patient\"},"
                      "\"request\":{\"method\":\"POST\",\"url\":\"Patient\"}}]}");
    assert_int_equal(pacs_fhir_bundle_check(j, &ei), PACS_OK);
    json_decref(j);
    j = parse("{\"resourceType\":\"Bundle\",\"type\":\"transaction\",\"entry\":[{\"request\":{"
              "\"method\":\"POST\",\"verb\":\"x\"}}]}");
    assert_int_equal(pacs_fhir_bundle_check(j, &ei), PACS_EBADDATA);
    assert_non_null(strstr(ei.msg, "request.verb"));
    json_decref(j);
    j = parse("{\"resourceType\":\"Bundle\",\"entry\":[]}");
    assert_int_equal(pacs_fhir_bundle_check(j, &ei), PACS_EBADDATA);
    json_decref(j);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ids),
        cmocka_unit_test(test_patient),
        cmocka_unit_test(test_patient_refused),
        cmocka_unit_test(test_order),
        cmocka_unit_test(test_order_refused),
        cmocka_unit_test(test_bundle),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
