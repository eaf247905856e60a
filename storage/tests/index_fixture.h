// SPDX-License-Identifier: MIT
/*
 * What the index's unit tests on a whole index (test_index.c, test_index_records.c) share: a
 * fresh index per test on the backend index_backends.h picks, instances described in a few
 * fields and put with a derived object key, the standard little archive (two patients, three
 * studies, four series), removal by UID and the sweep records. Included by one test file each,
 * after cmocka.h; not thread-safe.
 */
#ifndef PACS_STORAGE_TESTS_INDEX_FIXTURE_H
#define PACS_STORAGE_TESTS_INDEX_FIXTURE_H

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage/catalog.h"
#include "storage/index.h"
#include "storage/query.h"
#include "storage/tests/index_backends.h"

#define CT "1.2.840.10008.5.1.4.1.1.2"
#define MR "1.2.840.10008.5.1.4.1.1.4"
#define SR "1.2.840.10008.5.1.4.1.1.88.11"

typedef struct fixture {
    char dir[200];
    char loc[600];
    pacs_index *idx;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    f->idx = backend_open("index", f->dir, sizeof f->dir, f->loc, sizeof f->loc);
    assert_non_null(f->idx);
    assert_string_equal(pacs_index_backend(f->idx), on_pg ? "postgresql" : "sqlite");
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    assert_int_equal(backend_close(f->idx, f->dir, f->loc), 0);
    free(f);
    return 0;
}

/* One instance's description; NULL fields are left out of its JSON. */
typedef struct inst {
    const char *study, *series, *sop, *sop_class;
    const char *patient_id, *name, *modality, *date, *time, *description;
    int number;
    const char *object_seed; /* the object key is derived from this (default: sop) */
} inst;

/* The attribute with value `v`, present and empty when `v` is "" (as DICOM JSON writes an
 * element of length 0), absent when NULL. */
static void set_text(json_t *j, const char *tag, const char *vr, const char *v)
{
    if (v && *v) {
        json_object_set_new(j, tag, json_pack("{s:s,s:[s]}", "vr", vr, "Value", v));
    } else if (v) {
        json_object_set_new(j, tag, json_pack("{s:s}", "vr", vr));
    }
}

static json_t *instance_json(const inst *in)
{
    json_t *j = json_object();
    set_text(j, "0020000D", "UI", in->study);
    set_text(j, "0020000E", "UI", in->series);
    set_text(j, "00080018", "UI", in->sop);
    set_text(j, "00080016", "UI", in->sop_class);
    set_text(j, "00100020", "LO", in->patient_id);
    if (in->name && *in->name) {
        json_object_set_new(
            j, "00100010",
            json_pack("{s:s,s:[{s:s}]}", "vr", "PN", "Value", "Alphabetic", in->name));
    } else if (in->name) {
        json_object_set_new(j, "00100010", json_pack("{s:s}", "vr", "PN"));
    }
    set_text(j, "00080060", "CS", in->modality);
    set_text(j, "00080020", "DA", in->date);
    set_text(j, "00080030", "TM", in->time);
    set_text(j, "00081030", "LO", in->description);
    json_object_set_new(j, "00200013", json_pack("{s:s,s:[i]}", "vr", "IS", "Value", in->number));
    return j;
}

static void key_of(const char *seed, char key[PACS_OBJECT_KEY_LEN + 1])
{
    /* Not a real hash: a distinct valid key per seed is all the index needs. */
    unsigned long h = 5381;
    for (const char *p = seed; *p; p++) {
        h = h * 33 + (unsigned char)*p;
    }
    snprintf(key, PACS_OBJECT_KEY_LEN + 1, "%016lx%016lx%016lx%016lx", h, h ^ 0x5555, h * 3, h + 7);
}

/* Puts `in` from the calling AE `aet`, with the HTTP credential `http` (NULL: none). */
static pacs_put_result put_from(fixture *f, const inst *in, const char *aet, const char *http)
{
    json_t *j = instance_json(in);
    pacs_index_entry e;
    memset(&e, 0, sizeof e);
    e.json = j;
    e.study_uid = in->study;
    e.series_uid = in->series;
    e.sop_uid = in->sop;
    e.sop_class_uid = in->sop_class;
    e.ts_uid = "1.2.840.10008.1.2.1";
    key_of(in->object_seed ? in->object_seed : in->sop, e.object);
    e.object_size = 1000;
    e.n_frames = 1;
    e.source_aet = aet;
    e.source_http = http;
    pacs_put_result res;
    pacs_errinfo ei;
    if (pacs_index_put(f->idx, &e, &res, &ei) != PACS_OK) {
        fail_msg("put %s: %s", in->sop, ei.msg);
    }
    json_decref(j);
    return res;
}

static pacs_put_result put(fixture *f, const inst *in)
{
    return put_from(f, in, "TEST", NULL);
}

/* The standard little archive: two patients, three studies, four series. */
__attribute__((unused)) static void load(fixture *f)
{
    const inst all[] = {
        {"1.1", "1.1.1", "1.1.1.1", CT, "P1", "Nguyễn^Thị Hương", "CT", "20240615", "101500",
         "CHEST", 1, NULL},
        {"1.1", "1.1.1", "1.1.1.2", CT, "P1", "Nguyễn^Thị Hương", "CT", "20240615", "101500",
         "CHEST", 2, NULL},
        {"1.1", "1.1.2", "1.1.2.1", SR, "P1", "Nguyễn^Thị Hương", "SR", "20240615", "101500",
         "CHEST", 1, NULL},
        {"1.2", "1.2.1", "1.2.1.1", MR, "P1", "Nguyễn^Thị Hương", "MR", "20230101", "235959",
         "HEAD", 1, NULL},
        {"1.3", "1.3.1", "1.3.1.1", CT, "P2", "Đặng^Văn Đức", "CT", "20240701", "080000", "ABDOMEN",
         1, NULL},
    };
    for (size_t i = 0; i < sizeof all / sizeof all[0]; i++) {
        pacs_put_result r = put(f, &all[i]);
        assert_false(r.existed);
    }
}

typedef struct objs {
    char keys[16][PACS_OBJECT_KEY_LEN + 1];
    size_t n;
} objs;

static int obj_cb(void *ctx, const char *object, uint64_t size, const char *sop)
{
    (void)size;
    (void)sop;
    objs *o = ctx;
    assert_true(o->n < 16);
    snprintf(o->keys[o->n++], PACS_OBJECT_KEY_LEN + 1, "%s", object);
    return 0;
}

__attribute__((unused)) static objs pending(fixture *f)
{
    objs o;
    memset(&o, 0, sizeof o);
    assert_int_equal(pacs_index_sweep_pending(f->idx, obj_cb, &o, NULL), PACS_OK);
    return o;
}

__attribute__((unused)) static void remove_q(fixture *f, pacs_level level, uint32_t tag,
                                             const char *uid, uint64_t want)
{
    pacs_query *q = pacs_query_new(level);
    assert_int_equal(pacs_query_add(q, tag, "UI", uid, NULL), PACS_OK);
    uint64_t n = 99;
    pacs_errinfo ei;
    if (pacs_index_remove(f->idx, q, &n, &ei) != PACS_OK) {
        fail_msg("remove %s: %s", uid, ei.msg);
    }
    assert_int_equal(n, want);
    pacs_query_free(q);
}

#endif
