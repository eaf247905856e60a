// SPDX-License-Identifier: MIT
/*
 * Internal to storage/: the parts of the orders API that are the same whatever table holds
 * them. A worklist item as DICOM JSON (the attributes PS3.4 K.6.1.2.2 returns, from an order
 * and its patient), the worklist match of an item against a query, and the checks of MPPS
 * N-CREATE and N-SET attributes (PS3.4 F.7.2). No state; thread-safe.
 */
#ifndef PACS_STORAGE_ORDERS_ITEM_H
#define PACS_STORAGE_ORDERS_ITEM_H

#include <jansson.h>

#include "storage/orders.h"

/**
 * The worklist item of order `o` for patient `p`: patient (name, PatientID from the first of
 * `systems` the patient has an identifier in, IssuerOfPatientID the system in upper case, the
 * other identifiers as OtherPatientIDsSequence, birth date, sex), imaging service request and
 * requested procedure (accession number, referring physician, placer and filler numbers, Study
 * Instance UID, requested procedure id, description, code sequence and priority), and the
 * Scheduled Procedure Step Sequence's one item (modality, station AE title and name, start
 * date and time, description, step id, status). With `ascii_names`, person names go through
 * pacs_fold_ascii_upper. NULL when out of memory. The caller decrefs it.
 */
json_t *pacs_orders__item_json(const pacs_order *o, const pacs_patient *p, char (*systems)[17],
                               size_t n_systems, int ascii_names);

/**
 * The patient-level attributes the archive serves for `p`: PatientName, PatientID (from the
 * first of `systems` the patient has an identifier in), IssuerOfPatientID (that system in upper
 * case), OtherPatientIDsSequence (the other identifiers), PatientBirthDate and PatientSex, as
 * DICOM JSON; names through pacs_fold_ascii_upper with `ascii_names`. NULL when out of memory.
 * The caller decrefs it.
 */
json_t *pacs_orders__patient_json(const pacs_patient *p, char (*systems)[17], size_t n_systems,
                                  int ascii_names);

/**
 * Reconciles one instance's DICOM JSON `attrs` (its stored metadata, or a C-FIND or QIDO answer)
 * to `identity` (pacs_orders__patient_json's, for the patient of the order the instance's
 * accession number or Study Instance UID names): each attribute of `identity` that has a value
 * and differs from the instance's replaces it; attributes without a value replace nothing. The
 * replaced values, as received (an absent one with no value; a replaced PatientID with the
 * IssuerOfPatientID it came with), go into one new item of OriginalAttributesSequence
 * (0400,0561) with ReasonForTheAttributeModification COERCE, ModifyingSystem "pacsd" and
 * AttributeModificationDateTime `when` (DT), which also becomes InstanceCoercionDateTime; items
 * already in the sequence are kept. An instance that already carries the identity is left as
 * it is, so reconciling twice adds nothing. Returns how many attributes were replaced (0 for
 * none), or -1 when out of memory or `attrs` or `identity` is not an object (`attrs` unchanged).
 */
int pacs_orders__reconcile_json(json_t *attrs, const json_t *identity, const char *when);

/**
 * True when `item` (pacs_orders__item_json's) satisfies every key of the worklist query `q`:
 * top-level keys against the item's attributes, the Scheduled Procedure Step Sequence's keys
 * against its item; PatientName as C-FIND matches it (a pattern typed without diacritics
 * matches names with them). Keys absent from the item match only universally.
 */
int pacs_orders__item_matches(const pacs_query *q, const json_t *item);

/** What an MPPS names of the order it reports on (any may be ""). */
typedef struct pacs_mpps_link {
    char accession[17];
    char study_uid[65];
    char sps_id[17];
} pacs_mpps_link;

/**
 * Checks an N-CREATE's attributes: PerformedProcedureStepStatus is IN PROGRESS; the
 * PerformedProcedureStepID, its start date and time, the Modality and the Scheduled Step
 * Attributes Sequence (one item at least) are present. Fills `link` from the sequence's first
 * item. PACS_EINVAL with "missing NAME (gggg,eeee)" or "NAME (gggg,eeee): why" in `ei`.
 */
pacs_err pacs_orders__mpps_check_create(const json_t *attrs, pacs_mpps_link *link,
                                        pacs_errinfo *ei);

/**
 * Checks an N-SET's attributes against the instance's status now (`current`): only an
 * IN PROGRESS step may change (PACS_ECONFLICT otherwise); the status may be set to IN PROGRESS,
 * COMPLETED or DISCONTINUED; the Scheduled Step Attributes Sequence, the patient's and the
 * step's identity may not change. `*next` receives the status after the N-SET.
 */
pacs_err pacs_orders__mpps_check_set(pacs_order_status current, const json_t *attrs,
                                     pacs_order_status *next, pacs_errinfo *ei);

#endif
