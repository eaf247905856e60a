// SPDX-License-Identifier: MIT
/*
 * Unit tests of Specific Character Set decoding (charset.h) and of its use at ingest and on
 * C-FIND identifiers (dcm.h): hand-made byte strings for every escape sequence DICOM defines,
 * the segmentation rules of PS3.5 6.1.2.5 (sets of value 1 active again after each delimiter,
 * delimiters inside two-byte characters left alone), the whole-value sets, what cannot be
 * decoded, and pydicom's character set samples parsed as ingest parses them, against the names
 * pydicom's own test suite lists for them (pydicom/tests/test_charset.py, FILE_PATIENT_NAMES).
 * SAMPLES (default: Debian's python3-pydicom data folder) says where the samples are.
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

#include "pacs/dicom/charset.h"
#include "pacs/dicom/dcm.h"

/* Decodes `in` (`len` bytes) under `terms` as VR `vr`; returns the UTF-8 text (static). */
static const char *dec(const char *terms, const char *vr, const char *in, size_t len)
{
    static char buf[1024];
    pacs_charset *cs = NULL;
    pacs_errinfo ei;
    assert_int_equal(pacs_charset_open(terms, &cs, &ei), PACS_OK);
    char *out = NULL;
    size_t n = 0;
    pacs_err err = pacs_charset_decode(cs, vr, in, len, &out, &n, &ei);
    if (err != PACS_OK) {
        fprintf(stderr, "decode under '%s' failed: %s\n", terms, ei.msg);
    }
    assert_int_equal(err, PACS_OK);
    assert_int_equal(strlen(out), n);
    assert_true(n < sizeof buf);
    memcpy(buf, out, n + 1);
    free(out);
    pacs_charset_close(cs);
    return buf;
}

#define DEC(terms, vr, lit) dec(terms, vr, lit, sizeof lit - 1)

/* Expects decoding to fail with PACS_EBADDATA and a message holding `why`. */
static void refused(const char *terms, const char *vr, const char *in, size_t len, const char *why)
{
    pacs_charset *cs = NULL;
    assert_int_equal(pacs_charset_open(terms, &cs, NULL), PACS_OK);
    char *out = (char *)"untouched";
    size_t n = 0;
    pacs_errinfo ei;
    assert_int_equal(pacs_charset_decode(cs, vr, in, len, &out, &n, &ei), PACS_EBADDATA);
    assert_string_equal(out, "untouched");
    if (!strstr(ei.msg, why)) {
        fprintf(stderr, "message '%s' does not say '%s'\n", ei.msg, why);
        fail();
    }
    pacs_charset_close(cs);
}

#define REFUSED(terms, vr, lit, why) refused(terms, vr, lit, sizeof lit - 1, why)

