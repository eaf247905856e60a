// SPDX-License-Identifier: MIT
/*
 * The targets of pacs-bench (run.h): beside each row, the machine limit it is compared with
 * and the goal it is held to (issues 6 and 20), attached once every figure is in.
 *
 * Load: none. Thread-safety: main thread only.
 */
#include <stdio.h>
#include <stdlib.h>

#include "tools/bench/run.h"

/* The machine limit each throughput row is compared with. */
static void attach_limits(bench_report *rep)
{
    struct {
        const char *row, *limit, *label;
    } lim[] = {
        {"cstore_ct_1", "ceiling_ct_1", "storescu->storescp, 1 assoc"},
        {"cstore_ct_1_mb", "ceiling_ct_1_mb", "storescu->storescp, 1 assoc"},
        {"cstore_ct_4", "ceiling_ct_4", "storescu->storescp, 4 assoc"},
        {"cstore_ct_4_mb", "ceiling_ct_4_mb", "storescu->storescp, 4 assoc"},
        {"cstore_dx_1", "ceiling_dx_1", "storescu->storescp, 1 assoc"},
        {"cstore_dx_1_mb", "ceiling_dx_1_mb", "storescu->storescp, 1 assoc"},
        {"bulk_load", "ceiling_bulk", "storescu->storescp, 4 assoc"},
        {"stow", "fsync_files", "create+write+fsync of one file"},
        {"stow_mb", "tcp_1", "loopback TCP, 1 stream"},
        {"import_small", "copy_small", "cp -r + sync, 2 threads"},
        {"wado_study", "tcp_1", "loopback TCP, 1 stream"},
    };
    for (size_t i = 0; i < sizeof lim / sizeof lim[0]; i++) {
        bench_row *r = bench_report_row(rep, lim[i].row, "", "", BENCH_HIGHER);
        double v = bench_report_limit_value(rep, lim[i].limit);
        if (v > 0) {
            r->has_limit = 1;
            r->limit = v;
            snprintf(r->limit_label, sizeof r->limit_label, "%s", lim[i].label);
        }
    }
}

/* The goal each row is held to (issue 6; the import of small files, issue 20). */
static void attach_goals(bench_report *rep, const bench_cfg *c)
{
    bench_row *r;
    r = bench_report_row(rep, "cstore_ct_1", "", "", BENCH_HIGHER);
    r->target = BENCH_T_CEILING80_ORTHANC5;
    snprintf(r->target_text, sizeof r->target_text, ">= 80%% of ceiling and >= 5x Orthanc");
    r = bench_report_row(rep, "cstore_ct_4", "", "", BENCH_HIGHER);
    r->target = BENCH_T_CEILING80;
    snprintf(r->target_text, sizeof r->target_text, ">= 80%% of ceiling");
    r = bench_report_row(rep, "import_small", "", "", BENCH_HIGHER);
    r->target = BENCH_T_ABS_GE;
    r->target_value = 2000;
    snprintf(r->target_text, sizeof r->target_text, ">= 2000 inst/s (issue 20)");
    bench_row *echo = bench_report_row(rep, "cecho", "", "", BENCH_LOWER);
    static const char *const qids[] = {"id", "name_utf8", "name_folded", "date", "uid"};
    for (size_t i = 0; i < 5; i++) {
        char id[64];
        snprintf(id, sizeof id, "cfind_%s", qids[i]);
        r = bench_report_row(rep, id, "", "", BENCH_LOWER);
        double med, mn, mx;
        if (bench_samples_stats(&echo->s[BENCH_PACSD], &med, &mn, &mx)) {
            r->has_limit = 1;
            r->limit = med;
            snprintf(r->limit_label, sizeof r->limit_label, "pacsd C-ECHO");
        }
        r->target = BENCH_T_OVER_LIMIT_LE;
        r->target_value = 2;
        snprintf(r->target_text, sizeof r->target_text, "within 2 ms of a C-ECHO");
        snprintf(id, sizeof id, "qido_%s", qids[i]);
        r = bench_report_row(rep, id, "", "", BENCH_LOWER);
        r->target = BENCH_T_ABS_LE;
        r->target_value = 2;
        snprintf(r->target_text, sizeof r->target_text, "p50 <= 2 ms");
    }
    r = bench_report_row(rep, "qido_tput", "", "", BENCH_HIGHER);
    r->target = BENCH_T_ORTHANC_X;
    r->target_value = 50;
    snprintf(r->target_text, sizeof r->target_text, ">= 50x Orthanc");
    r = bench_report_row(rep, "wado_study", "", "", BENCH_HIGHER);
    r->target = BENCH_T_LIMIT_FRACTION;
    r->target_value = 0.7;
    snprintf(r->target_text, sizeof r->target_text, ">= 70%% of loopback TCP");
    r = bench_report_row(rep, "metadata", "", "", BENCH_LOWER);
    r->target = BENCH_T_ABS_LE_ORTHANC_X;
    r->target_value = 5;
    r->target_value2 = 25;
    snprintf(r->target_text, sizeof r->target_text, "<= 5 ms and >= 25x Orthanc");
    if (c->meta_slices != 300) {
        r->target = BENCH_T_NONE;
        snprintf(r->target_text, sizeof r->target_text, "(300 instances in the full run)");
    }
    const char *abs_rows[][2] = {{"frames_cold", "0.5"},
                                 {"frames_cached", "0.5"},
                                 {"rendered_cold", "3"},
                                 {"rendered_cached", "0.5"},
                                 {"rss", "100"}};
    for (size_t i = 0; i < 5; i++) {
        r = bench_report_row(rep, abs_rows[i][0], "", "", BENCH_LOWER);
        r->target = BENCH_T_ABS_LE;
        r->target_value = atof(abs_rows[i][1]);
        snprintf(r->target_text, sizeof r->target_text, "<= %s %s", abs_rows[i][1], r->unit);
    }
    r = bench_report_row(rep, "disk_index", "", "", BENCH_LOWER);
    r->target = BENCH_T_LE_ORTHANC;
    snprintf(r->target_text, sizeof r->target_text, "<= Orthanc's");
}

void bench_attach_targets(bench_report *rep, const bench_cfg *c)
{
    attach_limits(rep);
    attach_goals(rep, c);
}
