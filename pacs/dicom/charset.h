// SPDX-License-Identifier: MIT
/*
 * Text in the character sets of Specific Character Set (0008,0005), decoded to UTF-8 (PS3.3
 * C.12.1.1.2, PS3.5 6.1). Every value the index and the metadata hold passes through here at
 * ingest, and so does every C-FIND identifier, so that a name stored as ISO 2022 IR 87 escape
 * sequences is found and answered as `山田^太郎`.
 *
 * Single-byte sets (ISO_IR 100 ... ISO_IR 203, ISO_IR 13) and the sets with code extensions
 * (ISO 2022 IR 6, 13, 87, 100 ... 166, 159, 149, 58, 203) are decoded by one ISO 2022 state
 * machine that follows PS3.5 6.1.2.5: escape sequences designate G0 or G1, and the sets of value
 * 1 are active again after every delimiter (CR, LF, FF, HT, and for multi-valued VRs "\", for
 * PN also "^" and "=") reached in a single-byte G0 set. The bytes of each set go to glibc's
 * iconv converters (ISO-8859-n, TIS-620, EUC-JP for JIS X 0208 and 0212, EUC-KR for KS X 1001,
 * GB2312 for GB 2312; Debian's DCMTK 3.6.7 asks glibc for "ISO-IR-87", which glibc has not, and
 * so refused whole datasets). ISO_IR 192, GB18030 and GBK have no code extensions and are
 * decoded as whole values (their second bytes may look like delimiters).
 *
 * Thread-safety: a pacs_charset belongs to one thread at a time (it caches iconv descriptors).
 */
#ifndef PACS_DICOM_CHARSET_H
#define PACS_DICOM_CHARSET_H

#include <stddef.h>

#include "pacs/base/err.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct pacs_charset pacs_charset;

/**
 * A decoder for the character sets a Specific Character Set value names: `terms` is the value
 * as the element holds it (defined terms separated by "\"; NULL or "" for the default
 * repertoire). Terms are matched ignoring case, spaces, "_" and "-" ("ISO_IR 100", "ISO-IR
 * 100"). An unknown first term gives PACS_EUNSUPPORTED naming it; unknown further terms are
 * left out (their escape sequences will not decode). `*out` is written on success only; free it
 * with pacs_charset_close().
 */
pacs_err pacs_charset_open(const char *terms, pacs_charset **out, pacs_errinfo *ei);

/** NULL is accepted. */
void pacs_charset_close(pacs_charset *cs);

/** True when text without escape sequences or bytes over 0x7F decodes to itself. */
int pacs_charset_ascii_is_identity(const pacs_charset *cs);

/**
 * Decodes one element's value, `len` bytes with all its values ("\"-separated), to UTF-8.
 * `vr` ("PN", "LO", "LT", ...) says which delimiters reset the character sets. On success
 * `*out` is a new NUL-terminated string the caller frees, `*out_len` its length. PACS_EBADDATA
 * with a message naming the first offending byte's position and the set in force (never the
 * value itself) when the bytes are not valid: an unknown escape sequence, a byte no designated
 * set covers, half a two-byte character, a code the converter refuses. PACS_ENOMEM.
 */
pacs_err pacs_charset_decode(pacs_charset *cs, const char *vr, const char *in, size_t len,
                             char **out, size_t *out_len, pacs_errinfo *ei);

#ifdef __cplusplus
}
#endif

#endif
