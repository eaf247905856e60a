// SPDX-License-Identifier: MIT
/*
 * The archive (archive.h): ingest, query and retrieve over the object store and the index.
 * Keys of objects being ingested are kept in an in-flight set, so that sweeping a replaced or
 * deleted object never removes a file that a concurrent ingest of identical bytes is about to
 * reference. With an index several nodes share (PostgreSQL), that set cannot see the other
 * nodes: each ingest also records an intent in the index before committing its object, and
 * objects are deleted only through pacs_index_object_release, which excludes every node's
 * ingest of the same object while it checks and deletes. The object folder may then be shared
 * (storage.objects); each node keeps its temporary files in a folder of its own inside it.
 */
#define _GNU_SOURCE /* memmem */
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

#include <time.h>

#include "pacs/base/log.h"
#include "pacs/dicom/dcm.h"
#include "storage/catalog.h"
#include "storage/objstore.h"

#define META_HEAD_MAX (64u * 1024u + 256u)

struct pacs_archive {
    char *data_dir;
    pacs_objstore *store;
    pacs_index *index;
    uint64_t max_object;
    pthread_mutex_t inflight_mu;
    char (*inflight)[PACS_OBJECT_KEY_LEN + 1];
    size_t n_inflight, cap_inflight;
    pacs_stored_hook hook;
    void *hook_ctx;
    int lock_fd;         /* DATA/pacs.lock, flock()ed shared (or exclusive) while open */
    int exclusive;       /* opened with PACS_ARCHIVE_EXCLUSIVE */
    char node[128];      /* this node's name (intents, its temporary folder) */
    int shared_store;    /* the object folder is storage.objects, which other nodes may use */
    int64_t sweep_grace; /* seconds before a shared folder's unreferenced object is an orphan */
};

struct pacs_ingest {
    pacs_archive *a;
    pacs_objwriter *w;
    char source_aet[17];
    int part10;    /* reading a client's Part 10 stream */
    uint8_t *head; /* its first bytes, until the meta header is read */
    size_t head_len;
    pacs_err sticky; /* first write error */
    pacs_errinfo sticky_ei;
    char expect_study[PACS_UID_MAX + 1]; /* "" or the Study Instance UID required */
};

static pacs_err make_dir(const char *path, pacs_errinfo *ei)
{
    if (mkdir(path, 0755) != 0 && errno != EEXIST) {
        return pacs_errf(ei, pacs_err_from_errno(errno), "mkdir %s: %s", path, strerror(errno));
    }
    return PACS_OK;
}

static void index_location(const pacs_config *cfg, char *buf, size_t cap)
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
static void node_name(const pacs_config *cfg, char *buf, size_t cap)
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
static void store_dirs(const pacs_config *cfg, const char *node, char *objects, char *tmp,
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

static void inflight_add(pacs_archive *a, const char *key)
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

static void inflight_remove(pacs_archive *a, const char *key)
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
static int sweep_object(pacs_archive *a, const char *key)
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
    sweep_object(ctx, object);
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

/* ---- Who has the data folder open ----
 * DATA/pacs.lock is flock()ed shared by every process that has the archive open (pacsd, pacs
 * import, ...) and exclusively by one that needs the folder to itself (reindex, sweeping
 * orphans). flock locks belong to the open file and vanish with the process, so a crash leaves
 * none behind. The file's content says whether the archive is open: "open" from the first
 * opening until the last clean close. Finding it set while being the only user means the last
 * run ended uncleanly (a crash, kill -9, power loss), so objects written but never indexed may
 * lie in the store. Opening and closing are serialised with an exclusive flock of the data
 * folder itself, which is held only for those moments. */

static int lock_dir(const char *data)
{
    int fd = open(data, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        while (flock(fd, LOCK_EX) != 0 && errno == EINTR) {
        }
    }
    return fd;
}

static void unlock_dir(int fd)
{
    if (fd >= 0) {
        close(fd); /* releases the flock */
    }
}

/* Takes DATA/pacs.lock: exclusively when `exclusive` (or when nobody else holds it, reported
 * in `*sole`), shared otherwise. Call with the folder locked. */
static pacs_err lock_use(const char *data, int exclusive, int *lock_fd, int *sole, int *unclean,
                         pacs_errinfo *ei)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/pacs.lock", data);
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0) {
        return pacs_errf(ei, pacs_err_from_errno(errno), "cannot open %s: %s", path,
                         strerror(errno));
    }
    *sole = flock(fd, LOCK_EX | LOCK_NB) == 0;
    if (!*sole && exclusive) {
        close(fd);
        return pacs_errf(ei, PACS_EBUSY,
                         "the data folder %s is in use by another process (a running pacsd or "
                         "pacs command); stop it first",
                         data);
    }
    if (!*sole && flock(fd, LOCK_SH | LOCK_NB) != 0) {
        close(fd);
        return pacs_errf(ei, PACS_EBUSY,
                         "the data folder %s is held by another process that needs it alone "
                         "(pacs reindex or pacs verify --sweep); try again when it is done",
                         data);
    }
    struct stat sb;
    *unclean = *sole && fstat(fd, &sb) == 0 && sb.st_size > 0;
    *lock_fd = fd;
    return PACS_OK;
}

