// SPDX-License-Identifier: MIT
/*
 * The HTTP server (httpd.h) on libmicrohttpd 0.9.75. libmicrohttpd runs a pool of
 * `http.threads` threads, each with its own epoll set; a connection stays on one thread, so a
 * request's dispatch, body callbacks and response producer all run on that thread. The
 * request (http_internal.h) is created in the URI-log callback (the only place libmicrohttpd
 * shows the raw, undecoded URI with its query string) and freed in the completion callback,
 * which libmicrohttpd calls for finished, failed and timed-out requests alike.
 *
 * Load: every DICOMweb request passes through here; what it adds is a few header lookups and
 * the body bookkeeping. Thread-safety: the server is started and stopped from one thread;
 * everything else runs on the pool's threads and shares only the read-only server record and
 * the atomic request counter.
 */
#include "http/httpd.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "http/http_internal.h"
#include "pacs/base/log.h"

struct pacs_httpd {
    struct MHD_Daemon *d;
    const pacs_config *cfg;
    pacs_archive *archive;
    pacs_httpd_dispatch_fn dispatch;
    void *ctx;
    uint64_t max_body;
    atomic_ulong next_id;
    char *tls_key, *tls_cert;          /* PEM text for HTTPS (http.tls), else NULL */
    struct MHD_OptionItem tls_opts[4]; /* their libmicrohttpd options; zero: none */
};

/* ---- the request cycle ---- */

static void *uri_log(void *cls, const char *uri, struct MHD_Connection *conn)
{
    (void)conn;
    pacs_httpd *h = cls;
    return pacs_http__new(h->cfg, h->archive, atomic_fetch_add(&h->next_id, 1) + 1, uri);
}

static void completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    int ok =
        toe == MHD_REQUEST_TERMINATED_COMPLETED_OK || toe == MHD_REQUEST_TERMINATED_DAEMON_SHUTDOWN;
    pacs_http__end(*con_cls, ok, (int)toe);
    *con_cls = NULL;
}

/* Hands the request to the dispatcher; one that neither answered nor asked for the body gets
 * a 500 rather than a hung connection. */
static void dispatch(pacs_httpd *h, pacs_http_req *r)
{
    r->dispatched = 1;
    h->dispatch(h->ctx, r);
    if (!r->answered && !r->body) {
        pacs_http_send_error(r, 500, "no answer");
    }
}

/* libmicrohttpd's first call for a request: headers only. A body too large is refused here,
 * and a request with a body is dispatched here. */
static void first_call(pacs_httpd *h, pacs_http_req *r, struct MHD_Connection *conn,
                       const char *method)
{
    pacs_http__begin(r, conn, method);
    const char *cl = pacs_http_header(r, MHD_HTTP_HEADER_CONTENT_LENGTH);
    if (cl && strtoull(cl, NULL, 10) > h->max_body) {
        /* Refused before the body is read; the connection closes after the answer. */
        pacs_http_send_error(r, 413, "request body larger than http.max_body_mb (%llu MiB)",
                             (unsigned long long)(h->max_body >> 20));
        return;
    }
    /* A request with a body is dispatched now: a refusal can only be queued before the body
     * is read (or after all of it), and the handler must say whether it wants it. Answering
     * a request without a body now would make libmicrohttpd 0.9.75 close the connection after
     * the answer, so those are dispatched on the next call. */
    int has_body = (cl && strtoull(cl, NULL, 10) > 0) ||
                   pacs_http_header(r, MHD_HTTP_HEADER_TRANSFER_ENCODING) != NULL;
    if (has_body) {
        dispatch(h, r);
    }
}

