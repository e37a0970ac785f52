/* The matmul job without a device: the C reference against hand-computed
 * and identity products, the splitmix64 inputs (deterministic, in range),
 * shape errors and traits. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "fixtures.h"
#include "job_hooks.h"
#include "jobs.h"
#include "targets.h"

/* Internal helpers of host/job_matmul.c. */

static void fill(struct cld_matrix *m, uint32_t rows, uint32_t cols,
                 const float *v)
{
    assert_int_equal(cld_matrix_alloc(m, rows, cols), CLD_OK);
    memcpy(m->data, v, (size_t)rows * cols * sizeof *v);
}

static void test_matmul_ref_hand_computed(void **state)
{
    static const float a[] = {1, 2, 3, 4, 5, 6};
    static const float b[] = {7, 8, 9, 10, 11, 12};
    struct cld_matrix ma, mb, mc;

    (void)state;
    fill(&ma, 2, 3, a);
    fill(&mb, 3, 2, b);
    assert_int_equal(cld__matmul_ref(&ma, &mb, &mc), CLD_OK);
    assert_int_equal(mc.rows, 2);
    assert_int_equal(mc.cols, 2);
    /* 1*7+2*9+3*11, 1*8+2*10+3*12; 4*7+5*9+6*11, 4*8+5*10+6*12. */
    assert_true(mc.data[0] == 58.0f);
    assert_true(mc.data[1] == 64.0f);
    assert_true(mc.data[2] == 139.0f);
    assert_true(mc.data[3] == 154.0f);
    cld_matrix_free(&ma);
    cld_matrix_free(&mb);
    cld_matrix_free(&mc);
}

static void identity(struct cld_matrix *m, uint32_t n)
{
    assert_int_equal(cld_matrix_alloc(m, n, n), CLD_OK);
    memset(m->data, 0, (size_t)n * n * sizeof(float));
    for (uint32_t i = 0; i < n; i++)
        m->data[(size_t)i * n + i] = 1.0f;
}

/* A I = I A = A exactly (every other term is an exact 0), over sizes
 * that cross the cache blocks of the reference loop. */
static void test_matmul_ref_identity(void **state)
{
    static const uint32_t shapes[][2] = {{1, 1}, {37, 53}, {300, 129}};

    (void)state;
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        uint32_t r = shapes[s][0], c = shapes[s][1];
        uint64_t seed = 5;
        struct cld_matrix a, il, ir, p, q;

        assert_int_equal(cld__matmul_random(&a, r, c, &seed), CLD_OK);
        identity(&il, r);
        identity(&ir, c);
        assert_int_equal(cld__matmul_ref(&a, &ir, &p), CLD_OK);
        assert_int_equal(cld__matmul_ref(&il, &a, &q), CLD_OK);
        assert_int_equal(p.rows, r);
        assert_int_equal(p.cols, c);
        assert_memory_equal(p.data, a.data, (size_t)r * c * sizeof(float));
        assert_memory_equal(q.data, a.data, (size_t)r * c * sizeof(float));
        cld_matrix_free(&a);
        cld_matrix_free(&il);
        cld_matrix_free(&ir);
        cld_matrix_free(&p);
        cld_matrix_free(&q);
    }
}

static void test_matmul_random_deterministic(void **state)
{
    uint64_t s1 = 42, s2 = 42, s3 = 43;
    struct cld_matrix a, b, c;

    (void)state;
    assert_int_equal(cld__matmul_random(&a, 31, 17, &s1), CLD_OK);
    assert_int_equal(cld__matmul_random(&b, 31, 17, &s2), CLD_OK);
    assert_int_equal(cld__matmul_random(&c, 31, 17, &s3), CLD_OK);
    assert_memory_equal(a.data, b.data, 31 * 17 * sizeof(float));
    assert_memory_not_equal(a.data, c.data, 31 * 17 * sizeof(float));
    assert_true(s1 == s2);
    cld_matrix_free(&a);
    cld_matrix_free(&b);
    cld_matrix_free(&c);
}

