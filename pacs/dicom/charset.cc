// SPDX-License-Identifier: MIT
/*
 * Specific Character Set decoding (charset.h) and its use on whole DCMTK datasets
 * (charset_dcmtk.h). The ISO 2022 state machine is written here because no Debian library
 * segments DICOM's values: DCMTK 3.6.7's DcmSpecificCharacterSet does it, but hands JIS X 0208
 * and 0212 to iconv as "ISO-IR-87" and "ISO-IR-159", which glibc does not provide, so it refuses
 * any dataset naming ISO 2022 IR 87 or 159; glibc's stateful ISO-2022-JP converters do not know
 * DICOM's G1 sets (ISO 2022 IR 13 katakana, ISO 2022 IR 100 ...) nor its delimiter rule. The
 * characters themselves are converted by glibc's iconv: JIS X 0208 and 0212 as EUC-JP (each
 * byte with its high bit set, 0212 behind the SS3 byte 0x8F), KS X 1001 as EUC-KR and GB 2312
 * as EUC-CN, the 96-character sets as ISO-8859-n and TIS-620. JIS X 0201 (romaji and katakana)
 * is mapped here. Load: every stored object and C-FIND identifier with a character set other
 * than ASCII or UTF-8. Thread-safety: see charset.h.
 */
#include "pacs/dicom/charset.h"
#include "pacs/dicom/charset_dcmtk.h"

#include <cerrno>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iconv.h>
#include <new>
#include <string>

#include "dcmtk/config/osconfig.h"
#include "dcmtk/dcmdata/dctk.h"
#include "pacs/base/log.h"

