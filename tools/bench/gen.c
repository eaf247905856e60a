// SPDX-License-Identifier: MIT
/*
 * The study generator (gen.h): names, identifiers, dates and UIDs from a counter-based hash of
 * (seed, index), phantom pixels, and Part 10 files written through pacs/dicom. It bears the load
 * of writing tens of thousands of files per benchmark run: pixels are computed row by row with
 * integer noise, and nothing is shared between threads (one gen_scratch each).
 */
#include "tools/bench/gen.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdatomic.h>
#include <sys/stat.h>

#include "pacs/dicom/dcm.h"

/* ---- Counter-based randomness: every draw is a function of (seed, what, index) ---- */

typedef struct rng {
    uint64_t s;
} rng;

static uint64_t mix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

static rng rng_for(const gen_world *w, uint64_t what, uint64_t index)
{
    rng r = {mix64(mix64(w->seed ^ mix64(what)) ^ index)};
    return r;
}

static uint64_t rng_next(rng *r)
{
    r->s += 0x9e3779b97f4a7c15ULL;
    return mix64(r->s);
}

static uint32_t rng_below(rng *r, uint32_t n)
{
    return (uint32_t)(((rng_next(r) >> 32) * (uint64_t)n) >> 32);
}

static double rng_unit(rng *r)
{
    return (double)(rng_next(r) >> 11) * 0x1p-53;
}

enum { WHAT_PATIENT = 1, WHAT_STUDY, WHAT_DATE, WHAT_PIXELS, WHAT_ID };

/* ---- Names ---- */

typedef struct weighted {
    const char *s;
    unsigned w;
} weighted;

/* Family names with roughly their share of the population (per mille). */
static const weighted kFamily[] = {
    {"Nguyễn", 380}, {"Trần", 110}, {"Lê", 95},    {"Phạm", 70}, {"Hoàng", 40}, {"Huỳnh", 20},
    {"Phan", 45},    {"Vũ", 25},    {"Võ", 14},    {"Đặng", 21}, {"Bùi", 20},   {"Đỗ", 14},
    {"Hồ", 13},      {"Ngô", 13},   {"Dương", 10}, {"Lý", 5},    {"Đinh", 8},   {"Đào", 6},
    {"Trương", 6},   {"Lương", 4},  {"Lâm", 4},    {"Mai", 5},   {"Hà", 4},     {"Cao", 3},
    {"Tạ", 3},       {"Phùng", 3},  {"Thái", 2},   {"Kiều", 1},  {"Quách", 1},  {"Chu", 2},
    {"Tô", 2},       {"La", 1},
};

static const weighted kMiddleMale[] = {
    {"Văn", 40}, {"Hữu", 8},  {"Đức", 10},  {"Minh", 10}, {"Quốc", 6},  {"Thành", 5},
    {"Công", 5}, {"Xuân", 4}, {"Quang", 6}, {"Anh", 4},   {"Trọng", 3}, {"Gia", 3},
};

static const weighted kMiddleFemale[] = {
    {"Thị", 50}, {"Ngọc", 10},  {"Thu", 6},  {"Thanh", 8}, {"Kim", 5},   {"Mỹ", 4},
    {"Hồng", 5}, {"Phương", 4}, {"Bích", 3}, {"Diệu", 2},  {"Khánh", 3},
};

static const char *const kGivenMale[] = {
    "An",    "Bảo",   "Bình", "Cường", "Dũng", "Duy",  "Đạt",   "Định",  "Đông",  "Giang",
    "Hải",   "Hiếu",  "Hòa",  "Hoàng", "Hùng", "Hưng", "Huy",   "Khang", "Khánh", "Khoa",
    "Kiên",  "Lâm",   "Long", "Luân",  "Mạnh", "Minh", "Nam",   "Nghĩa", "Nhân",  "Phát",
    "Phong", "Phúc",  "Quân", "Quang", "Sơn",  "Tài",  "Thắng", "Thành", "Thịnh", "Toàn",
    "Trí",   "Trung", "Tuấn", "Tùng",  "Việt", "Vinh", "Vũ",    "Lộc",   "Hậu",   "Tiến",
};

