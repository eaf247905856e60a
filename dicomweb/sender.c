// SPDX-License-Identifier: MIT
/*
 * STOW-RS to a DICOMweb server (sender.h). A group of due entries is cut into batches of at
 * most `batch` instances and about `batch_mb` megabytes; each batch is one POST whose
 * multipart body curl reads part by part from the delivery streams (stored objects, or
 * temporary transcoded copies), so no instance is held in memory. The answer is read into a
 * capped buffer and its FailedSOPSequence decides, instance by instance, what is done.
 */
#include "dicomweb/sender.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "http/client.h"
#include "pacs/base/log.h"
#include "storage/delivery.h"
#include "storage/resolve.h"

#define WHY_CAP 200 /* a batch's failure, as pacs_fwd_outcome.why holds it */

struct pacs_web_sender {
    const pacs_config *cfg;
    pacs_archive *archive;
    pacs_http_clients dests; /* one per web.* destination */
};

/* ---- one batch's body: the parts, read by curl in order ---- */

typedef struct part {
    size_t entry; /* index in the group */
    pacs_delivery_stream stream;
    char head[256];
    size_t head_len;
} part;

typedef struct body {
    part *parts;
    size_t n;
    char boundary[40];
    char tail[64];
    size_t tail_len;
    size_t cur;      /* the part being read; n: the tail */
    uint64_t offset; /* within the current piece: head, then stream, then "\r\n" */
    int failed;
} body;

static size_t read_body(char *buf, size_t size, size_t nmemb, void *ctx)
{
    body *b = ctx;
    size_t cap = size * nmemb, out = 0;
    while (out < cap && b->cur <= b->n) {
        if (b->cur == b->n) {
            size_t k = b->tail_len - (size_t)b->offset;
            k = k < cap - out ? k : cap - out;
            memcpy(buf + out, b->tail + b->offset, k);
            out += k;
            b->offset += k;
            if (b->offset == b->tail_len) {
                b->cur++;
            }
            continue;
        }
        part *p = &b->parts[b->cur];
        uint64_t total = p->head_len + p->stream.size + 2;
        if (b->offset < p->head_len) {
            size_t k = p->head_len - (size_t)b->offset;
            k = k < cap - out ? k : cap - out;
            memcpy(buf + out, p->head + b->offset, k);
            out += k;
            b->offset += k;
        } else if (b->offset < p->head_len + p->stream.size) {
            uint64_t at = b->offset - p->head_len;
            uint64_t left = p->stream.size - at;
            size_t k = left < cap - out ? (size_t)left : cap - out;
            ssize_t r = pread(p->stream.fd, buf + out, k, (off_t)at);
            if (r <= 0) {
                b->failed = 1;
                return CURL_READFUNC_ABORT;
            }
            out += (size_t)r;
            b->offset += (uint64_t)r;
        } else {
            static const char crlf[] = "\r\n"; /* ends the part's body */
            size_t at = (size_t)(b->offset - p->head_len - p->stream.size);
            size_t k = 2 - at < cap - out ? 2 - at : cap - out;
            memcpy(buf + out, crlf + at, k);
            out += k;
            b->offset += k;
        }
        if (b->offset == total) {
            b->cur++;
            b->offset = 0;
        }
    }
    return out;
}

/* ---- choosing what each instance goes as ---- */

static int in_list(const char *list, const char *uid)
{
    size_t n = strlen(uid);
    for (const char *p = list; *p;) {
        const char *c = strchr(p, ',');
        size_t k = c ? (size_t)(c - p) : strlen(p);
        if (k == n && strncmp(p, uid, n) == 0) {
            return 1;
        }
        p = c ? c + 1 : p + k;
    }
    return 0;
}

/* Uncompressed syntaxes: Implicit and Explicit VR Little Endian, Deflated, Big Endian. */
static int uncompressed(const char *ts)
{
    return strcmp(ts, "1.2.840.10008.1.2") == 0 || strcmp(ts, "1.2.840.10008.1.2.1") == 0 ||
           strcmp(ts, "1.2.840.10008.1.2.1.99") == 0 || strcmp(ts, "1.2.840.10008.1.2.2") == 0;
}

