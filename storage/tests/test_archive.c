// SPDX-License-Identifier: MIT
/*
 * Unit tests of the archive (storage/archive*.c) on a real data folder under /tmp with a real
 * SQLite index, fed pydicom's sample files ($SAMPLES, as the integration tests use them):
 * - ingest through its three doors (a file, a Part 10 stream in small pieces, a bare dataset
 *   under a command's identity) stores the same bytes, our meta header and the dataset as
 *   received, under their SHA-256 (computed here with OpenSSL), indexed and durable;
 * - refused input (truncated, not DICOM, disagreeing identity, another study) leaves no
 *   object, no index row and no temporary file;
 * - a process that dies with the folder open leaves an orphan object and a temporary file,
 *   which the next opening sweeps; after a clean stop nothing is swept;
 * - verify finds a corrupt, a missing and an orphan object and sweeps the orphan; reindex
 *   rebuilds the index from the objects alone;
 * - bulk data ranges point at exactly the bytes a (nested) BulkDataURI of the stored metadata
 *   names, in explicit and implicit VR little endian and explicit VR big endian.
 */
#define _XOPEN_SOURCE 700 /* nftw */
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include <openssl/evp.h>

#include "pacs/base/log.h"
#include "pacs/base/tests/testfiles.h"
#include "pacs/dicom/dcm.h"
#include "storage/archive.h"
#include "storage/objstore.h"

#define SC_CLASS "1.2.840.10008.5.1.4.1.1.7"

typedef struct fixture {
    char dir[64];
    char data[96];
    pacs_config *cfg;
    pacs_archive *a;
} fixture;

/* ---- helpers ---- */

static void sha256_hex(const uint8_t *data, size_t len, char out[65])
{
    unsigned char md[32];
    unsigned int n = 0;
    assert_int_equal(EVP_Digest(data, len, md, &n, EVP_sha256(), NULL), 1);
    for (unsigned i = 0; i < 32; i++) {
        snprintf(out + 2 * i, 3, "%02x", md[i]);
    }
}

/* What the archive must store for a file: our meta header for the identity its dataset states,
 * then its dataset bytes as they are. */
static uint8_t *expected_object(const char *path, pacs_meta *m, size_t *len)
{
    uint64_t start = 0;
    pacs_errinfo ei;
    if (pacs_dcm_probe_file(path, m, &start, &ei) != PACS_OK) {
        fail_msg("probe %s: %s", path, ei.msg);
    }
    size_t n = 0;
    uint8_t *raw = read_all(path, &n);
    uint8_t meta[512];
    size_t ml = 0;
    assert_int_equal(pacs_meta_build(m, meta, sizeof meta, &ml, NULL), PACS_OK);
    uint8_t *out = malloc(ml + n - start);
    assert_non_null(out);
    memcpy(out, meta, ml);
    memcpy(out + ml, raw + start, n - start);
    *len = ml + n - start;
    free(raw);
    return out;
}

static uint8_t *stored_object(pacs_archive *a, const char *key, size_t *len)
{
    char path[4096];
    assert_int_equal(pacs_archive_object_path(a, key, path, sizeof path, NULL), PACS_OK);
    return read_all(path, len);
}

static int n_counted;

static int count_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)path;
    (void)st;
    (void)ftw;
    n_counted += flag == FTW_F;
    return 0;
}

