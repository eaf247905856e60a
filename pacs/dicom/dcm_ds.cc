// SPDX-License-Identifier: MIT
/*
 * Small in-memory datasets behind pacs_ds (dcm.h): DIMSE identifiers and responses, and the
 * test studies the generator writes (binary values, saving with DCMTK's lossless encoders).
 * Not on the ingest path.
 *
 * Thread-safe: distinct handles may be used from distinct threads at once; DCMTK's encoders
 * are registered once, by pacs_dcm_init() (codec.cc).
 */
#include "pacs/dicom/dcm.h"
#include "pacs/dicom/dcm_internal.h"

#include <cstring>
#include <new>

#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmdata/dcfilefo.h"
#include "dcmtk/dcmdata/dcpixel.h"
#include "dcmtk/dcmdata/dctk.h"
#include "dcmtk/dcmdata/dcxfer.h"
#include "dcmtk/dcmjpeg/djrplol.h"
#include "dcmtk/dcmjpls/djrparam.h"

struct pacs_ds {
    DcmDataset *ds;
};

/* ---- Small datasets ---- */

DcmDataset *pacs_ds__dcmtk(pacs_ds *ds)
{
    return ds ? ds->ds : nullptr;
}

pacs_ds *pacs_ds__wrap(DcmDataset *d)
{
    pacs_ds *ds = new (std::nothrow) pacs_ds;
    if (!ds) {
        delete d;
        return nullptr;
    }
    ds->ds = d;
    return ds;
}

pacs_ds *pacs_ds_new(void)
{
    try {
        return pacs_ds__wrap(new DcmDataset);
    } catch (...) {
        return nullptr;
    }
}

void pacs_ds_free(pacs_ds *ds)
{
    if (!ds) {
        return;
    }
    delete ds->ds;
    delete ds;
}

pacs_err pacs_ds_to_json(const pacs_ds *ds, json_t **out, pacs_errinfo *ei)
{
    try {
        DcmDataset copy(*ds->ds); /* converting to UTF-8 changes the dataset */
        bool repaired = false;
        json_t *j = pacs_dcm__dataset_json(&copy, false, "identifier", &repaired);
        if (!j) {
            return pacs_errf(ei, PACS_ENOMEM, "out of memory");
        }
        *out = j;
        return PACS_OK;
    } catch (...) {
        return pacs_errf(ei, PACS_ENOMEM, "out of memory");
    }
}

