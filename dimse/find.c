// SPDX-License-Identifier: MIT
/*
 * C-FIND SCP (Patient Root and Study Root): the identifier becomes a query in the archive's
 * one query model; each match is sent as a pending response holding exactly the requested keys
 * (PS3.4 C.4.1.1.3.2), in UTF-8 (ISO_IR 192) when any value needs it. C-CANCEL is honoured
 * between responses.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pacs/base/log.h"
#include "dimse/service.h"
#include "storage/catalog.h"

#define TAG_QR_LEVEL 0x00080052u
#define TAG_CHARSET 0x00080005u
#define TAG_RETRIEVE_AET 0x00080054u
#define TAG_AVAILABILITY 0x00080056u

#define PATIENT_ROOT_FIND "1.2.840.10008.5.1.4.1.2.1.1"

typedef struct find_state {
    pacs_dimse_ctx *c;
    const pacs_dimse_msg *rq;
    const json_t *request; /* the identifier, as DICOM JSON */
    const char *level_name;
    int canceled;
    pacs_err net_err;
    pacs_errinfo net_ei;
    unsigned matches;
} find_state;

static uint32_t key_tag(const char *key)
{
    return (uint32_t)strtoul(key, NULL, 16);
}

uint16_t pacs_dimse__query_keys(const json_t *id, pacs_query *q, pacs_errinfo *ei)
{
    const char *key;
    json_t *attr;
    json_object_foreach((json_t *)id, key, attr)
    {
        uint32_t tag = key_tag(key);
        if (tag == TAG_QR_LEVEL || tag == TAG_CHARSET || tag == TAG_RETRIEVE_AET ||
            tag == TAG_AVAILABILITY || (tag >> 16) == 0x0000 || (tag >> 16) == 0x0002) {
            continue;
        }
        const char *vr = json_string_value(json_object_get(attr, "vr"));
        if (vr && strcmp(vr, "SQ") == 0) {
            pacs_query *item = NULL;
            if (pacs_query_add_sequence(q, tag, &item, ei) != PACS_OK) {
                return PACS_ST_CANNOT_UNDERSTAND;
            }
            const json_t *first = json_array_get(json_object_get(attr, "Value"), 0);
            const char *ikey;
            json_t *iattr;
            json_object_foreach((json_t *)first, ikey, iattr)
            {
                char *text = pacs_json_text(first, key_tag(ikey));
                pacs_err err = pacs_query_add(
                    item, key_tag(ikey), json_string_value(json_object_get(iattr, "vr")), text, ei);
                free(text);
                if (err != PACS_OK) {
                    return PACS_ST_CANNOT_UNDERSTAND;
                }
            }
            continue;
        }
        char *text = pacs_json_text(id, tag);
        pacs_err err = pacs_query_add(q, tag, vr, text, ei);
        free(text);
        if (err != PACS_OK) {
            return PACS_ST_CANNOT_UNDERSTAND;
        }
    }
    return 0;
}

static int send_match(void *ctx, const json_t *result)
{
    find_state *fs = ctx;
    json_t *out = json_object();
    /* Exactly the requested keys; the index may have added unique keys not asked for. */
    const char *key;
    json_t *attr;
    json_object_foreach((json_t *)fs->request, key, attr)
    {
        uint32_t tag = key_tag(key);
        if (tag == TAG_CHARSET || (tag >> 16) == 0x0000) {
            continue;
        }
        if (tag == TAG_QR_LEVEL) {
            json_object_set_new(out, key,
                                json_pack("{s:s,s:[s]}", "vr", "CS", "Value", fs->level_name));
        } else if (tag == TAG_RETRIEVE_AET) {
            json_object_set_new(out, key,
                                json_pack("{s:s,s:[s]}", "vr", "AE", "Value",
                                          pacs_config_str(fs->c->cfg, "dimse.aet")));
        } else if (tag == TAG_AVAILABILITY) {
            json_object_set_new(out, key, json_pack("{s:s,s:[s]}", "vr", "CS", "Value", "ONLINE"));
        } else {
            json_t *v = json_object_get(result, key);
            json_object_set(out, key, v ? v : attr);
        }
    }
    pacs_ds *ds = NULL;
    pacs_errinfo ei;
    pacs_err err = pacs_ds_from_json(out, &ds, &ei);
    json_decref(out);
    if (err != PACS_OK) {
        pacs_log(PACS_LOG_WARN, "dimse", "assoc=%u cannot encode a C-FIND match: %s",
                 fs->c->assoc_id, ei.msg);
        return 0;
    }
    pacs_dimse_msg rsp;
    memset(&rsp, 0, sizeof rsp);
    rsp.type = PACS_C_FIND_RSP;
    rsp.pc_id = fs->rq->pc_id;
    rsp.msg_id = fs->rq->msg_id;
    rsp.status = PACS_ST_PENDING;
    rsp.has_dataset = 1;
    memcpy(rsp.sop_class, fs->rq->sop_class, sizeof rsp.sop_class);
    err = pacs_msg_send(fs->c->assoc, &rsp, ds, &fs->net_ei);
    pacs_ds_free(ds);
    if (err != PACS_OK) {
        fs->net_err = err;
        return 1;
    }
    fs->matches++;
    if (pacs_msg_cancel_requested(fs->c->assoc, fs->rq->msg_id)) {
        fs->canceled = 1;
        return 1;
    }
    return 0;
}

/* The audit line of a C-FIND: which keys carried a matching value (tags, never values, so no
 * name or birth date goes to the trail), with PatientID and StudyInstanceUID as their fields. */
