// SPDX-License-Identifier: MIT
/*
 * The operations endpoints (ops.h): the metrics registry rendered as one text body, a liveness
 * answer and the archive's readiness. Load: light and rare (scrapes and probes). Thread-safe:
 * no state of its own.
 */
#include "dicomweb/ops.h"

#include "pacs/base/log.h"
#include "pacs/base/metrics.h"
#include "storage/health.h"

#define METRICS_MAX (8u << 20)

static void send_text(pacs_http_req *r, unsigned status, const char *text)
{
    pacs_buf b;
    pacs_buf_init(&b, 1024);
    pacs_buf_puts(&b, text);
    pacs_http_add_header(r, "Cache-Control", "no-store");
    pacs_http_send_buf(r, status, "text/plain; charset=utf-8", &b, 0);
}

void pacs_ops_metrics(pacs_http_req *r, const pacs_route *rt)
{
    (void)rt;
    pacs_buf b;
    pacs_buf_init(&b, METRICS_MAX);
    if (pacs_metrics_render(&b) != PACS_OK) {
        pacs_buf_free(&b);
        pacs_http_send_error(r, 500, "the metrics do not fit in %u MiB", METRICS_MAX >> 20);
        return;
    }
    pacs_http_add_header(r, "Cache-Control", "no-store");
    /* Compressible like JSON: gzip when the scraper accepts it (Prometheus does). */
    pacs_http_send_buf(r, 200, "text/plain; version=0.0.4; charset=utf-8", &b, 1);
}

void pacs_ops_healthz(pacs_http_req *r, const pacs_route *rt)
{
    (void)rt;
    send_text(r, 200, "ok\n");
}

void pacs_ops_readyz(pacs_http_req *r, const pacs_route *rt)
{
    (void)rt;
    pacs_errinfo ei;
    if (pacs_health_ready(pacs_http_archive(r), &ei) != PACS_OK) {
        pacs_log(PACS_LOG_INFO, "http", "req=%lu not ready: %s", pacs_http_id(r), ei.msg);
        pacs_buf b;
        pacs_buf_init(&b, sizeof ei.msg + 16);
        pacs_buf_printf(&b, "not ready: %s\n", ei.msg);
        pacs_http_add_header(r, "Cache-Control", "no-store");
        pacs_http_send_buf(r, 503, "text/plain; charset=utf-8", &b, 0);
        return;
    }
    send_text(r, 200, "ready\n");
}
