// SPDX-License-Identifier: MIT
/*
 * The index's reads (index.h) for both backends, each on a pooled connection of its own
 * (index_core.h): finds and instance listings compiled per query (index_sql.h), and the kept
 * statements of objects, sweep records, statistics, the forwarding queue (on a shared index,
 * due entries are claimed and leased in the same statement) and share records.
 *
 * Load: every C-FIND, QIDO-RS, retrieval and share check: rows are streamed to the callback,
 * never held whole. Thread-safe: any number of threads read at once, each on its connection.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage/index_core.h"

/* Called per row of a statement; non-zero stops. */
typedef int (*row_fn)(pacs_index *idx, pacs_db_stmt *st, void *ctx);

/* Runs statement `slot` (bound from `fmt` as pacs_index__run does) on a pooled connection and
 * calls `fn` per row. */
static pacs_err each_row_v(pacs_index *idx, int slot, const char *sql, row_fn fn, void *ctx,
                           pacs_errinfo *ei, const char *fmt, va_list ap)
{
    pacs_db *db = NULL;
    pacs_err err = idx->be->conn_get(idx, &db, ei);
    if (err != PACS_OK) {
        return err;
    }
    pacs_db_stmt *st = pacs_index__stmt(idx, db, slot, sql, ei);
    if (!st) {
        err = ei ? ei->code : PACS_EDB;
    } else {
        pacs_index__bind_args(idx, st, fmt, ap);
        int rc;
        while ((rc = idx->db->step(st, ei)) == 1 && !fn(idx, st, ctx)) {
        }
        if (rc < 0) {
            err = ei ? ei->code : PACS_EDB;
        }
        idx->db->done(st);
    }
    idx->be->conn_put(idx, db);
    return err;
}

static pacs_err each_row(pacs_index *idx, int slot, const char *sql, row_fn fn, void *ctx,
                         pacs_errinfo *ei, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    pacs_err err = each_row_v(idx, slot, sql, fn, ctx, ei, fmt, ap);
    va_end(ap);
    return err;
}

/* ---- finds and instance listings ---- */

/* The first column of the one row `sql` answers, into `*out`; its parameters are `c`'s (when
 * given), then `last` (when given). */
static pacs_err count_row(pacs_index *idx, pacs_db *db, const char *sql,
                          const pacs_index__compiled *c, const char *last, long long *out,
                          pacs_errinfo *ei)
{
    pacs_db_stmt *st = NULL;
    pacs_err err = idx->db->prepare(db, -1, sql, &st, ei);
    if (err != PACS_OK) {
        return err;
    }
    if (c) {
        pacs_index__bind_compiled(idx, st, c);
    }
    if (last) {
        idx->db->bind_text(st, c ? (int)c->n_binds + 1 : 1, last);
    }
    int rc = idx->db->step(st, ei);
    if (rc < 0) {
        err = ei ? ei->code : PACS_EDB;
    } else {
        *out = rc == 1 ? idx->db->column_int(st, 0) : 0;
    }
    idx->db->done(st);
    return err;
}

/* Runs the count `kind` (pacs_index__probe_sql) into `*out`. */
static pacs_err probe(pacs_index *idx, pacs_db *db, const pacs_index__compiled *w,
                      pacs_index__probe kind, size_t cap, size_t want, long long *out,
                      pacs_errinfo *ei)
{
    pacs_buf sql;
    pacs_buf_init(&sql, PACS_INDEX_SQL_MAX);
    pacs_err err = pacs_index__probe_sql(w, kind, cap, want, &sql);
    if (err != PACS_OK) {
        err = pacs_errf(ei, PACS_ETOOBIG, "query too long");
    } else if (kind == PACS_PROBE_TRIGRAMS) {
        err = count_row(idx, db, sql.data, NULL, w->fts, out, ei);
    } else {
        err = count_row(idx, db, sql.data, w, NULL, out, ei);
    }
    pacs_buf_free(&sql);
    return err;
}

/* Whether the limited study find of `q` is read faster by walking the study dates than by
 * sorting its matches: when they number pacs_index__walk_cap or more. The matches are counted
 * up to the cap through the index the planner picks (a name prefix's: the name index, which
 * holds the name, so nothing else is read). A key no index serves (a fuzzy name's word
 * patterns, *text*) would be counted by reading every study when the matches are few, so
 * instead: a fuzzy name's candidates in the trigram table are counted first (a superset of the
 * matches, read from that table alone), and if they are fewer than the cap, so are the
 * matches; if not, or without that table, the walk itself is tried on the `cap` newest
 * studies, stopping at the page's last row: if the page is found there, the walk is what it
 * costs, and those rows are the ones it reads again. The studies are counted by their largest
 * key, which an index answers at once and which removals only leave high. */