/* Every escape sequence of PS3.3 Tables C.12-3 and C.12-4, each with one character. */
static void test_each_escape_sequence(void **state)
{
    (void)state;
    static const struct {
        const char *term, *bytes, *utf8;
    } cases[] = {
        {"ISO 2022 IR 100", "a\x1b-A\xe9", "a\xc3\xa9"},          /* é */
        {"ISO 2022 IR 101", "\x1b-B\xb3", "\xc5\x82"},            /* ł */
        {"ISO 2022 IR 109", "\x1b-C\xfd", "\xc5\xad"},            /* ŭ */
        {"ISO 2022 IR 110", "\x1b-D\xe0", "\xc4\x81"},            /* ā */
        {"ISO 2022 IR 144", "\x1b-L\xbb", "\xd0\x9b"},            /* Л */
        {"ISO 2022 IR 127", "\x1b-G\xc8", "\xd8\xa8"},            /* ب */
        {"ISO 2022 IR 126", "\x1b-F\xc4", "\xce\x94"},            /* Δ */
        {"ISO 2022 IR 138", "\x1b-H\xf9", "\xd7\xa9"},            /* ש */
        {"ISO 2022 IR 148", "\x1b-M\xfe", "\xc5\x9f"},            /* ş */
        {"ISO 2022 IR 166", "\x1b-T\xb9", "\xe0\xb8\x99"},        /* น */
        {"ISO 2022 IR 203", "\x1b-b\xa4", "\xe2\x82\xac"},        /* € */
        {"ISO 2022 IR 13", "\x1b)I\xb1", "\xef\xbd\xb1"},         /* ｱ */
        {"ISO 2022 IR 13", "\x1b(J~", "\xe2\x80\xbe"},            /* ‾ */
        {"\\ISO 2022 IR 87", "\x1b$B;3\x1b(B", "\xe5\xb1\xb1"},   /* 山 */
        {"\\ISO 2022 IR 159", "\x1b$(Dl?\x1b(B", "\xe9\xb7\x97"}, /* 鷗 */
        {"\\ISO 2022 IR 149", "\x1b$)C\xb1\xe8", "\xea\xb9\x80"}, /* 김 */
        {"\\ISO 2022 IR 58", "\x1b$)A\xcd\xf5", "\xe7\x8e\x8b"},  /* 王 */
        {"ISO 2022 IR 6\\ISO 2022 IR 100", "\x1b-A\xe9\x1b(Bx", "\xc3\xa9x"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        assert_string_equal(dec(cases[i].term, "LO", cases[i].bytes, strlen(cases[i].bytes)),
                            cases[i].utf8);
    }
}

/* The single-byte sets without code extensions, as value 1. */
static void test_single_byte_sets(void **state)
{
    (void)state;
    assert_string_equal(DEC("ISO_IR 100", "PN", "Buc^J\xe9r\xf4me"), "Buc^J\xc3\xa9r\xc3\xb4me");
    assert_string_equal(DEC("iso-ir 144", "LO", "\xbb"), "\xd0\x9b"); /* spelling tolerated */
    assert_string_equal(DEC("ISO_IR 13", "PN", "\xd4\xcf\xc0\xde^\xc0\xdb\xb3"),
                        "\xef\xbe\x94\xef\xbe\x8f\xef\xbe\x80\xef\xbe\x9e^"
                        "\xef\xbe\x80\xef\xbe\x9b\xef\xbd\xb3"); /* ﾔﾏﾀﾞ^ﾀﾛｳ */
    assert_string_equal(DEC("", "LO", "plain"), "plain");
    assert_string_equal(DEC(NULL, "LO", "plain"), "plain");
}

/* PS3.5 6.1.2.5.3: the sets of value 1 are active again after each delimiter of the VR. */
static void test_reset_at_delimiters(void **state)
{
    (void)state;
    /* G1 designated by ESC $ ) C ends at '^': the next high bytes have no set. */
    REFUSED("\\ISO 2022 IR 149", "PN", "\x1b$)C\xb1\xe8^\xb1\xe8", "no set designated to G1");
    /* ... and at '=', and at '\' between values; written again, they decode. */
    assert_string_equal(DEC("\\ISO 2022 IR 149", "PN", "\x1b$)C\xb1\xe8=\x1b$)C\xb1\xe8"),
                        "\xea\xb9\x80=\xea\xb9\x80");
    REFUSED("\\ISO 2022 IR 149", "LO", "\x1b$)C\xb1\xe8\\\xb1\xe8", "no set designated to G1");
    /* In LT, '^' and '\' are text: the set stays; CR LF ends it there too. */
    assert_string_equal(DEC("\\ISO 2022 IR 149", "LT", "\x1b$)C\xb1\xe8^\\\xb1\xe8"),
                        "\xea\xb9\x80^\\\xea\xb9\x80");
    REFUSED("\\ISO 2022 IR 149", "LT", "\x1b$)C\xb1\xe8\r\n\xb1\xe8", "no set designated to G1");
    /* With value 1's own G1 (here taken leniently), what the reset restores is that set. */
    assert_string_equal(DEC("ISO 2022 IR 149", "PN", "\xb1\xe8^\xb1\xe8"),
                        "\xea\xb9\x80^\xea\xb9\x80");
    /* A G0 switch to JIS X 0208 ends at the delimiter's reset too. */
    assert_string_equal(DEC("\\ISO 2022 IR 87", "PN", "\x1b$B;3ED\x1b(B^x"),
                        "\xe5\xb1\xb1\xe7\x94\xb0^x");
    /* Inside a two-byte G0 set, 0x5C '\', 0x5E '^' and 0x3D '=' are halves of characters. */
    assert_string_equal(DEC("\\ISO 2022 IR 87", "LO", "\x1b$B!\\\x1b(B"), "\xef\xbc\x8b");
    /* ISO-IR 14 (value 1 of ISO 2022 IR 13): 0x5C separates values, but is YEN SIGN in text. */
    assert_string_equal(DEC("ISO 2022 IR 13", "LO", "a\\b"), "a\\b");
    assert_string_equal(DEC("ISO 2022 IR 13", "LT", "a\\b"), "a\xc2\xa5"
                                                             "b");
    /* A space in a two-byte G0 set is a space. */
    assert_string_equal(DEC("\\ISO 2022 IR 87", "LT", "\x1b$B;3 ED\x1b(B"),
                        "\xe5\xb1\xb1 \xe7\x94\xb0");
}

/* ISO_IR 192, GB18030 and GBK: whole values, whose second bytes may be 0x5C. */
static void test_whole_value_sets(void **state)
{
    (void)state;
    assert_string_equal(DEC("ISO_IR 192", "PN", "Nguy\xe1\xbb\x85n^Th\xe1\xbb\x8b"),
                        "Nguy\xe1\xbb\x85n^Th\xe1\xbb\x8b");
    assert_string_equal(DEC("GB18030", "PN", "Wang^XiaoDong=\xcd\xf5^\xd0\xa1\xb6\xab="),
                        "Wang^XiaoDong=\xe7\x8e\x8b^\xe5\xb0\x8f\xe4\xb8\x9c=");
    assert_string_equal(DEC("GBK", "LO", "\x81\\\\x"), "\xe4\xb9\x97\\x"); /* 乗, then '\' */
    assert_string_equal(DEC("GB18030", "LO", "\x81\x30\x81\x30"), "\xc2\x80");
    REFUSED("ISO_IR 192", "LO", "bad \xc3(", "ISO_IR 192");
    REFUSED("GB18030", "LO", "\x81", "GB18030");
}

static void test_what_cannot_be_decoded(void **state)
{
    (void)state;
    REFUSED("\\ISO 2022 IR 87", "PN", "\x1b(Zx", "escape sequence DICOM does not define at byte 1");
    REFUSED("\\ISO 2022 IR 87", "PN", "ab\x1b$", "escape sequence");
    REFUSED("\\ISO 2022 IR 87", "PN", "\x1b$B;", "half a two-byte character of ISO-IR 87");
    REFUSED("", "LO", "caf\xe9", "byte 0xE9 at 4, and no set designated to G1");
    REFUSED("ISO 2022 IR 13", "LO", "\xe0", "not in ISO-IR 13");
    REFUSED("\\ISO 2022 IR 149", "LO", "\x1b$)C\xb1", "half a two-byte character of ISO-IR 149");
    REFUSED("\\ISO 2022 IR 87", "LO", "\x1b$B)!", "a code not in ISO-IR 87 at byte 4"); /* row 9 */
    /* The position is the value's, and the byte too, though 0212 goes to iconv as 3 bytes. */
    REFUSED("\\ISO 2022 IR 159", "LO", "\x1b$(Dl?!!", "a code not in ISO-IR 159 at byte 7 (0x21)");
    pacs_charset *cs = NULL;
    pacs_errinfo ei;
    assert_int_equal(pacs_charset_open("ISO_IR 999", &cs, &ei), PACS_EUNSUPPORTED);
    assert_non_null(strstr(ei.msg, "ISO_IR 999"));
    /* An unknown extension is left out; the known ones still work. */
    assert_string_equal(DEC("\\ISO 2022 IR 999\\ISO 2022 IR 87", "LO", "\x1b$B;3\x1b(B"),
                        "\xe5\xb1\xb1");
}

static const char *samples(void)
{
    const char *s = getenv("SAMPLES");
    return s && *s ? s : "/usr/lib/python3/dist-packages/pydicom/data";
}

/* The text of a top-level attribute's value `i` in DICOM JSON (PN: the group named `group`). */
static const char *value_of(json_t *j, const char *key, size_t i, const char *group)
{
    json_t *v = json_array_get(json_object_get(json_object_get(j, key), "Value"), i);
    if (group) {
        v = json_object_get(v, group);
    }
    return json_string_value(v);
}

/* pydicom's samples, parsed as ingest parses them: the names pydicom's test suite expects. */
static void test_pydicom_samples(void **state)
{
    (void)state;
    static const struct {
        const char *file, *alphabetic, *ideographic, *phonetic;
    } names[] = {
        {"chrH31", "Yamada^Tarou", "山田^太郎", "やまだ^たろう"},
        {"chrH32", "ﾔﾏﾀﾞ^ﾀﾛｳ", "山田^太郎", "やまだ^たろう"},
        {"chrI2", "Hong^Gildong", "洪^吉洞", "홍^길동"},
        {"chrJapMulti", "やまだ^たろう", NULL, NULL},
        {"chrJapMultiExplicitIR6", "やまだ^たろう", NULL, NULL},
        {"chrKoreanMulti", "김희중", NULL, NULL},
        {"chrX1", "Wang^XiaoDong", "王^小東", NULL},
        {"chrX2", "Wang^XiaoDong", "王^小东", NULL},
        {"chrArab", "قباني^لنزار", NULL, NULL},
        {"chrFren", "Buc^Jérôme", NULL, NULL},
        {"chrGerm", "Äneas^Rüdiger", NULL, NULL},
        {"chrGreek", "Διονυσιος", NULL, NULL},
        {"chrHbrw", "שרון^דבורה", NULL, NULL},
        {"chrRuss", "Люкceмбypг", NULL, NULL},
    };
    char dir[] = "/tmp/pacs-charset-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char copy[512];
    snprintf(copy, sizeof copy, "%s/copy.dcm", dir);
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s/charset_files/%s.dcm", samples(), names[i].file);
        assert_int_equal(access(path, R_OK), 0);
        /* Written again with a meta header made from the dataset, as ingest writes objects
         * (chrJapMulti's own header names another SOP Instance UID than its dataset). */
        pacs_ds *ds = NULL;
        pacs_errinfo ei;
        assert_int_equal(pacs_ds_load_file(path, &ds, &ei), PACS_OK);
        assert_int_equal(pacs_ds_save_file(ds, copy, "1.2.840.10008.1.2.1", &ei), PACS_OK);
        pacs_ds_free(ds);
        pacs_dcm_parsed p;
        pacs_err err = pacs_dcm_parse_file(copy, &p, &ei);
        if (err != PACS_OK) {
            fprintf(stderr, "%s: %s\n", names[i].file, ei.msg);
        }
        assert_int_equal(err, PACS_OK);
        assert_false(p.charset_warning);
        assert_string_equal(value_of(p.json, "00100010", 0, "Alphabetic"), names[i].alphabetic);
        if (names[i].ideographic) {
            assert_string_equal(value_of(p.json, "00100010", 0, "Ideographic"),
                                names[i].ideographic);
        }
        if (names[i].phonetic) {
            assert_string_equal(value_of(p.json, "00100010", 0, "Phonetic"), names[i].phonetic);
        }
        assert_string_equal(value_of(p.json, "00080005", 0, NULL), "ISO_IR 192");
        if (strcmp(names[i].file, "chrJapMulti") == 0) {
            /* A multi-valued PN and an LT, each value decoded on its own. */
            assert_string_equal(value_of(p.json, "00101001", 1, "Alphabetic"), "やまだ^たろう");
            assert_string_equal(value_of(p.json, "001021B0", 0, NULL), "たろう");
        }
        if (strcmp(names[i].file, "chrKoreanMulti") == 0) {
            assert_string_equal(value_of(p.json, "00081070", 0, "Alphabetic"), "김희중");
            assert_string_equal(value_of(p.json, "001021B0", 0, NULL), "김희중");
        }
        pacs_dcm_parsed_clear(&p);
    }
    unlink(copy);
    rmdir(dir);
}

