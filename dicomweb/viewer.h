// SPDX-License-Identifier: MIT
/*
 * The web viewer and the share pages, served beside DICOMweb from the same origin:
 *
 *   /viewer, /viewer/...   OHIF's prebuilt app (scripts/viewer.sh installs it from npm), as
 *                          static files from one folder, with an app-config.js that pacsd
 *                          writes at start-up for its own DICOMweb root (same origin);
 *   /share/{token}         the page of a share link (storage/share.h, share_page.c), made for
 *                          a phone: the patient, each study's date, description, report and
 *                          series, a slice viewer of its own on /rendered, and a cookie that
 *                          lets OHIF read the shared studies, one tap away.
 *
 * Static files get their content type, an ETag, Cache-Control (a year for the content-hashed
 * bundles, revalidation for the rest) and their precompressed .gz twin when the browser accepts
 * gzip; paths that name no file fall back to index.html (OHIF's client-side routes) unless they
 * look like a file. No path can leave the folder: segments are decoded one by one and any
 * empty, dot or dot-dot segment, or one that hides a '/' or '\', is refused.
 *
 * Thread-safety: pacs_viewer_open and _close run once at server start and stop; everything
 * between only reads the viewer and may run on every HTTP thread at once.
 */
#ifndef PACS_DICOMWEB_VIEWER_H
#define PACS_DICOMWEB_VIEWER_H

#include <stddef.h>

#include "http/http.h"
#include "pacs/base/config.h"
#include "pacs/base/err.h"

typedef struct pacs_viewer pacs_viewer;

/** The URL path the viewer is served under (OHIF's routerBasename). */
#define PACS_VIEWER_PATH "/viewer"

/**
 * Finds the viewer's folder (`viewer.root`, or by default `../viewer` and `../share/pacsd/viewer`
 * beside the running binary) and writes the app configuration for `cfg`'s DICOMweb prefix.
 * With viewer.oidc.* the configuration also has OHIF sign users in at that identity provider.
 * A missing viewer is not an error: it is logged (WARN) and /viewer then answers 503 with a
 * page saying so. Fails (PACS_EINVAL, naming the setting) on a bad viewer.frames or
 * viewer.oidc.* (OIDC without auth.jwt_keys and auth.jwt_issuer to accept its tokens), and
 * when out of memory.
 */
pacs_err pacs_viewer_open(const pacs_config *cfg, pacs_viewer **out, pacs_errinfo *ei);

/** Frees the viewer. NULL is accepted. */
void pacs_viewer_close(pacs_viewer *v);

/** True when the viewer's folder was found (for logs and tests). */
int pacs_viewer_installed(const pacs_viewer *v);

/** True when the viewer signs users in itself at an OpenID Connect provider
 *  (viewer.oidc.authority): its pages then need no credential, OHIF asks for one. */
int pacs_viewer_oidc(const pacs_viewer *v);

/** True when `path` (undecoded, without its query) is one this module answers: /viewer,
 *  /viewer/..., /share/... */
int pacs_viewer_owns(const char *path, size_t len);

/** True when `path` (undecoded, without its query) is one of the viewer's pages (/viewer and
 *  the app's routes: the study list, a study), which need a signed-in user when http.auth =
 *  required; its files (scripts, styles, fonts) are public. */
int pacs_viewer_is_page(const char *path, size_t len);

/** How much of such a path may be written to logs: "/share/{token}" is logged as "/share", so
 *  that a share token never reaches a log line or the audit trail. */
size_t pacs_viewer_loggable(const char *path, size_t len);

/**
 * Answers a request whose path pacs_viewer_owns: `path` is undecoded and without its query,
 * `query` is the raw text after '?' (or NULL). Answers exactly once.
 */
void pacs_viewer_serve(pacs_viewer *v, pacs_http_req *r, const char *path, size_t len,
                       const char *query);

#endif
