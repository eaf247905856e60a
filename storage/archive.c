// SPDX-License-Identifier: MIT
/*
 * The archive (archive.h): opening a data folder, with the clean-up after an earlier run,
 * closing it, and removing objects safely. The other jobs live beside it (archive_internal.h
 * lists them). Keys of objects being ingested are kept in an in-flight set, so that sweeping a
 * replaced or deleted object never removes a file that a concurrent ingest of identical bytes
 * is about to reference. With an index several nodes share (PostgreSQL), that set cannot see
 * the other nodes: each ingest also records an intent in the index before committing its
 * object, and objects are deleted only through pacs_index_object_release, which excludes every
 * node's ingest of the same object while it checks and deletes. The object folder may then be
 * shared (storage.objects); each node keeps its temporary files in a folder of its own inside
 * it.
 *
 * Thread-safe: open and close once per process; the in-flight set has its own mutex and every
 * ingest thread passes through it.
 */
#include "storage/archive.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pacs/base/log.h"
#include "storage/archive_internal.h"
#include "storage/orders.h"

static pacs_err make_dir(const char *path, pacs_errinfo *ei)
{
    if (mkdir(path, 0755) != 0 && errno != EEXIST) {
        return pacs_errf(ei, pacs_err_from_errno(errno), "mkdir %s: %s", path, strerror(errno));
    }
    return PACS_OK;
}

void pacs_archive__index_location(const pacs_config *cfg, char *buf, size_t cap)
{
    const char *loc = pacs_config_str(cfg, "index");
    if (loc[0]) {
        snprintf(buf, cap, "%s", loc);
    } else {
        snprintf(buf, cap, "%s/index.sqlite", pacs_config_str(cfg, "data"));
    }
}

/* This node's name: node.name, or the host name with a hash of the data folder's real path
 * (two nodes on one machine have two data folders). */
void pacs_archive__node_name(const pacs_config *cfg, char *buf, size_t cap)
{
    const char *n = pacs_config_str(cfg, "node.name");
    if (n[0]) {
        snprintf(buf, cap, "%s", n);
    } else {
        char host[256] = "localhost", real[4096];
        const char *data = pacs_config_str(cfg, "data");
        if (gethostname(host, sizeof host - 1) != 0) {
            snprintf(host, sizeof host, "localhost");
        }
        host[sizeof host - 1] = '\0';
        if (!realpath(data, real)) {
            snprintf(real, sizeof real, "%s", data);
        }
        uint32_t h = 2166136261u; /* FNV-1a */
        for (const char *p = real; *p; p++) {
            h = (h ^ (unsigned char)*p) * 16777619u;
        }
        snprintf(buf, cap, "%s-%08x", host, (unsigned)h);
    }
    for (char *p = buf; *p; p++) {
        if (*p == '/' || *p == '\\' || *p == ' ') {
            *p = '_';
        }
    }
}

/* The object folder and this node's temporary folder (in the same filesystem, for rename). */
void pacs_archive__store_dirs(const pacs_config *cfg, const char *node, char *objects, char *tmp,
                              size_t cap)
{
    const char *shared = pacs_config_str(cfg, "storage.objects");
    const char *data = pacs_config_str(cfg, "data");
    if (shared[0]) {
        snprintf(objects, cap, "%s", shared);
        snprintf(tmp, cap, "%s/tmp/%s", shared, node);
    } else {
        snprintf(objects, cap, "%s/objects", data);
        snprintf(tmp, cap, "%s/tmp", data);
    }
}

void pacs_archive__inflight_add(pacs_archive *a, const char *key)
{
    pthread_mutex_lock(&a->inflight_mu);
    if (a->n_inflight == a->cap_inflight) {
        size_t cap = a->cap_inflight ? a->cap_inflight * 2 : 64;
        void *g = realloc(a->inflight, cap * sizeof *a->inflight);
        if (g) {
            a->inflight = g;
            a->cap_inflight = cap;
        }
    }
    if (a->n_inflight < a->cap_inflight) {
        memcpy(a->inflight[a->n_inflight++], key, PACS_OBJECT_KEY_LEN + 1);
    }
    pthread_mutex_unlock(&a->inflight_mu);
}

void pacs_archive__inflight_remove(pacs_archive *a, const char *key)
{
    pthread_mutex_lock(&a->inflight_mu);
    for (size_t i = 0; i < a->n_inflight; i++) {
        if (strcmp(a->inflight[i], key) == 0) {
            memcpy(a->inflight[i], a->inflight[--a->n_inflight], PACS_OBJECT_KEY_LEN + 1);
            break;
        }
    }
    pthread_mutex_unlock(&a->inflight_mu);
}

