// SPDX-License-Identifier: MIT
/*
 * Orders and MPPS (orders.c, orders_mpps.c) on the index core's driver: the order rows both
 * files read and write. Internal to storage/ (pacs_orders__ names); each function runs on a
 * connection the caller holds (a writer's job or a pooled reader), on that caller's thread.
 */
#ifndef PACS_STORAGE_ORDERS_STORE_H
#define PACS_STORAGE_ORDERS_STORE_H

#include <jansson.h>
#include <stdint.h>

#include "pacs/base/err.h"
#include "storage/audit.h"
#include "storage/index_core.h"
#include "storage/orders.h"

/* The statements orders.c, orders_mpps.c and orders_copy.c share (one text per slot). */
#define PACS_ORDERS__SQL_PAT_ADD                                                                   \
    "INSERT INTO his_patients(name, birth_date, sex) VALUES($1, $2, $3) RETURNING pk"
#define PACS_ORDERS__SQL_MERGE                                                                     \
    "UPDATE his_patients SET merged_into=$2 WHERE pk=$1 OR merged_into=$1"
#define PACS_ORDERS__SQL_ID_ADD                                                                    \
    "INSERT INTO his_patient_ids(system, value, patient_pk) VALUES($1, $2, $3)"
#define PACS_ORDERS__SQL_LINK_ADD                                                                  \
    "INSERT INTO his_studies(study_uid, order_pk) VALUES($1, $2)"                                  \
    " ON CONFLICT(study_uid) DO UPDATE SET order_pk=excluded.order_pk"                             \
    " WHERE his_studies.order_pk <> excluded.order_pk"
#define PACS_ORDERS__SQL_MPPS_ADD                                                                  \
    "INSERT INTO mpps(uid, order_pk, status, attrs) VALUES($1, $2, $3, $4)"

/* The columns of an order row, in the order pacs_orders__read reads them. */
#define PACS_ORDERS__COLS "pk, " PACS_ORDERS__COLS_NO_PK
#define PACS_ORDERS__COLS_NO_PK                                                                    \
    "patient_pk, status, placer, filler, accession, study_uid, requested_procedure_id,"            \
    " procedure_code, procedure_scheme, procedure_text, referring, priority, sps_id,"              \
    " station_aet, station_name, modality, start_date, start_time, sps_text, mpps_uid"

/** Reads the current row of `st` (selecting PACS_ORDERS__COLS) into `o`. */
void pacs_orders__read(pacs_index *idx, pacs_db_stmt *st, pacs_order *o);

/** The order the first non-empty of placer, accession number, Study Instance UID and step id
 *  names, or else the one with key `key`. PACS_ENOTFOUND. */
pacs_err pacs_orders__get(pacs_index *idx, pacs_db *db, const char *placer, const char *accession,
                          const char *study_uid, const char *sps_id, int64_t key, pacs_order *out,
                          pacs_errinfo *ei);

/** Writes `o`: a new row when o->key is 0 (its key set then), else the row with that key. */
pacs_err pacs_orders__write(pacs_index *idx, pacs_db *db, pacs_order *o, pacs_errinfo *ei);

/** A line in the audit trail for a change made or refused (`what`), naming the patient's
 *  identifier and the study (either may be NULL), never the name. */
void pacs_orders__audit(pacs_audit_action action, pacs_err err, const char *what,
                        const char *patient_id, const char *study_uid);

/** The patient an identifier names, following merges to the survivor: `*pk` 0 when none. */
pacs_err pacs_orders__patient_of(pacs_index *idx, pacs_db *db, const pacs_patient_id *id,
                                 int64_t *pk, pacs_errinfo *ei);

/** Patient `pk` with its own identifiers (a retired one as it is: follow merged_into).
 *  PACS_ENOTFOUND. */
pacs_err pacs_orders__patient_load(pacs_index *idx, pacs_db *db, int64_t pk, pacs_patient *out,
                                   pacs_errinfo *ei);

