// SPDX-License-Identifier: MIT
/*
 * The C face of DCMTK's dcmnet, part two: an association. Who is on the other end, presentation
 * context negotiation as acceptor (the proposed contexts, accepting or refusing each, then
 * A-ASSOCIATE-AC or -RJ) and as requestor (proposing contexts to a remote application, plain or
 * over TLS), and the end of an association (release, abort, shutdown from another thread, free).
 * The messages exchanged on it are msg.h.
 *
 * Threading: an association is used by one thread at a time, except pacs_assoc_shutdown().
 */
#ifndef PACS_DICOM_ASSOC_H
#define PACS_DICOM_ASSOC_H

#include <stddef.h>
#include <stdint.h>

#include "pacs/base/err.h"
#include "pacs/dicom/net.h"
#include "pacs/dicom/part10.h"

#ifdef __cplusplus
extern "C" {
#endif

#define PACS_AET_MAX 16
#define PACS_MAX_TS_PER_PC 32

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

/** An accepted context for `abstract_syntax`: one accepted in `ts` when `ts` is given and there
 *  is one, else any (DCMTK's choice); 0 when none. */
uint8_t pacs_assoc_find_pc(const pacs_assoc *a, const char *abstract_syntax, const char *ts);

/** The abstract syntax and accepted transfer syntax of context `id`. */
pacs_err pacs_assoc_pc_syntaxes(const pacs_assoc *a, uint8_t id, char *abstract_syntax, char *ts,
                                pacs_errinfo *ei);

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