/* Regular files under `dir` (0 when it does not exist). */
static int count_files(const char *dir)
{
    n_counted = 0;
    nftw(dir, count_one, 16, FTW_PHYS);
    return n_counted;
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    snprintf(f->dir, sizeof f->dir, "/tmp/pacs-test-archive.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->data, sizeof f->data, "%s/data", f->dir);
    pacs_errinfo ei;
    f->cfg = pacs_config_new();
    assert_non_null(f->cfg);
    if (pacs_config_set(f->cfg, "data", f->data, &ei) != PACS_OK ||
        pacs_config_finish(f->cfg, &ei) != PACS_OK ||
        pacs_archive_open(f->cfg, &f->a, &ei) != PACS_OK) {
        fail_msg("archive: %s", ei.msg);
    }
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    pacs_archive_close(f->a);
    pacs_config_free(f->cfg);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

static void reopen(fixture *f, unsigned flags)
{
    pacs_archive_close(f->a);
    f->a = NULL;
    pacs_errinfo ei;
    if (pacs_archive_open_ex(f->cfg, flags, &f->a, &ei) != PACS_OK) {
        fail_msg("reopen: %s", ei.msg);
    }
}

static void ingest(fixture *f, const char *path, pacs_ingest_result *res)
{
    pacs_errinfo ei;
    if (pacs_archive_ingest_file(f->a, path, "TEST", res, &ei) != PACS_OK) {
        fail_msg("ingest %s: %s", path, ei.msg);
    }
}

/* One instance as the index has it; `metadata` (may be NULL) receives its stored JSON. */
typedef struct found {
    int n;
    pacs_instance_rec rec;
    char *metadata;
} found;

static int found_cb(void *ctx, const pacs_instance_rec *rec)
{
    found *fd = ctx;
    fd->n++;
    fd->rec = *rec;
    fd->rec.pixel_layout = NULL;
    fd->rec.source_aet = fd->rec.received = NULL;
    free(fd->metadata);
    fd->metadata = rec->metadata ? strndup(rec->metadata, rec->metadata_len) : NULL;
    fd->rec.metadata = fd->metadata;
    return 0;
}

static found lookup(pacs_archive *a, const char *sop_uid)
{
    found fd;
    memset(&fd, 0, sizeof fd);
    pacs_query *q = pacs_query_new(PACS_LEVEL_INSTANCE);
    assert_non_null(q);
    assert_int_equal(pacs_query_add(q, 0x00080018u, "UI", sop_uid, NULL), PACS_OK);
    assert_int_equal(pacs_archive_instances(a, q, PACS_REC_METADATA, found_cb, &fd, NULL), PACS_OK);
    pacs_query_free(q);
    return fd;
}

static uint64_t n_instances(pacs_archive *a)
{
    pacs_index_stats st;
    assert_int_equal(pacs_archive_stats(a, &st, NULL), PACS_OK);
    return st.instances;
}

static int hook_calls;

static void count_hook(void *ctx, const pacs_ingest_result *res, const char *source_aet)
{
    (void)ctx;
    assert_string_equal(source_aet, "TEST");
    assert_true(res->object[0] != '\0');
    hook_calls++;
}

/* ---- ingest ---- */

static void test_ingest_three_doors(void **state)
{
    fixture *f = *state;
    static const char *const files[] = {
        "test_files/CT_small.dcm",      "test_files/MR_small_implicit.dcm",
        "test_files/ExplVR_BigEnd.dcm", "test_files/JPEG2000.dcm",
        "test_files/image_dfl.dcm",     "test_files/test-SR.dcm",
    };
    const size_t n_files = sizeof files / sizeof files[0];
    hook_calls = 0;
    pacs_archive_set_stored_hook(f->a, count_hook, NULL);
    for (size_t i = 0; i < n_files; i++) {
        const char *path = sample(files[i]);
        pacs_meta m;
        size_t want_len = 0;
        uint8_t *want = expected_object(path, &m, &want_len);
        char key[65];
        sha256_hex(want, want_len, key);

        /* A file, as `pacs import` stores one. */
        pacs_ingest_result res;
        ingest(f, path, &res);
        assert_string_equal(res.object, key);
        assert_string_equal(res.meta.sop_instance_uid, m.sop_instance_uid);
        assert_string_equal(res.meta.transfer_syntax_uid, m.transfer_syntax_uid);
        assert_false(res.duplicate);
        size_t got_len = 0;
        uint8_t *got = stored_object(f->a, key, &got_len);
        assert_int_equal(got_len, want_len);
        assert_memory_equal(got, want, want_len);
        free(got);

        /* A whole Part 10 stream in pieces of 1, 7, 13 and 4096 bytes (STOW-RS). */
        size_t raw_len = 0;
        uint8_t *raw = read_all(path, &raw_len);
        pacs_ingest *in = NULL;
        assert_int_equal(pacs_archive_ingest_begin(f->a, NULL, "TEST", &in, NULL), PACS_OK);
        static const size_t pieces[] = {1, 7, 13, 4096};
        for (size_t at = 0, k = 0; at < raw_len; k++) {
            size_t n = pieces[k % 4] < raw_len - at ? pieces[k % 4] : raw_len - at;
            assert_int_equal(pacs_ingest_write(in, raw + at, n, NULL), PACS_OK);
            at += n;
        }
        pacs_ingest_result res2;
        pacs_errinfo ei;
        if (pacs_ingest_finish(in, &res2, &ei) != PACS_OK) {
            fail_msg("stream %s: %s", files[i], ei.msg);
        }
        assert_string_equal(res2.object, key);
        assert_true(res2.duplicate);

        /* The dataset alone under the identity a C-STORE command states. */
        uint64_t start = 0;
        pacs_meta probed;
        assert_int_equal(pacs_dcm_probe_file(path, &probed, &start, NULL), PACS_OK);
        assert_int_equal(pacs_archive_ingest_begin(f->a, &m, "TEST", &in, NULL), PACS_OK);
        assert_int_equal(pacs_ingest_write(in, raw + start, raw_len - start, NULL), PACS_OK);
        pacs_ingest_result res3;
        assert_int_equal(pacs_ingest_finish(in, &res3, NULL), PACS_OK);
        assert_string_equal(res3.object, key);
        assert_true(res3.duplicate);
        free(raw);

        /* Indexed: the row names the object, the study and series the dataset states. */
        found fd = lookup(f->a, m.sop_instance_uid);
        assert_int_equal(fd.n, 1);
        assert_string_equal(fd.rec.object, key);
        assert_string_equal(fd.rec.study_uid, res.study_uid);
        assert_string_equal(fd.rec.series_uid, res.series_uid);
        assert_string_equal(fd.rec.ts, m.transfer_syntax_uid);
        assert_int_equal(fd.rec.size, want_len);
        assert_non_null(fd.metadata);
        assert_non_null(strstr(fd.metadata, m.sop_instance_uid));
        free(fd.metadata);

        /* Storage Commitment's question about it. */
        assert_int_equal(pacs_archive_commit_check(f->a, m.sop_class_uid, m.sop_instance_uid, NULL),
                         PACS_OK);
        assert_int_equal(pacs_archive_commit_check(f->a, "1.2.3.4", m.sop_instance_uid, NULL),
                         PACS_ECONFLICT);
        free(want);
        assert_int_equal(n_instances(f->a), i + 1);
    }
    assert_int_equal(hook_calls, 3 * (int)n_files);
    pacs_ingest_result ct;
    ingest(f, sample("test_files/CT_small.dcm"), &ct);
    assert_string_equal(ct.modality, "CT");
    assert_int_equal(pacs_archive_commit_check(f->a, ct.meta.sop_class_uid, "1.2.3.999", NULL),
                     PACS_ENOTFOUND);

    /* The same SOP Instance UID with other bytes (MR_small re-encoded big endian) replaces
     * the instance, and its old object goes. */
    pacs_ingest_result mr, mr_be;
    ingest(f, sample("test_files/MR_small_implicit.dcm"), &mr);
    ingest(f, sample("test_files/MR_small_bigendian.dcm"), &mr_be);
    assert_string_equal(mr.meta.sop_instance_uid, mr_be.meta.sop_instance_uid);
    assert_true(mr_be.replaced);
    assert_string_not_equal(mr.object, mr_be.object);
    char gone[4096];
    assert_int_equal(pacs_archive_object_path(f->a, mr.object, gone, sizeof gone, NULL), PACS_OK);
    assert_int_not_equal(access(gone, F_OK), 0);
    found fd = lookup(f->a, mr.meta.sop_instance_uid);
    assert_int_equal(fd.n, 1);
    assert_string_equal(fd.rec.object, mr_be.object);
    free(fd.metadata);
    assert_int_equal(n_instances(f->a), n_files);

    /* Durable: another opening of the folder finds every instance. */
    reopen(f, 0);
    assert_int_equal(n_instances(f->a), n_files);
    char objects[200];
    snprintf(objects, sizeof objects, "%s/objects", f->data);
    assert_int_equal(count_files(objects), (int)n_files);
}

static void test_ingest_refusals(void **state)
{
    fixture *f = *state;
    pacs_ingest_result res;
    pacs_errinfo ei;
    static const char *const broken[] = {"test_files/MR_truncated.dcm",
                                         "test_files/rtplan_truncated.dcm",
                                         "test_files/SC_rgb_jpeg.dcm", "test_files/no_meta.dcm"};
    for (size_t i = 0; i < sizeof broken / sizeof broken[0]; i++) {
        memset(&ei, 0, sizeof ei);
        assert_int_equal(pacs_archive_ingest_file(f->a, sample(broken[i]), "TEST", &res, &ei),
                         PACS_EBADDATA);
        assert_true(ei.msg[0] != '\0');
    }

    /* Not DICOM at all, sent as a Part 10 stream. */
    pacs_ingest *in = NULL;
    assert_int_equal(pacs_archive_ingest_begin(f->a, NULL, "TEST", &in, NULL), PACS_OK);
    char junk[300];
    memset(junk, 'x', sizeof junk);
    pacs_ingest_write(in, junk, sizeof junk, NULL);
    assert_int_equal(pacs_ingest_finish(in, &res, &ei), PACS_EBADDATA);

    /* A stream that ends inside its meta header. */
    size_t raw_len = 0;
    uint8_t *raw = read_all(sample("test_files/CT_small.dcm"), &raw_len);
    assert_int_equal(pacs_archive_ingest_begin(f->a, NULL, "TEST", &in, NULL), PACS_OK);
    assert_int_equal(pacs_ingest_write(in, raw, 150, NULL), PACS_OK);
    assert_int_equal(pacs_ingest_finish(in, &res, &ei), PACS_EBADDATA);

    /* A command naming another instance than its dataset. */
    pacs_meta m;
    uint64_t start = 0;
    assert_int_equal(pacs_dcm_probe_file(sample("test_files/CT_small.dcm"), &m, &start, NULL),
                     PACS_OK);
    pacs_meta other = m;
    snprintf(other.sop_instance_uid, sizeof other.sop_instance_uid, "1.2.3.4.5");
    assert_int_equal(pacs_archive_ingest_begin(f->a, &other, "TEST", &in, NULL), PACS_OK);
    assert_int_equal(pacs_ingest_write(in, raw + start, raw_len - start, NULL), PACS_OK);
    assert_int_equal(pacs_ingest_finish(in, &res, &ei), PACS_EBADDATA);
    assert_non_null(strstr(ei.msg, "SOP Instance UID"));

    /* An unknown transfer syntax is refused before any byte is written. */
    pacs_meta unknown = m;
    snprintf(unknown.transfer_syntax_uid, sizeof unknown.transfer_syntax_uid, "1.2.3.4.5.6");
    assert_int_equal(pacs_archive_ingest_begin(f->a, &unknown, "TEST", &in, NULL),
                     PACS_EUNSUPPORTED);

    /* STOW-RS to another study. */
    assert_int_equal(pacs_archive_ingest_begin(f->a, NULL, "TEST", &in, NULL), PACS_OK);
    pacs_ingest_expect_study(in, "1.2.3.4.5.6.7");
    assert_int_equal(pacs_ingest_write(in, raw, raw_len, NULL), PACS_OK);
    assert_int_equal(pacs_ingest_finish(in, &res, &ei), PACS_ECONFLICT);

    /* A peer that went away half-way. */
    assert_int_equal(pacs_archive_ingest_begin(f->a, NULL, "TEST", &in, NULL), PACS_OK);
    assert_int_equal(pacs_ingest_write(in, raw, raw_len / 2, NULL), PACS_OK);
    pacs_ingest_abort(in);
    free(raw);

    /* Nothing of it is left: no row, no object, no temporary file. */
    assert_int_equal(n_instances(f->a), 0);
    char dir[200];
    snprintf(dir, sizeof dir, "%s/objects", f->data);
    assert_int_equal(count_files(dir), 0);
    snprintf(dir, sizeof dir, "%s/tmp", f->data);
    assert_int_equal(count_files(dir), 0);
}

/* ---- recovery ---- */

static void object_file(const char *objects, const char *key, char *path, size_t cap)
{
    snprintf(path, cap, "%s/%.2s/%.2s/%s", objects, key, key + 2, key);
}

/* Commits `len` bytes as an object that no instance refers to; its key into `key`. */
static void put_unindexed(const char *objects, const char *tmp, const uint8_t *data, size_t len,
                          char key[65])
{
    pacs_objstore *os = NULL;
    pacs_objwriter *w = NULL;
    assert_int_equal(pacs_objstore_open(objects, tmp, &os, NULL), PACS_OK);
    assert_int_equal(pacs_objstore_begin(os, UINT64_MAX, &w, NULL), PACS_OK);
    assert_int_equal(pacs_objwriter_write(w, data, len, NULL), PACS_OK);
    assert_int_equal(pacs_objwriter_key(w, key, NULL), PACS_OK);
    assert_int_equal(pacs_objwriter_commit(w, NULL), PACS_OK);
    pacs_objstore_close(os);
}

typedef struct problems {
    int n;
    char kind[8][16], object[8][4096], sop[8][65];
} problems;

static void problem_cb(void *ctx, const char *kind, const char *object, const char *sop_uid,
                       const char *detail)
{
    problems *p = ctx;
    assert_non_null(detail);
    assert_true(p->n < 8);
    snprintf(p->kind[p->n], sizeof p->kind[0], "%s", kind);
    snprintf(p->object[p->n], sizeof p->object[0], "%s", object);
    snprintf(p->sop[p->n], sizeof p->sop[0], "%s", sop_uid ? sop_uid : "");
    p->n++;
}

/* The index of the problem of `kind` about `object` (-1 when none). */
static int problem_at(const problems *p, const char *kind, const char *object)
{
    for (int i = 0; i < p->n; i++) {
        if (strcmp(p->kind[i], kind) == 0 && strstr(p->object[i], object)) {
            return i;
        }
    }
    return -1;
}

static void read_text(const char *path, char *buf, size_t cap)
{
    buf[0] = '\0';
    FILE *fp = fopen(path, "r");
    assert_non_null(fp);
    size_t n = fread(buf, 1, cap - 1, fp);
    buf[n] = '\0';
    fclose(fp);
}

static void test_recovery_after_unclean_stop(void **state)
{
    fixture *f = *state;
    pacs_archive_close(f->a);
    f->a = NULL;
    char objects[200], tmp[200], lock[200], path[4096], text[16];
    snprintf(objects, sizeof objects, "%s/objects", f->data);
    snprintf(tmp, sizeof tmp, "%s/tmp", f->data);
    snprintf(lock, sizeof lock, "%s/pacs.lock", f->data);
    size_t mr_len = 0;
    uint8_t *mr = read_all(sample("test_files/MR_small.dcm"), &mr_len);
    const char *ct_path = sample("test_files/CT_small.dcm");
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        /* The process that dies: it stores an instance, commits an object that it never
         * indexes (what a crash between the two commits leaves) and is writing another. */
        pacs_archive *a = NULL;
        pacs_ingest_result res;
        pacs_objstore *os = NULL;
        pacs_objwriter *w = NULL;
        char k[65];
        if (pacs_archive_open(f->cfg, &a, NULL) != PACS_OK ||
            pacs_archive_ingest_file(a, ct_path, "TEST", &res, NULL) != PACS_OK ||
            pacs_objstore_open(objects, tmp, &os, NULL) != PACS_OK ||
            pacs_objstore_begin(os, UINT64_MAX, &w, NULL) != PACS_OK ||
            pacs_objwriter_write(w, mr, mr_len, NULL) != PACS_OK ||
            pacs_objwriter_key(w, k, NULL) != PACS_OK ||
            pacs_objwriter_commit(w, NULL) != PACS_OK ||
            pacs_objstore_begin(os, UINT64_MAX, &w, NULL) != PACS_OK ||
            pacs_objwriter_write(w, mr, 1000, NULL) != PACS_OK) {
            _exit(2);
        }
        _exit(0); /* no close: the folder stays marked open, as after kill -9 */
    }
    int status = 0;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status));
    assert_int_equal(WEXITSTATUS(status), 0);
    char orphan[65];
    sha256_hex(mr, mr_len, orphan);
    object_file(objects, orphan, path, sizeof path);
    read_text(lock, text, sizeof text);
    assert_string_equal(text, "open\n");
    assert_int_equal(access(path, F_OK), 0);
    assert_true(count_files(tmp) >= 1);

    /* The next opening finds the folder marked open by nobody: it sweeps what was left. */
    reopen(f, 0);
    assert_int_not_equal(access(path, F_OK), 0);
    assert_int_equal(count_files(tmp), 0);
    assert_int_equal(n_instances(f->a), 1);
    pacs_meta ct;
    uint64_t start = 0;
    assert_int_equal(pacs_dcm_probe_file(ct_path, &ct, &start, NULL), PACS_OK);
    assert_int_equal(pacs_archive_commit_check(f->a, ct.sop_class_uid, ct.sop_instance_uid, NULL),
                     PACS_OK);
    pacs_verify_report r;
    assert_int_equal(pacs_archive_verify(f->a, 0, NULL, NULL, NULL, &r, NULL), PACS_OK);
    assert_int_equal(r.checked, 1);
    assert_int_equal(r.orphans + r.corrupt + r.missing, 0);

    /* After a clean stop nothing is swept: an unindexed object stays for verify to report. */
    pacs_archive_close(f->a);
    f->a = NULL;
    read_text(lock, text, sizeof text);
    assert_string_equal(text, "");
    put_unindexed(objects, tmp, mr, mr_len, orphan);
    reopen(f, 0);
    assert_int_equal(access(path, F_OK), 0);
    problems p;
    memset(&p, 0, sizeof p);
    assert_int_equal(pacs_archive_verify(f->a, 0, NULL, problem_cb, &p, &r, NULL), PACS_OK);
    assert_int_equal(r.orphans, 1);
    assert_true(problem_at(&p, "orphan", orphan) >= 0);
    free(mr);
}

