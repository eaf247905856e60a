// SPDX-License-Identifier: MIT
/*
 * The C face of DCMTK's dcmnet, part four: a C-STORE-RQ whose dataset is a Part 10 stream (a
 * stored object, or the copy a delivery plan wrote: storage/delivery.h), written straight into
 * PDVs of the peer's size from the file, unparsed. This layer never converts: the stream must
 * already be in the accepted transfer syntax.
 *
 * Load: every instance C-MOVE, C-GET and forwarding send passes here. Threading: as msg.h.
 */
#ifndef PACS_DICOM_SEND_H
#define PACS_DICOM_SEND_H

#include "pacs/base/err.h"
#include "pacs/dicom/msg.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * Sends a C-STORE-RQ (`msg`) whose dataset is the Part 10 stream open at `fd` (read with pread
 * from offset 0: a stored object, or the copy a delivery plan wrote), its dataset bytes exactly
 * as they are, unparsed, in PDVs of the peer's size. Its transfer syntax must be the accepted
 * one of `msg->pc_id`: PACS_EUNSUPPORTED otherwise, and PACS_ECORRUPT when it is not a Part 10
 * stream, both before anything is sent. PACS_ENET means the association is unusable (possibly
 * after part of the message went out). This layer never converts: storage/delivery.h does.
 */
pacs_err pacs_send_part10(pacs_assoc *a, const pacs_dimse_msg *msg, int fd, pacs_errinfo *ei);

#ifdef __cplusplus
}
#endif

#endif
