// SPDX-License-Identifier: MIT
/* HL7 v2 segments to patients and orders (map.h). No state. */
#include "hl7/map.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

/* Value of segment `si` into `out`; an error names the field. */
static pacs_err get(const pacs_hl7_msg *m, long si, const char *seg_id, unsigned f, unsigned r,
                    unsigned c, unsigned s, char *out, size_t cap, pacs_hl7_error *err)
{
    out[0] = '\0';
    if (si < 0) {
        return PACS_OK;
    }
    pacs_err e = pacs_hl7_get(m, (size_t)si, f, r, c, s, out, cap);
    if (e == PACS_OK) {
        if (pacs_hl7_is_null(out)) {
            out[0] = '\0';
        }
        return PACS_OK;
    }
    if (e == PACS_ENOMEM) {
        return pacs_hl7_fail(err, PACS_HL7_E_INTERNAL, seg_id, f, "out of memory");
    }
    pacs_hl7_fail(err, PACS_HL7_E_DATA_TYPE, seg_id, f, "%s-%u: %s", seg_id, f,
                  e == PACS_ETOOBIG ? "value too long"
                                    : "not valid in the message's character set");
    err->rep = r;
    err->comp = c;
    return PACS_EBADDATA;
}

/* True when `word` is one of the comma-separated items of `list` (blanks around items
 * ignored, case-sensitive). */
static int in_list(const char *list, const char *word)
{
    size_t n = strlen(word);
    if (n == 0) {
        return 0;
    }
    for (const char *p = list; *p;) {
        while (*p == ' ' || *p == ',') {
            p++;
        }
        size_t k = strcspn(p, ",");
        size_t t = k;
        while (t > 0 && p[t - 1] == ' ') {
            t--;
        }
        if (t == n && strncmp(p, word, n) == 0) {
            return 1;
        }
        p += k;
    }
    return 0;
}

/* The system (of patient.id_order) a CX with this authority and type code belongs to. */
static const char *system_of(const pacs_config *cfg, const char *authority, const char *type)
{
    char names[PACS_PATIENT_IDS_MAX][17];
    size_t n = pacs_orders_id_systems(cfg, names, PACS_PATIENT_IDS_MAX);
    static const char *const known[] = {"bhxh", "cccd", "mrn"};
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < sizeof known / sizeof known[0]; k++) {
            if (strcmp(names[i], known[k]) != 0) {
                continue;
            }
            char key[32];
            snprintf(key, sizeof key, "hl7.id.%s", known[k]);
            const char *list = pacs_config_str(cfg, key);
            if (in_list(list, authority) || in_list(list, type)) {
                return known[k];
            }
        }
    }
    return NULL;
}

/* Identifiers of a CX field (PID-3, MRG-1) of known systems, one per system. */
static pacs_err identifiers(const pacs_config *cfg, const pacs_hl7_msg *m, long si,
                            const char *seg_id, unsigned f, pacs_patient_id *ids, size_t *n_ids,
                            pacs_hl7_error *err)
{
    *n_ids = 0;
    unsigned reps = si >= 0 ? pacs_hl7_reps(m, (size_t)si, f) : 0;
    size_t seen = 0;
    for (unsigned r = 1; r <= reps; r++) {
        char value[80], authority[80], type[16];
        pacs_err e = get(m, si, seg_id, f, r, 1, 1, value, sizeof value, err);
        if (e == PACS_OK) {
            e = get(m, si, seg_id, f, r, 4, 1, authority, sizeof authority, err);
        }
        if (e == PACS_OK) {
            e = get(m, si, seg_id, f, r, 5, 1, type, sizeof type, err);
        }
        if (e != PACS_OK) {
            return e;
        }
        if (!value[0]) {
            continue;
        }
        seen++;
        if (strlen(value) > 64 || strchr(value, '\\')) {
            pacs_hl7_fail(err, PACS_HL7_E_DATA_TYPE, seg_id, f,
                          "%s-%u: an identifier has at most 64 characters and no backslash", seg_id,
                          f);
            err->rep = r;
            err->comp = 1;
            return PACS_EBADDATA;
        }
        const char *sys = system_of(cfg, authority, type);
        int dup = 0;
        for (size_t i = 0; sys && i < *n_ids; i++) {
            dup |= strcmp(ids[i].system, sys) == 0;
        }
        if (sys && !dup && *n_ids < PACS_PATIENT_IDS_MAX) {
            snprintf(ids[*n_ids].system, sizeof ids[*n_ids].system, "%s", sys);
            snprintf(ids[*n_ids].value, sizeof ids[*n_ids].value, "%s", value);
            (*n_ids)++;
        }
    }
    if (*n_ids == 0) {
        return pacs_hl7_fail(err, seen ? PACS_HL7_E_UNKNOWN_KEY : PACS_HL7_E_REQUIRED_MISSING,
                             seg_id, f,
                             seen ? "%s-%u: no identifier of a known system (see hl7.id.bhxh, "
                                    "hl7.id.cccd, hl7.id.mrn: CX-4 authority or CX-5 type)"
                                  : "%s-%u: no patient identifier",
                             seg_id, f);
    }
    return PACS_OK;
}

