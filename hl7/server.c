// SPDX-License-Identifier: MIT
/*
 * The HL7 v2 listener (server.h): every HL7 message passes through here, from its MLLP frame
 * to the ACK written back. One thread watches each port; each connection runs on a thread of
 * its own, at most hl7.max_connections at once, and every wait is bounded (a one-second tick
 * for stopping, hl7.timeout for silence, the socket timeouts for writes).
 */
#include "hl7/server.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "pacs/base/log.h"
#include "pacs/base/workers.h"
#include "hl7/conn.h"
#include "hl7/mllp.h"
#include "storage/audit.h"

#define TICK_MS 1000

struct pacs_hl7_server {
    const pacs_config *cfg;
    pacs_hl7_handler handler;
    void *ctx;
    int fd, tls_fd; /* listening sockets, -1 when closed */
    int port, tls_port;
    SSL_CTX *tls;
    pthread_t acceptor, tls_acceptor;
    int started, tls_started;
    atomic_int stopping;
    atomic_uint seq;    /* for our ACKs' control ids */
    pacs_workers conns; /* a thread per connection; their sockets, cut off at a forced stop */
};

typedef struct conn_job {
    pacs_hl7_server *s;
    pacs_hl7__conn c;
    pacs_hl7_peer peer;
} conn_job;

/* Sockets are listed as pointer-sized integers. */
static void *fd_item(int fd)
{
    return (void *)(intptr_t)fd;
}

static void cut_fd(void *item)
{
    shutdown((int)(intptr_t)item, SHUT_RDWR);
}

/* The answer's code and error for one frame (the handler's, or ours when the message cannot
 * reach it). */
static pacs_hl7_ack_code judge(pacs_hl7_server *s, const pacs_mllp_reader *r,
                               const pacs_hl7_peer *peer, pacs_hl7_error *err)
{
    if (r->oversize) {
        pacs_hl7_fail(err, PACS_HL7_E_INTERNAL, "", 0,
                      "message of %zu bytes is larger than hl7.max_message_kb (%ld KiB): not "
                      "processed",
                      r->total, pacs_config_int(s->cfg, "hl7.max_message_kb"));
        return PACS_HL7_AR;
    }
    int dcs = pacs_hl7_charset_parse(pacs_config_str(s->cfg, "hl7.charset"));
    pacs_hl7_msg *m = NULL;
    pacs_err e = pacs_hl7_parse(r->buf, r->len, (pacs_hl7_charset)dcs, &m, err);
    if (e == PACS_ENOMEM) {
        pacs_hl7_fail(err, PACS_HL7_E_INTERNAL, "", 0, "out of memory");
        return PACS_HL7_AR;
    }
    if (e != PACS_OK) {
        return PACS_HL7_AR;
    }
    char v[32] = "";
    pacs_hl7_ack_code code = PACS_HL7_AA;
    if (pacs_hl7_get(m, 0, 12, 1, 1, 1, v, sizeof v) != PACS_OK ||
        (v[0] && strncmp(v, "2.", 2) != 0)) {
        pacs_hl7_fail(err, PACS_HL7_E_VERSION, "MSH", 12, "MSH-12: version '%s' is not HL7 v2.x",
                      v);
        code = PACS_HL7_AR;
    } else if (pacs_hl7_get(m, 0, 11, 1, 1, 1, v, sizeof v) != PACS_OK ||
               (v[0] && strcmp(v, "P") != 0 && strcmp(v, "D") != 0 && strcmp(v, "T") != 0)) {
        pacs_hl7_fail(err, PACS_HL7_E_PROCESSING_ID, "MSH", 11,
                      "MSH-11: processing id '%s' is not P, D or T", v);
        code = PACS_HL7_AR;
    } else {
        memset(err, 0, sizeof *err);
        code = s->handler(s->ctx, m, peer, err);
    }
    pacs_hl7_free(m);
    return code;
}

