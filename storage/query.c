// SPDX-License-Identifier: MIT
/*
 * The query model (query.h): classification of keys by VR and value, and the matcher used for
 * keys that no index column covers. Matching rules follow PS3.4 C.2.2.2; PatientName and other
 * PN keys match case-insensitively, and fuzzily (folded word prefixes) when asked.
 */
#include "storage/query.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pacs/dicom/dcm.h"
#include "storage/fold.h"

struct pacs_query {
    pacs_level level;
    pacs_query_key *keys;
    size_t n_keys, cap_keys;
    int include_all;
    int fuzzy;
    size_t limit, offset;
};

static const char *const level_names[] = {"PATIENT", "STUDY", "SERIES", "IMAGE"};

int pacs_level_parse(const char *text)
{
    char buf[16];
    size_t n = 0;
    while (*text == ' ') {
        text++;
    }
    while (text[n] && text[n] != ' ' && n < sizeof buf - 1) {
        buf[n] = (char)toupper((unsigned char)text[n]);
        n++;
    }
    buf[n] = '\0';
    for (int i = 0; i < 4; i++) {
        if (strcmp(buf, level_names[i]) == 0) {
            return i;
        }
    }
    if (strcmp(buf, "INSTANCE") == 0) {
        return PACS_LEVEL_INSTANCE;
    }
    return -1;
}

const char *pacs_level_name(pacs_level level)
{
    return (unsigned)level < 4 ? level_names[level] : "?";
}

pacs_query *pacs_query_new(pacs_level level)
{
    pacs_query *q = calloc(1, sizeof *q);
    if (q) {
        q->level = level;
    }
    return q;
}

static void key_clear(pacs_query_key *k)
{
    free(k->value);
    free(k->range_lo);
    free(k->range_hi);
    for (size_t i = 0; i < k->n_list; i++) {
        free(k->list[i]);
    }
    free(k->list);
    pacs_query_free(k->item);
    memset(k, 0, sizeof *k);
}

void pacs_query_free(pacs_query *q)
{
    if (!q) {
        return;
    }
    for (size_t i = 0; i < q->n_keys; i++) {
        key_clear(&q->keys[i]);
    }
    free(q->keys);
    free(q);
}

pacs_level pacs_query_level(const pacs_query *q)
{
    return q->level;
}

/* Returns the slot for `tag`, emptied, creating it if needed. */
static pacs_query_key *slot(pacs_query *q, uint32_t tag)
{
    for (size_t i = 0; i < q->n_keys; i++) {
        if (q->keys[i].tag == tag) {
            key_clear(&q->keys[i]);
            q->keys[i].tag = tag;
            return &q->keys[i];
        }
    }
    if (q->n_keys == q->cap_keys) {
        size_t cap = q->cap_keys ? q->cap_keys * 2 : 16;
        pacs_query_key *grown = realloc(q->keys, cap * sizeof *grown);
        if (!grown) {
            return NULL;
        }
        q->keys = grown;
        q->cap_keys = cap;
    }
    pacs_query_key *k = &q->keys[q->n_keys++];
    memset(k, 0, sizeof *k);
    k->tag = tag;
    return k;
}

static int all_digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!isdigit((unsigned char)s[i])) {
            return 0;
        }
    }
    return 1;
}

/* Normalises a TM value: drops the ':' of old ACR-NEMA times; 0 when not a time. */
static int normalise_tm(const char *in, char *out, size_t cap)
{
    size_t o = 0;
    for (const char *p = in; *p; p++) {
        if (*p == ':') {
            continue;
        }
        if (o + 1 >= cap || !(isdigit((unsigned char)*p) || *p == '.')) {
            return 0;
        }
        out[o++] = *p;
    }
    out[o] = '\0';
    const char *dot = strchr(out, '.');
    size_t whole = dot ? (size_t)(dot - out) : o;
    return whole >= 2 && whole <= 6 && whole % 2 == 0 && all_digits(out, whole);
}

