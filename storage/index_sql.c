// SPDX-License-Identifier: MIT
/*
 * The SQL shared by the index backends (index_sql.h): the query compiler over the dialects,
 * the find and instance-listing statements (their rows are read in index_row.c; what ingest
 * takes from an instance, and the stored metadata's compression, are index_fields.c's). Every value
 * a client sent reaches SQL as a bound parameter; only column names from the catalog and numbers
 * this file formats are written into the text. Thread-safe: no state.
 */
#include "storage/index_sql.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pacs/dicom/dcm.h"
#include "storage/fold.h"
#include "storage/index.h"

/* ---- compiled queries ---- */

void pacs_index__compiled_free(pacs_index__compiled *c)
{
    pacs_buf_free(&c->where);
    for (size_t i = 0; i < c->n_binds; i++) {
        free(c->binds[i].s);
    }
    free(c->binds);
    free(c->post);
    free(c->fts);
    c->binds = NULL;
    c->post = NULL;
    c->fts = NULL;
    c->n_binds = c->n_post = c->cap_binds = 0;
}

static pacs_err add_bind(pacs_index__compiled *c, const char *s, int is_int, long long iv)
{
    if (c->n_binds == c->cap_binds) {
        size_t cap = c->cap_binds ? c->cap_binds * 2 : 16;
        pacs_index__bind *g = realloc(c->binds, cap * sizeof *g);
        if (!g) {
            return PACS_ENOMEM;
        }
        c->binds = g;
        c->cap_binds = cap;
    }
    pacs_index__bind *b = &c->binds[c->n_binds];
    b->is_int = is_int;
    b->i = iv;
    b->s = NULL;
    if (!is_int) {
        b->s = strdup(s ? s : "");
        if (!b->s) {
            return PACS_ENOMEM;
        }
    }
    c->n_binds++;
    return PACS_OK;
}

/* Writes a placeholder for a new parameter and binds it. */
static pacs_err param(pacs_index__compiled *c, const char *s, int is_int, long long iv)
{
    pacs_err err = c->d->numbered_params ? pacs_buf_printf(&c->where, "$%zu", c->n_binds + 1)
                                         : pacs_buf_puts(&c->where, "?");
    return err == PACS_OK ? add_bind(c, s, is_int, iv) : err;
}

/* A DICOM wildcard pattern ('*' any run, '?' one character; everything else literal) in the
 * dialect's pattern language: GLOB (where only '[' needs quoting) or LIKE with '\' escapes. */
static char *sql_pattern(const pacs_sql_dialect *d, const char *dicom)
{
    pacs_buf b;
    pacs_buf_init(&b, 1u << 16);
    for (const char *p = dicom; *p; p++) {
        if (!d->like_patterns) {
            pacs_buf_puts(&b, *p == '[' ? "[[]" : (char[]){*p, '\0'});
        } else if (*p == '*') {
            pacs_buf_puts(&b, "%");
        } else if (*p == '?') {
            pacs_buf_puts(&b, "_");
        } else if (*p == '%' || *p == '_' || *p == '\\') {
            pacs_buf_puts(&b, (char[]){'\\', *p, '\0'});
        } else {
            pacs_buf_append(&b, p, 1);
        }
    }
    return pacs_buf_take(&b, NULL);
}

/* "<column> GLOB|LIKE <param>" for a DICOM pattern. */
static pacs_err pattern_match(pacs_index__compiled *c, const char *column, const char *dicom)
{
    char *pat = sql_pattern(c->d, dicom);
    if (!pat) {
        return PACS_ENOMEM;
    }
    c->unindexed |= dicom[0] == '*' || dicom[0] == '?';
    pacs_err err =
        pacs_buf_printf(&c->where, "%s %s ", column, c->d->like_patterns ? "LIKE" : "GLOB");
    if (err == PACS_OK) {
        err = param(c, pat, 0, 0);
    }
    free(pat);
    return err;
}

