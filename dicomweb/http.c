// SPDX-License-Identifier: MIT
/*
 * The HTTP server and router (http.h) on libmicrohttpd 0.9.75. libmicrohttpd runs a pool of
 * `http.threads` threads, each with its own epoll set; a connection stays on one thread, so a
 * request's handler calls, body callbacks and response producer all run on that thread. The
 * request context is created in the URI-log callback (the only place libmicrohttpd shows the
 * raw, undecoded URI with its query string) and freed in the completion callback, which
 * libmicrohttpd calls for finished, failed and timed-out requests alike.
 *
 * Load: every DICOMweb request passes through here. Streaming responses are produced in pieces
 * of up to 256 KiB when the socket can take them; JSON is gzip-compressed (zlib) when the
 * client says it accepts gzip.
 */
#include "dicomweb/http.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <zlib.h>

#include "dicomweb/gate.h"
#include "dicomweb/qido.h"
#include "dicomweb/stow.h"
#include "dicomweb/viewer.h"
#include "dicomweb/wado.h"
#include "pacs/base/log.h"
#include "pacs/dicom/part10.h"
#include "storage/audit.h"

#define ARENA_MAX (1u << 20)
#define GZIP_MIN 860 /* smaller bodies gain nothing from compression */
#define MAX_SEGMENTS 16
#define MAX_EXTRA_HEADERS 8

struct pacs_http_server {
    struct MHD_Daemon *d;
    const pacs_config *cfg;
    pacs_archive *archive;
    char prefix[256];
    size_t prefix_len;
    char public_url[512];
    char fallback_host[300];
    uint64_t max_body;
    atomic_ulong next_id;
    char *tls_key, *tls_cert;          /* PEM text for HTTPS (http.tls), else NULL */
    struct MHD_OptionItem tls_opts[4]; /* their libmicrohttpd options; zero: none */
    pacs_auth *auth;
    pacs_viewer *viewer; /* /viewer and /share (viewer.h) */
};

typedef struct extra_header {
    const char *name, *value;
} extra_header;

struct pacs_http_req {
    pacs_http_server *s;
    struct MHD_Connection *conn;
    pacs_arena *ar;
    unsigned long id;
    const char *raw_uri;
    const char *path; /* below the prefix, still encoded */
    size_t path_len;
    pacs_http_method method;
    const char *method_name;
    pacs_params params;
    char *base_url;
    int started;
    int dispatched;
    int answered;
    unsigned status;
    int gzip_ok;
    const char *origin; /* an allowed Origin, for CORS headers */
    extra_header extra[MAX_EXTRA_HEADERS];
    size_t n_extra;
    const pacs_http_body_ops *body;
    void *body_ctx;
    uint64_t body_seen;
    int body_failed;
    pacs_principal principal;
    char peer[64];
    int audit_action;        /* PACS_AUDIT_* + 1 for a request the trail records; 0: none */
    const char *audit_study; /* the study it names, or NULL */
};

/* ---- routing ---- */

static int is_word(const char *s, const char *w)
{
    return strcmp(s, w) == 0;
}

pacs_err pacs_http_route_parse(const char *path, size_t len, pacs_arena *ar, pacs_http_route *rt,
                               pacs_errinfo *ei)
{
    memset(rt, 0, sizeof *rt);
    const char *seg[MAX_SEGMENTS];
    size_t nseg = 0, i = 0;
    if (len == 0 || path[0] != '/') {
        return pacs_errf(ei, PACS_ENOTFOUND, "no such resource");
    }
    i = 1;
    while (i <= len) {
        const char *slash = memchr(path + i, '/', len - i);
        size_t end = slash ? (size_t)(slash - path) : len;
        if (nseg == MAX_SEGMENTS) {
            return pacs_errf(ei, PACS_ENOTFOUND, "no such resource");
        }
        char *s = pacs_url_decode(ar, path + i, end - i, 0);
        if (!s) {
            return pacs_errf(ei, PACS_EINVAL, "malformed %%-escape in the path");
        }
        seg[nseg++] = s;
        i = end + 1;
        if (!slash) {
            break;
        }
    }
    if (nseg > 1 && seg[nseg - 1][0] == '\0') {
        nseg--; /* one trailing '/' is tolerated */
    }
    if (nseg == 0 || seg[0][0] == '\0') {
        return pacs_errf(ei, PACS_ENOTFOUND, "no such resource");
    }
    if (nseg == 1) {
        if (is_word(seg[0], "studies")) {
            rt->kind = PACS_ROUTE_STUDIES;
        } else if (is_word(seg[0], "series")) {
            rt->kind = PACS_ROUTE_SERIES;
        } else if (is_word(seg[0], "instances")) {
            rt->kind = PACS_ROUTE_INSTANCES;
        } else if (is_word(seg[0], "wado")) {
            rt->kind = PACS_ROUTE_WADO_URI;
        } else {
            return pacs_errf(ei, PACS_ENOTFOUND, "no such resource");
        }
        return PACS_OK;
    }
    if (!is_word(seg[0], "studies")) {
        return pacs_errf(ei, PACS_ENOTFOUND, "no such resource");
    }
    /* /studies/{st}[/series/{se}[/instances/{sop}]] then an optional tail. */
    const char **uids[3] = {&rt->study, &rt->series, &rt->sop};
    static const char *const names[3] = {"studies", "series", "instances"};
    size_t k = 0, level = 0;
    while (k < nseg && level < 3 && is_word(seg[k], names[level])) {
        if (k + 1 >= nseg) {
            /* A collection: /studies/{st}/series or .../instances. */
            rt->kind = level == 1 ? PACS_ROUTE_SERIES : PACS_ROUTE_INSTANCES;
            return level == 0 ? pacs_errf(ei, PACS_ENOTFOUND, "no such resource") : PACS_OK;
        }
        if (!pacs_uid_valid(seg[k + 1])) {
            return pacs_errf(ei, PACS_EINVAL, "'%.64s' is not a valid UID", seg[k + 1]);
        }
        *uids[level] = seg[k + 1];
        k += 2;
        level++;
    }
    if (k == nseg) {
        rt->kind = PACS_ROUTE_RESOURCE;
        return PACS_OK;
    }
    const char *tail = seg[k];
    if (level == 1 && is_word(tail, "instances") && k + 1 == nseg) {
        rt->kind = PACS_ROUTE_INSTANCES;
        return PACS_OK;
    }
    if (k + 1 == nseg && is_word(tail, "metadata")) {
        rt->kind = PACS_ROUTE_METADATA;
        return PACS_OK;
    }
    if (k + 1 == nseg && (is_word(tail, "rendered") || is_word(tail, "thumbnail"))) {
        rt->kind = PACS_ROUTE_RENDERED;
        rt->thumbnail = is_word(tail, "thumbnail");
        return PACS_OK;
    }
    if (level == 3 && is_word(tail, "frames") && k + 2 <= nseg && k + 3 >= nseg) {
        rt->arg = seg[k + 1];
        if (k + 3 == nseg) {
            if (!is_word(seg[k + 2], "rendered") && !is_word(seg[k + 2], "thumbnail")) {
                return pacs_errf(ei, PACS_ENOTFOUND, "no such resource");
            }
            rt->kind = PACS_ROUTE_RENDERED;
            rt->thumbnail = is_word(seg[k + 2], "thumbnail");
            return PACS_OK;
        }
        rt->kind = PACS_ROUTE_FRAMES;
        return PACS_OK;
    }
    if (level == 3 && is_word(tail, "bulkdata") && k + 1 < nseg) {
        size_t total = 0;
        for (size_t j = k + 1; j < nseg; j++) {
            total += strlen(seg[j]) + 1;
        }
        char *arg = pacs_arena_alloc(ar, total + 1);
        if (!arg) {
            return pacs_errf(ei, PACS_ENOMEM, "out of memory");
        }
        for (size_t j = k + 1; j < nseg; j++) {
            if (j > k + 1) {
                strcat(arg, "/");
            }
            strcat(arg, seg[j]);
        }
        rt->arg = arg;
        rt->kind = PACS_ROUTE_BULKDATA;
        return PACS_OK;
    }
    return pacs_errf(ei, PACS_ENOTFOUND, "no such resource");
}