/* Answers one frame: judge it, write VT ACK FS CR. */
static pacs_err answer(pacs_hl7_server *s, conn_job *j, const pacs_mllp_reader *r, pacs_errinfo *ei)
{
    pacs_hl7_error herr;
    memset(&herr, 0, sizeof herr);
    pacs_hl7_ack_code code = judge(s, r, &j->peer, &herr);
    pacs_hl7_header h;
    pacs_hl7_header_read(r->buf, r->len, &h);
    char id[48], ts[32];
    snprintf(id, sizeof id, "PACS%lld.%u", (long long)time(NULL), atomic_fetch_add(&s->seq, 1));
    time_t now = time(NULL);
    struct tm tm;
    localtime_r(&now, &tm);
    strftime(ts, sizeof ts, "%Y%m%d%H%M%S%z", &tm);
    pacs_buf out;
    pacs_buf_init(&out, 64 * 1024);
    pacs_err err = pacs_buf_puts(&out, "\x0b");
    if (err == PACS_OK) {
        err = pacs_hl7_ack_build(&h, code, &herr, id, ts, &out);
    }
    if (err == PACS_OK) {
        err = pacs_buf_puts(&out, "\x1c\r");
    }
    if (err != PACS_OK) {
        /* Our own text cannot overflow 64 KiB; echoed fields are capped by the header. */
        pacs_buf_free(&out);
        return pacs_errf(ei, PACS_EINVAL, "cannot build the ACK");
    }
    if (code == PACS_HL7_AA) {
        pacs_log(PACS_LOG_INFO, "hl7", "conn=%u type=%s^%s control=%.40s ack=AA", j->peer.conn_id,
                 h.message_type, h.trigger, h.control_id);
    } else {
        char at[16] = "message";
        if (herr.seg[0]) {
            snprintf(at, sizeof at, herr.field ? "%s-%u" : "%s", herr.seg, herr.field);
        }
        pacs_log(PACS_LOG_WARN, "hl7",
                 "conn=%u from=%s type=%s^%s control=%.40s bytes=%zu ack=%s error=%d at=%s",
                 j->peer.conn_id, j->peer.host, h.message_type, h.trigger, h.control_id, r->total,
                 pacs_hl7_ack_code_name(code), herr.code, at);
        pacs_log(PACS_LOG_DEBUG, "hl7", "conn=%u error: %s", j->peer.conn_id, herr.text);
    }
    err = pacs_hl7__write(&j->c, out.data, out.len, ei);
    pacs_buf_free(&out);
    return err;
}

