// SPDX-License-Identifier: MIT
/*
 * Unit tests for the request and response API (http/http.c) as handlers use it, over the
 * real server underneath it (http/httpd.c, libmicrohttpd on a loopback port chosen by the
 * system) and a real client (libcurl). No router: the test's own dispatch function is the
 * handler, and picks what to do from the request's X-Case header. Checked: statuses, content
 * types, added headers and their cap, error bodies, gzip of JSON (and when not), streamed and
 * filled bodies, body callbacks, the body limit, unknown methods, an unanswered request, the
 * per-request arena and its cap, the accessors, CORS, keep-alive, and that every context a
 * handler hands over is released when its request ends.
 *
 * Threads: libmicrohttpd's pool runs the dispatch function; the test thread waits for the
 * releases it counts under a mutex, with a bound.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "http/http.h"
#include "http/httpd.h"
#include "http/tests/http_client.h"
#include "pacs/base/log.h"

#define BIG_JSON 4000

static pacs_config *cfg;
static pacs_httpd *server;
static int port;

/* What the handlers saw and released, for the test thread. */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static unsigned released;
static unsigned dispatched;
static unsigned long last_id;

static void note_release(void *ctx)
{
    free(ctx);
    pthread_mutex_lock(&mu);
    released++;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
}

static unsigned releases(void)
{
    pthread_mutex_lock(&mu);
    unsigned n = released;
    pthread_mutex_unlock(&mu);
    return n;
}

/* Waits (at most 20 s) until `n` contexts have been released; returns how many were. The
 * release follows the answer on the server's thread, so it may come just after the client
 * has read the last byte. */
static unsigned wait_releases(unsigned n)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += 20;
    pthread_mutex_lock(&mu);
    while (released < n) {
        if (pthread_cond_timedwait(&cv, &mu, &until) != 0) {
            break;
        }
    }
    unsigned got = released;
    pthread_mutex_unlock(&mu);
    return got;
}

/* ---- the handlers ---- */

static char *json_of(size_t n)
{
    char *s = malloc(n + 1);
    size_t o = 0;
    s[o++] = '[';
    while (o + 12 < n) {
        o += (size_t)snprintf(s + o, n + 1 - o, "%s\"%06zu\"", o > 1 ? "," : "", o);
    }
    s[o++] = ']';
    s[o] = '\0';
    return s;
}

static void send_text(pacs_http_req *r, unsigned status, const char *type, const char *text,
                      int json)
{
    pacs_buf b;
    pacs_buf_init(&b, strlen(text) + 1);
    pacs_buf_puts(&b, text);
    pacs_http_send_buf(r, status, type, &b, json);
}

typedef struct pieces {
    int left;
    int fail_after; /* pieces before an error; -1: none */
} pieces;

static pacs_err produce(void *ctx, pacs_buf *out, int *eof, pacs_errinfo *ei)
{
    pieces *p = ctx;
    if (p->fail_after == 0) {
        return pacs_errf(ei, PACS_EIO, "the producer failed");
    }
    p->fail_after--;
    pacs_buf_printf(out, "{\"piece\":%d}", p->left);
    *eof = --p->left == 0;
    return PACS_OK;
}

static pacs_err fill(void *ctx, char *buf, size_t max, size_t *n, int *eof, pacs_errinfo *ei)
{
    (void)ei;
    size_t *left = ctx;
    size_t k = *left < max ? *left : max;
    memset(buf, 'f', k);
    *left -= k;
    *n = k;
    *eof = *left == 0;
    return PACS_OK;
}

typedef struct upload {
    size_t bytes, calls;
    unsigned sum;
    int refuse; /* the data callback fails */
} upload;

static pacs_err body_data(pacs_http_req *r, void *ctx, const char *data, size_t len)
{
    (void)r;
    upload *u = ctx;
    if (u->refuse) {
        return PACS_EINVAL;
    }
    u->bytes += len;
    u->calls++;
    for (size_t i = 0; i < len; i++) {
        u->sum += (unsigned char)data[i];
    }
    return PACS_OK;
}

static void body_end(pacs_http_req *r, void *ctx)
{
    upload *u = ctx;
    char text[96];
    snprintf(text, sizeof text, "%zu %u", u->bytes, u->sum);
    send_text(r, 200, "text/plain", text, 0);
}

static const pacs_http_body_ops body_ops = {body_data, body_end, note_release, NULL};