static pacs_err walk_dates(pacs_index *idx, pacs_db *db, const pacs_query *q, int *walk,
                           pacs_errinfo *ei)
{
    long long studies = 0, n = 0;
    pacs_index__compiled w;
    pacs_err err = pacs_index__compile(idx->d, q, 1, &w, ei);
    if (err != PACS_OK) {
        return err;
    }
    err = count_row(idx, db, "SELECT max(pk) FROM studies", NULL, NULL, &studies, ei);
    size_t cap = pacs_index__walk_cap(q, studies > 0 ? (uint64_t)studies : 0);
    size_t want = pacs_query_limit(q) + pacs_query_offset(q);
    want = want < pacs_query_limit(q) ? SIZE_MAX : want;
    *walk = 0;
    if (err == PACS_OK && !w.unindexed) {
        err = probe(idx, db, &w, PACS_PROBE_INDEX, cap, want, &n, ei);
        *walk = err == PACS_OK && n >= 0 && (size_t)n >= cap;
    } else if (err == PACS_OK) {
        if (w.fts) {
            err = probe(idx, db, &w, PACS_PROBE_TRIGRAMS, cap, want, &n, ei);
        }
        if (err == PACS_OK && (!w.fts || (n >= 0 && (size_t)n >= cap))) {
            err = probe(idx, db, &w, PACS_PROBE_NEWEST, cap, want, &n, ei);
            *walk = err == PACS_OK && n >= 0 && (size_t)n >= want;
        }
    }
    pacs_index__compiled_free(&w);
    return err;
}

pacs_err pacs_index__find_choose(pacs_index *idx, pacs_db *db, const pacs_query *q,
                                 pacs_index__find_plan *plan, pacs_errinfo *ei)
{
    int walk = 0;
    pacs_err err = pacs_index__find_plan_build(idx->d, q, 0, plan, ei);
    if (err == PACS_OK && pacs_index__walk_possible(idx->d, q, plan)) {
        err = walk_dates(idx, db, q, &walk, ei);
        if (err == PACS_OK && walk) {
            pacs_index__find_plan_free(plan);
            err = pacs_index__find_plan_build(idx->d, q, 1, plan, ei);
        }
    }
    return err;
}

pacs_err pacs_index_find_rows(pacs_index *idx, const pacs_query *q, pacs_find_row_cb cb, void *ctx,
                              pacs_errinfo *ei)
{
    /* Zeroed: freed as a plan even when none could be built. */
    pacs_index__find_plan *plan = calloc(1, sizeof *plan);
    if (!plan) {
        return pacs_errf(ei, PACS_ENOMEM, "out of memory");
    }
    pacs_db *db = NULL;
    pacs_db_stmt *st = NULL;
    pacs_err err = idx->be->conn_get(idx, &db, ei);
    if (err == PACS_OK) {
        err = pacs_index__find_choose(idx, db, q, plan, ei);
    }
    if (err == PACS_OK) {
        err = idx->db->prepare(db, -1, plan->sql.data, &st, ei);
    }
    if (err == PACS_OK) {
        pacs_index__bind_compiled(idx, st, &plan->c);
        pacs_index__row row = {idx->db->column, st};
        pacs_find_row fr = {plan, q, &row};
        int rc;
        while ((rc = idx->db->step(st, ei)) == 1) {
            int got = pacs_index__find_row(plan, q, &row);
            if (got < 0) {
                break;
            }
            if (got > 0 && cb(ctx, &fr)) {
                break;
            }
        }
        if (rc < 0) {
            err = ei ? ei->code : PACS_EDB;
        }
        idx->db->done(st);
    }
    if (db) {
        idx->be->conn_put(idx, db);
    }
    pacs_index__find_plan_free(plan);
    free(plan);
    return err;
}

typedef struct json_rows {
    pacs_find_cb cb;
    void *ctx;
    int nomem;
} json_rows;

static int json_row(void *ctx, pacs_find_row *row)
{
    json_rows *j = ctx;
    json_t *r = pacs_find_row_json(row);
    if (!r) {
        j->nomem = 1;
        return 1;
    }
    int stop = j->cb(j->ctx, r);
    json_decref(r);
    return stop;
}

pacs_err pacs_index_find(pacs_index *idx, const pacs_query *q, pacs_find_cb cb, void *ctx,
                         pacs_errinfo *ei)
{
    json_rows j = {cb, ctx, 0};
    pacs_err err = pacs_index_find_rows(idx, q, json_row, &j, ei);
    if (err == PACS_OK && j.nomem) {
        err = pacs_errf(ei, PACS_ENOMEM, "out of memory");
    }
    return err;
}

