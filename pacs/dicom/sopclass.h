// SPDX-License-Identifier: MIT
/*
 * What the DICOM port takes, as tables: the Storage SOP Classes accepted by name, and the
 * transfer syntaxes a stored object may come in. pacs_dcm_is_storage_class() and
 * pacs_dcm_ts_known() (dcm.h) answer from these tables, so association negotiation, the
 * Conformance Statement's test (tests/tools/assocprobe.c prints them) and ingest agree.
 * Read-only static data: thread-safe.
 */
#ifndef PACS_DICOM_SOPCLASS_H
#define PACS_DICOM_SOPCLASS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/** Besides the classes of the table, any SOP Class UID under this root is taken as storage
 *  (classes newer than DCMTK 3.6.7's dictionary). */
#define PACS_STORAGE_CLASS_ROOT "1.2.840.10008.5.1.4.1.1."

/** Number of Storage SOP Classes accepted by name: those of DCMTK 3.6.7's list of storage
 *  classes that fit the patient/study/series/instance model (dcmAllStorageSOPClassUIDs). */
size_t pacs_dcm_storage_class_count(void);

/** The i-th (0-based, < count) Storage SOP Class: its UID and DCMTK's name (static strings). */
void pacs_dcm_storage_class_at(size_t i, const char **uid, const char **name);

/** Number of transfer syntaxes objects are taken in: every one DCMTK 3.6.7 can read (by UID),
 *  and HTJ2K (read as explicit VR little endian with encapsulated pixel data). */
size_t pacs_dcm_ts_count(void);

/** The i-th (0-based, < count) transfer syntax: its UID and name (static strings). */
void pacs_dcm_ts_at(size_t i, const char **uid, const char **name);

#ifdef __cplusplus
}
#endif

#endif
