// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for the HL7 v2 side (hl7/hl7.h, hl7/ack.h, hl7/mllp.h). The input is read
 * twice: as the bytes of one connection, through the MLLP reader fed in pieces whose sizes come
 * from the input (the frames must be the same as when it is fed whole), and as one message.
 * Every message is parsed in each default character set; every value of every segment (up to a
 * bound) is decoded and must be valid UTF-8; the header is read and an ACK built for it, whose
 * bytes must parse again as a message. Single-threaded.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hl7/ack.h"
#include "hl7/hl7.h"
#include "hl7/mllp.h"

static void check_message(const char *bytes, size_t len)
{
    pacs_hl7_header h;
    pacs_hl7_header_read(bytes, len, &h);
    for (int cs = PACS_HL7_ASCII; cs <= PACS_HL7_UTF8; cs++) {
        pacs_hl7_msg *m = NULL;
        pacs_hl7_error err;
        if (pacs_hl7_parse(bytes, len, (pacs_hl7_charset)cs, &m, &err) != PACS_OK) {
            if (err.text[0] == '\0' || err.code < 100) {
                abort(); /* a refusal always says why */
            }
            continue;
        }
        size_t n = pacs_hl7_segment_count(m);
        for (size_t s = 0; s < n && s < 64; s++) {
            for (unsigned f = 1; f <= 12; f++) {
                unsigned reps = pacs_hl7_reps(m, s, f);
                for (unsigned r = 1; r <= reps + 1 && r <= 4; r++) {
                    for (unsigned c = 1; c <= 4; c++) {
                        char v[512];
                        pacs_err e = pacs_hl7_get(m, s, f, r, c, 1 + (c == 2), v, sizeof v);
                        if (e == PACS_OK && !pacs_hl7_utf8_valid(v, strlen(v))) {
                            abort();
                        }
                    }
                }
            }
        }
        pacs_hl7_free(m);
    }
    pacs_buf out;
    pacs_buf_init(&out, 1 << 20);
    pacs_hl7_error e = {.code = PACS_HL7_E_REQUIRED_MISSING, .seg = "PID", .seq = 1, .field = 3};
    memcpy(e.text, bytes, len < sizeof e.text - 1 ? len : sizeof e.text - 1);
    if (pacs_hl7_ack_build(&h, PACS_HL7_AE, &e, "ID1", "20240101000000", &out) != PACS_OK) {
        abort();
    }
    pacs_hl7_msg *ack = NULL;
    pacs_hl7_error aerr;
    pacs_err pe = pacs_hl7_parse(out.data, out.len, PACS_HL7_UTF8, &ack, &aerr);
    if (pe != PACS_OK && pe != PACS_ENOMEM) {
        abort(); /* our own ACK must always parse */
    }
    pacs_hl7_free(ack);
    pacs_buf_free(&out);
}

/* Feeds `data` to a reader in pieces of the given sizes; records the frames' hashes. */
static size_t frames(const uint8_t *data, size_t size, const uint8_t *steps, size_t n_steps,
                     uint64_t *sums, size_t max_sums, int check)
{
    pacs_mllp_reader r;
    pacs_mllp_init(&r, 2048);
    size_t n = 0, off = 0, k = 0;
    while (off < size) {
        size_t step = n_steps ? (size_t)steps[k++ % n_steps] % 64 + 1 : size - off;
        if (step > size - off) {
            step = size - off;
        }
        size_t fed = 0;
        while (fed < step) {
            size_t used = 0;
            pacs_err e = pacs_mllp_feed(&r, data + off + fed, step - fed, &used);
            fed += used;
            if (e == PACS_OK) {
                uint64_t h = 1469598103934665603ull ^ r.total ^ ((uint64_t)r.oversize << 63);
                for (size_t i = 0; i < r.len; i++) {
                    h = (h ^ (unsigned char)r.buf[i]) * 1099511628211ull;
                }
                if (n < max_sums) {
                    sums[n] = h;
                }
                n++;
                if (check) {
                    check_message(r.buf, r.len);
                }
                pacs_mllp_next(&r);
            } else if (e == PACS_EBADDATA) {
                /* not MLLP: a real connection ends here */
                off = size;
                break;
            } else if (e != PACS_EAGAIN) {
                abort();
            }
        }
        off += fed;
    }
    pacs_mllp_free(&r);
    return n;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 1 << 16) {
        return 0;
    }
    check_message((const char *)data, size);
    uint64_t a[64], b[64];
    size_t na = frames(data, size, NULL, 0, a, 64, 1);
    size_t nb = frames(data, size, data, size < 16 ? size : 16, b, 64, 0);
    if (na != nb || memcmp(a, b, (na < 64 ? na : 64) * sizeof a[0]) != 0) {
        abort(); /* how bytes arrive must not change the frames */
    }
    return 0;
}