/* A value that cannot be decoded is kept as its bytes, and ingest says so; others decode. */
static void test_undecodable_kept(void **state)
{
    (void)state;
    char dir[] = "/tmp/pacs-charset-XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[512];
    snprintf(path, sizeof path, "%s/bad.dcm", dir);
    pacs_ds *ds = pacs_ds_new();
    assert_non_null(ds);
    assert_int_equal(pacs_ds_put_string(ds, 0x00080016, "1.2.840.10008.5.1.4.1.1.7", NULL),
                     PACS_OK);
    assert_int_equal(pacs_ds_put_string(ds, 0x00080018, "1.2.3.4.5.6", NULL), PACS_OK);
    assert_int_equal(pacs_ds_put_string(ds, 0x0020000D, "1.2.3.4", NULL), PACS_OK);
    assert_int_equal(pacs_ds_put_string(ds, 0x0020000E, "1.2.3.4.5", NULL), PACS_OK);
    assert_int_equal(pacs_ds_put_string(ds, 0x00080005, "\\ISO 2022 IR 87", NULL), PACS_OK);
    assert_int_equal(pacs_ds_put_string(ds, 0x00100010, "\x1b$B;3ED\x1b(Z", NULL), PACS_OK);
    assert_int_equal(pacs_ds_put_string(ds, 0x00081030, "\x1b$B;3\x1b(B", NULL), PACS_OK);
    assert_int_equal(pacs_ds_save_file(ds, path, "1.2.840.10008.1.2.1", NULL), PACS_OK);
    pacs_ds_free(ds);
    pacs_dcm_parsed p;
    assert_int_equal(pacs_dcm_parse_file(path, &p, NULL), PACS_OK);
    assert_true(p.charset_warning);
    assert_string_equal(value_of(p.json, "00100010", 0, "Alphabetic"), "\x1b$B;3ED\x1b(Z");
    assert_string_equal(value_of(p.json, "00081030", 0, NULL), "\xe5\xb1\xb1");
    pacs_dcm_parsed_clear(&p);
    unlink(path);
    rmdir(dir);
}

