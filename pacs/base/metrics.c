// SPDX-License-Identifier: MIT
/*
 * The metrics registry (metrics.h): one array of atomic values indexed by the PACS_METRICS
 * list, a fixed table of label sets for LABELED metrics filled without locks, the histograms'
 * buckets, a short list of collectors, and the renderer of the Prometheus text format.
 *
 * Load: updates are relaxed atomic adds (every C-STORE and HTTP request makes a few); a
 * labeled update hashes its labels and probes the table, claiming an empty slot with one
 * compare-and-swap. Rendering reads everything once per scrape. Thread-safety: updates from
 * any thread; the collectors' list has a mutex, held while a scrape runs them.
 */
#include "pacs/base/metrics.h"

#include <dirent.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

enum { T_COUNTER, T_GAUGE, T_HISTOGRAM, T_LABELED };

typedef struct def {
    int type;
    const char *name, *labels, *help;
} def;

#define PACS_METRIC_DEF_(id, type, name, labels, help) {T_##type, name, labels, help},
static const def defs[PACS_METRIC_COUNT_] = {PACS_METRICS(PACS_METRIC_DEF_)};
#undef PACS_METRIC_DEF_

/* Histogram bucket bounds in seconds (an implicit +Inf bucket follows). */
static const double bounds[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1,
                                0.25,  0.5,    1,     2.5,  5,     10};
#define N_BOUNDS (sizeof bounds / sizeof bounds[0])

typedef struct histogram {
    atomic_uint_least64_t buckets[N_BOUNDS + 1]; /* per bucket, not cumulative */
    atomic_uint_least64_t sum_us;
} histogram;

static atomic_uint_least64_t values[PACS_METRIC_COUNT_];
static histogram histograms[PACS_METRIC_COUNT_];

/* ---- labeled samples: open addressing, slots claimed once and never freed ---- */

#define LABELS_MAX 160

typedef struct slot {
    atomic_int state; /* 0 empty, 1 being filled, 2 ready */
    int metric;
    char labels[LABELS_MAX];
    atomic_uint_least64_t value;
} slot;

static slot slots[PACS_METRICS_LABELED_MAX];
static atomic_uint_least64_t overflow[PACS_METRIC_COUNT_];

/* ---- collectors ---- */

#define MAX_COLLECTORS 16

static pthread_mutex_t collectors_mu = PTHREAD_MUTEX_INITIALIZER;
static struct {
    pacs_metrics_collect_fn fn;
    void *ctx;
} collectors[MAX_COLLECTORS];
static size_t n_collectors;

static pthread_once_t start_once = PTHREAD_ONCE_INIT;
static double start_time; /* wall clock seconds, set once by the first render */

void pacs_metrics_add(pacs_metric m, uint64_t n)
{
    atomic_fetch_add_explicit(&values[m], n, memory_order_relaxed);
}

void pacs_metrics_sub(pacs_metric m, uint64_t n)
{
    atomic_fetch_sub_explicit(&values[m], n, memory_order_relaxed);
}

void pacs_metrics_set(pacs_metric m, int64_t value)
{
    atomic_store_explicit(&values[m], (uint64_t)value, memory_order_relaxed);
}

void pacs_metrics_observe(pacs_metric m, double seconds)
{
    size_t b = 0;
    while (b < N_BOUNDS && seconds > bounds[b]) {
        b++;
    }
    histogram *h = &histograms[m];
    atomic_fetch_add_explicit(&h->buckets[b], 1, memory_order_relaxed);
    uint64_t us = seconds > 0 ? (uint64_t)(seconds * 1e6 + 0.5) : 0;
    atomic_fetch_add_explicit(&h->sum_us, us, memory_order_relaxed);
}

static uint32_t hash_labels(pacs_metric m, const char *s)
{
    uint32_t h = 2166136261u ^ (uint32_t)m; /* FNV-1a */
    for (; *s; s++) {
        h = (h ^ (unsigned char)*s) * 16777619u;
    }
    return h;
}

void pacs_metrics_add_labeled(pacs_metric m, const char *labels, uint64_t n)
{
    size_t len = strlen(labels);
    if (len >= LABELS_MAX) {
        atomic_fetch_add_explicit(&overflow[m], n, memory_order_relaxed);
        return;
    }
    uint32_t h = hash_labels(m, labels);
    for (size_t probe = 0; probe < PACS_METRICS_LABELED_MAX; probe++) {
        slot *s = &slots[(h + probe) % PACS_METRICS_LABELED_MAX];
        int st = atomic_load_explicit(&s->state, memory_order_acquire);
        if (st == 0) {
            int expect = 0;
            if (atomic_compare_exchange_strong(&s->state, &expect, 1)) {
                s->metric = (int)m;
                memcpy(s->labels, labels, len + 1);
                atomic_fetch_add_explicit(&s->value, n, memory_order_relaxed);
                atomic_store_explicit(&s->state, 2, memory_order_release);
                return;
            }
            st = expect;
        }
        /* Another thread is filling this slot: its labels may be ours. A few instructions. */
        while (st == 1) {
            sched_yield();
            st = atomic_load_explicit(&s->state, memory_order_acquire);
        }
        if (s->metric == (int)m && strcmp(s->labels, labels) == 0) {
            atomic_fetch_add_explicit(&s->value, n, memory_order_relaxed);
            return;
        }
    }
    atomic_fetch_add_explicit(&overflow[m], n, memory_order_relaxed);
}

