// SPDX-License-Identifier: MIT
/*
 * The machine's limits that pacs-bench sets each figure beside (run.h): DCMTK's storescu into
 * storescp --ignore (the DIMSE ceiling: the protocol with nothing stored) for CT on 1 and 4
 * associations, DX on 1 and the bulk load, then durable file writes, the copy of the import
 * sets, loopback TCP and SHA-256 (limits.c). Measured before any server starts, on the same
 * files the servers get.
 *
 * Load: the whole machine, briefly. Thread-safety: main thread only.
 */
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "pacs/base/config.h"
#include "tools/bench/run.h"

/* CT on `n` associations (1, or 4 with storescp --fork) into storescp on `port`. */
static void ceiling_ct(const bench_cfg *c, bench_dataset *ds, bench_report *rep, int mode, int port)
{
    char why[512];
    const char *idi = mode == 0 ? "ceiling_ct_1" : "ceiling_ct_4";
    bench_samples si = {0}, sm = {0};
    bench_files *set = mode == 0 ? ds->ct1 : ds->ct4;
    int n = mode == 0 ? 1 : 4;
    for (int r = 0; r < c->runs; r++) {
        bench_files parts[4];
        bench_files_split(&set[r], parts, n);
        double t =
            bench_storescu(c, "STORESCP", port, parts, n, NULL, set[r].n, 600, why, sizeof why);
        for (int i = 0; i < n; i++) {
            bench_files_free(&parts[i]);
        }
        if (t > 0) {
            bench_samples_add(&si, (double)set[r].n / t);
            bench_samples_add(&sm, (double)set[r].bytes / 1e6 / t);
        }
    }
    char label[128];
    snprintf(label, sizeof label, "storescu -> storescp --ignore%s, CT, %d association%s",
             mode ? " --fork" : "", n, n > 1 ? "s" : "");
    bench_report_limit(rep, idi, label, "inst/s", &si);
    char idm[64];
    snprintf(idm, sizeof idm, "%s_mb", idi);
    bench_report_limit(rep, idm, label, "MB/s", &sm);
    bench_samples_free(&si);
    bench_samples_free(&sm);
}

/* DX on 1 association into storescp on `port`. */
static void ceiling_dx(const bench_cfg *c, bench_dataset *ds, bench_report *rep, int port)
{
    char why[512];
    bench_samples di = {0}, dm = {0};
    for (int r = 0; r < c->runs; r++) {
        double t = bench_storescu(c, "STORESCP", port, &ds->dx[r], 1, NULL, ds->dx[r].n, 600, why,
                                  sizeof why);
        if (t > 0) {
            bench_samples_add(&di, (double)ds->dx[r].n / t);
            bench_samples_add(&dm, (double)ds->dx[r].bytes / 1e6 / t);
        }
    }
    bench_report_limit(rep, "ceiling_dx_1", "storescu -> storescp --ignore, DX, 1 association",
                       "inst/s", &di);
    bench_report_limit(rep, "ceiling_dx_1_mb", "storescu -> storescp --ignore, DX, 1 association",
                       "MB/s", &dm);
    bench_samples_free(&di);
    bench_samples_free(&dm);
}

/* The bulk load's folders, one association each, into storescp --fork on `port`. */
static void ceiling_bulk(const bench_cfg *c, bench_dataset *ds, bench_report *rep, int port)
{
    char why[512];
    const char *dirs[16];
    for (size_t i = 0; i < ds->fill_dirs.n && i < 16; i++) {
        dirs[i] = ds->fill_dirs.path[i];
    }
    bench_samples bi = {0};
    double t = bench_storescu(c, "STORESCP", port, NULL, (int)ds->fill_dirs.n, dirs, ds->fill_files,
                              3600, why, sizeof why);
    if (t > 0) {
        bench_samples_add(&bi, (double)ds->fill_files / t);
    }
    bench_report_limit(rep, "ceiling_bulk",
                       "storescu -> storescp --ignore --fork, bulk load, 4 associations", "inst/s",
                       &bi);
    bench_samples_free(&bi);
}

/* The largest PDU pacsd receives by default (dimse.max_pdu), which storescp is given too: with
 * DCMTK's default of 16 KB the ceiling on one association was 840-1236 instances/s against
 * 1089-1421 at pacsd's 64 KB (three alternating runs of 399 CT slices), so the figures were set
 * beside a limit below what the protocol allows pacsd. */
