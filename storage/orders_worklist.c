// SPDX-License-Identifier: MIT
/*
 * The Modality Worklist over the orders (orders.h, pacs_orders_worklist): the scheduled steps,
 * narrowed in the index by the query's exact keys, start date range and a word of the patient's
 * name (the words of each patient's folded name are kept here, pacs_orders__name_words), each
 * built into its worklist item with its patient and matched in full (orders_item.c). A
 * modality asking for its station's day reads that day, a query by name the steps of the
 * patients with that word, not every step (pacs-bench-his measures it).
 *
 * Load: one C-FIND from each modality every few minutes; the steps read are held in memory
 * for one query. Thread-safe: each call runs on a pooled reader of the index.
 */
#include <stdlib.h>
#include <string.h>

#include "pacs/base/buf.h"
#include "storage/archive_internal.h"
#include "storage/fold.h"
#include "storage/index_core.h"
#include "storage/orders_item.h"
#include "storage/orders_store.h"

typedef struct wl_job {
    pacs_archive *a;
    const pacs_query *q;
    int ascii;
    pacs_find_cb cb;
    void *ctx;
} wl_job;

/* The worklist's SQL: the scheduled steps, narrowed to those the query's exact keys and date
 * range can match, so that a modality asking for its own day reads its own day and not every
 * step (what pacs_orders__item_matches keeps afterwards is unchanged: this is a superset). */
#define WL_ARGS_MAX 16

typedef struct wl_sql {
    pacs_buf text;
    const char *args[WL_ARGS_MAX]; /* $2, $3, ...; $1 is the status */
    int n;
    char word[324], word_end[330]; /* the name word looked up, and its range's end */
} wl_sql;

/* The largest code point (U+10FFFF): appended to a word, the end of the range of the words it
 * begins, in the byte order both backends compare these columns in. */
#define WORD_END "\xf4\x8f\xbf\xbf"

pacs_err pacs_orders__name_words(pacs_index *idx, pacs_db *db, int64_t pk, const char *name,
                                 pacs_errinfo *ei)
{
    char *folded = pacs_fold_name(name ? name : "");
    if (!folded) {
        return pacs_errf(ei, PACS_ENOMEM, "out of memory");
    }
    pacs_err err = pacs_index__run(idx, db, PACS_SQL_ORD_WORDS_DEL,
                                   "DELETE FROM his_patient_words WHERE patient_pk=$1", NULL, 0, ei,
                                   "i", (long long)pk);
    char *save = NULL;
    for (char *w = strtok_r(folded, " ", &save); w && err == PACS_OK;
         w = strtok_r(NULL, " ", &save)) {
        err = pacs_index__run(idx, db, PACS_SQL_ORD_WORD_ADD,
                              "INSERT INTO his_patient_words(word, patient_pk) VALUES($1, $2)"
                              " ON CONFLICT DO NOTHING",
                              NULL, 0, ei, "si", w, (long long)pk);
    }
    free(folded);
    if (err == PACS_OK) {
        err = pacs_index__run(idx, db, PACS_SQL_ORD_WORDS_SET,
                              "UPDATE his_patients SET words=1 WHERE pk=$1", NULL, 0, ei, "i",
                              (long long)pk);
    }
    return err;
}

/* A word that every name the PatientName key `k` matches has a word beginning with, as the
 * worklist matches names (orders_item.c): an ASCII value matches when each of its folded words
 * begins a word of the folded name (its longest is taken); any other matches the case-folded
 * name as a pattern, whose folded literal start's first word begins the name's first word.
 * "" when no word narrows it (a value that starts with a wildcard). */
static void name_word(const pacs_query_key *k, char *out, size_t cap)
{
    out[0] = '\0';
    if (!k->value || (k->match != PACS_MATCH_SINGLE && k->match != PACS_MATCH_WILDCARD)) {
        return;
    }
    int ascii = pacs_is_ascii(k->value);
    char lit[324];
    snprintf(lit, sizeof lit, "%s", k->value);
    for (char *p = lit; *p; p++) {
        if (*p == '*' || *p == '?') {
            if (!ascii) {
                *p = '\0';
                break;
            }
            *p = ' ';
        }
    }
    char *folded = pacs_fold_name(lit);
    char *save = NULL;
    for (char *w = folded ? strtok_r(folded, " ", &save) : NULL; w;
         w = ascii ? strtok_r(NULL, " ", &save) : NULL) {
        if (strlen(w) > strlen(out) && strlen(w) < cap) {
            snprintf(out, cap, "%s", w);
        }
    }
    free(folded);
}

/* " AND {before}$n{after}" with `value` bound to $n; nothing for a NULL value. */
static void wl_where(wl_sql *w, const char *before, const char *value, const char *after)
{
    if (value && w->n < WL_ARGS_MAX) {
        w->args[w->n++] = value;
        pacs_buf_printf(&w->text, " AND %s$%d%s", before, w->n + 1, after);
    }
}

/* The value of an exact (single value) key, else NULL. */
static const char *wl_single(const pacs_query *q, uint32_t tag)
{
    const pacs_query_key *k = q ? pacs_query_find_key(q, tag) : NULL;
    return k && k->match == PACS_MATCH_SINGLE ? k->value : NULL;
}

