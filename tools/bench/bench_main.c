// SPDX-License-Identifier: MIT
/*
 * pacs-bench: the benchmark of issue 6. Generates one deterministic data set (data.c), measures
 * the machine's limits (measure_limits.c: storescu -> storescp --ignore, durable file writes,
 * copying the import sets, loopback TCP, SHA-256), then starts pacsd and Orthanc one after the
 * other on loopback (servers.c), each with an empty temporary data folder, and measures both
 * through DIMSE and DICOMweb only (measure.c): bulk load of the index, C-STORE ingest on 1 and
 * 4 associations, STOW-RS, the import of folders of small files (`pacs import` beside pacsd;
 * for Orthanc, one REST POST /instances per file), C-FIND and QIDO-RS latency on the big index,
 * QIDO throughput on 4 connections, WADO-RS study retrieval, study metadata, frames and
 * rendered images, peak RSS and bytes on disk. Prints a Markdown table and writes report.md
 * and report.json in the work folder (report.c), with the targets of each figure (targets.c).
 *
 * Load: the clients are DCMTK's storescu (as the protocol ceiling is measured with it), one
 * kept-open association for C-FIND and keep-alive libcurl handles for HTTP, so that what is
 * timed is the server. Single-threaded except the QIDO throughput and POST /instances clients.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "pacs/dicom/dcm.h"
#include "tools/bench/run.h"

static void usage(FILE *f)
{
    fprintf(f, "usage: pacs-bench [options]\n"
               "  --size S        smoke, small (default, a few minutes), full (20,000 studies /\n"
               "                  60,000+ instances in the index) or huge (1,000,000 instances)\n"
               "  --work DIR      work folder: generated data (kept and reused), server data,\n"
               "                  logs, report.md, report.json (default ./bench-work)\n"
               "  --servers LIST  pacsd,orthanc (default both)\n"
               "  --orthanc MODE  install (default: apt-get install orthanc orthanc-dicomweb when\n"
               "                  missing), auto (use it if installed) or no\n"
               "  --pacsd PATH    the pacsd binary (default: next to this build's tools/)\n"
               "  --seed N        data seed (default 1)\n"
               "  --fill N        studies in the index (overrides the size)\n"
               "  --runs N        runs per ingest and import figure (overrides the size)\n"
               "  -j N            generator threads (default: number of CPUs)\n"
               "  --keep          keep the servers' data folders\n");
}

static void default_pacsd(char *out, size_t cap)
{
    char self[2048];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    out[0] = '\0';
    if (n <= 0) {
        return;
    }
    self[n] = '\0';
    char *slash = strrchr(self, '/');
    if (slash) {
        *slash = '\0';
    }
    /* build/bin/pacs-bench -> build/bin/pacsd */
    snprintf(out, cap, "%s/pacsd", self);
}

/* The 1-minute load average: figures from a busy machine are not comparable with others. */
static void note_load(bench_report *rep, const char *key)
{
    FILE *f = fopen("/proc/loadavg", "r");
    char buf[128] = "";
    if (f) {
        if (!fgets(buf, sizeof buf, f)) {
            buf[0] = '\0';
        }
        fclose(f);
    }
    buf[strcspn(buf, "\n")] = '\0';
    bench_report_meta(rep, key, buf);
}

static void capture_version(const char *bin, const char *arg, char *out, size_t cap,
                            const char *tmp)
{
    char *argv[] = {(char *)bin, (char *)arg, NULL};
    unlink(tmp);
    out[0] = '\0';
    if (bench_run(argv, tmp, 10) < 0) {
        return;
    }
    FILE *f = fopen(tmp, "r");
    if (f) {
        if (fgets(out, (int)cap, f)) {
            out[strcspn(out, "\n")] = '\0';
        }
        fclose(f);
    }
    unlink(tmp);
}

