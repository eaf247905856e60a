// SPDX-License-Identifier: MIT
/*
 * Modality Performed Procedure Step instances (orders.h, PS3.4 F.7) in the index, over the
 * core's driver as orders.c: N-CREATE keeps the instance and takes the order it names IN
 * PROGRESS; N-SET updates it and, once COMPLETED or DISCONTINUED, ends the order with it.
 * The series of either's Performed Series Sequence become the order's (orders_link.c): their
 * studies, stored already or to come, are reconciled to its patient.
 * Each change is one job of the index's writer. Load: a few calls per procedure. Thread-safe
 * as the index is.
 */
#include "storage/orders.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage/archive_internal.h"
#include "storage/orders_item.h"
#include "storage/orders_store.h"

typedef struct mpps_job {
    pacs_archive *a;
    const char *uid;
    const json_t *attrs;
    pacs_mpps_link link;
    json_t *out;
    char placer[65];              /* the order it reports on, if any */
    pacs_orders__restated linked; /* stored studies its performed series linked to the order */
    int started;
} mpps_job;

/* The series `attrs` reports performed become order `pk`'s (0: none), and the stored studies
 * that hold them are linked to it and restated to its patient. */
static pacs_err link_series(pacs_index *idx, pacs_db *db, mpps_job *j, int64_t pk, pacs_errinfo *ei)
{
    if (!pk) {
        return PACS_OK;
    }
    pacs_order o;
    pacs_err err = pacs_orders__mpps_series(idx, db, pk, j->attrs, ei);
    if (err == PACS_OK) {
        err = pacs_orders__get(idx, db, NULL, NULL, NULL, NULL, pk, &o, ei);
    }
    if (err == PACS_OK) {
        snprintf(j->placer, sizeof j->placer, "%s", o.placer);
        err = pacs_orders__link_stored(idx, db, &o, j->a->id_systems, j->a->n_id_systems,
                                       &j->linked, &j->started, ei);
    }
    return err;
}

/* The audit trail's lines for an MPPS change and the studies its series linked. */
static void audit_mpps(const mpps_job *j, pacs_err err, const char *verb)
{
    char what[128];
    snprintf(what, sizeof what, "%s %s", verb, j->uid);
    pacs_orders__audit(PACS_AUDIT_ORDER, err, what, NULL, NULL);
    for (size_t i = 0; err == PACS_OK && i < j->linked.n; i++) {
        snprintf(what, sizeof what, "reconcile study to placer=%s (MPPS performed series)",
                 j->placer);
        pacs_orders__audit(PACS_AUDIT_PATIENT, PACS_OK, what, j->linked.patient_id,
                           j->linked.uids[i]);
    }
}

/* The stored instance `uid`: its order's key, status and attributes (`*attrs` the caller's). */
static pacs_err mpps_load(pacs_index *idx, pacs_db *db, const char *uid, int64_t *order_pk,
                          pacs_order_status *status, json_t **attrs, pacs_errinfo *ei)
{
    pacs_db_stmt *st = pacs_index__stmt(
        idx, db, PACS_SQL_MPPS_GET, "SELECT order_pk, status, attrs FROM mpps WHERE uid=$1", ei);
    if (!st) {
        return ei->code;
    }
    idx->db->bind_text(st, 1, uid);
    int rc = idx->db->step(st, ei);
    if (rc == 1) {
        *order_pk = idx->db->column_int(st, 0);
        *status = (pacs_order_status)idx->db->column_int(st, 1);
        size_t len = 0;
        const char *text = idx->db->column(st, 2, &len);
        *attrs = text ? json_loadb(text, len, 0, NULL) : NULL;
    }
    idx->db->done(st);
    if (rc < 0) {
        return ei->code != PACS_OK ? ei->code : PACS_EDB;
    }
    if (rc == 0) {
        return pacs_errf(ei, PACS_ENOTFOUND, "no MPPS instance %s", uid);
    }
    return *attrs ? PACS_OK : pacs_errf(ei, PACS_ECORRUPT, "MPPS %s: unreadable attributes", uid);
}

/* Moves the order `pk` (0: none) to `status`, naming MPPS `uid`. */
static pacs_err order_follow(pacs_index *idx, pacs_db *db, int64_t pk, pacs_order_status status,
                             const char *uid, pacs_errinfo *ei)
{
    pacs_order o;
    if (!pk) {
        return PACS_OK;
    }
    pacs_err err = pacs_orders__get(idx, db, NULL, NULL, NULL, NULL, pk, &o, ei);
    if (err != PACS_OK) {
        return err;
    }
    o.status = status;
    snprintf(o.mpps_uid, sizeof o.mpps_uid, "%s", uid);
    return pacs_orders__write(idx, db, &o, ei);
}

