// SPDX-License-Identifier: MIT
/*
 * DCMTK's pixel codecs behind codec.h. Each call builds a small dataset of its own around one
 * frame (the Image Pixel attributes plus a one-frame pixel sequence) and asks DCMTK to change
 * its representation, so a frame is decoded from its own bytes and nothing else is read.
 * DCMTK's codecs (decoders and encoders) are registered here and nowhere else, once, by
 * pacs_dcm_init(), with the parameters the transcoder needs (no new SOP Instance UID inside the
 * codec: the caller decides; no colour conversion for lossless). Besides the codecs, this file
 * re-encodes whole objects between the syntaxes that need no codec (pacs_codec_recode).
 * Every exported function is a try/catch shell. Thread-safe: no shared mutable state besides
 * the one-time registration.
 */
#include "pacs/dicom/codec.h"
#include "pacs/dicom/charset_dcmtk.h"
#include "pacs/dicom/dcm.h"
#include "pacs/dicom/dcm_internal.h"
#include "pacs/dicom/part10.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <fcntl.h>
#include <unistd.h>

#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmdata/dcfilefo.h"
#include "dcmtk/dcmdata/dcistrmf.h"
#include "dcmtk/dcmdata/dcostrma.h"
#include "dcmtk/dcmdata/dcostrmb.h"
#include "dcmtk/dcmdata/dcpixel.h"
#include "dcmtk/dcmdata/dcpixseq.h"
#include "dcmtk/dcmdata/dcpxitem.h"
#include "dcmtk/dcmdata/dcrledrg.h"
#include "dcmtk/dcmdata/dcrleerg.h"
#include "dcmtk/dcmdata/dcrlerp.h"
#include "dcmtk/dcmdata/dctk.h"
#include "dcmtk/dcmdata/dcuid.h"
#include "dcmtk/dcmdata/dcxfer.h"
#include "dcmtk/dcmjpeg/djdecode.h"
#include "dcmtk/dcmjpeg/djencode.h"
#include "dcmtk/dcmjpeg/djrplol.h"
#include "dcmtk/dcmjpeg/djrploss.h"
#include "dcmtk/dcmjpls/djdecode.h"
#include "dcmtk/dcmjpls/djencode.h"
#include "dcmtk/dcmjpls/djrparam.h"
/* Colour images for DCMTK's lossy JPEG encoder, which renders through DicomImage. */
#include "dcmtk/dcmimage/diregist.h"

/* Derived objects (lossy transcodes) get UIDs under our root. */
#define DERIVED_UID_ROOT "1.2.826.0.1.3680043.10.1347.5"

/* Values larger than this stay in the file while reading attributes. */
#define LAZY_VALUE_MAX 4096

static std::once_flag codecs_once;

void pacs_codec__register(void)
{
    std::call_once(codecs_once, [] {
        DJDecoderRegistration::registerCodecs();
        DJLSDecoderRegistration::registerCodecs();
        DcmRLEDecoderRegistration::registerCodecs();
        /* YCbCr only for lossy JPEG; keep SOP Instance UIDs (the transcoder decides). */
        DJEncoderRegistration::registerCodecs(ECC_lossyYCbCr, EUC_never, OFTrue);
        DJLSEncoderRegistration::registerCodecs(0, 0, 0, 0, OFTrue, 0, OFTrue, EJLSUC_never);
        DcmRLEEncoderRegistration::registerCodecs(OFFalse);
    });
}

static E_TransferSyntax xfer_of(const char *uid)
{
    if (!uid) {
        return EXS_Unknown;
    }
    DcmXfer x(uid);
    return x.getXfer();
}

static bool is_one_of(const char *uid, const char *const *list)
{
    for (; uid && *list; list++) {
        if (strcmp(uid, *list) == 0) {
            return true;
        }
    }
    return false;
}

static const char *const decodable[] = {PACS_TS_RLE,
                                        PACS_TS_JPEG_BASELINE,
                                        PACS_TS_JPEG_EXTENDED,
                                        PACS_TS_JPEG_LOSSLESS,
                                        PACS_TS_JPEG_LOSSLESS_SV1,
                                        PACS_TS_JPEGLS_LOSSLESS,
                                        PACS_TS_JPEGLS_NEAR,
                                        "1.2.840.10008.1.2.4.53",
                                        "1.2.840.10008.1.2.4.55",
                                        nullptr};

