// SPDX-License-Identifier: MIT
/*
 * A find's result rows (index_sql.h, index.h's pacs_find_row): the keys no column covers matched
 * in C against the stored attributes, and a result taken as a jansson object (C-FIND, FHIR,
 * the archive's own finds) or written as DICOM JSON text (QIDO-RS). Both read the same
 * return keys the same way: a column's value, else the stored attribute, else an empty one.
 *
 * Load: every result of every find. A study's stored attributes are a few hundred bytes of
 * JSON of which a result usually needs one member or none, so the text is not parsed: its
 * members are found in one pass and parsed one by one when asked for. The text writer builds
 * no object: it merges the return keys (in tag order, sorted once per plan), the stored
 * members (for includefield=all) and the caller's attributes straight into the answer.
 * Thread-safe: a plan and its rows belong to one call.
 */
#define _GNU_SOURCE /* memmem */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "pacs/dicom/dcm.h"
#include "pacs/dicom/json_write.h"
#include "storage/index.h"
#include "storage/index_sql.h"

#define TAG_CHARSET 0x00080005u

/* ---- stored attributes, member by member ---- */

void pacs_index__row_attrs_init(pacs_index__row_attrs *ra)
{
    memset(ra, 0, sizeof *ra);
    pacs_buf_init(&ra->scratch, 64u << 20);
    for (int l = 0; l < 4; l++) {
        ra->attrs_col[l] = -1;
    }
}

static void row_attrs_clear(pacs_index__row_attrs *ra)
{
    for (int l = 0; l < 4; l++) {
        for (size_t i = 0; i < ra->n[l]; i++) {
            json_decref(ra->m[l][i].value);
        }
        ra->n[l] = 0;
        ra->found[l] = 0;
    }
    ra->text_ready = 0;
}

void pacs_index__row_attrs_free(pacs_index__row_attrs *ra)
{
    row_attrs_clear(ra);
    for (int l = 0; l < 4; l++) {
        free(ra->m[l]);
        ra->m[l] = NULL;
    }
    pacs_buf_free(&ra->scratch);
}

