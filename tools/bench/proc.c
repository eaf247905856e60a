// SPDX-License-Identifier: MIT
/*
 * Child processes and the file system for pacs-bench: servers and DCMTK tools run in their own
 * process group with output to a log file, every wait is bounded, and the disk figures come
 * from walking a data folder. Single-threaded use (the main thread starts and stops children).
 */
#define _XOPEN_SOURCE 700
#include "tools/bench/bench.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

double bench_now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

pid_t bench_spawn(char *const argv[], const char *log_path)
{
    pid_t pid = fork();
    if (pid < 0) {
        return -1;
    }
    if (pid == 0) {
        setpgid(0, 0);
        int fd = open(log_path ? log_path : "/dev/null", O_WRONLY | O_CREAT | O_APPEND, 0644);
        if (fd >= 0) {
            dup2(fd, 1);
            dup2(fd, 2);
            close(fd);
        }
        int nul = open("/dev/null", O_RDONLY);
        if (nul >= 0) {
            dup2(nul, 0);
            close(nul);
        }
        execvp(argv[0], argv);
        fprintf(stderr, "pacs-bench: cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    setpgid(pid, pid);
    return pid;
}

static int decode_status(int st)
{
    if (WIFEXITED(st)) {
        return WEXITSTATUS(st);
    }
    if (WIFSIGNALED(st)) {
        return 128 + WTERMSIG(st);
    }
    return 255;
}

int bench_wait(pid_t pid, double timeout_s)
{
    double end = bench_now() + timeout_s;
    int st = 0;
    /* A pidfd becomes readable when the child exits: the wait is exact and still bounded. */
    int pfd = (int)syscall(SYS_pidfd_open, pid, 0);
    struct timespec nap = {0, 200000};
    for (;;) {
        pid_t r = waitpid(pid, &st, WNOHANG);
        if (r == pid) {
            if (pfd >= 0) {
                close(pfd);
            }
            return decode_status(st);
        }
        if (r < 0 && errno != EINTR) {
            if (pfd >= 0) {
                close(pfd);
            }
            return 255;
        }
        double left = end - bench_now();
        if (left <= 0) {
            kill(-pid, SIGKILL);
            waitpid(pid, &st, 0);
            if (pfd >= 0) {
                close(pfd);
            }
            return -1;
        }
        if (pfd >= 0) {
            struct pollfd p = {pfd, POLLIN, 0};
            poll(&p, 1, left > 1.0 ? 1000 : (int)(left * 1000) + 1);
        } else {
            nanosleep(&nap, NULL);
            if (nap.tv_nsec < 5000000) {
                nap.tv_nsec += 100000;
            }
        }
    }
}

void bench_stop(pid_t pid, double grace_s)
{
    if (pid <= 0) {
        return;
    }
    kill(-pid, SIGTERM);
    kill(pid, SIGTERM);
    if (bench_wait(pid, grace_s) < 0) {
        kill(-pid, SIGKILL);
    }
}

int bench_run(char *const argv[], const char *log_path, double timeout_s)
{
    pid_t pid = bench_spawn(argv, log_path);
    if (pid < 0) {
        return 255;
    }
    return bench_wait(pid, timeout_s);
}

int bench_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    if (fd < 0) {
        return 0;
    }
    struct sockaddr_in a;
    memset(&a, 0, sizeof a);
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    int port = 0;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) == 0 &&
        getsockname(fd, (struct sockaddr *)&a, &len) == 0) {
        port = ntohs(a.sin_port);
    }
    close(fd);
    return port;
}

uint64_t bench_peak_rss(pid_t pid)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    uint64_t kb = 0;
    if (!f) {
        return 0;
    }
    while (fgets(line, sizeof line, f)) {
        unsigned long long v;
        if (sscanf(line, "VmHWM: %llu kB", &v) == 1) {
            kb = v;
            break;
        }
    }
    fclose(f);
    return kb * 1024;
}

void bench_rss_split(pid_t pid, uint64_t *anon, uint64_t *file)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    *anon = *file = 0;
    if (!f) {
        return;
    }
    while (fgets(line, sizeof line, f)) {
        unsigned long long v;
        if (sscanf(line, "RssAnon: %llu kB", &v) == 1) {
            *anon = v * 1024;
        } else if (sscanf(line, "RssFile: %llu kB", &v) == 1) {
            *file = v * 1024;
        }
    }
    fclose(f);
}

static uint64_t du_alloc, du_apparent;

static int du_visit(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    (void)path;
    (void)ftw;
    if (type == FTW_F) {
        du_alloc += (uint64_t)sb->st_blocks * 512;
        du_apparent += (uint64_t)sb->st_size;
    }
    return 0;
}

void bench_du(const char *path, uint64_t *allocated, uint64_t *apparent)
{
    du_alloc = du_apparent = 0;
    nftw(path, du_visit, 32, FTW_PHYS);
    *allocated = du_alloc;
    *apparent = du_apparent;
}

static int rm_visit(const char *path, const struct stat *sb, int type, struct FTW *ftw)
{
    (void)sb;
    (void)ftw;
    if (type == FTW_DP) {
        rmdir(path);
    } else {
        unlink(path);
    }
    return 0;
}

void bench_rmtree(const char *path)
{
    nftw(path, rm_visit, 32, FTW_DEPTH | FTW_PHYS);
}
