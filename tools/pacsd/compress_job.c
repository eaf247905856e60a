// SPDX-License-Identifier: MIT
/*
 * The background thread of compression at rest (compress_job.h): lowers its own priority,
 * then runs storage's pass (pacs_compress_run), logs and audits it, and sleeps until the next
 * one or until stopped.
 */
#define _GNU_SOURCE
#include "tools/pacsd/compress_job.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "pacs/base/log.h"
#include "storage/audit.h"
#include "storage/compress.h"

#define IOPRIO_WHO_PROCESS 1
#define IOPRIO_CLASS_IDLE 3
#define IOPRIO_CLASS_SHIFT 13

struct pacs_compress_job {
    pthread_t thread;
    pacs_archive *a;
    pacs_compress_options o;
    long interval;
    volatile sig_atomic_t stop;
    pthread_mutex_t mu;
    pthread_cond_t cv;
};

/* This thread only: nice 19, SCHED_IDLE and the idle I/O class, each where allowed. */
static void lower_priority(void)
{
    pid_t tid = (pid_t)syscall(SYS_gettid);
    const char *refused[3];
    int n = 0;
    if (setpriority(PRIO_PROCESS, (id_t)tid, 19) != 0) {
        refused[n++] = "nice";
    }
    struct sched_param sp = {0};
    if (pthread_setschedparam(pthread_self(), SCHED_IDLE, &sp) != 0) {
        refused[n++] = "SCHED_IDLE";
    }
    if (syscall(SYS_ioprio_set, IOPRIO_WHO_PROCESS, tid, IOPRIO_CLASS_IDLE << IOPRIO_CLASS_SHIFT) !=
        0) {
        refused[n++] = "idle I/O class";
    }
    for (int i = 0; i < n; i++) {
        pacs_log(PACS_LOG_DEBUG, "compress", "priority: %s refused (%s)", refused[i],
                 strerror(errno));
    }
}

static void *run(void *arg)
{
    pacs_compress_job *job = arg;
    lower_priority();
    int64_t cursor = 0;
    while (!job->stop) {
        pacs_compress_report r;
        pacs_errinfo ei;
        memset(&ei, 0, sizeof ei);
        pacs_err err = pacs_compress_run(job->a, &job->o, cursor, NULL, NULL, &r, &ei);
        cursor = r.next_pk;
        if (r.examined > 0 || err != PACS_OK) {
            pacs_log(err == PACS_OK ? PACS_LOG_INFO : PACS_LOG_WARN, "compress",
                     "pass examined=%llu compressed=%llu skipped=%llu failed=%llu "
                     "bytes_before=%llu bytes_after=%llu saved=%llu cpu_seconds=%.3f%s%s",
                     (unsigned long long)r.examined, (unsigned long long)r.compressed,
                     (unsigned long long)r.skipped, (unsigned long long)r.failed,
                     (unsigned long long)r.bytes_before, (unsigned long long)r.bytes_after,
                     (unsigned long long)(r.bytes_before - r.bytes_after), r.cpu_seconds,
                     err != PACS_OK ? " error=" : "", err != PACS_OK ? ei.msg : "");
            char detail[160];
            snprintf(detail, sizeof detail, "to %s, %llu bytes saved, %llu failed", job->o.ts_uid,
                     (unsigned long long)(r.bytes_before - r.bytes_after),
                     (unsigned long long)r.failed);
            pacs_audit_event ev = {.action = PACS_AUDIT_COMPRESS,
                                   .success = err == PACS_OK && r.failed == 0,
                                   .protocol = "pacsd",
                                   .detail = detail,
                                   .count = (unsigned)r.compressed};
            pacs_audit_record(&ev);
        }
        pthread_mutex_lock(&job->mu);
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += job->interval;
        while (!job->stop) {
            if (pthread_cond_timedwait(&job->cv, &job->mu, &until) == ETIMEDOUT) {
                break;
            }
        }
        pthread_mutex_unlock(&job->mu);
    }
    return NULL;
}

pacs_err pacs_compress_job_start(const pacs_config *cfg, pacs_archive *a, pacs_compress_job **out,
                                 pacs_errinfo *ei)
{
    *out = NULL;
    if (!pacs_config_bool(cfg, "compress.enabled")) {
        return PACS_OK;
    }
    pacs_compress_job *job = calloc(1, sizeof *job);
    if (!job) {
        return pacs_errf(ei, PACS_ENOMEM, "out of memory");
    }
    pacs_err err = pacs_compress_options_load(cfg, &job->o, ei);
    if (err != PACS_OK) {
        free(job);
        return err;
    }
    job->o.stop = &job->stop;
    job->a = a;
    job->interval = pacs_config_int(cfg, "compress.interval");
    pthread_mutex_init(&job->mu, NULL);
    pthread_cond_init(&job->cv, NULL);
    if (pthread_create(&job->thread, NULL, run, job) != 0) {
        pthread_cond_destroy(&job->cv);
        pthread_mutex_destroy(&job->mu);
        free(job);
        return pacs_errf(ei, PACS_ENOMEM, "cannot start the compression thread");
    }
    pacs_log(PACS_LOG_INFO, "compress",
             "background compression to %s: modalities=%s after_days=%ld rate=%ld/min every %lds",
             job->o.ts_uid, pacs_config_str(cfg, "compress.modalities"), job->o.after_days,
             job->o.rate, job->interval);
    *out = job;
    return PACS_OK;
}

void pacs_compress_job_stop(pacs_compress_job *job)
{
    if (!job) {
        return;
    }
    pthread_mutex_lock(&job->mu);
    job->stop = 1;
    pthread_cond_signal(&job->cv);
    pthread_mutex_unlock(&job->mu);
    pthread_join(job->thread, NULL);
    pthread_cond_destroy(&job->cv);
    pthread_mutex_destroy(&job->mu);
    free(job);
}
