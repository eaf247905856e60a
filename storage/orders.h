// SPDX-License-Identifier: MIT
/*
 * Orders and patients in the archive: what the hospital information system (HIS) tells the
 * PACS, over HL7 v2 (hl7/) or FHIR (fhir/), and what the modalities read back (the Modality
 * Worklist, dimse/) and report (MPPS, dimse/). Protocols call this API; none of them touches the
 * tables behind it. It is written once over the index's SQL driver (storage/index_core.h), so
 * SQLite and PostgreSQL keep the same patients and orders.
 *
 * The model (PS3.4 K.6 and F.7; HL7 v2.5 chapters 3 and 4):
 *   patient      one person: a name (DICOM PN, UTF-8), birth date, sex, and identifiers, each
 *                under one of the configured systems (patient.id_order: the social-insurance
 *                number "bhxh" that the health ID is built on, the citizen ID "cccd", the
 *                hospital's MRN "mrn"). The first system of patient.id_order that a patient
 *                has an identifier in gives the DICOM PatientID served for it; the others are
 *                Other Patient IDs. A merge (ADT^A40) retires one patient into another.
 *   order        a requested procedure (one accession number, one Study Instance UID) placed
 *                by the HIS (placer order number, ORC-2), with one scheduled procedure step
 *                (station AE title, modality, start date and time, description).
 *   status       SCHEDULED -> IN PROGRESS (an MPPS N-CREATE, or images arriving) ->
 *                COMPLETED or DISCONTINUED (MPPS N-SET), or CANCELED by the HIS. Only
 *                SCHEDULED steps are on the worklist.
 *
 * Durability: every call that changes something returns once the change is committed (group
 * commit, as for instances); a change it refuses leaves everything as it was. Each change is a
 * line in the audit trail (storage/audit.h), naming the patient and study, never the name.
 *
 * Thread-safe: any thread may call any function; writes are serialised by the index's writer.
 */
#ifndef PACS_STORAGE_ORDERS_H
#define PACS_STORAGE_ORDERS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "pacs/base/err.h"
#include "storage/archive.h"
#include "storage/query.h"

#define PACS_PATIENT_IDS_MAX 4 /* identifiers a patient keeps: one per system */

/** One identifier of a patient under a configured system ("bhxh", "cccd", "mrn"). */
typedef struct pacs_patient_id {
    char system[17];
    char value[65]; /* LO: at most 64 characters */
} pacs_patient_id;

typedef struct pacs_patient {
    int64_t key; /* the archive's key; 0 before it is stored */
    pacs_patient_id ids[PACS_PATIENT_IDS_MAX];
    size_t n_ids;
    char name[324];      /* DICOM PN in UTF-8 (family^given^middle^prefix^suffix), as sent */
    char birth_date[9];  /* YYYYMMDD or "" */
    char sex[2];         /* M, F, O or "" */
    int64_t merged_into; /* a retired patient: the key of the one that survives; else 0 */
} pacs_patient;

/** The systems of patient.id_order, in order (a comma-separated list of 1 to 4 names, each a
 *  lower-case word of at most 16 characters). Writes at most `cap` names; returns how many
 *  there are. */
size_t pacs_orders_id_systems(const pacs_config *cfg, char (*names)[17], size_t cap);

/**
 * Registers a patient or updates one (ADT^A01, A04, A08; FHIR Patient): the patient is the one
 * any of `p->ids` already names (when two different patients are named, PACS_ECONFLICT: the
 * HIS must merge them first). Identifiers are added or, for a system the patient already has,
 * replaced; the name, birth date and sex replace the stored ones when not empty. `*key`
 * receives the patient's key. Studies already stored for the patient (reconciled to it) are
 * served with the new identity from then on. PACS_EINVAL for an identifier of a system not in
 * patient.id_order or a value that is not LO; PACS_EDB.
 */
pacs_err pacs_orders_patient_put(pacs_archive *a, const pacs_patient *p, int64_t *key,
                                 pacs_errinfo *ei);

/** The patient an identifier names (a retired one: the survivor). PACS_ENOTFOUND. */
pacs_err pacs_orders_patient_get(pacs_archive *a, const pacs_patient_id *id, pacs_patient *out,
                                 pacs_errinfo *ei);

/** The patient with the archive's key `key` (an order's patient). PACS_ENOTFOUND. */
pacs_err pacs_orders_patient_by_key(pacs_archive *a, int64_t key, pacs_patient *out,
                                    pacs_errinfo *ei);