static const char *const encodable[] = {PACS_TS_RLE,
                                        PACS_TS_JPEG_BASELINE,
                                        PACS_TS_JPEG_EXTENDED,
                                        PACS_TS_JPEG_LOSSLESS,
                                        PACS_TS_JPEG_LOSSLESS_SV1,
                                        PACS_TS_JPEGLS_LOSSLESS,
                                        PACS_TS_JPEGLS_NEAR,
                                        nullptr};

extern "C" int pacs_codec_can_decode(const char *ts_uid)
{
    return is_one_of(ts_uid, decodable);
}

extern "C" int pacs_codec_can_encode(const char *ts_uid)
{
    return is_one_of(ts_uid, encodable);
}

static size_t frame_bytes(const pacs_codec_image *img)
{
    return (size_t)img->rows * img->cols * img->samples * (img->bits_allocated / 8u);
}

static bool image_ok(const pacs_codec_image *img)
{
    return img->rows > 0 && img->cols > 0 && (img->samples == 1 || img->samples == 3) &&
           (img->bits_allocated == 8 || img->bits_allocated == 16 || img->bits_allocated == 32) &&
           img->bits_stored >= 1 && img->bits_stored <= img->bits_allocated &&
           img->high_bit < img->bits_allocated && img->pixel_rep <= 1;
}

/* The Image Pixel attributes of `img` in `ds`, with planar configuration 0. */
static OFCondition put_image(DcmItem &ds, const pacs_codec_image *img)
{
    OFCondition c = ds.putAndInsertUint16(DCM_Rows, img->rows);
    if (c.good()) {
        c = ds.putAndInsertUint16(DCM_Columns, img->cols);
    }
    if (c.good()) {
        c = ds.putAndInsertUint16(DCM_SamplesPerPixel, img->samples);
    }
    if (c.good()) {
        c = ds.putAndInsertUint16(DCM_BitsAllocated, img->bits_allocated);
    }
    if (c.good()) {
        c = ds.putAndInsertUint16(DCM_BitsStored, img->bits_stored);
    }
    if (c.good()) {
        c = ds.putAndInsertUint16(DCM_HighBit, img->high_bit);
    }
    if (c.good()) {
        c = ds.putAndInsertUint16(DCM_PixelRepresentation, img->pixel_rep);
    }
    if (c.good()) {
        c = ds.putAndInsertString(DCM_PhotometricInterpretation, img->photometric);
    }
    if (c.good() && img->samples > 1) {
        c = ds.putAndInsertUint16(DCM_PlanarConfiguration, 0);
    }
    if (c.good()) {
        c = ds.putAndInsertString(DCM_NumberOfFrames, "1");
    }
    return c;
}

static void copy_pi(char dst[17], const OFString &s)
{
    snprintf(dst, 17, "%s", s.c_str());
}

extern "C" pacs_err pacs_codec_decode(const char *ts_uid, const pacs_codec_image *img,
                                      const uint8_t *data, size_t len, uint8_t *out, size_t cap,
                                      char photometric_out[17], pacs_errinfo *ei)
{
    try {
        if (!pacs_codec_can_decode(ts_uid)) {
            return pacs_errf(ei, PACS_EUNSUPPORTED, "no DCMTK decoder for transfer syntax %s",
                             ts_uid ? ts_uid : "(none)");
        }
        if (!image_ok(img)) {
            return pacs_errf(ei, PACS_EBADDATA, "image attributes out of range");
        }
        size_t need = frame_bytes(img);
        if (cap < need || need > 0xFFFFFFF0u) {
            return pacs_errf(ei, PACS_EINVAL, "frame buffer too small (%zu < %zu)", cap, need);
        }
        if (len == 0 || len > 0xFFFFFFF0u) {
            return pacs_errf(ei, PACS_EBADDATA, "compressed frame of %zu bytes", len);
        }
        DcmDataset ds;
        OFCondition c = put_image(ds, img);
        if (c.bad()) {
            return pacs_errf(ei, PACS_EBADDATA, "image attributes: %s", c.text());
        }
        /* Fragments have even length; a stray odd length (fuzzed input) gets a pad byte. */
        size_t even = len + (len & 1u);
        Uint8 *copy = new Uint8[even];
        memcpy(copy, data, len);
        if (even != len) {
            copy[len] = 0;
        }
        DcmPixelItem *frag = new DcmPixelItem(DCM_PixelItemTag);
        c = frag->putUint8Array(copy, (Uint32)even);
        delete[] copy;
        DcmPixelSequence *seq = new DcmPixelSequence(DCM_PixelSequenceTag);
        seq->insert(new DcmPixelItem(DCM_PixelItemTag)); /* empty Basic Offset Table */
        seq->insert(frag);
        DcmPixelData *pd = new DcmPixelData(DCM_PixelData);
        pd->putOriginalRepresentation(xfer_of(ts_uid), nullptr, seq);
        ds.insert(pd, true);
        if (c.bad()) {
            return pacs_errf(ei, PACS_ENOMEM, "fragment: %s", c.text());
        }
        Uint32 start = 0;
        OFString model;
        /* DCMTK wants an even buffer (room for a pad byte); odd frames go through a copy. */
        if (need & 1u) {
            std::string tmp(need + 1, '\0');
            c = pd->getUncompressedFrame(&ds, 0, start, &tmp[0], (Uint32)need + 1, model, nullptr);
            memcpy(out, tmp.data(), need);
        } else {
            c = pd->getUncompressedFrame(&ds, 0, start, out, (Uint32)need, model, nullptr);
        }
        if (c.bad()) {
            return pacs_errf(ei, PACS_EBADDATA, "cannot decode %s frame: %s", ts_uid, c.text());
        }
        copy_pi(photometric_out, model.empty() ? OFString(img->photometric) : model);
        return PACS_OK;
    } catch (...) {
        return pacs_errf(ei, PACS_ENOMEM, "out of memory while decoding");
    }
}

