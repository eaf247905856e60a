// SPDX-License-Identifier: MIT
/*
 * Start-up security checks and lifecycle audit records (security.h). Runs once, on pacsd's
 * main thread; nothing here is on a request path.
 */
#include "tools/pacsd/security.h"

#include <arpa/inet.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "pacs/base/log.h"

/* True for 127.0.0.0/8 and ::1 (and "localhost"): reachable from this machine only. */
static int loopback(const char *addr)
{
    struct in_addr a4;
    if (inet_pton(AF_INET, addr, &a4) == 1) {
        return (ntohl(a4.s_addr) >> 24) == 127;
    }
    return strcmp(addr, "::1") == 0 || strcmp(addr, "localhost") == 0;
}

int pacs_security_warn(const pacs_config *cfg, int dimse_port, int http_port)
{
    int n = 0;
    const char *dbind = pacs_config_str(cfg, "dimse.bind");
    if (!loopback(dbind)) {
        if (dimse_port >= 0) {
            pacs_log(PACS_LOG_WARN, "security",
                     "DICOM listens on %s:%d without TLS: images and patient data cross the "
                     "network in clear (set dimse.tls.port, then dimse.plain = false)",
                     dbind, dimse_port);
            n++;
        }
        if (!pacs_config_bool(cfg, "dimse.access_control")) {
            pacs_log(PACS_LOG_WARN, "security",
                     "DICOM listens on %s without access control: any calling AE may store, "
                     "query and retrieve (set dimse.access_control = true and list each AE as "
                     "ae.TITLE = host:port allow=... from=...)",
                     dbind);
            n++;
        }
    }
    const char *hbind = pacs_config_str(cfg, "http.bind");
    if (!loopback(hbind) && http_port >= 0 && !pacs_config_bool(cfg, "http.tls")) {
        pacs_log(PACS_LOG_WARN, "security",
                 "DICOMweb listens on %s:%d without TLS: tokens, images and patient data cross "
                 "the network in clear (set http.tls, http.tls.cert and http.tls.key)",
                 hbind, http_port);
        n++;
    }
    const char *lbind = pacs_config_str(cfg, "hl7.bind");
    if (!loopback(lbind) && pacs_config_int(cfg, "hl7.port") >= 0) {
        pacs_log(PACS_LOG_WARN, "security",
                 "HL7 listens on %s without TLS: orders and patient data cross the network in "
                 "clear (set hl7.tls.port and hl7.port = -1)",
                 lbind);
        n++;
    }
    return n;
}

void pacs_security_lifecycle(pacs_audit_action action, const char *version)
{
    char user[64] = "", detail[96];
    struct passwd pw, *res = NULL;
    char buf[1024];
    if (getpwuid_r(geteuid(), &pw, buf, sizeof buf, &res) == 0 && res) {
        snprintf(user, sizeof user, "%s", res->pw_name);
    } else {
        snprintf(user, sizeof user, "uid=%ld", (long)geteuid());
    }
    snprintf(detail, sizeof detail, "pacsd %s pid=%ld", version, (long)getpid());
    pacs_audit_event ev = {
        .action = action, .success = 1, .protocol = "local", .who = user, .detail = detail};
    pacs_audit_record(&ev);
}
