// SPDX-License-Identifier: MIT
/*
 * Reconciliation of a received instance to an order's patient (orders_item.h): the identity
 * the archive serves for the patient replaces the one the modality wrote, in an instance's
 * DICOM JSON (its stored metadata, a C-FIND or QIDO answer), and the values it replaces are
 * kept beside it in an Original Attributes Sequence item (PS3.3 C.12.1.1.9), so that what was
 * received stays readable in everything served. The object itself is never changed.
 *
 * Load: a handful of attribute comparisons per instance served. No state; thread-safe.
 */
#include "storage/orders_item.h"

#include <string.h>

#define TAG_PATIENT_ID "00100020"
#define TAG_ISSUER "00100021"

/* True when the identity's attribute carries a value: absent values replace nothing. */
static int has_value(const json_t *attr)
{
    const json_t *v = json_object_get(attr, "Value");
    return json_is_array(v) && json_array_size(v) > 0;
}

/* The received attribute as the Modified Attributes Sequence records it: as it was, or with
 * the identity's VR and no value when it was absent. */
static json_t *prior(const json_t *received, const json_t *replacement)
{
    if (received) {
        return json_deep_copy(received);
    }
    const json_t *vr = json_object_get(replacement, "vr");
    return json_pack("{s:s}", "vr", json_is_string(vr) ? json_string_value(vr) : "UN");
}

static void put_text(json_t *obj, const char *tag, const char *vr, const char *text)
{
    json_object_set_new(obj, tag, json_pack("{s:s,s:[s]}", "vr", vr, "Value", text));
}

int pacs_orders__reconcile_json(json_t *attrs, const json_t *identity, const char *when)
{
    json_t *old = json_object();
    if (!old || !json_is_object(attrs) || !json_is_object(identity)) {
        json_decref(old);
        return -1;
    }
    const char *tag;
    json_t *want;
    json_object_foreach((json_t *)identity, tag, want)
    {
        const json_t *have = json_object_get(attrs, tag);
        if (!has_value(want) || (have && json_equal(have, want))) {
            continue;
        }
        if (json_object_set_new(old, tag, prior(have, want)) != 0) {
            goto fail;
        }
    }
    size_t n = json_object_size(old);
    if (n == 0) {
        json_decref(old);
        return 0;
    }
    /* A replaced PatientID is recorded with the issuer it was issued under, even unchanged. */
    if (json_object_get(old, TAG_PATIENT_ID) && !json_object_get(old, TAG_ISSUER)) {
        json_t *issuer = json_object_get(attrs, TAG_ISSUER);
        json_object_set_new(old, TAG_ISSUER,
                            issuer ? json_deep_copy(issuer) : json_pack("{s:s}", "vr", "LO"));
    }
    json_t *item = json_object();
    if (!item) {
        goto fail;
    }
    json_object_set_new(item, "04000550", json_pack("{s:s,s:[o]}", "vr", "SQ", "Value", old));
    old = NULL;
    put_text(item, "04000562", "DT", when);
    put_text(item, "04000563", "LO", "pacsd");
    json_object_set_new(item, "04000564", json_pack("{s:s}", "vr", "LO"));
    put_text(item, "04000565", "CS", "COERCE");

    json_object_foreach((json_t *)identity, tag, want)
    {
        if (has_value(want)) {
            json_object_set(attrs, tag, want);
        }
    }
    json_t *seq = json_object_get(attrs, "04000561");
    json_t *items = json_object_get(seq, "Value");
    if (json_is_array(items)) {
        json_array_append_new(items, item);
    } else {
        json_object_set_new(attrs, "04000561", json_pack("{s:s,s:[o]}", "vr", "SQ", "Value", item));
    }
    put_text(attrs, "00080015", "DT", when);
    return (int)n;

fail:
    json_decref(old);
    return -1;
}
