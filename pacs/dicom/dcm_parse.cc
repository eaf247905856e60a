// SPDX-License-Identifier: MIT
/*
 * The one parse of a stored object at ingest (dcm.h, pacs_dcm_parse_file): DCMTK reads the
 * dataset without loading large values, the identity is checked (valid SOP Class, SOP
 * Instance, Study and Series UIDs that agree with the meta header), the metadata is built in
 * UTF-8 (dcm_json.cc) and the pixel data and frames are located (part10.c). Every stored
 * instance passes through here once; so does every file `pacs import` probes.
 *
 * Thread-safe: no shared state.
 */
#include "pacs/dicom/dcm.h"
#include "pacs/dicom/dcm_internal.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fcntl.h>
#include <string>
#include <unistd.h>

#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmdata/dcfilefo.h"
#include "dcmtk/dcmdata/dcistrmf.h"
#include "dcmtk/dcmdata/dctk.h"
#include "dcmtk/dcmdata/dcxfer.h"

/* Large values stay in the file while parsing: JSON refers to them by URI. */
static const Uint32 kMaxReadLength = 4096;

/* ---- Ingest parse ---- */

static bool get_uid(DcmItem *ds, const DcmTagKey &key, char *dst, const char *name,
                    pacs_errinfo *ei)
{
    OFString v;
    if (ds->findAndGetOFString(key, v).bad() || v.empty()) {
        pacs_errf(ei, PACS_EBADDATA, "the dataset has no %s", name);
        return false;
    }
    std::string s(v.c_str());
    s.erase(s.find_last_not_of(std::string(1, '\0').append(" ")) + 1); /* npos + 1 is 0 */
    if (!pacs_uid_valid(s.c_str())) {
        pacs_errf(ei, PACS_EBADDATA, "the dataset's %s '%.64s' is not a valid UID", name,
                  s.c_str());
        return false;
    }
    memcpy(dst, s.c_str(), s.size() + 1);
    return true;
}

static pacs_err read_meta_of(const char *path, pacs_meta *m, uint64_t *start, pacs_errinfo *ei)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return pacs_errf(ei, pacs_err_from_errno(errno), "open %s: %s", path, strerror(errno));
    }
    uint8_t buf[8192];
    ssize_t n = pread(fd, buf, sizeof buf, 0);
    close(fd);
    if (n < 0) {
        return pacs_errf(ei, PACS_EIO, "read %s: %s", path, strerror(errno));
    }
    size_t ds_start = 0;
    pacs_err err = pacs_meta_read(buf, (size_t)n, m, &ds_start, ei);
    if (err == PACS_EAGAIN) {
        /* The whole file was read and the meta header did not end with a dataset element. */
        return pacs_errf(ei, PACS_EBADDATA,
                         (size_t)n < sizeof buf ? "the dataset is empty (nothing after the meta "
                                                  "header)"
                                                : "truncated meta header");
    }
    if (err == PACS_OK) {
        *start = ds_start;
    }
    return err;
}

