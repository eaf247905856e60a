// SPDX-License-Identifier: MIT
/*
 * The queries pacs-bench times over C-FIND and QIDO-RS (run.h): an exact PatientID, a
 * Vietnamese name prefix in UTF-8 and folded (no diacritics, lower case, as people type it),
 * a 7-day StudyDate range and an unknown StudyInstanceUID, each with the number of matches
 * the generator's model says it must find, so that a fast answer is not a wrong one.
 *
 * Load: the model enumerates every stored study once per server. Thread-safety: the queries
 * are made on the main thread and then only read.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <utf8proc.h>

#include "tools/bench/run.h"

/* Case-folded, diacritics stripped, đ as d and '^' as a space: how a name typed without
 * diacritics is meant to match (utf8proc does the Unicode). */
static char *fold(const char *s)
{
    utf8proc_uint8_t *out = NULL;
    utf8proc_ssize_t n = utf8proc_map((const utf8proc_uint8_t *)s, 0, &out,
                                      UTF8PROC_NULLTERM | UTF8PROC_STABLE | UTF8PROC_DECOMPOSE |
                                          UTF8PROC_STRIPMARK | UTF8PROC_CASEFOLD);
    if (n < 0) {
        return NULL;
    }
    char *r = (char *)out, *w = r;
    for (char *p = r; *p; p++) {
        if ((unsigned char)p[0] == 0xC4 && (unsigned char)p[1] == 0x91) {
            *w++ = 'd';
            p++;
        } else {
            *w++ = *p == '^' ? ' ' : *p;
        }
    }
    *w = '\0';
    return r;
}

/* The first `n` code points of a UTF-8 string. */
static void utf8_prefix(const char *s, int n, char *out, size_t cap)
{
    size_t i = 0;
    int cps = 0;
    while (s[i] && cps < n) {
        i++;
        while (((unsigned char)s[i] & 0xC0) == 0x80) {
            i++;
        }
        cps++;
    }
    snprintf(out, cap, "%.*s", (int)i, s);
}

/* Expected matches, from the model: every stored study is enumerated. The dates are the
 * range's ends, d0 and d1 (YYYYMMDD). */
static void count_expected(const gen_world *w, const int *stored, const char *d0, const char *d1,
                           bench_query *q)
{
    char *fq = fold(q[BENCH_Q_NAME_UTF8].value);
    size_t fql = fq ? strlen(fq) - 1 : 0; /* without the '*' */
    size_t uql = strlen(q[BENCH_Q_NAME_UTF8].value) - 1;
    for (uint32_t s = 0; s < w->n_studies; s++) {
        if (!stored[s]) {
            continue;
        }
        uint32_t p = gen_study_patient(w, s);
        gen_patient pt;
        gen_patient_make(w, p, &pt);
        if (strcmp(pt.id, q[BENCH_Q_PATIENT_ID].value) == 0) {
            q[BENCH_Q_PATIENT_ID].expected++;
        }
        if (strncmp(pt.name, q[BENCH_Q_NAME_UTF8].value, uql) == 0) {
            q[BENCH_Q_NAME_UTF8].expected++;
        }
        char *fn = fold(pt.name);
        if (fn && fq && strncmp(fn, fq, fql) == 0) {
            q[BENCH_Q_NAME_FOLDED].expected++;
        }
        free(fn);
        char d[9];
        gen_study_date(w, s, d);
        if (strcmp(d, d0) >= 0 && strcmp(d, d1) <= 0) {
            q[BENCH_Q_DATE].expected++;
        }
    }
    free(fq);
}

void bench_queries_make(const bench_cfg *c, const bench_layout *l, const int *stored,
                        bench_query *q)
{
    const gen_world *w = &l->w;
    gen_patient p0;
    uint32_t s0 = c->fill_studies / 2 + 1;
    /* A patient whose family name is not Nguyễn keeps the name query selective. */
    for (uint32_t s = s0; s < s0 + 200 && s < c->fill_studies; s++) {
        gen_patient_make(w, gen_study_patient(w, s), &p0);
        if (strcmp(p0.family, "Nguyễn") != 0) {
            s0 = s;
            break;
        }
    }
    gen_patient_make(w, gen_study_patient(w, s0), &p0);
    char given2[32];
    utf8_prefix(p0.given, 2, given2, sizeof given2);

    q[BENCH_Q_PATIENT_ID] = (bench_query){"id", "exact PatientID", 0x00100020, "", 0, 0};
    snprintf(q[BENCH_Q_PATIENT_ID].value, sizeof q[0].value, "%s", p0.id);
    q[BENCH_Q_NAME_UTF8] =
        (bench_query){"name_utf8", "PatientName prefix, UTF-8", 0x00100010, "", 0, 0};
    snprintf(q[BENCH_Q_NAME_UTF8].value, sizeof q[0].value, "%s^%s %s*", p0.family, p0.middle,
             given2);
    char *folded = fold(q[BENCH_Q_NAME_UTF8].value);
    q[BENCH_Q_NAME_FOLDED] =
        (bench_query){"name_folded", "PatientName prefix, folded", 0x00100010, "", 1, 0};
    snprintf(q[BENCH_Q_NAME_FOLDED].value, sizeof q[0].value, "%s", folded ? folded : "");
    /* Typed the way people type it: family^given without diacritics, lower case. */
    for (char *p = q[BENCH_Q_NAME_FOLDED].value; *p; p++) {
        if (*p == ' ') {
            *p = '^';
            break;
        }
    }
    char d0[9];
    gen_study_date(w, c->fill_studies / 3, d0);
    struct tm tm;
    memset(&tm, 0, sizeof tm);
    sscanf(d0, "%4d%2d%2d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday);
    tm.tm_year -= 1900;
    tm.tm_mon -= 1;
    tm.tm_mday += 6;
    tm.tm_hour = 12;
    mktime(&tm);
    char d1[16];
    strftime(d1, sizeof d1, "%Y%m%d", &tm);
    q[BENCH_Q_DATE] = (bench_query){"date", "StudyDate range (7 days)", 0x00080020, "", 0, 0};
    snprintf(q[BENCH_Q_DATE].value, sizeof q[0].value, "%s-%s", d0, d1);
    q[BENCH_Q_UID] = (bench_query){"uid", "unknown StudyInstanceUID", 0x0020000D, "", 0, 0};
    snprintf(q[BENCH_Q_UID].value, sizeof q[0].value, "%s.999999.1.1", GEN_UID_ROOT);

    count_expected(w, stored, d0, d1, q);
    free(folded);
}

char *bench_query_url(const bench_server *s, int qi, const bench_query *q)
{
    static const char *const names[BENCH_Q_COUNT] = {"PatientID", "PatientName", "PatientName",
                                                     "StudyDate", "StudyInstanceUID"};
    char *v = bench_http_escape(q->value);
    if (!v) {
        return NULL;
    }
    size_t cap = strlen(s->web) + strlen(v) + 128;
    char *u = malloc(cap);
    if (u) {
        snprintf(u, cap, "%s/studies?%s=%s%s", s->web, names[qi], v,
                 q->fuzzy ? "&fuzzymatching=true" : "");
    }
    free(v);
    return u;
}

unsigned bench_json_array_size(const char *body, size_t len)
{
    if (len == 0) {
        return 0;
    }
    json_t *j = json_loadb(body, len, 0, NULL);
    unsigned n = json_is_array(j) ? (unsigned)json_array_size(j) : 0;
    json_decref(j);
    return n;
}
