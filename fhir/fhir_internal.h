// SPDX-License-Identifier: MIT
/*
 * What fhir/'s request files share: the handle, answers (a resource or an OperationOutcome),
 * and the writes a single request and a transaction both make. Not for other modules.
 * Thread-safety: the handle is read-only once open; everything else runs on a request's thread.
 */
#ifndef PACS_FHIR_FHIR_INTERNAL_H
#define PACS_FHIR_FHIR_INTERNAL_H

#include <jansson.h>

#include "fhir/fhir.h"
#include "fhir/resource.h"
#include "http/auth.h"
#include "storage/report.h"

struct pacs_fhir {
    const pacs_config *cfg;
    pacs_archive *archive;
    pacs_auth *auth;
    pacs_fhir_ids ids;
    size_t max_body;
    int tls;
    char prefix[64];
};

enum { PACS_FHIR__PATIENT = 1, PACS_FHIR__ORDER, PACS_FHIR__IMAGING, PACS_FHIR__REPORT };

/** The absolute URL of the FHIR base for this request ("http://host:port/fhir", from the Host
 *  header when it looks like one, else the mount point alone); in the request's arena. */
const char *pacs_fhir__base(pacs_fhir *f, pacs_http_req *r);

/** Sends `res` (taken) as application/fhir+json with `status`, and a Location header of
 *  `{prefix}/{location}` when `location` is not NULL. 500 when `res` is NULL. */
void pacs_fhir__send(pacs_fhir *f, pacs_http_req *r, unsigned status, json_t *res,
                     const char *location);

