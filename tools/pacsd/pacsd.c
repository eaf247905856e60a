// SPDX-License-Identifier: MIT
/*
 * pacsd: the archive daemon. Reads its configuration, opens the archive, starts the DIMSE
 * server, writes the ready file, then waits for signals: SIGTERM or SIGINT stop it cleanly;
 * SIGHUP re-reads the configuration sources and replaces the known AEs and forwarding rules
 * (other settings need a restart). While it runs, DATA/pacsd.http (pacs/base/runinfo.h) says
 * where its HTTP server listens, for the links `pacs share` prints.
 * Signals are blocked in every thread and taken here with sigwait, so no handler runs in an
 * arbitrary thread.
 */
#include <errno.h>
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "dicomweb/dicomweb.h"
#include "dicomweb/sender.h"
#include "fhir/fhir.h"
#include "fhir/push.h"
#include "dimse/aetable.h"
#include "dimse/dimse.h"
#include "dimse/forward.h"
#include "pacs/base/cli.h"
#include "pacs/base/config.h"
#include "pacs/base/log.h"
#include "pacs/base/metrics.h"
#include "pacs/base/runinfo.h"
#include "pacs/dicom/dcm.h"
#include "hl7/orders.h"
#include "hl7/server.h"
#include "storage/archive.h"
#include "storage/audit.h"
#include "storage/health.h"
#include "tools/pacsd/compress_job.h"
#include "tools/pacsd/security.h"

#define PACSD_VERSION "0.1.0"

static void usage(FILE *f)
{
    fprintf(f, "usage: pacsd [--data DIR] [--config FILE] [--set KEY=VALUE]... "
               "[--ready-file FILE]\n"
               "       pacsd --help-config | --version\n\n"
               "Settings are applied in this order: built-in defaults, the --config file,\n"
               "PACS_* environment variables (dimse.port is PACS_DIMSE_PORT), then --data and\n"
               "--set in the order given. See `pacsd --help-config` for every setting.\n");
}

/* Writes KEY=VALUE lines to `path` atomically (temporary file, then rename). */
static int write_ready(const char *path, int dimse_port, int http_port, int tls_port,
                       const pacs_hl7_server *hl7)
{
    char tmp[4096];
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen(tmp, "w");
    if (!f) {
        return -1;
    }
    fprintf(f, "DIMSE_PORT=%d\nHTTP_PORT=%d\nPID=%ld\n", dimse_port, http_port, (long)getpid());
    if (tls_port >= 0) {
        fprintf(f, "DIMSE_TLS_PORT=%d\n", tls_port);
    }
    if (pacs_hl7_port(hl7) >= 0) {
        fprintf(f, "HL7_PORT=%d\n", pacs_hl7_port(hl7));
    }
    if (pacs_hl7_tls_port(hl7) >= 0) {
        fprintf(f, "HL7_TLS_PORT=%d\n", pacs_hl7_tls_port(hl7));
    }
    if (fclose(f) != 0) {
        return -1;
    }
    return rename(tmp, path);
}

/* SIGHUP: the configuration again from the same sources (pacs/base/cli.h, as pacsd's callers
 * use it), for its known AEs and forwarding rules only. */
static void reload_aetable(int argc, char **argv, pacs_aetable *table)
{
    static const char *const valued[] = {"--ready-file", NULL};
    pacs_errinfo ei;
    pacs_errinfo_clear(&ei);
    pacs_config *cfg = pacs_config_new();
    char **rest = calloc((size_t)argc + 1, sizeof *rest);
    int n_rest = 0;
    pacs_err err = cfg && rest ? pacs_cli_load_config(cfg, argc, argv, valued, rest, &n_rest, &ei)
                               : pacs_errf(&ei, PACS_ENOMEM, "out of memory");
    if (err == PACS_OK) {
        err = pacs_aetable_load(table, cfg, &ei);
    }
    if (err == PACS_OK) {
        size_t n_aes = 0, n_routes = 0;
        pacs_aetable_counts(table, &n_aes, &n_routes);
        pacs_log(PACS_LOG_INFO, "pacsd", "SIGHUP: reloaded known_aes=%zu routes=%zu", n_aes,
                 n_routes);
    } else {
        pacs_log(PACS_LOG_ERROR, "pacsd",
                 "SIGHUP: configuration not reloaded, the old one stays: %s", ei.msg);
    }
    free(rest);
    pacs_config_free(cfg);
}

