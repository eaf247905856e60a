// SPDX-License-Identifier: MIT
/*
 * The HL7 v2 listener: MLLP on hl7.port (default 2575) and, with hl7.tls.port, MLLP over TLS
 * with the certificate settings of DICOM TLS (dimse.tls.*). Each connection carries any number
 * of messages; each message is parsed (hl7.h), handed to the handler and answered with an ACK
 * (ack.h) before the next is read. A message larger than hl7.max_message_kb, or one that does
 * not parse, is answered with AR and an ERR segment saying why, and the connection stays
 * usable. A connection silent for hl7.timeout seconds is closed.
 *
 * Threads: one watches each port; each connection gets its own thread, at most
 * hl7.max_connections at once (a connection beyond that is closed at once, with a log line).
 */
#ifndef PACS_HL7_SERVER_H
#define PACS_HL7_SERVER_H

#include "pacs/base/config.h"
#include "pacs/base/err.h"
#include "hl7/ack.h"
#include "hl7/hl7.h"

typedef struct pacs_hl7_server pacs_hl7_server;

/** Who sent a message. */
typedef struct pacs_hl7_peer {
    unsigned conn_id;
    char host[64];    /* numeric address */
    int tls;          /* over the TLS port */
    char cert_cn[65]; /* TLS: the subject CN of the peer's certificate, "" when none */
} pacs_hl7_peer;

/**
 * Processes one parsed message (on its connection's thread; several run at once) and returns
 * the acknowledgement code; for AE and AR it fills `err` (table 0357 code, where, and text).
 * Messages are answered in the order they came on one connection.
 */
typedef pacs_hl7_ack_code (*pacs_hl7_handler)(void *ctx, const pacs_hl7_msg *m,
                                              const pacs_hl7_peer *peer, pacs_hl7_error *err);

/**
 * Opens the port(s) (hl7.port, hl7.tls.port; -1 leaves one closed) on hl7.bind and starts
 * accepting. `handler` and `ctx` are borrowed until pacs_hl7_stop. PACS_EINVAL for unusable
 * TLS files, PACS_EIO when a port cannot be bound.
 */
pacs_err pacs_hl7_start(const pacs_config *cfg, pacs_hl7_handler handler, void *ctx,
                        pacs_hl7_server **out, pacs_errinfo *ei);

/** The plain and TLS ports actually bound (-1: none). */
int pacs_hl7_port(const pacs_hl7_server *s);
int pacs_hl7_tls_port(const pacs_hl7_server *s);

/** Stops accepting, lets connections finish the message they are on for up to `grace_s`
 *  seconds, closes the rest, and frees the server. NULL is accepted. */
void pacs_hl7_stop(pacs_hl7_server *s, int grace_s);

#endif
