// SPDX-License-Identifier: MIT
/*
 * pacs-gen: writes synthetic studies (gen.h) as Part 10 files, for the benchmark, for filling a
 * test archive by hand, or for trying a viewer. Deterministic: the same seed and options give
 * byte-identical files. Writes OUT/NNNNNNN/SS-IIII.dcm per study and OUT/manifest.tsv (one line
 * per study: index, StudyInstanceUID, PatientID, PatientName, StudyDate, modality, files).
 * Single process; -j threads write distinct studies.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "pacs/dicom/dcm.h"
#include "tools/bench/gen.h"

typedef struct plan_ctx {
    const char *out;
    const char *kind; /* ct, dx or mix */
    gen_shape ct, dx;
} plan_ctx;

static gen_kind kind_of(const plan_ctx *c, uint32_t s)
{
    if (strcmp(c->kind, "dx") == 0) {
        return GEN_DX;
    }
    if (strcmp(c->kind, "mix") == 0 && s % 5 == 4) {
        return GEN_DX;
    }
    return GEN_CT;
}

static void plan(void *ctx, uint32_t s, gen_shape *shape, char *dir, size_t dir_cap)
{
    plan_ctx *c = ctx;
    *shape = kind_of(c, s) == GEN_DX ? c->dx : c->ct;
    snprintf(dir, dir_cap, "%s/%07u", c->out, s);
}

static void usage(FILE *f)
{
    fprintf(f, "usage: pacs-gen --out DIR [options]\n"
               "  --seed N         world seed (default 1)\n"
               "  --studies N      studies in the world (default 10)\n"
               "  --first S        first study to write (default 0)\n"
               "  --count N        studies to write (default: all from --first)\n"
               "  --kind K         ct, dx or mix (every 5th study DX; default ct)\n"
               "  --series N       series per CT study (default 1)\n"
               "  --slices N       slices per CT series (default 300)\n"
               "  --images N       images per DX study (default 2)\n"
               "  --matrix N       CT matrix NxN (default 512)\n"
               "  --dx-matrix RxC  DX rows x columns (default 3000x2500)\n"
               "  --ts NAME        explicit, jpeg-lossless, jpeg-ls or rle (default explicit)\n"
               "  -j N             threads (default 2)\n");
}

