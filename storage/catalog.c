// SPDX-License-Identifier: MIT
/* The attribute catalog (see catalog.h). The tag lists follow the PS3.3 modules: Patient,
 * General Study and Patient Study; General Series, General Equipment and the performed
 * procedure attributes that C-FIND and QIDO-RS return at series level. */
#include "storage/catalog.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pacs/base/buf.h"
#include "pacs/dicom/dcm.h"

#define P PACS_LEVEL_PATIENT
#define ST PACS_LEVEL_STUDY
#define SE PACS_LEVEL_SERIES
#define I PACS_LEVEL_INSTANCE

static const pacs_column columns[] = {
    {0x00100010, "PN", P, P, P, "p.name", PACS_COL_PN},
    {0x00100020, "LO", P, P, P, "p.patient_id", PACS_COL_TEXT},
    {0x00100021, "LO", P, P, P, "p.issuer", PACS_COL_TEXT},
    {0x00100030, "DA", P, P, P, "p.birth_date", PACS_COL_TEXT},
    {0x00100040, "CS", P, P, P, "p.sex", PACS_COL_TEXT},
    {0x00201200, "IS", P, P, P, "p.num_studies", PACS_COL_INT},
    {0x00201202, "IS", P, P, P, "p.num_series", PACS_COL_INT},
    {0x00201204, "IS", P, P, P, "p.num_instances", PACS_COL_INT},

    {0x00100010, "PN", ST, ST, I, "st.patient_name", PACS_COL_PN},
    {0x00100020, "LO", ST, ST, I, "st.patient_id", PACS_COL_TEXT},
    {0x00100021, "LO", ST, ST, I, "st.issuer", PACS_COL_TEXT},
    {0x00100030, "DA", ST, ST, I, "st.birth_date", PACS_COL_TEXT},
    {0x00100040, "CS", ST, ST, I, "st.sex", PACS_COL_TEXT},
    {0x00080020, "DA", ST, ST, I, "st.study_date", PACS_COL_TEXT},
    {0x00080030, "TM", ST, ST, I, "st.study_time", PACS_COL_TIME},
    {0x00080050, "SH", ST, ST, I, "st.accession", PACS_COL_TEXT},
    {0x00200010, "SH", ST, ST, I, "st.study_id", PACS_COL_TEXT},
    {0x0020000D, "UI", ST, ST, I, "st.study_uid", PACS_COL_TEXT},
    {0x00080090, "PN", ST, ST, I, "st.ref_physician", PACS_COL_PN},
    {0x00081030, "LO", ST, ST, I, "st.description", PACS_COL_TEXT},
    {0x00080061, "CS", ST, ST, I, "st.modalities", PACS_COL_MULTI},
    {0x00080062, "UI", ST, ST, I, "st.sop_classes", PACS_COL_MULTI},
    {0x00201206, "IS", ST, ST, I, "st.num_series", PACS_COL_INT},
    {0x00201208, "IS", ST, ST, I, "st.num_instances", PACS_COL_INT},

    {0x00080060, "CS", SE, SE, I, "se.modality", PACS_COL_TEXT},
    {0x0020000E, "UI", SE, SE, I, "se.series_uid", PACS_COL_TEXT},
    {0x00200011, "IS", SE, SE, I, "se.series_number", PACS_COL_INT},
    {0x0008103E, "LO", SE, SE, I, "se.description", PACS_COL_TEXT},
    {0x00180015, "CS", SE, SE, I, "se.body_part", PACS_COL_TEXT},
    {0x00080021, "DA", SE, SE, I, "se.series_date", PACS_COL_TEXT},
    {0x00080031, "TM", SE, SE, I, "se.series_time", PACS_COL_TIME},
    {0x00400244, "DA", SE, SE, I, "se.pps_start_date", PACS_COL_TEXT},
    {0x00400245, "TM", SE, SE, I, "se.pps_start_time", PACS_COL_TIME},
    {0x00201209, "IS", SE, SE, I, "se.num_instances", PACS_COL_INT},

    {0x00080018, "UI", I, I, I, "i.sop_uid", PACS_COL_TEXT},
    {0x00080016, "UI", I, I, I, "i.sop_class", PACS_COL_TEXT},
    {0x00200013, "IS", I, I, I, "i.instance_number", PACS_COL_INT},
    {0x00280008, "IS", I, I, I, "i.frames", PACS_COL_INT},
    {0x00280010, "US", I, I, I, "i.rows", PACS_COL_INT},
    {0x00280011, "US", I, I, I, "i.columns", PACS_COL_INT},
    {0x00280100, "US", I, I, I, "i.bits_allocated", PACS_COL_INT},
    {0x00080023, "DA", I, I, I, "i.content_date", PACS_COL_TEXT},
    {0x00080033, "TM", I, I, I, "i.content_time", PACS_COL_TIME},
    {0x00083002, "UI", I, I, I, "i.ts", PACS_COL_TEXT},
};

/* Study-level attributes besides the patient's (group 0010, kept with the study as well). */
static const uint32_t study_tags[] = {
    0x00080020, 0x00080030,
    0x00080050, 0x00080051,
    0x00080090, 0x00080096,
    0x00080201, 0x00081030,
    0x00081032, 0x00081048,
    0x00081049, 0x00081060,
    0x00081062, 0x00081080,
    0x00081084, 0x0020000D,
    0x00200010, 0x00321032,
    0x00321033, 0x00321060,
    0x00321064, 0x00400275 /* kept at series level too */,
};

