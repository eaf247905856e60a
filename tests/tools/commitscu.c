// SPDX-License-Identifier: MIT
/*
 * commitscu: a small Storage Commitment Push Model requester (PS3.4 Annex J) for the tests,
 * since DCMTK ships none. It sends one N-ACTION-RQ (Request Storage Commitment) naming the
 * instances given, then waits for the N-EVENT-REPORT-RQ: on the same association, or (with
 * --release) after releasing at once, on a new association it accepts on --listen PORT. It
 * prints the report, one line per instance:
 *
 *   event_type=1|2 transaction=UID
 *   committed SOP_CLASS SOP_INSTANCE
 *   failed SOP_CLASS SOP_INSTANCE reason=0xNNNN
 *
 * and exits 0 when a report for its transaction arrived, 1 otherwise, 2 on usage errors.
 * Every wait is bounded by --timeout. Single-threaded test tool.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pacs/base/err.h"
#include "pacs/dicom/dcm.h"
#include "pacs/dicom/msg.h"
#include "pacs/dicom/net.h"

#define COMMIT_CLASS "1.2.840.10008.1.20.1"
#define COMMIT_INSTANCE "1.2.840.10008.1.20.1.1"

static void usage(void)
{
    fprintf(stderr,
            "usage: commitscu [--aet AET] [--aec AET] [--timeout S] [--release --listen PORT]\n"
            "                 [--transaction UID] HOST PORT (FILE | CLASS:INSTANCE)...\n");
}

static json_t *uid_attr(const char *uid)
{
    return json_pack("{s:s,s:[s]}", "vr", "UI", "Value", uid);
}

static const char *first_text(const json_t *obj, const char *key)
{
    return json_string_value(
        json_array_get(json_object_get(json_object_get(obj, key), "Value"), 0));
}

static void print_items(const json_t *report, const char *seq, const char *word)
{
    const json_t *items = json_object_get(json_object_get(report, seq), "Value");
    size_t i;
    json_t *it;
    json_array_foreach(items, i, it)
    {
        const char *cls = first_text(it, "00081150");
        const char *inst = first_text(it, "00081155");
        const json_t *reason =
            json_array_get(json_object_get(json_object_get(it, "00081197"), "Value"), 0);
        if (reason) {
            printf("%s %s %s reason=0x%04llx\n", word, cls ? cls : "", inst ? inst : "",
                   (long long)json_integer_value(reason));
        } else {
            printf("%s %s %s\n", word, cls ? cls : "", inst ? inst : "");
        }
    }
}

/* Waits for the N-EVENT-REPORT-RQ on `a`, answers it, prints it. 0 when it was ours. */
static int take_report(pacs_assoc *a, int timeout, const char *txuid)
{
    pacs_dimse_msg m;
    pacs_errinfo ei;
    pacs_errinfo_clear(&ei);
    if (pacs_msg_recv(a, timeout, &m, &ei) != PACS_OK) {
        fprintf(stderr, "commitscu: no event report: %s\n", ei.msg[0] ? ei.msg : "released");
        return 1;
    }
    if (m.type != PACS_N_EVENT_REPORT_RQ || !m.has_dataset) {
        fprintf(stderr, "commitscu: unexpected message type %d\n", (int)m.type);
        return 1;
    }
    pacs_ds *ds = NULL;
    json_t *j = NULL;
    if (pacs_msg_recv_dataset(a, timeout, &ds, &ei) != PACS_OK ||
        pacs_ds_to_json(ds, &j, &ei) != PACS_OK) {
        fprintf(stderr, "commitscu: bad event report: %s\n", ei.msg);
        pacs_ds_free(ds);
        return 1;
    }
    pacs_ds_free(ds);
    pacs_dimse_msg rsp;
    memset(&rsp, 0, sizeof rsp);
    rsp.type = PACS_N_EVENT_REPORT_RSP;
    rsp.pc_id = m.pc_id;
    rsp.msg_id = m.msg_id;
    rsp.event_type = m.event_type;
    snprintf(rsp.sop_class, sizeof rsp.sop_class, "%s", m.sop_class);
    snprintf(rsp.sop_instance, sizeof rsp.sop_instance, "%s", m.sop_instance);
    pacs_msg_send(a, &rsp, NULL, &ei);
    const char *tx = first_text(j, "00081195");
    printf("event_type=%u transaction=%s\n", m.event_type, tx ? tx : "");
    print_items(j, "00081199", "committed");
    print_items(j, "00081198", "failed");
    int ours = tx && strcmp(tx, txuid) == 0;
    json_decref(j);
    return ours ? 0 : 1;
}

