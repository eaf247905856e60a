// SPDX-License-Identifier: MIT
/*
 * Keeping the archive honest (archive.h): `pacs verify` rehashes every indexed object and finds
 * objects the index does not know (orphans; swept on request and after an unclean stop),
 * `pacs reindex` rebuilds the index from the objects alone, and `pacs migrate` copies the index
 * to another backend. Long operations over every object; none is on the ingest or retrieve
 * path.
 *
 * Thread-safe: one operation at a time per archive, beside any number of ingests and reads.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "pacs/base/log.h"
#include "storage/archive_internal.h"
#include "storage/orders_store.h"

/* ---- verify ---- */

typedef struct keyset {
    char (*keys)[PACS_OBJECT_KEY_LEN + 1];
    char (*sops)[65];
    size_t n, cap;
} keyset;

static int collect_object(void *ctx, const char *object, uint64_t size, const char *sop)
{
    (void)size;
    keyset *ks = ctx;
    if (ks->n == ks->cap) {
        size_t cap = ks->cap ? ks->cap * 2 : 1024;
        void *k = realloc(ks->keys, cap * sizeof *ks->keys);
        if (!k) {
            return 1;
        }
        ks->keys = k;
        void *s = realloc(ks->sops, cap * sizeof *ks->sops);
        if (!s) {
            return 1;
        }
        ks->sops = s;
        ks->cap = cap;
    }
    snprintf(ks->keys[ks->n], PACS_OBJECT_KEY_LEN + 1, "%s", object);
    snprintf(ks->sops[ks->n], 65, "%s", sop);
    ks->n++;
    return 0;
}

static int cmp_key(const void *x, const void *y)
{
    return strcmp(x, y);
}

static void keyset_free(keyset *ks)
{
    free(ks->keys);
    free(ks->sops);
    memset(ks, 0, sizeof *ks);
}

/* Releases every object of `ks` (those nothing refers to are deleted); returns how many went. */
static int keyset_release_all(pacs_archive *a, keyset *ks)
{
    int n = 0;
    for (size_t i = 0; i < ks->n; i++) {
        n += pacs_archive__sweep_object(a, ks->keys[i]);
    }
    return n;
}

/* After an unclean stop of this node: the objects its ingests were committing. */
void pacs_archive__recover_intents(pacs_archive *a)
{
    keyset ks;
    memset(&ks, 0, sizeof ks);
    pacs_errinfo ei;
    if (pacs_index_intents_drop(a->index, a->node, 0, collect_object, &ks, &ei) == PACS_OK) {
        int n = keyset_release_all(a, &ks);
        pacs_log(PACS_LOG_INFO, "archive",
                 "the last run of node %s ended uncleanly: swept %d orphan object(s)", a->node, n);
    } else {
        pacs_log(PACS_LOG_WARN, "archive", "intents of node %s: %s", a->node, ei.msg);
    }
    keyset_free(&ks);
}

typedef struct verify_ctx {
    pacs_archive *a;
    keyset sorted;
    int sweep;
    int64_t young; /* shared folder: files modified after this may be another node's work */
    pacs_problem_cb problem;
    void *ctx;
    pacs_verify_report *r;
} verify_ctx;

static int orphan_cb(void *ctx, const char *key, uint64_t size, const char *path)
{
    (void)size;
    verify_ctx *v = ctx;
    if (key[0] && v->sorted.n > 0 &&
        bsearch(key, v->sorted.keys, v->sorted.n, sizeof *v->sorted.keys, cmp_key)) {
        return 0;
    }
    struct stat sb;
    if (v->young && stat(path, &sb) == 0 && (int64_t)sb.st_mtime > v->young) {
        return 0; /* possibly being stored by another node: not an orphan yet */
    }
    int referenced = 0;
    if (key[0] && pacs_index_object_referenced(v->a->index, key, &referenced, NULL) == PACS_OK &&
        referenced) {
        return 0; /* stored since the list was taken */
    }
    v->r->orphans++;
    if (v->problem) {
        v->problem(v->ctx, "orphan", key[0] ? key : path, "", "not in the index");
    }
    if (v->sweep && key[0]) {
        v->r->swept += (uint64_t)pacs_archive__sweep_object(v->a, key);
    }
    return 0;
}

