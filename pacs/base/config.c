// SPDX-License-Identifier: MIT
/*
 * Configuration store. Keys are declared in `keys[]` below (the single list `pacsd --help-config`
 * prints and the settings tables of docs/ are kept in step with); values are kept as validated
 * text plus a parsed integer. Not thread-safe while being loaded; read-only and shareable after
 * pacs_config_finish().
 */
#include "pacs/base/config.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef enum { KEY_STR, KEY_INT, KEY_BOOL, KEY_AMOUNT } key_type;

typedef struct key_def {
    const char *name;
    key_type type;
    const char *def;
    long min, max;
    const char *help;
} key_def;

static const key_def keys[] = {
    {"data", KEY_STR, "./data", 0, 0, "data folder: objects, index, temporary files"},
    {"index", KEY_STR, "", 0, 0,
     "index location: empty means DATA/index.sqlite; postgresql://user@host:port/db for a "
     "PostgreSQL index that several nodes share"},
    {"index.pool", KEY_INT, "8", 1, 256,
     "PostgreSQL connections each node keeps for queries (the writer has one more)"},
    {"index.claim_seconds", KEY_INT, "300", 1, 86400,
     "on a shared index, how long forwarding entries a node took stay its own (a node that "
     "dies holding them gives them up after this)"},
    {"node.name", KEY_STR, "", 0, 0,
     "this node's name among nodes sharing an index and object folder; empty: host name and "
     "data folder"},
    {"storage.objects", KEY_STR, "", 0, 0,
     "object folder, shared by the nodes of one archive; empty means DATA/objects"},
    {"storage.sweep_grace", KEY_INT, "3600", 60, 31536000,
     "seconds before `pacs verify --sweep` takes an unreferenced object of a shared folder, or "
     "a vanished node's intent, for an orphan"},
    {"storage.free_min", KEY_AMOUNT, "2%", 0, 0,
     "the high watermark: below this much free space new stores are refused (C-STORE 0xA700, "
     "STOW-RS 507) and /readyz fails; N% of the file system, or a size (500MB, 20GB); 0 never "
     "refuses"},
    {"storage.free_warn", KEY_AMOUNT, "10%", 0, 0,
     "below this much free space a warning is logged and shown in the metrics; N% or a size"},
    {"log.level", KEY_STR, "info", 0, 0, "error, warn, info, debug or trace"},
    {"dimse.aet", KEY_STR, "PACS", 0, 0, "this server's AE title"},
    {"dimse.bind", KEY_STR, "0.0.0.0", 0, 0, "address the DICOM port listens on"},
    {"dimse.port", KEY_INT, "11112", 0, 65535, "DICOM port; 0 picks a free one"},
    {"dimse.max_associations", KEY_INT, "32", 1, 4096,
     "concurrent associations; more are rejected (local limit exceeded)"},
    {"dimse.max_pdu", KEY_INT, "65536", 4096, 131072, "largest PDU this server receives (bytes)"},
    {"dimse.timeout", KEY_INT, "60", 1, 86400, "seconds an association may stay silent"},
    {"dimse.acse_timeout", KEY_INT, "30", 1, 3600,
     "seconds a peer may take to open or close an association"},
    {"dimse.strict_called_aet", KEY_BOOL, "true", 0, 0,
     "reject associations whose called AE title is not dimse.aet"},
    {"dimse.allowed_aets", KEY_STR, "", 0, 0,
     "comma-separated calling AE titles allowed to connect; empty allows any"},
    {"dimse.access_control", KEY_BOOL, "false", 0, 0,
     "only known AEs (ae.TITLE = host:port ...) may associate, from their addresses, for the "
     "services they are allowed (allow=, from=); false: any calling AE"},
    {"dimse.plain", KEY_BOOL, "true", 0, 0,
     "open the plain (unencrypted) DICOM port dimse.port; false: TLS only"},
    {"dimse.tls.port", KEY_INT, "-1", -1, 65535,
     "DICOM TLS port (2762 is the registered one); -1: none; 0 picks a free one"},
    {"dimse.tls.cert", KEY_STR, "", 0, 0, "PEM certificate (chain) of this server for DICOM TLS"},
    {"dimse.tls.key", KEY_STR, "", 0, 0, "PEM private key of dimse.tls.cert (unencrypted)"},
    {"dimse.tls.ca", KEY_STR, "", 0, 0,
     "PEM CA certificates that sign peers' certificates: clients on the TLS port (see "
     "dimse.tls.verify_client) and destinations marked tls"},
    {"dimse.tls.verify_client", KEY_BOOL, "true", 0, 0,
     "require a client certificate signed by dimse.tls.ca on the TLS port; false: none asked"},
    {"dimse.tls.profile", KEY_STR, "bcp195", 0, 0,
     "TLS profile (PS3.15 B.9/B.10/B.11): bcp195, bcp195-nd or bcp195-extended"},
    {"hl7.port", KEY_INT, "2575", -1, 65535,
     "HL7 v2 (MLLP) port for orders and patients from the HIS; 0 picks a free one; -1: none"},
    {"hl7.tls.port", KEY_INT, "-1", -1, 65535,
     "HL7 v2 over TLS port (MLLP in TLS, with the certificates of dimse.tls.*); -1: none; 0 "
     "picks a free one"},
    {"hl7.bind", KEY_STR, "0.0.0.0", 0, 0, "address the HL7 ports listen on"},
    {"hl7.max_connections", KEY_INT, "16", 1, 4096,
     "concurrent HL7 connections; more are closed at once"},
    {"hl7.timeout", KEY_INT, "60", 1, 86400, "seconds an HL7 connection may stay silent"},
    {"hl7.max_message_kb", KEY_INT, "1024", 1, 65536,
     "largest HL7 message, in KiB; larger ones are answered AR and dropped"},
    {"hl7.charset", KEY_STR, "UNICODE UTF-8", 0, 0,
     "character set of HL7 messages whose MSH-18 is empty: UNICODE UTF-8, 8859/1 or ASCII"},
    {"hl7.id.bhxh", KEY_STR, "BHXH,SS,HC", 0, 0,
     "PID-3 identifiers that are the social-insurance number (the health ID's base): their "
     "assigning authorities (CX-4) or identifier type codes (CX-5), comma-separated"},
    {"hl7.id.cccd", KEY_STR, "CCCD,NI", 0, 0,
     "PID-3 identifiers that are the citizen ID: assigning authorities or type codes"},
    {"hl7.id.mrn", KEY_STR, "MR,PI", 0, 0,
     "PID-3 identifiers that are the hospital's medical record number: authorities or types"},
    {"patient.id_order", KEY_STR, "bhxh,cccd,mrn", 0, 0,
     "patient identifier systems, the first one a patient has giving the PatientID that images "
     "and worklists carry (bhxh: social-insurance number, cccd: citizen ID, mrn: the "
     "hospital's record number)"},
    {"http.tls", KEY_BOOL, "false", 0, 0,
     "serve HTTPS instead of HTTP on http.port (plain HTTP is then off)"},
    {"http.tls.cert", KEY_STR, "", 0, 0, "PEM certificate (chain) of this server for HTTPS"},
    {"http.tls.key", KEY_STR, "", 0, 0, "PEM private key of http.tls.cert (unencrypted)"},
    {"http.bind", KEY_STR, "0.0.0.0", 0, 0, "address the HTTP port listens on"},
    {"http.port", KEY_INT, "8080", 0, 65535, "HTTP port for DICOMweb; 0 picks a free one"},
    {"http.prefix", KEY_STR, "/dicomweb", 0, 0, "URL path under which DICOMweb is served"},
    {"http.public_url", KEY_STR, "", 0, 0,
     "external URL of the DICOMweb root for links in answers (behind a proxy); empty: from "
     "the Host header"},
    {"http.threads", KEY_INT, "4", 1, 256, "HTTP worker threads (each with its own epoll set)"},
    {"http.max_connections", KEY_INT, "256", 1, 65536,
     "concurrent HTTP connections; more are refused"},
    {"http.timeout", KEY_INT, "60", 1, 86400, "seconds an HTTP connection may stay silent"},
    {"http.max_body_mb", KEY_INT, "4096", 1, 1048576,
     "largest request body (STOW-RS) in MiB; larger ones get 413"},
    {"http.cors_origins", KEY_STR, "", 0, 0,
     "comma-separated origins allowed by CORS (browser viewers elsewhere); * for any; empty: none"},
    {"http.ops_auth", KEY_BOOL, "true", 0, 0,
     "with http.auth = required, /metrics, /healthz and /readyz need a credential with the "
     "metrics scope too; false: they answer anyone who reaches the HTTP port"},
    {"http.auth", KEY_STR, "off", 0, 0,
     "off: requests without credentials are anonymous (read, write, delete); required: every "
     "DICOMweb request needs an API key, a bearer JWT or a share token (401 otherwise)"},
    {"auth.jwt_keys", KEY_STR, "", 0, 0,
     "JWKS (JSON) or PEM file of the public keys that sign accepted OAuth2 access tokens "
     "(RS256/384/512, ES256/384/512)"},
    {"auth.jwt_issuer", KEY_STR, "", 0, 0, "the iss every accepted JWT must carry"},
    {"auth.jwt_audience", KEY_STR, "", 0, 0, "the aud every accepted JWT must carry"},
    {"auth.jwt_leeway", KEY_INT, "60", 0, 600, "seconds of clock skew allowed for exp and nbf"},
    {"hospital.name", KEY_STR, "", 0, 0,
     "the hospital's name as patients know it, printed at the top of share slips "
     "(pacs share --slip)"},
    {"auth.share_max_days", KEY_INT, "365", 1, 36500,
     "longest life of a share link made over HTTP ({prefix}/shares), in days"},
    {"viewer.frames", KEY_STR, "stored", 0, 0,
     "how the viewer asks for frames: stored (as stored), or a transfer syntax UID to ask every "
     "frame in, e.g. 1.2.840.10008.1.2.4.80 (JPEG-LS lossless) for viewers on slow links"},
    {"viewer.root", KEY_STR, "", 0, 0,
     "folder of the web viewer served at /viewer (OHIF's app, which the build installs); empty: "
     "../viewer or ../share/pacsd/viewer beside the pacsd binary"},
    {"dicomweb.max_results", KEY_INT, "1000", 0, 1000000,
     "most QIDO-RS results in one answer (0: no cap); more are asked for with offset"},
    {"dicomweb.delete_allowed", KEY_BOOL, "false", 0, 0,
     "allow DELETE of studies, series and instances over DICOMweb"},
    {"ingest.max_object_mb", KEY_INT, "4096", 1, 1048576,
     "largest object accepted, in MiB; larger ones are refused"},
    {"forward.retry_min", KEY_INT, "5", 1, 86400,
     "seconds before the first retry of a failed forward; doubled on each failure"},
    {"forward.retry_max", KEY_INT, "600", 1, 604800, "longest wait between forward retries (s)"},
    {"forward.max_attempts", KEY_INT, "0", 0, 1000000,
     "attempts before a forward is marked failed (0: retry for ever)"},
};
#define NKEYS (sizeof keys / sizeof keys[0])

