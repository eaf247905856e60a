// SPDX-License-Identifier: MIT
/*
 * pacsd's schedule for compression at rest (storage/compress.h): one background thread at the
 * lowest priority the system allows (nice 19, SCHED_IDLE, the idle I/O class), which runs a
 * pass every compress.interval seconds, each continuing where the last stopped, at most
 * compress.rate instances a minute. It writes one log line and one audit line per pass that
 * looked at anything. The pass itself lives in storage/; this file only schedules it.
 *
 * Thread-safety: start and stop from the main thread.
 */
#ifndef PACS_PACSD_COMPRESS_JOB_H
#define PACS_PACSD_COMPRESS_JOB_H

#include "pacs/base/config.h"
#include "pacs/base/err.h"
#include "storage/archive.h"

typedef struct pacs_compress_job pacs_compress_job;

/** Starts the thread when compress.enabled is set (`*out` NULL otherwise). PACS_EINVAL for a
 *  compress.* setting that makes no rule. */
pacs_err pacs_compress_job_start(const pacs_config *cfg, pacs_archive *a, pacs_compress_job **out,
                                 pacs_errinfo *ei);

/** Stops the thread after the instance it is working on, and frees the job. NULL is accepted. */
void pacs_compress_job_stop(pacs_compress_job *job);

#endif
