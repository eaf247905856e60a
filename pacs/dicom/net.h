// SPDX-License-Identifier: MIT
/*
 * The C face of DCMTK's dcmnet: listening, association negotiation (as acceptor and as
 * requestor), and DIMSE messages. dimse/ builds the services on top of this; it never sees
 * a DCMTK type. Datasets of C-STORE requests are received as raw bytes (bit for bit, as the
 * modality encoded them) through a sink callback; identifiers are received as pacs_ds.
 *
 * Threading: one thread listens and accepts (pacs_net_accept); each association is then used
 * by one thread at a time. Every wait is bounded by a timeout.
 */
#ifndef PACS_DICOM_NET_H
#define PACS_DICOM_NET_H

#include <stddef.h>
#include <stdint.h>

#include "pacs/base/err.h"
#include "pacs/dicom/dcm.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct pacs_net pacs_net;
typedef struct pacs_assoc pacs_assoc;

#define PACS_AET_MAX 16
#define PACS_MAX_TS_PER_PC 32

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

/** Who is on the other end. */
typedef struct pacs_assoc_info {
    char calling_aet[PACS_AET_MAX + 1]; /* trimmed */
    char called_aet[PACS_AET_MAX + 1];  /* trimmed */
    char peer_host[64];                 /* numeric address (no reverse DNS lookup) */
    unsigned long peer_max_pdu;
    int tls;               /* the association runs over TLS */
    char peer_cert_cn[65]; /* TLS: the subject CN of the peer's certificate, "" when none */
} pacs_assoc_info;

void pacs_assoc_get_info(const pacs_assoc *a, pacs_assoc_info *out);

/** SCP/SCU role selection (PS3.7 D.3.3.4), from the point of view of the association
 *  requestor: SCP role means the requestor will act as SCP (e.g. receive C-STORE on C-GET). */
typedef enum pacs_role {
    PACS_ROLE_DEFAULT = 0,
    PACS_ROLE_SCU,
    PACS_ROLE_SCP,
    PACS_ROLE_SCU_SCP
} pacs_role;

/** One presentation context, as proposed (acceptor side) or to propose (requestor side). */
typedef struct pacs_pc {
    uint8_t id;
    char abstract_syntax[PACS_UID_MAX + 1];
    size_t n_ts;
    char ts[PACS_MAX_TS_PER_PC][PACS_UID_MAX + 1];
    pacs_role role;
    /* Filled after negotiation: */
    int accepted;
    char accepted_ts[PACS_UID_MAX + 1];
} pacs_pc;

/** Number of presentation contexts the requestor proposed. */
size_t pacs_assoc_pc_count(const pacs_assoc *a);

/** The i-th proposed presentation context (0-based). */
pacs_err pacs_assoc_pc_at(const pacs_assoc *a, size_t i, pacs_pc *out);

/** Accepts context `id` with transfer syntax `ts`; `role` answers a role selection proposal
 *  (PACS_ROLE_DEFAULT when there was none). */
pacs_err pacs_assoc_pc_accept(pacs_assoc *a, uint8_t id, const char *ts, pacs_role role,
                              pacs_errinfo *ei);

/** Reasons to reject a presentation context (PS3.8 9.3.3.2). */
typedef enum pacs_pc_reject {
    PACS_PC_REJECT_USER = 1,
    PACS_PC_REJECT_NO_REASON = 2,
    PACS_PC_REJECT_ABSTRACT_SYNTAX = 3,
    PACS_PC_REJECT_TRANSFER_SYNTAXES = 4
} pacs_pc_reject;

pacs_err pacs_assoc_pc_reject(pacs_assoc *a, uint8_t id, pacs_pc_reject reason, pacs_errinfo *ei);

/** Sends A-ASSOCIATE-AC with the decisions made above. */
pacs_err pacs_assoc_acknowledge(pacs_assoc *a, pacs_errinfo *ei);

/** A-ASSOCIATE-RJ reasons we use (PS3.8 9.3.4). */
typedef enum pacs_reject_reason {
    PACS_RJ_NO_REASON,               /* permanent, service user */
    PACS_RJ_CALLING_AET_UNKNOWN,     /* permanent, service user */
    PACS_RJ_CALLED_AET_UNKNOWN,      /* permanent, service user */
    PACS_RJ_APP_CONTEXT_UNSUPPORTED, /* permanent, service user */
    PACS_RJ_LOCAL_LIMIT_EXCEEDED,    /* transient, service provider (presentation) */
    PACS_RJ_TEMPORARY_CONGESTION     /* transient, service provider (presentation) */
} pacs_reject_reason;

/** Sends A-ASSOCIATE-RJ and drops the connection; the handle must still be freed. */
pacs_err pacs_assoc_reject(pacs_assoc *a, pacs_reject_reason why, pacs_errinfo *ei);

/**
 * Requests an association to a remote application. `pcs` lists the contexts to propose (ids
 * odd, 1..255); on success each gets `accepted`/`accepted_ts` filled in. Returns PACS_EDENIED
 * when the peer rejects the association, PACS_ENET when it cannot be reached.
 */
pacs_err pacs_assoc_request(const char *our_aet, const char *peer_aet, const char *host, int port,
                            int timeout_s, long max_pdu, pacs_pc *pcs, size_t n_pcs,
                            pacs_assoc **out, pacs_errinfo *ei);

/** As pacs_assoc_request, over TLS (`tls` as for pacs_net_listen_tls; the peer's certificate
 *  must be signed by `tls->ca_file` and name `host`, as a DNS name or an IP address in its
 *  subjectAltName). PACS_ENET when the handshake fails. */