/* Opens `it` as the server should get it: as stored when no accept list is set, or when it is
 * stored compressed in a syntax the server takes; else in the first accepted syntax (in the
 * list's order of preference) the image can be made into, so that an uncompressed image goes
 * JPEG-LS when the list puts jpegls before explicit. */
static pacs_err open_for(pacs_web_sender *s, const pacs_web_dest *d, const pacs_resolve_item *it,
                         pacs_delivery_stream *out, pacs_errinfo *ei)
{
    pacs_delivery_plan plan;
    if (!d->accept[0] || (!uncompressed(it->ts) && in_list(d->accept, it->ts))) {
        pacs_err err = pacs_delivery_plan_for(it, it->ts, 0, &plan, ei);
        return err == PACS_OK ? pacs_delivery_open(s->archive, it, &plan, out, ei) : err;
    }
    pacs_err err =
        pacs_errf(ei, PACS_EUNSUPPORTED, "no syntax of web.%s's accept list fits", d->name);
    char list[sizeof d->accept];
    snprintf(list, sizeof list, "%s", d->accept);
    char *save = NULL;
    for (char *ts = strtok_r(list, ",", &save); ts; ts = strtok_r(NULL, ",", &save)) {
        err = pacs_delivery_plan_for(it, ts, 0, &plan, ei);
        if (err == PACS_OK) {
            err = pacs_delivery_open(s->archive, it, &plan, out, ei);
        }
        if (err != PACS_EUNSUPPORTED && err != PACS_EBADDATA) {
            return err; /* done, or a failure no other syntax avoids */
        }
    }
    return err;
}

/* ---- the answer ---- */

/* The SOP Instance UIDs of the answer's FailedSOPSequence that are among the batch's: their
 * entries are left for a retry with the failure reason. Returns how many it marked. */
static size_t mark_failed(const char *json, const pacs_fwd_entry *ents, const body *b,
                          pacs_fwd_outcome *out)
{
    json_t *root = json ? json_loads(json, 0, NULL) : NULL;
    json_t *seq = json_object_get(json_object_get(root, "00081198"), "Value");
    size_t marked = 0, i;
    json_t *item;
    json_array_foreach(seq, i, item)
    {
        json_t *uid =
            json_array_get(json_object_get(json_object_get(item, "00081155"), "Value"), 0);
        json_t *why =
            json_array_get(json_object_get(json_object_get(item, "00081197"), "Value"), 0);
        for (size_t k = 0; json_is_string(uid) && k < b->n; k++) {
            pacs_fwd_outcome *o = &out[b->parts[k].entry];
            if (strcmp(ents[b->parts[k].entry].sop_uid, json_string_value(uid)) == 0 &&
                o->result == PACS_FWD_SENT) {
                o->result = PACS_FWD_RETRY;
                snprintf(o->why, sizeof o->why, "the server refused it (FailureReason %lld)",
                         json_is_integer(why) ? (long long)json_integer_value(why) : 0LL);
                marked++;
            }
        }
    }
    json_decref(root);
    return marked;
}

/* Posts one batch and writes its entries' outcomes. Returns 1 when the server is down (no
 * HTTP answer, 5xx, or the key refused), with the reason in `why`. */
