// SPDX-License-Identifier: MIT
/*
 * HL7 v2 messages: a small parser (segments, fields, repetitions, components, subcomponents,
 * escape sequences, the encoding characters of MSH-1/MSH-2 and the character sets of MSH-18),
 * and the writing side the acknowledgements need (escaping, character set conversion). No
 * packaged C library parses HL7 v2 (Debian has only python3-hl7), so this one is ours; it is
 * fuzzed (fuzz/fuzz_hl7.c) and table-tested (hl7/tests/test_hl7.c).
 *
 * Load: every HL7 message the MLLP listener receives is parsed here once; values are decoded
 * on demand (pacs_hl7_get), so a message costs one copy and one pass over its bytes.
 *
 * Character sets (HL7 table 0211): "ASCII", "8859/1" and "UNICODE UTF-8" (also accepted as
 * "UTF-8"); an empty MSH-18 means the default the caller passes. Values come out in UTF-8
 * whatever the message's set: a Vietnamese name sent in UTF-8 arrives intact, and one sent in
 * 8859/1 loses nothing that set could carry.
 *
 * Thread-safe: a parsed message is read-only and may be read from several threads; the
 * functions keep no state.
 */
#ifndef PACS_HL7_HL7_H
#define PACS_HL7_HL7_H

#include <stddef.h>

#include "pacs/base/buf.h"
#include "pacs/base/err.h"

typedef enum pacs_hl7_charset {
    PACS_HL7_ASCII = 0,
    PACS_HL7_LATIN1, /* "8859/1" */
    PACS_HL7_UTF8    /* "UNICODE UTF-8" */
} pacs_hl7_charset;

/** The set an MSH-18 value names (case-sensitive, as table 0211 spells it); -1 when unknown. */
int pacs_hl7_charset_parse(const char *msh18);

/** Table 0211's name of a set ("ASCII", "8859/1", "UNICODE UTF-8"). */
const char *pacs_hl7_charset_name(pacs_hl7_charset cs);

/* Error conditions of HL7 table 0357 (v2.5), as ACKs report them in ERR-3. */
#define PACS_HL7_E_SEGMENT_SEQUENCE 100
#define PACS_HL7_E_REQUIRED_MISSING 101
#define PACS_HL7_E_DATA_TYPE 102
#define PACS_HL7_E_TABLE_VALUE 103
#define PACS_HL7_E_MESSAGE_TYPE 200
#define PACS_HL7_E_EVENT_CODE 201
#define PACS_HL7_E_PROCESSING_ID 202
#define PACS_HL7_E_VERSION 203
#define PACS_HL7_E_UNKNOWN_KEY 204
#define PACS_HL7_E_DUPLICATE_KEY 205
#define PACS_HL7_E_RECORD_LOCKED 206
#define PACS_HL7_E_INTERNAL 207

/** Table 0357's text for a code ("Required field missing", ...); never NULL. */
const char *pacs_hl7_error_text(int code);

/** What is wrong with a message and where (an ERR segment's ERR-2, ERR-3 and ERR-8). */
typedef struct pacs_hl7_error {
    int code;                       /* table 0357 */
    char seg[4];                    /* segment id ("PID"); "" when the message as a whole */
    unsigned seq;                   /* which segment of that id, from 1 (0: not given) */
    unsigned field, rep, comp, sub; /* from 1; 0: not given */
    char text[200];                 /* for people, UTF-8 */
} pacs_hl7_error;

/** Fills `e` (which may be NULL) and returns PACS_EBADDATA. */
pacs_err pacs_hl7_fail(pacs_hl7_error *e, int code, const char *seg, unsigned field,
                       const char *fmt, ...) __attribute__((format(printf, 5, 6)));

/**
 * The MSH fields an acknowledgement needs, read leniently from the first bytes of a message so
 * that one that fails to parse (or is too large to keep) can still be answered. Text is UTF-8,
 * unescaped, first component only; fields that are absent or unreadable are "".
 */