/* The representation parameter for an encoder; `holder` keeps it alive. */
struct rep_params {
    DJ_RPLossy lossy;
    DJ_RPLossless lossless;
    DJ_RPLossless lossless_sv1;
    DJLSRepresentationParameter jls_lossless;
    DJLSRepresentationParameter jls_near;
    DcmRLERepresentationParameter rle;
    explicit rep_params(int quality)
        : lossy(quality), lossless(1, 0), lossless_sv1(1, 0), jls_lossless(0, OFTrue),
          jls_near(2, OFFalse)
    {
    }
    const DcmRepresentationParameter *for_ts(const char *ts) const
    {
        if (!strcmp(ts, PACS_TS_JPEG_BASELINE) || !strcmp(ts, PACS_TS_JPEG_EXTENDED)) {
            return &lossy;
        }
        if (!strcmp(ts, PACS_TS_JPEG_LOSSLESS)) {
            return &lossless;
        }
        if (!strcmp(ts, PACS_TS_JPEG_LOSSLESS_SV1)) {
            return &lossless_sv1;
        }
        if (!strcmp(ts, PACS_TS_JPEGLS_LOSSLESS)) {
            return &jls_lossless;
        }
        if (!strcmp(ts, PACS_TS_JPEGLS_NEAR)) {
            return &jls_near;
        }
        return &rle;
    }
};