namespace
{

/* The code elements of PS3.3 Tables C.12-2 to C.12-5. */
enum set_id {
    S_NONE,
    S_ASCII,    /* ISO-IR 6, G0 */
    S_ROMAJI,   /* ISO-IR 14 (JIS X 0201 romaji), G0 */
    S_JIS0208,  /* ISO-IR 87, G0, two bytes */
    S_JIS0212,  /* ISO-IR 159, G0, two bytes */
    S_KATAKANA, /* ISO-IR 13 (JIS X 0201 katakana), G1 */
    S_KSC,      /* ISO-IR 149 (KS X 1001), G1, two bytes */
    S_GB2312,   /* ISO-IR 58 (GB 2312), G1, two bytes */
    S_LATIN1,
    S_LATIN2,
    S_LATIN3,
    S_LATIN4,
    S_CYRILLIC,
    S_ARABIC,
    S_GREEK,
    S_HEBREW,
    S_LATIN5,
    S_THAI,
    S_LATIN9,
    S_COUNT
};

struct set_info {
    const char *esc;   /* the escape sequence's bytes after ESC */
    int g;             /* the code element it designates: 0 (G0) or 1 (G1) */
    const char *iconv; /* glibc's converter for its bytes; NULL when mapped here */
    const char *name;  /* for messages */
};

/* In set_id order. */
const set_info sets[S_COUNT] = {
    {"", 1, nullptr, "no set"},
    {"(B", 0, nullptr, "ISO-IR 6"},
    {"(J", 0, nullptr, "ISO-IR 14"},
    {"$B", 0, "EUC-JP", "ISO-IR 87"},
    {"$(D", 0, "EUC-JP", "ISO-IR 159"},
    {")I", 1, nullptr, "ISO-IR 13"},
    {"$)C", 1, "EUC-KR", "ISO-IR 149"},
    {"$)A", 1, "GB2312", "ISO-IR 58"},
    {"-A", 1, "ISO-8859-1", "ISO-IR 100"},
    {"-B", 1, "ISO-8859-2", "ISO-IR 101"},
    {"-C", 1, "ISO-8859-3", "ISO-IR 109"},
    {"-D", 1, "ISO-8859-4", "ISO-IR 110"},
    {"-L", 1, "ISO-8859-5", "ISO-IR 144"},
    {"-G", 1, "ISO-8859-6", "ISO-IR 127"},
    {"-F", 1, "ISO-8859-7", "ISO-IR 126"},
    {"-H", 1, "ISO-8859-8", "ISO-IR 138"},
    {"-M", 1, "ISO-8859-9", "ISO-IR 148"},
    {"-T", 1, "TIS-620", "ISO-IR 166"},
    {"-b", 1, "ISO-8859-15", "ISO-IR 203"},
};

/* Defined terms (matched without case, spaces, '_' and '-'), with the sets they make active
 * at the start of every value when they come first, or the whole-value converter of the three
 * terms without code extensions. Terms that may not come first (ISO 2022 IR 87 ...) are taken
 * there too: G0 stays ASCII for the JIS sets, G1 is the Korean or Chinese set. */
struct term {
    const char *key;
    set_id g0, g1;
    const char *whole; /* the converter of ISO_IR 192, GB18030, GBK */
    const char *name;  /* for messages */
};

const term known_terms[] = {
    {"", S_ASCII, S_NONE, nullptr, nullptr},
    {"ISOIR6", S_ASCII, S_NONE, nullptr, nullptr},
    {"ISO2022IR6", S_ASCII, S_NONE, nullptr, nullptr},
    {"ISOIR100", S_ASCII, S_LATIN1, nullptr, nullptr},
    {"ISO2022IR100", S_ASCII, S_LATIN1, nullptr, nullptr},
    {"ISOIR101", S_ASCII, S_LATIN2, nullptr, nullptr},
    {"ISO2022IR101", S_ASCII, S_LATIN2, nullptr, nullptr},
    {"ISOIR109", S_ASCII, S_LATIN3, nullptr, nullptr},
    {"ISO2022IR109", S_ASCII, S_LATIN3, nullptr, nullptr},
    {"ISOIR110", S_ASCII, S_LATIN4, nullptr, nullptr},
    {"ISO2022IR110", S_ASCII, S_LATIN4, nullptr, nullptr},
    {"ISOIR144", S_ASCII, S_CYRILLIC, nullptr, nullptr},
    {"ISO2022IR144", S_ASCII, S_CYRILLIC, nullptr, nullptr},
    {"ISOIR127", S_ASCII, S_ARABIC, nullptr, nullptr},
    {"ISO2022IR127", S_ASCII, S_ARABIC, nullptr, nullptr},
    {"ISOIR126", S_ASCII, S_GREEK, nullptr, nullptr},
    {"ISO2022IR126", S_ASCII, S_GREEK, nullptr, nullptr},
    {"ISOIR138", S_ASCII, S_HEBREW, nullptr, nullptr},
    {"ISO2022IR138", S_ASCII, S_HEBREW, nullptr, nullptr},
    {"ISOIR148", S_ASCII, S_LATIN5, nullptr, nullptr},
    {"ISO2022IR148", S_ASCII, S_LATIN5, nullptr, nullptr},
    {"ISOIR166", S_ASCII, S_THAI, nullptr, nullptr},
    {"ISO2022IR166", S_ASCII, S_THAI, nullptr, nullptr},
    {"ISOIR203", S_ASCII, S_LATIN9, nullptr, nullptr},
    {"ISO2022IR203", S_ASCII, S_LATIN9, nullptr, nullptr},
    {"ISOIR13", S_ROMAJI, S_KATAKANA, nullptr, nullptr},
    {"ISO2022IR13", S_ROMAJI, S_KATAKANA, nullptr, nullptr},
    {"ISO2022IR87", S_ASCII, S_NONE, nullptr, nullptr},
    {"ISO2022IR159", S_ASCII, S_NONE, nullptr, nullptr},
    {"ISO2022IR149", S_ASCII, S_KSC, nullptr, nullptr},
    {"ISO2022IR58", S_ASCII, S_GB2312, nullptr, nullptr},
    {"ISOIR192", S_ASCII, S_NONE, "UTF-8", "ISO_IR 192"},
    {"GB18030", S_ASCII, S_NONE, "GB18030", "GB18030"},
    {"GBK", S_ASCII, S_NONE, "GBK", "GBK"},
};

const term *find_term(const char *text, size_t len)
{
    std::string key;
    for (size_t i = 0; i < len; i++) {
        char c = text[i];
        if (c == ' ' || c == '_' || c == '-') {
            continue;
        }
        key += (c >= 'a' && c <= 'z') ? (char)(c - 'a' + 'A') : c;
    }
    for (const term &t : known_terms) {
        if (key == t.key) {
            return &t;
        }
    }
    return nullptr;
}

/* Which delimiters end a value, component or component group (PS3.5 6.1.2.5.3). */
enum vr_kind { K_TEXT, K_MULTI, K_PN };

vr_kind kind_of(const char *vr)
{
    if (strcmp(vr, "PN") == 0) {
        return K_PN;
    }
    if (strcmp(vr, "LT") == 0 || strcmp(vr, "ST") == 0 || strcmp(vr, "UT") == 0) {
        return K_TEXT;
    }
    return K_MULTI;
}

bool is_delimiter(vr_kind k, unsigned char c)
{
    return (k != K_TEXT && c == '\\') || (k == K_PN && (c == '^' || c == '='));
}

/* Control characters after which the sets of value 1 are active again. */
bool is_reset_control(unsigned char c)
{
    return c == '\r' || c == '\n' || c == '\f' || c == '\t';
}

void put_utf8(std::string &out, unsigned cp)
{
    if (cp < 0x80) {
        out += (char)cp;
    } else if (cp < 0x800) {
        out += (char)(0xC0 | (cp >> 6));
        out += (char)(0x80 | (cp & 0x3F));
    } else {
        out += (char)(0xE0 | (cp >> 12));
        out += (char)(0x80 | ((cp >> 6) & 0x3F));
        out += (char)(0x80 | (cp & 0x3F));
    }
}

} // namespace

