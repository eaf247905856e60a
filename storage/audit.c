// SPDX-License-Identifier: MIT
/*
 * The audit trail (audit.h): JSON lines appended to DATA/audit/YYYY-MM-DD.jsonl (UTC days).
 * Each record is encoded with jansson outside the lock, then written with one write(2) on an
 * O_APPEND descriptor under a process-wide mutex, so lines from threads (and from a `pacs`
 * command running beside pacsd, which appends to the same file) never interleave. A flusher
 * thread fdatasyncs the file within a second of a write, outside the lock; close and
 * pacs_audit_sync flush at once.
 * Load: one short line per request; the write is a few microseconds and never waits for disk.
 */
#include "storage/audit.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "pacs/base/log.h"

#define FLUSH_SECONDS 1

static struct {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    int open;
    int fd;
    int dirty;
    int stopping;
    int flusher_started;
    pthread_t flusher;
    char dir[PATH_MAX];
    char day[11]; /* YYYY-MM-DD of the open file */
    char node[65];
    unsigned long failed;
    time_t last_complaint;
} g = {.mu = PTHREAD_MUTEX_INITIALIZER, .cv = PTHREAD_COND_INITIALIZER, .fd = -1};

/* Event names, and the IHE ATNA / PS3.15 A.5 EventID each corresponds to. */
static const struct {
    const char *name;
    const char *atna;
} actions[] = {
    [PACS_AUDIT_STORE] = {"store", "110104"},                 /* DICOM Instances Transferred */
    [PACS_AUDIT_QUERY] = {"query", "110112"},                 /* Query */
    [PACS_AUDIT_RETRIEVE] = {"retrieve", "110104"},           /* DICOM Instances Transferred */
    [PACS_AUDIT_DELETE] = {"delete", "110105"},               /* DICOM Study Deleted */
    [PACS_AUDIT_SHARE] = {"share", "110106"},                 /* Export */
    [PACS_AUDIT_LOGIN_FAILURE] = {"login-failure", "110114"}, /* User Authentication */
    [PACS_AUDIT_ACCESS_DENIED] = {"access-denied", "110113"}, /* Security Alert */
    [PACS_AUDIT_START] = {"start", "110100"},                 /* Application Activity: 110120 */
    [PACS_AUDIT_STOP] = {"stop", "110100"},                   /* Application Activity: 110121 */
    [PACS_AUDIT_COMMIT] = {"commit", "110103"},               /* DICOM Instances Accessed */
    [PACS_AUDIT_PATIENT] = {"patient", "110110"},             /* Patient Record */
    [PACS_AUDIT_ORDER] = {"order", "110109"},                 /* Order Record */
    [PACS_AUDIT_COMPRESS] = {"compress", "110103"},           /* DICOM Instances Accessed */
    [PACS_AUDIT_LOGIN] = {"login", "110114"},                 /* User Authentication */
    [PACS_AUDIT_LOGOUT] = {"logout", "110114"},               /* User Authentication */
    [PACS_AUDIT_LOCKOUT] = {"lockout", "110113"},             /* Security Alert */
    [PACS_AUDIT_USER] = {"user", "110137"},                   /* User Security Attributes Changed */
};

const char *pacs_audit_action_name(pacs_audit_action a)
{
    if ((unsigned)a < sizeof actions / sizeof actions[0]) {
        return actions[a].name;
    }
    return "unknown";
}

static void utc_day(time_t t, char day[11])
{
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(day, 11, "%Y-%m-%d", &tm);
}

/* Opens the file of `day`; called with the lock held. */
static int open_day(const char *day)
{
    char path[PATH_MAX + 32];
    snprintf(path, sizeof path, "%s/%s.jsonl", g.dir, day);
    int fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (fd < 0) {
        return -1;
    }
    if (g.fd >= 0) {
        fdatasync(g.fd);
        close(g.fd);
    }
    g.fd = fd;
    memcpy(g.day, day, sizeof g.day);
    return 0;
}

/* fdatasync of the open file without holding the lock (a slow disk must not hold up the
 * threads that record); a duplicate descriptor stays valid across a change of day. Called and
 * returns with the lock held. */
