// SPDX-License-Identifier: MIT
/*
 * The DICOMweb router (router.h): the route table, and the steps every request goes through
 * before its handler: the viewer's paths, the prefix, the query string, CORS preflights,
 * authentication, the shares API, the route, the base URL, authorization, the audit plan.
 *
 * Load: every DICOMweb request passes through here once; it costs a few string comparisons
 * and arena allocations. Thread-safety: the router is read-only once listening.
 */
#include "dicomweb/router.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dicomweb/bulkdata.h"
#include "dicomweb/delete.h"
#include "dicomweb/frames.h"
#include "dicomweb/gate.h"
#include "dicomweb/login.h"
#include "http/authn.h"
#include "http/http_internal.h"
#include "dicomweb/metadata.h"
#include "dicomweb/ops.h"
#include "dicomweb/qido.h"
#include "dicomweb/rendered.h"
#include "dicomweb/reports.h"
#include "dicomweb/stow.h"
#include "dicomweb/viewer.h"
#include "dicomweb/wado.h"
#include "dicomweb/wado_uri.h"
#include "pacs/base/log.h"
#include "storage/audit.h"

struct pacs_router {
    const pacs_config *cfg;
    char prefix[256];
    size_t prefix_len;
    char public_url[512];
    char fallback_host[300];
    int tls;
    pacs_auth *auth;
    pacs_viewer *viewer; /* /viewer and /share (viewer.h) */
    int ops_auth;        /* http.ops_auth: /metrics, /healthz, /readyz need a credential */
};

/* ---- the route table ---- */

static const struct route_entry {
    int kind; /* PACS_ROUTE_* */
    pacs_http_method method;
    int study_only; /* only on a study itself, not on its series or instances */
    pacs_router_handler handler;
    const char *name; /* the route label of pacs_http_requests_total (metrics.h) */
} routes[] = {
    {PACS_ROUTE_STUDIES, PACS_HTTP_GET, 0, pacs_qido_search, "qido"},
    {PACS_ROUTE_STUDIES, PACS_HTTP_POST, 0, pacs_stow_store, "stow"},
    {PACS_ROUTE_SERIES, PACS_HTTP_GET, 0, pacs_qido_search, "qido"},
    {PACS_ROUTE_INSTANCES, PACS_HTTP_GET, 0, pacs_qido_search, "qido"},
    {PACS_ROUTE_RESOURCE, PACS_HTTP_GET, 0, pacs_wado_retrieve, "wado"},
    {PACS_ROUTE_RESOURCE, PACS_HTTP_POST, 1, pacs_stow_store, "stow"},
    {PACS_ROUTE_RESOURCE, PACS_HTTP_DELETE, 0, pacs_delete_resource, "delete"},
    {PACS_ROUTE_METADATA, PACS_HTTP_GET, 0, pacs_metadata_retrieve, "metadata"},
    {PACS_ROUTE_FRAMES, PACS_HTTP_GET, 0, pacs_frames_retrieve, "frames"},
    {PACS_ROUTE_BULKDATA, PACS_HTTP_GET, 0, pacs_bulkdata_retrieve, "bulkdata"},
    {PACS_ROUTE_RENDERED, PACS_HTTP_GET, 0, pacs_rendered_resource, "rendered"},
    {PACS_ROUTE_WADO_URI, PACS_HTTP_GET, 0, pacs_wado_uri_retrieve, "wado_uri"},
    {PACS_ROUTE_REPORTS, PACS_HTTP_POST, 0, pacs_reports_create, "reports"},
    {PACS_ROUTE_METRICS, PACS_HTTP_GET, 0, pacs_ops_metrics, "metrics"},
    {PACS_ROUTE_HEALTHZ, PACS_HTTP_GET, 0, pacs_ops_healthz, "healthz"},
    {PACS_ROUTE_READYZ, PACS_HTTP_GET, 0, pacs_ops_readyz, "readyz"},
};

