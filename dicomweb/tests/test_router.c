// SPDX-License-Identifier: MIT
/*
 * Unit tests for the DICOMweb router (dicomweb/router.c). First its route table alone: which
 * handler each method on each resource gets, and the Allow header of the ones it does not.
 * Then the router in place, behind the real server (pacs_dicomweb_start on a loopback port the
 * system picks, over a real archive in a temporary folder holding one of pydicom's CT files)
 * and a real client (libcurl): the prefix, 404 and 400 for bad paths and queries, 405 with
 * Allow, CORS preflights, WADO-URI at the root, the viewer's paths, the base URL from the Host
 * header or the bound address, and a request reaching each handler the table names.
 *
 * Threads: the server's pool runs the router; the test thread is the client.
 */
#define _XOPEN_SOURCE 700 /* nftw, mkdtemp */
#include <ftw.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "dicomweb/bulkdata.h"
#include "dicomweb/delete.h"
#include "dicomweb/dicomweb.h"
#include "dicomweb/frames.h"
#include "dicomweb/metadata.h"
#include "dicomweb/ops.h"
#include "dicomweb/qido.h"
#include "dicomweb/rendered.h"
#include "dicomweb/router.h"
#include "dicomweb/stow.h"
#include "http/tests/http_client.h"
#include "dicomweb/wado.h"
#include "dicomweb/wado_uri.h"
#include "pacs/base/log.h"
#include "pacs/dicom/dcm.h"

#define CT_SMALL "/usr/lib/python3/dist-packages/pydicom/data/test_files/CT_small.dcm"

/* ---- the table ---- */

typedef struct lookup_case {
    int kind;
    int level; /* 0: none, 1: a study, 2: a series, 3: an instance */
    pacs_http_method method;
    pacs_router_handler want; /* NULL: 405 */
    const char *allow;
} lookup_case;

#define ALL_READ "GET, HEAD, OPTIONS"
#define COLLECTION "GET, HEAD, POST, OPTIONS"
#define RESOURCE "GET, HEAD, DELETE, OPTIONS"

