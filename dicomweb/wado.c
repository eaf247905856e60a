// SPDX-License-Identifier: MIT
/*
 * WADO-RS retrieval of studies, series and instances (wado.h). As stored, the response is a body
 * of byte ranges of the stored objects (body.h), sized before anything is sent and streamed.
 * In another syntax, the instances that need it are converted or transcoded first, one after
 * the other, into the body's temporary file (never into memory), and the response is then
 * streamed the same way, so that its length and any failure are known before it starts.
 *
 * Load: a referral site pulls whole studies here. Thread-safe: every request owns its body.
 */
#include "dicomweb/wado.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dicomweb/body.h"
#include "dicomweb/negotiate.h"
#include "pacs/base/log.h"
#include "storage/delivery.h"
#include "storage/resolve.h"

#define MAX_INSTANCES 500000u

static const char *resource_name(const pacs_route *rt)
{
    return rt->sop ? "instance" : rt->series ? "series" : "study";
}

/* One part's headers: the first without the CRLF that ends the part before it. */
static void part_head(pacs_body *b, pacs_http_req *r, size_t i, const char *boundary,
                      const pacs_resolve_item *it, const char *ts)
{
    pacs_body_text(b,
                   "%s--%s\r\nContent-Type: application/dicom; transfer-syntax=%s\r\n"
                   "Content-Location: %s/studies/%s/series/%s/instances/%s\r\n\r\n",
                   i ? "\r\n" : "", boundary, ts, pacs_http_base_url(r), it->study_uid,
                   it->series_uid, it->sop_uid);
}

/* Every instance in its stored syntax: as stored, or coerced when reconciled. */
static void send_stored(pacs_http_req *r, const pacs_resolve_list *l)
{
    char boundary[40];
    pacs_http_boundary(boundary, sizeof boundary);
    pacs_body *b = pacs_body_new(r);
    if (!b) {
        pacs_http_send_error(r, 500, "out of memory");
        return;
    }
    pacs_errinfo ei;
    pacs_err err = PACS_OK;
    for (size_t i = 0; i < l->n && !pacs_body_failed(b) && err == PACS_OK; i++) {
        const pacs_resolve_item *it = &l->v[i];
        part_head(b, r, i, boundary, it, it->ts);
        pacs_delivery_plan plan;
        err = pacs_delivery_plan_for(it, it->ts, 0, &plan, &ei);
        if (err == PACS_OK) {
            err = pacs_body_instance(b, it, &plan, &ei);
        }
    }
    if (err != PACS_OK) {
        pacs_body_free(b);
        pacs_http_send_error(r, pacs_http_status_of(err), "%s", ei.msg);
        return;
    }
    pacs_body_text(b, "\r\n--%s--\r\n", boundary);
    char ct[160];
    snprintf(ct, sizeof ct, "multipart/related; type=\"application/dicom\"; boundary=%s", boundary);
    pacs_body_send(r, b, ct);
}

/* Every instance in `ts`: as stored where it is stored so, otherwise as its plan makes it; one
 * instance alone as a bare application/dicom when `bare`. */
static void send_in(pacs_http_req *r, const pacs_resolve_list *l, const char *ts, int bare)
{
    pacs_errinfo ei;
    pacs_err err = PACS_OK;
    char boundary[40];
    pacs_http_boundary(boundary, sizeof boundary);
    pacs_body *b = pacs_body_new(r);
    if (!b) {
        pacs_http_send_error(r, 500, "out of memory");
        return;
    }
    for (size_t i = 0; i < l->n && err == PACS_OK; i++) {
        const pacs_resolve_item *it = &l->v[i];
        pacs_delivery_plan plan;
        err = pacs_delivery_plan_for(it, ts, PACS_DELIVERY_LOSSY, &plan, &ei);
        if (err != PACS_OK) {
            break;
        }
        if (!bare) {
            part_head(b, r, i, boundary, it, ts);
        }
        err = pacs_body_instance(b, it, &plan, &ei);
    }
    if (err != PACS_OK) {
        pacs_body_free(b);
        pacs_log(PACS_LOG_WARN, "wado", "req=%lu transcode to %s failed: %s", pacs_http_id(r), ts,
                 ei.msg);
        pacs_http_send_error(r, pacs_http_status_of(err), "%s", ei.msg);
        return;
    }
    char ct[200];
    if (bare) {
        snprintf(ct, sizeof ct, "application/dicom; transfer-syntax=%s", ts);
    } else {
        pacs_body_text(b, "\r\n--%s--\r\n", boundary);
        snprintf(ct, sizeof ct,
                 "multipart/related; type=\"application/dicom\"; transfer-syntax=%s; boundary=%s",
                 ts, boundary);
    }
    pacs_body_send(r, b, ct);
}

void pacs_wado_retrieve(pacs_http_req *r, const pacs_route *rt)
{
    pacs_errinfo ei;
    pacs_media m[PACS_ACCEPT_MAX];
    size_t nm = 0;
    if (pacs_negotiate_read(r, m, &nm, &ei) != PACS_OK) {
        pacs_http_send_error(r, 400, "Accept: %s", ei.msg);
        return;
    }
    pacs_resolve_list l;
    pacs_err err = pacs_resolve_uids(pacs_http_archive(r), rt->study, rt->series, rt->sop, 0,
                                     MAX_INSTANCES, &l, &ei);
    if (err != PACS_OK) {
        pacs_http_send_error(r, pacs_http_status_of(err), "%s", ei.msg);
        return;
    }
    pacs_negotiate_how how = pacs_negotiate_instances(m, nm, &l, rt->sop != NULL);
    if (how == PACS_NEGOTIATE_SINGLE && l.v[0].coerce) {
        send_in(r, &l, l.v[0].ts, 1);
    } else if (how == PACS_NEGOTIATE_SINGLE) {
        char ct[128];
        snprintf(ct, sizeof ct, "application/dicom; transfer-syntax=%s", l.v[0].ts);
        pacs_body_send_object(r, l.v[0].object, l.v[0].size, ct);
    } else if (how == PACS_NEGOTIATE_MULTIPART) {
        send_stored(r, &l);
    } else if (nm > 0) {
        pacs_negotiate_how shape = PACS_NEGOTIATE_NONE;
        const char *ts = pacs_negotiate_instance_target(m, nm, rt->sop != NULL, &shape);
        if (ts) {
            send_in(r, &l, ts, shape == PACS_NEGOTIATE_SINGLE && l.n == 1);
        } else {
            pacs_http_send_error(r, 406,
                                 "nothing acceptable: name a transfer syntax this server "
                                 "writes (explicit or implicit VR little endian, RLE, JPEG, "
                                 "JPEG-LS, JPEG 2000, HTJ2K) or transfer-syntax=*");
        }
    } else {
        pacs_http_send_error(r, 406,
                             "nothing acceptable: the %s is stored as %s%s; ask for "
                             "multipart/related; type=\"application/dicom\"; transfer-syntax=* "
                             "(no transcoding was possible)",
                             resource_name(rt), l.v[0].ts, l.n > 1 ? " (and others)" : "");
    }
    pacs_resolve_list_free(&l);
}