/* "<strpos>(<column>, <param>) > 0": the column holds the code set "\A\B\". */
static pacs_err contains_code(pacs_index__compiled *c, const char *column, const char *code)
{
    char pat[128];
    snprintf(pat, sizeof pat, "\\%s\\", code);
    c->unindexed = 1;
    pacs_err err = pacs_buf_printf(&c->where, "%s(%s, ", c->d->strpos, column);
    if (err == PACS_OK) {
        err = param(c, pat, 0, 0);
    }
    return err == PACS_OK ? pacs_buf_puts(&c->where, ") > 0") : err;
}

static pacs_err where_and(pacs_index__compiled *c)
{
    return pacs_buf_puts(&c->where, c->where.len ? " AND " : " WHERE ");
}

/* Characters (not bytes) in a UTF-8 word. */
static size_t utf8_chars(const char *w)
{
    size_t n = 0;
    for (; *w; w++) {
        n += ((unsigned char)*w & 0xC0) != 0x80;
    }
    return n;
}

/* Adds a word to an FTS5 MATCH string: in double quotes, its own quotes doubled, after an AND
 * when it is not the first. */
static pacs_err fts_word(pacs_buf *fts, const char *w)
{
    pacs_err err = pacs_buf_puts(fts, fts->len ? " AND \"" : "\"");
    for (const char *p = w; *p && err == PACS_OK; p++) {
        err = pacs_buf_append(fts, p, 1);
        if (err == PACS_OK && *p == '"') {
            err = pacs_buf_append(fts, p, 1);
        }
    }
    return err == PACS_OK ? pacs_buf_puts(fts, "\"") : err;
}

/* The narrowing through the trigram table an FTS5 MATCH string `fts` implies (nothing when it
 * is empty): kept in c->fts for a walk in date order, which counts its candidates, else added
 * as "AND st.pk IN (the table's matches)". */
static pacs_err trigram_narrow(pacs_index__compiled *c, const pacs_buf *fts)
{
    if (!fts->len) {
        return PACS_OK;
    }
    if (c->date_walk) {
        free(c->fts);
        c->fts = strdup(fts->data);
        return c->fts ? PACS_OK : PACS_ENOMEM;
    }
    pacs_err err = pacs_buf_printf(&c->where, " AND st.pk IN (SELECT rowid FROM %s WHERE %s MATCH ",
                                   c->d->name_fts, c->d->name_fts);
    if (err == PACS_OK) {
        err = param(c, fts->data, 0, 0);
    }
    return err == PACS_OK ? pacs_buf_puts(&c->where, ")") : err;
}

/* Every folded query word must begin a word of the name. On SQLite the patient's name is first
 * narrowed through an FTS5 trigram index (every word of three characters or more must occur in
 * the name), so that the word-start patterns below test a few rows instead of every study;
 * PostgreSQL's trigram index serves the patterns themselves. */
static pacs_err fuzzy_name(pacs_index__compiled *c, const char *column, const char *value,
                           pacs_errinfo *ei)
{
    pacs_buf fts;
    pacs_buf_init(&fts, 1u << 12);
    int use_fts = c->d->name_fts && strcmp(column, "st.patient_name") == 0;
    char *folded = pacs_fold_name(value);
    if (!folded) {
        return pacs_errf(ei, PACS_EINVAL, "name is not valid UTF-8");
    }
    for (char *p = folded; *p; p++) {
        if (*p == '*' || *p == '?') {
            *p = ' ';
        }
    }
    char *save = NULL, expr[96];
    snprintf(expr, sizeof expr, "(' ' || %s_fold)", column);
    pacs_err err = pacs_buf_puts(&c->where, "(1=1");
    for (char *w = strtok_r(folded, " ", &save); w && err == PACS_OK;
         w = strtok_r(NULL, " ", &save)) {
        pacs_buf word;
        pacs_buf_init(&word, 1u << 16);
        pacs_buf_printf(&word, "* %s*", w);
        char *dicom = pacs_buf_take(&word, NULL);
        err = dicom ? pacs_buf_puts(&c->where, " AND ") : PACS_ENOMEM;
        if (err == PACS_OK) {
            err = pattern_match(c, expr, dicom);
        }
        free(dicom);
        if (err == PACS_OK && use_fts && utf8_chars(w) >= 3) {
            err = fts_word(&fts, w);
        }
    }
    free(folded);
    if (err == PACS_OK) {
        err = trigram_narrow(c, &fts);
    }
    pacs_buf_free(&fts);
    if (err == PACS_OK) {
        err = pacs_buf_puts(&c->where, ")");
    }
    return err == PACS_OK ? PACS_OK : pacs_errf(ei, err, "cannot build query");
}

