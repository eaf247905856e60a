// SPDX-License-Identifier: MIT
/*
 * The power cut itself: run after the process lostwrites.c watched has been killed, it undoes,
 * newest first, every change in the journal (lostwrites.h) that no flush made durable, leaving
 * the folder as a disk could hold it after losing power. Then it removes the side links.
 *
 *   lostwrites_undo JOURNAL SIDE
 *
 * LOST_KEEP="PATH ..." in the environment keeps every write to those files (as they are now)
 * though no flush covered it: a disk that wrote some pages and not others, e.g. the index's
 * log but not the objects its rows name.
 *
 * Prints one line: how many changes were undone, of which kind, and how many were durable;
 * with LOST_VERBOSE=1 in the environment, first one line per change undone.
 * Exits 1 on an unreadable journal or when an undo step fails; 0 otherwise.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "lostwrites.h"

struct rec {
    struct lw_record h;
    char *path, *path2;
    unsigned char *data;
};

/* The highest `covers` of the flushes of one file or folder, keyed by inode. */
struct cover {
    uint64_t ino, file, dir;
};

static struct cover *covers;
static size_t n_covers;
static uint64_t kept_ino[8]; /* LOST_KEEP's files */
static size_t n_kept_ino;
static uint64_t all_cover;
static const char *side;
static int failures;

static struct cover *cover_of(uint64_t ino)
{
    for (size_t i = 0; i < n_covers; i++) {
        if (covers[i].ino == ino) {
            return &covers[i];
        }
    }
    covers = realloc(covers, (n_covers + 1) * sizeof *covers);
    if (!covers) {
        exit(1);
    }
    covers[n_covers] = (struct cover){ino, 0, 0};
    return &covers[n_covers++];
}

static int dir_durable(uint64_t dir, uint64_t seq)
{
    return seq <= all_cover || (dir && cover_of(dir)->dir >= seq);
}

static int durable(const struct lw_record *h)
{
    switch (h->kind) {
    case LW_WRITE:
    case LW_SIZE:
        for (size_t i = 0; i < n_kept_ino; i++) {
            if (kept_ino[i] == h->ino) {
                return 1;
            }
        }
        return h->seq <= all_cover || cover_of(h->ino)->file >= h->seq;
    case LW_RENAME:
        return dir_durable(h->dir, h->seq) && dir_durable(h->dir2, h->seq);
    default:
        return dir_durable(h->dir, h->seq);
    }
}

static void failed(const char *what, const char *path)
{
    fprintf(stderr, "lostwrites_undo: %s %s: %s\n", what, path, strerror(errno));
    failures++;
}

static void side_path(uint64_t ino, char *buf, size_t cap)
{
    snprintf(buf, cap, LW_SIDE_FMT, side, (unsigned long long)ino);
}

/* Removes a folder and what it holds (names in a folder whose own name was never durable are
 * lost with it). */
static void remove_tree(const char *path)
{
    DIR *d = opendir(path);
    if (!d) {
        if (unlink(path) != 0 && errno != ENOENT) {
            failed("unlink", path);
        }
        return;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) {
            continue;
        }
        char sub[PATH_MAX];
        snprintf(sub, sizeof sub, "%s/%s", path, e->d_name);
        remove_tree(sub);
    }
    closedir(d);
    if (rmdir(path) != 0 && errno != ENOENT) {
        failed("rmdir", path);
    }
}

/* Restores a file's bytes at off and its size, through its side link. */
static void restore_bytes(const struct rec *r)
{
    char p[PATH_MAX];
    side_path(r->h.ino, p, sizeof p);
    int fd = open(p, O_WRONLY | O_CLOEXEC);
    if (fd < 0) {
        failed("open", p);
        return;
    }
    if (r->h.data_len && pwrite(fd, r->data, r->h.data_len, r->h.off) != (ssize_t)r->h.data_len) {
        failed("pwrite", p);
    }
    if (ftruncate(fd, r->h.old_size) != 0) {
        failed("ftruncate", p);
    }
    close(fd);
}

/* Is path the file with inode ino? */
static int is_ino(const char *path, uint64_t ino)
{
    struct stat sb;
    return lstat(path, &sb) == 0 && (uint64_t)sb.st_ino == ino;
}

static void undo(const struct rec *r)
{
    char p[PATH_MAX];
    switch (r->h.kind) {
    case LW_WRITE:
    case LW_SIZE:
        restore_bytes(r);
        break;
    case LW_CREATE:
        if (is_ino(r->path, r->h.ino) && unlink(r->path) != 0) {
            failed("unlink", r->path);
        }
        break;
    case LW_MKDIR:
        remove_tree(r->path);
        break;
    case LW_UNLINK:
        side_path(r->h.ino, p, sizeof p);
        if (link(p, r->path) != 0 && errno != EEXIST) {
            failed("link", r->path);
        }
        break;
    case LW_RMDIR:
        if (mkdir(r->path, 0755) != 0 && errno != EEXIST) {
            failed("mkdir", r->path);
        }
        break;
    case LW_RENAME:
        if (rename(r->path2, r->path) != 0) {
            failed("rename back", r->path2);
            break;
        }
        if (r->h.ino2) {
            side_path(r->h.ino2, p, sizeof p);
            if (link(p, r->path2) != 0) {
                failed("link", r->path2);
            }
        }
        break;
    default:
        break;
    }
}