static void sync_unlocked(void)
{
    if (g.fd < 0) {
        return;
    }
    g.dirty = 0;
    int fd = dup(g.fd);
    pthread_mutex_unlock(&g.mu);
    if (fd >= 0) {
        fdatasync(fd);
        close(fd);
    }
    pthread_mutex_lock(&g.mu);
}

static void *flush_loop(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&g.mu);
    while (!g.stopping) {
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += FLUSH_SECONDS;
        pthread_cond_timedwait(&g.cv, &g.mu, &until);
        if (g.dirty) {
            sync_unlocked();
        }
    }
    pthread_mutex_unlock(&g.mu);
    return NULL;
}

pacs_err pacs_audit_open(const char *data_dir, pacs_errinfo *ei)
{
    pacs_err err = PACS_OK;
    pthread_mutex_lock(&g.mu);
    if (g.open) {
        goto done;
    }
    int n = snprintf(g.dir, sizeof g.dir, "%s/audit", data_dir);
    if (n < 0 || (size_t)n >= sizeof g.dir) {
        err = pacs_errf(ei, PACS_EINVAL, "audit folder path too long");
        goto done;
    }
    if (mkdir(g.dir, 0750) != 0 && errno != EEXIST) {
        err = pacs_errf(ei, PACS_EIO, "mkdir %s: %s", g.dir, strerror(errno));
        goto done;
    }
    char day[11];
    utc_day(time(NULL), day);
    if (open_day(day) != 0) {
        err = pacs_errf(ei, pacs_err_from_errno(errno), "open %s/%s.jsonl: %s", g.dir, day,
                        strerror(errno));
        goto done;
    }
    if (gethostname(g.node, sizeof g.node - 1) != 0) {
        g.node[0] = '\0';
    }
    g.stopping = 0;
    g.dirty = 0;
    g.failed = 0;
    if (pthread_create(&g.flusher, NULL, flush_loop, NULL) == 0) {
        g.flusher_started = 1;
    }
    g.open = 1;
done:
    pthread_mutex_unlock(&g.mu);
    return err;
}

static void set_str(json_t *o, const char *key, const char *value)
{
    if (value && value[0]) {
        json_object_set_new(o, key, json_string(value));
    }
}

void pacs_audit_record(const pacs_audit_event *ev)
{
    if (!ev) {
        return;
    }
    struct timespec now;
    clock_gettime(CLOCK_REALTIME, &now);
    struct tm tm;
    gmtime_r(&now.tv_sec, &tm);
    char stamp[40], day[11];
    size_t len = strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(stamp + len, sizeof stamp - len, ".%03ldZ", now.tv_nsec / 1000000);
    utc_day(now.tv_sec, day);

    /* Strings that are not valid UTF-8 are left out rather than failing the line. */
    json_t *o = json_object();
    char *line = NULL;
    if (!o) {
        goto count_failure;
    }
    unsigned a = (unsigned)ev->action < sizeof actions / sizeof actions[0] ? ev->action : 0;
    json_object_set_new(o, "time", json_string(stamp));
    json_object_set_new(o, "action", json_string(pacs_audit_action_name(ev->action)));
    json_object_set_new(o, "atna", json_string(actions[a].atna));
    json_object_set_new(o, "outcome", json_string(ev->success ? "success" : "failure"));
    set_str(o, "node", g.node);
    set_str(o, "protocol", ev->protocol);
    set_str(o, "who", ev->who);
    set_str(o, "from", ev->from);
    set_str(o, "study", ev->study_uid);
    set_str(o, "patient", ev->patient_id);
    set_str(o, "detail", ev->detail);
    if (ev->count) {
        json_object_set_new(o, "count", json_integer(ev->count));
    }
    line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(o);
    if (!line) {
        goto count_failure;
    }
    size_t n = strlen(line);
    line[n] = '\n'; /* over the NUL: the line is written by length */

    pthread_mutex_lock(&g.mu);
    if (!g.open) {
        pthread_mutex_unlock(&g.mu);
        free(line);
        return;
    }
    if (strcmp(day, g.day) != 0 && open_day(day) != 0) {
        /* Keep writing to yesterday's file rather than lose the line. */
        pacs_log(PACS_LOG_ERROR, "audit", "cannot open the file of %s: %s", day, strerror(errno));
    }
    ssize_t w = g.fd >= 0 ? write(g.fd, line, n + 1) : -1;
    int ok = w == (ssize_t)(n + 1);
    if (ok) {
        g.dirty = 1;
    } else {
        g.failed++;
        if (now.tv_sec - g.last_complaint >= 60) {
            g.last_complaint = now.tv_sec;
            pacs_log(PACS_LOG_ERROR, "audit", "cannot append to %s/%s.jsonl: %s (failed=%lu)",
                     g.dir, g.day, w < 0 ? strerror(errno) : "short write", g.failed);
        }
    }
    pthread_mutex_unlock(&g.mu);
    free(line);
    return;
count_failure:
    pthread_mutex_lock(&g.mu);
    g.failed++;
    pthread_mutex_unlock(&g.mu);
}

