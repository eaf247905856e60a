// SPDX-License-Identifier: MIT
/*
 * Authentication and authorisation over HTTP (DICOMweb, FHIR): who is asking (a principal) and
 * what they may do. Each protocol asks for a principal on every request but CORS preflights
 * (authn.h), then checks the resource against the principal's scopes and study limit before any
 * handler runs (DICOMweb's gate.h, FHIR's fhir.c).
 *
 * Credentials, in the order they are looked for (the first one present is the only one used):
 *  1. `Authorization: Bearer X`, where X is an OAuth2 access token (a JWT signed RS256/384/512
 *     or ES256/384/512 by a key of `auth.jwt_keys`, a JWKS or PEM file; `iss` must equal
 *     `auth.jwt_issuer`, `aud` must hold `auth.jwt_audience`, `exp` is required, `nbf` honoured,
 *     with `auth.jwt_leeway` seconds of clock skew; "none" and HS* are always refused, so a
 *     public key can never serve as an HMAC secret), a share token (storage/share.h), or an API
 *     key (`auth.key.NAME = sha256:HEX scope...`, the SHA-256 of the key in hex).
 *  2. On GET/HEAD only, a share token in the `access_token` or `token` query parameter.
 *  3. A login session (http/session.h) in the PACS_SESSION_COOKIE cookie, which the login page
 *     (dicomweb/login.c) sets when a built-in user (storage/users.h) signs in; its principal
 *     has the scopes of the user's role (pacs_auth_role_scopes). On a request that is not
 *     GET/HEAD the cookie counts only when the request comes from this server's own pages:
 *     its Origin header (or, without one, its Referer) names the Host it was sent to. That
 *     check and the cookie's SameSite=Strict are the defence against cross-site request
 *     forgery; a cross-site POST or DELETE is treated as carrying no cookie.
 *  4. On GET/HEAD only, a share token in the PACS_AUTH_COOKIE cookie, which the /share/{token}
 *     page sets (HttpOnly, SameSite=Strict, Path=/) so the viewer's requests carry it. A cookie
 *     that no longer verifies is ignored (the request is then anonymous).
 * With `http.auth = off` (the default) a request without credentials is an anonymous principal
 * with read, write and delete; credentials that are presented are still verified and applied,
 * so a share token is limited to its study either way. With `http.auth = required` a request
 * without valid credentials gets 401. The share scope is never anonymous.
 *
 * Scopes: read (QIDO, WADO, rendered, WADO-URI; FHIR reads), write (STOW-RS; FHIR writes),
 * delete (DELETE), share (the
 * {prefix}/shares API), metrics (/metrics, /healthz and /readyz when they need a credential:
 * http.auth = required and http.ops_auth on). A JWT's scopes come from its `scope`
 * (space-separated) or `scp` claim; a JWT with a `study_uid` claim, and every share token, is
 * limited to that one study, read only; a patient's share token (storage/share_scope.h) to the
 * studies its scope grants, which the gate finds in the archive on each request
 * (pacs_gate_authenticate).
 *
 * A study-limited principal (and a patient's share, with its studies in place of the one):
 * QIDO at every level is restricted to its study in the query model
 * (a conflicting StudyInstanceUID in the request gives an empty answer); every WADO-RS,
 * rendered, thumbnail, bulkdata, metadata, frames and WADO-URI request naming another study is
 * answered 404 "no such study/series/instance" before the archive is asked, so the answer for
 * a study that exists is byte for byte the one for a study that does not; STOW, DELETE and the
 * shares API are refused 403.
 *
 * Load: one check per request: a hash and a table walk for API keys, an SQLite lookup and an
 * HMAC for a share token; a JWT's signature is checked once (about 0.5 ms with libjwt, which
 * parses the PEM key every time) and the verified token is then remembered by its SHA-256 until
 * its exp, at most 5 minutes, in a small table under a mutex.
 * Thread-safe: after pacs_auth_open the handle is read-only but for the share store, which is
 * thread-safe itself, and the table of verified JWTs, which has its own mutex.
 */
#ifndef PACS_HTTP_AUTH_H
#define PACS_HTTP_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include "pacs/base/config.h"
#include "pacs/base/err.h"
#include "http/addr_limit.h"
#include "http/session.h"
#include "storage/query.h"
#include "storage/share.h"
#include "storage/users.h"

/** The cookie carrying a share token for the viewer's requests. */
#define PACS_AUTH_COOKIE "pacs_share"

enum {
    PACS_SCOPE_READ = 1u << 0,
    PACS_SCOPE_WRITE = 1u << 1,
    PACS_SCOPE_DELETE = 1u << 2,
    PACS_SCOPE_SHARE = 1u << 3,
    PACS_SCOPE_METRICS = 1u << 4 /* /metrics, /healthz, /readyz when http.ops_auth is on */
};

typedef enum pacs_principal_kind {
    PACS_PRINCIPAL_ANONYMOUS = 0,
    PACS_PRINCIPAL_API_KEY,
    PACS_PRINCIPAL_JWT,
    PACS_PRINCIPAL_SHARE,
    PACS_PRINCIPAL_SESSION /* a built-in user's login session */
} pacs_principal_kind;

/** Who is asking. Plain data: copy it freely. */
typedef struct pacs_principal {
    pacs_principal_kind kind;
    unsigned scopes; /* PACS_SCOPE_* */
    char name[130];  /* "key:NAME", "jwt:SUBJECT", "share:ID", "user:NAME"; "" for anonymous */
    char study[PACS_SHARE_UID_CAP]; /* the one study it may read; "" for no limit */
    const char *scope;   /* a patient's share: its subject (storage/share_scope.h), in the
                            request's pacs_auth_request.subject buffer; NULL otherwise */
    const char *studies; /* with `scope`: the studies it may read now, '\' between UIDs, set by
                            pacs_gate_authenticate for the request; NULL or "": none */
    int recheck;         /* a session whose user is due to be looked up again (authn.c) */
} pacs_principal;