/* The row for `method` on the resource `rt` names (NULL: none); `*name` receives the
 * resource's route label either way ("other" when the table has no row of its kind). */
static const struct route_entry *find_entry(const pacs_route *rt, pacs_http_method method,
                                            const char **name)
{
    const struct route_entry *found = NULL;
    const char *first = NULL;
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        const struct route_entry *e = &routes[i];
        if (e->kind != rt->kind) {
            continue;
        }
        if (!first) {
            first = e->name;
        }
        int fits = !e->study_only || (rt->study && !rt->series);
        if (e->method == method && fits) {
            found = e;
        }
    }
    *name = found ? found->name : first ? first : "other";
    return found;
}

pacs_router_handler pacs_router_lookup(const pacs_route *rt, pacs_http_method method, char *allow,
                                       size_t cap)
{
    /* The Allow header names the methods a resource takes at every level (a POST that only a
     * study takes is not listed). */
    static const char *const names[] = {"GET, HEAD", "POST", "DELETE"};
    int listed[3] = {0, 0, 0};
    const char *label = NULL;
    const struct route_entry *entry = find_entry(rt, method, &label);
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        const struct route_entry *e = &routes[i];
        if (e->kind != rt->kind) {
            continue;
        }
        if (!e->study_only && e->method <= PACS_HTTP_DELETE) {
            listed[e->method] = 1;
        }
    }
    size_t used = 0;
    allow[0] = '\0';
    for (size_t m = 0; m < 3; m++) {
        if (listed[m]) {
            used += (size_t)snprintf(allow + used, cap - used, "%s, ", names[m]);
        }
    }
    snprintf(allow + used, cap - used, "OPTIONS");
    return entry ? entry->handler : NULL;
}

/* ---- the steps before a handler ---- */

/* What the trail will record for this request once it is answered (gate.c records refusals). */
static void audit_plan(pacs_http_req *r, const pacs_route *rt)
{
    int get = r->method == PACS_HTTP_GET;
    int action = -1;
    switch (rt->kind) {
    case PACS_ROUTE_STUDIES:
        action = get ? PACS_AUDIT_QUERY : r->method == PACS_HTTP_POST ? PACS_AUDIT_STORE : -1;
        break;
    case PACS_ROUTE_SERIES:
    case PACS_ROUTE_INSTANCES:
        action = get ? PACS_AUDIT_QUERY : -1;
        break;
    case PACS_ROUTE_REPORTS:
        action = r->method == PACS_HTTP_POST ? PACS_AUDIT_STORE : -1;
        break;
    case PACS_ROUTE_RESOURCE:
        action = get                             ? PACS_AUDIT_RETRIEVE
                 : r->method == PACS_HTTP_POST   ? PACS_AUDIT_STORE
                 : r->method == PACS_HTTP_DELETE ? PACS_AUDIT_DELETE
                                                 : -1;
        break;
    case PACS_ROUTE_METADATA:
    case PACS_ROUTE_FRAMES:
    case PACS_ROUTE_BULKDATA:
    case PACS_ROUTE_RENDERED:
    case PACS_ROUTE_WADO_URI:
        action = get ? PACS_AUDIT_RETRIEVE : -1;
        break;
    default:
        break;
    }
    r->audit_action = action + 1;
    r->audit_study =
        rt->kind == PACS_ROUTE_WADO_URI ? pacs_params_get(&r->params, "studyUID") : rt->study;
    if (!r->audit_study && action == PACS_AUDIT_QUERY) {
        r->audit_study = pacs_params_get(&r->params, "StudyInstanceUID");
    }
}

static int host_ok(const char *h)
{
    size_t n = strlen(h);
    if (n == 0 || n > 255) {
        return 0;
    }
    for (const char *p = h; *p; p++) {
        if (!isalnum((unsigned char)*p) && !strchr(".-:[]_", *p)) {
            return 0;
        }
    }
    return 1;
}

