// SPDX-License-Identifier: MIT
/*
 * Unit tests of the content-addressed object store (objstore.c) in a temporary folder: keys,
 * write/commit into the fan-out folders, dedupe of identical bytes, abort, size limit, verify
 * of intact, corrupt and missing objects, removal, listing, and clean-up of temporary files.
 */
#include <dirent.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "storage/objstore.h"

typedef struct fixture {
    char dir[64];
    char root[128];
    char tmp[128];
    pacs_objstore *os;
} fixture;

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    snprintf(f->dir, sizeof f->dir, "/tmp/pacs-test-objstore.XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->root, sizeof f->root, "%s/objects", f->dir);
    snprintf(f->tmp, sizeof f->tmp, "%s/tmp", f->dir);
    assert_int_equal(pacs_objstore_open(f->root, f->tmp, &f->os, NULL), PACS_OK);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    pacs_objstore_close(f->os);
    char cmd[256];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->dir);
    assert_int_equal(system(cmd), 0);
    free(f);
    return 0;
}

static int count_files(const char *dir)
{
    DIR *d = opendir(dir);
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)) != NULL) {
        n += e->d_name[0] != '.';
    }
    if (d) {
        closedir(d);
    }
    return n;
}

/* Stores `len` bytes in pieces of `piece`; returns the key. */
static void store(fixture *f, const void *data, size_t len, size_t piece,
                  char key[PACS_KEY_HEX + 1])
{
    pacs_objwriter *w = NULL;
    assert_int_equal(pacs_objstore_begin(f->os, 1 << 20, &w, NULL), PACS_OK);
    for (size_t off = 0; off < len; off += piece) {
        size_t n = len - off < piece ? len - off : piece;
        assert_int_equal(pacs_objwriter_write(w, (const char *)data + off, n, NULL), PACS_OK);
    }
    assert_int_equal(pacs_objwriter_size(w), len);
    assert_int_equal(pacs_objwriter_key(w, key, NULL), PACS_OK);
    assert_int_equal(pacs_objwriter_commit(w, NULL), PACS_OK);
}

static void test_key_valid(void **state)
{
    (void)state;
    char k[65];
    memset(k, 'a', 64);
    k[64] = '\0';
    assert_true(pacs_key_valid(k));
    k[3] = 'A';
    assert_false(pacs_key_valid(k));
    k[3] = 'g';
    assert_false(pacs_key_valid(k));
    assert_false(pacs_key_valid("abc"));
    assert_false(pacs_key_valid("../../../../etc/passwd"));
}