static int is_ws(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static const char *skip_ws(const char *p, const char *end)
{
    while (p < end && is_ws(*p)) {
        p++;
    }
    return p;
}

/* Past the string that opens at `p` (on its quote), or NULL. */
static const char *skip_string(const char *p, const char *end)
{
    for (p++; p < end; p++) {
        if (*p == '\\') {
            p++;
        } else if (*p == '"') {
            return p + 1;
        }
    }
    return NULL;
}

/* Past the value that starts at `p`: a string by its quotes, an object or array by its
 * brackets' depth, anything else up to the next delimiter. NULL when the text ends inside. */
static const char *skip_value(const char *p, const char *end)
{
    size_t depth = 0;
    while (p < end) {
        if (*p == '"') {
            p = skip_string(p, end);
            if (!p || depth == 0) {
                return p;
            }
            continue;
        }
        if (*p == '{' || *p == '[') {
            depth++;
        } else if (*p == '}' || *p == ']') {
            if (depth == 0) {
                return p;
            }
            if (--depth == 0) {
                return p + 1;
            }
        } else if (depth == 0 && (*p == ',' || is_ws(*p))) {
            return p;
        }
        p++;
    }
    return depth == 0 ? p : NULL;
}

static int add_member(pacs_index__row_attrs *ra, int l, const char *key, size_t key_len,
                      const char *text, size_t text_len)
{
    if (ra->n[l] == ra->cap[l]) {
        size_t cap = ra->cap[l] ? ra->cap[l] * 2 : 32;
        pacs_index__member *m = realloc(ra->m[l], cap * sizeof *m);
        if (!m) {
            return -1;
        }
        ra->m[l] = m;
        ra->cap[l] = cap;
    }
    ra->m[l][ra->n[l]++] = (pacs_index__member){key, text, key_len, text_len, NULL};
    return 0;
}

/* Finds the members of the JSON object text `s`; -1 when it is not one. */
static int find_members(pacs_index__row_attrs *ra, int l, const char *s, size_t n)
{
    const char *end = s + n, *p = skip_ws(s, end);
    if (p == end || *p != '{') {
        return -1;
    }
    p = skip_ws(p + 1, end);
    if (p < end && *p == '}') {
        return 0;
    }
    for (;;) {
        if (p == end || *p != '"') {
            return -1;
        }
        const char *key = p + 1;
        p = skip_string(p, end);
        if (!p) {
            return -1;
        }
        size_t key_len = (size_t)(p - 1 - key);
        p = skip_ws(p, end);
        if (p == end || *p != ':') {
            return -1;
        }
        const char *v = skip_ws(p + 1, end);
        p = skip_value(v, end);
        if (!p || p == v || add_member(ra, l, key, key_len, v, (size_t)(p - v)) != 0) {
            return -1;
        }
        p = skip_ws(p, end);
        if (p < end && *p == ',') {
            p = skip_ws(p + 1, end);
            continue;
        }
        return p < end && *p == '}' ? 0 : -1;
    }
}

/* The text of `level`'s stored attributes in the current row (decompressed for an instance),
 * or NULL when not selected or absent. */
static const char *level_text(pacs_index__row_attrs *ra, const pacs_index__row *row, int level,
                              size_t *n)
{
    *n = 0;
    const char *v = ra->attrs_col[level] < 0 ? NULL : row->value(row->ctx, ra->attrs_col[level], n);
    if (v && level == PACS_LEVEL_INSTANCE) {
        if (!ra->text_ready) {
            ra->text_ready = pacs_index__decompress(v, *n, &ra->scratch, NULL) == PACS_OK ? 1 : -1;
        }
        v = ra->text_ready > 0 ? ra->scratch.data : NULL;
        *n = ra->text_ready > 0 ? ra->scratch.len : 0;
    }
    return v;
}

/* Finds the members of `level`'s stored attributes in the current row (none when there is no
 * text or it is not an object). */
static void level_members(pacs_index__row_attrs *ra, const pacs_index__row *row, int level)
{
    if (ra->found[level]) {
        return;
    }
    ra->found[level] = 1;
    size_t n = 0;
    const char *v = level_text(ra, row, level, &n);
    if (v && find_members(ra, level, v, n) != 0) {
        ra->n[level] = 0;
    }
}

/* The member's value, parsed now if not yet; NULL when its text is not JSON. */
static const json_t *member_value(pacs_index__member *m)
{
    if (!m->value) {
        m->value = json_loadb(m->text, m->text_len, JSON_DECODE_ANY, NULL);
    }
    return m->value;
}

/* Stored attribute `key` of `level` in the current row, or NULL. */
static const json_t *stored_attr(pacs_index__row_attrs *ra, const pacs_index__row *row, int level,
                                 const char *key)
{
    if (level < 0) {
        return NULL;
    }
    if (!ra->found[level]) {
        /* Most asked-for attributes are absent: a key that is nowhere in the text, not even
         * inside a sequence, needs no member found. */
        char quoted[10] = {'"',    key[0], key[1], key[2], key[3],
                           key[4], key[5], key[6], key[7], '"'};
        size_t n = 0;
        const char *t = level_text(ra, row, level, &n);
        if (!t || !memmem(t, n, quoted, sizeof quoted)) {
            return NULL;
        }
    }
    level_members(ra, row, level);
    for (size_t i = 0; i < ra->n[level]; i++) {
        pacs_index__member *m = &ra->m[level][i];
        if (m->key_len == 8 && memcmp(m->key, key, 8) == 0) {
            return member_value(m);
        }
    }
    return NULL;
}

static int post_filters_pass(const pacs_index__compiled *c, const pacs_query *q,
                             pacs_index__row_attrs *ra, const pacs_index__row *row)
{
    for (size_t i = 0; i < c->n_post; i++) {
        const pacs_query_key *k = c->post[i];
        char key[9];
        pacs_dcm_tag_key(k->tag, key);
        const json_t *a =
            stored_attr(ra, row, pacs_catalog_attrs_level(pacs_query_level(q), k->tag), key);
        if (!pacs_query_key_matches(k, a, pacs_query_fuzzy(q))) {
            return 0;
        }
    }
    return 1;
}

int pacs_index__find_row(pacs_index__find_plan *p, const pacs_query *q, const pacs_index__row *row)
{
    row_attrs_clear(&p->ra);
    if (p->c.n_post) {
        if (!post_filters_pass(&p->c, q, &p->ra, row)) {
            return 0;
        }
        if (p->skipped < p->offset) {
            p->skipped++;
            return 0;
        }
        if (p->limit && p->emitted >= p->limit) {
            return -1;
        }
    }
    p->emitted++;
    return 1;
}

int pacs_index__inst_row_matches(pacs_index__inst_plan *p, const pacs_query *q,
                                 const pacs_index__row *row)
{
    row_attrs_clear(&p->ra);
    return p->c.n_post == 0 || post_filters_pass(&p->c, q, &p->ra, row);
}

/* The level whose stored attributes hold everything of the row (includefield=all). */
static int all_level(const pacs_query *q)
{
    pacs_level level = pacs_query_level(q);
    return level == PACS_LEVEL_PATIENT ? 0 : (int)level;
}

const char *pacs_find_row_uid(pacs_find_row *fr, pacs_level level)
{
    const pacs_index__find_plan *p = fr->plan;
    uint32_t tag = pacs_catalog_unique_key(level);
    for (size_t i = 0; i < p->n_ret; i++) {
        if (p->tags[i] == tag && p->cols[i]) {
            size_t n = 0;
            const char *v = fr->row->value(fr->row->ctx, p->result_col[i], &n);
            return v && *v ? v : NULL;
        }
    }
    return NULL;
}

/* ---- a result as a jansson object ---- */

/* The DICOM JSON attribute for a column value. */
static json_t *column_attr(const pacs_column *col, const pacs_index__row *row, int i)
{
    json_t *attr = json_object();
    json_object_set_new(attr, "vr", json_string(col->vr));
    size_t len = 0;
    const char *t = row->value(row->ctx, i, &len);
    if (!t) {
        return attr;
    }
    json_t *values = json_array();
    if (col->kind == PACS_COL_INT) {
        json_array_append_new(values, json_integer(strtoll(t, NULL, 10)));
    } else if (col->kind == PACS_COL_MULTI) {
        const char *p = t;
        while (*p) {
            while (*p == '\\') {
                p++;
            }
            const char *e = strchr(p, '\\');
            if (!e) {
                e = p + strlen(p);
            }
            if (e > p) {
                json_array_append_new(values, json_stringn(p, (size_t)(e - p)));
            }
            p = e;
        }
    } else if (col->kind == PACS_COL_PN) {
        static const char *const groups[] = {"Alphabetic", "Ideographic", "Phonetic"};
        json_t *pn = json_object();
        const char *p = t;
        for (int g = 0; g < 3 && p; g++) {
            const char *e = strchr(p, '=');
            size_t n = e ? (size_t)(e - p) : strlen(p);
            if (n > 0) {
                json_object_set_new(pn, groups[g], json_stringn(p, n));
            }
            p = e ? e + 1 : NULL;
        }
        json_array_append_new(values, pn);
    } else if (*t) {
        json_array_append_new(values, json_string(t));
    }
    if (json_array_size(values) > 0) {
        json_object_set_new(attr, "Value", values);
    } else {
        json_decref(values);
    }
    return attr;
}

json_t *pacs_find_row_json(pacs_find_row *fr)
{
    pacs_index__find_plan *p = fr->plan;
    pacs_level level = pacs_query_level(fr->q);
    json_t *r = json_object();
    for (size_t i = 0; i < p->n_ret && r; i++) {
        char key[9];
        pacs_dcm_tag_key(p->tags[i], key);
        json_t *attr = NULL;
        if (p->cols[i]) {
            attr = column_attr(p->cols[i], fr->row, p->result_col[i]);
        } else {
            const json_t *a =
                stored_attr(&p->ra, fr->row, pacs_catalog_attrs_level(level, p->tags[i]), key);
            if (a) {
                attr = json_deep_copy(a);
            } else {
                attr = json_object();
                json_object_set_new(attr, "vr", json_string(p->vrs[i]));
            }
        }
        if (json_object_set_new(r, key, attr) != 0) {
            json_decref(r);
            r = NULL;
        }
    }
    if (r && pacs_query_includes_all(fr->q)) {
        int l = all_level(fr->q);
        level_members(&p->ra, fr->row, l);
        for (size_t i = 0; i < p->ra.n[l]; i++) {
            pacs_index__member *m = &p->ra.m[l][i];
            const json_t *a = member_value(m);
            if (a && !json_object_getn(r, m->key, m->key_len)) {
                json_object_setn(r, m->key, m->key_len, (json_t *)a);
            }
        }
    }
    return r;
}

/* ---- a result as DICOM JSON text ---- */

/* Whether the text holds a non-ASCII byte (eight at a time). */
static int non_ascii(const char *s, size_t n)
{
    uint64_t any = 0, w;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        memcpy(&w, s + i, 8);
        any |= w;
    }
    for (; i < n; i++) {
        any |= (unsigned char)s[i];
    }
    return (any & 0x8080808080808080ull) != 0;
}

