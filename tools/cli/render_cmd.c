// SPDX-License-Identifier: MIT
/*
 * `pacs render`: the imaging engine (pacs/image) on a DICOM file, outside the server. Renders
 * a frame to JPEG or PNG the way /rendered does, writes a frame's decoded pixels (--raw, for
 * comparing with DCMTK's own decoding), transcodes to another transfer syntax (--transcode),
 * prints the pixel attributes (--info) and times decode, render and cached render (--bench).
 * For tests, newcomers and measurements; the server uses the same library calls.
 * Single-threaded.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "pacs/image/cache.h"
#include "pacs/image/decode.h"
#include "pacs/image/encode.h"
#include "pacs/image/render.h"
#include "pacs/image/transcode.h"
#include "tools/cli/tool.h"

static const char usage_text[] =
    "usage: pacs render FILE [--frame N] [--window C,W[,linear|linear-exact|sigmoid]]\n"
    "                   [--viewport W,H] [--format jpeg|png] [--quality Q] [-o OUT]\n"
    "       pacs render FILE --raw [--frame N] -o OUT      decoded frame, native bytes\n"
    "       pacs render FILE --transcode TS_UID [--lossy] [--new-uid] [--quality Q] -o OUT\n"
    "       pacs render FILE --info                        pixel attributes\n"
    "       pacs render FILE --bench N [--viewport W,H]    time decode/render per frame\n"
    "Frames count from 1. OUT '-' (the default) is standard output.\n";

static double now_ms(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec * 1e3 + (double)t.tv_nsec / 1e6;
}

/* CPU time of this process and of its reaped children (HTJ2K decodes in a child), in ms:
 * steadier than wall time on a loaded machine. */
static double cpu_ms(void)
{
    struct rusage self, kids;
    getrusage(RUSAGE_SELF, &self);
    getrusage(RUSAGE_CHILDREN, &kids);
    double us = 0;
    const struct rusage *u[2] = {&self, &kids};
    for (int i = 0; i < 2; i++) {
        us += (double)u[i]->ru_utime.tv_sec * 1e6 + (double)u[i]->ru_utime.tv_usec +
              (double)u[i]->ru_stime.tv_sec * 1e6 + (double)u[i]->ru_stime.tv_usec;
    }
    return us / 1e3;
}

static int open_out(const char *path)
{
    if (strcmp(path, "-") == 0) {
        return STDOUT_FILENO;
    }
    return open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
}

static int write_out(const char *path, const uint8_t *data, size_t len)
{
    int fd = open_out(path);
    if (fd < 0) {
        fprintf(stderr, "pacs render: %s: %s\n", path, strerror(errno));
        return -1;
    }
    size_t done = 0;
    while (done < len) {
        ssize_t n = write(fd, data + done, len - done);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            fprintf(stderr, "pacs render: write %s: %s\n", path, strerror(errno));
            break;
        }
        done += (size_t)n;
    }
    if (fd != STDOUT_FILENO) {
        close(fd);
    }
    return done == len ? 0 : -1;
}

/* Decode, render, encode: what /rendered does on a cache miss. */
static pacs_err render_once(pacs_image_file *f, uint32_t frame, const pacs_render_params *rp,
                            pacs_image_format fmt, int quality, uint8_t **out, size_t *len,
                            pacs_errinfo *ei)
{
    pacs_frame *fr = NULL;
    pacs_rendered *r = NULL;
    pacs_err err = pacs_image_decode(&f->src, f->desc, frame, &fr, ei);
    if (!err) {
        err = pacs_image_render(f->desc, fr, frame, rp, &r, ei);
    }
    if (!err) {
        err = pacs_image_encode(r, fmt, quality, out, len, ei);
    }
    pacs_rendered_free(r);
    pacs_frame_free(fr);
    return err;
}

