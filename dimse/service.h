// SPDX-License-Identifier: MIT
/*
 * Shared by the files of dimse/: the context each service handler runs in, the handlers the
 * dispatcher's table names (dispatch.c), and the small API handlers answer with (service.c).
 * A handler answers one request on its association and returns PACS_OK, or an error that ends
 * the association (network failure); DIMSE failure statuses are answers, not errors. Handlers
 * call the archive, the network layer and service.c; never the dispatcher or the server.
 */
#ifndef PACS_DIMSE_SERVICE_H
#define PACS_DIMSE_SERVICE_H

#include <stdatomic.h>

#include "pacs/base/config.h"
#include "pacs/dicom/msg.h"
#include "pacs/dicom/net.h"
#include "pacs/dicom/send.h"
#include "dimse/aetable.h"
#include "storage/archive.h"
#include "storage/audit.h"

typedef struct pacs_dimse_ctx {
    pacs_assoc *assoc;
    pacs_assoc_info info;
    pacs_archive *archive;
    const pacs_config *cfg;
    unsigned assoc_id;
    int timeout; /* seconds to wait for a peer's next message or dataset */
    const atomic_int *stopping;
    pacs_aetable *aetable; /* known AEs: move destinations, commitment report targets */
    unsigned allow;        /* PACS_AE_ALLOW_* services this peer may use (dimse.access_control) */
    /* Per-association tallies for the closing log line. */
    unsigned stored, store_failed, finds;
} pacs_dimse_ctx;

/* DIMSE status codes used across services (PS3.7 C, PS3.4 B/C). */
#define PACS_ST_SUCCESS 0x0000
#define PACS_ST_PENDING 0xFF00
#define PACS_ST_CANCEL 0xFE00
#define PACS_ST_OUT_OF_RESOURCES 0xA700
#define PACS_ST_IDENTIFIER_MISMATCH 0xA900
#define PACS_ST_CANNOT_UNDERSTAND 0xC000
#define PACS_ST_PROCESSING_FAILURE 0x0110
#define PACS_ST_SOP_CLASS_NOT_SUPPORTED 0x0122
#define PACS_ST_SUBOPS_WARNING 0xB000          /* C-MOVE/C-GET: some sub-operations failed */
#define PACS_ST_SUBOPS_FAILED 0xA702           /* C-MOVE/C-GET: unable to perform sub-operations */
#define PACS_ST_MOVE_DEST_UNKNOWN 0xA801       /* C-MOVE: move destination unknown */
#define PACS_ST_NO_SUCH_ACTION 0x0123          /* N-ACTION: no such action type */
#define PACS_ST_INVALID_ARGUMENT 0x0115        /* N-ACTION: invalid argument value */
#define PACS_ST_NO_SUCH_INSTANCE 0x0112        /* failure reason: no such object instance */
#define PACS_ST_CLASS_INSTANCE_CONFLICT 0x0119 /* failure reason: class-instance conflict */
#define PACS_ST_NOT_AUTHORIZED 0x0124          /* refused: not authorized (PS3.7 C.5) */

#define PACS_ST_INVALID_ATTRIBUTE_VALUE 0x0106 /* N-CREATE/N-SET */
#define PACS_ST_DUPLICATE_INSTANCE 0x0111      /* N-CREATE: duplicate SOP instance */
#define PACS_ST_MISSING_ATTRIBUTE 0x0120       /* N-CREATE: missing attribute */
#define PACS_ST_UNABLE_TO_PROCESS 0xC000       /* C-FIND failure: unable to process */

#define PACS_COMMIT_PUSH_CLASS "1.2.840.10008.1.20.1"
#define PACS_WORKLIST_FIND_CLASS "1.2.840.10008.5.1.4.31"
#define PACS_MPPS_CLASS "1.2.840.10008.3.1.2.3.3"
#define PACS_COMMIT_PUSH_INSTANCE "1.2.840.10008.1.20.1.1"

