// SPDX-License-Identifier: MIT
/*
 * Unit tests of the DICOM network layer (net.cc, assoc.cc, msg.cc, send.cc) over a real loopback
 * association between two threads of this process: the port listens on an ephemeral port, the
 * requestor's contexts are accepted or refused and both sides see the same outcome, a C-ECHO
 * goes both ways, a C-STORE sent from a stored Part 10 file arrives as exactly that file's
 * dataset bytes, a file in another syntax than the context's is refused before anything is sent
 * (the association stays usable), and a release ends the acceptor's loop.
 */
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "pacs/base/log.h"
#include "pacs/dicom/dcm.h"
#include "pacs/dicom/msg.h"
#include "pacs/dicom/net.h"
#include "pacs/dicom/send.h"

#define VERIFICATION "1.2.840.10008.1.1"
#define CT_STORAGE "1.2.840.10008.5.1.4.1.1.2"
#define EXPLICIT "1.2.840.10008.1.2.1"
#define JLS "1.2.840.10008.1.2.4.80"

/* What the acceptor thread saw. */
typedef struct acceptor {
    pacs_net *net;
    pacs_err err;
    char calling[PACS_AET_MAX + 1], called[PACS_AET_MAX + 1];
    size_t proposed;
    unsigned echoes, stores;
    uint8_t *received; /* the last C-STORE dataset's bytes */
    size_t received_len;
    int released;
} acceptor;

static pacs_err sink(void *ctx, const void *buf, size_t len, pacs_errinfo *ei)
{
    acceptor *ac = ctx;
    uint8_t *g = realloc(ac->received, ac->received_len + len);
    if (!g) {
        return pacs_errf(ei, PACS_ENOMEM, "out of memory");
    }
    memcpy(g + ac->received_len, buf, len);
    ac->received = g;
    ac->received_len += len;
    return PACS_OK;
}

static pacs_err answer(pacs_assoc *a, const pacs_dimse_msg *rq, pacs_dimse_type type,
                       pacs_errinfo *ei)
{
    pacs_dimse_msg rsp;
    memset(&rsp, 0, sizeof rsp);
    rsp.type = type;
    rsp.pc_id = rq->pc_id;
    rsp.msg_id = rq->msg_id;
    memcpy(rsp.sop_class, rq->sop_class, sizeof rsp.sop_class);
    memcpy(rsp.sop_instance, rq->sop_instance, sizeof rsp.sop_instance);
    return pacs_msg_send(a, &rsp, NULL, ei);
}

static void *accept_one(void *arg)
{
    acceptor *ac = arg;
    pacs_errinfo ei;
    pacs_assoc *a = NULL;
    pacs_err err = PACS_ETIMEOUT;
    for (int i = 0; i < 200 && err == PACS_ETIMEOUT; i++) {
        err = pacs_net_accept(ac->net, 100, 65536, &a, &ei);
    }
    if (err != PACS_OK) {
        ac->err = err;
        return NULL;
    }
    pacs_assoc_info info;
    pacs_assoc_get_info(a, &info);
    snprintf(ac->calling, sizeof ac->calling, "%s", info.calling_aet);
    snprintf(ac->called, sizeof ac->called, "%s", info.called_aet);
    ac->proposed = pacs_assoc_pc_count(a);
    for (size_t i = 0; i < ac->proposed; i++) {
        pacs_pc pc;
        pacs_assoc_pc_at(a, i, &pc);
        if (strcmp(pc.ts[0], JLS) == 0) {
            pacs_assoc_pc_reject(a, pc.id, PACS_PC_REJECT_TRANSFER_SYNTAXES, &ei);
        } else {
            pacs_assoc_pc_accept(a, pc.id, pc.ts[0], PACS_ROLE_DEFAULT, &ei);
        }
    }
    err = pacs_assoc_acknowledge(a, &ei);
    while (err == PACS_OK) {
        pacs_dimse_msg m;
        err = pacs_msg_recv(a, 10, &m, &ei);
        if (err == PACS_ECLOSED) {
            ac->released = 1;
            err = PACS_OK;
            break;
        }
        if (err == PACS_OK && m.type == PACS_C_ECHO_RQ) {
            ac->echoes++;
            err = answer(a, &m, PACS_C_ECHO_RSP, &ei);
        } else if (err == PACS_OK && m.type == PACS_C_STORE_RQ) {
            free(ac->received);
            ac->received = NULL;
            ac->received_len = 0;
            err = pacs_msg_recv_dataset_raw(a, 10, sink, ac, &ei);
            ac->stores++;
            if (err == PACS_OK) {
                err = answer(a, &m, PACS_C_STORE_RSP, &ei);
            }
        } else if (err == PACS_OK) {
            err = PACS_EINVAL;
        }
    }
    ac->err = err;
    pacs_assoc_free(a);
    return NULL;
}

