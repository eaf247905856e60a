// SPDX-License-Identifier: MIT
/*
 * `pacs share`: share links for patients and referring doctors (the film a patient used to take
 * home). Creates a signed, expiring token for one stored study in the share store
 * (storage/share.h), prints the link to the study's share page ({site}/share/{token}, where
 * {site} comes from http.public_url without http.prefix, or from where the pacsd running on
 * the same data folder listens, DATA/pacsd.http), and draws
 * it as a QR code with libqrencode: a PNG sized to print (at least 4 cm wide at 300 dpi, a
 * 4-module quiet zone; libpng) or UTF-8 half blocks on the terminal, or prints it on an A5
 * slip for the patient (slip.h). Also lists and revokes
 * shares. Creation and revocation go to the audit trail (PACS_AUDIT_SHARE).
 *
 * Single-threaded; runs beside a running pacsd on the same data folder (the share store and
 * the audit trail are safe for several processes).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <ifaddrs.h>
#include <limits.h>
#include <net/if.h>
#include <netinet/in.h>
#include <png.h>
#include <pwd.h>
#include <qrencode.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "pacs/base/runinfo.h"
#include "storage/archive.h"
#include "storage/audit.h"
#include "storage/query.h"
#include "storage/resolve.h"
#include "storage/share.h"
#include "storage/share_scope.h"
#include "tools/cli/slip.h"
#include "tools/cli/tool.h"

#define QR_QUIET 4           /* modules of white around the code (ISO/IEC 18004) */
#define QR_MIN_PX 472        /* 4 cm at 300 dpi */
#define QR_DPM 11811         /* 300 dpi in pixels per metre, for the PNG's pHYs */
#define MAX_SECONDS 31622400 /* a year and a day */

static void share_usage(FILE *f)
{
    fprintf(f,
            "usage: pacs share STUDY_UID [--days N | --seconds N] [--qr FILE.png | --qr -]\n"
            "                  [--slip FILE.pdf]\n"
            "       pacs share --patient PATIENT_ID [--issuer ISSUER] [--later] [options above]\n"
            "       pacs share --list [--study UID]\n"
            "       pacs share --revoke ID_OR_TOKEN\n"
            "       pacs share --rotate-key\n"
            "Prints the share link on stdout (and draws it as a QR code with --qr, or on an\n"
            "A5 slip to print for the patient with --slip, headed by hospital.name). The link\n"
            "starts with http.public_url (without http.prefix), or with the address and port\n"
            "the pacsd running on the same data folder listens on. --patient shares every\n"
            "study of one patient stored now (with --later, also those stored later).\n");
}

static const char *os_user(void)
{
    const struct passwd *pw = getpwuid(getuid());
    return pw && pw->pw_name ? pw->pw_name : "?";
}

static void audit(const pacs_config *cfg, int success, const char *study, const char *patient,
                  const char *detail)
{
    pacs_errinfo ei;
    if (pacs_audit_open(pacs_config_str(cfg, "data"), &ei) != PACS_OK) {
        pacs_tool__msg(NULL, "warning: the audit trail cannot be written: %s", ei.msg);
        return;
    }
    pacs_audit_event ev;
    memset(&ev, 0, sizeof ev);
    ev.action = PACS_AUDIT_SHARE;
    ev.success = success;
    ev.protocol = "tool";
    ev.who = os_user();
    ev.study_uid = study;
    ev.patient_id = patient;
    ev.detail = detail;
    pacs_audit_record(&ev);
    pacs_audit_close();
}

/* An address of this machine a phone on the same network can reach: the first IPv4 address of
 * an interface that is up and not loopback; "" when there is none. */
static void lan_address(char *out, size_t cap)
{
    struct ifaddrs *list = NULL;
    out[0] = '\0';
    if (getifaddrs(&list) != 0) {
        return;
    }
    for (const struct ifaddrs *i = list; i; i = i->ifa_next) {
        if (i->ifa_addr && i->ifa_addr->sa_family == AF_INET && (i->ifa_flags & IFF_UP) &&
            !(i->ifa_flags & IFF_LOOPBACK)) {
            const struct sockaddr_in *sin = (const struct sockaddr_in *)(const void *)i->ifa_addr;
            if (inet_ntop(AF_INET, &sin->sin_addr, out, (socklen_t)cap)) {
                break;
            }
            out[0] = '\0';
        }
    }
    freeifaddrs(list);
}

