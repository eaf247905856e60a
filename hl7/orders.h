// SPDX-License-Identifier: MIT
/*
 * What pacsd does with each HL7 message (the listener's handler, server.h): ADT^A01, A04, A05,
 * A08, A28 and A31 register or update the patient, ADT^A40 merges one patient into another,
 * ORM^O01 and OMI^O23 place, change or cancel an order, all through the archive's orders API
 * (storage/orders.h); ORU^R01 stores a RIS's report in its study (results.h). Anything else is
 * refused (AR 200 or 201); a message the archive refuses gets AE with the field at fault, and one
 * it cannot take now (its index failing) gets AR, so that the HIS sends it again. Thread-safe: no
 * state of its own.
 */
#ifndef PACS_HL7_ORDERS_H
#define PACS_HL7_ORDERS_H

#include "pacs/base/config.h"
#include "hl7/server.h"
#include "storage/archive.h"

typedef struct pacs_hl7_orders {
    const pacs_config *cfg;
    pacs_archive *archive;
} pacs_hl7_orders;

/** A pacs_hl7_handler; `ctx` is a pacs_hl7_orders. */
pacs_hl7_ack_code pacs_hl7_orders_handle(void *ctx, const pacs_hl7_msg *m,
                                         const pacs_hl7_peer *peer, pacs_hl7_error *err);

#endif
