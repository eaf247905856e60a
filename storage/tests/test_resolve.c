// SPDX-License-Identifier: MIT
/*
 * Unit tests of the retrieve path's resolve step (resolve.c) on a real archive in a temporary
 * folder, filled with pydicom's samples through the real ingest path: a study, a series and an
 * instance resolve to the instances stored there with what the index knows of them (UIDs, SOP
 * class, transfer syntax, object key and size, frames, whether there is pixel data, the pixel
 * layout only when asked for); unknown UIDs are PACS_ENOTFOUND naming the level; the cap is
 * PACS_ETOOBIG with an empty list; the query alone names the deepest level given.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "storage/resolve.h"
#include "storage/tests/sample_archive.h"

#define TAG_STUDY 0x0020000Du
#define TAG_SERIES 0x0020000Eu
#define TAG_SOP 0x00080018u
#define TAG_CLASS 0x00080016u

static int setup(void **state)
{
    sample_archive *s = sample_archive_open();
    *state = s;
    return s ? 0 : -1;
}

static int teardown(void **state)
{
    sample_archive_close(*state);
    return 0;
}

/* The item of `l` with SOP Instance UID `sop`, or NULL. */
static const pacs_resolve_item *item_for(const pacs_resolve_list *l, const char *sop)
{
    for (size_t i = 0; i < l->n; i++) {
        if (strcmp(l->v[i].sop_uid, sop) == 0) {
            return &l->v[i];
        }
    }
    return NULL;
}

static void test_study(void **state)
{
    sample_archive *s = *state;
    char *study = sample_value(S_J2K, TAG_STUDY), *series = sample_value(S_J2K, TAG_SERIES);
    char *j2k = sample_value(S_J2K, TAG_SOP), *jpeg = sample_value(S_JPEG12, TAG_SOP);
    char *cls = sample_value(S_J2K, TAG_CLASS);
    pacs_resolve_list l;
    pacs_errinfo ei;
    assert_int_equal(pacs_resolve_uids(s->a, study, NULL, NULL, 0, 0, &l, &ei), PACS_OK);
    assert_int_equal(l.n, 2);
    const pacs_resolve_item *a = item_for(&l, j2k), *b = item_for(&l, jpeg);
    if (!a || !b) {
        fail_msg("the two instances of the study are not both listed");
        return;
    }
    assert_string_equal(a->study_uid, study);
    assert_string_equal(a->series_uid, series);
    assert_string_equal(a->sop_class, cls);
    assert_string_equal(a->ts, "1.2.840.10008.1.2.4.91");
    assert_string_equal(b->ts, "1.2.840.10008.1.2.4.51");
    assert_int_equal(strlen(a->object), PACS_OBJECT_KEY_LEN);
    assert_string_not_equal(a->object, b->object);
    assert_true(a->has_pixels && b->has_pixels);
    assert_null(a->layout); /* not asked for */
    /* The size is the stored object's: open it and look. */
    int fd = -1;
    assert_int_equal(pacs_archive_open_object(s->a, a->object, &fd, &ei), PACS_OK);
    assert_int_equal((uint64_t)lseek(fd, 0, SEEK_END), a->size);
    close(fd);
    pacs_resolve_list_free(&l);
    assert_int_equal(l.n, 0);
    assert_null(l.v);
    free(study);
    free(series);
    free(j2k);
    free(jpeg);
    free(cls);
}

