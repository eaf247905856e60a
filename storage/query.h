// SPDX-License-Identifier: MIT
/*
 * The one query model that C-FIND identifiers and QIDO-RS parameters are both parsed into, and
 * that index backends compile to SQL. A query has a level, matching keys (each classified once,
 * from its VR and value, as universal, single value, wildcard, range, list or sequence), the
 * set of attributes to return, fuzzy name matching, and paging. PS3.4 C.2.2.2 defines the
 * matching; keys the index has no column for are matched here, against stored DICOM JSON.
 *
 * Not thread-safe: a query belongs to the request that built it.
 */
#ifndef PACS_STORAGE_QUERY_H
#define PACS_STORAGE_QUERY_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "pacs/base/err.h"

typedef enum pacs_level {
    PACS_LEVEL_PATIENT = 0,
    PACS_LEVEL_STUDY,
    PACS_LEVEL_SERIES,
    PACS_LEVEL_INSTANCE
} pacs_level;

/** Parses "PATIENT", "STUDY", "SERIES", "IMAGE" (or "INSTANCE"); -1 otherwise. */
int pacs_level_parse(const char *text);
const char *pacs_level_name(pacs_level level);

typedef enum pacs_match {
    PACS_MATCH_UNIVERSAL = 0, /* empty value: return only */
    PACS_MATCH_SINGLE,        /* exact value */
    PACS_MATCH_WILDCARD,      /* contains '*' or '?' */
    PACS_MATCH_RANGE,         /* DA, TM, DT: "lo-hi", "lo-", "-hi" */
    PACS_MATCH_LIST,          /* UI (and CS lists): values separated by '\' */
    PACS_MATCH_SEQUENCE       /* SQ: an item whose keys must all match one stored item */
} pacs_match;

typedef struct pacs_query pacs_query;

/** One key of a query, as classified by pacs_query_add. */
typedef struct pacs_query_key {
    uint32_t tag;
    char vr[3];
    pacs_match match;
    char *value;    /* UTF-8, as given (for PN: case-folded); NULL when universal */
    char *range_lo; /* RANGE: inclusive bounds, NULL when open; TM/DT upper bounds padded */
    char *range_hi;
    char **list; /* LIST: the values */
    size_t n_list;
    pacs_query *item; /* SEQUENCE: the item's keys */
} pacs_query_key;

/** A new query at `level`; NULL when out of memory. */
pacs_query *pacs_query_new(pacs_level level);
void pacs_query_free(pacs_query *q);

pacs_level pacs_query_level(const pacs_query *q);

/**
 * Adds a key. `vr` may be NULL (taken from the dictionary); `value` is UTF-8 text in DICOM
 * string form (multiple values separated by '\', PN groups by '='), NULL or "" for universal
 * matching. A key added twice replaces the first. Returns PACS_EINVAL with a message for a
 * value its VR does not allow (a malformed date range, say).
 */
pacs_err pacs_query_add(pacs_query *q, uint32_t tag, const char *vr, const char *value,
                        pacs_errinfo *ei);

/** Adds a sequence key and returns its item query (owned by `q`) for adding item keys. An
 *  item left empty makes the key universal (return the sequence). */
pacs_err pacs_query_add_sequence(pacs_query *q, uint32_t tag, pacs_query **item, pacs_errinfo *ei);

/** Adds `tag` to the return set without matching on it (QIDO includefield). */
pacs_err pacs_query_include(pacs_query *q, uint32_t tag, pacs_errinfo *ei);

/** Return every attribute stored at the query's level (QIDO includefield=all). */
void pacs_query_include_all(pacs_query *q, int on);
int pacs_query_includes_all(const pacs_query *q);

/** Fuzzy matching of person names: case, diacritics and đ ignored, any name word prefix. */
void pacs_query_set_fuzzy(pacs_query *q, int on);
int pacs_query_fuzzy(const pacs_query *q);

/** Paging: at most `limit` results (0: no limit) after skipping `offset`. */
void pacs_query_set_paging(pacs_query *q, size_t limit, size_t offset);
size_t pacs_query_limit(const pacs_query *q);
size_t pacs_query_offset(const pacs_query *q);

size_t pacs_query_key_count(const pacs_query *q);
const pacs_query_key *pacs_query_key_at(const pacs_query *q, size_t i);
/** The key for `tag`, or NULL. */
const pacs_query_key *pacs_query_find_key(const pacs_query *q, uint32_t tag);

/**
 * True when the DICOM JSON attribute `attr` (an object with "vr" and "Value", or NULL when the
 * attribute is absent) satisfies `key`. Used for keys no index column covers. PN values are
 * compared case-insensitively (and folded when `fuzzy`).
 */
int pacs_query_key_matches(const pacs_query_key *key, const json_t *attr, int fuzzy);

/** True when a plain text value matches `key` (SINGLE, WILDCARD, RANGE or LIST). */
int pacs_query_text_matches(const pacs_query_key *key, const char *text, int fuzzy);

/** Glob-style match of `text` against a DICOM pattern ('*' any run, '?' one character),
 *  counting UTF-8 characters, not bytes. */
int pacs_wildcard_match(const char *pattern, const char *text);

#endif
