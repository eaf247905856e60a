// SPDX-License-Identifier: MIT
/*
 * Configuration: built-in defaults, then a `key = value` file, then environment variables
 * (PACS_DIMSE_PORT for dimse.port), then `--set key=value` flags. Every key is declared once in
 * a table in config.c with its type, default and help text; unknown keys and bad values are
 * refused when set, so a typo fails at start-up rather than being ignored. After
 * pacs_config_finish() the object is read-only and may be shared by all threads.
 *
 * Known remote applications are keys of the form `ae.TITLE = host:port`, DICOMweb servers
 * instances are forwarded to `web.NAME = URL [options]` and the health record's FHIR servers
 * studies and reports are pushed to `ehr.NAME = URL [options]` (pacs_web_dest); forwarding
 * rules are keys of the form `route.NAME = DEST [condition]...` (see pacs_config_route).
 */
#ifndef PACS_BASE_CONFIG_H
#define PACS_BASE_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "pacs/base/err.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct pacs_config pacs_config;

/** A remote DICOM application this server may connect to (move destinations, forwarding). */
typedef struct pacs_remote_ae {
    char aet[17];
    char host[256];
    int port;
    unsigned allow;  /* PACS_AE_ALLOW_* bits (`allow=`; all when absent) */
    char from[256];  /* `from=`: comma-separated addresses, CIDR blocks or *; "" = its host */
    int tls;         /* `tls`: associations to it use TLS */
    char cert[65];   /* `cert=`: the subject CN its TLS client certificate must have; "" any */
    int ascii_names; /* `names=ascii`: worklist names without diacritics, upper case */
} pacs_remote_ae;

/* What a known AE may ask for when dimse.access_control is on (C-ECHO is always allowed; the
 * Modality Worklist is a find). */
#define PACS_AE_ALLOW_STORE 0x01u
#define PACS_AE_ALLOW_FIND 0x02u
#define PACS_AE_ALLOW_MOVE 0x04u
#define PACS_AE_ALLOW_GET 0x08u
#define PACS_AE_ALLOW_COMMIT 0x10u
#define PACS_AE_ALLOW_MPPS 0x20u /* Modality Performed Procedure Step (N-CREATE, N-SET) */
#define PACS_AE_ALLOW_ALL 0x3Fu

/**
 * A forwarding rule, `route.NAME = DEST [calling=AE,...] [modality=CT,...] [sop_class=UID,...]
 * [study_from=key:NAME,...]`: every instance stored whose calling AE, Modality and SOP Class
 * match, and whose study holds an instance that came over HTTP with one of the named
 * credentials (an absent condition matches anything), is queued for sending to DEST, a known
 * AE, a DICOMweb server (web.DEST) or an EHR's FHIR server (ehr.DEST).
 */
typedef struct pacs_config_route {
    char name[65];
    char dest[17];
    char calling[256];    /* comma-separated calling AE titles; empty matches any */
    char modality[128];   /* comma-separated Modality codes; empty matches any */
    char sop_class[512];  /* comma-separated SOP Class UIDs; empty matches any */
    char study_from[512]; /* comma-separated HTTP credentials (key:NAME, jwt:SUB, user:LOGIN);
                             empty matches any */
} pacs_config_route;

/** What an HTTP destination takes. */
typedef enum pacs_dest_kind {
    PACS_DEST_STOW = 0, /* `web.NAME`: a DICOMweb server, instances by STOW-RS */
    PACS_DEST_EHR       /* `ehr.NAME`: a FHIR R4 server, ImagingStudy and DiagnosticReport PUTs */
} pacs_dest_kind;

/**
 * An HTTP destination: a DICOMweb server instances are forwarded to by STOW-RS, `web.NAME = URL
 * [key=@FILE] [ca=PEM] [accept=jpegls,htj2k,explicit,...] [batch=N] [batch_mb=N]`, or the
 * health record's FHIR server, `ehr.NAME = URL [key=@FILE] [ca=PEM]`. The bearer key is read
 * from FILE when the sender starts (never from the configuration itself, so it is never
 * printed or logged). `accept` lists the transfer syntaxes the server takes, most wanted first
 * (names or UIDs; empty: instances go as stored).
 */
