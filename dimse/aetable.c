// SPDX-License-Identifier: MIT
/*
 * The reloadable table of known AEs and forwarding rules (aetable.h). A load copies the arrays
 * out of a configuration object, so the table does not depend on that object living on. Small
 * (tens of entries): lookups are linear scans under a read lock.
 */
#include "dimse/aetable.h"

#include <ctype.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct pacs_aetable {
    pthread_rwlock_t lock;
    pacs_remote_ae *aes;
    size_t n_aes;
    pacs_config_route *routes;
    size_t n_routes;
};

pacs_aetable *pacs_aetable_new(void)
{
    pacs_aetable *t = calloc(1, sizeof *t);
    if (!t) {
        return NULL;
    }
    if (pthread_rwlock_init(&t->lock, NULL) != 0) {
        free(t);
        return NULL;
    }
    return t;
}

void pacs_aetable_free(pacs_aetable *t)
{
    if (!t) {
        return;
    }
    pthread_rwlock_destroy(&t->lock);
    free(t->aes);
    free(t->routes);
    free(t);
}

pacs_err pacs_aetable_load(pacs_aetable *t, const pacs_config *cfg, pacs_errinfo *ei)
{
    size_t n_aes = pacs_config_ae_count(cfg), n_routes = pacs_config_route_count(cfg);
    pacs_remote_ae *aes = calloc(n_aes ? n_aes : 1, sizeof *aes);
    pacs_config_route *routes = calloc(n_routes ? n_routes : 1, sizeof *routes);
    if (!aes || !routes) {
        free(aes);
        free(routes);
        return pacs_errf(ei, PACS_ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < n_aes; i++) {
        aes[i] = *pacs_config_ae_at(cfg, i);
    }
    for (size_t i = 0; i < n_routes; i++) {
        routes[i] = *pacs_config_route_at(cfg, i);
    }
    pthread_rwlock_wrlock(&t->lock);
    pacs_remote_ae *old_aes = t->aes;
    pacs_config_route *old_routes = t->routes;
    t->aes = aes;
    t->n_aes = n_aes;
    t->routes = routes;
    t->n_routes = n_routes;
    pthread_rwlock_unlock(&t->lock);
    free(old_aes);
    free(old_routes);
    return PACS_OK;
}

/* Copies `src` without surrounding blanks into `dst` (cap bytes). */
static void trimmed(char *dst, size_t cap, const char *src)
{
    while (*src && isspace((unsigned char)*src)) {
        src++;
    }
    snprintf(dst, cap, "%s", src);
    size_t n = strlen(dst);
    while (n > 0 && isspace((unsigned char)dst[n - 1])) {
        dst[--n] = '\0';
    }
}

int pacs_aetable_find(pacs_aetable *t, const char *aet, pacs_remote_ae *out)
{
    char want[17];
    trimmed(want, sizeof want, aet);
    int found = 0;
    pthread_rwlock_rdlock(&t->lock);
    for (size_t i = 0; i < t->n_aes && !found; i++) {
        if (strcmp(t->aes[i].aet, want) == 0) {
            *out = t->aes[i];
            found = 1;
        }
    }
    pthread_rwlock_unlock(&t->lock);
    return found;
}

void pacs_aetable_counts(pacs_aetable *t, size_t *n_aes, size_t *n_routes)
{
    pthread_rwlock_rdlock(&t->lock);
    *n_aes = t->n_aes;
    *n_routes = t->n_routes;
    pthread_rwlock_unlock(&t->lock);
}

/* True when `fn` holds for one item of the comma-separated `list` (blanks trimmed; an item
 * longer than any value can be matches nothing). */
static int list_any(const char *list, int (*fn)(const void *ctx, const char *item), const void *ctx)
{
    const char *p = list;
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        char item[160];
        if (n < sizeof item) {
            memcpy(item, p, n);
            item[n] = '\0';
            char clean[160];
            trimmed(clean, sizeof clean, item);
            if (fn(ctx, clean)) {
                return 1;
            }
        }
        if (!comma) {
            break;
        }
        p = comma + 1;
    }
    return 0;
}

static int is_value(const void *ctx, const char *item)
{
    return strcmp(item, ctx) == 0;
}

int pacs_aetable_list_has(const char *list, const char *value)
{
    char want[160];
    trimmed(want, sizeof want, value ? value : "");
    return list_any(list, is_value, want);
}

/* study_from: the instance came with one of the names itself, or its study holds one that did
 * (asked of the archive only then, and only for a rule that names origins). */
static int is_origin(const void *ctx, const char *item)
{
    const pacs_aetable_route_input *in = ctx;
    return (in->source_http && strcmp(item, in->source_http) == 0) ||
           (in->study_from && in->study_from(in->ctx, item) == 1);
}

static int route_matches(const pacs_config_route *r, const pacs_aetable_route_input *in)
{
    if (r->calling[0] && !pacs_aetable_list_has(r->calling, in->calling_aet)) {
        return 0;
    }
    if (r->modality[0] && !pacs_aetable_list_has(r->modality, in->modality)) {
        return 0;
    }
    if (r->sop_class[0] && !pacs_aetable_list_has(r->sop_class, in->sop_class)) {
        return 0;
    }
    if (r->study_from[0] && !list_any(r->study_from, is_origin, in)) {
        return 0;
    }
    return 1;
}

size_t pacs_aetable_route(pacs_aetable *t, const pacs_aetable_route_input *in,
                          pacs_aetable_route_cb cb, void *ctx)
{
    size_t n = 0;
    pthread_rwlock_rdlock(&t->lock);
    for (size_t i = 0; i < t->n_routes; i++) {
        const pacs_config_route *r = &t->routes[i];
        if (!route_matches(r, in)) {
            continue;
        }
        int seen = 0;
        for (size_t k = 0; k < i && !seen; k++) {
            seen = strcmp(t->routes[k].dest, r->dest) == 0 && route_matches(&t->routes[k], in);
        }
        if (!seen) {
            cb(ctx, r->name, r->dest);
            n++;
        }
    }
    pthread_rwlock_unlock(&t->lock);
    return n;
}
