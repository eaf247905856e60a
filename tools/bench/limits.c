// SPDX-License-Identifier: MIT
/*
 * The machine's own limits, measured in the same run as the servers so that figures can be
 * quoted as ratios: durable small-file writes (create, write, fsync, close) at the size of one
 * instance, copying a folder of files durably (what `cp -r` and `sync` do: the file work no
 * durable importer avoids), loopback TCP throughput over 1 and N connections (a socket pair
 * test: the same loopback the servers are measured on), and SHA-256 on one core (OpenSSL,
 * which pacsd's content-addressed store also uses). Called from the main thread; the copy and
 * the TCP test start their own threads.
 */
#define _GNU_SOURCE /* syncfs */
#include "tools/bench/bench.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

void bench_limit_fsync(const char *dir, size_t size, int n, int runs, bench_samples *files_s)
{
    char *buf = malloc(size);
    char path[4096];
    if (!buf) {
        return;
    }
    for (size_t i = 0; i < size; i++) {
        buf[i] = (char)(i * 2654435761u >> 13);
    }
    for (int r = 0; r < runs; r++) {
        double t0 = bench_now();
        int ok = 0;
        for (int i = 0; i < n; i++) {
            snprintf(path, sizeof path, "%s/f%d-%d", dir, r, i);
            int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
            if (fd < 0) {
                break;
            }
            size_t off = 0;
            while (off < size) {
                ssize_t w = write(fd, buf + off, size - off);
                if (w <= 0) {
                    break;
                }
                off += (size_t)w;
            }
            if (off == size && fsync(fd) == 0) {
                ok++;
            }
            close(fd);
        }
        double t = bench_now() - t0;
        if (ok == n && t > 0) {
            bench_samples_add(files_s, n / t);
        }
        for (int i = 0; i < n; i++) {
            snprintf(path, sizeof path, "%s/f%d-%d", dir, r, i);
            unlink(path);
        }
    }
    free(buf);
}

typedef struct copy_part {
    char *const *paths;
    size_t n, from, step;
    size_t root_len; /* the source folder's part of each path */
    const char *dest;
    size_t ok;
} copy_part;

/* Makes the folders of `path` below `dest` (the last component is a file). */
static int make_parents(const char *path, size_t dest_len)
{
    char p[4096];
    snprintf(p, sizeof p, "%s", path);
    char *s = strchr(p + dest_len + 1, '/');
    while (s) {
        *s = '\0';
        if (mkdir(p, 0755) != 0 && errno != EEXIST) {
            return -1;
        }
        *s = '/';
        s = strchr(s + 1, '/');
    }
    return 0;
}

static void *copy_worker(void *arg)
{
    copy_part *c = arg;
    size_t cap = 1 << 20, dest_len = strlen(c->dest);
    char *buf = malloc(cap);
    char out[4096], made[4096] = "";
    for (size_t i = c->from; buf && i < c->n; i += c->step) {
        const char *src = c->paths[i];
        snprintf(out, sizeof out, "%s%s", c->dest, src + c->root_len);
        /* A folder is made once per thread, when its first file comes. */
        const char *slash = strrchr(out, '/');
        size_t dir_len = slash ? (size_t)(slash - out) : 0;
        if (strlen(made) != dir_len || strncmp(made, out, dir_len) != 0) {
            if (make_parents(out, dest_len) != 0) {
                break;
            }
            snprintf(made, sizeof made, "%.*s", (int)dir_len, out);
        }
        int in = open(src, O_RDONLY);
        ssize_t got = in >= 0 ? 0 : -1;
        while (got >= 0 && (size_t)got < cap) {
            ssize_t r = read(in, buf + got, cap - (size_t)got);
            if (r <= 0) {
                got = r < 0 ? -1 : got;
                break;
            }
            got += r;
        }
        if (in >= 0) {
            close(in);
        }
        int fd = got >= 0 && (size_t)got < cap ? open(out, O_WRONLY | O_CREAT | O_EXCL, 0644) : -1;
        if (fd < 0) {
            break;
        }
        ssize_t w = write(fd, buf, (size_t)got);
        if (close(fd) != 0 || w != got) {
            break;
        }
        c->ok++;
    }
    free(buf);
    return NULL;
}

