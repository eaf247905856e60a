// SPDX-License-Identifier: MIT
/*
 * What the index takes from an instance at ingest (index_sql.h): the column values from its
 * DICOM JSON, the stored attributes of each level, and the stored metadata's compression.
 *
 * Load: every stored instance is loaded and compressed here once, and every metadata read is
 * decompressed here. Thread-safe. The state is one zstd context of each kind per thread
 * (creating one per blob, as ZSTD_decompress does, cost more than decompressing, and a study's
 * /metadata reads hundreds of blobs) and the metadata dictionary, made once.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zstd.h>

#include "pacs/base/buf.h"
#include "pacs/dicom/dcm.h"
#include "pacs/dicom/json_write.h"
#include "storage/catalog.h"
#include "storage/fold.h"
#include "storage/index_sql.h"

/* ---- ingest ---- */

static char *strip_colons(char *s)
{
    if (s) {
        char *o = s;
        for (char *p = s; *p; p++) {
            if (*p != ':') {
                *o++ = *p;
            }
        }
        *o = '\0';
    }
    return s;
}

void pacs_index__fields_load(pacs_index__fields *f, const json_t *j)
{
    memset(f, 0, sizeof *f);
    f->patient_id = pacs_json_text(j, 0x00100020);
    f->issuer = pacs_json_text(j, 0x00100021);
    f->name = pacs_json_text(j, 0x00100010);
    f->name_ci = f->name ? pacs_fold_case(f->name) : NULL;
    f->name_fold = f->name ? pacs_fold_name(f->name) : NULL;
    f->birth_date = pacs_json_text(j, 0x00100030);
    f->sex = pacs_json_text(j, 0x00100040);
    f->study_date = pacs_json_text(j, 0x00080020);
    f->study_time = strip_colons(pacs_json_text(j, 0x00080030));
    f->accession = pacs_json_text(j, 0x00080050);
    f->study_id = pacs_json_text(j, 0x00200010);
    f->ref_phys = pacs_json_text(j, 0x00080090);
    f->ref_phys_ci = f->ref_phys ? pacs_fold_case(f->ref_phys) : NULL;
    f->ref_phys_fold = f->ref_phys ? pacs_fold_name(f->ref_phys) : NULL;
    f->study_desc = pacs_json_text(j, 0x00081030);
    f->modality = pacs_json_text(j, 0x00080060);
    f->series_number = pacs_json_text(j, 0x00200011);
    f->series_desc = pacs_json_text(j, 0x0008103E);
    f->body_part = pacs_json_text(j, 0x00180015);
    f->series_date = pacs_json_text(j, 0x00080021);
    f->series_time = strip_colons(pacs_json_text(j, 0x00080031));
    f->pps_date = pacs_json_text(j, 0x00400244);
    f->pps_time = strip_colons(pacs_json_text(j, 0x00400245));
    f->instance_number = pacs_json_text(j, 0x00200013);
    f->frames = pacs_json_text(j, 0x00280008);
    f->rows = pacs_json_text(j, 0x00280010);
    f->columns = pacs_json_text(j, 0x00280011);
    f->bits = pacs_json_text(j, 0x00280100);
    f->content_date = pacs_json_text(j, 0x00080023);
    f->content_time = strip_colons(pacs_json_text(j, 0x00080033));
}

void pacs_index__fields_free(pacs_index__fields *f)
{
    char **p = (char **)f;
    for (size_t i = 0; i < sizeof *f / sizeof(char *); i++) {
        free(p[i]);
    }
}

/* Stored JSON is written by pacs_json_write (keys sorted; the same text json_dumps gave but for
 * the order of "vr" and "Value", which no reader depends on) into one buffer per call. */
#define STORED_JSON_MAX ((size_t)1 << 30)

static int stored_at(const char *key, void *level)
{
    return pacs_catalog_stored_at(*(const pacs_level *)level, key);
}

