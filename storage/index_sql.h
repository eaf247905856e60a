// SPDX-License-Identifier: MIT
/*
 * What the SQL index backends (SQLite, PostgreSQL) share, so that both give the same answers:
 * the compiler from the query model (query.h) to a WHERE clause with bound parameters only,
 * written in a small dialect description; the SELECT statements of find and of instance
 * listings; the turning of a result row into DICOM JSON, with the keys no column covers matched
 * in C against stored attributes; the columns taken from an instance at ingest; and the
 * compressed form of the stored metadata. The index core (index_core.h) runs them over a
 * backend's driver. Internal to storage/ (the pacs_index__ prefix).
 *
 * Thread-safe: the functions keep no state; each compiled query and plan belongs to one call.
 */
#ifndef PACS_STORAGE_INDEX_SQL_H
#define PACS_STORAGE_INDEX_SQL_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "pacs/base/buf.h"
#include "pacs/base/err.h"
#include "storage/catalog.h"
#include "storage/query.h"

#define PACS_INDEX_SQL_MAX (256u * 1024u)
#define PACS_INDEX_MAX_RETURN 512

/** How one engine spells what differs; each backend defines its own (index_sqlite.c,
 *  index_pg.c). */
typedef struct pacs_sql_dialect {
    const char *name;
    int numbered_params;  /* $1, $2, ... (PostgreSQL) instead of ? */
    int like_patterns;    /* wildcards with LIKE, '%' '_' and '\' escapes, instead of GLOB */
    const char *strpos;   /* the function giving a substring's position, 0 when absent */
    const char *no_limit; /* LIMIT's argument meaning "no limit", before an OFFSET; NULL: omit */
    int explicit_nulls;   /* write out SQLite's NULL order (NULLs sort low) in ORDER BY */
    const char *name_fts; /* an FTS5 trigram table over studies' folded names, or NULL */
    /* What makes a study find read the study-date index newest first, filtering as it goes,
     * instead of the planner's choice (" INDEXED BY studies_date"), or NULL where the planner
     * weighs the choice from statistics of its own (see pacs_index__find_plan_build). */
    const char *date_walk;
    /* For the index core (index_core.h): */
    const char *begin;      /* how the writer opens a transaction */
    const char *for_update; /* " FOR UPDATE" where rows can be locked, else "" */
    const char *now_stamp;  /* the UTC time now as text "YYYYMMDDHHMMSS" */
    int string_agg;         /* string_agg(DISTINCT x, sep ORDER BY x) exists */
    int jsonb;              /* stored attributes merge as jsonb (||), not with json_patch() */
    int shared;             /* several processes share it: row claims (FOR UPDATE SKIP LOCKED)
                             * and advisory locks, for leases and intents */
} pacs_sql_dialect;

/** One bound parameter: integer or text (the text is owned). */
typedef struct pacs_index__bind {
    int is_int;
    long long i;
    char *s;
} pacs_index__bind;

/** A query compiled to a WHERE clause (" WHERE ..." or empty) and its parameters. */
typedef struct pacs_index__compiled {
    const pacs_sql_dialect *d;
    pacs_buf where;
    pacs_index__bind *binds;
    size_t n_binds, cap_binds;
    const pacs_query_key **post; /* keys matched in C against stored attributes */
    size_t n_post;
    int need_attrs[4]; /* levels whose stored attributes the row must carry */
    int date_walk;     /* compiled for a walk in date order (pacs_index__compile) */
    char *fts;         /* then: the name trigram table's MATCH text the keys imply, or NULL */
    int unindexed;     /* a key no index serves: a pattern opening with a wildcard (fuzzy
                        * names' word patterns too), a code in a set */
} pacs_index__compiled;

/** Compiles `q`'s keys. With `date_walk`, fuzzy names are matched by their patterns alone,
 *  without the narrowing through the name trigram table (which a walk in date order would
 *  read whole); the MATCH text of that narrowing is kept in `fts` for a count of candidates
 *  (PACS_PROBE_TRIGRAMS). */
pacs_err pacs_index__compile(const pacs_sql_dialect *d, const pacs_query *q, int date_walk,
                             pacs_index__compiled *c, pacs_errinfo *ei);
void pacs_index__compiled_free(pacs_index__compiled *c);

/** How a backend hands over a result row's column `col`: its bytes (text NUL-terminated, an
 *  integer as decimal text), `*len` set, or NULL for SQL NULL. Valid until the next row. */