void pacs_audit_sync(void)
{
    pthread_mutex_lock(&g.mu);
    if (g.open) {
        sync_unlocked();
    }
    pthread_mutex_unlock(&g.mu);
}

void pacs_audit_close(void)
{
    pthread_mutex_lock(&g.mu);
    if (!g.open) {
        pthread_mutex_unlock(&g.mu);
        return;
    }
    g.open = 0;
    g.stopping = 1;
    pthread_cond_broadcast(&g.cv);
    int started = g.flusher_started;
    g.flusher_started = 0;
    pthread_mutex_unlock(&g.mu);
    if (started) {
        pthread_join(g.flusher, NULL);
    }
    pthread_mutex_lock(&g.mu);
    if (g.fd >= 0) {
        fdatasync(g.fd);
        close(g.fd);
        g.fd = -1;
    }
    g.day[0] = '\0';
    pthread_mutex_unlock(&g.mu);
}

/* --- Reading --------------------------------------------------------------------------- */

static int is_day_file(const char *name)
{
    /* YYYY-MM-DD.jsonl */
    if (strlen(name) != 16 || strcmp(name + 10, ".jsonl") != 0) {
        return 0;
    }
    for (int i = 0; i < 10; i++) {
        int dash = i == 4 || i == 7;
        if (dash ? name[i] != '-' : (name[i] < '0' || name[i] > '9')) {
            return 0;
        }
    }
    return 1;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* A growable set of study UIDs (linear search: a patient has few studies). */
typedef struct study_set {
    char **uids;
    size_t n, cap;
    int oom;
} study_set;

static int set_has(const study_set *set, const char *uid)
{
    for (size_t i = 0; i < set->n; i++) {
        if (strcmp(set->uids[i], uid) == 0) {
            return 1;
        }
    }
    return 0;
}

static void set_add(study_set *set, const char *uid)
{
    if (!uid || !uid[0] || set_has(set, uid)) {
        return;
    }
    if (set->n == set->cap) {
        size_t cap = set->cap ? set->cap * 2 : 16;
        char **g2 = realloc(set->uids, cap * sizeof *g2);
        if (!g2) {
            set->oom = 1;
            return;
        }
        set->uids = g2;
        set->cap = cap;
    }
    set->uids[set->n] = strdup(uid);
    if (!set->uids[set->n]) {
        set->oom = 1;
        return;
    }
    set->n++;
}

static int field_is(json_t *o, const char *key, const char *want)
{
    if (!want || !want[0]) {
        return 1;
    }
    const char *v = json_string_value(json_object_get(o, key));
    return v && strcmp(v, want) == 0;
}

/* One file. `collect` set: only gathers the studies named with the patient (first pass);
 * otherwise prints the matching lines. */
static pacs_err read_file(const char *path, const pacs_audit_filter *f, study_set *studies,
                          int collect, FILE *out, size_t *n_lines, size_t *n_bad, pacs_errinfo *ei)
{
    FILE *in = fopen(path, "re");
    if (!in) {
        return pacs_errf(ei, pacs_err_from_errno(errno), "open %s: %s", path, strerror(errno));
    }
    char *buf = NULL;
    size_t cap = 0;
    ssize_t len;
    while ((len = getline(&buf, &cap, in)) > 0) {
        if (buf[len - 1] != '\n') {
            *n_bad += !collect; /* torn last line */
            continue;
        }
        json_t *o = json_loadb(buf, (size_t)len, JSON_DISABLE_EOF_CHECK, NULL);
        if (!json_is_object(o)) {
            json_decref(o);
            *n_bad += !collect;
            continue;
        }
        const char *patient = f->patient_id && f->patient_id[0] ? f->patient_id : NULL;
        if (collect) {
            if (field_is(o, "patient", patient)) {
                set_add(studies, json_string_value(json_object_get(o, "study")));
            }
            json_decref(o);
            continue;
        }
        const char *t = json_string_value(json_object_get(o, "time"));
        const char *study = json_string_value(json_object_get(o, "study"));
        int keep =
            (!patient || field_is(o, "patient", patient) || (study && set_has(studies, study))) &&
            field_is(o, "study", f->study_uid) &&
            (!f->since || !f->since[0] || (t && strcmp(t, f->since) >= 0));
        json_decref(o);
        if (keep) {
            fwrite(buf, 1, (size_t)len, out);
            (*n_lines)++;
        }
    }
    free(buf);
    fclose(in);
    return PACS_OK;
}

pacs_err pacs_audit_read(const char *data_dir, const pacs_audit_filter *f, FILE *out,
                         size_t *n_lines, size_t *n_bad, pacs_errinfo *ei)
{
    static const pacs_audit_filter all = {NULL, NULL, NULL, NULL, 0};
    char dir[PATH_MAX];
    size_t lines = 0, bad = 0, n = 0, cap = 0;
    char **names = NULL;
    study_set studies = {NULL, 0, 0, 0};
    pacs_err err = PACS_OK;
    DIR *d = NULL;
    if (!f) {
        f = &all;
    }
    snprintf(dir, sizeof dir, "%s/audit", data_dir);
    d = opendir(dir);
    if (!d) {
        if (errno == ENOENT) {
            goto done; /* nothing recorded yet */
        }
        err = pacs_errf(ei, PACS_EIO, "open %s: %s", dir, strerror(errno));
        goto done;
    }
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (!is_day_file(e->d_name)) {
            continue;
        }
        if (n == cap) {
            size_t ncap = cap ? cap * 2 : 64;
            char **g2 = realloc(names, ncap * sizeof *g2);
            if (!g2) {
                err = pacs_errf(ei, PACS_ENOMEM, "out of memory");
                goto done;
            }
            names = g2;
            cap = ncap;
        }
        names[n] = strdup(e->d_name);
        if (!names[n]) {
            err = pacs_errf(ei, PACS_ENOMEM, "out of memory");
            goto done;
        }
        n++;
    }
    qsort(names, n, sizeof *names, cmp_names);
    if (f->patient_id && f->patient_id[0]) {
        for (size_t i = 0; i < f->n_studies; i++) {
            set_add(&studies, f->studies[i]);
        }
        /* Every day, even before --since: the study may have been stored long before. */
        for (size_t i = 0; i < n && err == PACS_OK; i++) {
            char path[PATH_MAX + 32];
            snprintf(path, sizeof path, "%s/%s", dir, names[i]);
            err = read_file(path, f, &studies, 1, out, &lines, &bad, ei);
        }
        if (err == PACS_OK && studies.oom) {
            err = pacs_errf(ei, PACS_ENOMEM, "out of memory");
        }
    }
    for (size_t i = 0; i < n && err == PACS_OK; i++) {
        /* Whole days before --since are skipped unread. */
        if (f->since && strlen(f->since) >= 10 && strncmp(names[i], f->since, 10) < 0) {
            continue;
        }
        char path[PATH_MAX + 32];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        err = read_file(path, f, &studies, 0, out, &lines, &bad, ei);
    }
done:
    if (d) {
        closedir(d);
    }
    for (size_t i = 0; i < n; i++) {
        free(names[i]);
    }
    free(names);
    for (size_t i = 0; i < studies.n; i++) {
        free(studies.uids[i]);
    }
    free(studies.uids);
    if (err == PACS_OK) {
        *n_lines = lines;
        *n_bad = bad;
    }
    return err;
}