static void test_write_commit_read(void **state)
{
    fixture *f = *state;
    char key[PACS_KEY_HEX + 1];
    store(f, "abc", 3, 1, key);
    /* SHA-256("abc"), the FIPS 180-2 example. */
    assert_string_equal(key, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    char path[512], want[512];
    assert_int_equal(pacs_objstore_path(f->os, key, path, sizeof path), PACS_OK);
    snprintf(want, sizeof want, "%s/ba/78/%s", f->root, key);
    assert_string_equal(path, want);
    int fd = -1;
    assert_int_equal(pacs_objstore_open_read(f->os, key, &fd, NULL), PACS_OK);
    char buf[8];
    assert_int_equal(read(fd, buf, sizeof buf), 3);
    assert_memory_equal(buf, "abc", 3);
    close(fd);
    uint64_t size = 0;
    assert_int_equal(pacs_objstore_verify(f->os, key, &size, NULL), PACS_OK);
    assert_int_equal(size, 3);
    assert_int_equal(count_files(f->tmp), 0);
    assert_int_equal(pacs_objstore_path(f->os, "../x", path, sizeof path), PACS_EINVAL);
    assert_int_equal(pacs_objstore_path(f->os, key, path, 10), PACS_ETOOBIG);
}

/* The folders of an object's key are made when it is placed: both levels new, the second new
 * under an existing first, and the whole path when the store's root itself was removed. */
static void test_folders_made(void **state)
{
    fixture *f = *state;
    char key[PACS_KEY_HEX + 1], path[512];
    store(f, "abc", 3, 3, key); /* ba/78 */
    char sub[256];
    snprintf(sub, sizeof sub, "%s/ba", f->root);
    assert_int_equal(count_files(sub), 1);
    /* Found by search: some bytes whose key starts with "ba" but not "ba78". */
    char data[16];
    int found = 0;
    for (int i = 0; i < 100000 && !found; i++) {
        int n = snprintf(data, sizeof data, "x%d", i);
        pacs_objwriter *w = NULL;
        assert_int_equal(pacs_objstore_begin(f->os, 1 << 20, &w, NULL), PACS_OK);
        assert_int_equal(pacs_objwriter_write(w, data, (size_t)n, NULL), PACS_OK);
        assert_int_equal(pacs_objwriter_key(w, key, NULL), PACS_OK);
        found = strncmp(key, "ba", 2) == 0 && strncmp(key, "ba78", 4) != 0;
        if (found) {
            assert_int_equal(pacs_objwriter_commit(w, NULL), PACS_OK);
        } else {
            pacs_objwriter_abort(w);
        }
    }
    assert_true(found);
    assert_int_equal(count_files(sub), 2);
    assert_int_equal(pacs_objstore_verify(f->os, key, NULL, NULL), PACS_OK);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", f->root);
    assert_int_equal(system(cmd), 0);
    store(f, "abc", 3, 3, key);
    assert_int_equal(pacs_objstore_path(f->os, key, path, sizeof path), PACS_OK);
    assert_int_equal(access(path, F_OK), 0);
    assert_int_equal(pacs_objstore_verify(f->os, key, NULL, NULL), PACS_OK);
}

static void test_dedupe(void **state)
{
    fixture *f = *state;
    static char big[300000];
    for (size_t i = 0; i < sizeof big; i++) {
        big[i] = (char)(i * 7);
    }
    char k1[PACS_KEY_HEX + 1], k2[PACS_KEY_HEX + 1], k3[PACS_KEY_HEX + 1];
    store(f, big, sizeof big, 65536, k1);
    store(f, big, sizeof big, 1000, k2); /* the same bytes in other pieces: the same key */
    assert_string_equal(k1, k2);
    big[0] ^= 1;
    store(f, big, sizeof big, 65536, k3);
    assert_string_not_equal(k1, k3);
    char dir[256];
    snprintf(dir, sizeof dir, "%s/%.2s/%.2s", f->root, k1, k1 + 2);
    assert_int_equal(count_files(dir),
                     k1[0] == k3[0] && k1[1] == k3[1] && k1[2] == k3[2] && k1[3] == k3[3] ? 2 : 1);
    assert_int_equal(count_files(f->tmp), 0);
}

static void test_abort_and_limit(void **state)
{
    fixture *f = *state;
    pacs_objwriter *w = NULL;
    assert_int_equal(pacs_objstore_begin(f->os, 10, &w, NULL), PACS_OK);
    assert_int_equal(count_files(f->tmp), 1);
    assert_int_equal(pacs_objwriter_write(w, "0123456789", 10, NULL), PACS_OK);
    pacs_errinfo ei;
    assert_int_equal(pacs_objwriter_write(w, "x", 1, &ei), PACS_ETOOBIG);
    assert_non_null(strstr(ei.msg, "limit"));
    pacs_objwriter_abort(w);
    pacs_objwriter_abort(NULL);
    assert_int_equal(count_files(f->tmp), 0);
    assert_int_equal(count_files(f->root), 0);
    /* No writes after the key is taken. */
    assert_int_equal(pacs_objstore_begin(f->os, 10, &w, NULL), PACS_OK);
    char key[PACS_KEY_HEX + 1];
    assert_int_equal(pacs_objwriter_key(w, key, NULL), PACS_OK);
    assert_int_equal(pacs_objwriter_write(w, "x", 1, NULL), PACS_EINVAL);
    pacs_objwriter_abort(w);
}

static void test_corrupt_missing_remove(void **state)
{
    fixture *f = *state;
    char key[PACS_KEY_HEX + 1];
    store(f, "hello world", 11, 11, key);
    char path[512];
    pacs_objstore_path(f->os, key, path, sizeof path);
    /* Flip one byte in place: verify must notice. */
    int fd = open(path, O_WRONLY);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, "H", 1, 0), 1);
    close(fd);
    pacs_errinfo ei;
    assert_int_equal(pacs_objstore_verify(f->os, key, NULL, &ei), PACS_ECORRUPT);
    assert_non_null(strstr(ei.msg, key));
    /* A truncated object too. */
    assert_int_equal(truncate(path, 5), 0);
    assert_int_equal(pacs_objstore_verify(f->os, key, NULL, NULL), PACS_ECORRUPT);
    assert_int_equal(pacs_objstore_remove(f->os, key, NULL), PACS_OK);
    assert_int_equal(pacs_objstore_verify(f->os, key, NULL, NULL), PACS_ENOTFOUND);
    int rfd = -1;
    assert_int_equal(pacs_objstore_open_read(f->os, key, &rfd, NULL), PACS_ENOTFOUND);
    /* Removing what is gone is not an error. */
    assert_int_equal(pacs_objstore_remove(f->os, key, NULL), PACS_OK);
    assert_int_equal(pacs_objstore_remove(f->os, "nonsense", NULL), PACS_EINVAL);
}

