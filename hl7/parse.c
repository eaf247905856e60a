// SPDX-License-Identifier: MIT
/*
 * The HL7 v2 parser (hl7.h): one pass checks the MSH segment's separators, the character set
 * and every byte, and records where each segment starts; values are found and decoded only
 * when asked for. A message owns one copy of its bytes. No state outside a message; a parsed
 * message is read-only.
 */
#include "hl7/hl7.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct seg {
    size_t off, len;
    char id[4];
} seg;

struct pacs_hl7_msg {
    const char *text; /* the message's bytes (owned through `own`) */
    char *own;
    size_t len;
    char sep[5]; /* field, component, repetition, escape, subcomponent */
    pacs_hl7_charset cs;
    seg *segs;
    size_t n_segs;
};

static const struct {
    const char *name;
    pacs_hl7_charset cs;
} charsets[] = {
    {"ASCII", PACS_HL7_ASCII},
    {"8859/1", PACS_HL7_LATIN1},
    {"UNICODE UTF-8", PACS_HL7_UTF8},
    {"UTF-8", PACS_HL7_UTF8}, /* not in table 0211, but what many senders write */
};

int pacs_hl7_charset_parse(const char *msh18)
{
    for (size_t i = 0; i < sizeof charsets / sizeof charsets[0]; i++) {
        if (strcmp(charsets[i].name, msh18) == 0) {
            return (int)charsets[i].cs;
        }
    }
    return -1;
}

const char *pacs_hl7_charset_name(pacs_hl7_charset cs)
{
    return cs == PACS_HL7_LATIN1 ? "8859/1" : cs == PACS_HL7_UTF8 ? "UNICODE UTF-8" : "ASCII";
}

const char *pacs_hl7_error_text(int code)
{
    switch (code) {
    case 0:
        return "Message accepted";
    case PACS_HL7_E_SEGMENT_SEQUENCE:
        return "Segment sequence error";
    case PACS_HL7_E_REQUIRED_MISSING:
        return "Required field missing";
    case PACS_HL7_E_DATA_TYPE:
        return "Data type error";
    case PACS_HL7_E_TABLE_VALUE:
        return "Table value not found";
    case PACS_HL7_E_MESSAGE_TYPE:
        return "Unsupported message type";
    case PACS_HL7_E_EVENT_CODE:
        return "Unsupported event code";
    case PACS_HL7_E_PROCESSING_ID:
        return "Unsupported processing id";
    case PACS_HL7_E_VERSION:
        return "Unsupported version id";
    case PACS_HL7_E_UNKNOWN_KEY:
        return "Unknown key identifier";
    case PACS_HL7_E_DUPLICATE_KEY:
        return "Duplicate key identifier";
    case PACS_HL7_E_RECORD_LOCKED:
        return "Application record locked";
    default:
        return "Application internal error";
    }
}

pacs_err pacs_hl7_fail(pacs_hl7_error *e, int code, const char *seg_id, unsigned field,
                       const char *fmt, ...)
{
    if (e) {
        memset(e, 0, sizeof *e);
        e->code = code;
        snprintf(e->seg, sizeof e->seg, "%s", seg_id ? seg_id : "");
        e->seq = e->seg[0] ? 1 : 0;
        e->field = field;
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(e->text, sizeof e->text, fmt, ap);
        va_end(ap);
    }
    return PACS_EBADDATA;
}

/* ---- character sets ---- */

/* Length of the valid UTF-8 sequence at s (at most n bytes), or 0. */
static size_t utf8_seq(const unsigned char *s, size_t n, unsigned *cp)
{
    unsigned c = s[0];
    size_t len;
    unsigned min;
    if (c < 0x80) {
        *cp = c;
        return 1;
    } else if ((c & 0xE0) == 0xC0) {
        len = 2, min = 0x80, c &= 0x1F;
    } else if ((c & 0xF0) == 0xE0) {
        len = 3, min = 0x800, c &= 0x0F;
    } else if ((c & 0xF8) == 0xF0) {
        len = 4, min = 0x10000, c &= 0x07;
    } else {
        return 0;
    }
    if (n < len) {
        return 0;
    }
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) {
            return 0;
        }
        c = (c << 6) | (s[i] & 0x3F);
    }
    if (c < min || c > 0x10FFFF || (c >= 0xD800 && c <= 0xDFFF)) {
        return 0;
    }
    *cp = c;
    return len;
}

