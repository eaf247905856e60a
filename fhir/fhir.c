// SPDX-License-Identifier: MIT
/*
 * The FHIR endpoint (fhir.h): what every FHIR request goes through before its handler (the
 * path, the query, authentication and scopes, media types, the body and its limit) and the
 * answers all handlers send: a resource, or an OperationOutcome. The CapabilityStatement.
 *
 * Load: every FHIR request passes through here once: a path split, a credential check, and for
 * writes a body of at most fhir.max_body_kb parsed by jansson. Thread-safety: the handle is
 * read-only; a request's body buffer belongs to its thread.
 */
#include "fhir/fhir.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fhir/fhir_internal.h"
#include "http/authn.h"
#include "http/media.h"
#include "pacs/base/buf.h"
#include "pacs/base/log.h"

#define FHIR_JSON "application/fhir+json; charset=utf-8"

/* ---- answers ---- */

const char *pacs_fhir__base(pacs_fhir *f, pacs_http_req *r)
{
    const char *host = pacs_http_header(r, "Host");
    int sane = host && host[0] && strlen(host) < 256;
    for (const char *p = host; sane && *p; p++) {
        sane = isalnum((unsigned char)*p) || strchr(".-:[]_", *p);
    }
    const char *url = sane ? pacs_arena_printf(pacs_http_arena(r), "%s://%s%s",
                                               f->tls ? "https" : "http", host, f->prefix)
                           : NULL;
    return url ? url : f->prefix;
}

void pacs_fhir__send(pacs_fhir *f, pacs_http_req *r, unsigned status, json_t *res,
                     const char *location)
{
    if (location) {
        const char *loc =
            pacs_arena_printf(pacs_http_arena(r), "%s/%s", pacs_fhir__base(f, r), location);
        if (loc) {
            pacs_http_add_header(r, "Location", loc);
        }
    }
    if (pacs_http_send_json(r, status, FHIR_JSON, res) != PACS_OK) {
        pacs_fhir__outcome(r, 500, "exception", "out of memory");
    }
}

void pacs_fhir__outcome(pacs_http_req *r, unsigned status, const char *code, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    pacs_log(status >= 500 ? PACS_LOG_WARN : PACS_LOG_DEBUG, "fhir", "req=%lu status=%u %s",
             pacs_http_id(r), status, msg);
    json_t *oo = json_pack("{s:s,s:[{s:s,s:s,s:s}]}", "resourceType", "OperationOutcome", "issue",
                           "severity", "error", "code", code, "diagnostics", msg);
    if (pacs_http_send_json(r, status, FHIR_JSON, oo) != PACS_OK) {
        pacs_http_send_error(r, 500, "out of memory");
    }
}

void pacs_fhir__refuse(pacs_http_req *r, pacs_err err, const pacs_errinfo *ei)
{
    static const struct {
        pacs_err err;
        unsigned status;
        const char *code;
    } map[] = {{PACS_EBADDATA, 400, "invalid"},     {PACS_EUNSUPPORTED, 400, "not-supported"},
               {PACS_EINVAL, 422, "business-rule"}, {PACS_ENOTFOUND, 404, "not-found"},
               {PACS_ECONFLICT, 409, "conflict"},   {PACS_EEXIST, 409, "duplicate"},
               {PACS_ETOOBIG, 413, "too-long"},     {PACS_EDB, 503, "transient"},
               {PACS_EIO, 503, "transient"},        {PACS_EBUSY, 503, "transient"},
               {PACS_ENOSPC, 503, "transient"}};
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
        if (map[i].err == err) {
            pacs_fhir__outcome(r, map[i].status, map[i].code, "%s", ei->msg);
            return;
        }
    }
    pacs_fhir__outcome(r, 500, "exception", "%s", ei->msg);
}

/* ---- the CapabilityStatement ---- */

