// SPDX-License-Identifier: MIT
/*
 * The destination keys' parsers, for config.c: forwarding rules (`route.NAME = DEST
 * [conditions]`), DICOMweb servers (`web.NAME = URL [options]`) and the health record's FHIR
 * servers (`ehr.NAME = URL [key=@FILE] [ca=PEM]`). Pure functions of their
 * text; the configuration keeps what they return.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pacs/base/config.h"
#include "pacs/base/config_keys.h"

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

/* `study_from=key:A,jwt:B,user:C`: every item names an HTTP credential as the principal's name
 * (http/auth.h) and the audit trail spell it, its kind first. */
static pacs_err set_study_from(pacs_config_route *r, const char *name, const char *text,
                               pacs_errinfo *ei)
{
    pacs_err err = set_list(r->study_from, sizeof r->study_from, name, "study_from", text, ei);
    if (err != PACS_OK) {
        return err;
    }
    char list[sizeof r->study_from];
    memcpy(list, r->study_from, sizeof list);
    char *save = NULL;
    for (char *item = strtok_r(list, ",", &save); item; item = strtok_r(NULL, ",", &save)) {
        size_t kind = strncmp(item, "key:", 4) == 0 || strncmp(item, "jwt:", 4) == 0 ? 4
                      : strncmp(item, "user:", 5) == 0                               ? 5
                                                                                     : 0;
        if (!kind || !item[kind] || strlen(item) > 129) {
            return pacs_errf(ei, PACS_EINVAL,
                             "route.%s: study_from: '%s' is not key:NAME, jwt:SUBJECT or "
                             "user:LOGIN (an HTTP credential: an API key, a JWT, a built-in user)",
                             name, item);
        }
    }
    return PACS_OK;
}

/* `route.NAME = DEST [calling=A,B] [modality=CT,MR] [sop_class=UID,...]
 * [study_from=key:NAME,...]`. */
pacs_err pacs_config__parse_route(const char *name, const char *text, pacs_config_route *out,
                                  pacs_errinfo *ei)
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
    if (!w || !pacs_config__valid_aet(w) || strchr(w, '=')) {
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
        } else if (strncmp(w, "study_from=", 11) == 0) {
            err = set_study_from(&r, name, eq + 1, ei);
        } else {
            err = pacs_errf(ei, PACS_EINVAL,
                            "route.%s: unknown condition '%s' (calling, modality, sop_class, "
                            "study_from)",
                            name, w);
        }
        if (err != PACS_OK) {
            return err;
        }
    }
    *out = r;
    return PACS_OK;
}

/* The names `accept=` takes beside UIDs. */
static const struct {
    const char *name, *uid;
} syntax_names[] = {
    {"jpegls", "1.2.840.10008.1.2.4.80"}, {"htj2k", "1.2.840.10008.1.2.4.201"},
    {"j2k", "1.2.840.10008.1.2.4.90"},    {"jpeg-lossless", "1.2.840.10008.1.2.4.70"},
    {"rle", "1.2.840.10008.1.2.5"},       {"explicit", "1.2.840.10008.1.2.1"},
    {"implicit", "1.2.840.10008.1.2"},    {"deflate", "1.2.840.10008.1.2.1.99"},
};

/* `accept=a,b,...` into comma-separated UIDs. */
static pacs_err set_accept(pacs_web_dest *w, const char *list, pacs_errinfo *ei)
{
    char buf[1024];
    if (snprintf(buf, sizeof buf, "%s", list) >= (int)sizeof buf || !list[0]) {
        return pacs_errf(ei, PACS_EINVAL, "web.%s: bad accept list", w->name);
    }
    w->accept[0] = '\0';
    char *save = NULL;
    for (char *s = strtok_r(buf, ",", &save); s; s = strtok_r(NULL, ",", &save)) {
        const char *uid = NULL;
        for (size_t k = 0; k < sizeof syntax_names / sizeof syntax_names[0]; k++) {
            if (strcmp(syntax_names[k].name, s) == 0) {
                uid = syntax_names[k].uid;
            }
        }
        if (!uid && s[0] >= '1' && s[0] <= '9' && strspn(s, "0123456789.") == strlen(s) &&
            strlen(s) <= 64) {
            uid = s;
        }
        if (!uid) {
            return pacs_errf(ei, PACS_EINVAL,
                             "web.%s: accept: '%s' is not a transfer syntax UID or one of "
                             "jpegls, htj2k, j2k, jpeg-lossless, rle, explicit, implicit, deflate",
                             w->name, s);
        }
        size_t n = strlen(w->accept);
        if (n + strlen(uid) + 2 > sizeof w->accept) {
            return pacs_errf(ei, PACS_EINVAL, "web.%s: accept list too long", w->name);
        }
        snprintf(w->accept + n, sizeof w->accept - n, "%s%s", n ? "," : "", uid);
    }
    return PACS_OK;
}

