// SPDX-License-Identifier: MIT
/*
 * The login page and logout (login.h): the form, the check of a login against the built-in
 * users (storage/users.h) with its lockout, the session and its cookie (http/session.h), and
 * their lines in the audit trail.
 *
 * Load: one Argon2id verification per login. Thread-safe: no state of its own.
 */
#include "dicomweb/login.h"

#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http/params.h"
#include "pacs/base/log.h"
#include "storage/audit.h"
#include "storage/users.h"

#define BODY_MAX 16384
#define NEXT_DEFAULT "/viewer/"

int pacs_login_owns(const char *path, size_t len)
{
    return (len == 6 && memcmp(path, "/login", 6) == 0) ||
           (len == 7 && memcmp(path, "/logout", 7) == 0);
}

/* ---- the page ---- */

/* `s` with &, <, >, " and ' escaped, in the request's arena; NULL when out of memory. */
static char *html_escape(pacs_http_req *r, const char *s)
{
    pacs_buf b;
    pacs_buf_init(&b, 4 * strlen(s) + 16);
    pacs_err err = PACS_OK;
    for (const char *p = s; *p && err == PACS_OK; p++) {
        switch (*p) {
        case '&':
            err = pacs_buf_puts(&b, "&amp;");
            break;
        case '<':
            err = pacs_buf_puts(&b, "&lt;");
            break;
        case '>':
            err = pacs_buf_puts(&b, "&gt;");
            break;
        case '"':
            err = pacs_buf_puts(&b, "&quot;");
            break;
        case '\'':
            err = pacs_buf_puts(&b, "&#39;");
            break;
        default:
            err = pacs_buf_append(&b, p, 1);
        }
    }
    char *out =
        err == PACS_OK ? pacs_arena_strndup(pacs_http_arena(r), b.data ? b.data : "", b.len) : NULL;
    pacs_buf_free(&b);
    return out;
}

/* A place to go after the login: a path of this server ("/..." but not "//..." nor "/\..."),
 * printable ASCII; else the viewer's study list. */
static const char *safe_next(const char *next)
{
    if (!next || next[0] != '/' || next[1] == '/' || next[1] == '\\' || strlen(next) > 2048) {
        return NEXT_DEFAULT;
    }
    for (const char *p = next; *p; p++) {
        if ((unsigned char)*p <= 0x20 || (unsigned char)*p >= 0x7f || *p == '\\') {
            return NEXT_DEFAULT;
        }
    }
    return next;
}

static void send_page(pacs_http_req *r, unsigned status, const char *next, const char *error)
{
    char *n = html_escape(r, safe_next(next));
    char *e = error ? html_escape(r, error) : "";
    char *page =
        n && e
            ? pacs_arena_printf(
                  pacs_http_arena(r),
                  "<!doctype html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
                  "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
                  "<title>Sign in - PACS</title><style>"
                  "body{font-family:sans-serif;background:#0b1a2a;color:#e8eef5;display:flex;"
                  "justify-content:center;align-items:center;min-height:100vh;margin:0}"
                  "form{background:#14283d;padding:2em;border-radius:8px;width:18em}"
                  "label{display:block;margin:.8em 0 .3em}input{width:100%%;box-sizing:"
                  "border-box;padding:.5em;font-size:1em}button{margin-top:1.2em;width:100%%;"
                  "padding:.6em;font-size:1em}p.error{color:#ff9c9c}</style></head><body>"
                  "<form method=\"post\" action=\"/login\"><h1>Sign in</h1>"
                  "<p class=\"error\" id=\"error\">%s</p>"
                  "<label for=\"name\">User name</label>"
                  "<input id=\"name\" name=\"name\" autocomplete=\"username\" required "
                  "autofocus>"
                  "<label for=\"password\">Password</label>"
                  "<input id=\"password\" name=\"password\" type=\"password\" "
                  "autocomplete=\"current-password\" required>"
                  "<input type=\"hidden\" name=\"next\" value=\"%s\">"
                  "<button type=\"submit\" id=\"submit\">Sign in</button></form></body></html>\n",
                  e, n)
            : NULL;
    if (!page) {
        pacs_http_send_error(r, 500, "out of memory");
        return;
    }
    pacs_buf b;
    pacs_buf_init(&b, strlen(page) + 1);
    if (pacs_buf_puts(&b, page) != PACS_OK) {
        pacs_buf_free(&b);
        pacs_http_send_error(r, 500, "out of memory");
        return;
    }
    pacs_http_add_header(r, "Cache-Control", "no-store");
    pacs_http_add_header(r, "Content-Security-Policy",
                         "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'; "
                         "frame-ancestors 'none'");
    pacs_http_add_header(r, "X-Frame-Options", "DENY");
    pacs_http_send_buf(r, status, "text/html; charset=utf-8", &b, 0);
}