/* ---- accessors ---- */

pacs_http_method pacs_http_method_of(const pacs_http_req *r)
{
    return r->method;
}

pacs_arena *pacs_http_arena(pacs_http_req *r)
{
    return r->ar;
}

const pacs_params *pacs_http_params(const pacs_http_req *r)
{
    return &r->params;
}

pacs_archive *pacs_http_archive(pacs_http_req *r)
{
    return r->s->archive;
}

const pacs_config *pacs_http_config(const pacs_http_req *r)
{
    return r->s->cfg;
}

const char *pacs_http_header(pacs_http_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

const char *pacs_http_base_url(const pacs_http_req *r)
{
    return r->base_url;
}

unsigned long pacs_http_id(const pacs_http_req *r)
{
    return r->id;
}

const pacs_principal *pacs_http_principal(const pacs_http_req *r)
{
    return &r->principal;
}

const char *pacs_http_peer(pacs_http_req *r)
{
    if (!r->peer[0]) {
        const union MHD_ConnectionInfo *ci =
            r->conn ? MHD_get_connection_info(r->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS) : NULL;
        const struct sockaddr *sa = ci ? ci->client_addr : NULL;
        const char *ok = NULL;
        if (sa && sa->sa_family == AF_INET) {
            ok = inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr,
                           r->peer, sizeof r->peer);
        } else if (sa && sa->sa_family == AF_INET6) {
            ok = inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr,
                           r->peer, sizeof r->peer);
        }
        if (!ok) {
            snprintf(r->peer, sizeof r->peer, "?");
        }
    }
    return r->peer;
}

int pacs_http_accepts_gzip(const pacs_http_req *r)
{
    return r->gzip_ok;
}

void pacs_http_boundary(char *buf, size_t cap)
{
    unsigned char rnd[16];
    if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd) {
        static atomic_ulong fallback;
        unsigned long v = atomic_fetch_add(&fallback, 1) * 2654435761u;
        for (size_t i = 0; i < sizeof rnd; i++) {
            rnd[i] = (unsigned char)(v >> (i % 8));
        }
    }
    size_t o = 0;
    for (size_t i = 0; i < sizeof rnd && o + 2 < cap; i++) {
        o += (size_t)snprintf(buf + o, cap - o, "%02x", rnd[i]);
    }
}

/* ---- answers ---- */

unsigned pacs_http_status_of(pacs_err err)
{
    switch (err) {
    case PACS_OK:
        return 200;
    case PACS_ENOTFOUND:
        return 404;
    case PACS_EINVAL:
    case PACS_EBADDATA:
        return 400;
    case PACS_ETOOBIG:
        return 413;
    case PACS_EUNSUPPORTED:
        return 406;
    case PACS_ECONFLICT:
    case PACS_EEXIST:
        return 409;
    case PACS_EDENIED:
        return 403;
    case PACS_EBUSY:
    case PACS_ENOSPC:
    case PACS_ETIMEOUT:
        return 503;
    default:
        return 500;
    }
}

void pacs_http_add_header(pacs_http_req *r, const char *name, const char *value)
{
    if (r->n_extra == MAX_EXTRA_HEADERS) {
        return;
    }
    const char *n = pacs_arena_strndup(r->ar, name, strlen(name));
    const char *v = pacs_arena_strndup(r->ar, value, strlen(value));
    if (n && v) {
        r->extra[r->n_extra].name = n;
        r->extra[r->n_extra].value = v;
        r->n_extra++;
    }
}

static void add_cors(pacs_http_req *r, struct MHD_Response *resp)
{
    if (!r->origin) {
        return;
    }
    MHD_add_response_header(resp, "Access-Control-Allow-Origin", r->origin);
    MHD_add_response_header(resp, "Access-Control-Expose-Headers",
                            "Content-Type, Content-Length, Content-Location, Content-Encoding, "
                            "Warning");
    if (strcmp(r->origin, "*") != 0) {
        MHD_add_response_header(resp, "Vary", "Origin");
    }
}