/* A CORS preflight (or a plain OPTIONS): 204 with what may be asked. */
static void preflight(pacs_http_req *r)
{
    pacs_http_add_header(r, "Allow", "GET, HEAD, POST, DELETE, OPTIONS");
    if (r->origin) {
        pacs_http_add_header(r, "Access-Control-Allow-Methods", "GET, HEAD, POST, DELETE, OPTIONS");
        const char *want = pacs_http_header(r, "Access-Control-Request-Headers");
        int sane = want && strlen(want) < 1024;
        for (const char *p = want; sane && *p; p++) {
            sane = isalnum((unsigned char)*p) || strchr("-_, ", *p);
        }
        pacs_http_add_header(r, "Access-Control-Allow-Headers",
                             sane ? want : "Accept, Content-Type, Authorization");
        pacs_http_add_header(r, "Access-Control-Max-Age", "600");
    }
    pacs_buf b;
    pacs_buf_init(&b, 1);
    pacs_http_send_buf(r, 204, NULL, &b, 0);
}

/* The resource the path names. WADO-URI is also answered at the root, where old viewers send
 * it; the shares API has no route (gate.c reads its path). */
static pacs_err find_route(pacs_http_req *r, int shares, pacs_route *rt, pacs_errinfo *ei)
{
    if (r->path_len == 0 || (r->path_len == 1 && r->path[0] == '/')) {
        if (!pacs_params_get(&r->params, "requestType")) {
            return pacs_errf(ei, PACS_ENOTFOUND, "no such resource");
        }
        memset(rt, 0, sizeof *rt);
        rt->kind = PACS_ROUTE_WADO_URI;
        return PACS_OK;
    }
    if (shares) {
        memset(rt, 0, sizeof *rt);
        return PACS_OK;
    }
    return pacs_route_parse(r->path, r->path_len, r->ar, rt, ei);
}

/* The absolute URL of the DICOMweb root: http.public_url, else from the Host header when it
 * looks like a host, else the address the server listens on. */
static const char *base_url(const pacs_router *router, pacs_http_req *r)
{
    if (router->public_url[0]) {
        return router->public_url;
    }
    const char *host = pacs_http_header(r, "Host");
    return pacs_arena_printf(r->ar, "%s://%s%s", router->tls ? "https" : "http",
                             host && host_ok(host) ? host : router->fallback_host, router->prefix);
}

/* Sets the request's path below the prefix and parses its query. Returns 0 when an answer has
 * been sent (404 outside the prefix, 400 for a bad query). */
static int locate(const pacs_router *router, pacs_http_req *r, const char *q, size_t full_len)
{
    size_t pl = router->prefix_len;
    if (full_len < pl || strncmp(r->raw_uri, router->prefix, pl) != 0 ||
        (full_len > pl && r->raw_uri[pl] != '/')) {
        r->path = r->raw_uri;
        r->path_len = full_len;
        pacs_http_send_error(r, 404, "not found (DICOMweb is served under %s)",
                             router->prefix[0] ? router->prefix : "/");
        return 0;
    }
    r->path = r->raw_uri + pl;
    r->path_len = full_len - pl;
    pacs_errinfo ei;
    if (q && pacs_params_parse(q + 1, strlen(q + 1), r->ar, &r->params, &ei) != PACS_OK) {
        pacs_http_send_error(r, 400, "%s", ei.msg);
        return 0;
    }
    return 1;
}

/* The operations endpoints at the root: PACS_ROUTE_METRICS, _HEALTHZ, _READYZ or 0. */
static int ops_kind(const char *path, size_t len)
{
    static const struct {
        const char *path;
        int kind;
    } ops[] = {{"/metrics", PACS_ROUTE_METRICS},
               {"/healthz", PACS_ROUTE_HEALTHZ},
               {"/readyz", PACS_ROUTE_READYZ}};
    for (size_t i = 0; i < sizeof ops / sizeof ops[0]; i++) {
        if (strlen(ops[i].path) == len && memcmp(ops[i].path, path, len) == 0) {
            return ops[i].kind;
        }
    }
    return 0;
}

