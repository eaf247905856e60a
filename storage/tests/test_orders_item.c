// SPDX-License-Identifier: MIT
/* Table tests for the table-free part of the orders API (orders_item.h): a worklist item's
 * attributes, names without diacritics, worklist matching (station, modality, date range,
 * folded Vietnamese names, identifiers), the MPPS N-CREATE and N-SET checks, and the
 * reconciliation of an instance's attributes to an order's patient. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "storage/catalog.h"
#include "storage/orders_item.h"

static char systems[3][17] = {"bhxh", "cccd", "mrn"};

static void sample(pacs_order *o, pacs_patient *p)
{
    memset(o, 0, sizeof *o);
    memset(p, 0, sizeof *p);
    strcpy(p->ids[0].system, "mrn");
    strcpy(p->ids[0].value, "BN0001");
    strcpy(p->ids[1].system, "bhxh");
    strcpy(p->ids[1].value, "DN4010123456789");
    p->n_ids = 2;
    strcpy(p->name, "Nguy\xe1\xbb\x85n^V\xc4\x83n An");
    strcpy(p->birth_date, "19800215");
    strcpy(p->sex, "M");
    strcpy(o->placer, "PL1");
    strcpy(o->accession, "ACC1");
    strcpy(o->study_uid, "1.2.3.4");
    strcpy(o->requested_procedure_id, "RP1");
    strcpy(o->procedure_code, "CT01");
    strcpy(o->procedure_scheme, "L");
    strcpy(o->procedure_text, "CT s\xe1\xbb\x8d n\xc3\xa3o");
    strcpy(o->referring, "L\xc3\xaa^Minh");
    strcpy(o->sps_id, "SPS1");
    strcpy(o->station_aet, "CT1");
    strcpy(o->modality, "CT");
    strcpy(o->start_date, "20240106");
    strcpy(o->start_time, "093000");
}

static char *text(const json_t *obj, uint32_t tag)
{
    static char buf[256];
    char *v = pacs_json_text(obj, tag);
    snprintf(buf, sizeof buf, "%s", v ? v : "(absent)");
    free(v);
    return buf;
}

static void test_item(void **state)
{
    (void)state;
    pacs_order o;
    pacs_patient p;
    sample(&o, &p);
    json_t *it = pacs_orders__item_json(&o, &p, systems, 3, 0);
    assert_non_null(it);
    assert_string_equal(text(it, 0x00100020u), "DN4010123456789"); /* bhxh comes first */
    assert_string_equal(text(it, 0x00100021u), "BHXH");
    assert_string_equal(text(it, 0x00100010u), "Nguy\xe1\xbb\x85n^V\xc4\x83n An");
    assert_string_equal(text(it, 0x00080050u), "ACC1");
    assert_string_equal(text(it, 0x0020000Du), "1.2.3.4");
    assert_string_equal(text(it, 0x00402016u), "PL1");
    const json_t *others = json_object_get(json_object_get(it, "00101002"), "Value");
    assert_int_equal(json_array_size(others), 1);
    assert_string_equal(text(json_array_get(others, 0), 0x00100020u), "BN0001");
    const json_t *sps =
        json_array_get(json_object_get(json_object_get(it, "00400100"), "Value"), 0);
    assert_string_equal(text(sps, 0x00400001u), "CT1");
    assert_string_equal(text(sps, 0x00400020u), "SCHEDULED");
    assert_string_equal(text(sps, 0x00400003u), "093000");
    const json_t *code =
        json_array_get(json_object_get(json_object_get(it, "00321064"), "Value"), 0);
    assert_string_equal(text(code, 0x00080100u), "CT01");
    json_decref(it);
    /* names=ascii: both person names folded; the identifiers are untouched. */
    it = pacs_orders__item_json(&o, &p, systems, 3, 1);
    assert_string_equal(text(it, 0x00100010u), "NGUYEN^VAN AN");
    assert_string_equal(text(it, 0x00080090u), "LE^MINH");
    json_decref(it);
    /* Only an MRN: it is the PatientID. */
    p.n_ids = 1;
    it = pacs_orders__item_json(&o, &p, systems, 3, 0);
    assert_string_equal(text(it, 0x00100020u), "BN0001");
    assert_string_equal(text(it, 0x00100021u), "MRN");
    json_decref(it);
}