typedef struct seen {
    int keys, strays;
    char last[PACS_KEY_HEX + 1];
} seen;

static int list_cb(void *ctx, const char *key, uint64_t size, const char *path)
{
    seen *s = ctx;
    (void)size;
    assert_non_null(path);
    if (key[0]) {
        s->keys++;
        snprintf(s->last, sizeof s->last, "%s", key);
    } else {
        s->strays++;
    }
    return 0;
}

static void test_foreach_and_clean_tmp(void **state)
{
    fixture *f = *state;
    char k1[PACS_KEY_HEX + 1], k2[PACS_KEY_HEX + 1];
    store(f, "one", 3, 3, k1);
    store(f, "two", 3, 3, k2);
    /* A stray file in a fan-out folder, and an object filed under the wrong folder. */
    char p[512];
    snprintf(p, sizeof p, "%s/%.2s/%.2s/notes.txt", f->root, k1, k1 + 2);
    FILE *fp = fopen(p, "w");
    fputs("x", fp);
    fclose(fp);
    snprintf(p, sizeof p, "%s/%.2s/%.2s/%s", f->root, k1, k1 + 2, k2);
    fp = fopen(p, "w");
    fputs("two", fp);
    fclose(fp);
    seen s;
    memset(&s, 0, sizeof s);
    assert_int_equal(pacs_objstore_foreach(f->os, list_cb, &s, NULL), PACS_OK);
    assert_int_equal(s.keys, 2);
    assert_int_equal(s.strays, 2);
    /* Leftover temporary files of a crashed writer are removed; other files are not. */
    pacs_objwriter *w = NULL;
    assert_int_equal(pacs_objstore_begin(f->os, 100, &w, NULL), PACS_OK);
    snprintf(p, sizeof p, "%s/keep.me", f->tmp);
    fp = fopen(p, "w");
    fclose(fp);
    assert_int_equal(count_files(f->tmp), 2);
    pacs_objstore_clean_tmp(f->os);
    assert_int_equal(count_files(f->tmp), 1);
    assert_int_equal(pacs_objwriter_commit(w, NULL) == PACS_OK, 0); /* its file is gone */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_key_valid),
        cmocka_unit_test_setup_teardown(test_write_commit_read, setup, teardown),
        cmocka_unit_test_setup_teardown(test_folders_made, setup, teardown),
        cmocka_unit_test_setup_teardown(test_dedupe, setup, teardown),
        cmocka_unit_test_setup_teardown(test_abort_and_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_missing_remove, setup, teardown),
        cmocka_unit_test_setup_teardown(test_foreach_and_clean_tmp, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
