// SPDX-License-Identifier: MIT
/*
 * The servers pacs-bench measures (run.h): pacsd on loopback with a fresh data folder and
 * port 0 (its ready file gives the ports), the command line the `pacs` tool gets to work
 * beside it, and Orthanc with the configuration NOTES.md gives for a fair comparison
 * (installed with apt-get first when allowed); both are ready once they answer C-ECHO. Peak
 * RSS is noted after each phase.
 *
 * Load: none on what is timed. Thread-safety: main thread only.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "tools/bench/run.h"

/* Notes the server's peak RSS so far, so that the report says which phase raised it. */
void bench_server_rss_mark(bench_server *s, const char *phase)
{
    size_t n = strlen(s->rss_phases);
    uint64_t rss = bench_peak_rss(s->pid), anon, file;
    bench_rss_split(s->pid, &anon, &file);
    snprintf(s->rss_phases + n, sizeof s->rss_phases - n,
             "%s%s %.0f MB (now %.0f anon + %.0f file)", n ? "; " : "", phase, (double)rss / 1e6,
             (double)anon / 1e6, (double)file / 1e6);
}

int bench_server_wait_echo(bench_server *s, double timeout_s)
{
    double end = bench_now() + timeout_s;
    while (bench_now() < end) {
        bench_dimse *d = NULL;
        pacs_errinfo ei;
        if (bench_dimse_open(s->aet, s->dimse_port, &d, &ei) == PACS_OK) {
            pacs_err e = bench_dimse_echo(d, &ei);
            bench_dimse_close(d);
            if (e == PACS_OK) {
                return 0;
            }
        }
        usleep(100000);
    }
    return -1;
}

/* The settings pacsd runs with, beside --data. The `pacs` tool reads its configuration the way
 * pacsd does (built-in defaults, PACS_* variables, then --data and --set), so given the same
 * arguments it works on the same archive with the same settings. */
static const char *const pacsd_settings[] = {"dimse.port=0", "http.port=0", "http.bind=127.0.0.1",
                                             "dimse.bind=127.0.0.1", "hl7.port=-1"};

int bench_pacsd_argv(const bench_server *s, const char *bin, const char *const *tail, char **argv,
                     size_t cap)
{
    size_t n_set = sizeof pacsd_settings / sizeof pacsd_settings[0], n_tail = 0;
    while (tail[n_tail]) {
        n_tail++;
    }
    if (3 + 2 * n_set + n_tail + 1 > cap) {
        return -1;
    }
    size_t a = 0;
    argv[a++] = (char *)bin;
    argv[a++] = "--data";
    argv[a++] = (char *)s->data;
    for (size_t i = 0; i < n_set; i++) {
        argv[a++] = "--set";
        argv[a++] = (char *)pacsd_settings[i];
    }
    for (size_t i = 0; i < n_tail; i++) {
        argv[a++] = (char *)tail[i];
    }
    argv[a] = NULL;
    return 0;
}

void bench_pacs_tool(const bench_cfg *c, char *out, size_t cap)
{
    const char *slash = strrchr(c->pacsd, '/');
    if (slash) {
        snprintf(out, cap, "%.*s/pacs", (int)(slash - c->pacsd), c->pacsd);
    } else {
        snprintf(out, cap, "pacs");
    }
}

int bench_server_start_pacsd(const bench_cfg *c, bench_server *s)
{
    char ready[3200];
    snprintf(s->dir, sizeof s->dir, "%s/run/pacsd", c->work);
    bench_rmtree(s->dir);
    pacs_errinfo ei;
    if (gen_mkdirs(s->dir, &ei) != PACS_OK) {
        return -1;
    }
    snprintf(s->data, sizeof s->data, "%s/data", s->dir);
    snprintf(s->log, sizeof s->log, "%s/pacsd.log", s->dir);
    snprintf(ready, sizeof ready, "%s/ready", s->dir);
    const char *tail[] = {"--ready-file", ready, NULL};
    char *argv[32];
    if (bench_pacsd_argv(s, c->pacsd, tail, argv, 32) != 0) {
        return -1;
    }
    s->pid = bench_spawn(argv, s->log);
    if (s->pid < 0) {
        return -1;
    }
    double end = bench_now() + 30;
    while (bench_now() < end && !bench_file_exists(ready)) {
        usleep(20000);
    }
    usleep(20000);
    FILE *f = fopen(ready, "r");
    if (!f) {
        fprintf(stderr, "pacs-bench: pacsd did not become ready; see %s\n", s->log);
        return -1;
    }
    char line[256];
    while (fgets(line, sizeof line, f)) {
        sscanf(line, "DIMSE_PORT=%d", &s->dimse_port);
        sscanf(line, "HTTP_PORT=%d", &s->http_port);
    }
    fclose(f);
    snprintf(s->aet, sizeof s->aet, "PACS");
    if (s->http_port > 0) {
        snprintf(s->web, sizeof s->web, "http://127.0.0.1:%d/dicomweb", s->http_port);
    }
    return s->dimse_port > 0 && bench_server_wait_echo(s, 30) == 0 ? 0 : -1;
}

static const char *orthanc_binary(void)
{
    static const char *const cands[] = {"/usr/sbin/Orthanc", "/usr/bin/Orthanc"};
    for (size_t i = 0; i < 2; i++) {
        if (access(cands[i], X_OK) == 0) {
            return cands[i];
        }
    }
    return NULL;
}

