// SPDX-License-Identifier: MIT
/*
 * The one ingest path (archive.h): C-STORE, STOW-RS and imported files alike. The bytes go to
 * a temporary object as they arrive (a client's Part 10 meta header is replaced by ours);
 * finish parses the object once (pacs_dcm_parse_file), records an intent, commits the object,
 * commits its index rows (group commit) and only then reports success. With one flush
 * (archive_unflushed.c) the object is placed unflushed, its rows committed unflushed, and one
 * flush of the file system makes both durable before success. Every stored instance
 * passes through here: nothing is parsed, copied or flushed twice.
 *
 * Thread-safe: each ingest belongs to one thread; many run at once on one archive.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "storage/archive_internal.h"
#include "storage/audit.h"
#include "storage/catalog.h"

#define META_HEAD_MAX (64u * 1024u + 256u)

struct pacs_ingest {
    pacs_archive *a;
    pacs_objwriter *w;
    char source_aet[17];
    char source_http[PACS_SOURCE_HTTP_MAX + 1]; /* "" or the HTTP credential's name */
    int part10;                                 /* reading a client's Part 10 stream */
    uint8_t *head;                              /* its first bytes, until the meta header is read */
    size_t head_len;
    pacs_err sticky; /* first write error */
    pacs_errinfo sticky_ei;
    char expect_study[PACS_UID_MAX + 1]; /* "" or the Study Instance UID required */
};

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
    pacs_err space = pacs_space_admit(a->space, ei);
    if (space != PACS_OK) {
        return space;
    }
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

void pacs_ingest_set_http_source(pacs_ingest *in, const char *name)
{
    snprintf(in->source_http, sizeof in->source_http, "%s", name ? name : "");
}

void pacs_ingest_expect_study(pacs_ingest *in, const char *study_uid)
{
    snprintf(in->expect_study, sizeof in->expect_study, "%s", study_uid ? study_uid : "");
}

/* The audit trail's lines for an instance reconciled to an order: its study linked to the
 * order's patient (once per study: the study's later instances follow it), and the order
 * going IN PROGRESS with it. */
static void audit_reconciled(const pacs_put_result *put, const char *study_uid)
{
    char what[128];
    pacs_audit_event ev = {.action = PACS_AUDIT_PATIENT,
                           .success = 1,
                           .patient_id = put->patient_id,
                           .study_uid = study_uid,
                           .detail = what,
                           .count = 1};
    if (put->study_linked) {
        snprintf(what, sizeof what, "reconcile study to placer=%s", put->order_placer);
        pacs_audit_record(&ev);
    }
    if (put->order_started) {
        snprintf(what, sizeof what, "in progress placer=%s (images arrived)", put->order_placer);
        ev.action = PACS_AUDIT_ORDER;
        ev.patient_id = NULL;
        pacs_audit_record(&ev);
    }
}

/* Parses the object at `path` and builds its index entry; `parsed` must be cleared after. */
pacs_err pacs_archive__parse_for_index(const char *path, const char *key, uint64_t size,
                                       const char *source, pacs_dcm_parsed *parsed,
                                       pacs_index_entry *e, uint8_t **layout, pacs_errinfo *ei)
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
    err = pacs_archive__parse_for_index(pacs_objwriter_path(in->w), key, pacs_objwriter_size(in->w),
                                        in->source_aet, &parsed, &e, &layout, ei);
    if (err != PACS_OK) {
        goto done;
    }
    if (in->expect_study[0] && strcmp(in->expect_study, parsed.study_uid) != 0) {
        err = pacs_errf(ei, PACS_ECONFLICT, "Study Instance UID %s is not %s", parsed.study_uid,
                        in->expect_study);
        goto done;
    }
    e.source_http = in->source_http[0] ? in->source_http : NULL;
    e.id_systems = (const char(*)[17])a->id_systems;
    e.n_id_systems = a->n_id_systems;
    pacs_archive__inflight_add(a, key);
    err = pacs_index_intent_add(a->index, key, ei);
    if (err != PACS_OK) {
        pacs_archive__inflight_remove(a, key);
        goto done;
    }
    /* One flush: the object placed, its rows committed unflushed, then the file system's flush
     * makes both durable. Two: the object flushed, then the rows' own commit. */
    err = a->one_flush ? pacs_objwriter_place(in->w, ei) : pacs_objwriter_commit(in->w, ei);
    in->w = NULL;
    if (err != PACS_OK) {
        pacs_index_intent_clear(a->index, key, NULL);
        pacs_archive__inflight_remove(a, key);
        goto done;
    }
    committed = 1;
    e.unflushed = a->one_flush;
    pacs_put_result put;
    err = pacs_index_put(a->index, &e, &put, ei);
    if (err != PACS_OK) {
        pacs_index_intent_clear(a->index, key, NULL);
    } else if (a->one_flush) {
        err = pacs_objstore_flush(a->store, ei);
        if (err == PACS_OK) {
            pacs_index_flushed(a->index, put.unflushed_id);
        } else if (put.unflushed_id) {
            pacs_archive__unflushed_undo(a, key, put.old_object);
        }
    }
    pacs_archive__inflight_remove(a, key);
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
        pacs_archive__sweep_object(a, put.old_object);
    }
    audit_reconciled(&put, parsed.study_uid);
    snprintf(res->source_http, sizeof res->source_http, "%s", in->source_http);
    if (a->hook) {
        a->hook(a->hook_ctx, res, in->source_aet);
    }
done:
    if (err != PACS_OK && committed) {
        /* Stored but not indexed: remove the object unless something else refers to it. */
        pacs_archive__sweep_object(a, key);
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
    return pacs_archive_ingest_probed(a, path, &m, start, source_aet, res, ei);
}

pacs_err pacs_archive_ingest_probed(pacs_archive *a, const char *path, const pacs_meta *m,
                                    uint64_t start, const char *source_aet, pacs_ingest_result *res,
                                    pacs_errinfo *ei)
{
    pacs_err err;
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
    err = pacs_archive_ingest_begin(a, m, source_aet, &in, ei);
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