static const char *const kGivenFemale[] = {
    "Anh", "Châu", "Chi",   "Dung",  "Duyên", "Giang",  "Hà",    "Hạnh",  "Hằng", "Hiền",
    "Hoa", "Hồng", "Hương", "Huyền", "Lan",   "Liên",   "Linh",  "Loan",  "Mai",  "My",
    "Nga", "Ngân", "Ngọc",  "Nhung", "Oanh",  "Phương", "Quyên", "Quỳnh", "Tâm",  "Thảo",
    "Thơ", "Thu",  "Thủy",  "Trang", "Trinh", "Tuyết",  "Uyên",  "Vân",   "Vy",   "Xuân",
    "Yến", "Diệp", "Huệ",   "Lụa",   "Nhàn",  "Sương",  "Tuyền", "Ánh",   "Đào",  "Hậu",
};

#define COUNT(a) (sizeof(a) / sizeof((a)[0]))

static const char *pick_weighted(rng *r, const weighted *t, size_t n)
{
    unsigned total = 0;
    for (size_t i = 0; i < n; i++) {
        total += t[i].w;
    }
    unsigned x = rng_below(r, total);
    for (size_t i = 0; i < n; i++) {
        if (x < t[i].w) {
            return t[i].s;
        }
        x -= t[i].w;
    }
    return t[n - 1].s;
}

typedef struct person {
    const char *family, *middle, *given;
    int female;
} person;

static person make_person(rng *r)
{
    person p;
    p.female = (int)rng_below(r, 2);
    p.family = pick_weighted(r, kFamily, COUNT(kFamily));
    if (p.female) {
        p.middle = pick_weighted(r, kMiddleFemale, COUNT(kMiddleFemale));
        p.given = kGivenFemale[rng_below(r, COUNT(kGivenFemale))];
    } else {
        p.middle = pick_weighted(r, kMiddleMale, COUNT(kMiddleMale));
        p.given = kGivenMale[rng_below(r, COUNT(kGivenMale))];
    }
    return p;
}

/* ---- Dates: days since 1970-01-01, proleptic Gregorian ---- */

static int64_t days_from_civil(int y, unsigned m, unsigned d)
{
    y -= m <= 2;
    const int64_t era = (y >= 0 ? y : y - 399) / 400;
    const unsigned yoe = (unsigned)(y - era * 400);
    const unsigned doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + (int64_t)doe - 719468;
}

static void civil_from_days(int64_t z, char out[9])
{
    z += 719468;
    const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    const unsigned doe = (unsigned)(z - era * 146097);
    const unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    const unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    const unsigned mp = (5 * doy + 2) / 153;
    const unsigned d = doy - (153 * mp + 2) / 5 + 1;
    const unsigned m = mp < 10 ? mp + 3 : mp - 9;
    const int64_t y = (int64_t)yoe + era * 400 + (m <= 2);
    char tmp[40];
    snprintf(tmp, sizeof tmp, "%04d%02u%02u", (int)y, m, d);
    memcpy(out, tmp, 8);
    out[8] = '\0';
}

static int64_t patient_birth_days(const gen_world *w, uint32_t p)
{
    int64_t lo = days_from_civil(1932, 1, 1), hi = days_from_civil(2023, 12, 31);
    rng b = rng_for(w, WHAT_PATIENT + 100, p);
    /* Older patients are more frequent: the minimum of two uniform draws leans to the past. */
    int64_t a = lo + (int64_t)rng_below(&b, (uint32_t)(hi - lo));
    int64_t c = lo + (int64_t)rng_below(&b, (uint32_t)(hi - lo));
    return a < c ? a : c;
}

/* ---- The world ---- */

void gen_world_init(gen_world *w, uint64_t seed, uint32_t n_studies)
{
    w->seed = seed;
    w->n_studies = n_studies ? n_studies : 1;
    w->n_patients = (uint32_t)(((uint64_t)w->n_studies * 2 + 2) / 3);
}

uint32_t gen_study_patient(const gen_world *w, uint32_t s)
{
    return (uint32_t)((uint64_t)s * w->n_patients / w->n_studies);
}

static const char *const kProvinces[] = {"01", "79", "48", "49", "31", "92", "38", "40",
                                         "46", "56", "75", "89", "26", "33", "52", "64"};