/* The host part of a link to a server listening on `bind`. */
static void link_host(const char *bind, char *out, size_t cap)
{
    if (!pacs_runinfo_wildcard(bind)) {
        snprintf(out, cap, strchr(bind, ':') && bind[0] != '[' ? "[%s]" : "%s", bind);
        return;
    }
    lan_address(out, cap);
    if (!out[0] && gethostname(out, cap) != 0) {
        snprintf(out, cap, "localhost");
    }
    out[cap - 1] = '\0';
}

/* The site's root URL for links, without a trailing '/': http.public_url (without http.prefix)
 * when set; otherwise where the pacsd running on this data folder listens (DATA/pacsd.http);
 * otherwise the configuration's http.bind and http.port, with a warning, since nothing says a
 * server answers there. */
static void site_url(const pacs_config *cfg, char *out, size_t cap)
{
    const char *pub = pacs_config_str(cfg, "http.public_url");
    const char *prefix = pacs_config_str(cfg, "http.prefix");
    if (pub[0]) {
        size_t n = strlen(pub), pl = strlen(prefix);
        while (n > 0 && pub[n - 1] == '/') {
            n--;
        }
        if (pl > 0 && n >= pl && strncmp(pub + n - pl, prefix, pl) == 0) {
            n -= pl;
        }
        snprintf(out, cap, "%.*s", (int)n, pub);
        return;
    }
    char host[256];
    pacs_runinfo ri;
    pacs_errinfo ei;
    const char *data = pacs_config_str(cfg, "data");
    pacs_err err = pacs_runinfo_read(data, &ri, &ei);
    if (err == PACS_OK) {
        link_host(ri.bind, host, sizeof host);
        snprintf(out, cap, "%s://%s:%d", ri.scheme, host, ri.port);
        if (!pacs_runinfo_alive(ri.pid)) {
            pacs_tool__msg(NULL,
                           "warning: the pacsd that listened at %s (pid %ld) is not running; "
                           "the link works once it runs there again",
                           out, ri.pid);
        }
        if (pacs_runinfo_wildcard(ri.bind)) {
            pacs_tool__msg(NULL,
                           "note: pacsd listens on every address; the link uses %s. Set "
                           "http.public_url to the address patients can reach",
                           host);
        }
        return;
    }
    link_host(pacs_config_str(cfg, "http.bind"), host, sizeof host);
    snprintf(out, cap, "%s://%s:%ld", pacs_config_bool(cfg, "http.tls") ? "https" : "http", host,
             pacs_config_int(cfg, "http.port"));
    pacs_tool__msg(NULL,
                   "warning: http.public_url is not set and no running pacsd left its address "
                   "in %s/%s (%s); the link assumes %s from the configuration. Set "
                   "http.public_url, or start pacsd first",
                   data, PACS_RUNINFO_FILE, err == PACS_ENOTFOUND ? "none there" : ei.msg, out);
}

/* ---- QR codes ---- */

static int qr_dark(const QRcode *qr, int x, int y)
{
    if (x < 0 || y < 0 || x >= qr->width || y >= qr->width) {
        return 0;
    }
    return qr->data[y * qr->width + x] & 1;
}

/* Two modules per character cell (upper and lower half), light modules drawn as blocks so
 * that the code shows dark-on-light on the usual dark terminal. */
static void qr_terminal(const QRcode *qr, FILE *out)
{
    static const char *const cell[4] = {"\xe2\x96\x88", "\xe2\x96\x80", "\xe2\x96\x84", " "};
    int lo = -QR_QUIET, hi = qr->width + QR_QUIET;
    for (int y = lo; y < hi; y += 2) {
        for (int x = lo; x < hi; x++) {
            int top = qr_dark(qr, x, y), bottom = y + 1 < hi ? qr_dark(qr, x, y + 1) : 1;
            fputs(cell[top * 2 + bottom], out);
        }
        fputc('\n', out);
    }
}

