// SPDX-License-Identifier: MIT
/*
 * QIDO-RS (qido.h). Load: the study list a viewer opens with, so one index query per request,
 * results built from index columns and stored level attributes, no object file opened.
 * Thread-safe: every call works on its own query and buffers.
 */
#include "dicomweb/qido.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/media.h"
#include "pacs/base/log.h"
#include "pacs/dicom/dcm.h"

#define BODY_MAX (512u << 20)

#define TAG_AVAILABILITY 0x00080056u
#define TAG_RETRIEVE_URL 0x00081190u
#define TAG_STUDY_UID 0x0020000Du
#define TAG_SERIES_UID 0x0020000Eu

/* PS3.18 Table 10.6.3-3: attributes returned for every study. RetrieveURL (0008,1190) and
 * InstanceAvailability (0008,0056) of these tables are not asked of the index: they are made
 * here for every result (asking would make the index read stored attributes row by row). */
static const uint32_t study_tags[] = {
    0x00080020, 0x00080030, 0x00080050, 0x00080061, 0x00080090, 0x00080201, 0x00100010,
    0x00100020, 0x00100030, 0x00100040, 0x0020000D, 0x00200010, 0x00201206, 0x00201208,
};

/* Table 10.6.3-4: series. */
static const uint32_t series_tags[] = {
    0x00080060, 0x00080201, 0x0008103E, 0x0020000E, 0x00200011,
    0x00201209, 0x00400244, 0x00400245, 0x00400275,
};

/* Table 10.6.3-5: instances. */
static const uint32_t instance_tags[] = {
    0x00080016, 0x00080018, 0x00080201, 0x00200013, 0x00280010, 0x00280011, 0x00280100, 0x00280008,
};

static pacs_err include_list(pacs_query *q, const uint32_t *tags, size_t n, pacs_errinfo *ei)
{
    for (size_t i = 0; i < n; i++) {
        pacs_err err = pacs_query_include(q, tags[i], ei);
        if (err != PACS_OK) {
            return err;
        }
    }
    return PACS_OK;
}

/* A non-negative count for limit/offset. */
static pacs_err parse_count(const char *name, const char *v, size_t *out, pacs_errinfo *ei)
{
    if (!v[0] || strlen(v) > 9) {
        return pacs_errf(ei, PACS_EINVAL, "%s must be a whole number from 0 to 999999999", name);
    }
    for (const char *p = v; *p; p++) {
        if (!isdigit((unsigned char)*p)) {
            return pacs_errf(ei, PACS_EINVAL, "%s must be a whole number from 0 to 999999999",
                             name);
        }
    }
    *out = (size_t)strtoul(v, NULL, 10);
    return PACS_OK;
}

static pacs_err parse_tag(const char *text, size_t len, uint32_t *tag, pacs_errinfo *ei)
{
    char buf[80];
    if (len == 0 || len >= sizeof buf) {
        return pacs_errf(ei, PACS_EINVAL, "'%.*s' is not an attribute keyword or tag",
                         (int)(len > 64 ? 64 : len), text);
    }
    memcpy(buf, text, len);
    buf[len] = '\0';
    if (pacs_dcm_tag_parse(buf, tag) != PACS_OK) {
        return pacs_errf(ei, PACS_EINVAL, "'%s' is not an attribute keyword or tag", buf);
    }
    return PACS_OK;
}

static pacs_err add_includefield(pacs_query *q, const char *value, pacs_errinfo *ei)
{
    const char *p = value;
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        while (n > 0 && *p == ' ') {
            p++;
            n--;
        }
        while (n > 0 && p[n - 1] == ' ') {
            n--;
        }
        if (n == 3 && strncmp(p, "all", 3) == 0) {
            pacs_query_include_all(q, 1);
        } else if (n > 0) {
            /* A path into a sequence returns the whole top-level sequence. */
            const char *dot = memchr(p, '.', n);
            uint32_t tag;
            pacs_err err = parse_tag(p, dot ? (size_t)(dot - p) : n, &tag, ei);
            if (err == PACS_OK && tag != TAG_RETRIEVE_URL && tag != TAG_AVAILABILITY) {
                err = pacs_query_include(q, tag, ei);
            }
            if (err != PACS_OK) {
                return err;
            }
        }
        if (!comma) {
            break;
        }
        p = comma + 1;
    }
    return PACS_OK;
}

