// SPDX-License-Identifier: MIT
/*
 * The HTTP side of authentication and the share-link API (gate.h). Answers to a share token
 * carry `Cache-Control: no-store` and `Referrer-Policy: no-referrer`. Refusals are logged at INFO
 * with the reason (never the credential) and written to the audit trail as login failures or
 * denied accesses; shares made and revoked are audited too.
 *
 * Load: a few string comparisons per request; the shares API is rare. Thread-safe: stateless.
 */
#include "dicomweb/gate.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http/authn.h"
#include "pacs/base/log.h"
#include "pacs/dicom/part10.h"
#include "storage/audit.h"
#include "storage/resolve.h"
#include "storage/share_scope.h"

#define SHARES_BODY_MAX 16384

static void audit(pacs_http_req *r, pacs_audit_action action, int success, const char *who,
                  const char *study, const char *detail)
{
    pacs_audit_event ev;
    memset(&ev, 0, sizeof ev);
    ev.action = action;
    ev.success = success;
    ev.protocol = "http";
    ev.who = who && who[0] ? who : "anonymous";
    ev.from = pacs_http_peer(r);
    ev.study_uid = study;
    ev.detail = detail;
    pacs_audit_record(&ev);
}

static void send_401(pacs_http_req *r, int presented, const char *why)
{
    pacs_http_auth_refused(r, presented, why);
    pacs_http_send_error(r, 401, "%s", PACS_HTTP_AUTH_401);
}

int pacs_gate_authenticate(pacs_http_req *r, pacs_auth *a, pacs_principal *p)
{
    const char *why = NULL;
    unsigned status = pacs_http_authenticate(r, a, &why);
    if (status) {
        pacs_http_send_error(r, status, "%s", why);
        return 0;
    }
    const pacs_principal *found = pacs_http_principal(r);
    if (p != found) {
        *p = *found;
    }
    return 1;
}

static int refuse_scope(pacs_http_req *r, const pacs_principal *p, const char *scope,
                        const char *study)
{
    if (p->kind == PACS_PRINCIPAL_ANONYMOUS) {
        send_401(r, 0, "anonymous request needs a credential with the missing scope");
        return 0;
    }
    char hdr[160];
    snprintf(hdr, sizeof hdr, "Bearer realm=\"pacsd\", error=\"insufficient_scope\", scope=\"%s\"",
             scope);
    pacs_log(PACS_LOG_INFO, "auth", "req=%lu who=%s lacks scope %s", pacs_http_id(r), p->name,
             scope);
    audit(r, PACS_AUDIT_ACCESS_DENIED, 0, p->name, study, scope);
    pacs_http_add_header(r, "WWW-Authenticate", hdr);
    pacs_http_send_error(r, 403, "this credential does not allow %s", scope);
    return 0;
}

/* Another study than the principal's: the archive is not asked, and the answer is the one a
 * study that does not exist gets, whether or not this one exists. */
static int hide(pacs_http_req *r, const pacs_principal *p, const char *what)
{
    pacs_log(PACS_LOG_DEBUG, "auth", "req=%lu who=%s outside its study", pacs_http_id(r), p->name);
    audit(r, PACS_AUDIT_ACCESS_DENIED, 0, p->name, p->study[0] ? p->study : NULL, "another study");
    pacs_http_send_error(r, 404, "no such %s", what);
    return 0;
}

