// SPDX-License-Identifier: MIT
/*
 * The benchmark's HTTP client on libcurl (Debian's libcurl4-openssl-dev: a well-kept client
 * with keep-alive and TCP_NODELAY by default, so nothing here parses HTTP). One easy handle per
 * thread is reused, so consecutive requests share a connection like a viewer's. Bodies are
 * counted, and kept only when asked (QIDO results, whose matches are counted afterwards).
 */
#include "tools/bench/bench.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

struct bench_http {
    CURL *c;
    char *body;
    size_t len, cap, keep_cap;
    uint64_t bytes;
};

void bench_http_global_init(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

bench_http *bench_http_new(void)
{
    bench_http *h = calloc(1, sizeof *h);
    if (!h) {
        return NULL;
    }
    h->c = curl_easy_init();
    if (!h->c) {
        free(h);
        return NULL;
    }
    return h;
}

void bench_http_free(bench_http *h)
{
    if (!h) {
        return;
    }
    curl_easy_cleanup(h->c);
    free(h->body);
    free(h);
}

void bench_http_keep_body(bench_http *h, size_t cap)
{
    h->keep_cap = cap;
}

static size_t on_data(char *p, size_t size, size_t n, void *ctx)
{
    bench_http *h = ctx;
    size_t len = size * n;
    h->bytes += len;
    if (h->keep_cap && h->len + len < h->keep_cap) {
        if (h->len + len + 1 > h->cap) {
            size_t cap = h->cap ? h->cap : 65536;
            while (cap < h->len + len + 1) {
                cap *= 2;
            }
            char *b = realloc(h->body, cap);
            if (!b) {
                return 0;
            }
            h->body = b;
            h->cap = cap;
        }
        memcpy(h->body + h->len, p, len);
        h->len += len;
        h->body[h->len] = '\0';
    }
    return len;
}

static pacs_err perform(bench_http *h, struct curl_slist *hdrs, long *status, uint64_t *bytes,
                        double *secs, pacs_errinfo *ei)
{
    h->len = 0;
    h->bytes = 0;
    if (h->body) {
        h->body[0] = '\0';
    }
    curl_easy_setopt(h->c, CURLOPT_HTTPHEADER, hdrs);
    curl_easy_setopt(h->c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h->c, CURLOPT_WRITEDATA, h);
    curl_easy_setopt(h->c, CURLOPT_TIMEOUT, 300L);
    curl_easy_setopt(h->c, CURLOPT_CONNECTTIMEOUT, 10L);
    curl_easy_setopt(h->c, CURLOPT_TCP_NODELAY, 1L);
    curl_easy_setopt(h->c, CURLOPT_NOSIGNAL, 1L);
    /* Read as the loopback limit does (256 KiB reads, tools/bench/limits.c) rather than with
     * libcurl's 16 KiB default, so that a large response measures the server, not our reads. */
    curl_easy_setopt(h->c, CURLOPT_BUFFERSIZE, 256L * 1024);
    double t0 = bench_now();
    CURLcode rc = curl_easy_perform(h->c);
    double t1 = bench_now();
    curl_easy_setopt(h->c, CURLOPT_HTTPHEADER, NULL);
    *status = 0;
    if (rc != CURLE_OK) {
        return pacs_errf(ei, PACS_ENET, "%s", curl_easy_strerror(rc));
    }
    curl_easy_getinfo(h->c, CURLINFO_RESPONSE_CODE, status);
    if (bytes) {
        *bytes = h->bytes;
    }
    *secs = t1 - t0;
    return PACS_OK;
}

pacs_err bench_http_get(bench_http *h, const char *url, const char *accept, long *status,
                        uint64_t *bytes, double *secs, pacs_errinfo *ei)
{
    struct curl_slist *hdrs = NULL;
    char line[512];
    if (accept) {
        snprintf(line, sizeof line, "Accept: %s", accept);
        hdrs = curl_slist_append(hdrs, line);
    }
    curl_easy_setopt(h->c, CURLOPT_URL, url);
    curl_easy_setopt(h->c, CURLOPT_HTTPGET, 1L);
    pacs_err err = perform(h, hdrs, status, bytes, secs, ei);
    curl_slist_free_all(hdrs);
    return err;
}

pacs_err bench_http_post(bench_http *h, const char *url, const char *content_type,
                         const char *accept, const void *body, size_t len, long *status,
                         double *secs, pacs_errinfo *ei)
{
    struct curl_slist *hdrs = NULL;
    char line[512];
    snprintf(line, sizeof line, "Content-Type: %s", content_type);
    hdrs = curl_slist_append(hdrs, line);
    if (accept) {
        snprintf(line, sizeof line, "Accept: %s", accept);
        hdrs = curl_slist_append(hdrs, line);
    }
    hdrs = curl_slist_append(hdrs, "Expect:");
    curl_easy_setopt(h->c, CURLOPT_URL, url);
    curl_easy_setopt(h->c, CURLOPT_POST, 1L);
    curl_easy_setopt(h->c, CURLOPT_POSTFIELDS, body);
    curl_easy_setopt(h->c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    pacs_err err = perform(h, hdrs, status, NULL, secs, ei);
    curl_easy_setopt(h->c, CURLOPT_POSTFIELDS, NULL);
    curl_slist_free_all(hdrs);
    return err;
}

const char *bench_http_body(const bench_http *h, size_t *len)
{
    *len = h->len;
    return h->body ? h->body : "";
}

char *bench_http_escape(const char *s)
{
    char *e = curl_easy_escape(NULL, s, 0);
    char *r = e ? strdup(e) : NULL;
    curl_free(e);
    return r;
}

int bench_http_missing(long status)
{
    return status == 404 || status == 405 || status == 501 || status == 0;
}
