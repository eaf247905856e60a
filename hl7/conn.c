// SPDX-License-Identifier: MIT
/*
 * One MLLP connection's bytes, plain or TLS on OpenSSL (conn.h). Sockets stay blocking with
 * send and receive timeouts as the bound; poll() decides when a read would not wait. One
 * thread per connection.
 */
#include "hl7/conn.h"

#include <errno.h>
#include <openssl/err.h>
#include <openssl/x509v3.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

/* OpenSSL's last error as text (for the log). */
static const char *ssl_reason(char *buf, size_t cap)
{
    unsigned long e = ERR_get_error();
    if (e == 0) {
        snprintf(buf, cap, "%s", errno ? strerror(errno) : "connection closed");
    } else {
        ERR_error_string_n(e, buf, cap);
    }
    ERR_clear_error();
    return buf;
}

pacs_err pacs_hl7__tls_ctx(const pacs_config *cfg, SSL_CTX **out, pacs_errinfo *ei)
{
    const char *cert = pacs_config_str(cfg, "dimse.tls.cert");
    const char *key = pacs_config_str(cfg, "dimse.tls.key");
    const char *ca = pacs_config_str(cfg, "dimse.tls.ca");
    const char *profile = pacs_config_str(cfg, "dimse.tls.profile");
    int verify = pacs_config_bool(cfg, "dimse.tls.verify_client");
    char why[256];
    pacs_err err = PACS_EINVAL;
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    if (!ctx) {
        return pacs_errf(ei, PACS_ENOMEM, "TLS: %s", ssl_reason(why, sizeof why));
    }
    /* The suites of DICOM's BCP 195 profiles (PS3.15 B.9-B.11), as DCMTK sets them for the
     * DICOM TLS port. */
    const char *suites = "ECDHE-RSA-AES128-GCM-SHA256:DHE-RSA-AES128-GCM-SHA256:"
                         "ECDHE-RSA-AES256-GCM-SHA384:DHE-RSA-AES256-GCM-SHA384";
    char list[512];
    int max12 = 0;
    if (strcmp(profile, "bcp195-nd") == 0) {
        snprintf(list, sizeof list, "%s", suites);
    } else if (strcmp(profile, "bcp195-extended") == 0) {
        snprintf(list, sizeof list,
                 "%s:ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384", suites);
        max12 = 1;
    } else {
        snprintf(list, sizeof list, "%s:AES128-SHA", suites);
    }
    if (SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION) != 1 ||
        (max12 && SSL_CTX_set_max_proto_version(ctx, TLS1_2_VERSION) != 1) ||
        SSL_CTX_set_cipher_list(ctx, list) != 1) {
        pacs_errf(ei, PACS_EINVAL, "TLS profile %s: %s", profile, ssl_reason(why, sizeof why));
        goto fail;
    }
    if (SSL_CTX_use_certificate_chain_file(ctx, cert) != 1) {
        pacs_errf(ei, PACS_EINVAL, "TLS certificate %s: %s", cert, ssl_reason(why, sizeof why));
        goto fail;
    }
    if (SSL_CTX_use_PrivateKey_file(ctx, key, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(ctx) != 1) {
        pacs_errf(ei, PACS_EINVAL, "TLS private key %s (of %s): %s", key, cert,
                  ssl_reason(why, sizeof why));
        goto fail;
    }
    if (ca[0] && SSL_CTX_load_verify_locations(ctx, ca, NULL) != 1) {
        pacs_errf(ei, PACS_EINVAL, "TLS CA file %s: %s", ca, ssl_reason(why, sizeof why));
        goto fail;
    }
    if (verify) {
        STACK_OF(X509_NAME) *names = SSL_load_client_CA_file(ca);
        if (names) {
            SSL_CTX_set_client_CA_list(ctx, names);
        }
        SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER | SSL_VERIFY_FAIL_IF_NO_PEER_CERT, NULL);
    }
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_OFF);
    *out = ctx;
    return PACS_OK;
fail:
    SSL_CTX_free(ctx);
    return err;
}