struct pacs_charset {
    std::string terms; /* as given, for messages */
    set_id g0, g1;     /* active at the start of every value */
    const char *whole; /* a whole-value converter, or NULL for the ISO 2022 machine */
    const char *whole_name;
    iconv_t cd[S_COUNT + 1];
};

namespace
{

/* The converter for `set` (S_COUNT: the whole-value one), opened on first use. */
iconv_t converter(pacs_charset *cs, int set)
{
    if (cs->cd[set] == (iconv_t)-1) {
        const char *from = set == S_COUNT ? cs->whole : sets[set].iconv;
        cs->cd[set] = iconv_open("UTF-8", from);
    }
    return cs->cd[set];
}

/* Converts `in` with the converter of `set`; false (and a message) when it is refused. */
bool convert(pacs_charset *cs, int set, const std::string &in, size_t at, std::string &out,
             pacs_errinfo *ei)
{
    const char *name = set == S_COUNT ? cs->whole_name : sets[set].name;
    iconv_t cd = converter(cs, set);
    if (cd == (iconv_t)-1) {
        pacs_errf(ei, PACS_EUNSUPPORTED, "this system's iconv cannot convert %s (%s)", name,
                  set == S_COUNT ? cs->whole : sets[set].iconv);
        return false;
    }
    iconv(cd, nullptr, nullptr, nullptr, nullptr);
    char *src = const_cast<char *>(in.data());
    size_t left = in.size();
    char buf[1024];
    while (left > 0) {
        char *dst = buf;
        size_t room = sizeof buf;
        size_t r = iconv(cd, &src, &left, &dst, &room);
        out.append(buf, (size_t)(dst - buf));
        if (r == (size_t)-1 && errno != E2BIG) {
            /* Where in the value: JIS X 0208 went in as two bytes each with the high bit set,
             * JIS X 0212 as three (behind 0x8F); the others as they were. */
            size_t bad = in.size() - left, pos = bad;
            unsigned char byte = (unsigned char)in[bad];
            if (set == S_JIS0212) {
                pos = bad / 3 * 2;
                byte = (unsigned char)in[bad / 3 * 3 + 1] & 0x7F;
            } else if (set == S_JIS0208) {
                byte &= 0x7F;
            }
            pacs_errf(ei, PACS_EBADDATA, "%s %s at byte %zu (0x%02X)",
                      errno == EINVAL ? "an incomplete character of" : "a code not in", name,
                      at + pos + 1, byte);
            return false;
        }
    }
    char *dst = buf;
    size_t room = sizeof buf;
    iconv(cd, nullptr, nullptr, &dst, &room);
    out.append(buf, (size_t)(dst - buf));
    return true;
}

/* Where `s` stops being well-formed UTF-8 (RFC 3629: no overlong forms, surrogates or code
 * points past U+10FFFF), or `n` when it is. */
size_t utf8_invalid_at(const unsigned char *s, size_t n)
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
            return i;
        }
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] >> 6) != 2) {
                return i;
            }
        }
        if ((c == 0xE0 && s[i + 1] < 0xA0) || (c == 0xED && s[i + 1] >= 0xA0) ||
            (c == 0xF0 && s[i + 1] < 0x90) || (c == 0xF4 && s[i + 1] >= 0x90)) {
            return i;
        }
        i += len;
    }
    return n;
}

