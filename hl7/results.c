// SPDX-License-Identifier: MIT
/*
 * ORU^R01 to a report document (results.h): the OBR and OBX fields read with pacs_hl7_get,
 * then one call to the archive. Load: one message per report a RIS signs. No state.
 */
#include "hl7/results.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pacs/base/buf.h"
#include "pacs/base/log.h"
#include "storage/report_make.h"

#define TEXT_MAX (64u * 1024u)

/* Value `field`.`comp`.`sub` (first repetition) of segment `seg` into `out`; "" when absent
 * or too long. */
static void get(const pacs_hl7_msg *m, long seg, unsigned field, unsigned comp, unsigned sub,
                char *out, size_t cap)
{
    out[0] = '\0';
    if (seg < 0 || pacs_hl7_get(m, (size_t)seg, field, 1, comp, sub, out, cap) != PACS_OK ||
        pacs_hl7_is_null(out)) {
        out[0] = '\0';
    }
}

/* "Family^Given" from two parts. */
static void person(const char *family, const char *given, char *out, size_t cap)
{
    snprintf(out, cap, "%s%s%s", family, given[0] ? "^" : "", given);
}

static int is_text_obx(const pacs_hl7_msg *m, long obx)
{
    char vt[8];
    get(m, obx, 2, 1, 1, vt, sizeof vt);
    return strcmp(vt, "TX") == 0 || strcmp(vt, "FT") == 0 || strcmp(vt, "ST") == 0;
}

/* The text of every TX/FT/ST OBX; `*first` receives the first such segment (-1: none). */
static pacs_err read_text(const pacs_hl7_msg *m, pacs_buf *b, long *first, pacs_hl7_error *err)
{
    char *line = malloc(TEXT_MAX);
    if (!line) {
        return pacs_hl7_fail(err, PACS_HL7_E_INTERNAL, "", 0, "out of memory");
    }
    *first = -1;
    for (long obx = pacs_hl7_find(m, "OBX", 0); obx >= 0;
         obx = pacs_hl7_find(m, "OBX", (size_t)obx + 1)) {
        if (!is_text_obx(m, obx)) {
            continue;
        }
        if (*first < 0) {
            *first = obx;
        }
        unsigned reps = pacs_hl7_reps(m, (size_t)obx, 5);
        for (unsigned rep = 1; rep <= reps; rep++) {
            /* The first component: a sender escapes a '^' of the text as \S\. */
            if (pacs_hl7_get(m, (size_t)obx, 5, rep, 1, 1, line, TEXT_MAX) != PACS_OK) {
                free(line);
                return pacs_hl7_fail(err, PACS_HL7_E_DATA_TYPE, "OBX", 5,
                                     "OBX-5: a text value too long or not valid");
            }
            if (b->len > 0) {
                pacs_buf_puts(b, "\n");
            }
            if (pacs_buf_puts(b, line) != PACS_OK) {
                free(line);
                return pacs_hl7_fail(err, PACS_HL7_E_DATA_TYPE, "OBX", 5,
                                     "OBX-5: the report is longer than %u bytes", TEXT_MAX);
            }
        }
    }
    free(line);
    if (*first < 0 || b->len == 0) {
        return pacs_hl7_fail(err, PACS_HL7_E_REQUIRED_MISSING, "OBX", 5,
                             "OBX-5: no report text (OBX of value type TX, FT or ST)");
    }
    return PACS_OK;
}