pacs_err pacs_index__each_instance(pacs_index *idx, pacs_db *db, pacs_index__inst_plan *plan,
                                   const pacs_query *q, pacs_index__inst_fn fn, void *ctx,
                                   pacs_errinfo *ei)
{
    pacs_db_stmt *st = NULL;
    pacs_err err = idx->db->prepare(db, -1, plan->sql.data, &st, ei);
    if (err != PACS_OK) {
        return err;
    }
    pacs_index__bind_compiled(idx, st, &plan->c);
    pacs_index__row row = {idx->db->column, st};
    int rc;
    while ((rc = idx->db->step(st, ei)) == 1) {
        if (pacs_index__inst_row_matches(plan, q, &row) && fn(ctx, &row)) {
            break;
        }
    }
    if (rc < 0) {
        err = ei ? ei->code : PACS_EDB;
    }
    idx->db->done(st);
    return err;
}

typedef struct inst_rows {
    unsigned flags;
    pacs_buf meta;
    pacs_instance_cb cb;
    void *ctx;
    pacs_err err;
    pacs_errinfo *ei;
} inst_rows;

static int inst_row(void *ctx, const pacs_index__row *row)
{
    inst_rows *r = ctx;
    pacs_instance_rec rec;
    r->err = pacs_index__inst_row_rec(row, r->flags, &r->meta, &rec, r->ei);
    return r->err != PACS_OK || r->cb(r->ctx, &rec);
}

pacs_err pacs_index_instances(pacs_index *idx, const pacs_query *q, unsigned flags,
                              pacs_instance_cb cb, void *ctx, pacs_errinfo *ei)
{
    inst_rows r = {flags, {0}, cb, ctx, PACS_OK, ei};
    pacs_buf_init(&r.meta, 64u << 20);
    pacs_index__inst_plan plan;
    pacs_db *db = NULL;
    pacs_err err = pacs_index__inst_plan_build(idx->d, q, &plan, ei);
    if (err == PACS_OK) {
        err = idx->be->conn_get(idx, &db, ei);
    }
    if (err == PACS_OK) {
        err = pacs_index__each_instance(idx, db, &plan, q, inst_row, &r, ei);
        idx->be->conn_put(idx, db);
    }
    if (err == PACS_OK) {
        err = r.err;
    }
    pacs_buf_free(&r.meta);
    pacs_index__inst_plan_free(&plan);
    return err;
}

/* ---- objects, sweep records, statistics ---- */

typedef struct object_rows {
    pacs_object_cb cb;
    void *ctx;
} object_rows;

/* A row of (object, size, text) for an object callback. */
static int object_row(pacs_index *idx, pacs_db_stmt *st, void *ctx)
{
    object_rows *o = ctx;
    size_t n = 0;
    const char *obj = idx->db->column(st, 0, &n);
    uint64_t size = (uint64_t)idx->db->column_int(st, 1);
    const char *text = idx->db->column(st, 2, &n);
    return o->cb(o->ctx, obj ? obj : "", size, text ? text : "");
}

pacs_err pacs_index__each_object(pacs_index *idx, int slot, const char *sql, pacs_object_cb cb,
                                 void *ctx, pacs_errinfo *ei, const char *fmt, ...)
{
    object_rows o = {cb, ctx};
    va_list ap;
    va_start(ap, fmt);
    pacs_err err = each_row_v(idx, slot, sql, object_row, &o, ei, fmt, ap);
    va_end(ap);
    return err;
}

pacs_err pacs_index_objects(pacs_index *idx, pacs_object_cb cb, void *ctx, pacs_errinfo *ei)
{
    return pacs_index__each_object(idx, PACS_SQL_OBJECTS,
                                   "SELECT object, size, sop_uid FROM instances ORDER BY pk", cb,
                                   ctx, ei, "");
}

pacs_err pacs_index_sweep_pending(pacs_index *idx, pacs_object_cb cb, void *ctx, pacs_errinfo *ei)
{
    return pacs_index__each_object(idx, PACS_SQL_SWEEP_PENDING, "SELECT object, 0, '' FROM sweep",
                                   cb, ctx, ei, "");
}

static int any_row(pacs_index *idx, pacs_db_stmt *st, void *ctx)
{
    (void)idx;
    (void)st;
    *(int *)ctx = 1;
    return 1;
}

/* The partial index instances_source_http (series_pk, source_http) answers this per series of
 * the study; instances without an HTTP source are not in it. */
