// SPDX-License-Identifier: MIT
/* Table tests for HL7 segments to patients and orders (map.h): identifiers by system under
 * the configured authorities and types, names, dates, ORM^O01 and OMI^O23 fields, and the
 * field each refusal names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "hl7/map.h"

#define MSH "MSH|^~\\&|HIS|BV|PACS|BV|20240105083000||"

static pacs_config *config(const char *id_order)
{
    pacs_config *cfg = pacs_config_new();
    assert_non_null(cfg);
    if (id_order) {
        assert_int_equal(pacs_config_set(cfg, "patient.id_order", id_order, NULL), PACS_OK);
    }
    assert_int_equal(pacs_config_finish(cfg, NULL), PACS_OK);
    return cfg;
}

static pacs_hl7_msg *parse(const char *text)
{
    pacs_hl7_msg *m = NULL;
    pacs_hl7_error err;
    assert_int_equal(pacs_hl7_parse(text, strlen(text), PACS_HL7_UTF8, &m, &err), PACS_OK);
    return m;
}

static void test_patient(void **state)
{
    (void)state;
    pacs_config *cfg = config(NULL);
    pacs_hl7_msg *m =
        parse(MSH "ADT^A01|C1|P|2.5.1\r"
                  "PID|1||BN0001^^^BV^MR~DN4010123456789^^^BHXH~001090012345^^^^NI~"
                  "Z9^^^OTHER^XX||Nguy\xe1\xbb\x85n^V\xc4\x83n An||19800215083000|M\r");
    pacs_patient p;
    pacs_hl7_error err;
    assert_int_equal(pacs_hl7_map_patient(cfg, m, &p, &err), PACS_OK);
    assert_int_equal(p.n_ids, 3);
    assert_string_equal(p.ids[0].system, "mrn");
    assert_string_equal(p.ids[0].value, "BN0001");
    assert_string_equal(p.ids[1].system, "bhxh");
    assert_string_equal(p.ids[1].value, "DN4010123456789");
    assert_string_equal(p.ids[2].system, "cccd");
    assert_string_equal(p.name, "Nguy\xe1\xbb\x85n^V\xc4\x83n An");
    assert_string_equal(p.birth_date, "19800215");
    assert_string_equal(p.sex, "M");
    pacs_hl7_free(m);
    /* XPN order (suffix before prefix) becomes PN order; U leaves the sex empty. */
    m = parse(MSH "ADT^A08|C2|P|2.5\rPID|1||X^^^^MR||Tr\xe1\xba\xa7n^Th\xe1\xbb\x8b^H^Jr^Dr||"
                  "|U\r");
    assert_int_equal(pacs_hl7_map_patient(cfg, m, &p, &err), PACS_OK);
    assert_string_equal(p.name, "Tr\xe1\xba\xa7n^Th\xe1\xbb\x8b^H^Dr^Jr");
    assert_string_equal(p.sex, "");
    assert_string_equal(p.birth_date, "");
    pacs_hl7_free(m);
    /* A40: the survivor in PID-3, the retired patient in MRG-1. */
    m = parse(MSH "ADT^A40|C3|P|2.5\rPID|1||NEW1^^^BV^MR\rMRG|OLD1^^^BV^MR\r");
    pacs_patient_id retired;
    assert_int_equal(pacs_hl7_map_merge(cfg, m, &retired, &err), PACS_OK);
    assert_string_equal(retired.value, "OLD1");
    assert_string_equal(retired.system, "mrn");
    pacs_hl7_free(m);
    pacs_config_free(cfg);
}

static void test_patient_refusals(void **state)
{
    (void)state;
    pacs_config *cfg = config(NULL);
    pacs_config *mrn_only = config("mrn");
    static const struct {
        int mrn_only;
        const char *text;
        int code;
        const char *seg;
        unsigned field;
    } cases[] = {
        {0, MSH "ADT^A01|C|P|2.5\rEVN|A01\r", PACS_HL7_E_SEGMENT_SEQUENCE, "PID", 0},
        {0, MSH "ADT^A01|C|P|2.5\rPID|1||\r", PACS_HL7_E_REQUIRED_MISSING, "PID", 3},
        {0, MSH "ADT^A01|C|P|2.5\rPID|1||A^^^NOWHERE^XX\r", PACS_HL7_E_UNKNOWN_KEY, "PID", 3},
        {1, MSH "ADT^A01|C|P|2.5\rPID|1||A^^^BHXH\r", PACS_HL7_E_UNKNOWN_KEY, "PID", 3},
        {0, MSH "ADT^A01|C|P|2.5\rPID|1||A^^^^MR||N||1980-02-15\r", PACS_HL7_E_DATA_TYPE, "PID", 7},
        {0, MSH "ADT^A01|C|P|2.5\rPID|1||A\\E\\B^^^^MR\r", PACS_HL7_E_DATA_TYPE, "PID", 3},
        {0, MSH "ADT^A01|C|P|2.5\rPID|1||A^^^^MR||N\\XC3\\\r", PACS_HL7_E_DATA_TYPE, "PID", 5},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        pacs_hl7_msg *m = parse(cases[i].text);
        pacs_patient p;
        pacs_hl7_error err;
        pacs_err e = pacs_hl7_map_patient(cases[i].mrn_only ? mrn_only : cfg, m, &p, &err);
        if (e != PACS_EBADDATA || err.code != cases[i].code || strcmp(err.seg, cases[i].seg) != 0 ||
            err.field != cases[i].field) {
            print_error("case %zu: e=%d %d at %s-%u (%s)\n", i, e, err.code, err.seg, err.field,
                        err.text);
            fail();
        }
        pacs_hl7_free(m);
    }
    pacs_config_free(mrn_only);
    pacs_config_free(cfg);
}

