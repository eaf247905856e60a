// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for the configuration parser (pacs/base/config.h): the input is a
 * `key = value` file as `--config` reads it. It is loaded over the defaults, checked with
 * pacs_config_finish, and every value, known AE, DICOMweb destination and forwarding rule is
 * read back, the way pacsd does at start-up; the same lines are then given one by one as `--set`
 * pairs. Nothing may crash, leak or read out of bounds, whatever the bytes. Seeds:
 * testdata/fuzz/fuzz_config/.
 * Single-threaded.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pacs/base/config.h"
#include "pacs/base/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Keys pacsd reads at start-up, by type. */
static const char *const str_keys[] = {
    "data",      "index",       "log.level",       "dimse.aet",         "dimse.bind",
    "http.bind", "http.prefix", "http.public_url", "http.cors_origins", "dimse.allowed_aets"};
static const char *const int_keys[] = {"dimse.port",       "http.port",
                                       "http.threads",     "dimse.max_associations",
                                       "http.max_body_mb", "ingest.max_object_mb"};

static void read_back(const pacs_config *cfg)
{
    size_t sum = 0;
    for (size_t i = 0; i < sizeof str_keys / sizeof str_keys[0]; i++) {
        sum += strlen(pacs_config_str(cfg, str_keys[i]));
    }
    for (size_t i = 0; i < sizeof int_keys / sizeof int_keys[0]; i++) {
        sum += (size_t)pacs_config_int(cfg, int_keys[i]);
    }
    sum += (size_t)pacs_config_bool(cfg, "dicomweb.delete_allowed");
    for (size_t i = 0; i < pacs_config_ae_count(cfg); i++) {
        const pacs_remote_ae *ae = pacs_config_ae_at(cfg, i);
        sum += strlen(ae->aet) + strlen(ae->host) + (size_t)ae->port;
        if (pacs_config_ae_find(cfg, ae->aet) == NULL) {
            fprintf(stderr, "fuzz_config: AE '%s' listed but not found\n", ae->aet);
            abort();
        }
        sum += (size_t)pacs_config_calling_aet_allowed(cfg, ae->aet);
    }
    for (size_t i = 0; i < pacs_config_web_count(cfg); i++) {
        const pacs_web_dest *w = pacs_config_web_at(cfg, i);
        sum += strlen(w->url) + strlen(w->key_file) + strlen(w->ca) + strlen(w->accept) +
               (size_t)w->batch + (size_t)w->batch_bytes;
        if (pacs_config_web_find(cfg, w->name) != w) {
            fprintf(stderr, "fuzz_config: web destination '%s' listed but not found\n", w->name);
            abort();
        }
    }
    for (size_t i = 0; i < pacs_config_route_count(cfg); i++) {
        const pacs_config_route *r = pacs_config_route_at(cfg, i);
        sum += strlen(r->name) + strlen(r->dest) + strlen(r->calling) + strlen(r->modality) +
               strlen(r->sop_class);
    }
    sum += (size_t)pacs_config_calling_aet_allowed(cfg, "ANY");
    /* Keep the reads from being optimised away. */
    static volatile size_t sink;
    sink += sum;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int quiet;
    if (!quiet) {
        pacs_log_set_level(PACS_LOG_ERROR);
        quiet = 1;
    }
    pacs_errinfo ei = {0};
    pacs_config *cfg = pacs_config_new();
    if (!cfg) {
        return 0;
    }
    if (pacs_config_load_text(cfg, (const char *)data, size, "fuzz", &ei) == PACS_OK &&
        pacs_config_finish(cfg, &ei) == PACS_OK) {
        read_back(cfg);
    }
    pacs_config_free(cfg);

    /* The same lines as --set pairs (NUL-terminated copies; an embedded NUL ends a line). */
    cfg = pacs_config_new();
    char *text = malloc(size + 1);
    if (!cfg || !text) {
        pacs_config_free(cfg);
        free(text);
        return 0;
    }
    memcpy(text, data, size);
    text[size] = '\0';
    for (char *line = text, *next; line; line = next) {
        next = strchr(line, '\n');
        if (next) {
            *next++ = '\0';
        }
        pacs_config_set_pair(cfg, line, &ei);
    }
    if (pacs_config_finish(cfg, &ei) == PACS_OK) {
        read_back(cfg);
    }
    pacs_config_free(cfg);
    free(text);
    return 0;
}