/* The latest time a TM prefix can stand for: "10" -> "105959.999999". */
static char *tm_upper(const char *tm)
{
    char buf[64];
    size_t n = strlen(tm);
    const char *dot = strchr(tm, '.');
    if (dot) {
        size_t frac = n - (size_t)(dot - tm) - 1;
        snprintf(buf, sizeof buf, "%s%.*s", tm, (int)(frac < 6 ? 6 - frac : 0), "999999");
    } else if (n == 2) {
        snprintf(buf, sizeof buf, "%s5959.999999", tm);
    } else if (n == 4) {
        snprintf(buf, sizeof buf, "%s59.999999", tm);
    } else {
        snprintf(buf, sizeof buf, "%s.999999", tm);
    }
    return strdup(buf);
}

static int valid_da(const char *s)
{
    return strlen(s) == 8 && all_digits(s, 8);
}

static int valid_dt(const char *s)
{
    size_t n = strlen(s);
    return n >= 4 && n <= 26 && all_digits(s, 4);
}

/* The '-' that separates a range's bounds, or NULL. In DT a '-' may also be the sign of a UTC
 * offset ("20240601120000-0500"): one that follows at least a date and hour and is followed by
 * exactly four digits (then the end or the range's '-') is taken as that. "2020-2024" is a
 * range of years. */
static const char *range_dash(const char *v, int dt)
{
    const char *seg = v;
    for (const char *p = strchr(v, '-'); p; p = strchr(p + 1, '-')) {
        int offset = dt && p - seg >= 10 && all_digits(p + 1, 4) && strlen(p + 1) >= 4 &&
                     (p[5] == '\0' || p[5] == '-');
        if (!offset) {
            return p;
        }
        seg = p + 5;
    }
    return NULL;
}

static pacs_err classify_range(pacs_query_key *k, const char *value, pacs_errinfo *ei)
{
    const char *dash = range_dash(value, strcmp(k->vr, "DT") == 0);
    char lo[32] = "", hi[32] = "";
    size_t lo_n = (size_t)(dash - value), hi_n = strlen(dash + 1);
    if (lo_n >= sizeof lo || hi_n >= sizeof hi || (lo_n == 0 && hi_n == 0)) {
        return pacs_errf(ei, PACS_EINVAL, "bad range '%s'", value);
    }
    memcpy(lo, value, lo_n);
    lo[lo_n] = '\0';
    memcpy(hi, dash + 1, hi_n);
    hi[hi_n] = '\0';
    if (strcmp(k->vr, "DA") == 0) {
        if ((lo_n && !valid_da(lo)) || (hi_n && !valid_da(hi))) {
            return pacs_errf(ei, PACS_EINVAL, "bad date range '%s' (YYYYMMDD-YYYYMMDD)", value);
        }
        k->range_lo = lo_n ? strdup(lo) : NULL;
        k->range_hi = hi_n ? strdup(hi) : NULL;
    } else if (strcmp(k->vr, "TM") == 0) {
        char nlo[32], nhi[32];
        if ((lo_n && !normalise_tm(lo, nlo, sizeof nlo)) ||
            (hi_n && !normalise_tm(hi, nhi, sizeof nhi))) {
            return pacs_errf(ei, PACS_EINVAL, "bad time range '%s' (HHMMSS-HHMMSS)", value);
        }
        k->range_lo = lo_n ? strdup(nlo) : NULL;
        k->range_hi = hi_n ? tm_upper(nhi) : NULL;
    } else {
        if ((lo_n && !valid_dt(lo)) || (hi_n && !valid_dt(hi))) {
            return pacs_errf(ei, PACS_EINVAL, "bad date-time range '%s'", value);
        }
        k->range_lo = lo_n ? strdup(lo) : NULL;
        if (hi_n) {
            char buf[40];
            /* A DT prefix stands for the whole period it names. */
            snprintf(buf, sizeof buf, "%s%s", hi,
                     "99999999999999.999999" + (hi_n < 21 ? hi_n : 21));
            k->range_hi = strdup(buf);
        }
    }
    if ((lo_n && !k->range_lo) || (hi_n && !k->range_hi)) {
        return pacs_errf(ei, PACS_ENOMEM, "out of memory");
    }
    k->match = PACS_MATCH_RANGE;
    return PACS_OK;
}