typedef struct value {
    char *text;
    long num;
} value;

struct pacs_config {
    value values[NKEYS];
    pacs_remote_ae *aes;
    size_t n_aes;
    pacs_config_route *routes;
    size_t n_routes;
    pacs_api_key *api_keys;
    size_t n_api_keys;
};

static const key_def *find_key(const char *name, size_t *index)
{
    for (size_t i = 0; i < NKEYS; i++) {
        if (strcmp(keys[i].name, name) == 0) {
            *index = i;
            return &keys[i];
        }
    }
    return NULL;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s)) {
        s++;
    }
    size_t n = strlen(s);
    while (n > 0 && isspace((unsigned char)s[n - 1])) {
        s[--n] = '\0';
    }
    return s;
}

/* "N%" (N from 0 to 100, a decimal fraction allowed) or a size: a whole number with an
 * optional K, M, G or T suffix (powers of 1024; "MB", "MiB" and "M" alike). */
static int parse_amount(const char *text, pacs_amount *out)
{
    char *end = NULL;
    memset(out, 0, sizeof *out);
    errno = 0;
    double v = strtod(text, &end);
    if (errno != 0 || end == text || v < 0 || !isdigit((unsigned char)text[0])) {
        return -1;
    }
    if (strcmp(end, "%") == 0) {
        out->percent = 1;
        out->share = v;
        return v <= 100 ? 0 : -1;
    }
    static const char *const units = "KMGT";
    double mult = 1;
    if (*end) {
        const char *u = strchr(units, toupper((unsigned char)*end));
        if (!u) {
            return -1;
        }
        for (const char *p = units; p <= u; p++) {
            mult *= 1024;
        }
        end++;
        if (strcmp(end, "") != 0 && strcmp(end, "B") != 0 && strcmp(end, "iB") != 0) {
            return -1;
        }
    }
    if (v * mult > 9.0e18) {
        return -1;
    }
    out->bytes = (uint64_t)(v * mult);
    return 0;
}

