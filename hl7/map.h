// SPDX-License-Identifier: MIT
/*
 * From HL7 v2 segments to the archive's patients and orders (storage/orders.h): PID to a
 * patient (identifiers by system, XPN to DICOM PN, birth date, sex), MRG to the identifier a
 * merge retires, ORC/OBR (ORM^O01, IHE RAD-4 for v2.3.1) and ORC/TQ1/OBR/IPC (OMI^O23, v2.5)
 * to an order. Which system a PID-3 identifier belongs to comes from hl7.id.SYSTEM: the
 * assigning authorities (CX-4) and identifier type codes (CX-5) that mean it. A value that is
 * missing or cannot be used is an error naming the field, for the ACK. No state; thread-safe.
 */
#ifndef PACS_HL7_MAP_H
#define PACS_HL7_MAP_H

#include "pacs/base/config.h"
#include "hl7/hl7.h"
#include "storage/orders.h"

/**
 * The patient of the PID segment (the first): PID-3's identifiers of known systems (at least
 * one, else PACS_HL7_E_REQUIRED_MISSING or PACS_HL7_E_UNKNOWN_KEY at PID-3), PID-5 (the first
 * repetition, as family^given^middle^prefix^suffix), PID-7 (its date), PID-8 (M, F, O; U and
 * others leave it empty). PACS_EBADDATA with `err` filled.
 */
pacs_err pacs_hl7_map_patient(const pacs_config *cfg, const pacs_hl7_msg *m, pacs_patient *out,
                              pacs_hl7_error *err);

/** The identifier MRG-1 names (ADT^A40: the patient that is merged away). */
pacs_err pacs_hl7_map_merge(const pacs_config *cfg, const pacs_hl7_msg *m, pacs_patient_id *out,
                            pacs_hl7_error *err);

/** What ORC-1 asks of an order. */
typedef enum pacs_hl7_order_control {
    PACS_HL7_ORDER_NEW,    /* NW */
    PACS_HL7_ORDER_CHANGE, /* XO */
    PACS_HL7_ORDER_CANCEL  /* CA, DC, OC */
} pacs_hl7_order_control;

/**
 * The order of an ORM^O01 or OMI^O23 (the first ORC and what follows it): ORC-1 (NW, XO, CA,
 * DC, OC), ORC-2 placer number (required), ORC-3 filler number, OBR-4 procedure code, text
 * and scheme, OBR-16 referring physician, the priority (TQ1-9 or ORC-7.6), the start
 * (TQ1-7.1, else OBR-27.4, else ORC-7.4), and: for ORM, OBR-18 accession number, OBR-19
 * requested procedure id, OBR-20 step id, OBR-21 station AE title, OBR-24 modality and ZDS-1
 * Study Instance UID; for OMI, IPC-1 to IPC-9. `out->patient` is left 0.
 */
pacs_err pacs_hl7_map_order(const pacs_hl7_msg *m, pacs_hl7_order_control *control, pacs_order *out,
                            pacs_hl7_error *err);

#endif