/* Every request and instance allocates buffers of 256 KiB to 1 MiB (HTTP response blocks,
 * frames, DCMTK's pixel data). By default glibc maps each such buffer afresh and unmaps it on
 * free, and trims freed arena memory at once, so every request paid ~100-250 page faults:
 * a fifth of a study's /metadata time and a third of a /frames/1 (BENCHMARKS.md). Keeping up
 * to 8 MiB free per arena costs little memory and removes them. */
static void tune_malloc(void)
{
#ifdef M_MMAP_THRESHOLD
    mallopt(M_MMAP_THRESHOLD, 2 << 20);
    mallopt(M_TRIM_THRESHOLD, 8 << 20);
#endif
}

int main(int argc, char **argv)
{
    tune_malloc();
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            usage(stdout);
            return 0;
        } else if (strcmp(argv[i], "--help-config") == 0) {
            pacs_config_print_help(stdout);
            return 0;
        } else if (strcmp(argv[i], "--version") == 0) {
            printf("pacsd %s\n", PACSD_VERSION);
            return 0;
        }
    }
    int rc = 1, audit_open = 0, collecting = 0, runinfo_written = 0;
    pacs_errinfo ei;
    const char *ready_file = NULL;
    pacs_archive *archive = NULL;
    pacs_aetable *aetable = NULL;
    pacs_forwarder *forwarder = NULL;
    pacs_web_sender *web_sender = NULL;
    pacs_ehr_sender *ehr_sender = NULL;
    pacs_fwd_worker *fwd_worker = NULL;
    pacs_compress_job *compress = NULL;
    pacs_dimse_server *dimse = NULL;
    pacs_dicomweb_server *http = NULL;
    pacs_fhir *fhir = NULL;
    pacs_http_mounts mounts;
    memset(&mounts, 0, sizeof mounts);
    pacs_hl7_server *hl7 = NULL;
    pacs_config *cfg = pacs_config_new();
    /* --config, the environment, --data and --set: the same code as the pacs tool's. */
    static const char *const valued[] = {"--ready-file", NULL};
    char **rest = calloc((size_t)argc + 1, sizeof *rest);
    int n_rest = 0;
    if (!cfg || !rest) {
        fprintf(stderr, "pacsd: out of memory\n");
        goto done;
    }
    if (pacs_cli_load_config(cfg, argc, argv, valued, rest, &n_rest, &ei) != PACS_OK) {
        fprintf(stderr, "pacsd: %s\n", ei.msg);
        rc = 2;
        goto done;
    }
    for (int i = 0; i < n_rest; i++) {
        if (strcmp(rest[i], "--ready-file") == 0 && i + 1 < n_rest) {
            ready_file = rest[++i];
        } else {
            fprintf(stderr, "pacsd: unknown argument '%s'\n", rest[i]);
            usage(stderr);
            rc = 2;
            goto done;
        }
    }
    pacs_log_set_level((pacs_log_level)pacs_log_level_parse(pacs_config_str(cfg, "log.level")));

    /* Block the signals we wait for before any thread exists, so all threads inherit it. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (pacs_dcm_init(&ei) != PACS_OK) {
        pacs_log(PACS_LOG_ERROR, "pacsd", "%s", ei.msg);
        goto done;
    }
    if (pacs_archive_open(cfg, &archive, &ei) != PACS_OK) {
        pacs_log(PACS_LOG_ERROR, "pacsd", "cannot open the archive in %s: %s",
                 pacs_config_str(cfg, "data"), ei.msg);
        goto done;
    }
    /* /metrics reads the archive's counts, queue and disks when asked (storage/health.h). */
    if (pacs_metrics_add_collector(pacs_health_collect, archive, &ei) != PACS_OK) {
        pacs_log(PACS_LOG_ERROR, "pacsd", "%s", ei.msg);
        goto done;
    }
    collecting = 1;
    if (pacs_audit_open(pacs_config_str(cfg, "data"), &ei) != PACS_OK) {
        pacs_log(PACS_LOG_ERROR, "pacsd", "cannot open the audit trail: %s", ei.msg);
        goto done;
    }
    audit_open = 1;
    pacs_security_lifecycle(PACS_AUDIT_START, PACSD_VERSION);
    aetable = pacs_aetable_new();
    if (!aetable || pacs_aetable_load(aetable, cfg, &ei) != PACS_OK) {
        pacs_log(PACS_LOG_ERROR, "pacsd", "cannot load the known AEs: %s",
                 aetable ? ei.msg : "out of memory");
        goto done;
    }
    /* Forwarding: one queue worker, with a sender per protocol (DIMSE to ae.*, STOW-RS to
     * web.*, FHIR PUTs to ehr.*); the stored hook goes in before any association can store. */
    if (pacs_forward_new(cfg, archive, aetable, &forwarder, &ei) != PACS_OK ||
        pacs_web_sender_new(cfg, archive, &web_sender, &ei) != PACS_OK ||
        pacs_ehr_sender_new(cfg, archive, &ehr_sender, &ei) != PACS_OK) {
        pacs_log(PACS_LOG_ERROR, "pacsd", "cannot start forwarding: %s", ei.msg);
        goto done;
    }
    pacs_fwd_sender senders[3] = {pacs_forward_sender(forwarder), pacs_web_sender_face(web_sender),
                                  pacs_ehr_sender_face(ehr_sender)};
    if (pacs_fwd_worker_start(cfg, archive, senders, 3, &fwd_worker, &ei) != PACS_OK) {
        pacs_log(PACS_LOG_ERROR, "pacsd", "cannot start forwarding: %s", ei.msg);
        goto done;
    }
    pacs_forward_attach(forwarder, fwd_worker);
    /* Compression at rest, when configured: one idle-priority thread (compress_job.h). */
    if (pacs_compress_job_start(cfg, archive, &compress, &ei) != PACS_OK) {
        pacs_log(PACS_LOG_ERROR, "pacsd", "cannot start compression at rest: %s", ei.msg);
        goto done;
    }
    int dimse_port = 0;
    if (pacs_dimse_start(cfg, archive, &dimse, &dimse_port, &ei) != PACS_OK) {
        pacs_log(PACS_LOG_ERROR, "pacsd", "cannot start DICOM: %s", ei.msg);
        goto done;
    }
    pacs_dimse_set_aetable(dimse, aetable);
    /* FHIR shares the HTTP server, mounted at fhir.prefix; DICOMweb has every other path. */
    const char *fhir_prefix = pacs_config_str(cfg, "fhir.prefix");
    if (fhir_prefix[0] &&
        (pacs_fhir_open(cfg, archive, &fhir, &ei) != PACS_OK ||
         pacs_http_mounts_add(&mounts, fhir_prefix, pacs_fhir_dispatch, fhir, &ei) != PACS_OK)) {
        pacs_log(PACS_LOG_ERROR, "pacsd", "cannot start FHIR: fhir.prefix: %s", ei.msg);
        goto done;
    }
    int http_port = 0;
    if (pacs_dicomweb_start(cfg, archive, &mounts, &http, &http_port, &ei) != PACS_OK) {
        pacs_log(PACS_LOG_ERROR, "pacsd", "cannot start DICOMweb: %s", ei.msg);
        goto done;
    }
    pacs_log(PACS_LOG_INFO, "pacsd", "DICOMweb on http://%s:%d%s",
             pacs_config_str(cfg, "http.bind"), http_port, pacs_config_str(cfg, "http.prefix"));
    if (fhir) {
        pacs_log(PACS_LOG_INFO, "pacsd", "FHIR R4 on http://%s:%d%s",
                 pacs_config_str(cfg, "http.bind"), http_port, fhir_prefix);
    }
    pacs_log(PACS_LOG_INFO, "pacsd", "pacsd %s ready: DICOM %s:%d AET=%s, data=%s", PACSD_VERSION,
             pacs_config_str(cfg, "dimse.bind"), dimse_port, pacs_config_str(cfg, "dimse.aet"),
             pacs_config_str(cfg, "data"));
    if (pacs_dimse_tls_port(dimse) >= 0) {
        pacs_log(PACS_LOG_INFO, "pacsd", "DICOM TLS on %s:%d (profile %s)",
                 pacs_config_str(cfg, "dimse.bind"), pacs_dimse_tls_port(dimse),
                 pacs_config_str(cfg, "dimse.tls.profile"));
    }
    pacs_hl7_orders hl7_orders = {cfg, archive};
    if (pacs_hl7_start(cfg, pacs_hl7_orders_handle, &hl7_orders, &hl7, &ei) != PACS_OK) {
        pacs_log(PACS_LOG_ERROR, "pacsd", "cannot start HL7: %s", ei.msg);
        goto done;
    }
    if (pacs_hl7_port(hl7) >= 0 || pacs_hl7_tls_port(hl7) >= 0) {
        pacs_log(PACS_LOG_INFO, "pacsd", "HL7 (MLLP) on %s port=%d tls_port=%d",
                 pacs_config_str(cfg, "hl7.bind"), pacs_hl7_port(hl7), pacs_hl7_tls_port(hl7));
    }
    pacs_security_warn(cfg, dimse_port, http_port);
    pacs_runinfo ri;
    memset(&ri, 0, sizeof ri);
    ri.pid = (long)getpid();
    snprintf(ri.scheme, sizeof ri.scheme, "%s",
             pacs_config_bool(cfg, "http.tls") ? "https" : "http");
    snprintf(ri.bind, sizeof ri.bind, "%s", pacs_config_str(cfg, "http.bind"));
    ri.port = http_port;
    snprintf(ri.prefix, sizeof ri.prefix, "%s", pacs_config_str(cfg, "http.prefix"));
    if (pacs_runinfo_write(pacs_config_str(cfg, "data"), &ri, &ei) == PACS_OK) {
        runinfo_written = 1;
    } else {
        pacs_log(PACS_LOG_WARN, "pacsd", "pacs share cannot learn this server's address: %s",
                 ei.msg);
    }
    if (ready_file &&
        write_ready(ready_file, dimse_port, http_port, pacs_dimse_tls_port(dimse), hl7) != 0) {
        pacs_log(PACS_LOG_ERROR, "pacsd", "cannot write ready file %s: %s", ready_file,
                 strerror(errno));
    }

    for (;;) {
        int sig = 0;
        if (sigwait(&sigs, &sig) != 0) {
            continue;
        }
        if (sig == SIGHUP) {
            reload_aetable(argc, argv, aetable);
            pacs_fwd_worker_wake(fwd_worker);
            continue;
        }
        pacs_log(PACS_LOG_INFO, "pacsd", "%s: stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
        break;
    }
    rc = 0;
done:
    /* Everything that was started, in reverse order (also when a start failed half-way). */
    pacs_hl7_stop(hl7, 10);
    if (http) {
        pacs_dicomweb_stop(http);
    }
    pacs_fhir_close(fhir); /* after the server: no request is using it any more */
    if (dimse) {
        pacs_dimse_stop(dimse, 10);
    }
    pacs_compress_job_stop(compress);
    if (forwarder) {
        pacs_forward_attach(forwarder, NULL);
    }
    pacs_fwd_worker_stop(fwd_worker);
    pacs_forward_free(forwarder);
    pacs_web_sender_free(web_sender);
    pacs_ehr_sender_free(ehr_sender);
    if (collecting) {
        pacs_metrics_remove_collector(pacs_health_collect, archive);
    }
    if (archive) {
        pacs_archive_close(archive);
    }
    if (aetable) {
        pacs_aetable_free(aetable);
    }
    if (audit_open) {
        pacs_security_lifecycle(PACS_AUDIT_STOP, PACSD_VERSION);
        pacs_audit_close();
    }
    if (ready_file && rc == 0) {
        unlink(ready_file);
    }
    if (runinfo_written) {
        pacs_runinfo_remove(pacs_config_str(cfg, "data"), (long)getpid());
    }
    free(rest);
    if (rc == 0) {
        pacs_log(PACS_LOG_INFO, "pacsd", "stopped");
    }
    pacs_config_free(cfg);
    return rc;
}