static pacs_err classify_list(pacs_query_key *k, const char *value, pacs_errinfo *ei)
{
    size_t n = 1;
    for (const char *p = value; *p; p++) {
        n += *p == '\\';
    }
    k->list = calloc(n, sizeof *k->list);
    if (!k->list) {
        return pacs_errf(ei, PACS_ENOMEM, "out of memory");
    }
    const char *p = value;
    for (size_t i = 0; i < n; i++) {
        const char *end = strchr(p, '\\');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        while (len > 0 && p[len - 1] == ' ') {
            len--;
        }
        while (len > 0 && *p == ' ') {
            p++;
            len--;
        }
        k->list[i] = strndup(p, len);
        if (!k->list[i]) {
            return pacs_errf(ei, PACS_ENOMEM, "out of memory");
        }
        k->n_list++;
        p = end ? end + 1 : p + len;
    }
    k->match = PACS_MATCH_LIST;
    return PACS_OK;
}

pacs_err pacs_query_add(pacs_query *q, uint32_t tag, const char *vr, const char *value,
                        pacs_errinfo *ei)
{
    pacs_query_key *k = slot(q, tag);
    if (!k) {
        return pacs_errf(ei, PACS_ENOMEM, "out of memory");
    }
    if (vr && strlen(vr) == 2) {
        memcpy(k->vr, vr, 3);
    } else {
        pacs_dcm_dict_vr(tag, k->vr);
    }
    /* Trailing and leading blanks are padding, not part of the value. */
    char *v = NULL;
    if (value) {
        while (*value == ' ') {
            value++;
        }
        size_t n = strlen(value);
        while (n > 0 && (value[n - 1] == ' ' || value[n - 1] == '\0')) {
            n--;
        }
        v = strndup(value, n);
        if (!v) {
            return pacs_errf(ei, PACS_ENOMEM, "out of memory");
        }
    }
    pacs_err err = PACS_OK;
    if (!v || v[0] == '\0' || strcmp(v, "*") == 0 || strcmp(k->vr, "SQ") == 0) {
        k->match = PACS_MATCH_UNIVERSAL;
        goto done;
    }
    if (strcmp(k->vr, "PN") == 0) {
        char *folded = pacs_fold_case(v);
        if (!folded) {
            err = pacs_errf(ei, PACS_EINVAL, "person name is not valid UTF-8");
            goto done;
        }
        free(v);
        v = folded;
        k->match = strpbrk(v, "*?") ? PACS_MATCH_WILDCARD : PACS_MATCH_SINGLE;
        k->value = v;
        v = NULL;
        goto done;
    }
    int is_date = strcmp(k->vr, "DA") == 0 || strcmp(k->vr, "TM") == 0 || strcmp(k->vr, "DT") == 0;
    if (is_date && range_dash(v, strcmp(k->vr, "DT") == 0)) {
        err = classify_range(k, v, ei);
        goto done;
    }
    if (strchr(v, '\\')) {
        err = classify_list(k, v, ei);
        goto done;
    }
    if (strcmp(k->vr, "DA") == 0 && !strpbrk(v, "*?") && !valid_da(v)) {
        err = pacs_errf(ei, PACS_EINVAL, "bad date '%s' (YYYYMMDD)", v);
        goto done;
    }
    if (strcmp(k->vr, "TM") == 0) {
        char norm[32];
        if (!strpbrk(v, "*?")) {
            if (!normalise_tm(v, norm, sizeof norm)) {
                err = pacs_errf(ei, PACS_EINVAL, "bad time '%s' (HHMMSS)", v);
                goto done;
            }
            free(v);
            v = strdup(norm);
            if (!v) {
                err = pacs_errf(ei, PACS_ENOMEM, "out of memory");
                goto done;
            }
        }
    }
    k->match =
        strpbrk(v, "*?") && strcmp(k->vr, "UI") != 0 ? PACS_MATCH_WILDCARD : PACS_MATCH_SINGLE;
    k->value = v;
    v = NULL;
done:
    free(v);
    if (err != PACS_OK) {
        /* Leave no half-classified key behind. */
        key_clear(k);
        q->n_keys--;
        if (k != &q->keys[q->n_keys]) {
            *k = q->keys[q->n_keys];
        }
    }
    return err;
}

