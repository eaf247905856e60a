// SPDX-License-Identifier: MIT
/*
 * FHIR R4 resources as the HIS sends them, checked and read into the archive's patients and
 * orders (storage/orders.h), and written back from them. A pure layer: JSON (jansson) in,
 * structs out, and the other way; no request, no archive. fhir/tests/test_fhir_resource.c
 * holds its tables; fuzz/fuzz_fhir.c feeds it arbitrary bytes.
 *
 * What is checked, following the R4 JSON format (https://hl7.org/fhir/R4/json.html): the
 * resourceType; that every element of Patient, ServiceRequest and Bundle, and of the data types
 * read from them (Identifier, HumanName, CodeableConcept, Coding, Reference, Period), is one the
 * R4 definition has (an unknown element is an error), with the JSON type its cardinality and
 * type give (an array for 0..*, a string for code/string/uri/dateTime); the codes of the value
 * sets read (gender, status, intent, priority); the formats of id, date and dateTime; the
 * required elements (ServiceRequest.status, .intent, .subject). A modifierExtension is refused:
 * pacsd understands none. Elements that are not read (address, telecom, note...) are checked
 * only for their JSON shape.
 *
 * Errors: PACS_EBADDATA (invalid FHIR: answer 400), PACS_EINVAL (valid FHIR that pacsd cannot
 * take: answer 422), PACS_EUNSUPPORTED (a modifierExtension: 400 not-supported); `ei` names the
 * element (FHIRPath, e.g. "Patient.identifier[1].system").
 *
 * The mapping (docs/his.md, "FHIR"):
 *   Patient.identifier      system URI -> the archive's systems through fhir.id.bhxh, .cccd,
 *                           .mrn (comma-separated URIs; the first is the one written back);
 *                           identifiers of other systems are ignored
 *   Patient.id              "<system>-<value>" of the first identifier of patient.id_order
 *   Patient.name            the official (else usual, else first) name: family^given
 *                           (given names joined by spaces)^^prefix^suffix as DICOM PN
 *   gender, birthDate       PatientSex M/F/O, PatientBirthDate (a partial date is not kept)
 *   ServiceRequest.id       the placer order number
 *   .identifier             type PLAC (or any other without type ACSN): the placer number;
 *                           type ACSN (v2-0203): AccessionNumber; system urn:dicom:uid:
 *                           StudyInstanceUID (urn:oid:...)
 *   .subject                Patient/<id>, an identifier, or (in a transaction) the fullUrl of
 *                           a Patient entry
 *   .code                   Requested Procedure Code (the first coding) and description
 *   .occurrenceDateTime     Scheduled Procedure Step Start Date and Time (as written)
 *   .performerType          a coding of system http://dicom.nema.org/resources/ontology/DCM:
 *                           Modality (CT, MR, ...)
 *   .locationCode           a coding of system urn:dicom:ae: Scheduled Station AE Title
 *                           (code) and Station Name (display)
 *   .priority               stat -> STAT, asap and urgent -> HIGH, routine -> ROUTINE
 *   .requester.display      Referring Physician's Name
 *
 * Thread-safe: no shared state.
 */
#ifndef PACS_FHIR_RESOURCE_H
#define PACS_FHIR_RESOURCE_H

#include <jansson.h>
#include <stddef.h>

#include "pacs/base/config.h"
#include "pacs/base/err.h"
#include "storage/orders.h"

#define PACS_FHIR_DCM "http://dicom.nema.org/resources/ontology/DCM"
#define PACS_FHIR_AE "urn:dicom:ae"
#define PACS_FHIR_V2_0203 "http://terminology.hl7.org/CodeSystem/v2-0203"

/** The identifier systems: the archive's names (patient.id_order) and their URIs. */
typedef struct pacs_fhir_ids {
    size_t n;
    char system[PACS_PATIENT_IDS_MAX][17];
    char uris[PACS_PATIENT_IDS_MAX][1024]; /* fhir.id.<system>, comma-separated */
} pacs_fhir_ids;

/** Reads patient.id_order and fhir.id.*. PACS_EINVAL for a system with no URI or a list too
 *  long. */
pacs_err pacs_fhir_ids_load(const pacs_config *cfg, pacs_fhir_ids *out, pacs_errinfo *ei);

/** The archive's system for identifier system `uri`, or NULL. */
const char *pacs_fhir_ids_system(const pacs_fhir_ids *ids, const char *uri);

/** The URI written back for the archive's `system` (the first of its list) into `buf`; ""
 *  when unknown. */
void pacs_fhir_ids_uri(const pacs_fhir_ids *ids, const char *system, char *buf, size_t cap);

/** A Patient id for `id` ("bhxh-DN40..."), into `buf` (65 bytes); 0 when the value holds a
 *  character an id cannot ([A-Za-z0-9.-] only, 64 at most). */
int pacs_fhir_patient_id(const pacs_patient_id *id, char *buf, size_t cap);

/** Reads a Patient id back into the identifier it names. PACS_EBADDATA when it names none. */
pacs_err pacs_fhir_patient_id_parse(const pacs_fhir_ids *ids, const char *text,
                                    pacs_patient_id *out, pacs_errinfo *ei);

/** True when `text` is a FHIR id ([A-Za-z0-9.-]{1,64}). */
int pacs_fhir_id_valid(const char *text);

/** Checks a Patient and reads it into `*out` (cleared first). PACS_EINVAL when it carries no
 *  identifier of a known system. */
pacs_err pacs_fhir_patient_read(const pacs_fhir_ids *ids, const json_t *res, pacs_patient *out,
                                pacs_errinfo *ei);

/** What a ServiceRequest asks for. */
typedef enum pacs_fhir_sr_action {
    PACS_FHIR_SR_PLACE = 0, /* draft, active, on-hold: place it or change it */
    PACS_FHIR_SR_CANCEL     /* revoked, entered-in-error: take it off the worklist */
} pacs_fhir_sr_action;

/** A ServiceRequest's subject: a patient's identifier, or the fullUrl of a transaction entry. */
typedef struct pacs_fhir_subject {
    pacs_patient_id id; /* system "" when `full_url` names it */
    char full_url[256];
} pacs_fhir_subject;

/** Checks a ServiceRequest and reads it into `*out` (cleared first; `out->patient` is left 0)
 *  with what it asks and whom for. PACS_EINVAL for a status pacsd cannot apply (completed,
 *  unknown) or values an order cannot hold; a missing placer number is PACS_EINVAL too. */
pacs_err pacs_fhir_order_read(const pacs_fhir_ids *ids, const json_t *res, pacs_order *out,
                              pacs_fhir_sr_action *action, pacs_fhir_subject *subject,
                              pacs_errinfo *ei);

/** Checks a Bundle's own elements and its entries' shapes (each entry's resource is checked
 *  when read). */
pacs_err pacs_fhir_bundle_check(const json_t *res, pacs_errinfo *ei);

/** A new Patient resource for `p` (the caller decrefs it); NULL when out of memory. */
json_t *pacs_fhir_patient_json(const pacs_fhir_ids *ids, const pacs_patient *p);

/** The server's UTC offset on DICOM date `date` (YYYYMMDD) as FHIR writes it ("+07:00") in
 *  `buf`: DICOM dates and times are the hospital's local time, whose zone is the server's. */
void pacs_fhir_zone_offset(const char *date, char *buf, size_t cap);

/** A new ServiceRequest for `o`, whose patient is `p`; NULL when out of memory. */
json_t *pacs_fhir_order_json(const pacs_fhir_ids *ids, const pacs_order *o, const pacs_patient *p);

#endif
