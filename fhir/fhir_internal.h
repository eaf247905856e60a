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

struct pacs_fhir {
    const pacs_config *cfg;
    pacs_archive *archive;
    pacs_auth *auth;
    pacs_fhir_ids ids;
    size_t max_body;
    int tls;
    char prefix[64];
};

enum { PACS_FHIR__PATIENT = 1, PACS_FHIR__ORDER };

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

#endif
