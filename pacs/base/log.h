// SPDX-License-Identifier: MIT
/*
 * Logging: one key=value line per event on stderr, written whole (safe from any thread). The
 * layer that handles an error logs it; lower layers only fill a pacs_errinfo. Patient names,
 * IDs and birth dates appear only at DEBUG and below.
 */
#ifndef PACS_BASE_LOG_H
#define PACS_BASE_LOG_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum pacs_log_level {
    PACS_LOG_ERROR = 0,
    PACS_LOG_WARN,
    PACS_LOG_INFO,
    PACS_LOG_DEBUG,
    PACS_LOG_TRACE
} pacs_log_level;

/** Sets the most verbose level written; the default is INFO. */
void pacs_log_set_level(pacs_log_level level);

/** True when `level` would be written (to skip building expensive messages). */
int pacs_log_enabled(pacs_log_level level);

/** Parses "error", "warn", "info", "debug", "trace"; returns -1 for anything else. */
int pacs_log_level_parse(const char *name);

/** Writes "TIME LEVEL component: message" as one line. */
void pacs_log(pacs_log_level level, const char *component, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#ifdef __cplusplus
}
#endif

#endif
