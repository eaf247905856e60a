// SPDX-License-Identifier: MIT
/*
 * `pacs audit [--patient ID] [--study UID] [--since DATE]`: prints the audit trail's lines
 * (storage/audit.h) that concern one patient or study, oldest first, as stored (JSON lines).
 * For --patient, a line matches when it names the patient, or names a study that a line of
 * the trail or the index ties to that patient (queries and retrieves name studies only).
 * Also the audit lines of the tool's own commands (pacs_tool__audit_*: import, delete).
 * Single-threaded.
 */
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "storage/archive.h"
#include "storage/audit.h"
#include "storage/catalog.h"
#include "storage/query.h"
#include "tools/cli/tool.h"

static int valid_date(const char *s)
{
    /* YYYY-MM-DD, optionally followed by THH:MM:SS */
    size_t n = strlen(s);
    if (n != 10 && n != 19) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        int sep = i == 4 || i == 7     ? c == '-'
                  : i == 10            ? c == 'T'
                  : i == 13 || i == 16 ? c == ':'
                                       : -1;
        if (sep == 0 || (sep < 0 && (c < '0' || c > '9'))) {
            return 0;
        }
    }
    return 1;
}

typedef struct uid_list {
    char **uids;
    size_t n, cap;
} uid_list;

static int add_study(void *ctx, const json_t *result)
{
    uid_list *l = ctx;
    char *uid = pacs_json_text(result, 0x0020000Du);
    if (!uid) {
        return 0;
    }
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 16;
        char **g = realloc(l->uids, cap * sizeof *g);
        if (!g) {
            free(uid);
            return 1;
        }
        l->uids = g;
        l->cap = cap;
    }
    l->uids[l->n++] = uid;
    return 0;
}

/* The patient's studies in the index (stored before the trail existed, say); best effort. */
static void index_studies(const pacs_config *cfg, const char *patient_id, uid_list *out)
{
    pacs_archive *a = NULL;
    pacs_errinfo ei;
    if (pacs_archive_open_ex(cfg, 0, &a, &ei) != PACS_OK) {
        fprintf(stderr,
                "pacs audit: the index is not readable (%s); studies are tied to the "
                "patient through the trail only\n",
                ei.msg);
        return;
    }
    pacs_query *q = pacs_query_new(PACS_LEVEL_STUDY);
    if (q && pacs_query_add(q, 0x00100020u, NULL, patient_id, &ei) == PACS_OK) {
        pacs_archive_find(a, q, add_study, out, &ei);
    }
    pacs_query_free(q);
    pacs_archive_close(a);
}

int pacs_tool__audit(const pacs_config *cfg, int argc, char **argv)
{
    pacs_audit_filter f = {NULL, NULL, NULL, NULL, 0};
    for (int i = 0; i < argc; i++) {
        const char **slot = strcmp(argv[i], "--patient") == 0 ? &f.patient_id
                            : strcmp(argv[i], "--study") == 0 ? &f.study_uid
                            : strcmp(argv[i], "--since") == 0 ? &f.since
                                                              : NULL;
        if (!slot || i + 1 >= argc || !argv[i + 1][0]) {
            fprintf(stderr, "usage: pacs audit [--patient ID] [--study UID] [--since DATE]\n");
            return TOOL_USAGE;
        }
        *slot = argv[++i];
    }
    if (f.since && !valid_date(f.since)) {
        fprintf(stderr, "pacs audit: --since takes YYYY-MM-DD or YYYY-MM-DDTHH:MM:SS (UTC)\n");
        return TOOL_USAGE;
    }
    uid_list studies = {NULL, 0, 0};
    if (f.patient_id) {
        index_studies(cfg, f.patient_id, &studies);
        f.studies = (const char *const *)studies.uids;
        f.n_studies = studies.n;
    }
    size_t lines = 0, bad = 0;
    pacs_errinfo ei;
    pacs_err err = pacs_audit_read(pacs_config_str(cfg, "data"), &f, stdout, &lines, &bad, &ei);
    for (size_t i = 0; i < studies.n; i++) {
        free(studies.uids[i]);
    }
    free(studies.uids);
    if (err != PACS_OK) {
        fprintf(stderr, "pacs audit: %s\n", ei.msg);
        return TOOL_PROBLEMS;
    }
    fflush(stdout);
    if (bad) {
        fprintf(stderr, "pacs audit: %zu unreadable line(s) skipped (a torn write)\n", bad);
    }
    fprintf(stderr, "pacs audit: %zu line(s)\n", lines);
    return TOOL_OK;
}

/* The OS user running the tool, for the `who` of its lines. */
static char tool_user[64];

void pacs_tool__audit_begin(const pacs_config *cfg)
{
    pacs_errinfo ei;
    if (pacs_audit_open(pacs_config_str(cfg, "data"), &ei) != PACS_OK) {
        fprintf(stderr, "pacs: cannot write the audit trail: %s\n", ei.msg);
        return;
    }
    struct passwd pw, *res = NULL;
    char buf[1024];
    if (getpwuid_r(geteuid(), &pw, buf, sizeof buf, &res) == 0 && res) {
        snprintf(tool_user, sizeof tool_user, "%s", res->pw_name);
    } else {
        snprintf(tool_user, sizeof tool_user, "uid=%ld", (long)geteuid());
    }
}

void pacs_tool__audit_line(pacs_audit_action action, int success, const char *study_uid,
                           const char *patient_id, const char *detail, unsigned count)
{
    pacs_audit_event ev = {.action = action,
                           .success = success,
                           .protocol = "tool",
                           .who = tool_user,
                           .from = "local",
                           .study_uid = study_uid,
                           .patient_id = patient_id,
                           .detail = detail,
                           .count = count};
    pacs_audit_record(&ev);
}

void pacs_tool__audit_end(void)
{
    pacs_audit_close();
}

void pacs_tool__audit_event(const pacs_config *cfg, pacs_audit_action action, int success,
                            const char *study_uid, const char *detail, unsigned count)
{
    pacs_tool__audit_begin(cfg);
    pacs_tool__audit_line(action, success, study_uid, NULL, detail, count);
    pacs_tool__audit_end();
}