/* ---- a login ---- */

typedef struct login_req {
    pacs_auth *a;
    int tls, json, logout;
    pacs_buf body;
} login_req;

static void audit(pacs_http_req *r, pacs_audit_action action, int success, const char *who,
                  const char *detail)
{
    pacs_audit_event ev;
    memset(&ev, 0, sizeof ev);
    ev.action = action;
    ev.success = success;
    ev.protocol = "http";
    ev.who = who;
    ev.from = pacs_http_peer(r);
    ev.detail = detail;
    pacs_audit_record(&ev);
}

static pacs_login_policy policy_of(const pacs_config *cfg)
{
    pacs_login_policy p;
    p.max_failures = (unsigned)pacs_config_int(cfg, "auth.lockout_failures");
    p.window = (unsigned)pacs_config_int(cfg, "auth.lockout_window");
    p.lock = (unsigned)pacs_config_int(cfg, "auth.lockout_minutes") * 60u;
    return p;
}

static const char *const refused = "wrong user name or password, or too many failed attempts";

static void answer_refused(pacs_http_req *r, login_req *lr, const char *next)
{
    if (lr->json) {
        pacs_http_send_error(r, 401, "%s", refused);
    } else {
        send_page(r, 401, next, refused);
    }
}

/* The name the trail records for a login's user: the name as typed when it is a valid one. */
static const char *who_of(const char *name)
{
    return pacs_user_name_valid(name) ? name : "(not a user name)";
}

