// SPDX-License-Identifier: MIT
/*
 * DICOMDIR reading (dicomdir.h) on DCMTK's dcmdata: the file is loaded as an ordinary dataset
 * and the Directory Record Sequence walked for Referenced File IDs. Large values are left on
 * disk; only the records' small attributes are read. A try/catch shell: nothing from DCMTK
 * leaves this file. Thread-safe: no shared state.
 */
#include "pacs/dicom/dicomdir.h"

#include <cstring>
#include <string>

#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmdata/dctk.h"

pacs_err pacs_dicomdir_files(const char *path, pacs_dicomdir_cb cb, void *ctx, pacs_errinfo *ei)
{
    try {
        DcmFileFormat ff;
        OFCondition c = ff.loadFile(OFFilename(path), EXS_Unknown, EGL_noChange, 4096);
        if (c.bad()) {
            return pacs_errf(ei, PACS_EBADDATA, "cannot read DICOMDIR %s: %s", path, c.text());
        }
        DcmSequenceOfItems *records = nullptr;
        if (ff.getDataset()->findAndGetSequence(DCM_DirectoryRecordSequence, records).bad() ||
            !records) {
            return pacs_errf(ei, PACS_EBADDATA, "%s is not a DICOMDIR (no directory records)",
                             path);
        }
        std::string base(path);
        size_t slash = base.find_last_of('/');
        base = slash == std::string::npos ? std::string() : base.substr(0, slash + 1);
        for (unsigned long i = 0; i < records->card(); i++) {
            DcmItem *rec = records->getItem(i);
            OFString id;
            if (!rec || rec->findAndGetOFStringArray(DCM_ReferencedFileID, id).bad() ||
                id.empty()) {
                continue;
            }
            std::string rel;
            bool ok = true;
            size_t start = 0;
            std::string all(id.c_str());
            for (;;) {
                size_t bs = all.find('\\', start);
                std::string part =
                    all.substr(start, bs == std::string::npos ? std::string::npos : bs - start);
                while (!part.empty() && part.back() == ' ') {
                    part.pop_back();
                }
                if (part.empty() || part == "." || part == ".." ||
                    part.find('/') != std::string::npos) {
                    ok = false;
                    break;
                }
                rel += (rel.empty() ? "" : "/") + part;
                if (bs == std::string::npos) {
                    break;
                }
                start = bs + 1;
            }
            if (ok && cb(ctx, (base + rel).c_str())) {
                break;
            }
        }
        return PACS_OK;
    } catch (...) {
        return pacs_errf(ei, PACS_ENOMEM, "out of memory reading %s", path);
    }
}
