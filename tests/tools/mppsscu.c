// SPDX-License-Identifier: MIT
/*
 * mppsscu: a small Modality Performed Procedure Step requester (PS3.4 F) for the tests, on
 * DCMTK's network layer through pacs/dicom (DCMTK ships no MPPS SCU). On one association it
 * runs each STEP in order and prints one line per response:
 *
 *   create status=0xNNNN uid=UID [comment=TEXT]
 *   set status=0xNNNN uid=UID [comment=TEXT]
 *
 * STEP is create:FILE (N-CREATE with the dataset of FILE, a DICOM file such as dump2dcm makes,
 * the SCP choosing the instance UID), create:FILE:UID (with that UID), set:UID:FILE (N-SET;
 * UID "last" is the instance of the last create), create-empty and set-empty:UID (no dataset).
 * Exits 0 when every request was answered, 1 otherwise, 2 on usage errors. Every wait is
 * bounded by --timeout. Single-threaded test tool.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pacs/base/err.h"
#include "pacs/dicom/dcm.h"
#include "pacs/dicom/assoc.h"
#include "pacs/dicom/msg.h"
#include "pacs/dicom/net.h"

#define MPPS_CLASS "1.2.840.10008.3.1.2.3.3"

static void usage(void)
{
    fprintf(stderr, "usage: mppsscu [--aet AET] [--aec AET] [--timeout S] HOST PORT "
                    "(create:FILE[:UID] | set:UID:FILE | create-empty | set-empty:UID)...\n");
}

/* One request and its response; 0 when answered. */
static int step(pacs_assoc *a, uint8_t pc, uint16_t id, int timeout, const char *spec,
                char last[65])
{
    char buf[4096];
    snprintf(buf, sizeof buf, "%s", spec);
    int create = strncmp(buf, "create", 6) == 0;
    char *file = NULL, *uid = NULL;
    if (strncmp(buf, "create:", 7) == 0) {
        file = buf + 7;
        uid = strchr(file, ':');
    } else if (strncmp(buf, "set:", 4) == 0) {
        uid = buf + 4;
        file = strchr(uid, ':');
        if (!file) {
            return 2;
        }
        *file++ = '\0';
    } else if (strncmp(buf, "set-empty:", 10) == 0) {
        uid = buf + 10;
    } else if (strcmp(buf, "create-empty") != 0) {
        return 2;
    }
    if (create && uid) {
        *uid++ = '\0';
    }
    pacs_errinfo ei;
    pacs_errinfo_clear(&ei);
    pacs_ds *ds = NULL;
    if (file && pacs_ds_load_file(file, &ds, &ei) != PACS_OK) {
        fprintf(stderr, "mppsscu: %s: %s\n", file, ei.msg);
        return 2;
    }
    pacs_dimse_msg rq;
    memset(&rq, 0, sizeof rq);
    rq.type = create ? PACS_N_CREATE_RQ : PACS_N_SET_RQ;
    rq.pc_id = pc;
    rq.msg_id = id;
    rq.has_dataset = ds != NULL;
    snprintf(rq.sop_class, sizeof rq.sop_class, "%s", MPPS_CLASS);
    const char *want = uid && strcmp(uid, "last") == 0 ? last : uid;
    if (want && strlen(want) >= sizeof rq.sop_instance) {
        return 2;
    }
    if (want) {
        memcpy(rq.sop_instance, want, strlen(want) + 1);
    }
    pacs_err err = pacs_msg_send(a, &rq, ds, &ei);
    pacs_ds_free(ds);
    pacs_dimse_msg rsp;
    if (err == PACS_OK) {
        err = pacs_msg_recv(a, timeout, &rsp, &ei);
    }
    if (err != PACS_OK || rsp.type != (create ? PACS_N_CREATE_RSP : PACS_N_SET_RSP)) {
        fprintf(stderr, "mppsscu: no response: %s\n", ei.msg);
        return 1;
    }
    const char *shown = rsp.sop_instance[0] ? rsp.sop_instance : rq.sop_instance;
    if (create && rsp.sop_instance[0]) {
        snprintf(last, 65, "%s", rsp.sop_instance);
    }
    printf("%s status=0x%04x uid=%s%s%s\n", create ? "create" : "set", rsp.status, shown,
           rsp.error_comment[0] ? " comment=" : "", rsp.error_comment);
    fflush(stdout);
    return 0;
}

int main(int argc, char **argv)
{
    const char *aet = "MPPSSCU", *aec = "PACS";
    int timeout = 30, i = 1;
    for (; i < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
        if (i + 1 >= argc) {
            usage();
            return 2;
        }
        if (strcmp(argv[i], "--aet") == 0) {
            aet = argv[i + 1];
        } else if (strcmp(argv[i], "--aec") == 0) {
            aec = argv[i + 1];
        } else if (strcmp(argv[i], "--timeout") == 0) {
            timeout = atoi(argv[i + 1]);
        } else {
            usage();
            return 2;
        }
    }
    if (argc - i < 3 || timeout <= 0) {
        usage();
        return 2;
    }
    const char *host = argv[i];
    int port = atoi(argv[i + 1]);
    pacs_errinfo ei;
    if (pacs_dcm_init(&ei) != PACS_OK) {
        fprintf(stderr, "mppsscu: %s\n", ei.msg);
        return 2;
    }
    pacs_pc pc;
    memset(&pc, 0, sizeof pc);
    pc.id = 1;
    snprintf(pc.abstract_syntax, sizeof pc.abstract_syntax, "%s", MPPS_CLASS);
    snprintf(pc.ts[0], sizeof pc.ts[0], "%s", PACS_TS_EXPLICIT_LE);
    snprintf(pc.ts[1], sizeof pc.ts[1], "%s", PACS_TS_IMPLICIT_LE);
    pc.n_ts = 2;
    pacs_assoc *a = NULL;
    if (pacs_assoc_request(aet, aec, host, port, timeout, 65536, &pc, 1, &a, &ei) != PACS_OK) {
        fprintf(stderr, "mppsscu: %s\n", ei.msg);
        return 1;
    }
    int rc = 0;
    if (!pc.accepted) {
        fprintf(stderr, "mppsscu: MPPS was not accepted\n");
        rc = 1;
    }
    char last[65] = "";
    for (int k = i + 2; k < argc && rc == 0; k++) {
        rc = step(a, pc.id, (uint16_t)(k - i - 1), timeout, argv[k], last);
        if (rc == 2) {
            usage();
        }
    }
    pacs_assoc_release(a, &ei);
    pacs_assoc_free(a);
    return rc;
}
