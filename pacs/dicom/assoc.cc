// SPDX-License-Identifier: MIT
/*
 * Associations behind assoc.h: what the peer is, presentation contexts as DCMTK negotiates them
 * (acceptor and requestor), and the end of an association. Each exported function is a
 * try/catch shell; DCMTK conditions become pacs_err with the condition text in the detail.
 */
#include "pacs/dicom/assoc.h"
#include "pacs/dicom/net_internal.h"

#include <cstdio>
#include <cstring>
#include <sys/socket.h>

#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmnet/dcmtrans.h"
#include "dcmtk/dcmnet/dulstruc.h"
#include "dcmtk/dcmtls/tlslayer.h"
#include <openssl/x509v3.h>

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
    pacs_net__copy_trimmed(out->calling_aet, sizeof out->calling_aet, p->DULparams.callingAPTitle);
    pacs_net__copy_trimmed(out->called_aet, sizeof out->called_aet, p->DULparams.calledAPTitle);
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
    pacs_net__copy_trimmed(out->abstract_syntax, sizeof out->abstract_syntax, pc.abstractSyntax);
    size_t n = pc.transferSyntaxCount;
    if (n > PACS_MAX_TS_PER_PC) {
        n = PACS_MAX_TS_PER_PC;
    }
    for (size_t i = 0; i < n; i++) {
        pacs_net__copy_trimmed(out->ts[i], sizeof out->ts[i], pc.proposedTransferSyntaxes[i]);
    }
    out->n_ts = n;
    out->role = role_from_dcmtk(pc.proposedRole);
    out->accepted = pc.resultReason == ASC_P_ACCEPTANCE;
    pacs_net__copy_trimmed(out->accepted_ts, sizeof out->accepted_ts, pc.acceptedTransferSyntax);
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
            DcmTLSTransportLayer *layer = pacs_net__tls_layer(NET_REQUESTOR, tls, host, ei);
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
                pacs_net__copy_trimmed(pcs[i].accepted_ts, sizeof pcs[i].accepted_ts,
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
        pacs_net__copy_trimmed(abstract_syntax, PACS_UID_MAX + 1, pc.abstractSyntax);
        pacs_net__copy_trimmed(ts, PACS_UID_MAX + 1, pc.acceptedTransferSyntax);
        return PACS_OK;
    } catch (...) {
        return pacs_errf(ei, PACS_ENOMEM, "out of memory");
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
