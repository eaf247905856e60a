// SPDX-License-Identifier: MIT
/*
 * The throw-away data folder and configuration of the whole-path fuzz targets (see common.h).
 * Runs once per process; not thread-safe.
 */
#define _XOPEN_SOURCE 700
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fuzz/common.h"
#include "pacs/base/log.h"

static char data_dir[4096];
static pacs_config *config; /* lives as long as the process: the archive keeps a pointer */

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* Runs last (registered first): after the targets have closed what they opened. */
static void remove_data_dir(void)
{
    pacs_config_free(config);
    config = NULL;
    if (data_dir[0]) {
        nftw(data_dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
    }
}

pacs_config *pacs_fuzz__config(const char *const *extra)
{
    struct stat st;
    const char *base =
        stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) && access("/dev/shm", W_OK) == 0
            ? "/dev/shm"
        : getenv("TMPDIR") ? getenv("TMPDIR")
                           : "/tmp";
    snprintf(data_dir, sizeof data_dir, "%s/pacs-fuzz-XXXXXX", base);
    if (!mkdtemp(data_dir)) {
        perror("fuzz: mkdtemp");
        exit(1);
    }
    atexit(remove_data_dir);
    pacs_log_set_level(PACS_LOG_ERROR);
    pacs_config *cfg = config = pacs_config_new();
    pacs_errinfo ei = {0};
    if (!cfg || pacs_config_set(cfg, "data", data_dir, &ei) != PACS_OK ||
        pacs_config_set(cfg, "log.level", "error", &ei) != PACS_OK) {
        fprintf(stderr, "fuzz: configuration: %s\n", ei.msg);
        exit(1);
    }
    for (size_t i = 0; extra && extra[i]; i++) {
        if (pacs_config_set_pair(cfg, extra[i], &ei) != PACS_OK) {
            fprintf(stderr, "fuzz: configuration: %s\n", ei.msg);
            exit(1);
        }
    }
    if (pacs_config_finish(cfg, &ei) != PACS_OK) {
        fprintf(stderr, "fuzz: configuration: %s\n", ei.msg);
        exit(1);
    }
    return cfg;
}