/* Whether `n` bytes are valid UTF-8 (what jansson takes as a string). */
static int is_utf8(const char *s, size_t n)
{
    const utf8proc_uint8_t *p = (const utf8proc_uint8_t *)s, *end = p + n;
    if (!non_ascii(s, n)) {
        return 1;
    }
    while (p < end) {
        if (*p < 0x80) {
            p++;
            continue;
        }
        utf8proc_int32_t cp;
        utf8proc_ssize_t k = utf8proc_iterate(p, end - p, &cp);
        if (k <= 0) {
            return 0;
        }
        p += k;
    }
    return 1;
}

static void cut(pacs_buf *b, size_t len)
{
    b->len = len;
    if (b->data) {
        b->data[len] = '\0';
    }
}

static pacs_err put_text(pacs_buf *b, const char *s, size_t n, size_t *written)
{
    if (!is_utf8(s, n)) {
        return PACS_OK;
    }
    pacs_err err = *written ? pacs_buf_put(b, ",", 1) : PACS_OK;
    (*written)++;
    return err == PACS_OK ? pacs_json_write_string(b, s, n) : err;
}

/* The values of a column as column_attr makes them. */
static pacs_err put_column_values(pacs_buf *b, const pacs_column *col, const char *t,
                                  size_t *written)
{
    if (col->kind == PACS_COL_INT) {
        (*written)++;
        return pacs_json_write_integer(b, strtoll(t, NULL, 10));
    }
    if (col->kind == PACS_COL_MULTI) {
        pacs_err err = PACS_OK;
        for (const char *p = t; *p && err == PACS_OK;) {
            while (*p == '\\') {
                p++;
            }
            const char *e = strchr(p, '\\');
            e = e ? e : p + strlen(p);
            if (e > p) {
                err = put_text(b, p, (size_t)(e - p), written);
            }
            p = e;
        }
        return err;
    }
    if (col->kind == PACS_COL_PN) {
        static const char *const groups[] = {
            "\"Alphabetic\":", "\"Ideographic\":", "\"Phonetic\":"};
        pacs_err err = pacs_buf_put(b, "{", 1);
        size_t in_pn = 0;
        const char *p = t;
        for (int g = 0; g < 3 && p && err == PACS_OK; g++) {
            const char *e = strchr(p, '=');
            size_t n = e ? (size_t)(e - p) : strlen(p);
            if (n > 0 && is_utf8(p, n)) {
                err = pacs_buf_puts(b, in_pn++ ? "," : "");
                if (err == PACS_OK) {
                    err = pacs_buf_puts(b, groups[g]);
                }
                if (err == PACS_OK) {
                    err = pacs_json_write_string(b, p, n);
                }
            }
            p = e ? e + 1 : NULL;
        }
        (*written)++;
        return err == PACS_OK ? pacs_buf_put(b, "}", 1) : err;
    }
    return *t ? put_text(b, t, strlen(t), written) : PACS_OK;
}