static pacs_err do_mpps_create(pacs_index *idx, pacs_db *db, void *ctx, pacs_errinfo *ei)
{
    mpps_job *j = ctx;
    int64_t pk = 0;
    pacs_order_status status;
    json_t *old = NULL;
    pacs_err err = mpps_load(idx, db, j->uid, &pk, &status, &old, ei);
    json_decref(old);
    if (err == PACS_OK) {
        return pacs_errf(ei, PACS_EEXIST, "MPPS instance %s exists", j->uid);
    }
    if (err != PACS_ENOTFOUND) {
        return err;
    }
    pacs_errinfo_clear(ei);
    pacs_order o;
    err = pacs_orders__get(idx, db, NULL, j->link.accession, j->link.study_uid, j->link.sps_id, 0,
                           &o, ei);
    if (err == PACS_ENOTFOUND) {
        pacs_errinfo_clear(ei);
        o.key = 0; /* an unscheduled procedure: kept, linked to nothing */
    } else if (err != PACS_OK) {
        return err;
    }
    char *text = json_dumps(j->attrs, JSON_COMPACT);
    if (!text) {
        return pacs_errf(ei, PACS_ENOMEM, "out of memory");
    }
    err =
        pacs_index__run(idx, db, PACS_SQL_MPPS_ADD, PACS_ORDERS__SQL_MPPS_ADD, NULL, 0, ei, "siis",
                        j->uid, (long long)o.key, (long long)PACS_ORDER_IN_PROGRESS, text);
    free(text);
    if (err == PACS_OK && o.key && o.status == PACS_ORDER_SCHEDULED) {
        err = order_follow(idx, db, o.key, PACS_ORDER_IN_PROGRESS, j->uid, ei);
    }
    if (err == PACS_OK) {
        err = link_series(idx, db, j, o.key, ei);
    }
    return err;
}

pacs_err pacs_orders_mpps_create(pacs_archive *a, const char *uid, const json_t *attrs,
                                 pacs_errinfo *ei)
{
    mpps_job j = {.a = a, .uid = uid, .attrs = attrs};
    pacs_err err = pacs_orders__mpps_check_create(attrs, &j.link, ei);
    if (err == PACS_OK) {
        err = pacs_index__write(a->index, do_mpps_create, &j, ei);
    }
    audit_mpps(&j, err, "mpps-create");
    pacs_orders__restated_free(&j.linked);
    return err;
}

static pacs_err do_mpps_set(pacs_index *idx, pacs_db *db, void *ctx, pacs_errinfo *ei)
{
    mpps_job *j = ctx;
    int64_t pk = 0;
    pacs_order_status status, next;
    json_t *stored = NULL;
    pacs_err err = mpps_load(idx, db, j->uid, &pk, &status, &stored, ei);
    if (err == PACS_OK) {
        err = pacs_orders__mpps_check_set(status, j->attrs, &next, ei);
    }
    char *text = NULL;
    if (err == PACS_OK) {
        json_object_update(stored, (json_t *)j->attrs);
        text = json_dumps(stored, JSON_COMPACT);
        err = text ? PACS_OK : pacs_errf(ei, PACS_ENOMEM, "out of memory");
    }
    if (err == PACS_OK) {
        err = pacs_index__run(idx, db, PACS_SQL_MPPS_SET,
                              "UPDATE mpps SET status=$2, attrs=$3 WHERE uid=$1", NULL, 0, ei,
                              "sis", j->uid, (long long)next, text);
    }
    if (err == PACS_OK && next != status) {
        err = order_follow(idx, db, pk, next, j->uid, ei);
    }
    if (err == PACS_OK) {
        err = link_series(idx, db, j, pk, ei);
    }
    free(text);
    json_decref(stored);
    return err;
}

pacs_err pacs_orders_mpps_set(pacs_archive *a, const char *uid, const json_t *attrs,
                              pacs_errinfo *ei)
{
    mpps_job j = {.a = a, .uid = uid, .attrs = attrs};
    pacs_err err = pacs_index__write(a->index, do_mpps_set, &j, ei);
    audit_mpps(&j, err, "mpps-set");
    pacs_orders__restated_free(&j.linked);
    return err;
}

static pacs_err do_mpps_get(pacs_index *idx, pacs_db *db, void *ctx, pacs_errinfo *ei)
{
    mpps_job *j = ctx;
    int64_t pk = 0;
    pacs_order_status status;
    return mpps_load(idx, db, j->uid, &pk, &status, &j->out, ei);
}

pacs_err pacs_orders_mpps_get(pacs_archive *a, const char *uid, json_t **out, pacs_errinfo *ei)
{
    mpps_job j = {.uid = uid};
    pacs_err err = pacs_index__read(a->index, do_mpps_get, &j, ei);
    *out = err == PACS_OK ? j.out : NULL;
    if (err != PACS_OK) {
        json_decref(j.out);
    }
    return err;
}