/* ---- the audit trail: one line per authorised QIDO, WADO, STOW or DELETE request ---- */

/* What the trail will record for this request once it is answered (gate.c records refusals). */
static void audit_plan(pacs_http_req *r, const pacs_http_route *rt)
{
    int get = r->method == PACS_HTTP_GET;
    int action = -1;
    switch (rt->kind) {
    case PACS_ROUTE_STUDIES:
        action = get ? PACS_AUDIT_QUERY : r->method == PACS_HTTP_POST ? PACS_AUDIT_STORE : -1;
        break;
    case PACS_ROUTE_SERIES:
    case PACS_ROUTE_INSTANCES:
        action = get ? PACS_AUDIT_QUERY : -1;
        break;
    case PACS_ROUTE_RESOURCE:
        action = get                             ? PACS_AUDIT_RETRIEVE
                 : r->method == PACS_HTTP_POST   ? PACS_AUDIT_STORE
                 : r->method == PACS_HTTP_DELETE ? PACS_AUDIT_DELETE
                                                 : -1;
        break;
    case PACS_ROUTE_METADATA:
    case PACS_ROUTE_FRAMES:
    case PACS_ROUTE_BULKDATA:
    case PACS_ROUTE_RENDERED:
    case PACS_ROUTE_WADO_URI:
        action = get ? PACS_AUDIT_RETRIEVE : -1;
        break;
    default:
        break;
    }
    r->audit_action = action + 1;
    r->audit_study =
        rt->kind == PACS_ROUTE_WADO_URI ? pacs_params_get(&r->params, "studyUID") : rt->study;
    if (!r->audit_study && action == PACS_AUDIT_QUERY) {
        r->audit_study = pacs_params_get(&r->params, "StudyInstanceUID");
    }
}

static void audit_request(pacs_http_req *r, unsigned status)
{
    pacs_audit_action action = (pacs_audit_action)(r->audit_action - 1);
    r->audit_action = 0;
    char detail[512];
    int used = snprintf(detail, sizeof detail, "%s %.*s status=%u", r->method_name,
                        (int)(r->path_len < 300 ? r->path_len : 300), r->path, status);
    const char *patient = NULL;
    if (action == PACS_AUDIT_QUERY) {
        /* The keys asked for, never their values (names, birth dates). */
        for (size_t i = 0; i < r->params.n && used > 0 && (size_t)used + 70 < sizeof detail; i++) {
            used += snprintf(detail + used, sizeof detail - (size_t)used, "%s%.64s",
                             i ? "," : " keys=", r->params.v[i].name);
        }
        patient = pacs_params_get(&r->params, "PatientID");
        if (!patient) {
            patient = pacs_params_get(&r->params, "00100020");
        }
    }
    pacs_audit_event ev = {
        .action = action,
        .success = status >= 200 && status < 300,
        .protocol = "http",
        .who = r->principal.name[0] ? r->principal.name : "anonymous",
        .from = pacs_http_peer(r),
        .study_uid = r->audit_study,
        .patient_id = patient && patient[0] && !strpbrk(patient, "*?") ? patient : NULL,
        .detail = detail,
    };
    pacs_audit_record(&ev);
}

/* Queues `resp` (consumed) with our common headers. */
static void queue(pacs_http_req *r, unsigned status, struct MHD_Response *resp,
                  const char *content_type)
{
    if (!resp) {
        pacs_log(PACS_LOG_ERROR, "http", "req=%lu cannot create a response", r->id);
        r->answered = 1;
        r->status = 500;
        return;
    }
    if (content_type) {
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, content_type);
    }
    for (size_t i = 0; i < r->n_extra; i++) {
        MHD_add_response_header(resp, r->extra[i].name, r->extra[i].value);
    }
    add_cors(r, resp);
    if (r->audit_action) {
        audit_request(r, status); /* before the answer leaves */
    }
    if (MHD_queue_response(r->conn, status, resp) != MHD_YES) {
        pacs_log(PACS_LOG_WARN, "http", "req=%lu cannot queue the response", r->id);
    }
    MHD_destroy_response(resp);
    r->answered = 1;
    r->status = status;
}

/* gzip of a whole buffer; NULL when it fails (the caller sends it plain). */
static char *gzip_buf(const char *data, size_t len, size_t *out_len)
{
    z_stream z;
    memset(&z, 0, sizeof z);
    if (deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK) {
        return NULL;
    }
    size_t cap = deflateBound(&z, (uLong)len) + 32;
    char *out = malloc(cap);
    if (!out) {
        deflateEnd(&z);
        return NULL;
    }
    z.next_in = (Bytef *)(uintptr_t)data;
    z.avail_in = (uInt)len;
    z.next_out = (Bytef *)out;
    z.avail_out = (uInt)cap;
    int rc = deflate(&z, Z_FINISH);
    *out_len = z.total_out;
    deflateEnd(&z);
    if (rc != Z_STREAM_END) {
        free(out);
        return NULL;
    }
    return out;
}