/** Sends an OperationOutcome with one error issue of `code` (the IssueType) and the message. */
void pacs_fhir__outcome(pacs_http_req *r, unsigned status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/** Sends the OperationOutcome an error deserves (400, 404, 409, 413, 422, 503, 500). */
void pacs_fhir__refuse(pacs_http_req *r, pacs_err err, const pacs_errinfo *ei);

/** Registers or updates a patient; `*created` says whether it is new; `*stored` receives it as
 *  the archive keeps it. */
pacs_err pacs_fhir__put_patient(pacs_fhir *f, const pacs_patient *p, int *created,
                                pacs_patient *stored, pacs_errinfo *ei);

/** The patient `id` names. PACS_EINVAL (422: a business rule) when the archive has none. */
pacs_err pacs_fhir__subject(pacs_fhir *f, const pacs_patient_id *id, pacs_patient *out,
                            pacs_errinfo *ei);

/** Places, changes or cancels the order `o` for `patient` (its key); `*created` says whether
 *  it is new; `*stored` receives the order as kept. */
pacs_err pacs_fhir__put_order(pacs_fhir *f, pacs_order *o, pacs_fhir_sr_action action,
                              const pacs_patient *patient, int *created, pacs_order *stored,
                              pacs_errinfo *ei);

/* The handlers (rest.c, transaction.c). `type` is PACS_FHIR__PATIENT or PACS_FHIR__ORDER. */
void pacs_fhir__read(pacs_fhir *f, pacs_http_req *r, int type, const char *id);
void pacs_fhir__search(pacs_fhir *f, pacs_http_req *r, int type);
void pacs_fhir__write(pacs_fhir *f, pacs_http_req *r, int type, const char *id, json_t *body);
void pacs_fhir__transaction(pacs_fhir *f, pacs_http_req *r, json_t *body);

/* ---- the read-only imaging resources (search.c, imaging.c, diagnostic.c) ---- */

/** This server's DICOMweb base URL (http.public_url, else this request's scheme and host with
 *  http.prefix), for Endpoint.address and WADO-RS URLs; in the request's arena. */
const char *pacs_fhir__dicomweb(pacs_fhir *f, pacs_http_req *r);

/** A DICOM date (YYYYMMDD) and time (HHMMSS...) as a FHIR dateTime into `buf` (the date alone
 *  without a time; with one, the server's UTC offset on that day); "" without a date. */
void pacs_fhir__datetime(const char *date, const char *time_of_day, char *buf, size_t cap);

/** The first value of a string attribute (a PN's Alphabetic group) of a DICOM JSON dataset;
 *  "" when absent. */
const char *pacs_fhir__dcm_str(const json_t *ds, const char *tag);

/** The subject Reference of a study indexed under PatientID `pid`: Patient/{id} when the HIS
 *  registered the person this PatientID is served for, else the identifier and `name`. For a
 *  `remote` server (the EHR, with Patient ids of its own) always the identifier, with the URI
 *  of the system the PatientID is (the registered person's, else patient.id_order's first). */
json_t *pacs_fhir__subject_ref(pacs_fhir *f, const char *pid, const char *name, int remote);

/**
 * Reads the patient criterion of a search: patient.identifier=[SYSTEM|]VALUE or patient=ID.
 * `*given` says whether one was given; `pid` receives the PatientID the archive indexes the
 * person's studies under ("" when the archive knows nobody by it: nothing matches). Returns 0
 * when the criterion is malformed, after answering 400.
 */
int pacs_fhir__patient_criterion(pacs_fhir *f, pacs_http_req *r, char *pid, size_t cap, int *given);

/** A new empty searchset Bundle; NULL when out of memory. */
json_t *pacs_fhir__bundle_new(void);

/** Adds a match (taken) with its fullUrl; 0 when out of memory (or `res` is NULL). */
int pacs_fhir__bundle_add(pacs_fhir *f, pacs_http_req *r, json_t *bundle, json_t *res);

/** Sends the Bundle (taken) with total and a self link of the search on `type`. */
void pacs_fhir__bundle_send(pacs_fhir *f, pacs_http_req *r, const char *type, json_t *bundle);

/** A search's page: `_count` matches from `_offset` (this server's paging parameter, which its
 *  next links carry). */
typedef struct pacs_fhir_page {
    size_t count, offset;
} pacs_fhir_page;

/** Reads `_count` (1 to `max`, `dflt` when absent; more than `max` gives `max`, as FHIR lets a
 *  server) and `_offset` into `*pg`; 0 when one is malformed (a 400 has been sent). */
int pacs_fhir__page_params(pacs_http_req *r, size_t dflt, size_t max, pacs_fhir_page *pg);

/** As pacs_fhir__bundle_send for a page of a search: `more` says matches follow it, and then
 *  the Bundle has a next link and no total (the total of the last page's Bundle is exact). */
void pacs_fhir__bundle_send_page(pacs_fhir *f, pacs_http_req *r, const char *type, json_t *bundle,
                                 const pacs_fhir_page *pg, int more);

/** The ImagingStudy of study `id` with its Endpoint at `dicomweb` (subject as
 *  pacs_fhir__subject_ref says for `remote`) into `*out`, the caller's. PACS_ENOTFOUND when the
 *  study is not stored; the index's errors. */
pacs_err pacs_fhir__imaging_study(pacs_fhir *f, const char *dicomweb, int remote, const char *id,
                                  json_t **out, pacs_errinfo *ei);

/** Called per report document with its DiagnosticReport (taken); non-zero stops. */
typedef int (*pacs_fhir_report_cb)(void *ctx, const pacs_report *doc, json_t *res);

/** The DiagnosticReports of every report document of `study_uid`, for a remote server (the
 *  subject by identifier, a PDF's url under `dicomweb`). The archive's errors. */
pacs_err pacs_fhir__study_reports(pacs_fhir *f, const char *dicomweb, const char *study_uid,
                                  pacs_fhir_report_cb cb, void *ctx, pacs_errinfo *ei);

void pacs_fhir__imaging_read(pacs_fhir *f, pacs_http_req *r, const char *id);
void pacs_fhir__imaging_search(pacs_fhir *f, pacs_http_req *r);
void pacs_fhir__report_read(pacs_fhir *f, pacs_http_req *r, const char *id);
void pacs_fhir__report_search(pacs_fhir *f, pacs_http_req *r);

#endif
