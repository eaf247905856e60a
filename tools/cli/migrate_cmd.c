// SPDX-License-Identifier: MIT
/*
 * `pacs migrate --to postgresql://...`: copies the archive's index (SQLite by default) into
 * an empty PostgreSQL index without reading the objects again, so that the same data folder's
 * objects can then be served by one or more pacsd nodes on PostgreSQL. The data folder is held
 * exclusively meanwhile (pacsd must be stopped), and the copy is one transaction: all or
 * nothing. Runs on the main thread only.
 */
#include <stdio.h>
#include <string.h>

#include "storage/archive.h"
#include "tools/cli/tool.h"

static void on_progress(void *ctx, uint64_t done, uint64_t total)
{
    pacs_progress_set(ctx, done, total);
}

int pacs_tool__migrate(const pacs_config *cfg, int argc, char **argv)
{
    const char *to = NULL;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--to") == 0 && i + 1 < argc) {
            to = argv[++i];
        } else {
            fprintf(stderr, "pacs migrate: unexpected argument '%s'\n", argv[i]);
            return TOOL_USAGE;
        }
    }
    if (!to || (strncmp(to, "postgresql:", 11) != 0 && strncmp(to, "postgres:", 9) != 0)) {
        fprintf(stderr, "usage: pacs migrate --to postgresql://USER@HOST:PORT/DATABASE\n");
        return TOOL_USAGE;
    }
    pacs_archive *a = NULL;
    pacs_errinfo ei;
    if (pacs_archive_open_ex(cfg, PACS_ARCHIVE_EXCLUSIVE, &a, &ei) != PACS_OK) {
        fprintf(stderr, "pacs migrate: cannot open the archive in %s: %s\n",
                pacs_config_str(cfg, "data"), ei.msg);
        return TOOL_PROBLEMS;
    }
    pacs_progress p;
    pacs_progress_start(&p, "migrate", 0);
    uint64_t instances = 0, forwards = 0;
    pacs_err err = pacs_archive_copy_index(a, to, on_progress, &p, &instances, &forwards, &ei);
    double secs = pacs_progress_elapsed(&p);
    pacs_progress_end(&p);
    pacs_archive_close(a);
    if (err != PACS_OK) {
        fprintf(stderr, "pacs migrate: nothing was copied: %s\n", ei.msg);
        return TOOL_PROBLEMS;
    }
    printf("copied %llu instance(s) and %llu pending forward(s) in %.1f s; start pacsd with\n"
           "  --set index=<the same URI> (or index = ... in its configuration)\n",
           (unsigned long long)instances, (unsigned long long)forwards, secs);
    return TOOL_OK;
}