pacs_err pacs_index_study_from(pacs_index *idx, const char *study_uid, const char *name, int *found,
                               pacs_errinfo *ei)
{
    int any = 0;
    pacs_err err = each_row(idx, PACS_SQL_STUDY_FROM,
                            "SELECT 1 FROM studies st JOIN series se ON se.study_pk=st.pk"
                            " JOIN instances i ON i.series_pk=se.pk AND i.source_http=$2"
                            " WHERE st.study_uid=$1 LIMIT 1",
                            any_row, &any, ei, "ss", study_uid, name);
    if (err == PACS_OK) {
        *found = any;
    }
    return err;
}

pacs_err pacs_index_object_referenced(pacs_index *idx, const char *object, int *referenced,
                                      pacs_errinfo *ei)
{
    int found = 0;
    pacs_err err =
        each_row(idx, PACS_SQL_OBJECT_REFERENCED, "SELECT 1 FROM instances WHERE object=$1 LIMIT 1",
                 any_row, &found, ei, "s", object);
    if (err == PACS_OK) {
        *referenced = found;
    }
    return err;
}

static int stats_row(pacs_index *idx, pacs_db_stmt *st, void *ctx)
{
    pacs_index_stats *out = ctx;
    out->patients = (uint64_t)idx->db->column_int(st, 0);
    out->studies = (uint64_t)idx->db->column_int(st, 1);
    out->series = (uint64_t)idx->db->column_int(st, 2);
    out->instances = (uint64_t)idx->db->column_int(st, 3);
    out->object_bytes = (uint64_t)idx->db->column_int(st, 4);
    return 1;
}

pacs_err pacs_index_stats_get(pacs_index *idx, pacs_index_stats *out, pacs_errinfo *ei)
{
    return each_row(idx, PACS_SQL_STATS,
                    "SELECT (SELECT count(*) FROM patients), (SELECT count(*) FROM studies),"
                    " (SELECT count(*) FROM series), (SELECT count(*) FROM instances),"
                    " (SELECT CAST(coalesce(sum(size), 0) AS BIGINT) FROM instances)",
                    stats_row, out, ei, "");
}

/* ---- the forwarding queue ---- */

typedef struct fwd_rows {
    pacs_fwd_cb cb;
    void *ctx;
} fwd_rows;

static void copy_text(pacs_index *idx, pacs_db_stmt *st, int col, char *dst, size_t cap)
{
    size_t n = 0;
    const char *v = idx->db->column(st, col, &n);
    snprintf(dst, cap, "%s", v ? v : "");
}

/* A row of FWD_COLUMNS. */
static int fwd_row(pacs_index *idx, pacs_db_stmt *st, void *ctx)
{
    fwd_rows *f = ctx;
    pacs_fwd_entry e;
    memset(&e, 0, sizeof e);
    e.id = idx->db->column_int(st, 0);
    copy_text(idx, st, 1, e.dest, sizeof e.dest);
    copy_text(idx, st, 2, e.rule, sizeof e.rule);
    copy_text(idx, st, 3, e.sop_uid, sizeof e.sop_uid);
    copy_text(idx, st, 4, e.sop_class, sizeof e.sop_class);
    copy_text(idx, st, 5, e.ts, sizeof e.ts);
    copy_text(idx, st, 6, e.object, sizeof e.object);
    e.state = (pacs_fwd_state)idx->db->column_int(st, 7);
    e.attempts = (uint32_t)idx->db->column_int(st, 8);
    e.next_try = idx->db->column_int(st, 9);
    e.updated = idx->db->column_int(st, 10);
    copy_text(idx, st, 11, e.error, sizeof e.error);
    e.bytes = (uint64_t)idx->db->column_int(st, 12);
    e.ms = (uint64_t)idx->db->column_int(st, 13);
    return f->cb(f->ctx, &e);
}

#define FWD_COLUMNS(q)                                                                             \
    "SELECT " q ".id, " q ".dest, " q ".rule, " q ".sop_uid, coalesce(i.sop_class, ''),"           \
    " coalesce(i.ts, ''), coalesce(i.object, ''), " q ".state, " q ".attempts, " q ".next_try, " q \
    ".updated, coalesce(" q ".error, ''), " q ".bytes, " q ".ms"

