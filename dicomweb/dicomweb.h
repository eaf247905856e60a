// SPDX-License-Identifier: MIT
/*
 * The DICOMweb gateway as pacsd starts it: the HTTP server (httpd.h) on http.bind:http.port,
 * handing every request to the router (router.h), which answers it or calls its handler:
 * QIDO-RS, WADO-RS, WADO-URI, STOW-RS, DELETE, the shares API, the viewer and share pages.
 * Other HTTP protocols (FHIR) share the server through a mount table (http/mount.h) whose
 * fallback is the router. Thread-safety: start and stop from one thread.
 */
#ifndef PACS_DICOMWEB_DICOMWEB_H
#define PACS_DICOMWEB_DICOMWEB_H

#include "http/mount.h"
#include "pacs/base/config.h"
#include "pacs/base/err.h"
#include "storage/archive.h"

typedef struct pacs_dicomweb_server pacs_dicomweb_server;

/**
 * Starts serving on http.bind:http.port (0 picks a free port, written to `*port`). `mounts`
 * (NULL: none) hands the paths of other protocols to them; its fallback is set to the router
 * here, and it is borrowed, as are `cfg` and `archive`, until pacs_dicomweb_stop. PACS_EINVAL for a
 * bad setting (such as a prefix that does not start with '/'), PACS_ENET when the port cannot be
 * bound; nothing is left running on failure.
 */
pacs_err pacs_dicomweb_start(const pacs_config *cfg, pacs_archive *archive,
                             pacs_http_mounts *mounts, pacs_dicomweb_server **out, int *port,
                             pacs_errinfo *ei);

/** Stops accepting, closes every connection (aborting responses in progress) and frees the
 *  server. NULL is accepted. */
void pacs_dicomweb_stop(pacs_dicomweb_server *s);

#endif