static void capabilities(pacs_fhir *f, pacs_http_req *r)
{
    (void)f;
    json_t *search = json_pack("[{s:s,s:s}]", "name", "identifier", "type", "token");
    json_t *cs = json_pack(
        "{s:s,s:s,s:s,s:s,s:s,s:[s,s],s:{s:s},s:[{s:s,s:[{s:s,s:[{s:s},{s:s},{s:s},{s:s}],s:O},"
        "{s:s,s:[{s:s},{s:s},{s:s},{s:s}],s:O}],s:[{s:s}]}]}",
        "resourceType", "CapabilityStatement", "status", "active", "date", "2026-12-06", "kind",
        "instance", "fhirVersion", "4.0.1", "format", "application/fhir+json", "json", "software",
        "name", "pacsd", "rest", "mode", "server", "resource", "type", "Patient", "interaction",
        "code", "read", "code", "search-type", "code", "create", "code", "update", "searchParam",
        search, "type", "ServiceRequest", "interaction", "code", "read", "code", "search-type",
        "code", "create", "code", "update", "searchParam", search, "interaction", "code",
        "transaction");
    json_decref(search);
    json_t *rest = json_object_get(json_array_get(json_object_get(cs, "rest"), 0), "resource");
    json_t *imaging =
        json_pack("{s:s,s:[{s:s},{s:s}],s:[{s:s,s:s},{s:s,s:s},{s:s,s:s},{s:s,s:s},{s:s,s:s}]}",
                  "type", "ImagingStudy", "interaction", "code", "read", "code", "search-type",
                  "searchParam", "name", "patient", "type", "reference", "name",
                  "patient.identifier", "type", "token", "name", "date", "type", "date", "name",
                  "modality", "type", "token", "name", "status", "type", "token");
    json_t *report = json_pack("{s:s,s:[{s:s},{s:s}],s:[{s:s,s:s},{s:s,s:s},{s:s,s:s}]}", "type",
                               "DiagnosticReport", "interaction", "code", "read", "code",
                               "search-type", "searchParam", "name", "patient", "type", "reference",
                               "name", "patient.identifier", "type", "token", "name",
                               "imaging-study", "type", "reference");
    if (!rest || json_array_append_new(rest, imaging) != 0 ||
        json_array_append_new(rest, report) != 0) {
        json_decref(cs);
        cs = NULL;
    }
    pacs_fhir__send(f, r, 200, cs, NULL);
}

/* ---- bodies ---- */

typedef struct body {
    pacs_fhir *f;
    int type;
    char id[65];
    int transaction;
    pacs_buf data;
    int over;
} body;

static pacs_err body_data(pacs_http_req *r, void *ctx, const char *data, size_t len)
{
    (void)r;
    body *b = ctx;
    if (b->over || b->data.len + len > b->f->max_body) {
        b->over = 1; /* the rest is read and dropped; 413 at the end */
        return PACS_OK;
    }
    return pacs_buf_append(&b->data, data, len);
}

static void body_end(pacs_http_req *r, void *ctx)
{
    body *b = ctx;
    if (b->over) {
        pacs_fhir__outcome(r, 413, "too-long", "body larger than fhir.max_body_kb (%zu KiB)",
                           b->f->max_body >> 10);
        return;
    }
    json_error_t je;
    json_t *doc =
        json_loadb(b->data.data ? b->data.data : "", b->data.len, JSON_REJECT_DUPLICATES, &je);
    if (!doc || !json_is_object(doc)) {
        json_decref(doc);
        pacs_fhir__outcome(r, 400, "structure", "not a JSON object: %s (line %d, column %d)",
                           doc ? "another JSON value" : je.text, je.line, je.column);
        return;
    }
    if (b->transaction) {
        pacs_fhir__transaction(b->f, r, doc);
    } else {
        pacs_fhir__write(b->f, r, b->type, b->id[0] ? b->id : NULL, doc);
    }
    json_decref(doc);
}

static void body_release(void *ctx)
{
    body *b = ctx;
    pacs_buf_free(&b->data);
    free(b);
}

static const pacs_http_body_ops body_ops = {body_data, body_end, body_release, NULL};

