// SPDX-License-Identifier: MIT
/*
 * Shared by C-MOVE, C-GET and forwarding (dimse/ only): collecting the instances an
 * identifier names (storage/resolve.h), choosing presentation contexts to propose or to send on,
 * one C-STORE sub-operation sending an instance as its delivery plan has it (storage/delivery.h),
 * and the retrieve loop with its pending and final responses (PS3.4 C.4.2, C.4.3).
 *
 * Not thread-safe: everything here belongs to the association thread that uses it.
 */
#ifndef PACS_DIMSE_RETRIEVE_H
#define PACS_DIMSE_RETRIEVE_H

#include <stddef.h>
#include <stdint.h>

#include "dimse/service.h"
#include "storage/resolve.h"

/**
 * Reads a C-MOVE/C-GET identifier (`id`) under the information model `model_class` and lists
 * the instances it names. Returns 0, or a failure status (0xA900, 0xC000, 0xA700) with a
 * message in `comment` (`cap` bytes) for the final response.
 */
uint16_t pacs_dimse__retr_collect(pacs_dimse_ctx *c, const char *model_class, const pacs_ds *id,
                                  pacs_resolve_list *out, char *comment, size_t cap);

/**
 * The first steps of a C-MOVE or C-GET (`rsp_type` PACS_C_MOVE_RSP or PACS_C_GET_RSP): reads
 * the request's identifier and lists the instances it names into `list` (the caller frees it).
 * Returns 1 when the retrieve goes on; 0 when it ended here, `*err` then being what the
 * service returns: a refusal was answered (no identifier, or pacs_dimse__retr_collect's
 * status), logged and audited, or the identifier could not be read.
 */
int pacs_dimse__retr_begin(pacs_dimse_ctx *c, const pacs_dimse_msg *rq, pacs_dimse_type rsp_type,
                           pacs_resolve_list *list, pacs_err *err, pacs_errinfo *ei);

/** Presentation contexts to propose for sending: per SOP class, one context with the stored
 *  syntax, and one with explicit/implicit little endian when the stored syntax can be
 *  delivered in it. At most 128 contexts; what does not fit is counted in `overflow`. */
typedef struct pacs_proposal {
    pacs_pc pcs[128];
    size_t n;
    size_t overflow;
} pacs_proposal;

void pacs_dimse__propose(pacs_proposal *p, const char *sop_class, const char *ts);

/** The contexts a sub-operation may use, once negotiated. */
typedef struct pacs_send_pc {
    uint8_t id;
    char abstract_syntax[PACS_UID_MAX + 1];
    char ts[PACS_UID_MAX + 1];
} pacs_send_pc;

typedef struct pacs_sendset {
    pacs_send_pc pcs[128];
    size_t n;
} pacs_sendset;

/** The accepted contexts of an association we requested (C-MOVE, forwarding). */
void pacs_dimse__sendset_from_request(pacs_sendset *s, const pacs_pc *pcs, size_t n);

/** The storage contexts of an association we accepted on which the requester takes the SCP
 *  role (C-GET). */
void pacs_dimse__sendset_from_assoc(pacs_sendset *s, const pacs_assoc *a);

/** The context to send `it` on: one in its stored syntax if accepted, otherwise one in a syntax
 *  its delivery plan can make (pacs_delivery_choose: explicit LE, then implicit LE, then any
 *  other; never a lossy one it is not stored in); NULL when none. */
const pacs_send_pc *pacs_dimse__sendset_pick(const pacs_sendset *s, const pacs_resolve_item *it);

/** Where C-STORE sub-operations go and what they carry. */
typedef struct pacs_subop {
    pacs_archive *archive;
    pacs_assoc *assoc;
    const pacs_sendset *pcs;
    int timeout;          /* seconds to wait for each C-STORE-RSP */
    const char *orig_aet; /* C-MOVE: Move Originator AE title, else NULL */
    uint16_t orig_msg_id; /* C-MOVE: Move Originator Message ID */
    uint16_t next_msg_id; /* incremented per sub-operation */
    int watch_cancel;     /* C-GET: a C-CANCEL-RQ may arrive while waiting */
    uint16_t cancel_msg_id;
    int canceled;               /* set when that C-CANCEL-RQ arrived */
    int peer_released;          /* the peer released the association while we waited */
    const atomic_int *stopping; /* when set: waits end early once the server stops */
    int broken; /* a sub-operation returned PACS_SUBOP_BROKEN: abort, do not release */
} pacs_subop;

typedef enum pacs_subop_result {
    PACS_SUBOP_OK = 0,
    PACS_SUBOP_WARNING, /* stored with a warning status */
    PACS_SUBOP_FAILED,  /* this instance failed; the association is still usable */
    PACS_SUBOP_BROKEN   /* the association failed: no further sub-operation can run on it */
} pacs_subop_result;

/**
 * One C-STORE sub-operation: picks the context, plans the instance's delivery in its syntax
 * (storage/delivery.h), sends it (as stored: the object's dataset bytes streamed unparsed;
 * converted or transcoded: the copy the plan wrote) and waits for the response, whose status
 * goes to `*status` (0 when none came). `ei` says why for anything but PACS_SUBOP_OK.
 */
pacs_subop_result pacs_dimse__store_one(pacs_subop *so, const pacs_resolve_item *it,
                                        uint16_t *status, pacs_errinfo *ei);

/**
 * Runs the sub-operations of a C-MOVE or C-GET (`rsp_type` says which) over `so` (NULL when the
 * destination could not be reached: every instance then fails with `why` as the comment),
 * sending a pending response after each and the final response at the end. `dest` names the
 * destination in log lines. Returns PACS_OK, or a network error on the requester's association
 * (PACS_ECLOSED when it released it).
 */
pacs_err pacs_dimse__retrieve_run(pacs_dimse_ctx *c, const pacs_dimse_msg *rq,
                                  pacs_dimse_type rsp_type, const pacs_resolve_list *list,
                                  pacs_subop *so, const char *dest, const char *why,
                                  pacs_errinfo *ei);

#endif