static void test_orders(void **state)
{
    (void)state;
    pacs_hl7_msg *m = parse(
        MSH "ORM^O01|C4|P|2.3.1\rPID|1||BN1^^^^MR\rORC|NW|PL1|FI1||SC||^^^20240106093000^^S\r"
            "OBR|1|PL1|FI1|CT01^CT s\xe1\xbb\x8d n\xc3\xa3o^L||||||||||||BS001^L\xc3\xaa^Minh||"
            "ACC1|RP1|SPS1|CT1|||CT\rZDS|1.2.3.4^^Application^DICOM\r");
    pacs_hl7_order_control c;
    pacs_order o;
    pacs_hl7_error err;
    assert_int_equal(pacs_hl7_map_order(m, &c, &o, &err), PACS_OK);
    assert_int_equal(c, PACS_HL7_ORDER_NEW);
    assert_string_equal(o.placer, "PL1");
    assert_string_equal(o.filler, "FI1");
    assert_string_equal(o.procedure_code, "CT01");
    assert_string_equal(o.procedure_text, "CT s\xe1\xbb\x8d n\xc3\xa3o");
    assert_string_equal(o.procedure_scheme, "L");
    assert_string_equal(o.referring, "BS001^L\xc3\xaa^Minh");
    assert_string_equal(o.accession, "ACC1");
    assert_string_equal(o.requested_procedure_id, "RP1");
    assert_string_equal(o.sps_id, "SPS1");
    assert_string_equal(o.station_aet, "CT1");
    assert_string_equal(o.modality, "CT");
    assert_string_equal(o.study_uid, "1.2.3.4");
    assert_string_equal(o.start_date, "20240106");
    assert_string_equal(o.start_time, "093000");
    assert_string_equal(o.priority, "STAT");
    pacs_hl7_free(m);
    m = parse(MSH "OMI^O23|C5|P|2.5.1\rPID|1||BN1^^^^MR\rORC|XO|PL2\rTQ1|1||||||202401070800|"
                  "|R\rOBR|1|PL2||MR01^MRI^L\rIPC|ACC2|RP2|1.2.3.5|SPS2|MR||MRI ROOM||MR1\r");
    assert_int_equal(pacs_hl7_map_order(m, &c, &o, &err), PACS_OK);
    assert_int_equal(c, PACS_HL7_ORDER_CHANGE);
    assert_string_equal(o.accession, "ACC2");
    assert_string_equal(o.study_uid, "1.2.3.5");
    assert_string_equal(o.sps_id, "SPS2");
    assert_string_equal(o.modality, "MR");
    assert_string_equal(o.station_name, "MRI ROOM");
    assert_string_equal(o.station_aet, "MR1");
    assert_string_equal(o.start_date, "20240107");
    assert_string_equal(o.start_time, "0800");
    assert_string_equal(o.priority, "ROUTINE");
    pacs_hl7_free(m);
    m = parse(MSH "ORM^O01|C6|P|2.3\rORC|CA|PL1\rOBR|1|PL1\r");
    assert_int_equal(pacs_hl7_map_order(m, &c, &o, &err), PACS_OK);
    assert_int_equal(c, PACS_HL7_ORDER_CANCEL);
    pacs_hl7_free(m);
    static const struct {
        const char *text;
        int code;
        const char *seg;
        unsigned field;
    } bad[] = {
        {MSH "ORM^O01|C|P|2.3\rOBR|1\r", PACS_HL7_E_SEGMENT_SEQUENCE, "ORC", 0},
        {MSH "ORM^O01|C|P|2.3\rORC|NW|P\r", PACS_HL7_E_SEGMENT_SEQUENCE, "OBR", 0},
        {MSH "ORM^O01|C|P|2.3\rORC|ZZ|P\rOBR|1\r", PACS_HL7_E_TABLE_VALUE, "ORC", 1},
        {MSH "ORM^O01|C|P|2.3\rORC||P\rOBR|1\r", PACS_HL7_E_REQUIRED_MISSING, "ORC", 1},
        {MSH "ORM^O01|C|P|2.3\rORC|NW\rOBR|1\r", PACS_HL7_E_REQUIRED_MISSING, "ORC", 2},
        {MSH "ORM^O01|C|P|2.3\rORC|NW|P\rOBR|1|||||||||||||||||ACCESSION-TOO-LONG-1\r",
         PACS_HL7_E_DATA_TYPE, "OBR", 18},
        {MSH "OMI^O23|C|P|2.5\rORC|NW|P\rTQ1|1||||||tomorrow\rOBR|1\r", PACS_HL7_E_DATA_TYPE, "TQ1",
         7},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        m = parse(bad[i].text);
        pacs_err e = pacs_hl7_map_order(m, &c, &o, &err);
        if (e != PACS_EBADDATA || err.code != bad[i].code || strcmp(err.seg, bad[i].seg) != 0 ||
            err.field != bad[i].field) {
            print_error("case %zu: e=%d %d at %s-%u (%s)\n", i, e, err.code, err.seg, err.field,
                        err.text);
            fail();
        }
        pacs_hl7_free(m);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_patient),
        cmocka_unit_test(test_patient_refusals),
        cmocka_unit_test(test_orders),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