static int bench(pacs_image_file *f, int n, const pacs_render_params *rp, int quality)
{
    const pacs_image_info *info = pacs_image_desc_info(f->desc);
    pacs_errinfo ei;
    double t0 = now_ms(), c0 = cpu_ms();
    for (int i = 0; i < n; i++) {
        pacs_frame *fr = NULL;
        if (pacs_image_decode(&f->src, f->desc, (uint32_t)i % info->frames, &fr, &ei)) {
            fprintf(stderr, "pacs render: %s\n", ei.msg);
            return TOOL_PROBLEMS;
        }
        pacs_frame_free(fr);
    }
    double decode = (now_ms() - t0) / n, decode_cpu = (cpu_ms() - c0) / n;
    pacs_image_cache *cache = pacs_image_cache_new((size_t)64 << 20);
    char key[256], params[128];
    pacs_render_params_key(rp, params, sizeof params);
    double cold = 0, warm = 0, cold_cpu = 0;
    size_t bytes = 0;
    for (int i = 0; i < n && cache; i++) {
        uint8_t *out = NULL;
        size_t len = 0;
        pacs_image_cache_key(key, sizeof key, "bench", (uint32_t)i % info->frames, params,
                             "image/jpeg");
        t0 = now_ms();
        c0 = cpu_ms();
        if (render_once(f, (uint32_t)i % info->frames, rp, PACS_IMAGE_JPEG, quality, &out, &len,
                        &ei)) {
            fprintf(stderr, "pacs render: %s\n", ei.msg);
            pacs_image_cache_free(cache);
            return TOOL_PROBLEMS;
        }
        pacs_image_cache_put(cache, key, out, len, "image/jpeg");
        cold += now_ms() - t0;
        cold_cpu += cpu_ms() - c0;
        bytes = len;
        free(out);
        t0 = now_ms();
        if (pacs_image_cache_get(cache, key, &out, &len, NULL)) {
            free(out);
        }
        warm += now_ms() - t0;
    }
    pacs_image_cache_free(cache);
    printf("transfer_syntax=%s rows=%u cols=%u frames=%u iterations=%d\n", f->src.ts_uid,
           info->rows, info->cols, info->frames, n);
    printf("decode_ms=%.3f render_jpeg_cold_ms=%.3f render_cached_ms=%.4f jpeg_bytes=%zu "
           "decode_cpu_ms=%.3f render_cold_cpu_ms=%.3f\n",
           decode, cold / n, warm / n, bytes, decode_cpu, cold_cpu / n);
    return TOOL_OK;
}

static int transcode(pacs_image_file *f, const char *ts, int lossy, int new_uid, int quality,
                     const char *out_path)
{
    pacs_transcode_params p = {ts, lossy, quality, new_uid};
    pacs_transcode_result res;
    pacs_errinfo ei;
    int fd = open_out(out_path);
    if (fd < 0) {
        fprintf(stderr, "pacs render: %s: %s\n", out_path, strerror(errno));
        return TOOL_PROBLEMS;
    }
    pacs_err err = pacs_image_transcode(&f->src, f->desc, &p, fd, &res, &ei);
    if (fd != STDOUT_FILENO) {
        close(fd);
    }
    if (err) {
        fprintf(stderr, "pacs render: %s\n", ei.msg);
        return TOOL_PROBLEMS;
    }
    fprintf(stderr, "pacs render: wrote %llu bytes, ratio %.2f%s, photometric %s\n",
            (unsigned long long)res.bytes, res.ratio, res.lossy ? ", lossy" : "", res.photometric);
    return TOOL_OK;
}