typedef struct pacs_hl7_header {
    int found;   /* the bytes start with MSH and a usable field separator */
    char sep[6]; /* field, component, repetition, escape, subcomponent separators */
    char sending_app[64], sending_facility[64], receiving_app[64], receiving_facility[64];
    char message_type[8], trigger[8]; /* MSH-9.1, MSH-9.2 */
    char control_id[200];             /* MSH-10 */
    char processing_id[8];            /* MSH-11.1 */
    char version[16];                 /* MSH-12.1 */
    char charset[32];                 /* MSH-18, first repetition */
} pacs_hl7_header;

/** Reads the header from the first `len` bytes of a message (never fails; see `found`). */
void pacs_hl7_header_read(const void *bytes, size_t len, pacs_hl7_header *h);

typedef struct pacs_hl7_msg pacs_hl7_msg;

/**
 * Parses a message (one MLLP frame's content): segments end with CR (LF and CR LF are accepted
 * too), the first is MSH with its field separator and four encoding characters, every segment
 * id is three upper-case letters or digits, and the bytes are valid in the message's character
 * set (MSH-18, or `default_cs` when it is empty); NUL bytes are refused. MSH-9 (type and
 * trigger) and MSH-10 (control id) must be present. On success `*out` is the caller's to free
 * with pacs_hl7_free. PACS_EBADDATA with `err` filled (what and where, for the ACK) otherwise;
 * PACS_ENOMEM.
 */
pacs_err pacs_hl7_parse(const void *bytes, size_t len, pacs_hl7_charset default_cs,
                        pacs_hl7_msg **out, pacs_hl7_error *err);

/** NULL is accepted. */
void pacs_hl7_free(pacs_hl7_msg *m);

/** The message's character set (from MSH-18 or the default). */
pacs_hl7_charset pacs_hl7_msg_charset(const pacs_hl7_msg *m);

/** Number of segments, MSH included. */
size_t pacs_hl7_segment_count(const pacs_hl7_msg *m);

/** The id of segment `i` ("MSH", "PID", ...); "" when out of range. Borrowed. */
const char *pacs_hl7_segment_id(const pacs_hl7_msg *m, size_t i);

/** The index of the first segment named `id` at or after `from`, or -1. */
long pacs_hl7_find(const pacs_hl7_msg *m, const char *id, size_t from);

/** The number of repetitions of field `field` (from 1) of segment `seg` (0 when empty). */
unsigned pacs_hl7_reps(const pacs_hl7_msg *m, size_t seg, unsigned field);

/**
 * One value, decoded: field `field` (from 1; MSH-1 is the field separator itself and MSH-2 the
 * encoding characters, both returned as they are), repetition `rep`, component `comp` and
 * subcomponent `sub` (each from 1). Escape sequences are resolved (\F\ \S\ \T\ \R\ \E\ to the
 * separators, \Xhh..\ to bytes, \.br\ and \.sp\ to a line feed; highlighting and other
 * formatting commands are dropped) and the text is converted to UTF-8. An absent value gives
 * "". The HL7 null `""` is returned as the two characters `""` (test with pacs_hl7_is_null).
 * PACS_ETOOBIG when the value needs more than `cap` bytes; PACS_EBADDATA when the escapes
 * produce bytes that are not valid in the message's set.
 */
pacs_err pacs_hl7_get(const pacs_hl7_msg *m, size_t seg, unsigned field, unsigned rep,
                      unsigned comp, unsigned sub, char *out, size_t cap);

/** True for the HL7 null `""` (the sender asks to clear the value). */
int pacs_hl7_is_null(const char *value);

/**
 * Appends `utf8` to `out` escaped for a field written with the standard encoding characters
 * (|^~\&): separators become \F\ \S\ \R\ \E\ \T\, line breaks \.br\, other control characters
 * are dropped; the text is converted to `cs` (characters it cannot carry become '?').
 * PACS_ETOOBIG when `out` is full.
 */
pacs_err pacs_hl7_escape(pacs_buf *out, const char *utf8, pacs_hl7_charset cs);

/** True when the `len` bytes at `s` are valid UTF-8 (no overlong forms, no surrogates). */
int pacs_hl7_utf8_valid(const char *s, size_t len);

#endif