int main(int argc, char **argv)
{
    plan_ctx c = {.out = NULL, .kind = "ct"};
    unsigned long long seed = 1;
    unsigned long studies = 10, first = 0, count = 0;
    int threads = 2;
    unsigned dx_rows = 3000, dx_cols = 2500;
    c.ct = (gen_shape){GEN_CT, 1, 300, 512, 512, NULL};
    c.dx = (gen_shape){GEN_DX, 1, 2, 3000, 2500, NULL};
    static const struct option opts[] = {
        {"out", required_argument, NULL, 'o'},
        {"seed", required_argument, NULL, 's'},
        {"studies", required_argument, NULL, 'n'},
        {"first", required_argument, NULL, 'f'},
        {"count", required_argument, NULL, 'c'},
        {"kind", required_argument, NULL, 'k'},
        {"series", required_argument, NULL, 'S'},
        {"slices", required_argument, NULL, 'l'},
        {"images", required_argument, NULL, 'i'},
        {"matrix", required_argument, NULL, 'm'},
        {"dx-matrix", required_argument, NULL, 'x'},
        {"ts", required_argument, NULL, 't'},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    int o;
    while ((o = getopt_long(argc, argv, "j:h", opts, NULL)) != -1) {
        switch (o) {
        case 'o':
            c.out = optarg;
            break;
        case 's':
            seed = strtoull(optarg, NULL, 10);
            break;
        case 'n':
            studies = strtoul(optarg, NULL, 10);
            break;
        case 'f':
            first = strtoul(optarg, NULL, 10);
            break;
        case 'c':
            count = strtoul(optarg, NULL, 10);
            break;
        case 'k':
            c.kind = optarg;
            break;
        case 'S':
            c.ct.n_series = (uint32_t)strtoul(optarg, NULL, 10);
            break;
        case 'l':
            c.ct.n_per_series = (uint32_t)strtoul(optarg, NULL, 10);
            break;
        case 'i':
            c.dx.n_per_series = (uint32_t)strtoul(optarg, NULL, 10);
            break;
        case 'm':
            c.ct.rows = c.ct.cols = (uint32_t)strtoul(optarg, NULL, 10);
            break;
        case 'x':
            if (sscanf(optarg, "%ux%u", &dx_rows, &dx_cols) != 2) {
                usage(stderr);
                return 2;
            }
            c.dx.rows = dx_rows;
            c.dx.cols = dx_cols;
            break;
        case 't':
            c.ct.ts_uid = c.dx.ts_uid = gen_ts_by_name(optarg);
            if (!c.ct.ts_uid) {
                fprintf(stderr, "pacs-gen: unknown transfer syntax name %s\n", optarg);
                return 2;
            }
            break;
        case 'j':
            threads = atoi(optarg);
            break;
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 2;
        }
    }
    if (!c.out || studies == 0 || studies > 100000000UL || first >= studies ||
        (strcmp(c.kind, "ct") != 0 && strcmp(c.kind, "dx") != 0 && strcmp(c.kind, "mix") != 0) ||
        c.ct.n_series == 0 || c.ct.n_per_series == 0 || c.dx.n_per_series == 0) {
        usage(stderr);
        return 2;
    }
    if (count == 0 || first + count > studies) {
        count = studies - first;
    }
    pacs_errinfo ei;
    pacs_errinfo_clear(&ei);
    if (pacs_dcm_init(&ei) != PACS_OK || gen_mkdirs(c.out, &ei) != PACS_OK) {
        fprintf(stderr, "pacs-gen: %s\n", ei.msg);
        return 1;
    }
    gen_world w;
    gen_world_init(&w, seed, (uint32_t)studies);
    uint32_t *list = malloc(count * sizeof *list);
    if (!list) {
        fprintf(stderr, "pacs-gen: out of memory\n");
        return 1;
    }
    for (unsigned long i = 0; i < count; i++) {
        list[i] = (uint32_t)(first + i);
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    uint64_t bytes = 0;
    uint32_t files = 0;
    pacs_err err = gen_write_parallel(&w, list, count, plan, &c, threads, &bytes, &files, &ei);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    if (err != PACS_OK) {
        fprintf(stderr, "pacs-gen: %s\n", ei.msg);
        free(list);
        return 1;
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/manifest.tsv", c.out);
    FILE *m = fopen(path, "w");
    if (!m) {
        fprintf(stderr, "pacs-gen: %s: %s\n", path, strerror(errno));
        free(list);
        return 1;
    }
    fprintf(m, "study\tStudyInstanceUID\tPatientID\tPatientName\tStudyDate\tModality\tfiles\n");
    for (unsigned long i = 0; i < count; i++) {
        gen_study st;
        gen_patient pt;
        gen_kind k = kind_of(&c, list[i]);
        gen_study_make(&w, list[i], k, &st);
        gen_patient_make(&w, st.patient, &pt);
        const gen_shape *sh = k == GEN_DX ? &c.dx : &c.ct;
        fprintf(m, "%u\t%s\t%s\t%s\t%s\t%s\t%u\n", list[i], st.uid, pt.id, pt.name, st.date,
                k == GEN_DX ? "DX" : "CT", sh->n_series * sh->n_per_series);
    }
    fclose(m);
    free(list);
    double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    printf("pacs-gen: %u files, %.1f MB in %.1f s (%.0f files/s) under %s\n", files,
           (double)bytes / 1e6, secs, secs > 0 ? files / secs : 0.0, c.out);
    return 0;
}