typedef struct pacs_index__row {
    const char *(*value)(void *ctx, int col, size_t *len);
    void *ctx;
} pacs_index__row;

/** A top-level member of a level's stored attributes, as found in the row's text: its key, and
 *  its value's text, parsed on first use. */
typedef struct pacs_index__member {
    const char *key, *text;
    size_t key_len, text_len;
    json_t *value;
} pacs_index__member;

/** The stored attributes of each level for the current row, read on demand (index_row.c):
 *  their members found in one pass over the text (nothing parsed), each member parsed when
 *  used. A result usually needs one member, or none, of a study's few dozen. */
typedef struct pacs_index__row_attrs {
    pacs_index__member *m[4];
    size_t n[4], cap[4];
    int found[4];     /* the level's members are in m (none when its text is absent or bad) */
    int attrs_col[4]; /* result column of each level's attributes, -1 if not selected */
    pacs_buf scratch; /* the instance's metadata, decompressed */
    int text_ready;   /* 1: scratch holds it; -1: it could not be; 0: not yet */
} pacs_index__row_attrs;

void pacs_index__row_attrs_init(pacs_index__row_attrs *ra);
void pacs_index__row_attrs_free(pacs_index__row_attrs *ra);

/** A find (pacs_index_find) as one SELECT: the SQL, its parameters in `c`, and how to read
 *  its rows. Results past `limit`/`offset` are cut in SQL unless keys are matched in C.
 *  `probe_cap` is non-zero when the plan may be read in date order instead
 *  (pacs_index__find_plan_build). */
typedef struct pacs_index__find_plan {
    pacs_index__compiled c;
    pacs_buf sql;
    size_t n_ret;
    uint32_t tags[PACS_INDEX_MAX_RETURN];
    const char *vrs[PACS_INDEX_MAX_RETURN];
    const pacs_column *cols[PACS_INDEX_MAX_RETURN];
    int result_col[PACS_INDEX_MAX_RETURN];
    uint16_t order[PACS_INDEX_MAX_RETURN]; /* the return keys in tag order */
    char keys[PACS_INDEX_MAX_RETURN][9];   /* each as DICOM JSON spells it, "GGGGEEEE" */
    pacs_index__row_attrs ra;
    size_t limit, offset, skipped, emitted;
    int date_walk; /* the plan reads the study-date index, newest first */
} pacs_index__find_plan;

/**
 * Builds the find of `q`; with `date_walk` (and a dialect that has one) reading the study-date
 * index newest first. A limited study find is answered either way in the same order, and costs
 * either about the number of matches (fetch them, then sort) or about (limit + offset) x
 * studies / matches (walk the dates, filter, stop at the limit). Without statistics of the
 * matches SQLite's planner takes the first even for a name shared by a third of the archive, so
 * pacs_index_find counts the matches first, up to pacs_index__walk_cap, and walks the dates
 * when the count reaches it.
 */
pacs_err pacs_index__find_plan_build(const pacs_sql_dialect *d, const pacs_query *q, int date_walk,
                                     pacs_index__find_plan *p, pacs_errinfo *ei);

/** The ORDER BY of a find at `level` (`instances`: listing instances), as every find and the
 *  date walk's counts read the studies. */
const char *pacs_index__order_clause(const pacs_sql_dialect *d, pacs_level level, int instances);

/* The date walk (index_walk.c). */

/** Whether `p` (built without date_walk) may be read in date order instead: a study find with
 *  a limit, keys in SQL only, and a dialect that can be told to. */
int pacs_index__walk_possible(const pacs_sql_dialect *d, const pacs_query *q,
                              const pacs_index__find_plan *p);

/** The count of matches from which walking the dates costs less than sorting them:
 *  sqrt((limit + offset) x `studies`), where both costs are equal. */
size_t pacs_index__walk_cap(const pacs_query *q, uint64_t studies);

/** The counts a limited study find is planned from (index_read.c's walk_dates), each
 *  "SELECT count(*) FROM (...)" over keys `w` compiled with date_walk: */
typedef enum pacs_index__probe {
    PACS_PROBE_INDEX,    /* matches, up to `cap`, through the index the planner picks */
    PACS_PROBE_TRIGRAMS, /* studies whose name holds `w->fts`'s trigrams (a superset of the
                          * fuzzy matches), up to `cap`, from the trigram table alone; its one
                          * parameter is `w->fts`, not `w`'s */
    PACS_PROBE_NEWEST    /* matches, up to `want`, among the `cap` newest studies: the walk
                          * itself, bounded */
} pacs_index__probe;