int pacs_tool__render(const pacs_config *cfg, int argc, char **argv)
{
    (void)cfg;
    const char *file = NULL, *out_path = "-", *window = NULL, *viewport = NULL, *ts = NULL;
    const char *format = "jpeg";
    long frame = 1, quality = 90, iterations = 0;
    int raw = 0, info_only = 0, lossy = 0, new_uid = 0;
    for (int i = 0; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--raw") == 0) {
            raw = 1;
        } else if (strcmp(a, "--info") == 0) {
            info_only = 1;
        } else if (strcmp(a, "--lossy") == 0) {
            lossy = 1;
        } else if (strcmp(a, "--new-uid") == 0) {
            new_uid = 1;
        } else if (v && strcmp(a, "--frame") == 0) {
            frame = strtol(v, NULL, 10), i++;
        } else if (v && strcmp(a, "--quality") == 0) {
            quality = strtol(v, NULL, 10), i++;
        } else if (v && strcmp(a, "--bench") == 0) {
            iterations = strtol(v, NULL, 10), i++;
        } else if (v && strcmp(a, "--window") == 0) {
            window = v, i++;
        } else if (v && strcmp(a, "--viewport") == 0) {
            viewport = v, i++;
        } else if (v && strcmp(a, "--format") == 0) {
            format = v, i++;
        } else if (v && strcmp(a, "--transcode") == 0) {
            ts = v, i++;
        } else if (v && strcmp(a, "-o") == 0) {
            out_path = v, i++;
        } else if (a[0] != '-' && !file) {
            file = a;
        } else {
            fputs(usage_text, stderr);
            return TOOL_USAGE;
        }
    }
    pacs_image_format fmt = strcmp(format, "png") == 0    ? PACS_IMAGE_PNG
                            : strcmp(format, "jpeg") == 0 ? PACS_IMAGE_JPEG
                                                          : 0;
    if (!file || frame < 1 || fmt == 0 || iterations < 0) {
        fputs(usage_text, stderr);
        return TOOL_USAGE;
    }
    pacs_errinfo ei;
    pacs_render_params rp;
    memset(&rp, 0, sizeof rp);
    if ((window && pacs_render_parse_window(window, &rp, &ei)) ||
        (viewport && pacs_render_parse_viewport(viewport, &rp, &ei))) {
        fprintf(stderr, "pacs render: %s\n", ei.msg);
        return TOOL_USAGE;
    }
    pacs_image_file *f = NULL;
    if (pacs_image_file_open(file, &f, &ei)) {
        fprintf(stderr, "pacs render: %s: %s\n", file, ei.msg);
        return TOOL_PROBLEMS;
    }
    int status = TOOL_OK;
    const pacs_image_info *info = pacs_image_desc_info(f->desc);
    if (info_only) {
        printf("transfer_syntax=%s rows=%u cols=%u frames=%u samples=%u bits_allocated=%u "
               "bits_stored=%u high_bit=%u pixel_rep=%u planar=%u photometric=%s\n",
               f->src.ts_uid, info->rows, info->cols, info->frames, info->samples,
               info->bits_allocated, info->bits_stored, info->high_bit, info->pixel_rep,
               info->planar, info->photometric);
    } else if (iterations > 0) {
        status = bench(f, (int)iterations, &rp, (int)quality);
    } else if (ts) {
        status = transcode(f, ts, lossy, new_uid, (int)quality, out_path);
    } else if (raw) {
        pacs_frame *fr = NULL;
        if (pacs_image_decode(&f->src, f->desc, (uint32_t)frame - 1, &fr, &ei)) {
            fprintf(stderr, "pacs render: %s\n", ei.msg);
            status = TOOL_PROBLEMS;
        } else {
            status = write_out(out_path, fr->data, fr->size) ? TOOL_PROBLEMS : TOOL_OK;
            fprintf(stderr, "pacs render: photometric=%s bits_allocated=%u pixel_rep=%u\n",
                    fr->info.photometric, fr->info.bits_allocated, fr->info.pixel_rep);
            pacs_frame_free(fr);
        }
    } else {
        uint8_t *out = NULL;
        size_t len = 0;
        if (render_once(f, (uint32_t)frame - 1, &rp, fmt, (int)quality, &out, &len, &ei)) {
            fprintf(stderr, "pacs render: %s\n", ei.msg);
            status = TOOL_PROBLEMS;
        } else {
            status = write_out(out_path, out, len) ? TOOL_PROBLEMS : TOOL_OK;
            free(out);
        }
    }
    pacs_image_file_close(f);
    return status;
}
