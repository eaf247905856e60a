// SPDX-License-Identifier: MIT
/*
 * The printed share slip (`pacs share ... --slip FILE.pdf`), what the patient takes home
 * instead of the film envelope: one A5 page with the hospital's name, the patient, the study
 * (or "every study" for a patient link), the link as a QR code and as text, its expiry and a
 * short instruction in Vietnamese. Drawn with cairo's PDF surface; the font is the one
 * fontconfig offers for Vietnamese text (lang=vi: DejaVu Sans with fonts-dejavu-core), and
 * every text is NFC-normalised (utf8proc) so that the font's precomposed letters are used.
 * Single-threaded (the pacs tool).
 */
#ifndef PACS_TOOLS_SLIP_H
#define PACS_TOOLS_SLIP_H

#include <stddef.h>
#include <stdint.h>

/** What a slip shows; every string is UTF-8, may be "" (then its line is left out), not NULL. */
typedef struct pacs_slip {
    const char *hospital;     /* hospital.name */
    const char *patient_name; /* as stored (PN: '^' between parts) */
    const char *patient_id;
    const char *birth_date; /* YYYYMMDD */
    const char *study_date; /* YYYYMMDD; "" for a patient link */
    const char *study_description;
    size_t n_studies; /* a patient link: how many studies it shows now; 0 for a study link */
    int later;        /* a patient link that shows studies made later too */
    const char *link;
    int64_t expires; /* seconds since the epoch */
} pacs_slip;

/**
 * Writes the slip to `path` (replaced if it exists). Returns 0, or -1 with a reason in `why`
 * (a file that cannot be written, no font for Vietnamese text, a link too long for a QR code).
 */
int pacs_tool__slip(const pacs_slip *s, const char *path, char *why, size_t why_cap);

#endif