/* A C-FIND identifier in ISO 2022 IR 87 becomes a UTF-8 query. */
static void test_identifier(void **state)
{
    (void)state;
    pacs_ds *ds = pacs_ds_new();
    assert_non_null(ds);
    assert_int_equal(pacs_ds_put_string(ds, 0x00080005, "\\ISO 2022 IR 87", NULL), PACS_OK);
    assert_int_equal(pacs_ds_put_string(ds, 0x00100010, "*\x1b$B;3ED\x1b(B^*", NULL), PACS_OK);
    json_t *j = NULL;
    assert_int_equal(pacs_ds_to_json(ds, &j, NULL), PACS_OK);
    assert_string_equal(value_of(j, "00100010", 0, "Alphabetic"), "*山田^*");
    json_decref(j);
    pacs_ds_free(ds);
}

static int setup(void **state)
{
    (void)state;
    pacs_errinfo ei;
    return pacs_dcm_init(&ei) == PACS_OK ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_each_escape_sequence),   cmocka_unit_test(test_single_byte_sets),
        cmocka_unit_test(test_reset_at_delimiters),    cmocka_unit_test(test_whole_value_sets),
        cmocka_unit_test(test_what_cannot_be_decoded), cmocka_unit_test(test_pydicom_samples),
        cmocka_unit_test(test_undecodable_kept),       cmocka_unit_test(test_identifier),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