/* A piece of the body: MHD_NO closes the connection. */
static enum MHD_Result body_piece(pacs_httpd *h, pacs_http_req *r, const char *data, size_t n)
{
    if (r->body_failed) {
        return MHD_YES;
    }
    r->body_seen += n;
    if (r->body_seen > h->max_body) {
        /* A chunked body past the limit. This libmicrohttpd cannot answer in the middle of an
         * upload, so the rest is read and dropped and 413 answered at its end; a body running
         * on past as much again is cut off (the connection closes). */
        if (!r->body_over) {
            r->body_over = 1;
            pacs_log(PACS_LOG_INFO, "http",
                     "req=%lu body exceeds http.max_body_mb: the rest is dropped, then 413", r->id);
        }
        if (r->body_seen - h->max_body > h->max_body) {
            pacs_log(PACS_LOG_INFO, "http", "req=%lu body twice http.max_body_mb: closing", r->id);
            return MHD_NO;
        }
        return MHD_YES;
    }
    if (r->body->data(r, r->body_ctx, data, n) != PACS_OK) {
        r->body_failed = 1;
        return MHD_NO;
    }
    return MHD_YES;
}

static enum MHD_Result access_cb(void *cls, struct MHD_Connection *conn, const char *url,
                                 const char *method, const char *version, const char *upload_data,
                                 size_t *upload_data_size, void **con_cls)
{
    (void)url;
    (void)version;
    pacs_httpd *h = cls;
    pacs_http_req *r = *con_cls;
    if (!r) {
        return MHD_NO; /* out of memory in uri_log */
    }
    if (!r->started) {
        first_call(h, r, conn, method);
        return MHD_YES;
    }
    if (r->answered) {
        *upload_data_size = 0; /* answered already: drop whatever body remains */
        return MHD_YES;
    }
    if (!r->dispatched) {
        if (r->method == PACS_HTTP_OTHER) {
            r->dispatched = 1;
            pacs_http_add_header(r, "Allow", "GET, HEAD, POST, DELETE, OPTIONS");
            pacs_http_send_error(r, 405, "method %.16s not allowed", method);
        } else {
            dispatch(h, r);
        }
        if (r->answered) {
            *upload_data_size = 0;
            return MHD_YES;
        }
    }
    if (*upload_data_size > 0) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        return body_piece(h, r, upload_data, n);
    }
    if (r->body_over && r->body->too_large) {
        r->body->too_large(r, r->body_ctx, h->max_body);
    } else if (r->body_over) {
        pacs_http_send_error(r, 413, "request body larger than http.max_body_mb (%llu MiB)",
                             (unsigned long long)(h->max_body >> 20));
    } else {
        r->body->end(r, r->body_ctx);
    }
    if (!r->answered) {
        pacs_http_send_error(r, 500, "no answer");
    }
    return MHD_YES;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r')) {
        msg[--n] = '\0';
    }
    pacs_log(PACS_LOG_DEBUG, "http", "libmicrohttpd: %s", msg);
}

/* ---- start and stop ---- */

/* Reads a PEM file (at most 1 MiB) into a new NUL-terminated string. */
static pacs_err read_pem(const char *key, const char *path, char **out, pacs_errinfo *ei)
{
    FILE *f = fopen(path, "re");
    if (!f) {
        return pacs_errf(ei, PACS_EINVAL, "%s: cannot open %s", key, path);
    }
    size_t cap = 1u << 20;
    char *buf = malloc(cap + 1);
    size_t n = buf ? fread(buf, 1, cap + 1, f) : 0;
    fclose(f);
    if (!buf || n == 0 || n > cap || !strstr(buf, "-----BEGIN ")) {
        free(buf);
        return pacs_errf(ei, PACS_EINVAL, "%s: %s is not a PEM file", key, path);
    }
    buf[n] = '\0';
    char *fit = realloc(buf, n + 1); /* keep what the file holds, not the 1 MiB cap */
    *out = fit ? fit : buf;
    return PACS_OK;
}

/* HTTPS (http.tls): libmicrohttpd's GnuTLS with the key and certificate in memory, TLS 1.2 and
 * 1.3 with forward-secret AEAD suites only (RFC 9325, BCP 195). */
