// SPDX-License-Identifier: MIT
/*
 * What the orders store's unit tests share (test_orders.c, test_orders_link.c), beside the
 * archive of archive_fixture.h: registered patients, orders and MPPS attributes. Included by one
 * test file each: its functions are static.
 */
#ifndef PACS_STORAGE_TESTS_ORDERS_FIXTURE_H
#define PACS_STORAGE_TESTS_ORDERS_FIXTURE_H

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pacs/base/config.h"
#include "storage/archive.h"
#include "storage/orders.h"
#include "storage/tests/archive_fixture.h"

static pacs_patient_id pid(const char *system, const char *value)
{
    pacs_patient_id id;
    memset(&id, 0, sizeof id);
    snprintf(id.system, sizeof id.system, "%s", system);
    snprintf(id.value, sizeof id.value, "%s", value);
    return id;
}

/* Registers a patient with one identifier; its key. */
static int64_t register_patient(fixture *f, const char *system, const char *value, const char *name)
{
    pacs_patient p;
    memset(&p, 0, sizeof p);
    p.ids[p.n_ids++] = pid(system, value);
    snprintf(p.name, sizeof p.name, "%s", name);
    int64_t key = 0;
    pacs_errinfo ei;
    assert_int_equal(pacs_orders_patient_put(f->a, &p, &key, &ei), PACS_OK);
    assert_true(key > 0);
    return key;
}

static pacs_order order_for(int64_t patient, const char *placer, const char *accession)
{
    pacs_order o;
    memset(&o, 0, sizeof o);
    o.patient = patient;
    snprintf(o.placer, sizeof o.placer, "%s", placer);
    snprintf(o.accession, sizeof o.accession, "%s", accession);
    snprintf(o.modality, sizeof o.modality, "CT");
    snprintf(o.station_aet, sizeof o.station_aet, "CT1");
    snprintf(o.start_date, sizeof o.start_date, "20261207");
    snprintf(o.start_time, sizeof o.start_time, "083000");
    snprintf(o.sps_text, sizeof o.sps_text, "CT ngực");
    return o;
}

static json_t *mpps_attrs(const char *status, const char *accession)
{
    json_t *j = json_pack("{s:{s:s,s:[s]}}", "00400252", "vr", "CS", "Value", status);
    if (accession) {
        json_object_set_new(j, "00400253", json_pack("{s:s,s:[s]}", "vr", "SH", "Value", "PPS1"));
        json_object_set_new(j, "00400244",
                            json_pack("{s:s,s:[s]}", "vr", "DA", "Value", "20261207"));
        json_object_set_new(j, "00400245", json_pack("{s:s,s:[s]}", "vr", "TM", "Value", "0900"));
        json_object_set_new(j, "00080060", json_pack("{s:s,s:[s]}", "vr", "CS", "Value", "CT"));
        json_object_set_new(j, "00400270",
                            json_pack("{s:s,s:[{s:{s:s,s:[s]}}]}", "vr", "SQ", "Value", "00080050",
                                      "vr", "SH", "Value", accession));
    }
    return j;
}

#endif