void pacs_http_send_buf(pacs_http_req *r, unsigned status, const char *content_type, pacs_buf *body,
                        int json)
{
    size_t len = 0;
    char *data = pacs_buf_take(body, &len);
    if (json && r->gzip_ok && len >= GZIP_MIN && len <= UINT32_MAX) {
        size_t zlen = 0;
        char *z = gzip_buf(data, len, &zlen);
        if (z) {
            free(data);
            data = z;
            len = zlen;
            pacs_http_add_header(r, MHD_HTTP_HEADER_CONTENT_ENCODING, "gzip");
        }
    }
    if (json) {
        pacs_http_add_header(r, MHD_HTTP_HEADER_VARY, "Accept-Encoding");
    }
    struct MHD_Response *resp = MHD_create_response_from_buffer(
        len, data ? data : (char *)"", data ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
    if (!resp) {
        free(data);
    }
    queue(r, status, resp, content_type);
}

void pacs_http_send_error(pacs_http_req *r, unsigned status, const char *fmt, ...)
{
    char msg[600];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    for (char *p = msg; *p; p++) {
        if ((unsigned char)*p < 0x20) {
            *p = ' ';
        }
    }
    /* A 4xx message may quote what the client sent (a birth date in a bad range, say), so it
     * is logged at DEBUG only; 5xx messages are ours. */
    pacs_log(status >= 500 ? PACS_LOG_WARN : PACS_LOG_DEBUG, "http", "req=%lu %s %.*s status=%u %s",
             r->id, r->method_name, (int)(r->path_len > 300 ? 300 : r->path_len), r->path, status,
             msg);
    pacs_buf b;
    pacs_buf_init(&b, sizeof msg + 8);
    pacs_buf_printf(&b, "%s\n", msg);
    size_t len = 0;
    char *data = pacs_buf_take(&b, &len);
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(data ? len : 0, data ? data : (char *)"",
                                        data ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
    if (!resp) {
        free(data);
    }
    queue(r, status, resp, "text/plain; charset=utf-8");
}

/* ---- streamed responses ---- */

typedef struct stream {
    unsigned long req_id;
    pacs_http_produce_fn produce;
    void *ctx;
    void (*release)(void *ctx);
    pacs_buf raw; /* produced bytes */
    pacs_buf out; /* what goes to the socket (raw, or compressed) */
    size_t pos;   /* sent from `out` */
    int eof;
    int gzip;
    int z_open;
    z_stream z;
} stream;

#define STREAM_PIECE_MAX (64u << 20)

static pacs_err deflate_into(stream *st, const char *data, size_t len, int finish, pacs_errinfo *ei)
{
    st->z.next_in = (Bytef *)(uintptr_t)data;
    st->z.avail_in = (uInt)len;
    for (;;) {
        char chunk[65536];
        st->z.next_out = (Bytef *)chunk;
        st->z.avail_out = sizeof chunk;
        int rc = deflate(&st->z, finish ? Z_FINISH : Z_NO_FLUSH);
        if (rc == Z_STREAM_ERROR) {
            return pacs_errf(ei, PACS_EIO, "gzip failed");
        }
        size_t have = sizeof chunk - st->z.avail_out;
        if (have && pacs_buf_append(&st->out, chunk, have) != PACS_OK) {
            return pacs_errf(ei, PACS_ENOMEM, "out of memory");
        }
        if (finish ? rc == Z_STREAM_END : (st->z.avail_in == 0 && st->z.avail_out != 0)) {
            return PACS_OK;
        }
    }
}

static ssize_t stream_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    stream *st = cls;
    while (st->pos >= st->out.len) {
        if (st->eof) {
            return MHD_CONTENT_READER_END_OF_STREAM;
        }
        pacs_buf_reset(&st->out);
        st->pos = 0;
        pacs_buf *dst = st->gzip ? &st->raw : &st->out;
        pacs_buf_reset(dst);
        pacs_errinfo ei;
        pacs_err err = st->produce(st->ctx, dst, &st->eof, &ei);
        if (err == PACS_OK && st->gzip) {
            err = deflate_into(st, st->raw.data, st->raw.len, st->eof, &ei);
        }
        if (err != PACS_OK) {
            pacs_log(PACS_LOG_WARN, "http", "req=%lu response aborted: %s", st->req_id, ei.msg);
            return MHD_CONTENT_READER_END_WITH_ERROR;
        }
    }
    size_t n = st->out.len - st->pos;
    if (n > max) {
        n = max;
    }
    memcpy(buf, st->out.data + st->pos, n);
    st->pos += n;
    return (ssize_t)n;
}

static void stream_free(void *cls)
{
    stream *st = cls;
    if (st->release) {
        st->release(st->ctx);
    }
    if (st->z_open) {
        deflateEnd(&st->z);
    }
    pacs_buf_free(&st->raw);
    pacs_buf_free(&st->out);
    free(st);
}

void pacs_http_send_stream(pacs_http_req *r, unsigned status, const char *content_type,
                           uint64_t size, int json, pacs_http_produce_fn produce, void *ctx,
                           void (*release)(void *ctx))
{
    stream *st = calloc(1, sizeof *st);
    if (!st) {
        if (release) {
            release(ctx);
        }
        pacs_http_send_error(r, 500, "out of memory");
        return;
    }
    st->req_id = r->id;
    st->produce = produce;
    st->ctx = ctx;
    st->release = release;
    pacs_buf_init(&st->raw, STREAM_PIECE_MAX);
    pacs_buf_init(&st->out, STREAM_PIECE_MAX);
    if (json && r->gzip_ok &&
        deflateInit2(&st->z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) == Z_OK) {
        st->gzip = 1;
        st->z_open = 1;
        size = MHD_SIZE_UNKNOWN;
        pacs_http_add_header(r, MHD_HTTP_HEADER_CONTENT_ENCODING, "gzip");
    }
    if (json) {
        pacs_http_add_header(r, MHD_HTTP_HEADER_VARY, "Accept-Encoding");
    }
    struct MHD_Response *resp = MHD_create_response_from_callback(
        size == UINT64_MAX ? MHD_SIZE_UNKNOWN : size, 256 * 1024, stream_read, st, stream_free);
    if (!resp) {
        stream_free(st);
    }
    queue(r, status, resp, content_type);
}

typedef struct filler {
    unsigned long req_id;
    pacs_http_fill_fn fill;
    void *ctx;
    void (*release)(void *ctx);
    int eof;
} filler;

static ssize_t fill_read(void *cls, uint64_t pos, char *buf, size_t max)
{
    (void)pos;
    filler *f = cls;
    if (f->eof) {
        return MHD_CONTENT_READER_END_OF_STREAM;
    }
    size_t n = 0;
    pacs_errinfo ei;
    if (f->fill(f->ctx, buf, max, &n, &f->eof, &ei) != PACS_OK) {
        pacs_log(PACS_LOG_WARN, "http", "req=%lu response aborted: %s", f->req_id, ei.msg);
        return MHD_CONTENT_READER_END_WITH_ERROR;
    }
    if (n == 0) {
        return f->eof ? MHD_CONTENT_READER_END_OF_STREAM : MHD_CONTENT_READER_END_WITH_ERROR;
    }
    return (ssize_t)n;
}

static void fill_free(void *cls)
{
    filler *f = cls;
    if (f->release) {
        f->release(f->ctx);
    }
    free(f);
}

void pacs_http_send_fill(pacs_http_req *r, unsigned status, const char *content_type, uint64_t size,
                         pacs_http_fill_fn fill, void *ctx, void (*release)(void *ctx))
{
    filler *f = calloc(1, sizeof *f);
    if (!f) {
        if (release) {
            release(ctx);
        }
        pacs_http_send_error(r, 500, "out of memory");
        return;
    }
    f->req_id = r->id;
    f->fill = fill;
    f->ctx = ctx;
    f->release = release;
    struct MHD_Response *resp =
        MHD_create_response_from_callback(size, 1024 * 1024, fill_read, f, fill_free);
    if (!resp) {
        fill_free(f);
    }
    queue(r, status, resp, content_type);
}

void pacs_http_expect_body(pacs_http_req *r, const pacs_http_body_ops *ops, void *ctx)
{
    r->body = ops;
    r->body_ctx = ctx;
}

/* ---- the request cycle ---- */

static void *uri_log(void *cls, const char *uri, struct MHD_Connection *conn)
{
    (void)conn;
    pacs_http_server *s = cls;
    pacs_arena *ar = pacs_arena_new(ARENA_MAX);
    if (!ar) {
        return NULL;
    }
    pacs_http_req *r = pacs_arena_alloc(ar, sizeof *r);
    if (!r) {
        pacs_arena_free(ar);
        return NULL;
    }
    r->s = s;
    r->ar = ar;
    r->id = atomic_fetch_add(&s->next_id, 1) + 1;
    r->raw_uri = pacs_arena_strndup(ar, uri, strlen(uri));
    r->path = "";
    r->method_name = "?";
    return r;
}

static void completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                      enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    pacs_http_req *r = *con_cls;
    if (!r) {
        return;
    }
    if (r->body && r->body->release) {
        r->body->release(r->body_ctx);
    }
    if (toe != MHD_REQUEST_TERMINATED_COMPLETED_OK &&
        toe != MHD_REQUEST_TERMINATED_DAEMON_SHUTDOWN) {
        pacs_log(PACS_LOG_DEBUG, "http", "req=%lu %s %.*s ended early (code %d)", r->id,
                 r->method_name, (int)(r->path_len > 300 ? 300 : r->path_len), r->path, (int)toe);
    } else {
        pacs_log(PACS_LOG_DEBUG, "http", "req=%lu %s %.*s status=%u", r->id, r->method_name,
                 (int)(r->path_len > 300 ? 300 : r->path_len), r->path, r->status);
    }
    pacs_arena_free(r->ar);
    *con_cls = NULL;
}