int pacs_hl7_utf8_valid(const char *s, size_t len)
{
    const unsigned char *p = (const unsigned char *)s;
    for (size_t i = 0; i < len;) {
        unsigned cp;
        size_t k = utf8_seq(p + i, len - i, &cp);
        if (k == 0) {
            return 0;
        }
        i += k;
    }
    return 1;
}

/* Converts `n` bytes in `cs` to NUL-terminated UTF-8 in out[cap]. Lenient: bytes that are not
 * valid become '?'; strict: PACS_EBADDATA. */
static pacs_err to_utf8(pacs_hl7_charset cs, const char *in, size_t n, char *out, size_t cap,
                        int lenient)
{
    const unsigned char *p = (const unsigned char *)in;
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        unsigned char tmp[4];
        size_t k = 1, w = 1;
        if (p[i] < 0x80) {
            tmp[0] = p[i];
        } else if (cs == PACS_HL7_LATIN1) {
            tmp[0] = (unsigned char)(0xC0 | (p[i] >> 6));
            tmp[1] = (unsigned char)(0x80 | (p[i] & 0x3F));
            w = 2;
        } else {
            unsigned cp;
            k = cs == PACS_HL7_UTF8 ? utf8_seq(p + i, n - i, &cp) : 0;
            if (k == 0 && !lenient) {
                return PACS_EBADDATA;
            }
            if (k == 0) {
                k = 1;
                tmp[0] = '?';
            } else {
                memcpy(tmp, p + i, k);
                w = k;
            }
        }
        if (o + w >= cap) {
            return PACS_ETOOBIG;
        }
        memcpy(out + o, tmp, w);
        o += w;
        i += k;
    }
    if (cap == 0) {
        return PACS_ETOOBIG;
    }
    out[o] = '\0';
    return PACS_OK;
}

pacs_err pacs_hl7_escape(pacs_buf *out, const char *utf8, pacs_hl7_charset cs)
{
    const unsigned char *p = (const unsigned char *)utf8;
    size_t n = strlen(utf8);
    pacs_err err = PACS_OK;
    for (size_t i = 0; i < n && err == PACS_OK;) {
        unsigned cp;
        size_t k = utf8_seq(p + i, n - i, &cp);
        if (k == 0) {
            err = pacs_buf_puts(out, "?");
            i++;
            continue;
        }
        static const char esc[] = {'|', 'F', '^', 'S', '~', 'R', '\\', 'E', '&', 'T'};
        const char *hit = cp < 0x80 ? memchr(esc, (int)cp, sizeof esc) : NULL;
        if (hit && (hit - esc) % 2 == 0) {
            char e[4] = {'\\', hit[1], '\\', '\0'};
            err = pacs_buf_puts(out, e);
        } else if (cp == '\r' || cp == '\n') {
            err = pacs_buf_puts(out, "\\.br\\");
            if (cp == '\r' && i + 1 < n && p[i + 1] == '\n') {
                i++;
            }
        } else if (cp < 0x20 || cp == 0x7F) {
            /* other control characters cannot travel in a field */
        } else if (cp < 0x80 || cs == PACS_HL7_UTF8) {
            err = pacs_buf_append(out, p + i, k);
        } else if (cs == PACS_HL7_LATIN1 && cp < 0x100) {
            char b = (char)cp;
            err = pacs_buf_append(out, &b, 1);
        } else {
            err = pacs_buf_puts(out, "?");
        }
        i += k;
    }
    return err;
}

/* ---- finding and decoding values ---- */

static int sep_char(int c)
{
    return c > 0x20 && c < 0x7F && !isalnum(c);
}

