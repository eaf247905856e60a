// SPDX-License-Identifier: MIT
/*
 * The journal shared by the power-cut emulator's two halves: tests/tools/lostwrites.c, preloaded
 * into pacsd, appends one record before each change it lets through under a folder (and one
 * after each flush that succeeds); tests/tools/lostwrites_undo.c reads the journal once the
 * process is dead and undoes, newest first, every change no later flush made durable. What is
 * left is what a disk could hold after a power cut: everything flushed, nothing else.
 *
 * A record is a header, then `path_len` bytes of path, `path2_len` of a second path and
 * `data_len` of saved bytes. The last record may be cut short by the kill: readers drop it.
 */
#ifndef PACS_TESTS_LOSTWRITES_H
#define PACS_TESTS_LOSTWRITES_H

#include <stdint.h>

#define LW_MAGIC 0x3152574cu /* "LWR1" */

enum lw_kind {
    LW_WRITE = 1, /* bytes at off changed: data = what was there before (up to old_size) */
    LW_SIZE,      /* the file's size changed from old_size (ftruncate, or a write past the end) */
    LW_CREATE,    /* path was created (a file): ino */
    LW_MKDIR,     /* path was created (a folder) */
    LW_UNLINK,    /* path (a file, ino) was removed; its inode is kept by a side link */
    LW_RMDIR,     /* path (an empty folder) was removed */
    LW_RENAME,    /* path was renamed to path2; ino2 is the file path2 named before, or 0 */
    LW_FSYNC,     /* flush of file ino: its LW_WRITE/LW_SIZE records up to `covers` are durable */
    LW_DIRSYNC,   /* flush of folder ino: names changed in it up to `covers` are durable */
    LW_SYNCALL,   /* syncfs or sync: everything up to `covers` is durable */
};

struct lw_record {
    uint32_t magic, kind;
    uint64_t seq;          /* order of the change; for a flush, the last change it covers */
    uint64_t ino, ino2;    /* the file (and for a rename, the file it replaced) */
    uint64_t dir, dir2;    /* the folder(s) whose names changed (create, unlink, rename) */
    int64_t off, old_size; /* LW_WRITE, LW_SIZE */
    uint32_t path_len, path2_len;
    uint64_t data_len;
};

/* Side links keep every inode a record names alive and reachable: SIDE/<ino>. */
#define LW_SIDE_FMT "%s/%llu"

#endif