/* True when `origin` is allowed by http.cors_origins ("*" or a comma list). */
static const char *cors_origin(pacs_http_req *r)
{
    const char *origin = pacs_http_header(r, "Origin");
    const char *allowed = pacs_config_str(r->s->cfg, "http.cors_origins");
    if (!origin || !allowed[0]) {
        return NULL;
    }
    for (const char *p = origin; *p; p++) {
        if ((unsigned char)*p < 0x21 || *p == ',' || (unsigned char)*p >= 0x7f) {
            return NULL;
        }
    }
    size_t olen = strlen(origin);
    const char *p = allowed;
    while (*p) {
        while (*p == ' ' || *p == ',') {
            p++;
        }
        const char *e = p;
        while (*e && *e != ',' && *e != ' ') {
            e++;
        }
        size_t n = (size_t)(e - p);
        if (n == 1 && *p == '*') {
            return "*";
        }
        if (n == olen && strncasecmp(p, origin, n) == 0) {
            return pacs_arena_strndup(r->ar, origin, olen);
        }
        p = e;
    }
    return NULL;
}

/* True when Accept-Encoding admits gzip (listed, and not with q=0). */
static int accepts_gzip(const char *ae)
{
    const char *p = ae ? strcasestr(ae, "gzip") : NULL;
    if (!p) {
        return 0;
    }
    p += 4;
    while (*p == ' ' || *p == '\t') {
        p++;
    }
    if (*p != ';') {
        return 1;
    }
    p++;
    while (*p == ' ' || *p == '\t') {
        p++;
    }
    if ((p[0] != 'q' && p[0] != 'Q') || p[1] != '=') {
        return 1;
    }
    return strtod(p + 2, NULL) > 0.0;
}

static int host_ok(const char *h)
{
    size_t n = strlen(h);
    if (n == 0 || n > 255) {
        return 0;
    }
    for (const char *p = h; *p; p++) {
        if (!isalnum((unsigned char)*p) && !strchr(".-:[]_", *p)) {
            return 0;
        }
    }
    return 1;
}

static void preflight(pacs_http_req *r)
{
    struct MHD_Response *resp =
        MHD_create_response_from_buffer(0, (char *)"", MHD_RESPMEM_PERSISTENT);
    if (!resp) {
        return;
    }
    MHD_add_response_header(resp, "Allow", "GET, HEAD, POST, DELETE, OPTIONS");
    if (r->origin) {
        MHD_add_response_header(resp, "Access-Control-Allow-Methods",
                                "GET, HEAD, POST, DELETE, OPTIONS");
        const char *want = pacs_http_header(r, "Access-Control-Request-Headers");
        int sane = want && strlen(want) < 1024;
        for (const char *p = want; sane && *p; p++) {
            sane = isalnum((unsigned char)*p) || strchr("-_, ", *p);
        }
        MHD_add_response_header(resp, "Access-Control-Allow-Headers",
                                sane ? want : "Accept, Content-Type, Authorization");
        MHD_add_response_header(resp, "Access-Control-Max-Age", "600");
    }
    queue(r, 204, resp, NULL);
}

