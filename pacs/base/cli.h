// SPDX-License-Identifier: MIT
/*
 * The command-line options every program of the tree shares (pacsd and the pacs tool), in one
 * implementation so they behave the same: `--config FILE` (loaded first, wherever it appears),
 * then PACS_* environment variables, then `--data DIR` and `--set KEY=VALUE` in the order given.
 * Anything else is handed back to the caller in order, untouched. Not thread-safe: call from
 * main() before starting threads.
 */
#ifndef PACS_BASE_CLI_H
#define PACS_BASE_CLI_H

#include "pacs/base/config.h"
#include "pacs/base/err.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Applies the shared options of argv[1..argc-1] to `cfg` and calls pacs_config_finish().
 * The other arguments are copied, in order, to `rest` (which must hold argc entries) and
 * counted in `*n_rest`; an option that takes a value (`--ready-file FILE`) must be listed in
 * `valued` (a NULL-terminated list, or NULL) so that its value is kept with it. After "--",
 * every argument is passed on as it is, "--" included. Errors (a missing value, an unreadable
 * file, an unknown key or bad value) name the option or file and line.
 */
pacs_err pacs_cli_load_config(pacs_config *cfg, int argc, char **argv, const char *const *valued,
                              char **rest, int *n_rest, pacs_errinfo *ei);

#ifdef __cplusplus
}
#endif

#endif
