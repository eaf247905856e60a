// SPDX-License-Identifier: MIT
/*
 * The forwarding queue's DICOMweb sender (storage/forward_worker.h): entries whose destination
 * is a DICOMweb server (`web.NAME = URL ...`, pacs/base/config.h) are sent by STOW-RS, several
 * instances of a batch in one POST {root}/studies (multipart/related;
 * type="application/dicom"), over libcurl. Each instance is read through the retrieve path
 * (storage/delivery.h): as stored when the server takes its syntax, else transcoded to the
 * first syntax of `accept=` it can be made into (JPEG-LS or HTJ2K lossless: fewer bytes on a
 * slow link). An entry is done only after the server's 200, or its 202 without the instance in
 * FailedSOPSequence; anything else (4xx, 5xx, a refused key, a broken connection) leaves it for
 * a retry.
 *
 * Thread-safe: send runs on the worker's thread only; cancel from any thread.
 */
#ifndef PACS_DICOMWEB_SENDER_H
#define PACS_DICOMWEB_SENDER_H

#include "pacs/base/config.h"
#include "pacs/base/err.h"
#include "storage/archive.h"
#include "storage/forward_worker.h"

typedef struct pacs_web_sender pacs_web_sender;

/**
 * A sender for the `web.*` destinations of `cfg` (borrowed, as `archive`). Reads each one's key
 * file now: PACS_EINVAL, naming the destination and file (never the key), when one cannot be
 * read or is empty.
 */
pacs_err pacs_web_sender_new(const pacs_config *cfg, pacs_archive *archive, pacs_web_sender **out,
                             pacs_errinfo *ei);

/** Its face for pacs_fwd_worker_start(). */
pacs_fwd_sender pacs_web_sender_face(pacs_web_sender *s);

/** Frees it (after the worker stopped). NULL is accepted. */
void pacs_web_sender_free(pacs_web_sender *s);

#endif
