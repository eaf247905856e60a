// SPDX-License-Identifier: MIT
/*
 * The DICOMweb URL grammar (route.h). The path is split at '/', each segment percent-decoded on
 * its own (so an encoded '/' stays inside its segment and is then refused as a UID), and the
 * segments are matched against the shapes of PS3.18 10: the three QIDO collections, a study,
 * series or instance, and their metadata, frames, bulk data, rendered and thumbnail resources;
 * and a study's reports (pacsd's own: reports.h).
 *
 * Load: once per DICOMweb request, a few short string comparisons. Thread-safe: no state.
 */
#include "dicomweb/route.h"

#include <string.h>

#include "http/params.h"
#include "pacs/dicom/part10.h"

#define MAX_SEGMENTS 16

static int is_word(const char *s, const char *w)
{
    return strcmp(s, w) == 0;
}

static pacs_err not_found(pacs_errinfo *ei)
{
    return pacs_errf(ei, PACS_ENOTFOUND, "no such resource");
}

/* Splits the path at '/' into at most MAX_SEGMENTS decoded segments (one trailing '/' is
 * tolerated). */
static pacs_err split(const char *path, size_t len, pacs_arena *ar, const char **seg, size_t *nseg,
                      pacs_errinfo *ei)
{
    size_t n = 0;
    if (len == 0 || path[0] != '/') {
        return not_found(ei);
    }
    for (size_t i = 1; i <= len;) {
        const char *slash = memchr(path + i, '/', len - i);
        size_t end = slash ? (size_t)(slash - path) : len;
        if (n == MAX_SEGMENTS) {
            return not_found(ei);
        }
        char *s = pacs_params_url_decode(ar, path + i, end - i, 0);
        if (!s) {
            return pacs_errf(ei, PACS_EINVAL, "malformed %%-escape in the path");
        }
        seg[n++] = s;
        i = end + 1;
        if (!slash) {
            break;
        }
    }
    if (n > 1 && seg[n - 1][0] == '\0') {
        n--;
    }
    if (n == 0 || seg[0][0] == '\0') {
        return not_found(ei);
    }
    *nseg = n;
    return PACS_OK;
}

/* A path of one segment: the three QIDO collections and WADO-URI. */
static pacs_err top_level(const char *seg, pacs_route *rt, pacs_errinfo *ei)
{
    if (is_word(seg, "studies")) {
        rt->kind = PACS_ROUTE_STUDIES;
    } else if (is_word(seg, "series")) {
        rt->kind = PACS_ROUTE_SERIES;
    } else if (is_word(seg, "instances")) {
        rt->kind = PACS_ROUTE_INSTANCES;
    } else if (is_word(seg, "wado")) {
        rt->kind = PACS_ROUTE_WADO_URI;
    } else {
        return not_found(ei);
    }
    return PACS_OK;
}

/* The bulk data path: the segments after "bulkdata", joined with '/' again. */
static pacs_err bulkdata(const char **seg, size_t n, pacs_arena *ar, pacs_route *rt,
                         pacs_errinfo *ei)
{
    size_t total = 0;
    for (size_t j = 0; j < n; j++) {
        total += strlen(seg[j]) + 1;
    }
    char *arg = pacs_arena_alloc(ar, total + 1);
    if (!arg) {
        return pacs_errf(ei, PACS_ENOMEM, "out of memory");
    }
    for (size_t j = 0; j < n; j++) {
        if (j > 0) {
            strcat(arg, "/");
        }
        strcat(arg, seg[j]);
    }
    rt->arg = arg;
    rt->kind = PACS_ROUTE_BULKDATA;
    return PACS_OK;
}

/* What follows the UIDs (`n` segments, `level` UIDs named): a study's instances, metadata,
 * rendered and thumbnail, an instance's frames (then perhaps rendered) and bulk data. */
static pacs_err tail(const char **seg, size_t n, size_t level, pacs_arena *ar, pacs_route *rt,
                     pacs_errinfo *ei)
{
    const char *t = seg[0];
    if (n == 1 && level == 1 && is_word(t, "instances")) {
        rt->kind = PACS_ROUTE_INSTANCES;
        return PACS_OK;
    }
    if (n == 1 && level == 1 && is_word(t, "reports")) {
        rt->kind = PACS_ROUTE_REPORTS;
        return PACS_OK;
    }
    if (n == 1 && is_word(t, "metadata")) {
        rt->kind = PACS_ROUTE_METADATA;
        return PACS_OK;
    }
    if (n == 1 && (is_word(t, "rendered") || is_word(t, "thumbnail"))) {
        rt->kind = PACS_ROUTE_RENDERED;
        rt->thumbnail = is_word(t, "thumbnail");
        return PACS_OK;
    }
    if (level == 3 && is_word(t, "frames") && (n == 2 || n == 3)) {
        rt->arg = seg[1];
        if (n == 2) {
            rt->kind = PACS_ROUTE_FRAMES;
            return PACS_OK;
        }
        if (!is_word(seg[2], "rendered") && !is_word(seg[2], "thumbnail")) {
            return not_found(ei);
        }
        rt->kind = PACS_ROUTE_RENDERED;
        rt->thumbnail = is_word(seg[2], "thumbnail");
        return PACS_OK;
    }
    if (level == 3 && is_word(t, "bulkdata") && n > 1) {
        return bulkdata(seg + 1, n - 1, ar, rt, ei);
    }
    return not_found(ei);
}

pacs_err pacs_route_parse(const char *path, size_t len, pacs_arena *ar, pacs_route *rt,
                          pacs_errinfo *ei)
{
    memset(rt, 0, sizeof *rt);
    const char *seg[MAX_SEGMENTS];
    size_t nseg = 0;
    pacs_err err = split(path, len, ar, seg, &nseg, ei);
    if (err != PACS_OK) {
        return err;
    }
    if (nseg == 1) {
        return top_level(seg[0], rt, ei);
    }
    if (!is_word(seg[0], "studies")) {
        return not_found(ei);
    }
    /* /studies/{st}[/series/{se}[/instances/{sop}]] then an optional tail. */
    const char **uids[3] = {&rt->study, &rt->series, &rt->sop};
    static const char *const names[3] = {"studies", "series", "instances"};
    size_t k = 0, level = 0;
    while (k < nseg && level < 3 && is_word(seg[k], names[level])) {
        if (k + 1 >= nseg) {
            /* A collection: /studies/{st}/series or .../instances. */
            rt->kind = level == 1 ? PACS_ROUTE_SERIES : PACS_ROUTE_INSTANCES;
            return level == 0 ? not_found(ei) : PACS_OK;
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
    return tail(seg + k, nseg - k, level, ar, rt, ei);
}
