// SPDX-License-Identifier: MIT
/*
 * The forwarding queue's EHR sender (storage/forward_worker.h): entries whose destination is
 * the health record's FHIR R4 server (`ehr.NAME = URL [key=@FILE] [ca=PEM]`, pacs/base/config.h)
 * are grouped by study, and each study of a batch gives one idempotent
 * `PUT [base]/ImagingStudy/{StudyInstanceUID}` of the study as stored now (its Endpoint at
 * http.public_url, its subject by the patient's health ID, Reference.identifier, since the EHR
 * has Patient ids of its own), then `PUT [base]/DiagnosticReport/{SOPInstanceUID}` for each
 * report document (SR, Encapsulated PDF, the PDF itself in presentedForm.data) among the
 * entries: the same resources fhir/imaging.c and fhir/diagnostic.c serve. An entry is done only
 * after its PUTs were answered 200 or 201; anything else (4xx, 5xx, a refused key, a broken
 * connection) leaves it for a retry.
 *
 * Thread-safe: send runs on the worker's thread only; cancel from any thread.
 */
#ifndef PACS_FHIR_PUSH_H
#define PACS_FHIR_PUSH_H

#include "pacs/base/config.h"
#include "pacs/base/err.h"
#include "storage/archive.h"
#include "storage/forward_worker.h"

typedef struct pacs_ehr_sender pacs_ehr_sender;

/**
 * A sender for the `ehr.*` destinations of `cfg` (borrowed, as `archive`). Reads each one's key
 * file now: PACS_EINVAL, naming the destination and file (never the key), when one cannot be
 * read; PACS_EINVAL for bad fhir.id.* settings.
 */
pacs_err pacs_ehr_sender_new(const pacs_config *cfg, pacs_archive *archive, pacs_ehr_sender **out,
                             pacs_errinfo *ei);

/** Its face for pacs_fwd_worker_start(). */
pacs_fwd_sender pacs_ehr_sender_face(pacs_ehr_sender *s);

/** Frees it (after the worker stopped). NULL is accepted. */
void pacs_ehr_sender_free(pacs_ehr_sender *s);

#endif
