// SPDX-License-Identifier: MIT
/*
 * The orders store (storage/orders.h) on a real archive, on SQLite and (argument
 * "postgresql") on PostgreSQL, as the index tests run (index_backends.h): patients and their
 * identifiers, orders placed, resent, changed and cancelled, the worklist and its keys, merges,
 * MPPS moving an order through its states, the copy to another index, and a reopened archive
 * keeping all of it. Images reconciled to orders: test_orders_link.c.
 */
#include "storage/tests/orders_fixture.h"

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

/* A batch (a FHIR transaction): a new patient and an order naming it, both or neither. */
static void test_batch(void **state)
{
    fixture *f = *state;
    pacs_errinfo ei;
    int64_t k = register_patient(f, "bhxh", "HN9", "Vũ^Thị Mai");
    pacs_order first = order_for(k, "B1", "ACC-B1"), out;
    assert_int_equal(pacs_orders_place(f->a, &first, &out, &ei), PACS_OK);
    pacs_patient p;
    memset(&p, 0, sizeof p);
    p.ids[p.n_ids++] = pid("bhxh", "HN10");
    snprintf(p.name, sizeof p.name, "Đỗ^Văn Hùng");
    pacs_orders_op ops[2];
    memset(ops, 0, sizeof ops);
    ops[0].kind = PACS_ORDERS_OP_PATIENT;
    ops[0].patient = &p;
    ops[1].kind = PACS_ORDERS_OP_PLACE;
    ops[1].order = order_for(0, "B2", "ACC-B1"); /* B1's accession number: refused */
    ops[1].patient_op = 1;
    size_t failed = 9;
    assert_int_equal(pacs_orders_batch(f->a, ops, 2, &failed, &ei), PACS_ECONFLICT);
    assert_int_equal(failed, 1);
    pacs_patient got;
    pacs_patient_id hn10 = pid("bhxh", "HN10");
    assert_int_equal(pacs_orders_patient_get(f->a, &hn10, &got, &ei), PACS_ENOTFOUND);
    assert_int_equal(pacs_orders_get(f->a, "B2", NULL, NULL, &out, &ei), PACS_ENOTFOUND);
    /* With an accession number of its own both are stored, the order for the new patient. */
    snprintf(ops[1].order.accession, sizeof ops[1].order.accession, "ACC-B2");
    assert_int_equal(pacs_orders_batch(f->a, ops, 2, &failed, &ei), PACS_OK);
    assert_int_equal(pacs_orders_patient_get(f->a, &hn10, &got, &ei), PACS_OK);
    assert_int_equal(got.key, ops[0].key);
    assert_int_equal(pacs_orders_get(f->a, "B2", NULL, NULL, &out, &ei), PACS_OK);
    assert_int_equal(out.patient, ops[0].key);
    assert_string_equal(ops[1].out.accession, "ACC-B2");
    /* A change of B1 (the first patient's) given to the new patient is refused. */
    ops[1].kind = PACS_ORDERS_OP_CHANGE;
    ops[1].order = order_for(0, "B1", "");
    assert_int_equal(pacs_orders_batch(f->a, ops, 2, &failed, &ei), PACS_ECONFLICT);
    assert_int_equal(pacs_orders_get(f->a, "B1", NULL, NULL, &out, &ei), PACS_OK);
    assert_int_equal(out.patient, k);
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

int main(int argc, char **argv)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_patients, setup, teardown),
        cmocka_unit_test_setup_teardown(test_orders, setup, teardown),
        cmocka_unit_test_setup_teardown(test_batch, setup, teardown),
        cmocka_unit_test_setup_teardown(test_worklist_merge_mpps, setup, teardown),
        cmocka_unit_test_setup_teardown(test_worklist_keys, setup, teardown),
        cmocka_unit_test_setup_teardown(test_copy, setup, teardown),
    };
    int rc = backends_init(argc, argv);
    if (rc == 0) {
        rc = cmocka_run_group_tests_name(backends_name("orders"), tests, NULL, NULL);
    }
    return backends_fini(rc);
}
