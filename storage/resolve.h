// SPDX-License-Identifier: MIT
/*
 * The retrieve path's first step: from the UIDs a request names (a study, a series, an instance,
 * or any query a DIMSE identifier builds) to the list of stored instances it covers, as the
 * index describes them (never by parsing an object). Every retrieval starts here: C-MOVE, C-GET,
 * forwarding, WADO-RS and WADO-URI, rendered images, STOW-RS's DELETE and the share page; the
 * second step, per instance, is storage/delivery.h.
 *
 * Load: one index query per request (a 300-slice study is one query), about 430 bytes per
 * instance listed. Thread-safe: no shared state; a list belongs to its caller.
 */
#ifndef PACS_STORAGE_RESOLVE_H
#define PACS_STORAGE_RESOLVE_H

#include <stddef.h>
#include <stdint.h>

#include "pacs/base/err.h"
#include "storage/archive.h"

/** One stored instance, as the index describes it: what any retrieval of it needs. */
typedef struct pacs_resolve_item {
    char study_uid[PACS_UID_MAX + 1];
    char series_uid[PACS_UID_MAX + 1];
    char sop_uid[PACS_UID_MAX + 1];
    char sop_class[PACS_UID_MAX + 1];
    char ts[PACS_UID_MAX + 1]; /* the stored transfer syntax */
    char object[PACS_OBJECT_KEY_LEN + 1];
    uint64_t size;   /* bytes of the stored object */
    uint32_t frames; /* NumberOfFrames as indexed */
    int has_pixels;  /* the object has top-level Pixel Data */
    uint8_t *layout; /* with PACS_RESOLVE_LAYOUT: the pixel layout blob (part10.h), or NULL */
    size_t layout_len;
    int coerce; /* without PACS_RESOLVE_LAYOUT: its study is reconciled to an order, and the
                 * delivery plan sends it with the patient attributes the index serves */
} pacs_resolve_item;

/** The instances a request names, in the index's order (series, then instance number). */
typedef struct pacs_resolve_list {
    pacs_resolve_item *v;
    size_t n, cap;
} pacs_resolve_list;

/** Copy each instance's pixel layout blob too (frames, rendering: pixels only, so the items
 *  are not checked for a reconciled identity to coerce). */
#define PACS_RESOLVE_LAYOUT 1u

/**
 * The query naming the resource of `study`, `series` and `sop` (each NULL when not given): at
 * the level of the deepest UID given, matching each given UID exactly. NULL with `ei` filled
 * when a UID is malformed (PACS_EINVAL) or memory runs out. The caller frees it.
 */
pacs_query *pacs_resolve_query(const char *study, const char *series, const char *sop,
                               pacs_errinfo *ei);

/**
 * Lists the instances under the matches of `q` into `out` (overwritten). At most `max` (0: no
 * limit): PACS_ETOOBIG past that, PACS_ENOMEM when memory runs out, or the index's error; `out`
 * is empty on any error. An empty list is not an error here.
 */
pacs_err pacs_resolve_instances(pacs_archive *a, const pacs_query *q, unsigned flags, size_t max,
                                pacs_resolve_list *out, pacs_errinfo *ei);

/**
 * pacs_resolve_instances() over pacs_resolve_query(study, series, sop); PACS_ENOTFOUND ("no
 * such study", "no such series", "no such instance") when nothing is stored there.
 */
pacs_err pacs_resolve_uids(pacs_archive *a, const char *study, const char *series, const char *sop,
                           unsigned flags, size_t max, pacs_resolve_list *out, pacs_errinfo *ei);

/** Releases the list's memory and empties it; NULL is accepted. */
void pacs_resolve_list_free(pacs_resolve_list *l);

#endif
