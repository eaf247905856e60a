// SPDX-License-Identifier: MIT
/*
 * A response body planned before it is sent (WADO-RS and WADO-URI): a list of segments, each
 * literal bytes (multipart headers, a transcoded frame) or a byte range of a stored object or of
 * the body's own temporary file (instances a delivery plan converted or transcoded). The plan
 * fixes the Content-Length before anything is sent; a producer then walks it, reading each range
 * with pread straight into libmicrohttpd's send buffer, at most one buffer per step, so a study
 * of any size is never held in memory. Objects are opened through the archive, one at a time.
 *
 * Load: every WADO-RS byte of a study, series, instance, frame or bulk data value passes here.
 * Thread-safe: a body belongs to one request.
 */
#ifndef PACS_DICOMWEB_BODY_H
#define PACS_DICOMWEB_BODY_H

#include <stddef.h>
#include <stdint.h>

#include "http/http.h"
#include "storage/delivery.h"

typedef struct pacs_body pacs_body;

/** A new, empty body for request `r` (its archive and id). NULL when out of memory. */
pacs_body *pacs_body_new(pacs_http_req *r);

/** Frees a body that was not sent. NULL is accepted. */
void pacs_body_free(pacs_body *b);

/** Appends literal text. A failure (out of memory) is remembered: see pacs_body_failed(). */
void pacs_body_text(pacs_body *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/** Appends `len` bytes of `data` (malloc'd), taking them: freed with the body, or at once when
 *  appending fails. */
void pacs_body_take(pacs_body *b, uint8_t *data, size_t len);

/**
 * Appends bytes [off, off + len) of the stored object `object`. With `swap` 2, 4 or 8, each word
 * of that size is byte-swapped on the way out (big endian stored values served little endian).
 */
void pacs_body_object(pacs_body *b, const char *object, uint64_t off, uint64_t len, unsigned swap);

/**
 * The body's temporary file (an anonymous file in the data folder, made on first use), open for
 * writing at its end, and that end's offset in `*at`: write a derived object there, then append
 * it with pacs_body_spooled(). The body owns the descriptor.
 */
pacs_err pacs_body_spool(pacs_body *b, int *fd, uint64_t *at, pacs_errinfo *ei);

/** Appends bytes [off, off + len) of the body's temporary file. */
void pacs_body_spooled(pacs_body *b, uint64_t off, uint64_t len);

/**
 * Appends instance `it` as `plan` (storage/delivery.h) has it: a range of the stored object when
 * the plan is as stored, else the copy the plan writes (converted, transcoded, or coerced to the
 * identity the index serves for a reconciled instance), spooled into the body's temporary file.
 * Errors as pacs_delivery_write(); nothing is appended on failure.
 */
pacs_err pacs_body_instance(pacs_body *b, const pacs_resolve_item *it,
                            const pacs_delivery_plan *plan, pacs_errinfo *ei);

/** Opens the object of the first range now, so that a missing object is answered as an error
 *  before any byte is sent. */
pacs_err pacs_body_open_first(pacs_body *b, pacs_errinfo *ei);

/** True when building the body ran out of memory. */
int pacs_body_failed(const pacs_body *b);

/** Sends the body (taken) as a 200 response of `content_type`; 500 when building it failed. */
void pacs_body_send(pacs_http_req *r, pacs_body *b, const char *content_type);

/** Sends the stored object `object` (`size` bytes, as indexed) whole as `content_type`; a
 *  missing or unreadable object is answered 500 before anything is sent. */
void pacs_body_send_object(pacs_http_req *r, const char *object, uint64_t size,
                           const char *content_type);

#endif
