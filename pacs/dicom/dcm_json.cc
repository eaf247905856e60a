// SPDX-License-Identifier: MIT
/*
 * DICOM JSON (PS3.18 F.2) from and to DCMTK datasets: the metadata stored at ingest, with bulk
 * data replaced by relative BulkDataURIs, and the identifiers and responses of DIMSE. DCMTK's
 * own writeJson is not used because its bulk-data hook sees only the tag, not the path of
 * nested elements, and it writes DS/FL values that are not always valid JSON; jansson does the
 * JSON, this file the mapping. Text is converted to UTF-8 here, in one place
 * (pacs_dcm__dataset_json), and repaired when it cannot be.
 *
 * Thread-safe: no shared state. Runs once per stored instance at ingest.
 */
#include "pacs/dicom/dcm.h"
#include "pacs/dicom/charset_dcmtk.h"
#include "pacs/dicom/dcm_internal.h"

#include <cerrno>
#include <cstdint>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmdata/dcpixel.h"
#include "dcmtk/dcmdata/dcpixseq.h"
#include "dcmtk/dcmdata/dctk.h"
#include "dcmtk/dcmdata/dcxfer.h"
#include "dcmtk/ofstd/ofstd.h"

/* ---- DICOM JSON from DCMTK elements ---- */

/* "GGGGEEEE" in upper-case hex. By hand: snprintf cost more than the rest of an element's key
 * (callgrind, pacs import of small files: a sixth of the metadata's making). */
static std::string tag_key(const DcmTagKey &t)
{
    char b[9];
    pacs_dcm_tag_key(((uint32_t)t.getGroup() << 16) | t.getElement(), b);
    return std::string(b, 8);
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

/* A VR by its two letters (std::string's compare with a C string cost ~25 instructions each,
 * up to twenty times per element). */
static inline bool vr_is(const std::string &vr, const char (&x)[3])
{
    return vr.size() == 2 && vr[0] == x[0] && vr[1] == x[1];
}

static bool is_binary_vr(const std::string &vr)
{
    return vr_is(vr, "OB") || vr_is(vr, "OW") || vr_is(vr, "OD") || vr_is(vr, "OF") ||
           vr_is(vr, "OL") || vr_is(vr, "OV") || vr_is(vr, "UN");
}

/* Single-valued text VRs whose backslashes are data, not value separators. */
static bool is_single_text_vr(const std::string &vr)
{
    return vr_is(vr, "LT") || vr_is(vr, "ST") || vr_is(vr, "UT") || vr_is(vr, "UR");
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
    if (el->ident() == EVR_SQ || vr_is(vr, "SQ")) {
        std::string uri = path + tag_key(el->getTag());
        if (!vr_is(vr, "SQ")) {
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
        put_binary(attr, el, path + tag_key(el->getTag()), cx);
        return attr;
    }
    if (el->getLength() == 0) {
        return attr;
    }
    json_t *values = json_array();
    unsigned long vm = el->getVM();
    if (vr_is(vr, "AT")) {
        for (unsigned long i = 0; i < vm; i++) {
            DcmTagKey t;
            if (el->getTagVal(t, i).good()) {
                json_array_append_new(values, json_string(tag_key(t).c_str()));
            }
        }
    } else if (vr_is(vr, "FL") || vr_is(vr, "FD")) {
        for (unsigned long i = 0; i < vm; i++) {
            Float64 d = 0;
            Float32 f = 0;
            bool ok = vr_is(vr, "FL") ? el->getFloat32(f, i).good() : el->getFloat64(d, i).good();
            double v = vr_is(vr, "FL") ? (double)f : d;
            json_array_append_new(values, ok && std::isfinite(v) ? json_real(v) : json_null());
        }
    } else if (vr_is(vr, "SS") || vr_is(vr, "US") || vr_is(vr, "SL") || vr_is(vr, "UL") ||
               vr_is(vr, "SV") || vr_is(vr, "UV")) {
        for (unsigned long i = 0; i < vm; i++) {
            json_int_t v = 0;
            bool ok = false;
            if (vr_is(vr, "SS")) {
                Sint16 x;
                ok = el->getSint16(x, i).good();
                v = x;
            } else if (vr_is(vr, "US")) {
                Uint16 x;
                ok = el->getUint16(x, i).good();
                v = x;
            } else if (vr_is(vr, "SL")) {
                Sint32 x;
                ok = el->getSint32(x, i).good();
                v = x;
            } else if (vr_is(vr, "UL")) {
                Uint32 x;
                ok = el->getUint32(x, i).good();
                v = x;
            } else if (vr_is(vr, "SV")) {
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
                if (vr_is(vr, "UI")) {
                    rtrim(v, std::string(1, '\0').append(" "));
                } else {
                    trim(v);
                }
                if (vr_is(vr, "PN")) {
                    json_array_append_new(values, pn_value(v, cx));
                } else if (vr_is(vr, "IS") || vr_is(vr, "DS")) {
                    json_array_append_new(values, number_or_text(v, vr_is(vr, "IS"), cx));
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
    /* Walked in order: getElement(i) seeks from the first element each time. */
    for (DcmObject *o = item->nextInContainer(nullptr); o; o = item->nextInContainer(o)) {
        DcmElement *el = OFstatic_cast(DcmElement *, o);
        const DcmTag &t = el->getTag();
        if (t.getElement() == 0x0000 || t.getGroup() == 0x0002) {
            continue; /* group lengths and meta information are not part of the model */
        }
        json_object_set_new(obj, tag_key(t).c_str(), element_to_json(el, path, cx));
    }
    return obj;
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

static std::string json_scalar_text(const json_t *v)
{
    if (json_is_string(v)) {
        return std::string(json_string_value(v), json_string_length(v));
    }
    if (json_is_integer(v)) {
        return std::to_string((long long)json_integer_value(v));
    }
    if (json_is_real(v)) {
        return format_ds(json_real_value(v));
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
        if (vr_is(vr, "SQ")) {
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
                if (vr_is(vr, "OW")) {
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
                joined += json_scalar_text(v);
            }
            if (vr_is(vr, "AT")) {
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

json_t *pacs_dcm__dataset_json(DcmDataset *ds, bool bulk, const char *what, bool *repaired)
{
    json_ctx cx = {bulk, false, 0};
    ds->findAndGetUint16(DCM_BitsAllocated, cx.bits_allocated);
    /* Text to UTF-8 (charset_dcmtk.h); a value that cannot be decoded keeps its bytes. */
    if (pacs_charset__item_to_utf8(ds, what) > 0) {
        cx.repaired = true;
    }
    json_t *j = item_to_json(ds, bulk ? "bulkdata/" : "", cx);
    *repaired = cx.repaired;
    return j;
}

pacs_err pacs_dcm__json_to_dataset(const json_t *obj, DcmDataset *ds, pacs_errinfo *ei)
{
    pacs_err err = json_to_item(obj, ds, ei, 0);
    if (err == PACS_OK && has_non_ascii(obj)) {
        ds->putAndInsertString(DCM_SpecificCharacterSet, "ISO_IR 192");
    }
    return err;
}