static const lookup_case table[] = {
    {PACS_ROUTE_STUDIES, 0, PACS_HTTP_GET, pacs_qido_search, COLLECTION},
    {PACS_ROUTE_STUDIES, 0, PACS_HTTP_POST, pacs_stow_store, COLLECTION},
    {PACS_ROUTE_STUDIES, 0, PACS_HTTP_DELETE, NULL, COLLECTION},
    {PACS_ROUTE_STUDIES, 0, PACS_HTTP_OTHER, NULL, COLLECTION},
    {PACS_ROUTE_SERIES, 0, PACS_HTTP_GET, pacs_qido_search, ALL_READ},
    {PACS_ROUTE_SERIES, 1, PACS_HTTP_GET, pacs_qido_search, ALL_READ},
    {PACS_ROUTE_SERIES, 1, PACS_HTTP_POST, NULL, ALL_READ},
    {PACS_ROUTE_INSTANCES, 0, PACS_HTTP_GET, pacs_qido_search, ALL_READ},
    {PACS_ROUTE_INSTANCES, 2, PACS_HTTP_GET, pacs_qido_search, ALL_READ},
    {PACS_ROUTE_INSTANCES, 2, PACS_HTTP_DELETE, NULL, ALL_READ},
    {PACS_ROUTE_RESOURCE, 1, PACS_HTTP_GET, pacs_wado_retrieve, RESOURCE},
    {PACS_ROUTE_RESOURCE, 2, PACS_HTTP_GET, pacs_wado_retrieve, RESOURCE},
    {PACS_ROUTE_RESOURCE, 3, PACS_HTTP_GET, pacs_wado_retrieve, RESOURCE},
    {PACS_ROUTE_RESOURCE, 1, PACS_HTTP_POST, pacs_stow_store, RESOURCE},
    {PACS_ROUTE_RESOURCE, 2, PACS_HTTP_POST, NULL, RESOURCE},
    {PACS_ROUTE_RESOURCE, 3, PACS_HTTP_POST, NULL, RESOURCE},
    {PACS_ROUTE_RESOURCE, 1, PACS_HTTP_DELETE, pacs_delete_resource, RESOURCE},
    {PACS_ROUTE_RESOURCE, 2, PACS_HTTP_DELETE, pacs_delete_resource, RESOURCE},
    {PACS_ROUTE_RESOURCE, 3, PACS_HTTP_DELETE, pacs_delete_resource, RESOURCE},
    {PACS_ROUTE_RESOURCE, 3, PACS_HTTP_OTHER, NULL, RESOURCE},
    {PACS_ROUTE_METADATA, 1, PACS_HTTP_GET, pacs_metadata_retrieve, ALL_READ},
    {PACS_ROUTE_METADATA, 3, PACS_HTTP_GET, pacs_metadata_retrieve, ALL_READ},
    {PACS_ROUTE_METADATA, 2, PACS_HTTP_POST, NULL, ALL_READ},
    {PACS_ROUTE_METADATA, 2, PACS_HTTP_DELETE, NULL, ALL_READ},
    {PACS_ROUTE_FRAMES, 3, PACS_HTTP_GET, pacs_frames_retrieve, ALL_READ},
    {PACS_ROUTE_FRAMES, 3, PACS_HTTP_DELETE, NULL, ALL_READ},
    {PACS_ROUTE_BULKDATA, 3, PACS_HTTP_GET, pacs_bulkdata_retrieve, ALL_READ},
    {PACS_ROUTE_BULKDATA, 3, PACS_HTTP_POST, NULL, ALL_READ},
    {PACS_ROUTE_RENDERED, 1, PACS_HTTP_GET, pacs_rendered_resource, ALL_READ},
    {PACS_ROUTE_RENDERED, 3, PACS_HTTP_GET, pacs_rendered_resource, ALL_READ},
    {PACS_ROUTE_RENDERED, 3, PACS_HTTP_POST, NULL, ALL_READ},
    {PACS_ROUTE_WADO_URI, 0, PACS_HTTP_GET, pacs_wado_uri_retrieve, ALL_READ},
    {PACS_ROUTE_WADO_URI, 0, PACS_HTTP_POST, NULL, ALL_READ},
    {PACS_ROUTE_METRICS, 0, PACS_HTTP_GET, pacs_ops_metrics, ALL_READ},
    {PACS_ROUTE_METRICS, 0, PACS_HTTP_POST, NULL, ALL_READ},
    {PACS_ROUTE_HEALTHZ, 0, PACS_HTTP_GET, pacs_ops_healthz, ALL_READ},
    {PACS_ROUTE_READYZ, 0, PACS_HTTP_GET, pacs_ops_readyz, ALL_READ},
    {PACS_ROUTE_READYZ, 0, PACS_HTTP_DELETE, NULL, ALL_READ},
    {PACS_ROUTE_NONE, 0, PACS_HTTP_GET, NULL, "OPTIONS"},
};

static void test_route_table(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++) {
        const lookup_case *tc = &table[i];
        pacs_route rt;
        memset(&rt, 0, sizeof rt);
        rt.kind = tc->kind;
        rt.study = tc->level >= 1 ? "1.2" : NULL;
        rt.series = tc->level >= 2 ? "1.2.3" : NULL;
        rt.sop = tc->level >= 3 ? "1.2.3.4" : NULL;
        char allow[64] = "junk";
        pacs_router_handler got = pacs_router_lookup(&rt, tc->method, allow, sizeof allow);
        if (got != tc->want) {
            fail_msg("case %zu (kind %d, level %d, method %d): wrong handler", i, tc->kind,
                     tc->level, (int)tc->method);
        }
        if (strcmp(allow, tc->allow) != 0) {
            fail_msg("case %zu: Allow '%s', expected '%s'", i, allow, tc->allow);
        }
    }
}

/* ---- the router in place ---- */

static char dir[256];
static pacs_config *cfg;
static pacs_archive *archive;
static pacs_dicomweb_server *server;
static int port;
static pacs_ingest_result stored;
static hc_client *client;