/**
 * Merges patient `retired` into `survivor` (ADT^A40): the retired patient's identifiers,
 * orders and studies move to the survivor, and the retired identifier keeps naming the
 * survivor. PACS_ENOTFOUND when either is unknown; PACS_EINVAL when both name the same patient.
 */
pacs_err pacs_orders_patient_merge(pacs_archive *a, const pacs_patient_id *survivor,
                                   const pacs_patient_id *retired, pacs_errinfo *ei);

typedef enum pacs_order_status {
    PACS_ORDER_SCHEDULED = 0,
    PACS_ORDER_IN_PROGRESS,
    PACS_ORDER_COMPLETED,
    PACS_ORDER_DISCONTINUED,
    PACS_ORDER_CANCELED
} pacs_order_status;

/** "SCHEDULED", "IN PROGRESS", "COMPLETED", "DISCONTINUED", "CANCELED" (the DICOM Scheduled
 *  Procedure Step Status and Performed Procedure Step Status terms). */
const char *pacs_order_status_name(pacs_order_status s);

/** One order: a requested procedure with its scheduled step. Strings are UTF-8; "" is absent. */
typedef struct pacs_order {
    int64_t key;        /* the archive's key; 0 before it is stored */
    int64_t patient;    /* the patient's key */
    char placer[65];    /* placer order number (ORC-2 / ServiceRequest.identifier): unique */
    char filler[65];    /* filler order number (ORC-3), "" when the HIS sends none */
    char accession[17]; /* AccessionNumber (SH); the archive makes one when "" */
    char study_uid[65]; /* StudyInstanceUID for the images; the archive makes one when "" */
    char requested_procedure_id[17];
    char procedure_code[17], procedure_scheme[17], procedure_text[65]; /* (0032,1064) */
    char referring[324];   /* ReferringPhysicianName (PN) */
    char priority[17];     /* RequestedProcedurePriority: STAT, HIGH, ROUTINE, MEDIUM, LOW */
    char sps_id[17];       /* ScheduledProcedureStepID; the archive makes one when "" */
    char station_aet[17];  /* ScheduledStationAETitle, "" for any station */
    char station_name[17]; /* ScheduledStationName */
    char modality[17];     /* Modality of the step (CT, MR, CR, DX, US, ...) */
    char start_date[9], start_time[7]; /* ScheduledProcedureStepStartDate/Time */
    char sps_text[65];                 /* ScheduledProcedureStepDescription */
    pacs_order_status status;
    char mpps_uid[65]; /* the MPPS instance that reports on it, once one does */
} pacs_order;

/**
 * Places a new order (ORM^O01 / OMI^O23 with ORC-1 NW; FHIR ServiceRequest create) for the
 * patient `o->patient`; fills in what the archive makes (key, accession number, Study
 * Instance UID, step id) in `*out`. The same placer number again replaces the order if it is
 * still SCHEDULED (a resend). Studies already stored that its Study Instance UID or accession
 * number names (and no other order holds) are reconciled to its patient in the same transaction,
 * and the order then goes IN PROGRESS (`out->status`); pacs_orders_change does the same.
 * PACS_ENOTFOUND for an unknown patient; PACS_ECONFLICT when the placer number is taken by an order
 * already in progress or done, or the accession number or Study Instance UID by another order;
 * PACS_EINVAL for a value its attribute cannot hold.
 */
pacs_err pacs_orders_place(pacs_archive *a, const pacs_order *o, pacs_order *out, pacs_errinfo *ei);

/**
 * Changes a SCHEDULED order (ORC-1 XO; FHIR ServiceRequest update): the fields of `o` that are
 * not empty replace the stored ones of the order with placer number `o->placer`. PACS_ENOTFOUND;
 * PACS_ECONFLICT when it is no longer scheduled.
 */
pacs_err pacs_orders_change(pacs_archive *a, const pacs_order *o, pacs_order *out,
                            pacs_errinfo *ei);

/** Cancels the order with placer number `placer` (ORC-1 CA / DC; FHIR status revoked): it
 *  leaves the worklist. PACS_ENOTFOUND; PACS_ECONFLICT when it is completed. */
pacs_err pacs_orders_cancel(pacs_archive *a, const char *placer, pacs_errinfo *ei);

/** What one write of a batch does (pacs_orders_batch). */
typedef enum pacs_orders_op_kind {
    PACS_ORDERS_OP_PATIENT, /* pacs_orders_patient_put of `patient` */
    PACS_ORDERS_OP_PLACE,   /* pacs_orders_place of `order` */
    PACS_ORDERS_OP_CHANGE,  /* pacs_orders_change of `order`, which must be its patient's */
    PACS_ORDERS_OP_CANCEL   /* pacs_orders_cancel of `order.placer` */
} pacs_orders_op_kind;

