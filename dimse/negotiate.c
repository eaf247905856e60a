// SPDX-License-Identifier: MIT
/*
 * Association negotiation for the DIMSE server (association.h): the called and calling AE
 * titles (dimse.strict_called_aet, dimse.calling_aets), access control (dimse.access_control:
 * a known AE, from its addresses, over TLS and with the certificate it is marked with, using
 * only the services it is allowed), then one decision per proposed presentation context: the
 * transfer syntax to accept (images are kept as sent; commands prefer explicit little endian),
 * the SCP/SCU role, or the reason for a rejection. Refusals are logged and audited.
 *
 * Load: once per association; a host name in an AE's from= list costs a lookup
 * (/etc/hosts or DNS). Thread-safety: runs on the association's own thread; reads only the
 * configuration and the AE table (which is thread-safe).
 */
#include <arpa/inet.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dimse/association.h"
#include "pacs/base/log.h"
#include "pacs/dicom/dcm.h"

#define VERIFICATION_CLASS "1.2.840.10008.1.1"

static const char *const find_classes[] = {
    "1.2.840.10008.5.1.4.1.2.1.1", /* Patient Root Query/Retrieve - FIND */
    "1.2.840.10008.5.1.4.1.2.2.1", /* Study Root Query/Retrieve - FIND */
    PACS_WORKLIST_FIND_CLASS,      /* Modality Worklist Information Model - FIND */
    NULL,
};

static const char *const retrieve_classes[] = {
    "1.2.840.10008.5.1.4.1.2.1.2", /* Patient Root Query/Retrieve - MOVE */
    "1.2.840.10008.5.1.4.1.2.2.2", /* Study Root Query/Retrieve - MOVE */
    "1.2.840.10008.5.1.4.1.2.1.3", /* Patient Root Query/Retrieve - GET */
    "1.2.840.10008.5.1.4.1.2.2.3", /* Study Root Query/Retrieve - GET */
    PACS_COMMIT_PUSH_CLASS,        /* Storage Commitment Push Model */
    NULL,
};

static int in_list(const char *const *list, const char *uid)
{
    for (size_t i = 0; list[i]; i++) {
        if (strcmp(list[i], uid) == 0) {
            return 1;
        }
    }
    return 0;
}

/* ---- access control (dimse.access_control) ---- */

/* True when `item` (an IPv4 address, a CIDR block, a host name or *) covers `peer`. */
static int addr_matches(const char *item, const struct in_addr *peer)
{
    if (strcmp(item, "*") == 0) {
        return 1;
    }
    char host[64];
    snprintf(host, sizeof host, "%s", item);
    char *slash = strchr(host, '/');
    long bits = 32;
    if (slash) {
        *slash = '\0';
        char *end = NULL;
        bits = strtol(slash + 1, &end, 10);
        if (end == slash + 1 || *end != '\0' || bits < 0 || bits > 32) {
            return 0;
        }
    }
    struct in_addr want;
    if (inet_pton(AF_INET, host, &want) == 1) {
        uint32_t mask = bits == 0 ? 0 : htonl(0xFFFFFFFFu << (32 - bits));
        return (want.s_addr & mask) == (peer->s_addr & mask);
    }
    if (slash) {
        return 0;
    }
    /* A host name: its addresses now (from /etc/hosts or DNS), never the peer's reverse name. */
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = AF_INET;
    hints.ai_socktype = SOCK_STREAM;
    if (getaddrinfo(host, NULL, &hints, &res) != 0) {
        return 0;
    }
    int found = 0;
    for (struct addrinfo *ai = res; ai && !found; ai = ai->ai_next) {
        const struct sockaddr_in *sin = (const struct sockaddr_in *)(const void *)ai->ai_addr;
        found = sin->sin_addr.s_addr == peer->s_addr;
    }
    freeaddrinfo(res);
    return found;
}

/* True when the known AE may call from `peer` (a numeric address): its from= list, or the host
 * of its host:port when there is none. */
static int addr_allowed(const pacs_remote_ae *ae, const char *peer)
{
    struct in_addr p;
    if (inet_pton(AF_INET, peer, &p) != 1) {
        return 0;
    }
    char list[sizeof ae->from];
    snprintf(list, sizeof list, "%s", ae->from[0] ? ae->from : ae->host);
    char *save = NULL;
    for (char *it = strtok_r(list, ", ", &save); it; it = strtok_r(NULL, ", ", &save)) {
        if (addr_matches(it, &p)) {
            return 1;
        }
    }
    return 0;
}

/* The permission a presentation context needs (0: none, C-ECHO), or -1 for classes we do not
 * serve (left to the usual rejection). */
