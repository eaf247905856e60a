// SPDX-License-Identifier: MIT
/*
 * The unit tests' HTTP client (http_client.h) on libcurl. Headers are collected per answer
 * (a 100 Continue's are dropped), the body in a growing buffer. Single-threaded per handle.
 */
#include "http/tests/http_client.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct hc_client {
    CURL *curl;
    int gzip_ok;
    hc_response rsp;
    size_t body_cap, head_len, head_cap;
};

static int append(char **buf, size_t *len, size_t *cap, const char *data, size_t n)
{
    if (*len + n + 1 > *cap) {
        size_t want = (*len + n + 1) * 2;
        char *g = realloc(*buf, want);
        if (!g) {
            return -1;
        }
        *buf = g;
        *cap = want;
    }
    memcpy(*buf + *len, data, n);
    *len += n;
    (*buf)[*len] = '\0';
    return 0;
}

static size_t on_body(char *data, size_t size, size_t n, void *ctx)
{
    hc_client *c = ctx;
    return append(&c->rsp.body, &c->rsp.len, &c->body_cap, data, size * n) == 0 ? size * n : 0;
}

static size_t on_header(char *data, size_t size, size_t n, void *ctx)
{
    hc_client *c = ctx;
    if (n * size > 5 && strncmp(data, "HTTP/", 5) == 0) {
        c->head_len = 0; /* a new answer (after 100 Continue): only its headers count */
    }
    return append(&c->rsp.headers, &c->head_len, &c->head_cap, data, size * n) == 0 ? size * n : 0;
}

hc_client *hc_new(int gzip_ok)
{
    hc_client *c = calloc(1, sizeof *c);
    if (!c) {
        return NULL;
    }
    c->curl = curl_easy_init();
    if (!c->curl) {
        free(c);
        return NULL;
    }
    c->gzip_ok = gzip_ok;
    return c;
}

void hc_free(hc_client *c)
{
    if (!c) {
        return;
    }
    curl_easy_cleanup(c->curl);
    free(c->rsp.body);
    free(c->rsp.headers);
    free(c);
}

const hc_response *hc_request(hc_client *c, const char *method, const char *url,
                              const char *const *headers, const char *body, size_t len)
{
    CURL *h = c->curl;
    curl_easy_reset(h);
    c->rsp.status = 0;
    c->rsp.len = 0;
    c->head_len = 0;
    append(&c->rsp.body, &c->rsp.len, &c->body_cap, "", 0);
    append(&c->rsp.headers, &c->head_len, &c->head_cap, "", 0);
    struct curl_slist *list = NULL;
    for (size_t i = 0; headers && headers[i]; i++) {
        list = curl_slist_append(list, headers[i]);
    }
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, c);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, c);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_PATH_AS_IS, 1L);
    if (c->gzip_ok) {
        curl_easy_setopt(h, CURLOPT_ACCEPT_ENCODING, "gzip");
    }
    if (strcmp(method, "HEAD") == 0) {
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else if (strcmp(method, "GET") != 0) {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    }
    if (body) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    }
    c->rsp.curl_error = (int)curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &c->rsp.status);
    curl_easy_getinfo(h, CURLINFO_NUM_CONNECTS, &c->rsp.new_conns);
    curl_slist_free_all(list);
    return &c->rsp;
}

const char *hc_header(const hc_response *r, const char *name, char *buf, size_t cap)
{
    size_t n = strlen(name);
    for (const char *p = r->headers; p && *p;) {
        const char *eol = strchr(p, '\n');
        size_t line = eol ? (size_t)(eol - p) : strlen(p);
        if (line > n && strncasecmp(p, name, n) == 0 && p[n] == ':') {
            const char *v = p + n + 1;
            while (*v == ' ') {
                v++;
            }
            size_t vl = (size_t)(p + line - v);
            while (vl > 0 && (v[vl - 1] == '\r' || v[vl - 1] == ' ')) {
                vl--;
            }
            if (vl >= cap) {
                vl = cap - 1;
            }
            memcpy(buf, v, vl);
            buf[vl] = '\0';
            return buf;
        }
        p = eol ? eol + 1 : p + line;
    }
    return NULL;
}