typedef struct pacs_web_dest {
    char name[17]; /* first (the configuration finds it by name): 1 to 16 characters,
                      like an AE title; routes name it as DEST */
    pacs_dest_kind kind;
    char url[512];      /* the DICOMweb root or FHIR base, without a trailing '/' */
    char key_file[512]; /* "" for none */
    char ca[512];       /* PEM CA certificates for https; "" for the system's */
    char accept[1024];  /* comma-separated transfer syntax UIDs, in order; "" as stored */
    int batch;          /* at most this many instances in one STOW-RS request */
    long batch_bytes;   /* ... and about this many bytes */
} pacs_web_dest;

/** A new configuration holding the defaults; NULL when out of memory. */
pacs_config *pacs_config_new(void);
void pacs_config_free(pacs_config *cfg);

/** Sets one key from its text form, validating it. */
pacs_err pacs_config_set(pacs_config *cfg, const char *key, const char *value, pacs_errinfo *ei);

/** Parses "key=value" (as given to --set) and sets it. */
pacs_err pacs_config_set_pair(pacs_config *cfg, const char *pair, pacs_errinfo *ei);

/**
 * Loads a `key = value` file: one setting per line, `#` starts a comment, blank lines are
 * ignored, surrounding blanks are trimmed. Errors name the file and line.
 */
pacs_err pacs_config_load_file(pacs_config *cfg, const char *path, pacs_errinfo *ei);

/** Parses the same syntax from a string (for tests and fuzzing); `origin` names it in errors. */
pacs_err pacs_config_load_text(pacs_config *cfg, const char *text, size_t len, const char *origin,
                               pacs_errinfo *ei);

/** Applies PACS_<KEY> environment variables for every declared key. */
pacs_err pacs_config_load_env(pacs_config *cfg, pacs_errinfo *ei);

/** Checks settings that depend on each other; call once after all sources are loaded. */
pacs_err pacs_config_finish(pacs_config *cfg, pacs_errinfo *ei);

/** An amount of space: a share of a file system, or a number of bytes. */
typedef struct pacs_amount {
    int percent;    /* 1: `share` holds it, in percent of the file system's size */
    double share;   /* 0..100 */
    uint64_t bytes; /* when not a percentage */
} pacs_amount;

/** Values of declared keys; asking for an undeclared key or the wrong type aborts (a bug). */
const char *pacs_config_str(const pacs_config *cfg, const char *key);
/** An amount setting (storage.free_min): "N%" of the file system or a size ("500MB"). */
pacs_amount pacs_config_amount(const pacs_config *cfg, const char *key);
long pacs_config_int(const pacs_config *cfg, const char *key);
int pacs_config_bool(const pacs_config *cfg, const char *key);

/** Known remote AEs, in the order they were set. */
size_t pacs_config_ae_count(const pacs_config *cfg);
const pacs_remote_ae *pacs_config_ae_at(const pacs_config *cfg, size_t i);
/** The remote AE with this title (exact match after trimming blanks), or NULL. */
const pacs_remote_ae *pacs_config_ae_find(const pacs_config *cfg, const char *aet);

/** Forwarding rules, in the order they were set. pacs_config_finish() checks that each
 *  destination is a known AE or DICOMweb server. */
size_t pacs_config_route_count(const pacs_config *cfg);
const pacs_config_route *pacs_config_route_at(const pacs_config *cfg, size_t i);

/** HTTP destinations (`web.NAME` and `ehr.NAME`, told apart by their kind), in the order they
 *  were set; find by exact name. */
size_t pacs_config_web_count(const pacs_config *cfg);
const pacs_web_dest *pacs_config_web_at(const pacs_config *cfg, size_t i);
const pacs_web_dest *pacs_config_web_find(const pacs_config *cfg, const char *name);

/** A DICOMweb API key, `auth.key.NAME = sha256:HEX scope...`, as written (http/auth.c
 *  checks the value when the server starts). */
typedef struct pacs_api_key {
    char name[65];
    char value[512];
} pacs_api_key;

/** API keys, in the order they were set (a name set twice keeps its last value). */
size_t pacs_config_api_key_count(const pacs_config *cfg);
const pacs_api_key *pacs_config_api_key_at(const pacs_config *cfg, size_t i);

/** True when `aet` may open associations: dimse.allowed_aets is empty or lists it. */
int pacs_config_calling_aet_allowed(const pacs_config *cfg, const char *aet);

/** Writes every declared key with its default and help text (for `pacsd --help-config`). */
void pacs_config_print_help(void *file);

#ifdef __cplusplus
}
#endif

#endif
