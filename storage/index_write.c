// SPDX-License-Identifier: MIT
/*
 * What the index's writer runs inside a batch's transaction (index_core.h), for both backends:
 * an instance's put (its patient, study and series inserted or updated, the computed counts and
 * study sets kept right; an instance an order names reconciled to its patient first, by
 * orders_link.c), removal with its counter cascade and sweep records, the forwarding
 * queue's changes and the share records' changes.
 *
 * Load: every stored instance passes through pacs_index__do_put: its statements are kept
 * prepared on the writer's connection, and on PostgreSQL each is one round trip (RETURNING
 * instead of a second look-up; rows that other nodes may write at once are locked in a fixed
 * order, patient, study, series, instance). Runs on the writer thread only.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pacs/base/buf.h"
#include "storage/catalog.h"
#include "storage/index_core.h"
#include "storage/orders_store.h"

/* ---- the study's computed sets: ModalitiesInStudy, SOPClassesInStudy ---- */

/* Builds "\A\B\" from a statement's first column over its rows. */
static pacs_err collect_set(pacs_index *idx, pacs_db *db, int slot, const char *sql,
                            long long study_pk, char **out, pacs_errinfo *ei)
{
    pacs_db_stmt *st = pacs_index__stmt(idx, db, slot, sql, ei);
    if (!st) {
        return ei ? ei->code : PACS_EDB;
    }
    idx->db->bind_int(st, 1, study_pk);
    pacs_buf b;
    pacs_buf_init(&b, 1u << 20);
    pacs_buf_puts(&b, "\\");
    int rc;
    while ((rc = idx->db->step(st, ei)) == 1) {
        size_t n = 0;
        const char *t = idx->db->column(st, 0, &n);
        if (t && *t) {
            pacs_buf_printf(&b, "%s\\", t);
        }
    }
    idx->db->done(st);
    *out = pacs_buf_take(&b, NULL);
    if (rc != 0) {
        free(*out);
        return ei ? ei->code : PACS_EDB;
    }
    return *out ? PACS_OK : pacs_errf(ei, PACS_ENOMEM, "out of memory");
}

static pacs_err refresh_study_sets(pacs_index *idx, pacs_db *db, long long study_pk,
                                   pacs_errinfo *ei)
{
    if (idx->d->string_agg) {
        return pacs_index__run(
            idx, db, PACS_SQL_STUDY_SETS,
            "UPDATE studies SET"
            " modalities = '\\' || coalesce((SELECT string_agg(DISTINCT modality, '\\'"
            "  ORDER BY modality) || '\\' FROM series WHERE study_pk=$1 AND modality <> ''),"
            "  ''),"
            " sop_classes = '\\' || coalesce((SELECT string_agg(DISTINCT i.sop_class, '\\'"
            "  ORDER BY i.sop_class) || '\\' FROM instances i JOIN series se"
            "  ON i.series_pk=se.pk WHERE se.study_pk=$1 AND i.sop_class <> ''), '')"
            " WHERE pk=$1",
            NULL, 0, ei, "i", study_pk);
    }
    /* Without an ordered aggregate: the two sets are read, and written back. */
    char *mods = NULL, *classes = NULL;
    pacs_err err = collect_set(idx, db, PACS_SQL_STUDY_MODALITIES,
                               "SELECT DISTINCT modality FROM series WHERE study_pk=$1"
                               " ORDER BY modality",
                               study_pk, &mods, ei);
    if (err == PACS_OK) {
        err = collect_set(idx, db, PACS_SQL_STUDY_CLASSES,
                          "SELECT DISTINCT i.sop_class FROM instances i JOIN series se ON"
                          " i.series_pk=se.pk WHERE se.study_pk=$1 ORDER BY i.sop_class",
                          study_pk, &classes, ei);
    }
    if (err == PACS_OK) {
        err = pacs_index__run(idx, db, PACS_SQL_STUDY_SETS_SET,
                              "UPDATE studies SET modalities=$1, sop_classes=$2 WHERE pk=$3", NULL,
                              0, ei, "ssi", mods, classes, study_pk);
    }
    free(mods);
    free(classes);
    return err;
}

/* ---- removal ---- */

