/* The jobs' device work as data: every job's plan, on the facts of a CPU
 * device and of a GPU that this machine does not have, gives a well-formed
 * description (buffers that exist, arguments in range, results fetched,
 * the work-group sizes the jobs are measured with), with no OpenCL call.
 * And the description builder itself reports overflow and bad buffer
 * indices. */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "jobs.h"
#include "targets.h"
#include "work.h"

static const struct cld_dev_facts cpu = {
    .cpu = true, .host_unified = true, .local_mem = 1u << 20,
    .compute_units = 2, .max_group = 4096, .native_float = 16};
static const struct cld_dev_facts gpu = {
    .cpu = false, .host_unified = false, .local_mem = 48u << 10,
    .compute_units = 40, .max_group = 1024, .native_float = 1};
/* A device whose work-groups hold fewer than 16 x 16 items. */
static const struct cld_dev_facts small_gpu = {
    .cpu = false, .host_unified = false, .local_mem = 16u << 10,
    .compute_units = 4, .max_group = 128, .native_float = 1};

static void test_work_builder_checks(void **state)
{
    struct cld_work w;
    struct cld_work_launch *l;
    unsigned b;

    (void)state;
    cld_work_init(&w, "pointwise", NULL);
    assert_int_equal(w.fallback, -1);
    b = cld_work_buffer(&w, NULL, 64, CLD_WBUF_READ);
    assert_int_equal(b, 0);
    l = cld_work_launch(&w, "k", 0, 1, 100, 0, 16, 0);
    assert_int_equal(l->global[0], 100);
    assert_int_equal(l->local[0], 16);
    assert_int_equal(l->local[1], 1);
    cld_arg_buf(l, b);
    cld_arg_u32(l, 7);
    assert_int_equal(cld_work_check(&w), CLD_OK);
    /* A buffer that was never added. */
    cld_arg_buf(l, 3);
    assert_int_equal(cld_work_check(&w), CLD_ERR_INTERNAL);
    assert_non_null(strstr(cld_error_detail(), "names buffer 3 of 1"));
    cld_work_free(&w);
    /* Too many arguments. */
    cld_work_init(&w, "pointwise", NULL);
    l = cld_work_launch(&w, "k", 0, 1, 1, 0, 0, 0);
    for (int i = 0; i <= CLD_WORK_MAX_ARGS; i++)
        cld_arg_u32(l, (uint32_t)i);
    assert_int_equal(cld_work_check(&w), CLD_ERR_INTERNAL);
    cld_work_free(&w);
    /* Too many launches. */
    cld_work_init(&w, "pointwise", NULL);
    for (int i = 0; i <= CLD_WORK_MAX_LAUNCHES; i++)
        cld_work_launch(&w, "k", 0, 1, 1, 0, 0, 0);
    assert_int_equal(w.nlaunches, CLD_WORK_MAX_LAUNCHES);
    assert_int_equal(cld_work_check(&w), CLD_ERR_INTERNAL);
    assert_non_null(strstr(cld_error_detail(), "overflows"));
    cld_work_free(&w);
    /* Owned blocks are freed with the work (valgrind and ASan see it). */
    cld_work_init(&w, "pointwise", NULL);
    assert_non_null(cld_work_alloc(&w, 1000));
    assert_int_equal(cld_work_own(&w, cld_buffer_alloc(10)), CLD_OK);
    assert_int_equal(w.nowned, 2);
    cld_work_free(&w);
    assert_int_equal(w.nowned, 0);
}

/* The plan of job with default parameters on a synthetic 640x480 input
 * (matmul: 2 matrices) on dev. */
static void plan_of(const struct cld_job *job,
                    const struct cld_dev_facts *dev, int variant,
                    struct cld_work *w, struct cld_data *out,
                    struct cld_data *in)
{
    struct cld_params p;

    cld_params_default(&p, job);
    assert_int_equal(cld_targets_synth_input(job, 640, 480, true, &p, in),
                     CLD_OK);
    memset(out, 0, sizeof *out);
    cld_work_init(w, job->family, NULL);
    assert_int_equal(job->plan(&p, in, dev, variant, out, w), CLD_OK);
}

/* Every launch names kernels and buffers that exist, asks for local
 * sizes or none in every dimension, and the results come back. */
static void check_work(const struct cld_job *job, const struct cld_work *w,
                       const struct cld_data *out)
{
    bool fetched = false;

    assert_int_equal(cld_work_check(w), CLD_OK);
    assert_true(w->nlaunches >= 1);
    assert_string_equal(w->family, job->family);
    for (unsigned i = 0; i < w->nlaunches; i++) {
        const struct cld_work_launch *l = &w->launches[i];

        assert_non_null(l->kernel);
        assert_true(strncmp(l->kernel, job->family, strlen(job->family))
                    == 0);
        for (unsigned d = 0; d < l->dims; d++)
            assert_true(l->global[d] >= 1);
        if (l->group > 0)
            assert_non_null(w->step);
    }
    for (unsigned b = 0; b < w->nbufs; b++) {
        const struct cld_work_buf *x = &w->bufs[b];

        if (x->flags & (CLD_WBUF_UPLOAD | CLD_WBUF_FETCH | CLD_WBUF_STEP))
            assert_non_null(x->host);
        if (x->flags & CLD_WBUF_FETCH) {
            fetched = true;
            assert_true(x->host == (void *)out->img.data ||
                        x->host == (void *)out->mat[0].data);
        }
    }
    assert_true(fetched);
}

