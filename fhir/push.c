// SPDX-License-Identifier: MIT
/*
 * FHIR PUTs to the health record (push.h). A group of due entries is resolved to its studies;
 * each study gives one ImagingStudy PUT, then a DiagnosticReport PUT per report document among
 * the entries, each resource built by fhir/imaging.c and fhir/diagnostic.c from the index as it
 * is now (so a study whose instances arrive over minutes is PUT again, whole, as they come).
 * The bodies are small (JSON, a PDF report at most 16 MB in base64); each is one request over
 * the senders' HTTP client (http/client.h).
 */
#include "fhir/push.h"

#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "fhir/fhir_internal.h"
#include "http/client.h"
#include "pacs/base/log.h"
#include "storage/resolve.h"

#define WHY_CAP 200
#define PDF_MAX (16u << 20) /* a larger PDF goes by its url alone */

struct pacs_ehr_sender {
    struct pacs_fhir f; /* the builders' view of the archive: cfg, archive, ids (no auth) */
    const char *dicomweb;
    pacs_http_clients dests; /* one per ehr.* destination */
};

/* One PUT of `res` to {base}/{type}/{id}; 1 when answered 200 or 201. Sets `*down` when the
 * server is down or refused the key, with the reason in `why`. */
static int put(pacs_http_client *hc, const char *type, const char *id, const json_t *res,
               uint64_t *bytes, char why[WHY_CAP], int *down)
{
    const pacs_web_dest *d = pacs_http_client_dest(hc);
    char *body = json_dumps(res, JSON_COMPACT);
    char url[700];
    snprintf(url, sizeof url, "%s/%s/%s", d->url, type, id);
    struct curl_slist *hdrs = curl_slist_append(NULL, "Content-Type: application/fhir+json");
    hdrs = hdrs ? curl_slist_append(hdrs, "Accept: application/fhir+json") : NULL;
    pacs_http_answer ans = {NULL, 0, 0};
    CURL *c = body && hdrs ? pacs_http_client_easy(hc, url, &hdrs, &ans) : NULL;
    CURLcode rc = CURLE_OUT_OF_MEMORY;
    long status = 0;
    if (c) {
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, "PUT");
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
        rc = curl_easy_perform(c);
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    }
    int ok = rc == CURLE_OK && (status == 200 || status == 201);
    *down = pacs_http_client_judge(hc, rc, status, why, WHY_CAP);
    if (ok) {
        *bytes = strlen(body);
        pacs_log(PACS_LOG_DEBUG, "forward", "dest=%s put %s/%s status=%ld bytes=%zu", d->name, type,
                 id, status, strlen(body));
    } else {
        pacs_log(pacs_http_client_refused(status) ? PACS_LOG_ERROR : PACS_LOG_WARN, "forward",
                 "dest=%s put %s/%s: %s", d->name, type, id, why);
    }
    pacs_http_answer_free(&ans);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(c);
    free(body);
    return ok;
}

/* Puts the PDF of `doc` (stored as `object`) into the DiagnosticReport's presentedForm as data:
 * the EHR's users then have the report without a credential for this server. Left by its url
 * alone when it cannot be read or is too large. */
static void embed_pdf(pacs_ehr_sender *s, const pacs_report *doc, const char *object, json_t *res)
{
    json_t *form = json_array_get(json_object_get(res, "presentedForm"), 0);
    const char *path = strncmp(doc->pdf_bulk, "bulkdata/", 9) == 0 ? doc->pdf_bulk + 9 : NULL;
    pacs_bulk_range br;
    pacs_errinfo ei;
    int fd = -1;
    if (!form || !path || json_object_get(form, "data") ||
        pacs_archive_bulkdata_find(s->f.archive, object, path, &br, &ei) != PACS_OK ||
        br.length == 0 || br.length > PDF_MAX ||
        pacs_archive_open_object(s->f.archive, object, &fd, &ei) != PACS_OK) {
        return;
    }
    unsigned char *raw = malloc((size_t)br.length);
    char *b64 = malloc(((size_t)br.length + 2) / 3 * 4 + 1);
    if (raw && b64 && pread(fd, raw, (size_t)br.length, (off_t)br.offset) == (ssize_t)br.length) {
        size_t n = (size_t)br.length;
        while (n > 0 && raw[n - 1] == 0) {
            n--; /* the value's padding to an even length */
        }
        EVP_EncodeBlock((unsigned char *)b64, raw, (int)n);
        json_object_set_new(form, "data", json_string(b64));
    }
    close(fd);
    free(raw);
    free(b64);
}

