// SPDX-License-Identifier: MIT
/*
 * A C-STORE-RQ from a Part 10 stream (send.h): the command set encoded by DCMTK, then the
 * dataset bytes read with pread straight into DCMTK's PDV buffer and written as PDVs, nothing
 * parsed. Each exported function is a try/catch shell.
 */
#include "pacs/dicom/send.h"
#include "pacs/dicom/net_internal.h"

#include <cerrno>
#include <cstring>
#include <sys/stat.h>
#include <unistd.h>

#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmdata/dcostrmb.h"
#include "dcmtk/dcmdata/dctk.h"
#include "dcmtk/dcmnet/dulstruc.h"

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

pacs_err pacs_send_part10(pacs_assoc *a, const pacs_dimse_msg *msg, int fd, pacs_errinfo *ei)
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