/** One write of a batch, and what it stored. */
typedef struct pacs_orders_op {
    pacs_orders_op_kind kind;
    const pacs_patient *patient; /* PATIENT */
    pacs_order order;            /* PLACE, CHANGE (CANCEL: the placer number) */
    size_t patient_op; /* PLACE, CHANGE: when not 0, order.patient is the key op patient_op - 1
                        * of the batch (a patient put before it) stored */
    int64_t key;       /* out, PATIENT: the patient's key */
    pacs_order out;    /* out, PLACE and CHANGE: the order as stored */
} pacs_orders_op;

/**
 * The writes `ops` in order, in one transaction: all of them or, when one fails, none (a FHIR
 * transaction Bundle). Each does what its single call does, with the same errors; a CHANGE of
 * an order that belongs to another patient than `order.patient` is PACS_ECONFLICT. `*failed`
 * (may be NULL) receives the index of the op that failed.
 */
pacs_err pacs_orders_batch(pacs_archive *a, pacs_orders_op *ops, size_t n, size_t *failed,
                           pacs_errinfo *ei);

/** The order with this placer number, accession number or Study Instance UID (the first that
 *  is not NULL). PACS_ENOTFOUND. */
pacs_err pacs_orders_get(pacs_archive *a, const char *placer, const char *accession,
                         const char *study_uid, pacs_order *out, pacs_errinfo *ei);

/**
 * Modality Worklist query (PS3.4 K.6.1.2): `q` holds the identifier's keys at patient level,
 * with the Scheduled Procedure Step Sequence as a sequence key (pacs_query_add_sequence).
 * Matching: ScheduledStationAETitle, Modality, ScheduledProcedureStepStartDate/Time (single
 * value or range), PatientID, AccessionNumber, RequestedProcedureID, and PatientName with the
 * folded Vietnamese matching of C-FIND; only SCHEDULED steps match. `cb` gets one DICOM JSON
 * object per matching step, holding the query's return keys (patient, visit, requested
 * procedure and imaging service request attributes, and the step's item). With `ascii_names`
 * set, person names are written without diacritics in upper case (`Nguyễn^Văn An` as
 * `NGUYEN^VAN AN`) for consoles that cannot show them; the archive keeps them as sent.
 * PACS_EINVAL for keys a worklist cannot match on.
 */
pacs_err pacs_orders_worklist(pacs_archive *a, const pacs_query *q, int ascii_names,
                              pacs_find_cb cb, void *ctx, pacs_errinfo *ei);

/* ---- Modality Performed Procedure Step (PS3.4 F.7) ---- */

/**
 * An MPPS N-CREATE: `attrs` is its dataset as DICOM JSON (PerformedProcedureStepStatus must be
 * IN PROGRESS; the Scheduled Step Attributes Sequence names the order by AccessionNumber, Study
 * Instance UID or Scheduled Procedure Step ID). The instance is kept under `uid`; the order it
 * names goes IN PROGRESS. The series of a Performed Series Sequence become the order's, as for
 * N-SET. PACS_EEXIST when `uid` exists (DICOM 0x0111); PACS_EINVAL with the
 * attribute named in `ei` when a required one is missing or has a wrong value (0x0106/0x0120).
 * An MPPS that names no known order is kept (an unscheduled procedure).
 */
pacs_err pacs_orders_mpps_create(pacs_archive *a, const char *uid, const json_t *attrs,
                                 pacs_errinfo *ei);

/**
 * An MPPS N-SET: the attributes of `attrs` replace the instance's; a status of COMPLETED or
 * DISCONTINUED is final and carries the order with it, and the series of the Performed Series
 * Sequence become the order's: their studies, stored already or to come, are reconciled to its
 * patient (linked like the studies the order names). PACS_ENOTFOUND (0x0112); PACS_ECONFLICT when
 * the instance is no longer IN PROGRESS (0x0110); PACS_EINVAL as for create.
 */
pacs_err pacs_orders_mpps_set(pacs_archive *a, const char *uid, const json_t *attrs,
                              pacs_errinfo *ei);

/** The stored MPPS instance as DICOM JSON (the caller decrefs it). PACS_ENOTFOUND. */
pacs_err pacs_orders_mpps_get(pacs_archive *a, const char *uid, json_t **out, pacs_errinfo *ei);

#endif