/* Narrows [*p, *p + *n) to its idx-th piece (from 1) between `delim`s; empty when absent. */
static void piece(const char **p, size_t *n, char delim, unsigned idx)
{
    const char *s = *p, *end = *p + *n;
    for (unsigned i = 1; i < idx; i++) {
        const char *d = memchr(s, delim, (size_t)(end - s));
        if (!d) {
            *n = 0;
            return;
        }
        s = d + 1;
    }
    const char *d = memchr(s, delim, (size_t)(end - s));
    *p = s;
    *n = (size_t)((d ? d : end) - s);
}

/* The raw bytes of a field of segment `sg` (field numbering as pacs_hl7_get). */
static void field_raw(const pacs_hl7_msg *m, const seg *sg, unsigned field, const char **p,
                      size_t *n)
{
    const char *s = m->text + sg->off;
    size_t len = sg->len;
    int msh = strcmp(sg->id, "MSH") == 0;
    if (field == 0 || len <= 3) {
        *p = s;
        *n = 0;
        return;
    }
    /* Field k of a segment follows its k-th field separator; MSH-1 is the separator itself, so
     * MSH-k follows the (k-1)-th. */
    *p = s + 3;
    *n = len - 3;
    unsigned nth = msh ? field - 1 : field;
    if (msh && field == 1) {
        *n = 1;
        return;
    }
    piece(p, n, m->sep[0], nth + 1);
}

/* Resolves escape sequences of [p, p+n) into out (which has room for n + 1 bytes). */
static size_t unescape(const pacs_hl7_msg *m, const char *p, size_t n, char *out)
{
    size_t o = 0;
    char esc = m->sep[3];
    for (size_t i = 0; i < n; i++) {
        if (p[i] != esc) {
            out[o++] = p[i];
            continue;
        }
        const char *close = memchr(p + i + 1, esc, n - i - 1);
        if (!close) {
            out[o++] = p[i];
            continue;
        }
        const char *code = p + i + 1;
        size_t cl = (size_t)(close - code);
        size_t keep = o;
        if (cl == 1 && strchr("FSTREP", code[0])) {
            switch (code[0]) {
            case 'F':
                out[o++] = m->sep[0];
                break;
            case 'S':
                out[o++] = m->sep[1];
                break;
            case 'R':
                out[o++] = m->sep[2];
                break;
            case 'E':
                out[o++] = m->sep[3];
                break;
            case 'T':
                out[o++] = m->sep[4];
                break;
            default:
                out[o++] = '#'; /* \P\: the truncation character (v2.7) */
                break;
            }
        } else if (cl >= 3 && code[0] == 'X' && (cl - 1) % 2 == 0) {
            for (size_t k = 1; k < cl; k += 2) {
                char hx[3] = {code[k], code[k + 1], '\0'};
                char *end = NULL;
                if (!isxdigit((unsigned char)hx[0]) || !isxdigit((unsigned char)hx[1])) {
                    o = keep;
                    break;
                }
                out[o++] = (char)strtoul(hx, &end, 16);
            }
            if (o == keep) {
                memcpy(out + o, p + i, cl + 2); /* not hex: kept as written */
                o += cl + 2;
            }
        } else if (cl >= 3 && (strncmp(code, ".br", 3) == 0 || strncmp(code, ".sp", 3) == 0)) {
            out[o++] = '\n';
        } else if ((cl >= 1 &&
                    (code[0] == '.' || code[0] == 'Z' || code[0] == 'C' || code[0] == 'M')) ||
                   (cl == 1 && (code[0] == 'H' || code[0] == 'N'))) {
            /* formatting, highlighting, local and character set escapes: dropped */
        } else {
            memcpy(out + o, p + i, cl + 2); /* unknown: kept as written */
            o += cl + 2;
        }
        i += cl + 1;
    }
    return o;
}

