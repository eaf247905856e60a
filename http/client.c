// SPDX-License-Identifier: MIT
/*
 * The senders' HTTP client (client.h): the key file, libcurl's set-up for a destination, the
 * capped answer, the cancel flag, and what an outcome says about the destination, written once
 * for STOW-RS and FHIR alike.
 */
#include "http/client.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KEY_CAP 4096

struct pacs_http_client {
    const pacs_web_dest *d;
    char kind[8];
    char key[KEY_CAP]; /* "" for none */
    long timeout;
    pthread_mutex_t mu;
    int cancelled;
    int curl_ready; /* curl_global_init() was called */
};

/* Reads a key file: its first line, without blanks around it. */
static pacs_err read_key(const pacs_http_client *c, char *key, size_t cap, pacs_errinfo *ei)
{
    const pacs_web_dest *d = c->d;
    FILE *f = fopen(d->key_file, "r");
    if (!f) {
        return pacs_errf(ei, PACS_EINVAL, "%s.%s: cannot read the key file %s", c->kind, d->name,
                         d->key_file);
    }
    char *line = fgets(key, (int)cap, f);
    fclose(f);
    size_t n = line ? strcspn(key, "\r\n") : 0;
    key[n] = '\0';
    while (n > 0 && (key[n - 1] == ' ' || key[n - 1] == '\t')) {
        key[--n] = '\0';
    }
    if (n == 0 || strspn(key, " \t") > 0 || strchr(key, ' ')) {
        memset(key, 0, cap);
        return pacs_errf(ei, PACS_EINVAL, "%s.%s: the key file %s holds no key on its first line",
                         c->kind, d->name, d->key_file);
    }
    return PACS_OK;
}

pacs_err pacs_http_client_new(const pacs_web_dest *d, long timeout, pacs_http_client **out,
                              pacs_errinfo *ei)
{
    const char *kind = d->kind == PACS_DEST_EHR ? "ehr" : "web";
    pacs_http_client *c = calloc(1, sizeof *c);
    if (!c) {
        return pacs_errf(ei, PACS_ENOMEM, "out of memory");
    }
    c->d = d;
    snprintf(c->kind, sizeof c->kind, "%s", kind);
    c->timeout = timeout;
    pthread_mutex_init(&c->mu, NULL);
    if (d->key_file[0] && read_key(c, c->key, sizeof c->key, ei) != PACS_OK) {
        pacs_http_client_free(c);
        return ei ? ei->code : PACS_EINVAL;
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        pacs_http_client_free(c);
        return pacs_errf(ei, PACS_ENOMEM, "cannot initialise libcurl");
    }
    c->curl_ready = 1;
    *out = c;
    return PACS_OK;
}

const pacs_web_dest *pacs_http_client_dest(const pacs_http_client *c)
{
    return c->d;
}

static size_t write_answer(char *data, size_t size, size_t nmemb, void *ctx)
{
    pacs_http_answer *a = ctx;
    size_t k = size * nmemb;
    if (a->n + k > PACS_HTTP_ANSWER_CAP) {
        a->too_big = 1;
        return k; /* the status still counts; the body is not kept */
    }
    char *g = realloc(a->data, a->n + k + 1);
    if (!g) {
        return 0;
    }
    memcpy(g + a->n, data, k);
    a->data = g;
    a->n += k;
    a->data[a->n] = '\0';
    return k;
}

static int progress(void *ctx, curl_off_t dt, curl_off_t dn, curl_off_t ut, curl_off_t un)
{
    (void)dt;
    (void)dn;
    (void)ut;
    (void)un;
    pacs_http_client *c = ctx;
    pthread_mutex_lock(&c->mu);
    int stop = c->cancelled;
    pthread_mutex_unlock(&c->mu);
    return stop;
}

