// SPDX-License-Identifier: MIT
/*
 * The share page, /share/{token} (share_page.c), shared inside the viewer module only: what a
 * patient or a referring doctor sees on opening a share link or scanning its QR code.
 * Thread-safety: as viewer.h (any HTTP thread, read-only state).
 */
#ifndef PACS_DICOMWEB_SHARE_PAGE_H
#define PACS_DICOMWEB_SHARE_PAGE_H

#include <stddef.h>

#include "http/http.h"
#include "storage/share.h"

/**
 * Answers GET /share{rest}: `rest` is the undecoded path after "/share" ("/TOKEN" or
 * "/TOKEN/"). `shares` may be NULL (the store could not be opened: 503). A good token (of a
 * study, or of a patient's studies) gets the page and the cookie auth.h accepts as a share
 * token (pacs_auth_cookie); a refused one, or one whose studies are all gone, gets the "not
 * valid" page and the cookie cleared.
 */
void pacs_viewer__share_page(pacs_http_req *r, pacs_shares *shares, const char *rest, size_t len);

#endif