/* What a handler can read about its request, as JSON-ish text. */
static void accessors(pacs_http_req *r)
{
    char text[512];
    const char *h = pacs_http_header(r, "X-Probe");
    snprintf(text, sizeof text,
             "method=%d probe=%s peer=%s gzip=%d config=%d archive=%d base=%s params=%zu",
             (int)pacs_http_method_of(r), h ? h : "-", pacs_http_peer(r), pacs_http_accepts_gzip(r),
             pacs_http_config(r) == cfg, pacs_http_archive(r) == NULL,
             pacs_http_base_url(r) ? pacs_http_base_url(r) : "-", pacs_http_params(r)->n);
    pthread_mutex_lock(&mu);
    last_id = pacs_http_id(r);
    pthread_mutex_unlock(&mu);
    send_text(r, 200, "text/plain", text, 0);
}

static void arena(pacs_http_req *r)
{
    pacs_arena *ar = pacs_http_arena(r);
    char *a = pacs_arena_alloc(ar, 512 * 1024);
    char *b = pacs_arena_alloc(ar, 600 * 1024); /* past the request's cap (1 MiB) */
    char *c = pacs_arena_printf(ar, "%s-%d", "small", 7);
    int zeroed = a && a[0] == 0 && a[512 * 1024 - 1] == 0;
    char text[128];
    snprintf(text, sizeof text, "first=%d second=%d zeroed=%d printf=%s", a != NULL, b != NULL,
             zeroed, c ? c : "-");
    send_text(r, 200, "text/plain", text, 0);
}

static void dispatch(void *ctx, pacs_http_req *r)
{
    (void)ctx;
    pthread_mutex_lock(&mu);
    dispatched++;
    pthread_mutex_unlock(&mu);
    const char *what = pacs_http_header(r, "X-Case");
    what = what ? what : "";
    if (strcmp(what, "plain") == 0) {
        send_text(r, 201, "text/plain; charset=utf-8", "hello", 0);
    } else if (strcmp(what, "json-big") == 0 || strcmp(what, "json-small") == 0) {
        char *s = json_of(strcmp(what, "json-big") == 0 ? BIG_JSON : 100);
        send_text(r, 200, "application/dicom+json", s, 1);
        free(s);
    } else if (strcmp(what, "octets-big") == 0) {
        char *s = json_of(BIG_JSON);
        send_text(r, 200, "application/octet-stream", s, 0);
        free(s);
    } else if (strcmp(what, "headers") == 0) {
        for (int i = 0; i < 10; i++) {
            char name[16], value[16];
            snprintf(name, sizeof name, "X-H%d", i);
            snprintf(value, sizeof value, "v%d", i);
            pacs_http_add_header(r, name, value);
        }
        send_text(r, 200, "text/plain", "headers", 0);
    } else if (strcmp(what, "error") == 0) {
        pacs_http_send_error(r, 422, "bad %s\nline", "thing");
    } else if (strcmp(what, "stream") == 0 || strcmp(what, "stream-sized") == 0 ||
               strcmp(what, "stream-fail") == 0) {
        pieces *p = calloc(1, sizeof *p);
        p->left = 3;
        p->fail_after = strcmp(what, "stream-fail") == 0 ? 1 : -1;
        /* Three pieces of {"piece":N}: 11 bytes each. */
        uint64_t size = strcmp(what, "stream-sized") == 0 ? 33 : UINT64_MAX;
        pacs_http_send_stream(r, 200, "application/dicom+json", size, 1, produce, p, note_release);
    } else if (strcmp(what, "fill") == 0) {
        size_t *left = malloc(sizeof *left);
        *left = 3 * 1000 * 1000;
        pacs_http_send_fill(r, 200, "application/octet-stream", *left, fill, left, note_release);
    } else if (strcmp(what, "body") == 0 || strcmp(what, "body-refused") == 0) {
        upload *u = calloc(1, sizeof *u);
        u->refuse = strcmp(what, "body-refused") == 0;
        pacs_http_expect_body(r, &body_ops, u);
    } else if (strcmp(what, "accessors") == 0) {
        accessors(r);
    } else if (strcmp(what, "arena") == 0) {
        arena(r);
    } else if (strcmp(what, "silent") == 0) {
        return; /* answers nothing: the server must */
    } else {
        pacs_http_send_error(r, 404, "no case '%.32s'", what);
    }
}

/* ---- fixtures ---- */