void gen_patient_make(const gen_world *w, uint32_t p, gen_patient *out)
{
    rng r = rng_for(w, WHAT_PATIENT, p);
    person pe = make_person(&r);
    memset(out, 0, sizeof *out);
    snprintf(out->family, sizeof out->family, "%s", pe.family);
    snprintf(out->middle, sizeof out->middle, "%s", pe.middle);
    snprintf(out->given, sizeof out->given, "%s", pe.given);
    snprintf(out->name, sizeof out->name, "%s^%s %s", pe.family, pe.middle, pe.given);
    out->sex[0] = pe.female ? 'F' : 'M';
    int64_t birth = patient_birth_days(w, p);
    civil_from_days(birth, out->birth_date);
    int age = (int)((days_from_civil(2025, 1, 1) - birth) / 365);
    const char *kind;
    int benefit;
    if (age < 6) {
        kind = "TE";
        benefit = 1;
    } else if (age < 18) {
        kind = "HS";
        benefit = 4;
    } else if (age >= 60) {
        kind = "HT";
        benefit = 2;
    } else {
        kind = rng_below(&r, 2) ? "DN" : "GD";
        benefit = 4;
    }
    /* A bijection of p on ten digits: the number is unique within the world. */
    uint64_t off = mix64(w->seed ^ WHAT_ID) % 10000000000ULL;
    uint64_t digits = ((uint64_t)p * 2654435761ULL + off) % 10000000000ULL;
    snprintf(out->id, sizeof out->id, "%s%d%s%010llu", kind, benefit,
             kProvinces[rng_below(&r, COUNT(kProvinces))], (unsigned long long)digits);
}

void gen_study_date(const gen_world *w, uint32_t s, char out[9])
{
    int64_t lo = days_from_civil(2014, 1, 1), hi = days_from_civil(2024, 12, 31);
    int64_t birth = patient_birth_days(w, gen_study_patient(w, s));
    if (birth > lo) {
        lo = birth;
    }
    rng r = rng_for(w, WHAT_DATE, s);
    civil_from_days(lo + (int64_t)rng_below(&r, (uint32_t)(hi - lo + 1)), out);
}

typedef struct procedure {
    const char *description;
    const char *body_part;
} procedure;

static const procedure kCtProcedures[] = {
    {"CT sọ não không tiêm thuốc cản quang", "HEAD"},
    {"CT ngực liều thấp", "CHEST"},
    {"CT bụng - chậu có tiêm thuốc cản quang", "ABDOMEN"},
    {"CT cột sống thắt lưng", "LSPINE"},
};

static const procedure kDxProcedures[] = {
    {"X-quang ngực thẳng", "CHEST"},
    {"X-quang cột sống thắt lưng thẳng - nghiêng", "LSPINE"},
    {"X-quang khớp gối hai bên", "KNEE"},
};

static const char *const kInstitutions[] = {
    "Bệnh viện Đa khoa tỉnh Quảng Nam",
    "Bệnh viện Đa khoa tỉnh Nghệ An",
    "Trung tâm Y tế huyện Điện Bàn",
    "Bệnh viện Đa khoa khu vực Bồng Sơn",
};

void gen_study_make(const gen_world *w, uint32_t s, gen_kind kind, gen_study *out)
{
    rng r = rng_for(w, WHAT_STUDY, s);
    memset(out, 0, sizeof *out);
    out->index = s;
    out->patient = gen_study_patient(w, s);
    out->kind = kind;
    snprintf(out->uid, sizeof out->uid, GEN_UID_ROOT ".%llu.1.%u", (unsigned long long)w->seed, s);
    gen_study_date(w, s, out->date);
    snprintf(out->time, sizeof out->time, "%02u%02u%02u", 7 + rng_below(&r, 13), rng_below(&r, 60),
             rng_below(&r, 60));
    snprintf(out->accession, sizeof out->accession, "A%.2s%08u", out->date + 2, s % 100000000u);
    snprintf(out->study_id, sizeof out->study_id, "%u", s % 100000000u);
    const procedure *pr = kind == GEN_CT ? &kCtProcedures[rng_below(&r, COUNT(kCtProcedures))]
                                         : &kDxProcedures[rng_below(&r, COUNT(kDxProcedures))];
    snprintf(out->description, sizeof out->description, "%s", pr->description);
    snprintf(out->body_part, sizeof out->body_part, "%s", pr->body_part);
    person doc = make_person(&r);
    snprintf(out->referring, sizeof out->referring, "%s^%s %s", doc.family, doc.middle, doc.given);
    snprintf(out->institution, sizeof out->institution, "%s",
             kInstitutions[rng_below(&r, COUNT(kInstitutions))]);
}