/* Walks the store for objects the index does not know, given the index's keys sorted. */
static pacs_err orphan_walk(pacs_archive *a, keyset *sorted, int sweep, pacs_problem_cb problem,
                            void *ctx, pacs_verify_report *r, pacs_errinfo *ei)
{
    verify_ctx v = {a, {NULL, NULL, 0, 0}, sweep, 0, problem, ctx, r};
    if (a->shared_store) {
        v.young = (int64_t)time(NULL) - a->sweep_grace;
    }
    v.sorted.keys = sorted->keys;
    v.sorted.n = sorted->n;
    return pacs_objstore_foreach(a->store, orphan_cb, &v, ei);
}

pacs_err pacs_archive__sweep_orphans(pacs_archive *a, int sweep, pacs_problem_cb problem, void *ctx,
                                     pacs_verify_report *r, pacs_errinfo *ei)
{
    keyset ks;
    memset(&ks, 0, sizeof ks);
    pacs_err err = pacs_index_objects(a->index, collect_object, &ks, ei);
    if (err == PACS_OK) {
        if (ks.n > 0) { /* an empty index has no array to sort (qsort takes no NULL) */
            qsort(ks.keys, ks.n, sizeof *ks.keys, cmp_key);
        }
        err = orphan_walk(a, &ks, sweep, problem, ctx, r, ei);
    }
    free(ks.keys);
    free(ks.sops);
    return err;
}

pacs_err pacs_archive_verify(pacs_archive *a, int sweep, pacs_progress_cb progress,
                             pacs_problem_cb problem, void *ctx, pacs_verify_report *report,
                             pacs_errinfo *ei)
{
    memset(report, 0, sizeof *report);
    if (sweep && !a->exclusive) {
        /* Another process's object may be written but not yet indexed: only the process that
         * wrote it can tell (its in-flight set). */
        return pacs_errf(ei, PACS_EBUSY,
                         "sweeping orphans needs the archive opened exclusively "
                         "(no pacsd or other pacs command running)");
    }
    keyset ks;
    memset(&ks, 0, sizeof ks);
    pacs_err err = PACS_OK;
    if (sweep && pacs_index_shared(a->index)) {
        /* Intents older than the grace period belong to nodes that died and never came back
         * (a running node's ingest takes seconds): their objects are released like orphans. */
        err = pacs_index_intents_drop(a->index, NULL, (int64_t)time(NULL) - a->sweep_grace,
                                      collect_object, &ks, ei);
        if (err == PACS_OK) {
            report->swept += (uint64_t)keyset_release_all(a, &ks);
            keyset_free(&ks);
        }
    }
    if (err == PACS_OK) {
        err = pacs_index_objects(a->index, collect_object, &ks, ei);
    }
    if (err != PACS_OK) {
        goto done;
    }
    for (size_t i = 0; i < ks.n; i++) {
        pacs_errinfo sub;
        pacs_err e = pacs_objstore_verify(a->store, ks.keys[i], NULL, &sub);
        report->checked++;
        if (e == PACS_ENOTFOUND) {
            report->missing++;
            if (problem) {
                problem(ctx, "missing", ks.keys[i], ks.sops[i], sub.msg);
            }
        } else if (e != PACS_OK) {
            report->corrupt++;
            if (problem) {
                problem(ctx, "corrupt", ks.keys[i], ks.sops[i], sub.msg);
            }
        }
        if (progress) {
            progress(ctx, i + 1, ks.n);
        }
    }
    qsort(ks.keys, ks.n, sizeof *ks.keys, cmp_key);
    err = orphan_walk(a, &ks, sweep, problem, ctx, report, ei);
done:
    free(ks.keys);
    free(ks.sops);
    return err;
}

/* ---- reindex ---- */

