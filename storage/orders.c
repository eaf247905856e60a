// SPDX-License-Identifier: MIT
/*
 * Orders and patients (orders.h): the parts that need no table (the identifier systems of the
 * configuration, status names). The tables, their migrations and the SQL are written once over
 * the index's SQL driver when the index core (storage/index_core.h, branch index-core) is on
 * main; until then every call that would read or write them answers PACS_EUNSUPPORTED, which
 * the protocols turn into "not stored, send again later" (HL7 AR, DIMSE 0x0110).
 */
#include "storage/orders.h"

#include "storage/orders_item.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>

size_t pacs_orders_id_systems(const pacs_config *cfg, char (*names)[17], size_t cap)
{
    const char *p = pacs_config_str(cfg, "patient.id_order");
    size_t n = 0;
    while (*p) {
        while (*p == ' ' || *p == ',') {
            p++;
        }
        size_t k = strcspn(p, ", ");
        if (k > 0 && k < 17) {
            if (n < cap) {
                memcpy(names[n], p, k);
                names[n][k] = '\0';
            }
            n++;
        }
        p += k;
    }
    return n;
}

const char *pacs_order_status_name(pacs_order_status s)
{
    static const char *const names[] = {"SCHEDULED", "IN PROGRESS", "COMPLETED", "DISCONTINUED",
                                        "CANCELED"};
    return (unsigned)s < sizeof names / sizeof names[0] ? names[s] : "SCHEDULED";
}

static pacs_err not_yet(pacs_errinfo *ei)
{
    return pacs_errf(ei, PACS_EUNSUPPORTED,
                     "orders and patients are not stored yet (they wait for the index core)");
}

pacs_err pacs_orders_patient_put(pacs_archive *a, const pacs_patient *p, int64_t *key,
                                 pacs_errinfo *ei)
{
    (void)a, (void)p, (void)key;
    return not_yet(ei);
}

pacs_err pacs_orders_patient_get(pacs_archive *a, const pacs_patient_id *id, pacs_patient *out,
                                 pacs_errinfo *ei)
{
    (void)a, (void)id, (void)out;
    return not_yet(ei);
}

pacs_err pacs_orders_patient_merge(pacs_archive *a, const pacs_patient_id *survivor,
                                   const pacs_patient_id *retired, pacs_errinfo *ei)
{
    (void)a, (void)survivor, (void)retired;
    return not_yet(ei);
}

pacs_err pacs_orders_place(pacs_archive *a, const pacs_order *o, pacs_order *out, pacs_errinfo *ei)
{
    (void)a, (void)o, (void)out;
    return not_yet(ei);
}

pacs_err pacs_orders_change(pacs_archive *a, const pacs_order *o, pacs_order *out, pacs_errinfo *ei)
{
    (void)a, (void)o, (void)out;
    return not_yet(ei);
}

pacs_err pacs_orders_cancel(pacs_archive *a, const char *placer, pacs_errinfo *ei)
{
    (void)a, (void)placer;
    return not_yet(ei);
}

pacs_err pacs_orders_get(pacs_archive *a, const char *placer, const char *accession,
                         const char *study_uid, pacs_order *out, pacs_errinfo *ei)
{
    (void)a, (void)placer, (void)accession, (void)study_uid, (void)out;
    return not_yet(ei);
}

pacs_err pacs_orders_worklist(pacs_archive *a, const pacs_query *q, int ascii_names,
                              pacs_find_cb cb, void *ctx, pacs_errinfo *ei)
{
    (void)a, (void)q, (void)ascii_names, (void)cb, (void)ctx;
    return not_yet(ei);
}

pacs_err pacs_orders_mpps_create(pacs_archive *a, const char *uid, const json_t *attrs,
                                 pacs_errinfo *ei)
{
    (void)a, (void)uid;
    pacs_mpps_link link;
    pacs_err err = pacs_orders__mpps_check_create(attrs, &link, ei);
    return err != PACS_OK ? err : not_yet(ei);
}

pacs_err pacs_orders_mpps_set(pacs_archive *a, const char *uid, const json_t *attrs,
                              pacs_errinfo *ei)
{
    (void)a, (void)uid, (void)attrs;
    return not_yet(ei);
}

pacs_err pacs_orders_mpps_get(pacs_archive *a, const char *uid, json_t **out, pacs_errinfo *ei)
{
    (void)a, (void)uid, (void)out;
    return not_yet(ei);
}
