// SPDX-License-Identifier: MIT
/*
 * The benchmark's DIMSE client: one association kept open for C-ECHO and STUDY-level C-FIND
 * round trips, so that what is timed is the server's answer and not association set-up or
 * process start. Built on pacs/dicom/assoc.h and msg.h (DCMTK). One handle per thread.
 */
#include "tools/bench/bench.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pacs/dicom/dcm.h"
#include "pacs/dicom/msg.h"

#define UID_VERIFICATION "1.2.840.10008.1.1"
#define UID_STUDY_ROOT_FIND "1.2.840.10008.5.1.4.1.2.2.1"
#define UID_WORKLIST_FIND "1.2.840.10008.5.1.4.31"

struct bench_dimse {
    pacs_assoc *a;
    uint8_t pc_echo, pc_find, pc_worklist;
    uint16_t msg_id;
};

pacs_err bench_dimse_open(const char *aet, int port, bench_dimse **out, pacs_errinfo *ei)
{
    pacs_pc pcs[3];
    memset(pcs, 0, sizeof pcs);
    const char *as[3] = {UID_VERIFICATION, UID_STUDY_ROOT_FIND, UID_WORKLIST_FIND};
    for (int i = 0; i < 3; i++) {
        pcs[i].id = (uint8_t)(1 + 2 * i);
        snprintf(pcs[i].abstract_syntax, sizeof pcs[i].abstract_syntax, "%s", as[i]);
        pcs[i].n_ts = 2;
        snprintf(pcs[i].ts[0], sizeof pcs[i].ts[0], "%s", PACS_TS_EXPLICIT_LE);
        snprintf(pcs[i].ts[1], sizeof pcs[i].ts[1], "%s", PACS_TS_IMPLICIT_LE);
    }
    bench_dimse *d = calloc(1, sizeof *d);
    if (!d) {
        return pacs_errf(ei, PACS_ENOMEM, "out of memory");
    }
    pacs_err err =
        pacs_assoc_request("BENCH", aet, "127.0.0.1", port, 30, 65536, pcs, 3, &d->a, ei);
    if (err != PACS_OK) {
        free(d);
        return err;
    }
    d->pc_echo = pacs_assoc_find_pc(d->a, UID_VERIFICATION, NULL);
    d->pc_find = pacs_assoc_find_pc(d->a, UID_STUDY_ROOT_FIND, NULL);
    d->pc_worklist = pacs_assoc_find_pc(d->a, UID_WORKLIST_FIND, NULL);
    if (!d->pc_echo) {
        bench_dimse_close(d);
        return pacs_errf(ei, PACS_EUNSUPPORTED, "the server did not accept C-ECHO");
    }
    *out = d;
    return PACS_OK;
}

void bench_dimse_close(bench_dimse *d)
{
    if (!d) {
        return;
    }
    if (d->a) {
        pacs_errinfo ei;
        if (pacs_assoc_release(d->a, &ei) != PACS_OK) {
            pacs_assoc_abort(d->a);
        }
        pacs_assoc_free(d->a);
    }
    free(d);
}

pacs_err bench_dimse_echo(bench_dimse *d, pacs_errinfo *ei)
{
    pacs_dimse_msg m;
    memset(&m, 0, sizeof m);
    m.type = PACS_C_ECHO_RQ;
    m.pc_id = d->pc_echo;
    m.msg_id = ++d->msg_id;
    snprintf(m.sop_class, sizeof m.sop_class, "%s", UID_VERIFICATION);
    pacs_err err = pacs_msg_send(d->a, &m, NULL, ei);
    if (err != PACS_OK) {
        return err;
    }
    pacs_dimse_msg r;
    err = pacs_msg_recv(d->a, 30, &r, ei);
    if (err != PACS_OK) {
        return err;
    }
    if (r.type != PACS_C_ECHO_RSP || r.status != 0) {
        return pacs_errf(ei, PACS_ENET, "C-ECHO answered with status 0x%04x", r.status);
    }
    return PACS_OK;
}

/* One C-FIND on context `pc`: the request, then every answer read, matches counted. */
static pacs_err find(bench_dimse *d, uint8_t pc, const char *sop_class, const pacs_ds *q,
                     unsigned *matches, pacs_errinfo *ei)
{
    pacs_dimse_msg m;
    memset(&m, 0, sizeof m);
    m.type = PACS_C_FIND_RQ;
    m.pc_id = pc;
    m.msg_id = ++d->msg_id;
    m.has_dataset = 1;
    snprintf(m.sop_class, sizeof m.sop_class, "%s", sop_class);
    pacs_err err = pacs_msg_send(d->a, &m, q, ei);
    unsigned n = 0;
    while (err == PACS_OK) {
        pacs_dimse_msg r;
        err = pacs_msg_recv(d->a, 120, &r, ei);
        if (err != PACS_OK) {
            break;
        }
        if (r.has_dataset) {
            pacs_ds *ds = NULL;
            err = pacs_msg_recv_dataset(d->a, 120, &ds, ei);
            pacs_ds_free(ds);
            if (err != PACS_OK) {
                break;
            }
        }
        if (r.type != PACS_C_FIND_RSP) {
            err = pacs_errf(ei, PACS_ENET, "unexpected answer to C-FIND");
        } else if (r.status == 0xFF00 || r.status == 0xFF01) {
            n++;
        } else if (r.status == 0) {
            *matches = n;
            return PACS_OK;
        } else {
            err = pacs_errf(ei, PACS_ENET, "C-FIND failed with status 0x%04x", r.status);
        }
    }
    return err;
}

pacs_err bench_dimse_find_study(bench_dimse *d, uint32_t key_tag, const char *value,
                                unsigned *matches, pacs_errinfo *ei)
{
    static const uint32_t ret_keys[] = {0x00080020, 0x00080030, 0x00080050, 0x00080061,
                                        0x00081030, 0x00100010, 0x00100020, 0x00100030,
                                        0x00100040, 0x0020000D, 0x00201208};
    if (!d->pc_find) {
        return pacs_errf(ei, PACS_EUNSUPPORTED, "the server did not accept Study Root C-FIND");
    }
    pacs_ds *q = pacs_ds_new();
    if (!q) {
        return pacs_errf(ei, PACS_ENOMEM, "out of memory");
    }
    pacs_err err = pacs_ds_put_string(q, 0x00080005, "ISO_IR 192", ei);
    if (err == PACS_OK) {
        err = pacs_ds_put_string(q, 0x00080052, "STUDY", ei);
    }
    for (size_t i = 0; err == PACS_OK && i < sizeof ret_keys / sizeof ret_keys[0]; i++) {
        err = pacs_ds_put_string(q, ret_keys[i], ret_keys[i] == key_tag ? value : "", ei);
    }
    if (err != PACS_OK) {
        pacs_ds_free(q);
        return err;
    }
    err = find(d, d->pc_find, UID_STUDY_ROOT_FIND, q, matches, ei);
    pacs_ds_free(q);
    return err;
}

pacs_err bench_dimse_find_worklist(bench_dimse *d, const pacs_ds *q, unsigned *matches,
                                   pacs_errinfo *ei)
{
    if (!d->pc_worklist) {
        return pacs_errf(ei, PACS_EUNSUPPORTED, "the server did not accept Modality Worklist");
    }
    return find(d, d->pc_worklist, UID_WORKLIST_FIND, q, matches, ei);
}
