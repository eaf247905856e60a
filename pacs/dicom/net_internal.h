// SPDX-License-Identifier: MIT
/*
 * Shared by the C++ files behind net.h, assoc.h, msg.h and send.h only: the DCMTK objects behind
 * a pacs_net and a pacs_assoc, and the helpers more than one of those files needs.
 */
#ifndef PACS_DICOM_NET_INTERNAL_H
#define PACS_DICOM_NET_INTERNAL_H

#ifndef __cplusplus
#error "net_internal.h is for the C++ side of pacs/dicom"
#endif

#include <cstddef>
#include <cstdint>

#include "pacs/dicom/assoc.h"

#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmnet/assoc.h"
#include "dcmtk/dcmnet/dimse.h"

class DcmTLSTransportLayer;

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

/** Copies a DICOM string field without its leading and trailing blanks (and NUL padding). */
void pacs_net__copy_trimmed(char *dst, size_t cap, const char *src);

/**
 * A dcmtls layer set up from `o` (net.cc); nullptr with `ei` filled (PACS_EINVAL) on failure. A
 * requestor's layer (`peer_host` set) also checks that the peer's certificate names that host or
 * address.
 */
DcmTLSTransportLayer *pacs_net__tls_layer(T_ASC_NetworkRole role, const pacs_tls_opts *o,
                                          const char *peer_host, pacs_errinfo *ei);

#endif