extern "C" pacs_err pacs_codec_encode(const char *ts_uid, const pacs_codec_image *img,
                                      const uint8_t *pixels, size_t len, int quality,
                                      pacs_codec_frame *out, pacs_errinfo *ei)
{
    try {
        if (!pacs_codec_can_encode(ts_uid)) {
            return pacs_errf(ei, PACS_EUNSUPPORTED, "no DCMTK encoder for transfer syntax %s",
                             ts_uid ? ts_uid : "(none)");
        }
        if (!image_ok(img)) {
            return pacs_errf(ei, PACS_EBADDATA, "image attributes out of range");
        }
        size_t need = frame_bytes(img);
        if (len != need || need > 0xFFFFFFF0u) {
            return pacs_errf(ei, PACS_EINVAL, "frame of %zu bytes, expected %zu", len, need);
        }
        bool jpeg_lossy =
            !strcmp(ts_uid, PACS_TS_JPEG_BASELINE) || !strcmp(ts_uid, PACS_TS_JPEG_EXTENDED);
        if (!strcmp(ts_uid, PACS_TS_JPEG_BASELINE) && img->bits_stored > 8) {
            return pacs_errf(ei, PACS_EUNSUPPORTED,
                             "JPEG baseline holds 8-bit samples; this image has %u bits",
                             img->bits_stored);
        }
        if (!strcmp(ts_uid, PACS_TS_JPEG_EXTENDED) && img->bits_stored > 12) {
            return pacs_errf(ei, PACS_EUNSUPPORTED,
                             "JPEG extended holds at most 12-bit samples; this image has %u",
                             img->bits_stored);
        }
        if (img->bits_allocated > 16 && strcmp(ts_uid, PACS_TS_RLE) != 0) {
            return pacs_errf(ei, PACS_EUNSUPPORTED, "%u-bit samples need RLE or a native syntax",
                             img->bits_allocated);
        }
        if (jpeg_lossy && (quality < 1 || quality > 100)) {
            return pacs_errf(ei, PACS_EINVAL, "JPEG quality %d is not in 1..100", quality);
        }
        DcmDataset ds;
        OFCondition c = put_image(ds, img);
        /* The lossy JPEG encoder renders through dcmimgle, which wants an image SOP Class. */
        if (c.good()) {
            c = ds.putAndInsertString(DCM_SOPClassUID, UID_SecondaryCaptureImageStorage);
        }
        if (c.good()) {
            c = ds.putAndInsertString(DCM_SOPInstanceUID, DERIVED_UID_ROOT ".1");
        }
        if (c.good() && img->bits_allocated == 8) {
            c = ds.putAndInsertUint8Array(DCM_PixelData, pixels, (unsigned long)len);
        } else if (c.good()) {
            /* Native frames are little endian; on a little-endian host these are the words. */
            c = ds.putAndInsertUint16Array(DCM_PixelData, (const Uint16 *)(const void *)pixels,
                                           (unsigned long)(len / 2));
        }
        if (c.bad()) {
            return pacs_errf(ei, PACS_ENOMEM, "frame dataset: %s", c.text());
        }
        E_TransferSyntax xf = xfer_of(ts_uid);
        rep_params params(quality);
        const DcmRepresentationParameter *rp = params.for_ts(ts_uid);
        c = ds.chooseRepresentation(xf, rp);
        if (c.bad() || !ds.canWriteXfer(xf)) {
            return pacs_errf(ei, PACS_EUNSUPPORTED, "cannot encode to %s: %s", ts_uid,
                             c.bad() ? c.text() : "encoder refused the image");
        }
        DcmElement *el = nullptr;
        if (ds.findAndGetElement(DCM_PixelData, el).bad() || !el) {
            return pacs_errf(ei, PACS_EBADDATA, "encoder lost the pixel data");
        }
        DcmPixelSequence *seq = nullptr;
        c = static_cast<DcmPixelData *>(el)->getEncapsulatedRepresentation(xf, rp, seq);
        if (c.bad() || !seq) {
            return pacs_errf(ei, PACS_EBADDATA, "no encapsulated result: %s", c.text());
        }
        size_t total = 0;
        unsigned long n = seq->card();
        for (unsigned long i = 1; i < n; i++) {
            DcmPixelItem *it = nullptr;
            if (seq->getItem(it, i).good() && it) {
                total += it->getLength();
            }
        }
        uint8_t *buf = (uint8_t *)malloc(total ? total : 1);
        if (!buf) {
            return pacs_errf(ei, PACS_ENOMEM, "out of memory");
        }
        size_t at = 0;
        for (unsigned long i = 1; i < n; i++) {
            DcmPixelItem *it = nullptr;
            Uint8 *v = nullptr;
            if (seq->getItem(it, i).good() && it && it->getUint8Array(v).good() && v) {
                memcpy(buf + at, v, it->getLength());
                at += it->getLength();
            }
        }
        OFString pi;
        ds.findAndGetOFString(DCM_PhotometricInterpretation, pi);
        out->data = buf;
        out->len = at;
        copy_pi(out->photometric, pi);
        return PACS_OK;
    } catch (...) {
        return pacs_errf(ei, PACS_ENOMEM, "out of memory while encoding");
    }
}

static void get_image(DcmItem *ds, pacs_codec_image *img)
{
    memset(img, 0, sizeof *img);
    ds->findAndGetUint16(DCM_Rows, img->rows);
    ds->findAndGetUint16(DCM_Columns, img->cols);
    ds->findAndGetUint16(DCM_SamplesPerPixel, img->samples);
    ds->findAndGetUint16(DCM_BitsAllocated, img->bits_allocated);
    ds->findAndGetUint16(DCM_BitsStored, img->bits_stored);
    ds->findAndGetUint16(DCM_HighBit, img->high_bit);
    ds->findAndGetUint16(DCM_PixelRepresentation, img->pixel_rep);
    ds->findAndGetUint16(DCM_PlanarConfiguration, img->planar);
    OFString pi;
    ds->findAndGetOFString(DCM_PhotometricInterpretation, pi);
    copy_pi(img->photometric, pi);
}

