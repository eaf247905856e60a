// SPDX-License-Identifier: MIT
/*
 * dcmdata behind a C API (dcm.h): one parse per stored object at ingest, DICOM JSON in both
 * directions, and small datasets for DIMSE. Every exported function is a try/catch shell: no
 * exception, OFCondition or DCMTK type leaves this file. DCMTK's own writeJson is not used
 * because its bulk-data hook sees only the tag, not the path of nested elements, and it writes
 * DS/FL values that are not always valid JSON; jansson does the JSON, this file the mapping.
 */
#include "pacs/dicom/dcm.h"
#include "pacs/dicom/charset_dcmtk.h"
#include "pacs/dicom/dcm_internal.h"
#include "pacs/base/log.h"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fcntl.h>
#include <string>
#include <unistd.h>

#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmdata/dcdict.h"
#include "dcmtk/dcmdata/dcfilefo.h"
#include "dcmtk/dcmdata/dcistrmf.h"
#include "dcmtk/dcmdata/dcpixel.h"
#include "dcmtk/dcmdata/dcpixseq.h"
#include "dcmtk/dcmdata/dcuid.h"
#include "dcmtk/dcmdata/dctk.h"
#include "dcmtk/dcmdata/dcxfer.h"
#include "dcmtk/dcmjpeg/djrplol.h"
#include "dcmtk/dcmjpls/djrparam.h"
#include "dcmtk/ofstd/ofstd.h"
#include "dcmtk/oflog/oflog.h"

/* Large values stay in the file while parsing: JSON refers to them by URI. */
static const Uint32 kMaxReadLength = 4096;

struct pacs_ds {
    DcmDataset *ds;
};

pacs_err pacs_dcm_init(pacs_errinfo *ei)
{
    try {
        if (!dcmDataDict.isDictionaryLoaded()) {
            return pacs_errf(ei, PACS_EUNSUPPORTED,
                             "the DICOM data dictionary is not loaded (check DCMDICTPATH)");
        }
        /* Nagle's algorithm costs ~40 ms per DIMSE exchange; DCMTK reads this at connect. */
        setenv("TCP_NODELAY", "1", 1);
        /* DCMTK's own warnings ("W: DcmItem: ...") repeat, in another format, what we report
         * as an error with its status; they are shown only when debugging. */
        OFLog::configure(pacs_log_enabled(PACS_LOG_DEBUG) ? OFLogger::WARN_LOG_LEVEL
                                                          : OFLogger::FATAL_LOG_LEVEL);
        pacs_codec__register();
        return PACS_OK;
    } catch (...) {
        return pacs_errf(ei, PACS_ENOMEM, "DICOM toolkit initialisation failed");
    }
}

/* ---- DICOM JSON from DCMTK elements ---- */

static std::string tag_key(const DcmTagKey &t)
{
    char b[9];
    snprintf(b, sizeof b, "%04X%04X", t.getGroup(), t.getElement());
    return b;
}

/* Makes `s` valid UTF-8 by reading every byte of an invalid sequence as Latin-1. */
static bool repair_utf8(std::string &s)
{
    size_t i = 0, n = s.size();
    bool valid = true;
    while (i < n) {
        unsigned char c = (unsigned char)s[i];
        size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
        bool ok = len > 0 && i + len <= n;
        for (size_t k = 1; ok && k < len; k++) {
            ok = ((unsigned char)s[i + k] >> 6) == 2;
        }
        if (ok && len == 2 && c < 0xC2) {
            ok = false;
        }
        if (!ok) {
            valid = false;
            break;
        }
        i += len;
    }
    if (valid) {
        return true;
    }
    std::string out;
    out.reserve(n * 2);
    for (unsigned char c : s) {
        if (c < 0x80) {
            out += (char)c;
        } else {
            out += (char)(0xC0 | (c >> 6));
            out += (char)(0x80 | (c & 0x3F));
        }
    }
    s.swap(out);
    return false;
}

/* `chars` is a std::string so that it can hold '\0', the padding of UI values. */
static void rtrim(std::string &s, const std::string &chars = " ")
{
    size_t e = s.find_last_not_of(chars);
    s.erase(e == std::string::npos ? 0 : e + 1);
}

