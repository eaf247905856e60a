// SPDX-License-Identifier: MIT
/*
 * A study's report, as the archive holds it: a DICOM document stored in the study, either a
 * Structured Report (Basic Text, Enhanced, Comprehensive, Comprehensive 3D or Extensible SR,
 * as DCMTK's dcmsr makes them) or an Encapsulated PDF. What the share page shows a patient
 * beside the images (issue 18; reports themselves arrive with issue 17).
 *
 * The final report is chosen among the study's documents: an SR counts when its Completion
 * Flag is COMPLETE and its Verification Flag VERIFIED (signed); a PDF always counts (the
 * Encapsulated Document module has no such flags). A document named in another's Predecessor
 * Documents Sequence has been amended and no longer counts. Of those left, the latest by
 * Content Date and Time wins. An SR's content tree is flattened into plain text: each
 * CONTAINS child of a container in document order, containers as headings, TEXT values as
 * paragraphs, CODE, NUM, DATE, TIME, DATETIME, PNAME and UIDREF values as "name: value" lines;
 * context, modifiers, coordinates and references to images are left out.
 *
 * Everything is read from the index (the stored DICOM JSON metadata): no object is opened.
 * Load: one indexed query per call, plus parsing the metadata of the study's documents.
 * Thread-safety: as the archive.
 */
#ifndef PACS_STORAGE_REPORT_H
#define PACS_STORAGE_REPORT_H

#include "pacs/base/err.h"
#include "storage/archive.h"

/** Longest report text kept (bytes); the lines past it are left out. */
#define PACS_REPORT_TEXT_MAX (64u * 1024u)

typedef struct pacs_report {
    char study_uid[65];
    char series_uid[65];
    char sop_uid[65];
    char sop_class[65];
    int pdf;            /* 1: an Encapsulated PDF (text is NULL); 0: an SR */
    char *text;         /* the SR's text, UTF-8 with '\n' between lines; NULL for a PDF */
    char observer[200]; /* the (first) verifying observer's name as stored (PN); "" if none */
    char date[9];       /* Content Date (YYYYMMDD), "" when absent */
    char time[7];       /* Content Time (HHMMSS), "" when absent */
    /* pacs_archive_reports fills the fields below too */
    char completion[17];   /* Completion Flag: PARTIAL, COMPLETE; "" for a PDF */
    char verification[17]; /* Verification Flag: UNVERIFIED, VERIFIED; "" for a PDF */
    char author[200];      /* the verifying observer, else the SR's Person Observer Name, else
                              the Author Observer's name (PN as stored); "" if none */
    char amends[65];       /* the SOP Instance UID its Predecessor Documents Sequence names */
    int amended;           /* another document of the set names this one as its predecessor */
    int is_final;          /* it counts as final (COMPLETE and VERIFIED, or a PDF) */
    char patient_id[65];   /* PatientID as indexed */
    char title[65];        /* Document Title (PDF) or the SR's root concept name */
    char pdf_bulk[64];     /* PDF: the document's BulkDataURI, relative to the instance's
                              WADO-RS URL ("bulkdata/00420011"); "" when stored inline */
    char *pdf_inline;      /* PDF: the document in base64 when stored inline; else NULL */
} pacs_report;

/**
 * Finds the final report of study `study_uid`. On PACS_OK `*out` is the caller's to release
 * with pacs_report_free. PACS_ENOTFOUND when the study holds no document that counts (or does
 * not exist); other errors are the index's (PACS_EDB, PACS_ENOMEM).
 */
pacs_err pacs_archive_report(pacs_archive *a, const char *study_uid, pacs_report **out,
                             pacs_errinfo *ei);

/** Called once per document; `r` is borrowed for the call. Return non-zero to stop. */
typedef int (*pacs_report_cb)(void *ctx, const pacs_report *r);

/**
 * Every report document (SR or PDF, in any state) of study `study_uid`, of the patient indexed
 * under PatientID `patient_id`, or the one document `sop_uid` (the non-NULL ones all apply; at
 * least one is required), oldest first by Content Date and Time. `amended` says whether another
 * document of the same set names it as its predecessor (all of a study's documents are in the
 * set when it is chosen by study or patient). At most 64 documents per call. PACS_EINVAL when
 * no filter is given; the index's errors.
 */
pacs_err pacs_archive_reports(pacs_archive *a, const char *study_uid, const char *patient_id,
                              const char *sop_uid, pacs_report_cb cb, void *ctx, pacs_errinfo *ei);

/** Frees a report; NULL is accepted. */
void pacs_report_free(pacs_report *r);

#endif