void gen_series_uid(const gen_world *w, uint32_t s, uint32_t k, char out[65])
{
    snprintf(out, 65, GEN_UID_ROOT ".%llu.2.%u.%u", (unsigned long long)w->seed, s, k + 1);
}

void gen_instance_uid(const gen_world *w, uint32_t s, uint32_t k, uint32_t i, char out[65])
{
    snprintf(out, 65, GEN_UID_ROOT ".%llu.3.%u.%u.%u", (unsigned long long)w->seed, s, k + 1,
             i + 1);
}

static void frame_of_reference_uid(const gen_world *w, uint32_t s, char out[65])
{
    snprintf(out, 65, GEN_UID_ROOT ".%llu.4.%u", (unsigned long long)w->seed, s);
}

const char *gen_ts_by_name(const char *name)
{
    if (!name || strcmp(name, "explicit") == 0) {
        return PACS_TS_EXPLICIT_LE;
    }
    if (strcmp(name, "jpeg-lossless") == 0) {
        return "1.2.840.10008.1.2.4.70";
    }
    if (strcmp(name, "jpeg-ls") == 0) {
        return "1.2.840.10008.1.2.4.80";
    }
    if (strcmp(name, "rle") == 0) {
        return "1.2.840.10008.1.2.5";
    }
    return NULL;
}

/* ---- Pixels ---- */

struct gen_scratch {
    uint16_t *px;
    size_t cap; /* pixels */
};

gen_scratch *gen_scratch_new(void)
{
    return calloc(1, sizeof(gen_scratch));
}

void gen_scratch_free(gen_scratch *sc)
{
    if (!sc) {
        return;
    }
    free(sc->px);
    free(sc);
}

static int scratch_reserve(gen_scratch *sc, size_t n)
{
    if (n <= sc->cap) {
        return 0;
    }
    uint16_t *p = realloc(sc->px, n * sizeof *p);
    if (!p) {
        return -1;
    }
    sc->px = p;
    sc->cap = n;
    return 0;
}

/* Triangular noise in [-amp, amp] from one 64-bit draw: cheap and not constant. */
static inline int noise(uint64_t *state, int amp)
{
    uint64_t x = *state;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    *state = x;
    int a = (int)(x & 0xFFFF), b = (int)((x >> 16) & 0xFFFF);
    return ((a + b - 65535) * amp) / 65535;
}

static inline int in_ellipse(double x, double y, double cx, double cy, double a, double b)
{
    double dx = (x - cx) / a, dy = (y - cy) / b;
    return dx * dx + dy * dy <= 1.0;
}

typedef struct ct_body {
    double a, b;       /* body half-axes, mm */
    double lx, ly, lr; /* a lesion: centre and radius, mm */
    int lesion_hu;
    double chest_lo, chest_hi; /* z range of the lungs, mm */
} ct_body;

static ct_body ct_body_for(const gen_world *w, uint32_t s)
{
    rng r = rng_for(w, WHAT_PIXELS, s);
    ct_body b;
    b.a = 140 + 40 * rng_unit(&r);
    b.b = 95 + 30 * rng_unit(&r);
    b.lx = -60 + 120 * rng_unit(&r);
    b.ly = -40 + 60 * rng_unit(&r);
    b.lr = 5 + 15 * rng_unit(&r);
    b.lesion_hu = 20 + (int)rng_below(&r, 60);
    b.chest_lo = -150;
    b.chest_hi = 120;
    return b;
}

