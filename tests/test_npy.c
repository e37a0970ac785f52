/* Unit tests for the .npy reader and writer: round trip and exact header
 * layout, float64 conversion, version 2.0, and files that must be refused
 * (Fortran order, truncation, bad magic, bad header dicts). Files are made
 * by hand here, byte by byte, in a temporary folder per test. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "error.h"
#include "fixtures.h"
#include "image.h"
#include "npy.h"

/* Write an .npy file: magic, version major.0, the header dict padded with
 * spaces and '\n' to a 64-byte boundary (as NumPy does), then data. */
static void write_npy(const char *path, int major, const char *dict,
                      const void *data, size_t data_len)
{
    size_t prefix = major == 1 ? 10 : 12;
    size_t hlen = strlen(dict) + 1;
    size_t pad = 64 - (prefix + hlen) % 64;
    FILE *fp = fopen(path, "wb");

    assert_non_null(fp);
    fwrite("\x93NUMPY", 1, 6, fp);
    fputc(major, fp);
    fputc(0, fp);
    hlen += pad;
    fputc((int)(hlen & 0xff), fp);
    fputc((int)((hlen >> 8) & 0xff), fp);
    if (major != 1) {
        fputc(0, fp);
        fputc(0, fp);
    }
    fputs(dict, fp);
    for (size_t i = 0; i < pad; i++)
        fputc(' ', fp);
    fputc('\n', fp);
    if (data_len)
        fwrite(data, 1, data_len, fp);
    assert_int_equal(fclose(fp), 0);
}

static void expect_refused(const char *path, enum cld_status st,
                           const char *part)
{
    struct cld_matrix m;

    cld_error_clear();
    assert_int_equal(cld_npy_load(path, &m), st);
    assert_null(m.data);
    assert_int_equal(m.rows, 0);
    assert_non_null(strstr(cld_error_detail(), path));
    if (part && !strstr(cld_error_detail(), part))
        fail_msg("detail '%s' lacks '%s'", cld_error_detail(), part);
}

static const float sample[6] = {1.0f, -2.5f, 0.1f, 3.0e38f, -0.0f, 1e-40f};

static void test_npy_roundtrip(void **state)
{
    static const char want_dict[] =
        "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }";
    struct cld_test_tmp *t = *state;
    struct cld_matrix m, r;
    uint8_t *raw;
    size_t n, hlen;

    assert_int_equal(cld_matrix_alloc(&m, 2, 3), CLD_OK);
    memcpy(m.data, sample, sizeof sample);
    assert_int_equal(cld_npy_save(cld_test_tmp_path(t, "m.npy"), &m, false), CLD_OK);

    raw = cld_test_read_file(cld_test_tmp_path(t, "m.npy"), &n);
    assert_memory_equal(raw, "\x93NUMPY\x01\x00", 8);
    hlen = raw[8] | (size_t)raw[9] << 8;
    assert_int_equal((10 + hlen) % 64, 0);
    assert_int_equal(n, 10 + hlen + sizeof sample);
    assert_memory_equal(raw + 10, want_dict, sizeof want_dict - 1);
    for (size_t i = 10 + sizeof want_dict - 1; i < 10 + hlen - 1; i++)
        assert_int_equal(raw[i], ' ');
    assert_int_equal(raw[10 + hlen - 1], '\n');
    assert_memory_equal(raw + 10 + hlen, sample, sizeof sample);
    free(raw);

    assert_int_equal(cld_npy_load(cld_test_tmp_path(t, "m.npy"), &r), CLD_OK);
    assert_int_equal(r.rows, 2);
    assert_int_equal(r.cols, 3);
    assert_memory_equal(r.data, sample, sizeof sample);
    cld_matrix_free(&r);
    cld_matrix_free(&m);
}

static void test_npy_f8_converted(void **state)
{
    static const double d[4] = {1.5, -2.25, 0.1, 1e300};
    struct cld_test_tmp *t = *state;
    struct cld_matrix m;

    write_npy(cld_test_tmp_path(t, "d.npy"), 1,
              "{\"descr\": \"<f8\", \"shape\": (4,1), \"fortran_order\":False}",
              d, sizeof d);
    assert_int_equal(cld_npy_load(cld_test_tmp_path(t, "d.npy"), &m), CLD_OK);
    assert_int_equal(m.rows, 4);
    assert_int_equal(m.cols, 1);
    assert_true(m.data[0] == 1.5f);
    assert_true(m.data[1] == -2.25f);
    assert_true(m.data[2] == (float)0.1);
    assert_true(isinf(m.data[3]) && m.data[3] > 0);
    cld_matrix_free(&m);
}