/* /metrics, /healthz, /readyz: a credential with the metrics scope when http.auth = required
 * and http.ops_auth is on; their query strings are ignored. */
static void dispatch_ops(pacs_router *router, pacs_http_req *r, int kind, size_t len)
{
    r->path = r->raw_uri;
    r->path_len = len;
    pacs_route rt;
    memset(&rt, 0, sizeof rt);
    rt.kind = kind;
    const struct route_entry *e = find_entry(&rt, r->method, &r->metric_route);
    if (router->ops_auth && pacs_auth_required(router->auth)) {
        if (!pacs_gate_authenticate(r, router->auth, &r->principal) ||
            !pacs_gate_authorize_ops(r, &r->principal)) {
            return;
        }
    }
    if (!e) {
        pacs_http_add_header(r, "Allow", "GET, HEAD");
        pacs_http_send_error(r, 405, "method not allowed here");
        return;
    }
    e->handler(r, &rt);
}

void pacs_router_dispatch(pacs_router *router, pacs_http_req *r)
{
    const char *q = strchr(r->raw_uri, '?');
    size_t full_len = q ? (size_t)(q - r->raw_uri) : strlen(r->raw_uri);
    int ops = ops_kind(r->raw_uri, full_len);
    if (ops) {
        dispatch_ops(router, r, ops, full_len);
        return;
    }
    if (pacs_login_owns(r->raw_uri, full_len)) {
        r->path = r->raw_uri;
        r->path_len = full_len;
        r->metric_route = "login";
        pacs_login_serve(router->auth, r, r->raw_uri, full_len, q ? q + 1 : NULL, router->tls);
        return;
    }
    if (pacs_viewer_owns(r->raw_uri, full_len)) {
        r->path = r->raw_uri;
        r->path_len = pacs_viewer_loggable(r->raw_uri, full_len); /* what log lines show */
        r->metric_route = "viewer";
        /* A page of the viewer without a credential goes to the login page, and comes back;
         * unless OHIF signs the user in itself at the identity provider (viewer.oidc.*). */
        if (pacs_auth_required(router->auth) && !pacs_viewer_oidc(router->viewer) &&
            pacs_viewer_is_page(r->raw_uri, full_len) && !pacs_http_signed_in(r, router->auth)) {
            pacs_login_redirect(r, r->raw_uri);
            return;
        }
        pacs_viewer_serve(router->viewer, r, r->raw_uri, full_len, q ? q + 1 : NULL);
        return;
    }
    if (!locate(router, r, q, full_len)) {
        return;
    }
    if (r->method == PACS_HTTP_OPTIONS) {
        r->metric_route = "preflight";
        preflight(r);
        return;
    }
    /* The route is parsed before the credentials are checked, so that refusals are counted
     * under it, but a bad path is answered only after them: no 404 or 400 to a stranger. */
    int shares = pacs_gate_is_shares(r->path, r->path_len);
    pacs_errinfo ei;
    pacs_route rt;
    pacs_err err = find_route(r, shares, &rt, &ei);
    if (shares) {
        r->metric_route = "shares";
    } else if (err == PACS_OK) {
        find_entry(&rt, r->method, &r->metric_route);
    }
    if (!pacs_gate_authenticate(r, router->auth, &r->principal)) {
        return;
    }
    if (err != PACS_OK) {
        pacs_http_send_error(r, err == PACS_ENOTFOUND ? 404 : 400, "%s", ei.msg);
        return;
    }
    r->base_url = base_url(router, r);
    if (!r->base_url) {
        pacs_http_send_error(r, 500, "out of memory");
        return;
    }
    if (shares) {
        pacs_gate_shares(r, router->auth, &r->principal, r->path, r->path_len);
        return;
    }
    if (!pacs_gate_authorize(r, &r->principal, &rt)) {
        return;
    }
    audit_plan(r, &rt);
    char allow[64];
    pacs_router_handler handler = pacs_router_lookup(&rt, r->method, allow, sizeof allow);
    if (!handler) {
        pacs_http_add_header(r, "Allow", allow);
        pacs_http_send_error(r, 405, "method not allowed here");
        return;
    }
    handler(r, &rt);
}