static const char *sample(const char *name, char *buf, size_t cap)
{
    const char *base = getenv("SAMPLES");
    snprintf(buf, cap, "%s/test_files/%s.dcm",
             base && *base ? base : "/usr/lib/python3/dist-packages/pydicom/data", name);
    return buf;
}

/* The dataset bytes of a Part 10 file (after its meta header). */
static uint8_t *dataset_of(const char *path, size_t *len)
{
    int fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    off_t size = lseek(fd, 0, SEEK_END);
    uint8_t *all = malloc((size_t)size);
    assert_int_equal(pread(fd, all, (size_t)size, 0), size);
    close(fd);
    pacs_meta m;
    size_t start = 0;
    assert_int_equal(pacs_meta_read(all, (size_t)size, &m, &start, NULL), PACS_OK);
    *len = (size_t)size - start;
    memmove(all, all + start, *len);
    return all;
}

static void echo(pacs_assoc *a, uint8_t pc, uint16_t id)
{
    pacs_dimse_msg rq, rsp;
    pacs_errinfo ei;
    memset(&rq, 0, sizeof rq);
    rq.type = PACS_C_ECHO_RQ;
    rq.pc_id = pc;
    rq.msg_id = id;
    snprintf(rq.sop_class, sizeof rq.sop_class, "%s", VERIFICATION);
    assert_int_equal(pacs_msg_send(a, &rq, NULL, &ei), PACS_OK);
    assert_int_equal(pacs_msg_recv(a, 10, &rsp, &ei), PACS_OK);
    assert_int_equal(rsp.type, PACS_C_ECHO_RSP);
    assert_int_equal(rsp.msg_id, id);
    assert_int_equal(rsp.status, 0);
}

