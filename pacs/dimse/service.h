// SPDX-License-Identifier: MIT
/*
 * Shared by the files of pacs/dimse: the context each service handler runs in, and the
 * handlers. A handler answers one request on its association and returns PACS_OK, or an
 * error that ends the association (network failure); DIMSE failure statuses are answers, not
 * errors.
 */
#ifndef PACS_DIMSE_SERVICE_H
#define PACS_DIMSE_SERVICE_H

#include <stdatomic.h>

#include "pacs/base/config.h"
#include "pacs/dicom/net.h"
#include "storage/archive.h"

typedef struct pacs_dimse_ctx {
    pacs_assoc *assoc;
    pacs_assoc_info info;
    pacs_archive *archive;
    const pacs_config *cfg;
    unsigned assoc_id;
    int timeout; /* seconds to wait for a peer's next message or dataset */
    const atomic_int *stopping;
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

pacs_err pacs_dimse__store(pacs_dimse_ctx *c, const pacs_dimse_msg *rq, pacs_errinfo *ei);
pacs_err pacs_dimse__find(pacs_dimse_ctx *c, const pacs_dimse_msg *rq, pacs_errinfo *ei);

/** Sends a response with `status`, copying the request's identifiers; `comment` may be NULL. */
pacs_err pacs_dimse__respond(pacs_dimse_ctx *c, const pacs_dimse_msg *rq, pacs_dimse_type type,
                             uint16_t status, const char *comment, pacs_errinfo *ei);

/** Receives and drops a dataset the request carried (after refusing it). */
pacs_err pacs_dimse__drain(pacs_dimse_ctx *c, pacs_errinfo *ei);

#endif