static void set_timeouts(int fd, int seconds)
{
    struct timeval tv = {seconds, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

pacs_err pacs_hl7__tls_accept(SSL_CTX *ctx, pacs_hl7__conn *c, int timeout_s, pacs_errinfo *ei)
{
    char why[256];
    c->ssl = SSL_new(ctx);
    if (!c->ssl || SSL_set_fd(c->ssl, c->fd) != 1) {
        return pacs_errf(ei, PACS_ENOMEM, "TLS: %s", ssl_reason(why, sizeof why));
    }
    set_timeouts(c->fd, timeout_s);
    errno = 0;
    if (SSL_accept(c->ssl) != 1) {
        return pacs_errf(ei, PACS_ENET, "TLS handshake with %s failed: %s", c->host,
                         ssl_reason(why, sizeof why));
    }
    X509 *peer = SSL_get_peer_certificate(c->ssl);
    if (peer) {
        X509_NAME_get_text_by_NID(X509_get_subject_name(peer), NID_commonName, c->cert_cn,
                                  sizeof c->cert_cn);
        X509_free(peer);
    }
    return PACS_OK;
}

pacs_err pacs_hl7__read(pacs_hl7__conn *c, void *buf, size_t cap, int timeout_ms, size_t *got,
                        pacs_errinfo *ei)
{
    if (!c->ssl || SSL_pending(c->ssl) == 0) {
        struct pollfd p = {c->fd, POLLIN, 0};
        int r = poll(&p, 1, timeout_ms);
        if (r == 0 || (r < 0 && errno == EINTR)) {
            return PACS_ETIMEOUT;
        }
        if (r < 0) {
            return pacs_errf(ei, PACS_ENET, "poll: %s", strerror(errno));
        }
    }
    if (c->ssl) {
        char why[256];
        errno = 0;
        int n = SSL_read(c->ssl, buf, cap > 1 << 30 ? 1 << 30 : (int)cap);
        if (n > 0) {
            *got = (size_t)n;
            return PACS_OK;
        }
        int e = SSL_get_error(c->ssl, n);
        if (e == SSL_ERROR_ZERO_RETURN) {
            return PACS_ECLOSED;
        }
        if (e == SSL_ERROR_WANT_READ || e == SSL_ERROR_WANT_WRITE) {
            return PACS_ETIMEOUT; /* a partial record: its rest comes later */
        }
        if (e == SSL_ERROR_SYSCALL && errno == 0) {
            return PACS_ECLOSED;
        }
        return pacs_errf(ei, PACS_ENET, "TLS read: %s", ssl_reason(why, sizeof why));
    }
    ssize_t n = recv(c->fd, buf, cap, 0);
    if (n > 0) {
        *got = (size_t)n;
        return PACS_OK;
    }
    if (n == 0 || errno == ECONNRESET) {
        return PACS_ECLOSED;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
        return PACS_ETIMEOUT;
    }
    return pacs_errf(ei, PACS_ENET, "recv: %s", strerror(errno));
}

pacs_err pacs_hl7__write(pacs_hl7__conn *c, const void *buf, size_t len, pacs_errinfo *ei)
{
    const char *p = buf;
    while (len > 0) {
        if (c->ssl) {
            char why[256];
            int n = SSL_write(c->ssl, p, len > 1 << 30 ? 1 << 30 : (int)len);
            if (n <= 0) {
                return pacs_errf(ei, PACS_ENET, "TLS write: %s", ssl_reason(why, sizeof why));
            }
            p += n;
            len -= (size_t)n;
            continue;
        }
        ssize_t n = send(c->fd, p, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            return pacs_errf(ei, PACS_ENET, "send: %s", n < 0 ? strerror(errno) : "closed");
        }
        p += n;
        len -= (size_t)n;
    }
    return PACS_OK;
}

void pacs_hl7__close(pacs_hl7__conn *c)
{
    if (c->ssl) {
        SSL_shutdown(c->ssl);
        SSL_free(c->ssl);
        c->ssl = NULL;
    }
    if (c->fd >= 0) {
        close(c->fd);
        c->fd = -1;
    }
}
