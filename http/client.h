// SPDX-License-Identifier: MIT
/*
 * The HTTP client the forwarding senders share (dicomweb/sender.c: STOW-RS to `web.NAME`;
 * fhir/push.c: FHIR PUTs to `ehr.NAME`), over libcurl: one per destination, holding its bearer
 * key (read from the key file once, never logged), its CA file, the time a silent link is given
 * up after, and a cancel flag that cuts a request in progress short. An answer is read into a
 * capped buffer. What each request carries (method, body, content type) is the sender's.
 *
 * Thread-safe: a client is used by one sending thread; cancel from any thread.
 */
#ifndef PACS_HTTP_CLIENT_H
#define PACS_HTTP_CLIENT_H

#include <curl/curl.h>
#include <stddef.h>

#include "pacs/base/config.h"
#include "pacs/base/err.h"

/** Longest answer body kept; the status of a longer answer still counts. */
#define PACS_HTTP_ANSWER_CAP (1u << 20)

typedef struct pacs_http_client pacs_http_client;

/** An answer's body (NUL-terminated when not NULL) and whether it was cut at the cap. */
typedef struct pacs_http_answer {
    char *data;
    size_t n;
    int too_big;
} pacs_http_answer;

/**
 * A client for destination `d` (borrowed). Reads the key file now: PACS_EINVAL, naming the
 * destination and the file (never the key), when it cannot be read or holds no key on its
 * first line.
 */
pacs_err pacs_http_client_new(const pacs_web_dest *d, long timeout, pacs_http_client **out,
                              pacs_errinfo *ei);

/** The clients of every destination of one kind, as a sender holds them. */
typedef struct pacs_http_clients {
    pacs_http_client **v;
    size_t n;
} pacs_http_clients;

/** Opens a client for each destination of `kind` in `cfg` (borrowed), with dimse.timeout as
 *  the silent link's limit. The errors of pacs_http_client_new; nothing stays open then. */
pacs_err pacs_http_clients_open(const pacs_config *cfg, pacs_dest_kind kind, pacs_http_clients *out,
                                pacs_errinfo *ei);

/** The client of destination `name`, or NULL. */
pacs_http_client *pacs_http_clients_find(const pacs_http_clients *set, const char *name);

/** pacs_http_client_cancel on each. */
void pacs_http_clients_cancel(pacs_http_clients *set);

/** Frees each and the set's array (the set itself is the caller's). */
void pacs_http_clients_close(pacs_http_clients *set);

/** Its destination. */
const pacs_web_dest *pacs_http_client_dest(const pacs_http_client *c);

/**
 * A new easy handle for `url` with the destination's settings: `*hdrs` (the caller's list,
 * freed by the caller) gets the bearer key and an empty Expect; the answer is read into `ans`
 * (released with pacs_http_answer_free); CA, protocols (http, https), connect and low-speed
 * timeouts and the cancel flag are set. The caller adds the method and body, performs and
 * cleans it up. NULL when out of memory.
 */
CURL *pacs_http_client_easy(pacs_http_client *c, const char *url, struct curl_slist **hdrs,
                            pacs_http_answer *ans);

/**
 * What a request's outcome means for the destination: writes it into `why` ("HTTP 500 from
 * the server", curl's error, "... refused web.NAME's key"; never the key) and returns 1 when
 * the destination is down or refuses us (no HTTP answer, 5xx, 401/403: the caller logs those
 * as ERROR), 0 otherwise. Which statuses are success is the caller's to say.
 */
int pacs_http_client_judge(const pacs_http_client *c, CURLcode rc, long status, char *why,
                           size_t cap);

/** True for 401 and 403: the key was refused. */
int pacs_http_client_refused(long status);

void pacs_http_answer_free(pacs_http_answer *ans);

/** Cuts a request in progress short, and every later one (the server is stopping). */
void pacs_http_client_cancel(pacs_http_client *c);

/** Frees it, wiping the key. NULL is accepted. */
void pacs_http_client_free(pacs_http_client *c);

#endif
