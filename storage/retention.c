// SPDX-License-Identifier: MIT
/*
 * Retention (retention.h): the rules, one read of the studies old enough for the youngest rule
 * (with their bytes, open orders and live share links counted in the same query), the choice
 * per study in C, and each study taken through pacs_archive_delete.
 *
 * Load: a run reads every study older than the shortest retention once; a maintenance task, not
 * a hot path. Thread-safe: no shared state.
 */
#include "storage/retention.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "storage/archive_internal.h"
#include "storage/index_core.h"
#include "storage/resolve.h"

pacs_err pacs_retention_parse(const char *text, pacs_retention_rules *out, pacs_errinfo *ei)
{
    memset(out, 0, sizeof *out);
    char buf[1024];
    if (snprintf(buf, sizeof buf, "%s", text ? text : "") >= (int)sizeof buf) {
        return pacs_errf(ei, PACS_EINVAL, "retention.rules: too long");
    }
    char *save = NULL;
    for (char *item = strtok_r(buf, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        while (isspace((unsigned char)*item)) {
            item++;
        }
        size_t len = strlen(item);
        while (len > 0 && isspace((unsigned char)item[len - 1])) {
            item[--len] = '\0';
        }
        if (len == 0) {
            continue;
        }
        if (out->n == PACS_RETENTION_MAX_RULES) {
            return pacs_errf(ei, PACS_EINVAL, "retention.rules: more than %d rules",
                             PACS_RETENTION_MAX_RULES);
        }
        pacs_retention_rule *r = &out->r[out->n];
        char *s2 = NULL, *mod = strtok_r(item, ":", &s2), *years = strtok_r(NULL, ":", &s2);
        char *end = NULL;
        long y = years ? strtol(years, &end, 10) : -1;
        if (!mod || strlen(mod) >= sizeof r->modality || !years || *end || y < 1 || y > 200) {
            return pacs_errf(ei, PACS_EINVAL,
                             "retention.rules: '%s' is not MODALITY:YEARS[:orders][:shares]", item);
        }
        for (size_t i = 0; mod[i]; i++) {
            r->modality[i] = (char)toupper((unsigned char)mod[i]);
        }
        r->years = (int)y;
        for (char *f = strtok_r(NULL, ":", &s2); f; f = strtok_r(NULL, ":", &s2)) {
            if (strcmp(f, "orders") == 0) {
                r->with_orders = 1;
            } else if (strcmp(f, "shares") == 0) {
                r->with_shares = 1;
            } else {
                return pacs_errf(ei, PACS_EINVAL,
                                 "retention.rules: '%s' is not orders or shares (rule %s)", f,
                                 r->modality);
            }
        }
        out->n++;
    }
    return PACS_OK;
}

/* One study as read. */
typedef struct study_row {
    char uid[65], date[17], *modalities;
    uint64_t instances, bytes;
    int open_orders, live_shares;
} study_row;

typedef struct study_list {
    study_row *rows;
    size_t n, cap;
    const char *cutoff;
    int64_t now;
} study_list;

static pacs_err read_studies(pacs_index *idx, pacs_db *db, void *ctx, pacs_errinfo *ei)
{
    study_list *l = ctx;
    pacs_db_stmt *st = pacs_index__stmt(
        idx, db, PACS_SQL_RETENTION_STUDIES,
        "SELECT s.study_uid, s.study_date, coalesce(s.modalities, ''), s.num_instances,"
        " (SELECT CAST(coalesce(sum(i.size), 0) AS BIGINT) FROM instances i JOIN series se"
        "  ON i.series_pk=se.pk"
        "  WHERE se.study_pk=s.pk),"
        " (SELECT count(*) FROM orders o WHERE o.status IN (0, 1) AND (o.study_uid=s.study_uid"
        "  OR o.pk IN (SELECT h.order_pk FROM his_studies h WHERE h.study_uid=s.study_uid))),"
        " (SELECT count(*) FROM shares sh WHERE sh.study_uid=s.study_uid AND sh.revoked=0"
        "  AND sh.expires_at > $1)"
        " FROM studies s WHERE coalesce(s.study_date, '') <> '' AND s.study_date < $2"
        " ORDER BY s.study_date, s.study_uid",
        ei);
    if (!st) {
        return ei ? ei->code : PACS_EDB;
    }
    idx->db->bind_int(st, 1, (long long)l->now);
    idx->db->bind_text(st, 2, l->cutoff);
    pacs_err err = PACS_OK;
    int rc;
    while ((rc = idx->db->step(st, ei)) == 1) {
        if (err != PACS_OK) {
            continue;
        }
        if (l->n == l->cap) {
            size_t cap = l->cap ? l->cap * 2 : 64;
            study_row *g = realloc(l->rows, cap * sizeof *g);
            if (!g) {
                err = pacs_errf(ei, PACS_ENOMEM, "out of memory");
                continue;
            }
            l->rows = g;
            l->cap = cap;
        }
        study_row *r = &l->rows[l->n];
        memset(r, 0, sizeof *r);
        size_t n = 0;
        const char *v = idx->db->column(st, 0, &n);
        snprintf(r->uid, sizeof r->uid, "%s", v ? v : "");
        v = idx->db->column(st, 1, &n);
        snprintf(r->date, sizeof r->date, "%s", v ? v : "");
        v = idx->db->column(st, 2, &n);
        r->modalities = strdup(v ? v : "");
        r->instances = (uint64_t)idx->db->column_int(st, 3);
        r->bytes = (uint64_t)idx->db->column_int(st, 4);
        r->open_orders = idx->db->column_int(st, 5) > 0;
        r->live_shares = idx->db->column_int(st, 6) > 0;
        if (!r->modalities) {
            err = pacs_errf(ei, PACS_ENOMEM, "out of memory");
            continue;
        }
        l->n++;
    }
    idx->db->done(st);
    return rc < 0 ? (ei ? ei->code : PACS_EDB) : err;
}

/* "YYYYMMDD" `years` before `now` (UTC). */
static void date_years_ago(int64_t now, int years, char out[9])
{
    time_t t = (time_t)now;
    struct tm tm;
    gmtime_r(&t, &tm);
    tm.tm_year -= years;
    strftime(out, 9, "%Y%m%d", &tm);
}

/* The rule that decides for a study: the longest of those naming one of its modalities, else
 * the longest `*` rule. */
static const pacs_retention_rule *rule_for(const pacs_retention_rules *rules, const char *mods)
{
    const pacs_retention_rule *named = NULL, *any = NULL;
    for (size_t i = 0; i < rules->n; i++) {
        const pacs_retention_rule *r = &rules->r[i];
        char pat[20];
        snprintf(pat, sizeof pat, "\\%s\\", r->modality);
        if (strcmp(r->modality, "*") == 0) {
            any = !any || r->years > any->years ? r : any;
        } else if (strstr(mods, pat)) {
            named = !named || r->years > named->years ? r : named;
        }
    }
    return named ? named : any;
}

pacs_err pacs_retention_run(pacs_archive *a, const pacs_retention_rules *rules, int64_t now,
                            int dry_run, pacs_retention_cb cb, void *ctx, pacs_retention_report *r,
                            pacs_errinfo *ei)
{
    memset(r, 0, sizeof *r);
    if (rules->n == 0) {
        return PACS_OK;
    }
    int youngest = rules->r[0].years;
    for (size_t i = 1; i < rules->n; i++) {
        youngest = rules->r[i].years < youngest ? rules->r[i].years : youngest;
    }
    char cutoff[9];
    date_years_ago(now, youngest, cutoff);
    study_list l = {NULL, 0, 0, cutoff, now};
    pacs_err err = pacs_index__read(a->index, read_studies, &l, ei);
    for (size_t i = 0; err == PACS_OK && i < l.n; i++) {
        study_row *s = &l.rows[i];
        const pacs_retention_rule *rule = rule_for(rules, s->modalities);
        char due[9];
        if (!rule) {
            continue;
        }
        date_years_ago(now, rule->years, due);
        if (strncmp(s->date, due, 8) >= 0) {
            continue;
        }
        if (s->open_orders && !rule->with_orders) {
            r->kept_order++;
            continue;
        }
        if (s->live_shares && !rule->with_shares) {
            r->kept_share++;
            continue;
        }
        pacs_retention_study out = {
            s->uid, s->date, s->modalities, s->instances, s->bytes, rule, 0, PACS_OK, ""};
        pacs_errinfo dei;
        memset(&dei, 0, sizeof dei);
        if (!dry_run) {
            uint64_t n = 0;
            pacs_query *q = pacs_resolve_query(s->uid, NULL, NULL, &dei);
            out.err = q ? pacs_archive_delete(a, q, &n, &dei) : dei.code;
            pacs_query_free(q);
            out.deleted = out.err == PACS_OK;
            out.detail = dei.msg;
        }
        if (out.err != PACS_OK) {
            r->failed++;
        } else {
            r->studies++;
            r->instances += s->instances;
            r->bytes += s->bytes;
        }
        if (cb) {
            cb(ctx, &out);
        }
    }
    for (size_t i = 0; i < l.n; i++) {
        free(l.rows[i].modalities);
    }
    free(l.rows);
    return err;
}
