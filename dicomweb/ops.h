// SPDX-License-Identifier: MIT
/*
 * The operations endpoints, served at the root beside DICOMweb (outside http.prefix), for the
 * people and programs that run the server rather than look at images:
 *   GET /metrics  every metric (pacs/base/metrics.h) in the Prometheus text format 0.0.4
 *   GET /healthz  200 "ok" while the process answers HTTP at all (liveness)
 *   GET /readyz   200 "ready" when the index answers, the data folder takes a write and free
 *                 space is above storage.free_min; 503 naming the first check that failed
 * They need a credential with the metrics scope only when http.auth = required and
 * http.ops_auth is on (router.c checks it before calling them). Answers are never cached.
 *
 * Load: a scrape every 15-60 s and a probe every few seconds; /metrics renders into one
 * buffer and runs the archive's collectors (storage/health.h). Thread-safety: handlers run on
 * the request's thread and share only the metrics registry and the archive.
 */
#ifndef PACS_DICOMWEB_OPS_H
#define PACS_DICOMWEB_OPS_H

#include "http/http.h"
#include "dicomweb/route.h"

/** GET /metrics: text/plain; version=0.0.4 (gzip when the client accepts it). */
void pacs_ops_metrics(pacs_http_req *r, const pacs_route *rt);

/** GET /healthz: 200 "ok". */
void pacs_ops_healthz(pacs_http_req *r, const pacs_route *rt);

/** GET /readyz: 200 "ready", or 503 with the reason (storage/health.h). */
void pacs_ops_readyz(pacs_http_req *r, const pacs_route *rt);

#endif
