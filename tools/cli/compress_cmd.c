// SPDX-License-Identifier: MIT
/*
 * pacs compress [--dry-run]: one pass of compression at rest (storage/compress.h) by the
 * compress.* rule, on the main thread, at compress.rate (--set compress.rate=0 for no cap).
 * Prints one line per instance compressed (or, with --dry-run, that would be), then the
 * bytes before and after and the CPU time; appends one audit line. Safe while pacsd runs.
 */
#include <stdio.h>
#include <string.h>

#include "storage/audit.h"
#include "storage/compress.h"
#include "tools/cli/tool.h"

typedef struct out_ctx {
    pacs_progress *p;
    int verbose;
} out_ctx;

static void on_instance(void *ctx, const char *sop_uid, const char *outcome, uint64_t before,
                        uint64_t after, const char *detail)
{
    out_ctx *o = ctx;
    if (strcmp(outcome, "skipped") == 0 && !o->verbose) {
        return;
    }
    if (after > 0) {
        pacs_tool__msg(o->p, "%s %s: %llu -> %llu bytes (%s)", outcome, sop_uid,
                       (unsigned long long)before, (unsigned long long)after, detail);
    } else {
        pacs_tool__msg(o->p, "%s %s: %s", outcome, sop_uid, detail);
    }
}

int pacs_tool__compress(const pacs_config *cfg, int argc, char **argv)
{
    pacs_compress_options o;
    pacs_errinfo ei;
    out_ctx oc = {NULL, 0};
    int dry_run = 0;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--dry-run") == 0) {
            dry_run = 1;
        } else if (strcmp(argv[i], "--verbose") == 0 || strcmp(argv[i], "-v") == 0) {
            oc.verbose = 1;
        } else {
            fprintf(stderr, "usage: pacs compress [--dry-run] [--verbose]\n");
            return TOOL_USAGE;
        }
    }
    if (pacs_compress_options_load(cfg, &o, &ei) != PACS_OK) {
        fprintf(stderr, "pacs compress: %s\n", ei.msg);
        return TOOL_USAGE;
    }
    o.dry_run = dry_run;
    pacs_archive *a = NULL;
    if (pacs_tool__open_archive(cfg, 0, &a) != 0) {
        return TOOL_PROBLEMS;
    }
    pacs_progress p;
    pacs_progress_start(&p, "compress", 0);
    oc.p = &p;
    pacs_compress_report r;
    pacs_err err = pacs_compress_run(a, &o, 0, on_instance, &oc, &r, &ei);
    pacs_progress_end(&p);
    pacs_archive_close(a);
    uint64_t saved = r.bytes_before - r.bytes_after;
    char before[32], after[32], sv[32];
    pacs_tool__size(r.bytes_before, before, sizeof before);
    pacs_tool__size(r.bytes_after, after, sizeof after);
    pacs_tool__size(saved, sv, sizeof sv);
    printf("%s: %llu of %llu instance(s) examined to %s, %llu skipped, %llu failed\n",
           dry_run ? "would compress" : "compressed", (unsigned long long)r.compressed,
           (unsigned long long)r.examined, o.ts_uid, (unsigned long long)r.skipped,
           (unsigned long long)r.failed);
    printf("bytes: %llu before (%s), %llu after (%s), %llu saved (%s, %.1f%%)\n",
           (unsigned long long)r.bytes_before, before, (unsigned long long)r.bytes_after, after,
           (unsigned long long)saved, sv,
           r.bytes_before ? 100.0 * (double)saved / (double)r.bytes_before : 0.0);
    printf("cpu: %.3f s (%.4f s per instance examined, %.1f s per GB before)\n", r.cpu_seconds,
           r.examined ? r.cpu_seconds / (double)r.examined : 0.0,
           r.bytes_before ? r.cpu_seconds * 1e9 / (double)r.bytes_before : 0.0);
    if (!dry_run) {
        char detail[160];
        snprintf(detail, sizeof detail, "to %s, %llu bytes saved, %llu failed%s%s", o.ts_uid,
                 (unsigned long long)saved, (unsigned long long)r.failed,
                 err != PACS_OK ? ": " : "", err != PACS_OK ? pacs_err_str(err) : "");
        pacs_tool__audit_event(cfg, PACS_AUDIT_COMPRESS, err == PACS_OK && r.failed == 0, NULL,
                               detail, (unsigned)r.compressed);
    }
    if (err != PACS_OK) {
        fprintf(stderr, "pacs: compress stopped: %s\n", ei.msg);
        return TOOL_PROBLEMS;
    }
    return r.failed ? TOOL_PROBLEMS : TOOL_OK;
}
