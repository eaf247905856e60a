// SPDX-License-Identifier: MIT
/*
 * The study generator: a deterministic world of synthetic patients and studies, and the Part 10
 * files of any of its studies. Everything is a pure function of (seed, index), so a study can be
 * written, or a query's expected result counted, without generating anything else: the
 * benchmark writes the same files for pacsd and Orthanc and knows how many matches each query
 * must return.
 *
 * Patients have Vietnamese names in UTF-8 (SpecificCharacterSet ISO_IR 192) drawn with realistic
 * family-name frequencies, health-insurance-card-like PatientIDs (15 characters) and birth dates;
 * studies are spread over 2014-2024. A CT study is series of 16-bit axial slices of a synthetic
 * body phantom with noise (rescale to HU, window, positions, orientation, thickness); a DX study
 * is 12-bit chest radiographs. Files are written through pacs/dicom (DCMTK), in explicit VR
 * little endian or a lossless compressed syntax.
 *
 * Load: the hot path of data generation (60,000 instances in minutes); one gen_scratch per
 * thread. Thread-safe: the functions share no state; a gen_scratch is used by one thread.
 */
#ifndef PACS_TOOLS_GEN_H
#define PACS_TOOLS_GEN_H

#include <stddef.h>
#include <stdint.h>

#include "pacs/base/err.h"

/** The root of every UID the generator makes (under the project's registered root). */
#define GEN_UID_ROOT "1.2.826.0.1.3680043.10.1347.99"

/** A world: `n_studies` studies of `n_patients` patients, all derived from `seed`. */
typedef struct gen_world {
    uint64_t seed;
    uint32_t n_studies;
    uint32_t n_patients;
} gen_world;

/** A world of `n_studies` studies with about 1.5 studies per patient. */
void gen_world_init(gen_world *w, uint64_t seed, uint32_t n_studies);

typedef enum gen_kind { GEN_CT = 0, GEN_DX = 1 } gen_kind;

typedef struct gen_patient {
    char name[96]; /* PN in UTF-8, "Family^Middle Given" */
    char family[32];
    char middle[32];
    char given[32];
    char id[20]; /* e.g. "GD4790123456789" */
    char birth_date[9];
    char sex[2];
} gen_patient;

typedef struct gen_study {
    uint32_t index;
    uint32_t patient;
    gen_kind kind;
    char uid[65];
    char date[9];
    char time[7];
    char accession[17];
    char study_id[17];
    char description[96];
    char body_part[17];
    char referring[96];
    char institution[96];
} gen_study;

/** Patient `p` (0 <= p < n_patients). */
void gen_patient_make(const gen_world *w, uint32_t p, gen_patient *out);

/** The patient of study `s`. */
uint32_t gen_study_patient(const gen_world *w, uint32_t s);

/** The study-level attributes of study `s`, as a `kind` study (date, accession, UIDs...). */
void gen_study_make(const gen_world *w, uint32_t s, gen_kind kind, gen_study *out);

/** The StudyDate of study `s` alone (cheap: for counting date-range matches). */
void gen_study_date(const gen_world *w, uint32_t s, char out[9]);

/** UIDs of series `k` of study `s` and of its instance `i` (0-based). */
void gen_series_uid(const gen_world *w, uint32_t s, uint32_t k, char out[65]);
void gen_instance_uid(const gen_world *w, uint32_t s, uint32_t k, uint32_t i, char out[65]);

/** The shape of the files written for a study. */
typedef struct gen_shape {
    gen_kind kind;
    uint32_t n_series;
    uint32_t n_per_series; /* slices (CT) or images (DX) per series */
    uint32_t rows, cols;   /* 512x512 for CT, 3000x2500 for DX; smaller for index filling */
    const char *ts_uid;    /* transfer syntax; NULL is explicit VR little endian */
} gen_shape;

/** Per-thread buffers; NULL when out of memory. */
typedef struct gen_scratch gen_scratch;
gen_scratch *gen_scratch_new(void);
void gen_scratch_free(gen_scratch *sc);

/**
 * Writes every instance of study `s` in `shape` as Part 10 files "SS-IIII.dcm" (series, instance)
 * into the existing folder `dir`. Adds the bytes and files written to `*bytes` and `*files`.
 */
pacs_err gen_write_study(const gen_world *w, uint32_t s, const gen_shape *shape, const char *dir,
                         gen_scratch *sc, uint64_t *bytes, uint32_t *files, pacs_errinfo *ei);

/**
 * Says how study `s` is written: its shape and the folder for its files (created with its
 * parents when missing). Called from several threads at once.
 */
typedef void (*gen_plan_fn)(void *ctx, uint32_t s, gen_shape *shape, char *dir, size_t dir_cap);

/**
 * Writes the `n` studies listed in `studies` with `threads` threads (1 or more), each study as
 * `plan` says. Adds the bytes and files written to `*bytes` and `*files`; stops at the first
 * error.
 */
pacs_err gen_write_parallel(const gen_world *w, const uint32_t *studies, size_t n, gen_plan_fn plan,
                            void *ctx, int threads, uint64_t *bytes, uint32_t *files,
                            pacs_errinfo *ei);

/** Creates `path` and its missing parents (mode 0755). */
pacs_err gen_mkdirs(const char *path, pacs_errinfo *ei);

/** The transfer syntax UID for a short name ("explicit", "jpeg-lossless", "jpeg-ls", "rle"),
 *  or NULL for an unknown name. */
const char *gen_ts_by_name(const char *name);

#endif
