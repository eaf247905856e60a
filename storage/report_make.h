// SPDX-License-Identifier: MIT
/*
 * Writing a report into its study (issue 17): the text and author a radiologist or a RIS gives
 * (DICOMweb's JSON call, HL7 ORU^R01) become a Basic Text SR (pacs/dicom/sr.h) carrying the
 * study's patient and study attributes as the index holds them (the reconciled identity when
 * the study was reconciled to an order), stored through the one ingest path exactly as if
 * STOW-RS had received it (durable before success; the stored hook forwards and audits it).
 * An amendment is a new document naming the old one in its Predecessor Documents Sequence; the
 * old one is kept. report.h reads them back.
 *
 * Load: one study query, perhaps one instance query, one SR of a few KB ingested. Thread-safe:
 * as the archive.
 */
#ifndef PACS_STORAGE_REPORT_MAKE_H
#define PACS_STORAGE_REPORT_MAKE_H

#include "pacs/base/err.h"
#include "storage/archive.h"

/** What a new report says. Strings are UTF-8. */
typedef struct pacs_report_new {
    const char *study_uid;    /* the study, or NULL to find it by accession */
    const char *accession;    /* AccessionNumber, used when study_uid is NULL */
    const char *text;         /* required, not empty */
    const char *author;       /* required: a DICOM PN ("Family^Given") */
    const char *organization; /* the verifying observer's organization, NULL: none given */
    int final;                /* 1: COMPLETE and VERIFIED by the author */
    const char *amends;       /* the SOP Instance UID of the study's document it replaces */
    int amends_latest;        /* without `amends`: replace the study's latest document (HL7 "C") */
} pacs_report_new;

/**
 * Makes the report and stores it, from `source` (a calling AE, or "") and `source_http` (the
 * HTTP credential's name, pacs_ingest_set_http_source; NULL or "" when none); returns once it is
 * durable, with `*res` as ingest fills it (study, series and SOP Instance UIDs of the new
 * document). PACS_ENOTFOUND when no stored study has that UID or accession number; PACS_EINVAL
 * naming the field for a missing text or author, a malformed value, or an `amends` that is not a
 * report document of the study (PACS_ECONFLICT when the accession number names several studies);
 * the ingest errors (PACS_ENOSPC, PACS_EIO, PACS_EDB).
 */
pacs_err pacs_archive_report_make(pacs_archive *a, const pacs_report_new *rn, const char *source,
                                  const char *source_http, pacs_ingest_result *res,
                                  pacs_errinfo *ei);

#endif
