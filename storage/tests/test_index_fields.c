// SPDX-License-Identifier: MIT
/*
 * Unit tests of the stored metadata's compression (index_sql.h: pacs_index__compress_json and
 * pacs_index__decompress). A frame names the metadata dictionary and comes back as the text
 * pacs_json_write makes; frames written before the dictionary (plain zstd) still read; a frame
 * naming another dictionary, or cut short, is refused as corrupt; and the dictionary earns its
 * place: a CT instance it was not trained on (metadata_dict/README.md) compresses to less than
 * 80% of what zstd makes of the same text alone.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <zstd.h>

#include "pacs/base/buf.h"
#include "pacs/dicom/json_write.h"
#include "storage/index_sql.h"

extern const unsigned char pacs_index__metadata_dict[];
extern const size_t pacs_index__metadata_dict_len;

enum { DICT_ID = 1346454355 };

/* A CT slice's attributes as a modality of a Vietnamese hospital sends them: not one of the
 * files the dictionary was trained on. */
static const char ct[] =
    "{\"00080005\":{\"vr\":\"CS\",\"Value\":[\"ISO_IR 192\"]},"
    "\"00080008\":{\"vr\":\"CS\",\"Value\":[\"ORIGINAL\",\"PRIMARY\",\"AXIAL\"]},"
    "\"00080016\":{\"vr\":\"UI\",\"Value\":[\"1.2.840.10008.5.1.4.1.1.2\"]},"
    "\"00080018\":{\"vr\":\"UI\",\"Value\":[\"1.2.392.200036.9116.2.6.1.48.1214245415.1700641.77\"]"
    "},"
    "\"00080020\":{\"vr\":\"DA\",\"Value\":[\"20261203\"]},"
    "\"00080021\":{\"vr\":\"DA\",\"Value\":[\"20261203\"]},"
    "\"00080022\":{\"vr\":\"DA\",\"Value\":[\"20261203\"]},"
    "\"00080023\":{\"vr\":\"DA\",\"Value\":[\"20261203\"]},"
    "\"00080030\":{\"vr\":\"TM\",\"Value\":[\"084512\"]},"
    "\"00080031\":{\"vr\":\"TM\",\"Value\":[\"084733.512\"]},"
    "\"00080032\":{\"vr\":\"TM\",\"Value\":[\"084801.220\"]},"
    "\"00080033\":{\"vr\":\"TM\",\"Value\":[\"084801.220\"]},"
    "\"00080050\":{\"vr\":\"SH\",\"Value\":[\"CT2612030041\"]},"
    "\"00080060\":{\"vr\":\"CS\",\"Value\":[\"CT\"]},"
    "\"00080070\":{\"vr\":\"LO\",\"Value\":[\"TOSHIBA\"]},"
    "\"00080080\":{\"vr\":\"LO\",\"Value\":[\"Bệnh viện Đa khoa tỉnh Quảng Ngãi\"]},"
    "\"00080090\":{\"vr\":\"PN\",\"Value\":[{\"Alphabetic\":\"Lê^Văn Minh\"}]},"
    "\"00081010\":{\"vr\":\"SH\",\"Value\":[\"CTAQ01\"]},"
    "\"00081030\":{\"vr\":\"LO\",\"Value\":[\"CT sọ não không tiêm thuốc\"]},"
    "\"0008103E\":{\"vr\":\"LO\",\"Value\":[\"Brain 5.0 FC21\"]},"
    "\"00081090\":{\"vr\":\"LO\",\"Value\":[\"Aquilion\"]},"
    "\"00100010\":{\"vr\":\"PN\",\"Value\":[{\"Alphabetic\":\"Nguyễn^Thị Hoa\"}]},"
    "\"00100020\":{\"vr\":\"LO\",\"Value\":[\"BN26004117\"]},"
    "\"00100030\":{\"vr\":\"DA\",\"Value\":[\"19580412\"]},"
    "\"00100040\":{\"vr\":\"CS\",\"Value\":[\"F\"]},"
    "\"00101010\":{\"vr\":\"AS\",\"Value\":[\"068Y\"]},"
    "\"00180015\":{\"vr\":\"CS\",\"Value\":[\"HEAD\"]},"
    "\"00180050\":{\"vr\":\"DS\",\"Value\":[5.0]},"
    "\"00180060\":{\"vr\":\"DS\",\"Value\":[120.0]},"
    "\"00180090\":{\"vr\":\"DS\",\"Value\":[240.0]},"
    "\"00181100\":{\"vr\":\"DS\",\"Value\":[220.0]},"
    "\"00181120\":{\"vr\":\"DS\",\"Value\":[0.0]},"
    "\"00181150\":{\"vr\":\"IS\",\"Value\":[1000]},"
    "\"00181151\":{\"vr\":\"IS\",\"Value\":[250]},"
    "\"00181210\":{\"vr\":\"SH\",\"Value\":[\"FC21\"]},"
    "\"00185100\":{\"vr\":\"CS\",\"Value\":[\"HFS\"]},"
    "\"0020000D\":{\"vr\":\"UI\",\"Value\":[\"1.2.392.200036.9116.2.6.1.48.1214245415.1700640\"]},"
    "\"0020000E\":{\"vr\":\"UI\",\"Value\":[\"1.2.392.200036.9116.2.6.1.48.1214245415.1700641\"]},"
    "\"00200010\":{\"vr\":\"SH\",\"Value\":[\"4117\"]},"
    "\"00200011\":{\"vr\":\"IS\",\"Value\":[2]},"
    "\"00200013\":{\"vr\":\"IS\",\"Value\":[77]},"
    "\"00200032\":{\"vr\":\"DS\",\"Value\":[-119.765625,-254.765625,-42.5]},"
    "\"00200037\":{\"vr\":\"DS\",\"Value\":[1.0,0.0,0.0,0.0,1.0,0.0]},"
    "\"00200052\":{\"vr\":\"UI\",\"Value\":[\"1.2.392.200036.9116.2.6.1.48.1214245415.1700639\"]},"
    "\"00201041\":{\"vr\":\"DS\",\"Value\":[-42.5]},"
    "\"00280002\":{\"vr\":\"US\",\"Value\":[1]},"
    "\"00280004\":{\"vr\":\"CS\",\"Value\":[\"MONOCHROME2\"]},"
    "\"00280010\":{\"vr\":\"US\",\"Value\":[512]},"
    "\"00280011\":{\"vr\":\"US\",\"Value\":[512]},"
    "\"00280030\":{\"vr\":\"DS\",\"Value\":[0.46875,0.46875]},"
    "\"00280100\":{\"vr\":\"US\",\"Value\":[16]},"
    "\"00280101\":{\"vr\":\"US\",\"Value\":[12]},"
    "\"00280102\":{\"vr\":\"US\",\"Value\":[11]},"
    "\"00280103\":{\"vr\":\"US\",\"Value\":[0]},"
    "\"00281050\":{\"vr\":\"DS\",\"Value\":[40.0]},"
    "\"00281051\":{\"vr\":\"DS\",\"Value\":[80.0]},"
    "\"00281052\":{\"vr\":\"DS\",\"Value\":[-1024.0]},"
    "\"00281053\":{\"vr\":\"DS\",\"Value\":[1.0]},"
    "\"7FE00010\":{\"vr\":\"OW\",\"BulkDataURI\":\"bulkdata/7FE00010\"}}";