/* A worklist query: top-level keys as "tag=value", then "|" and the step's keys. */
static pacs_query *query(const char *const *top, const char *const *step)
{
    pacs_query *q = pacs_query_new(PACS_LEVEL_PATIENT);
    for (size_t i = 0; top && top[i]; i++) {
        uint32_t tag = (uint32_t)strtoul(top[i], NULL, 16);
        assert_int_equal(pacs_query_add(q, tag, NULL, strchr(top[i], '=') + 1, NULL), PACS_OK);
    }
    pacs_query *item = NULL;
    assert_int_equal(pacs_query_add_sequence(q, 0x00400100u, &item, NULL), PACS_OK);
    for (size_t i = 0; step && step[i]; i++) {
        uint32_t tag = (uint32_t)strtoul(step[i], NULL, 16);
        assert_int_equal(pacs_query_add(item, tag, NULL, strchr(step[i], '=') + 1, NULL), PACS_OK);
    }
    return q;
}

static void test_matching(void **state)
{
    (void)state;
    pacs_order o;
    pacs_patient p;
    sample(&o, &p);
    json_t *it = pacs_orders__item_json(&o, &p, systems, 3, 0);
    static const struct {
        const char *top[3];
        const char *step[4];
        int want;
    } cases[] = {
        {{NULL}, {"00400001=CT1", "00080060=CT", NULL}, 1},
        {{NULL}, {"00400001=MR1", NULL}, 0},
        {{NULL}, {"00080060=MR", NULL}, 0},
        {{NULL}, {"00400002=20240106-20240107", NULL}, 1},
        {{NULL}, {"00400002=20240107-", NULL}, 0},
        {{NULL}, {"00400002=20240106", "00400003=0900-1000", NULL}, 1},
        {{NULL}, {"00400003=1000-", NULL}, 0},
        {{"00100010=nguyen*", NULL}, {NULL}, 1},
        {{"00100010=NGUYEN^VAN*", NULL}, {NULL}, 1},
        {{"00100010=tran*", NULL}, {NULL}, 0},
        {{"00100020=DN4010123456789", NULL}, {NULL}, 1},
        {{"00100020=BN0001", NULL}, {NULL}, 0}, /* the MRN is an Other Patient ID here */
        {{"00080050=ACC1", NULL}, {"00400009=SPS1", NULL}, 1},
        {{"00080050=ACC2", NULL}, {NULL}, 0},
        {{"00401001=RP1", NULL}, {NULL}, 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        pacs_query *q = query(cases[i].top, cases[i].step);
        int got = pacs_orders__item_matches(q, it);
        if (got != cases[i].want) {
            print_error("case %zu: %d\n", i, got);
            fail();
        }
        pacs_query_free(q);
    }
    json_decref(it);
}

static json_t *attrs(const char *text_json)
{
    json_error_t e;
    json_t *j = json_loads(text_json, 0, &e);
    assert_non_null(j);
    return j;
}

#define BASE                                                                                       \
    "\"00400253\":{\"vr\":\"SH\",\"Value\":[\"PPS1\"]},"                                           \
    "\"00400244\":{\"vr\":\"DA\",\"Value\":[\"20240106\"]},"                                       \
    "\"00400245\":{\"vr\":\"TM\",\"Value\":[\"093000\"]},"                                         \
    "\"00080060\":{\"vr\":\"CS\",\"Value\":[\"CT\"]}"

static void test_mpps(void **state)
{
    (void)state;
    pacs_mpps_link link;
    pacs_errinfo ei;
    json_t *a =
        attrs("{\"00400252\":{\"vr\":\"CS\",\"Value\":[\"IN PROGRESS\"]}," BASE
              ",\"00400270\":{\"vr\":\"SQ\",\"Value\":[{\"00080050\":{\"vr\":\"SH\","
              "\"Value\":[\"ACC1\"]},\"00400009\":{\"vr\":\"SH\",\"Value\":[\"SPS1\"]}}]}}");
    assert_int_equal(pacs_orders__mpps_check_create(a, &link, &ei), PACS_OK);
    assert_string_equal(link.accession, "ACC1");
    assert_string_equal(link.sps_id, "SPS1");
    assert_string_equal(link.study_uid, "");
    json_decref(a);
    static const char *const bad[][2] = {
        {"{" BASE "}", "missing PerformedProcedureStepStatus (0040,0252)"},
        {"{\"00400252\":{\"vr\":\"CS\",\"Value\":[\"COMPLETED\"]}," BASE "}",
         "PerformedProcedureStepStatus (0040,0252): 'COMPLETED' is not IN PROGRESS"},
        {"{\"00400252\":{\"vr\":\"CS\",\"Value\":[\"IN PROGRESS\"]}," BASE "}",
         "missing ScheduledStepAttributesSequence (0040,0270)"},
        {"{\"00400252\":{\"vr\":\"CS\",\"Value\":[\"IN PROGRESS\"]}}",
         "missing PerformedProcedureStepID (0040,0253)"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        a = attrs(bad[i][0]);
        assert_int_equal(pacs_orders__mpps_check_create(a, &link, &ei), PACS_EINVAL);
        assert_string_equal(ei.msg, bad[i][1]);
        json_decref(a);
    }
    pacs_order_status next;
    a = attrs("{\"00400252\":{\"vr\":\"CS\",\"Value\":[\"COMPLETED\"]}}");
    assert_int_equal(pacs_orders__mpps_check_set(PACS_ORDER_IN_PROGRESS, a, &next, &ei), PACS_OK);
    assert_int_equal(next, PACS_ORDER_COMPLETED);
    assert_int_equal(pacs_orders__mpps_check_set(PACS_ORDER_COMPLETED, a, &next, &ei),
                     PACS_ECONFLICT);
    json_decref(a);
    a = attrs("{\"00400252\":{\"vr\":\"CS\",\"Value\":[\"SCHEDULED\"]}}");
    assert_int_equal(pacs_orders__mpps_check_set(PACS_ORDER_IN_PROGRESS, a, &next, &ei),
                     PACS_EINVAL);
    json_decref(a);
    a = attrs("{\"00100020\":{\"vr\":\"LO\",\"Value\":[\"X\"]}}");
    assert_int_equal(pacs_orders__mpps_check_set(PACS_ORDER_IN_PROGRESS, a, &next, &ei),
                     PACS_EINVAL);
    assert_string_equal(ei.msg, "PatientID (0010,0020): an N-SET may not change it");
    json_decref(a);
    a = attrs("{\"00400251\":{\"vr\":\"TM\",\"Value\":[\"094500\"]}}");
    assert_int_equal(pacs_orders__mpps_check_set(PACS_ORDER_IN_PROGRESS, a, &next, &ei), PACS_OK);
    assert_int_equal(next, PACS_ORDER_IN_PROGRESS);
    json_decref(a);
}

/* The item of OriginalAttributesSequence number `i` and its one Modified Attributes item. */
static const json_t *original(const json_t *obj, size_t i, const json_t **modified)
{
    const json_t *items = json_object_get(json_object_get(obj, "04000561"), "Value");
    const json_t *item = json_array_get(items, i);
    *modified = json_array_get(json_object_get(json_object_get(item, "04000550"), "Value"), 0);
    return item;
}

static void test_reconcile(void **state)
{
    (void)state;
    pacs_order o;
    pacs_patient p;
    sample(&o, &p);
    json_t *identity = pacs_orders__patient_json(&p, systems, 3, 0);
    assert_non_null(identity);
    /* What a console wrote: the name typed without diacritics, its own id, no birth date. */
    json_t *a =
        attrs("{\"00100010\":{\"vr\":\"PN\",\"Value\":[{\"Alphabetic\":\"NGUYEN^VAN AN\"}]},"
              "\"00100020\":{\"vr\":\"LO\",\"Value\":[\"12345\"]},"
              "\"00100040\":{\"vr\":\"CS\",\"Value\":[\"M\"]},"
              "\"00080050\":{\"vr\":\"SH\",\"Value\":[\"ACC1\"]}}");
    /* Name, id, issuer, birth date, other ids: five; the sex is the same. */
    assert_int_equal(pacs_orders__reconcile_json(a, identity, "20240106094500"), 5);
    assert_string_equal(text(a, 0x00100020u), "DN4010123456789");
    assert_string_equal(text(a, 0x00100021u), "BHXH");
    assert_string_equal(text(a, 0x00100010u), "Nguy\xe1\xbb\x85n^V\xc4\x83n An");
    assert_string_equal(text(a, 0x00100030u), "19800215");
    assert_string_equal(text(a, 0x00080050u), "ACC1");
    assert_string_equal(text(a, 0x00080015u), "20240106094500");
    const json_t *old;
    const json_t *item = original(a, 0, &old);
    assert_non_null(old);
    assert_string_equal(text(item, 0x04000565u), "COERCE");
    assert_string_equal(text(item, 0x04000563u), "pacsd");
    assert_string_equal(text(item, 0x04000562u), "20240106094500");
    assert_string_equal(text(old, 0x00100020u), "12345");
    assert_string_equal(text(old, 0x00100010u), "NGUYEN^VAN AN");
    /* Added attributes are recorded without a value; unchanged ones not at all. */
    assert_non_null(json_object_get(old, "00100030"));
    assert_null(json_object_get(json_object_get(old, "00100030"), "Value"));
    assert_non_null(json_object_get(old, "00100021"));
    assert_null(json_object_get(old, "00100040"));
    assert_null(json_object_get(old, "00080050"));

    /* Reconciling again changes nothing and adds no item. */
    assert_int_equal(pacs_orders__reconcile_json(a, identity, "20240107000000"), 0);
    assert_int_equal(json_array_size(json_object_get(json_object_get(a, "04000561"), "Value")), 1);
    assert_string_equal(text(a, 0x00080015u), "20240106094500");

    /* An ADT update later (a corrected name): a second item records the name served before. */
    strcpy(p.name, "Nguy\xe1\xbb\x85n^V\xc4\x83n Anh");
    json_t *updated = pacs_orders__patient_json(&p, systems, 3, 0);
    assert_int_equal(pacs_orders__reconcile_json(a, updated, "20240108000000"), 1);
    original(a, 1, &old);
    assert_string_equal(text(old, 0x00100010u), "Nguy\xe1\xbb\x85n^V\xc4\x83n An");
    assert_null(json_object_get(old, "00100020"));
    original(a, 0, &old);
    assert_string_equal(text(old, 0x00100020u), "12345"); /* the first item is kept */
    json_decref(updated);
    json_decref(a);

    /* What the HIS does not know replaces nothing: no birth date, the instance's stays; a
     * replaced PatientID is recorded with the issuer it came with, though the issuer stays. */
    p.birth_date[0] = '\0';
    p.n_ids = 1; /* only the MRN */
    json_t *mrn_only = pacs_orders__patient_json(&p, systems, 3, 0);
    a = attrs("{\"00100020\":{\"vr\":\"LO\",\"Value\":[\"OLD7\"]},"
              "\"00100021\":{\"vr\":\"LO\",\"Value\":[\"MRN\"]},"
              "\"00100030\":{\"vr\":\"DA\",\"Value\":[\"19791231\"]}}");
    assert_int_equal(pacs_orders__reconcile_json(a, mrn_only, "20240106094500"), 3);
    assert_string_equal(text(a, 0x00100020u), "BN0001");
    assert_string_equal(text(a, 0x00100030u), "19791231");
    original(a, 0, &old);
    assert_string_equal(text(old, 0x00100020u), "OLD7");
    assert_string_equal(text(old, 0x00100021u), "MRN");
    assert_null(json_object_get(old, "00100030"));
    json_decref(a);
    json_decref(mrn_only);

    /* Not an object: nothing done. */
    json_t *arr = json_array();
    assert_int_equal(pacs_orders__reconcile_json(arr, identity, "20240106094500"), -1);
    assert_int_equal(json_array_size(arr), 0);
    json_decref(arr);
    json_decref(identity);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_item),
        cmocka_unit_test(test_matching),
        cmocka_unit_test(test_mpps),
        cmocka_unit_test(test_reconcile),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
