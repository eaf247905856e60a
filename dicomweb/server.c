// SPDX-License-Identifier: MIT
/*
 * The DICOMweb gateway (dicomweb.h): the router, then the HTTP server that hands it every
 * request. The router is made first, so that a bad setting is refused before the port opens,
 * and freed last, after the server's threads have stopped calling it.
 *
 * Load: none past start-up. Thread-safety: start and stop from one thread.
 */
#include "dicomweb/dicomweb.h"

#include <stdlib.h>

#include "dicomweb/router.h"
#include "http/httpd.h"

struct pacs_dicomweb_server {
    pacs_router *router;
    pacs_httpd *httpd;
};

static void dispatch(void *ctx, pacs_http_req *r)
{
    pacs_router_dispatch(ctx, r);
}

pacs_err pacs_dicomweb_start(const pacs_config *cfg, pacs_archive *archive,
                             pacs_http_mounts *mounts, pacs_dicomweb_server **out, int *port,
                             pacs_errinfo *ei)
{
    pacs_dicomweb_server *s = calloc(1, sizeof *s);
    if (!s) {
        return pacs_errf(ei, PACS_ENOMEM, "out of memory");
    }
    pacs_err err = pacs_router_open(cfg, archive, &s->router, ei);
    if (err == PACS_OK && mounts) {
        mounts->fallback = dispatch;
        mounts->fallback_ctx = s->router;
        err =
            pacs_httpd_start(cfg, archive, pacs_http_mounts_dispatch, mounts, &s->httpd, port, ei);
    } else if (err == PACS_OK) {
        err = pacs_httpd_start(cfg, archive, dispatch, s->router, &s->httpd, port, ei);
    }
    if (err != PACS_OK) {
        pacs_dicomweb_stop(s);
        return err;
    }
    pacs_router_listening(s->router, *port);
    *out = s;
    return PACS_OK;
}

void pacs_dicomweb_stop(pacs_dicomweb_server *s)
{
    if (!s) {
        return;
    }
    pacs_httpd_stop(s->httpd);
    pacs_router_close(s->router);
    free(s);
}