/* Records in the lock file whether the archive is open ("open\n") or was closed cleanly. */
static void mark_open(int fd, int open_now)
{
    if (ftruncate(fd, 0) == 0 && (!open_now || pwrite(fd, "open\n", 5, 0) == 5)) {
        fsync(fd);
    }
}

static pacs_err sweep_orphans(pacs_archive *a, int sweep, pacs_problem_cb problem, void *ctx,
                              pacs_verify_report *r, pacs_errinfo *ei);

static void log_orphan(void *ctx, const char *kind, const char *object, const char *sop,
                       const char *detail)
{
    (void)ctx;
    (void)sop;
    pacs_log(PACS_LOG_INFO, "archive", "%s object=%s: %s", kind, object, detail);
}

static void recover_intents(pacs_archive *a);

/* Start-up clean-up, only when no other process has the data folder open: temporary files of
 * an earlier run, objects whose removal was recorded but not done, and after an unclean stop
 * the objects that were written but never indexed. On a shared index those are the objects
 * this node's intents still name; a shared object folder (storage.objects) is not walked, as
 * other nodes' work lies there too (`pacs verify --sweep` takes what a grace period leaves). */
static void recover(pacs_archive *a, int unclean)
{
    pacs_objstore_clean_tmp(a->store);
    sweep_pending(a);
    if (unclean && pacs_index_shared(a->index)) {
        recover_intents(a);
    }
    if (unclean && !a->shared_store) {
        pacs_verify_report r;
        pacs_errinfo ei;
        memset(&r, 0, sizeof r);
        if (sweep_orphans(a, 1, log_orphan, NULL, &r, &ei) != PACS_OK) {
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
    index_location(cfg, loc, sizeof loc);
    pacs_archive *a = calloc(1, sizeof *a);
    if (!a || !(a->data_dir = strdup(data))) {
        free(a);
        return pacs_errf(ei, PACS_ENOMEM, "out of memory");
    }
    node_name(cfg, a->node, sizeof a->node);
    store_dirs(cfg, a->node, objects, tmp, sizeof objects);
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
    int dir_fd = lock_dir(data);
    if (dir_fd < 0) {
        err =
            pacs_errf(ei, pacs_err_from_errno(errno), "cannot lock %s: %s", data, strerror(errno));
        pacs_archive_close(a);
        return err;
    }
    int sole = 0, unclean = 0;
    err = lock_use(data, a->exclusive, &a->lock_fd, &sole, &unclean, ei);
    if (err == PACS_OK) {
        err = pacs_objstore_open(objects, tmp, &a->store, ei);
    }
    if (err == PACS_OK) {
        err = pacs_index_open_opts(loc, &opts, &a->index, ei);
    }
    if (err != PACS_OK) {
        if (a->lock_fd >= 0) {
            close(a->lock_fd); /* leaves the open/clean record as it was */
            a->lock_fd = -1;
        }
        unlock_dir(dir_fd);
        pacs_archive_close(a);
        return err;
    }
    if (sole) {
        recover(a, unclean);
        mark_open(a->lock_fd, 1);
        if (!a->exclusive) {
            /* Not atomic, but no other process can take the lock meanwhile: they all take the
             * folder lock first. */
            flock(a->lock_fd, LOCK_SH);
        }
    }
    unlock_dir(dir_fd);
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
    if (a->lock_fd >= 0) {
        int dir_fd = lock_dir(a->data_dir);
        if (a->exclusive || flock(a->lock_fd, LOCK_EX | LOCK_NB) == 0) {
            mark_open(a->lock_fd, 0); /* the last one out: a clean stop */
        }
        close(a->lock_fd);
        unlock_dir(dir_fd);
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

void pacs_archive_set_stored_hook(pacs_archive *a, pacs_stored_hook hook, void *ctx)
{
    a->hook = hook;
    a->hook_ctx = ctx;
}

static pacs_err start_object(pacs_ingest *in, const pacs_meta *m, pacs_errinfo *ei)
{
    if (!pacs_dcm_ts_known(m->transfer_syntax_uid)) {
        return pacs_errf(ei, PACS_EUNSUPPORTED, "unknown transfer syntax %s",
                         m->transfer_syntax_uid);
    }
    uint8_t meta[512];
    size_t meta_len = 0;
    pacs_errinfo sub;
    pacs_err err = pacs_meta_build(m, meta, sizeof meta, &meta_len, &sub);
    if (err != PACS_OK) {
        /* An invalid UID is the sender's data (a message in `sub`, not formatted onto itself). */
        return pacs_errf(ei, err == PACS_EINVAL ? PACS_EBADDATA : err, "%s", sub.msg);
    }
    err = pacs_objstore_begin(in->a->store, in->a->max_object, &in->w, ei);
    if (err == PACS_OK) {
        err = pacs_objwriter_write(in->w, meta, meta_len, ei);
    }
    return err;
}

pacs_err pacs_archive_ingest_begin(pacs_archive *a, const pacs_meta *m, const char *source_aet,
                                   pacs_ingest **out, pacs_errinfo *ei)
{
    pacs_ingest *in = calloc(1, sizeof *in);
    if (!in) {
        return pacs_errf(ei, PACS_ENOMEM, "out of memory");
    }
    in->a = a;
    snprintf(in->source_aet, sizeof in->source_aet, "%s", source_aet ? source_aet : "");
    if (m) {
        pacs_err err = start_object(in, m, ei);
        if (err != PACS_OK) {
            pacs_ingest_abort(in);
            return err;
        }
    } else {
        in->part10 = 1;
        in->head = malloc(META_HEAD_MAX);
        if (!in->head) {
            pacs_ingest_abort(in);
            return pacs_errf(ei, PACS_ENOMEM, "out of memory");
        }
    }
    *out = in;
    return PACS_OK;
}

/* Part 10 stream: gather bytes until the client's meta header is read, then start our object
 * with our meta header and the dataset bytes that followed theirs. */
static pacs_err feed_head(pacs_ingest *in, const uint8_t *data, size_t len, pacs_errinfo *ei)
{
    size_t take = META_HEAD_MAX - in->head_len < len ? META_HEAD_MAX - in->head_len : len;
    memcpy(in->head + in->head_len, data, take);
    in->head_len += take;
    pacs_meta m;
    size_t ds_start = 0;
    pacs_err err = pacs_meta_read(in->head, in->head_len, &m, &ds_start, ei);
    if (err == PACS_EAGAIN) {
        if (in->head_len == META_HEAD_MAX) {
            return pacs_errf(ei, PACS_EBADDATA, "meta header too long");
        }
        return PACS_OK;
    }
    if (err != PACS_OK) {
        return err;
    }
    err = start_object(in, &m, ei);
    if (err == PACS_OK) {
        err = pacs_objwriter_write(in->w, in->head + ds_start, in->head_len - ds_start, ei);
    }
    if (err == PACS_OK && take < len) {
        err = pacs_objwriter_write(in->w, data + take, len - take, ei);
    }
    free(in->head);
    in->head = NULL;
    return err;
}

pacs_err pacs_ingest_write(pacs_ingest *in, const void *data, size_t len, pacs_errinfo *ei)
{
    if (in->sticky != PACS_OK) {
        if (ei) {
            *ei = in->sticky_ei;
        }
        return in->sticky;
    }
    pacs_err err;
    if (in->head) {
        err = feed_head(in, data, len, &in->sticky_ei);
    } else {
        err = pacs_objwriter_write(in->w, data, len, &in->sticky_ei);
    }
    if (err != PACS_OK) {
        in->sticky = err;
        in->sticky_ei.code = err;
        if (ei) {
            *ei = in->sticky_ei;
        }
    }
    return err;
}

void pacs_ingest_abort(pacs_ingest *in)
{
    if (!in) {
        return;
    }
    pacs_objwriter_abort(in->w);
    free(in->head);
    free(in);
}

/* Parses the object at `path` and builds its index entry; `parsed` must be cleared after. */
static pacs_err parse_for_index(const char *path, const char *key, uint64_t size,
                                const char *source, pacs_dcm_parsed *parsed, pacs_index_entry *e,
                                uint8_t **layout, pacs_errinfo *ei)
{
    pacs_err err = pacs_dcm_parse_file(path, parsed, ei);
    if (err != PACS_OK) {
        return err;
    }
    memset(e, 0, sizeof *e);
    *layout = NULL;
    if (parsed->pixels.kind != PACS_PIXELS_NONE) {
        err = pacs_pixel_layout_encode(&parsed->pixels, layout, &e->pixel_layout_len, ei);
        if (err != PACS_OK) {
            pacs_dcm_parsed_clear(parsed);
            return err;
        }
        e->pixel_layout = *layout;
    }
    e->json = parsed->json;
    e->study_uid = parsed->study_uid;
    e->series_uid = parsed->series_uid;
    e->sop_uid = parsed->meta.sop_instance_uid;
    e->sop_class_uid = parsed->meta.sop_class_uid;
    e->ts_uid = parsed->meta.transfer_syntax_uid;
    snprintf(e->object, sizeof e->object, "%s", key);
    e->object_size = size;
    e->n_frames = parsed->n_frames;
    e->source_aet = source;
    return PACS_OK;
}

pacs_err pacs_ingest_finish(pacs_ingest *in, pacs_ingest_result *res, pacs_errinfo *ei)
{
    pacs_archive *a = in->a;
    pacs_dcm_parsed parsed;
    memset(&parsed, 0, sizeof parsed);
    uint8_t *layout = NULL;
    char key[PACS_OBJECT_KEY_LEN + 1] = "";
    int committed = 0;
    pacs_err err = in->sticky;
    if (err != PACS_OK) {
        if (ei) {
            *ei = in->sticky_ei;
        }
        goto done;
    }
    if (in->head || !in->w) {
        err = pacs_errf(ei, PACS_EBADDATA, "the data ended inside the meta header");
        goto done;
    }
    err = pacs_objwriter_key(in->w, key, ei);
    if (err != PACS_OK) {
        goto done;
    }
    pacs_index_entry e;
    err = parse_for_index(pacs_objwriter_path(in->w), key, pacs_objwriter_size(in->w),
                          in->source_aet, &parsed, &e, &layout, ei);
    if (err != PACS_OK) {
        goto done;
    }
    if (in->expect_study[0] && strcmp(in->expect_study, parsed.study_uid) != 0) {
        err = pacs_errf(ei, PACS_ECONFLICT, "Study Instance UID %s is not %s", parsed.study_uid,
                        in->expect_study);
        goto done;
    }
    inflight_add(a, key);
    err = pacs_index_intent_add(a->index, key, ei);
    if (err != PACS_OK) {
        inflight_remove(a, key);
        goto done;
    }
    err = pacs_objwriter_commit(in->w, ei);
    in->w = NULL;
    if (err != PACS_OK) {
        pacs_index_intent_clear(a->index, key, NULL);
        inflight_remove(a, key);
        goto done;
    }
    committed = 1;
    pacs_put_result put;
    err = pacs_index_put(a->index, &e, &put, ei);
    if (err != PACS_OK) {
        pacs_index_intent_clear(a->index, key, NULL);
    }
    inflight_remove(a, key);
    if (err != PACS_OK) {
        goto done;
    }
    memset(res, 0, sizeof *res);
    res->meta = parsed.meta;
    snprintf(res->study_uid, sizeof res->study_uid, "%s", parsed.study_uid);
    snprintf(res->series_uid, sizeof res->series_uid, "%s", parsed.series_uid);
    snprintf(res->object, sizeof res->object, "%s", key);
    res->duplicate = put.existed && !put.replaced;
    res->replaced = put.replaced;
    res->charset_warning = parsed.charset_warning;
    char *modality = pacs_json_text(parsed.json, 0x00080060u);
    if (modality) {
        snprintf(res->modality, sizeof res->modality, "%s", modality);
        free(modality);
    }
    char *patient_id = pacs_json_text(parsed.json, 0x00100020u);
    if (patient_id) {
        snprintf(res->patient_id, sizeof res->patient_id, "%s", patient_id);
        free(patient_id);
    }
    if (put.replaced) {
        sweep_object(a, put.old_object);
    }
    if (a->hook) {
        a->hook(a->hook_ctx, res, in->source_aet);
    }
done:
    if (err != PACS_OK && committed) {
        /* Stored but not indexed: remove the object unless something else refers to it. */
        sweep_object(a, key);
    }
    pacs_dcm_parsed_clear(&parsed);
    free(layout);
    pacs_ingest_abort(in);
    return err;
}

pacs_err pacs_archive_ingest_file(pacs_archive *a, const char *path, const char *source_aet,
                                  pacs_ingest_result *res, pacs_errinfo *ei)
{
    pacs_meta m;
    uint64_t start = 0;
    pacs_err err = pacs_dcm_probe_file(path, &m, &start, ei);
    if (err != PACS_OK) {
        return err;
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return pacs_errf(ei, pacs_err_from_errno(errno), "open %s: %s", path, strerror(errno));
    }
    /* The dataset alone, under the identity the dataset states (as C-STORE would send it):
     * the file's own meta header is packaging and is replaced by ours. */
    if (lseek(fd, (off_t)start, SEEK_SET) < 0) {
        err = pacs_errf(ei, PACS_EIO, "seek %s: %s", path, strerror(errno));
        close(fd);
        return err;
    }
    pacs_ingest *in = NULL;
    err = pacs_archive_ingest_begin(a, &m, source_aet, &in, ei);
    if (err != PACS_OK) {
        close(fd);
        return err;
    }
    static __thread uint8_t buf[1 << 17];
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            err = pacs_errf(ei, PACS_EIO, "read %s: %s", path, strerror(errno));
            break;
        }
        if (n == 0) {
            break;
        }
        err = pacs_ingest_write(in, buf, (size_t)n, ei);
        if (err != PACS_OK) {
            break;
        }
    }
    close(fd);
    if (err != PACS_OK) {
        pacs_ingest_abort(in);
        return err;
    }
    return pacs_ingest_finish(in, res, ei);
}

pacs_err pacs_archive_find(pacs_archive *a, const pacs_query *q, pacs_find_cb cb, void *ctx,
                           pacs_errinfo *ei)
{
    return pacs_index_find(a->index, q, cb, ctx, ei);
}

pacs_err pacs_archive_instances(pacs_archive *a, const pacs_query *q, unsigned flags,
                                pacs_instance_cb cb, void *ctx, pacs_errinfo *ei)
{
    return pacs_index_instances(a->index, q, flags, cb, ctx, ei);
}

pacs_err pacs_archive_open_object(pacs_archive *a, const char *object, int *fd, pacs_errinfo *ei)
{
    return pacs_objstore_open_read(a->store, object, fd, ei);
}

pacs_err pacs_archive_object_path(pacs_archive *a, const char *object, char *buf, size_t cap,
                                  pacs_errinfo *ei)
{
    if (pacs_objstore_path(a->store, object, buf, cap) != PACS_OK) {
        return pacs_errf(ei, PACS_EINVAL, "bad object key '%s'", object);
    }
    return PACS_OK;
}

pacs_err pacs_archive_bulkdata_find(pacs_archive *a, const char *object, const char *path,
                                    pacs_bulk_range *out, pacs_errinfo *ei)
{
    int fd = -1;
    pacs_err err = pacs_objstore_open_read(a->store, object, &fd, ei);
    if (err != PACS_OK) {
        return err;
    }
    err = pacs_walk_find_value(fd, path, out, ei);
    close(fd);
    if (err == PACS_EBADDATA) {
        /* Every stored object parsed at ingest: one that no longer does has been damaged. */
        err = PACS_ECORRUPT;
        if (ei) {
            ei->code = err;
        }
    }
    return err;
}

void pacs_ingest_expect_study(pacs_ingest *in, const char *study_uid)
{
    snprintf(in->expect_study, sizeof in->expect_study, "%s", study_uid ? study_uid : "");
}

pacs_err pacs_archive_metadata_append(const char *json, size_t len, const char *instance_url,
                                      pacs_buf *out, pacs_errinfo *ei)
{
    static const char key[] = "\"BulkDataURI\":\"";
    const size_t klen = sizeof key - 1;
    const char *p = json, *end = json + len;
    pacs_err err = PACS_OK;
    while (err == PACS_OK && p < end) {
        const char *hit = memmem(p, (size_t)(end - p), key, klen);
        if (!hit) {
            err = pacs_buf_append(out, p, (size_t)(end - p));
            break;
        }
        hit += klen;
        err = pacs_buf_append(out, p, (size_t)(hit - p));
        /* Absolute URIs (from an older ingest, say) are kept as they are. */
        if (err == PACS_OK &&
            !(end - hit >= 5 && (memcmp(hit, "http:", 5) == 0 || memcmp(hit, "https", 5) == 0))) {
            err = pacs_buf_puts(out, instance_url);
            if (err == PACS_OK) {
                err = pacs_buf_append(out, "/", 1);
            }
        }
        p = hit;
    }
    return err == PACS_OK ? PACS_OK : pacs_errf(ei, err, "metadata too large");
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

pacs_err pacs_archive_stats(pacs_archive *a, pacs_index_stats *out, pacs_errinfo *ei)
{
    return pacs_index_stats_get(a->index, out, ei);
}

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
        n += sweep_object(a, ks->keys[i]);
    }
    return n;
}

/* After an unclean stop of this node: the objects its ingests were committing. */
static void recover_intents(pacs_archive *a)
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
    if (key[0] && bsearch(key, v->sorted.keys, v->sorted.n, sizeof *v->sorted.keys, cmp_key)) {
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
        v->r->swept += (uint64_t)sweep_object(v->a, key);
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

static pacs_err sweep_orphans(pacs_archive *a, int sweep, pacs_problem_cb problem, void *ctx,
                              pacs_verify_report *r, pacs_errinfo *ei)
{
    keyset ks;
    memset(&ks, 0, sizeof ks);
    pacs_err err = pacs_index_objects(a->index, collect_object, &ks, ei);
    if (err == PACS_OK) {
        qsort(ks.keys, ks.n, sizeof *ks.keys, cmp_key);
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
    pacs_err err = parse_for_index(path, key, size, "", &parsed, &e, &layout, &sub);
    if (err == PACS_OK) {
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

pacs_err pacs_archive_reindex(const pacs_config *cfg, pacs_progress_cb progress,
                              pacs_problem_cb problem, void *ctx, uint64_t *indexed,
                              pacs_errinfo *ei)
{
    const char *data = pacs_config_str(cfg, "data");
    char objects[4096], tmp[4200], loc[4096], fresh[4200], node[128];
    node_name(cfg, node, sizeof node);
    store_dirs(cfg, node, objects, tmp, sizeof objects);
    index_location(cfg, loc, sizeof loc);
    if (strncmp(loc, "sqlite:", 7) == 0) {
        memmove(loc, loc + 7, strlen(loc + 7) + 1);
    }
    /* A PostgreSQL index is rebuilt in place, in one transaction that first empties it:
     * readers see the old index until the new one commits, and a failure changes nothing. */
    int in_place = strncmp(loc, "postgres", 8) == 0;
    snprintf(fresh, sizeof fresh, "%s.reindex", loc);
    /* The index is replaced under the feet of anyone using it: refuse unless alone. */
    int dir_fd = lock_dir(data), lock_fd = -1, sole = 0, unclean = 0;
    if (dir_fd < 0) {
        return pacs_errf(ei, pacs_err_from_errno(errno), "cannot lock %s: %s", data,
                         strerror(errno));
    }
    pacs_err err = lock_use(data, 1, &lock_fd, &sole, &unclean, ei);
    unlock_dir(dir_fd);
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
    pacs_index_options opts = {(unsigned)pacs_config_int(cfg, "index.pool"), node,
                               PACS_INDEX_BULK | PACS_INDEX_BULK_EMPTY, 0};
    err = pacs_objstore_open(objects, tmp, &r.store, ei);
    if (err == PACS_OK) {
        pacs_objstore_clean_tmp(r.store);
        err = pacs_index_open_opts(in_place ? loc : fresh, &opts, &r.index, ei);
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
        mark_open(lock_fd, 0);
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
    mark_open(lock_fd, 0);
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

/* ---- Storage commitment ---- */

typedef struct commit_lookup {
    int found;
    char sop_class[PACS_UID_MAX + 1];
    char object[PACS_OBJECT_KEY_LEN + 1];
} commit_lookup;

static int commit_cb(void *ctx, const pacs_instance_rec *rec)
{
    commit_lookup *l = ctx;
    l->found = 1;
    snprintf(l->sop_class, sizeof l->sop_class, "%s", rec->sop_class);
    snprintf(l->object, sizeof l->object, "%s", rec->object);
    return 1;
}

pacs_err pacs_archive_commit_check(pacs_archive *a, const char *sop_class, const char *sop_uid,
                                   pacs_errinfo *ei)
{
    if (!pacs_uid_valid(sop_uid)) {
        return pacs_errf(ei, PACS_ENOTFOUND, "'%s' is not a valid SOP Instance UID", sop_uid);
    }
    pacs_query *q = pacs_query_new(PACS_LEVEL_INSTANCE);
    if (!q) {
        return pacs_errf(ei, PACS_ENOMEM, "out of memory");
    }
    commit_lookup l;
    memset(&l, 0, sizeof l);
    pacs_err err = pacs_query_add(q, 0x00080018u, "UI", sop_uid, ei);
    if (err == PACS_OK) {
        err = pacs_index_instances(a->index, q, 0, commit_cb, &l, ei);
    }
    pacs_query_free(q);
    if (err != PACS_OK) {
        return err;
    }
    if (!l.found) {
        return pacs_errf(ei, PACS_ENOTFOUND, "SOP instance %s is not stored", sop_uid);
    }
    if (strcmp(l.sop_class, sop_class) != 0) {
        return pacs_errf(ei, PACS_ECONFLICT, "SOP instance %s is stored as class %s, not %s",
                         sop_uid, l.sop_class, sop_class);
    }
    uint64_t size = 0;
    err = pacs_objstore_verify(a->store, l.object, &size, ei);
    if (err == PACS_ENOTFOUND) {
        return pacs_errf(ei, PACS_ECORRUPT, "the object of %s is missing", sop_uid);
    }
    return err;
}

pacs_err pacs_archive_temp_fd(pacs_archive *a, int *fd, pacs_errinfo *ei)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/tmp/xfer-XXXXXX", a->data_dir);
    int f = mkstemp(path);
    if (f < 0) {
        return pacs_errf(ei, pacs_err_from_errno(errno), "temporary file in %s/tmp: %s",
                         a->data_dir, strerror(errno));
    }
    unlink(path);
    fcntl(f, F_SETFD, FD_CLOEXEC);
    *fd = f;
    return PACS_OK;
}

/* ---- The forwarding queue ---- */

pacs_err pacs_archive_forward_enqueue(pacs_archive *a, const char *dest, const char *rule,
                                      const char *sop_uid, const char *object, int *added,
                                      pacs_errinfo *ei)
{
    return pacs_index_fwd_enqueue(a->index, dest, rule, sop_uid, object, (int64_t)time(NULL), added,
                                  ei);
}

pacs_err pacs_archive_forward_due(pacs_archive *a, size_t limit, pacs_fwd_cb cb, void *ctx,
                                  pacs_errinfo *ei)
{
    return pacs_index_fwd_due(a->index, (int64_t)time(NULL), limit, cb, ctx, ei);
}

pacs_err pacs_archive_forward_update(pacs_archive *a, const pacs_fwd_update *u, size_t n,
                                     pacs_errinfo *ei)
{
    return pacs_index_fwd_update(a->index, u, n, ei);
}

pacs_err pacs_archive_forward_list(const pacs_config *cfg, int state, pacs_fwd_cb cb, void *ctx,
                                   pacs_errinfo *ei)
{
    char loc[4096];
    index_location(cfg, loc, sizeof loc);
    pacs_index *idx = NULL;
    pacs_err err = pacs_index_open(loc, &idx, ei);
    if (err != PACS_OK) {
        return err;
    }
    err = pacs_index_fwd_list(idx, state, cb, ctx, ei);
    pacs_index_close(idx);
    return err;
}

pacs_err pacs_archive_forward_retry(const pacs_config *cfg, int64_t id, uint64_t *n,
                                    pacs_errinfo *ei)
{
    char loc[4096];
    index_location(cfg, loc, sizeof loc);
    pacs_index *idx = NULL;
    pacs_err err = pacs_index_open(loc, &idx, ei);
    if (err != PACS_OK) {
        return err;
    }
    err = pacs_index_fwd_retry(idx, id, (int64_t)time(NULL), n, ei);
    pacs_index_close(idx);
    return err;
}