static pacs_err parse_value(const key_def *k, const char *text, long *num, pacs_errinfo *ei)
{
    *num = 0;
    if (k->type == KEY_AMOUNT) {
        pacs_amount a;
        if (parse_amount(text, &a) != 0) {
            return pacs_errf(ei, PACS_EINVAL,
                             "%s: '%s' is neither a percentage (5%%) nor a size (500MB, 20GB)",
                             k->name, text);
        }
    } else if (k->type == KEY_INT) {
        char *end = NULL;
        errno = 0;
        long v = strtol(text, &end, 10);
        if (errno != 0 || end == text || *end != '\0') {
            return pacs_errf(ei, PACS_EINVAL, "%s: '%s' is not a whole number", k->name, text);
        }
        if (v < k->min || v > k->max) {
            return pacs_errf(ei, PACS_EINVAL, "%s: %ld is outside %ld..%ld", k->name, v, k->min,
                             k->max);
        }
        *num = v;
    } else if (k->type == KEY_BOOL) {
        if (strcmp(text, "true") == 0 || strcmp(text, "yes") == 0 || strcmp(text, "1") == 0 ||
            strcmp(text, "on") == 0) {
            *num = 1;
        } else if (strcmp(text, "false") == 0 || strcmp(text, "no") == 0 ||
                   strcmp(text, "0") == 0 || strcmp(text, "off") == 0) {
            *num = 0;
        } else {
            return pacs_errf(ei, PACS_EINVAL, "%s: '%s' is not true or false", k->name, text);
        }
    } else if (strcmp(k->name, "log.level") == 0) {
        static const char *const levels[] = {"error", "warn", "info", "debug", "trace"};
        int ok = 0;
        for (size_t i = 0; i < 5; i++) {
            ok |= strcmp(text, levels[i]) == 0;
        }
        if (!ok) {
            return pacs_errf(ei, PACS_EINVAL,
                             "log.level: '%s' is not one of error, warn, info, "
                             "debug, trace",
                             text);
        }
    } else if (strcmp(k->name, "dimse.aet") == 0) {
        if (text[0] == '\0' || strlen(text) > 16 || strchr(text, '\\')) {
            return pacs_errf(ei, PACS_EINVAL, "dimse.aet: '%s' must be 1 to 16 characters", text);
        }
    }
    return PACS_OK;
}

static int valid_aet(const char *aet)
{
    size_t n = strlen(aet);
    if (n == 0 || n > 16) {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)aet[i];
        if (c < 0x20 || c == 0x7f || c == '\\') {
            return 0;
        }
    }
    return 1;
}

