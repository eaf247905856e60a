// SPDX-License-Identifier: MIT
/*
 * Plain replay of the decode fuzz target, for CI machines without clang: runs every file of
 * the seed corpus, then a bounded, seeded mutation pass over each (bit flips, byte runs,
 * truncation, splices), so every CI run fuzzes the decoders a little. A crash or sanitizer
 * report fails the test. Usage: fuzz_decode_replay DIR [MUTATIONS_PER_SEED]. Single-threaded.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t rng = 0x9E3779B97F4A7C15ull;

static uint32_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 16);
}

static uint8_t *load(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        return NULL;
    }
    uint8_t *buf = NULL;
    size_t cap = 0, n = 0, got;
    do {
        if (n == cap) {
            cap = cap ? cap * 2 : 65536;
            uint8_t *p = realloc(buf, cap);
            if (!p) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = p;
        }
        got = fread(buf + n, 1, cap - n, f);
        n += got;
    } while (got > 0);
    fclose(f);
    *len = n;
    return buf;
}

static const char *last_path;

static void mutate_and_run(const uint8_t *seed, size_t len, long rounds)
{
    uint8_t *m = malloc(len + 64);
    if (!m) {
        return;
    }
    for (long r = 0; r < rounds; r++) {
        size_t n = len;
        memcpy(m, seed, len);
        int edits = 1 + (int)(next() % 8);
        for (int e = 0; e < edits && n > 6; e++) {
            size_t at = 6 + next() % (n - 6); /* keep the header: mutate the frame bytes */
            switch (next() % 5) {
            case 0:
                m[at] ^= (uint8_t)(1u << (next() % 8));
                break;
            case 1:
                m[at] = (uint8_t)next();
                break;
            case 2:
                memset(m + at, next() % 2 ? 0xFF : 0x00, (n - at) < 16 ? (n - at) : 16);
                break;
            case 3:
                n = at; /* truncate */
                break;
            default: {
                size_t from = 6 + next() % (n - 6), k = (n - at) < 32 ? (n - at) : 32;
                memmove(m + at, m + from, (n - from) < k ? (n - from) : k);
                break;
            }
            }
        }
        if (r % 7 == 0) {
            m[next() % 6] = (uint8_t)next(); /* sometimes the header too */
        }
        if (last_path) { /* FUZZ_LAST=FILE keeps the input under test, to replay a crash */
            FILE *f = fopen(last_path, "wb");
            if (f) {
                fwrite(m, 1, n, f);
                fclose(f);
            }
        }
        LLVMFuzzerTestOneInput(m, n);
    }
    free(m);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: %s CORPUS_DIR [MUTATIONS_PER_SEED]\n", argv[0]);
        return 2;
    }
    long rounds = argc > 2 ? strtol(argv[2], NULL, 10) : 300;
    last_path = getenv("FUZZ_LAST");
    DIR *d = opendir(argv[1]);
    if (!d) {
        perror(argv[1]);
        return 2;
    }
    struct dirent *e;
    int files = 0;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') {
            continue;
        }
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", argv[1], e->d_name);
        size_t len = 0;
        uint8_t *buf = load(path, &len);
        if (!buf) {
            continue;
        }
        LLVMFuzzerTestOneInput(buf, len);
        mutate_and_run(buf, len, rounds);
        free(buf);
        files++;
    }
    closedir(d);
    printf("%d seeds replayed, %ld mutations each\n", files, rounds);
    return files > 0 ? 0 : 1;
}