pacs_err pacs_query_add_sequence(pacs_query *q, uint32_t tag, pacs_query **item, pacs_errinfo *ei)
{
    pacs_query_key *k = slot(q, tag);
    if (!k) {
        return pacs_errf(ei, PACS_ENOMEM, "out of memory");
    }
    memcpy(k->vr, "SQ", 3);
    k->item = pacs_query_new(q->level);
    if (!k->item) {
        q->n_keys--;
        return pacs_errf(ei, PACS_ENOMEM, "out of memory");
    }
    k->match = PACS_MATCH_SEQUENCE;
    *item = k->item;
    return PACS_OK;
}

pacs_err pacs_query_include(pacs_query *q, uint32_t tag, pacs_errinfo *ei)
{
    if (pacs_query_find_key(q, tag)) {
        return PACS_OK;
    }
    return pacs_query_add(q, tag, NULL, NULL, ei);
}

void pacs_query_include_all(pacs_query *q, int on)
{
    q->include_all = on;
}

int pacs_query_includes_all(const pacs_query *q)
{
    return q->include_all;
}

void pacs_query_set_fuzzy(pacs_query *q, int on)
{
    q->fuzzy = on;
}

int pacs_query_fuzzy(const pacs_query *q)
{
    return q->fuzzy;
}

void pacs_query_set_paging(pacs_query *q, size_t limit, size_t offset)
{
    q->limit = limit;
    q->offset = offset;
}

size_t pacs_query_limit(const pacs_query *q)
{
    return q->limit;
}

size_t pacs_query_offset(const pacs_query *q)
{
    return q->offset;
}

size_t pacs_query_key_count(const pacs_query *q)
{
    return q->n_keys;
}

const pacs_query_key *pacs_query_key_at(const pacs_query *q, size_t i)
{
    return i < q->n_keys ? &q->keys[i] : NULL;
}

const pacs_query_key *pacs_query_find_key(const pacs_query *q, uint32_t tag)
{
    for (size_t i = 0; i < q->n_keys; i++) {
        if (q->keys[i].tag == tag) {
            return &q->keys[i];
        }
    }
    return NULL;
}

/* ---- Matching ---- */

static size_t utf8_len(unsigned char c)
{
    return c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 1;
}

int pacs_wildcard_match(const char *p, const char *t)
{
    const char *star_p = NULL, *star_t = NULL;
    while (*t) {
        if (*p == '*') {
            star_p = ++p;
            star_t = t;
            continue;
        }
        size_t tl = utf8_len((unsigned char)*t);
        if (*p == '?') {
            p++;
            t += tl;
            continue;
        }
        size_t pl = utf8_len((unsigned char)*p);
        if (*p && pl == tl && strncmp(p, t, pl) == 0) {
            p += pl;
            t += tl;
            continue;
        }
        if (!star_p) {
            return 0;
        }
        p = star_p;
        star_t += utf8_len((unsigned char)*star_t);
        t = star_t;
    }
    while (*p == '*') {
        p++;
    }
    return *p == '\0';
}

/* Every word of the folded query is a prefix of some word of the folded name. */
static int fuzzy_name_match(const char *query, const char *name)
{
    char *q = pacs_fold_name(query), *n = pacs_fold_name(name);
    int ok = q && n;
    if (ok) {
        for (char *p = q; *p; p++) {
            if (*p == '*' || *p == '?') {
                *p = ' ';
            }
        }
        char *save = NULL;
        for (char *w = strtok_r(q, " ", &save); w && ok; w = strtok_r(NULL, " ", &save)) {
            size_t wl = strlen(w);
            int found = 0;
            for (const char *s = n; *s && !found; s = strchr(s, ' ') ? strchr(s, ' ') + 1 : "") {
                found = strncmp(s, w, wl) == 0;
            }
            ok = found;
        }
    }
    free(q);
    free(n);
    return ok;
}