/* A write: the media type, the declared length, then the body. */
static void expect_body(pacs_fhir *f, pacs_http_req *r, int type, const char *id, int transaction)
{
    const char *ct = pacs_http_header(r, "Content-Type");
    pacs_media m;
    pacs_errinfo ei;
    if (!ct || pacs_media_parse(ct, strlen(ct), &m, &ei) != PACS_OK ||
        (strcmp(m.type, "application/fhir+json") != 0 && strcmp(m.type, "application/json") != 0) ||
        (m.charset[0] && strcmp(m.charset, "utf-8") != 0)) {
        pacs_fhir__outcome(r, 415, "not-supported",
                           "Content-Type must be application/fhir+json (or application/json), "
                           "in UTF-8");
        return;
    }
    const char *cl = pacs_http_header(r, "Content-Length");
    if (cl && strtoull(cl, NULL, 10) > f->max_body) {
        pacs_fhir__outcome(r, 413, "too-long", "body larger than fhir.max_body_kb (%zu KiB)",
                           f->max_body >> 10);
        return;
    }
    body *b = calloc(1, sizeof *b);
    if (!b) {
        pacs_fhir__outcome(r, 500, "exception", "out of memory");
        return;
    }
    b->f = f;
    b->type = type;
    b->transaction = transaction;
    snprintf(b->id, sizeof b->id, "%.64s", id ? id : "");
    pacs_buf_init(&b->data, f->max_body + 1);
    pacs_http_expect_body(r, &body_ops, b);
}

/* ---- dispatch ---- */

/* The client accepts FHIR JSON (no Accept, or one that covers application/fhir+json or
 * application/json). */
static int accepts_json(pacs_http_req *r)
{
    pacs_media ranges[PACS_ACCEPT_MAX];
    size_t n = 0;
    pacs_errinfo ei;
    if (pacs_media_accept_parse(pacs_http_header(r, "Accept"), ranges, PACS_ACCEPT_MAX, &n, &ei) !=
        PACS_OK) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        if (pacs_media_covers(&ranges[i], "application/fhir+json") ||
            pacs_media_covers(&ranges[i], "application/json")) {
            return 1;
        }
    }
    return 0;
}

/* May the principal do what the method asks? Answers and returns 0 when not. */
static int allowed(pacs_http_req *r, int write)
{
    const pacs_principal *p = pacs_http_principal(r);
    unsigned need = write ? PACS_SCOPE_WRITE : PACS_SCOPE_READ;
    if (pacs_auth_limited(p) || p->kind == PACS_PRINCIPAL_SHARE) {
        pacs_fhir__outcome(r, 403, "forbidden",
                           "a share or study-limited credential cannot use FHIR");
        return 0;
    }
    if (p->scopes & need) {
        return 1;
    }
    if (p->kind == PACS_PRINCIPAL_ANONYMOUS) {
        pacs_http_auth_refused(r, 0, "anonymous request needs a credential with the missing scope");
        pacs_fhir__outcome(r, 401, "login", "%s", PACS_HTTP_AUTH_401);
        return 0;
    }
    pacs_fhir__outcome(r, 403, "forbidden", "this credential does not allow %s",
                       write ? "write" : "read");
    return 0;
}

/* ImagingStudy and DiagnosticReport: read and search only. */
static void read_only(pacs_fhir *f, pacs_http_req *r, int type, const char *id)
{
    if (pacs_http_method_of(r) != PACS_HTTP_GET) {
        pacs_http_add_header(r, "Allow", "GET, HEAD");
        pacs_fhir__outcome(r, 405, "not-supported", "read and search only");
        return;
    }
    if (!allowed(r, 0)) {
        return;
    }
    if (type == PACS_FHIR__IMAGING) {
        if (id) {
            pacs_fhir__imaging_read(f, r, id);
        } else {
            pacs_fhir__imaging_search(f, r);
        }
    } else if (id) {
        pacs_fhir__report_read(f, r, id);
    } else {
        pacs_fhir__report_search(f, r);
    }
}

