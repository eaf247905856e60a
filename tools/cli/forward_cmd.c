// SPDX-License-Identifier: MIT
/*
 * `pacs forward list` and `pacs forward retry`: the forwarding queue that pacsd keeps in the
 * index (dimse/forward.h), seen and nudged from the command line. Both work while pacsd
 * runs: they open only the index (storage/archive.h, pacs_archive_forward_*), and pacsd picks
 * retried entries up within a few seconds. Single-threaded.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "storage/archive.h"
#include "tools/cli/tool.h"

static void forward_usage(void)
{
    fprintf(stderr, "usage: pacs forward list [--state pending|done|failed|all]\n"
                    "       pacs forward retry (ID... | --all)\n");
}

typedef struct list_state {
    size_t n[3];
} list_state;

static int print_entry(void *ctx, const pacs_fwd_entry *e)
{
    list_state *ls = ctx;
    if ((unsigned)e->state < 3) {
        ls->n[e->state]++;
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
    int state = -1;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--state") == 0 && i + 1 < argc) {
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
    list_state ls;
    memset(&ls, 0, sizeof ls);
    pacs_errinfo ei;
    printf("ID\tSTATE\tATTEMPTS\tDEST\tRULE\tSOP_INSTANCE_UID\tNEXT_TRY\tLAST_ERROR\n");
    if (pacs_archive_forward_list(cfg, state, print_entry, &ls, &ei) != PACS_OK) {
        fprintf(stderr, "pacs: forward list: %s\n", ei.msg);
        return TOOL_PROBLEMS;
    }
    fprintf(stderr, "pacs: forward queue: %zu pending, %zu done, %zu failed\n", ls.n[0], ls.n[1],
            ls.n[2]);
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