int pacs_query_text_matches(const pacs_query_key *k, const char *text, int fuzzy)
{
    if (k->match == PACS_MATCH_UNIVERSAL) {
        return 1;
    }
    int pn = strcmp(k->vr, "PN") == 0;
    if (pn && fuzzy && k->value) {
        return fuzzy_name_match(k->value, text);
    }
    /* PN: an ASCII query matches the folded name (see fold.h), otherwise the case-folded one. */
    char *folded = NULL, *folded_value = NULL;
    const char *value = k->value;
    if (pn) {
        int ascii = pacs_is_ascii(k->value);
        folded = ascii ? pacs_fold_name(text) : pacs_fold_case(text);
        folded_value = ascii ? pacs_fold_name(k->value) : NULL;
        if (!folded || (ascii && !folded_value)) {
            free(folded);
            free(folded_value);
            return 0;
        }
        text = folded;
        if (folded_value) {
            value = folded_value;
        }
    }
    int ok = 0;
    char norm[32];
    switch (k->match) {
    case PACS_MATCH_SINGLE:
        if (strcmp(k->vr, "TM") == 0 && normalise_tm(text, norm, sizeof norm)) {
            ok = strcmp(value, norm) == 0;
        } else {
            ok = strcmp(value, text) == 0;
        }
        break;
    case PACS_MATCH_WILDCARD:
        ok = pacs_wildcard_match(value, text);
        break;
    case PACS_MATCH_RANGE:
        if (strcmp(k->vr, "TM") == 0 && normalise_tm(text, norm, sizeof norm)) {
            text = norm;
        }
        ok = text[0] != '\0' && (!k->range_lo || strcmp(text, k->range_lo) >= 0) &&
             (!k->range_hi || strcmp(text, k->range_hi) <= 0);
        break;
    case PACS_MATCH_LIST:
        for (size_t i = 0; i < k->n_list && !ok; i++) {
            ok = strcmp(k->list[i], text) == 0;
        }
        break;
    default:
        break;
    }
    free(folded);
    free(folded_value);
    return ok;
}

/* The text form of one DICOM JSON value, in a caller buffer. */
static const char *value_text(const json_t *v, char *buf, size_t cap)
{
    if (json_is_string(v)) {
        return json_string_value(v);
    }
    if (json_is_integer(v)) {
        snprintf(buf, cap, "%lld", (long long)json_integer_value(v));
        return buf;
    }
    if (json_is_real(v)) {
        snprintf(buf, cap, "%.16g", json_real_value(v));
        return buf;
    }
    if (json_is_object(v)) {
        const char *groups[] = {"Alphabetic", "Ideographic", "Phonetic"};
        size_t o = 0;
        buf[0] = '\0';
        for (int g = 0; g < 3; g++) {
            const char *s = json_string_value(json_object_get(v, groups[g]));
            if (s) {
                int w = snprintf(buf + o, cap - o, "%s%s", g ? "=" : "", s);
                if (w < 0 || (size_t)w >= cap - o) {
                    break;
                }
                o += (size_t)w;
            }
        }
        return buf;
    }
    return NULL;
}

int pacs_query_key_matches(const pacs_query_key *k, const json_t *attr, int fuzzy)
{
    if (k->match == PACS_MATCH_UNIVERSAL) {
        return 1;
    }
    const json_t *values = attr ? json_object_get(attr, "Value") : NULL;
    if (k->match == PACS_MATCH_SEQUENCE) {
        if (pacs_query_key_count(k->item) == 0) {
            return 1;
        }
        size_t i;
        json_t *item;
        json_array_foreach(values, i, item)
        {
            int all = 1;
            for (size_t j = 0; j < pacs_query_key_count(k->item) && all; j++) {
                const pacs_query_key *sub = pacs_query_key_at(k->item, j);
                char key[9];
                pacs_dcm_tag_key(sub->tag, key);
                all = pacs_query_key_matches(sub, json_object_get(item, key), fuzzy);
            }
            if (all) {
                return 1;
            }
        }
        return 0;
    }
    size_t i;
    json_t *v;
    json_array_foreach(values, i, v)
    {
        char buf[512];
        const char *text = value_text(v, buf, sizeof buf);
        if (text && pacs_query_text_matches(k, text, fuzzy)) {
            return 1;
        }
    }
    return 0;
}