/* A positive number for `batch=` and `batch_mb=`. */
static pacs_err set_count(const char *name, const char *opt, const char *text, long max, long *out,
                          pacs_errinfo *ei)
{
    char *end = NULL;
    errno = 0;
    long v = strtol(text, &end, 10);
    if (errno != 0 || end == text || *end || v < 1 || v > max) {
        return pacs_errf(ei, PACS_EINVAL, "web.%s: %s must be 1 to %ld", name, opt, max);
    }
    *out = v;
    return PACS_OK;
}

/* `web.NAME = URL [key=@FILE] [ca=PEM] [accept=...] [batch=N] [batch_mb=N]`, and
 * `ehr.NAME = URL [key=@FILE] [ca=PEM]`. */
pacs_err pacs_config__parse_web(pacs_dest_kind kind, const char *name, const char *text,
                                pacs_web_dest *out, pacs_errinfo *ei)
{
    pacs_web_dest w;
    memset(&w, 0, sizeof w);
    w.kind = kind;
    const char *k = kind == PACS_DEST_EHR ? "ehr" : "web";
    if (!pacs_config__valid_aet(name) || strchr(name, ' ')) {
        return pacs_errf(ei, PACS_EINVAL, "%s.%.80s: a destination name has 1 to 16 characters", k,
                         name);
    }
    snprintf(w.name, sizeof w.name, "%s", name);
    w.batch = 16;
    w.batch_bytes = 32L << 20;
    char words[2048];
    if (snprintf(words, sizeof words, "%s", text) >= (int)sizeof words) {
        return pacs_errf(ei, PACS_EINVAL, "%s.%s: value too long", k, name);
    }
    char *save = NULL;
    char *u = strtok_r(words, " \t", &save);
    if (!u || (strncmp(u, "https://", 8) != 0 && strncmp(u, "http://", 7) != 0) ||
        strlen(u) >= sizeof w.url) {
        return pacs_errf(ei, PACS_EINVAL, "%s.%s: '%s' must start with an http(s):// URL", k, name,
                         text);
    }
    snprintf(w.url, sizeof w.url, "%s", u);
    size_t n = strlen(w.url);
    while (n > 0 && w.url[n - 1] == '/') {
        w.url[--n] = '\0';
    }
    for (char *o = strtok_r(NULL, " \t", &save); o; o = strtok_r(NULL, " \t", &save)) {
        pacs_err err = PACS_OK;
        long v = 0;
        if (strncmp(o, "key=@", 5) == 0 && o[5] && strlen(o + 5) < sizeof w.key_file) {
            snprintf(w.key_file, sizeof w.key_file, "%s", o + 5);
        } else if (strncmp(o, "key=", 4) == 0) {
            err = pacs_errf(ei, PACS_EINVAL,
                            "%s.%s: the key is read from a file: key=@/path/to/file", k, name);
        } else if (strncmp(o, "ca=", 3) == 0 && o[3] && strlen(o + 3) < sizeof w.ca) {
            snprintf(w.ca, sizeof w.ca, "%s", o + 3);
        } else if (kind == PACS_DEST_EHR) {
            err = pacs_errf(ei, PACS_EINVAL, "ehr.%s: '%s' is not an option (key=@FILE, ca=PEM)",
                            name, o);
        } else if (strncmp(o, "accept=", 7) == 0) {
            err = set_accept(&w, o + 7, ei);
        } else if (strncmp(o, "batch=", 6) == 0) {
            err = set_count(name, "batch", o + 6, 1000, &v, ei);
            w.batch = (int)v;
        } else if (strncmp(o, "batch_mb=", 9) == 0) {
            err = set_count(name, "batch_mb", o + 9, 4096, &v, ei);
            w.batch_bytes = v << 20;
        } else {
            err = pacs_errf(ei, PACS_EINVAL,
                            "web.%s: '%s' is not an option (key=@FILE, ca=PEM, accept=..., "
                            "batch=N, batch_mb=N)",
                            name, o);
        }
        if (err != PACS_OK) {
            return err;
        }
    }
    *out = w;
    return PACS_OK;
}
