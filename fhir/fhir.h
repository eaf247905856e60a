// SPDX-License-Identifier: MIT
/*
 * FHIR R4 for the hospital information system: Patient and ServiceRequest (read, search by
 * identifier, create, update, cancel through status revoked or entered-in-error), transaction
 * Bundles of them, ImagingStudy and DiagnosticReport (read and search: the archive's studies
 * and report documents, for the health record), and the CapabilityStatement at /metadata, mounted
 * on the HTTP server at fhir.prefix (http/mount.h) beside DICOMweb, with the same authentication
 * (http.auth, auth.*: reading needs the read scope, writing the write scope; a study-limited
 * principal, such as a share, is refused). Every answer is FHIR JSON (application/fhir+json): the
 * resource, a Bundle, or an OperationOutcome with the status (400 invalid JSON or resource, 401,
 * 403, 404, 405, 406, 409 conflict, 413, 415 wrong media type, 422 a business rule such as an
 * unknown patient, 503). Resources go through fhir/resource.h into the archive's orders API
 * (storage/orders.h), which answers once the change is committed.
 *
 * Thread-safety: open and close from one thread; pacs_fhir_dispatch runs on every HTTP thread
 * at once and only reads the handle.
 */
#ifndef PACS_FHIR_FHIR_H
#define PACS_FHIR_FHIR_H

#include "http/http.h"
#include "pacs/base/config.h"
#include "pacs/base/err.h"
#include "storage/archive.h"

typedef struct pacs_fhir pacs_fhir;

/**
 * Reads the FHIR settings (fhir.*, patient.id_order) and opens authentication (http/auth.h).
 * `cfg` and `archive` are borrowed until pacs_fhir_close. PACS_EINVAL for a bad setting; the
 * errors of pacs_auth_open.
 */
pacs_err pacs_fhir_open(const pacs_config *cfg, pacs_archive *archive, pacs_fhir **out,
                        pacs_errinfo *ei);

/** Answers a request below the mount point (a pacs_httpd_dispatch_fn; `ctx` is the handle). */
void pacs_fhir_dispatch(void *ctx, pacs_http_req *r);

/** Frees the handle. NULL is accepted. */
void pacs_fhir_close(pacs_fhir *f);

#endif