extern "C" pacs_err pacs_codec_decode_file(const char *path, uint32_t index, pacs_codec_image *img,
                                           uint8_t **out, size_t *out_len, char photometric_out[17],
                                           pacs_errinfo *ei)
{
    try {
        DcmFileFormat ff;
        OFCondition c = ff.loadFile(OFFilename(path), EXS_Unknown, EGL_noChange, LAZY_VALUE_MAX);
        if (c.bad()) {
            return pacs_errf(ei, PACS_EBADDATA, "cannot read object: %s", c.text());
        }
        DcmDataset *ds = ff.getDataset();
        DcmElement *el = nullptr;
        if (ds->findAndGetElement(DCM_PixelData, el).bad() || !el) {
            return pacs_errf(ei, PACS_ENOTFOUND, "the object has no pixel data");
        }
        pacs_codec_image got;
        get_image(ds, &got);
        Sint32 frames = 1;
        if (ds->findAndGetSint32(DCM_NumberOfFrames, frames).bad() || frames < 1) {
            frames = 1;
        }
        if (index >= (uint32_t)frames) {
            return pacs_errf(ei, PACS_ENOTFOUND, "frame %u of %d", index + 1, (int)frames);
        }
        DcmPixelData *pd = static_cast<DcmPixelData *>(el);
        Uint32 size = 0;
        c = pd->getUncompressedFrameSize(ds, size);
        if (c.bad() || size == 0) {
            return pacs_errf(ei, PACS_EBADDATA, "frame size: %s", c.bad() ? c.text() : "0");
        }
        uint8_t *buf = (uint8_t *)malloc((size_t)size + 1);
        if (!buf) {
            return pacs_errf(ei, PACS_ENOMEM, "out of memory");
        }
        Uint32 start = 0;
        OFString model;
        c = pd->getUncompressedFrame(ds, index, start, buf, size + (size & 1u), model, nullptr);
        if (c.bad()) {
            free(buf);
            return pacs_errf(ei, PACS_EBADDATA, "cannot decode frame %u: %s", index + 1, c.text());
        }
        *img = got;
        *out = buf;
        *out_len = size;
        copy_pi(photometric_out, model.empty() ? OFString(got.photometric) : model);
        return PACS_OK;
    } catch (...) {
        return pacs_errf(ei, PACS_ENOMEM, "out of memory while decoding");
    }
}

static bool wanted_for_image(const DcmTagKey &t)
{
    Uint16 g = t.getGroup();
    if (g == 0x0028 && t.getElement() != 0) {
        return true;
    }
    return t == DCM_SpecificCharacterSet || t == DCM_SOPClassUID || t == DCM_Modality ||
           t == DCM_PresentationLUTShape || t == DCM_SharedFunctionalGroupsSequence ||
           t == DCM_PerFrameFunctionalGroupsSequence;
}

extern "C" pacs_err pacs_codec_image_json(const char *path, json_t **out, pacs_errinfo *ei)
{
    try {
        DcmFileFormat ff;
        OFCondition c = ff.loadFile(OFFilename(path), EXS_Unknown, EGL_noChange, LAZY_VALUE_MAX);
        if (c.bad()) {
            return pacs_errf(ei, PACS_EBADDATA, "cannot read object: %s", c.text());
        }
        DcmDataset *src = ff.getDataset();
        DcmDataset *sub = new DcmDataset();
        for (unsigned long i = 0; i < src->card(); i++) {
            DcmElement *el = src->getElement(i);
            if (el && wanted_for_image(el->getTag())) {
                el->loadAllDataIntoMemory();
                sub->insert(static_cast<DcmElement *>(el->clone()), true);
            }
        }
        pacs_ds *ds = pacs_ds__wrap(sub);
        if (!ds) {
            return pacs_errf(ei, PACS_ENOMEM, "out of memory");
        }
        pacs_err err = pacs_ds_to_json(ds, out, ei);
        pacs_ds_free(ds);
        return err;
    } catch (...) {
        return pacs_errf(ei, PACS_ENOMEM, "out of memory while reading attributes");
    }
}

static void append_value(DcmDataset *ds, const DcmTagKey &tag, const std::string &v)
{
    OFString old;
    std::string joined = v;
    if (ds->findAndGetOFStringArray(tag, old).good() && !old.empty()) {
        joined = std::string(old.c_str()) + "\\" + v;
    }
    ds->putAndInsertString(tag, joined.c_str());
}

