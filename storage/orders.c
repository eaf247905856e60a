// SPDX-License-Identifier: MIT
/*
 * Orders and patients (orders.h), written once over the index core's SQL driver
 * (index_core.h), so that SQLite and PostgreSQL keep the same records: the tables are
 * PACS_INDEX__ORDERS_TABLES in both backends' migrations. Every change runs as one job of the
 * index's writer (pacs_index__write), inside a batch's transaction, and returns once committed;
 * a change refused half way is undone by the job's savepoint. Reads take a pooled connection.
 *
 * MPPS instances are orders_mpps.c's, over the same rows (orders_store.h).
 *
 * Load: a few HL7 messages and MPPS calls a minute; the worklist reads the scheduled orders
 * and matches each in C (pacs_orders__item_matches), which is enough for the thousands of
 * steps a hospital schedules. Thread-safe as the index is.
 */
#include "storage/orders.h"

#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pacs/dicom/codec.h"
#include "pacs/dicom/part10.h"
#include "storage/archive_internal.h"
#include "storage/audit.h"
#include "storage/index_core.h"
#include "storage/orders_item.h"
#include "storage/orders_store.h"

size_t pacs_orders_id_systems(const pacs_config *cfg, char (*names)[17], size_t cap)
{
    const char *p = pacs_config_str(cfg, "patient.id_order");
    size_t n = 0;
    while (*p) {
        while (*p == ' ' || *p == ',') {
            p++;
        }
        size_t k = strcspn(p, ", ");
        if (k > 0 && k < 17) {
            if (n < cap) {
                memcpy(names[n], p, k);
                names[n][k] = '\0';
            }
            n++;
        }
        p += k;
    }
    return n;
}

const char *pacs_order_status_name(pacs_order_status s)
{
    static const char *const names[] = {"SCHEDULED", "IN PROGRESS", "COMPLETED", "DISCONTINUED",
                                        "CANCELED"};
    return (unsigned)s < sizeof names / sizeof names[0] ? names[s] : "SCHEDULED";
}

/* A line in the audit trail for a change made (`what`), naming the patient and the study,
 * never the name. */
void pacs_orders__audit(pacs_audit_action action, pacs_err err, const char *what,
                        const char *patient_id, const char *study_uid)
{
    pacs_audit_event ev = {.action = action,
                           .success = err == PACS_OK,
                           .patient_id = patient_id,
                           .study_uid = study_uid && study_uid[0] ? study_uid : NULL,
                           .detail = what,
                           .count = 1};
    pacs_audit_record(&ev);
}

/* ---- rows ---- */

#define F(name)                                                                                    \
    {                                                                                              \
#name, offsetof(pacs_order, name), sizeof((pacs_order *)0)->name                           \
    }
static const struct {
    const char *col;
    size_t off, size;
} order_text[] = {F(placer),
                  F(filler),
                  F(accession),
                  F(study_uid),
                  F(requested_procedure_id),
                  F(procedure_code),
                  F(procedure_scheme),
                  F(procedure_text),
                  F(referring),
                  F(priority),
                  F(sps_id),
                  F(station_aet),
                  F(station_name),
                  F(modality),
                  F(start_date),
                  F(start_time),
                  F(sps_text),
                  F(mpps_uid)};
#undef F
#define N_TEXT (sizeof order_text / sizeof order_text[0])

#define ORDER_COLS PACS_ORDERS__COLS
#define ORDER_COLS_NO_PK PACS_ORDERS__COLS_NO_PK

static void copy_col(pacs_db_stmt *st, const pacs_db_driver *d, int col, char *dst, size_t cap)
{
    size_t len = 0;
    const char *v = d->column(st, col, &len);
    snprintf(dst, cap, "%.*s", v ? (int)len : 0, v ? v : "");
}

void pacs_orders__read(pacs_index *idx, pacs_db_stmt *st, pacs_order *o)
{
    memset(o, 0, sizeof *o);
    o->key = idx->db->column_int(st, 0);
    o->patient = idx->db->column_int(st, 1);
    o->status = (pacs_order_status)idx->db->column_int(st, 2);
    for (size_t i = 0; i < N_TEXT; i++) {
        copy_col(st, idx->db, 3 + (int)i, (char *)o + order_text[i].off, order_text[i].size);
    }
}