static pacs_err get_in(const pacs_hl7_msg *m, const seg *sg, unsigned field, unsigned rep,
                       unsigned comp, unsigned sub, char *out, size_t cap, int lenient)
{
    const char *p;
    size_t n;
    field_raw(m, sg, field, &p, &n);
    int msh = strcmp(sg->id, "MSH") == 0;
    if (msh && field <= 2) {
        /* The separators themselves: never split or unescaped. */
        if (rep > 1 || comp > 1 || sub > 1) {
            n = 0;
        }
        return to_utf8(m->cs, p, n, out, cap, lenient);
    }
    piece(&p, &n, m->sep[2], rep ? rep : 1);
    piece(&p, &n, m->sep[1], comp ? comp : 1);
    piece(&p, &n, m->sep[4], sub ? sub : 1);
    char small[256] = {0}; /* (zeroed only to quiet gcc's maybe-uninitialized) */
    char *tmp = n < sizeof small ? small : malloc(n + 1);
    if (!tmp) {
        return PACS_ENOMEM;
    }
    size_t un = unescape(m, p, n, tmp);
    pacs_err err = to_utf8(m->cs, tmp, un, out, cap, lenient);
    if (tmp != small) {
        free(tmp);
    }
    return err;
}

pacs_err pacs_hl7_get(const pacs_hl7_msg *m, size_t segi, unsigned field, unsigned rep,
                      unsigned comp, unsigned sub, char *out, size_t cap)
{
    if (cap == 0) {
        return PACS_ETOOBIG;
    }
    out[0] = '\0';
    if (segi >= m->n_segs) {
        return PACS_OK;
    }
    return get_in(m, &m->segs[segi], field, rep, comp, sub, out, cap, 0);
}

int pacs_hl7_is_null(const char *value)
{
    return strcmp(value, "\"\"") == 0;
}

unsigned pacs_hl7_reps(const pacs_hl7_msg *m, size_t segi, unsigned field)
{
    if (segi >= m->n_segs) {
        return 0;
    }
    const char *p;
    size_t n;
    field_raw(m, &m->segs[segi], field, &p, &n);
    if (n == 0) {
        return 0;
    }
    if (strcmp(m->segs[segi].id, "MSH") == 0 && field <= 2) {
        return 1;
    }
    unsigned r = 1;
    for (size_t i = 0; i < n; i++) {
        r += p[i] == m->sep[2];
    }
    return r;
}

pacs_hl7_charset pacs_hl7_msg_charset(const pacs_hl7_msg *m)
{
    return m->cs;
}

size_t pacs_hl7_segment_count(const pacs_hl7_msg *m)
{
    return m->n_segs;
}

const char *pacs_hl7_segment_id(const pacs_hl7_msg *m, size_t i)
{
    return i < m->n_segs ? m->segs[i].id : "";
}

long pacs_hl7_find(const pacs_hl7_msg *m, const char *id, size_t from)
{
    for (size_t i = from; i < m->n_segs; i++) {
        if (strcmp(m->segs[i].id, id) == 0) {
            return (long)i;
        }
    }
    return -1;
}

/* ---- parsing ---- */

/* Length of the first segment (up to CR or LF). */
static size_t first_segment(const char *s, size_t len)
{
    size_t i = 0;
    while (i < len && s[i] != '\r' && s[i] != '\n') {
        i++;
    }
    return i;
}

/* Sets m->sep from an MSH segment; 0 when MSH-1/MSH-2 are unusable. */
static int read_separators(pacs_hl7_msg *m, const char *s, size_t len)
{
    if (len < 4 || memcmp(s, "MSH", 3) != 0 || !sep_char((unsigned char)s[3])) {
        return 0;
    }
    m->sep[0] = s[3];
    size_t i = 4, k = 1;
    while (i < len && s[i] != s[3] && k < 5) {
        m->sep[k++] = s[i++];
    }
    /* A fifth encoding character (the truncation character of v2.7) may follow. */
    if (i < len && s[i] != s[3] && sep_char((unsigned char)s[i])) {
        i++;
    }
    if (k != 5 || (i < len && s[i] != s[3])) {
        return 0;
    }
    for (size_t a = 0; a < 5; a++) {
        if (!sep_char((unsigned char)m->sep[a])) {
            return 0;
        }
        for (size_t b = a + 1; b < 5; b++) {
            if (m->sep[a] == m->sep[b]) {
                return 0;
            }
        }
    }
    return 1;
}