/* A matching key: "Keyword", "GGGGEEEE", or a sequence path "Seq.Keyword". */
static pacs_err add_match(pacs_query *q, const char *name, const char *value, pacs_errinfo *ei)
{
    const char *dot = strchr(name, '.');
    uint32_t tag;
    pacs_err err = parse_tag(name, dot ? (size_t)(dot - name) : strlen(name), &tag, ei);
    if (err != PACS_OK) {
        return err;
    }
    if ((tag >> 16) == 0x0002 || (tag >> 16) == 0x0000 || (tag & 0xFFFFu) == 0) {
        return pacs_errf(ei, PACS_EINVAL, "%s cannot be matched", name);
    }
    if (dot) {
        if (strchr(dot + 1, '.')) {
            return pacs_errf(ei, PACS_EINVAL, "%s: only one sequence level can be matched", name);
        }
        char vr[3];
        pacs_dcm_dict_vr(tag, vr);
        if (strcmp(vr, "SQ") != 0) {
            return pacs_errf(ei, PACS_EINVAL, "%.*s is not a sequence", (int)(dot - name), name);
        }
        const pacs_query_key *k = pacs_query_find_key(q, tag);
        pacs_query *item = k && k->match == PACS_MATCH_SEQUENCE ? k->item : NULL;
        if (!item) {
            err = pacs_query_add_sequence(q, tag, &item, ei);
            if (err != PACS_OK) {
                return err;
            }
        }
        return add_match(item, dot + 1, value, ei);
    }
    char vr[3];
    pacs_dcm_dict_vr(tag, vr);
    if (strcmp(vr, "SQ") == 0) {
        return pacs_errf(ei, PACS_EINVAL, "%s is a sequence: match one of its attributes", name);
    }
    char *v = NULL;
    if (strcmp(vr, "UI") == 0 && strchr(value, ',')) {
        /* PS3.18 8.3.4.1: UID lists may be comma-separated. */
        v = strdup(value);
        if (!v) {
            return pacs_errf(ei, PACS_ENOMEM, "out of memory");
        }
        for (char *c = v; *c; c++) {
            if (*c == ',') {
                *c = '\\';
            }
        }
    }
    err = pacs_query_add(q, tag, NULL, v ? v : value, ei);
    free(v);
    if (err != PACS_OK && ei) {
        char msg[sizeof ei->msg];
        snprintf(msg, sizeof msg, "%s", ei->msg);
        pacs_errf(ei, err, "%s: %s", name, msg);
    }
    return err;
}

/* True when every dot-separated part of `name` is an attribute keyword or tag: a name this
 * server can read, even if what it names cannot be matched (that is a 400, not ignored). */
static int is_attribute_path(const char *name)
{
    const char *p = name;
    for (;;) {
        const char *dot = strchr(p, '.');
        size_t n = dot ? (size_t)(dot - p) : strlen(p);
        uint32_t tag;
        if (parse_tag(p, n, &tag, NULL) != PACS_OK) {
            return 0;
        }
        if (!dot) {
            return 1;
        }
        p = dot + 1;
    }
}

static int is_control(const char *name)
{
    /* access_token and token carry a share token (auth.h), not a matching key. */
    static const char *const names[] = {"limit",        "offset",       "fuzzymatching",
                                        "includefield", "accept",       "charset",
                                        "orderby",      "access_token", "token"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (strcmp(name, names[i]) == 0) {
            return 1;
        }
    }
    return 0;
}

