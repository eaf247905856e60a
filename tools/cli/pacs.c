// SPDX-License-Identifier: MIT
/*
 * The pacs command: archive administration beside (or instead of) a running pacsd, on the same
 * data folder and configuration. `pacs [--data DIR] [--config FILE] [--set K=V]... COMMAND
 * [ARGS]`; the shared options may stand anywhere and mean what they mean to pacsd. Subcommands
 * live in their own files (tool.h); this file parses options and dispatches. Single-threaded
 * here; a subcommand may start workers of its own.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pacs/base/cli.h"
#include "pacs/base/log.h"
#include "pacs/dicom/dcm.h"
#include "tools/cli/tool.h"

typedef struct command {
    const char *name;
    pacs_tool_cmd run;
    const char *usage;
    const char *help;
} command;

static const command commands[] = {
    {"import", pacs_tool__import, "import [--jobs N] PATH...",
     "store files and folders (recursively; a CD through its DICOMDIR) through the ingest path"},
    {"reindex", pacs_tool__reindex, "reindex",
     "rebuild the index from the objects alone (refused while pacsd runs)"},
    {"verify", pacs_tool__verify, "verify [--sweep]",
     "rehash every object; name corrupt, missing and orphan objects (--sweep deletes orphans;\n"
     "                        it needs the data folder to itself)"},
    {"delete", pacs_tool__delete, "delete --study UID | --series UID | --instance UID",
     "remove a study, series or instance and sweep its objects"},
    {"stats", pacs_tool__stats, "stats", "counts of patients, studies, series, instances, bytes"},
    {"audit", pacs_tool__audit, "audit [--patient ID] [--study UID] [--since DATE]",
     "the audit trail (JSON lines): who stored, queried, retrieved, shared or deleted what"},
    {"forward", pacs_tool__forward, "forward list [--state S] | forward retry (ID... | --all)",
     "the forwarding queue: list entries (pending, done, failed) or queue them again"},
    {"migrate", pacs_tool__migrate, "migrate --to postgresql://USER@HOST:PORT/DB",
     "copy the index into an empty PostgreSQL index, without reading objects (pacsd stopped)"},
    {"backup", pacs_tool__backup, "backup DEST",
     "a consistent copy of the index, objects, audit trail, share key and --config file, while\n"
     "                        pacsd runs; into the same DEST again, only what is new is copied"},
    {"restore", pacs_tool__restore, "restore SRC DATA",
     "put a backup back into DATA, a new or empty data folder (then start pacsd on it)"},
    {"render", pacs_tool__render, "render FILE [--frame N] [--window C,W] [--viewport W,H] ...",
     "render, decode (--raw), transcode or time a file's frames (without FILE: usage)"},
    {"compress", pacs_tool__compress, "compress [--dry-run] [--verbose]",
     "one pass of lossless compression at rest by the compress.* rule (--dry-run: what it\n"
     "                        would save, changing nothing); safe while pacsd runs"},
    {"retention", pacs_tool__retention, "retention [--dry-run]",
     "delete the studies retention.rules says may go (--dry-run: list them with counts and\n"
     "                        bytes, changing nothing)"},
    {"user", pacs_tool__user,
     "user add NAME --role ROLE | role NAME ROLE | passwd NAME | remove NAME | list",
     "the built-in users who sign in to the viewer (the password from the terminal or stdin)"},
    {"share", pacs_tool__share,
     "share STUDY_UID [--days N] [--qr FILE.png|-] | --list | --revoke ID",
     "a link (and QR code) that shows one study in a browser, until it expires or is revoked"},
};
#define N_COMMANDS (sizeof commands / sizeof commands[0])

static const char *config_file;

const char *pacs_tool__config_file(void)
{
    return config_file;
}

static void usage(FILE *f)
{
    fprintf(f, "usage: pacs [--data DIR] [--config FILE] [--set KEY=VALUE]... COMMAND [ARGS]\n\n");
    for (size_t i = 0; i < N_COMMANDS; i++) {
        fprintf(f, "  pacs %s\n      %s\n", commands[i].usage, commands[i].help);
    }
    fprintf(f, "\nSettings are those of pacsd (`pacsd --help-config`): built-in defaults, the\n"
               "--config file, PACS_* environment variables, then --data and --set in order.\n"
               "Long runs show progress on a terminal. Exit status: 0 all done, 1 something\n"
               "failed or was found wrong, 2 bad arguments.\n");
}

int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0) {
            break;
        }
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return TOOL_OK;
        }
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc) {
            config_file = argv[++i];
        }
    }
    pacs_config *cfg = pacs_config_new();
    char **rest = calloc((size_t)argc + 1, sizeof *rest);
    if (!cfg || !rest) {
        fprintf(stderr, "pacs: out of memory\n");
        return TOOL_PROBLEMS;
    }
    int n_rest = 0, status = TOOL_USAGE;
    pacs_errinfo ei;
    if (pacs_cli_load_config(cfg, argc, argv, NULL, rest, &n_rest, &ei) != PACS_OK) {
        fprintf(stderr, "pacs: %s\n", ei.msg);
        goto done;
    }
    if (n_rest == 0) {
        usage(stderr);
        goto done;
    }
    const command *cmd = NULL;
    for (size_t i = 0; i < N_COMMANDS; i++) {
        if (strcmp(rest[0], commands[i].name) == 0) {
            cmd = &commands[i];
        }
    }
    if (!cmd) {
        fprintf(stderr, "pacs: unknown command '%s' (see pacs --help)\n", rest[0]);
        goto done;
    }
    pacs_log_set_level((pacs_log_level)pacs_log_level_parse(pacs_config_str(cfg, "log.level")));
    signal(SIGPIPE, SIG_IGN);
    if (pacs_dcm_init(&ei) != PACS_OK) {
        fprintf(stderr, "pacs: %s\n", ei.msg);
        status = TOOL_PROBLEMS;
        goto done;
    }
    status = cmd->run(cfg, n_rest - 1, rest + 1);
done:
    free(rest);
    pacs_config_free(cfg);
    return status;
}
