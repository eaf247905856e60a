// SPDX-License-Identifier: MIT
/*
 * DIMSE messages behind msg.h: commands mapped field by field between pacs_dimse_msg and
 * DCMTK's T_DIMSE_Message, datasets received into memory or streamed to a caller's sink
 * through a DcmOutputStream whose consumer calls back into C. Each exported function is a
 * try/catch shell.
 */
#include "pacs/dicom/msg.h"
#include "pacs/dicom/dcm_internal.h"
#include "pacs/dicom/net_internal.h"

#include <cstdio>
#include <cstring>

#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmdata/dcostrma.h"
#include "dcmtk/dcmdata/dctk.h"

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
    case PACS_N_CREATE_RQ:
        d->CommandField = DIMSE_N_CREATE_RQ;
        d->msg.NCreateRQ.MessageID = m->msg_id;
        set_uid(d->msg.NCreateRQ.AffectedSOPClassUID, m->sop_class);
        set_uid(d->msg.NCreateRQ.AffectedSOPInstanceUID, m->sop_instance);
        d->msg.NCreateRQ.DataSetType = ds_type(m->has_dataset);
        d->msg.NCreateRQ.opts = m->sop_instance[0] ? O_NCREATE_AFFECTEDSOPINSTANCEUID : 0;
        break;
    case PACS_N_CREATE_RSP:
        d->CommandField = DIMSE_N_CREATE_RSP;
        d->msg.NCreateRSP.MessageIDBeingRespondedTo = m->msg_id;
        set_uid(d->msg.NCreateRSP.AffectedSOPClassUID, m->sop_class);
        set_uid(d->msg.NCreateRSP.AffectedSOPInstanceUID, m->sop_instance);
        d->msg.NCreateRSP.DimseStatus = m->status;
        d->msg.NCreateRSP.DataSetType = ds_type(m->has_dataset);
        d->msg.NCreateRSP.opts = O_NCREATE_AFFECTEDSOPCLASSUID |
                                 (m->sop_instance[0] ? O_NCREATE_AFFECTEDSOPINSTANCEUID : 0);
        break;
    case PACS_N_SET_RQ:
        d->CommandField = DIMSE_N_SET_RQ;
        d->msg.NSetRQ.MessageID = m->msg_id;
        set_uid(d->msg.NSetRQ.RequestedSOPClassUID, m->sop_class);
        set_uid(d->msg.NSetRQ.RequestedSOPInstanceUID, m->sop_instance);
        d->msg.NSetRQ.DataSetType = ds_type(m->has_dataset);
        break;
    case PACS_N_SET_RSP:
        d->CommandField = DIMSE_N_SET_RSP;
        d->msg.NSetRSP.MessageIDBeingRespondedTo = m->msg_id;
        set_uid(d->msg.NSetRSP.AffectedSOPClassUID, m->sop_class);
        set_uid(d->msg.NSetRSP.AffectedSOPInstanceUID, m->sop_instance);
        d->msg.NSetRSP.DimseStatus = m->status;
        d->msg.NSetRSP.DataSetType = ds_type(m->has_dataset);
        d->msg.NSetRSP.opts = O_NSET_AFFECTEDSOPCLASSUID | O_NSET_AFFECTEDSOPINSTANCEUID;
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
        pacs_net__copy_trimmed(m->sop_class, sizeof m->sop_class,
                               d.msg.CEchoRQ.AffectedSOPClassUID);
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
        pacs_net__copy_trimmed(m->sop_class, sizeof m->sop_class, r.AffectedSOPClassUID);
        pacs_net__copy_trimmed(m->sop_instance, sizeof m->sop_instance, r.AffectedSOPInstanceUID);
        m->has_dataset = r.DataSetType != DIMSE_DATASET_NULL;
        if (r.opts & O_STORE_MOVEORIGINATORAETITLE) {
            pacs_net__copy_trimmed(m->move_originator_aet, sizeof m->move_originator_aet,
                                   r.MoveOriginatorApplicationEntityTitle);
            m->move_originator_msg_id = r.MoveOriginatorID;
        }
        break;
    }
    case DIMSE_C_STORE_RSP:
        m->type = PACS_C_STORE_RSP;
        m->msg_id = d.msg.CStoreRSP.MessageIDBeingRespondedTo;
        m->status = d.msg.CStoreRSP.DimseStatus;
        pacs_net__copy_trimmed(m->sop_class, sizeof m->sop_class,
                               d.msg.CStoreRSP.AffectedSOPClassUID);
        pacs_net__copy_trimmed(m->sop_instance, sizeof m->sop_instance,
                               d.msg.CStoreRSP.AffectedSOPInstanceUID);
        break;
    case DIMSE_C_FIND_RQ:
        m->type = PACS_C_FIND_RQ;
        m->msg_id = d.msg.CFindRQ.MessageID;
        m->priority = (uint16_t)d.msg.CFindRQ.Priority;
        pacs_net__copy_trimmed(m->sop_class, sizeof m->sop_class,
                               d.msg.CFindRQ.AffectedSOPClassUID);
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
        pacs_net__copy_trimmed(m->sop_class, sizeof m->sop_class,
                               d.msg.CMoveRQ.AffectedSOPClassUID);
        pacs_net__copy_trimmed(m->move_destination, sizeof m->move_destination,
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
        pacs_net__copy_trimmed(m->sop_class, sizeof m->sop_class, d.msg.CGetRQ.AffectedSOPClassUID);
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
        pacs_net__copy_trimmed(m->sop_class, sizeof m->sop_class,
                               d.msg.NActionRQ.RequestedSOPClassUID);
        pacs_net__copy_trimmed(m->sop_instance, sizeof m->sop_instance,
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
        pacs_net__copy_trimmed(m->sop_class, sizeof m->sop_class,
                               d.msg.NEventReportRQ.AffectedSOPClassUID);
        pacs_net__copy_trimmed(m->sop_instance, sizeof m->sop_instance,
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
    case DIMSE_N_CREATE_RQ:
        m->type = PACS_N_CREATE_RQ;
        m->msg_id = d.msg.NCreateRQ.MessageID;
        pacs_net__copy_trimmed(m->sop_class, sizeof m->sop_class,
                               d.msg.NCreateRQ.AffectedSOPClassUID);
        if (d.msg.NCreateRQ.opts & O_NCREATE_AFFECTEDSOPINSTANCEUID) {
            pacs_net__copy_trimmed(m->sop_instance, sizeof m->sop_instance,
                                   d.msg.NCreateRQ.AffectedSOPInstanceUID);
        }
        m->has_dataset = d.msg.NCreateRQ.DataSetType != DIMSE_DATASET_NULL;
        break;
    case DIMSE_N_CREATE_RSP:
        m->type = PACS_N_CREATE_RSP;
        m->msg_id = d.msg.NCreateRSP.MessageIDBeingRespondedTo;
        m->status = d.msg.NCreateRSP.DimseStatus;
        if (d.msg.NCreateRSP.opts & O_NCREATE_AFFECTEDSOPINSTANCEUID) {
            pacs_net__copy_trimmed(m->sop_instance, sizeof m->sop_instance,
                                   d.msg.NCreateRSP.AffectedSOPInstanceUID);
        }
        m->has_dataset = d.msg.NCreateRSP.DataSetType != DIMSE_DATASET_NULL;
        break;
    case DIMSE_N_SET_RQ:
        m->type = PACS_N_SET_RQ;
        m->msg_id = d.msg.NSetRQ.MessageID;
        pacs_net__copy_trimmed(m->sop_class, sizeof m->sop_class,
                               d.msg.NSetRQ.RequestedSOPClassUID);
        pacs_net__copy_trimmed(m->sop_instance, sizeof m->sop_instance,
                               d.msg.NSetRQ.RequestedSOPInstanceUID);
        m->has_dataset = d.msg.NSetRQ.DataSetType != DIMSE_DATASET_NULL;
        break;
    case DIMSE_N_SET_RSP:
        m->type = PACS_N_SET_RSP;
        m->msg_id = d.msg.NSetRSP.MessageIDBeingRespondedTo;
        m->status = d.msg.NSetRSP.DimseStatus;
        m->has_dataset = d.msg.NSetRSP.DataSetType != DIMSE_DATASET_NULL;
        break;
    default:
        m->type = PACS_DIMSE_OTHER;
        break;
    }
}

pacs_err pacs_msg_recv(pacs_assoc *a, int timeout_s, pacs_dimse_msg *msg, pacs_errinfo *ei)
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

pacs_err pacs_msg_recv_dataset_raw(pacs_assoc *a, int timeout_s, pacs_bytes_sink sink, void *ctx,
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

pacs_err pacs_msg_recv_dataset(pacs_assoc *a, int timeout_s, pacs_ds **out, pacs_errinfo *ei)
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

pacs_err pacs_msg_send(pacs_assoc *a, const pacs_dimse_msg *msg, const pacs_ds *ds,
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

int pacs_msg_cancel_requested(pacs_assoc *a, uint16_t msg_id)
{
    try {
        /* DIMSE_checkForCancelRQ would drop any other command, and a C-CANCEL on another
         * context than the last command's (C-GET: the storage context): look ourselves, by
         * message ID, and keep anything else for the next pacs_msg_recv. */
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
