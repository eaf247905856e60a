// SPDX-License-Identifier: MIT
/*
 * The table of configuration keys (config_keys.c), and the parsers of the destination keys
 * (config_dest.c), for config.c only: internal to pacs/base.
 */
#ifndef PACS_BASE_CONFIG_KEYS_H
#define PACS_BASE_CONFIG_KEYS_H

#include <stddef.h>

#include "pacs/base/config.h"

typedef enum pacs_config_key_type {
    PACS_KEY_STR,
    PACS_KEY_INT,
    PACS_KEY_BOOL,
    PACS_KEY_AMOUNT
} pacs_config_key_type;

typedef struct pacs_config_key {
    const char *name;
    pacs_config_key_type type;
    const char *def;
    long min, max; /* PACS_KEY_INT: the range */
    const char *help;
} pacs_config_key;

extern const pacs_config_key pacs_config__keys[];
extern const size_t pacs_config__n_keys;

/** 1 when `aet` is 1 to 16 characters without control characters or backslashes. */
int pacs_config__valid_aet(const char *aet);
/** `route.NAME = DEST [conditions]` into `out` (written only on success). */
pacs_err pacs_config__parse_route(const char *name, const char *text, pacs_config_route *out,
                                  pacs_errinfo *ei);
/** `web.NAME` or `ehr.NAME = URL [options]` into `out` (written only on success). */
pacs_err pacs_config__parse_web(pacs_dest_kind kind, const char *name, const char *text,
                                pacs_web_dest *out, pacs_errinfo *ei);

#endif
