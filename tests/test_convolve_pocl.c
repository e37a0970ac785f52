/* blur, sharpen and sobel on every OpenCL device, with both blur variants
 * (the fused CPU kernel and the two-pass GPU kernels), against the C
 * reference on real images and on small images around the kernels' strip
 * and band sizes; properties of the reference and the kernels (identity,
 * constants, known values); parameter errors; and release on every failing
 * OpenCL call. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "fixtures.h"
#include "image_io.h"
#include "job_hooks.h"
#include "jobs.h"
#include "targets.h"

/* In host/job_convolve.c: fused selects the CPU kernel, sharpen the unsharp
 * mask. */

/* Every job of this family is fixed point or integer (see
 * host/job_convolve.c), so every device and variant must give the C
 * reference's bytes exactly. */

static const char *const images[] = {
    "camera.png",            /* 512x512 gray */
    "chelsea.png",           /* 451x300 RGB, odd width */
    "rocket.jpg",            /* 640x427 RGB, odd height */
    "hubble_deep_field.jpg", /* 1000x872 RGB */
};

/* How a device runs blur and sharpen: through the job (the variant it
 * picks for the device), or the other variant, forced. */
enum variant { V_JOB, V_OTHER, NVARIANTS };

static const struct cld_job *job(const char *name)
{
    const struct cld_job *j = cld_job_find(name);

    assert_non_null(j);
    return j;
}

/* Sharpen's parameters, sigma then amount; blur reads the same sigma.
 * Values go in unchecked, as a program could set them, so that the tests
 * see what validation makes of them. */
static void params(struct cld_params *p, double sigma, double amount)
{
    cld_params_default(p, cld_job_find("sharpen"));
    p->v[cld_params_find(p, "sigma")].real = sigma;
    p->v[cld_params_find(p, "amount")].real = amount;
}

/* A w x h x ch image with a deterministic pattern (edges and noise). */
static void pattern(struct cld_data *in, uint32_t w, uint32_t h,
                    uint32_t ch)
{
    uint32_t s = 12345u;

    memset(in, 0, sizeof *in);
    in->kind = CLD_DATA_IMAGE;
    assert_int_equal(cld_image_alloc(&in->img, w, h, ch), CLD_OK);
    for (size_t i = 0; i < (size_t)w * h * ch; i++) {
        size_t x = i / ch % w, y = i / ch / w;

        s = s * 1103515245u + 12345u;
        in->img.data[i] = (uint8_t)(((x / 7 + y / 5) % 2 ? 200 : 40) +
                                    (s >> 27));
    }
}

static void fill(struct cld_data *in, uint32_t w, uint32_t h, uint32_t ch,
                 uint8_t v)
{
    memset(in, 0, sizeof *in);
    in->kind = CLD_DATA_IMAGE;
    assert_int_equal(cld_image_alloc(&in->img, w, h, ch), CLD_OK);
    memset(in->img.data, v, (size_t)w * h * ch);
}

/* Fails with the detail line when st is not CLD_OK. */
static void assert_ok(enum cld_status st)
{
    if (st != CLD_OK)
        fail_msg("%s: %s", cld_status_str(st), cld_error_detail());
}

/* The job picks the fused kernel on CPU devices. */
static bool other_is_fused(struct cld_clctx *ctx)
{
    return !(cld_clctx_type(ctx) & CL_DEVICE_TYPE_CPU);
}

static const char *variant_name(struct cld_clctx *ctx, enum variant v)
{
    if (v == V_JOB)
        return "job";
    return other_is_fused(ctx) ? "fused" : "two-pass";
}

static enum cld_status run(struct cld_clctx *ctx, const char *name,
                           const struct cld_params *p,
                           const struct cld_data *in, enum variant v,
                           struct cld_data *out)
{
    bool sharpen = strcmp(name, "sharpen") == 0;

    if (v == V_JOB)
        return cld_job_run(job(name), ctx, p, in, out);
    return cld__blur_cl(ctx, p, in, sharpen, other_is_fused(ctx), out);
}

static int nvariants(const char *name)
{
    return strcmp(name, "sobel") == 0 ? 1 : NVARIANTS;
}

