// SPDX-License-Identifier: MIT
/*
 * Orders and MPPS (orders.c, orders_mpps.c) on the index core's driver: the order rows both
 * files read and write. Internal to storage/ (pacs_orders__ names); each function runs on a
 * connection the caller holds (a writer's job or a pooled reader), on that caller's thread.
 */
#ifndef PACS_STORAGE_ORDERS_STORE_H
#define PACS_STORAGE_ORDERS_STORE_H

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
#define PACS_ORDERS__SQL_MPPS_ADD                                                                  \
    "INSERT INTO mpps(uid, order_pk, status, attrs) VALUES($1, $2, $3, $4)"

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

/** Copies every patient, identifier, order and MPPS instance of `src` into `dst` (which holds
 *  none), with new keys and the links between them kept (orders_copy.c). */
pacs_err pacs_orders__copy(pacs_index *src, pacs_index *dst, pacs_errinfo *ei);

#endif
