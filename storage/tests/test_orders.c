// SPDX-License-Identifier: MIT
/*
 * The orders store (storage/orders.h) on a real archive, on SQLite and (argument
 * "postgresql") on PostgreSQL, as the index tests run (index_backends.h): patients and their
 * identifiers, orders placed, resent, changed and cancelled, the worklist, merges, MPPS moving
 * an order through its states, a reopened archive keeping all of it, and images reconciled to
 * their order's patient (and moved with it by an update or a merge), whether they arrive after
 * the order or before it, or are named only by an MPPS's Performed Series Sequence.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pacs/base/config.h"
#include "pacs/dicom/dcm.h"
#include "storage/archive.h"
#include "storage/delivery.h"
#include "storage/orders.h"
#include "storage/resolve.h"
#include "storage/tests/index_backends.h"

typedef struct fixture {
    char dir[512], loc[768], data[600];
    pacs_config *cfg;
    pacs_archive *a;
} fixture;

static void open_archive(fixture *f)
{
    pacs_errinfo ei;
    assert_int_equal(pacs_archive_open(f->cfg, &f->a, &ei), PACS_OK);
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    const char *tmp = getenv("TMPDIR");
    snprintf(f->dir, sizeof f->dir, "%s/pacs-test-orders.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    assert_non_null(mkdtemp(f->dir));
    backend_location(f->dir, f->loc, sizeof f->loc);
    snprintf(f->data, sizeof f->data, "%s/data", f->dir);
    pacs_errinfo ei;
    f->cfg = pacs_config_new();
    assert_non_null(f->cfg);
    if (pacs_config_set(f->cfg, "data", f->data, &ei) != PACS_OK ||
        pacs_config_set(f->cfg, "index", f->loc, &ei) != PACS_OK ||
        pacs_config_finish(f->cfg, &ei) != PACS_OK) {
        fail_msg("config: %s", ei.msg);
    }
    open_archive(f);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    pacs_archive_close(f->a);
    pacs_config_free(f->cfg);
    backend_drop(f->loc);
    sh("rm -rf '%s'", f->dir);
    free(f);
    return 0;
}

static pacs_patient_id pid(const char *system, const char *value)
{
    pacs_patient_id id;
    memset(&id, 0, sizeof id);
    snprintf(id.system, sizeof id.system, "%s", system);
    snprintf(id.value, sizeof id.value, "%s", value);
    return id;
}

/* Registers a patient with one identifier; its key. */
static int64_t register_patient(fixture *f, const char *system, const char *value, const char *name)
{
    pacs_patient p;
    memset(&p, 0, sizeof p);
    p.ids[p.n_ids++] = pid(system, value);
    snprintf(p.name, sizeof p.name, "%s", name);
    int64_t key = 0;
    pacs_errinfo ei;
    assert_int_equal(pacs_orders_patient_put(f->a, &p, &key, &ei), PACS_OK);
    assert_true(key > 0);
    return key;
}

static pacs_order order_for(int64_t patient, const char *placer, const char *accession)
{
    pacs_order o;
    memset(&o, 0, sizeof o);
    o.patient = patient;
    snprintf(o.placer, sizeof o.placer, "%s", placer);
    snprintf(o.accession, sizeof o.accession, "%s", accession);
    snprintf(o.modality, sizeof o.modality, "CT");
    snprintf(o.station_aet, sizeof o.station_aet, "CT1");
    snprintf(o.start_date, sizeof o.start_date, "20261207");
    snprintf(o.start_time, sizeof o.start_time, "083000");
    snprintf(o.sps_text, sizeof o.sps_text, "CT ngực");
    return o;
}

static void test_patients(void **state)
{
    fixture *f = *state;
    pacs_errinfo ei;
    int64_t k = register_patient(f, "bhxh", "DN4010123456789", "Nguyễn^Văn An");
    /* An update through another identifier of the same patient adds it and keeps the name. */
    pacs_patient p;
    memset(&p, 0, sizeof p);
    p.ids[p.n_ids++] = pid("bhxh", "DN4010123456789");
    p.ids[p.n_ids++] = pid("mrn", "MRN-1");
    snprintf(p.birth_date, sizeof p.birth_date, "19800102");
    int64_t k2 = 0;
    assert_int_equal(pacs_orders_patient_put(f->a, &p, &k2, &ei), PACS_OK);
    assert_int_equal(k2, k);
    pacs_patient got;
    pacs_patient_id mrn = pid("mrn", "MRN-1");
    assert_int_equal(pacs_orders_patient_get(f->a, &mrn, &got, &ei), PACS_OK);
    assert_int_equal(got.key, k);
    assert_string_equal(got.name, "Nguyễn^Văn An");
    assert_string_equal(got.birth_date, "19800102");
    assert_int_equal(got.n_ids, 2);
    /* A new MRN replaces the old one: the old no longer names anybody. */
    p.n_ids = 0;
    p.ids[p.n_ids++] = pid("bhxh", "DN4010123456789");
    p.ids[p.n_ids++] = pid("mrn", "MRN-2");
    assert_int_equal(pacs_orders_patient_put(f->a, &p, &k2, &ei), PACS_OK);
    assert_int_equal(pacs_orders_patient_get(f->a, &mrn, &got, &ei), PACS_ENOTFOUND);
    /* Identifiers naming two patients, a system not configured, a value that is not LO. */
    register_patient(f, "cccd", "001080000001", "Trần^Thị Bình");
    p.n_ids = 0;
    p.ids[p.n_ids++] = pid("bhxh", "DN4010123456789");
    p.ids[p.n_ids++] = pid("cccd", "001080000001");
    assert_int_equal(pacs_orders_patient_put(f->a, &p, &k2, &ei), PACS_ECONFLICT);
    p.n_ids = 0;
    p.ids[p.n_ids++] = pid("passport", "B123");
    assert_int_equal(pacs_orders_patient_put(f->a, &p, &k2, &ei), PACS_EINVAL);
    p.ids[0] = pid("mrn", "A\\B");
    assert_int_equal(pacs_orders_patient_put(f->a, &p, &k2, &ei), PACS_EINVAL);
    /* The refused changes changed nothing. */
    pacs_patient_id cccd = pid("cccd", "001080000001");
    assert_int_equal(pacs_orders_patient_get(f->a, &cccd, &got, &ei), PACS_OK);
    assert_int_equal(got.n_ids, 1);
    assert_string_equal(got.name, "Trần^Thị Bình");
}

