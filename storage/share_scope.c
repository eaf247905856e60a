// SPDX-License-Identifier: MIT
/*
 * A patient's share (share_scope.h): its subject string, and its studies found through the
 * archive's query model (a study-level query on PatientID, compared again byte for byte here
 * with its issuer). Stateless.
 */
#include "storage/share_scope.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pacs/base/b64url.h"
#include "storage/query.h"

#define PREFIX "patient:"
#define TAG_PATIENT_ID 0x00100020u
#define TAG_ISSUER 0x00100021u

int pacs_share_scope_is_patient(const char *subject)
{
    return subject && strncmp(subject, PREFIX, strlen(PREFIX)) == 0;
}

static int valid_uid(const char *s, size_t n)
{
    if (n == 0 || n > 64 || s[0] == '.' || s[n - 1] == '.') {
        return 0;
    }
    for (size_t i = 0; i < n; i++) {
        if (!((s[i] >= '0' && s[i] <= '9') || s[i] == '.') || (s[i] == '.' && s[i + 1] == '.')) {
            return 0;
        }
    }
    return 1;
}

/* Decodes one base64url field of at most 64 bytes into `out` (65 bytes). */
static int field(const char *in, size_t len, char out[65])
{
    if (len == 0) {
        out[0] = '\0';
        return 0;
    }
    size_t n = 0;
    unsigned char *raw = pacs_b64url_decode(in, len, &n);
    int ok = raw && n <= 64 && memchr(raw, '\0', n) == NULL;
    if (ok) {
        memcpy(out, raw, n);
        out[n] = '\0';
    }
    free(raw);
    return ok ? 0 : -1;
}

pacs_err pacs_share_scope_parse(const char *subject, pacs_share_scope *out, pacs_errinfo *ei)
{
    pacs_share_scope *sc = calloc(1, sizeof *sc);
    pacs_err err = PACS_OK;
    if (!sc) {
        return pacs_errf(ei, PACS_ENOMEM, "out of memory");
    }
    const char *p = subject + strlen(PREFIX);
    const char *c1 = pacs_share_scope_is_patient(subject) ? strchr(p, ':') : NULL;
    const char *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
    const char *c3 = c2 ? strchr(c2 + 1, ':') : NULL;
    if (!c3 || c1 - p != 1 || (*p != 'L' && *p != 'S') ||
        field(c1 + 1, (size_t)(c2 - c1 - 1), sc->patient_id) != 0 || !sc->patient_id[0] ||
        field(c2 + 1, (size_t)(c3 - c2 - 1), sc->issuer) != 0) {
        err = pacs_errf(ei, PACS_EINVAL, "not a patient share");
        goto fail;
    }
    sc->later = *p == 'L';
    for (const char *u = c3 + 1; *u;) {
        const char *end = strchr(u, ',');
        size_t n = end ? (size_t)(end - u) : strlen(u);
        if (sc->later || sc->n_studies == PACS_SHARE_SCOPE_MAX_STUDIES || !valid_uid(u, n) ||
            (end && end[1] == '\0')) {
            err = pacs_errf(ei, PACS_EINVAL, "not a patient share");
            goto fail;
        }
        memcpy(sc->studies[sc->n_studies], u, n);
        sc->studies[sc->n_studies++][n] = '\0';
        u = end ? end + 1 : u + n;
    }
    *out = *sc;
fail:
    free(sc);
    return err;
}

pacs_err pacs_share_scope_format(const pacs_share_scope *sc, char *out, size_t cap,
                                 pacs_errinfo *ei)
{
    char pid[100], issuer[100];
    pacs_b64url_encode((const unsigned char *)sc->patient_id, strlen(sc->patient_id), pid);
    pacs_b64url_encode((const unsigned char *)sc->issuer, strlen(sc->issuer), issuer);
    int n = snprintf(out, cap, PREFIX "%c:%s:%s:", sc->later ? 'L' : 'S', pid, issuer);
    for (size_t i = 0; n > 0 && !sc->later && i < sc->n_studies; i++) {
        n += snprintf(out + ((size_t)n < cap ? (size_t)n : cap),
                      (size_t)n < cap ? cap - (size_t)n : 0, "%s%s", i ? "," : "", sc->studies[i]);
    }
    if (n < 0 || (size_t)n >= cap) {
        return pacs_errf(ei, PACS_EINVAL, "patient share subject too long");
    }
    return PACS_OK;
}

/* ---- the studies in the archive ---- */

typedef struct walk {
    const pacs_share_scope *sc;
    pacs_share_scope_cb cb;
    void *ctx;
    /* pacs_share_scope_make: */
    pacs_share_scope *making;
    char issuers[2][65];
    size_t n_issuers, n_found;
    int too_many;
} walk;

static const char *text_of(const json_t *ds, const char *tag)
{
    const json_t *v = json_array_get(json_object_get(json_object_get(ds, tag), "Value"), 0);
    const char *s = json_string_value(v);
    return s ? s : "";
}

static int granted(const walk *w, const char *uid)
{
    if (w->sc->later) {
        return 1;
    }
    for (size_t i = 0; i < w->sc->n_studies; i++) {
        if (strcmp(w->sc->studies[i], uid) == 0) {
            return 1;
        }
    }
    return 0;
}

