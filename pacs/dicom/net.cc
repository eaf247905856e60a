// SPDX-License-Identifier: MIT
/*
 * The DICOM port behind net.h. Each exported function is a try/catch shell; DCMTK conditions
 * become pacs_err with the condition text in the detail. The listening socket is DCMTK's, but
 * re-bound to the configured address (DCMTK only binds to all interfaces). The TLS layer made
 * here serves outgoing associations too (assoc.cc).
 */
#include "pacs/dicom/net.h"
#include "pacs/dicom/net_internal.h"

#include <arpa/inet.h>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmnet/dulstruc.h"
#include "dcmtk/dcmtls/tlslayer.h"
#include <openssl/ssl.h>
#include <openssl/x509v3.h>

void pacs_net__copy_trimmed(char *dst, size_t cap, const char *src)
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

DcmTLSTransportLayer *pacs_net__tls_layer(T_ASC_NetworkRole role, const pacs_tls_opts *o,
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
        DcmTLSTransportLayer *layer = pacs_net__tls_layer(NET_ACCEPTOR, tls, nullptr, ei);
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
