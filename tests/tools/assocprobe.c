// SPDX-License-Identifier: MIT
/*
 * assocprobe: proposes arbitrary presentation contexts to a DICOM peer and says which were
 * accepted, for the Conformance Statement's test (DCMTK's tools propose only the SOP classes of
 * the files they send). It also prints the tables the DICOM port answers from (sopclass.h), so
 * that the test takes the list of what is accepted from the code, not from the statement.
 *
 *   assocprobe [--aet AET] [--aec AET] [--role scu|scp|both] HOST PORT CLASS=TS[,TS...]...
 *       One presentation context per argument, up to 64 to an association (released after
 *       negotiation); prints per context, in order, "accepted CLASS TS" (the transfer syntax
 *       accepted) or "rejected CLASS". Exits 1 when an association cannot be opened.
 *   assocprobe --storage-classes      the Storage SOP Classes taken by name: "UID<TAB>name"
 *   assocprobe --transfer-syntaxes    the transfer syntaxes objects are taken in, the same way
 *
 * Every wait is bounded (30 s per association). Single-threaded test tool.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pacs/base/err.h"
#include "pacs/dicom/assoc.h"
#include "pacs/dicom/sopclass.h"

#define BATCH 64

static void usage(void)
{
    fprintf(stderr, "usage: assocprobe [--aet AET] [--aec AET] [--role scu|scp|both] HOST PORT "
                    "CLASS=TS[,TS...]...\n"
                    "       assocprobe --storage-classes | --transfer-syntaxes\n");
}

/* Fills `pc` from "CLASS=TS,TS"; 0 when malformed. */
static int parse_spec(const char *spec, uint8_t id, pacs_role role, pacs_pc *pc)
{
    memset(pc, 0, sizeof *pc);
    pc->id = id;
    pc->role = role;
    const char *eq = strchr(spec, '=');
    if (!eq || eq == spec || (size_t)(eq - spec) > PACS_UID_MAX || !eq[1]) {
        return 0;
    }
    memcpy(pc->abstract_syntax, spec, (size_t)(eq - spec));
    const char *p = eq + 1;
    while (*p) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        if (n == 0 || n > PACS_UID_MAX || pc->n_ts == PACS_MAX_TS_PER_PC) {
            return 0;
        }
        memcpy(pc->ts[pc->n_ts++], p, n);
        p += n + (comma ? 1 : 0);
    }
    return 1;
}

static int print_table(size_t (*count)(void), void (*at)(size_t, const char **, const char **))
{
    for (size_t i = 0; i < count(); i++) {
        const char *uid, *name;
        at(i, &uid, &name);
        printf("%s\t%s\n", uid, name);
    }
    return 0;
}

int main(int argc, char **argv)
{
    const char *aet = "ASSOCPROBE", *aec = "PACS";
    pacs_role role = PACS_ROLE_DEFAULT;
    int i = 1;
    if (argc == 2 && strcmp(argv[1], "--storage-classes") == 0) {
        return print_table(pacs_dcm_storage_class_count, pacs_dcm_storage_class_at);
    }
    if (argc == 2 && strcmp(argv[1], "--transfer-syntaxes") == 0) {
        return print_table(pacs_dcm_ts_count, pacs_dcm_ts_at);
    }
    for (; i + 1 < argc && strncmp(argv[i], "--", 2) == 0; i += 2) {
        if (strcmp(argv[i], "--aet") == 0) {
            aet = argv[i + 1];
        } else if (strcmp(argv[i], "--aec") == 0) {
            aec = argv[i + 1];
        } else if (strcmp(argv[i], "--role") == 0) {
            const char *r = argv[i + 1];
            role = strcmp(r, "scp") == 0    ? PACS_ROLE_SCP
                   : strcmp(r, "both") == 0 ? PACS_ROLE_SCU_SCP
                                            : PACS_ROLE_DEFAULT;
        } else {
            usage();
            return 2;
        }
    }
    if (argc - i < 3) {
        usage();
        return 2;
    }
    const char *host = argv[i];
    int port = atoi(argv[i + 1]);
    char **specs = argv + i + 2;
    size_t n = (size_t)(argc - i - 2);
    static pacs_pc pcs[BATCH];
    for (size_t from = 0; from < n; from += BATCH) {
        size_t k = n - from < BATCH ? n - from : BATCH;
        for (size_t j = 0; j < k; j++) {
            if (!parse_spec(specs[from + j], (uint8_t)(2 * j + 1), role, &pcs[j])) {
                fprintf(stderr, "assocprobe: malformed context '%s'\n", specs[from + j]);
                return 2;
            }
        }
        pacs_assoc *a = NULL;
        pacs_errinfo ei;
        if (pacs_assoc_request(aet, aec, host, port, 30, 65536, pcs, k, &a, &ei) != PACS_OK) {
            fprintf(stderr, "assocprobe: %s\n", ei.msg);
            return 1;
        }
        for (size_t j = 0; j < k; j++) {
            if (pcs[j].accepted) {
                printf("accepted %s %s\n", pcs[j].abstract_syntax, pcs[j].accepted_ts);
            } else {
                printf("rejected %s\n", pcs[j].abstract_syntax);
            }
        }
        if (pacs_assoc_release(a, &ei) != PACS_OK) {
            pacs_assoc_abort(a);
        }
        pacs_assoc_free(a);
    }
    return 0;
}
