// SPDX-License-Identifier: MIT
/*
 * HL7 v2 acknowledgements (original mode, HL7 v2.5 2.14/2.15): AA when a message was accepted,
 * AE (application error) or AR (application reject) with an ERR segment that names the
 * condition (table 0357) and where it lies (segment, field, repetition, component). The ACK is
 * written in the character set of the message it answers, with the standard encoding
 * characters. Thread-safe: no state.
 */
#ifndef PACS_HL7_ACK_H
#define PACS_HL7_ACK_H

#include "hl7/hl7.h"

typedef enum pacs_hl7_ack_code {
    PACS_HL7_AA = 0, /* accepted */
    PACS_HL7_AE,     /* application error: the content is wrong (a field, an unknown key) */
    PACS_HL7_AR      /* application reject: the message itself (MSH, type, version, size) */
} pacs_hl7_ack_code;

/** "AA", "AE" or "AR". */
const char *pacs_hl7_ack_code_name(pacs_hl7_ack_code c);

/**
 * Appends to `out` the ACK for a message whose header is `h` (pacs_hl7_header_read; a header
 * that was not found gives an ACK with empty MSA-2): MSH (our application is the message's
 * MSH-5, or "PACSD"; MSH-9 ACK^trigger^ACK; MSH-10 `control_id`; MSH-7 `timestamp`, an HL7 DTM),
 * MSA (`code`, the message's MSH-10, and `err->text` when not AA), and for AE and AR an ERR
 * segment from `err` (which may be NULL with AA). Segments end with CR. PACS_ETOOBIG when `out`
 * is full.
 */
pacs_err pacs_hl7_ack_build(const pacs_hl7_header *h, pacs_hl7_ack_code code,
                            const pacs_hl7_error *err, const char *control_id,
                            const char *timestamp, pacs_buf *out);

#endif