static void test_orders(void **state)
{
    fixture *f = *state;
    pacs_errinfo ei;
    int64_t k = register_patient(f, "bhxh", "HN1", "Lê^Minh");
    pacs_order o = order_for(k, "P1", ""), done, got;
    assert_int_equal(pacs_orders_place(f->a, &o, &done, &ei), PACS_OK);
    assert_true(done.key > 0);
    assert_true(done.accession[0] != '\0');
    assert_true(done.study_uid[0] != '\0');
    assert_true(done.sps_id[0] != '\0');
    assert_int_equal(done.status, PACS_ORDER_SCHEDULED);
    assert_int_equal(pacs_orders_get(f->a, NULL, done.accession, NULL, &got, &ei), PACS_OK);
    assert_string_equal(got.placer, "P1");
    assert_string_equal(got.sps_text, "CT ngực");
    assert_int_equal(pacs_orders_get(f->a, NULL, NULL, done.study_uid, &got, &ei), PACS_OK);
    assert_int_equal(got.key, done.key);
    /* A resend of the same placer number replaces the scheduled order, keeping its key. */
    snprintf(o.station_aet, sizeof o.station_aet, "CT2");
    pacs_order again;
    assert_int_equal(pacs_orders_place(f->a, &o, &again, &ei), PACS_OK);
    assert_int_equal(again.key, done.key);
    assert_string_equal(again.station_aet, "CT2");
    assert_string_equal(again.study_uid, done.study_uid);
    /* Another order may not take its accession number; an unknown patient is refused. */
    pacs_order other = order_for(k, "P2", "");
    snprintf(other.accession, sizeof other.accession, "%s", done.accession);
    assert_int_equal(pacs_orders_place(f->a, &other, NULL, &ei), PACS_ECONFLICT);
    other = order_for(k + 1000, "P3", "ACC3");
    assert_int_equal(pacs_orders_place(f->a, &other, NULL, &ei), PACS_ENOTFOUND);
    assert_int_equal(pacs_orders_get(f->a, "P3", NULL, NULL, &got, &ei), PACS_ENOTFOUND);
    /* Change, then cancel. */
    pacs_order change;
    memset(&change, 0, sizeof change);
    snprintf(change.placer, sizeof change.placer, "P1");
    snprintf(change.start_time, sizeof change.start_time, "101500");
    assert_int_equal(pacs_orders_change(f->a, &change, &got, &ei), PACS_OK);
    assert_string_equal(got.start_time, "101500");
    assert_string_equal(got.station_aet, "CT2");
    snprintf(change.placer, sizeof change.placer, "NOPE");
    assert_int_equal(pacs_orders_change(f->a, &change, &got, &ei), PACS_ENOTFOUND);
    assert_int_equal(pacs_orders_cancel(f->a, "P1", &ei), PACS_OK);
    assert_int_equal(pacs_orders_get(f->a, "P1", NULL, NULL, &got, &ei), PACS_OK);
    assert_int_equal(got.status, PACS_ORDER_CANCELED);
    snprintf(change.placer, sizeof change.placer, "P1");
    assert_int_equal(pacs_orders_change(f->a, &change, &got, &ei), PACS_ECONFLICT);
}

typedef struct seen {
    char accession[8][17];
    char name[8][64];
    size_t n;
} seen;

static int collect(void *ctx, const json_t *item)
{
    seen *s = ctx;
    if (s->n < 8) {
        const char *acc = json_string_value(
            json_array_get(json_object_get(json_object_get(item, "00080050"), "Value"), 0));
        json_t *pn = json_array_get(json_object_get(json_object_get(item, "00100010"), "Value"), 0);
        snprintf(s->accession[s->n], 17, "%s", acc ? acc : "");
        snprintf(s->name[s->n], 64, "%s",
                 json_string_value(json_object_get(pn, "Alphabetic"))
                     ? json_string_value(json_object_get(pn, "Alphabetic"))
                     : "");
    }
    s->n++;
    return 0;
}

static seen worklist(fixture *f, const char *station, int ascii)
{
    pacs_query *q = pacs_query_new(PACS_LEVEL_PATIENT);
    assert_non_null(q);
    pacs_query *item = NULL;
    assert_int_equal(pacs_query_add_sequence(q, 0x00400100u, &item, NULL), PACS_OK);
    if (station) {
        assert_int_equal(pacs_query_add(item, 0x00400001u, NULL, station, NULL), PACS_OK);
    }
    seen s;
    memset(&s, 0, sizeof s);
    pacs_errinfo ei;
    assert_int_equal(pacs_orders_worklist(f->a, q, ascii, collect, &s, &ei), PACS_OK);
    pacs_query_free(q);
    return s;
}

static json_t *mpps_attrs(const char *status, const char *accession)
{
    json_t *j = json_pack("{s:{s:s,s:[s]}}", "00400252", "vr", "CS", "Value", status);
    if (accession) {
        json_object_set_new(j, "00400253", json_pack("{s:s,s:[s]}", "vr", "SH", "Value", "PPS1"));
        json_object_set_new(j, "00400244",
                            json_pack("{s:s,s:[s]}", "vr", "DA", "Value", "20261207"));
        json_object_set_new(j, "00400245", json_pack("{s:s,s:[s]}", "vr", "TM", "Value", "0900"));
        json_object_set_new(j, "00080060", json_pack("{s:s,s:[s]}", "vr", "CS", "Value", "CT"));
        json_object_set_new(j, "00400270",
                            json_pack("{s:s,s:[{s:{s:s,s:[s]}}]}", "vr", "SQ", "Value", "00080050",
                                      "vr", "SH", "Value", accession));
    }
    return j;
}

