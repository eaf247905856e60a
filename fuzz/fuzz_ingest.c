// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for DICOM ingest through the real path: each input is a Part 10 stream
 * given to pacs_archive_ingest_begin/write/finish exactly as STOW-RS and `pacs import` give
 * one (DCMTK parses it underneath; the meta header is replaced, UIDs checked, text repaired,
 * the object written and indexed), in chunks whose size depends on the input. The archive is
 * a real one (SQLite index and object folder) in a throw-away folder, opened once. Nothing may
 * crash, leak or read out of bounds, whatever the bytes; an input refused must say why.
 * Seeds: testdata/fuzz/fuzz_ingest/ (small files of every transfer syntax, from pydicom's
 * test data). Single-threaded.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "fuzz/common.h"
#include "pacs/dicom/dcm.h"
#include "storage/archive.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static pacs_archive *archive;

static void close_archive(void)
{
    pacs_archive_close(archive);
    archive = NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    pacs_errinfo ei = {0};
    if (!archive) {
        pacs_config *cfg = pacs_fuzz__config(NULL);
        if (pacs_dcm_init(&ei) != PACS_OK || pacs_archive_open(cfg, &archive, &ei) != PACS_OK) {
            fprintf(stderr, "fuzz_ingest: %s\n", ei.msg);
            exit(1);
        }
        atexit(close_archive); /* runs before the folder's removal, registered earlier */
    }
    pacs_ingest *in = NULL;
    if (pacs_archive_ingest_begin(archive, NULL, "FUZZ", &in, &ei) != PACS_OK) {
        fprintf(stderr, "fuzz_ingest: ingest_begin: %s\n", ei.msg);
        abort();
    }
    size_t chunk = 1 + (size % 8191);
    for (size_t at = 0; at < size; at += chunk) {
        if (pacs_ingest_write(in, data + at, size - at < chunk ? size - at : chunk, &ei) !=
            PACS_OK) {
            break; /* sticky: finish reports it */
        }
    }
    pacs_ingest_result res;
    pacs_err err = pacs_ingest_finish(in, &res, &ei);
    if (err != PACS_OK && ei.msg[0] == '\0') {
        fprintf(stderr, "fuzz_ingest: refused (%d) without a reason\n", (int)err);
        abort();
    }
    return 0;
}
