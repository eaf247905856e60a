// SPDX-License-Identifier: MIT
/*
 * Unit tests of the report builder (sr.h): a preliminary and a final Basic Text SR, read back
 * with the ingest parser (pacs_dcm_parse_file) as the archive would: the study's attributes in
 * UTF-8, the text, the flags, the verifying observer, the Predecessor Documents Sequence of an
 * amendment; and the inputs it refuses.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "pacs/dicom/dcm.h"
#include "pacs/dicom/sr.h"

#define STUDY "1.2.826.0.1.3680043.10.1347.77.1"
#define OLD_SERIES "1.2.826.0.1.3680043.10.1347.77.2"
#define OLD_SOP "1.2.826.0.1.3680043.10.1347.77.3"

static const char *first(const json_t *ds, const char *tag)
{
    const json_t *v = json_array_get(json_object_get(json_object_get(ds, tag), "Value"), 0);
    if (json_is_object(v)) {
        v = json_object_get(v, "Alphabetic");
    }
    return json_is_string(v) ? json_string_value(v) : "";
}

static const json_t *item(const json_t *ds, const char *tag, size_t i)
{
    return json_array_get(json_object_get(json_object_get(ds, tag), "Value"), i);
}

static pacs_sr_input input(char *series, char *sop)
{
    pacs_sr_new_uid(series);
    pacs_sr_new_uid(sop);
    pacs_sr_input in = {0};
    in.patient_name = "Nguyễn^Thị Hương";
    in.patient_id = "DN4010123456789";
    in.birth_date = "19800102";
    in.sex = "F";
    in.study_uid = STUDY;
    in.study_date = "20261201";
    in.accession = "ACC42";
    in.series_uid = series;
    in.sop_uid = sop;
    in.content_date = "20261207";
    in.content_time = "101500";
    in.text = "Phổi hai bên sáng.\nKhông thấy tổn thương.";
    in.author = "Trần^Văn Bình";
    return in;
}

/* Builds, writes to a file, parses; returns the parsed JSON (the caller decrefs). */
static json_t *build_and_parse(const pacs_sr_input *in)
{
    uint8_t *bytes = NULL;
    size_t len = 0;
    pacs_errinfo ei;
    assert_int_equal(pacs_sr_build(in, &bytes, &len, &ei), PACS_OK);
    assert_true(len > 132);
    assert_memory_equal(bytes + 128, "DICM", 4);
    char path[] = "/tmp/test_sr_XXXXXX";
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, bytes, len), (ssize_t)len);
    close(fd);
    free(bytes);
    pacs_dcm_parsed p;
    pacs_err err = pacs_dcm_parse_file(path, &p, &ei);
    unlink(path);
    assert_int_equal(err, PACS_OK);
    assert_string_equal(p.meta.sop_class_uid, PACS_SR_BASIC_TEXT);
    assert_string_equal(p.meta.sop_instance_uid, in->sop_uid);
    assert_string_equal(p.study_uid, STUDY);
    assert_string_equal(p.series_uid, in->series_uid);
    json_t *j = json_incref(p.json);
    pacs_dcm_parsed_clear(&p);
    return j;
}

static void test_preliminary(void **state)
{
    (void)state;
    char series[65], sop[65];
    pacs_sr_input in = input(series, sop);
    json_t *j = build_and_parse(&in);
    assert_string_equal(first(j, "00080060"), "SR");
    assert_string_equal(first(j, "00100010"), "Nguyễn^Thị Hương");
    assert_string_equal(first(j, "00100020"), "DN4010123456789");
    assert_string_equal(first(j, "00080050"), "ACC42");
    assert_string_equal(first(j, "00080005"), "ISO_IR 192");
    assert_string_equal(first(j, "0040A491"), "PARTIAL");
    assert_string_equal(first(j, "0040A493"), "UNVERIFIED");
    assert_null(json_object_get(j, "0040A073"));
    assert_null(json_object_get(j, "0040A360"));
    /* the root's children: the observer (context), then the findings */
    const json_t *obs = item(j, "0040A730", 0), *text = item(j, "0040A730", 1);
    assert_string_equal(first(obs, "0040A010"), "HAS OBS CONTEXT");
    assert_string_equal(first(obs, "0040A123"), "Trần^Văn Bình");
    assert_string_equal(first(text, "0040A010"), "CONTAINS");
    assert_string_equal(first(text, "0040A040"), "TEXT");
    assert_string_equal(first(text, "0040A160"), in.text);
    json_decref(j);
}

static void test_final_amends(void **state)
{
    (void)state;
    char series[65], sop[65];
    pacs_sr_input in = input(series, sop);
    in.final = 1;
    in.organization = "Bệnh viện tỉnh";
    in.amends_series = OLD_SERIES;
    in.amends_sop = OLD_SOP;
    in.amends_class = PACS_SR_BASIC_TEXT;
    json_t *j = build_and_parse(&in);
    assert_string_equal(first(j, "0040A491"), "COMPLETE");
    assert_string_equal(first(j, "0040A493"), "VERIFIED");
    const json_t *v = item(j, "0040A073", 0);
    assert_string_equal(first(v, "0040A075"), "Trần^Văn Bình");
    assert_string_equal(first(v, "0040A027"), "Bệnh viện tỉnh");
    assert_string_equal(first(v, "0040A030"), "20261207101500");
    const json_t *st = item(j, "0040A360", 0);
    assert_string_equal(first(st, "0020000D"), STUDY);
    const json_t *se = item(st, "00081115", 0);
    assert_string_equal(first(se, "0020000E"), OLD_SERIES);
    const json_t *in_sop = item(se, "00081199", 0);
    assert_string_equal(first(in_sop, "00081155"), OLD_SOP);
    assert_string_equal(first(in_sop, "00081150"), PACS_SR_BASIC_TEXT);
    json_decref(j);
}

static void test_refused(void **state)
{
    (void)state;
    char series[65], sop[65];
    uint8_t *bytes = NULL;
    size_t len = 0;
    pacs_errinfo ei;
    pacs_sr_input in = input(series, sop);
    in.text = "";
    assert_int_equal(pacs_sr_build(&in, &bytes, &len, &ei), PACS_EINVAL);
    assert_non_null(strstr(ei.msg, "text"));
    in = input(series, sop);
    in.study_uid = "1.2.abc";
    assert_int_equal(pacs_sr_build(&in, &bytes, &len, &ei), PACS_EINVAL);
    assert_non_null(strstr(ei.msg, "study_uid"));
    in = input(series, sop);
    in.author = NULL;
    assert_int_equal(pacs_sr_build(&in, &bytes, &len, &ei), PACS_EINVAL);
    in = input(series, sop);
    in.amends_sop = OLD_SOP; /* without its series and class */
    assert_int_equal(pacs_sr_build(&in, &bytes, &len, &ei), PACS_EINVAL);
    assert_null(bytes);
}

static void test_new_uid(void **state)
{
    (void)state;
    char a[65], b[65];
    pacs_sr_new_uid(a);
    pacs_sr_new_uid(b);
    assert_string_not_equal(a, b);
    assert_int_equal(strncmp(a, "1.2.826.0.1.3680043.10.1347.6.", 30), 0);
}

int main(void)
{
    pacs_errinfo ei;
    if (pacs_dcm_init(&ei) != PACS_OK) {
        fprintf(stderr, "%s\n", ei.msg);
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_preliminary),
        cmocka_unit_test(test_final_amends),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_new_uid),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
