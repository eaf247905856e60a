// SPDX-License-Identifier: MIT
/*
 * Reconciliation of stored images to the HIS's orders (orders_store.h), over the index core's
 * driver for both backends. At ingest, an instance whose AccessionNumber (else its
 * StudyInstanceUID) names an order is indexed under the order's patient: its DICOM JSON is
 * reconciled to the patient's identity (pacs_orders__reconcile_json: the values received kept
 * in an Original Attributes Sequence item) before the index derives its rows from it, its
 * study is linked to the order (his_studies), and a SCHEDULED order goes IN PROGRESS. When the
 * HIS later changes the patient (ADT update) or merges it into another (ADT^A40), the linked
 * studies are restated: every instance's stored metadata, the study's patient columns and the
 * index patient row it is filed under. The objects are never touched; the delivery plan
 * (delivery.c) coerces the patient attributes of the copies it sends of a linked study's
 * instances (pacs_orders__study_linked).
 *
 * Load: one indexed look-up of the orders per stored instance (two when the accession number
 * names none); a restatement rewrites each instance of the patient's linked studies, which an
 * ADT message does rarely. Runs on the index's writer thread only, inside its transaction.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pacs/base/buf.h"
#include "pacs/dicom/part10.h"
#include "storage/catalog.h"
#include "storage/orders_item.h"
#include "storage/orders_store.h"

/* The time of a change, as DICOM DT in UTC. */
static void now_dt(char out[15])
{
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 15, "%Y%m%d%H%M%S", &tm);
}

/* The patient `pk` names, following merges to the survivor. */
static pacs_err load_current(pacs_index *idx, pacs_db *db, int64_t pk, pacs_patient *p,
                             pacs_errinfo *ei)
{
    pacs_err err = pacs_orders__patient_load(idx, db, pk, p, ei);
    for (int hops = 0; err == PACS_OK && p->merged_into && hops < 16; hops++) {
        err = pacs_orders__patient_load(idx, db, p->merged_into, p, ei);
    }
    return err;
}

pacs_err pacs_orders__link_instance(pacs_index *idx, pacs_db *db, const pacs_index_entry *e,
                                    json_t **out, pacs_put_result *res, pacs_errinfo *ei)
{
    *out = NULL;
    pacs_order o;
    pacs_err err = PACS_ENOTFOUND;
    char *accession = pacs_json_text(e->json, 0x00080050u);
    if (accession && accession[0]) {
        err = pacs_orders__get(idx, db, NULL, accession, NULL, NULL, 0, &o, ei);
    }
    free(accession);
    if (err == PACS_ENOTFOUND && e->study_uid && e->study_uid[0]) {
        err = pacs_orders__get(idx, db, NULL, NULL, e->study_uid, NULL, 0, &o, ei);
    }
    if (err == PACS_ENOTFOUND && e->series_uid && e->study_uid) {
        /* A series an order's MPPS performed, else a study linked to an order already. */
        pacs_index__result r;
        pacs_errinfo_clear(ei);
        err = pacs_index__run(idx, db, PACS_SQL_LINK_OF_SERIES,
                              "SELECT order_pk FROM his_series WHERE series_uid=$1 UNION ALL"
                              " SELECT order_pk FROM his_studies WHERE study_uid=$2",
                              &r, 1, ei, "ss", e->series_uid, e->study_uid);
        if (err == PACS_OK && r.found) {
            err = pacs_orders__get(idx, db, NULL, NULL, NULL, NULL, r.v[0], &o, ei);
        } else if (err == PACS_OK) {
            err = PACS_ENOTFOUND;
        }
    }
    if (err == PACS_ENOTFOUND) {
        pacs_errinfo_clear(ei);
        return PACS_OK;
    }
    if (err != PACS_OK) {
        return err;
    }
    pacs_patient p;
    err = load_current(idx, db, o.patient, &p, ei);
    if (err != PACS_OK) {
        return err;
    }
    json_t *identity =
        pacs_orders__patient_json(&p, (char(*)[17])e->id_systems, e->n_id_systems, 0);
    json_t *copy = json_deep_copy(e->json);
    char when[15];
    now_dt(when);
    if (!identity || !copy || pacs_orders__reconcile_json(copy, identity, when) < 0) {
        err = pacs_errf(ei, PACS_ENOMEM, "out of memory");
        goto fail;
    }
    pacs_index__result r;
    err = pacs_index__run(idx, db, PACS_SQL_LINK_ADD, PACS_ORDERS__SQL_LINK_ADD, &r, 0, ei, "si",
                          e->study_uid, (long long)o.key);
    res->study_linked = err == PACS_OK && r.changes > 0;
    if (err == PACS_OK && o.status == PACS_ORDER_SCHEDULED) {
        o.status = PACS_ORDER_IN_PROGRESS;
        err = pacs_orders__write(idx, db, &o, ei);
        res->order_started = err == PACS_OK;
    }
    if (err != PACS_OK) {
        goto fail;
    }
    char *pid = pacs_json_text(copy, 0x00100020u);
    snprintf(res->patient_id, sizeof res->patient_id, "%s", pid ? pid : "");
    free(pid);
    snprintf(res->order_placer, sizeof res->order_placer, "%s", o.placer);
    res->reconciled = 1;
    json_decref(identity);
    *out = copy;
    return PACS_OK;

fail:
    json_decref(identity);
    json_decref(copy);
    return err;
}

