// SPDX-License-Identifier: MIT
/*
 * Unit tests of name folding (fold.c): Vietnamese tones and vowel marks, đ/Đ, case, the PN
 * separators, blanks, and refusal of invalid UTF-8.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "storage/fold.h"

static void check_name(const char *in, const char *want)
{
    char *got = pacs_fold_name(in);
    if (!got || strcmp(got, want) != 0) {
        fail_msg("fold_name('%s') = '%s', wanted '%s'", in, got ? got : "(null)", want);
    }
    free(got);
}

static void check_case(const char *in, const char *want)
{
    char *got = pacs_fold_case(in);
    if (!got || strcmp(got, want) != 0) {
        fail_msg("fold_case('%s') = '%s', wanted '%s'", in, got ? got : "(null)", want);
    }
    free(got);
}

static void test_fold_name(void **state)
{
    (void)state;
    check_name("Nguyễn^Thị Hương", "nguyen thi huong");
    check_name("NGUYỄN^THỊ HƯƠNG", "nguyen thi huong");
    check_name("Đặng^Văn Đức", "dang van duc");
    check_name("đỗ^mười", "do muoi");
    check_name("Trần^Quốc Tuấn", "tran quoc tuan");
    check_name("Lê^Thị^^^", "le thi");
    check_name("  Phạm  ^  Ánh  ", "pham anh");
    check_name("Hồ^Chí^Minh=Ideo=Phon", "ho chi minh ideo phon");
    check_name("Ỷ Ỹ Ỵ ỳ ý", "y y y y y");
    check_name("ăâêôơư ĂÂÊÔƠƯ", "aaeoou aaeoou");
    check_name("Smith^John", "smith john");
    check_name("", "");
    /* Decomposed input (e + combining marks) folds the same as precomposed. */
    check_name("Nguye\xcc\x82\xcc\x83n", "nguyen");
    /* Other scripts keep their letters, case-folded. */
    check_name("Ωμέγα", "ωμεγα");
    assert_null(pacs_fold_name("bad \xff utf-8"));
    assert_null(pacs_fold_name("\xc3"));
}

static void test_fold_case(void **state)
{
    (void)state;
    check_case("Nguyễn^Thị Hương", "nguyễn^thị hương");
    check_case("NGUYỄN^THỊ HƯƠNG", "nguyễn^thị hương");
    check_case("ĐẶNG", "đặng");
    /* Composed (NFC) whatever the input form. */
    check_case("Nguye\xcc\x82\xcc\x83n", "nguyễn");
    assert_null(pacs_fold_case("\xfe"));
}

static void test_ascii_upper(void **state)
{
    (void)state;
    static const char *const cases[][2] = {
        {"Nguy\xe1\xbb\x85n^V\xc4\x83n An", "NGUYEN^VAN AN"},
        {"\xc4\x90\xe1\xbb\x97^\xc4\x90\xe1\xbb\xa9"
         "c Th\xe1\xbb\x8d",
         "DO^DUC THO"},
        {"Tr\xe1\xba\xa7n^Th\xe1\xbb\x8b H\xc6\xb0\xc6\xa1ng=\xe9\x99\x88", "TRAN^THI HUONG=?"},
        {"smith^john", "SMITH^JOHN"},
        {"", ""},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *got = pacs_fold_ascii_upper(cases[i][0]);
        assert_non_null(got);
        assert_string_equal(got, cases[i][1]);
        free(got);
    }
    assert_null(pacs_fold_ascii_upper("bad \xff"));
}

static void test_is_ascii(void **state)
{
    (void)state;
    assert_true(pacs_is_ascii("nguyen*"));
    assert_true(pacs_is_ascii(""));
    assert_false(pacs_is_ascii("nguyễn"));
    assert_false(pacs_is_ascii("đ"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fold_name),
        cmocka_unit_test(test_fold_case),
        cmocka_unit_test(test_ascii_upper),
        cmocka_unit_test(test_is_ascii),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
