/* Grayscale on every OpenCL device equals the C reference exactly, on
 * every real test image (gray, RGB, odd sizes, progressive JPEG). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <string.h>

#include "fixtures.h"
#include "image_io.h"
#include "jobs.h"

static const char *const images[] = {
    "camera.png", "astronaut.png", "chelsea.png", "clock_motion.png",
    "rocket.jpg", "hubble_deep_field.jpg", "kde_grey_2560x1600.jpg",
    "camera.pgm", "astronaut.ppm", "mate_storm.jpg",
};

static void check_exact(struct cld_clctx *ctx, const struct cld_data *in)
{
    const struct cld_job *job = cld_job_find("grayscale");
    struct cld_params p;
    struct cld_data ref, got;
    int maxdiff;
    double psnr;

    cld_params_default(&p, job);
    assert_int_equal(cld_job_run(job, NULL, &p, in, &ref), CLD_OK);
    assert_int_equal(cld_job_run(job, ctx, &p, in, &got), CLD_OK);
    assert_int_equal(got.img.channels, 1);
    assert_true(cld_test_image_diff(&ref.img, &got.img, &maxdiff, &psnr));
    /* Tolerance: exact (integer fixed-point luma on both sides). */
    assert_int_equal(maxdiff, 0);
    cld_data_free(&ref);
    cld_data_free(&got);
}

static void test_pointwise_gray_real_images(void **state)
{
    struct cld_test_devices *t = *state;

    for (size_t i = 0; i < sizeof images / sizeof images[0]; i++) {
        struct cld_data in = {.kind = CLD_DATA_IMAGE};

        assert_int_equal(cld_image_load(cld_test_image(images[i]), NULL,
                                        &in.img), CLD_OK);
        for (int d = 0; d < t->n; d++)
            check_exact(t->ctx[d], &in);
        cld_data_free(&in);
    }
}

/* 1..4 channels, and sizes around the 16-pixel vector width. */
static void test_pointwise_gray_channels_and_tails(void **state)
{
    struct cld_test_devices *t = *state;
    static const uint32_t sizes[][2] = {{1, 1}, {15, 1}, {16, 1}, {17, 3},
                                        {33, 7}, {451, 3}};

    for (uint32_t ch = 1; ch <= 4; ch++) {
        for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
            struct cld_data in = {.kind = CLD_DATA_IMAGE};
            size_t n;

            assert_int_equal(cld_image_alloc(&in.img, sizes[s][0],
                                             sizes[s][1], ch), CLD_OK);
            n = (size_t)sizes[s][0] * sizes[s][1] * ch;
            for (size_t i = 0; i < n; i++)
                in.img.data[i] = (uint8_t)(i * 37u + 11u);
            for (int d = 0; d < t->n; d++)
                check_exact(t->ctx[d], &in);
            cld_data_free(&in);
        }
    }
}

static void test_pointwise_gray_reference_values(void **state)
{
    const struct cld_job *job = cld_job_find("grayscale");
    struct cld_params p;
    struct cld_data in = {.kind = CLD_DATA_IMAGE}, out;
    static const uint8_t px[] = {255, 0, 0, 0, 255, 0, 0, 0, 255,
                                 255, 255, 255, 0, 0, 0};

    (void)state;
    cld_params_default(&p, job);
    assert_int_equal(cld_image_alloc(&in.img, 5, 1, 3), CLD_OK);
    memcpy(in.img.data, px, sizeof px);
    assert_int_equal(cld_job_run(job, NULL, &p, &in, &out), CLD_OK);
    /* BT.601: 0.299, 0.587, 0.114 of 255, rounded. */
    assert_int_equal(out.img.data[0], 76);
    assert_int_equal(out.img.data[1], 150);
    assert_int_equal(out.img.data[2], 29);
    assert_int_equal(out.img.data[3], 255);
    assert_int_equal(out.img.data[4], 0);
    cld_data_free(&in);
    cld_data_free(&out);
}

static void test_pointwise_fault_is_reported_by_name(void **state)
{
    struct cld_test_devices *t = *state;
    const struct cld_job *job = cld_job_find("grayscale");
    struct cld_params p;
    struct cld_data in = {.kind = CLD_DATA_IMAGE}, out;

    cld_params_default(&p, job);
    assert_int_equal(cld_image_alloc(&in.img, 64, 64, 3), CLD_OK);
    memset(in.img.data, 7, 64 * 64 * 3);
    cld_clw_fault_set("clEnqueueNDRangeKernel", 1, CL_OUT_OF_RESOURCES);
    assert_int_equal(cld_job_run(job, t->ctx[0], &p, &in, &out), CLD_ERR_CL);
    cld_clw_fault_clear();
    assert_non_null(strstr(cld_error_detail(), "CL_OUT_OF_RESOURCES"));
    assert_null(out.img.data);
    /* The device still works after the injected failure. */
    assert_int_equal(cld_job_run(job, t->ctx[0], &p, &in, &out), CLD_OK);
    cld_data_free(&out);
    cld_data_free(&in);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pointwise_gray_reference_values),
        cmocka_unit_test(test_pointwise_gray_real_images),
        cmocka_unit_test(test_pointwise_gray_channels_and_tails),
        cmocka_unit_test(test_pointwise_fault_is_reported_by_name),
    };

    if (!cld_test_have_device())
        return cld_test_no_device("pointwise");
    return cmocka_run_group_tests_name("pointwise_pocl", tests,
                                       cld_test_devices_setup,
                                       cld_test_devices_teardown);
}
