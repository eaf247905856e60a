// SPDX-License-Identifier: MIT
/*
 * For the unit tests of the retrieve path (test_resolve.c, test_delivery.c): a real archive (a
 * real SQLite index and object files) in a temporary folder, filled through the real ingest
 * path with pydicom's sample files (Debian's python3-pydicom; $SAMPLES overrides where they
 * are). Static functions: each test binary includes this once.
 */
#ifndef PACS_STORAGE_TESTS_SAMPLE_ARCHIVE_H
#define PACS_STORAGE_TESTS_SAMPLE_ARCHIVE_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pacs/base/config.h"
#include "pacs/base/log.h"
#include "pacs/dicom/dcm.h"
#include "storage/archive.h"

/* The samples, by what the tests use them for. */
#define S_CT "CT_small"                   /* Explicit VR LE, 16-bit, study A */
#define S_J2K "JPEG2000"                  /* JPEG 2000 4.91, study B */
#define S_JPEG12 "JPEG-lossy"             /* JPEG extended 4.51, study B, same series */
#define S_JPEG8 "SC_rgb_jpeg_dcmtk"       /* JPEG baseline 4.50, RGB, study C */
#define S_RLE2 "SC_rgb_rle_2frame"        /* RLE, RGB, 2 frames, study C, same series */
#define S_JLS "MR_small_jpeg_ls_lossless" /* JPEG-LS lossless, study D */
#define S_PLAN "rtplan"                   /* Implicit VR LE, no pixel data, study E */

typedef struct sample_archive {
    char dir[200];
    pacs_config *cfg;
    pacs_archive *a;
} sample_archive;

static const char *sample_path(const char *name, char *buf, size_t cap)
{
    const char *base = getenv("SAMPLES");
    snprintf(buf, cap, "%s/test_files/%s.dcm",
             base && *base ? base : "/usr/lib/python3/dist-packages/pydicom/data", name);
    return buf;
}

/* Opens a fresh archive and stores every sample above; NULL (with a message) on failure. */
static sample_archive *sample_archive_open(void)
{
    static const char *const names[] = {S_CT, S_J2K, S_JPEG12, S_JPEG8, S_RLE2, S_JLS, S_PLAN};
    pacs_errinfo ei;
    sample_archive *s = calloc(1, sizeof *s);
    if (!s) {
        return NULL;
    }
    const char *tmp = getenv("TMPDIR");
    snprintf(s->dir, sizeof s->dir, "%s/pacs-test-retrieve.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(s->dir)) {
        free(s);
        return NULL;
    }
    pacs_log_set_level(PACS_LOG_ERROR);
    s->cfg = pacs_config_new();
    if (!s->cfg || pacs_dcm_init(&ei) != PACS_OK ||
        pacs_config_set(s->cfg, "data", s->dir, &ei) != PACS_OK ||
        pacs_config_finish(s->cfg, &ei) != PACS_OK ||
        pacs_archive_open(s->cfg, &s->a, &ei) != PACS_OK) {
        fprintf(stderr, "sample archive: %s\n", ei.msg);
        return NULL;
    }
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char path[512];
        pacs_ingest_result res;
        if (pacs_archive_ingest_file(s->a, sample_path(names[i], path, sizeof path), "TEST", &res,
                                     &ei) != PACS_OK) {
            fprintf(stderr, "sample archive: %s: %s\n", path, ei.msg);
            return NULL;
        }
    }
    return s;
}

static void sample_archive_close(sample_archive *s)
{
    if (!s) {
        return;
    }
    pacs_archive_close(s->a);
    pacs_config_free(s->cfg);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", s->dir);
    if (system(cmd) != 0) {
        fprintf(stderr, "sample archive: could not remove %s\n", s->dir);
    }
    free(s);
}

/* A top-level text value of a sample file (its UIDs); the caller frees. */
static char *sample_value(const char *name, uint32_t tag)
{
    char path[512];
    pacs_ds *ds = NULL;
    char *v = NULL;
    if (pacs_ds_load_file(sample_path(name, path, sizeof path), &ds, NULL) == PACS_OK) {
        pacs_ds_get_string(ds, tag, &v, NULL);
    }
    pacs_ds_free(ds);
    return v;
}

#endif
