// SPDX-License-Identifier: MIT
/*
 * storescu runs for pacs-bench (run.h): DCMTK's storescu, one process per association, timed
 * from its own log rather than by the clock of the process.
 *
 * Load: the client side of every C-STORE figure and of the protocol ceiling. Thread-safety:
 * main thread only; the storescu processes run in parallel.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tools/bench/run.h"

/*
 * storescu is timed from its own log, not by the wall clock of the process: its start-up
 * (loading the data dictionary, checking every input file) costs 50-100 ms, as much as
 * storing 100 instances, and has nothing to do with the server. The window runs from
 * "Requesting Association" to the last "Received Store Response", on a log whose lines carry
 * microsecond timestamps (DCMTK's log4cplus configuration, -lc).
 */
static int write_log_config(const char *cfg_path, const char *log_path)
{
    FILE *f = fopen(cfg_path, "w");
    if (!f) {
        return -1;
    }
    fprintf(f,
            "log4cplus.rootLogger = INFO, file\n"
            "log4cplus.appender.file = log4cplus::FileAppender\n"
            "log4cplus.appender.file.File = %s\n"
            "log4cplus.appender.file.Append = false\n"
            "log4cplus.appender.file.ImmediateFlush = false\n"
            "log4cplus.appender.file.layout = log4cplus::PatternLayout\n"
            "log4cplus.appender.file.layout.ConversionPattern = %%D{%%H:%%M:%%S.%%Q} %%m%%n\n",
            log_path);
    return fclose(f);
}

/* Seconds of the day from "HH:MM:SS.mmm.uuu", or -1. */
static double log_time(const char *line)
{
    unsigned h, m, sec, ms, us;
    if (sscanf(line, "%2u:%2u:%2u.%3u.%3u", &h, &m, &sec, &ms, &us) != 5) {
        return -1;
    }
    return h * 3600.0 + m * 60.0 + sec + ms / 1e3 + us / 1e6;
}

/* The log's window, its successful stores and (when `times` is given) their times. */
static int parse_scu_log(const char *path, double *start, double *end, size_t *ok,
                         bench_samples *times)
{
    FILE *f = fopen(path, "r");
    char line[4096];
    *start = *end = -1;
    *ok = 0;
    if (!f) {
        return -1;
    }
    while (fgets(line, sizeof line, f)) {
        double t = log_time(line);
        if (t < 0) {
            continue;
        }
        if (*start >= 0 && t < *start) {
            t += 86400; /* the run crossed midnight */
        }
        if (*start < 0 && strstr(line, " Requesting Association")) {
            *start = t;
        } else if (strstr(line, " Received Store Response")) {
            *end = t;
            if (strstr(line, "(Success)") || strstr(line, "Warning")) {
                (*ok)++;
                if (times) {
                    bench_samples_add(times, t);
                }
            }
        }
    }
    fclose(f);
    return *start >= 0 && *end >= 0 ? 0 : -1;
}

/* Starts storescu number `i` sending `list`'s files (or the folder `dir`, recursively) to
 * `aet` on `port`, logging to `log` (room for `cap`). Returns its pid, or -1. */
static pid_t start_one(const bench_cfg *c, int i, const char *aet, const char *port,
                       const bench_files *list, const char *dir, char *log, size_t cap)
{
    char cfg[3000], out[3000];
    snprintf(out, sizeof out, "%s/run/storescu.out", c->work);
    snprintf(cfg, sizeof cfg, "%s/run/scu-%d.cfg", c->work, i);
    snprintf(log, cap, "%s/run/scu-%d.log", c->work, i);
    unlink(log);
    if (write_log_config(cfg, log) != 0) {
        return -1;
    }
    size_t nf = dir ? 1 : list->n;
    char **argv = calloc(nf + 20, sizeof *argv);
    if (!argv) {
        return -1;
    }
    int a = 0;
    argv[a++] = "storescu";
    argv[a++] = "-lc";
    argv[a++] = cfg;
    argv[a++] = "-aet";
    argv[a++] = "BENCH";
    argv[a++] = "-aec";
    argv[a++] = (char *)aet;
    if (dir) {
        argv[a++] = "+sd";
        argv[a++] = "+r";
    }
    argv[a++] = "127.0.0.1";
    argv[a++] = (char *)port;
    if (dir) {
        argv[a++] = (char *)dir;
    } else {
        for (size_t k = 0; k < nf; k++) {
            argv[a++] = list->path[k];
        }
    }
    argv[a] = NULL;
    pid_t pid = bench_spawn(argv, out);
    free(argv);
    return pid;
}

/* The seconds the logs of `started` storescu runs (of `n`) took to store `expect` instances,
 * or -1 (with `why`) when one failed (`ok` already 0) or the count is wrong. */
static double window(char logs[][3000], int started, int n, size_t expect, int ok, char *why,
                     size_t why_cap)
{
    double first = -1, last = -1, late_start = -1, early_end = -1;
    size_t stored = 0;
    bench_samples times = {0};
    for (int i = 0; i < started; i++) {
        double s0, s1;
        size_t k;
        if (parse_scu_log(logs[i], &s0, &s1, &k, n > 1 ? &times : NULL) != 0) {
            ok = 0;
            continue;
        }
        stored += k;
        first = first < 0 || s0 < first ? s0 : first;
        last = s1 > last ? s1 : last;
        late_start = s0 > late_start ? s0 : late_start;
        early_end = early_end < 0 || s1 < early_end ? s1 : early_end;
    }
    if (stored != expect) {
        snprintf(why, why_cap, "%zu of %zu stored", stored, expect);
        ok = 0;
    }
    double secs = ok && last > first ? last - first : -1;
    /* Several associations: their start-ups (dictionary, file checks) overlap on few cores
     * and skew the window, so the rate is taken while all of them were open, and returned as
     * the time `expect` instances take at that rate. */
    if (secs > 0 && n > 1 && early_end - late_start > 0.25 * secs) {
        size_t in = 0;
        for (size_t i = 0; i < times.n; i++) {
            in += times.v[i] > late_start && times.v[i] <= early_end;
        }
        if (in >= 8) {
            secs = (double)expect * (early_end - late_start) / (double)in;
        }
    }
    bench_samples_free(&times);
    return secs;
}

double bench_storescu(const bench_cfg *c, const char *aet, int port, bench_files *lists, int n,
                      const char *const *dirs, size_t expect, double timeout_s, char *why,
                      size_t why_cap)
{
    pid_t pids[16];
    char portbuf[16], logs[16][3000];
    snprintf(portbuf, sizeof portbuf, "%d", port);
    int started = 0;
    for (int i = 0; i < n && i < 16; i++) {
        pids[i] = start_one(c, i, aet, portbuf, dirs ? NULL : &lists[i], dirs ? dirs[i] : NULL,
                            logs[i], sizeof logs[i]);
        if (pids[i] < 0) {
            break;
        }
        started++;
    }
    int ok = started == n;
    if (!ok) {
        snprintf(why, why_cap, "cannot start storescu");
    }
    for (int i = 0; i < started; i++) {
        int rc = bench_wait(pids[i], timeout_s);
        if (rc != 0 && ok) {
            ok = 0;
            snprintf(why, why_cap, "storescu exit %d", rc);
        }
    }
    return window(logs, started, n, expect, ok, why, why_cap);
}