static int post_batch(pacs_http_client *hc, const pacs_fwd_entry *ents, body *b,
                      pacs_fwd_outcome *out, char why[WHY_CAP])
{
    const pacs_web_dest *d = pacs_http_client_dest(hc);
    uint64_t length = 0;
    for (size_t k = 0; k < b->n; k++) {
        length += b->parts[k].head_len + b->parts[k].stream.size + 2;
    }
    length += b->tail_len;
    char url[600], ctype[160];
    snprintf(url, sizeof url, "%s/studies", d->url);
    snprintf(ctype, sizeof ctype,
             "Content-Type: multipart/related; type=\"application/dicom\"; boundary=%s",
             b->boundary);
    struct curl_slist *hdrs = curl_slist_append(NULL, ctype);
    hdrs = hdrs ? curl_slist_append(hdrs, "Accept: application/dicom+json") : NULL;
    pacs_http_answer resp = {NULL, 0, 0};
    CURL *c = hdrs ? pacs_http_client_easy(hc, url, &hdrs, &resp) : NULL;
    CURLcode rc = CURLE_OUT_OF_MEMORY;
    long status = 0;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (c) {
        curl_easy_setopt(c, CURLOPT_POST, 1L);
        curl_easy_setopt(c, CURLOPT_READFUNCTION, read_body);
        curl_easy_setopt(c, CURLOPT_READDATA, b);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)length);
        rc = curl_easy_perform(c);
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    uint64_t ms = (uint64_t)((t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000);
    int ok = rc == CURLE_OK && (status == 200 || status == 202);
    int down = pacs_http_client_judge(hc, rc, status, why, WHY_CAP);
    size_t refused = 0;
    for (size_t k = 0; k < b->n; k++) {
        pacs_fwd_outcome *o = &out[b->parts[k].entry];
        if (ok) {
            o->result = PACS_FWD_SENT;
            o->why[0] = '\0';
            o->bytes = b->parts[k].head_len + b->parts[k].stream.size + 2;
            o->ms = length ? ms * o->bytes / length : 0;
        } else {
            o->result = PACS_FWD_RETRY;
            snprintf(o->why, sizeof o->why, "%s", why);
        }
    }
    if (rc == CURLE_OK && status == 202) {
        refused = mark_failed(resp.too_big ? NULL : resp.data, ents, b, out);
    }
    if (!ok || refused) {
        pacs_log(pacs_http_client_refused(status) ? PACS_LOG_ERROR : PACS_LOG_WARN, "forward",
                 "dest=%s instances=%zu refused=%zu: %s", d->name, b->n,
                 status == 202 ? refused : b->n, why);
    } else {
        pacs_log(PACS_LOG_DEBUG, "forward", "dest=%s stow instances=%zu bytes=%llu ms=%llu",
                 d->name, b->n, (unsigned long long)length, (unsigned long long)ms);
    }
    pacs_http_answer_free(&resp);
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(c);
    return down;
}

static void new_boundary(body *b)
{
    unsigned char r[12];
    if (getrandom(r, sizeof r, 0) != (ssize_t)sizeof r) {
        memset(r, 0x5a, sizeof r);
    }
    int n = snprintf(b->boundary, sizeof b->boundary, "pacsd-");
    for (size_t i = 0; i < sizeof r; i++) {
        n += snprintf(b->boundary + n, sizeof b->boundary - (size_t)n, "%02x", r[i]);
    }
    b->tail_len = (size_t)snprintf(b->tail, sizeof b->tail, "--%s--\r\n", b->boundary);
}

static void close_parts(body *b)
{
    for (size_t k = 0; k < b->n; k++) {
        pacs_delivery_stream_close(&b->parts[k].stream);
    }
    b->n = 0;
}

/* Opens the entry's instance as a part of `b`, or writes its outcome when it cannot go. */
static void add_part(pacs_web_sender *s, const pacs_web_dest *d, const pacs_fwd_entry *e,
                     size_t entry, body *b, pacs_fwd_outcome *o)
{
    pacs_resolve_list rl;
    pacs_errinfo ei;
    pacs_errinfo_clear(&ei);
    pacs_err err = pacs_resolve_uids(s->archive, NULL, NULL, e->sop_uid, 0, 1, &rl, &ei);
    if (err == PACS_ENOTFOUND) {
        o->result = PACS_FWD_GIVE_UP;
        snprintf(o->why, sizeof o->why, "the instance is no longer stored");
        return;
    }
    if (err != PACS_OK) {
        o->result = PACS_FWD_RETRY;
        snprintf(o->why, sizeof o->why, "%.190s", ei.msg);
        return;
    }
    snprintf(o->study, sizeof o->study, "%s", rl.v[0].study_uid);
    part *p = &b->parts[b->n];
    memset(p, 0, sizeof *p);
    err = open_for(s, d, &rl.v[0], &p->stream, &ei);
    pacs_resolve_list_free(&rl);
    if (err != PACS_OK) {
        /* An image no accepted syntax can hold stays failed and listed; a read error is
         * retried. */
        o->result =
            err == PACS_EUNSUPPORTED || err == PACS_EBADDATA ? PACS_FWD_GIVE_UP : PACS_FWD_RETRY;
        snprintf(o->why, sizeof o->why, "%.190s", ei.msg);
        pacs_log(PACS_LOG_WARN, "forward", "dest=%s sop=%s cannot be sent: %s", d->name, e->sop_uid,
                 ei.msg);
        return;
    }
    p->entry = entry;
    p->head_len = (size_t)snprintf(p->head, sizeof p->head,
                                   "--%s\r\nContent-Type: application/dicom; "
                                   "transfer-syntax=%s\r\n\r\n",
                                   b->boundary, p->stream.ts);
    b->n++;
}