char *pacs_metrics_label(char *buf, size_t cap, const char *name, const char *value)
{
    size_t o = 0;
    if (cap == 0) {
        return buf;
    }
    int n = snprintf(buf, cap, "%s=\"", name);
    o = n < 0 ? 0 : (size_t)n >= cap ? cap - 1 : (size_t)n;
    for (const char *p = value; *p && o + 3 < cap; p++) {
        if (*p == '\\' || *p == '"') {
            buf[o++] = '\\';
            buf[o++] = *p;
        } else if (*p == '\n') {
            buf[o++] = '\\';
            buf[o++] = 'n';
        } else {
            buf[o++] = *p;
        }
    }
    if (o + 1 < cap) {
        buf[o++] = '"';
    }
    buf[o] = '\0';
    return buf;
}

double pacs_metrics_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

pacs_err pacs_metrics_add_collector(pacs_metrics_collect_fn fn, void *ctx, pacs_errinfo *ei)
{
    pacs_err err = PACS_OK;
    pthread_mutex_lock(&collectors_mu);
    if (n_collectors == MAX_COLLECTORS) {
        err = pacs_errf(ei, PACS_ETOOBIG, "more than %d metrics collectors", MAX_COLLECTORS);
    } else {
        collectors[n_collectors].fn = fn;
        collectors[n_collectors].ctx = ctx;
        n_collectors++;
    }
    pthread_mutex_unlock(&collectors_mu);
    return err;
}

void pacs_metrics_remove_collector(pacs_metrics_collect_fn fn, void *ctx)
{
    pthread_mutex_lock(&collectors_mu);
    for (size_t i = 0; i < n_collectors; i++) {
        if (collectors[i].fn == fn && collectors[i].ctx == ctx) {
            memmove(&collectors[i], &collectors[i + 1],
                    (n_collectors - i - 1) * sizeof *collectors);
            n_collectors--;
            break;
        }
    }
    pthread_mutex_unlock(&collectors_mu);
}

/* ---- rendering ---- */