/* ---- restating the studies of a changed patient ---- */

/* Keys (pk > 0) or texts read from a statement's first column. */
typedef struct col_list {
    long long *pks;
    char (*uids)[65];
    size_t n;
} col_list;

/* Reads the first column of statement `slot` (its parameters bound from `fmt`, as
 * pacs_index__run binds them) into `out`: texts when `as_text`, else integers. */
static pacs_err read_column(pacs_index *idx, pacs_db *db, int slot, const char *sql, int as_text,
                            col_list *out, pacs_errinfo *ei, const char *fmt, ...)
{
    pacs_db_stmt *st = pacs_index__stmt(idx, db, slot, sql, ei);
    if (!st) {
        return ei->code;
    }
    va_list ap;
    va_start(ap, fmt);
    pacs_index__bind_args(idx, st, fmt, ap);
    va_end(ap);
    size_t cap = 0;
    pacs_err err = PACS_OK;
    int rc;
    /* Read to the end: a statement the writer leaves early is cancelled. */
    while ((rc = idx->db->step(st, ei)) == 1) {
        if (err != PACS_OK) {
            continue;
        }
        if (out->n == cap) {
            cap = cap ? 2 * cap : 16;
            void *more = as_text ? realloc(out->uids, cap * sizeof *out->uids)
                                 : realloc(out->pks, cap * sizeof *out->pks);
            if (!more) {
                err = pacs_errf(ei, PACS_ENOMEM, "out of memory");
                continue;
            }
            if (as_text) {
                out->uids = more;
            } else {
                out->pks = more;
            }
        }
        if (as_text) {
            size_t len = 0;
            const char *v = idx->db->column(st, 0, &len);
            snprintf(out->uids[out->n++], 65, "%.*s", v ? (int)len : 0, v ? v : "");
        } else {
            out->pks[out->n++] = idx->db->column_int(st, 0);
        }
    }
    idx->db->done(st);
    if (err == PACS_OK && rc < 0) {
        err = ei->code != PACS_OK ? ei->code : PACS_EDB;
    }
    return err;
}

/* Instance `pk`'s stored metadata reconciled to `identity` and written back when it changed;
 * `*json` receives it (the caller decrefs it). */