/* A pattern typed without diacritics on the patient's name that opens with a wildcard
 * ("*quach*") has no index of its own: it is matched against the folded name, which the
 * trigram table holds, so on SQLite its literal runs of three characters or more narrow it
 * there as a fuzzy name's words do (the table's matches are a superset of the pattern's). */
static pacs_err name_pattern_narrow(pacs_index__compiled *c, const char *column, const char *value)
{
    if (!c->d->name_fts || strcmp(column, "st.patient_name") != 0 || !pacs_is_ascii(value) ||
        (value[0] != '*' && value[0] != '?')) {
        return PACS_OK;
    }
    char *folded = pacs_fold_name(value);
    if (!folded) {
        return PACS_OK; /* not UTF-8: the pattern alone decides */
    }
    pacs_buf fts;
    pacs_buf_init(&fts, 1u << 12);
    pacs_err err = PACS_OK;
    char *save = NULL;
    for (char *w = strtok_r(folded, "*? ", &save); w && err == PACS_OK;
         w = strtok_r(NULL, "*? ", &save)) {
        if (utf8_chars(w) >= 3) {
            err = fts_word(&fts, w);
        }
    }
    free(folded);
    if (err == PACS_OK) {
        err = trigram_narrow(c, &fts);
    }
    pacs_buf_free(&fts);
    return err;
}

