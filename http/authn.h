// SPDX-License-Identifier: MIT
/*
 * The HTTP side of authentication (auth.h) that every HTTP protocol shares: reads a request's
 * credentials (the Authorization header, an access_token or token query parameter, the share
 * cookie), finds its principal, and refuses what cannot go on, logged at INFO (never the
 * credential) and written to the audit trail as a login failure. What a principal may do on a
 * resource is each protocol's own (DICOMweb's gate.h, FHIR's fhir.c). Answers to a share
 * token carry `Cache-Control: no-store` and `Referrer-Policy: no-referrer`.
 *
 * Load: one call per request. Thread-safe: stateless; runs on the request's thread.
 */
#ifndef PACS_HTTP_AUTHN_H
#define PACS_HTTP_AUTHN_H

#include "http/auth.h"
#include "http/http.h"

/** The message of a 401 answer. */
#define PACS_HTTP_AUTH_401 "authentication required: missing, invalid or expired credentials"

/**
 * Finds the principal of `r` (then returned by pacs_http_principal). Returns 0 to go on, or
 * the status the caller answers with `*why` as its message: 401 (WWW-Authenticate added, the
 * refusal logged and audited), 503 (the share store cannot be read now), 500 (out of memory).
 */
unsigned pacs_http_authenticate(pacs_http_req *r, pacs_auth *a, const char **why);

/** True when `r` carries a credential that verifies (a session, a share cookie, a token),
 *  checked quietly: nothing is logged or audited (the viewer's pages ask before redirecting
 *  to the login page). */
int pacs_http_signed_in(pacs_http_req *r, pacs_auth *a);

/** A 401's bookkeeping: logs `why`, writes a login failure to the audit trail and adds the
 *  WWW-Authenticate header (error="invalid_token" when a credential was `presented`). The
 *  caller answers 401. */
void pacs_http_auth_refused(pacs_http_req *r, int presented, const char *why);

#endif
