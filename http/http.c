// SPDX-License-Identifier: MIT
/*
 * The request and response API (http.h) over libmicrohttpd 0.9.75: accessors, whole answers
 * (gzip-compressed with zlib when they are JSON and the client accepts gzip), streamed answers
 * produced piece by piece while the socket can take them (up to 256 KiB at a time; 1 MiB for
 * filled ones), body callbacks, and the per-request record's life (http_internal.h). Every
 * answer leaves through one function (queue), which adds the handler's headers and the CORS
 * headers and writes the request's audit record before the answer goes out.
 *
 * Load: every HTTP answer (DICOMweb, FHIR) passes through here. Thread-safety: a request and its
 * answer belong to the thread of its connection; the only shared state is the boundary fallback
 * counter (atomic).
 */
#include "http/http.h"

#include <arpa/inet.h>
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

#include "http/http_internal.h"
#include "pacs/base/log.h"
#include "pacs/base/metrics.h"
#include "storage/audit.h"

#define ARENA_MAX (1u << 20)
#define GZIP_MIN 860 /* smaller bodies gain nothing from compression */

/* ---- the request's life ---- */

/* True when `origin` is allowed by http.cors_origins ("*" or a comma list). */
static const char *cors_origin(pacs_http_req *r)
{
    const char *origin = pacs_http_header(r, "Origin");
    const char *allowed = pacs_config_str(r->cfg, "http.cors_origins");
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

pacs_http_req *pacs_http__new(const pacs_config *cfg, pacs_archive *archive, unsigned long id,
                              const char *uri)
{
    pacs_arena *ar = pacs_arena_new(ARENA_MAX);
    if (!ar) {
        return NULL;
    }
    pacs_http_req *r = pacs_arena_alloc(ar, sizeof *r);
    if (!r) {
        pacs_arena_free(ar);
        return NULL;
    }
    r->ar = ar;
    r->cfg = cfg;
    r->archive = archive;
    r->id = id;
    r->raw_uri = pacs_arena_strndup(ar, uri, strlen(uri));
    r->path = "";
    r->method_name = "?";
    if (!r->raw_uri) {
        pacs_arena_free(ar);
        return NULL;
    }
    return r;
}

void pacs_http__begin(pacs_http_req *r, struct MHD_Connection *conn, const char *method)
{
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
    } else if (strcmp(method, "PUT") == 0) {
        r->method = PACS_HTTP_PUT;
    } else {
        r->method = PACS_HTTP_OTHER;
    }
    r->origin = cors_origin(r);
    r->gzip_ok = accepts_gzip(pacs_http_header(r, MHD_HTTP_HEADER_ACCEPT_ENCODING));
}

void pacs_http__end(pacs_http_req *r, int ok, int code)
{
    if (!r) {
        return;
    }
    if (r->body && r->body->release) {
        r->body->release(r->body_ctx);
    }
    char labels[96], status[16];
    if (r->answered) {
        snprintf(status, sizeof status, "%u", r->status);
    } else {
        snprintf(status, sizeof status, "none"); /* the client left before an answer */
    }
    snprintf(labels, sizeof labels, "route=\"%s\",code=\"%s\"",
             r->metric_route ? r->metric_route : "other", status);
    pacs_metrics_add_labeled(PACS_M_HTTP_REQUESTS, labels, 1);
    if (!ok) {
        pacs_log(PACS_LOG_DEBUG, "http", "req=%lu %s %.*s ended early (code %d)", r->id,
                 r->method_name, (int)(r->path_len > 300 ? 300 : r->path_len), r->path, code);
    } else {
        pacs_log(PACS_LOG_DEBUG, "http", "req=%lu %s %.*s status=%u", r->id, r->method_name,
                 (int)(r->path_len > 300 ? 300 : r->path_len), r->path, r->status);
    }
    pacs_arena_free(r->ar);
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
    return r->archive;
}

const pacs_config *pacs_http_config(const pacs_http_req *r)
{
    return r->cfg;
}

const char *pacs_http_header(pacs_http_req *r, const char *name)
{
    return MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name);
}

const char *pacs_http_base_url(const pacs_http_req *r)
{
    return r->base_url;
}

const char *pacs_http_path(const pacs_http_req *r, size_t *len)
{
    *len = r->path_len;
    return r->path;
}

pacs_err pacs_http_parse_query(pacs_http_req *r, pacs_errinfo *ei)
{
    const char *q = strchr(r->raw_uri, '?');
    if (!q) {
        return PACS_OK;
    }
    return pacs_params_parse(q + 1, strlen(q + 1), r->ar, &r->params, ei);
}

void pacs_http_set_metric_route(pacs_http_req *r, const char *name)
{
    r->metric_route = name;
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
    case PACS_ENOSPC:
        return 507; /* Insufficient Storage (RFC 4918) */
    case PACS_EBUSY:
    case PACS_ETIMEOUT:
        return 503;
    default:
        return 500;
    }
}

void pacs_http_add_header(pacs_http_req *r, const char *name, const char *value)
{
    if (r->n_extra == PACS_HTTP__MAX_EXTRA_HEADERS) {
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

/* ---- the audit trail: one line per authorised QIDO, WADO, STOW or DELETE request (the
 * router plans it, gate.c records refusals) ---- */

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

pacs_err pacs_http_send_json(pacs_http_req *r, unsigned status, const char *content_type, json_t *j)
{
    char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    pacs_buf b;
    pacs_buf_init(&b, 64u << 20);
    if (!text || pacs_buf_puts(&b, text) != PACS_OK) {
        free(text);
        pacs_buf_free(&b);
        return PACS_ENOMEM;
    }
    free(text);
    pacs_http_send_buf(r, status, content_type, &b, 1);
    return PACS_OK;
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