/* ---- The handlers (store.c, find.c, move.c, get.c, commit.c) ---- */

/** A service handler: answers `rq` on `c`'s association (reading its dataset if it has one). */
typedef pacs_err (*pacs_dimse_handler)(pacs_dimse_ctx *c, const pacs_dimse_msg *rq,
                                       pacs_errinfo *ei);

pacs_err pacs_dimse__store(pacs_dimse_ctx *c, const pacs_dimse_msg *rq, pacs_errinfo *ei);
pacs_err pacs_dimse__find(pacs_dimse_ctx *c, const pacs_dimse_msg *rq, pacs_errinfo *ei);
/* move.c, get.c, commit.c. A handler returns PACS_ECLOSED when the peer released the
 * association while it ran (the release has been answered). */
pacs_err pacs_dimse__move(pacs_dimse_ctx *c, const pacs_dimse_msg *rq, pacs_errinfo *ei);
pacs_err pacs_dimse__get(pacs_dimse_ctx *c, const pacs_dimse_msg *rq, pacs_errinfo *ei);
pacs_err pacs_dimse__commit(pacs_dimse_ctx *c, const pacs_dimse_msg *rq, pacs_errinfo *ei);
/* worklist.c: Modality Worklist C-FIND; mpps.c: MPPS N-CREATE and N-SET. */
pacs_err pacs_dimse__worklist(pacs_dimse_ctx *c, const pacs_dimse_msg *rq, pacs_errinfo *ei);
pacs_err pacs_dimse__mpps(pacs_dimse_ctx *c, const pacs_dimse_msg *rq, pacs_errinfo *ei);

/** find.c: adds a C-FIND identifier's keys (DICOM JSON; its sequences' first items as
 *  sequence keys) to `q`, leaving out the query level, the character set, the retrieve AE and
 *  availability and command/meta groups. Returns 0, or a failure status with `ei` filled. */
uint16_t pacs_dimse__query_keys(const json_t *id, pacs_query *q, pacs_errinfo *ei);

/** find.c: receives a C-FIND request's identifier as DICOM JSON. PACS_OK with `*out` set (the
 *  caller decrefs it), or a network error that ends the association; an identifier that cannot
 *  be read has been answered with `status_bad` and gives PACS_OK with `*out` NULL. */
pacs_err pacs_dimse__find_identifier(pacs_dimse_ctx *c, const pacs_dimse_msg *rq,
                                     uint16_t status_bad, json_t **out, pacs_errinfo *ei);

/** The transfer syntax to accept for a storage context on which the requester takes the SCP
 *  role (C-GET): the first proposed that every stored object can be converted to. */
const char *pacs_dimse__get_storage_ts(const pacs_pc *pc);

/* ---- The context API (service.c) ---- */

/** Sends a response with `status`, copying the request's identifiers; `comment` may be NULL. */
pacs_err pacs_dimse__respond(pacs_dimse_ctx *c, const pacs_dimse_msg *rq, pacs_dimse_type type,
                             uint16_t status, const char *comment, pacs_errinfo *ei);

/** Appends an audit record (storage/audit.h) naming this association's calling AE and peer. */
void pacs_dimse__audit(const pacs_dimse_ctx *c, pacs_audit_action action, int success,
                       const char *study_uid, const char *patient_id, const char *detail,
                       unsigned count);

/** Requests an association to the known AE `ae` as dimse.aet (pacs_assoc_request), over TLS
 *  when the AE is marked `tls` (dimse.tls.cert/key as our certificate, dimse.tls.ca to verify
 *  its certificate). */
pacs_err pacs_dimse__request(const pacs_config *cfg, const pacs_remote_ae *ae, pacs_pc *pcs,
                             size_t n_pcs, pacs_assoc **out, pacs_errinfo *ei);

/** Receives and drops a dataset the request carried (after refusing it). */
pacs_err pacs_dimse__drain(pacs_dimse_ctx *c, pacs_errinfo *ei);

#endif
