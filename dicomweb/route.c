// SPDX-License-Identifier: MIT
/*
 * The DICOMweb URL grammar (route.h). The path is split at '/', each segment percent-decoded on
 * its own (so an encoded '/' stays inside its segment and is then refused as a UID), and the
 * segments are matched against the shapes of PS3.18 10: the three QIDO collections, a study,
 * series or instance, and their metadata, frames, bulk data, rendered and thumbnail resources.
 *
 * Load: once per DICOMweb request, a few short string comparisons. Thread-safe: no state.
 */
#include "dicomweb/route.h"

#include <string.h>

#include "dicomweb/params.h"
#include "pacs/dicom/part10.h"

#define MAX_SEGMENTS 16

static int is_word(const char *s, const char *w)
{
    return strcmp(s, w) == 0;
}

pacs_err pacs_route_parse(const char *path, size_t len, pacs_arena *ar, pacs_route *rt,
                          pacs_errinfo *ei)
{
    memset(rt, 0, sizeof *rt);
    const char *seg[MAX_SEGMENTS];
    size_t nseg = 0, i = 0;
    if (len == 0 || path[0] != '/') {
        return pacs_errf(ei, PACS_ENOTFOUND, "no such resource");
    }
    i = 1;
    while (i <= len) {
        const char *slash = memchr(path + i, '/', len - i);
        size_t end = slash ? (size_t)(slash - path) : len;
        if (nseg == MAX_SEGMENTS) {
            return pacs_errf(ei, PACS_ENOTFOUND, "no such resource");
        }
        char *s = pacs_params_url_decode(ar, path + i, end - i, 0);
        if (!s) {
            return pacs_errf(ei, PACS_EINVAL, "malformed %%-escape in the path");
        }
        seg[nseg++] = s;
        i = end + 1;
        if (!slash) {
            break;
        }
    }
    if (nseg > 1 && seg[nseg - 1][0] == '\0') {
        nseg--; /* one trailing '/' is tolerated */
    }
    if (nseg == 0 || seg[0][0] == '\0') {
        return pacs_errf(ei, PACS_ENOTFOUND, "no such resource");
    }
    if (nseg == 1) {
        if (is_word(seg[0], "studies")) {
            rt->kind = PACS_ROUTE_STUDIES;
        } else if (is_word(seg[0], "series")) {
            rt->kind = PACS_ROUTE_SERIES;
        } else if (is_word(seg[0], "instances")) {
            rt->kind = PACS_ROUTE_INSTANCES;
        } else if (is_word(seg[0], "wado")) {
            rt->kind = PACS_ROUTE_WADO_URI;
        } else {
            return pacs_errf(ei, PACS_ENOTFOUND, "no such resource");
        }
        return PACS_OK;
    }
    if (!is_word(seg[0], "studies")) {
        return pacs_errf(ei, PACS_ENOTFOUND, "no such resource");
    }
    /* /studies/{st}[/series/{se}[/instances/{sop}]] then an optional tail. */
    const char **uids[3] = {&rt->study, &rt->series, &rt->sop};
    static const char *const names[3] = {"studies", "series", "instances"};
    size_t k = 0, level = 0;
    while (k < nseg && level < 3 && is_word(seg[k], names[level])) {
        if (k + 1 >= nseg) {
            /* A collection: /studies/{st}/series or .../instances. */
            rt->kind = level == 1 ? PACS_ROUTE_SERIES : PACS_ROUTE_INSTANCES;
            return level == 0 ? pacs_errf(ei, PACS_ENOTFOUND, "no such resource") : PACS_OK;
        }
        if (!pacs_uid_valid(seg[k + 1])) {
            return pacs_errf(ei, PACS_EINVAL, "'%.64s' is not a valid UID", seg[k + 1]);
        }
        *uids[level] = seg[k + 1];
        k += 2;
        level++;
    }
    if (k == nseg) {
        rt->kind = PACS_ROUTE_RESOURCE;
        return PACS_OK;
    }
    const char *tail = seg[k];
    if (level == 1 && is_word(tail, "instances") && k + 1 == nseg) {
        rt->kind = PACS_ROUTE_INSTANCES;
        return PACS_OK;
    }
    if (k + 1 == nseg && is_word(tail, "metadata")) {
        rt->kind = PACS_ROUTE_METADATA;
        return PACS_OK;
    }
    if (k + 1 == nseg && (is_word(tail, "rendered") || is_word(tail, "thumbnail"))) {
        rt->kind = PACS_ROUTE_RENDERED;
        rt->thumbnail = is_word(tail, "thumbnail");
        return PACS_OK;
    }
    if (level == 3 && is_word(tail, "frames") && k + 2 <= nseg && k + 3 >= nseg) {
        rt->arg = seg[k + 1];
        if (k + 3 == nseg) {
            if (!is_word(seg[k + 2], "rendered") && !is_word(seg[k + 2], "thumbnail")) {
                return pacs_errf(ei, PACS_ENOTFOUND, "no such resource");
            }
            rt->kind = PACS_ROUTE_RENDERED;
            rt->thumbnail = is_word(seg[k + 2], "thumbnail");
            return PACS_OK;
        }
        rt->kind = PACS_ROUTE_FRAMES;
        return PACS_OK;
    }
    if (level == 3 && is_word(tail, "bulkdata") && k + 1 < nseg) {
        size_t total = 0;
        for (size_t j = k + 1; j < nseg; j++) {
            total += strlen(seg[j]) + 1;
        }
        char *arg = pacs_arena_alloc(ar, total + 1);
        if (!arg) {
            return pacs_errf(ei, PACS_ENOMEM, "out of memory");
        }
        for (size_t j = k + 1; j < nseg; j++) {
            if (j > k + 1) {
                strcat(arg, "/");
            }
            strcat(arg, seg[j]);
        }
        rt->arg = arg;
        rt->kind = PACS_ROUTE_BULKDATA;
        return PACS_OK;
    }
    return pacs_errf(ei, PACS_ENOTFOUND, "no such resource");
}
