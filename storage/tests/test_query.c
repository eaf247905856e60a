// SPDX-License-Identifier: MIT
/*
 * Unit tests of the query model (query.c): classification of keys by VR and value (universal,
 * single, wildcard, range, list, sequence), errors for malformed values, TM/DT range bounds,
 * the UTF-8 aware wildcard matcher, and matching of stored DICOM JSON values (PN case and
 * folding, fuzzy names, dates, times, lists, sequences).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "storage/query.h"

#define PATIENT_NAME 0x00100010u
#define STUDY_DATE 0x00080020u
#define STUDY_TIME 0x00080030u
#define MODALITY 0x00080060u
#define SOP_UID 0x00080018u
#define ACQ_DT 0x0008002Au

static const pacs_query_key *add(pacs_query *q, uint32_t tag, const char *vr, const char *value)
{
    pacs_errinfo ei;
    pacs_err err = pacs_query_add(q, tag, vr, value, &ei);
    if (err != PACS_OK) {
        fail_msg("add %08X '%s': %s", tag, value ? value : "(null)", ei.msg);
    }
    return pacs_query_find_key(q, tag);
}

static void test_levels(void **state)
{
    (void)state;
    assert_int_equal(pacs_level_parse("STUDY"), PACS_LEVEL_STUDY);
    assert_int_equal(pacs_level_parse(" image "), PACS_LEVEL_INSTANCE);
    assert_int_equal(pacs_level_parse("INSTANCE"), PACS_LEVEL_INSTANCE);
    assert_int_equal(pacs_level_parse("PATIENT"), PACS_LEVEL_PATIENT);
    assert_int_equal(pacs_level_parse("SERIES"), PACS_LEVEL_SERIES);
    assert_int_equal(pacs_level_parse("FRAME"), -1);
    assert_int_equal(pacs_level_parse(""), -1);
    assert_string_equal(pacs_level_name(PACS_LEVEL_INSTANCE), "IMAGE");
}

static void test_classification(void **state)
{
    (void)state;
    pacs_query *q = pacs_query_new(PACS_LEVEL_STUDY);
    assert_int_equal(add(q, PATIENT_NAME, "PN", NULL)->match, PACS_MATCH_UNIVERSAL);
    assert_int_equal(add(q, PATIENT_NAME, "PN", "")->match, PACS_MATCH_UNIVERSAL);
    assert_int_equal(add(q, PATIENT_NAME, "PN", "*")->match, PACS_MATCH_UNIVERSAL);
    assert_int_equal(add(q, PATIENT_NAME, "PN", "  ")->match, PACS_MATCH_UNIVERSAL);
    const pacs_query_key *k = add(q, PATIENT_NAME, "PN", "NGUYỄN^Thị ");
    assert_int_equal(k->match, PACS_MATCH_SINGLE);
    assert_string_equal(k->value, "nguyễn^thị"); /* case-folded, padding gone */
    assert_int_equal(add(q, PATIENT_NAME, "PN", "Ng?y*")->match, PACS_MATCH_WILDCARD);
    assert_int_equal(pacs_query_key_count(q), 1); /* a key added twice replaces the first */
    k = add(q, MODALITY, "CS", "CT\\MR");
    assert_int_equal(k->match, PACS_MATCH_LIST);
    assert_int_equal(k->n_list, 2);
    assert_string_equal(k->list[1], "MR");
    k = add(q, SOP_UID, "UI", "1.2.3\\1.2.4 \\ 1.2.5");
    assert_int_equal(k->match, PACS_MATCH_LIST);
    assert_int_equal(k->n_list, 3);
    assert_string_equal(k->list[1], "1.2.4");
    assert_string_equal(k->list[2], "1.2.5");
    /* '*' in a UID is not a wildcard. */
    assert_int_equal(add(q, SOP_UID, "UI", "1.2.*")->match, PACS_MATCH_SINGLE);
    k = add(q, STUDY_DATE, "DA", "20240101-20241231");
    assert_int_equal(k->match, PACS_MATCH_RANGE);
    assert_string_equal(k->range_lo, "20240101");
    assert_string_equal(k->range_hi, "20241231");
    k = add(q, STUDY_DATE, "DA", "20240101-");
    assert_string_equal(k->range_lo, "20240101");
    assert_null(k->range_hi);
    k = add(q, STUDY_DATE, "DA", "-20240101");
    assert_null(k->range_lo);
    assert_string_equal(k->range_hi, "20240101");
    assert_int_equal(add(q, STUDY_DATE, "DA", "2024*")->match, PACS_MATCH_WILDCARD);
    assert_int_equal(add(q, STUDY_DATE, "DA", "20240101")->match, PACS_MATCH_SINGLE);
    assert_int_equal(add(q, STUDY_DATE, "DA", "20240101\\20240105")->match, PACS_MATCH_LIST);
    /* The VR comes from the dictionary when not given. */
    k = add(q, STUDY_TIME, NULL, "10:30");
    assert_string_equal(k->vr, "TM");
    assert_string_equal(k->value, "1030");
    pacs_query_free(q);
    pacs_query_free(NULL);
}

