// SPDX-License-Identifier: MIT
/*
 * pacs-bench's import figure (run.h): folders of small files (16x16 CT and DX, a new set each
 * run) taken into the archive the way each server documents. For pacsd that is `pacs import
 * DIR` beside the running pacsd, on its data folder and with its settings (the `pacs` tool of
 * the same build tree, its default --jobs), timed by the wall clock around the process; a run
 * counts only if it exits 0 and its summary says every file was stored as new. Orthanc has no
 * import command: its sample ImportDicomFiles.py sends one REST `POST /instances` per file,
 * which is done here on 4 keep-alive connections (4 threads), bodies read before the clock
 * starts; a run counts only if every answer is 200 with Status "Success" (the sets are new, so
 * "AlreadyStored" is a failure).
 *
 * Load: the server's ingest path per file. Thread-safety: the POST clients run on 4 threads,
 * each with its own connection and its own files; the rest is the main thread.
 */
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tools/bench/run.h"

#define POST_CLIENTS 4

/* ---- pacsd: `pacs import` ---- */

/* Checks `pacs import`'s summary line in `log`: every one of `expect` files stored as new, no
 * failure. 0, or -1 with `why`. */
static int check_summary(const char *log, size_t expect, char *why, size_t cap)
{
    FILE *f = fopen(log, "r");
    char line[1024], last[1024] = "";
    while (f && fgets(line, sizeof line, f)) {
        if (strncmp(line, "imported ", 9) == 0) {
            snprintf(last, sizeof last, "%s", line);
        }
    }
    if (f) {
        fclose(f);
    }
    unsigned long long stored, listed, fresh, dups, replaced, skipped, failed;
    const char *tail = strstr(last, "): ");
    if (sscanf(last, "imported %llu of %llu file(s)", &stored, &listed) != 2 || !tail ||
        sscanf(tail,
               "): %llu new, %llu already stored, %llu replaced; %llu skipped (not DICOM), "
               "%llu failed",
               &fresh, &dups, &replaced, &skipped, &failed) != 5) {
        snprintf(why, cap, "no pacs import summary in %.120s", log);
        return -1;
    }
    if (listed != expect || stored != expect || fresh != expect || failed || skipped) {
        snprintf(why, cap, "%llu of %zu files stored as new (%llu listed, %llu failed)", fresh,
                 expect, listed, failed);
        return -1;
    }
    return 0;
}

/* `pacs --data DATA ... import DIR` for run `r`: the seconds it took, or -1 with `why`. */
static double run_pacs_import(const bench_cfg *c, const bench_server *s, int r, size_t expect,
                              char *why, size_t cap)
{
    char tool[2300], dir[2900], log[2200];
    bench_pacs_tool(c, tool, sizeof tool);
    if (access(tool, X_OK) != 0) {
        snprintf(why, cap, "no pacs tool beside pacsd (%.100s)", tool);
        return -1;
    }
    bench_import_dir(c, r, dir, sizeof dir);
    snprintf(log, sizeof log, "%s/run/import-%d.log", c->work, r);
    unlink(log);
    const char *tail[] = {"import", dir, NULL};
    char *argv[32];
    if (bench_pacsd_argv(s, tool, tail, argv, 32) != 0) {
        snprintf(why, cap, "command line too long");
        return -1;
    }
    double t0 = bench_now();
    int rc = bench_run(argv, log, 1800);
    double t = bench_now() - t0;
    if (rc != 0) {
        snprintf(why, cap, "pacs import exit %d (see %.100s)", rc, log);
        return -1;
    }
    return check_summary(log, expect, why, cap) == 0 ? t : -1;
}

/* ---- Orthanc: one POST /instances per file ---- */

typedef struct post_client {
    const char *url;
    char **body; /* this client's files, read before the clock starts */
    size_t *len;
    size_t n;
    size_t ok;
    char why[160];
} post_client;

/* True when Orthanc's answer to POST /instances says the instance was stored now. */
static int answer_success(const char *body, size_t len)
{
    json_t *j = json_loadb(body, len, 0, NULL);
    const char *st = json_string_value(json_object_get(j, "Status"));
    int yes = st && strcmp(st, "Success") == 0;
    json_decref(j);
    return yes;
}

static void *post_worker(void *arg)
{
    post_client *pc = arg;
    bench_http *h = bench_http_new();
    if (!h) {
        snprintf(pc->why, sizeof pc->why, "out of memory");
        return NULL;
    }
    bench_http_keep_body(h, 4096);
    for (size_t i = 0; i < pc->n; i++) {
        long st = 0;
        double secs;
        pacs_errinfo ei;
        if (bench_http_post(h, pc->url, "application/dicom", "application/json", pc->body[i],
                            pc->len[i], &st, &secs, &ei) != PACS_OK ||
            st != 200) {
            snprintf(pc->why, sizeof pc->why, "HTTP %ld %.100s", st, st ? "" : ei.msg);
            break;
        }
        size_t blen;
        const char *b = bench_http_body(h, &blen);
        if (!answer_success(b, blen)) {
            snprintf(pc->why, sizeof pc->why, "answer: %.100s", b);
            break;
        }
        pc->ok++;
    }
    bench_http_free(h);
    return NULL;
}