/* The set an escape sequence at `p` (just after ESC, `n` bytes left) designates, and its length
 * after ESC; S_NONE when it is none of DICOM's. */
set_id escape_at(const char *p, size_t n, size_t *len)
{
    for (int s = S_ASCII; s < S_COUNT; s++) {
        size_t l = strlen(sets[s].esc);
        if (l <= n && memcmp(p, sets[s].esc, l) == 0) {
            *len = l;
            return (set_id)s;
        }
    }
    return S_NONE;
}

/* The ISO 2022 state machine (PS3.5 6.1.2.5). */
bool decode_2022(pacs_charset *cs, vr_kind kind, const char *in, size_t len, std::string &out,
                 pacs_errinfo *ei)
{
    set_id g0 = cs->g0, g1 = cs->g1;
    /* Bytes waiting for one converter, and where they began in the value. */
    std::string pend;
    int pend_set = S_NONE;
    size_t pend_at = 0;
    bool failed = false; /* a converter refused bytes: `ei` says why */
    auto flush = [&]() {
        if (!pend.empty() && !failed) {
            failed = !convert(cs, pend_set, pend, pend_at, out, ei);
        }
        pend.clear();
        pend_set = S_NONE;
        return !failed;
    };
    auto add = [&](int set, size_t at) -> std::string & {
        if (pend_set != set) {
            flush();
            pend_set = set;
            pend_at = at;
        }
        return pend;
    };
    for (size_t i = 0; i < len && !failed; i++) {
        unsigned char c = (unsigned char)in[i];
        if (c == 0x1B) {
            size_t l = 0;
            set_id s = escape_at(in + i + 1, len - i - 1, &l);
            if (s == S_NONE) {
                pacs_errf(ei, PACS_EBADDATA, "an escape sequence DICOM does not define at byte %zu",
                          i + 1);
                return false;
            }
            if (!flush()) {
                return false;
            }
            (sets[s].g == 0 ? g0 : g1) = s;
            i += l;
            continue;
        }
        bool two_byte_g0 = g0 == S_JIS0208 || g0 == S_JIS0212;
        if (two_byte_g0 && c >= 0x21 && c <= 0x7E) {
            unsigned char c2 = i + 1 < len ? (unsigned char)in[i + 1] : 0;
            if (c2 < 0x21 || c2 > 0x7E) {
                pacs_errf(ei, PACS_EBADDATA, "half a two-byte character of %s at byte %zu",
                          sets[g0].name, i + 1);
                return false;
            }
            std::string &p = add(g0, i);
            if (g0 == S_JIS0212) {
                p += '\x8F';
            }
            p += (char)(c | 0x80);
            p += (char)(c2 | 0x80);
            i++;
            continue;
        }
        if (c < 0x80) {
            if (!flush()) {
                return false;
            }
            bool control = c < 0x20 || c == 0x7F;
            if ((!two_byte_g0 && is_delimiter(kind, c)) || is_reset_control(c)) {
                out += (char)c;
                g0 = cs->g0;
                g1 = cs->g1;
            } else if (g0 == S_ROMAJI && !control && (c == 0x5C || c == 0x7E)) {
                put_utf8(out, c == 0x5C ? 0xA5 : 0x203E); /* YEN SIGN, OVERLINE */
            } else {
                out += (char)c; /* ASCII, SPACE, other control characters */
            }
            continue;
        }
        switch (g1) {
        case S_NONE:
            pacs_errf(ei, PACS_EBADDATA, "byte 0x%02X at %zu, and no set designated to G1", c,
                      i + 1);
            return false;
        case S_KATAKANA:
            if (!flush()) {
                return false;
            }
            if (c < 0xA1 || c > 0xDF) {
                pacs_errf(ei, PACS_EBADDATA, "a code not in ISO-IR 13 at byte %zu (0x%02X)", i + 1,
                          c);
                return false;
            }
            put_utf8(out, 0xFF61 + (c - 0xA1)); /* HALFWIDTH KATAKANA */
            break;
        case S_KSC:
        case S_GB2312: {
            unsigned char c2 = i + 1 < len ? (unsigned char)in[i + 1] : 0;
            if (c2 < 0xA1 || c2 == 0xFF) {
                pacs_errf(ei, PACS_EBADDATA, "half a two-byte character of %s at byte %zu",
                          sets[g1].name, i + 1);
                return false;
            }
            std::string &p = add(g1, i);
            p += (char)c;
            p += (char)c2;
            i++;
            break;
        }
        default:
            add(g1, i) += (char)c;
            break;
        }
    }
    return flush();
}

} // namespace