/* One axial slice at height z (mm), stored as HU + 1024 in 12 bits. */
static void ct_slice(uint16_t *px, uint32_t rows, uint32_t cols, double spacing, double z,
                     const ct_body *bd, uint64_t seed)
{
    uint64_t st = seed | 1;
    int chest = z > bd->chest_lo && z < bd->chest_hi;
    double lung_scale = chest ? sin((z - bd->chest_lo) / (bd->chest_hi - bd->chest_lo) * M_PI) : 0;
    for (uint32_t r = 0; r < rows; r++) {
        double y = ((double)r - rows / 2.0) * spacing;
        for (uint32_t c = 0; c < cols; c++) {
            double x = ((double)c - cols / 2.0) * spacing;
            int hu = -1000;
            if (in_ellipse(x, y, 0, 0, bd->a, bd->b)) {
                hu = in_ellipse(x, y, 0, 0, bd->a * 0.92, bd->b * 0.9) ? 40 : -100;
                if (lung_scale > 0.05 &&
                    (in_ellipse(x, y, -bd->a * 0.45, -8, bd->a * 0.33 * lung_scale,
                                bd->b * 0.6 * lung_scale) ||
                     in_ellipse(x, y, bd->a * 0.45, -8, bd->a * 0.33 * lung_scale,
                                bd->b * 0.6 * lung_scale))) {
                    hu = -850;
                }
                if (in_ellipse(x, y, 0, bd->b * 0.62, 19, 17)) {
                    hu = in_ellipse(x, y, 0, bd->b * 0.62, 15, 13) ? 250 : 900;
                }
                if (in_ellipse(x, y, -18, bd->b * 0.35, 12, 12)) {
                    hu = 180;
                }
                if (in_ellipse(x, y, bd->lx, bd->ly, bd->lr, bd->lr)) {
                    hu += bd->lesion_hu;
                }
                hu += noise(&st, 24);
            } else if (y > bd->b + 25 && y < bd->b + 40) {
                hu = -300 + noise(&st, 10); /* the table */
            } else {
                hu += noise(&st, 8);
            }
            int v = hu + 1024;
            px[(size_t)r * cols + c] = (uint16_t)(v < 0 ? 0 : v > 4095 ? 4095 : v);
        }
    }
}

/* A 12-bit chest radiograph, for presentation (MONOCHROME2: bone is bright). */
static void dx_image(uint16_t *px, uint32_t rows, uint32_t cols, uint64_t seed, double tilt)
{
    uint64_t st = seed | 1;
    for (uint32_t r = 0; r < rows; r++) {
        double v = (double)r / rows - 0.5;
        for (uint32_t c = 0; c < cols; c++) {
            double u = (double)c / cols - 0.5 + tilt * v;
            int val = 250;
            if (in_ellipse(u, v, 0, 0.05, 0.42, 0.55)) {
                val = 2300;
                int lung = in_ellipse(u, v, -0.17, -0.05, 0.13, 0.3) ||
                           in_ellipse(u, v, 0.17, -0.05, 0.13, 0.3);
                if (lung) {
                    val = 1000;
                    if (sin(v * 60 + fabs(u) * 14) > 0.75) {
                        val += 450; /* ribs */
                    }
                }
                if (fabs(u) < 0.035) {
                    val = 3000; /* spine */
                }
                if (in_ellipse(u, v, 0.04, 0.12, 0.12, 0.12)) {
                    val = val < 2500 ? 2500 : val; /* heart */
                }
            }
            val += noise(&st, 60);
            px[(size_t)r * cols + c] = (uint16_t)(val < 0 ? 0 : val > 4095 ? 4095 : val);
        }
    }
}

/* ---- Files ---- */

typedef struct putter {
    pacs_ds *ds;
    pacs_err err;
    pacs_errinfo *ei;
} putter;

static void put(putter *p, uint32_t tag, const char *value)
{
    if (p->err == PACS_OK) {
        p->err = pacs_ds_put_string(p->ds, tag, value, p->ei);
    }
}

