// SPDX-License-Identifier: MIT
/*
 * Copying the HIS's patients, their identifiers, the orders, the MPPS instances and the studies
 * reconciled to orders (his_studies) from one
 * index into another (orders_store.h, pacs_orders__copy): they are in no object, so `pacs
 * migrate` (pacs_index_copy) and a rebuilt index (`pacs reindex`) carry them over this way.
 * Rows get new keys in the destination; the links between them (an identifier's patient, a
 * merge's survivor, an order's patient, an MPPS instance's or a study link's order) are mapped
 * to those keys.
 * Everything is read into memory first (a hospital's orders, not its images), then written in
 * one job of the destination's writer. Runs on the calling thread.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "storage/orders_store.h"

typedef struct pat_row {
    long long pk, merged_into;
    char name[324], birth_date[9], sex[2];
} pat_row;

typedef struct id_row {
    long long patient;
    char system[17], value[65];
} id_row;

typedef struct mpps_row {
    long long order;
    long long status;
    char uid[65];
    char *attrs;
} mpps_row;

typedef struct link_row {
    long long order;
    char study_uid[65];
} link_row;

typedef struct rows {
    pat_row *pat;
    id_row *ids;
    pacs_order *ord;
    mpps_row *mpps;
    link_row *links;
    size_t n_pat, n_ids, n_ord, n_mpps, n_links;
} rows;

/* Room for one more element of `*v` (`n` used, element size `size`): NULL when out of memory. */
static void *grow(void **v, size_t n, size_t size)
{
    if ((n & (n - 1)) == 0) { /* n is 0 or a power of two: double */
        void *more = realloc(*v, (n ? 2 * n : 1) * size);
        if (!more) {
            return NULL;
        }
        *v = more;
    }
    return (char *)*v + n * size;
}

static void text(pacs_index *idx, pacs_db_stmt *st, int col, char *dst, size_t cap)
{
    size_t len = 0;
    const char *v = idx->db->column(st, col, &len);
    snprintf(dst, cap, "%.*s", v ? (int)len : 0, v ? v : "");
}

static pacs_err read_all(pacs_index *idx, pacs_db *db, void *ctx, pacs_errinfo *ei)
{
    rows *r = ctx;
    static const char *const sql[] = {
        "SELECT pk, merged_into, name, birth_date, sex FROM his_patients ORDER BY pk",
        "SELECT patient_pk, system, value FROM his_patient_ids",
        "SELECT pk FROM orders ORDER BY pk",
        "SELECT order_pk, status, uid, attrs FROM mpps",
        "SELECT order_pk, study_uid FROM his_studies",
    };
    static const int slots[] = {PACS_SQL_ORD_COPY_PATIENTS, PACS_SQL_ORD_COPY_IDS,
                                PACS_SQL_ORD_COPY_ORDERS, PACS_SQL_ORD_COPY_MPPS,
                                PACS_SQL_ORD_COPY_LINKS};
    long long *order_keys = NULL;
    size_t n_keys = 0;
    pacs_err err = PACS_OK;
    for (int t = 0; t < 5 && err == PACS_OK; t++) {
        pacs_db_stmt *st = pacs_index__stmt(idx, db, slots[t], sql[t], ei);
        if (!st) {
            err = ei->code;
            break;
        }
        int rc;
        while ((rc = idx->db->step(st, ei)) == 1) {
            if (t == 0) {
                pat_row *p = grow((void **)&r->pat, r->n_pat, sizeof *p);
                if (!p) {
                    break;
                }
                p->pk = idx->db->column_int(st, 0);
                p->merged_into = idx->db->column_int(st, 1);
                text(idx, st, 2, p->name, sizeof p->name);
                text(idx, st, 3, p->birth_date, sizeof p->birth_date);
                text(idx, st, 4, p->sex, sizeof p->sex);
                r->n_pat++;
            } else if (t == 1) {
                id_row *i = grow((void **)&r->ids, r->n_ids, sizeof *i);
                if (!i) {
                    break;
                }
                i->patient = idx->db->column_int(st, 0);
                text(idx, st, 1, i->system, sizeof i->system);
                text(idx, st, 2, i->value, sizeof i->value);
                r->n_ids++;
            } else if (t == 2) {
                long long *k = grow((void **)&order_keys, n_keys, sizeof *k);
                if (!k) {
                    break;
                }
                *k = idx->db->column_int(st, 0);
                n_keys++;
            } else if (t == 4) {
                link_row *l = grow((void **)&r->links, r->n_links, sizeof *l);
                if (!l) {
                    break;
                }
                l->order = idx->db->column_int(st, 0);
                text(idx, st, 1, l->study_uid, sizeof l->study_uid);
                r->n_links++;
            } else {
                mpps_row *m = grow((void **)&r->mpps, r->n_mpps, sizeof *m);
                if (!m) {
                    break;
                }
                m->order = idx->db->column_int(st, 0);
                m->status = idx->db->column_int(st, 1);
                text(idx, st, 2, m->uid, sizeof m->uid);
                size_t len = 0;
                const char *a = idx->db->column(st, 3, &len);
                m->attrs = strndup(a ? a : "{}", a ? len : 2);
                if (!m->attrs) {
                    break;
                }
                r->n_mpps++;
            }
        }
        idx->db->done(st);
        if (rc == 1) {
            err = pacs_errf(ei, PACS_ENOMEM, "out of memory");
        } else if (rc < 0) {
            err = ei->code != PACS_OK ? ei->code : PACS_EDB;
        }
    }
    /* Each order whole, by key (the order rows' reader is orders.c's). */
    for (size_t i = 0; i < n_keys && err == PACS_OK; i++) {
        pacs_order *o = grow((void **)&r->ord, r->n_ord, sizeof *o);
        if (!o) {
            err = pacs_errf(ei, PACS_ENOMEM, "out of memory");
            break;
        }
        err = pacs_orders__get(idx, db, NULL, NULL, NULL, NULL, order_keys[i], o, ei);
        r->n_ord += err == PACS_OK;
    }
    free(order_keys);
    return err;
}

