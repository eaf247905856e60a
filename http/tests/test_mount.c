// SPDX-License-Identifier: MIT
/*
 * Unit tests for mounts (http/mount.h) over the real server (libmicrohttpd on a loopback port
 * chosen by the kernel) and a real client (libcurl, http_client.h): which protocol gets which
 * path, the path below the mount point and the query a mount parses, PUT reaching a handler,
 * and the prefixes a table refuses.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "http/mount.h"
#include "http/tests/http_client.h"
#include "pacs/base/log.h"

static pacs_config *cfg;
static pacs_httpd *server;
static int port;
static pacs_http_mounts mounts;

/* Answers "NAME METHOD PATH-BELOW [x=VALUE]" as text. */
static void answer(void *ctx, pacs_http_req *r)
{
    size_t len = 0;
    const char *path = pacs_http_path(r, &len);
    pacs_errinfo ei;
    const char *x = NULL;
    if (strcmp(ctx, "fallback") != 0) {
        if (pacs_http_parse_query(r, &ei) != PACS_OK) {
            pacs_http_send_error(r, 400, "%s", ei.msg);
            return;
        }
        x = pacs_params_get(pacs_http_params(r), "x");
    }
    pacs_buf b;
    pacs_buf_init(&b, 4096);
    pacs_buf_printf(&b, "%s %d %.*s%s%s", (const char *)ctx, (int)pacs_http_method_of(r), (int)len,
                    path, x ? " x=" : "", x ? x : "");
    pacs_http_send_buf(r, 200, "text/plain", &b, 0);
}

static int setup(void **state)
{
    (void)state;
    pacs_log_set_level(PACS_LOG_ERROR);
    cfg = pacs_config_new();
    pacs_errinfo ei;
    if (!cfg || pacs_config_set(cfg, "http.bind", "127.0.0.1", &ei) != PACS_OK ||
        pacs_config_set(cfg, "http.port", "0", &ei) != PACS_OK ||
        pacs_config_finish(cfg, &ei) != PACS_OK) {
        return -1;
    }
    memset(&mounts, 0, sizeof mounts);
    if (pacs_http_mounts_add(&mounts, "/fhir", answer, "fhir", &ei) != PACS_OK ||
        pacs_http_mounts_add(&mounts, "/a/b", answer, "ab", &ei) != PACS_OK) {
        return -1;
    }
    mounts.fallback = answer;
    mounts.fallback_ctx = "fallback";
    if (pacs_httpd_start(cfg, NULL, pacs_http_mounts_dispatch, &mounts, &server, &port, &ei) !=
        PACS_OK) {
        fprintf(stderr, "httpd: %s\n", ei.msg);
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    pacs_httpd_stop(server);
    pacs_config_free(cfg);
    return 0;
}

static const hc_response *ask(hc_client *c, const char *method, const char *path)
{
    char url[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, path);
    return hc_request(c, method, url, NULL, NULL, 0);
}

static void test_who_gets_what(void **state)
{
    (void)state;
    hc_client *c = hc_new(0);
    assert_non_null(c);
    static const struct {
        const char *method, *path, *answer;
    } cases[] = {
        {"GET", "/fhir", "fhir 0 "},
        {"GET", "/fhir/", "fhir 0 /"},
        {"GET", "/fhir/Patient/bhxh-1?x=a%20b", "fhir 0 /Patient/bhxh-1 x=a b"},
        {"GET", "/fhir?x=1", "fhir 0  x=1"},
        {"GET", "/fhirx/Patient", "fallback 0 "},
        {"GET", "/a/b/c", "ab 0 /c"},
        {"GET", "/a/bc", "fallback 0 "},
        {"GET", "/a", "fallback 0 "},
        {"GET", "/", "fallback 0 "},
        {"DELETE", "/fhir/x", "fhir 2 /x"},
        {"PUT", "/fhir/Patient/1", "fhir 4 /Patient/1"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const hc_response *r = ask(c, cases[i].method, cases[i].path);
        assert_int_equal(r->status, 200);
        if (strcmp(r->body, cases[i].answer) != 0) {
            fail_msg("%s %s: '%s', expected '%s'", cases[i].method, cases[i].path, r->body,
                     cases[i].answer);
        }
    }
    /* A mount's malformed query: its own 400. */
    assert_int_equal(ask(c, "GET", "/fhir/Patient?x=%zz")->status, 400);
    hc_free(c);
}

static void test_what_a_table_refuses(void **state)
{
    (void)state;
    pacs_http_mounts m;
    pacs_errinfo ei;
    memset(&m, 0, sizeof m);
    static const char *const bad[] = {"", "/", "fhir", "/fhir/", "/f?x", "/f%2f", "/f h"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        assert_int_equal(pacs_http_mounts_add(&m, bad[i], answer, "x", &ei), PACS_EINVAL);
    }
    assert_int_equal(pacs_http_mounts_add(&m, "/fhir", answer, "x", &ei), PACS_OK);
    assert_int_equal(pacs_http_mounts_add(&m, "/fhir", answer, "x", &ei), PACS_EINVAL);
    char p[16];
    for (int i = 1; i < PACS_HTTP_MOUNTS_MAX; i++) {
        snprintf(p, sizeof p, "/m%d", i);
        assert_int_equal(pacs_http_mounts_add(&m, p, answer, "x", &ei), PACS_OK);
    }
    assert_int_equal(pacs_http_mounts_add(&m, "/more", answer, "x", &ei), PACS_ENOMEM);
    assert_int_equal(m.n, PACS_HTTP_MOUNTS_MAX);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_who_gets_what),
        cmocka_unit_test(test_what_a_table_refuses),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