static void putf(putter *p, uint32_t tag, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void putf(putter *p, uint32_t tag, const char *fmt, ...)
{
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    put(p, tag, buf);
}

static void put_common(putter *p, const gen_world *w, const gen_study *st, const gen_patient *pt,
                       const char *series_uid, uint32_t k, uint32_t i)
{
    char uid[65];
    put(p, 0x00080005, "ISO_IR 192");
    put(p, 0x00080020, st->date);
    put(p, 0x00080021, st->date);
    put(p, 0x00080022, st->date);
    put(p, 0x00080023, st->date);
    put(p, 0x00080030, st->time);
    put(p, 0x00080031, st->time);
    put(p, 0x00080032, st->time);
    put(p, 0x00080033, st->time);
    put(p, 0x00080050, st->accession);
    put(p, 0x00080080, st->institution);
    put(p, 0x00080090, st->referring);
    put(p, 0x00081030, st->description);
    put(p, 0x00100010, pt->name);
    put(p, 0x00100020, pt->id);
    put(p, 0x00100021, "BHXH");
    put(p, 0x00100030, pt->birth_date);
    put(p, 0x00100040, pt->sex);
    int age = atoi(st->date) / 10000 - atoi(pt->birth_date) / 10000;
    putf(p, 0x00101010, "%03dY", age < 0 ? 0 : age);
    put(p, 0x00180015, st->body_part);
    put(p, 0x0020000D, st->uid);
    put(p, 0x0020000E, series_uid);
    put(p, 0x00200010, st->study_id);
    putf(p, 0x00200011, "%u", k + 1);
    putf(p, 0x00200012, "%u", 1);
    putf(p, 0x00200013, "%u", i + 1);
    gen_instance_uid(w, st->index, k, i, uid);
    put(p, 0x00080018, uid);
    put(p, 0x00280002, "1");
    put(p, 0x00280004, "MONOCHROME2");
    put(p, 0x00280100, "16");
    put(p, 0x00280101, "12");
    put(p, 0x00280102, "11");
    put(p, 0x00280103, "0");
}

static pacs_err write_instance(pacs_ds *ds, const char *dir, uint32_t k, uint32_t i,
                               const gen_shape *shape, const uint16_t *px, uint64_t *bytes,
                               uint32_t *files, pacs_errinfo *ei)
{
    char path[4096];
    size_t n = (size_t)shape->rows * shape->cols;
    pacs_err err = pacs_ds_put_binary(ds, 0x7FE00010, "OW", px, n * 2, ei);
    if (err != PACS_OK) {
        return err;
    }
    snprintf(path, sizeof path, "%s/%02u-%04u.dcm", dir, k + 1, i + 1);
    err = pacs_ds_save_file(ds, path, shape->ts_uid ? shape->ts_uid : PACS_TS_EXPLICIT_LE, ei);
    if (err != PACS_OK) {
        return err;
    }
    struct stat sb;
    if (stat(path, &sb) == 0) {
        *bytes += (uint64_t)sb.st_size;
    }
    (*files)++;
    return PACS_OK;
}

static pacs_err write_ct(const gen_world *w, const gen_study *st, const gen_patient *pt,
                         const gen_shape *shape, const char *dir, gen_scratch *sc, uint64_t *bytes,
                         uint32_t *files, pacs_errinfo *ei)
{
    ct_body bd = ct_body_for(w, st->index);
    double fov = 350.0, spacing = fov / shape->cols;
    char series_uid[65], for_uid[65];
    frame_of_reference_uid(w, st->index, for_uid);
    for (uint32_t k = 0; k < shape->n_series; k++) {
        gen_series_uid(w, st->index, k, series_uid);
        double thickness = k == 0 ? 1.25 : 5.0;
        double z0 = 150.0;
        for (uint32_t i = 0; i < shape->n_per_series; i++) {
            double z = z0 - i * thickness;
            pacs_ds *ds = pacs_ds_new();
            if (!ds) {
                return pacs_errf(ei, PACS_ENOMEM, "out of memory");
            }
            putter p = {ds, PACS_OK, ei};
            put(&p, 0x00080008, "ORIGINAL\\PRIMARY\\AXIAL");
            put(&p, 0x00080016, "1.2.840.10008.5.1.4.1.1.2");
            put(&p, 0x00080060, "CT");
            put(&p, 0x00080070, "GE MEDICAL SYSTEMS");
            put(&p, 0x00081010, "CT01");
            put(&p, 0x0008103E, k == 0 ? "Axial 1.25mm" : "Axial 5mm");
            put(&p, 0x00081090, "Revolution EVO");
            put_common(&p, w, st, pt, series_uid, k, i);
            putf(&p, 0x00180050, "%.2f", thickness);
            put(&p, 0x00180060, "120");
            put(&p, 0x00180090, "500");
            put(&p, 0x00181020, "gen 1.0");
            putf(&p, 0x00181100, "%.1f", fov);
            put(&p, 0x00181120, "0");
            put(&p, 0x00181130, "160");
            put(&p, 0x00181140, "CW");
            put(&p, 0x00181150, "600");
            putf(&p, 0x00181151, "%u", 150 + (i * 7) % 120);
            put(&p, 0x00181152, "90");
            put(&p, 0x00181210, "STANDARD");
            put(&p, 0x00185100, "HFS");
            putf(&p, 0x00200032, "%.6f\\%.6f\\%.6f", -fov / 2 + spacing / 2, -fov / 2 + spacing / 2,
                 z);
            put(&p, 0x00200037, "1\\0\\0\\0\\1\\0");
            put(&p, 0x00200052, for_uid);
            put(&p, 0x00201040, "");
            putf(&p, 0x00201041, "%.6f", z);
            putf(&p, 0x00280010, "%u", shape->rows);
            putf(&p, 0x00280011, "%u", shape->cols);
            putf(&p, 0x00280030, "%.6f\\%.6f", spacing, spacing);
            put(&p, 0x00281050, "40\\-600");
            put(&p, 0x00281051, "400\\1500");
            put(&p, 0x00281052, "-1024");
            put(&p, 0x00281053, "1");
            put(&p, 0x00281054, "HU");
            put(&p, 0x00281055, "MEDIASTINUM\\LUNG");
            pacs_err err = p.err;
            if (err == PACS_OK) {
                ct_slice(sc->px, shape->rows, shape->cols, spacing, z, &bd,
                         mix64(w->seed ^ mix64(((uint64_t)st->index << 24) ^ (k << 16) ^ i)));
                err = write_instance(ds, dir, k, i, shape, sc->px, bytes, files, ei);
            }
            pacs_ds_free(ds);
            if (err != PACS_OK) {
                return err;
            }
        }
    }
    return PACS_OK;
}

static pacs_err write_dx(const gen_world *w, const gen_study *st, const gen_patient *pt,
                         const gen_shape *shape, const char *dir, gen_scratch *sc, uint64_t *bytes,
                         uint32_t *files, pacs_errinfo *ei)
{
    char series_uid[65];
    double spacing = 0.143 * 3000.0 / shape->rows;
    for (uint32_t k = 0; k < shape->n_series; k++) {
        gen_series_uid(w, st->index, k, series_uid);
        for (uint32_t i = 0; i < shape->n_per_series; i++) {
            pacs_ds *ds = pacs_ds_new();
            if (!ds) {
                return pacs_errf(ei, PACS_ENOMEM, "out of memory");
            }
            int lateral = i % 2 == 1;
            putter p = {ds, PACS_OK, ei};
            put(&p, 0x00080008, "ORIGINAL\\PRIMARY");
            put(&p, 0x00080016, "1.2.840.10008.5.1.4.1.1.1.1");
            put(&p, 0x00080060, "DX");
            put(&p, 0x00080068, "FOR PRESENTATION");
            put(&p, 0x00080070, "FUJIFILM Corporation");
            put(&p, 0x00081010, "DR01");
            put(&p, 0x0008103E, lateral ? "Nghiêng" : "Thẳng");
            put(&p, 0x00081090, "FDR Smart X");
            put_common(&p, w, st, pt, series_uid, k, i);
            put(&p, 0x00180060, "110");
            put(&p, 0x00181110, "1800");
            put(&p, 0x00181150, "20");
            put(&p, 0x00181151, "250");
            put(&p, 0x00181152, "5");
            putf(&p, 0x00181164, "%.3f\\%.3f", spacing, spacing);
            put(&p, 0x00185101, lateral ? "LL" : "PA");
            put(&p, 0x00200020, lateral ? "P\\F" : "L\\F");
            putf(&p, 0x00280010, "%u", shape->rows);
            putf(&p, 0x00280011, "%u", shape->cols);
            putf(&p, 0x00280030, "%.3f\\%.3f", spacing, spacing);
            put(&p, 0x00280301, "NO");
            put(&p, 0x00281040, "LIN");
            put(&p, 0x00281041, "1");
            put(&p, 0x00281050, "2048");
            put(&p, 0x00281051, "4096");
            put(&p, 0x00281052, "0");
            put(&p, 0x00281053, "1");
            put(&p, 0x00281054, "US");
            put(&p, 0x00282110, "00");
            pacs_err err = p.err;
            if (err == PACS_OK) {
                dx_image(sc->px, shape->rows, shape->cols,
                         mix64(w->seed ^ mix64(((uint64_t)st->index << 24) ^ (k << 16) ^ i)),
                         lateral ? 0.1 : 0.0);
                err = write_instance(ds, dir, k, i, shape, sc->px, bytes, files, ei);
            }
            pacs_ds_free(ds);
            if (err != PACS_OK) {
                return err;
            }
        }
    }
    return PACS_OK;
}

pacs_err gen_write_study(const gen_world *w, uint32_t s, const gen_shape *shape, const char *dir,
                         gen_scratch *sc, uint64_t *bytes, uint32_t *files, pacs_errinfo *ei)
{
    if (shape->rows == 0 || shape->cols == 0 || shape->rows > 8192 || shape->cols > 8192) {
        return pacs_errf(ei, PACS_EINVAL, "bad matrix %ux%u", shape->rows, shape->cols);
    }
    if (scratch_reserve(sc, (size_t)shape->rows * shape->cols) != 0) {
        return pacs_errf(ei, PACS_ENOMEM, "out of memory");
    }
    gen_study st;
    gen_patient pt;
    gen_study_make(w, s, shape->kind, &st);
    gen_patient_make(w, st.patient, &pt);
    if (shape->kind == GEN_CT) {
        return write_ct(w, &st, &pt, shape, dir, sc, bytes, files, ei);
    }
    return write_dx(w, &st, &pt, shape, dir, sc, bytes, files, ei);
}

pacs_err gen_mkdirs(const char *path, pacs_errinfo *ei)
{
    char buf[4096];
    size_t n = strlen(path);
    if (n == 0 || n >= sizeof buf) {
        return pacs_errf(ei, PACS_EINVAL, "bad folder name");
    }
    memcpy(buf, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] == '/' || buf[i] == '\0') {
            char saved = buf[i];
            buf[i] = '\0';
            if (mkdir(buf, 0755) != 0 && errno != EEXIST) {
                return pacs_errf(ei, pacs_err_from_errno(errno), "mkdir %s: %s", buf,
                                 strerror(errno));
            }
            buf[i] = saved;
        }
    }
    return PACS_OK;
}