static pacs_err compile_key(pacs_index__compiled *c, const pacs_query *q, const pacs_query_key *k,
                            pacs_errinfo *ei)
{
    const pacs_column *col = pacs_catalog_column(pacs_query_level(q), k->tag);
    int post = !col || k->match == PACS_MATCH_SEQUENCE;
    if (col && col->kind == PACS_COL_INT && k->match != PACS_MATCH_SINGLE &&
        k->match != PACS_MATCH_LIST) {
        return pacs_errf(ei, PACS_EINVAL, "only single values or lists match numeric key %08X",
                         k->tag);
    }
    if (post) {
        int lvl = pacs_catalog_attrs_level(pacs_query_level(q), k->tag);
        if (lvl < 0) {
            /* An attribute of a lower level cannot match at this level. */
            where_and(c);
            return pacs_buf_puts(&c->where, "1=0") == PACS_OK
                       ? PACS_OK
                       : pacs_errf(ei, PACS_ETOOBIG, "query too long");
        }
        c->need_attrs[lvl] = 1;
        const pacs_query_key **g = realloc(c->post, (c->n_post + 1) * sizeof *g);
        if (!g) {
            return pacs_errf(ei, PACS_ENOMEM, "out of memory");
        }
        c->post = g;
        c->post[c->n_post++] = k;
        return PACS_OK;
    }
    pacs_err err = where_and(c);
    const char *name = col->column;
    char ci[64];
    char *folded_value = NULL;
    if (col->kind == PACS_COL_PN) {
        if (pacs_query_fuzzy(q)) {
            return fuzzy_name(c, name, k->value, ei);
        }
        /* A name typed without diacritics (ASCII) is matched against the folded name, so
         * "nguyen*" finds "Nguyễn^Văn An"; one typed with them must match them, case aside. */
        if (pacs_is_ascii(k->value)) {
            folded_value = pacs_fold_name(k->value);
            if (!folded_value) {
                return pacs_errf(ei, PACS_ENOMEM, "out of memory");
            }
            snprintf(ci, sizeof ci, "%s_fold", name);
        } else {
            snprintf(ci, sizeof ci, "%s_ci", name);
        }
        name = ci;
    }
    const char *value = folded_value ? folded_value : k->value;
    switch (k->match) {
    case PACS_MATCH_SINGLE:
        if (col->kind == PACS_COL_MULTI) {
            err = contains_code(c, name, k->value);
        } else if (col->kind == PACS_COL_INT) {
            char *end = NULL;
            long long v = strtoll(k->value, &end, 10);
            if (end && end != k->value && *end == '\0') {
                err = pacs_buf_printf(&c->where, "%s = ", name);
                if (err == PACS_OK) {
                    err = param(c, NULL, 1, v);
                }
            } else {
                err = pacs_buf_puts(&c->where, "1=0"); /* no number equals this text */
            }
        } else {
            err = pacs_buf_printf(&c->where, "%s = ", name);
            if (err == PACS_OK) {
                err = param(c, value, 0, 0);
            }
        }
        break;
    case PACS_MATCH_WILDCARD:
        if (col->kind == PACS_COL_MULTI) {
            pacs_buf pat;
            pacs_buf_init(&pat, 1u << 16);
            pacs_buf_printf(&pat, "*\\%s\\*", k->value);
            char *dicom = pacs_buf_take(&pat, NULL);
            err = dicom ? pattern_match(c, name, dicom) : PACS_ENOMEM;
            free(dicom);
        } else {
            err = pattern_match(c, name, value);
            if (err == PACS_OK && col->kind == PACS_COL_PN) {
                err = name_pattern_narrow(c, col->column, k->value);
            }
        }
        break;
    case PACS_MATCH_RANGE:
        err = pacs_buf_printf(&c->where, "(%s <> ''", name);
        if (err == PACS_OK && k->range_lo) {
            err = pacs_buf_printf(&c->where, " AND %s >= ", name);
            if (err == PACS_OK) {
                err = param(c, k->range_lo, 0, 0);
            }
        }
        if (err == PACS_OK && k->range_hi) {
            err = pacs_buf_printf(&c->where, " AND %s <= ", name);
            if (err == PACS_OK) {
                err = param(c, k->range_hi, 0, 0);
            }
        }
        if (err == PACS_OK) {
            err = pacs_buf_puts(&c->where, ")");
        }
        break;
    case PACS_MATCH_LIST:
        if (col->kind == PACS_COL_MULTI) {
            err = pacs_buf_puts(&c->where, "(1=0");
            for (size_t i = 0; i < k->n_list && err == PACS_OK; i++) {
                err = pacs_buf_puts(&c->where, " OR ");
                if (err == PACS_OK) {
                    err = contains_code(c, name, k->list[i]);
                }
            }
            if (err == PACS_OK) {
                err = pacs_buf_puts(&c->where, ")");
            }
            break;
        }
        err = pacs_buf_printf(&c->where, "%s IN (", name);
        for (size_t i = 0; i < k->n_list && err == PACS_OK; i++) {
            err = i ? pacs_buf_puts(&c->where, ",") : PACS_OK;
            if (err == PACS_OK) {
                err = col->kind == PACS_COL_INT ? param(c, NULL, 1, strtoll(k->list[i], NULL, 10))
                                                : param(c, k->list[i], 0, 0);
            }
        }
        if (err == PACS_OK) {
            err = pacs_buf_puts(&c->where, ")");
        }
        break;
    default:
        break;
    }
    free(folded_value);
    return err == PACS_OK ? PACS_OK : pacs_errf(ei, err, "cannot build query");
}