void bench_limit_copy(char *const *paths, size_t n, const char *src_root, const char *dest,
                      int threads, bench_samples *files_s)
{
    copy_part parts[16];
    pthread_t th[16];
    int started = 0;
    if (threads < 1 || threads > 16 || mkdir(dest, 0755) != 0) {
        return;
    }
    double t0 = bench_now();
    for (int i = 0; i < threads; i++) {
        parts[i] = (copy_part){paths, n, (size_t)i, (size_t)threads, strlen(src_root), dest, 0};
        if (pthread_create(&th[i], NULL, copy_worker, &parts[i]) != 0) {
            break;
        }
        started++;
    }
    size_t ok = 0;
    for (int i = 0; i < started; i++) {
        pthread_join(th[i], NULL);
        ok += parts[i].ok;
    }
    /* One flush of the file system at the end, as `sync` after `cp -r`. */
    int fd = open(dest, O_RDONLY | O_DIRECTORY);
    int synced = fd >= 0 && syncfs(fd) == 0;
    if (fd >= 0) {
        close(fd);
    }
    double t = bench_now() - t0;
    if (ok == n && synced && t > 0) {
        bench_samples_add(files_s, (double)n / t);
    }
}

typedef struct tcp_stream {
    int port;
    size_t bytes;
    int fd;
    int ok;
} tcp_stream;

static void *tcp_sender(void *arg)
{
    tcp_stream *s = arg;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)s->port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int one = 1;
    if (fd < 0) {
        return NULL;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return NULL;
    }
    static char buf[256 * 1024];
    size_t left = s->bytes;
    while (left > 0) {
        ssize_t w = write(fd, buf, left < sizeof buf ? left : sizeof buf);
        if (w <= 0) {
            break;
        }
        left -= (size_t)w;
    }
    s->ok = left == 0;
    close(fd);
    return NULL;
}

static void *tcp_receiver(void *arg)
{
    tcp_stream *s = arg;
    char *buf = malloc(256 * 1024);
    size_t got = 0;
    if (buf) {
        for (;;) {
            ssize_t r = read(s->fd, buf, 256 * 1024);
            if (r <= 0) {
                break;
            }
            got += (size_t)r;
        }
        free(buf);
    }
    close(s->fd);
    s->bytes = got;
    return NULL;
}

void bench_limit_tcp(int streams, double mb_per_stream, int runs, bench_samples *mb_s)
{
    if (streams < 1 || streams > 16) {
        return;
    }
    for (int r = 0; r < runs; r++) {
        int lfd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in a;
        memset(&a, 0, sizeof a);
        a.sin_family = AF_INET;
        a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        socklen_t len = sizeof a;
        if (lfd < 0 || bind(lfd, (struct sockaddr *)&a, sizeof a) != 0 || listen(lfd, 16) != 0 ||
            getsockname(lfd, (struct sockaddr *)&a, &len) != 0) {
            if (lfd >= 0) {
                close(lfd);
            }
            return;
        }
        tcp_stream snd[16], rcv[16];
        pthread_t ts[16], tr[16];
        size_t bytes = (size_t)(mb_per_stream * 1e6);
        double t0 = bench_now();
        int n = 0;
        for (int i = 0; i < streams; i++) {
            snd[i] = (tcp_stream){ntohs(a.sin_port), bytes, -1, 0};
            if (pthread_create(&ts[i], NULL, tcp_sender, &snd[i]) != 0) {
                break;
            }
            int fd = accept(lfd, NULL, NULL);
            rcv[i] = (tcp_stream){0, 0, fd, 0};
            if (fd < 0 || pthread_create(&tr[i], NULL, tcp_receiver, &rcv[i]) != 0) {
                pthread_join(ts[i], NULL);
                if (fd >= 0) {
                    close(fd);
                }
                break;
            }
            n++;
        }
        size_t total = 0;
        int ok = n == streams;
        for (int i = 0; i < n; i++) {
            pthread_join(ts[i], NULL);
            pthread_join(tr[i], NULL);
            total += rcv[i].bytes;
            ok = ok && snd[i].ok;
        }
        double t = bench_now() - t0;
        close(lfd);
        if (ok && t > 0) {
            bench_samples_add(mb_s, (double)total / 1e6 / t);
        }
    }
}

void bench_limit_sha256(int runs, bench_samples *mb_s)
{
    size_t size = 64u << 20;
    unsigned char *buf = malloc(size);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen;
    if (!buf) {
        return;
    }
    for (size_t i = 0; i < size; i++) {
        buf[i] = (unsigned char)(i * 2654435761u >> 11);
    }
    for (int r = 0; r < runs; r++) {
        double t0 = bench_now();
        if (EVP_Digest(buf, size, md, &mdlen, EVP_sha256(), NULL) != 1) {
            break;
        }
        double t = bench_now() - t0;
        if (t > 0) {
            bench_samples_add(mb_s, (double)size / 1e6 / t);
        }
    }
    free(buf);
}