typedef struct par_job {
    const gen_world *w;
    const uint32_t *studies;
    size_t n;
    gen_plan_fn plan;
    void *ctx;
    atomic_size_t next;
    atomic_int failed;
    pthread_mutex_t lock;
    uint64_t bytes;
    uint32_t files;
    pacs_errinfo ei;
} par_job;

static void *par_worker(void *arg)
{
    par_job *j = arg;
    gen_scratch *sc = gen_scratch_new();
    uint64_t bytes = 0;
    uint32_t files = 0;
    pacs_errinfo ei;
    pacs_errinfo_clear(&ei);
    pacs_err err = sc ? PACS_OK : pacs_errf(&ei, PACS_ENOMEM, "out of memory");
    while (err == PACS_OK && !atomic_load(&j->failed)) {
        size_t k = atomic_fetch_add(&j->next, 1);
        if (k >= j->n) {
            break;
        }
        gen_shape shape;
        char dir[4096];
        j->plan(j->ctx, j->studies[k], &shape, dir, sizeof dir);
        err = gen_mkdirs(dir, &ei);
        if (err == PACS_OK) {
            err = gen_write_study(j->w, j->studies[k], &shape, dir, sc, &bytes, &files, &ei);
        }
    }
    gen_scratch_free(sc);
    pthread_mutex_lock(&j->lock);
    j->bytes += bytes;
    j->files += files;
    if (err != PACS_OK && !atomic_exchange(&j->failed, 1)) {
        j->ei = ei;
    }
    pthread_mutex_unlock(&j->lock);
    return NULL;
}