static int needed_permission(const pacs_pc *pc)
{
    if (strcmp(pc->abstract_syntax, VERIFICATION_CLASS) == 0) {
        return 0;
    }
    if (in_list(find_classes, pc->abstract_syntax)) {
        return PACS_AE_ALLOW_FIND;
    }
    if (strcmp(pc->abstract_syntax, PACS_COMMIT_PUSH_CLASS) == 0) {
        return PACS_AE_ALLOW_COMMIT;
    }
    if (strcmp(pc->abstract_syntax, PACS_MPPS_CLASS) == 0) {
        return PACS_AE_ALLOW_MPPS;
    }
    if (in_list(retrieve_classes, pc->abstract_syntax)) {
        /* ...2.1.2 and ...2.2.2 are MOVE, ...2.1.3 and ...2.2.3 GET */
        size_t n = strlen(pc->abstract_syntax);
        return pc->abstract_syntax[n - 1] == '2' ? PACS_AE_ALLOW_MOVE : PACS_AE_ALLOW_GET;
    }
    if (pacs_dcm_is_storage_class(pc->abstract_syntax)) {
        /* The requester receiving on this context (SCP role) is C-GET; sending is C-STORE. */
        return pc->role == PACS_ROLE_SCP ? PACS_AE_ALLOW_GET : PACS_AE_ALLOW_STORE;
    }
    return -1;
}

static pacs_err reject(pacs_dimse_ctx *c, pacs_reject_reason why, const char *text,
                       pacs_errinfo *ei)
{
    pacs_log(PACS_LOG_WARN, "dimse", "assoc=%u calling=%s called=%s host=%s rejected: %s",
             c->assoc_id, c->info.calling_aet, c->info.called_aet, c->info.peer_host, text);
    pacs_assoc_reject(c->assoc, why, NULL);
    char detail[160];
    snprintf(detail, sizeof detail, "A-ASSOCIATE-RJ: %s", text);
    pacs_dimse__audit(c, PACS_AUDIT_ACCESS_DENIED, 0, NULL, NULL, detail, 0);
    return pacs_errf(ei, PACS_EDENIED, "%s", text);
}

/* The transfer syntax to accept: for images, the first the peer proposed that we can store
 * as it is (no conversion on the way in); for commands-only services, explicit LE if offered. */
static const char *choose_ts(const pacs_pc *pc, int prefer_explicit)
{
    if (prefer_explicit) {
        for (size_t i = 0; i < pc->n_ts; i++) {
            if (strcmp(pc->ts[i], PACS_TS_EXPLICIT_LE) == 0) {
                return pc->ts[i];
            }
        }
        for (size_t i = 0; i < pc->n_ts; i++) {
            if (strcmp(pc->ts[i], PACS_TS_IMPLICIT_LE) == 0) {
                return pc->ts[i];
            }
        }
        return NULL;
    }
    for (size_t i = 0; i < pc->n_ts; i++) {
        if (pacs_dcm_ts_known(pc->ts[i])) {
            return pc->ts[i];
        }
    }
    return NULL;
}

/* Checks the AE titles, and the calling AE's rights when dimse.access_control is on (setting
 * c->allow). PACS_EDENIED when the association has been rejected. */
static pacs_err check_titles(pacs_dimse_ctx *c, pacs_errinfo *ei)
{
    const char *our_aet = pacs_config_str(c->cfg, "dimse.aet");
    c->allow = PACS_AE_ALLOW_ALL;
    if (pacs_config_bool(c->cfg, "dimse.strict_called_aet") &&
        strcmp(c->info.called_aet, our_aet) != 0) {
        return reject(c, PACS_RJ_CALLED_AET_UNKNOWN, "called AE title not recognised", ei);
    }
    if (!pacs_config_calling_aet_allowed(c->cfg, c->info.calling_aet)) {
        return reject(c, PACS_RJ_CALLING_AET_UNKNOWN, "calling AE title not allowed", ei);
    }
    if (!pacs_config_bool(c->cfg, "dimse.access_control")) {
        return PACS_OK;
    }
    pacs_remote_ae ae;
    if (!c->aetable || !pacs_aetable_find(c->aetable, c->info.calling_aet, &ae)) {
        return reject(c, PACS_RJ_CALLING_AET_UNKNOWN, "calling AE title not known", ei);
    }
    if (!addr_allowed(&ae, c->info.peer_host)) {
        return reject(c, PACS_RJ_CALLING_AET_UNKNOWN,
                      "calling AE title not allowed from this address", ei);
    }
    if (ae.tls && !c->info.tls) {
        return reject(c, PACS_RJ_CALLING_AET_UNKNOWN,
                      "calling AE title marked tls called on the plain port", ei);
    }
    if (ae.cert[0] && strcmp(c->info.peer_cert_cn, ae.cert) != 0) {
        return reject(c, PACS_RJ_CALLING_AET_UNKNOWN,
                      "calling AE title used with another certificate (cert=)", ei);
    }
    c->allow = ae.allow;
    return PACS_OK;
}

