// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for Specific Character Set decoding (pacs/dicom/charset.h). Input: a first
 * line holding the value of (0008,0005) (the defined terms as an element holds them), then one
 * byte choosing the VR (PN, LO or LT: the three delimiter rules), then the value's bytes.
 * Nothing may crash or read out of bounds; a value that decodes must come out as well-formed
 * UTF-8 of its stated length; a refusal must say why. Seeds: testdata/fuzz/fuzz_charset/
 * (an example of every escape sequence, pydicom's sample names). Single-threaded.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pacs/dicom/charset.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* True when `s` (n bytes) is well-formed UTF-8 (RFC 3629). */
static int utf8_ok(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        size_t len = c < 0x80                 ? 1
                     : c >= 0xC2 && c <= 0xDF ? 2
                     : (c >> 4) == 0xE        ? 3
                     : c >= 0xF0 && c <= 0xF4 ? 4
                                              : 0;
        if (len == 0 || i + len > n) {
            return 0;
        }
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] >> 6) != 2) {
                return 0;
            }
        }
        if ((c == 0xE0 && s[i + 1] < 0xA0) || (c == 0xED && s[i + 1] >= 0xA0) ||
            (c == 0xF0 && s[i + 1] < 0x90) || (c == 0xF4 && s[i + 1] >= 0x90)) {
            return 0;
        }
        i += len;
    }
    return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nl = memchr(data, '\n', size < 200 ? size : 200);
    if (!nl || (size_t)(nl - data) + 2 > size) {
        return 0;
    }
    char terms[201];
    size_t tl = (size_t)(nl - data);
    memcpy(terms, data, tl);
    terms[tl] = '\0';
    static const char *const vrs[] = {"PN", "LO", "LT"};
    const char *vr = vrs[nl[1] % 3];
    const char *value = (const char *)nl + 2;
    size_t len = size - tl - 2;
    pacs_charset *cs = NULL;
    pacs_errinfo ei;
    if (memchr(terms, '\0', tl) || pacs_charset_open(terms, &cs, &ei) != PACS_OK) {
        return 0;
    }
    char *out = NULL;
    size_t n = 0;
    pacs_err err = pacs_charset_decode(cs, vr, value, len, &out, &n, &ei);
    if (err == PACS_OK) {
        if (strlen(out) != n && !memchr(value, '\0', len)) {
            abort();
        }
        if (!utf8_ok((const unsigned char *)out, n)) {
            abort();
        }
        free(out);
    } else if (err != PACS_EBADDATA && err != PACS_EUNSUPPORTED && err != PACS_ENOMEM) {
        abort();
    } else if (!ei.msg[0]) {
        abort();
    }
    pacs_charset_close(cs);
    return 0;
}