static void test_work_every_job_plans(void **state)
{
    const struct cld_dev_facts *devs[] = {&cpu, &gpu, &small_gpu};
    const struct cld_job *job;

    (void)state;
    for (size_t j = 0; (job = cld_job_at(j)) != NULL; j++) {
        for (size_t d = 0; d < 3; d++) {
            struct cld_work w;
            struct cld_data in, out;

            plan_of(job, devs[d], CLD_VARIANT_AUTO, &w, &out, &in);
            check_work(job, &w, &out);
            cld_work_free(&w);
            cld_data_free(&out);
            cld_data_free(&in);
        }
    }
}

/* The launch of kernel in w, or NULL. */
static const struct cld_work_launch *find(const struct cld_work *w,
                                          const char *kernel)
{
    for (unsigned i = 0; i < w->nlaunches; i++) {
        if (strcmp(w->launches[i].kernel, kernel) == 0)
            return &w->launches[i];
    }
    return NULL;
}

/* Per device type: the kernel variants and fixed work-group sizes the
 * jobs were measured with. */
static void test_work_variants_per_device_type(void **state)
{
    static const struct {
        const char *job;
        const struct cld_dev_facts *dev;
        const char *kernel;
        size_t local0;
    } cases[] = {
        {"grayscale", &cpu, "pointwise_gray_rgb", 256},
        {"blur", &cpu, "convolve_blur", 16},
        {"blur", &gpu, "convolve_blur_h", 64},
        {"blur", &gpu, "convolve_blur_v", 64},
        {"sharpen", &cpu, "convolve_sharpen", 16},
        {"sharpen", &gpu, "convolve_sharpen_v", 64},
        {"sobel", &cpu, "convolve_sobel", 16},
        {"resize", &cpu, "resample_half", 1},
        {"resize", &gpu, "resample_direct", 16},
        {"equalize", &cpu, "histogram_partial", 1},
        {"equalize", &cpu, "histogram_apply_pairs", 1},
        {"equalize", &gpu, "histogram_local", 256},
        {"equalize", &gpu, "histogram_apply", 64},
        {"dither", &cpu, "dither_serial", 1},
        {"dither", &gpu, "dither_wave", 256},
        {"mandelbrot", &cpu, "fractal_mandelbrot_vec", 0},
        {"mandelbrot", &gpu, "fractal_mandelbrot", 0},
        {"matmul", &cpu, "matmul_rows", 4},
        {"matmul", &gpu, "matmul_tiled", 16},
        {"matmul", &small_gpu, "matmul_rows", 4},
    };

    (void)state;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct cld_work w;
        struct cld_data in, out;
        const struct cld_work_launch *l;

        plan_of(cld_job_find(cases[i].job), cases[i].dev, CLD_VARIANT_AUTO,
                &w, &out, &in);
        l = find(&w, cases[i].kernel);
        if (!l)
            fail_msg("%s on %s: no launch of %s", cases[i].job,
                     cases[i].dev->cpu ? "cpu" : "gpu", cases[i].kernel);
        assert_int_equal(l->local[0], cases[i].local0);
        cld_work_free(&w);
        cld_data_free(&out);
        cld_data_free(&in);
    }
}

/* Equalize: count, host step, look-up; the step reads the counts and
 * writes the table the look-up uploads. */
static void test_work_equalize_host_step(void **state)
{
    struct cld_work w;
    struct cld_data in, out;
    unsigned steps = 0;

    (void)state;
    plan_of(cld_job_find("equalize"), &cpu, CLD_VARIANT_AUTO, &w, &out, &in);
    assert_non_null(w.step);
    assert_int_equal(w.nlaunches, 2);
    assert_int_equal(w.launches[0].group, 0);
    assert_int_equal(w.launches[1].group, 1);
    for (unsigned b = 0; b < w.nbufs; b++)
        steps += (w.bufs[b].flags & CLD_WBUF_STEP) != 0;
    assert_int_equal(steps, 1);
    cld_work_free(&w);
    cld_data_free(&out);
    cld_data_free(&in);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_work_builder_checks),
        cmocka_unit_test(test_work_every_job_plans),
        cmocka_unit_test(test_work_variants_per_device_type),
        cmocka_unit_test(test_work_equalize_host_step),
    };
    int rc = cmocka_run_group_tests_name("work", tests, NULL, NULL);

    cld_buffer_cache_clear();
    return rc;
}