/* Steps `st` (bound) to its end; the first row's first column in `*first` (may be NULL).
 * Ends the use of the statement. */
static pacs_err run_bound(pacs_index *idx, pacs_db_stmt *st, long long *first, pacs_errinfo *ei)
{
    int rc, rows = 0;
    while ((rc = idx->db->step(st, ei)) == 1) {
        if (first && rows++ == 0) {
            *first = idx->db->column_int(st, 0);
        }
    }
    idx->db->done(st);
    return rc == 0 ? PACS_OK : (ei->code != PACS_OK ? ei->code : PACS_EDB);
}

/* The order the first non-NULL of placer, accession, Study Instance UID, step id or key names;
 * PACS_ENOTFOUND. One statement per key: one statement with the five as alternatives (`placer=$1
 * OR accession=$2 ...`) cost SQLite five index searches and a sort on every stored instance (its
 * link to an order is looked up by accession, then by study). */
pacs_err pacs_orders__get(pacs_index *idx, pacs_db *db, const char *placer, const char *accession,
                          const char *study_uid, const char *sps_id, int64_t key, pacs_order *out,
                          pacs_errinfo *ei)
{
#define ORDER_BY_KEY(col) "SELECT " ORDER_COLS " FROM orders WHERE " col "=$1 ORDER BY pk LIMIT 1"
    static const char *const by_key[] = {ORDER_BY_KEY("placer"), ORDER_BY_KEY("accession"),
                                         ORDER_BY_KEY("study_uid"), ORDER_BY_KEY("sps_id"),
                                         ORDER_BY_KEY("pk")};
#undef ORDER_BY_KEY
    const char *keys[4] = {placer, accession, study_uid, sps_id};
    int which = 0;
    while (which < 4 && !(keys[which] && keys[which][0])) {
        which++;
    }
    pacs_db_stmt *st =
        pacs_index__stmt(idx, db, PACS_SQL_ORD_GET_PLACER + which, by_key[which], ei);
    if (!st) {
        return ei->code;
    }
    if (which < 4) {
        idx->db->bind_text(st, 1, keys[which]);
    } else {
        idx->db->bind_int(st, 1, key);
    }
    int rc = idx->db->step(st, ei);
    if (rc == 1) {
        pacs_orders__read(idx, st, out);
    }
    idx->db->done(st);
    if (rc < 0) {
        return ei->code != PACS_OK ? ei->code : PACS_EDB;
    }
    return rc == 1 ? PACS_OK : pacs_errf(ei, PACS_ENOTFOUND, "no such order");
}

/* Writes `o` (a new row when o->key is 0; its key set then). */
pacs_err pacs_orders__write(pacs_index *idx, pacs_db *db, pacs_order *o, pacs_errinfo *ei)
{
    pacs_db_stmt *st =
        o->key ? pacs_index__stmt(
                     idx, db, PACS_SQL_ORD_SET,
                     "UPDATE orders SET patient_pk=$1, status=$2, placer=$3, filler=$4,"
                     " accession=$5, study_uid=$6, requested_procedure_id=$7, procedure_code=$8,"
                     " procedure_scheme=$9, procedure_text=$10, referring=$11, priority=$12,"
                     " sps_id=$13, station_aet=$14, station_name=$15, modality=$16,"
                     " start_date=$17, start_time=$18, sps_text=$19, mpps_uid=$20 WHERE pk=$21",
                     ei)
               : pacs_index__stmt(idx, db, PACS_SQL_ORD_ADD,
                                  "INSERT INTO orders(" ORDER_COLS_NO_PK ") VALUES($1, $2, $3, $4,"
                                  " $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17,"
                                  " $18, $19, $20) RETURNING pk",
                                  ei);
    if (!st) {
        return ei->code;
    }
    idx->db->bind_int(st, 1, o->patient);
    idx->db->bind_int(st, 2, (long long)o->status);
    for (size_t i = 0; i < N_TEXT; i++) {
        idx->db->bind_text(st, 3 + (int)i, (const char *)o + order_text[i].off);
    }
    if (o->key) {
        idx->db->bind_int(st, 21, o->key);
    }
    long long pk = o->key;
    pacs_err err = run_bound(idx, st, o->key ? NULL : &pk, ei);
    o->key = pk;
    return err;
}