/* The options after host:port: `allow=store,find,move,get,commit,mpps|all|none`, `from=ADDR,...`
 * (IPv4 addresses, CIDR blocks or *), `cert=CN`, `names=ascii|utf8`, `tls`. */
static pacs_err set_ae_options(pacs_remote_ae *ae, const char *opts, pacs_errinfo *ei)
{
    static const struct {
        const char *name;
        unsigned bit;
    } services[] = {{"store", PACS_AE_ALLOW_STORE},   {"find", PACS_AE_ALLOW_FIND},
                    {"move", PACS_AE_ALLOW_MOVE},     {"get", PACS_AE_ALLOW_GET},
                    {"commit", PACS_AE_ALLOW_COMMIT}, {"mpps", PACS_AE_ALLOW_MPPS},
                    {"all", PACS_AE_ALLOW_ALL},       {"none", 0}};
    char buf[512];
    snprintf(buf, sizeof buf, "%s", opts);
    char *save = NULL;
    for (char *tok = strtok_r(buf, " \t", &save); tok; tok = strtok_r(NULL, " \t", &save)) {
        if (strcmp(tok, "tls") == 0) {
            ae->tls = 1;
        } else if (strcmp(tok, "names=ascii") == 0 || strcmp(tok, "names=utf8") == 0) {
            ae->ascii_names = strcmp(tok, "names=ascii") == 0;
        } else if (strncmp(tok, "from=", 5) == 0 && tok[5] && strlen(tok + 5) < sizeof ae->from) {
            snprintf(ae->from, sizeof ae->from, "%s", tok + 5);
        } else if (strncmp(tok, "cert=", 5) == 0 && tok[5] && strlen(tok + 5) < sizeof ae->cert) {
            snprintf(ae->cert, sizeof ae->cert, "%s", tok + 5);
        } else if (strncmp(tok, "allow=", 6) == 0) {
            ae->allow = 0;
            char *s2 = NULL;
            for (char *svc = strtok_r(tok + 6, ",", &s2); svc; svc = strtok_r(NULL, ",", &s2)) {
                size_t k = 0;
                while (k < sizeof services / sizeof services[0] &&
                       strcmp(services[k].name, svc) != 0) {
                    k++;
                }
                if (k == sizeof services / sizeof services[0]) {
                    return pacs_errf(ei, PACS_EINVAL,
                                     "ae.%s: unknown service '%s' (store, find, move, get, "
                                     "commit, mpps, all, none)",
                                     ae->aet, svc);
                }
                ae->allow |= services[k].bit;
            }
        } else {
            return pacs_errf(ei, PACS_EINVAL,
                             "ae.%s: '%s' is not an option (allow=..., from=..., cert=..., "
                             "names=ascii|utf8, tls)",
                             ae->aet, tok);
        }
    }
    return PACS_OK;
}

/* `ae.TITLE = host:port [options]`: a later setting of the same title replaces the earlier one. */
static pacs_err set_ae(pacs_config *cfg, const char *key_aet, const char *spec, pacs_errinfo *ei)
{
    /* Leading and trailing spaces of an AE title are not significant (PS3.5 6.2): "ae. CT1"
     * is CT1, as every lookup (which trims) expects. */
    char buf[64];
    int too_long = snprintf(buf, sizeof buf, "%s", key_aet) >= (int)sizeof buf;
    const char *aet = trim(buf);
    if (too_long || !valid_aet(aet)) {
        return pacs_errf(ei, PACS_EINVAL, "ae.%s: an AE title has 1 to 16 characters", aet);
    }
    char text[300];
    size_t hp = strcspn(spec, " \t");
    if (hp >= sizeof text) {
        return pacs_errf(ei, PACS_EINVAL, "ae.%s: '%s' is not host:port", aet, spec);
    }
    memcpy(text, spec, hp);
    text[hp] = '\0';
    const char *colon = strrchr(text, ':');
    if (!colon || colon == text || (size_t)(colon - text) >= sizeof cfg->aes[0].host) {
        return pacs_errf(ei, PACS_EINVAL, "ae.%s: '%s' is not host:port", aet, text);
    }
    char *end = NULL;
    errno = 0;
    long port = strtol(colon + 1, &end, 10);
    if (errno != 0 || end == colon + 1 || *end != '\0' || port < 1 || port > 65535) {
        return pacs_errf(ei, PACS_EINVAL, "ae.%s: '%s' has no valid port", aet, text);
    }
    pacs_remote_ae ae;
    memset(&ae, 0, sizeof ae);
    snprintf(ae.aet, sizeof ae.aet, "%s", aet);
    memcpy(ae.host, text, (size_t)(colon - text));
    ae.port = (int)port;
    ae.allow = PACS_AE_ALLOW_ALL;
    pacs_err oerr = set_ae_options(&ae, spec + hp, ei);
    if (oerr != PACS_OK) {
        return oerr;
    }
    for (size_t i = 0; i < cfg->n_aes; i++) {
        if (strcmp(cfg->aes[i].aet, ae.aet) == 0) {
            cfg->aes[i] = ae;
            return PACS_OK;
        }
    }
    pacs_remote_ae *grown = realloc(cfg->aes, (cfg->n_aes + 1) * sizeof *grown);
    if (!grown) {
        return pacs_errf(ei, PACS_ENOMEM, "out of memory");
    }
    cfg->aes = grown;
    cfg->aes[cfg->n_aes++] = ae;
    return PACS_OK;
}