pacs_err pacs_assoc_request_tls(const char *our_aet, const char *peer_aet, const char *host,
                                int port, int timeout_s, long max_pdu, pacs_pc *pcs, size_t n_pcs,
                                const pacs_tls_opts *tls, pacs_assoc **out, pacs_errinfo *ei);

/** The accepted context for `abstract_syntax` (and `ts` unless NULL), or 0 if none. */
uint8_t pacs_assoc_find_pc(const pacs_assoc *a, const char *abstract_syntax, const char *ts);

/** The abstract syntax and accepted transfer syntax of context `id`. */
pacs_err pacs_assoc_pc_syntaxes(const pacs_assoc *a, uint8_t id, char *abstract_syntax, char *ts,
                                pacs_errinfo *ei);

/** DIMSE message kinds we send or receive. */
typedef enum pacs_dimse_type {
    PACS_DIMSE_OTHER = 0,
    PACS_C_ECHO_RQ,
    PACS_C_ECHO_RSP,
    PACS_C_STORE_RQ,
    PACS_C_STORE_RSP,
    PACS_C_FIND_RQ,
    PACS_C_FIND_RSP,
    PACS_C_MOVE_RQ,
    PACS_C_MOVE_RSP,
    PACS_C_GET_RQ,
    PACS_C_GET_RSP,
    PACS_C_CANCEL_RQ,
    PACS_N_ACTION_RQ,
    PACS_N_ACTION_RSP,
    PACS_N_EVENT_REPORT_RQ,
    PACS_N_EVENT_REPORT_RSP
} pacs_dimse_type;

/** A DIMSE command, request or response; only the fields its type uses are read or written. */
typedef struct pacs_dimse_msg {
    pacs_dimse_type type;
    uint8_t pc_id;
    uint16_t msg_id; /* MessageID, or MessageIDBeingRespondedTo in responses and C-CANCEL */
    uint16_t priority;
    char sop_class[PACS_UID_MAX + 1];    /* Affected (Requested for N-ACTION) SOP Class */
    char sop_instance[PACS_UID_MAX + 1]; /* Affected (Requested for N-ACTION) SOP Instance */
    char move_destination[PACS_AET_MAX + 1];
    char move_originator_aet[PACS_AET_MAX + 1]; /* C-STORE sub-operations of a C-MOVE */
    uint16_t move_originator_msg_id;
    uint16_t action_type; /* N-ACTION-RQ/RSP */
    uint16_t event_type;  /* N-EVENT-REPORT-RQ/RSP */
    int has_dataset;
    uint16_t status; /* responses */
    int has_counts;  /* C-MOVE/C-GET responses */
    uint16_t remaining, completed, failed, warning;
    char error_comment[65]; /* responses: (0000,0902), sent when not empty */
} pacs_dimse_msg;

/**
 * Waits up to `timeout_s` for the next command. Returns PACS_ECLOSED when the peer released
 * the association (the release has been answered) or aborted it, PACS_ETIMEOUT when it stayed
 * silent, PACS_ENET on a protocol error. When `msg->has_dataset` is set, the caller must
 * receive or skip the dataset next.
 */
pacs_err pacs_assoc_recv(pacs_assoc *a, int timeout_s, pacs_dimse_msg *msg, pacs_errinfo *ei);

/** Receives the pending dataset as raw bytes, passing each chunk to `sink`; a non-OK return
 *  from `sink` stops writing but the rest of the dataset is still drained from the network. */
typedef pacs_err (*pacs_bytes_sink)(void *ctx, const void *buf, size_t len, pacs_errinfo *ei);
pacs_err pacs_assoc_recv_dataset_raw(pacs_assoc *a, int timeout_s, pacs_bytes_sink sink, void *ctx,
                                     pacs_errinfo *ei);

/** Receives the pending dataset into memory (identifiers; not for images). */
pacs_err pacs_assoc_recv_dataset(pacs_assoc *a, int timeout_s, pacs_ds **out, pacs_errinfo *ei);

/** Sends a command, followed by `ds` when `msg->has_dataset` is set. */
pacs_err pacs_assoc_send(pacs_assoc *a, const pacs_dimse_msg *msg, const pacs_ds *ds,
                         pacs_errinfo *ei);

/**
 * Sends a C-STORE-RQ (`msg`) whose dataset is the Part 10 stream open at `fd` (read with pread
 * from offset 0: a stored object, or the copy a delivery plan wrote), its dataset bytes exactly
 * as they are, unparsed, in PDVs of the peer's size. Its transfer syntax must be the accepted
 * one of `msg->pc_id`: PACS_EUNSUPPORTED otherwise, and PACS_ECORRUPT when it is not a Part 10
 * stream, both before anything is sent. PACS_ENET means the association is unusable (possibly
 * after part of the message went out). This layer never converts: storage/delivery.h does.
 */
pacs_err pacs_assoc_send_part10_fd(pacs_assoc *a, const pacs_dimse_msg *msg, int fd,
                                   pacs_errinfo *ei);

/** True when a C-CANCEL-RQ for `msg_id` has arrived (non-blocking check, on any context). Any
 *  other command that arrived instead is kept and returned by the next pacs_assoc_recv(). */
int pacs_assoc_cancel_requested(pacs_assoc *a, uint16_t msg_id);

/** Releases an association we requested (A-RELEASE), waiting up to the ACSE timeout. */
pacs_err pacs_assoc_release(pacs_assoc *a, pacs_errinfo *ei);

/** Shuts the connection down from another thread, so that a thread blocked on it returns (used
 *  to end associations at shutdown). */
void pacs_assoc_shutdown(pacs_assoc *a);

/** Sends A-ABORT. */
void pacs_assoc_abort(pacs_assoc *a);

/** Drops the connection and frees the handle. NULL is accepted. */
void pacs_assoc_free(pacs_assoc *a);

#ifdef __cplusplus
}
#endif

#endif
