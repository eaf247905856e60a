// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for the URL side of DICOMweb: the URL grammar (route.h), query-string
 * splitting and decoding (params.h), QIDO-RS parameters into the query model (qido.h), Accept
 * and Content-Type parsing (media.h) and frame lists (frames.h). Input: a path line, then the query
 * string. Nothing may crash, leak or read out of bounds, whatever the bytes. Single-threaded.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "http/arena.h"
#include "http/media.h"
#include "http/params.h"
#include "dicomweb/qido.h"
#include "dicomweb/route.h"
#include "dicomweb/frames.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    if (!text) {
        return 0;
    }
    memcpy(text, data, size);
    text[size] = '\0';
    char *nl = memchr(text, '\n', size);
    const char *path = text, *query = nl ? nl + 1 : "";
    size_t path_len = nl ? (size_t)(nl - text) : size;
    pacs_arena *ar = pacs_arena_new(1u << 20);
    if (!ar) {
        free(text);
        return 0;
    }
    pacs_route rt;
    pacs_route_parse(path, path_len, ar, &rt, NULL);
    pacs_params params;
    if (pacs_params_parse(query, strlen(query), ar, &params, NULL) == PACS_OK) {
        static const int kinds[] = {PACS_ROUTE_STUDIES, PACS_ROUTE_SERIES, PACS_ROUTE_INSTANCES};
        for (size_t i = 0; i < 3; i++) {
            pacs_route q = {kinds[i], i > 0 ? "1.2.3" : NULL, i > 1 ? "1.2.3.4" : NULL, NULL, NULL,
                            0};
            pacs_query *out = NULL;
            pacs_qido_notes notes;
            if (pacs_qido_build(&q, &params, 100, &out, &notes, NULL) == PACS_OK) {
                /* Every ignored name is one of the parameters, and the count covers them. */
                if (notes.n_ignored > params.n) {
                    abort();
                }
                for (size_t k = 0; k < notes.n_ignored && k < PACS_QIDO_IGNORED_MAX; k++) {
                    if (!notes.ignored[k] || !notes.ignored[k][0]) {
                        abort();
                    }
                }
                pacs_query_free(out);
            }
        }
        for (size_t i = 0; i < params.n; i++) {
            pacs_media m[PACS_ACCEPT_MAX];
            size_t n = 0;
            pacs_media_accept_parse(params.v[i].value, m, PACS_ACCEPT_MAX, &n, NULL);
            pacs_media one;
            pacs_media_parse(params.v[i].value, strlen(params.v[i].value), &one, NULL);
            uint32_t frames[64];
            pacs_frames_parse_list(params.v[i].value, frames, 64, &n, NULL);
        }
    }
    pacs_arena_free(ar);
    free(text);
    return 0;
}
