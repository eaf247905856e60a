// SPDX-License-Identifier: MIT
/*
 * WADO-URI (PS3.18 9): GET {prefix}/wado?requestType=WADO&studyUID=..&seriesUID=..&objectUID=..
 * One object as application/dicom, as the delivery plan (storage/delivery.h) makes it: as stored,
 * in the syntax transferSyntax names (406 when it cannot be made), and with the identity the
 * index serves for an instance reconciled to an order; or a rendered image (image/jpeg, the
 * default, or image/png, drawn by rendered.h). Thread-safe: no shared state.
 */
#ifndef PACS_DICOMWEB_WADO_URI_H
#define PACS_DICOMWEB_WADO_URI_H

#include "http/http.h"
#include "dicomweb/route.h"

/** GET {prefix}/wado?requestType=WADO&studyUID=..&seriesUID=..&objectUID=..&contentType=.. */
void pacs_wado_uri_retrieve(pacs_http_req *r, const pacs_route *route);

#endif