/* {"Value":[...],"vr":"VR"}, "Value" only when a value was written. */
static pacs_err put_attr(pacs_buf *b, const pacs_column *col, const char *t, const char *vr)
{
    size_t mark = b->len, written = 0;
    pacs_err err = pacs_buf_put(b, "{\"Value\":[", 10);
    if (t && err == PACS_OK) {
        err = col ? put_column_values(b, col, t, &written) : put_text(b, t, strlen(t), &written);
    }
    if (err == PACS_OK && written) {
        err = pacs_buf_put(b, "],", 2);
    } else if (err == PACS_OK) {
        cut(b, mark);
        err = pacs_buf_put(b, "{", 1);
    }
    if (err == PACS_OK && strlen(vr) == 2 && vr[0] >= 'A' && vr[0] <= 'Z' && vr[1] >= 'A' &&
        vr[1] <= 'Z') {
        char tail[] = {'"', 'v', 'r', '"', ':', '"', vr[0], vr[1], '"', '}'};
        return pacs_buf_put(b, tail, sizeof tail);
    }
    if (err == PACS_OK) {
        err = pacs_buf_put(b, "\"vr\":", 5);
    }
    if (err == PACS_OK) {
        err = pacs_json_write_string(b, vr, strlen(vr));
    }
    return err == PACS_OK ? pacs_buf_put(b, "}", 1) : err;
}

