// SPDX-License-Identifier: MIT
/*
 * pacs retention [--dry-run]: the studies retention.rules takes (storage/retention.h), one line
 * each, oldest first, with their instances and bytes, then the totals and what was kept for an
 * open order or a live share link. Without --dry-run each study is deleted through the
 * archive's delete path, with one audit line each. Safe while pacsd runs.
 */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "storage/audit.h"
#include "storage/retention.h"
#include "tools/cli/tool.h"

static void on_study(void *ctx, const pacs_retention_study *s)
{
    int dry_run = *(const int *)ctx;
    char rule[40];
    snprintf(rule, sizeof rule, "%s:%d%s%s", s->rule->modality, s->rule->years,
             s->rule->with_orders ? ":orders" : "", s->rule->with_shares ? ":shares" : "");
    const char *what = dry_run ? "would delete" : s->deleted ? "deleted" : "failed";
    printf("%s study=%s date=%s modalities=%s instances=%llu bytes=%llu rule=%s%s%s\n", what,
           s->study_uid, s->study_date, s->modalities, (unsigned long long)s->instances,
           (unsigned long long)s->bytes, rule, s->err != PACS_OK ? ": " : "",
           s->err != PACS_OK ? s->detail : "");
    if (!dry_run) {
        char detail[96];
        snprintf(detail, sizeof detail, "study=%s retention rule %s%s%s", s->study_uid, rule,
                 s->err != PACS_OK ? ": " : "", s->err != PACS_OK ? pacs_err_str(s->err) : "");
        pacs_tool__audit_line(PACS_AUDIT_DELETE, s->deleted, s->study_uid, NULL, detail,
                              (unsigned)s->instances);
    }
}

int pacs_tool__retention(const pacs_config *cfg, int argc, char **argv)
{
    int dry_run = 0;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--dry-run") == 0) {
            dry_run = 1;
        } else {
            fprintf(stderr, "usage: pacs retention [--dry-run]\n");
            return TOOL_USAGE;
        }
    }
    pacs_retention_rules rules;
    pacs_errinfo ei;
    if (pacs_retention_parse(pacs_config_str(cfg, "retention.rules"), &rules, &ei) != PACS_OK) {
        fprintf(stderr, "pacs retention: %s\n", ei.msg);
        return TOOL_USAGE;
    }
    if (rules.n == 0) {
        fprintf(stderr, "pacs retention: no rules (set retention.rules, e.g. CR:10,*:20)\n");
        return TOOL_USAGE;
    }
    pacs_archive *a = NULL;
    if (pacs_tool__open_archive(cfg, 0, &a) != 0) {
        return TOOL_PROBLEMS;
    }
    if (!dry_run) {
        pacs_tool__audit_begin(cfg);
    }
    pacs_retention_report r;
    pacs_err err =
        pacs_retention_run(a, &rules, (int64_t)time(NULL), dry_run, on_study, &dry_run, &r, &ei);
    if (!dry_run) {
        pacs_tool__audit_end();
    }
    pacs_archive_close(a);
    char size[32];
    pacs_tool__size(r.bytes, size, sizeof size);
    printf("%s: %llu studies, %llu instances, %llu bytes (%s); kept: %llu for an open order, "
           "%llu for a live share link; %llu failed\n",
           dry_run ? "would delete" : "deleted", (unsigned long long)r.studies,
           (unsigned long long)r.instances, (unsigned long long)r.bytes, size,
           (unsigned long long)r.kept_order, (unsigned long long)r.kept_share,
           (unsigned long long)r.failed);
    if (err != PACS_OK) {
        fprintf(stderr, "pacs: retention failed: %s\n", ei.msg);
        return TOOL_PROBLEMS;
    }
    return r.failed ? TOOL_PROBLEMS : TOOL_OK;
}