static void *serve(void *arg)
{
    conn_job *j = arg;
    pacs_hl7_server *s = j->s;
    int timeout = (int)pacs_config_int(s->cfg, "hl7.timeout");
    size_t max = (size_t)pacs_config_int(s->cfg, "hl7.max_message_kb") * 1024;
    pacs_errinfo ei;
    pacs_errinfo_clear(&ei);
    const char *end = "closed by peer";
    unsigned messages = 0;
    pacs_mllp_reader r;
    pacs_mllp_init(&r, max);
    char *buf = malloc(64 * 1024);
    int one = 1;
    setsockopt(j->c.fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (!buf) {
        end = "out of memory";
        goto done;
    }
    if (j->peer.tls) {
        if (pacs_hl7__tls_accept(s->tls, &j->c, timeout < 30 ? timeout : 30, &ei) != PACS_OK) {
            pacs_log(PACS_LOG_WARN, "hl7", "conn=%u %s", j->peer.conn_id, ei.msg);
            pacs_audit_event ev = {.action = PACS_AUDIT_LOGIN_FAILURE,
                                   .protocol = "hl7",
                                   .from = j->peer.host,
                                   .detail = ei.msg};
            pacs_audit_record(&ev);
            end = "TLS handshake failed";
            goto done;
        }
        snprintf(j->peer.cert_cn, sizeof j->peer.cert_cn, "%s", j->c.cert_cn);
    }
    int idle_ms = 0;
    while (!atomic_load(&s->stopping)) {
        size_t got = 0;
        pacs_err err = pacs_hl7__read(&j->c, buf, 64 * 1024, TICK_MS, &got, &ei);
        if (err == PACS_ETIMEOUT) {
            idle_ms += TICK_MS;
            if (idle_ms >= timeout * 1000) {
                end = pacs_mllp_partial(&r) ? "timed out within a message" : "idle timeout";
                break;
            }
            continue;
        }
        if (err == PACS_ECLOSED) {
            end = pacs_mllp_partial(&r) ? "closed by peer within a message" : "closed by peer";
            break;
        }
        if (err != PACS_OK) {
            end = "network error";
            pacs_log(PACS_LOG_WARN, "hl7", "conn=%u %s", j->peer.conn_id, ei.msg);
            break;
        }
        idle_ms = 0;
        for (size_t off = 0; off < got;) {
            size_t used = 0;
            err = pacs_mllp_feed(&r, buf + off, got - off, &used);
            off += used;
            if (err == PACS_EAGAIN) {
                break;
            }
            if (err == PACS_OK) {
                messages++;
                err = answer(s, j, &r, &ei);
                pacs_mllp_next(&r);
            }
            if (err == PACS_EBADDATA) {
                end = "bytes outside an MLLP frame (not MLLP)";
                goto done;
            }
            if (err != PACS_OK) {
                end = err == PACS_ENOMEM ? "out of memory" : "network error";
                goto done;
            }
        }
    }
    if (atomic_load(&s->stopping)) {
        end = "server stopping";
    }
done:
    pacs_log(PACS_LOG_INFO, "hl7", "conn=%u from=%s%s %s messages=%u", j->peer.conn_id,
             j->peer.host, j->peer.tls ? " tls" : "", end, messages);
    free(buf);
    pacs_mllp_free(&r);
    pacs_workers_track(&s->conns, fd_item(j->c.fd), 0);
    pacs_workers_leave(&s->conns);
    pacs_hl7__close(&j->c);
    free(j);
    return NULL;
}

static void accept_one(pacs_hl7_server *s, int lfd, int tls)
{
    struct sockaddr_in addr;
    socklen_t alen = sizeof addr;
    int fd = accept4(lfd, (struct sockaddr *)&addr, &alen, SOCK_CLOEXEC);
    if (fd < 0) {
        return;
    }
    unsigned max = (unsigned)pacs_config_int(s->cfg, "hl7.max_connections");
    conn_job *j = calloc(1, sizeof *j);
    unsigned id;
    int room = pacs_workers_enter(&s->conns, max, &id);
    if (room && !j) {
        pacs_workers_leave(&s->conns);
        room = 0;
    }
    char host[64] = "?";
    inet_ntop(AF_INET, &addr.sin_addr, host, sizeof host);
    if (!room) {
        pacs_log(PACS_LOG_WARN, "hl7", "conn=%u from=%s refused: %u connections already open", id,
                 host, max);
        free(j);
        close(fd);
        return;
    }
    /* Writes are bounded by the send timeout; reads by poll (and, inside a TLS record, by the
     * receive timeout). */
    int timeout = (int)pacs_config_int(s->cfg, "hl7.timeout");
    struct timeval tv = {timeout, 0};
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    j->s = s;
    j->c.fd = fd;
    snprintf(j->c.host, sizeof j->c.host, "%s", host);
    j->peer.conn_id = id;
    j->peer.tls = tls;
    snprintf(j->peer.host, sizeof j->peer.host, "%s", host);
    pacs_workers_track(&s->conns, fd_item(fd), 1);
    pacs_log(PACS_LOG_DEBUG, "hl7", "conn=%u from=%s%s opened", id, host, tls ? " tls" : "");
    pthread_t t;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&t, &attr, serve, j) != 0) {
        pacs_log(PACS_LOG_WARN, "hl7", "conn=%u from=%s refused: no thread", id, host);
        pacs_workers_track(&s->conns, fd_item(fd), 0);
        pacs_workers_leave(&s->conns);
        close(fd);
        free(j);
    }
    pthread_attr_destroy(&attr);
}

static void accept_loop(pacs_hl7_server *s, int lfd, int tls)
{
    while (!atomic_load(&s->stopping)) {
        struct pollfd p = {lfd, POLLIN, 0};
        if (poll(&p, 1, 250) > 0 && (p.revents & POLLIN)) {
            accept_one(s, lfd, tls);
        }
    }
}

static void *accept_plain(void *arg)
{
    pacs_hl7_server *s = arg;
    accept_loop(s, s->fd, 0);
    return NULL;
}

static void *accept_tls(void *arg)
{
    pacs_hl7_server *s = arg;
    accept_loop(s, s->tls_fd, 1);
    return NULL;
}