pacs_err pacs_qido_build(const pacs_route *rt, const pacs_params *params, size_t max_results,
                         pacs_query **out, pacs_qido_notes *notes, pacs_errinfo *ei)
{
    pacs_qido_notes nt;
    memset(&nt, 0, sizeof nt);
    pacs_level level;
    switch (rt->kind) {
    case PACS_ROUTE_STUDIES:
        level = PACS_LEVEL_STUDY;
        break;
    case PACS_ROUTE_SERIES:
        level = PACS_LEVEL_SERIES;
        break;
    case PACS_ROUTE_INSTANCES:
        level = PACS_LEVEL_INSTANCE;
        break;
    default:
        return pacs_errf(ei, PACS_EINVAL, "not a QIDO-RS collection");
    }
    pacs_query *q = pacs_query_new(level);
    if (!q) {
        return pacs_errf(ei, PACS_ENOMEM, "out of memory");
    }
    pacs_err err = PACS_OK;
    size_t limit = 0, offset = 0;
    /* Matching keys first, so that includefield never turns a match into a return key. */
    for (size_t i = 0; i < params->n && err == PACS_OK; i++) {
        const pacs_param *p = &params->v[i];
        if (strcmp(p->name, "limit") == 0) {
            err = parse_count("limit", p->value, &limit, ei);
        } else if (strcmp(p->name, "offset") == 0) {
            err = parse_count("offset", p->value, &offset, ei);
        } else if (strcmp(p->name, "fuzzymatching") == 0) {
            if (strcmp(p->value, "true") == 0) {
                pacs_query_set_fuzzy(q, 1);
            } else if (strcmp(p->value, "false") == 0) {
                pacs_query_set_fuzzy(q, 0);
            } else {
                err = pacs_errf(ei, PACS_EINVAL, "fuzzymatching must be true or false");
            }
        } else if (is_control(p->name)) {
            continue;
        } else if (!is_attribute_path(p->name)) {
            /* Cache busters (`_=...`), a viewer's own parameters: not ours to refuse. */
            if (nt.n_ignored < PACS_QIDO_IGNORED_MAX) {
                nt.ignored[nt.n_ignored] = p->name;
            }
            nt.n_ignored++;
        } else {
            err = add_match(q, p->name, p->value, ei);
        }
    }
    if (err == PACS_OK && rt->study) {
        err = pacs_query_add(q, TAG_STUDY_UID, "UI", rt->study, ei);
    }
    if (err == PACS_OK && rt->series) {
        err = pacs_query_add(q, TAG_SERIES_UID, "UI", rt->series, ei);
    }
    for (size_t i = 0; i < params->n && err == PACS_OK; i++) {
        if (strcmp(params->v[i].name, "includefield") == 0) {
            err = add_includefield(q, params->v[i].value, ei);
        }
    }
    /* Default attributes: those of the level, and of the levels above that the path does not
     * fix (PS3.18 10.6.3.3). */
    if (err == PACS_OK && (level == PACS_LEVEL_STUDY || !rt->study)) {
        err = include_list(q, study_tags, sizeof study_tags / sizeof study_tags[0], ei);
    }
    if (err == PACS_OK &&
        (level == PACS_LEVEL_SERIES || (level == PACS_LEVEL_INSTANCE && !rt->series))) {
        err = include_list(q, series_tags, sizeof series_tags / sizeof series_tags[0], ei);
    }
    if (err == PACS_OK && level == PACS_LEVEL_INSTANCE) {
        err = include_list(q, instance_tags, sizeof instance_tags / sizeof instance_tags[0], ei);
    }
    if (err != PACS_OK) {
        pacs_query_free(q);
        return err;
    }
    if (max_results && (limit == 0 || limit > max_results)) {
        nt.capped = 1;
        limit = max_results;
    }
    pacs_query_set_paging(q, limit, offset);
    *out = q;
    *notes = nt;
    return PACS_OK;
}

typedef struct search_ctx {
    pacs_buf body;
    const char *base;
    pacs_level level;
    size_t count, keep;
    int more;
    pacs_err err;
} search_ctx;

/* Writes the result straight into the answer, with its RetrieveURL (when it has the UIDs) and
 * InstanceAvailability (not at series level) put in, and SpecificCharacterSet exactly when the
 * text is not ASCII. */
