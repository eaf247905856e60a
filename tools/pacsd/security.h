// SPDX-License-Identifier: MIT
/*
 * pacsd's security posture at start-up: warnings when a port listens beyond this machine
 * without TLS or without access control, and the audit records of the daemon's own start and
 * stop. Called from pacsd's main thread only.
 */
#ifndef PACS_SECURITY_H
#define PACS_SECURITY_H

#include "pacs/base/config.h"
#include "storage/audit.h"

/**
 * Logs one WARN line per exposure: DICOM listening on a non-loopback address in clear (a plain
 * port) or without access control, DICOMweb on a non-loopback address without TLS, HL7 on a
 * non-loopback address with a plain port. (Missing
 * DICOMweb authentication is dicomweb's own warning.) The ports are those actually bound (-1:
 * none). Returns the number of warnings.
 */
int pacs_security_warn(const pacs_config *cfg, int dimse_port, int http_port);

/** Records PACS_AUDIT_START or PACS_AUDIT_STOP for this process (who = the OS user). */
void pacs_security_lifecycle(pacs_audit_action action, const char *version);

#endif