static long pacsd_max_pdu(void)
{
    pacs_config *cfg = pacs_config_new();
    long pdu = cfg ? pacs_config_int(cfg, "dimse.max_pdu") : 16384;
    pacs_config_free(cfg);
    return pdu;
}

/* storescp --ignore (mode 0) or storescp --fork --ignore (mode 1), and what is sent to it. */
static void ceilings(const bench_cfg *c, bench_dataset *ds, bench_report *rep, int mode)
{
    char log[3000];
    snprintf(log, sizeof log, "%s/run/storescp.log", c->work);
    int port = bench_free_port();
    char portbuf[16], pdubuf[24];
    snprintf(portbuf, sizeof portbuf, "%d", port);
    snprintf(pdubuf, sizeof pdubuf, "%ld", pacsd_max_pdu());
    char *argv1[] = {"storescp", "--ignore", "--max-pdu", pdubuf,
                     "-aet",     "STORESCP", portbuf,     NULL};
    char *argv4[] = {"storescp", "--fork",   "--ignore", "--max-pdu", pdubuf,
                     "-aet",     "STORESCP", portbuf,    NULL};
    pid_t pid = bench_spawn(mode == 0 ? argv1 : argv4, log);
    if (pid < 0) {
        return;
    }
    usleep(300000);
    bench_server sc = {.dimse_port = port};
    snprintf(sc.aet, sizeof sc.aet, "STORESCP");
    if (bench_server_wait_echo(&sc, 10) != 0) {
        bench_stop(pid, 2);
        return;
    }
    ceiling_ct(c, ds, rep, mode, port);
    if (mode == 0) {
        ceiling_dx(c, ds, rep, port);
    } else {
        ceiling_bulk(c, ds, rep, port);
    }
    bench_stop(pid, 5);
}

/* The import sets copied as `cp -r` + `sync` would, one fresh folder each run: reading each
 * file, creating, writing and closing a new one (2 threads), one syncfs at the end. What a
 * durable importer cannot avoid doing, whatever else it does. */
static void ceiling_import(const bench_cfg *c, bench_dataset *ds, bench_report *rep)
{
    bench_samples si = {0};
    for (int r = 0; r < c->runs; r++) {
        char src[2900], dest[2200];
        bench_import_dir(c, r, src, sizeof src);
        snprintf(dest, sizeof dest, "%s/run/copy-%d", c->work, r);
        bench_rmtree(dest);
        bench_limit_copy(ds->import[r].path, ds->import[r].n, src, dest, 2, &si);
        bench_rmtree(dest);
    }
    bench_report_limit(rep, "copy_small",
                       "copy of the import sets (read, create, write, close; 2 threads; one "
                       "syncfs)",
                       "inst/s", &si);
    bench_samples_free(&si);
}

void bench_measure_limits(const bench_cfg *c, bench_dataset *ds, bench_report *rep)
{
    printf("pacs-bench: machine limits\n");
    fflush(stdout);
    for (int mode = 0; mode < 2; mode++) {
        ceilings(c, ds, rep, mode);
    }
    size_t inst_size = ds->ct1[0].n ? (size_t)(ds->ct1[0].bytes / ds->ct1[0].n) : 528000;
    char dir[3000];
    snprintf(dir, sizeof dir, "%s/run/fsync", c->work);
    pacs_errinfo ei;
    gen_mkdirs(dir, &ei);
    bench_samples f = {0}, t1 = {0}, t4 = {0}, sh = {0};
    bench_limit_fsync(dir, inst_size, strcmp(c->size, "smoke") == 0 ? 50 : 200, 3, &f);
    char label[128];
    snprintf(label, sizeof label, "create+write+fsync+close, %zu KB files", inst_size / 1000);
    bench_report_limit(rep, "fsync_files", label, "files/s", &f);
    bench_rmtree(dir);
    ceiling_import(c, ds, rep);
    double mb = strcmp(c->size, "smoke") == 0 ? 200 : 2000;
    bench_limit_tcp(1, mb, 3, &t1);
    bench_report_limit(rep, "tcp_1", "loopback TCP, 1 stream", "MB/s", &t1);
    bench_limit_tcp(4, mb / 4, 3, &t4);
    bench_report_limit(rep, "tcp_4", "loopback TCP, 4 streams", "MB/s", &t4);
    bench_limit_sha256(3, &sh);
    bench_report_limit(rep, "sha256", "SHA-256 (OpenSSL), one core", "MB/s", &sh);
    bench_samples_free(&f);
    bench_samples_free(&t1);
    bench_samples_free(&t4);
    bench_samples_free(&sh);
}