/* Runs a counter update that returns what is left; `*left` receives it. */
static pacs_err decrement(pacs_index *idx, pacs_db *db, int slot, const char *sql, long long pk,
                          long long *left, pacs_errinfo *ei)
{
    pacs_index__result r;
    pacs_err err = pacs_index__run(idx, db, slot, sql, &r, 1, ei, "i", pk);
    *left = r.found ? r.v[0] : 0;
    return err;
}

pacs_err pacs_index__remove_instance(pacs_index *idx, pacs_db *db, long long pk, pacs_errinfo *ei)
{
    pacs_index__result r;
    pacs_err err = pacs_index__run(idx, db, PACS_SQL_INSTANCE_PARENTS,
                                   "SELECT i.series_pk, se.study_pk, s.patient_pk FROM instances i"
                                   " JOIN series se ON i.series_pk=se.pk JOIN studies s"
                                   " ON se.study_pk=s.pk WHERE i.pk=$1",
                                   &r, 3, ei, "i", pk);
    if (err != PACS_OK) {
        return err;
    }
    if (!r.found) {
        return pacs_errf(ei, PACS_EDB, "index inconsistency around instance %lld", pk);
    }
    long long series_pk = r.v[0], study_pk = r.v[1], patient_pk = r.v[2], left = 0;
    err = pacs_index__run(idx, db, PACS_SQL_SWEEP_ADD,
                          "INSERT INTO sweep(object) SELECT object FROM instances WHERE pk=$1"
                          " ON CONFLICT DO NOTHING",
                          NULL, 0, ei, "i", pk);
    if (err == PACS_OK) {
        err = pacs_index__run(idx, db, PACS_SQL_INSTANCE_DEL, "DELETE FROM instances WHERE pk=$1",
                              NULL, 0, ei, "i", pk);
    }
    if (err == PACS_OK) {
        err = pacs_index__run(idx, db, PACS_SQL_STUDY_INSTANCES_SUB,
                              "UPDATE studies SET num_instances=num_instances-1 WHERE pk=$1", NULL,
                              0, ei, "i", study_pk);
    }
    if (err == PACS_OK) {
        err = pacs_index__run(idx, db, PACS_SQL_PATIENT_INSTANCES_SUB,
                              "UPDATE patients SET num_instances=num_instances-1 WHERE pk=$1", NULL,
                              0, ei, "i", patient_pk);
    }
    if (err == PACS_OK) {
        err = decrement(idx, db, PACS_SQL_SERIES_INSTANCES_SUB,
                        "UPDATE series SET num_instances=num_instances-1 WHERE pk=$1"
                        " RETURNING num_instances",
                        series_pk, &left, ei);
    }
    if (err != PACS_OK) {
        return err;
    }
    if (left > 0) {
        return refresh_study_sets(idx, db, study_pk, ei);
    }
    err = pacs_index__run(idx, db, PACS_SQL_SERIES_DEL, "DELETE FROM series WHERE pk=$1", NULL, 0,
                          ei, "i", series_pk);
    if (err == PACS_OK) {
        err = pacs_index__run(idx, db, PACS_SQL_PATIENT_SERIES_SUB,
                              "UPDATE patients SET num_series=num_series-1 WHERE pk=$1", NULL, 0,
                              ei, "i", patient_pk);
    }
    if (err == PACS_OK) {
        err = decrement(idx, db, PACS_SQL_STUDY_SERIES_SUB,
                        "UPDATE studies SET num_series=num_series-1 WHERE pk=$1"
                        " RETURNING num_series",
                        study_pk, &left, ei);
    }
    if (err != PACS_OK) {
        return err;
    }
    if (left > 0) {
        return refresh_study_sets(idx, db, study_pk, ei);
    }
    err = pacs_index__run(idx, db, PACS_SQL_STUDY_DEL, "DELETE FROM studies WHERE pk=$1", NULL, 0,
                          ei, "i", study_pk);
    if (err == PACS_OK) {
        err = decrement(idx, db, PACS_SQL_PATIENT_STUDIES_SUB,
                        "UPDATE patients SET num_studies=num_studies-1 WHERE pk=$1"
                        " RETURNING num_studies",
                        patient_pk, &left, ei);
    }
    if (err == PACS_OK && left <= 0) {
        err = pacs_index__run(idx, db, PACS_SQL_PATIENT_DEL, "DELETE FROM patients WHERE pk=$1",
                              NULL, 0, ei, "i", patient_pk);
    }
    return err;
}