/* Written straight from the instance's JSON: a copy holding the level's attributes first cost
 * two thirds of the work (a key copied and hashed for each). */
char *pacs_index__level_attrs_text(const json_t *instance, pacs_level level)
{
    pacs_buf b;
    pacs_buf_init(&b, STORED_JSON_MAX);
    char *s = pacs_json_write_members(&b, instance, stored_at, &level) == PACS_OK
                  ? pacs_buf_take(&b, NULL)
                  : NULL;
    pacs_buf_free(&b);
    return s;
}

pacs_err pacs_index__texts_make(const json_t *instance, pacs_index__texts *t, pacs_errinfo *ei)
{
    memset(t, 0, sizeof *t);
    pacs_index__fields_load(&t->fields, instance);
    static const pacs_level levels[3] = {PACS_LEVEL_PATIENT, PACS_LEVEL_STUDY, PACS_LEVEL_SERIES};
    for (int i = 0; i < 3; i++) {
        t->attrs[i] = pacs_index__level_attrs_text(instance, levels[i]);
        if (!t->attrs[i]) {
            pacs_index__texts_free(t);
            return pacs_errf(ei, PACS_ENOMEM, "out of memory");
        }
    }
    pacs_err err = pacs_index__compress_json(instance, &t->meta, &t->meta_len, ei);
    if (err != PACS_OK) {
        pacs_index__texts_free(t);
    }
    return err;
}

void pacs_index__texts_free(pacs_index__texts *t)
{
    pacs_index__fields_free(&t->fields);
    for (int i = 0; i < 3; i++) {
        free(t->attrs[i]);
    }
    free(t->meta);
    memset(t, 0, sizeof *t);
}

long long pacs_index__int_value(const char *s, int *ok)
{
    char *end = NULL;
    long long v = s ? strtoll(s, &end, 10) : 0;
    *ok = s && end && end != s;
    return *ok ? v : 0;
}

/* ---- metadata compression ---- */

/* The stored JSON is compressed with a dictionary trained on DICOM JSON (metadata_dict/README.md):
 * an instance's text is a few KB, too little for zstd to learn its recurring keys and values
 * from the text alone (884 -> 587 bytes per CT instance of the bench, -34%, and faster both
 * ways). Its frames name the dictionary's ID; frames without one (written before it) are read
 * without it. The dictionary is part of the index's format: a new one needs a new ID, and the
 * old one kept for the blobs that name it. */
extern const unsigned char pacs_index__metadata_dict[];
extern const size_t pacs_index__metadata_dict_len;
#define METADATA_DICT_ID 1346454355u /* "PACS" */
#define METADATA_LEVEL 3

static pthread_key_t cctx_key, dctx_key;
static pthread_once_t zstd_once = PTHREAD_ONCE_INIT;
static ZSTD_CDict *metadata_cdict;
static ZSTD_DDict *metadata_ddict;

static void free_cctx(void *c)
{
    ZSTD_freeCCtx(c);
}

static void free_dctx(void *d)
{
    ZSTD_freeDCtx(d);
}

static void zstd_setup(void)
{
    pthread_key_create(&cctx_key, free_cctx);
    pthread_key_create(&dctx_key, free_dctx);
    metadata_cdict =
        ZSTD_createCDict(pacs_index__metadata_dict, pacs_index__metadata_dict_len, METADATA_LEVEL);
    metadata_ddict = ZSTD_createDDict(pacs_index__metadata_dict, pacs_index__metadata_dict_len);
}

/* This thread's compression context (freed when the thread ends), or NULL out of memory. */
static ZSTD_CCtx *thread_cctx(void)
{
    pthread_once(&zstd_once, zstd_setup);
    ZSTD_CCtx *c = pthread_getspecific(cctx_key);
    if (!c && (c = ZSTD_createCCtx()) != NULL && pthread_setspecific(cctx_key, c) != 0) {
        ZSTD_freeCCtx(c);
        c = NULL;
    }
    return c;
}

