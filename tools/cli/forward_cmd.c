// SPDX-License-Identifier: MIT
/*
 * `pacs forward list` and `pacs forward retry`: the forwarding queue that pacsd keeps in the
 * index (storage/forward_worker.h), seen and nudged from the command line, with each
 * destination's counts, bytes sent and throughput (DIMSE and DICOMweb alike). Both work while
 * pacsd runs: they open only the index (storage/archive.h, pacs_archive_forward_*), and pacsd
 * picks retried entries up within a few seconds. Single-threaded.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "storage/archive.h"
#include "tools/cli/tool.h"

static void forward_usage(void)
{
    fprintf(stderr, "usage: pacs forward list [--state pending|done|failed|all] [--by-dest]\n"
                    "       pacs forward retry (ID... | --all)\n");
}

#define MAX_DESTS 256

/* One destination's sums. */
typedef struct dest_sum {
    char dest[17];
    size_t n[3];
    uint64_t bytes, ms;
} dest_sum;

typedef struct list_state {
    size_t n[3];
    int by_dest; /* print the sums only */
    dest_sum dests[MAX_DESTS];
    size_t n_dests;
} list_state;

static void add_to_sums(list_state *ls, const pacs_fwd_entry *e)
{
    dest_sum *d = NULL;
    for (size_t i = 0; i < ls->n_dests && !d; i++) {
        d = strcmp(ls->dests[i].dest, e->dest) == 0 ? &ls->dests[i] : NULL;
    }
    if (!d && ls->n_dests < MAX_DESTS) {
        d = &ls->dests[ls->n_dests++];
        snprintf(d->dest, sizeof d->dest, "%s", e->dest);
    }
    if (d && (unsigned)e->state < 3) {
        d->n[e->state]++;
        d->bytes += e->bytes;
        d->ms += e->ms;
    }
}

/* DEST PENDING DONE FAILED BYTES_SENT MB_PER_S: the throughput is the bytes of the delivered
 * entries over the time their sending took (not counting waits between tries). */
static void print_sums(const list_state *ls, FILE *out)
{
    fprintf(out, "DEST\tPENDING\tDONE\tFAILED\tBYTES_SENT\tMB_PER_S\n");
    for (size_t i = 0; i < ls->n_dests; i++) {
        const dest_sum *d = &ls->dests[i];
        char rate[32] = "-";
        if (d->ms > 0) {
            snprintf(rate, sizeof rate, "%.2f", (double)d->bytes / 1e6 / ((double)d->ms / 1e3));
        }
        fprintf(out, "%s\t%zu\t%zu\t%zu\t%llu\t%s\n", d->dest, d->n[0], d->n[1], d->n[2],
                (unsigned long long)d->bytes, rate);
    }
}

static int print_entry(void *ctx, const pacs_fwd_entry *e)
{
    list_state *ls = ctx;
    if ((unsigned)e->state < 3) {
        ls->n[e->state]++;
    }
    add_to_sums(ls, e);
    if (ls->by_dest) {
        return 0;
    }
    char when[32] = "-";
    if (e->state == PACS_FWD_PENDING) {
        time_t t = (time_t)e->next_try;
        struct tm tm;
        localtime_r(&t, &tm);
        strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
    }
    printf("%lld\t%s\t%u\t%s\t%s\t%s\t%s\t%s\n", (long long)e->id, pacs_fwd_state_name(e->state),
           e->attempts, e->dest, e->rule, e->sop_uid, when, e->error[0] ? e->error : "-");
    return 0;
}

static int forward_list(const pacs_config *cfg, int argc, char **argv)
{
    int state = -1, by_dest = 0;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--by-dest") == 0) {
            by_dest = 1;
        } else if (strcmp(argv[i], "--state") == 0 && i + 1 < argc) {
            const char *s = argv[++i];
            state = strcmp(s, "pending") == 0  ? PACS_FWD_PENDING
                    : strcmp(s, "done") == 0   ? PACS_FWD_DONE
                    : strcmp(s, "failed") == 0 ? PACS_FWD_FAILED
                    : strcmp(s, "all") == 0    ? -1
                                               : -2;
            if (state == -2) {
                forward_usage();
                return TOOL_USAGE;
            }
        } else {
            forward_usage();
            return TOOL_USAGE;
        }
    }
    list_state *ls = calloc(1, sizeof *ls);
    if (!ls) {
        fprintf(stderr, "pacs: out of memory\n");
        return TOOL_PROBLEMS;
    }
    ls->by_dest = by_dest;
    pacs_errinfo ei;
    if (!by_dest) {
        printf("ID\tSTATE\tATTEMPTS\tDEST\tRULE\tSOP_INSTANCE_UID\tNEXT_TRY\tLAST_ERROR\n");
    }
    if (pacs_archive_forward_list(cfg, state, print_entry, ls, &ei) != PACS_OK) {
        fprintf(stderr, "pacs: forward list: %s\n", ei.msg);
        free(ls);
        return TOOL_PROBLEMS;
    }
    /* The sums go to stdout with --by-dest, else after the entries on stderr (the entries'
     * table stays one table for scripts). */
    print_sums(ls, by_dest ? stdout : stderr);
    fprintf(stderr, "pacs: forward queue: %zu pending, %zu done, %zu failed\n", ls->n[0], ls->n[1],
            ls->n[2]);
    free(ls);
    return TOOL_OK;
}

static int forward_retry(const pacs_config *cfg, int argc, char **argv)
{
    if (argc == 0) {
        forward_usage();
        return TOOL_USAGE;
    }
    int status = TOOL_OK;
    for (int i = 0; i < argc; i++) {
        int64_t id = 0;
        if (strcmp(argv[i], "--all") != 0) {
            char *end = NULL;
            long long v = strtoll(argv[i], &end, 10);
            if (!end || *end || v <= 0) {
                forward_usage();
                return TOOL_USAGE;
            }
            id = v;
        }
        uint64_t n = 0;
        pacs_errinfo ei;
        if (pacs_archive_forward_retry(cfg, id, &n, &ei) != PACS_OK) {
            fprintf(stderr, "pacs: forward retry: %s\n", ei.msg);
            return TOOL_PROBLEMS;
        }
        if (id > 0 && n == 0) {
            fprintf(stderr, "pacs: forward retry: no failed or pending entry %lld\n",
                    (long long)id);
            status = TOOL_PROBLEMS;
        } else {
            fprintf(stderr, "pacs: %llu entries queued again\n", (unsigned long long)n);
        }
    }
    return status;
}

int pacs_tool__forward(const pacs_config *cfg, int argc, char **argv)
{
    if (argc >= 1 && strcmp(argv[0], "list") == 0) {
        return forward_list(cfg, argc - 1, argv + 1);
    }
    if (argc >= 1 && strcmp(argv[0], "retry") == 0) {
        return forward_retry(cfg, argc - 1, argv + 1);
    }
    forward_usage();
    return TOOL_USAGE;
}
