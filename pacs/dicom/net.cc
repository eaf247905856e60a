// SPDX-License-Identifier: MIT
/*
 * dcmnet behind a C API (net.h). Each exported function is a try/catch shell; DCMTK conditions
 * become pacs_err with the condition text in the detail. The listening socket is DCMTK's, but
 * re-bound to the configured address (DCMTK only binds to all interfaces). C-STORE datasets are
 * streamed to a caller's sink through a DcmOutputStream whose consumer calls back into C.
 */
#include "pacs/dicom/net.h"
#include "pacs/dicom/dcm_internal.h"

#include <arpa/inet.h>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <netinet/in.h>
#include <sys/stat.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmdata/dcostrma.h"
#include "dcmtk/dcmdata/dcostrmb.h"
#include "dcmtk/dcmdata/dctk.h"
#include "dcmtk/dcmnet/assoc.h"
#include "dcmtk/dcmnet/dimse.h"
#include "dcmtk/dcmnet/dcmtrans.h"
#include "dcmtk/dcmnet/dulstruc.h"
#include "dcmtk/dcmtls/tlslayer.h"
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

struct pacs_net {
    T_ASC_Network *net;
    int acse_timeout;
    bool tls = false;
};

struct pacs_assoc {
    T_ASC_Association *assoc;
    T_ASC_Network *own_net; /* requestor side: the network object is ours to drop */
    int acse_timeout;
    uint8_t pending_pc; /* context of the command whose dataset is pending */
    /* A command read while looking for a C-CANCEL-RQ, handed out by the next recv. */
    bool stashed = false;
    OFCondition stash_cond;
    T_DIMSE_Message stash_msg;
    T_ASC_PresentationContextID stash_pc = 0;
    DcmDataset *stash_detail = nullptr;
    int rejected = 0; /* A-ASSOCIATE-RJ sent: close without waiting for the peer */
    bool tls = false;
};

static void copy_trimmed(char *dst, size_t cap, const char *src)
{
    while (*src == ' ') {
        src++;
    }
    size_t n = strnlen(src, cap - 1);
    while (n > 0 && (src[n - 1] == ' ' || src[n - 1] == '\0')) {
        n--;
    }
    memcpy(dst, src, n);
    dst[n] = '\0';
}

static int listen_socket(T_ASC_Network *net)
{
    PRIVATE_NETWORKKEY *key = OFreinterpret_cast(PRIVATE_NETWORKKEY *, net->network);
    return (int)key->networkSpecific.TCP.listenSocket;
}

pacs_err pacs_net_listen(const char *bind_addr, int port, int acse_timeout, pacs_net **out,
                         int *bound_port, pacs_errinfo *ei)
{
    pacs_net *n = nullptr;
    int fd = -1;
    try {
        struct sockaddr_in addr;
        memset(&addr, 0, sizeof addr);
        addr.sin_family = AF_INET;
        addr.sin_port = htons((uint16_t)port);
        if (inet_pton(AF_INET, bind_addr, &addr.sin_addr) != 1) {
            return pacs_errf(ei, PACS_EINVAL, "bind address '%s' is not an IPv4 address",
                             bind_addr);
        }
        /* Our own socket, bound where configured; it replaces DCMTK's below. */
        fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        int one = 1;
        if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
            bind(fd, (struct sockaddr *)&addr, sizeof addr) != 0 || listen(fd, 64) != 0) {
            pacs_err e = pacs_errf(ei, pacs_err_from_errno(errno), "cannot listen on %s:%d: %s",
                                   bind_addr, port, strerror(errno));
            if (fd >= 0) {
                close(fd);
            }
            return e;
        }
        /* Non-blocking: of several threads woken for one connection, those that lose the race
         * get EAGAIN from accept() instead of sleeping in it. */
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
        socklen_t len = sizeof addr;
        getsockname(fd, (struct sockaddr *)&addr, &len);
        int actual = ntohs(addr.sin_port);

        /* Peers are named by their address: a reverse lookup would let whoever controls the
         * PTR record choose the name, and would hold up the accepting thread. */
        dcmDisableGethostbyaddr.set(OFTrue);
        n = new pacs_net();
        n->acse_timeout = acse_timeout;
        /* DCMTK binds its own socket to the port we give it; port 0 makes that harmless. */
        OFCondition c = ASC_initializeNetwork(NET_ACCEPTOR, 0, acse_timeout, &n->net);
        if (c.bad()) {
            close(fd);
            delete n;
            return pacs_errf(ei, PACS_ENET, "cannot initialise the network: %s", c.text());
        }
        if (dup2(fd, listen_socket(n->net)) < 0) {
            pacs_err e = pacs_errf(ei, PACS_EIO, "dup2: %s", strerror(errno));
            close(fd);
            ASC_dropNetwork(&n->net);
            delete n;
            return e;
        }
        close(fd);
        *bound_port = actual;
        *out = n;
        return PACS_OK;
    } catch (...) {
        if (fd >= 0) {
            close(fd);
        }
        delete n;
        return pacs_errf(ei, PACS_ENOMEM, "out of memory");
    }
}

/* A dcmtls layer set up from `o`; nullptr with `ei` filled on failure. A requestor's layer
 * (`peer_host` set) also checks that the peer's certificate names that host or address. */