CURL *pacs_http_client_easy(pacs_http_client *c, const char *url, struct curl_slist **hdrs,
                            pacs_http_answer *ans)
{
    /* Ask before sending a body: a server that refuses the key (or the request) says so before
     * a batch of megabytes crosses a slow link, and its answer cannot be lost to the reset of
     * a connection it closed with the body unread (pacsd and most servers answer at once). */
    struct curl_slist *h = curl_slist_append(*hdrs, "Expect: 100-continue");
    if (!h) {
        return NULL; /* *hdrs is unchanged and still the caller's */
    }
    *hdrs = h;
    if (c->key[0]) {
        char auth[KEY_CAP + 32];
        snprintf(auth, sizeof auth, "Authorization: Bearer %s", c->key);
        h = curl_slist_append(*hdrs, auth); /* curl keeps a copy */
        memset(auth, 0, sizeof auth);
        if (!h) {
            return NULL;
        }
    }
    CURL *e = curl_easy_init();
    if (!e) {
        return NULL;
    }
    memset(ans, 0, sizeof *ans);
    curl_easy_setopt(e, CURLOPT_URL, url);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, write_answer);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, ans);
    curl_easy_setopt(e, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(e, CURLOPT_XFERINFOFUNCTION, progress);
    curl_easy_setopt(e, CURLOPT_XFERINFODATA, c);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, 30L);
    /* A link that carries nothing for `timeout` seconds is given up; a slow one is not. */
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, c->timeout);
    curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
    if (c->d->ca[0]) {
        curl_easy_setopt(e, CURLOPT_CAINFO, c->d->ca);
    }
    return e;
}

int pacs_http_client_refused(long status)
{
    return status == 401 || status == 403;
}

int pacs_http_client_judge(const pacs_http_client *c, CURLcode rc, long status, char *why,
                           size_t cap)
{
    /* A server that refuses the key may answer before it has read the body and close: curl
     * then reports a send error, but the status it read is the reason. */
    if (pacs_http_client_refused(status)) {
        snprintf(why, cap, "HTTP %ld: the server refused %s.%s's key", status, c->kind, c->d->name);
        return 1;
    }
    if (status >= 500) {
        snprintf(why, cap, "HTTP %ld from the server", status);
        return 1;
    }
    if (rc != CURLE_OK) {
        snprintf(why, cap, "%s", curl_easy_strerror(rc));
        return 1;
    }
    snprintf(why, cap, "HTTP %ld from the server", status);
    return 0;
}

void pacs_http_answer_free(pacs_http_answer *ans)
{
    free(ans->data);
    memset(ans, 0, sizeof *ans);
}

void pacs_http_client_cancel(pacs_http_client *c)
{
    pthread_mutex_lock(&c->mu);
    c->cancelled = 1;
    pthread_mutex_unlock(&c->mu);
}

void pacs_http_client_free(pacs_http_client *c)
{
    if (!c) {
        return;
    }
    memset(c->key, 0, sizeof c->key);
    if (c->curl_ready) {
        curl_global_cleanup();
    }
    pthread_mutex_destroy(&c->mu);
    free(c);
}

pacs_err pacs_http_clients_open(const pacs_config *cfg, pacs_dest_kind kind, pacs_http_clients *out,
                                pacs_errinfo *ei)
{
    size_t n = pacs_config_web_count(cfg);
    pacs_http_clients set = {n ? calloc(n, sizeof *set.v) : NULL, 0};
    if (n && !set.v) {
        return pacs_errf(ei, PACS_ENOMEM, "out of memory");
    }
    long timeout = pacs_config_int(cfg, "dimse.timeout");
    for (size_t i = 0; i < n; i++) {
        const pacs_web_dest *d = pacs_config_web_at(cfg, i);
        if (d->kind != kind) {
            continue;
        }
        pacs_err err = pacs_http_client_new(d, timeout, &set.v[set.n], ei);
        if (err != PACS_OK) {
            pacs_http_clients_close(&set);
            return err;
        }
        set.n++;
    }
    *out = set;
    return PACS_OK;
}

pacs_http_client *pacs_http_clients_find(const pacs_http_clients *set, const char *name)
{
    for (size_t i = 0; i < set->n; i++) {
        if (strcmp(set->v[i]->d->name, name) == 0) {
            return set->v[i];
        }
    }
    return NULL;
}

void pacs_http_clients_cancel(pacs_http_clients *set)
{
    for (size_t i = 0; i < set->n; i++) {
        pacs_http_client_cancel(set->v[i]);
    }
}

void pacs_http_clients_close(pacs_http_clients *set)
{
    for (size_t i = 0; i < set->n; i++) {
        pacs_http_client_free(set->v[i]);
    }
    free(set->v);
    set->v = NULL;
    set->n = 0;
}