/* XPN (family&...^given^middle^suffix^prefix) to DICOM PN (family^given^middle^prefix^suffix),
 * trailing empty components cut. */
static pacs_err person_name(const pacs_hl7_msg *m, long si, const char *seg_id, unsigned f,
                            char *out, size_t cap, pacs_hl7_error *err)
{
    static const unsigned order[] = {1, 2, 3, 5, 4};
    char parts[5][128];
    for (size_t i = 0; i < 5; i++) {
        pacs_err e = get(m, si, seg_id, f, 1, order[i], 1, parts[i], sizeof parts[i], err);
        if (e != PACS_OK) {
            return e;
        }
        if (strchr(parts[i], '^') || strchr(parts[i], '=') || strchr(parts[i], '\\')) {
            return pacs_hl7_fail(err, PACS_HL7_E_DATA_TYPE, seg_id, f,
                                 "%s-%u: a name part holds ^, = or a backslash", seg_id, f);
        }
    }
    size_t last = 5;
    while (last > 0 && parts[last - 1][0] == '\0') {
        last--;
    }
    size_t o = 0;
    out[0] = '\0';
    for (size_t i = 0; i < last; i++) {
        int w = snprintf(out + o, cap - o, "%s%s", i ? "^" : "", parts[i]);
        if (w < 0 || (size_t)w >= cap - o) {
            return pacs_hl7_fail(err, PACS_HL7_E_DATA_TYPE, seg_id, f, "%s-%u: name too long",
                                 seg_id, f);
        }
        o += (size_t)w;
    }
    return PACS_OK;
}

/* The date part (YYYYMMDD) of a DTM; "" stays "". */
static pacs_err date_of(const char *dtm, char *out, const char *seg_id, unsigned f,
                        pacs_hl7_error *err)
{
    out[0] = '\0';
    if (!dtm[0]) {
        return PACS_OK;
    }
    for (size_t i = 0; i < 8; i++) {
        if (!isdigit((unsigned char)dtm[i])) {
            return pacs_hl7_fail(err, PACS_HL7_E_DATA_TYPE, seg_id, f,
                                 "%s-%u: '%.20s' is not a date (YYYYMMDD...)", seg_id, f, dtm);
        }
    }
    memcpy(out, dtm, 8);
    out[8] = '\0';
    return PACS_OK;
}

/* The time part (HHMMSS, shorter when the DTM is) of a DTM. */
static void time_of(const char *dtm, char *out)
{
    size_t n = 0;
    while (n < 6 && isdigit((unsigned char)dtm[8 + n]) && strlen(dtm) > 8 + n) {
        n++;
    }
    memcpy(out, dtm + (strlen(dtm) >= 8 ? 8 : strlen(dtm)), n);
    out[n] = '\0';
}

pacs_err pacs_hl7_map_patient(const pacs_config *cfg, const pacs_hl7_msg *m, pacs_patient *out,
                              pacs_hl7_error *err)
{
    pacs_patient p;
    memset(&p, 0, sizeof p);
    long pid = pacs_hl7_find(m, "PID", 0);
    if (pid < 0) {
        return pacs_hl7_fail(err, PACS_HL7_E_SEGMENT_SEQUENCE, "PID", 0, "no PID segment");
    }
    char dob[32], sex[8];
    pacs_err e = identifiers(cfg, m, pid, "PID", 3, p.ids, &p.n_ids, err);
    if (e == PACS_OK) {
        e = person_name(m, pid, "PID", 5, p.name, sizeof p.name, err);
    }
    if (e == PACS_OK) {
        e = get(m, pid, "PID", 7, 1, 1, 1, dob, sizeof dob, err);
    }
    if (e == PACS_OK) {
        e = date_of(dob, p.birth_date, "PID", 7, err);
    }
    if (e == PACS_OK) {
        e = get(m, pid, "PID", 8, 1, 1, 1, sex, sizeof sex, err);
    }
    if (e != PACS_OK) {
        return e;
    }
    if (strcmp(sex, "M") == 0 || strcmp(sex, "F") == 0 || strcmp(sex, "O") == 0) {
        p.sex[0] = sex[0];
    }
    *out = p;
    return PACS_OK;
}

