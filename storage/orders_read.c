// SPDX-License-Identifier: MIT
/*
 * Reading the HIS's patients and orders (orders.h): a patient by an identifier (following
 * merges to the survivor) or by its key, an order by its placer number, accession number or
 * Study Instance UID. Each is one read on a pooled connection of the index.
 * Thread-safe: any thread.
 */
#include "storage/archive_internal.h"
#include "storage/orders_store.h"

typedef struct get_job {
    const pacs_patient_id *id; /* NULL: by key */
    int64_t key;
    pacs_patient *out;
} get_job;

static pacs_err do_patient_get(pacs_index *idx, pacs_db *db, void *ctx, pacs_errinfo *ei)
{
    get_job *j = ctx;
    if (!j->id) {
        return pacs_orders__patient_load(idx, db, j->key, j->out, ei);
    }
    int64_t pk = 0;
    pacs_err err = pacs_orders__patient_of(idx, db, j->id, &pk, ei);
    if (err == PACS_OK && !pk) {
        return pacs_errf(ei, PACS_ENOTFOUND, "no patient with %s %s", j->id->system, j->id->value);
    }
    return err == PACS_OK ? pacs_orders__patient_load(idx, db, pk, j->out, ei) : err;
}

pacs_err pacs_orders_patient_get(pacs_archive *a, const pacs_patient_id *id, pacs_patient *out,
                                 pacs_errinfo *ei)
{
    get_job j = {id, 0, out};
    return pacs_index__read(a->index, do_patient_get, &j, ei);
}

pacs_err pacs_orders_patient_by_key(pacs_archive *a, int64_t key, pacs_patient *out,
                                    pacs_errinfo *ei)
{
    get_job j = {NULL, key, out};
    return pacs_index__read(a->index, do_patient_get, &j, ei);
}

typedef struct find_job {
    const char *placer, *accession, *study_uid;
    pacs_order *out;
} find_job;

static pacs_err do_order_find(pacs_index *idx, pacs_db *db, void *ctx, pacs_errinfo *ei)
{
    find_job *j = ctx;
    return pacs_orders__get(idx, db, j->placer, j->accession, j->study_uid, NULL, 0, j->out, ei);
}

pacs_err pacs_orders_get(pacs_archive *a, const char *placer, const char *accession,
                         const char *study_uid, pacs_order *out, pacs_errinfo *ei)
{
    if (!(placer && placer[0]) && !(accession && accession[0]) && !(study_uid && study_uid[0])) {
        return pacs_errf(ei, PACS_EINVAL, "name the order");
    }
    find_job j = {placer, accession, study_uid, out};
    return pacs_index__read(a->index, do_order_find, &j, ei);
}
