// SPDX-License-Identifier: MIT
/*
 * A report written over HTTP (reports.h): the JSON body is read whole (at most 1 MiB), checked
 * here (string members only, no unknown member), and handed to the archive, which makes the SR
 * and stores it durably before this answers. Load: a radiologist's click; one SR of a few KB.
 * Thread-safe: the state belongs to one request.
 */
#include "dicomweb/reports.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "http/media.h"
#include "pacs/base/log.h"
#include "pacs/dicom/part10.h"
#include "storage/report_make.h"

#define BODY_MAX (1024u * 1024u)

typedef struct report_req {
    char study[PACS_UID_MAX + 1];
    pacs_buf body;
    int over; /* the body ran past BODY_MAX: the rest is read and dropped, then 413 */
} report_req;

static pacs_err body_data(pacs_http_req *r, void *ctx, const char *data, size_t len)
{
    (void)r;
    report_req *rq = ctx;
    if (rq->over || rq->body.len + len > BODY_MAX) {
        rq->over = 1;
        return PACS_OK;
    }
    return pacs_buf_append(&rq->body, data, len);
}

/* The string member `name` of `o` into `*out` (NULL when absent); 0 when it is not a string. */
static int member(const json_t *o, const char *name, const char **out)
{
    const json_t *v = json_object_get(o, name);
    *out = json_string_value(v);
    return !v || *out;
}

/* Reads the body into `rn`; answers 400 and returns 0 when it is not a report. */
static int read_body(pacs_http_req *r, const report_req *rq, json_t *o, pacs_report_new *rn)
{
    static const char *const known[] = {"text", "author", "status", "amends", "organization"};
    const char *key;
    json_t *v;
    json_object_foreach(o, key, v)
    {
        int ok = 0;
        for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
            ok |= strcmp(key, known[i]) == 0;
        }
        if (!ok) {
            pacs_http_send_error(r, 400,
                                 "unknown member '%.64s' (text, author, status, amends, "
                                 "organization)",
                                 key);
            return 0;
        }
    }
    const char *status = NULL;
    memset(rn, 0, sizeof *rn);
    rn->study_uid = rq->study;
    if (!member(o, "text", &rn->text) || !member(o, "author", &rn->author) ||
        !member(o, "status", &status) || !member(o, "amends", &rn->amends) ||
        !member(o, "organization", &rn->organization)) {
        pacs_http_send_error(r, 400, "every member must be a string");
        return 0;
    }
    if (!rn->text || !rn->text[0] || !rn->author || !rn->author[0]) {
        pacs_http_send_error(r, 400, "text and author are required");
        return 0;
    }
    if (!status || (strcmp(status, "final") != 0 && strcmp(status, "preliminary") != 0)) {
        pacs_http_send_error(r, 400, "status must be \"preliminary\" or \"final\"");
        return 0;
    }
    rn->final = strcmp(status, "final") == 0;
    if (rn->amends && !pacs_uid_valid(rn->amends)) {
        pacs_http_send_error(r, 400, "amends must be a SOP Instance UID");
        return 0;
    }
    return 1;
}

static void body_end(pacs_http_req *r, void *ctx)
{
    report_req *rq = ctx;
    if (rq->over) {
        pacs_http_send_error(r, 413, "a report body is at most %u bytes", BODY_MAX);
        return;
    }
    json_error_t jerr;
    json_t *o =
        json_loadb(rq->body.data ? rq->body.data : "", rq->body.len, JSON_REJECT_DUPLICATES, &jerr);
    pacs_report_new rn;
    if (!json_is_object(o)) {
        pacs_http_send_error(r, 400, "the body must be a JSON object: %s",
                             o ? "another JSON value" : jerr.text);
        json_decref(o);
        return;
    }
    if (!read_body(r, rq, o, &rn)) {
        json_decref(o);
        return;
    }
    pacs_ingest_result res;
    pacs_errinfo ei;
    const pacs_principal *who = pacs_http_principal(r);
    pacs_err err =
        pacs_archive_report_make(pacs_http_archive(r), &rn, "", who ? who->name : NULL, &res, &ei);
    json_decref(o);
    if (err != PACS_OK) {
        pacs_log(err == PACS_ENOTFOUND || err == PACS_EINVAL ? PACS_LOG_DEBUG : PACS_LOG_WARN,
                 "dicomweb", "req=%lu report for study=%s refused: %s", pacs_http_id(r), rq->study,
                 ei.msg);
        pacs_http_send_error(r, pacs_http_status_of(err), "%s", ei.msg);
        return;
    }
    const char *url = pacs_arena_printf(pacs_http_arena(r), "%s/studies/%s/series/%s/instances/%s",
                                        pacs_http_base_url(r), res.study_uid, res.series_uid,
                                        res.meta.sop_instance_uid);
    json_t *answer = json_pack("{s:s,s:s,s:s,s:s,s:s,s:s?}", "StudyInstanceUID", res.study_uid,
                               "SeriesInstanceUID", res.series_uid, "SOPInstanceUID",
                               res.meta.sop_instance_uid, "SOPClassUID", res.meta.sop_class_uid,
                               "status", rn.final ? "final" : "preliminary", "url", url);
    pacs_log(PACS_LOG_INFO, "dicomweb", "req=%lu report study=%s sop=%s final=%d", pacs_http_id(r),
             res.study_uid, res.meta.sop_instance_uid, rn.final);
    if (url) {
        pacs_http_add_header(r, "Location", url);
    }
    if (!answer || pacs_http_send_json(r, 201, "application/json", answer) != PACS_OK) {
        pacs_http_send_error(r, 500, "out of memory");
    }
}

static void body_release(void *ctx)
{
    report_req *rq = ctx;
    pacs_buf_free(&rq->body);
    free(rq);
}

void pacs_reports_create(pacs_http_req *r, const pacs_route *rt)
{
    const char *ct = pacs_http_header(r, "Content-Type");
    pacs_media m;
    pacs_errinfo ei;
    if (!ct || pacs_media_parse(ct, strlen(ct), &m, &ei) != PACS_OK ||
        strcmp(m.type, "application/json") != 0) {
        pacs_http_send_error(r, 415, "a report is sent as application/json");
        return;
    }
    report_req *rq = calloc(1, sizeof *rq);
    if (!rq) {
        pacs_http_send_error(r, 500, "out of memory");
        return;
    }
    snprintf(rq->study, sizeof rq->study, "%s", rt->study);
    pacs_buf_init(&rq->body, BODY_MAX + 1);
    static const pacs_http_body_ops ops = {body_data, body_end, body_release, NULL};
    pacs_http_expect_body(r, &ops, rq);
}
