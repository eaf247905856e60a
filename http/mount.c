// SPDX-License-Identifier: MIT
/*
 * The mount table (mount.h): a prefix comparison per mount per request. Load: every HTTP
 * request passes through here once. Thread-safety: read-only once the server runs.
 */
#include "http/mount.h"

#include <string.h>

#include "http/http_internal.h"

pacs_err pacs_http_mounts_add(pacs_http_mounts *m, const char *prefix,
                              pacs_httpd_dispatch_fn dispatch, void *ctx, pacs_errinfo *ei)
{
    size_t n = strlen(prefix);
    if (n < 2 || n >= sizeof m->v[0].prefix || prefix[0] != '/' || prefix[n - 1] == '/' ||
        strpbrk(prefix, "?#% ")) {
        return pacs_errf(ei, PACS_EINVAL, "'%s' cannot be a mount point ('/name')", prefix);
    }
    for (size_t i = 0; i < m->n; i++) {
        if (strcmp(m->v[i].prefix, prefix) == 0) {
            return pacs_errf(ei, PACS_EINVAL, "'%s' is mounted twice", prefix);
        }
    }
    if (m->n == PACS_HTTP_MOUNTS_MAX) {
        return pacs_errf(ei, PACS_ENOMEM, "more than %d mounts", PACS_HTTP_MOUNTS_MAX);
    }
    memcpy(m->v[m->n].prefix, prefix, n + 1);
    m->v[m->n].dispatch = dispatch;
    m->v[m->n].ctx = ctx;
    m->n++;
    return PACS_OK;
}

void pacs_http_mounts_dispatch(void *ctx, pacs_http_req *r)
{
    const pacs_http_mounts *m = ctx;
    const char *q = strchr(r->raw_uri, '?');
    size_t len = q ? (size_t)(q - r->raw_uri) : strlen(r->raw_uri);
    for (size_t i = 0; i < m->n; i++) {
        size_t pl = strlen(m->v[i].prefix);
        if (len >= pl && memcmp(r->raw_uri, m->v[i].prefix, pl) == 0 &&
            (len == pl || r->raw_uri[pl] == '/')) {
            r->path = r->raw_uri + pl;
            r->path_len = len - pl;
            m->v[i].dispatch(m->v[i].ctx, r);
            return;
        }
    }
    if (!m->fallback) {
        pacs_http_send_error(r, 404, "not found");
        return;
    }
    m->fallback(m->fallback_ctx, r);
}