extern "C" pacs_err pacs_codec_dataset_front(const char *path, pacs_codec_header *h, uint8_t **out,
                                             size_t *out_len, pacs_errinfo *ei)
{
    try {
        E_TransferSyntax xf = EXS_LittleEndianExplicit;
        if (h->ts_uid && strcmp(h->ts_uid, "1.2.840.10008.1.2") == 0) {
            xf = EXS_LittleEndianImplicit;
        }
        DcmFileFormat ff;
        OFCondition c = ff.loadFile(OFFilename(path), EXS_Unknown, EGL_noChange, LAZY_VALUE_MAX);
        if (c.bad()) {
            return pacs_errf(ei, PACS_EBADDATA, "cannot read object: %s", c.text());
        }
        DcmDataset *ds = ff.getDataset();
        /* Pixel Data and what follows it go; so do stale group lengths. */
        for (unsigned long i = ds->card(); i-- > 0;) {
            DcmElement *el = ds->getElement(i);
            if (!el) {
                continue;
            }
            DcmTagKey t = el->getTag();
            if (t >= DCM_PixelData || t.getElement() == 0) {
                delete ds->remove(el);
            }
        }
        if (h->photometric) {
            c = ds->putAndInsertString(DCM_PhotometricInterpretation, h->photometric);
        }
        Uint16 spp = 1;
        ds->findAndGetUint16(DCM_SamplesPerPixel, spp);
        if (c.good() && h->set_planar0 && spp > 1) {
            c = ds->putAndInsertUint16(DCM_PlanarConfiguration, 0);
        }
        if (c.good() && h->lossy) {
            char ratio[32];
            snprintf(ratio, sizeof ratio, "%.2f", h->lossy_ratio > 0 ? h->lossy_ratio : 1.0);
            ds->putAndInsertString(DCM_LossyImageCompression, "01");
            append_value(ds, DCM_LossyImageCompressionRatio, ratio);
            append_value(ds, DCM_LossyImageCompressionMethod,
                         h->lossy_method ? h->lossy_method : "ISO_10918_1");
        }
        OFString was;
        if (c.good() && h->keep_lossy && !h->lossy &&
            (ds->findAndGetOFString(DCM_LossyImageCompression, was).bad() || was != "01")) {
            c = ds->putAndInsertString(DCM_LossyImageCompression, "01");
        }
        if (c.good() && h->new_sop_uid) {
            c = ds->putAndInsertString(DCM_SOPInstanceUID, h->new_sop_uid);
        }
        if (c.bad()) {
            return pacs_errf(ei, PACS_EBADDATA, "cannot update attributes: %s", c.text());
        }
        OFString cls, inst;
        ds->findAndGetOFString(DCM_SOPClassUID, cls);
        ds->findAndGetOFString(DCM_SOPInstanceUID, inst);
        snprintf(h->sop_class_uid, sizeof h->sop_class_uid, "%s", cls.c_str());
        snprintf(h->sop_instance_uid, sizeof h->sop_instance_uid, "%s", inst.c_str());
        ds->loadAllDataIntoMemory();
        Uint32 len = ds->calcElementLength(xf, EET_ExplicitLength);
        if (len == 0 || len > 0x40000000u) {
            return pacs_errf(ei, PACS_ETOOBIG, "dataset of %u bytes", (unsigned)len);
        }
        uint8_t *buf = (uint8_t *)malloc(len + 64);
        if (!buf) {
            return pacs_errf(ei, PACS_ENOMEM, "out of memory");
        }
        DcmOutputBufferStream os(buf, len + 64);
        ds->transferInit();
        c = ds->write(os, xf, EET_ExplicitLength, nullptr);
        ds->transferEnd();
        void *written = nullptr;
        offile_off_t n = 0;
        os.flushBuffer(written, n);
        if (c.bad()) {
            free(buf);
            return pacs_errf(ei, PACS_EBADDATA, "cannot encode the dataset: %s", c.text());
        }
        *out = buf;
        *out_len = (size_t)n;
        return PACS_OK;
    } catch (...) {
        return pacs_errf(ei, PACS_ENOMEM, "out of memory while writing the dataset");
    }
}