/* The test server's configuration, with `extra` ("key=value") last when not NULL. */
static pacs_config *make_config(const char *cors, const char *extra)
{
    pacs_config *c = pacs_config_new();
    assert_non_null(c);
    pacs_errinfo ei;
    static const char *const pairs[] = {"http.bind=127.0.0.1", "http.port=0", "http.threads=2",
                                        "http.max_body_mb=1", NULL};
    for (size_t i = 0; pairs[i]; i++) {
        assert_int_equal(pacs_config_set_pair(c, pairs[i], &ei), PACS_OK);
    }
    assert_int_equal(pacs_config_set(c, "http.cors_origins", cors, &ei), PACS_OK);
    if (extra) {
        assert_int_equal(pacs_config_set_pair(c, extra, &ei), PACS_OK);
    }
    assert_int_equal(pacs_config_finish(c, &ei), PACS_OK);
    return c;
}

static int setup(void **state)
{
    (void)state;
    pacs_log_set_level(PACS_LOG_ERROR);
    cfg = make_config("https://viewer.example, https://other.example", NULL);
    pacs_errinfo ei;
    if (pacs_httpd_start(cfg, NULL, dispatch, NULL, &server, &port, &ei) != PACS_OK) {
        fprintf(stderr, "httpd: %s\n", ei.msg);
        return -1;
    }
    return port > 0 ? 0 : -1;
}

static int teardown(void **state)
{
    (void)state;
    pacs_httpd_stop(server);
    pacs_config_free(cfg);
    return 0;
}

static char *url_of(const char *path)
{
    static char url[256];
    snprintf(url, sizeof url, "http://127.0.0.1:%d%s", port, path);
    return url;
}

/* One request with an X-Case header (and up to three more headers). */
static const hc_response *ask(hc_client *c, const char *method, const char *what, const char *h1,
                              const char *body, size_t len)
{
    char xcase[64];
    snprintf(xcase, sizeof xcase, "X-Case: %s", what);
    const char *headers[] = {xcase, h1, NULL};
    return hc_request(c, method, url_of("/any/path?x=1"), headers, body, len);
}

/* ---- the tests ---- */

static void test_status_type_and_length(void **state)
{
    (void)state;
    hc_client *c = hc_new(0);
    char v[256];
    const hc_response *r = ask(c, "GET", "plain", NULL, NULL, 0);
    assert_int_equal(r->status, 201);
    assert_string_equal(r->body, "hello");
    assert_string_equal(hc_header(r, "Content-Type", v, sizeof v), "text/plain; charset=utf-8");
    assert_string_equal(hc_header(r, "Content-Length", v, sizeof v), "5");
    assert_null(hc_header(r, "Vary", v, sizeof v));                        /* not JSON */
    assert_null(hc_header(r, "Access-Control-Allow-Origin", v, sizeof v)); /* no Origin */
    /* HEAD: the same answer without its body. */
    r = ask(c, "HEAD", "plain", NULL, NULL, 0);
    assert_int_equal(r->status, 201);
    assert_int_equal(r->len, 0);
    assert_string_equal(hc_header(r, "Content-Length", v, sizeof v), "5");
    hc_free(c);
}

static void test_added_headers_and_their_cap(void **state)
{
    (void)state;
    hc_client *c = hc_new(0);
    char v[64];
    const hc_response *r = ask(c, "GET", "headers", NULL, NULL, 0);
    assert_int_equal(r->status, 200);
    for (int i = 0; i < 10; i++) {
        char name[16], want[16];
        snprintf(name, sizeof name, "X-H%d", i);
        snprintf(want, sizeof want, "v%d", i);
        const char *got = hc_header(r, name, v, sizeof v);
        if (i < 8) {
            assert_non_null(got);
            assert_string_equal(got, want);
        } else {
            assert_null(got); /* eight per answer; the rest are dropped */
        }
    }
    hc_free(c);
}

static void test_error_is_one_line_of_text(void **state)
{
    (void)state;
    hc_client *c = hc_new(0);
    char v[128];
    const hc_response *r = ask(c, "GET", "error", NULL, NULL, 0);
    assert_int_equal(r->status, 422);
    assert_string_equal(r->body, "bad thing line\n"); /* control characters become spaces */
    assert_string_equal(hc_header(r, "Content-Type", v, sizeof v), "text/plain; charset=utf-8");
    hc_free(c);
}