pacs_err pacs_orders__patient_of(pacs_index *idx, pacs_db *db, const pacs_patient_id *id,
                                 int64_t *pk, pacs_errinfo *ei)
{
    pacs_index__result r;
    *pk = 0;
    pacs_err err = pacs_index__run(idx, db, PACS_SQL_ORD_ID_GET,
                                   "SELECT patient_pk FROM his_patient_ids"
                                   " WHERE system=$1 AND value=$2",
                                   &r, 1, ei, "ss", id->system, id->value);
    for (int hops = 0; err == PACS_OK && r.found && hops < 16; hops++) {
        *pk = r.v[0];
        err = pacs_index__run(idx, db, PACS_SQL_ORD_PAT_GET,
                              "SELECT merged_into, name, birth_date, sex FROM his_patients"
                              " WHERE pk=$1",
                              &r, 1, ei, "i", (long long)*pk);
        if (err == PACS_OK && (!r.found || r.v[0] == 0)) {
            break;
        }
    }
    return err;
}

pacs_err pacs_orders__patient_load(pacs_index *idx, pacs_db *db, int64_t pk, pacs_patient *out,
                                   pacs_errinfo *ei)
{
    memset(out, 0, sizeof *out);
    pacs_db_stmt *st =
        pacs_index__stmt(idx, db, PACS_SQL_ORD_PAT_GET,
                         "SELECT merged_into, name, birth_date, sex FROM his_patients"
                         " WHERE pk=$1",
                         ei);
    if (!st) {
        return ei->code;
    }
    idx->db->bind_int(st, 1, pk);
    int rc = idx->db->step(st, ei);
    if (rc == 1) {
        out->key = pk;
        out->merged_into = idx->db->column_int(st, 0);
        copy_col(st, idx->db, 1, out->name, sizeof out->name);
        copy_col(st, idx->db, 2, out->birth_date, sizeof out->birth_date);
        copy_col(st, idx->db, 3, out->sex, sizeof out->sex);
    }
    idx->db->done(st);
    if (rc != 1) {
        return rc < 0 ? (ei->code != PACS_OK ? ei->code : PACS_EDB)
                      : pacs_errf(ei, PACS_ENOTFOUND, "no patient %lld", (long long)pk);
    }
    st = pacs_index__stmt(idx, db, PACS_SQL_ORD_PAT_IDS,
                          "SELECT system, value FROM his_patient_ids WHERE patient_pk=$1"
                          " ORDER BY system",
                          ei);
    if (!st) {
        return ei->code;
    }
    idx->db->bind_int(st, 1, pk);
    while ((rc = idx->db->step(st, ei)) == 1) {
        if (out->n_ids < PACS_PATIENT_IDS_MAX) {
            pacs_patient_id *id = &out->ids[out->n_ids++];
            copy_col(st, idx->db, 0, id->system, sizeof id->system);
            copy_col(st, idx->db, 1, id->value, sizeof id->value);
        }
    }
    idx->db->done(st);
    return rc == 0 ? PACS_OK : (ei->code != PACS_OK ? ei->code : PACS_EDB);
}

/* PACS_EINVAL unless `id` is under a configured system and its value is LO. */
static pacs_err check_id(const pacs_archive *a, const pacs_patient_id *id, pacs_errinfo *ei)
{
    int known = 0;
    for (size_t i = 0; i < a->n_id_systems; i++) {
        known |= strcmp(a->id_systems[i], id->system) == 0;
    }
    if (!known) {
        return pacs_errf(ei, PACS_EINVAL, "identifier system '%s' is not in patient.id_order",
                         id->system);
    }
    size_t n = strlen(id->value);
    if (n == 0 || n > 64 || strpbrk(id->value, "\\\r\n\t")) {
        return pacs_errf(ei, PACS_EINVAL, "identifier '%s' under %s is not a DICOM LO value",
                         id->value, id->system);
    }
    return PACS_OK;
}