/* The text pacs_json_write makes of `ct`: what a stored frame must give back. */
static char *ct_text(json_t **json)
{
    *json = json_loads(ct, 0, NULL);
    assert_non_null(*json);
    pacs_buf b;
    pacs_buf_init(&b, 1 << 20);
    assert_int_equal(pacs_json_write(&b, *json), PACS_OK);
    char *s = strdup(b.data);
    pacs_buf_free(&b);
    return s;
}

static void read_back(const void *z, size_t zn, const char *want)
{
    pacs_buf b;
    pacs_buf_init(&b, 1 << 20);
    pacs_errinfo ei;
    assert_int_equal(pacs_index__decompress(z, zn, &b, &ei), PACS_OK);
    assert_int_equal(b.len, strlen(want));
    assert_string_equal(b.data, want);
    pacs_buf_free(&b);
}

/* What zstd makes of `text` alone, at the index's level: a frame that names no dictionary. */
static void *plain_frame(const char *text, size_t *n)
{
    size_t cap = ZSTD_compressBound(strlen(text));
    void *z = malloc(cap);
    assert_non_null(z);
    *n = ZSTD_compress(z, cap, text, strlen(text), 3);
    assert_false(ZSTD_isError(*n));
    assert_int_equal(ZSTD_getDictID_fromFrame(z, *n), 0);
    return z;
}