/* ---- one study ---- */

typedef struct study_job {
    pacs_ehr_sender *s;
    pacs_http_client *hc;
    const pacs_fwd_entry *ents;
    const size_t *members; /* the entries of this study */
    size_t n_members;
    pacs_fwd_outcome *out;
    int down;
    char why[WHY_CAP];
} study_job;

static int put_report(void *ctx, const pacs_report *doc, json_t *res)
{
    study_job *j = ctx;
    for (size_t k = 0; k < j->n_members; k++) {
        const pacs_fwd_entry *e = &j->ents[j->members[k]];
        pacs_fwd_outcome *o = &j->out[j->members[k]];
        if (strcmp(e->sop_uid, doc->sop_uid) != 0 || o->result != PACS_FWD_SENT) {
            continue;
        }
        if (doc->pdf) {
            embed_pdf(j->s, doc, e->object, res);
        }
        uint64_t bytes = 0;
        char why[WHY_CAP] = "";
        if (j->down) {
            o->result = PACS_FWD_RETRY;
            snprintf(o->why, sizeof o->why, "%s", j->why);
        } else if (!put(j->hc, "DiagnosticReport", doc->sop_uid, res, &bytes, why, &j->down)) {
            o->result = PACS_FWD_RETRY;
            snprintf(o->why, sizeof o->why, "%s", why);
            if (j->down) {
                snprintf(j->why, sizeof j->why, "%s", why);
            }
        } else {
            o->bytes += bytes;
        }
    }
    json_decref(res);
    return 0;
}

/* The study's ImagingStudy, then its report documents among the members. */
static void send_study(study_job *j, const char *study)
{
    pacs_errinfo ei;
    json_t *res = NULL;
    uint64_t bytes = 0;
    pacs_fwd_result fail = PACS_FWD_RETRY;
    pacs_err err = pacs_fhir__imaging_study(&j->s->f, j->s->dicomweb, 1, study, &res, &ei);
    if (err == PACS_ENOTFOUND) {
        fail = PACS_FWD_GIVE_UP;
        snprintf(j->why, sizeof j->why, "the study is no longer stored");
    } else if (err != PACS_OK) {
        snprintf(j->why, sizeof j->why, "%.190s", ei.msg);
    }
    int ok = err == PACS_OK && put(j->hc, "ImagingStudy", study, res, &bytes, j->why, &j->down);
    json_decref(res);
    for (size_t k = 0; k < j->n_members; k++) {
        pacs_fwd_outcome *o = &j->out[j->members[k]];
        o->result = ok ? PACS_FWD_SENT : fail;
        snprintf(o->why, sizeof o->why, "%s", ok ? "" : j->why);
        o->bytes = ok ? bytes / j->n_members : 0;
    }
    if (ok) {
        j->why[0] = '\0';
        err = pacs_fhir__study_reports(&j->s->f, j->s->dicomweb, study, put_report, j, &ei);
    }
    if (ok && err != PACS_OK) {
        for (size_t k = 0; k < j->n_members; k++) {
            pacs_fwd_outcome *o = &j->out[j->members[k]];
            o->result = PACS_FWD_RETRY;
            snprintf(o->why, sizeof o->why, "%.190s", ei.msg);
        }
    }
}

/* ---- the sender's face ---- */

static int knows(void *ctx, const char *dest)
{
    const pacs_ehr_sender *s = ctx;
    return pacs_http_clients_find(&s->dests, dest) != NULL;
}

