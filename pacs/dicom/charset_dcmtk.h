// SPDX-License-Identifier: MIT
/* The DCMTK side of charset.h, for the C++ files of pacs/dicom only: a whole dataset to UTF-8. */
#ifndef PACS_DICOM_CHARSET_DCMTK_H
#define PACS_DICOM_CHARSET_DCMTK_H

#ifndef __cplusplus
#error "charset_dcmtk.h is for the C++ side of pacs/dicom"
#endif

class DcmItem;

/**
 * Converts, in place, every value of `item` and of the items of its sequences whose VR Specific
 * Character Set governs (PS3.5 6.1.2.3: SH, LO, ST, LT, UC, UT, PN) to UTF-8. An item's own
 * (0008,0005) governs it and the items below it, else its parent's does; each one present
 * becomes "ISO_IR 192". A value that cannot be decoded keeps its bytes as they are and is logged
 * (WARN, naming `what`, the tag, the character set and the reason, never the value). Returns
 * how many values were kept undecoded. Throws std::bad_alloc when out of memory (callers are
 * the try/catch shells of pacs/dicom).
 */
unsigned pacs_charset__item_to_utf8(DcmItem *item, const char *what);

#endif