static void test_npy_version2(void **state)
{
    struct cld_test_tmp *t = *state;
    struct cld_matrix m;

    write_npy(cld_test_tmp_path(t, "v2.npy"), 2,
              "{'descr': '<f4', 'fortran_order': False, 'shape': (3, 2), }",
              sample, sizeof sample);
    assert_int_equal(cld_npy_load(cld_test_tmp_path(t, "v2.npy"), &m), CLD_OK);
    assert_int_equal(m.rows, 3);
    assert_int_equal(m.cols, 2);
    assert_memory_equal(m.data, sample, sizeof sample);
    cld_matrix_free(&m);
}

static void test_npy_fortran_refused(void **state)
{
    struct cld_test_tmp *t = *state;

    write_npy(cld_test_tmp_path(t, "f.npy"), 1,
              "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }",
              sample, sizeof sample);
    expect_refused(cld_test_tmp_path(t, "f.npy"), CLD_ERR_FORMAT, "fortran_order");
}

static void test_npy_truncated_refused(void **state)
{
    struct cld_test_tmp *t = *state;
    uint8_t *raw;
    size_t n;
    FILE *fp;

    write_npy(cld_test_tmp_path(t, "s.npy"), 1,
              "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }",
              sample, sizeof sample - 1);
    expect_refused(cld_test_tmp_path(t, "s.npy"), CLD_ERR_FORMAT, "truncated npy data");

    /* A huge shape in a small file is refused before allocating. */
    write_npy(cld_test_tmp_path(t, "h.npy"), 1,
              "{'descr': '<f8', 'fortran_order': False, "
              "'shape': (4000000000, 4000000000), }", sample, sizeof sample);
    expect_refused(cld_test_tmp_path(t, "h.npy"), CLD_ERR_FORMAT, "truncated npy data");

    /* The header itself cut short. */
    write_npy(cld_test_tmp_path(t, "full.npy"), 1,
              "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }",
              sample, sizeof sample);
    raw = cld_test_read_file(cld_test_tmp_path(t, "full.npy"), &n);
    fp = fopen(cld_test_tmp_path(t, "cut.npy"), "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(raw, 1, 40, fp), 40);
    fclose(fp);
    free(raw);
    expect_refused(cld_test_tmp_path(t, "cut.npy"), CLD_ERR_FORMAT,
                   "truncated npy header");
}

static void test_npy_bad_magic_refused(void **state)
{
    struct cld_test_tmp *t = *state;
    FILE *fp;

    cld_test_write_file(cld_test_tmp_path(t, "m.npy"), "\x93NUMPX\x01\x00\x02\x00{}", 12);
    expect_refused(cld_test_tmp_path(t, "m.npy"), CLD_ERR_FORMAT, "bad magic");

    fp = fopen(cld_test_tmp_path(t, "e.npy"), "wb");
    assert_non_null(fp);
    fclose(fp);
    expect_refused(cld_test_tmp_path(t, "e.npy"), CLD_ERR_FORMAT, "empty file");

    cld_test_write_file(cld_test_tmp_path(t, "v.npy"), "\x93NUMPY\x04\x00\x02\x00{}", 12);
    expect_refused(cld_test_tmp_path(t, "v.npy"), CLD_ERR_FORMAT, "version 4.0");
    /* Only the magic: the version bytes are missing. */
    cld_test_write_file(cld_test_tmp_path(t, "short.npy"), "\x93NUMPY", 6);
    expect_refused(cld_test_tmp_path(t, "short.npy"), CLD_ERR_FORMAT,
                   "truncated npy header");
    /* PNG bytes are not an npy file. */
    cld_test_write_file(cld_test_tmp_path(t, "p.npy"), "\x89PNG\r\n\x1a\n", 8);
    expect_refused(cld_test_tmp_path(t, "p.npy"), CLD_ERR_FORMAT, "bad magic");

    expect_refused(cld_test_tmp_path(t, "absent.npy"), CLD_ERR_NOT_FOUND, NULL);
}

static void test_npy_bad_headers_refused(void **state)
{
    static const struct {
        const char *dict;
        const char *part;
    } cases[] = {
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (6,), }",
         "need a 2-D array, got 1 dimension"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (1, 2, 3), }",
         "got 3 dimensions"},
        {"{'descr': '>f4', 'fortran_order': False, 'shape': (2, 3), }",
         "big-endian"},
        {"{'descr': '<i4', 'fortran_order': False, 'shape': (2, 3), }",
         "dtype '<i4' not supported"},
        {"{'descr': '<f4', 'shape': (2, 3), }", "missing"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), "
         "'extra': 1}", "unexpected or repeated key 'extra'"},
        {"{'descr': '<f4', 'descr': '<f4', 'fortran_order': False, "
         "'shape': (2, 3)}", "repeated key 'descr'"},
        {"['descr', '<f4']", "not a dict"},
        {"{'descr': '<f4', 'fortran_order': 0, 'shape': (2, 3), }",
         "True or False"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, -3), }",
         "non-negative integers"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (0, 3), }",
         "empty array"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)} x",
         "trailing"},
        {"{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)",
         "expected ',' or '}'"},
    };
    struct cld_test_tmp *t = *state;

    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char name[32];

        snprintf(name, sizeof name, "h%zu.npy", i);
        write_npy(cld_test_tmp_path(t, name), 1, cases[i].dict, sample, sizeof sample);
        expect_refused(cld_test_tmp_path(t, name), CLD_ERR_FORMAT, cases[i].part);
    }
}