pacs_err gen_write_parallel(const gen_world *w, const uint32_t *studies, size_t n, gen_plan_fn plan,
                            void *ctx, int threads, uint64_t *bytes, uint32_t *files,
                            pacs_errinfo *ei)
{
    pthread_t tids[64];
    par_job j = {.w = w, .studies = studies, .n = n, .plan = plan, .ctx = ctx};
    atomic_init(&j.next, 0);
    atomic_init(&j.failed, 0);
    pthread_mutex_init(&j.lock, NULL);
    if (threads < 1) {
        threads = 1;
    }
    if (threads > 64) {
        threads = 64;
    }
    int started = 0;
    for (int t = 0; t < threads; t++) {
        if (pthread_create(&tids[t], NULL, par_worker, &j) != 0) {
            break;
        }
        started++;
    }
    if (started == 0) {
        par_worker(&j);
    }
    for (int t = 0; t < started; t++) {
        pthread_join(tids[t], NULL);
    }
    pthread_mutex_destroy(&j.lock);
    *bytes += j.bytes;
    *files += j.files;
    if (atomic_load(&j.failed)) {
        if (ei) {
            *ei = j.ei;
        }
        return j.ei.code != PACS_OK ? j.ei.code : PACS_EIO;
    }
    return PACS_OK;
}
