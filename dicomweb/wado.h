// SPDX-License-Identifier: MIT
/*
 * WADO-RS retrieval of studies, series and instances (PS3.18 10.4): multipart/related;
 * type="application/dicom" of every instance the resource holds, or one instance as a bare
 * application/dicom. The instances come from the archive's resolve step; each goes out as its
 * delivery plan (storage/delivery.h) has it: as stored whenever the client takes the stored
 * syntax (negotiate.h), otherwise converted or transcoded into the syntax it asked for. A
 * client that names no transfer syntax asks for Explicit VR Little Endian (PS3.18 Table
 * 8.7.3-2): instances stored compressed come back decompressed (a lossy one still says
 * LossyImageCompression 01); transfer-syntax=* takes whatever is stored.
 * The other WADO-RS resources have files of their own: metadata.h, frames.h, bulkdata.h,
 * rendered.h; WADO-URI is wado_uri.h.
 * Thread-safe: no shared state.
 */
#ifndef PACS_DICOMWEB_WADO_H
#define PACS_DICOMWEB_WADO_H

#include "http/http.h"
#include "dicomweb/route.h"

/** GET a study, series or instance (`rt->kind` PACS_ROUTE_RESOURCE). */
void pacs_wado_retrieve(pacs_http_req *r, const pacs_route *rt);

#endif
