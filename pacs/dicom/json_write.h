// SPDX-License-Identifier: MIT
/*
 * DICOM JSON written as text straight into a capped buffer: byte for byte what
 * json_dumps(v, PACS_JSON_DUMP_FLAGS | JSON_SORT_KEYS) gives (compact, keys sorted as jansson
 * sorts them, strings escaped as jansson escapes them), without jansson's per-call allocations
 * (a string per dump, a key array and a loop-check record per object). Load: every QIDO-RS
 * result (storage/index_row.c) and every stored instance's metadata (storage/index_fields.c).
 * Thread-safe: no state.
 */
#ifndef PACS_DICOM_JSON_WRITE_H
#define PACS_DICOM_JSON_WRITE_H

#include <jansson.h>
#include <stddef.h>

#include "pacs/base/buf.h"
#include "pacs/base/err.h"

/** Appends `v` (objects' keys sorted). PACS_ETOOBIG past the buffer's cap, PACS_ENOMEM. On
 *  failure the buffer holds part of the text. */
pacs_err pacs_json_write(pacs_buf *b, const json_t *v);

/** Whether the member `key` of an object is written (pacs_json_write_members). */
typedef int (*pacs_json_keep_fn)(const char *key, void *ctx);

/** Appends the object `o` with only the members `keep` keeps (their values whole): what
 *  pacs_json_write would give for a copy of `o` holding just those, without making the copy.
 *  PACS_EINVAL when `o` is not an object. */
pacs_err pacs_json_write_members(pacs_buf *b, const json_t *o, pacs_json_keep_fn keep, void *ctx);

/** Appends `v` as a JSON number, in decimal. */
pacs_err pacs_json_write_integer(pacs_buf *b, long long v);

/** Appends `n` bytes of valid UTF-8 as a JSON string: quoted, with '"', '\' and control
 *  characters escaped as jansson does ("\n", "\u001B"). */
pacs_err pacs_json_write_string(pacs_buf *b, const char *s, size_t n);

#endif