/* Copies a comma-separated list into `dst`, trimming blanks around each item. */
static pacs_err set_list(char *dst, size_t cap, const char *name, const char *what,
                         const char *text, pacs_errinfo *ei)
{
    size_t n = 0;
    dst[0] = '\0';
    if (text[0] == '\0') {
        return pacs_errf(ei, PACS_EINVAL, "route.%s: empty %s list", name, what);
    }
    const char *p = text;
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        while (len > 0 && isspace((unsigned char)*p)) {
            p++;
            len--;
        }
        while (len > 0 && isspace((unsigned char)p[len - 1])) {
            len--;
        }
        if (len == 0 || n + len + 2 > cap) {
            return pacs_errf(ei, PACS_EINVAL, "route.%s: bad %s list '%s'", name, what, text);
        }
        if (n > 0) {
            dst[n++] = ',';
        }
        memcpy(dst + n, p, len);
        n += len;
        dst[n] = '\0';
        if (!comma) {
            break;
        }
        p = comma + 1;
        if (*p == '\0') {
            return pacs_errf(ei, PACS_EINVAL, "route.%s: bad %s list '%s'", name, what, text);
        }
    }
    return PACS_OK;
}

/* `route.NAME = DEST [calling=A,B] [modality=CT,MR] [sop_class=UID,...]`: a later setting of the
 * same name replaces the earlier one. The destination is checked in pacs_config_finish(). */
static pacs_err set_route(pacs_config *cfg, const char *name, const char *text, pacs_errinfo *ei)
{
    pacs_config_route r;
    memset(&r, 0, sizeof r);
    size_t name_len = strlen(name);
    if (name_len == 0 || name_len >= sizeof r.name) {
        return pacs_errf(ei, PACS_EINVAL, "route.%s: a rule name has 1 to 64 characters", name);
    }
    memcpy(r.name, name, name_len + 1);
    char words[1024];
    if (strlen(text) >= sizeof words) {
        return pacs_errf(ei, PACS_EINVAL, "route.%s: rule too long", name);
    }
    snprintf(words, sizeof words, "%s", text);
    char *save = NULL;
    char *w = strtok_r(words, " \t", &save);
    if (!w || !valid_aet(w) || strchr(w, '=')) {
        return pacs_errf(ei, PACS_EINVAL, "route.%s: '%s' must start with a destination AE title",
                         name, text);
    }
    snprintf(r.dest, sizeof r.dest, "%s", w);
    while ((w = strtok_r(NULL, " \t", &save)) != NULL) {
        char *eq = strchr(w, '=');
        pacs_err err = PACS_OK;
        if (!eq) {
            err = pacs_errf(ei, PACS_EINVAL, "route.%s: '%s' is not condition=values", name, w);
        } else if (strncmp(w, "calling=", 8) == 0) {
            err = set_list(r.calling, sizeof r.calling, name, "calling", eq + 1, ei);
        } else if (strncmp(w, "modality=", 9) == 0) {
            err = set_list(r.modality, sizeof r.modality, name, "modality", eq + 1, ei);
        } else if (strncmp(w, "sop_class=", 10) == 0) {
            err = set_list(r.sop_class, sizeof r.sop_class, name, "sop_class", eq + 1, ei);
        } else {
            err = pacs_errf(ei, PACS_EINVAL,
                            "route.%s: unknown condition '%s' (calling, modality, sop_class)", name,
                            w);
        }
        if (err != PACS_OK) {
            return err;
        }
    }
    for (size_t i = 0; i < cfg->n_routes; i++) {
        if (strcmp(cfg->routes[i].name, r.name) == 0) {
            cfg->routes[i] = r;
            return PACS_OK;
        }
    }
    pacs_config_route *grown = realloc(cfg->routes, (cfg->n_routes + 1) * sizeof *grown);
    if (!grown) {
        return pacs_errf(ei, PACS_ENOMEM, "out of memory");
    }
    cfg->routes = grown;
    cfg->routes[cfg->n_routes++] = r;
    return PACS_OK;
}

pacs_config *pacs_config_new(void)
{
    pacs_config *cfg = calloc(1, sizeof *cfg);
    if (!cfg) {
        return NULL;
    }
    for (size_t i = 0; i < NKEYS; i++) {
        if (pacs_config_set(cfg, keys[i].name, keys[i].def, NULL) != PACS_OK) {
            pacs_config_free(cfg);
            return NULL;
        }
    }
    return cfg;
}

void pacs_config_free(pacs_config *cfg)
{
    if (!cfg) {
        return;
    }
    for (size_t i = 0; i < NKEYS; i++) {
        free(cfg->values[i].text);
    }
    free(cfg->aes);
    free(cfg->routes);
    free(cfg->api_keys);
    free(cfg);
}