static void test_worklist_merge_mpps(void **state)
{
    fixture *f = *state;
    pacs_errinfo ei;
    int64_t an = register_patient(f, "bhxh", "HN2", "Nguyễn^Văn An");
    int64_t dup = register_patient(f, "mrn", "M9", "Nguyen^Van An");
    pacs_order o1 = order_for(an, "W1", "ACC1"), o2 = order_for(dup, "W2", "ACC2"), out;
    snprintf(o2.station_aet, sizeof o2.station_aet, "MR1");
    assert_int_equal(pacs_orders_place(f->a, &o1, &out, &ei), PACS_OK);
    assert_int_equal(pacs_orders_place(f->a, &o2, &out, &ei), PACS_OK);
    seen s = worklist(f, NULL, 0);
    assert_int_equal(s.n, 2);
    s = worklist(f, "CT1", 0);
    assert_int_equal(s.n, 1);
    assert_string_equal(s.accession[0], "ACC1");
    assert_string_equal(s.name[0], "Nguyễn^Văn An");
    s = worklist(f, "CT1", 1);
    assert_string_equal(s.name[0], "NGUYEN^VAN AN");
    /* ADT^A40: the duplicate retires into An; its order and identifier follow. */
    pacs_patient_id survivor = pid("bhxh", "HN2"), retired = pid("mrn", "M9");
    assert_int_equal(pacs_orders_patient_merge(f->a, &survivor, &retired, &ei), PACS_OK);
    pacs_patient got;
    assert_int_equal(pacs_orders_patient_get(f->a, &retired, &got, &ei), PACS_OK);
    assert_int_equal(got.key, an);
    pacs_order o;
    assert_int_equal(pacs_orders_get(f->a, "W2", NULL, NULL, &o, &ei), PACS_OK);
    assert_int_equal(o.patient, an);
    assert_int_equal(pacs_orders_patient_merge(f->a, &survivor, &retired, &ei), PACS_EINVAL);
    pacs_patient_id nobody = pid("cccd", "0");
    assert_int_equal(pacs_orders_patient_merge(f->a, &survivor, &nobody, &ei), PACS_ENOTFOUND);
    /* MPPS: IN PROGRESS takes ACC1 off the worklist, COMPLETED completes it, and then no more. */
    json_t *a = mpps_attrs("IN PROGRESS", "ACC1");
    assert_int_equal(pacs_orders_mpps_create(f->a, "1.2.3.4", a, &ei), PACS_OK);
    assert_int_equal(pacs_orders_mpps_create(f->a, "1.2.3.4", a, &ei), PACS_EEXIST);
    json_decref(a);
    assert_int_equal(pacs_orders_get(f->a, NULL, "ACC1", NULL, &o, &ei), PACS_OK);
    assert_int_equal(o.status, PACS_ORDER_IN_PROGRESS);
    assert_string_equal(o.mpps_uid, "1.2.3.4");
    s = worklist(f, NULL, 0);
    assert_int_equal(s.n, 1);
    assert_string_equal(s.accession[0], "ACC2");
    a = mpps_attrs("COMPLETED", NULL);
    assert_int_equal(pacs_orders_mpps_set(f->a, "1.2.3.4", a, &ei), PACS_OK);
    assert_int_equal(pacs_orders_mpps_set(f->a, "1.2.3.4", a, &ei), PACS_ECONFLICT);
    assert_int_equal(pacs_orders_mpps_set(f->a, "9.9", a, &ei), PACS_ENOTFOUND);
    json_decref(a);
    assert_int_equal(pacs_orders_get(f->a, NULL, "ACC1", NULL, &o, &ei), PACS_OK);
    assert_int_equal(o.status, PACS_ORDER_COMPLETED);
    assert_int_equal(pacs_orders_cancel(f->a, "W1", &ei), PACS_ECONFLICT);
    json_t *stored = NULL;
    assert_int_equal(pacs_orders_mpps_get(f->a, "1.2.3.4", &stored, &ei), PACS_OK);
    assert_string_equal(json_string_value(json_array_get(
                            json_object_get(json_object_get(stored, "00400252"), "Value"), 0)),
                        "COMPLETED");
    assert_non_null(json_object_get(stored, "00400270"));
    json_decref(stored);
    /* An unscheduled procedure is kept, linked to no order. */
    a = mpps_attrs("IN PROGRESS", "NO-SUCH");
    assert_int_equal(pacs_orders_mpps_create(f->a, "1.2.3.5", a, &ei), PACS_OK);
    json_decref(a);
    /* Reopened, the archive keeps all of it. */
    pacs_archive_close(f->a);
    f->a = NULL;
    open_archive(f);
    assert_int_equal(pacs_orders_get(f->a, "W2", NULL, NULL, &o, &ei), PACS_OK);
    assert_int_equal(o.patient, an);
    assert_int_equal(o.status, PACS_ORDER_SCHEDULED);
    assert_int_equal(pacs_orders_get(f->a, "W1", NULL, NULL, &o, &ei), PACS_OK);
    assert_int_equal(o.status, PACS_ORDER_COMPLETED);
    assert_int_equal(pacs_orders_patient_get(f->a, &retired, &got, &ei), PACS_OK);
    assert_int_equal(got.key, an);
    assert_int_equal(pacs_orders_mpps_get(f->a, "1.2.3.5", &stored, &ei), PACS_OK);
    json_decref(stored);
    s = worklist(f, "MR1", 0);
    assert_int_equal(s.n, 1);
    assert_string_equal(s.accession[0], "ACC2");
}

/* pacs migrate and pacs reindex carry the orders: pacs_index_copy into a new index, then the
 * archive reopened on it finds the patient (through a retired identifier), the orders with
 * their states and the MPPS instance linked to its order. */
