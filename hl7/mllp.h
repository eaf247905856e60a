// SPDX-License-Identifier: MIT
/*
 * MLLP framing (HL7 v2 Minimal Lower Layer Protocol, release 1): a message travels as
 * <VT> content <FS><CR> (0x0B ... 0x1C 0x0D). The reader is incremental: it takes bytes as
 * they arrive from a connection and hands out whole frames, so that one connection can carry
 * any number of messages. A frame larger than its cap is not kept: its first bytes (enough for
 * the MSH segment, to answer it) are, the rest is counted and dropped until its end, and the
 * frame is handed out marked oversize. CR and LF between frames are ignored; other bytes
 * outside a frame mean the peer does not speak MLLP. A VT inside a frame starts the frame
 * afresh (the sender gave up on the one before). Not thread-safe: one reader per connection.
 */
#ifndef PACS_HL7_MLLP_H
#define PACS_HL7_MLLP_H

#include <stddef.h>

#include "pacs/base/err.h"

#define PACS_MLLP_VT 0x0B
#define PACS_MLLP_FS 0x1C
#define PACS_MLLP_CR 0x0D

/* Bytes of an oversize frame that are kept for its answer. */
#define PACS_MLLP_HEAD 4096

typedef struct pacs_mllp_reader {
    char *buf; /* the frame's content (or its head when oversize), NUL-terminated */
    size_t len, cap, max;
    size_t total;    /* the frame's content length, kept or not */
    int state;       /* outside, in a frame, after FS */
    int oversize;    /* the frame was larger than max */
    size_t junk;     /* bytes seen outside frames (not CR/LF) */
    size_t restarts; /* frames abandoned by a VT inside them */
} pacs_mllp_reader;

/** A reader for frames of at most `max` content bytes. */
void pacs_mllp_init(pacs_mllp_reader *r, size_t max);
void pacs_mllp_free(pacs_mllp_reader *r);

/**
 * Takes bytes from data[0..len). Returns PACS_OK when a frame is complete (`*used` bytes were
 * taken; the frame is r->buf[0..r->len), r->total and r->oversize tell its real size; call
 * pacs_mllp_next before feeding the rest), PACS_EAGAIN when every byte was taken and the frame
 * is not complete, PACS_EBADDATA when a byte other than CR or LF came outside a frame (the
 * peer does not speak MLLP), PACS_ENOMEM.
 */
pacs_err pacs_mllp_feed(pacs_mllp_reader *r, const void *data, size_t len, size_t *used);

/** Forgets the frame handed out, to read the next. */
void pacs_mllp_next(pacs_mllp_reader *r);

/** True when the reader is in the middle of a frame (bytes of it have arrived). */
int pacs_mllp_partial(const pacs_mllp_reader *r);

#endif
