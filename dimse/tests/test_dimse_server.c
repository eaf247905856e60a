// SPDX-License-Identifier: MIT
/*
 * Unit tests for the DIMSE server (dimse/server.c, negotiate.c, dispatch.c): real
 * associations requested through pacs/dicom/assoc.h and msg.h (DCMTK) from a server on a loopback
 * port the system picks, over a real archive in a temporary folder. Checked: the decision on each
 * proposed presentation context; each request reaching its service through the dispatcher's
 * table (C-ECHO, C-STORE, C-FIND, C-MOVE, N-ACTION), C-CANCEL answered by nothing, a command
 * no service takes answered "unrecognized"; the table's second lock (a C-STORE on a context an
 * AE may only use for C-GET); associations refused for their AE titles or beyond
 * dimse.max_associations; an idle association aborted; a stop that ends a live association.
 *
 * Threads: the servers run their own; the test thread is the requester.
 */
#define _XOPEN_SOURCE 700 /* nftw, mkdtemp */
#include <ftw.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "dimse/aetable.h"
#include "dimse/dimse.h"
#include "pacs/base/log.h"
#include "pacs/dicom/dcm.h"
#include "pacs/dicom/msg.h"
#include "pacs/dicom/net.h"
#include "pacs/dicom/send.h"
#include "storage/archive.h"

#define CT_SMALL "/usr/lib/python3/dist-packages/pydicom/data/test_files/CT_small.dcm"
#define UID_VERIFICATION "1.2.840.10008.1.1"
#define UID_CT_STORAGE "1.2.840.10008.5.1.4.1.1.2"
#define UID_MR_STORAGE "1.2.840.10008.5.1.4.1.1.4"
#define UID_STUDY_FIND "1.2.840.10008.5.1.4.1.2.2.1"
#define UID_STUDY_MOVE "1.2.840.10008.5.1.4.1.2.2.2"
#define UID_COMMIT "1.2.840.10008.1.20.1"
#define UID_COMMIT_INSTANCE "1.2.840.10008.1.20.1.1"
#define TAG_STUDY_UID 0x0020000Du

/* One server with its configuration, archive and AE table. */
typedef struct fixture {
    char dir[256];
    pacs_config *cfg;
    pacs_archive *archive;
    pacs_aetable *aetable;
    pacs_dimse_server *server;
    int port;
} fixture;

static fixture main_fx;
static pacs_meta ct; /* CT_small's identity */
static char ct_study[PACS_UID_MAX + 1];

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

/* Starts a server whose configuration is the defaults, the NULL-terminated `pairs` and a data
 * folder of its own. The known AEs: FULL (every service), GETTER (C-GET only). */
static int start(fixture *fx, const char *const *pairs)
{
    memset(fx, 0, sizeof *fx);
    snprintf(fx->dir, sizeof fx->dir, "%s/test_dimse-XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(fx->dir)) {
        return -1;
    }
    pacs_errinfo ei;
    pacs_errinfo_clear(&ei);
    fx->cfg = pacs_config_new();
    static const char *const base[] = {"dimse.bind=127.0.0.1", "dimse.port=0",
                                       "ae.FULL=127.0.0.1:104", "ae.GETTER=127.0.0.1:104 allow=get",
                                       NULL};
    int ok = fx->cfg && pacs_config_set(fx->cfg, "data", fx->dir, &ei) == PACS_OK;
    for (size_t i = 0; ok && base[i]; i++) {
        ok = pacs_config_set_pair(fx->cfg, base[i], &ei) == PACS_OK;
    }
    for (size_t i = 0; ok && pairs && pairs[i]; i++) {
        ok = pacs_config_set_pair(fx->cfg, pairs[i], &ei) == PACS_OK;
    }
    fx->aetable = pacs_aetable_new();
    if (!ok || !fx->aetable || pacs_config_finish(fx->cfg, &ei) != PACS_OK ||
        pacs_aetable_load(fx->aetable, fx->cfg, &ei) != PACS_OK ||
        pacs_archive_open(fx->cfg, &fx->archive, &ei) != PACS_OK ||
        pacs_dimse_start(fx->cfg, fx->archive, &fx->server, &fx->port, &ei) != PACS_OK) {
        fprintf(stderr, "test_dimse_server: %s\n", ei.msg);
        return -1;
    }
    pacs_dimse_set_aetable(fx->server, fx->aetable);
    return 0;
}