void pacs_metrics_family(pacs_buf *out, const char *name, const char *type, const char *help)
{
    pacs_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

void pacs_metrics_sample(pacs_buf *out, const char *name, const char *labels, double value)
{
    if (labels && labels[0]) {
        pacs_buf_printf(out, "%s{%s} %.15g\n", name, labels, value);
    } else {
        pacs_buf_printf(out, "%s %.15g\n", name, value);
    }
}

static void sample_u64(pacs_buf *out, const char *name, const char *suffix, const char *labels,
                       uint64_t v)
{
    if (labels && labels[0]) {
        pacs_buf_printf(out, "%s%s{%s} %llu\n", name, suffix, labels, (unsigned long long)v);
    } else {
        pacs_buf_printf(out, "%s%s %llu\n", name, suffix, (unsigned long long)v);
    }
}

static void render_histogram(pacs_buf *out, const def *d, histogram *h)
{
    uint64_t cumulative = 0;
    const char *sep = d->labels[0] ? "," : "";
    for (size_t b = 0; b <= N_BOUNDS; b++) {
        cumulative += atomic_load_explicit(&h->buckets[b], memory_order_relaxed);
        char le[32];
        if (b < N_BOUNDS) {
            snprintf(le, sizeof le, "%g", bounds[b]);
        } else {
            snprintf(le, sizeof le, "+Inf");
        }
        pacs_buf_printf(out, "%s_bucket{%s%sle=\"%s\"} %llu\n", d->name, d->labels, sep, le,
                        (unsigned long long)cumulative);
    }
    double sum = (double)atomic_load_explicit(&h->sum_us, memory_order_relaxed) / 1e6;
    if (d->labels[0]) {
        pacs_buf_printf(out, "%s_sum{%s} %.6f\n", d->name, d->labels, sum);
    } else {
        pacs_buf_printf(out, "%s_sum %.6f\n", d->name, sum);
    }
    sample_u64(out, d->name, "_count", d->labels, cumulative);
}

static void render_labeled(pacs_buf *out, pacs_metric m)
{
    const def *d = &defs[m];
    for (size_t i = 0; i < PACS_METRICS_LABELED_MAX; i++) {
        slot *s = &slots[i];
        if (atomic_load_explicit(&s->state, memory_order_acquire) != 2 || s->metric != (int)m) {
            continue;
        }
        sample_u64(out, d->name, "", s->labels,
                   atomic_load_explicit(&s->value, memory_order_relaxed));
    }
    uint64_t over = atomic_load_explicit(&overflow[m], memory_order_relaxed);
    if (over) {
        sample_u64(out, d->name, "", "overflow=\"true\"", over);
    }
}

static void render_process(pacs_buf *out)
{
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0) {
        double cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
                     (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
        pacs_metrics_family(out, "process_cpu_seconds_total", "counter",
                            "user and system CPU time of the process");
        pacs_metrics_sample(out, "process_cpu_seconds_total", NULL, cpu);
    }
    FILE *f = fopen("/proc/self/statm", "re");
    unsigned long pages = 0, resident = 0;
    if (f) {
        if (fscanf(f, "%lu %lu", &pages, &resident) == 2) {
            pacs_metrics_family(out, "process_resident_memory_bytes", "gauge",
                                "resident memory of the process");
            pacs_metrics_sample(out, "process_resident_memory_bytes", NULL,
                                (double)resident * (double)sysconf(_SC_PAGESIZE));
        }
        fclose(f);
    }
    DIR *fds = opendir("/proc/self/fd");
    if (fds) {
        double n = 0;
        for (const struct dirent *e = readdir(fds); e; e = readdir(fds)) {
            n += e->d_name[0] != '.';
        }
        closedir(fds);
        pacs_metrics_family(out, "process_open_fds", "gauge", "open file descriptors");
        pacs_metrics_sample(out, "process_open_fds", NULL, n - 1); /* less opendir's own */
    }
    pacs_metrics_family(out, "process_start_time_seconds", "gauge",
                        "start of the process, seconds since the epoch");
    pacs_metrics_sample(out, "process_start_time_seconds", NULL, start_time);
}

static double wall_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* The process's start: from /proc/self/stat's start time in clock ticks after boot. */
static void process_start(void)
{
    FILE *f = fopen("/proc/self/stat", "re");
    char line[1024];
    double start = 0;
    if (f) {
        if (fgets(line, sizeof line, f)) {
            const char *p = strrchr(line, ')'); /* the command may hold spaces */
            unsigned long long ticks = 0;
            int field = 2;
            for (; p && *p && field < 22; p++) {
                if (*p == ' ') {
                    field++;
                }
            }
            if (p && sscanf(p, "%llu", &ticks) == 1) {
                struct timespec up;
                clock_gettime(CLOCK_BOOTTIME, &up);
                double boot = wall_now() - ((double)up.tv_sec + (double)up.tv_nsec / 1e9);
                start = boot + (double)ticks / (double)sysconf(_SC_CLK_TCK);
            }
        }
        fclose(f);
    }
    start_time = start > 0 ? start : wall_now();
}

pacs_err pacs_metrics_render(pacs_buf *out)
{
    pthread_once(&start_once, process_start);
    const char *family = "";
    for (int m = 0; m < PACS_METRIC_COUNT_; m++) {
        const def *d = &defs[m];
        if (strcmp(d->name, family) != 0) {
            static const char *const types[] = {"counter", "gauge", "histogram", "counter"};
            pacs_metrics_family(out, d->name, types[d->type], d->help);
            family = d->name;
        }
        if (d->type == T_HISTOGRAM) {
            render_histogram(out, d, &histograms[m]);
        } else if (d->type == T_LABELED) {
            render_labeled(out, (pacs_metric)m);
        } else if (d->type == T_GAUGE) {
            uint64_t v = atomic_load_explicit(&values[m], memory_order_relaxed);
            pacs_buf_printf(out, "%s%s%s%s %lld\n", d->name, d->labels[0] ? "{" : "", d->labels,
                            d->labels[0] ? "}" : "", (long long)(int64_t)v);
        } else {
            sample_u64(out, d->name, "", d->labels,
                       atomic_load_explicit(&values[m], memory_order_relaxed));
        }
    }
    render_process(out);
    pthread_mutex_lock(&collectors_mu);
    for (size_t i = 0; i < n_collectors; i++) {
        collectors[i].fn(collectors[i].ctx, out);
    }
    pthread_mutex_unlock(&collectors_mu);
    /* A buffer that filled up dropped a line (none is 1 KiB long): say so rather than serve a
     * partial scrape. */
    if (out->len + 1024 >= out->max) {
        return PACS_ETOOBIG;
    }
    return PACS_OK;
}

void pacs_metrics_reset(void)
{
    for (int m = 0; m < PACS_METRIC_COUNT_; m++) {
        atomic_store(&values[m], 0);
        atomic_store(&overflow[m], 0);
        for (size_t b = 0; b <= N_BOUNDS; b++) {
            atomic_store(&histograms[m].buckets[b], 0);
        }
        atomic_store(&histograms[m].sum_us, 0);
    }
    for (size_t i = 0; i < PACS_METRICS_LABELED_MAX; i++) {
        atomic_store(&slots[i].value, 0);
        atomic_store(&slots[i].state, 0);
    }
}