static pacs_err listen_on(const char *bind_addr, int port, int *fd_out, int *bound,
                          pacs_errinfo *ei)
{
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, bind_addr, &addr.sin_addr) != 1) {
        return pacs_errf(ei, PACS_EINVAL, "hl7.bind: '%s' is not an IPv4 address", bind_addr);
    }
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(fd, 64) != 0) {
        pacs_err e =
            pacs_errf(ei, PACS_EIO, "cannot listen on %s:%d: %s", bind_addr, port, strerror(errno));
        if (fd >= 0) {
            close(fd);
        }
        return e;
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
    socklen_t len = sizeof addr;
    getsockname(fd, (struct sockaddr *)&addr, &len);
    *bound = ntohs(addr.sin_port);
    *fd_out = fd;
    return PACS_OK;
}

pacs_err pacs_hl7_start(const pacs_config *cfg, pacs_hl7_handler handler, void *ctx,
                        pacs_hl7_server **out, pacs_errinfo *ei)
{
    pacs_hl7_server *s = calloc(1, sizeof *s);
    if (!s) {
        return pacs_errf(ei, PACS_ENOMEM, "out of memory");
    }
    s->cfg = cfg;
    s->handler = handler;
    s->ctx = ctx;
    s->fd = s->tls_fd = -1;
    s->port = s->tls_port = -1;
    atomic_init(&s->stopping, 0);
    atomic_init(&s->seq, 1);
    pacs_workers_init(&s->conns);
    const char *bind_addr = pacs_config_str(cfg, "hl7.bind");
    pacs_err err = PACS_OK;
    if (pacs_config_int(cfg, "hl7.port") >= 0) {
        err = listen_on(bind_addr, (int)pacs_config_int(cfg, "hl7.port"), &s->fd, &s->port, ei);
    }
    if (err == PACS_OK && pacs_config_int(cfg, "hl7.tls.port") >= 0) {
        err = pacs_hl7__tls_ctx(cfg, &s->tls, ei);
        if (err == PACS_OK) {
            err = listen_on(bind_addr, (int)pacs_config_int(cfg, "hl7.tls.port"), &s->tls_fd,
                            &s->tls_port, ei);
        }
    }
    if (err == PACS_OK && s->fd >= 0) {
        s->started = pthread_create(&s->acceptor, NULL, accept_plain, s) == 0;
        err = s->started ? PACS_OK : pacs_errf(ei, PACS_ENOMEM, "cannot start the HL7 listener");
    }
    if (err == PACS_OK && s->tls_fd >= 0) {
        s->tls_started = pthread_create(&s->tls_acceptor, NULL, accept_tls, s) == 0;
        err = s->tls_started ? PACS_OK
                             : pacs_errf(ei, PACS_ENOMEM, "cannot start the HL7 TLS listener");
    }
    if (err != PACS_OK) {
        pacs_hl7_stop(s, 0);
        return err;
    }
    *out = s;
    return PACS_OK;
}

int pacs_hl7_port(const pacs_hl7_server *s)
{
    return s ? s->port : -1;
}

int pacs_hl7_tls_port(const pacs_hl7_server *s)
{
    return s ? s->tls_port : -1;
}

void pacs_hl7_stop(pacs_hl7_server *s, int grace_s)
{
    if (!s) {
        return;
    }
    atomic_store(&s->stopping, 1);
    if (s->started) {
        pthread_join(s->acceptor, NULL);
    }
    if (s->tls_started) {
        pthread_join(s->tls_acceptor, NULL);
    }
    if (s->fd >= 0) {
        close(s->fd);
    }
    if (s->tls_fd >= 0) {
        close(s->tls_fd);
    }
    /* Connections notice `stopping` within a tick, between messages; one still busy after the
     * grace period is cut off (its message was not acknowledged, so the sender sends it
     * again). */
    if (!pacs_workers_wait_idle(&s->conns, grace_s + 2)) {
        pacs_workers_cut(&s->conns, cut_fd);
        if (!pacs_workers_wait_idle(&s->conns, 10)) {
            pacs_log(PACS_LOG_ERROR, "hl7", "%u connections did not end",
                     pacs_workers_active(&s->conns));
            return; /* threads still use the server: leaking it beats a use after free */
        }
    }
    SSL_CTX_free(s->tls);
    pacs_workers_destroy(&s->conns);
    free(s);
}