static pacs_err restate_instance(pacs_index *idx, pacs_db *db, long long pk, const json_t *identity,
                                 const char *when, json_t **json, int *changed, pacs_errinfo *ei)
{
    pacs_db_stmt *st = pacs_index__stmt(idx, db, PACS_SQL_LINK_METADATA,
                                        "SELECT metadata FROM instances WHERE pk=$1", ei);
    if (!st) {
        return ei->code;
    }
    idx->db->bind_int(st, 1, pk);
    pacs_buf b;
    pacs_buf_init(&b, 64u << 20);
    pacs_err err = PACS_OK;
    int rc, rows = 0;
    while ((rc = idx->db->step(st, ei)) == 1) {
        size_t n = 0;
        const char *z = idx->db->column(st, 0, &n);
        if (rows++ == 0) {
            err = pacs_index__decompress(z, n, &b, ei);
        }
    }
    idx->db->done(st);
    if (err == PACS_OK && rc < 0) {
        err = ei->code != PACS_OK ? ei->code : PACS_EDB;
    }
    json_t *j = NULL;
    if (err == PACS_OK && rows == 1) {
        json_error_t jerr;
        j = json_loadb(b.data, b.len, 0, &jerr);
        if (!j) {
            err =
                pacs_errf(ei, PACS_ECORRUPT, "stored metadata of instance %lld: %s", pk, jerr.text);
        }
    }
    pacs_buf_free(&b);
    int n = err == PACS_OK && j ? pacs_orders__reconcile_json(j, identity, when) : 0;
    if (n < 0) {
        err = pacs_errf(ei, PACS_ENOMEM, "out of memory");
    }
    if (err == PACS_OK && n > 0) {
        void *meta = NULL;
        size_t meta_len = 0;
        err = pacs_index__compress_json(j, &meta, &meta_len, ei);
        if (err == PACS_OK) {
            err = pacs_index__run(idx, db, PACS_SQL_LINK_METADATA_SET,
                                  "UPDATE instances SET metadata=$1 WHERE pk=$2", NULL, 0, ei, "bi",
                                  (const void *)meta, meta_len, pk);
        }
        free(meta);
        *changed = 1;
    }
    if (err != PACS_OK) {
        json_decref(j);
        return err;
    }
    *json = j;
    return PACS_OK;
}

/* Adds to an index patient row's counts (negative: takes away). */
static pacs_err move_counts(pacs_index *idx, pacs_db *db, long long patient_pk, long long sign,
                            long long series, long long instances, pacs_errinfo *ei)
{
    return pacs_index__run(idx, db, PACS_SQL_LINK_PATIENT_MOVE,
                           "UPDATE patients SET num_studies=num_studies+$2,"
                           " num_series=num_series+$3, num_instances=num_instances+$4"
                           " WHERE pk=$1",
                           NULL, 0, ei, "iiii", patient_pk, sign, sign * series, sign * instances);
}

/* One linked study restated to `identity`; `*changed` when anything was written. */
static pacs_err restate_study(pacs_index *idx, pacs_db *db, const char *uid, const json_t *identity,
                              const char *when, int *changed, pacs_errinfo *ei)
{
    pacs_db_stmt *st = pacs_index__stmt(idx, db, PACS_SQL_LINK_STUDY,
                                        "SELECT pk, patient_pk, num_series, num_instances"
                                        " FROM studies WHERE study_uid=$1{U}",
                                        ei);
    if (!st) {
        return ei->code;
    }
    idx->db->bind_text(st, 1, uid);
    long long v[4] = {0, 0, 0, 0};
    int rc, found = 0;
    while ((rc = idx->db->step(st, ei)) == 1) {
        for (int c = 0; c < 4; c++) {
            v[c] = idx->db->column_int(st, c);
        }
        found = 1;
    }
    idx->db->done(st);
    if (rc < 0) {
        return ei->code != PACS_OK ? ei->code : PACS_EDB;
    }
    if (!found) {
        return PACS_OK; /* linked, but no longer (or not yet) stored */
    }
    long long study_pk = v[0], old_patient = v[1];
    col_list inst = {0};
    pacs_err err = read_column(idx, db, PACS_SQL_LINK_INSTANCES,
                               "SELECT i.pk FROM instances i JOIN series se ON i.series_pk=se.pk"
                               " WHERE se.study_pk=$1 ORDER BY i.pk",
                               0, &inst, ei, "i", study_pk);
    json_t *last = NULL;
    for (size_t i = 0; err == PACS_OK && i < inst.n; i++) {
        json_t *j = NULL;
        err = restate_instance(idx, db, inst.pks[i], identity, when, &j, changed, ei);
        if (j) {
            json_decref(last);
            last = j;
        }
    }
    free(inst.pks);
    if (err != PACS_OK || !last) {
        json_decref(last);
        return err;
    }
    /* The study's patient columns and its index patient row, from the reconciled metadata. */
    pacs_index__fields f;
    pacs_index__fields_load(&f, last);
    char *attrs = pacs_index__level_attrs_text(last, PACS_LEVEL_PATIENT);
    long long new_patient = 0;
    err = attrs ? pacs_index__put_patient(idx, db, &f, attrs, &new_patient, ei)
                : pacs_errf(ei, PACS_ENOMEM, "out of memory");
    if (err == PACS_OK) {
        err = pacs_index__run(idx, db, PACS_SQL_LINK_STUDY_SET,
                              "UPDATE studies SET patient_pk=$1, patient_name=$2,"
                              " patient_name_ci=$3, patient_name_fold=$4, patient_id=$5,"
                              " issuer=$6, birth_date=$7, sex=$8 WHERE pk=$9",
                              NULL, 0, ei, "isssssssi", new_patient, f.name, f.name_ci, f.name_fold,
                              f.patient_id ? f.patient_id : "", f.issuer ? f.issuer : "",
                              f.birth_date, f.sex, study_pk);
    }
    if (err == PACS_OK && new_patient != old_patient) {
        *changed = 1;
        err = move_counts(idx, db, new_patient, 1, v[2], v[3], ei);
        if (err == PACS_OK) {
            err = move_counts(idx, db, old_patient, -1, v[2], v[3], ei);
        }
        if (err == PACS_OK) {
            err = pacs_index__run(idx, db, PACS_SQL_LINK_PATIENT_DROP,
                                  "DELETE FROM patients WHERE pk=$1 AND num_studies<=0", NULL, 0,
                                  ei, "i", old_patient);
        }
    }
    free(attrs);
    pacs_index__fields_free(&f);
    json_decref(last);
    return err;
}