static void test_copy(void **state)
{
    fixture *f = *state;
    pacs_errinfo ei;
    int64_t an = register_patient(f, "bhxh", "HN7", "Phạm^Thu");
    register_patient(f, "mrn", "M7", "Pham^Thu");
    pacs_patient_id survivor = pid("bhxh", "HN7"), retired = pid("mrn", "M7");
    assert_int_equal(pacs_orders_patient_merge(f->a, &survivor, &retired, &ei), PACS_OK);
    pacs_order o1 = order_for(an, "C1", "ACC71"), o2 = order_for(an, "C2", "ACC72"), out;
    assert_int_equal(pacs_orders_place(f->a, &o1, &out, &ei), PACS_OK);
    assert_int_equal(pacs_orders_place(f->a, &o2, &out, &ei), PACS_OK);
    json_t *a = mpps_attrs("IN PROGRESS", "ACC71");
    assert_int_equal(pacs_orders_mpps_create(f->a, "1.2.7", a, &ei), PACS_OK);
    json_decref(a);
    pacs_archive_close(f->a);
    f->a = NULL;
    char loc2[768];
    backend_location(f->dir, loc2, sizeof loc2);
    if (!on_pg) {
        snprintf(loc2, sizeof loc2, "%s/copy.sqlite", f->dir);
    }
    pacs_index *src = NULL, *dst = NULL;
    assert_int_equal(pacs_index_open(f->loc, &src, &ei), PACS_OK);
    assert_int_equal(pacs_index_open(loc2, &dst, &ei), PACS_OK);
    uint64_t inst = 0, fwd = 0;
    assert_int_equal(pacs_index_copy(src, dst, NULL, NULL, &inst, &fwd, &ei), PACS_OK);
    pacs_index_close(src);
    pacs_index_close(dst);
    backend_drop(f->loc);
    snprintf(f->loc, sizeof f->loc, "%s", loc2);
    pacs_config_free(f->cfg);
    f->cfg = pacs_config_new();
    assert_non_null(f->cfg);
    assert_int_equal(pacs_config_set(f->cfg, "data", f->data, &ei), PACS_OK);
    assert_int_equal(pacs_config_set(f->cfg, "index", f->loc, &ei), PACS_OK);
    assert_int_equal(pacs_config_finish(f->cfg, &ei), PACS_OK);
    open_archive(f);
    pacs_patient got;
    assert_int_equal(pacs_orders_patient_get(f->a, &retired, &got, &ei), PACS_OK);
    assert_string_equal(got.name, "Phạm^Thu");
    assert_int_equal(got.n_ids, 1);
    assert_string_equal(got.ids[0].value, "HN7");
    pacs_order o;
    assert_int_equal(pacs_orders_get(f->a, NULL, "ACC71", NULL, &o, &ei), PACS_OK);
    assert_int_equal(o.status, PACS_ORDER_IN_PROGRESS);
    assert_string_equal(o.mpps_uid, "1.2.7");
    assert_int_equal(o.patient, got.key);
    assert_int_equal(pacs_orders_get(f->a, "C2", NULL, NULL, &o, &ei), PACS_OK);
    assert_int_equal(o.status, PACS_ORDER_SCHEDULED);
    assert_string_equal(o.study_uid, out.study_uid);
    /* The copied MPPS instance still moves its order. */
    a = mpps_attrs("DISCONTINUED", NULL);
    assert_int_equal(pacs_orders_mpps_set(f->a, "1.2.7", a, &ei), PACS_OK);
    json_decref(a);
    assert_int_equal(pacs_orders_get(f->a, "C1", NULL, NULL, &o, &ei), PACS_OK);
    assert_int_equal(o.status, PACS_ORDER_DISCONTINUED);
}

/* How many steps the worklist answers for these keys; the step's own keys (station, modality,
 * start date, step id) go into the Scheduled Procedure Step Sequence's item. */
static size_t count_where(fixture *f, const uint32_t *tags, const char *const *values, size_t n)
{
    pacs_query *q = pacs_query_new(PACS_LEVEL_PATIENT);
    assert_non_null(q);
    pacs_query *item = NULL;
    assert_int_equal(pacs_query_add_sequence(q, 0x00400100u, &item, NULL), PACS_OK);
    for (size_t i = 0; i < n; i++) {
        int in_item = tags[i] == 0x00080060u || tags[i] == 0x00400001u || tags[i] == 0x00400002u ||
                      tags[i] == 0x00400009u;
        assert_int_equal(pacs_query_add(in_item ? item : q, tags[i], NULL, values[i], NULL),
                         PACS_OK);
    }
    seen s;
    memset(&s, 0, sizeof s);
    pacs_errinfo ei;
    assert_int_equal(pacs_orders_worklist(f->a, q, 0, collect, &s, &ei), PACS_OK);
    pacs_query_free(q);
    return s.n;
}

#define COUNT_WHERE(f, ...)                                                                        \
    count_where_pairs(f, (const char *const[]){__VA_ARGS__},                                       \
                      sizeof((const char *const[]){__VA_ARGS__}) / sizeof(const char *))

/* Pairs of "gggggggg" and value. */
static size_t count_where_pairs(fixture *f, const char *const *kv, size_t n)
{
    uint32_t tags[8];
    const char *values[8];
    assert_true(n % 2 == 0 && n / 2 <= 8);
    for (size_t i = 0; i < n / 2; i++) {
        tags[i] = (uint32_t)strtoul(kv[2 * i], NULL, 16);
        values[i] = kv[2 * i + 1];
    }
    return count_where(f, tags, values, n / 2);
}