static void test_gzip_for_json_only(void **state)
{
    (void)state;
    char v[64];
    char *want = json_of(BIG_JSON);
    hc_client *plain = hc_new(0), *gz = hc_new(1);
    /* Accepted and big enough: compressed, and the client gets the same text back. */
    const hc_response *r = ask(gz, "GET", "json-big", NULL, NULL, 0);
    assert_int_equal(r->status, 200);
    assert_string_equal(hc_header(r, "Content-Encoding", v, sizeof v), "gzip");
    assert_string_equal(hc_header(r, "Vary", v, sizeof v), "Accept-Encoding");
    assert_string_equal(hc_header(r, "Content-Type", v, sizeof v), "application/dicom+json");
    assert_string_equal(r->body, want);
    /* Not accepted: plain, but Vary still says it depends on Accept-Encoding. */
    r = ask(plain, "GET", "json-big", NULL, NULL, 0);
    assert_null(hc_header(r, "Content-Encoding", v, sizeof v));
    assert_string_equal(hc_header(r, "Vary", v, sizeof v), "Accept-Encoding");
    assert_string_equal(r->body, want);
    /* Refused with q=0. */
    r = ask(plain, "GET", "json-big", "Accept-Encoding: gzip;q=0", NULL, 0);
    assert_null(hc_header(r, "Content-Encoding", v, sizeof v));
    /* Too small to gain anything. */
    r = ask(gz, "GET", "json-small", NULL, NULL, 0);
    assert_null(hc_header(r, "Content-Encoding", v, sizeof v));
    /* Not JSON: never compressed, whatever the client accepts. */
    r = ask(gz, "GET", "octets-big", NULL, NULL, 0);
    assert_null(hc_header(r, "Content-Encoding", v, sizeof v));
    assert_string_equal(r->body, want);
    free(want);
    hc_free(plain);
    hc_free(gz);
}

static void test_streamed_bodies(void **state)
{
    (void)state;
    char v[64];
    hc_client *c = hc_new(0), *gz = hc_new(1);
    const char *whole = "{\"piece\":3}{\"piece\":2}{\"piece\":1}";
    unsigned before = releases();
    /* Unknown length: chunked. */
    const hc_response *r = ask(c, "GET", "stream", NULL, NULL, 0);
    assert_int_equal(r->status, 200);
    assert_string_equal(r->body, whole);
    assert_string_equal(hc_header(r, "Transfer-Encoding", v, sizeof v), "chunked");
    /* Known length. */
    r = ask(c, "GET", "stream-sized", NULL, NULL, 0);
    assert_string_equal(r->body, whole);
    assert_string_equal(hc_header(r, "Content-Length", v, sizeof v), "33");
    /* Gzip while streaming: the length is no longer known. */
    r = ask(gz, "GET", "stream-sized", NULL, NULL, 0);
    assert_string_equal(r->body, whole);
    assert_string_equal(hc_header(r, "Content-Encoding", v, sizeof v), "gzip");
    assert_null(hc_header(r, "Content-Length", v, sizeof v));
    /* Filled straight into the server's buffer. */
    r = ask(c, "GET", "fill", NULL, NULL, 0);
    assert_int_equal(r->status, 200);
    assert_int_equal(r->len, 3 * 1000 * 1000);
    assert_int_equal(r->body[0], 'f');
    assert_int_equal(r->body[r->len - 1], 'f');
    /* A producer that fails after the status line went: the body ends abruptly. */
    r = ask(c, "GET", "stream-fail", NULL, NULL, 0);
    assert_int_not_equal(r->curl_error, 0);
    assert_true(r->len < strlen(whole));
    /* Every context handed over was released. */
    assert_int_equal(wait_releases(before + 5), before + 5);
    hc_free(c);
    hc_free(gz);
}

static void test_request_bodies(void **state)
{
    (void)state;
    hc_client *c = hc_new(0);
    size_t n = 300 * 1000;
    char *body = malloc(n);
    unsigned sum = 0;
    for (size_t i = 0; i < n; i++) {
        body[i] = (char)(i * 7);
        sum += (unsigned char)body[i];
    }
    unsigned before = releases();
    const hc_response *r = ask(c, "POST", "body", NULL, body, n);
    assert_int_equal(r->status, 200);
    char want[64];
    snprintf(want, sizeof want, "%zu %u", n, sum);
    assert_string_equal(r->body, want);
    /* A data callback that refuses: the connection is closed, without an answer. (A fresh
     * connection: libcurl sends a request again once when a reused one dies.) */
    hc_client *fresh = hc_new(0);
    r = ask(fresh, "POST", "body-refused", NULL, body, n);
    assert_int_not_equal(r->status, 200);
    assert_int_not_equal(r->curl_error, 0);
    hc_free(fresh);
    /* Over http.max_body_mb (1 MiB): 413 before the body is read, and no handler runs. */
    pthread_mutex_lock(&mu);
    unsigned seen = dispatched;
    pthread_mutex_unlock(&mu);
    char *big = calloc(1, 2u << 20);
    r = ask(c, "POST", "body", NULL, big, 2u << 20);
    assert_int_equal(r->status, 413);
    pthread_mutex_lock(&mu);
    assert_int_equal(dispatched, seen);
    pthread_mutex_unlock(&mu);
    assert_int_equal(wait_releases(before + 2), before + 2);
    free(big);
    free(body);
    hc_free(c);
}