typedef struct patient_job {
    const pacs_patient *in;
    const pacs_patient_id *survivor, *retired;
    int64_t key;
    pacs_archive *a;
    pacs_orders__restated restated; /* the studies served with the new identity */
} patient_job;

/* One line in the audit trail per study a patient's change restated (orders_link.c). */
static void audit_restated(const patient_job *j, const char *verb)
{
    for (size_t i = 0; i < j->restated.n; i++) {
        char what[64];
        snprintf(what, sizeof what, "reconcile study after %s", verb);
        pacs_orders__audit(PACS_AUDIT_PATIENT, PACS_OK, what, j->restated.patient_id,
                           j->restated.uids[i]);
    }
}

static pacs_err do_patient_put(pacs_index *idx, pacs_db *db, void *ctx, pacs_errinfo *ei)
{
    patient_job *j = ctx;
    const pacs_patient *p = j->in;
    int64_t pk = 0;
    for (size_t i = 0; i < p->n_ids; i++) {
        int64_t k = 0;
        pacs_err err = pacs_orders__patient_of(idx, db, &p->ids[i], &k, ei);
        if (err != PACS_OK) {
            return err;
        }
        if (k && pk && k != pk) {
            return pacs_errf(ei, PACS_ECONFLICT,
                             "the identifiers name two patients (merge them first): %s %s",
                             p->ids[i].system, p->ids[i].value);
        }
        pk = k ? k : pk;
    }
    pacs_index__result r;
    pacs_err err;
    if (!pk) {
        err = pacs_index__run(idx, db, PACS_SQL_ORD_PAT_ADD, PACS_ORDERS__SQL_PAT_ADD, &r, 1, ei,
                              "sss", p->name, p->birth_date, p->sex);
        pk = r.v[0];
    } else {
        err = pacs_index__run(idx, db, PACS_SQL_ORD_PAT_SET,
                              "UPDATE his_patients SET"
                              " name=CASE WHEN $2='' THEN name ELSE $2 END,"
                              " birth_date=CASE WHEN $3='' THEN birth_date ELSE $3 END,"
                              " sex=CASE WHEN $4='' THEN sex ELSE $4 END WHERE pk=$1",
                              NULL, 0, ei, "isss", (long long)pk, p->name, p->birth_date, p->sex);
    }
    for (size_t i = 0; i < p->n_ids && err == PACS_OK; i++) {
        int64_t k = 0;
        err = pacs_orders__patient_of(idx, db, &p->ids[i], &k, ei);
        if (err != PACS_OK || k) {
            continue; /* it names this patient already (or one merged into it) */
        }
        err = pacs_index__run(idx, db, PACS_SQL_ORD_ID_DEL,
                              "DELETE FROM his_patient_ids WHERE patient_pk=$1 AND system=$2", NULL,
                              0, ei, "is", (long long)pk, p->ids[i].system);
        if (err == PACS_OK) {
            err = pacs_index__run(idx, db, PACS_SQL_ORD_ID_ADD, PACS_ORDERS__SQL_ID_ADD, NULL, 0,
                                  ei, "ssi", p->ids[i].system, p->ids[i].value, (long long)pk);
        }
    }
    j->key = pk;
    if (err == PACS_OK && p->name[0]) {
        err = pacs_orders__name_words(idx, db, pk, p->name, ei);
    }
    if (err == PACS_OK) {
        err = pacs_orders__restate(idx, db, pk, j->a->id_systems, j->a->n_id_systems, &j->restated,
                                   ei);
    }
    return err;
}