typedef struct reindex_ctx {
    pacs_objstore *store;
    pacs_index *index;
    pacs_progress_cb progress;
    pacs_problem_cb problem;
    void *ctx;
    uint64_t done, total, indexed;
    pacs_err err;
    pacs_errinfo ei;
    char id_systems[4][17]; /* patient.id_order: instances are reconciled to the orders again */
    size_t n_id_systems;
} reindex_ctx;

static int count_cb(void *ctx, const char *key, uint64_t size, const char *path)
{
    (void)key;
    (void)size;
    (void)path;
    ((reindex_ctx *)ctx)->total++;
    return 0;
}

static int reindex_cb(void *ctx, const char *key, uint64_t size, const char *path)
{
    reindex_ctx *r = ctx;
    r->done++;
    if (!key[0]) {
        if (r->problem) {
            r->problem(r->ctx, "unreadable", path, "", "file name is not an object key");
        }
        return 0;
    }
    pacs_dcm_parsed parsed;
    pacs_index_entry e;
    uint8_t *layout = NULL;
    pacs_errinfo sub;
    pacs_err err = pacs_archive__parse_for_index(path, key, size, "", &parsed, &e, &layout, &sub);
    if (err == PACS_OK) {
        e.id_systems = (const char(*)[17])r->id_systems;
        e.n_id_systems = r->n_id_systems;
        pacs_put_result put;
        err = pacs_index_put(r->index, &e, &put, &sub);
        pacs_dcm_parsed_clear(&parsed);
        free(layout);
        if (err != PACS_OK && err != PACS_EBADDATA) {
            r->err = err;
            r->ei = sub;
            return 1;
        }
        r->indexed += err == PACS_OK;
    }
    if (err != PACS_OK && r->problem) {
        r->problem(r->ctx, "unreadable", key, "", sub.msg);
    }
    if (r->progress) {
        r->progress(r->ctx, r->done, r->total);
    }
    return 0;
}

/* A rebuilt SQLite index keeps the share links' records of the file it replaces: they are in
 * no object. An old index that does not open does not stop the rebuild (it may be why it
 * runs), but its links are then lost, and the log says so; one that opens and cannot be
 * copied from fails the rebuild, which leaves it in place. */
static pacs_err keep_shares(const char *old_location, pacs_index *fresh, pacs_errinfo *ei)
{
    if (access(old_location, F_OK) != 0) {
        return PACS_OK;
    }
    pacs_index *old = NULL;
    pacs_errinfo sub;
    if (pacs_index_open(old_location, &old, &sub) != PACS_OK) {
        pacs_log(PACS_LOG_WARN, "archive",
                 "reindex: the old index does not open (%s): the share links made before no "
                 "longer work",
                 sub.msg);
        return PACS_OK;
    }
    pacs_err err = pacs_index_share_copy(old, fresh, NULL, ei);
    if (err == PACS_OK) {
        err = pacs_orders__copy(old, fresh, ei); /* the HIS's patients and orders: in no object */
    }
    if (err == PACS_OK) {
        err = pacs_users__copy(old, fresh, ei); /* nor the built-in users */
    }
    pacs_index_close(old);
    return err;
}