static void test_what_no_handler_answers(void **state)
{
    (void)state;
    hc_client *c = hc_new(0);
    char v[128];
    /* A handler that answers nothing: 500, not a hung connection. */
    const hc_response *r = ask(c, "GET", "silent", NULL, NULL, 0);
    assert_int_equal(r->status, 500);
    /* A method the server does not speak (PUT it does, for FHIR) never reaches the dispatcher. */
    pthread_mutex_lock(&mu);
    unsigned seen = dispatched;
    pthread_mutex_unlock(&mu);
    r = ask(c, "PATCH", "plain", NULL, NULL, 0);
    assert_int_equal(r->status, 405);
    assert_string_equal(hc_header(r, "Allow", v, sizeof v), "GET, HEAD, POST, DELETE, OPTIONS");
    pthread_mutex_lock(&mu);
    assert_int_equal(dispatched, seen);
    pthread_mutex_unlock(&mu);
    hc_free(c);
}

static void test_accessors(void **state)
{
    (void)state;
    hc_client *c = hc_new(1);
    const hc_response *r = ask(c, "GET", "accessors", "X-Probe: 42", NULL, 0);
    assert_int_equal(r->status, 200);
    /* GET is method 0; no router ran, so no base URL and no parsed parameters. */
    assert_string_equal(
        r->body, "method=0 probe=42 peer=127.0.0.1 gzip=1 config=1 archive=1 base=- params=0");
    pthread_mutex_lock(&mu);
    unsigned long first = last_id;
    pthread_mutex_unlock(&mu);
    hc_client *p = hc_new(0);
    r = ask(p, "DELETE", "accessors", NULL, NULL, 0);
    assert_string_equal(
        r->body, "method=2 probe=- peer=127.0.0.1 gzip=0 config=1 archive=1 base=- params=0");
    pthread_mutex_lock(&mu);
    assert_true(last_id > first); /* every request its own id */
    pthread_mutex_unlock(&mu);
    r = ask(p, "POST", "accessors", NULL, "x", 1);
    assert_string_equal(
        r->body, "method=1 probe=- peer=127.0.0.1 gzip=0 config=1 archive=1 base=- params=0");
    hc_free(p);
    hc_free(c);
}

static void test_arena_per_request(void **state)
{
    (void)state;
    hc_client *c = hc_new(0);
    /* Each request has its own 1 MiB: the second request's first allocation succeeds again. */
    for (int i = 0; i < 2; i++) {
        const hc_response *r = ask(c, "GET", "arena", NULL, NULL, 0);
        assert_int_equal(r->status, 200);
        assert_string_equal(r->body, "first=1 second=0 zeroed=1 printf=small-7");
    }
    hc_free(c);
}

static void test_cors(void **state)
{
    (void)state;
    hc_client *c = hc_new(0);
    char v[256];
    const hc_response *r = ask(c, "GET", "plain", "Origin: https://viewer.example", NULL, 0);
    assert_string_equal(hc_header(r, "Access-Control-Allow-Origin", v, sizeof v),
                        "https://viewer.example");
    assert_string_equal(hc_header(r, "Vary", v, sizeof v), "Origin");
    assert_non_null(hc_header(r, "Access-Control-Expose-Headers", v, sizeof v));
    assert_non_null(strstr(v, "Content-Location"));
    /* Errors carry them too, or a browser could not read why. */
    r = ask(c, "GET", "error", "Origin: https://other.example", NULL, 0);
    assert_string_equal(hc_header(r, "Access-Control-Allow-Origin", v, sizeof v),
                        "https://other.example");
    r = ask(c, "GET", "plain", "Origin: https://evil.example", NULL, 0);
    assert_null(hc_header(r, "Access-Control-Allow-Origin", v, sizeof v));
    r = ask(c, "GET", "plain", "Origin: https://viewer.example, https://evil.example", NULL, 0);
    assert_null(hc_header(r, "Access-Control-Allow-Origin", v, sizeof v));
    hc_free(c);
}