void pacs_hl7_header_read(const void *bytes, size_t len, pacs_hl7_header *h)
{
    memset(h, 0, sizeof *h);
    const char *s = bytes;
    size_t n = first_segment(s, len);
    pacs_hl7_msg m;
    memset(&m, 0, sizeof m);
    if (n < 4 || memcmp(s, "MSH", 3) != 0 || !sep_char((unsigned char)s[3])) {
        return;
    }
    h->found = 1;
    if (!read_separators(&m, s, n)) {
        /* Unusable encoding characters: fields are still read, with the standard ones. */
        memcpy(m.sep, "|^~\\&", 5);
        m.sep[0] = s[3];
        if (m.sep[0] == '^') {
            m.sep[1] = '\x01';
        }
    } else {
        memcpy(h->sep, m.sep, 5);
    }
    seg sg = {0, n, "MSH"};
    m.text = s;
    m.len = n;
    m.cs = PACS_HL7_UTF8;
    char cs[32];
    get_in(&m, &sg, 18, 1, 1, 1, cs, sizeof cs, 1);
    int c = pacs_hl7_charset_parse(cs);
    m.cs = c >= 0 ? (pacs_hl7_charset)c : PACS_HL7_ASCII;
    snprintf(h->charset, sizeof h->charset, "%s", cs);
    get_in(&m, &sg, 3, 1, 1, 1, h->sending_app, sizeof h->sending_app, 1);
    get_in(&m, &sg, 4, 1, 1, 1, h->sending_facility, sizeof h->sending_facility, 1);
    get_in(&m, &sg, 5, 1, 1, 1, h->receiving_app, sizeof h->receiving_app, 1);
    get_in(&m, &sg, 6, 1, 1, 1, h->receiving_facility, sizeof h->receiving_facility, 1);
    get_in(&m, &sg, 9, 1, 1, 1, h->message_type, sizeof h->message_type, 1);
    get_in(&m, &sg, 9, 1, 2, 1, h->trigger, sizeof h->trigger, 1);
    get_in(&m, &sg, 10, 1, 1, 1, h->control_id, sizeof h->control_id, 1);
    get_in(&m, &sg, 11, 1, 1, 1, h->processing_id, sizeof h->processing_id, 1);
    get_in(&m, &sg, 12, 1, 1, 1, h->version, sizeof h->version, 1);
    /* What is echoed in an answer carries no control characters (a \X..\ escape makes any). */
    char *fields[] = {h->sending_app,  h->sending_facility, h->receiving_app, h->receiving_facility,
                      h->message_type, h->trigger,          h->control_id,    h->processing_id,
                      h->version,      h->charset};
    for (size_t i = 0; i < sizeof fields / sizeof fields[0]; i++) {
        for (char *p = fields[i]; *p; p++) {
            if ((unsigned char)*p < 0x20 || *p == 0x7F) {
                *p = '?';
            }
        }
    }
}

/* Checks every byte against the character set; C0 controls other than TAB, CR, LF and NUL
 * are refused in every set. */
static pacs_err check_bytes(const pacs_hl7_msg *m, pacs_hl7_error *err)
{
    const unsigned char *p = (const unsigned char *)m->text;
    for (size_t i = 0; i < m->len;) {
        unsigned char c = p[i];
        if (c < 0x20 && c != '\t' && c != '\r' && c != '\n') {
            return pacs_hl7_fail(err, PACS_HL7_E_DATA_TYPE, "", 0,
                                 "control character 0x%02X at byte %zu", c, i);
        }
        if (c < 0x80 || m->cs == PACS_HL7_LATIN1) {
            i++;
            continue;
        }
        unsigned cp;
        size_t k = m->cs == PACS_HL7_UTF8 ? utf8_seq(p + i, m->len - i, &cp) : 0;
        if (k == 0) {
            return pacs_hl7_fail(err, PACS_HL7_E_DATA_TYPE, "MSH", 18,
                                 "byte 0x%02X at byte %zu is not valid %s (MSH-18)", c, i,
                                 pacs_hl7_charset_name(m->cs));
        }
        i += k;
    }
    return PACS_OK;
}