static void stop(fixture *fx)
{
    pacs_dimse_stop(fx->server, 5);
    pacs_archive_close(fx->archive);
    pacs_aetable_free(fx->aetable);
    pacs_config_free(fx->cfg);
    nftw(fx->dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

static int setup(void **state)
{
    (void)state;
    pacs_log_set_level(PACS_LOG_ERROR);
    pacs_errinfo ei;
    uint64_t at = 0;
    if (pacs_dcm_init(&ei) != PACS_OK || pacs_dcm_probe_file(CT_SMALL, &ct, &at, &ei) != PACS_OK) {
        fprintf(stderr, "test_dimse_server: %s\n", ei.msg);
        return -1;
    }
    pacs_ds *ds = NULL;
    char *study = NULL;
    if (pacs_ds_load_file(CT_SMALL, &ds, &ei) != PACS_OK ||
        pacs_ds_get_string(ds, TAG_STUDY_UID, &study, &ei) != PACS_OK) {
        pacs_ds_free(ds);
        return -1;
    }
    snprintf(ct_study, sizeof ct_study, "%s", study);
    free(study);
    pacs_ds_free(ds);
    static const char *const controlled[] = {"dimse.access_control=true", NULL};
    return start(&main_fx, controlled);
}

static int teardown(void **state)
{
    (void)state;
    stop(&main_fx);
    return 0;
}

/* ---- the requester's side ---- */

static void pc(pacs_pc *p, uint8_t id, const char *as, const char *ts1, const char *ts2,
               pacs_role role)
{
    memset(p, 0, sizeof *p);
    p->id = id;
    snprintf(p->abstract_syntax, sizeof p->abstract_syntax, "%s", as);
    snprintf(p->ts[p->n_ts++], sizeof p->ts[0], "%s", ts1);
    if (ts2) {
        snprintf(p->ts[p->n_ts++], sizeof p->ts[0], "%s", ts2);
    }
    p->role = role;
}

static pacs_err open_as(const fixture *fx, const char *calling, const char *called, pacs_pc *pcs,
                        size_t n, pacs_assoc **out)
{
    pacs_errinfo ei;
    return pacs_assoc_request(calling, called, "127.0.0.1", fx->port, 30, 65536, pcs, n, out, &ei);
}

static void release(pacs_assoc *a)
{
    pacs_errinfo ei;
    assert_int_equal(pacs_assoc_release(a, &ei), PACS_OK);
    pacs_assoc_free(a);
}

static pacs_dimse_msg request(pacs_dimse_type type, uint8_t pc_id, uint16_t id, const char *cls)
{
    pacs_dimse_msg m;
    memset(&m, 0, sizeof m);
    m.type = type;
    m.pc_id = pc_id;
    m.msg_id = id;
    snprintf(m.sop_class, sizeof m.sop_class, "%s", cls);
    return m;
}

/* The next response (its dataset, if any, received and dropped). */
static pacs_dimse_msg answer(pacs_assoc *a)
{
    pacs_dimse_msg r;
    pacs_errinfo ei;
    pacs_errinfo_clear(&ei);
    pacs_err err = pacs_msg_recv(a, 30, &r, &ei);
    if (err != PACS_OK) {
        fail_msg("no answer: %s", ei.msg);
    }
    if (r.has_dataset) {
        pacs_ds *ds = NULL;
        assert_int_equal(pacs_msg_recv_dataset(a, 30, &ds, &ei), PACS_OK);
        pacs_ds_free(ds);
    }
    return r;
}

static pacs_ds *study_key(void)
{
    pacs_errinfo ei;
    pacs_ds *q = pacs_ds_new();
    assert_non_null(q);
    assert_int_equal(pacs_ds_put_string(q, 0x00080052, "STUDY", &ei), PACS_OK);
    assert_int_equal(pacs_ds_put_string(q, TAG_STUDY_UID, ct_study, &ei), PACS_OK);
    return q;
}

static void store_ct(pacs_assoc *a, uint8_t pc_id, uint16_t id, uint16_t want_status)
{
    pacs_errinfo ei;
    pacs_dimse_msg m = request(PACS_C_STORE_RQ, pc_id, id, ct.sop_class_uid);
    snprintf(m.sop_instance, sizeof m.sop_instance, "%s", ct.sop_instance_uid);
    m.has_dataset = 1;
    int fd = open(CT_SMALL, O_RDONLY | O_CLOEXEC);
    assert_true(fd >= 0);
    assert_int_equal(pacs_send_part10(a, &m, fd, &ei), PACS_OK);
    close(fd);
    pacs_dimse_msg r = answer(a);
    assert_int_equal(r.type, PACS_C_STORE_RSP);
    assert_int_equal(r.msg_id, id);
    assert_int_equal(r.status, want_status);
}

/* ---- the tests ---- */

static void test_presentation_contexts(void **state)
{
    (void)state;
    pacs_pc pcs[6];
    pc(&pcs[0], 1, UID_VERIFICATION, PACS_TS_IMPLICIT_LE, PACS_TS_EXPLICIT_LE, PACS_ROLE_DEFAULT);
    pc(&pcs[1], 3, UID_CT_STORAGE, PACS_TS_EXPLICIT_LE, NULL, PACS_ROLE_DEFAULT);
    pc(&pcs[2], 5, UID_STUDY_FIND, PACS_TS_IMPLICIT_LE, NULL, PACS_ROLE_DEFAULT);
    pc(&pcs[3], 7, "1.2.3.4.5.6", PACS_TS_IMPLICIT_LE, NULL, PACS_ROLE_DEFAULT);
    pc(&pcs[4], 9, UID_STUDY_MOVE, "1.2.3.999", NULL, PACS_ROLE_DEFAULT);
    pc(&pcs[5], 11, UID_COMMIT, PACS_TS_EXPLICIT_LE, NULL, PACS_ROLE_DEFAULT);
    pacs_assoc *a = NULL;
    assert_int_equal(open_as(&main_fx, "FULL", "PACS", pcs, 6, &a), PACS_OK);
    /* Commands: explicit little endian preferred, implicit when it is all there is. */
    assert_true(pcs[0].accepted);
    assert_string_equal(pcs[0].accepted_ts, PACS_TS_EXPLICIT_LE);
    assert_true(pcs[1].accepted);
    assert_string_equal(pcs[1].accepted_ts, PACS_TS_EXPLICIT_LE);
    assert_true(pcs[2].accepted);
    assert_string_equal(pcs[2].accepted_ts, PACS_TS_IMPLICIT_LE);
    assert_false(pcs[3].accepted); /* not a class we serve */
    assert_false(pcs[4].accepted); /* no transfer syntax we speak */
    assert_true(pcs[5].accepted);
    release(a);
}

static void test_each_request_reaches_its_service(void **state)
{
    (void)state;
    pacs_pc pcs[5];
    pc(&pcs[0], 1, UID_VERIFICATION, PACS_TS_EXPLICIT_LE, NULL, PACS_ROLE_DEFAULT);
    pc(&pcs[1], 3, UID_CT_STORAGE, PACS_TS_EXPLICIT_LE, PACS_TS_IMPLICIT_LE, PACS_ROLE_DEFAULT);
    pc(&pcs[2], 5, UID_STUDY_FIND, PACS_TS_EXPLICIT_LE, NULL, PACS_ROLE_DEFAULT);
    pc(&pcs[3], 7, UID_STUDY_MOVE, PACS_TS_EXPLICIT_LE, NULL, PACS_ROLE_DEFAULT);
    pc(&pcs[4], 9, UID_COMMIT, PACS_TS_EXPLICIT_LE, NULL, PACS_ROLE_DEFAULT);
    pacs_assoc *a = NULL;
    pacs_errinfo ei;
    assert_int_equal(open_as(&main_fx, "FULL", "PACS", pcs, 5, &a), PACS_OK);
    for (size_t i = 0; i < 5; i++) {
        assert_true(pcs[i].accepted);
    }
    /* C-ECHO */
    pacs_dimse_msg m = request(PACS_C_ECHO_RQ, 1, 1, UID_VERIFICATION);
    assert_int_equal(pacs_msg_send(a, &m, NULL, &ei), PACS_OK);
    pacs_dimse_msg r = answer(a);
    assert_int_equal(r.type, PACS_C_ECHO_RSP);
    assert_int_equal(r.msg_id, 1);
    assert_int_equal(r.status, 0x0000);
    /* C-STORE: stored, and then found by C-FIND. */
    store_ct(a, 3, 2, 0x0000);
    m = request(PACS_C_FIND_RQ, 5, 3, UID_STUDY_FIND);
    m.has_dataset = 1;
    pacs_ds *q = study_key();
    assert_int_equal(pacs_msg_send(a, &m, q, &ei), PACS_OK);
    r = answer(a);
    assert_int_equal(r.type, PACS_C_FIND_RSP);
    assert_int_equal(r.status, 0xFF00); /* the study */
    r = answer(a);
    assert_int_equal(r.status, 0x0000);
    /* C-MOVE to an AE nobody knows: the move service's own refusal. */
    m = request(PACS_C_MOVE_RQ, 7, 4, UID_STUDY_MOVE);
    m.has_dataset = 1;
    snprintf(m.move_destination, sizeof m.move_destination, "NOWHERE");
    assert_int_equal(pacs_msg_send(a, &m, q, &ei), PACS_OK);
    pacs_ds_free(q);
    r = answer(a);
    assert_int_equal(r.type, PACS_C_MOVE_RSP);
    assert_int_equal(r.status, 0xA801);
    /* N-ACTION with an action type Storage Commitment does not have: its own refusal. */
    m = request(PACS_N_ACTION_RQ, 9, 5, UID_COMMIT);
    snprintf(m.sop_instance, sizeof m.sop_instance, "%s", UID_COMMIT_INSTANCE);
    m.action_type = 99;
    assert_int_equal(pacs_msg_send(a, &m, NULL, &ei), PACS_OK);
    r = answer(a);
    assert_int_equal(r.type, PACS_N_ACTION_RSP);
    assert_int_equal(r.status, 0x0123);
    /* C-CANCEL of nothing running gets no answer: the next answer is the next C-ECHO's. */
    m = request(PACS_C_CANCEL_RQ, 7, 42, UID_STUDY_MOVE);
    assert_int_equal(pacs_msg_send(a, &m, NULL, &ei), PACS_OK);
    m = request(PACS_C_ECHO_RQ, 1, 6, UID_VERIFICATION);
    assert_int_equal(pacs_msg_send(a, &m, NULL, &ei), PACS_OK);
    r = answer(a);
    assert_int_equal(r.type, PACS_C_ECHO_RSP);
    assert_int_equal(r.msg_id, 6);
    /* A command no service takes: "unrecognized operation", and the association goes on. */
    m = request(PACS_N_EVENT_REPORT_RQ, 1, 7, UID_VERIFICATION);
    snprintf(m.sop_instance, sizeof m.sop_instance, "1.2.3.4");
    m.event_type = 1;
    assert_int_equal(pacs_msg_send(a, &m, NULL, &ei), PACS_OK);
    r = answer(a);
    assert_int_equal(r.type, PACS_N_EVENT_REPORT_RSP);
    assert_int_equal(r.status, 0x0211);
    m = request(PACS_C_ECHO_RQ, 1, 8, UID_VERIFICATION);
    assert_int_equal(pacs_msg_send(a, &m, NULL, &ei), PACS_OK);
    assert_int_equal(answer(a).status, 0x0000);
    release(a);
}

/* GETTER may use C-GET only. Its storage context in the SCP role (how C-GET receives) is
 * accepted; a C-STORE sent on it must still be refused by the dispatcher's table. */
static void test_the_table_refuses_a_service_the_ae_may_not_use(void **state)
{
    (void)state;
    pacs_pc pcs[4];
    pc(&pcs[0], 1, UID_VERIFICATION, PACS_TS_EXPLICIT_LE, NULL, PACS_ROLE_DEFAULT);
    pc(&pcs[1], 3, UID_CT_STORAGE, PACS_TS_EXPLICIT_LE, PACS_TS_IMPLICIT_LE, PACS_ROLE_SCP);
    pc(&pcs[2], 5, UID_STUDY_FIND, PACS_TS_EXPLICIT_LE, NULL, PACS_ROLE_DEFAULT);
    /* Role selection is per SOP class, so C-STORE's way is proposed for another class. */
    pc(&pcs[3], 7, UID_MR_STORAGE, PACS_TS_EXPLICIT_LE, NULL, PACS_ROLE_DEFAULT);
    pacs_assoc *a = NULL;
    assert_int_equal(open_as(&main_fx, "GETTER", "PACS", pcs, 4, &a), PACS_OK);
    assert_true(pcs[0].accepted);  /* C-ECHO is always allowed */
    assert_true(pcs[1].accepted);  /* C-GET's way of receiving */
    assert_false(pcs[2].accepted); /* C-FIND: not allowed */
    assert_false(pcs[3].accepted); /* C-STORE's way of sending: not allowed */
    store_ct(a, 3, 1, 0x0124);     /* refused, its dataset drained */
    pacs_errinfo ei;
    pacs_dimse_msg m = request(PACS_C_ECHO_RQ, 1, 2, UID_VERIFICATION);
    assert_int_equal(pacs_msg_send(a, &m, NULL, &ei), PACS_OK);
    assert_int_equal(answer(a).status, 0x0000);
    release(a);
}

static void test_associations_refused_for_their_ae_titles(void **state)
{
    (void)state;
    pacs_pc p;
    pc(&p, 1, UID_VERIFICATION, PACS_TS_IMPLICIT_LE, NULL, PACS_ROLE_DEFAULT);
    pacs_assoc *a = NULL;
    /* Access control: only known AEs, and only to our title. */
    assert_int_equal(open_as(&main_fx, "STRANGER", "PACS", &p, 1, &a), PACS_EDENIED);
    assert_int_equal(open_as(&main_fx, "FULL", "NOT-PACS", &p, 1, &a), PACS_EDENIED);
    assert_int_equal(open_as(&main_fx, "FULL", "PACS", &p, 1, &a), PACS_OK);
    release(a);
    /* Without it, any calling AE. */
    fixture fx;
    assert_int_equal(start(&fx, NULL), 0);
    assert_int_equal(open_as(&fx, "STRANGER", "PACS", &p, 1, &a), PACS_OK);
    release(a);
    stop(&fx);
}

static void test_beyond_max_associations(void **state)
{
    (void)state;
    fixture fx;
    static const char *const two[] = {"dimse.max_associations=2", NULL};
    assert_int_equal(start(&fx, two), 0);
    pacs_pc p[3];
    pacs_assoc *a[3] = {NULL, NULL, NULL};
    for (int i = 0; i < 3; i++) {
        pc(&p[i], 1, UID_VERIFICATION, PACS_TS_IMPLICIT_LE, NULL, PACS_ROLE_DEFAULT);
    }
    assert_int_equal(open_as(&fx, "FULL", "PACS", &p[0], 1, &a[0]), PACS_OK);
    assert_int_equal(open_as(&fx, "FULL", "PACS", &p[1], 1, &a[1]), PACS_OK);
    assert_int_equal(open_as(&fx, "FULL", "PACS", &p[2], 1, &a[2]), PACS_EDENIED);
    release(a[0]);
    release(a[1]);
    stop(&fx);
}

static void test_idle_association_is_aborted(void **state)
{
    (void)state;
    fixture fx;
    static const char *const quick[] = {"dimse.timeout=1", NULL};
    assert_int_equal(start(&fx, quick), 0);
    pacs_pc p;
    pc(&p, 1, UID_VERIFICATION, PACS_TS_IMPLICIT_LE, NULL, PACS_ROLE_DEFAULT);
    pacs_assoc *a = NULL;
    assert_int_equal(open_as(&fx, "FULL", "PACS", &p, 1, &a), PACS_OK);
    pacs_dimse_msg r;
    pacs_errinfo ei;
    /* Silent for longer than dimse.timeout: the server aborts (this wait is only a bound). */
    assert_int_equal(pacs_msg_recv(a, 30, &r, &ei), PACS_ECLOSED);
    pacs_assoc_free(a);
    stop(&fx);
}

static void test_stop_ends_a_live_association(void **state)
{
    (void)state;
    fixture fx;
    assert_int_equal(start(&fx, NULL), 0);
    pacs_pc p;
    pc(&p, 1, UID_VERIFICATION, PACS_TS_IMPLICIT_LE, NULL, PACS_ROLE_DEFAULT);
    pacs_assoc *a = NULL;
    assert_int_equal(open_as(&fx, "FULL", "PACS", &p, 1, &a), PACS_OK);
    int port = fx.port;
    stop(&fx); /* returns: the association is aborted between messages */
    pacs_dimse_msg r;
    pacs_errinfo ei;
    assert_int_equal(pacs_msg_recv(a, 30, &r, &ei), PACS_ECLOSED);
    pacs_assoc_free(a);
    /* The port is closed. */
    fx.port = port;
    assert_int_not_equal(open_as(&fx, "FULL", "PACS", &p, 1, &a), PACS_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_presentation_contexts),
        cmocka_unit_test(test_each_request_reaches_its_service),
        cmocka_unit_test(test_the_table_refuses_a_service_the_ae_may_not_use),
        cmocka_unit_test(test_associations_refused_for_their_ae_titles),
        cmocka_unit_test(test_beyond_max_associations),
        cmocka_unit_test(test_idle_association_is_aborted),
        cmocka_unit_test(test_stop_ends_a_live_association),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