static int on_result(void *ctx, pacs_find_row *row)
{
    search_ctx *sc = ctx;
    if (sc->count == sc->keep) {
        sc->more = 1;
        return 1;
    }
    const char *st = pacs_find_row_uid(row, PACS_LEVEL_STUDY);
    const char *se =
        sc->level == PACS_LEVEL_STUDY ? NULL : pacs_find_row_uid(row, PACS_LEVEL_SERIES);
    const char *sop =
        sc->level == PACS_LEVEL_INSTANCE ? pacs_find_row_uid(row, PACS_LEVEL_INSTANCE) : NULL;
    char url[1024];
    int ok = st != NULL;
    if (sc->level == PACS_LEVEL_STUDY) {
        snprintf(url, sizeof url, "%s/studies/%s", sc->base, st ? st : "");
    } else if (sc->level == PACS_LEVEL_SERIES) {
        ok = ok && se;
        snprintf(url, sizeof url, "%s/studies/%s/series/%s", sc->base, st ? st : "", se ? se : "");
    } else {
        ok = ok && se && sop;
        snprintf(url, sizeof url, "%s/studies/%s/series/%s/instances/%s", sc->base, st ? st : "",
                 se ? se : "", sop ? sop : "");
    }
    /* In tag order, as pacs_find_row_write takes them. */
    pacs_find_add add[2];
    size_t n = 0;
    if (sc->level != PACS_LEVEL_SERIES) {
        add[n++] = (pacs_find_add){TAG_AVAILABILITY, "CS", "ONLINE"};
    }
    if (ok) {
        add[n++] = (pacs_find_add){TAG_RETRIEVE_URL, "UR", url};
    }
    pacs_err err = pacs_buf_append(&sc->body, sc->count ? "," : "[", 1);
    if (err == PACS_OK) {
        err = pacs_find_row_write(row, add, n, PACS_FIND_UTF8_CHARSET, &sc->body);
    }
    if (err != PACS_OK) {
        sc->err = err;
        return 1;
    }
    sc->count++;
    return 0;
}

/* True when the client accepts DICOM JSON (or anything). */
static int wants_json(pacs_http_req *r, pacs_errinfo *ei, int *bad)
{
    const char *accept = pacs_params_get(pacs_http_params(r), "accept");
    if (!accept) {
        accept = pacs_http_header(r, "Accept");
    }
    pacs_media m[PACS_ACCEPT_MAX];
    size_t n = 0;
    *bad = 0;
    if (pacs_media_accept_parse(accept, m, PACS_ACCEPT_MAX, &n, ei) != PACS_OK) {
        *bad = 1;
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        if (pacs_media_covers(&m[i], "application/dicom+json") ||
            pacs_media_covers(&m[i], "application/json")) {
            return 1;
        }
    }
    return 0;
}

/* Adds `Warning: 299 {host} "text"` (RFC 7234 5.5; PS3.18 uses it for what the origin server
 * did not do as asked). The warn-agent is the authority of the base URL. */
static void add_warning(pacs_http_req *r, const char *text)
{
    const char *base = pacs_http_base_url(r);
    const char *host = strstr(base, "://");
    host = host ? host + 3 : base;
    size_t hl = strcspn(host, "/");
    char warn[1024];
    size_t n = (size_t)snprintf(warn, sizeof warn, "299 %.*s \"", (int)(hl > 300 ? 300 : hl), host);
    for (const char *c = text; *c && n + 2 < sizeof warn; c++) {
        /* quoted-string: no quote, backslash or control character inside */
        warn[n++] = *c == '"' || *c == '\\' || (unsigned char)*c < 0x20 || (unsigned char)*c > 0x7E
                        ? '?'
                        : *c;
    }
    warn[n++] = '"';
    warn[n] = '\0';
    pacs_http_add_header(r, "Warning", warn);
}