static pacs_err remove_object(void *ctx, const char *key, pacs_errinfo *ei)
{
    pacs_archive *a = ctx;
    return pacs_objstore_remove(a->store, key, ei);
}

/* Deletes an object nothing refers to and nothing is about to (here: the in-flight set; on
 * any node: the index's intents); forgets its sweep record. Returns whether it was deleted. */
int pacs_archive__sweep_object(pacs_archive *a, const char *key)
{
    pacs_errinfo ei;
    int busy = 0, removed = 0;
    pthread_mutex_lock(&a->inflight_mu);
    for (size_t i = 0; i < a->n_inflight && !busy; i++) {
        busy = strcmp(a->inflight[i], key) == 0;
    }
    if (!busy &&
        pacs_index_object_release(a->index, key, remove_object, a, &removed, &ei) != PACS_OK) {
        pacs_log(PACS_LOG_WARN, "archive", "sweep object=%s failed: %s", key, ei.msg);
    }
    pthread_mutex_unlock(&a->inflight_mu);
    return removed;
}

static int sweep_cb(void *ctx, const char *object, uint64_t size, const char *sop)
{
    (void)size;
    (void)sop;
    pacs_archive__sweep_object(ctx, object);
    return 0;
}

/* Objects whose removal was recorded but may not have happened (a crash in between). WAL lets
 * the sweep records be deleted while they are being read. */
static void sweep_pending(pacs_archive *a)
{
    pacs_errinfo ei;
    if (pacs_index_sweep_pending(a->index, sweep_cb, a, &ei) != PACS_OK) {
        pacs_log(PACS_LOG_WARN, "archive", "sweep failed: %s", ei.msg);
    }
}

static void log_orphan(void *ctx, const char *kind, const char *object, const char *sop,
                       const char *detail)
{
    (void)ctx;
    (void)sop;
    pacs_log(PACS_LOG_INFO, "archive", "%s object=%s: %s", kind, object, detail);
}

/* Start-up clean-up, only when no other process has the data folder open: temporary files of
 * an earlier run, objects whose removal was recorded but not done, and after an unclean stop
 * the objects that were written but never indexed. On a shared index those are the objects
 * this node's intents still name; a shared object folder (storage.objects) is not walked, as
 * other nodes' work lies there too (`pacs verify --sweep` takes what a grace period leaves). */
static void recover(pacs_archive *a, int unclean)
{
    pacs_objstore_clean_tmp(a->store);
    pacs_archive__recover_unflushed(a); /* first: it may index again an object due for sweeping */
    sweep_pending(a);
    if (unclean && pacs_index_shared(a->index)) {
        pacs_archive__recover_intents(a);
    }
    if (unclean && !a->shared_store) {
        pacs_verify_report r;
        pacs_errinfo ei;
        memset(&r, 0, sizeof r);
        if (pacs_archive__sweep_orphans(a, 1, log_orphan, NULL, &r, &ei) != PACS_OK) {
            pacs_log(PACS_LOG_WARN, "archive", "orphan sweep after an unclean stop failed: %s",
                     ei.msg);
        } else {
            pacs_log(PACS_LOG_INFO, "archive",
                     "the last run ended uncleanly: swept %llu orphan object(s)",
                     (unsigned long long)r.swept);
        }
    }
}

pacs_err pacs_archive_open(const pacs_config *cfg, pacs_archive **out, pacs_errinfo *ei)
{
    return pacs_archive_open_ex(cfg, 0, out, ei);
}