/* Accepts one association on `net` offering Storage Commitment and takes the report. */
static int listen_for_report(pacs_net *net, int port, int timeout, const char *txuid)
{
    pacs_errinfo ei;
    int rc = 1;
    time_t deadline = time(NULL) + timeout;
    pacs_assoc *a = NULL;
    while (time(NULL) < deadline) {
        pacs_err err = pacs_net_accept(net, 250, 65536, &a, &ei);
        if (err == PACS_OK) {
            break;
        }
        a = NULL;
    }
    if (!a) {
        fprintf(stderr, "commitscu: no association on port %d within %d s\n", port, timeout);
        return 1;
    }
    size_t n = pacs_assoc_pc_count(a);
    for (size_t i = 0; i < n; i++) {
        pacs_pc pc;
        if (pacs_assoc_pc_at(a, i, &pc) != PACS_OK) {
            continue;
        }
        if (strcmp(pc.abstract_syntax, COMMIT_CLASS) == 0 && pc.n_ts > 0) {
            pacs_assoc_pc_accept(a, pc.id, pc.ts[0], pc.role, NULL);
        } else {
            pacs_assoc_pc_reject(a, pc.id, PACS_PC_REJECT_ABSTRACT_SYNTAX, NULL);
        }
    }
    if (pacs_assoc_acknowledge(a, &ei) == PACS_OK) {
        rc = take_report(a, timeout, txuid);
        /* Wait for the peer's release. */
        pacs_dimse_msg m;
        pacs_msg_recv(a, timeout, &m, &ei);
    }
    pacs_assoc_free(a);
    return rc;
}

