// SPDX-License-Identifier: MIT
/*
 * Unicode folding for name matching, on utf8proc: a case-folded form (PatientName matching is
 * case-insensitive) and a search form with case, diacritics and the Vietnamese đ removed, so
 * that "nguyen" finds "Nguyễn". Thread-safe.
 */
#ifndef PACS_STORAGE_FOLD_H
#define PACS_STORAGE_FOLD_H

/** Case-folded, NFC copy of `utf8`; NULL when out of memory or not valid UTF-8. Free it. */
char *pacs_fold_case(const char *utf8);

/**
 * Search form of a person name: case-folded, decomposed with combining marks stripped, đ/Đ
 * mapped to d (U+0111 is a letter of its own, not d plus a mark, so Unicode keeps it), and the
 * PN separators '^' and '=' turned into spaces, runs of spaces collapsed, ends trimmed.
 * "Nguyễn^Thị Hương" gives "nguyen thi huong". NULL on failure. Free it.
 */
char *pacs_fold_name(const char *utf8);

/**
 * A person name for a console that shows only ASCII (a worklist AE with `names=ascii`):
 * decomposed with combining marks stripped, đ/Đ as D, letters upper-cased, the PN separators
 * '^' and '=' kept, any other character outside ASCII as '?'. "Nguyễn^Văn An" gives
 * "NGUYEN^VAN AN". NULL when out of memory or not valid UTF-8. Free it.
 */
char *pacs_fold_ascii_upper(const char *utf8);

/** True when `s` is plain ASCII (a name typed without diacritics). */
int pacs_is_ascii(const char *s);

#endif
