// SPDX-License-Identifier: MIT
/*
 * Report documents (sr.h): a DSRDocument filled in, written into a DcmFileFormat and encoded
 * into memory. The only exported functions are try/catch shells. Thread-safe: every call works
 * on its own objects.
 */
#include "pacs/dicom/sr.h"

#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmdata/dcdeftag.h"
#include "dcmtk/dcmdata/dcfilefo.h"
#include "dcmtk/dcmdata/dcostrmb.h"
#include "dcmtk/dcmdata/dcuid.h"
#include "dcmtk/dcmsr/dsrdoc.h"

#include "pacs/dicom/part10.h"

/* pacsd's UID root for report documents (beside codec.cc's for derived images). */
#define REPORT_UID_ROOT "1.2.826.0.1.3680043.10.1347.6"

namespace
{

const char *str(const char *s)
{
    return s ? s : "";
}

/* Sets an optional attribute; DCMTK checks its VR and VM. */
pacs_err put(OFCondition c, const char *what, pacs_errinfo *ei)
{
    if (c.bad()) {
        return pacs_errf(ei, PACS_EINVAL, "%s: %s", what, c.text());
    }
    return PACS_OK;
}

pacs_err fill(DSRDocument &doc, const pacs_sr_input *in, pacs_errinfo *ei)
{
    pacs_err err = put(doc.setSpecificCharacterSetType(DSRTypes::CS_UTF8), "charset", ei);
    if (!err) {
        err = put(doc.createNewSeriesInStudy(in->study_uid), "study_uid", ei);
    }
    const struct {
        OFCondition (DSRDocument::*set)(const OFString &, const OFBool);
        const char *value, *name;
    } attrs[] = {
        {&DSRDocument::setPatientName, in->patient_name, "PatientName"},
        {&DSRDocument::setPatientID, in->patient_id, "PatientID"},
        {&DSRDocument::setIssuerOfPatientID, in->issuer, "IssuerOfPatientID"},
        {&DSRDocument::setPatientBirthDate, in->birth_date, "PatientBirthDate"},
        {&DSRDocument::setPatientSex, in->sex, "PatientSex"},
        {&DSRDocument::setStudyDate, in->study_date, "StudyDate"},
        {&DSRDocument::setStudyTime, in->study_time, "StudyTime"},
        {&DSRDocument::setStudyID, in->study_id, "StudyID"},
        {&DSRDocument::setAccessionNumber, in->accession, "AccessionNumber"},
        {&DSRDocument::setReferringPhysicianName, in->referring, "ReferringPhysicianName"},
        {&DSRDocument::setContentDate, in->content_date, "ContentDate"},
        {&DSRDocument::setContentTime, in->content_time, "ContentTime"},
        {&DSRDocument::setSeriesNumber, "9001", "SeriesNumber"},
        {&DSRDocument::setInstanceNumber, "1", "InstanceNumber"},
        {&DSRDocument::setSeriesDescription, "Report", "SeriesDescription"},
        {&DSRDocument::setManufacturer, "pacsd", "Manufacturer"},
    };
    for (const auto &a : attrs) {
        if (!err && a.value && a.value[0]) {
            err = put((doc.*a.set)(a.value, OFTrue), a.name, ei);
        }
    }
    if (err) {
        return err;
    }
    DSRDocumentTree &tree = doc.getTree();
    if (tree.addContentItem(DSRTypes::RT_isRoot, DSRTypes::VT_Container) == 0 ||
        tree.getCurrentContentItem()
            .setConceptName(DSRCodedEntryValue("18748-4", "LN", "Diagnostic imaging report"))
            .bad()) {
        return pacs_errf(ei, PACS_ENOMEM, "cannot make the content tree");
    }
    if (tree.addContentItem(DSRTypes::RT_hasObsContext, DSRTypes::VT_PName,
                            DSRTypes::AM_belowCurrent) == 0 ||
        tree.getCurrentContentItem()
            .setConceptName(DSRCodedEntryValue("121008", "DCM", "Person Observer Name"))
            .bad()) {
        return pacs_errf(ei, PACS_ENOMEM, "cannot make the content tree");
    }
    err = put(tree.getCurrentContentItem().setStringValue(in->author), "author", ei);
    if (!err && (tree.addContentItem(DSRTypes::RT_contains, DSRTypes::VT_Text,
                                     DSRTypes::AM_afterCurrent) == 0 ||
                 tree.getCurrentContentItem()
                     .setConceptName(DSRCodedEntryValue("121070", "DCM", "Findings"))
                     .bad())) {
        return pacs_errf(ei, PACS_ENOMEM, "cannot make the content tree");
    }
    if (!err) {
        err = put(tree.getCurrentContentItem().setStringValue(in->text), "text", ei);
    }
    if (!err && in->amends_sop && in->amends_sop[0]) {
        err = put(doc.getPredecessorDocuments().addItem(in->study_uid, str(in->amends_series),
                                                        str(in->amends_class), in->amends_sop),
                  "amends", ei);
    }
    if (!err && in->final) {
        err = put(doc.completeDocument(), "completion", ei);
        if (!err) {
            const char *org = in->organization && in->organization[0] ? in->organization : "-";
            OFString when = OFString(in->content_date) + in->content_time;
            err = put(doc.verifyDocument(in->author, org, when), "author", ei);
        }
    }
    return err;
}

pacs_err encode(DcmFileFormat &ff, uint8_t **out, size_t *len, pacs_errinfo *ei)
{
    const E_TransferSyntax xf = EXS_LittleEndianExplicit;
    OFCondition c = ff.validateMetaInfo(xf);
    if (c.bad()) {
        return pacs_errf(ei, PACS_EINVAL, "meta header: %s", c.text());
    }
    Uint32 n = ff.calcElementLength(xf, EET_ExplicitLength);
    if (n == 0 || n > 0x10000000u) {
        return pacs_errf(ei, PACS_EINVAL, "report of %u bytes", (unsigned)n);
    }
    uint8_t *buf = (uint8_t *)malloc(n + 1024);
    if (!buf) {
        return pacs_errf(ei, PACS_ENOMEM, "out of memory");
    }
    DcmOutputBufferStream os(buf, n + 1024);
    ff.transferInit();
    c = ff.write(os, xf, EET_ExplicitLength, nullptr);
    ff.transferEnd();
    void *written = nullptr;
    offile_off_t got = 0;
    os.flushBuffer(written, got);
    if (c.bad()) {
        free(buf);
        return pacs_errf(ei, PACS_EINVAL, "cannot encode the report: %s", c.text());
    }
    *out = buf;
    *len = (size_t)got;
    return PACS_OK;
}

} // namespace