/* The pks of the instances a removal takes. */
typedef struct pk_list {
    long long *pks;
    size_t n, cap;
    pacs_err err;
    pacs_errinfo *ei;
} pk_list;

static int add_pk(void *ctx, const pacs_index__row *row)
{
    pk_list *l = ctx;
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        long long *g = realloc(l->pks, cap * sizeof *g);
        if (!g) {
            l->err = pacs_errf(l->ei, PACS_ENOMEM, "out of memory");
            return 1;
        }
        l->pks = g;
        l->cap = cap;
    }
    size_t len = 0;
    const char *pk = row->value(row->ctx, PACS_INDEX__COL_PK, &len);
    l->pks[l->n++] = pk ? strtoll(pk, NULL, 10) : -1;
    return 0;
}

pacs_err pacs_index__do_remove(pacs_index *idx, pacs_db *db, const pacs_query *q, uint64_t *removed,
                               pacs_errinfo *ei)
{
    pk_list l = {NULL, 0, 0, PACS_OK, ei};
    pacs_index__inst_plan plan;
    pacs_err err = pacs_index__inst_plan_build(idx->d, q, &plan, ei);
    /* Lock the rows: a node storing into them waits, and cannot be lost in between. */
    if (err == PACS_OK && idx->d->for_update[0] &&
        pacs_buf_printf(&plan.sql, "%s OF i", idx->d->for_update) != PACS_OK) {
        err = pacs_errf(ei, PACS_ETOOBIG, "query too long");
    }
    if (err == PACS_OK) {
        err = pacs_index__each_instance(idx, db, &plan, q, add_pk, &l, ei);
    }
    if (err == PACS_OK) {
        err = l.err;
    }
    /* Every row is read before any is removed: a connection runs one statement at a time. */
    for (size_t i = 0; err == PACS_OK && i < l.n; i++) {
        err = pacs_index__remove_instance(idx, db, l.pks[i], ei);
    }
    if (err == PACS_OK) {
        *removed = l.n;
    }
    free(l.pks);
    pacs_index__inst_plan_free(&plan);
    return err;
}

/* ---- put ---- */

/* A later instance keeps what it does not say. A level's columns and stored attributes take
 * the latest instance's values where it has one; where it has none (a report sent by a RIS
 * without AccessionNumber or StudyDescription, a key image note without the patient's birth
 * date) the earlier value stays. KEEP(n, col) is column `col` set from parameter $n unless
 * that is empty; KEEP_WITH(n, m, col) sets `col` from $m when $n (its source) is not empty.
 * MERGED(n) is the stored attributes with those of $n that hold a value laid over them, or $n
 * itself on the level's first instance: SQLite's json_patch merges each attribute's members,
 * so an attribute without "Value" keeps the stored one; PostgreSQL's || replaces whole
 * attributes, so the empty ones are left out of what it lays over. The engine does it: no
 * second copy of the attributes is made for it. The instances of a series mostly carry the same
 * attributes of the levels above: the text is compared first, and the merge (a parse of both)
 * is skipped when it is the stored one. */