static void test_round_trip_with_the_dictionary(void **state)
{
    (void)state;
    json_t *json;
    char *text = ct_text(&json);
    void *z = NULL;
    size_t zn = 0;
    assert_int_equal(pacs_index__compress_json(json, &z, &zn, NULL), PACS_OK);
    assert_int_equal(ZSTD_getDictID_fromFrame(z, zn), DICT_ID);
    read_back(z, zn, text);

    size_t pn;
    void *plain = plain_frame(text, &pn);
    assert_true(zn * 10 < pn * 8);
    free(plain);
    free(z);
    free(text);
    json_decref(json);
}

/* Blobs stored before the dictionary: plain zstd frames, which name none. */
static void test_frames_without_a_dictionary_still_read(void **state)
{
    (void)state;
    json_t *json;
    char *text = ct_text(&json);
    size_t pn;
    void *plain = plain_frame(text, &pn);
    read_back(plain, pn, text);
    free(plain);
    free(text);
    json_decref(json);
}

static void test_another_dictionary_or_a_cut_frame_is_corrupt(void **state)
{
    (void)state;
    json_t *json;
    char *text = ct_text(&json);
    /* The same dictionary under another ID (the ID is bytes 4-7, little-endian). */
    unsigned char *other = malloc(pacs_index__metadata_dict_len);
    memcpy(other, pacs_index__metadata_dict, pacs_index__metadata_dict_len);
    other[4] ^= 1;
    ZSTD_CDict *cd = ZSTD_createCDict(other, pacs_index__metadata_dict_len, 3);
    assert_non_null(cd);
    ZSTD_CCtx *cc = ZSTD_createCCtx();
    size_t cap = ZSTD_compressBound(strlen(text));
    void *z = malloc(cap);
    size_t zn = ZSTD_compress_usingCDict(cc, z, cap, text, strlen(text), cd);
    assert_false(ZSTD_isError(zn));
    assert_int_equal(ZSTD_getDictID_fromFrame(z, zn), DICT_ID ^ 1);
    pacs_buf b;
    pacs_buf_init(&b, 1 << 20);
    pacs_errinfo ei;
    assert_int_equal(pacs_index__decompress(z, zn, &b, &ei), PACS_ECORRUPT);
    assert_non_null(strstr(ei.msg, "unknown dictionary"));
    free(z);

    /* One of ours, cut short. */
    void *ours = NULL;
    size_t on = 0;
    assert_int_equal(pacs_index__compress_json(json, &ours, &on, NULL), PACS_OK);
    assert_int_equal(pacs_index__decompress(ours, on - 7, &b, &ei), PACS_ECORRUPT);
    read_back(ours, on, text);
    free(ours);
    pacs_buf_free(&b);
    ZSTD_freeCCtx(cc);
    ZSTD_freeCDict(cd);
    free(other);
    free(text);
    json_decref(json);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip_with_the_dictionary),
        cmocka_unit_test(test_frames_without_a_dictionary_still_read),
        cmocka_unit_test(test_another_dictionary_or_a_cut_frame_is_corrupt),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
