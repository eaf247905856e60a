// SPDX-License-Identifier: MIT
/*
 * Sample statistics and the report of pacs-bench: one row per figure with pacsd's and Orthanc's
 * median (min-max), the machine's limit, the ratios and the target; printed as a
 * Markdown table and written as JSON (jansson) for machines. Filled from the main thread only.
 */
#include "tools/bench/bench.h"

#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void bench_samples_add(bench_samples *s, double v)
{
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        double *p = realloc(s->v, cap * sizeof *p);
        if (!p) {
            return;
        }
        s->v = p;
        s->cap = cap;
    }
    s->v[s->n++] = v;
}

void bench_samples_free(bench_samples *s)
{
    free(s->v);
    s->v = NULL;
    s->n = s->cap = 0;
}

void bench_samples_note(bench_samples *s, const char *fmt, ...)
{
    char text[sizeof s->note];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(text, sizeof text, fmt, ap);
    va_end(ap);
    if (strstr(s->note, text)) {
        return;
    }
    size_t used = strlen(s->note);
    snprintf(s->note + used, sizeof s->note - used, "%s%s", used ? "; " : "", text);
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

int bench_samples_stats(const bench_samples *s, double *median, double *min, double *max)
{
    if (s->n == 0) {
        return 0;
    }
    double *t = malloc(s->n * sizeof *t);
    if (!t) {
        return 0;
    }
    memcpy(t, s->v, s->n * sizeof *t);
    qsort(t, s->n, sizeof *t, cmp_double);
    *median = s->n % 2 ? t[s->n / 2] : (t[s->n / 2 - 1] + t[s->n / 2]) / 2;
    *min = t[0];
    *max = t[s->n - 1];
    free(t);
    return 1;
}

typedef struct limit_entry {
    char id[48], label[96], unit[16];
    bench_samples s;
} limit_entry;

struct bench_report {
    bench_row *rows[128];
    size_t n_rows;
    limit_entry limits[32];
    size_t n_limits;
    json_t *meta;
};

bench_report *bench_report_new(void)
{
    bench_report *r = calloc(1, sizeof *r);
    if (r) {
        r->meta = json_object();
    }
    return r;
}

void bench_report_free(bench_report *r)
{
    if (!r) {
        return;
    }
    for (size_t i = 0; i < r->n_rows; i++) {
        for (int k = 0; k < BENCH_NSERVERS; k++) {
            bench_samples_free(&r->rows[i]->s[k]);
        }
        free(r->rows[i]);
    }
    for (size_t i = 0; i < r->n_limits; i++) {
        bench_samples_free(&r->limits[i].s);
    }
    json_decref(r->meta);
    free(r);
}

bench_row *bench_report_row(bench_report *r, const char *id, const char *label, const char *unit,
                            bench_better better)
{
    for (size_t i = 0; i < r->n_rows; i++) {
        if (strcmp(r->rows[i]->id, id) == 0) {
            return r->rows[i];
        }
    }
    static bench_row spare; /* absorbs writes if the table is full or memory is out */
    if (r->n_rows == sizeof r->rows / sizeof r->rows[0]) {
        return &spare;
    }
    bench_row *row = calloc(1, sizeof *row);
    if (!row) {
        return &spare;
    }
    snprintf(row->id, sizeof row->id, "%s", id);
    snprintf(row->label, sizeof row->label, "%s", label);
    snprintf(row->unit, sizeof row->unit, "%s", unit);
    row->better = better;
    r->rows[r->n_rows++] = row;
    return row;
}

void bench_report_limit(bench_report *r, const char *id, const char *label, const char *unit,
                        const bench_samples *s)
{
    if (r->n_limits == sizeof r->limits / sizeof r->limits[0]) {
        return;
    }
    limit_entry *e = &r->limits[r->n_limits++];
    memset(e, 0, sizeof *e);
    snprintf(e->id, sizeof e->id, "%s", id);
    snprintf(e->label, sizeof e->label, "%s", label);
    snprintf(e->unit, sizeof e->unit, "%s", unit);
    for (size_t i = 0; i < s->n; i++) {
        bench_samples_add(&e->s, s->v[i]);
    }
    snprintf(e->s.note, sizeof e->s.note, "%s", s->note);
}

double bench_report_limit_value(const bench_report *r, const char *id)
{
    for (size_t i = 0; i < r->n_limits; i++) {
        double med, mn, mx;
        if (strcmp(r->limits[i].id, id) == 0 &&
            bench_samples_stats(&r->limits[i].s, &med, &mn, &mx)) {
            return med;
        }
    }
    return 0;
}

void bench_report_meta(bench_report *r, const char *key, const char *value)
{
    json_object_set_new(r->meta, key, json_string(value ? value : ""));
}

/* ---- Formatting ---- */

static void fmt_num(char *buf, size_t cap, double v)
{
    double a = fabs(v);
    if (a >= 1000) {
        snprintf(buf, cap, "%.0f", v);
    } else if (a >= 100) {
        snprintf(buf, cap, "%.1f", v);
    } else if (a >= 10) {
        snprintf(buf, cap, "%.2f", v);
    } else if (a >= 0.01 || a == 0) {
        snprintf(buf, cap, "%.3f", v);
    } else {
        snprintf(buf, cap, "%.2g", v);
    }
}

static void fmt_cell(char *buf, size_t cap, const bench_samples *s, const char *unit)
{
    double med, mn, mx;
    if (!bench_samples_stats(s, &med, &mn, &mx)) {
        snprintf(buf, cap, "n/a%s%s", s->note[0] ? " (" : "", s->note[0] ? s->note : "");
        if (s->note[0]) {
            strncat(buf, ")", cap - strlen(buf) - 1);
        }
        return;
    }
    char a[32], b[32], c[32];
    fmt_num(a, sizeof a, med);
    fmt_num(b, sizeof b, mn);
    fmt_num(c, sizeof c, mx);
    if (s->n == 1) {
        snprintf(buf, cap, "%s %s", a, unit);
    } else {
        snprintf(buf, cap, "%s %s (%s–%s)", a, unit, b, c);
    }
    if (s->note[0]) {
        size_t l = strlen(buf);
        snprintf(buf + l, cap - l, " [%s]", s->note);
    }
}

/* How much better pacsd is than x: > 1 means pacsd is better, whatever the direction. */
static double advantage(bench_better b, double pacsd, double other)
{
    if (pacsd <= 0 || other <= 0) {
        return 0;
    }
    return b == BENCH_HIGHER ? pacsd / other : other / pacsd;
}

/* 1 met, 0 missed, -1 cannot tell. */
static int target_met(const bench_row *row, double p, int have_p, double o, int have_o)
{
    if (!have_p) {
        return -1;
    }
    switch (row->target) {
    case BENCH_T_NONE:
        return -1;
    case BENCH_T_CEILING80_ORTHANC5:
        if (!row->has_limit || !have_o) {
            return row->has_limit && p < 0.8 * row->limit ? 0 : -1;
        }
        return p >= 0.8 * row->limit && p >= 5 * o;
    case BENCH_T_CEILING80:
        return row->has_limit ? p >= 0.8 * row->limit : -1;
    case BENCH_T_ABS_LE:
        return p <= row->target_value;
    case BENCH_T_OVER_LIMIT_LE:
        return row->has_limit ? p - row->limit <= row->target_value : -1;
    case BENCH_T_ORTHANC_X:
        return have_o ? advantage(row->better, p, o) >= row->target_value : -1;
    case BENCH_T_LIMIT_FRACTION:
        return row->has_limit ? p >= row->target_value * row->limit : -1;
    case BENCH_T_ABS_LE_ORTHANC_X:
        if (p > row->target_value) {
            return 0;
        }
        return have_o ? advantage(row->better, p, o) >= row->target_value2 : -1;
    case BENCH_T_LE_ORTHANC:
        return have_o ? p <= o : -1;
    case BENCH_T_ABS_GE:
        return p >= row->target_value;
    }
    return -1;
}

static json_t *samples_json(const bench_samples *s)
{
    json_t *o = json_object();
    double med, mn, mx;
    if (bench_samples_stats(s, &med, &mn, &mx)) {
        json_object_set_new(o, "median", json_real(med));
        json_object_set_new(o, "min", json_real(mn));
        json_object_set_new(o, "max", json_real(mx));
        json_t *a = json_array();
        for (size_t i = 0; i < s->n && i < 1000; i++) {
            json_array_append_new(a, json_real(s->v[i]));
        }
        json_object_set_new(o, "samples", a);
    } else {
        json_object_set_new(o, "median", json_null());
    }
    json_object_set_new(o, "n", json_integer((json_int_t)s->n));
    if (s->note[0]) {
        json_object_set_new(o, "note", json_string(s->note));
    }
    return o;
}

int bench_report_write(const bench_report *r, const char *md_path, const char *json_path, int print)
{
    FILE *md = fopen(md_path, "w");
    if (!md) {
        return -1;
    }
    json_t *root = json_object();
    json_object_set(root, "meta", r->meta);
    json_t *rows = json_array();
    static const char *const server_key[BENCH_NSERVERS] = {"pacsd", "orthanc"};

    fprintf(md, "# pacs-bench report\n\n");
    const char *key;
    json_t *val;
    json_object_foreach(r->meta, key, val)
    {
        fprintf(md, "- %s: %s\n", key, json_string_value(val));
    }
    fprintf(md, "\n");
    fprintf(md, "| figure | pacsd median (min–max) | Orthanc median (min–max) | limit | "
                "pacsd vs Orthanc (>1: pacsd better) | pacsd vs limit | target | met |\n");
    fprintf(md, "| --- | --- | --- | --- | --- | --- | --- | --- |\n");
    for (size_t i = 0; i < r->n_rows; i++) {
        const bench_row *row = r->rows[i];
        char cell[BENCH_NSERVERS][256], lim[160] = "—", vs_o[48] = "—", vs_l[48] = "—";
        double med[BENCH_NSERVERS] = {0, 0}, mn, mx;
        int have[BENCH_NSERVERS];
        for (int k = 0; k < BENCH_NSERVERS; k++) {
            fmt_cell(cell[k], sizeof cell[k], &row->s[k], row->unit);
            have[k] = bench_samples_stats(&row->s[k], &med[k], &mn, &mx);
        }
        if (row->has_limit) {
            char n[32];
            fmt_num(n, sizeof n, row->limit);
            snprintf(lim, sizeof lim, "%s %s (%s)", n, row->unit, row->limit_label);
        }
        double adv = have[0] && have[1] ? advantage(row->better, med[0], med[1]) : 0;
        if (adv > 0) {
            snprintf(vs_o, sizeof vs_o, "%.2fx", adv);
        }
        double vsl = 0;
        if (row->has_limit && have[0] && row->limit > 0) {
            if (row->target == BENCH_T_OVER_LIMIT_LE) {
                vsl = med[0] - row->limit;
                snprintf(vs_l, sizeof vs_l, "%+.3f %s", vsl, row->unit);
            } else {
                vsl = med[0] / row->limit;
                snprintf(vs_l, sizeof vs_l, "%.0f%%", vsl * 100);
            }
        }
        int met = target_met(row, med[0], have[0], med[1], have[1]);
        fprintf(md, "| %s | %s | %s | %s | %s | %s | %s | %s |\n", row->label, cell[0], cell[1],
                lim, vs_o, vs_l, row->target_text[0] ? row->target_text : "—",
                met < 0 ? "—"
                : met   ? "yes"
                        : "**no**");

        json_t *jr = json_object();
        json_object_set_new(jr, "id", json_string(row->id));
        json_object_set_new(jr, "label", json_string(row->label));
        json_object_set_new(jr, "unit", json_string(row->unit));
        json_object_set_new(jr, "better",
                            json_string(row->better == BENCH_HIGHER ? "higher" : "lower"));
        for (int k = 0; k < BENCH_NSERVERS; k++) {
            json_object_set_new(jr, server_key[k], samples_json(&row->s[k]));
        }
        if (row->has_limit) {
            json_t *l = json_object();
            json_object_set_new(l, "value", json_real(row->limit));
            json_object_set_new(l, "what", json_string(row->limit_label));
            json_object_set_new(jr, "limit", l);
            json_object_set_new(
                jr, row->target == BENCH_T_OVER_LIMIT_LE ? "pacsd_minus_limit" : "pacsd_over_limit",
                have[0] ? json_real(vsl) : json_null());
        } else {
            json_object_set_new(jr, "limit", json_null());
        }
        json_object_set_new(jr, "pacsd_vs_orthanc", adv > 0 ? json_real(adv) : json_null());
        json_object_set_new(jr, "target", json_string(row->target_text));
        json_object_set_new(jr, "met", met < 0 ? json_null() : json_boolean(met));
        json_array_append_new(rows, jr);
    }
    json_object_set_new(root, "rows", rows);

    fprintf(md, "\nMachine limits (same run):\n\n| limit | median (min–max) |\n| --- | --- |\n");
    json_t *lims = json_array();
    for (size_t i = 0; i < r->n_limits; i++) {
        char cell[256];
        fmt_cell(cell, sizeof cell, &r->limits[i].s, r->limits[i].unit);
        fprintf(md, "| %s | %s |\n", r->limits[i].label, cell);
        json_t *jl = samples_json(&r->limits[i].s);
        json_object_set_new(jl, "id", json_string(r->limits[i].id));
        json_object_set_new(jl, "label", json_string(r->limits[i].label));
        json_object_set_new(jl, "unit", json_string(r->limits[i].unit));
        json_array_append_new(lims, jl);
    }
    json_object_set_new(root, "limits", lims);
    fclose(md);

    int rc = json_dump_file(root, json_path, JSON_INDENT(1) | JSON_REAL_PRECISION(6));
    json_decref(root);
    if (print) {
        FILE *f = fopen(md_path, "r");
        if (f) {
            char buf[4096];
            size_t n;
            while ((n = fread(buf, 1, sizeof buf, f)) > 0) {
                fwrite(buf, 1, n, stdout);
            }
            fclose(f);
        }
    }
    return rc;
}