static int qr_png(const QRcode *qr, const char *path, char *why, size_t cap)
{
    int modules = qr->width + 2 * QR_QUIET;
    int scale = (QR_MIN_PX + modules - 1) / modules;
    int px = modules * scale;
    FILE *f = fopen(path, "wb");
    if (!f) {
        snprintf(why, cap, "cannot write %s: %s", path, strerror(errno));
        return -1;
    }
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    unsigned char *row = malloc((size_t)px);
    int rc = -1;
    if (!png || !info || !row) {
        snprintf(why, cap, "out of memory");
        goto done;
    }
    if (setjmp(png_jmpbuf(png))) {
        snprintf(why, cap, "cannot write the PNG %s", path);
        goto done;
    }
    png_init_io(png, f);
    png_set_IHDR(png, info, (png_uint_32)px, (png_uint_32)px, 8, PNG_COLOR_TYPE_GRAY,
                 PNG_INTERLACE_NONE, PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    png_set_pHYs(png, info, QR_DPM, QR_DPM, PNG_RESOLUTION_METER);
    png_write_info(png, info);
    for (int y = 0; y < px; y++) {
        for (int x = 0; x < px; x++) {
            row[x] = qr_dark(qr, x / scale - QR_QUIET, y / scale - QR_QUIET) ? 0 : 255;
        }
        png_write_row(png, row);
    }
    png_write_end(png, NULL);
    rc = 0;
done:
    png_destroy_write_struct(png ? &png : NULL, info ? &info : NULL);
    free(row);
    if (fclose(f) != 0 && rc == 0) {
        snprintf(why, cap, "cannot write %s: %s", path, strerror(errno));
        rc = -1;
    }
    return rc;
}

/* ---- the subcommands ---- */

/* What a slip says of a study (and its patient). */
typedef struct study_facts {
    int found;
    char name[256], patient_id[80], birth[16], date[16], description[256];
} study_facts;

static void fact(const json_t *ds, const char *tag, char *out, size_t cap)
{
    const json_t *v = json_array_get(json_object_get(json_object_get(ds, tag), "Value"), 0);
    const char *s = json_is_string(v) ? json_string_value(v)
                                      : json_string_value(json_object_get(v, "Alphabetic"));
    snprintf(out, cap, "%s", s ? s : "");
}

static int on_found(void *ctx, const json_t *result)
{
    study_facts *f = ctx;
    f->found = 1;
    fact(result, "00100010", f->name, sizeof f->name);
    fact(result, "00100020", f->patient_id, sizeof f->patient_id);
    fact(result, "00100030", f->birth, sizeof f->birth);
    fact(result, "00080020", f->date, sizeof f->date);
    fact(result, "00081030", f->description, sizeof f->description);
    return 1;
}

/* 1 when the study is stored (its facts in `f`), 0 when not, -1 on error (reported). */
static int study_stored(const pacs_config *cfg, const char *uid, study_facts *f)
{
    pacs_errinfo ei;
    pacs_archive *a = NULL;
    memset(f, 0, sizeof *f);
    if (pacs_archive_open(cfg, &a, &ei) != PACS_OK) {
        pacs_tool__msg(NULL, "cannot open the archive in %s: %s", pacs_config_str(cfg, "data"),
                       ei.msg);
        return -1;
    }
    int rc = -1;
    pacs_err err = PACS_OK;
    pacs_query *q = pacs_resolve_query(uid, NULL, NULL, &ei);
    static const uint32_t shown[] = {0x00100010, 0x00100020, 0x00100030, 0x00080020, 0x00081030};
    if (!q) {
        pacs_tool__msg(NULL, "cannot look the study up: %s", ei.msg);
        goto done;
    }
    for (size_t i = 0; err == PACS_OK && i < sizeof shown / sizeof shown[0]; i++) {
        err = pacs_query_include(q, shown[i], &ei);
    }
    if (err == PACS_OK) {
        err = pacs_archive_find(a, q, on_found, f, &ei);
    }
    if (err != PACS_OK) {
        pacs_tool__msg(NULL, "cannot look the study up: %s", ei.msg);
    } else {
        rc = f->found;
    }
done:
    pacs_query_free(q);
    pacs_archive_close(a);
    return rc;
}

/* What `pacs share` was asked to make. */
typedef struct share_request {
    const char *study;   /* a study's share, or NULL */
    const char *patient; /* a patient's share (PatientID), or NULL */
    const char *issuer;  /* its IssuerOfPatientID, or NULL for the only one there is */
    int later;           /* a patient's share: studies stored later too */
    long long seconds;
    const char *qr, *slip;
} share_request;

static int newest(void *ctx, const char *study_uid)
{
    snprintf(ctx, 65, "%s", study_uid);
    return 1;
}

/* A patient's share's subject, the facts of the patient's newest study and how many studies. */
static int patient_subject(const pacs_config *cfg, const share_request *rq, char *subject,
                           size_t cap, study_facts *facts, size_t *n)
{
    pacs_errinfo ei;
    pacs_archive *a = NULL;
    if (pacs_archive_open(cfg, &a, &ei) != PACS_OK) {
        pacs_tool__msg(NULL, "cannot open the archive in %s: %s", pacs_config_str(cfg, "data"),
                       ei.msg);
        return TOOL_PROBLEMS;
    }
    pacs_share_scope *sc = calloc(1, sizeof *sc);
    char first[65] = "";
    pacs_err err = sc ? pacs_share_scope_make(a, rq->patient, rq->issuer, rq->later, sc, n, &ei)
                      : pacs_errf(&ei, PACS_ENOMEM, "out of memory");
    if (err == PACS_OK) {
        err = pacs_share_scope_format(sc, subject, cap, &ei);
    }
    if (err == PACS_OK) {
        err = pacs_share_scope_studies(a, sc, newest, first, &ei);
    }
    free(sc);
    pacs_archive_close(a);
    if (err != PACS_OK) {
        pacs_tool__msg(NULL, "cannot share patient %s: %s", rq->patient, ei.msg);
        return err == PACS_EINVAL ? TOOL_USAGE : TOOL_PROBLEMS;
    }
    return study_stored(cfg, first, facts) == 1 ? TOOL_OK : TOOL_PROBLEMS;
}

static int write_slip(const pacs_config *cfg, const study_facts *f, size_t n_studies, int later,
                      const char *link, int64_t expires, const char *path)
{
    pacs_slip slip = {
        .hospital = pacs_config_str(cfg, "hospital.name"),
        .patient_name = f->name,
        .patient_id = f->patient_id,
        .birth_date = f->birth,
        .study_date = f->date,
        .study_description = f->description,
        .n_studies = n_studies,
        .later = later,
        .link = link,
        .expires = expires,
    };
    char why[PATH_MAX + 128];
    if (pacs_tool__slip(&slip, path, why, sizeof why) != 0) {
        pacs_tool__msg(NULL, "cannot make the slip: %s", why);
        return TOOL_PROBLEMS;
    }
    if (!slip.hospital[0]) {
        pacs_tool__msg(NULL, "note: hospital.name is not set; the slip has no hospital name");
    }
    pacs_tool__msg(NULL, "slip in %s (A5, PDF): print it and give it to the patient", path);
    return TOOL_OK;
}

static int create(const pacs_config *cfg, pacs_shares *sh, const share_request *rq)
{
    study_facts facts;
    const char *uid = rq->study, *qr_out = rq->qr, *slip_out = rq->slip;
    char subject[PACS_SHARE_SUBJECT_MAX + 1];
    size_t n_studies = 0;
    if (uid) {
        int stored = study_stored(cfg, uid, &facts);
        if (stored <= 0) {
            if (stored == 0) {
                pacs_tool__msg(NULL, "no study %s in the archive", uid);
            }
            return TOOL_PROBLEMS;
        }
        snprintf(subject, sizeof subject, "%s", uid);
    } else {
        int rc = patient_subject(cfg, rq, subject, sizeof subject, &facts, &n_studies);
        if (rc != TOOL_OK) {
            return rc;
        }
    }
    char token[PACS_SHARE_TOKEN_LEN + 1], id[PACS_SHARE_ID_LEN + 1];
    int64_t expires = (int64_t)time(NULL) + rq->seconds;
    char creator[160];
    snprintf(creator, sizeof creator, "tool:%s", os_user());
    pacs_errinfo ei;
    if (pacs_shares_create_subject(sh, subject, expires, creator, token, sizeof token, id,
                                   sizeof id, &ei) != PACS_OK) {
        pacs_tool__msg(NULL, "cannot create the share: %s", ei.msg);
        audit(cfg, 0, uid, rq->patient, "share create failed");
        return TOOL_PROBLEMS;
    }
    char detail[160];
    if (uid) {
        snprintf(detail, sizeof detail, "share %s created, expires %lld", id, (long long)expires);
    } else {
        snprintf(detail, sizeof detail,
                 "share %s of the patient's %zu studies%s created, expires %lld", id, n_studies,
                 rq->later ? " and later ones" : "", (long long)expires);
    }
    audit(cfg, 1, uid, rq->patient, detail);

    char site[600], link[700];
    site_url(cfg, site, sizeof site);
    snprintf(link, sizeof link, "%s/share/%s", site, token);
    printf("%s\n", link);
    fflush(stdout);
    time_t exp = (time_t)expires;
    struct tm tm;
    char until[32] = "?";
    if (gmtime_r(&exp, &tm)) {
        strftime(until, sizeof until, "%Y-%m-%d %H:%M:%S", &tm);
    }
    if (uid) {
        pacs_tool__msg(NULL,
                       "share %s of study %s, valid until %s UTC (expires=%lld); revoke with "
                       "`pacs share --revoke %s`",
                       id, uid, until, (long long)expires, id);
    } else {
        pacs_tool__msg(NULL,
                       "share %s of patient %s: %zu stud%s now%s, valid until %s UTC "
                       "(expires=%lld); revoke with `pacs share --revoke %s`",
                       id, rq->patient, n_studies, n_studies == 1 ? "y" : "ies",
                       rq->later ? " and those stored later" : "", until, (long long)expires, id);
    }
    int rc = TOOL_OK;
    if (slip_out) {
        rc = write_slip(cfg, &facts, uid ? 0 : n_studies, rq->later, link, expires, slip_out);
    }
    if (!qr_out || rc != TOOL_OK) {
        return rc;
    }
    QRcode *qr = QRcode_encodeString(link, 0, QR_ECLEVEL_M, QR_MODE_8, 1);
    if (!qr) {
        pacs_tool__msg(NULL, "cannot make the QR code: %s", strerror(errno));
        return TOOL_PROBLEMS;
    }
    if (strcmp(qr_out, "-") == 0) {
        qr_terminal(qr, stdout);
    } else {
        char why[PATH_MAX + 64];
        if (qr_png(qr, qr_out, why, sizeof why) != 0) {
            pacs_tool__msg(NULL, "%s", why);
            rc = TOOL_PROBLEMS;
        } else {
            int modules = qr->width + 2 * QR_QUIET;
            int px = modules * ((QR_MIN_PX + modules - 1) / modules);
            pacs_tool__msg(NULL, "QR code in %s: %dx%d px, %.1f cm at 300 dpi", qr_out, px, px,
                           px * 2.54 / 300.0);
        }
    }
    QRcode_free(qr);
    return rc;
}

static int print_share(void *ctx, const pacs_share_info *s)
{
    time_t now = *(time_t *)ctx;
    char created[32] = "?", expires[32] = "?";
    struct tm tm;
    time_t t = (time_t)s->created_at;
    if (gmtime_r(&t, &tm)) {
        strftime(created, sizeof created, "%Y-%m-%dT%H:%M:%SZ", &tm);
    }
    t = (time_t)s->expires_at;
    if (gmtime_r(&t, &tm)) {
        strftime(expires, sizeof expires, "%Y-%m-%dT%H:%M:%SZ", &tm);
    }
    const char *state = s->revoked ? "revoked" : s->expires_at <= now ? "expired" : "active";
    /* A patient's share: "patient=ID" and how many studies, or "+later". */
    char what[200];
    pacs_share_scope *sc = NULL;
    pacs_errinfo ei;
    snprintf(what, sizeof what, "%s", s->study_uid);
    if (pacs_share_scope_is_patient(s->study_uid) && (sc = malloc(sizeof *sc)) &&
        pacs_share_scope_parse(s->study_uid, sc, &ei) == PACS_OK) {
        if (sc->later) {
            snprintf(what, sizeof what, "patient=%s+later", sc->patient_id);
        } else {
            snprintf(what, sizeof what, "patient=%s(%zu)", sc->patient_id, sc->n_studies);
        }
    }
    free(sc);
    printf("%-12s  %-7s  %s  %s  %s  %s\n", s->id, state, created, expires, what,
           s->creator[0] ? s->creator : "-");
    return 0;
}

int pacs_tool__share(const pacs_config *cfg, int argc, char **argv)
{
    const char *uid = NULL, *qr = NULL, *slip = NULL, *revoke = NULL, *study = NULL;
    const char *patient = NULL, *issuer = NULL;
    int list = 0, rotate = 0, later = 0;
    long long seconds = 30LL * 86400;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--days") == 0 && v) {
            char *end = NULL;
            double d = strtod(v, &end);
            if (!end || *end || !(d > 0) || d * 86400 > MAX_SECONDS) {
                pacs_tool__msg(NULL, "--days wants a number of days above 0, at most 366");
                return TOOL_USAGE;
            }
            seconds = (long long)(d * 86400 + 0.5);
            i++;
        } else if (strcmp(a, "--seconds") == 0 && v) {
            char *end = NULL;
            long long s = strtoll(v, &end, 10);
            if (!end || *end || s <= 0 || s > MAX_SECONDS) {
                pacs_tool__msg(NULL, "--seconds wants a whole number above 0");
                return TOOL_USAGE;
            }
            seconds = s;
            i++;
        } else if (strcmp(a, "--qr") == 0 && v) {
            qr = v;
            i++;
        } else if (strcmp(a, "--slip") == 0 && v) {
            slip = v;
            i++;
        } else if (strcmp(a, "--revoke") == 0 && v) {
            revoke = v;
            i++;
        } else if (strcmp(a, "--study") == 0 && v) {
            study = v;
            i++;
        } else if (strcmp(a, "--patient") == 0 && v) {
            patient = v;
            i++;
        } else if (strcmp(a, "--issuer") == 0 && v) {
            issuer = v;
            i++;
        } else if (strcmp(a, "--later") == 0) {
            later = 1;
        } else if (strcmp(a, "--list") == 0) {
            list = 1;
        } else if (strcmp(a, "--rotate-key") == 0) {
            rotate = 1;
        } else if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
            share_usage(stdout);
            return TOOL_OK;
        } else if (a[0] != '-' && !uid) {
            uid = a;
        } else {
            share_usage(stderr);
            return TOOL_USAGE;
        }
    }
    int making = uid != NULL || patient != NULL;
    if ((uid != NULL) + (patient != NULL) + list + (revoke != NULL) + rotate != 1 ||
        ((qr || slip) && !making) || (study && !list) || ((issuer || later) && !patient)) {
        share_usage(stderr);
        return TOOL_USAGE;
    }
    pacs_errinfo ei;
    pacs_shares *sh = NULL;
    if (pacs_shares_open_at(pacs_config_str(cfg, "data"), pacs_config_str(cfg, "index"), &sh,
                            &ei) != PACS_OK) {
        pacs_tool__msg(NULL, "cannot open the share store in %s: %s", pacs_config_str(cfg, "data"),
                       ei.msg);
        return TOOL_PROBLEMS;
    }
    int rc = TOOL_OK;
    if (making) {
        share_request rq = {uid, patient, issuer, later, seconds, qr, slip};
        rc = create(cfg, sh, &rq);
    } else if (list) {
        time_t now = time(NULL);
        printf("%-12s  %-7s  %-20s  %-20s  %s  %s\n", "ID", "STATE", "CREATED", "EXPIRES", "STUDY",
               "CREATOR");
        if (pacs_shares_list(sh, study, print_share, &now, &ei) != PACS_OK) {
            pacs_tool__msg(NULL, "cannot list the shares: %s", ei.msg);
            rc = TOOL_PROBLEMS;
        }
    } else if (revoke) {
        char what[64];
        snprintf(what, sizeof what, "share %.12s revoked",
                 strlen(revoke) == PACS_SHARE_ID_LEN ? revoke : "(by token)");
        if (pacs_shares_revoke(sh, revoke, &ei) != PACS_OK) {
            pacs_tool__msg(NULL, "cannot revoke: %s", ei.msg);
            audit(cfg, 0, NULL, NULL, "share revoke failed");
            rc = TOOL_PROBLEMS;
        } else {
            audit(cfg, 1, NULL, NULL, what);
            pacs_tool__msg(NULL, "%s: its link no longer works", what);
        }
    } else {
        if (pacs_shares_rotate_key(sh, &ei) != PACS_OK) {
            pacs_tool__msg(NULL, "cannot rotate the key: %s", ei.msg);
            rc = TOOL_PROBLEMS;
        } else {
            audit(cfg, 1, NULL, NULL, "share key rotated: every share revoked");
            pacs_tool__msg(NULL, "new signing key: every earlier share link is revoked");
        }
    }
    pacs_shares_close(sh);
    return rc;
}
