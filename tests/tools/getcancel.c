// SPDX-License-Identifier: MIT
/*
 * getcancel: a C-GET requester for the tests that sends C-CANCEL-RQ after receiving N
 * instances (DCMTK's getscu cannot cancel). It proposes Study Root GET and the storage classes
 * given, each in explicit and implicit little endian with the SCP role, asks for a study, answers
 * every C-STORE-RQ with success (the data is read and dropped), and prints
 *
 *   received=N status=0xNNNN completed=N failed=N warning=N
 *
 * for the final C-GET response. Exit status 0 when a final response came, 1 otherwise, 2 on
 * usage errors. Every wait is bounded by --timeout. Single-threaded test tool.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pacs/base/err.h"
#include "pacs/dicom/dcm.h"
#include "pacs/dicom/msg.h"

#define GET_STUDY_ROOT "1.2.840.10008.5.1.4.1.2.2.3"

static pacs_err drop(void *ctx, const void *buf, size_t len, pacs_errinfo *ei)
{
    (void)ctx;
    (void)buf;
    (void)len;
    (void)ei;
    return PACS_OK;
}

static void usage(void)
{
    fprintf(stderr, "usage: getcancel [--cancel-after N] [--timeout S] HOST PORT STUDY_UID "
                    "STORAGE_CLASS...\n");
}

int main(int argc, char **argv)
{
    int after = 1, timeout = 30, i = 1;
    for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
        if (strcmp(argv[i], "--cancel-after") == 0 && i + 1 < argc) {
            after = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc) {
            timeout = atoi(argv[++i]);
        } else {
            usage();
            return 2;
        }
    }
    if (argc - i < 4 || after < 1 || timeout <= 0) {
        usage();
        return 2;
    }
    const char *host = argv[i], *study = argv[i + 2];
    int port = atoi(argv[i + 1]);
    i += 3;
    pacs_errinfo ei;
    if (pacs_dcm_init(&ei) != PACS_OK) {
        fprintf(stderr, "getcancel: %s\n", ei.msg);
        return 2;
    }
    pacs_pc pcs[16];
    size_t n = 0;
    memset(pcs, 0, sizeof pcs);
    snprintf(pcs[0].abstract_syntax, sizeof pcs[0].abstract_syntax, "%s", GET_STUDY_ROOT);
    for (; i < argc && n + 1 < sizeof pcs / sizeof pcs[0]; i++) {
        n++;
        snprintf(pcs[n].abstract_syntax, sizeof pcs[n].abstract_syntax, "%s", argv[i]);
        pcs[n].role = PACS_ROLE_SCP; /* we receive the C-STORE sub-operations */
    }
    n++;
    for (size_t k = 0; k < n; k++) {
        pcs[k].id = (uint8_t)(2 * k + 1);
        snprintf(pcs[k].ts[0], sizeof pcs[k].ts[0], "%s", PACS_TS_EXPLICIT_LE);
        snprintf(pcs[k].ts[1], sizeof pcs[k].ts[1], "%s", PACS_TS_IMPLICIT_LE);
        pcs[k].n_ts = 2;
    }
    pacs_assoc *a = NULL;
    if (pacs_assoc_request("GETCANCEL", "PACS", host, port, timeout, 65536, pcs, n, &a, &ei) !=
        PACS_OK) {
        fprintf(stderr, "getcancel: %s\n", ei.msg);
        return 1;
    }
    int rc = 1;
    json_t *id = json_pack("{s:{s:s,s:[s]},s:{s:s,s:[s]}}", "00080052", "vr", "CS", "Value",
                           "STUDY", "0020000D", "vr", "UI", "Value", study);
    pacs_ds *ds = NULL;
    if (!pcs[0].accepted || pacs_ds_from_json(id, &ds, &ei) != PACS_OK) {
        fprintf(stderr, "getcancel: GET not accepted or bad identifier\n");
        goto out;
    }
    pacs_dimse_msg rq;
    memset(&rq, 0, sizeof rq);
    rq.type = PACS_C_GET_RQ;
    rq.pc_id = pcs[0].id;
    rq.msg_id = 7;
    rq.has_dataset = 1;
    snprintf(rq.sop_class, sizeof rq.sop_class, "%s", GET_STUDY_ROOT);
    if (pacs_msg_send(a, &rq, ds, &ei) != PACS_OK) {
        fprintf(stderr, "getcancel: %s\n", ei.msg);
        goto out;
    }
    int received = 0, cancelled = 0;
    for (;;) {
        pacs_dimse_msg m;
        if (pacs_msg_recv(a, timeout, &m, &ei) != PACS_OK) {
            fprintf(stderr, "getcancel: %s\n", ei.msg);
            goto out;
        }
        if (m.type == PACS_C_STORE_RQ) {
            if (pacs_msg_recv_dataset_raw(a, timeout, drop, NULL, &ei) != PACS_OK) {
                fprintf(stderr, "getcancel: %s\n", ei.msg);
                goto out;
            }
            received++;
            pacs_dimse_msg rsp;
            memset(&rsp, 0, sizeof rsp);
            rsp.type = PACS_C_STORE_RSP;
            rsp.pc_id = m.pc_id;
            rsp.msg_id = m.msg_id;
            memcpy(rsp.sop_class, m.sop_class, sizeof rsp.sop_class);
            memcpy(rsp.sop_instance, m.sop_instance, sizeof rsp.sop_instance);
            if (pacs_msg_send(a, &rsp, NULL, &ei) != PACS_OK) {
                goto out;
            }
            if (received >= after && !cancelled) {
                pacs_dimse_msg cancel;
                memset(&cancel, 0, sizeof cancel);
                cancel.type = PACS_C_CANCEL_RQ;
                cancel.pc_id = rq.pc_id;
                cancel.msg_id = rq.msg_id;
                if (pacs_msg_send(a, &cancel, NULL, &ei) != PACS_OK) {
                    goto out;
                }
                cancelled = 1;
            }
            continue;
        }
        if (m.type != PACS_C_GET_RSP) {
            fprintf(stderr, "getcancel: unexpected message type %d\n", (int)m.type);
            goto out;
        }
        if (m.has_dataset) {
            pacs_ds *junk = NULL;
            if (pacs_msg_recv_dataset(a, timeout, &junk, &ei) != PACS_OK) {
                goto out;
            }
            pacs_ds_free(junk);
        }
        if (m.status == 0xFF00 || m.status == 0xFF01) {
            continue;
        }
        printf("received=%d status=0x%04x completed=%u failed=%u warning=%u\n", received, m.status,
               m.completed, m.failed, m.warning);
        rc = 0;
        break;
    }
out:
    json_decref(id);
    pacs_ds_free(ds);
    pacs_assoc_release(a, &ei);
    pacs_assoc_free(a);
    return rc;
}
