// SPDX-License-Identifier: MIT
/*
 * An archive in a temporary folder for storage's unit tests, on SQLite or PostgreSQL as the
 * test's argument says (index_backends.h): cmocka's setup and teardown, and open_archive to
 * open it again after a close. Included by one test file each: its functions are static.
 */
#ifndef PACS_STORAGE_TESTS_ARCHIVE_FIXTURE_H
#define PACS_STORAGE_TESTS_ARCHIVE_FIXTURE_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pacs/base/config.h"
#include "storage/archive.h"
#include "storage/tests/index_backends.h"

typedef struct fixture {
    char dir[512], loc[768], data[600];
    pacs_config *cfg;
    pacs_archive *a;
} fixture;

static void open_archive(fixture *f)
{
    pacs_errinfo ei;
    assert_int_equal(pacs_archive_open(f->cfg, &f->a, &ei), PACS_OK);
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    assert_non_null(f);
    const char *tmp = getenv("TMPDIR");
    snprintf(f->dir, sizeof f->dir, "%s/pacs-test-archive.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    assert_non_null(mkdtemp(f->dir));
    backend_location(f->dir, f->loc, sizeof f->loc);
    snprintf(f->data, sizeof f->data, "%s/data", f->dir);
    pacs_errinfo ei;
    f->cfg = pacs_config_new();
    assert_non_null(f->cfg);
    if (pacs_config_set(f->cfg, "data", f->data, &ei) != PACS_OK ||
        pacs_config_set(f->cfg, "index", f->loc, &ei) != PACS_OK ||
        pacs_config_finish(f->cfg, &ei) != PACS_OK) {
        fail_msg("config: %s", ei.msg);
    }
    open_archive(f);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    pacs_archive_close(f->a);
    pacs_config_free(f->cfg);
    backend_drop(f->loc);
    sh("rm -rf '%s'", f->dir);
    free(f);
    return 0;
}

#endif