static void do_login(pacs_http_req *r, login_req *lr, const char *name, const char *password,
                     const char *next)
{
    pacs_errinfo ei;
    const pacs_config *cfg = pacs_http_config(r);
    if (!name || !password || !name[0] || !password[0]) {
        pacs_http_send_error(r, 400, "a login needs name and password");
        return;
    }
    pacs_login_policy policy = policy_of(cfg);
    pacs_login_outcome outcome;
    pacs_role role = PACS_ROLE_NONE;
    uint64_t stamp = 0;
    int64_t now = (int64_t)time(NULL);
    const char *who = who_of(name);
    pacs_addr_limit *limit = pacs_auth_addr_limit(lr->a);
    if (pacs_addr_limit_locked(limit, pacs_http_peer(r), now)) {
        pacs_log(PACS_LOG_INFO, "login", "req=%lu from=%s user=%s refused: the address is locked",
                 pacs_http_id(r), pacs_http_peer(r), who);
        audit(r, PACS_AUDIT_LOGIN_FAILURE, 0, who, "the address is locked");
        answer_refused(r, lr, next);
        return;
    }
    pacs_err err = pacs_users_login(pacs_http_archive(r), name, password, &policy, now, &outcome,
                                    &role, &stamp, &ei);
    if (err != PACS_OK) {
        pacs_log(PACS_LOG_ERROR, "login", "req=%lu users: %s", pacs_http_id(r), ei.msg);
        pacs_http_send_error(r, 503, "logins cannot be checked now");
        return;
    }
    if (outcome != PACS_LOGIN_OK && pacs_addr_limit_fail(limit, pacs_http_peer(r), now)) {
        char detail[128];
        snprintf(detail, sizeof detail, "address locked for %u minutes after %u failed logins",
                 policy.lock / 60u,
                 (unsigned)pacs_config_int(cfg, "auth.lockout_address_failures"));
        pacs_log(PACS_LOG_WARN, "login", "from=%s %s", pacs_http_peer(r), detail);
        audit(r, PACS_AUDIT_LOCKOUT, 1, "anonymous", detail);
    }
    if (outcome != PACS_LOGIN_OK) {
        static const char *const why[] = {
            [PACS_LOGIN_UNKNOWN] = "no such user",
            [PACS_LOGIN_BAD] = "wrong password",
            [PACS_LOGIN_LOCKED_NOW] = "wrong password; the user is now locked",
            [PACS_LOGIN_LOCKED] = "the user is locked",
        };
        pacs_log(PACS_LOG_INFO, "login", "req=%lu from=%s user=%s refused: %s", pacs_http_id(r),
                 pacs_http_peer(r), who, why[outcome]);
        audit(r, PACS_AUDIT_LOGIN_FAILURE, 0, who, why[outcome]);
        if (outcome == PACS_LOGIN_LOCKED_NOW) {
            char detail[96];
            snprintf(detail, sizeof detail, "locked for %u minutes after %u failed logins",
                     policy.lock / 60u, policy.max_failures);
            pacs_log(PACS_LOG_WARN, "login", "user=%s %s", who, detail);
            audit(r, PACS_AUDIT_LOCKOUT, 1, who, detail);
        }
        answer_refused(r, lr, next);
        return;
    }
    char id[PACS_SESSION_ID_LEN + 1], cookie[160];
    unsigned max_age = (unsigned)pacs_config_int(cfg, "auth.session_max_age");
    /* `stamp`: the password the login matched; a new one (pacs user passwd) ends this session
     * at its next look at the user (http/session.h). */
    err = pacs_sessions_begin(pacs_auth_sessions(lr->a), name, pacs_auth_role_scopes(role), stamp,
                              now, id, sizeof id, &ei);
    if (err == PACS_OK) {
        err = pacs_auth_session_cookie(id, max_age, lr->tls, cookie, sizeof cookie, &ei);
    }
    if (err != PACS_OK) {
        pacs_log(PACS_LOG_ERROR, "login", "req=%lu session: %s", pacs_http_id(r), ei.msg);
        pacs_http_send_error(r, err == PACS_EBUSY ? 503 : 500, "no session can begin now");
        return;
    }
    pacs_log(PACS_LOG_INFO, "login", "req=%lu from=%s user=%s role=%s signed in", pacs_http_id(r),
             pacs_http_peer(r), name, pacs_role_name(role));
    audit(r, PACS_AUDIT_LOGIN, 1, name, pacs_role_name(role));
    pacs_http_add_header(r, "Set-Cookie", cookie);
    pacs_http_add_header(r, "Cache-Control", "no-store");
    if (!lr->json) {
        pacs_http_add_header(r, "Location", safe_next(next));
        pacs_http_send_error(r, 303, "signed in");
        return;
    }
    json_t *o = json_pack("{s:s, s:s}", "user", name, "role", pacs_role_name(role));
    if (!o || pacs_http_send_json(r, 200, "application/json", o) != PACS_OK) {
        pacs_http_send_error(r, 500, "out of memory");
    }
}

static void do_logout(pacs_http_req *r, login_req *lr)
{
    char id[PACS_SESSION_ID_LEN + 2], user[PACS_SESSION_USER_CAP];
    const char *c = pacs_auth_session_of(pacs_http_header(r, "Cookie"), id, sizeof id);
    int ended = c && pacs_sessions_end(pacs_auth_sessions(lr->a), c, (int64_t)time(NULL), user);
    if (ended) {
        pacs_log(PACS_LOG_INFO, "login", "req=%lu from=%s user=%s signed out", pacs_http_id(r),
                 pacs_http_peer(r), user);
        audit(r, PACS_AUDIT_LOGOUT, 1, user, NULL);
    }
    pacs_http_add_header(r, "Set-Cookie", pacs_auth_session_cookie_clear());
    pacs_http_add_header(r, "Cache-Control", "no-store");
    const char *accept = pacs_http_header(r, "Accept");
    if (accept && strstr(accept, "text/html")) {
        pacs_http_add_header(r, "Location", "/login");
        pacs_http_send_error(r, 303, "signed out");
        return;
    }
    pacs_buf b;
    pacs_buf_init(&b, 1);
    pacs_http_send_buf(r, 204, NULL, &b, 0);
}