enum { CONTEXT_ACCEPTED, CONTEXT_REJECTED, CONTEXT_DENIED };

/* Accepts or rejects one proposed presentation context. */
static int decide(pacs_dimse_ctx *c, const pacs_pc *pc)
{
    const char *ts = NULL;
    pacs_role role = PACS_ROLE_DEFAULT;
    int known = 1;
    if (strcmp(pc->abstract_syntax, VERIFICATION_CLASS) == 0 ||
        in_list(find_classes, pc->abstract_syntax) ||
        in_list(retrieve_classes, pc->abstract_syntax) ||
        strcmp(pc->abstract_syntax, PACS_MPPS_CLASS) == 0) {
        ts = choose_ts(pc, 1);
    } else if (pacs_dcm_is_storage_class(pc->abstract_syntax)) {
        /* A peer that only receives on this context (C-GET) gets what we can send it. */
        ts = pc->role == PACS_ROLE_SCP ? pacs_dimse__get_storage_ts(pc) : choose_ts(pc, 0);
        if (pc->role == PACS_ROLE_SCP || pc->role == PACS_ROLE_SCU_SCP) {
            role = pc->role;
        }
    } else {
        known = 0;
    }
    int need = needed_permission(pc);
    if (ts && need == (int)PACS_AE_ALLOW_STORE && role == PACS_ROLE_SCU_SCP) {
        /* Both ways proposed: keep the way(s) this AE may use. */
        unsigned both = c->allow & (PACS_AE_ALLOW_STORE | PACS_AE_ALLOW_GET);
        if (both == PACS_AE_ALLOW_GET) {
            role = PACS_ROLE_SCP;
            need = PACS_AE_ALLOW_GET;
        } else if (both == PACS_AE_ALLOW_STORE) {
            role = PACS_ROLE_DEFAULT;
        }
    }
    if (ts && need > 0 && !(c->allow & (unsigned)need)) {
        /* A service this AE may not use (PS3.8 9.3.3.2 user-rejection). */
        pacs_log(PACS_LOG_WARN, "dimse",
                 "assoc=%u calling=%s context=%u %s refused: not "
                 "allowed for this AE",
                 c->assoc_id, c->info.calling_aet, pc->id, pc->abstract_syntax);
        pacs_assoc_pc_reject(c->assoc, pc->id, PACS_PC_REJECT_USER, NULL);
        return CONTEXT_DENIED;
    }
    if (!ts) {
        pacs_assoc_pc_reject(
            c->assoc, pc->id,
            known ? PACS_PC_REJECT_TRANSFER_SYNTAXES : PACS_PC_REJECT_ABSTRACT_SYNTAX, NULL);
        return CONTEXT_REJECTED;
    }
    pacs_assoc_pc_accept(c->assoc, pc->id, ts, role, NULL);
    return CONTEXT_ACCEPTED;
}

pacs_err pacs_dimse__negotiate(pacs_dimse_ctx *c, pacs_errinfo *ei)
{
    pacs_err err = check_titles(c, ei);
    if (err != PACS_OK) {
        return err;
    }
    size_t n = pacs_assoc_pc_count(c->assoc), accepted = 0, denied = 0;
    for (size_t i = 0; i < n; i++) {
        pacs_pc pc;
        if (pacs_assoc_pc_at(c->assoc, i, &pc) != PACS_OK) {
            continue;
        }
        int d = decide(c, &pc);
        accepted += d == CONTEXT_ACCEPTED;
        denied += d == CONTEXT_DENIED;
    }
    if (denied) {
        char detail[96];
        snprintf(detail, sizeof detail, "presentation contexts refused: %zu not allowed", denied);
        pacs_dimse__audit(c, PACS_AUDIT_ACCESS_DENIED, 0, NULL, NULL, detail, (unsigned)denied);
    }
    err = pacs_assoc_acknowledge(c->assoc, ei);
    if (err == PACS_OK) {
        pacs_log(PACS_LOG_INFO, "dimse", "assoc=%u calling=%s host=%s accepted contexts=%zu/%zu",
                 c->assoc_id, c->info.calling_aet, c->info.peer_host, accepted, n);
    }
    return err;
}