static void test_npy_save_no_overwrite(void **state)
{
    struct cld_test_tmp *t = *state;
    struct cld_matrix a, b, r, empty = {0, 0, NULL};

    assert_int_equal(cld_matrix_alloc(&a, 1, 2), CLD_OK);
    assert_int_equal(cld_matrix_alloc(&b, 2, 1), CLD_OK);
    a.data[0] = 1.0f;
    a.data[1] = 2.0f;
    b.data[0] = 3.0f;
    b.data[1] = 4.0f;
    assert_int_equal(cld_npy_save(cld_test_tmp_path(t, "o.npy"), &a, false), CLD_OK);
    assert_int_equal(cld_npy_save(cld_test_tmp_path(t, "o.npy"), &b, false),
                     CLD_ERR_EXISTS);
    assert_non_null(strstr(cld_error_detail(), "o.npy: "));
    assert_int_equal(cld_npy_load(cld_test_tmp_path(t, "o.npy"), &r), CLD_OK);
    assert_int_equal(r.rows, 1);
    assert_true(r.data[1] == 2.0f);
    cld_matrix_free(&r);

    assert_int_equal(cld_npy_save(cld_test_tmp_path(t, "o.npy"), &b, true), CLD_OK);
    assert_int_equal(cld_npy_load(cld_test_tmp_path(t, "o.npy"), &r), CLD_OK);
    assert_int_equal(r.rows, 2);
    assert_true(r.data[1] == 4.0f);
    cld_matrix_free(&r);
    assert_int_equal(cld_test_count_entries(t->dir), 1);

    assert_int_equal(cld_npy_save(cld_test_tmp_path(t, "no/dir.npy"), &a, false),
                     CLD_ERR_NOT_FOUND);
    assert_int_equal(cld_npy_save(cld_test_tmp_path(t, "e.npy"), &empty, false),
                     CLD_ERR_INVALID);
    assert_int_equal(cld_test_count_entries(t->dir), 1);
    cld_matrix_free(&a);
    cld_matrix_free(&b);
}

#define TMP_TEST(f) cmocka_unit_test_setup_teardown(f, cld_test_tmp_setup, cld_test_tmp_teardown)

int main(void)
{
    const struct CMUnitTest tests[] = {
        TMP_TEST(test_npy_roundtrip),
        TMP_TEST(test_npy_f8_converted),
        TMP_TEST(test_npy_version2),
        TMP_TEST(test_npy_fortran_refused),
        TMP_TEST(test_npy_truncated_refused),
        TMP_TEST(test_npy_bad_magic_refused),
        TMP_TEST(test_npy_bad_headers_refused),
        TMP_TEST(test_npy_save_no_overwrite),
    };

    return cmocka_run_group_tests_name("npy", tests, NULL, NULL);
}
