// SPDX-License-Identifier: MIT
/*
 * The C face of DCMTK's dcmnet, part three: DIMSE messages on an association (assoc.h). Commands
 * in and out as one C struct (pacs_dimse_msg), the datasets that follow them: received as raw
 * bytes (a C-STORE's dataset, bit for bit as the modality encoded it) through a sink callback,
 * or into memory (identifiers), and sent from memory. A C-STORE whose dataset is a stored object
 * goes out through send.h.
 *
 * Threading: an association's messages are sent and received by one thread at a time.
 */
#ifndef PACS_DICOM_MSG_H
#define PACS_DICOM_MSG_H

#include <stddef.h>
#include <stdint.h>

#include "pacs/base/err.h"
#include "pacs/dicom/assoc.h"
#include "pacs/dicom/dcm.h"

#ifdef __cplusplus
extern "C" {
#endif

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
    PACS_N_EVENT_REPORT_RSP,
    PACS_N_CREATE_RQ, /* MPPS: Affected SOP Instance UID may be empty (the SCP makes one) */
    PACS_N_CREATE_RSP,
    PACS_N_SET_RQ, /* sop_class/sop_instance: the Requested SOP Class and Instance */
    PACS_N_SET_RSP
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
pacs_err pacs_msg_recv(pacs_assoc *a, int timeout_s, pacs_dimse_msg *msg, pacs_errinfo *ei);

/** Receives the pending dataset as raw bytes, passing each chunk to `sink`; a non-OK return
 *  from `sink` stops writing but the rest of the dataset is still drained from the network. */
typedef pacs_err (*pacs_bytes_sink)(void *ctx, const void *buf, size_t len, pacs_errinfo *ei);
pacs_err pacs_msg_recv_dataset_raw(pacs_assoc *a, int timeout_s, pacs_bytes_sink sink, void *ctx,
                                   pacs_errinfo *ei);

/** Receives the pending dataset into memory (identifiers; not for images). */
pacs_err pacs_msg_recv_dataset(pacs_assoc *a, int timeout_s, pacs_ds **out, pacs_errinfo *ei);

/** Sends a command, followed by `ds` when `msg->has_dataset` is set. */
pacs_err pacs_msg_send(pacs_assoc *a, const pacs_dimse_msg *msg, const pacs_ds *ds,
                       pacs_errinfo *ei);

/** True when a C-CANCEL-RQ for `msg_id` has arrived (non-blocking check, on any context). Any
 *  other command that arrived instead is kept and returned by the next pacs_msg_recv(). */
int pacs_msg_cancel_requested(pacs_assoc *a, uint16_t msg_id);

#ifdef __cplusplus
}
#endif

#endif