static DcmTLSTransportLayer *make_tls(T_ASC_NetworkRole role, const pacs_tls_opts *o,
                                      const char *peer_host, pacs_errinfo *ei)
{
    DcmTLSSecurityProfile profile = TSP_Profile_BCP195;
    if (o->profile && strcmp(o->profile, "bcp195-nd") == 0) {
        profile = TSP_Profile_BCP195_ND;
    } else if (o->profile && strcmp(o->profile, "bcp195-extended") == 0) {
        profile = TSP_Profile_BCP195_Extended;
    }
    DcmTLSTransportLayer *layer = new DcmTLSTransportLayer(role, nullptr, OFTrue);
    OFCondition c = layer->setTLSProfile(profile);
    if (c.good()) {
        c = layer->activateCipherSuites();
    }
    if (c.bad()) {
        pacs_errf(ei, PACS_EINVAL, "TLS profile: %s", c.text());
        delete layer;
        return nullptr;
    }
    bool verify = role == NET_REQUESTOR || o->verify_peer;
    if (o->ca_file && o->ca_file[0]) {
        c = layer->addTrustedCertificateFile(o->ca_file, DCF_Filetype_PEM);
        if (c.bad()) {
            pacs_errf(ei, PACS_EINVAL, "TLS CA file %s: %s", o->ca_file, c.text());
            delete layer;
            return nullptr;
        }
    } else if (verify) {
        pacs_errf(ei, PACS_EINVAL, "TLS: a CA file is needed to verify the peer");
        delete layer;
        return nullptr;
    }
    c = layer->setPrivateKeyFile(o->key_file, DCF_Filetype_PEM);
    if (c.bad()) {
        pacs_errf(ei, PACS_EINVAL, "TLS private key %s: %s", o->key_file, c.text());
        delete layer;
        return nullptr;
    }
    c = layer->setCertificateFile(o->cert_file, DCF_Filetype_PEM);
    if (c.bad()) {
        pacs_errf(ei, PACS_EINVAL, "TLS certificate %s: %s", o->cert_file, c.text());
        delete layer;
        return nullptr;
    }
    if (!layer->checkPrivateKeyMatchesCertificate()) {
        pacs_errf(ei, PACS_EINVAL, "TLS: %s is not the key of %s", o->key_file, o->cert_file);
        delete layer;
        return nullptr;
    }
    layer->setCertificateVerification(verify ? DCV_requireCertificate : DCV_ignoreCertificate);
    if (peer_host) {
        /* dcmtls checks the chain only; the name is OpenSSL's check, asked for here. */
        X509_VERIFY_PARAM *param = SSL_CTX_get0_param(layer->getNativeHandle());
        unsigned char addr[16];
        int ok =
            inet_pton(AF_INET, peer_host, addr) == 1 || inet_pton(AF_INET6, peer_host, addr) == 1
                ? X509_VERIFY_PARAM_set1_ip_asc(param, peer_host)
                : X509_VERIFY_PARAM_set1_host(param, peer_host, 0);
        X509_VERIFY_PARAM_set_hostflags(param, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
        if (ok != 1) {
            pacs_errf(ei, PACS_EINVAL, "TLS: cannot check certificates for host %s", peer_host);
            delete layer;
            return nullptr;
        }
    }
    return layer;
}

pacs_err pacs_net_listen_tls(const char *bind_addr, int port, int acse_timeout,
                             const pacs_tls_opts *tls, pacs_net **out, int *bound_port,
                             pacs_errinfo *ei)
{
    try {
        DcmTLSTransportLayer *layer = make_tls(NET_ACCEPTOR, tls, nullptr, ei);
        if (!layer) {
            return ei ? ei->code : PACS_EINVAL;
        }
        pacs_net *n = nullptr;
        pacs_err err = pacs_net_listen(bind_addr, port, acse_timeout, &n, bound_port, ei);
        if (err != PACS_OK) {
            delete layer;
            return err;
        }
        OFCondition c = ASC_setTransportLayer(n->net, layer, 1);
        if (c.bad()) {
            delete layer;
            pacs_net_close(n);
            return pacs_errf(ei, PACS_ENET, "cannot set up TLS: %s", c.text());
        }
        n->tls = true;
        *out = n;
        return PACS_OK;
    } catch (...) {
        return pacs_errf(ei, PACS_ENOMEM, "out of memory");
    }
}

void pacs_net_close(pacs_net *net)
{
    if (!net) {
        return;
    }
    try {
        ASC_dropNetwork(&net->net);
    } catch (...) {
    }
    delete net;
}

int pacs_net_pending(pacs_net *net, int timeout_ms)
{
    struct pollfd p = {listen_socket(net->net), POLLIN, 0};
    return poll(&p, 1, timeout_ms) > 0 && (p.revents & POLLIN);
}

pacs_err pacs_net_accept(pacs_net *net, int timeout_ms, long max_pdu, pacs_assoc **out,
                         pacs_errinfo *ei)
{
    try {
        struct pollfd p = {listen_socket(net->net), POLLIN, 0};
        int r = poll(&p, 1, timeout_ms);
        if (r == 0 || (r < 0 && errno == EINTR)) {
            return PACS_ETIMEOUT;
        }
        if (r < 0) {
            return pacs_errf(ei, PACS_EIO, "poll: %s", strerror(errno));
        }
        T_ASC_Association *assoc = nullptr;
        OFCondition c =
            ASC_receiveAssociation(net->net, &assoc, max_pdu, nullptr, nullptr,
                                   net->tls ? OFTrue : OFFalse, DUL_NOBLOCK, net->acse_timeout);
        if (c.bad()) {
            if (assoc) {
                /* Not ASC_dropSCPAssociation: it waits (3 minutes by default) for the peer to
                 * go first, and this thread is the one accepting everybody else. */
                ASC_dropAssociation(assoc);
                ASC_destroyAssociation(&assoc);
            }
            if (c == DUL_NOASSOCIATIONREQUEST ||
                (strstr(c.text(), "accept failed") &&
                 strstr(c.text(), "Resource temporarily unavailable"))) {
                return PACS_ETIMEOUT; /* none, or another thread took it */
            }
            return pacs_errf(ei, PACS_ENET, "bad association request: %s", c.text());
        }
        pacs_assoc *a = new pacs_assoc();
        a->assoc = assoc;
        a->own_net = nullptr;
        a->acse_timeout = net->acse_timeout;
        a->tls = net->tls;
        *out = a;
        return PACS_OK;
    } catch (...) {
        return pacs_errf(ei, PACS_ENOMEM, "out of memory");
    }
}

/* The subject CN of the TLS peer's certificate (DER from dcmtls, parsed by OpenSSL). */
static void peer_cert_cn(T_ASC_Association *assoc, char *out, size_t cap)
{
    unsigned long len = ASC_getPeerCertificateLength(assoc);
    if (len == 0 || len > 65536) {
        return;
    }
    OFVector<unsigned char> der(len);
    if (ASC_getPeerCertificate(assoc, &der[0], len) != len) {
        return;
    }
    const unsigned char *p = &der[0];
    X509 *x = d2i_X509(nullptr, &p, (long)len);
    if (!x) {
        return;
    }
    char cn[256];
    int n = X509_NAME_get_text_by_NID(X509_get_subject_name(x), NID_commonName, cn, sizeof cn);
    if (n > 0 && (size_t)n < cap) {
        memcpy(out, cn, (size_t)n + 1);
    }
    X509_free(x);
}

void pacs_assoc_get_info(const pacs_assoc *a, pacs_assoc_info *out)
{
    memset(out, 0, sizeof *out);
    T_ASC_Parameters *p = a->assoc->params;
    copy_trimmed(out->calling_aet, sizeof out->calling_aet, p->DULparams.callingAPTitle);
    copy_trimmed(out->called_aet, sizeof out->called_aet, p->DULparams.calledAPTitle);
    snprintf(out->peer_host, sizeof out->peer_host, "%s", p->DULparams.callingPresentationAddress);
    out->peer_max_pdu = p->theirMaxPDUReceiveSize;
    out->tls = a->tls ? 1 : 0;
    if (a->tls) {
        try {
            peer_cert_cn(a->assoc, out->peer_cert_cn, sizeof out->peer_cert_cn);
        } catch (...) {
        }
    }
}

size_t pacs_assoc_pc_count(const pacs_assoc *a)
{
    return (size_t)ASC_countPresentationContexts(a->assoc->params);
}

static pacs_role role_from_dcmtk(T_ASC_SC_ROLE r)
{
    switch (r) {
    case ASC_SC_ROLE_SCU:
        return PACS_ROLE_SCU;
    case ASC_SC_ROLE_SCP:
        return PACS_ROLE_SCP;
    case ASC_SC_ROLE_SCUSCP:
        return PACS_ROLE_SCU_SCP;
    default:
        return PACS_ROLE_DEFAULT;
    }
}

static T_ASC_SC_ROLE role_to_dcmtk(pacs_role r)
{
    switch (r) {
    case PACS_ROLE_SCU:
        return ASC_SC_ROLE_SCU;
    case PACS_ROLE_SCP:
        return ASC_SC_ROLE_SCP;
    case PACS_ROLE_SCU_SCP:
        return ASC_SC_ROLE_SCUSCP;
    default:
        return ASC_SC_ROLE_DEFAULT;
    }
}

static void pc_from_dcmtk(const T_ASC_PresentationContext &pc, pacs_pc *out)
{
    memset(out, 0, sizeof *out);
    out->id = pc.presentationContextID;
    copy_trimmed(out->abstract_syntax, sizeof out->abstract_syntax, pc.abstractSyntax);
    size_t n = pc.transferSyntaxCount;
    if (n > PACS_MAX_TS_PER_PC) {
        n = PACS_MAX_TS_PER_PC;
    }
    for (size_t i = 0; i < n; i++) {
        copy_trimmed(out->ts[i], sizeof out->ts[i], pc.proposedTransferSyntaxes[i]);
    }
    out->n_ts = n;
    out->role = role_from_dcmtk(pc.proposedRole);
    out->accepted = pc.resultReason == ASC_P_ACCEPTANCE;
    copy_trimmed(out->accepted_ts, sizeof out->accepted_ts, pc.acceptedTransferSyntax);
}

pacs_err pacs_assoc_pc_at(const pacs_assoc *a, size_t i, pacs_pc *out)
{
    try {
        T_ASC_PresentationContext pc;
        if (ASC_getPresentationContext(a->assoc->params, (int)i, &pc).bad()) {
            return PACS_ENOTFOUND;
        }
        pc_from_dcmtk(pc, out);
        return PACS_OK;
    } catch (...) {
        return PACS_ENOMEM;
    }
}

pacs_err pacs_assoc_pc_accept(pacs_assoc *a, uint8_t id, const char *ts, pacs_role role,
                              pacs_errinfo *ei)
{
    try {
        OFCondition c =
            ASC_acceptPresentationContext(a->assoc->params, id, ts, role_to_dcmtk(role));
        if (c.bad()) {
            return pacs_errf(ei, PACS_ENET, "accept context %u: %s", id, c.text());
        }
        return PACS_OK;
    } catch (...) {
        return pacs_errf(ei, PACS_ENOMEM, "out of memory");
    }
}

pacs_err pacs_assoc_pc_reject(pacs_assoc *a, uint8_t id, pacs_pc_reject reason, pacs_errinfo *ei)
{
    try {
        OFCondition c =
            ASC_refusePresentationContext(a->assoc->params, id, (T_ASC_P_ResultReason)reason);
        if (c.bad()) {
            return pacs_errf(ei, PACS_ENET, "refuse context %u: %s", id, c.text());
        }
        return PACS_OK;
    } catch (...) {
        return pacs_errf(ei, PACS_ENOMEM, "out of memory");
    }
}

pacs_err pacs_assoc_acknowledge(pacs_assoc *a, pacs_errinfo *ei)
{
    try {
        pacs_assoc_info info;
        pacs_assoc_get_info(a, &info);
        ASC_setAPTitles(a->assoc->params, nullptr, nullptr, info.called_aet);
        OFCondition c = ASC_acknowledgeAssociation(a->assoc);
        if (c.bad()) {
            return pacs_errf(ei, PACS_ENET, "cannot acknowledge association: %s", c.text());
        }
        return PACS_OK;
    } catch (...) {
        return pacs_errf(ei, PACS_ENOMEM, "out of memory");
    }
}

pacs_err pacs_assoc_reject(pacs_assoc *a, pacs_reject_reason why, pacs_errinfo *ei)
{
    try {
        T_ASC_RejectParameters rj;
        rj.result = ASC_RESULT_REJECTEDPERMANENT;
        rj.source = ASC_SOURCE_SERVICEUSER;
        switch (why) {
        case PACS_RJ_CALLING_AET_UNKNOWN:
            rj.reason = ASC_REASON_SU_CALLINGAETITLENOTRECOGNIZED;
            break;
        case PACS_RJ_CALLED_AET_UNKNOWN:
            rj.reason = ASC_REASON_SU_CALLEDAETITLENOTRECOGNIZED;
            break;
        case PACS_RJ_APP_CONTEXT_UNSUPPORTED:
            rj.reason = ASC_REASON_SU_APPCONTEXTNAMENOTSUPPORTED;
            break;
        case PACS_RJ_LOCAL_LIMIT_EXCEEDED:
            rj.result = ASC_RESULT_REJECTEDTRANSIENT;
            rj.source = ASC_SOURCE_SERVICEPROVIDER_PRESENTATION_RELATED;
            rj.reason = ASC_REASON_SP_PRES_LOCALLIMITEXCEEDED;
            break;
        case PACS_RJ_TEMPORARY_CONGESTION:
            rj.result = ASC_RESULT_REJECTEDTRANSIENT;
            rj.source = ASC_SOURCE_SERVICEPROVIDER_PRESENTATION_RELATED;
            rj.reason = ASC_REASON_SP_PRES_TEMPORARYCONGESTION;
            break;
        default:
            rj.reason = ASC_REASON_SU_NOREASON;
            break;
        }
        OFCondition c = ASC_rejectAssociation(a->assoc, &rj);
        a->rejected = 1;
        if (c.bad()) {
            return pacs_errf(ei, PACS_ENET, "cannot reject association: %s", c.text());
        }
        return PACS_OK;
    } catch (...) {
        return pacs_errf(ei, PACS_ENOMEM, "out of memory");
    }
}

static pacs_err request(const char *our_aet, const char *peer_aet, const char *host, int port,
                        int timeout_s, long max_pdu, pacs_pc *pcs, size_t n_pcs,
                        const pacs_tls_opts *tls, pacs_assoc **out, pacs_errinfo *ei)
{
    T_ASC_Network *net = nullptr;
    T_ASC_Parameters *params = nullptr;
    T_ASC_Association *assoc = nullptr;
    try {
        OFCondition c = ASC_initializeNetwork(NET_REQUESTOR, 0, timeout_s, &net);
        if (c.bad()) {
            return pacs_errf(ei, PACS_ENET, "cannot initialise the network: %s", c.text());
        }
        if (tls) {
            DcmTLSTransportLayer *layer = make_tls(NET_REQUESTOR, tls, host, ei);
            if (!layer) {
                ASC_dropNetwork(&net);
                return ei ? ei->code : PACS_EINVAL;
            }
            c = ASC_setTransportLayer(net, layer, 1);
            if (c.bad()) {
                delete layer;
                ASC_dropNetwork(&net);
                return pacs_errf(ei, PACS_ENET, "cannot set up TLS: %s", c.text());
            }
        }
        c = ASC_createAssociationParameters(&params, max_pdu);
        if (c.good() && tls) {
            c = ASC_setTransportLayerType(params, OFTrue);
        }
        if (c.good()) {
            c = ASC_setAPTitles(params, our_aet, peer_aet, nullptr);
        }
        char peer[300];
        snprintf(peer, sizeof peer, "%s:%d", host, port);
        if (c.good()) {
            c = ASC_setPresentationAddresses(params, "localhost", peer);
        }
        for (size_t i = 0; c.good() && i < n_pcs; i++) {
            const char *ts[PACS_MAX_TS_PER_PC];
            for (size_t k = 0; k < pcs[i].n_ts && k < PACS_MAX_TS_PER_PC; k++) {
                ts[k] = pcs[i].ts[k];
            }
            c = ASC_addPresentationContext(params, pcs[i].id, pcs[i].abstract_syntax, ts,
                                           (int)pcs[i].n_ts, role_to_dcmtk(pcs[i].role));
        }
        if (c.bad()) {
            ASC_destroyAssociationParameters(&params);
            ASC_dropNetwork(&net);
            return pacs_errf(ei, PACS_EINVAL, "bad association parameters: %s", c.text());
        }
        c = ASC_requestAssociation(net, params, &assoc);
        if (c.bad()) {
            pacs_err code = c == DUL_ASSOCIATIONREJECTED ? PACS_EDENIED : PACS_ENET;
            pacs_errf(ei, code, "association with %s at %s %s: %s", peer_aet, peer,
                      code == PACS_EDENIED ? "rejected" : "failed", c.text());
            if (assoc) {
                ASC_dropAssociation(assoc);
                ASC_destroyAssociation(&assoc);
            } else {
                ASC_destroyAssociationParameters(&params);
            }
            ASC_dropNetwork(&net);
            return code;
        }
        for (size_t i = 0; i < n_pcs; i++) {
            T_ASC_PresentationContext pc;
            pcs[i].accepted = 0;
            pcs[i].accepted_ts[0] = '\0';
            if (ASC_findAcceptedPresentationContext(assoc->params, pcs[i].id, &pc).good()) {
                pcs[i].accepted = pc.resultReason == ASC_P_ACCEPTANCE;
                copy_trimmed(pcs[i].accepted_ts, sizeof pcs[i].accepted_ts,
                             pc.acceptedTransferSyntax);
            }
        }
        pacs_assoc *a = new pacs_assoc();
        a->assoc = assoc;
        a->own_net = net;
        a->acse_timeout = timeout_s;
        a->tls = tls != nullptr;
        *out = a;
        return PACS_OK;
    } catch (...) {
        if (assoc) {
            ASC_destroyAssociation(&assoc);
        }
        if (net) {
            ASC_dropNetwork(&net);
        }
        return pacs_errf(ei, PACS_ENOMEM, "out of memory");
    }
}

pacs_err pacs_assoc_request(const char *our_aet, const char *peer_aet, const char *host, int port,
                            int timeout_s, long max_pdu, pacs_pc *pcs, size_t n_pcs,
                            pacs_assoc **out, pacs_errinfo *ei)
{
    return request(our_aet, peer_aet, host, port, timeout_s, max_pdu, pcs, n_pcs, nullptr, out, ei);
}

pacs_err pacs_assoc_request_tls(const char *our_aet, const char *peer_aet, const char *host,
                                int port, int timeout_s, long max_pdu, pacs_pc *pcs, size_t n_pcs,
                                const pacs_tls_opts *tls, pacs_assoc **out, pacs_errinfo *ei)
{
    return request(our_aet, peer_aet, host, port, timeout_s, max_pdu, pcs, n_pcs, tls, out, ei);
}

uint8_t pacs_assoc_find_pc(const pacs_assoc *a, const char *abstract_syntax, const char *ts)
{
    try {
        if (ts) {
            return ASC_findAcceptedPresentationContextID(a->assoc, abstract_syntax, ts);
        }
        return ASC_findAcceptedPresentationContextID(a->assoc, abstract_syntax);
    } catch (...) {
        return 0;
    }
}

pacs_err pacs_assoc_pc_syntaxes(const pacs_assoc *a, uint8_t id, char *abstract_syntax, char *ts,
                                pacs_errinfo *ei)
{
    try {
        T_ASC_PresentationContext pc;
        if (ASC_findAcceptedPresentationContext(a->assoc->params, id, &pc).bad()) {
            return pacs_errf(ei, PACS_ENOTFOUND, "no accepted presentation context %u", id);
        }
        copy_trimmed(abstract_syntax, PACS_UID_MAX + 1, pc.abstractSyntax);
        copy_trimmed(ts, PACS_UID_MAX + 1, pc.acceptedTransferSyntax);
        return PACS_OK;
    } catch (...) {
        return pacs_errf(ei, PACS_ENOMEM, "out of memory");
    }
}

/* ---- DIMSE messages ---- */

static void set_uid(DIC_UI dst, const char *src)
{
    OFStandard::strlcpy(dst, src, sizeof(DIC_UI));
}

static void set_ae(DIC_AE dst, const char *src)
{
    OFStandard::strlcpy(dst, src, sizeof(DIC_AE));
}

static T_DIMSE_DataSetType ds_type(int has)
{
    return has ? DIMSE_DATASET_PRESENT : DIMSE_DATASET_NULL;
}

static pacs_err to_dcmtk(const pacs_dimse_msg *m, T_DIMSE_Message *d, pacs_errinfo *ei)
{
    memset(d, 0, sizeof *d);
    switch (m->type) {
    case PACS_C_ECHO_RQ:
        d->CommandField = DIMSE_C_ECHO_RQ;
        d->msg.CEchoRQ.MessageID = m->msg_id;
        set_uid(d->msg.CEchoRQ.AffectedSOPClassUID, m->sop_class);
        d->msg.CEchoRQ.DataSetType = DIMSE_DATASET_NULL;
        break;
    case PACS_C_ECHO_RSP:
        d->CommandField = DIMSE_C_ECHO_RSP;
        d->msg.CEchoRSP.MessageIDBeingRespondedTo = m->msg_id;
        set_uid(d->msg.CEchoRSP.AffectedSOPClassUID, m->sop_class);
        d->msg.CEchoRSP.DataSetType = DIMSE_DATASET_NULL;
        d->msg.CEchoRSP.DimseStatus = m->status;
        d->msg.CEchoRSP.opts = O_ECHO_AFFECTEDSOPCLASSUID;
        break;
    case PACS_C_STORE_RQ: {
        T_DIMSE_C_StoreRQ &r = d->msg.CStoreRQ;
        d->CommandField = DIMSE_C_STORE_RQ;
        r.MessageID = m->msg_id;
        set_uid(r.AffectedSOPClassUID, m->sop_class);
        set_uid(r.AffectedSOPInstanceUID, m->sop_instance);
        r.Priority = (T_DIMSE_Priority)m->priority;
        r.DataSetType = DIMSE_DATASET_PRESENT;
        if (m->move_originator_aet[0]) {
            set_ae(r.MoveOriginatorApplicationEntityTitle, m->move_originator_aet);
            r.MoveOriginatorID = m->move_originator_msg_id;
            r.opts = O_STORE_MOVEORIGINATORAETITLE | O_STORE_MOVEORIGINATORID;
        }
        break;
    }
    case PACS_C_STORE_RSP: {
        T_DIMSE_C_StoreRSP &r = d->msg.CStoreRSP;
        d->CommandField = DIMSE_C_STORE_RSP;
        r.MessageIDBeingRespondedTo = m->msg_id;
        set_uid(r.AffectedSOPClassUID, m->sop_class);
        set_uid(r.AffectedSOPInstanceUID, m->sop_instance);
        r.DataSetType = DIMSE_DATASET_NULL;
        r.DimseStatus = m->status;
        r.opts = O_STORE_AFFECTEDSOPCLASSUID | O_STORE_AFFECTEDSOPINSTANCEUID;
        break;
    }
    case PACS_C_FIND_RQ:
        d->CommandField = DIMSE_C_FIND_RQ;
        d->msg.CFindRQ.MessageID = m->msg_id;
        set_uid(d->msg.CFindRQ.AffectedSOPClassUID, m->sop_class);
        d->msg.CFindRQ.Priority = (T_DIMSE_Priority)m->priority;
        d->msg.CFindRQ.DataSetType = DIMSE_DATASET_PRESENT;
        break;
    case PACS_C_FIND_RSP:
        d->CommandField = DIMSE_C_FIND_RSP;
        d->msg.CFindRSP.MessageIDBeingRespondedTo = m->msg_id;
        set_uid(d->msg.CFindRSP.AffectedSOPClassUID, m->sop_class);
        d->msg.CFindRSP.DataSetType = ds_type(m->has_dataset);
        d->msg.CFindRSP.DimseStatus = m->status;
        d->msg.CFindRSP.opts = O_FIND_AFFECTEDSOPCLASSUID;
        break;
    case PACS_C_MOVE_RQ:
        d->CommandField = DIMSE_C_MOVE_RQ;
        d->msg.CMoveRQ.MessageID = m->msg_id;
        set_uid(d->msg.CMoveRQ.AffectedSOPClassUID, m->sop_class);
        d->msg.CMoveRQ.Priority = (T_DIMSE_Priority)m->priority;
        d->msg.CMoveRQ.DataSetType = DIMSE_DATASET_PRESENT;
        set_ae(d->msg.CMoveRQ.MoveDestination, m->move_destination);
        break;
    case PACS_C_MOVE_RSP:
    case PACS_C_GET_RSP: {
        /* C-MOVE-RSP and C-GET-RSP have the same layout. */
        T_DIMSE_C_MoveRSP &r = d->msg.CMoveRSP;
        d->CommandField = m->type == PACS_C_MOVE_RSP ? DIMSE_C_MOVE_RSP : DIMSE_C_GET_RSP;
        r.MessageIDBeingRespondedTo = m->msg_id;
        set_uid(r.AffectedSOPClassUID, m->sop_class);
        r.DataSetType = ds_type(m->has_dataset);
        r.DimseStatus = m->status;
        r.opts = O_MOVE_AFFECTEDSOPCLASSUID;
        if (m->has_counts) {
            r.NumberOfRemainingSubOperations = m->remaining;
            r.NumberOfCompletedSubOperations = m->completed;
            r.NumberOfFailedSubOperations = m->failed;
            r.NumberOfWarningSubOperations = m->warning;
            r.opts |= O_MOVE_NUMBEROFREMAININGSUBOPERATIONS |
                      O_MOVE_NUMBEROFCOMPLETEDSUBOPERATIONS | O_MOVE_NUMBEROFFAILEDSUBOPERATIONS |
                      O_MOVE_NUMBEROFWARNINGSUBOPERATIONS;
            if (m->status == 0x0000 || m->status == 0xB000 || (m->status & 0xF000) == 0xA000 ||
                (m->status & 0xF000) == 0xC000 || m->status == 0xFE00) {
                /* Final responses carry no Remaining count (PS3.7 C.4.2.1.4/C.4.3.1.4). */
                r.opts &= ~O_MOVE_NUMBEROFREMAININGSUBOPERATIONS;
            }
        }
        break;
    }
    case PACS_C_GET_RQ:
        d->CommandField = DIMSE_C_GET_RQ;
        d->msg.CGetRQ.MessageID = m->msg_id;
        set_uid(d->msg.CGetRQ.AffectedSOPClassUID, m->sop_class);
        d->msg.CGetRQ.Priority = (T_DIMSE_Priority)m->priority;
        d->msg.CGetRQ.DataSetType = DIMSE_DATASET_PRESENT;
        break;
    case PACS_C_CANCEL_RQ:
        d->CommandField = DIMSE_C_CANCEL_RQ;
        d->msg.CCancelRQ.MessageIDBeingRespondedTo = m->msg_id;
        d->msg.CCancelRQ.DataSetType = DIMSE_DATASET_NULL;
        break;
    case PACS_N_ACTION_RQ:
        d->CommandField = DIMSE_N_ACTION_RQ;
        d->msg.NActionRQ.MessageID = m->msg_id;
        set_uid(d->msg.NActionRQ.RequestedSOPClassUID, m->sop_class);
        set_uid(d->msg.NActionRQ.RequestedSOPInstanceUID, m->sop_instance);
        d->msg.NActionRQ.ActionTypeID = m->action_type;
        d->msg.NActionRQ.DataSetType = ds_type(m->has_dataset);
        break;
    case PACS_N_ACTION_RSP:
        d->CommandField = DIMSE_N_ACTION_RSP;
        d->msg.NActionRSP.MessageIDBeingRespondedTo = m->msg_id;
        set_uid(d->msg.NActionRSP.AffectedSOPClassUID, m->sop_class);
        set_uid(d->msg.NActionRSP.AffectedSOPInstanceUID, m->sop_instance);
        d->msg.NActionRSP.ActionTypeID = m->action_type;
        d->msg.NActionRSP.DimseStatus = m->status;
        d->msg.NActionRSP.DataSetType = ds_type(m->has_dataset);
        d->msg.NActionRSP.opts = O_NACTION_AFFECTEDSOPCLASSUID | O_NACTION_AFFECTEDSOPINSTANCEUID |
                                 O_NACTION_ACTIONTYPEID;
        break;
    case PACS_N_EVENT_REPORT_RQ:
        d->CommandField = DIMSE_N_EVENT_REPORT_RQ;
        d->msg.NEventReportRQ.MessageID = m->msg_id;
        set_uid(d->msg.NEventReportRQ.AffectedSOPClassUID, m->sop_class);
        set_uid(d->msg.NEventReportRQ.AffectedSOPInstanceUID, m->sop_instance);
        d->msg.NEventReportRQ.EventTypeID = m->event_type;
        d->msg.NEventReportRQ.DataSetType = ds_type(m->has_dataset);
        break;
    case PACS_N_EVENT_REPORT_RSP:
        d->CommandField = DIMSE_N_EVENT_REPORT_RSP;
        d->msg.NEventReportRSP.MessageIDBeingRespondedTo = m->msg_id;
        set_uid(d->msg.NEventReportRSP.AffectedSOPClassUID, m->sop_class);
        set_uid(d->msg.NEventReportRSP.AffectedSOPInstanceUID, m->sop_instance);
        d->msg.NEventReportRSP.EventTypeID = m->event_type;
        d->msg.NEventReportRSP.DimseStatus = m->status;
        d->msg.NEventReportRSP.DataSetType = ds_type(m->has_dataset);
        d->msg.NEventReportRSP.opts = O_NEVENTREPORT_AFFECTEDSOPCLASSUID |
                                      O_NEVENTREPORT_AFFECTEDSOPINSTANCEUID |
                                      O_NEVENTREPORT_EVENTTYPEID;
        break;
    default:
        return pacs_errf(ei, PACS_EINVAL, "cannot send DIMSE message type %d", (int)m->type);
    }
    return PACS_OK;
}

static void from_dcmtk(const T_DIMSE_Message &d, uint8_t pc, pacs_dimse_msg *m)
{
    memset(m, 0, sizeof *m);
    m->pc_id = pc;
    switch (d.CommandField) {
    case DIMSE_C_ECHO_RQ:
        m->type = PACS_C_ECHO_RQ;
        m->msg_id = d.msg.CEchoRQ.MessageID;
        copy_trimmed(m->sop_class, sizeof m->sop_class, d.msg.CEchoRQ.AffectedSOPClassUID);
        break;
    case DIMSE_C_ECHO_RSP:
        m->type = PACS_C_ECHO_RSP;
        m->msg_id = d.msg.CEchoRSP.MessageIDBeingRespondedTo;
        m->status = d.msg.CEchoRSP.DimseStatus;
        break;
    case DIMSE_C_STORE_RQ: {
        const T_DIMSE_C_StoreRQ &r = d.msg.CStoreRQ;
        m->type = PACS_C_STORE_RQ;
        m->msg_id = r.MessageID;
        m->priority = (uint16_t)r.Priority;
        copy_trimmed(m->sop_class, sizeof m->sop_class, r.AffectedSOPClassUID);
        copy_trimmed(m->sop_instance, sizeof m->sop_instance, r.AffectedSOPInstanceUID);
        m->has_dataset = r.DataSetType != DIMSE_DATASET_NULL;
        if (r.opts & O_STORE_MOVEORIGINATORAETITLE) {
            copy_trimmed(m->move_originator_aet, sizeof m->move_originator_aet,
                         r.MoveOriginatorApplicationEntityTitle);
            m->move_originator_msg_id = r.MoveOriginatorID;
        }
        break;
    }
    case DIMSE_C_STORE_RSP:
        m->type = PACS_C_STORE_RSP;
        m->msg_id = d.msg.CStoreRSP.MessageIDBeingRespondedTo;
        m->status = d.msg.CStoreRSP.DimseStatus;
        copy_trimmed(m->sop_class, sizeof m->sop_class, d.msg.CStoreRSP.AffectedSOPClassUID);
        copy_trimmed(m->sop_instance, sizeof m->sop_instance,
                     d.msg.CStoreRSP.AffectedSOPInstanceUID);
        break;
    case DIMSE_C_FIND_RQ:
        m->type = PACS_C_FIND_RQ;
        m->msg_id = d.msg.CFindRQ.MessageID;
        m->priority = (uint16_t)d.msg.CFindRQ.Priority;
        copy_trimmed(m->sop_class, sizeof m->sop_class, d.msg.CFindRQ.AffectedSOPClassUID);
        m->has_dataset = d.msg.CFindRQ.DataSetType != DIMSE_DATASET_NULL;
        break;
    case DIMSE_C_FIND_RSP:
        m->type = PACS_C_FIND_RSP;
        m->msg_id = d.msg.CFindRSP.MessageIDBeingRespondedTo;
        m->status = d.msg.CFindRSP.DimseStatus;
        m->has_dataset = d.msg.CFindRSP.DataSetType != DIMSE_DATASET_NULL;
        break;
    case DIMSE_C_MOVE_RQ:
        m->type = PACS_C_MOVE_RQ;
        m->msg_id = d.msg.CMoveRQ.MessageID;
        m->priority = (uint16_t)d.msg.CMoveRQ.Priority;
        copy_trimmed(m->sop_class, sizeof m->sop_class, d.msg.CMoveRQ.AffectedSOPClassUID);
        copy_trimmed(m->move_destination, sizeof m->move_destination,
                     d.msg.CMoveRQ.MoveDestination);
        m->has_dataset = d.msg.CMoveRQ.DataSetType != DIMSE_DATASET_NULL;
        break;
    case DIMSE_C_MOVE_RSP:
    case DIMSE_C_GET_RSP: {
        const T_DIMSE_C_MoveRSP &r = d.msg.CMoveRSP;
        m->type = d.CommandField == DIMSE_C_MOVE_RSP ? PACS_C_MOVE_RSP : PACS_C_GET_RSP;
        m->msg_id = r.MessageIDBeingRespondedTo;
        m->status = r.DimseStatus;
        m->has_dataset = r.DataSetType != DIMSE_DATASET_NULL;
        m->has_counts = (r.opts & O_MOVE_NUMBEROFCOMPLETEDSUBOPERATIONS) != 0;
        m->remaining = r.NumberOfRemainingSubOperations;
        m->completed = r.NumberOfCompletedSubOperations;
        m->failed = r.NumberOfFailedSubOperations;
        m->warning = r.NumberOfWarningSubOperations;
        break;
    }
    case DIMSE_C_GET_RQ:
        m->type = PACS_C_GET_RQ;
        m->msg_id = d.msg.CGetRQ.MessageID;
        m->priority = (uint16_t)d.msg.CGetRQ.Priority;
        copy_trimmed(m->sop_class, sizeof m->sop_class, d.msg.CGetRQ.AffectedSOPClassUID);
        m->has_dataset = d.msg.CGetRQ.DataSetType != DIMSE_DATASET_NULL;
        break;
    case DIMSE_C_CANCEL_RQ:
        m->type = PACS_C_CANCEL_RQ;
        m->msg_id = d.msg.CCancelRQ.MessageIDBeingRespondedTo;
        m->has_dataset = d.msg.CCancelRQ.DataSetType != DIMSE_DATASET_NULL;
        break;
    case DIMSE_N_ACTION_RQ:
        m->type = PACS_N_ACTION_RQ;
        m->msg_id = d.msg.NActionRQ.MessageID;
        copy_trimmed(m->sop_class, sizeof m->sop_class, d.msg.NActionRQ.RequestedSOPClassUID);
        copy_trimmed(m->sop_instance, sizeof m->sop_instance,
                     d.msg.NActionRQ.RequestedSOPInstanceUID);
        m->action_type = d.msg.NActionRQ.ActionTypeID;
        m->has_dataset = d.msg.NActionRQ.DataSetType != DIMSE_DATASET_NULL;
        break;
    case DIMSE_N_ACTION_RSP:
        m->type = PACS_N_ACTION_RSP;
        m->msg_id = d.msg.NActionRSP.MessageIDBeingRespondedTo;
        m->status = d.msg.NActionRSP.DimseStatus;
        m->has_dataset = d.msg.NActionRSP.DataSetType != DIMSE_DATASET_NULL;
        break;
    case DIMSE_N_EVENT_REPORT_RQ:
        m->type = PACS_N_EVENT_REPORT_RQ;
        m->msg_id = d.msg.NEventReportRQ.MessageID;
        copy_trimmed(m->sop_class, sizeof m->sop_class, d.msg.NEventReportRQ.AffectedSOPClassUID);
        copy_trimmed(m->sop_instance, sizeof m->sop_instance,
                     d.msg.NEventReportRQ.AffectedSOPInstanceUID);
        m->event_type = d.msg.NEventReportRQ.EventTypeID;
        m->has_dataset = d.msg.NEventReportRQ.DataSetType != DIMSE_DATASET_NULL;
        break;
    case DIMSE_N_EVENT_REPORT_RSP:
        m->type = PACS_N_EVENT_REPORT_RSP;
        m->msg_id = d.msg.NEventReportRSP.MessageIDBeingRespondedTo;
        m->status = d.msg.NEventReportRSP.DimseStatus;
        m->has_dataset = d.msg.NEventReportRSP.DataSetType != DIMSE_DATASET_NULL;
        break;
    default:
        m->type = PACS_DIMSE_OTHER;
        break;
    }
}

pacs_err pacs_assoc_recv(pacs_assoc *a, int timeout_s, pacs_dimse_msg *msg, pacs_errinfo *ei)
{
    try {
        T_DIMSE_Message d;
        T_ASC_PresentationContextID pc = 0;
        DcmDataset *detail = nullptr;
        OFCondition c = EC_Normal;
        if (a->stashed) {
            c = a->stash_cond;
            d = a->stash_msg;
            pc = a->stash_pc;
            detail = a->stash_detail;
            a->stashed = false;
            a->stash_detail = nullptr;
        } else {
            c = DIMSE_receiveCommand(a->assoc, DIMSE_NONBLOCKING, timeout_s, &pc, &d, &detail);
        }
        if (c == DUL_PEERREQUESTEDRELEASE) {
            delete detail;
            ASC_acknowledgeRelease(a->assoc);
            return PACS_ECLOSED;
        }
        if (c == DUL_PEERABORTEDASSOCIATION) {
            delete detail;
            return pacs_errf(ei, PACS_ECLOSED, "the peer aborted the association");
        }
        if (c == DIMSE_NODATAAVAILABLE) {
            delete detail;
            return pacs_errf(ei, PACS_ETIMEOUT, "no command within %d s", timeout_s);
        }
        if (c.bad()) {
            delete detail;
            return pacs_errf(ei, PACS_ENET, "receiving a command: %s", c.text());
        }
        from_dcmtk(d, pc, msg);
        if (detail) {
            OFString comment;
            if (detail->findAndGetOFString(DCM_ErrorComment, comment).good()) {
                snprintf(msg->error_comment, sizeof msg->error_comment, "%s", comment.c_str());
            }
            delete detail;
        }
        a->pending_pc = pc;
        return PACS_OK;
    } catch (...) {
        return pacs_errf(ei, PACS_ENOMEM, "out of memory");
    }
}

namespace
{

/* Feeds received PDV bytes to the C sink; after the sink fails it reports not-good, which
 * makes DCMTK drain the rest of the dataset from the network. */
class SinkConsumer : public DcmConsumer
{
  public:
    SinkConsumer(pacs_bytes_sink sink, void *ctx) : sink_(sink), ctx_(ctx), err_(PACS_OK)
    {
        pacs_errinfo_clear(&ei_);
    }
    OFBool good() const override
    {
        return err_ == PACS_OK;
    }
    OFCondition status() const override
    {
        return good() ? EC_Normal : EC_InvalidStream;
    }
    OFBool isFlushed() const override
    {
        return OFTrue;
    }
    offile_off_t avail() const override
    {
        return good() ? (offile_off_t)1 << 30 : 0;
    }
    offile_off_t write(const void *buf, offile_off_t len) override
    {
        if (err_ != PACS_OK) {
            return 0;
        }
        err_ = sink_(ctx_, buf, (size_t)len, &ei_);
        return err_ == PACS_OK ? len : 0;
    }
    void flush() override
    {
    }
    pacs_err err() const
    {
        return err_;
    }
    const pacs_errinfo &info() const
    {
        return ei_;
    }

  private:
    pacs_bytes_sink sink_;
    void *ctx_;
    pacs_err err_;
    pacs_errinfo ei_;
};

class SinkStream : public DcmOutputStream
{
  public:
    explicit SinkStream(SinkConsumer *c) : DcmOutputStream(c)
    {
    }
};

} // namespace

pacs_err pacs_assoc_recv_dataset_raw(pacs_assoc *a, int timeout_s, pacs_bytes_sink sink, void *ctx,
                                     pacs_errinfo *ei)
{
    try {
        SinkConsumer consumer(sink, ctx);
        SinkStream stream(&consumer);
        T_ASC_PresentationContextID pc = 0;
        OFCondition c = DIMSE_receiveDataSetInFile(a->assoc, DIMSE_NONBLOCKING, timeout_s, &pc,
                                                   &stream, nullptr, nullptr);
        if (consumer.err() != PACS_OK) {
            if (ei) {
                *ei = consumer.info();
            }
            /* The sink failed: the dataset was drained, the association is still usable
             * unless the network failed as well. */
            if (c.bad() && c != DIMSE_OUTOFRESOURCES && c.code() != DIMSEC_OUTOFRESOURCES) {
                return pacs_errf(ei, PACS_ENET, "%s (and the network: %s)", consumer.info().msg,
                                 c.text());
            }
            return consumer.err();
        }
        if (c.bad()) {
            return pacs_errf(ei, PACS_ENET, "receiving a dataset: %s", c.text());
        }
        if (pc != a->pending_pc) {
            return pacs_errf(ei, PACS_ENET, "dataset on context %u after a command on %u", pc,
                             a->pending_pc);
        }
        return PACS_OK;
    } catch (...) {
        return pacs_errf(ei, PACS_ENOMEM, "out of memory");
    }
}

pacs_err pacs_assoc_recv_dataset(pacs_assoc *a, int timeout_s, pacs_ds **out, pacs_errinfo *ei)
{
    try {
        T_ASC_PresentationContextID pc = 0;
        DcmDataset *d = nullptr;
        OFCondition c = DIMSE_receiveDataSetInMemory(a->assoc, DIMSE_NONBLOCKING, timeout_s, &pc,
                                                     &d, nullptr, nullptr);
        if (c.bad()) {
            delete d;
            return pacs_errf(ei, PACS_ENET, "receiving a dataset: %s", c.text());
        }
        pacs_ds *ds = pacs_ds__wrap(d);
        if (!ds) {
            return pacs_errf(ei, PACS_ENOMEM, "out of memory");
        }
        *out = ds;
        return PACS_OK;
    } catch (...) {
        return pacs_errf(ei, PACS_ENOMEM, "out of memory");
    }
}

static DcmDataset *status_detail(const pacs_dimse_msg *m)
{
    if (!m->error_comment[0]) {
        return nullptr;
    }
    DcmDataset *d = new DcmDataset;
    char comment[65];
    snprintf(comment, sizeof comment, "%s", m->error_comment);
    d->putAndInsertString(DCM_ErrorComment, comment);
    return d;
}

pacs_err pacs_assoc_send(pacs_assoc *a, const pacs_dimse_msg *msg, const pacs_ds *ds,
                         pacs_errinfo *ei)
{
    try {
        T_DIMSE_Message d;
        pacs_err err = to_dcmtk(msg, &d, ei);
        if (err != PACS_OK) {
            return err;
        }
        DcmDataset *detail = status_detail(msg);
        DcmDataset *data = msg->has_dataset && ds ? pacs_ds__dcmtk((pacs_ds *)ds) : nullptr;
        OFCondition c = DIMSE_sendMessageUsingMemoryData(a->assoc, msg->pc_id, &d, detail, data,
                                                         nullptr, nullptr);
        delete detail;
        if (c.bad()) {
            return pacs_errf(ei, PACS_ENET, "sending a DIMSE message: %s", c.text());
        }
        return PACS_OK;
    } catch (...) {
        return pacs_errf(ei, PACS_ENOMEM, "out of memory");
    }
}

/* Writes the PDVs of one message part (command or dataset) from `data`. */
static OFCondition write_pdv(pacs_assoc *a, uint8_t pc, DUL_DATAPDV type, void *data,
                             unsigned long len, bool last)
{
    DUL_PDV pdv;
    pdv.fragmentLength = len;
    pdv.presentationContextID = pc;
    pdv.pdvType = type;
    pdv.lastPDV = last ? OFTrue : OFFalse;
    pdv.data = data;
    DUL_PDVLIST list;
    memset(&list, 0, sizeof list);
    list.count = 1;
    list.pdv = &pdv;
    return DUL_WritePDVs(&a->assoc->DULassociation, &list);
}

/* The C-STORE-RQ command set (PS3.7 9.3.1.1), in implicit VR little endian as every command. */
static pacs_err send_store_command(pacs_assoc *a, const pacs_dimse_msg *msg, pacs_errinfo *ei)
{
    DcmDataset cmd;
    cmd.putAndInsertString(DCM_AffectedSOPClassUID, msg->sop_class);
    cmd.putAndInsertUint16(DCM_CommandField, 0x0001);
    cmd.putAndInsertUint16(DCM_MessageID, msg->msg_id);
    cmd.putAndInsertUint16(DCM_Priority, msg->priority);
    cmd.putAndInsertUint16(DCM_CommandDataSetType, 0x0000); /* anything but 0x0101: present */
    cmd.putAndInsertString(DCM_AffectedSOPInstanceUID, msg->sop_instance);
    if (msg->move_originator_aet[0]) {
        cmd.putAndInsertString(DCM_MoveOriginatorApplicationEntityTitle, msg->move_originator_aet);
        cmd.putAndInsertUint16(DCM_MoveOriginatorMessageID, msg->move_originator_msg_id);
    }
    cmd.computeGroupLengthAndPadding(EGL_withGL, EPD_noChange, EXS_LittleEndianImplicit,
                                     EET_ExplicitLength);
    unsigned char buf[4096];
    DcmOutputBufferStream out(buf, sizeof buf);
    cmd.transferInit();
    OFCondition c = cmd.write(out, EXS_LittleEndianImplicit, EET_ExplicitLength, nullptr);
    cmd.transferEnd();
    void *data = nullptr;
    offile_off_t len = 0;
    out.flushBuffer(data, len);
    if (c.bad() || len <= 0) {
        return pacs_errf(ei, PACS_EINVAL, "cannot encode the C-STORE command: %s", c.text());
    }
    /* A command is a few hundred bytes; split it anyway if the peer's PDUs are smaller. */
    unsigned long max = a->assoc->sendPDVLength, off = 0, n = (unsigned long)len;
    while (off < n) {
        unsigned long k = n - off < max ? n - off : max;
        c = write_pdv(a, msg->pc_id, DUL_COMMANDPDV, static_cast<unsigned char *>(data) + off, k,
                      off + k == n);
        if (c.bad()) {
            return pacs_errf(ei, PACS_ENET, "sending C-STORE: %s", c.text());
        }
        off += k;
    }
    return PACS_OK;
}

/*
 * Sends the dataset bytes of a stored object unchanged: the command, then the file from
 * `start` to its end in PDVs of the peer's size. Nothing is parsed. Errors before the first
 * byte leaves are PACS_ECORRUPT; after that the association carries a partial message and the
 * error is PACS_ENET.
 */
static pacs_err send_raw(pacs_assoc *a, const pacs_dimse_msg *msg, int fd, uint64_t start,
                         pacs_errinfo *ei)
{
    struct stat st;
    if (fstat(fd, &st) != 0 || (uint64_t)st.st_size <= start) {
        return pacs_errf(ei, PACS_ECORRUPT, "stored object has no dataset");
    }
    uint64_t end = (uint64_t)st.st_size, off = start;
    pacs_err err = send_store_command(a, msg, ei);
    if (err != PACS_OK) {
        return err;
    }
    unsigned long max = a->assoc->sendPDVLength;
    unsigned char *buf = a->assoc->sendPDVBuffer;
    while (off < end) {
        size_t want = end - off < max ? (size_t)(end - off) : (size_t)max;
        size_t got = 0;
        while (got < want) {
            ssize_t r = pread(fd, buf + got, want - got, (off_t)(off + got));
            if (r < 0 && errno == EINTR) {
                continue;
            }
            if (r <= 0) {
                return pacs_errf(ei, PACS_ENET, "reading the stored object mid-send: %s",
                                 r < 0 ? strerror(errno) : "it shrank");
            }
            got += (size_t)r;
        }
        OFCondition c =
            write_pdv(a, msg->pc_id, DUL_DATASETPDV, buf, (unsigned long)want, off + want == end);
        if (c.bad()) {
            return pacs_errf(ei, PACS_ENET, "sending C-STORE: %s", c.text());
        }
        off += want;
    }
    return PACS_OK;
}

/* Reads the meta header of a stored object: its transfer syntax and where the dataset starts. */
static bool stored_syntax(int fd, pacs_meta *m, uint64_t *start)
{
    uint8_t head[8192];
    ssize_t n = pread(fd, head, sizeof head, 0);
    size_t ds = 0;
    if (n <= 0 || pacs_meta_read(head, (size_t)n, m, &ds, nullptr) != PACS_OK) {
        return false;
    }
    *start = ds;
    return true;
}

pacs_err pacs_assoc_send_part10_fd(pacs_assoc *a, const pacs_dimse_msg *msg, int fd,
                                   pacs_errinfo *ei)
{
    try {
        char abstract[PACS_UID_MAX + 1], ts[PACS_UID_MAX + 1];
        pacs_err err = pacs_assoc_pc_syntaxes(a, msg->pc_id, abstract, ts, ei);
        if (err != PACS_OK) {
            return err;
        }
        pacs_meta meta;
        uint64_t start = 0;
        if (!stored_syntax(fd, &meta, &start)) {
            return pacs_errf(ei, PACS_ECORRUPT, "not a Part 10 stream");
        }
        if (strcmp(meta.transfer_syntax_uid, ts) != 0) {
            return pacs_errf(ei, PACS_EUNSUPPORTED, "stream is in %s, the context takes %s",
                             meta.transfer_syntax_uid, ts);
        }
        return send_raw(a, msg, fd, start, ei);
    } catch (...) {
        return pacs_errf(ei, PACS_ENOMEM, "out of memory");
    }
}

int pacs_assoc_cancel_requested(pacs_assoc *a, uint16_t msg_id)
{
    try {
        /* DIMSE_checkForCancelRQ would drop any other command, and a C-CANCEL on another
         * context than the last command's (C-GET: the storage context): look ourselves, by
         * message ID, and keep anything else for the next pacs_assoc_recv. */
        if (a->stashed) {
            return 0;
        }
        T_DIMSE_Message d;
        T_ASC_PresentationContextID pc = 0;
        DcmDataset *detail = nullptr;
        OFCondition c = DIMSE_receiveCommand(a->assoc, DIMSE_NONBLOCKING, 0, &pc, &d, &detail);
        if (c == DIMSE_NODATAAVAILABLE) {
            delete detail;
            return 0;
        }
        if (c.good() && d.CommandField == DIMSE_C_CANCEL_RQ &&
            d.msg.CCancelRQ.MessageIDBeingRespondedTo == msg_id) {
            delete detail;
            return 1;
        }
        a->stashed = true;
        a->stash_cond = c;
        a->stash_msg = d;
        a->stash_pc = pc;
        a->stash_detail = detail;
        return 0;
    } catch (...) {
        return 0;
    }
}

pacs_err pacs_assoc_release(pacs_assoc *a, pacs_errinfo *ei)
{
    try {
        OFCondition c = ASC_releaseAssociation(a->assoc);
        if (c.bad()) {
            return pacs_errf(ei, PACS_ENET, "release: %s", c.text());
        }
        return PACS_OK;
    } catch (...) {
        return pacs_errf(ei, PACS_ENOMEM, "out of memory");
    }
}

namespace
{
/* DcmTransportConnection keeps its socket protected; a member pointer taken through a derived
 * class is the standard way to read it without changing DCMTK. */
struct SocketOf : DcmTransportConnection {
    static DcmNativeSocketType get(DcmTransportConnection *c)
    {
        return (c->*(&SocketOf::getSocket))();
    }
};
} // namespace

void pacs_assoc_shutdown(pacs_assoc *a)
{
    try {
        PRIVATE_ASSOCIATIONKEY *key =
            OFreinterpret_cast(PRIVATE_ASSOCIATIONKEY *, a->assoc->DULassociation);
        if (key && key->connection) {
            shutdown((int)SocketOf::get(key->connection), SHUT_RDWR);
        }
    } catch (...) {
    }
}

void pacs_assoc_abort(pacs_assoc *a)
{
    try {
        ASC_abortAssociation(a->assoc);
    } catch (...) {
    }
}

void pacs_assoc_free(pacs_assoc *a)
{
    if (!a) {
        return;
    }
    try {
        if (a->own_net) {
            ASC_dropAssociation(a->assoc);
            ASC_destroyAssociation(&a->assoc);
            ASC_dropNetwork(&a->own_net);
        } else if (a->rejected) {
            /* After A-ASSOCIATE-RJ there is nothing to wait for (PS3.8 9.1.3), and the
             * thread that rejects is often the one accepting everybody else. */
            ASC_dropAssociation(a->assoc);
            ASC_destroyAssociation(&a->assoc);
        } else {
            ASC_dropSCPAssociation(a->assoc, a->acse_timeout);
            ASC_destroyAssociation(&a->assoc);
        }
    } catch (...) {
    }
    delete a->stash_detail;
    delete a;
}