pacs_err pacs_index_fwd_due(pacs_index *idx, int64_t now, size_t limit, pacs_fwd_cb cb, void *ctx,
                            pacs_errinfo *ei)
{
    fwd_rows f = {cb, ctx};
    if (!idx->d->shared) {
        return each_row(idx, PACS_SQL_FWD_DUE,
                        FWD_COLUMNS("q") " FROM forward_queue q LEFT JOIN instances i"
                                         " ON i.sop_uid = q.sop_uid"
                                         " WHERE q.state = 0 AND q.next_try <= $1"
                                         " ORDER BY q.dest, q.id LIMIT $2",
                        fwd_row, &f, ei, "ii", (long long)now, (long long)limit);
    }
    /* Claimed for this node: locked rows of other nodes' claims in progress are skipped, and
     * the claimed ones are leased (next_try moved ahead) until pacs_index_fwd_update writes
     * their outcome, so no other node sends them meanwhile; if this node dies, the lease runs
     * out and another takes them over. */
    return each_row(idx, PACS_SQL_FWD_DUE,
                    "WITH c AS (SELECT id, next_try AS due FROM forward_queue"
                    "  WHERE state = 0 AND next_try <= $1::bigint ORDER BY dest, id"
                    "  LIMIT $2::bigint FOR UPDATE SKIP LOCKED),"
                    " u AS (UPDATE forward_queue q SET next_try = $1::bigint + $3::bigint"
                    "  FROM c WHERE q.id = c.id RETURNING q.*, c.due)" FWD_COLUMNS(
                        "u") " FROM u LEFT JOIN instances i ON i.sop_uid = u.sop_uid"
                             " ORDER BY u.dest, u.id",
                    fwd_row, &f, ei, "iii", (long long)now, (long long)limit,
                    (long long)idx->lease);
}

pacs_err pacs_index_fwd_list(pacs_index *idx, int state, pacs_fwd_cb cb, void *ctx,
                             pacs_errinfo *ei)
{
    fwd_rows f = {cb, ctx};
    if (state < 0) {
        return each_row(idx, PACS_SQL_FWD_LIST_ALL,
                        FWD_COLUMNS("q") " FROM forward_queue q LEFT JOIN instances i"
                                         " ON i.sop_uid = q.sop_uid ORDER BY q.id",
                        fwd_row, &f, ei, "");
    }
    return each_row(idx, PACS_SQL_FWD_LIST_STATE,
                    FWD_COLUMNS("q") " FROM forward_queue q LEFT JOIN instances i"
                                     " ON i.sop_uid = q.sop_uid WHERE q.state = $1 ORDER BY q.id",
                    fwd_row, &f, ei, "i", (long long)state);
}

/* ---- share records ---- */

typedef struct share_rows {
    pacs_share_cb cb;
    void *ctx;
    int found;
} share_rows;

static int share_row(pacs_index *idx, pacs_db_stmt *st, void *ctx)
{
    share_rows *s = ctx;
    pacs_index_share r;
    size_t n = 0;
    const char *v;
    v = idx->db->column(st, 0, &n);
    r.id = v ? v : "";
    v = idx->db->column(st, 1, &n);
    r.token_sha256 = (const unsigned char *)v;
    r.token_sha256_len = v ? n : 0;
    v = idx->db->column(st, 2, &n);
    r.study_uid = v ? v : "";
    v = idx->db->column(st, 3, &n);
    r.creator = v ? v : "";
    r.created_at = idx->db->column_int(st, 4);
    r.expires_at = idx->db->column_int(st, 5);
    r.revoked = idx->db->column_int(st, 6) != 0;
    r.revoked_at = idx->db->column_int(st, 7);
    s->found = 1;
    return s->cb(s->ctx, &r);
}

#define SHARE_COLUMNS                                                                              \
    "SELECT id, token_sha256, study_uid, creator, created_at, expires_at, revoked, revoked_at"     \
    " FROM shares"

pacs_err pacs_index_share_get(pacs_index *idx, const char *id, pacs_share_cb cb, void *ctx,
                              int *found, pacs_errinfo *ei)
{
    share_rows s = {cb, ctx, 0};
    pacs_err err = each_row(idx, PACS_SQL_SHARE_GET, SHARE_COLUMNS " WHERE id = $1", share_row, &s,
                            ei, "s", id);
    if (err == PACS_OK && found) {
        *found = s.found;
    }
    return err;
}

pacs_err pacs_index_share_list(pacs_index *idx, const char *study_uid, pacs_share_cb cb, void *ctx,
                               pacs_errinfo *ei)
{
    share_rows s = {cb, ctx, 0};
    if (!study_uid) {
        return each_row(idx, PACS_SQL_SHARE_LIST_ALL,
                        SHARE_COLUMNS " ORDER BY created_at DESC, pk DESC", share_row, &s, ei, "");
    }
    return each_row(idx, PACS_SQL_SHARE_LIST_STUDY,
                    SHARE_COLUMNS " WHERE study_uid = $1 ORDER BY created_at DESC, pk DESC",
                    share_row, &s, ei, "s", study_uid);
}