static int send_ehr(void *ctx, pacs_fwd_worker *w, const pacs_fwd_entry *ents, size_t n,
                    pacs_fwd_outcome *out)
{
    pacs_ehr_sender *s = ctx;
    pacs_http_client *hc = pacs_http_clients_find(&s->dests, ents[0].dest);
    if (!hc) {
        return 1; /* the worker asked knows() first */
    }
    size_t *members = calloc(n, sizeof *members);
    char *done = calloc(n, 1); /* the entry's study was handled, or it has none */
    if (!members || !done) {
        for (size_t i = 0; i < n; i++) {
            out[i].result = PACS_FWD_RETRY;
            snprintf(out[i].why, sizeof out[i].why, "out of memory");
        }
        free(members);
        free(done);
        return 0;
    }
    /* Each entry's study, from the index as it is now. */
    for (size_t i = 0; i < n; i++) {
        pacs_resolve_list rl;
        pacs_errinfo ei;
        pacs_err err = pacs_resolve_uids(s->f.archive, NULL, NULL, ents[i].sop_uid, 0, 1, &rl, &ei);
        if (err == PACS_OK) {
            snprintf(out[i].study, sizeof out[i].study, "%s", rl.v[0].study_uid);
            pacs_resolve_list_free(&rl);
            continue;
        }
        done[i] = 1;
        out[i].result = err == PACS_ENOTFOUND ? PACS_FWD_GIVE_UP : PACS_FWD_RETRY;
        snprintf(out[i].why, sizeof out[i].why, "%.190s",
                 err == PACS_ENOTFOUND ? "the instance is no longer stored" : ei.msg);
    }
    study_job j;
    memset(&j, 0, sizeof j);
    j.s = s;
    j.hc = hc;
    j.ents = ents;
    j.members = members;
    j.out = out;
    struct timespec t0, t1;
    for (size_t i = 0; i < n && !j.down && !pacs_fwd_worker_stopping(w); i++) {
        if (done[i]) {
            continue;
        }
        j.n_members = 0;
        for (size_t k = i; k < n; k++) {
            if (!done[k] && strcmp(out[k].study, out[i].study) == 0) {
                members[j.n_members++] = k;
                done[k] = 1;
            }
        }
        clock_gettime(CLOCK_MONOTONIC, &t0);
        send_study(&j, out[i].study);
        clock_gettime(CLOCK_MONOTONIC, &t1);
        uint64_t ms =
            (uint64_t)((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000);
        for (size_t k = 0; k < j.n_members; k++) {
            out[members[k]].ms = ms / j.n_members;
        }
    }
    /* A server that is down is not asked again for the rest of the group now; entries left
     * when the worker stops keep their state (UNTRIED). */
    for (size_t i = 0; j.down && i < n; i++) {
        if (!done[i]) {
            out[i].result = PACS_FWD_RETRY;
            snprintf(out[i].why, sizeof out[i].why, "%s", j.why);
        }
    }
    free(members);
    free(done);
    return j.down;
}

static void cancel_ehr(void *ctx)
{
    pacs_ehr_sender *s = ctx;
    pacs_http_clients_cancel(&s->dests);
}

pacs_err pacs_ehr_sender_new(const pacs_config *cfg, pacs_archive *archive, pacs_ehr_sender **out,
                             pacs_errinfo *ei)
{
    pacs_ehr_sender *s = calloc(1, sizeof *s);
    if (!s) {
        return pacs_errf(ei, PACS_ENOMEM, "out of memory");
    }
    s->f.cfg = cfg;
    s->f.archive = archive;
    s->dicomweb = pacs_config_str(cfg, "http.public_url");
    pacs_err err = pacs_fhir_ids_load(cfg, &s->f.ids, ei);
    if (err == PACS_OK) {
        err = pacs_http_clients_open(cfg, PACS_DEST_EHR, &s->dests, ei);
    }
    if (err != PACS_OK) {
        free(s);
        return err;
    }
    *out = s;
    return PACS_OK;
}

pacs_fwd_sender pacs_ehr_sender_face(pacs_ehr_sender *s)
{
    pacs_fwd_sender f = {"fhir", knows, send_ehr, cancel_ehr, s};
    return f;
}

void pacs_ehr_sender_free(pacs_ehr_sender *s)
{
    if (!s) {
        return;
    }
    pacs_http_clients_close(&s->dests);
    free(s);
}