static pacs_err wl_compile(const pacs_archive *a, const pacs_query *q, wl_sql *w, pacs_errinfo *ei)
{
    pacs_buf_init(&w->text, 1u << 16);
    w->n = 0;
    w->word[0] = '\0';
    pacs_buf_printf(&w->text, "SELECT " PACS_ORDERS__COLS " FROM orders WHERE status=$1");
    const pacs_query_key *seq = pacs_query_find_key(q, 0x00400100u);
    const pacs_query *sps = seq && seq->match == PACS_MATCH_SEQUENCE ? seq->item : NULL;
    wl_where(w, "accession=", wl_single(q, 0x00080050u), "");
    wl_where(w, "requested_procedure_id=", wl_single(q, 0x00401001u), "");
    wl_where(w, "study_uid=", wl_single(q, 0x0020000Du), "");
    /* A PatientID is a value under one of the systems: each is looked up by the key
     * (system, value). */
    const char *patient_id = wl_single(q, 0x00100020u);
    if (patient_id && a->n_id_systems > 0 && w->n + (int)a->n_id_systems < WL_ARGS_MAX) {
        pacs_buf_printf(&w->text,
                        " AND patient_pk IN (SELECT patient_pk FROM his_patient_ids"
                        " WHERE value=$%d AND system IN (",
                        w->n + 2);
        w->args[w->n++] = patient_id;
        for (size_t i = 0; i < a->n_id_systems; i++) {
            pacs_buf_printf(&w->text, "%s$%d", i ? ", " : "", w->n + 2);
            w->args[w->n++] = a->id_systems[i];
        }
        pacs_buf_printf(&w->text, "))");
    }
    /* A name: the patients with a word it begins (and any whose words are not written). */
    const pacs_query_key *name = pacs_query_find_key(q, 0x00100010u);
    if (name) {
        name_word(name, w->word, sizeof w->word);
    }
    if (w->word[0] && w->n + 2 <= WL_ARGS_MAX) {
        snprintf(w->word_end, sizeof w->word_end, "%s" WORD_END, w->word);
        pacs_buf_printf(&w->text,
                        " AND (patient_pk IN (SELECT patient_pk FROM his_patient_words"
                        " WHERE word>=$%d AND word<$%d) OR patient_pk IN"
                        " (SELECT pk FROM his_patients WHERE words=0))",
                        w->n + 2, w->n + 3);
        w->args[w->n++] = w->word;
        w->args[w->n++] = w->word_end;
    }
    wl_where(w, "station_aet=", wl_single(sps, 0x00400001u), "");
    wl_where(w, "modality=", wl_single(sps, 0x00080060u), "");
    wl_where(w, "sps_id=", wl_single(sps, 0x00400009u), "");
    const pacs_query_key *date = sps ? pacs_query_find_key(sps, 0x00400002u) : NULL;
    if (date && date->match == PACS_MATCH_SINGLE) {
        wl_where(w, "start_date=", date->value, "");
    } else if (date && date->match == PACS_MATCH_RANGE) {
        wl_where(w, "start_date>=", date->range_lo, "");
        wl_where(w, "start_date<=", date->range_hi, "");
    }
    pacs_err err = pacs_buf_printf(&w->text, " ORDER BY start_date, start_time, pk");
    if (err != PACS_OK) {
        pacs_buf_free(&w->text);
        return pacs_errf(ei, PACS_ENOMEM, "out of memory");
    }
    return PACS_OK;
}

static pacs_err do_worklist(pacs_index *idx, pacs_db *db, void *ctx, pacs_errinfo *ei)
{
    wl_job *j = ctx;
    /* The scheduled steps first (a connection streams one result at a time), then each with
     * its patient. */
    pacs_order *rows = NULL;
    size_t n = 0, cap = 0;
    wl_sql w;
    pacs_err err = wl_compile(j->a, j->q, &w, ei);
    if (err != PACS_OK) {
        return err;
    }
    pacs_db_stmt *st = NULL;
    err = idx->db->prepare(db, -1, w.text.data, &st, ei);
    pacs_buf_free(&w.text);
    if (err != PACS_OK) {
        return err;
    }
    idx->db->bind_int(st, 1, PACS_ORDER_SCHEDULED);
    for (int i = 0; i < w.n; i++) {
        idx->db->bind_text(st, i + 2, w.args[i]);
    }
    int rc;
    while ((rc = idx->db->step(st, ei)) == 1) {
        if (n == cap) {
            cap = cap ? 2 * cap : 64;
            pacs_order *more = realloc(rows, cap * sizeof *rows);
            if (!more) {
                err = pacs_errf(ei, PACS_ENOMEM, "out of memory");
                break;
            }
            rows = more;
        }
        pacs_orders__read(idx, st, &rows[n++]);
    }
    idx->db->done(st);
    if (err == PACS_OK && rc < 0) {
        err = ei->code != PACS_OK ? ei->code : PACS_EDB;
    }
    for (size_t i = 0; i < n && err == PACS_OK; i++) {
        pacs_patient p;
        err = pacs_orders__patient_load(idx, db, rows[i].patient, &p, ei);
        if (err != PACS_OK) {
            break;
        }
        json_t *item =
            pacs_orders__item_json(&rows[i], &p, j->a->id_systems, j->a->n_id_systems, j->ascii);
        if (!item) {
            err = pacs_errf(ei, PACS_ENOMEM, "out of memory");
            break;
        }
        int stop = pacs_orders__item_matches(j->q, item) && j->cb(j->ctx, item);
        json_decref(item);
        if (stop) {
            break;
        }
    }
    free(rows);
    return err;
}

pacs_err pacs_orders_worklist(pacs_archive *a, const pacs_query *q, int ascii_names,
                              pacs_find_cb cb, void *ctx, pacs_errinfo *ei)
{
    wl_job j = {a, q, ascii_names, cb, ctx};
    return pacs_index__read(a->index, do_worklist, &j, ei);
}