static void trim(std::string &s)
{
    rtrim(s, " ");
    size_t b = s.find_first_not_of(' ');
    s.erase(0, b == std::string::npos ? s.size() : b);
}

struct json_ctx {
    bool bulk;             /* write large binary values as BulkDataURI (else InlineBinary) */
    bool repaired;         /* some text was not valid UTF-8 */
    Uint16 bits_allocated; /* to give ambiguous Pixel Data a VR */
};

static std::string vr_name(DcmElement *el, const json_ctx &cx)
{
    DcmEVR evr = el->getVR();
    if (evr == EVR_ox || evr == EVR_px) {
        return cx.bits_allocated > 8 ? "OW" : "OB";
    }
    if (evr == EVR_UNKNOWN || evr == EVR_UNKNOWN2B) {
        return "UN";
    }
    return DcmVR(evr).getValidVRName();
}

static bool is_text_vr(const std::string &vr)
{
    static const char *const v[] = {"AE", "AS", "CS", "DA", "DT", "LO", "LT",
                                    "SH", "ST", "TM", "UC", "UI", "UR", "UT"};
    for (const char *x : v) {
        if (vr == x) {
            return true;
        }
    }
    return false;
}

static bool is_binary_vr(const std::string &vr)
{
    return vr == "OB" || vr == "OW" || vr == "OD" || vr == "OF" || vr == "OL" || vr == "OV" ||
           vr == "UN";
}

/* Single-valued text VRs whose backslashes are data, not value separators. */
static bool is_single_text_vr(const std::string &vr)
{
    return vr == "LT" || vr == "ST" || vr == "UT" || vr == "UR";
}

static json_t *text_value(std::string s, json_ctx &cx)
{
    if (!repair_utf8(s)) {
        cx.repaired = true;
    }
    return json_stringn(s.data(), s.size());
}

static json_t *pn_value(std::string s, json_ctx &cx)
{
    rtrim(s);
    if (s.empty()) {
        return json_null();
    }
    static const char *const groups[] = {"Alphabetic", "Ideographic", "Phonetic"};
    json_t *o = json_object();
    size_t start = 0;
    for (int g = 0; g < 3 && start <= s.size(); g++) {
        size_t eq = s.find('=', start);
        std::string part =
            s.substr(start, eq == std::string::npos ? std::string::npos : eq - start);
        rtrim(part);
        if (!part.empty()) {
            json_object_set_new(o, groups[g], text_value(part, cx));
        }
        if (eq == std::string::npos) {
            break;
        }
        start = eq + 1;
    }
    return o;
}

static json_t *number_or_text(const std::string &s, bool integer, json_ctx &cx)
{
    if (s.empty()) {
        return json_null();
    }
    char *end = nullptr;
    errno = 0;
    if (integer) {
        long long v = strtoll(s.c_str(), &end, 10);
        if (errno == 0 && end && *end == '\0') {
            return json_integer(v);
        }
    } else {
        double v = strtod(s.c_str(), &end);
        if (errno == 0 && end && *end == '\0' && std::isfinite(v)) {
            return json_real(v);
        }
    }
    return text_value(s, cx); /* not a number as the VR promises: keep the text */
}

static json_t *item_to_json(DcmItem *item, const std::string &path, json_ctx &cx);

static void put_binary(json_t *attr, DcmElement *el, const std::string &uri, json_ctx &cx)
{
    Uint32 len = el->getLength();
    bool pixel = el->getTag() == DCM_PixelData || el->getTag() == DCM_FloatPixelData ||
                 el->getTag() == DCM_DoubleFloatPixelData;
    if (cx.bulk && (pixel || len > PACS_INLINE_BINARY_MAX)) {
        json_object_set_new(attr, "BulkDataURI", json_string(uri.c_str()));
        return;
    }
    if (el->ident() == EVR_PixelData) {
        DcmPixelData *pd = OFstatic_cast(DcmPixelData *, el);
        DcmPixelSequence *seq = nullptr;
        E_TransferSyntax xfer = EXS_Unknown;
        const DcmRepresentationParameter *rep = nullptr;
        pd->getOriginalRepresentationKey(xfer, rep);
        if (DcmXfer(xfer).isEncapsulated() &&
            pd->getEncapsulatedRepresentation(xfer, rep, seq).good()) {
            /* Encapsulated data has no inline form in DICOM JSON; refer to it instead. */
            json_object_set_new(attr, "BulkDataURI", json_string(uri.c_str()));
            return;
        }
    }
    Uint8 *bytes = nullptr;
    if (len == 0 || el->getUint8Array(bytes).bad() || !bytes) {
        return;
    }
    OFString b64;
    OFStandard::encodeBase64(bytes, len, b64);
    json_object_set_new(attr, "InlineBinary", json_string(b64.c_str()));
}