extern "C" pacs_err pacs_charset_open(const char *value, pacs_charset **out, pacs_errinfo *ei)
{
    pacs_charset *cs = nullptr;
    try {
        cs = new pacs_charset;
        for (iconv_t &cd : cs->cd) {
            cd = (iconv_t)-1;
        }
        cs->terms = value ? value : "";
        const char *p = cs->terms.c_str();
        for (int i = 0;; i++) {
            const char *bs = strchr(p, '\\');
            size_t n = bs ? (size_t)(bs - p) : strlen(p);
            const term *t = find_term(p, n);
            if (i == 0) {
                if (!t) {
                    std::string first(p, n);
                    delete cs;
                    return pacs_errf(ei, PACS_EUNSUPPORTED, "unknown character set '%.64s'",
                                     first.c_str());
                }
                cs->g0 = t->g0;
                cs->g1 = t->g1;
                cs->whole = t->whole;
                cs->whole_name = t->name;
            }
            /* Later terms only declare what escape sequences may invoke: every escape sequence
             * DICOM defines is decoded, declared or not, so they need nothing here. */
            if (!bs) {
                break;
            }
            p = bs + 1;
        }
        *out = cs;
        return PACS_OK;
    } catch (...) {
        delete cs;
        return pacs_errf(ei, PACS_ENOMEM, "out of memory");
    }
}

extern "C" void pacs_charset_close(pacs_charset *cs)
{
    if (!cs) {
        return;
    }
    for (iconv_t cd : cs->cd) {
        if (cd != (iconv_t)-1) {
            iconv_close(cd);
        }
    }
    delete cs;
}

extern "C" int pacs_charset_ascii_is_identity(const pacs_charset *cs)
{
    return cs->g0 == S_ASCII;
}

extern "C" pacs_err pacs_charset_decode(pacs_charset *cs, const char *vr, const char *in,
                                        size_t len, char **out, size_t *out_len, pacs_errinfo *ei)
{
    try {
        std::string s;
        bool ok = true;
        if (cs->whole && strcmp(cs->whole, "UTF-8") == 0) {
            /* Already UTF-8: checked, not converted. */
            size_t bad = utf8_invalid_at(reinterpret_cast<const unsigned char *>(in), len);
            if (bad < len) {
                return pacs_errf(ei, PACS_EBADDATA, "a code not in ISO_IR 192 at byte %zu (0x%02X)",
                                 bad + 1, (unsigned char)in[bad]);
            }
            s.assign(in, len);
        } else if (cs->whole) {
            ok = convert(cs, S_COUNT, std::string(in, len), 0, s, ei);
        } else {
            s.reserve(len * 2);
            ok = decode_2022(cs, kind_of(vr), in, len, s, ei);
        }
        if (!ok) {
            return ei ? ei->code : PACS_EBADDATA;
        }
        char *o = static_cast<char *>(malloc(s.size() + 1));
        if (!o) {
            return pacs_errf(ei, PACS_ENOMEM, "out of memory");
        }
        memcpy(o, s.data(), s.size());
        o[s.size()] = '\0';
        *out = o;
        *out_len = s.size();
        return PACS_OK;
    } catch (...) {
        return pacs_errf(ei, PACS_ENOMEM, "out of memory");
    }
}

/* ---- whole datasets ---- */

namespace
{

bool is_affected(DcmEVR vr)
{
    return vr == EVR_SH || vr == EVR_LO || vr == EVR_ST || vr == EVR_LT || vr == EVR_UC ||
           vr == EVR_UT || vr == EVR_PN;
}

/* True when `s` has no byte over 0x7F and no ESC: the same text in ASCII and UTF-8. */
bool plain_ascii(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c >= 0x80 || c == 0x1B) {
            return false;
        }
    }
    return true;
}

