// SPDX-License-Identifier: MIT
/* WADO-URI (wado_uri.h): parameters checked, the object resolved, then rendered, or sent as its
 * delivery plan has it (storage/delivery.h), like every retrieval. */
#include "dicomweb/wado_uri.h"

#include <string.h>

#include "dicomweb/body.h"
#include "http/media.h"
#include "dicomweb/rendered.h"
#include "storage/delivery.h"
#include "storage/resolve.h"

void pacs_wado_uri_retrieve(pacs_http_req *r, const pacs_route *route)
{
    (void)route; /* WADO-URI names its object in the query, not the path */
    const pacs_params *pp = pacs_http_params(r);
    const char *type = pacs_params_get(pp, "requestType");
    const char *st = pacs_params_get(pp, "studyUID"), *se = pacs_params_get(pp, "seriesUID"),
               *sop = pacs_params_get(pp, "objectUID");
    const char *ct = pacs_params_get(pp, "contentType");
    const char *ts = pacs_params_get(pp, "transferSyntax");
    if (!type || strcmp(type, "WADO") != 0) {
        pacs_http_send_error(r, 400, "requestType=WADO is required");
        return;
    }
    if (!st || !se || !sop || !pacs_uid_valid(st) || !pacs_uid_valid(se) || !pacs_uid_valid(sop)) {
        pacs_http_send_error(r, 400, "studyUID, seriesUID and objectUID must be valid UIDs");
        return;
    }
    /* contentType may list several types; application/dicom is what can be sent as stored. */
    int dicom = 0, listed = ct && ct[0];
    if (listed) {
        pacs_media m[PACS_ACCEPT_MAX];
        size_t nm = 0;
        pacs_errinfo ei;
        if (pacs_media_accept_parse(ct, m, PACS_ACCEPT_MAX, &nm, &ei) != PACS_OK) {
            pacs_http_send_error(r, 400, "contentType: %s", ei.msg);
            return;
        }
        for (size_t i = 0; i < nm; i++) {
            dicom |= strcmp(m[i].type, "application/dicom") == 0 || strcmp(m[i].type, "*/*") == 0;
        }
    }
    if (!dicom) {
        pacs_rendered_uri(r, st, se, sop); /* image/jpeg (the default) or image/png */
        return;
    }
    pacs_resolve_list l;
    pacs_errinfo ei;
    pacs_err err = pacs_resolve_uids(pacs_http_archive(r), st, se, sop, 0, 0, &l, &ei);
    if (err != PACS_OK) {
        pacs_http_send_error(r, pacs_http_status_of(err), "%s", ei.msg);
        return;
    }
    /* The one retrieve path: as stored, or as the delivery plan makes it (another syntax when
     * transferSyntax names one; the identity the index serves for a reconciled instance). */
    const pacs_resolve_item *it = &l.v[0];
    const char *target = ts && ts[0] && strcmp(ts, "*") != 0 ? ts : it->ts;
    pacs_delivery_plan plan;
    err = pacs_delivery_plan_for(it, target, PACS_DELIVERY_LOSSY, &plan, &ei);
    if (err != PACS_OK) {
        pacs_http_send_error(r, 406, "%s", ei.msg);
        pacs_resolve_list_free(&l);
        return;
    }
    /* PS3.18 8.7.3.5.2: no transfer-syntax parameter in URI service responses. */
    if (plan.kind == PACS_DELIVERY_AS_STORED) {
        pacs_body_send_object(r, it->object, it->size, "application/dicom");
        pacs_resolve_list_free(&l);
        return;
    }
    pacs_body *b = pacs_body_new(r);
    err = b ? pacs_body_instance(b, it, &plan, &ei) : pacs_errf(&ei, PACS_ENOMEM, "out of memory");
    if (err != PACS_OK) {
        pacs_body_free(b);
        pacs_http_send_error(r, pacs_http_status_of(err), "%s", ei.msg);
    } else {
        pacs_body_send(r, b, "application/dicom");
    }
    pacs_resolve_list_free(&l);
}
