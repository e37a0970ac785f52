/* dither on every OpenCL device, with both kernels (one work-item, and the
 * wavefront of rows), equal to the C reference on real images; properties
 * of the result (only the N levels, mean brightness kept, 256 levels on
 * gray is the identity); parameter errors; release on failing calls. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "fixtures.h"
#include "image_io.h"
#include "job_hooks.h"
#include "jobs.h"

/* In host/job_dither.c: wave selects the GPU kernel. */

static const char *const images[] = {
    "camera.png",            /* 512x512 gray */
    "chelsea.png",           /* 451x300 RGB, odd width */
    "rocket.jpg",            /* 640x427 RGB */
    "hubble_deep_field.jpg", /* 1000x872 RGB, mostly dark */
};

static const uint32_t levels[] = {2, 3, 16};

/* Mean brightness may drift by the errors dropped at the right and bottom
 * edges; a quarter of a gray level covers these images with margin. */
#define MEAN_TOL 0.25

static const struct cld_job *job(void)
{
    return cld_job_find("dither");
}

static void params(struct cld_params *p, uint32_t n)
{
    /* Unchecked, so that the tests see what validation makes of it. */
    cld_params_default(p, job());
    p->v[cld_params_find(p, "levels")].i = n;
}

static void check_devices(struct cld_test_devices *t,
                          const struct cld_params *p,
                          const struct cld_data *in, const char *what)
{
    struct cld_data ref;
    size_t n = (size_t)in->img.width * in->img.height;

    assert_int_equal(cld_job_run(job(), NULL, p, in, &ref), CLD_OK);
    assert_int_equal(ref.img.channels, 1);
    for (int d = 0; d < t->n; d++) {
        for (int wave = 0; wave <= 1; wave++) {
            struct cld_data got;

            assert_int_equal(cld__dither_cl(t->ctx[d], p, in, wave, &got),
                             CLD_OK);
            /* Tolerance: exact (integer error arithmetic on both sides). */
            if (memcmp(got.img.data, ref.img.data, n) != 0)
                fail_msg("%s, %u levels: device %d, %s kernel differs from "
                         "the host", what,
                         (unsigned)cld_param_int(p, 0), d,
                         wave ? "wave" : "serial");
            cld_data_free(&got);
        }
    }
    cld_data_free(&ref);
}

static void test_dither_real_images(void **state)
{
    struct cld_params p;

    for (size_t i = 0; i < sizeof images / sizeof images[0]; i++) {
        struct cld_data in;

        cld_test_load(images[i], &in);
        for (size_t l = 0; l < sizeof levels / sizeof levels[0]; l++) {
            params(&p, levels[l]);
            check_devices(*state, &p, &in, images[i]);
        }
        cld_data_free(&in);
    }
}

/* Channels 1..4, 1-pixel sides, and heights around the wave's rows. */
static void test_dither_shapes(void **state)
{
    static const uint32_t sizes[][2] = {{1, 1}, {1, 7}, {9, 1}, {2, 2},
                                        {37, 300}};
    struct cld_params p;

    params(&p, 4);
    for (uint32_t ch = 1; ch <= 4; ch++) {
        for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
            struct cld_data in = {.kind = CLD_DATA_IMAGE};
            size_t n;

            assert_int_equal(cld_image_alloc(&in.img, sizes[s][0],
                                             sizes[s][1], ch), CLD_OK);
            n = cld_image_bytes(sizes[s][0], sizes[s][1], ch);
            for (size_t i = 0; i < n; i++)
                in.img.data[i] = (uint8_t)((i * 29u) % 256u);
            check_devices(*state, &p, &in, "synthetic");
            cld_data_free(&in);
        }
    }
}

/* Only the N levels appear, and the mean brightness is kept. */
static void test_dither_levels_and_mean(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof images / sizeof images[0]; i++) {
        struct cld_data in;

        cld_test_load(images[i], &in);
        for (size_t l = 0; l < sizeof levels / sizeof levels[0]; l++) {
            uint32_t nl = levels[l];
            struct cld_params p;
            struct cld_data out;
            bool allowed[256] = {false};
            size_t n = (size_t)in.img.width * in.img.height;
            double sin = 0, sout = 0;

            for (uint32_t k = 0; k < nl; k++)
                allowed[(k * 255u + (nl - 1) / 2) / (nl - 1)] = true;
            params(&p, nl);
            assert_int_equal(cld_job_run(job(), NULL, &p, &in, &out),
                             CLD_OK);
            for (size_t k = 0; k < n; k++) {
                const uint8_t *s = in.img.data + k * in.img.channels;

                sin += in.img.channels < 3 ? s[0]
                                           : cld_luma(s[0], s[1], s[2]);
                sout += out.img.data[k];
                if (!allowed[out.img.data[k]])
                    fail_msg("%s: %u is not one of %u levels", images[i],
                             out.img.data[k], nl);
            }
            if (fabs(sin - sout) / (double)n > MEAN_TOL)
                fail_msg("%s, %u levels: mean %.3f became %.3f", images[i],
                         nl, sin / (double)n, sout / (double)n);
            cld_data_free(&out);
        }
        cld_data_free(&in);
    }
}