/* ---- the sender's face ---- */

static int knows(void *ctx, const char *dest)
{
    const pacs_web_sender *s = ctx;
    return pacs_http_clients_find(&s->dests, dest) != NULL;
}

static int send_web(void *ctx, pacs_fwd_worker *w, const pacs_fwd_entry *ents, size_t n,
                    pacs_fwd_outcome *out)
{
    pacs_web_sender *s = ctx;
    pacs_http_client *hc = pacs_http_clients_find(&s->dests, ents[0].dest);
    if (!hc) {
        return 1; /* the worker asked knows() first */
    }
    const pacs_web_dest *d = pacs_http_client_dest(hc);
    size_t cap = (size_t)d->batch;
    body b;
    memset(&b, 0, sizeof b);
    b.parts = calloc(cap, sizeof *b.parts);
    if (!b.parts) {
        for (size_t i = 0; i < n; i++) {
            out[i].result = PACS_FWD_RETRY;
            snprintf(out[i].why, sizeof out[i].why, "out of memory");
        }
        return 0;
    }
    int down = 0;
    char why[WHY_CAP] = "";
    size_t i = 0;
    while (i < n && !down && !pacs_fwd_worker_stopping(w)) {
        new_boundary(&b);
        uint64_t bytes = 0;
        while (i < n && b.n < cap && bytes < (uint64_t)d->batch_bytes) {
            add_part(s, d, &ents[i], i, &b, &out[i]);
            if (b.n > 0 && b.parts[b.n - 1].entry == i) {
                bytes += b.parts[b.n - 1].stream.size;
            }
            i++;
        }
        if (b.n > 0) {
            b.cur = 0;
            b.offset = 0;
            b.failed = 0;
            down = post_batch(hc, ents, &b, out, why);
        }
        close_parts(&b);
    }
    /* A server that is down is not asked again for the rest of the group now. */
    for (; down && i < n; i++) {
        out[i].result = PACS_FWD_RETRY;
        snprintf(out[i].why, sizeof out[i].why, "%s", why);
    }
    free(b.parts);
    return down;
}

static void cancel_web(void *ctx)
{
    pacs_web_sender *s = ctx;
    pacs_http_clients_cancel(&s->dests);
}

pacs_err pacs_web_sender_new(const pacs_config *cfg, pacs_archive *archive, pacs_web_sender **out,
                             pacs_errinfo *ei)
{
    pacs_web_sender *s = calloc(1, sizeof *s);
    if (!s) {
        return pacs_errf(ei, PACS_ENOMEM, "out of memory");
    }
    s->cfg = cfg;
    s->archive = archive;
    pacs_err err = pacs_http_clients_open(cfg, PACS_DEST_STOW, &s->dests, ei);
    if (err != PACS_OK) {
        free(s);
        return err;
    }
    *out = s;
    return PACS_OK;
}

pacs_fwd_sender pacs_web_sender_face(pacs_web_sender *s)
{
    pacs_fwd_sender f = {"dicomweb", knows, send_web, cancel_web, s};
    return f;
}

void pacs_web_sender_free(pacs_web_sender *s)
{
    if (!s) {
        return;
    }
    pacs_http_clients_close(&s->dests);
    free(s);
}
