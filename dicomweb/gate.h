// SPDX-License-Identifier: MIT
/*
 * DICOMweb's side of authentication (http/auth.h, http/authn.h): finds a request's principal,
 * answers 401, 403 or the study-limit 404 itself when the request may not go on on its route,
 * and serves the share-link API at
 * {prefix}/shares for hospital systems:
 *   POST   {prefix}/shares          create: study (or StudyInstanceUID) and days, as query
 *                                    parameters or a JSON object body; 201 with the token and
 *                                    the link {origin}/share/{token}. Or, instead of study,
 *                                    patient (a PatientID; issuer when the ID is used by several)
 *                                    and later (true: studies stored later too): a link to the
 *                                    patient's studies (storage/share_scope.h)
 *   GET    {prefix}/shares[?study=] list (ids, studies or patients, times, creator, revoked;
 *                                    never tokens)
 *   DELETE {prefix}/shares/{id}     revoke (204; 404 for an unknown id)
 * All three need the share scope, which no anonymous or study-limited principal has.
 *
 * Load: one authenticate and one authorize per DICOMweb request. Thread-safe: no state of its
 * own; it runs on the request's thread.
 */
#ifndef PACS_DICOMWEB_GATE_H
#define PACS_DICOMWEB_GATE_H

#include <stddef.h>

#include "http/auth.h"
#include "http/http.h"
#include "dicomweb/route.h"

/**
 * Finds the principal of `r` into `*p`. Returns 1 to go on; 0 when an answer has been sent
 * (401 with WWW-Authenticate, or 503 when the share store cannot be read).
 */
int pacs_gate_authenticate(pacs_http_req *r, pacs_auth *a, pacs_principal *p);

/**
 * Checks the route and method against `p`'s scopes and study limit. Returns 1 to go on; 0 when
 * an answer has been sent (401/403, or 404 for another study than the principal's).
 */
int pacs_gate_authorize(pacs_http_req *r, const pacs_principal *p, const pacs_route *rt);

/**
 * The operations endpoints (/metrics, /healthz, /readyz) when they need a credential: returns
 * 1 when `p` has the metrics scope; otherwise answers 401 (anonymous) or 403 and returns 0.
 */
int pacs_gate_authorize_ops(pacs_http_req *r, const pacs_principal *p);

/** True when `path` (below the prefix, as received) names the shares API. */
int pacs_gate_is_shares(const char *path, size_t len);

/** Serves the shares API (answers exactly once, or reads a body and answers at its end). */
void pacs_gate_shares(pacs_http_req *r, pacs_auth *a, const pacs_principal *p, const char *path,
                      size_t len);

#endif
