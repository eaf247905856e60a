// SPDX-License-Identifier: MIT
/*
 * The maintenance subcommands of the pacs command: reindex, verify, delete and stats, each a thin
 * shell over one archive call (storage/archive.h) that adds progress on a terminal, names every
 * problem found on stdout and sums up. Runs on the main thread only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pacs/dicom/part10.h"
#include "storage/archive.h"
#include "storage/resolve.h"
#include "tools/cli/tool.h"

/* Rejects any argument: for subcommands that take none (or only the flags they parse). */
static int no_args(const char *cmd, int argc, char **argv)
{
    if (argc > 0) {
        fprintf(stderr, "pacs %s: unexpected argument '%s'\n", cmd, argv[0]);
        return 1;
    }
    return 0;
}

int pacs_tool__open_archive(const pacs_config *cfg, unsigned flags, pacs_archive **a)
{
    pacs_errinfo ei;
    if (pacs_archive_open_ex(cfg, flags, a, &ei) != PACS_OK) {
        fprintf(stderr, "pacs: cannot open the archive in %s: %s\n", pacs_config_str(cfg, "data"),
                ei.msg);
        return -1;
    }
    return 0;
}

/* The context of both callbacks: the meter and the count of problems named. */
typedef struct problems {
    pacs_progress *p;
    uint64_t n;
} problems;

static void on_progress(void *ctx, uint64_t done, uint64_t total)
{
    problems *pr = ctx;
    pacs_progress_set(pr->p, done, total);
}

/* One line per problem on stdout: "KIND OBJECT [sop=UID]: detail". */
static void on_problem(void *ctx, const char *kind, const char *object, const char *sop_uid,
                       const char *detail)
{
    problems *pr = ctx;
    pr->n++;
    pacs_progress_clear(pr->p);
    if (sop_uid && sop_uid[0]) {
        printf("%s %s sop=%s: %s\n", kind, object, sop_uid, detail);
    } else {
        printf("%s %s: %s\n", kind, object, detail);
    }
    fflush(stdout);
}

int pacs_tool__reindex(const pacs_config *cfg, int argc, char **argv)
{
    if (no_args("reindex", argc, argv)) {
        return TOOL_USAGE;
    }
    pacs_progress p;
    pacs_progress_start(&p, "reindex", 0);
    problems pr = {&p, 0};
    uint64_t indexed = 0;
    pacs_errinfo ei;
    pacs_err err = pacs_archive_reindex(cfg, on_progress, on_problem, &pr, &indexed, &ei);
    double secs = pacs_progress_elapsed(&p);
    pacs_progress_end(&p);
    if (err != PACS_OK) {
        fprintf(stderr, "pacs: reindex failed: %s\n", ei.msg);
        return TOOL_PROBLEMS;
    }
    printf("reindexed %llu instance(s) in %.1f s; %llu object(s) could not be read\n",
           (unsigned long long)indexed, secs, (unsigned long long)pr.n);
    return pr.n ? TOOL_PROBLEMS : TOOL_OK;
}

int pacs_tool__verify(const pacs_config *cfg, int argc, char **argv)
{
    int sweep = 0;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--sweep") == 0) {
            sweep = 1;
        } else {
            fprintf(stderr, "pacs verify: unexpected argument '%s'\n", argv[i]);
            return TOOL_USAGE;
        }
    }
    pacs_archive *a = NULL;
    if (pacs_tool__open_archive(cfg, sweep ? PACS_ARCHIVE_EXCLUSIVE : 0, &a) != 0) {
        return TOOL_PROBLEMS;
    }
    pacs_progress p;
    pacs_progress_start(&p, "verify", 0);
    problems pr = {&p, 0};
    pacs_verify_report r;
    pacs_errinfo ei;
    pacs_err err = pacs_archive_verify(a, sweep, on_progress, on_problem, &pr, &r, &ei);
    double secs = pacs_progress_elapsed(&p);
    pacs_progress_end(&p);
    pacs_archive_close(a);
    if (err != PACS_OK) {
        fprintf(stderr, "pacs: verify failed: %s\n", ei.msg);
        return TOOL_PROBLEMS;
    }
    printf("verified %llu object(s) in %.1f s: %llu corrupt, %llu missing, %llu orphan(s)",
           (unsigned long long)r.checked, secs, (unsigned long long)r.corrupt,
           (unsigned long long)r.missing, (unsigned long long)r.orphans);
    if (sweep) {
        printf(", %llu swept", (unsigned long long)r.swept);
    }
    printf("\n");
    /* Swept orphans are gone: the archive is clean unless something else was found. */
    int bad = r.corrupt || r.missing || r.orphans > r.swept;
    return bad ? TOOL_PROBLEMS : TOOL_OK;
}