/* `auth.key.NAME = sha256:HEX scopes`: kept as text here, checked by the DICOMweb auth layer. */
static pacs_err set_api_key(pacs_config *cfg, const char *name, const char *text, pacs_errinfo *ei)
{
    pacs_api_key k;
    size_t n = strlen(name);
    if (n == 0 || n >= sizeof k.name ||
        strspn(name, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrs"
                     "tuvwxyz0123456789_.-") != n) {
        return pacs_errf(ei, PACS_EINVAL,
                         "auth.key.%.80s: a key name has 1 to 64 letters, digits, "
                         "'_', '.' or '-'",
                         name);
    }
    if (strlen(text) >= sizeof k.value) {
        return pacs_errf(ei, PACS_EINVAL, "auth.key.%s: value too long", name);
    }
    memcpy(k.name, name, n + 1);
    snprintf(k.value, sizeof k.value, "%s", text);
    for (size_t i = 0; i < cfg->n_api_keys; i++) {
        if (strcmp(cfg->api_keys[i].name, name) == 0) {
            cfg->api_keys[i] = k;
            return PACS_OK;
        }
    }
    pacs_api_key *grown = realloc(cfg->api_keys, (cfg->n_api_keys + 1) * sizeof *grown);
    if (!grown) {
        return pacs_errf(ei, PACS_ENOMEM, "out of memory");
    }
    cfg->api_keys = grown;
    cfg->api_keys[cfg->n_api_keys++] = k;
    return PACS_OK;
}

pacs_err pacs_config_set(pacs_config *cfg, const char *key, const char *val, pacs_errinfo *ei)
{
    if (strncmp(key, "ae.", 3) == 0) {
        return set_ae(cfg, key + 3, val, ei);
    }
    if (strncmp(key, "route.", 6) == 0) {
        return set_route(cfg, key + 6, val, ei);
    }
    if (strncmp(key, "auth.key.", 9) == 0) {
        return set_api_key(cfg, key + 9, val, ei);
    }
    size_t idx = 0;
    const key_def *k = find_key(key, &idx);
    if (!k) {
        return pacs_errf(ei, PACS_EINVAL, "unknown setting '%s' (see pacsd --help-config)", key);
    }
    long num = 0;
    pacs_err err = parse_value(k, val, &num, ei);
    if (err != PACS_OK) {
        return err;
    }
    char *copy = strdup(val);
    if (!copy) {
        return pacs_errf(ei, PACS_ENOMEM, "out of memory");
    }
    free(cfg->values[idx].text);
    cfg->values[idx].text = copy;
    cfg->values[idx].num = num;
    return PACS_OK;
}

pacs_err pacs_config_set_pair(pacs_config *cfg, const char *pair, pacs_errinfo *ei)
{
    const char *eq = strchr(pair, '=');
    if (!eq) {
        return pacs_errf(ei, PACS_EINVAL, "'%s' is not key=value", pair);
    }
    char key[128];
    size_t klen = (size_t)(eq - pair);
    if (klen >= sizeof key) {
        return pacs_errf(ei, PACS_EINVAL, "setting name too long in '%s'", pair);
    }
    memcpy(key, pair, klen);
    key[klen] = '\0';
    char *value_copy = strdup(eq + 1);
    if (!value_copy) {
        return pacs_errf(ei, PACS_ENOMEM, "out of memory");
    }
    pacs_err err = pacs_config_set(cfg, trim(key), trim(value_copy), ei);
    free(value_copy);
    return err;
}

pacs_err pacs_config_load_text(pacs_config *cfg, const char *text, size_t len, const char *origin,
                               pacs_errinfo *ei)
{
    size_t pos = 0;
    unsigned lineno = 0;
    char line[4096];
    while (pos < len) {
        size_t end = pos;
        while (end < len && text[end] != '\n') {
            end++;
        }
        lineno++;
        size_t n = end - pos;
        if (n >= sizeof line) {
            return pacs_errf(ei, PACS_EINVAL, "%s:%u: line too long", origin, lineno);
        }
        memcpy(line, text + pos, n);
        line[n] = '\0';
        pos = end + 1;
        if (memchr(line, '\0', n)) {
            return pacs_errf(ei, PACS_EINVAL, "%s:%u: NUL byte in line", origin, lineno);
        }
        char *hash = strchr(line, '#');
        if (hash) {
            *hash = '\0';
        }
        char *s = trim(line);
        if (*s == '\0') {
            continue;
        }
        char *eq = strchr(s, '=');
        if (!eq) {
            return pacs_errf(ei, PACS_EINVAL, "%s:%u: expected key = value", origin, lineno);
        }
        *eq = '\0';
        pacs_errinfo sub;
        pacs_err err = pacs_config_set(cfg, trim(s), trim(eq + 1), &sub);
        if (err != PACS_OK) {
            return pacs_errf(ei, err, "%s:%u: %s", origin, lineno, sub.msg);
        }
    }
    return PACS_OK;
}

pacs_err pacs_config_load_file(pacs_config *cfg, const char *path, pacs_errinfo *ei)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        return pacs_errf(ei, pacs_err_from_errno(errno), "cannot open %s: %s", path,
                         strerror(errno));
    }
    char *buf = NULL;
    size_t cap = 0, len = 0;
    pacs_err err = PACS_OK;
    for (;;) {
        if (len == cap) {
            if (cap >= (1u << 20)) {
                err = pacs_errf(ei, PACS_ETOOBIG, "%s: larger than 1 MiB", path);
                goto done;
            }
            cap = cap ? cap * 2 : 4096;
            char *grown = realloc(buf, cap);
            if (!grown) {
                err = pacs_errf(ei, PACS_ENOMEM, "out of memory");
                goto done;
            }
            buf = grown;
        }
        size_t got = fread(buf + len, 1, cap - len, f);
        len += got;
        if (got == 0) {
            break;
        }
    }
    if (ferror(f)) {
        err = pacs_errf(ei, PACS_EIO, "read %s failed", path);
        goto done;
    }
    err = pacs_config_load_text(cfg, buf, len, path, ei);