pacs_hl7_ack_code pacs_hl7_results_store(pacs_archive *a, const pacs_hl7_msg *m, const char *source,
                                         pacs_hl7_error *err)
{
    long obr = pacs_hl7_find(m, "OBR", 0);
    if (obr < 0) {
        pacs_hl7_fail(err, PACS_HL7_E_SEGMENT_SEQUENCE, "OBR", 0, "ORU^R01 without OBR");
        return PACS_HL7_AE;
    }
    long zds = pacs_hl7_find(m, "ZDS", 0);
    char study[65], accession[65], family[100], given[100], author[210], status[8];
    pacs_report_new rn = {0};
    const char *key_seg = "ZDS";
    unsigned key_field = 1;
    get(m, zds, 1, 1, 1, study, sizeof study);
    if (!study[0]) {
        key_seg = "OBR";
        key_field = 18;
        get(m, obr, 18, 1, 1, accession, sizeof accession);
        if (!accession[0]) {
            key_field = 3;
            get(m, obr, 3, 1, 1, accession, sizeof accession);
        }
        if (!accession[0] || strlen(accession) > 16) {
            pacs_hl7_fail(err, PACS_HL7_E_REQUIRED_MISSING, "OBR", 18,
                          "OBR-18 (or OBR-3): an accession number of at most 16 characters, or "
                          "ZDS-1, must name the study");
            return PACS_HL7_AE;
        }
        rn.accession = accession;
    } else {
        rn.study_uid = study;
    }
    pacs_buf text;
    pacs_buf_init(&text, TEXT_MAX);
    long first = -1;
    if (read_text(m, &text, &first, err) != PACS_OK) {
        pacs_buf_free(&text);
        return PACS_HL7_AE;
    }
    get(m, obr, 32, 1, 2, family, sizeof family);
    get(m, obr, 32, 1, 3, given, sizeof given);
    if (!family[0]) {
        get(m, first, 16, 2, 1, family, sizeof family);
        get(m, first, 16, 3, 1, given, sizeof given);
    }
    person(family, given, author, sizeof author);
    get(m, obr, 25, 1, 1, status, sizeof status);
    unsigned status_field = 25;
    if (!status[0]) {
        get(m, first, 11, 1, 1, status, sizeof status);
        status_field = 11;
    }
    pacs_hl7_ack_code code = PACS_HL7_AE;
    if (!family[0]) {
        pacs_hl7_fail(err, PACS_HL7_E_REQUIRED_MISSING, "OBR", 32,
                      "OBR-32 (or OBX-16): who wrote the report");
        goto done;
    }
    if (strcmp(status, "P") != 0 && strcmp(status, "F") != 0 && strcmp(status, "C") != 0) {
        pacs_hl7_fail(err, PACS_HL7_E_TABLE_VALUE, status_field == 25 ? "OBR" : "OBX", status_field,
                      "%s-%u: result status '%s' (P, F or C)", status_field == 25 ? "OBR" : "OBX",
                      status_field, status);
        goto done;
    }
    rn.text = text.data;
    rn.author = author;
    rn.final = status[0] != 'P';
    rn.amends_latest = status[0] == 'C';
    pacs_ingest_result res;
    pacs_errinfo ei;
    pacs_errinfo_clear(&ei);
    pacs_err e = pacs_archive_report_make(a, &rn, source, NULL, &res, &ei);
    switch (e) {
    case PACS_OK:
        pacs_log(PACS_LOG_INFO, "hl7", "report study=%s sop=%s status=%s", res.study_uid,
                 res.meta.sop_instance_uid, status);
        code = PACS_HL7_AA;
        break;
    case PACS_ENOTFOUND:
        pacs_hl7_fail(err, PACS_HL7_E_UNKNOWN_KEY, key_seg, key_field, "%s-%u: %s", key_seg,
                      key_field, ei.msg);
        break;
    case PACS_EINVAL:
    case PACS_ECONFLICT:
        pacs_hl7_fail(err, PACS_HL7_E_DATA_TYPE, key_seg, key_field, "%s", ei.msg);
        break;
    default:
        pacs_hl7_fail(err, PACS_HL7_E_INTERNAL, "", 0, "not stored, send again later: %s", ei.msg);
        code = PACS_HL7_AR;
        break;
    }
done:
    pacs_buf_free(&text);
    return code;
}