static json_t *element_to_json(DcmElement *el, const std::string &path, json_ctx &cx)
{
    std::string vr = vr_name(el, cx);
    json_t *attr = json_object();
    json_object_set_new(attr, "vr", json_string(vr.c_str()));
    std::string uri = path + tag_key(el->getTag());
    if (el->ident() == EVR_SQ || vr == "SQ") {
        if (vr != "SQ") {
            json_object_set_new(attr, "vr", json_string("SQ"));
        }
        DcmSequenceOfItems *sq = OFstatic_cast(DcmSequenceOfItems *, el);
        if (sq->card() > 0) {
            json_t *items = json_array();
            for (unsigned long i = 0; i < sq->card(); i++) {
                std::string sub = uri + "/" + std::to_string(i) + "/";
                json_array_append_new(items, item_to_json(sq->getItem(i), sub, cx));
            }
            json_object_set_new(attr, "Value", items);
        }
        return attr;
    }
    if (is_binary_vr(vr) || el->ident() == EVR_PixelData) {
        put_binary(attr, el, uri, cx);
        return attr;
    }
    if (el->getLength() == 0) {
        return attr;
    }
    json_t *values = json_array();
    unsigned long vm = el->getVM();
    if (vr == "AT") {
        for (unsigned long i = 0; i < vm; i++) {
            DcmTagKey t;
            if (el->getTagVal(t, i).good()) {
                json_array_append_new(values, json_string(tag_key(t).c_str()));
            }
        }
    } else if (vr == "FL" || vr == "FD") {
        for (unsigned long i = 0; i < vm; i++) {
            Float64 d = 0;
            Float32 f = 0;
            bool ok = vr == "FL" ? el->getFloat32(f, i).good() : el->getFloat64(d, i).good();
            double v = vr == "FL" ? (double)f : d;
            json_array_append_new(values, ok && std::isfinite(v) ? json_real(v) : json_null());
        }
    } else if (vr == "SS" || vr == "US" || vr == "SL" || vr == "UL" || vr == "SV" || vr == "UV") {
        for (unsigned long i = 0; i < vm; i++) {
            json_int_t v = 0;
            bool ok = false;
            if (vr == "SS") {
                Sint16 x;
                ok = el->getSint16(x, i).good();
                v = x;
            } else if (vr == "US") {
                Uint16 x;
                ok = el->getUint16(x, i).good();
                v = x;
            } else if (vr == "SL") {
                Sint32 x;
                ok = el->getSint32(x, i).good();
                v = x;
            } else if (vr == "UL") {
                Uint32 x;
                ok = el->getUint32(x, i).good();
                v = x;
            } else if (vr == "SV") {
                Sint64 x;
                ok = el->getSint64(x, i).good();
                v = (json_int_t)x;
            } else {
                Uint64 x;
                ok = el->getUint64(x, i).good();
                v = (json_int_t)x;
            }
            json_array_append_new(values, ok ? json_integer(v) : json_null());
        }
    } else {
        std::string whole;
        OFString raw;
        if (el->getOFStringArray(raw, OFFalse).good()) {
            whole.assign(raw.c_str(), raw.length());
        }
        if (is_single_text_vr(vr)) {
            rtrim(whole, " ");
            json_array_append_new(values, text_value(whole, cx));
        } else {
            size_t start = 0;
            for (;;) {
                size_t bs = whole.find('\\', start);
                std::string v =
                    whole.substr(start, bs == std::string::npos ? std::string::npos : bs - start);
                if (vr == "UI") {
                    rtrim(v, std::string(1, '\0').append(" "));
                } else if (vr == "PN") {
                    trim(v);
                } else {
                    trim(v);
                }
                if (vr == "PN") {
                    json_array_append_new(values, pn_value(v, cx));
                } else if (vr == "IS" || vr == "DS") {
                    json_array_append_new(values, number_or_text(v, vr == "IS", cx));
                } else if (v.empty()) {
                    json_array_append_new(values, json_null());
                } else {
                    json_array_append_new(values, text_value(v, cx));
                }
                if (bs == std::string::npos) {
                    break;
                }
                start = bs + 1;
            }
        }
        (void)is_text_vr;
    }
    if (json_array_size(values) > 0) {
        json_object_set_new(attr, "Value", values);
    } else {
        json_decref(values);
    }
    return attr;
}