/* The Warning for parameters ignored by name, listing them (each cut to 40 characters). */
static void warn_ignored(pacs_http_req *r, const pacs_qido_notes *nt)
{
    char text[600];
    size_t n = (size_t)snprintf(text, sizeof text,
                                "The following query parameters are not supported and were "
                                "ignored:");
    size_t shown = nt->n_ignored < PACS_QIDO_IGNORED_MAX ? nt->n_ignored : PACS_QIDO_IGNORED_MAX;
    for (size_t i = 0; i < shown && n < sizeof text; i++) {
        n += (size_t)snprintf(text + n, sizeof text - n, "%s %.40s", i ? "," : "", nt->ignored[i]);
    }
    if (nt->n_ignored > shown && n < sizeof text) {
        snprintf(text + n, sizeof text - n, " and %zu more", nt->n_ignored - shown);
    }
    add_warning(r, text);
}

void pacs_qido_search(pacs_http_req *r, const pacs_route *rt)
{
    pacs_errinfo ei;
    int bad = 0;
    if (!wants_json(r, &ei, &bad)) {
        if (bad) {
            pacs_http_send_error(r, 400, "Accept: %s", ei.msg);
        } else {
            pacs_http_send_error(r, 406, "QIDO-RS answers in application/dicom+json only");
        }
        return;
    }
    size_t max = (size_t)pacs_config_int(pacs_http_config(r), "dicomweb.max_results");
    pacs_query *q = NULL;
    pacs_qido_notes notes;
    pacs_err err = pacs_qido_build(rt, pacs_http_params(r), max, &q, &notes, &ei);
    int capped = err == PACS_OK && notes.capped;
    int outside = 0;
    if (err == PACS_OK) {
        /* A study-limited principal sees its study only (auth.h). */
        err = pacs_auth_restrict_query(pacs_http_principal(r), q, &outside, &ei);
    }
    if (err != PACS_OK) {
        pacs_query_free(q);
        pacs_http_send_error(r, pacs_http_status_of(err), "%s", ei.msg);
        return;
    }
    if (notes.n_ignored) {
        warn_ignored(r, &notes);
    }
    if (outside) {
        pacs_query_free(q);
        pacs_buf none;
        pacs_buf_init(&none, 16);
        if (pacs_buf_puts(&none, "[]") != PACS_OK) {
            pacs_buf_free(&none);
            pacs_http_send_error(r, 500, "out of memory");
            return;
        }
        pacs_http_send_buf(r, 200, "application/dicom+json", &none, 1);
        return;
    }
    search_ctx sc;
    memset(&sc, 0, sizeof sc);
    pacs_buf_init(&sc.body, BODY_MAX);
    sc.base = pacs_http_base_url(r);
    sc.level = pacs_query_level(q);
    sc.keep = pacs_query_limit(q) ? pacs_query_limit(q) : SIZE_MAX;
    if (capped) {
        /* One more than the cap tells whether the cap cut the answer short. */
        pacs_query_set_paging(q, pacs_query_limit(q) + 1, pacs_query_offset(q));
    }
    err = pacs_archive_find_rows(pacs_http_archive(r), q, on_result, &sc, &ei);
    pacs_query_free(q);
    if (err == PACS_OK && sc.err != PACS_OK) {
        err = pacs_errf(&ei, sc.err, "the answer is too large: use limit and offset");
    }
    if (err != PACS_OK) {
        pacs_buf_free(&sc.body);
        pacs_http_send_error(r, err == PACS_EINVAL ? 400 : pacs_http_status_of(err), "%s", ei.msg);
        return;
    }
    if (pacs_buf_puts(&sc.body, sc.count ? "]" : "[]") != PACS_OK) {
        pacs_buf_free(&sc.body);
        pacs_http_send_error(r, 500, "the answer is too large: use limit and offset");
        return;
    }
    if (sc.more) {
        add_warning(r, "The number of results exceeded the maximum supported by the server. "
                       "Additional results can be requested.");
    }
    pacs_http_send_buf(r, 200, "application/dicom+json", &sc.body, 1);
}