/* Every variant of job `name` on every device against the reference. */
static void check_devices(struct cld_test_devices *t, const char *name,
                          const struct cld_params *p,
                          const struct cld_data *in, const char *what)
{
    struct cld_data ref;

    assert_int_equal(cld_job_run(job(name), NULL, p, in, &ref), CLD_OK);
    for (int d = 0; d < t->n; d++) {
        for (int v = 0; v < nvariants(name); v++) {
            struct cld_data got;
            int maxdiff;
            double psnr;

            assert_ok(run(t->ctx[d], name, p, in, v, &got));
            assert_true(cld_test_image_diff(&ref.img, &got.img, &maxdiff,
                                            &psnr));
            if (maxdiff != 0)
                fail_msg("%s %s (%ux%ux%u), device %d, %s: max diff %d, "
                         "PSNR %.1f dB", name, what, in->img.width,
                         in->img.height, in->img.channels, d,
                         variant_name(t->ctx[d], v), maxdiff, psnr);
            cld_data_free(&got);
        }
    }
    cld_data_free(&ref);
}

/* out must equal the image want exactly. */
static void assert_same(const struct cld_data *out,
                        const struct cld_image *want, const char *what)
{
    int maxdiff;
    double psnr;

    assert_true(cld_test_image_diff(&out->img, want, &maxdiff, &psnr));
    if (maxdiff != 0)
        fail_msg("%s: max diff %d", what, maxdiff);
}

/* The job on the host and on every device (every variant) gives `want`. */
static void check_exact_everywhere(struct cld_test_devices *t,
                                   const char *name,
                                   const struct cld_params *p,
                                   const struct cld_data *in,
                                   const struct cld_image *want,
                                   const char *what)
{
    struct cld_data out;

    assert_int_equal(cld_job_run(job(name), NULL, p, in, &out), CLD_OK);
    assert_same(&out, want, what);
    cld_data_free(&out);
    for (int d = 0; d < t->n; d++) {
        for (int v = 0; v < nvariants(name); v++) {
            assert_ok(run(t->ctx[d], name, p, in, v, &out));
            assert_same(&out, want, what);
            cld_data_free(&out);
        }
    }
}

static void test_convolve_real_images(void **state)
{
    struct cld_test_devices *t = *state;
    struct cld_params p;

    for (size_t i = 0; i < sizeof images / sizeof images[0]; i++) {
        struct cld_data in = {.kind = CLD_DATA_IMAGE};

        assert_int_equal(cld_image_load(cld_test_image(images[i]), NULL,
                                        &in.img), CLD_OK);
        params(&p, 2.0, 1.0);
        check_devices(t, "blur", &p, &in, images[i]);
        check_devices(t, "sharpen", &p, &in, images[i]);
        check_devices(t, "sobel", &p, &in, images[i]);
        cld_data_free(&in);
    }
}

/* Other sigmas and amounts on one real image; sigma 12 (radius 36) has
 * taps reaching 108 bytes either side in RGB, beyond the 64-byte strip
 * of the CPU kernel and its edge vectors. */
static void test_convolve_sigmas(void **state)
{
    struct cld_test_devices *t = *state;
    static const double sigmas[] = {0.5, 5.0, 12.0};
    struct cld_data in = {.kind = CLD_DATA_IMAGE};
    struct cld_params p;

    assert_int_equal(cld_image_load(cld_test_image("chelsea.png"), NULL,
                                    &in.img), CLD_OK);
    for (size_t i = 0; i < sizeof sigmas / sizeof sigmas[0]; i++) {
        params(&p, sigmas[i], 2.5);
        check_devices(t, "blur", &p, &in, "chelsea.png");
        check_devices(t, "sharpen", &p, &in, "chelsea.png");
    }
    cld_data_free(&in);
}

/* Sizes around the 64-byte strips and 64-row bands, every channel count,
 * 1x1 and 3x2, and a radius wider than the image. */