static pacs_err split_segments(pacs_hl7_msg *m, pacs_hl7_error *err)
{
    size_t cap = 16;
    m->segs = malloc(cap * sizeof *m->segs);
    if (!m->segs) {
        return PACS_ENOMEM;
    }
    for (size_t i = 0; i < m->len;) {
        size_t n = first_segment(m->text + i, m->len - i);
        if (n > 0) {
            const char *s = m->text + i;
            int ok = n >= 3 && (n == 3 || s[3] == m->sep[0]);
            for (size_t k = 0; k < 3 && ok; k++) {
                ok = isupper((unsigned char)s[k]) || isdigit((unsigned char)s[k]);
            }
            if (!ok) {
                return pacs_hl7_fail(err, PACS_HL7_E_SEGMENT_SEQUENCE, "", 0,
                                     "segment %zu does not start with a segment id", m->n_segs + 1);
            }
            if (m->n_segs == cap) {
                cap *= 2;
                seg *g = realloc(m->segs, cap * sizeof *g);
                if (!g) {
                    return PACS_ENOMEM;
                }
                m->segs = g;
            }
            seg *sg = &m->segs[m->n_segs++];
            sg->off = i;
            sg->len = n;
            memcpy(sg->id, s, 3);
            sg->id[3] = '\0';
        }
        i += n + 1;
    }
    return PACS_OK;
}

pacs_err pacs_hl7_parse(const void *bytes, size_t len, pacs_hl7_charset default_cs,
                        pacs_hl7_msg **out, pacs_hl7_error *err)
{
    pacs_err e = PACS_OK;
    pacs_hl7_msg *m = calloc(1, sizeof *m);
    if (!m) {
        return PACS_ENOMEM;
    }
    m->own = malloc(len + 1);
    if (!m->own) {
        free(m);
        return PACS_ENOMEM;
    }
    memcpy(m->own, bytes, len);
    m->own[len] = '\0';
    m->text = m->own;
    m->len = len;
    size_t n = first_segment(m->text, len);
    if (n < 3 || memcmp(m->text, "MSH", 3) != 0) {
        e = pacs_hl7_fail(err, PACS_HL7_E_SEGMENT_SEQUENCE, "MSH", 0,
                          "the message does not start with an MSH segment");
        goto fail;
    }
    if (!read_separators(m, m->text, n)) {
        e = pacs_hl7_fail(err, PACS_HL7_E_DATA_TYPE, "MSH", 2,
                          "MSH-1/MSH-2: a field separator and four distinct encoding "
                          "characters (such as |^~\\&) are needed");
        goto fail;
    }
    seg msh = {0, n, "MSH"};
    char cs[64];
    m->cs = PACS_HL7_ASCII;
    e = get_in(m, &msh, 18, 1, 1, 1, cs, sizeof cs, 1);
    int c = cs[0] ? pacs_hl7_charset_parse(cs) : (int)default_cs;
    if (e != PACS_OK || c < 0) {
        e = pacs_hl7_fail(err, PACS_HL7_E_TABLE_VALUE, "MSH", 18,
                          "MSH-18: character set '%.40s' is not ASCII, 8859/1 or UNICODE UTF-8",
                          e == PACS_OK ? cs : "(too long)");
        goto fail;
    }
    m->cs = (pacs_hl7_charset)c;
    e = check_bytes(m, err);
    if (e == PACS_OK) {
        e = split_segments(m, err);
    }
    if (e != PACS_OK) {
        goto fail;
    }
    char v[64];
    static const struct {
        unsigned field, comp;
        const char *what;
    } required[] = {{9, 1, "MSH-9.1 (message type)"}, {10, 1, "MSH-10 (message control id)"}};
    for (size_t i = 0; i < sizeof required / sizeof required[0]; i++) {
        pacs_err ge =
            get_in(m, &m->segs[0], required[i].field, 1, required[i].comp, 1, v, sizeof v, 0);
        if (ge == PACS_OK && v[0] == '\0') {
            e = pacs_hl7_fail(err, PACS_HL7_E_REQUIRED_MISSING, "MSH", required[i].field,
                              "%s is empty", required[i].what);
            goto fail;
        }
    }
    *out = m;
    return PACS_OK;
fail:
    pacs_hl7_free(m);
    return e;
}

void pacs_hl7_free(pacs_hl7_msg *m)
{
    if (!m) {
        return;
    }
    free(m->segs);
    free(m->own);
    free(m);
}