/* ---- open and close ---- */

static void set_fallback_host(pacs_router *router, int port)
{
    const char *bind = pacs_config_str(router->cfg, "http.bind");
    const char *host = strcmp(bind, "0.0.0.0") == 0 || strcmp(bind, "::") == 0 ? "localhost" : bind;
    if (strchr(host, ':')) {
        snprintf(router->fallback_host, sizeof router->fallback_host, "[%s]:%d", host, port);
    } else {
        snprintf(router->fallback_host, sizeof router->fallback_host, "%s:%d", host, port);
    }
}

pacs_err pacs_router_open(const pacs_config *cfg, pacs_archive *archive, pacs_router **out,
                          pacs_errinfo *ei)
{
    const char *prefix = pacs_config_str(cfg, "http.prefix");
    size_t plen = strlen(prefix);
    if (plen >= 256 || (plen > 0 && (prefix[0] != '/' || prefix[plen - 1] == '/')) ||
        strpbrk(prefix, "?#% ")) {
        return pacs_errf(ei, PACS_EINVAL,
                         "http.prefix '%s' must be empty or start with '/' and not end with '/'",
                         prefix);
    }
    const char *pub = pacs_config_str(cfg, "http.public_url");
    if (strlen(pub) >= 512 ||
        (pub[0] && strncmp(pub, "http://", 7) != 0 && strncmp(pub, "https://", 8) != 0)) {
        return pacs_errf(ei, PACS_EINVAL, "http.public_url '%s' must be an http(s) URL", pub);
    }
    pacs_router *router = calloc(1, sizeof *router);
    if (!router) {
        return pacs_errf(ei, PACS_ENOMEM, "out of memory");
    }
    router->cfg = cfg;
    router->tls = pacs_config_bool(cfg, "http.tls");
    router->ops_auth = pacs_config_bool(cfg, "http.ops_auth");
    set_fallback_host(router, (int)pacs_config_int(cfg, "http.port"));
    memcpy(router->prefix, prefix, plen + 1);
    router->prefix_len = plen;
    snprintf(router->public_url, sizeof router->public_url, "%s", pub);
    plen = strlen(router->public_url);
    while (plen > 0 && router->public_url[plen - 1] == '/') {
        router->public_url[--plen] = '\0';
    }
    pacs_err err = pacs_auth_open(cfg, pacs_archive_data_dir(archive), &router->auth, ei);
    if (err == PACS_OK) {
        err = pacs_viewer_open(cfg, &router->viewer, ei);
    }
    if (err != PACS_OK) {
        pacs_router_close(router);
        return err;
    }
    const char *bind = pacs_config_str(cfg, "http.bind");
    if (!pacs_auth_required(router->auth) && strncmp(bind, "127.", 4) != 0 &&
        strcmp(bind, "::1") != 0) {
        pacs_log(PACS_LOG_WARN, "http",
                 "INSECURE: DICOMweb on %s:%d answers anyone who can reach it, without "
                 "authentication; set http.auth = required (with auth.key.* or auth.jwt_keys), or "
                 "http.bind = 127.0.0.1",
                 bind, (int)pacs_config_int(cfg, "http.port"));
    }
    *out = router;
    return PACS_OK;
}

void pacs_router_listening(pacs_router *router, int port)
{
    /* A configured port is already in place (requests may be arriving); port 0 becomes the
     * one bound before anyone has been told it. */
    if (port != (int)pacs_config_int(router->cfg, "http.port")) {
        set_fallback_host(router, port);
    }
}

void pacs_router_close(pacs_router *router)
{
    if (!router) {
        return;
    }
    pacs_auth_close(router->auth);
    pacs_viewer_close(router->viewer);
    free(router);
}