pacs_err pacs_archive_reindex(const pacs_config *cfg, pacs_progress_cb progress,
                              pacs_problem_cb problem, void *ctx, uint64_t *indexed,
                              pacs_errinfo *ei)
{
    const char *data = pacs_config_str(cfg, "data");
    char objects[4096], tmp[4200], loc[4096], fresh[4200], node[128];
    pacs_archive__node_name(cfg, node, sizeof node);
    pacs_archive__store_dirs(cfg, node, objects, tmp, sizeof objects);
    pacs_archive__index_location(cfg, loc, sizeof loc);
    if (strncmp(loc, "sqlite:", 7) == 0) {
        memmove(loc, loc + 7, strlen(loc + 7) + 1);
    }
    /* A PostgreSQL index is rebuilt in place, in one transaction that first empties it:
     * readers see the old index until the new one commits, and a failure changes nothing. */
    int in_place = strncmp(loc, "postgres", 8) == 0;
    snprintf(fresh, sizeof fresh, "%s.reindex", loc);
    /* The index is replaced under the feet of anyone using it: refuse unless alone. */
    int dir_fd = pacs_archive__lock_dir(data), lock_fd = -1, sole = 0, unclean = 0;
    if (dir_fd < 0) {
        return pacs_errf(ei, pacs_err_from_errno(errno), "cannot lock %s: %s", data,
                         strerror(errno));
    }
    pacs_err err = pacs_archive__lock_use(data, 1, &lock_fd, &sole, &unclean, ei);
    pacs_archive__unlock_dir(dir_fd);
    if (err != PACS_OK) {
        return err;
    }
    if (!in_place) {
        unlink(fresh);
    }
    reindex_ctx r;
    memset(&r, 0, sizeof r);
    r.progress = progress;
    r.problem = problem;
    r.ctx = ctx;
    r.n_id_systems = pacs_orders_id_systems(cfg, r.id_systems, 4);
    r.n_id_systems = r.n_id_systems < 4 ? r.n_id_systems : 4;
    pacs_index_options opts = {(unsigned)pacs_config_int(cfg, "index.pool"), node,
                               PACS_INDEX_BULK | PACS_INDEX_BULK_EMPTY, 0};
    err = pacs_objstore_open(objects, tmp, &r.store, ei);
    if (err == PACS_OK) {
        pacs_objstore_clean_tmp(r.store);
        err = pacs_index_open_opts(in_place ? loc : fresh, &opts, &r.index, ei);
    }
    /* The orders first: the instances are reconciled to them as they are indexed again. */
    if (err == PACS_OK && !in_place) {
        err = keep_shares(loc, r.index, ei);
    }
    if (err == PACS_OK) {
        err = pacs_objstore_foreach(r.store, count_cb, &r, ei);
    }
    if (err == PACS_OK) {
        err = pacs_objstore_foreach(r.store, reindex_cb, &r, ei);
    }
    if (err == PACS_OK && r.err != PACS_OK) {
        err = r.err;
        if (ei) {
            *ei = r.ei;
        }
    }
    if (err == PACS_OK) {
        err = pacs_index_finish(r.index, ei);
    }
    pacs_index_close(r.index);
    pacs_objstore_close(r.store);
    if (err != PACS_OK) {
        if (!in_place) {
            unlink(fresh);
        }
        close(lock_fd);
        return err;
    }
    if (in_place) {
        pacs_archive__mark_open(lock_fd, 0);
        close(lock_fd);
        *indexed = r.indexed;
        return PACS_OK;
    }
    char side[4300];
    snprintf(side, sizeof side, "%s-wal", loc);
    unlink(side);
    snprintf(side, sizeof side, "%s-shm", loc);
    unlink(side);
    if (rename(fresh, loc) != 0) {
        err = pacs_errf(ei, pacs_err_from_errno(errno), "cannot replace %s: %s", loc,
                        strerror(errno));
        close(lock_fd);
        return err;
    }
    /* Make the rename durable, and record that every object is now indexed. */
    char dir[4096];
    snprintf(dir, sizeof dir, "%s", loc);
    char *slash = strrchr(dir, '/');
    if (slash) {
        *slash = '\0';
    } else {
        snprintf(dir, sizeof dir, ".");
    }
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd >= 0) {
        fsync(dfd);
        close(dfd);
    }
    pacs_archive__mark_open(lock_fd, 0);
    close(lock_fd);
    *indexed = r.indexed;
    return PACS_OK;
}

pacs_err pacs_archive_copy_index(pacs_archive *a, const char *location, pacs_progress_cb progress,
                                 void *ctx, uint64_t *instances, uint64_t *forwards,
                                 pacs_errinfo *ei)
{
    pacs_index_options opts = {0, a->node, PACS_INDEX_BULK, 0};
    pacs_index *dst = NULL;
    pacs_err err = pacs_index_open_opts(location, &opts, &dst, ei);
    if (err != PACS_OK) {
        return err;
    }
    err = pacs_index_copy(a->index, dst, progress, ctx, instances, forwards, ei);
    if (err == PACS_OK) {
        err = pacs_index_finish(dst, ei);
    }
    pacs_index_close(dst);
    return err;
}