static void dispatch(pacs_http_req *r)
{
    pacs_errinfo ei;
    pacs_http_route rt;
    const char *q = strchr(r->raw_uri, '?');
    size_t full_len = q ? (size_t)(q - r->raw_uri) : strlen(r->raw_uri);
    size_t pl = r->s->prefix_len;
    if (pacs_viewer_owns(r->raw_uri, full_len)) {
        r->path = r->raw_uri;
        r->path_len = full_len;
        pacs_viewer_serve(r->s->viewer, r, r->raw_uri, full_len, q ? q + 1 : NULL);
        return;
    }
    if (full_len < pl || strncmp(r->raw_uri, r->s->prefix, pl) != 0 ||
        (full_len > pl && r->raw_uri[pl] != '/')) {
        r->path = r->raw_uri;
        r->path_len = full_len;
        pacs_http_send_error(r, 404, "not found (DICOMweb is served under %s)",
                             r->s->prefix[0] ? r->s->prefix : "/");
        return;
    }
    r->path = r->raw_uri + pl;
    r->path_len = full_len - pl;
    if (q && pacs_params_parse(q + 1, strlen(q + 1), r->ar, &r->params, &ei) != PACS_OK) {
        pacs_http_send_error(r, 400, "%s", ei.msg);
        return;
    }
    if (r->method == PACS_HTTP_OPTIONS) {
        preflight(r);
        return;
    }
    if (!pacs_gate_authenticate(r, r->s->auth, &r->principal)) {
        return;
    }
    int shares = pacs_gate_is_shares(r->path, r->path_len);
    pacs_err err;
    if (r->path_len == 0 || (r->path_len == 1 && r->path[0] == '/')) {
        /* WADO-URI is also answered at the root, where old viewers send it. */
        if (pacs_params_get(&r->params, "requestType")) {
            memset(&rt, 0, sizeof rt);
            rt.kind = PACS_ROUTE_WADO_URI;
            err = PACS_OK;
        } else {
            err = pacs_errf(&ei, PACS_ENOTFOUND, "no such resource");
        }
    } else if (shares) {
        memset(&rt, 0, sizeof rt);
        err = PACS_OK;
    } else {
        err = pacs_http_route_parse(r->path, r->path_len, r->ar, &rt, &ei);
    }
    if (err != PACS_OK) {
        pacs_http_send_error(r, err == PACS_ENOTFOUND ? 404 : 400, "%s", ei.msg);
        return;
    }
    const char *host = pacs_http_header(r, MHD_HTTP_HEADER_HOST);
    if (r->s->public_url[0]) {
        r->base_url = r->s->public_url;
    } else {
        r->base_url =
            pacs_arena_printf(r->ar, "%s://%s%s", r->s->tls_cert ? "https" : "http",
                              host && host_ok(host) ? host : r->s->fallback_host, r->s->prefix);
    }
    if (!r->base_url) {
        pacs_http_send_error(r, 500, "out of memory");
        return;
    }
    if (shares) {
        pacs_gate_shares(r, r->s->auth, &r->principal, r->path, r->path_len);
        return;
    }
    if (!pacs_gate_authorize(r, &r->principal, &rt)) {
        return;
    }
    audit_plan(r, &rt);
    int get = r->method == PACS_HTTP_GET, post = r->method == PACS_HTTP_POST,
        del = r->method == PACS_HTTP_DELETE;
    switch (rt.kind) {
    case PACS_ROUTE_STUDIES:
        if (get) {
            pacs_qido_search(r, &rt);
        } else if (post) {
            pacs_stow_store(r, &rt);
        } else {
            pacs_http_add_header(r, "Allow", "GET, HEAD, POST, OPTIONS");
            pacs_http_send_error(r, 405, "method not allowed here");
        }
        return;
    case PACS_ROUTE_SERIES:
    case PACS_ROUTE_INSTANCES:
        if (get) {
            pacs_qido_search(r, &rt);
            return;
        }
        break;
    case PACS_ROUTE_RESOURCE:
        if (get) {
            pacs_wado_retrieve(r, &rt);
            return;
        }
        if (post && rt.study && !rt.series) {
            pacs_stow_store(r, &rt);
            return;
        }
        if (del) {
            pacs_stow_delete(r, &rt);
            return;
        }
        break;
    case PACS_ROUTE_METADATA:
        if (get) {
            pacs_wado_metadata(r, &rt);
            return;
        }
        break;
    case PACS_ROUTE_FRAMES:
        if (get) {
            pacs_wado_frames(r, &rt);
            return;
        }
        break;
    case PACS_ROUTE_BULKDATA:
        if (get) {
            pacs_wado_bulkdata(r, &rt);
            return;
        }
        break;
    case PACS_ROUTE_RENDERED:
        if (get) {
            pacs_wado_rendered(r, &rt);
            return;
        }
        break;
    case PACS_ROUTE_WADO_URI:
        if (get) {
            pacs_wado_uri(r);
            return;
        }
        break;
    default:
        break;
    }
    pacs_http_add_header(r, "Allow",
                         rt.kind == PACS_ROUTE_RESOURCE ? "GET, HEAD, DELETE, OPTIONS"
                                                        : "GET, HEAD, OPTIONS");
    pacs_http_send_error(r, 405, "method not allowed here");
}