int main(int argc, char **argv)
{
    const char *aet = "COMMITSCU", *aec = "PACS", *host = NULL, *txuid = NULL;
    int port = 0, listen_port = 0, release = 0, timeout = 30, i = 1;
    char txbuf[65];
    for (; i < argc && strncmp(argv[i], "--", 2) == 0; i++) {
        if (strcmp(argv[i], "--aet") == 0 && i + 1 < argc) {
            aet = argv[++i];
        } else if (strcmp(argv[i], "--aec") == 0 && i + 1 < argc) {
            aec = argv[++i];
        } else if (strcmp(argv[i], "--timeout") == 0 && i + 1 < argc) {
            timeout = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--listen") == 0 && i + 1 < argc) {
            listen_port = atoi(argv[++i]);
        } else if (strcmp(argv[i], "--transaction") == 0 && i + 1 < argc) {
            txuid = argv[++i];
        } else if (strcmp(argv[i], "--release") == 0) {
            release = 1;
        } else {
            usage();
            return 2;
        }
    }
    if (argc - i < 3 || (release && listen_port <= 0) || timeout <= 0) {
        usage();
        return 2;
    }
    host = argv[i++];
    port = atoi(argv[i++]);
    pacs_errinfo ei;
    if (pacs_dcm_init(&ei) != PACS_OK) {
        fprintf(stderr, "commitscu: %s\n", ei.msg);
        return 2;
    }
    if (!txuid) {
        snprintf(txbuf, sizeof txbuf, "2.25.%ld%ld", (long)time(NULL), (long)getpid());
        txuid = txbuf;
    }
    json_t *refs = json_array();
    for (; i < argc; i++) {
        char cls[PACS_UID_MAX + 1], inst[PACS_UID_MAX + 1];
        const char *colon = strchr(argv[i], ':');
        if (colon && access(argv[i], R_OK) != 0) {
            snprintf(cls, sizeof cls, "%.*s", (int)(colon - argv[i]), argv[i]);
            snprintf(inst, sizeof inst, "%s", colon + 1);
        } else {
            pacs_meta m;
            uint64_t start = 0;
            if (pacs_dcm_probe_file(argv[i], &m, &start, &ei) != PACS_OK) {
                fprintf(stderr, "commitscu: %s: %s\n", argv[i], ei.msg);
                return 2;
            }
            snprintf(cls, sizeof cls, "%s", m.sop_class_uid);
            snprintf(inst, sizeof inst, "%s", m.sop_instance_uid);
        }
        json_array_append_new(
            refs, json_pack("{s:o,s:o}", "00081150", uid_attr(cls), "00081155", uid_attr(inst)));
    }
    json_t *action = json_pack("{s:o,s:{s:s,s:o}}", "00081195", uid_attr(txuid), "00081199", "vr",
                               "SQ", "Value", refs);
    pacs_ds *ds = NULL;
    if (pacs_ds_from_json(action, &ds, &ei) != PACS_OK) {
        fprintf(stderr, "commitscu: %s\n", ei.msg);
        return 2;
    }
    json_decref(action);

    pacs_pc pc;
    memset(&pc, 0, sizeof pc);
    pc.id = 1;
    snprintf(pc.abstract_syntax, sizeof pc.abstract_syntax, "%s", COMMIT_CLASS);
    snprintf(pc.ts[0], sizeof pc.ts[0], "%s", PACS_TS_EXPLICIT_LE);
    snprintf(pc.ts[1], sizeof pc.ts[1], "%s", PACS_TS_IMPLICIT_LE);
    pc.n_ts = 2;
    /* Listen before asking, so the report cannot come before we are ready for it. */
    pacs_net *net = NULL;
    int bound = 0;
    if (release &&
        pacs_net_listen("127.0.0.1", listen_port, timeout, &net, &bound, &ei) != PACS_OK) {
        fprintf(stderr, "commitscu: %s\n", ei.msg);
        return 1;
    }
    pacs_assoc *a = NULL;
    int rc = 1;
    if (pacs_assoc_request(aet, aec, host, port, timeout, 65536, &pc, 1, &a, &ei) != PACS_OK) {
        fprintf(stderr, "commitscu: %s\n", ei.msg);
        a = NULL;
        goto out;
    }
    if (!pc.accepted) {
        fprintf(stderr, "commitscu: Storage Commitment was not accepted\n");
        goto out;
    }
    pacs_dimse_msg rq;
    memset(&rq, 0, sizeof rq);
    rq.type = PACS_N_ACTION_RQ;
    rq.pc_id = pc.id;
    rq.msg_id = 1;
    rq.action_type = 1;
    rq.has_dataset = 1;
    snprintf(rq.sop_class, sizeof rq.sop_class, "%s", COMMIT_CLASS);
    snprintf(rq.sop_instance, sizeof rq.sop_instance, "%s", COMMIT_INSTANCE);
    if (pacs_msg_send(a, &rq, ds, &ei) != PACS_OK) {
        fprintf(stderr, "commitscu: %s\n", ei.msg);
        goto out;
    }
    pacs_dimse_msg rsp;
    if (pacs_msg_recv(a, timeout, &rsp, &ei) != PACS_OK || rsp.type != PACS_N_ACTION_RSP) {
        fprintf(stderr, "commitscu: no N-ACTION-RSP: %s\n", ei.msg);
        goto out;
    }
    printf("action_status=0x%04x\n", rsp.status);
    if (rsp.status != 0) {
        goto out;
    }
    if (release) {
        pacs_assoc_release(a, &ei);
        pacs_assoc_free(a);
        a = NULL;
        rc = listen_for_report(net, listen_port, timeout, txuid);
    } else {
        rc = take_report(a, timeout, txuid);
    }
out:
    if (a) {
        pacs_assoc_release(a, &ei);
        pacs_assoc_free(a);
    }
    pacs_net_close(net);
    pacs_ds_free(ds);
    return rc;
}