static ZSTD_DCtx *thread_dctx(void)
{
    pthread_once(&zstd_once, zstd_setup);
    ZSTD_DCtx *d = pthread_getspecific(dctx_key);
    if (!d && (d = ZSTD_createDCtx()) != NULL && pthread_setspecific(dctx_key, d) != 0) {
        ZSTD_freeDCtx(d);
        d = NULL;
    }
    return d;
}

pacs_err pacs_index__compress_json(const json_t *json, void **out, size_t *out_len,
                                   pacs_errinfo *ei)
{
    pacs_buf b;
    pacs_buf_init(&b, STORED_JSON_MAX);
    if (pacs_json_write(&b, json) != PACS_OK) {
        pacs_buf_free(&b);
        return pacs_errf(ei, PACS_ENOMEM, "cannot serialise metadata");
    }
    size_t n = b.len;
    size_t cap = ZSTD_compressBound(n);
    void *z = malloc(cap);
    if (!z) {
        pacs_buf_free(&b);
        return pacs_errf(ei, PACS_ENOMEM, "out of memory");
    }
    ZSTD_CCtx *cctx = thread_cctx();
    /* No memory for the dictionary: a plain frame, which reads back all the same. */
    size_t zn = cctx && metadata_cdict
                    ? ZSTD_compress_usingCDict(cctx, z, cap, b.data, n, metadata_cdict)
                    : ZSTD_compress(z, cap, b.data, n, METADATA_LEVEL);
    pacs_buf_free(&b);
    if (ZSTD_isError(zn)) {
        free(z);
        return pacs_errf(ei, PACS_EIO, "metadata compression: %s", ZSTD_getErrorName(zn));
    }
    *out = z;
    *out_len = zn;
    return PACS_OK;
}

pacs_err pacs_index__decompress(const void *z, size_t zn, pacs_buf *b, pacs_errinfo *ei)
{
    if (!z) {
        return pacs_errf(ei, PACS_ECORRUPT, "stored metadata is missing");
    }
    unsigned long long n = ZSTD_getFrameContentSize(z, zn);
    if (n == ZSTD_CONTENTSIZE_ERROR || n == ZSTD_CONTENTSIZE_UNKNOWN || n > (64u << 20)) {
        return pacs_errf(ei, PACS_ECORRUPT, "stored metadata is unreadable");
    }
    unsigned dict = ZSTD_getDictID_fromFrame(z, zn);
    if (dict != 0 && dict != METADATA_DICT_ID) {
        return pacs_errf(ei, PACS_ECORRUPT, "stored metadata names an unknown dictionary (%u)",
                         dict);
    }
    pacs_buf_reset(b);
    if (n > 0) {
        /* Reserve n bytes. Appending from `z` itself would read past its zn bytes. */
        static const char zeros[4096];
        pacs_err err = PACS_OK;
        for (size_t left = (size_t)n; left > 0 && err == PACS_OK;) {
            size_t k = left < sizeof zeros ? left : sizeof zeros;
            err = pacs_buf_append(b, zeros, k);
            left -= k;
        }
        if (err != PACS_OK) {
            return pacs_errf(ei, err, "out of memory");
        }
        ZSTD_DCtx *dctx = thread_dctx();
        size_t got;
        if (dict) {
            if (!dctx || !metadata_ddict) {
                return pacs_errf(ei, PACS_ENOMEM, "out of memory");
            }
            got = ZSTD_decompress_usingDDict(dctx, b->data, (size_t)n, z, zn, metadata_ddict);
        } else {
            got = dctx ? ZSTD_decompressDCtx(dctx, b->data, (size_t)n, z, zn)
                       : ZSTD_decompress(b->data, (size_t)n, z, zn);
        }
        if (ZSTD_isError(got) || got != n) {
            return pacs_errf(ei, PACS_ECORRUPT, "stored metadata is unreadable");
        }
        b->data[n] = '\0';
    }
    return PACS_OK;
}