pacs_err pacs_dcm_parse_file(const char *path, pacs_dcm_parsed *out, pacs_errinfo *ei)
{
    pacs_dcm_parsed p;
    memset(&p, 0, sizeof p);
    int fd = -1;
    try {
        uint64_t ds_start = 0;
        pacs_err err = read_meta_of(path, &p.meta, &ds_start, ei);
        if (err != PACS_OK) {
            return err;
        }
        const pacs_meta header = p.meta; /* the identity the header states, to compare below */
        E_TransferSyntax xfer = DcmXfer(p.meta.transfer_syntax_uid).getXfer();
        if (xfer == EXS_Unknown) {
            if (!pacs_dcm__ts_is_htj2k(p.meta.transfer_syntax_uid)) {
                return pacs_errf(ei, PACS_EUNSUPPORTED, "unknown transfer syntax %s",
                                 p.meta.transfer_syntax_uid);
            }
            xfer = EXS_LittleEndianExplicit; /* HTJ2K: explicit LE with encapsulated pixels */
        }
        DcmFileFormat ff;
        OFCondition c = ff.loadFile(OFFilename(path), EXS_Unknown, EGL_noChange, kMaxReadLength,
                                    ERM_autoDetect);
        if (c.bad()) {
            /* DCMTK reads the meta's transfer syntax; for HTJ2K it must be told. */
            DcmInputFileStream in(OFFilename(path), (offile_off_t)ds_start);
            DcmDataset *dset = ff.getDataset();
            if (!pacs_dcm__ts_is_htj2k(p.meta.transfer_syntax_uid) || !in.good()) {
                return pacs_errf(ei, PACS_EBADDATA, "cannot parse the dataset: %s", c.text());
            }
            dset->clear();
            dset->transferInit();
            c = dset->read(in, xfer, EGL_noChange, kMaxReadLength);
            dset->transferEnd();
            if (c.bad()) {
                return pacs_errf(ei, PACS_EBADDATA, "cannot parse the dataset: %s", c.text());
            }
        }
        DcmDataset *ds = ff.getDataset();
        if (ds->card() == 0) {
            return pacs_errf(ei, PACS_EBADDATA, "the dataset is empty");
        }
        if (!get_uid(ds, DCM_SOPClassUID, p.meta.sop_class_uid, "SOP Class UID", ei) ||
            !get_uid(ds, DCM_SOPInstanceUID, p.meta.sop_instance_uid, "SOP Instance UID", ei) ||
            !get_uid(ds, DCM_StudyInstanceUID, p.study_uid, "Study Instance UID", ei) ||
            !get_uid(ds, DCM_SeriesInstanceUID, p.series_uid, "Series Instance UID", ei)) {
            return ei ? ei->code : PACS_EBADDATA;
        }
        /* The essence first: a DIMSE error comment keeps only 64 characters. */
        if (strcmp(header.sop_class_uid, p.meta.sop_class_uid) != 0) {
            return pacs_errf(ei, PACS_EBADDATA,
                             "SOP Class UID differs from the request: dataset %s, request %s",
                             p.meta.sop_class_uid, header.sop_class_uid);
        }
        if (strcmp(header.sop_instance_uid, p.meta.sop_instance_uid) != 0) {
            return pacs_errf(ei, PACS_EBADDATA,
                             "SOP Instance UID differs from the request: dataset %s, request %s",
                             p.meta.sop_instance_uid, header.sop_instance_uid);
        }
        bool repaired = false;
        std::string what = std::string("sop=") + p.meta.sop_instance_uid;
        p.json = pacs_dcm__dataset_json(ds, true, what.c_str(), &repaired);
        if (!p.json) {
            return pacs_errf(ei, PACS_ENOMEM, "out of memory building metadata");
        }
        p.charset_warning = repaired;

        DcmElement *pixel = nullptr;
        bool has_pixels = ds->findAndGetElement(DCM_PixelData, pixel, OFFalse).good();
        if (has_pixels) {
            Sint32 frames = 1;
            if (ds->findAndGetSint32(DCM_NumberOfFrames, frames).bad() || frames < 1) {
                frames = 1;
            }
            p.n_frames = (uint32_t)frames;
            Uint16 rows = 0, cols = 0, spp = 1, bits = 0;
            ds->findAndGetUint16(DCM_Rows, rows);
            ds->findAndGetUint16(DCM_Columns, cols);
            ds->findAndGetUint16(DCM_SamplesPerPixel, spp);
            ds->findAndGetUint16(DCM_BitsAllocated, bits);
            uint64_t frame_size = 0;
            if (bits % 8 == 0) {
                frame_size = (uint64_t)rows * cols * (spp ? spp : 1) * (bits / 8);
            }
            fd = open(path, O_RDONLY | O_CLOEXEC);
            if (fd < 0) {
                err = pacs_errf(ei, PACS_EIO, "open %s: %s", path, strerror(errno));
                goto fail;
            }
            err = pacs_pixel_layout_scan(fd, ds_start, p.meta.transfer_syntax_uid, &p.pixels, ei);
            if (err == PACS_OK) {
                err = pacs_pixel_layout_map_frames(&p.pixels, p.n_frames, frame_size, ei);
            }
            close(fd);
            fd = -1;
            if (err != PACS_OK) {
                goto fail;
            }
        }
        *out = p;
        return PACS_OK;
    fail:
        pacs_dcm_parsed_clear(&p);
        return err;
    } catch (...) {
        if (fd >= 0) {
            close(fd);
        }
        pacs_dcm_parsed_clear(&p);
        return pacs_errf(ei, PACS_ENOMEM, "out of memory parsing %s", path);
    }
}