// clang-format off
#define KEEP_V(n, col) "coalesce(nullif($" #n ",''), " col ")"
#define KEEP_WITH_V(n, m, col) "CASE WHEN coalesce($" #n ",'')='' THEN " col " ELSE $" #m " END"
#define KEEP(n, col) col "=" KEEP_V(n, col)
#define KEEP_WITH(n, m, col) col "=" KEEP_WITH_V(n, m, col)
#define KEEP_DIFFERS(n, col) col " IS NOT " KEEP_V(n, col)
#define KEEP_WITH_DIFFERS(n, m, col) col " IS NOT " KEEP_WITH_V(n, m, col)
#define UNLESS_SAME(n, merged) "attrs=CASE WHEN attrs=$" #n " THEN attrs ELSE " merged " END"
#define MERGED_SQLITE(n) UNLESS_SAME(n, "coalesce(json_patch(attrs, $" #n "), $" #n ")")
#define MERGED_PG(n)                                                                              \
    UNLESS_SAME(n, "coalesce((attrs::jsonb || (SELECT coalesce(jsonb_object_agg(e.key, e.value),"\
                   " '{}'::jsonb) FROM jsonb_each($" #n "::text::jsonb) e"                        \
                   " WHERE e.value ?| array['Value','InlineBinary','BulkDataURI']))::text, $" #n ")")

#define PATIENT_SET(MERGED)                                                                       \
    "UPDATE patients SET " KEEP(3, "name") ", " KEEP_WITH(3, 4, "name_ci") ", "                  \
    KEEP_WITH(3, 5, "name_fold") ", " KEEP(6, "birth_date") ", " KEEP(7, "sex") ", "             \
    MERGED(8) " WHERE patient_id=$1 AND issuer=$2 RETURNING pk"

/* The study's columns an index holds (studies_date, _accession, _ref_ci, _ref_fold, _name,
 * _name_fold, _pid), and the others. */
#define STUDY_KEYS(K, KW, SEP)                                                                    \
    K(1, "study_date") SEP KW(1, 2, "study_time") SEP K(3, "accession") SEP                      \
    KW(5, 6, "ref_physician_ci") SEP KW(5, 7, "ref_physician_fold") SEP                          \
    KW(9, 10, "patient_name_ci") SEP KW(9, 11, "patient_name_fold") SEP K(12, "patient_id")
#define STUDY_OTHERS(MERGED)                                                                      \
    KEEP(4, "study_id") ", " KEEP(5, "ref_physician") ", " KEEP(8, "description") ", "          \
    KEEP(9, "patient_name") ", " KEEP_WITH(12, 13, "issuer") ", " KEEP(14, "birth_date") ", "    \
    KEEP(15, "sex") ", " MERGED(16)
#define STUDY_SET_PG                                                                              \
    "UPDATE studies SET " STUDY_KEYS(KEEP, KEEP_WITH, ", ") ", " STUDY_OTHERS(MERGED_PG)          \
    " WHERE pk=$17"
#define STUDY_KEYS_SET_SQLITE                                                                     \
    "UPDATE studies SET " STUDY_KEYS(KEEP, KEEP_WITH, ", ") " WHERE pk=$17 AND ("                \
    STUDY_KEYS(KEEP_DIFFERS, KEEP_WITH_DIFFERS, " OR ") ")"
#define STUDY_OTHERS_SET_SQLITE "UPDATE studies SET " STUDY_OTHERS(MERGED_SQLITE) " WHERE pk=$17"
// clang-format on

/* The patient's row, inserted when new, with the latest instance's details; `*pk` receives
 * it. The UPDATE locks the row, so nodes storing for one patient take turns. */
pacs_err pacs_index__put_patient(pacs_index *idx, pacs_db *db, const pacs_index__fields *f,
                                 const char *attrs, long long *pk, pacs_errinfo *ei)
{
    static const char *const set_sql[] = {PATIENT_SET(MERGED_SQLITE), PATIENT_SET(MERGED_PG)};
    const char *pid = f->patient_id ? f->patient_id : "";
    const char *issuer = f->issuer ? f->issuer : "";
    pacs_index__result r;
    pacs_err err = pacs_index__run(idx, db, PACS_SQL_PATIENT_ADD,
                                   "INSERT INTO patients(patient_id, issuer) VALUES($1,$2)"
                                   " ON CONFLICT(patient_id, issuer) DO NOTHING",
                                   NULL, 0, ei, "ss", pid, issuer);
    if (err == PACS_OK) {
        err = pacs_index__run(idx, db, PACS_SQL_PATIENT_SET, set_sql[idx->d->jsonb != 0], &r, 1, ei,
                              "ssssssss", pid, issuer, f->name, f->name_ci, f->name_fold,
                              f->birth_date, f->sex, attrs);
    }
    if (err == PACS_OK && !r.found) {
        err = pacs_errf(ei, PACS_EDB, "index: the patient row vanished");
    }
    if (err == PACS_OK) {
        *pk = r.v[0];
    }
    return err;
}

/* The study's row, inserted when new (a study stays with its first patient: `*patient_pk` is
 * set to its), with the latest instance's details. */
static pacs_err put_study(pacs_index *idx, pacs_db *db, const pacs_index_entry *e,
                          const pacs_index__fields *f, const char *attrs, long long *patient_pk,
                          long long *pk, pacs_errinfo *ei)
{
    pacs_index__result r;
    pacs_err err = pacs_index__run(idx, db, PACS_SQL_STUDY_ADD,
                                   "INSERT INTO studies(patient_pk, study_uid, modalities,"
                                   " sop_classes) VALUES($1,$2,'\\','\\')"
                                   " ON CONFLICT(study_uid) DO NOTHING RETURNING pk",
                                   &r, 1, ei, "is", *patient_pk, e->study_uid);
    if (err == PACS_OK && r.found) {
        *pk = r.v[0];
        err = pacs_index__run(idx, db, PACS_SQL_PATIENT_STUDIES_ADD,
                              "UPDATE patients SET num_studies=num_studies+1 WHERE pk=$1", NULL, 0,
                              ei, "i", *patient_pk);
    } else if (err == PACS_OK) {
        err = pacs_index__run(idx, db, PACS_SQL_STUDY_OF_UID,
                              "SELECT pk, patient_pk FROM studies WHERE study_uid=$1{U}", &r, 2, ei,
                              "s", e->study_uid);
        if (err == PACS_OK && !r.found) {
            err = pacs_errf(ei, PACS_EDB, "index: the study row vanished");
        }
        *pk = r.v[0];
        *patient_pk = r.v[1];
    }
    if (err != PACS_OK) {
        return err;
    }
    /* SQLite rewrites an index's entry whenever an UPDATE sets a column of it, even to the
     * value it had (7 pages of WAL for every instance of a study), while it leaves a row whose
     * bytes stay the same unwritten: so there the indexed columns have a statement of their own
     * that matches only when one of them changes. PostgreSQL compares the values itself (an
     * update that changes no indexed one touches no index: a HOT update), in one statement. */
    typedef struct {
        int slot;
        const char *sql;
    } statement;
    static const statement sqlite_sets[] = {{PACS_SQL_STUDY_SET, STUDY_OTHERS_SET_SQLITE},
                                            {PACS_SQL_STUDY_KEYS_SET, STUDY_KEYS_SET_SQLITE}};
    static const statement pg_sets[] = {{PACS_SQL_STUDY_SET, STUDY_SET_PG}};
    int pg = idx->d->jsonb != 0;
    const statement *sets = pg ? pg_sets : sqlite_sets;
    size_t n = pg ? 1 : 2;
    const char *pid = f->patient_id ? f->patient_id : "", *issuer = f->issuer ? f->issuer : "";
    for (size_t i = 0; i < n && err == PACS_OK; i++) {
        err = pacs_index__run(idx, db, sets[i].slot, sets[i].sql, NULL, 0, ei, "ssssssssssssssssi",
                              f->study_date, f->study_time, f->accession, f->study_id, f->ref_phys,
                              f->ref_phys_ci, f->ref_phys_fold, f->study_desc, f->name, f->name_ci,
                              f->name_fold, pid, issuer, f->birth_date, f->sex, attrs, *pk);
    }
    return err;
}

/* The series' row, inserted when new, with the latest instance's details. `*is_new` and
 * `*same_modality` (an existing series whose modality stays) say whether the study's sets may
 * have changed. */
static pacs_err put_series(pacs_index *idx, pacs_db *db, const pacs_index_entry *e,
                           const pacs_index__fields *f, const char *attrs, long long study_pk,
                           long long patient_pk, long long *pk, int *is_new, int *same_modality,
                           pacs_errinfo *ei)
{
    pacs_index__result r;
    pacs_err err = pacs_index__run(idx, db, PACS_SQL_SERIES_ADD,
                                   "INSERT INTO series(study_pk, series_uid) VALUES($1,$2)"
                                   " ON CONFLICT(series_uid) DO NOTHING RETURNING pk",
                                   &r, 1, ei, "is", study_pk, e->series_uid);
    *is_new = err == PACS_OK && r.found;
    *same_modality = 0;
    if (*is_new) {
        *pk = r.v[0];
        err = pacs_index__run(idx, db, PACS_SQL_STUDY_SERIES_ADD,
                              "UPDATE studies SET num_series=num_series+1 WHERE pk=$1", NULL, 0, ei,
                              "i", study_pk);
        if (err == PACS_OK) {
            err = pacs_index__run(idx, db, PACS_SQL_PATIENT_SERIES_ADD,
                                  "UPDATE patients SET num_series=num_series+1 WHERE pk=$1", NULL,
                                  0, ei, "i", patient_pk);
        }
    } else if (err == PACS_OK) {
        err = pacs_index__run(idx, db, PACS_SQL_SERIES_OF_UID,
                              "SELECT pk, coalesce(modality, '') = coalesce($1, '') FROM series"
                              " WHERE series_uid=$2{U}",
                              &r, 2, ei, "ss", f->modality, e->series_uid);
        if (err == PACS_OK && !r.found) {
            err = pacs_errf(ei, PACS_EDB, "index: the series row vanished");
        }
        *pk = r.v[0];
        *same_modality = r.v[1] != 0;
    }
    if (err != PACS_OK) {
        return err;
    }
    return pacs_index__run(idx, db, PACS_SQL_SERIES_SET,
                           "UPDATE series SET modality=$1, series_number=$2, description=$3,"
                           " body_part=$4, series_date=$5, series_time=$6, pps_start_date=$7,"
                           " pps_start_time=$8, attrs=$9 WHERE pk=$10",
                           NULL, 0, ei, "snsssssssi", f->modality, f->series_number, f->series_desc,
                           f->body_part, f->series_date, f->series_time, f->pps_date, f->pps_time,
                           attrs, *pk);
}

/* The instance's row and the counts above it. */
static pacs_err put_instance(pacs_index *idx, pacs_db *db, const pacs_index_entry *e,
                             const pacs_index__fields *f, const void *meta, size_t meta_len,
                             long long series_pk, long long study_pk, long long patient_pk,
                             pacs_errinfo *ei)
{
    pacs_err err = pacs_index__run(
        idx, db, PACS_SQL_INSTANCE_ADD,
        "INSERT INTO instances(series_pk, sop_uid, sop_class, instance_number, ts, object,"
        " size, frames, rows, columns, bits_allocated, content_date, content_time,"
        " source_aet, received, pixels, metadata, source_http) VALUES($1,$2,$3,$4,$5,$6,$7,$8,"
        "$9,$10,$11,$12,$13,$14,coalesce($15, {NOW}),$16,$17,$18)",
        NULL, 0, ei, "issnssiinnnsssibbs", series_pk, e->sop_uid, e->sop_class_uid,
        f->instance_number, e->ts_uid, e->object, (long long)e->object_size, (long long)e->n_frames,
        f->rows, f->columns, f->bits, f->content_date, f->content_time, e->source_aet, e->received,
        (const void *)e->pixel_layout, e->pixel_layout ? e->pixel_layout_len : (size_t)0, meta,
        meta_len, e->source_http);
    if (err == PACS_OK) {
        err = pacs_index__run(idx, db, PACS_SQL_SERIES_INSTANCES_ADD,
                              "UPDATE series SET num_instances=num_instances+1 WHERE pk=$1", NULL,
                              0, ei, "i", series_pk);
    }
    if (err == PACS_OK) {
        err = pacs_index__run(idx, db, PACS_SQL_STUDY_INSTANCES_ADD,
                              "UPDATE studies SET num_instances=num_instances+1 WHERE pk=$1", NULL,
                              0, ei, "i", study_pk);
    }
    if (err == PACS_OK) {
        err = pacs_index__run(idx, db, PACS_SQL_PATIENT_INSTANCES_ADD,
                              "UPDATE patients SET num_instances=num_instances+1 WHERE pk=$1", NULL,
                              0, ei, "i", patient_pk);
    }
    return err;
}

pacs_err pacs_index__do_put(pacs_index *idx, pacs_db *db, const pacs_index_entry *e,
                            const pacs_index__texts *texts, pacs_put_result *res, pacs_errinfo *ei)
{
    memset(res, 0, sizeof *res);
    pacs_db_stmt *st = pacs_index__stmt(idx, db, PACS_SQL_INSTANCE_OF_SOP,
                                        "SELECT pk, object FROM instances WHERE sop_uid=$1{U}", ei);
    if (!st) {
        return ei ? ei->code : PACS_EDB;
    }
    idx->db->bind_text(st, 1, e->sop_uid);
    long long old_pk = -1;
    int rc;
    /* Read to the end (one row at most): a statement the writer leaves early is cancelled. */
    while ((rc = idx->db->step(st, ei)) == 1) {
        size_t n = 0;
        const char *obj = idx->db->column(st, 1, &n);
        old_pk = idx->db->column_int(st, 0);
        snprintf(res->old_object, sizeof res->old_object, "%s", obj ? obj : "");
        res->existed = 1;
    }
    idx->db->done(st);
    if (rc < 0) {
        return ei ? ei->code : PACS_EDB;
    }
    pacs_err err = PACS_OK;
    if (res->existed) {
        if (strcmp(res->old_object, e->object) == 0) {
            res->old_object[0] = '\0';
            return pacs_index__intent_done(idx, db, e->object, ei); /* the very same bytes */
        }
        res->replaced = 1;
        err = pacs_index__remove_instance(idx, db, old_pk, ei);
        if (err != PACS_OK) {
            return err;
        }
    }

    /* An instance an order names is indexed as reconciled to the order's patient. */
    json_t *linked = NULL;
    if (e->n_id_systems > 0) {
        err = pacs_orders__link_instance(idx, db, e, &linked, res, ei);
        if (err != PACS_OK) {
            return err;
        }
    }
    const json_t *json = linked ? linked : e->json;
    pacs_index__texts own;
    memset(&own, 0, sizeof own);
    if (linked) {
        err = pacs_index__texts_make(json, &own, ei);
        texts = &own;
        if (err != PACS_OK) {
            json_decref(linked);
            return err;
        }
    }
    const pacs_index__fields *f = &texts->fields;
    long long patient_pk = -1, study_pk = -1, series_pk = -1;
    int new_series = 0, same_modality = 0;
    err = pacs_index__put_patient(idx, db, f, texts->attrs[0], &patient_pk, ei);
    if (err == PACS_OK) {
        err = put_study(idx, db, e, f, texts->attrs[1], &patient_pk, &study_pk, ei);
    }
    if (err == PACS_OK) {
        err = put_series(idx, db, e, f, texts->attrs[2], study_pk, patient_pk, &series_pk,
                         &new_series, &same_modality, ei);
    }
    if (err == PACS_OK) {
        err = put_instance(idx, db, e, f, texts->meta, texts->meta_len, series_pk, study_pk,
                           patient_pk, ei);
    }
    if (err == PACS_OK) {
        err = pacs_index__intent_done(idx, db, e->object, ei);
    }
    if (err == PACS_OK && e->unflushed) {
        err =
            pacs_index__unflushed_add(idx, db, e->object, res->old_object, &res->unflushed_id, ei);
    }
    /* ModalitiesInStudy and SOPClassesInStudy change only with a new series, a series whose
     * modality changed, or a SOP class the study has not seen; otherwise the recomputation is
     * skipped. */
    int known = 0;
    if (err == PACS_OK && !new_series && same_modality) {
        char pat[80];
        snprintf(pat, sizeof pat, "\\%s\\", e->sop_class_uid);
        pacs_index__result r;
        if (pacs_index__run(idx, db, PACS_SQL_STUDY_HAS_CLASS,
                            "SELECT {POS}(sop_classes, $1) FROM studies WHERE pk=$2", &r, 1, NULL,
                            "si", pat, study_pk) == PACS_OK) {
            known = r.found && r.v[0] > 0;
        }
    }
    if (err == PACS_OK && !known) {
        err = refresh_study_sets(idx, db, study_pk, ei);
    }
    json_decref(linked);
    pacs_index__texts_free(&own);
    return err;
}

/* ---- the forwarding queue ---- */

pacs_err pacs_index__do_fwd(pacs_index *idx, pacs_db *db, pacs_index__job_kind kind,
                            pacs_index__fwd_args *f, pacs_errinfo *ei)
{
    pacs_index__result r;
    pacs_err err = PACS_OK;
    if (kind == PACS_INDEX_JOB_FWD_ENQUEUE) {
        /* A pending entry keeps its back-off; a delivered one is not sent again unless the
         * object changed; a failed one is revived by a new store. */
        err = pacs_index__run(
            idx, db, PACS_SQL_FWD_ENQUEUE,
            "INSERT INTO forward_queue(dest, rule, sop_uid, object, state, attempts, next_try,"
            " created, updated, error) VALUES($1, $2, $3, $4, 0, 0, $5, $5, $5, NULL)"
            " ON CONFLICT(sop_uid, dest) DO UPDATE SET rule=excluded.rule,"
            " object=excluded.object, state=0, attempts=0, next_try=excluded.next_try,"
            " updated=excluded.updated, error=NULL, bytes=0, ms=0 WHERE NOT (forward_queue.object="
            "excluded.object AND forward_queue.state IN (0, 1))",
            &r, 0, ei, "ssssi", f->dest, f->rule, f->sop_uid, f->object, (long long)f->now);
        f->changed = err == PACS_OK ? r.changes : 0;
    } else if (kind == PACS_INDEX_JOB_FWD_UPDATE) {
        long long now = (long long)time(NULL);
        for (size_t i = 0; err == PACS_OK && i < f->n_updates; i++) {
            const pacs_fwd_update *u = &f->updates[i];
            err = pacs_index__run(idx, db, PACS_SQL_FWD_UPDATE,
                                  "UPDATE forward_queue SET state=$1, attempts=$2, next_try=$3,"
                                  " updated=$4, error=$5, bytes=CASE WHEN $1=1 THEN $7 ELSE"
                                  " bytes END, ms=CASE WHEN $1=1 THEN $8 ELSE ms END WHERE id=$6",
                                  NULL, 0, ei, "iiiisiii", (long long)u->state,
                                  (long long)u->attempts, (long long)u->next_try, now,
                                  u->error && u->error[0] ? u->error : NULL, (long long)u->id,
                                  (long long)u->bytes, (long long)u->ms);
        }
        f->changed = f->n_updates;
    } else if (f->id > 0) {
        err = pacs_index__run(idx, db, PACS_SQL_FWD_RETRY_ONE,
                              "UPDATE forward_queue SET state=0, attempts=0, next_try=$1,"
                              " updated=$1 WHERE id=$2 AND state IN (0, 2)",
                              &r, 0, ei, "ii", (long long)f->now, (long long)f->id);
        f->changed = err == PACS_OK ? r.changes : 0;
    } else {
        err = pacs_index__run(idx, db, PACS_SQL_FWD_RETRY_ALL,
                              "UPDATE forward_queue SET state=0, attempts=0, next_try=$1,"
                              " updated=$1 WHERE state IN (0, 2)",
                              &r, 0, ei, "i", (long long)f->now);
        f->changed = err == PACS_OK ? r.changes : 0;
    }
    return err;
}

/* ---- share records ---- */

pacs_err pacs_index__do_share(pacs_index *idx, pacs_db *db, pacs_index__job_kind kind,
                              pacs_index__share_args *a, pacs_errinfo *ei)
{
    pacs_index__result r;
    pacs_err err = PACS_OK;
    a->changed = 0;
    if (kind == PACS_INDEX_JOB_SHARE_ADD) {
        for (size_t i = 0; err == PACS_OK && i < a->n; i++) {
            const pacs_index_share *s = &a->recs[i];
            err = pacs_index__run(idx, db, PACS_SQL_SHARE_ADD,
                                  "INSERT INTO shares(id, token_sha256, study_uid, created_at,"
                                  " expires_at, creator, revoked, revoked_at)"
                                  " VALUES($1, $2, $3, $4, $5, $6, $7, $8)"
                                  " ON CONFLICT(id) DO NOTHING",
                                  &r, 0, ei, "sbsiisii", s->id, (const void *)s->token_sha256,
                                  s->token_sha256_len, s->study_uid, (long long)s->created_at,
                                  (long long)s->expires_at, s->creator ? s->creator : "",
                                  (long long)(s->revoked != 0), (long long)s->revoked_at);
            a->changed += err == PACS_OK ? r.changes : 0;
        }
        return err;
    }
    if (a->id) {
        err = pacs_index__run(idx, db, PACS_SQL_SHARE_REVOKE_ID,
                              "UPDATE shares SET revoked_at = CASE WHEN revoked <> 0 THEN"
                              " revoked_at ELSE $2 END, revoked = 1 WHERE id = $1",
                              &r, 0, ei, "si", a->id, (long long)a->now);
    } else if (a->study_uid) {
        err = pacs_index__run(idx, db, PACS_SQL_SHARE_REVOKE_STUDY,
                              "UPDATE shares SET revoked = 1, revoked_at = $2"
                              " WHERE study_uid = $1 AND revoked = 0",
                              &r, 0, ei, "si", a->study_uid, (long long)a->now);
    } else {
        err = pacs_index__run(idx, db, PACS_SQL_SHARE_REVOKE_ALL,
                              "UPDATE shares SET revoked = 1, revoked_at = $1 WHERE revoked = 0",
                              &r, 0, ei, "i", (long long)a->now);
    }
    a->changed = err == PACS_OK ? r.changes : 0;
    return err;
}