/* The whole file at `path` in a new buffer (the caller frees it), or NULL. */
static char *read_whole(const char *path, size_t *len)
{
    struct stat sb;
    FILE *f = fopen(path, "rb");
    char *b = NULL;
    if (f && fstat(fileno(f), &sb) == 0 && (b = malloc((size_t)sb.st_size + 1)) != NULL) {
        *len = fread(b, 1, (size_t)sb.st_size, f);
        if (*len != (size_t)sb.st_size) {
            free(b);
            b = NULL;
        }
    }
    if (f) {
        fclose(f);
    }
    return b;
}

/* Runs the POST_CLIENTS clients of `pc` at once: the seconds until the last is done, or -1
 * with `why` unless all `expect` files were stored. */
static double post_timed(post_client *pc, size_t expect, char *why, size_t cap)
{
    pthread_t th[POST_CLIENTS];
    int started = 0, ok = 1;
    size_t stored = 0;
    double t0 = bench_now();
    for (int i = 0; i < POST_CLIENTS; i++) {
        if (pthread_create(&th[i], NULL, post_worker, &pc[i]) != 0) {
            snprintf(why, cap, "cannot start a client thread");
            ok = 0;
            break;
        }
        started++;
    }
    for (int i = 0; i < started; i++) {
        pthread_join(th[i], NULL);
        stored += pc[i].ok;
        if (pc[i].why[0] && ok) {
            snprintf(why, cap, "%s", pc[i].why);
            ok = 0;
        }
    }
    double t = bench_now() - t0;
    if (ok && stored != expect) {
        snprintf(why, cap, "%zu of %zu stored", stored, expect);
        ok = 0;
    }
    return ok ? t : -1;
}

/* POSTs every file of `f` to `url` on POST_CLIENTS connections, each with a round-robin share
 * read into memory first: the seconds, or -1 with `why`. */
static double post_all(const char *url, const bench_files *f, char *why, size_t cap)
{
    bench_files parts[POST_CLIENTS];
    post_client pc[POST_CLIENTS];
    int ok = 1;
    bench_files_split(f, parts, POST_CLIENTS);
    memset(pc, 0, sizeof pc);
    for (int i = 0; i < POST_CLIENTS && ok; i++) {
        pc[i].url = url;
        pc[i].body = calloc(parts[i].n + 1, sizeof *pc[i].body);
        pc[i].len = calloc(parts[i].n + 1, sizeof *pc[i].len);
        ok = pc[i].body && pc[i].len;
        for (size_t k = 0; ok && k < parts[i].n; k++) {
            pc[i].body[k] = read_whole(parts[i].path[k], &pc[i].len[k]);
            ok = pc[i].body[k] != NULL;
            pc[i].n += ok;
        }
    }
    double t = -1;
    if (ok) {
        t = post_timed(pc, f->n, why, cap);
    } else {
        snprintf(why, cap, "cannot read the files");
    }
    for (int i = 0; i < POST_CLIENTS; i++) {
        for (size_t k = 0; k < pc[i].n; k++) {
            free(pc[i].body[k]);
        }
        free(pc[i].body);
        free(pc[i].len);
        bench_files_free(&parts[i]);
    }
    return t;
}

void bench_measure_import(const bench_cfg *c, const bench_layout *l, bench_dataset *ds,
                          bench_server *s, bench_report *rep, int *stored)
{
    const int k = s->kind;
    char why[512] = "", url[512];
    bench_row *ri =
        bench_report_row(rep, "import_small", "pacs import / POST /instances, small files (16x16)",
                         "inst/s", BENCH_HIGHER);
    printf("pacs-bench: [%s] %s, %d runs of %zu files\n", s->name,
           k == BENCH_PACSD ? "pacs import" : "POST /instances, 4 connections", c->runs,
           ds->import[0].n);
    fflush(stdout);
    snprintf(url, sizeof url, "http://127.0.0.1:%d/instances", s->http_port);
    for (int r = 0; r < c->runs; r++) {
        const bench_files *f = &ds->import[r];
        double t = k == BENCH_PACSD ? run_pacs_import(c, s, r, f->n, why, sizeof why)
                                    : post_all(url, f, why, sizeof why);
        if (t <= 0 || f->n == 0) {
            bench_samples_note(&ri->s[k], "%s", f->n ? why : "no files");
            break;
        }
        bench_samples_add(&ri->s[k], (double)f->n / t);
        for (uint32_t i = 0; i < c->import_studies; i++) {
            stored[l->import + (uint32_t)r * c->import_studies + i] = 1;
        }
    }
}
