// SPDX-License-Identifier: MIT
/*
 * Retention: which studies the hospital's rules say may go (older than N years, per modality),
 * listed with their instance counts and bytes, and deleted through the archive's one delete
 * path (pacs_archive_delete: index rows, then objects swept). A study is never taken while an
 * order names it that is still SCHEDULED or IN PROGRESS, or while a share link to it is live
 * (not revoked, not expired), unless its rule says so. A study's age is its StudyDate; a study
 * without one is never taken. When several rules name a study's modalities, the longest wins
 * (a study is kept as long as any rule that names it keeps it); a `*` rule decides only for
 * studies whose modalities no rule names.
 *
 * Rules (retention.rules): comma-separated `MODALITY:YEARS[:orders][:shares]`, MODALITY `*`
 * for any; `orders` and `shares` let the rule take studies with an open order or a live link.
 * Example: `CR:10, DX:10, *:20`.
 *
 * Load: one read of the study rows per run, then one delete per study. Thread-safe: no shared
 * state.
 */
#ifndef PACS_STORAGE_RETENTION_H
#define PACS_STORAGE_RETENTION_H

#include <stdint.h>

#include "pacs/base/config.h"
#include "pacs/base/err.h"
#include "storage/archive.h"

#define PACS_RETENTION_MAX_RULES 32

typedef struct pacs_retention_rule {
    char modality[17]; /* "*": any */
    int years;
    int with_orders; /* may take a study with an open order */
    int with_shares; /* may take a study with a live share link */
} pacs_retention_rule;

typedef struct pacs_retention_rules {
    pacs_retention_rule r[PACS_RETENTION_MAX_RULES];
    size_t n;
} pacs_retention_rules;

/** Parses `text` (the format above). PACS_EINVAL, naming the bad rule; an empty text gives
 *  no rules (nothing is ever taken). */
pacs_err pacs_retention_parse(const char *text, pacs_retention_rules *out, pacs_errinfo *ei);

/** One study a run takes (or would take). Strings are borrowed for the callback. */
typedef struct pacs_retention_study {
    const char *study_uid, *study_date, *modalities; /* modalities as "\CT\SR\" */
    uint64_t instances, bytes;
    const pacs_retention_rule *rule; /* the rule that takes it */
    int deleted;                     /* removed (not in a dry run) */
    pacs_err err;                    /* the delete's error (then `detail` says why) */
    const char *detail;
} pacs_retention_study;

typedef void (*pacs_retention_cb)(void *ctx, const pacs_retention_study *s);

typedef struct pacs_retention_report {
    uint64_t studies, instances, bytes; /* taken (dry run: would be) */
    uint64_t kept_order, kept_share;    /* old enough, kept for an open order or a live link */
    uint64_t failed;
} pacs_retention_report;

/**
 * Applies `rules` as of `now` (Unix seconds): `cb` is called once per study taken, oldest
 * first; with `dry_run` nothing changes. A failed delete is counted and the run goes on.
 * Errors: an index error reading the studies (nothing deleted then).
 */
pacs_err pacs_retention_run(pacs_archive *a, const pacs_retention_rules *rules, int64_t now,
                            int dry_run, pacs_retention_cb cb, void *ctx, pacs_retention_report *r,
                            pacs_errinfo *ei);

#endif
