// SPDX-License-Identifier: MIT
/*
 * For unit tests (cmocka) on any floor: the path of a sample DICOM file and a whole file read
 * into memory. Samples come from Debian's python3-pydicom (pydicom/data), or from $SAMPLES when
 * set. Header-only: each unit test is one source file. Include it after <cmocka.h>.
 */
#ifndef PACS_BASE_TESTS_TESTFILES_H
#define PACS_BASE_TESTS_TESTFILES_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

/** `rel` under the samples' root; the four latest answers stay valid. */
static inline const char *sample(const char *rel)
{
    static char path[4][512];
    static int next;
    const char *root = getenv("SAMPLES");
    char *p = path[next++ % 4];
    snprintf(p, 512, "%s/%s",
             root && root[0] ? root : "/usr/lib/python3/dist-packages/pydicom/data", rel);
    return p;
}

/** The whole file (failing the test when it cannot be read), with a spare byte at its end;
 *  the caller frees it. */
static inline uint8_t *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        fail_msg("cannot open %s", path);
    }
    assert_int_equal(fseek(f, 0, SEEK_END), 0);
    long n = ftell(f);
    assert_true(n >= 0);
    rewind(f);
    uint8_t *b = malloc((size_t)n + 1);
    assert_non_null(b);
    assert_int_equal(fread(b, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *len = (size_t)n;
    return b;
}

#endif