static void test_worklist_keys(void **state)
{
    fixture *f = *state;
    pacs_errinfo ei;
    int64_t a = register_patient(f, "bhxh", "HN7", "Phạm^Thị Lan");
    int64_t b = register_patient(f, "mrn", "M7", "Đỗ^Văn Nam"); /* no health ID: MRN served */
    const char *dates[4] = {"20261205", "20261206", "20261207", "20261208"};
    for (int i = 0; i < 8; i++) {
        char placer[8], acc[8];
        snprintf(placer, sizeof placer, "K%d", i);
        snprintf(acc, sizeof acc, "KACC%d", i);
        pacs_order o = order_for(i % 2 ? b : a, placer, acc), out;
        snprintf(o.start_date, sizeof o.start_date, "%s", dates[i % 4]);
        snprintf(o.station_aet, sizeof o.station_aet, "%s", i < 4 ? "CT1" : "MR1");
        snprintf(o.modality, sizeof o.modality, "%s", i < 4 ? "CT" : "MR");
        snprintf(o.sps_id, sizeof o.sps_id, "S%d", i);
        snprintf(o.requested_procedure_id, sizeof o.requested_procedure_id, "R%d", i);
        assert_int_equal(pacs_orders_place(f->a, &o, &out, &ei), PACS_OK);
    }
    assert_int_equal(COUNT_WHERE(f, "00400001", "CT1"), 4);
    assert_int_equal(COUNT_WHERE(f, "00400001", "CT1", "00400002", "20261206"), 1);
    assert_int_equal(COUNT_WHERE(f, "00080060", "MR", "00400002", "20261206-20261207"), 2);
    assert_int_equal(COUNT_WHERE(f, "00400002", "20261207-"), 4);
    assert_int_equal(COUNT_WHERE(f, "00400002", "-20261205"), 2);
    assert_int_equal(COUNT_WHERE(f, "00080050", "KACC5"), 1);
    assert_int_equal(COUNT_WHERE(f, "00400009", "S6"), 1);
    assert_int_equal(COUNT_WHERE(f, "00401001", "R3"), 1);
    assert_int_equal(COUNT_WHERE(f, "00100020", "HN7"), 4);
    assert_int_equal(COUNT_WHERE(f, "00100020", "M7"), 4);
    assert_int_equal(COUNT_WHERE(f, "00100020", "M7", "00400001", "MR1"), 2);
    assert_int_equal(COUNT_WHERE(f, "00100020", "nobody"), 0);
    /* Keys the index does not narrow by still match: a wildcard station. */
    assert_int_equal(COUNT_WHERE(f, "00400001", "M*"), 4);
    /* A name, narrowed by a word of the patient's folded name: typed without diacritics (each
     * word begins one of the name's), with them (a pattern from the name's start), alone. */
    assert_int_equal(COUNT_WHERE(f, "00100010", "Do^Van*", "00080060", "CT"), 2);
    assert_int_equal(COUNT_WHERE(f, "00100010", "NAM"), 4);
    assert_int_equal(COUNT_WHERE(f, "00100010", "van*"), 4);
    assert_int_equal(COUNT_WHERE(f, "00100010", "Thi La*"), 4);
    assert_int_equal(COUNT_WHERE(f, "00100010", "Phạm^Thị*"), 4);
    assert_int_equal(COUNT_WHERE(f, "00100010", "Phạm^Văn*"), 0);
    assert_int_equal(COUNT_WHERE(f, "00100010", "*Lan"), 4);
    assert_int_equal(COUNT_WHERE(f, "00100010", "nguyen*"), 0);
    /* A renamed patient is found by the new name only. */
    pacs_patient ren;
    memset(&ren, 0, sizeof ren);
    ren.ids[ren.n_ids++] = pid("mrn", "M7");
    snprintf(ren.name, sizeof ren.name, "Đỗ^Văn Nhân");
    assert_int_equal(pacs_orders_patient_put(f->a, &ren, NULL, &ei), PACS_OK);
    assert_int_equal(COUNT_WHERE(f, "00100010", "NAM"), 0);
    assert_int_equal(COUNT_WHERE(f, "00100010", "nhan"), 4);
    /* A name query reads only the steps of the patients with that word: a step whose patient
     * row is missing (which would fail the query if read) is not read. */
    assert_int_equal(backend_sql(f->loc, "INSERT INTO orders(patient_pk, status, placer, filler,"
                                         " accession, study_uid, requested_procedure_id,"
                                         " procedure_code, procedure_scheme, procedure_text,"
                                         " referring, priority, sps_id, station_aet, station_name,"
                                         " modality, start_date, start_time, sps_text, mpps_uid)"
                                         " VALUES(99999, 0, 'KX', '', 'KACCX', '1.2.3.99', '', '',"
                                         " '', '', '', '', 'SX', 'ZZ', '', 'CT', '20261205', '',"
                                         " '', '');"),
                     0);
    assert_int_equal(COUNT_WHERE(f, "00100010", "nhan"), 4);
    assert_int_equal(COUNT_WHERE(f, "00100010", "Phạm^Thị*"), 4);
    assert_int_equal(backend_sql(f->loc, "DELETE FROM orders WHERE placer='KX';"), 0);
    /* Patients stored before the name words were kept (no words yet) are still read. */
    assert_int_equal(
        backend_sql(f->loc, "DELETE FROM his_patient_words; UPDATE his_patients SET words=0;"), 0);
    assert_int_equal(COUNT_WHERE(f, "00100010", "nhan"), 4);
    assert_int_equal(COUNT_WHERE(f, "00100010", "Phạm^Thị*"), 4);
    assert_int_equal(COUNT_WHERE(f, "00100010", "Phạm^Văn*"), 0);
    /* A cancelled step leaves every answer. */
    assert_int_equal(pacs_orders_cancel(f->a, "K5", &ei), PACS_OK);
    assert_int_equal(COUNT_WHERE(f, "00080050", "KACC5"), 0);
    assert_int_equal(COUNT_WHERE(f, "00400001", "MR1"), 3);
}

/* ---- reconciliation (orders_link.c) ---- */

#define CT_STUDY "1.3.6.1.4.1.5962.1.2.1.20040119072730.12322" /* CT_small's StudyInstanceUID */

/* pydicom's sample `name` stored through the ingest path, its AccessionNumber set to
 * `accession` first when not NULL (a copy, with DCMTK's dcmodify). */
static void store_sample(fixture *f, const char *name, const char *accession)
{
    char src[512], path[700];
    const char *base = getenv("SAMPLES");
    snprintf(src, sizeof src, "%s/test_files/%s.dcm",
             base && *base ? base : "/usr/lib/python3/dist-packages/pydicom/data", name);
    snprintf(path, sizeof path, "%s", src);
    if (accession) {
        snprintf(path, sizeof path, "%s/%s-%s.dcm", f->dir, name, accession);
        assert_int_equal(sh("cp '%s' '%s' && dcmodify -q -nb -i '(0008,0050)=%s' '%s'", src, path,
                            accession, path),
                         0);
    }
    pacs_ingest_result res;
    pacs_errinfo ei;
    if (pacs_archive_ingest_file(f->a, path, "CT1", &res, &ei) != PACS_OK) {
        fail_msg("ingest %s: %s", name, ei.msg);
    }
}

/* What a study-level query returns, from the index alone. */
typedef struct study_hits {
    size_t n;
    char pid[4][65], issuer[4][65], name[4][324], other[4][65];
} study_hits;

static char *text_of(const json_t *res, const char *tag)
{
    const json_t *v = json_array_get(json_object_get(json_object_get(res, tag), "Value"), 0);
    if (json_is_object(v)) {
        v = json_object_get(v, "Alphabetic");
    }
    return (char *)(json_is_string(v) ? json_string_value(v) : "");
}

static int study_cb(void *ctx, const json_t *res)
{
    study_hits *h = ctx;
    if (h->n < 4) {
        snprintf(h->pid[h->n], 65, "%s", text_of(res, "00100020"));
        snprintf(h->issuer[h->n], 65, "%s", text_of(res, "00100021"));
        snprintf(h->name[h->n], 324, "%s", text_of(res, "00100010"));
        const json_t *other =
            json_array_get(json_object_get(json_object_get(res, "00101002"), "Value"), 0);
        snprintf(h->other[h->n], 65, "%s", other ? text_of(other, "00100020") : "");
    }
    h->n++;
    return 0;
}

static study_hits studies_of(fixture *f, const char *patient_id)
{
    study_hits h;
    memset(&h, 0, sizeof h);
    pacs_query *q = pacs_query_new(PACS_LEVEL_STUDY);
    assert_non_null(q);
    pacs_errinfo ei;
    assert_int_equal(pacs_query_add(q, 0x00100020u, NULL, patient_id, &ei), PACS_OK);
    assert_int_equal(pacs_query_add(q, 0x00100010u, NULL, NULL, &ei), PACS_OK);
    assert_int_equal(pacs_query_add(q, 0x00100021u, NULL, NULL, &ei), PACS_OK);
    assert_int_equal(pacs_query_include(q, 0x00101002u, &ei), PACS_OK);
    assert_int_equal(pacs_archive_find(f->a, q, study_cb, &h, &ei), PACS_OK);
    pacs_query_free(q);
    return h;
}