static void test_tm_dt_bounds(void **state)
{
    (void)state;
    pacs_query *q = pacs_query_new(PACS_LEVEL_STUDY);
    static const struct {
        const char *value, *lo, *hi;
    } tm[] = {
        {"10-11", "10", "115959.999999"},
        {"1030-1045", "1030", "104559.999999"},
        {"103000-104500", "103000", "104500.999999"},
        {"-1030", NULL, "103059.999999"},
        {"0930-", "0930", NULL},
        {"10:30-10:45:30", "1030", "104530.999999"},
        {"103000.5-104500.25", "103000.5", "104500.259999"},
    };
    for (size_t i = 0; i < sizeof tm / sizeof tm[0]; i++) {
        const pacs_query_key *k = add(q, STUDY_TIME, "TM", tm[i].value);
        assert_int_equal(k->match, PACS_MATCH_RANGE);
        if (tm[i].lo) {
            assert_string_equal(k->range_lo, tm[i].lo);
        } else {
            assert_null(k->range_lo);
        }
        if (tm[i].hi) {
            assert_string_equal(k->range_hi, tm[i].hi);
        } else {
            assert_null(k->range_hi);
        }
    }
    const pacs_query_key *k = add(q, ACQ_DT, "DT", "2024-202406");
    assert_string_equal(k->range_lo, "2024");
    assert_string_equal(k->range_hi, "20240699999999.999999");
    /* A DT with a negative UTC offset is a single value, not a range. */
    k = add(q, ACQ_DT, "DT", "20240601120000-0500");
    assert_int_equal(k->match, PACS_MATCH_SINGLE);
    /* Regression: a range of years was read as a year with a UTC offset. */
    k = add(q, ACQ_DT, "DT", "2020-2024");
    assert_int_equal(k->match, PACS_MATCH_RANGE);
    assert_string_equal(k->range_lo, "2020");
    assert_string_equal(k->range_hi, "20249999999999.999999");
    /* Bounds that carry offsets themselves. */
    k = add(q, ACQ_DT, "DT", "20240601120000-0500-20240602120000-0500");
    assert_int_equal(k->match, PACS_MATCH_RANGE);
    assert_string_equal(k->range_lo, "20240601120000-0500");
    k = add(q, ACQ_DT, "DT", "-20240602");
    assert_null(k->range_lo);
    pacs_query_free(q);
}