pacs_err pacs_hl7_map_merge(const pacs_config *cfg, const pacs_hl7_msg *m, pacs_patient_id *out,
                            pacs_hl7_error *err)
{
    long mrg = pacs_hl7_find(m, "MRG", 0);
    if (mrg < 0) {
        return pacs_hl7_fail(err, PACS_HL7_E_SEGMENT_SEQUENCE, "MRG", 0,
                             "no MRG segment (the patient to merge)");
    }
    pacs_patient_id ids[PACS_PATIENT_IDS_MAX];
    size_t n = 0;
    pacs_err e = identifiers(cfg, m, mrg, "MRG", 1, ids, &n, err);
    if (e == PACS_OK) {
        *out = ids[0];
    }
    return e;
}

/* Copies a value that must fit an attribute of `max` characters, or fails naming the field. */
static pacs_err fit(const pacs_hl7_msg *m, long si, const char *seg_id, unsigned f, unsigned c,
                    char *dst, size_t dst_cap, pacs_hl7_error *err)
{
    char v[512];
    pacs_err e = get(m, si, seg_id, f, 1, c, 1, v, sizeof v, err);
    if (e != PACS_OK) {
        return e;
    }
    if (strlen(v) >= dst_cap || strchr(v, '\\')) {
        pacs_hl7_fail(err, PACS_HL7_E_DATA_TYPE, seg_id, f,
                      "%s-%u: at most %zu characters, no backslash", seg_id, f, dst_cap - 1);
        err->comp = c;
        return PACS_EBADDATA;
    }
    memcpy(dst, v, strlen(v) + 1);
    return PACS_OK;
}