static void test_convolve_edges_and_tails(void **state)
{
    struct cld_test_devices *t = *state;
    static const uint32_t sizes[][2] = {
        {1, 1}, {3, 2}, {2, 3}, {17, 5}, {63, 9}, {65, 70}, {100, 130},
    };
    static const double sigmas[] = {2.0, 7.0};
    struct cld_params p;

    for (uint32_t ch = 1; ch <= 4; ch++) {
        for (size_t s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
            struct cld_data in;

            pattern(&in, sizes[s][0], sizes[s][1], ch);
            for (size_t g = 0; g < sizeof sigmas / sizeof sigmas[0]; g++) {
                params(&p, sigmas[g], 1.0);
                check_devices(t, "blur", &p, &in, "pattern");
                check_devices(t, "sharpen", &p, &in, "pattern");
            }
            check_devices(t, "sobel", &p, &in, "pattern");
            cld_data_free(&in);
        }
    }
}

/* sigma 0.01: radius 1 but weights 0, 1, 0, so blur is the identity. */
static void test_convolve_tiny_sigma_is_identity(void **state)
{
    struct cld_test_devices *t = *state;
    struct cld_params p;
    struct cld_data in;

    params(&p, 0.01, 1.0);
    for (uint32_t ch = 1; ch <= 4; ch++) {
        pattern(&in, 77, 31, ch);
        check_exact_everywhere(t, "blur", &p, &in, &in.img,
                               "blur sigma 0.01");
        /* in + amount * (in - in) */
        check_exact_everywhere(t, "sharpen", &p, &in, &in.img,
                               "sharpen sigma 0.01");
        cld_data_free(&in);
    }
}

static void test_convolve_sharpen_amount_zero_is_identity(void **state)
{
    struct cld_test_devices *t = *state;
    struct cld_params p;
    struct cld_data in = {.kind = CLD_DATA_IMAGE};

    params(&p, 3.0, 0.0);
    assert_int_equal(cld_image_load(cld_test_image("rocket.jpg"), NULL,
                                    &in.img), CLD_OK);
    check_exact_everywhere(t, "sharpen", &p, &in, &in.img,
                           "sharpen amount 0");
    cld_data_free(&in);
}

/* Blur and sharpen keep a constant image; its Sobel magnitude is 0. */
static void test_convolve_constant_images(void **state)
{
    struct cld_test_devices *t = *state;
    static const uint8_t values[] = {0, 1, 128, 254, 255};
    struct cld_params p;

    params(&p, 2.0, 1.0);
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        struct cld_data in, zero;

        fill(&in, 70, 67, 3, values[i]);
        fill(&zero, 70, 67, 1, 0);
        check_exact_everywhere(t, "blur", &p, &in, &in.img,
                               "blur of a constant");
        check_exact_everywhere(t, "sharpen", &p, &in, &in.img,
                               "sharpen of a constant");
        check_exact_everywhere(t, "sobel", &p, &in, &zero.img,
                               "sobel of a constant");
        cld_data_free(&zero);
        cld_data_free(&in);
    }
}

/* A 1x1 image: blur keeps it, Sobel gives 0. */
static void test_convolve_one_pixel(void **state)
{
    struct cld_test_devices *t = *state;
    struct cld_params p;
    struct cld_data in, zero;

    params(&p, 5.0, 1.0);
    pattern(&in, 1, 1, 4);
    fill(&zero, 1, 1, 1, 0);
    check_exact_everywhere(t, "blur", &p, &in, &in.img, "1x1 blur");
    check_exact_everywhere(t, "sharpen", &p, &in, &in.img, "1x1 sharpen");
    check_exact_everywhere(t, "sobel", &p, &in, &zero.img, "1x1 sobel");
    cld_data_free(&zero);
    cld_data_free(&in);
}

/* Known values: an impulse blurred along a row gives the Gaussian itself
 * (computed here from its formula), and a step of 10 gives a Sobel
 * magnitude of 4 * 10 on both sides of the edge. */