/* The stored metadata of the one instance of CT_small. */
static int meta_cb(void *ctx, const pacs_instance_rec *rec)
{
    json_error_t jerr;
    *(json_t **)ctx = json_loadb(rec->metadata, rec->metadata_len, 0, &jerr);
    return 1;
}

static json_t *ct_metadata(fixture *f)
{
    pacs_query *q = pacs_query_new(PACS_LEVEL_STUDY);
    assert_non_null(q);
    pacs_errinfo ei;
    assert_int_equal(pacs_query_add(q, 0x0020000Du, NULL, CT_STUDY, &ei), PACS_OK);
    json_t *j = NULL;
    assert_int_equal(pacs_archive_instances(f->a, q, PACS_REC_METADATA, meta_cb, &j, &ei), PACS_OK);
    pacs_query_free(q);
    assert_non_null(j);
    return j;
}

/* Item `i` of the Original Attributes Sequence: the Modified Attributes Sequence's item. */
static const json_t *original(const json_t *meta, size_t i, size_t *n_items)
{
    const json_t *items = json_object_get(json_object_get(meta, "04000561"), "Value");
    *n_items = json_array_size(items);
    const json_t *item = json_array_get(items, i);
    return json_array_get(json_object_get(json_object_get(item, "04000550"), "Value"), 0);
}

/* What `plan` sends of `it` carries the survivor's identity of test_reconcile's merge. */
static void assert_survivor_sent(fixture *f, const pacs_resolve_item *it,
                                 const pacs_delivery_plan *plan)
{
    pacs_errinfo ei;
    pacs_delivery_stream stream;
    if (pacs_delivery_open(f->a, it, plan, &stream, &ei) != PACS_OK) {
        fail_msg("delivery as %s: %s", plan->ts, ei.msg);
    }
    char sent[700];
    snprintf(sent, sizeof sent, "%s/sent.dcm", f->dir);
    assert_int_equal(sh("cat /proc/%d/fd/%d > '%s'", (int)getpid(), stream.fd, sent), 0);
    pacs_delivery_stream_close(&stream);
    static const struct {
        uint32_t tag;
        const char *want;
    } expect[] = {
        {0x00100020u, "HN9990001"}, {0x00100010u, "Trần^Thị Bình"}, {0x00080005u, "ISO_IR 192"}};
    pacs_ds *ds = NULL;
    assert_int_equal(pacs_ds_load_file(sent, &ds, &ei), PACS_OK);
    for (size_t i = 0; i < sizeof expect / sizeof expect[0]; i++) {
        char *v = NULL;
        assert_int_equal(pacs_ds_get_string(ds, expect[i].tag, &v, &ei), PACS_OK);
        assert_string_equal(v, expect[i].want);
        free(v);
    }
    pacs_ds_free(ds);
    pacs_meta m;
    uint64_t start = 0;
    assert_int_equal(pacs_dcm_probe_file(sent, &m, &start, &ei), PACS_OK);
    assert_string_equal(m.transfer_syntax_uid, plan->ts);
}

/* Images an order names take its patient's identity in the index (C-FIND/QIDO answers, the
 * stored metadata with the received values in an Original Attributes Sequence item), the order
 * goes IN PROGRESS; an ADT update renames them, a merge moves them to the survivor, and all of
 * it survives a reopen. An instance no order names stays as received. */