pacs_err pacs_hl7_map_order(const pacs_hl7_msg *m, pacs_hl7_order_control *control, pacs_order *out,
                            pacs_hl7_error *err)
{
    pacs_order o;
    memset(&o, 0, sizeof o);
    long orc = pacs_hl7_find(m, "ORC", 0);
    if (orc < 0) {
        return pacs_hl7_fail(err, PACS_HL7_E_SEGMENT_SEQUENCE, "ORC", 0, "no ORC segment");
    }
    long obr = pacs_hl7_find(m, "OBR", (size_t)orc);
    long tq1 = pacs_hl7_find(m, "TQ1", (size_t)orc);
    long ipc = pacs_hl7_find(m, "IPC", (size_t)orc);
    long zds = pacs_hl7_find(m, "ZDS", (size_t)orc);
    if (obr < 0) {
        return pacs_hl7_fail(err, PACS_HL7_E_SEGMENT_SEQUENCE, "OBR", 0, "no OBR segment");
    }
    char ctl[8], start[32] = "", prio[8] = "";
    pacs_err e = get(m, orc, "ORC", 1, 1, 1, 1, ctl, sizeof ctl, err);
    if (e != PACS_OK) {
        return e;
    }
    if (strcmp(ctl, "NW") == 0) {
        *control = PACS_HL7_ORDER_NEW;
    } else if (strcmp(ctl, "XO") == 0) {
        *control = PACS_HL7_ORDER_CHANGE;
    } else if (strcmp(ctl, "CA") == 0 || strcmp(ctl, "DC") == 0 || strcmp(ctl, "OC") == 0) {
        *control = PACS_HL7_ORDER_CANCEL;
    } else {
        return pacs_hl7_fail(err, ctl[0] ? PACS_HL7_E_TABLE_VALUE : PACS_HL7_E_REQUIRED_MISSING,
                             "ORC", 1, "ORC-1: order control '%s' is not NW, XO, CA, DC or OC",
                             ctl);
    }
    struct {
        long seg;
        const char *id;
        unsigned f, c;
        char *dst;
        size_t cap;
    } fields[] = {
        {orc, "ORC", 2, 1, o.placer, sizeof o.placer},
        {orc, "ORC", 3, 1, o.filler, sizeof o.filler},
        {obr, "OBR", 4, 1, o.procedure_code, sizeof o.procedure_code},
        {obr, "OBR", 4, 2, o.procedure_text, sizeof o.procedure_text},
        {obr, "OBR", 4, 3, o.procedure_scheme, sizeof o.procedure_scheme},
        /* ORM^O01 (IHE RAD-4, v2.3.1): placer and filler fields, ZDS */
        {ipc < 0 ? obr : -1, "OBR", 18, 1, o.accession, sizeof o.accession},
        {ipc < 0 ? obr : -1, "OBR", 19, 1, o.requested_procedure_id,
         sizeof o.requested_procedure_id},
        {ipc < 0 ? obr : -1, "OBR", 20, 1, o.sps_id, sizeof o.sps_id},
        {ipc < 0 ? obr : -1, "OBR", 21, 1, o.station_aet, sizeof o.station_aet},
        {ipc < 0 ? obr : -1, "OBR", 24, 1, o.modality, sizeof o.modality},
        {ipc < 0 ? zds : -1, "ZDS", 1, 1, o.study_uid, sizeof o.study_uid},
        /* OMI^O23 (v2.5): the IPC segment */
        {ipc, "IPC", 1, 1, o.accession, sizeof o.accession},
        {ipc, "IPC", 2, 1, o.requested_procedure_id, sizeof o.requested_procedure_id},
        {ipc, "IPC", 3, 1, o.study_uid, sizeof o.study_uid},
        {ipc, "IPC", 4, 1, o.sps_id, sizeof o.sps_id},
        {ipc, "IPC", 5, 1, o.modality, sizeof o.modality},
        {ipc, "IPC", 7, 1, o.station_name, sizeof o.station_name},
        {ipc, "IPC", 9, 1, o.station_aet, sizeof o.station_aet},
    };
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        if (fields[i].seg < 0) {
            continue;
        }
        e = fit(m, fields[i].seg, fields[i].id, fields[i].f, fields[i].c, fields[i].dst,
                fields[i].cap, err);
        if (e != PACS_OK) {
            return e;
        }
    }
    if (!o.placer[0]) {
        return pacs_hl7_fail(err, PACS_HL7_E_REQUIRED_MISSING, "ORC", 2,
                             "ORC-2: the placer order number is needed");
    }
    e = person_name(m, obr, "OBR", 16, o.referring, sizeof o.referring, err);
    /* The start: TQ1-7, else OBR-27.4 (TQ), else ORC-7.4 */
    if (e == PACS_OK && tq1 >= 0) {
        e = get(m, tq1, "TQ1", 7, 1, 1, 1, start, sizeof start, err);
        if (e == PACS_OK) {
            e = get(m, tq1, "TQ1", 9, 1, 1, 1, prio, sizeof prio, err);
        }
    }
    if (e == PACS_OK && !start[0]) {
        e = get(m, obr, "OBR", 27, 1, 4, 1, start, sizeof start, err);
    }
    if (e == PACS_OK && !start[0]) {
        e = get(m, orc, "ORC", 7, 1, 4, 1, start, sizeof start, err);
    }
    if (e == PACS_OK && !prio[0]) {
        e = get(m, orc, "ORC", 7, 1, 6, 1, prio, sizeof prio, err);
    }
    if (e == PACS_OK) {
        e = date_of(start, o.start_date, tq1 >= 0 ? "TQ1" : "OBR", tq1 >= 0 ? 7 : 27, err);
    }
    if (e != PACS_OK) {
        return e;
    }
    time_of(start, o.start_time);
    /* HL7 priorities (table 0027: S stat, A asap, R routine, P preop, C callback, T timing)
     * to DICOM's Requested Procedure Priority. */
    snprintf(o.priority, sizeof o.priority, "%s",
             strcmp(prio, "S") == 0   ? "STAT"
             : strcmp(prio, "A") == 0 ? "HIGH"
             : prio[0]                ? "ROUTINE"
                                      : "");
    snprintf(o.sps_text, sizeof o.sps_text, "%s", o.procedure_text);
    *out = o;
    return PACS_OK;
}