static void test_bad_values(void **state)
{
    (void)state;
    static const struct {
        uint32_t tag;
        const char *vr, *value, *want;
    } bad[] = {
        {STUDY_DATE, "DA", "2024-01-01", "bad date range"},
        {STUDY_DATE, "DA", "-", "bad range"},
        {STUDY_DATE, "DA", "20240101-2024", "bad date range"},
        {STUDY_DATE, "DA", "yesterday", "bad date"},
        {STUDY_DATE, "DA", "2024011", "bad date"},
        {STUDY_TIME, "TM", "25h", "bad time"},
        {STUDY_TIME, "TM", "103", "bad time"},
        {STUDY_TIME, "TM", "10-1x", "bad time range"},
        {ACQ_DT, "DT", "20-2024", "bad date-time range"},
        {PATIENT_NAME, "PN", "\xff\xfe", "not valid UTF-8"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        pacs_query *q = pacs_query_new(PACS_LEVEL_STUDY);
        add(q, MODALITY, "CS", "CT");
        pacs_errinfo ei;
        pacs_err err = pacs_query_add(q, bad[i].tag, bad[i].vr, bad[i].value, &ei);
        if (err != PACS_EINVAL || !strstr(ei.msg, bad[i].want)) {
            fail_msg("case %zu '%s': err=%d msg='%s'", i, bad[i].value, err, ei.msg);
        }
        /* A refused key leaves nothing half-made behind; the others stay. */
        assert_int_equal(pacs_query_key_count(q), 1);
        assert_null(pacs_query_find_key(q, bad[i].tag));
        assert_non_null(pacs_query_find_key(q, MODALITY));
        pacs_query_free(q);
    }
}

static void test_wildcard(void **state)
{
    (void)state;
    assert_true(pacs_wildcard_match("*", ""));
    assert_true(pacs_wildcard_match("*", "abc"));
    assert_true(pacs_wildcard_match("a*c", "abbbc"));
    assert_true(pacs_wildcard_match("a?c", "abc"));
    assert_false(pacs_wildcard_match("a?c", "ac"));
    assert_false(pacs_wildcard_match("a*d", "abc"));
    assert_true(pacs_wildcard_match("*bc", "abcbc"));
    assert_true(pacs_wildcard_match("a**", "a"));
    assert_false(pacs_wildcard_match("abc", "abcd"));
    /* '?' is one character, however many bytes it takes in UTF-8. */
    assert_true(pacs_wildcard_match("nguy?n", "nguyễn"));
    assert_true(pacs_wildcard_match("h??ng", "hương"));
    assert_false(pacs_wildcard_match("h?ng", "hương"));
    assert_true(pacs_wildcard_match("*ươ*", "hương"));
    assert_true(pacs_wildcard_match("đ*", "đặng"));
}

static json_t *pn(const char *name)
{
    return json_pack("{s:s,s:[{s:s}]}", "vr", "PN", "Value", "Alphabetic", name);
}

static int matches(pacs_query *q, uint32_t tag, const json_t *attr, int fuzzy)
{
    return pacs_query_key_matches(pacs_query_find_key(q, tag), attr, fuzzy);
}

static void test_person_name_matching(void **state)
{
    (void)state;
    json_t *name = pn("Nguyễn^Thị Hương");
    pacs_query *q = pacs_query_new(PACS_LEVEL_STUDY);
    static const struct {
        const char *query;
        int plain, fuzzy;
    } cases[] = {
        {"Nguyễn^Thị Hương", 1, 1}, /* exact */
        {"NGUYỄN^THỊ HƯƠNG", 1, 1}, /* case does not matter */
        {"nguyen^thi huong", 1, 1}, /* typed without diacritics: folded */
        {"nguyen*", 1, 1},
        {"Nguyễn*", 1, 1},
        {"Nguyen*", 1, 1},
        {"*huong", 1, 1},
        {"*hương*", 1, 1},
        {"Nguyến*", 0, 1}, /* a wrong tone typed is a different name (fuzzy ignores it) */
        {"huong", 0, 1},   /* single value: the whole name; fuzzy: any word's start */
        {"thi", 0, 1},
        {"hu", 0, 1},
        {"tran*", 0, 0},
        {"uyen", 0, 0}, /* fuzzy matches word starts only */
        {"nguyen^van", 0, 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        add(q, PATIENT_NAME, "PN", cases[i].query);
        int plain = matches(q, PATIENT_NAME, name, 0), fuzzy = matches(q, PATIENT_NAME, name, 1);
        if (plain != cases[i].plain || fuzzy != cases[i].fuzzy) {
            fail_msg("'%s': plain %d fuzzy %d, wanted %d %d", cases[i].query, plain, fuzzy,
                     cases[i].plain, cases[i].fuzzy);
        }
    }
    /* đ folds to d; Đ too. */
    json_t *dang = pn("Đặng^Văn Đức");
    add(q, PATIENT_NAME, "PN", "dang^van duc");
    assert_true(matches(q, PATIENT_NAME, dang, 0));
    add(q, PATIENT_NAME, "PN", "đặng*");
    assert_true(matches(q, PATIENT_NAME, dang, 0));
    add(q, PATIENT_NAME, "PN", "duc");
    assert_true(matches(q, PATIENT_NAME, dang, 1));
    /* An absent or empty attribute matches only universal keys. */
    assert_false(matches(q, PATIENT_NAME, NULL, 0));
    add(q, PATIENT_NAME, "PN", "");
    assert_true(matches(q, PATIENT_NAME, NULL, 0));
    json_decref(dang);
    json_decref(name);
    pacs_query_free(q);
}

static void test_value_matching(void **state)
{
    (void)state;
    pacs_query *q = pacs_query_new(PACS_LEVEL_STUDY);
    json_t *date = json_pack("{s:s,s:[s]}", "vr", "DA", "Value", "20240615");
    json_t *time = json_pack("{s:s,s:[s]}", "vr", "TM", "Value", "10:45:30.5");
    json_t *mods = json_pack("{s:s,s:[s,s]}", "vr", "CS", "Value", "CT", "SR");
    json_t *num = json_pack("{s:s,s:[i]}", "vr", "IS", "Value", 42);
    add(q, STUDY_DATE, "DA", "20240601-20240630");
    assert_true(matches(q, STUDY_DATE, date, 0));
    add(q, STUDY_DATE, "DA", "20240616-");
    assert_false(matches(q, STUDY_DATE, date, 0));
    add(q, STUDY_DATE, "DA", "-20240615");
    assert_true(matches(q, STUDY_DATE, date, 0));
    add(q, STUDY_DATE, "DA", "202406*");
    assert_true(matches(q, STUDY_DATE, date, 0));
    add(q, STUDY_DATE, "DA", "20240101\\20240615");
    assert_true(matches(q, STUDY_DATE, date, 0));
    /* Times: stored with ':' (ACR-NEMA style) still compare; an hour-only upper bound covers
     * the whole hour. */
    add(q, STUDY_TIME, "TM", "10-10");
    assert_true(matches(q, STUDY_TIME, time, 0));
    add(q, STUDY_TIME, "TM", "1046-");
    assert_false(matches(q, STUDY_TIME, time, 0));
    add(q, STUDY_TIME, "TM", "-1045");
    assert_true(matches(q, STUDY_TIME, time, 0));
    add(q, STUDY_TIME, "TM", "104530.5");
    assert_true(matches(q, STUDY_TIME, time, 0));
    /* Multi-valued attribute: any value may match. */
    add(q, MODALITY, "CS", "SR");
    assert_true(matches(q, MODALITY, mods, 0));
    add(q, MODALITY, "CS", "MR\\SR");
    assert_true(matches(q, MODALITY, mods, 0));
    add(q, MODALITY, "CS", "MR\\US");
    assert_false(matches(q, MODALITY, mods, 0));
    add(q, MODALITY, "CS", "c*");
    assert_false(matches(q, MODALITY, mods, 0)); /* case matters outside PN */
    add(q, 0x00201208u, "IS", "42");
    assert_true(matches(q, 0x00201208u, num, 0));
    json_decref(date);
    json_decref(time);
    json_decref(mods);
    json_decref(num);
    pacs_query_free(q);
}

static void test_sequence_matching(void **state)
{
    (void)state;
    /* RequestAttributesSequence with two items. */
    json_t *seq = json_pack("{s:s,s:[{s:{s:s,s:[s]},s:{s:s,s:[s]}},{s:{s:s,s:[s]},s:{s:s,s:[s]}}]}",
                            "vr", "SQ", "Value", "00400009", "vr", "SH", "Value", "SPS1",
                            "00401001", "vr", "SH", "Value", "RP1", "00400009", "vr", "SH", "Value",
                            "SPS2", "00401001", "vr", "SH", "Value", "RP2");
    pacs_query *q = pacs_query_new(PACS_LEVEL_SERIES);
    pacs_query *item = NULL;
    assert_int_equal(pacs_query_add_sequence(q, 0x00400275u, &item, NULL), PACS_OK);
    assert_int_equal(pacs_query_find_key(q, 0x00400275u)->match, PACS_MATCH_SEQUENCE);
    /* An empty item: universal. */
    assert_true(matches(q, 0x00400275u, seq, 0));
    assert_true(matches(q, 0x00400275u, NULL, 0));
    add(item, 0x00400009u, "SH", "SPS2");
    assert_true(matches(q, 0x00400275u, seq, 0));
    add(item, 0x00401001u, "SH", "RP2");
    assert_true(matches(q, 0x00400275u, seq, 0));
    /* Both keys must match within one item. */
    add(item, 0x00401001u, "SH", "RP1");
    assert_false(matches(q, 0x00400275u, seq, 0));
    add(item, 0x00401001u, "SH", "RP*");
    assert_true(matches(q, 0x00400275u, seq, 0));
    assert_false(matches(q, 0x00400275u, NULL, 0));
    json_decref(seq);
    pacs_query_free(q);
}

static void test_paging_and_flags(void **state)
{
    (void)state;
    pacs_query *q = pacs_query_new(PACS_LEVEL_SERIES);
    assert_int_equal(pacs_query_level(q), PACS_LEVEL_SERIES);
    pacs_query_set_paging(q, 10, 20);
    assert_int_equal(pacs_query_limit(q), 10);
    assert_int_equal(pacs_query_offset(q), 20);
    pacs_query_set_fuzzy(q, 1);
    assert_true(pacs_query_fuzzy(q));
    pacs_query_include_all(q, 1);
    assert_true(pacs_query_includes_all(q));
    add(q, MODALITY, "CS", "CT");
    assert_int_equal(pacs_query_include(q, MODALITY, NULL), PACS_OK);
    assert_int_equal(pacs_query_find_key(q, MODALITY)->match, PACS_MATCH_SINGLE); /* kept */
    assert_int_equal(pacs_query_include(q, 0x0008103Eu, NULL), PACS_OK);
    assert_int_equal(pacs_query_find_key(q, 0x0008103Eu)->match, PACS_MATCH_UNIVERSAL);
    assert_null(pacs_query_key_at(q, 5));
    pacs_query_free(q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_levels),           cmocka_unit_test(test_classification),
        cmocka_unit_test(test_tm_dt_bounds),     cmocka_unit_test(test_bad_values),
        cmocka_unit_test(test_wildcard),         cmocka_unit_test(test_person_name_matching),
        cmocka_unit_test(test_value_matching),   cmocka_unit_test(test_sequence_matching),
        cmocka_unit_test(test_paging_and_flags),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