static void test_convolve_reference_values(void **state)
{
    struct cld_test_devices *t = *state;
    struct cld_params p;
    struct cld_data in, want;
    double sum = 0.0;

    params(&p, 1.0, 1.0);
    fill(&in, 7, 1, 1, 0);
    in.img.data[3] = 255;
    fill(&want, 7, 1, 1, 0);
    for (int k = -3; k <= 3; k++)
        sum += exp(-k * k / 2.0);
    for (int k = -3; k <= 3; k++)
        want.img.data[k + 3] = (uint8_t)floor(255.0 * exp(-k * k / 2.0) /
                                              sum + 0.5);
    assert_int_equal(want.img.data[3], 102);
    assert_int_equal(want.img.data[0], 1);
    check_exact_everywhere(t, "blur", &p, &in, &want.img, "impulse");
    cld_data_free(&want);
    cld_data_free(&in);

    fill(&in, 4, 3, 1, 0);
    fill(&want, 4, 3, 1, 0);
    for (int y = 0; y < 3; y++) {
        in.img.data[y * 4 + 2] = in.img.data[y * 4 + 3] = 10;
        want.img.data[y * 4 + 1] = want.img.data[y * 4 + 2] = 40;
    }
    check_exact_everywhere(t, "sobel", &p, &in, &want.img, "step");
    cld_data_free(&want);
    cld_data_free(&in);

    /* RGB goes through luma: a blue step of 255 has luma 29 (4 * 29 =
     * 116); a red one has luma 76, and 4 * 76 clamps to 255. */
    fill(&in, 4, 3, 3, 0);
    fill(&want, 4, 3, 1, 0);
    for (int y = 0; y < 3; y++) {
        in.img.data[(y * 4 + 2) * 3 + 2] = 255;
        in.img.data[(y * 4 + 3) * 3 + 2] = 255;
        want.img.data[y * 4 + 1] = want.img.data[y * 4 + 2] = 116;
    }
    check_exact_everywhere(t, "sobel", &p, &in, &want.img, "blue step");
    for (int y = 0; y < 3; y++) {
        in.img.data[(y * 4 + 2) * 3] = in.img.data[(y * 4 + 3) * 3] = 255;
        in.img.data[(y * 4 + 2) * 3 + 2] = 0;
        in.img.data[(y * 4 + 3) * 3 + 2] = 0;
        want.img.data[y * 4 + 1] = want.img.data[y * 4 + 2] = 255;
    }
    check_exact_everywhere(t, "sobel", &p, &in, &want.img, "red step");
    cld_data_free(&want);
    cld_data_free(&in);

    /* Gray + alpha uses the gray channel only. */
    fill(&in, 4, 3, 2, 0);
    fill(&want, 4, 3, 1, 0);
    for (int i = 0; i < 12; i++) {
        in.img.data[2 * i] = i % 4 >= 2 ? 10 : 0;
        in.img.data[2 * i + 1] = (uint8_t)(i * 53);
        want.img.data[i] = i % 4 == 1 || i % 4 == 2 ? 40 : 0;
    }
    check_exact_everywhere(t, "sobel", &p, &in, &want.img, "gray+alpha");
    cld_data_free(&want);
    cld_data_free(&in);
}

static void test_convolve_usage_errors(void **state)
{
    struct cld_test_devices *t = *state;
    static const char *const names[] = {"blur", "sharpen"};
    struct cld_params p;
    struct cld_data in, out;

    pattern(&in, 8, 8, 3);
    for (size_t i = 0; i < 2; i++) {
        const struct cld_job *j = job(names[i]);

        params(&p, 400.0, 1.0); /* radius 1200 */
        assert_int_equal(j->validate(&p), CLD_ERR_USAGE);
        assert_non_null(strstr(cld_error_detail(), "radius"));
        assert_int_equal(cld_job_run(j, NULL, &p, &in, &out), CLD_ERR_USAGE);
        assert_int_equal(cld_job_run(j, t->ctx[0], &p, &in, &out),
                         CLD_ERR_USAGE);
        assert_null(out.img.data);
        params(&p, 0.0, 1.0);
        assert_int_equal(j->validate(&p), CLD_ERR_USAGE);
        params(&p, NAN, 1.0);
        assert_int_equal(j->validate(&p), CLD_ERR_USAGE);
        params(&p, 100.0, 1.0);
        assert_int_equal(j->validate(&p), CLD_OK);
    }
    params(&p, 2.0, -1.0);
    assert_int_equal(job("sharpen")->validate(&p), CLD_ERR_USAGE);
    params(&p, 2.0, INFINITY);
    assert_int_equal(job("sharpen")->validate(&p), CLD_ERR_USAGE);
    /* The host and the devices refuse what validate refuses. */
    params(&p, 2.0, 200.0);
    assert_int_equal(cld_job_run(job("sharpen"), NULL, &p, &in, &out),
                     CLD_ERR_USAGE);
    assert_int_equal(cld_job_run(job("sharpen"), t->ctx[0], &p, &in, &out),
                     CLD_ERR_USAGE);
    assert_null(out.img.data);
    cld_data_free(&in);
}