done:
    free(buf);
    fclose(f);
    return err;
}

pacs_err pacs_config_load_env(pacs_config *cfg, pacs_errinfo *ei)
{
    for (size_t i = 0; i < NKEYS; i++) {
        char name[128] = "PACS_";
        size_t n = 5;
        for (const char *p = keys[i].name; *p && n < sizeof name - 1; p++) {
            name[n++] = *p == '.' ? '_' : (char)toupper((unsigned char)*p);
        }
        name[n] = '\0';
        const char *v = getenv(name);
        if (v) {
            pacs_errinfo sub;
            pacs_err err = pacs_config_set(cfg, keys[i].name, v, &sub);
            if (err != PACS_OK) {
                return pacs_errf(ei, err, "environment %s: %s", name, sub.msg);
            }
        }
    }
    return PACS_OK;
}

/* TLS settings that depend on each other: certificates where a TLS port is asked for. */
static pacs_err check_tls(const pacs_config *cfg, pacs_errinfo *ei)
{
    int dimse_tls = pacs_config_int(cfg, "dimse.tls.port") >= 0;
    int tls_out = 0;
    for (size_t i = 0; i < cfg->n_aes; i++) {
        tls_out |= cfg->aes[i].tls;
    }
    if (!pacs_config_bool(cfg, "dimse.plain") && !dimse_tls) {
        return pacs_errf(ei, PACS_EINVAL, "dimse.plain = false needs dimse.tls.port");
    }
    if ((dimse_tls || tls_out) &&
        (!pacs_config_str(cfg, "dimse.tls.cert")[0] || !pacs_config_str(cfg, "dimse.tls.key")[0])) {
        return pacs_errf(ei, PACS_EINVAL,
                         "DICOM TLS (dimse.tls.port, or an ae.* marked tls) needs "
                         "dimse.tls.cert and dimse.tls.key");
    }
    if (((dimse_tls && pacs_config_bool(cfg, "dimse.tls.verify_client")) || tls_out) &&
        !pacs_config_str(cfg, "dimse.tls.ca")[0]) {
        return pacs_errf(ei, PACS_EINVAL,
                         "dimse.tls.ca is needed to verify peers (or set "
                         "dimse.tls.verify_client = false)");
    }
    if (pacs_config_int(cfg, "hl7.tls.port") >= 0 &&
        (!pacs_config_str(cfg, "dimse.tls.cert")[0] || !pacs_config_str(cfg, "dimse.tls.key")[0] ||
         (pacs_config_bool(cfg, "dimse.tls.verify_client") &&
          !pacs_config_str(cfg, "dimse.tls.ca")[0]))) {
        return pacs_errf(ei, PACS_EINVAL,
                         "hl7.tls.port uses the DICOM TLS certificates: it needs dimse.tls.cert, "
                         "dimse.tls.key and dimse.tls.ca (or dimse.tls.verify_client = false)");
    }
    const char *profile = pacs_config_str(cfg, "dimse.tls.profile");
    if (strcmp(profile, "bcp195") != 0 && strcmp(profile, "bcp195-nd") != 0 &&
        strcmp(profile, "bcp195-extended") != 0) {
        return pacs_errf(ei, PACS_EINVAL,
                         "dimse.tls.profile: '%s' is not bcp195, bcp195-nd or bcp195-extended",
                         profile);
    }
    if (pacs_config_bool(cfg, "http.tls") &&
        (!pacs_config_str(cfg, "http.tls.cert")[0] || !pacs_config_str(cfg, "http.tls.key")[0])) {
        return pacs_errf(ei, PACS_EINVAL, "http.tls needs http.tls.cert and http.tls.key");
    }
    return PACS_OK;
}