/* The documented stream: splitmix64 from seed 0 first gives
 * 0xe220a8397b1dcdaf, whose top 24 bits 0xe220a8 map to
 * (0xe220a8 - 2^23) / 2^23. */
static void test_matmul_random_known_value(void **state)
{
    uint64_t seed = 0;
    struct cld_matrix a;

    (void)state;
    assert_int_equal(cld__matmul_random(&a, 1, 1, &seed), CLD_OK);
    assert_true(a.data[0] == (float)(0xe220a8 - (1 << 23)) * 0x1p-23f);
    cld_matrix_free(&a);
}

static void test_matmul_random_range(void **state)
{
    uint64_t seed = 1;
    struct cld_matrix a;
    size_t n = 256 * 256;
    double sum = 0;
    float lo = 1, hi = -1;

    (void)state;
    assert_int_equal(cld__matmul_random(&a, 256, 256, &seed), CLD_OK);
    for (size_t i = 0; i < n; i++) {
        float v = a.data[i];

        assert_true(v >= -1.0f && v < 1.0f);
        /* A multiple of 2^-23: 24 random bits, exact in float. */
        assert_true(v * 0x1p23f == (float)(int32_t)(v * 0x1p23f));
        lo = v < lo ? v : lo;
        hi = v > hi ? v : hi;
        sum += v;
    }
    assert_true(lo < -0.999f && hi > 0.999f);
    /* Mean of 65536 uniform values: standard error 0.0023. */
    assert_true(sum / (double)n > -0.01 && sum / (double)n < 0.01);
    cld_matrix_free(&a);
}

/* Without inputs the job multiplies random n x n matrices from --seed. */
static void test_matmul_job_random_inputs(void **state)
{
    const struct cld_job *job = cld_job_find("matmul");
    struct cld_params p;
    struct cld_data in = {.kind = CLD_DATA_MATRIX}, r1, r2, r3;
    struct cld_data ref = {.kind = CLD_DATA_MATRIX, .nmat = 2};
    uint64_t seed = 9;

    (void)state;
    assert_non_null(job);
    cld_params_default(&p, job);
    assert_int_equal(cld_params_set_int(&p, "n", 40), CLD_OK);
    assert_int_equal(cld_params_set_int(&p, "seed", 9), CLD_OK);
    assert_int_equal(cld_job_run(job, NULL, &p, &in, &r1), CLD_OK);
    assert_int_equal(cld_job_run(job, NULL, &p, &in, &r2), CLD_OK);
    assert_int_equal(cld_params_set_int(&p, "seed", 10), CLD_OK);
    assert_int_equal(cld_job_run(job, NULL, &p, &in, &r3), CLD_OK);
    assert_int_equal(r1.kind, CLD_DATA_MATRIX);
    assert_int_equal(r1.nmat, 1);
    assert_int_equal(r1.mat[0].rows, 40);
    assert_int_equal(r1.mat[0].cols, 40);
    assert_memory_equal(r1.mat[0].data, r2.mat[0].data, 40 * 40 * 4);
    assert_memory_not_equal(r1.mat[0].data, r3.mat[0].data, 40 * 40 * 4);
    /* A comes first from the stream, then B. */
    assert_int_equal(cld__matmul_random(&ref.mat[0], 40, 40, &seed),
                     CLD_OK);
    assert_int_equal(cld__matmul_random(&ref.mat[1], 40, 40, &seed),
                     CLD_OK);
    cld_data_free(&r2);
    assert_int_equal(cld_job_run(job, NULL, &p, &ref, &r2), CLD_OK);
    assert_memory_equal(r1.mat[0].data, r2.mat[0].data, 40 * 40 * 4);
    cld_data_free(&r1);
    cld_data_free(&r2);
    cld_data_free(&r3);
    cld_data_free(&ref);
}