namespace
{

/* Writes what DCMTK encodes straight to a file descriptor; after a failed write it reports
 * not-good, which stops DCMTK. */
class FdConsumer : public DcmConsumer
{
  public:
    explicit FdConsumer(int fd) : fd_(fd), errno_(0), written_(0)
    {
    }
    OFBool good() const override
    {
        return errno_ == 0;
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
        const char *p = static_cast<const char *>(buf);
        offile_off_t done = 0;
        while (good() && done < len) {
            ssize_t n = ::write(fd_, p + done, (size_t)(len - done));
            if (n < 0 && errno == EINTR) {
                continue;
            }
            if (n <= 0) {
                errno_ = n < 0 ? errno : EIO;
                return 0;
            }
            done += n;
            written_ += (uint64_t)n;
        }
        return done;
    }
    void flush() override
    {
    }
    int error() const
    {
        return errno_;
    }
    uint64_t written() const
    {
        return written_;
    }

  private:
    int fd_;
    int errno_;
    uint64_t written_;
};

class FdStream : public DcmOutputStream
{
  public:
    explicit FdStream(FdConsumer *c) : DcmOutputStream(c)
    {
    }
};

/* The meta header of the Part 10 file at `path`; `*start` receives the dataset's offset. */
pacs_err read_meta(const char *path, pacs_meta *m, size_t *start, pacs_errinfo *ei)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return pacs_errf(ei, PACS_EBADDATA, "cannot open %s: %s", path, strerror(errno));
    }
    uint8_t head[8192];
    ssize_t n = pread(fd, head, sizeof head, 0);
    int saved = errno;
    close(fd);
    if (n < 0) {
        return pacs_errf(ei, PACS_EBADDATA, "cannot read %s: %s", path, strerror(saved));
    }
    return pacs_meta_read(head, (size_t)n, m, start, ei);
}

} // namespace

/* Replaces the top-level attributes of `ds` that `coerce` (DICOM JSON) holds with its values.
 * Text that is not ASCII turns the whole dataset to UTF-8 first (ISO_IR 192), so that the
 * values it keeps and the ones it takes are in one character set. */
static pacs_err apply_coercion(DcmDataset *ds, const json_t *coerce, pacs_errinfo *ei)
{
    DcmDataset patch;
    pacs_err err = pacs_dcm__json_to_dataset(coerce, &patch, ei);
    if (err != PACS_OK) {
        return err;
    }
    OFString cs;
    bool utf8 =
        patch.findAndGetOFStringArray(DCM_SpecificCharacterSet, cs).good() && cs == "ISO_IR 192";
    if (utf8) {
        pacs_charset__item_to_utf8(ds, "coercion");
        ds->putAndInsertString(DCM_SpecificCharacterSet, "ISO_IR 192");
    }
    for (unsigned long i = 0; i < patch.card(); i++) {
        DcmElement *e = patch.getElement(i);
        if (e->getTag() == DCM_SpecificCharacterSet) {
            continue;
        }
        DcmElement *copy = OFstatic_cast(DcmElement *, e->clone());
        if (!copy || ds->insert(copy, OFTrue).bad()) {
            delete copy;
            return pacs_errf(ei, PACS_ENOMEM, "cannot coerce the object's attributes");
        }
    }
    return PACS_OK;
}

extern "C" pacs_err pacs_codec_recode(const char *path, const char *ts_uid, int out_fd,
                                      uint64_t *written, pacs_errinfo *ei)
{
    return pacs_codec_recode_coerced(path, ts_uid, NULL, out_fd, written, ei);
}

