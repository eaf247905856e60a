// SPDX-License-Identifier: MIT
/*
 * Disk watermarks (space.h): statvfs of each watched file system, turned into a level against
 * the configured amounts; the last level of each is kept in an atomic so that a change is
 * logged once (WARN when space runs low, ERROR when stores are refused, INFO when it is back).
 * Load: one or two statvfs per store. Thread-safe: the watcher is read-only after open but
 * for those atomics.
 */
#include "storage/space.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>

#include "pacs/base/log.h"
#include "pacs/base/metrics.h"

typedef struct watched {
    char path[512];
    atomic_int level; /* pacs_space_level last seen */
} watched;

struct pacs_space {
    pacs_amount free_min, free_warn;
    watched fs[PACS_SPACE_MAX];
    size_t n;
};

pacs_err pacs_space_open(const pacs_config *cfg, const char *const *folders, size_t n,
                         pacs_space **out, pacs_errinfo *ei)
{
    pacs_space *s = calloc(1, sizeof *s);
    if (!s) {
        return pacs_errf(ei, PACS_ENOMEM, "out of memory");
    }
    s->free_min = pacs_config_amount(cfg, "storage.free_min");
    s->free_warn = pacs_config_amount(cfg, "storage.free_warn");
    dev_t devs[PACS_SPACE_MAX];
    for (size_t i = 0; i < n; i++) {
        struct stat st;
        if (stat(folders[i], &st) != 0) {
            pacs_err err =
                pacs_errf(ei, PACS_EIO, "cannot examine %s: %s", folders[i], strerror(errno));
            free(s);
            return err;
        }
        int seen = 0;
        for (size_t j = 0; j < s->n; j++) {
            seen |= devs[j] == st.st_dev;
        }
        if (seen || s->n == PACS_SPACE_MAX) {
            continue;
        }
        devs[s->n] = st.st_dev;
        snprintf(s->fs[s->n].path, sizeof s->fs[s->n].path, "%s", folders[i]);
        atomic_init(&s->fs[s->n].level, PACS_SPACE_OK);
        s->n++;
    }
    *out = s;
    return PACS_OK;
}

void pacs_space_close(pacs_space *s)
{
    free(s);
}

static uint64_t amount_bytes(const pacs_amount *a, uint64_t size)
{
    return a->percent ? (uint64_t)((double)size * a->share / 100.0) : a->bytes;
}

static void mib(uint64_t bytes, char *buf, size_t cap)
{
    snprintf(buf, cap, "%.1f MiB", (double)bytes / (1024.0 * 1024.0));
}

/* Examines one file system; -1 when it cannot be. Logs a change of level. */
static int examine(pacs_space *s, watched *w, pacs_space_info *out)
{
    struct statvfs v;
    if (statvfs(w->path, &v) != 0) {
        return -1;
    }
    memset(out, 0, sizeof *out);
    snprintf(out->path, sizeof out->path, "%s", w->path);
    out->size = (uint64_t)v.f_blocks * v.f_frsize;
    out->avail = (uint64_t)v.f_bavail * v.f_frsize;
    out->refuse_below = amount_bytes(&s->free_min, out->size);
    out->warn_below = amount_bytes(&s->free_warn, out->size);
    if (out->warn_below < out->refuse_below) {
        out->warn_below = out->refuse_below;
    }
    out->level = out->avail < out->refuse_below ? PACS_SPACE_REFUSE
                 : out->avail < out->warn_below ? PACS_SPACE_LOW
                                                : PACS_SPACE_OK;
    int was = atomic_exchange(&w->level, (int)out->level);
    if (was != (int)out->level) {
        char avail[32], size[32], level[32];
        mib(out->avail, avail, sizeof avail);
        mib(out->size, size, sizeof size);
        if (out->level == PACS_SPACE_REFUSE) {
            mib(out->refuse_below, level, sizeof level);
            pacs_log(PACS_LOG_ERROR, "storage",
                     "free space on %s is %s of %s, below storage.free_min (%s): new stores are "
                     "refused until space is freed",
                     w->path, avail, size, level);
        } else if (out->level == PACS_SPACE_LOW) {
            mib(out->warn_below, level, sizeof level);
            pacs_log(PACS_LOG_WARN, "storage",
                     "free space on %s is low: %s of %s, below storage.free_warn (%s)%s", w->path,
                     avail, size, level,
                     was == PACS_SPACE_REFUSE ? "; stores are accepted again" : "");
        } else {
            pacs_log(PACS_LOG_INFO, "storage", "free space on %s is %s of %s: enough again",
                     w->path, avail, size);
        }
    }
    return 0;
}

size_t pacs_space_check(pacs_space *s, pacs_space_info *out, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < s->n && n < cap; i++) {
        if (examine(s, &s->fs[i], &out[n]) == 0) {
            n++;
        }
    }
    return n;
}

pacs_err pacs_space_admit(pacs_space *s, pacs_errinfo *ei)
{
    for (size_t i = 0; i < s->n; i++) {
        pacs_space_info info;
        if (examine(s, &s->fs[i], &info) != 0 || info.level != PACS_SPACE_REFUSE) {
            continue;
        }
        char avail[32], level[32];
        mib(info.avail, avail, sizeof avail);
        mib(info.refuse_below, level, sizeof level);
        pacs_metrics_add(PACS_M_WATERMARK_REFUSED, 1);
        /* The setting first: a DIMSE error comment keeps only 64 characters. */
        return pacs_errf(ei, PACS_ENOSPC,
                         "free space below storage.free_min (%s free, %s needed) on %s; new "
                         "objects are refused until space is freed",
                         avail, level, info.path);
    }
    return PACS_OK;
}