static void test_reconcile(void **state)
{
    fixture *f = *state;
    pacs_errinfo ei;
    pacs_patient p;
    memset(&p, 0, sizeof p);
    p.ids[p.n_ids++] = pid("bhxh", "DN4010123456789");
    p.ids[p.n_ids++] = pid("mrn", "BN0001");
    snprintf(p.name, sizeof p.name, "Nguyễn^Văn An");
    snprintf(p.birth_date, sizeof p.birth_date, "19800215");
    snprintf(p.sex, sizeof p.sex, "M");
    int64_t an = 0;
    assert_int_equal(pacs_orders_patient_put(f->a, &p, &an, &ei), PACS_OK);
    /* CT_small by its Study Instance UID; MR_small by its accession number. */
    pacs_order o1 = order_for(an, "R1", "ACC-R1"), o2 = order_for(an, "R2", "ACC-R2"), out;
    snprintf(o1.study_uid, sizeof o1.study_uid, "%s", CT_STUDY);
    assert_int_equal(pacs_orders_place(f->a, &o1, &out, &ei), PACS_OK);
    assert_int_equal(pacs_orders_place(f->a, &o2, &out, &ei), PACS_OK);
    store_sample(f, "CT_small", NULL);
    store_sample(f, "MR_small", "ACC-R2");
    store_sample(f, "JPEG2000", NULL); /* no order names it */

    study_hits h = studies_of(f, "DN4010123456789");
    assert_int_equal(h.n, 2);
    assert_string_equal(h.name[0], "Nguyễn^Văn An");
    assert_string_equal(h.issuer[0], "BHXH");
    assert_string_equal(h.other[0], "BN0001");
    assert_string_equal(h.name[1], "Nguyễn^Văn An");
    assert_int_equal(studies_of(f, "1CT1").n, 0);
    assert_int_equal(studies_of(f, "4MR1").n, 0);
    h = studies_of(f, "8NM1");
    assert_int_equal(h.n, 1); /* JPEG2000: as received */
    pacs_order o;
    assert_int_equal(pacs_orders_get(f->a, "R1", NULL, NULL, &o, &ei), PACS_OK);
    assert_int_equal(o.status, PACS_ORDER_IN_PROGRESS);
    assert_int_equal(pacs_orders_get(f->a, "R2", NULL, NULL, &o, &ei), PACS_OK);
    assert_int_equal(o.status, PACS_ORDER_IN_PROGRESS);
    json_t *meta = ct_metadata(f);
    size_t n_items = 0;
    const json_t *old = original(meta, 0, &n_items);
    assert_int_equal(n_items, 1);
    assert_string_equal(text_of(old, "00100020"), "1CT1");
    assert_string_equal(text_of(old, "00100010"), "CompressedSamples^CT1");
    assert_string_equal(text_of(meta, "00100020"), "DN4010123456789");
    json_decref(meta);
    /* Stored again (the same bytes): nothing changes, no second item. */
    store_sample(f, "CT_small", NULL);
    meta = ct_metadata(f);
    original(meta, 0, &n_items);
    assert_int_equal(n_items, 1);
    json_decref(meta);

    /* ADT^A08: a new name. */
    pacs_patient upd;
    memset(&upd, 0, sizeof upd);
    upd.ids[upd.n_ids++] = pid("bhxh", "DN4010123456789");
    snprintf(upd.name, sizeof upd.name, "Nguyễn^Văn Anh");
    assert_int_equal(pacs_orders_patient_put(f->a, &upd, NULL, &ei), PACS_OK);
    h = studies_of(f, "DN4010123456789");
    assert_int_equal(h.n, 2);
    assert_string_equal(h.name[0], "Nguyễn^Văn Anh");
    assert_string_equal(h.name[1], "Nguyễn^Văn Anh");
    meta = ct_metadata(f);
    old = original(meta, 1, &n_items);
    assert_int_equal(n_items, 2);
    assert_string_equal(text_of(old, "00100010"), "Nguyễn^Văn An");
    assert_string_equal(text_of(original(meta, 0, &n_items), "00100020"), "1CT1");
    json_decref(meta);

    /* ADT^A40: into another patient; the studies follow the survivor. */
    int64_t b = register_patient(f, "bhxh", "HN9990001", "Trần^Thị Bình");
    pacs_patient_id survivor = pid("bhxh", "HN9990001"), retired = pid("bhxh", "DN4010123456789");
    assert_int_equal(pacs_orders_patient_merge(f->a, &survivor, &retired, &ei), PACS_OK);
    assert_int_equal(studies_of(f, "DN4010123456789").n, 0);
    h = studies_of(f, "HN9990001");
    assert_int_equal(h.n, 2);
    assert_string_equal(h.name[0], "Trần^Thị Bình");
    /* What goes out as a file: the CT converted in its own syntax with the survivor's identity
     * (the received PatientID in its Original Attributes Sequence); JPEG2000 as stored. */
    pacs_resolve_list l;
    assert_int_equal(pacs_resolve_uids(f->a, CT_STUDY, NULL, NULL, 0, 0, &l, &ei), PACS_OK);
    assert_int_equal(l.n, 1);
    assert_true(l.v[0].coerce);
    pacs_delivery_plan plan;
    assert_int_equal(pacs_delivery_plan_for(&l.v[0], l.v[0].ts, 0, &plan, &ei), PACS_OK);
    assert_int_equal(plan.kind, PACS_DELIVERY_CONVERTED);
    assert_survivor_sent(f, &l.v[0], &plan);
    /* ... and transcoded (RLE), the same. */
    assert_int_equal(pacs_delivery_plan_for(&l.v[0], "1.2.840.10008.1.2.5", 0, &plan, &ei),
                     PACS_OK);
    assert_int_equal(plan.kind, PACS_DELIVERY_TRANSCODED);
    assert_survivor_sent(f, &l.v[0], &plan);
    pacs_resolve_list_free(&l);
    assert_int_equal(pacs_resolve_uids(f->a, "1.3.6.1.4.1.5962.1.2.8.20040826185059.5457", NULL,
                                       NULL, 0, 0, &l, &ei),
                     PACS_OK);
    assert_false(l.v[0].coerce);
    assert_int_equal(pacs_delivery_plan_for(&l.v[0], l.v[0].ts, 0, &plan, &ei), PACS_OK);
    assert_int_equal(plan.kind, PACS_DELIVERY_AS_STORED);
    pacs_resolve_list_free(&l);

    pacs_index_stats st;
    assert_int_equal(pacs_archive_stats(f->a, &st, &ei), PACS_OK);
    assert_int_equal(st.patients, 2); /* the survivor and JPEG2000's; the retired row is gone */
    assert_int_equal(st.studies, 3);

    /* Reopened: all of it kept; a new image of the merged patient's order follows too. */
    pacs_archive_close(f->a);
    f->a = NULL;
    open_archive(f);
    h = studies_of(f, "HN9990001");
    assert_int_equal(h.n, 2);
    assert_string_equal(h.name[1], "Trần^Thị Bình");
    assert_int_equal(pacs_orders_get(f->a, "R1", NULL, NULL, &o, &ei), PACS_OK);
    assert_int_equal(o.patient, b);
    assert_int_equal(o.status, PACS_ORDER_IN_PROGRESS);

    /* pacs reindex: the index rebuilt from the objects as received is reconciled again. */
    pacs_archive_close(f->a);
    f->a = NULL;
    uint64_t indexed = 0;
    assert_int_equal(pacs_archive_reindex(f->cfg, NULL, NULL, NULL, &indexed, &ei), PACS_OK);
    assert_int_equal(indexed, 3);
    open_archive(f);
    assert_int_equal(studies_of(f, "1CT1").n, 0);
    h = studies_of(f, "HN9990001");
    assert_int_equal(h.n, 2);
    assert_string_equal(h.name[0], "Trần^Thị Bình");
    meta = ct_metadata(f);
    assert_string_equal(text_of(original(meta, 0, &n_items), "00100020"), "1CT1");
    assert_int_equal(n_items, 1);
    json_decref(meta);
}

/* Images stored before their order: placing it (by Study Instance UID, or by accession
 * number) reconciles the stored study in the same transaction and takes the order IN
 * PROGRESS; a study another order already holds keeps that order's patient. */
