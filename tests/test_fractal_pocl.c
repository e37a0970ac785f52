/* mandelbrot on every OpenCL device, with both kernels (one pixel, and 4,
 * 8 or 16 pixels a work-item), against the C reference. Tolerance: at most
 * 0.5% of the pixels, or 2 pixels, may differ, for devices whose rounding
 * flips an escape count at the set's boundary (fused multiply-adds on one
 * side flip 0.2 to 0.35%, and 2 of the 85 pixels of 17 x 5); with IEEE
 * float and no contraction on either side (PoCL) we expect, and see, none.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <string.h>

#include "fixtures.h"
#include "job_hooks.h"
#include "jobs.h"
#include "targets.h"

/* Internal helper of host/job_fractal.c. */

/* Pixels (not bytes) that differ in any channel. */
static size_t differing_pixels(const struct cld_image *a,
                               const struct cld_image *b)
{
    size_t n = (size_t)a->width * a->height, diff = 0;

    assert_int_equal(a->width, b->width);
    assert_int_equal(a->height, b->height);
    assert_int_equal(a->channels, 3);
    assert_int_equal(b->channels, 3);
    for (size_t i = 0; i < n; i++)
        diff += memcmp(a->data + 3 * i, b->data + 3 * i, 3) != 0;
    return diff;
}

static void check_close(const struct cld_image *ref,
                        const struct cld_image *got, const char *what)
{
    size_t npix = (size_t)ref->width * ref->height;
    size_t diff = differing_pixels(ref, got);

    if (diff)
        fprintf(stderr, "%s %ux%u: %zu of %zu pixels differ\n", what,
                ref->width, ref->height, diff, npix);
    assert_true(diff <= 2 || diff * 200u <= npix);
}

static const uint32_t sizes[][3] = {
    {333, 217, 256}, {64, 48, 1000}, {17, 5, 50}, {1, 1, 256}, {9, 200, 30},
};

/* The one-pixel kernel and each vector width. */
static const unsigned lanes[] = {1, 4, 8, 16};

static void test_fractal_kernels_match_reference(void **state)
{
    struct cld_test_devices *t = *state;
    const struct cld_job *job = cld_job_find("mandelbrot");

    assert_non_null(job);
    for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
        struct cld_params p;
        struct cld_data none = {.kind = CLD_DATA_NONE}, ref;

        cld_params_default(&p, job);
        assert_int_equal(cld_params_set_size(&p, "size", sizes[s][0],
                                             sizes[s][1]), CLD_OK);
        assert_int_equal(cld_params_set_int(&p, "iter", sizes[s][2]),
                         CLD_OK);
        assert_int_equal(cld_job_run(job, NULL, &p, &none, &ref), CLD_OK);
        assert_int_equal(ref.kind, CLD_DATA_IMAGE);
        for (int d = 0; d < t->n; d++) {
            for (size_t l = 0; l < sizeof lanes / sizeof lanes[0]; l++) {
                struct cld_image got;
                char what[32];

                assert_int_equal(cld__mandelbrot_cl(t->ctx[d], sizes[s][0],
                                                    sizes[s][1], sizes[s][2],
                                                    lanes[l], &got),
                                 CLD_OK);
                snprintf(what, sizeof what, "device %d, %u lanes", d,
                         lanes[l]);
                check_close(&ref.img, &got, what);
                cld_image_free(&got);
            }
        }
        cld_data_free(&ref);
    }
}

/* The job with no --size renders 1024 x 768; the centre of the main
 * cardioid is black, the far corner is outside the set. */
static void test_fractal_job_default_size(void **state)
{
    struct cld_test_devices *t = *state;
    const struct cld_job *job = cld_job_find("mandelbrot");
    struct cld_params p;
    struct cld_data none = {.kind = CLD_DATA_NONE}, ref, got;
    const uint8_t *inside, *corner;

    cld_params_default(&p, job);
    assert_int_equal(cld_job_run(job, NULL, &p, &none, &ref), CLD_OK);
    assert_int_equal(ref.img.width, 1024);
    assert_int_equal(ref.img.height, 768);
    assert_int_equal(ref.img.channels, 3);
    /* Pixel (512, 384) is c = (-0.4985, -0.0015). */
    inside = ref.img.data + ((size_t)384 * 1024 + 512) * 3;
    corner = ref.img.data;
    assert_true(inside[0] == 0 && inside[1] == 0 && inside[2] == 0);
    assert_false(corner[0] == 0 && corner[1] == 0 && corner[2] == 0);
    for (int d = 0; d < t->n; d++) {
        assert_int_equal(cld_job_run(job, t->ctx[d], &p, &none, &got),
                         CLD_OK);
        check_close(&ref.img, &got.img, "job");
        cld_data_free(&got);
    }
    cld_data_free(&ref);
}