extern "C" pacs_err pacs_sr_build(const pacs_sr_input *in, uint8_t **out, size_t *len,
                                  pacs_errinfo *ei)
{
    try {
        const struct {
            const char *v, *name;
            int uid;
        } required[] = {{in->study_uid, "study_uid", 1},
                        {in->series_uid, "series_uid", 1},
                        {in->sop_uid, "sop_uid", 1},
                        {in->content_date, "content_date", 0},
                        {in->content_time, "content_time", 0},
                        {in->text, "text", 0},
                        {in->author, "author", 0}};
        for (const auto &r : required) {
            if (!r.v || !r.v[0] || (r.uid && !pacs_uid_valid(r.v))) {
                return pacs_errf(ei, PACS_EINVAL, "%s: missing or not valid", r.name);
            }
        }
        int amends = (in->amends_sop && in->amends_sop[0]) +
                     (in->amends_series && in->amends_series[0]) +
                     (in->amends_class && in->amends_class[0]);
        if (amends != 0 && amends != 3) {
            return pacs_errf(ei, PACS_EINVAL, "amends: series, instance and class, or none");
        }
        DSRDocument doc(DSRTypes::DT_BasicTextSR);
        pacs_err err = fill(doc, in, ei);
        if (err) {
            return err;
        }
        DcmFileFormat ff;
        DcmDataset *ds = ff.getDataset();
        OFCondition c = doc.write(*ds);
        if (c.good()) {
            c = ds->putAndInsertString(DCM_SeriesInstanceUID, in->series_uid);
        }
        if (c.good()) {
            c = ds->putAndInsertString(DCM_SOPInstanceUID, in->sop_uid);
        }
        if (c.bad()) {
            return pacs_errf(ei, PACS_EINVAL, "cannot write the report: %s", c.text());
        }
        return encode(ff, out, len, ei);
    } catch (...) {
        return pacs_errf(ei, PACS_ENOMEM, "out of memory while making the report");
    }
}

extern "C" void pacs_sr_new_uid(char *out)
{
    char tmp[100];
    dcmGenerateUniqueIdentifier(tmp, REPORT_UID_ROOT);
    size_t n = strnlen(tmp, 64);
    memcpy(out, tmp, n); /* DCMTK's UIDs stay within 64 characters */
    out[n] = '\0';
}
