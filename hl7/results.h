// SPDX-License-Identifier: MIT
/*
 * HL7 ORU^R01 from a RIS (observation results: the radiologist's report) into the study's
 * report document (storage/report_make.h), as dcm4chee converts it: the study is found by
 * ZDS-1 (Study Instance UID) when present, else OBR-18 (accession number, as in ORM^O01),
 * else OBR-3 (the filler order number that RIS use as the accession number); the text is every
 * OBX whose value type (OBX-2) is TX, FT or ST, its repetitions and segments joined by line
 * feeds; the author is OBR-32 (principal result interpreter, family&given), else OBX-16
 * (responsible observer); the status is OBR-25, else the first text OBX's OBX-11: P
 * preliminary, F final, C corrected (a final report amending the study's latest one). An
 * unknown study gets AE with an ERR naming the field it was looked up by, and nothing is
 * stored. Thread-safe: no state.
 */
#ifndef PACS_HL7_RESULTS_H
#define PACS_HL7_RESULTS_H

#include "hl7/ack.h"
#include "hl7/hl7.h"
#include "storage/archive.h"

/** Stores the report of an ORU^R01; AA once it is durable, AE with `err` for what the RIS
 *  must fix, AR when the archive cannot store it now. */
pacs_hl7_ack_code pacs_hl7_results_store(pacs_archive *a, const pacs_hl7_msg *m, const char *source,
                                         pacs_hl7_error *err);

#endif
