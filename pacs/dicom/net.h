// SPDX-License-Identifier: MIT
/*
 * The C face of DCMTK's dcmnet, part one: the DICOM port. Listening on the configured address,
 * plain or over TLS (PS3.15 BCP 195 profiles, DCMTK's dcmtls on OpenSSL), and accepting a
 * connection with its association request; what happens on the association then is assoc.h
 * (negotiation), msg.h (DIMSE messages) and send.h (C-STORE of a stored object). dimse/ builds
 * the services on top of these; it never sees a DCMTK type.
 *
 * Threading: one or more threads accept on a port (pacs_net_accept); each association is then
 * used by one thread at a time. Every wait is bounded by a timeout.
 */
#ifndef PACS_DICOM_NET_H
#define PACS_DICOM_NET_H

#include <stddef.h>
#include <stdint.h>

#include "pacs/base/err.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct pacs_net pacs_net;
typedef struct pacs_assoc pacs_assoc;

/**
 * Opens the DICOM port on `bind_addr` ("0.0.0.0" for all interfaces) and `port` (0: any free
 * port, reported in *bound_port). `acse_timeout` bounds, in seconds, how long a connecting peer
 * may take to send its association request and how long release/abort handshakes may take.
 */
pacs_err pacs_net_listen(const char *bind_addr, int port, int acse_timeout, pacs_net **out,
                         int *bound_port, pacs_errinfo *ei);

/** TLS for a DICOM port or an outgoing association (DCMTK's dcmtls on OpenSSL), with one of the
 *  PS3.15 BCP 195 profiles (B.9 "bcp195", B.10 "bcp195-nd", B.11 "bcp195-extended"). */
typedef struct pacs_tls_opts {
    const char *cert_file; /* PEM certificate (chain) we present */
    const char *key_file;  /* its PEM private key, unencrypted */
    const char *ca_file;   /* PEM CA certificates that sign the peer's certificate ("" = none) */
    int verify_peer;       /* acceptor: require a client certificate signed by ca_file;
                            * requestor: the server's certificate is always verified */
    const char *profile;   /* "bcp195", "bcp195-nd" or "bcp195-extended" */
} pacs_tls_opts;

/**
 * As pacs_net_listen, for a port that speaks DICOM over TLS only: every connection first
 * completes a TLS handshake (bounded by the ACSE timeout); a peer without an acceptable
 * certificate (when `tls->verify_peer`) or that does not speak TLS is dropped before any PDU.
 * Errors: PACS_EINVAL when the certificate, key or CA file cannot be loaded or do not match.
 */
pacs_err pacs_net_listen_tls(const char *bind_addr, int port, int acse_timeout,
                             const pacs_tls_opts *tls, pacs_net **out, int *bound_port,
                             pacs_errinfo *ei);

/** Closes the port; associations already accepted stay usable. NULL is accepted. */
void pacs_net_close(pacs_net *net);

/** True when a connection is waiting on the port (waits up to `timeout_ms`; takes nothing). */
int pacs_net_pending(pacs_net *net, int timeout_ms);

/**
 * Waits up to `timeout_ms` for a connection and reads its association request (bounded by the
 * ACSE timeout; on a TLS port the handshake comes first, bounded by DCMTK's socket timeout).
 * Returns PACS_ETIMEOUT when no peer connected; PACS_ENET when a peer connected but did not
 * send a valid request (it has been dropped). `max_pdu` is the largest PDU we accept. Several
 * threads may call it on one port at once, so that a slow peer holds up only its own thread:
 * each connection goes to one of them, the others get PACS_ETIMEOUT.
 */
pacs_err pacs_net_accept(pacs_net *net, int timeout_ms, long max_pdu, pacs_assoc **out,
                         pacs_errinfo *ei);

#ifdef __cplusplus
}
#endif

#endif