/* jansson's order of keys: bytes, then length. */
static int key_cmp(const char *a, size_t an, const char *b, size_t bn)
{
    int c = memcmp(a, b, an < bn ? an : bn);
    return c ? c : (an > bn) - (an < bn);
}

/* The stored members of `l`, in key order (insertion sort: they come sorted). */
static size_t *sorted_members(pacs_index__row_attrs *ra, int l)
{
    size_t n = ra->n[l];
    size_t *o = malloc((n ? n : 1) * sizeof *o);
    for (size_t i = 0; o && i < n; i++) {
        const pacs_index__member *m = &ra->m[l][i];
        size_t j = i;
        for (; j > 0; j--) {
            const pacs_index__member *x = &ra->m[l][o[j - 1]];
            if (key_cmp(x->key, x->key_len, m->key, m->key_len) <= 0) {
                break;
            }
            o[j] = o[j - 1];
        }
        o[j] = i;
    }
    return o;
}

/* Puts SpecificCharacterSet in at `at` (where a member after it starts, or the closing brace),
 * with the commas its neighbours need. */
static pacs_err put_charset(pacs_buf *b, size_t at, int before, int after)
{
    char ins[64];
    int n = snprintf(ins, sizeof ins, "%s\"00080005\":{\"Value\":[\"ISO_IR 192\"],\"vr\":\"CS\"}%s",
                     before ? "," : "", after ? "," : "");
    size_t tail = b->len - at;
    pacs_err err = pacs_buf_put(b, ins, (size_t)n); /* the room it takes */
    if (err == PACS_OK) {
        memmove(b->data + at + n, b->data + at, tail);
        memcpy(b->data + at, ins, (size_t)n);
    }
    return err;
}