static void test_cors_any_origin(void **state)
{
    (void)state;
    pacs_config *any = make_config("*", NULL);
    pacs_httpd *s = NULL;
    int p = 0;
    pacs_errinfo ei;
    assert_int_equal(pacs_httpd_start(any, NULL, dispatch, NULL, &s, &p, &ei), PACS_OK);
    hc_client *c = hc_new(0);
    char url[128], v[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/", p);
    const char *headers[] = {"X-Case: plain", "Origin: https://anywhere.example", NULL};
    const hc_response *r = hc_request(c, "GET", url, headers, NULL, 0);
    assert_int_equal(r->status, 201);
    assert_string_equal(hc_header(r, "Access-Control-Allow-Origin", v, sizeof v), "*");
    assert_null(hc_header(r, "Vary", v, sizeof v)); /* "*" does not vary by Origin */
    hc_free(c);
    pacs_httpd_stop(s);
    pacs_config_free(any);
}

static void test_keep_alive(void **state)
{
    (void)state;
    hc_client *c = hc_new(0);
    const hc_response *r = ask(c, "GET", "plain", NULL, NULL, 0);
    assert_int_equal(r->new_conns, 1);
    for (int i = 0; i < 3; i++) {
        r = ask(c, i == 1 ? "GET" : "HEAD", "plain", NULL, NULL, 0);
        assert_int_equal(r->status, 201);
        assert_int_equal(r->new_conns, 0); /* the same connection */
    }
    /* An error answer keeps the connection too. */
    r = ask(c, "GET", "error", NULL, NULL, 0);
    r = ask(c, "GET", "plain", NULL, NULL, 0);
    assert_int_equal(r->new_conns, 0);
    hc_free(c);
}

static void test_a_bad_setting_starts_nothing(void **state)
{
    (void)state;
    pacs_config *bad = make_config("", "http.bind=not-an-address");
    pacs_errinfo ei;
    pacs_httpd *s = NULL;
    int p = -1;
    assert_int_equal(pacs_httpd_start(bad, NULL, dispatch, NULL, &s, &p, &ei), PACS_EINVAL);
    assert_null(s);
    assert_int_equal(p, -1);
    assert_non_null(strstr(ei.msg, "http.bind"));
    pacs_config_free(bad);
}

static void test_status_of(void **state)
{
    (void)state;
    static const struct {
        pacs_err err;
        unsigned status;
    } map[] = {
        {PACS_OK, 200},      {PACS_ENOTFOUND, 404},    {PACS_EINVAL, 400},    {PACS_EBADDATA, 400},
        {PACS_ETOOBIG, 413}, {PACS_EUNSUPPORTED, 406}, {PACS_ECONFLICT, 409}, {PACS_EEXIST, 409},
        {PACS_EDENIED, 403}, {PACS_EBUSY, 503},        {PACS_ENOSPC, 507},    {PACS_ETIMEOUT, 503},
        {PACS_EIO, 500},     {PACS_ENOMEM, 500},
    };
    for (size_t i = 0; i < sizeof map / sizeof map[0]; i++) {
        assert_int_equal(pacs_http_status_of(map[i].err), map[i].status);
    }
}

static void test_boundary(void **state)
{
    (void)state;
    char a[40], b[40], small[9];
    pacs_http_boundary(a, sizeof a);
    pacs_http_boundary(b, sizeof b);
    assert_int_equal(strlen(a), 32);
    assert_int_equal(strspn(a, "0123456789abcdef"), 32);
    assert_string_not_equal(a, b);
    pacs_http_boundary(small, sizeof small);
    assert_true(strlen(small) < sizeof small);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_status_type_and_length),
        cmocka_unit_test(test_added_headers_and_their_cap),
        cmocka_unit_test(test_error_is_one_line_of_text),
        cmocka_unit_test(test_gzip_for_json_only),
        cmocka_unit_test(test_streamed_bodies),
        cmocka_unit_test(test_request_bodies),
        cmocka_unit_test(test_what_no_handler_answers),
        cmocka_unit_test(test_accessors),
        cmocka_unit_test(test_arena_per_request),
        cmocka_unit_test(test_cors),
        cmocka_unit_test(test_cors_any_origin),
        cmocka_unit_test(test_keep_alive),
        cmocka_unit_test(test_a_bad_setting_starts_nothing),
        cmocka_unit_test(test_status_of),
        cmocka_unit_test(test_boundary),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
