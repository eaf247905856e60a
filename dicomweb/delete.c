// SPDX-License-Identifier: MIT
/*
 * DELETE of a study, series or instance (delete.h): one query for the resource, handed to the
 * archive's delete, which removes the index rows and then the objects no other instance uses.
 * Load: rare (corrections by hospital IT). Thread-safe: no state.
 */
#include "dicomweb/delete.h"

#include <stdint.h>

#include "pacs/base/log.h"
#include "storage/query.h"
#include "storage/resolve.h"

void pacs_delete_resource(pacs_http_req *r, const pacs_route *rt)
{
    if (!pacs_config_bool(pacs_http_config(r), "dicomweb.delete_allowed")) {
        pacs_http_send_error(r, 403, "deleting is turned off (set dicomweb.delete_allowed)");
        return;
    }
    pacs_errinfo ei;
    pacs_errinfo_clear(&ei);
    pacs_query *q = pacs_resolve_query(rt->study, rt->series, rt->sop, &ei);
    pacs_err err = q ? PACS_OK : ei.code != PACS_OK ? ei.code : PACS_ENOMEM;
    uint64_t removed = 0;
    if (err == PACS_OK) {
        err = pacs_archive_delete(pacs_http_archive(r), q, &removed, &ei);
    }
    pacs_query_free(q);
    if (err != PACS_OK) {
        pacs_http_send_error(r, pacs_http_status_of(err), "%s", ei.msg);
        return;
    }
    if (removed == 0) {
        pacs_http_send_error(r, 404, "no such %s",
                             rt->sop      ? "instance"
                             : rt->series ? "series"
                                          : "study");
        return;
    }
    pacs_log(PACS_LOG_INFO, "http", "req=%lu DELETE study=%s series=%s sop=%s removed=%llu",
             pacs_http_id(r), rt->study, rt->series ? rt->series : "-", rt->sop ? rt->sop : "-",
             (unsigned long long)removed);
    pacs_buf b;
    pacs_buf_init(&b, 1);
    pacs_http_send_buf(r, 204, NULL, &b, 0);
}
