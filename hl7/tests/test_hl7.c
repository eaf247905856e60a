// SPDX-License-Identifier: MIT
/* Table tests for the HL7 v2 parser (hl7.h), the ACK builder (ack.h) and MLLP framing
 * (mllp.h): values, repetitions, components, escapes, separators, character sets, refusals
 * with their table 0357 codes and locations, ACK text, and frames however the bytes arrive. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "hl7/ack.h"
#include "hl7/hl7.h"
#include "hl7/mllp.h"

static pacs_hl7_msg *parse_ok(const char *text, pacs_hl7_charset dcs)
{
    pacs_hl7_msg *m = NULL;
    pacs_hl7_error err;
    pacs_err e = pacs_hl7_parse(text, strlen(text), dcs, &m, &err);
    if (e != PACS_OK) {
        print_error("parse failed: %d %s\n", err.code, err.text);
    }
    assert_int_equal(e, PACS_OK);
    return m;
}

/* The value at seg-id/field/rep/comp/sub. */
static const char *val(const pacs_hl7_msg *m, const char *id, unsigned f, unsigned r, unsigned c,
                       unsigned s)
{
    static char v[1024];
    long i = pacs_hl7_find(m, id, 0);
    assert_true(i >= 0);
    assert_int_equal(pacs_hl7_get(m, (size_t)i, f, r, c, s, v, sizeof v), PACS_OK);
    return v;
}

#define ADT                                                                                        \
    "MSH|^~\\&|HIS|BVTINH|PACS|BVTINH|20240105083000||ADT^A01^ADT_A01|ADT0001|P|2.5.1|||||VNM|"    \
    "UNICODE UTF-8\r"                                                                              \
    "EVN|A01|20240105083000\r"                                                                     \
    "PID|1||BN0001^^^BVTINH^MR~DN4010123456789^^^BHXH^HI||Nguy\xe1\xbb\x85n^V\xc4\x83n "           \
    "An||19800215|M\r"

