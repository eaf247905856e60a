// SPDX-License-Identifier: MIT
/*
 * A report as a DICOM document: a Basic Text SR (PS3.3 A.35.1) made with DCMTK's dcmsr from a
 * study's patient and study attributes and the report's text, in memory as a Part 10 stream
 * (Explicit VR Little Endian, Specific Character Set ISO_IR 192) that the archive stores
 * through its one ingest path. The content tree: a root CONTAINER "Imaging Report" (LOINC
 * 18748-4) holding the author as observation context (PNAME "Person Observer Name", DCM 121008)
 * and the text as one TEXT "Findings" (DCM 121070). A final report is COMPLETE and VERIFIED,
 * with the author as Verifying Observer; a preliminary one PARTIAL and UNVERIFIED. An amendment
 * names the document it replaces in the Predecessor Documents Sequence.
 *
 * Implemented in C++ (sr.cc); no DCMTK type or exception crosses this header. Thread-safe: no
 * shared state.
 */
#ifndef PACS_DICOM_SR_H
#define PACS_DICOM_SR_H

#include <stddef.h>
#include <stdint.h>

#include "pacs/base/err.h"

#ifdef __cplusplus
extern "C" {
#endif

#define PACS_SR_BASIC_TEXT "1.2.840.10008.5.1.4.1.1.88.11"

/** What a report document is made from. Strings are UTF-8; NULL or "" is absent. */
typedef struct pacs_sr_input {
    /* the study's attributes, copied into the document */
    const char *patient_name, *patient_id, *issuer, *birth_date, *sex;
    const char *study_uid, *study_date, *study_time, *study_id, *accession, *referring;
    /* the new document's UIDs (required, valid UIDs) and content date and time */
    const char *series_uid, *sop_uid;
    const char *content_date, *content_time; /* YYYYMMDD, HHMMSS (required) */
    const char *text;                        /* the report (required); lines separated by '\n' */
    const char *author;                      /* DICOM PN (required) */
    const char *organization; /* the verifying observer's organization ("" for final: "-") */
    int final;                /* 1: COMPLETE and VERIFIED by the author */
    /* the document amended (all three, or none) */
    const char *amends_series, *amends_sop, *amends_class;
} pacs_sr_input;

/**
 * Makes the document. On PACS_OK `*out` (the caller's to free()) holds `*len` bytes of a Part 10
 * file. PACS_EINVAL naming the field for a missing or malformed value (a UID, a date, a name
 * DCMTK refuses); PACS_ENOMEM.
 */
pacs_err pacs_sr_build(const pacs_sr_input *in, uint8_t **out, size_t *len, pacs_errinfo *ei);

/** Writes a new UID under pacsd's root for report documents into `out` (65 bytes). */
void pacs_sr_new_uid(char *out);

#ifdef __cplusplus
}
#endif

#endif
