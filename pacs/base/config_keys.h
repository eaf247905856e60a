// SPDX-License-Identifier: MIT
/*
 * The table of configuration keys (config_keys.c), for config.c only: internal to pacs/base.
 */
#ifndef PACS_BASE_CONFIG_KEYS_H
#define PACS_BASE_CONFIG_KEYS_H

#include <stddef.h>

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

#endif