typedef struct pacs_auth pacs_auth;

/**
 * Reads the authentication settings of `cfg` (http.auth, auth.jwt_*, auth.key.*) and opens the
 * share store of `data_dir`. Errors: PACS_EINVAL (a bad setting, an unreadable or empty key
 * file, an API key that is not sha256:HEX with known scopes, http.auth=required with no way to
 * authenticate), PACS_EIO/PACS_EDB (the share store).
 */
pacs_err pacs_auth_open(const pacs_config *cfg, const char *data_dir, pacs_auth **out,
                        pacs_errinfo *ei);

/** Frees the handle; NULL is accepted. */
void pacs_auth_close(pacs_auth *a);

/** True when http.auth = required. */
int pacs_auth_required(const pacs_auth *a);

/** The share store (borrowed, valid until pacs_auth_close). */
pacs_shares *pacs_auth_shares(pacs_auth *a);

/** The login sessions (borrowed, valid until pacs_auth_close). */
pacs_sessions *pacs_auth_sessions(pacs_auth *a);

/** The failed logins per client address (borrowed, valid until pacs_auth_close). */
pacs_addr_limit *pacs_auth_addr_limit(pacs_auth *a);

/**
 * The scopes of a built-in user's role: radiologist read, write and share (reads studies,
 * stores reports and key images, hands a patient a link); technician read and write (checks
 * and sends studies, never deletes or shares); admin every scope (read, write, delete, share,
 * metrics). 0 for PACS_ROLE_NONE.
 */
unsigned pacs_auth_role_scopes(pacs_role role);

/** The credentials a request carries; every member may be NULL. */
typedef struct pacs_auth_request {
    const char *authorization; /* the Authorization header */
    const char *query_token;   /* the access_token or token query parameter (GET/HEAD only) */
    const char *cookie;        /* the Cookie header */
    int safe_method;           /* GET or HEAD */
    char *subject;             /* room for a patient's share's subject (PACS_SHARE_SUBJECT_MAX
                                  + 1 bytes) that outlives the principal's use; NULL: patient
                                  shares are refused */
    size_t subject_cap;
    const char *origin;  /* the Origin, Referer and Host headers (a session cookie's */
    const char *referer; /* same-origin check); each may be NULL */
    const char *host;
} pacs_auth_request;

/**
 * Authenticates a request. PACS_OK fills `*out` (also for an anonymous principal when auth is
 * off). PACS_EDENIED: credentials missing (when required) or invalid: answer 401; `ei` then
 * says why for the log (never quoting the credential), and `*presented` (may be NULL) is set
 * when a credential was presented (for the WWW-Authenticate error="invalid_token"). Other errors
 * (PACS_EDB, PACS_EIO: the share store could not be read) deserve 503.
 */
pacs_err pacs_auth_check(pacs_auth *a, const pacs_auth_request *in, pacs_principal *out,
                         int *presented, pacs_errinfo *ei);

/** True when the request's Origin (or, without one, its Referer) names `in->host`: a request
 *  made by this server's own pages. */
int pacs_auth_same_origin(const pacs_auth_request *in);

/** True when `p` may read only some studies (a share, a JWT with a study_uid claim). */
int pacs_auth_limited(const pacs_principal *p);

/** True when `p` may read study `uid` (always, for an unlimited principal). */
int pacs_auth_reads_study(const pacs_principal *p, const char *uid);

/**
 * Limits a QIDO query to the principal's studies: nothing happens for an unlimited principal;
 * otherwise StudyInstanceUID is set to its study (or the list of a patient share's studies
 * that the query's own StudyInstanceUID matches), unless none is left, in which case `*empty`
 * is set and the caller answers with no results. PACS_EINVAL (answer 400) when the query asks for
 * the patient's counts of studies, series or instances (0020,1200/1202/1204), which would tell of
 * other studies. Other errors: those of pacs_query_add.
 */
pacs_err pacs_auth_restrict_query(const pacs_principal *p, pacs_query *q, int *empty,
                                  pacs_errinfo *ei);

/**
 * Writes the Set-Cookie value that hands `token` to the browser until `expires_at`
 * ("pacs_share=TOKEN; Path=/; Max-Age=N; HttpOnly; SameSite=Strict", plus "; Secure" when
 * `secure`). Returns PACS_EINVAL when `cap` is too small or the token is not a share token's
 * shape.
 */
pacs_err pacs_auth_cookie(const char *token, int64_t expires_at, int secure, char *buf, size_t cap,
                          pacs_errinfo *ei);

/**
 * The Set-Cookie value that removes the cookie (for a /share page whose token was refused).
 */
const char *pacs_auth_cookie_clear(void);

/**
 * Writes the Set-Cookie value of login session `id`: "pacs_session=ID; Path=/; Max-Age=N;
 * HttpOnly; SameSite=Strict", plus "; Secure" when `secure` (the server speaks TLS).
 * PACS_EINVAL when `cap` is too small.
 */
pacs_err pacs_auth_session_cookie(const char *id, unsigned max_age, int secure, char *buf,
                                  size_t cap, pacs_errinfo *ei);

/** The Set-Cookie value that removes the session cookie (logout). */
const char *pacs_auth_session_cookie_clear(void);

/** The session id in a Cookie header, copied into `buf` (PACS_SESSION_ID_LEN + 2 bytes);
 *  NULL when there is none. */
const char *pacs_auth_session_of(const char *cookie_header, char *buf, size_t cap);

#endif
