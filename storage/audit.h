// SPDX-License-Identifier: MIT
/*
 * The audit trail: an append-only record of who did what to which study (store, query,
 * retrieve, delete, share, refused logins and accesses, start and stop), as JSON lines under
 * DATA/audit/, one file per UTC day (audit/YYYY-MM-DD.jsonl). It is the JSON-lines equivalent of
 * IHE ATNA / DICOM PS3.15 A.5 audit messages: one line per event with the event, its outcome,
 * the active participant (who, from where, over which protocol) and the participant objects
 * (patient, study, instance or query).
 *
 * Load: one line per request (a C-STORE instance, a C-FIND, a C-MOVE/C-GET, a STOW-RS request,
 * a QIDO/WADO request), never per frame. Each line is one write(2) on an O_APPEND descriptor,
 * made before the caller answers its client, so a process crash never loses a line for an
 * answered request; fdatasync runs in the background at most a second later (and at close, and
 * on pacs_audit_sync), so a power cut can lose at most the last second of lines.
 *
 * Thread-safe: pacs_audit_record may be called from any thread at any time; it never fails the
 * caller (a line it cannot write is counted and logged once a minute at most).
 */
#ifndef PACS_STORAGE_AUDIT_H
#define PACS_STORAGE_AUDIT_H

#include <stdio.h>

#include "pacs/base/err.h"

typedef enum {
    PACS_AUDIT_STORE,
    PACS_AUDIT_QUERY,
    PACS_AUDIT_RETRIEVE,
    PACS_AUDIT_DELETE,
    PACS_AUDIT_SHARE,
    PACS_AUDIT_LOGIN_FAILURE,
    PACS_AUDIT_ACCESS_DENIED,
    PACS_AUDIT_START,
    PACS_AUDIT_STOP,
    PACS_AUDIT_COMMIT,   /* an extension: a storage commitment report (count = committed) */
    PACS_AUDIT_PATIENT,  /* the HIS's patient registered, updated or merged (orders.h) */
    PACS_AUDIT_ORDER,    /* an order placed, changed, cancelled, or moved by MPPS (orders.h) */
    PACS_AUDIT_COMPRESS, /* a pass of compression at rest (compress.h; count = instances) */
    PACS_AUDIT_LOGIN,    /* a built-in user signed in (a session began) */
    PACS_AUDIT_LOGOUT,   /* a session ended by its user */
    PACS_AUDIT_LOCKOUT,  /* a user locked after too many failed logins */
    PACS_AUDIT_USER      /* a built-in user added, removed or given a new password */
} pacs_audit_action;

/** One event. Every string may be NULL (left out of the line); all are borrowed for the call. */
typedef struct pacs_audit_event {
    pacs_audit_action action;
    int success;
    const char *protocol; /* "dimse", "http", "tool" */
    const char *who;      /* calling AE title, token subject, API key name, OS user */
    const char *from;     /* peer address */
    const char *study_uid;
    const char *patient_id;
    const char *detail; /* SOP instance, query, reason: never free-text patient data */
    unsigned count;     /* instances stored/sent/deleted, matches returned */
} pacs_audit_event;

/**
 * Opens the trail under `data_dir`/audit (created if missing) for the whole process; call once,
 * before the servers start. Errors: PACS_EIO when the folder cannot be made or written.
 */
pacs_err pacs_audit_open(const char *data_dir, pacs_errinfo *ei);

/** Appends one line (thread-safe, never fails the caller); a no-op before open and after close. */
void pacs_audit_record(const pacs_audit_event *ev);

/** Waits until every line recorded so far is on disk (fdatasync). A no-op when not open. */
void pacs_audit_sync(void);

/** Syncs and closes the trail; later records are dropped. Safe to call when not open. */
void pacs_audit_close(void);

/** The action's name as written in the lines ("store", "query", ...); never NULL. */
const char *pacs_audit_action_name(pacs_audit_action a);

/** What pacs_audit_read selects; NULL or empty members match anything. */
typedef struct pacs_audit_filter {
    const char *patient_id;
    const char *study_uid;
    const char *since;          /* "YYYY-MM-DD" or "YYYY-MM-DDTHH:MM:SS" (UTC), inclusive */
    const char *const *studies; /* with patient_id: studies known (from the index) to be the */
    size_t n_studies;           /* patient's, besides those the trail ties to it */
} pacs_audit_filter;

/**
 * Writes to `out` every line of the trail under `data_dir` that matches `f`, oldest first, as
 * stored (one JSON object per line). With `f->patient_id`, a line matches when it names the
 * patient or one of the patient's studies: those of `f->studies`, and those that any line of
 * the trail names together with the patient (store lines do), since query and retrieve lines
 * name studies only. `*n_lines` receives the number written. Lines that are not valid JSON (a
 * torn last line after a power cut) are skipped and counted in `*n_bad`.
 */
pacs_err pacs_audit_read(const char *data_dir, const pacs_audit_filter *f, FILE *out,
                         size_t *n_lines, size_t *n_bad, pacs_errinfo *ei);

#endif