int pacs_gate_authorize(pacs_http_req *r, const pacs_principal *p, const pacs_route *rt)
{
    pacs_http_method m = pacs_http_method_of(r);
    int limited = pacs_auth_limited(p);
    const char *limit = p->study[0] ? p->study : NULL; /* for the audit trail */
    if (m == PACS_HTTP_POST) {
        if (rt->kind != PACS_ROUTE_STUDIES && rt->kind != PACS_ROUTE_RESOURCE &&
            rt->kind != PACS_ROUTE_REPORTS) {
            return 1; /* 405 from the router */
        }
        if (!(p->scopes & PACS_SCOPE_WRITE) || limited) {
            return refuse_scope(r, p, "write", limit);
        }
        return 1;
    }
    if (m == PACS_HTTP_DELETE) {
        if (rt->kind != PACS_ROUTE_RESOURCE) {
            return 1;
        }
        if (!(p->scopes & PACS_SCOPE_DELETE) || limited) {
            return refuse_scope(r, p, "delete", limit);
        }
        return 1;
    }
    if (m != PACS_HTTP_GET) {
        return 1;
    }
    if (!(p->scopes & PACS_SCOPE_READ)) {
        return refuse_scope(r, p, "read", limit);
    }
    if (!limited) {
        return 1;
    }
    switch (rt->kind) {
    case PACS_ROUTE_RESOURCE:
    case PACS_ROUTE_METADATA:
    case PACS_ROUTE_FRAMES:
    case PACS_ROUTE_BULKDATA:
    case PACS_ROUTE_RENDERED:
        if (!pacs_auth_reads_study(p, rt->study)) {
            return hide(r, p, rt->sop ? "instance" : rt->series ? "series" : "study");
        }
        return 1;
    case PACS_ROUTE_WADO_URI: {
        const char *st = pacs_params_get(pacs_http_params(r), "studyUID");
        /* A missing or malformed UID gets the handler's 400, which says nothing of any study. */
        if (st && pacs_uid_valid(st) && !pacs_auth_reads_study(p, st)) {
            return hide(r, p, "instance");
        }
        return 1;
    }
    default:
        return 1; /* QIDO: limited in the query model (pacs_auth_restrict_query) */
    }
}

int pacs_gate_authorize_ops(pacs_http_req *r, const pacs_principal *p)
{
    if (!(p->scopes & PACS_SCOPE_METRICS)) {
        return refuse_scope(r, p, "metrics", NULL);
    }
    return 1;
}

/* ---- the shares API ---- */

int pacs_gate_is_shares(const char *path, size_t len)
{
    return (len == 7 && strncmp(path, "/shares", 7) == 0) ||
           (len > 7 && strncmp(path, "/shares/", 8) == 0);
}

typedef struct share_req {
    pacs_auth *a;
    pacs_principal p;
    pacs_buf body;
} share_req;

/* The origin (scheme://host[:port]) of the DICOMweb base URL, with the prefix removed. */
static const char *origin_of(pacs_http_req *r)
{
    const char *base = pacs_http_base_url(r);
    const char *prefix = pacs_config_str(pacs_http_config(r), "http.prefix");
    size_t bl = strlen(base), pl = strlen(prefix);
    if (pl && bl >= pl && strcmp(base + bl - pl, prefix) == 0) {
        bl -= pl;
    }
    return pacs_arena_strndup(pacs_http_arena(r), base, bl);
}

static int count_one(void *ctx, const json_t *result)
{
    (void)result;
    (*(size_t *)ctx)++;
    return 0;
}

static int study_exists(pacs_http_req *r, const char *uid, pacs_errinfo *ei, pacs_err *err)
{
    size_t n = 0;
    pacs_errinfo_clear(ei);
    pacs_query *q = pacs_resolve_query(uid, NULL, NULL, ei);
    if (!q) {
        *err = ei && ei->code != PACS_OK ? ei->code : PACS_ENOMEM;
        return 0;
    }
    pacs_query_set_paging(q, 1, 0);
    *err = pacs_archive_find(pacs_http_archive(r), q, count_one, &n, ei);
    pacs_query_free(q);
    return *err == PACS_OK && n > 0;
}

