// SPDX-License-Identifier: MIT
/*
 * What the index knows about attributes, independent of the database engine: which tags have
 * their own column (for matching and returning without reading JSON), which level's stored
 * attributes hold the others, and how to take values out of an instance's DICOM JSON at ingest.
 * Table aliases used in column names: p (patients), st (studies), se (series), i (instances).
 * Read-only data; thread-safe.
 */
#ifndef PACS_STORAGE_CATALOG_H
#define PACS_STORAGE_CATALOG_H

#include <jansson.h>
#include <stdint.h>

#include "storage/query.h"

typedef enum pacs_col_kind {
    PACS_COL_TEXT, /* exact text */
    PACS_COL_TIME, /* TM, stored without ':' */
    PACS_COL_INT,  /* integer */
    PACS_COL_PN,   /* person name; <column>_ci is case-folded, <column>_words the search form */
    PACS_COL_MULTI /* a set of codes stored as "\A\B\" */
} pacs_col_kind;

typedef struct pacs_column {
    uint32_t tag;
    const char *vr;
    pacs_level table;     /* the table the column lives in */
    pacs_level min_level; /* query levels at which this column answers for the tag */
    pacs_level max_level;
    const char *column; /* qualified: "st.study_date" */
    pacs_col_kind kind;
} pacs_column;

/** The column answering for `tag` in a query at `query_level`, or NULL. */
const pacs_column *pacs_catalog_column(pacs_level query_level, uint32_t tag);

/**
 * The level whose stored attributes hold `tag` for a query at `query_level`: patient tags are
 * copied into each study, so a study, series or instance query reads them at STUDY level.
 * Returns -1 when the tag lives below the query level (it has no value there).
 */
int pacs_catalog_attrs_level(pacs_level query_level, uint32_t tag);

/** Whether the attribute of an instance's JSON under `key` (its tag in hex) is stored at
 *  `level`. */
int pacs_catalog_stored_at(pacs_level level, const char *key);

/** The values of `tag` in a DICOM JSON object as DICOM text ('\' between values, PN groups
 *  joined by '='); NULL when absent or empty. The caller frees. */
char *pacs_json_text(const json_t *obj, uint32_t tag);

/** The unique key of `level` (PatientID for PATIENT). */
uint32_t pacs_catalog_unique_key(pacs_level level);

#endif