pacs_err pacs_config_finish(pacs_config *cfg, pacs_errinfo *ei)
{
    if (pacs_config_str(cfg, "data")[0] == '\0') {
        return pacs_errf(ei, PACS_EINVAL, "data: the data folder must be set");
    }
    const char *prefix = pacs_config_str(cfg, "http.prefix");
    if (prefix[0] != '/' && prefix[0] != '\0') {
        return pacs_errf(ei, PACS_EINVAL, "http.prefix: '%s' must start with /", prefix);
    }
    for (size_t i = 0; i < cfg->n_routes; i++) {
        if (!pacs_config_ae_find(cfg, cfg->routes[i].dest)) {
            return pacs_errf(ei, PACS_EINVAL,
                             "route.%s: destination %s is not a known AE (add "
                             "ae.%s = host:port)",
                             cfg->routes[i].name, cfg->routes[i].dest, cfg->routes[i].dest);
        }
    }
    pacs_err terr = check_tls(cfg, ei);
    if (terr != PACS_OK) {
        return terr;
    }
    char order[256];
    snprintf(order, sizeof order, "%s", pacs_config_str(cfg, "patient.id_order"));
    size_t n_sys = 0;
    char *save = NULL;
    for (char *w = strtok_r(order, ", ", &save); w; w = strtok_r(NULL, ", ", &save)) {
        if (strcmp(w, "bhxh") != 0 && strcmp(w, "cccd") != 0 && strcmp(w, "mrn") != 0) {
            return pacs_errf(ei, PACS_EINVAL, "patient.id_order: '%s' is not bhxh, cccd or mrn", w);
        }
        n_sys++;
    }
    if (n_sys == 0) {
        return pacs_errf(ei, PACS_EINVAL, "patient.id_order: name at least one system");
    }
    const char *hcs = pacs_config_str(cfg, "hl7.charset");
    if (strcmp(hcs, "UNICODE UTF-8") != 0 && strcmp(hcs, "8859/1") != 0 &&
        strcmp(hcs, "ASCII") != 0) {
        return pacs_errf(ei, PACS_EINVAL, "hl7.charset: '%s' is not UNICODE UTF-8, 8859/1 or ASCII",
                         hcs);
    }
    if (pacs_config_int(cfg, "forward.retry_max") < pacs_config_int(cfg, "forward.retry_min")) {
        return pacs_errf(ei, PACS_EINVAL, "forward.retry_max must not be below forward.retry_min");
    }
    return PACS_OK;
}

static const value *get(const pacs_config *cfg, const char *key, key_type type)
{
    size_t idx = 0;
    const key_def *k = find_key(key, &idx);
    if (!k || k->type != type) {
        fprintf(stderr, "pacs_config: undeclared key or wrong type: %s\n", key);
        abort();
    }
    return &cfg->values[idx];
}

const char *pacs_config_str(const pacs_config *cfg, const char *key)
{
    return get(cfg, key, KEY_STR)->text;
}

pacs_amount pacs_config_amount(const pacs_config *cfg, const char *key)
{
    pacs_amount a;
    parse_amount(get(cfg, key, KEY_AMOUNT)->text, &a); /* checked when set */
    return a;
}

long pacs_config_int(const pacs_config *cfg, const char *key)
{
    return get(cfg, key, KEY_INT)->num;
}

int pacs_config_bool(const pacs_config *cfg, const char *key)
{
    return (int)get(cfg, key, KEY_BOOL)->num;
}

size_t pacs_config_ae_count(const pacs_config *cfg)
{
    return cfg->n_aes;
}

const pacs_remote_ae *pacs_config_ae_at(const pacs_config *cfg, size_t i)
{
    return i < cfg->n_aes ? &cfg->aes[i] : NULL;
}

const pacs_remote_ae *pacs_config_ae_find(const pacs_config *cfg, const char *aet)
{
    char want[17];
    snprintf(want, sizeof want, "%s", aet);
    char *w = trim(want);
    for (size_t i = 0; i < cfg->n_aes; i++) {
        if (strcmp(cfg->aes[i].aet, w) == 0) {
            return &cfg->aes[i];
        }
    }
    return NULL;
}

size_t pacs_config_route_count(const pacs_config *cfg)
{
    return cfg->n_routes;
}

const pacs_config_route *pacs_config_route_at(const pacs_config *cfg, size_t i)
{
    return i < cfg->n_routes ? &cfg->routes[i] : NULL;
}

int pacs_config_calling_aet_allowed(const pacs_config *cfg, const char *aet)
{
    const char *list = pacs_config_str(cfg, "dimse.allowed_aets");
    if (list[0] == '\0') {
        return 1;
    }
    char want[17];
    snprintf(want, sizeof want, "%s", aet);
    char *w = trim(want);
    const char *p = list;
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        char item[64];
        if (n < sizeof item) {
            memcpy(item, p, n);
            item[n] = '\0';
            if (strcmp(trim(item), w) == 0) {
                return 1;
            }
        }
        if (!comma) {
            break;
        }
        p = comma + 1;
    }
    return 0;
}

size_t pacs_config_api_key_count(const pacs_config *cfg)
{
    return cfg->n_api_keys;
}

const pacs_api_key *pacs_config_api_key_at(const pacs_config *cfg, size_t i)
{
    return i < cfg->n_api_keys ? &cfg->api_keys[i] : NULL;
}

void pacs_config_print_help(void *file)
{
    FILE *f = file;
    for (size_t i = 0; i < NKEYS; i++) {
        fprintf(f, "%-24s = %-12s  %s\n", keys[i].name, keys[i].def, keys[i].help);
    }
    fprintf(f, "%-24s = %-12s  %s\n", "ae.TITLE", "host:port",
            "a known remote AE (move destination, forwarding target); then optionally "
            "allow=store,find,move,get,commit,mpps|all|none from=ADDR,CIDR,.. cert=CN "
            "names=ascii (worklist names without diacritics) tls");
    fprintf(f, "%-24s = %-12s  %s\n", "route.NAME", "DEST [cond]",
            "forward stored instances to AE DEST; conditions: calling=AE,.. modality=CT,.. "
            "sop_class=UID,..");
    fprintf(f, "%-24s = %-12s  %s\n", "auth.key.NAME", "sha256:HEX ..",
            "an API key for DICOMweb: the SHA-256 of the key in hex, then its scopes among read, "
            "write, delete, share");
}
