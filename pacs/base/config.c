// SPDX-License-Identifier: MIT
/*
 * Configuration store. Keys are declared in config_keys.c (the single list `pacsd --help-config`
 * prints and the settings tables of docs/ are kept in step with); values are kept as validated
 * text plus a parsed integer. Not thread-safe while being loaded; read-only and shareable after
 * pacs_config_finish().
 */
#include "pacs/base/config.h"
#include "pacs/base/config_keys.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct value {
    char *text;
    long num;
} value;

struct pacs_config {
    value *values; /* one per key of config_keys.c, in its order */
    pacs_remote_ae *aes;
    size_t n_aes;
    pacs_config_route *routes;
    size_t n_routes;
    pacs_web_dest *webs;
    size_t n_webs;
    pacs_api_key *api_keys;
    size_t n_api_keys;
};

static const pacs_config_key *find_key(const char *name, size_t *index)
{
    for (size_t i = 0; i < pacs_config__n_keys; i++) {
        if (strcmp(pacs_config__keys[i].name, name) == 0) {
            *index = i;
            return &pacs_config__keys[i];
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

static pacs_err parse_value(const pacs_config_key *k, const char *text, long *num, pacs_errinfo *ei)
{
    *num = 0;
    if (k->type == PACS_KEY_AMOUNT) {
        pacs_amount a;
        if (parse_amount(text, &a) != 0) {
            return pacs_errf(ei, PACS_EINVAL,
                             "%s: '%s' is neither a percentage (5%%) nor a size (500MB, 20GB)",
                             k->name, text);
        }
    } else if (k->type == PACS_KEY_INT) {
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
    } else if (k->type == PACS_KEY_BOOL) {
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

int pacs_config__valid_aet(const char *aet)
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

/* Puts `item`, whose first member is its name (a string), into the array `arr` of `*n` items
 * of `size` bytes: over the item of the same name (a later setting replaces an earlier one),
 * or appended. Returns the array, which may have moved; NULL when out of memory (`arr` is
 * then unchanged). */
static void *put_named(void *arr, size_t *n, size_t size, const void *item)
{
    char *base = arr;
    for (size_t i = 0; i < *n; i++) {
        if (strcmp(base + i * size, item) == 0) {
            memcpy(base + i * size, item, size);
            return arr;
        }
    }
    char *grown = realloc(arr, (*n + 1) * size);
    if (grown) {
        memcpy(grown + *n * size, item, size);
        (*n)++;
    }
    return grown;
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
    if (too_long || !pacs_config__valid_aet(aet)) {
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
    pacs_remote_ae *grown = put_named(cfg->aes, &cfg->n_aes, sizeof ae, &ae);
    if (!grown) {
        return pacs_errf(ei, PACS_ENOMEM, "out of memory");
    }
    cfg->aes = grown;
    return PACS_OK;
}

/* `route.NAME = ...` (parsed by config_dest.c): a later setting of the same name replaces the
 * earlier one. The destination is checked in pacs_config_finish(). */
static pacs_err set_route(pacs_config *cfg, const char *name, const char *text, pacs_errinfo *ei)
{
    pacs_config_route r;
    pacs_err err = pacs_config__parse_route(name, text, &r, ei);
    if (err != PACS_OK) {
        return err;
    }
    pacs_config_route *grown = put_named(cfg->routes, &cfg->n_routes, sizeof r, &r);
    if (!grown) {
        return pacs_errf(ei, PACS_ENOMEM, "out of memory");
    }
    cfg->routes = grown;
    return PACS_OK;
}

/* `web.NAME` and `ehr.NAME = URL [options]` (parsed by config_dest.c): a later setting of the
 * name replaces the earlier, whichever its kind. */
static pacs_err set_web(pacs_config *cfg, pacs_dest_kind kind, const char *name, const char *text,
                        pacs_errinfo *ei)
{
    pacs_web_dest w;
    pacs_err err = pacs_config__parse_web(kind, name, text, &w, ei);
    if (err != PACS_OK) {
        return err;
    }
    pacs_web_dest *grown = put_named(cfg->webs, &cfg->n_webs, sizeof w, &w);
    if (!grown) {
        return pacs_errf(ei, PACS_ENOMEM, "out of memory");
    }
    cfg->webs = grown;
    return PACS_OK;
}

pacs_config *pacs_config_new(void)
{
    pacs_config *cfg = calloc(1, sizeof *cfg);
    if (!cfg) {
        return NULL;
    }
    cfg->values = calloc(pacs_config__n_keys, sizeof *cfg->values);
    if (!cfg->values) {
        free(cfg);
        return NULL;
    }
    for (size_t i = 0; i < pacs_config__n_keys; i++) {
        if (pacs_config_set(cfg, pacs_config__keys[i].name, pacs_config__keys[i].def, NULL) !=
            PACS_OK) {
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
    for (size_t i = 0; i < pacs_config__n_keys; i++) {
        free(cfg->values[i].text);
    }
    free(cfg->values);
    free(cfg->aes);
    free(cfg->routes);
    free(cfg->webs);
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
    pacs_api_key *grown = put_named(cfg->api_keys, &cfg->n_api_keys, sizeof k, &k);
    if (!grown) {
        return pacs_errf(ei, PACS_ENOMEM, "out of memory");
    }
    cfg->api_keys = grown;
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
    if (strncmp(key, "web.", 4) == 0 || strncmp(key, "ehr.", 4) == 0) {
        return set_web(cfg, key[0] == 'e' ? PACS_DEST_EHR : PACS_DEST_STOW, key + 4, val, ei);
    }
    if (strncmp(key, "auth.key.", 9) == 0) {
        return set_api_key(cfg, key + 9, val, ei);
    }
    size_t idx = 0;
    const pacs_config_key *k = find_key(key, &idx);
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
    for (size_t i = 0; i < pacs_config__n_keys; i++) {
        char name[128] = "PACS_";
        size_t n = 5;
        for (const char *p = pacs_config__keys[i].name; *p && n < sizeof name - 1; p++) {
            name[n++] = *p == '.' ? '_' : (char)toupper((unsigned char)*p);
        }
        name[n] = '\0';
        const char *v = getenv(name);
        if (v) {
            pacs_errinfo sub;
            pacs_err err = pacs_config_set(cfg, pacs_config__keys[i].name, v, &sub);
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
    for (size_t i = 0; i < cfg->n_webs; i++) {
        const pacs_web_dest *w = &cfg->webs[i];
        const char *k = w->kind == PACS_DEST_EHR ? "ehr" : "web";
        if (pacs_config_ae_find(cfg, w->name)) {
            return pacs_errf(ei, PACS_EINVAL, "%s.%s: %s is also a known AE (ae.%s)", k, w->name,
                             w->name, w->name);
        }
        /* The ImagingStudy's Endpoint tells the EHR's users where the images are. */
        if (w->kind == PACS_DEST_EHR && !pacs_config_str(cfg, "http.public_url")[0]) {
            return pacs_errf(ei, PACS_EINVAL,
                             "ehr.%s needs http.public_url (this server's DICOMweb URL as the "
                             "health record's users reach it)",
                             w->name);
        }
    }
    for (size_t i = 0; i < cfg->n_routes; i++) {
        const char *d = cfg->routes[i].dest;
        if (!pacs_config_ae_find(cfg, d) && !pacs_config_web_find(cfg, d)) {
            return pacs_errf(ei, PACS_EINVAL,
                             "route.%s: destination %s is not a known AE, DICOMweb or EHR server "
                             "(add ae.%s = host:port, web.%s = URL or ehr.%s = URL)",
                             cfg->routes[i].name, d, d, d, d);
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

static const value *get(const pacs_config *cfg, const char *key, pacs_config_key_type type)
{
    size_t idx = 0;
    const pacs_config_key *k = find_key(key, &idx);
    if (!k || k->type != type) {
        fprintf(stderr, "pacs_config: undeclared key or wrong type: %s\n", key);
        abort();
    }
    return &cfg->values[idx];
}

const char *pacs_config_str(const pacs_config *cfg, const char *key)
{
    return get(cfg, key, PACS_KEY_STR)->text;
}

pacs_amount pacs_config_amount(const pacs_config *cfg, const char *key)
{
    pacs_amount a;
    parse_amount(get(cfg, key, PACS_KEY_AMOUNT)->text, &a); /* checked when set */
    return a;
}

long pacs_config_int(const pacs_config *cfg, const char *key)
{
    return get(cfg, key, PACS_KEY_INT)->num;
}

int pacs_config_bool(const pacs_config *cfg, const char *key)
{
    return (int)get(cfg, key, PACS_KEY_BOOL)->num;
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

size_t pacs_config_web_count(const pacs_config *cfg)
{
    return cfg->n_webs;
}

const pacs_web_dest *pacs_config_web_at(const pacs_config *cfg, size_t i)
{
    return i < cfg->n_webs ? &cfg->webs[i] : NULL;
}

const pacs_web_dest *pacs_config_web_find(const pacs_config *cfg, const char *name)
{
    for (size_t i = 0; i < cfg->n_webs; i++) {
        if (strcmp(cfg->webs[i].name, name) == 0) {
            return &cfg->webs[i];
        }
    }
    return NULL;
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
    for (size_t i = 0; i < pacs_config__n_keys; i++) {
        fprintf(f, "%-24s = %-12s  %s\n", pacs_config__keys[i].name, pacs_config__keys[i].def,
                pacs_config__keys[i].help);
    }
    fprintf(f, "%-24s = %-12s  %s\n", "ae.TITLE", "host:port",
            "a known remote AE (move destination, forwarding target); then optionally "
            "allow=store,find,move,get,commit,mpps|all|none from=ADDR,CIDR,.. cert=CN "
            "names=ascii (worklist names without diacritics) tls");
    fprintf(f, "%-24s = %-12s  %s\n", "route.NAME", "DEST [cond]",
            "forward stored instances to DEST (ae.DEST, web.DEST or ehr.DEST); conditions: "
            "calling=AE,.. "
            "modality=CT,.. sop_class=UID,..");
    fprintf(f, "%-24s = %-12s  %s\n", "web.NAME", "URL [opts]",
            "a DICOMweb server instances are forwarded to by STOW-RS (https://host:port/root); "
            "then optionally key=@FILE (bearer key) ca=PEM accept=jpegls,htj2k,explicit,.. "
            "batch=N batch_mb=N");
    fprintf(f, "%-24s = %-12s  %s\n", "ehr.NAME", "URL [opts]",
            "the health record's FHIR R4 server studies and reports are pushed to (ImagingStudy "
            "and DiagnosticReport by PUT; https://host/fhir); then optionally key=@FILE ca=PEM");
    fprintf(f, "%-24s = %-12s  %s\n", "auth.key.NAME", "sha256:HEX ..",
            "an API key for DICOMweb: the SHA-256 of the key in hex, then its scopes among read, "
            "write, delete, share");
}