/* ---- verify and reindex ---- */

static int last_done, last_total;

static void progress_cb(void *ctx, uint64_t done, uint64_t total)
{
    (void)ctx;
    assert_true(done <= total);
    last_done = (int)done;
    last_total = (int)total;
}

static void test_verify_and_reindex(void **state)
{
    fixture *f = *state;
    pacs_ingest_result ct, mr, jp;
    ingest(f, sample("test_files/CT_small.dcm"), &ct);
    ingest(f, sample("test_files/MR_small.dcm"), &mr);
    ingest(f, sample("test_files/JPEG2000.dcm"), &jp);
    char objects[200], tmp[200], path[4096];
    snprintf(objects, sizeof objects, "%s/objects", f->data);
    snprintf(tmp, sizeof tmp, "%s/tmp", f->data);

    /* Damage: one byte of CT's pixel data flipped (it still parses), MR's object gone, and an
     * object of garbage that no instance refers to. */
    object_file(objects, ct.object, path, sizeof path);
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    off_t end = lseek(fd, 0, SEEK_END);
    uint8_t b = 0;
    assert_int_equal(pread(fd, &b, 1, end - 1), 1);
    b ^= 0x5A;
    assert_int_equal(pwrite(fd, &b, 1, end - 1), 1);
    close(fd);
    object_file(objects, mr.object, path, sizeof path);
    assert_int_equal(unlink(path), 0);
    uint8_t garbage[5000];
    for (size_t i = 0; i < sizeof garbage; i++) {
        garbage[i] = (uint8_t)(i * 7u + 3u);
    }
    char orphan[65];
    put_unindexed(objects, tmp, garbage, sizeof garbage, orphan);

    problems p;
    memset(&p, 0, sizeof p);
    pacs_verify_report r;
    last_done = last_total = 0;
    assert_int_equal(pacs_archive_verify(f->a, 0, progress_cb, problem_cb, &p, &r, NULL), PACS_OK);
    assert_int_equal(r.checked, 3);
    assert_int_equal(r.corrupt, 1);
    assert_int_equal(r.missing, 1);
    assert_int_equal(r.orphans, 1);
    assert_int_equal(r.swept, 0);
    assert_int_equal(last_done, 3);
    assert_int_equal(last_total, 3);
    int i = problem_at(&p, "corrupt", ct.object);
    assert_true(i >= 0);
    assert_string_equal(p.sop[i], ct.meta.sop_instance_uid);
    i = problem_at(&p, "missing", mr.object);
    assert_true(i >= 0);
    assert_string_equal(p.sop[i], mr.meta.sop_instance_uid);
    assert_true(problem_at(&p, "orphan", orphan) >= 0);
    assert_int_equal(
        pacs_archive_commit_check(f->a, ct.meta.sop_class_uid, ct.meta.sop_instance_uid, NULL),
        PACS_ECORRUPT);
    assert_int_equal(
        pacs_archive_commit_check(f->a, mr.meta.sop_class_uid, mr.meta.sop_instance_uid, NULL),
        PACS_ECORRUPT);

    /* Sweeping needs the folder to itself; reindexing too. */
    assert_int_equal(pacs_archive_verify(f->a, 1, NULL, NULL, NULL, &r, NULL), PACS_EBUSY);
    uint64_t indexed = 0;
    assert_int_equal(pacs_archive_reindex(f->cfg, NULL, NULL, NULL, &indexed, NULL), PACS_EBUSY);
    reopen(f, PACS_ARCHIVE_EXCLUSIVE);
    assert_int_equal(pacs_archive_verify(f->a, 1, NULL, NULL, NULL, &r, NULL), PACS_OK);
    assert_int_equal(r.swept, 1);
    object_file(objects, orphan, path, sizeof path);
    assert_int_not_equal(access(path, F_OK), 0);

    /* Reindex from the objects alone: the garbage (put back) is reported and left in place. */
    put_unindexed(objects, tmp, garbage, sizeof garbage, orphan);
    pacs_archive_close(f->a);
    f->a = NULL;
    memset(&p, 0, sizeof p);
    last_done = last_total = 0;
    pacs_errinfo ei;
    if (pacs_archive_reindex(f->cfg, progress_cb, problem_cb, &p, &indexed, &ei) != PACS_OK) {
        fail_msg("reindex: %s", ei.msg);
    }
    assert_int_equal(indexed, 2);
    assert_int_equal(last_done, 3);
    assert_int_equal(last_total, 3);
    assert_true(problem_at(&p, "unreadable", orphan) >= 0);
    assert_int_equal(access(path, F_OK), 0);
    reopen(f, 0);
    assert_int_equal(n_instances(f->a), 2);
    found fdx = lookup(f->a, mr.meta.sop_instance_uid);
    assert_int_equal(fdx.n, 0);
    fdx = lookup(f->a, jp.meta.sop_instance_uid);
    assert_int_equal(fdx.n, 1);
    assert_string_equal(fdx.rec.object, jp.object);
    assert_string_equal(fdx.rec.study_uid, jp.study_uid);
    free(fdx.metadata);
    assert_int_equal(
        pacs_archive_commit_check(f->a, jp.meta.sop_class_uid, jp.meta.sop_instance_uid, NULL),
        PACS_OK);
    assert_int_equal(
        pacs_archive_commit_check(f->a, mr.meta.sop_class_uid, mr.meta.sop_instance_uid, NULL),
        PACS_ENOTFOUND);
}

