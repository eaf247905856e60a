// SPDX-License-Identifier: MIT
/*
 * The backends the index's unit tests run on, chosen by the test program's argument: "sqlite"
 * (a file in a temporary folder; the default) or "postgresql": a fresh database per test on
 * the server PACS_TEST_PG names (scripts/test.sh's PostgreSQL pass), else on a throw-away
 * cluster of the program's own, started once with scripts/pg_cluster.sh (PACS_PG_CLUSTER) and
 * stopped at the end. Without a server the PostgreSQL run fails; a build without the
 * PostgreSQL index exits 77 (ctest's SKIP_RETURN_CODE), so that neither passes unnoticed.
 * Databases are made and dropped with psql, so the tests need no client library of their own.
 * Included by one test file each; not thread-safe (set up before the tests start).
 */
#ifndef PACS_STORAGE_TESTS_INDEX_BACKENDS_H
#define PACS_STORAGE_TESTS_INDEX_BACKENDS_H

#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pacs/base/log.h"
#include "storage/index.h"

static int on_pg;             /* the tests run on PostgreSQL */
static char pg_server[512];   /* its URI, database included */
static char pg_cluster[256];  /* the throw-away cluster's folder, when there is one */
static unsigned pg_databases; /* databases made so far */

/* Runs a shell command; its exit status. */
__attribute__((format(printf, 1, 2))) static int sh(const char *fmt, ...)
{
    char cmd[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof cmd, fmt, ap);
    va_end(ap);
    return system(cmd);
}

/* Picks the backend (and quiets the log: not every migration of every fresh index); 77 for a
 * PostgreSQL run this build cannot do, -1 when no server can be had, else 0. */
static int backends_init(int argc, char **argv)
{
    pacs_log_set_level(PACS_LOG_WARN);
    on_pg = argc > 1 && strcmp(argv[1], "postgresql") == 0;
    if (!on_pg) {
        return 0;
    }
    pacs_index *idx = NULL;
    pacs_errinfo ei;
    if (pacs_index_open("postgresql://127.0.0.1:1/none", &idx, &ei) == PACS_EUNSUPPORTED) {
        fprintf(stderr, "SKIP: %s\n", ei.msg);
        return 77;
    }
    pacs_index_close(idx);
    const char *server = getenv("PACS_TEST_PG");
    if (server && server[0]) {
        snprintf(pg_server, sizeof pg_server, "%s", server);
        return 0;
    }
    const char *script = getenv("PACS_PG_CLUSTER");
    const char *tmp = getenv("TMPDIR");
    snprintf(pg_cluster, sizeof pg_cluster, "%s/pacs-test-pg.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!script || !mkdtemp(pg_cluster) || chmod(pg_cluster, 0711) != 0) {
        fprintf(stderr, "FAIL: no PostgreSQL server: set PACS_TEST_PG, or PACS_PG_CLUSTER to "
                        "scripts/pg_cluster.sh\n");
        pg_cluster[0] = '\0';
        return -1;
    }
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "timeout 120 '%s' start '%s/c'", script, pg_cluster);
    FILE *p = popen(cmd, "r");
    if (!p || !fgets(pg_server, sizeof pg_server, p) || pclose(p) != 0) {
        fprintf(stderr, "FAIL: no PostgreSQL server: %s failed (install postgresql)\n", cmd);
        pg_server[0] = '\0';
        return -1;
    }
    pg_server[strcspn(pg_server, "\n")] = '\0';
    return 0;
}

/* Stops what backends_init started; the program's exit status for `rc`, backends_init's or
 * the tests' result. */
static int backends_fini(int rc)
{
    if (pg_cluster[0]) {
        sh("timeout 90 '%s' stop '%s/c' >/dev/null 2>&1", getenv("PACS_PG_CLUSTER"), pg_cluster);
        sh("rm -rf '%s'", pg_cluster);
    }
    return rc < 0 ? 1 : rc;
}

/* The name of a group of tests on this backend: "`what` on sqlite" (a static buffer). */
static const char *backends_name(const char *what)
{
    static char name[96];
    snprintf(name, sizeof name, "%s on %s", what, on_pg ? "postgresql" : "sqlite");
    return name;
}

/* A new, empty index location: DIR/index.sqlite, or a new database on the server. */
static void backend_location(const char *dir, char *loc, size_t cap)
{
    if (!on_pg) {
        snprintf(loc, cap, "%s/index.sqlite", dir);
        return;
    }
    char db[64];
    snprintf(db, sizeof db, "ti_%ld_%u", (long)getpid(), pg_databases++);
    char sql[128];
    snprintf(sql, sizeof sql, "CREATE DATABASE %s", db);
    if (sh("timeout 60 psql '%s' -qAt -v ON_ERROR_STOP=1 -c '%s' >/dev/null", pg_server, sql)) {
        fprintf(stderr, "FAIL: cannot create database %s\n", db);
        exit(1);
    }
    const char *slash = strrchr(pg_server, '/');
    snprintf(loc, cap, "%.*s/%s", (int)(slash ? slash - pg_server : 0), pg_server, db);
}

/* Drops a location backend_location made (a SQLite file goes with its folder). */
static void backend_drop(const char *loc)
{
    if (!on_pg) {
        return;
    }
    const char *db = strrchr(loc, '/') + 1;
    char sql[128];
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s WITH (FORCE)", db);
    sh("timeout 60 psql '%s' -qAt -c '%s' >/dev/null 2>&1", pg_server, sql);
}

/* A new, empty index for one test: a temporary folder in `dir` (named after `name`), its
 * location in `loc`, the index opened there; NULL (the reason on stderr) when it cannot be. */
__attribute__((unused)) static pacs_index *backend_open(const char *name, char *dir, size_t dcap,
                                                        char *loc, size_t lcap)
{
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, dcap, "%s/pacs-test-%s.XXXXXX", tmp && *tmp ? tmp : "/tmp", name);
    if (!mkdtemp(dir)) {
        fprintf(stderr, "FAIL: mkdtemp %s\n", dir);
        return NULL;
    }
    backend_location(dir, loc, lcap);
    pacs_index *idx = NULL;
    pacs_errinfo ei;
    if (pacs_index_open(loc, &idx, &ei) != PACS_OK) {
        fprintf(stderr, "FAIL: open %s: %s\n", loc, ei.msg);
        return NULL;
    }
    return idx;
}

/* Closes what backend_open opened and removes its folder and database: 0 on success. */
__attribute__((unused)) static int backend_close(pacs_index *idx, const char *dir, const char *loc)
{
    pacs_index_close(idx);
    backend_drop(loc);
    return sh("rm -rf '%s'", dir);
}

/* Runs SQL on a location's database from outside the index: 0 on success. */
__attribute__((unused)) static int backend_sql(const char *loc, const char *sql)
{
    if (on_pg) {
        char path[] = "/tmp/pacs-test-sql.XXXXXX";
        int fd = mkstemp(path);
        if (fd < 0 || write(fd, sql, strlen(sql)) != (ssize_t)strlen(sql)) {
            return -1;
        }
        close(fd);
        int rc = sh("timeout 60 psql '%s' -qAt -v ON_ERROR_STOP=1 -f '%s' >/dev/null", loc, path);
        unlink(path);
        return rc;
    }
    sqlite3 *db = NULL;
    int rc = sqlite3_open(loc, &db);
    if (rc == SQLITE_OK) {
        sqlite3_busy_timeout(db, 10000);
        rc = sqlite3_exec(db, sql, NULL, NULL, NULL);
    }
    sqlite3_close(db);
    return rc;
}

#endif