static void audit_find(pacs_dimse_ctx *c, const json_t *id, const char *level, int success,
                       unsigned matches)
{
    char detail[512];
    size_t used = (size_t)snprintf(detail, sizeof detail, "C-FIND level=%s keys=", level);
    const char *key;
    json_t *attr;
    int first = 1;
    json_object_foreach((json_t *)id, key, attr)
    {
        if (!json_object_get(attr, "Value") || key_tag(key) == TAG_QR_LEVEL ||
            key_tag(key) == TAG_CHARSET || used + 10 >= sizeof detail) {
            continue;
        }
        used +=
            (size_t)snprintf(detail + used, sizeof detail - used, "%s%s", first ? "" : ",", key);
        first = 0;
    }
    char *patient = pacs_json_text(id, 0x00100020u);
    char *study = pacs_json_text(id, 0x0020000Du);
    pacs_dimse__audit(c, PACS_AUDIT_QUERY, success, study, patient, detail, matches);
    free(patient);
    free(study);
}

pacs_err pacs_dimse__find_identifier(pacs_dimse_ctx *c, const pacs_dimse_msg *rq,
                                     uint16_t status_bad, json_t **out, pacs_errinfo *ei)
{
    *out = NULL;
    pacs_ds *ds = NULL;
    pacs_errinfo sub;
    pacs_err err = pacs_msg_recv_dataset(c->assoc, c->timeout, &ds, &sub);
    if (err != PACS_OK) {
        if (ei) {
            *ei = sub;
        }
        return err;
    }
    err = pacs_ds_to_json(ds, out, &sub);
    pacs_ds_free(ds);
    if (err != PACS_OK) {
        *out = NULL;
        return pacs_dimse__respond(c, rq, PACS_C_FIND_RSP, status_bad, sub.msg, ei);
    }
    return PACS_OK;
}

pacs_err pacs_dimse__find(pacs_dimse_ctx *c, const pacs_dimse_msg *rq, pacs_errinfo *ei)
{
    if (strcmp(rq->sop_class, PACS_WORKLIST_FIND_CLASS) == 0) {
        return pacs_dimse__worklist(c, rq, ei);
    }
    c->finds++;
    if (!rq->has_dataset) {
        return pacs_dimse__respond(c, rq, PACS_C_FIND_RSP, PACS_ST_IDENTIFIER_MISMATCH,
                                   "C-FIND request without an identifier", ei);
    }
    json_t *id = NULL;
    pacs_errinfo sub;
    pacs_err err = pacs_dimse__find_identifier(c, rq, PACS_ST_CANNOT_UNDERSTAND, &id, ei);
    if (err != PACS_OK || !id) {
        return err;
    }
    char *level_text = pacs_json_text(id, TAG_QR_LEVEL);
    int level = level_text ? pacs_level_parse(level_text) : -1;
    free(level_text);
    int patient_root = strcmp(rq->sop_class, PATIENT_ROOT_FIND) == 0;
    if (level < 0 || (level == PACS_LEVEL_PATIENT && !patient_root)) {
        json_decref(id);
        return pacs_dimse__respond(c, rq, PACS_C_FIND_RSP, PACS_ST_IDENTIFIER_MISMATCH,
                                   "missing or invalid QueryRetrieveLevel", ei);
    }
    pacs_query *q = pacs_query_new((pacs_level)level);
    uint16_t status = q ? pacs_dimse__query_keys(id, q, &sub) : PACS_ST_OUT_OF_RESOURCES;
    if (status != 0) {
        pacs_query_free(q);
        json_decref(id);
        pacs_log(PACS_LOG_WARN, "dimse", "assoc=%u C-FIND refused: %s", c->assoc_id, sub.msg);
        return pacs_dimse__respond(c, rq, PACS_C_FIND_RSP, status, sub.msg, ei);
    }
    find_state fs;
    memset(&fs, 0, sizeof fs);
    fs.c = c;
    fs.rq = rq;
    fs.request = id;
    fs.level_name = pacs_level_name((pacs_level)level);
    err = pacs_archive_find(c->archive, q, send_match, &fs, &sub);
    pacs_query_free(q);
    audit_find(c, id, fs.level_name, err == PACS_OK && fs.net_err == PACS_OK && !fs.canceled,
               fs.matches);
    json_decref(id);
    if (fs.net_err != PACS_OK) {
        if (ei) {
            *ei = fs.net_ei;
        }
        return fs.net_err;
    }
    pacs_log(PACS_LOG_DEBUG, "dimse", "assoc=%u C-FIND level=%s matches=%u%s", c->assoc_id,
             pacs_level_name((pacs_level)level), fs.matches, fs.canceled ? " (canceled)" : "");
    if (fs.canceled) {
        return pacs_dimse__respond(c, rq, PACS_C_FIND_RSP, PACS_ST_CANCEL, NULL, ei);
    }
    if (err != PACS_OK) {
        pacs_log(PACS_LOG_WARN, "dimse", "assoc=%u C-FIND failed: %s", c->assoc_id, sub.msg);
        return pacs_dimse__respond(
            c, rq, PACS_C_FIND_RSP,
            err == PACS_EINVAL ? PACS_ST_CANNOT_UNDERSTAND : PACS_ST_OUT_OF_RESOURCES, sub.msg, ei);
    }
    return pacs_dimse__respond(c, rq, PACS_C_FIND_RSP, PACS_ST_SUCCESS, NULL, ei);
}
