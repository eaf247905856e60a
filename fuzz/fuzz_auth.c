// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for DICOMweb credentials (auth.h): the Authorization header (Bearer API
 * keys, share tokens and JWTs, whose header is parsed before any key is tried), the token
 * query parameter and the Cookie header (a share token, a login session). Input: a first byte
 * choosing GET or POST, then five lines: Authorization, query token, Cookie, Origin, Host (an
 * empty line is an absent value); no session is ever begun, so none may verify. The server's
 * settings are fixed: one EC public key for JWTs, one API key and a share store in a temporary
 * folder made at the first call. Nothing may crash, leak or read out of bounds, and no input may
 * come out as anything but the API key's principal or a refusal. Single-threaded.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "http/auth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char PEM[] = "-----BEGIN PUBLIC KEY-----\n"
                          "MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE/zPmJwEwopjajAfAcP00UFWqHAZP\n"
                          "0rifEULZdMZbgvZGmTJY/FJEwy9cKBZEZMzYxod579PnflGhRaH89vD04A==\n"
                          "-----END PUBLIC KEY-----\n";
/* A well-formed hash that no short input is the key of. */
static const char KEY_HASH[] =
    "sha256:8a3db5c2e0d4bb1d0ec9c0b2bdc57a3e2a45ab6d0ad30c8ad0ac8c2c2d4e6b29 read";

static pacs_auth *auth;
static pacs_config *cfg;
static char dir[256];

static void cleanup(void)
{
    char cmd[300];
    pacs_auth_close(auth);
    pacs_config_free(cfg);
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) {
        fprintf(stderr, "fuzz_auth: could not remove %s\n", dir);
    }
}

static int init(void)
{
    char path[300];
    const char *tmp = getenv("TMPDIR");
    snprintf(dir, sizeof dir, "%s/pacs-fuzz-auth.XXXXXX", tmp && *tmp ? tmp : "/tmp");
    if (!mkdtemp(dir)) {
        return -1;
    }
    snprintf(path, sizeof path, "%s/jwt.pem", dir);
    FILE *f = fopen(path, "w");
    if (!f) {
        return -1;
    }
    fputs(PEM, f);
    fclose(f);
    cfg = pacs_config_new();
    if (!cfg || pacs_config_set(cfg, "auth.jwt_keys", path, NULL) != PACS_OK ||
        pacs_config_set(cfg, "auth.jwt_issuer", "https://idp.test", NULL) != PACS_OK ||
        pacs_config_set(cfg, "auth.jwt_audience", "pacsd", NULL) != PACS_OK ||
        pacs_config_set(cfg, "auth.key.fuzz", KEY_HASH, NULL) != PACS_OK ||
        pacs_config_set(cfg, "http.auth", "required", NULL) != PACS_OK) {
        return -1;
    }
    pacs_errinfo ei;
    if (pacs_auth_open(cfg, dir, &auth, &ei) != PACS_OK) {
        fprintf(stderr, "fuzz_auth: %s\n", ei.msg);
        return -1;
    }
    atexit(cleanup);
    return 0;
}

/* The next line of `*p` (NUL-terminated in place), or NULL when it is empty or absent. */
static const char *next_line(char **p)
{
    if (!*p) {
        return NULL;
    }
    char *line = *p, *nl = strchr(line, '\n');
    if (nl) {
        *nl = '\0';
        *p = nl + 1;
    } else {
        *p = NULL;
    }
    return line[0] ? line : NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!auth && init() != 0) {
        abort();
    }
    if (size == 0) {
        return 0;
    }
    char *text = malloc(size);
    if (!text) {
        return 0;
    }
    memcpy(text, data + 1, size - 1);
    text[size - 1] = '\0';
    char *p = text;
    pacs_auth_request in;
    memset(&in, 0, sizeof in);
    in.safe_method = data[0] & 1;
    in.authorization = next_line(&p);
    in.query_token = next_line(&p);
    in.cookie = next_line(&p);
    in.origin = next_line(&p); /* a session cookie's same-origin check */
    in.host = next_line(&p);
    pacs_principal who;
    pacs_errinfo ei;
    int presented = 0;
    pacs_err err = pacs_auth_check(auth, &in, &who, &presented, &ei);
    /* Nothing here can be signed by the key or found in the empty store: only the API key
     * (whose hash is not of any key a fuzzer will find) could ever succeed. */
    if (err == PACS_OK && who.kind != PACS_PRINCIPAL_API_KEY) {
        abort();
    }
    free(text);
    return 0;
}