struct walk {
    const char *what;
    unsigned undecoded;
};

void keep_bytes(walk &w, DcmElement *el, const std::string &terms, const char *why)
{
    w.undecoded++;
    const DcmTag &t = el->getTag();
    pacs_log(PACS_LOG_WARN, "dicom",
             "%s tag=(%04X,%04X) charset=\"%.64s\": %s; the value is kept as its bytes", w.what,
             t.getGroup(), t.getElement(), terms.c_str(), why);
}

/* `cs` is the decoder in force (NULL: the character set is unknown), `terms` its value. */
void item_to_utf8(DcmItem *item, pacs_charset *cs, const std::string &terms, walk &w)
{
    pacs_charset *own = nullptr;
    std::string own_terms = terms;
    DcmElement *csel = nullptr;
    bool has_own = item->findAndGetElement(DCM_SpecificCharacterSet, csel, OFFalse).good() && csel;
    std::string open_error;
    if (has_own) {
        char *v = nullptr;
        Uint32 n = 0;
        own_terms.clear();
        if (csel->getString(v, n).good() && v) {
            own_terms.assign(v, n);
        }
        while (!own_terms.empty() && (own_terms.back() == ' ' || own_terms.back() == '\0')) {
            own_terms.pop_back();
        }
        while (!own_terms.empty() && own_terms.front() == ' ') {
            own_terms.erase(0, 1);
        }
        pacs_errinfo ei;
        if (pacs_charset_open(own_terms.c_str(), &own, &ei) != PACS_OK) {
            if (ei.code == PACS_ENOMEM) {
                throw std::bad_alloc();
            }
            open_error = ei.msg;
        }
        cs = own;
    }
    /* Walked in order: getElement(i) seeks from the first element each time. */
    for (DcmObject *o = item->nextInContainer(nullptr); o; o = item->nextInContainer(o)) {
        DcmElement *el = OFstatic_cast(DcmElement *, o);
        if (el->ident() == EVR_SQ) {
            DcmSequenceOfItems *sq = OFstatic_cast(DcmSequenceOfItems *, el);
            for (unsigned long k = 0; k < sq->card(); k++) {
                item_to_utf8(sq->getItem(k), cs, own_terms, w);
            }
            continue;
        }
        if (!is_affected(el->ident()) || el->getLength() == 0) {
            continue;
        }
        char *v = nullptr;
        Uint32 n = 0;
        if (el->getString(v, n).bad() || !v || n == 0) {
            continue;
        }
        if (plain_ascii(v, n) && (!cs || pacs_charset_ascii_is_identity(cs))) {
            continue;
        }
        if (!cs) {
            keep_bytes(w, el, own_terms,
                       open_error.empty() ? "no character set to decode it" : open_error.c_str());
            continue;
        }
        char *utf8 = nullptr;
        size_t ul = 0;
        pacs_errinfo ei;
        char vr[3];
        snprintf(vr, sizeof vr, "%s", DcmVR(el->ident()).getValidVRName());
        pacs_err err = pacs_charset_decode(cs, vr, v, n, &utf8, &ul, &ei);
        if (err == PACS_ENOMEM) {
            throw std::bad_alloc();
        }
        if (err != PACS_OK) {
            keep_bytes(w, el, own_terms, ei.msg);
            continue;
        }
        if (ul == n && memcmp(utf8, v, n) == 0) {
            free(utf8); /* UTF-8 already (ISO_IR 192) */
            continue;
        }
        OFCondition c = el->putString(utf8, (Uint32)ul);
        free(utf8);
        if (c.bad()) {
            keep_bytes(w, el, own_terms, c.text());
        }
    }
    pacs_charset_close(own);
    if (has_own) {
        item->putAndInsertString(DCM_SpecificCharacterSet, "ISO_IR 192");
    }
}

} // namespace

unsigned pacs_charset__item_to_utf8(DcmItem *item, const char *what)
{
    walk w = {what, 0};
    pacs_charset *ascii = nullptr;
    if (pacs_charset_open("", &ascii, nullptr) != PACS_OK) {
        throw std::bad_alloc();
    }
    try {
        item_to_utf8(item, ascii, "", w);
    } catch (...) {
        pacs_charset_close(ascii);
        throw;
    }
    pacs_charset_close(ascii);
    return w.undecoded;
}