static void body_end(pacs_http_req *r, void *ctx)
{
    login_req *lr = ctx;
    pacs_errinfo ei;
    if (lr->logout) {
        do_logout(r, lr);
        return;
    }
    const char *data = lr->body.data ? lr->body.data : "";
    if (lr->json) {
        json_error_t jerr;
        json_t *o = json_loadb(data, lr->body.len, 0, &jerr);
        if (!json_is_object(o)) {
            json_decref(o);
            pacs_http_send_error(r, 400, "the body must be a JSON object");
            return;
        }
        do_login(r, lr, json_string_value(json_object_get(o, "name")),
                 json_string_value(json_object_get(o, "password")),
                 json_string_value(json_object_get(o, "next")));
        json_decref(o);
        return;
    }
    pacs_params form;
    if (pacs_params_parse(data, lr->body.len, pacs_http_arena(r), &form, &ei) != PACS_OK) {
        pacs_http_send_error(r, 400, "%s", ei.msg);
        return;
    }
    do_login(r, lr, pacs_params_get(&form, "name"), pacs_params_get(&form, "password"),
             pacs_params_get(&form, "next"));
}

static pacs_err body_data(pacs_http_req *r, void *ctx, const char *data, size_t len)
{
    (void)r;
    login_req *lr = ctx;
    return pacs_buf_append(&lr->body, data, len);
}

static void body_release(void *ctx)
{
    login_req *lr = ctx;
    pacs_buf_free(&lr->body);
}

void pacs_login_serve(pacs_auth *a, pacs_http_req *r, const char *path, size_t len,
                      const char *query, int tls)
{
    pacs_errinfo ei;
    pacs_http_method m = pacs_http_method_of(r);
    int logout = len == 7 && memcmp(path, "/logout", 7) == 0;
    if (m == PACS_HTTP_GET && !logout) {
        pacs_params q;
        const char *next = NULL;
        if (query &&
            pacs_params_parse(query, strlen(query), pacs_http_arena(r), &q, &ei) == PACS_OK) {
            next = pacs_params_get(&q, "next");
        }
        send_page(r, 200, next, NULL);
        return;
    }
    if (m != PACS_HTTP_POST) {
        pacs_http_add_header(r, "Allow", logout ? "POST" : "GET, HEAD, POST");
        pacs_http_send_error(r, 405, "method not allowed here");
        return;
    }
    pacs_auth_request in;
    memset(&in, 0, sizeof in);
    in.origin = pacs_http_header(r, "Origin");
    in.referer = pacs_http_header(r, "Referer");
    in.host = pacs_http_header(r, "Host");
    /* A browser says where a POST comes from; one from another site is refused. Without
     * either header (curl, a script) there is no browser to trick. */
    if ((in.origin || in.referer) && !pacs_auth_same_origin(&in)) {
        pacs_log(PACS_LOG_INFO, "login", "req=%lu from=%s cross-site %s refused", pacs_http_id(r),
                 pacs_http_peer(r), logout ? "logout" : "login");
        audit(r, PACS_AUDIT_ACCESS_DENIED, 0, "anonymous",
              logout ? "cross-site logout" : "cross-site login");
        pacs_http_send_error(r, 403, "a login or logout must come from this server's own pages");
        return;
    }
    login_req *lr = pacs_arena_alloc(pacs_http_arena(r), sizeof *lr);
    if (!lr) {
        pacs_http_send_error(r, 500, "out of memory");
        return;
    }
    memset(lr, 0, sizeof *lr);
    lr->a = a;
    lr->tls = tls;
    lr->logout = logout;
    const char *type = pacs_http_header(r, "Content-Type");
    lr->json = type && strncasecmp(type, "application/json", 16) == 0;
    pacs_buf_init(&lr->body, BODY_MAX);
    static const pacs_http_body_ops ops = {body_data, body_end, body_release, NULL};
    pacs_http_expect_body(r, &ops, lr);
}

void pacs_login_redirect(pacs_http_req *r, const char *uri)
{
    pacs_buf b;
    pacs_buf_init(&b, 3 * strlen(uri) + 32);
    pacs_err err = pacs_buf_puts(&b, "/login?next=");
    for (const char *p = uri; *p && err == PACS_OK; p++) {
        unsigned char c = (unsigned char)*p;
        err = isalnum(c) || strchr("/-._~", c) ? pacs_buf_append(&b, p, 1)
                                               : pacs_buf_printf(&b, "%%%02X", c);
    }
    char *loc = err == PACS_OK ? pacs_arena_strndup(pacs_http_arena(r), b.data, b.len) : NULL;
    pacs_buf_free(&b);
    if (!loc) {
        pacs_http_send_error(r, 500, "out of memory");
        return;
    }
    pacs_http_add_header(r, "Location", loc);
    pacs_http_add_header(r, "Cache-Control", "no-store");
    pacs_http_send_error(r, 302, "sign in first");
}