extern "C" pacs_err pacs_codec_recode_coerced(const char *path, const char *ts_uid,
                                              const json_t *coerce, int out_fd, uint64_t *written,
                                              pacs_errinfo *ei)
{
    try {
        *written = 0;
        pacs_meta m;
        size_t start = 0;
        pacs_err err = read_meta(path, &m, &start, ei);
        if (err != PACS_OK) {
            return err;
        }
        /* HTJ2K, which this DCMTK does not know, encodes its dataset as every encapsulated
         * syntax does (PS3.5 A.4: explicit VR little endian, pixel data in fragments): it is
         * read and written as JPEG 2000, a stand-in whose name only the meta header would
         * carry, so that its fragments are copied as they are; the meta header we write names
         * HTJ2K. Only into the same syntax: HTJ2K to anything else, or anything to it, is
         * pacs/image's transcoding. */
        bool ht_source = pacs_dcm__ts_is_htj2k(m.transfer_syntax_uid);
        bool ht_target = ts_uid && pacs_dcm__ts_is_htj2k(ts_uid);
        if ((ht_source || ht_target) && strcmp(m.transfer_syntax_uid, ts_uid ? ts_uid : "") != 0) {
            return pacs_errf(ei, PACS_EUNSUPPORTED, "%s cannot become %s without transcoding",
                             m.transfer_syntax_uid, ts_uid ? ts_uid : "(none)");
        }
        DcmXfer target(ht_target ? EXS_JPEG2000LosslessOnly : xfer_of(ts_uid));
        if (target.getXfer() == EXS_Unknown) {
            return pacs_errf(ei, PACS_EUNSUPPORTED, "cannot write transfer syntax %s",
                             ts_uid ? ts_uid : "(none)");
        }
        DcmFileFormat ff;
        OFCondition c;
        if (ht_source) {
            /* Skipped to, not opened at: values left in the file are read again from the
             * stream's position, which must count from the file's start. */
            DcmInputFileStream in{OFFilename(path)};
            DcmDataset *dset = ff.getDataset();
            c = in.status();
            if (c.good() && in.skip((offile_off_t)start) != (offile_off_t)start) {
                c = EC_StreamNotifyClient;
            }
            if (c.good()) {
                dset->transferInit();
                c = dset->read(in, EXS_JPEG2000LosslessOnly, EGL_noChange, LAZY_VALUE_MAX);
                dset->transferEnd();
            }
        } else {
            c = ff.loadFile(OFFilename(path), EXS_Unknown, EGL_noChange, LAZY_VALUE_MAX);
        }
        if (c.bad()) {
            return pacs_errf(ei, PACS_EBADDATA, "cannot read object: %s", c.text());
        }
        DcmDataset *ds = ff.getDataset();
        DcmXfer source(ds->getOriginalXfer());
        bool pixels = ds->tagExists(DCM_PixelData);
        if (pixels && target.getXfer() != source.getXfer() &&
            (source.isEncapsulated() || target.isEncapsulated())) {
            return pacs_errf(ei, PACS_EUNSUPPORTED,
                             "pixel data in %s cannot become %s without transcoding",
                             source.getXferName(), target.getXferName());
        }
        if (!ds->canWriteXfer(target.getXfer(), source.getXfer())) {
            return pacs_errf(ei, PACS_EUNSUPPORTED, "cannot write the dataset as %s",
                             target.getXferName());
        }
        if (coerce) {
            err = apply_coercion(ds, coerce, ei);
            if (err != PACS_OK) {
                return err;
            }
        }
        snprintf(m.transfer_syntax_uid, sizeof m.transfer_syntax_uid, "%s", ts_uid);
        uint8_t meta[512];
        size_t meta_len = 0;
        err = pacs_meta_build(&m, meta, sizeof meta, &meta_len, ei);
        if (err != PACS_OK) {
            return err;
        }
        FdConsumer consumer(out_fd);
        consumer.write(meta, (offile_off_t)meta_len);
        if (consumer.good()) {
            FdStream os(&consumer);
            ds->transferInit();
            c = ds->write(os, target.getXfer(), EET_ExplicitLength, nullptr, EGL_recalcGL);
            ds->transferEnd();
            os.flush();
        }
        if (consumer.good() && target.getStreamCompression() != ESC_none &&
            ((consumer.written() - meta_len) & 1u)) {
            /* PS3.5 A.5: a deflated stream of odd length gets one trailing NULL byte (and a
             * DIMSE peer refuses odd PDV fragments). */
            static const char pad = 0;
            consumer.write(&pad, 1);
        }
        *written = consumer.written();
        if (!consumer.good()) {
            int e = consumer.error();
            return pacs_errf(ei, pacs_err_from_errno(e), "writing the converted object: %s",
                             strerror(e));
        }
        if (c.bad()) {
            return pacs_errf(ei, PACS_EBADDATA, "cannot encode the dataset as %s: %s",
                             target.getXferName(), c.text());
        }
        return PACS_OK;
    } catch (...) {
        return pacs_errf(ei, PACS_ENOMEM, "out of memory while converting an object");
    }
}

extern "C" void pacs_codec_new_uid(char buf[65])
{
    char tmp[100];
    dcmGenerateUniqueIdentifier(tmp, DERIVED_UID_ROOT);
    tmp[64] = '\0';
    memcpy(buf, tmp, strlen(tmp) + 1);
}