static void test_matmul_inner_dimension_mismatch(void **state)
{
    const struct cld_job *job = cld_job_find("matmul");
    struct cld_params p;
    struct cld_data in = {.kind = CLD_DATA_MATRIX, .nmat = 2}, out;
    struct cld_matrix c = {0};

    (void)state;
    cld_params_default(&p, job);
    assert_int_equal(cld_matrix_alloc(&in.mat[0], 2, 3), CLD_OK);
    assert_int_equal(cld_matrix_alloc(&in.mat[1], 4, 2), CLD_OK);
    memset(in.mat[0].data, 0, 6 * sizeof(float));
    memset(in.mat[1].data, 0, 8 * sizeof(float));
    assert_int_equal(cld_job_run(job, NULL, &p, &in, &out), CLD_ERR_INVALID);
    assert_non_null(strstr(cld_error_detail(), "A is 2x3"));
    assert_non_null(strstr(cld_error_detail(), "B is 4x2"));
    assert_null(out.mat[0].data);
    assert_int_equal(cld__matmul_ref(&in.mat[0], &in.mat[1], &c),
                     CLD_ERR_INVALID);
    assert_null(c.data);
    cld_data_free(&in);
}

static void test_matmul_bad_arguments(void **state)
{
    const struct cld_job *job = cld_job_find("matmul");
    struct cld_params p;
    struct cld_data in = {.kind = CLD_DATA_MATRIX, .nmat = 1}, out;

    (void)state;
    /* Unchecked, as a program could set it. */
    cld_params_default(&p, job);
    p.v[cld_params_find(&p, "n")].i = 0;
    assert_int_equal(job->validate(&p), CLD_ERR_USAGE);
    p.v[cld_params_find(&p, "n")].i = 512;
    assert_int_equal(job->validate(&p), CLD_OK);
    assert_int_equal(cld_matrix_alloc(&in.mat[0], 2, 2), CLD_OK);
    assert_int_equal(cld_job_run(job, NULL, &p, &in, &out), CLD_ERR_INVALID);
    cld_data_free(&in);
}

static void test_matmul_traits(void **state)
{
    const struct cld_job *job = cld_job_find("matmul");
    struct cld_params p;
    struct cld_data in = {.kind = CLD_DATA_MATRIX, .nmat = 2};
    struct cld_workload w;

    (void)state;
    cld_params_default(&p, job);
    memset(&w, 0, sizeof w);
    cld_targets_workload(job, &p, NULL, &w);
    assert_int_equal(w.elements, 512 * 512);
    assert_true(w.ops_per_element == 1024.0);
    assert_int_equal(w.bytes_in, 2 * 512 * 512 * 4);
    assert_int_equal(w.bytes_out, 512 * 512 * 4);
    assert_int_equal(w.kernel_launches, 1);
    assert_int_equal(w.cls, CLD_CLASS_NUMERIC);
    assert_true(w.flags & CLD_WL_DATA_PARALLEL);
    /* A 10 x 300 times B 300 x 20: k = 300, B is the largest buffer. */
    assert_int_equal(cld_matrix_alloc(&in.mat[0], 10, 300), CLD_OK);
    assert_int_equal(cld_matrix_alloc(&in.mat[1], 300, 20), CLD_OK);
    cld_targets_workload(job, &p, &in, &w);
    assert_int_equal(w.elements, 200);
    assert_true(w.ops_per_element == 600.0);
    assert_int_equal(w.bytes_in, (10 * 300 + 300 * 20) * 4);
    assert_int_equal(w.bytes_out, 200 * 4);
    assert_int_equal(w.max_buffer, 300 * 20 * 4);
    cld_data_free(&in);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matmul_ref_hand_computed),
        cmocka_unit_test(test_matmul_ref_identity),
        cmocka_unit_test(test_matmul_random_deterministic),
        cmocka_unit_test(test_matmul_random_known_value),
        cmocka_unit_test(test_matmul_random_range),
        cmocka_unit_test(test_matmul_job_random_inputs),
        cmocka_unit_test(test_matmul_inner_dimension_mismatch),
        cmocka_unit_test(test_matmul_bad_arguments),
        cmocka_unit_test(test_matmul_traits),
    };

    return cmocka_run_group_tests_name("matmul", tests, NULL, NULL);
}
