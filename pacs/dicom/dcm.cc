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