static pacs_err check_patient(const pacs_archive *a, const pacs_patient *p, pacs_errinfo *ei)
{
    if (p->n_ids == 0 || p->n_ids > PACS_PATIENT_IDS_MAX) {
        return pacs_errf(ei, PACS_EINVAL, "a patient needs 1 to %d identifiers",
                         PACS_PATIENT_IDS_MAX);
    }
    for (size_t i = 0; i < p->n_ids; i++) {
        pacs_err err = check_id(a, &p->ids[i], ei);
        if (err != PACS_OK) {
            return err;
        }
    }
    return PACS_OK;
}

static void audit_patient_put(pacs_err err, const patient_job *j)
{
    pacs_orders__audit(PACS_AUDIT_PATIENT, err, "put", j->in->ids[0].value, NULL);
    if (err == PACS_OK) {
        audit_restated(j, "update");
    }
}

pacs_err pacs_orders_patient_put(pacs_archive *a, const pacs_patient *p, int64_t *key,
                                 pacs_errinfo *ei)
{
    pacs_err err = check_patient(a, p, ei);
    if (err != PACS_OK) {
        return err;
    }
    patient_job j = {.in = p, .a = a};
    err = pacs_index__write(a->index, do_patient_put, &j, ei);
    audit_patient_put(err, &j);
    pacs_orders__restated_free(&j.restated);
    if (err == PACS_OK && key) {
        *key = j.key;
    }
    return err;
}

static pacs_err do_patient_merge(pacs_index *idx, pacs_db *db, void *ctx, pacs_errinfo *ei)
{
    patient_job *j = ctx;
    int64_t survivor = 0, retired = 0;
    pacs_err err = pacs_orders__patient_of(idx, db, j->survivor, &survivor, ei);
    if (err == PACS_OK) {
        err = pacs_orders__patient_of(idx, db, j->retired, &retired, ei);
    }
    if (err != PACS_OK) {
        return err;
    }
    if (!survivor || !retired) {
        const pacs_patient_id *missing = survivor ? j->retired : j->survivor;
        return pacs_errf(ei, PACS_ENOTFOUND, "no patient with %s %s", missing->system,
                         missing->value);
    }
    if (survivor == retired) {
        return pacs_errf(ei, PACS_EINVAL, "both identifiers name the same patient");
    }
    err = pacs_index__run(idx, db, PACS_SQL_ORD_MERGE, PACS_ORDERS__SQL_MERGE, NULL, 0, ei, "ii",
                          (long long)retired, (long long)survivor);
    if (err == PACS_OK) {
        err = pacs_index__run(idx, db, PACS_SQL_ORD_MOVE,
                              "UPDATE orders SET patient_pk=$2 WHERE patient_pk=$1", NULL, 0, ei,
                              "ii", (long long)retired, (long long)survivor);
    }
    j->key = survivor;
    if (err == PACS_OK) {
        err = pacs_orders__restate(idx, db, survivor, j->a->id_systems, j->a->n_id_systems,
                                   &j->restated, ei);
    }
    return err;
}

pacs_err pacs_orders_patient_merge(pacs_archive *a, const pacs_patient_id *survivor,
                                   const pacs_patient_id *retired, pacs_errinfo *ei)
{
    patient_job j = {.survivor = survivor, .retired = retired, .a = a};
    pacs_err err = pacs_index__write(a->index, do_patient_merge, &j, ei);
    char what[96];
    snprintf(what, sizeof what, "merge %s:%s into it", retired->system, retired->value);
    pacs_orders__audit(PACS_AUDIT_PATIENT, err, what, survivor->value, NULL);
    if (err == PACS_OK) {
        audit_restated(&j, "merge");
    }
    pacs_orders__restated_free(&j.restated);
    return err;
}

/* ---- orders ---- */

typedef struct order_job {
    const pacs_order *in;
    pacs_order out;
    const char *placer;
    int change; /* pacs_orders_change rather than place */
    pacs_archive *a;
    pacs_orders__restated linked; /* studies stored before the order, linked to it now */
    int started;                  /* ... which took it IN PROGRESS */
} order_job;

