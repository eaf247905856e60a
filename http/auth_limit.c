// SPDX-License-Identifier: MIT
/*
 * What a limited principal may read (auth.h): one study (a share token of a study, a JWT with a
 * study_uid claim) or the studies a patient's share grants, as the gate found them for the
 * request. QIDO is narrowed in the query model (pacs_auth_restrict_query); WADO-RS, rendered,
 * thumbnails and WADO-URI ask pacs_auth_reads_study before the archive is asked.
 *
 * Load: string comparisons per request. Thread-safety: stateless.
 */
#include <stdio.h>
#include <string.h>

#include "http/auth.h"
#include "pacs/base/buf.h"

#define TAG_STUDY_UID 0x0020000Du

int pacs_auth_limited(const pacs_principal *p)
{
    return p && (p->study[0] || p->scope);
}

/* 1 when `uid` is one of the '\'-separated UIDs of `list`. */
static int in_list(const char *list, const char *uid)
{
    size_t n = strlen(uid);
    for (const char *s = list; s && *s;) {
        const char *end = strchr(s, '\\');
        size_t len = end ? (size_t)(end - s) : strlen(s);
        if (len == n && strncmp(s, uid, n) == 0) {
            return 1;
        }
        s = end ? end + 1 : s + len;
    }
    return 0;
}

int pacs_auth_reads_study(const pacs_principal *p, const char *uid)
{
    if (!pacs_auth_limited(p)) {
        return 1;
    }
    if (!uid) {
        return 0;
    }
    return p->scope ? in_list(p->studies, uid) : strcmp(p->study, uid) == 0;
}

/* A patient share's studies that the query's own StudyInstanceUID key `k` (may be NULL)
 * admits, '\' between them, into `out`; "" when none. */
static pacs_err granted_studies(const pacs_principal *p, const pacs_query_key *k, pacs_buf *out)
{
    for (const char *s = p->studies; s && *s;) {
        const char *end = strchr(s, '\\');
        size_t len = end ? (size_t)(end - s) : strlen(s);
        char uid[PACS_SHARE_UID_CAP];
        if (len < sizeof uid) {
            memcpy(uid, s, len);
            uid[len] = '\0';
            if (!k || k->match == PACS_MATCH_UNIVERSAL || pacs_query_text_matches(k, uid, 0)) {
                pacs_err err = pacs_buf_printf(out, "%s%s", out->len ? "\\" : "", uid);
                if (err) {
                    return err;
                }
            }
        }
        s = end ? end + 1 : s + len;
    }
    return PACS_OK;
}

pacs_err pacs_auth_restrict_query(const pacs_principal *p, pacs_query *q, int *empty,
                                  pacs_errinfo *ei)
{
    *empty = 0;
    if (!pacs_auth_limited(p)) {
        return PACS_OK;
    }
    /* The patient's counts of studies, series and instances would tell of other studies. */
    static const uint32_t patient_counts[] = {0x00201200u, 0x00201202u, 0x00201204u};
    for (size_t i = 0; i < sizeof patient_counts / sizeof patient_counts[0]; i++) {
        if (pacs_query_find_key(q, patient_counts[i])) {
            return pacs_errf(ei, PACS_EINVAL,
                             "(%04X,%04X) is not available to a credential limited to one study",
                             (unsigned)(patient_counts[i] >> 16),
                             (unsigned)(patient_counts[i] & 0xffff));
        }
    }
    const pacs_query_key *k = pacs_query_find_key(q, TAG_STUDY_UID);
    if (p->scope) {
        pacs_buf list;
        pacs_buf_init(&list, 1u << 20);
        pacs_err err = granted_studies(p, k, &list);
        if (err == PACS_OK && list.len == 0) {
            *empty = 1;
        } else if (err == PACS_OK) {
            err = pacs_query_add(q, TAG_STUDY_UID, "UI", list.data, ei);
        } else {
            err = pacs_errf(ei, PACS_ENOMEM, "out of memory");
        }
        pacs_buf_free(&list);
        return err;
    }
    if (k && k->match != PACS_MATCH_UNIVERSAL && !pacs_query_text_matches(k, p->study, 0)) {
        *empty = 1;
        return PACS_OK;
    }
    return pacs_query_add(q, TAG_STUDY_UID, "UI", p->study, ei);
}