pacs_err pacs_find_row_write(pacs_find_row *fr, const pacs_find_add *add, size_t n_add,
                             unsigned flags, pacs_buf *out)
{
    pacs_index__find_plan *p = fr->plan;
    pacs_level level = pacs_query_level(fr->q);
    int l = all_level(fr->q);
    size_t *so = NULL, n_stored = 0;
    if (pacs_query_includes_all(fr->q)) {
        level_members(&p->ra, fr->row, l);
        n_stored = p->ra.n[l];
        so = sorted_members(&p->ra, l);
        if (!so) {
            return PACS_ENOMEM;
        }
    }
    pacs_index__member *stored = p->ra.m[l];
    int utf8 = (flags & PACS_FIND_UTF8_CHARSET) != 0;
    size_t start = out->len, charset_at = SIZE_MAX, members = 0, ia = 0, ir = 0, is = 0;
    int charset_before = 0;
    char ka[9];
    size_t ka_of = SIZE_MAX;
    pacs_err err = pacs_buf_put(out, "{", 1);
    while (err == PACS_OK) {
        /* The smallest key of the three lists' heads. */
        const char *k = NULL, *kr = ir < p->n_ret ? p->keys[p->order[ir]] : NULL;
        size_t kn = 8;
        if (ia < n_add && ka_of != ia) {
            pacs_dcm_tag_key(add[ia].tag, ka);
            ka_of = ia;
        }
        if (ia < n_add) {
            k = ka;
        }
        if (kr && (!k || memcmp(kr, k, 8) < 0)) {
            k = kr;
        }
        pacs_index__member *sm = is < n_stored ? &stored[so[is]] : NULL;
        if (sm && (!k || key_cmp(sm->key, sm->key_len, k, kn) < 0)) {
            k = sm->key;
            kn = sm->key_len;
        }
        if (!k) {
            break;
        }
        /* On a tie the caller's attribute wins, then the return key, as they would replace one
         * another in pacs_find_row_json's object; a key stored twice counts once. */
        const pacs_find_add *a = ia < n_add && key_cmp(ka, 8, k, kn) == 0 ? &add[ia++] : NULL;
        size_t ri = kr && key_cmp(kr, 8, k, kn) == 0 ? p->order[ir++] : SIZE_MAX;
        pacs_index__member *s = NULL;
        for (; is < n_stored && key_cmp(stored[so[is]].key, stored[so[is]].key_len, k, kn) == 0;
             is++) {
            s = s ? s : &stored[so[is]];
        }
        if (a && !is_utf8(a->value, strlen(a->value))) {
            a = NULL;
        }
        const json_t *sv = !a && ri == SIZE_MAX && s ? member_value(s) : NULL;
        if ((!a && ri == SIZE_MAX && !sv) || (utf8 && key_cmp(k, kn, "00080005", 8) == 0)) {
            continue;
        }
        if (utf8 && charset_at == SIZE_MAX && key_cmp(k, kn, "00080005", 8) > 0) {
            charset_at = out->len;
            charset_before = members > 0;
        }
        err = members++ ? pacs_buf_put(out, ",", 1) : PACS_OK;
        if (err == PACS_OK && sv) {
            err = pacs_json_write_string(out, k, kn);
            err = err == PACS_OK ? pacs_buf_put(out, ":", 1) : err;
        } else if (err == PACS_OK) {
            char quoted[11] = {'"', k[0], k[1], k[2], k[3], k[4], k[5], k[6], k[7], '"', ':'};
            err = pacs_buf_put(out, quoted, sizeof quoted);
        }
        if (err != PACS_OK) {
            break;
        }
        if (a) {
            err = put_attr(out, NULL, a->value, a->vr);
        } else if (ri != SIZE_MAX && p->cols[ri]) {
            size_t n = 0;
            const char *t = fr->row->value(fr->row->ctx, p->result_col[ri], &n);
            err = put_attr(out, p->cols[ri], t, p->cols[ri]->vr);
        } else if (ri != SIZE_MAX) {
            const json_t *v =
                stored_attr(&p->ra, fr->row, pacs_catalog_attrs_level(level, p->tags[ri]), kr);
            err = v ? pacs_json_write(out, v) : put_attr(out, NULL, NULL, p->vrs[ri]);
        } else {
            err = pacs_json_write(out, sv);
        }
    }
    free(so);
    if (err == PACS_OK) {
        err = pacs_buf_put(out, "}", 1);
    }
    if (err == PACS_OK && utf8 && non_ascii(out->data + start, out->len - start)) {
        size_t end = out->len - 1;
        if (charset_at == SIZE_MAX) {
            charset_at = end;
            charset_before = members > 0;
        }
        err = put_charset(out, charset_at, charset_before, charset_at != end);
    }
    return err;
}