static const uint32_t series_tags[] = {
    0x00080021, 0x00080031, 0x00080060, 0x00080064, 0x00080070, 0x00080080, 0x00080081, 0x00081010,
    0x00081040, 0x0008103E, 0x00081050, 0x00081052, 0x00081070, 0x00081072, 0x00081090, 0x00081111,
    0x00180015, 0x00181000, 0x00181020, 0x00181030, 0x00185100, 0x0020000E, 0x00200011, 0x00200060,
    0x00400244, 0x00400245, 0x00400253, 0x00400254, 0x00400260, 0x00400275, 0x00102210,
};

#define N_STUDY_TAGS (sizeof study_tags / sizeof study_tags[0])
#define N_SERIES_TAGS (sizeof series_tags / sizeof series_tags[0])

/* Sorted copies of the two lists, for bisection: every stored instance asks for the level of
 * each of its attributes three times (the levels' stored attributes), and the linear search
 * was a third of that work. */
static uint32_t sorted_study[N_STUDY_TAGS], sorted_series[N_SERIES_TAGS];
static pthread_once_t sorted_once = PTHREAD_ONCE_INIT;

static int cmp_tag(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

static void sort_lists(void)
{
    memcpy(sorted_study, study_tags, sizeof study_tags);
    memcpy(sorted_series, series_tags, sizeof series_tags);
    qsort(sorted_study, N_STUDY_TAGS, sizeof sorted_study[0], cmp_tag);
    qsort(sorted_series, N_SERIES_TAGS, sizeof sorted_series[0], cmp_tag);
}

static int in_list(const uint32_t *sorted, size_t n, uint32_t tag)
{
    return bsearch(&tag, sorted, n, sizeof *sorted, cmp_tag) != NULL;
}

const pacs_column *pacs_catalog_column(pacs_level query_level, uint32_t tag)
{
    for (size_t i = 0; i < sizeof columns / sizeof columns[0]; i++) {
        const pacs_column *c = &columns[i];
        if (c->tag == tag && query_level >= c->min_level && query_level <= c->max_level) {
            return c;
        }
    }
    return NULL;
}

/* The level an attribute belongs to, by the modules it comes from. */
static pacs_level tag_level(uint32_t tag)
{
    if ((tag >> 16) == 0x0010 && tag != 0x00102210) {
        return PACS_LEVEL_PATIENT;
    }
    pthread_once(&sorted_once, sort_lists);
    if (in_list(sorted_study, N_STUDY_TAGS, tag) && tag != 0x00400275) {
        return PACS_LEVEL_STUDY;
    }
    if (in_list(sorted_series, N_SERIES_TAGS, tag)) {
        return PACS_LEVEL_SERIES;
    }
    return PACS_LEVEL_INSTANCE;
}

int pacs_catalog_attrs_level(pacs_level query_level, uint32_t tag)
{
    pacs_level l = tag_level(tag);
    if (l > query_level) {
        return -1;
    }
    if (l == PACS_LEVEL_PATIENT && query_level > PACS_LEVEL_PATIENT) {
        return PACS_LEVEL_STUDY;
    }
    return (int)l;
}

/* A key's tag: eight hex digits (pacs_dcm_tag_parse reads them by hand), else as strtoul
 * reads it. */
static uint32_t key_tag(const char *key)
{
    uint32_t tag = 0;
    return pacs_dcm_tag_parse(key, &tag) == PACS_OK ? tag : (uint32_t)strtoul(key, NULL, 16);
}

int pacs_catalog_stored_at(pacs_level level, const char *key)
{
    uint32_t tag = key_tag(key);
    pacs_level l = tag_level(tag);
    return l == level || (level == PACS_LEVEL_STUDY && l == PACS_LEVEL_PATIENT) ||
           (level == PACS_LEVEL_STUDY && tag == 0x00400275);
}

uint32_t pacs_catalog_unique_key(pacs_level level)
{
    switch (level) {
    case PACS_LEVEL_PATIENT:
        return 0x00100020;
    case PACS_LEVEL_STUDY:
        return 0x0020000D;
    case PACS_LEVEL_SERIES:
        return 0x0020000E;
    default:
        return 0x00080018;
    }
}

char *pacs_json_text(const json_t *obj, uint32_t tag)
{
    char key[9];
    pacs_dcm_tag_key(tag, key);
    const json_t *values = json_object_get(json_object_get(obj, key), "Value");
    if (!json_is_array(values) || json_array_size(values) == 0) {
        return NULL;
    }
    pacs_buf b;
    pacs_buf_init(&b, 1u << 20);
    size_t i;
    json_t *v;
    pacs_err err = PACS_OK;
    json_array_foreach(values, i, v)
    {
        if (i > 0) {
            err = pacs_buf_puts(&b, "\\");
        }
        if (json_is_string(v)) {
            err = pacs_buf_puts(&b, json_string_value(v));
        } else if (json_is_integer(v)) {
            err = pacs_buf_printf(&b, "%lld", (long long)json_integer_value(v));
        } else if (json_is_real(v)) {
            err = pacs_buf_printf(&b, "%.16g", json_real_value(v));
        } else if (json_is_object(v)) {
            static const char *const groups[] = {"Alphabetic", "Ideographic", "Phonetic"};
            int last = -1;
            for (int g = 0; g < 3; g++) {
                if (json_object_get(v, groups[g])) {
                    last = g;
                }
            }
            for (int g = 0; g <= last && err == PACS_OK; g++) {
                const char *s = json_string_value(json_object_get(v, groups[g]));
                err = pacs_buf_printf(&b, "%s%s", g ? "=" : "", s ? s : "");
            }
        }
        if (err != PACS_OK) {
            break;
        }
    }
    if (err != PACS_OK || b.len == 0) {
        pacs_buf_free(&b);
        return NULL;
    }
    return pacs_buf_take(&b, NULL);
}