/* The identity the studies of patient `pk` (following merges) are served with, the PatientID
 * it serves in `out`, and the time of the change in `when`. */
static pacs_err served_identity(pacs_index *idx, pacs_db *db, int64_t pk, char (*systems)[17],
                                size_t n_systems, pacs_orders__restated *out, json_t **identity,
                                char when[15], pacs_errinfo *ei)
{
    pacs_patient p;
    pacs_err err = load_current(idx, db, pk, &p, ei);
    *identity = err == PACS_OK ? pacs_orders__patient_json(&p, systems, n_systems, 0) : NULL;
    if (err == PACS_OK && !*identity) {
        err = pacs_errf(ei, PACS_ENOMEM, "out of memory");
    }
    char *served = *identity ? pacs_json_text(*identity, 0x00100020u) : NULL;
    snprintf(out->patient_id, sizeof out->patient_id, "%s", served ? served : "");
    free(served);
    now_dt(when);
    return err;
}

pacs_err pacs_orders__restate(pacs_index *idx, pacs_db *db, int64_t pk, char (*systems)[17],
                              size_t n_systems, pacs_orders__restated *out, pacs_errinfo *ei)
{
    pacs_orders__restated_free(out);
    col_list studies = {0};
    pacs_err err = read_column(idx, db, PACS_SQL_LINK_STUDIES,
                               "SELECT l.study_uid FROM his_studies l JOIN orders o"
                               " ON o.pk=l.order_pk WHERE o.patient_pk=$1 ORDER BY l.study_uid",
                               1, &studies, ei, "i", (long long)pk);
    if (err != PACS_OK || studies.n == 0) {
        free(studies.uids);
        return err;
    }
    json_t *identity = NULL;
    char when[15];
    err = served_identity(idx, db, pk, systems, n_systems, out, &identity, when, ei);
    for (size_t i = 0; err == PACS_OK && i < studies.n; i++) {
        int changed = 0;
        err = restate_study(idx, db, studies.uids[i], identity, when, &changed, ei);
        if (err == PACS_OK && changed) {
            memmove(studies.uids[out->n++], studies.uids[i], sizeof studies.uids[i]);
        }
    }
    json_decref(identity);
    if (err != PACS_OK) {
        out->n = 0;
        free(studies.uids);
        return err;
    }
    out->uids = studies.uids;
    return PACS_OK;
}

void pacs_orders__restated_free(pacs_orders__restated *r)
{
    free(r->uids);
    r->uids = NULL;
    r->n = 0;
}