/** The count `kind` into `sql` (reset first); parameters are `w`'s unless said otherwise. */
pacs_err pacs_index__probe_sql(const pacs_index__compiled *w, pacs_index__probe kind, size_t cap,
                               size_t want, pacs_buf *sql);

void pacs_index__find_plan_free(pacs_index__find_plan *p);

/**
 * Whether the current row is a result: 1 when it is (read it with pacs_find_row_*); 0 when it
 * does not match (or is skipped by the offset); -1 when the limit is reached (stop reading).
 */
int pacs_index__find_row(pacs_index__find_plan *p, const pacs_query *q, const pacs_index__row *row);

/** A find's result row (index.h's pacs_find_row): its plan, query and backend row. */
struct pacs_find_row {
    pacs_index__find_plan *plan;
    const pacs_query *q;
    const pacs_index__row *row;
};

/** An instance listing (pacs_index_instances, removal) as one SELECT. Its columns are: pk,
 *  study, series, SOP instance, SOP class, transfer syntax, object, size, frames, pixel
 *  layout, metadata, source AE, received, then attributes as `ra.attrs_col` says. */
typedef struct pacs_index__inst_plan {
    pacs_index__compiled c;
    pacs_buf sql;
    pacs_index__row_attrs ra;
} pacs_index__inst_plan;

#define PACS_INDEX__COL_PK 0
#define PACS_INDEX__COL_METADATA 10

pacs_err pacs_index__inst_plan_build(const pacs_sql_dialect *d, const pacs_query *q,
                                     pacs_index__inst_plan *p, pacs_errinfo *ei);
void pacs_index__inst_plan_free(pacs_index__inst_plan *p);

/** Whether the row passes the keys matched in C. */
int pacs_index__inst_row_matches(pacs_index__inst_plan *p, const pacs_query *q,
                                 const pacs_index__row *row);

/** Fills `rec` from the row (metadata decompressed into `meta` with PACS_REC_METADATA). */
struct pacs_instance_rec;
pacs_err pacs_index__inst_row_rec(const pacs_index__row *row, unsigned flags, pacs_buf *meta,
                                  struct pacs_instance_rec *rec, pacs_errinfo *ei);

/* ---- ingest (index_fields.c) ---- */

/** The column values taken from an instance's DICOM JSON (each NULL when absent). */
typedef struct pacs_index__fields {
    char *patient_id, *issuer, *name, *name_ci, *name_fold, *birth_date, *sex;
    char *study_date, *study_time, *accession, *study_id, *ref_phys, *ref_phys_ci, *ref_phys_fold,
        *study_desc;
    char *modality, *series_number, *series_desc, *body_part, *series_date, *series_time, *pps_date,
        *pps_time;
    char *instance_number, *frames, *rows, *columns, *bits, *content_date, *content_time;
} pacs_index__fields;

void pacs_index__fields_load(pacs_index__fields *f, const json_t *instance);
void pacs_index__fields_free(pacs_index__fields *f);

/** The stored attributes of `level` as compact JSON text (caller frees); NULL when out of
 *  memory. */
char *pacs_index__level_attrs_text(const json_t *instance, pacs_level level);

/** What a put stores from an instance's JSON: its column values, each level's stored
 *  attributes as JSON text and the metadata compressed. Made in the storing thread before the
 *  put is queued (pacs_index_put): the writer is the one thread every store waits for. */
typedef struct pacs_index__texts {
    pacs_index__fields fields;
    char *attrs[3]; /* patient, study, series */
    void *meta;
    size_t meta_len;
} pacs_index__texts;

pacs_err pacs_index__texts_make(const json_t *instance, pacs_index__texts *t, pacs_errinfo *ei);
void pacs_index__texts_free(pacs_index__texts *t);

/** A decimal integer's value, or 0 in `*ok` when `s` is NULL or not a number. */
long long pacs_index__int_value(const char *s, int *ok);

/** The instance's JSON, compact and zstd-compressed, as stored. */
pacs_err pacs_index__compress_json(const json_t *json, void **out, size_t *out_len,
                                   pacs_errinfo *ei);

/** Decompresses stored metadata into `b` (reset first); the text is NUL-terminated. */
pacs_err pacs_index__decompress(const void *z, size_t zn, pacs_buf *b, pacs_errinfo *ei);

#endif
