// SPDX-License-Identifier: MIT
/*
 * DELETE on a study, series or instance URL removes it through the archive: 204 when done,
 * 404 when there is no such resource, and 403 unless `dicomweb.delete_allowed` is set.
 * Thread-safe: no shared state.
 */
#ifndef PACS_DICOMWEB_DELETE_H
#define PACS_DICOMWEB_DELETE_H

#include "http/http.h"
#include "dicomweb/route.h"

/** DELETE a study, series or instance (`rt->kind` PACS_ROUTE_RESOURCE). */
void pacs_delete_resource(pacs_http_req *r, const pacs_route *rt);

#endif