static int remove_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int setup(void **state)
{
    (void)state;
    pacs_log_set_level(PACS_LOG_ERROR);
    snprintf(dir, sizeof dir, "%s/test_router-XXXXXX",
             getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    if (!mkdtemp(dir)) {
        return -1;
    }
    char data[300], viewer[300], index[320];
    snprintf(data, sizeof data, "%s/data", dir);
    snprintf(viewer, sizeof viewer, "%s/viewer", dir);
    snprintf(index, sizeof index, "%s/index.html", viewer);
    if (mkdir(viewer, 0700) != 0) {
        return -1;
    }
    FILE *f = fopen(index, "w");
    if (!f) {
        return -1;
    }
    fputs("<html>test viewer</html>\n", f);
    fclose(f);
    cfg = pacs_config_new();
    pacs_errinfo ei;
    const char *pairs[] = {"http.bind=127.0.0.1", "http.port=0", "http.threads=2",
                           "http.cors_origins=https://viewer.example", NULL};
    int ok = cfg && pacs_config_set(cfg, "data", data, &ei) == PACS_OK &&
             pacs_config_set(cfg, "viewer.root", viewer, &ei) == PACS_OK;
    for (size_t i = 0; ok && pairs[i]; i++) {
        ok = pacs_config_set_pair(cfg, pairs[i], &ei) == PACS_OK;
    }
    if (!ok || pacs_config_finish(cfg, &ei) != PACS_OK || pacs_dcm_init(&ei) != PACS_OK ||
        pacs_archive_open(cfg, &archive, &ei) != PACS_OK ||
        pacs_archive_ingest_file(archive, CT_SMALL, "TEST", &stored, &ei) != PACS_OK ||
        pacs_dicomweb_start(cfg, archive, NULL, &server, &port, &ei) != PACS_OK) {
        fprintf(stderr, "test_router: %s\n", ei.msg);
        return -1;
    }
    client = hc_new(0);
    return client ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    hc_free(client);
    pacs_dicomweb_stop(server);
    pacs_archive_close(archive);
    pacs_config_free(cfg);
    nftw(dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}

/* `method` on `path` (below the server's root) with up to two headers. */
static const hc_response *ask(const char *method, const char *path, const char *h1, const char *h2)
{
    char url[1100];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, path);
    const char *headers[] = {h1, h2, NULL};
    if (!h1) {
        headers[0] = h2;
        headers[1] = NULL;
    }
    return hc_request(client, method, url, headers, NULL, 0);
}

static void expect(const char *method, const char *path, long status)
{
    const hc_response *r = ask(method, path, NULL, NULL);
    if (r->status != status) {
        fail_msg("%s %s: %ld (%s), expected %ld", method, path, r->status, r->body, status);
    }
}

static void test_paths_that_name_nothing(void **state)
{
    (void)state;
    expect("GET", "/elsewhere/studies", 404); /* outside the prefix */
    expect("GET", "/dicomwebstudies", 404);   /* the prefix is a whole segment */
    expect("GET", "/dicomweb", 404);          /* the root, without requestType */
    expect("GET", "/dicomweb/", 404);
    expect("GET", "/dicomweb/patients", 404);
    expect("GET", "/dicomweb/studies/1.2/nothing", 404);
    expect("GET", "/dicomweb/studies/1.02", 400); /* a malformed UID */
    expect("GET", "/dicomweb/studies/1.2%zz", 400);
    expect("GET", "/dicomweb/studies?PatientID=%zz", 400); /* a malformed query */
    const hc_response *r = ask("GET", "/dicomweb/studies/1.02", NULL, NULL);
    assert_non_null(strstr(r->body, "not a valid UID"));
}

static void test_methods_a_resource_does_not_take(void **state)
{
    (void)state;
    char v[64], p[512];
    static const struct {
        const char *method, *path, *allow;
    } cases[] = {
        {"DELETE", "/dicomweb/studies", COLLECTION},
        {"POST", "/dicomweb/series", ALL_READ},
        {"POST", "/dicomweb/studies/1.2/series/1.3", RESOURCE},
        {"POST", "/dicomweb/studies/1.2/metadata", ALL_READ},
        {"DELETE", "/dicomweb/studies/1.2/series/1.3/instances/1.4/frames/1", ALL_READ},
        {"DELETE", "/dicomweb/wado?requestType=WADO", ALL_READ},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const hc_response *r = ask(cases[i].method, cases[i].path, NULL, NULL);
        if (r->status != 405) {
            fail_msg("%s %s: %ld, expected 405", cases[i].method, cases[i].path, r->status);
        }
        assert_string_equal(hc_header(r, "Allow", v, sizeof v), cases[i].allow);
    }
    /* A method the server does not speak: refused before routing when it has no body... */
    const hc_response *r = ask("PATCH", "/dicomweb/studies", NULL, NULL);
    assert_int_equal(r->status, 405);
    assert_string_equal(hc_header(r, "Allow", v, sizeof v), "GET, HEAD, POST, DELETE, OPTIONS");
    /* ...PUT, which it speaks for FHIR, by the table (no DICOMweb resource takes it)... */
    r = ask("PUT", "/dicomweb/studies", NULL, NULL);
    assert_int_equal(r->status, 405);
    assert_string_equal(hc_header(r, "Allow", v, sizeof v), COLLECTION);
    /* ...and by the table when it has a body (it is routed before its body is read). */
    snprintf(p, sizeof p, "http://127.0.0.1:%d/dicomweb/studies", port);
    r = hc_request(client, "PUT", p, NULL, "x", 1);
    assert_int_equal(r->status, 405);
    assert_string_equal(hc_header(r, "Allow", v, sizeof v), COLLECTION);
}

static void test_preflight(void **state)
{
    (void)state;
    char v[128];
    const hc_response *r =
        ask("OPTIONS", "/dicomweb/studies/1.2/series", "Origin: https://viewer.example",
            "Access-Control-Request-Headers: accept, authorization");
    assert_int_equal(r->status, 204);
    assert_string_equal(hc_header(r, "Access-Control-Allow-Origin", v, sizeof v),
                        "https://viewer.example");
    assert_string_equal(hc_header(r, "Access-Control-Allow-Methods", v, sizeof v),
                        "GET, HEAD, POST, DELETE, OPTIONS");
    assert_string_equal(hc_header(r, "Access-Control-Allow-Headers", v, sizeof v),
                        "accept, authorization");
    assert_string_equal(hc_header(r, "Access-Control-Max-Age", v, sizeof v), "600");
    /* Headers asked for that are not plain names are not echoed. */
    r = ask("OPTIONS", "/dicomweb/studies", "Origin: https://viewer.example",
            "Access-Control-Request-Headers: x;y");
    assert_string_equal(hc_header(r, "Access-Control-Allow-Headers", v, sizeof v),
                        "Accept, Content-Type, Authorization");
    /* Any path under the prefix, even one that names nothing; no CORS for other origins. */
    r = ask("OPTIONS", "/dicomweb/nothing", "Origin: https://evil.example", NULL);
    assert_int_equal(r->status, 204);
    assert_string_equal(hc_header(r, "Allow", v, sizeof v), "GET, HEAD, POST, DELETE, OPTIONS");
    assert_null(hc_header(r, "Access-Control-Allow-Methods", v, sizeof v));
}

static void test_each_handler_is_reached(void **state)
{
    (void)state;
    char p[1024], v[128];
    const char *st = stored.study_uid, *se = stored.series_uid, *sop = stored.meta.sop_instance_uid;
    /* QIDO-RS */
    const hc_response *r = ask("GET", "/dicomweb/studies", NULL, NULL);
    assert_int_equal(r->status, 200);
    assert_string_equal(hc_header(r, "Content-Type", v, sizeof v), "application/dicom+json");
    assert_non_null(strstr(r->body, st));
    snprintf(p, sizeof p, "/dicomweb/studies/%s/series", st);
    r = ask("GET", p, NULL, NULL);
    assert_int_equal(r->status, 200);
    assert_non_null(strstr(r->body, se));
    /* WADO-RS: an instance, metadata, frames, rendered. */
    snprintf(p, sizeof p, "/dicomweb/studies/%s/series/%s/instances/%s", st, se, sop);
    r = ask("GET", p, NULL, NULL);
    assert_int_equal(r->status, 200);
    assert_non_null(strstr(hc_header(r, "Content-Type", v, sizeof v), "multipart/related"));
    snprintf(p, sizeof p, "/dicomweb/studies/%s/metadata", st);
    r = ask("GET", p, NULL, NULL);
    assert_int_equal(r->status, 200);
    assert_non_null(strstr(r->body, sop));
    snprintf(p, sizeof p, "/dicomweb/studies/%s/series/%s/instances/%s/frames/1", st, se, sop);
    r = ask("GET", p, NULL, NULL);
    assert_int_equal(r->status, 200);
    snprintf(p, sizeof p, "/dicomweb/studies/%s/series/%s/instances/%s/rendered", st, se, sop);
    r = ask("GET", p, "Accept: image/png", NULL);
    assert_int_equal(r->status, 200);
    assert_string_equal(hc_header(r, "Content-Type", v, sizeof v), "image/png");
    assert_true(r->len > 8 && memcmp(r->body, "\x89PNG", 4) == 0);
    /* WADO-URI, under the prefix and at its root. */
    snprintf(p, sizeof p,
             "/dicomweb/wado?requestType=WADO&studyUID=%s&seriesUID=%s&objectUID=%s"
             "&contentType=application%%2Fdicom",
             st, se, sop);
    r = ask("GET", p, NULL, NULL);
    assert_int_equal(r->status, 200);
    assert_string_equal(hc_header(r, "Content-Type", v, sizeof v), "application/dicom");
    assert_true(r->len > 132 && memcmp(r->body + 128, "DICM", 4) == 0);
    r = ask("GET", "/dicomweb/?requestType=WADO", NULL, NULL);
    assert_int_equal(r->status, 400); /* WADO-URI's own refusal: no UIDs */
    assert_non_null(strstr(r->body, "objectUID"));
    /* STOW-RS: its own refusal of a body that is not multipart. */
    snprintf(p, sizeof p, "http://127.0.0.1:%d/dicomweb/studies", port);
    const char *json[] = {"Content-Type: application/json", NULL};
    r = hc_request(client, "POST", p, json, "{}", 2);
    assert_int_equal(r->status, 415);
    /* DELETE: turned off by default, which its handler says. */
    snprintf(p, sizeof p, "/dicomweb/studies/%s", st);
    r = ask("DELETE", p, NULL, NULL);
    assert_int_equal(r->status, 403);
    assert_non_null(strstr(r->body, "dicomweb.delete_allowed"));
    /* The viewer's paths go to the viewer, outside the prefix. */
    r = ask("GET", "/viewer/", NULL, NULL);
    assert_int_equal(r->status, 200);
    assert_non_null(strstr(r->body, "test viewer"));
    r = ask("GET", "/viewer/app-config.js", NULL, NULL);
    assert_int_equal(r->status, 200);
    assert_non_null(strstr(r->body, "qidoRoot"));
    /* The operations endpoints at the root, whatever the prefix; not under it. */
    r = ask("GET", "/healthz", NULL, NULL);
    assert_int_equal(r->status, 200);
    assert_string_equal(r->body, "ok\n");
    r = ask("GET", "/readyz", NULL, NULL);
    assert_int_equal(r->status, 200);
    assert_string_equal(r->body, "ready\n");
    r = ask("GET", "/metrics", NULL, NULL);
    assert_int_equal(r->status, 200);
    assert_string_equal(hc_header(r, "Content-Type", v, sizeof v),
                        "text/plain; version=0.0.4; charset=utf-8");
    assert_non_null(strstr(r->body, "\npacs_http_requests_total{route=\"healthz\",code=\"200\"} "));
    assert_non_null(strstr(r->body, "\n# TYPE pacs_store_duration_seconds histogram\n"));
    r = ask("POST", "/metrics", NULL, NULL);
    assert_int_equal(r->status, 405);
    assert_string_equal(hc_header(r, "Allow", v, sizeof v), "GET, HEAD");
    expect("GET", "/dicomweb/metrics", 404);
    expect("GET", "/metrics/x", 404);
}

static void test_base_url(void **state)
{
    (void)state;
    char p[512], want[256];
    snprintf(p, sizeof p, "/dicomweb/studies?StudyInstanceUID=%s", stored.study_uid);
    /* From the Host header... */
    const hc_response *r = ask("GET", p, "Host: pacs.example:8443", NULL);
    assert_int_equal(r->status, 200);
    assert_non_null(strstr(r->body, "http://pacs.example:8443/dicomweb/studies/"));
    /* ...unless it does not look like a host: then the address the server is bound to. */
    r = ask("GET", p, "Host: bad host/x", NULL);
    assert_int_equal(r->status, 200);
    snprintf(want, sizeof want, "http://127.0.0.1:%d/dicomweb/studies/", port);
    assert_non_null(strstr(r->body, want));
    assert_null(strstr(r->body, "bad host"));
}

int main(void)
{
    const struct CMUnitTest table_tests[] = {
        cmocka_unit_test(test_route_table),
    };
    const struct CMUnitTest served[] = {
        cmocka_unit_test(test_paths_that_name_nothing),
        cmocka_unit_test(test_methods_a_resource_does_not_take),
        cmocka_unit_test(test_preflight),
        cmocka_unit_test(test_each_handler_is_reached),
        cmocka_unit_test(test_base_url),
    };
    int failed = cmocka_run_group_tests(table_tests, NULL, NULL);
    return failed + cmocka_run_group_tests(served, setup, teardown);
}