/* ---- bulk data ranges ---- */

static char *base64(const uint8_t *d, size_t n)
{
    static const char abc[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char *out = malloc(4 * ((n + 2) / 3) + 1), *o = out;
    assert_non_null(out);
    for (size_t i = 0; i < n; i += 3) {
        uint32_t v = (uint32_t)d[i] << 16 | (i + 1 < n ? (uint32_t)d[i + 1] << 8 : 0) |
                     (i + 2 < n ? d[i + 2] : 0);
        *o++ = abc[v >> 18 & 63];
        *o++ = abc[v >> 12 & 63];
        *o++ = i + 1 < n ? abc[v >> 6 & 63] : '=';
        *o++ = i + 2 < n ? abc[v & 63] : '=';
    }
    *o = '\0';
    return out;
}

static json_t *binary_attr(const uint8_t *d, size_t n)
{
    char *b = base64(d, n);
    json_t *a = json_pack("{s:s,s:s}", "vr", "OB", "InlineBinary", b);
    free(b);
    return a;
}

static json_t *text_attr(const char *vr, const char *v)
{
    return json_pack("{s:s,s:[s]}", "vr", vr, "Value", v);
}

/* The bytes of `path` in `object` are `want`. */
static void assert_range(fixture *f, const char *object, const char *path, const uint8_t *want,
                         size_t n, const char *vr, int bigendian)
{
    pacs_bulk_range br;
    pacs_errinfo ei;
    if (pacs_archive_bulkdata_find(f->a, object, path, &br, &ei) != PACS_OK) {
        fail_msg("bulk data %s: %s", path, ei.msg);
    }
    assert_int_equal(br.length, n);
    assert_string_equal(br.vr, vr);
    assert_int_equal(br.bigendian, bigendian);
    size_t len = 0;
    uint8_t *all = stored_object(f->a, object, &len);
    assert_true(br.offset + br.length <= len);
    assert_memory_equal(all + br.offset, want, n);
    free(all);
}

static const char *uri_of(json_t *attr)
{
    const char *s = json_string_value(json_object_get(attr, "BulkDataURI"));
    assert_non_null(s);
    return s;
}

static void test_bulkdata_ranges(void **state)
{
    fixture *f = *state;
    uint8_t icc[3000], nested[2000], doc[5000];
    for (size_t i = 0; i < sizeof doc; i++) {
        if (i < sizeof icc) {
            icc[i] = (uint8_t)(i * 31u + 1u);
        }
        if (i < sizeof nested) {
            nested[i] = (uint8_t)(i * 13u + 7u + (i >> 8));
        }
        doc[i] = (uint8_t)(i * 5u + 11u + (i >> 9));
    }
    static const char *const syntaxes[] = {PACS_TS_EXPLICIT_LE, PACS_TS_IMPLICIT_LE,
                                           PACS_TS_EXPLICIT_BE};
    for (int t = 0; t < 3; t++) {
        char sop[65], file[200];
        snprintf(sop, sizeof sop, "1.2.826.0.1.3680043.10.1347.77.%d.1", t + 1);
        json_t *j = json_object();
        json_object_set_new(j, "00080016", text_attr("UI", SC_CLASS));
        json_object_set_new(j, "00080018", text_attr("UI", sop));
        json_object_set_new(j, "00080060", text_attr("CS", "OT"));
        json_object_set_new(j, "0020000D", text_attr("UI", "1.2.826.0.1.3680043.10.1347.77.1"));
        json_object_set_new(j, "0020000E", text_attr("UI", "1.2.826.0.1.3680043.10.1347.77.2"));
        json_object_set_new(j, "00282000", binary_attr(icc, sizeof icc));
        json_object_set_new(j, "00420011", binary_attr(doc, sizeof doc));
        json_t *item0 = json_object(), *item1 = json_object();
        json_object_set_new(item0, "00181072", text_attr("TM", "101010"));
        json_object_set_new(item1, "00181072", text_attr("TM", "111111"));
        json_object_set_new(item1, "00282000", binary_attr(nested, sizeof nested));
        json_object_set_new(j, "00540016",
                            json_pack("{s:s,s:[o,o]}", "vr", "SQ", "Value", item0, item1));
        pacs_ds *ds = NULL;
        pacs_errinfo ei;
        snprintf(file, sizeof file, "%s/bulk%d.dcm", f->dir, t);
        if (pacs_ds_from_json(j, &ds, &ei) != PACS_OK ||
            pacs_ds_save_file(ds, file, syntaxes[t], &ei) != PACS_OK) {
            fail_msg("test dataset: %s", ei.msg);
        }
        pacs_ds_free(ds);
        json_decref(j);
        pacs_ingest_result res;
        ingest(f, file, &res);
        assert_string_equal(res.meta.transfer_syntax_uid, syntaxes[t]);

        /* The stored metadata names each large value by its path... */
        found fd = lookup(f->a, sop);
        assert_int_equal(fd.n, 1);
        json_t *m = json_loads(fd.metadata, 0, NULL);
        assert_non_null(m);
        assert_string_equal(uri_of(json_object_get(m, "00282000")), "bulkdata/00282000");
        assert_string_equal(uri_of(json_object_get(m, "00420011")), "bulkdata/00420011");
        json_t *items = json_object_get(json_object_get(m, "00540016"), "Value");
        assert_int_equal(json_array_size(items), 2);
        assert_string_equal(uri_of(json_object_get(json_array_get(items, 1), "00282000")),
                            "bulkdata/00540016/1/00282000");

        /* ...and each path leads to exactly its bytes. */
        const char *vr = t == 1 ? "UN" : "OB";
        assert_range(f, res.object, "00282000", icc, sizeof icc, vr, t == 2);
        assert_range(f, res.object, "00420011", doc, sizeof doc, vr, t == 2);
        assert_range(f, res.object, "00540016/1/00282000", nested, sizeof nested, vr, t == 2);
        pacs_bulk_range br;
        assert_int_equal(
            pacs_archive_bulkdata_find(f->a, res.object, "00540016/2/00282000", &br, NULL),
            PACS_ENOTFOUND);
        assert_int_equal(
            pacs_archive_bulkdata_find(f->a, res.object, "00540016/0/00282000", &br, NULL),
            PACS_ENOTFOUND);
        assert_int_equal(pacs_archive_bulkdata_find(f->a, res.object, "00990010", &br, NULL),
                         PACS_ENOTFOUND);
        static const char *const bad[] = {"0028200",    "00282000/", "00540016/x/00282000",
                                          "00540016/1", "0054001G",  "../../etc/passwd"};
        for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
            assert_int_equal(pacs_archive_bulkdata_find(f->a, res.object, bad[k], &br, NULL),
                             PACS_EINVAL);
        }

        /* Served metadata carries absolute URIs. */
        pacs_buf out;
        pacs_buf_init(&out, 1 << 20);
        assert_int_equal(pacs_archive_metadata_append(fd.metadata, strlen(fd.metadata),
                                                      "http://h/i", &out, NULL),
                         PACS_OK);
        assert_int_equal(pacs_buf_append(&out, "", 1), PACS_OK);
        assert_non_null(
            strstr(out.data, "\"BulkDataURI\":\"http://h/i/bulkdata/00540016/1/00282000\""));
        assert_null(strstr(out.data, "\"BulkDataURI\":\"bulkdata/"));
        pacs_buf_free(&out);
        json_decref(m);
        free(fd.metadata);
    }

    /* Pixel data: native is one range (the last value of CT_small), encapsulated is served
     * by frames; a deflated dataset cannot be walked. */
    pacs_ingest_result ct, jp, dfl;
    ingest(f, sample("test_files/CT_small.dcm"), &ct);
    ingest(f, sample("test_files/JPEG2000.dcm"), &jp);
    ingest(f, sample("test_files/image_dfl.dcm"), &dfl);
    pacs_bulk_range br;
    assert_int_equal(pacs_archive_bulkdata_find(f->a, ct.object, "7FE00010", &br, NULL), PACS_OK);
    size_t ct_len = 0;
    uint8_t *ct_bytes = stored_object(f->a, ct.object, &ct_len);
    assert_int_equal(br.length, 128 * 128 * 2);
    assert_string_equal(br.vr, "OW");
    /* As dcmdump shows CT_small: the first pixels 0x00af, 0x00b4, 0x00a6, 0x008f, then right
     * after them the header of (FFFC,FFFC) OB, the trailing padding. */
    static const uint8_t first[] = {0xaf, 0x00, 0xb4, 0x00, 0xa6, 0x00, 0x8f, 0x00};
    static const uint8_t next[] = {0xfc, 0xff, 0xfc, 0xff, 'O', 'B'};
    assert_true(br.offset + br.length + sizeof next <= ct_len);
    assert_memory_equal(ct_bytes + br.offset, first, sizeof first);
    assert_memory_equal(ct_bytes + br.offset + br.length, next, sizeof next);
    free(ct_bytes);
    assert_int_equal(pacs_archive_bulkdata_find(f->a, jp.object, "7FE00010", &br, NULL),
                     PACS_EUNSUPPORTED);
    assert_int_equal(pacs_archive_bulkdata_find(f->a, dfl.object, "00100010", &br, NULL),
                     PACS_EUNSUPPORTED);
    char nobody[65];
    memset(nobody, 'a', 64);
    nobody[64] = '\0';
    assert_int_equal(pacs_archive_bulkdata_find(f->a, nobody, "7FE00010", &br, NULL),
                     PACS_ENOTFOUND);

    /* A URI that is already absolute is kept; a full buffer says so. */
    static const char abs_json[] = "{\"x\":{\"vr\":\"OB\",\"BulkDataURI\":\"https://o/b\"}}";
    pacs_buf out;
    pacs_buf_init(&out, 1 << 10);
    assert_int_equal(
        pacs_archive_metadata_append(abs_json, strlen(abs_json), "http://h/i", &out, NULL),
        PACS_OK);
    assert_int_equal(out.len, strlen(abs_json));
    assert_memory_equal(out.data, abs_json, out.len);
    pacs_buf_free(&out);
    pacs_buf_init(&out, 20);
    assert_int_equal(
        pacs_archive_metadata_append(abs_json, strlen(abs_json), "http://h/i", &out, NULL),
        PACS_ETOOBIG);
    pacs_buf_free(&out);
}

int main(void)
{
    pacs_log_set_level(PACS_LOG_ERROR);
    pacs_errinfo ei;
    if (pacs_dcm_init(&ei) != PACS_OK) {
        fprintf(stderr, "%s\n", ei.msg);
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_ingest_three_doors, setup, teardown),
        cmocka_unit_test_setup_teardown(test_ingest_refusals, setup, teardown),
        cmocka_unit_test_setup_teardown(test_recovery_after_unclean_stop, setup, teardown),
        cmocka_unit_test_setup_teardown(test_verify_and_reindex, setup, teardown),
        cmocka_unit_test_setup_teardown(test_bulkdata_ranges, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
