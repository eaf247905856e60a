// SPDX-License-Identifier: MIT
/*
 * The DIMSE server: listens on the DICOM port, negotiates associations and runs the services
 * (C-ECHO, C-STORE, C-FIND; C-MOVE, C-GET and Storage Commitment where built) on the archive.
 * One thread listens; each association gets its own thread, up to dimse.max_associations, and
 * further peers are rejected (transient, local limit exceeded).
 */
#ifndef PACS_DIMSE_DIMSE_H
#define PACS_DIMSE_DIMSE_H

#include "pacs/base/config.h"
#include "pacs/base/err.h"
#include "dimse/aetable.h"
#include "storage/archive.h"

typedef struct pacs_dimse_server pacs_dimse_server;

/** Opens the DICOM port(s) and starts accepting; `*port` receives the plain port actually bound
 *  (-1 when dimse.plain is off); see pacs_dimse_tls_port for the TLS one. */
pacs_err pacs_dimse_start(const pacs_config *cfg, pacs_archive *archive, pacs_dimse_server **out,
                          int *port, pacs_errinfo *ei);

/** The TLS port actually bound, or -1 when there is none (dimse.tls.port = -1). */
int pacs_dimse_tls_port(const pacs_dimse_server *s);

/** Sets the table of known AEs (move destinations, commitment report targets); call before
 *  pacs_dimse_start's first association can need it, i.e. right after it. Borrowed. */
void pacs_dimse_set_aetable(pacs_dimse_server *s, pacs_aetable *t);

/**
 * Stops accepting, lets running associations finish their current message for up to
 * `grace_s` seconds, then aborts the rest, and frees the server. NULL is accepted.
 */
void pacs_dimse_stop(pacs_dimse_server *s, int grace_s);

#endif
