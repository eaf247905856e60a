// SPDX-License-Identifier: MIT
/*
 * The progress meter of the pacs command (tool.h): a single status line on a terminal, redrawn
 * with a carriage return, throttled to ten updates a second. Nothing is drawn when stderr is
 * not a terminal (logs, CI, pipes), so output stays clean there. Thread-safe (one mutex).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tools/cli/tool.h"

static double seconds_between(const struct timespec *a, const struct timespec *b)
{
    return (double)(b->tv_sec - a->tv_sec) + (double)(b->tv_nsec - a->tv_nsec) / 1e9;
}

void pacs_progress_start(pacs_progress *p, const char *what, uint64_t total)
{
    memset(p, 0, sizeof *p);
    p->what = what;
    p->total = total;
    const char *term = getenv("TERM");
    p->tty = isatty(STDERR_FILENO) && !(term && strcmp(term, "dumb") == 0);
    clock_gettime(CLOCK_MONOTONIC, &p->start);
    p->last = p->start;
    pthread_mutex_init(&p->mu, NULL);
}

double pacs_progress_elapsed(const pacs_progress *p)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return seconds_between(&p->start, &now);
}

static void draw(pacs_progress *p)
{
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    double elapsed = seconds_between(&p->start, &now);
    double rate = elapsed > 0 ? (double)p->done / elapsed : 0;
    char line[160];
    int n;
    if (p->total > 0) {
        double left =
            rate > 0 ? (double)(p->total - (p->done < p->total ? p->done : p->total)) / rate : 0;
        long secs = (long)(left + 0.5);
        n = snprintf(line, sizeof line, "\r\033[K%s  %llu/%llu  %3.0f%%  %.1f/s  %ld:%02ld left",
                     p->what, (unsigned long long)p->done, (unsigned long long)p->total,
                     100.0 * (double)p->done / (double)p->total, rate, secs / 60, secs % 60);
    } else {
        n = snprintf(line, sizeof line, "\r\033[K%s  %llu  %.1f/s", p->what,
                     (unsigned long long)p->done, rate);
    }
    if (n > 0) {
        ssize_t w = write(STDERR_FILENO, line, (size_t)n < sizeof line ? (size_t)n : sizeof line);
        (void)w;
        p->shown = 1;
    }
    p->last = now;
}

void pacs_progress_set(pacs_progress *p, uint64_t done, uint64_t total)
{
    if (!p->tty) {
        return;
    }
    pthread_mutex_lock(&p->mu);
    p->done = done;
    if (total) {
        p->total = total;
    }
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (seconds_between(&p->last, &now) >= 0.1 || (p->total && done == p->total)) {
        draw(p);
    }
    pthread_mutex_unlock(&p->mu);
}

static void erase(pacs_progress *p)
{
    if (p && p->tty && p->shown) {
        ssize_t w = write(STDERR_FILENO, "\r\033[K", 4);
        (void)w;
        p->shown = 0;
    }
}

void pacs_progress_clear(pacs_progress *p)
{
    pthread_mutex_lock(&p->mu);
    erase(p);
    pthread_mutex_unlock(&p->mu);
}

void pacs_progress_end(pacs_progress *p)
{
    pthread_mutex_lock(&p->mu);
    erase(p);
    pthread_mutex_unlock(&p->mu);
    pthread_mutex_destroy(&p->mu);
}

void pacs_tool__msg(pacs_progress *p, const char *fmt, ...)
{
    char line[2048];
    int n = snprintf(line, sizeof line, "pacs: ");
    va_list ap;
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
    va_end(ap);
    size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
    if (len > sizeof line - 2) {
        len = sizeof line - 2;
    }
    line[len++] = '\n';
    if (p) {
        pthread_mutex_lock(&p->mu);
        erase(p);
    }
    ssize_t w = write(STDERR_FILENO, line, len);
    (void)w;
    if (p) {
        pthread_mutex_unlock(&p->mu);
    }
}

void pacs_tool__size(uint64_t bytes, char *buf, size_t cap)
{
    static const char *const units[] = {"B", "KB", "MB", "GB", "TB"};
    double v = (double)bytes;
    int u = 0;
    while (v >= 1000 && u < 4) {
        v /= 1000;
        u++;
    }
    snprintf(buf, cap, u ? "%.1f %s" : "%.0f %s", v, units[u]);
}
