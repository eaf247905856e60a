// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for the DICOMweb URL router and everything behind it, through the real
 * server: pacs_dicomweb_start on loopback, over a real archive holding a few instances, gets each
 * input as one HTTP/1.1 request on a fresh connection. Input: a first line "METHOD target"
 * (the target is percent-encoded where HTTP forbids the byte, and put under the prefix when it
 * does not start with '/'), header lines up to an empty line, then the body. Every request
 * must get a well-formed answer within 20 seconds, and never 500 (bad input is the client's
 * fault: 4xx); a sanitizer report, a hang or a 500 is a finding. The archive is filled once
 * from the files named by PACS_FUZZ_DICOM (a colon-separated list; by default two of pydicom's
 * test files when installed). Seeds: testdata/fuzz/fuzz_router/. The harness is single-
 * threaded; the server runs its own threads, as in pacsd.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "dicomweb/dicomweb.h"
#include "fuzz/common.h"
#include "pacs/base/buf.h"
#include "pacs/dicom/dcm.h"
#include "storage/archive.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define DEFAULT_DICOM                                                                              \
    "/usr/lib/python3/dist-packages/pydicom/data/test_files/CT_small.dcm:"                         \
    "/usr/lib/python3/dist-packages/pydicom/data/test_files/MR_small.dcm"

static pacs_archive *archive;
static pacs_dicomweb_server *server;
static int port;

static void stop_all(void)
{
    pacs_dicomweb_stop(server);
    pacs_archive_close(archive);
}

static void start(void)
{
    static const char *const extra[] = {"http.bind=127.0.0.1", "http.port=0", "http.threads=2",
                                        "dicomweb.delete_allowed=false", NULL};
    pacs_config *cfg = pacs_fuzz__config(extra);
    pacs_errinfo ei = {0};
    if (pacs_dcm_init(&ei) != PACS_OK || pacs_archive_open(cfg, &archive, &ei) != PACS_OK) {
        fprintf(stderr, "fuzz_router: %s\n", ei.msg);
        exit(1);
    }
    const char *files = getenv("PACS_FUZZ_DICOM") ? getenv("PACS_FUZZ_DICOM") : DEFAULT_DICOM;
    char *list = strdup(files);
    for (char *save = NULL, *f = strtok_r(list, ":", &save); f; f = strtok_r(NULL, ":", &save)) {
        pacs_ingest_result res;
        if (pacs_archive_ingest_file(archive, f, "FUZZ", &res, &ei) != PACS_OK) {
            fprintf(stderr, "fuzz_router: not stored: %s: %s\n", f, ei.msg);
        }
    }
    free(list);
    if (pacs_dicomweb_start(cfg, archive, NULL, &server, &port, &ei) != PACS_OK) {
        fprintf(stderr, "fuzz_router: %s\n", ei.msg);
        exit(1);
    }
    atexit(stop_all);
}

/* Appends the request target, percent-encoding what may not appear raw in a request line. */
static void add_target(pacs_buf *b, const uint8_t *t, size_t n)
{
    if (n == 0 || t[0] != '/') {
        pacs_buf_append(b, "/dicomweb/", 10);
    }
    for (size_t i = 0; i < n; i++) {
        if (t[i] <= 0x20 || t[i] >= 0x7F) {
            char esc[4];
            snprintf(esc, sizeof esc, "%%%02X", t[i]);
            pacs_buf_append(b, esc, 3);
        } else {
            pacs_buf_append(b, t + i, 1);
        }
    }
}

/* A header line is kept when it is "name: value" with a token name and printable text, and is
 * none of the framing headers the harness sets itself. */
static int keep_header(const uint8_t *h, size_t n)
{
    const uint8_t *colon = memchr(h, ':', n);
    if (!colon || colon == h) {
        return 0;
    }
    for (const uint8_t *c = h; c < colon; c++) {
        if (*c <= 0x20 || *c >= 0x7F || strchr("()<>@,;\\\"/[]?={}", *c)) {
            return 0;
        }
    }
    for (const uint8_t *c = colon + 1; c < h + n; c++) {
        if ((*c < 0x20 && *c != '\t') || *c == 0x7F) {
            return 0;
        }
    }
    static const char *const framing[] = {
        "content-length", "transfer-encoding", "connection", "host", "expect", "upgrade"};
    size_t name_len = (size_t)(colon - h);
    for (size_t i = 0; i < sizeof framing / sizeof framing[0]; i++) {
        if (strlen(framing[i]) == name_len &&
            strncasecmp((const char *)h, framing[i], name_len) == 0) {
            return 0;
        }
    }
    return 1;
}

