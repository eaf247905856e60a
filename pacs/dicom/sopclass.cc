// SPDX-License-Identifier: MIT
/*
 * The tables of sopclass.h, built once from DCMTK's own lists, and the two predicates of dcm.h
 * that answer from them. Every exported function is a try/catch shell. Thread-safe: the tables
 * are built under std::call_once and read-only afterwards.
 */
#include "pacs/dicom/sopclass.h"
#include "pacs/dicom/codec.h"
#include "pacs/dicom/dcm.h"

#include <cstring>
#include <mutex>
#include <string>
#include <vector>

#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmdata/dcuid.h"
#include "dcmtk/dcmdata/dcxfer.h"

namespace
{

struct entry {
    const char *uid;
    const char *name;
};

struct tables {
    std::vector<entry> classes, syntaxes;
};

const tables &get()
{
    static tables t;
    static std::once_flag once;
    std::call_once(once, [] {
        for (int i = 0; i < numberOfDcmAllStorageSOPClassUIDs; i++) {
            const char *uid = dcmAllStorageSOPClassUIDs[i];
            if (uid && *uid) {
                t.classes.push_back({uid, dcmFindNameOfUID(uid, uid)});
            }
        }
        /* Every E_TransferSyntax DCMTK has a UID for (one of them is internal only). */
        for (int x = EXS_LittleEndianImplicit; x <= EXS_PrivateGE_LEI_WithBigEndianPixelData; x++) {
            DcmXfer xfer(static_cast<E_TransferSyntax>(x));
            const char *uid = xfer.getXferID();
            if (uid && *uid && xfer.getXfer() != EXS_Unknown) {
                t.syntaxes.push_back({uid, xfer.getXferName()});
            }
        }
        t.syntaxes.push_back({PACS_TS_HTJ2K_LOSSLESS, "High-Throughput JPEG 2000 (Lossless Only)"});
        t.syntaxes.push_back({PACS_TS_HTJ2K_LOSSLESS_RPCL,
                              "High-Throughput JPEG 2000 with RPCL Options (Lossless Only)"});
        t.syntaxes.push_back({PACS_TS_HTJ2K, "High-Throughput JPEG 2000"});
    });
    return t;
}

bool in(const std::vector<entry> &v, const char *uid)
{
    for (const entry &e : v) {
        if (strcmp(e.uid, uid) == 0) {
            return true;
        }
    }
    return false;
}

} // namespace

extern "C" size_t pacs_dcm_storage_class_count(void)
{
    try {
        return get().classes.size();
    } catch (...) {
        return 0;
    }
}

extern "C" void pacs_dcm_storage_class_at(size_t i, const char **uid, const char **name)
{
    const entry &e = get().classes.at(i);
    *uid = e.uid;
    *name = e.name;
}

extern "C" size_t pacs_dcm_ts_count(void)
{
    try {
        return get().syntaxes.size();
    } catch (...) {
        return 0;
    }
}

extern "C" void pacs_dcm_ts_at(size_t i, const char **uid, const char **name)
{
    const entry &e = get().syntaxes.at(i);
    *uid = e.uid;
    *name = e.name;
}

extern "C" int pacs_dcm_is_storage_class(const char *uid)
{
    try {
        return strncmp(uid, PACS_STORAGE_CLASS_ROOT, strlen(PACS_STORAGE_CLASS_ROOT)) == 0 ||
               in(get().classes, uid);
    } catch (...) {
        return 0;
    }
}

extern "C" int pacs_dcm_ts_known(const char *ts_uid)
{
    try {
        return in(get().syntaxes, ts_uid);
    } catch (...) {
        return 0;
    }
}