static void test_reconcile_late(void **state)
{
    fixture *f = *state;
    pacs_errinfo ei;
    store_sample(f, "CT_small", NULL);
    store_sample(f, "MR_small", "ACC-L2");
    int64_t an = register_patient(f, "bhxh", "DN4010123456789", "Nguyễn^Văn An");
    assert_int_equal(studies_of(f, "DN4010123456789").n, 0);
    assert_int_equal(studies_of(f, "1CT1").n, 1);

    pacs_order o1 = order_for(an, "L1", "ACC-L1"), o2 = order_for(an, "L2", "ACC-L2"), out;
    snprintf(o1.study_uid, sizeof o1.study_uid, "%s", CT_STUDY);
    assert_int_equal(pacs_orders_place(f->a, &o1, &out, &ei), PACS_OK);
    assert_int_equal(out.status, PACS_ORDER_IN_PROGRESS);
    study_hits h = studies_of(f, "DN4010123456789");
    assert_int_equal(h.n, 1);
    assert_string_equal(h.name[0], "Nguyễn^Văn An");
    assert_int_equal(studies_of(f, "1CT1").n, 0);
    json_t *meta = ct_metadata(f);
    size_t n_items = 0;
    assert_string_equal(text_of(original(meta, 0, &n_items), "00100020"), "1CT1");
    assert_int_equal(n_items, 1);
    json_decref(meta);
    /* What goes out as a file is coerced, as for images that arrive after their order. */
    pacs_resolve_list l;
    assert_int_equal(pacs_resolve_uids(f->a, CT_STUDY, NULL, NULL, 0, 0, &l, &ei), PACS_OK);
    assert_true(l.v[0].coerce);
    pacs_resolve_list_free(&l);

    assert_int_equal(pacs_orders_place(f->a, &o2, &out, &ei), PACS_OK);
    assert_int_equal(out.status, PACS_ORDER_IN_PROGRESS);
    assert_int_equal(studies_of(f, "DN4010123456789").n, 2);
    assert_int_equal(studies_of(f, "4MR1").n, 0);
    pacs_order o;
    assert_int_equal(pacs_orders_get(f->a, "L2", NULL, NULL, &o, &ei), PACS_OK);
    assert_int_equal(o.status, PACS_ORDER_IN_PROGRESS);

    /* An order of another patient naming the MR's study: the MR stays with its first order. */
    int64_t b = register_patient(f, "bhxh", "HN9990001", "Trần^Thị Bình");
    pacs_order o3 = order_for(b, "L3", "ACC-L3");
    snprintf(o3.study_uid, sizeof o3.study_uid, "%s", "1.3.6.1.4.1.5962.1.2.4.20040826185059.5457");
    assert_int_equal(pacs_orders_place(f->a, &o3, &out, &ei), PACS_OK);
    assert_int_equal(out.status, PACS_ORDER_SCHEDULED);
    assert_int_equal(studies_of(f, "HN9990001").n, 0);
    assert_int_equal(studies_of(f, "DN4010123456789").n, 2);

    /* Reopened: kept. */
    pacs_archive_close(f->a);
    f->a = NULL;
    open_archive(f);
    h = studies_of(f, "DN4010123456789");
    assert_int_equal(h.n, 2);
    assert_string_equal(h.name[1], "Nguyễn^Văn An");
    assert_int_equal(studies_of(f, "1CT1").n, 0);
}

/* Attributes of an N-SET that completes a step, reporting `series` performed. */
static json_t *mpps_performed(const char *series)
{
    json_t *j = mpps_attrs("COMPLETED", NULL);
    json_object_set_new(j, "00400340",
                        json_pack("{s:s,s:[{s:{s:s,s:[s]}}]}", "vr", "SQ", "Value", "0020000E",
                                  "vr", "UI", "Value", series));
    return j;
}

/* A modality that writes no accession number into its images, but an MPPS whose Performed
 * Series Sequence names their series: the series' studies are reconciled to the MPPS's order,
 * stored before the N-SET or after it, and stay so after pacs reindex. */
static void test_mpps_series(void **state)
{
    fixture *f = *state;
    pacs_errinfo ei;
    int64_t an = register_patient(f, "bhxh", "DN4010123456789", "Nguyễn^Văn An");
    pacs_order o1 = order_for(an, "M1", "ACC-M1"), o2 = order_for(an, "M2", "ACC-M2"), out;
    assert_int_equal(pacs_orders_place(f->a, &o1, &out, &ei), PACS_OK);
    assert_int_equal(pacs_orders_place(f->a, &o2, &out, &ei), PACS_OK);

    /* Before: the CT is stored, then its MPPS completes naming its series. */
    store_sample(f, "CT_small", NULL);
    json_t *a = mpps_attrs("IN PROGRESS", "ACC-M1");
    assert_int_equal(pacs_orders_mpps_create(f->a, "1.2.9.1", a, &ei), PACS_OK);
    json_decref(a);
    assert_int_equal(studies_of(f, "DN4010123456789").n, 0);
    a = mpps_performed("1.3.6.1.4.1.5962.1.3.1.1.20040119072730.12322");
    assert_int_equal(pacs_orders_mpps_set(f->a, "1.2.9.1", a, &ei), PACS_OK);
    json_decref(a);
    study_hits h = studies_of(f, "DN4010123456789");
    assert_int_equal(h.n, 1);
    assert_string_equal(h.name[0], "Nguyễn^Văn An");
    assert_int_equal(studies_of(f, "1CT1").n, 0);
    pacs_order o;
    assert_int_equal(pacs_orders_get(f->a, "M1", NULL, NULL, &o, &ei), PACS_OK);
    assert_int_equal(o.status, PACS_ORDER_COMPLETED);

    /* After: the MR's MPPS completes first, then the MR arrives. */
    a = mpps_attrs("IN PROGRESS", "ACC-M2");
    assert_int_equal(pacs_orders_mpps_create(f->a, "1.2.9.2", a, &ei), PACS_OK);
    json_decref(a);
    a = mpps_performed("1.3.6.1.4.1.5962.1.3.4.1.20040826185059.5457");
    assert_int_equal(pacs_orders_mpps_set(f->a, "1.2.9.2", a, &ei), PACS_OK);
    json_decref(a);
    store_sample(f, "MR_small", NULL);
    assert_int_equal(studies_of(f, "DN4010123456789").n, 2);
    assert_int_equal(studies_of(f, "4MR1").n, 0);

    /* pacs reindex: the MPPS instances are copied, their series with them. */
    pacs_archive_close(f->a);
    f->a = NULL;
    uint64_t indexed = 0;
    assert_int_equal(pacs_archive_reindex(f->cfg, NULL, NULL, NULL, &indexed, &ei), PACS_OK);
    assert_int_equal(indexed, 2);
    open_archive(f);
    assert_int_equal(studies_of(f, "DN4010123456789").n, 2);
    assert_int_equal(studies_of(f, "1CT1").n, 0);
}

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_patients, setup, teardown),
        cmocka_unit_test_setup_teardown(test_orders, setup, teardown),
        cmocka_unit_test_setup_teardown(test_worklist_merge_mpps, setup, teardown),
        cmocka_unit_test_setup_teardown(test_worklist_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_copy, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reconcile, setup, teardown),
        cmocka_unit_test_setup_teardown(test_reconcile_late, setup, teardown),
        cmocka_unit_test_setup_teardown(test_mpps_series, setup, teardown),
    };
    pacs_errinfo ei;
    if (pacs_dcm_init(&ei) != PACS_OK) { /* the codecs a transcoded delivery uses */
        fprintf(stderr, "pacs_dcm_init: %s\n", ei.msg);
        return 1;
    }
    int rc = backends_init(argc, argv);
    if (rc == 0) {
        rc = cmocka_run_group_tests_name(backends_name("orders"), tests, NULL, NULL);
    }
    return backends_fini(rc);
}