static void build_request(const uint8_t *data, size_t size, pacs_buf *b)
{
    const uint8_t *end = data + size;
    const uint8_t *nl = memchr(data, '\n', size);
    const uint8_t *line_end = nl ? nl : end;
    /* The method: an upper-case word, else GET. */
    const uint8_t *sp = memchr(data, ' ', (size_t)(line_end - data));
    const uint8_t *target = data;
    int method_ok = sp && sp > data && sp - data <= 10;
    for (const uint8_t *c = data; method_ok && c < sp; c++) {
        method_ok = *c >= 'A' && *c <= 'Z';
    }
    if (method_ok) {
        pacs_buf_append(b, data, (size_t)(sp - data));
        target = sp + 1;
    } else {
        pacs_buf_puts(b, "GET");
    }
    pacs_buf_puts(b, " ");
    size_t tlen = (size_t)(line_end - target);
    if (tlen && target[tlen - 1] == '\r') {
        tlen--;
    }
    add_target(b, target, tlen);
    pacs_buf_printf(b, " HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nConnection: close\r\n", port);
    /* Headers up to an empty line; the rest is the body. */
    const uint8_t *p = nl ? nl + 1 : end;
    int kept = 0;
    while (p < end) {
        const uint8_t *e = memchr(p, '\n', (size_t)(end - p));
        const uint8_t *h = p;
        size_t n = (size_t)((e ? e : end) - p);
        p = e ? e + 1 : end;
        if (n && h[n - 1] == '\r') {
            n--;
        }
        if (n == 0) {
            break;
        }
        if (kept < 32 && keep_header(h, n)) {
            pacs_buf_append(b, h, n);
            pacs_buf_puts(b, "\r\n");
            kept++;
        }
    }
    size_t body = (size_t)(end - p);
    pacs_buf_printf(b, "Content-Length: %zu\r\n\r\n", body);
    pacs_buf_append(b, p, body);
}

/* Sends the request and reads the whole answer; returns its status, or -1 for none. */
static int exchange(const pacs_buf *req, pacs_buf *rsp)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return -2;
    }
    struct timeval tv = {20, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    struct sockaddr_in sa = {0};
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int status = -1;
    if (connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        return -2;
    }
    /* The server may answer early (and close) without reading a refused body. */
    for (size_t at = 0; at < req->len;) {
        ssize_t n = send(fd, req->data + at, req->len - at, MSG_NOSIGNAL);
        if (n <= 0) {
            break;
        }
        at += (size_t)n;
    }
    shutdown(fd, SHUT_WR);
    char chunk[65536];
    for (;;) {
        ssize_t n = recv(fd, chunk, sizeof chunk, 0);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
                status = -3; /* no end within the time */
                goto done;
            }
            break;
        }
        if (rsp->len < 4096) {
            pacs_buf_append(rsp, chunk, (size_t)n < 4096 ? (size_t)n : 4096);
        }
    }
    pacs_buf_append(rsp, "", 1);
    int code = 0;
    if (rsp->len > 12 && sscanf(rsp->data, "HTTP/1.1 %3d ", &code) == 1 && code >= 100) {
        status = code;
    }
done:
    close(fd);
    return status;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!server) {
        start();
    }
    pacs_buf req, rsp;
    pacs_buf_init(&req, (size_t)1 << 30);
    pacs_buf_init(&rsp, (size_t)1 << 20);
    build_request(data, size, &req);
    int status = exchange(&req, &rsp);
    if (status == -2) {
        perror("fuzz_router: connect");
        exit(1);
    }
    if (status < 0 || status == 500) {
        fprintf(stderr, "fuzz_router: %s for\n%.*s\n--- answer ---\n%.400s\n",
                status == -3 ? "no complete answer within 20 s"
                : status < 0 ? "no HTTP answer"
                             : "500",
                (int)(req.len < 2000 ? req.len : 2000), req.data, rsp.len ? rsp.data : "");
        abort();
    }
    pacs_buf_free(&req);
    pacs_buf_free(&rsp);
    return 0;
}
