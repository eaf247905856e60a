// SPDX-License-Identifier: MIT
/*
 * Images reconciled to their order's patient (storage/orders_link.c) on a real archive, on
 * SQLite and (argument "postgresql") on PostgreSQL: whether they arrive after the order or
 * before it, moved with the patient by an update or a merge, or named only by an MPPS's
 * Performed Series Sequence; what every retrieve sends for them; and pacs reindex keeping it.
 */
#include "pacs/dicom/dcm.h"
#include "storage/delivery.h"
#include "storage/resolve.h"
#include "storage/tests/orders_fixture.h"

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
        rc = cmocka_run_group_tests_name(backends_name("orders_link"), tests, NULL, NULL);
    }
    return backends_fini(rc);
}