static int on_study(void *ctx, const json_t *result)
{
    walk *w = ctx;
    const char *uid = text_of(result, "0020000D");
    if (strcmp(text_of(result, "00100020"), w->sc->patient_id) != 0 || !uid[0]) {
        return 0; /* the index matched more loosely than byte for byte */
    }
    const char *issuer = text_of(result, "00100021");
    if (w->making) {
        int seen = 0;
        for (size_t i = 0; i < w->n_issuers; i++) {
            seen |= strcmp(w->issuers[i], issuer) == 0;
        }
        if (!seen && w->n_issuers < 2) {
            snprintf(w->issuers[w->n_issuers++], sizeof w->issuers[0], "%s", issuer);
        }
    }
    if (strcmp(issuer, w->sc->issuer) != 0 || (!w->making && !granted(w, uid))) {
        return 0;
    }
    w->n_found++;
    if (w->making && !w->making->later) {
        if (w->making->n_studies == PACS_SHARE_SCOPE_MAX_STUDIES) {
            w->too_many = 1;
            return 0;
        }
        snprintf(w->making->studies[w->making->n_studies++], 65, "%s", uid);
    }
    return w->cb ? w->cb(w->ctx, uid) : 0;
}

static pacs_err find(pacs_archive *a, walk *w, pacs_errinfo *ei)
{
    pacs_query *q = pacs_query_new(PACS_LEVEL_STUDY);
    if (!q) {
        return pacs_errf(ei, PACS_ENOMEM, "out of memory");
    }
    pacs_err err = pacs_query_add(q, TAG_PATIENT_ID, "LO", w->sc->patient_id, ei);
    if (err == PACS_OK) {
        err = pacs_query_include(q, TAG_ISSUER, ei);
    }
    if (err == PACS_OK) {
        err = pacs_archive_find(a, q, on_study, w, ei);
    }
    pacs_query_free(q);
    return err;
}

static int patient_id_ok(const char *id)
{
    size_t n = id ? strlen(id) : 0;
    return n > 0 && n <= 64 && !strpbrk(id, "*?\\");
}

pacs_err pacs_share_scope_studies(pacs_archive *a, const pacs_share_scope *sc,
                                  pacs_share_scope_cb cb, void *ctx, pacs_errinfo *ei)
{
    if (!patient_id_ok(sc->patient_id)) {
        return PACS_OK; /* never made: nothing granted */
    }
    walk w;
    memset(&w, 0, sizeof w);
    w.sc = sc;
    w.cb = cb;
    w.ctx = ctx;
    return find(a, &w, ei);
}

pacs_err pacs_share_scope_make(pacs_archive *a, const char *patient_id, const char *issuer,
                               int later, pacs_share_scope *out, size_t *n_studies,
                               pacs_errinfo *ei)
{
    if (!patient_id_ok(patient_id)) {
        return pacs_errf(ei, PACS_EINVAL,
                         "a patient ID of 1 to 64 characters, without '*', '?' or '\\', is "
                         "needed");
    }
    if (issuer && strlen(issuer) > 64) {
        return pacs_errf(ei, PACS_EINVAL, "the issuer is longer than 64 characters");
    }
    pacs_share_scope *sc = calloc(1, sizeof *sc);
    if (!sc) {
        return pacs_errf(ei, PACS_ENOMEM, "out of memory");
    }
    snprintf(sc->patient_id, sizeof sc->patient_id, "%s", patient_id);
    sc->later = later != 0;
    walk w;
    memset(&w, 0, sizeof w);
    w.sc = sc;
    w.making = sc;
    pacs_err err = PACS_OK;
    if (issuer) {
        snprintf(sc->issuer, sizeof sc->issuer, "%s", issuer);
    } else {
        /* First pass: which issuers the ID is used with (the second pass takes the one). */
        err = find(a, &w, ei);
        if (err == PACS_OK && w.n_issuers > 1) {
            err = pacs_errf(ei, PACS_EINVAL,
                            "patient ID %s is used by several issuers ('%s', '%s'): name one "
                            "(issuer)",
                            patient_id, w.issuers[0], w.issuers[1]);
        }
        if (err == PACS_OK && w.n_issuers == 1) {
            snprintf(sc->issuer, sizeof sc->issuer, "%s", w.issuers[0]);
        }
        memset(&w, 0, sizeof w);
        w.sc = sc;
        w.making = sc;
        sc->n_studies = 0;
    }
    if (err == PACS_OK) {
        err = find(a, &w, ei);
    }
    if (err == PACS_OK && w.too_many) {
        err = pacs_errf(ei, PACS_EINVAL,
                        "the patient has more than %d studies: share them with later studies "
                        "included, which names none",
                        PACS_SHARE_SCOPE_MAX_STUDIES);
    }
    if (err == PACS_OK && w.n_found == 0) {
        err = pacs_errf(ei, PACS_ENOTFOUND, "no study of patient %s%s%s is stored", patient_id,
                        sc->issuer[0] ? " issued by " : "", sc->issuer);
    }
    if (err == PACS_OK) {
        *out = *sc;
        if (n_studies) {
            *n_studies = w.n_found;
        }
    }
    free(sc);
    return err;
}