pacs_err pacs_index__compile(const pacs_sql_dialect *d, const pacs_query *q, int date_walk,
                             pacs_index__compiled *c, pacs_errinfo *ei)
{
    memset(c, 0, sizeof *c);
    c->d = d;
    c->date_walk = date_walk;
    pacs_buf_init(&c->where, PACS_INDEX_SQL_MAX);
    for (size_t i = 0; i < pacs_query_key_count(q); i++) {
        const pacs_query_key *k = pacs_query_key_at(q, i);
        if (k->match == PACS_MATCH_UNIVERSAL) {
            continue;
        }
        if (k->match == PACS_MATCH_SEQUENCE && pacs_query_key_count(k->item) == 0) {
            continue;
        }
        pacs_err err = compile_key(c, q, k, ei);
        if (err != PACS_OK) {
            pacs_index__compiled_free(c);
            return err;
        }
    }
    return PACS_OK;
}

/* ---- statements ---- */

static const char *from_clause(pacs_level level, int instances)
{
    if (level == PACS_LEVEL_PATIENT) {
        return instances ? " FROM instances i JOIN series se ON i.series_pk=se.pk JOIN studies st"
                           " ON se.study_pk=st.pk JOIN patients p ON st.patient_pk=p.pk"
                         : " FROM patients p";
    }
    if (instances || level == PACS_LEVEL_INSTANCE) {
        return " FROM instances i JOIN series se ON i.series_pk=se.pk JOIN studies st"
               " ON se.study_pk=st.pk";
    }
    if (level == PACS_LEVEL_SERIES) {
        return " FROM series se JOIN studies st ON se.study_pk=st.pk";
    }
    return " FROM studies st";
}

/* SQLite sorts NULL below every value; PostgreSQL above. The PostgreSQL spelling says
 * SQLite's order out loud, so both answer in the same order. */
const char *pacs_index__order_clause(const pacs_sql_dialect *d, pacs_level level, int instances)
{
    int x = d->explicit_nulls;
    if (instances || level == PACS_LEVEL_INSTANCE) {
        return x ? " ORDER BY st.pk, se.series_number NULLS FIRST, se.pk,"
                   " i.instance_number NULLS FIRST, i.pk"
                 : " ORDER BY st.pk, se.series_number, se.pk, i.instance_number, i.pk";
    }
    switch (level) {
    case PACS_LEVEL_PATIENT:
        return " ORDER BY p.pk";
    case PACS_LEVEL_STUDY:
        return x ? " ORDER BY st.study_date DESC NULLS LAST, st.study_time DESC NULLS LAST,"
                   " st.pk DESC"
                 : " ORDER BY st.study_date DESC, st.study_time DESC, st.pk DESC";
    default:
        return x ? " ORDER BY st.pk, se.series_number NULLS FIRST, se.pk"
                 : " ORDER BY st.pk, se.series_number, se.pk";
    }
}

static const char *attrs_column(pacs_level level)
{
    static const char *const cols[] = {"p.attrs", "st.attrs", "se.attrs", "i.metadata"};
    return cols[level];
}

/* Return keys: the query's keys plus the unique keys of its level and those above. */
static size_t return_tags(const pacs_query *q, uint32_t *tags, const char **vrs, size_t cap)
{
    size_t n = 0;
    pacs_level level = pacs_query_level(q);
    for (int l = level == PACS_LEVEL_PATIENT ? 0 : 1; l <= (int)level && n < cap; l++) {
        tags[n] = pacs_catalog_unique_key((pacs_level)l);
        vrs[n++] = l == PACS_LEVEL_PATIENT ? "LO" : "UI";
    }
    for (size_t i = 0; i < pacs_query_key_count(q) && n < cap; i++) {
        const pacs_query_key *k = pacs_query_key_at(q, i);
        int dup = 0;
        for (size_t j = 0; j < n; j++) {
            dup |= tags[j] == k->tag;
        }
        if (!dup) {
            tags[n] = k->tag;
            vrs[n++] = k->vr;
        }
    }
    return n;
}

