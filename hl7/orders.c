// SPDX-License-Identifier: MIT
/* HL7 messages to the archive's patients, orders and reports (orders.h). No state. */
#include "hl7/orders.h"

#include <stdio.h>
#include <string.h>

#include "hl7/map.h"
#include "hl7/results.h"
#include "storage/orders.h"

/* The ACK for a refusal of the archive: what the HIS must fix (AE, at `seg`-`field`), or what
 * it must send again later (AR, the archive's own trouble). */
static pacs_hl7_ack_code refused(pacs_err e, const pacs_errinfo *ei, const char *seg,
                                 unsigned field, pacs_hl7_error *err)
{
    switch (e) {
    case PACS_ENOTFOUND:
        pacs_hl7_fail(err, PACS_HL7_E_UNKNOWN_KEY, seg, field, "%s", ei->msg);
        return PACS_HL7_AE;
    case PACS_ECONFLICT:
    case PACS_EEXIST:
        pacs_hl7_fail(err, PACS_HL7_E_DUPLICATE_KEY, seg, field, "%s", ei->msg);
        return PACS_HL7_AE;
    case PACS_EINVAL:
    case PACS_EBADDATA:
        pacs_hl7_fail(err, PACS_HL7_E_DATA_TYPE, seg, field, "%s", ei->msg);
        return PACS_HL7_AE;
    default:
        pacs_hl7_fail(err, PACS_HL7_E_INTERNAL, "", 0, "not stored, send again later: %s", ei->msg);
        return PACS_HL7_AR;
    }
}

static pacs_hl7_ack_code adt_update(pacs_hl7_orders *o, const pacs_hl7_msg *m, pacs_hl7_error *err)
{
    pacs_patient p;
    if (pacs_hl7_map_patient(o->cfg, m, &p, err) != PACS_OK) {
        return PACS_HL7_AE;
    }
    pacs_errinfo ei;
    pacs_errinfo_clear(&ei);
    int64_t key = 0;
    pacs_err e = pacs_orders_patient_put(o->archive, &p, &key, &ei);
    return e == PACS_OK ? PACS_HL7_AA : refused(e, &ei, "PID", 3, err);
}

static pacs_hl7_ack_code adt_merge(pacs_hl7_orders *o, const pacs_hl7_msg *m, pacs_hl7_error *err)
{
    pacs_patient survivor;
    pacs_patient_id retired;
    if (pacs_hl7_map_patient(o->cfg, m, &survivor, err) != PACS_OK ||
        pacs_hl7_map_merge(o->cfg, m, &retired, err) != PACS_OK) {
        return PACS_HL7_AE;
    }
    pacs_errinfo ei;
    pacs_errinfo_clear(&ei);
    pacs_err e = pacs_orders_patient_merge(o->archive, &survivor.ids[0], &retired, &ei);
    return e == PACS_OK ? PACS_HL7_AA : refused(e, &ei, "MRG", 1, err);
}

static pacs_hl7_ack_code order(pacs_hl7_orders *o, const pacs_hl7_msg *m, pacs_hl7_error *err)
{
    pacs_hl7_order_control control;
    pacs_order ord, done;
    if (pacs_hl7_map_order(m, &control, &ord, err) != PACS_OK) {
        return PACS_HL7_AE;
    }
    pacs_errinfo ei;
    pacs_errinfo_clear(&ei);
    pacs_err e = PACS_OK;
    if (control == PACS_HL7_ORDER_CANCEL) {
        e = pacs_orders_cancel(o->archive, ord.placer, &ei);
        return e == PACS_OK ? PACS_HL7_AA : refused(e, &ei, "ORC", 2, err);
    }
    /* The order's patient must be known: registered by ADT before, or named in PID-3. */
    pacs_patient p, known;
    if (pacs_hl7_map_patient(o->cfg, m, &p, err) != PACS_OK) {
        return PACS_HL7_AE;
    }
    e = PACS_ENOTFOUND;
    for (size_t i = 0; i < p.n_ids && e == PACS_ENOTFOUND; i++) {
        e = pacs_orders_patient_get(o->archive, &p.ids[i], &known, &ei);
    }
    if (e != PACS_OK) {
        if (e == PACS_ENOTFOUND) {
            snprintf(ei.msg, sizeof ei.msg,
                     "PID-3: no patient with these identifiers (register it with ADT first)");
        }
        return refused(e, &ei, "PID", 3, err);
    }
    ord.patient = known.key;
    e = control == PACS_HL7_ORDER_NEW ? pacs_orders_place(o->archive, &ord, &done, &ei)
                                      : pacs_orders_change(o->archive, &ord, &done, &ei);
    return e == PACS_OK ? PACS_HL7_AA : refused(e, &ei, "ORC", 2, err);
}

pacs_hl7_ack_code pacs_hl7_orders_handle(void *ctx, const pacs_hl7_msg *m,
                                         const pacs_hl7_peer *peer, pacs_hl7_error *err)
{
    (void)peer;
    pacs_hl7_orders *o = ctx;
    char type[8], trigger[8];
    if (pacs_hl7_get(m, 0, 9, 1, 1, 1, type, sizeof type) != PACS_OK ||
        pacs_hl7_get(m, 0, 9, 1, 2, 1, trigger, sizeof trigger) != PACS_OK) {
        pacs_hl7_fail(err, PACS_HL7_E_MESSAGE_TYPE, "MSH", 9, "MSH-9: not a message type");
        return PACS_HL7_AR;
    }
    if (strcmp(type, "ADT") == 0) {
        static const char *const updates[] = {"A01", "A04", "A05", "A08", "A28", "A31"};
        for (size_t i = 0; i < sizeof updates / sizeof updates[0]; i++) {
            if (strcmp(trigger, updates[i]) == 0) {
                return adt_update(o, m, err);
            }
        }
        if (strcmp(trigger, "A40") == 0) {
            return adt_merge(o, m, err);
        }
        pacs_hl7_fail(err, PACS_HL7_E_EVENT_CODE, "MSH", 9,
                      "ADT^%s is not served (A01, A04, A05, A08, A28, A31, A40)", trigger);
        err->comp = 2;
        return PACS_HL7_AR;
    }
    if ((strcmp(type, "ORM") == 0 && strcmp(trigger, "O01") == 0) ||
        (strcmp(type, "OMI") == 0 && strcmp(trigger, "O23") == 0)) {
        return order(o, m, err);
    }
    if (strcmp(type, "ORU") == 0 && strcmp(trigger, "R01") == 0) {
        return pacs_hl7_results_store(o->archive, m, "", err);
    }
    pacs_hl7_fail(err, PACS_HL7_E_MESSAGE_TYPE, "MSH", 9,
                  "%s^%s is not served (ADT, ORM^O01, OMI^O23, ORU^R01)", type, trigger);
    return PACS_HL7_AR;
}