pacs_err pacs_ds_from_json(const json_t *obj, pacs_ds **out, pacs_errinfo *ei)
{
    try {
        if (!json_is_object(obj)) {
            return pacs_errf(ei, PACS_EINVAL, "DICOM JSON must be an object");
        }
        DcmDataset *d = new DcmDataset;
        pacs_err err = pacs_dcm__json_to_dataset(obj, d, ei);
        if (err != PACS_OK) {
            delete d;
            return err;
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

pacs_err pacs_ds_load_file(const char *path, pacs_ds **out, pacs_errinfo *ei)
{
    try {
        DcmFileFormat ff;
        OFCondition c = ff.loadFile(OFFilename(path));
        if (c.bad()) {
            return pacs_errf(ei, PACS_EBADDATA, "cannot read %s: %s", path, c.text());
        }
        pacs_ds *ds = pacs_ds__wrap(new DcmDataset(*ff.getDataset()));
        if (!ds) {
            return pacs_errf(ei, PACS_ENOMEM, "out of memory");
        }
        *out = ds;
        return PACS_OK;
    } catch (...) {
        return pacs_errf(ei, PACS_ENOMEM, "out of memory");
    }
}

pacs_err pacs_ds_put_string(pacs_ds *ds, uint32_t tag, const char *value, pacs_errinfo *ei)
{
    try {
        DcmTag t((Uint16)(tag >> 16), (Uint16)(tag & 0xFFFF));
        OFCondition c = ds->ds->putAndInsertString(t, value);
        if (c.bad()) {
            return pacs_errf(ei, PACS_EINVAL, "cannot set (%04X,%04X): %s", tag >> 16, tag & 0xFFFF,
                             c.text());
        }
        return PACS_OK;
    } catch (...) {
        return pacs_errf(ei, PACS_ENOMEM, "out of memory");
    }
}

pacs_err pacs_ds_get_string(const pacs_ds *ds, uint32_t tag, char **out, pacs_errinfo *ei)
{
    try {
        OFString v;
        DcmTagKey k((Uint16)(tag >> 16), (Uint16)(tag & 0xFFFF));
        if (ds->ds->findAndGetOFStringArray(k, v).bad()) {
            return pacs_errf(ei, PACS_ENOTFOUND, "(%04X,%04X) not present", tag >> 16,
                             tag & 0xFFFF);
        }
        char *s = strdup(v.c_str());
        if (!s) {
            return pacs_errf(ei, PACS_ENOMEM, "out of memory");
        }
        *out = s;
        return PACS_OK;
    } catch (...) {
        return pacs_errf(ei, PACS_ENOMEM, "out of memory");
    }
}

pacs_err pacs_ds_put_binary(pacs_ds *ds, uint32_t tag, const char *vr, const void *data, size_t len,
                            pacs_errinfo *ei)
{
    try {
        int ow = strcmp(vr, "OW") == 0;
        if ((!ow && strcmp(vr, "OB") != 0) || (ow && len % 2 != 0) || len > 0xFFFFFFFEu) {
            return pacs_errf(ei, PACS_EINVAL, "bad binary value for (%04X,%04X): %s, %zu bytes",
                             tag >> 16, tag & 0xFFFF, vr, len);
        }
        DcmTag t((Uint16)(tag >> 16), (Uint16)(tag & 0xFFFF));
        t.setVR(ow ? EVR_OW : EVR_OB);
        /* Pixel Data must be a DcmPixelData for its representation to be changeable. */
        DcmElement *e = tag == 0x7FE00010u ? static_cast<DcmElement *>(new DcmPixelData(t))
                                           : new DcmOtherByteOtherWord(t);
        OFCondition c =
            ow ? e->putUint16Array(static_cast<const Uint16 *>(data), (unsigned long)(len / 2))
               : e->putUint8Array(static_cast<const Uint8 *>(data), (unsigned long)len);
        if (c.good()) {
            c = ds->ds->insert(e, OFTrue);
        }
        if (c.bad()) {
            delete e;
            return pacs_errf(ei, PACS_EINVAL, "cannot set (%04X,%04X): %s", tag >> 16, tag & 0xFFFF,
                             c.text());
        }
        return PACS_OK;
    } catch (...) {
        return pacs_errf(ei, PACS_ENOMEM, "out of memory");
    }
}

pacs_err pacs_ds_save_file(pacs_ds *ds, const char *path, const char *ts_uid, pacs_errinfo *ei)
{
    try {
        E_TransferSyntax xfer = DcmXfer(ts_uid).getXfer();
        OFCondition c = EC_Normal;
        switch (xfer) {
        case EXS_LittleEndianImplicit:
        case EXS_LittleEndianExplicit:
        case EXS_BigEndianExplicit:
            break;
        case EXS_JPEGProcess14SV1: {
            DJ_RPLossless param;
            c = ds->ds->chooseRepresentation(xfer, &param);
            break;
        }
        case EXS_JPEGLSLossless: {
            DJLSRepresentationParameter param(2, OFTrue);
            c = ds->ds->chooseRepresentation(xfer, &param);
            break;
        }
        case EXS_RLELossless:
            c = ds->ds->chooseRepresentation(xfer, nullptr);
            break;
        default:
            return pacs_errf(ei, PACS_EUNSUPPORTED, "cannot write transfer syntax %s", ts_uid);
        }
        if (c.bad() || !ds->ds->canWriteXfer(xfer)) {
            return pacs_errf(ei, PACS_EUNSUPPORTED, "cannot encode pixel data as %s: %s", ts_uid,
                             c.bad() ? c.text() : "no encoder");
        }
        /* A shallow file format borrows the dataset; it is taken back before returning. */
        DcmFileFormat ff(ds->ds, OFFalse);
        c = ff.saveFile(OFFilename(path), xfer, EET_ExplicitLength, EGL_recalcGL, EPD_noChange, 0,
                        0, EWM_createNewMeta);
        ds->ds = ff.getAndRemoveDataset();
        if (c.bad()) {
            return pacs_errf(ei, PACS_EIO, "cannot write %s: %s", path, c.text());
        }
        return PACS_OK;
    } catch (...) {
        return pacs_errf(ei, PACS_ENOMEM, "out of memory");
    }
}