pacs_err pacs_archive_open_ex(const pacs_config *cfg, unsigned flags, pacs_archive **out,
                              pacs_errinfo *ei)
{
    const char *data = pacs_config_str(cfg, "data");
    char objects[4096], tmp[4200], loc[4096];
    pacs_err err = make_dir(data, ei);
    if (err != PACS_OK) {
        return err;
    }
    pacs_archive__index_location(cfg, loc, sizeof loc);
    pacs_archive *a = calloc(1, sizeof *a);
    if (!a || !(a->data_dir = strdup(data))) {
        free(a);
        return pacs_errf(ei, PACS_ENOMEM, "out of memory");
    }
    pacs_archive__node_name(cfg, a->node, sizeof a->node);
    a->n_id_systems = pacs_orders_id_systems(cfg, a->id_systems, 4);
    if (a->n_id_systems > 4) {
        a->n_id_systems = 4;
    }
    pacs_archive__store_dirs(cfg, a->node, objects, tmp, sizeof objects);
    char local_tmp[4200];
    snprintf(local_tmp, sizeof local_tmp, "%s/tmp", data); /* pacs_archive_temp_fd's */
    make_dir(local_tmp, NULL);
    a->sweep_grace = pacs_config_int(cfg, "storage.sweep_grace");
    a->shared_store = pacs_config_str(cfg, "storage.objects")[0] != '\0';
    pacs_index_options opts = {(unsigned)pacs_config_int(cfg, "index.pool"), a->node, 0,
                               (unsigned)pacs_config_int(cfg, "index.claim_seconds")};
    a->lock_fd = -1;
    a->exclusive = (flags & PACS_ARCHIVE_EXCLUSIVE) != 0;
    pthread_mutex_init(&a->inflight_mu, NULL);
    a->max_object = (uint64_t)pacs_config_int(cfg, "ingest.max_object_mb") << 20;
    int dir_fd = pacs_archive__lock_dir(data);
    if (dir_fd < 0) {
        err =
            pacs_errf(ei, pacs_err_from_errno(errno), "cannot lock %s: %s", data, strerror(errno));
        pacs_archive_close(a);
        return err;
    }
    int sole = 0, unclean = 0;
    err = pacs_archive__lock_use(data, a->exclusive, &a->lock_fd, &sole, &unclean, ei);
    if (err == PACS_OK) {
        err = pacs_objstore_open(objects, tmp, &a->store, ei);
    }
    if (err == PACS_OK) {
        const char *folders[] = {objects, data};
        err = pacs_space_open(cfg, folders, 2, &a->space, ei);
    }
    if (err == PACS_OK) {
        err = pacs_index_open_opts(loc, &opts, &a->index, ei);
    }
    if (err == PACS_OK) {
        a->one_flush = pacs_config_bool(cfg, "ingest.one_flush") &&
                       pacs_archive__one_flush_possible(a, loc, objects);
    }
    if (err != PACS_OK) {
        if (a->lock_fd >= 0) {
            close(a->lock_fd); /* leaves the open/clean record as it was */
            a->lock_fd = -1;
        }
        pacs_archive__unlock_dir(dir_fd);
        pacs_archive_close(a);
        return err;
    }
    if (sole) {
        recover(a, unclean);
        pacs_archive__mark_open(a->lock_fd, 1);
        if (!a->exclusive) {
            /* Not atomic, but no other process can take the lock meanwhile: they all take the
             * folder lock first. */
            flock(a->lock_fd, LOCK_SH);
        }
    }
    pacs_archive__unlock_dir(dir_fd);
    *out = a;
    return PACS_OK;
}

void pacs_archive_close(pacs_archive *a)
{
    if (!a) {
        return;
    }
    pacs_index_close(a->index);
    pacs_objstore_close(a->store);
    pacs_space_close(a->space);
    if (a->lock_fd >= 0) {
        int dir_fd = pacs_archive__lock_dir(a->data_dir);
        if (a->exclusive || flock(a->lock_fd, LOCK_EX | LOCK_NB) == 0) {
            pacs_archive__mark_open(a->lock_fd, 0); /* the last one out: a clean stop */
        }
        close(a->lock_fd);
        pacs_archive__unlock_dir(dir_fd);
    }
    pthread_mutex_destroy(&a->inflight_mu);
    free(a->inflight);
    free(a->data_dir);
    free(a);
}

const char *pacs_archive_data_dir(const pacs_archive *a)
{
    return a->data_dir;
}

pacs_space *pacs_archive_space(pacs_archive *a)
{
    return a->space;
}

const char *pacs_archive_index_backend(const pacs_archive *a)
{
    return pacs_index_backend(a->index);
}

void pacs_archive_set_stored_hook(pacs_archive *a, pacs_stored_hook hook, void *ctx)
{
    a->hook = hook;
    a->hook_ctx = ctx;
}

pacs_err pacs_archive_delete(pacs_archive *a, const pacs_query *q, uint64_t *n_removed,
                             pacs_errinfo *ei)
{
    pacs_err err = pacs_index_remove(a->index, q, n_removed, ei);
    if (err == PACS_OK) {
        sweep_pending(a);
    }
    return err;
}
