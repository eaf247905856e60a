// SPDX-License-Identifier: MIT
/* WADO-RS bulk data (bulkdata.h): one range of the stored object, in a body (body.h). */
#include "dicomweb/bulkdata.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "dicomweb/body.h"
#include "dicomweb/frames.h"
#include "dicomweb/negotiate.h"
#include "storage/resolve.h"

/* The word size a big endian value of `vr` is swapped by (0: bytes). */
static unsigned vr_word(const char *vr)
{
    static const struct {
        const char *vr;
        unsigned w;
    } words[] = {{"OW", 2}, {"US", 2}, {"SS", 2}, {"OL", 4}, {"OF", 4}, {"UL", 4}, {"SL", 4},
                 {"FL", 4}, {"OD", 8}, {"FD", 8}, {"OV", 8}, {"SV", 8}, {"UV", 8}};
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
        if (strcmp(words[i].vr, vr) == 0) {
            return words[i].w;
        }
    }
    return 0;
}

void pacs_bulkdata_retrieve(pacs_http_req *r, const pacs_route *rt)
{
    if (strcasecmp(rt->arg, "7FE00010") == 0) {
        /* Top-level Pixel Data: native as one value, encapsulated as its frames. */
        pacs_frames_pixel_data(r, rt);
        return;
    }
    pacs_errinfo ei;
    pacs_media m[PACS_ACCEPT_MAX];
    size_t nm = 0;
    if (pacs_negotiate_read(r, m, &nm, &ei) != PACS_OK) {
        pacs_http_send_error(r, 400, "Accept: %s", ei.msg);
        return;
    }
    pacs_negotiate_how how = pacs_negotiate_bulk(m, nm);
    if (how == PACS_NEGOTIATE_NONE) {
        pacs_http_send_error(r, 406, "bulk data is served as application/octet-stream");
        return;
    }
    pacs_resolve_list l;
    pacs_err err =
        pacs_resolve_uids(pacs_http_archive(r), rt->study, rt->series, rt->sop, 0, 0, &l, &ei);
    if (err != PACS_OK) {
        pacs_http_send_error(r, pacs_http_status_of(err), "%s", ei.msg);
        return;
    }
    pacs_bulk_range br;
    err = pacs_archive_bulkdata_find(pacs_http_archive(r), l.v[0].object, rt->arg, &br, &ei);
    if (err != PACS_OK) {
        pacs_resolve_list_free(&l);
        pacs_http_send_error(r, err == PACS_ECORRUPT ? 500 : pacs_http_status_of(err), "%s",
                             ei.msg);
        return;
    }
    pacs_body *b = pacs_body_new(r);
    if (!b) {
        pacs_resolve_list_free(&l);
        pacs_http_send_error(r, 500, "out of memory");
        return;
    }
    char boundary[40];
    pacs_http_boundary(boundary, sizeof boundary);
    unsigned swap = br.bigendian ? vr_word(br.vr) : 0;
    if (how == PACS_NEGOTIATE_MULTIPART) {
        pacs_body_text(b, "--%s\r\nContent-Type: application/octet-stream\r\n\r\n", boundary);
    }
    pacs_body_object(b, l.v[0].object, br.offset, br.length, swap);
    pacs_resolve_list_free(&l);
    if (how == PACS_NEGOTIATE_MULTIPART) {
        pacs_body_text(b, "\r\n--%s--\r\n", boundary);
        char ct[160];
        snprintf(ct, sizeof ct, "multipart/related; type=\"application/octet-stream\"; boundary=%s",
                 boundary);
        pacs_body_send(r, b, ct);
    } else {
        pacs_body_send(r, b, "application/octet-stream");
    }
}
