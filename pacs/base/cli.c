// SPDX-License-Identifier: MIT
/*
 * Shared command-line options (cli.h): two passes over argv, the first for --config (a file
 * comes before the environment and the flags whatever its place), the second for --data and
 * --set in order. Runs once at start-up; no state of its own.
 */
#include "pacs/base/cli.h"

#include <string.h>

static int is_valued(const char *const *valued, const char *arg)
{
    for (; valued && *valued; valued++) {
        if (strcmp(*valued, arg) == 0) {
            return 1;
        }
    }
    return 0;
}

static int takes_value(const char *arg)
{
    return strcmp(arg, "--config") == 0 || strcmp(arg, "--data") == 0 || strcmp(arg, "--set") == 0;
}

pacs_err pacs_cli_load_config(pacs_config *cfg, int argc, char **argv, const char *const *valued,
                              char **rest, int *n_rest, pacs_errinfo *ei)
{
    *n_rest = 0;
    /* First pass: the configuration file(s), in order, and a check that values are there. */
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--") == 0) {
            break;
        }
        if (takes_value(argv[i])) {
            if (i + 1 >= argc) {
                return pacs_errf(ei, PACS_EINVAL, "%s needs a value", argv[i]);
            }
            if (strcmp(argv[i], "--config") == 0) {
                pacs_err err = pacs_config_load_file(cfg, argv[i + 1], ei);
                if (err != PACS_OK) {
                    return err;
                }
            }
            i++;
        } else if (is_valued(valued, argv[i])) {
            if (i + 1 >= argc) {
                return pacs_errf(ei, PACS_EINVAL, "%s needs a value", argv[i]);
            }
            i++;
        }
    }
    pacs_err err = pacs_config_load_env(cfg, ei);
    if (err != PACS_OK) {
        return err;
    }
    int passthrough = 0;
    for (int i = 1; i < argc; i++) {
        if (!passthrough && strcmp(argv[i], "--") == 0) {
            passthrough = 1;
            rest[(*n_rest)++] = argv[i];
        } else if (!passthrough && strcmp(argv[i], "--config") == 0) {
            i++;
        } else if (!passthrough && strcmp(argv[i], "--data") == 0) {
            err = pacs_config_set(cfg, "data", argv[++i], ei);
        } else if (!passthrough && strcmp(argv[i], "--set") == 0) {
            err = pacs_config_set_pair(cfg, argv[++i], ei);
        } else if (!passthrough && is_valued(valued, argv[i])) {
            rest[(*n_rest)++] = argv[i];
            rest[(*n_rest)++] = argv[++i];
        } else {
            rest[(*n_rest)++] = argv[i];
        }
        if (err != PACS_OK) {
            return err;
        }
    }
    return pacs_config_finish(cfg, ei);
}