/* PACS_ECONFLICT when `value` (an accession number or Study Instance UID) is another order's. */
static pacs_err taken(pacs_index *idx, pacs_db *db, const char *accession, const char *study_uid,
                      int64_t self, pacs_errinfo *ei)
{
    pacs_order other;
    pacs_err err = pacs_orders__get(idx, db, NULL, accession, study_uid, NULL, 0, &other, ei);
    if (err == PACS_ENOTFOUND) {
        pacs_errinfo_clear(ei);
        return PACS_OK;
    }
    if (err == PACS_OK && other.key != self) {
        return pacs_errf(ei, PACS_ECONFLICT, "%s %s belongs to order %s",
                         accession ? "accession number" : "Study Instance UID",
                         accession ? accession : study_uid, other.placer);
    }
    return err;
}

/* The fields of `in` that are not empty over `o`. */
static void overlay(pacs_order *o, const pacs_order *in)
{
    for (size_t i = 0; i < N_TEXT; i++) {
        const char *v = (const char *)in + order_text[i].off;
        if (v[0] && strcmp(order_text[i].col, "mpps_uid") != 0) {
            snprintf((char *)o + order_text[i].off, order_text[i].size, "%s", v);
        }
    }
}

static pacs_err do_order_put(pacs_index *idx, pacs_db *db, void *ctx, pacs_errinfo *ei)
{
    order_job *j = ctx;
    const pacs_order *in = j->in;
    pacs_order o;
    pacs_err err = pacs_orders__get(idx, db, in->placer, NULL, NULL, NULL, 0, &o, ei);
    if (err == PACS_ENOTFOUND && !j->change) {
        pacs_errinfo_clear(ei);
        memset(&o, 0, sizeof o);
        o.patient = in->patient;
    } else if (err != PACS_OK) {
        return err;
    } else if (o.status != PACS_ORDER_SCHEDULED) {
        return pacs_errf(ei, PACS_ECONFLICT, "order %s is %s: it can no longer change", in->placer,
                         pacs_order_status_name(o.status));
    }
    if (!j->change && in->patient) {
        pacs_patient p;
        err = pacs_orders__patient_load(idx, db, in->patient, &p, ei);
        if (err != PACS_OK) {
            return err;
        }
        o.patient = p.merged_into ? p.merged_into : p.key;
    }
    overlay(&o, in);
    if (in->accession[0] && (err = taken(idx, db, in->accession, NULL, o.key, ei)) != PACS_OK) {
        return err;
    }
    if (in->study_uid[0] && (err = taken(idx, db, NULL, in->study_uid, o.key, ei)) != PACS_OK) {
        return err;
    }
    if (!o.study_uid[0]) {
        pacs_codec_new_uid(o.study_uid);
    }
    if (!o.accession[0] || !o.sps_id[0]) {
        /* What the archive makes: the last digits of a new UID (random), checked unique. */
        char uid[65];
        pacs_codec_new_uid(uid);
        size_t n = strlen(uid);
        const char *tail = uid + (n > 14 ? n - 14 : 0);
        if (!o.accession[0]) {
            snprintf(o.accession, sizeof o.accession, "A%s", tail);
            err = taken(idx, db, o.accession, NULL, o.key, ei);
        }
        if (!o.sps_id[0]) {
            snprintf(o.sps_id, sizeof o.sps_id, "S%s", tail);
        }
    }
    if (err == PACS_OK) {
        err = pacs_orders__write(idx, db, &o, ei);
    }
    if (err == PACS_OK) {
        err = pacs_orders__link_stored(idx, db, &o, j->a->id_systems, j->a->n_id_systems,
                                       &j->linked, &j->started, ei);
    }
    j->out = o;
    return err;
}