void pacs_dcm_parsed_clear(pacs_dcm_parsed *p)
{
    if (!p) {
        return;
    }
    json_decref(p->json);
    pacs_pixel_layout_clear(&p->pixels);
    memset(p, 0, sizeof *p);
}

bool pacs_dcm_has_dicm_prefix(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return false;
    }
    char magic[4];
    bool yes = pread(fd, magic, 4, 128) == 4 && memcmp(magic, "DICM", 4) == 0;
    close(fd);
    return yes;
}

/* The probe reads up to the SOP Instance UID (0008,0018) and stops at the next tag: the rest of
 * the dataset is parsed once, by the ingest that follows (pacs_dcm_parse_file), which refuses
 * what is broken further on. A whole parse here cost as much as that one (callgrind, pacs import
 * of small files). */
static const DcmTagKey kAfterIdentity(0x0008, 0x0019);

pacs_err pacs_dcm_probe_file(const char *path, pacs_meta *out, uint64_t *dataset_start,
                             pacs_errinfo *ei)
{
    try {
        pacs_meta m;
        memset(&m, 0, sizeof m);
        uint64_t start = 0;
        pacs_errinfo sub;
        DcmFileFormat ff;
        DcmDataset *ds = ff.getDataset();
        pacs_err err = read_meta_of(path, &m, &start, &sub);
        if (err == PACS_OK) {
            /* The meta header says how the dataset is encoded; the dataset says what it is. A
             * header that disagrees with its dataset is packaging gone wrong (storescu, too,
             * sends what the dataset says). */
            E_TransferSyntax xfer = DcmXfer(m.transfer_syntax_uid).getXfer();
            if (xfer == EXS_Unknown) {
                if (!pacs_dcm__ts_is_htj2k(m.transfer_syntax_uid)) {
                    return pacs_errf(ei, PACS_EUNSUPPORTED, "unknown transfer syntax %s",
                                     m.transfer_syntax_uid);
                }
                xfer = EXS_LittleEndianExplicit;
            }
            DcmInputFileStream in(OFFilename(path), (offile_off_t)start);
            if (!in.good()) {
                return pacs_errf(ei, PACS_EIO, "cannot read %s", path);
            }
            ds->transferInit();
            OFCondition c =
                ds->readUntilTag(in, xfer, EGL_noChange, kMaxReadLength, kAfterIdentity);
            ds->transferEnd();
            if (c.bad()) {
                return pacs_errf(ei, PACS_EBADDATA, "cannot parse the dataset: %s", c.text());
            }
        } else if (pacs_dcm_has_dicm_prefix(path)) {
            if (ei) {
                *ei = sub;
            }
            return err == PACS_EAGAIN ? PACS_EBADDATA : err;
        } else {
            /* No meta header: let DCMTK guess the encoding of a bare dataset. */
            OFCondition c = ff.loadFileUntilTag(OFFilename(path), EXS_Unknown, EGL_noChange,
                                                kMaxReadLength, ERM_dataset, kAfterIdentity);
            if (c.bad()) {
                return pacs_errf(ei, PACS_EBADDATA, "not a DICOM file: %s", c.text());
            }
            const char *ts = DcmXfer(ds->getOriginalXfer()).getXferID();
            if (!ts || !*ts) {
                return pacs_errf(ei, PACS_EBADDATA, "cannot tell the dataset's transfer syntax");
            }
            snprintf(m.transfer_syntax_uid, sizeof m.transfer_syntax_uid, "%s", ts);
        }
        if (!get_uid(ds, DCM_SOPClassUID, m.sop_class_uid, "SOP Class UID", ei) ||
            !get_uid(ds, DCM_SOPInstanceUID, m.sop_instance_uid, "SOP Instance UID", ei)) {
            return ei ? ei->code : PACS_EBADDATA;
        }
        *out = m;
        *dataset_start = start;
        return PACS_OK;
    } catch (...) {
        return pacs_errf(ei, PACS_ENOMEM, "out of memory reading %s", path);
    }
}
