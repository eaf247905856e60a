// SPDX-License-Identifier: MIT
/*
 * Helpers shared by the whole-path fuzz targets of fuzz/ (ingest, router): a throw-away data
 * folder and a configuration for an archive in it. Called once per process from a target's
 * first input; not thread-safe (libFuzzer calls targets from one thread).
 */
#ifndef PACS_FUZZ_COMMON_H
#define PACS_FUZZ_COMMON_H

#include "pacs/base/config.h"

/**
 * Makes an empty data folder (under /dev/shm when it exists, so fsync costs nothing, else
 * under TMPDIR or /tmp), removed again when the process exits normally, and a finished
 * configuration using it with logging at ERROR; `extra` holds more "key=value" settings (NULL
 * ends the list). The configuration is freed at exit, after the target's own atexit handlers.
 * Exits the process when any of it fails: a fuzz target cannot run without.
 */
pacs_config *pacs_fuzz__config(const char *const *extra);

#endif