static void audit_order(pacs_err err, const char *verb, const order_job *j)
{
    const pacs_order *in = j->in, *done = &j->out;
    char what[128];
    snprintf(what, sizeof what, "%s placer=%s accession=%s", verb, in->placer,
             err == PACS_OK ? done->accession : in->accession);
    pacs_orders__audit(PACS_AUDIT_ORDER, err, what, NULL,
                       err == PACS_OK ? done->study_uid : in->study_uid);
    /* Studies stored before the order, reconciled to it now: as for images arriving. */
    for (size_t i = 0; err == PACS_OK && i < j->linked.n; i++) {
        snprintf(what, sizeof what, "reconcile study to placer=%s (stored before the order)",
                 done->placer);
        pacs_orders__audit(PACS_AUDIT_PATIENT, PACS_OK, what, j->linked.patient_id,
                           j->linked.uids[i]);
    }
    if (err == PACS_OK && j->started && j->linked.n > 0) {
        snprintf(what, sizeof what, "in progress placer=%s (images arrived)", done->placer);
        pacs_orders__audit(PACS_AUDIT_ORDER, PACS_OK, what, NULL, j->linked.uids[0]);
    }
}

/* What pacs_orders_place checks before the index is asked; `patient_later`: its patient is put
 * by an earlier op of the same batch. */
static pacs_err check_place(const pacs_order *o, int patient_later, pacs_errinfo *ei)
{
    if (!o->placer[0]) {
        return pacs_errf(ei, PACS_EINVAL, "an order needs a placer order number");
    }
    if (!o->patient && !patient_later) {
        return pacs_errf(ei, PACS_ENOTFOUND, "an order needs a known patient");
    }
    if (o->study_uid[0] && !pacs_uid_valid(o->study_uid)) {
        return pacs_errf(ei, PACS_EINVAL, "Study Instance UID '%s' is not a UID", o->study_uid);
    }
    return PACS_OK;
}

pacs_err pacs_orders_place(pacs_archive *a, const pacs_order *o, pacs_order *out, pacs_errinfo *ei)
{
    pacs_err err = check_place(o, 0, ei);
    if (err != PACS_OK) {
        return err;
    }
    order_job j = {.in = o, .a = a};
    err = pacs_index__write(a->index, do_order_put, &j, ei);
    audit_order(err, "place", &j);
    pacs_orders__restated_free(&j.linked);
    if (err == PACS_OK && out) {
        *out = j.out;
    }
    return err;
}

pacs_err pacs_orders_change(pacs_archive *a, const pacs_order *o, pacs_order *out, pacs_errinfo *ei)
{
    if (o->study_uid[0] && !pacs_uid_valid(o->study_uid)) {
        return pacs_errf(ei, PACS_EINVAL, "Study Instance UID '%s' is not a UID", o->study_uid);
    }
    order_job j = {.in = o, .change = 1, .a = a};
    pacs_err err = pacs_index__write(a->index, do_order_put, &j, ei);
    audit_order(err, "change", &j);
    pacs_orders__restated_free(&j.linked);
    if (err == PACS_OK && out) {
        *out = j.out;
    }
    return err;
}

static pacs_err do_order_cancel(pacs_index *idx, pacs_db *db, void *ctx, pacs_errinfo *ei)
{
    order_job *j = ctx;
    pacs_order o;
    pacs_err err = pacs_orders__get(idx, db, j->placer, NULL, NULL, NULL, 0, &o, ei);
    if (err != PACS_OK) {
        return err;
    }
    if (o.status == PACS_ORDER_COMPLETED) {
        return pacs_errf(ei, PACS_ECONFLICT, "order %s is completed", j->placer);
    }
    o.status = PACS_ORDER_CANCELED;
    return pacs_orders__write(idx, db, &o, ei);
}

static void audit_cancel(pacs_err err, const char *placer)
{
    char what[96];
    snprintf(what, sizeof what, "cancel placer=%s", placer);
    pacs_orders__audit(PACS_AUDIT_ORDER, err, what, NULL, NULL);
}

pacs_err pacs_orders_cancel(pacs_archive *a, const char *placer, pacs_errinfo *ei)
{
    order_job j = {.placer = placer};
    pacs_err err = pacs_index__write(a->index, do_order_cancel, &j, ei);
    audit_cancel(err, placer);
    return err;
}

/* ---- a batch of writes in one transaction ---- */

typedef struct batch_job {
    pacs_orders_op *ops;
    size_t n, at; /* the op being written */
    patient_job *patients;
    order_job *orders;
} batch_job;

