// SPDX-License-Identifier: MIT
/*
 * WADO-RS bulk data (PS3.18 10.4.1.1.5): GET .../instances/{sop}/bulkdata/{tag path}, the value
 * a BulkDataURI in the metadata names. Pixel Data goes to frames.h; any other value is found
 * by the archive's element walk (pacs_archive_bulkdata_find) and sent with pread, as stored
 * (big endian values swapped to little endian). Thread-safe: no shared state.
 */
#ifndef PACS_DICOMWEB_BULKDATA_H
#define PACS_DICOMWEB_BULKDATA_H

#include "http/http.h"
#include "dicomweb/route.h"

/** GET .../bulkdata/{tag path} (`rt->arg`: "00431029", "00540016/0/00181072", ...). */
void pacs_bulkdata_retrieve(pacs_http_req *r, const pacs_route *rt);

#endif