pacs_err pacs_orders__link_stored(pacs_index *idx, pacs_db *db, pacs_order *o, char (*systems)[17],
                                  size_t n_systems, pacs_orders__restated *out, int *started,
                                  pacs_errinfo *ei)
{
    pacs_orders__restated_free(out);
    *started = 0;
    /* The stored studies the order names (its Study Instance UID, its accession number, a
     * series its MPPS performed) that no order holds yet (a study linked to another order
     * keeps that order's patient). */
    col_list studies = {0};
    pacs_err err =
        read_column(idx, db, PACS_SQL_LINK_STORED,
                    "SELECT s.study_uid FROM studies s"
                    " LEFT JOIN his_studies l ON l.study_uid=s.study_uid"
                    " WHERE (s.study_uid=$1 OR s.accession=$2 OR s.pk IN"
                    " (SELECT se.study_pk FROM his_series hs JOIN series se"
                    " ON se.series_uid=hs.series_uid WHERE hs.order_pk=$3))"
                    " AND l.order_pk IS NULL ORDER BY s.study_uid",
                    1, &studies, ei, "ssi", o->study_uid, o->accession, (long long)o->key);
    if (err != PACS_OK || studies.n == 0) {
        free(studies.uids);
        return err;
    }
    json_t *identity = NULL;
    char when[15];
    err = served_identity(idx, db, o->patient, systems, n_systems, out, &identity, when, ei);
    for (size_t i = 0; err == PACS_OK && i < studies.n; i++) {
        int changed = 0;
        err = pacs_index__run(idx, db, PACS_SQL_LINK_ADD, PACS_ORDERS__SQL_LINK_ADD, NULL, 0, ei,
                              "si", studies.uids[i], (long long)o->key);
        if (err == PACS_OK) {
            err = restate_study(idx, db, studies.uids[i], identity, when, &changed, ei);
        }
    }
    json_decref(identity);
    if (err == PACS_OK && o->status == PACS_ORDER_SCHEDULED) {
        o->status = PACS_ORDER_IN_PROGRESS;
        err = pacs_orders__write(idx, db, o, ei);
        *started = err == PACS_OK;
    }
    if (err != PACS_OK) {
        free(studies.uids);
        *started = 0;
        return err;
    }
    out->uids = studies.uids;
    out->n = studies.n;
    return PACS_OK;
}

pacs_err pacs_orders__mpps_series(pacs_index *idx, pacs_db *db, int64_t order_pk,
                                  const json_t *attrs, pacs_errinfo *ei)
{
    const json_t *items = json_object_get(json_object_get(attrs, "00400340"), "Value");
    pacs_err err = PACS_OK;
    for (size_t i = 0; order_pk && err == PACS_OK && i < json_array_size(items); i++) {
        char *uid = pacs_json_text(json_array_get(items, i), 0x0020000Eu);
        if (uid && pacs_uid_valid(uid)) {
            err =
                pacs_index__run(idx, db, PACS_SQL_LINK_SERIES_ADD,
                                "INSERT INTO his_series(series_uid, order_pk) VALUES($1, $2)"
                                " ON CONFLICT(series_uid) DO UPDATE SET order_pk=excluded.order_pk",
                                NULL, 0, ei, "si", uid, (long long)order_pk);
        }
        free(uid);
    }
    return err;
}

typedef struct linked_job {
    const char *uid;
    int linked;
} linked_job;

static pacs_err do_linked(pacs_index *idx, pacs_db *db, void *ctx, pacs_errinfo *ei)
{
    linked_job *j = ctx;
    pacs_index__result r;
    pacs_err err = pacs_index__run(idx, db, PACS_SQL_LINK_OF_STUDY,
                                   "SELECT order_pk FROM his_studies WHERE study_uid=$1", &r, 1, ei,
                                   "s", j->uid);
    j->linked = err == PACS_OK && r.found;
    return err;
}

pacs_err pacs_orders__study_linked(pacs_index *idx, const char *study_uid, int *linked,
                                   pacs_errinfo *ei)
{
    linked_job j = {study_uid, 0};
    pacs_err err = pacs_index__read(idx, do_linked, &j, ei);
    *linked = j.linked;
    return err;
}