static pacs_err limit_clause(const pacs_sql_dialect *d, pacs_buf *sql, size_t limit, size_t offset)
{
    pacs_err err = PACS_OK;
    if (limit) {
        err = pacs_buf_printf(sql, " LIMIT %zu", limit);
    } else if (offset && d->no_limit) {
        err = pacs_buf_printf(sql, " LIMIT %s", d->no_limit);
    }
    if (err == PACS_OK && offset) {
        err = pacs_buf_printf(sql, " OFFSET %zu", offset);
    }
    return err;
}

pacs_err pacs_index__find_plan_build(const pacs_sql_dialect *d, const pacs_query *q, int date_walk,
                                     pacs_index__find_plan *p, pacs_errinfo *ei)
{
    memset(p, 0, sizeof *p);
    pacs_level level = pacs_query_level(q);
    p->date_walk = date_walk && d->date_walk && level == PACS_LEVEL_STUDY;
    pacs_index__row_attrs_init(&p->ra);
    pacs_buf_init(&p->sql, PACS_INDEX_SQL_MAX);
    pacs_err err = pacs_index__compile(d, q, p->date_walk, &p->c, ei);
    if (err != PACS_OK) {
        return err;
    }
    p->n_ret = return_tags(q, p->tags, p->vrs, PACS_INDEX_MAX_RETURN);
    for (size_t i = 0; i < p->n_ret; i++) {
        pacs_dcm_tag_key(p->tags[i], p->keys[i]);
        size_t j = i;
        for (; j > 0 && p->tags[p->order[j - 1]] > p->tags[i]; j--) {
            p->order[j] = p->order[j - 1];
        }
        p->order[j] = (uint16_t)i;
    }
    pacs_buf_puts(&p->sql, "SELECT 0");
    int next_col = 1;
    for (size_t i = 0; i < p->n_ret; i++) {
        p->cols[i] = pacs_catalog_column(level, p->tags[i]);
        p->result_col[i] = -1;
        if (p->cols[i]) {
            pacs_buf_printf(&p->sql, ", %s", p->cols[i]->column);
            p->result_col[i] = next_col++;
        } else {
            int lvl = pacs_catalog_attrs_level(level, p->tags[i]);
            if (lvl >= 0) {
                p->c.need_attrs[lvl] = 1;
            }
        }
    }
    if (pacs_query_includes_all(q)) {
        p->c.need_attrs[level == PACS_LEVEL_PATIENT ? 0 : level] = 1;
    }
    for (int l = 0; l < 4; l++) {
        if (p->c.need_attrs[l]) {
            pacs_buf_printf(&p->sql, ", %s", attrs_column((pacs_level)l));
            p->ra.attrs_col[l] = next_col++;
        }
    }
    pacs_buf_puts(&p->sql, from_clause(level, 0));
    if (p->date_walk) {
        pacs_buf_puts(&p->sql, d->date_walk);
    }
    if (p->c.where.len) {
        pacs_buf_append(&p->sql, p->c.where.data, p->c.where.len);
    }
    pacs_buf_puts(&p->sql, pacs_index__order_clause(d, level, 0));
    p->limit = pacs_query_limit(q);
    p->offset = pacs_query_offset(q);
    if (p->c.n_post == 0) {
        limit_clause(d, &p->sql, p->limit, p->offset);
    }
    if (!p->sql.data || p->sql.len == p->sql.max) {
        return pacs_errf(ei, PACS_ETOOBIG, "query too long");
    }
    return PACS_OK;
}

void pacs_index__find_plan_free(pacs_index__find_plan *p)
{
    pacs_index__row_attrs_free(&p->ra);
    pacs_buf_free(&p->sql);
    pacs_index__compiled_free(&p->c);
}