static void test_values(void **state)
{
    (void)state;
    pacs_hl7_msg *m = parse_ok(ADT, PACS_HL7_ASCII);
    assert_int_equal(pacs_hl7_segment_count(m), 3);
    assert_string_equal(pacs_hl7_segment_id(m, 2), "PID");
    assert_int_equal(pacs_hl7_msg_charset(m), PACS_HL7_UTF8);
    static const struct {
        const char *seg;
        unsigned f, r, c, s;
        const char *want;
    } cases[] = {
        {"MSH", 1, 1, 1, 1, "|"},
        {"MSH", 2, 1, 1, 1, "^~\\&"},
        {"MSH", 3, 1, 1, 1, "HIS"},
        {"MSH", 9, 1, 1, 1, "ADT"},
        {"MSH", 9, 1, 2, 1, "A01"},
        {"MSH", 9, 1, 3, 1, "ADT_A01"},
        {"MSH", 10, 1, 1, 1, "ADT0001"},
        {"MSH", 18, 1, 1, 1, "UNICODE UTF-8"},
        {"MSH", 19, 1, 1, 1, ""},
        {"PID", 3, 1, 1, 1, "BN0001"},
        {"PID", 3, 1, 4, 1, "BVTINH"},
        {"PID", 3, 1, 5, 1, "MR"},
        {"PID", 3, 2, 1, 1, "DN4010123456789"},
        {"PID", 3, 2, 4, 1, "BHXH"},
        {"PID", 3, 3, 1, 1, ""},
        {"PID", 5, 1, 1, 1, "Nguy\xe1\xbb\x85n"},
        {"PID", 5, 1, 2, 1, "V\xc4\x83n An"},
        {"PID", 7, 1, 1, 1, "19800215"},
        {"PID", 40, 1, 1, 1, ""},
        {"EVN", 1, 1, 1, 1, "A01"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *got = val(m, cases[i].seg, cases[i].f, cases[i].r, cases[i].c, cases[i].s);
        if (strcmp(got, cases[i].want) != 0) {
            print_error("%s-%u.%u.%u.%u: '%s' != '%s'\n", cases[i].seg, cases[i].f, cases[i].r,
                        cases[i].c, cases[i].s, got, cases[i].want);
            fail();
        }
    }
    assert_int_equal(pacs_hl7_reps(m, 2, 3), 2);
    assert_int_equal(pacs_hl7_reps(m, 2, 4), 0);
    assert_int_equal(pacs_hl7_reps(m, 0, 2), 1);
    char small[4];
    assert_int_equal(pacs_hl7_get(m, 2, 5, 1, 1, 1, small, sizeof small), PACS_ETOOBIG);
    assert_int_equal(pacs_hl7_find(m, "OBR", 0), -1);
    pacs_hl7_free(m);
}

static void test_escapes(void **state)
{
    (void)state;
    static const struct {
        const char *raw, *want;
    } cases[] = {
        {"a\\F\\b", "a|b"},
        {"\\S\\\\T\\\\R\\\\E\\", "^&~\\"},
        {"\\X41\\", "A"},
        {"O\\XC3A9\\", "O\xc3\xa9"},
        {"line1\\.br\\line2", "line1\nline2"},
        {"\\.sp2\\x", "\nx"},
        {"\\H\\bold\\N\\", "bold"},
        {"\\Zlocal\\x\\.in+4\\y", "xy"},
        {"open\\F", "open\\F"},
        {"\\Q\\", "\\Q\\"},
        {"\\XZZ\\", "\\XZZ\\"},
        {"\"\"", "\"\""},
        {"a&b", "a"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char text[256];
        snprintf(text, sizeof text, "MSH|^~\\&|A|B|C|D|2024||ADT^A08|E%zu|P|2.5\rNTE|1||%s\r", i,
                 cases[i].raw);
        pacs_hl7_msg *m = parse_ok(text, PACS_HL7_UTF8);
        const char *got = val(m, "NTE", 3, 1, 1, 1);
        if (strcmp(got, cases[i].want) != 0) {
            print_error("'%s' gave '%s', not '%s'\n", cases[i].raw, got, cases[i].want);
            fail();
        }
        pacs_hl7_free(m);
    }
    pacs_hl7_msg *m =
        parse_ok("MSH|^~\\&|A|B|C|D|2024||ADT^A08|N|P|2.5\rPID|1||\"\"\r", PACS_HL7_UTF8);
    assert_true(pacs_hl7_is_null(val(m, "PID", 3, 1, 1, 1)));
    pacs_hl7_free(m);
    /* Escapes that make bytes the message's set cannot hold are refused, not passed on. */
    m = parse_ok("MSH|^~\\&|A|B|C|D|2024||ADT^A08|X|P|2.5\rNTE|1||\\XC3\\\r", PACS_HL7_UTF8);
    char v[64];
    assert_int_equal(pacs_hl7_get(m, 1, 3, 1, 1, 1, v, sizeof v), PACS_EBADDATA);
    pacs_hl7_free(m);
}

static void test_separators(void **state)
{
    (void)state;
    /* Other separators: field *, component !, repetition $, escape \, subcomponent %. */
    pacs_hl7_msg *m = parse_ok("MSH*!$\\%*HIS*H*PACS*H*20240105**ADT!A40*C1*P*2.5\r"
                               "PID*1**NEW!!!H!MR$X%Y\rMRG*OLD\\F\\1!!!H!MR\r",
                               PACS_HL7_UTF8);
    assert_string_equal(val(m, "MSH", 1, 1, 1, 1), "*");
    assert_string_equal(val(m, "MSH", 2, 1, 1, 1), "!$\\%");
    assert_string_equal(val(m, "MSH", 9, 1, 2, 1), "A40");
    assert_string_equal(val(m, "PID", 3, 1, 4, 1), "H");
    assert_string_equal(val(m, "PID", 3, 2, 1, 2), "Y");
    assert_string_equal(val(m, "MRG", 1, 1, 1, 1), "OLD*1");
    pacs_hl7_free(m);
    /* LF and CR LF end segments too; empty lines are skipped. */
    m = parse_ok("MSH|^~\\&|A|B|C|D|1||ADT^A04|LF|P|2.5\nPID|1||Z1\r\n\r\nPV1|1|O\n",
                 PACS_HL7_UTF8);
    assert_int_equal(pacs_hl7_segment_count(m), 3);
    assert_string_equal(val(m, "PV1", 2, 1, 1, 1), "O");
    pacs_hl7_free(m);
    /* v2.7's fifth encoding character (truncation) is accepted. */
    m = parse_ok("MSH|^~\\&#|A|B|C|D|1||ADT^A04|T|P|2.7\r", PACS_HL7_UTF8);
    assert_string_equal(val(m, "MSH", 3, 1, 1, 1), "A");
    pacs_hl7_free(m);
}

static void test_charsets(void **state)
{
    (void)state;
    pacs_hl7_msg *m = parse_ok("MSH|^~\\&|A|B|C|D|1||ADT^A08|L|P|2.4||||||8859/1\r"
                               "PID|1||X||M\xfcller^Jos\xe9\r",
                               PACS_HL7_UTF8);
    assert_string_equal(val(m, "PID", 5, 1, 1, 1), "M\xc3\xbcller");
    assert_string_equal(val(m, "PID", 5, 1, 2, 1), "Jos\xc3\xa9");
    pacs_hl7_free(m);
    /* An empty MSH-18 takes the caller's default. */
    const char *bare = "MSH|^~\\&|A|B|C|D|1||ADT^A08|L|P|2.4\rPID|1||X||Jos\xe9\r";
    m = parse_ok(bare, PACS_HL7_LATIN1);
    assert_string_equal(val(m, "PID", 5, 1, 1, 1), "Jos\xc3\xa9");
    pacs_hl7_free(m);
    assert_int_equal(pacs_hl7_charset_parse("UNICODE UTF-8"), PACS_HL7_UTF8);
    assert_int_equal(pacs_hl7_charset_parse("8859/1"), PACS_HL7_LATIN1);
    assert_int_equal(pacs_hl7_charset_parse("ASCII"), PACS_HL7_ASCII);
    assert_int_equal(pacs_hl7_charset_parse("ISO IR87"), -1);
}

/* Refusals: code, segment and field of the ERR they make. */
static void test_refusals(void **state)
{
    (void)state;
    static const struct {
        const char *text;
        size_t len; /* 0: strlen */
        int code;
        const char *seg;
        unsigned field;
    } cases[] = {
        {"PID|1||X\r", 0, PACS_HL7_E_SEGMENT_SEQUENCE, "MSH", 0},
        {"", 0, PACS_HL7_E_SEGMENT_SEQUENCE, "MSH", 0},
        {"MSH", 0, PACS_HL7_E_DATA_TYPE, "MSH", 2},
        {"MSH|^^\\&|A\r", 0, PACS_HL7_E_DATA_TYPE, "MSH", 2},
        {"MSH|^~\\|A\r", 0, PACS_HL7_E_DATA_TYPE, "MSH", 2},
        {"MSHA^~\\&A\r", 0, PACS_HL7_E_DATA_TYPE, "MSH", 2},
        {"MSH|^~\\&|A|B|C|D|1||^A01|C|P|2.5\r", 0, PACS_HL7_E_REQUIRED_MISSING, "MSH", 9},
        {"MSH|^~\\&|A|B|C|D|1||ADT^A01||P|2.5\r", 0, PACS_HL7_E_REQUIRED_MISSING, "MSH", 10},
        {"MSH|^~\\&|A|B|C|D|1||ADT^A01|C|P|2.5||||||ISO IR87\r", 0, PACS_HL7_E_TABLE_VALUE, "MSH",
         18},
        {"MSH|^~\\&|A|B|C|D|1||ADT^A01|C|P|2.5||||||ASCII\rPID|1||Jos\xe9\r", 0,
         PACS_HL7_E_DATA_TYPE, "MSH", 18},
        {"MSH|^~\\&|A|B|C|D|1||ADT^A01|C|P|2.5\rPID|1||Jos\xe9\r", 0, PACS_HL7_E_DATA_TYPE, "MSH",
         18},
        {"MSH|^~\\&|A|B|C|D|1||ADT^A01|C|P|2.5\rPID|1||\xed\xa0\x80\r", 0, PACS_HL7_E_DATA_TYPE,
         "MSH", 18},
        {"MSH|^~\\&|A|B|C|D|1||ADT^A01|C|P|2.5\rPID|1||A\0B\r", 47, PACS_HL7_E_DATA_TYPE, "", 0},
        {"MSH|^~\\&|A|B|C|D|1||ADT^A01|C|P|2.5\rpid|1\r", 0, PACS_HL7_E_SEGMENT_SEQUENCE, "", 0},
        {"MSH|^~\\&|A|B|C|D|1||ADT^A01|C|P|2.5\rPIDX|1\r", 0, PACS_HL7_E_SEGMENT_SEQUENCE, "", 0},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        pacs_hl7_msg *m = NULL;
        pacs_hl7_error err;
        size_t len = cases[i].len ? cases[i].len : strlen(cases[i].text);
        pacs_err e = pacs_hl7_parse(cases[i].text, len, PACS_HL7_UTF8, &m, &err);
        if (e != PACS_EBADDATA || err.code != cases[i].code || strcmp(err.seg, cases[i].seg) != 0 ||
            err.field != cases[i].field) {
            print_error("case %zu: e=%d code=%d at %s-%u (%s)\n", i, e, err.code, err.seg,
                        err.field, err.text);
            fail();
        }
        assert_null(m);
        assert_true(err.text[0] != '\0');
    }
}

static void test_header(void **state)
{
    (void)state;
    pacs_hl7_header h;
    pacs_hl7_header_read(ADT, 60, &h); /* cut inside MSH: what is there is read */
    assert_true(h.found);
    assert_string_equal(h.sending_app, "HIS");
    assert_string_equal(h.receiving_facility, "BVTINH");
    pacs_hl7_header_read(ADT, strlen(ADT), &h);
    assert_string_equal(h.message_type, "ADT");
    assert_string_equal(h.trigger, "A01");
    assert_string_equal(h.control_id, "ADT0001");
    assert_string_equal(h.version, "2.5.1");
    assert_string_equal(h.charset, "UNICODE UTF-8");
    pacs_hl7_header_read("PID|1", 5, &h);
    assert_false(h.found);
    assert_string_equal(h.control_id, "");
}

static void test_escape_writer(void **state)
{
    (void)state;
    pacs_buf b;
    pacs_buf_init(&b, 1024);
    assert_int_equal(pacs_hl7_escape(&b, "a|b^c~d\\e&f\r\ng\x01h", PACS_HL7_UTF8), PACS_OK);
    assert_string_equal(b.data, "a\\F\\b\\S\\c\\R\\d\\E\\e\\T\\f\\.br\\gh");
    pacs_buf_reset(&b);
    assert_int_equal(pacs_hl7_escape(&b, "Nguy\xe1\xbb\x85n Jos\xc3\xa9", PACS_HL7_LATIN1),
                     PACS_OK);
    assert_string_equal(b.data, "Nguy?n Jos\xe9");
    pacs_buf_reset(&b);
    assert_int_equal(pacs_hl7_escape(&b, "Jos\xc3\xa9\xff", PACS_HL7_ASCII), PACS_OK);
    assert_string_equal(b.data, "Jos??");
    pacs_buf_free(&b);
}

static void test_ack(void **state)
{
    (void)state;
    pacs_hl7_header h;
    pacs_hl7_header_read(ADT, strlen(ADT), &h);
    pacs_buf b;
    pacs_buf_init(&b, 4096);
    assert_int_equal(pacs_hl7_ack_build(&h, PACS_HL7_AA, NULL, "ID1", "20240105083001", &b),
                     PACS_OK);
    assert_string_equal(b.data,
                        "MSH|^~\\&|PACS|BVTINH|HIS|BVTINH|20240105083001||ACK^A01^ACK|ID1|P|2.5.1"
                        "||||||UNICODE UTF-8\rMSA|AA|ADT0001\r");
    pacs_buf_reset(&b);
    pacs_hl7_error e = {.code = PACS_HL7_E_REQUIRED_MISSING,
                        .seg = "PID",
                        .seq = 1,
                        .field = 3,
                        .comp = 1,
                        .text = "PID-3 | missing"};
    assert_int_equal(pacs_hl7_ack_build(&h, PACS_HL7_AE, &e, "ID2", "20240105083001", &b), PACS_OK);
    assert_non_null(strstr(b.data, "\rMSA|AE|ADT0001|PID-3 \\F\\ missing\r"));
    assert_non_null(strstr(b.data, "\rERR||PID^1^3^1^1|101^Required field missing^HL70357|E||||"
                                   "PID-3 \\F\\ missing\r"));
    /* The ACK itself parses, and says what it answers. */
    pacs_hl7_msg *m = parse_ok(b.data, PACS_HL7_ASCII);
    assert_string_equal(val(m, "MSA", 1, 1, 1, 1), "AE");
    assert_string_equal(val(m, "ERR", 2, 1, 1, 1), "PID");
    assert_string_equal(val(m, "ERR", 3, 1, 1, 1), "101");
    pacs_hl7_free(m);
    /* Before v2.5, ERR-1 carries the location and code too; the charset is echoed. */
    pacs_hl7_header_read("MSH|^~\\&|A|B|C|D|1||ORM^O01|Z9|P|2.3.1||||||8859/1\r", 60, &h);
    pacs_buf_reset(&b);
    pacs_hl7_error e2 = {.code = PACS_HL7_E_UNKNOWN_KEY, .seg = "PID", .field = 3, .text = "?"};
    assert_int_equal(pacs_hl7_ack_build(&h, PACS_HL7_AE, &e2, "ID3", "1", &b), PACS_OK);
    assert_non_null(strstr(b.data, "|ACK^O01^ACK|ID3|P|2.3.1||||||8859/1\r"));
    assert_non_null(strstr(b.data, "\rERR|PID^1^3^204&Unknown key identifier&HL70357|PID^1^3|"));
    /* A message that was not HL7 at all still gets an answer, with an empty MSA-2. */
    pacs_hl7_header_read("garbage", 7, &h);
    pacs_buf_reset(&b);
    pacs_hl7_error e3 = {.code = PACS_HL7_E_SEGMENT_SEQUENCE, .seg = "MSH", .text = "no MSH"};
    assert_int_equal(pacs_hl7_ack_build(&h, PACS_HL7_AR, &e3, "ID4", "1", &b), PACS_OK);
    assert_non_null(strstr(b.data, "|ACK|ID4|P|2.5.1||||||\rMSA|AR||no MSH\r"));
    pacs_buf_free(&b);
}

/* Feeds `data` in pieces of `step` bytes; returns the frames, joined by '#'. */
static const char *deframe(const char *data, size_t len, size_t step, size_t max, int *bad)
{
    static char out[8192];
    out[0] = '\0';
    *bad = 0;
    pacs_mllp_reader r;
    pacs_mllp_init(&r, max);
    for (size_t off = 0; off < len;) {
        size_t n = step < len - off ? step : len - off;
        size_t fed = 0;
        while (fed < n) {
            size_t used = 0;
            pacs_err e = pacs_mllp_feed(&r, data + off + fed, n - fed, &used);
            fed += used;
            if (e == PACS_OK) {
                char one[4200];
                snprintf(one, sizeof one, "%s%.*s%s", out[0] ? "#" : "", (int)r.len, r.buf,
                         r.oversize ? "(oversize)" : "");
                strncat(out, one, sizeof out - strlen(out) - 1);
                pacs_mllp_next(&r);
            } else if (e == PACS_EBADDATA) {
                *bad = 1;
                pacs_mllp_free(&r);
                return out;
            } else {
                assert_int_equal(e, PACS_EAGAIN);
            }
        }
        off += n;
    }
    pacs_mllp_free(&r);
    return out;
}

static void test_mllp(void **state)
{
    (void)state;
    static const struct {
        const char *data;
        const char *want;
        int bad;
    } cases[] = {
        {"\x0b"
         "A\x1c\r",
         "A", 0},
        {"\x0b"
         "A\x1c\r\r\n\x0b"
         "B\rC\x1c\r",
         "A#B\rC", 0},
        {"\x0b"
         "A\x1c\x0b"
         "B\x1c\r",
         "A#B", 0}, /* FS without CR */
        {"\x0b"
         "par\x0b"
         "A\x1c\r",
         "A", 0}, /* VT restarts */
        {"\x0b"
         "A",
         "", 0},                       /* incomplete */
        {"GET / HTTP/1.1\r\n", "", 1}, /* not MLLP */
        {"\x0b"
         "A\x1c\rjunk",
         "A", 1},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        for (size_t step = 1; step <= 3; step += 2) {
            int bad = 0;
            const char *got = deframe(cases[i].data, strlen(cases[i].data), step, 64, &bad);
            if (strcmp(got, cases[i].want) != 0 || bad != cases[i].bad) {
                print_error("case %zu step %zu: '%s' bad=%d\n", i, step, got, bad);
                fail();
            }
        }
    }
    /* Oversize: the head is kept, the total counted, and the next frame is read normally. */
    char big[6000];
    big[0] = 0x0b;
    memset(big + 1, 'x', 5000);
    memcpy(big + 5001, "\x1c\r\x0bok\x1c\r", 7);
    pacs_mllp_reader r;
    pacs_mllp_init(&r, 100);
    size_t used = 0;
    assert_int_equal(pacs_mllp_feed(&r, big, 5008, &used), PACS_OK);
    assert_int_equal(used, 5003);
    assert_true(r.oversize);
    assert_int_equal(r.total, 5000);
    assert_int_equal(r.len, PACS_MLLP_HEAD);
    pacs_mllp_next(&r);
    size_t used2 = 0;
    assert_int_equal(pacs_mllp_feed(&r, big + used, 5008 - used, &used2), PACS_OK);
    assert_false(r.oversize);
    assert_string_equal(r.buf, "ok");
    pacs_mllp_free(&r);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_values),        cmocka_unit_test(test_escapes),
        cmocka_unit_test(test_separators),    cmocka_unit_test(test_charsets),
        cmocka_unit_test(test_refusals),      cmocka_unit_test(test_header),
        cmocka_unit_test(test_escape_writer), cmocka_unit_test(test_ack),
        cmocka_unit_test(test_mllp),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
