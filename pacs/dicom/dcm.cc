// SPDX-License-Identifier: MIT
/*
 * dcmdata behind a C API (dcm.h), the toolkit's side: one-time set-up (dictionary, codecs,
 * TCP_NODELAY) and the data dictionary
 * (VRs, keywords). The other jobs of dcm.h live beside it: dcm_parse.cc (the parse at ingest,
 * probing files), dcm_json.cc (DICOM JSON both ways), dcm_ds.cc (small datasets). Every exported
 * function is a try/catch shell: no exception, OFCondition or DCMTK type leaves these files.
 *
 * Thread-safe after pacs_dcm_init(): the dictionary is read under DCMTK's lock.
 */
#include "pacs/dicom/dcm.h"
#include "pacs/dicom/dcm_internal.h"
#include "pacs/base/log.h"

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmdata/dcdict.h"
#include "dcmtk/dcmdata/dcuid.h"
#include "dcmtk/dcmdata/dctk.h"
#include "dcmtk/dcmdata/dcxfer.h"
#include "dcmtk/oflog/oflog.h"

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

bool pacs_dcm__ts_is_htj2k(const char *ts)
{
    return strcmp(ts, "1.2.840.10008.1.2.4.201") == 0 ||
           strcmp(ts, "1.2.840.10008.1.2.4.202") == 0 || strcmp(ts, "1.2.840.10008.1.2.4.203") == 0;
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

/* Keyword to tag, for QIDO-RS keys and includefield: DCMTK's DcmTag::findTagFromName walks the
 * whole dictionary (~0.8 M instructions a keyword, most of an empty QIDO request's cost), so the
 * keywords are sorted once, on first use, and searched by bisection. The same answer as
 * findTagFromName: a public tag first, then a repeating-group one (its lowest group), then the
 * first private one (test_dcm compares them over the whole dictionary). */
namespace
{
struct keyword_tag {
    const char *name; /* the dictionary's own string: it lives as long as the process */
    uint32_t tag;
};

bool keyword_less(const keyword_tag &a, const keyword_tag &b)
{
    return strcmp(a.name, b.name) < 0;
}

uint32_t key_of(const DcmDictEntry *e)
{
    return ((uint32_t)e->getGroup() << 16) | e->getElement();
}

enum rank { PUBLIC_ONLY, ANY, PRIVATE_ONLY };

/* Appends the named entries of [it, end) of the rank asked (earlier appends win). */
template <typename It> void add_entries(OFVector<keyword_tag> &v, It it, It end, rank r)
{
    for (; it != end; ++it) {
        const DcmDictEntry *e = *it;
        const char *name = e->getTagName();
        bool is_private = e->getGroup() % 2 == 1;
        if (name && *name && (r == ANY || is_private == (r == PRIVATE_ONLY))) {
            v.push_back(keyword_tag{name, key_of(e)});
        }
    }
}

struct keyword_index {
    OFVector<keyword_tag> v;
    keyword_index()
    {
        /* Iterating is reading, but DCMTK declares its iterators non-const. */
        DcmDataDictionary &dict = const_cast<DcmDataDictionary &>(dcmDataDict.rdlock());
        OFVector<keyword_tag> all;
        try {
            add_entries(all, dict.normalBegin(), dict.normalEnd(), PUBLIC_ONLY);
            add_entries(all, dict.repeatingBegin(), dict.repeatingEnd(), ANY);
            add_entries(all, dict.normalBegin(), dict.normalEnd(), PRIVATE_ONLY);
        } catch (...) {
            dcmDataDict.rdunlock();
            throw;
        }
        dcmDataDict.rdunlock();
        /* A stable sort keeps the ranks' order among equal names: the first is the answer. */
        std::stable_sort(all.begin(), all.end(), keyword_less);
        for (size_t i = 0; i < all.size(); i++) {
            if (v.empty() || strcmp(v.back().name, all[i].name) != 0) {
                v.push_back(all[i]);
            }
        }
    }
};
} // namespace

void pacs_dcm_tag_key(uint32_t tag, char key[9])
{
    static const char hex[] = "0123456789ABCDEF";
    for (int i = 7; i >= 0; i--) {
        key[i] = hex[tag & 0xF];
        tag >>= 4;
    }
    key[8] = '\0';
}

pacs_err pacs_dcm_tag_parse(const char *text, uint32_t *tag)
{
    try {
        /* Eight hex digits, read by hand: strlen, strspn and strtoul were most of the work of
         * placing each attribute of a stored instance at its level (catalog.c). */
        uint32_t v = 0;
        size_t n = 0;
        for (; n < 8; n++) {
            char c = text[n];
            int d = c >= '0' && c <= '9'   ? c - '0'
                    : c >= 'A' && c <= 'F' ? c - 'A' + 10
                    : c >= 'a' && c <= 'f' ? c - 'a' + 10
                                           : -1;
            if (d < 0) {
                break;
            }
            v = v << 4 | (uint32_t)d;
        }
        if (n == 8 && text[8] == '\0') {
            *tag = v;
            return PACS_OK;
        }
        n = strlen(text);
        static const keyword_index index; /* built once, thread-safely (C++11 statics) */
        keyword_tag want{text, 0};
        auto it = std::lower_bound(index.v.begin(), index.v.end(), want, keyword_less);
        if (n > 0 && it != index.v.end() && strcmp(it->name, text) == 0) {
            *tag = it->tag;
            return PACS_OK;
        }
        return PACS_ENOTFOUND;
    } catch (...) {
        return PACS_ENOMEM;
    }
}

size_t pacs_dcm__keyword_mismatches(size_t *checked)
{
    try {
        OFVector<OFString> names;
        DcmDataDictionary &dict = const_cast<DcmDataDictionary &>(dcmDataDict.rdlock());
        for (DcmHashDictIterator it = dict.normalBegin(); it != dict.normalEnd(); ++it) {
            names.push_back((*it)->getTagName() ? (*it)->getTagName() : "");
        }
        for (DcmDictEntryListIterator it = dict.repeatingBegin(); it != dict.repeatingEnd(); ++it) {
            names.push_back((*it)->getTagName() ? (*it)->getTagName() : "");
        }
        dcmDataDict.rdunlock();
        size_t bad = 0;
        *checked = 0;
        for (size_t i = 0; i < names.size(); i++) {
            if (names[i].empty()) {
                continue;
            }
            DcmTag t;
            uint32_t ours = 0, theirs = 0;
            bool found = DcmTag::findTagFromName(names[i].c_str(), t).good();
            if (found) {
                theirs = ((uint32_t)t.getGroup() << 16) | t.getElement();
            }
            (*checked)++;
            if ((pacs_dcm_tag_parse(names[i].c_str(), &ours) == PACS_OK) != found ||
                ours != theirs) {
                bad++;
            }
        }
        return bad;
    } catch (...) {
        return (size_t)-1;
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