#define ORTHANC_DICOMWEB_PLUGIN "/usr/share/orthanc/plugins/libOrthancDicomWeb.so"

/* Installs Debian's orthanc and orthanc-dicomweb when missing and allowed to. */
const char *bench_orthanc_ensure(const bench_cfg *c, char *why, size_t cap)
{
    const char *bin = orthanc_binary();
    if (bin && access(ORTHANC_DICOMWEB_PLUGIN, R_OK) == 0) {
        return bin;
    }
    if (strcmp(c->orthanc_mode, "install") != 0) {
        snprintf(why, cap, "Orthanc is not installed (--orthanc install to install it)");
        return NULL;
    }
    if (geteuid() != 0) {
        snprintf(why, cap, "Orthanc is not installed and installing needs root");
        return NULL;
    }
    printf("pacs-bench: installing orthanc and orthanc-dicomweb with apt-get\n");
    fflush(stdout);
    char log[3000];
    snprintf(log, sizeof log, "%s/apt.log", c->work);
    setenv("DEBIAN_FRONTEND", "noninteractive", 1);
    char *argv[] = {"apt-get", "install",          "-y", "-q", "--no-install-recommends",
                    "orthanc", "orthanc-dicomweb", NULL};
    if (bench_run(argv, log, 900) != 0) {
        char *upd[] = {"apt-get", "update", "-q", NULL};
        bench_run(upd, log, 600);
        if (bench_run(argv, log, 900) != 0) {
            snprintf(why, cap, "apt-get install orthanc failed; see %.150s", log);
            return NULL;
        }
    }
    bin = orthanc_binary();
    if (!bin) {
        snprintf(why, cap, "Orthanc binary not found after installation");
    }
    return bin;
}

int bench_server_start_orthanc(const bench_cfg *c, bench_server *s, const char *bin)
{
    snprintf(s->dir, sizeof s->dir, "%s/run/orthanc", c->work);
    bench_rmtree(s->dir);
    snprintf(s->data, sizeof s->data, "%s/storage", s->dir);
    snprintf(s->index_dir, sizeof s->index_dir, "%s/index", s->dir);
    snprintf(s->log, sizeof s->log, "%s/orthanc.log", s->dir);
    pacs_errinfo ei;
    if (gen_mkdirs(s->data, &ei) != PACS_OK || gen_mkdirs(s->index_dir, &ei) != PACS_OK) {
        return -1;
    }
    s->dimse_port = bench_free_port();
    s->http_port = bench_free_port();
    while (s->http_port == s->dimse_port) {
        s->http_port = bench_free_port();
    }
    snprintf(s->aet, sizeof s->aet, "ORTHANC");
    /* The configuration NOTES.md documents for a fair comparison: fsync on, no compression,
     * no storage access on find, no job persistence, TCP_NODELAY, DICOMweb under /dicom-web/. */
    json_t *conf = json_pack(
        "{s:s, s:s, s:s, s:b, s:b, s:s, s:b, s:b, s:i, s:i, s:s, s:b, s:b, s:b, s:b, s:b, s:b, "
        "s:b, s:[s], s:{s:b, s:s}}",
        "Name", "pacs-bench", "StorageDirectory", s->data, "IndexDirectory", s->index_dir,
        "StorageCompression", 0, "SyncStorageArea", 1, "StorageAccessOnFind", "Never", "SaveJobs",
        0, "TcpNoDelay", 1, "HttpPort", s->http_port, "DicomPort", s->dimse_port, "DicomAet",
        s->aet, "RemoteAccessAllowed", 0, "AuthenticationEnabled", 0, "DicomAlwaysAllowEcho", 1,
        "DicomAlwaysAllowStore", 1, "DicomAlwaysAllowFind", 1, "DicomCheckCalledAet", 0,
        "KeepAlive", 1, "Plugins", ORTHANC_DICOMWEB_PLUGIN, "DicomWeb", "Enable", 1, "Root",
        "/dicom-web/");
    char conf_path[3200];
    snprintf(conf_path, sizeof conf_path, "%s/orthanc.json", s->dir);
    if (!conf || json_dump_file(conf, conf_path, JSON_INDENT(2)) != 0) {
        json_decref(conf);
        return -1;
    }
    json_decref(conf);
    char *argv[] = {(char *)bin, conf_path, NULL};
    s->pid = bench_spawn(argv, s->log);
    if (s->pid < 0) {
        return -1;
    }
    snprintf(s->web, sizeof s->web, "http://127.0.0.1:%d/dicom-web", s->http_port);
    char url[512];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/system", s->http_port);
    bench_http *h = bench_http_new();
    double end = bench_now() + 60;
    int up = 0;
    while (h && bench_now() < end && !up) {
        long st;
        uint64_t b;
        double t;
        if (bench_http_get(h, url, NULL, &st, &b, &t, &ei) == PACS_OK && st == 200) {
            up = 1;
        } else {
            usleep(100000);
        }
    }
    bench_http_free(h);
    if (!up) {
        fprintf(stderr, "pacs-bench: Orthanc did not start; see %s\n", s->log);
        return -1;
    }
    return bench_server_wait_echo(s, 30);
}
