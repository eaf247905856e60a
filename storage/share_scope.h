// SPDX-License-Identifier: MIT
/*
 * A patient's share: a link to all of one patient's studies (`pacs share --patient`), not to
 * one study. The share store (share.h) keeps it as a subject string and signs it like a study
 * UID; this module writes and reads that string and finds the studies it grants in the archive.
 *
 * The subject: "patient:" MODE ":" b64url(PatientID) ":" b64url(IssuerOfPatientID) ":" STUDIES,
 * where MODE is "L" (the patient's studies now and those stored later) or "S" (only the studies
 * stored when the share was made, whose UIDs STUDIES lists, ',' between them; empty for "L").
 * The studies a share grants are always found again in the archive: those whose PatientID and
 * IssuerOfPatientID equal the share's, byte for byte (an empty issuer matches only an empty
 * one), and, for "S", that are in the list. A study whose patient was corrected to another
 * person drops out; nothing of anyone else is ever granted.
 *
 * Load: one indexed study query (PatientID) per call. Thread-safety: stateless; the archive
 * is thread-safe.
 */
#ifndef PACS_STORAGE_SHARE_SCOPE_H
#define PACS_STORAGE_SHARE_SCOPE_H

#include <stddef.h>

#include "pacs/base/err.h"
#include "storage/archive.h"
#include "storage/share.h"

/** Studies a share made without "later" may list (its subject must fit the store's maximum). */
#define PACS_SHARE_SCOPE_MAX_STUDIES 50

typedef struct pacs_share_scope {
    char patient_id[65]; /* PatientID (LO: at most 64 characters), never empty */
    char issuer[65];     /* IssuerOfPatientID; "" when the studies have none */
    int later;           /* 1: also the studies stored after the share was made */
    size_t n_studies;    /* without `later`: the studies stored when it was made */
    char studies[PACS_SHARE_SCOPE_MAX_STUDIES][65];
} pacs_share_scope;

/** 1 when `subject` (as pacs_shares_check_subject returns it) is a patient's share. */
int pacs_share_scope_is_patient(const char *subject);

/**
 * Reads a subject into `*out` (written only on success). PACS_EINVAL for anything else than
 * what pacs_share_scope_format writes.
 */
pacs_err pacs_share_scope_parse(const char *subject, pacs_share_scope *out, pacs_errinfo *ei);

/** Writes the subject of `sc` into `out` (PACS_SHARE_SUBJECT_MAX + 1 bytes always suffice). */
pacs_err pacs_share_scope_format(const pacs_share_scope *sc, char *out, size_t cap,
                                 pacs_errinfo *ei);

/**
 * Makes the scope of a new share of patient `patient_id`: its studies stored now (listed in
 * the scope unless `later`), and `*n_studies` (may be NULL) how many. `issuer` may be NULL: the
 * studies then must all carry the same issuer (or none), which the scope takes. Errors:
 * PACS_EINVAL (an empty or over-long ID, one with '*', '?' or '\', which matching would read
 * as a pattern; the ID used with several issuers and none named; more than
 * PACS_SHARE_SCOPE_MAX_STUDIES studies without `later`), PACS_ENOTFOUND (no study of that
 * patient), and the archive's own.
 */
pacs_err pacs_share_scope_make(pacs_archive *a, const char *patient_id, const char *issuer,
                               int later, pacs_share_scope *out, size_t *n_studies,
                               pacs_errinfo *ei);

/** Called once per study a scope grants; return non-zero to stop. */
typedef int (*pacs_share_scope_cb)(void *ctx, const char *study_uid);

/**
 * Calls `cb` for every study `sc` grants now (see above), newest first. Errors: the archive's
 * (PACS_EDB, PACS_ENOMEM).
 */
pacs_err pacs_share_scope_studies(pacs_archive *a, const pacs_share_scope *sc,
                                  pacs_share_scope_cb cb, void *ctx, pacs_errinfo *ei);

#endif