void pacs_fhir_dispatch(void *ctx, pacs_http_req *r)
{
    pacs_fhir *f = ctx;
    size_t len = 0;
    const char *path = pacs_http_path(r, &len);
    pacs_http_set_metric_route(r, "fhir");
    pacs_errinfo ei;
    if (pacs_http_parse_query(r, &ei) != PACS_OK) {
        pacs_fhir__outcome(r, 400, "invalid", "%s", ei.msg);
        return;
    }
    /* Segments below the mount: "", "metadata", "Patient", "Patient/{id}"... */
    char seg[2][80];
    size_t n_seg = 0;
    memset(seg, 0, sizeof seg);
    for (size_t i = 0; i < len;) {
        while (i < len && path[i] == '/') {
            i++;
        }
        size_t s = i;
        while (i < len && path[i] != '/') {
            i++;
        }
        if (i == s) {
            break;
        }
        if (n_seg == 2 || i - s >= sizeof seg[0]) {
            pacs_fhir__outcome(r, 404, "not-found", "no such FHIR resource");
            return;
        }
        memcpy(seg[n_seg++], path + s, i - s);
    }
    pacs_http_method m = pacs_http_method_of(r);
    if (!accepts_json(r)) {
        pacs_fhir__outcome(r, 406, "not-supported", "only application/fhir+json is served");
        return;
    }
    if (n_seg == 1 && strcmp(seg[0], "metadata") == 0 && m == PACS_HTTP_GET) {
        capabilities(f, r); /* public, as a client needs it before it authenticates */
        return;
    }
    const char *why = NULL;
    unsigned refused = pacs_http_authenticate(r, f->auth, &why);
    if (refused) {
        pacs_fhir__outcome(r, refused, refused == 401 ? "login" : "transient", "%s", why);
        return;
    }
    int type = n_seg == 0                                ? 0
               : strcmp(seg[0], "Patient") == 0          ? PACS_FHIR__PATIENT
               : strcmp(seg[0], "ServiceRequest") == 0   ? PACS_FHIR__ORDER
               : strcmp(seg[0], "ImagingStudy") == 0     ? PACS_FHIR__IMAGING
               : strcmp(seg[0], "DiagnosticReport") == 0 ? PACS_FHIR__REPORT
                                                         : -1;
    if (type < 0 || (n_seg == 2 && !pacs_fhir_id_valid(seg[1]))) {
        pacs_fhir__outcome(r, 404, "not-found",
                           "no such FHIR resource (Patient, ServiceRequest, ImagingStudy, "
                           "DiagnosticReport)");
        return;
    }
    if (type == PACS_FHIR__IMAGING || type == PACS_FHIR__REPORT) {
        read_only(f, r, type, n_seg == 2 ? seg[1] : NULL);
        return;
    }
    int write = m == PACS_HTTP_POST || m == PACS_HTTP_PUT;
    int ok_method = type == 0    ? m == PACS_HTTP_POST
                    : n_seg == 1 ? m == PACS_HTTP_GET || m == PACS_HTTP_POST
                                 : m == PACS_HTTP_GET || m == PACS_HTTP_PUT;
    if (!ok_method) {
        pacs_http_add_header(r, "Allow",
                             type == 0    ? "POST"
                             : n_seg == 1 ? "GET, HEAD, POST"
                                          : "GET, HEAD, PUT");
        pacs_fhir__outcome(r, 405, "not-supported", "method not allowed here");
        return;
    }
    if (!allowed(r, write)) {
        return;
    }
    if (write) {
        expect_body(f, r, type, n_seg == 2 ? seg[1] : NULL, type == 0);
    } else if (n_seg == 2) {
        pacs_fhir__read(f, r, type, seg[1]);
    } else {
        pacs_fhir__search(f, r, type);
    }
}

/* ---- open and close ---- */

pacs_err pacs_fhir_open(const pacs_config *cfg, pacs_archive *archive, pacs_fhir **out,
                        pacs_errinfo *ei)
{
    pacs_fhir *f = calloc(1, sizeof *f);
    if (!f) {
        return pacs_errf(ei, PACS_ENOMEM, "out of memory");
    }
    f->cfg = cfg;
    f->archive = archive;
    f->max_body = (size_t)pacs_config_int(cfg, "fhir.max_body_kb") << 10;
    f->tls = pacs_config_bool(cfg, "http.tls");
    snprintf(f->prefix, sizeof f->prefix, "%s", pacs_config_str(cfg, "fhir.prefix"));
    pacs_err err = pacs_fhir_ids_load(cfg, &f->ids, ei);
    if (err == PACS_OK) {
        err = pacs_auth_open(cfg, pacs_archive_data_dir(archive), &f->auth, ei);
    }
    if (err != PACS_OK) {
        pacs_fhir_close(f);
        return err;
    }
    *out = f;
    return PACS_OK;
}

void pacs_fhir_close(pacs_fhir *f)
{
    if (!f) {
        return;
    }
    pacs_auth_close(f->auth);
    free(f);
}