static pacs_err do_batch(pacs_index *idx, pacs_db *db, void *ctx, pacs_errinfo *ei)
{
    batch_job *b = ctx;
    pacs_err err = PACS_OK;
    for (b->at = 0; err == PACS_OK && b->at < b->n; b->at++) {
        pacs_orders_op *op = &b->ops[b->at];
        if (op->kind == PACS_ORDERS_OP_PATIENT) {
            err = do_patient_put(idx, db, &b->patients[b->at], ei);
            op->key = b->patients[b->at].key;
            continue;
        }
        if (op->kind == PACS_ORDERS_OP_CANCEL) {
            err = do_order_cancel(idx, db, &b->orders[b->at], ei);
            continue;
        }
        if (op->patient_op) {
            op->order.patient = b->ops[op->patient_op - 1].key;
        }
        pacs_order cur;
        if (op->kind == PACS_ORDERS_OP_CHANGE &&
            (err = pacs_orders__get(idx, db, op->order.placer, NULL, NULL, NULL, 0, &cur, ei)) ==
                PACS_OK &&
            cur.patient != op->order.patient) {
            err = pacs_errf(ei, PACS_ECONFLICT, "order %s belongs to another patient",
                            op->order.placer);
        }
        if (err == PACS_OK) {
            err = do_order_put(idx, db, &b->orders[b->at], ei);
            op->out = b->orders[b->at].out;
        }
    }
    if (err != PACS_OK) {
        b->at--; /* the one that failed */
    }
    return err;
}

pacs_err pacs_orders_batch(pacs_archive *a, pacs_orders_op *ops, size_t n, size_t *failed,
                           pacs_errinfo *ei)
{
    batch_job b = {.ops = ops,
                   .n = n,
                   .patients = calloc(n ? n : 1, sizeof *b.patients),
                   .orders = calloc(n ? n : 1, sizeof *b.orders)};
    pacs_err err = b.patients && b.orders ? PACS_OK : pacs_errf(ei, PACS_ENOMEM, "out of memory");
    for (b.at = 0; err == PACS_OK && b.at < n; b.at++) {
        pacs_orders_op *op = &ops[b.at];
        b.patients[b.at] = (patient_job){.in = op->patient, .a = a};
        b.orders[b.at] = (order_job){.in = &op->order,
                                     .placer = op->order.placer,
                                     .a = a,
                                     .change = op->kind == PACS_ORDERS_OP_CHANGE};
        if (op->kind == PACS_ORDERS_OP_PATIENT) {
            err = op->patient ? check_patient(a, op->patient, ei)
                              : pacs_errf(ei, PACS_EINVAL, "a patient op without its patient");
        } else if (op->kind != PACS_ORDERS_OP_CANCEL) {
            err = op->patient_op > b.at ? pacs_errf(ei, PACS_EINVAL,
                                                    "an order's patient op "
                                                    "comes after it")
                                        : check_place(&op->order, op->patient_op != 0, ei);
        }
    }
    if (err == PACS_OK) {
        err = pacs_index__write(a->index, do_batch, &b, ei);
    } else if (b.at > 0) {
        b.at--;
    }
    if (failed) {
        *failed = b.at;
    }
    /* The trail: every write when they were made, the one that failed when none was. */
    for (size_t i = 0; b.patients && b.orders && i < n; i++) {
        if (err == PACS_OK || i == b.at) {
            if (ops[i].kind == PACS_ORDERS_OP_PATIENT) {
                audit_patient_put(err, &b.patients[i]);
            } else if (ops[i].kind == PACS_ORDERS_OP_CANCEL) {
                audit_cancel(err, ops[i].order.placer);
            } else {
                audit_order(err, ops[i].kind == PACS_ORDERS_OP_PLACE ? "place" : "change",
                            &b.orders[i]);
            }
        }
        pacs_orders__restated_free(&b.patients[i].restated);
        pacs_orders__restated_free(&b.orders[i].linked);
    }
    free(b.patients);
    free(b.orders);
    return err;
}
