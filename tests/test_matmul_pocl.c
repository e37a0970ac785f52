/* matmul on every OpenCL device, with both kernels (tiled and rows),
 * against the C reference. Tolerance: max |C_cl - C_ref| over
 * max(1, max |C_ref|) at most 1e-4; the kernels sum in another order (and
 * may fuse multiply-adds), which moves results by a few ulps of the
 * largest term. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "fixtures.h"
#include "job_hooks.h"
#include "jobs.h"

#define TOLERANCE 1e-4

/* Internal helpers of host/job_matmul.c. */

static double rel_error(const struct cld_matrix *got,
                        const struct cld_matrix *ref)
{
    size_t n = (size_t)ref->rows * ref->cols;
    double maxref = 1.0, maxdiff = 0.0;

    assert_int_equal(got->rows, ref->rows);
    assert_int_equal(got->cols, ref->cols);
    for (size_t i = 0; i < n; i++) {
        double d = fabs((double)got->data[i] - (double)ref->data[i]);

        if (isnan(d))
            return INFINITY;
        if (d > maxdiff)
            maxdiff = d;
        if (fabs((double)ref->data[i]) > maxref)
            maxref = fabs((double)ref->data[i]);
    }
    return maxdiff / maxref;
}

/* m x k times k x n: 1 x 1, all-tail columns (n < 16), rows not a
 * multiple of 8 or 16, one tail column (257), and the default size. The
 * tiled kernel (the GPU path) is slow on CPU devices, so it skips 512: a
 * second each there, minutes under valgrind. */
static const uint32_t shapes[][3] = {
    {1, 1, 1}, {17, 33, 5}, {13, 50, 35}, {64, 64, 64}, {257, 257, 257},
    {512, 512, 512},
};

static void test_matmul_kernels_match_reference(void **state)
{
    struct cld_test_devices *t = *state;

    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        uint32_t m = shapes[s][0], k = shapes[s][1], n = shapes[s][2];
        uint64_t seed = 1000 + s;
        struct cld_matrix a, b, ref;

        assert_int_equal(cld__matmul_random(&a, m, k, &seed), CLD_OK);
        assert_int_equal(cld__matmul_random(&b, k, n, &seed), CLD_OK);
        assert_int_equal(cld__matmul_ref(&a, &b, &ref), CLD_OK);
        for (int d = 0; d < t->n; d++) {
            for (int tiled = 0; tiled < (m < 512 ? 2 : 1); tiled++) {
                struct cld_matrix got;
                double err;

                assert_int_equal(cld__matmul_cl(t->ctx[d], &a, &b, tiled,
                                                &got), CLD_OK);
                err = rel_error(&got, &ref);
                if (err > TOLERANCE)
                    fprintf(stderr, "device %d %s %ux%ux%u: error %g\n", d,
                            tiled ? "tiled" : "rows", m, k, n, err);
                assert_true(err <= TOLERANCE);
                cld_matrix_free(&got);
            }
        }
        cld_matrix_free(&a);
        cld_matrix_free(&b);
        cld_matrix_free(&ref);
    }
}

/* Through the job table: random inputs from --seed, and two matrices. */
static void test_matmul_job_on_devices(void **state)
{
    struct cld_test_devices *t = *state;
    const struct cld_job *job = cld_job_find("matmul");
    struct cld_params p;
    struct cld_data none = {.kind = CLD_DATA_MATRIX};
    struct cld_data two = {.kind = CLD_DATA_MATRIX, .nmat = 2};
    struct cld_data ref1, ref2;
    uint64_t seed = 77;

    assert_non_null(job);
    cld_params_default(&p, job);
    assert_int_equal(cld_params_set_int(&p, "n", 100), CLD_OK);
    assert_int_equal(cld_params_set_int(&p, "seed", 3), CLD_OK);
    assert_int_equal(cld__matmul_random(&two.mat[0], 30, 70, &seed), CLD_OK);
    assert_int_equal(cld__matmul_random(&two.mat[1], 70, 45, &seed), CLD_OK);
    assert_int_equal(cld_job_run(job, NULL, &p, &none, &ref1), CLD_OK);
    assert_int_equal(cld_job_run(job, NULL, &p, &two, &ref2), CLD_OK);
    for (int d = 0; d < t->n; d++) {
        struct cld_data got;

        assert_int_equal(cld_job_run(job, t->ctx[d], &p, &none, &got),
                         CLD_OK);
        assert_int_equal(got.kind, CLD_DATA_MATRIX);
        assert_int_equal(got.nmat, 1);
        assert_true(rel_error(&got.mat[0], &ref1.mat[0]) <= TOLERANCE);
        cld_data_free(&got);
        assert_int_equal(cld_job_run(job, t->ctx[d], &p, &two, &got),
                         CLD_OK);
        assert_true(rel_error(&got.mat[0], &ref2.mat[0]) <= TOLERANCE);
        cld_data_free(&got);
    }
    cld_data_free(&ref1);
    cld_data_free(&ref2);
    cld_data_free(&two);
}

static void test_matmul_device_shape_mismatch(void **state)
{
    struct cld_test_devices *t = *state;
    const struct cld_job *job = cld_job_find("matmul");
    struct cld_params p;
    struct cld_data in = {.kind = CLD_DATA_MATRIX, .nmat = 2}, out;
    uint64_t seed = 1;

    cld_params_default(&p, job);
    assert_int_equal(cld__matmul_random(&in.mat[0], 3, 4, &seed), CLD_OK);
    assert_int_equal(cld__matmul_random(&in.mat[1], 5, 6, &seed), CLD_OK);
    assert_int_equal(cld_job_run(job, t->ctx[0], &p, &in, &out),
                     CLD_ERR_INVALID);
    assert_non_null(strstr(cld_error_detail(), "3x4"));
    assert_non_null(strstr(cld_error_detail(), "5x6"));
    assert_null(out.mat[0].data);
    cld_data_free(&in);
}

static void test_matmul_fault_is_reported_by_name(void **state)
{
    struct cld_test_devices *t = *state;
    const struct cld_job *job = cld_job_find("matmul");
    struct cld_params p;
    struct cld_data in = {.kind = CLD_DATA_MATRIX}, out;

    cld_params_default(&p, job);
    assert_int_equal(cld_params_set_int(&p, "n", 32), CLD_OK);
    cld_clw_fault_set("clEnqueueNDRangeKernel", 1, CL_OUT_OF_RESOURCES);
    assert_int_equal(cld_job_run(job, t->ctx[0], &p, &in, &out), CLD_ERR_CL);
    cld_clw_fault_clear();
    assert_non_null(strstr(cld_error_detail(), "CL_OUT_OF_RESOURCES"));
    assert_null(out.mat[0].data);
    assert_int_equal(cld_job_run(job, t->ctx[0], &p, &in, &out), CLD_OK);
    cld_data_free(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matmul_kernels_match_reference),
        cmocka_unit_test(test_matmul_job_on_devices),
        cmocka_unit_test(test_matmul_device_shape_mismatch),
        cmocka_unit_test(test_matmul_fault_is_reported_by_name),
    };

    if (!cld_test_have_device())
        return cld_test_no_device("matmul_pocl");
    return cmocka_run_group_tests_name("matmul_pocl", tests,
                                       cld_test_devices_setup,
                                       cld_test_devices_teardown);
}