/** On the writer: the words of patient `pk`'s name `name` (DICOM PN, UTF-8), folded as C-FIND
 *  folds names (fold.h), replace the ones the worklist's name matching reads (orders_worklist.c).
 */
pacs_err pacs_orders__name_words(pacs_index *idx, pacs_db *db, int64_t pk, const char *name,
                                 pacs_errinfo *ei);

/* ---- reconciliation (orders_link.c) ---- */

/**
 * On the writer, inside an instance's put (index_write.c): when the instance's AccessionNumber,
 * else its StudyInstanceUID, names an order, `*out` receives its DICOM JSON reconciled to the
 * order's patient (a new object, the caller decrefs it; e->json is not changed), its study is
 * linked to the order (table his_studies), and a SCHEDULED order goes IN PROGRESS;
 * res->reconciled, study_linked, order_started, order_placer and patient_id say so. `*out` is NULL
 * when no order is named. PACS_ENOMEM; PACS_EDB.
 */
pacs_err pacs_orders__link_instance(pacs_index *idx, pacs_db *db, const pacs_index_entry *e,
                                    json_t **out, pacs_put_result *res, pacs_errinfo *ei);

/** The studies a restatement changed (their UIDs), for the audit trail. */
typedef struct pacs_orders__restated {
    char (*uids)[65];
    size_t n;
    char patient_id[65]; /* the PatientID they are served with now */
} pacs_orders__restated;

/**
 * On the writer, inside a patient's change (ADT update or merge): every study linked to an
 * order of patient `pk` is restated with the patient's identity now (`systems` as
 * patient.id_order): each instance's stored metadata reconciled again (a new Original
 * Attributes Sequence item when a value changes), the study's patient columns rewritten and
 * the study filed under the index patient row of the new PatientID and issuer (counts moved;
 * a row left without studies removed). `out` (emptied first, freed with
 * pacs_orders__restated_free) receives the UIDs of the studies that changed.
 */
pacs_err pacs_orders__restate(pacs_index *idx, pacs_db *db, int64_t pk, char (*systems)[17],
                              size_t n_systems, pacs_orders__restated *out, pacs_errinfo *ei);

void pacs_orders__restated_free(pacs_orders__restated *r);

/**
 * On the writer, inside an order's placement or change (orders.c) or an MPPS of it: the studies
 * already stored whose StudyInstanceUID or AccessionNumber is the order's, or that hold a series
 * its MPPS performed (pacs_orders__mpps_series), and that no order holds yet, are
 * linked to order `o` (written, with its key) and restated to its patient as an ADT update
 * restates them (pacs_orders__restate); a SCHEDULED `o` then goes IN PROGRESS (written, and
 * `*started` set). `out` (emptied first) receives the UIDs of the studies linked.
 */
pacs_err pacs_orders__link_stored(pacs_index *idx, pacs_db *db, pacs_order *o, char (*systems)[17],
                                  size_t n_systems, pacs_orders__restated *out, int *started,
                                  pacs_errinfo *ei);

/**
 * On the writer, inside an MPPS N-CREATE or N-SET (or a copy of its instance): the series of
 * the Performed Series Sequence of `attrs` (DICOM JSON) are recorded as order `order_pk`'s
 * (table his_series; 0: none), so that their images, stored before or after, are reconciled to
 * it (pacs_orders__link_instance, pacs_orders__link_stored).
 */
pacs_err pacs_orders__mpps_series(pacs_index *idx, pacs_db *db, int64_t order_pk,
                                  const json_t *attrs, pacs_errinfo *ei);

/** Whether study `study_uid` is linked to an order (its instances are served reconciled), on a
 *  pooled connection. */
pacs_err pacs_orders__study_linked(pacs_index *idx, const char *study_uid, int *linked,
                                   pacs_errinfo *ei);

/** Copies every patient, identifier, order and MPPS instance of `src` into `dst` (which holds
 *  none), with new keys and the links between them kept (orders_copy.c). */
pacs_err pacs_orders__copy(pacs_index *src, pacs_index *dst, pacs_errinfo *ei);

#endif