/* Reads the options into `c` and `*work`. Returns -1 to go on, or the exit status. */
static int parse_options(int argc, char **argv, bench_cfg *c, const char **work)
{
    memset(c, 0, sizeof *c);
    bench_cfg_size(c, "small");
    c->seed = 1;
    c->orthanc_mode = "install";
    c->want[BENCH_PACSD] = c->want[BENCH_ORTHANC] = 1;
    c->jobs = (int)sysconf(_SC_NPROCESSORS_ONLN);
    *work = "./bench-work";
    static char pacsd_buf[2200];
    default_pacsd(pacsd_buf, sizeof pacsd_buf);
    c->pacsd = pacsd_buf;
    long fill = -1, runs = -1;
    static const struct option opts[] = {
        {"size", required_argument, NULL, 's'},
        {"work", required_argument, NULL, 'w'},
        {"servers", required_argument, NULL, 'S'},
        {"orthanc", required_argument, NULL, 'o'},
        {"pacsd", required_argument, NULL, 'p'},
        {"seed", required_argument, NULL, 'e'},
        {"fill", required_argument, NULL, 'f'},
        {"runs", required_argument, NULL, 'r'},
        {"keep", no_argument, NULL, 'k'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int o;
    while ((o = getopt_long(argc, argv, "j:h", opts, NULL)) != -1) {
        switch (o) {
        case 's':
            if (bench_cfg_size(c, optarg) != 0) {
                usage(stderr);
                return 2;
            }
            break;
        case 'w':
            *work = optarg;
            break;
        case 'S':
            c->want[BENCH_PACSD] = strstr(optarg, "pacsd") != NULL;
            c->want[BENCH_ORTHANC] = strstr(optarg, "orthanc") != NULL;
            break;
        case 'o':
            c->orthanc_mode = optarg;
            break;
        case 'p':
            c->pacsd = optarg;
            break;
        case 'e':
            c->seed = strtoull(optarg, NULL, 10);
            break;
        case 'f':
            fill = atol(optarg);
            break;
        case 'r':
            runs = atol(optarg);
            break;
        case 'j':
            c->jobs = atoi(optarg);
            break;
        case 'k':
            c->keep = 1;
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (fill > 0) {
        c->fill_studies = (uint32_t)fill;
    }
    if (runs > 0) {
        c->runs = runs > 16 ? 16 : (int)runs;
    }
    if (strcmp(c->orthanc_mode, "install") != 0 && strcmp(c->orthanc_mode, "auto") != 0 &&
        strcmp(c->orthanc_mode, "no") != 0) {
        usage(stderr);
        return 2;
    }
    return -1;
}

/* The work folder (made, and its run/ folder emptied) and the data folder's name; DCMTK and
 * libcurl set up. 0, or 1 (reported). */
static int prepare(bench_cfg *c, const char *work)
{
    /* Nagle's algorithm off for every DCMTK process this starts, and for Orthanc. */
    setenv("TCP_NODELAY", "1", 1);
    pacs_errinfo ei;
    pacs_errinfo_clear(&ei);
    if (pacs_dcm_init(&ei) != PACS_OK) {
        fprintf(stderr, "pacs-bench: %s\n", ei.msg);
        return 1;
    }
    bench_http_global_init();
    if (gen_mkdirs(work, &ei) != PACS_OK || !realpath(work, c->work)) {
        fprintf(stderr, "pacs-bench: cannot use work folder %s\n", work);
        return 1;
    }
    snprintf(c->data, sizeof c->data, "%s/data-s%llu-f%u-m%u-h%u-t%u-r%d-d%ux%ux%u-i%ux%ux%u",
             c->work, (unsigned long long)c->seed, c->fill_studies, c->fill_matrix, c->hot_slices,
             c->meta_slices, c->runs, c->dx_images, c->dx_rows, c->dx_cols, c->import_studies,
             c->import_per_study, c->import_matrix);
    char run_dir[2100];
    snprintf(run_dir, sizeof run_dir, "%s/run", c->work);
    bench_rmtree(run_dir);
    gen_mkdirs(run_dir, &ei);
    return 0;
}

/* The report's header: the command, size, date, machine and data set. */
static void describe(bench_report *rep, const bench_cfg *c, int argc, char **argv)
{
    char cmd[2048] = "";
    for (int i = 0; i < argc; i++) {
        strncat(cmd, argv[i], sizeof cmd - strlen(cmd) - 2);
        strncat(cmd, " ", sizeof cmd - strlen(cmd) - 1);
    }
    bench_report_meta(rep, "command", cmd);
    bench_report_meta(rep, "size", c->size);
    char buf[512];
    time_t now = time(NULL);
    strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", gmtime(&now));
    bench_report_meta(rep, "date", buf);
    struct utsname u;
    uname(&u);
    FILE *f = fopen("/proc/cpuinfo", "r");
    char model[256] = "?";
    char line[512];
    while (f && fgets(line, sizeof line, f)) {
        if (strncmp(line, "model name", 10) == 0) {
            char *p = strchr(line, ':');
            snprintf(model, sizeof model, "%.200s", p ? p + 2 : line);
            model[strcspn(model, "\n")] = '\0';
            break;
        }
    }
    if (f) {
        fclose(f);
    }
    snprintf(buf, sizeof buf, "%ld CPUs (%s), %.1f GiB RAM, Linux %s",
             sysconf(_SC_NPROCESSORS_ONLN), model,
             (double)sysconf(_SC_PHYS_PAGES) * (double)sysconf(_SC_PAGESIZE) / (1 << 30),
             u.release);
    bench_report_meta(rep, "machine", buf);
    snprintf(buf, sizeof buf,
             "%u fill studies x %u instances (%ux%u), one %u-slice CT study, %d runs of "
             "%u-slice CT studies and %u DX %ux%u, %d import runs of %u studies x %u instances "
             "(%ux%u), seed %llu",
             c->fill_studies, c->fill_per_study, c->fill_matrix, c->fill_matrix, c->meta_slices,
             c->runs, c->hot_slices, c->dx_images, c->dx_rows, c->dx_cols, c->runs,
             c->import_studies, c->import_per_study, c->import_matrix, c->import_matrix,
             (unsigned long long)c->seed);
    bench_report_meta(rep, "data", buf);
}

/* Starts, measures and stops each server in turn. Returns 1 when one did not start. */
static int measure_servers(const bench_cfg *c, const bench_layout *l, bench_dataset *ds,
                           bench_report *rep)
{
    int *stored = calloc(l->w.n_studies, sizeof *stored);
    char vtmp[3000];
    snprintf(vtmp, sizeof vtmp, "%s/run/version.txt", c->work);
    int rc = 0;
    for (int kind = 0; kind < BENCH_NSERVERS && stored; kind++) {
        if (!c->want[kind]) {
            continue;
        }
        bench_server s;
        memset(&s, 0, sizeof s);
        s.kind = kind;
        s.name = kind == BENCH_PACSD ? "pacsd" : "Orthanc";
        int ok;
        char ver[256];
        if (kind == BENCH_PACSD) {
            capture_version(c->pacsd, "--version", ver, sizeof ver, vtmp);
            bench_report_meta(rep, "pacsd", ver[0] ? ver : c->pacsd);
            ok = bench_server_start_pacsd(c, &s) == 0;
        } else {
            char why[256] = "";
            const char *bin = bench_orthanc_ensure(c, why, sizeof why);
            if (!bin) {
                printf("pacs-bench: skipping Orthanc: %s\n", why);
                bench_report_meta(rep, "orthanc", why);
                continue;
            }
            capture_version(bin, "--version", ver, sizeof ver, vtmp);
            bench_report_meta(rep, "orthanc", ver);
            ok = bench_server_start_orthanc(c, &s, bin) == 0;
        }
        if (!ok) {
            fprintf(stderr, "pacs-bench: %s did not start; see %s\n", s.name, s.log);
            bench_stop(s.pid, 5);
            rc = 1;
            continue;
        }
        printf("pacs-bench: [%s] started: DICOM port %d, HTTP port %d\n", s.name, s.dimse_port,
               s.http_port);
        memset(stored, 0, l->w.n_studies * sizeof *stored);
        bench_measure_server(c, l, ds, &s, rep, stored);
        bench_stop(s.pid, 60);
        bench_measure_disk(l, ds, &s, c, stored, rep);
        if (!c->keep) {
            bench_rmtree(s.dir);
        }
    }
    free(stored);
    return rc;
}

int main(int argc, char **argv)
{
    bench_cfg c;
    const char *work;
    int rc = parse_options(argc, argv, &c, &work);
    if (rc >= 0) {
        return rc;
    }
    if (prepare(&c, work) != 0) {
        return 1;
    }
    bench_report *rep = bench_report_new();
    if (!rep) {
        return 1;
    }
    describe(rep, &c, argc, argv);
    note_load(rep, "load average at start (1, 5, 15 min)");
    bench_layout l;
    bench_layout_init(&l, &c);
    double t_start = bench_now();
    if (bench_generate(&c, &l, rep) != 0) {
        bench_report_free(rep);
        return 1;
    }
    bench_dataset ds;
    bench_dataset_load(&ds, &c);
    char buf[256];
    snprintf(buf, sizeof buf,
             "%zu instances in the bulk load, %zu per CT ingest run, %zu per import run "
             "(%.1f KB each)",
             ds.fill_files, ds.ct1[0].n, ds.import[0].n,
             ds.import[0].n ? (double)ds.import[0].bytes / 1e3 / (double)ds.import[0].n : 0.0);
    bench_report_meta(rep, "instances", buf);

    bench_measure_limits(&c, &ds, rep);
    rc = measure_servers(&c, &l, &ds, rep);
    note_load(rep, "load average at end (1, 5, 15 min)");
    bench_attach_targets(rep, &c);
    snprintf(buf, sizeof buf, "%.0f s", bench_now() - t_start);
    bench_report_meta(rep, "duration", buf);
    char md[2200], js[2200];
    snprintf(md, sizeof md, "%s/report.md", c.work);
    snprintf(js, sizeof js, "%s/report.json", c.work);
    printf("\n");
    if (bench_report_write(rep, md, js, 1) != 0) {
        fprintf(stderr, "pacs-bench: cannot write %s\n", js);
        rc = 1;
    }
    printf("\npacs-bench: wrote %s and %s\n", md, js);
    bench_dataset_free(&ds, &c);
    bench_report_free(rep);
    return rc;
}