/* The destination's key of source patient `pk` (0 when unknown), by the parallel `new_pk`. */
static long long mapped(const rows *r, const long long *new_pk, long long pk)
{
    for (size_t i = 0; i < r->n_pat; i++) {
        if (r->pat[i].pk == pk) {
            return new_pk[i];
        }
    }
    return 0;
}

/* The destination's key of source order `pk` (0 when unknown), by the parallel `new_ord`. */
static long long mapped_order(const rows *r, const long long *new_ord, long long pk)
{
    for (size_t k = 0; k < r->n_ord; k++) {
        if (r->ord[k].key == pk) {
            return new_ord[k];
        }
    }
    return 0;
}

static pacs_err write_all(pacs_index *idx, pacs_db *db, void *ctx, pacs_errinfo *ei)
{
    rows *r = ctx;
    long long *new_pat = calloc(r->n_pat + 1, sizeof *new_pat);
    long long *new_ord = calloc(r->n_ord + 1, sizeof *new_ord);
    pacs_err err = new_pat && new_ord ? PACS_OK : pacs_errf(ei, PACS_ENOMEM, "out of memory");
    for (size_t i = 0; i < r->n_pat && err == PACS_OK; i++) {
        pacs_index__result res;
        err = pacs_index__run(idx, db, PACS_SQL_ORD_PAT_ADD, PACS_ORDERS__SQL_PAT_ADD, &res, 1, ei,
                              "sss", r->pat[i].name, r->pat[i].birth_date, r->pat[i].sex);
        new_pat[i] = res.v[0];
        if (err == PACS_OK) {
            err = pacs_orders__name_words(idx, db, new_pat[i], r->pat[i].name, ei);
        }
    }
    for (size_t i = 0; i < r->n_pat && err == PACS_OK; i++) {
        if (r->pat[i].merged_into) {
            err = pacs_index__run(idx, db, PACS_SQL_ORD_MERGE, PACS_ORDERS__SQL_MERGE, NULL, 0, ei,
                                  "ii", new_pat[i], mapped(r, new_pat, r->pat[i].merged_into));
        }
    }
    for (size_t i = 0; i < r->n_ids && err == PACS_OK; i++) {
        err = pacs_index__run(idx, db, PACS_SQL_ORD_ID_ADD, PACS_ORDERS__SQL_ID_ADD, NULL, 0, ei,
                              "ssi", r->ids[i].system, r->ids[i].value,
                              mapped(r, new_pat, r->ids[i].patient));
    }
    for (size_t i = 0; i < r->n_ord && err == PACS_OK; i++) {
        pacs_order o = r->ord[i];
        o.key = 0;
        o.patient = mapped(r, new_pat, o.patient);
        err = pacs_orders__write(idx, db, &o, ei);
        new_ord[i] = o.key;
    }
    for (size_t i = 0; i < r->n_mpps && err == PACS_OK; i++) {
        long long order = mapped_order(r, new_ord, r->mpps[i].order);
        err = pacs_index__run(idx, db, PACS_SQL_MPPS_ADD, PACS_ORDERS__SQL_MPPS_ADD, NULL, 0, ei,
                              "siis", r->mpps[i].uid, order, r->mpps[i].status, r->mpps[i].attrs);
        /* The series it performed, from its attributes (as N-CREATE and N-SET record them). */
        json_t *attrs = err == PACS_OK ? json_loads(r->mpps[i].attrs, 0, NULL) : NULL;
        if (attrs) {
            err = pacs_orders__mpps_series(idx, db, order, attrs, ei);
        }
        json_decref(attrs);
    }
    for (size_t i = 0; i < r->n_links && err == PACS_OK; i++) {
        err = pacs_index__run(idx, db, PACS_SQL_LINK_ADD, PACS_ORDERS__SQL_LINK_ADD, NULL, 0, ei,
                              "si", r->links[i].study_uid,
                              mapped_order(r, new_ord, r->links[i].order));
    }
    free(new_pat);
    free(new_ord);
    return err;
}

pacs_err pacs_orders__copy(pacs_index *src, pacs_index *dst, pacs_errinfo *ei)
{
    rows r;
    memset(&r, 0, sizeof r);
    pacs_err err = pacs_index__read(src, read_all, &r, ei);
    if (err == PACS_OK && (r.n_pat || r.n_mpps || r.n_links)) {
        err = pacs_index__write(dst, write_all, &r, ei);
    }
    for (size_t i = 0; i < r.n_mpps; i++) {
        free(r.mpps[i].attrs);
    }
    free(r.pat);
    free(r.ids);
    free(r.ord);
    free(r.mpps);
    free(r.links);
    return err;
}
