// SPDX-License-Identifier: MIT
/*
 * `pacs backup DEST` and `pacs restore SRC DATA` (storage/backup.h): a consistent copy of the
 * archive made while pacsd runs (a second backup into the same folder copies only what is new),
 * and the way back into an empty data folder. This file parses the arguments and prints what
 * was done; the storage layer does the copying. Runs on the main thread only.
 */
#include <stdio.h>
#include <string.h>

#include "storage/backup.h"
#include "tools/cli/tool.h"

static void on_progress(void *ctx, uint64_t done, uint64_t total)
{
    pacs_progress_set(ctx, done, total);
}

/* Prints what a backup or restore did; the object line is the one scripts read. */
static void print_report(const pacs_backup_report *r, double secs)
{
    char size[32], audit[32];
    pacs_tool__size(r->copied_bytes, size, sizeof size);
    pacs_tool__size(r->audit_bytes, audit, sizeof audit);
    printf("objects: %llu in the index, %llu copied (%s, %llu bytes), %llu already there, "
           "%llu removed\n",
           (unsigned long long)r->objects, (unsigned long long)r->copied, size,
           (unsigned long long)r->copied_bytes, (unsigned long long)r->present,
           (unsigned long long)r->pruned);
    if (r->missing || r->corrupt) {
        printf("objects not copied: %llu missing, %llu corrupt (named above)\n",
               (unsigned long long)r->missing, (unsigned long long)r->corrupt);
    }
    printf("audit trail: %llu file(s) copied (%s)\n", (unsigned long long)r->audit_files, audit);
    printf("took %.1f s\n", secs);
}

int pacs_tool__backup(const pacs_config *cfg, int argc, char **argv)
{
    if (argc != 1 || argv[0][0] == '-') {
        fprintf(stderr, "usage: pacs [--config FILE] backup DEST\n");
        return TOOL_USAGE;
    }
    const char *dest = argv[0];
    pacs_backup_report r;
    pacs_errinfo ei;
    pacs_progress p;
    pacs_progress_start(&p, "backup", 0);
    pacs_err err = pacs_backup_run(cfg, dest, pacs_tool__config_file(), on_progress, &p, &r, &ei);
    double secs = pacs_progress_elapsed(&p);
    pacs_progress_end(&p);
    if (err != PACS_OK && err != PACS_ECORRUPT) {
        fprintf(stderr, "pacs backup: %s (the previous backup in %s, if any, is kept)\n", ei.msg,
                dest);
        return TOOL_PROBLEMS;
    }
    printf("backup of %s into %s\n", pacs_config_str(cfg, "data"), dest);
    if (r.index_copied) {
        printf("index: copied (SQLite online backup) as index.sqlite\n");
    } else {
        char cmd[8400], loc[4096];
        snprintf(loc, sizeof loc, "%s", pacs_config_str(cfg, "index"));
        pacs_backup_pg_dump_command(loc, dest, cmd, sizeof cmd);
        printf("index: PostgreSQL, not copied; dump it, then run this backup again (it copies "
               "only the\n       objects stored meanwhile, so every object the dump names is "
               "in the backup):\n  %s\n",
               cmd);
    }
    print_report(&r, secs);
    printf("configuration: %s\n", r.config_copied ? "saved as pacsd.conf"
                                  : pacs_tool__config_file()
                                      ? "not found"
                                      : "none given (--config FILE saves it with the backup)");
    if (err == PACS_ECORRUPT) {
        fprintf(stderr, "pacs backup: %s; run pacs verify\n", ei.msg);
        return TOOL_PROBLEMS;
    }
    return TOOL_OK;
}

int pacs_tool__restore(const pacs_config *cfg, int argc, char **argv)
{
    (void)cfg;
    if (argc != 2 || argv[0][0] == '-' || argv[1][0] == '-') {
        fprintf(stderr, "usage: pacs restore SRC DATA   (DATA: a new or empty data folder)\n");
        return TOOL_USAGE;
    }
    pacs_backup_report r;
    pacs_errinfo ei;
    pacs_progress p;
    pacs_progress_start(&p, "restore", 0);
    pacs_err err = pacs_backup_restore(argv[0], argv[1], on_progress, &p, &r, &ei);
    double secs = pacs_progress_elapsed(&p);
    pacs_progress_end(&p);
    if (err != PACS_OK && err != PACS_ECORRUPT) {
        fprintf(stderr, "pacs restore: %s\n", ei.msg);
        return err == PACS_EINVAL || err == PACS_EEXIST ? TOOL_USAGE : TOOL_PROBLEMS;
    }
    printf("restored %s into %s\n", argv[0], argv[1]);
    if (r.index_copied) {
        printf("index: index.sqlite\n");
    } else {
        printf("index: PostgreSQL; load the dump into an empty database, e.g.\n"
               "  pg_restore --no-owner --dbname='postgresql://USER@HOST:PORT/DB' "
               "'%s/index.pgdump'\n",
               argv[0]);
    }
    print_report(&r, secs);
    printf("configuration: the one saved with the backup, if any, is %s/pacsd.conf\n", argv[0]);
    if (err == PACS_ECORRUPT) {
        fprintf(stderr, "pacs restore: %s\n", ei.msg);
        return TOOL_PROBLEMS;
    }
    return TOOL_OK;
}
