// SPDX-License-Identifier: MIT
/*
 * Shared by the files of hl7/: one MLLP connection's bytes, plain or over TLS (OpenSSL, with
 * the certificate settings and BCP 195 profiles of DICOM TLS: dimse.tls.*). Every read waits
 * at most the time it is given. One connection belongs to one thread; a TLS context is shared
 * by every connection of its port (OpenSSL's SSL_CTX is thread-safe once set up).
 */
#ifndef PACS_HL7_CONN_H
#define PACS_HL7_CONN_H

#include <openssl/ssl.h>
#include <stddef.h>

#include "pacs/base/config.h"
#include "pacs/base/err.h"

typedef struct pacs_hl7__conn {
    int fd;
    SSL *ssl;         /* NULL on the plain port */
    char host[64];    /* the peer's numeric address */
    char cert_cn[65]; /* TLS: its certificate's subject CN, "" when none */
} pacs_hl7__conn;

/**
 * The TLS context of the HL7 TLS port, from dimse.tls.cert, .key, .ca, .verify_client and
 * .profile (bcp195: TLS 1.2 or newer with the profile's AES-GCM suites and AES128-SHA;
 * bcp195-nd: the four AES-GCM suites; bcp195-extended: TLS 1.2 only, ECDSA suites too).
 * PACS_EINVAL naming the file that cannot be loaded. Free with SSL_CTX_free.
 */
pacs_err pacs_hl7__tls_ctx(const pacs_config *cfg, SSL_CTX **out, pacs_errinfo *ei);

/** Completes the server side of the handshake on c->fd, waiting at most `timeout_s`; fills
 *  c->ssl and c->cert_cn. PACS_ENET (with OpenSSL's reason) when it fails. */
pacs_err pacs_hl7__tls_accept(SSL_CTX *ctx, pacs_hl7__conn *c, int timeout_s, pacs_errinfo *ei);

/** Waits up to `timeout_ms` for bytes and reads at most `cap`: PACS_OK with `*got` > 0,
 *  PACS_ETIMEOUT when none came, PACS_ECLOSED when the peer closed, PACS_ENET on an error. */
pacs_err pacs_hl7__read(pacs_hl7__conn *c, void *buf, size_t cap, int timeout_ms, size_t *got,
                        pacs_errinfo *ei);

/** Writes all of buf (bounded by the socket's send timeout). PACS_ENET on failure. */
pacs_err pacs_hl7__write(pacs_hl7__conn *c, const void *buf, size_t len, pacs_errinfo *ei);

/** Ends TLS (when any) and closes the socket. */
void pacs_hl7__close(pacs_hl7__conn *c);

#endif