static enum MHD_Result access_cb(void *cls, struct MHD_Connection *conn, const char *url,
                                 const char *method, const char *version, const char *upload_data,
                                 size_t *upload_data_size, void **con_cls)
{
    (void)cls;
    (void)url;
    (void)version;
    pacs_http_req *r = *con_cls;
    if (!r || !r->raw_uri) {
        return MHD_NO; /* out of memory in uri_log */
    }
    if (!r->started) {
        /* First call: headers only. Answering now would make libmicrohttpd 0.9.75 close the
         * connection after the answer, so requests are dispatched on the next call. */
        r->started = 1;
        r->conn = conn;
        r->method_name = method;
        if (strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0) {
            r->method = PACS_HTTP_GET;
        } else if (strcmp(method, "POST") == 0) {
            r->method = PACS_HTTP_POST;
        } else if (strcmp(method, "DELETE") == 0) {
            r->method = PACS_HTTP_DELETE;
        } else if (strcmp(method, "OPTIONS") == 0) {
            r->method = PACS_HTTP_OPTIONS;
        } else {
            r->method = PACS_HTTP_OTHER;
        }
        r->origin = cors_origin(r);
        r->gzip_ok = accepts_gzip(pacs_http_header(r, MHD_HTTP_HEADER_ACCEPT_ENCODING));
        const char *cl = pacs_http_header(r, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl && strtoull(cl, NULL, 10) > r->s->max_body) {
            /* Refused before the body is read; the connection closes after the answer. */
            pacs_http_send_error(r, 413, "request body larger than http.max_body_mb (%llu MiB)",
                                 (unsigned long long)(r->s->max_body >> 20));
            return MHD_YES;
        }
        /* A request with a body is dispatched now: a refusal can only be queued before the
         * body is read (or after all of it), and the handler must say whether it wants it. */
        int has_body = (cl && strtoull(cl, NULL, 10) > 0) ||
                       pacs_http_header(r, MHD_HTTP_HEADER_TRANSFER_ENCODING) != NULL;
        if (has_body) {
            r->dispatched = 1;
            dispatch(r);
            if (!r->answered && !r->body) {
                pacs_http_send_error(r, 500, "no answer");
            }
        }
        return MHD_YES;
    }
    if (r->answered) {
        *upload_data_size = 0; /* answered already: drop whatever body remains */
        return MHD_YES;
    }
    if (!r->dispatched) {
        r->dispatched = 1;
        if (r->method == PACS_HTTP_OTHER) {
            pacs_http_add_header(r, "Allow", "GET, HEAD, POST, DELETE, OPTIONS");
            pacs_http_send_error(r, 405, "method %.16s not allowed", method);
        } else {
            dispatch(r);
        }
        if (!r->answered && !r->body) {
            pacs_http_send_error(r, 500, "no answer");
        }
        if (r->answered) {
            *upload_data_size = 0;
            return MHD_YES;
        }
    }
    if (*upload_data_size > 0) {
        size_t n = *upload_data_size;
        *upload_data_size = 0;
        if (r->body_failed) {
            return MHD_YES;
        }
        r->body_seen += n;
        if (r->body_seen > r->s->max_body) {
            /* A chunked body past the limit: this libmicrohttpd cannot answer in the middle of
             * an upload, so the connection is closed. */
            pacs_log(PACS_LOG_INFO, "http", "req=%lu body exceeds http.max_body_mb: closing",
                     r->id);
            return MHD_NO;
        }
        if (r->body->data(r, r->body_ctx, upload_data, n) != PACS_OK) {
            r->body_failed = 1;
            return MHD_NO;
        }
        return MHD_YES;
    }
    r->body->end(r, r->body_ctx);
    if (!r->answered) {
        pacs_http_send_error(r, 500, "no answer");
    }
    return MHD_YES;
}

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char msg[512];
    vsnprintf(msg, sizeof msg, fmt, ap);
    size_t n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r')) {
        msg[--n] = '\0';
    }
    pacs_log(PACS_LOG_DEBUG, "http", "libmicrohttpd: %s", msg);
}

/* Reads a PEM file (at most 1 MiB) into a new NUL-terminated string. */
static pacs_err read_pem(const char *key, const char *path, char **out, pacs_errinfo *ei)
{
    FILE *f = fopen(path, "re");
    if (!f) {
        return pacs_errf(ei, PACS_EINVAL, "%s: cannot open %s", key, path);
    }
    size_t cap = 1u << 20;
    char *buf = malloc(cap + 1);
    size_t n = buf ? fread(buf, 1, cap + 1, f) : 0;
    fclose(f);
    if (!buf || n == 0 || n > cap || !strstr(buf, "-----BEGIN ")) {
        free(buf);
        return pacs_errf(ei, PACS_EINVAL, "%s: %s is not a PEM file", key, path);
    }
    buf[n] = '\0';
    char *fit = realloc(buf, n + 1); /* keep what the file holds, not the 1 MiB cap */
    *out = fit ? fit : buf;
    return PACS_OK;
}

/* HTTPS (http.tls): libmicrohttpd's GnuTLS with the key and certificate in memory, TLS 1.2 and
 * 1.3 with forward-secret AEAD suites only (RFC 9325, BCP 195). */
static pacs_err load_tls(pacs_http_server *s, const pacs_config *cfg, pacs_errinfo *ei)
{
    static const char priorities[] =
        "SECURE128:-VERS-ALL:+VERS-TLS1.3:+VERS-TLS1.2:-CIPHER-ALL:+AES-128-GCM:+AES-256-GCM:"
        "+CHACHA20-POLY1305:-KX-ALL:+ECDHE-RSA:+ECDHE-ECDSA:+DHE-RSA:%SERVER_PRECEDENCE";
    if (!pacs_config_bool(cfg, "http.tls")) {
        return PACS_OK;
    }
    pacs_err err = read_pem("http.tls.key", pacs_config_str(cfg, "http.tls.key"), &s->tls_key, ei);
    if (err == PACS_OK) {
        err = read_pem("http.tls.cert", pacs_config_str(cfg, "http.tls.cert"), &s->tls_cert, ei);
    }
    if (err != PACS_OK) {
        free(s->tls_key);
        s->tls_key = NULL;
        return err;
    }
    s->tls_opts[0] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_KEY, 0, s->tls_key};
    s->tls_opts[1] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_MEM_CERT, 0, s->tls_cert};
    s->tls_opts[2] = (struct MHD_OptionItem){MHD_OPTION_HTTPS_PRIORITIES, 0, (void *)priorities};
    s->tls_opts[3] = (struct MHD_OptionItem){MHD_OPTION_END, 0, NULL};
    return PACS_OK;
}