static void test_association(void **state)
{
    (void)state;
    pacs_errinfo ei;
    acceptor ac;
    memset(&ac, 0, sizeof ac);
    int port = 0;
    assert_int_equal(pacs_net_listen("127.0.0.1", 0, 10, &ac.net, &port, &ei), PACS_OK);
    assert_true(port > 0);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, accept_one, &ac), 0);

    pacs_pc pcs[3];
    memset(pcs, 0, sizeof pcs);
    const char *what[3][2] = {{VERIFICATION, EXPLICIT}, {CT_STORAGE, EXPLICIT}, {CT_STORAGE, JLS}};
    for (int i = 0; i < 3; i++) {
        pcs[i].id = (uint8_t)(2 * i + 1);
        snprintf(pcs[i].abstract_syntax, sizeof pcs[i].abstract_syntax, "%s", what[i][0]);
        snprintf(pcs[i].ts[0], sizeof pcs[i].ts[0], "%s", what[i][1]);
        pcs[i].n_ts = 1;
    }
    pacs_assoc *a = NULL;
    assert_int_equal(
        pacs_assoc_request("TESTSCU", "PACS", "127.0.0.1", port, 10, 65536, pcs, 3, &a, &ei),
        PACS_OK);
    assert_true(pcs[0].accepted && pcs[1].accepted);
    assert_false(pcs[2].accepted);
    assert_string_equal(pcs[1].accepted_ts, EXPLICIT);
    assert_int_equal(pacs_assoc_find_pc(a, CT_STORAGE, EXPLICIT), 3);
    /* DCMTK falls back to any accepted context of the class when none is in that syntax. */
    assert_int_equal(pacs_assoc_find_pc(a, CT_STORAGE, JLS), 3);
    assert_int_equal(pacs_assoc_find_pc(a, "1.2.840.10008.5.1.4.1.1.4", NULL), 0);

    echo(a, 1, 1);

    /* A stored object in the context's syntax: its dataset bytes arrive as they are. */
    char path[512];
    int fd = open(sample("CT_small", path, sizeof path), O_RDONLY);
    assert_true(fd >= 0);
    pacs_dimse_msg rq, rsp;
    memset(&rq, 0, sizeof rq);
    rq.type = PACS_C_STORE_RQ;
    rq.pc_id = 3;
    rq.msg_id = 2;
    rq.has_dataset = 1;
    snprintf(rq.sop_class, sizeof rq.sop_class, "%s", CT_STORAGE);
    snprintf(rq.sop_instance, sizeof rq.sop_instance, "1.2.3.4");
    assert_int_equal(pacs_send_part10(a, &rq, fd, &ei), PACS_OK);
    close(fd);
    assert_int_equal(pacs_msg_recv(a, 10, &rsp, &ei), PACS_OK);
    assert_int_equal(rsp.type, PACS_C_STORE_RSP);
    assert_int_equal(rsp.status, 0);
    size_t len = 0;
    uint8_t *want = dataset_of(path, &len);
    assert_int_equal(ac.received_len, len);
    assert_memory_equal(ac.received, want, len);
    free(want);

    /* Another syntax than the context's: refused before anything goes out. */
    fd = open(sample("rtplan", path, sizeof path), O_RDONLY); /* Implicit VR Little Endian */
    rq.msg_id = 3;
    assert_int_equal(pacs_send_part10(a, &rq, fd, &ei), PACS_EUNSUPPORTED);
    close(fd);
    /* Not a Part 10 stream at all. */
    fd = open("/dev/null", O_RDONLY);
    assert_int_equal(pacs_send_part10(a, &rq, fd, &ei), PACS_ECORRUPT);
    close(fd);
    assert_false(pacs_msg_cancel_requested(a, 3));
    echo(a, 1, 4); /* the association is still usable */

    assert_int_equal(pacs_assoc_release(a, &ei), PACS_OK);
    pacs_assoc_free(a);
    pthread_join(t, NULL);
    assert_int_equal(ac.err, PACS_OK);
    assert_string_equal(ac.calling, "TESTSCU");
    assert_string_equal(ac.called, "PACS");
    assert_int_equal(ac.proposed, 3);
    assert_int_equal(ac.echoes, 2);
    assert_int_equal(ac.stores, 1);
    assert_true(ac.released);
    free(ac.received);
    pacs_net_close(ac.net);
}

static void test_bad_listen(void **state)
{
    (void)state;
    pacs_errinfo ei;
    pacs_net *n = NULL;
    int port = 0;
    assert_int_equal(pacs_net_listen("not-an-address", 0, 10, &n, &port, &ei), PACS_EINVAL);
    assert_null(n);
    pacs_assoc *a = NULL;
    pacs_pc pc;
    memset(&pc, 0, sizeof pc);
    pc.id = 1;
    snprintf(pc.abstract_syntax, sizeof pc.abstract_syntax, "%s", VERIFICATION);
    snprintf(pc.ts[0], sizeof pc.ts[0], "%s", EXPLICIT);
    pc.n_ts = 1;
    /* Nobody listens on port 1 of the loopback. */
    assert_int_equal(
        pacs_assoc_request("TESTSCU", "PACS", "127.0.0.1", 1, 5, 65536, &pc, 1, &a, &ei),
        PACS_ENET);
    assert_null(a);
}

static int setup(void **state)
{
    (void)state;
    pacs_errinfo ei;
    pacs_log_set_level(PACS_LOG_ERROR);
    return pacs_dcm_init(&ei) == PACS_OK ? 0 : -1;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_association),
        cmocka_unit_test(test_bad_listen),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
