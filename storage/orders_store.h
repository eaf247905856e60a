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

#endif