static void test_fractal_bad_lanes(void **state)
{
    struct cld_test_devices *t = *state;
    struct cld_image img = {0};

    assert_int_equal(cld__mandelbrot_cl(t->ctx[0], 8, 8, 10, 3, &img),
                     CLD_ERR_INVALID);
    assert_null(img.data);
}

static void test_fractal_validate(void **state)
{
    const struct cld_job *job = cld_job_find("mandelbrot");
    struct cld_params p;
    struct cld_data none = {.kind = CLD_DATA_NONE}, out;

    (void)state;
    /* Values go in unchecked, as a program could set them. */
    cld_params_default(&p, job);
    assert_int_equal(job->validate(&p), CLD_OK);
    p.v[0].size.w = 10;
    p.given |= 1u;
    assert_int_equal(job->validate(&p), CLD_ERR_USAGE);
    assert_int_equal(cld_job_run(job, NULL, &p, &none, &out), CLD_ERR_USAGE);
    p.v[0].size.h = 10;
    p.v[1].i = 0;
    assert_int_equal(job->validate(&p), CLD_ERR_USAGE);
    p.v[1].i = 1;
    assert_int_equal(job->validate(&p), CLD_OK);
}

static void test_fractal_traits(void **state)
{
    const struct cld_job *job = cld_job_find("mandelbrot");
    struct cld_params p;
    struct cld_workload w;

    (void)state;
    cld_params_default(&p, job);
    memset(&w, 0, sizeof w);
    cld_targets_workload(job, &p, NULL, &w);
    assert_int_equal(w.elements, 1024 * 768);
    assert_int_equal(w.bytes_in, 0);
    assert_int_equal(w.bytes_out, 1024 * 768 * 3);
    assert_int_equal(w.max_buffer, 1024 * 768 * 3);
    assert_int_equal(w.kernel_launches, 1);
    assert_int_equal(w.cls, CLD_CLASS_GENERATOR);
    assert_true(w.flags & CLD_WL_BRANCHY);
    assert_true(w.flags & CLD_WL_DATA_PARALLEL);
    /* The size is not a parameter of the work per pixel: one history
     * serves every size. */
    assert_string_equal(w.params, "iter=256");
    /* 8 operations an iteration; a full count over the default frame at
     * iter 256 gave 11.5 iterations a pixel on the host reference. */
    assert_true(w.ops_per_element > 8 * 10.0
                && w.ops_per_element < 8 * 14.0);
    /* A square frame shows more of the plane around the set, whose
     * points escape at once: less work a pixel. */
    {
        double four_three = w.ops_per_element;

        assert_int_equal(cld_params_set_size(&p, "size", 256, 256), CLD_OK);
        cld_targets_workload(job, &p, NULL, &w);
        assert_true(w.ops_per_element < 0.9 * four_three);
        assert_int_equal(w.elements, 256 * 256);
    }
    /* More iterations, more work a pixel. */
    cld_params_default(&p, job);
    cld_targets_workload(job, &p, NULL, &w);
    assert_int_equal(cld_params_set_int(&p, "iter", 4096), CLD_OK);
    {
        double lo = w.ops_per_element;

        cld_targets_workload(job, &p, NULL, &w);
        assert_true(w.ops_per_element > 5 * lo);
        assert_string_equal(w.params, "iter=4096");
    }
}

static void test_fractal_fault_is_reported_by_name(void **state)
{
    struct cld_test_devices *t = *state;
    const struct cld_job *job = cld_job_find("mandelbrot");
    struct cld_params p;
    struct cld_data none = {.kind = CLD_DATA_NONE}, out;

    cld_params_default(&p, job);
    assert_int_equal(cld_params_set_size(&p, "size", 40, 30), CLD_OK);
    cld_clw_fault_set("clEnqueueNDRangeKernel", 1, CL_OUT_OF_RESOURCES);
    assert_int_equal(cld_job_run(job, t->ctx[0], &p, &none, &out),
                     CLD_ERR_CL);
    cld_clw_fault_clear();
    assert_non_null(strstr(cld_error_detail(), "CL_OUT_OF_RESOURCES"));
    assert_null(out.img.data);
    assert_int_equal(cld_job_run(job, t->ctx[0], &p, &none, &out), CLD_OK);
    cld_data_free(&out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fractal_kernels_match_reference),
        cmocka_unit_test(test_fractal_job_default_size),
        cmocka_unit_test(test_fractal_bad_lanes),
        cmocka_unit_test(test_fractal_validate),
        cmocka_unit_test(test_fractal_traits),
        cmocka_unit_test(test_fractal_fault_is_reported_by_name),
    };

    if (!cld_test_have_device())
        return cld_test_no_device("fractal_pocl");
    return cmocka_run_group_tests_name("fractal_pocl", tests,
                                       cld_test_devices_setup,
                                       cld_test_devices_teardown);
}