static void test_series_and_instance(void **state)
{
    sample_archive *s = *state;
    char *study = sample_value(S_RLE2, TAG_STUDY), *series = sample_value(S_RLE2, TAG_SERIES);
    char *sop = sample_value(S_RLE2, TAG_SOP);
    pacs_resolve_list l;
    pacs_errinfo ei;
    assert_int_equal(pacs_resolve_uids(s->a, study, series, NULL, 0, 0, &l, &ei), PACS_OK);
    assert_int_equal(l.n, 2); /* the RLE and the JPEG baseline RGB images */
    pacs_resolve_list_free(&l);
    assert_int_equal(pacs_resolve_uids(s->a, study, series, sop, PACS_RESOLVE_LAYOUT, 0, &l, &ei),
                     PACS_OK);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.v[0].sop_uid, sop);
    assert_string_equal(l.v[0].ts, "1.2.840.10008.1.2.5");
    assert_int_equal(l.v[0].frames, 2);
    assert_non_null(l.v[0].layout);
    assert_true(l.v[0].layout_len > 0);
    /* The blob is the pixel layout the index recorded: two frames, addressable. */
    pacs_pixel_layout pl;
    assert_int_equal(pacs_pixel_layout_decode(l.v[0].layout, l.v[0].layout_len, &pl, &ei), PACS_OK);
    assert_int_equal(pl.kind, PACS_PIXELS_ENCAPSULATED);
    assert_int_equal(pl.n_frames, 2);
    pacs_pixel_layout_clear(&pl);
    pacs_resolve_list_free(&l);
    /* An instance alone, by its SOP Instance UID (what forwarding knows). */
    assert_int_equal(pacs_resolve_uids(s->a, NULL, NULL, sop, 0, 1, &l, &ei), PACS_OK);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.v[0].study_uid, study);
    pacs_resolve_list_free(&l);
    free(study);
    free(series);
    free(sop);
}

static void test_no_pixels(void **state)
{
    sample_archive *s = *state;
    char *sop = sample_value(S_PLAN, TAG_SOP);
    pacs_resolve_list l;
    pacs_errinfo ei;
    assert_int_equal(pacs_resolve_uids(s->a, NULL, NULL, sop, PACS_RESOLVE_LAYOUT, 0, &l, &ei),
                     PACS_OK);
    assert_int_equal(l.n, 1);
    assert_false(l.v[0].has_pixels);
    assert_null(l.v[0].layout);
    assert_string_equal(l.v[0].ts, "1.2.840.10008.1.2");
    pacs_resolve_list_free(&l);
    free(sop);
}

static void test_not_found_and_cap(void **state)
{
    sample_archive *s = *state;
    char *study = sample_value(S_J2K, TAG_STUDY);
    pacs_resolve_list l;
    pacs_errinfo ei;
    assert_int_equal(pacs_resolve_uids(s->a, "1.2.3.999", NULL, NULL, 0, 0, &l, &ei),
                     PACS_ENOTFOUND);
    assert_string_equal(ei.msg, "no such study");
    assert_int_equal(l.n, 0);
    assert_int_equal(pacs_resolve_uids(s->a, study, "1.2.3.999", NULL, 0, 0, &l, &ei),
                     PACS_ENOTFOUND);
    assert_string_equal(ei.msg, "no such series");
    assert_int_equal(pacs_resolve_uids(s->a, study, NULL, "1.2.3.999", 0, 0, &l, &ei),
                     PACS_ENOTFOUND);
    assert_string_equal(ei.msg, "no such instance");
    /* Two instances over a cap of one: refused whole. */
    assert_int_equal(pacs_resolve_uids(s->a, study, NULL, NULL, 0, 1, &l, &ei), PACS_ETOOBIG);
    assert_int_equal(l.n, 0);
    assert_null(l.v);
    /* pacs_resolve_instances() leaves an empty match to the caller. */
    pacs_query *q = pacs_resolve_query("1.2.3.999", NULL, NULL, &ei);
    assert_non_null(q);
    assert_int_equal(pacs_resolve_instances(s->a, q, 0, 0, &l, &ei), PACS_OK);
    assert_int_equal(l.n, 0);
    pacs_query_free(q);
    free(study);
}

static void test_query_level(void **state)
{
    (void)state;
    pacs_errinfo ei;
    pacs_query *q = pacs_resolve_query("1.2.3", NULL, NULL, &ei);
    assert_int_equal(pacs_query_level(q), PACS_LEVEL_STUDY);
    pacs_query_free(q);
    q = pacs_resolve_query("1.2.3", "1.2.4", NULL, &ei);
    assert_int_equal(pacs_query_level(q), PACS_LEVEL_SERIES);
    pacs_query_free(q);
    q = pacs_resolve_query(NULL, NULL, "1.2.5", &ei);
    assert_int_equal(pacs_query_level(q), PACS_LEVEL_INSTANCE);
    pacs_query_free(q);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_study),       cmocka_unit_test(test_series_and_instance),
        cmocka_unit_test(test_no_pixels),   cmocka_unit_test(test_not_found_and_cap),
        cmocka_unit_test(test_query_level),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