pacs_err pacs_index__inst_plan_build(const pacs_sql_dialect *d, const pacs_query *q,
                                     pacs_index__inst_plan *p, pacs_errinfo *ei)
{
    memset(p, 0, sizeof *p);
    pacs_index__row_attrs_init(&p->ra);
    pacs_buf_init(&p->sql, PACS_INDEX_SQL_MAX);
    pacs_err err = pacs_index__compile(d, q, 0, &p->c, ei);
    if (err != PACS_OK) {
        return err;
    }
    pacs_level level = pacs_query_level(q);
    pacs_buf_puts(&p->sql, "SELECT i.pk, st.study_uid, se.series_uid, i.sop_uid, i.sop_class,"
                           " i.ts, i.object, i.size, i.frames, i.pixels, i.metadata,"
                           " i.source_aet, i.received, i.source_http");
    int next_col = 14;
    for (int l = 0; l < 4; l++) {
        if (p->c.need_attrs[l]) {
            if (l == PACS_LEVEL_INSTANCE) {
                p->ra.attrs_col[l] = PACS_INDEX__COL_METADATA;
            } else {
                pacs_buf_printf(&p->sql, ", %s", attrs_column((pacs_level)l));
                p->ra.attrs_col[l] = next_col++;
            }
        }
    }
    pacs_buf_puts(&p->sql, from_clause(level, 1));
    if (p->c.where.len) {
        pacs_buf_append(&p->sql, p->c.where.data, p->c.where.len);
    }
    pacs_buf_puts(&p->sql, pacs_index__order_clause(d, level, 1));
    if (!p->sql.data || p->sql.len == p->sql.max) {
        return pacs_errf(ei, PACS_ETOOBIG, "query too long");
    }
    return PACS_OK;
}

void pacs_index__inst_plan_free(pacs_index__inst_plan *p)
{
    pacs_index__row_attrs_free(&p->ra);
    pacs_buf_free(&p->sql);
    pacs_index__compiled_free(&p->c);
}

static void copy_col(const pacs_index__row *row, int col, char *dst, size_t cap)
{
    size_t n = 0;
    const char *v = row->value(row->ctx, col, &n);
    snprintf(dst, cap, "%s", v ? v : "");
}

pacs_err pacs_index__inst_row_rec(const pacs_index__row *row, unsigned flags, pacs_buf *meta,
                                  pacs_instance_rec *rec, pacs_errinfo *ei)
{
    memset(rec, 0, sizeof *rec);
    copy_col(row, 1, rec->study_uid, sizeof rec->study_uid);
    copy_col(row, 2, rec->series_uid, sizeof rec->series_uid);
    copy_col(row, 3, rec->sop_uid, sizeof rec->sop_uid);
    copy_col(row, 4, rec->sop_class, sizeof rec->sop_class);
    copy_col(row, 5, rec->ts, sizeof rec->ts);
    copy_col(row, 6, rec->object, sizeof rec->object);
    size_t n = 0;
    const char *v = row->value(row->ctx, 7, &n);
    rec->size = v ? strtoull(v, NULL, 10) : 0;
    v = row->value(row->ctx, 8, &n);
    rec->frames = v ? (uint32_t)strtoul(v, NULL, 10) : 0;
    v = row->value(row->ctx, 9, &n);
    rec->pixel_layout = (const uint8_t *)v;
    rec->pixel_layout_len = v ? n : 0;
    if (flags & PACS_REC_METADATA) {
        v = row->value(row->ctx, PACS_INDEX__COL_METADATA, &n);
        pacs_err err = pacs_index__decompress(v, v ? n : 0, meta, ei);
        if (err != PACS_OK) {
            return err;
        }
        rec->metadata = meta->data;
        rec->metadata_len = meta->len;
    }
    if (flags & PACS_REC_ORIGIN) {
        v = row->value(row->ctx, 11, &n);
        rec->source_aet = v ? v : "";
        v = row->value(row->ctx, 12, &n);
        rec->received = v ? v : "";
        rec->source_http = row->value(row->ctx, 13, &n);
    }
    return PACS_OK;
}
