// SPDX-License-Identifier: MIT
/*
 * Authentication of an HTTP request (authn.h): credentials to a principal, a patient share's
 * studies found in the archive, refusals logged and audited.
 *
 * Load: one call per request. Thread-safe: stateless.
 */
#include "http/authn.h"

#include <string.h>
#include <time.h>

#include "http/http_internal.h"
#include "pacs/base/log.h"
#include "storage/audit.h"
#include "storage/share_scope.h"

void pacs_http_auth_refused(pacs_http_req *r, int presented, const char *why)
{
    pacs_log(PACS_LOG_INFO, "auth", "req=%lu from=%s refused: %s", pacs_http_id(r),
             pacs_http_peer(r), why);
    pacs_audit_event ev;
    memset(&ev, 0, sizeof ev);
    ev.action = PACS_AUDIT_LOGIN_FAILURE;
    ev.protocol = "http";
    ev.who = "anonymous";
    ev.from = pacs_http_peer(r);
    ev.detail = why;
    pacs_audit_record(&ev);
    pacs_http_add_header(r, "WWW-Authenticate",
                         presented ? "Bearer realm=\"pacsd\", error=\"invalid_token\""
                                   : "Bearer realm=\"pacsd\"");
}

typedef struct granted {
    pacs_buf list;
    int oom;
} granted;

static int add_granted(void *ctx, const char *study_uid)
{
    granted *g = ctx;
    if (pacs_buf_printf(&g->list, "%s%s", g->list.len ? "\\" : "", study_uid) != PACS_OK) {
        g->oom = 1;
        return 1;
    }
    return 0;
}

/* A patient share's studies, as the archive holds them now, into p->studies (the arena). */
static pacs_err resolve_patient(pacs_http_req *r, pacs_principal *p, pacs_errinfo *ei)
{
    pacs_share_scope *sc = pacs_arena_alloc(pacs_http_arena(r), sizeof *sc);
    if (!sc) {
        return pacs_errf(ei, PACS_ENOMEM, "out of memory");
    }
    pacs_err err = pacs_share_scope_parse(p->scope, sc, ei);
    if (err != PACS_OK) {
        return err;
    }
    granted g;
    memset(&g, 0, sizeof g);
    pacs_buf_init(&g.list, 1u << 20);
    err = pacs_share_scope_studies(pacs_http_archive(r), sc, add_granted, &g, ei);
    if (err == PACS_OK && g.oom) {
        err = pacs_errf(ei, PACS_ENOMEM, "out of memory");
    }
    if (err == PACS_OK) {
        p->studies =
            pacs_arena_strndup(pacs_http_arena(r), g.list.data ? g.list.data : "", g.list.len);
        if (!p->studies) {
            err = pacs_errf(ei, PACS_ENOMEM, "out of memory");
        }
    }
    pacs_buf_free(&g.list);
    return err;
}

/* The credentials `r` carries into `in`; 0 when out of memory. */
static int request_of(pacs_http_req *r, pacs_auth_request *in)
{
    const pacs_params *pp = pacs_http_params(r);
    memset(in, 0, sizeof *in);
    in->subject_cap = PACS_SHARE_SUBJECT_MAX + 1;
    in->subject = pacs_arena_alloc(pacs_http_arena(r), in->subject_cap);
    if (!in->subject) {
        return 0;
    }
    in->safe_method = pacs_http_method_of(r) == PACS_HTTP_GET;
    in->authorization = pacs_http_header(r, "Authorization");
    in->query_token = pacs_params_get(pp, "access_token");
    if (!in->query_token) {
        in->query_token = pacs_params_get(pp, "token");
    }
    in->cookie = pacs_http_header(r, "Cookie");
    in->origin = pacs_http_header(r, "Origin");
    in->referer = pacs_http_header(r, "Referer");
    in->host = pacs_http_header(r, "Host");
    return 1;
}

int pacs_http_signed_in(pacs_http_req *r, pacs_auth *a)
{
    pacs_auth_request in;
    pacs_principal p;
    pacs_errinfo ei;
    return request_of(r, &in) && pacs_auth_check(a, &in, &p, NULL, &ei) == PACS_OK &&
           p.kind != PACS_PRINCIPAL_ANONYMOUS;
}

/* A session's periodic look at its user (session.h): the role's scopes as the index has them
 * now, or the end of the session when the user is gone or has a new password. 0 when the
 * session ended. An index that
 * cannot be read leaves the session as it was, to be looked at on a later request. */
static int recheck_user(pacs_http_req *r, pacs_auth *a, const pacs_auth_request *in,
                        pacs_principal *p)
{
    char id[PACS_SESSION_ID_LEN + 2];
    const char *c = pacs_auth_session_of(in->cookie, id, sizeof id);
    pacs_role role = PACS_ROLE_NONE;
    uint64_t stamp = 0;
    pacs_errinfo ei;
    pacs_err err =
        pacs_users_role(pacs_http_archive(r), p->name + 5 /* "user:" */, &role, &stamp, &ei);
    if (err != PACS_OK && err != PACS_ENOTFOUND) {
        pacs_log(PACS_LOG_WARN, "auth", "req=%lu session's user not looked up: %s", pacs_http_id(r),
                 ei.msg);
        return 1;
    }
    unsigned scopes = err == PACS_OK ? pacs_auth_role_scopes(role) : 0;
    if (!c ||
        !pacs_sessions_restate(pacs_auth_sessions(a), c, (int64_t)time(NULL), scopes, stamp)) {
        return 0;
    }
    p->scopes = scopes;
    return 1;
}

unsigned pacs_http_authenticate(pacs_http_req *r, pacs_auth *a, const char **why)
{
    pacs_errinfo ei;
    pacs_auth_request in;
    int presented = 0;
    pacs_principal *p = &r->principal;
    if (!request_of(r, &in)) {
        *why = "out of memory";
        return 500;
    }
    pacs_err err = pacs_auth_check(a, &in, p, &presented, &ei);
    if (err == PACS_EDENIED) {
        pacs_http_auth_refused(r, presented, ei.msg);
        *why = PACS_HTTP_AUTH_401;
        return 401;
    }
    if (err == PACS_OK && p->scope) {
        err = resolve_patient(r, p, &ei);
    }
    if (err == PACS_OK && p->kind == PACS_PRINCIPAL_SESSION && p->recheck &&
        !recheck_user(r, a, &in, p)) {
        pacs_http_auth_refused(r, 1, "the session's user no longer exists");
        *why = PACS_HTTP_AUTH_401;
        return 401;
    }
    if (err != PACS_OK) {
        pacs_log(PACS_LOG_ERROR, "auth", "req=%lu share store: %s", pacs_http_id(r), ei.msg);
        *why = "credentials cannot be checked now";
        return 503;
    }
    if (p->kind == PACS_PRINCIPAL_SHARE) {
        /* A patient's phone, a shared computer: nothing it fetched stays in a cache, and no
         * link it follows tells the next site where it came from. */
        pacs_http_add_header(r, "Cache-Control", "no-store");
        pacs_http_add_header(r, "Referrer-Policy", "no-referrer");
    }
    return 0;
}