int pacs_tool__delete(const pacs_config *cfg, int argc, char **argv)
{
    static const struct {
        const char *flag;
        pacs_level level;
    } kinds[] = {
        {"--study", PACS_LEVEL_STUDY},
        {"--series", PACS_LEVEL_SERIES},
        {"--instance", PACS_LEVEL_INSTANCE},
    };
    int kind = -1;
    const char *uid = NULL;
    for (int i = 0; i < argc; i++) {
        int k = -1;
        for (int j = 0; j < 3; j++) {
            if (strcmp(argv[i], kinds[j].flag) == 0) {
                k = j;
            }
        }
        if (k < 0 || i + 1 >= argc || uid) {
            kind = -1;
            break;
        }
        kind = k;
        uid = argv[++i];
    }
    if (kind < 0 || !uid) {
        fprintf(stderr, "usage: pacs delete --study UID | --series UID | --instance UID\n");
        return TOOL_USAGE;
    }
    if (!pacs_uid_valid(uid)) {
        fprintf(stderr, "pacs delete: '%s' is not a valid UID\n", uid);
        return TOOL_USAGE;
    }
    pacs_errinfo ei;
    pacs_query *q = pacs_resolve_query(kind == 0 ? uid : NULL, kind == 1 ? uid : NULL,
                                       kind == 2 ? uid : NULL, &ei);
    if (!q) {
        fprintf(stderr, "pacs: %s\n", ei.msg);
        return TOOL_PROBLEMS;
    }
    pacs_archive *a = NULL;
    if (pacs_tool__open_archive(cfg, 0, &a) != 0) {
        pacs_query_free(q);
        return TOOL_PROBLEMS;
    }
    uint64_t n = 0;
    pacs_err err = pacs_archive_delete(a, q, &n, &ei);
    pacs_archive_close(a);
    pacs_query_free(q);
    char detail[128];
    snprintf(detail, sizeof detail, "%s=%s%s%s", kinds[kind].flag + 2, uid,
             err != PACS_OK ? ": " : "", err != PACS_OK ? pacs_err_str(err) : "");
    pacs_tool__audit_event(cfg, PACS_AUDIT_DELETE, err == PACS_OK && n > 0,
                           kinds[kind].level == PACS_LEVEL_STUDY ? uid : NULL, detail, (unsigned)n);
    if (err != PACS_OK) {
        fprintf(stderr, "pacs: delete failed: %s\n", ei.msg);
        return TOOL_PROBLEMS;
    }
    if (n == 0) {
        fprintf(stderr, "pacs: no %s %s is stored\n", kinds[kind].flag + 2, uid);
        return TOOL_PROBLEMS;
    }
    printf("deleted %llu instance(s) of %s %s\n", (unsigned long long)n, kinds[kind].flag + 2, uid);
    return TOOL_OK;
}

int pacs_tool__stats(const pacs_config *cfg, int argc, char **argv)
{
    if (no_args("stats", argc, argv)) {
        return TOOL_USAGE;
    }
    pacs_archive *a = NULL;
    if (pacs_tool__open_archive(cfg, 0, &a) != 0) {
        return TOOL_PROBLEMS;
    }
    pacs_index_stats s;
    pacs_errinfo ei;
    pacs_err err = pacs_archive_stats(a, &s, &ei);
    pacs_archive_close(a);
    if (err != PACS_OK) {
        fprintf(stderr, "pacs: stats failed: %s\n", ei.msg);
        return TOOL_PROBLEMS;
    }
    char size[32];
    pacs_tool__size(s.object_bytes, size, sizeof size);
    printf("patients: %llu\nstudies: %llu\nseries: %llu\ninstances: %llu\nbytes: %llu (%s)\n",
           (unsigned long long)s.patients, (unsigned long long)s.studies,
           (unsigned long long)s.series, (unsigned long long)s.instances,
           (unsigned long long)s.object_bytes, size);
    return TOOL_OK;
}