static json_t *item_to_json(DcmItem *item, const std::string &path, json_ctx &cx)
{
    json_t *obj = json_object();
    for (unsigned long i = 0; i < item->card(); i++) {
        DcmElement *el = item->getElement(i);
        const DcmTag &t = el->getTag();
        if (t.getElement() == 0x0000 || t.getGroup() == 0x0002) {
            continue; /* group lengths and meta information are not part of the model */
        }
        json_object_set_new(obj, tag_key(t).c_str(), element_to_json(el, path, cx));
    }
    return obj;
}

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
    rtrim(s, std::string(1, '\0').append(" "));
    if (!pacs_uid_valid(s.c_str())) {
        pacs_errf(ei, PACS_EBADDATA, "the dataset's %s '%.64s' is not a valid UID", name,
                  s.c_str());
        return false;
    }
    memcpy(dst, s.c_str(), s.size() + 1);
    return true;
}

static bool ts_is_htj2k(const char *ts)
{
    return strcmp(ts, "1.2.840.10008.1.2.4.201") == 0 ||
           strcmp(ts, "1.2.840.10008.1.2.4.202") == 0 || strcmp(ts, "1.2.840.10008.1.2.4.203") == 0;
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
        E_TransferSyntax xfer = DcmXfer(p.meta.transfer_syntax_uid).getXfer();
        if (xfer == EXS_Unknown) {
            if (!ts_is_htj2k(p.meta.transfer_syntax_uid)) {
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
            if (!ts_is_htj2k(p.meta.transfer_syntax_uid) || !in.good()) {
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
        pacs_meta header;
        uint64_t unused = 0;
        if (read_meta_of(path, &header, &unused, ei) != PACS_OK) {
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
        json_ctx cx = {true, false, 0};
        ds->findAndGetUint16(DCM_BitsAllocated, cx.bits_allocated);
        /* Text to UTF-8 (charset.h); a value that cannot be decoded keeps its bytes. */
        std::string what = std::string("sop=") + p.meta.sop_instance_uid;
        if (pacs_charset__item_to_utf8(ds, what.c_str()) > 0) {
            cx.repaired = true;
        }
        p.json = item_to_json(ds, "bulkdata/", cx);
        if (!p.json) {
            return pacs_errf(ei, PACS_ENOMEM, "out of memory building metadata");
        }
        p.charset_warning = cx.repaired;

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

static bool has_dicm_prefix(const char *path)
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
                if (!ts_is_htj2k(m.transfer_syntax_uid)) {
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
            OFCondition c = ds->read(in, xfer, EGL_noChange, kMaxReadLength);
            ds->transferEnd();
            if (c.bad()) {
                return pacs_errf(ei, PACS_EBADDATA, "cannot parse the dataset: %s", c.text());
            }
        } else if (has_dicm_prefix(path)) {
            if (ei) {
                *ei = sub;
            }
            return err == PACS_EAGAIN ? PACS_EBADDATA : err;
        } else {
            /* No meta header: let DCMTK guess the encoding of a bare dataset. */
            OFCondition c = ff.loadFile(OFFilename(path), EXS_Unknown, EGL_noChange, kMaxReadLength,
                                        ERM_dataset);
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
        DcmDataset copy(*ds->ds);
        json_ctx cx = {false, false, 0};
        copy.findAndGetUint16(DCM_BitsAllocated, cx.bits_allocated);
        if (pacs_charset__item_to_utf8(&copy, "identifier") > 0) {
            cx.repaired = true;
        }
        json_t *j = item_to_json(&copy, "", cx);
        if (!j) {
            return pacs_errf(ei, PACS_ENOMEM, "out of memory");
        }
        *out = j;
        return PACS_OK;
    } catch (...) {
        return pacs_errf(ei, PACS_ENOMEM, "out of memory");
    }
}

/* Formats a DS value in at most 16 characters, as PS3.5 requires. */
static std::string format_ds(double v)
{
    char b[64];
    for (int prec = 16; prec > 0; prec--) {
        snprintf(b, sizeof b, "%.*g", prec, v);
        if (strlen(b) <= 16) {
            break;
        }
    }
    return b;
}

static std::string json_scalar_text(const json_t *v, const std::string &vr)
{
    if (json_is_string(v)) {
        return std::string(json_string_value(v), json_string_length(v));
    }
    if (json_is_integer(v)) {
        return std::to_string((long long)json_integer_value(v));
    }
    if (json_is_real(v)) {
        return vr == "DS" ? format_ds(json_real_value(v)) : format_ds(json_real_value(v));
    }
    if (json_is_object(v)) { /* PN */
        std::string s;
        static const char *const groups[] = {"Alphabetic", "Ideographic", "Phonetic"};
        std::string parts[3];
        int last = -1;
        for (int g = 0; g < 3; g++) {
            const json_t *x = json_object_get(v, groups[g]);
            if (json_is_string(x)) {
                parts[g] = json_string_value(x);
                last = g;
            }
        }
        for (int g = 0; g <= last; g++) {
            if (g) {
                s += '=';
            }
            s += parts[g];
        }
        return s;
    }
    return "";
}

static bool has_non_ascii(const json_t *v)
{
    if (json_is_string(v)) {
        for (const char *p = json_string_value(v); *p; p++) {
            if ((unsigned char)*p >= 0x80) {
                return true;
            }
        }
        return false;
    }
    if (json_is_array(v)) {
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x)
        {
            if (has_non_ascii(x)) {
                return true;
            }
        }
        return false;
    }
    if (json_is_object(v)) {
        const char *k;
        json_t *x;
        json_object_foreach((json_t *)v, k, x)
        {
            if (has_non_ascii(x)) {
                return true;
            }
        }
    }
    return false;
}

static pacs_err json_to_item(const json_t *obj, DcmItem *item, pacs_errinfo *ei, int depth)
{
    if (depth > 16) {
        return pacs_errf(ei, PACS_EINVAL, "sequences nested too deep");
    }
    const char *key;
    json_t *attr;
    json_object_foreach((json_t *)obj, key, attr)
    {
        unsigned g = 0, e = 0;
        if (strlen(key) != 8 || sscanf(key, "%4x%4x", &g, &e) != 2 || !json_is_object(attr)) {
            return pacs_errf(ei, PACS_EINVAL, "bad DICOM JSON attribute '%s'", key);
        }
        const char *vrs = json_string_value(json_object_get(attr, "vr"));
        DcmTag tag((Uint16)g, (Uint16)e);
        std::string vr = vrs ? vrs : tag.getVR().getValidVRName();
        DcmVR dvr(vr.c_str());
        if (dvr.getEVR() == EVR_UNKNOWN) {
            return pacs_errf(ei, PACS_EINVAL, "attribute %s has unknown VR '%s'", key, vr.c_str());
        }
        tag.setVR(dvr);
        const json_t *value = json_object_get(attr, "Value");
        if (vr == "SQ") {
            DcmSequenceOfItems *sq = new DcmSequenceOfItems(tag);
            size_t i;
            json_t *it;
            json_array_foreach(value, i, it)
            {
                DcmItem *sub = new DcmItem;
                sq->append(sub);
                if (json_is_object(it)) {
                    pacs_err err = json_to_item(it, sub, ei, depth + 1);
                    if (err != PACS_OK) {
                        delete sq;
                        return err;
                    }
                }
            }
            item->insert(sq, OFTrue);
            continue;
        }
        DcmElement *el = nullptr;
        if (DcmItem::newDicomElement(el, tag).bad() || !el) {
            return pacs_errf(ei, PACS_EINVAL, "cannot create attribute %s", key);
        }
        const json_t *inl = json_object_get(attr, "InlineBinary");
        if (json_is_string(inl)) {
            unsigned char *bytes = nullptr;
            size_t n = OFStandard::decodeBase64(json_string_value(inl), bytes);
            if (n > 0 && bytes) {
                if (vr == "OW") {
                    el->putUint16Array(OFreinterpret_cast(Uint16 *, bytes), (unsigned long)(n / 2));
                } else {
                    el->putUint8Array(bytes, (unsigned long)n);
                }
            }
            delete[] bytes;
        } else if (json_is_array(value)) {
            std::string joined;
            size_t i;
            json_t *v;
            json_array_foreach(value, i, v)
            {
                if (i) {
                    joined += '\\';
                }
                joined += json_scalar_text(v, vr);
            }
            if (vr == "AT") {
                /* AT values are "GGGGEEEE" in JSON and "(gggg,eeee)" in DCMTK's string form. */
                std::string conv;
                size_t k;
                json_t *v2;
                json_array_foreach(value, k, v2)
                {
                    const char *s = json_string_value(v2);
                    if (k) {
                        conv += '\\';
                    }
                    if (s && strlen(s) == 8) {
                        conv += std::string("(") + std::string(s, 4) + "," + std::string(s + 4, 4) +
                                ")";
                    }
                }
                joined = conv;
            }
            if (el->putString(joined.c_str()).bad()) {
                delete el;
                return pacs_errf(ei, PACS_EINVAL, "bad value for attribute %s", key);
            }
        }
        item->insert(el, OFTrue);
    }
    return PACS_OK;
}

pacs_err pacs_ds_from_json(const json_t *obj, pacs_ds **out, pacs_errinfo *ei)
{
    try {
        if (!json_is_object(obj)) {
            return pacs_errf(ei, PACS_EINVAL, "DICOM JSON must be an object");
        }
        DcmDataset *d = new DcmDataset;
        pacs_err err = json_to_item(obj, d, ei, 0);
        if (err != PACS_OK) {
            delete d;
            return err;
        }
        if (has_non_ascii(obj)) {
            d->putAndInsertString(DCM_SpecificCharacterSet, "ISO_IR 192");
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

void pacs_dcm_dict_vr(uint32_t tag, char vr[3])
{
    try {
        DcmTag t((Uint16)(tag >> 16), (Uint16)(tag & 0xFFFF));
        const char *n = t.getVR().getValidVRName();
        vr[0] = n[0];
        vr[1] = n[1];
        vr[2] = '\0';
    } catch (...) {
        strcpy(vr, "UN");
    }
}

pacs_err pacs_dcm_tag_parse(const char *text, uint32_t *tag)
{
    try {
        size_t n = strlen(text);
        if (n == 8 && strspn(text, "0123456789abcdefABCDEF") == 8) {
            *tag = (uint32_t)strtoul(text, nullptr, 16);
            return PACS_OK;
        }
        DcmTag t;
        if (n > 0 && n < 128 && DcmTag::findTagFromName(text, t).good()) {
            *tag = ((uint32_t)t.getGroup() << 16) | t.getElement();
            return PACS_OK;
        }
        return PACS_ENOTFOUND;
    } catch (...) {
        return PACS_ENOMEM;
    }
}

const char *pacs_dcm_tag_keyword(uint32_t tag)
{
    try {
        const DcmDataDictionary &dict = dcmDataDict.rdlock();
        const DcmDictEntry *e =
            dict.findEntry(DcmTagKey((Uint16)(tag >> 16), (Uint16)(tag & 0xFFFF)), nullptr);
        const char *name = e ? e->getTagName() : nullptr;
        dcmDataDict.rdunlock();
        return name;
    } catch (...) {
        return nullptr;
    }
}