static pacs_err load_tls(pacs_httpd *h, const pacs_config *cfg, pacs_errinfo *ei)
{
    static const char priorities[] =
        "SECURE128:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:-CIPHER-ALL:+AES-128-GCM:+AES-256-GCM:"
        "+CHACHA20-POLY1305:-KX-ALL:+ECDHE-RSA:+ECDHE-ECDSA:+DHE-RSA:%SERVER_PRECEDENCE";
    if (!pacs_config_bool(cfg, "http.tls")) {
        return PACS_OK;
    }
    pacs_err err = read_pem("http.tls.key", pacs_config_str(cfg, "http.tls.key"), &h->tls_key, ei);
    if (err == PACS_OK) {
        err = read_pem("http.tls.cert", pacs_config_str(cfg, "http.tls.cert"), &h->tls_cert, ei);
    }
    if (err != PACS_OK) {
        free(h->tls_key);
        h->tls_key = NULL;
        return err;
    }
    h->tls_opts[0] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, h->tls_key};
    h->tls_opts[1] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, h->tls_cert};
    h->tls_opts[2] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_PRIORITIES, 0, (void *)priorities};
    h->tls_opts[3] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
    return PACS_OK;
}

pacs_err pacs_httpd_start(const pacs_config *cfg, pacs_archive *archive,
                          pacs_httpd_dispatch_fn dispatch_fn, void *ctx, pacs_httpd **out,
                          int *port, pacs_errinfo *ei)
{
    const char *bind = pacs_config_str(cfg, "http.bind");
    int want_port = (int)pacs_config_int(cfg, "http.port");
    struct sockaddr_in sin;
    struct sockaddr_in6 sin6;
    memset(&sin, 0, sizeof sin);
    memset(&sin6, 0, sizeof sin6);
    const struct sockaddr *sa;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
    if (inet_pton(AF_INET, bind, &sin.sin_addr) == 1) {
        sin.sin_family = AF_INET;
        sin.sin_port = htons((uint16_t)want_port);
        sa = (const struct sockaddr *)&sin;
    } else if (inet_pton(AF_INET6, bind, &sin6.sin6_addr) == 1) {
        sin6.sin6_family = AF_INET6;
        sin6.sin6_port = htons((uint16_t)want_port);
        sa = (const struct sockaddr *)&sin6;
        flags |= MHD_USE_IPv6;
    } else {
        return pacs_errf(ei, PACS_EINVAL, "http.bind '%s' is not an IP address", bind);
    }
    pacs_httpd *h = calloc(1, sizeof *h);
    if (!h) {
        return pacs_errf(ei, PACS_ENOMEM, "out of memory");
    }
    h->cfg = cfg;
    h->archive = archive;
    h->dispatch = dispatch_fn;
    h->ctx = ctx;
    h->max_body = (uint64_t)pacs_config_int(cfg, "http.max_body_mb") << 20;
    pacs_err err = load_tls(h, cfg, ei);
    if (err != PACS_OK) {
        pacs_httpd_stop(h);
        return err;
    }
    unsigned threads = (unsigned)pacs_config_int(cfg, "http.threads");
    unsigned max_conn = (unsigned)pacs_config_int(cfg, "http.max_connections");
    unsigned timeout = (unsigned)pacs_config_int(cfg, "http.timeout");
    /* The logger goes first so that libmicrohttpd reports option errors through it. */
    h->d = MHD_start_daemon(flags | (h->tls_cert ? MHD_USE_TLS : 0), (uint16_t)want_port, NULL,
                            NULL, access_cb, h, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, h,
                            MHD_OPTION_SOCK_ADDR, sa, MHD_OPTION_THREAD_POOL_SIZE, threads,
                            MHD_OPTION_CONNECTION_LIMIT, max_conn, MHD_OPTION_CONNECTION_TIMEOUT,
                            timeout, MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(64 * 1024),
                            MHD_OPTION_URI_LOG_CALLBACK, uri_log, h, MHD_OPTION_NOTIFY_COMPLETED,
                            completed, h, MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned)1,
                            MHD_OPTION_ARRAY, h->tls_opts, MHD_OPTION_END);
    if (!h->d) {
        pacs_httpd_stop(h);
        return pacs_errf(ei, PACS_ENET, "cannot listen on %s:%d for HTTP", bind, want_port);
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_BIND_PORT);
    *port = info ? (int)info->port : want_port;
    *out = h;
    return PACS_OK;
}

void pacs_httpd_stop(pacs_httpd *h)
{
    if (!h) {
        return;
    }
    if (h->d) { /* NULL when a start failed half-way: the rest is freed the same */
        MHD_stop_daemon(h->d);
    }
    free(h->tls_key);
    free(h->tls_cert);
    free(h);
}
