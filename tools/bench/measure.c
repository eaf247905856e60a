// SPDX-License-Identifier: MIT
/*
 * pacs-bench's measurements of one server (run.h), in the order their rows appear in the
 * report: ingest (measure_ingest.c), queries (measure_query.c), retrieval (measure_wado.c),
 * then memory; and, once the server has stopped, its bytes on disk.
 *
 * Load: none of its own. Thread-safety: main thread only.
 */
#include <stdio.h>
#include <sys/stat.h>

#include "tools/bench/run.h"

/* Peak RSS after each phase (as a meta line), over the run, and private RSS at the end. */
static void memory(bench_server *s, bench_report *rep)
{
    const int k = s->kind;
    bench_server_rss_mark(s, "frames and rendered");
    {
        char key[64];
        snprintf(key, sizeof key, "%s peak RSS after each phase", s->name);
        bench_report_meta(rep, key, s->rss_phases);
    }

    /* Peak memory over the whole run. */
    bench_row *rr = bench_report_row(rep, "rss", "server peak RSS over the run", "MB", BENCH_LOWER);
    uint64_t rss = bench_peak_rss(s->pid);
    if (rss) {
        bench_samples_add(&rr->s[k], (double)rss / 1e6);
    }
    /* VmHWM counts mapped file pages too (an mmap'ed index), which the page cache shares. */
    bench_row *ra = bench_report_row(
        rep, "rss_anon", "server private (anonymous) RSS at the end of the run", "MB", BENCH_LOWER);
    uint64_t anon, file;
    bench_rss_split(s->pid, &anon, &file);
    if (anon) {
        bench_samples_add(&ra->s[k], (double)anon / 1e6);
    }
}

void bench_measure_server(const bench_cfg *c, const bench_layout *l, bench_dataset *ds,
                          bench_server *s, bench_report *rep, int *stored)
{
    bench_measure_ingest(c, l, ds, s, rep, stored);
    if (bench_measure_query(c, l, s, rep, stored) != 0) {
        return;
    }
    bench_measure_wado(c, l, ds, s, rep);
    memory(s, rep);
}

/* After the server stopped: bytes on disk and in the index, per stored instance. */
void bench_measure_disk(const bench_layout *l, const bench_dataset *ds, const bench_server *s,
                        const bench_cfg *c, const int *stored, bench_report *rep)
{
    (void)l;
    uint64_t n = ds->fill_files, raw = ds->fill_bytes;
    for (int r = 0; r < c->runs; r++) {
        if (stored[l->ct1 + (uint32_t)r]) {
            n += ds->ct1[r].n, raw += ds->ct1[r].bytes;
        }
        if (stored[l->ct4 + (uint32_t)r]) {
            n += ds->ct4[r].n, raw += ds->ct4[r].bytes;
        }
        if (stored[l->stow + (uint32_t)r]) {
            n += ds->stow[r].n, raw += ds->stow[r].bytes;
        }
        if (stored[l->dx + (uint32_t)r]) {
            n += ds->dx[r].n, raw += ds->dx[r].bytes;
        }
        if (stored[l->import + (uint32_t)r * c->import_studies]) {
            n += ds->import[r].n, raw += ds->import[r].bytes;
        }
    }
    uint64_t all_alloc, all_app, idx_alloc = 0, idx_app = 0;
    if (s->kind == BENCH_ORTHANC) {
        bench_du(s->data, &all_alloc, &all_app);
        bench_du(s->index_dir, &idx_alloc, &idx_app);
    } else {
        bench_du(s->data, &all_alloc, &all_app);
        static const char *const names[] = {"index.sqlite", "index.sqlite-wal", "index.sqlite-shm"};
        for (size_t i = 0; i < 3; i++) {
            char p[3300];
            struct stat sb;
            snprintf(p, sizeof p, "%s/%s", s->data, names[i]);
            if (stat(p, &sb) == 0) {
                idx_alloc += (uint64_t)sb.st_blocks * 512;
                idx_app += (uint64_t)sb.st_size;
            }
        }
        all_alloc -= idx_alloc;
        all_app -= idx_app;
    }
    bench_row *ro = bench_report_row(rep, "disk_objects", "object bytes on disk per instance", "KB",
                                     BENCH_LOWER);
    bench_row *ri = bench_report_row(
        rep, "disk_index", "index bytes per instance (metadata included)", "KB", BENCH_LOWER);
    if (n > 0) {
        bench_samples_add(&ro->s[s->kind], (double)all_alloc / 1e3 / (double)n);
        bench_samples_add(&ri->s[s->kind], (double)idx_app / 1e3 / (double)n);
        ro->has_limit = 1;
        ro->limit = (double)raw / 1e3 / (double)n;
        snprintf(ro->limit_label, sizeof ro->limit_label, "the files sent");
    }
}