/* Reads the journal; a record cut short by the kill ends it. */
static struct rec *read_journal(const char *path, size_t *n)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        return NULL;
    }
    struct rec *v = NULL;
    size_t cap = 0;
    *n = 0;
    struct lw_record h;
    while (fread(&h, sizeof h, 1, f) == 1 && h.magic == LW_MAGIC) {
        struct rec r = {h, calloc(1, h.path_len + 1u), calloc(1, h.path2_len + 1u),
                        malloc(h.data_len ? h.data_len : 1)};
        if (!r.path || !r.path2 || !r.data || fread(r.path, 1, h.path_len, f) != h.path_len ||
            fread(r.path2, 1, h.path2_len, f) != h.path2_len ||
            fread(r.data, 1, h.data_len, f) != h.data_len) {
            free(r.path);
            free(r.path2);
            free(r.data);
            break;
        }
        if (*n == cap) {
            cap = cap ? cap * 2 : 1024;
            v = realloc(v, cap * sizeof *v);
            if (!v) {
                exit(1);
            }
        }
        v[(*n)++] = r;
    }
    fclose(f);
    return v ? v : calloc(1, sizeof *v);
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: lostwrites_undo JOURNAL SIDE\n");
        return 2;
    }
    side = argv[2];
    const char *keep = getenv("LOST_KEEP");
    char keep_buf[4 * PATH_MAX];
    snprintf(keep_buf, sizeof keep_buf, "%s", keep ? keep : "");
    for (char *save = NULL, *p = strtok_r(keep_buf, " ", &save); p && n_kept_ino < 8;
         p = strtok_r(NULL, " ", &save)) {
        struct stat sb;
        if (stat(p, &sb) == 0) {
            kept_ino[n_kept_ino++] = (uint64_t)sb.st_ino;
        }
    }
    const char *env = getenv("LOST_VERBOSE");
    int verbose = env && strcmp(env, "1") == 0;
    size_t n = 0;
    struct rec *v = read_journal(argv[1], &n);
    if (!v) {
        fprintf(stderr, "lostwrites_undo: %s: %s\n", argv[1], strerror(errno));
        return 1;
    }
    for (size_t i = 0; i < n; i++) {
        const struct lw_record *h = &v[i].h;
        if (h->kind == LW_SYNCALL && h->seq > all_cover) {
            all_cover = h->seq;
        } else if (h->kind == LW_FSYNC && h->seq > cover_of(h->ino)->file) {
            cover_of(h->ino)->file = h->seq;
        } else if (h->kind == LW_DIRSYNC && h->seq > cover_of(h->ino)->dir) {
            cover_of(h->ino)->dir = h->seq;
        }
    }
    unsigned long long undone[LW_SYNCALL + 1] = {0}, kept = 0, bytes = 0;
    for (size_t i = n; i-- > 0;) {
        const struct rec *r = &v[i];
        if (r->h.kind >= LW_FSYNC) {
            continue;
        }
        if (durable(&r->h)) {
            kept++;
            continue;
        }
        if (verbose) {
            static const char *const names[] = {"",      "write",  "size",  "create",
                                                "mkdir", "unlink", "rmdir", "rename"};
            printf("undo %s %s%s%s (inode %llu)\n", names[r->h.kind], r->path,
                   r->path2[0] ? " -> " : "", r->path2, (unsigned long long)r->h.ino);
        }
        undo(r);
        undone[r->h.kind]++;
        if (r->h.kind == LW_WRITE) {
            bytes += r->h.data_len;
        }
    }
    remove_tree(side);
    printf("lostwrites: undid %llu write(s) (%llu bytes restored), %llu size change(s), "
           "%llu new file(s), %llu new folder(s), %llu unlink(s), %llu rmdir(s), %llu rename(s);"
           " %llu change(s) were durable\n",
           undone[LW_WRITE], bytes, undone[LW_SIZE], undone[LW_CREATE], undone[LW_MKDIR],
           undone[LW_UNLINK], undone[LW_RMDIR], undone[LW_RENAME], kept);
    for (size_t i = 0; i < n; i++) {
        free(v[i].path);
        free(v[i].path2);
        free(v[i].data);
    }
    free(v);
    free(covers);
    return failures ? 1 : 0;
}