static void iso_time(int64_t t, char *buf, size_t cap)
{
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r(&tt, &tm);
    strftime(buf, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void send_json(pacs_http_req *r, unsigned status, json_t *j)
{
    pacs_http_add_header(r, "Cache-Control", "no-store");
    if (pacs_http_send_json(r, status, "application/json", j) != PACS_OK) {
        pacs_http_send_error(r, 500, "out of memory");
    }
}

/* What a POST asks to share: a study, or a patient's studies (and those stored later). */
typedef struct share_ask {
    char study[PACS_SHARE_UID_CAP];
    char patient[80], issuer[80];
    int has_issuer, later;
    long days;
} share_ask;

/* Reads the query parameters and the JSON body into `ask`; answers 400 and returns 0 when bad. */
static int read_ask(pacs_http_req *r, share_req *sr, share_ask *ask)
{
    const pacs_params *pp = pacs_http_params(r);
    const char *study = pacs_params_get(pp, "study");
    const char *patient = pacs_params_get(pp, "patient");
    const char *issuer = pacs_params_get(pp, "issuer");
    const char *later = pacs_params_get(pp, "later");
    const char *days_text = pacs_params_get(pp, "days");
    long max_days = pacs_config_int(pacs_http_config(r), "auth.share_max_days");
    int days_given = days_text != NULL, ok = 1;
    json_t *body = NULL;
    memset(ask, 0, sizeof *ask);
    if (!study) {
        study = pacs_params_get(pp, "StudyInstanceUID");
    }
    ask->later = later && (strcmp(later, "true") == 0 || strcmp(later, "1") == 0);
    if (days_text) {
        char *end = NULL;
        ask->days = strtol(days_text, &end, 10);
        if (end == days_text || *end) {
            ask->days = -1;
        }
    }
    if (sr->body.len > 0) {
        json_error_t jerr;
        body = json_loadb(sr->body.data, sr->body.len, 0, &jerr);
        if (!json_is_object(body)) {
            json_decref(body);
            pacs_http_send_error(r, 400, "the body must be a JSON object");
            return 0;
        }
        json_t *v = json_object_get(body, "study");
        v = v ? v : json_object_get(body, "StudyInstanceUID");
        study = v ? json_string_value(v) : study;
        ok &= !v || study;
        v = json_object_get(body, "patient");
        patient = v ? json_string_value(v) : patient;
        ok &= !v || patient;
        v = json_object_get(body, "issuer");
        issuer = v ? json_string_value(v) : issuer;
        ok &= !v || issuer;
        v = json_object_get(body, "later");
        ok &= !v || json_is_boolean(v);
        ask->later = v ? json_is_true(v) : ask->later;
        v = json_object_get(body, "days");
        if (v) {
            ask->days = json_is_integer(v) ? (long)json_integer_value(v) : -1;
            days_given = 1;
        }
    }
    if (!days_given) {
        ask->days = 30 < max_days ? 30 : max_days;
    }
    if (ok && study && !patient && strlen(study) < sizeof ask->study && pacs_uid_valid(study)) {
        memcpy(ask->study, study, strlen(study) + 1);
    } else if (ok && patient && !study && strlen(patient) < sizeof ask->patient &&
               (!issuer || strlen(issuer) < sizeof ask->issuer)) {
        memcpy(ask->patient, patient, strlen(patient) + 1);
        if (issuer) {
            memcpy(ask->issuer, issuer, strlen(issuer) + 1);
            ask->has_issuer = 1;
        }
    } else {
        ok = 0;
    }
    json_decref(body);
    if (!ok || (ask->later && !ask->patient[0])) {
        pacs_http_send_error(r, 400,
                             "share either a study (a valid StudyInstanceUID) or a patient "
                             "(patient, with issuer and later if wanted), with string values");
        return 0;
    }
    if (ask->days < 1 || ask->days > max_days) {
        pacs_http_send_error(r, 400, "days must be a whole number from 1 to %ld", max_days);
        return 0;
    }
    return 1;
}

static void create_share(pacs_http_req *r, share_req *sr)
{
    pacs_errinfo ei;
    share_ask ask;
    if (!read_ask(r, sr, &ask)) {
        return;
    }
    pacs_err err = PACS_OK;
    size_t n_studies = 0;
    char *subject = pacs_arena_alloc(pacs_http_arena(r), PACS_SHARE_SUBJECT_MAX + 1);
    pacs_share_scope *sc = pacs_arena_alloc(pacs_http_arena(r), sizeof *sc);
    if (!subject || !sc) {
        pacs_http_send_error(r, 500, "out of memory");
        return;
    }
    if (ask.study[0]) {
        if (!study_exists(r, ask.study, &ei, &err)) {
            pacs_http_send_error(r, err != PACS_OK ? pacs_http_status_of(err) : 404, "%s",
                                 err != PACS_OK ? ei.msg : "no such study");
            return;
        }
        memcpy(subject, ask.study, strlen(ask.study) + 1);
    } else {
        err = pacs_share_scope_make(pacs_http_archive(r), ask.patient,
                                    ask.has_issuer ? ask.issuer : NULL, ask.later, sc, &n_studies,
                                    &ei);
        if (err == PACS_OK) {
            err = pacs_share_scope_format(sc, subject, PACS_SHARE_SUBJECT_MAX + 1, &ei);
        }
        if (err != PACS_OK) {
            pacs_http_send_error(r, err == PACS_EINVAL ? 400 : pacs_http_status_of(err), "%s",
                                 ei.msg);
            return;
        }
    }
    char token[PACS_SHARE_TOKEN_LEN + 1], id[PACS_SHARE_ID_LEN + 1];
    int64_t expires = (int64_t)time(NULL) + (int64_t)ask.days * 86400;
    err = pacs_shares_create_subject(pacs_auth_shares(sr->a), subject, expires, sr->p.name, token,
                                     sizeof token, id, sizeof id, &ei);
    if (err != PACS_OK) {
        pacs_log(PACS_LOG_ERROR, "auth", "req=%lu share: %s", pacs_http_id(r), ei.msg);
        pacs_http_send_error(r, err == PACS_EINVAL ? 400 : 503, "%s", ei.msg);
        return;
    }
    /* No patient ID in the log (STYLE.md): the audit trail has it. */
    pacs_log(PACS_LOG_INFO, "auth", "req=%lu who=%s shared %s%s id=%s days=%ld", pacs_http_id(r),
             sr->p.name, ask.study[0] ? "study=" : "a patient's studies",
             ask.study[0] ? ask.study
             : ask.later  ? " and later ones"
                          : "",
             id, ask.days);
    char detail[80];
    snprintf(detail, sizeof detail, "created %s%s", id,
             ask.study[0] ? ""
             : ask.later  ? " for a patient, later studies too"
                          : " for a patient");
    audit(r, PACS_AUDIT_SHARE, 1, sr->p.name, ask.study[0] ? ask.study : NULL, detail);
    char when[32];
    iso_time(expires, when, sizeof when);
    const char *url = pacs_arena_printf(pacs_http_arena(r), "%s/share/%s", origin_of(r), token);
    json_t *j = json_pack("{s:s, s:s, s:s, s:I, s:s}", "id", id, "token", token, "expires", when,
                          "expires_at", (json_int_t)expires, "url", url ? url : "");
    if (j && ask.study[0]) {
        json_object_set_new(j, "study", json_string(ask.study));
    } else if (j) {
        json_object_set_new(j, "patient", json_string(sc->patient_id));
        json_object_set_new(j, "issuer", json_string(sc->issuer));
        json_object_set_new(j, "later", json_boolean(sc->later));
        json_object_set_new(j, "studies", json_integer((json_int_t)n_studies));
    }
    memset(token, 0, sizeof token);
    send_json(r, 201, j);
}

static int list_one(void *ctx, const pacs_share_info *in)
{
    json_t *arr = ctx;
    char created[32], expires[32];
    iso_time(in->created_at, created, sizeof created);
    iso_time(in->expires_at, expires, sizeof expires);
    json_t *o = json_pack("{s:s, s:s, s:s, s:s, s:b, s:b}", "id", in->id, "creator", in->creator,
                          "created", created, "expires", expires, "revoked", in->revoked, "expired",
                          in->expires_at <= (int64_t)time(NULL));
    pacs_share_scope sc;
    pacs_errinfo ei;
    if (!o) {
        return 1;
    }
    if (!pacs_share_scope_is_patient(in->study_uid)) {
        json_object_set_new(o, "study", json_string(in->study_uid));
    } else if (pacs_share_scope_parse(in->study_uid, &sc, &ei) == PACS_OK) {
        json_object_set_new(o, "patient", json_string(sc.patient_id));
        json_object_set_new(o, "issuer", json_string(sc.issuer));
        json_object_set_new(o, "later", json_boolean(sc.later));
    }
    json_array_append_new(arr, o);
    return 0;
}

static pacs_err body_data(pacs_http_req *r, void *ctx, const char *data, size_t len)
{
    (void)r;
    share_req *sr = ctx;
    return pacs_buf_append(&sr->body, data, len);
}

static void body_end(pacs_http_req *r, void *ctx)
{
    create_share(r, ctx);
}

static void body_release(void *ctx)
{
    share_req *sr = ctx;
    pacs_buf_free(&sr->body);
}

void pacs_gate_shares(pacs_http_req *r, pacs_auth *a, const pacs_principal *p, const char *path,
                      size_t len)
{
    pacs_errinfo ei;
    pacs_http_method m = pacs_http_method_of(r);
    if (!(p->scopes & PACS_SCOPE_SHARE) || pacs_auth_limited(p)) {
        refuse_scope(r, p, "share", p->study[0] ? p->study : NULL);
        return;
    }
    if (len == 7 && m == PACS_HTTP_POST) {
        share_req *sr = pacs_arena_alloc(pacs_http_arena(r), sizeof *sr);
        if (!sr) {
            pacs_http_send_error(r, 500, "out of memory");
            return;
        }
        memset(sr, 0, sizeof *sr);
        sr->a = a;
        sr->p = *p;
        pacs_buf_init(&sr->body, SHARES_BODY_MAX);
        static const pacs_http_body_ops ops = {body_data, body_end, body_release, NULL};
        pacs_http_expect_body(r, &ops, sr);
        return;
    }
    if (len == 7 && m == PACS_HTTP_GET) {
        const char *study = pacs_params_get(pacs_http_params(r), "study");
        if (study && !pacs_uid_valid(study)) {
            pacs_http_send_error(r, 400, "study must be a valid StudyInstanceUID");
            return;
        }
        json_t *arr = json_array();
        if (!arr) {
            pacs_http_send_error(r, 500, "out of memory");
            return;
        }
        pacs_err err = pacs_shares_list(pacs_auth_shares(a), study, list_one, arr, &ei);
        if (err != PACS_OK) {
            json_decref(arr);
            pacs_http_send_error(r, 503, "%s", ei.msg);
            return;
        }
        send_json(r, 200, arr);
        return;
    }
    if (len == 8 + PACS_SHARE_ID_LEN && m == PACS_HTTP_DELETE) {
        char id[PACS_SHARE_ID_LEN + 1];
        memcpy(id, path + 8, PACS_SHARE_ID_LEN);
        id[PACS_SHARE_ID_LEN] = '\0';
        pacs_err err = pacs_shares_revoke(pacs_auth_shares(a), id, &ei);
        if (err == PACS_ENOTFOUND) {
            pacs_http_send_error(r, 404, "no such share");
            return;
        }
        if (err != PACS_OK) {
            pacs_http_send_error(r, 503, "%s", ei.msg);
            return;
        }
        pacs_log(PACS_LOG_INFO, "auth", "req=%lu who=%s revoked share id=%s", pacs_http_id(r),
                 p->name, id);
        char detail[40];
        snprintf(detail, sizeof detail, "revoked %s", id);
        audit(r, PACS_AUDIT_SHARE, 1, p->name, NULL, detail);
        pacs_buf empty;
        pacs_buf_init(&empty, 1);
        pacs_http_send_buf(r, 204, "text/plain", &empty, 0);
        return;
    }
    if (len == 7 || (len > 8 && m != PACS_HTTP_DELETE)) {
        pacs_http_add_header(r, "Allow", len == 7 ? "GET, HEAD, POST, OPTIONS" : "DELETE, OPTIONS");
        pacs_http_send_error(r, 405, "method not allowed here");
        return;
    }
    pacs_http_send_error(r, 404, "no such share");
}