pacs_err pacs_http_start(const pacs_config *cfg, pacs_archive *archive, pacs_http_server **out,
                         int *port, pacs_errinfo *ei)
{
    const char *prefix = pacs_config_str(cfg, "http.prefix");
    size_t plen = strlen(prefix);
    if (plen >= 256 || (plen > 0 && (prefix[0] != '/' || prefix[plen - 1] == '/')) ||
        strpbrk(prefix, "?#% ")) {
        return pacs_errf(ei, PACS_EINVAL,
                         "http.prefix '%s' must be empty or start with '/' and not end with '/'",
                         prefix);
    }
    const char *pub = pacs_config_str(cfg, "http.public_url");
    if (strlen(pub) >= 512 ||
        (pub[0] && strncmp(pub, "http://", 7) != 0 && strncmp(pub, "https://", 8) != 0)) {
        return pacs_errf(ei, PACS_EINVAL, "http.public_url '%s' must be an http(s) URL", pub);
    }
    pacs_http_server *s = calloc(1, sizeof *s);
    if (!s) {
        return pacs_errf(ei, PACS_ENOMEM, "out of memory");
    }
    s->cfg = cfg;
    s->archive = archive;
    memcpy(s->prefix, prefix, plen + 1);
    s->prefix_len = plen;
    snprintf(s->public_url, sizeof s->public_url, "%s", pub);
    plen = strlen(s->public_url);
    while (plen > 0 && s->public_url[plen - 1] == '/') {
        s->public_url[--plen] = '\0';
    }
    s->max_body = (uint64_t)pacs_config_int(cfg, "http.max_body_mb") << 20;
    pacs_err terr = load_tls(s, cfg, ei);
    if (terr != PACS_OK) {
        pacs_http_stop(s);
        return terr;
    }

    const char *bind = pacs_config_str(cfg, "http.bind");
    int want_port = (int)pacs_config_int(cfg, "http.port");
    struct sockaddr_in sin;
    struct sockaddr_in6 sin6;
    memset(&sin, 0, sizeof sin);
    memset(&sin6, 0, sizeof sin6);
    const struct sockaddr *sa;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
    if (inet_pton(AF_INET, bind, &sin.sin_addr) == 1) {
        sin.sin_family = AF_INET;
        sin.sin_port = htons((uint16_t)want_port);
        sa = (const struct sockaddr *)&sin;
    } else if (inet_pton(AF_INET6, bind, &sin6.sin6_addr) == 1) {
        sin6.sin6_family = AF_INET6;
        sin6.sin6_port = htons((uint16_t)want_port);
        sa = (const struct sockaddr *)&sin6;
        flags |= MHD_USE_IPv6;
    } else {
        pacs_http_stop(s);
        return pacs_errf(ei, PACS_EINVAL, "http.bind '%s' is not an IP address", bind);
    }
    pacs_err aerr = pacs_auth_open(cfg, pacs_archive_data_dir(archive), &s->auth, ei);
    if (aerr != PACS_OK) {
        pacs_http_stop(s);
        return aerr;
    }
    if (!pacs_auth_required(s->auth) && strncmp(bind, "127.", 4) != 0 && strcmp(bind, "::1") != 0) {
        pacs_log(PACS_LOG_WARN, "http",
                 "INSECURE: DICOMweb on %s:%d answers anyone who can reach it, without "
                 "authentication; set http.auth = required (with auth.key.* or auth.jwt_keys), or "
                 "http.bind = 127.0.0.1",
                 bind, want_port);
    }
    unsigned threads = (unsigned)pacs_config_int(cfg, "http.threads");
    unsigned max_conn = (unsigned)pacs_config_int(cfg, "http.max_connections");
    unsigned timeout = (unsigned)pacs_config_int(cfg, "http.timeout");
    pacs_err verr = pacs_viewer_open(cfg, &s->viewer, ei);
    if (verr != PACS_OK) {
        pacs_http_stop(s);
        return verr;
    }
    /* The logger goes first so that libmicrohttpd reports option errors through it. */
    s->d = MHD_start_daemon(flags | (s->tls_cert ? MHD_USE_TLS : 0), (uint16_t)want_port, NULL,
                            NULL, access_cb, s, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, s,
                            MHD_OPTION_SOCK_ADDR, sa, MHD_OPTION_THREAD_POOL_SIZE, threads,
                            MHD_OPTION_CONNECTION_LIMIT, max_conn, MHD_OPTION_CONNECTION_TIMEOUT,
                            timeout, MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(64 * 1024),
                            MHD_OPTION_URI_LOG_CALLBACK, uri_log, s, MHD_OPTION_NOTIFY_COMPLETED,
                            completed, s, MHD_OPTION_LISTENING_ADDRESS_REUSE, (unsigned)1,
                            MHD_OPTION_ARRAY, s->tls_opts, MHD_OPTION_END);
    if (!s->d) {
        pacs_http_stop(s);
        return pacs_errf(ei, PACS_ENET, "cannot listen on %s:%d for HTTP", bind, want_port);
    }
    const union MHD_DaemonInfo *info = MHD_get_daemon_info(s->d, MHD_DAEMON_INFO_BIND_PORT);
    int bound = info ? (int)info->port : want_port;
    const char *host = strcmp(bind, "0.0.0.0") == 0 || strcmp(bind, "::") == 0 ? "localhost" : bind;
    if (strchr(host, ':')) {
        snprintf(s->fallback_host, sizeof s->fallback_host, "[%s]:%d", host, bound);
    } else {
        snprintf(s->fallback_host, sizeof s->fallback_host, "%s:%d", host, bound);
    }
    *port = bound;
    *out = s;
    return PACS_OK;
}

void pacs_http_stop(pacs_http_server *s)
{
    if (!s) {
        return;
    }
    if (s->d) { /* NULL when a start failed half-way: the rest is freed the same */
        MHD_stop_daemon(s->d);
    }
    free(s->tls_key);
    free(s->tls_cert);
    pacs_auth_close(s->auth);
    pacs_viewer_close(s->viewer);
    free(s);
}