static void test_convolve_traits(void **state)
{
    struct cld_params p;
    struct cld_data in;
    struct cld_workload w;

    (void)state;
    pattern(&in, 40, 30, 3);
    cld_params_default(&p, job("blur"));
    memset(&w, 0, sizeof w);
    cld_targets_workload(job("blur"), &p, &in, &w);
    assert_string_equal(w.job, "blur");
    assert_string_equal(w.params, "sigma=2");
    assert_int_equal(w.elements, 1200);
    assert_int_equal(w.bytes_in, 3600);
    assert_int_equal(w.bytes_out, 3600);
    assert_true(w.ops_per_element >= 13 * 3 * 2);
    /* Traits may see parameters that validation refuses. */
    params(&p, 1e12, 1.0);
    memset(&w, 0, sizeof w);
    cld_targets_workload(job("sharpen"), &p, &in, &w);
    assert_true(isfinite(w.ops_per_element) && w.ops_per_element > 0);
    memset(&w, 0, sizeof w);
    cld_targets_workload(job("sobel"), &p, &in, &w);
    assert_int_equal(w.bytes_out, 1200);
    assert_int_equal(w.kernel_launches, 1);
    cld_data_free(&in);
}

/* Fail each OpenCL call of a run in turn: the run reports CLD_ERR_CL and
 * releases what it made; the device works afterwards. */
struct conv_run {
    struct cld_clctx *ctx;
    const char *name;
    const struct cld_params *p;
    const struct cld_data *in;
    enum variant v;
};

static enum cld_status conv_run(void *arg, struct cld_data *out)
{
    struct conv_run *r = arg;

    return run(r->ctx, r->name, r->p, r->in, r->v, out);
}

static void test_convolve_faults(void **state)
{
    struct cld_test_devices *t = *state;
    static const char *const names[] = {"blur", "sharpen", "sobel"};
    struct cld_params p;
    struct cld_data in, out;

    params(&p, 2.0, 1.0);
    pattern(&in, 70, 20, 3);
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        for (int v = 0; v < nvariants(names[i]); v++) {
            struct conv_run r = {t->ctx[0], names[i], &p, &in, v};

            cld_test_fault_sweep(conv_run, &r);
            assert_int_equal(run(t->ctx[0], names[i], &p, &in, v, &out),
                             CLD_OK);
            cld_data_free(&out);
        }
    }
    cld_data_free(&in);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_convolve_usage_errors),
        cmocka_unit_test(test_convolve_traits),
        cmocka_unit_test(test_convolve_reference_values),
        cmocka_unit_test(test_convolve_one_pixel),
        cmocka_unit_test(test_convolve_tiny_sigma_is_identity),
        cmocka_unit_test(test_convolve_sharpen_amount_zero_is_identity),
        cmocka_unit_test(test_convolve_constant_images),
        cmocka_unit_test(test_convolve_edges_and_tails),
        cmocka_unit_test(test_convolve_sigmas),
        cmocka_unit_test(test_convolve_real_images),
        cmocka_unit_test(test_convolve_faults),
    };

    if (!cld_test_have_device())
        return cld_test_no_device("convolve");
    return cmocka_run_group_tests_name("convolve_pocl", tests,
                                       cld_test_devices_setup,
                                       cld_test_devices_teardown);
}