/* 256 levels leave a gray image unchanged. */
static void test_dither_256_levels_is_identity(void **state)
{
    struct cld_test_devices *t = *state;
    struct cld_params p;
    struct cld_data in, out;
    size_t n;

    cld_test_load("camera.png", &in);
    n = (size_t)in.img.width * in.img.height;
    params(&p, 256);
    assert_int_equal(cld_job_run(job(), NULL, &p, &in, &out), CLD_OK);
    assert_memory_equal(out.img.data, in.img.data, n);
    cld_data_free(&out);
    for (int d = 0; d < t->n; d++) {
        assert_int_equal(cld_job_run(job(), t->ctx[d], &p, &in, &out),
                         CLD_OK);
        assert_memory_equal(out.img.data, in.img.data, n);
        cld_data_free(&out);
    }
    cld_data_free(&in);
}

/* A flat mid-gray at 2 levels comes out half black, half white. */
static void test_dither_flat_gray(void **state)
{
    struct cld_data in = {.kind = CLD_DATA_IMAGE}, out;
    struct cld_params p;
    size_t white = 0;

    (void)state;
    params(&p, 2);
    assert_int_equal(cld_image_alloc(&in.img, 64, 64, 1), CLD_OK);
    memset(in.img.data, 128, 64 * 64);
    assert_int_equal(cld_job_run(job(), NULL, &p, &in, &out), CLD_OK);
    for (size_t k = 0; k < 64 * 64; k++)
        white += out.img.data[k] == 255;
    assert_true(white >= 64 * 64 / 2 - 64 && white <= 64 * 64 / 2 + 64);
    cld_data_free(&out);
    cld_data_free(&in);
}

static void test_dither_usage_errors(void **state)
{
    struct cld_params p;

    (void)state;
    assert_non_null(job()->validate);
    params(&p, 1);
    assert_int_equal(job()->validate(&p), CLD_ERR_USAGE);
    params(&p, 257);
    assert_int_equal(job()->validate(&p), CLD_ERR_USAGE);
    params(&p, 2);
    assert_int_equal(job()->validate(&p), CLD_OK);
    params(&p, 256);
    assert_int_equal(job()->validate(&p), CLD_OK);
}

struct dither_run {
    struct cld_clctx *ctx;
    const struct cld_params *p;
    const struct cld_data *in;
    bool wave;
};

static enum cld_status dither_run(void *arg, struct cld_data *out)
{
    struct dither_run *r = arg;

    return cld__dither_cl(r->ctx, r->p, r->in, r->wave, out);
}

static void test_dither_faults(void **state)
{
    struct cld_test_devices *t = *state;
    struct cld_data in = {.kind = CLD_DATA_IMAGE};
    struct cld_params p;

    params(&p, 2);
    assert_int_equal(cld_image_alloc(&in.img, 40, 30, 3), CLD_OK);
    for (size_t i = 0; i < 40 * 30 * 3; i++)
        in.img.data[i] = (uint8_t)i;
    for (int wave = 0; wave <= 1; wave++) {
        struct dither_run r = {t->ctx[0], &p, &in, wave};

        cld_test_fault_sweep(dither_run, &r);
    }
    cld_data_free(&in);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dither_usage_errors),
        cmocka_unit_test(test_dither_flat_gray),
        cmocka_unit_test(test_dither_levels_and_mean),
        cmocka_unit_test(test_dither_256_levels_is_identity),
        cmocka_unit_test(test_dither_shapes),
        cmocka_unit_test(test_dither_real_images),
        cmocka_unit_test(test_dither_faults),
    };

    if (!cld_test_have_device())
        return cld_test_no_device("dither");
    return cmocka_run_group_tests_name("dither_pocl", tests,
                                       cld_test_devices_setup,
                                       cld_test_devices_teardown);
}
